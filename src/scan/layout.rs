//! Which images an exported archive holds, and which of its entries are their configs and
//! layers: the map the scan uses, once the whole stream is read, to name each layer.
//!
//! Two layouts reach the scan (`GET /images/get`, what `docker save` writes):
//!
//! - Docker 20.10: `manifest.json` lists, per image, its config (`<id>.json`) and its layer tars
//!   (`<id>/layer.tar`, plain), bottom first.
//! - Docker 25 and later: an OCI image layout (`oci-layout`, `index.json`, every blob under
//!   `blobs/sha256/<hex>`), plus a `manifest.json` whose `Config` and `Layers` point into
//!   `blobs/`. On the containerd image store the blobs are as stored (layers gzip or zstd) and
//!   `index.json` points to an image index holding the platform manifests and, for an image
//!   built with attestations, an attestation manifest (platform `unknown/unknown`, annotation
//!   `vnd.docker.reference.type: attestation-manifest`) whose layers are in-toto statements
//!   (provenance, SBOM). containerd's exporter writes a `manifest.json` entry for one platform
//!   manifest only, and never for an attestation (containerd `core/images/archive/exporter.go`),
//!   so the index is walked as well.
//!
//! `manifest.json` is read first and wins for every config it names: on the classic store,
//! Docker 25's OCI manifests list only foreign layers (moby `image/tarexport/save.go` builds them
//! from `foreignSrcs`), while its `manifest.json` lists every layer. The index walk then adds each
//! manifest whose config `manifest.json` does not name: the other platforms, the attestations,
//! and everything when there is no `manifest.json`. A manifest whose config is not in the archive
//! (containerd exports a platform's manifest without its content when that content is missing
//! locally) has nothing to map and is left out.
//!
//! The manifests and image indexes the walk reaches are listed too: they are pushed with the
//! image, so their annotations are searched for held secrets.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

/// How deep image indexes may nest under `index.json` (an index of indexes is already rare).
const MAX_DEPTH: usize = 4;

/// The annotation BuildKit puts on an attestation manifest's descriptor in the image index.
const REFERENCE_TYPE: &str = "vnd.docker.reference.type";

/// The annotation on an in-toto layer naming its predicate (`https://slsa.dev/provenance/v0.2`).
const PREDICATE_TYPE: &str = "in-toto.io/predicate-type";

/// One image (one manifest) of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Image {
    /// The config's path in the archive.
    pub config: String,
    /// Its layers, bottom first.
    pub layers: Vec<Layer>,
    /// Whether it is an attestation manifest: its layers are statements about the image (in-toto
    /// JSON), not a filesystem.
    pub attestation: bool,
    /// Whether `manifest.json` names it: its config must then be in the archive.
    pub listed: bool,
}

/// One layer of an [`Image`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layer {
    /// Its path in the archive.
    pub path: String,
    /// The in-toto predicate type an attestation layer holds, from its descriptor.
    pub predicate: Option<String>,
}

/// What the archive's JSON says it holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The images, `manifest.json`'s first, then those only the index names, in walk order.
    pub images: Vec<Image>,
    /// The manifest and image index blobs the index walk reached, by path.
    pub manifests: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
    #[serde(default)]
    annotations: HashMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

/// An image index or a manifest: told apart by which fields they have (`mediaType` is optional
/// in an OCI index, and Docker's media types differ from OCI's).
#[derive(Deserialize)]
struct Node {
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

/// Reads the layout from the archive's JSON files (by path); `resolve` follows the archive's
/// links. Errors are the reason the archive is not an image archive.
pub(crate) fn read_layout(
    json: &HashMap<String, Vec<u8>>,
    resolve: impl Fn(&str) -> String,
) -> Result<Layout, String> {
    let compat = json.get("manifest.json");
    let index = json.get("index.json");
    if compat.is_none() && index.is_none() {
        return Err("no `manifest.json` nor `index.json`".into());
    }
    let mut layout = Layout::default();
    if let Some(raw) = compat {
        let entries: Vec<ManifestEntry> =
            serde_json::from_slice(raw).map_err(|err| format!("bad `manifest.json`: {err}"))?;
        for entry in entries {
            layout.images.push(Image {
                config: resolve(&entry.config),
                layers: entry
                    .layers
                    .iter()
                    .map(|path| Layer {
                        path: resolve(path),
                        predicate: None,
                    })
                    .collect(),
                attestation: false,
                listed: true,
            });
        }
    }
    if let Some(raw) = index {
        let root: Node =
            serde_json::from_slice(raw).map_err(|err| format!("bad `index.json`: {err}"))?;
        let mut walk = Walk {
            json,
            resolve: &resolve,
            seen: HashSet::new(),
            images: Vec::new(),
            manifests: Vec::new(),
        };
        for descriptor in root.manifests.iter().flatten() {
            walk.descriptor(descriptor, false, 0)?;
        }
        let named: HashSet<String> = layout.images.iter().map(|i| i.config.clone()).collect();
        layout.images.extend(
            walk.images
                .into_iter()
                .filter(|image| !named.contains(&image.config)),
        );
        layout.manifests = walk.manifests;
    }
    Ok(layout)
}

struct Walk<'a, F> {
    json: &'a HashMap<String, Vec<u8>>,
    resolve: &'a F,
    seen: HashSet<String>,
    images: Vec<Image>,
    manifests: Vec<String>,
}

impl<F: Fn(&str) -> String> Walk<'_, F> {
    fn descriptor(
        &mut self,
        descriptor: &Descriptor,
        attestation: bool,
        depth: usize,
    ) -> Result<(), String> {
        let Some(path) = blob_path(&descriptor.digest) else {
            return Err(format!("bad digest `{}` in the index", descriptor.digest));
        };
        let path = (self.resolve)(&path);
        if depth > MAX_DEPTH || !self.seen.insert(path.clone()) {
            return Ok(());
        }
        let attestation = attestation
            || descriptor
                .annotations
                .get(REFERENCE_TYPE)
                .map(String::as_str)
                == Some("attestation-manifest")
            || descriptor
                .platform
                .as_ref()
                .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown");
        // A manifest the export left out (its content was missing locally) maps nothing.
        let Some(raw) = self.json.get(&path) else {
            return Ok(());
        };
        let node: Node =
            serde_json::from_slice(raw).map_err(|err| format!("bad manifest `{path}`: {err}"))?;
        self.manifests.push(path);
        for child in node.manifests.iter().flatten() {
            self.descriptor(child, attestation, depth + 1)?;
        }
        let Some(config) = node.config else {
            return Ok(());
        };
        let config = blob_path(&config.digest)
            .map(|p| (self.resolve)(&p))
            .ok_or_else(|| format!("bad config digest `{}`", config.digest))?;
        if !self.json.contains_key(&config) {
            return Ok(());
        }
        let mut layers = Vec::with_capacity(node.layers.len());
        for layer in &node.layers {
            let path = blob_path(&layer.digest)
                .ok_or_else(|| format!("bad layer digest `{}`", layer.digest))?;
            layers.push(Layer {
                path: (self.resolve)(&path),
                predicate: layer.annotations.get(PREDICATE_TYPE).cloned(),
            });
        }
        self.images.push(Image {
            config,
            layers,
            attestation,
            listed: false,
        });
        Ok(())
    }
}

/// `sha256:abc...` -> `blobs/sha256/abc...`; `None` for anything that is not `ALG:HEX`-shaped
/// (a digest never walks out of `blobs/`).
pub(crate) fn blob_path(digest: &str) -> Option<String> {
    let (algorithm, encoded) = digest.split_once(':')?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    let encoded_ok = !encoded.is_empty() && encoded.bytes().all(|b| b.is_ascii_alphanumeric());
    (algorithm_ok && encoded_ok).then(|| format!("blobs/{algorithm}/{encoded}"))
}

/// `blobs/sha256/abc...` -> `sha256:abc...`, for naming a blob.
pub(crate) fn blob_digest(path: &str) -> Option<String> {
    let rest = path.strip_prefix("blobs/")?;
    let (algorithm, encoded) = rest.split_once('/')?;
    (!encoded.contains('/')).then(|| format!("{algorithm}:{encoded}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u32) -> String {
        format!("sha256:{n:064x}")
    }

    fn path(n: u32) -> String {
        format!("blobs/sha256/{n:064x}")
    }

    fn files(entries: &[(String, serde_json::Value)]) -> HashMap<String, Vec<u8>> {
        entries
            .iter()
            .map(|(p, v)| (p.clone(), v.to_string().into_bytes()))
            .collect()
    }

    fn read(json: &HashMap<String, Vec<u8>>) -> Result<Layout, String> {
        read_layout(json, str::to_owned)
    }

    /// index.json -> image index -> a platform manifest and its attestation manifest.
    fn containerd_export(with_compat: bool) -> HashMap<String, Vec<u8>> {
        let mut entries = vec![
            (
                "index.json".to_owned(),
                serde_json::json!({"schemaVersion": 2, "manifests": [
                    {"mediaType": "application/vnd.oci.image.index.v1+json",
                     "digest": digest(1), "size": 1}]}),
            ),
            (
                path(1),
                serde_json::json!({"schemaVersion": 2, "manifests": [
                    {"digest": digest(2), "platform": {"architecture": "amd64", "os": "linux"}},
                    {"digest": digest(3),
                     "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                     "vnd.docker.reference.digest": digest(2)},
                     "platform": {"architecture": "unknown", "os": "unknown"}}]}),
            ),
            (
                path(2),
                serde_json::json!({"config": {"digest": digest(10)},
                    "layers": [{"digest": digest(11)}, {"digest": digest(12)}]}),
            ),
            (
                path(3),
                serde_json::json!({"config": {"digest": digest(20)},
                    "layers": [{"digest": digest(21), "annotations": {
                        "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}]}),
            ),
            (path(10), serde_json::json!({"rootfs": {"diff_ids": []}})),
            (path(20), serde_json::json!({"rootfs": {"diff_ids": []}})),
        ];
        if with_compat {
            entries.push((
                "manifest.json".to_owned(),
                serde_json::json!([{"Config": path(10), "Layers": [path(11), path(12)]}]),
            ));
        }
        files(&entries)
    }

    #[test]
    fn the_index_walk_finds_the_platform_manifest_and_its_attestation() {
        for with_compat in [false, true] {
            let layout = read(&containerd_export(with_compat)).unwrap();
            let configs: Vec<(&str, bool, bool)> = layout
                .images
                .iter()
                .map(|i| (i.config.as_str(), i.attestation, i.listed))
                .collect();
            assert_eq!(
                configs,
                [
                    (path(10).as_str(), false, with_compat),
                    (path(20).as_str(), true, false)
                ],
                "with manifest.json: {with_compat}"
            );
            let layers: Vec<&str> = layout.images[0]
                .layers
                .iter()
                .map(|l| l.path.as_str())
                .collect();
            assert_eq!(layers, [path(11), path(12)]);
            assert_eq!(
                layout.images[1].layers[0].predicate.as_deref(),
                Some("https://slsa.dev/provenance/v0.2")
            );
            assert_eq!(layout.manifests, [path(1), path(2), path(3)]);
        }
    }

    #[test]
    fn manifest_json_wins_over_a_manifest_listing_only_foreign_layers() {
        // Docker 25's classic store: the OCI manifest in blobs/ lists no layers.
        let json = files(&[
            (
                "manifest.json".to_owned(),
                serde_json::json!([{"Config": path(10), "Layers": [path(11)]}]),
            ),
            (
                "index.json".to_owned(),
                serde_json::json!({"manifests": [{"digest": digest(2)}]}),
            ),
            (
                path(2),
                serde_json::json!({"config": {"digest": digest(10)}, "layers": []}),
            ),
            (path(10), serde_json::json!({})),
        ]);
        let layout = read(&json).unwrap();
        assert_eq!(layout.images.len(), 1);
        assert_eq!(layout.images[0].layers[0].path, path(11));
    }

    #[test]
    fn a_manifest_exported_without_its_content_maps_nothing() {
        let mut json = containerd_export(false);
        json.remove(&path(3));
        json.remove(&path(10));
        let layout = read(&json).unwrap();
        assert_eq!(layout.images, []);
        assert_eq!(layout.manifests, [path(1), path(2)]);
    }

    #[test]
    fn bad_digests_and_archives_without_either_file_are_errors() {
        assert!(read(&HashMap::new()).is_err());
        let json = files(&[(
            "index.json".to_owned(),
            serde_json::json!({"manifests": [{"digest": "sha256:../../etc/passwd"}]}),
        )]);
        assert!(read(&json).is_err());
        assert_eq!(blob_path("sha256:ab/cd"), None);
        assert_eq!(
            blob_path("sha256:abCD12").as_deref(),
            Some("blobs/sha256/abCD12")
        );
        assert_eq!(
            blob_digest("blobs/sha256/abcd").as_deref(),
            Some("sha256:abcd")
        );
    }
}
