//! shipimg builds container images for Python services with BuildKit, hands the build its
//! package-index credentials as secrets, proves the image carries none, and pushes it.
//!
//! # How a command flows through the crate
//!
//! ```text
//! main.rs ── cli.rs (clap types) ── settings.rs (flags > SHIPIMG_* > config.rs -> one struct
//!                                         │        per command; config.rs reads [tool.shipimg])
//!                                   commands/*.rs  (thin orchestration, one file per subcommand)
//!                                         │
//!   ┌──────────────┬──────────────┬───────┴──────┬──────────────┬─────────────┬───────────┐
//! context/       credentials/   engine/        session/       progress/     printer.rs
//! .dockerignore, secrets read    finding the    the BuildKit   build and     stdout and
//! the guard,     into secrecy    engine, /build session: gRPC  push status   stderr;
//! the tar        values          and cancel     we serve       rendered and  error.rs
//!                                              (file sync,    masked
//! scan/: the leak scan of an exported image;     secrets, auth)
//! (scan/evidence.rs: RECORD/md5sums say what is third-party; scan/allow.rs: the allow list;
//! scan/layout.rs: which entries of a 20.10 or OCI export are which image's config and layers)
//! hex.rs: lower-case hex for digests; reference.rs: image references (and Docker Hub's names),
//! parsed once, for flags, config, `FROM` and push
//! leak/: what a credential is, once: a secret's forms (scan and masking), the shape detectors
//! (context guard and scan), credentials in URLs, placeholders; cache.rs: shipimg's cache dir
//! refusals.rs: the layers scans refused, remembered; credentials/held.rs: what the scan looks
//! for; child_env.rs: the environment children (helpers, gcloud, git) get, minus secrets
//! init/: what `shipimg init` writes; lint.rs: the Dockerfile secret lint
//! ```
//!
//! Domain modules never see clap types and never print: they return values and errors, and the
//! command decides what the user sees through the [`printer`] and the [`progress`] reporter.
//! docs/architecture.md walks a build through these modules.

pub mod cache;
pub mod child_env;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod credentials;
pub mod dockerfile;
pub mod engine;
pub mod error;
pub mod git;
pub mod hex;
pub mod init;
pub mod labels;
pub mod leak;
pub mod lint;
pub mod login;
pub mod printer;
pub mod progress;
pub mod publish;
pub mod random;
pub mod redact;
pub mod reference;
pub mod refusals;
pub mod registry;
pub mod scan;
pub mod session;
pub mod settings;

#[cfg(test)]
mod layers;

use crate::cli::Cli;
use crate::error::ExitStatus;

/// Runs one parsed command line to completion and returns its exit status.
///
/// Builds the logger and the tokio runtime once, here, so library code never blocks on async.
pub fn run(cli: Cli) -> ExitStatus {
    let global = settings::GlobalSettings::resolve(&cli.global);
    global.install_logging();
    let printer = printer::Printer::new(global.verbosity);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            printer.error(&error::CliError::unexpected(format!(
                "cannot start the async runtime: {err}"
            )));
            return ExitStatus::Failure;
        }
    };
    let outcome = runtime.block_on(commands::dispatch(cli.command, &global, &printer));
    // Work an interrupt abandoned (a scan still reading its export) must not hold the exit.
    runtime.shutdown_background();
    match outcome {
        Ok(status) => status,
        Err(err) => {
            printer.error(&err);
            err.status()
        }
    }
}
