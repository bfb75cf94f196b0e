//! The command line as the user types it: clap types only. What the tool will do with these
//! values is decided in [`crate::settings`].

use clap::builder::PossibleValue;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::init::ProjectKind;

/// The program's name: the binary, the completion scripts' command, the man pages' title.
pub const BIN_NAME: &str = "shipimg";

/// Build Python service images with BuildKit secrets, prove they carry no credential, and push
/// them to Artifact Registry.
#[derive(Debug, Parser)]
#[command(name = BIN_NAME, version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More output: `-v` for debug logs, `-vv` for trace logs (`RUST_LOG` overrides)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Print only errors and what a script needs on stdout
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// When to use colour (`NO_COLOR` and `CLICOLOR_FORCE` are honoured under `auto`)
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a Dockerfile with BuildKit, serving index credentials as secrets
    Build(Box<BuildArgs>),
    /// Push images already in the engine to their registries
    Push(PushArgs),
    /// Scan a local image for credentials it must not carry
    Scan(ScanArgs),
    /// Show, or write as a tar, the build context that `build` would send
    Context(ContextArgs),
    /// Check the connection to the Docker Engine and what it supports
    Doctor(DoctorArgs),
    /// Start a Python project right: a two-stage Dockerfile using the netrc secret, a
    /// .dockerignore, and the [tool.shipimg] config
    Init(InitArgs),
    /// Print the shell completion script for bash, zsh, fish or PowerShell
    Completions(CompletionsArgs),
    /// Write the man pages (`shipimg.1` and one per subcommand); for packagers and the release
    #[command(hide = true)]
    Manpage(ManpageArgs),
}

/// `shipimg completions SHELL`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: CompletionShell,
}

/// The shells `shipimg completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

/// `shipimg manpage --out-dir DIR`
#[derive(Debug, Args)]
pub struct ManpageArgs {
    /// The directory to write the pages to (created if missing)
    #[arg(long, value_name = "DIR")]
    pub out_dir: std::path::PathBuf,
}

/// The command line as completions and man pages present it: [`Cli`] without its hidden
/// subcommands.
///
/// clap's completion generators offer hidden subcommands too (clap-rs/clap#1335), and a
/// `clap::Command` cannot drop a subcommand, so the root is rebuilt from `Cli`'s own arguments,
/// settings and visible subcommands. Nothing about a flag is restated here, so it cannot drift.
pub fn visible_command() -> clap::Command {
    let full = Cli::command();
    let mut visible = clap::Command::new(BIN_NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .propagate_version(full.is_propagate_version_set())
        .subcommand_required(full.is_subcommand_required_set())
        .arg_required_else_help(full.is_arg_required_else_help_set())
        .args(full.get_arguments().cloned())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = full.get_about() {
        visible = visible.about(about.clone());
    }
    if let Some(long_about) = full.get_long_about() {
        visible = visible.long_about(long_about.clone());
    }
    visible
}

/// `shipimg init`
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project directory (holding pyproject.toml or requirements.txt)
    #[arg(default_value = ".", value_name = "PATH")]
    pub path: std::path::PathBuf,

    /// How the project is built (default: detected from pyproject.toml, the lock files and
    /// requirements.txt)
    #[arg(long, value_enum, value_name = "KIND")]
    pub kind: Option<ProjectKind>,

    /// The repository to push to, written as `image` in the config, e.g.
    /// `europe-west4-docker.pkg.dev/PROJECT/REPO/SERVICE`
    #[arg(long, value_name = "REPOSITORY")]
    pub image: Option<String>,

    /// A package index the build installs from (without credentials); repeatable
    #[arg(long = "index-url", value_name = "URL")]
    pub index_urls: Vec<String>,

    /// The base image of every stage (default: `python:3.X-slim` from `requires-python`)
    #[arg(long, value_name = "IMAGE")]
    pub base_image: Option<String>,

    /// What the image runs, as a shell-quoted command line, e.g. `--cmd "gunicorn app:app"`
    /// (default: the first [project.scripts] entry, or for a requirements.txt project
    /// app.py, main.py or manage.py)
    #[arg(long, value_name = "COMMAND")]
    pub cmd: Option<String>,

    /// Overwrite a Dockerfile or .dockerignore that exists, and replace a [tool.shipimg] block
    #[arg(long)]
    pub force: bool,
}

/// `--kind` values: the one [`ProjectKind`] type, named and explained for clap here so the
/// domain type stays free of clap.
impl ValueEnum for ProjectKind {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            ProjectKind::Pip,
            ProjectKind::Poetry,
            ProjectKind::Uv,
            ProjectKind::Requirements,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            ProjectKind::Pip => {
                PossibleValue::new("pip").help("PEP 621 `[project]`, installed with pip")
            }
            ProjectKind::Poetry => PossibleValue::new("poetry").help(
                "`[tool.poetry]` with `poetry.lock`, exported by a pinned Poetry, installed with pip",
            ),
            ProjectKind::Uv => {
                PossibleValue::new("uv").help("`uv.lock`, installed with `uv sync --locked`")
            }
            ProjectKind::Requirements => PossibleValue::new("requirements").help(
                "`requirements.txt` without a pyproject.toml: the dependencies, then the source files",
            ),
        })
    }
}

/// `shipimg scan IMAGE`
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The image in the engine to scan
    #[arg(value_name = "IMAGE")]
    pub image: String,

    /// A file whose content must not be in the image; repeatable
    #[arg(long = "secret-file", value_name = "FILE")]
    pub secret_files: Vec<std::path::PathBuf>,

    /// An environment variable whose value must not be in the image; repeatable
    #[arg(long = "secret-env", value_name = "VAR")]
    pub secret_envs: Vec<String>,

    /// Accept a file the leak scan flags by its shape: a path in the image (`.dockerignore`
    /// patterns) or `sha256:DIGEST` of its content; repeatable, added to the config's
    /// `scan-allow`. Never accepts a secret the build holds
    #[arg(long = "scan-allow", value_name = "PATH|sha256:DIGEST")]
    pub scan_allow: Vec<String>,

    /// Print what the scan concluded about this file in the image, and why (its package
    /// evidence, the rules that fired, the allow list); repeatable
    #[arg(long = "explain", value_name = "PATH")]
    pub explain: Vec<String>,
}

/// `shipimg build`: flags named as `docker buildx build` names them.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The build context directory
    #[arg(default_value = ".", value_name = "PATH")]
    pub path: std::path::PathBuf,

    /// The Dockerfile (default: `PATH/Dockerfile`)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<std::path::PathBuf>,

    /// Name and optionally a tag (`name:tag`); repeatable. Replaces the project config's tags
    #[arg(short = 't', long = "tag", value_name = "NAME")]
    pub tags: Vec<String>,

    /// The repository the config's tag templates are added to (else `SHIPIMG_IMAGE`, else
    /// `image` in the project config)
    #[arg(long, value_name = "REPOSITORY", conflicts_with = "tags")]
    pub image: Option<String>,

    /// Set a build-time variable (`KEY=VALUE`, or `KEY` to take it from the environment)
    #[arg(long = "build-arg", value_name = "KEY[=VALUE]")]
    pub build_args: Vec<String>,

    /// Set the target build stage
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,

    /// Set an image label (`KEY=VALUE`); repeatable
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,

    /// Networking mode for RUN steps
    #[arg(long, value_enum, value_name = "MODE")]
    pub network: Option<NetworkMode>,

    /// Do not use the build cache
    #[arg(long)]
    pub no_cache: bool,

    /// Always attempt to pull newer base images
    #[arg(long)]
    pub pull: bool,

    /// Target platform, e.g. `linux/amd64` (one)
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,

    /// A secret for `RUN --mount=type=secret`: `id=ID[,src=PATH|,env=VAR]`; repeatable
    #[arg(long = "secret", value_name = "SPEC")]
    pub secrets: Vec<String>,

    /// The package-index netrc, served to the build as secret `netrc` (else `SHIPIMG_NETRC`,
    /// `SHIPIMG_INDEX_USERNAME`/`SHIPIMG_INDEX_PASSWORD`, `$NETRC`, `~/.netrc`)
    #[arg(long, value_name = "PATH")]
    pub netrc: Option<std::path::PathBuf>,

    /// A package index the build uses: only its netrc entry is served, and it is checked before
    /// the build; repeatable
    #[arg(long = "index-url", value_name = "URL")]
    pub index_urls: Vec<String>,

    /// Send this credential-looking file in the context anyway; repeatable
    #[arg(long = "allow-context-file", value_name = "PATH")]
    pub allow_context_file: Vec<std::path::PathBuf>,

    /// Push every `-t` tag after a successful build and a clean leak scan
    #[arg(long)]
    pub push: bool,

    /// Accept a file the leak scan flags by its shape: a path in the image (`.dockerignore`
    /// patterns) or `sha256:DIGEST` of its content; repeatable, added to the config's
    /// `scan-allow`. Never accepts a secret the build holds
    #[arg(long = "scan-allow", value_name = "PATH|sha256:DIGEST")]
    pub scan_allow: Vec<String>,

    /// Only lint the Dockerfile for secrets; build nothing
    #[arg(long)]
    pub lint_only: bool,

    /// Let an earlier build stage COPY a credential file (it still stays in the build cache)
    #[arg(long)]
    pub allow_secret_copy: bool,

    #[command(flatten)]
    pub retry: RetryArgs,

    /// Write the image id to FILE
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<std::path::PathBuf>,

    /// Write build result metadata (JSON) to FILE
    #[arg(long = "metadata-file", value_name = "FILE")]
    pub metadata_file: Option<std::path::PathBuf>,

    /// Progress output: `auto` (tty on a terminal, else plain), `tty`, `plain`, `json`
    /// (events on stdout), `quiet` (only the image id on stdout)
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto, value_name = "TYPE")]
    pub progress: ProgressArg,

    /// How the context reaches the engine: `sync` serves it over the BuildKit session, and a
    /// rebuild sends only changed files (the default); `tar` sends it whole as the request body
    #[arg(long, value_enum, value_name = "MODE")]
    pub context_transfer: Option<ContextTransferArg>,
}

/// `--context-transfer` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ContextTransferArg {
    Sync,
    Tar,
}

/// How pushes are retried.
#[derive(Debug, Clone, Args)]
pub struct RetryArgs {
    /// Push attempts per tag, the first included, when the registry fails transiently
    /// (connection refused or reset, 5xx, 429)
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub push_attempts: u32,

    /// The longest wait between push attempts, in seconds (waits double from 1 s, with jitter)
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub push_backoff_max: f64,
}

/// `shipimg push IMAGE...`
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Images in the engine to push (`name:tag`)
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,

    #[command(flatten)]
    pub retry: RetryArgs,

    /// Write push result metadata (JSON) to FILE
    #[arg(long = "metadata-file", value_name = "FILE")]
    pub metadata_file: Option<std::path::PathBuf>,

    /// Progress output: `auto`, `tty`, `plain`, `json` (events on stdout), `quiet`
    /// (`name@sha256:...` lines on stdout)
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto, value_name = "TYPE")]
    pub progress: ProgressArg,

    /// Push without the leak scan (with a warning): nothing then proves the images carry no
    /// credential
    #[arg(long = "no-scan")]
    pub no_scan: bool,

    /// Accept a file the leak scan flags by its shape: a path in the image (`.dockerignore`
    /// patterns) or `sha256:DIGEST` of its content; repeatable, added to the config's
    /// `scan-allow`. Never accepts a secret the build holds
    #[arg(long = "scan-allow", value_name = "PATH|sha256:DIGEST")]
    pub scan_allow: Vec<String>,
}

/// `--network` values the engine accepts for BuildKit builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetworkMode {
    Default,
    Host,
    None,
}

/// `--progress` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    Auto,
    Tty,
    Plain,
    Json,
    Quiet,
}

/// `shipimg context`
#[derive(Debug, Args)]
pub struct ContextArgs {
    /// The build context directory
    #[arg(default_value = ".", value_name = "PATH")]
    pub path: std::path::PathBuf,

    /// The Dockerfile (default: `PATH/Dockerfile`); relative to the current directory, as with
    /// docker
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<std::path::PathBuf>,

    /// Send this credential-looking file anyway (repeatable)
    #[arg(long = "allow-context-file", value_name = "PATH")]
    pub allow_context_file: Vec<std::path::PathBuf>,

    /// Write the exact tar that `build` would send to FILE, or `-` for stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Summary format: `text` for people, `json` for scripts
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `shipimg doctor`
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Output format: `text` for people, `json` for scripts
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn visible_command_is_cli_without_hidden_subcommands() {
        let visible = visible_command();
        visible.clone().debug_assert();
        let names = |cmd: &clap::Command| -> Vec<String> {
            cmd.get_subcommands()
                .map(|s| s.get_name().to_owned())
                .collect()
        };
        let full = Cli::command();
        let expected: Vec<String> = full
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name().to_owned())
            .collect();
        assert_eq!(names(&visible), expected);
        assert!(names(&full).contains(&"manpage".to_owned()));
        assert!(!names(&visible).contains(&"manpage".to_owned()));
        let args = |cmd: &clap::Command| -> Vec<String> {
            cmd.get_arguments()
                .map(|a| a.get_id().to_string())
                .collect()
        };
        assert_eq!(args(&visible), args(&full));
        assert_eq!(visible.get_version(), full.get_version());
        assert_eq!(
            visible.get_about().map(ToString::to_string),
            full.get_about().map(ToString::to_string)
        );
    }

    #[test]
    fn quiet_and_verbose_conflict() {
        let err = Cli::try_parse_from(["shipimg", "-q", "-v", "doctor"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn verbosity_counts() {
        let cli = Cli::try_parse_from(["shipimg", "doctor", "-vv"]).unwrap();
        assert_eq!(cli.global.verbose, 2);
    }
}
