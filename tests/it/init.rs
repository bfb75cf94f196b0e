//! `shipimg init` and the project config, against the sandbox: for each project kind (pip,
//! Poetry, uv), init's Dockerfile builds the fixture project with the private index's
//! credentials as a secret, and `shipimg build --push` with no flags pushes the config's tags;
//! config errors and templates that cannot be filled stop before anything is built.

use std::path::Path;
use std::process::Command;

use crate::common::{
    ImageGuard, Outcome, Sandbox, build_lock, git_commit, index_password, repo_root, shipimg,
};
use crate::push::{registry_digest, repository};

/// Copies `tests/fixtures/projects/<kind>` into a fresh directory.
fn fixture_copy(kind: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = repo_root().join("tests/fixtures/projects").join(kind);
    let status = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", from.display()))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    dir
}

/// Locks the uv fixture against the sandbox index with the sandbox's own uv (a lock records the
/// index URL, whose port differs between machines, so none is committed).
fn uv_lock(dir: &Path) {
    let sandbox = Sandbox::get();
    let uv = Path::new(sandbox.var("SHIPIMG_SANDBOX_DIR")).join("venv/bin/uv");
    let out = Command::new(&uv)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("UV_INDEX_URL", sandbox.var("SANDBOX_INDEX_URL"))
        .env("NETRC", sandbox.var("SANDBOX_NETRC"))
        .env("UV_NO_CONFIG", "1")
        .env("UV_NO_CACHE", "1")
        .env("UV_PYTHON_DOWNLOADS", "never")
        .args(["lock", "--quiet", "--directory"])
        .arg(dir)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", uv.display()));
    assert!(out.status.success(), "uv lock: {out:?}");
    assert!(dir.join("uv.lock").is_file());
}

/// `shipimg` pointed at the sandbox's engine, registry login and index netrc (its text in
/// `SHIPIMG_NETRC`, as CI keeps it): what a developer's machine or a CI job has, with no flag.
fn shipimg_in(dir: &Path, home: &Path) -> Command {
    let sandbox = Sandbox::get();
    let mut cmd = shipimg(home);
    cmd.current_dir(dir)
        .env("DOCKER_HOST", sandbox.docker_host())
        .env("DOCKER_CONFIG", sandbox.var("DOCKER_CONFIG"))
        .env(
            "SHIPIMG_NETRC",
            std::fs::read_to_string(sandbox.var("SANDBOX_NETRC")).unwrap(),
        );
    cmd
}

/// init, then `shipimg build --push` with no flag, then the image runs and the registry has
/// both default tags.
fn init_build_push(kind: &str, expected: &str, cmd: &str) {
    let sandbox = Sandbox::get();
    let dir = fixture_copy(kind);
    if kind == "uv" {
        uv_lock(dir.path());
    }
    let home = tempfile::tempdir().unwrap();
    let repo = repository(&format!("init-{kind}"));

    let out = Outcome::of(
        shipimg_in(dir.path(), home.path())
            .args(["init", "--image", &repo, "--index-url"])
            .arg(sandbox.var("SANDBOX_INDEX_URL"))
            .args(["--base-image", sandbox.var("SANDBOX_PYTHON_IMAGE")]),
    )
    .success();
    assert!(
        out.stderr.contains(&format!(
            "Wrote Dockerfile (FROM {}, CMD {cmd})",
            sandbox.var("SANDBOX_PYTHON_IMAGE")
        )),
        "{out}"
    );
    let dockerfile = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("--mount=type=secret,id=netrc,target=/root/.netrc,required=true"));
    let ignore = std::fs::read_to_string(dir.path().join(".dockerignore")).unwrap();
    assert!(ignore.contains("**/.netrc") && ignore.contains("**/gha-creds-*.json"));
    let pyproject = std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap();
    let doc: toml::Table = pyproject.parse().unwrap();
    assert_eq!(
        doc["tool"]["shipimg"]["image"].as_str(),
        Some(repo.as_str())
    );

    // The sandbox index listens on the host's loopback: builds need the host network. A
    // credential file in the project must stay out of the image.
    let mut config = pyproject;
    config.push_str("network = \"host\"\n");
    std::fs::write(dir.path().join("pyproject.toml"), config).unwrap();
    std::fs::write(
        dir.path().join(".netrc"),
        "machine x login y password canary-in-context\n",
    )
    .unwrap();
    let sha = git_commit(dir.path());

    let _guard = ImageGuard::new([format!("{repo}:0.1.0"), format!("{repo}:{sha}")]);
    let _lock = build_lock();
    let out = Outcome::of(shipimg_in(dir.path(), home.path()).args([
        "build",
        "--push",
        "--progress",
        "plain",
    ]))
    .success();
    for line in [
        format!("Image {repo}, tags 0.1.0, {sha}"),
        format!("Indexes {}", sandbox.var("SANDBOX_INDEX_URL")),
        "Credentials index netrc from SHIPIMG_NETRC".to_owned(),
    ] {
        assert!(out.stderr.contains(&line), "missing `{line}`\n{out}");
    }
    let password = index_password(sandbox);
    assert!(!out.stderr.contains(password.trim()) && !out.stdout.contains(password.trim()));

    let first = registry_digest(&repo, "0.1.0").expect("the version tag is in the registry");
    let second = registry_digest(&repo, &sha).expect("the short-sha tag is in the registry");
    assert_eq!(first, second);
    let run = Outcome::of(sandbox.docker().args([
        "run",
        "--rm",
        "--network",
        "none",
        &format!("{repo}:0.1.0"),
    ]))
    .success();
    assert_eq!(run.stdout.trim_end(), expected, "{run}");
    let files = Outcome::of(sandbox.docker().args([
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "python3",
        &format!("{repo}:0.1.0"),
        "-c",
        "import os; print(sorted(os.listdir('/opt/venv')))",
    ]))
    .success();
    assert!(files.stdout.contains("bin"), "{files}");
}

#[test]
fn init_for_pip_builds_and_pushes_with_no_flags() {
    init_build_push("pip", "pip-service: acme-private-ok", r#"["pip-service"]"#);
}

#[test]
fn init_for_poetry_builds_and_pushes_with_no_flags() {
    init_build_push(
        "poetry",
        "poetry-service: acme-private-ok",
        r#"["poetry-service"]"#,
    );
}

#[test]
fn init_for_uv_builds_and_pushes_with_no_flags() {
    init_build_push("uv", "uv-service: acme-private-ok", r#"["uv-service"]"#);
}

#[test]
fn init_never_overwrites_without_force() {
    let dir = fixture_copy("pip");
    let home = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let before = std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap();
    let out = Outcome::of(shipimg_in(dir.path(), home.path()).arg("init")).code(1);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines[0], "error: not overwriting Dockerfile: it exists already",
        "{out}"
    );
    assert_eq!(
        lines[1],
        "  hint: pass --force to replace it, or move it aside"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        "FROM scratch\n"
    );
    assert!(!dir.path().join(".dockerignore").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap(),
        before
    );

    Outcome::of(shipimg_in(dir.path(), home.path()).args(["init", "--force"])).success();
    let dockerfile = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("FROM python:3.12-slim AS build"),
        "{dockerfile}"
    );
    // A second --force replaces the block instead of adding another.
    Outcome::of(shipimg_in(dir.path(), home.path()).args([
        "init",
        "--force",
        "--image",
        "reg.example/a/b",
    ]))
    .success();
    let pyproject = std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap();
    assert_eq!(
        pyproject.matches("[tool.shipimg]").count(),
        1,
        "{pyproject}"
    );
    assert!(pyproject.contains("image = \"reg.example/a/b\""));
}

#[test]
fn init_puts_the_config_in_an_existing_shipimg_toml() {
    let dir = fixture_copy("pip");
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shipimg.toml"),
        "image = \"reg.example/old\"\n",
    )
    .unwrap();
    let out = Outcome::of(shipimg_in(dir.path(), home.path()).arg("init")).code(1);
    assert_eq!(
        out.stderr.lines().next(),
        Some("error: not overwriting shipimg.toml: it exists already"),
        "{out}"
    );
    assert!(!dir.path().join("Dockerfile").exists());
    Outcome::of(shipimg_in(dir.path(), home.path()).args([
        "init",
        "--force",
        "--image",
        "reg.example/new",
    ]))
    .success();
    let config = std::fs::read_to_string(dir.path().join("shipimg.toml")).unwrap();
    assert!(config.contains("image = \"reg.example/new\""), "{config}");
    let pyproject = std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap();
    assert!(!pyproject.contains("[tool.shipimg]"), "{pyproject}");
}

#[test]
fn init_outside_a_python_project_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(shipimg_in(dir.path(), home.path()).arg("init")).code(1);
    assert_eq!(
        out.stderr.lines().next(),
        Some("error: no pyproject.toml in ."),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("hint: run `shipimg init` in a Python project")
    );
    let out =
        Outcome::of(shipimg_in(dir.path(), home.path()).args(["init", "--image", "Not/Valid"]));
    assert_eq!(out.code, Some(1), "{out}");
}

#[test]
fn config_mistakes_stop_the_build_naming_the_key_and_file() {
    let home = tempfile::tempdir().unwrap();
    for (config, want, hint) in [
        (
            "imgae = \"reg.example/a/b\"\n",
            "unknown key `imgae`",
            "did you mean `image`?",
        ),
        (
            "image = \"reg.example/a/b\"\ntags = [\"{vresion}\"]\n",
            "tag template `{vresion}` has an unknown placeholder `{vresion}`",
            "did you mean `{version}`?",
        ),
        (
            "network = 3\n",
            "`network` must be a string, not an integer",
            "write it as network = \"...\"",
        ),
    ] {
        let dir = fixture_copy("pip");
        let path = dir.path().join("pyproject.toml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("\n[tool.shipimg]\n");
        text.push_str(config);
        std::fs::write(&path, text).unwrap();
        let out = Outcome::of(shipimg_in(dir.path(), home.path()).arg("build")).code(1);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(
            lines[0],
            format!("error: [tool.shipimg] in ./pyproject.toml: {want}"),
            "{out}"
        );
        assert_eq!(lines[1], format!("  hint: {hint}"), "{out}");
        assert_eq!(lines.len(), 2, "{out}");
    }
    // Broken TOML names the line.
    let dir = fixture_copy("pip");
    std::fs::write(dir.path().join("shipimg.toml"), "image = \n").unwrap();
    let out = Outcome::of(shipimg_in(dir.path(), home.path()).arg("build")).code(1);
    assert!(
        out.stderr
            .starts_with("error: ./shipimg.toml:1: invalid TOML:"),
        "{out}"
    );
}

#[test]
fn a_git_template_outside_a_repository_is_a_clear_error() {
    let dir = fixture_copy("pip");
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shipimg.toml"),
        "image = \"reg.example/a/b\"\n",
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("pyproject.toml")).unwrap();
    let out = Outcome::of(shipimg_in(dir.path(), home.path()).arg("build")).code(1);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines[0],
        "error: cannot fill the tag template `{version}`: no version in ./pyproject.toml ([project] or [tool.poetry])",
        "{out}"
    );
    std::fs::write(
        dir.path().join("shipimg.toml"),
        "image = \"reg.example/a/b\"\ntags = [\"{git_short_sha}\"]\n",
    )
    .unwrap();
    let out = Outcome::of(shipimg_in(dir.path(), home.path()).arg("build")).code(1);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines[0],
        "error: cannot fill the tag template `{git_short_sha}`: . is not in a git repository with a commit (and no GITHUB_SHA, CI_COMMIT_SHA or COMMIT_SHA is set)",
        "{out}"
    );
    assert!(
        lines[1].starts_with("  hint: drop the placeholder"),
        "{out}"
    );
    // CI's variable stands in for git.
    let busybox = Sandbox::get().var("SANDBOX_BUSYBOX_IMAGE");
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {busybox}\nRUN echo git-template-from-ci > /x\n"),
    )
    .unwrap();
    let _guard = ImageGuard::new(["reg.example/a/b:feedfac".to_owned()]);
    let _lock = build_lock();
    let out = Outcome::of(
        shipimg_in(dir.path(), home.path())
            .env("GITHUB_SHA", "feedface00112233445566778899aabbccddeeff")
            .args(["build", "--progress", "plain"]),
    )
    .success();
    assert!(
        out.stderr.contains("Image reg.example/a/b, tags feedfac"),
        "{out}"
    );
    Outcome::of(
        Sandbox::get()
            .docker()
            .args(["image", "inspect", "reg.example/a/b:feedfac"]),
    )
    .success();
}
