//! `shipimg build --push` and `shipimg push` against the sandbox registry: each credential
//! source, the digest the registry reports, retries when the registry goes away and comes back,
//! no retry when it refuses the login, and what CI and release scripts read.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{
    ImageGuard, Outcome, Sandbox, build_lock, build_push, github_outputs, image_exists, interrupt,
    one_step_project, registry_password, repo_root, sandbox_credential_helper, shipimg,
    with_registry_login, write,
};
use crate::registry::{registry_config_digest, registry_digest, registry_tags, repository};

/// The engine's id and `os/arch` for a local image.
fn local_image(reference: &str) -> (String, String) {
    let out = Outcome::of(Sandbox::get().docker().args([
        "image",
        "inspect",
        "--format",
        "{{.Id}} {{.Os}}/{{.Architecture}}",
        reference,
    ]))
    .success();
    let (id, platform) = out.stdout.trim().split_once(' ').unwrap();
    (id.to_owned(), platform.to_owned())
}

/// Whether the sandbox engine keeps images in the containerd image store, whose image id is the
/// manifest digest, not the config digest.
fn containerd_store() -> bool {
    let out =
        Outcome::of(
            Sandbox::get()
                .docker()
                .args(["info", "--format", "{{json .DriverStatus}}"]),
        )
        .success();
    out.stdout.contains("io.containerd.snapshotter")
}

/// `--metadata-file` of a push of `tags` (all of `repo`, the image `local` in the engine): each
/// key against what the registry holds, and the engine's image id against the key its store
/// makes it equal to.
fn assert_metadata_from_registry(meta: &Path, repo: &str, tags: &[String], local: &str) {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(meta).unwrap()).unwrap();
    let first_tag = tags[0].rsplit_once(':').unwrap().1;
    let digest = registry_digest(repo, first_tag).expect("the tag is in the registry");
    let (id, platform) = local_image(local);
    let config = registry_config_digest(repo, &digest, &platform);
    assert_eq!(meta["containerimage.digest"], digest.as_str(), "{meta}");
    assert_eq!(meta["containerimage.descriptor"]["digest"], digest.as_str());
    assert_eq!(
        meta["containerimage.config.digest"],
        config.as_str(),
        "{meta}"
    );
    assert_eq!(meta["image.name"], tags.join(","));
    if containerd_store() {
        assert_eq!(
            id, digest,
            "the containerd store's id is the manifest digest"
        );
    } else {
        assert_eq!(id, config, "the classic store's id is the config digest");
    }
}

/// `-q` output: `name@digest` for each reference, the digest being the registry's for its tag.
fn quiet_lines_from_registry(references: &[String]) -> String {
    references
        .iter()
        .map(|reference| {
            let (repo, tag) = reference.rsplit_once(':').unwrap();
            let digest = registry_digest(repo, tag)
                .unwrap_or_else(|| panic!("{reference} is not in the registry"));
            format!("{repo}@{digest}\n")
        })
        .collect()
}

fn small_project(what: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nRUN echo {what}-{} > /marker\n",
            Sandbox::get().var("SANDBOX_BUSYBOX_IMAGE"),
            std::process::id()
        ),
    );
    dir
}

#[test]
fn build_push_reports_the_digest_the_registry_holds() {
    let _lock = build_lock();
    let dir = small_project("digest");
    let repo = repository("digest");
    let tags = [format!("{repo}:1.0"), format!("{repo}:latest")];
    let _guard = ImageGuard::new(tags.iter().cloned());
    let home = tempfile::tempdir().unwrap();
    let meta = home.path().join("meta.json");
    let gh_output = home.path().join("github_output");
    let gh_summary = home.path().join("github_summary");
    std::fs::write(&gh_output, "earlier=kept\n").unwrap();
    let out = Outcome::of(
        build_push(dir.path(), home.path(), &[&tags[0], &tags[1]])
            .args(["--progress", "plain", "--metadata-file"])
            .arg(&meta)
            .env("GITHUB_OUTPUT", &gh_output)
            .env("GITHUB_STEP_SUMMARY", &gh_summary),
    )
    .success();

    let digest = registry_digest(&repo, "1.0").expect("the tag is in the registry");
    assert_eq!(
        registry_digest(&repo, "latest").as_deref(),
        Some(digest.as_str())
    );
    assert_metadata_from_registry(&meta, &repo, &tags, &tags[0]);
    assert!(
        out.stderr.contains(&format!("Pushed {}@{digest}", tags[0])),
        "{out}"
    );

    // GitHub Actions: outputs in the multi-line form, after what was already there.
    let text = std::fs::read_to_string(&gh_output).unwrap();
    let rest = text.strip_prefix("earlier=kept\n").expect("appended");
    let outputs = github_outputs(rest);
    assert_eq!(outputs["digest"], digest);
    assert_eq!(outputs["image"], format!("{repo}@{digest}"));
    assert_eq!(outputs["tags"], format!("{}\n{}", tags[0], tags[1]));
    assert_eq!(outputs["imageid"], local_image(&tags[0]).0);
    let metadata: serde_json::Value = serde_json::from_str(&outputs["metadata"]).unwrap();
    assert_eq!(
        metadata,
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&meta).unwrap())
            .unwrap()
    );
    let summary = std::fs::read_to_string(&gh_summary).unwrap();
    assert!(
        summary.contains("| image | tags | digest | size | duration |"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("| `{repo}` | `1.0`, `latest` | `{digest}` |")),
        "{summary}"
    );
}

/// `build --push -q` of one tag, then of two (the second build from the cache): stdout is
/// `name@digest` for each tag, with the registry's digest.
#[test]
fn quiet_prints_exactly_the_pushed_references() {
    let _lock = build_lock();
    let dir = small_project("quiet");
    let repo = repository("quiet");
    let tags = [
        format!("{repo}:one"),
        format!("{repo}:a"),
        format!("{repo}:b"),
    ];
    let _guard = ImageGuard::new(tags.iter().cloned());
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(build_push(dir.path(), home.path(), &[&tags[0]]).arg("-q")).success();
    assert_eq!(out.stdout, quiet_lines_from_registry(&tags[..1]), "{out}");
    let out =
        Outcome::of(build_push(dir.path(), home.path(), &[&tags[1], &tags[2]]).arg("-q")).success();
    assert_eq!(out.stdout, quiet_lines_from_registry(&tags[1..]), "{out}");
}

/// `shipimg push` of one tag, then of several in two repositories: `-q` prints the registry's
/// digest for each, and `--metadata-file` holds the registry's manifest and config digests.
#[test]
fn push_command_of_one_and_several_tags_reports_what_the_registry_holds() {
    let _lock = build_lock();
    let dir = small_project("push-many");
    let repo = repository("push-many");
    let other = repository("push-many-other");
    let one = [format!("{repo}:one")];
    let several = [
        format!("{repo}:x"),
        format!("{other}:y"),
        format!("{repo}:z"),
    ];
    let _guard = ImageGuard::new(one.iter().chain(&several).cloned());
    let home = tempfile::tempdir().unwrap();
    let all: Vec<String> = one.iter().chain(&several).cloned().collect();
    build_tagged(dir.path(), home.path(), &all);
    for tags in [&one[..], &several[..]] {
        let meta = home.path().join("meta.json");
        let out = Outcome::of(
            push_command(home.path())
                .args(["-q", "--metadata-file"])
                .arg(&meta)
                .args(tags),
        )
        .success();
        assert_eq!(out.stdout, quiet_lines_from_registry(tags), "{out}");
        assert_metadata_from_registry(&meta, &repo, tags, &tags[0]);
    }
}

/// A unix socket in front of the sandbox engine that passes everything through, but cuts a
/// push's connection just before the engine's digest line (`TAG: digest: ...`) would reach the
/// client. Both image stores write that line only after the registry stored the manifest, so the
/// tag is in the registry while the client sees a broken stream.
struct CutBeforeDigest {
    dir: tempfile::TempDir,
    cuts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl CutBeforeDigest {
    fn start() -> Self {
        use std::os::unix::net::{UnixListener, UnixStream};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let engine = Sandbox::get()
            .docker_host()
            .strip_prefix("unix://")
            .expect("the sandbox engine listens on a unix socket")
            .to_owned();
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("engine.sock")).unwrap();
        let cuts = Arc::new(AtomicUsize::new(0));
        let counted = cuts.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { break };
                let mut upstream = UnixStream::connect(&engine).unwrap();
                let (mut client_out, mut upstream_in) =
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let is_push = Arc::new(AtomicBool::new(false));
                let seen_push = is_push.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n @ 1..) = std::io::Read::read(&mut client, &mut buf) {
                        if buf[..n].windows(6).any(|w| w == b"/push?") {
                            seen_push.store(true, Ordering::SeqCst);
                        }
                        if std::io::Write::write_all(&mut upstream, &buf[..n]).is_err() {
                            break;
                        }
                    }
                });
                let counted = counted.clone();
                std::thread::spawn(move || {
                    const MARK: &[u8] = b": digest: sha256:";
                    let mut tail: Vec<u8> = Vec::new();
                    let mut buf = [0u8; 16384];
                    while let Ok(n @ 1..) = std::io::Read::read(&mut upstream_in, &mut buf) {
                        tail.extend_from_slice(&buf[..n]);
                        if is_push.load(Ordering::SeqCst)
                            && tail.windows(MARK.len()).any(|w| w == MARK)
                        {
                            counted.fetch_add(1, Ordering::SeqCst);
                            let _ = client_out.shutdown(std::net::Shutdown::Both);
                            let _ = upstream_in.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                        if std::io::Write::write_all(&mut client_out, &buf[..n]).is_err() {
                            break;
                        }
                        tail.drain(..tail.len().saturating_sub(MARK.len()));
                    }
                    let _ = client_out.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Self { dir, cuts }
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.dir.path().join("engine.sock").display())
    }

    fn cuts(&self) -> usize {
        self.cuts.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The engine's push stream breaks after the manifest is stored, before the digest line: the
/// registry holds both tags, so both count as pushed, each with a warning naming the engine's
/// error, and `-q` and `--metadata-file` give the registry's digests. (A push that ended without
/// its digest line used to fail as "no tag was pushed" while the tags were in the registry.)
#[test]
fn a_stream_broken_after_the_manifest_counts_the_tags_the_registry_holds() {
    let _lock = build_lock();
    let dir = small_project("cut");
    let repo = repository("cut");
    let tags = [format!("{repo}:1"), format!("{repo}:2")];
    let _guard = ImageGuard::new(tags.iter().cloned());
    let home = tempfile::tempdir().unwrap();
    build_tagged(dir.path(), home.path(), &tags);
    let cutter = CutBeforeDigest::start();
    let meta = home.path().join("meta.json");
    let out = Outcome::of(
        push_command(home.path())
            .env("DOCKER_HOST", cutter.docker_host())
            .args(["-q", "--metadata-file"])
            .arg(&meta)
            .args(&tags),
    )
    .success();
    assert_eq!(cutter.cuts(), 2, "both streams were cut\n{out}");
    assert_eq!(out.stdout, quiet_lines_from_registry(&tags), "{out}");
    for tag in &tags {
        assert!(
            out.stderr.contains(&format!(
                "warning: the engine's push of {tag} ended with `lost the connection to the engine"
            )) && out
                .stderr
                .contains("but the registry holds this image at that tag"),
            "{out}"
        );
    }
    assert_metadata_from_registry(&meta, &repo, &tags, &tags[0]);
}

/// The push target's password passed as a build argument would sit in the image's history for
/// anyone who pulls it: the lint refuses it before anything is built, and nothing reaches the
/// registry.
#[test]
fn a_build_argument_holding_the_registry_password_is_refused_before_the_build() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nARG DEPLOY_TOKEN\nRUN echo sl006-{} > /marker\n",
            Sandbox::get().var("SANDBOX_BUSYBOX_IMAGE"),
            std::process::id()
        ),
    );
    let home = tempfile::tempdir().unwrap();
    let repo = repository("sl006-login");
    let reference = format!("{repo}:1");
    let password = registry_password(Sandbox::get()).trim().to_owned();
    let out = Outcome::of(
        build_push(dir.path(), home.path(), &[&reference])
            .args(["--build-arg", &format!("DEPLOY_TOKEN=x{password}")]),
    )
    .code(1);
    assert!(
        out.stderr.contains("[SL006 build-arg-secret]") && out.stderr.contains("DEPLOY_TOKEN"),
        "{out}"
    );
    assert!(!out.stderr.contains(&password), "{out}");
    assert!(!out.stdout.contains(&password), "{out}");
    assert!(!out.stderr.contains("Pushed"), "{out}");
    assert_eq!(registry_tags(&repo), Vec::<String>::new());
    assert!(!image_exists(&reference), "nothing was built or tagged");
}

/// Builds the project in `dir` as `tags[0]`, without pushing, and gives the image the other tags.
fn build_tagged(dir: &Path, home: &Path, tags: &[String]) {
    let sandbox = Sandbox::get();
    Outcome::of(
        shipimg(home)
            .env("DOCKER_HOST", sandbox.docker_host())
            .current_dir(dir)
            .args(["build", "-q", "-t", &tags[0]]),
    )
    .success();
    for tag in &tags[1..] {
        Outcome::of(sandbox.docker().args(["tag", &tags[0], tag])).success();
    }
}

/// `shipimg push` against the sandbox engine with the registry's login in the environment.
fn push_command(home: &Path) -> Command {
    let mut cmd = with_registry_login(home);
    cmd.arg("push");
    cmd
}

#[test]
fn push_command_pushes_a_local_image_with_a_docker_config_login() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let repo = repository("push-cmd");
    let reference = format!("{repo}:v1");
    let _guard = ImageGuard::new([reference.clone()]);
    Outcome::of(
        sandbox
            .docker()
            .args(["tag", sandbox.var("SANDBOX_BUSYBOX_IMAGE"), &reference]),
    )
    .success();
    let home = tempfile::tempdir().unwrap();
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        sandbox.var("SANDBOX_REGISTRY_USERNAME"),
        registry_password(sandbox)
    ));
    write(
        home.path(),
        ".docker/config.json",
        &format!(
            "{{\"auths\":{{\"http://{}\":{{\"auth\":\"{auth}\"}}}}}}",
            sandbox.var("SANDBOX_REGISTRY")
        ),
    );
    let out = Outcome::of(
        shipimg(home.path())
            .env("DOCKER_HOST", sandbox.docker_host())
            .args(["push", "--progress", "json", &reference]),
    )
    .success();
    let digest = registry_digest(&repo, "v1").unwrap();
    let events: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events.iter().any(|e| e["type"] == "push-started"
            && e["login_source"]
                .as_str()
                .unwrap()
                .contains("docker config")),
        "{out}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "push-result" && e["digest"] == digest.as_str()),
        "{out}"
    );
    assert!(!out.stdout.contains(&auth) && !out.stderr.contains(&registry_password(sandbox)));
}

#[test]
fn a_refused_login_fails_at_once_without_retrying() {
    let _lock = build_lock();
    let dir = small_project("denied");
    let repo = repository("denied");
    let tag = format!("{repo}:x");
    let _guard = ImageGuard::new([tag.clone()]);
    let home = tempfile::tempdir().unwrap();
    let wrong = "wrong-registry-canary-pass";
    let started = Instant::now();
    let out = Outcome::of(
        build_push(dir.path(), home.path(), &[&tag])
            .env("SHIPIMG_REGISTRY_PASSWORD", wrong)
            .args(["--progress", "plain", "--push-attempts", "5"]),
    )
    .code(1);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no backoff was waited"
    );
    assert!(
        !out.stderr.contains("attempt 2 of 5"),
        "a refused login is not retried\n{out}"
    );
    let error = out.error_line();
    assert!(
        error.starts_with(&format!(
            "error: the registry {} refused login `_json_key_base64` from SHIPIMG_REGISTRY_USERNAME/SHIPIMG_REGISTRY_PASSWORD for {tag}: ",
            Sandbox::get().var("SANDBOX_REGISTRY")
        )),
        "{out}"
    );
    assert!(error.ends_with("(no tag was pushed)"), "{out}");
    assert!(!out.stderr.contains(wrong), "{out}");
    assert_eq!(registry_digest(&repo, "x"), None);
}

#[test]
fn a_partial_push_fails_and_names_what_made_it() {
    let _lock = build_lock();
    let dir = small_project("partial");
    let repo = repository("partial");
    let good = format!("{repo}:ok");
    // Nothing listens on port 9: a registry that never answers.
    let bad = "127.0.0.1:9/shipimg-test/nowhere:x".to_owned();
    let _guard = ImageGuard::new([good.clone(), bad.clone()]);
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(build_push(dir.path(), home.path(), &[&good, &bad]).args([
        "--progress",
        "plain",
        "--push-attempts",
        "2",
        "--push-backoff-max",
        "0.2",
    ]))
    .code(1);
    let error = out.error_line();
    assert!(
        error.contains(&format!("could not push {bad} after 2 attempts")),
        "{out}"
    );
    assert!(
        error.ends_with(&format!("(pushed 1 of 2: {good})")),
        "{out}"
    );
    assert!(registry_digest(&repo, "ok").is_some());
}

/// Builds an image with one large layer, for pushes that take long enough to interrupt.
fn large_image(repo: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nRUN head -c 400000000 /dev/urandom > /large && echo {}\n",
            Sandbox::get().var("SANDBOX_BUSYBOX_IMAGE"),
            std::process::id()
        ),
    );
    (dir, format!("{repo}:large"))
}

/// Runs `cmd` with json progress, calling `on_event` for each event line until it returns
/// false; then waits for the exit.
fn watch_events(
    cmd: &mut Command,
    mut on_event: impl FnMut(&serde_json::Value) -> bool,
) -> (Option<i32>, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let err_thread =
        std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let mut watching = true;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if watching && let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) {
            watching = on_event(&event);
        }
    }
    let status = child.wait().unwrap();
    (status.code(), err_thread.join().unwrap())
}

/// The registry goes away in the middle of a large layer and stays away: the push is retried,
/// then fails with exit 1, and nothing half-done is reported as pushed.
#[test]
fn a_registry_that_stays_down_mid_layer_fails_after_retries() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let repo = repository("down");
    let (dir, tag) = large_image(&repo);
    let _guard = ImageGuard::new([tag.clone()]);
    let home = tempfile::tempdir().unwrap();
    let script = repo_root().join("fixtures/sandbox.sh");
    let mut stopped = false;
    let mut retried = false;
    let (code, stderr) = watch_events(
        build_push(dir.path(), home.path(), &[&tag]).args([
            "--progress",
            "json",
            "--push-attempts",
            "2",
            "--push-backoff-max",
            "1",
        ]),
        |event| {
            if !stopped
                && event["type"] == "push-layer"
                && event["status"] == "Pushing"
                && event["current"].as_u64().unwrap_or(0) > 0
            {
                Outcome::of(Command::new("bash").arg(&script).args(["registry", "stop"])).success();
                stopped = true;
            }
            retried |= event["type"] == "push-retry";
            true
        },
    );
    Outcome::of(
        Command::new("bash")
            .arg(&script)
            .args(["registry", "start"]),
    )
    .success();
    assert!(stopped, "the push never reached the large layer\n{stderr}");
    assert!(retried, "the push was not retried\n{stderr}");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("error: could not push {tag} after 2 attempts")),
        "{stderr}"
    );
    assert!(!stderr.contains("Pushed "), "{stderr}");
    let _ = sandbox;
}

/// The registry is down when the push starts and comes back while shipimg waits to retry: the
/// push completes, and the digest is the registry's.
#[test]
fn a_registry_back_during_the_backoff_lets_the_push_complete() {
    let _lock = build_lock();
    let dir = small_project("back");
    let repo = repository("back");
    let tag = format!("{repo}:1");
    let _guard = ImageGuard::new([tag.clone()]);
    let home = tempfile::tempdir().unwrap();
    let script = repo_root().join("fixtures/sandbox.sh");
    // Build first, so the outage only meets the push.
    Outcome::of(
        shipimg(home.path())
            .env("DOCKER_HOST", Sandbox::get().docker_host())
            .current_dir(dir.path())
            .args(["build", "-q", "-t", &tag]),
    )
    .success();
    Outcome::of(Command::new("bash").arg(&script).args(["registry", "stop"])).success();
    let mut restarted = false;
    let mut result = None;
    let mut push = push_command(home.path());
    push.args([
        "--progress",
        "json",
        "--push-attempts",
        "6",
        "--push-backoff-max",
        "3",
        &tag,
    ]);
    let (code, stderr) = watch_events(&mut push, |event| {
        if !restarted && event["type"] == "push-retry" {
            Outcome::of(
                Command::new("bash")
                    .arg(&script)
                    .args(["registry", "start"]),
            )
            .success();
            restarted = true;
        }
        if event["type"] == "push-result" {
            result = event["digest"].as_str().map(str::to_owned);
        }
        true
    });
    if !restarted {
        Outcome::of(
            Command::new("bash")
                .arg(&script)
                .args(["registry", "start"]),
        )
        .success();
    }
    assert!(restarted, "no retry was announced\n{stderr}");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(result, registry_digest(&repo, "1"), "{stderr}");
}

/// A credential helper named in `credHelpers` logs the push in; only it runs.
#[test]
fn push_with_a_credential_helper() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let registry = sandbox.var("SANDBOX_REGISTRY");
    let repo = repository("helper");
    let reference = format!("{repo}:h1");
    let _guard = ImageGuard::new([reference.clone()]);
    Outcome::of(
        sandbox
            .docker()
            .args(["tag", sandbox.var("SANDBOX_BUSYBOX_IMAGE"), &reference]),
    )
    .success();
    let helpers = tempfile::tempdir().unwrap();
    sandbox_credential_helper(helpers.path(), "shipimg-push", "");
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        ".docker/config.json",
        &format!(
            "{{\"credHelpers\":{{\"{registry}\":\"shipimg-push\",\"gcr.io\":\"not-installed\"}}}}"
        ),
    );
    let path = format!(
        "{}:{}",
        helpers.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = Outcome::of(
        shipimg(home.path())
            .env("DOCKER_HOST", sandbox.docker_host())
            .env("PATH", path)
            .args(["push", "--progress", "plain", &reference]),
    )
    .success();
    assert!(
        out.stderr
            .contains("login from credential helper docker-credential-shipimg-push"),
        "{out}"
    );
    assert!(registry_digest(&repo, "h1").is_some());
}

/// A step that copies its mounted secret into the image: the scan finds it, exit 3, nothing
/// reaches the registry, and the output never shows the value. `shipimg scan` says the same.
#[test]
fn a_leaky_image_is_never_pushed() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let dir = tempfile::tempdir().unwrap();
    let canary = format!("leak-canary-{}-value", std::process::id());
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nRUN --mount=type=secret,id=tok,required=true cp /run/secrets/tok /leaked && echo {}\n",
            sandbox.var("SANDBOX_BUSYBOX_IMAGE"),
            std::process::id()
        ),
    );
    write(dir.path(), "tok", &canary);
    let repo = repository("leak");
    let tag = format!("{repo}:1");
    let _guard = ImageGuard::new([tag.clone()]);
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(build_push(dir.path(), home.path(), &[&tag]).args([
        "--progress",
        "plain",
        "--secret",
        "id=tok,src=tok",
    ]))
    .code(3);
    assert!(
        out.stderr
            .contains(&format!("error: secret found in image `{tag}`")),
        "{out}"
    );
    assert!(
        out.stderr.contains("`leaked`") && out.stderr.contains("--secret tok"),
        "names the file and the secret\n{out}"
    );
    assert!(
        out.stderr
            .contains("made by `RUN cp /run/secrets/tok /leaked"),
        "names the step\n{out}"
    );
    assert!(
        !out.stderr.contains(&canary) && !out.stdout.contains(&canary),
        "{out}"
    );
    assert_eq!(registry_digest(&repo, "1"), None, "nothing was pushed");
    assert!(
        !image_exists(&tag),
        "the refused image is not tagged as the push target\n{out}"
    );

    // Built again without --push (from the cache), `shipimg scan` says the same.
    Outcome::of(
        shipimg(home.path())
            .env("DOCKER_HOST", sandbox.docker_host())
            .current_dir(dir.path())
            .args(["build", "-q", "--secret", "id=tok,src=tok", "-t", &tag]),
    )
    .success();
    let scan = Outcome::of(
        shipimg(home.path())
            .env("DOCKER_HOST", sandbox.docker_host())
            .env("LEAK", &canary)
            .args(["scan", &tag, "--secret-env", "LEAK"]),
    )
    .code(3);
    assert!(scan.stderr.contains("--secret-env LEAK"), "{scan}");
    let clean = Outcome::of(
        shipimg(home.path())
            .env("DOCKER_HOST", sandbox.docker_host())
            .env("OTHER", "not-in-the-image-at-all")
            .args([
                "scan",
                sandbox.var("SANDBOX_BUSYBOX_IMAGE"),
                "--secret-env",
                "OTHER",
            ]),
    )
    .success();
    assert!(clean.stderr.contains("no secret found"), "{clean}");
}

/// Ctrl-C while `build --push` scans the image: exit 130 at once, nothing in the registry.
/// (The build's own Ctrl-C handler used to leave the scan and the push deaf to it.)
#[test]
fn interrupt_during_the_scan_stops_at_once_and_pushes_nothing() {
    let sandbox = Sandbox::get();
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    // A 512 MiB layer: the scan takes seconds, time enough to interrupt it.
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nRUN head -c 536870912 /dev/urandom > /big-{}\n",
            sandbox.var("SANDBOX_BUSYBOX_IMAGE"),
            std::process::id()
        ),
    );
    let repo = repository("interrupt-scan");
    let tag = format!("{repo}:1");
    let _guard = ImageGuard::new([tag.clone()]);
    let _lock = build_lock();
    let mut child = build_push(dir.path(), home.path(), &[&tag])
        .args(["--progress", "plain"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    // The build is over when the engine has written the image (with --push it is tagged only
    // after the scan); the scan starts right after. The classic store's last export step is
    // `writing image sha256:...`, the containerd store's `unpacking to ...`.
    while !seen.lines().any(|l| {
        (l.contains("writing image") || l.contains("unpacking to")) && l.ends_with(" done")
    }) {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("shipimg ended before the scan\n{seen}");
        }
        seen.push_str(&line);
    }
    std::thread::sleep(Duration::from_millis(300));
    let interrupted = Instant::now();
    interrupt(&child);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    seen.push_str(&rest);
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(
        interrupted.elapsed() < Duration::from_secs(2),
        "took {:?} to stop\n{seen}",
        interrupted.elapsed()
    );
    assert!(
        seen.contains("error: interrupted during the leak scan: nothing was pushed"),
        "{seen}"
    );
    assert_eq!(
        registry_digest(&repo, "1"),
        None,
        "nothing reaches the registry"
    );
}

/// A netrc for a made-up index, with this password.
fn netrc_with(password: &str) -> String {
    format!("machine index.guard-paths.invalid login acme password {password}\n")
}

/// Unique to this test run, the same for every build in it: a second build hits the cache.
fn run_nonce() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}-{}", std::process::id(), now.as_nanos())
}

/// `build -t X` never scans, so `push X` must: with the netrc it finds in `~/.netrc`, as a build
/// would, it refuses the image (exit 3) and the registry gets no tag. `--no-scan` is the explicit
/// way through, and says so.
#[test]
fn push_scans_with_the_implicit_netrc_and_refuses_a_leaky_image() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let dir = one_step_project(&format!(
        "--mount=type=secret,id=netrc,target=/root/.netrc,required=true cp /root/.netrc /etc/x && echo guard-paths-push-{}",
        run_nonce()
    ));
    let password = format!("push-scan-canary-{}-pw", std::process::id());
    let home = tempfile::tempdir().unwrap();
    write(home.path(), ".netrc", &netrc_with(&password));
    let repo = repository("push-scan");
    let tag = format!("{repo}:1");
    let _guard = ImageGuard::new([tag.clone()]);
    Outcome::of(
        shipimg(home.path())
            .env("DOCKER_HOST", sandbox.docker_host())
            .current_dir(dir.path())
            .args(["build", "-q", "-t", &tag]),
    )
    .success();
    let push = || {
        let mut cmd = push_command(home.path());
        cmd.args(["--progress", "plain"]);
        cmd
    };
    let out = Outcome::of(push().arg(&tag)).code(3);
    assert!(
        out.stderr
            .contains(&format!("error: secret found in image `{tag}`")),
        "{out}"
    );
    assert!(
        out.stderr.contains("`etc/x`")
            && out
                .stderr
                .contains("netrc password for index.guard-paths.invalid"),
        "names the file and the secret\n{out}"
    );
    assert!(!out.stderr.contains(&password) && !out.stdout.contains(&password));
    assert_eq!(registry_tags(&repo), Vec::<String>::new(), "{out}");

    let out = Outcome::of(push().args(["--no-scan", &tag])).success();
    assert!(
        out.stderr
            .contains("warning: --no-scan: pushing without the leak scan"),
        "{out}"
    );
    assert_eq!(registry_tags(&repo), ["1"]);
}

/// A refused `build --push` leaves nothing a script could pick up: no tag under the push name
/// (it is set only after the scan), and no `--iidfile` or `--metadata-file`, not even the ones
/// an earlier run wrote.
#[test]
fn a_refused_build_push_leaves_no_tag_and_no_result_files() {
    let _lock = build_lock();
    let dir = one_step_project(&format!(
        "--mount=type=secret,id=tok,required=true cp /run/secrets/tok /leaked && echo guard-paths-files-{}",
        run_nonce()
    ));
    write(
        dir.path(),
        "tok",
        &format!("files-canary-{}-value", std::process::id()),
    );
    let repo = repository("refused-files");
    let tag = format!("{repo}:1");
    let _guard = ImageGuard::new([tag.clone()]);
    let home = tempfile::tempdir().unwrap();
    let iid = home.path().join("iid");
    let meta = home.path().join("meta.json");
    std::fs::write(&iid, "sha256:from-an-earlier-run").unwrap();
    std::fs::write(&meta, "{}").unwrap();
    let out = Outcome::of(
        build_push(dir.path(), home.path(), &[&tag])
            .args([
                "--progress",
                "plain",
                "--secret",
                "id=tok,src=tok",
                "--iidfile",
            ])
            .arg(&iid)
            .arg("--metadata-file")
            .arg(&meta),
    )
    .code(3);
    assert!(!image_exists(&tag), "{out}");
    assert!(!iid.exists() && !meta.exists(), "{out}");
    assert_eq!(registry_tags(&repo), Vec::<String>::new());
}

/// An earlier run's result files go before anything can refuse the run: a build the lint
/// refuses and a push that cannot reach the engine leave none behind for a script to read. The
/// engine address is one nothing answers at, so neither run got further than it says.
#[test]
fn an_early_refusal_leaves_no_earlier_result_files() {
    let dir = small_project("early-refusal");
    let home = tempfile::tempdir().unwrap();
    let iid = home.path().join("iid");
    let meta = home.path().join("meta.json");
    let earlier_run = || {
        std::fs::write(&iid, "sha256:from-an-earlier-run").unwrap();
        std::fs::write(&meta, "{}").unwrap();
    };
    let nowhere = "unix:///nonexistent/shipimg-test/docker.sock";

    earlier_run();
    let out = Outcome::of(
        shipimg(home.path())
            .current_dir(dir.path())
            .env("DOCKER_HOST", nowhere)
            .args(["build", "--progress", "plain", "-t", "shipimg-test/early:1"])
            .args([
                "--build-arg",
                "INDEX=https://user:early-pw@example.com/simple",
            ])
            .arg("--iidfile")
            .arg(&iid)
            .arg("--metadata-file")
            .arg(&meta),
    )
    .code(1);
    assert!(
        out.error_line().contains("[SL005 url-credentials]"),
        "{out}"
    );
    assert!(!iid.exists() && !meta.exists(), "{out}");

    earlier_run();
    let out = Outcome::of(
        shipimg(home.path())
            .env("DOCKER_HOST", nowhere)
            .args(["push", "--progress", "plain", "shipimg-test/early:1"])
            .arg("--metadata-file")
            .arg(&meta),
    )
    .code(1);
    assert!(
        out.error_line()
            .starts_with("error: cannot reach the Docker engine"),
        "{out}"
    );
    assert!(!meta.exists(), "{out}");
    assert!(
        iid.exists(),
        "push has no --iidfile: the file is not its to remove\n{out}"
    );
}

/// Builds the project in `dir` with `--push`, serving `netrc` as the index netrc from
/// SHIPIMG_NETRC.
fn build_push_with_netrc(dir: &Path, home: &Path, tag: &str, netrc: &str) -> Outcome {
    Outcome::of(
        build_push(dir, home, &[tag])
            .env("SHIPIMG_NETRC", netrc)
            .args(["--progress", "plain"]),
    )
}

/// Two builds of one project with two netrcs: the second gets the first's leaky layer from
/// BuildKit's cache (a secret is not part of a step's cache key) and holds only the second
/// password, yet is refused for what the first scan found; neither password reaches the
/// registry.
fn a_cached_leak_is_refused_again(what: &str, step: &str) {
    let _lock = build_lock();
    let dir = one_step_project(&format!(
        "--mount=type=secret,id=netrc,target=/root/.netrc,required=true {step} && echo guard-paths-{what}-{}",
        run_nonce()
    ));
    let repo = repository(what);
    let tag = format!("{repo}:1");
    let _guard = ImageGuard::new([tag.clone()]);
    // One machine: both builds share shipimg's cache directory.
    let home = tempfile::tempdir().unwrap();
    let passwords = [
        format!("first-{what}-{}-pw", std::process::id()),
        format!("second-{what}-{}-pw", std::process::id()),
    ];
    let first =
        build_push_with_netrc(dir.path(), home.path(), &tag, &netrc_with(&passwords[0])).code(3);
    assert!(first.stderr.contains("netrc password for"), "{first}");
    assert_eq!(registry_tags(&repo), Vec::<String>::new(), "{first}");

    let second =
        build_push_with_netrc(dir.path(), home.path(), &tag, &netrc_with(&passwords[1])).code(3);
    assert!(
        second.stderr.contains("CACHED"),
        "the step came from the cache\n{second}"
    );
    assert!(
        second.stderr.contains(&format!(
            "was refused by an earlier scan: {}",
            if what.contains("password") {
                "`etc/p`: secret `netrc password for index.guard-paths.invalid`"
            } else {
                "`etc/x`: secret `netrc password for index.guard-paths.invalid`"
            }
        )),
        "{second}"
    );
    for out in [&first, &second] {
        for password in &passwords {
            assert!(
                !out.stderr.contains(password) && !out.stdout.contains(password),
                "{out}"
            );
        }
    }
    assert_eq!(registry_tags(&repo), Vec::<String>::new(), "{second}");
    assert!(!image_exists(&tag));
}

#[test]
fn a_cached_layer_holding_an_earlier_netrc_is_refused_again() {
    a_cached_leak_is_refused_again("cached-netrc", "cp /root/.netrc /etc/x");
}

#[test]
fn a_cached_layer_holding_an_earlier_password_is_refused_again() {
    a_cached_leak_is_refused_again(
        "cached-password",
        "awk '/password/{print $NF}' /root/.netrc > /etc/p",
    );
}

/// A held secret as a tag, a label or a pushed name is refused before anything is built or
/// pushed: one line naming where it was given, never the value.
#[test]
fn a_secret_in_a_tag_or_label_stops_before_the_build() {
    let sandbox = Sandbox::get();
    let dir = small_project("secret-tag");
    let repo = repository("secret-tag");
    let password = format!("tagcanary{}x", std::process::id());
    let netrc = netrc_with(&password);
    let home = tempfile::tempdir().unwrap();
    let refused = |out: &Outcome, given_as: &str| {
        let errors: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(
            errors,
            [format!(
                "error: {given_as} holds a secret shipimg was given (not shown here)"
            )],
            "{out}"
        );
        assert!(out.stderr.contains("hint: "), "{out}");
        assert!(!out.stderr.contains(&password) && !out.stdout.contains(&password));
        assert!(
            !out.stderr.contains("exporting to image"),
            "no build\n{out}"
        );
    };
    let out = build_push_with_netrc(
        dir.path(),
        home.path(),
        &format!("{repo}:{password}"),
        &netrc,
    )
    .code(1);
    refused(&out, "a `-t` tag");
    let out = Outcome::of(
        build_push(dir.path(), home.path(), &[&format!("{repo}:ok")])
            .env("SHIPIMG_NETRC", &netrc)
            .args(["--label", &format!("built.by=ci-{password}")]),
    )
    .code(1);
    refused(&out, "a `--label` value");
    let out = Outcome::of(
        shipimg(home.path())
            .env("DOCKER_HOST", sandbox.docker_host())
            .env("SHIPIMG_NETRC", &netrc)
            .args(["push", &format!("{repo}:{password}")]),
    )
    .code(1);
    refused(&out, "an IMAGE argument");
    assert!(!registry_tags(&repo).contains(&password));
}
