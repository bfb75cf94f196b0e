//! Push progress: the [`PublishEvent`]s of each tag's push, shown in the build's
//! [`ProgressMode`]s.
//!
//! - `tty`: a live region per tag, redrawn in place at most ten times a second, like the
//!   build's view:
//!
//!   ```text
//!   [+] Pushing registry.example.com/app:1.0 2.1s (2/3)
//!    => 5f70bf18a086 Layer already exists
//!    => 9c1b6dd6c1e6 Pushed
//!    => 0d3a2b9ce7a1 Pushing [=========>          ] 4.19MB/8.39MB
//!   ```
//!
//!   When the tag is pushed (or fails) the region is drawn once more, whole, with `FINISHED`
//!   (or `FAILED`) and stays: each layer's last state is on screen once per tag. Logins and
//!   retries are printed above it; the engine's last line about the whole push (`1.0: digest:
//!   sha256:... size: 528`) is the region's last line.
//! - `plain`: a line per state change, `push REF: LAYER STATUS` (byte counts left out);
//! - `json`: one event per line on stdout: `push-started` {reference, login_source},
//!   `push-layer` {reference, layer, status, current, total}, `push-status` {reference, text},
//!   `push-retry` {reference, attempt, of, delay, reason}, `push-result` {reference, digest},
//!   `push-failed` {reference, error};
//! - `quiet`: nothing (the command prints the pushed references).

use std::io::Write;
use std::time::Instant;

use anstyle::{AnsiColor, Style};

use super::live::LiveRegion;
use super::state::format_bytes;
use super::tty::{Clock, SystemClock, sanitize};
use super::{ProgressMode, Sinks, Terminal};
use crate::engine::push::PushEvent;
use crate::publish::PublishEvent;
use crate::redact::{RedactingWriter, Redactor};

/// Columns of the progress bar of a layer being pushed.
const BAR: usize = 20;

const DONE: Style = AnsiColor::Blue.on_default();
const FAILED: Style = AnsiColor::Red.on_default();

/// Receives the pushes' progress and shows it; driven by the push command, one call per event.
pub trait PushReporter: Send {
    /// An event of the push of one tag.
    fn event(&mut self, event: &PublishEvent);

    /// The push of `reference` failed for good with `message` (the command prints the error).
    fn failed(&mut self, reference: &str, message: &str);

    /// Ends the pushes: leaves what is on screen and flushes.
    fn finish(&mut self);
}

/// The push reporter for `mode`, writing to `sinks` and masking the secrets `redactor` knows.
pub fn push_reporter(
    mode: ProgressMode,
    redactor: Redactor,
    terminal: Terminal,
    sinks: Sinks,
) -> Box<dyn PushReporter> {
    match mode.resolve(terminal) {
        ProgressMode::Tty => {
            let options = super::tty::TtyOptions::from_terminal(terminal);
            let region = LiveRegion::new(
                sinks.stderr,
                redactor.clone(),
                (options.width, options.height),
                super::size_probe(terminal),
            );
            Box::new(TtyPush::new(
                region,
                redactor,
                options.color,
                Box::new(SystemClock),
            ))
        }
        ProgressMode::Auto | ProgressMode::Plain => Box::new(PlainPush {
            out: RedactingWriter::new(sinks.stderr, redactor),
        }),
        ProgressMode::Json => Box::new(JsonPush {
            out: RedactingWriter::new(sinks.stdout, redactor),
        }),
        ProgressMode::Quiet => Box::new(QuietPush),
    }
}

/// `push REF: ...`: the plain line for an event, or `None` for byte counts.
fn plain_line(event: &PublishEvent) -> Option<String> {
    let line = match event {
        PublishEvent::Started {
            reference,
            login_source,
        } => format!(
            "push {reference}: login from {}",
            login_source.as_deref().unwrap_or("nowhere (anonymous)")
        ),
        PublishEvent::Push {
            reference,
            event: PushEvent::Layer { id, status, .. },
        } => {
            // Byte counts change many times a second; a line per state is enough for logs.
            if status == "Pushing" {
                return None;
            }
            format!("push {reference}: {id} {status}")
        }
        PublishEvent::Push {
            reference,
            event: PushEvent::Status(status),
        } => format!("push {reference}: {status}"),
        PublishEvent::Retrying {
            reference,
            attempt,
            of,
            delay,
            reason,
        } => format!(
            "push {reference}: attempt {attempt} of {of} in {:.1} s after: {reason}",
            delay.as_secs_f64()
        ),
        PublishEvent::Done { reference, digest } => format!("push {reference}: done, {digest}"),
    };
    Some(line)
}

/// Lines on stderr, for logs.
struct PlainPush {
    out: RedactingWriter<Box<dyn Write + Send>>,
}

impl PushReporter for PlainPush {
    fn event(&mut self, event: &PublishEvent) {
        if let Some(line) = plain_line(event) {
            let _ = writeln!(self.out, "{line}");
            let _ = self.out.flush();
        }
    }

    fn failed(&mut self, _reference: &str, _message: &str) {}

    fn finish(&mut self) {
        let _ = self.out.flush();
    }
}

/// JSON events on stdout, flushed one by one: scripts react to them as they come.
struct JsonPush {
    out: RedactingWriter<Box<dyn Write + Send>>,
}

impl JsonPush {
    fn emit(&mut self, value: serde_json::Value) {
        let _ = writeln!(self.out, "{value}");
        let _ = self.out.flush();
    }
}

impl PushReporter for JsonPush {
    fn event(&mut self, event: &PublishEvent) {
        let value = match event {
            PublishEvent::Started {
                reference,
                login_source,
            } => {
                serde_json::json!({"type": "push-started", "reference": reference, "login_source": login_source})
            }
            PublishEvent::Push {
                reference,
                event:
                    PushEvent::Layer {
                        id,
                        status,
                        current,
                        total,
                    },
            } => {
                serde_json::json!({"type": "push-layer", "reference": reference, "layer": id, "status": status, "current": current, "total": total})
            }
            PublishEvent::Push {
                reference,
                event: PushEvent::Status(status),
            } => {
                serde_json::json!({"type": "push-status", "reference": reference, "text": status})
            }
            PublishEvent::Retrying {
                reference,
                attempt,
                of,
                delay,
                reason,
            } => {
                serde_json::json!({"type": "push-retry", "reference": reference, "attempt": attempt, "of": of, "delay": delay.as_secs_f64(), "reason": reason})
            }
            PublishEvent::Done { reference, digest } => {
                serde_json::json!({"type": "push-result", "reference": reference, "digest": digest})
            }
        };
        self.emit(value);
    }

    fn failed(&mut self, reference: &str, message: &str) {
        self.emit(serde_json::json!({
            "type": "push-failed", "reference": reference, "error": message,
        }));
    }

    fn finish(&mut self) {
        let _ = self.out.flush();
    }
}

/// Nothing: under `-q` the command prints only the pushed references.
struct QuietPush;

impl PushReporter for QuietPush {
    fn event(&mut self, _event: &PublishEvent) {}
    fn failed(&mut self, _reference: &str, _message: &str) {}
    fn finish(&mut self) {}
}

/// One layer of the tag being pushed, in its latest state.
struct Layer {
    id: String,
    status: String,
    current: Option<u64>,
    total: Option<u64>,
}

impl Layer {
    /// Whether the registry has the layer: nothing more will happen to it in this push.
    fn is_done(&self) -> bool {
        is_final(&self.status)
    }
}

/// The engine's words for a layer the registry has.
fn is_final(status: &str) -> bool {
    status == "Pushed" || status == "Layer already exists" || status.starts_with("Mounted from")
}

/// The tag being pushed and what the engine said about it.
struct Tag {
    reference: String,
    started: Instant,
    /// In the order the engine first named them.
    layers: Vec<Layer>,
    /// The engine's last line about the whole push.
    note: Option<String>,
}

/// How a tag's region ends.
#[derive(Clone, Copy)]
enum End {
    Finished,
    Failed,
}

/// The live view. See the module documentation.
struct TtyPush {
    region: LiveRegion,
    redactor: Redactor,
    color: bool,
    clock: Box<dyn Clock>,
    tag: Option<Tag>,
}

impl TtyPush {
    fn new(region: LiveRegion, redactor: Redactor, color: bool, clock: Box<dyn Clock>) -> Self {
        Self {
            region,
            redactor,
            color,
            clock,
            tag: None,
        }
    }

    /// The tag `reference`'s region, started if it is another tag's.
    fn tag(&mut self, reference: &str) -> &mut Tag {
        if self.tag.as_ref().is_some_and(|t| t.reference != reference) {
            self.end(End::Finished);
        }
        let started = self.clock.now();
        self.tag.get_or_insert_with(|| Tag {
            reference: reference.to_owned(),
            started,
            layers: Vec::new(),
            note: None,
        })
    }

    fn paint(&self, text: String, style: Style) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text
        }
    }

    /// The region's lines, laid out for `width` columns: every layer when `end` is given, else
    /// as many as fit `height` lines (finished layers give way first, counted on one line).
    fn frame(&self, tag: &Tag, end: Option<End>, (width, height): (usize, usize)) -> Vec<String> {
        let avail = width.saturating_sub(1);
        let done = tag.layers.iter().filter(|l| l.is_done()).count();
        let elapsed = self
            .clock
            .now()
            .saturating_duration_since(tag.started)
            .as_secs_f64();
        let state = match end {
            Some(End::Finished) => " FINISHED",
            Some(End::Failed) => " FAILED",
            None => "",
        };
        let counts = format!(" {elapsed:.1}s ({done}/{}){state}", tag.layers.len());
        let room = avail.saturating_sub("[+] Pushing ".len() + counts.len());
        let reference = elide_middle(&sanitize(&tag.reference), room);
        let mut lines = vec![format!("[+] Pushing {reference}{counts}")];

        let mut layers: Vec<&Layer> = tag.layers.iter().collect();
        let mut hidden = 0;
        // The header, the note and the terminal's last row (the cursor's) take the rest.
        let room = height.saturating_sub(2 + usize::from(tag.note.is_some()));
        if end.is_none() && layers.len() > room {
            // Finished layers give way first, counted on a line of their own; then the oldest.
            let room = room.saturating_sub(1);
            let mut excess = layers.len() - room;
            layers.retain(|layer| {
                if excess > 0 && layer.is_done() {
                    excess -= 1;
                    hidden += 1;
                    return false;
                }
                true
            });
            let oldest = layers.len().saturating_sub(room);
            layers.drain(..oldest);
        }
        if hidden > 0 {
            lines.push(format!(" => {hidden} layers pushed"));
        }
        for layer in layers {
            let text = layer_line(layer, avail);
            lines.push(match (layer.is_done(), end) {
                (true, _) => self.paint(text, DONE),
                (false, Some(End::Failed)) => self.paint(text, FAILED),
                _ => text,
            });
        }
        if let Some(note) = &tag.note {
            lines.push(format!(" => {}", sanitize(note)));
        }
        lines
    }

    fn draw(&mut self, end: Option<End>) {
        let Some(tag) = self.tag.take() else { return };
        let size = self.region.size();
        let lines = self.frame(&tag, end, size);
        self.tag = Some(tag);
        self.region.draw(&lines, self.clock.now());
    }

    fn draw_if_due(&mut self) {
        if self.region.is_due(self.clock.now()) {
            self.draw(None);
        }
    }

    /// Draws the tag's region whole, for good.
    fn end(&mut self, end: End) {
        if self.tag.is_some() {
            self.draw(Some(end));
            self.region.forget();
            self.tag = None;
        }
    }

    fn print_above(&mut self, line: &str) {
        let line = self.redactor.redact(line).into_owned();
        self.region.print_above(&line);
        self.draw(None);
    }
}

impl PushReporter for TtyPush {
    fn event(&mut self, event: &PublishEvent) {
        match event {
            PublishEvent::Started { reference, .. } | PublishEvent::Retrying { reference, .. } => {
                self.tag(reference);
                if let Some(line) = plain_line(event) {
                    self.print_above(&line);
                }
            }
            PublishEvent::Push {
                reference,
                event:
                    PushEvent::Layer {
                        id,
                        status,
                        current,
                        total,
                    },
            } => {
                let tag = self.tag(reference);
                match tag.layers.iter_mut().find(|l| &l.id == id) {
                    Some(layer) => {
                        layer.status.clone_from(status);
                        layer.current = *current;
                        layer.total = *total;
                    }
                    None => tag.layers.push(Layer {
                        id: id.clone(),
                        status: status.clone(),
                        current: *current,
                        total: *total,
                    }),
                }
                self.draw_if_due();
            }
            PublishEvent::Push {
                reference,
                event: PushEvent::Status(status),
            } => {
                self.tag(reference).note = Some(status.clone());
                self.draw_if_due();
            }
            PublishEvent::Done { reference, .. } => {
                self.tag(reference);
                self.end(End::Finished);
            }
        }
    }

    fn failed(&mut self, reference: &str, _message: &str) {
        self.tag(reference);
        self.end(End::Failed);
    }

    fn finish(&mut self) {
        self.end(End::Failed);
    }
}

/// ` => ID STATUS`, with a bar and the bytes sent while it is pushed, cut to `width`.
fn layer_line(layer: &Layer, width: usize) -> String {
    let mut line = format!(" => {} {}", sanitize(&layer.id), sanitize(&layer.status));
    if let (false, Some(current), Some(total)) = (layer.is_done(), layer.current, layer.total)
        && total > 0
    {
        let filled = ((current.min(total) as f64 / total as f64) * BAR as f64).round() as usize;
        let arrow = if filled < BAR { ">" } else { "" };
        let bar = format!(
            " [{}{arrow}{}] {}/{}",
            "=".repeat(filled.saturating_sub(arrow.len())),
            " ".repeat(BAR - filled),
            format_bytes(current as i64),
            format_bytes(total as i64)
        );
        if line.chars().count() + bar.len() <= width {
            line.push_str(&bar);
        }
    }
    line.chars().take(width).collect()
}

/// `text` in at most `width` characters: the middle replaced with `…` when it is longer, so
/// that a reference keeps its registry and its tag.
fn elide_middle(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_owned();
    }
    if width < 5 {
        return text.chars().take(width).collect();
    }
    let tail = (width - 1) / 2;
    let head = width - 1 - tail;
    let mut out: String = text.chars().take(head).collect();
    out.push('…');
    out.extend(text.chars().skip(count - tail));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::super::live::FRAME_INTERVAL;
    use super::super::testing::{self, Captured, FakeClock, SECRET, Screen};
    use super::*;

    const LAYERS: [&str; 3] = ["5f70bf18a086", "9c1b6dd6c1e6", "0d3a2b9ce7a1"];

    fn layer(reference: &str, id: &str, status: &str, bytes: Option<(u64, u64)>) -> PublishEvent {
        PublishEvent::Push {
            reference: reference.into(),
            event: PushEvent::Layer {
                id: id.into(),
                status: status.into(),
                current: bytes.map(|b| b.0),
                total: bytes.map(|b| b.1),
            },
        }
    }

    /// The events of pushing `reference`: each layer prepared, waited on, pushed in many
    /// chunks (or found in the registry when `exists`), and a retry halfway.
    fn push_events(reference: &str, exists: bool) -> Vec<PublishEvent> {
        let mut events = vec![PublishEvent::Started {
            reference: reference.into(),
            login_source: Some(format!("SHIPIMG_REGISTRY_PASSWORD ({SECRET} masked)")),
        }];
        events.push(PublishEvent::Push {
            reference: reference.into(),
            event: PushEvent::Status(format!(
                "The push refers to repository [{}]",
                reference.split(':').next().unwrap()
            )),
        });
        for status in ["Preparing", "Waiting"] {
            for id in LAYERS {
                events.push(layer(reference, id, status, None));
            }
        }
        for (n, id) in LAYERS.iter().enumerate() {
            if exists {
                events.push(layer(reference, id, "Layer already exists", None));
                continue;
            }
            let total = 8_388_608 * (n as u64 + 1);
            for chunk in 0..=20 {
                let sent = total * chunk / 20;
                events.push(layer(reference, id, "Pushing", Some((sent, total))));
            }
            if n == 1 {
                events.push(PublishEvent::Retrying {
                    reference: reference.into(),
                    attempt: 2,
                    of: 5,
                    delay: Duration::from_secs(1),
                    reason: "connection reset".into(),
                });
            }
            events.push(layer(reference, id, "Pushed", None));
        }
        events.push(PublishEvent::Push {
            reference: reference.into(),
            event: PushEvent::Status(format!("{}: digest: sha256:4d5e size: 944", "1")),
        });
        events.push(PublishEvent::Done {
            reference: reference.into(),
            digest: "sha256:4d5e".into(),
        });
        events
    }

    /// The pushes of `references` on a `width` x `height` terminal, as a person would see
    /// them afterwards (scrollback included).
    fn screen_after(references: &[&str], width: usize, height: usize) -> Vec<String> {
        let out = Captured::default();
        let clock = FakeClock::new();
        let region = LiveRegion::new(out.sink(), testing::redactor(), (width, height), None);
        let mut reporter =
            TtyPush::new(region, testing::redactor(), false, Box::new(clock.clone()));
        for (n, reference) in references.iter().enumerate() {
            for event in push_events(reference, n > 0) {
                clock.advance(Duration::from_millis(40));
                reporter.event(&event);
            }
        }
        reporter.finish();
        drop(reporter);
        let text = out.text();
        assert!(!text.contains(SECRET), "{text}");
        Screen::new(width, height).feed(&text).lines()
    }

    /// Each region's final layer lines, by header.
    fn final_layers(lines: &[String]) -> Vec<(String, Vec<String>)> {
        let mut regions: Vec<(String, Vec<String>)> = Vec::new();
        for line in lines {
            if line.starts_with("[+] Pushing ") {
                regions.push((line.clone(), Vec::new()));
            } else if let Some(rest) = line.strip_prefix(" => ")
                && let Some((_, layers)) = regions.last_mut()
            {
                layers.push(rest.to_owned());
            }
        }
        regions
    }

    #[test]
    fn each_layer_is_on_screen_once_per_tag() {
        let references = [
            "registry.example.com/team/app:1.0",
            "registry.example.com/team/app:latest",
        ];
        for width in [40, 80, 120] {
            let lines = screen_after(&references, width, 40);
            let regions = final_layers(&lines);
            assert_eq!(regions.len(), 2, "{width}: {lines:#?}");
            for ((header, layers), exists) in regions.iter().zip([false, true]) {
                assert!(header.contains("(3/3) FINISHED"), "{width}: {lines:#?}");
                let mut seen = BTreeMap::new();
                for line in layers.iter().filter(|l| !l.contains("digest:")) {
                    let (id, status) = line.split_once(' ').unwrap();
                    assert!(
                        seen.insert(id.to_owned(), status.to_owned()).is_none(),
                        "{width}: {id} twice: {lines:#?}"
                    );
                }
                let want = if exists {
                    "Layer already exists"
                } else {
                    "Pushed"
                };
                assert_eq!(seen.keys().map(String::as_str).collect::<Vec<_>>(), {
                    let mut l = LAYERS.to_vec();
                    l.sort();
                    l
                });
                assert!(seen.values().all(|s| s == want), "{width}: {lines:#?}");
            }
            for line in &lines {
                assert!(
                    line.chars().count() < width
                        || !line.starts_with(" => ") && !line.starts_with("[+]"),
                    "{width}: {line:?}"
                );
            }
            // The retry is above the first tag's region; logins above each.
            let retry = lines
                .iter()
                .position(|l| l.contains("attempt 2 of 5"))
                .unwrap();
            let first = lines
                .iter()
                .position(|l| l.starts_with("[+] Pushing"))
                .unwrap();
            assert!(retry < first, "{lines:#?}");
        }
    }

    #[test]
    fn a_frame_fits_a_short_terminal() {
        let out = Captured::default();
        let clock = FakeClock::new();
        let region = LiveRegion::new(out.sink(), Redactor::none(), (80, 6), None);
        let mut reporter = TtyPush::new(region, Redactor::none(), false, Box::new(clock.clone()));
        let reference = "r/app:1";
        for n in 0..10 {
            reporter.event(&layer(reference, &format!("layer{n}"), "Waiting", None));
        }
        for n in 0..8 {
            reporter.event(&layer(reference, &format!("layer{n}"), "Pushed", None));
        }
        reporter.event(&layer(reference, "layer8", "Pushing", Some((5, 10))));
        clock.advance(FRAME_INTERVAL);
        reporter.event(&layer(reference, "layer9", "Pushing", Some((1, 10))));
        let live = Screen::new(80, 6).feed(&out.text()).lines();
        assert_eq!(
            live,
            [
                "[+] Pushing r/app:1 0.1s (8/10)",
                " => 7 layers pushed",
                " => layer7 Pushed",
                " => layer8 Pushing [=========>          ] 5B/10B",
                " => layer9 Pushing [=>                  ] 1B/10B",
                ""
            ]
        );
        reporter.event(&PublishEvent::Done {
            reference: reference.into(),
            digest: "sha256:0".into(),
        });
        let end = Screen::new(80, 6).feed(&out.text()).lines();
        assert_eq!(end.len(), 12, "{end:#?}");
        assert!(end[0].ends_with("FINISHED"), "{end:#?}");
    }

    #[test]
    fn long_references_keep_their_registry_and_tag() {
        assert_eq!(
            elide_middle("registry.example.com/team/app:1.0", 20),
            "registry.e…m/app:1.0"
        );
        assert_eq!(elide_middle("short:1", 20), "short:1");
        let line = layer_line(
            &Layer {
                id: "0d3a2b9ce7a1".into(),
                status: "Pushing".into(),
                current: Some(1),
                total: Some(2),
            },
            30,
        );
        assert_eq!(line, " => 0d3a2b9ce7a1 Pushing");
    }

    #[test]
    fn plain_and_json_keep_their_formats() {
        let events = push_events("r/app:1", false);
        let (out, err) = (Captured::default(), Captured::default());
        for mode in [ProgressMode::Plain, ProgressMode::Json, ProgressMode::Quiet] {
            let mut reporter = push_reporter(
                mode,
                testing::redactor(),
                Terminal::none(),
                Sinks {
                    stdout: out.sink(),
                    stderr: err.sink(),
                },
            );
            for event in &events {
                reporter.event(event);
            }
            reporter.failed("r/app:2", "could not push");
            reporter.finish();
        }
        let (out, err) = (out.text(), err.text());
        assert!(!out.contains(SECRET) && !err.contains(SECRET));
        let plain: Vec<&str> = err.lines().collect();
        assert_eq!(
            plain[0],
            "push r/app:1: login from SHIPIMG_REGISTRY_PASSWORD (**** masked)"
        );
        assert!(
            plain.contains(&"push r/app:1: 5f70bf18a086 Pushed"),
            "{err}"
        );
        assert!(
            plain.contains(&"push r/app:1: attempt 2 of 5 in 1.0 s after: connection reset"),
            "{err}"
        );
        assert_eq!(plain.last(), Some(&"push r/app:1: done, sha256:4d5e"));
        assert!(!err.contains("Pushing"), "{err}");
        let json: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(json.len(), events.len() + 1);
        assert_eq!(json[0]["type"], "push-started");
        assert_eq!(json.last().unwrap()["type"], "push-failed");
        assert_eq!(json.last().unwrap()["error"], "could not push");
        let layer = json
            .iter()
            .find(|e| e["type"] == "push-layer" && e["status"] == "Pushing")
            .unwrap();
        assert_eq!(layer["layer"], "5f70bf18a086");
        assert_eq!(layer["current"], 0);
        assert_eq!(layer["total"], 8_388_608);
    }
}
