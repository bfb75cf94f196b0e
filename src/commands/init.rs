//! `shipimg init`: sets a project up through [`crate::ops::init`].

use crate::cli::InitArgs;
use crate::error::{CliError, ExitStatus};
use crate::printer::Printer;
use crate::settings::InitSettings;

/// Writes the project's Dockerfile, `.dockerignore` and config.
pub async fn run(args: &InitArgs, printer: &Printer) -> Result<ExitStatus, CliError> {
    let settings = InitSettings::resolve(args)?;
    crate::ops::init::init_project(&settings, printer)?;
    Ok(ExitStatus::Success)
}
