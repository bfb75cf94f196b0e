//! The credential guard: files that look like credentials are left out of the build context
//! unless the user opts one back in, because a context file is one `COPY` away from an image
//! layer, and even a discarded build stage keeps it in the build cache.
//!
//! Some kinds are known by name alone (`.netrc`, `id_rsa`); others only by what they hold
//! (`pip.conf` with a password in a URL, a JSON service-account key, a PEM private key).

use std::fmt;

use regex::bytes::Regex;
use std::sync::LazyLock;

/// Content checks read at most this much of a file; credential files are small.
pub const CONTENT_PEEK: u64 = 1 << 20;

/// A kind of credential file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// `.netrc` / `_netrc`: machine passwords.
    Netrc,
    /// `.pypirc`: upload credentials.
    Pypirc,
    /// `pip.conf` / `pip.ini` with a password in an index URL.
    PipConfig,
    /// `.npmrc` with an auth token or password.
    Npmrc,
    /// `.docker/config.json`: registry logins.
    DockerConfig,
    /// `.git-credentials`: git passwords and tokens.
    GitCredentials,
    /// `gha-creds-*.json`: what google-github-actions/auth writes into the workspace.
    GhaCredentials,
    /// A Google service-account key or gcloud user credentials (JSON).
    GoogleCredentials,
    /// A private key (`id_rsa`, `id_ed25519`, a PEM private key block).
    PrivateKey,
    /// A `.env` file: environment secrets.
    DotEnv,
}

impl CredentialKind {
    /// Why this kind must not be sent, for the warning.
    pub fn reason(self) -> &'static str {
        match self {
            CredentialKind::Netrc => "a netrc file holds passwords",
            CredentialKind::Pypirc => "a .pypirc holds package upload credentials",
            CredentialKind::PipConfig => "this pip config has a password in an index URL",
            CredentialKind::Npmrc => "this .npmrc holds an npm auth token or password",
            CredentialKind::DockerConfig => "a docker config holds registry logins",
            CredentialKind::GitCredentials => "a .git-credentials file holds git passwords",
            CredentialKind::GhaCredentials => {
                "google-github-actions/auth writes Google credentials to gha-creds-*.json"
            }
            CredentialKind::GoogleCredentials => "this JSON is a Google credential key",
            CredentialKind::PrivateKey => "this is a private key",
            CredentialKind::DotEnv => "a .env file holds environment secrets",
        }
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// What the name alone says about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameVerdict {
    /// Not a credential file.
    Clean,
    /// A credential file by its name alone.
    Credential(CredentialKind),
    /// May be a credential of this kind: look at its content with [`content_is_credential`].
    CheckContent(CredentialKind),
}

/// Classifies a context-relative, `/`-separated path by its name.
pub fn classify_name(rel_path: &[u8]) -> NameVerdict {
    let name = match rel_path.iter().rposition(|&b| b == b'/') {
        Some(i) => &rel_path[i + 1..],
        None => rel_path,
    };
    use CredentialKind::*;
    match name {
        b".netrc" | b"_netrc" => return NameVerdict::Credential(Netrc),
        b".pypirc" => return NameVerdict::Credential(Pypirc),
        b".git-credentials" => return NameVerdict::Credential(GitCredentials),
        b"id_rsa" | b"id_dsa" | b"id_ecdsa" | b"id_ed25519" | b"id_ecdsa_sk" | b"id_ed25519_sk" => {
            return NameVerdict::Credential(PrivateKey);
        }
        b"pip.conf" | b"pip.ini" => return NameVerdict::CheckContent(PipConfig),
        b".npmrc" => return NameVerdict::CheckContent(Npmrc),
        _ => {}
    }
    if rel_path == b".docker/config.json" || rel_path.ends_with(b"/.docker/config.json") {
        return NameVerdict::Credential(DockerConfig);
    }
    if name.starts_with(b"gha-creds-") && name.ends_with(b".json") {
        return NameVerdict::Credential(GhaCredentials);
    }
    if name == b".env" || is_dotenv_variant(name) {
        return NameVerdict::Credential(DotEnv);
    }
    if name.ends_with(b".json") {
        return NameVerdict::CheckContent(GoogleCredentials);
    }
    if name.ends_with(b".pem") || name.ends_with(b".key") {
        return NameVerdict::CheckContent(PrivateKey);
    }
    NameVerdict::Clean
}

/// `.env.production` is a credential file; `.env.example` and friends are templates.
fn is_dotenv_variant(name: &[u8]) -> bool {
    let Some(suffix) = name.strip_prefix(b".env.") else {
        return false;
    };
    !matches!(
        suffix,
        b"example" | b"sample" | b"template" | b"dist" | b"defaults"
    )
}

static URL_WITH_PASSWORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:[^/\s@]+@").unwrap());
static NPM_AUTH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)(_authToken|_auth|_password)\s*=\s*\S").unwrap());
static GOOGLE_TYPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""type"\s*:\s*"(service_account|authorized_user)""#).unwrap());
static GOOGLE_SECRET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""(private_key|refresh_token)"\s*:\s*""#).unwrap());
static PEM_PRIVATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----").unwrap());

/// Whether a file whose name asked for a content check holds a credential of that kind.
/// `head` is at most [`CONTENT_PEEK`] bytes from the start of the file.
pub fn content_is_credential(kind: CredentialKind, head: &[u8]) -> bool {
    match kind {
        CredentialKind::PipConfig => URL_WITH_PASSWORD.is_match(head),
        CredentialKind::Npmrc => NPM_AUTH.is_match(head),
        CredentialKind::GoogleCredentials => {
            GOOGLE_TYPE.is_match(head) && GOOGLE_SECRET.is_match(head)
        }
        CredentialKind::PrivateKey => PEM_PRIVATE.is_match(head),
        // Name-only kinds are credentials whatever they hold.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CredentialKind::*;

    #[test]
    fn names_that_are_credentials() {
        for (path, kind) in [
            (".netrc", Netrc),
            ("deploy/_netrc", Netrc),
            (".pypirc", Pypirc),
            (".git-credentials", GitCredentials),
            (".docker/config.json", DockerConfig),
            ("home/u/.docker/config.json", DockerConfig),
            ("gha-creds-3f2a1b.json", GhaCredentials),
            ("keys/id_rsa", PrivateKey),
            ("id_ed25519", PrivateKey),
            (".env", DotEnv),
            ("svc/.env.production", DotEnv),
        ] {
            assert_eq!(
                classify_name(path.as_bytes()),
                NameVerdict::Credential(kind),
                "{path}"
            );
        }
    }

    #[test]
    fn names_that_need_a_look_inside() {
        for (path, kind) in [
            ("pip.conf", PipConfig),
            ("etc/pip.ini", PipConfig),
            (".npmrc", Npmrc),
            ("key.json", GoogleCredentials),
            ("certs/server.pem", PrivateKey),
            ("tls.key", PrivateKey),
            // Not a docker config: only a JSON key could make it a credential.
            ("docker/config.json", GoogleCredentials),
        ] {
            assert_eq!(
                classify_name(path.as_bytes()),
                NameVerdict::CheckContent(kind),
                "{path}"
            );
        }
    }

    #[test]
    fn ordinary_names_are_clean() {
        for path in [
            "src/app.py",
            ".env.example",
            ".envrc.md",
            "id_rsa.pub",
            "netrc.md",
            "config.json.bak",
            ".docker/daemon.yaml",
        ] {
            assert_eq!(classify_name(path.as_bytes()), NameVerdict::Clean, "{path}");
        }
    }

    #[test]
    fn content_decides_for_configs_and_keys() {
        assert!(content_is_credential(
            PipConfig,
            b"[global]\nindex-url = https://user:s3cret@pypi.example/simple\n"
        ));
        assert!(!content_is_credential(
            PipConfig,
            b"[global]\nindex-url = https://pypi.example/simple\n"
        ));
        assert!(content_is_credential(
            Npmrc,
            b"//registry.npmjs.org/:_authToken=abc123\n"
        ));
        assert!(!content_is_credential(
            Npmrc,
            b"registry=https://registry.npmjs.org/\n"
        ));
        assert!(content_is_credential(
            GoogleCredentials,
            br#"{"type": "service_account", "project_id": "p", "private_key": "-----BEGIN"}"#
        ));
        assert!(content_is_credential(
            GoogleCredentials,
            br#"{"client_id":"x","refresh_token":"1//abc","type":"authorized_user"}"#
        ));
        assert!(!content_is_credential(
            GoogleCredentials,
            br#"{"type": "service_account_template", "name": "x"}"#
        ));
        assert!(!content_is_credential(GoogleCredentials, br#"{"a": 1}"#));
        assert!(content_is_credential(
            PrivateKey,
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n"
        ));
        assert!(content_is_credential(
            PrivateKey,
            b"-----BEGIN PRIVATE KEY-----\nMIIE\n"
        ));
        assert!(!content_is_credential(
            PrivateKey,
            b"-----BEGIN CERTIFICATE-----\nMIIE\n"
        ));
    }
}
