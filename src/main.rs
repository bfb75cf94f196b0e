//! The `shipimg` binary: parse the arguments, run the command on one runtime, map the outcome to
//! an exit code. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use shipimg::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    ExitCode::from(shipimg::run(cli).code())
}
