//! Exit codes, and the one place where an error becomes what the user reads.
//!
//! Domain modules return typed errors (`thiserror`): the message says what went wrong and
//! where, the cause rides in `#[source]` (never repeated in the message), and [`UserError`] adds
//! the fix. Commands return [`CliError`], so `?` on a domain error converts it here, once: its
//! message, then its causes joined by `: `, its hint and its exit status.

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

    /// A failure nobody could have foreseen (exit 1): its message says so, and the hint asks
    /// for a report.
    pub fn unexpected(message: impl Into<String>) -> Self {
        Self::user(format!("unexpected: {}", message.into())).with_hint(
            "this is a bug in shipimg, or a failure it did not foresee: run again with -vv and report it at https://github.com/shipimg/shipimg/issues",
        )
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

/// An error a domain module returns for the user to read. Its `Display` says what went wrong
/// and where without repeating its source's text; [`CliError`]'s conversion appends the causes.
pub trait UserError: std::error::Error {
    /// The fix, for the `hint:` line, where there is one.
    fn hint(&self) -> Option<String> {
        None
    }

    /// The exit status.
    fn status(&self) -> ExitStatus {
        ExitStatus::Failure
    }
}

impl<E: UserError> From<E> for CliError {
    fn from(err: E) -> Self {
        CliError {
            message: chain(&err),
            hint: err.hint(),
            status: err.status(),
        }
    }
}

/// `message: cause: cause`, each error of the chain once.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(err) = cause {
        out.push_str(": ");
        out.push_str(&err.to_string());
        cause = err.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_stable() {
        assert_eq!(ExitStatus::Success.code(), 0);
        assert_eq!(ExitStatus::Failure.code(), 1);
        assert_eq!(ExitStatus::Usage.code(), 2);
        assert_eq!(ExitStatus::SecretFound.code(), 3);
        assert_eq!(ExitStatus::Interrupted.code(), 130);
    }

    #[derive(Debug, thiserror::Error)]
    #[error("failed to read `x`")]
    struct ReadFailed(#[source] std::io::Error);

    impl UserError for ReadFailed {
        fn hint(&self) -> Option<String> {
            Some("check the path".into())
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("no hint here")]
    struct Bare;

    impl UserError for Bare {
        fn status(&self) -> ExitStatus {
            ExitStatus::Usage
        }
    }

    #[test]
    fn a_domain_error_becomes_its_message_then_its_causes_once_with_its_hint() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let cli = CliError::from(ReadFailed(io));
        assert_eq!(cli.message(), "failed to read `x`: no such file");
        assert_eq!(cli.hint(), Some("check the path"));
        assert_eq!(cli.status(), ExitStatus::Failure);
        let cli = CliError::from(Bare);
        assert_eq!((cli.message(), cli.hint()), ("no hint here", None));
        assert_eq!(cli.status(), ExitStatus::Usage);
    }

    #[test]
    fn unexpected_errors_say_so_and_ask_for_a_report() {
        let cli = CliError::unexpected("a worker thread failed: panicked");
        assert_eq!(
            cli.message(),
            "unexpected: a worker thread failed: panicked"
        );
        assert!(cli.hint().unwrap().contains("report it"));
        assert_eq!(cli.status().code(), 1, "exit codes are stable");
    }
}
