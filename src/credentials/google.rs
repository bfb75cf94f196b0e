//! Google access tokens from Application Default Credentials, fetched right before each use.
//!
//! [`access_token`] looks where Google's own libraries look (AIP-4110), then asks gcloud:
//!
//! 1. `GOOGLE_APPLICATION_CREDENTIALS`: a `service_account` key, an `authorized_user` file, an
//!    `external_account` file (workload identity federation, as google-github-actions/auth
//!    writes `gha-creds-*.json`) or an `impersonated_service_account` file;
//! 2. gcloud's ADC file, `$CLOUDSDK_CONFIG/application_default_credentials.json`, else
//!    `~/.config/gcloud/application_default_credentials.json`;
//! 3. the metadata server of GCE, GKE, Cloud Run and Cloud Build: `GCE_METADATA_HOST` when set,
//!    else `169.254.169.254` if it answers a short probe (so laptops do not wait);
//! 4. `gcloud auth print-access-token`, when `gcloud` is on `PATH` (`gcloud.rs`).
//!
//! The official `google-cloud-auth` crate runs the `authorized_user`, `external_account`,
//! `impersonated_service_account` and metadata-server flows. For a `service_account` key it only
//! makes self-signed JWTs (AIP-4111) and never calls the key's `token_uri`, while Artifact
//! Registry documents an OAuth2 access token as the `oauth2accesstoken` password (what gcloud and
//! docker-credential-gcr send). So `jwt_bearer.rs` signs the RFC 7523 assertion with the crate's
//! signer and exchanges it at the key's `token_uri` itself.
//!
//! Every call builds its credentials afresh and fetches a new token: nothing is cached, because a
//! token fetched at the start of a long build may expire before the push.
//!
//! Secrets: files are read into `secrecy` values and tokens become [`SecretString`]s the moment
//! they arrive. `google-cloud-auth` takes the parsed file as a `serde_json::Value` and returns the
//! token as a `String`; those copies are outside our control. Error messages carry sources, HTTP
//! statuses and OAuth error codes, never a token, key or response body (`failure.rs`).

mod failure;
mod gcloud;
mod jwt_bearer;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use google_cloud_auth::credentials::{
    AccessTokenCredentials, external_account, impersonated, mds, user_account,
};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

use self::failure::Diagnosis;

/// The OAuth2 scope every token is asked for: all Google Cloud APIs, Artifact Registry included.
pub const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Where the metadata server answers on every Google Cloud runtime. An address, not
/// `metadata.google.internal`, so the probe needs no DNS lookup off Google Cloud.
pub const DEFAULT_METADATA_PROBE_HOST: &str = "169.254.169.254";

/// The file gcloud writes for `gcloud auth application-default login`.
const ADC_FILE_NAME: &str = "application_default_credentials.json";

/// What [`access_token`] reads from the environment, gathered in one place so tests can inject
/// it. [`GoogleEnv::from_process`] reads the real environment; [`Default`] is an empty one.
#[derive(Debug, Clone)]
pub struct GoogleEnv {
    /// `GOOGLE_APPLICATION_CREDENTIALS`: a credentials file that wins over everything else.
    pub application_credentials: Option<PathBuf>,
    /// `CLOUDSDK_CONFIG`: gcloud's configuration directory, when not `~/.config/gcloud`.
    pub cloudsdk_config: Option<PathBuf>,
    /// `HOME`, for `~/.config/gcloud`.
    pub home: Option<PathBuf>,
    /// `GCE_METADATA_HOST`: the metadata server's `host[:port]`, used without a probe.
    pub metadata_host: Option<String>,
    /// Where to probe for a metadata server when `metadata_host` is unset; `None` skips the
    /// metadata server.
    pub metadata_probe_host: Option<String>,
    /// `PATH`, searched for `gcloud` (absolute entries only) and passed on to it.
    pub path: Option<OsString>,
    /// The limit for each network flow: one token request, or an exchange and its follow-ups.
    pub timeout: Duration,
    /// The limit for the metadata-server probe; short, so that laptops do not wait.
    pub metadata_probe_timeout: Duration,
    /// The limit for `gcloud auth print-access-token`.
    pub gcloud_timeout: Duration,
}

impl Default for GoogleEnv {
    fn default() -> Self {
        Self {
            application_credentials: None,
            cloudsdk_config: None,
            home: None,
            metadata_host: None,
            metadata_probe_host: None,
            path: None,
            timeout: Duration::from_secs(30),
            metadata_probe_timeout: Duration::from_secs(1),
            gcloud_timeout: Duration::from_secs(20),
        }
    }
}

impl GoogleEnv {
    /// The process environment. Empty variables count as unset, as in Google's libraries.
    pub fn from_process() -> Self {
        fn var_os(name: &str) -> Option<OsString> {
            std::env::var_os(name).filter(|value| !value.is_empty())
        }
        Self {
            application_credentials: var_os("GOOGLE_APPLICATION_CREDENTIALS").map(PathBuf::from),
            cloudsdk_config: var_os("CLOUDSDK_CONFIG").map(PathBuf::from),
            home: var_os("HOME").map(PathBuf::from),
            metadata_host: var_os("GCE_METADATA_HOST").and_then(|v| v.into_string().ok()),
            metadata_probe_host: Some(DEFAULT_METADATA_PROBE_HOST.to_owned()),
            path: var_os("PATH"),
            ..Self::default()
        }
    }

    /// gcloud's ADC file, if a configuration directory is known.
    pub fn gcloud_adc_file(&self) -> Option<PathBuf> {
        let dir = match (&self.cloudsdk_config, &self.home) {
            (Some(config), _) => config.clone(),
            (None, Some(home)) => home.join(".config").join("gcloud"),
            (None, None) => return None,
        };
        Some(dir.join(ADC_FILE_NAME))
    }
}

/// An access token and where it came from.
pub struct GoogleToken {
    /// The bearer token, e.g. the password for user `oauth2accesstoken`.
    pub token: SecretString,
    /// Where it came from, for messages; never secret. E.g. ``metadata server `127.0.0.1:8080` ``.
    pub source: String,
}

impl fmt::Debug for GoogleToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleToken")
            .field("token", &"****")
            .field("source", &self.source)
            .finish()
    }
}

/// Why no token came back. Messages name the source and, where there was one, the HTTP status
/// and OAuth error code; never a token, key or response body.
#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    /// No source applied; `looked` says where we looked, one entry per place.
    #[error("no Google credentials found: {}", .looked.join("; "))]
    NotFound {
        /// Each place looked at and why it did not apply.
        looked: Vec<String>,
    },
    /// A source applied but did not produce a token.
    #[error("cannot get a Google access token from {source_name}: {message}")]
    Failed {
        /// The source, as in [`GoogleToken::source`].
        source_name: String,
        /// The HTTP status of the refusal, when a server refused.
        status: Option<u16>,
        /// What went wrong, without secrets.
        message: String,
    },
    /// A source did not answer in time.
    #[error("cannot get a Google access token from {source_name}: no answer within {}s", .after.as_secs_f32())]
    TimedOut {
        /// The source, as in [`GoogleToken::source`].
        source_name: String,
        /// The limit that passed.
        after: Duration,
    },
}

impl GoogleError {
    /// The `hint:` line with the likely fix, if there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            GoogleError::NotFound { .. } => Some(
                "run `gcloud auth application-default login`, set `GOOGLE_APPLICATION_CREDENTIALS` \
                 to a key or credential configuration file, or in GitHub Actions run \
                 google-github-actions/auth before shipimg"
                    .to_owned(),
            ),
            GoogleError::Failed {
                status: Some(400 | 401),
                ..
            } => Some(
                "the credentials were refused: renew them (`gcloud auth application-default \
                 login`, or a new key or workload identity configuration) and check the account \
                 is still enabled"
                    .to_owned(),
            ),
            GoogleError::Failed {
                status: Some(403), ..
            } => Some(
                "the account may not act as the service account it asks for: check its IAM roles \
                 (e.g. `roles/iam.workloadIdentityUser` or `roles/iam.serviceAccountTokenCreator`)"
                    .to_owned(),
            ),
            GoogleError::TimedOut { source_name, .. } if source_name.contains("gcloud") => Some(
                "run `gcloud auth print-access-token` yourself: it may be waiting for a login"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// Fetches a new access token, scoped to [`CLOUD_PLATFORM`], from the first source that applies
/// (see the module docs). Call it right before the token is used.
///
/// A source that applies but fails stops the search: a broken `GOOGLE_APPLICATION_CREDENTIALS`
/// must not silently fall through to another identity.
pub async fn access_token(env: &GoogleEnv) -> Result<GoogleToken, GoogleError> {
    let mut looked = Vec::new();

    match &env.application_credentials {
        Some(path) => {
            let origin = FileOrigin::EnvVar;
            let contents = read_credentials(path)
                .await
                .map_err(|err| failed(origin.name(path, None), None, read_error(&err)))?;
            return token_from_file(origin, path, contents, env).await;
        }
        None => looked.push("`GOOGLE_APPLICATION_CREDENTIALS` is not set".to_owned()),
    }

    match env.gcloud_adc_file() {
        Some(path) => match read_credentials(&path).await {
            Ok(contents) => {
                return token_from_file(FileOrigin::GcloudAdc, &path, contents, env).await;
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                looked.push(format!("no `{}`", path.display()));
            }
            Err(err) => {
                let source_name = FileOrigin::GcloudAdc.name(&path, None);
                return Err(failed(source_name, None, read_error(&err)));
            }
        },
        None => looked.push(
            "no gcloud configuration directory (neither `CLOUDSDK_CONFIG` nor `HOME` is set)"
                .to_owned(),
        ),
    }

    if let Some(host) = find_metadata_server(env, &mut looked).await {
        return token_from_metadata_server(&host, env).await;
    }

    match gcloud::find(env.path.as_deref()) {
        Some(program) => return gcloud::print_access_token(&program, env).await,
        None => looked.push("no `gcloud` on `PATH`".to_owned()),
    }

    Err(GoogleError::NotFound { looked })
}

/// Where a credentials file was found.
#[derive(Debug, Clone, Copy)]
enum FileOrigin {
    /// `GOOGLE_APPLICATION_CREDENTIALS`.
    EnvVar,
    /// gcloud's ADC file.
    GcloudAdc,
}

impl FileOrigin {
    /// The source's name for messages, with the file's kind once known.
    fn name(self, path: &Path, kind: Option<&str>) -> String {
        let file = match kind {
            Some("service_account") => format!("service account key `{}`", path.display()),
            Some(kind) => format!("{kind} file `{}`", path.display()),
            None => format!("`{}`", path.display()),
        };
        match self {
            FileOrigin::EnvVar => format!("`GOOGLE_APPLICATION_CREDENTIALS` ({file})"),
            FileOrigin::GcloudAdc => format!("gcloud's application default credentials ({file})"),
        }
    }
}

/// Reads a credentials file straight into a secret. Keys and refresh tokens live in these files,
/// and so does the GitHub Actions request token of a google-github-actions/auth file.
async fn read_credentials(path: &Path) -> std::io::Result<SecretSlice<u8>> {
    tokio::fs::read(path).await.map(SecretSlice::from)
}

fn read_error(err: &std::io::Error) -> String {
    format!("cannot read the file: {err}")
}

fn failed(source_name: String, status: Option<u16>, message: String) -> GoogleError {
    GoogleError::Failed {
        source_name,
        status,
        message,
    }
}

/// Runs the flow the file's `type` names.
async fn token_from_file(
    origin: FileOrigin,
    path: &Path,
    contents: SecretSlice<u8>,
    env: &GoogleEnv,
) -> Result<GoogleToken, GoogleError> {
    let json: serde_json::Value =
        serde_json::from_slice(contents.expose_secret()).map_err(|err| {
            failed(
                origin.name(path, None),
                None,
                failure::describe_json_error(&err),
            )
        })?;
    drop(contents);
    let kind = match json.get("type").and_then(serde_json::Value::as_str) {
        Some(kind) => kind.to_owned(),
        None => {
            let message = "it has no `type` field; expected a service account key or an \
                           `authorized_user`, `external_account` or \
                           `impersonated_service_account` file";
            return Err(failed(origin.name(path, None), None, message.to_owned()));
        }
    };
    let source_name = origin.name(path, Some(&kind));
    let scopes = [CLOUD_PLATFORM];
    let fetched = match kind.as_str() {
        "service_account" => {
            with_timeout(env.timeout, jwt_bearer::fetch_token(json, env.timeout)).await
        }
        "authorized_user" => {
            let built = user_account::Builder::new(json)
                .with_scopes(scopes)
                .build_access_token_credentials();
            fetch_with_crate(built, env.timeout).await
        }
        "external_account" => {
            let built = external_account::Builder::new(json)
                .with_scopes(scopes)
                .build_access_token_credentials();
            fetch_with_crate(built, env.timeout).await
        }
        "impersonated_service_account" => {
            let built = impersonated::Builder::new(json)
                .with_scopes(scopes)
                .build_access_token_credentials();
            fetch_with_crate(built, env.timeout).await
        }
        other => Err(Fetch::Failed(Diagnosis::message(format!(
            "unsupported credential type `{other}`"
        )))),
    };
    finish(fetched, source_name, env.timeout)
}

/// Decides whether a metadata server is there: `GCE_METADATA_HOST` is trusted, otherwise the
/// probe host must answer with `Metadata-Flavor: Google` within the probe timeout.
async fn find_metadata_server(env: &GoogleEnv, looked: &mut Vec<String>) -> Option<String> {
    if let Some(host) = &env.metadata_host {
        return Some(host.clone());
    }
    let Some(probe_host) = &env.metadata_probe_host else {
        looked.push("`GCE_METADATA_HOST` is not set".to_owned());
        return None;
    };
    if probe_metadata_server(probe_host, env.metadata_probe_timeout).await {
        Some(probe_host.clone())
    } else {
        looked.push(format!(
            "`GCE_METADATA_HOST` is not set and no metadata server answered at `{probe_host}` \
             within {}s",
            env.metadata_probe_timeout.as_secs_f32()
        ));
        None
    }
}

/// `GET http://HOST/` with `Metadata-Flavor: Google`, as Google's libraries probe: a metadata
/// server echoes the header. Never through a proxy.
async fn probe_metadata_server(host: &str, timeout: Duration) -> bool {
    let Ok(client) = reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    else {
        return false;
    };
    let request = client
        .get(format!("http://{host}/"))
        .header("Metadata-Flavor", "Google")
        .send();
    match tokio::time::timeout(timeout, request).await {
        Ok(Ok(response)) => response
            .headers()
            .get("metadata-flavor")
            .is_some_and(|value| value.as_bytes() == b"Google"),
        _ => false,
    }
}

/// The metadata server's token for the attached service account. No `scopes` parameter: GCE
/// and GKE hand out the scopes the instance was given regardless, as gcloud and
/// docker-credential-gcr rely on.
async fn token_from_metadata_server(
    host: &str,
    env: &GoogleEnv,
) -> Result<GoogleToken, GoogleError> {
    let source_name = format!("metadata server `{host}`");
    let built = mds::Builder::default()
        .with_endpoint(format!("http://{host}"))
        .build_access_token_credentials();
    finish(
        fetch_with_crate(built, env.timeout).await,
        source_name,
        env.timeout,
    )
}

/// How a flow ended short of a token.
enum Fetch {
    /// The time limit passed.
    TimedOut,
    /// It failed; the diagnosis is safe to show.
    Failed(Diagnosis),
}

/// Builds `google-cloud-auth` credentials and fetches one token with them, within `timeout`.
/// The crate's own HTTP clients have no timeout.
async fn fetch_with_crate(
    built: Result<AccessTokenCredentials, google_cloud_auth::build_errors::Error>,
    timeout: Duration,
) -> Result<SecretString, Fetch> {
    let credentials = built.map_err(|err| Fetch::Failed(failure::describe(&err)))?;
    let token = tokio::time::timeout(timeout, credentials.access_token())
        .await
        .map_err(|_| Fetch::TimedOut)?
        .map_err(|err| Fetch::Failed(failure::describe(&err)))?;
    Ok(SecretString::from(token.token))
}

async fn with_timeout(
    timeout: Duration,
    flow: impl Future<Output = Result<SecretString, Diagnosis>>,
) -> Result<SecretString, Fetch> {
    match tokio::time::timeout(timeout, flow).await {
        Ok(result) => result.map_err(Fetch::Failed),
        Err(_) => Err(Fetch::TimedOut),
    }
}

/// Turns a flow's outcome into the public result, refusing tokens that cannot be a bearer token.
fn finish(
    fetched: Result<SecretString, Fetch>,
    source_name: String,
    timeout: Duration,
) -> Result<GoogleToken, GoogleError> {
    match fetched {
        Ok(token) => {
            check_token(&token).map_err(|message| failed(source_name.clone(), None, message))?;
            Ok(GoogleToken {
                token,
                source: source_name,
            })
        }
        Err(Fetch::TimedOut) => Err(GoogleError::TimedOut {
            source_name,
            after: timeout,
        }),
        Err(Fetch::Failed(diagnosis)) => {
            Err(failed(source_name, diagnosis.status, diagnosis.message))
        }
    }
}

/// A bearer token is one non-empty run of visible ASCII; anything else would break the
/// `Authorization` header or the registry login it goes into.
fn check_token(token: &SecretString) -> Result<(), String> {
    let value = token.expose_secret();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the token it returned is empty or not a single printable word".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let token = GoogleToken {
            token: SecretString::from("ya29.canary-token"),
            source: "metadata server `127.0.0.1:1`".to_owned(),
        };
        let debug = format!("{token:?}");
        assert!(!debug.contains("canary"), "{debug}");
        assert!(
            debug.contains("****") && debug.contains("metadata server"),
            "{debug}"
        );
    }

    #[test]
    fn cloudsdk_config_wins_over_home_for_the_adc_file() {
        let env = GoogleEnv {
            cloudsdk_config: Some("/cfg".into()),
            home: Some("/home/u".into()),
            ..GoogleEnv::default()
        };
        assert_eq!(
            env.gcloud_adc_file(),
            Some(PathBuf::from("/cfg/application_default_credentials.json"))
        );
        let env = GoogleEnv {
            home: Some("/home/u".into()),
            ..GoogleEnv::default()
        };
        assert_eq!(
            env.gcloud_adc_file(),
            Some(PathBuf::from(
                "/home/u/.config/gcloud/application_default_credentials.json"
            ))
        );
        assert_eq!(GoogleEnv::default().gcloud_adc_file(), None);
    }

    #[test]
    fn source_names_say_where_and_what() {
        let path = Path::new("/w/gha-creds-1.json");
        assert_eq!(
            FileOrigin::EnvVar.name(path, Some("external_account")),
            "`GOOGLE_APPLICATION_CREDENTIALS` (external_account file `/w/gha-creds-1.json`)"
        );
        assert_eq!(
            FileOrigin::GcloudAdc.name(path, Some("service_account")),
            "gcloud's application default credentials (service account key `/w/gha-creds-1.json`)"
        );
    }

    #[test]
    fn tokens_with_whitespace_or_nothing_are_refused() {
        assert!(check_token(&SecretString::from("ya29.a0-b_c")).is_ok());
        for bad in ["", "two words", "line\n", "tab\t"] {
            let err = check_token(&SecretString::from(bad)).unwrap_err();
            assert!(!err.contains(bad) || bad.is_empty(), "{err}");
        }
    }

    #[test]
    fn not_found_lists_every_place_and_has_a_hint() {
        let err = GoogleError::NotFound {
            looked: vec!["a".into(), "b".into()],
        };
        assert_eq!(err.to_string(), "no Google credentials found: a; b");
        assert!(
            err.hint()
                .unwrap()
                .contains("gcloud auth application-default login")
        );
    }

    #[tokio::test]
    async fn unknown_credential_type_is_a_failure_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(
            &path,
            r#"{"type": "gdch_service_account", "secret": "s3cr3t"}"#,
        )
        .unwrap();
        let env = GoogleEnv {
            application_credentials: Some(path),
            ..GoogleEnv::default()
        };
        let err = access_token(&env).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("unsupported credential type `gdch_service_account`"),
            "{text}"
        );
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
