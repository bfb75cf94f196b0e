//! A build as an operation, in the order it runs: [`check`] reads every secret and login, lints
//! the Dockerfile with them, and refuses what must not be built (`--lint-only` stops after the
//! lint); [`prepare`] says what the build will do and connects to the engine; [`build`] stages the context, opens a BuildKit
//! session holding the secrets and runs the build on the engine with its progress; then either
//! [`write_local_results`] for a local build, or [`scan`] and [`tag`] before the push.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use secrecy::ExposeSecret;

use crate::context::walk::Notice;
use crate::context::{ContextPlan, archive};
use crate::credentials::held::{self, Held, ShownName};
use crate::credentials::index::{
    IndexCredentials, IndexEnv, IndexOptions, NETRC_SOURCES, Preflight, add_google_tokens,
    index_build_args, preflight, resolve_index_credentials,
};
use crate::credentials::{LoadedSecret, read_secret};
use crate::dockerfile::{Dockerfile, Parsed};
use crate::engine::Engine;
use crate::engine::build::{BuildError, BuildMessage, BuildParams, cancel_build, run_build};
use crate::engine::endpoint::{EndpointEnv, resolve_endpoint};
use crate::error::{CliError, ExitStatus};
use crate::login::Login;
use crate::progress::{self, Outcome, ProgressMode, Reporter, Sinks, Terminal};
use crate::reference::Reference;
use crate::scan::{Note, ScanSecret};
use crate::session::filesync::{self, TransferSummary};
use crate::session::{ContextSource, Session, SessionStore};
use crate::settings::{BuildSettings, ContextTransfer};

use super::Report;
use super::lint::{LintInputs, lint_build_arg_secrets, lint_dockerfile};
use super::results::{ResultFiles, Results, remove_stale_results, write_file, write_results};
use super::scan::{ScanFor, scan_and_report};

/// The build's reporter, shared by the stream, the ticker and the context walk.
type SharedReporter = Arc<Mutex<Box<dyn Reporter>>>;

/// How long to wait for the engine to wind a cancelled build down.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

/// The build, checked: its secrets, index credentials and logins read, its Dockerfile linted.
pub struct Checked {
    /// The settings, with the index URLs added as the build arguments pip and uv read.
    pub settings: BuildSettings,
    cwd: PathBuf,
    plan: Arc<ContextPlan>,
    secrets: Vec<LoadedSecret>,
    index: Option<IndexCredentials>,
    netrc_mounted: bool,
    push_logins: Vec<(String, Option<Login>)>,
    base_logins: Vec<(String, Login)>,
}

/// Everything that can refuse the build before the engine is asked anything, in this order:
/// the earlier run's result files removed (not by `--lint-only`, which writes none), the
/// secrets, the index netrc, the Dockerfile lint (all `--lint-only` runs: it stays offline,
/// asking no credential helper and no token endpoint); then Google tokens for the index, a netrc mount with no netrc, the registries' logins,
/// SL006 again with those logins and tokens (no build argument may carry one), and no public
/// name holding a secret. Every secret is registered for masking when it is read.
pub async fn check(settings: BuildSettings, report: &dyn Report) -> Result<Checked, CliError> {
    let mut settings = settings;
    if !settings.lint_only {
        remove_stale_results(&[
            (settings.iidfile.as_deref(), "--iidfile"),
            (settings.metadata_file.as_deref(), "--metadata-file"),
        ])?;
    }
    let var = |name: &str| std::env::var(name).ok();
    let mut secrets: Vec<LoadedSecret> = Vec::new();
    for spec in &settings.secrets {
        secrets.push(read_secret(&spec.id, &spec.source)?);
    }
    let cwd = super::current_dir()?;
    let plan = Arc::new(ContextPlan::new(&settings.context, &cwd)?);
    // Parsed once, for the model every check below reads and for the lint. A Dockerfile that
    // does not parse is the lint's error, reported after the index's.
    let parsed = super::lint::parse(&plan);
    let model = parsed.as_ref().ok().map(Parsed::model);
    let index_options = IndexOptions {
        netrc_flag: settings.netrc.clone(),
        index_urls: settings.index_urls.clone(),
    };
    let index_env = IndexEnv {
        var: &var,
        home: std::env::home_dir(),
    };
    let index = match resolve_index_credentials(&index_options, &index_env) {
        Ok(index) => index,
        // A broken `$NETRC` or `~/.netrc` that nobody asked for must not stop a build that
        // mounts no netrc: the user may keep it for other tools.
        Err(err)
            if held::implicit_netrc(&index_options, &var)
                && model
                    .as_ref()
                    .is_some_and(|d| d.secret_mount("netrc").is_none()) =>
        {
            report.warn(
                &format!(
                    "{} (ignored: the Dockerfile mounts no netrc)",
                    crate::error::chain(&err)
                ),
                None,
            );
            None
        }
        Err(err) => return Err(err.into()),
    };
    let declared = model
        .as_ref()
        .map(|d| d.args.as_slice())
        .unwrap_or_default();
    add_index_build_args(declared, &mut settings, report);
    let parsed = parsed?;
    let dockerfile = model.unwrap_or_default();
    let held = held::scan_secrets(&Held {
        secrets: &secrets,
        index: index.as_ref(),
        logins: &[],
    });
    lint(&plan, &parsed, &settings, &held, report)?;
    // The tree borrows the plan, which `Checked` takes below.
    drop(parsed);
    if settings.lint_only {
        return Ok(Checked {
            settings,
            cwd,
            plan,
            secrets,
            index,
            netrc_mounted: false,
            push_logins: Vec::new(),
            base_logins: Vec::new(),
        });
    }
    let index = add_google_tokens(index, &settings.index_urls).await?;
    let netrc_mounted = check_secret_mounts(&plan, &dockerfile, index.is_some(), report)?;
    // The registries' logins, found now so a missing one stops us before the build. The push
    // targets' must not be in the image either; the base images' are served to BuildKit when a
    // registry asks.
    let push_logins = match &settings.push {
        Some(push) => held::push_logins(&push.references, &var).await?,
        None => Vec::new(),
    };
    let base_logins =
        held::base_image_logins(&dockerfile.base_image_hosts(), &settings.tags, &var).await?;
    let mut checked = Checked {
        settings,
        cwd,
        plan,
        secrets,
        index,
        netrc_mounted,
        push_logins,
        base_logins,
    };
    // SL006 again, now that the logins and any Google token for the index are held.
    let held = scan_secrets(&checked);
    let held_values: Vec<&[u8]> = held.iter().map(|s| s.value.expose_secret()).collect();
    lint_build_arg_secrets(
        &checked.plan,
        &checked.settings.build_args,
        &held_values,
        report,
    )?;
    // No name the registry or the image shows may hold a secret.
    held::check_names(&shown_names(&checked.settings), &crate::redact::current())?;
    if checked.netrc_mounted
        && let Some(index) = &checked.index
    {
        let text = index.netrc.to_secret_text();
        let value = secrecy::SecretSlice::from(text.expose_secret().as_bytes().to_vec());
        let netrc = LoadedSecret {
            id: "netrc".into(),
            source: index.source.clone(),
            value: Arc::new(value),
        };
        checked.secrets.push(netrc);
    }
    Ok(checked)
}

/// The build, ready to run: checked, its engine connected and BuildKit's support confirmed.
pub struct Prepared {
    checked: Checked,
    engine: Engine,
    /// The default labels, asked of git while the engine is contacted; taken by the build.
    default_labels: Option<std::thread::JoinHandle<BTreeMap<String, String>>>,
}

impl Prepared {
    /// The resolved settings.
    pub fn settings(&self) -> &BuildSettings {
        &self.checked.settings
    }

    /// The engine the build runs on, for the scan and the push.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// Says what the build will do (never a credential), checks the index answers the credentials
/// the build will get, and connects to the engine.
pub async fn prepare(checked: Checked, report: &dyn Report) -> Result<Prepared, CliError> {
    // The default labels ask git: let it answer while we talk to the engine.
    let default_labels = {
        let dir = checked.settings.context.dir.clone();
        let now = std::time::SystemTime::now();
        std::thread::spawn(move || crate::labels::default_labels(&dir, now))
    };
    describe_plan(&checked.settings, &checked.plan, &checked.cwd, report);
    if let Some(index) = &checked.index {
        describe_index_credentials(index, &checked.settings.index_urls, report);
        if checked.netrc_mounted {
            for warning in &index.warnings {
                report.warn(&warning.message, Some(&warning.hint));
            }
        }
    }
    for (host, login) in &checked.push_logins {
        let line = match login {
            Some(login) => format!("registry {host} from {} (push)", login.source),
            None => format!("registry {host}: no login found, pushing anonymously"),
        };
        report.status("Credentials", &line);
    }
    for (host, login) in &checked.base_logins {
        report.status(
            "Credentials",
            &format!("registry {host} from {} (base images)", login.source),
        );
    }
    for url in &checked.settings.index_urls {
        if let Preflight::Unreachable(why) = preflight(url, checked.index.as_ref()).await? {
            report.warn(
                &format!(
                    "could not check the package index `{url}` from here ({why}); the build's network may still reach it"
                ),
                None,
            );
        }
    }
    let endpoint = resolve_endpoint(&EndpointEnv::from_process())?;
    let engine = Engine::connect(endpoint).await.map_err(CliError::from)?;
    engine.require_buildkit()?;
    Ok(Prepared {
        checked,
        engine,
        default_labels: Some(default_labels),
    })
}

/// What the engine built.
pub struct Built {
    /// The engine's image id.
    pub image_id: String,
    /// How the context was sent, when over the session.
    pub transfer: Option<TransferSummary>,
}

/// Runs the build on the engine with its progress shown, the context sent and the secrets
/// served over the session. When `interrupted` completes first, the build is cancelled and the
/// error says so (exit 130).
pub async fn build(
    prepared: &mut Prepared,
    interrupted: impl Future<Output = ()>,
    report: &dyn Report,
) -> Result<Built, CliError> {
    let var = |name: &str| std::env::var(name).ok();
    let checked = &prepared.checked;
    let settings = &checked.settings;
    let api = prepared.engine.api().clone();
    for secret in &checked.secrets {
        tracing::debug!(id = %secret.id, source = %secret.source, "secret for the build");
    }
    let mut store = SessionStore::default();
    for secret in &checked.secrets {
        store
            .secrets
            .insert(secret.id.clone(), Arc::clone(&secret.value));
    }
    // BuildKit asks for the base images' logins over the session when a registry wants one.
    store.serve_logins(&checked.base_logins);
    let redactor = crate::redact::current();
    // Errors the engine sends back can quote a secret too (a URL with a password).
    let error_redactor = redactor.clone();
    let plan = Arc::clone(&checked.plan);
    // Made before the context is walked: what the walk has to say goes through it.
    let mut sinks = Sinks::std();
    if settings.push.is_some() && settings.progress == ProgressMode::Quiet {
        // With --push, quiet stdout holds exactly the pushed `name@sha256:...` lines.
        sinks.stdout = Box::new(std::io::sink());
    }
    let reporter: SharedReporter = Arc::new(Mutex::new(progress::reporter(
        settings.progress,
        redactor,
        Terminal::detect(),
        sinks,
    )));
    // The context over the session unless asked otherwise: the engine keeps its copy between
    // builds and asks only for changed files. Every engine `require_buildkit` accepts (a Linux
    // one) can pull it.
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

    let default_labels = prepared
        .default_labels
        .take()
        .and_then(|labels| labels.join().ok())
        .unwrap_or_default();
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
        labels: crate::labels::merge(&settings.labels, default_labels),
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
    let run = run_build(&api, &params, body, &mut on_message);
    tokio::pin!(run);
    let (result, interrupted) = tokio::select! {
        result = &mut run => (result, false),
        _ = interrupted => {
            tracing::debug!(build_id = %params.build_id, "interrupted: cancelling the build");
            if let Some(source) = &sync_source {
                source.cancel();
            }
            let _ = cancel_build(&api, &params.build_id).await;
            let result = tokio::time::timeout(CANCEL_GRACE, &mut run)
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
        report.status("Context", &describe_transfer(transfer));
    }
    Ok(Built { image_id, transfer })
}

/// A local build's results: `--iidfile`, `--metadata-file` and the CI outputs.
pub fn write_local_results(prepared: &Prepared, built: &Built) -> Result<(), CliError> {
    let settings = &prepared.checked.settings;
    write_iidfile(settings, &built.image_id)?;
    let var = |name: &str| std::env::var(name).ok();
    let files = ResultFiles::new(settings.metadata_file.clone(), &var);
    let results = Results {
        image_id: &built.image_id,
        tags: &settings.tags,
        pushed: &[],
        transfer: built.transfer.as_ref(),
        scan_notes: None,
        size: None,
        elapsed: Duration::ZERO,
    };
    write_results(&files, &results)
}

/// The leak scan before the push, with every secret and login the build held: exit 3 on a
/// finding, with the image untagged and no result file written.
pub async fn scan(
    prepared: &Prepared,
    built: &Built,
    report: &dyn Report,
) -> Result<Vec<Note>, CliError> {
    let settings = &prepared.checked.settings;
    let Some(push) = &settings.push else {
        return Ok(Vec::new());
    };
    let options = crate::scan::ScanOptions {
        allow: push.scan_allow.clone(),
        explain: Vec::new(),
    };
    scan_and_report(
        &prepared.engine,
        &built.image_id,
        &push.references[0],
        &scan_secrets(&prepared.checked),
        options,
        ScanFor::Push,
        report,
    )
    .await
}

/// Names the scanned image with its push targets and writes `--iidfile`; the metadata and the
/// step outputs wait for the push, which knows the registry's digests.
pub async fn tag(prepared: &Prepared, built: &Built) -> Result<(), CliError> {
    let settings = &prepared.checked.settings;
    if let Some(push) = &settings.push {
        for reference in &push.references {
            prepared
                .engine
                .tag_image(
                    &built.image_id,
                    &Reference::parse_name_tag(reference).map_err(CliError::from)?,
                )
                .await?;
        }
    }
    write_iidfile(settings, &built.image_id)
}

/// Every secret and login the build holds, as the scan looks for them.
fn scan_secrets(checked: &Checked) -> Vec<ScanSecret> {
    let logins = all_logins(checked);
    held::scan_secrets(&Held {
        secrets: &checked.secrets,
        index: checked.index.as_ref(),
        logins: &logins,
    })
}

/// The push targets' logins found, then the base images'.
fn all_logins(checked: &Checked) -> Vec<(String, Login)> {
    checked
        .push_logins
        .iter()
        .filter_map(|(host, login)| login.clone().map(|login| (host.clone(), login)))
        .chain(checked.base_logins.iter().cloned())
        .collect()
}

/// Every name the build gives that the registry, the image config or CI shows, with where it
/// came from.
fn shown_names(settings: &BuildSettings) -> Vec<ShownName<'_>> {
    let mut names: Vec<ShownName<'_>> = settings
        .tags
        .iter()
        .map(|tag| ShownName {
            given_as: settings.tags_given_as.into(),
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

/// Lints the Dockerfile with every rule and the secrets in `held`: warnings are reported, errors stop the build before anything runs.
fn lint(
    plan: &ContextPlan,
    parsed: &Parsed<'_>,
    settings: &BuildSettings,
    held: &[ScanSecret],
    report: &dyn Report,
) -> Result<(), CliError> {
    let held_refs: Vec<&[u8]> = held.iter().map(|s| s.value.expose_secret()).collect();
    lint_dockerfile(
        plan,
        parsed,
        &LintInputs {
            allow_secret_copy: settings.allow_secret_copy,
            target: settings.target.as_deref(),
            build_args: &settings.build_args,
            secret_values: &held_refs,
            only: None,
            report_clean: settings.lint_only,
        },
        report,
    )
}

/// A step that mounts the netrc when none was found fails now, before the build, rather than as
/// pip's "no matching distribution" minutes later; a netrc nobody mounts is worth a warning.
/// Returns whether a step mounts it.
fn check_secret_mounts(
    plan: &ContextPlan,
    dockerfile: &Dockerfile,
    have_netrc: bool,
    report: &dyn Report,
) -> Result<bool, CliError> {
    let name = super::lint::file_name(plan);
    match dockerfile.secret_mount("netrc") {
        Some(mount) if !have_netrc => Err(CliError::user(format!(
            "{name}:{}: a step mounts secret `netrc`, but no netrc was found (looked at: {NETRC_SOURCES})",
            mount.line
        ))
        .with_hint("pass `--netrc PATH`, a netrc with the package index's machine, login and password")),
        Some(_) => Ok(true),
        None => {
            if have_netrc {
                report.warn(&format!(
                    "a netrc was found but no step of {name} mounts it, so the build does not get it: add `--mount=type=secret,id=netrc,target=/root/.netrc` to the RUN that installs packages"
                ), None);
            }
            Ok(false)
        }
    }
}

/// Adds the index URLs as the build arguments pip and uv read, where the Dockerfile declares
/// them and the user left them unset; warns about each URL withheld for its credentials.
fn add_index_build_args(declared: &[String], settings: &mut BuildSettings, report: &dyn Report) {
    let args = index_build_args(&settings.index_urls, declared, &settings.build_args);
    for name in args.withheld {
        report.warn(
            &format!("not passing an index URL with credentials in it as build argument {name}"),
            None,
        );
    }
    settings.build_args.extend(args.added);
}

/// What the build will do, before it starts: where the settings came from, the image and its
/// tags, the Dockerfile and stage, the indexes. Never a credential.
fn describe_plan(settings: &BuildSettings, plan: &ContextPlan, cwd: &Path, report: &dyn Report) {
    let shown = |path: &Path| {
        let path = path.strip_prefix(cwd).unwrap_or(path);
        path.strip_prefix(".").unwrap_or(path).display().to_string()
    };
    if let Some(source) = &settings.config {
        let source = crate::config::ConfigSource {
            path: PathBuf::from(shown(&source.path)),
            pyproject: source.pyproject,
        };
        report.status("Config", &source.to_string());
    }
    match (&settings.image, settings.tags.as_slice()) {
        (_, []) => report.status("Image", "untagged (no `-t` and no `image` in a config)"),
        (Some(image), tags) if tags.iter().all(|t| t.starts_with(&format!("{image}:"))) => {
            let tags: Vec<&str> = tags.iter().map(|t| &t[image.len() + 1..]).collect();
            report.status("Image", &format!("{image}, tags {}", tags.join(", ")));
        }
        (_, tags) => report.status("Image", &tags.join(", ")),
    }
    let mut dockerfile = shown(&plan.dockerfile);
    if let Some(target) = &settings.target {
        dockerfile.push_str(&format!(", target stage `{target}`"));
    }
    if let Some(platform) = &settings.platform {
        dockerfile.push_str(&format!(", platform {platform}"));
    }
    report.status("Dockerfile", &dockerfile);
    if !settings.index_urls.is_empty() {
        report.status("Indexes", &settings.index_urls.join(", "));
    }
}

/// Says where the index credentials came from, never what they are.
fn describe_index_credentials(
    index: &IndexCredentials,
    index_urls: &[String],
    report: &dyn Report,
) {
    let hosts: Vec<String> = index
        .netrc
        .entries()
        .iter()
        .map(|e| e.machine.clone().unwrap_or_else(|| "default".into()))
        .collect();
    report.status(
        "Credentials",
        &format!("index netrc from {} ({})", index.source, hosts.join(", ")),
    );
    if index_urls.is_empty() && index.machines_before > 1 {
        report.info(&format!(
            "note: the whole netrc ({} entries) is served to the build; pass `--index-url URL` to serve only the index's entry",
            index.machines_before
        ));
    }
}

/// The build's error: the failed step, its exit code and its last output when the progress
/// showed one.
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
    reporter.warning(&notice.to_string());
}

/// The tar request body; the walk's notices go to the build's reporter.
fn stream_tar(
    plan: Arc<ContextPlan>,
    reporter: &SharedReporter,
) -> (archive::TarBody, archive::TarTask) {
    let reporter = Arc::clone(reporter);
    archive::tar_body(plan, move |notice: &Notice| warn_notice(&reporter, notice))
}

/// `sent 12 files (3.4 MiB), 24988 unchanged on the engine`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ContextOptions;
    use crate::ops::testing::Recorded;
    use crate::progress::{FailedStep, LogLine, LogStream};

    /// A context holding only `dockerfile`, planned.
    fn plan_of(dockerfile: &str) -> (tempfile::TempDir, ContextPlan) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
        let options = ContextOptions {
            dir: dir.path().to_owned(),
            ..ContextOptions::default()
        };
        let plan = ContextPlan::new(&options, dir.path()).unwrap();
        (dir, plan)
    }

    const MOUNTS_NETRC: &str = "FROM scratch\n\
        RUN --mount=type=secret,id=netrc,target=/root/.netrc pip install app\n";

    #[test]
    fn a_step_mounting_a_netrc_nobody_found_fails_naming_its_line() {
        let (_dir, plan) = plan_of(MOUNTS_NETRC);
        let dockerfile = Dockerfile::parse(&plan.dockerfile_text).unwrap();
        let report = Recorded::default();
        let err = check_secret_mounts(&plan, &dockerfile, false, &report).unwrap_err();
        assert!(
            err.message()
                .starts_with("Dockerfile:2: a step mounts secret `netrc`, but no netrc was found"),
            "{}",
            err.message()
        );
        assert!(err.hint().unwrap().contains("--netrc PATH"));
        assert!(report.lines().is_empty());
        assert!(check_secret_mounts(&plan, &dockerfile, true, &report).unwrap());
    }

    #[test]
    fn a_netrc_no_step_mounts_is_a_warning_not_an_error() {
        let (_dir, plan) = plan_of("FROM scratch\nRUN pip install app\n");
        let dockerfile = Dockerfile::parse(&plan.dockerfile_text).unwrap();
        let report = Recorded::default();
        assert!(!check_secret_mounts(&plan, &dockerfile, true, &report).unwrap());
        let lines = report.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("warning: a netrc was found but no step of Dockerfile mounts it")
        );
        // Without a netrc there is nothing to say.
        let quiet = Recorded::default();
        assert!(!check_secret_mounts(&plan, &dockerfile, false, &quiet).unwrap());
        assert!(quiet.lines().is_empty());
    }

    #[test]
    fn a_failed_step_is_named_with_its_exit_code_and_last_output() {
        let step = FailedStep {
            number: 7,
            name: "[2/2] RUN pip install app".into(),
            error: "process did not complete successfully: exit code: 1".into(),
            exit_code: Some(1),
            logs: vec![LogLine {
                stream: LogStream::Stderr,
                offset: 0,
                text: "ERROR: No matching distribution found for app".into(),
            }],
        };
        let err = build_error(
            BuildError::Failed {
                message: "ignored: the step says more".into(),
            },
            Some(step),
        );
        assert_eq!(
            err.message(),
            "step #7 `[2/2] RUN pip install app` failed with exit code 1; its last output:\n    \
             ERROR: No matching distribution found for app"
        );
        let err = build_error(
            BuildError::Failed {
                message: "no such stage".into(),
            },
            None,
        );
        assert_eq!(err.message(), "build failed: no such stage");
    }

    #[test]
    fn the_transfer_line_counts_files_in_words() {
        let one = TransferSummary {
            files_sent: 1,
            bytes_sent: 2048,
            files_unchanged: 24988,
        };
        assert_eq!(
            describe_transfer(&one),
            "sent 1 file (2.0 KiB), 24988 unchanged on the engine"
        );
        let none = TransferSummary {
            files_sent: 0,
            ..one
        };
        assert!(describe_transfer(&none).starts_with("sent 0 files ("));
    }
}
