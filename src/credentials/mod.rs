//! Credentials: where secrets come from, read once into `secrecy` types and never shown.
//!
//! - [`secret_spec`]: `--secret id=ID[,src=PATH|,env=VAR]`, buildx's syntax.
//! - The index netrc (`--netrc`) is read here too and served to the build as secret `netrc`.

pub mod docker_config;
pub mod google;
pub mod held;
pub mod index;
pub mod netrc;
pub mod registry;
pub mod secret_spec;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretSlice;

use crate::scan::ScanSecret;
use crate::session::MAX_SECRET_BYTES;
use secret_spec::SecretSource;

/// A secret read for one build: its id, where it came from (never its value), its bytes.
pub struct LoadedSecret {
    /// The id `RUN --mount=type=secret,id=...` names.
    pub id: String,
    /// Where it came from, for messages: a file path or a variable name.
    pub source: String,
    /// The value.
    pub value: Arc<SecretSlice<u8>>,
}

impl std::fmt::Debug for LoadedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedSecret")
            .field("id", &self.id)
            .field("source", &self.source)
            .field("value", &"****")
            .finish()
    }
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file could not be read.
    #[error("cannot read secret `{id}` from `{path}`")]
    File {
        id: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The variable is not set.
    #[error("secret `{id}`: environment variable `{var}` is not set")]
    EnvUnset { id: String, var: String },
    /// Too big for BuildKit.
    #[error(
        "secret `{id}` from {source_name} is {size} bytes; BuildKit takes at most {MAX_SECRET_BYTES}"
    )]
    TooLarge {
        id: String,
        source_name: String,
        size: usize,
    },
    /// `shipimg scan --secret-file`: the file could not be read.
    #[error("cannot read --secret-file `{}`", .path.display())]
    ScanFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `shipimg scan --secret-env`: the variable is not set.
    #[error("--secret-env `{var}`: the variable is not set")]
    ScanEnvUnset { var: String },
}

impl crate::error::UserError for SecretError {
    fn hint(&self) -> Option<String> {
        Some(
            match self {
                SecretError::File { .. } => "check the path given to `--secret src=` or `--netrc`",
                SecretError::EnvUnset { .. } => {
                    "export the variable, or give the secret with `src=PATH`"
                }
                SecretError::TooLarge { .. } => "BuildKit secrets are limited to 500 KiB",
                SecretError::ScanFile { .. } => "check the path, or drop the flag",
                SecretError::ScanEnvUnset { .. } => "export it, or drop the flag",
            }
            .into(),
        )
    }
}

/// Reads a `--secret` from its source into memory, registered for masking before anything can
/// print it.
pub fn read_secret(id: &str, source: &SecretSource) -> Result<LoadedSecret, SecretError> {
    let secret = match source {
        SecretSource::File(path) => read_secret_file(id, path),
        SecretSource::Env(var) => read_secret_env(id, var),
    }?;
    crate::redact::register_bytes(&secret.value);
    Ok(secret)
}

/// Reads a secret file into memory.
fn read_secret_file(id: &str, path: &Path) -> Result<LoadedSecret, SecretError> {
    let bytes = std::fs::read(path).map_err(|source| SecretError::File {
        id: id.to_owned(),
        path: path.to_path_buf(),
        source,
    })?;
    loaded(id, format!("file `{}`", path.display()), bytes)
}

/// Reads a secret from an environment variable.
fn read_secret_env(id: &str, var: &str) -> Result<LoadedSecret, SecretError> {
    let value = secret_var(var).ok_or_else(|| SecretError::EnvUnset {
        id: id.to_owned(),
        var: var.to_owned(),
    })?;
    loaded(id, format!("variable `{var}`"), value)
}

/// A variable holding a secret, for `build` and `scan` alike. It is named as a secret before
/// it is even read: no child shipimg starts gets it.
fn secret_var(var: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStringExt;
    crate::child_env::register_secret_var(var);
    std::env::var_os(var).map(OsStringExt::into_vec)
}

/// Reads a value `shipimg scan` looks for (`--secret-file`, `--secret-env`), registered for
/// masking before anything can print it. No size limit: nothing is served to BuildKit.
pub fn read_scan_secret(source: &SecretSource) -> Result<ScanSecret, SecretError> {
    let (id, bytes) = match source {
        SecretSource::File(path) => {
            let bytes = std::fs::read(path).map_err(|source| SecretError::ScanFile {
                path: path.clone(),
                source,
            })?;
            (format!("--secret-file {}", path.display()), bytes)
        }
        SecretSource::Env(var) => {
            let value =
                secret_var(var).ok_or_else(|| SecretError::ScanEnvUnset { var: var.clone() })?;
            (format!("--secret-env {var}"), value)
        }
    };
    let value = SecretSlice::from(bytes);
    crate::redact::register_bytes(&value);
    Ok(ScanSecret {
        id,
        value,
        login: None,
    })
}

fn loaded(id: &str, source: String, bytes: Vec<u8>) -> Result<LoadedSecret, SecretError> {
    if bytes.len() > MAX_SECRET_BYTES {
        return Err(SecretError::TooLarge {
            id: id.to_owned(),
            source_name: source,
            size: bytes.len(),
        });
    }
    Ok(LoadedSecret {
        id: id.to_owned(),
        source,
        value: Arc::new(SecretSlice::from(bytes)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn debug_never_shows_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "canary-value").unwrap();
        let secret = read_secret("tok", &SecretSource::File(path.clone())).unwrap();
        assert_eq!(secret.value.expose_secret(), b"canary-value");
        let debug = format!("{secret:?}");
        assert!(!debug.contains("canary"), "{debug}");
        assert!(debug.contains("****"));
    }

    #[test]
    fn missing_file_names_id_and_path() {
        let err =
            read_secret("netrc", &SecretSource::File("/nonexistent/netrc".into())).unwrap_err();
        let cli = crate::error::CliError::from(err);
        assert!(
            cli.message()
                .starts_with("cannot read secret `netrc` from `/nonexistent/netrc`: No such file"),
            "{cli:?}"
        );
        assert!(cli.hint().unwrap().contains("--secret src="));
    }

    #[test]
    fn oversized_secret_is_refused() {
        let err = loaded("big", "file `x`".into(), vec![0; MAX_SECRET_BYTES + 1]).unwrap_err();
        assert!(matches!(err, SecretError::TooLarge { .. }));
    }
}
