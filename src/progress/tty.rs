//! The live renderer for terminals: a view of the build redrawn in place, as `docker buildx
//! build` draws it.
//!
//! ```text
//! [+] Building 3.4s (7/9)
//!  => [internal] load build definition from Dockerfile                        0.0s
//!  => => transferring dockerfile: 312B                                        0.0s
//!  => CACHED [1/4] FROM docker.io/library/python:3.12-slim@sha256:2f5c1e4b    0.0s
//!  => [4/4] RUN pip install -r requirements.txt                               1.7s
//!  => => # Collecting flask==3.0.0 (from -r requirements.txt (line 1))
//! ```
//!
//! Each frame moves the cursor back up over the previous one and overwrites it; frames are
//! drawn at most every 100 ms, on messages or on [`Reporter::tick`]. Completed steps show the
//! engine's durations; running ones count on the local clock, which tests replace. When the
//! frame is taller than the terminal, completed steps scroll off first. The final frame, drawn
//! by [`Reporter::finish`], lists every step and stays on screen. The frame is drawn in a
//! [`LiveRegion`], which keeps it from wrapping and follows resizes.
//!
//! Warnings and the engine's text lines are printed above the view. Text that arrives once
//! every step has completed (Docker 20.10's `Successfully tagged ...`) waits for the final
//! frame and follows it, so that it reads in the order it happened.

use std::io::Write;
use std::time::{Duration, Instant};

use anstyle::{AnsiColor, Style};
use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;

use super::live::{LiveRegion, SizeProbe};
use super::state::{BuildState, Nanos, Step, secs};
use super::{Outcome, Reporter, Terminal};
use crate::redact::Redactor;

/// How many of a running step's last log lines the view shows.
const LOG_LINES_SHOWN: usize = 6;

const DONE: Style = AnsiColor::Blue.on_default();
const FAILED: Style = AnsiColor::Red.on_default();
const CANCELED: Style = AnsiColor::Yellow.on_default();
const LOG: Style = Style::new().dimmed();
/// As the printer shows the word `warning`.
pub(crate) const WARN: Style = AnsiColor::Yellow.on_default().bold();

/// Where the live view gets the time.
pub(crate) trait Clock: Send {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real clock.
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The terminal the view is drawn on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TtyOptions {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) color: bool,
}

impl TtyOptions {
    /// The terminal's size, or 80x24 when unknown.
    pub(crate) fn from_terminal(terminal: Terminal) -> Self {
        Self {
            width: terminal.columns.unwrap_or(80).max(30),
            height: terminal.lines.unwrap_or(24).max(6),
            color: terminal.color,
        }
    }
}

/// One line of the view (before truncation to the height).
struct Row {
    text: String,
    style: Option<Style>,
    running: bool,
    logs: Vec<String>,
}

/// Renders the build as a live view. See the module documentation.
pub(crate) struct TtyReporter {
    state: BuildState,
    redactor: Redactor,
    region: LiveRegion,
    clock: Box<dyn Clock>,
    options: TtyOptions,
    start: Instant,
    /// An engine time and the local instant it corresponds to, for running timers.
    anchor: Option<(Nanos, Instant)>,
    /// The engine's text that arrived after the last step completed, for after the final frame.
    held: Vec<String>,
    /// Whether the final frame is on screen: nothing is drawn after it.
    finished: bool,
}

impl TtyReporter {
    pub(crate) fn new(
        redactor: Redactor,
        out: Box<dyn Write + Send>,
        options: TtyOptions,
        clock: Box<dyn Clock>,
    ) -> Self {
        Self {
            state: BuildState::new(redactor.clone()),
            region: LiveRegion::new(out, redactor.clone(), (options.width, options.height), None),
            redactor,
            start: clock.now(),
            clock,
            options,
            anchor: None,
            held: Vec::new(),
            finished: false,
        }
    }

    /// Asks `probe` for the terminal's size before each frame, so that a resize is followed.
    pub(crate) fn with_size_probe(mut self, probe: SizeProbe) -> Self {
        self.region.set_probe(probe);
        self
    }

    /// Seconds from an engine time to `now`, on the local clock.
    fn running_secs(&self, since: Option<Nanos>, now: Instant) -> f64 {
        let (Some(since), Some((engine, local))) = (since, self.anchor) else {
            return 0.0;
        };
        let delta = since.saturating_sub(engine);
        let at = if delta >= 0 {
            local + Duration::from_nanos(delta.unsigned_abs())
        } else {
            local
                .checked_sub(Duration::from_nanos(delta.unsigned_abs()))
                .unwrap_or(local)
        };
        now.saturating_duration_since(at).as_secs_f64()
    }

    fn rows(&self, now: Instant) -> Vec<Row> {
        let mut rows = Vec::new();
        for step in self.state.numbered_steps() {
            let running = !step.is_completed();
            let elapsed = match step.duration() {
                Some(d) => secs(d),
                None => secs(step.earlier) + self.running_secs(step.started, now),
            };
            rows.push(Row {
                text: self.line(" => ", &step_label(step), None, Some(elapsed)),
                style: step_style(step),
                running,
                logs: if running {
                    step.logs.iter().map(|l| sanitize(&l.text)).collect()
                } else {
                    Vec::new()
                },
            });
            for t in step.transfers.iter().filter(|t| t.started.is_some()) {
                let elapsed = match (t.started, t.completed) {
                    (Some(s), Some(c)) => secs(c.saturating_sub(s).max(0)),
                    (s, _) if running => self.running_secs(s, now),
                    // The step ended without the transfer saying so: stop its clock too.
                    (Some(s), None) => secs(step.completed.unwrap_or(s).saturating_sub(s).max(0)),
                    (None, _) => 0.0,
                };
                rows.push(Row {
                    text: self.line(
                        " => => ",
                        &sanitize(&t.id),
                        t.size_label().as_deref(),
                        Some(elapsed),
                    ),
                    style: (t.completed.is_some() || !running).then_some(DONE),
                    running: running && t.completed.is_none(),
                    logs: Vec::new(),
                });
            }
            for warning in &step.warnings {
                rows.push(Row {
                    text: self.line(" => ", &format!("WARN: {}", sanitize(warning)), None, None),
                    style: Some(CANCELED),
                    running: false,
                    logs: Vec::new(),
                });
            }
        }
        rows
    }

    /// A row: `prefix name [status]` padded so that the timer ends one column short of the
    /// right edge (writing the last column makes some terminals wrap).
    fn line(&self, prefix: &str, name: &str, status: Option<&str>, elapsed: Option<f64>) -> String {
        let avail = self.options.width - 1;
        let timer = elapsed.map(|e| format!(" {:.1}s", if e < 0.05 { 0.0 } else { e }));
        let timer = timer.unwrap_or_default();
        let mut left = avail.saturating_sub(prefix.len() + timer.len() + 1);
        let status = status.filter(|s| left >= s.len() + 1 + 12);
        if let Some(status) = status {
            left -= status.len() + 1;
        }
        let mut body: String = prefix.to_owned();
        body.extend(name.chars().take(left));
        if let Some(status) = status {
            body.push(' ');
            body.push_str(status);
        }
        if timer.is_empty() {
            return body;
        }
        let pad = (avail - timer.len()).saturating_sub(body.chars().count());
        format!("{body}{:pad$}{timer}", "")
    }

    /// The lines of one frame; all of them when `all`, else as many as fit the terminal.
    fn frame(&self, all: bool) -> Vec<String> {
        let now = self.clock.now();
        let (completed, announced) = (self.state.completed(), self.state.announced());
        let finished = if all && announced > 0 && completed == announced {
            " FINISHED"
        } else {
            ""
        };
        let elapsed = now.saturating_duration_since(self.start).as_secs_f64();
        let header = format!("[+] Building {elapsed:.1}s ({completed}/{announced}){finished}");
        let mut lines = vec![truncate(&header, self.options.width - 1)];

        let mut rows = self.rows(now);
        let mut free = usize::MAX;
        if !all {
            let room = self.options.height - 2;
            // Completed rows scroll off first, then whatever is oldest.
            let mut excess = rows.len().saturating_sub(room);
            rows.retain(|row| {
                if excess > 0 && !row.running {
                    excess -= 1;
                    return false;
                }
                true
            });
            let drop = rows.len().saturating_sub(room);
            rows.drain(..drop);
            free = room - rows.len();
        }
        let log_width = self.options.width - 1 - " => => # ".len();
        for row in rows {
            lines.push(self.paint(row.text, row.style));
            let shown = row.logs.len().min(LOG_LINES_SHOWN).min(free);
            free -= shown;
            for log in &row.logs[row.logs.len() - shown..] {
                let text = format!(" => => # {}", truncate(log, log_width));
                lines.push(self.paint(text, Some(LOG)));
            }
        }
        lines
    }

    fn paint(&self, text: String, style: Option<Style>) -> String {
        match style {
            Some(style) if self.options.color => format!("{style}{text}{style:#}"),
            _ => text,
        }
    }

    /// Overwrites the frame on screen with a new one, laid out for the terminal's size now.
    fn draw(&mut self, all: bool) {
        let (width, height) = self.region.size();
        self.options.width = width.max(30);
        self.options.height = height.max(6);
        let lines = self.frame(all);
        self.region.draw(&lines, self.clock.now());
    }

    fn draw_if_due(&mut self) {
        if self.region.is_due(self.clock.now()) {
            self.draw(false);
        }
    }

    /// Prints a line above the live view, which is drawn again below it.
    fn print_above(&mut self, line: &str) {
        self.region.print_above(&self.redactor.redact(line));
        if !self.finished {
            self.draw(false);
        }
    }

    /// Whether every step announced so far has completed: the build is exporting or done.
    fn all_completed(&self) -> bool {
        let announced = self.state.announced();
        announced > 0 && self.state.completed() == announced
    }
}

/// `CACHED [1/4] FROM ...`, `ERROR [4/4] RUN ...`: the step's name as the view shows it.
fn step_label(step: &Step) -> String {
    let mut label = sanitize(&step.name);
    if step.is_canceled() {
        label.insert_str(0, "CANCELED ");
    } else if !step.error.is_empty() {
        label.insert_str(0, "ERROR ");
    }
    if step.cached {
        label.insert_str(0, "CACHED ");
    }
    label
}

fn step_style(step: &Step) -> Option<Style> {
    if !step.is_completed() {
        None
    } else if step.is_canceled() {
        Some(CANCELED)
    } else if !step.error.is_empty() {
        Some(FAILED)
    } else {
        Some(DONE)
    }
}

/// Text fit for one line of the view: escape sequences and control characters removed, tabs
/// made spaces, so that nothing moves the cursor behind the view's back.
pub(crate) fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                // CSI: parameters, then a final byte in @..~
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ESC \
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' {
                            chars.next_if_eq(&'\\');
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// At most `width` characters of `text`.
fn truncate(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

impl Reporter for TtyReporter {
    fn status(&mut self, status: &StatusResponse) {
        let _ = self.state.apply(status);
        if self.anchor.is_none()
            && let Some(latest) = self.state.latest()
        {
            self.anchor = Some((latest, self.clock.now()));
        }
        self.draw_if_due();
    }

    fn stream_line(&mut self, line: &str) {
        if self.all_completed() {
            self.held.push(line.to_owned());
        } else {
            self.print_above(line);
        }
    }

    fn warning(&mut self, message: &str) {
        let label = self.paint("warning".into(), Some(WARN));
        self.print_above(&format!("{label}: {message}"));
    }

    fn tick(&mut self) {
        if !self.finished {
            self.draw_if_due();
        }
    }

    fn finish(&mut self, _outcome: &Outcome) {
        // The outcome is the build command's to print (with the failed step's excerpt).
        let _ = self.state.finish();
        self.draw(true);
        self.region.forget();
        self.finished = true;
        for line in std::mem::take(&mut self.held) {
            self.print_above(&line);
        }
    }

    fn state(&self) -> &BuildState {
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::super::live::{CLEAR_BELOW, HIDE_CURSOR};
    use super::super::testing::{self, Captured, FakeClock, Screen};
    use super::*;

    const OPTIONS: TtyOptions = TtyOptions {
        width: 100,
        height: 30,
        color: false,
    };

    fn reporter(options: TtyOptions) -> (TtyReporter, Captured, FakeClock) {
        let out = Captured::default();
        let clock = FakeClock::new();
        let reporter = TtyReporter::new(
            testing::redactor(),
            out.sink(),
            options,
            Box::new(clock.clone()),
        );
        (reporter, out, clock)
    }

    /// The frames written so far, as plain text.
    fn frames(out: &Captured) -> Vec<String> {
        out.text()
            .split(HIDE_CURSOR)
            .skip(1)
            .map(|frame| {
                frame
                    .lines()
                    .map(|l| sanitize(&l.replace('\r', "")).trim_end().to_owned())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect()
    }

    #[test]
    fn final_frame_lists_every_step() {
        let (mut reporter, out, clock) = reporter(OPTIONS);
        for message in testing::failing_build() {
            clock.advance(Duration::from_millis(250));
            reporter.status(&message);
        }
        reporter.finish(&Outcome::Failed {
            message: "exit code: 1".into(),
        });
        let last = frames(&out).pop().unwrap();
        assert!(last.contains("CACHED [1/4] FROM"), "{last}");
        assert!(last.contains("ERROR [4/4] RUN"), "{last}");
        insta::assert_snapshot!(last);
    }

    #[test]
    fn running_step_shows_its_last_lines() {
        let (mut reporter, out, clock) = reporter(OPTIONS);
        let messages = testing::failing_build();
        for message in &messages[..messages.len() - 1] {
            clock.advance(Duration::from_millis(120));
            reporter.status(message);
        }
        clock.advance(Duration::from_millis(1500));
        reporter.tick();
        let last = frames(&out).pop().unwrap();
        assert!(last.contains(" => => # Collecting flask==3.0.0"), "{last}");
        insta::assert_snapshot!(last);
    }

    #[test]
    fn redraws_in_place_at_most_ten_times_a_second() {
        let (mut reporter, out, clock) = reporter(OPTIONS);
        for message in testing::failing_build() {
            clock.advance(Duration::from_millis(10));
            reporter.status(&message);
        }
        reporter.tick();
        // 14 messages over 140 ms: the first frame, one at 100 ms, none on the tick.
        assert_eq!(frames(&out).len(), 2);
        clock.advance(Duration::from_millis(100));
        reporter.tick();
        let text = out.text();
        let frames = frames(&out);
        assert_eq!(frames.len(), 3);
        // Each frame but the first starts by moving up over the previous one.
        let previous = frames[1].lines().count();
        assert!(text.contains(&format!("\x1b[{previous}A\r")), "{text:?}");
    }

    #[test]
    fn tall_builds_scroll_completed_steps_off() {
        let (mut reporter, out, clock) = reporter(TtyOptions {
            height: 8,
            ..OPTIONS
        });
        let messages = testing::failing_build();
        for message in &messages[..messages.len() - 1] {
            clock.advance(Duration::from_millis(200));
            reporter.status(message);
        }
        let last = frames(&out).pop().unwrap();
        assert!(last.lines().count() <= 7, "{last}");
        assert!(last.contains("[4/4] RUN"), "{last}");
        assert!(!last.contains("load build definition"), "{last}");
    }

    #[test]
    fn lines_fit_the_width() {
        let (mut reporter, out, _clock) = reporter(TtyOptions {
            width: 40,
            ..OPTIONS
        });
        for message in testing::failing_build() {
            reporter.status(&message);
        }
        reporter.finish(&Outcome::Failed {
            message: String::new(),
        });
        for line in frames(&out).pop().unwrap().lines() {
            assert!(line.chars().count() < 40, "{line:?}");
        }
    }

    #[test]
    fn colors_completed_and_failed_steps() {
        let (mut reporter, out, _clock) = reporter(TtyOptions {
            color: true,
            ..OPTIONS
        });
        for message in testing::failing_build() {
            reporter.status(&message);
        }
        reporter.finish(&Outcome::Failed {
            message: String::new(),
        });
        let text = out.text();
        assert!(text.contains(&format!("{DONE} => [internal] load build definition")));
        assert!(text.contains(&format!("{FAILED} => ERROR [4/4] RUN")));
    }

    #[test]
    fn stream_lines_go_above_the_view() {
        let (mut reporter, out, _clock) = reporter(OPTIONS);
        let messages = testing::successful_build();
        reporter.status(&messages[0]);
        reporter.status(&messages[1]);
        let drawn = frames(&out).pop().unwrap().lines().count();
        reporter.stream_line("a line from the engine");
        let text = out.text();
        let line = text.find("a line from the engine").unwrap();
        // The old frame was cleared first and a new one follows.
        assert!(
            text[..line].ends_with(&format!("\x1b[{drawn}A\r{CLEAR_BELOW}")),
            "{text:?}"
        );
        assert!(text[line..].contains("[+] Building"));
    }

    /// Docker 20.10 sends `Successfully tagged` after the last step: it used to be printed
    /// above the view, so that the final `FINISHED` frame came after it.
    #[test]
    fn text_after_the_last_step_follows_the_final_frame() {
        let (mut reporter, out, _clock) = reporter(OPTIONS);
        for message in testing::successful_build() {
            reporter.status(&message);
        }
        reporter.warning("a warning while the build runs");
        reporter.stream_line("Successfully tagged app:dev");
        reporter.finish(&Outcome::Built {
            image_id: testing::IMAGE_ID.into(),
            reference: Some("app:dev".into()),
        });
        let lines = Screen::new(OPTIONS.width, OPTIONS.height)
            .feed(&out.text())
            .lines();
        let at = |needle: &str| {
            let found: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains(needle))
                .collect();
            assert_eq!(found.len(), 1, "{needle}: {lines:#?}");
            found[0]
        };
        let warning = at("warning: a warning while the build runs");
        let finished = at("FINISHED");
        let tagged = at("Successfully tagged app:dev");
        assert!(warning < finished && finished < tagged, "{lines:#?}");
        assert_eq!(tagged, lines.len() - 2, "{lines:#?}");
    }

    #[test]
    fn a_resize_is_followed_at_the_next_frame() {
        let size = std::sync::Arc::new(std::sync::Mutex::new((100, 30)));
        let probe_size = std::sync::Arc::clone(&size);
        let (reporter, out, clock) = reporter(OPTIONS);
        let mut reporter =
            reporter.with_size_probe(Box::new(move || Some(*probe_size.lock().unwrap())));
        let messages = testing::failing_build();
        for message in &messages[..messages.len() - 1] {
            clock.advance(Duration::from_millis(200));
            reporter.status(message);
        }
        *size.lock().unwrap() = (50, 30);
        clock.advance(Duration::from_millis(200));
        reporter.status(&messages[messages.len() - 1]);
        reporter.finish(&Outcome::Failed {
            message: String::new(),
        });
        let last = frames(&out).pop().unwrap();
        for line in last.lines() {
            assert!(line.chars().count() < 50, "{line:?}");
        }
    }

    #[test]
    fn sanitize_strips_escapes() {
        assert_eq!(sanitize("\x1b[31mred\x1b[0m\tx\x07"), "red x");
        assert_eq!(sanitize("\x1b]0;title\x07ok"), "ok");
    }
}
