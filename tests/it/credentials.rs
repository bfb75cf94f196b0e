//! Where build credentials come from, what the build gets, and that none of it leaks: index
//! netrc sources and their precedence, narrowing to `--index-url` hosts (seen from inside a
//! RUN step), the preflight against the sandbox index, registry logins for private base images,
//! and a canary run at trace level.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;

use crate::common::{
    ImageGuard, Outcome, Sandbox, build_lock, index_password, one_step_project, registry_password,
    repo_root, sandbox_credential_helper, shipimg, unique_image, write,
};
use crate::sandbox::assert_runs_the_example;

/// A project whose only step lists the machines and logins of the netrc it was given. The
/// step is unique to each project: Docker 20.10's BuildKit merges identical steps of concurrent
/// builds and has been seen to panic ("failed to get edge") when one of them ends early.
fn netrc_probe(dir: &Path) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    write(
        dir,
        "Dockerfile",
        &format!(
            "FROM {}\nRUN --mount=type=secret,id=netrc,target=/root/.netrc,required=true \\\n    echo {nonce} > /nonce && awk '{{for (i = 1; i < NF; i++) if ($i == \"machine\" || $i == \"login\" || $i == \"default\") print $i, ($i == \"default\" ? \"\" : $(i+1))}}' /root/.netrc > /seen\n",
            Sandbox::get().var("SANDBOX_BUSYBOX_IMAGE")
        ),
    );
}

/// Builds the probe in `dir` with `configure` applied, returns what the step saw.
fn probe_sees(dir: &Path, home: &Path, configure: impl FnOnce(&mut Command)) -> (Outcome, String) {
    let sandbox = Sandbox::get();
    let _lock = build_lock();
    let tag = unique_image("netrc-probe");
    let _guard = ImageGuard::new([tag.clone()]);
    let mut cmd = shipimg(home);
    cmd.env("DOCKER_HOST", sandbox.docker_host())
        .current_dir(dir)
        .args(["build", "--progress", "plain", "--no-cache", "-t", &tag]);
    configure(&mut cmd);
    let out = Outcome::of(&mut cmd);
    if out.code != Some(0) {
        return (out, String::new());
    }
    let seen = Outcome::of(sandbox.docker().args(["run", "--rm", &tag, "cat", "/seen"])).success();
    (out, seen.stdout)
}

#[test]
fn index_url_narrows_the_netrc_the_build_sees() {
    let sandbox = Sandbox::get();
    let dir = tempfile::tempdir().unwrap();
    netrc_probe(dir.path());
    let netrc = dir.path().join("all.netrc");
    std::fs::write(
        &netrc,
        format!(
            "machine github.com login me password gh-canary-token\nmachine {} login {} password {}\ndefault login anonymous password anon\n",
            sandbox.var("SANDBOX_INDEX_HOST"),
            sandbox.var("SANDBOX_INDEX_USERNAME"),
            index_password(sandbox)
        ),
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();

    let (out, seen) = probe_sees(dir.path(), home.path(), |cmd| {
        cmd.arg("--netrc")
            .arg(&netrc)
            .args(["--index-url", sandbox.var("SANDBOX_INDEX_URL")]);
    });
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        seen, "machine 127.0.0.1\nlogin acme\n",
        "only the index's entry is served"
    );
    assert!(
        out.stderr.contains(&format!(
            "Credentials index netrc from --netrc {} (127.0.0.1)",
            netrc.display()
        )),
        "{out}"
    );

    let (out, seen) = probe_sees(dir.path(), home.path(), |cmd| {
        cmd.arg("--netrc").arg(&netrc);
    });
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        seen,
        "machine github.com\nlogin me\nmachine 127.0.0.1\nlogin acme\ndefault \nlogin anonymous\n"
    );
    assert!(
        out.stderr.contains(
            "note: the whole netrc (3 entries) is served to the build; pass `--index-url URL`"
        ),
        "{out}"
    );
    assert!(!out.stderr.contains("gh-canary-token"));
}

#[test]
fn netrc_sources_take_precedence_in_order() {
    let dir = tempfile::tempdir().unwrap();
    netrc_probe(dir.path());
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        ".netrc",
        "machine from.home login home-user password pass-home\n",
    );
    let var_netrc = dir.path().join("var.netrc");
    std::fs::write(
        &var_netrc,
        "machine from.var login var-user password pass-var\n",
    )
    .unwrap();
    let flag_netrc = dir.path().join("flag.netrc");
    std::fs::write(
        &flag_netrc,
        "machine from.flag login flag-user password pass-flag\n",
    )
    .unwrap();

    let (out, seen) = probe_sees(dir.path(), home.path(), |_| {});
    assert_eq!(seen, "machine from.home\nlogin home-user\n", "{out}");
    let (out, seen) = probe_sees(dir.path(), home.path(), |cmd| {
        cmd.env("NETRC", &var_netrc);
    });
    assert_eq!(seen, "machine from.var\nlogin var-user\n", "{out}");
    let (out, seen) = probe_sees(dir.path(), home.path(), |cmd| {
        cmd.env("NETRC", &var_netrc).env(
            "SHIPIMG_NETRC",
            "machine from.env login env-user password pass-env",
        );
    });
    assert_eq!(seen, "machine from.env\nlogin env-user\n", "{out}");
    let (out, seen) = probe_sees(dir.path(), home.path(), |cmd| {
        cmd.env(
            "SHIPIMG_NETRC",
            "machine from.env login env-user password pass-env",
        )
        .arg("--netrc")
        .arg(&flag_netrc);
    });
    assert_eq!(seen, "machine from.flag\nlogin flag-user\n", "{out}");
    let (out, seen) = probe_sees(dir.path(), home.path(), |cmd| {
        cmd.env("NETRC", &var_netrc)
            .env("SHIPIMG_INDEX_USERNAME", "user-from-env")
            .env("SHIPIMG_INDEX_PASSWORD", "pass-user")
            .args(["--index-url", "http://127.0.0.1:9/simple/"]);
    });
    assert_eq!(seen, "machine 127.0.0.1\nlogin user-from-env\n", "{out}");
    assert!(
        out.stderr
            .contains("warning: could not check the package index `http://127.0.0.1:9/simple/`"),
        "{out}"
    );
}

#[test]
fn a_wrong_index_password_stops_before_the_build() {
    let sandbox = Sandbox::get();
    let dir = tempfile::tempdir().unwrap();
    netrc_probe(dir.path());
    let netrc = dir.path().join("wrong.netrc");
    let wrong = "wrong-canary-pass-91c";
    std::fs::write(
        &netrc,
        format!("machine 127.0.0.1 login acme password {wrong}\n"),
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let url = sandbox.var("SANDBOX_INDEX_URL");
    let (out, _) = probe_sees(dir.path(), home.path(), |cmd| {
        cmd.arg("--netrc").arg(&netrc).args(["--index-url", url]);
    });
    assert_eq!(out.code, Some(1), "{out}");
    let error = out.error_line();
    let expected = format!(
        "error: the package index `{url}` refused login `acme` from --netrc {} (HTTP ",
        netrc.display()
    );
    // pypiserver answers a wrong password with 403, Artifact Registry with 401.
    assert!(
        error.starts_with(&expected)
            && (error.ends_with("(HTTP 403 Forbidden)")
                || error.ends_with("(HTTP 401 Unauthorized)")),
        "{out}"
    );
    assert!(
        !out.stderr.contains(wrong) && !out.stdout.contains(wrong),
        "{out}"
    );
    assert!(!out.stderr.contains("#1 "), "no build step ran\n{out}");
}

/// The CI form: index credentials in two variables, the index named on the command line.
#[test]
fn example_builds_with_index_credentials_from_the_environment() {
    let sandbox = Sandbox::get();
    let tag = unique_image("example-env");
    let _guard = ImageGuard::new([tag.clone()]);
    let home = tempfile::tempdir().unwrap();
    let _lock = build_lock();
    Outcome::of(
        shipimg(home.path())
            .env("DOCKER_HOST", sandbox.docker_host())
            .env(
                "SHIPIMG_INDEX_USERNAME",
                sandbox.var("SANDBOX_INDEX_USERNAME"),
            )
            .env("SHIPIMG_INDEX_PASSWORD", index_password(sandbox))
            .arg("build")
            .arg(repo_root().join("fixtures/example"))
            .args([
                "--index-url",
                sandbox.var("SANDBOX_INDEX_URL"),
                "--network",
                "host",
            ])
            .args(["--progress", "plain", "-t", &tag]),
    )
    .success();
    assert_runs_the_example(sandbox, &tag);
}

/// Pushes a base image to the sandbox registry (with the CLI) and returns its reference.
fn private_base_image(sandbox: &Sandbox) -> String {
    let config = tempfile::tempdir().unwrap();
    let registry = sandbox.var("SANDBOX_REGISTRY");
    let docker = |args: &[&str]| {
        let mut cmd = sandbox.docker();
        cmd.env("DOCKER_CONFIG", config.path()).args(args);
        cmd
    };
    let mut login = docker(&[
        "login",
        registry,
        "-u",
        sandbox.var("SANDBOX_REGISTRY_USERNAME"),
        "--password-stdin",
    ]);
    login
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(registry_password(sandbox).as_bytes())
        .unwrap();
    assert!(
        child.wait_with_output().unwrap().status.success(),
        "docker login to the sandbox registry"
    );
    let reference = format!(
        "{registry}/shipimg-test/private-base:{}",
        std::process::id()
    );
    Outcome::of(&mut docker(&[
        "tag",
        sandbox.var("SANDBOX_BUSYBOX_IMAGE"),
        &reference,
    ]))
    .success();
    Outcome::of(&mut docker(&["push", &reference])).success();
    // Gone from the engine, so the build must pull it, with credentials.
    Outcome::of(&mut docker(&["image", "rm", &reference])).success();
    reference
}

#[test]
fn private_base_images_are_pulled_with_registry_credentials() {
    let _lock = build_lock();
    let sandbox = Sandbox::get();
    let base = private_base_image(sandbox);
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!("FROM {base}\nRUN echo pulled > /pulled\n"),
    );
    let registry = sandbox.var("SANDBOX_REGISTRY");
    let user = sandbox.var("SANDBOX_REGISTRY_USERNAME");
    let password = registry_password(sandbox);
    let tag = unique_image("private-base");
    let _guard = ImageGuard::new([tag.clone()]);
    let build = |home: &Path, configure: &dyn Fn(&mut Command)| {
        let mut cmd = shipimg(home);
        cmd.env("DOCKER_HOST", sandbox.docker_host())
            .current_dir(dir.path())
            .args([
                "build",
                "--pull",
                "--no-cache",
                "--progress",
                "plain",
                "-t",
                &tag,
            ]);
        configure(&mut cmd);
        Outcome::of(&mut cmd)
    };

    // Anonymous: the registry says no.
    let home = tempfile::tempdir().unwrap();
    let out = build(home.path(), &|_| {});
    assert_eq!(out.code, Some(1), "{out}");

    // The docker config's `auths`.
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    write(
        home.path(),
        ".docker/config.json",
        &format!("{{\"auths\":{{\"{registry}\":{{\"auth\":\"{auth}\"}}}}}}"),
    );
    let out = build(home.path(), &|_| {});
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "Credentials registry {registry} from docker config"
        )),
        "{out}"
    );
    assert!(
        !out.stderr.contains(&password) && !out.stderr.contains(&auth),
        "{out}"
    );

    // A credential helper, found on PATH and asked for this host only.
    let helpers = tempfile::tempdir().unwrap();
    let helper = helpers.path().join("docker-credential-shipimg-it");
    write(
        helpers.path(),
        "docker-credential-shipimg-it",
        &format!(
            "#!/bin/sh\nread host\n[ \"$host\" = \"{registry}\" ] || {{ echo \"credentials not found in native keychain\"; exit 1; }}\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"%s\"}}' \"$host\" \"$(cat '{}')\"\n",
            sandbox.var("SANDBOX_REGISTRY_PASSWORD_FILE")
        ),
    );
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        ".docker/config.json",
        &format!(
            "{{\"credHelpers\":{{\"{registry}\":\"shipimg-it\",\"other.example\":\"missing-helper\"}}}}"
        ),
    );
    let path = format!(
        "{}:{}",
        helpers.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = build(home.path(), &|cmd| {
        cmd.env("PATH", &path);
    });
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stderr.contains("docker-credential-shipimg-it"),
        "the source is named\n{out}"
    );

    // The variables, for the registry shipimg pushes to.
    let home = tempfile::tempdir().unwrap();
    let pushed = format!("{registry}/shipimg-test/out:{}", std::process::id());
    let _guard2 = ImageGuard::new([pushed.clone()]);
    let out = build(home.path(), &|cmd| {
        cmd.env("SHIPIMG_REGISTRY_USERNAME", user)
            .env("SHIPIMG_REGISTRY_PASSWORD", &password)
            .args(["-t", &pushed]);
    });
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stderr
            .contains("from SHIPIMG_REGISTRY_USERNAME/SHIPIMG_REGISTRY_PASSWORD"),
        "{out}"
    );
}

/// Everything shipimg prints at trace level, and every file it writes, holds no secret in any
/// encoding.
#[test]
fn canary_no_secret_in_output_or_files_at_trace_level() {
    let sandbox = Sandbox::get();
    let password = index_password(sandbox);
    let user = sandbox.var("SANDBOX_INDEX_USERNAME");
    let b64 = base64::engine::general_purpose::STANDARD;
    let forms = [
        password.clone(),
        b64.encode(&password),
        b64.encode(format!("{user}:{password}")),
        password.replace(':', "%3A").replace('@', "%40"),
    ];
    let tag = unique_image("canary");
    let _guard = ImageGuard::new([tag.clone()]);
    let home = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let _lock = build_lock();
    let out = Outcome::of(
        shipimg(home.path())
            .env("DOCKER_HOST", sandbox.docker_host())
            .env("RUST_LOG", "trace")
            .env("SHIPIMG_INDEX_USERNAME", user)
            .env("SHIPIMG_INDEX_PASSWORD", &password)
            .args(["-vv", "build"])
            .arg(repo_root().join("fixtures/example"))
            .args([
                "--index-url",
                sandbox.var("SANDBOX_INDEX_URL"),
                "--network",
                "host",
            ])
            .args(["--progress", "plain", "--no-cache", "-t", &tag])
            .arg("--iidfile")
            .arg(out_dir.path().join("iid"))
            .arg("--metadata-file")
            .arg(out_dir.path().join("meta.json")),
    )
    .success();
    assert!(
        out.stderr.lines().count() > 100,
        "trace logs were on\n{}",
        &out.stderr[..2000.min(out.stderr.len())]
    );
    let mut written = vec![
        ("stdout".to_owned(), out.stdout.clone()),
        ("stderr".to_owned(), out.stderr.clone()),
    ];
    for entry in std::fs::read_dir(out_dir.path())
        .unwrap()
        .chain(std::fs::read_dir(home.path()).unwrap())
    {
        let path = entry.unwrap().path();
        if path.is_file() {
            written.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    assert!(written.len() >= 4, "{written:?}");
    for (what, text) in &written {
        for form in &forms {
            assert!(
                !text.contains(form.as_str()),
                "{what} holds a form of the index password"
            );
        }
    }
}

#[test]
fn a_broken_home_netrc_only_matters_to_a_build_that_mounts_the_netrc() {
    let sandbox = Sandbox::get();
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        ".netrc",
        "machine idx.example login me passwd-typo hunter2-canary\n",
    );

    // No netrc mount: a warning, and the build goes on.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        &format!(
            "FROM {}\nRUN echo no-netrc-{} > /n\n",
            sandbox.var("SANDBOX_BUSYBOX_IMAGE"),
            std::process::id()
        ),
    );
    let tag = unique_image("no-netrc-mount");
    let _guard = ImageGuard::new([tag.clone()]);
    let out = {
        let _lock = build_lock();
        Outcome::of(
            shipimg(home.path())
                .env("DOCKER_HOST", sandbox.docker_host())
                .current_dir(dir.path())
                .args(["build", "--progress", "plain", "-t", &tag]),
        )
        .success()
    };
    let warning = out
        .stderr
        .lines()
        .find(|l| l.starts_with("warning: invalid netrc `"))
        .unwrap_or_else(|| panic!("no warning about ~/.netrc\n{out}"));
    assert!(
        warning.ends_with("(ignored: the Dockerfile mounts no netrc)"),
        "{warning}"
    );
    assert!(!out.stderr.contains("hunter2-canary"), "{out}");

    // A netrc mount: the same file is an error, before any build.
    let dir = tempfile::tempdir().unwrap();
    netrc_probe(dir.path());
    let (out, _) = probe_sees(dir.path(), home.path(), |_| {});
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.starts_with("error: invalid netrc `"), "{out}");
    assert!(!out.stderr.contains("hunter2-canary"), "{out}");
}

/// Canary secrets in shipimg's own variables, for a spy child to never see.
struct Canaries {
    netrc_password: String,
    registry_password: String,
}

impl Canaries {
    fn new(what: &str) -> Self {
        let pid = std::process::id();
        Self {
            netrc_password: format!("{what}-netrc-canary-{pid}-pw"),
            registry_password: format!("{what}-registry-canary-{pid}-pw"),
        }
    }

    /// `cmd` with `bin` first on PATH and the canaries in SHIPIMG_NETRC and
    /// SHIPIMG_REGISTRY_PASSWORD.
    fn apply<'c>(&self, cmd: &'c mut Command, bin: &Path) -> &'c mut Command {
        cmd.env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env(
            "SHIPIMG_NETRC",
            format!(
                "machine index.spy.invalid login acme password {}\n",
                self.netrc_password
            ),
        )
        .env("SHIPIMG_REGISTRY_PASSWORD", &self.registry_password)
    }

    /// The environment the spy dumped into `dump`, asserted to hold no canary, no `SHIPIMG_`
    /// name and none of `also`.
    fn assert_unseen(&self, dump: &Path, also: &[&str], out: &Outcome) -> String {
        let seen = std::fs::read_to_string(dump)
            .unwrap_or_else(|err| panic!("the spy never ran ({err})\n{out}"));
        let canaries = [
            self.netrc_password.as_str(),
            &self.registry_password,
            "SHIPIMG_",
        ];
        for value in canaries.iter().chain(also) {
            assert!(!seen.contains(value), "the spy saw `{value}`:\n{seen}");
        }
        seen
    }
}

/// A credential helper gets the environment minus shipimg's secrets: a spy helper, named in the
/// docker config's `credHelpers` for the push registry, dumps what it was given. Nothing of the
/// netrc, the registry password or a `--secret env=` variable reaches it, by value or by name;
/// the variables tools need of their own (AWS_*, here) do.
#[test]
fn a_credential_helper_never_sees_a_secret_variable() {
    let sandbox = Sandbox::get();
    let registry = sandbox.var("SANDBOX_REGISTRY");
    let pid = std::process::id();
    let canaries = Canaries::new("helper");
    let token = format!("spy-token-canary-{pid}-value");
    let helpers = tempfile::tempdir().unwrap();
    let dump = helpers.path().join("env-seen");
    sandbox_credential_helper(
        helpers.path(),
        "spy",
        &format!("env > '{}'\n", dump.display()),
    );
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        ".docker/config.json",
        &format!("{{\"credHelpers\":{{\"{registry}\":\"spy\"}}}}"),
    );
    let dir = one_step_project(&format!(
        "--mount=type=secret,id=tok,required=true wc -c /run/secrets/tok > /size && echo guard-paths-spy-{pid}"
    ));
    let tag = format!("{registry}/shipimg-test/spy-{pid}:1");
    let _guard = ImageGuard::new([tag.clone()]);
    let _lock = build_lock();
    let out = Outcome::of(
        canaries
            .apply(&mut shipimg(home.path()), helpers.path())
            .env("DOCKER_HOST", sandbox.docker_host())
            .env("SPY_TOKEN", &token)
            .env("AWS_PROFILE", "spy-kept")
            .current_dir(dir.path())
            .args(["build", "--push", "--progress", "plain", "-t", &tag])
            .args(["--secret", "id=tok,env=SPY_TOKEN"]),
    )
    .success();
    let seen = canaries.assert_unseen(&dump, &[&token, "SPY_TOKEN"], &out);
    assert!(seen.contains("AWS_PROFILE=spy-kept"), "{seen}");
    assert!(
        seen.contains(&format!("HOME={}", home.path().display())),
        "{seen}"
    );
}

/// `gcloud` gets the environment minus shipimg's secrets too, and keeps its own `CLOUDSDK_*`.
/// A fake gcloud on PATH dumps what it was given and answers with a token; `push` to a Google
/// registry asks it for the login before anything else, and then refuses the IMAGE argument
/// that holds that very token, so the test needs no engine.
#[test]
fn gcloud_never_sees_a_secret_variable() {
    let canaries = Canaries::new("gcloud");
    let token = format!("ya29-gcloud-canary-{}", std::process::id());
    let bin = tempfile::tempdir().unwrap();
    let dump = bin.path().join("env-seen");
    write(
        bin.path(),
        "gcloud",
        &format!("#!/bin/sh\nenv > '{}'\necho {token}\n", dump.display()),
    );
    std::fs::set_permissions(
        bin.path().join("gcloud"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        canaries
            .apply(&mut shipimg(home.path()), bin.path())
            .env("CLOUDSDK_CONFIG", home.path().join("gcloud-config"))
            .args([
                "push",
                &format!("europe-docker.pkg.dev/proj/repo/svc:{token}"),
            ]),
    )
    .code(1);
    assert!(
        out.stderr
            .contains("error: an IMAGE argument holds a secret shipimg was given"),
        "{out}"
    );
    assert!(!out.stderr.contains(&token), "{out}");
    let seen = canaries.assert_unseen(&dump, &[], &out);
    assert!(seen.contains("CLOUDSDK_CONFIG="), "{seen}");
}
