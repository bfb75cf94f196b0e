//! The image export: `GET /images/get?names=IMAGE`, the stream `docker save` writes (a 20.10
//! layout, or OCI on the containerd image store), read as a blocking [`Read`].
//!
//! The reader drives its own connection on a current-thread runtime: with the connection on the
//! shared runtime, every chunk the engine sent cost a cross-thread wake-up, and those (not the
//! search) were most of the scan's CPU on a machine it shares with the engine
//! (`bench/scan.sh`). Open it on a blocking thread.

use std::io::{self, Read};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;

use super::transport::{self, Api};

/// Why an export did not start.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The engine has no such image.
    #[error("no such image `{image}`")]
    NoSuchImage {
        /// The image asked for.
        image: String,
    },
    /// The engine could not be reached or refused the export.
    #[error("the engine failed to export `{image}`: {message}")]
    Failed {
        /// The image asked for.
        image: String,
        /// What went wrong, in the engine's words when it answered.
        message: String,
    },
    /// The reader's runtime could not start.
    #[error("cannot start the export's reader")]
    Runtime(#[source] io::Error),
}

/// One image's export stream, read with blocking calls.
pub struct ExportReader {
    runtime: tokio::runtime::Runtime,
    body: Incoming,
    current: Bytes,
}

impl ExportReader {
    /// Asks the engine for `image`'s export. Blocks: call it off the async runtime.
    pub fn open(api: &Api, image: &str) -> Result<Self, ExportError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ExportError::Runtime)?;
        let body = runtime.block_on(request(api, image))?;
        Ok(Self {
            runtime,
            body,
            current: Bytes::new(),
        })
    }
}

async fn request(api: &Api, image: &str) -> Result<Incoming, ExportError> {
    let failed = |message: String| ExportError::Failed {
        image: image.to_owned(),
        message,
    };
    let path = format!("/images/get?names={}", transport::query_escape(image));
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, "docker")
        .body(Empty::<Bytes>::new())
        .map_err(|err| failed(err.to_string()))?;
    let response = api.send(request).await.map_err(|err| {
        failed(format!(
            "cannot reach the engine at {}: {err}",
            api.address()
        ))
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(response.into_body());
    }
    if status == hyper::StatusCode::NOT_FOUND {
        return Err(ExportError::NoSuchImage {
            image: image.to_owned(),
        });
    }
    let (status, message) = transport::refusal(response).await;
    Err(failed(format!("{message} ({status})")))
}

impl Read for ExportReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.runtime.block_on(self.body.frame()) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.current = data;
                    }
                }
                Some(Err(err)) => {
                    return Err(io::Error::other(format!("the export stream broke: {err}")));
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
