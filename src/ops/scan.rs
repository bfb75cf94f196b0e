//! The leak scan as an operation: scan an image with the secrets held, check its layers against
//! those earlier scans refused, report what it found, and remember what it refuses. `shipimg
//! scan` runs it to inspect an image; `build --push` and `push` run it before anything is
//! pushed.

use crate::engine::Engine;
use crate::error::{CliError, ExitStatus};
use crate::refusals::{Refusal, Refusals};
use crate::scan::{
    Explanation, Finding, Note, NoteReason, Part, ScanOptions, ScanReport, ScanSecret, scan_image,
};

use super::Report;

/// `--explain PATH`: what the scan concluded about each file asked for, layer by layer.
fn print_explained(asked: &[String], report: &ScanReport, out: &dyn Report) {
    for path in asked {
        let layers: Vec<&Explanation> = report
            .explained
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, e)| e)
            .collect();
        if layers.is_empty() {
            out.detail(&format!(
                "`{path}`: in no layer of the image (paths are as in the image, e.g. `usr/lib/x`)"
            ));
            continue;
        }
        for e in layers {
            let layer = match e.layer_index {
                Some(i) => format!("layer {} ({})", i + 1, e.layer),
                None => format!("layer {}", e.layer),
            };
            out.detail(&format!("`{path}` in {layer}"));
            if let Some(step) = &e.step {
                out.detail(&format!("  made by:   `{step}`"));
            }
            let sha = e
                .digests
                .sha256
                .map(|d| crate::hex::encode(&d))
                .unwrap_or_default();
            let kind = if e.binary { "binary" } else { "text" };
            out.detail(&format!(
                "  content:   {} bytes, {kind}, sha256:{sha}",
                e.size
            ));
            out.detail(&format!("  evidence:  {}", e.evidence));
            let rules: Vec<String> = e
                .detections
                .iter()
                .map(|d| {
                    let how = if d.whole_file {
                        "whole file"
                    } else {
                        "embedded"
                    };
                    let noisy = if d.kind.is_noisy() {
                        ", noisy"
                    } else {
                        ", strict"
                    };
                    format!("`{}` ({how}{noisy})", d.kind.rule())
                })
                .collect();
            out.detail(&format!(
                "  rules:     {}",
                match rules.is_empty() {
                    true => match e.binary {
                        true => "none fired (binary: only the strict rules run)".to_owned(),
                        false => "none fired".to_owned(),
                    },
                    false => rules.join(", "),
                }
            ));
            if !e.secrets.is_empty() {
                out.detail(&format!("  secrets:   {}", e.secrets.join(", ")));
            }
            if let Some(entry) = &e.allowed_by {
                out.detail(&format!("  allowed:   by `{entry}`"));
            }
            if e.deleted_later {
                out.detail("  deleted by a later layer, but still shipped in this one");
            }
            out.detail(&format!("  verdict:   {}", verdict(e)));
        }
    }
}

/// The one-line conclusion for an explained file, as the scan itself decides it.
fn verdict(e: &Explanation) -> String {
    if !e.secrets.is_empty() {
        return "finding: a secret this scan holds (nothing accepts that)".into();
    }
    let counted: Vec<_> = e
        .detections
        .iter()
        .filter(|d| !(d.kind.is_noisy() && e.evidence.is_third_party()))
        .collect();
    match (counted.is_empty(), &e.allowed_by, e.detections.is_empty()) {
        (_, _, true) => "clean".into(),
        (true, _, false) => "note: only noisy rules fired, on third-party content".into(),
        (false, Some(entry), _) => format!("note: allowed by `{entry}`"),
        (false, None, _) => "finding: it stops the push".into(),
    }
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
///
/// On success it returns the notes: credentials found by their shape that do not count
/// (third-party content, or accepted by the allow list); the allowed ones are printed as notes,
/// the third-party ones counted (listed with `-v`).
pub async fn scan_and_report(
    engine: &Engine,
    image: &str,
    name: &str,
    secrets: &[ScanSecret],
    options: ScanOptions,
    scan: ScanFor,
    out: &dyn Report,
) -> Result<Vec<Note>, CliError> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let explain = options.explain.clone();
    let report = scan_image(engine, image, secrets, options, threads)
        .await
        .map_err(|err| match err {
            crate::scan::ScanError::NoSuchImage { .. } => CliError::user(format!(
                "no image `{name}` in the engine"
            ))
            .with_hint(
                "build it first (`shipimg build -t NAME`), or check the name with `docker images`",
            ),
            other => CliError::user(format!(
                "cannot scan `{name}`: {}",
                crate::error::chain(&other)
            )),
        })?;
    let var = |name: &str| std::env::var(name).ok();
    let refusals = crate::session::filesync::node_id_dir(&var).map(Refusals::in_dir);
    let earlier = match refusals.as_ref().map(|r| r.earlier(&report.diff_ids)) {
        Some(Ok(earlier)) => earlier,
        Some(Err(err)) => {
            out.warn(
                &format!(
                    "{} (layers refused by earlier scans are not checked)",
                    crate::error::chain(&err)
                ),
                None,
            );
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
    print_explained(&explain, &report, out);
    let third_party = report
        .notes
        .iter()
        .filter(|n| matches!(n.why, NoteReason::ThirdParty(_)))
        .count();
    for note in &report.notes {
        match note.why {
            NoteReason::Allowed(_) => out.note(&note.to_string()),
            NoteReason::ThirdParty(_) if out.verbose() => out.note(&note.to_string()),
            NoteReason::ThirdParty(_) => {}
        }
    }
    if report.findings.is_empty() && earlier.is_empty() {
        let relaxed = match third_party {
            0 => String::new(),
            n => format!(
                "; {n} test key(s) or example(s) in third-party packages let through, `-v` lists them"
            ),
        };
        out.status(
            "Scanned",
            &format!(
                "{name}: no secret found ({} layers, {} files, {} secret values looked for{relaxed})",
                report.layers,
                report.files,
                secrets.len()
            ),
        );
        return Ok(report.notes);
    }
    for finding in &report.findings {
        out.detail(&format!("  {finding}"));
    }
    for refusal in &earlier {
        let position = report.diff_ids.iter().position(|id| id == &refusal.diff_id);
        out.detail(&format!(
            "  layer {} ({}) was refused by an earlier scan: {}",
            position.map_or_else(|| "?".to_owned(), |p| (p + 1).to_string()),
            refusal.diff_id,
            refusal.finding
        ));
    }
    if let Some(refusals) = &refusals
        && let Err(err) = refusals.remember(&refused_layers(&report.findings))
    {
        out.warn(&format!(
            "{} (a later build that gets these layers from the cache is checked only for its own secrets)",
            crate::error::chain(&err)
        ), None);
    }
    let next = match scan {
        ScanFor::Inspection => "rebuild it before pushing it anywhere",
        ScanFor::Push => "nothing was pushed",
    };
    let shape_only = earlier.is_empty()
        && report
            .findings
            .iter()
            .all(|f| matches!(f.what, crate::scan::FindingKind::Credential { .. }));
    let accept = match shape_only {
        true => {
            "; if a file is a known test fixture, accept it with `--scan-allow PATH` (`--explain PATH` shows why it counts)"
        }
        false => "",
    };
    Err(CliError::user(format!(
        "secret found in image `{name}`: {} finding(s), listed above",
        report.findings.len() + earlier.len()
    ))
    .with_hint(format!(
        "mount secrets with `RUN --mount=type=secret` instead of copying them; {next}{accept}"
    ))
    .with_status(ExitStatus::SecretFound))
}

/// The layers `findings` refuse, each once with its first held-secret finding: the path and what was found,
/// masked, never the step (it may quote a value nobody registered) nor the layer's position.
///
/// Only layers refused for a held secret's value are remembered: that is what a later scan,
/// holding other values, could miss. A credential found by its shape is found again by any
/// later scan, and remembering it would keep refusing a layer after a detector learned better.
/// Only the image's own layers: an attestation is written anew by every build, never taken from
/// the cache.
fn refused_layers(findings: &[Finding]) -> Vec<Refusal> {
    let mut refused: Vec<Refusal> = Vec::new();
    for finding in findings {
        let (Part::Layer, Some(layer)) = (finding.part, &finding.layer) else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::FindingKind;

    fn finding(part: Part, layer: Option<&str>, path: &str) -> Finding {
        Finding {
            part,
            layer: layer.map(str::to_owned),
            layer_index: Some(1),
            path: Some(path.into()),
            what: FindingKind::Secret { id: "tok".into() },
            step: Some("COPY x /etc/x".into()),
            deleted_later: false,
            evidence: None,
        }
    }

    #[test]
    fn only_the_image_layers_are_remembered_by_diff_id() {
        let layer = format!("sha256:{:064x}", 1);
        let statement = format!("sha256:{:064x}", 2);
        let refused = refused_layers(&[
            finding(Part::Layer, Some(&layer), "etc/x"),
            finding(Part::Layer, Some(&layer), "etc/y"),
            finding(
                Part::Attestation,
                Some(&statement),
                "https://slsa.dev/provenance/v0.2",
            ),
            finding(Part::Manifest, None, &statement),
            finding(Part::Config, None, "config: Env X"),
        ]);
        assert_eq!(
            refused,
            [Refusal {
                diff_id: layer,
                finding: "`etc/x`: secret `tok`".into(),
            }]
        );
    }
}
