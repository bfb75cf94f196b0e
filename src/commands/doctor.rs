//! `shipimg doctor`: which engine shipimg would use, and whether it can build with it.

use crate::cli::{DoctorArgs, OutputFormat};
use crate::engine::endpoint::{EndpointEnv, resolve_endpoint};
use crate::engine::{Engine, EngineReport};
use crate::error::{CliError, ExitStatus};
use crate::printer::Printer;
use crate::settings::GlobalSettings;

/// Connects to the engine and prints what it is.
pub async fn run(
    args: &DoctorArgs,
    _global: &GlobalSettings,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let endpoint = resolve_endpoint(&EndpointEnv::from_process())?;
    tracing::debug!(address = %endpoint.address, source = %endpoint.source, "engine endpoint");
    let engine = Engine::connect(endpoint).await.map_err(CliError::from)?;
    let report = engine.report().await.map_err(CliError::from)?;

    match args.format {
        OutputFormat::Json => printer.stdout_line(&serde_json::to_string_pretty(&report)?),
        OutputFormat::Text => {
            for line in render_text(&report) {
                printer.stdout_line(&line);
            }
        }
    }
    if !report.buildkit_available {
        return Err(CliError::user(format!(
            "the engine at {} cannot run BuildKit builds (API {}, {})",
            report.address, report.api_version, report.os
        ))
        .with_hint("shipimg needs a Linux Docker Engine 18.09 or newer (API 1.39+)")
        .into());
    }
    Ok(ExitStatus::Success)
}

fn render_text(report: &EngineReport) -> Vec<String> {
    let buildkit = if report.buildkit_available {
        format!("available (default builder: {})", report.default_builder)
    } else {
        "not available".to_owned()
    };
    [
        (
            "engine",
            format!("{} ({})", report.address, report.address_source),
        ),
        ("version", report.version.clone()),
        (
            "api",
            format!(
                "{} (minimum {})",
                report.api_version, report.min_api_version
            ),
        ),
        ("os/arch", format!("{}/{}", report.os, report.arch)),
        ("storage", report.storage_driver.clone()),
        ("buildkit", buildkit),
    ]
    .into_iter()
    .map(|(key, value)| format!("{key:<9} {value}"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_report_has_one_line_per_fact() {
        let report = EngineReport {
            address: "unix:///x.sock".into(),
            address_source: "from DOCKER_HOST".into(),
            version: "20.10.24".into(),
            api_version: "1.41".into(),
            min_api_version: "1.12".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            storage_driver: "overlay2".into(),
            buildkit_available: true,
            default_builder: "BuildKit".into(),
        };
        let lines = render_text(&report);
        assert_eq!(lines[0], "engine    unix:///x.sock (from DOCKER_HOST)");
        assert_eq!(lines[2], "api       1.41 (minimum 1.12)");
        assert_eq!(lines[5], "buildkit  available (default builder: BuildKit)");
    }
}
