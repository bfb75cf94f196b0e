//! The image-side allow list: files a team has looked at and accepts, so a finding on them does
//! not stop the push. Each entry is a path pattern in `.dockerignore` syntax, matched against
//! the path in the image (`opt/venv/lib/python3.11/site-packages/twisted/test/*.pem`, a leading
//! `/` allowed; a directory allows everything under it), or `sha256:HEX`, the digest of one
//! file's content, which keeps allowing that content wherever it moves and stops the moment it
//! changes.
//!
//! An allowed finding is still reported, as a note, and recorded in `--metadata-file`. The list
//! accepts credentials found by their shape, never a secret value the build holds: the build's
//! own secret in its image is a leak whatever a list says.

use crate::context::ignore::{Matcher, parse_exclude_patterns};

/// One entry, as written.
#[derive(Debug, Clone)]
enum Rule {
    Path(Matcher),
    Digest([u8; 32]),
}

/// The allow list; empty by default.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    entries: Vec<(String, Rule)>,
}

/// Two lists are equal when their entries, as written, are.
impl PartialEq for AllowList {
    fn eq(&self, other: &Self) -> bool {
        self.entries().eq(other.entries())
    }
}

impl Eq for AllowList {}

/// An entry that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("`{entry}` is not an allow-list entry: {reason}")]
pub struct AllowError {
    /// The entry as written.
    pub entry: String,
    /// Why.
    pub reason: String,
}

impl AllowError {
    /// How to write one.
    pub fn hint(&self) -> &'static str {
        "give a path in the image (`.dockerignore` patterns: `*`, `?`, `**`) or `sha256:` and the 64 hex digits of the file's SHA-256"
    }
}

impl AllowList {
    /// Reads `entries` (paths or `sha256:` digests).
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Result<AllowList, AllowError> {
        let mut list = AllowList::default();
        for entry in entries {
            let entry = entry.as_ref().trim();
            let error = |reason: &str| AllowError {
                entry: entry.to_owned(),
                reason: reason.to_owned(),
            };
            if entry.is_empty() {
                return Err(error("it is empty"));
            }
            let rule = if let Some(hex) = entry.strip_prefix("sha256:") {
                Rule::Digest(
                    crate::hex::decode::<32>(hex)
                        .ok_or_else(|| error("a digest is 64 hex digits"))?,
                )
            } else {
                if entry.starts_with('!') {
                    return Err(error("exceptions (`!`) have no meaning here"));
                }
                let patterns = parse_exclude_patterns(&[entry.trim_start_matches('/')])
                    .map_err(|err| error(&err.to_string()))?;
                Rule::Path(Matcher::new(patterns).map_err(|err| error(&err.to_string()))?)
            };
            list.entries.push((entry.to_owned(), rule));
        }
        Ok(list)
    }

    /// The entries, as written.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(entry, _)| entry.as_str())
    }

    /// `other`'s entries added after this list's.
    pub fn extend(&mut self, other: AllowList) {
        self.entries.extend(other.entries);
    }

    /// Whether it has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether an entry is a digest: the scan then hashes every file it finds something in.
    pub fn has_digests(&self) -> bool {
        self.entries
            .iter()
            .any(|(_, rule)| matches!(rule, Rule::Digest(_)))
    }

    /// The entry that allows the file at `path` (a layer path) with content digest `sha256`.
    pub fn allows(&self, path: &str, sha256: Option<&[u8; 32]>) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, rule)| match rule {
                Rule::Path(matcher) => matcher.is_excluded(path.as_bytes()),
                Rule::Digest(digest) => sha256 == Some(digest),
            })
            .map(|(entry, _)| entry.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_as_dockerignore_patterns_do() {
        let list = AllowList::new(&[
            "/opt/venv/lib/python3.11/site-packages/twisted/test/*.pem",
            "usr/share/doc",
        ])
        .unwrap();
        let sp = "opt/venv/lib/python3.11/site-packages";
        assert_eq!(
            list.allows(&format!("{sp}/twisted/test/server.pem"), None),
            Some("/opt/venv/lib/python3.11/site-packages/twisted/test/*.pem")
        );
        assert_eq!(list.allows(&format!("{sp}/twisted/test/a.py"), None), None);
        assert_eq!(
            list.allows("usr/share/doc/x/README", None),
            Some("usr/share/doc")
        );
        assert_eq!(list.allows("usr/share/docs", None), None);
    }

    #[test]
    fn digests_allow_that_content_only() {
        let digest = [0xab; 32];
        let entry = format!("sha256:{}", "ab".repeat(32));
        let list = AllowList::new(&[entry.as_str()]).unwrap();
        assert!(list.has_digests());
        assert_eq!(
            list.allows("any/where", Some(&digest)),
            Some(entry.as_str())
        );
        assert_eq!(list.allows("any/where", Some(&[0; 32])), None);
        assert_eq!(list.allows("any/where", None), None);
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        for (entry, reason) in [
            ("sha256:abc", "64 hex digits"),
            ("", "empty"),
            ("!x", "exceptions"),
            ("a/[b", "pattern"),
        ] {
            let err = AllowList::new(&[entry]).unwrap_err();
            assert!(err.to_string().contains(reason), "{entry}: {err}");
        }
    }
}
