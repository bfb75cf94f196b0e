//! Registry logins from the docker CLI's config file (`$DOCKER_CONFIG/config.json` or
//! `~/.docker/config.json`) and the credential helpers it names, resolved the way `docker push`
//! resolves them, for one registry host at a time.
//!
//! # Which source wins
//!
//! For a host, the docker CLI (`cli/config/configfile/file.go`, `GetCredentialsStore`) picks
//! exactly one store, and so do we:
//!
//! 1. `credHelpers[host]`: run `docker-credential-NAME get`. An entry whose value is `""` opts the
//!    host out of the helpers and sends it to `auths`.
//! 2. otherwise `credsStore`, when set: run that helper. It holds the secrets of every host
//!    `docker login` saw, and leaves `{}` placeholders in `auths`.
//! 3. otherwise `auths`: the `auth` field (base64 `user:password`), `username`/`password`, or
//!    `identitytoken`.
//!
//! This differs from the order the issue lists (`auths` first): when a helper applies, docker
//! never reads a secret from `auths`, and a helper's "credentials not found" means no login, not
//! "try `auths`". Following docker means shipimg pushes with the login `docker push` would use.
//!
//! Only the helper for the host in use ever runs, so a broken or missing helper configured for
//! another registry cannot break this build (docker/for-linux#383). A helper that takes longer
//! than the timeout is killed.
//!
//! Keys match as the docker CLI matches them, slightly more forgivingly: a key may carry a
//! scheme and a path (`https://host/v1/`, `host/v2/`); both sides are compared as `host[:port]`,
//! ignoring ASCII case. Docker Hub's names ([`crate::reference::DOCKER_HUB_ALIASES`]) are one
//! registry, whose key and helper server URL is `https://index.docker.io/v1/`.
//!
//! Not read here: `DOCKER_AUTH_CONFIG` and `registrytoken` entries.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use crate::login::{Login, LoginKind};

/// What every credential helper's program name starts with.
const HELPER_PREFIX: &str = "docker-credential-";
/// The user name helpers and the docker CLI use to mark an identity token.
const TOKEN_USERNAME: &str = "<token>";
/// Docker Hub's key in `auths` and `credHelpers`, and the server URL its helper is asked for.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";
/// What a helper prints when it holds nothing for the server (docker-credential-helpers).
const NOT_FOUND_MESSAGE: &str = "credentials not found in native keychain";
/// How much of a helper's message an error quotes.
const MAX_DETAIL_CHARS: usize = 200;

/// Why no login could be read for a host. Messages fit on one line and never hold a secret.
#[derive(Debug, thiserror::Error)]
pub enum DockerConfigError {
    /// The config file exists but could not be read.
    #[error("cannot read docker config `{}`", .path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The config file, or the part of it that concerns this host, is malformed.
    #[error("docker config `{}` is invalid: {reason}", .path.display())]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// What is wrong, naming keys and fields, never values.
        reason: String,
    },
    /// The helper configured for this host is not an executable on the search path.
    #[error("credential helper `{helper}` for `{host}` is not an executable on PATH")]
    HelperNotFound {
        /// `docker-credential-NAME`.
        helper: String,
        /// The registry host.
        host: String,
    },
    /// The helper could not be started.
    #[error("cannot run credential helper `{helper}` for `{host}`")]
    HelperSpawn {
        /// `docker-credential-NAME`.
        helper: String,
        /// The registry host.
        host: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The helper failed, or answered with something other than credentials.
    #[error("credential helper `{helper}` failed for `{host}`: {reason}")]
    Helper {
        /// `docker-credential-NAME`.
        helper: String,
        /// The registry host.
        host: String,
        /// The helper's first line of output (withheld when it may hold a secret) and status.
        reason: String,
    },
    /// The helper did not answer in time and was killed.
    #[error("credential helper `{helper}` did not answer for `{host}` within {secs} s")]
    HelperTimeout {
        /// `docker-credential-NAME`.
        helper: String,
        /// The registry host.
        host: String,
        /// The timeout.
        secs: f64,
    },
}

impl crate::error::UserError for DockerConfigError {
    fn hint(&self) -> Option<String> {
        Some("fix the docker config or the credential helper, or log in with `docker login`".into())
    }
}

/// How credential helpers are found and run.
#[derive(Debug, Clone)]
pub struct HelperOptions {
    /// How long a helper may take before it is killed.
    pub timeout: Duration,
    /// Where to look for `docker-credential-NAME`, in `PATH` syntax; `None`: the process's
    /// `PATH`. The helper itself inherits the process's environment minus shipimg's secrets
    /// ([`crate::child_env`]).
    pub search_path: Option<OsString>,
}

impl HelperOptions {
    /// Helpers from the process's `PATH`, killed after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            search_path: None,
        }
    }
}

/// The docker CLI's config file: `$DOCKER_CONFIG/config.json`, else
/// `$HOME/.docker/config.json`; `None` when neither variable is set. `env` looks a variable up.
pub fn config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dir) = env("DOCKER_CONFIG").filter(|dir| !dir.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    env("HOME")
        .filter(|home| !home.is_empty())
        .map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

/// Finds the login for registry `host` (`host[:port]`, as in an image reference) in the config
/// file at `config_path`, running a credential helper from `PATH` when one applies (see the
/// module docs for the order). `Ok(None)`: no login, push anonymously. A missing config file is
/// no login, not an error.
pub async fn login_for(
    config_path: &Path,
    host: &str,
    timeout: Duration,
) -> Result<Option<Login>, DockerConfigError> {
    login_for_with(config_path, host, &HelperOptions::new(timeout)).await
}

/// [`login_for`], with explicit [`HelperOptions`].
pub async fn login_for_with(
    config_path: &Path,
    host: &str,
    options: &HelperOptions,
) -> Result<Option<Login>, DockerConfigError> {
    let bytes = match tokio::fs::read(config_path).await {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(DockerConfigError::Read {
                path: config_path.to_path_buf(),
                source,
            });
        }
    };
    let config = ConfigFile::parse(config_path, &bytes)?;
    let target = Target::new(host);
    match config.store_for(&target)? {
        Store::Helper { name, origin } => {
            tracing::debug!(host, helper = %name, origin, "docker config: asking a credential helper");
            run_helper(&name, origin, &target, options).await
        }
        Store::File => {
            tracing::debug!(host, "docker config: looking in auths");
            config.login_from_auths(&target)
        }
    }
}

/// The registry a login is wanted for.
struct Target {
    /// The host as the caller named it, for messages.
    host: String,
    /// `host[:port]`, lowercase, Docker Hub's aliases folded into `docker.io`: what keys match.
    canonical: String,
    /// The docker CLI's key for the host, and what its helper is asked for: the bare
    /// `host[:port]`, or `https://index.docker.io/v1/` for Docker Hub.
    server_url: String,
}

impl Target {
    fn new(host: &str) -> Self {
        let canonical = canonical_host(host);
        let server_url = if canonical == crate::reference::DOCKER_HUB {
            DOCKER_HUB_KEY.to_owned()
        } else {
            bare_host(host).to_owned()
        };
        Self {
            host: host.to_owned(),
            canonical,
            server_url,
        }
    }
}

/// `host[:port]` out of a registry key: without scheme, user info and path.
fn bare_host(key: &str) -> &str {
    let rest = key.split_once("://").map_or(key, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    authority.rsplit('@').next().unwrap_or_default()
}

/// What two keys must share to name one registry.
fn canonical_host(key: &str) -> String {
    let host = bare_host(key).to_ascii_lowercase();
    if crate::reference::is_docker_hub(&host) {
        crate::reference::DOCKER_HUB.to_owned()
    } else {
        host
    }
}

/// The store the docker CLI would use for a host.
enum Store {
    /// A credential helper, and which setting named it (`credHelpers` or `credsStore`).
    Helper { name: String, origin: &'static str },
    /// The `auths` section.
    File,
}

/// The parts of `config.json` that concern logins. Field names match ASCII-case-insensitively,
/// as Go's `encoding/json` matches them for the docker CLI.
struct ConfigFile<'a> {
    path: &'a Path,
    auths: Option<Map<String, Value>>,
    cred_helpers: Option<Map<String, Value>>,
    creds_store: Option<String>,
}

impl<'a> ConfigFile<'a> {
    fn parse(path: &'a Path, bytes: &[u8]) -> Result<Self, DockerConfigError> {
        let invalid = |reason: String| DockerConfigError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let empty = Self {
            path,
            auths: None,
            cred_helpers: None,
            creds_store: None,
        };
        // The docker CLI reads an empty file as an empty config.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(empty);
        }
        let value: Value =
            serde_json::from_slice(bytes).map_err(|err| invalid(json_reason(&err)))?;
        let mut top = match value {
            Value::Object(top) => top,
            Value::Null => return Ok(empty),
            _ => return Err(invalid("the top level is not a JSON object".into())),
        };
        let mut object_field = |name: &str| match take_field(&mut top, name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(invalid(format!("`{name}` is not a JSON object"))),
        };
        let auths = object_field("auths")?;
        let cred_helpers = object_field("credHelpers")?;
        let creds_store = match take_field(&mut top, "credsStore") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(name).filter(|name| !name.is_empty()),
            Some(_) => return Err(invalid("`credsStore` is not a string".into())),
        };
        Ok(Self {
            path,
            auths,
            cred_helpers,
            creds_store,
        })
    }

    fn invalid(&self, reason: String) -> DockerConfigError {
        DockerConfigError::Invalid {
            path: self.path.to_path_buf(),
            reason,
        }
    }

    /// `credHelpers[host]`, else `credsStore`, else `auths` (`GetCredentialsStore`).
    fn store_for(&self, target: &Target) -> Result<Store, DockerConfigError> {
        let helper = self
            .cred_helpers
            .as_ref()
            .and_then(|helpers| find_entry(helpers, target));
        let (name, origin) = match helper {
            Some((key, Value::String(name))) if name.is_empty() => {
                tracing::debug!(
                    key,
                    "docker config: credHelpers entry is empty, using auths"
                );
                return Ok(Store::File);
            }
            Some((_, Value::String(name))) => (name.clone(), "credHelpers"),
            Some((key, _)) => {
                return Err(self.invalid(format!("`credHelpers` entry `{key}` is not a string")));
            }
            None => match &self.creds_store {
                Some(name) => (name.clone(), "credsStore"),
                None => return Ok(Store::File),
            },
        };
        // The name becomes part of a program name: a path would run something else.
        if name.contains(['/', '\0']) {
            return Err(self.invalid(format!(
                "`{origin}` names helper `{name}`, which is not a plain name"
            )));
        }
        Ok(Store::Helper { name, origin })
    }

    /// The login in the `auths` entry for the host; `None` for no entry or an empty one.
    fn login_from_auths(&self, target: &Target) -> Result<Option<Login>, DockerConfigError> {
        let Some((key, entry)) = self
            .auths
            .as_ref()
            .and_then(|auths| find_entry(auths, target))
        else {
            return Ok(None);
        };
        let entry = match entry {
            Value::Object(entry) => entry,
            Value::Null => return Ok(None),
            _ => return Err(self.invalid(format!("`auths` entry `{key}` is not a JSON object"))),
        };
        let field = |name: &str| -> Result<String, DockerConfigError> {
            match get_field(entry, name) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(value)) => Ok(value.clone()),
                Some(_) => Err(self.invalid(format!(
                    "field `{name}` of `auths` entry `{key}` is not a string"
                ))),
            }
        };
        let auth = field("auth")?;
        let (username, password) = if auth.is_empty() {
            (field("username")?, SecretString::from(field("password")?))
        } else {
            decode_auth(&auth).map_err(|what| {
                self.invalid(format!(
                    "field `auth` of `auths` entry `{key}` is not {what}"
                ))
            })?
        };
        let identity_token = SecretString::from(field("identitytoken")?);
        let source = format!("docker config {} (auths)", self.path.display());
        if !identity_token.expose_secret().is_empty() {
            let username = if username.is_empty() {
                TOKEN_USERNAME.to_owned()
            } else {
                username
            };
            return Ok(Some(Login {
                username,
                secret: identity_token,
                kind: LoginKind::IdentityToken,
                source,
            }));
        }
        if username.is_empty() {
            if password.expose_secret().is_empty() {
                // `{}`: docker login wrote it for a credsStore that is no longer configured.
                return Ok(None);
            }
            return Err(self.invalid(format!(
                "`auths` entry `{key}` has a password but no username"
            )));
        }
        Ok(Some(Login {
            username,
            secret: password,
            kind: LoginKind::Password,
            source,
        }))
    }
}

/// The entry for the host: under the docker CLI's own key if present, else under the first key
/// (in sorted order) that names the same registry.
fn find_entry<'m>(map: &'m Map<String, Value>, target: &Target) -> Option<(&'m str, &'m Value)> {
    if let Some((key, value)) = map.get_key_value(&target.server_url) {
        return Some((key, value));
    }
    let sorted: BTreeMap<&String, &Value> = map.iter().collect();
    sorted
        .into_iter()
        .find(|(key, _)| canonical_host(key) == target.canonical)
        .map(|(key, value)| (key.as_str(), value))
}

/// A field by exact name, else by ASCII-case-insensitive name.
fn get_field<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// Removes and returns a field, matched as [`get_field`] matches.
fn take_field(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    if let Some(value) = map.remove(name) {
        return Some(value);
    }
    let key = map
        .keys()
        .find(|key| key.eq_ignore_ascii_case(name))?
        .clone();
    map.remove(&key)
}

/// A JSON error's text when it cannot hold the document's content, else only its position.
fn json_reason(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof => format!("not valid JSON: {err}"),
        Category::Data | Category::Io => format!(
            "unexpected JSON at line {} column {}",
            err.line(),
            err.column()
        ),
    }
}

/// Decodes the `auth` field, base64 of `user:password`, split at the first colon (the password
/// may hold colons). The error says what the field is not, without any of its content.
fn decode_auth(auth: &str) -> Result<(String, SecretString), &'static str> {
    // Padding optional: hand-written configs often drop it, and it carries no information.
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = ENGINE.decode(auth.trim()).map_err(|_| "base64")?;
    let text = String::from_utf8(bytes).map_err(|_| "base64 of UTF-8 text")?;
    let text = SecretString::from(text);
    match text.expose_secret().split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((
            user.to_owned(),
            // The docker CLI strips NUL padding some writers leave after the password.
            SecretString::from(password.trim_matches('\0').to_owned()),
        )),
        _ => Err("base64 of `user:password`"),
    }
}

/// Runs `docker-credential-NAME get` for the host, as the docker CLI's native store does.
async fn run_helper(
    name: &str,
    origin: &'static str,
    target: &Target,
    options: &HelperOptions,
) -> Result<Option<Login>, DockerConfigError> {
    let helper = format!("{HELPER_PREFIX}{name}");
    let search_path = options
        .search_path
        .clone()
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default();
    let Some(program) = find_executable(&helper, &search_path).await else {
        return Err(DockerConfigError::HelperNotFound {
            helper,
            host: target.host.clone(),
        });
    };
    // The environment is inherited minus shipimg's secrets: helpers need HOME, PATH, the D-Bus
    // session and their own settings (AWS_* for the ECR helper), and we add nothing.
    let mut command = tokio::process::Command::new(&program);
    let mut child = crate::child_env::prepare(&mut command, crate::child_env::Inherit::All)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| DockerConfigError::HelperSpawn {
            helper: helper.clone(),
            host: target.host.clone(),
            source,
        })?;
    let mut stdin = child.stdin.take();
    let exchange = async move {
        if let Some(stdin) = stdin.as_mut() {
            // A helper may exit without reading; its answer says what went wrong.
            match stdin.write_all(target.server_url.as_bytes()).await {
                Err(err) if err.kind() != io::ErrorKind::BrokenPipe => return Err(err),
                _ => {}
            }
        }
        drop(stdin);
        child.wait_with_output().await
    };
    // On timeout the child is dropped with the future, and kill_on_drop kills it.
    let output = match tokio::time::timeout(options.timeout, exchange).await {
        Ok(Ok(output)) => output,
        Ok(Err(source)) => {
            return Err(DockerConfigError::HelperSpawn {
                helper,
                host: target.host.clone(),
                source,
            });
        }
        Err(_) => {
            return Err(DockerConfigError::HelperTimeout {
                helper,
                host: target.host.clone(),
                secs: options.timeout.as_secs_f64(),
            });
        }
    };
    let source = format!("credential helper {helper} ({origin})");
    interpret_answer(output.status, &output.stdout, &output.stderr, source).map_err(|reason| {
        DockerConfigError::Helper {
            helper,
            host: target.host.clone(),
            reason,
        }
    })
}

/// Turns a helper's exit status and output into a login, no login, or an error's reason.
fn interpret_answer(
    status: ExitStatus,
    stdout: &[u8],
    stderr: &[u8],
    source: String,
) -> Result<Option<Login>, String> {
    let answer = serde_json::from_slice::<Value>(stdout).ok();
    let answer = answer.as_ref().and_then(Value::as_object);
    let field = |name: &str| {
        answer
            .and_then(|answer| get_field(answer, name))
            .and_then(Value::as_str)
    };
    if !status.success() {
        let stdout_text = String::from_utf8_lossy(stdout);
        if stdout_text.contains(NOT_FOUND_MESSAGE) {
            return Ok(None);
        }
        let detail = safe_detail(stderr, stdout, field("Secret"));
        return Err(format!("{detail} ({status})"));
    }
    // Never quote stdout here: it is the credentials, or part of them.
    if answer.is_none() {
        return Err("it printed something other than the credentials JSON".into());
    }
    // Missing fields are empty, as Go decodes them for the docker CLI.
    let username = field("Username").unwrap_or_default();
    let secret = field("Secret").unwrap_or_default();
    if username.is_empty() && secret.is_empty() {
        return Ok(None);
    }
    if username.is_empty() {
        return Err("it returned a secret but no username".into());
    }
    let kind = if username == TOKEN_USERNAME {
        LoginKind::IdentityToken
    } else {
        LoginKind::Password
    };
    Ok(Some(Login {
        username: username.to_owned(),
        secret: SecretString::from(secret.to_owned()),
        kind,
        source,
    }))
}

/// The first line a failed helper printed, preferring stderr, safe to show: a line that looks
/// like JSON is withheld, the secret the helper printed (if any) is masked, and it is cut short.
fn safe_detail(stderr: &[u8], stdout: &[u8], secret: Option<&str>) -> String {
    let first_line = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .map(str::to_owned)
    };
    let Some(mut line) = first_line(stderr).or_else(|| first_line(stdout)) else {
        return "no message".into();
    };
    if line.contains('{') {
        return "output withheld: it may hold a secret".into();
    }
    if let Some(secret) = secret.filter(|secret| !secret.is_empty()) {
        line = line.replace(secret, "****");
    }
    let mut detail: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_DETAIL_CHARS)
        .collect();
    if line.chars().count() > MAX_DETAIL_CHARS {
        detail.push('…');
    }
    detail
}

/// The first executable file called `name` in the directories of `search_path`.
async fn find_executable(name: &str, search_path: &OsStr) -> Option<PathBuf> {
    for dir in std::env::split_paths(search_path) {
        // An empty entry means the current directory to a shell; a helper is never looked up there.
        if dir.as_os_str().is_empty() {
            continue;
        }
        let candidate = dir.join(name);
        if let Ok(meta) = tokio::fs::metadata(&candidate).await
            && meta.is_file()
            && meta.permissions().mode() & 0o111 != 0
        {
            return Some(candidate);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use std::time::Instant;

    const TIMEOUT: Duration = Duration::from_secs(10);

    /// A temp dir holding a config file and a search path with the fixture helpers linked in.
    /// Symlinks, not copies: writing an executable while another test thread forks can make
    /// its exec fail with "text file busy".
    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new(config: &str) -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("config.json"), config).unwrap();
            let bin = dir.path().join("bin");
            std::fs::create_dir(&bin).unwrap();
            let fixtures =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/credential-helpers");
            for entry in std::fs::read_dir(&fixtures).unwrap() {
                let path = entry.unwrap().path();
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert!(mode & 0o111 != 0, "{} is not executable", path.display());
                std::os::unix::fs::symlink(&path, bin.join(path.file_name().unwrap())).unwrap();
            }
            Self { dir }
        }

        fn config(&self) -> PathBuf {
            self.dir.path().join("config.json")
        }

        fn options(&self, timeout: Duration) -> HelperOptions {
            HelperOptions {
                timeout,
                search_path: Some(self.dir.path().join("bin").into_os_string()),
            }
        }

        async fn login(&self, host: &str) -> Result<Option<Login>, DockerConfigError> {
            login_for_with(&self.config(), host, &self.options(TIMEOUT)).await
        }
    }

    fn auth(user_password: &str) -> String {
        STANDARD.encode(user_password)
    }

    fn auths_config(key: &str, entry: &str) -> String {
        format!(r#"{{"auths": {{"{key}": {entry}}}}}"#)
    }

    #[track_caller]
    fn assert_login(login: Option<Login>, username: &str, secret: &str, kind: LoginKind) {
        let login = login.expect("a login");
        assert_eq!(login.username, username);
        assert_eq!(login.secret.expose_secret(), secret);
        assert_eq!(login.kind, kind);
    }

    #[tokio::test]
    async fn auth_field_splits_at_the_first_colon() {
        let entry = format!(r#"{{"auth": "{}"}}"#, auth("ci:pa:ss:word"));
        let fx = Fixture::new(&auths_config("registry.example.com", &entry));
        let login = fx.login("registry.example.com").await.unwrap();
        let source = login.as_ref().unwrap().source.clone();
        assert_login(login, "ci", "pa:ss:word", LoginKind::Password);
        assert_eq!(
            source,
            format!("docker config {} (auths)", fx.config().display())
        );
    }

    #[tokio::test]
    async fn auth_field_without_padding_and_with_nul_padding() {
        let unpadded = auth("u:p").trim_end_matches('=').to_owned();
        let fx = Fixture::new(&auths_config(
            "a.example",
            &format!(r#"{{"auth": "{unpadded}"}}"#),
        ));
        assert_login(
            fx.login("a.example").await.unwrap(),
            "u",
            "p",
            LoginKind::Password,
        );

        let nul = auth("u:p\0\0");
        let fx = Fixture::new(&auths_config(
            "a.example",
            &format!(r#"{{"auth": "{nul}"}}"#),
        ));
        assert_login(
            fx.login("a.example").await.unwrap(),
            "u",
            "p",
            LoginKind::Password,
        );
    }

    #[tokio::test]
    async fn username_and_password_fields() {
        let fx = Fixture::new(&auths_config(
            "registry.example.com",
            r#"{"username": "ci", "password": "pw"}"#,
        ));
        assert_login(
            fx.login("registry.example.com").await.unwrap(),
            "ci",
            "pw",
            LoginKind::Password,
        );
    }

    #[tokio::test]
    async fn auth_field_wins_over_username_and_password_fields() {
        let entry = format!(
            r#"{{"auth": "{}", "username": "other", "password": "other"}}"#,
            auth("ci:pw")
        );
        let fx = Fixture::new(&auths_config("registry.example.com", &entry));
        assert_login(
            fx.login("registry.example.com").await.unwrap(),
            "ci",
            "pw",
            LoginKind::Password,
        );
    }

    #[tokio::test]
    async fn identity_token_takes_its_username_from_auth() {
        let entry = format!(
            r#"{{"auth": "{}", "identitytoken": "idt"}}"#,
            auth("me@example.com:")
        );
        let fx = Fixture::new(&auths_config("registry.example.com", &entry));
        assert_login(
            fx.login("registry.example.com").await.unwrap(),
            "me@example.com",
            "idt",
            LoginKind::IdentityToken,
        );
    }

    #[tokio::test]
    async fn identity_token_without_auth_is_sent_as_token_user() {
        let fx = Fixture::new(&auths_config(
            "registry.example.com",
            r#"{"identitytoken": "idt"}"#,
        ));
        assert_login(
            fx.login("registry.example.com").await.unwrap(),
            "<token>",
            "idt",
            LoginKind::IdentityToken,
        );
    }

    #[tokio::test]
    async fn field_names_match_case_insensitively_as_in_go() {
        let config = format!(
            r#"{{"Auths": {{"registry.example.com": {{"Auth": "{}"}}}}}}"#,
            auth("ci:pw")
        );
        let fx = Fixture::new(&config);
        assert_login(
            fx.login("registry.example.com").await.unwrap(),
            "ci",
            "pw",
            LoginKind::Password,
        );
    }

    #[tokio::test]
    async fn auths_keys_match_without_scheme_and_path() {
        let entry = format!(r#"{{"auth": "{}"}}"#, auth("ci:pw"));
        for key in [
            "registry.example.com",
            "https://registry.example.com",
            "http://registry.example.com/v1/",
            "registry.example.com/v2/",
            "https://Registry.Example.com/v2/",
        ] {
            let fx = Fixture::new(&auths_config(key, &entry));
            let login = fx.login("registry.example.com").await.unwrap();
            assert!(login.is_some(), "key {key}");
        }
        for (key, host) in [
            (
                "https://registry.example.com:5000/v2/",
                "registry.example.com:5000",
            ),
            ("localhost:5000", "localhost:5000"),
        ] {
            let fx = Fixture::new(&auths_config(key, &entry));
            assert!(fx.login(host).await.unwrap().is_some(), "key {key}");
        }
        // A port is part of the registry's name.
        for (key, host) in [
            ("registry.example.com:5000", "registry.example.com"),
            ("registry.example.com", "registry.example.com:5000"),
            ("other.example.com", "registry.example.com"),
            ("registry.example.com.evil", "registry.example.com"),
        ] {
            let fx = Fixture::new(&auths_config(key, &entry));
            assert!(
                fx.login(host).await.unwrap().is_none(),
                "key {key}, host {host}"
            );
        }
    }

    #[tokio::test]
    async fn docker_hub_aliases_name_one_registry() {
        let entry = format!(r#"{{"auth": "{}"}}"#, auth("hub:pw"));
        let keys = [
            "https://index.docker.io/v1/",
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "https://registry-1.docker.io/v2/",
        ];
        for key in keys {
            let fx = Fixture::new(&auths_config(key, &entry));
            for host in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
                let login = fx.login(host).await.unwrap();
                assert!(login.is_some(), "key {key}, host {host}");
            }
            assert!(fx.login("quay.io").await.unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn the_docker_cli_key_wins_over_an_alias() {
        let config = format!(
            r#"{{"auths": {{"docker.io": {{"auth": "{}"}}, "https://index.docker.io/v1/": {{"auth": "{}"}}}}}}"#,
            auth("alias:pw"),
            auth("canonical:pw")
        );
        let fx = Fixture::new(&config);
        let login = fx.login("docker.io").await.unwrap().unwrap();
        assert_eq!(login.username, "canonical");
    }

    #[tokio::test]
    async fn empty_entry_without_helpers_is_no_login() {
        let fx = Fixture::new(&auths_config("registry.example.com", "{}"));
        assert!(fx.login("registry.example.com").await.unwrap().is_none());
        let fx = Fixture::new(&auths_config(
            "registry.example.com",
            r#"{"email": "a@b.c"}"#,
        ));
        assert!(fx.login("registry.example.com").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn missing_or_empty_config_is_no_login() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope/config.json");
        let login = login_for(&missing, "registry.example.com", TIMEOUT)
            .await
            .unwrap();
        assert!(login.is_none());
        for text in [
            "",
            "  \n",
            "{}",
            "null",
            r#"{"auths": null, "credsStore": ""}"#,
        ] {
            let fx = Fixture::new(text);
            assert!(
                fx.login("registry.example.com").await.unwrap().is_none(),
                "{text:?}"
            );
        }
    }

    #[tokio::test]
    async fn invalid_json_names_the_file() {
        let fx = Fixture::new(r#"{"auths": {"registry.example.com": {"auth": "c2VjcmV0"}"#);
        let err = fx.login("registry.example.com").await.unwrap_err();
        assert!(matches!(err, DockerConfigError::Invalid { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "docker config `{}` is invalid: not valid JSON",
                fx.config().display()
            )),
            "{message}"
        );
        assert!(!message.contains("c2VjcmV0"), "{message}");
    }

    #[tokio::test]
    async fn wrong_types_are_reported_without_values() {
        for config in [
            r#"["canary-value"]"#,
            r#"{"auths": "canary-value"}"#,
            r#"{"credsStore": ["canary-value"]}"#,
            r#"{"auths": {"registry.example.com": "canary-value"}}"#,
            r#"{"auths": {"registry.example.com": {"auth": ["canary-value"]}}}"#,
            r#"{"credHelpers": {"registry.example.com": ["canary-value"]}}"#,
        ] {
            let fx = Fixture::new(config);
            let err = fx.login("registry.example.com").await.unwrap_err();
            assert!(
                matches!(err, DockerConfigError::Invalid { .. }),
                "{config}: {err:?}"
            );
            assert!(!err.to_string().contains("canary"), "{err}");
        }
    }

    #[tokio::test]
    async fn malformed_auth_is_an_error_without_its_content() {
        for bad in [
            "!!not base64!!".to_owned(),
            auth("no-colon-canary"),
            auth(":canary-password-without-user"),
        ] {
            let entry = format!(r#"{{"auth": "{bad}"}}"#);
            let fx = Fixture::new(&auths_config("registry.example.com", &entry));
            let err = fx.login("registry.example.com").await.unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains("field `auth` of `auths` entry `registry.example.com`"),
                "{message}"
            );
            assert!(
                !message.contains("canary") && !message.contains(&bad),
                "{message}"
            );
        }
    }

    #[tokio::test]
    async fn a_malformed_entry_for_another_host_does_not_matter() {
        let config = format!(
            r#"{{"auths": {{"other.example.com": {{"auth": "!!"}}, "registry.example.com": {{"auth": "{}"}}}}}}"#,
            auth("ci:pw")
        );
        let fx = Fixture::new(&config);
        assert!(fx.login("registry.example.com").await.unwrap().is_some());
    }

    #[test]
    fn config_path_prefers_docker_config() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        let both = env(&[("DOCKER_CONFIG", "/cfg"), ("HOME", "/home/u")]);
        assert_eq!(config_path(&both), Some(PathBuf::from("/cfg/config.json")));
        let home = env(&[("DOCKER_CONFIG", ""), ("HOME", "/home/u")]);
        assert_eq!(
            config_path(&home),
            Some(PathBuf::from("/home/u/.docker/config.json"))
        );
        assert_eq!(config_path(&env(&[])), None);
    }

    #[test]
    fn bare_host_strips_scheme_user_and_path() {
        for (key, host) in [
            ("registry.example.com", "registry.example.com"),
            ("https://registry.example.com", "registry.example.com"),
            ("http://registry.example.com/v1/", "registry.example.com"),
            ("registry.example.com/v2/", "registry.example.com"),
            (
                "https://user@registry.example.com:5000/v2/",
                "registry.example.com:5000",
            ),
            ("[::1]:5000/v2/", "[::1]:5000"),
        ] {
            assert_eq!(bare_host(key), host, "{key}");
        }
        assert_eq!(canonical_host("https://Index.Docker.IO/v1/"), "docker.io");
    }

    #[tokio::test]
    async fn debug_never_shows_the_secret() {
        let entry = format!(r#"{{"auth": "{}"}}"#, auth("ci:canary-pw"));
        let fx = Fixture::new(&auths_config("registry.example.com", &entry));
        let login = fx.login("registry.example.com").await.unwrap().unwrap();
        let debug = format!("{login:?}");
        assert!(
            !debug.contains("canary") && debug.contains("****"),
            "{debug}"
        );
    }

    // Credential helpers, run for real from tests/fixtures/credential-helpers.

    #[tokio::test]
    async fn cred_helper_answers_for_its_host() {
        let fx = Fixture::new(r#"{"credHelpers": {"registry.example.com": "shipimg-test"}}"#);
        let login = fx.login("registry.example.com").await.unwrap();
        assert_eq!(
            login.as_ref().unwrap().source,
            "credential helper docker-credential-shipimg-test (credHelpers)"
        );
        assert_login(
            login,
            "helper-user",
            "helper:pass:word",
            LoginKind::Password,
        );
    }

    #[tokio::test]
    async fn cred_helper_is_asked_for_the_bare_host_with_port() {
        let fx = Fixture::new(r#"{"credHelpers": {"https://localhost:5000/v2/": "shipimg-test"}}"#);
        assert_login(
            fx.login("localhost:5000").await.unwrap(),
            "local-user",
            "local-secret",
            LoginKind::Password,
        );
    }

    #[tokio::test]
    async fn docker_hub_helper_is_asked_for_the_index_url() {
        for key in ["https://index.docker.io/v1/", "docker.io"] {
            let config = format!(r#"{{"credHelpers": {{"{key}": "shipimg-test"}}}}"#);
            let fx = Fixture::new(&config);
            for host in ["docker.io", "registry-1.docker.io"] {
                assert_login(
                    fx.login(host).await.unwrap(),
                    "hub-user",
                    "hub-secret",
                    LoginKind::Password,
                );
            }
        }
    }

    #[tokio::test]
    async fn helper_token_username_means_identity_token() {
        let fx = Fixture::new(r#"{"credsStore": "shipimg-test"}"#);
        assert_login(
            fx.login("token.example.com").await.unwrap(),
            "<token>",
            "identity-token-value",
            LoginKind::IdentityToken,
        );
    }

    #[tokio::test]
    async fn helper_without_credentials_is_no_login() {
        let fx = Fixture::new(r#"{"credsStore": "shipimg-test"}"#);
        assert!(fx.login("unknown.example.com").await.unwrap().is_none());
        assert!(fx.login("empty.example.com").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn cred_helpers_win_over_creds_store_and_auths() {
        let config = format!(
            r#"{{"auths": {{"registry.example.com": {{"auth": "{}"}}}},
                "credsStore": "shipimg-broken",
                "credHelpers": {{"registry.example.com": "shipimg-test"}}}}"#,
            auth("from-auths:pw")
        );
        let fx = Fixture::new(&config);
        let login = fx.login("registry.example.com").await.unwrap().unwrap();
        assert_eq!(login.username, "helper-user");
    }

    /// The docker CLI's order, not the issue's: with a `credsStore`, `auths` is not read, even
    /// when the store has nothing for the host.
    #[tokio::test]
    async fn creds_store_wins_over_auths() {
        let config = format!(
            r#"{{"auths": {{"registry.example.com": {{"auth": "{a}"}}, "unknown.example.com": {{"auth": "{a}"}}}},
                "credsStore": "shipimg-test"}}"#,
            a = auth("from-auths:pw")
        );
        let fx = Fixture::new(&config);
        let login = fx.login("registry.example.com").await.unwrap().unwrap();
        assert_eq!(login.username, "helper-user");
        assert!(fx.login("unknown.example.com").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn creds_store_serves_docker_login_placeholders() {
        let config = r#"{"auths": {"registry.example.com": {}}, "credsStore": "shipimg-test"}"#;
        let fx = Fixture::new(config);
        let login = fx.login("registry.example.com").await.unwrap().unwrap();
        assert_eq!(login.username, "helper-user");
    }

    #[tokio::test]
    async fn empty_cred_helper_opts_out_of_creds_store() {
        let config = format!(
            r#"{{"auths": {{"registry.example.com": {{"auth": "{}"}}}},
                "credsStore": "shipimg-broken",
                "credHelpers": {{"registry.example.com": ""}}}}"#,
            auth("from-auths:pw")
        );
        let fx = Fixture::new(&config);
        let login = fx.login("registry.example.com").await.unwrap().unwrap();
        assert_eq!(login.username, "from-auths");
    }

    #[tokio::test]
    async fn broken_helper_for_another_host_does_not_matter() {
        let config = format!(
            r#"{{"auths": {{"registry.example.com": {{"auth": "{}"}}}},
                "credHelpers": {{"other.example.com": "shipimg-broken",
                                 "third.example.com": "shipimg-hang",
                                 "fourth.example.com": "shipimg-missing"}}}}"#,
            auth("from-auths:pw")
        );
        let fx = Fixture::new(&config);
        let started = Instant::now();
        let login = fx.login("registry.example.com").await.unwrap().unwrap();
        assert_eq!(login.username, "from-auths");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn broken_helper_for_this_host_is_an_error_quoting_it() {
        let fx = Fixture::new(r#"{"credHelpers": {"registry.example.com": "shipimg-broken"}}"#);
        let err = fx.login("registry.example.com").await.unwrap_err();
        assert!(matches!(err, DockerConfigError::Helper { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "credential helper `docker-credential-shipimg-broken` failed for `registry.example.com`: \
             shipimg-broken: the keychain is locked (exit status: 1)"
        );
    }

    #[tokio::test]
    async fn helper_errors_never_quote_its_secret() {
        let fx = Fixture::new(r#"{"credsStore": "shipimg-test"}"#);
        for host in ["leak-on-failure.example.com", "garbage.example.com"] {
            let err = fx.login(host).await.unwrap_err();
            assert!(matches!(err, DockerConfigError::Helper { .. }), "{err:?}");
            let message = format!("{err} {err:?}");
            assert!(!message.contains("canary"), "{message}");
        }
    }

    #[test]
    fn safe_detail_masks_withholds_and_shortens() {
        let detail = safe_detail(b"", b"bad token s3cr3t here\n", Some("s3cr3t"));
        assert_eq!(detail, "bad token **** here");
        let detail = safe_detail(b"\n  \n", b"", None);
        assert_eq!(detail, "no message");
        let detail = safe_detail(br#"{"Secret":"x"}"#, b"", None);
        assert!(!detail.contains('x'), "{detail}");
        let long = "e".repeat(1000);
        assert_eq!(
            safe_detail(long.as_bytes(), b"", None).chars().count(),
            MAX_DETAIL_CHARS + 1
        );
    }

    #[tokio::test]
    async fn hanging_helper_times_out_and_is_killed() {
        let fx = Fixture::new(r#"{"credHelpers": {"registry.example.com": "shipimg-hang"}}"#);
        let started = Instant::now();
        let err = login_for_with(
            &fx.config(),
            "registry.example.com",
            &fx.options(Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(
            matches!(err, DockerConfigError::HelperTimeout { .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "credential helper `docker-credential-shipimg-hang` did not answer for \
             `registry.example.com` within 1 s"
        );
    }

    #[tokio::test]
    async fn missing_helper_for_this_host_names_the_program() {
        let fx = Fixture::new(r#"{"credHelpers": {"registry.example.com": "shipimg-missing"}}"#);
        let err = fx.login("registry.example.com").await.unwrap_err();
        assert!(
            matches!(err, DockerConfigError::HelperNotFound { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("`docker-credential-shipimg-missing`"),
            "{err}"
        );
    }

    /// As with the docker CLI, a `credsStore` whose program is gone (a config copied from a
    /// Docker Desktop machine) fails every host that has no `credHelpers` entry.
    #[tokio::test]
    async fn missing_creds_store_is_an_error() {
        let config = format!(
            r#"{{"auths": {{"registry.example.com": {{"auth": "{}"}}}}, "credsStore": "shipimg-missing"}}"#,
            auth("from-auths:pw")
        );
        let fx = Fixture::new(&config);
        let err = fx.login("registry.example.com").await.unwrap_err();
        assert!(
            matches!(err, DockerConfigError::HelperNotFound { .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn non_executable_file_is_not_a_helper() {
        let fx = Fixture::new(r#"{"credsStore": "shipimg-plain"}"#);
        let plain = fx.dir.path().join("bin/docker-credential-shipimg-plain");
        std::fs::write(&plain, "#!/bin/sh\nexit 0\n").unwrap();
        let err = fx.login("registry.example.com").await.unwrap_err();
        assert!(
            matches!(err, DockerConfigError::HelperNotFound { .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn helper_name_with_a_slash_is_refused() {
        let fx = Fixture::new(r#"{"credsStore": "../../bin/sh"}"#);
        let err = fx.login("registry.example.com").await.unwrap_err();
        assert!(matches!(err, DockerConfigError::Invalid { .. }), "{err:?}");
    }
}
