//! Flags, `SHIPIMG_*` environment and the project config ([`crate::config`]) resolved into
//! what a command will do, one struct per command. Domain modules take these structs' values,
//! never clap types.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tracing_subscriber::EnvFilter;

use crate::cli::{
    BuildArgs, ColorChoice, GlobalArgs, InitArgs, NetworkMode, ProgressArg, PushArgs, ScanArgs,
};
use crate::config::{ConfigSource, Project, ProjectConfig, TemplateValues, check_image};
use crate::context::ContextOptions;
use crate::credentials::secret_spec::{SecretSource, SecretSpec, parse_secret_spec};
use crate::error::CliError;
use crate::printer::Verbosity;
use crate::progress::ProgressMode;
use crate::reference::Reference;
use crate::scan::allow::AllowList;

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

/// How the build context reaches the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextTransfer {
    /// Served over the BuildKit session with file sync: the engine asks only for what changed.
    Sync,
    /// Sent whole as a tar request body.
    Tar,
}

/// What `shipimg build` will do, resolved from flags and environment.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// The context, Dockerfile and guard exceptions.
    pub context: ContextOptions,
    /// The repository the config's tags name: `--image`, `SHIPIMG_IMAGE` or `image`.
    pub image: Option<String>,
    /// Whole references (`name:tag`): every `-t`, or the config's tag templates filled in.
    pub tags: Vec<String>,
    /// Where the tags came from, as an error about one of them names it.
    pub tags_given_as: &'static str,
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
    /// The project config the values came from, if any.
    pub config: Option<ConfigSource>,
    /// `--iidfile`.
    pub iidfile: Option<PathBuf>,
    /// `--metadata-file`.
    pub metadata_file: Option<PathBuf>,
    /// `--progress`, with `-q` meaning quiet.
    pub progress: ProgressMode,
    /// `--push`: what to push afterwards.
    pub push: Option<PushSettings>,
    /// `--lint-only`.
    pub lint_only: bool,
    /// `--allow-secret-copy`.
    pub allow_secret_copy: bool,
    /// `--context-transfer`, `sync` unless asked otherwise.
    pub context_transfer: ContextTransfer,
}

/// What a push will do: `shipimg push`, or `shipimg build --push`.
#[derive(Debug, Clone)]
pub struct PushSettings {
    /// The references to push (`-t` tags, or `push`'s arguments).
    pub references: Vec<String>,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// `--metadata-file`.
    pub metadata_file: Option<PathBuf>,
    /// `--push-attempts`, `--push-backoff-max`.
    pub retry: crate::publish::RetryPolicy,
    /// Whether the leak scan runs first: always for `build --push`; `push --no-scan` skips it.
    pub scan: bool,
    /// What the leak scan accepts: `--scan-allow`, `SHIPIMG_SCAN_ALLOW` and the config's
    /// `scan-allow`, together.
    pub scan_allow: AllowList,
}

/// What `shipimg init` will write, its flags checked as the config's keys are, so init never
/// writes a config `build` would refuse.
#[derive(Debug, Clone)]
pub struct InitSettings {
    /// The project directory.
    pub dir: PathBuf,
    /// `--kind`, else detected.
    pub kind: Option<crate::init::ProjectKind>,
    /// `--image`: the repository, written as `image`.
    pub image: Option<String>,
    /// `--index-url`, written as `index-urls`.
    pub index_urls: Vec<String>,
    /// `--base-image`, else `python:3.X-slim` from `requires-python`.
    pub base_image: Option<String>,
    /// `--cmd`.
    pub cmd: Option<String>,
    /// `--force`.
    pub force: bool,
}

impl InitSettings {
    /// Resolves and checks `shipimg init`'s flags.
    pub fn resolve(args: &InitArgs) -> Result<Self, CliError> {
        let flag = |name: &str| ConfigSource {
            path: PathBuf::from(name),
            pyproject: false,
        };
        if let Some(image) = &args.image {
            check_image(&flag("--image"), image)?;
        }
        for url in &args.index_urls {
            crate::config::check_index_url(&flag("--index-url"), url)?;
        }
        // Checked now, as `-t` is: a typo fails here, not as the first build's pull error.
        if let Some(base_image) = &args.base_image
            && let Err(err) = Reference::parse(base_image)
        {
            return Err(CliError::user(format!("--base-image: {err}")).with_hint(err.hint()));
        }
        Ok(Self {
            dir: args.path.clone(),
            kind: args.kind,
            image: args.image.clone(),
            index_urls: args.index_urls.clone(),
            base_image: args.base_image.clone(),
            cmd: args.cmd.clone(),
            force: args.force,
        })
    }
}

/// What `shipimg scan` will do, resolved from flags, environment and the project config.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// The image in the engine.
    pub image: String,
    /// `--scan-allow`, `SHIPIMG_SCAN_ALLOW` and the config's `scan-allow`, together.
    pub scan_allow: AllowList,
    /// `--explain`: paths in the image, without a leading `./` or `/`.
    pub explain: Vec<String>,
}

impl ScanSettings {
    /// `--secret-file` and `--secret-env`: what the scan looks for besides credentials' shapes.
    /// Read before anything else, so that every later message is masked.
    pub fn secret_sources(args: &ScanArgs) -> Vec<SecretSource> {
        let files = args
            .secret_files
            .iter()
            .map(|p| SecretSource::File(p.clone()));
        let vars = args
            .secret_envs
            .iter()
            .map(|v| SecretSource::Env(v.clone()));
        files.chain(vars).collect()
    }

    /// Resolves `shipimg scan`; `config` is the project config of the current directory.
    pub fn resolve(
        args: &ScanArgs,
        env: &dyn Fn(&str) -> Option<String>,
        config: &ProjectConfig,
    ) -> Result<Self, CliError> {
        Ok(Self {
            image: args.image.clone(),
            scan_allow: scan_allow(&args.scan_allow, env, &config.scan_allow)?,
            explain: args
                .explain
                .iter()
                .map(|p| {
                    p.trim_start_matches("./")
                        .trim_start_matches('/')
                        .to_owned()
                })
                .collect(),
        })
    }
}

/// The allow list of the leak scan ([`crate::scan::allow`]): the config's entries, then
/// `SHIPIMG_SCAN_ALLOW`'s (separated by commas, spaces or new lines), then every `--scan-allow`.
/// Each source adds to the others: a one-off flag does not drop what the team agreed on.
pub fn scan_allow(
    flags: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    config: &AllowList,
) -> Result<AllowList, CliError> {
    let mut list = config.clone();
    let bad = |given: &str, err: crate::scan::allow::AllowError| {
        CliError::user(format!("{given}: {err}")).with_hint(err.hint())
    };
    if let Some(value) = env("SHIPIMG_SCAN_ALLOW").filter(|v| !v.trim().is_empty()) {
        list.extend(
            AllowList::new(&split_list(&value)).map_err(|err| bad("$SHIPIMG_SCAN_ALLOW", err))?,
        );
    }
    list.extend(AllowList::new(flags).map_err(|err| bad("--scan-allow", err))?);
    Ok(list)
}

impl PushSettings {
    /// Resolves `shipimg push`; `config` is the project config of the current directory (its
    /// `scan-allow` applies).
    pub fn resolve(
        args: &PushArgs,
        global: &GlobalSettings,
        env: &dyn Fn(&str) -> Option<String>,
        config: &crate::config::ProjectConfig,
    ) -> Result<Self, CliError> {
        for image in &args.images {
            check_tag("IMAGE argument", image)?;
        }
        Ok(Self {
            references: args.images.clone(),
            progress: progress_setting(args.progress, global.verbosity),
            metadata_file: args.metadata_file.clone(),
            retry: crate::publish::RetryPolicy::new(
                args.retry.push_attempts,
                args.retry.push_backoff_max,
            ),
            scan: !args.no_scan,
            scan_allow: scan_allow(&args.scan_allow, env, &config.scan_allow)?,
        })
    }
}

fn progress_setting(arg: ProgressArg, verbosity: Verbosity) -> ProgressMode {
    match (arg, verbosity) {
        (ProgressArg::Auto, Verbosity::Quiet) => ProgressMode::Quiet,
        (ProgressArg::Auto, _) => ProgressMode::Auto,
        (ProgressArg::Tty, _) => ProgressMode::Tty,
        (ProgressArg::Plain, _) => ProgressMode::Plain,
        (ProgressArg::Json, _) => ProgressMode::Json,
        (ProgressArg::Quiet, _) => ProgressMode::Quiet,
    }
}

impl BuildSettings {
    /// Resolves the build flags; `env` looks a variable up (the process environment in use).
    /// Flags win over `SHIPIMG_*` variables, which win over the project config, which wins over
    /// the defaults. `values` fills the config's tag templates (asked only when they are used).
    pub fn resolve(
        args: &BuildArgs,
        global: &GlobalSettings,
        env: &dyn Fn(&str) -> Option<String>,
        project: &Project,
        values: &dyn Fn(&[String]) -> TemplateValues,
    ) -> Result<Self, CliError> {
        let config = &project.config;
        let from_env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let mut build_args = config.build_args.clone();
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
        let mut labels = config.labels.clone();
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
        // Where a value came from, for the config's checks and their messages.
        let origin = |label: String| ConfigSource {
            path: PathBuf::from(label),
            pyproject: false,
        };
        let env_source = |name: &str| origin(format!("${name}"));
        let image = match (&args.image, from_env("SHIPIMG_IMAGE")) {
            (Some(image), _) => Some(check_image(&origin("--image".into()), image)?),
            (None, Some(image)) => Some(check_image(&env_source("SHIPIMG_IMAGE"), &image)?),
            (None, None) => config.image.clone(),
        };
        // `-t` names whole references and replaces the config's tags, as in buildx.
        let tags = if !args.tags.is_empty() {
            for tag in &args.tags {
                check_tag("-t/--tag", tag)?;
            }
            args.tags.clone()
        } else if let Some(image) = &image {
            let templates: Vec<String> = match from_env("SHIPIMG_TAGS") {
                Some(list) => {
                    let templates = split_list(&list);
                    for template in &templates {
                        crate::config::check_template(&env_source("SHIPIMG_TAGS"), template)?;
                    }
                    templates
                }
                None => config.tags.clone().unwrap_or_else(|| {
                    crate::config::DEFAULT_TAGS
                        .iter()
                        .map(|t| (*t).to_owned())
                        .collect()
                }),
            };
            let values = values(&templates);
            let mut tags: Vec<String> = Vec::new();
            for template in &templates {
                let tag = format!("{image}:{}", crate::config::expand(template, &values)?);
                check_tag(&format!("tag template `{template}`"), &tag)?;
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            tags
        } else {
            Vec::new()
        };
        let progress = progress_setting(args.progress, global.verbosity);
        if args.push && tags.is_empty() {
            return Err(CliError::user(
                "--push needs an image name: no `-t NAME:TAG` and no `image` in a project config",
            )
            .with_hint("add `-t REGISTRY/PATH/IMAGE:TAG`, or `image = \"REGISTRY/PATH/IMAGE\"` under [tool.shipimg] in pyproject.toml (`shipimg init` writes one)"));
        }
        let allow = scan_allow(&args.scan_allow, &from_env, &config.scan_allow)?;
        let push = args.push.then(|| PushSettings {
            references: tags.clone(),
            progress,
            metadata_file: args.metadata_file.clone(),
            retry: crate::publish::RetryPolicy::new(
                args.retry.push_attempts,
                args.retry.push_backoff_max,
            ),
            scan: true,
            scan_allow: allow,
        });
        let network = match (args.network, from_env("SHIPIMG_NETWORK")) {
            (Some(mode), _) => Some(
                match mode {
                    NetworkMode::Default => "default",
                    NetworkMode::Host => "host",
                    NetworkMode::None => "none",
                }
                .to_owned(),
            ),
            (None, Some(network)) => {
                if !["default", "host", "none"].contains(&network.as_str()) {
                    return Err(CliError::user(format!(
                        "SHIPIMG_NETWORK is `{network}`, not one of default, host, none"
                    ))
                    .with_hint("set SHIPIMG_NETWORK to default, host or none, or unset it"));
                }
                Some(network)
            }
            (None, None) => config.network.clone(),
        };
        let index_urls = match from_env("SHIPIMG_INDEX_URLS") {
            _ if !args.index_urls.is_empty() => args.index_urls.clone(),
            Some(list) => {
                let urls = split_list(&list);
                for url in &urls {
                    crate::config::check_index_url(&env_source("SHIPIMG_INDEX_URLS"), url)?;
                }
                urls
            }
            None => config.index_urls.clone().unwrap_or_default(),
        };
        Ok(Self {
            context: context_options(
                &args.path,
                args.file.as_deref(),
                &args.allow_context_file,
                env,
                config,
            ),
            image,
            tags,
            tags_given_as: match args.tags.is_empty() {
                true => "a tag (from the project config's `tags` or SHIPIMG_TAGS)",
                false => "a `-t` tag",
            },
            build_args,
            labels,
            target: args
                .target
                .clone()
                .or_else(|| from_env("SHIPIMG_TARGET"))
                .or_else(|| config.target.clone()),
            network,
            no_cache: args.no_cache,
            pull: args.pull,
            platform: args
                .platform
                .clone()
                .or_else(|| from_env("SHIPIMG_PLATFORM"))
                .or_else(|| config.platform.clone()),
            secrets,
            netrc: args.netrc.clone(),
            index_urls,
            config: config.source.clone(),
            iidfile: args.iidfile.clone(),
            metadata_file: args.metadata_file.clone(),
            progress,
            push,
            lint_only: args.lint_only,
            allow_secret_copy: args.allow_secret_copy,
            context_transfer: match args.context_transfer {
                Some(crate::cli::ContextTransferArg::Tar) => ContextTransfer::Tar,
                Some(crate::cli::ContextTransferArg::Sync) | None => ContextTransfer::Sync,
            },
        })
    }
}

/// The context `build` stages and `shipimg context` shows: the directory, and the Dockerfile
/// from `-f`, else `SHIPIMG_DOCKERFILE`, else the config's `dockerfile` (relative to the
/// config's directory, as the context is).
pub fn context_options(
    dir: &Path,
    file: Option<&Path>,
    allow_files: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
    config: &ProjectConfig,
) -> ContextOptions {
    let dockerfile = match (
        file,
        env("SHIPIMG_DOCKERFILE").filter(|v| !v.trim().is_empty()),
    ) {
        (Some(file), _) => Some(file.to_owned()),
        (None, Some(file)) => Some(PathBuf::from(file)),
        (None, None) => config.dockerfile.as_ref().map(|f| dir.join(f)),
    };
    ContextOptions {
        dir: dir.to_owned(),
        dockerfile,
        allow_files: allow_files.to_vec(),
    }
}

/// A list in one variable: comma-, space- or newline-separated.
fn split_list(list: &str) -> Vec<String> {
    list.split([',', ' ', '\n'])
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
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

/// Checks a reference to tag and push (`NAME[:TAG]`, [`crate::reference`]) before anything
/// runs, so a typo fails naming where it was given rather than as an engine error after the
/// build.
fn check_tag(given: &str, reference: &str) -> Result<(), CliError> {
    match Reference::parse_name_tag(reference) {
        Ok(_) => Ok(()),
        Err(err) => Err(CliError::user(format!("{given}: {err}")).with_hint(err.hint())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn build(args: &[&str], env: &[(&str, &str)]) -> Result<BuildSettings, CliError> {
        build_in(args, env, &Project::default())
    }

    fn values() -> TemplateValues {
        TemplateValues {
            version: Ok("1.4.0".into()),
            git_sha: Ok("abcdef0123456789abcdef0123456789abcdef01".into()),
            branch: Err("not on a branch".into()),
            date: "20261124".into(),
        }
    }

    fn build_in(
        args: &[&str],
        env: &[(&str, &str)],
        project: &Project,
    ) -> Result<BuildSettings, CliError> {
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
        BuildSettings::resolve(
            &build,
            &global,
            &move |name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
            project,
            &|_| values(),
        )
    }

    fn project(text: &str) -> Project {
        let source = ConfigSource {
            path: PathBuf::from("pyproject.toml"),
            pyproject: true,
        };
        Project {
            config: crate::config::parse(&source, &text.parse().unwrap()).unwrap(),
            version: Some("1.4.0".into()),
            dynamic_version: false,
        }
    }

    #[test]
    fn flags_beat_the_environment_which_beats_the_config() {
        let p = project(
            r#"
            image = "reg.example/p/svc"
            tags = ["{version}", "{git_short_sha}", "stable"]
            target = "config-stage"
            platform = "linux/arm64"
            network = "host"
            dockerfile = "docker/Dockerfile"
            index-urls = ["https://config.example/simple/"]
            build-args = { A = "config", B = "config" }
            labels = { team = "config" }
            "#,
        );
        let s = build_in(&["ctx"], &[], &p).unwrap();
        assert_eq!(
            s.tags,
            vec![
                "reg.example/p/svc:1.4.0",
                "reg.example/p/svc:abcdef0",
                "reg.example/p/svc:stable"
            ]
        );
        assert_eq!(s.target.as_deref(), Some("config-stage"));
        assert_eq!(s.platform.as_deref(), Some("linux/arm64"));
        assert_eq!(s.network.as_deref(), Some("host"));
        assert_eq!(
            s.context.dockerfile,
            Some(PathBuf::from("ctx/docker/Dockerfile"))
        );
        assert_eq!(s.index_urls, vec!["https://config.example/simple/"]);

        let env = [
            ("SHIPIMG_IMAGE", "env.example/p/svc"),
            ("SHIPIMG_TAGS", "{git_sha},env"),
            ("SHIPIMG_TARGET", "env-stage"),
            ("SHIPIMG_PLATFORM", "linux/amd64"),
            ("SHIPIMG_NETWORK", "none"),
            ("SHIPIMG_DOCKERFILE", "Env.Dockerfile"),
            (
                "SHIPIMG_INDEX_URLS",
                "https://a.example/simple/ https://b.example/simple/",
            ),
        ];
        let s = build_in(&["ctx", "--build-arg", "B=flag"], &env, &p).unwrap();
        assert_eq!(
            s.tags,
            vec![
                "env.example/p/svc:abcdef0123456789abcdef0123456789abcdef01",
                "env.example/p/svc:env"
            ]
        );
        assert_eq!(s.target.as_deref(), Some("env-stage"));
        assert_eq!(s.platform.as_deref(), Some("linux/amd64"));
        assert_eq!(s.network.as_deref(), Some("none"));
        assert_eq!(s.context.dockerfile, Some(PathBuf::from("Env.Dockerfile")));
        assert_eq!(s.index_urls.len(), 2);
        assert_eq!(s.build_args["A"], "config");
        assert_eq!(s.build_args["B"], "flag");

        let s = build_in(
            &[
                "ctx",
                "-t",
                "flag.example/x:1",
                "--target",
                "flag-stage",
                "--platform",
                "linux/s390x",
                "--network",
                "default",
                "-f",
                "F",
                "--index-url",
                "https://flag.example/simple/",
                "--label",
                "team=flag",
            ],
            &env,
            &p,
        )
        .unwrap();
        assert_eq!(s.tags, vec!["flag.example/x:1"]);
        assert_eq!(s.target.as_deref(), Some("flag-stage"));
        assert_eq!(s.platform.as_deref(), Some("linux/s390x"));
        assert_eq!(s.network.as_deref(), Some("default"));
        assert_eq!(s.context.dockerfile, Some(PathBuf::from("F")));
        assert_eq!(s.index_urls, vec!["https://flag.example/simple/"]);
        assert_eq!(s.labels["team"], "flag");

        let s = build_in(&["--image", "flag.example/y"], &env, &p).unwrap();
        assert_eq!(s.tags[1], "flag.example/y:env");
    }

    #[test]
    fn the_context_command_and_build_pick_the_same_dockerfile() {
        let project = project("dockerfile = \"docker/Dockerfile\"\n");
        let env = |name: &str| (name == "SHIPIMG_DOCKERFILE").then(|| "Env.Dockerfile".to_owned());
        let no_env = |_: &str| None;
        let dir = Path::new("ctx");
        let pick = |file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>| {
            context_options(dir, file, &[], env, &project.config).dockerfile
        };
        assert_eq!(
            pick(None, &no_env),
            Some(PathBuf::from("ctx/docker/Dockerfile"))
        );
        assert_eq!(pick(None, &env), Some(PathBuf::from("Env.Dockerfile")));
        assert_eq!(pick(Some(Path::new("F")), &env), Some(PathBuf::from("F")));
    }

    #[test]
    fn the_default_tags_are_version_and_short_sha() {
        let p = project(r#"image = "reg.example/p/svc""#);
        let s = build_in(&["--push"], &[], &p).unwrap();
        assert_eq!(
            s.push.unwrap().references,
            vec!["reg.example/p/svc:1.4.0", "reg.example/p/svc:abcdef0"]
        );
    }

    #[test]
    fn bad_environment_values_and_unfillable_templates_are_errors() {
        let p = project(r#"image = "reg.example/p/svc""#);
        let err = build_in(&[], &[("SHIPIMG_TAGS", "{brnach}")], &p).unwrap_err();
        assert!(
            err.message().starts_with("$SHIPIMG_TAGS:"),
            "{}",
            err.message()
        );
        assert_eq!(err.hint(), Some("did you mean `{branch}`?"));
        let err = build_in(&[], &[("SHIPIMG_TAGS", "{branch}")], &p).unwrap_err();
        assert_eq!(
            err.message(),
            "cannot fill the tag template `{branch}`: not on a branch"
        );
        let err = build_in(&[], &[("SHIPIMG_NETWORK", "bridge")], &p).unwrap_err();
        assert!(err.message().contains("SHIPIMG_NETWORK is `bridge`"));
        let err = build_in(&[], &[("SHIPIMG_IMAGE", "Bad/Name")], &p).unwrap_err();
        assert_eq!(
            err.message(),
            "$SHIPIMG_IMAGE: `image`: `Bad/Name` has upper case in its repository: repository names must be lowercase"
        );
        assert!(err.hint().unwrap().starts_with("write `bad/name`"));
        let err = build_in(
            &[],
            &[(
                "SHIPIMG_INDEX_URLS",
                "https://u:hunter22@idx.example/simple/",
            )],
            &p,
        )
        .unwrap_err();
        assert!(
            err.message()
                .starts_with("$SHIPIMG_INDEX_URLS: an `index-urls` entry has credentials"),
            "{}",
            err.message()
        );
        assert!(!err.message().contains("hunter22"));
        let err = build(&["--push"], &[]).unwrap_err();
        assert!(err.message().contains("no `image` in a project config"));
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
        let err = build(&["-t", "svc:1", "-t", "a:b:c"], &[]).unwrap_err();
        assert_eq!(
            err.message(),
            "-t/--tag: the tag in `a:b:c` is `b:c`, which has `:`"
        );
        assert!(err.hint().is_some());
        for tag in [
            "svc",
            "svc:V1.0",
            "127.0.0.1:5555/a/b:tag",
            "eu-docker.pkg.dev/p/r/s:1",
        ] {
            assert!(build(&["-t", tag], &[]).is_ok(), "{tag}");
        }
    }

    /// `a:b:c`, `repo//x:1` and a 300-character tag used to pass the light check and fail
    /// only as an engine error after the build, without the tag named (issue 18).
    #[test]
    fn bad_references_are_refused_naming_where_they_were_given() {
        let long = format!("svc:{}", "t".repeat(300));
        for (tag, want) in [
            ("a:b:c", "-t/--tag: the tag in `a:b:c` is `b:c`"),
            (
                "repo//x:1",
                "-t/--tag: `repo//x:1` has an empty path component",
            ),
            (
                "Svc:1",
                "-t/--tag: `Svc:1` has upper case in its repository",
            ),
            (long.as_str(), "-t/--tag: the tag in `svc:ttt"),
            ("", "-t/--tag: the image reference is empty"),
        ] {
            let err = build(&["-t", tag], &[]).unwrap_err();
            assert!(err.message().starts_with(want), "{tag}: {}", err.message());
            assert!(!err.message().contains('\n'), "{}", err.message());
            assert!(err.hint().is_some(), "{tag}");
        }
        let err = build(&["-t", &long], &[]).unwrap_err();
        assert!(
            err.message()
                .ends_with("is 300 characters; the limit is 128")
        );
        let err = build(&["--image", "reg.example/svc:1"], &[]).unwrap_err();
        assert!(
            err.message()
                .starts_with("--image: `image`: `reg.example/svc:1` names a tag"),
            "{}",
            err.message()
        );
        let err = build(&[], &[("SHIPIMG_IMAGE", "reg.example//svc")]).unwrap_err();
        assert!(
            err.message()
                .starts_with("$SHIPIMG_IMAGE: `image`: `reg.example//svc` has an empty"),
            "{}",
            err.message()
        );
        let digest = format!("reg.example/svc@sha256:{}", "a".repeat(64));
        let err = build(&["-t", &digest], &[]).unwrap_err();
        assert!(
            err.message().contains("names a digest"),
            "{}",
            err.message()
        );

        let push = |images: &[&str]| {
            let mut argv = vec!["shipimg", "push"];
            argv.extend_from_slice(images);
            let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
            let global = GlobalSettings::resolve(&cli.global);
            let crate::cli::Command::Push(args) = cli.command else {
                unreachable!()
            };
            PushSettings::resolve(
                &args,
                &global,
                &|_| None,
                &crate::config::ProjectConfig::default(),
            )
        };
        let err = push(&["reg.example/ok:1", "repo//x:1"]).unwrap_err();
        assert_eq!(
            err.message(),
            "IMAGE argument: `repo//x:1` has an empty path component"
        );
        assert!(push(&["reg.example/ok:1", "localhost:5000/a/b"]).is_ok());
    }

    #[test]
    fn scan_settings_gather_secrets_allow_entries_and_explained_paths() {
        let cli = crate::cli::Cli::try_parse_from([
            "shipimg",
            "scan",
            "app:1",
            "--secret-env",
            "TOKEN",
            "--secret-file",
            "key.pem",
            "--scan-allow",
            "tests/fixtures/**",
            "--explain",
            "./usr/lib/x",
            "--explain",
            "/etc/y",
        ])
        .unwrap();
        let crate::cli::Command::Scan(args) = cli.command else {
            unreachable!()
        };
        let env = |name: &str| (name == "SHIPIMG_SCAN_ALLOW").then(|| "docs/**".to_owned());
        let s = ScanSettings::resolve(&args, &env, &ProjectConfig::default()).unwrap();
        assert_eq!(s.image, "app:1");
        assert_eq!(
            ScanSettings::secret_sources(&args),
            [
                SecretSource::File("key.pem".into()),
                SecretSource::Env("TOKEN".into())
            ]
        );
        assert_eq!(s.explain, ["usr/lib/x", "etc/y"]);
        assert_eq!(
            s.scan_allow.entries().collect::<Vec<_>>(),
            ["docs/**", "tests/fixtures/**"]
        );
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
        let s = BuildSettings::resolve(&args, &global, &|_| None, &Project::default(), &|_| {
            values()
        })
        .unwrap();
        assert_eq!(s.progress, ProgressMode::Quiet);
        assert_eq!(
            build(&["--progress", "plain"], &[]).unwrap().progress,
            ProgressMode::Plain
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
