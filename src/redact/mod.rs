//! The process-wide redaction layer: every secret shipimg reads is registered here the moment
//! it is read, and everything shipimg prints (the printer, tracing logs at every level, build
//! progress, errors) passes through [`current`] on its way out, so a secret never reaches the
//! terminal or a log in any of the forms [`crate::leak::forms`] defines.
//!
//! The masking itself is the [`Redactor`] (`redactor.rs`): this registry holds one for the
//! whole process, and the progress renderers hold one built from the build's secrets.

use std::io::{self, Write};
use std::sync::RwLock;

use secrecy::{SecretSlice, SecretString};

mod redactor;

pub(crate) use redactor::RedactingWriter;
pub use redactor::{MASK, Redactor, RedactorBuilder};

struct Registry {
    builder: RedactorBuilder,
    /// Built on first use after a change: a netrc of thousands of entries registers thousands
    /// of values, and rebuilding the automaton for each took minutes.
    redactor: Option<Redactor>,
}

static REGISTRY: RwLock<Option<Registry>> = RwLock::new(None);

fn update(add: impl FnOnce(&mut RedactorBuilder)) {
    let mut guard = REGISTRY.write().unwrap_or_else(|p| p.into_inner());
    let registry = guard.get_or_insert_with(|| Registry {
        builder: Redactor::builder(),
        redactor: None,
    });
    add(&mut registry.builder);
    registry.redactor = None;
}

/// Registers a binary secret (a `--secret` file, a netrc).
pub fn register_bytes(secret: &SecretSlice<u8>) {
    update(|b| {
        b.bytes(secret);
    });
}

/// Registers a text secret (a token, a password).
pub fn register_text(secret: &SecretString) {
    update(|b| {
        b.text(secret);
    });
}

/// Registers a login: the password and `user:password` in base64.
pub fn register_login(username: &str, password: &SecretString) {
    update(|b| {
        b.login(username, password);
    });
}

/// The redactor for every secret registered so far.
pub fn current() -> Redactor {
    {
        let guard = REGISTRY.read().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            None => return Redactor::none(),
            Some(Registry {
                redactor: Some(redactor),
                ..
            }) => return redactor.clone(),
            Some(_) => {}
        }
    }
    let mut guard = REGISTRY.write().unwrap_or_else(|p| p.into_inner());
    let Some(registry) = guard.as_mut() else {
        return Redactor::none();
    };
    registry
        .redactor
        .get_or_insert_with(|| registry.builder.build())
        .clone()
}

/// Masks every registered secret in `text`.
pub fn redact(text: &str) -> String {
    current().redact(text).into_owned()
}

/// A writer that masks the secrets registered so far in each write (the logs' writer; the
/// renderers' [`RedactingWriter`] masks with one fixed [`Redactor`] and buffers). Tracing writes
/// whole lines at a time, so a secret is never split across two writes.
pub struct LogWriter<W: Write> {
    inner: W,
}

impl<W: Write> LogWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self { inner }
    }
}

impl<W: Write> Write for LogWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let redactor = current();
        if redactor.is_empty() {
            return self.inner.write(data);
        }
        self.inner.write_all(&redactor.redact_bytes(data))?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The `MakeWriter` for tracing: stderr through the redaction layer.
pub fn log_writer() -> LogWriter<io::Stderr> {
    LogWriter::new(io::stderr())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn every_encoding_of_a_registered_secret_is_masked() {
        let password = "p@ss w0rd:redact-me";
        register_login("acme", &SecretString::from(password));
        let b64 = base64::engine::general_purpose::STANDARD.encode(password);
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("acme:{password}"));
        let url = "p%40ss%20w0rd%3Aredact-me";
        for text in [password, b64.as_str(), pair.as_str(), url] {
            let out = redact(&format!("before {text} after"));
            assert_eq!(out, "before **** after", "{text}");
        }
        let mut sink = Vec::new();
        LogWriter::new(&mut sink)
            .write_all(format!("Authorization: Basic {pair}\n").as_bytes())
            .unwrap();
        assert_eq!(
            String::from_utf8(sink).unwrap(),
            "Authorization: Basic ****\n"
        );
    }
}
