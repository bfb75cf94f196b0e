//! Bad image references (issue 18: `a:b:c`, `repo//x:1`, an upper-case repository, an
//! over-long tag, an empty name) are refused before anything runs: one error line naming the
//! flag, variable, key or argument that gave them, a hint, exit 1.
//!
//! `DOCKER_HOST` points at a socket that does not exist: a command that got as far as the engine
//! would fail saying it cannot reach it, so an error naming the reference proves the refusal came
//! first and nothing was built, tagged or pushed.

use std::path::Path;

use crate::common::{Outcome, repo_root, shipimg, write};

/// `shipimg ARGS...` with an engine address nothing answers at.
fn shipimg_without_engine(home: &Path, args: &[&str]) -> Outcome {
    Outcome::of(
        shipimg(home)
            .env(
                "DOCKER_HOST",
                "unix:///nonexistent/shipimg-test/docker.sock",
            )
            .args(args),
    )
}

/// Asserts exit 1 with exactly one `error:` line starting with `want`, then a `hint:` line,
/// and no sign of the engine.
#[track_caller]
fn assert_refused(out: Outcome, want: &str) {
    let out = out.code(1);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let errors: Vec<&&str> = lines.iter().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{out}");
    assert!(
        errors[0].starts_with(&format!("error: {want}")),
        "wanted `error: {want}...`\n{out}"
    );
    let at = lines.iter().position(|l| l.starts_with("error:")).unwrap();
    assert!(
        lines
            .get(at + 1)
            .is_some_and(|l| l.trim_start().starts_with("hint: ")),
        "{out}"
    );
    assert!(!out.stderr.contains("engine"), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn bad_tags_are_refused_before_the_build_naming_the_flag() {
    let home = tempfile::tempdir().unwrap();
    let example = repo_root().join("fixtures/example");
    let example = example.to_str().unwrap();
    let long = format!("reg.example/svc:{}", "t".repeat(300));
    for (tag, want) in [
        (
            "a:b:c",
            "-t/--tag: the tag in `a:b:c` is `b:c`, which has `:`",
        ),
        (
            "repo//x:1",
            "-t/--tag: `repo//x:1` has an empty path component",
        ),
        (
            "reg.example/Team/App:1",
            "-t/--tag: `reg.example/Team/App:1` has upper case in its repository",
        ),
        (
            long.as_str(),
            "-t/--tag: the tag in `reg.example/svc:tttttttttttttttttttttttt…` is 300 characters; the limit is 128",
        ),
        ("", "-t/--tag: the image reference is empty"),
    ] {
        // A good tag first: one bad tag among several still stops the build.
        let out = shipimg_without_engine(
            home.path(),
            &[
                "build",
                example,
                "-t",
                "reg.example/ok:1",
                "-t",
                tag,
                "--push",
            ],
        );
        assert_refused(out, want);
    }
}

#[test]
fn bad_push_arguments_are_refused_before_the_engine() {
    let home = tempfile::tempdir().unwrap();
    for (image, want) in [
        (
            "a:b:c",
            "IMAGE argument: the tag in `a:b:c` is `b:c`, which has `:`",
        ),
        (
            "repo//x:1",
            "IMAGE argument: `repo//x:1` has an empty path component",
        ),
        (
            "Repo:1",
            "IMAGE argument: `Repo:1` has upper case in its repository",
        ),
    ] {
        let out = shipimg_without_engine(home.path(), &["push", "reg.example/ok:1", image]);
        assert_refused(out, want);
    }
}

#[test]
fn a_bad_image_in_the_config_or_environment_names_its_source() {
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    write(
        project.path(),
        "pyproject.toml",
        "[project]\nname = \"svc\"\nversion = \"1.0\"\n\n[tool.shipimg]\nimage = \"reg.example/Team/svc\"\n",
    );
    write(project.path(), "Dockerfile", "FROM scratch\n");
    let dir = project.path().to_str().unwrap();
    let pyproject = project.path().join("pyproject.toml");
    let out = shipimg_without_engine(home.path(), &["build", dir]);
    assert_refused(
        out,
        &format!(
            "[tool.shipimg] in {}: `image`: `reg.example/Team/svc` has upper case in its repository",
            pyproject.display()
        ),
    );

    write(
        project.path(),
        "pyproject.toml",
        "[project]\nname = \"svc\"\n",
    );
    let out = Outcome::of(
        shipimg(home.path())
            .env(
                "DOCKER_HOST",
                "unix:///nonexistent/shipimg-test/docker.sock",
            )
            .env("SHIPIMG_IMAGE", "reg.example//svc")
            .args(["build", dir]),
    );
    assert_refused(
        out,
        "$SHIPIMG_IMAGE: `image`: `reg.example//svc` has an empty path component",
    );
}
