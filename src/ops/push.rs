//! Pushing as an operation: every reference with retries, per-layer progress, and what was
//! pushed reported to people, to scripts (`-q`: `name@sha256:...` lines), and through
//! [`super::results`] to `--metadata-file` and GitHub Actions. `shipimg push` and `build --push`
//! both end here; `shipimg push` starts at [`scan_and_push`].

use std::time::Instant;

use crate::credentials::held::{self, Held, ShownName};
use crate::credentials::index::IndexEnv;
use crate::engine::Engine;
use crate::engine::endpoint::{EndpointEnv, resolve_endpoint};
use crate::error::{CliError, ExitStatus};
use crate::login::Login;
use crate::progress::{ProgressMode, Sinks, Terminal};
use crate::publish::{LocalIdentity, PublishEvent, Published, publish};
use crate::session::filesync::TransferSummary;
use crate::settings::PushSettings;

use super::Report;
use super::results::{ResultFiles, Results, remove_stale_results, write_results};
use super::scan::{ScanFor, scan_and_report};

/// `shipimg push IMAGE...`: finds every secret this invocation can (the implicit index netrc,
/// the registries' logins), refuses a public name that holds one, scans each image once, as
/// `build --push` does, then pushes every reference.
pub async fn scan_and_push(
    settings: &PushSettings,
    out: &dyn Report,
) -> Result<ExitStatus, CliError> {
    remove_stale_results(&[(settings.metadata_file.as_deref(), "--metadata-file")])?;
    let var = |name: &str| std::env::var(name).ok();
    let index_env = IndexEnv {
        var: &var,
        home: std::env::home_dir(),
    };
    let (index, broken) = held::implicit_index(&index_env)?;
    if let Some(why) = broken {
        out.warn(
            &format!("{why} (ignored: its passwords are not looked for in the images)"),
            None,
        );
    }
    let logins: Vec<(String, Login)> = held::push_logins(&settings.references, &var)
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
            let notes = scan_and_report(
                &engine,
                id,
                reference,
                &secrets,
                options,
                ScanFor::Push,
                out,
            )
            .await?;
            notes_of_all.extend(notes);
        }
        scan_notes = Some(notes_of_all);
    } else {
        out.warn(
            "--no-scan: pushing without the leak scan; nothing proves these images carry no credential",
            None,
        );
    }
    let image = LocalImage {
        id: images.first().map(|(id, _)| id.clone()).unwrap_or_default(),
        size: None,
        scan_notes,
        transfer: None,
    };
    push_and_report(&engine, settings, &image, out).await
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
    out: &dyn Report,
) -> Result<ExitStatus, CliError> {
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
    let mut view = crate::progress::push_reporter(
        settings.progress,
        crate::redact::current(),
        Terminal::detect(),
        Sinks::std(),
    );
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
                let err = CliError::from(err);
                view.failed(reference, err.message());
                failed.push((reference.clone(), err));
            }
        }
    }
    view.finish();
    for p in &pushed {
        if let Some(err) = &p.despite {
            out.warn(
                &format!(
                    "the engine's push of {} ended with `{err}`, but the registry holds this image at that tag",
                    p.reference
                ),
                None,
            );
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
    if settings.progress == ProgressMode::Quiet {
        for p in &pushed {
            out.stdout_line(&format!("{}@{}", p.name, p.digest));
        }
    } else {
        for p in &pushed {
            out.status("Pushed", &format!("{}@{}", p.reference, p.digest));
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
    let (_, first_err) = failed.into_iter().next().expect("not empty");
    let hint = first_err.hint().map(str::to_owned);
    let cli = CliError::user(format!("{} ({made_it})", first_err.message()));
    Err(match hint {
        Some(hint) => cli.with_hint(hint),
        None => cli,
    })
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
