//! Proof that the sandbox is real: the example project builds with the engine's own CLI and
//! BuildKit, installs the private package from the password-protected index through the netrc
//! secret, and runs; with a wrong password the same build fails.

use std::process::Command;

use crate::common::{ImageGuard, Outcome, Sandbox, build_lock, repo_root, unique_image};

/// What the example prints: its name and the private package's value.
const EXAMPLE_OUTPUT: &str = "example-service: acme-private-ok";

/// Runs the example's image `tag` with no network and asserts it prints what the example prints.
#[track_caller]
pub fn assert_runs_the_example(sandbox: &Sandbox, tag: &str) {
    let run = Outcome::of(
        sandbox
            .docker()
            .args(["run", "--rm", "--network", "none", tag]),
    )
    .success();
    assert_eq!(run.stdout.trim_end(), EXAMPLE_OUTPUT, "{run}");
}

fn cli_build(sandbox: &Sandbox, netrc: &std::path::Path, tag: &str) -> Command {
    let mut cmd = sandbox.docker();
    cmd.arg("build")
        .arg("--secret")
        .arg(format!("id=netrc,src={}", netrc.display()))
        .args(["--network", "host", "--progress", "plain"])
        .arg("--build-arg")
        .arg(format!(
            "PIP_INDEX_URL={}",
            sandbox.var("SANDBOX_INDEX_URL")
        ))
        .args(["-t", tag])
        .arg(repo_root().join("fixtures/example"));
    cmd
}

#[test]
fn example_builds_with_the_engine_cli_and_runs() {
    let sandbox = Sandbox::get();
    let tag = unique_image("example");
    let _guard = ImageGuard::new([tag.clone()]);
    let netrc = std::path::PathBuf::from(sandbox.var("SANDBOX_NETRC"));
    let _lock = build_lock();

    Outcome::of(&mut cli_build(sandbox, &netrc, &tag)).success();
    assert_runs_the_example(sandbox, &tag);
}

#[test]
fn example_build_fails_with_a_wrong_index_password() {
    let sandbox = Sandbox::get();
    let tag = unique_image("example-badpass");
    let _guard = ImageGuard::new([tag.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let netrc = dir.path().join("netrc");
    std::fs::write(
        &netrc,
        format!(
            "machine {} login {} password not-the-password\n",
            sandbox.var("SANDBOX_INDEX_HOST"),
            sandbox.var("SANDBOX_INDEX_USERNAME")
        ),
    )
    .unwrap();

    let _lock = build_lock();
    let out = Outcome::of(cli_build(sandbox, &netrc, &tag).arg("--no-cache"));
    assert_ne!(
        out.code,
        Some(0),
        "a wrong password must fail the build\n{out}"
    );
    // pip hides the 401 behind "no matching distribution": the failure is the install step.
    assert!(out.stderr.contains("pip install"), "{out}");
    let inspect = Outcome::of(sandbox.docker().args(["image", "inspect", &tag]));
    assert_ne!(
        inspect.code,
        Some(0),
        "no image may be tagged by a failed build\n{inspect}"
    );
}
