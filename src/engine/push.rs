//! `POST /images/{name}/push`: the engine pushes an image it holds, with the login we hand it in
//! `X-Registry-Auth`. Like `/build`, the answer is JSON lines that may fail in-band (HTTP 200,
//! then an `errorDetail`). bollard's push type drops the layer ids and the `aux` digest, so this
//! speaks the endpoint itself.
//!
//! The pushed manifest's digest comes in one of two forms, and this reads both:
//! - the classic image store (20.10 and later) ends with a status line and an `aux` line:
//!   `{"status":"TAG: digest: sha256:... size: N"}` then
//!   `{"progressDetail":{},"aux":{"Tag":"TAG","Digest":"sha256:...","Size":N}}`;
//! - the containerd image store (Docker 24 and later, the default from 29) writes only the
//!   status line (moby/moby#48331). Its digest is the pushed target: a manifest, or an index.
//!
//! The `aux` digest wins when both are there; a status line for another tag is ignored. The
//! digest is only the engine's word: `publish` confirms it with the registry either way.

use crate::login::Login;
use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;

use super::stream::{StreamError, read_json_lines};
use super::transport::Api;

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
    #[error("lost the connection to the engine at {address}")]
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
    /// The stream ended without an error and without a digest in either form.
    #[error("the engine ended the push without reporting a digest")]
    NoDigest,
}

impl PushError {
    /// Whether trying again may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, PushError::Transient { .. })
    }

    /// Whether the registry may hold the tag all the same, so only it can say: the stream broke,
    /// ended without a digest, or failed on the way (a reset after the manifest was stored, or a
    /// tag already holding this image). Not when the registry refused the login or the engine
    /// refused the request: nothing was pushed, and asking with that login tells nothing.
    pub fn may_have_reached_registry(&self) -> bool {
        !matches!(self, PushError::Denied { .. } | PushError::Rejected { .. })
    }
}

/// Sorts an in-band push error by what can be done about it.
///
/// A failure to reach the registry at all (refused, reset, closed connection, EOF, timeout) is
/// transient whatever else the message says; the containerd store wraps it as `failed to do
/// request: Head "https://REGISTRY/v2/.../blobs/sha256:..."`. HTTP status codes count only as
/// whole words: a digest or an upload id in a URL holds `401` and `403` often enough.
pub fn classify(message: &str) -> PushError {
    let lower = message.to_ascii_lowercase();
    let message = message.to_owned();
    const UNREACHABLE: &[&str] = &[
        "connection refused",
        "connection reset",
        "use of closed network connection",
        "broken pipe",
        "eof",
        "i/o timeout",
        "timeout",
        "no route to host",
        "network is unreachable",
    ];
    const DENIED: &[&str] = &[
        "unauthorized",
        "authentication required",
        "denied",
        "forbidden",
        "no basic auth credentials",
        "invalid username/password",
    ];
    const DENIED_CODES: &[&str] = &["401", "403"];
    const TRANSIENT: &[&str] = &[
        "toomanyrequests",
        "too many requests",
        "500 internal server error",
        "502 bad gateway",
        "503 service unavailable",
        "504 gateway timeout",
        "received unexpected http status: 5",
        "server error",
    ];
    const TRANSIENT_CODES: &[&str] = &["429"];
    let has = |needles: &[&str]| needles.iter().any(|needle| lower.contains(needle));
    let has_code = |codes: &[&str]| codes.iter().any(|code| contains_word(&lower, code));
    if has(UNREACHABLE) {
        PushError::Transient { message }
    } else if has(DENIED) || has_code(DENIED_CODES) {
        PushError::Denied { message }
    } else if has(TRANSIENT) || has_code(TRANSIENT_CODES) {
        PushError::Transient { message }
    } else {
        PushError::Failed { message }
    }
}

/// Whether `word` occurs in `text` with no letter or digit right before or after it.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
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
    #[serde(default, rename = "Tag")]
    tag: Option<String>,
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
    login: Option<&Login>,
    server: &str,
    on_event: &mut (dyn FnMut(PushEvent) + Send),
) -> Result<Pushed, PushError> {
    let path = format!(
        "/images/{}/push?tag={}",
        percent_path(repository),
        percent_path(tag)
    );
    let mut request = Request::post(path).header(hyper::header::HOST, "docker");
    // The engine wants the header even for anonymous pushes.
    let header = match login {
        Some(login) => login.registry_auth_header(server),
        None => Login::anonymous_auth_header(),
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
    let mut reader = PushReader::new(tag);
    read_json_lines(response, |line| reader.line(line, on_event))
        .await
        .map_err(|err| match err {
            StreamError::Rejected { status, message } => PushError::Rejected { status, message },
            StreamError::Broken(source) => engine_error(source),
        })?;
    reader.finish()
}

/// Reads one push's JSON lines: progress goes out as events, the digest (in either form) and the
/// first in-band error are kept for the end.
struct PushReader<'a> {
    tag: &'a str,
    from_aux: Option<Pushed>,
    from_status: Option<Pushed>,
    failure: Option<String>,
}

impl<'a> PushReader<'a> {
    fn new(tag: &'a str) -> Self {
        Self {
            tag,
            from_aux: None,
            from_status: None,
            failure: None,
        }
    }

    fn line(&mut self, line: &[u8], on_event: &mut (dyn FnMut(PushEvent) + Send)) {
        let Ok(line) = serde_json::from_slice::<PushLine>(line) else {
            return;
        };
        if let Some(message) = line.error_detail.and_then(|d| d.message).or(line.error) {
            self.failure.get_or_insert(message);
            return;
        }
        if let Some(Aux {
            tag,
            digest: Some(digest),
            size,
        }) = line.aux
        {
            if tag.is_none_or(|tag| tag == self.tag) {
                self.from_aux = Some(Pushed { digest, size });
            }
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
            (_, Some(status)) => {
                if let Some(pushed) = digest_status(&status, self.tag) {
                    self.from_status = Some(pushed);
                }
                on_event(PushEvent::Status(status));
            }
            _ => {}
        }
    }

    fn finish(self) -> Result<Pushed, PushError> {
        if let Some(message) = self.failure {
            return Err(classify(&message));
        }
        self.from_aux
            .or(self.from_status)
            .ok_or(PushError::NoDigest)
    }
}

/// `TAG: digest: sha256:HEX size: N`, the line both image stores write once the manifest is in
/// the registry (moby `distribution/push_v2.go`, `daemon/containerd/image_push.go`), for `tag`.
fn digest_status(status: &str, tag: &str) -> Option<Pushed> {
    let rest = status.strip_prefix(tag)?.strip_prefix(": digest: ")?;
    let (digest, size) = match rest.split_once(" size: ") {
        Some((digest, size)) => (digest, Some(size.trim().parse().ok()?)),
        None => (rest.trim(), None),
    };
    let (algorithm, hex) = digest.split_once(':')?;
    let well_formed = !algorithm.is_empty()
        && algorithm
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then(|| Pushed {
        digest: digest.to_owned(),
        size,
    })
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
            "unexpected status from HEAD request to https://r/v2/x/manifests/1: 401 Unauthorized",
            "received unexpected HTTP status: 403",
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
            "status 429",
            // Docker 28's containerd store, registry down; the digests hold `401` and `403`.
            "failed to do request: Head \"https://127.0.0.1:9/v2/shipimg-test/nowhere/blobs/sha256:586e90f7e1c2868d2ed4c972329994a37bbc3e2094015a362ccba2e6ec7e002e\": dial tcp 127.0.0.1:9: connect: connection refused",
            "failed to copy: failed to do request: Put \"http://127.0.0.1:5555/v2/x/blobs/uploads/0ced6148-d230-4898?_state=So\": write tcp 127.0.0.1:1->127.0.0.1:5555: use of closed network connection",
        ] {
            assert!(classify(message).is_transient(), "{message}");
        }
        for message in [
            "manifest invalid: manifest invalid",
            "blob upload unknown: sha256:4012403a",
        ] {
            assert!(
                matches!(classify(message), PushError::Failed { .. }),
                "{message}"
            );
        }
    }

    /// Feeds recorded lines to the reader: the events it sent and how the push ended.
    fn read(tag: &str, stream: &str) -> (Vec<PushEvent>, Result<Pushed, PushError>) {
        let mut events = Vec::new();
        let mut reader = PushReader::new(tag);
        for line in stream.lines() {
            reader.line(line.as_bytes(), &mut |event| events.push(event));
        }
        (events, reader.finish())
    }

    const DIGEST: &str = "sha256:104f6eab6b0d95fb43f3614ee0dfb73a9f4125078d07bedbd2917f7fa498fe49";

    /// Docker 20.10 (classic store), recorded from the sandbox engine: a first push, and the
    /// same tag again (`Layer already exists`). Both forms of the digest are there.
    const CLASSIC_FIRST: &str = r#"{"status":"The push refers to repository [127.0.0.1:5555/shipimg-record/busybox]"}
{"status":"Preparing","progressDetail":{},"id":"586e90f7e1c2"}
{"status":"Pushing","progressDetail":{"current":19968,"total":1984230},"progress":"[\u003e                                                  ]  19.97kB/1.984MB","id":"586e90f7e1c2"}
{"status":"Pushing","progressDetail":{"current":2129920,"total":1984230},"progress":"[==================================================\u003e]   2.13MB","id":"586e90f7e1c2"}
{"status":"Pushed","progressDetail":{},"id":"586e90f7e1c2"}
{"status":"rec1: digest: sha256:104f6eab6b0d95fb43f3614ee0dfb73a9f4125078d07bedbd2917f7fa498fe49 size: 527"}
{"progressDetail":{},"aux":{"Tag":"rec1","Digest":"sha256:104f6eab6b0d95fb43f3614ee0dfb73a9f4125078d07bedbd2917f7fa498fe49","Size":527}}"#;
    const CLASSIC_AGAIN: &str = r#"{"status":"The push refers to repository [127.0.0.1:5555/shipimg-record/busybox]"}
{"status":"Preparing","progressDetail":{},"id":"586e90f7e1c2"}
{"status":"Layer already exists","progressDetail":{},"id":"586e90f7e1c2"}
{"status":"rec1: digest: sha256:104f6eab6b0d95fb43f3614ee0dfb73a9f4125078d07bedbd2917f7fa498fe49 size: 527"}
{"progressDetail":{},"aux":{"Tag":"rec1","Digest":"sha256:104f6eab6b0d95fb43f3614ee0dfb73a9f4125078d07bedbd2917f7fa498fe49","Size":527}}"#;

    /// Docker 28.5 with the containerd image store, recorded from the sandbox's modern engine:
    /// a first push (the layer mounted from another repository of the registry) and the same
    /// tag again. No `aux` line; the digest is only in the last status line, and it is the
    /// image id (c2ad92...), as that store's ids are manifest digests.
    const CONTAINERD_FIRST: &str = r#"{"status":"The push refers to repository [127.0.0.1:5555/shipimg-record/busybox28]"}
{"status":"Mounted from shipimg-test/spy-15407","progressDetail":{},"id":"586e90f7e1c2"}
{"status":"rec1: digest: sha256:c2ad92fe5fcf557a3f40fa3c90c78fe97439212ef84c8aa06be40b27f8930667 size: 422"}"#;
    const CONTAINERD_AGAIN: &str = r#"{"status":"The push refers to repository [127.0.0.1:5555/shipimg-record/busybox28]"}
{"status":"Layer already exists","progressDetail":{},"id":"586e90f7e1c2"}
{"status":"rec1: digest: sha256:c2ad92fe5fcf557a3f40fa3c90c78fe97439212ef84c8aa06be40b27f8930667 size: 422"}"#;
    const CONTAINERD_DIGEST: &str =
        "sha256:c2ad92fe5fcf557a3f40fa3c90c78fe97439212ef84c8aa06be40b27f8930667";

    #[test]
    fn classic_store_stream_reports_the_aux_digest() {
        for stream in [CLASSIC_FIRST, CLASSIC_AGAIN] {
            let (events, pushed) = read("rec1", stream);
            let pushed = pushed.unwrap();
            assert_eq!(pushed.digest, DIGEST);
            assert_eq!(pushed.size, Some(527));
            assert!(
                events.contains(&PushEvent::Layer {
                    id: "586e90f7e1c2".into(),
                    status: if stream == CLASSIC_FIRST {
                        "Pushed"
                    } else {
                        "Layer already exists"
                    }
                    .into(),
                    current: None,
                    total: None,
                })
            );
        }
        // Without the status line, the aux line alone is enough.
        let aux_only: String = CLASSIC_FIRST
            .lines()
            .filter(|l| !l.contains(": digest: "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(read("rec1", &aux_only).1.unwrap().digest, DIGEST);
    }

    #[test]
    fn containerd_store_stream_reports_the_status_line_digest() {
        for (stream, layer) in [
            (CONTAINERD_FIRST, "Mounted from shipimg-test/spy-15407"),
            (CONTAINERD_AGAIN, "Layer already exists"),
        ] {
            assert!(!stream.contains("\"aux\""));
            let (events, pushed) = read("rec1", stream);
            let pushed = pushed.unwrap();
            assert_eq!(pushed.digest, CONTAINERD_DIGEST);
            assert_eq!(pushed.size, Some(422));
            assert_eq!(
                events,
                [
                    PushEvent::Status(
                        "The push refers to repository [127.0.0.1:5555/shipimg-record/busybox28]"
                            .into()
                    ),
                    PushEvent::Layer {
                        id: "586e90f7e1c2".into(),
                        status: layer.into(),
                        current: None,
                        total: None,
                    },
                    // The digest line is still shown, as on 20.10.
                    PushEvent::Status(format!("rec1: digest: {CONTAINERD_DIGEST} size: 422")),
                ]
            );
        }
    }

    #[test]
    fn a_stream_with_neither_form_has_no_digest() {
        let neither: String = CLASSIC_FIRST
            .lines()
            .filter(|l| !l.contains("digest") && !l.contains("Digest"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(matches!(read("rec1", &neither).1, Err(PushError::NoDigest)));
        assert!(PushError::NoDigest.may_have_reached_registry());
    }

    #[test]
    fn a_digest_for_another_tag_is_not_this_push() {
        let stream = CLASSIC_FIRST.replace("rec1", "other");
        assert!(matches!(read("rec1", &stream).1, Err(PushError::NoDigest)));
        let stream = CONTAINERD_FIRST.replace("rec1: ", "other: ");
        assert!(matches!(read("rec1", &stream).1, Err(PushError::NoDigest)));
    }

    #[test]
    fn an_error_after_the_digest_fails_the_push() {
        let stream = format!(
            "{CONTAINERD_FIRST}\n{}",
            r#"{"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}"#
        );
        let err = read("rec1", &stream).1.unwrap_err();
        assert!(
            err.is_transient() && err.may_have_reached_registry(),
            "{err:?}"
        );
    }

    #[test]
    fn digest_status_lines_are_read_strictly() {
        let line = |s: &str| digest_status(s, "1.0");
        assert_eq!(
            line(&format!("1.0: digest: {DIGEST} size: 527")),
            Some(Pushed {
                digest: DIGEST.into(),
                size: Some(527)
            })
        );
        assert_eq!(line(&format!("1.0: digest: {DIGEST}")).unwrap().size, None);
        for bad in [
            format!("1.01: digest: {DIGEST} size: 527"),
            format!("1.0: digest: {DIGEST} size: many"),
            "1.0: digest: sha256:xyz size: 1".to_owned(),
            "1.0: digest: sha256: size: 1".to_owned(),
            format!(
                "1.0: digest: {} size: 1",
                DIGEST.trim_start_matches("sha256:")
            ),
            "Pushed".to_owned(),
        ] {
            assert_eq!(line(&bad), None, "{bad}");
        }
        assert!(
            !PushError::Denied {
                message: "x".into()
            }
            .may_have_reached_registry()
        );
        assert!(
            !PushError::Rejected {
                status: 404,
                message: "x".into()
            }
            .may_have_reached_registry()
        );
    }
}
