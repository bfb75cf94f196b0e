//! Pushing: `shipimg push IMAGE...`, and the `--push` half of `shipimg build`. Pushes each
//! reference with retries, shows per-layer progress, and reports what was pushed to people,
//! scripts (`-q`: `name@sha256:...` lines), and through [`super::results`] `--metadata-file` and
//! GitHub Actions.

use std::io::Write;
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
use crate::publish::{LocalIdentity, PublishEvent, Published, publish};
use crate::session::filesync::TransferSummary;
use crate::settings::{GlobalSettings, ProgressSetting, PushSettings};

use super::results::{ResultFiles, Results, write_results};

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
    let mut scan_notes = None;
    if settings.scan {
        let mut notes_of_all = Vec::new();
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
            notes_of_all.extend(notes);
        }
        scan_notes = Some(notes_of_all);
    } else {
        printer.warn(
            "--no-scan: pushing without the leak scan; nothing proves these images carry no credential",
        );
    }
    let image = LocalImage {
        id: images.first().map(|(id, _)| id.clone()).unwrap_or_default(),
        size: None,
        scan_notes,
        transfer: None,
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
    /// What its leak scan let through (`None`: no scan ran): recorded in the metadata.
    pub scan_notes: Option<Vec<crate::scan::Note>>,
    /// How its build context was sent, when this run built it: recorded in the metadata.
    pub transfer: Option<TransferSummary>,
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
        let files = ResultFiles::new(settings.metadata_file.clone(), &var);
        let results = Results {
            image_id: &image.id,
            tags: &[],
            pushed: &pushed,
            transfer: image.transfer.as_ref(),
            scan_notes: image.scan_notes.as_deref(),
            size,
            elapsed: started.elapsed(),
        };
        write_results(&files, &results)?;
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
                        crate::progress::human_bytes(current),
                        crate::progress::human_bytes(total)
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
