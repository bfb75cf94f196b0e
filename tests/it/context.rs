//! `shipimg context`: the tar it writes is exactly what `build` sends. Its file list matches
//! what Docker 20.10's CLI (BuildKit on) puts in an image with `COPY . /ctx`, the reference
//! `src/context/ignore.rs` follows, on whichever engine the suite runs; credential files stay out
//! with one warning each; a Dockerfile that copies one is refused before anything runs.

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::{
    ImageGuard, Outcome, Sandbox, build_lock, image_paths_under_ctx, shipimg, unique_image,
};

/// Writes `files` (path -> content) under `root`, creating parents.
fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

/// The entries of a tar, as context-relative paths without a trailing `/`.
fn tar_paths(bytes: &[u8]) -> BTreeSet<String> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let path = entry.path_bytes().into_owned();
            String::from_utf8(path)
                .unwrap()
                .trim_end_matches('/')
                .to_owned()
        })
        .collect()
}

/// `shipimg context --output -` in `dir` with extra args; returns (tar bytes, outcome).
fn context_tar(dir: &Path, args: &[&str]) -> (Vec<u8>, Outcome) {
    let home = tempfile::tempdir().unwrap();
    let out = shipimg(home.path())
        .current_dir(dir)
        .args(["context", "--output", "-"])
        .args(args)
        .output()
        .unwrap();
    let outcome = Outcome {
        code: out.status.code(),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (out.stdout, outcome)
}

/// What Docker 20.10's CLI (BuildKit) copies with `COPY . /ctx`, as relative paths. Always that
/// CLI and its engine, even when the suite runs on the modern engine: the reference is 20.10's
/// file-sync walker, and newer ones (buildx 0.29's) apply `.dockerignore` exceptions differently
/// (`rough_edges_match_the_docker_cli`).
fn cli_copied_paths(sandbox: &Sandbox, dir: &Path, dockerfile: &str) -> BTreeSet<String> {
    let _lock = build_lock();
    let tag = unique_image("context-parity");
    let _guard = ImageGuard::legacy([tag.clone()]);
    Outcome::of(
        sandbox
            .legacy_docker()
            .current_dir(dir)
            .args(["build", "-q", "-f", dockerfile, "-t", &tag, "."]),
    )
    .success();
    image_paths_under_ctx(sandbox.legacy_docker(), &tag)
}

const TRICKY_IGNORE: &str = "\u{feff}# a comment, then Docker's rough edges\n\
    Dockerfile\n\
    *.md\n\
    !README.md\n\
    **/*.log\n\
    /build\n\
    docs/**/draft*\n\
    vendor\n\
    !vendor/keep/**\n\
    tmp?\n\
    [ab].txt\n\
    \\[literal\\].txt\n\
    ./cache/\n\
    \x20  spaced.txt   \n\
    src/gen/*\n\
    !src/gen/keep.py\n";

fn tricky_tree(root: &Path) {
    let dockerfile = format!(
        "FROM {}\nCOPY . /ctx\n",
        Sandbox::get().var("SANDBOX_BUSYBOX_IMAGE")
    );
    write_tree(
        root,
        &[
            ("Dockerfile", &dockerfile),
            (".dockerignore", TRICKY_IGNORE),
            ("README.md", "keep"),
            ("CHANGES.md", "root md: excluded"),
            ("src/notes.md", "kept: *.md does not cross /"),
            ("src/app.py", "kept"),
            ("src/debug.log", "excluded by **/*.log"),
            ("logs/x/y.log", "excluded"),
            ("app.log", "excluded: ** matches no directory too"),
            ("build/out.bin", "excluded: root-anchored"),
            ("src/build/keep.txt", "kept: /build is root only"),
            ("docs/a/draft1.txt", "excluded"),
            ("docs/a/b/draft2.txt", "excluded"),
            ("docs/a/final.txt", "kept"),
            ("vendor/lib.py", "excluded"),
            ("vendor/keep/k.py", "re-included"),
            ("vendor/keep/deep/k2.py", "re-included"),
            ("tmp1/x", "excluded dir"),
            ("tmp12/x", "kept: ? is one character"),
            ("a.txt", "excluded"),
            ("b.txt", "excluded"),
            ("c.txt", "kept"),
            ("[literal].txt", "excluded by escaped brackets"),
            ("l.txt", "kept"),
            ("cache/c", "excluded"),
            ("spaced.txt", "excluded: whitespace trimmed"),
            ("src/gen/a.py", "excluded"),
            ("src/gen/keep.py", "re-included"),
            ("sub/build.Dockerfile", &dockerfile),
            (
                "sub/build.Dockerfile.dockerignore",
                "*\n!src\nsrc/app.py\n!sub/build.Dockerfile\n",
            ),
        ],
    );
}

#[test]
fn context_tar_matches_the_docker_cli_file_list() {
    let sandbox = Sandbox::get();
    let dir = tempfile::tempdir().unwrap();
    tricky_tree(dir.path());

    let cli = cli_copied_paths(sandbox, dir.path(), "Dockerfile");
    let (tar, out) = context_tar(dir.path(), &[]);
    assert_eq!(out.code, Some(0), "{out}");
    let mut ours = tar_paths(&tar);
    // The Dockerfile is listed in .dockerignore: docker sends it for the build but COPY cannot
    // see it. Everything else must agree entry for entry.
    assert!(ours.remove("Dockerfile"), "the Dockerfile is always sent");
    assert_eq!(ours, cli, "shipimg's context differs from the docker CLI's");
    // And the list is the one Docker's rules give, not merely the same mistake twice.
    for kept in [
        "README.md",
        "src/notes.md",
        "src/build/keep.txt",
        "vendor/keep/deep/k2.py",
    ] {
        assert!(cli.contains(kept), "{kept} should be sent: {cli:?}");
    }
    for gone in [
        "CHANGES.md",
        "app.log",
        "build",
        "vendor/lib.py",
        "tmp1",
        "a.txt",
    ] {
        assert!(!cli.contains(gone), "{gone} should not be sent: {cli:?}");
    }
}

#[test]
fn dockerfile_specific_ignore_file_replaces_the_root_one() {
    let sandbox = Sandbox::get();
    let dir = tempfile::tempdir().unwrap();
    tricky_tree(dir.path());

    let cli = cli_copied_paths(sandbox, dir.path(), "sub/build.Dockerfile");
    let (tar, out) = context_tar(dir.path(), &["-f", "sub/build.Dockerfile"]);
    assert_eq!(out.code, Some(0), "{out}");
    let ours = tar_paths(&tar);
    assert_eq!(ours, cli);
    assert!(
        ours.contains("src/notes.md") && !ours.contains("src/app.py"),
        "{ours:?}"
    );
}

/// Every kind the guard knows, beside look-alikes it must leave alone.
#[test]
fn credential_files_are_left_out_with_one_warning_each() {
    let dir = tempfile::tempdir().unwrap();
    let rsa_key = crate::common::pem_key("RSA ");
    let sa_key = format!(
        "{{\"type\": \"service_account\", \"private_key\": \"{}\"}}",
        crate::common::pem_key("").replace('\n', "\\n")
    );
    let docker = format!(
        "{{\"auths\": {{\"europe-docker.pkg.dev\": {{\"auth\": \"{}\"}}}}}}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "_json_key_base64:Zq8xT2pLw9vRk3"
        )
    );
    let credentials = [
        (".netrc", "machine x login u password canary-netrc"),
        ("deploy/_netrc", "machine x login u password p"),
        (".pypirc", "[pypi]\npassword = p"),
        (
            "pip.conf",
            "[global]\nindex-url = https://u:canary@pypi.example/simple",
        ),
        (".npmrc", "//registry.npmjs.org/:_authToken=canary"),
        (".docker/config.json", "{\"auths\":{}}"),
        (".git-credentials", "https://u:p@github.com"),
        ("gha-creds-1a2b3c.json", "{}"),
        ("keys/sa.json", sa_key.as_str()),
        ("certs/tls.pem", rsa_key.as_str()),
        // By what they hold, whatever they are called.
        ("netrc", "machine idx login acme password Zq8xT2pLw9vR"),
        ("pip-netrc", "machine idx login acme password Zq8xT2pLw9vR"),
        (".netrc.bak", "machine idx login acme password Zq8xT2pLw9vR"),
        ("creds.txt", "default login acme password Zq8xT2pLw9vR"),
        ("docker-auth.json", docker.as_str()),
        ("sa-key.json.bak", sa_key.as_str()),
        ("prod.env", "DEBUG=0\nDB_PASSWORD=Zq8xT2pLw9vRk3\n"),
        ("id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\n"),
        (".env", "API_KEY=canary"),
    ];
    let clean = [
        ("Dockerfile", "FROM scratch\nCOPY . /\n"),
        (
            "pip-clean/pip.conf",
            "[global]\nindex-url = https://pypi.example/simple",
        ),
        ("certs/ca.pem", "-----BEGIN CERTIFICATE-----\n"),
        ("package.json", "{\"name\": \"x\"}"),
        (".env.example", "API_KEY="),
        ("id_ed25519.pub", "ssh-ed25519 AAAA"),
        // Test keys and examples as packages document them.
        (
            "docs/keys.md",
            "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n",
        ),
        (
            "app/urls.py",
            "PROXY = 'http://username:password@host.com:80/'\n",
        ),
    ];
    write_tree(dir.path(), &credentials);
    write_tree(dir.path(), &clean);

    let (tar, out) = context_tar(dir.path(), &[]);
    assert_eq!(out.code, Some(0), "{out}");
    let paths = tar_paths(&tar);
    for (path, _) in clean {
        assert!(
            paths.contains(path),
            "{path} is not a credential: {paths:?}"
        );
    }
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), credentials.len(), "{out}");
    for (path, _) in credentials {
        assert!(!paths.contains(path), "{path} must be left out: {paths:?}");
        let line = format!("warning: left `{path}` out of the build context: ");
        assert!(
            warnings.iter().any(|w| w.starts_with(&line)),
            "no warning for {path}\n{out}"
        );
    }
    assert!(!String::from_utf8_lossy(&tar).contains("canary"));

    // Opting one back in sends it, and only it.
    let (tar, out) = context_tar(dir.path(), &["--allow-context-file", ".env"]);
    assert_eq!(out.code, Some(0), "{out}");
    let paths = tar_paths(&tar);
    assert!(
        paths.contains(".env") && !paths.contains(".netrc"),
        "{paths:?}"
    );
}

#[test]
fn copying_a_netrc_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[(
            "Dockerfile",
            "FROM python:3.11-slim AS build\nWORKDIR /app\n# the recipe's own line:\nCOPY .netrc /root/.netrc\nRUN pip install .\n",
        )],
    );
    let output = dir.path().join("ctx.tar");
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        shipimg(home.path())
            .current_dir(dir.path())
            .args(["context", "--output"])
            .arg(&output),
    )
    .code(1);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "error: Dockerfile:4: [SL001 copy-credential-final] `COPY .netrc /root/.netrc` copies `.netrc` into the final image: a netrc file holds passwords",
            "  hint: mount it only for the step that needs it: `RUN --mount=type=secret,id=netrc,target=/root/.netrc ...`; shipimg serves the netrc as secret `netrc`",
        ],
        "{out}"
    );
    assert!(!output.exists(), "nothing half-done is left behind");
}

/// `shipimg context` shows the context `build` would stage: the Dockerfile comes from `-f`, else
/// `SHIPIMG_DOCKERFILE`, else the project config, as for `build`.
#[test]
fn context_takes_the_dockerfile_from_the_environment_and_the_config_like_build() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("Dockerfile", "FROM scratch\nCOPY app.py /\n"),
            ("app.py", "x"),
            (
                "docker/Dockerfile",
                "FROM scratch\nCOPY .netrc /root/.netrc\n",
            ),
            (
                "env.Dockerfile",
                "FROM scratch\nCOPY .netrc /home/app/.netrc\n",
            ),
            (
                "pyproject.toml",
                "[project]\nname = \"svc\"\nversion = \"1\"\n\n[tool.shipimg]\ndockerfile = \"docker/Dockerfile\"\n",
            ),
        ],
    );
    let home = tempfile::tempdir().unwrap();
    let context = || {
        let mut cmd = shipimg(home.path());
        cmd.current_dir(dir.path()).arg("context");
        cmd
    };
    let first_line = |out: &Outcome| out.stderr.lines().next().unwrap_or_default().to_owned();
    // The config's Dockerfile copies a netrc: refused, and named.
    let out = Outcome::of(&mut context()).code(1);
    assert!(
        first_line(&out).starts_with(
            "error: Dockerfile:2: [SL001 copy-credential-final] `COPY .netrc /root/.netrc`"
        ),
        "{out}"
    );
    // The environment beats the config.
    let out = Outcome::of(context().env("SHIPIMG_DOCKERFILE", "env.Dockerfile")).code(1);
    assert!(
        first_line(&out).contains("`COPY .netrc /home/app/.netrc`"),
        "{out}"
    );
    // And `-f` beats both: the clean Dockerfile stages the context.
    let out = Outcome::of(
        context()
            .env("SHIPIMG_DOCKERFILE", "env.Dockerfile")
            .args(["-f", "Dockerfile"]),
    )
    .success();
    assert!(
        out.stdout
            .starts_with("5 files, 1 directories, 0 symlinks,"),
        "{out}"
    );
}

#[test]
fn invalid_ignore_pattern_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("Dockerfile", "FROM scratch\n"),
            (".dockerignore", "ok\n\n!\n"),
        ],
    );
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(shipimg(home.path()).current_dir(dir.path()).arg("context")).code(1);
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("error: ") && first.contains(".dockerignore"),
        "{out}"
    );
    assert!(first.contains("line 3"), "{out}");
}

#[test]
fn tar_entries_are_what_docker_sends() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let long = format!("{}/{}.txt", "d".repeat(80), "f".repeat(90));
    write_tree(
        root,
        &[
            ("Dockerfile", "FROM scratch\n"),
            ("run.sh", "#!/bin/sh\n"),
            (&long, "long"),
        ],
    );
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::os::unix::fs::symlink("run.sh", root.join("link")).unwrap();
    std::os::unix::fs::symlink("/nowhere/at/all", root.join("dangling")).unwrap();
    std::fs::hard_link(root.join("run.sh"), root.join("hard.sh")).unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(root.join(odd), "latin-1 name").unwrap();
    let fifo = root.join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );

    let (tar, out) = context_tar(root, &[]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.starts_with("warning:"))
            .collect::<Vec<_>>(),
        ["warning: skipped `pipe`: a FIFO cannot be part of a build context"],
        "{out}"
    );
    let mut archive = tar::Archive::new(&tar[..]);
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let path = entry.path_bytes().into_owned();
        assert_eq!(header.uid().unwrap(), 0);
        assert_eq!(header.gid().unwrap(), 0);
        match &path[..] {
            // `hard.sh` comes first in byte order, so it carries the data and `run.sh` links
            // to it, as docker's archive does.
            b"hard.sh" => {
                assert!(header.entry_type().is_file());
                assert_eq!(header.mode().unwrap(), 0o4755);
            }
            b"run.sh" => {
                assert!(header.entry_type().is_hard_link());
                assert_eq!(entry.link_name_bytes().unwrap().as_ref(), b"hard.sh");
            }
            b"link" => {
                assert!(header.entry_type().is_symlink());
                assert_eq!(entry.link_name_bytes().unwrap().as_ref(), b"run.sh");
            }
            b"dangling" => assert!(header.entry_type().is_symlink()),
            p if p == long.as_bytes() => {
                let mut text = String::new();
                entry.read_to_string(&mut text).unwrap();
                assert_eq!(text, "long");
            }
            _ => {}
        }
        seen.push(path);
    }
    // Byte order, a directory before its children.
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen[0], b"Dockerfile");
    assert!(
        seen.contains(&b"caf\xe9.txt".to_vec()),
        "non-UTF-8 name kept"
    );
    assert!(seen.contains(&long.as_bytes().to_vec()), "long name kept");
    assert_eq!(seen.len(), sorted.len());

    // Deterministic: the same tree gives the same bytes.
    let (again, _) = context_tar(root, &[]);
    assert_eq!(tar, again);
}

#[test]
fn dockerfile_outside_the_context_is_sent_under_a_generated_name() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("ctx/app.py", "x"),
            ("build/Dockerfile", "FROM scratch\nCOPY app.py /\n"),
        ],
    );
    let (tar, out) = context_tar(dir.path(), &["ctx", "-f", "build/Dockerfile"]);
    assert_eq!(out.code, Some(0), "{out}");
    let paths = tar_paths(&tar);
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(paths.contains("app.py"));
    assert!(
        paths.iter().any(|p| p.starts_with(".dockerfile.")),
        "{paths:?}"
    );
}

#[test]
fn summary_names_sizes_and_what_was_left_out() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("Dockerfile", "FROM scratch\n"),
            ("data/big.bin", &"x".repeat(3000)),
            ("data/small.bin", "y"),
            (".netrc", "machine m login l password p"),
        ],
    );
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(shipimg(home.path()).current_dir(dir.path()).arg("context")).success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0], "3 files, 1 directories, 0 symlinks, 2.9 KiB (3014 bytes)",
        "{out}"
    );
    assert_eq!(lines[1], "largest files:");
    assert_eq!(lines[2].trim(), "2.9 KiB  data/big.bin");
    assert!(
        out.stdout.contains(
            "left out by the credential guard:\n  .netrc  (a netrc file holds passwords)"
        ),
        "{out}"
    );
}

/// The rough edges users report (docker/cli#2919, moby/moby#30018): an exception under `*`
/// re-includes only what docker's prefix rule walks into, and an excluded directory that an
/// exception names is sent even when nothing below it comes back. shipimg does what Docker
/// 20.10's CLI does, surprises included. (buildx 0.29 on Docker 28 walks into `src/sub/` and
/// `lib/` and does not send `vendor/`: this test pins the 20.10 reference on every engine.)
#[test]
fn rough_edges_match_the_docker_cli() {
    let sandbox = Sandbox::get();
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = format!(
        "FROM {}\nCOPY . /ctx\n",
        sandbox.var("SANDBOX_BUSYBOX_IMAGE")
    );
    write_tree(
        dir.path(),
        &[
            ("Dockerfile", &dockerfile),
            (
                ".dockerignore",
                "*\n!**/*.py\n!src/**/*.txt\n!vendor/keep/**\n",
            ),
            ("a.py", "top-level: re-included"),
            (
                "src/b.py",
                "re-included: `!src/**/*.txt` opens src/, then **/*.py matches",
            ),
            ("src/c.txt", "re-included"),
            (
                "src/sub/d.txt",
                "not walked into: src/sub/ is no prefix of any exception",
            ),
            (
                "lib/e.py",
                "not walked into: **/*.py/ does not start with lib/",
            ),
            ("vendor/x.bin", "excluded, but vendor/ itself is sent"),
        ],
    );
    let cli = cli_copied_paths(sandbox, dir.path(), "Dockerfile");
    let (tar, out) = context_tar(dir.path(), &[]);
    assert_eq!(out.code, Some(0), "{out}");
    let mut ours = tar_paths(&tar);
    assert!(ours.remove("Dockerfile"));
    assert!(ours.remove(".dockerignore"));
    assert_eq!(ours, cli);
    for kept in ["a.py", "src/b.py", "src/c.txt", "vendor"] {
        assert!(cli.contains(kept), "{kept}: {cli:?}");
    }
    for gone in ["src/sub", "lib", "lib/e.py", "vendor/x.bin"] {
        assert!(!cli.contains(gone), "{gone}: {cli:?}");
    }
}
