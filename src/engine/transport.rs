//! Raw HTTP/1.1 connections to the engine, for the endpoints bollard cannot speak for us (the
//! ping headers now; the BuildKit `/session` upgrade and `/build` stream later).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpStream, UnixStream};

use super::endpoint::Address;

/// How long to wait for the engine to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens one HTTP/1.1 connection and sends one request on it. The connection task ends with the
/// response body (upgrades are allowed, for `/session`).
pub async fn send<B>(address: &Address, request: Request<B>) -> std::io::Result<Response<Incoming>>
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

/// `GET path` with an empty body; returns the status, the headers and the whole body.
pub async fn get(address: &Address, path: &str) -> std::io::Result<(Response<()>, Bytes)> {
    let request = Request::get(path)
        .header(hyper::header::HOST, "docker")
        .body(Empty::<Bytes>::new())
        .map_err(std::io::Error::other)?;
    let response = send(address, request).await?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok((Response::from_parts(parts, ()), body))
}
