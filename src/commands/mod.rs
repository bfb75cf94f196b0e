//! One file per subcommand. A command takes resolved settings and the printer, calls the domain
//! modules, and returns an exit status; it holds no domain logic of its own.

mod build;
mod completions;
mod context;
mod doctor;
mod init;
mod lint;
mod manpage;
mod push;
mod results;
mod scan;

use crate::cli::Command;
use crate::error::{CliError, ExitStatus};
use crate::printer::Printer;
use crate::settings::GlobalSettings;

/// Runs the chosen subcommand.
pub async fn dispatch(
    command: Command,
    global: &GlobalSettings,
    printer: &Printer,
) -> Result<ExitStatus, CliError> {
    match command {
        Command::Doctor(args) => doctor::run(&args, global, printer).await,
        Command::Build(args) => build::run(&args, global, printer).await,
        Command::Push(args) => push::run(&args, global, printer).await,
        Command::Scan(args) => scan::run(&args, printer).await,
        Command::Context(args) => context::run(&args, printer).await,
        Command::Init(args) => init::run(&args, printer).await,
        Command::Completions(args) => Ok(completions::run(&args, printer)),
        Command::Manpage(args) => Ok(manpage::run(&args, printer)?),
    }
}

/// The current directory, which relative paths are read against.
fn current_dir() -> Result<std::path::PathBuf, CliError> {
    std::env::current_dir().map_err(|err| {
        CliError::user(format!("cannot read the current directory: {err}"))
            .with_hint("run shipimg from a directory that exists")
    })
}

/// A blocking task's result; a task that panicked or was cancelled is unexpected.
fn joined<T>(result: Result<T, tokio::task::JoinError>) -> Result<T, CliError> {
    result.map_err(|err| CliError::unexpected(format!("a worker thread failed: {err}")))
}

/// JSON for stdout; a value that does not serialize is unexpected.
fn to_json(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(value)
        .map_err(|err| CliError::unexpected(format!("cannot write JSON: {err}")))
}
