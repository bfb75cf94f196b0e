//! shipimg builds container images for Python services with BuildKit, hands the build its
//! package-index credentials as secrets, proves the image carries none, and pushes it.
//!
//! # The house, in layers
//!
//! Each module may use only the modules above it in this list; `src/layers.rs` holds the list
//! and a test that fails on an import that reaches down-to-up (`docs/architecture.md` walks a
//! build through them).
//!
//! ```text
//! foundations   hex (digests) · cache (shipimg's cache dir) · random (ids, jitter) ·
//!               error (CliError, UserError, exit codes) · reference (image references, Docker
//!               Hub's names) · child_env (what children get, minus secrets) · leak (what a
//!               credential is: forms, shapes, URL userinfo, placeholders) · redact (the
//!               Redactor; masking everything printed) · login (the one registry Login)
//! domain        git · labels · dockerfile (the Dockerfile model, parsed once) · context
//!               (ignore rules, guard, walk, tar) · lint · registry (the distribution API) ·
//!               engine (endpoint, transport, build, push, export) · session (BuildKit session:
//!               file sync, secrets, auth) · scan (evidence, allow list, layouts) · credentials
//!               (secrets into secrecy, netrc, docker config, Google, what is held) · publish
//!               (push with retries, confirmed) · progress (build and push renderers, the one
//!               terminal owner) · refusals · config ([tool.shipimg]) · init
//! commands      printer (stdout and stderr) · cli (clap types) · settings (flags > SHIPIMG_* >
//!               config, one struct per command) · ops (build, lint, scan, push: values out,
//!               never clap nor the printer) · commands (one thin file per subcommand)
//! ```
//!
//! Domain modules never see clap types and never print: they return values and typed errors
//! (`error::UserError`), and the command decides what the user sees through the [`printer`]
//! (which operations report through, as [`ops::Report`]) and the [`progress`] reporters.

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
pub mod ops;
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
