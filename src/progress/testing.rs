//! Test helpers: hand-built status streams shaped like what Docker's BuildKit sends for a small
//! Python service, a capturing sink, and a clock the tests move by hand.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard_buildkit_proto::google::protobuf::Timestamp;
use bollard_buildkit_proto::moby::buildkit::v1::{
    StatusResponse, Vertex, VertexLog, VertexStatus, VertexWarning,
};
use secrecy::SecretString;

use super::tty::Clock;
use crate::redact::Redactor;

/// The build's pip index token; it must never appear in any output.
pub(crate) const SECRET: &str = "s3cr3t-t0ken";

/// Engine time of the first message, in seconds since the epoch.
const T0: i64 = 1_700_000_000;

/// A redactor that knows [`SECRET`].
pub(crate) fn redactor() -> Redactor {
    Redactor::from_strings([&SecretString::from(SECRET)])
}

/// `secs` seconds after the start of the build, on the engine's clock.
pub(crate) fn at(secs: f64) -> Option<Timestamp> {
    let ms = (secs * 1000.0).round() as i64;
    Some(Timestamp {
        seconds: T0 + ms / 1000,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    })
}

/// A vertex as BuildKit announces it, before it starts.
pub(crate) fn vertex(digest: &str, name: &str) -> Vertex {
    Vertex {
        digest: digest.into(),
        name: name.into(),
        ..Vertex::default()
    }
}

/// A message carrying only vertices.
pub(crate) fn status(vertexes: Vec<Vertex>) -> StatusResponse {
    StatusResponse {
        vertexes,
        ..StatusResponse::default()
    }
}

/// A message carrying one chunk of a step's output (1 stdout, 2 stderr).
pub(crate) fn log(digest: &str, stream: i64, secs: f64, text: &str) -> StatusResponse {
    StatusResponse {
        logs: vec![log_entry(digest, stream, secs, text)],
        ..StatusResponse::default()
    }
}

fn log_entry(digest: &str, stream: i64, secs: f64, text: &str) -> VertexLog {
    VertexLog {
        vertex: digest.into(),
        timestamp: at(secs),
        stream,
        msg: text.as_bytes().to_vec(),
    }
}

fn started(digest: &str, name: &str, secs: f64) -> Vertex {
    Vertex {
        started: at(secs),
        ..vertex(digest, name)
    }
}

fn done(digest: &str, name: &str, from: f64, to: f64) -> Vertex {
    Vertex {
        started: at(from),
        completed: at(to),
        ..vertex(digest, name)
    }
}

fn cached(digest: &str, name: &str, secs: f64) -> Vertex {
    Vertex {
        cached: true,
        ..done(digest, name, secs, secs)
    }
}

fn transfer(
    digest: &str,
    id: &str,
    current: i64,
    from: f64,
    now: f64,
    finished: bool,
) -> VertexStatus {
    VertexStatus {
        id: id.into(),
        vertex: digest.into(),
        current,
        timestamp: at(now),
        started: at(from),
        completed: if finished { at(now) } else { None },
        ..VertexStatus::default()
    }
}

const DEF: &str = "sha256:0d1f";
const DEF_NAME: &str = "[internal] load build definition from Dockerfile";
const META: &str = "sha256:1e7a";
const META_NAME: &str = "[internal] load metadata for docker.io/library/python:3.12-slim";
const IGNORE: &str = "sha256:2b4c";
const IGNORE_NAME: &str = "[internal] load .dockerignore";
const FROM: &str = "sha256:3a9e";
const FROM_NAME: &str = "[1/4] FROM docker.io/library/python:3.12-slim@sha256:2f5c1e4b";
const CONTEXT: &str = "sha256:4c0d";
const CONTEXT_NAME: &str = "[internal] load build context";
const WORKDIR: &str = "sha256:5f31";
const WORKDIR_NAME: &str = "[2/4] WORKDIR /app";
const COPY: &str = "sha256:6d88";
const COPY_NAME: &str = "[3/4] COPY requirements.txt .";
/// The step that fails in [`failing_build`].
pub(crate) const RUN: &str = "sha256:7e02";
const RUN_NAME: &str = "[4/4] RUN --mount=type=secret,id=pip pip install -r requirements.txt";
const EXPORT: &str = "sha256:8b15";
const EXPORT_NAME: &str = "exporting to image";

/// A build whose `pip install` fails, as Docker 20.10 reports it: internal load steps, a
/// cached `FROM`, a context transfer, a `RUN` whose output spans several messages (one of
/// them cutting the index token in two) on stdout and stderr, an update that only sets
/// `completed`, and a step that exits with code 1.
pub(crate) fn failing_build() -> Vec<StatusResponse> {
    vec![
        status(vec![started(DEF, DEF_NAME, 0.010)]),
        StatusResponse {
            vertexes: vec![done(DEF, DEF_NAME, 0.010, 0.030)],
            statuses: vec![transfer(DEF, "transferring dockerfile:", 312, 0.011, 0.020, true)],
            warnings: vec![VertexWarning {
                vertex: DEF.into(),
                level: 1,
                short: b"SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG \"PIP_INDEX_URL\") (line 3)".to_vec(),
                ..VertexWarning::default()
            }],
            ..StatusResponse::default()
        },
        StatusResponse {
            vertexes: vec![
                started(META, META_NAME, 0.040),
                done(IGNORE, IGNORE_NAME, 0.041, 0.046),
            ],
            statuses: vec![transfer(IGNORE, "transferring context:", 2, 0.041, 0.045, true)],
            ..StatusResponse::default()
        },
        // Incremental: only the digest and the completion time.
        status(vec![Vertex {
            digest: META.into(),
            completed: at(1.234),
            ..Vertex::default()
        }]),
        // The frontend has parsed the Dockerfile: the whole graph is announced, unstarted.
        status(vec![
            vertex(FROM, FROM_NAME),
            vertex(CONTEXT, CONTEXT_NAME),
            vertex(WORKDIR, WORKDIR_NAME),
            vertex(COPY, COPY_NAME),
            vertex(RUN, RUN_NAME),
            vertex(EXPORT, EXPORT_NAME),
        ]),
        status(vec![cached(FROM, FROM_NAME, 1.300), started(CONTEXT, CONTEXT_NAME, 1.300)]),
        StatusResponse {
            statuses: vec![transfer(CONTEXT, "transferring context:", 20480, 1.301, 1.400, false)],
            ..StatusResponse::default()
        },
        StatusResponse {
            vertexes: vec![done(CONTEXT, CONTEXT_NAME, 1.300, 1.612)],
            statuses: vec![transfer(CONTEXT, "transferring context:", 48213, 1.301, 1.610, true)],
            ..StatusResponse::default()
        },
        status(vec![
            cached(WORKDIR, WORKDIR_NAME, 1.620),
            done(COPY, COPY_NAME, 1.620, 1.700),
        ]),
        status(vec![started(RUN, RUN_NAME, 1.710)]),
        log(RUN, 1, 2.223, "Looking in indexes: https://pip:s3cr"),
        log(
            RUN,
            1,
            2.224,
            "3t-t0ken@pypi.example.com/simple\nCollecting flask==3.0.0 (from -r requirements.txt (line 1))\n  Downloading flask-3.0.0-py3-none-any.whl.metadata (3.6 kB)\n",
        ),
        StatusResponse {
            logs: vec![
                log_entry(
                    RUN,
                    2,
                    3.050,
                    "ERROR: Could not find a version that satisfies the requirement nosuchpkg==1.0 (from versions: none)\n",
                ),
                log_entry(RUN, 2, 3.051, "ERROR: No matching distribution found for nosuchpkg==1.0\n"),
            ],
            ..StatusResponse::default()
        },
        status(vec![Vertex {
            error: "executor failed running [/bin/sh -c pip install -r requirements.txt]: exit code: 1"
                .into(),
            ..done(RUN, RUN_NAME, 1.710, 3.400)
        }]),
    ]
}

/// A short build that succeeds and exports an image.
pub(crate) fn successful_build() -> Vec<StatusResponse> {
    vec![
        StatusResponse {
            vertexes: vec![done(DEF, DEF_NAME, 0.0, 0.020)],
            statuses: vec![transfer(
                DEF,
                "transferring dockerfile:",
                96,
                0.001,
                0.015,
                true,
            )],
            ..StatusResponse::default()
        },
        status(vec![
            cached(FROM, "[1/2] FROM docker.io/library/python:3.12-slim", 0.100),
            started(RUN, "[2/2] RUN pip install flask", 0.100),
        ]),
        log(RUN, 1, 0.5, "Collecting flask\n"),
        log(RUN, 1, 2.0, "Successfully installed flask-3.0.0\n"),
        status(vec![done(RUN, "[2/2] RUN pip install flask", 0.100, 2.300)]),
        StatusResponse {
            vertexes: vec![done(EXPORT, EXPORT_NAME, 2.310, 2.520)],
            statuses: vec![
                transfer(EXPORT, "exporting layers", 0, 2.310, 2.500, true),
                transfer(
                    EXPORT,
                    "writing image sha256:0a1b2c3d4e5f",
                    0,
                    2.500,
                    2.510,
                    true,
                ),
                transfer(
                    EXPORT,
                    "naming to docker.io/library/app:dev",
                    0,
                    2.510,
                    2.520,
                    true,
                ),
            ],
            ..StatusResponse::default()
        },
    ]
}

/// The id of the image [`successful_build`] produces.
pub(crate) const IMAGE_ID: &str = "sha256:0a1b2c3d4e5f";

/// A sink the test keeps a handle on.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// A boxed writer into this capture.
    pub(crate) fn sink(&self) -> Box<dyn Write + Send> {
        Box::new(self.clone())
    }
}

impl Write for Captured {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A clock that only moves when told to.
#[derive(Clone)]
pub(crate) struct FakeClock(Arc<Mutex<Instant>>);

impl FakeClock {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Mutex::new(Instant::now())))
    }

    pub(crate) fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

/// A terminal as far as the live views use one: it wraps at its width, keeps what scrolls off
/// the top as scrollback, and understands cursor up, carriage return, and clearing to the end
/// of the line or screen (other escape sequences are ignored). A line feed also returns the
/// carriage, as a terminal's line discipline makes it. What a person would see, for tests.
pub(crate) struct Screen {
    width: usize,
    height: usize,
    rows: Vec<Vec<char>>,
    row: usize,
    col: usize,
}

impl Screen {
    pub(crate) fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            rows: vec![Vec::new()],
            row: 0,
            col: 0,
        }
    }

    /// Writes `text` to the terminal.
    pub(crate) fn feed(mut self, text: &str) -> Self {
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\x1b' if chars.peek() == Some(&'[') => {
                    chars.next();
                    let mut params = String::new();
                    let mut end = ' ';
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            end = c;
                            break;
                        }
                        params.push(c);
                    }
                    self.escape(&params, end);
                }
                '\n' => self.line_feed(),
                '\r' => self.col = 0,
                c => {
                    if self.col == self.width {
                        self.line_feed();
                    }
                    let line = &mut self.rows[self.row];
                    if line.len() <= self.col {
                        line.resize(self.col + 1, ' ');
                    }
                    line[self.col] = c;
                    self.col += 1;
                }
            }
        }
        self
    }

    fn line_feed(&mut self) {
        self.row += 1;
        self.col = 0;
        if self.rows.len() == self.row {
            self.rows.push(Vec::new());
        }
    }

    fn escape(&mut self, params: &str, end: char) {
        match end {
            'A' => {
                // The cursor cannot leave the screen for the scrollback.
                let top = self.rows.len().saturating_sub(self.height);
                let n = params.parse().unwrap_or(1);
                self.row = self.row.saturating_sub(n).max(top);
            }
            'K' => self.rows[self.row].truncate(self.col),
            'J' => {
                self.rows[self.row].truncate(self.col);
                self.rows.truncate(self.row + 1);
            }
            _ => {}
        }
    }

    /// Every row, scrollback first, without trailing blanks; the last is the cursor's.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.rows
            .iter()
            .map(|row| row.iter().collect::<String>().trim_end().to_owned())
            .collect()
    }
}
