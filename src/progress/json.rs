//! The JSON renderer (`--progress=json`): one event per line on stdout, for scripts.
//!
//! Every line is a JSON object whose `type` says what happened. Steps are numbered as in the
//! plain output (`#N`); times are seconds (floats, millisecond precision) on the engine's
//! clock; all text has secrets masked as `****`.
//!
//! | `type`           | fields                                                          |
//! |------------------|-----------------------------------------------------------------|
//! | `step-started`   | `step`, `name`                                                  |
//! | `status`         | `step`, `name` (e.g. `transferring context:`), `current`, `total` (null when unknown), `duration` (null when unknown); once, when it completes |
//! | `log`            | `step`, `stream` (`stdout` or `stderr`), `time` (since the step started), `text` (one line, no line ending) |
//! | `warning`        | `step` (null for the build as a whole), `text`                  |
//! | `step-cached`    | `step`                                                          |
//! | `step-completed` | `step`, `duration`                                              |
//! | `step-failed`    | `step`, `duration`, `error` (ends in `exit code: N` for a failed command) |
//! | `step-canceled`  | `step` (abandoned because another step failed)                  |
//! | `message`        | `text` (a line of text from the engine)                         |
//! | `result`         | `image_id` (`sha256:...`), `reference` (null when untagged); last line of a successful build |
//! | `error`          | `message`, `step` (the failed step, null if none); last line of a failed build |
//!
//! Every step gets `step-started` then exactly one of `step-cached`, `step-completed`,
//! `step-failed` or `step-canceled` (again if the engine runs it again). For example:
//!
//! ```text
//! {"type":"step-started","step":8,"name":"[4/4] RUN pip install -r requirements.txt"}
//! {"type":"log","step":8,"stream":"stdout","time":0.513,"text":"Collecting flask==3.0.0"}
//! {"type":"step-failed","step":8,"duration":1.69,"error":"... exit code: 1"}
//! {"type":"error","message":"failed to solve: ... exit code: 1","step":8}
//! ```

use std::io::Write;

use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;
use serde::Serialize;

use super::state::{BuildState, Change, Nanos};
use super::{Outcome, Reporter};
use crate::redact::{RedactingWriter, Redactor};

/// One line of output. See the module documentation for the schema.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum Event<'a> {
    StepStarted {
        step: usize,
        name: &'a str,
    },
    Status {
        step: usize,
        name: &'a str,
        current: i64,
        total: Option<i64>,
        duration: Option<f64>,
    },
    Log {
        step: usize,
        stream: &'static str,
        time: f64,
        text: &'a str,
    },
    Warning {
        step: Option<usize>,
        text: &'a str,
    },
    StepCached {
        step: usize,
    },
    StepCompleted {
        step: usize,
        duration: f64,
    },
    StepFailed {
        step: usize,
        duration: f64,
        error: &'a str,
    },
    StepCanceled {
        step: usize,
    },
    Message {
        text: &'a str,
    },
    Result {
        image_id: &'a str,
        reference: Option<&'a str>,
    },
    Error {
        message: &'a str,
        step: Option<usize>,
    },
}

/// Seconds, rounded to the millisecond.
fn seconds(nanos: Nanos) -> f64 {
    (nanos as f64 / 1e6).round() / 1e3
}

/// Writes one event and its newline. Serializing these types cannot fail, and an unwritable
/// stdout is not for the progress display to report.
fn write_event(out: &mut impl Write, event: &Event<'_>) {
    if serde_json::to_writer(&mut *out, event).is_ok() {
        let _ = out.write_all(b"\n");
    }
}

/// Renders the build as JSON events. See the module documentation.
pub(crate) struct JsonReporter {
    state: BuildState,
    redactor: Redactor,
    out: RedactingWriter<Box<dyn Write + Send>>,
}

impl JsonReporter {
    pub(crate) fn new(redactor: Redactor, out: Box<dyn Write + Send>) -> Self {
        Self {
            state: BuildState::new(redactor.clone()),
            out: RedactingWriter::new(out, redactor.clone()),
            redactor,
        }
    }

    fn emit(&mut self, event: &Event<'_>) {
        write_event(&mut self.out, event);
    }

    fn emit_changes(&mut self, changes: Vec<Change>) {
        for change in changes {
            let state = &self.state;
            let event = match &change {
                Change::Started(step) => Event::StepStarted {
                    step: *step,
                    name: &state.step(*step).name,
                },
                Change::Transfer {
                    step,
                    index,
                    finished: true,
                } => {
                    let t = &state.step(*step).transfers[*index];
                    Event::Status {
                        step: *step,
                        name: &t.id,
                        current: t.current,
                        total: (t.total != 0).then_some(t.total),
                        duration: t
                            .started
                            .zip(t.completed)
                            .map(|(s, c)| seconds(c.saturating_sub(s).max(0))),
                    }
                }
                Change::Transfer { .. } => continue,
                Change::Log { step, line } => Event::Log {
                    step: *step,
                    stream: line.stream.as_str(),
                    time: seconds(line.offset),
                    text: &line.text,
                },
                Change::Warning { step, text } => Event::Warning { step: *step, text },
                Change::Completed(number) => {
                    let step = state.step(*number);
                    let duration = seconds(step.duration().unwrap_or(0));
                    if step.is_canceled() {
                        Event::StepCanceled { step: *number }
                    } else if !step.error.is_empty() {
                        Event::StepFailed {
                            step: *number,
                            duration,
                            error: &step.error,
                        }
                    } else if step.cached {
                        Event::StepCached { step: *number }
                    } else {
                        Event::StepCompleted {
                            step: *number,
                            duration,
                        }
                    }
                }
            };
            write_event(&mut self.out, &event);
        }
        let _ = self.out.flush();
    }
}

impl Reporter for JsonReporter {
    fn status(&mut self, status: &StatusResponse) {
        let changes = self.state.apply(status);
        self.emit_changes(changes);
    }

    fn stream_line(&mut self, line: &str) {
        let text = self.redactor.redact(line).into_owned();
        self.emit(&Event::Message { text: &text });
        let _ = self.out.flush();
    }

    fn warning(&mut self, message: &str) {
        let text = self.redactor.redact(message).into_owned();
        self.emit(&Event::Warning {
            step: None,
            text: &text,
        });
        let _ = self.out.flush();
    }

    fn finish(&mut self, outcome: &Outcome) {
        let changes = self.state.finish();
        self.emit_changes(changes);
        match outcome {
            Outcome::Built {
                image_id,
                reference,
            } => {
                let image_id = self.redactor.redact(image_id).into_owned();
                let reference = reference
                    .as_deref()
                    .map(|r| self.redactor.redact(r).into_owned());
                self.emit(&Event::Result {
                    image_id: &image_id,
                    reference: reference.as_deref(),
                });
            }
            Outcome::Failed { message } => {
                let message = self.redactor.redact(message).into_owned();
                let step = self.state.failure().map(|f| f.number);
                self.emit(&Event::Error {
                    message: &message,
                    step,
                });
            }
        }
        let _ = self.out.flush();
    }

    fn state(&self) -> &BuildState {
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{self, Captured};
    use super::*;

    fn render(messages: Vec<StatusResponse>, outcome: Outcome) -> String {
        let out = Captured::default();
        let mut reporter = JsonReporter::new(testing::redactor(), out.sink());
        for message in &messages {
            reporter.status(message);
        }
        reporter.finish(&outcome);
        drop(reporter);
        let text = out.text();
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).expect(line);
            assert!(value["type"].is_string(), "{line}");
        }
        text
    }

    #[test]
    fn failing_build() {
        insta::assert_snapshot!(render(
            testing::failing_build(),
            Outcome::Failed {
                message: "failed to solve: executor failed running [/bin/sh -c pip install -r requirements.txt]: exit code: 1".into(),
            },
        ));
    }

    #[test]
    fn successful_build() {
        let out = Captured::default();
        let mut reporter = JsonReporter::new(testing::redactor(), out.sink());
        for message in &testing::successful_build() {
            reporter.status(message);
        }
        reporter.stream_line("Successfully tagged \"app:dev\"");
        reporter.warning("no `.dockerignore`");
        reporter.finish(&Outcome::Built {
            image_id: testing::IMAGE_ID.into(),
            reference: Some("app:dev".into()),
        });
        drop(reporter);
        let text = out.text();
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["type"], "result");
        assert_eq!(last["image_id"], testing::IMAGE_ID);
        insta::assert_snapshot!(text);
    }
}
