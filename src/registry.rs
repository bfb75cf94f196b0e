//! Talking to a registry directly (distribution API v2), to confirm what a push left there:
//! the manifest digest a tag points at, and the config blob that manifest names (for an index,
//! the manifest of the image's platform, never an attestation). Handles the registry's own auth
//! dance: anonymous first, then HTTP basic, or a bearer token fetched from the realm the registry
//! names.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest as _, Sha256};

use crate::login::Login;
use crate::reference::{DOCKER_HUB, DOCKER_HUB_REGISTRY, Reference};

/// The media types shipimg accepts for a manifest.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// How long one registry request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The API base for a registry host: plain HTTP for loopback registries, which the engine also
/// treats as insecure by default, HTTPS for everything else; Docker Hub's API has a host of its
/// own.
fn base_url(host: &str) -> String {
    let host = if host == DOCKER_HUB {
        DOCKER_HUB_REGISTRY
    } else {
        host
    };
    let loopback =
        host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]");
    let scheme = if loopback { "http" } else { "https" };
    format!("{scheme}://{host}")
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

/// An image's platform, as an index and the engine name it: `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Platform {
    /// `linux`
    pub os: String,
    /// `amd64`, `arm64`
    pub architecture: String,
    /// `v8`, `v7`, when given.
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// Whether an index entry for `other` is this platform's image. A missing variant matches
    /// any: the engine and an index do not always both say `v8` for arm64.
    fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && match (&self.variant, &other.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
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
    /// The manifest is not one shipimg can read, or not the one asked for.
    #[error("the registry {host} served {what}, but {reason}")]
    BadManifest {
        host: String,
        what: String,
        reason: String,
    },
}

/// Asks the registry which manifest `reference` points at, logging in as it asks.
pub async fn manifest_digest(
    reference: &Reference,
    login: Option<&Login>,
) -> Result<ManifestInfo, RegistryError> {
    let mut client = Client::new(reference, login)?;
    let tag = reference.tag_or_latest();
    let what = format!("{}:{tag}", reference.name());
    let response = client.send(reqwest::Method::HEAD, tag, &what).await?;
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

/// The digest of the config blob of the image the manifest `digest` in `reference`'s repository
/// is: an image manifest's `config.digest`; for an index (a multi-platform image, or one with
/// attestation manifests), that of its manifest for `platform`, never an attestation's
/// (`unknown/unknown`). Each manifest read is checked against the digest it was asked by.
pub async fn config_digest(
    reference: &Reference,
    digest: &str,
    platform: Option<&Platform>,
    login: Option<&Login>,
) -> Result<String, RegistryError> {
    let mut client = Client::new(reference, login)?;
    let mut digest = digest.to_owned();
    // An index names manifests, not further indexes, for an image: one step down at most.
    for _ in 0..2 {
        let what = format!("{}@{digest}", reference.name());
        let bad = |reason: String| RegistryError::BadManifest {
            host: reference.host.clone(),
            what: what.clone(),
            reason,
        };
        let response = client.send(reqwest::Method::GET, &digest, &what).await?;
        let body = response
            .bytes()
            .await
            .map_err(|err| RegistryError::Unreachable {
                host: reference.host.clone(),
                reason: request_failure(&err),
            })?;
        if let Some(hex) = digest.strip_prefix("sha256:") {
            let actual = crate::hex::encode(&Sha256::digest(&body));
            if actual != hex {
                return Err(bad(format!("its content has the digest sha256:{actual}")));
            }
        }
        match read_manifest(&body, platform).map_err(bad)? {
            Manifest::Image { config } => return Ok(config),
            Manifest::Index { image } => digest = image,
        }
    }
    Err(RegistryError::BadManifest {
        host: reference.host.clone(),
        what: format!("{}@{digest}", reference.name()),
        reason: "it is an index inside an index".into(),
    })
}

/// What a manifest says about the image.
#[derive(Debug, PartialEq, Eq)]
enum Manifest {
    /// An image manifest: its config blob's digest.
    Image { config: String },
    /// An index: the digest of the manifest that is the image.
    Index { image: String },
}

/// Reads a manifest (Docker schema 2 or OCI) or an index (manifest list or OCI index).
fn read_manifest(body: &[u8], platform: Option<&Platform>) -> Result<Manifest, String> {
    #[derive(serde::Deserialize)]
    struct Json {
        #[serde(default)]
        config: Option<Descriptor>,
        #[serde(default)]
        manifests: Option<Vec<Descriptor>>,
    }
    let json: Json =
        serde_json::from_slice(body).map_err(|err| format!("it is not a manifest ({err})"))?;
    match (json.config, json.manifests) {
        (Some(config), _) => Ok(Manifest::Image {
            config: config.digest,
        }),
        (None, Some(manifests)) => pick_image(&manifests, platform).map(|d| Manifest::Index {
            image: d.digest.clone(),
        }),
        (None, None) => Err("it names neither a config nor manifests".into()),
    }
}

/// One entry of a manifest (`config`) or an index (`manifests`).
#[derive(Debug, serde::Deserialize)]
struct Descriptor {
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    annotations: std::collections::HashMap<String, String>,
}

impl Descriptor {
    /// BuildKit's attestation manifests (provenance, SBOM) sit in the index beside the image, as
    /// `unknown/unknown` with `vnd.docker.reference.type: attestation-manifest`.
    fn is_attestation(&self) -> bool {
        self.annotations
            .get("vnd.docker.reference.type")
            .is_some_and(|t| t == "attestation-manifest")
            || self
                .platform
                .as_ref()
                .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown")
    }
}

/// The manifest of an index that is the image: the one for `platform`, or, with no platform
/// to go by, the only one that is not an attestation.
fn pick_image<'m>(
    manifests: &'m [Descriptor],
    platform: Option<&Platform>,
) -> Result<&'m Descriptor, String> {
    let images: Vec<&Descriptor> = manifests.iter().filter(|d| !d.is_attestation()).collect();
    let listed = || {
        let names: Vec<String> = images
            .iter()
            .map(|d| {
                d.platform
                    .as_ref()
                    .map_or("no platform".into(), |p| p.to_string())
            })
            .collect();
        if names.is_empty() {
            "no image, only attestations".to_owned()
        } else {
            names.join(", ")
        }
    };
    match platform {
        Some(wanted) => images
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| wanted.matches(p)))
            .copied()
            .ok_or_else(|| format!("it is an index with no image for {wanted} ({})", listed())),
        None => match images[..] {
            [only] => Ok(only),
            _ => Err(format!(
                "it is an index of {} and no platform was given to choose by",
                listed()
            )),
        },
    }
}

/// Talks to one repository, logging in when the registry asks and keeping the login for the
/// next request.
struct Client<'a> {
    http: reqwest::Client,
    reference: &'a Reference,
    login: Option<&'a Login>,
    auth: Auth,
}

/// How requests are authorised, once the registry has said.
enum Auth {
    Anonymous,
    Basic,
    Bearer(SecretString),
}

impl<'a> Client<'a> {
    fn new(reference: &'a Reference, login: Option<&'a Login>) -> Result<Self, RegistryError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|err| RegistryError::Unreachable {
                host: reference.host.clone(),
                reason: err.to_string(),
            })?;
        Ok(Self {
            http,
            reference,
            login,
            auth: Auth::Anonymous,
        })
    }

    /// `METHOD /v2/<repository>/manifests/<tag or digest>`: a success, or the error status as
    /// [`RegistryError::Status`] naming `what`.
    async fn send(
        &mut self,
        method: reqwest::Method,
        tag_or_digest: &str,
        what: &str,
    ) -> Result<reqwest::Response, RegistryError> {
        let url = format!(
            "{}/v2/{}/manifests/{tag_or_digest}",
            base_url(&self.reference.host),
            self.reference.repository
        );
        let unreachable = |err: reqwest::Error| RegistryError::Unreachable {
            host: self.reference.host.clone(),
            reason: request_failure(&err),
        };
        let mut response = self
            .request(method.clone(), &url)
            .send()
            .await
            .map_err(unreachable)?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            let challenge = response
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            self.auth = if challenge.to_ascii_lowercase().starts_with("bearer") {
                match bearer_token(&self.http, &challenge, self.login)
                    .await
                    .map_err(unreachable)?
                {
                    Some(token) => Auth::Bearer(token),
                    None => Auth::Anonymous,
                }
            } else {
                Auth::Basic
            };
            response = self
                .request(method, &url)
                .send()
                .await
                .map_err(unreachable)?;
        }
        if !response.status().is_success() {
            return Err(RegistryError::Status {
                host: self.reference.host.clone(),
                status: response.status().as_u16(),
                what: what.to_owned(),
            });
        }
        Ok(response)
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let request = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, MANIFEST_TYPES);
        match (&self.auth, self.login) {
            (Auth::Bearer(token), _) => request.bearer_auth(token.expose_secret()),
            (Auth::Basic, Some(login)) => {
                request.basic_auth(&login.username, Some(login.secret.expose_secret()))
            }
            _ => request,
        }
    }
}

/// Why a request failed, in words that never carry the URL's query or a header.
fn request_failure(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

/// Follows a `Bearer realm=...,service=...,scope=...` challenge to a token.
async fn bearer_token(
    client: &reqwest::Client,
    challenge: &str,
    login: Option<&Login>,
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
    if let Some(login) = login {
        request = request.basic_auth(&login.username, Some(login.secret.expose_secret()));
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
    fn loopback_registries_are_plain_http_and_docker_hub_has_its_api_host() {
        let url = |reference: &str| base_url(&Reference::parse(reference).unwrap().host);
        assert_eq!(url("127.0.0.1:5555/a/b"), "http://127.0.0.1:5555");
        assert_eq!(url("localhost:5000/a"), "http://localhost:5000");
        assert_eq!(
            url("europe-west4-docker.pkg.dev/proj/repo/svc:1.2"),
            "https://europe-west4-docker.pkg.dev"
        );
        assert_eq!(url("python:3.11"), "https://registry-1.docker.io");
    }

    fn amd64() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }

    /// An OCI index as BuildKit writes it with attestations: the image, and its provenance as
    /// `unknown/unknown`, listed first here to prove it is skipped, not merely not reached.
    const INDEX_WITH_ATTESTATION: &str = r#"{
      "schemaVersion": 2,
      "mediaType": "application/vnd.oci.image.index.v1+json",
      "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": "sha256:aaaa", "size": 566,
         "annotations": {"vnd.docker.reference.digest": "sha256:bbbb",
                         "vnd.docker.reference.type": "attestation-manifest"},
         "platform": {"architecture": "unknown", "os": "unknown"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": "sha256:cccc", "size": 480,
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": "sha256:bbbb", "size": 480,
         "platform": {"architecture": "amd64", "os": "linux"}}
      ]
    }"#;

    #[test]
    fn an_index_gives_the_manifest_of_the_image_platform_never_an_attestation() {
        assert_eq!(
            read_manifest(INDEX_WITH_ATTESTATION.as_bytes(), Some(&amd64())),
            Ok(Manifest::Index {
                image: "sha256:bbbb".into()
            })
        );
        // The engine may leave the arm64 variant out.
        let arm64 = Platform {
            architecture: "arm64".into(),
            ..amd64()
        };
        assert_eq!(
            read_manifest(INDEX_WITH_ATTESTATION.as_bytes(), Some(&arm64)),
            Ok(Manifest::Index {
                image: "sha256:cccc".into()
            })
        );
        let s390x = Platform {
            architecture: "s390x".into(),
            ..amd64()
        };
        assert_eq!(
            read_manifest(INDEX_WITH_ATTESTATION.as_bytes(), Some(&s390x)),
            Err(
                "it is an index with no image for linux/s390x (linux/arm64/v8, linux/amd64)".into()
            )
        );
        assert!(
            read_manifest(INDEX_WITH_ATTESTATION.as_bytes(), None)
                .unwrap_err()
                .contains("no platform was given")
        );
    }

    #[test]
    fn a_single_image_index_needs_no_platform_and_an_attestation_alone_is_no_image() {
        let index = r#"{"manifests": [
            {"digest": "sha256:att", "platform": {"architecture": "unknown", "os": "unknown"}},
            {"digest": "sha256:img", "platform": {"architecture": "amd64", "os": "linux"}}]}"#;
        assert_eq!(
            read_manifest(index.as_bytes(), None),
            Ok(Manifest::Index {
                image: "sha256:img".into()
            })
        );
        let only = r#"{"manifests": [{"digest": "sha256:att",
            "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}]}"#;
        assert_eq!(
            read_manifest(only.as_bytes(), Some(&amd64())),
            Err(
                "it is an index with no image for linux/amd64 (no image, only attestations)".into()
            )
        );
    }

    #[test]
    fn an_image_manifest_gives_its_config_digest() {
        let docker = r#"{"schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "size": 1180, "digest": "sha256:conf"},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": 1, "digest": "sha256:layer"}]}"#;
        assert_eq!(
            read_manifest(docker.as_bytes(), Some(&amd64())),
            Ok(Manifest::Image {
                config: "sha256:conf".into()
            })
        );
        assert!(read_manifest(b"{}", None).is_err());
        assert!(read_manifest(b"<html>", None).is_err());
    }

    /// A registry on loopback that asks for HTTP basic auth and serves manifests by digest;
    /// answers `401` to requests without the login, and counts them.
    async fn fake_registry(
        manifests: Vec<(String, String)>,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let challenges = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = challenges.clone();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let request = String::from_utf8_lossy(&request).to_lowercase();
                let path = request.split(' ').nth(1).unwrap_or_default().to_owned();
                // `user:pass` in base64.
                let reply = if !request.contains("authorization: basic dxnlcjpwyxnz") {
                    counted.fetch_add(1, Ordering::SeqCst);
                    "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Basic realm=\"r\"\r\ncontent-length: 0\r\n\r\n".to_owned()
                } else {
                    match manifests.iter().find(|(d, _)| path.ends_with(d.as_str())) {
                        Some((_, body)) => format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        ),
                        None => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_owned(),
                    }
                };
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        (host, challenges)
    }

    fn digest_of(body: &str) -> String {
        format!("sha256:{}", crate::hex::encode(&Sha256::digest(body)))
    }

    #[tokio::test]
    async fn config_digest_follows_an_index_to_the_platform_manifest_with_one_login() {
        let image = r#"{"schemaVersion":2,"config":{"digest":"sha256:the-config","size":1}}"#;
        let attestation = r#"{"schemaVersion":2,"config":{"digest":"sha256:not-this","size":1}}"#;
        let index = format!(
            r#"{{"manifests":[
              {{"digest":"{}","platform":{{"architecture":"unknown","os":"unknown"}}}},
              {{"digest":"{}","platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            digest_of(attestation),
            digest_of(image)
        );
        let (host, challenges) = fake_registry(vec![
            (digest_of(&index), index.clone()),
            (digest_of(image), image.into()),
            (digest_of(attestation), attestation.into()),
        ])
        .await;
        let reference = Reference::parse(&format!("{host}/team/app:1")).unwrap();
        let login = Login::password("user", SecretString::from("pass"), "test");
        let login = Some(&login);
        let config = config_digest(&reference, &digest_of(&index), Some(&amd64()), login)
            .await
            .unwrap();
        assert_eq!(config, "sha256:the-config");
        assert_eq!(
            challenges.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "the login is kept for the second request"
        );
        // A manifest is taken only with the digest it was asked by.
        let (host, _) = fake_registry(vec![(digest_of(image), attestation.into())]).await;
        let reference = Reference::parse(&format!("{host}/team/app:1")).unwrap();
        let err = config_digest(&reference, &digest_of(image), None, login)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, RegistryError::BadManifest { reason, .. } if reason.contains(&digest_of(attestation))),
            "{err}"
        );
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
