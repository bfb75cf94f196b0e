//! How users get shipimg: the wheel built from this checkout (its platform tag and version, and
//! the installed `shipimg` doing the README's job against the sandbox), the crate `cargo
//! package` makes, and the release scripts the release workflow runs (`check-version.sh`,
//! `checksums.sh`).

use std::path::Path;
use std::process::Command;

use crate::common::{ImageGuard, Outcome, Sandbox, build_lock, git_commit, repo_root, shipimg_at};
use crate::registry::{registry_digest, repository};
use crate::wheel::{InstalledWheel, built_wheel};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// This machine's glibc minor version (`getconf GNU_LIBC_VERSION` says `glibc 2.36`).
fn glibc_minor() -> u32 {
    let out = Outcome::of(Command::new("getconf").arg("GNU_LIBC_VERSION")).success();
    out.stdout
        .trim()
        .strip_prefix("glibc 2.")
        .and_then(|minor| minor.parse().ok())
        .unwrap_or_else(|| panic!("unexpected glibc version\n{out}"))
}

/// The `Version:` line of the wheel's `METADATA`, read by Python's own zip reader.
fn wheel_metadata_version(wheel: &Path) -> String {
    let script = "import sys, zipfile\n\
        z = zipfile.ZipFile(sys.argv[1])\n\
        [meta] = [n for n in z.namelist() if n.endswith('.dist-info/METADATA')]\n\
        print(next(l for l in z.read(meta).decode().splitlines() if l.startswith('Version: ')))";
    let out = Outcome::of(Command::new("python3").args(["-c", script]).arg(wheel)).success();
    out.stdout.trim().trim_start_matches("Version: ").to_owned()
}

#[test]
fn wheel_carries_the_crate_version_and_this_machines_manylinux_tag() {
    let wheel = built_wheel();
    let name = wheel.file_name().unwrap().to_str().unwrap();
    let arch = std::env::consts::ARCH;
    // shipimg-0.1.0-py3-none-manylinux_2_NN_x86_64.whl: any Python 3, no ABI, one platform.
    let glibc: u32 = name
        .strip_prefix(&format!("shipimg-{VERSION}-py3-none-manylinux_2_"))
        .and_then(|rest| rest.strip_suffix(&format!("_{arch}.whl")))
        .and_then(|minor| minor.parse().ok())
        .unwrap_or_else(|| panic!("unexpected wheel name {name}"));
    // maturin tags the oldest glibc whose symbols the binary uses: at most this machine's.
    assert!(
        (17..=glibc_minor()).contains(&glibc),
        "{name}: manylinux_2_{glibc} on glibc 2.{}",
        glibc_minor()
    );
    assert_eq!(wheel_metadata_version(wheel), VERSION, "{name}");
    // auditwheel reads the binary's glibc symbols and agrees with the name.
    let verdict = crate::wheel::auditwheel_show(wheel);
    assert!(
        verdict.contains(&format!(
            "consistent with the following platform tag: \"manylinux_2_{glibc}_{arch}\""
        )),
        "{verdict}"
    );
}

#[test]
fn installed_wheel_reports_its_version_and_the_sandbox_engine() {
    let sandbox = Sandbox::get();
    let installed = InstalledWheel::new(built_wheel());
    let home = tempfile::tempdir().unwrap();

    let out = Outcome::of(shipimg_at(&installed.shipimg(), home.path()).arg("--version")).success();
    assert_eq!(out.stdout.trim(), format!("shipimg {VERSION}"), "{out}");

    let out = Outcome::of(
        shipimg_at(&installed.shipimg(), home.path())
            .args(["doctor", "--format", "json"])
            .env("DOCKER_HOST", sandbox.docker_host()),
    )
    .success();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("doctor json");
    assert_eq!(report["address"], sandbox.docker_host(), "{out}");
    assert_eq!(
        report["version"],
        sandbox.engine_get("/version")["Version"],
        "{out}"
    );
    assert_eq!(report["buildkit_available"], true, "{out}");
}

/// The README's quick start with the installed wheel instead of `cargo run`: `shipimg build
/// --push --netrc $SANDBOX_NETRC` in the example project, logged in through the sandbox's docker
/// config. The copy is a git repository of its own so `{git_short_sha}` is known, and it pushes
/// to a repository of this test's own.
#[test]
fn installed_wheel_builds_and_pushes_the_example_as_the_readme_says() {
    let sandbox = Sandbox::get();
    let installed = InstalledWheel::new(built_wheel());
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("example");
    Outcome::of(
        Command::new("cp")
            .arg("-a")
            .arg(repo_root().join("fixtures/example"))
            .arg(&project),
    )
    .success();
    let short_sha = git_commit(&project);

    let repo = repository("wheel-example");
    let tags = [format!("{repo}:0.1.0"), format!("{repo}:{short_sha}")];
    let _guard = ImageGuard::new(tags.iter().cloned());
    let home = tempfile::tempdir().unwrap();
    let _lock = build_lock();
    let out = Outcome::of(
        shipimg_at(&installed.shipimg(), home.path())
            .current_dir(&project)
            .args(["build", "--push", "--netrc", sandbox.var("SANDBOX_NETRC")])
            .env("DOCKER_HOST", sandbox.docker_host())
            .env("DOCKER_CONFIG", sandbox.var("DOCKER_CONFIG"))
            .env("SHIPIMG_IMAGE", &repo)
            .env("SHIPIMG_INDEX_URLS", sandbox.var("SANDBOX_INDEX_URL")),
    )
    .success();

    let digest = registry_digest(&repo, "0.1.0")
        .unwrap_or_else(|| panic!("{repo}:0.1.0 is not in the registry\n{out}"));
    assert_eq!(
        registry_digest(&repo, &short_sha).as_deref(),
        Some(digest.as_str()),
        "both tags name one image\n{out}"
    );
    for tag in &tags {
        assert!(
            out.stderr.contains(&format!("Pushed {tag}@{digest}")),
            "{out}"
        );
    }
}

#[test]
fn crate_package_leaves_out_fixtures_bench_and_fuzz() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Outcome::of(
        Command::new(cargo)
            .args(["package", "--list", "--allow-dirty", "--offline"])
            .current_dir(repo_root()),
    )
    .success();
    let files: Vec<&str> = out.stdout.lines().collect();
    let left_in: Vec<&&str> = files
        .iter()
        .filter(|f| {
            ["fixtures/", "tests/fixtures/", "bench/", "fuzz/", "target/"]
                .iter()
                .any(|d| f.starts_with(d))
        })
        .collect();
    assert!(left_in.is_empty(), "packaged: {left_in:?}");
    // What the build needs: the `include_str!`ed templates, the lock file, licence and readme.
    for needed in [
        "Cargo.lock",
        "LICENSE",
        "README.md",
        "src/main.rs",
        "src/init/templates/dockerignore",
        "src/init/templates/poetry.Dockerfile",
    ] {
        assert!(files.contains(&needed), "{needed} is not packaged\n{out}");
    }
}

#[test]
fn check_version_accepts_the_crate_version_tag_and_refuses_another() {
    let script = repo_root().join("scripts/check-version.sh");
    Outcome::of(Command::new("bash").arg(&script).arg(format!("v{VERSION}"))).success();
    Outcome::of(
        Command::new("bash")
            .arg(&script)
            .arg(format!("refs/tags/v{VERSION}")),
    )
    .success();

    let out = Outcome::of(Command::new("bash").arg(&script).arg("v999.0.0")).code(1);
    assert_eq!(
        out.stderr.lines().collect::<Vec<_>>(),
        [
            format!("error: tag `v999.0.0` does not match the crate version `{VERSION}`"),
            format!(
                "hint: tag the release `v{VERSION}`, or set `version = \"999.0.0\"` in \
                 Cargo.toml and commit it before tagging"
            ),
        ],
        "{out}"
    );
}

#[test]
fn checksums_lists_every_artifact_sorted_and_sha256sum_verifies_them() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = [
        ("shipimg-x86_64-unknown-linux-gnu.tar.gz", &b"binary"[..]),
        ("shipimg-0.1.0.tar.gz", b"sdist"),
        ("shipimg-0.1.0-py3-none-manylinux_2_17_x86_64.whl", b"wheel"),
    ];
    for (name, bytes) in artifacts {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let script = repo_root().join("scripts/checksums.sh");
    Outcome::of(Command::new("bash").arg(&script).arg(dir.path())).success();
    // A second run (as after adding an artifact) does not list the sums themselves.
    Outcome::of(Command::new("bash").arg(&script).arg(dir.path())).success();

    let sums = std::fs::read_to_string(dir.path().join("SHA256SUMS")).unwrap();
    let names: Vec<&str> = sums.lines().map(|l| &l[66..]).collect();
    let mut sorted: Vec<&str> = artifacts.iter().map(|(name, _)| *name).collect();
    sorted.sort();
    assert_eq!(names, sorted, "{sums}");
    // sha256(b"wheel"), worked out independently of sha256sum.
    use sha2::Digest as _;
    let wheel_sum: String = sha2::Sha256::digest(b"wheel")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        sums.contains(&format!(
            "{wheel_sum}  shipimg-0.1.0-py3-none-manylinux_2_17_x86_64.whl\n"
        )),
        "{sums}"
    );
    Outcome::of(
        Command::new("sha256sum")
            .args(["-c", "SHA256SUMS"])
            .current_dir(dir.path()),
    )
    .success();

    std::fs::write(dir.path().join("shipimg-0.1.0.tar.gz"), b"tampered").unwrap();
    let out = Outcome::of(
        Command::new("sha256sum")
            .args(["-c", "SHA256SUMS"])
            .current_dir(dir.path()),
    )
    .code(1);
    assert!(out.stdout.contains("shipimg-0.1.0.tar.gz: FAILED"), "{out}");
}

#[test]
fn checksums_refuses_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        Command::new("bash")
            .arg(repo_root().join("scripts/checksums.sh"))
            .arg(dir.path()),
    )
    .code(1);
    assert!(
        out.stderr.starts_with("checksums: no artifacts in"),
        "{out}"
    );
    assert!(!dir.path().join("SHA256SUMS").exists());
}

#[test]
fn binary_archive_holds_the_wheels_binary_completions_and_man_pages() {
    let work = tempfile::tempdir().unwrap();
    let docs = work.path().join("docs");
    crate::common::write(
        &docs,
        "completions/shipimg.bash",
        "complete -F _shipimg shipimg\n",
    );
    crate::common::write(&docs, "man/shipimg.1", ".TH shipimg 1\n");
    let out = Outcome::of(
        Command::new("bash")
            .arg(repo_root().join("scripts/binary-archive.sh"))
            .arg(built_wheel())
            .arg("x86_64-unknown-linux-gnu")
            .arg(&docs)
            .arg(work.path().join("out")),
    )
    .success();
    let name = format!("shipimg-{VERSION}-x86_64-unknown-linux-gnu");
    let archive = work.path().join("out").join(format!("{name}.tar.gz"));
    assert_eq!(Path::new(out.stdout.trim()), archive, "{out}");

    let unpacked = work.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    Outcome::of(
        Command::new("tar")
            .arg("-xzf")
            .arg(&archive)
            .arg("-C")
            .arg(&unpacked),
    )
    .success();
    let dir = unpacked.join(&name);
    for file in [
        "README.md",
        "LICENSE",
        "completions/shipimg.bash",
        "man/shipimg.1",
    ] {
        assert!(dir.join(file).is_file(), "{file} is not in {name}.tar.gz");
    }
    let home = tempfile::tempdir().unwrap();
    let version =
        Outcome::of(shipimg_at(&dir.join("shipimg"), home.path()).arg("--version")).success();
    assert_eq!(
        version.stdout.trim(),
        format!("shipimg {VERSION}"),
        "{version}"
    );
}
