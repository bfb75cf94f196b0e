//! `shipimg doctor` against the sandbox engine, a docker context, and addresses where nothing
//! answers.

use std::net::TcpListener;

use crate::common::{Outcome, Sandbox, shipimg};

/// What the engine's own CLI says about it: the version, its API version and minimum, and the
/// storage driver (overlay2 on 20.10, the overlayfs snapshotter on the containerd store).
struct EngineFacts {
    version: String,
    api: String,
    min_api: String,
    driver: String,
}

fn engine_facts(sandbox: &Sandbox) -> EngineFacts {
    let version = Outcome::of(sandbox.docker().args([
        "version",
        "--format",
        "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}",
    ]))
    .success();
    let mut fields = version.stdout.split_whitespace().map(str::to_owned);
    let mut next = || fields.next().expect("docker version prints three fields");
    let (version, api, min_api) = (next(), next(), next());
    let driver = Outcome::of(sandbox.docker().args(["info", "--format", "{{.Driver}}"]))
        .success()
        .stdout
        .trim()
        .to_owned();
    EngineFacts {
        version,
        api,
        min_api,
        driver,
    }
}

#[test]
fn doctor_reports_the_sandbox_engine() {
    let sandbox = Sandbox::get();
    let engine = engine_facts(sandbox);
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        shipimg(home.path())
            .arg("doctor")
            .env("DOCKER_HOST", sandbox.docker_host()),
    )
    .success();
    let expect = [
        format!("engine    {} (from DOCKER_HOST)", sandbox.docker_host()),
        format!("version   {}", engine.version),
        format!("api       {} (minimum {})", engine.api, engine.min_api),
        "os/arch   linux/".to_owned(),
        format!("storage   {}", engine.driver),
        "buildkit  available (default builder: ".to_owned(),
    ];
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), expect.len(), "{out}");
    for (line, want) in lines.iter().zip(&expect) {
        assert!(
            line.starts_with(want.as_str()),
            "line {line:?} should start with {want:?}\n{out}"
        );
    }
    assert!(
        out.stderr.is_empty(),
        "nothing for people on a clean run\n{out}"
    );
}

#[test]
fn doctor_json_is_machine_readable() {
    let sandbox = Sandbox::get();
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        shipimg(home.path())
            .args(["doctor", "--format", "json"])
            .env("DOCKER_HOST", sandbox.docker_host()),
    )
    .success();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("doctor json");
    assert_eq!(report["api_version"], engine_facts(sandbox).api.as_str());
    assert_eq!(report["os"], "linux");
    assert_eq!(report["buildkit_available"], true);
    assert_eq!(report["address"], sandbox.docker_host());
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
