//! `shipimg scan IMAGE`: the leak scan on any local image. Exit 3 on a finding.

use crate::cli::ScanArgs;
use crate::credentials::read_scan_secret;
use crate::engine::Engine;
use crate::engine::endpoint::{EndpointEnv, resolve_endpoint};
use crate::error::{CliError, ExitStatus};
use crate::ops::scan::{ScanFor, scan_and_report};
use crate::printer::Printer;
use crate::scan::{ScanOptions, ScanSecret};
use crate::settings::ScanSettings;

/// Scans the image for the given secrets and for credentials by their shape.
pub async fn run(args: &ScanArgs, printer: &Printer) -> Result<ExitStatus, CliError> {
    // The secrets first: every message after them is masked.
    let secrets = ScanSettings::secret_sources(args)
        .iter()
        .map(read_scan_secret)
        .collect::<Result<Vec<ScanSecret>, _>>()?;
    let project = crate::config::load(std::path::Path::new("."))?;
    let var = |name: &str| std::env::var(name).ok();
    let settings = ScanSettings::resolve(args, &var, &project.config)?;
    let options = ScanOptions {
        allow: settings.scan_allow,
        explain: settings.explain,
    };
    let endpoint = resolve_endpoint(&EndpointEnv::from_process())?;
    let engine = Engine::connect(endpoint).await.map_err(CliError::from)?;
    let image = &settings.image;
    let scan = ScanFor::Inspection;
    scan_and_report(&engine, image, image, &secrets, options, scan, printer).await?;
    Ok(ExitStatus::Success)
}
