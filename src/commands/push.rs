//! `shipimg push IMAGE...`: scans and pushes local images through [`crate::ops::push`].

use crate::cli::PushArgs;
use crate::error::{CliError, ExitStatus};
use crate::printer::Printer;
use crate::settings::{GlobalSettings, PushSettings};

/// `shipimg push IMAGE...`: scans each image with every secret this invocation can find, as
/// `build --push` does, then pushes.
pub async fn run(
    args: &PushArgs,
    global: &GlobalSettings,
    printer: &Printer,
) -> Result<ExitStatus, CliError> {
    let var = |name: &str| std::env::var(name).ok();
    let project = crate::config::load(std::path::Path::new("."))?;
    let settings = PushSettings::resolve(args, global, &var, &project.config)?;
    crate::ops::push::scan_and_push(&settings, printer).await
}
