//! `shipimg build`: resolve the settings, run the build through [`crate::ops::build`], and with
//! `--push` scan, tag and push it. Ctrl-C is listened for at every step that waits on the
//! engine.

use crate::cli::BuildArgs;
use crate::config::TemplateValues;
use crate::error::{CliError, ExitStatus};
use crate::ops::{build, push};
use crate::printer::Printer;
use crate::settings::{BuildSettings, GlobalSettings};

/// Builds the image, and pushes it with `--push` once the scan passed.
pub async fn run(
    args: &BuildArgs,
    global: &GlobalSettings,
    printer: &Printer,
) -> Result<ExitStatus, CliError> {
    let env = |name: &str| std::env::var(name).ok();
    let project = crate::config::load(&args.path)?;
    let values = |templates: &[String]| {
        TemplateValues::gather(
            &args.path,
            &project,
            templates,
            &env,
            std::time::SystemTime::now(),
        )
    };
    let settings = BuildSettings::resolve(args, global, &env, &project, &values)?;

    // Secrets and logins first: a missing one fails before anything talks to the engine.
    let checked = build::check(settings, printer).await?;
    if checked.settings.lint_only {
        return Ok(ExitStatus::Success);
    }
    let mut prepared = build::prepare(checked, printer).await?;
    let built = build::build(&mut prepared, interrupted(), printer).await?;

    let Some(push) = &prepared.settings().push else {
        build::write_local_results(&prepared, &built)?;
        return Ok(ExitStatus::Success);
    };
    // Nothing reaches the registry unless the image is clean: exit 3 otherwise, with the image
    // untagged and no result file written. The build's Ctrl-C handler replaced the default
    // one: the scan and the push listen for it too.
    let scan_notes = tokio::select! {
        scanned = build::scan(&prepared, &built, printer) => scanned?,
        _ = interrupted() => {
            return Err(CliError::user("interrupted during the leak scan: nothing was pushed")
                .with_status(ExitStatus::Interrupted));
        }
    };
    build::tag(&prepared, &built).await?;
    let image = push::LocalImage {
        id: built.image_id,
        size: None,
        scan_notes: Some(scan_notes),
        transfer: built.transfer,
    };
    tokio::select! {
        pushed = push::push_and_report(prepared.engine(), push, &image, printer) => pushed,
        _ = interrupted() => {
            Err(CliError::user("interrupted during the push: some tags may not have reached the registry")
                .with_hint(format!("push again with `shipimg push {}`", push.references.join(" ")))
                .with_status(ExitStatus::Interrupted))
        }
    }
}

/// Completes on Ctrl-C; never, when the handler cannot be installed.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
