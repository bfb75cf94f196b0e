//! `shipimg push IMAGE...`: finds what the images must not carry, scans each, then pushes them
//! through [`crate::ops::push`], as `build --push` does.

use crate::cli::PushArgs;
use crate::credentials::held::{self, Held, ShownName};
use crate::credentials::index::IndexEnv;
use crate::engine::Engine;
use crate::engine::endpoint::{EndpointEnv, resolve_endpoint};
use crate::error::{CliError, ExitStatus};
use crate::login::Login;
use crate::ops::push::{LocalImage, push_and_report};
use crate::ops::scan::{ScanFor, scan_and_report};
use crate::printer::Printer;
use crate::settings::{GlobalSettings, PushSettings};

/// `shipimg push IMAGE...`: scans each image with every secret this invocation can find, as
/// `build --push` does, then pushes.
pub async fn run(
    args: &PushArgs,
    global: &GlobalSettings,
    printer: &Printer,
) -> Result<ExitStatus, CliError> {
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
