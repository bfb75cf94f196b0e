//! `POST /build?version=2`: a BuildKit build through the Engine API, with the context either as
//! a tar request body or served over the session (`remote=client-session`, an empty body), and
//! a session for secrets. The answer is a stream of JSON lines carrying
//! BuildKit status as base64 protobuf; a failure after streaming began arrives in-band (HTTP
//! 200, then an `errorDetail` line), so the stream is read to its end before success is known.

use std::collections::BTreeMap;

use base64::Engine as _;
use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;
use bytes::Bytes;
use futures_util::Stream;
use http_body_util::{BodyExt, StreamBody};
use hyper::Request;
use hyper::body::Frame;
use prost::Message as _;

use super::stream::{StreamError, read_json_lines};
use super::transport::{self, Api};

/// The build parameters, as `/build` takes them.
#[derive(Debug, Clone, Default)]
pub struct BuildParams {
    /// `t`, repeated.
    pub tags: Vec<String>,
    /// Path of the Dockerfile inside the context stream.
    pub dockerfile: String,
    /// `target`: the stage to build.
    pub target: Option<String>,
    /// `buildargs`.
    pub build_args: BTreeMap<String, String>,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
    /// `networkmode`: `default`, `host` or `none`.
    pub network: Option<String>,
    /// `nocache`.
    pub no_cache: bool,
    /// `pull`: always pull base images.
    pub pull: bool,
    /// `platform`.
    pub platform: Option<String>,
    /// The session that serves secrets.
    pub session_id: String,
    /// The id that `/build/cancel` takes.
    pub build_id: String,
    /// `remote=client-session`: the engine pulls the context over the session (file sync)
    /// instead of reading it from the request body.
    pub context_from_session: bool,
}

impl BuildParams {
    /// The request path with its query string.
    pub fn path(&self) -> String {
        let mut query = vec![
            ("version", "2".to_owned()),
            ("session", self.session_id.clone()),
            ("buildid", self.build_id.clone()),
            ("dockerfile", self.dockerfile.clone()),
            ("rm", "1".to_owned()),
        ];
        if self.context_from_session {
            query.push(("remote", "client-session".to_owned()));
        }
        for tag in &self.tags {
            query.push(("t", tag.clone()));
        }
        if let Some(target) = &self.target {
            query.push(("target", target.clone()));
        }
        if !self.build_args.is_empty() {
            query.push((
                "buildargs",
                serde_json::to_string(&self.build_args).expect("a string map serialises"),
            ));
        }
        if !self.labels.is_empty() {
            query.push((
                "labels",
                serde_json::to_string(&self.labels).expect("a string map serialises"),
            ));
        }
        if let Some(network) = &self.network {
            query.push(("networkmode", network.clone()));
        }
        if self.no_cache {
            query.push(("nocache", "1".to_owned()));
        }
        if self.pull {
            query.push(("pull", "1".to_owned()));
        }
        if let Some(platform) = &self.platform {
            query.push(("platform", platform.clone()));
        }
        let encoded: Vec<String> = query
            .into_iter()
            .map(|(k, v)| format!("{k}={}", transport::query_escape(&v)))
            .collect();
        format!("/build?{}", encoded.join("&"))
    }
}

/// One decoded message of the build stream.
#[derive(Debug)]
pub enum BuildMessage {
    /// BuildKit status: vertexes, statuses, logs, warnings (incremental).
    Status(Box<StatusResponse>),
    /// A plain text line (`Successfully tagged ...` on 20.10).
    Stream(String),
}

/// Why a build did not produce an image.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The request could not be sent or the stream broke.
    #[error("lost the connection to the engine at {address} during the build")]
    Connection {
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// The engine refused the request before building.
    #[error("the engine refused the build: HTTP {status}: {message}")]
    Rejected { status: u16, message: String },
    /// The build ran and failed (the in-band error).
    #[error("{message}")]
    Failed { message: String },
    /// The stream ended without an image id or an error.
    #[error("the build stream ended without a result")]
    NoResult,
}

/// Sends the build with `body` as the context and feeds each message to `on_message`.
/// Returns the image id.
pub async fn run_build<S>(
    api: &Api,
    params: &BuildParams,
    body: S,
    on_message: &mut (dyn FnMut(BuildMessage) + Send),
) -> Result<String, BuildError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    use futures_util::StreamExt;
    let body = StreamBody::new(body.map(|chunk| chunk.map(Frame::data)));
    let request = Request::post(params.path())
        .header(hyper::header::HOST, "docker")
        .header(hyper::header::CONTENT_TYPE, "application/x-tar")
        .body(body)
        .expect("build request is valid");
    let connection = |source| BuildError::Connection {
        address: api.address().to_string(),
        source,
    };
    let response = api.send(request).await.map_err(connection)?;
    let mut image_id = None;
    let mut failure = None;
    let handle = |line: &[u8]| match decode_line(line) {
        Decoded::Message(message) => on_message(message),
        Decoded::ImageId(id) => image_id = Some(id),
        Decoded::Error(message) => failure = Some(message),
        Decoded::Skip => {}
    };
    read_json_lines(response, handle)
        .await
        .map_err(|err| match err {
            StreamError::Rejected { status, message } => BuildError::Rejected { status, message },
            StreamError::Broken(source) => connection(source),
        })?;
    if let Some(message) = failure {
        return Err(BuildError::Failed { message });
    }
    image_id.ok_or(BuildError::NoResult)
}

/// Asks the engine to cancel a running build (200 even for an unknown id).
pub async fn cancel_build(api: &Api, build_id: &str) -> std::io::Result<()> {
    let request = Request::post(format!(
        "/build/cancel?id={}",
        transport::query_escape(build_id)
    ))
    .header(hyper::header::HOST, "docker")
    .body(http_body_util::Empty::<Bytes>::new())
    .map_err(std::io::Error::other)?;
    let response = api.send(request).await?;
    let _ = response.into_body().collect().await;
    Ok(())
}

enum Decoded {
    Message(BuildMessage),
    ImageId(String),
    Error(String),
    Skip,
}

#[derive(serde::Deserialize)]
struct JsonLine {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    aux: Option<serde_json::Value>,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
}

fn decode_line(line: &[u8]) -> Decoded {
    let Ok(json) = serde_json::from_slice::<JsonLine>(line) else {
        tracing::debug!(
            "undecodable build stream line: {}",
            String::from_utf8_lossy(line)
        );
        return Decoded::Skip;
    };
    if let Some(message) = json.error_detail.and_then(|d| d.message).or(json.error) {
        return Decoded::Error(message);
    }
    match (json.id.as_deref(), json.aux) {
        (Some("moby.buildkit.trace"), Some(serde_json::Value::String(b64))) => {
            let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) else {
                return Decoded::Skip;
            };
            match StatusResponse::decode(bytes.as_slice()) {
                Ok(status) => Decoded::Message(BuildMessage::Status(Box::new(status))),
                Err(err) => {
                    tracing::debug!("undecodable BuildKit status: {err}");
                    Decoded::Skip
                }
            }
        }
        (Some("moby.image.id"), Some(aux)) => match aux.get("ID").and_then(|v| v.as_str()) {
            Some(id) => Decoded::ImageId(id.to_owned()),
            None => Decoded::Skip,
        },
        _ => match json.stream {
            Some(text) => Decoded::Message(BuildMessage::Stream(text)),
            None => Decoded::Skip,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_carries_every_parameter_encoded() {
        let params = BuildParams {
            tags: vec!["a/b:1".into(), "c".into()],
            dockerfile: "sub dir/Dockerfile".into(),
            target: Some("build".into()),
            build_args: [("K".to_owned(), "v 1&2".to_owned())].into(),
            labels: [("l".to_owned(), "x".to_owned())].into(),
            network: Some("host".into()),
            no_cache: true,
            pull: true,
            platform: Some("linux/amd64".into()),
            session_id: "s1".into(),
            build_id: "b1".into(),
            context_from_session: false,
        };
        assert_eq!(
            params.path(),
            "/build?version=2&session=s1&buildid=b1&dockerfile=sub%20dir%2FDockerfile&rm=1\
             &t=a%2Fb%3A1&t=c&target=build&buildargs=%7B%22K%22%3A%22v%201%262%22%7D\
             &labels=%7B%22l%22%3A%22x%22%7D&networkmode=host&nocache=1&pull=1\
             &platform=linux%2Famd64"
        );
    }

    #[test]
    fn a_session_context_is_asked_for_with_remote() {
        let params = BuildParams {
            dockerfile: "Dockerfile".into(),
            session_id: "s1".into(),
            build_id: "b1".into(),
            context_from_session: true,
            ..Default::default()
        };
        assert_eq!(
            params.path(),
            "/build?version=2&session=s1&buildid=b1&dockerfile=Dockerfile&rm=1&remote=client-session"
        );
    }

    #[test]
    fn stream_lines_decode() {
        let status = StatusResponse {
            vertexes: vec![bollard_buildkit_proto::moby::buildkit::v1::Vertex {
                digest: "sha256:1".into(),
                name: "[1/2] FROM x".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let b64 = base64::engine::general_purpose::STANDARD.encode(status.encode_to_vec());
        let line = format!(r#"{{"id":"moby.buildkit.trace","aux":"{b64}"}}"#);
        match decode_line(line.as_bytes()) {
            Decoded::Message(BuildMessage::Status(s)) => {
                assert_eq!(s.vertexes[0].name, "[1/2] FROM x")
            }
            _ => panic!("not a status"),
        }
        match decode_line(br#"{"id":"moby.image.id","aux":{"ID":"sha256:abc"}}"#) {
            Decoded::ImageId(id) => assert_eq!(id, "sha256:abc"),
            _ => panic!("not an id"),
        }
        match decode_line(br#"{"errorDetail":{"message":"boom"},"error":"boom"}"#) {
            Decoded::Error(m) => assert_eq!(m, "boom"),
            _ => panic!("not an error"),
        }
        assert!(matches!(decode_line(b"not json"), Decoded::Skip));
    }
}
