//! The context over the session (BuildKit file sync) against the sandbox engine: the same
//! image as the tar body and the docker CLI, rebuilds that send only what changed, concurrent
//! builds of one context, and Ctrl-C in the middle of a transfer.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{
    ImageGuard, Outcome, Sandbox, build_lock, busybox, interrupt, shipimg_build, unique_image,
    write,
};

/// A Dockerfile that copies the whole context to `/ctx`.
fn write_copying_dockerfile(dir: &Path) {
    write(
        dir,
        "Dockerfile",
        &format!("FROM {}\nCOPY . /ctx\n", busybox()),
    );
}

/// `shipimg build` on the sandbox engine in `dir`, with plain progress.
fn plain_build_in(home: &Path, dir: &Path) -> Command {
    let mut cmd = shipimg_build(home);
    cmd.current_dir(dir).args(["--progress", "plain"]);
    cmd
}

/// Every entry under `/ctx` with its type and mode, owner, size, link count and link target:
/// what `COPY . /ctx` made of the context. Modification times are left out: the tar body
/// carries whole seconds and drops directory times, file sync keeps nanoseconds.
fn ctx_listing(image: &str) -> Vec<String> {
    let out = Outcome::of(Sandbox::get().docker().args([
        "run",
        "--rm",
        "--network",
        "none",
        image,
        "sh",
        "-c",
        "find /ctx -exec stat -c '%n|%f|%u:%g|%s|%h|%N' {} + | sort",
    ]))
    .success();
    out.stdout.lines().map(str::to_owned).collect()
}

/// The transfer counters shipimg wrote to its metadata file.
fn transfer_stats(metadata: &Path) -> serde_json::Value {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(metadata).unwrap()).unwrap();
    meta["shipimg.context.transfer"].clone()
}

fn awkward_tree(root: &Path) {
    let dockerfile = format!("FROM {}\nCOPY . /ctx\n", busybox());
    for (path, text) in [
        ("build/Dockerfile", dockerfile.as_str()),
        (".dockerignore", "**/*.log\nvendor\n!vendor/keep\n"),
        ("app/main.py", "print('hi')\n"),
        ("app/debug.log", "excluded"),
        ("vendor/lib.py", "excluded"),
        ("vendor/keep/k.py", "re-included"),
        ("with space.txt", "space"),
        ("données/été.txt", "unicode"),
        ("modes/setuid", "#!/bin/sh\n"),
        ("data/original", "linked twice"),
    ] {
        write(root, path, text);
    }
    let link = |target: &str, name: &str| {
        std::os::unix::fs::symlink(target, root.join(name)).unwrap();
    };
    link("/etc/hostname", "abs-link");
    link("app/main.py", "rel-link");
    link("missing/nowhere", "dangling-link");
    link("app", "dir-link");
    std::fs::hard_link(root.join("data/original"), root.join("data/hardlink")).unwrap();
    std::fs::hard_link(root.join("data/original"), root.join("hardlink-at-root")).unwrap();
    let mode = |path: &str, mode: u32| {
        std::fs::set_permissions(root.join(path), std::fs::Permissions::from_mode(mode)).unwrap();
    };
    mode("modes/setuid", 0o4755);
    std::fs::create_dir(root.join("modes/sticky")).unwrap();
    mode("modes/sticky", 0o1777);
    mode("modes", 0o750);
}

/// The docker CLI, the tar body and file sync build the same `/ctx` from a context with every
/// kind of entry a context holds, and a Dockerfile given with `-f` in a subdirectory.
#[test]
fn sync_tar_and_the_docker_cli_copy_identical_trees() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let dir = tempfile::tempdir().unwrap();
    awkward_tree(dir.path());
    let home = tempfile::tempdir().unwrap();
    let tags = [
        unique_image("fs-parity-cli"),
        unique_image("fs-parity-tar"),
        unique_image("fs-parity-sync"),
    ];
    let _guard = ImageGuard::new(tags.clone());
    Outcome::of(sandbox.docker().current_dir(dir.path()).args([
        "build",
        "-q",
        "-f",
        "build/Dockerfile",
        "-t",
        &tags[0],
        ".",
    ]))
    .success();
    for (transfer, tag) in [("tar", &tags[1]), ("sync", &tags[2])] {
        Outcome::of(plain_build_in(home.path(), dir.path()).args([
            "-f",
            "build/Dockerfile",
            "--context-transfer",
            transfer,
            "-t",
            tag,
        ]))
        .success();
    }
    let cli = ctx_listing(&tags[0]);
    assert!(
        cli.iter().any(|l| l.starts_with("/ctx/données/été.txt|"))
            && cli.iter().any(|l| l.starts_with("/ctx/vendor/keep/k.py|"))
            && !cli.iter().any(|l| l.contains("debug.log")),
        "{cli:#?}"
    );
    assert_eq!(ctx_listing(&tags[1]), cli, "tar body vs docker CLI");
    assert_eq!(ctx_listing(&tags[2]), cli, "file sync vs docker CLI");
}

/// A rebuild of an unchanged context asks for no file; after one file changes, for that one.
#[test]
fn rebuilds_send_only_the_files_that_changed() {
    let _lock = build_lock();
    let dir = tempfile::tempdir().unwrap();
    write_copying_dockerfile(dir.path());
    for i in 0..50 {
        write(dir.path(), &format!("src/m{i}.py"), &format!("x = {i}\n"));
    }
    let home = tempfile::tempdir().unwrap();
    let meta = home.path().join("meta.json");
    let tag = unique_image("fs-incremental");
    let _guard = ImageGuard::new([tag.clone()]);
    let build = || {
        Outcome::of(
            plain_build_in(home.path(), dir.path())
                .args(["-t", &tag, "--metadata-file"])
                .arg(&meta),
        )
        .success()
    };

    build();
    let first = transfer_stats(&meta);
    assert_eq!(first["files_sent"], 51, "{first}");

    let out = build();
    let second = transfer_stats(&meta);
    assert_eq!(second["files_sent"], 0, "{second}");
    assert_eq!(second["bytes_sent"], 0, "{second}");
    assert_eq!(second["files_unchanged"], 51, "{second}");
    assert!(
        out.stderr
            .contains("Context sent 0 files (0 B), 51 unchanged on the engine"),
        "{out}"
    );

    write(dir.path(), "src/m7.py", "x = 'seven'\n");
    build();
    let third = transfer_stats(&meta);
    assert_eq!(third["files_sent"], 1, "{third}");
    assert_eq!(third["bytes_sent"], 12, "{third}");
    assert_eq!(third["files_unchanged"], 50, "{third}");
    let run = Outcome::of(Sandbox::get().docker().args([
        "run",
        "--rm",
        "--network",
        "none",
        &tag,
        "cat",
        "/ctx/src/m7.py",
    ]))
    .success();
    assert_eq!(run.stdout, "x = 'seven'\n");
}

/// Two builds of one context at once (one shared key) both get the whole context.
#[test]
fn two_builds_of_one_context_at_once_both_succeed() {
    let _lock = build_lock();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nARG WHO\nCOPY . /ctx\nRUN echo $WHO > /who && ls /ctx/src | wc -l > /count\n",
            busybox()
        ),
    );
    for i in 0..200 {
        write(dir.path(), &format!("src/f{i}.txt"), &"y".repeat(10_000));
    }
    let home = tempfile::tempdir().unwrap();
    let builds: Vec<_> = ["alpha", "beta"]
        .into_iter()
        .map(|who| {
            let tag = unique_image(&format!("fs-concurrent-{who}"));
            let mut cmd = plain_build_in(home.path(), dir.path());
            cmd.args([
                "--no-cache",
                "--build-arg",
                &format!("WHO={who}"),
                "-t",
                &tag,
            ]);
            (who, tag, std::thread::spawn(move || Outcome::of(&mut cmd)))
        })
        .collect();
    let _guard = ImageGuard::new(builds.iter().map(|(_, tag, _)| tag.clone()));
    for (who, tag, build) in builds {
        build.join().unwrap().success();
        let run = Outcome::of(
            Sandbox::get()
                .docker()
                .args(["run", "--rm", &tag, "cat", "/who", "/count"]),
        )
        .success();
        assert_eq!(run.stdout, format!("{who}\n200\n"));
    }
}

/// Ctrl-C while the context is on its way: shipimg stops sending, cancels the build and exits
/// 130, and nothing is tagged.
#[test]
fn interrupt_during_the_transfer_cancels_the_build() {
    let _lock = build_lock();
    let dir = tempfile::tempdir().unwrap();
    write_copying_dockerfile(dir.path());
    // Incompressible and large enough to take seconds to send.
    let block: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for i in 0..6 {
        let mut data = Vec::with_capacity(block.len() * 128);
        for j in 0..128u8 {
            data.extend(block.iter().map(|b| b ^ j ^ i));
        }
        std::fs::write(dir.path().join(format!("blob{i}.bin")), data).unwrap();
    }
    let home = tempfile::tempdir().unwrap();
    let tag = unique_image("fs-cancel");
    let _guard = ImageGuard::new([tag.clone()]);
    let mut child = plain_build_in(home.path(), dir.path())
        .args(["-t", &tag])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("transferring context") {
                let _ = tx.send(None);
            }
            seen.push(line);
        }
        let _ = tx.send(Some(seen.join("\n")));
    });
    match rx.recv_timeout(Duration::from_secs(60)).unwrap() {
        None => {}
        Some(all) => panic!("the build ended before the transfer showed: {all}"),
    }
    let interrupted = Instant::now();
    interrupt(&child);
    let status = child.wait().unwrap();
    let took = interrupted.elapsed();
    let all = loop {
        if let Some(all) = rx.recv_timeout(Duration::from_secs(10)).unwrap() {
            break all;
        }
    };
    assert_eq!(status.code(), Some(130), "{all}");
    assert!(all.contains("error: build cancelled"), "{all}");
    assert!(
        took < Duration::from_secs(15),
        "took {took:?} to stop: {all}"
    );
    assert!(
        !all.contains("Context sent"),
        "a cancelled transfer reports no summary: {all}"
    );
    let inspect = Outcome::of(Sandbox::get().docker().args(["image", "inspect", &tag]));
    assert_ne!(inspect.code, Some(0), "a cancelled build tags nothing");
}
