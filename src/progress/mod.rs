//! Build progress: the engine's BuildKit status stream turned into what the user sees.
//!
//! The build code decodes each line of `POST /build?version=2` and drives a [`Reporter`]:
//! `moby.buildkit.trace` messages go to [`Reporter::status`], `{"stream": ...}` text to
//! [`Reporter::stream_line`], and the end of the build to [`Reporter::finish`]. Every reporter
//! merges the messages into a [`BuildState`] (numbered steps, their timings, transfers and last
//! log lines) and draws it in one of the [`ProgressMode`]s:
//!
//! - `tty`: a live view redrawn in place, like `docker buildx build` on a terminal;
//! - `plain`: append-only `#N ...` lines, like `--progress=plain`, for CI logs;
//! - `json`: one JSON event per line on stdout, for scripts (schema in [`json`]);
//! - `quiet`: only the image id, on stdout.
//!
//! A push is shown the same way, by a [`PushReporter`] ([`push_reporter`]) driven by the
//! publish events: a live region per tag on a terminal, `push ...` lines, JSON events, or
//! nothing. On a terminal both live views draw through one [`live::LiveRegion`], which keeps
//! their lines from wrapping; [`Terminal::detect`] is the one place that reads `TERM=dumb`,
//! `NO_COLOR` and the terminal's size.
//!
//! Secrets never reach the output: the [`Redactor`] masks them as text enters the state, every
//! other string a reporter prints goes through it, and the sinks pass through it once more.
//! When the build fails, [`BuildState::failure`] gives the failing step and its last lines
//! for the build command to print; reporters do not print the error themselves (except
//! `json`, whose `error` event is the only way a script learns it).

use std::io::{IsTerminal, Write};

use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;

pub mod json;
mod live;
mod plain;
mod push;
mod quiet;
mod state;
mod tty;

#[cfg(test)]
mod testing;

use crate::redact::Redactor;

pub use push::{PushReporter, push_reporter};
pub use state::{BuildState, FailedStep, KEPT_LOG_LINES, LogLine, LogStream};

/// How build progress is shown (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// `Tty` when stderr is a terminal, else `Plain`.
    #[default]
    Auto,
    /// A live view on stderr, redrawn in place.
    Tty,
    /// Plain `#N ...` lines on stderr.
    Plain,
    /// JSON events on stdout, one per line.
    Json,
    /// Nothing but the image id on stdout (and warnings on stderr).
    Quiet,
}

/// How the build ended, as the build command tells the reporter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The image was built.
    Built {
        /// The image id, `sha256:...` (from `moby.image.id`).
        image_id: String,
        /// The reference it was tagged with, if any.
        reference: Option<String>,
    },
    /// The build failed.
    Failed {
        /// The error, as the engine or the build command put it.
        message: String,
    },
}

/// Receives the build's progress and shows it. Driven by the build command, one call per
/// message of the engine's stream.
pub trait Reporter: Send {
    /// A BuildKit status message (`moby.buildkit.trace`).
    fn status(&mut self, status: &StatusResponse);

    /// A line of `{"stream": ...}` text from the engine, without its line ending.
    fn stream_line(&mut self, line: &str);

    /// A warning from the build itself (not from BuildKit), for the user to act on.
    fn warning(&mut self, message: &str);

    /// Lets the live view advance its timers when no message arrives; call it about ten times
    /// a second. The other reporters ignore it.
    fn tick(&mut self) {}

    /// Ends the build: prints what is left and the outcome, and flushes.
    fn finish(&mut self, outcome: &Outcome);

    /// The build as reported so far, e.g. for [`BuildState::failure`].
    fn state(&self) -> &BuildState;
}

/// Where reporters write: people's output to `stderr`, scripts' output to `stdout`.
pub struct Sinks {
    /// Receives JSON events and the quiet mode's image id.
    pub stdout: Box<dyn Write + Send>,
    /// Receives the live view, plain lines and warnings.
    pub stderr: Box<dyn Write + Send>,
}

impl Sinks {
    /// The process's standard output and error.
    pub fn std() -> Self {
        Self {
            stdout: Box::new(std::io::stdout()),
            stderr: Box::new(std::io::stderr()),
        }
    }
}

/// What the reporter needs to know about the terminal on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminal {
    /// Whether stderr is an interactive terminal (decides [`ProgressMode::Auto`]).
    pub is_terminal: bool,
    /// Its width in columns, when known.
    pub columns: Option<usize>,
    /// Its height in lines, when known.
    pub lines: Option<usize>,
    /// Whether the live view may use colours.
    pub color: bool,
}

impl Terminal {
    /// Looks at the real stderr: a terminal unless `TERM=dumb`; its size from the terminal, else
    /// `COLUMNS` and `LINES`; colour unless `NO_COLOR` or the global `anstream` choice says never.
    pub fn detect() -> Self {
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        let number = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .filter(|&n: &usize| n > 0)
        };
        let color = match anstream::ColorChoice::global() {
            anstream::ColorChoice::Never => false,
            anstream::ColorChoice::Always | anstream::ColorChoice::AlwaysAnsi => true,
            anstream::ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        // The real size first; COLUMNS and LINES where the terminal cannot say.
        let size = stderr_size();
        Self {
            is_terminal: std::io::stderr().is_terminal() && !dumb,
            columns: size.map(|(w, _)| w).or_else(|| number("COLUMNS")),
            lines: size.map(|(_, h)| h).or_else(|| number("LINES")),
            color,
        }
    }

    /// Not a terminal: `Auto` means plain.
    pub fn none() -> Self {
        Self {
            is_terminal: false,
            columns: None,
            lines: None,
            color: false,
        }
    }
}

/// The size of the terminal on stderr now, `(columns, lines)`, if it is one: live views ask
/// before every frame, so that they follow a resize.
fn stderr_size() -> Option<(usize, usize)> {
    terminal_size::terminal_size_of(std::io::stderr())
        .map(|(w, h)| (usize::from(w.0), usize::from(h.0)))
}

/// What a live view on `terminal` asks for its size before each frame: the real terminal's,
/// when stderr is one.
fn size_probe(terminal: Terminal) -> Option<live::SizeProbe> {
    terminal
        .is_terminal
        .then(|| Box::new(stderr_size) as live::SizeProbe)
}

impl ProgressMode {
    /// `Auto` made `Tty` or `Plain` for `terminal`; the other modes as they are.
    fn resolve(self, terminal: Terminal) -> Self {
        match self {
            ProgressMode::Auto if terminal.is_terminal => ProgressMode::Tty,
            ProgressMode::Auto => ProgressMode::Plain,
            other => other,
        }
    }
}

/// The reporter for `mode`, writing to `sinks` and masking the secrets `redactor` knows.
pub fn reporter(
    mode: ProgressMode,
    redactor: Redactor,
    terminal: Terminal,
    sinks: Sinks,
) -> Box<dyn Reporter> {
    match mode.resolve(terminal) {
        ProgressMode::Tty => {
            let reporter = tty::TtyReporter::new(
                redactor,
                sinks.stderr,
                tty::TtyOptions::from_terminal(terminal),
                Box::new(tty::SystemClock),
            );
            Box::new(match size_probe(terminal) {
                Some(probe) => reporter.with_size_probe(probe),
                None => reporter,
            })
        }
        ProgressMode::Auto | ProgressMode::Plain => {
            Box::new(plain::PlainReporter::new(redactor, sinks.stderr))
        }
        ProgressMode::Json => Box::new(json::JsonReporter::new(redactor, sinks.stdout)),
        ProgressMode::Quiet => Box::new(quiet::QuietReporter::new(
            redactor,
            sinks.stdout,
            sinks.stderr,
        )),
    }
}

/// A size as people read it: `1536` -> `1.5 KiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{self, Captured, SECRET};
    use super::*;

    #[test]
    fn bytes_read_like_people_do() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(600 * 1024 * 1024), "600.0 MiB");
    }

    use bollard_buildkit_proto::moby::buildkit::v1::{Vertex, VertexWarning};

    /// Drives a reporter through the failing build with the secret planted everywhere the
    /// engine or the build command could put it.
    fn drive_with_secret_everywhere(reporter: &mut dyn Reporter) {
        let leaky = format!("https://pip:{SECRET}@pypi.example.com/simple");
        for message in testing::failing_build() {
            reporter.status(&message);
        }
        reporter.status(&StatusResponse {
            vertexes: vec![Vertex {
                started: testing::at(3.5),
                completed: testing::at(3.6),
                error: format!("failed to fetch {leaky}: context canceled"),
                ..testing::vertex("sha256:leak", &format!("[internal] load {leaky}"))
            }],
            warnings: vec![VertexWarning {
                vertex: "sha256:leak".into(),
                short: format!("index {leaky} is not https").into_bytes(),
                ..VertexWarning::default()
            }],
            statuses: vec![bollard_buildkit_proto::moby::buildkit::v1::VertexStatus {
                id: format!("resolve {leaky}"),
                vertex: "sha256:leak".into(),
                completed: testing::at(3.6),
                ..Default::default()
            }],
            ..StatusResponse::default()
        });
        reporter.stream_line(&format!("Step 1/1 : ARG PIP_INDEX_URL={leaky}"));
        reporter.warning(&format!("the index URL {leaky} carries a password"));
        reporter.tick();
        reporter.finish(&Outcome::Failed {
            message: format!("failed to solve: {leaky}: exit code: 1"),
        });
    }

    #[test]
    fn no_reporter_prints_a_secret() {
        for mode in [
            ProgressMode::Tty,
            ProgressMode::Plain,
            ProgressMode::Json,
            ProgressMode::Quiet,
        ] {
            let (stdout, stderr) = (Captured::default(), Captured::default());
            let mut reporter = reporter(
                mode,
                testing::redactor(),
                Terminal::none(),
                Sinks {
                    stdout: stdout.sink(),
                    stderr: stderr.sink(),
                },
            );
            drive_with_secret_everywhere(&mut *reporter);
            let failure = reporter.state().failure().unwrap().to_string();
            let state = format!("{:?}", reporter.state());
            drop(reporter);
            let out = format!("{}{}", stdout.text(), stderr.text());
            for (what, text) in [("output", &out), ("failure", &failure), ("state", &state)] {
                assert!(!text.contains(SECRET), "{mode:?} {what} leaks:\n{text}");
                assert!(
                    !text.contains("s3cr"),
                    "{mode:?} {what} leaks a fragment:\n{text}"
                );
            }
            assert!(failure.contains("https://pip:****@pypi"), "{failure}");
            if mode != ProgressMode::Quiet {
                assert!(out.contains("https://pip:****@pypi"), "{mode:?}:\n{out}");
            }
        }
    }

    #[test]
    fn auto_follows_the_terminal() {
        for (is_terminal, expected) in [(true, "\u{1b}["), (false, "#1 ")] {
            let stderr = Captured::default();
            let mut reporter = reporter(
                ProgressMode::Auto,
                Redactor::none(),
                Terminal {
                    is_terminal,
                    ..Terminal::none()
                },
                Sinks {
                    stdout: Box::new(std::io::sink()),
                    stderr: stderr.sink(),
                },
            );
            for message in testing::successful_build() {
                reporter.status(&message);
            }
            reporter.finish(&Outcome::Built {
                image_id: testing::IMAGE_ID.into(),
                reference: None,
            });
            drop(reporter);
            assert!(stderr.text().contains(expected), "{}", stderr.text());
        }
    }
}

/// The plain and json renderers on a status stream recorded from the sandbox's Docker 20.10
/// engine (`testdata/engine-20.10-cached-then-failed.*`: a cached first stage, a RUN that writes
/// to stdout and stderr, a failing RUN with exit code 3).
#[cfg(test)]
mod recorded {
    use base64::Engine as _;
    use prost::Message as _;

    use super::testing::Captured;
    use super::*;

    const RECORDED: &str = include_str!("testdata/engine-20.10-cached-then-failed.jsonl");

    fn recorded_statuses() -> Vec<StatusResponse> {
        RECORDED
            .lines()
            .filter_map(|line| {
                let json: serde_json::Value = serde_json::from_str(line).unwrap();
                let aux = json.get("aux")?.as_str()?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(aux)
                    .unwrap();
                Some(StatusResponse::decode(bytes.as_slice()).unwrap())
            })
            .collect()
    }

    fn render(mode: ProgressMode) -> (String, String, Option<FailedStep>) {
        let (out, err) = (Captured::default(), Captured::default());
        let mut reporter = reporter(
            mode,
            Redactor::none(),
            Terminal::none(),
            Sinks {
                stdout: out.sink(),
                stderr: err.sink(),
            },
        );
        for status in recorded_statuses() {
            reporter.status(&status);
        }
        let failure = reporter.state().failure();
        reporter.finish(&Outcome::Failed {
            message: "exit code: 3".into(),
        });
        (out.text(), err.text(), failure)
    }

    #[test]
    fn recorded_stream_in_plain() {
        let (out, err, failure) = render(ProgressMode::Plain);
        assert!(out.is_empty());
        insta::assert_snapshot!(err);
        let failure = failure.expect("the recorded build failed");
        assert_eq!(failure.exit_code, Some(3));
        assert!(failure.logs.iter().any(|l| l.text == "the last words"));
    }

    #[test]
    fn recorded_stream_in_json() {
        let (out, err, _) = render(ProgressMode::Json);
        assert!(err.is_empty(), "{err}");
        for line in out.lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        insta::assert_snapshot!(out);
    }
}
