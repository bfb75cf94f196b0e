//! Issue 14: the leak guard on a real dependency tree. The realtree fixture installs 108 pinned
//! wheels from PyPI (Twisted's test keys, botocore's example keys, google-auth's `private_key`
//! fields, documented `user:pass@` URLs, CA bundles) from the sandbox index. Its image must push;
//! and one real credential planted where it could hide among those packages must not, whichever
//! way it is planted. Each asserts on what reached the registry.

use std::path::Path;
use std::sync::OnceLock;

use crate::common::build_push;
use crate::common::{ImageGuard, Outcome, Sandbox, build_lock, repo_root, shipimg, write};
use crate::registry::{registry_digest, registry_tags, repository};

const SP: &str = "opt/venv/lib/python3.11/site-packages";

/// The realtree fixture image, built once per run by `shipimg build` (the netrc as a secret,
/// the index through `--index-url`) and kept in the engine for the next run's cache. The caller
/// holds [`build_lock`].
fn realtree_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let sandbox = Sandbox::get();
        let image = "shipimg-test/realtree:fixture".to_owned();
        let home = tempfile::tempdir().unwrap();
        Outcome::of(
            shipimg(home.path())
                .env("DOCKER_HOST", sandbox.docker_host())
                .arg("build")
                .arg(repo_root().join("fixtures/realtree"))
                .args(["-t", &image, "--network", "host", "--progress", "plain"])
                .args(["--netrc", sandbox.var("SANDBOX_NETRC")])
                .args(["--index-url", sandbox.var("SANDBOX_INDEX_URL")]),
        )
        .success();
        image
    })
}

/// `shipimg build --push` of a Dockerfile `FROM` the realtree image plus `steps`.
fn push_on_realtree(dir: &Path, steps: &str, tag: &str, extra: &[&str]) -> Outcome {
    write(
        dir,
        "Dockerfile",
        &format!("FROM {}\n{steps}", realtree_image()),
    );
    let home = tempfile::tempdir().unwrap();
    Outcome::of(
        build_push(dir, home.path(), &[tag])
            .args(["--progress", "plain"])
            .args(extra),
    )
}

/// The realtree image is clean: it pushes (exit 0) and the registry has it. Twisted's test
/// keys and the other third-party near misses are let through as notes, each naming the
/// package RECORD that vouches for it, and `--metadata-file` records them.
#[test]
fn a_real_dependency_tree_is_pushed_with_its_test_keys_as_notes() {
    let _lock = build_lock();
    let repo = repository("realtree-clean");
    let tag = format!("{repo}:1");
    let _guard = ImageGuard::new([tag.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let metadata = dir.path().join("metadata.json");
    let out = push_on_realtree(
        dir.path(),
        "LABEL test=realtree-clean\n",
        &tag,
        &["-v", "--metadata-file", metadata.to_str().unwrap()],
    )
    .success();
    assert_eq!(registry_tags(&repo), ["1"], "{out}");
    let server_pem = format!("`{SP}/twisted/test/server.pem`: ");
    let note = out
        .stderr
        .lines()
        .find(|l| l.starts_with("note: ") && l.contains(&server_pem))
        .unwrap_or_else(|| panic!("no note for twisted's server.pem\n{out}"));
    assert!(
        note.contains("rule `private-key`")
            && note.contains("third-party: `")
            && note.contains(".dist-info/RECORD` lists it"),
        "{note}"
    );
    assert!(
        out.stderr.contains("no secret found") && out.stderr.contains("in third-party packages"),
        "{out}"
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&metadata).unwrap()).unwrap();
    let allowed = metadata["shipimg.scan.allowed"].as_array().unwrap();
    assert!(
        allowed.iter().any(|n| {
            n["path"].as_str() == Some(&format!("{SP}/twisted/test/server.pem"))
                && n["rule"] == "private-key"
                && n["third_party"]
                    .as_str()
                    .is_some_and(|p| p.contains("twisted-"))
        }),
        "{metadata:#}"
    );
}

/// One real credential planted five ways among the packages: a netrc-shaped file inside a
/// package directory, a file its RECORD lists but changed (a new key over Twisted's test
/// key), a key written by a RUN step next to the test keys, a netrc with a forged RECORD
/// entry of the right hash, and the user's own project installed with `pip install` from its
/// directory (its build backend from the index, the netrc as a secret; its dist-info has a
/// `direct_url.json`) carrying a key in its code. Every one is found and named;
/// nothing reaches the registry.
#[test]
fn a_credential_planted_among_packages_never_reaches_the_registry() {
    let _lock = build_lock();
    let repo = repository("realtree-planted");
    let tag = format!("{repo}:1");
    let _guard = ImageGuard::new([tag.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let netrc = format!(
        "machine pypi.corp.example login deploy password Kp4vX9qLm2Rt{}",
        std::process::id()
    );
    // The user's project: a key embedded in its settings module (a whole-file key would be
    // left out of the context; an embedded one is sent, with a warning).
    write(
        dir.path(),
        "project/pyproject.toml",
        "[project]\nname = \"ownapp\"\nversion = \"1.0\"\n\n[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[tool.setuptools]\npackages = [\"ownapp\"]\n",
    );
    write(
        dir.path(),
        "project/ownapp/__init__.py",
        &format!(
            "SIGNING_KEY = \"\"\"{}\"\"\"\n",
            crate::common::pem_key("RSA ")
        ),
    );
    let py = "/opt/venv/bin/python";
    let twisted = format!("/{SP}/twisted/test");
    let steps = format!(
        r#"COPY project /src/project
RUN printf '{netrc}\n' > {twisted}/netrc-fixture
RUN {py} -c "from cryptography.hazmat.primitives.asymmetric import rsa; from cryptography.hazmat.primitives import serialization as s; k = rsa.generate_private_key(65537, 2048); open('{twisted}/server.pem', 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.TraditionalOpenSSL, s.NoEncryption()))"
RUN {py} -c "from cryptography.hazmat.primitives.asymmetric import ec; from cryptography.hazmat.primitives import serialization as s; k = ec.generate_private_key(ec.SECP256R1()); open('{twisted}/deploy.pem', 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))"
RUN printf '{netrc}\n' > {twisted}/forged.netrc && {py} -c "import hashlib, base64, glob; d = open('{twisted}/forged.netrc', 'rb').read(); h = base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode(); r = glob.glob('/{SP}/twisted-*.dist-info/RECORD')[0]; open(r, 'a').write('twisted/test/forged.netrc,sha256=%s,%d\n' % (h, len(d)))"
ARG PIP_INDEX_URL
RUN --mount=type=secret,id=netrc,target=/root/.netrc {py} -m pip install --no-deps /src/project
"#
    );
    let sandbox = Sandbox::get();
    let out = push_on_realtree(
        dir.path(),
        &steps,
        &tag,
        &[
            "--network",
            "host",
            "--netrc",
            sandbox.var("SANDBOX_NETRC"),
            "--index-url",
            sandbox.var("SANDBOX_INDEX_URL"),
        ],
    )
    .code(3);
    let finding = |path: &str, rule: &str| {
        let needle = format!("`{SP}/{path}`: ");
        out.stderr
            .lines()
            .find(|l| l.contains(&needle) && l.contains(&format!("rule `{rule}`")))
            .unwrap_or_else(|| panic!("no `{rule}` finding for {path}\n{out}"))
            .to_owned()
    };
    finding("twisted/test/netrc-fixture", "netrc");
    let changed = finding("twisted/test/server.pem", "private-key");
    assert!(
        changed.contains("lists it with another hash: changed after install"),
        "{changed}"
    );
    let planted = finding("twisted/test/deploy.pem", "private-key");
    assert!(planted.contains("no package lists it"), "{planted}");
    finding("twisted/test/forged.netrc", "netrc");
    let own = finding("ownapp/__init__.py", "private-key");
    assert!(
        own.contains("installed from a local path or VCS (direct_url.json)"),
        "{own}"
    );
    assert!(out.stderr.contains("error: secret found in image"), "{out}");
    assert_eq!(
        registry_digest(&repo, "1"),
        None,
        "nothing was pushed\n{out}"
    );
    assert!(registry_tags(&repo).is_empty());
}

/// `shipimg scan --explain` says, for a path, what the scan concluded and why; and an allow
/// list entry (a flag here) turns a finding into a note, so the image scans clean.
#[test]
fn explain_and_allow_a_known_file() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let image = crate::common::unique_image("realtree-allow");
    let _guard = ImageGuard::new([image.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let twisted = format!("/{SP}/twisted/test");
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nRUN cp {twisted}/server.pem /srv/fixture.pem\n",
            realtree_image()
        ),
    );
    let home = tempfile::tempdir().unwrap();
    let docker = || {
        let mut cmd = shipimg(home.path());
        cmd.env("DOCKER_HOST", sandbox.docker_host());
        cmd
    };
    Outcome::of(
        docker()
            .current_dir(dir.path())
            .args(["build", "-t", &image, "-q"]),
    )
    .success();
    let out = Outcome::of(
        docker()
            .args(["scan", &image, "--explain", "/srv/fixture.pem"])
            .args(["--explain", &format!("{twisted}/server.pem")]),
    )
    .code(3);
    let explained = |path: &str| {
        out.stderr
            .split(&format!("`{path}` in layer"))
            .nth(1)
            .unwrap_or_else(|| panic!("no explanation of {path}\n{out}"))
            .lines()
            .take_while(|l| !l.starts_with('`'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let fixture = explained("srv/fixture.pem");
    assert!(
        fixture.contains("evidence:  no package lists it"),
        "{fixture}"
    );
    assert!(
        fixture.contains("`private-key` (embedded, noisy)"),
        "{fixture}"
    );
    assert!(fixture.contains("verdict:   finding"), "{fixture}");
    let original = explained(&format!("{SP}/twisted/test/server.pem"));
    assert!(original.contains("evidence:  third-party: `"), "{original}");
    assert!(original.contains("verdict:   note"), "{original}");
    assert!(out.stderr.contains("--scan-allow PATH"), "{out}");

    let out = Outcome::of(docker().args(["scan", &image, "--scan-allow", "/srv/*.pem"])).success();
    assert!(
        out.stderr.lines().any(|l| l.starts_with("note: ")
            && l.contains("`srv/fixture.pem`")
            && l.contains("allowed by `/srv/*.pem`")),
        "{out}"
    );
}
