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
use crate::error::UserError;
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

/// Why a registry's login could not be found.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Only half of `SHIPIMG_REGISTRY_*` is set.
    #[error("SHIPIMG_REGISTRY_USERNAME is set but SHIPIMG_REGISTRY_PASSWORD is not")]
    HalfSet,
    /// The docker config or its credential helper failed.
    #[error(transparent)]
    DockerConfig(#[from] docker_config::DockerConfigError),
    /// A Google registry, and no Google token.
    #[error("no credentials for registry `{host}`")]
    Google {
        host: String,
        #[source]
        source: google::GoogleError,
    },
    /// A reference whose registry cannot be told.
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
}

impl UserError for LoginError {
    fn hint(&self) -> Option<String> {
        match self {
            LoginError::HalfSet => Some("set both, or neither".into()),
            LoginError::DockerConfig(err) => UserError::hint(err),
            LoginError::Google { source, .. } => source.hint().or_else(|| {
                Some("log in with `gcloud auth login` or `gcloud auth configure-docker`, or set GOOGLE_APPLICATION_CREDENTIALS".into())
            }),
            LoginError::Reference(err) => Some(err.hint()),
        }
    }
}

/// Finds the login for `host`. `push_target` says whether shipimg pushes there (the
/// `SHIPIMG_REGISTRY_*` variables are for those registries only, never sent to a base image's).
/// `Ok(None)`: anonymous.
pub async fn login_for_host(
    host: &str,
    push_target: bool,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Login>, LoginError> {
    if push_target && let Some(username) = var("SHIPIMG_REGISTRY_USERNAME") {
        let password = var("SHIPIMG_REGISTRY_PASSWORD").ok_or(LoginError::HalfSet)?;
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
            .map_err(|source| LoginError::Google {
                host: host.to_owned(),
                source,
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

async fn docker_login(path: &Path, host: &str) -> Result<Option<Login>, LoginError> {
    let login = docker_config::login_for(path, host, HELPER_TIMEOUT).await?;
    if let Some(login) = &login {
        crate::redact::register_login(&login.username, &login.secret);
    }
    Ok(login)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CliError;

    #[tokio::test]
    async fn half_the_registry_variables_is_an_error_with_its_fix() {
        let var = |name: &str| (name == "SHIPIMG_REGISTRY_USERNAME").then(|| "ci".to_owned());
        let err = login_for_host("127.0.0.1:5555", true, &var)
            .await
            .unwrap_err();
        let cli = CliError::from(err);
        assert_eq!(
            cli.message(),
            "SHIPIMG_REGISTRY_USERNAME is set but SHIPIMG_REGISTRY_PASSWORD is not"
        );
        assert_eq!(cli.hint(), Some("set both, or neither"));
        // Not a push target: the variables are not for this registry, so no error.
        assert!(login_for_host("127.0.0.1:5555", false, &var).await.is_ok());
    }

    #[test]
    fn a_google_registry_without_a_token_keeps_the_token_source_s_hint() {
        let err = LoginError::Google {
            host: "europe-west4-docker.pkg.dev".into(),
            source: google::GoogleError::NotFound {
                looked: vec!["GOOGLE_APPLICATION_CREDENTIALS: not set".into()],
            },
        };
        let cli = CliError::from(err);
        assert_eq!(
            cli.message(),
            "no credentials for registry `europe-west4-docker.pkg.dev`: no Google credentials found: GOOGLE_APPLICATION_CREDENTIALS: not set"
        );
        assert!(
            cli.hint()
                .unwrap()
                .contains("gcloud auth application-default login")
        );
    }
}
