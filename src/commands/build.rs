//! `shipimg build`: stage the context, open a BuildKit session holding the secrets, run the
//! build on the engine, show its progress, and write the results where asked.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use crate::cli::BuildArgs;
use crate::context::dockerfile::secret_mounts;
use crate::context::walk::Notice;
use crate::context::{ContextPlan, archive};
use crate::credentials::secret_spec::SecretSource;
use crate::credentials::{LoadedSecret, SecretError, read_secret_env, read_secret_file};
use crate::engine::Engine;
use crate::engine::build::{BuildError, BuildMessage, BuildParams, cancel_build, run_build};
use crate::engine::endpoint::{EndpointEnv, resolve_endpoint};
use crate::error::{CliError, ExitStatus};
use crate::printer::Printer;
use crate::progress::{self, Outcome, ProgressMode, Redactor, Reporter, Sinks, Terminal};
use crate::session::{Session, SessionStore};
use crate::settings::{BuildSettings, GlobalSettings, ProgressSetting};

/// Context bytes per request-body chunk.
const BODY_CHUNK: usize = 256 * 1024;
/// How long to wait for the engine to wind a cancelled build down.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

/// Builds the image.
pub async fn run(
    args: &BuildArgs,
    global: &GlobalSettings,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let settings = BuildSettings::resolve(args, global, &|name| std::env::var(name).ok())?;

    // Secrets first: a missing file should fail before anything talks to the engine.
    let mut secrets: Vec<LoadedSecret> = Vec::new();
    for spec in &settings.secrets {
        let loaded = match &spec.source {
            SecretSource::File(path) => read_secret_file(&spec.id, path),
            SecretSource::Env(var) => read_secret_env(&spec.id, var),
        }
        .map_err(secret_error)?;
        secrets.push(loaded);
    }
    if let Some(path) = &settings.netrc {
        secrets.push(read_secret_file("netrc", path).map_err(secret_error)?);
    }

    let cwd = std::env::current_dir()?;
    let plan = ContextPlan::new(&settings.context, &cwd).map_err(super::context::context_error)?;
    check_secret_mounts(&plan, &secrets, printer)?;

    let endpoint = resolve_endpoint(&EndpointEnv::from_process())?;
    let engine = Engine::connect(endpoint).await.map_err(CliError::from)?;
    engine.require_buildkit()?;
    let address = engine.endpoint().address.clone();

    for secret in &secrets {
        tracing::debug!(id = %secret.id, source = %secret.source, "secret for the build");
    }
    let mut redactor = Redactor::builder();
    let mut store = SessionStore::default();
    for secret in &secrets {
        redactor.bytes(&secret.value);
        store
            .secrets
            .insert(secret.id.clone(), Arc::clone(&secret.value));
    }
    let redactor = redactor.build();
    // Errors the engine sends back can quote a secret too (a URL with a password).
    let error_redactor = redactor.clone();
    let session = Session::start(&address, store)
        .await
        .map_err(|err| CliError::user(err.to_string()))?;

    let params = BuildParams {
        tags: settings.tags.clone(),
        dockerfile: plan.dockerfile_name.clone(),
        target: settings.target.clone(),
        build_args: settings.build_args.clone(),
        labels: settings.labels.clone(),
        network: settings.network.clone(),
        no_cache: settings.no_cache,
        pull: settings.pull,
        platform: settings.platform.clone(),
        session_id: session.id().to_owned(),
        build_id: crate::session::random_id(),
    };

    let mode = match settings.progress {
        ProgressSetting::Auto => ProgressMode::Auto,
        ProgressSetting::Tty => ProgressMode::Tty,
        ProgressSetting::Plain => ProgressMode::Plain,
        ProgressSetting::Json => ProgressMode::Json,
        ProgressSetting::Quiet => ProgressMode::Quiet,
    };
    let reporter: Arc<Mutex<Box<dyn Reporter>>> = Arc::new(Mutex::new(progress::reporter(
        mode,
        redactor,
        Terminal::detect(),
        Sinks::std(),
    )));

    // The context streams from a blocking thread into the request body.
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(8);
    let context_printer = printer.clone();
    let context_task = tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter {
            tx: tx.clone(),
            buffer: BytesMut::with_capacity(BODY_CHUNK),
        };
        let mut warn = |notice: &Notice| super::context::warn_notice(&context_printer, notice);
        let result = archive::write_tar(&plan, &mut writer, &mut warn);
        if let Err(err) = &result {
            // Abort the request body so the engine never builds from a truncated context.
            let _ = tx.blocking_send(Err(std::io::Error::other(err.to_string())));
        }
        result
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });

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
    let build = run_build(&address, &params, body, &mut on_message);
    tokio::pin!(build);
    let (result, interrupted) = tokio::select! {
        result = &mut build => (result, false),
        _ = tokio::signal::ctrl_c() => {
            tracing::debug!(build_id = %params.build_id, "interrupted: cancelling the build");
            let _ = cancel_build(&address, &params.build_id).await;
            let result = tokio::time::timeout(CANCEL_GRACE, &mut build)
                .await
                .unwrap_or(Err(BuildError::Failed { message: "cancelled".into() }));
            (result, true)
        }
    };
    ticker.abort();
    session.close();
    let context_result = context_task.await?;

    let mut reporter = reporter.lock().unwrap_or_else(|p| p.into_inner());
    if interrupted {
        let message = "build cancelled (interrupted)".to_owned();
        reporter.finish(&Outcome::Failed { message });
        return Err(CliError::user("build cancelled: interrupted")
            .with_status(ExitStatus::Interrupted)
            .into());
    }
    let image_id = match (result, context_result) {
        (Ok(image_id), Ok(_)) => image_id,
        // A context failure is the cause of whatever the engine said after it.
        (_, Err(err)) => {
            reporter.finish(&Outcome::Failed {
                message: err.to_string(),
            });
            return Err(super::context::context_error(err));
        }
        (Err(err), Ok(_)) => {
            let message = err.to_string();
            reporter.finish(&Outcome::Failed {
                message: message.clone(),
            });
            let cli = build_error(err, reporter.state().failure())
                .map_text(|text| error_redactor.redact(text).into_owned());
            return Err(cli.into());
        }
    };
    reporter.finish(&Outcome::Built {
        image_id: image_id.clone(),
        reference: settings.tags.first().cloned(),
    });
    drop(reporter);

    write_results(&settings, &image_id)?;
    Ok(ExitStatus::Success)
}

fn secret_error(err: SecretError) -> CliError {
    let hint = match &err {
        SecretError::File { .. } => "check the path given to `--secret src=` or `--netrc`",
        SecretError::EnvUnset { .. } => "export the variable, or give the secret with `src=PATH`",
        SecretError::TooLarge { .. } => "BuildKit secrets are limited to 500 KiB",
    };
    CliError::user(err.to_string()).with_hint(hint)
}

/// A step that mounts the netrc when none was given fails now, before the build, rather than
/// as pip's "no matching distribution" minutes later; a netrc nobody mounts is worth a warning.
fn check_secret_mounts(
    plan: &ContextPlan,
    secrets: &[LoadedSecret],
    printer: &Printer,
) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&plan.dockerfile).map_err(|err| {
        CliError::user(format!(
            "failed to read Dockerfile `{}`: {err}",
            plan.dockerfile.display()
        ))
    })?;
    let mounts = secret_mounts(&text).map_err(|err| {
        CliError::user(format!(
            "cannot parse Dockerfile `{}`: {}",
            plan.dockerfile.display(),
            err.message
        ))
    })?;
    let has_netrc = secrets.iter().any(|s| s.id == "netrc");
    let name = plan
        .dockerfile
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Dockerfile".into());
    if let Some(mount) = mounts.iter().find(|m| m.id == "netrc") {
        if !has_netrc {
            return Err(CliError::user(format!(
                "{name}:{}: a step mounts secret `netrc`, but no netrc was given (looked at: --netrc)",
                mount.line
            ))
            .with_hint("pass `--netrc PATH`, a netrc with the package index's machine, login and password"));
        }
    } else if has_netrc {
        printer.warn(&format!(
            "a netrc was given but no step of {name} mounts it: add `--mount=type=secret,id=netrc,target=/root/.netrc` to the RUN that installs packages"
        ));
    }
    Ok(())
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
        (err @ BuildError::Connection { .. }, _) => CliError::user(err.to_string())
            .with_hint("is dockerd still running? `shipimg doctor` checks the connection"),
        (err, _) => CliError::user(err.to_string()),
    }
}

/// `--iidfile` and `--metadata-file`, written only after a successful build.
fn write_results(settings: &BuildSettings, image_id: &str) -> Result<(), CliError> {
    if let Some(path) = &settings.iidfile {
        std::fs::write(path, image_id).map_err(|err| {
            CliError::user(format!(
                "failed to write --iidfile `{}`: {err}",
                path.display()
            ))
        })?;
    }
    if let Some(path) = &settings.metadata_file {
        let metadata = serde_json::json!({
            "containerimage.config.digest": image_id,
            "containerimage.digest": image_id,
            "image.name": settings.tags.join(","),
        });
        let text = serde_json::to_string_pretty(&metadata).expect("json value serialises");
        std::fs::write(path, text).map_err(|err| {
            CliError::user(format!(
                "failed to write --metadata-file `{}`: {err}",
                path.display()
            ))
        })?;
    }
    Ok(())
}

/// Bridges the blocking tar writer to the async request body, in chunks.
struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    buffer: BytesMut,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = self.buffer.split().freeze();
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the engine stopped reading the context",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= BODY_CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}
