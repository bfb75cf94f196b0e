//! Raw HTTP/1.1 connections to the engine, for the endpoints bollard cannot speak for us: the
//! `/build` and push streams, the image export, and the `/session` and `/grpc` upgrades.
//!
//! Everything goes through [`Api`], which puts the negotiated version in front of each path;
//! only the negotiation itself ([`get_unversioned`]) asks without one.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpStream, UnixStream};

use super::endpoint::Address;
use super::version::ApiVersion;

/// How long to wait for the engine to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The engine's API at the version negotiated with it: every request sent through it carries
/// `/v{version}/` in its path ([`ApiVersion::versioned_uri`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    address: Address,
    version: ApiVersion,
}

/// Why an upgrade (`/session`, `/grpc`) did not give a connection.
#[derive(Debug)]
pub enum UpgradeError {
    /// The engine answered, but not with `101 Switching Protocols`: its status and message.
    Refused { status: u16, message: String },
    /// The connection failed or broke during the upgrade.
    Broken(std::io::Error),
}

impl Api {
    /// The API at `address`, spoken at `version`.
    pub(super) fn new(address: Address, version: ApiVersion) -> Self {
        Self { address, version }
    }

    /// Where the engine is.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The version every request carries.
    pub fn version(&self) -> ApiVersion {
        self.version
    }

    /// Sends `request`, its path under `/v{version}`, on a connection of its own. The
    /// connection task ends with the response body, or lives on in an upgrade.
    pub async fn send<B>(&self, mut request: Request<B>) -> std::io::Result<Response<Incoming>>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        *request.uri_mut() = self.version.versioned_uri(request.uri());
        send(&self.address, request).await
    }

    /// `GET path` with an empty body; returns the status, the headers and the whole body.
    pub async fn get(&self, path: &str) -> std::io::Result<(Response<()>, Bytes)> {
        collect(self.send(empty_get(path)?).await?).await
    }

    /// Sends an upgrade request (its `Connection` and `Upgrade` headers set by the caller) and
    /// returns the connection the engine switched over.
    pub async fn upgrade(
        &self,
        request: Request<Empty<Bytes>>,
    ) -> Result<hyper::upgrade::Upgraded, UpgradeError> {
        let response = self.send(request).await.map_err(UpgradeError::Broken)?;
        if response.status() != hyper::StatusCode::SWITCHING_PROTOCOLS {
            let (status, message) = refusal(response).await;
            return Err(UpgradeError::Refused { status, message });
        }
        hyper::upgrade::on(response)
            .await
            .map_err(|err| UpgradeError::Broken(std::io::Error::other(err)))
    }
}

/// `GET path` without a version: only for asking the engine which versions it speaks.
pub(super) async fn get_unversioned(
    address: &Address,
    path: &str,
) -> std::io::Result<(Response<()>, Bytes)> {
    collect(send(address, empty_get(path)?).await?).await
}

/// Opens one HTTP/1.1 connection and sends one request on it, the path as it is.
async fn send<B>(address: &Address, request: Request<B>) -> std::io::Result<Response<Incoming>>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    macro_rules! handshake_and_send {
        ($stream:expr) => {{
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new($stream))
                .await
                .map_err(std::io::Error::other)?;
            tokio::spawn(async move {
                if let Err(err) = conn.with_upgrades().await {
                    tracing::debug!("engine connection closed: {err}");
                }
            });
            sender
                .send_request(request)
                .await
                .map_err(std::io::Error::other)
        }};
    }
    match address {
        Address::Unix(path) => {
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(path))
                .await
                .map_err(|_| timed_out())??;
            handshake_and_send!(stream)
        }
        Address::Tcp(authority) => {
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(authority))
                .await
                .map_err(|_| timed_out())??;
            stream.set_nodelay(true)?;
            handshake_and_send!(stream)
        }
    }
}

/// Percent-encodes all but the unreserved characters, for a query value.
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn timed_out() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
    )
}

/// The status and the engine's message of a refused request (a JSON `message`, else the body).
pub async fn refusal(response: Response<Incoming>) -> (u16, String) {
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (status, engine_message(&body))
}

fn empty_get(path: &str) -> std::io::Result<Request<Empty<Bytes>>> {
    Request::get(path)
        .header(hyper::header::HOST, "docker")
        .body(Empty::<Bytes>::new())
        .map_err(std::io::Error::other)
}

/// The status, the headers and the whole body.
async fn collect(response: Response<Incoming>) -> std::io::Result<(Response<()>, Bytes)> {
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok((Response::from_parts(parts, ()), body))
}

/// The `message` of an engine JSON error body, or the body itself.
pub fn engine_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Message {
        message: String,
    }
    match serde_json::from_slice::<Message>(body) {
        Ok(m) => m.message,
        Err(_) => String::from_utf8_lossy(body).trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_are_unwrapped() {
        assert_eq!(
            engine_message(br#"{"message":"session x already exists"}"#),
            "session x already exists"
        );
        assert_eq!(engine_message(b"plain text\n"), "plain text");
    }
}
