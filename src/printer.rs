//! The owner of stdout and stderr between progress displays. stdout carries only what a script
//! would pipe (a digest, JSON); everything meant for people goes to stderr, and `-q` silences
//! it, except errors, the details they list, and warnings. While a [`crate::progress`] reporter
//! draws (the build, the push), it owns the terminal instead: what must be said meanwhile goes
//! through it (`Reporter::warning`), so that nothing is printed into a live view.

use std::io::Write;

use anstyle::{AnsiColor, Style};

use crate::error::CliError;

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();
const LABEL: Style = AnsiColor::Green.on_default().bold();

/// How much the tool says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: errors and machine output only.
    Quiet,
    /// The default.
    Normal,
    /// `-v`: debug logs.
    Verbose,
    /// `-vv` and more: trace logs.
    Trace,
}

/// Writes everything the user sees. Cheap to share by reference.
#[derive(Debug, Clone)]
pub struct Printer {
    verbosity: Verbosity,
}

impl Printer {
    /// A printer for the given verbosity; colour follows the global `anstream` choice.
    pub fn new(verbosity: Verbosity) -> Self {
        Self { verbosity }
    }

    /// The verbosity in force.
    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// A line of machine output on stdout (always printed, even under `-q`).
    pub fn stdout_line(&self, line: &str) {
        let line = crate::redact::redact(line);
        let mut out = anstream::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// Machine output on stdout written as it is, for text that carries its own newlines (a
    /// completion script). Always printed, even under `-q`.
    pub fn stdout_text(&self, text: &str) {
        let text = crate::redact::redact(text);
        let mut out = anstream::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// A status line for people on stderr: a right-aligned coloured label, cargo style.
    pub fn status(&self, label: &str, message: &str) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let message = crate::redact::redact(message);
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "{LABEL}{label:>12}{LABEL:#} {message}");
    }

    /// A plain line for people on stderr.
    pub fn info(&self, message: &str) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let message = crate::redact::redact(message);
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "{message}");
    }

    /// A note for people on stderr: something that does not stop the command but that they may
    /// want to know (a finding an allow list accepted). Silenced by `-q`.
    pub fn note(&self, message: &str) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let message = crate::redact::redact(message);
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "{HINT}note{HINT:#}: {message}");
    }

    /// A line of detail for the error that follows it (each finding the error says is "listed
    /// above"): the error is not whole without it, so it is printed even under `-q`.
    pub fn error_detail(&self, message: &str) {
        let message = crate::redact::redact(message);
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "{message}");
    }

    /// A warning the user must act on. Printed even under `-q`.
    pub fn warn(&self, message: &str) {
        let message = crate::redact::redact(message);
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "{WARN}warning{WARN:#}: {message}");
    }

    /// A warning and the `hint:` line with its fix. Printed even under `-q`.
    pub fn warn_with_hint(&self, message: &str, hint: &str) {
        self.warn(message);
        let hint = crate::redact::redact(hint);
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "  {HINT}hint{HINT:#}: {hint}");
    }

    /// An error and its hint. Printed even under `-q`.
    pub fn error(&self, error: &CliError) {
        let mut err = anstream::stderr().lock();
        let message = crate::redact::redact(error.message());
        let _ = writeln!(err, "{ERROR}error{ERROR:#}: {message}");
        if let Some(hint) = error.hint() {
            let hint = crate::redact::redact(hint);
            let _ = writeln!(err, "  {HINT}hint{HINT:#}: {hint}");
        }
    }
}
