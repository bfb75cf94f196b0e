//! Talking to the Docker Engine: finding it ([`endpoint`]), agreeing on an API version with it
//! ([`version`]), and asking it what it is. bollard does what it does well (typed endpoints);
//! [`transport`] carries what it cannot. Both send every request at the negotiated version.

pub mod build;
pub mod buildkit;
pub mod endpoint;
pub mod export;
pub mod push;
pub mod stream;
pub mod transport;
pub mod version;

use bollard::Docker;
use bollard::models::SystemVersion;
use serde::Serialize;

use self::endpoint::{Address, Endpoint};
use self::transport::Api;
use self::version::{
    ApiVersion, EngineApi, Mismatch, OLDEST_DOCKER_RELEASE, SHIPIMG_API, negotiate,
};
use crate::error::UserError;
use crate::reference::Reference;

/// Why the engine could not be used. Callers branch on the cause.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Nothing answered at the address. `reason` is the socket error in people's words (`no
    /// such socket`), so the error itself is not carried as a cause too.
    #[error("cannot reach the Docker engine at {address} ({reason})")]
    Unreachable { address: String, reason: String },
    /// Something answered, but not as an engine does.
    #[error("the Docker engine at {address} answered `{what}` with {detail}")]
    BadAnswer {
        address: String,
        what: String,
        detail: String,
    },
    /// No API version is spoken by both the engine and shipimg.
    #[error(
        "the engine at {address} speaks API {engine}, shipimg needs {}",
        SHIPIMG_API
    )]
    Unsupported {
        address: String,
        engine: EngineApi,
        mismatch: Mismatch,
    },
    /// The engine is not a Linux one.
    #[error(
        "the engine at {address} runs {os}: BuildKit builds through the API need a Linux engine"
    )]
    NotLinux { address: String, os: String },
    /// An engine call failed.
    #[error("the Docker engine at {address} failed `{what}`")]
    Api {
        address: String,
        what: String,
        #[source]
        source: bollard::errors::Error,
    },
}

impl UserError for EngineError {
    fn hint(&self) -> Option<String> {
        match self {
            EngineError::Unreachable { .. } => {
                Some("is dockerd running, and is DOCKER_HOST (or the docker context) right?".into())
            }
            EngineError::BadAnswer { .. } => {
                Some("is DOCKER_HOST pointing at a Docker engine?".into())
            }
            EngineError::Unsupported {
                mismatch: Mismatch::EngineTooOld,
                ..
            } => Some(format!(
                "upgrade Docker Engine to {OLDEST_DOCKER_RELEASE} or newer"
            )),
            EngineError::Unsupported {
                mismatch: Mismatch::ShipimgTooOld,
                ..
            } => Some("upgrade shipimg".into()),
            EngineError::NotLinux { .. } => {
                Some("point DOCKER_HOST at a Linux Docker Engine".into())
            }
            EngineError::Api { .. } => None,
        }
    }
}

/// A connected engine, spoken to at the API version negotiated with it.
#[derive(Debug, Clone)]
pub struct Engine {
    endpoint: Endpoint,
    /// Our own requests, at the negotiated version.
    api: Api,
    /// bollard's requests, at the same version (see [`connect_bollard`]).
    docker: Docker,
    /// What the engine said at negotiation (`/version`).
    server: SystemVersion,
    /// The versions the engine speaks.
    engine_api: EngineApi,
}

/// What the engine says about itself, as `doctor` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct EngineReport {
    /// The address used, as a URL.
    pub address: String,
    /// Why that address (DOCKER_HOST, a context, the default).
    pub address_source: String,
    /// The engine's version, e.g. `20.10.24+dfsg1`.
    pub version: String,
    /// The highest API version it speaks.
    pub api_version: String,
    /// The lowest API version it accepts.
    pub min_api_version: String,
    /// The API version shipimg speaks with it.
    pub api_version_in_use: String,
    /// The highest API version shipimg speaks.
    pub shipimg_api_version: String,
    /// The lowest API version shipimg speaks.
    pub shipimg_min_api_version: String,
    /// `linux`, `windows`.
    pub os: String,
    /// `amd64`, `arm64`...
    pub arch: String,
    /// Where images live: `classic` (graph drivers) or `containerd` (snapshotters).
    pub image_store: ImageStore,
    /// The storage driver, e.g. `overlay2`, or the snapshotter, e.g. `overlayfs`.
    pub storage_driver: String,
    /// Whether `/build?version=2` (BuildKit) can be used.
    pub buildkit_available: bool,
    /// BuildKit's version, where the engine reports it (BuildKit 0.11, Docker 23, and later).
    pub buildkit_version: Option<String>,
    /// The builder the engine uses when a client does not choose (`Builder-Version` header).
    pub default_builder: String,
    /// What the user should know about this engine before building on it.
    pub warnings: Vec<String>,
}

/// Where an engine keeps its images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageStore {
    /// The graph drivers (`overlay2`): `docker save` layout, the `aux` digest on push.
    Classic,
    /// containerd's image store and snapshotters: OCI layouts, manifest digests as image ids.
    Containerd,
}

impl std::fmt::Display for ImageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImageStore::Classic => "classic",
            ImageStore::Containerd => "containerd",
        })
    }
}

/// The image store an engine uses, read from `/info`: with the containerd store, `DriverStatus`
/// holds `["driver-type", "io.containerd.snapshotter.v1"]`.
pub fn image_store(driver_status: &[Vec<String>]) -> ImageStore {
    let containerd = driver_status.iter().any(|pair| {
        matches!(pair.as_slice(), [key, value]
            if key == "driver-type" && value == "io.containerd.snapshotter.v1")
    });
    if containerd {
        ImageStore::Containerd
    } else {
        ImageStore::Classic
    }
}

/// What to tell the user about an engine of this version before they build on it.
pub fn engine_warnings(engine_version: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    // Seen here under parallel tests (tests/it/common.rs `build_lock`): BuildKit 0.8 merges
    // identical steps of concurrent builds and can panic with "failed to get edge" when one of
    // them fails or is cancelled, taking the engine down.
    if engine_version.starts_with("20.10.") {
        warnings.push(
            "Docker 20.10 can crash when concurrent builds share steps and one of them fails or \
             is cancelled; run builds on this engine one at a time, or upgrade it"
                .to_owned(),
        );
    }
    warnings
}

impl Engine {
    /// Connects to the engine and agrees on the API version: one unversioned `GET /version`
    /// (as the docker CLI asks `/_ping`) gives the engine's range, [`negotiate`] picks the
    /// version, and every later request, ours and bollard's, carries it.
    pub async fn connect(endpoint: Endpoint) -> Result<Self, EngineError> {
        let address = endpoint.address.to_string();
        let (response, body) = transport::get_unversioned(&endpoint.address, "/version")
            .await
            .map_err(|source| EngineError::Unreachable {
                address: address.clone(),
                reason: describe_io(&source),
            })?;
        let server = response
            .status()
            .is_success()
            .then(|| serde_json::from_slice::<SystemVersion>(&body).ok())
            .flatten();
        let max = server
            .as_ref()
            .and_then(|s| s.api_version.as_deref())
            .and_then(ApiVersion::parse);
        let (Some(server), Some(max)) = (server, max) else {
            return Err(EngineError::BadAnswer {
                address,
                what: "/version".into(),
                detail: format!("HTTP {} and no `ApiVersion`", response.status()),
            });
        };
        let engine_api = EngineApi {
            max,
            min: server
                .min_api_version
                .as_deref()
                .and_then(ApiVersion::parse),
        };
        let version =
            negotiate(engine_api, SHIPIMG_API).map_err(|mismatch| EngineError::Unsupported {
                address: address.clone(),
                engine: engine_api,
                mismatch,
            })?;
        tracing::debug!(%version, engine = %engine_api, "engine API version");
        let docker =
            connect_bollard(&endpoint.address, version).map_err(|source| EngineError::Api {
                address: address.clone(),
                what: "connect".into(),
                source,
            })?;
        Ok(Self {
            api: Api::new(endpoint.address.clone(), version),
            endpoint,
            docker,
            server,
            engine_api,
        })
    }

    /// The engine's OS as `/version` reports it (`linux`).
    fn os(&self) -> &str {
        self.server.os.as_deref().unwrap_or_default()
    }

    /// Whether the engine runs BuildKit builds through the API and can pull a build context
    /// over the session (file sync, `remote=client-session`): every engine shipimg can speak to
    /// (API 1.39+), if it is Linux.
    pub fn is_linux(&self) -> bool {
        self.os().is_empty() || self.os() == "linux"
    }

    /// Checks the engine can run BuildKit builds through the API: a Linux engine (the API
    /// version was checked at connect).
    pub fn require_buildkit(&self) -> Result<(), EngineError> {
        if !self.is_linux() {
            return Err(EngineError::NotLinux {
                address: self.endpoint.address.to_string(),
                os: self.os().to_owned(),
            });
        }
        Ok(())
    }

    /// The endpoint in use.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Our own requests to the engine, at the negotiated version.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The bollard client, at the negotiated version.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Names image `id` as `reference` (no tag means `latest`), moving the name from any image
    /// that had it, as `docker tag` does.
    pub async fn tag_image(&self, id: &str, reference: &Reference) -> Result<(), EngineError> {
        let options = bollard::query_parameters::TagImageOptions {
            repo: Some(reference.written_name.clone()),
            tag: Some(reference.tag_or_latest().to_owned()),
        };
        self.docker
            .tag_image(id, Some(options))
            .await
            .map_err(self.api_error(&format!("tag {reference}")))
    }

    fn api_error(&self, what: &str) -> impl FnOnce(bollard::errors::Error) -> EngineError + '_ {
        let what = what.to_owned();
        move |source| EngineError::Api {
            address: self.endpoint.address.to_string(),
            what,
            source,
        }
    }

    /// Asks the engine for its version, API range, image store and builder support.
    pub async fn report(&self) -> Result<EngineReport, EngineError> {
        let (ping, _) =
            self.api
                .get("/_ping")
                .await
                .map_err(|source| EngineError::Unreachable {
                    address: self.endpoint.address.to_string(),
                    reason: describe_io(&source),
                })?;
        let builder = ping
            .headers()
            .get("builder-version")
            .and_then(|v| v.to_str().ok());
        let default_builder = match builder {
            Some("2") => "BuildKit".to_owned(),
            Some("1") => "legacy".to_owned(),
            Some(other) => other.to_owned(),
            None => "unknown".to_owned(),
        };
        let info = self.docker.info().await.map_err(self.api_error("/info"))?;
        let buildkit_version = match buildkit::buildkit_version(&self.api).await {
            Ok(version) => Some(version),
            Err(err) => {
                tracing::debug!("BuildKit did not report its version: {err}");
                None
            }
        };
        let server = &self.server;
        let version = server.version.clone().unwrap_or_default();
        Ok(EngineReport {
            address: self.endpoint.address.to_string(),
            address_source: self.endpoint.source.to_string(),
            warnings: engine_warnings(&version),
            version,
            api_version: self.engine_api.max.to_string(),
            min_api_version: self
                .engine_api
                .min
                .map(|v| v.to_string())
                .unwrap_or_default(),
            api_version_in_use: self.api.version().to_string(),
            shipimg_api_version: SHIPIMG_API.max.to_string(),
            shipimg_min_api_version: SHIPIMG_API.min.to_string(),
            os: self.os().to_owned(),
            arch: server.arch.clone().unwrap_or_default(),
            image_store: image_store(info.driver_status.as_deref().unwrap_or_default()),
            storage_driver: info.driver.unwrap_or_default(),
            buildkit_available: self.is_linux(),
            buildkit_version,
            default_builder,
        })
    }
}

/// A bollard client whose every request carries `/v{version}`. bollard 0.21.1 builds its URIs
/// with `Url::join`, which drops the version it was given (its `uri.rs`), so its requests would
/// go out unversioned and be served at the engine's newest API; the request modifier puts the
/// version back through [`ApiVersion::versioned_uri`], the same function our transport uses.
fn connect_bollard(
    address: &Address,
    version: ApiVersion,
) -> Result<Docker, bollard::errors::Error> {
    let client_version = bollard::ClientVersion {
        major_version: version.major as usize,
        minor_version: version.minor as usize,
    };
    let docker = match address {
        Address::Unix(path) => {
            Docker::connect_with_unix(&path.to_string_lossy(), 120, &client_version)
        }
        Address::Tcp(authority) => {
            Docker::connect_with_http(&format!("http://{authority}"), 120, &client_version)
        }
    }?;
    Ok(docker.with_request_modifier(move |mut request| {
        *request.uri_mut() = version.versioned_uri(request.uri());
        request
    }))
}

/// A short, lower-case cause for a connection failure.
fn describe_io(err: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::NotFound => "no such socket".into(),
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::TimedOut => "timed out".into(),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(pairs: &[(&str, &str)]) -> Vec<Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| vec![(*k).to_owned(), (*v).to_owned()])
            .collect()
    }

    #[test]
    fn the_containerd_store_is_told_by_its_snapshotter_driver_type() {
        // Docker 28.5 with `containerd-snapshotter` on, as `/info` reports it.
        let containerd = status(&[("driver-type", "io.containerd.snapshotter.v1")]);
        assert_eq!(image_store(&containerd), ImageStore::Containerd);
        // Docker 20.10's overlay2.
        let classic = status(&[
            ("Backing Filesystem", "extfs"),
            ("Supports d_type", "true"),
            ("Native Overlay Diff", "true"),
            ("userxattr", "false"),
        ]);
        assert_eq!(image_store(&classic), ImageStore::Classic);
        assert_eq!(image_store(&[]), ImageStore::Classic);
    }

    #[test]
    fn only_docker_20_10_is_warned_about() {
        assert_eq!(engine_warnings("20.10.24+dfsg1").len(), 1);
        assert!(engine_warnings("28.5.2+dfsg3").is_empty());
        assert!(engine_warnings("120.10.0").is_empty());
    }
}
