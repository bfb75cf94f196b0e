//! `shipimg scan IMAGE`: the leak scan on any local image. Exit 3 on a finding.

use secrecy::SecretSlice;

use crate::cli::ScanArgs;
use crate::engine::Engine;
use crate::engine::endpoint::{EndpointEnv, resolve_endpoint};
use crate::error::{CliError, ExitStatus};
use crate::ops::scan::{ScanFor, scan_and_report};
use crate::printer::Printer;
use crate::scan::{ScanOptions, ScanSecret};

/// Scans `args.image` for the given secrets and for credential files.
pub async fn run(args: &ScanArgs, printer: &Printer) -> Result<ExitStatus, CliError> {
    let mut secrets = Vec::new();
    for path in &args.secret_files {
        let value = std::fs::read(path).map_err(|err| {
            CliError::user(format!(
                "cannot read --secret-file `{}`: {err}",
                path.display()
            ))
        })?;
        let value = SecretSlice::from(value);
        crate::redact::register_bytes(&value);
        secrets.push(ScanSecret {
            id: format!("--secret-file {}", path.display()),
            value,
            login: None,
        });
    }
    for var in &args.secret_envs {
        crate::child_env::register_secret_var(var);
        let value = std::env::var_os(var).ok_or_else(|| {
            CliError::user(format!("--secret-env `{var}`: the variable is not set"))
                .with_hint("export it, or drop the flag")
        })?;
        let value = SecretSlice::from(std::os::unix::ffi::OsStringExt::into_vec(value));
        crate::redact::register_bytes(&value);
        secrets.push(ScanSecret {
            id: format!("--secret-env {var}"),
            value,
            login: None,
        });
    }
    let project = crate::config::load(std::path::Path::new("."))?;
    let var = |name: &str| std::env::var(name).ok();
    let options = ScanOptions {
        allow: crate::settings::scan_allow(&args.scan_allow, &var, &project.config.scan_allow)?,
        explain: args
            .explain
            .iter()
            .map(|p| {
                p.trim_start_matches("./")
                    .trim_start_matches('/')
                    .to_owned()
            })
            .collect(),
    };
    let endpoint = resolve_endpoint(&EndpointEnv::from_process())?;
    let engine = Engine::connect(endpoint).await.map_err(CliError::from)?;
    let scan = ScanFor::Inspection;
    let name = &args.image;
    scan_and_report(&engine, name, name, &secrets, options, scan, printer).await?;
    Ok(ExitStatus::Success)
}
