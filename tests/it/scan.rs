//! The leak scan against real images: built with the sandbox engine's docker CLI (BuildKit), then
//! exported and scanned through the engine API by `shipimg::scan::scan_image`.

use std::io::Read;
use std::process::Command;

use secrecy::SecretSlice;
use shipimg::engine::Engine;
use shipimg::engine::endpoint::{Endpoint, EndpointEnv, Source, parse_host};
use shipimg::leak::shapes::CredentialKind;
use shipimg::scan::{Finding, FindingKind, Part, ScanError, ScanReport, ScanSecret, scan_image};

use crate::common::{ImageGuard, Outcome, Sandbox, build_lock, busybox, shipimg, unique_image};

const NETRC_PASSWORD: &str = "netrc-Passw0rd-for-scan";
const TOKEN: &str = "tok-Value-4-scan-tests";

fn nonce() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}-{}", std::process::id(), now.as_nanos())
}

/// A build context: `dockerfile` (its `{base}` and `{nonce}` filled in) and these files.
fn context(dockerfile: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = dockerfile
        .replace("{base}", busybox())
        .replace("{nonce}", &nonce());
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// Builds `dockerfile` (its `{base}` and `{nonce}` filled in) with these context files and
/// extra `docker build` arguments; returns the tag and its clean-up guard.
fn build(
    what: &str,
    dockerfile: &str,
    files: &[(&str, &str)],
    args: &[&str],
) -> (String, ImageGuard) {
    let dir = context(dockerfile, files);
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

/// Whether the sandbox engine keeps images in the containerd image store (the sandbox's Docker
/// 28), whose export is an OCI layout with layers as built and attestation manifests; Docker
/// 20.10's classic store exports plain layer tars and has no attestations.
fn containerd_store() -> bool {
    let info =
        Outcome::of(
            Sandbox::get()
                .docker()
                .args(["info", "--format", "{{json .DriverStatus}}"]),
        )
        .success();
    info.stdout.contains("io.containerd.snapshotter")
}

/// What the engine's export of `image` holds, read with the docker CLI and the tar crate
/// independently of the scanner: how many entries are zstd streams, and whether one is an image
/// index naming an attestation manifest.
fn export_holds(image: &str) -> (usize, bool) {
    let out = Sandbox::get()
        .docker()
        .args(["save", image])
        .output()
        .unwrap();
    assert!(out.status.success(), "docker save {image}: {out:?}");
    let (mut zstd, mut attestation) = (0, false);
    let mut archive = tar::Archive::new(&out.stdout[..]);
    for entry in archive.entries().unwrap() {
        let mut data = Vec::new();
        entry.unwrap().read_to_end(&mut data).unwrap();
        zstd += usize::from(data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]));
        attestation |= data.starts_with(b"{")
            && String::from_utf8_lossy(&data).contains("\"attestation-manifest\"");
    }
    (zstd, attestation)
}

/// The diff ids the engine lists for `image`, bottom first.
fn engine_diff_ids(image: &str) -> Vec<String> {
    let out = Outcome::of(Sandbox::get().docker().args([
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        image,
    ]))
    .success();
    serde_json::from_str(out.stdout.trim()).unwrap()
}

/// Builds the context in `dir` as `tag` with the standalone buildx (the docker driver) on the
/// containerd store: every layer compressed with zstd, and a provenance attestation in full
/// (`mode=max` records the build arguments).
fn build_zstd_with_provenance(dir: &std::path::Path, tag: &str, args: &[&str]) {
    let sandbox = Sandbox::get();
    let config = tempfile::tempdir().unwrap();
    let output = format!("type=image,name={tag},compression=zstd,force-compression=true");
    let _lock = build_lock();
    Outcome::of(
        Command::new(sandbox.var("SANDBOX_BUILDX"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", config.path())
            .env("DOCKER_CONFIG", config.path())
            .env("DOCKER_HOST", sandbox.docker_host())
            .current_dir(dir)
            .args(["build", "--progress", "plain", "--provenance", "mode=max"])
            .args(["--output", &output])
            .args(args)
            .arg("."),
    )
    .success();
}

/// The containerd store's export is an OCI layout: layers as built (zstd here), an attestation
/// manifest whose provenance statement holds the build arguments, no `<id>/layer.tar`. The netrc
/// in a zstd layer is found and named by the diff id the engine lists, and a held value passed
/// as a build argument is found in the attestation (it would ship to the registry with the
/// image). Docker 20.10 cannot make such an image: there the same Dockerfile is built with
/// `docker build`, and its 20.10 layout scanned: the netrc found by diff id, the argument
/// nowhere. Either way the test says which layout it scanned.
#[test]
fn an_oci_export_with_zstd_layers_and_an_attestation_is_scanned_and_mapped_by_diff_id() {
    let netrc = netrc_text();
    let dir = context(
        "FROM {base}\nRUN echo {nonce} > /n\nCOPY .netrc /root/.netrc\nCOPY app.txt /app/\n",
        &[(".netrc", &netrc), ("app.txt", "hello\n")],
    );
    let tag = unique_image("scan-oci");
    let _guard = ImageGuard::new([tag.clone()]);
    let arg = format!("TOKEN={TOKEN}");
    let containerd = containerd_store();
    if containerd {
        build_zstd_with_provenance(dir.path(), &tag, &["--build-arg", &arg]);
        let (zstd, attestation) = export_holds(&tag);
        assert!(zstd >= 3, "every layer should be zstd: {zstd} zstd entries");
        assert!(attestation, "the export holds no attestation manifest");
        eprintln!(
            "containerd store: scanning an OCI layout with {zstd} zstd blobs and an attestation"
        );
    } else {
        let _lock = build_lock();
        Outcome::of(Sandbox::get().docker().current_dir(dir.path()).args([
            "build",
            "--progress",
            "plain",
            "-t",
            &tag,
            "--build-arg",
            &arg,
            ".",
        ]))
        .success();
        eprintln!(
            "classic store (Docker 20.10): no zstd layers nor attestations here; scanning its `docker save` layout"
        );
    }
    let held = [netrc_secret(), secret("--build-arg TOKEN", TOKEN, None)];
    let report = scan(&tag, &held).unwrap();
    assert_no_value_shown(&report.findings);
    let diff_ids = engine_diff_ids(&tag);
    assert_eq!(report.diff_ids, diff_ids);
    // The netrc, in the layer under the last COPY, by its diff id and step, found by its name
    // and its value.
    let netrc_layer = diff_ids.len() - 2;
    let in_netrc: Vec<&FindingKind> = report
        .findings
        .iter()
        .filter(|f| f.path.as_deref() == Some("root/.netrc"))
        .map(|f| {
            assert_eq!(f.part, Part::Layer, "{f:?}");
            assert_eq!(f.layer_index, Some(netrc_layer), "{f:?}");
            assert_eq!(f.layer.as_ref(), Some(&diff_ids[netrc_layer]), "{f:?}");
            assert!(
                f.step
                    .as_deref()
                    .unwrap_or_default()
                    .contains("COPY .netrc /root/.netrc")
            );
            &f.what
        })
        .collect();
    assert!(
        in_netrc.contains(&&FindingKind::Secret { id: "netrc".into() })
            && in_netrc.iter().any(|w| matches!(
                w,
                FindingKind::Credential {
                    kind: CredentialKind::Netrc,
                    ..
                }
            )),
        "{:#?}",
        report.findings
    );
    let attested: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.part == Part::Attestation)
        .collect();
    if containerd {
        assert_eq!(attested.len(), 1, "{:#?}", report.findings);
        let f = attested[0];
        assert_eq!(
            f.what,
            FindingKind::Secret {
                id: "--build-arg TOKEN".into()
            }
        );
        assert_eq!(f.path.as_deref(), Some("https://slsa.dev/provenance/v0.2"));
        let statement = f.layer.as_deref().unwrap();
        assert!(statement.starts_with("sha256:") && !diff_ids.iter().any(|d| d == statement));
        assert!(
            f.to_string().starts_with("attestation layer 1 (sha256:"),
            "{f}"
        );
    } else {
        assert_eq!(attested.len(), 0, "{:#?}", report.findings);
    }
    // Nothing else: the Dockerfile declares no `ARG TOKEN`, so no step records the argument
    // (BuildKit's provenance records every argument given, used or not).
    let other: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.part != Part::Attestation && f.path.as_deref() != Some("root/.netrc"))
        .collect();
    assert!(other.is_empty(), "{other:#?}");
}
