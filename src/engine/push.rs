//! `POST /images/{name}/push`: the engine pushes an image it holds, with the login we hand it in
//! `X-Registry-Auth`. Like `/build`, the answer is JSON lines that may fail in-band (HTTP 200,
//! then an `errorDetail`); the last good line's `aux` carries the pushed manifest's digest.
//! bollard's push type drops the layer ids and the `aux` digest, so this speaks the endpoint
//! itself.

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use secrecy::{ExposeSecret, SecretString};

use super::stream::{StreamError, read_json_lines};
use super::transport::Api;

/// The login the engine uses for the registry.
#[derive(Clone)]
pub struct PushAuth {
    /// The user name (empty with an identity token).
    pub username: String,
    /// The password, token or identity token.
    pub secret: SecretString,
    /// The secret is an OAuth identity (refresh) token, not a password.
    pub identity_token: bool,
    /// The registry host, as `serveraddress`.
    pub server: String,
}

impl std::fmt::Debug for PushAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushAuth")
            .field("username", &self.username)
            .field("server", &self.server)
            .field("secret", &"****")
            .finish()
    }
}

impl PushAuth {
    /// The `X-Registry-Auth` header value: base64url JSON, as the docker CLI sends it.
    fn header(&self) -> String {
        let json = if self.identity_token {
            serde_json::json!({
                "identitytoken": self.secret.expose_secret(),
                "serveraddress": self.server,
            })
        } else {
            serde_json::json!({
                "username": self.username,
                "password": self.secret.expose_secret(),
                "serveraddress": self.server,
            })
        };
        base64::engine::general_purpose::URL_SAFE.encode(json.to_string())
    }
}

/// Progress of one push, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// A layer changed state (`Preparing`, `Waiting`, `Pushing`, `Pushed`, `Layer already
    /// exists`, `Retrying in 5 seconds`), with bytes sent when known.
    Layer {
        /// The short layer id.
        id: String,
        /// The engine's words.
        status: String,
        /// Bytes sent so far.
        current: Option<u64>,
        /// Bytes in all.
        total: Option<u64>,
    },
    /// A line about the whole push (`The push refers to repository [...]`).
    Status(String),
}

/// What the registry accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The manifest digest, `sha256:...`.
    pub digest: String,
    /// The manifest's size in bytes.
    pub size: Option<u64>,
}

/// Why a push failed, classified for the retry loop.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The engine could not be reached or the stream broke.
    #[error("lost the connection to the engine at {address}: {source}")]
    Engine {
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// The engine refused the request (no such image, bad name).
    #[error("{message}")]
    Rejected { status: u16, message: String },
    /// The registry refused the login: never retried.
    #[error("{message}")]
    Denied { message: String },
    /// A failure worth trying again: connection refused or reset, 5xx, 429.
    #[error("{message}")]
    Transient { message: String },
    /// Any other failure.
    #[error("{message}")]
    Failed { message: String },
    /// The stream ended without a digest.
    #[error("the engine ended the push without reporting a digest")]
    NoDigest,
}

impl PushError {
    /// Whether trying again may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, PushError::Transient { .. })
    }
}

/// Sorts an in-band push error by what can be done about it.
pub fn classify(message: &str) -> PushError {
    let lower = message.to_ascii_lowercase();
    let message = message.to_owned();
    const DENIED: &[&str] = &[
        "unauthorized",
        "authentication required",
        "denied",
        "forbidden",
        "no basic auth credentials",
        "invalid username/password",
        "401",
        "403",
    ];
    const TRANSIENT: &[&str] = &[
        "connection refused",
        "connection reset",
        "broken pipe",
        "eof",
        "i/o timeout",
        "timeout",
        "toomanyrequests",
        "too many requests",
        "429",
        "500 internal server error",
        "502 bad gateway",
        "503 service unavailable",
        "504 gateway timeout",
        "received unexpected http status: 5",
        "server error",
    ];
    if DENIED.iter().any(|needle| lower.contains(needle)) {
        PushError::Denied { message }
    } else if TRANSIENT.iter().any(|needle| lower.contains(needle)) {
        PushError::Transient { message }
    } else {
        PushError::Failed { message }
    }
}

#[derive(serde::Deserialize)]
struct PushLine {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "progressDetail")]
    progress: Option<ProgressDetail>,
    #[serde(default)]
    aux: Option<Aux>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
}

#[derive(serde::Deserialize)]
struct ProgressDetail {
    #[serde(default)]
    current: Option<u64>,
    #[serde(default)]
    total: Option<u64>,
}

#[derive(serde::Deserialize)]
struct Aux {
    #[serde(default, rename = "Digest")]
    digest: Option<String>,
    #[serde(default, rename = "Size")]
    size: Option<u64>,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
}

/// Pushes `repository:tag` from the engine. One attempt: the caller retries.
pub async fn push_image(
    api: &Api,
    repository: &str,
    tag: &str,
    auth: Option<&PushAuth>,
    on_event: &mut (dyn FnMut(PushEvent) + Send),
) -> Result<Pushed, PushError> {
    let path = format!(
        "/images/{}/push?tag={}",
        percent_path(repository),
        percent_path(tag)
    );
    let mut request = Request::post(path).header(hyper::header::HOST, "docker");
    // The engine wants the header even for anonymous pushes.
    let header = match auth {
        Some(auth) => auth.header(),
        None => base64::engine::general_purpose::URL_SAFE.encode("{}"),
    };
    request = request.header("X-Registry-Auth", header);
    let request = request
        .body(Empty::<Bytes>::new())
        .expect("push request is valid");
    let engine_error = |source| PushError::Engine {
        address: api.address().to_string(),
        source,
    };
    let response = api.send(request).await.map_err(engine_error)?;
    let mut pushed = None;
    let mut failure = None;
    let handle = |line: &[u8]| {
        let Ok(line) = serde_json::from_slice::<PushLine>(line) else {
            return;
        };
        if let Some(message) = line.error_detail.and_then(|d| d.message).or(line.error) {
            failure = Some(message);
            return;
        }
        if let Some(Aux {
            digest: Some(digest),
            size,
        }) = line.aux
        {
            pushed = Some(Pushed { digest, size });
            return;
        }
        match (line.id, line.status) {
            (Some(id), Some(status)) if !status.starts_with("The push refers") => {
                let (current, total) = line
                    .progress
                    .map(|p| (p.current, p.total))
                    .unwrap_or_default();
                on_event(PushEvent::Layer {
                    id,
                    status,
                    current,
                    total,
                });
            }
            (_, Some(status)) => on_event(PushEvent::Status(status)),
            _ => {}
        }
    };
    read_json_lines(response, handle)
        .await
        .map_err(|err| match err {
            StreamError::Rejected { status, message } => PushError::Rejected { status, message },
            StreamError::Broken(source) => engine_error(source),
        })?;
    if let Some(message) = failure {
        return Err(classify(&message));
    }
    pushed.ok_or(PushError::NoDigest)
}

/// Escapes what a path segment cannot hold; `/` stays, as the engine reads the name whole.
fn percent_path(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_sorted_by_what_helps() {
        for message in [
            "unauthorized: authentication required",
            "denied: requested access to the resource is denied",
            "Get \"https://r/v2/\": no basic auth credentials",
        ] {
            assert!(
                matches!(classify(message), PushError::Denied { .. }),
                "{message}"
            );
        }
        for message in [
            "Put \"http://127.0.0.1:5555/v2/x/blobs/uploads/\": dial tcp 127.0.0.1:5555: connect: connection refused",
            "write tcp 127.0.0.1:1->127.0.0.1:5555: write: connection reset by peer",
            "received unexpected HTTP status: 503 Service Unavailable",
            "toomanyrequests: quota exceeded",
            "unexpected EOF",
        ] {
            assert!(classify(message).is_transient(), "{message}");
        }
        assert!(matches!(
            classify("manifest invalid: manifest invalid"),
            PushError::Failed { .. }
        ));
    }

    #[test]
    fn auth_header_is_base64url_json_and_debug_hides_the_secret() {
        let auth = PushAuth {
            username: "_json_key_base64".into(),
            secret: SecretString::from("s3cret"),
            identity_token: false,
            server: "127.0.0.1:5555".into(),
        };
        let decoded = base64::engine::general_purpose::URL_SAFE
            .decode(auth.header())
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(json["username"], "_json_key_base64");
        assert_eq!(json["password"], "s3cret");
        assert_eq!(json["serveraddress"], "127.0.0.1:5555");
        assert!(!format!("{auth:?}").contains("s3cret"));
    }
}
