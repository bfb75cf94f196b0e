//! Talking to a registry directly (distribution API v2), to confirm what a push left there:
//! the manifest digest a tag points at. Handles the registry's own auth dance: anonymous first,
//! then HTTP basic, or a bearer token fetched from the realm the registry names.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

/// The media types shipimg accepts for a manifest.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// How long one registry request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `127.0.0.1:5555`, `europe-west4-docker.pkg.dev`, `docker.io`.
    pub host: String,
    /// `proj/repo/svc` (Docker Hub's official images get `library/`).
    pub repository: String,
    /// The tag (`latest` when none was given).
    pub tag: String,
    /// The name as it was written, without the tag (what the engine calls the image).
    pub written_name: String,
}

impl Reference {
    /// Parses `[host/]path[:tag]` as docker does (no digests).
    pub fn parse(reference: &str) -> Reference {
        let (name, tag) = match reference.rfind(':') {
            Some(colon) if colon > reference.rfind('/').unwrap_or(0) => {
                (&reference[..colon], reference[colon + 1..].to_owned())
            }
            _ => (reference, "latest".to_owned()),
        };
        let host = crate::context::dockerfile::registry_host(name);
        let path = match name.split_once('/') {
            Some((first, rest)) if first.eq_ignore_ascii_case(&host) => rest.to_owned(),
            _ => name.to_owned(),
        };
        let repository = if host == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Reference {
            host,
            repository,
            tag,
            written_name: name.to_owned(),
        }
    }

    /// `host/repository` as people write it.
    pub fn name(&self) -> String {
        format!("{}/{}", self.host, self.repository)
    }

    /// The API base: plain HTTP for loopback registries, which the engine also treats as
    /// insecure by default, HTTPS for everything else.
    fn base_url(&self) -> String {
        let host = if self.host == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.host
        };
        let loopback =
            host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]");
        let scheme = if loopback { "http" } else { "https" };
        format!("{scheme}://{host}")
    }
}

/// What the registry says a tag points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInfo {
    /// `sha256:...`
    pub digest: String,
    /// The manifest's media type.
    pub media_type: Option<String>,
    /// Its size in bytes.
    pub size: Option<u64>,
}

/// Why the registry did not confirm.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The request failed.
    #[error("cannot reach the registry {host}: {reason}")]
    Unreachable { host: String, reason: String },
    /// The registry answered with an error status.
    #[error("the registry {host} answered HTTP {status} for {what}")]
    Status {
        host: String,
        status: u16,
        what: String,
    },
    /// The answer lacked the digest.
    #[error("the registry {host} did not say the digest of {what}")]
    NoDigest { host: String, what: String },
}

/// Asks the registry which manifest `reference` points at, logging in as it asks.
pub async fn manifest_digest(
    reference: &Reference,
    login: Option<(&str, &SecretString)>,
) -> Result<ManifestInfo, RegistryError> {
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|err| RegistryError::Unreachable {
            host: reference.host.clone(),
            reason: err.to_string(),
        })?;
    let url = format!(
        "{}/v2/{}/manifests/{}",
        reference.base_url(),
        reference.repository,
        reference.tag
    );
    let what = format!("{}:{}", reference.name(), reference.tag);
    let unreachable = |err: reqwest::Error| RegistryError::Unreachable {
        host: reference.host.clone(),
        reason: if err.is_timeout() {
            "timed out".into()
        } else if err.is_connect() {
            "connection failed".into()
        } else {
            "request failed".into()
        },
    };
    let head = || {
        client
            .head(&url)
            .header(reqwest::header::ACCEPT, MANIFEST_TYPES)
    };
    let mut response = head().send().await.map_err(unreachable)?;
    if response.status() == reqwest::StatusCode::UNAUTHORIZED {
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let request = if challenge.to_ascii_lowercase().starts_with("bearer") {
            let token = bearer_token(&client, &challenge, login)
                .await
                .map_err(unreachable)?;
            match token {
                Some(token) => head().bearer_auth(token.expose_secret()),
                None => head(),
            }
        } else {
            match login {
                Some((user, secret)) => head().basic_auth(user, Some(secret.expose_secret())),
                None => head(),
            }
        };
        response = request.send().await.map_err(unreachable)?;
    }
    if !response.status().is_success() {
        return Err(RegistryError::Status {
            host: reference.host.clone(),
            status: response.status().as_u16(),
            what,
        });
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let digest = header("docker-content-digest").ok_or_else(|| RegistryError::NoDigest {
        host: reference.host.clone(),
        what: what.clone(),
    })?;
    Ok(ManifestInfo {
        digest,
        media_type: header("content-type"),
        size: header("content-length").and_then(|v| v.parse().ok()),
    })
}

/// Follows a `Bearer realm=...,service=...,scope=...` challenge to a token.
async fn bearer_token(
    client: &reqwest::Client,
    challenge: &str,
    login: Option<(&str, &SecretString)>,
) -> Result<Option<SecretString>, reqwest::Error> {
    let params = parse_challenge(challenge);
    let Some(realm) = params.iter().find(|(k, _)| k == "realm").map(|(_, v)| v) else {
        return Ok(None);
    };
    let query: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| k == "service" || k == "scope")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut request = client.get(realm).query(&query);
    if let Some((user, secret)) = login {
        request = request.basic_auth(user, Some(secret.expose_secret()));
    }
    let response = request.send().await?.error_for_status()?;
    #[derive(serde::Deserialize)]
    struct Token {
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        access_token: Option<String>,
    }
    let token: Token = response.json().await?;
    let token = token.token.or(token.access_token).map(SecretString::from);
    if let Some(token) = &token {
        crate::redact::register_text(token);
    }
    Ok(token)
}

/// `Bearer realm="https://r/token",service="r",scope="repository:x:pull"` -> pairs.
fn parse_challenge(challenge: &str) -> Vec<(String, String)> {
    let rest = challenge
        .split_once(' ')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    other => value.push(other),
                }
            }
            value
        } else {
            chars.by_ref().take_while(|c| *c != ',').collect()
        };
        out.push((key.trim().to_ascii_lowercase(), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_like_docker() {
        let r = Reference::parse("europe-west4-docker.pkg.dev/proj/repo/svc:1.2");
        assert_eq!(
            (r.host.as_str(), r.repository.as_str(), r.tag.as_str()),
            ("europe-west4-docker.pkg.dev", "proj/repo/svc", "1.2")
        );
        let r = Reference::parse("127.0.0.1:5555/a/b");
        assert_eq!(
            (r.host.as_str(), r.repository.as_str(), r.tag.as_str()),
            ("127.0.0.1:5555", "a/b", "latest")
        );
        assert_eq!(r.base_url(), "http://127.0.0.1:5555");
        let r = Reference::parse("python:3.11");
        assert_eq!(
            (r.host.as_str(), r.repository.as_str()),
            ("docker.io", "library/python")
        );
        assert_eq!(r.base_url(), "https://registry-1.docker.io");
    }

    #[test]
    fn challenges_parse_with_quotes_and_commas() {
        let params = parse_challenge(
            r#"Bearer realm="https://europe-docker.pkg.dev/v2/token",service="europe-docker.pkg.dev",scope="repository:p/r/s:pull,push""#,
        );
        assert_eq!(
            params,
            [
                (
                    "realm".to_owned(),
                    "https://europe-docker.pkg.dev/v2/token".to_owned()
                ),
                ("service".to_owned(), "europe-docker.pkg.dev".to_owned()),
                ("scope".to_owned(), "repository:p/r/s:pull,push".to_owned()),
            ]
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            [("realm".to_owned(), "Registry Realm".to_owned())]
        );
    }
}
