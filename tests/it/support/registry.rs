//! The sandbox registry as the tests read it: what it holds, asked over its HTTP API with curl
//! (never through shipimg), so a test asserts on what really reached the registry.

use std::process::{Command, Stdio};

use crate::common::{Sandbox, registry_password};

/// A repository of this test's own in the sandbox registry.
pub fn repository(what: &str) -> String {
    format!(
        "{}/shipimg-test/{what}-{}",
        Sandbox::get().var("SANDBOX_REGISTRY"),
        std::process::id()
    )
}

/// Every manifest type a registry may hold for an image: a registry answers 404 for an OCI
/// manifest (what the containerd image store pushes) to a client that does not accept it.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// `GET http://REGISTRY/v2/<path>` on the sandbox registry with its login, asked with curl (the
/// password goes on curl's stdin, not its command line): the status line and headers, and the
/// body.
fn registry_get(repo: &str, path: &str, head: bool) -> (String, Vec<u8>) {
    let sandbox = Sandbox::get();
    let (host, name) = repo.split_once('/').unwrap();
    let mut child = Command::new("curl")
        .args(["-s", "-D", "/dev/stderr", "-K", "-"])
        .args(if head { &["-I"][..] } else { &[][..] })
        .arg("-H")
        .arg(format!("Accept: {MANIFEST_TYPES}"))
        .arg(format!("http://{host}/v2/{name}/{path}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(
        child.stdin.take().unwrap(),
        "user = \"{}:{}\"",
        sandbox.var("SANDBOX_REGISTRY_USERNAME"),
        registry_password(sandbox)
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.stdout,
    )
}

/// The digest the registry itself reports for `repo:tag`.
pub fn registry_digest(repo: &str, tag: &str) -> Option<String> {
    let (headers, _) = registry_get(repo, &format!("manifests/{tag}"), true);
    if !headers.starts_with("HTTP/1.1 200") {
        return None;
    }
    headers
        .lines()
        .find_map(|l| l.strip_prefix("Docker-Content-Digest: "))
        .map(|d| d.trim().to_owned())
}

/// `sha256:` and the hex SHA-256 of `bytes`.
fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(bytes);
    format!(
        "sha256:{}",
        hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// A blob or manifest of `repo` by digest, checked against that digest.
fn registry_content(repo: &str, kind: &str, digest: &str) -> Vec<u8> {
    let (headers, body) = registry_get(repo, &format!("{kind}/{digest}"), false);
    assert!(
        headers.starts_with("HTTP/1.1 200"),
        "{repo} {kind}/{digest}: {headers}"
    );
    assert_eq!(sha256(&body), digest, "{repo} {kind}/{digest}");
    body
}

/// The config blob digest of the image the registry holds at `repo@digest`, read the long way:
/// the manifest, or for an index its manifest for `platform` (`os/arch`), never an attestation;
/// and the config blob itself is fetched and hashed.
pub fn registry_config_digest(repo: &str, digest: &str, platform: &str) -> String {
    let manifest: serde_json::Value =
        serde_json::from_slice(&registry_content(repo, "manifests", digest)).unwrap();
    let manifest = match manifest["manifests"].as_array() {
        Some(entries) => {
            let image = entries
                .iter()
                .find(|m| {
                    format!("{}/{}", m["platform"]["os"], m["platform"]["architecture"])
                        .replace('"', "")
                        == platform
                })
                .unwrap_or_else(|| panic!("no {platform} manifest in {manifest}"));
            serde_json::from_slice(&registry_content(
                repo,
                "manifests",
                image["digest"].as_str().unwrap(),
            ))
            .unwrap()
        }
        None => manifest,
    };
    let config = manifest["config"]["digest"].as_str().unwrap().to_owned();
    registry_content(repo, "blobs", &config);
    config
}

/// The tags the registry lists for `repo` (none when it does not know the repository).
pub fn registry_tags(repo: &str) -> Vec<String> {
    let (headers, body) = registry_get(repo, "tags/list", false);
    if !headers.starts_with("HTTP/1.1 200") {
        return Vec::new();
    }
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    list["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
