//! What a person sees on a real terminal: `shipimg build --push` run inside tmux at 80 and 120
//! columns, the pane and its scrollback captured afterwards and read as text. The live views
//! redraw in place, so what is left must read as a log: the build's final frame once, one
//! final line per layer per tag, nothing wider than the terminal, the summary last.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{ImageGuard, Outcome, Sandbox, build_lock, build_push, write};
use crate::registry::{registry_digest, repository};

/// A tmux server of this test's own (its own socket), killed when dropped, on failure too.
struct Tmux {
    socket: String,
    dir: tempfile::TempDir,
}

impl Tmux {
    fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // No user config; a scrollback deep enough for the whole run.
        std::fs::write(
            dir.path().join("tmux.conf"),
            "set -g history-limit 100000\n",
        )
        .unwrap();
        Self {
            socket: format!("shipimg-{name}-{}", std::process::id()),
            dir,
        }
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-L")
            .arg(&self.socket)
            .arg("-f")
            .arg(self.dir.path().join("tmux.conf"));
        cmd
    }

    /// Runs `cmd` in a new `width` x 40 pane, as a person would type it in a terminal with
    /// `TERM=xterm-256color`; waits for it to exit. Returns its exit code and the pane with
    /// its scrollback, wrapped lines joined (so a line wider than the pane shows as one).
    fn run(&self, cmd: &Command, width: usize) -> (i32, Vec<String>) {
        let rc = self.dir.path().join(format!("rc-{width}"));
        let script = self.dir.path().join(format!("run-{width}.sh"));
        std::fs::write(&script, script_text(cmd, &rc)).unwrap();
        let session = format!("w{width}");
        let width_arg = width.to_string();
        Outcome::of(
            self.tmux()
                .args([
                    "new-session",
                    "-d",
                    "-s",
                    &session,
                    "-x",
                    &width_arg,
                    "-y",
                    "40",
                    "sh",
                ])
                .arg(&script),
        )
        .success();
        let shown = Outcome::of(self.tmux().args([
            "display-message",
            "-p",
            "-t",
            &session,
            "#{pane_width}",
        ]))
        .success();
        assert_eq!(
            shown.stdout.trim(),
            width_arg,
            "the pane is not {width} wide"
        );

        let deadline = Instant::now() + Duration::from_secs(600);
        let code = loop {
            if let Ok(text) = std::fs::read_to_string(&rc)
                && text.ends_with('\n')
            {
                break text.trim().parse().unwrap();
            }
            assert!(Instant::now() < deadline, "shipimg did not finish in tmux");
            std::thread::sleep(Duration::from_millis(200));
        };
        let captured =
            Outcome::of(
                self.tmux()
                    .args(["capture-pane", "-p", "-J", "-S", "-", "-t", &session]),
            )
            .success();
        let mut lines: Vec<String> = captured
            .stdout
            .lines()
            .map(|l| l.trim_end().to_owned())
            .collect();
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        (code, lines)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

/// `cmd` as a shell script: its directory, exactly its environment (with a real terminal's
/// `TERM`, and colours as a person gets them), its exit code written to `rc`; then it waits
/// for the test to read the pane.
fn script_text(cmd: &Command, rc: &Path) -> String {
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"));
    let mut line = String::from("env -i TERM=xterm-256color");
    for (name, value) in cmd.get_envs() {
        if let Some(value) = value
            && name != "NO_COLOR"
        {
            let pair = format!("{}={}", name.to_string_lossy(), value.to_string_lossy());
            line.push(' ');
            line.push_str(&quote(pair.as_ref()));
        }
    }
    line.push(' ');
    line.push_str(&quote(cmd.get_program()));
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    let dir = cmd.get_current_dir().map(PathBuf::from).unwrap();
    format!(
        "cd {}\n{line}\necho $? > {rc}.tmp && mv {rc}.tmp {rc}\nexec sleep 3600\n",
        quote(dir.as_os_str()),
        rc = quote(rc.as_os_str()),
    )
}

/// The layers of [`project`]'s image.
const LAYERS: usize = 4;

/// A project of [`LAYERS`] layers unique to this process: the base image's, a COPY, and two
/// RUNs, one of them 8 MB of random bytes, which the engine pushes in many progress events
/// (many frames of the live region).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    write(dir.path(), "app.txt", &format!("app {unique}\n"));
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nCOPY app.txt /app.txt\nRUN echo {unique} > /marker\nRUN head -c 8000000 /dev/urandom > /blob\n",
            Sandbox::get().var("SANDBOX_BUSYBOX_IMAGE")
        ),
    );
    dir
}

/// The index of the one line that satisfies `f`.
fn only(lines: &[String], what: &str, f: impl Fn(&str) -> bool) -> usize {
    let found: Vec<usize> = (0..lines.len()).filter(|&i| f(&lines[i])).collect();
    assert_eq!(found.len(), 1, "{what}: {found:?}\n{}", lines.join("\n"));
    found[0]
}

/// Checks the pane after `build --push` of `tags` on a `width`-column terminal.
fn assert_reads_as_a_log(lines: &[String], width: usize, repo: &str, tags: &[String]) {
    let pane = lines.join("\n");
    // Redrawn lines are cut one column short of the edge: none wrapped.
    for line in lines
        .iter()
        .filter(|l| l.starts_with("[+] ") || l.starts_with(" => "))
    {
        assert!(
            line.chars().count() < width,
            "{width}: wider than the terminal: {line:?}\n{pane}"
        );
    }
    // The build's view, redrawn in place, left its final frame and nothing else.
    let finished = only(lines, "the build's header", |l| {
        l.starts_with("[+] Building")
    });
    assert!(lines[finished].ends_with("FINISHED"), "{pane}");
    for (i, line) in lines.iter().enumerate() {
        if line.contains("Successfully tagged") || line.contains("Successfully built") {
            assert!(
                i > finished,
                "{width}: `{line}` above the build's final frame\n{pane}"
            );
        }
    }

    // One region per tag, in order, after the build; each layer once in each, in a final state.
    let headers: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("[+] Pushing"))
        .collect();
    assert_eq!(
        headers.len(),
        tags.len(),
        "{width}: one region per tag\n{pane}"
    );
    let mut layers_of_tags: Vec<Vec<String>> = Vec::new();
    for (&at, tag) in headers.iter().zip(tags) {
        let header = &lines[at];
        assert!(at > finished, "{pane}");
        assert!(header.ends_with("FINISHED"), "{width}: {header}\n{pane}");
        let shown_tag = tag.rsplit(':').next().unwrap();
        assert!(
            header.contains(&format!(":{shown_tag} ")),
            "{header} is not {tag}'s\n{pane}"
        );
        let mut layers = BTreeMap::new();
        for line in lines[at + 1..].iter().take_while(|l| l.starts_with(" => ")) {
            let rest = &line[" => ".len()..];
            if rest.contains("digest: sha256:") {
                continue;
            }
            let (id, status) = rest.split_once(' ').unwrap();
            assert!(
                status == "Pushed"
                    || status == "Layer already exists"
                    || status.starts_with("Mounted from"),
                "{width}: {tag}: layer {id} left as `{status}`\n{pane}"
            );
            assert!(
                layers.insert(id.to_owned(), status.to_owned()).is_none(),
                "{width}: {tag}: layer {id} twice\n{pane}"
            );
        }
        assert_eq!(layers.len(), LAYERS, "{width}: {tag}: every layer\n{pane}");
        layers_of_tags.push(layers.into_keys().collect());
    }
    assert!(layers_of_tags.windows(2).all(|w| w[0] == w[1]), "{pane}");
    // Nowhere else: no stale copy of a layer's line in the scrollback.
    for id in &layers_of_tags[0] {
        let copies = lines
            .iter()
            .filter(|l| l.starts_with(&format!(" => {id} ")))
            .count();
        assert_eq!(copies, tags.len(), "{width}: layer {id}'s lines\n{pane}");
    }

    // The summary: last, in the order of the tags, with the digests the registry holds.
    let last_region = *headers.last().unwrap();
    let mut previous = last_region;
    for tag in tags {
        let digest = registry_digest(repo, tag.rsplit(':').next().unwrap()).expect("pushed");
        let line = format!("Pushed {tag}@{digest}");
        let at = only(lines, &line, |l| l.trim_start() == line);
        assert!(at > previous, "{width}: `{line}` out of order\n{pane}");
        previous = at;
    }
    assert_eq!(
        previous,
        lines.len() - 1,
        "{width}: the summary is not last\n{pane}"
    );
}

/// `build --push` of two tags in tmux at 80, then at 120 columns (the second build from the
/// cache, its layers already in the registry).
#[test]
fn build_push_in_a_real_terminal_reads_as_a_log() {
    let _lock = build_lock();
    let tmux = Tmux::new("build-push");
    let dir = project();
    let repo = repository("tty");
    let home = tempfile::tempdir().unwrap();
    for width in [80, 120] {
        let tags = [format!("{repo}:{width}a"), format!("{repo}:{width}b")];
        let _guard = ImageGuard::new(tags.iter().cloned());
        let cmd = build_push(dir.path(), home.path(), &[&tags[0], &tags[1]]);
        let (code, lines) = tmux.run(&cmd, width);
        assert_eq!(code, 0, "{}", lines.join("\n"));
        assert_reads_as_a_log(&lines, width, &repo, &tags);
    }
}
