//! The last resort: `gcloud auth print-access-token`, the user's gcloud login.
//!
//! `google-cloud-auth` does not call gcloud, so this is ours. gcloud runs with the host
//! environment minus shipimg's secrets ([`crate::child_env`]; its `CLOUDSDK_*` stay) plus
//! `CLOUDSDK_CORE_DISABLE_PROMPTS=1`, with stdin closed, in its own process group: a reauthentication prompt on the terminal stops it instead of hanging us, and
//! at the time limit the whole group (gcloud's Python under its shell wrapper) is killed.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretSlice, SecretString};

use super::failure::scrub;
use super::{Fetch, GoogleEnv, GoogleError, GoogleToken, finish};

/// The source's name in messages and in [`GoogleToken::source`].
pub(crate) const SOURCE_NAME: &str = "`gcloud auth print-access-token`";

/// `gcloud` in an absolute `PATH` entry, as an executable file. Relative entries (and the empty
/// entry, meaning the current directory) are skipped: shipimg runs inside build contexts.
pub(crate) fn find(path: Option<&OsStr>) -> Option<PathBuf> {
    let path = path?;
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("gcloud"))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Runs `gcloud auth print-access-token` and reads the token from its stdout.
pub(crate) async fn print_access_token(
    program: &Path,
    env: &GoogleEnv,
) -> Result<GoogleToken, GoogleError> {
    let program = program.to_path_buf();
    let path = env.path.clone();
    let timeout = env.gcloud_timeout;
    let outcome = tokio::task::spawn_blocking(move || run(&program, path, timeout))
        .await
        .unwrap_or_else(|err| Err(Fetch::Failed(format!("it did not finish: {err}").into())));
    finish(outcome, SOURCE_NAME.to_owned(), timeout)
}

/// Spawns gcloud and waits at most `timeout` for it, polling so the limit holds even when
/// gcloud's children keep its pipes open.
fn run(program: &Path, path: Option<OsString>, timeout: Duration) -> Result<SecretString, Fetch> {
    let mut command = Command::new(program);
    crate::child_env::prepare(&mut command, crate::child_env::Inherit::All)
        .args(["auth", "print-access-token"])
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = path {
        command.env("PATH", path);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut child = command.spawn().map_err(|err| {
        Fetch::Failed(format!("cannot run `{}`: {err}", program.display()).into())
    })?;
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());

    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                kill_group(&mut child);
                return Err(Fetch::TimedOut);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => {
                kill_group(&mut child);
                return Err(Fetch::Failed(format!("cannot wait for it: {err}").into()));
            }
        }
    };
    // A child gcloud left behind may hold the pipes open; give the output a moment, no more.
    let grace = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(500));
    let stdout = stdout.recv_timeout(grace).unwrap_or_default();
    let stderr = stderr
        .recv_timeout(Duration::from_millis(100))
        .unwrap_or_default();

    if !status.success() {
        let stderr = String::from_utf8_lossy(stderr.expose_secret());
        let last = stderr
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .map(scrub)
            .unwrap_or_default();
        let exit = match status.code() {
            Some(code) => format!("it exited with code {code}"),
            None => format!("it was stopped ({status})"),
        };
        let message = if last.is_empty() {
            exit
        } else {
            format!("{exit}: {last}")
        };
        return Err(Fetch::Failed(message.into()));
    }
    let text = std::str::from_utf8(stdout.expose_secret())
        .map_err(|_| Fetch::Failed("its output is not UTF-8".to_owned().into()))?;
    Ok(SecretString::from(text.trim().to_owned()))
}

/// Reads a pipe to its end on a thread of its own, into a secret (stdout is the token).
fn read_all(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<SecretSlice<u8>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            let _ = tx.send(SecretSlice::from(bytes));
        });
    }
    rx
}

/// Kills gcloud's process group, then reaps gcloud.
fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) takes plain integers; a negative pid names the process group that
        // `process_group(0)` created for this child, whose id is the child's pid.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn finds_gcloud_in_absolute_path_entries_only() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let gcloud = script(&bin, "gcloud", "exit 0");
        let path = std::env::join_paths([Path::new("relative"), &bin]).unwrap();
        assert_eq!(find(Some(&path)), Some(gcloud));
        let path = std::env::join_paths([Path::new("relative")]).unwrap();
        assert_eq!(find(Some(&path)), None);
        assert_eq!(find(None), None);
    }

    #[test]
    fn a_gcloud_that_is_not_executable_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("gcloud"), "").unwrap();
        assert_eq!(find(Some(dir.path().as_os_str())), None);
    }
}
