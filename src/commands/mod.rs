//! One file per subcommand. A command resolves its settings, runs the operations
//! ([`crate::ops`]) or the domain modules, and returns an exit status; it holds no domain logic
//! of its own and never calls another command. The printer is what operations report through.

mod build;
mod completions;
mod context;
mod doctor;
mod init;
mod manpage;
mod push;
mod scan;

use crate::cli::Command;
use crate::error::{CliError, ExitStatus};
use crate::ops::Report;
use crate::printer::{Printer, Verbosity};
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

/// JSON for stdout; a value that does not serialize is unexpected.
fn to_json(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(value)
        .map_err(|err| CliError::unexpected(format!("cannot write JSON: {err}")))
}

/// Operations report through the printer: between progress displays it owns the terminal.
impl Report for Printer {
    fn status(&self, label: &str, line: &str) {
        Printer::status(self, label, line);
    }
    fn info(&self, line: &str) {
        Printer::info(self, line);
    }
    fn note(&self, line: &str) {
        Printer::note(self, line);
    }
    fn warn(&self, message: &str, hint: Option<&str>) {
        match hint {
            Some(hint) => self.warn_with_hint(message, hint),
            None => Printer::warn(self, message),
        }
    }
    fn detail(&self, line: &str) {
        self.error_detail(line);
    }
    fn error(&self, error: &CliError) {
        Printer::error(self, error);
    }
    fn stdout_line(&self, line: &str) {
        Printer::stdout_line(self, line);
    }
    fn verbose(&self) -> bool {
        self.verbosity() >= Verbosity::Verbose
    }
}
