//! Helpers shared by the integration tests: the sandbox's addresses and credentials, a command
//! builder for the binary, unique image names, and clean-up that runs even when a test fails.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The sandbox's environment, as `fixtures/sandbox.sh env` prints it.
#[derive(Debug)]
pub struct Sandbox {
    vars: HashMap<String, String>,
}

impl Sandbox {
    /// The running sandbox. Fails the test, with how to start it, when it is not up: these
    /// tests never skip, under CI or anywhere else.
    pub fn get() -> &'static Sandbox {
        static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
        SANDBOX.get_or_init(|| {
            let script = repo_root().join("fixtures/sandbox.sh");
            let out = Command::new("bash")
                .arg(&script)
                .arg("env")
                .output()
                .unwrap_or_else(|err| panic!("cannot run `{}`: {err}", script.display()));
            if !out.status.success() {
                panic!(
                    "the sandbox is not up: run `fixtures/sandbox.sh up` first ({})",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            let text = String::from_utf8(out.stdout).expect("sandbox env is UTF-8");
            Sandbox {
                vars: parse_exports(&text),
            }
        })
    }

    /// One variable; panics naming it when the sandbox does not provide it.
    pub fn var(&self, name: &str) -> &str {
        self.vars
            .get(name)
            .unwrap_or_else(|| panic!("`fixtures/sandbox.sh env` does not set {name}"))
    }

    /// A variable this sandbox may not provide.
    pub fn optional_var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// `DOCKER_HOST` of the sandbox engine.
    pub fn docker_host(&self) -> &str {
        self.var("DOCKER_HOST")
    }

    /// The sandbox engine's unix socket.
    pub fn engine_socket(&self) -> &Path {
        let host = self.docker_host();
        Path::new(
            host.strip_prefix("unix://")
                .unwrap_or_else(|| panic!("the sandbox engine is not on a unix socket: {host}")),
        )
    }

    /// `GET path` straight to the engine's socket, unversioned, with neither shipimg nor the
    /// docker CLI in between: what the engine itself says, to hold shipimg's answers against.
    pub fn engine_get(&self, path: &str) -> serde_json::Value {
        use std::io::{Read, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(self.engine_socket())
            .unwrap_or_else(|err| panic!("connect {}: {err}", self.docker_host()));
        // HTTP/1.0: the engine answers without chunking and closes, so the body is the rest.
        write!(stream, "GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n").unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("GET {path}: no HTTP answer: {answer}"));
        assert_eq!(head.split(' ').nth(1), Some("200"), "GET {path}: {head}");
        serde_json::from_str(body).unwrap_or_else(|err| panic!("GET {path}: {err}: {body}"))
    }

    /// The selected engine's own docker CLI (Debian's 20.10, or the one unpacked with the modern
    /// engine, whose `docker build` is buildx) talking to it, with a docker config that holds no
    /// login, so nothing of the user's leaks in.
    pub fn docker(&self) -> Command {
        self.cli(self.var("SANDBOX_DOCKER"), self.docker_host())
    }

    /// Debian's 20.10 CLI talking to the 20.10 engine, whichever engine is selected: for tests
    /// whose reference is that CLI's own behaviour (`src/context/ignore.rs` follows 20.10).
    pub fn legacy_docker(&self) -> Command {
        self.cli(
            self.var("SANDBOX_LEGACY_DOCKER"),
            self.var("SANDBOX_LEGACY_DOCKER_HOST"),
        )
    }

    fn cli(&self, program: &str, host: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("DOCKER_HOST", host)
            .env("DOCKER_CONFIG", self.cli_docker_config())
            .env("DOCKER_BUILDKIT", "1");
        cmd
    }

    /// A docker config with no login and only the buildx plugin: the modern CLI finds plugins
    /// in the config's `cli-plugins` (not under the root it was unpacked to), and without
    /// buildx its `docker build` refuses to run. The 20.10 CLI's `docker build` ignores it.
    fn cli_docker_config(&self) -> &'static Path {
        static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
        DIR.get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp docker config");
            let plugins = dir.path().join("cli-plugins");
            std::fs::create_dir(&plugins).expect("temp docker config's cli-plugins");
            std::os::unix::fs::symlink(self.var("SANDBOX_BUILDX"), plugins.join("docker-buildx"))
                .expect("link the buildx plugin");
            dir
        })
        .path()
    }
}

/// Parses `export NAME=value` lines, with optional single or double quotes around the value.
fn parse_exports(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("export "))
        .filter_map(|assign| assign.split_once('='))
        .map(|(name, value)| {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
                .unwrap_or(value);
            (name.to_owned(), unquoted.to_owned())
        })
        .collect()
}

/// The `shipimg` binary with a clean environment: no docker or Google settings of the user's,
/// no colour, and a private HOME.
pub fn shipimg(home: &Path) -> Command {
    shipimg_at(Path::new(env!("CARGO_BIN_EXE_shipimg")), home)
}

/// [`shipimg`] for another copy of the binary (one a wheel installed, say), with the same clean
/// environment.
pub fn shipimg_at(program: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1");
    cmd
}

/// Makes `dir` a git repository with one commit; returns the commit's short sha (7).
pub fn git_commit(dir: &Path) -> String {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=shipimg tests",
                "-c",
                "user.email=t@example.invalid",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "fixture"]);
    git(&["rev-parse", "HEAD"]).trim()[..7].to_owned()
}

/// A unique, test-owned image name: `shipimg-test/<what>:<pid>-<n>`.
pub fn unique_image(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "shipimg-test/{what}:{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes the images it holds from the sandbox engine when dropped, so a failing test leaves
/// nothing behind.
pub struct ImageGuard {
    images: Vec<String>,
    legacy: bool,
}

impl ImageGuard {
    /// Guards these image references on the selected engine.
    pub fn new(images: impl IntoIterator<Item = String>) -> Self {
        Self {
            images: images.into_iter().collect(),
            legacy: false,
        }
    }

    /// Guards these image references on the 20.10 engine ([`Sandbox::legacy_docker`]).
    pub fn legacy(images: impl IntoIterator<Item = String>) -> Self {
        Self {
            images: images.into_iter().collect(),
            legacy: true,
        }
    }
}

impl Drop for ImageGuard {
    fn drop(&mut self) {
        if self.images.is_empty() {
            return;
        }
        let sandbox = Sandbox::get();
        let mut docker = if self.legacy {
            sandbox.legacy_docker()
        } else {
            sandbox.docker()
        };
        let _ = docker
            .args(["image", "rm", "--force"])
            .args(&self.images)
            .output();
    }
}

/// Held while a test builds anything on the sandbox engine: builds run one at a time.
///
/// Docker 20.10's BuildKit merges identical steps of concurrent builds (a shared `FROM` is
/// enough), and when one of them fails or is cancelled it can panic with "failed to get edge"
/// and take the whole engine down (seen here under parallel tests). A secret's value is not part
/// of a step's cache key either, so a failing build can also hand its failure to a good one.
/// Tests that need builds at the same time start them while holding this.
pub fn build_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Output of a finished command, with helpers that print everything on failure.
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Runs the command to completion.
    pub fn of(cmd: &mut Command) -> Outcome {
        let out = cmd
            .output()
            .unwrap_or_else(|err| panic!("cannot run {cmd:?}: {err}"));
        Outcome {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn success(self) -> Outcome {
        assert_eq!(self.code, Some(0), "expected success\n{self}");
        self
    }

    /// Asserts this exit code.
    #[track_caller]
    pub fn code(self, code: i32) -> Outcome {
        assert_eq!(self.code, Some(code), "expected exit {code}\n{self}");
        self
    }

    /// The first `error: ` line on stderr, or "" when there is none.
    pub fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_default()
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Where `needle` appears in an image exported through the engine API (`docker save`): in any
/// file of any layer, in the image config (env, labels, history) or the manifest. Each hit is
/// described as `layer <entry>: <path>` or `<entry of the save archive>`.
///
/// Both save layouts are read: 20.10's (`<id>/layer.tar`, uncompressed) and the containerd
/// store's OCI layout (`blobs/sha256/<digest>`, layers compressed as stored). Layers are told
/// by their content, not their names, and a layer this helper cannot open fails the test rather
/// than passing unread.
pub fn image_mentions(sandbox: &Sandbox, image: &str, needle: &[u8]) -> Vec<String> {
    use std::io::Read;
    let out = sandbox
        .docker()
        .args(["save", image])
        .output()
        .expect("docker save");
    assert!(
        out.status.success(),
        "docker save {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut hits = Vec::new();
    let mut outer = tar::Archive::new(&out.stdout[..]);
    for entry in outer.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let layer = match LayerKind::of(&data) {
            None => {
                if contains(&data, needle) {
                    hits.push(name);
                }
                continue;
            }
            Some(LayerKind::Tar) => data,
            Some(LayerKind::Gzip) => {
                let mut tar = Vec::new();
                flate2::read::MultiGzDecoder::new(&data[..])
                    .read_to_end(&mut tar)
                    .unwrap_or_else(|err| panic!("{name} in the save of {image}: {err}"));
                tar
            }
            Some(LayerKind::Zstd) => panic!(
                "{name} in the save of {image} is a zstd layer, which image_mentions cannot read"
            ),
        };
        let mut layer = tar::Archive::new(&layer[..]);
        for file in layer.entries().unwrap() {
            let mut file = file.unwrap();
            let path = String::from_utf8_lossy(&file.path_bytes()).into_owned();
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            if contains(&content, needle) || contains(path.as_bytes(), needle) {
                hits.push(format!("layer {name}: {path}"));
            }
        }
    }
    hits
}

/// What a blob of a save archive is, by its first bytes.
enum LayerKind {
    Tar,
    Gzip,
    Zstd,
}

impl LayerKind {
    fn of(data: &[u8]) -> Option<LayerKind> {
        if data.starts_with(&[0x1f, 0x8b]) {
            Some(LayerKind::Gzip)
        } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(LayerKind::Zstd)
        } else if data.get(257..262) == Some(b"ustar") {
            Some(LayerKind::Tar)
        } else {
            None
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether the sandbox engine holds an image of this name.
pub fn image_exists(reference: &str) -> bool {
    Sandbox::get()
        .docker()
        .args(["image", "inspect", reference])
        .output()
        .expect("docker image inspect")
        .status
        .success()
}

/// Every path under `/ctx` in an image, relative, as `find` lists it, run by `docker` (the
/// sandbox's `docker()` or `legacy_docker()`).
pub fn image_paths_under_ctx(
    mut docker: Command,
    image: &str,
) -> std::collections::BTreeSet<String> {
    let out = Outcome::of(docker.args(["run", "--rm", "--network", "none", image, "find", "/ctx"]))
        .success();
    out.stdout
        .lines()
        .filter_map(|line| line.strip_prefix("/ctx/"))
        .map(str::to_owned)
        .collect()
}

/// Sends SIGINT to a running child, as Ctrl-C in a terminal would.
pub fn interrupt(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -INT {}", child.id());
}

/// Writes `text` to `dir/name`, creating parent directories.
pub fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A project whose Dockerfile is the sandbox's busybox and one `RUN` line.
pub fn one_step_project(step: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!("FROM {}\nRUN {step}\n", busybox()),
    );
    dir
}

/// Writes `docker-credential-NAME` into `dir`: it runs the shell lines `before`, then answers
/// `get` for the sandbox registry with the sandbox's login, and for any other host as the
/// docker CLI's helpers do when they hold nothing.
pub fn sandbox_credential_helper(dir: &Path, name: &str, before: &str) {
    let sandbox = Sandbox::get();
    let file = format!("docker-credential-{name}");
    write(
        dir,
        &file,
        &format!(
            "#!/bin/sh\n{before}[ \"$1\" = get ] || exit 1\nread host\n[ \"$host\" = \"{}\" ] || {{ echo \"credentials not found in native keychain\"; exit 1; }}\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{}\",\"Secret\":\"%s\"}}' \"$host\" \"$(cat '{}')\"\n",
            sandbox.var("SANDBOX_REGISTRY"),
            sandbox.var("SANDBOX_REGISTRY_USERNAME"),
            sandbox.var("SANDBOX_REGISTRY_PASSWORD_FILE")
        ),
    );
    std::fs::set_permissions(
        dir.join(file),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
}

/// The sandbox's tiny base image.
pub fn busybox() -> &'static str {
    Sandbox::get().var("SANDBOX_BUSYBOX_IMAGE")
}

/// The sandbox index's password, read from the file the sandbox keeps it in.
pub fn index_password(sandbox: &Sandbox) -> String {
    std::fs::read_to_string(sandbox.var("SANDBOX_INDEX_PASSWORD_FILE")).unwrap()
}

/// The sandbox registry's password, read from the file the sandbox keeps it in.
pub fn registry_password(sandbox: &Sandbox) -> String {
    std::fs::read_to_string(sandbox.var("SANDBOX_REGISTRY_PASSWORD_FILE")).unwrap()
}

/// A PEM private key as a key file holds it: the body is a DER SEQUENCE (made up, not a real
/// key, so no real key lives in the repository), which is what the shape detector checks.
pub fn pem_key(label: &str) -> String {
    let len = 600usize;
    let mut der = vec![0x30, 0x82, (len >> 8) as u8, len as u8];
    der.extend((0..len).map(|i| (i * 7 + 3) as u8));
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der);
    let body: String = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned() + "\n")
        .collect();
    format!("-----BEGIN {label}PRIVATE KEY-----\n{body}-----END {label}PRIVATE KEY-----\n")
}

/// Parses GitHub's `name<<DELIMITER` step-output form (as the runner reads `GITHUB_OUTPUT`):
/// every value must be closed by its delimiter line.
pub fn github_outputs(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut outputs = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let Some(head) = lines.next() {
        let (name, delimiter) = head
            .split_once("<<")
            .unwrap_or_else(|| panic!("not `name<<DELIMITER`: {head:?} in {text}"));
        let mut value = Vec::new();
        loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("output `{name}` is not closed: {text}"));
            if line == delimiter {
                break;
            }
            value.push(line);
        }
        outputs.insert(name.to_owned(), value.join("\n"));
    }
    outputs
}

/// `shipimg build` pointed at the sandbox engine.
pub fn shipimg_build(home: &Path) -> Command {
    let mut cmd = shipimg(home);
    cmd.env("DOCKER_HOST", Sandbox::get().docker_host())
        .arg("build");
    cmd
}

/// `shipimg` against the sandbox engine, with the sandbox registry's login in the environment.
pub fn with_registry_login(home: &Path) -> Command {
    let sandbox = Sandbox::get();
    let mut cmd = shipimg(home);
    cmd.env("DOCKER_HOST", sandbox.docker_host())
        .env(
            "SHIPIMG_REGISTRY_USERNAME",
            sandbox.var("SANDBOX_REGISTRY_USERNAME"),
        )
        .env("SHIPIMG_REGISTRY_PASSWORD", registry_password(sandbox));
    cmd
}

/// `shipimg build --push` of a small project, with the sandbox registry's login in the
/// environment.
pub fn build_push(dir: &Path, home: &Path, tags: &[&str]) -> Command {
    let mut cmd = with_registry_login(home);
    cmd.current_dir(dir).args(["build", "--push"]);
    for tag in tags {
        cmd.args(["-t", tag]);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_parsed_with_and_without_quotes() {
        let vars = parse_exports("export A=1\nexport B='two words'\nexport C=\"x\"\nnoise\n");
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "two words");
        assert_eq!(vars["C"], "x");
        assert_eq!(vars.len(), 3);
    }
}
