//! Issue 13's attacks on the leak guard, against the sandbox engine and registry: credentials
//! that are not this build's values, and this build's values in the forms real tools write.
//! Each asserts on what reached the registry.

use crate::common::{ImageGuard, Outcome, Sandbox, build_lock, shipimg, write};
use crate::registry::{registry_digest, repository};

/// `shipimg build --push -t TAG --progress plain` of `dir`, with the sandbox registry's login.
fn build_push(dir: &std::path::Path, home: &std::path::Path, tag: &str) -> std::process::Command {
    let mut cmd = crate::common::build_push(dir, home, &[tag]);
    cmd.args(["--progress", "plain"]);
    cmd
}

/// Credential files under other names are left out of the context with a warning each; a
/// credential embedded in a source file is sent, reported, and found by the scan; a RUN step
/// that writes a netrc nobody gave shipimg is found by its shape. Nothing is pushed.
#[test]
fn credentials_that_are_not_this_builds_values_never_reach_the_registry() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let dir = tempfile::tempdir().unwrap();
    let netrc = "machine pypi.corp.example login deploy password Zq8xT2pLw9vRk3mN\n";
    let docker = format!(
        "{{\"auths\": {{\"europe-docker.pkg.dev\": {{\"auth\": \"{}\"}}}}}}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "_json_key_base64:Zq8xT2pLw9vRk3mN"
        )
    );
    let sa_key = format!(
        "{{\"type\": \"service_account\", \"private_key\": \"{}\"}}",
        crate::common::pem_key("").replace('\n', "\\n")
    );
    let left_out = [
        ("netrc", netrc.to_owned()),
        ("pip-netrc", netrc.to_owned()),
        (".netrc.bak", netrc.to_owned()),
        ("creds.txt", netrc.to_owned()),
        ("registry.json", docker),
        ("sa-key.json.bak", sa_key),
        (
            "prod.env",
            "DEBUG=0\nDB_PASSWORD=Zq8xT2pLw9vRk3mN\n".to_owned(),
        ),
        // A NUL byte in front makes it look binary; it is still a netrc.
        ("blob.dat", format!("\0\0{netrc}")),
    ];
    for (name, text) in &left_out {
        write(dir.path(), name, text);
    }
    write(
        dir.path(),
        "settings.py",
        "DATABASE_URL = 'postgres://app:S3cr3tPw-13@db/app'\n",
    );
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nCOPY . /app\nRUN printf 'machine h login u password Kp4vX9qLm2Rt%s\\n' {} > /etc/creds\n",
            sandbox.var("SANDBOX_BUSYBOX_IMAGE"),
            std::process::id()
        ),
    );
    let repo = repository("leak-shapes");
    let tag = format!("{repo}:1");
    let _guard = ImageGuard::new([tag.clone()]);
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(&mut build_push(dir.path(), home.path(), &tag)).code(3);
    for (name, _) in &left_out {
        let line = format!("warning: left `{name}` out of the build context: ");
        assert!(out.stderr.contains(&line), "no warning for {name}\n{out}");
    }
    assert!(
        out.stderr
            .contains("warning: `settings.py` carries a credential (a URL with a password or token in it, rule `url-credentials`)"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("`app/settings.py`: embedded credential"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("`etc/creds`: credential file (a netrc file holds passwords; rule `netrc`)"),
        "{out}"
    );
    for (name, _) in &left_out {
        assert!(
            !out.stderr.contains(&format!("`app/{name}`")),
            "{name} was sent\n{out}"
        );
    }
    assert!(
        !out.stderr.contains("S3cr3tPw-13") && !out.stderr.contains("Zq8xT2pLw9vRk3mN"),
        "{out}"
    );
    assert_eq!(registry_digest(&repo, "1"), None, "nothing was pushed");
}

/// A mounted secret written back in the forms real tools produce: trimmed of its newline,
/// base64 wrapped at 76 columns, `od` hex. Each is found; nothing is pushed.
#[test]
fn a_secret_in_the_forms_real_tools_write_never_reaches_the_registry() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let canary = format!(
        "forms-canary-{}-and-a-tail-long-enough-to-wrap-base64-lines",
        std::process::id()
    );
    for (what, step) in [
        ("trimmed", "tr -d '\\n' < /run/secrets/tok > /out"),
        ("base64", "base64 /run/secrets/tok > /out"),
        ("od", "od -An -tx1 /run/secrets/tok > /out"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "tok", &format!("{canary}\n"));
        write(
            dir.path(),
            "Dockerfile",
            &format!(
                "FROM {}\nRUN --mount=type=secret,id=tok,required=true {step} && echo {what}-{}\n",
                sandbox.var("SANDBOX_BUSYBOX_IMAGE"),
                std::process::id()
            ),
        );
        let repo = repository(&format!("leak-forms-{what}"));
        let tag = format!("{repo}:1");
        let _guard = ImageGuard::new([tag.clone()]);
        let home = tempfile::tempdir().unwrap();
        let out = Outcome::of(
            build_push(dir.path(), home.path(), &tag).args(["--secret", "id=tok,src=tok"]),
        )
        .code(3);
        assert!(
            out.stderr.contains("`out`: secret `--secret tok`"),
            "{what}\n{out}"
        );
        assert!(!out.stderr.contains(&canary), "{what}\n{out}");
        assert_eq!(
            registry_digest(&repo, "1"),
            None,
            "{what}: nothing was pushed"
        );
    }
}

/// A failing step that prints the mounted netrc in base64, wrapped at 76 columns as `base64`
/// writes it: no line of it, the short tail included, reaches the terminal.
#[test]
fn a_failing_step_that_prints_a_wrapped_secret_shows_no_piece_of_it() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let dir = tempfile::tempdir().unwrap();
    let netrc = format!(
        "machine index.leak-mask.invalid login acme password Mask-{}-Zq8xT2pLw9vRk3mN7bV5cX1zQ4wE6r\n",
        std::process::id()
    );
    write(dir.path(), "netrc", &netrc);
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nRUN --mount=type=secret,id=netrc,target=/root/.netrc base64 /root/.netrc && echo leak-mask-{} && false\n",
            sandbox.var("SANDBOX_BUSYBOX_IMAGE"),
            std::process::id()
        ),
    );
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        shipimg(home.path())
            .env("DOCKER_HOST", sandbox.docker_host())
            .current_dir(dir.path())
            .args(["build", "--progress", "plain", "--netrc", "netrc", "."]),
    );
    assert_ne!(out.code, Some(0), "{out}");
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &netrc);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains(&format!("leak-mask-{}", std::process::id())),
        "the step ran\n{out}"
    );
    for piece in encoded.as_bytes().chunks(76) {
        let piece = String::from_utf8_lossy(piece);
        let piece = piece.trim_end_matches('=');
        assert!(!all.contains(piece), "`{piece}` was printed\n{out}");
    }
}
