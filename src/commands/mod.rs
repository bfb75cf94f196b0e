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
use crate::error::ExitStatus;
use crate::printer::Printer;
use crate::settings::GlobalSettings;

/// Runs the chosen subcommand.
pub async fn dispatch(
    command: Command,
    global: &GlobalSettings,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
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
