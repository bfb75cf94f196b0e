//! Exit codes, and the one place where an error becomes what the user reads.
//!
//! Domain modules return typed errors (`thiserror`) where a caller may branch on the cause, and
//! `anyhow` with context elsewhere. At the top, every error becomes a [`CliError`]: a message, an
//! optional `hint:` with the fix, and the exit status.

use std::fmt;

/// The process exit statuses shipimg uses. Scripts may rely on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything asked for was done.
    Success,
    /// The command failed: bad input, an unreachable engine, a failed build or push.
    Failure,
    /// The command line was wrong, or asked for something not implemented yet.
    Usage,
    /// The leak scan found a credential in the image.
    SecretFound,
    /// Interrupted by Ctrl-C (128 + SIGINT).
    Interrupted,
}

impl ExitStatus {
    /// The numeric code for the process.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::SecretFound => 3,
            ExitStatus::Interrupted => 130,
        }
    }
}

/// An error as the user sees it: one line saying what went wrong and where, a hint with the fix
/// where there is one, and the exit status it maps to.
#[derive(Debug)]
pub struct CliError {
    message: String,
    hint: Option<String>,
    status: ExitStatus,
}

impl CliError {
    /// A failure caused by the user's input or environment (exit 1).
    pub fn user(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            status: ExitStatus::Failure,
        }
    }

    /// A failure nobody could have foreseen (exit 1), reported with its whole cause chain.
    pub fn unexpected(message: impl Into<String>) -> Self {
        Self::user(message)
    }

    /// A command or flag that is not available yet (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            status: ExitStatus::Usage,
            ..Self::user(message)
        }
    }

    /// Adds the `hint:` line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Overrides the exit status.
    pub fn with_status(mut self, status: ExitStatus) -> Self {
        self.status = status;
        self
    }

    /// Rewrites the headline and the hint, e.g. to mask secrets they may quote.
    pub fn map_text(mut self, f: impl Fn(&str) -> String) -> Self {
        self.message = f(&self.message);
        self.hint = self.hint.as_deref().map(&f);
        self
    }

    /// The headline.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The fix, if known.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The exit status this error maps to.
    pub fn status(&self) -> ExitStatus {
        self.status
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<crate::reference::ReferenceError> for CliError {
    /// A bad reference where no flag or key is known to name: the message and its fix.
    fn from(err: crate::reference::ReferenceError) -> Self {
        CliError::user(err.to_string()).with_hint(err.hint())
    }
}

impl From<anyhow::Error> for CliError {
    /// A `CliError` anywhere in the chain keeps its hint and status, prefixed by any context
    /// added above it; any other error is rendered as its chain joined by `: `.
    fn from(err: anyhow::Error) -> Self {
        let mut prefix = Vec::new();
        for cause in err.chain() {
            if let Some(cli) = cause.downcast_ref::<CliError>() {
                prefix.push(cli.message.clone());
                return CliError {
                    message: prefix.join(": "),
                    hint: cli.hint.clone(),
                    status: cli.status,
                };
            }
            prefix.push(cause.to_string());
        }
        CliError::unexpected(join_chain(&err))
    }
}

/// `a: b: c` from an error chain, skipping a cause whose text its parent already ends with.
pub fn join_chain(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn exit_codes_are_stable() {
        assert_eq!(ExitStatus::Success.code(), 0);
        assert_eq!(ExitStatus::Failure.code(), 1);
        assert_eq!(ExitStatus::Usage.code(), 2);
        assert_eq!(ExitStatus::SecretFound.code(), 3);
        assert_eq!(ExitStatus::Interrupted.code(), 130);
    }

    #[test]
    fn cli_error_keeps_hint_and_status_under_context() {
        let inner = CliError::usage("bad flag").with_hint("use --x");
        let err = Err::<(), _>(inner).context("reading settings").unwrap_err();
        let cli = CliError::from(err);
        assert_eq!(cli.message(), "reading settings: bad flag");
        assert_eq!(cli.hint(), Some("use --x"));
        assert_eq!(cli.status(), ExitStatus::Usage);
    }

    #[test]
    fn plain_error_chain_is_joined() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = Err::<(), _>(io).context("failed to read `x`").unwrap_err();
        let cli = CliError::from(err);
        assert_eq!(cli.message(), "failed to read `x`: no such file");
        assert_eq!(cli.hint(), None);
        assert_eq!(cli.status(), ExitStatus::Failure);
    }
}
