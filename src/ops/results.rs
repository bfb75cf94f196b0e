//! What a build or a push leaves for scripts and CI: `--iidfile`, `--metadata-file`, and on
//! GitHub Actions the step outputs (`GITHUB_OUTPUT`) and the job summary (`GITHUB_STEP_SUMMARY`).
//! The metadata JSON is made here, once, so `--metadata-file` and the `metadata` output hold the
//! same thing whichever command wrote them (plain `build`, `build --push`, `push`). Everything
//! written passes through the same redaction as the terminal.
//!
//! The step outputs follow `docker/build-push-action`: `imageid` is the engine's image id,
//! `digest` is the metadata's `containerimage.digest` and `metadata` the metadata itself. After a
//! push `digest` is the manifest digest the registry holds; after a plain build it is the engine's
//! image id, as build-push-action's `digest` is after a `load` (the config digest on the classic
//! image store, the manifest digest on the containerd store). Two outputs are shipimg's own:
//! `tags` (the pushed references, else the local tags, one a line) and `image` (`name@digest`),
//! written only after a push: a local image id is no reference a runner can pull.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::CliError;
use crate::publish::Published;
use crate::scan::Note;
use crate::session::filesync::TransferSummary;

/// Removes the result files an earlier run left (`--iidfile`, `--metadata-file`, each with its
/// flag), as buildx does: a run that fails or is refused must not leave a script reading the
/// previous image's. Runs first, before anything can refuse.
pub fn remove_stale_results(files: &[(Option<&Path>, &str)]) -> Result<(), CliError> {
    for (path, flag) in files {
        let Some(path) = path else { continue };
        match std::fs::remove_file(path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(CliError::user(format!(
                    "cannot remove the earlier run's {flag} `{}`: {err}",
                    path.display()
                ))
                .with_hint(format!(
                    "make the file's directory writable, or give {flag} another path"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Where a command writes its results; each is optional.
#[derive(Debug, Clone, Default)]
pub struct ResultFiles {
    /// `--metadata-file`.
    pub metadata_file: Option<PathBuf>,
    /// `GITHUB_OUTPUT`: step outputs, appended.
    pub github_output: Option<PathBuf>,
    /// `GITHUB_STEP_SUMMARY`: the job summary, appended.
    pub step_summary: Option<PathBuf>,
}

impl ResultFiles {
    /// `--metadata-file`, and GitHub's files from the environment (set in every Actions step;
    /// an empty value counts as unset).
    pub fn new(metadata_file: Option<PathBuf>, var: &dyn Fn(&str) -> Option<String>) -> Self {
        let path = |name: &str| var(name).filter(|p| !p.is_empty()).map(PathBuf::from);
        ResultFiles {
            metadata_file,
            github_output: path("GITHUB_OUTPUT"),
            step_summary: path("GITHUB_STEP_SUMMARY"),
        }
    }
}

/// What a successful build or push made, as the result files report it.
#[derive(Debug, Clone, Copy)]
pub struct Results<'a> {
    /// The engine's image id, `sha256:...`.
    pub image_id: &'a str,
    /// The tags the build gave the image in the engine (reported when nothing was pushed).
    pub tags: &'a [String],
    /// What reached the registry, in the order pushed; empty for a plain build.
    pub pushed: &'a [Published],
    /// How the build context was sent, when this run built the image.
    pub transfer: Option<&'a TransferSummary>,
    /// What the leak scan let through, when a scan ran (`None` for a plain build and for
    /// `push --no-scan`: no key then claims a scan).
    pub scan_notes: Option<&'a [Note]>,
    /// The pushed image's size, for the job summary.
    pub size: Option<u64>,
    /// How long the push took, for the job summary.
    pub elapsed: Duration,
}

/// The `--metadata-file` JSON, with BuildKit's keys. After a push `containerimage.digest` is the
/// registry's manifest digest and `containerimage.config.digest` the config blob it names; without
/// one both are the engine's image id (see docs/guides/release-scripts.md for what that is on each
/// image store).
pub fn metadata(results: &Results<'_>) -> serde_json::Value {
    let mut metadata = match results.pushed.first() {
        Some(first) => serde_json::json!({
            "containerimage.config.digest": first.config_digest,
            "containerimage.digest": first.digest,
            "containerimage.descriptor": {
                "mediaType": first.media_type,
                "digest": first.digest,
                "size": first.size,
            },
            "image.name": pushed_references(results.pushed).join(","),
        }),
        None => serde_json::json!({
            "containerimage.config.digest": results.image_id,
            "containerimage.digest": results.image_id,
            "image.name": results.tags.join(","),
        }),
    };
    if let Some(transfer) = results.transfer {
        metadata["shipimg.context.transfer"] =
            serde_json::to_value(transfer).expect("counters serialise");
    }
    if let Some(notes) = results.scan_notes {
        metadata["shipimg.scan.allowed"] = scan_notes_json(notes);
    }
    metadata
}

/// The step outputs, by name, in the order written.
pub fn step_outputs(results: &Results<'_>) -> Vec<(&'static str, String)> {
    let metadata = metadata(results);
    let digest = metadata["containerimage.digest"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut outputs = vec![("digest", digest), ("imageid", results.image_id.to_owned())];
    match results.pushed.first() {
        Some(first) => {
            outputs.push(("image", format!("{}@{}", first.name, first.digest)));
            outputs.push(("tags", pushed_references(results.pushed).join("\n")));
        }
        None => outputs.push(("tags", results.tags.join("\n"))),
    }
    outputs.push((
        "metadata",
        serde_json::to_string_pretty(&metadata).expect("json value serialises"),
    ));
    outputs
}

/// Writes `--metadata-file`, the step outputs and (after a push) the job summary.
pub fn write_results(files: &ResultFiles, results: &Results<'_>) -> Result<(), CliError> {
    if let Some(path) = &files.metadata_file {
        let text = serde_json::to_string_pretty(&metadata(results)).expect("json serialises");
        write_file(path, &text, "--metadata-file")?;
    }
    if let Some(path) = &files.github_output {
        let outputs = step_outputs(results);
        let pairs: Vec<(&str, &str)> = outputs
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        append(path, &github_outputs(&pairs), "GITHUB_OUTPUT")?;
    }
    if let Some(path) = files
        .step_summary
        .as_ref()
        .filter(|_| !results.pushed.is_empty())
    {
        let summary = step_summary(results.pushed, results.size, results.elapsed);
        append(path, &summary, "GITHUB_STEP_SUMMARY")?;
    }
    Ok(())
}

/// Writes a file shipimg reports into (`--iidfile`, `--metadata-file`), masked as the terminal
/// is: whatever a script or a CI log reads from it never holds a registered secret.
pub fn write_file(path: &Path, text: &str, what: &str) -> Result<(), CliError> {
    std::fs::write(path, crate::redact::redact(text)).map_err(|err| {
        CliError::user(format!(
            "failed to write {what} `{}`: {err}",
            path.display()
        ))
    })
}

/// Appends to a CI file (`GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`), masked as [`write_file`].
fn append(path: &Path, text: &str, what: &str) -> Result<(), CliError> {
    let text = crate::redact::redact(text);
    let failed = |err: std::io::Error| {
        CliError::user(format!(
            "failed to write {what} `{}`: {err}",
            path.display()
        ))
    };
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(failed)?
        .write_all(text.as_bytes())
        .map_err(failed)
}

fn pushed_references(pushed: &[Published]) -> Vec<&str> {
    pushed.iter().map(|p| p.reference.as_str()).collect()
}

/// GitHub's multi-line-safe `name<<DELIMITER` form, each value with its own random delimiter
/// that the value is checked not to contain (a value that held the delimiter line would end the
/// output early and could set other outputs).
fn github_outputs(outputs: &[(&str, &str)]) -> String {
    let mut text = String::new();
    for (name, value) in outputs {
        let mut delimiter = format!("ghadelimiter_{}", crate::random::session_id());
        while value.contains(&delimiter) {
            delimiter = format!("ghadelimiter_{}", crate::random::session_id());
        }
        text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
    }
    text
}

/// The scan's notes: each credential found by its shape that did not stop the push, where it is
/// and what let it through (`allowed_by` an allow-list entry, or `third_party` with the package
/// list that vouches for it).
fn scan_notes_json(notes: &[Note]) -> serde_json::Value {
    use crate::scan::{FindingKind, NoteReason};
    notes
        .iter()
        .map(|note| {
            let f = &note.finding;
            let rule = match &f.what {
                FindingKind::Credential { kind, .. } => kind.rule(),
                FindingKind::Secret { .. } => "secret",
            };
            let mut entry = serde_json::json!({
                "layer": f.layer,
                "path": f.path,
                "rule": rule,
            });
            match &note.why {
                NoteReason::Allowed(by) => entry["allowed_by"] = by.as_str().into(),
                NoteReason::ThirdParty(p) => entry["third_party"] = p.to_string().into(),
            }
            entry
        })
        .collect()
}

/// A short markdown table for the job summary.
fn step_summary(pushed: &[Published], size: Option<u64>, elapsed: Duration) -> String {
    let mut text = String::from(
        "### shipimg pushed\n\n| image | tags | digest | size | duration |\n|---|---|---|---|---|\n",
    );
    let mut names: Vec<&str> = pushed.iter().map(|p| p.name.as_str()).collect();
    names.dedup();
    for name in names {
        let of_name: Vec<&Published> = pushed.iter().filter(|p| p.name == name).collect();
        let tags: Vec<String> = of_name
            .iter()
            .map(|p| {
                format!(
                    "`{}`",
                    p.reference.rsplit_once(':').map_or("latest", |(_, t)| t)
                )
            })
            .collect();
        text.push_str(&format!(
            "| `{name}` | {} | `{}` | {} | {:.1} s |\n",
            tags.join(", "),
            of_name[0].digest,
            size.map(crate::progress::human_bytes)
                .unwrap_or_else(|| "?".into()),
            elapsed.as_secs_f64()
        ));
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(reference: &str) -> Published {
        Published {
            reference: reference.into(),
            name: "r/x".into(),
            digest: "sha256:d".into(),
            config_digest: "sha256:c".into(),
            despite: None,
            media_type: Some("application/vnd.oci.image.manifest.v1+json".into()),
            size: Some(512),
            duration: Duration::ZERO,
        }
    }

    fn plain<'a>(tags: &'a [String], transfer: Option<&'a TransferSummary>) -> Results<'a> {
        Results {
            image_id: "sha256:i",
            tags,
            pushed: &[],
            transfer,
            scan_notes: None,
            size: None,
            elapsed: Duration::ZERO,
        }
    }

    /// Parses the `name<<DELIMITER` form back, checking every value is closed by its own line.
    fn parse_outputs(text: &str) -> Vec<(String, String)> {
        let mut outputs = Vec::new();
        let mut lines = text.lines();
        while let Some(head) = lines.next() {
            let (name, delimiter) = head.split_once("<<").expect("name<<DELIMITER");
            let mut value = Vec::new();
            loop {
                let line = lines.next().expect("the value's delimiter line");
                if line == delimiter {
                    break;
                }
                value.push(line);
            }
            outputs.push((name.to_owned(), value.join("\n")));
        }
        outputs
    }

    #[test]
    fn github_outputs_use_the_multiline_form_with_fresh_delimiters() {
        let text = github_outputs(&[("digest", "sha256:abc"), ("tags", "a:1\nb:2")]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("digest<<ghadelimiter_"));
        let delimiter = lines[0].trim_start_matches("digest<<");
        assert_eq!(delimiter.len(), "ghadelimiter_".len() + 25);
        assert_eq!(lines[1], "sha256:abc");
        assert_eq!(lines[2], delimiter);
        assert!(lines[3].starts_with("tags<<ghadelimiter_"));
        assert_ne!(lines[3].trim_start_matches("tags<<"), delimiter);
        assert_eq!(&lines[4..6], ["a:1", "b:2"]);
        assert_eq!(lines[6], lines[3].trim_start_matches("tags<<"));
    }

    #[test]
    fn values_with_new_lines_and_delimiter_like_lines_round_trip() {
        let hostile = "x\nghadelimiter_\nevil=1";
        let text = github_outputs(&[("tags", hostile)]);
        assert_eq!(parse_outputs(&text), [("tags".into(), hostile.into())]);
    }

    #[test]
    fn a_plain_build_reports_the_local_image_and_tags() {
        let tags = vec!["app:1".to_owned(), "app:latest".to_owned()];
        let transfer = TransferSummary {
            files_sent: 2,
            bytes_sent: 10,
            files_unchanged: 1,
        };
        let results = plain(&tags, Some(&transfer));
        let meta = metadata(&results);
        assert_eq!(meta["containerimage.digest"], "sha256:i");
        assert_eq!(meta["containerimage.config.digest"], "sha256:i");
        assert_eq!(meta["image.name"], "app:1,app:latest");
        assert_eq!(meta["shipimg.context.transfer"]["files_sent"], 2);
        assert!(meta.get("shipimg.scan.allowed").is_none(), "{meta}");

        let outputs = step_outputs(&results);
        let names: Vec<&str> = outputs.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["digest", "imageid", "tags", "metadata"]);
        assert_eq!(outputs[0].1, "sha256:i");
        assert_eq!(outputs[1].1, "sha256:i");
        assert_eq!(outputs[2].1, "app:1\napp:latest");
        let parsed: serde_json::Value = serde_json::from_str(&outputs[3].1).unwrap();
        assert_eq!(parsed, meta);
    }

    #[test]
    fn a_push_reports_the_registry_digests_and_the_scan() {
        let pushed = [published("r/x:1.0"), published("r/x:abc")];
        let results = Results {
            pushed: &pushed,
            scan_notes: Some(&[]),
            ..plain(&[], None)
        };
        let meta = metadata(&results);
        assert_eq!(meta["containerimage.digest"], "sha256:d");
        assert_eq!(meta["containerimage.config.digest"], "sha256:c");
        assert_eq!(meta["containerimage.descriptor"]["size"], 512);
        assert_eq!(meta["image.name"], "r/x:1.0,r/x:abc");
        assert_eq!(meta["shipimg.scan.allowed"], serde_json::json!([]));
        let outputs: std::collections::BTreeMap<_, _> =
            step_outputs(&results).into_iter().collect();
        assert_eq!(outputs["digest"], "sha256:d");
        assert_eq!(outputs["imageid"], "sha256:i");
        assert_eq!(outputs["image"], "r/x@sha256:d");
        assert_eq!(outputs["tags"], "r/x:1.0\nr/x:abc");
    }

    #[test]
    fn the_metadata_output_is_the_metadata_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = ResultFiles {
            metadata_file: Some(dir.path().join("meta.json")),
            github_output: Some(dir.path().join("github_output")),
            step_summary: Some(dir.path().join("summary")),
        };
        std::fs::write(dir.path().join("github_output"), "earlier=kept\n").unwrap();
        let tags = vec!["app:1".to_owned()];
        write_results(&files, &plain(&tags, None)).unwrap();
        let file = std::fs::read_to_string(dir.path().join("meta.json")).unwrap();
        let text = std::fs::read_to_string(dir.path().join("github_output")).unwrap();
        let rest = text.strip_prefix("earlier=kept\n").expect("appended");
        let outputs: std::collections::BTreeMap<_, _> = parse_outputs(rest).into_iter().collect();
        assert_eq!(outputs["metadata"], file);
        assert_eq!(outputs["tags"], "app:1");
        // Nothing was pushed: no job summary claims a push.
        assert!(!dir.path().join("summary").exists());
    }

    #[test]
    fn summary_is_a_markdown_table() {
        let text = step_summary(
            &[published("r/x:1.0"), published("r/x:abc")],
            Some(2048),
            Duration::from_millis(1500),
        );
        assert!(
            text.contains("| `r/x` | `1.0`, `abc` | `sha256:d` | 2.0 KiB | 1.5 s |"),
            "{text}"
        );
    }

    #[test]
    fn files_shipimg_writes_are_masked_as_the_terminal_is() {
        let secret = "written-file-canary-S3cr3t";
        crate::redact::register_text(&secrecy::SecretString::from(secret));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("meta.json");
        write_file(&file, &format!("{{\"image.name\": \"r/x:{secret}\"}}"), "x").unwrap();
        let output = dir.path().join("github_output");
        append(&output, &format!("tags=r/x:{secret}\n"), "y").unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "{\"image.name\": \"r/x:****\"}"
        );
        assert_eq!(std::fs::read_to_string(&output).unwrap(), "tags=r/x:****\n");
    }
}
