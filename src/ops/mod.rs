//! The operations a command runs: build, lint, scan, push, init, and what they leave for
//! scripts.
//! Each takes resolved settings and a [`Report`], does the work through the domain modules, and
//! returns values; the commands above stay thin (settings in, the Ctrl-C select, rendering
//! out) and never call each other. Operations never see clap types nor the printer: what they
//! say while they work goes through [`Report`], which the command layer implements.

pub mod build;
pub mod init;
pub mod lint;
pub mod push;
pub mod results;
pub mod scan;

use crate::error::CliError;

/// What an operation tells the person running it while it works, line by line. The command
/// layer implements it over the printer; tests record it.
pub trait Report {
    /// A status line, cargo style: `Scanned image: no secret found`.
    fn status(&self, label: &str, line: &str);
    /// A plain line for people.
    fn info(&self, line: &str);
    /// Something that does not stop the operation but that people may want to know.
    fn note(&self, line: &str);
    /// A warning, with the `hint:` that fixes it when there is one.
    fn warn(&self, message: &str, hint: Option<&str>);
    /// A line of detail for the error that follows it (each finding it says is listed above).
    fn detail(&self, line: &str);
    /// One of several errors, before the error that counts them.
    fn error(&self, error: &CliError);
    /// A line of machine output on stdout.
    fn stdout_line(&self, line: &str);
    /// Whether `-v` asked for more.
    fn verbose(&self) -> bool;
}

/// The current directory, which relative paths are read against.
pub fn current_dir() -> Result<std::path::PathBuf, CliError> {
    std::env::current_dir().map_err(|err| {
        CliError::user(format!("cannot read the current directory: {err}"))
            .with_hint("run shipimg from a directory that exists")
    })
}

/// A blocking task's result; a task that panicked or was cancelled is unexpected.
pub fn joined<T>(result: Result<T, tokio::task::JoinError>) -> Result<T, CliError> {
    result.map_err(|err| CliError::unexpected(format!("a worker thread failed: {err}")))
}

#[cfg(test)]
pub(crate) mod testing {
    //! A [`Report`] that keeps what it was told, for tests.

    use std::sync::Mutex;

    use super::Report;
    use crate::error::CliError;

    /// Every line reported, as `label: line`.
    #[derive(Default)]
    pub struct Recorded(pub Mutex<Vec<String>>);

    impl Recorded {
        /// The lines so far.
        pub fn lines(&self) -> Vec<String> {
            self.0.lock().expect("not poisoned").clone()
        }

        fn push(&self, line: String) {
            self.0.lock().expect("not poisoned").push(line);
        }
    }

    impl Report for Recorded {
        fn status(&self, label: &str, line: &str) {
            self.push(format!("{label}: {line}"));
        }
        fn info(&self, line: &str) {
            self.push(format!("info: {line}"));
        }
        fn note(&self, line: &str) {
            self.push(format!("note: {line}"));
        }
        fn warn(&self, message: &str, hint: Option<&str>) {
            self.push(format!("warning: {message}"));
            if let Some(hint) = hint {
                self.push(format!("hint: {hint}"));
            }
        }
        fn detail(&self, line: &str) {
            self.push(format!("detail: {line}"));
        }
        fn error(&self, error: &CliError) {
            self.push(format!("error: {}", error.message()));
        }
        fn stdout_line(&self, line: &str) {
            self.push(format!("stdout: {line}"));
        }
        fn verbose(&self) -> bool {
            false
        }
    }
}
