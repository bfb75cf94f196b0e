//! The Engine API version, proven on the wire: a recording proxy in front of the sandbox engine
//! sees every request shipimg sends (its own and bollard's, upgrades included) carry
//! `/v{negotiated}/`, after one unversioned `GET /version`. Success alone would prove nothing:
//! an engine serves unversioned paths at its newest version, even with a floor of 1.44. Fake
//! engines whose range shipimg cannot speak get one line naming both ranges, and the fix.

#[path = "support/recording_proxy.rs"]
mod recording_proxy;

use std::path::Path;
use std::process::Command;

use shipimg::engine::version::{ApiVersion, SHIPIMG_API};

use crate::common::build_push;
use crate::common::{
    ImageGuard, Outcome, Sandbox, build_lock, busybox, shipimg, unique_image, write,
};
use crate::http_server::{Reply, TestServer};
use crate::registry::{registry_digest, repository};
use recording_proxy::RecordingProxy;

/// The one request that may go without a version: the negotiation.
const NEGOTIATION: &str = "GET /version HTTP/1.1";

/// The version shipimg should speak with the sandbox engine: its newest, capped at shipimg's.
/// Read from the engine directly, not through shipimg.
fn expected_version(sandbox: &Sandbox) -> ApiVersion {
    let version = sandbox.engine_get("/version");
    let newest = version["ApiVersion"].as_str().expect("ApiVersion");
    ApiVersion::parse(newest)
        .expect("a version")
        .min(SHIPIMG_API.max)
}

/// Asserts what one shipimg run sent: the negotiation first and only once, then every request
/// under `/v{version}/`; returns the versioned paths for the caller's own checks.
#[track_caller]
fn assert_versioned(
    what: &str,
    lines: &[String],
    version: ApiVersion,
    out: &Outcome,
) -> Vec<String> {
    assert_eq!(
        lines.first().map(String::as_str),
        Some(NEGOTIATION),
        "{what}: the negotiation comes first\n{lines:#?}\n{out}"
    );
    let prefix = format!("/v{version}/");
    let mut paths = Vec::new();
    for line in &lines[1..] {
        let path = line.split(' ').nth(1).unwrap_or_default();
        assert!(
            path.starts_with(&prefix),
            "{what}: `{line}` does not carry {prefix}\n{lines:#?}"
        );
        paths.push(path.to_owned());
    }
    paths
}

fn has(paths: &[String], start: &str) -> bool {
    paths.iter().any(|p| p.starts_with(start))
}

#[test]
fn every_request_carries_the_negotiated_version() {
    let sandbox = Sandbox::get();
    let version = expected_version(sandbox);
    let v = format!("/v{version}");
    let proxy = RecordingProxy::start(sandbox.engine_socket());
    let home = tempfile::tempdir().unwrap();
    // Each command's success is asserted after what it sent: the wire is checked even when a
    // command fails for a reason of its own.
    let run = |cmd: &mut Command| Outcome::of(cmd.env("DOCKER_HOST", proxy.docker_host()));

    // doctor: bollard's `/info`, our `/_ping`, and BuildKit's `/grpc` upgrade.
    let out = run(shipimg(home.path()).arg("doctor"));
    let paths = assert_versioned("doctor", &proxy.take_request_lines(), version, &out);
    for call in ["/info", "/_ping", "/grpc"] {
        assert!(
            has(&paths, &format!("{v}{call}")),
            "doctor: no {call}\n{paths:#?}"
        );
    }
    out.success();

    let _lock = build_lock();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("api-{}", std::process::id());
    let dockerfile = format!(
        "FROM {}\nCOPY . /ctx\nRUN echo {marker} > /marker\n",
        busybox()
    );
    write(dir.path(), "Dockerfile", &dockerfile);
    write(dir.path(), "app.txt", "synced over the session\n");

    // A build with the context over the session: `/session` upgraded, `/build` from it.
    let tag = unique_image("api-version");
    let _guard = ImageGuard::new([tag.clone()]);
    let out = run(shipimg(home.path()).current_dir(dir.path()).args([
        "build",
        "--progress",
        "plain",
        "-t",
        &tag,
    ]));
    let paths = assert_versioned("build", &proxy.take_request_lines(), version, &out);
    assert!(
        has(&paths, &format!("{v}/session")),
        "build: no session\n{paths:#?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with(&format!("{v}/build?")) && p.contains("remote=client-session")),
        "build: no file-sync build\n{paths:#?}"
    );
    out.success();

    // scan: the export on its own connection.
    let out = run(shipimg(home.path()).args(["scan", &tag]));
    let paths = assert_versioned("scan", &proxy.take_request_lines(), version, &out);
    assert!(
        has(&paths, &format!("{v}/images/get?")),
        "scan: no export\n{paths:#?}"
    );
    out.success();

    // build --push: build, scan, tag (bollard), push (ours).
    let repo = repository("api-version");
    let pushed = format!("{repo}:1");
    let _pushed_guard = ImageGuard::new([pushed.clone()]);
    let out = run(build_push(dir.path(), home.path(), &[&pushed]).args(["--progress", "plain"]));
    let paths = assert_versioned("build --push", &proxy.take_request_lines(), version, &out);
    for call in ["/session", "/build?", "/images/get?"] {
        assert!(
            has(&paths, &format!("{v}{call}")),
            "build --push: no {call}\n{paths:#?}"
        );
    }
    for (call, what) in [("/tag?", "bollard's tag"), ("/push?tag=1", "the push")] {
        assert!(
            paths
                .iter()
                .any(|p| p.starts_with(&format!("{v}/images/")) && p.contains(call)),
            "build --push: no {what}\n{paths:#?}"
        );
    }
    let out = out.success();
    assert!(
        registry_digest(&repo, "1").is_some(),
        "the push reached the registry\n{out}"
    );
}

/// A fake engine at `socket` that speaks API `min`-`max` and answers nothing else.
async fn fake_engine(socket: &Path, min: &str, max: &str) -> TestServer {
    let (min, max) = (min.to_owned(), max.to_owned());
    TestServer::start_unix(socket, move |request| match request.path.as_str() {
        "/_ping" => Reply::text(200, "OK").with_header("Api-Version", &max),
        "/version" => Reply::json(
            200,
            serde_json::json!({
                "Version": "0.0.0-fake",
                "ApiVersion": max,
                "MinAPIVersion": min,
                "Os": "linux",
                "Arch": "amd64",
            }),
        ),
        _ => Reply::json(
            400,
            serde_json::json!({"message": "a version this engine does not speak"}),
        ),
    })
    .await
}

/// Runs doctor, build and scan against a fake engine with this range and asserts each gives
/// exactly `error` and `hint`, exit 1, and sends nothing after the negotiation.
async fn assert_refused(min: &str, max: &str, error_range: &str, hint: &str) {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("engine.sock");
    let engine = fake_engine(&socket, min, max).await;
    let host = format!("unix://{}", socket.display());
    let project = tempfile::tempdir().unwrap();
    write(project.path(), "Dockerfile", "FROM scratch\n");
    let expected = format!(
        "error: the engine at {host} speaks API {error_range}, shipimg needs {SHIPIMG_API}\n  hint: {hint}\n"
    );
    for args in [
        &["doctor"][..],
        // Quiet: the plan summary it prints before connecting is not what is tested here.
        &["-q", "build", "-t", "shipimg-test/never:1"][..],
        &["scan", "shipimg-test/never:1"][..],
    ] {
        let mut cmd = shipimg(dir.path());
        cmd.env("DOCKER_HOST", &host)
            .current_dir(project.path())
            .args(args);
        let out = tokio::task::spawn_blocking(move || Outcome::of(&mut cmd))
            .await
            .unwrap()
            .code(1);
        assert_eq!(out.stderr, expected, "{args:?}\n{out}");
        assert!(out.stdout.is_empty(), "{args:?}\n{out}");
    }
    let paths: Vec<String> = engine.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths.iter().all(|p| p == "/version"),
        "nothing is sent once no version fits: {paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_older_than_shipimg_names_both_ranges_and_the_upgrade() {
    // Docker 18.06.
    assert_refused(
        "1.12",
        "1.38",
        "1.12-1.38",
        "upgrade Docker Engine to 18.09 or newer",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_whose_floor_is_above_shipimg_names_both_ranges_and_the_upgrade() {
    // An engine that has dropped every version this shipimg speaks.
    let min = format!("{}.{}", SHIPIMG_API.max.major, SHIPIMG_API.max.minor + 1);
    let max = format!("{}.{}", SHIPIMG_API.max.major, SHIPIMG_API.max.minor + 9);
    assert_refused(&min, &max, &format!("{min}-{max}"), "upgrade shipimg").await;
}
