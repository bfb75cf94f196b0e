//! `shipimg build` against the sandbox engine: the example project with its netrc secret,
//! `--secret` forms, failures, cancellation, progress output, and parity with the engine's CLI.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{
    ImageGuard, Outcome, Sandbox, build_lock, busybox, github_outputs, image_mentions,
    image_paths_under_ctx, index_password, interrupt, repo_root, shipimg, shipimg_build,
    unique_image, write,
};
use crate::sandbox::assert_runs_the_example;

#[test]
fn example_builds_with_the_netrc_and_leaves_no_trace_of_it() {
    let sandbox = Sandbox::get();
    let tag = unique_image("example-shipimg");
    let _guard = ImageGuard::new([tag.clone()]);
    let home = tempfile::tempdir().unwrap();
    let meta = home.path().join("meta.json");
    let iid = home.path().join("iid");
    let gh_output = home.path().join("github_output");
    let _lock = build_lock();
    let out = Outcome::of(
        shipimg_build(home.path())
            .arg(repo_root().join("fixtures/example"))
            .args(["--netrc", sandbox.var("SANDBOX_NETRC")])
            .args(["--network", "host", "--progress", "plain", "-t", &tag])
            .args(["--index-url", sandbox.var("SANDBOX_INDEX_URL")])
            .arg("--metadata-file")
            .arg(&meta)
            .arg("--iidfile")
            .arg(&iid)
            .env("GITHUB_OUTPUT", &gh_output),
    )
    .success();

    assert_runs_the_example(sandbox, &tag);

    // The helper reads this engine's export: the private package's source is found in a layer,
    // so the absences below are not an export it failed to open.
    let hits = image_mentions(sandbox, &tag, b"VALUE = \"acme-private-ok\"");
    assert!(
        hits.iter().any(|hit| hit.starts_with("layer ")),
        "the private package is not found in the image's layers: {hits:?}"
    );
    let password = index_password(sandbox);
    assert!(!password.is_empty());
    let hits = image_mentions(sandbox, &tag, password.as_bytes());
    assert!(
        hits.is_empty(),
        "the index password is in the image: {hits:?}"
    );
    let hits = image_mentions(sandbox, &tag, b"machine 127.0.0.1");
    assert!(hits.is_empty(), "the netrc is in the image: {hits:?}");
    assert!(!out.stderr.contains(&password) && !out.stdout.contains(&password));

    let image_id = std::fs::read_to_string(&iid).unwrap();
    assert!(image_id.starts_with("sha256:"), "{image_id}");
    let inspect = Outcome::of(
        sandbox
            .docker()
            .args(["image", "inspect", "--format", "{{.Id}}", &tag]),
    )
    .success();
    assert_eq!(inspect.stdout.trim(), image_id);
    let meta_text = std::fs::read_to_string(&meta).unwrap();
    let meta: serde_json::Value = serde_json::from_str(&meta_text).unwrap();
    assert_eq!(meta["containerimage.digest"], image_id.as_str());
    assert_eq!(meta["image.name"], tag.as_str());

    // A plain build gives GitHub Actions its step outputs too: the local image, no `image`
    // (nothing a runner could pull), and the metadata file's JSON.
    let gh_text = std::fs::read_to_string(&gh_output).unwrap();
    assert!(!gh_text.contains(&password), "{gh_text}");
    let outputs = github_outputs(&gh_text);
    let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["digest", "imageid", "metadata", "tags"],
        "{gh_text}"
    );
    assert_eq!(outputs["imageid"], image_id);
    assert_eq!(outputs["digest"], image_id);
    assert_eq!(outputs["tags"], tag);
    assert_eq!(outputs["metadata"], meta_text);
}

#[test]
fn a_netrc_mount_without_a_netrc_fails_before_the_build() {
    let home = tempfile::tempdir().unwrap();
    let out =
        Outcome::of(shipimg_build(home.path()).arg(repo_root().join("fixtures/example"))).code(1);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines[0],
        "error: Dockerfile:30: a step mounts secret `netrc`, but no netrc was found (looked at: --netrc, SHIPIMG_NETRC, SHIPIMG_INDEX_USERNAME/SHIPIMG_INDEX_PASSWORD, $NETRC, ~/.netrc)",
        "{out}"
    );
    assert!(lines[1].starts_with("  hint: pass `--netrc PATH`"), "{out}");
    assert_eq!(lines.len(), 2, "{out}");
}

#[test]
fn secrets_from_files_and_variables_reach_the_build() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nRUN --mount=type=secret,id=from_file,required=true --mount=type=secret,id=from_env,required=true \\\n    cat /run/secrets/from_file /run/secrets/from_env > /seen\n",
            busybox()
        ),
    );
    write(dir.path(), "secret.txt", "file-secret-value;");
    let tag = unique_image("secrets");
    let _guard = ImageGuard::new([tag.clone()]);
    Outcome::of(
        shipimg_build(dir.path())
            .current_dir(dir.path())
            .args(["--progress", "plain", "--no-cache", "-t", &tag])
            .args(["--secret", "id=from_file,src=secret.txt"])
            .args(["--secret", "id=from_env,env=SHIPIMG_TEST_SECRET"])
            .env("SHIPIMG_TEST_SECRET", "env-secret-value"),
    )
    .success();
    let run = Outcome::of(sandbox.docker().args(["run", "--rm", &tag, "cat", "/seen"])).success();
    assert_eq!(run.stdout, "file-secret-value;env-secret-value");
}

#[test]
fn a_required_secret_that_is_missing_fails_cleanly() {
    let _lock = build_lock();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nRUN --mount=type=secret,id=api_token,required=true cat /run/secrets/api_token\n",
            busybox()
        ),
    );
    let tag = unique_image("missing-secret");
    let _guard = ImageGuard::new([tag.clone()]);
    let out = Outcome::of(shipimg_build(dir.path()).current_dir(dir.path()).args([
        "--progress",
        "plain",
        "-t",
        &tag,
    ]))
    .code(1);
    let error = out.error_line();
    assert!(
        error.contains("api_token"),
        "the error names the secret\n{out}"
    );
    assert!(!out.stderr.contains("panicked"), "{out}");
    let inspect = Outcome::of(Sandbox::get().docker().args(["image", "inspect", &tag]));
    assert_ne!(inspect.code, Some(0), "a failed build tags nothing");
}

/// Each build's session serves its own secrets. (The steps differ: BuildKit merges identical
/// steps of concurrent builds whatever their secrets, see docs/sandbox.md.)
#[test]
fn concurrent_builds_each_get_their_own_secret() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let mut children = Vec::new();
    let mut dirs = Vec::new();
    let mut tags = Vec::new();
    for who in ["alpha", "beta"] {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "Dockerfile",
            &format!(
                "FROM {}\nRUN --mount=type=secret,id=tok,required=true sleep 2 && cp /run/secrets/tok /seen-{who}\n",
                busybox()
            ),
        );
        write(dir.path(), "tok", &format!("secret-of-{who}"));
        let tag = unique_image(&format!("concurrent-{who}"));
        let child = shipimg_build(dir.path())
            .current_dir(dir.path())
            .args([
                "--progress",
                "plain",
                "--no-cache",
                "-t",
                &tag,
                "--secret",
                "id=tok,src=tok",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        children.push((who, child));
        dirs.push(dir);
        tags.push(tag);
    }
    let _guard = ImageGuard::new(tags.clone());
    for ((who, child), tag) in children.into_iter().zip(&tags) {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = Outcome::of(sandbox.docker().args([
            "run",
            "--rm",
            tag,
            "cat",
            &format!("/seen-{who}"),
        ]))
        .success();
        assert_eq!(run.stdout, format!("secret-of-{who}"));
    }
}

#[test]
fn a_failing_step_shows_its_exit_code_and_output() {
    let _lock = build_lock();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nRUN echo first-line && echo the-last-words >&2 && exit 7\n",
            busybox()
        ),
    );
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(shipimg_build(home.path()).current_dir(dir.path()).args([
        "--progress",
        "quiet",
        "--no-cache",
    ]))
    .code(1);
    let error_at = out.stderr.find("error: ").expect("an error line");
    let error = &out.stderr[error_at..];
    assert!(error.starts_with("error: step #"), "{out}");
    assert!(error.contains("RUN echo first-line"), "{out}");
    assert!(error.contains("failed with exit code 7"), "{out}");
    assert!(
        error.contains("the-last-words"),
        "the step's last output is shown\n{out}"
    );
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn json_progress_is_one_object_per_line() {
    let _lock = build_lock();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!("FROM {}\nRUN echo hello-json\n", busybox()),
    );
    let tag = unique_image("json");
    let _guard = ImageGuard::new([tag.clone()]);
    let out = Outcome::of(shipimg_build(dir.path()).current_dir(dir.path()).args([
        "--progress",
        "json",
        "--no-cache",
        "-t",
        &tag,
    ]))
    .success();
    let events: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "log"
                && e["text"].as_str().is_some_and(|t| t.contains("hello-json"))),
        "{out}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["type"], "result", "{out}");
}

#[test]
fn quiet_prints_only_the_image_id() {
    let _lock = build_lock();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!("FROM {}\nLABEL x=1\n", busybox()),
    );
    let tag = unique_image("quiet");
    let _guard = ImageGuard::new([tag.clone()]);
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        shipimg(home.path())
            .env("DOCKER_HOST", Sandbox::get().docker_host())
            .args(["-q", "build", "-t", &tag])
            .current_dir(dir.path()),
    )
    .success();
    let id = out.stdout.trim_end();
    assert!(
        id.starts_with("sha256:") && out.stdout.lines().count() == 1,
        "{out}"
    );
    let inspect = Outcome::of(
        Sandbox::get()
            .docker()
            .args(["image", "inspect", "--format", "{{.Id}}", &tag]),
    )
    .success();
    assert_eq!(inspect.stdout.trim(), id);
}

/// Ctrl-C cancels the build on the engine: exit 130, and the step's process is gone.
#[test]
fn interrupt_cancels_the_build_on_the_engine() {
    let _lock = build_lock();
    let dir = tempfile::tempdir().unwrap();
    // A marker no other process on the machine has on its command line.
    let marker = format!("{}", 4000 + std::process::id() % 1000);
    write(
        dir.path(),
        "Dockerfile",
        &format!("FROM {}\nRUN echo started && sleep {marker}\n", busybox()),
    );
    let tag = unique_image("cancel");
    let _guard = ImageGuard::new([tag.clone()]);
    let home = tempfile::tempdir().unwrap();
    let child = shipimg_build(home.path())
        .current_dir(dir.path())
        .args(["--progress", "plain", "--no-cache", "-t", &tag])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let sleeping = || {
        Command::new("pgrep")
            .args(["-f", &format!("sleep {marker}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let start = Instant::now();
    while !sleeping() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the step never started"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("error: build cancelled"), "{stderr}");
    let start = Instant::now();
    while sleeping() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the step still runs on the engine"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let inspect = Outcome::of(Sandbox::get().docker().args(["image", "inspect", &tag]));
    assert_ne!(inspect.code, Some(0), "a cancelled build tags nothing");
}

/// The same context built by the engine's CLI and by shipimg puts the same files in the image.
#[test]
fn shipimg_and_the_docker_cli_copy_the_same_files() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = format!("FROM {}\nCOPY . /ctx\n", busybox());
    for (path, text) in [
        ("Dockerfile", dockerfile.as_str()),
        (
            ".dockerignore",
            "*.md\n!README.md\n**/*.log\nvendor\n!vendor/keep/**\n",
        ),
        ("README.md", "r"),
        ("NOTES.md", "n"),
        ("src/app.py", "a"),
        ("src/x.log", "l"),
        ("vendor/lib.py", "v"),
        ("vendor/keep/k.py", "k"),
    ] {
        write(dir.path(), path, text);
    }
    let cli_tag = unique_image("parity-cli");
    let ours_tag = unique_image("parity-shipimg");
    let _guard = ImageGuard::new([cli_tag.clone(), ours_tag.clone()]);
    Outcome::of(
        sandbox
            .docker()
            .current_dir(dir.path())
            .args(["build", "-q", "-t", &cli_tag, "."]),
    )
    .success();
    // HOME outside the context: file sync keeps its node id under ~/.cache.
    let home = tempfile::tempdir().unwrap();
    Outcome::of(shipimg_build(home.path()).current_dir(dir.path()).args([
        "--progress",
        "plain",
        "-t",
        &ours_tag,
    ]))
    .success();
    let cli = image_paths_under_ctx(sandbox.docker(), &cli_tag);
    let ours = image_paths_under_ctx(sandbox.docker(), &ours_tag);
    assert_eq!(ours, cli);
    assert!(
        cli.contains("vendor/keep/k.py") && !cli.contains("NOTES.md"),
        "{cli:?}"
    );
}

/// A step that prints its secret (pip does, with a password in an index URL) shows `****` in
/// every progress mode and in the error, never the value.
#[test]
fn a_secret_a_step_prints_is_masked_everywhere() {
    let _lock = build_lock();
    let dir = tempfile::tempdir().unwrap();
    let canary = "canary-7f3a9c2e-secret";
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nRUN --mount=type=secret,id=tok,required=true echo \"Looking in indexes: http://u:$(cat /run/secrets/tok)@index/simple\" && exit 1\n",
            busybox()
        ),
    );
    write(dir.path(), "tok", canary);
    for progress in ["plain", "json", "quiet", "tty"] {
        let out = Outcome::of(shipimg_build(dir.path()).current_dir(dir.path()).args([
            "--progress",
            progress,
            "--no-cache",
            "--secret",
            "id=tok,src=tok",
        ]))
        .code(1);
        assert!(
            !out.stdout.contains(canary) && !out.stderr.contains(canary),
            "{progress}: leaked\n{out}"
        );
        assert!(
            out.stderr.contains("http://u:****@index/simple")
                || out.stdout.contains("http://u:****@index/simple"),
            "{progress}: the masked line is shown\n{out}"
        );
    }
}

/// Images get OCI labels from git and pyproject.toml; a `--label` of the user's wins; a
/// remote's credentials never reach a label.
#[test]
fn oci_labels_come_from_git_and_pyproject() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!("FROM {}\nLABEL kind=test\n", busybox()),
    );
    write(
        dir.path(),
        "pyproject.toml",
        "[project]\nname = \"svc\"\nversion = \"2.3.4\"\n",
    );
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    git(&["init", "-q"]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    ]);
    git(&[
        "remote",
        "add",
        "origin",
        "https://ci:ghs_canaryToken123@github.com/acme/svc.git?private_token=canaryQuery456#x",
    ]);
    let head = git(&["rev-parse", "HEAD"]).trim().to_owned();
    let tag = unique_image("labels");
    let _guard = ImageGuard::new([tag.clone()]);
    Outcome::of(shipimg_build(dir.path()).current_dir(dir.path()).args([
        "-q",
        "-t",
        &tag,
        "--label",
        "org.opencontainers.image.version=custom",
    ]))
    .success();
    let out = Outcome::of(sandbox.docker().args([
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &tag,
    ]))
    .success();
    let labels: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(labels["org.opencontainers.image.revision"], head.as_str());
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://github.com/acme/svc.git"
    );
    assert_eq!(labels["org.opencontainers.image.version"], "custom");
    assert!(
        labels["org.opencontainers.image.created"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(labels["kind"], "test");
    assert!(!out.stdout.contains("canaryToken"));
    assert!(!out.stdout.contains("canaryQuery"));
}

/// The recipe users copy today (shared/notes/seed-article.md): a netrc COPYd into the build
/// stage. The lint stops it before anything runs, naming the line and the rule.
#[test]
fn the_seed_recipe_is_stopped_by_the_lint() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {py} as build\nWORKDIR /opt/workdir\nCOPY .netrc /root/.netrc\nRUN pip install .\n\nFROM {py}\nCOPY --from=build /opt/workdir/.venv .venv\n",
            py = Sandbox::get().var("SANDBOX_PYTHON_IMAGE")
        ),
    );
    write(
        dir.path(),
        ".netrc",
        "machine idx login ci password lint-canary-pw\n",
    );
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        shipimg_build(home.path())
            .current_dir(dir.path())
            .args(["--progress", "plain"]),
    )
    .code(1);
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "error: Dockerfile:3: [SL002 copy-credential-stage] `COPY .netrc /root/.netrc`"
        ),
        "{out}"
    );
    assert!(!out.stderr.contains("#1 "), "nothing was built\n{out}");
    assert!(!out.stderr.contains("lint-canary-pw"), "{out}");
}

#[test]
fn lint_only_reports_and_builds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nARG PIP_INDEX_PASSWORD\nENV API_TOKEN=$PIP_INDEX_PASSWORD\n# shipimg:allow SL005 a documented example\nRUN echo https://user:pass@example.com/simple\n",
            busybox()
        ),
    );
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        shipimg_build(home.path())
            .current_dir(dir.path())
            .arg("--lint-only"),
    )
    .code(1);
    assert!(
        out.stderr
            .contains("warning: Dockerfile:2: [SL004 secret-arg]"),
        "{out}"
    );
    assert!(
        out.stderr
            .starts_with("error: Dockerfile:3: [SL003 secret-env]")
            || out
                .stderr
                .contains("\nerror: Dockerfile:3: [SL003 secret-env]"),
        "{out}"
    );
    assert!(!out.stderr.contains("SL005"), "silenced on its line\n{out}");

    // A build argument that carries a secret shipimg holds is refused.
    write(
        dir.path(),
        "Dockerfile",
        &format!("FROM {}\nARG CACHE_BUST\n", busybox()),
    );
    write(dir.path(), "tok", "held-secret-value-42");
    let out = Outcome::of(shipimg_build(home.path()).current_dir(dir.path()).args([
        "--lint-only",
        "--secret",
        "id=tok,src=tok",
        "--build-arg",
        "CACHE_BUST=held-secret-value-42",
    ]))
    .code(1);
    assert!(
        out.stderr.contains("[SL006 build-arg-secret]") && out.stderr.contains("CACHE_BUST"),
        "{out}"
    );
    assert!(!out.stderr.contains("held-secret-value-42"), "{out}");
}

/// `--secret type=file` (no `src=`, no `id=`) used to panic in the parser; it is a user error:
/// one line naming the flag and a hint, exit 1.
#[test]
fn secret_type_file_alone_is_one_error_line_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!("FROM {}\nRUN echo guard-bugs-1\n", busybox()),
    );
    for value in ["type=file", "type=env", "type=file,src="] {
        let out = Outcome::of(
            shipimg_build(dir.path())
                .current_dir(dir.path())
                .args(["--secret", value]),
        )
        .code(1);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert!(
            lines[0].starts_with(&format!("error: invalid --secret `{value}`: ")),
            "{out}"
        );
        assert!(lines[1].starts_with("  hint: "), "{out}");
        assert!(!out.stderr.contains("panicked"), "{out}");
    }
}

/// An empty netrc, or one whose entries have no password, parses fine and used to be served
/// without a word; pip then failed with "No matching distribution found". Now one warning line
/// names the file, with a hint, even under `-q`, and the build goes on.
#[test]
fn an_empty_or_password_less_netrc_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nRUN --mount=type=secret,id=netrc,target=/root/.netrc echo guard-bugs-5\n",
            busybox()
        ),
    );
    let tag = unique_image("netrc-warning");
    let _guard = ImageGuard::new([tag.clone()]);
    let _lock = build_lock();
    for (text, needle) in [
        (
            "machine idx.example login me\n",
            "has no password for `idx.example`",
        ),
        ("", "has no entries"),
    ] {
        write(dir.path(), "netrc", text);
        let out = Outcome::of(
            shipimg_build(dir.path())
                .current_dir(dir.path())
                .args(["-q", "-t", &tag, "--netrc", "netrc"]),
        )
        .success();
        let lines: Vec<&str> = out.stderr.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("warning: the netrc from `--netrc netrc` "))
            .unwrap_or_else(|| panic!("no warning naming the file\n{out}"));
        assert!(lines[at].contains(needle), "{out}");
        assert!(lines[at + 1].starts_with("  hint: add "), "{out}");
    }
}
