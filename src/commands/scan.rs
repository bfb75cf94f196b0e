//! `shipimg scan IMAGE`: the leak scan on any local image, and the scan `build --push` runs
//! before it pushes. Exit 3 on a finding.

use secrecy::SecretSlice;

use crate::cli::ScanArgs;
use crate::engine::Engine;
use crate::engine::endpoint::{EndpointEnv, resolve_endpoint};
use crate::error::{CliError, ExitStatus};
use crate::printer::Printer;
use crate::refusals::{Refusal, Refusals};
use crate::scan::{Finding, ScanSecret, scan_image};

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
    let scan = ScanFor::Inspection;
    scan_and_report(&engine, &args.image, &args.image, &secrets, scan, printer).await
}

/// Why an image is scanned, for what the refusal says happens next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanFor {
    /// `shipimg scan`: nothing was going to be pushed.
    Inspection,
    /// `build --push`: the push waits on the scan.
    Push,
}

/// Runs the scan of `image` (a reference or an id) and reports it under `name`: findings as one
/// line each (even under `-q`: the error points at them) and exit 3, or a clean line. A layer an
/// earlier scan refused is refused again ([`crate::refusals`]), and the layers this scan refuses
/// are remembered.
pub async fn scan_and_report(
    engine: &Engine,
    image: &str,
    name: &str,
    secrets: &[ScanSecret],
    scan: ScanFor,
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
    let var = |name: &str| std::env::var(name).ok();
    let refusals = crate::session::filesync::node_id_dir(&var).map(Refusals::in_dir);
    let earlier = match refusals.as_ref().map(|r| r.earlier(&report.diff_ids)) {
        Some(Ok(earlier)) => earlier,
        Some(Err(err)) => {
            printer.warn(&format!(
                "{} (layers refused by earlier scans are not checked)",
                crate::error::join_chain(&err.into())
            ));
            Vec::new()
        }
        None => Vec::new(),
    };
    // A layer this scan finds a held secret in is shown with what it found now, not twice; one
    // it flags only by a credential's shape also shows which earlier secret it held.
    let earlier: Vec<Refusal> = earlier
        .into_iter()
        .filter(|r| {
            !report.findings.iter().any(|f| {
                f.layer.as_deref() == Some(r.diff_id.as_str())
                    && matches!(f.what, crate::scan::FindingKind::Secret { .. })
            })
        })
        .collect();
    if report.findings.is_empty() && earlier.is_empty() {
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
        printer.error_detail(&format!("  {finding}"));
    }
    for refusal in &earlier {
        let position = report.diff_ids.iter().position(|id| id == &refusal.diff_id);
        printer.error_detail(&format!(
            "  layer {} ({}) was refused by an earlier scan: {}",
            position.map_or_else(|| "?".to_owned(), |p| (p + 1).to_string()),
            refusal.diff_id,
            refusal.finding
        ));
    }
    if let Some(refusals) = &refusals
        && let Err(err) = refusals.remember(&refused_layers(&report.findings))
    {
        printer.warn(&format!(
            "{} (a later build that gets these layers from the cache is checked only for its own secrets)",
            crate::error::join_chain(&err.into())
        ));
    }
    let next = match scan {
        ScanFor::Inspection => "rebuild it before pushing it anywhere",
        ScanFor::Push => "nothing was pushed",
    };
    Err(CliError::user(format!(
        "secret found in image `{name}`: {} finding(s), listed above",
        report.findings.len() + earlier.len()
    ))
    .with_hint(format!(
        "mount secrets with `RUN --mount=type=secret` instead of copying them; {next}"
    ))
    .with_status(ExitStatus::SecretFound)
    .into())
}

/// The layers `findings` refuse, each once with its first held-secret finding: the path and what was found,
/// masked, never the step (it may quote a value nobody registered) nor the layer's position.
///
/// Only layers refused for a held secret's value are remembered: that is what a later scan,
/// holding other values, could miss. A credential found by its shape is found again by any
/// later scan, and remembering it would keep refusing a layer after a detector learned better.
fn refused_layers(findings: &[Finding]) -> Vec<Refusal> {
    let mut refused: Vec<Refusal> = Vec::new();
    for finding in findings {
        let Some(layer) = &finding.layer else {
            continue;
        };
        if !matches!(finding.what, crate::scan::FindingKind::Secret { .. }) {
            continue;
        }
        if refused.iter().any(|r| &r.diff_id == layer) {
            continue;
        }
        let shown = Finding {
            step: None,
            ..finding.clone()
        }
        .to_string();
        // `layer 2 (sha256:...): `path`: secret `id`` -> what follows the layer.
        let what = shown
            .split_once("): ")
            .map_or(shown.as_str(), |(_, what)| what);
        refused.push(Refusal {
            diff_id: layer.clone(),
            finding: crate::redact::redact(what),
        });
    }
    refused
}
