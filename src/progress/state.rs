//! The build as the engine reports it: BuildKit's incremental status messages merged into one
//! picture of numbered steps, and the changes each message made, for the renderers to draw.
//!
//! Every piece of text is masked by the [`Redactor`] as it enters the state, so nothing a
//! renderer or the build command reads back from here can hold a secret. Log output is masked
//! line by line, after a line is complete, so that a secret split across two messages is
//! still caught.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use bollard_buildkit_proto::google::protobuf::Timestamp;
use bollard_buildkit_proto::moby::buildkit::v1::{
    StatusResponse, Vertex, VertexLog, VertexStatus, VertexWarning,
};

use crate::redact::Redactor;

/// How many of a step's most recent log lines are kept (for the live view and for failures).
pub const KEPT_LOG_LINES: usize = 10;

/// A partial log line longer than this is printed without waiting for its end.
const MAX_PARTIAL_LINE: usize = 16 * 1024;

/// The error BuildKit gives the steps it abandons after another one failed.
const CANCELED: &str = "context canceled";

/// Nanoseconds since the Unix epoch, on the engine's clock.
pub(crate) type Nanos = i64;

/// Which output stream of a step a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// The step's standard output.
    Stdout,
    /// The step's standard error.
    Stderr,
}

impl LogStream {
    fn from_fd(fd: i64) -> Self {
        if fd == 2 { Self::Stderr } else { Self::Stdout }
    }

    /// `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// One complete line of a step's output, with secrets masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The stream it was written to.
    pub stream: LogStream,
    /// Nanoseconds between the start of the step and the line's first byte.
    pub offset: Nanos,
    /// The text, without its line ending.
    pub text: String,
}

impl LogLine {
    /// The offset as BuildKit prints it: seconds with 3, 2 or 1 decimals below 10, 100 and
    /// above.
    pub fn offset_label(&self) -> String {
        let secs = secs(self.offset);
        let precision = if secs < 10.0 {
            3
        } else if secs < 100.0 {
            2
        } else {
            1
        };
        format!("{secs:.precision$}")
    }
}

/// The step that made a build fail, as the build command reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedStep {
    /// The step's number, as in `#7`.
    pub number: usize,
    /// The step's name, e.g. `[4/4] RUN pip install -r requirements.txt`.
    pub name: String,
    /// BuildKit's error, e.g. `process "/bin/sh -c ..." did not complete successfully: exit
    /// code: 1` (Docker 23+) or `executor failed running [/bin/sh -c ...]: exit code: 1`.
    pub error: String,
    /// The exit code found at the end of `error`, when the step was a command that exited.
    pub exit_code: Option<i64>,
    /// The step's last log lines (at most [`KEPT_LOG_LINES`]), oldest first.
    pub logs: Vec<LogLine>,
}

impl fmt::Display for FailedStep {
    /// The buildx-style excerpt: the step's name and its last output between rules.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "------")?;
        writeln!(f, " > {}:", self.name)?;
        for line in &self.logs {
            if line.text.is_empty() {
                writeln!(f, "{}", line.offset_label())?;
            } else {
                writeln!(f, "{} {}", line.offset_label(), line.text)?;
            }
        }
        write!(f, "------")
    }
}

/// Finds `exit code: N` at the end of a BuildKit error.
fn exit_code(error: &str) -> Option<i64> {
    let (_, rest) = error.rsplit_once("exit code: ")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Progress of one operation within a step, e.g. `transferring context:` or a layer download.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transfer {
    /// BuildKit's id for it, which is also what it prints (`transferring context:`).
    pub(crate) id: String,
    /// Bytes (or items) done so far.
    pub(crate) current: i64,
    /// Bytes expected in all, 0 when unknown.
    pub(crate) total: i64,
    /// When the engine sent the latest update.
    pub(crate) timestamp: Option<Nanos>,
    pub(crate) started: Option<Nanos>,
    pub(crate) completed: Option<Nanos>,
}

impl Transfer {
    /// `1.23kB / 4.56MB`, `123B`, or nothing, as BuildKit shows sizes.
    pub(crate) fn size_label(&self) -> Option<String> {
        if self.total != 0 {
            Some(format!(
                "{} / {}",
                format_bytes(self.current),
                format_bytes(self.total)
            ))
        } else if self.current != 0 {
            Some(format_bytes(self.current))
        } else {
            None
        }
    }
}

/// A partial log line waiting for its end.
#[derive(Debug, Default)]
struct Partial {
    bytes: Vec<u8>,
    since: Option<Nanos>,
}

/// Debug output of partial lines would show unmasked bytes: show their length only.
struct PartialLen<'a>(&'a [Partial; 2]);

impl fmt::Debug for PartialLen<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{} bytes, {} bytes]",
            self.0[0].bytes.len(),
            self.0[1].bytes.len()
        )
    }
}

/// One vertex of the build graph, merged from all the messages that mentioned it.
pub(crate) struct Step {
    /// `#N`, given when the step first starts (vertices announced but never run get none).
    pub(crate) number: Option<usize>,
    pub(crate) name: String,
    pub(crate) cached: bool,
    /// Start of the current run of the step.
    pub(crate) started: Option<Nanos>,
    pub(crate) completed: Option<Nanos>,
    /// Time spent in earlier runs, when the engine ran the step more than once.
    pub(crate) earlier: Nanos,
    pub(crate) error: String,
    pub(crate) transfers: Vec<Transfer>,
    pub(crate) logs: VecDeque<LogLine>,
    pub(crate) warnings: Vec<String>,
    /// Order in which steps completed, for choosing the failure that came first.
    completion: Option<u64>,
    partial: [Partial; 2],
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step")
            .field("number", &self.number)
            .field("name", &self.name)
            .field("cached", &self.cached)
            .field("started", &self.started)
            .field("completed", &self.completed)
            .field("error", &self.error)
            .field("transfers", &self.transfers)
            .field("logs", &self.logs)
            .field("warnings", &self.warnings)
            .field("partial", &PartialLen(&self.partial))
            .finish_non_exhaustive()
    }
}

impl Step {
    fn new() -> Self {
        Self {
            number: None,
            name: String::new(),
            cached: false,
            started: None,
            completed: None,
            earlier: 0,
            error: String::new(),
            transfers: Vec::new(),
            logs: VecDeque::new(),
            warnings: Vec::new(),
            completion: None,
            partial: Default::default(),
        }
    }

    /// Whether the step has finished (successfully, from cache, or not).
    pub(crate) fn is_completed(&self) -> bool {
        self.completed.is_some()
    }

    /// Whether the step failed because another one did.
    pub(crate) fn is_canceled(&self) -> bool {
        self.error.ends_with(CANCELED)
    }

    /// Time the step took, if it has completed.
    pub(crate) fn duration(&self) -> Option<Nanos> {
        let completed = self.completed?;
        let started = self.started.unwrap_or(completed);
        Some(
            self.earlier
                .saturating_add(completed.saturating_sub(started).max(0)),
        )
    }
}

/// What one status message changed, in the order a renderer should show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// Step `N` started (or was first seen running) and now has its number.
    Started(usize),
    /// A transfer of step `N` progressed; `finished` when it completed with this update.
    Transfer {
        step: usize,
        index: usize,
        finished: bool,
    },
    /// Step `N` printed a line.
    Log { step: usize, line: LogLine },
    /// The engine warned about step `N`, or about the build when `None`.
    Warning { step: Option<usize>, text: String },
    /// Step `N` completed; whether it was cached or failed is in the step.
    Completed(usize),
}

/// The build so far: every step BuildKit has reported, merged by digest and numbered in the
/// order the steps started, as `docker buildx build` numbers them.
///
/// BuildKit announces vertices before it runs them, and never runs some of them (cached
/// ancestors, steps after a failure). Numbering them when they start rather than when they are
/// announced keeps the numbers gap-free and in the order the output shows them.
#[derive(Debug)]
pub struct BuildState {
    redactor: Redactor,
    steps: Vec<Step>,
    by_digest: HashMap<String, usize>,
    /// Index into `steps` of step `#N` at `N - 1`.
    numbered: Vec<usize>,
    completions: u64,
    latest: Option<Nanos>,
}

impl BuildState {
    /// An empty build whose text will be masked with `redactor`.
    pub fn new(redactor: Redactor) -> Self {
        Self {
            redactor,
            steps: Vec::new(),
            by_digest: HashMap::new(),
            numbered: Vec::new(),
            completions: 0,
            latest: None,
        }
    }

    /// Merges one status message from the engine.
    pub fn update(&mut self, status: &StatusResponse) {
        let _ = self.apply(status);
    }

    /// The step that made the build fail: the first to fail on its own (not canceled because
    /// another failed), with its last log lines.
    pub fn failure(&self) -> Option<FailedStep> {
        let step = self
            .numbered_steps()
            .filter(|s| !s.error.is_empty() && !s.is_canceled())
            .min_by_key(|s| (s.completion.unwrap_or(u64::MAX), s.number))?;
        Some(FailedStep {
            number: step.number.unwrap_or_default(),
            name: step.name.clone(),
            error: step.error.clone(),
            exit_code: exit_code(&step.error),
            logs: step.logs.iter().cloned().collect(),
        })
    }

    /// Merges one status message and returns what it changed.
    pub(crate) fn apply(&mut self, status: &StatusResponse) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut completed = Vec::new();
        for vertex in &status.vertexes {
            self.merge_vertex(vertex, &mut changes, &mut completed);
        }
        for transfer in &status.statuses {
            self.merge_transfer(transfer, &mut changes);
        }
        for warning in &status.warnings {
            self.merge_warning(warning, &mut changes);
        }
        for log in &status.logs {
            self.merge_log(log, &mut changes);
        }
        // Completion comes last so that a step's final output precedes its DONE.
        for index in completed {
            if self.steps[index].completed.is_none() {
                continue; // reopened later in the same message
            }
            self.flush_partials(index, &mut changes);
            if let Some(number) = self.steps[index].number {
                changes.push(Change::Completed(number));
            }
        }
        changes
    }

    /// Ends the build: prints what remains of unfinished log lines.
    pub(crate) fn finish(&mut self) -> Vec<Change> {
        let mut changes = Vec::new();
        for index in self.numbered.clone() {
            self.flush_partials(index, &mut changes);
        }
        changes
    }

    /// Step `#number`.
    pub(crate) fn step(&self, number: usize) -> &Step {
        &self.steps[self.numbered[number - 1]]
    }

    /// The numbered steps, in number order.
    pub(crate) fn numbered_steps(&self) -> impl Iterator<Item = &Step> {
        self.numbered.iter().map(|&i| &self.steps[i])
    }

    /// How many vertices the engine has announced, run or not.
    pub(crate) fn announced(&self) -> usize {
        self.steps.len()
    }

    /// How many of them have completed.
    pub(crate) fn completed(&self) -> usize {
        self.steps.iter().filter(|s| s.is_completed()).count()
    }

    /// The latest engine time any message carried: "now" for output that must not depend on
    /// the wall clock.
    pub(crate) fn latest(&self) -> Option<Nanos> {
        self.latest
    }

    fn saw(&mut self, time: Option<Nanos>) {
        if let Some(time) = time {
            self.latest = Some(self.latest.map_or(time, |l| l.max(time)));
        }
    }

    /// The step for `digest`, created when `create`.
    fn index(&mut self, digest: &str, create: bool) -> Option<usize> {
        if let Some(&index) = self.by_digest.get(digest) {
            return Some(index);
        }
        if !create {
            tracing::debug!("progress for an unknown vertex {digest}");
            return None;
        }
        self.steps.push(Step::new());
        self.by_digest
            .insert(digest.to_owned(), self.steps.len() - 1);
        Some(self.steps.len() - 1)
    }

    /// The step's number, giving it one (and reporting that it started) if it has none.
    fn number(&mut self, index: usize, changes: &mut Vec<Change>) -> usize {
        if let Some(number) = self.steps[index].number {
            return number;
        }
        self.numbered.push(index);
        let number = self.numbered.len();
        self.steps[index].number = Some(number);
        changes.push(Change::Started(number));
        number
    }

    fn merge_vertex(&mut self, v: &Vertex, changes: &mut Vec<Change>, completed: &mut Vec<usize>) {
        let Some(index) = self.index(&v.digest, true) else {
            return;
        };
        let started = nanos(v.started.as_ref());
        let done = nanos(v.completed.as_ref());
        self.saw(started);
        self.saw(done);
        let redactor = self.redactor.clone();
        let step = &mut self.steps[index];
        if !v.name.is_empty() {
            step.name = redactor.redact(&v.name).into_owned();
        }
        if v.cached {
            step.cached = true;
        }
        if !v.error.is_empty() {
            step.error = redactor.redact(&v.error).into_owned();
        }
        if let Some(started) = started {
            match (step.started, step.completed) {
                (None, _) => step.started = Some(started),
                // A new run of a step that had completed: BuildKit may run a vertex again for
                // another part of the build.
                (Some(old), Some(old_done)) if started > old_done && done.is_none() => {
                    step.earlier = step
                        .earlier
                        .saturating_add(old_done.saturating_sub(old).max(0));
                    step.started = Some(started);
                    step.completed = None;
                    step.completion = None;
                }
                _ => {}
            }
        }
        if let Some(done) = done
            && step.completed.is_none()
        {
            step.completed = Some(done);
            step.started.get_or_insert(done);
            self.completions += 1;
            step.completion = Some(self.completions);
            completed.push(index);
        }
        let step = &self.steps[index];
        if step.started.is_some() || step.completed.is_some() {
            self.number(index, changes);
        }
    }

    fn merge_transfer(&mut self, s: &VertexStatus, changes: &mut Vec<Change>) {
        let Some(index) = self.index(&s.vertex, false) else {
            return;
        };
        let step = self.number(index, changes);
        let (timestamp, started, done) = (
            nanos(s.timestamp.as_ref()),
            nanos(s.started.as_ref()),
            nanos(s.completed.as_ref()),
        );
        self.saw(timestamp);
        self.saw(done);
        let id = self.redactor.redact(&s.id).into_owned();
        let transfers = &mut self.steps[index].transfers;
        let at = match transfers.iter().position(|t| t.id == id) {
            Some(at) => at,
            None => {
                transfers.push(Transfer {
                    id,
                    ..Transfer::default()
                });
                transfers.len() - 1
            }
        };
        let t = &mut transfers[at];
        // A later message may carry only some fields: zero means "not told", not "reset".
        if s.current != 0 {
            t.current = s.current;
        }
        if s.total != 0 {
            t.total = s.total;
        }
        t.timestamp = timestamp.or(t.timestamp);
        if t.started.is_none() {
            t.started = started;
        }
        let finished = t.completed.is_none() && done.is_some();
        t.completed = done.or(t.completed);
        changes.push(Change::Transfer {
            step,
            index: at,
            finished,
        });
    }

    fn merge_warning(&mut self, w: &VertexWarning, changes: &mut Vec<Change>) {
        let text = self
            .redactor
            .redact(&String::from_utf8_lossy(&w.short))
            .into_owned();
        let step = match self.index(&w.vertex, false) {
            Some(index) => {
                let number = self.number(index, changes);
                self.steps[index].warnings.push(text.clone());
                Some(number)
            }
            None => None,
        };
        changes.push(Change::Warning { step, text });
    }

    fn merge_log(&mut self, log: &VertexLog, changes: &mut Vec<Change>) {
        let Some(index) = self.index(&log.vertex, false) else {
            return;
        };
        let number = self.number(index, changes);
        let time = nanos(log.timestamp.as_ref());
        self.saw(time);
        let stream = LogStream::from_fd(log.stream);
        let slot = usize::from(stream == LogStream::Stderr);
        let mut rest: &[u8] = &log.msg;
        while !rest.is_empty() {
            let partial = &mut self.steps[index].partial[slot];
            if partial.bytes.is_empty() {
                partial.since = time;
            }
            match rest.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    partial.bytes.extend_from_slice(&rest[..end]);
                    rest = &rest[end + 1..];
                    let bytes = std::mem::take(&mut partial.bytes);
                    let since = partial.since;
                    self.push_line(index, number, stream, &bytes, since, changes);
                }
                None => {
                    partial.bytes.extend_from_slice(rest);
                    rest = &[];
                    if partial.bytes.len() > MAX_PARTIAL_LINE {
                        // A program printing without newlines: show what is safe to show.
                        let cut = self.redactor.safe_split(&partial.bytes, MAX_PARTIAL_LINE);
                        let head: Vec<u8> = partial.bytes.drain(..cut).collect();
                        let since = partial.since;
                        partial.since = time;
                        self.push_line(index, number, stream, &head, since, changes);
                    }
                }
            }
        }
    }

    /// Turns what remains of a step's partial lines into lines.
    fn flush_partials(&mut self, index: usize, changes: &mut Vec<Change>) {
        let Some(number) = self.steps[index].number else {
            return;
        };
        for (slot, stream) in [(0, LogStream::Stdout), (1, LogStream::Stderr)] {
            let partial = &mut self.steps[index].partial[slot];
            if partial.bytes.is_empty() {
                continue;
            }
            let bytes = std::mem::take(&mut partial.bytes);
            let since = partial.since;
            self.push_line(index, number, stream, &bytes, since, changes);
        }
    }

    fn push_line(
        &mut self,
        index: usize,
        number: usize,
        stream: LogStream,
        raw: &[u8],
        since: Option<Nanos>,
        changes: &mut Vec<Change>,
    ) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let masked = self.redactor.redact_bytes(raw);
        // A carriage return rewrites the line (progress bars): keep what a terminal would show.
        let shown = match masked.iter().rposition(|&b| b == b'\r') {
            Some(cr) => &masked[cr + 1..],
            None => &masked[..],
        };
        let step = &mut self.steps[index];
        let offset = match (since, step.started) {
            (Some(at), Some(started)) => at.saturating_sub(started).max(0),
            _ => 0,
        };
        let line = LogLine {
            stream,
            offset,
            text: String::from_utf8_lossy(shown).into_owned(),
        };
        if step.logs.len() == KEPT_LOG_LINES {
            step.logs.pop_front();
        }
        step.logs.push_back(line.clone());
        changes.push(Change::Log { step: number, line });
    }
}

/// A protobuf timestamp as nanoseconds since the epoch.
fn nanos(ts: Option<&Timestamp>) -> Option<Nanos> {
    let ts = ts?;
    Some(
        ts.seconds
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(ts.nanos)),
    )
}

/// Nanoseconds as seconds.
pub(crate) fn secs(nanos: Nanos) -> f64 {
    nanos as f64 / 1e9
}

/// A size as BuildKit prints it: `123B` below a kilobyte, else `1.23kB`, `45.60MB`...
pub(crate) fn format_bytes(bytes: i64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if bytes.abs() < 1000 {
        return format!("{bytes}B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value.abs() >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.2}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::super::testing::{self, SECRET, at, log, status, vertex};
    use super::*;

    #[test]
    fn numbers_steps_in_the_order_they_start() {
        let mut state = BuildState::new(Redactor::none());
        // Announced first, started last.
        state.update(&status(vec![
            vertex("sha256:c", "[2/2] RUN c"),
            vertex("sha256:b", "b"),
        ]));
        let changes = state.apply(&status(vec![Vertex {
            started: at(1.0),
            ..vertex("sha256:a", "[internal] a")
        }]));
        assert_eq!(changes, vec![Change::Started(1)]);
        state.update(&status(vec![Vertex {
            started: at(2.0),
            ..vertex("sha256:c", "[2/2] RUN c")
        }]));
        let names: Vec<_> = state.numbered_steps().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["[internal] a", "[2/2] RUN c"]);
        assert_eq!(state.announced(), 3);
        // The same digest again keeps its number.
        state.update(&status(vec![Vertex {
            started: at(2.0),
            ..vertex("sha256:a", "[internal] a")
        }]));
        assert_eq!(state.step(1).name, "[internal] a");
        assert_eq!(state.numbered_steps().count(), 2);
    }

    #[test]
    fn a_message_with_only_completed_keeps_what_was_known() {
        let mut state = BuildState::new(Redactor::none());
        state.update(&status(vec![Vertex {
            started: at(1.0),
            ..vertex("sha256:a", "[1/2] FROM python")
        }]));
        let changes = state.apply(&StatusResponse {
            vertexes: vec![Vertex {
                digest: "sha256:a".into(),
                completed: at(3.5),
                ..Vertex::default()
            }],
            ..StatusResponse::default()
        });
        assert_eq!(changes, vec![Change::Completed(1)]);
        let step = state.step(1);
        assert_eq!(step.name, "[1/2] FROM python");
        assert_eq!(step.duration(), Some(2_500_000_000));
        // Repeating the completed vertex changes nothing.
        let again = state.apply(&status(vec![Vertex {
            started: at(1.0),
            completed: at(3.5),
            ..vertex("sha256:a", "[1/2] FROM python")
        }]));
        assert_eq!(again, vec![]);
        assert_eq!(state.completed(), 1);
    }

    #[test]
    fn transfers_merge_by_id() {
        let mut state = BuildState::new(Redactor::none());
        state.update(&status(vec![Vertex {
            started: at(1.0),
            ..vertex("sha256:ctx", "[internal] load build context")
        }]));
        let first = VertexStatus {
            id: "transferring context:".into(),
            vertex: "sha256:ctx".into(),
            current: 1200,
            timestamp: at(1.1),
            started: at(1.0),
            ..VertexStatus::default()
        };
        let last = VertexStatus {
            current: 0,
            completed: at(1.5),
            ..first.clone()
        };
        let changes = state.apply(&StatusResponse {
            statuses: vec![first, last],
            ..StatusResponse::default()
        });
        assert_eq!(
            changes,
            vec![
                Change::Transfer {
                    step: 1,
                    index: 0,
                    finished: false
                },
                Change::Transfer {
                    step: 1,
                    index: 0,
                    finished: true
                },
            ]
        );
        let t = &state.step(1).transfers[0];
        assert_eq!((t.current, t.completed.is_some()), (1200, true));
        assert_eq!(t.size_label().as_deref(), Some("1.20kB"));
    }

    #[test]
    fn log_lines_are_joined_across_messages_and_capped() {
        let mut state = BuildState::new(Redactor::none());
        state.update(&status(vec![Vertex {
            started: at(10.0),
            ..vertex("sha256:run", "[2/2] RUN x")
        }]));
        let mut changes = state.apply(&log("sha256:run", 1, 10.5, "hello wo"));
        changes.extend(state.apply(&log(
            "sha256:run",
            1,
            10.6,
            "rld\r\nprogress 10%\rprogress 100%\n",
        )));
        let lines: Vec<_> = changes
            .iter()
            .map(|c| match c {
                Change::Log { line, .. } => (line.offset_label(), line.text.clone()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            lines,
            [
                ("0.500".to_owned(), "hello world".to_owned()),
                ("0.600".to_owned(), "progress 100%".to_owned())
            ]
        );
        for i in 0..25 {
            state.update(&log("sha256:run", 2, 11.0, &format!("line {i}\n")));
        }
        let step = state.step(1);
        assert_eq!(step.logs.len(), KEPT_LOG_LINES);
        assert_eq!(step.logs.back().unwrap().text, "line 24");
        assert_eq!(step.logs.back().unwrap().stream, LogStream::Stderr);
    }

    #[test]
    fn an_unfinished_line_is_printed_when_its_step_completes() {
        let mut state = BuildState::new(Redactor::none());
        state.update(&status(vec![Vertex {
            started: at(1.0),
            ..vertex("sha256:run", "[2/2] RUN x")
        }]));
        state.update(&log("sha256:run", 1, 1.5, "no newline"));
        let changes = state.apply(&status(vec![Vertex {
            started: at(1.0),
            completed: at(2.0),
            ..vertex("sha256:run", "[2/2] RUN x")
        }]));
        assert!(matches!(&changes[0], Change::Log { line, .. } if line.text == "no newline"));
        assert_eq!(changes[1], Change::Completed(1));
    }

    #[test]
    fn a_secret_split_across_messages_is_masked() {
        let mut state = BuildState::new(testing::redactor());
        state.update(&status(vec![Vertex {
            started: at(1.0),
            ..vertex("sha256:run", "[2/2] RUN x")
        }]));
        let (head, tail) = SECRET.split_at(4);
        let mut changes = state.apply(&log("sha256:run", 1, 1.5, &format!("token={head}")));
        changes.extend(state.apply(&log("sha256:run", 1, 1.6, &format!("{tail} ok\n"))));
        assert!(
            matches!(&changes[..], [Change::Log { line, .. }] if line.text == "token=**** ok"),
            "{changes:?}"
        );
        assert!(!format!("{state:?}").contains(SECRET));
    }

    #[test]
    fn failure_reports_the_failing_step_and_its_last_lines() {
        let mut state = BuildState::new(testing::redactor());
        for message in testing::failing_build() {
            state.update(&message);
        }
        let failure = state.failure().expect("a failed step");
        assert_eq!(failure.number, 8);
        assert_eq!(
            failure.name,
            "[4/4] RUN --mount=type=secret,id=pip pip install -r requirements.txt"
        );
        assert_eq!(failure.exit_code, Some(1));
        assert!(failure.error.starts_with("executor failed running"));
        assert_eq!(
            failure.logs.last().map(|l| l.text.as_str()),
            Some("ERROR: No matching distribution found for nosuchpkg==1.0")
        );
        insta::assert_snapshot!(failure.to_string());
    }

    #[test]
    fn failure_ignores_steps_canceled_by_another() {
        let mut state = BuildState::new(Redactor::none());
        state.update(&status(vec![
            Vertex {
                started: at(1.0),
                completed: at(2.0),
                error: "context canceled".into(),
                ..vertex("sha256:a", "a")
            },
            Vertex {
                started: at(1.0),
                completed: at(2.5),
                error: "process \"/bin/sh -c false\" did not complete successfully: exit code: 2"
                    .into(),
                ..vertex("sha256:b", "b")
            },
        ]));
        let failure = state.failure().unwrap();
        assert_eq!((failure.number, failure.exit_code), (2, Some(2)));
        assert!(BuildState::new(Redactor::none()).failure().is_none());
    }

    #[test]
    fn exit_codes() {
        assert_eq!(
            exit_code("executor failed running [/bin/sh -c exit 3]: exit code: 3"),
            Some(3)
        );
        assert_eq!(exit_code("failed to compute cache key: not found"), None);
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(format_bytes(0), "0B");
        assert_eq!(format_bytes(999), "999B");
        assert_eq!(format_bytes(1234), "1.23kB");
        assert_eq!(format_bytes(45_678_901), "45.68MB");
    }
}
