//! Registry logins for the engine: for the base images a build pulls (served over the session's
//! Auth service) and for the push. Per host, the first that applies wins:
//! `SHIPIMG_REGISTRY_USERNAME` + `SHIPIMG_REGISTRY_PASSWORD` (for the registries shipimg pushes
//! to), the docker CLI's config and credential helpers, then a Google access token as
//! `oauth2accesstoken` for Artifact Registry and Container Registry hosts.

use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;

use super::docker_config::{self, RegistryLogin};
use super::google;
use crate::error::CliError;

/// How long a credential helper may take.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether Google tokens log in to this registry host.
pub fn is_google_registry(host: &str) -> bool {
    host.ends_with("-docker.pkg.dev")
        || host.ends_with(".rep.pkg.dev")
        || host == "gcr.io"
        || host.ends_with(".gcr.io")
}

/// A login for one registry, and where it came from (never its value).
#[derive(Debug, Clone)]
pub struct ResolvedLogin {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub secret: SecretString,
    /// Where it came from, for people.
    pub source: String,
    /// The secret is an identity (refresh) token: the engine takes it as `identitytoken`, and
    /// a BuildKit session answers it with an empty user name.
    pub identity_token: bool,
}

/// Finds the login for `host`. `push_target` says whether shipimg pushes there (the
/// `SHIPIMG_REGISTRY_*` variables are for those registries only, never sent to a base image's).
/// `Ok(None)`: anonymous.
pub async fn login_for_host(
    host: &str,
    push_target: bool,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ResolvedLogin>, CliError> {
    if push_target && let Some(username) = var("SHIPIMG_REGISTRY_USERNAME") {
        let password = var("SHIPIMG_REGISTRY_PASSWORD").ok_or_else(|| {
            CliError::user("SHIPIMG_REGISTRY_USERNAME is set but SHIPIMG_REGISTRY_PASSWORD is not")
                .with_hint("set both, or neither")
        })?;
        let secret = SecretString::from(password);
        crate::redact::register_login(&username, &secret);
        return Ok(Some(ResolvedLogin {
            username,
            secret,
            source: "SHIPIMG_REGISTRY_USERNAME/SHIPIMG_REGISTRY_PASSWORD".into(),
            identity_token: false,
        }));
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
        return Ok(Some(ResolvedLogin {
            username: "oauth2accesstoken".into(),
            secret: token.token,
            source: format!("Google ({})", token.source),
            identity_token: false,
        }));
    }
    Ok(None)
}

async fn docker_login(path: &Path, host: &str) -> Result<Option<ResolvedLogin>, CliError> {
    let login: Option<RegistryLogin> = docker_config::login_for(path, host, HELPER_TIMEOUT)
        .await
        .map_err(|err| {
        CliError::user(crate::error::join_chain(&anyhow::Error::from(err))).with_hint(
            "fix the docker config or the credential helper, or log in with `docker login`",
        )
    })?;
    Ok(login.map(|login| {
        crate::redact::register_login(&login.username, &login.secret);
        ResolvedLogin {
            identity_token: login.kind == docker_config::LoginKind::IdentityToken,
            username: login.username,
            secret: login.secret,
            source: login.source,
        }
    }))
}
