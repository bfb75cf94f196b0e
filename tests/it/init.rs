//! `shipimg init` and the project config, against the sandbox: for each project layout (pip with
//! setuptools and with hatchling, Poetry and uv with their locks, a requirements.txt service),
//! init's Dockerfile builds the fixture project with the private index's credentials as a
//! secret, `shipimg build --push` with no flags pushes the config's tags, and a source edit
//! rebuilds without installing, or asking the index for, any dependency; locks are installed
//! exactly and a stale lock fails with its tool's message; config errors and templates that
//! cannot be filled stop before anything is built.

use std::path::Path;
use std::process::Command;

use crate::common::{
    ImageGuard, Outcome, Sandbox, build_lock, git_commit, index_password, repo_root, shipimg,
};
use crate::registry::{registry_digest, repository};

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

/// Runs the sandbox's uv on the uv fixture against the sandbox index (a lock records the index
/// URL, whose port differs between machines, so none is committed): `uv lock` and any `extra`
/// arguments.
fn uv_lock(dir: &Path, extra: &[&str]) {
    let sandbox = Sandbox::get();
    // Locking asks the index, whose requests the rebuild tests count.
    let _lock = build_lock();
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
        .args(extra)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", uv.display()));
    assert!(out.status.success(), "uv lock: {out:?}");
    assert!(dir.join("uv.lock").is_file());
}

/// Locks the Poetry fixture with the sandbox's pinned Poetry against the sandbox index (as its
/// primary source), as a developer would; Poetry gets the index password in its own variables.
fn poetry_lock(dir: &Path) {
    let sandbox = Sandbox::get();
    // Locking asks the index, whose requests the rebuild tests count.
    let _lock = build_lock();
    let home = tempfile::tempdir().unwrap();
    let poetry = |args: &[&str]| {
        let out = Command::new(sandbox.var("SANDBOX_POETRY"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env(
                "POETRY_HTTP_BASIC_SANDBOX_USERNAME",
                sandbox.var("SANDBOX_INDEX_USERNAME"),
            )
            .env(
                "POETRY_HTTP_BASIC_SANDBOX_PASSWORD",
                index_password(sandbox).trim(),
            )
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "poetry {args:?}: {out:?}");
    };
    poetry(&[
        "source",
        "add",
        "--priority=primary",
        "sandbox",
        sandbox.var("SANDBOX_INDEX_URL"),
    ]);
    poetry(&["lock", "--quiet"]);
    assert!(dir.join("poetry.lock").is_file());
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

/// `shipimg init` for `image` against the sandbox's index and base image.
fn init_for_sandbox(dir: &Path, home: &Path, image: &str) -> Command {
    let sandbox = Sandbox::get();
    let mut cmd = shipimg_in(dir, home);
    cmd.args(["init", "--image", image, "--index-url"])
        .arg(sandbox.var("SANDBOX_INDEX_URL"))
        .args(["--base-image", sandbox.var("SANDBOX_PYTHON_IMAGE")]);
    cmd
}

/// The sandbox index's request log (it runs with `-v`), from a mark on.
struct IndexRequests {
    from: usize,
}

impl IndexRequests {
    fn log() -> String {
        std::fs::read_to_string(Sandbox::get().var("SANDBOX_INDEX_LOG")).unwrap()
    }

    /// Marks the log's end.
    fn mark() -> Self {
        IndexRequests {
            from: Self::log().lines().count(),
        }
    }

    /// The requests for a package since the mark: `/simple/NAME/` pages and `/packages/` files
    /// (not the `/simple/` root that shipimg's own preflight reads).
    fn for_packages(&self) -> Vec<String> {
        Self::log()
            .lines()
            .skip(self.from)
            .filter_map(|line| {
                let url = line.trim().strip_prefix("<LocalRequest: GET ")?;
                let path = url.split_once("://")?.1.split_once('/')?.1;
                let package = path.starts_with("packages/")
                    || (path.starts_with("simple/") && path != "simple/>");
                package.then(|| path.trim_end_matches('>').to_owned())
            })
            .collect()
    }
}

/// The step numbers of a plain-progress build's steps whose title contains every one of
/// `needles`, and whether each was CACHED.
fn steps<'a>(progress: &'a str, needles: &[&str]) -> Vec<(&'a str, bool)> {
    let mut found = Vec::new();
    for line in progress.lines() {
        let Some((number, title)) = line.split_once(' ') else {
            continue;
        };
        if !number.starts_with('#') || !needles.iter().all(|n| title.contains(n)) {
            continue;
        }
        if found.iter().any(|(n, _)| *n == number) {
            continue;
        }
        let cached = progress.lines().any(|l| l == format!("{number} CACHED"));
        found.push((number, cached));
    }
    found
}

/// Runs the image (no network) and returns what it printed.
fn run_image(reference: &str) -> String {
    let run =
        Outcome::of(
            Sandbox::get()
                .docker()
                .args(["run", "--rm", "--network", "none", reference]),
        )
        .success();
    run.stdout.trim_end().to_owned()
}

/// A project `init` has set up, built and pushed once.
struct Built {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
    repo: String,
    tag: String,
    _guard: ImageGuard,
}

/// init (with `init_args`), then `shipimg build --push` with no flag: the registry has the
/// config's tags and the image prints `expected`.
fn init_build_push(kind: &str, init_args: &[&str], expected: &str, cmd: &str) -> Built {
    let sandbox = Sandbox::get();
    let dir = fixture_copy(kind);
    match kind {
        // A lock pinning six below the newest the index serves (1.17.0).
        "uv" => {
            uv_lock(dir.path(), &[]);
            uv_lock(dir.path(), &["--upgrade-package", "six==1.16.0"]);
        }
        "poetry" => poetry_lock(dir.path()),
        _ => {}
    }
    let home = tempfile::tempdir().unwrap();
    let repo = repository(&format!("init-{kind}"));

    let out =
        Outcome::of(init_for_sandbox(dir.path(), home.path(), &repo).args(init_args)).success();
    assert!(
        out.stderr.contains(&format!(
            "Wrote Dockerfile (FROM {}, CMD {cmd})",
            sandbox.var("SANDBOX_PYTHON_IMAGE")
        )),
        "{out}"
    );
    assert!(
        out.stderr.contains("installed in a layer of their own"),
        "{out}"
    );
    let dockerfile = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("--mount=type=secret,id=netrc,target=/root/.netrc,required=true"));
    assert!(!dockerfile.contains("NO_CACHE"), "{dockerfile}");
    let ignore = std::fs::read_to_string(dir.path().join(".dockerignore")).unwrap();
    assert!(ignore.contains("**/.netrc") && ignore.contains("**/gha-creds-*.json"));
    let config_path = match dir.path().join("pyproject.toml").exists() {
        true => dir.path().join("pyproject.toml"),
        false => dir.path().join("shipimg.toml"),
    };
    let mut config = std::fs::read_to_string(&config_path).unwrap();
    let doc: toml::Table = config.parse().unwrap();
    let table = doc
        .get("tool")
        .and_then(|t| t.get("shipimg"))
        .and_then(|t| t.as_table())
        .unwrap_or(&doc);
    assert_eq!(table["image"].as_str(), Some(repo.as_str()));

    // The sandbox index listens on the host's loopback: builds need the host network. A
    // credential file in the project must stay out of the image.
    config.push_str("network = \"host\"\n");
    std::fs::write(&config_path, config).unwrap();
    std::fs::write(
        dir.path().join(".netrc"),
        "machine x login y password canary-in-context\n",
    )
    .unwrap();
    let sha = git_commit(dir.path());
    let tags: Vec<String> = match kind {
        "requirements" => vec![sha.clone()],
        _ => vec!["0.1.0".to_owned(), sha.clone()],
    };

    let guard = ImageGuard::new(tags.iter().map(|t| format!("{repo}:{t}")));
    let _lock = build_lock();
    let out = Outcome::of(shipimg_in(dir.path(), home.path()).args([
        "build",
        "--push",
        "--progress",
        "plain",
    ]))
    .success();
    for line in [
        format!("Image {repo}, tags {}", tags.join(", ")),
        format!("Indexes {}", sandbox.var("SANDBOX_INDEX_URL")),
        "Credentials index netrc from SHIPIMG_NETRC".to_owned(),
    ] {
        assert!(out.stderr.contains(&line), "missing `{line}`\n{out}");
    }
    let password = index_password(sandbox);
    assert!(!out.stderr.contains(password.trim()) && !out.stdout.contains(password.trim()));

    let digests: Vec<String> = tags
        .iter()
        .map(|t| {
            registry_digest(&repo, t).unwrap_or_else(|| panic!("{repo}:{t} is not in the registry"))
        })
        .collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
    let tag = tags[0].clone();
    assert_eq!(run_image(&format!("{repo}:{tag}")), expected);
    Built {
        dir,
        home,
        repo,
        tag,
        _guard: guard,
    }
}

/// Edits one source file of a built project and rebuilds: the dependency layers are CACHED,
/// the index is asked for no package, and the image runs the edited code.
fn edit_and_rebuild(built: &Built, source: &str, expected: &str, deps_step: &[&str]) {
    let path = built.dir.path().join(source);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("acme_private.VALUE}"), "{text}");
    std::fs::write(
        &path,
        text.replace("acme_private.VALUE}", "acme_private.VALUE} edited"),
    )
    .unwrap();

    let _lock = build_lock();
    let requests = IndexRequests::mark();
    let out = Outcome::of(shipimg_in(built.dir.path(), built.home.path()).args([
        "build",
        "--progress",
        "plain",
    ]))
    .success();
    let progress = &out.stderr;
    let deps = steps(progress, deps_step);
    assert!(!deps.is_empty(), "no step with {deps_step:?}\n{out}");
    assert!(deps.iter().all(|(_, cached)| *cached), "{deps:?}\n{out}");
    let copy = steps(progress, &["COPY --from=deps /opt/venv"]);
    assert!(matches!(copy[..], [(_, true)]), "{copy:?}\n{out}");
    assert_eq!(requests.for_packages(), Vec::<String>::new(), "{out}");
    let edited = expected.replacen("acme-private-ok", "acme-private-ok edited", 1);
    assert_eq!(run_image(&format!("{}:{}", built.repo, built.tag)), edited);
}

/// One layout end to end: init, build and push, then edit `source` and rebuild with the step
/// whose title holds `deps_step` CACHED.
fn layout(
    kind: &str,
    init_args: &[&str],
    expected: &str,
    cmd: &str,
    source: &str,
    deps_step: &str,
) {
    let built = init_build_push(kind, init_args, expected, cmd);
    edit_and_rebuild(&built, source, expected, &["[deps ", deps_step]);
}

#[test]
fn init_for_pip_with_setuptools_builds_pushes_and_rebuilds_an_edit_from_cache() {
    let (expected, cmd) = ("pip-service: acme-private-ok", r#"["pip-service"]"#);
    let deps = "pip install -r /manifest/requirements.txt";
    layout("pip", &[], expected, cmd, "pip_service/__init__.py", deps);
}

#[test]
fn init_for_pip_with_hatchling_builds_pushes_and_rebuilds_an_edit_from_cache() {
    let (expected, cmd) = ("hatch-service: acme-private-ok", r#"["hatch-service"]"#);
    let deps = "pip install -r /manifest/requirements.txt";
    layout(
        "hatch",
        &[],
        expected,
        cmd,
        "hatch_service/__init__.py",
        deps,
    );
}

#[test]
fn init_for_poetry_installs_the_lock_and_rebuilds_an_edit_from_cache() {
    let (expected, cmd) = ("poetry-service: acme-private-ok", r#"["poetry-service"]"#);
    let deps = "pip install --require-hashes --no-deps";
    layout(
        "poetry",
        &[],
        expected,
        cmd,
        "poetry_service/__init__.py",
        deps,
    );
}

#[test]
fn init_for_uv_installs_the_older_version_its_lock_pins_and_rebuilds_an_edit_from_cache() {
    // The index serves six 1.16.0 and 1.17.0; the lock pins 1.16.0.
    let (expected, cmd) = (
        "uv-service: acme-private-ok six-1.16.0",
        r#"["uv-service"]"#,
    );
    let deps = "uv sync --directory /src --locked --no-install-project";
    layout("uv", &[], expected, cmd, "uv_service/__init__.py", deps);
}

#[test]
fn init_for_a_requirements_txt_service_writes_shipimg_toml_and_rebuilds_an_edit_from_cache() {
    let expected = "requirements-app: acme-private-ok six-1.16.0";
    let built = init_build_push(
        "requirements",
        &["--cmd", "python app.py"],
        expected,
        r#"["python","app.py"]"#,
    );
    let config = std::fs::read_to_string(built.dir.path().join("shipimg.toml")).unwrap();
    assert!(config.contains("tags = [\"{git_short_sha}\"]"), "{config}");
    let deps = ["[deps ", "pip install -r /req/requirements.txt"];
    edit_and_rebuild(&built, "app.py", expected, &deps);
}

#[test]
fn two_projects_do_not_share_a_cache_mount() {
    let sandbox = Sandbox::get();
    let home = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    let mut guards = Vec::new();
    for n in 0..2 {
        let dir = fixture_copy("requirements");
        let image = format!("shipimg-test/init-cache-{n}-{}", std::process::id());
        Outcome::of(&mut init_for_sandbox(dir.path(), home.path(), &image)).success();
        let dockerfile = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
        let id = dockerfile
            .split("id=shipimg-pip-")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap()
            .to_owned();
        ids.push(id);
        std::fs::write(
            dir.path().join("shipimg.toml"),
            format!(
                "image = \"{image}\"\ntags = [\"n\"]\nnetwork = \"host\"\nindex-urls = [\"{}\"]\n",
                sandbox.var("SANDBOX_INDEX_URL")
            ),
        )
        .unwrap();
        guards.push(ImageGuard::new([format!("{image}:n")]));
        let _lock = build_lock();
        // The engine's cache mounts for the requirements template's install step (BuildKit
        // names them by the step, not by their id).
        let mounts = || {
            let version = sandbox.engine_get("/version");
            let api = version["ApiVersion"].as_str().unwrap().to_owned();
            // Only the build cache where the engine can (API 1.42+): listing images races with
            // other tests removing theirs on the containerd store.
            let df = sandbox.engine_get(&format!("/v{api}/system/df?type=build-cache"));
            df["BuildCache"]
                .as_array()
                .map(|records| {
                    records
                        .iter()
                        .filter(|r| {
                            r["Type"] == "exec.cachemount"
                                && r["Description"].as_str().is_some_and(|d| {
                                    d.starts_with("cached mount /root/.cache/pip from exec")
                                        && d.contains("pip install -r /req/requirements.txt")
                                })
                        })
                        .count()
                })
                .unwrap_or(0)
        };
        let before = mounts();
        // --no-cache: every step runs, so it mounts its cache. (Without it a step's result can
        // be reused by another project with the same inputs: BuildKit on Docker 28 leaves
        // cache-mount ids out of a step's cache key. That reuses a layer built from the same
        // list, not a cache mount.)
        Outcome::of(shipimg_in(dir.path(), home.path()).args([
            "build",
            "--no-cache",
            "--progress",
            "plain",
        ]))
        .success();
        // Each project's install step got a cache mount of its own: a new one on the engine.
        assert_eq!(mounts(), before + 1, "project {n}");
    }
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn out_of_date_locks_fail_the_build_with_the_tools_own_message() {
    let home = tempfile::tempdir().unwrap();
    for (kind, message) in [
        (
            "uv",
            "The lockfile at `uv.lock` needs to be updated, but `--locked` was provided",
        ),
        (
            "poetry",
            "pyproject.toml changed significantly since poetry.lock was last generated. Run `poetry lock` to fix the lock file.",
        ),
    ] {
        let dir = fixture_copy(kind);
        match kind {
            "uv" => uv_lock(dir.path(), &[]),
            _ => poetry_lock(dir.path()),
        }
        let image = format!("shipimg-test/init-stale-{kind}-{}", std::process::id());
        Outcome::of(&mut init_for_sandbox(dir.path(), home.path(), &image)).success();
        // A requirement changed in the manifest without locking again.
        let path = dir.path().join("pyproject.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let text = match kind {
            "uv" => text.replace("\"acme-private>=1.0,<2\"", "\"acme-private>=1.0,<3\""),
            _ => text.replace("acme-private = \"^1.0\"", "acme-private = \">=1.0,<3\""),
        };
        std::fs::write(&path, format!("{text}network = \"host\"\n")).unwrap();
        let _guard = ImageGuard::new([format!("{image}:0.1.0")]);
        let _lock = build_lock();
        let out = Outcome::of(
            shipimg_in(dir.path(), home.path())
                .env("SHIPIMG_TAGS", "0.1.0")
                .args(["build", "--progress", "plain"]),
        )
        .code(1);
        assert!(out.stderr.contains(message), "{kind}: {out}");
        assert!(
            !crate::common::image_exists(&format!("{image}:0.1.0")),
            "{kind}: {out}"
        );
    }
}

#[test]
fn init_refuses_layouts_it_cannot_build_and_says_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Pipfile"), "[packages]\nflask = \"*\"\n").unwrap();
    let out = Outcome::of(shipimg_in(dir.path(), home.path()).arg("init")).code(1);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines[0],
        "error: . is a Pipfile project: init cannot write a Dockerfile that installs Pipfile.lock",
        "{out}"
    );
    assert!(
        lines[1].contains("pipenv requirements > requirements.txt"),
        "{out}"
    );
    assert!(!dir.path().join("Dockerfile").exists());

    // A requirements.txt service with no entry point init knows needs --cmd.
    let dir = fixture_copy("requirements");
    std::fs::remove_file(dir.path().join("app.py")).unwrap();
    let out = Outcome::of(shipimg_in(dir.path(), home.path()).arg("init")).code(1);
    assert_eq!(
        out.stderr.lines().next(),
        Some("error: . has no app.py, main.py or manage.py: cannot tell what the image runs"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("hint: say what the image runs with `--cmd`"),
        "{out}"
    );
    // The project itself in a requirement file is named with its line.
    std::fs::write(dir.path().join("requirements.txt"), "six==1.16.0\n-e .\n").unwrap();
    let out =
        Outcome::of(shipimg_in(dir.path(), home.path()).args(["init", "--cmd", "python x.py"]))
            .code(1);
    assert_eq!(
        out.stderr.lines().next(),
        Some(
            "error: requirements.txt:2: `-e .` installs a local path, which a dependency layer cannot hold"
        ),
        "{out}"
    );
    assert!(!dir.path().join("Dockerfile").exists());
    // A base image that is no image reference is refused, naming the flag, before anything
    // is written.
    let dir = fixture_copy("requirements");
    let out = Outcome::of(shipimg_in(dir.path(), home.path()).args([
        "init",
        "--base-image",
        "Python:3.12//slim",
    ]))
    .code(1);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines[0].starts_with("error: --base-image: ") && lines[0].contains("`Python:3.12//slim`"),
        "{out}"
    );
    assert!(lines[1].starts_with("  hint: "), "{out}");
    assert!(!dir.path().join("Dockerfile").exists());
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
        dockerfile.contains("FROM python:3.12-slim AS manifest"),
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
        Some("error: no pyproject.toml or requirements.txt in ."),
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
