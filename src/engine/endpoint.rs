//! Where the Docker Engine is: the same answer the docker CLI would give.
//!
//! Order, as docker/cli's `resolveContextName` and `getDockerEndpoint` apply it: the
//! `DOCKER_CONTEXT` variable, else `DOCKER_HOST` (which selects the `default` context), else the
//! config's `currentContext`. The `default` context means `DOCKER_HOST` or the default socket;
//! any other context's endpoint is read from its metadata under `$DOCKER_CONFIG/contexts/meta/`.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::UserError;

/// The default engine socket on Linux.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// How to reach the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A unix socket path.
    Unix(PathBuf),
    /// A plain TCP `host:port` (no TLS).
    Tcp(String),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "unix://{}", path.display()),
            Address::Tcp(authority) => write!(f, "tcp://{authority}"),
        }
    }
}

/// Why this address was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The `DOCKER_HOST` variable.
    DockerHost,
    /// A docker context, named by `DOCKER_CONTEXT` or the config's `currentContext`.
    Context { name: String, from_env: bool },
    /// Nothing configured: the default socket.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::DockerHost => f.write_str("from DOCKER_HOST"),
            Source::Context {
                name,
                from_env: true,
            } => write!(f, "from docker context `{name}` (DOCKER_CONTEXT)"),
            Source::Context {
                name,
                from_env: false,
            } => write!(f, "from docker context `{name}`"),
            Source::Default => f.write_str("default socket"),
        }
    }
}

/// A resolved engine endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Where to connect.
    pub address: Address,
    /// Why.
    pub source: Source,
}

/// What endpoint resolution reads from the process environment, so tests can supply their own.
#[derive(Debug, Clone, Default)]
pub struct EndpointEnv {
    /// `DOCKER_HOST`
    pub docker_host: Option<String>,
    /// `DOCKER_CONTEXT`
    pub docker_context: Option<String>,
    /// `DOCKER_TLS_VERIFY`
    pub docker_tls_verify: Option<String>,
    /// `$DOCKER_CONFIG`, else `~/.docker`.
    pub config_dir: Option<PathBuf>,
}

impl EndpointEnv {
    /// Reads the real environment.
    pub fn from_process() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let config_dir = var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::home_dir().map(|home| home.join(".docker")));
        Self {
            docker_host: var("DOCKER_HOST"),
            docker_context: var("DOCKER_CONTEXT"),
            docker_tls_verify: var("DOCKER_TLS_VERIFY"),
            config_dir,
        }
    }
}

/// Why the engine's address could not be found. Messages name the address or file; causes
/// ride in `source`.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// A `DOCKER_HOST`-style address shipimg cannot read.
    #[error("invalid engine address `{host}`: {why}")]
    Invalid { host: String, why: String },
    /// `DOCKER_TLS_VERIFY` asks for TLS.
    #[error(
        "engine address `{host}` asks for TLS (DOCKER_TLS_VERIFY is set), which shipimg does not support yet"
    )]
    Tls { host: String },
    /// A transport shipimg does not speak.
    #[error("engine address `{host}`: the `{scheme}://` transport is not supported")]
    Transport { host: String, scheme: String },
    /// The docker context's endpoint is wrong.
    #[error("docker context `{name}`")]
    InContext {
        name: String,
        #[source]
        source: Box<EndpointError>,
    },
    /// The docker config could not be read.
    #[error("failed to read docker config `{}`", path.display())]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The docker config is not JSON the CLI writes.
    #[error("invalid docker config `{}`", path.display())]
    BadConfig {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// No context of that name.
    #[error("docker context `{name}` not found")]
    NoContext { name: String },
    /// The context's metadata could not be read.
    #[error("failed to read docker context `{name}` at `{}`", path.display())]
    ReadContext {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The context's metadata is not JSON.
    #[error("invalid docker context metadata `{}`", path.display())]
    BadContext {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// The context names no docker endpoint.
    #[error("docker context `{name}` has no docker endpoint (`{}`)", path.display())]
    NoDockerEndpoint { name: String, path: PathBuf },
}

impl UserError for EndpointError {
    fn hint(&self) -> Option<String> {
        let hint = match self {
            EndpointError::Invalid { .. } | EndpointError::Transport { .. } => {
                "use `unix:///path/to/docker.sock` or `tcp://host:port`"
            }
            EndpointError::Tls { .. } => {
                "reach the engine over its unix socket, or through an SSH tunnel to it"
            }
            EndpointError::InContext { .. } => {
                "fix the context with `docker context update`, or set DOCKER_HOST"
            }
            EndpointError::BadConfig { .. } => {
                "fix the JSON, or point DOCKER_CONFIG at another directory"
            }
            EndpointError::NoContext { .. } => {
                "list contexts with `docker context ls`, or unset DOCKER_CONTEXT"
            }
            EndpointError::ReadConfig { .. }
            | EndpointError::ReadContext { .. }
            | EndpointError::BadContext { .. }
            | EndpointError::NoDockerEndpoint { .. } => return None,
        };
        Some(hint.into())
    }
}

/// Finds the engine the way the docker CLI would.
pub fn resolve_endpoint(env: &EndpointEnv) -> Result<Endpoint, EndpointError> {
    let (context, from_env) = match (&env.docker_context, &env.docker_host) {
        (Some(name), _) => (Some(name.clone()), true),
        (None, Some(_)) => (None, false),
        (None, None) => (current_context(env.config_dir.as_deref())?, false),
    };
    match context.filter(|name| name != "default") {
        Some(name) => {
            let host = context_host(env.config_dir.as_deref(), &name)?;
            let address = parse_host(&host, env).map_err(|err| EndpointError::InContext {
                name: name.clone(),
                source: Box::new(err),
            })?;
            Ok(Endpoint {
                address,
                source: Source::Context { name, from_env },
            })
        }
        None => match &env.docker_host {
            Some(host) => Ok(Endpoint {
                address: parse_host(host, env)?,
                source: Source::DockerHost,
            }),
            None => Ok(Endpoint {
                address: Address::Unix(PathBuf::from(DEFAULT_SOCKET)),
                source: Source::Default,
            }),
        },
    }
}

/// Parses a `DOCKER_HOST`-style address.
pub fn parse_host(host: &str, env: &EndpointEnv) -> Result<Address, EndpointError> {
    let invalid = |why: &str| EndpointError::Invalid {
        host: host.to_owned(),
        why: why.to_owned(),
    };
    let Some((scheme, rest)) = host.split_once("://") else {
        return Err(invalid("no scheme"));
    };
    match scheme {
        "unix" => {
            if rest.is_empty() {
                return Err(invalid("no socket path"));
            }
            Ok(Address::Unix(PathBuf::from(rest)))
        }
        "tcp" | "http" => {
            if env.docker_tls_verify.is_some() {
                return Err(EndpointError::Tls {
                    host: host.to_owned(),
                });
            }
            let authority = rest.trim_end_matches('/');
            if authority.is_empty() || authority.contains('/') {
                return Err(invalid("expected `tcp://host:port`"));
            }
            let authority = if has_port(authority) {
                authority.to_owned()
            } else {
                format!("{authority}:2375")
            };
            Ok(Address::Tcp(authority))
        }
        "ssh" | "npipe" | "fd" => Err(EndpointError::Transport {
            host: host.to_owned(),
            scheme: scheme.to_owned(),
        }),
        _ => Err(invalid(&format!("unknown scheme `{scheme}`"))),
    }
}

fn has_port(authority: &str) -> bool {
    match authority.rsplit_once(':') {
        // `[::1]:2375` has a port, `[::1]` does not.
        Some((host, port)) => !port.is_empty() && !port.contains(']') && !host.is_empty(),
        None => false,
    }
}

fn current_context(config_dir: Option<&Path>) -> Result<Option<String>, EndpointError> {
    let Some(dir) = config_dir else {
        return Ok(None);
    };
    let path = dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(EndpointError::ReadConfig { path, source }),
    };
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(rename = "currentContext", default)]
        current_context: Option<String>,
    }
    let config: Config =
        serde_json::from_str(&text).map_err(|source| EndpointError::BadConfig { path, source })?;
    Ok(config.current_context.filter(|c| !c.is_empty()))
}

fn context_host(config_dir: Option<&Path>, name: &str) -> Result<String, EndpointError> {
    let missing = || EndpointError::NoContext {
        name: name.to_owned(),
    };
    let dir = config_dir.ok_or_else(missing)?;
    // The CLI stores each context under the hex SHA-256 of its name.
    let digest = Sha256::digest(name.as_bytes());
    let hex = crate::hex::encode(&digest);
    let path = dir
        .join("contexts")
        .join("meta")
        .join(hex)
        .join("meta.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
        Err(source) => {
            return Err(EndpointError::ReadContext {
                name: name.to_owned(),
                path,
                source,
            });
        }
    };
    let meta: serde_json::Value = match serde_json::from_str(&text) {
        Ok(meta) => meta,
        Err(source) => return Err(EndpointError::BadContext { path, source }),
    };
    meta.pointer("/Endpoints/docker/Host")
        .and_then(|h| h.as_str())
        .map(str::to_owned)
        .ok_or_else(|| EndpointError::NoDockerEndpoint {
            name: name.to_owned(),
            path,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> EndpointEnv {
        EndpointEnv::default()
    }

    fn write_context(dir: &Path, name: &str, host: &str) {
        let hex = crate::hex::encode(&Sha256::digest(name.as_bytes()));
        let meta = dir.join("contexts/meta").join(hex);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            format!(r#"{{"Name":"{name}","Endpoints":{{"docker":{{"Host":"{host}"}}}}}}"#),
        )
        .unwrap();
    }

    #[test]
    fn nothing_configured_uses_default_socket() {
        let ep = resolve_endpoint(&env()).unwrap();
        assert_eq!(ep.address, Address::Unix(DEFAULT_SOCKET.into()));
        assert_eq!(ep.source, Source::Default);
    }

    #[test]
    fn docker_host_unix_and_tcp() {
        let mut e = env();
        e.docker_host = Some("unix:///tmp/x.sock".into());
        assert_eq!(
            resolve_endpoint(&e).unwrap().address,
            Address::Unix("/tmp/x.sock".into())
        );
        e.docker_host = Some("tcp://127.0.0.1".into());
        assert_eq!(
            resolve_endpoint(&e).unwrap().address,
            Address::Tcp("127.0.0.1:2375".into())
        );
        e.docker_host = Some("tcp://[::1]:2380/".into());
        assert_eq!(
            resolve_endpoint(&e).unwrap().address,
            Address::Tcp("[::1]:2380".into())
        );
        e.docker_host = Some("tcp://[::1]".into());
        assert_eq!(
            resolve_endpoint(&e).unwrap().address,
            Address::Tcp("[::1]:2375".into())
        );
    }

    #[test]
    fn bad_hosts_are_clear_errors() {
        let mut e = env();
        for (host, needle) in [
            ("/var/run/docker.sock", "no scheme"),
            ("ssh://me@host", "not supported"),
            ("gopher://x", "unknown scheme"),
            ("unix://", "no socket path"),
        ] {
            e.docker_host = Some(host.into());
            let err = crate::error::CliError::from(resolve_endpoint(&e).unwrap_err());
            assert!(err.message().contains(needle), "{host}: {}", err.message());
            assert!(err.hint().is_some());
        }
        e.docker_host = Some("tcp://h:1".into());
        e.docker_tls_verify = Some("1".into());
        assert!(
            resolve_endpoint(&e)
                .unwrap_err()
                .to_string()
                .contains("TLS")
        );
    }

    #[test]
    fn current_context_from_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"remote"}"#,
        )
        .unwrap();
        write_context(dir.path(), "remote", "tcp://10.0.0.9:2375");
        let mut e = env();
        e.config_dir = Some(dir.path().into());
        let ep = resolve_endpoint(&e).unwrap();
        assert_eq!(ep.address, Address::Tcp("10.0.0.9:2375".into()));
        assert_eq!(
            ep.source,
            Source::Context {
                name: "remote".into(),
                from_env: false
            }
        );

        // DOCKER_HOST selects the default context over the config's current one.
        e.docker_host = Some("unix:///run/other.sock".into());
        assert_eq!(
            resolve_endpoint(&e).unwrap().address,
            Address::Unix("/run/other.sock".into())
        );

        // DOCKER_CONTEXT beats DOCKER_HOST, as in the docker CLI.
        write_context(dir.path(), "ci", "unix:///run/ci.sock");
        e.docker_context = Some("ci".into());
        let ep = resolve_endpoint(&e).unwrap();
        assert_eq!(ep.address, Address::Unix("/run/ci.sock".into()));
        assert!(matches!(ep.source, Source::Context { from_env: true, .. }));

        // `default` means DOCKER_HOST or the default socket.
        e.docker_context = Some("default".into());
        assert_eq!(
            ep.source.to_string(),
            "from docker context `ci` (DOCKER_CONTEXT)"
        );
        assert_eq!(
            resolve_endpoint(&e).unwrap().address,
            Address::Unix("/run/other.sock".into())
        );
    }

    #[test]
    fn missing_context_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = env();
        e.config_dir = Some(dir.path().into());
        e.docker_context = Some("nope".into());
        let err = crate::error::CliError::from(resolve_endpoint(&e).unwrap_err());
        assert_eq!(err.message(), "docker context `nope` not found");
        assert!(err.hint().unwrap().contains("docker context ls"));
    }

    #[test]
    fn broken_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
        let mut e = env();
        e.config_dir = Some(dir.path().into());
        let err = crate::error::CliError::from(resolve_endpoint(&e).unwrap_err());
        assert!(err.message().contains("config.json"), "{}", err.message());
        // The message, then the parser's words once: `invalid docker config `…`: key must…`.
        assert_eq!(
            err.message().matches("config.json").count(),
            1,
            "{}",
            err.message()
        );
        assert!(
            err.message().contains("`: key must be a string"),
            "{}",
            err.message()
        );
    }
}
