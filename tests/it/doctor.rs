//! `shipimg doctor` against the sandbox engine (whichever `fixtures/sandbox.sh env` selects,
//! checked against what the engine itself says), a docker context, and addresses where nothing
//! answers.

use std::net::TcpListener;
use std::process::Command;

use shipimg::engine::version::{ApiVersion, SHIPIMG_API};

use crate::common::{Outcome, Sandbox, shipimg};

/// What doctor should say about the sandbox engine, from the engine's own `/version` and
/// `/info` (asked directly, not through shipimg), so the test holds on either sandbox engine.
struct EngineFacts {
    version: String,
    os_arch: String,
    min_api: String,
    max_api: String,
    in_use: ApiVersion,
    store: String,
    storage_driver: String,
}

fn engine_facts(sandbox: &Sandbox) -> EngineFacts {
    let version = sandbox.engine_get("/version");
    let info = sandbox.engine_get("/info");
    let text = |v: &serde_json::Value| v.as_str().expect("a string").to_owned();
    let max_api = text(&version["ApiVersion"]);
    let containerd = info["DriverStatus"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|pair| pair[0] == "driver-type" && pair[1] == "io.containerd.snapshotter.v1");
    EngineFacts {
        version: text(&version["Version"]),
        os_arch: format!("{}/{}", text(&version["Os"]), text(&version["Arch"])),
        min_api: text(&version["MinAPIVersion"]),
        in_use: ApiVersion::parse(&max_api).unwrap().min(SHIPIMG_API.max),
        max_api,
        store: if containerd { "containerd" } else { "classic" }.to_owned(),
        storage_driver: text(&info["Driver"]),
    }
}

/// BuildKit's version as buildx's docker driver reads it from the same engine, when the sandbox
/// has buildx.
fn buildx_buildkit_version(sandbox: &Sandbox) -> Option<String> {
    let buildx = sandbox.optional_var("SANDBOX_BUILDX")?;
    let config = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        Command::new(buildx)
            .arg("inspect")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", config.path())
            .env("DOCKER_CONFIG", config.path())
            .env("DOCKER_HOST", sandbox.docker_host()),
    )
    .success();
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("BuildKit version:"))
        .map(|v| v.trim().to_owned())
}

/// Docker 20.10 is the engine whose BuildKit (0.8) predates Control `Info`, and the one whose
/// concurrent builds can crash it.
fn is_docker_20_10(facts: &EngineFacts) -> bool {
    facts.version.starts_with("20.10.")
}

#[test]
fn doctor_reports_the_sandbox_engine() {
    let sandbox = Sandbox::get();
    let facts = engine_facts(sandbox);
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        shipimg(home.path())
            .arg("doctor")
            .env("DOCKER_HOST", sandbox.docker_host()),
    )
    .success();
    let buildkit_version = if is_docker_20_10(&facts) {
        "not reported".to_owned()
    } else {
        buildx_buildkit_version(sandbox).unwrap_or_else(|| {
            let line = out.stdout.lines().last().unwrap_or_default();
            assert!(line.contains("version v"), "a version is reported\n{out}");
            line.split(' ').nth(4).unwrap_or_default().to_owned()
        })
    };
    let expect = [
        format!("engine    {} (from DOCKER_HOST)", sandbox.docker_host()),
        format!("version   {}", facts.version),
        format!(
            "api       {} in use (engine {}-{}, shipimg {SHIPIMG_API})",
            facts.in_use, facts.min_api, facts.max_api
        ),
        format!("os/arch   {}", facts.os_arch),
        format!("store     {} ({})", facts.store, facts.storage_driver),
        format!("buildkit  available, version {buildkit_version} (default builder: BuildKit)"),
    ];
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines, expect, "{out}");
    if is_docker_20_10(&facts) {
        assert_eq!(
            out.stderr.lines().collect::<Vec<_>>(),
            [
                "warning: Docker 20.10 can crash when concurrent builds share steps and one of \
                 them fails or is cancelled; run builds on this engine one at a time, or upgrade it"
            ],
            "{out}"
        );
    } else {
        assert!(
            out.stderr.is_empty(),
            "nothing for people on a clean run\n{out}"
        );
    }
}

#[test]
fn doctor_json_is_machine_readable() {
    let sandbox = Sandbox::get();
    let facts = engine_facts(sandbox);
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        shipimg(home.path())
            .args(["doctor", "--format", "json"])
            .env("DOCKER_HOST", sandbox.docker_host()),
    )
    .success();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("doctor json");
    assert_eq!(report["address"], sandbox.docker_host());
    assert_eq!(report["version"], facts.version.as_str());
    assert_eq!(report["api_version"], facts.max_api.as_str());
    assert_eq!(report["min_api_version"], facts.min_api.as_str());
    assert_eq!(report["api_version_in_use"], facts.in_use.to_string());
    assert_eq!(report["shipimg_api_version"], SHIPIMG_API.max.to_string());
    assert_eq!(
        report["shipimg_min_api_version"],
        SHIPIMG_API.min.to_string()
    );
    assert_eq!(report["image_store"], facts.store.as_str());
    assert_eq!(report["storage_driver"], facts.storage_driver.as_str());
    assert_eq!(report["os"], "linux");
    assert_eq!(report["buildkit_available"], true);
    if is_docker_20_10(&facts) {
        assert_eq!(report["buildkit_version"], serde_json::Value::Null, "{out}");
        assert_eq!(
            report["warnings"].as_array().map(Vec::len),
            Some(1),
            "{out}"
        );
    } else {
        assert!(report["buildkit_version"].is_string(), "{out}");
        assert_eq!(report["warnings"], serde_json::json!([]), "{out}");
    }
}

/// With no DOCKER_HOST, the docker config's current context decides, as with the docker CLI.
#[test]
fn doctor_follows_the_current_docker_context() {
    let sandbox = Sandbox::get();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join(".docker");
    // Let the real CLI write the context, so the layout is the CLI's and not our guess of it.
    Outcome::of(sandbox.docker().env("DOCKER_CONFIG", &config).args([
        "context",
        "create",
        "sandbox-ctx",
        "--docker",
        &format!("host={}", sandbox.docker_host()),
    ]))
    .success();
    Outcome::of(sandbox.docker().env("DOCKER_CONFIG", &config).args([
        "context",
        "use",
        "sandbox-ctx",
    ]))
    .success();

    let out = Outcome::of(shipimg(home.path()).arg("doctor")).success();
    assert!(
        out.stdout.starts_with(&format!(
            "engine    {} (from docker context `sandbox-ctx`)",
            sandbox.docker_host()
        )),
        "{out}"
    );
}

#[test]
fn doctor_names_a_missing_socket_and_hints() {
    let home = tempfile::tempdir().unwrap();
    let socket = home.path().join("nothing-here.sock");
    let host = format!("unix://{}", socket.display());
    let out = Outcome::of(shipimg(home.path()).arg("doctor").env("DOCKER_HOST", &host)).code(1);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            format!("error: cannot reach the Docker engine at {host} (no such socket)").as_str(),
            "  hint: is dockerd running, and is DOCKER_HOST (or the docker context) right?",
        ],
        "{out}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn doctor_names_a_refused_tcp_address() {
    // A port that was free a moment ago and has nothing listening now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = tempfile::tempdir().unwrap();
    let host = format!("tcp://127.0.0.1:{port}");
    let out = Outcome::of(shipimg(home.path()).arg("doctor").env("DOCKER_HOST", &host)).code(1);
    assert!(
        out.stderr.starts_with(&format!(
            "error: cannot reach the Docker engine at {host} (connection refused)\n  hint: "
        )),
        "{out}"
    );
    assert!(!out.stderr.contains("panicked"), "{out}");
}

#[test]
fn doctor_rejects_a_malformed_docker_host() {
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        shipimg(home.path())
            .arg("doctor")
            .env("DOCKER_HOST", "/var/run/docker.sock"),
    )
    .code(1);
    assert!(
        out.stderr.starts_with(
            "error: invalid engine address `/var/run/docker.sock`: no scheme\n  hint: use `unix:///path/to/docker.sock`"
        ),
        "{out}"
    );
}
