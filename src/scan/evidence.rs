//! Which files of an image are third-party content, by evidence the image itself carries: the
//! `RECORD` of an installed Python distribution and the `md5sums` of a Debian package, each
//! listing the files it installed with their hashes.
//!
//! Evidence only ever *relaxes the noisy rules* (private keys, tokens, URLs with credentials:
//! [`CredentialKind::is_noisy`](crate::leak::shapes::CredentialKind::is_noisy)); real dependency
//! trees ship test keys, example tokens and documented URLs, and without it no image with
//! Twisted in it could ever be pushed. It never relaxes the strict rules (netrc, docker config,
//! Google keys, ...) nor a held secret's value, and it does not grant trust: a `RUN` step can
//! write a `RECORD` too. What counts:
//!
//! - a file a `*.dist-info/RECORD` lists with a matching `sha256`, where that distribution was
//!   installed from an index: one with a `direct_url.json` (PEP 610: the user's own project, a
//!   local path, a VCS checkout) gives no evidence;
//! - a file a `var/lib/dpkg/info/*.md5sums` lists with a matching MD5.
//!
//! A listed file whose hash does not match (changed after it was installed, in its layer or a
//! later one), and anything a `RUN` step wrote that no package lists, get every rule. Compiled
//! `.pyc` files are binary, and binary files never get the noisy rules, so they need no
//! evidence of their own.
//!
//! The lists are read from the image's own layers as the scan streams them, in any order
//! relative to the files they describe: the index keeps, per listed path, a 64-bit hash of the
//! path and the file's digest (40-odd bytes an entry), up to [`MAX_ENTRIES`].

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use md5::Md5;
use sha2::{Digest, Sha256};

/// Entries the index keeps at most (about 50 MB); past it, further lists give no evidence, so
/// the files they list get every rule.
pub const MAX_ENTRIES: usize = 1 << 20;

/// The largest `RECORD` or `md5sums` file read (botocore's `RECORD` is under 1 MiB).
pub const MAX_LIST_BYTES: usize = 32 << 20;

/// What kind of package list a path in a layer is, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListFile {
    /// `DIR/NAME.dist-info/RECORD`: the dist-info directory.
    Record(String),
    /// `DIR/NAME.dist-info/direct_url.json`: the dist-info directory.
    DirectUrl(String),
    /// `var/lib/dpkg/info/PKG.md5sums`: the package name (with its `:arch`, if any).
    Md5sums(String),
}

impl ListFile {
    /// Whether `path` (a layer path, no leading `/`) is a package list.
    pub fn classify(path: &str) -> Option<ListFile> {
        let (dir, name) = path.rsplit_once('/')?;
        if dir.ends_with(".dist-info") {
            return match name {
                "RECORD" => Some(ListFile::Record(dir.to_owned())),
                "direct_url.json" => Some(ListFile::DirectUrl(dir.to_owned())),
                _ => None,
            };
        }
        if dir == "var/lib/dpkg/info" {
            return name
                .strip_suffix(".md5sums")
                .map(|package| ListFile::Md5sums(package.to_owned()));
        }
        None
    }

    /// Whether the list's bytes are needed (a `direct_url.json` counts by being there).
    pub fn wants_content(&self) -> bool {
        !matches!(self, ListFile::DirectUrl(_))
    }
}

/// A file's content digests, as far as they were computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digests {
    /// SHA-256, as `RECORD` lists it.
    pub sha256: Option<[u8; 32]>,
    /// MD5, as `md5sums` lists it.
    pub md5: Option<[u8; 16]>,
}

impl Digests {
    /// Both digests of `bytes`, a whole file.
    pub fn of(bytes: &[u8]) -> Digests {
        Digests {
            sha256: Some(Sha256::digest(bytes).into()),
            md5: Some(Md5::digest(bytes).into()),
        }
    }
}

/// Digests computed as a file streams by, chunk by chunk.
#[derive(Default)]
pub struct StreamDigests {
    sha256: Option<Sha256>,
    md5: Option<Md5>,
}

impl StreamDigests {
    /// Hashes with SHA-256, and with MD5 when `md5` (files under a `site-packages` directory are
    /// never a Debian package's: Debian installs Python packages under `dist-packages`).
    pub fn new(md5: bool) -> StreamDigests {
        StreamDigests {
            sha256: Some(Sha256::new()),
            md5: md5.then(Md5::new),
        }
    }

    /// Whether it hashes anything.
    pub fn is_active(&self) -> bool {
        self.sha256.is_some() || self.md5.is_some()
    }

    /// Feeds the file's next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        if let Some(sha) = &mut self.sha256 {
            sha.update(bytes);
        }
        if let Some(md5) = &mut self.md5 {
            md5.update(bytes);
        }
    }

    /// The digests of everything fed.
    pub fn finish(self) -> Digests {
        Digests {
            sha256: self.sha256.map(|h| h.finalize().into()),
            md5: self.md5.map(|h| h.finalize().into()),
        }
    }
}

/// Whether a file at `path` may be a Debian package's (see [`StreamDigests::new`]).
pub fn may_be_debian(path: &str) -> bool {
    !path.contains("/site-packages/")
}

/// Which list vouches for a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Provenance {
    /// A Python distribution's `RECORD`: its dist-info directory.
    Record(String),
    /// A Debian package's `md5sums`: the package.
    Debian(String),
}

impl std::fmt::Display for Provenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Provenance::Record(dist) => write!(f, "`{dist}/RECORD`"),
            Provenance::Debian(package) => write!(f, "Debian package `{package}`'s md5sums"),
        }
    }
}

/// What the evidence says of one file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Installed from an index, unchanged: third-party content.
    ThirdParty(Provenance),
    /// No list names the file.
    Unlisted,
    /// A list names it with another hash: it changed after it was installed.
    Changed(Provenance),
    /// Its distribution was installed from a local path or a VCS checkout (it has a
    /// `direct_url.json`): the user's own code.
    DirectInstall(String),
    /// The index was full when the list that may name it was read.
    IndexFull,
}

impl Verdict {
    /// Whether the file is third-party content.
    pub fn is_third_party(&self) -> bool {
        matches!(self, Verdict::ThirdParty(_))
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::ThirdParty(p) => write!(f, "third-party: {p} lists it with this hash"),
            Verdict::Unlisted => f.write_str("no package lists it (no RECORD, no md5sums)"),
            Verdict::Changed(p) => {
                write!(f, "{p} lists it with another hash: changed after install")
            }
            Verdict::DirectInstall(dist) => write!(
                f,
                "`{dist}` was installed from a local path or VCS (direct_url.json): the project's own code"
            ),
            Verdict::IndexFull => {
                f.write_str("the image lists more package files than the scan keeps evidence for")
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Entry {
    Record { sha256: [u8; 32], dist: u32 },
    Debian { md5: [u8; 16], package: u32 },
}

/// The package lists read so far, from one layer or merged from all.
#[derive(Debug, Default)]
pub struct EvidenceIndex {
    entries: HashMap<u64, Vec<Entry>>,
    count: usize,
    full: bool,
    /// Dist-info directories and Debian package names, by the index entries hold.
    names: Vec<String>,
    /// Dist-info directories that hold a `direct_url.json`.
    direct: HashSet<String>,
}

fn path_key(path: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut hasher);
    hasher.finish()
}

impl EvidenceIndex {
    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.direct.is_empty() && !self.full
    }

    fn name(&mut self, name: &str) -> u32 {
        self.names.push(name.to_owned());
        (self.names.len() - 1) as u32
    }

    fn insert(&mut self, path: &str, entry: Entry) {
        if self.count >= MAX_ENTRIES {
            self.full = true;
            return;
        }
        self.count += 1;
        self.entries.entry(path_key(path)).or_default().push(entry);
    }

    /// Adds what `list` (a file read from a layer, `bytes` its content) says.
    pub fn add(&mut self, list: &ListFile, bytes: &[u8]) {
        match list {
            ListFile::Record(dist) => self.add_record(dist, bytes),
            ListFile::DirectUrl(dist) => {
                self.direct.insert(dist.clone());
            }
            ListFile::Md5sums(package) => self.add_md5sums(package, bytes),
        }
    }

    /// A `RECORD` (CSV: `path,sha256=URLSAFE_B64,size`) of the dist-info directory `dist`; paths
    /// are relative to the directory that holds `dist`. Lines without a SHA-256 (the `RECORD`
    /// itself, `.pyc` files pip compiled) give no evidence.
    fn add_record(&mut self, dist: &str, bytes: &[u8]) {
        let base = dist.rsplit_once('/').map_or("", |(base, _)| base);
        let id = self.name(dist);
        for line in bytes.split(|&b| b == b'\n') {
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            let Some((path, rest)) = split_csv_path(line.trim_end_matches('\r')) else {
                continue;
            };
            let Some(hash) = rest
                .split(',')
                .next()
                .and_then(|h| h.strip_prefix("sha256="))
            else {
                continue;
            };
            let Some(sha256) = URL_SAFE_NO_PAD
                .decode(hash.trim_end_matches('='))
                .ok()
                .and_then(|d| <[u8; 32]>::try_from(d).ok())
            else {
                continue;
            };
            let path = match path.strip_prefix('/') {
                Some(absolute) => resolve(absolute),
                None => resolve(&format!("{base}/{path}")),
            };
            if let Some(path) = path {
                self.insert(&path, Entry::Record { sha256, dist: id });
            }
        }
    }

    /// An `md5sums` (`HEX  path` lines, paths relative to `/`) of the Debian package `package`.
    fn add_md5sums(&mut self, package: &str, bytes: &[u8]) {
        let id = self.name(package);
        for line in bytes.split(|&b| b == b'\n') {
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            let Some((hex, path)) = line.split_once("  ") else {
                continue;
            };
            let Some(md5) = crate::hex::decode::<16>(hex.trim()) else {
                continue;
            };
            if let Some(path) = resolve(path.trim_end_matches('\r')) {
                self.insert(&path, Entry::Debian { md5, package: id });
            }
        }
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: EvidenceIndex) {
        let offset = self.names.len() as u32;
        self.names.extend(other.names);
        self.direct.extend(other.direct);
        self.full |= other.full;
        for (key, entries) in other.entries {
            for entry in entries {
                if self.count >= MAX_ENTRIES {
                    self.full = true;
                    return;
                }
                self.count += 1;
                let entry = match entry {
                    Entry::Record { sha256, dist } => Entry::Record {
                        sha256,
                        dist: dist + offset,
                    },
                    Entry::Debian { md5, package } => Entry::Debian {
                        md5,
                        package: package + offset,
                    },
                };
                self.entries.entry(key).or_default().push(entry);
            }
        }
    }

    /// What the lists say of the file at `path` (a layer path) with these digests.
    pub fn judge(&self, path: &str, digests: &Digests) -> Verdict {
        let Some(entries) = self.entries.get(&path_key(path)) else {
            return match self.full {
                true => Verdict::IndexFull,
                false => Verdict::Unlisted,
            };
        };
        let mut worst: Option<Verdict> = None;
        for entry in entries {
            let (matched, provenance) = match *entry {
                Entry::Record { sha256, dist } => {
                    let dist = &self.names[dist as usize];
                    if self.direct.contains(dist) {
                        worst = Some(Verdict::DirectInstall(dist.clone()));
                        continue;
                    }
                    (
                        digests.sha256 == Some(sha256),
                        Provenance::Record(dist.clone()),
                    )
                }
                Entry::Debian { md5, package } => (
                    digests.md5 == Some(md5),
                    Provenance::Debian(self.names[package as usize].clone()),
                ),
            };
            if matched {
                return Verdict::ThirdParty(provenance);
            }
            if worst.is_none() {
                worst = Some(Verdict::Changed(provenance));
            }
        }
        worst.unwrap_or(Verdict::Unlisted)
    }
}

/// A `RECORD` line's path (CSV: quoted when it holds a comma or a quote) and the rest.
fn split_csv_path(line: &str) -> Option<(String, &str)> {
    if let Some(quoted) = line.strip_prefix('"') {
        let mut path = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '"' {
                path.push(c);
                continue;
            }
            match quoted[i + 1..].strip_prefix('"') {
                Some(_) => {
                    path.push('"');
                    chars.next();
                }
                None => return Some((path, quoted[i + 1..].strip_prefix(',')?)),
            }
        }
        return None;
    }
    let (path, rest) = line.split_once(',')?;
    (!path.is_empty()).then(|| (path.to_owned(), rest))
}

/// `a/b/../c/./d` -> `a/c/d`, without a leading `/`; `None` if it climbs above the root.
fn resolve(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SP: &str = "opt/venv/lib/python3.11/site-packages";

    fn record_line(path: &str, content: &[u8]) -> String {
        let sha = URL_SAFE_NO_PAD.encode(Sha256::digest(content));
        format!("{path},sha256={sha},{}\n", content.len())
    }

    fn index_with_record(dist: &str, lines: &str) -> EvidenceIndex {
        let mut index = EvidenceIndex::default();
        index.add(&ListFile::Record(format!("{SP}/{dist}")), lines.as_bytes());
        index
    }

    #[test]
    fn list_files_are_known_by_their_place() {
        assert_eq!(
            ListFile::classify(&format!("{SP}/Twisted-24.11.0.dist-info/RECORD")),
            Some(ListFile::Record(format!("{SP}/Twisted-24.11.0.dist-info")))
        );
        assert_eq!(
            ListFile::classify("var/lib/dpkg/info/libgnutls30:amd64.md5sums"),
            Some(ListFile::Md5sums("libgnutls30:amd64".into()))
        );
        assert!(matches!(
            ListFile::classify(&format!("{SP}/app-1.0.dist-info/direct_url.json")),
            Some(ListFile::DirectUrl(_))
        ));
        assert_eq!(ListFile::classify("RECORD"), None);
        assert_eq!(ListFile::classify(&format!("{SP}/x/RECORD")), None);
        assert_eq!(ListFile::classify("etc/dpkg/info/x.md5sums"), None);
    }

    #[test]
    fn a_file_its_record_lists_with_its_hash_is_third_party() {
        let pem = b"-----BEGIN RSA PRIVATE KEY-----\n...";
        let index = index_with_record(
            "Twisted-24.11.0.dist-info",
            &record_line("twisted/test/server.pem", pem),
        );
        let verdict = index.judge(&format!("{SP}/twisted/test/server.pem"), &Digests::of(pem));
        assert_eq!(
            verdict,
            Verdict::ThirdParty(Provenance::Record(format!(
                "{SP}/Twisted-24.11.0.dist-info"
            )))
        );
    }

    #[test]
    fn a_changed_file_an_unlisted_file_and_a_direct_install_get_every_rule() {
        let index = index_with_record(
            "Twisted-24.11.0.dist-info",
            &record_line("twisted/test/server.pem", b"original"),
        );
        let path = format!("{SP}/twisted/test/server.pem");
        assert!(matches!(
            index.judge(&path, &Digests::of(b"changed")),
            Verdict::Changed(_)
        ));
        assert_eq!(
            index.judge(&format!("{SP}/twisted/test/other.pem"), &Digests::of(b"x")),
            Verdict::Unlisted
        );
        // No digest computed: never third-party.
        assert!(matches!(
            index.judge(&path, &Digests::default()),
            Verdict::Changed(_)
        ));

        let mut own = index_with_record("app-1.0.dist-info", &record_line("app/key.pem", b"k"));
        own.add(
            &ListFile::DirectUrl(format!("{SP}/app-1.0.dist-info")),
            b"{}",
        );
        assert!(matches!(
            own.judge(&format!("{SP}/app/key.pem"), &Digests::of(b"k")),
            Verdict::DirectInstall(_)
        ));
    }

    #[test]
    fn record_paths_climb_out_of_site_packages_and_quoted_paths_parse() {
        let lines = format!(
            "{}{}\"odd,name.txt\",sha256={},3\nx/__pycache__/y.cpython-311.pyc,,\nbroken\n",
            record_line("../../../bin/twistd", b"#!python"),
            record_line("pkg/a.py", b"a"),
            URL_SAFE_NO_PAD.encode(Sha256::digest(b"odd")),
        );
        let index = index_with_record("pkg-1.dist-info", &lines);
        assert!(
            index
                .judge("opt/venv/bin/twistd", &Digests::of(b"#!python"))
                .is_third_party()
        );
        assert!(
            index
                .judge(&format!("{SP}/odd,name.txt"), &Digests::of(b"odd"))
                .is_third_party()
        );
        assert_eq!(
            split_csv_path("\"a\"\"b\",h,1"),
            Some(("a\"b".into(), "h,1"))
        );
    }

    #[test]
    fn md5sums_vouch_for_debian_files() {
        let mut index = EvidenceIndex::default();
        let md5: [u8; 16] = Md5::digest(b"lib").into();
        let hex = crate::hex::encode(&md5);
        index.add(
            &ListFile::Md5sums("libgnutls30:amd64".into()),
            format!("{hex}  usr/lib/x86_64-linux-gnu/libgnutls.so.30.34.3\n").as_bytes(),
        );
        let path = "usr/lib/x86_64-linux-gnu/libgnutls.so.30.34.3";
        assert_eq!(
            index.judge(path, &Digests::of(b"lib")),
            Verdict::ThirdParty(Provenance::Debian("libgnutls30:amd64".into()))
        );
        assert!(matches!(
            index.judge(path, &Digests::of(b"other")),
            Verdict::Changed(_)
        ));
    }

    #[test]
    fn merged_indexes_keep_their_names_apart() {
        let mut a = index_with_record("a-1.dist-info", &record_line("a/x.pem", b"a"));
        let b = index_with_record("b-1.dist-info", &record_line("b/x.pem", b"b"));
        a.merge(b);
        assert_eq!(
            a.judge(&format!("{SP}/b/x.pem"), &Digests::of(b"b")),
            Verdict::ThirdParty(Provenance::Record(format!("{SP}/b-1.dist-info")))
        );
    }

    #[test]
    fn a_full_index_gives_no_evidence_for_what_it_dropped() {
        let mut index = EvidenceIndex {
            count: MAX_ENTRIES,
            ..EvidenceIndex::default()
        };
        index.add(
            &ListFile::Record(format!("{SP}/late-1.dist-info")),
            record_line("late/x.pem", b"x").as_bytes(),
        );
        assert_eq!(
            index.judge(&format!("{SP}/late/x.pem"), &Digests::of(b"x")),
            Verdict::IndexFull
        );
    }
}
