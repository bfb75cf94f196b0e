//! The leak scan against real images: built with the sandbox engine's docker CLI (BuildKit), then
//! exported and scanned through the engine API by `shipimg::scan::scan_image`.

use secrecy::SecretSlice;
use shipimg::engine::Engine;
use shipimg::engine::endpoint::{Endpoint, EndpointEnv, Source, parse_host};
use shipimg::scan::{Finding, FindingKind, ScanError, ScanReport, ScanSecret, scan_image};

use crate::common::{ImageGuard, Outcome, Sandbox, build_lock, busybox, shipimg, unique_image};

const NETRC_PASSWORD: &str = "netrc-Passw0rd-for-scan";
const TOKEN: &str = "tok-Value-4-scan-tests";

fn nonce() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}-{}", std::process::id(), now.as_nanos())
}

/// Builds `dockerfile` (its `{base}` and `{nonce}` filled in) with these context files and
/// extra `docker build` arguments; returns the tag and its clean-up guard.
fn build(
    what: &str,
    dockerfile: &str,
    files: &[(&str, &str)],
    args: &[&str],
) -> (String, ImageGuard) {
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = dockerfile
        .replace("{base}", busybox())
        .replace("{nonce}", &nonce());
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let tag = unique_image(&format!("scan-{what}"));
    let guard = ImageGuard::new([tag.clone()]);
    let _lock = build_lock();
    Outcome::of(
        Sandbox::get()
            .docker()
            .current_dir(dir.path())
            .args(["build", "--progress", "plain", "-t", &tag])
            .args(args)
            .arg("."),
    )
    .success();
    (tag, guard)
}

fn secret(id: &str, value: &str, login: Option<&str>) -> ScanSecret {
    ScanSecret {
        id: id.into(),
        value: SecretSlice::from(value.as_bytes().to_vec()),
        login: login.map(str::to_owned),
    }
}

fn scan(image: &str, secrets: &[ScanSecret]) -> Result<ScanReport, ScanError> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let address = parse_host(Sandbox::get().docker_host(), &EndpointEnv::default())
            .expect("sandbox DOCKER_HOST parses");
        let engine = Engine::connect(Endpoint {
            address,
            source: Source::DockerHost,
        })
        .await
        .expect("sandbox engine answers");
        scan_image(
            &engine,
            image,
            secrets,
            shipimg::scan::ScanOptions::default(),
            0,
        )
        .await
    })
}

/// Asserts no finding shows a secret value, in `Display` or `Debug`.
fn assert_no_value_shown(findings: &[Finding]) {
    for finding in findings {
        let shown = format!("{finding}\n{finding:?}");
        for value in [NETRC_PASSWORD, TOKEN] {
            assert!(!shown.contains(value), "a finding shows a value: {shown}");
        }
    }
}

fn netrc_text() -> String {
    format!("machine index.example login acme password {NETRC_PASSWORD}\n")
}

fn netrc_secret() -> ScanSecret {
    secret("netrc", NETRC_PASSWORD, Some("acme"))
}

#[test]
fn a_netrc_copied_into_the_final_stage_is_found_with_its_layer_and_step() {
    let netrc = netrc_text();
    let (tag, _guard) = build(
        "netrc",
        "FROM {base} AS build\nRUN echo build-{nonce} > /b\nFROM {base}\nRUN echo {nonce} > /n\nCOPY .netrc /root/.netrc\n",
        &[(".netrc", &netrc)],
        &[],
    );
    let report = scan(&tag, &[netrc_secret()]).unwrap();
    assert_no_value_shown(&report.findings);
    let file: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.path.as_deref() == Some("root/.netrc"))
        .collect();
    assert!(
        file.iter().any(|f| matches!(
            &f.what,
            FindingKind::Credential {
                kind: shipimg::leak::shapes::CredentialKind::Netrc,
                ..
            }
        )),
        "{:#?}",
        report.findings
    );
    assert!(
        file.iter()
            .any(|f| f.what == FindingKind::Secret { id: "netrc".into() }),
        "{:#?}",
        report.findings
    );
    let finding = file[0];
    assert!(
        finding.layer.as_deref().unwrap().starts_with("sha256:"),
        "{finding:?}"
    );
    let step = finding.step.as_deref().unwrap_or_default();
    assert!(step.contains("COPY .netrc /root/.netrc"), "{finding:?}");
    assert!(finding.to_string().contains("root/.netrc"), "{finding}");
    assert!(report.layers >= 3, "{report:?}");
}

#[test]
fn a_mounted_secret_copied_into_a_file_is_found_raw_and_in_base64() {
    let (tag, _guard) = build(
        "mounted",
        "FROM {base}\nRUN --mount=type=secret,id=tok echo {nonce} > /n && mkdir /app && cp /run/secrets/tok /app/tok.txt\nRUN --mount=type=secret,id=tok base64 /run/secrets/tok > /app/tok.b64\n",
        &[("tok", TOKEN)],
        &["--secret", "id=tok,src=tok"],
    );
    let report = scan(&tag, &[secret("--secret tok", TOKEN, None)]).unwrap();
    assert_no_value_shown(&report.findings);
    for path in ["app/tok.txt", "app/tok.b64"] {
        let finding = report
            .findings
            .iter()
            .find(|f| f.path.as_deref() == Some(path))
            .unwrap_or_else(|| panic!("no finding for {path}: {:#?}", report.findings));
        assert_eq!(
            finding.what,
            FindingKind::Secret {
                id: "--secret tok".into()
            }
        );
        assert!(finding.to_string().contains("--secret tok"), "{finding}");
        let step = finding.step.as_deref().unwrap_or_default();
        assert!(step.starts_with("RUN "), "{finding:?}");
        assert!(!step.contains("/bin/sh -c"), "{finding:?}");
    }
}

#[test]
fn a_credential_file_a_later_layer_deletes_still_ships_and_is_found() {
    let netrc = netrc_text();
    let (tag, _guard) = build(
        "deleted",
        "FROM {base}\nRUN echo {nonce} > /n\nCOPY .netrc /root/.netrc\nRUN rm /root/.netrc\n",
        &[(".netrc", &netrc)],
        &[],
    );
    // No secrets: the file's name is enough.
    let report = scan(&tag, &[]).unwrap();
    let finding = report
        .findings
        .iter()
        .find(|f| f.path.as_deref() == Some("root/.netrc"))
        .unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert!(matches!(finding.what, FindingKind::Credential { .. }));
    assert!(finding.deleted_later, "{finding:?}");
    assert!(
        finding.to_string().contains("deleted by a later layer"),
        "{finding}"
    );
}

#[test]
fn a_secret_passed_through_arg_into_env_is_found_in_the_config() {
    let (tag, _guard) = build(
        "argenv",
        "FROM {base}\nARG TOKEN\nENV API_TOKEN=$TOKEN\nRUN echo {nonce} > /n\n",
        &[],
        &["--build-arg", &format!("TOKEN={TOKEN}")],
    );
    let report = scan(&tag, &[secret("SHIPIMG_TOKEN", TOKEN, None)]).unwrap();
    assert_no_value_shown(&report.findings);
    assert!(
        report.findings.iter().any(|f| f.layer.is_none()
            && f.path.as_deref() == Some("config: Env API_TOKEN")
            && f.what
                == FindingKind::Secret {
                    id: "SHIPIMG_TOKEN".into()
                }),
        "{:#?}",
        report.findings
    );
}

#[test]
fn a_clean_two_stage_image_has_no_findings() {
    let netrc = netrc_text();
    let (tag, _guard) = build(
        "clean",
        "FROM {base} AS build\nRUN --mount=type=secret,id=netrc echo {nonce} && mkdir /out && wc -c /run/secrets/netrc > /out/size\nFROM {base}\nCOPY --from=build /out /out\n",
        &[("netrc", &netrc)],
        &["--secret", "id=netrc,src=netrc"],
    );
    let report = scan(&tag, &[netrc_secret(), secret("--secret tok", TOKEN, None)]).unwrap();
    assert!(report.is_clean(), "{:#?}", report.findings);
    assert!(report.files > 0 && report.bytes > 0, "{report:?}");
}

#[test]
fn scanning_an_image_that_does_not_exist_says_so() {
    let err = scan("shipimg-test/no-such-image:never", &[]).unwrap_err();
    assert!(matches!(err, ScanError::NoSuchImage { .. }), "{err:?}");
}

/// `-q scan` used to silence the findings and then say they were "listed above", and told the
/// user "nothing was pushed" though `scan` never pushes. The findings are part of the error:
/// they reach stderr whatever `-q` says.
#[test]
fn quiet_scan_still_lists_its_findings_and_does_not_talk_of_a_push() {
    let netrc = netrc_text();
    let (tag, _guard) = build(
        "quiet",
        "FROM {base}\nRUN echo guard-bugs-4-{nonce} > /n\nCOPY .netrc /root/.netrc\n",
        &[(".netrc", &netrc)],
        &[],
    );
    let home = tempfile::tempdir().unwrap();
    for quiet in [true, false] {
        let mut cmd = shipimg(home.path());
        cmd.env("DOCKER_HOST", Sandbox::get().docker_host());
        if quiet {
            cmd.arg("-q");
        }
        let out = Outcome::of(cmd.args(["scan", &tag])).code(3);
        let lines: Vec<&str> = out.stderr.lines().collect();
        let error = lines
            .iter()
            .position(|l| l.starts_with("error: secret found in image"))
            .unwrap_or_else(|| panic!("no error line\n{out}"));
        assert!(
            lines[..error].iter().any(|l| l.contains("root/.netrc")),
            "the finding is listed above the error (quiet: {quiet})\n{out}"
        );
        let hint = lines.get(error + 1).copied().unwrap_or_default();
        assert!(hint.starts_with("  hint: "), "{out}");
        assert!(!hint.contains("pushed"), "{out}");
        assert!(!out.stderr.contains(NETRC_PASSWORD), "{out}");
        assert!(out.stdout.is_empty(), "{out}");
    }
}
