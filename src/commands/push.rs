//! Pushing: `shipimg push IMAGE...`, and the `--push` half of `shipimg build`. Pushes each
//! reference with retries, shows per-layer progress, and reports what was pushed to people,
//! scripts (`-q`: `name@sha256:...` lines), `--metadata-file`, and GitHub Actions.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cli::PushArgs;
use crate::credentials::held::{self, Held, ShownName};
use crate::credentials::index::IndexEnv;
use crate::credentials::registry::ResolvedLogin;
use crate::engine::Engine;
use crate::engine::endpoint::{EndpointEnv, resolve_endpoint};
use crate::engine::push::PushEvent;
use crate::error::{CliError, ExitStatus};
use crate::printer::Printer;
use crate::publish::{LocalIdentity, PublishEvent, Published, RetryPolicy, publish};
use crate::settings::{GlobalSettings, ProgressSetting, PushSettings};

/// `shipimg push IMAGE...`: scans each image with every secret this invocation can find, as
/// `build --push` does, then pushes.
pub async fn run(
    args: &PushArgs,
    global: &GlobalSettings,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let var = |name: &str| std::env::var(name).ok();
    let project = crate::config::load(std::path::Path::new("."))?;
    let settings = PushSettings::resolve(args, global, &var, &project.config)?;
    let index_env = IndexEnv {
        var: &var,
        home: std::env::home_dir(),
    };
    let (index, broken) = held::implicit_index(&index_env)?;
    if let Some(why) = broken {
        printer.warn(&format!(
            "{why} (ignored: its passwords are not looked for in the images)"
        ));
    }
    let logins: Vec<(String, ResolvedLogin)> = held::push_logins(&settings.references, &var)
        .await?
        .into_iter()
        .filter_map(|(host, login)| login.map(|login| (host, login)))
        .collect();
    let names: Vec<ShownName<'_>> = settings
        .references
        .iter()
        .map(|reference| ShownName {
            given_as: "an IMAGE argument".into(),
            value: reference,
        })
        .collect();
    held::check_names(&names, &crate::redact::current())?;

    let endpoint = resolve_endpoint(&EndpointEnv::from_process())?;
    let engine = Engine::connect(endpoint).await.map_err(CliError::from)?;
    // Each reference may name another image: each is scanned, once.
    let mut images: Vec<(String, &str)> = Vec::new();
    for reference in &settings.references {
        let inspect = engine.docker().inspect_image(reference).await.map_err(|_| {
            CliError::user(format!("no image `{reference}` in the engine"))
                .with_hint("build it first (`shipimg build -t NAME`), or check the name with `docker images`")
        })?;
        let id = inspect.id.unwrap_or_else(|| reference.clone());
        if !images.iter().any(|(known, _)| known == &id) {
            images.push((id, reference));
        }
    }
    let mut scan_notes = Vec::new();
    if settings.scan {
        let secrets = held::scan_secrets(&Held {
            secrets: &[],
            index: index.as_ref(),
            logins: &logins,
        });
        for (id, reference) in &images {
            let options = crate::scan::ScanOptions {
                allow: settings.scan_allow.clone(),
                explain: Vec::new(),
            };
            let notes = super::scan::scan_and_report(
                &engine,
                id,
                reference,
                &secrets,
                options,
                super::scan::ScanFor::Push,
                printer,
            )
            .await?;
            scan_notes.extend(notes);
        }
    } else {
        printer.warn(
            "--no-scan: pushing without the leak scan; nothing proves these images carry no credential",
        );
    }
    let image = LocalImage {
        id: images.first().map(|(id, _)| id.clone()).unwrap_or_default(),
        size: None,
        scan_notes,
    };
    push_and_report(&engine, &settings, &image, printer).await
}

/// The image being pushed, as the engine knows it.
pub struct LocalImage {
    /// The engine's image id, `sha256:...`: the config digest on the classic image store, the
    /// manifest (or index) digest on the containerd image store.
    pub id: String,
    /// Its size in bytes, when known.
    pub size: Option<u64>,
    /// What its leak scan let through: recorded in `--metadata-file`.
    pub scan_notes: Vec<crate::scan::Note>,
}

/// Pushes every reference in `settings`, then reports. Partial success is a failure that names
/// what made it, as the registry shows it.
pub async fn push_and_report(
    engine: &Engine,
    settings: &PushSettings,
    image: &LocalImage,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let size = match image.size {
        Some(size) => Some(size),
        None if !image.id.is_empty() => engine
            .docker()
            .inspect_image(&image.id)
            .await
            .ok()
            .and_then(|i| i.size)
            .map(|s| s.max(0) as u64),
        None => None,
    };
    let api = engine.api();
    let started = Instant::now();
    let var = |name: &str| std::env::var(name).ok();
    let mut view = PushView::new(settings.progress);
    let mut pushed: Vec<Published> = Vec::new();
    let mut failed: Vec<(String, CliError)> = Vec::new();
    // Each image's config digest, once the registry has given it for one of its tags.
    let mut configs: Vec<(String, String)> = Vec::new();
    for reference in &settings.references {
        let mut identity = local_identity(engine, reference, image).await;
        identity.config_digest = configs
            .iter()
            .find(|(id, _)| id == &identity.id)
            .map(|(_, config)| config.clone());
        let mut on_event = |event: PublishEvent| view.event(&event);
        match publish(
            api,
            reference,
            &identity,
            settings.retry,
            &var,
            &mut on_event,
        )
        .await
        {
            Ok(published) => {
                configs.push((identity.id, published.config_digest.clone()));
                pushed.push(published);
            }
            Err(err) => {
                view.failed(reference, &err);
                failed.push((reference.clone(), err));
            }
        }
    }
    view.finish();
    for p in &pushed {
        if let Some(err) = &p.despite {
            printer.warn(&format!(
                "the engine's push of {} ended with `{err}`, but the registry holds this image at that tag",
                p.reference
            ));
        }
    }

    if !pushed.is_empty() {
        write_outputs(settings, image, size, &pushed, started.elapsed())?;
    }
    if settings.progress == ProgressSetting::Quiet {
        for p in &pushed {
            printer.stdout_line(&format!("{}@{}", p.name, p.digest));
        }
    } else {
        for p in &pushed {
            printer.status("Pushed", &format!("{}@{}", p.reference, p.digest));
        }
    }
    if failed.is_empty() {
        return Ok(ExitStatus::Success);
    }
    let made_it = if pushed.is_empty() {
        "no tag was pushed".to_owned()
    } else {
        format!(
            "pushed {} of {}: {}",
            pushed.len(),
            settings.references.len(),
            pushed
                .iter()
                .map(|p| p.reference.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let (first_ref, first_err) = failed.into_iter().next().expect("not empty");
    let _ = first_ref;
    let hint = first_err.hint().map(str::to_owned);
    let cli = CliError::user(format!("{} ({made_it})", first_err.message()));
    Err(match hint {
        Some(hint) => cli.with_hint(hint),
        None => cli,
    }
    .into())
}

/// What `reference` names in the engine, for the registry to be asked about: its id and
/// platform. The image being pushed stands in when the engine cannot say (the push then fails on
/// its own).
async fn local_identity(engine: &Engine, reference: &str, image: &LocalImage) -> LocalIdentity {
    let Ok(inspect) = engine.docker().inspect_image(reference).await else {
        return LocalIdentity {
            id: image.id.clone(),
            ..LocalIdentity::default()
        };
    };
    let platform = match (inspect.os, inspect.architecture) {
        (Some(os), Some(architecture)) => Some(crate::registry::Platform {
            os,
            architecture,
            variant: inspect.variant.filter(|v| !v.is_empty()),
        }),
        _ => None,
    };
    LocalIdentity {
        id: inspect.id.unwrap_or_else(|| image.id.clone()),
        platform,
        config_digest: None,
    }
}

/// `--metadata-file`, `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`. The metadata keys are
/// BuildKit's: `containerimage.digest` is the manifest digest the registry holds,
/// `containerimage.config.digest` the config blob that manifest names (both from the registry,
/// as they differ from the engine's image id on one store or the other); GitHub's `imageid` is
/// the engine's image id, as `docker/build-push-action` gives it.
fn write_outputs(
    settings: &PushSettings,
    image: &LocalImage,
    size: Option<u64>,
    pushed: &[Published],
    elapsed: Duration,
) -> Result<(), CliError> {
    let first = &pushed[0];
    if let Some(path) = &settings.metadata_file {
        let metadata = serde_json::json!({
            "containerimage.config.digest": first.config_digest,
            "containerimage.digest": first.digest,
            "containerimage.descriptor": {
                "mediaType": first.media_type,
                "digest": first.digest,
                "size": first.size,
            },
            "image.name": pushed.iter().map(|p| p.reference.as_str()).collect::<Vec<_>>().join(","),
            "shipimg.scan.allowed": scan_notes_json(&image.scan_notes),
        });
        let text = serde_json::to_string_pretty(&metadata).expect("json value serialises");
        write_output(path, &text, "--metadata-file")?;
    }
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
        let tags: Vec<&str> = pushed.iter().map(|p| p.reference.as_str()).collect();
        let text = github_outputs(&[
            ("digest", first.digest.as_str()),
            ("imageid", image.id.as_str()),
            ("image", &format!("{}@{}", first.name, first.digest)),
            ("tags", &tags.join("\n")),
        ]);
        append(&path, &text, "GITHUB_OUTPUT")?;
    }
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        append(
            &path,
            &step_summary(pushed, size, elapsed),
            "GITHUB_STEP_SUMMARY",
        )?;
    }
    Ok(())
}

/// The scan's notes for `--metadata-file`: each credential found by its shape that did not stop
/// the push, where it is and what let it through (`allowed_by` an allow-list entry, or
/// `third_party` with the package list that vouches for it).
fn scan_notes_json(notes: &[crate::scan::Note]) -> serde_json::Value {
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

/// Writes a file shipimg reports into (`--iidfile`, `--metadata-file`), masked as the terminal
/// is: whatever a script or a CI log reads from it never holds a registered secret.
pub fn write_output(path: &Path, text: &str, what: &str) -> Result<(), CliError> {
    std::fs::write(path, crate::redact::redact(text)).map_err(|err| {
        CliError::user(format!(
            "failed to write {what} `{}`: {err}",
            path.display()
        ))
    })
}

/// Appends to a CI file (`GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`), masked as [`write_output`].
fn append(path: &std::ffi::OsStr, text: &str, what: &str) -> Result<(), CliError> {
    let text = crate::redact::redact(text);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|err| {
            CliError::user(format!(
                "failed to open {what} `{}`: {err}",
                path.to_string_lossy()
            ))
        })?;
    file.write_all(text.as_bytes()).map_err(|err| {
        CliError::user(format!(
            "failed to write {what} `{}`: {err}",
            path.to_string_lossy()
        ))
    })
}

/// GitHub's multi-line-safe `name<<DELIMITER` form, with a delimiter no value contains.
pub fn github_outputs(outputs: &[(&str, &str)]) -> String {
    let mut text = String::new();
    for (name, value) in outputs {
        let mut delimiter = format!("ghadelimiter_{}", crate::session::random_id());
        while value.contains(&delimiter) {
            delimiter = format!("ghadelimiter_{}", crate::session::random_id());
        }
        text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
    }
    text
}

/// A short markdown table for the job summary.
pub fn step_summary(pushed: &[Published], size: Option<u64>, elapsed: Duration) -> String {
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
            size.map(super::context::human_bytes)
                .unwrap_or_else(|| "?".into()),
            elapsed.as_secs_f64()
        ));
    }
    text.push('\n');
    text
}

/// Shows the pushes: lines in plain mode, a redrawn per-layer view in tty mode, events in json
/// mode, nothing in quiet mode.
struct PushView {
    mode: ProgressSetting,
    layers: Vec<LayerLine>,
    drawn: usize,
    last_draw: Option<Instant>,
}

struct LayerLine {
    reference: String,
    id: String,
    status: String,
    current: Option<u64>,
    total: Option<u64>,
}

impl PushView {
    fn new(mode: ProgressSetting) -> Self {
        let mode = match mode {
            ProgressSetting::Auto if std::io::IsTerminal::is_terminal(&std::io::stderr()) => {
                ProgressSetting::Tty
            }
            ProgressSetting::Auto => ProgressSetting::Plain,
            other => other,
        };
        Self {
            mode,
            layers: Vec::new(),
            drawn: 0,
            last_draw: None,
        }
    }

    fn event(&mut self, event: &PublishEvent) {
        match self.mode {
            ProgressSetting::Quiet => {}
            ProgressSetting::Json => json_event(event),
            ProgressSetting::Plain | ProgressSetting::Auto => plain_event(event),
            ProgressSetting::Tty => self.tty_event(event),
        }
    }

    fn failed(&mut self, reference: &str, err: &CliError) {
        if self.mode == ProgressSetting::Json {
            emit_json(serde_json::json!({
                "type": "push-failed", "reference": reference, "error": err.message(),
            }));
        }
    }

    fn tty_event(&mut self, event: &PublishEvent) {
        match event {
            PublishEvent::Push {
                reference,
                event:
                    PushEvent::Layer {
                        id,
                        status,
                        current,
                        total,
                    },
            } => {
                match self
                    .layers
                    .iter_mut()
                    .find(|l| &l.id == id && &l.reference == reference)
                {
                    Some(line) => {
                        line.status = status.clone();
                        line.current = *current;
                        line.total = *total;
                    }
                    None => self.layers.push(LayerLine {
                        reference: reference.clone(),
                        id: id.clone(),
                        status: status.clone(),
                        current: *current,
                        total: *total,
                    }),
                }
                let due = self
                    .last_draw
                    .is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
                if due {
                    self.draw();
                }
            }
            other => {
                self.draw();
                self.drawn = 0;
                plain_event(other);
            }
        }
    }

    fn draw(&mut self) {
        let mut err = anstream::stderr().lock();
        if self.drawn > 0 {
            let _ = write!(err, "\x1b[{}A", self.drawn);
        }
        for line in &self.layers {
            let bar = match (line.current, line.total) {
                (Some(current), Some(total)) if total > 0 => {
                    let filled = ((current as f64 / total as f64) * 20.0).round() as usize;
                    format!(
                        " [{}{}] {}/{}",
                        "=".repeat(filled.min(20)),
                        " ".repeat(20 - filled.min(20)),
                        super::context::human_bytes(current),
                        super::context::human_bytes(total)
                    )
                }
                _ => String::new(),
            };
            let _ = writeln!(err, "\x1b[2K{}: {}{bar}", line.id, line.status);
        }
        self.drawn = self.layers.len();
        self.last_draw = Some(Instant::now());
    }

    fn finish(&mut self) {
        if self.mode == ProgressSetting::Tty {
            self.draw();
        }
    }
}

fn plain_event(event: &PublishEvent) {
    let mut err = anstream::stderr().lock();
    let line = match event {
        PublishEvent::Started {
            reference,
            login_source,
        } => format!(
            "push {reference}: login from {}",
            login_source.as_deref().unwrap_or("nowhere (anonymous)")
        ),
        PublishEvent::Push {
            reference,
            event: PushEvent::Layer { id, status, .. },
        } => {
            // Byte counts change many times a second; a line per state is enough for logs.
            if status == "Pushing" {
                return;
            }
            format!("push {reference}: {id} {status}")
        }
        PublishEvent::Push {
            reference,
            event: PushEvent::Status(status),
        } => format!("push {reference}: {status}"),
        PublishEvent::Retrying {
            reference,
            attempt,
            of,
            delay,
            reason,
        } => format!(
            "push {reference}: attempt {attempt} of {of} in {:.1} s after: {reason}",
            delay.as_secs_f64()
        ),
        PublishEvent::Done { reference, digest } => format!("push {reference}: done, {digest}"),
    };
    let _ = writeln!(err, "{}", crate::redact::redact(&line));
}

fn json_event(event: &PublishEvent) {
    let value = match event {
        PublishEvent::Started {
            reference,
            login_source,
        } => {
            serde_json::json!({"type": "push-started", "reference": reference, "login_source": login_source})
        }
        PublishEvent::Push {
            reference,
            event:
                PushEvent::Layer {
                    id,
                    status,
                    current,
                    total,
                },
        } => {
            serde_json::json!({"type": "push-layer", "reference": reference, "layer": id, "status": status, "current": current, "total": total})
        }
        PublishEvent::Push {
            reference,
            event: PushEvent::Status(status),
        } => serde_json::json!({"type": "push-status", "reference": reference, "text": status}),
        PublishEvent::Retrying {
            reference,
            attempt,
            of,
            delay,
            reason,
        } => {
            serde_json::json!({"type": "push-retry", "reference": reference, "attempt": attempt, "of": of, "delay": delay.as_secs_f64(), "reason": reason})
        }
        PublishEvent::Done { reference, digest } => {
            serde_json::json!({"type": "push-result", "reference": reference, "digest": digest})
        }
    };
    emit_json(value);
}

fn emit_json(value: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", crate::redact::redact(&value.to_string()));
    let _ = out.flush();
}

/// The retry flags as a policy.
pub fn retry_policy(attempts: u32, max_delay_secs: f64) -> RetryPolicy {
    RetryPolicy {
        attempts: attempts.max(1),
        base_delay: Duration::from_secs(1).min(Duration::from_secs_f64(max_delay_secs.max(0.0))),
        max_delay: Duration::from_secs_f64(max_delay_secs.max(0.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_outputs_use_the_multiline_form() {
        let text = github_outputs(&[("digest", "sha256:abc"), ("tags", "a:1\nb:2")]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("digest<<ghadelimiter_"));
        let delimiter = lines[0].trim_start_matches("digest<<");
        assert_eq!(lines[1], "sha256:abc");
        assert_eq!(lines[2], delimiter);
        assert!(lines[3].starts_with("tags<<ghadelimiter_"));
        assert_eq!(&lines[4..6], ["a:1", "b:2"]);
        assert_eq!(lines[6], lines[3].trim_start_matches("tags<<"));
    }

    #[test]
    fn summary_is_a_markdown_table() {
        let p = |reference: &str| Published {
            reference: reference.into(),
            name: "r/x".into(),
            digest: "sha256:d".into(),
            config_digest: "sha256:c".into(),
            despite: None,
            media_type: None,
            size: None,
            duration: Duration::ZERO,
        };
        let text = step_summary(
            &[p("r/x:1.0"), p("r/x:abc")],
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
        write_output(&file, &format!("{{\"image.name\": \"r/x:{secret}\"}}"), "x").unwrap();
        let output = dir.path().join("github_output");
        append(output.as_os_str(), &format!("tags=r/x:{secret}\n"), "y").unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "{\"image.name\": \"r/x:****\"}"
        );
        assert_eq!(std::fs::read_to_string(&output).unwrap(), "tags=r/x:****\n");
    }

    #[test]
    fn retry_flags_make_a_policy() {
        let policy = retry_policy(0, 0.5);
        assert_eq!(policy.attempts, 1);
        assert_eq!(policy.max_delay, Duration::from_millis(500));
        assert_eq!(policy.base_delay, Duration::from_millis(500));
    }
}
