//! The quiet renderer (`-q`): nothing but the image id on stdout when the build succeeds, like
//! `docker build -q`, so that `IMAGE=$(shipimg build -q .)` works. Warnings still reach
//! stderr; the build's state is kept for the failure report.

use std::io::Write;

use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;

use super::state::BuildState;
use super::{Outcome, Reporter};
use crate::redact::{RedactingWriter, Redactor};

/// Prints only the result. See the module documentation.
pub(crate) struct QuietReporter {
    state: BuildState,
    redactor: Redactor,
    stdout: RedactingWriter<Box<dyn Write + Send>>,
    stderr: RedactingWriter<Box<dyn Write + Send>>,
}

impl QuietReporter {
    pub(crate) fn new(
        redactor: Redactor,
        stdout: Box<dyn Write + Send>,
        stderr: Box<dyn Write + Send>,
    ) -> Self {
        Self {
            state: BuildState::new(redactor.clone()),
            stdout: RedactingWriter::new(stdout, redactor.clone()),
            stderr: RedactingWriter::new(stderr, redactor.clone()),
            redactor,
        }
    }
}

impl Reporter for QuietReporter {
    fn status(&mut self, status: &StatusResponse) {
        self.state.update(status);
    }

    fn stream_line(&mut self, _line: &str) {}

    fn warning(&mut self, message: &str) {
        let _ = writeln!(self.stderr, "warning: {}", self.redactor.redact(message));
        let _ = self.stderr.flush();
    }

    fn finish(&mut self, outcome: &Outcome) {
        if let Outcome::Built {
            image_id,
            reference,
        } = outcome
        {
            let shown = if image_id.is_empty() {
                reference.as_deref().unwrap_or_default()
            } else {
                image_id
            };
            if !shown.is_empty() {
                let _ = writeln!(self.stdout, "{}", self.redactor.redact(shown));
            }
        }
        let _ = self.stdout.flush();
    }

    fn state(&self) -> &BuildState {
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{self, Captured};
    use super::*;

    #[test]
    fn prints_only_the_image_id() {
        let (stdout, stderr) = (Captured::default(), Captured::default());
        let mut reporter = QuietReporter::new(testing::redactor(), stdout.sink(), stderr.sink());
        for message in &testing::successful_build() {
            reporter.status(message);
        }
        reporter.stream_line("Successfully tagged app:dev");
        reporter.finish(&Outcome::Built {
            image_id: testing::IMAGE_ID.into(),
            reference: Some("app:dev".into()),
        });
        drop(reporter);
        assert_eq!(stdout.text(), format!("{}\n", testing::IMAGE_ID));
        assert_eq!(stderr.text(), "");
    }

    #[test]
    fn prints_nothing_on_failure_but_keeps_the_state() {
        let (stdout, stderr) = (Captured::default(), Captured::default());
        let mut reporter = QuietReporter::new(testing::redactor(), stdout.sink(), stderr.sink());
        for message in &testing::failing_build() {
            reporter.status(message);
        }
        reporter.finish(&Outcome::Failed {
            message: "exit code: 1".into(),
        });
        assert_eq!(reporter.state().failure().map(|f| f.number), Some(8));
        drop(reporter);
        assert_eq!(stdout.text(), "");
        assert_eq!(stderr.text(), "");
    }
}
