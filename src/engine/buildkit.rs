//! BuildKit's own Control API, reached through the engine: `POST /grpc` upgraded to h2c, as
//! buildx's docker driver dials it, with shipimg as the gRPC client (on `/session` the engine is
//! the client). Only `Info` is asked for today, for `doctor`.
//!
//! `Info` came with BuildKit 0.11 (Docker 23). An older engine answers `Unimplemented` at once
//! (Docker 20.10's BuildKit 0.8 does), and an engine without `/grpc` refuses the upgrade; either
//! way the version is simply not reported. The whole exchange has a short time limit, so an
//! engine that accepts the upgrade and then stays silent cannot hold `doctor` up.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bollard_buildkit_proto::moby::buildkit::v1::InfoRequest;
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioExecutor;

use super::transport::{Api, UpgradeError};

/// How long `doctor` waits for BuildKit's answer.
pub const INFO_TIMEOUT: Duration = Duration::from_secs(3);

/// Why BuildKit did not say its version.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The engine has no `/grpc` (or refused it).
    #[error("the engine refused `/grpc`: HTTP {status}: {message}")]
    Refused { status: u16, message: String },
    /// The connection failed.
    #[error("lost the connection to the engine")]
    Connection(#[source] std::io::Error),
    /// BuildKit answered with a gRPC error (`Unimplemented` before BuildKit 0.11).
    #[error("BuildKit answered {}", .0.code())]
    Grpc(#[source] tonic::Status),
    /// BuildKit answered, but without a version.
    #[error("BuildKit's answer has no version")]
    NoVersion,
    /// No answer within [`INFO_TIMEOUT`].
    #[error("no answer within {} s", INFO_TIMEOUT.as_secs())]
    TimedOut,
}

/// BuildKit's version as its Control `Info` reports it, e.g. `v0.23.2`.
pub async fn buildkit_version(api: &Api) -> Result<String, ControlError> {
    tokio::time::timeout(INFO_TIMEOUT, ask_version(api))
        .await
        .map_err(|_| ControlError::TimedOut)?
}

async fn ask_version(api: &Api) -> Result<String, ControlError> {
    let request = Request::post("/grpc")
        .header(hyper::header::HOST, "docker")
        .header(hyper::header::CONNECTION, "Upgrade")
        .header(hyper::header::UPGRADE, "h2c")
        .body(Empty::<Bytes>::new())
        .expect("static grpc request is valid");
    let upgraded = api.upgrade(request).await.map_err(|err| match err {
        UpgradeError::Refused { status, message } => ControlError::Refused { status, message },
        UpgradeError::Broken(source) => ControlError::Connection(source),
    })?;
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), upgraded)
            .await
            .map_err(|err| ControlError::Connection(std::io::Error::other(err)))?;
    let driver = tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!("BuildKit control connection ended: {err}");
        }
    });
    // The engine's gRPC server wants a scheme and an authority on every request; neither is
    // read.
    let origin = hyper::Uri::from_static("http://buildkit");
    let mut client = ControlClient::with_origin(H2Channel(sender), origin);
    let result = client.info(InfoRequest {}).await;
    driver.abort();
    let info = result.map_err(ControlError::Grpc)?.into_inner();
    info.buildkit_version
        .map(|v| v.version)
        .filter(|v| !v.is_empty())
        .ok_or(ControlError::NoVersion)
}

/// One HTTP/2 connection as the service tonic's generated clients call.
struct H2Channel(SendRequest<tonic::body::Body>);

impl tonic::codegen::Service<Request<tonic::body::Body>> for H2Channel {
    type Response = Response<Incoming>;
    type Error = hyper::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.0.send_request(request))
    }
}
