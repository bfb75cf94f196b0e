//! `shipimg scan IMAGE`: the leak scan on any local image, and the scan `build --push` runs
//! before it pushes. Exit 3 on a finding.

use secrecy::SecretSlice;

use crate::cli::ScanArgs;
use crate::engine::Engine;
use crate::engine::endpoint::{EndpointEnv, resolve_endpoint};
use crate::error::{CliError, ExitStatus};
use crate::printer::Printer;
use crate::scan::{ScanSecret, scan_image};

/// Scans `args.image` for the given secrets and for credential files.
pub async fn run(args: &ScanArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let mut secrets = Vec::new();
    for path in &args.secret_files {
        let value = std::fs::read(path).map_err(|err| {
            CliError::user(format!(
                "cannot read --secret-file `{}`: {err}",
                path.display()
            ))
        })?;
        let value = SecretSlice::from(value);
        crate::redact::register_bytes(&value);
        secrets.push(ScanSecret {
            id: format!("--secret-file {}", path.display()),
            value,
            login: None,
        });
    }
    for var in &args.secret_envs {
        crate::child_env::register_secret_var(var);
        let value = std::env::var_os(var).ok_or_else(|| {
            CliError::user(format!("--secret-env `{var}`: the variable is not set"))
                .with_hint("export it, or drop the flag")
        })?;
        let value = SecretSlice::from(std::os::unix::ffi::OsStringExt::into_vec(value));
        crate::redact::register_bytes(&value);
        secrets.push(ScanSecret {
            id: format!("--secret-env {var}"),
            value,
            login: None,
        });
    }
    let endpoint = resolve_endpoint(&EndpointEnv::from_process())?;
    let engine = Engine::connect(endpoint).await.map_err(CliError::from)?;
    scan_and_report(&engine, &args.image, &args.image, &secrets, printer).await
}

/// Runs the scan of `image` (a reference or an id) and reports it under `name`: findings as one
/// line each and exit 3, or a clean line.
pub async fn scan_and_report(
    engine: &Engine,
    image: &str,
    name: &str,
    secrets: &[ScanSecret],
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let report = scan_image(engine, image, secrets, threads)
        .await
        .map_err(|err| match err {
            crate::scan::ScanError::NoSuchImage { .. } => CliError::user(format!(
                "no image `{name}` in the engine"
            ))
            .with_hint(
                "build it first (`shipimg build -t NAME`), or check the name with `docker images`",
            ),
            other => CliError::user(format!("cannot scan `{name}`: {other}")),
        })?;
    if report.findings.is_empty() {
        printer.status(
            "Scanned",
            &format!(
                "{name}: no secret found ({} layers, {} files, {} secret values looked for)",
                report.layers,
                report.files,
                secrets.len()
            ),
        );
        return Ok(ExitStatus::Success);
    }
    for finding in &report.findings {
        printer.info(&format!("  {finding}"));
    }
    Err(CliError::user(format!(
        "secret found in image `{name}`: {} finding(s), listed above",
        report.findings.len()
    ))
    .with_hint(
        "mount secrets with `RUN --mount=type=secret` instead of copying them; nothing was pushed",
    )
    .with_status(ExitStatus::SecretFound)
    .into())
}
