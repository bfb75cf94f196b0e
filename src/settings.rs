//! Flags, environment and (later) project config resolved into what a command will do. Domain
//! modules take these structs, never clap types.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tracing_subscriber::EnvFilter;

use crate::cli::{BuildArgs, ColorChoice, GlobalArgs, NetworkMode, ProgressArg, PushArgs};
use crate::context::ContextOptions;
use crate::credentials::secret_spec::{SecretSpec, parse_secret_spec};
use crate::error::CliError;

/// How much the tool says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: errors and machine output only.
    Quiet,
    /// The default.
    Normal,
    /// `-v`: debug logs.
    Verbose,
    /// `-vv` and more: trace logs.
    Trace,
}

/// Settings shared by every command.
#[derive(Debug, Clone)]
pub struct GlobalSettings {
    /// How much to print.
    pub verbosity: Verbosity,
    /// Whether stderr and stdout may carry colour, after `--color`, `NO_COLOR` and the terminal.
    pub color: anstream::ColorChoice,
}

impl GlobalSettings {
    /// Resolves the global flags against the environment.
    pub fn resolve(args: &GlobalArgs) -> Self {
        let verbosity = match (args.quiet, args.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Verbose,
            (false, _) => Verbosity::Trace,
        };
        // anstream's `Auto` already honours NO_COLOR, CLICOLOR_FORCE and whether the stream is
        // a terminal; an explicit flag overrides all of them, as in cargo and uv.
        let color = match args.color {
            ColorChoice::Auto => anstream::ColorChoice::Auto,
            ColorChoice::Always => anstream::ColorChoice::Always,
            ColorChoice::Never => anstream::ColorChoice::Never,
        };
        Self { verbosity, color }
    }

    /// Installs the tracing subscriber: `RUST_LOG` when set, otherwise the level `-v` asks for.
    /// Logs go to stderr and never carry colour unless stderr may.
    pub fn install_logging(&self) {
        self.color.write_global();
        let default = match self.verbosity {
            Verbosity::Quiet | Verbosity::Normal => "warn",
            Verbosity::Verbose => "shipimg=debug,info",
            Verbosity::Trace => "shipimg=trace,debug",
        };
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
        let ansi = anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never;
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(crate::redact::log_writer)
            .with_ansi(ansi)
            .with_target(true)
            .try_init();
    }
}

/// How build progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressSetting {
    /// tty on a terminal, plain otherwise.
    Auto,
    /// A live view redrawn in place.
    Tty,
    /// One line per event, like `buildx --progress=plain`.
    Plain,
    /// JSON events on stdout.
    Json,
    /// Only the result on stdout.
    Quiet,
}

/// What `shipimg build` will do, resolved from flags and environment.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// The context, Dockerfile and guard exceptions.
    pub context: ContextOptions,
    /// `-t`.
    pub tags: Vec<String>,
    /// `--build-arg`, with bare keys taken from the environment (unset ones dropped, as docker
    /// does, so the Dockerfile default applies).
    pub build_args: BTreeMap<String, String>,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--network`.
    pub network: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`.
    pub pull: bool,
    /// `--platform`.
    pub platform: Option<String>,
    /// `--secret`, parsed.
    pub secrets: Vec<SecretSpec>,
    /// `--netrc`.
    pub netrc: Option<PathBuf>,
    /// `--index-url`.
    pub index_urls: Vec<String>,
    /// `--iidfile`.
    pub iidfile: Option<PathBuf>,
    /// `--metadata-file`.
    pub metadata_file: Option<PathBuf>,
    /// `--progress`, with `-q` meaning quiet.
    pub progress: ProgressSetting,
    /// `--push`: what to push afterwards.
    pub push: Option<PushSettings>,
    /// `--lint-only`.
    pub lint_only: bool,
    /// `--allow-secret-copy`.
    pub allow_secret_copy: bool,
}

/// What a push will do: `shipimg push`, or `shipimg build --push`.
#[derive(Debug, Clone)]
pub struct PushSettings {
    /// The references to push (`-t` tags, or `push`'s arguments).
    pub references: Vec<String>,
    /// How progress is shown.
    pub progress: ProgressSetting,
    /// `--metadata-file`.
    pub metadata_file: Option<PathBuf>,
    /// `--push-attempts`, `--push-backoff-max`.
    pub retry: crate::publish::RetryPolicy,
}

impl PushSettings {
    /// Resolves `shipimg push`.
    pub fn resolve(args: &PushArgs, global: &GlobalSettings) -> Result<Self, CliError> {
        for image in &args.images {
            check_tag(image)?;
        }
        Ok(Self {
            references: args.images.clone(),
            progress: progress_setting(args.progress, global.verbosity),
            metadata_file: args.metadata_file.clone(),
            retry: crate::commands::retry_policy(
                args.retry.push_attempts,
                args.retry.push_backoff_max,
            ),
        })
    }
}

fn progress_setting(arg: ProgressArg, verbosity: Verbosity) -> ProgressSetting {
    match (arg, verbosity) {
        (ProgressArg::Auto, Verbosity::Quiet) => ProgressSetting::Quiet,
        (ProgressArg::Auto, _) => ProgressSetting::Auto,
        (ProgressArg::Tty, _) => ProgressSetting::Tty,
        (ProgressArg::Plain, _) => ProgressSetting::Plain,
        (ProgressArg::Json, _) => ProgressSetting::Json,
        (ProgressArg::Quiet, _) => ProgressSetting::Quiet,
    }
}

impl BuildSettings {
    /// Resolves the build flags; `env` looks a variable up (the process environment in use).
    pub fn resolve(
        args: &BuildArgs,
        global: &GlobalSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, CliError> {
        let mut build_args = BTreeMap::new();
        for raw in &args.build_args {
            match raw.split_once('=') {
                Some((key, value)) => {
                    check_key("--build-arg", raw, key)?;
                    build_args.insert(key.to_owned(), value.to_owned());
                }
                None => {
                    check_key("--build-arg", raw, raw)?;
                    if let Some(value) = env(raw) {
                        build_args.insert(raw.clone(), value);
                    }
                }
            }
        }
        let mut labels = BTreeMap::new();
        for raw in &args.labels {
            let (key, value) = raw.split_once('=').unwrap_or((raw.as_str(), ""));
            check_key("--label", raw, key)?;
            labels.insert(key.to_owned(), value.to_owned());
        }
        let mut secrets = Vec::new();
        for raw in &args.secrets {
            let spec = parse_secret_spec(raw, &|name| env(name).is_some()).map_err(|why| {
                CliError::user(format!("invalid --secret `{raw}`: {why}"))
                    .with_hint("use `--secret id=ID,src=PATH` or `--secret id=ID,env=VARIABLE`")
            })?;
            if spec.id == "netrc" {
                return Err(CliError::user(format!(
                    "--secret `{raw}` uses the id `netrc`, which shipimg serves from the index netrc"
                ))
                .with_hint("give the netrc with `--netrc PATH` instead"));
            }
            secrets.push(spec);
        }
        for tag in &args.tags {
            check_tag(tag)?;
        }
        let progress = progress_setting(args.progress, global.verbosity);
        if args.push && args.tags.is_empty() {
            return Err(CliError::user("--push needs at least one `-t NAME:TAG` to push")
                .with_hint("add `-t REGISTRY/PATH/IMAGE:TAG`, e.g. `-t europe-west4-docker.pkg.dev/proj/repo/svc:1.0`"));
        }
        let push = args.push.then(|| PushSettings {
            references: args.tags.clone(),
            progress,
            metadata_file: args.metadata_file.clone(),
            retry: crate::commands::retry_policy(
                args.retry.push_attempts,
                args.retry.push_backoff_max,
            ),
        });
        Ok(Self {
            context: ContextOptions {
                dir: args.path.clone(),
                dockerfile: args.file.clone(),
                allow_files: args.allow_context_file.clone(),
            },
            tags: args.tags.clone(),
            build_args,
            labels,
            target: args.target.clone(),
            network: args.network.map(|mode| {
                match mode {
                    NetworkMode::Default => "default",
                    NetworkMode::Host => "host",
                    NetworkMode::None => "none",
                }
                .to_owned()
            }),
            no_cache: args.no_cache,
            pull: args.pull,
            platform: args.platform.clone(),
            secrets,
            netrc: args.netrc.clone(),
            index_urls: args.index_urls.clone(),
            iidfile: args.iidfile.clone(),
            metadata_file: args.metadata_file.clone(),
            progress,
            push,
            lint_only: args.lint_only,
            allow_secret_copy: args.allow_secret_copy,
        })
    }
}

fn check_key(flag: &str, raw: &str, key: &str) -> Result<(), CliError> {
    if key.is_empty() || key.chars().any(char::is_whitespace) {
        return Err(CliError::user(format!(
            "invalid {flag} `{raw}`: the key is empty or has spaces"
        ))
        .with_hint(format!("use `{flag} KEY=VALUE`")));
    }
    Ok(())
}

/// A light check of `name[:tag]`, so a typo fails before the build rather than after it: the
/// name in lower case, the tag of `[A-Za-z0-9_.-]`.
fn check_tag(reference: &str) -> Result<(), CliError> {
    let (name, tag) = match reference.rfind(':') {
        Some(colon) if colon > reference.rfind('/').unwrap_or(0) => {
            (&reference[..colon], Some(&reference[colon + 1..]))
        }
        _ => (reference, None),
    };
    let name_ok = !name.is_empty()
        && !name.starts_with(['-', '.', '/', ':'])
        && !name.ends_with('/')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c));
    let tag_ok = tag.is_none_or(|t| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    });
    if name_ok && tag_ok {
        return Ok(());
    }
    Err(CliError::user(format!("invalid tag `{reference}`")).with_hint(
        "use `name[:tag]` with a lower-case name, e.g. `-t europe-west4-docker.pkg.dev/proj/repo/svc:1.0`",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn build(args: &[&str], env: &[(&str, &str)]) -> Result<BuildSettings, CliError> {
        let mut argv = vec!["shipimg", "build"];
        argv.extend_from_slice(args);
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let global = GlobalSettings::resolve(&cli.global);
        let crate::cli::Command::Build(build) = cli.command else {
            unreachable!()
        };
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        BuildSettings::resolve(&build, &global, &move |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn build_args_take_bare_keys_from_the_environment() {
        let s = build(
            &[
                "--build-arg",
                "A=1",
                "--build-arg",
                "FROM_ENV",
                "--build-arg",
                "UNSET",
                "--build-arg",
                "E=",
            ],
            &[("FROM_ENV", "env-value")],
        )
        .unwrap();
        assert_eq!(
            s.build_args,
            BTreeMap::from([
                ("A".to_owned(), "1".to_owned()),
                ("E".to_owned(), String::new()),
                ("FROM_ENV".to_owned(), "env-value".to_owned()),
            ])
        );
    }

    #[test]
    fn bad_flags_are_named() {
        let err = build(&["--build-arg", "=x"], &[]).unwrap_err();
        assert!(
            err.message().starts_with("invalid --build-arg `=x`"),
            "{}",
            err.message()
        );
        let err = build(&["--secret", "id=x,path=/y"], &[]).unwrap_err();
        assert!(
            err.message()
                .starts_with("invalid --secret `id=x,path=/y`: unknown field")
        );
        let err = build(&["--secret", "id=netrc,src=/x"], &[]).unwrap_err();
        assert!(err.hint().unwrap().contains("--netrc"));
        for tag in ["Bad/Name", "a b", ":x", "x:"] {
            assert!(build(&["-t", tag], &[]).is_err(), "{tag}");
        }
        for tag in [
            "svc",
            "svc:V1.0",
            "127.0.0.1:5555/a/b:tag",
            "eu-docker.pkg.dev/p/r/s:1",
        ] {
            assert!(build(&["-t", tag], &[]).is_ok(), "{tag}");
        }
    }

    #[test]
    fn quiet_flag_means_quiet_progress() {
        let mut argv = vec!["shipimg", "-q", "build"];
        argv.push(".");
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let global = GlobalSettings::resolve(&cli.global);
        let crate::cli::Command::Build(args) = cli.command else {
            unreachable!()
        };
        let s = BuildSettings::resolve(&args, &global, &|_| None).unwrap();
        assert_eq!(s.progress, ProgressSetting::Quiet);
        assert_eq!(
            build(&["--progress", "plain"], &[]).unwrap().progress,
            ProgressSetting::Plain
        );
    }

    fn resolve(args: &[&str]) -> GlobalSettings {
        let mut argv = vec!["shipimg"];
        argv.extend_from_slice(args);
        argv.push("doctor");
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        GlobalSettings::resolve(&cli.global)
    }

    #[test]
    fn verbosity_from_flags() {
        assert_eq!(resolve(&[]).verbosity, Verbosity::Normal);
        assert_eq!(resolve(&["-q"]).verbosity, Verbosity::Quiet);
        assert_eq!(resolve(&["-v"]).verbosity, Verbosity::Verbose);
        assert_eq!(resolve(&["-vvv"]).verbosity, Verbosity::Trace);
    }

    #[test]
    fn explicit_color_flag_wins() {
        assert_eq!(
            resolve(&["--color", "never"]).color,
            anstream::ColorChoice::Never
        );
        assert_eq!(
            resolve(&["--color", "always"]).color,
            anstream::ColorChoice::Always
        );
    }
}
