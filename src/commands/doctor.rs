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
) -> Result<ExitStatus, CliError> {
    let endpoint = resolve_endpoint(&EndpointEnv::from_process())?;
    tracing::debug!(address = %endpoint.address, source = %endpoint.source, "engine endpoint");
    let engine = Engine::connect(endpoint).await.map_err(CliError::from)?;
    let report = engine.report().await.map_err(CliError::from)?;

    match args.format {
        OutputFormat::Json => printer.stdout_line(&super::to_json(&report)?),
        OutputFormat::Text => {
            for line in render_text(&report) {
                printer.stdout_line(&line);
            }
        }
    }
    for warning in &report.warnings {
        printer.warn(warning);
    }
    if !report.buildkit_available {
        return Err(CliError::user(format!(
            "the engine at {} cannot run BuildKit builds (it runs {})",
            report.address, report.os
        ))
        .with_hint("shipimg needs a Linux Docker Engine"));
    }
    Ok(ExitStatus::Success)
}

fn render_text(report: &EngineReport) -> Vec<String> {
    let buildkit = if report.buildkit_available {
        format!(
            "available, version {} (default builder: {})",
            report.buildkit_version.as_deref().unwrap_or("not reported"),
            report.default_builder
        )
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
                "{} in use (engine {}-{}, shipimg {}-{})",
                report.api_version_in_use,
                report.min_api_version,
                report.api_version,
                report.shipimg_min_api_version,
                report.shipimg_api_version
            ),
        ),
        ("os/arch", format!("{}/{}", report.os, report.arch)),
        (
            "store",
            format!("{} ({})", report.image_store, report.storage_driver),
        ),
        ("buildkit", buildkit),
    ]
    .into_iter()
    .map(|(key, value)| format!("{key:<9} {value}"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ImageStore;

    fn report() -> EngineReport {
        EngineReport {
            address: "unix:///x.sock".into(),
            address_source: "from DOCKER_HOST".into(),
            version: "20.10.24".into(),
            api_version: "1.41".into(),
            min_api_version: "1.12".into(),
            api_version_in_use: "1.41".into(),
            shipimg_api_version: "1.51".into(),
            shipimg_min_api_version: "1.39".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            image_store: ImageStore::Classic,
            storage_driver: "overlay2".into(),
            buildkit_available: true,
            buildkit_version: None,
            default_builder: "BuildKit".into(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn text_report_has_one_line_per_fact() {
        let lines = render_text(&report());
        assert_eq!(
            lines,
            [
                "engine    unix:///x.sock (from DOCKER_HOST)",
                "version   20.10.24",
                "api       1.41 in use (engine 1.12-1.41, shipimg 1.39-1.51)",
                "os/arch   linux/amd64",
                "store     classic (overlay2)",
                "buildkit  available, version not reported (default builder: BuildKit)",
            ]
        );
    }

    #[test]
    fn a_containerd_engine_shows_its_store_and_buildkit_version() {
        let report = EngineReport {
            version: "28.5.2".into(),
            api_version: "1.51".into(),
            min_api_version: "1.44".into(),
            api_version_in_use: "1.51".into(),
            image_store: ImageStore::Containerd,
            storage_driver: "overlayfs".into(),
            buildkit_version: Some("v0.25.1".into()),
            ..report()
        };
        let lines = render_text(&report);
        assert_eq!(
            lines[2],
            "api       1.51 in use (engine 1.44-1.51, shipimg 1.39-1.51)"
        );
        assert_eq!(lines[4], "store     containerd (overlayfs)");
        assert_eq!(
            lines[5],
            "buildkit  available, version v0.25.1 (default builder: BuildKit)"
        );
    }
}
