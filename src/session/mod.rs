//! The BuildKit session: the engine calls back into shipimg during a build, for secrets and
//! registry credentials.
//!
//! `POST /session` is upgraded to h2c and the roles reverse: the engine is the gRPC client and
//! we serve, over that one connection, `grpc.health.v1.Health` (without it the engine drops the
//! session within a second), `moby.buildkit.secrets.v1.Secrets` from an in-memory store, and
//! `moby.filesync.v1.Auth` for private base images, and, when the context goes over the session,
//! `moby.filesync.v1.FileSync` ([`filesync`]). One session serves one build and closes when the
//! [`Session`] is closed or dropped, whatever happened to the build.

pub mod filesync;
mod services;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper_util::rt::TokioExecutor;
use secrecy::SecretSlice;
use tokio::task::JoinHandle;

use crate::engine::transport::{Api, UpgradeError};
use crate::login::Login;

pub use filesync::ContextSource;

/// BuildKit refuses secrets larger than this (the docker CLI's limit).
pub const MAX_SECRET_BYTES: usize = 500 * 1024;

/// What one build's session serves: secrets by id, and registry credentials by host.
#[derive(Default, Clone)]
pub struct SessionStore {
    /// Secret values by id (`netrc`, and each `--secret id=...`).
    pub secrets: HashMap<String, Arc<SecretSlice<u8>>>,
    /// Registry credentials by bare host (`europe-west4-docker.pkg.dev`, `127.0.0.1:5555`).
    pub registries: HashMap<String, Login>,
    /// The context and Dockerfile, when the engine pulls them over the session.
    pub files: Option<ContextSource>,
    /// The key under which the engine keeps its copy of the context between builds (see
    /// [`filesync::shared_key`]); a fresh one per session when unset.
    pub shared_key: Option<String>,
}

impl SessionStore {
    /// Serves each `(host, login)` under every name BuildKit may ask for the host by (Docker
    /// Hub's API host, say).
    pub fn serve_logins(&mut self, logins: &[(String, Login)]) {
        for (host, login) in logins {
            for alias in crate::reference::host_aliases(host) {
                self.registries.insert(alias, login.clone());
            }
        }
    }
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("registries", &self.registries.keys().collect::<Vec<_>>())
            .field("files", &self.files)
            .finish()
    }
}

/// The gRPC methods we serve, announced to the engine one header line each.
const METHODS: &[&str] = &[
    "/grpc.health.v1.Health/Check",
    "/moby.buildkit.secrets.v1.Secrets/GetSecret",
    "/moby.filesync.v1.Auth/Credentials",
    "/moby.filesync.v1.Auth/FetchToken",
    "/moby.filesync.v1.Auth/GetTokenAuthority",
    "/moby.filesync.v1.Auth/VerifyTokenAuthority",
];

/// Announced too when the session serves the context.
const FILE_SYNC_METHOD: &str = "/moby.filesync.v1.FileSync/DiffCopy";

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The connection failed.
    #[error("cannot open a BuildKit session on the engine at {address}")]
    Connect {
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// The engine refused the upgrade.
    #[error("the engine at {address} refused a BuildKit session: HTTP {status}: {message}")]
    Refused {
        address: String,
        status: u16,
        message: String,
    },
}

impl crate::error::UserError for SessionError {}

/// An open session. Close it after the build, success or failure; dropping it closes it too.
pub struct Session {
    id: String,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("id", &self.id).finish()
    }
}

impl Session {
    /// Opens a session on the engine and starts serving `store` on it. Returns once the engine
    /// has accepted it (the engine waits only ~5 s for a session a build names).
    pub async fn start(api: &Api, store: SessionStore) -> Result<Self, SessionError> {
        // A fresh id each time: the engine remembers closed ids for a while.
        let id = crate::random::session_id();
        let mut request = Request::post("/session")
            .header(hyper::header::HOST, "docker")
            .header(hyper::header::CONNECTION, "Upgrade")
            .header(hyper::header::UPGRADE, "h2c")
            .header("X-Docker-Expose-Session-Uuid", &id)
            .header("X-Docker-Expose-Session-Name", "shipimg")
            .header(
                "X-Docker-Expose-Session-Sharedkey",
                store.shared_key.as_deref().unwrap_or(&id),
            );
        for method in METHODS {
            request = request.header("X-Docker-Expose-Session-Grpc-Method", *method);
        }
        if store.files.is_some() {
            request = request.header("X-Docker-Expose-Session-Grpc-Method", FILE_SYNC_METHOD);
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .expect("static session request is valid");
        let address = api.address().to_string();
        let upgraded = api.upgrade(request).await.map_err(|err| match err {
            UpgradeError::Refused { status, message } => SessionError::Refused {
                address,
                status,
                message,
            },
            UpgradeError::Broken(source) => SessionError::Connect { address, source },
        })?;

        let routes = services::routes(store);
        let service = hyper_util::service::TowerToHyperService::new(routes);
        let session_id = id.clone();
        let task = tokio::spawn(async move {
            let result = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(upgraded, service)
                .await;
            match result {
                Ok(()) => tracing::debug!(session = %session_id, "session closed by the engine"),
                Err(err) => tracing::debug!(session = %session_id, "session ended: {err}"),
            }
        });
        tracing::debug!(session = %id, "session open");
        Ok(Self { id, task })
    }

    /// The session id to name in `/build?session=`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Closes the session: the engine sees the connection end.
    pub fn close(self) {
        // Drop does the work.
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    #[test]
    fn a_login_is_served_under_every_name_of_its_registry() {
        let mut store = SessionStore::default();
        let login = |user: &str| Login::password(user, SecretString::from("s3cret-pass"), "test");
        store.serve_logins(&[
            ("docker.io".to_owned(), login("hub")),
            ("127.0.0.1:5555".to_owned(), login("local")),
        ]);
        let mut names: Vec<(&str, &str)> = store
            .registries
            .iter()
            .map(|(host, login)| (host.as_str(), login.username.as_str()))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("127.0.0.1:5555", "local"),
                ("docker.io", "hub"),
                ("index.docker.io", "hub"),
                ("registry-1.docker.io", "hub"),
            ]
        );
    }
}
