//! Registry logins for the engine: for the base images a build pulls (served over the session's
//! Auth service) and for the push. Per host, the first that applies wins:
//! `SHIPIMG_REGISTRY_USERNAME` + `SHIPIMG_REGISTRY_PASSWORD` (for the registries shipimg pushes
//! to), the docker CLI's config and credential helpers, then a Google access token as
//! `oauth2accesstoken` for Artifact Registry and Container Registry hosts.

use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;

use super::docker_config;
use super::google;
use crate::error::CliError;
use crate::login::Login;

/// How long a credential helper may take.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether Google tokens log in to this registry host.
pub fn is_google_registry(host: &str) -> bool {
    host.ends_with("-docker.pkg.dev")
        || host.ends_with(".rep.pkg.dev")
        || host == "gcr.io"
        || host.ends_with(".gcr.io")
}

/// Finds the login for `host`. `push_target` says whether shipimg pushes there (the
/// `SHIPIMG_REGISTRY_*` variables are for those registries only, never sent to a base image's).
/// `Ok(None)`: anonymous.
pub async fn login_for_host(
    host: &str,
    push_target: bool,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Login>, CliError> {
    if push_target && let Some(username) = var("SHIPIMG_REGISTRY_USERNAME") {
        let password = var("SHIPIMG_REGISTRY_PASSWORD").ok_or_else(|| {
            CliError::user("SHIPIMG_REGISTRY_USERNAME is set but SHIPIMG_REGISTRY_PASSWORD is not")
                .with_hint("set both, or neither")
        })?;
        let secret = SecretString::from(password);
        crate::redact::register_login(&username, &secret);
        return Ok(Some(Login::password(
            username,
            secret,
            "SHIPIMG_REGISTRY_USERNAME/SHIPIMG_REGISTRY_PASSWORD",
        )));
    }
    if let Some(path) = docker_config::config_path(var)
        && path.is_file()
        && let Some(login) = docker_login(&path, host).await?
    {
        return Ok(Some(login));
    }
    if is_google_registry(host) {
        let token = google::access_token(&google::GoogleEnv::from_process())
            .await
            .map_err(|err| {
                CliError::user(format!("no credentials for registry `{host}`: {err}"))
                    .with_hint("log in with `gcloud auth login` or `gcloud auth configure-docker`, or set GOOGLE_APPLICATION_CREDENTIALS")
            })?;
        crate::redact::register_login("oauth2accesstoken", &token.token);
        return Ok(Some(Login::password(
            "oauth2accesstoken",
            token.token,
            format!("Google ({})", token.source),
        )));
    }
    Ok(None)
}

async fn docker_login(path: &Path, host: &str) -> Result<Option<Login>, CliError> {
    let login = docker_config::login_for(path, host, HELPER_TIMEOUT).await?;
    if let Some(login) = &login {
        crate::redact::register_login(&login.username, &login.secret);
    }
    Ok(login)
}
