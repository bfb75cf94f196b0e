//! `shipimg build`: stage the context, open a BuildKit session holding the secrets, run the
//! build on the engine, show its progress, and write the results where asked.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use secrecy::ExposeSecret;

use crate::cli::BuildArgs;
use crate::config::TemplateValues;
use crate::context::walk::Notice;
use crate::context::{ContextPlan, archive};
use crate::credentials::held::{self, Held, ShownName};
use crate::credentials::index::{
    IndexCredentials, IndexEnv, IndexOptions, NETRC_SOURCES, Preflight, add_google_tokens,
    index_build_args, preflight, resolve_index_credentials,
};
use crate::credentials::secret_spec::SecretSource;
use crate::credentials::{LoadedSecret, read_secret_env, read_secret_file};
use crate::dockerfile::Dockerfile;
use crate::engine::Engine;
use crate::engine::build::{BuildError, BuildMessage, BuildParams, cancel_build, run_build};
use crate::engine::endpoint::{EndpointEnv, resolve_endpoint};
use crate::error::{CliError, ExitStatus};
use crate::login::Login;
use crate::printer::Printer;
use crate::progress::{self, Outcome, ProgressMode, Reporter, Sinks, Terminal};
use crate::reference::Reference;
use crate::session::filesync::{self, TransferSummary};
use crate::session::{ContextSource, Session, SessionStore};
use crate::settings::{BuildSettings, ContextTransfer, GlobalSettings};

use super::results::{ResultFiles, Results, write_file, write_results};

/// The build's reporter, shared by the stream, the ticker and the context walk.
type SharedReporter = Arc<Mutex<Box<dyn Reporter>>>;

/// How long to wait for the engine to wind a cancelled build down.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

/// Builds the image.
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
    let mut settings = BuildSettings::resolve(args, global, &env, &project, &values)?;

    // Secrets first: a missing file should fail before anything talks to the engine.
    let mut secrets: Vec<LoadedSecret> = Vec::new();
    for spec in &settings.secrets {
        let loaded = match &spec.source {
            SecretSource::File(path) => read_secret_file(&spec.id, path),
            SecretSource::Env(var) => read_secret_env(&spec.id, var),
        }?;
        crate::redact::register_bytes(&loaded.value);
        secrets.push(loaded);
    }
    let index_options = IndexOptions {
        netrc_flag: settings.netrc.clone(),
        index_urls: settings.index_urls.clone(),
    };
    let var = |name: &str| std::env::var(name).ok();
    let index_env = IndexEnv {
        var: &var,
        home: std::env::home_dir(),
    };
    let cwd = super::current_dir()?;
    let plan = ContextPlan::new(&settings.context, &cwd)?;
    // Parsed once for every check below; the lint reports a Dockerfile it cannot parse.
    let parsed = Dockerfile::parse(&plan.dockerfile_text);
    let index = match resolve_index_credentials(&index_options, &index_env) {
        Ok(index) => index,
        // A broken `$NETRC` or `~/.netrc` that nobody asked for must not stop a build that
        // mounts no netrc: the user may keep it for other tools.
        Err(err)
            if held::implicit_netrc(&index_options, &var)
                && !mounts_netrc(parsed.as_ref().ok()) =>
        {
            printer.warn(&format!(
                "{} (ignored: the Dockerfile mounts no netrc)",
                err.message()
            ));
            None
        }
        Err(err) => return Err(err),
    };
    add_index_build_args(parsed.as_ref().ok(), &mut settings, printer);
    lint_build(&plan, &settings, &secrets, index.as_ref(), printer)?;
    if settings.lint_only {
        return Ok(ExitStatus::Success);
    }
    // The default labels ask git: let it answer while we talk to the engine.
    let default_labels = {
        let dir = settings.context.dir.clone();
        let now = std::time::SystemTime::now();
        std::thread::spawn(move || crate::labels::default_labels(&dir, now))
    };
    remove_stale_results(&settings)?;
    let index = add_google_tokens(index, &settings.index_urls).await?;
    let dockerfile = parsed.map_err(|err| {
        CliError::user(format!(
            "cannot parse Dockerfile `{}`: {}",
            plan.dockerfile.display(),
            err.message
        ))
    })?;
    let netrc_mounted = check_secret_mounts(&plan, &dockerfile, index.is_some(), printer)?;

    // The registries' logins, found now so a missing one stops us before the build, and before
    // anything about the build is shown: from here every secret is registered for masking.
    // The push targets' must not be in the image either.
    let push_logins = match &settings.push {
        Some(push) => held::push_logins(&push.references, &var).await?,
        None => Vec::new(),
    };
    let base_logins =
        held::base_image_logins(&dockerfile.base_image_hosts(), &settings.tags, &var).await?;
    // No name the registry or the image shows may hold a secret.
    held::check_names(&shown_names(args, &settings), &crate::redact::current())?;

    describe_plan(&settings, &plan, &cwd, printer);
    if let Some(index) = &index {
        describe_index_credentials(index, &settings.index_urls, printer);
        if netrc_mounted {
            for warning in &index.warnings {
                printer.warn_with_hint(&warning.message, &warning.hint);
            }
            let text = index.netrc.to_secret_text();
            let value = secrecy::SecretSlice::from(text.expose_secret().as_bytes().to_vec());
            secrets.push(LoadedSecret {
                id: "netrc".into(),
                source: index.source.clone(),
                value: Arc::new(value),
            });
        }
    }
    for (host, login) in &push_logins {
        let line = match login {
            Some(login) => format!("registry {host} from {} (push)", login.source),
            None => format!("registry {host}: no login found, pushing anonymously"),
        };
        printer.status("Credentials", &line);
    }
    for (host, login) in &base_logins {
        printer.status(
            "Credentials",
            &format!("registry {host} from {} (base images)", login.source),
        );
    }
    for url in &settings.index_urls {
        if let Preflight::Unreachable(why) = preflight(url, index.as_ref()).await? {
            printer.warn(&format!(
                "could not check the package index `{url}` from here ({why}); the build's network may still reach it"
            ));
        }
    }

    let endpoint = resolve_endpoint(&EndpointEnv::from_process())?;
    let engine = Engine::connect(endpoint).await.map_err(CliError::from)?;
    engine.require_buildkit()?;
    let api = engine.api().clone();

    for secret in &secrets {
        tracing::debug!(id = %secret.id, source = %secret.source, "secret for the build");
    }
    let mut store = SessionStore::default();
    for secret in &secrets {
        store
            .secrets
            .insert(secret.id.clone(), Arc::clone(&secret.value));
    }
    // BuildKit asks for the base images' logins over the session when a registry wants one.
    store.serve_logins(&base_logins);
    let logins: Vec<(String, Login)> = push_logins
        .into_iter()
        .filter_map(|(host, login)| login.map(|login| (host, login)))
        .chain(base_logins)
        .collect();
    let scan_secrets = held::scan_secrets(&Held {
        secrets: &secrets,
        index: index.as_ref(),
        logins: &logins,
    });
    let redactor = crate::redact::current();
    // Errors the engine sends back can quote a secret too (a URL with a password).
    let error_redactor = redactor.clone();
    // The context over the session unless asked otherwise: the engine keeps its copy between
    // builds and asks only for changed files.
    let plan = Arc::new(plan);
    // Made before the context is walked: what the walk has to say goes through it.
    let mode = super::push::progress_mode(settings.progress);
    let mut sinks = Sinks::std();
    if settings.push.is_some() && mode == ProgressMode::Quiet {
        // With --push, quiet stdout holds exactly the pushed `name@sha256:...` lines.
        sinks.stdout = Box::new(std::io::sink());
    }
    let reporter: SharedReporter = Arc::new(Mutex::new(progress::reporter(
        mode,
        redactor,
        Terminal::detect(),
        sinks,
    )));
    // Every engine `require_buildkit` accepts (a Linux one) can pull it.
    let sync_source = match settings.context_transfer {
        ContextTransfer::Sync => Some(context_source(&plan, &reporter)),
        ContextTransfer::Tar => None,
    };
    if let Some(source) = &sync_source {
        store.files = Some(source.clone());
        let node = filesync::node_id(filesync::node_id_dir(&var).as_deref());
        store.shared_key = Some(filesync::shared_key(&plan.dir, &node));
    }
    let session = Session::start(&api, store).await?;

    let params = BuildParams {
        // With --push the tags are set only once the scan passed: a refused image is never
        // named as the push target, and a name that pointed at an earlier image keeps it.
        tags: match &settings.push {
            Some(_) => Vec::new(),
            None => settings.tags.clone(),
        },
        dockerfile: match &sync_source {
            Some(source) => source.dockerfile_name(),
            None => plan.dockerfile_name.clone(),
        },
        target: settings.target.clone(),
        build_args: settings.build_args.clone(),
        labels: crate::labels::merge(&settings.labels, default_labels.join().unwrap_or_default()),
        network: settings.network.clone(),
        no_cache: settings.no_cache,
        pull: settings.pull,
        platform: settings.platform.clone(),
        session_id: session.id().to_owned(),
        build_id: crate::random::session_id(),
        context_from_session: sync_source.is_some(),
    };

    let (body, context_task) = match &sync_source {
        // The engine pulls the context over the session: the body stays empty.
        Some(_) => (futures_util::stream::empty().boxed(), None),
        None => {
            let (body, task) = stream_tar(Arc::clone(&plan), &reporter);
            (body, Some(task))
        }
    };

    let ticker_reporter = Arc::clone(&reporter);
    let ticker = tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(100));
        loop {
            interval.tick().await;
            if let Ok(mut r) = ticker_reporter.lock() {
                r.tick();
            }
        }
    });

    let message_reporter = Arc::clone(&reporter);
    let mut on_message = move |message: BuildMessage| {
        let Ok(mut r) = message_reporter.lock() else {
            return;
        };
        match message {
            BuildMessage::Status(status) => r.status(&status),
            BuildMessage::Stream(text) => {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    r.stream_line(line);
                }
            }
        }
    };
    let build = run_build(&api, &params, body, &mut on_message);
    tokio::pin!(build);
    let (result, interrupted) = tokio::select! {
        result = &mut build => (result, false),
        _ = tokio::signal::ctrl_c() => {
            tracing::debug!(build_id = %params.build_id, "interrupted: cancelling the build");
            if let Some(source) = &sync_source {
                source.cancel();
            }
            let _ = cancel_build(&api, &params.build_id).await;
            let result = tokio::time::timeout(CANCEL_GRACE, &mut build)
                .await
                .unwrap_or(Err(BuildError::Failed { message: "cancelled".into() }));
            (result, true)
        }
    };
    ticker.abort();
    session.close();
    let context_result = match context_task {
        Some(task) => super::joined(task.await)?.map(drop),
        None => sync_source
            .as_ref()
            .and_then(ContextSource::take_failure)
            .map_or(Ok(()), Err),
    };

    // The reporter's lock is released before anything else is awaited.
    let image_id = {
        let mut reporter = reporter.lock().unwrap_or_else(|p| p.into_inner());
        if interrupted {
            let message = "build cancelled (interrupted)".to_owned();
            reporter.finish(&Outcome::Failed { message });
            return Err(
                CliError::user("build cancelled: interrupted").with_status(ExitStatus::Interrupted)
            );
        }
        let image_id = match (result, context_result) {
            (Ok(image_id), Ok(_)) => image_id,
            // A context failure is the cause of whatever the engine said after it.
            (_, Err(err)) => {
                reporter.finish(&Outcome::Failed {
                    message: crate::error::chain(&err),
                });
                return Err(err.into());
            }
            (Err(err), Ok(_)) => {
                let message = err.to_string();
                reporter.finish(&Outcome::Failed {
                    message: message.clone(),
                });
                let cli = build_error(err, reporter.state().failure())
                    .map_text(|text| error_redactor.redact(text).into_owned());
                return Err(cli);
            }
        };
        reporter.finish(&Outcome::Built {
            image_id: image_id.clone(),
            reference: settings.tags.first().cloned(),
        });
        image_id
    };
    let transfer = sync_source.as_ref().map(ContextSource::summary);
    if let Some(transfer) = &transfer {
        tracing::debug!(?transfer, "context transfer");
        printer.status("Context", &describe_transfer(transfer));
    }

    let Some(push) = &settings.push else {
        write_iidfile(&settings, &image_id)?;
        let files = ResultFiles::new(settings.metadata_file.clone(), &var);
        let results = Results {
            image_id: &image_id,
            tags: &settings.tags,
            pushed: &[],
            transfer: transfer.as_ref(),
            scan_notes: None,
            size: None,
            elapsed: Duration::ZERO,
        };
        write_results(&files, &results)?;
        return Ok(ExitStatus::Success);
    };
    // Nothing reaches the registry unless the image is clean: exit 3 otherwise, with the image
    // untagged and no result file written.
    let options = crate::scan::ScanOptions {
        allow: push.scan_allow.clone(),
        explain: Vec::new(),
    };
    let scan = super::scan::scan_and_report(
        &engine,
        &image_id,
        &push.references[0],
        &scan_secrets,
        options,
        super::scan::ScanFor::Push,
        printer,
    );
    // The build's Ctrl-C handler replaced the default one: the scan and the push must listen
    // for it too, or an interrupt would be ignored from here on.
    let scanned = tokio::select! {
        scanned = scan => scanned?,
        _ = tokio::signal::ctrl_c() => {
            return Err(CliError::user("interrupted during the leak scan: nothing was pushed")
                .with_status(ExitStatus::Interrupted));
        }
    };
    for reference in &push.references {
        engine
            .tag_image(
                &image_id,
                &Reference::parse_name_tag(reference).map_err(CliError::from)?,
            )
            .await?;
    }
    // The metadata and step outputs wait for the push, which knows the registry's digests.
    write_iidfile(&settings, &image_id)?;
    let image = super::push::LocalImage {
        id: image_id,
        size: None,
        scan_notes: Some(scanned),
        transfer,
    };
    tokio::select! {
        pushed = super::push::push_and_report(&engine, push, &image, printer) => pushed,
        _ = tokio::signal::ctrl_c() => {
            Err(CliError::user("interrupted during the push: some tags may not have reached the registry")
                .with_hint(format!("push again with `shipimg push {}`", push.references.join(" ")))
                .with_status(ExitStatus::Interrupted))
        }
    }
}

/// Every name the build gives that the registry, the image config or CI shows, with the flag
/// it came from.
fn shown_names<'a>(args: &BuildArgs, settings: &'a BuildSettings) -> Vec<ShownName<'a>> {
    let tags_from = if args.tags.is_empty() {
        "a tag (from the project config's `tags` or SHIPIMG_TAGS)"
    } else {
        "a `-t` tag"
    };
    let mut names: Vec<ShownName<'a>> = settings
        .tags
        .iter()
        .map(|tag| ShownName {
            given_as: tags_from.into(),
            value: tag,
        })
        .collect();
    if let Some(image) = &settings.image {
        names.push(ShownName {
            given_as: "the image name (`--image`, SHIPIMG_IMAGE or the config's `image`)".into(),
            value: image,
        });
    }
    for (key, value) in &settings.labels {
        names.push(ShownName {
            given_as: "a `--label` name".into(),
            value: key,
        });
        names.push(ShownName {
            given_as: "a `--label` value".into(),
            value,
        });
    }
    for key in settings.build_args.keys() {
        names.push(ShownName {
            given_as: "a `--build-arg` name".into(),
            value: key,
        });
    }
    names
}

/// Lints the Dockerfile with everything the build holds: warnings are shown, errors stop the
/// build before anything runs.
fn lint_build(
    plan: &ContextPlan,
    settings: &BuildSettings,
    secrets: &[LoadedSecret],
    index: Option<&IndexCredentials>,
    printer: &Printer,
) -> Result<(), CliError> {
    let held = held::scan_secrets(&Held {
        secrets,
        index,
        logins: &[],
    });
    let held_refs: Vec<&[u8]> = held.iter().map(|s| s.value.expose_secret()).collect();
    super::lint::lint_dockerfile(
        plan,
        &super::lint::LintInputs {
            allow_secret_copy: settings.allow_secret_copy,
            target: settings.target.as_deref(),
            build_args: &settings.build_args,
            secret_values: &held_refs,
            only: None,
            report_clean: settings.lint_only,
        },
        printer,
    )
}

/// True when a step mounts the `netrc` secret (or the Dockerfile does not parse: the later
/// checks then report that).
fn mounts_netrc(dockerfile: Option<&Dockerfile>) -> bool {
    dockerfile.is_none_or(|d| d.secret_mount("netrc").is_some())
}

/// A step that mounts the netrc when none was found fails now, before the build, rather than as
/// pip's "no matching distribution" minutes later; a netrc nobody mounts is worth a warning.
/// Returns whether a step mounts it.
fn check_secret_mounts(
    plan: &ContextPlan,
    dockerfile: &Dockerfile,
    have_netrc: bool,
    printer: &Printer,
) -> Result<bool, CliError> {
    let name = plan
        .dockerfile
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Dockerfile".into());
    match dockerfile.secret_mount("netrc") {
        Some(mount) if !have_netrc => Err(CliError::user(format!(
            "{name}:{}: a step mounts secret `netrc`, but no netrc was found (looked at: {NETRC_SOURCES})",
            mount.line
        ))
        .with_hint("pass `--netrc PATH`, a netrc with the package index's machine, login and password")),
        Some(_) => Ok(true),
        None => {
            if have_netrc {
                printer.warn(&format!(
                    "a netrc was found but no step of {name} mounts it, so the build does not get it: add `--mount=type=secret,id=netrc,target=/root/.netrc` to the RUN that installs packages"
                ));
            }
            Ok(false)
        }
    }
}

/// Adds the index URLs as the build arguments pip and uv read, where the Dockerfile declares
/// them and the user left them unset; warns about each URL withheld for its credentials.
fn add_index_build_args(
    dockerfile: Option<&Dockerfile>,
    settings: &mut BuildSettings,
    printer: &Printer,
) {
    let declared = dockerfile.map(|d| d.args.as_slice()).unwrap_or_default();
    let args = index_build_args(&settings.index_urls, declared, &settings.build_args);
    for name in args.withheld {
        printer.warn(&format!(
            "not passing an index URL with credentials in it as build argument {name}"
        ));
    }
    settings.build_args.extend(args.added);
}

/// What the build will do, before it starts: where the settings came from, the image and its
/// tags, the Dockerfile and stage, the indexes. Never a credential.
fn describe_plan(settings: &BuildSettings, plan: &ContextPlan, cwd: &Path, printer: &Printer) {
    let shown = |path: &Path| {
        let path = path.strip_prefix(cwd).unwrap_or(path);
        path.strip_prefix(".").unwrap_or(path).display().to_string()
    };
    if let Some(source) = &settings.config {
        let source = crate::config::ConfigSource {
            path: PathBuf::from(shown(&source.path)),
            pyproject: source.pyproject,
        };
        printer.status("Config", &source.to_string());
    }
    match (&settings.image, settings.tags.as_slice()) {
        (_, []) => printer.status("Image", "untagged (no `-t` and no `image` in a config)"),
        (Some(image), tags) if tags.iter().all(|t| t.starts_with(&format!("{image}:"))) => {
            let tags: Vec<&str> = tags.iter().map(|t| &t[image.len() + 1..]).collect();
            printer.status("Image", &format!("{image}, tags {}", tags.join(", ")));
        }
        (_, tags) => printer.status("Image", &tags.join(", ")),
    }
    let mut dockerfile = shown(&plan.dockerfile);
    if let Some(target) = &settings.target {
        dockerfile.push_str(&format!(", target stage `{target}`"));
    }
    if let Some(platform) = &settings.platform {
        dockerfile.push_str(&format!(", platform {platform}"));
    }
    printer.status("Dockerfile", &dockerfile);
    if !settings.index_urls.is_empty() {
        printer.status("Indexes", &settings.index_urls.join(", "));
    }
}

/// Says where the index credentials came from, never what they are.
fn describe_index_credentials(index: &IndexCredentials, index_urls: &[String], printer: &Printer) {
    let hosts: Vec<String> = index
        .netrc
        .entries()
        .iter()
        .map(|e| e.machine.clone().unwrap_or_else(|| "default".into()))
        .collect();
    printer.status(
        "Credentials",
        &format!("index netrc from {} ({})", index.source, hosts.join(", ")),
    );
    if index_urls.is_empty() && index.machines_before > 1 {
        printer.info(&format!(
            "note: the whole netrc ({} entries) is served to the build; pass `--index-url URL` to serve only the index's entry",
            index.machines_before
        ));
    }
}

fn build_error(err: BuildError, failed: Option<progress::FailedStep>) -> CliError {
    match (err, failed) {
        (BuildError::Failed { .. }, Some(step)) => {
            let how = match step.exit_code {
                Some(code) => format!("failed with exit code {code}"),
                None => format!("failed: {}", step.error),
            };
            let mut message = format!("step #{} `{}` {how}", step.number, step.name);
            if !step.logs.is_empty() {
                message.push_str("; its last output:");
                for line in &step.logs {
                    message.push_str("\n    ");
                    message.push_str(&line.text);
                }
            }
            CliError::user(message)
        }
        (BuildError::Failed { message }, None) => {
            CliError::user(format!("build failed: {message}"))
        }
        (err @ BuildError::Connection { .. }, _) => CliError::user(crate::error::chain(&err))
            .with_hint("is dockerd still running? `shipimg doctor` checks the connection"),
        (err, _) => CliError::user(crate::error::chain(&err)),
    }
}

/// The file sync source for a build, with the walk's notices shown once each (the engine walks
/// the context more than once per build) by the build's reporter, which owns the terminal.
fn context_source(plan: &Arc<ContextPlan>, reporter: &SharedReporter) -> ContextSource {
    let reporter = Arc::clone(reporter);
    let seen = Mutex::new(HashSet::new());
    let on_notice = move |notice: &Notice| {
        if seen
            .lock()
            .is_ok_and(|mut seen| seen.insert(notice.path().to_owned()))
        {
            warn_notice(&reporter, notice);
        }
    };
    ContextSource::new(Arc::clone(plan), Arc::new(on_notice))
}

/// A notice of the context walk, as a warning of the build's reporter.
fn warn_notice(reporter: &SharedReporter, notice: &Notice) {
    let mut reporter = reporter.lock().unwrap_or_else(|p| p.into_inner());
    reporter.warning(&super::context::notice_text(notice));
}

/// The tar request body; the walk's notices go to the build's reporter.
fn stream_tar(
    plan: Arc<ContextPlan>,
    reporter: &SharedReporter,
) -> (archive::TarBody, archive::TarTask) {
    let reporter = Arc::clone(reporter);
    archive::tar_body(plan, move |notice: &Notice| warn_notice(&reporter, notice))
}

/// `context: sent 12 files (3.4 MiB), 24988 unchanged`.
fn describe_transfer(transfer: &TransferSummary) -> String {
    format!(
        "sent {} {} ({}), {} unchanged on the engine",
        transfer.files_sent,
        if transfer.files_sent == 1 {
            "file"
        } else {
            "files"
        },
        crate::progress::human_bytes(transfer.bytes_sent),
        transfer.files_unchanged
    )
}

/// `--iidfile`, written only after a successful build (with `--push`, only once the scan
/// passed), through the same redaction as the terminal.
fn write_iidfile(settings: &BuildSettings, image_id: &str) -> Result<(), CliError> {
    match &settings.iidfile {
        Some(path) => write_file(path, image_id, "--iidfile"),
        None => Ok(()),
    }
}

/// Removes the `--iidfile` and `--metadata-file` an earlier run left, as buildx does: a build
/// that fails or is refused must not leave a script reading the previous image's.
fn remove_stale_results(settings: &BuildSettings) -> Result<(), CliError> {
    for (path, flag) in [
        (&settings.iidfile, "--iidfile"),
        (&settings.metadata_file, "--metadata-file"),
    ] {
        let Some(path) = path else { continue };
        match std::fs::remove_file(path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(CliError::user(format!(
                    "failed to remove the earlier {flag} `{}`: {err}",
                    path.display()
                )));
            }
            _ => {}
        }
    }
    Ok(())
}
