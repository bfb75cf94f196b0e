//! Talking to the Docker Engine: finding it ([`endpoint`]), connecting, and asking it what it is.
//! bollard does what it does well (typed endpoints); [`transport`] carries what it cannot.

pub mod build;
pub mod endpoint;
pub mod push;
pub mod stream;
pub mod transport;

use bollard::Docker;
use serde::Serialize;

use self::endpoint::{Address, Endpoint};
use crate::error::CliError;

/// The oldest engine API shipimg talks to: BuildKit builds over the API arrived in 1.39.
pub const MIN_API_VERSION: (u32, u32) = (1, 39);

/// Why the engine could not be used. Callers branch on the cause.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Nothing answered at the address.
    #[error("cannot reach the Docker engine at {address} ({source_kind})")]
    Unreachable {
        address: String,
        source_kind: String,
        #[source]
        source: std::io::Error,
    },
    /// Something answered, but not as an engine does.
    #[error("the Docker engine at {address} answered `{what}` with {detail}")]
    BadAnswer {
        address: String,
        what: String,
        detail: String,
    },
    /// An engine call failed.
    #[error("the Docker engine at {address} failed `{what}`")]
    Api {
        address: String,
        what: String,
        #[source]
        source: bollard::errors::Error,
    },
}

impl From<EngineError> for CliError {
    fn from(err: EngineError) -> Self {
        let hint = match &err {
            EngineError::Unreachable { .. } => {
                Some("is dockerd running, and is DOCKER_HOST (or the docker context) right?")
            }
            EngineError::BadAnswer { .. } => Some("is DOCKER_HOST pointing at a Docker engine?"),
            EngineError::Api { .. } => None,
        };
        let message = match &err {
            EngineError::Api { source, .. } => format!("{err}: {source}"),
            _ => err.to_string(),
        };
        let cli = CliError::user(message);
        match hint {
            Some(hint) => cli.with_hint(hint),
            None => cli,
        }
    }
}

/// A connected engine.
#[derive(Debug, Clone)]
pub struct Engine {
    endpoint: Endpoint,
    docker: Docker,
    /// `Api-Version` from `/_ping`.
    api_version: String,
    /// `OSType` from `/_ping`.
    os_type: String,
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
    /// `linux`, `windows`.
    pub os: String,
    /// `amd64`, `arm64`...
    pub arch: String,
    /// The storage driver, e.g. `overlay2`.
    pub storage_driver: String,
    /// Whether `/build?version=2` (BuildKit) can be used.
    pub buildkit_available: bool,
    /// The builder the engine uses when a client does not choose (`Builder-Version` header).
    pub default_builder: String,
}

impl Engine {
    /// Connects to the engine and checks it answers `/_ping`.
    pub async fn connect(endpoint: Endpoint) -> Result<Self, EngineError> {
        let address = endpoint.address.to_string();
        let (ping, _) = transport::get(&endpoint.address, "/_ping")
            .await
            .map_err(|source| EngineError::Unreachable {
                address: address.clone(),
                source_kind: describe_io(&source),
                source,
            })?;
        if !ping.status().is_success() || ping.headers().get("api-version").is_none() {
            return Err(EngineError::BadAnswer {
                address,
                what: "/_ping".into(),
                detail: format!("HTTP {} and no Api-Version header", ping.status()),
            });
        }
        let docker = match &endpoint.address {
            Address::Unix(path) => Docker::connect_with_unix(
                &path.to_string_lossy(),
                120,
                bollard::API_DEFAULT_VERSION,
            ),
            Address::Tcp(authority) => Docker::connect_with_http(
                &format!("http://{authority}"),
                120,
                bollard::API_DEFAULT_VERSION,
            ),
        }
        .map_err(|source| EngineError::Api {
            address: address.clone(),
            what: "connect".into(),
            source,
        })?;
        let header = |name: &str| {
            ping.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        Ok(Self {
            api_version: header("api-version"),
            os_type: header("ostype"),
            endpoint,
            docker,
        })
    }

    /// Whether the engine can pull a build context over the session (BuildKit file sync,
    /// `remote=client-session`), which came with BuildKit in API 1.39 on Linux engines.
    pub fn supports_file_sync(&self) -> bool {
        parse_api_version(&self.api_version).is_some_and(|v| v >= MIN_API_VERSION)
            && (self.os_type.is_empty() || self.os_type == "linux")
    }

    /// Checks the engine can run BuildKit builds through the API: Linux, API 1.39 or newer.
    pub fn require_buildkit(&self) -> Result<(), CliError> {
        let address = self.endpoint.address.to_string();
        match parse_api_version(&self.api_version) {
            Some(version) if version >= MIN_API_VERSION => {}
            _ => {
                return Err(CliError::user(format!(
                    "the engine at {address} speaks API {}, too old for BuildKit builds (1.39 or newer needed)",
                    self.api_version
                ))
                .with_hint("upgrade Docker Engine to 18.09 or newer"));
            }
        }
        if !self.os_type.is_empty() && self.os_type != "linux" {
            return Err(CliError::user(format!(
                "the engine at {address} runs {}: BuildKit builds through the API need a Linux engine",
                self.os_type
            ))
            .with_hint("point DOCKER_HOST at a Linux Docker Engine"));
        }
        Ok(())
    }

    /// The endpoint in use.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The bollard client.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Names image `id` as `reference` (`name:tag`; no tag means `latest`), moving the name
    /// from any image that had it, as `docker tag` does.
    pub async fn tag_image(&self, id: &str, reference: &str) -> Result<(), EngineError> {
        let parsed = crate::registry::Reference::parse(reference);
        let options = bollard::query_parameters::TagImageOptions {
            repo: Some(parsed.written_name),
            tag: Some(parsed.tag),
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

    /// Asks the engine for its version, storage and builder support.
    pub async fn report(&self) -> Result<EngineReport, EngineError> {
        let (ping, _) = transport::get(&self.endpoint.address, "/_ping")
            .await
            .map_err(|source| EngineError::Unreachable {
                address: self.endpoint.address.to_string(),
                source_kind: describe_io(&source),
                source,
            })?;
        let header = |name: &str| {
            ping.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let version = self
            .docker
            .version()
            .await
            .map_err(self.api_error("/version"))?;
        let info = self.docker.info().await.map_err(self.api_error("/info"))?;

        let api_version = version.api_version.clone().unwrap_or_default();
        let os = version.os.clone().unwrap_or_default();
        let buildkit_available =
            os == "linux" && parse_api_version(&api_version).is_some_and(|v| v >= MIN_API_VERSION);
        let default_builder = match header("builder-version").as_deref() {
            Some("2") => "BuildKit".to_owned(),
            Some("1") => "legacy".to_owned(),
            Some(other) => other.to_owned(),
            None => "unknown".to_owned(),
        };
        Ok(EngineReport {
            address: self.endpoint.address.to_string(),
            address_source: self.endpoint.source.to_string(),
            version: version.version.unwrap_or_default(),
            api_version,
            min_api_version: version.min_api_version.unwrap_or_default(),
            os,
            arch: version.arch.unwrap_or_default(),
            storage_driver: info.driver.unwrap_or_default(),
            buildkit_available,
            default_builder,
        })
    }
}

/// `1.41` -> `(1, 41)`.
pub fn parse_api_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
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

    #[test]
    fn api_versions_compare() {
        assert_eq!(parse_api_version("1.41"), Some((1, 41)));
        assert!(parse_api_version("1.41").unwrap() >= MIN_API_VERSION);
        assert!(parse_api_version("1.38").unwrap() < MIN_API_VERSION);
        assert_eq!(parse_api_version("x"), None);
    }
}
