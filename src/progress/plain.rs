//! The plain renderer: append-only `#N ...` lines in the format of `docker buildx build
//! --progress=plain`, for CI logs and anything that is not a terminal.
//!
//! ```text
//! #5 [internal] load build context
//! #5 transferring context: 48.21kB 0.3s done
//! #5 DONE 0.3s
//!
//! #8 [4/4] RUN pip install -r requirements.txt
//! #8 0.513 Collecting flask==3.0.0
//! #8 ERROR: process "/bin/sh -c pip install -r requirements.txt" did not complete ...
//! ```
//!
//! Steps running in parallel would interleave line by line; like BuildKit, we stay with one
//! step and hold back the others' output until it completes, or until the held-back output is
//! five seconds old, then switch (`#2 ...` marks the step we leave). Time is the engine's, from
//! the messages, so the same stream always prints the same text.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;

use super::state::{BuildState, Change, Nanos, Step, Transfer, secs};
use super::{Outcome, Reporter};
use crate::redact::{RedactingWriter, Redactor};

/// How long another step's output may wait while we stay with the current one.
const ANTI_FLICKER: Nanos = 5_000_000_000;
/// A transfer's progress is reprinted only after this much time...
const TRANSFER_INTERVAL: Nanos = 5_000_000_000;
/// ...or this much progress (a fraction of its total).
const TRANSFER_DELTA: f64 = 0.05;

/// Output of one step that has not been printed yet.
#[derive(Debug)]
struct Pending {
    /// When the output arrived, in arrival order and on the engine's clock.
    seq: u64,
    since: Option<Nanos>,
    lines: Vec<Held>,
    /// Set when the step completed, in completion order.
    completed: Option<u64>,
}

/// One held-back line: text, or a transfer whose line is rendered when printed (so that a
/// newer update of the same transfer replaces it).
#[derive(Debug)]
enum Held {
    Text(String),
    Transfer(usize),
}

/// Renders the build as plain lines. See the module documentation.
pub(crate) struct PlainReporter {
    state: BuildState,
    redactor: Redactor,
    out: RedactingWriter<Box<dyn Write + Send>>,
    /// The step whose header was printed last and which has not completed since.
    current: Option<usize>,
    /// Whether anything was printed yet (blocks are separated by blank lines).
    printed: bool,
    /// Whether the last block is engine text or warnings, which need no separation.
    in_message: bool,
    pending: BTreeMap<usize, Pending>,
    seq: u64,
    /// Last printed (current, time) of each transfer, by step and transfer index.
    shown: HashMap<(usize, usize), (i64, Nanos)>,
}

impl PlainReporter {
    pub(crate) fn new(redactor: Redactor, out: Box<dyn Write + Send>) -> Self {
        Self {
            state: BuildState::new(redactor.clone()),
            out: RedactingWriter::new(out, redactor.clone()),
            redactor,
            current: None,
            printed: false,
            in_message: false,
            pending: BTreeMap::new(),
            seq: 0,
            shown: HashMap::new(),
        }
    }

    fn pending(&mut self, step: usize) -> &mut Pending {
        self.seq += 1;
        let (seq, since) = (self.seq, self.state.latest());
        self.pending.entry(step).or_insert(Pending {
            seq,
            since,
            lines: Vec::new(),
            completed: None,
        })
    }

    fn hold(&mut self, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::Started(step) => {
                    self.pending(step);
                }
                Change::Transfer {
                    step,
                    index,
                    finished,
                } => {
                    if finished || self.transfer_due(step, index) {
                        let pending = self.pending(step);
                        if !pending
                            .lines
                            .iter()
                            .any(|l| matches!(l, Held::Transfer(i) if *i == index))
                        {
                            pending.lines.push(Held::Transfer(index));
                        }
                    }
                }
                Change::Log { step, line } => {
                    let text = if line.text.is_empty() {
                        line.offset_label()
                    } else {
                        format!("{} {}", line.offset_label(), line.text)
                    };
                    self.pending(step).lines.push(Held::Text(text));
                }
                Change::Warning {
                    step: Some(step),
                    text,
                } => {
                    self.pending(step)
                        .lines
                        .push(Held::Text(format!("WARN: {text}")));
                }
                Change::Warning { step: None, text } => {
                    self.message(&format!("WARN: {text}"));
                }
                Change::Completed(step) => {
                    self.seq += 1;
                    let seq = self.seq;
                    self.pending(step).completed = Some(seq);
                }
            }
        }
    }

    /// Whether a transfer moved enough since it was last printed to be printed again.
    fn transfer_due(&self, step: usize, index: usize) -> bool {
        let t = &self.state.step(step).transfers[index];
        let Some(&(current, time)) = self.shown.get(&(step, index)) else {
            return true;
        };
        let progress = if t.total > 0 {
            (t.current - current) as f64 / t.total as f64
        } else {
            0.0
        };
        let elapsed = t.timestamp.map_or(0, |now| now.saturating_sub(time));
        progress >= TRANSFER_DELTA || elapsed >= TRANSFER_INTERVAL
    }

    /// Prints what is due: the current step's output, completed steps, and one more step if
    /// none is current or another has waited too long. With `all`, everything.
    fn flush(&mut self, all: bool) {
        if let Some(current) = self.current
            && self.pending.contains_key(&current)
        {
            self.print_step(current);
        }
        let mut completed: Vec<(u64, usize)> = self
            .pending
            .iter()
            .filter_map(|(&step, p)| p.completed.map(|seq| (seq, step)))
            .collect();
        completed.sort_unstable();
        for (_, step) in completed {
            self.print_step(step);
        }
        if all {
            let mut rest: Vec<(u64, usize)> = self
                .pending
                .iter()
                .map(|(&step, p)| (p.seq, step))
                .collect();
            rest.sort_unstable();
            for (_, step) in rest {
                self.print_step(step);
            }
        } else if let Some((_, step)) = self
            .pending
            .iter()
            .filter(|(_, p)| match self.current {
                None => true,
                Some(_) => match (p.since, self.state.latest()) {
                    (Some(since), Some(now)) => now.saturating_sub(since) >= ANTI_FLICKER,
                    _ => false,
                },
            })
            .map(|(&step, p)| (p.seq, step))
            .min()
        {
            self.print_step(step);
        }
        let _ = self.out.flush();
    }

    /// Prints a step's held-back output, with its header if we are switching to it.
    fn print_step(&mut self, number: usize) {
        let Some(pending) = self.pending.remove(&number) else {
            return;
        };
        let mut text = String::new();
        if self.current != Some(number) {
            self.start_block(&mut text);
            text.push_str(&format!("#{number} {}\n", self.state.step(number).name));
        }
        let step = self.state.step(number);
        for line in &pending.lines {
            match line {
                Held::Text(line) => text.push_str(&format!("#{number} {line}\n")),
                Held::Transfer(index) => {
                    let t = &step.transfers[*index];
                    text.push_str(&format!("#{number} {}\n", transfer_line(t)));
                    self.shown.insert(
                        (number, *index),
                        (t.current, t.timestamp.or(t.completed).unwrap_or(0)),
                    );
                }
            }
        }
        self.current = Some(number);
        if pending.completed.is_some() && step.is_completed() {
            text.push_str(&format!("#{number} {}\n", completion_line(step)));
            self.current = None;
        }
        let _ = self.out.write_all(text.as_bytes());
    }

    /// Leaves the current step (if it is still running) and separates a new block.
    fn start_block(&mut self, text: &mut String) {
        if let Some(current) = self.current.take() {
            text.push_str(&format!("#{current} ...\n"));
        }
        if self.printed {
            text.push('\n');
        }
        self.printed = true;
        self.in_message = false;
    }

    /// Prints a line that belongs to no step, in a block of its own.
    fn message(&mut self, line: &str) {
        let mut text = String::new();
        if !self.in_message || self.current.is_some() {
            self.start_block(&mut text);
        }
        self.in_message = true;
        text.push_str(&self.redactor.redact(line));
        text.push('\n');
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }
}

/// `transferring context: 48.21kB 0.3s done`, as BuildKit prints a transfer.
fn transfer_line(t: &Transfer) -> String {
    let mut line = t.id.clone();
    if let Some(size) = t.size_label() {
        line.push(' ');
        line.push_str(&size);
    }
    if let (Some(started), Some(end)) = (t.started, t.completed.or(t.timestamp)) {
        let elapsed = secs(end.saturating_sub(started));
        if elapsed > 0.01 {
            line.push_str(&format!(" {elapsed:.1}s"));
        }
    }
    if t.completed.is_some() {
        line.push_str(" done");
    }
    line
}

/// `DONE 1.2s`, `CACHED`, `CANCELED` or `ERROR: ...`.
fn completion_line(step: &Step) -> String {
    if step.is_canceled() {
        "CANCELED".to_owned()
    } else if !step.error.is_empty() {
        format!("ERROR: {}", step.error)
    } else if step.cached {
        "CACHED".to_owned()
    } else {
        format!("DONE {:.1}s", secs(step.duration().unwrap_or(0)))
    }
}

impl Reporter for PlainReporter {
    fn status(&mut self, status: &StatusResponse) {
        let changes = self.state.apply(status);
        if !changes.is_empty() {
            self.hold(changes);
            self.flush(false);
        }
    }

    fn stream_line(&mut self, line: &str) {
        self.message(line);
    }

    fn warning(&mut self, message: &str) {
        self.message(&format!("warning: {message}"));
    }

    fn finish(&mut self, _outcome: &Outcome) {
        // The outcome is the build command's to print (with the failed step's excerpt).
        let changes = self.state.finish();
        self.hold(changes);
        self.flush(true);
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
        let mut reporter = PlainReporter::new(testing::redactor(), out.sink());
        for message in &messages {
            reporter.status(message);
        }
        reporter.finish(&outcome);
        drop(reporter);
        out.text()
    }

    #[test]
    fn failing_build() {
        let text = render(
            testing::failing_build(),
            Outcome::Failed {
                message: "exit code: 1".into(),
            },
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn successful_build() {
        let text = render(
            testing::successful_build(),
            Outcome::Built {
                image_id: testing::IMAGE_ID.into(),
                reference: Some("app:dev".into()),
            },
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn same_stream_same_output() {
        let outcome = Outcome::Failed {
            message: String::new(),
        };
        assert_eq!(
            render(testing::failing_build(), outcome.clone()),
            render(testing::failing_build(), outcome)
        );
    }

    #[test]
    fn parallel_steps_are_not_interleaved_line_by_line() {
        use super::super::testing::{at, log, status, vertex};
        use bollard_buildkit_proto::moby::buildkit::v1::Vertex;
        let a = |s: f64| Vertex {
            started: at(0.0),
            completed: (s > 0.0).then(|| at(s)).flatten(),
            ..vertex("sha256:a", "[a 1/2] RUN make")
        };
        let b = Vertex {
            started: at(0.0),
            ..vertex("sha256:b", "[b 1/2] RUN npm ci")
        };
        let mut messages = vec![status(vec![a(0.0), b.clone()])];
        for i in 0..8 {
            let t = 0.5 + f64::from(i);
            messages.push(log("sha256:a", 1, t, &format!("make {i}\n")));
            messages.push(log("sha256:b", 1, t + 0.1, &format!("npm {i}\n")));
        }
        messages.push(status(vec![a(8.0)]));
        messages.push(status(vec![Vertex {
            completed: at(9.0),
            ..b
        }]));
        insta::assert_snapshot!(render(
            messages,
            Outcome::Failed {
                message: String::new()
            }
        ));
    }

    #[test]
    fn stream_lines_and_warnings_get_their_own_block() {
        let out = Captured::default();
        let mut reporter = PlainReporter::new(testing::redactor(), out.sink());
        let messages = testing::successful_build();
        reporter.status(&messages[0]);
        reporter.stream_line("Successfully built 0a1b2c3d4e5f");
        reporter.stream_line("Successfully tagged app:dev");
        reporter.warning("no `.dockerignore`: the whole directory is sent");
        reporter.finish(&Outcome::Built {
            image_id: testing::IMAGE_ID.into(),
            reference: None,
        });
        drop(reporter);
        insta::assert_snapshot!(out.text());
    }
}
