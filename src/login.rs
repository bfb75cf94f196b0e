//! A registry login: the one type for a user name and secret shipimg holds for a registry,
//! wherever it was found (`SHIPIMG_REGISTRY_*`, a docker config, a credential helper, gcloud)
//! and whoever reads it: the engine's `X-Registry-Auth` header for a push, the BuildKit
//! session's answer when a build pulls a base image, the registry API's basic auth, and the
//! leak scan's needles. Finding logins is [`crate::credentials::registry`]'s job.

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

/// What a login's secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// A password (or an access token used as one): the engine's `password`.
    Password,
    /// An OAuth refresh token: the engine's `identitytoken`, not its `password`; a BuildKit
    /// session answers it with an empty user name.
    IdentityToken,
}

/// A login for one registry. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct Login {
    /// The user name (`oauth2accesstoken`, `_json_key_base64`, an account; `<token>` or the
    /// account name for an identity token).
    pub username: String,
    /// The password, token or identity token.
    pub secret: SecretString,
    /// What `secret` is.
    pub kind: LoginKind,
    /// Where it came from, for people: `SHIPIMG_REGISTRY_USERNAME/PASSWORD`,
    /// `docker config PATH (auths)`, `credential helper docker-credential-NAME (credHelpers)`.
    /// Never a secret.
    pub source: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("secret", &"****")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl Login {
    /// A password login.
    pub fn password(
        username: impl Into<String>,
        secret: SecretString,
        source: impl Into<String>,
    ) -> Self {
        Self {
            username: username.into(),
            secret,
            kind: LoginKind::Password,
            source: source.into(),
        }
    }

    /// The engine's `X-Registry-Auth` header for `server`: base64url JSON, as the docker CLI
    /// sends it.
    pub fn registry_auth_header(&self, server: &str) -> String {
        let json = match self.kind {
            LoginKind::IdentityToken => serde_json::json!({
                "identitytoken": self.secret.expose_secret(),
                "serveraddress": server,
            }),
            LoginKind::Password => serde_json::json!({
                "username": self.username,
                "password": self.secret.expose_secret(),
                "serveraddress": server,
            }),
        };
        base64::engine::general_purpose::URL_SAFE.encode(json.to_string())
    }

    /// The `X-Registry-Auth` header of an anonymous push: the engine wants one anyway.
    pub fn anonymous_auth_header() -> String {
        base64::engine::general_purpose::URL_SAFE.encode("{}")
    }

    /// The user name a BuildKit session's `Credentials` answer carries: none with an identity
    /// token, as the docker CLI answers.
    pub fn session_username(&self) -> &str {
        match self.kind {
            LoginKind::IdentityToken => "",
            LoginKind::Password => &self.username,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(header: &str) -> serde_json::Value {
        let bytes = base64::engine::general_purpose::URL_SAFE
            .decode(header)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn the_auth_header_is_base64url_json_and_debug_hides_the_secret() {
        let login = Login::password("_json_key_base64", SecretString::from("s3cret"), "test");
        let json = decode(&login.registry_auth_header("127.0.0.1:5555"));
        assert_eq!(json["username"], "_json_key_base64");
        assert_eq!(json["password"], "s3cret");
        assert_eq!(json["serveraddress"], "127.0.0.1:5555");
        assert!(json.get("identitytoken").is_none());
        assert!(!format!("{login:?}").contains("s3cret"));
        assert_eq!(login.session_username(), "_json_key_base64");
        assert_eq!(
            decode(&Login::anonymous_auth_header()),
            serde_json::json!({})
        );
    }

    #[test]
    fn an_identity_token_goes_as_a_token_without_a_user_name() {
        let login = Login {
            kind: LoginKind::IdentityToken,
            ..Login::password("<token>", SecretString::from("refresh-s3cret"), "test")
        };
        let json = decode(&login.registry_auth_header("europe-west4-docker.pkg.dev"));
        assert_eq!(json["identitytoken"], "refresh-s3cret");
        assert!(json.get("username").is_none() && json.get("password").is_none());
        assert_eq!(login.session_username(), "");
    }
}
