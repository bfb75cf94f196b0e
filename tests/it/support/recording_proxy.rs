//! A recording proxy in front of the engine: it listens on a unix socket in a temp dir, relays
//! each connection to the engine's socket byte for byte, and writes down the request line of
//! every HTTP/1.1 request that goes through, so a test can assert what shipimg sent rather than
//! only that the engine accepted it (an engine serves unversioned paths too).
//!
//! Requests are followed one after the other on a connection (bodies skipped by
//! `Content-Length` or chunked framing, as keep-alive clients send several). After a request
//! that asks for an `Upgrade` (`/session`, `/grpc`), or after anything that is not an HTTP/1.1
//! request line, the rest of the connection is relayed unread: it is HTTP/2 then.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// A running proxy; dropping it stops accepting connections.
pub struct RecordingProxy {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    lines: Arc<Mutex<Vec<String>>>,
    stopping: Arc<AtomicBool>,
}

impl RecordingProxy {
    /// Starts relaying to the engine listening at `engine` (a socket path).
    pub fn start(engine: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("proxy.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stopping = Arc::new(AtomicBool::new(false));
        let engine = engine.to_owned();
        let (accept_lines, accept_stopping) = (lines.clone(), stopping.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                if accept_stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (engine, lines) = (engine.clone(), accept_lines.clone());
                thread::spawn(move || {
                    if let Err(err) = relay(client, &engine, &lines) {
                        eprintln!("recording proxy: {err}");
                    }
                });
            }
        });
        Self {
            _dir: dir,
            socket,
            lines,
            stopping,
        }
    }

    /// `DOCKER_HOST` for the proxy: `unix://.../proxy.sock`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The request lines recorded since the last call, in the order they were sent (per
    /// connection; connections interleave as they ran).
    pub fn take_request_lines(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().unwrap())
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = UnixStream::connect(&self.socket);
    }
}

/// Relays one connection both ways, reading the client's side as HTTP/1.1 requests.
fn relay(client: UnixStream, engine: &Path, lines: &Mutex<Vec<String>>) -> io::Result<()> {
    let mut upstream = UnixStream::connect(engine)?;
    let mut answers = upstream.try_clone()?;
    let mut client_out = client.try_clone()?;
    let back = thread::spawn(move || {
        let _ = io::copy(&mut answers, &mut client_out);
        let _ = client_out.shutdown(Shutdown::Write);
    });
    let mut requests = BufReader::new(client);
    let result = forward_requests(&mut requests, &mut upstream, lines);
    // Whatever is left (an upgraded connection, or a stream that stopped parsing) goes as is.
    let rest = io::copy(&mut requests, &mut upstream);
    let _ = upstream.shutdown(Shutdown::Write);
    let _ = back.join();
    result.and(rest.map(drop))
}

/// Forwards requests while they are HTTP/1.1, recording each request line. Returns when the
/// client closes, upgrades, or sends something else.
fn forward_requests(
    from: &mut BufReader<UnixStream>,
    to: &mut UnixStream,
    lines: &Mutex<Vec<String>>,
) -> io::Result<()> {
    loop {
        let mut line = Vec::new();
        if from.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        let is_http11 = text.split(' ').count() == 3 && text.ends_with(" HTTP/1.1");
        to.write_all(&line)?;
        if !is_http11 {
            return Ok(());
        }
        lines.lock().unwrap().push(text);

        let mut content_length = 0u64;
        let (mut chunked, mut upgrade) = (false, false);
        loop {
            let mut header = Vec::new();
            if from.read_until(b'\n', &mut header)? == 0 {
                return Ok(());
            }
            to.write_all(&header)?;
            let header = String::from_utf8_lossy(&header)
                .trim_end()
                .to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            match (name.trim(), value.trim()) {
                ("content-length", n) => content_length = n.parse().unwrap_or(0),
                ("transfer-encoding", te) => chunked = te.contains("chunked"),
                ("upgrade", _) => upgrade = true,
                _ => {}
            }
        }
        if chunked {
            copy_chunked(from, to)?;
        } else {
            io::copy(&mut from.by_ref().take(content_length), to)?;
        }
        if upgrade {
            return Ok(());
        }
    }
}

/// Copies one chunked body, framing included, through its last chunk and trailers.
fn copy_chunked(from: &mut BufReader<UnixStream>, to: &mut UnixStream) -> io::Result<()> {
    loop {
        let mut size_line = Vec::new();
        from.read_until(b'\n', &mut size_line)?;
        to.write_all(&size_line)?;
        let size_text = String::from_utf8_lossy(&size_line);
        let size_text = size_text.trim().split(';').next().unwrap_or("");
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::other(format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                let mut trailer = Vec::new();
                if from.read_until(b'\n', &mut trailer)? == 0 {
                    return Ok(());
                }
                to.write_all(&trailer)?;
                if trailer.trim_ascii().is_empty() {
                    return Ok(());
                }
            }
        }
        // The data and its CRLF.
        io::copy(&mut from.by_ref().take(size + 2), to)?;
    }
}
