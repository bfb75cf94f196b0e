//! Layers a leak scan refused, remembered per machine, so BuildKit's cache cannot hand one back.
//!
//! A secret is not part of a step's cache key: a step that copied last week's netrc into a file
//! comes back from the cache in a build that holds this week's, and a scan that looks for this
//! week's values finds nothing. So every layer a scan refuses is remembered by its diff id (the
//! digest of its uncompressed content, the same whichever build made it), with the finding's
//! summary (the path and which secret, never a value nor a hash of one), and a later scan of an
//! image holding that layer is refused with the same finding.
//!
//! The record is `refused-layers.json` in shipimg's cache directory (`$XDG_CACHE_HOME/shipimg`
//! or `~/.cache/shipimg`, as the file sync node id). It is rewritten whole, through a temporary
//! file and a rename, under an exclusive lock, and keeps the newest [`MAX_LAYERS`] layers.
//!
//! Limits: a layer no scan refused is not remembered (a cache filled by `build` without
//! `--push`, by `docker build`, or on another machine or user account); a refused layer
//! forgotten after [`MAX_LAYERS`] newer ones, or when the cache directory is removed, is checked
//! again only for the values the new scan holds.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Refused layers kept; the oldest are dropped past this.
pub const MAX_LAYERS: usize = 4096;
/// A summary longer than this is cut.
const MAX_SUMMARY: usize = 400;
const FILE_NAME: &str = "refused-layers.json";
const LOCK_NAME: &str = "refused-layers.lock";
const VERSION: u32 = 1;

/// One refused layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// `sha256:` and 64 hex digits.
    pub diff_id: String,
    /// What the scan found in it, without any value: `` `etc/x`: secret `--secret tok` ``.
    pub finding: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    version: u32,
    /// Oldest first.
    layers: Vec<Refusal>,
}

/// Why the record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RefusalsError {
    /// Reading, writing or locking failed.
    #[error("cannot {what} `{}`", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not a record this version reads.
    #[error("`{}` is not a record of refused layers", path.display())]
    Format {
        /// The file.
        path: PathBuf,
    },
}

/// The record in one directory.
#[derive(Debug, Clone)]
pub struct Refusals {
    dir: PathBuf,
}

impl Refusals {
    /// The record kept in `dir` (shipimg's cache directory).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The refusals of any of `diff_ids`, in their order.
    pub fn earlier(&self, diff_ids: &[String]) -> Result<Vec<Refusal>, RefusalsError> {
        let record = self.read()?;
        Ok(diff_ids
            .iter()
            .filter_map(|id| record.layers.iter().rev().find(|r| &r.diff_id == id))
            .cloned()
            .collect())
    }

    /// Adds `refused` to the record (a layer already in it keeps its first finding).
    pub fn remember(&self, refused: &[Refusal]) -> Result<(), RefusalsError> {
        let refused: Vec<&Refusal> = refused.iter().filter(|r| is_diff_id(&r.diff_id)).collect();
        if refused.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir).map_err(|source| RefusalsError::Io {
            what: "create",
            path: self.dir.clone(),
            source,
        })?;
        let lock_path = self.dir.join(LOCK_NAME);
        let io_error = |what, path: &Path| {
            let path = path.to_owned();
            move |source| RefusalsError::Io { what, path, source }
        };
        let lock = File::create(&lock_path).map_err(io_error("create", &lock_path))?;
        // Two builds refused at once must not drop each other's layers.
        lock.lock().map_err(io_error("lock", &lock_path))?;
        let mut record = match self.read() {
            Ok(record) => record,
            // A record this version cannot read is replaced rather than left to block every
            // later refusal from being kept.
            Err(RefusalsError::Format { .. }) => Record::default(),
            Err(err) => return Err(err),
        };
        for refusal in refused {
            if !record.layers.iter().any(|r| r.diff_id == refusal.diff_id) {
                record.layers.push(Refusal {
                    diff_id: refusal.diff_id.clone(),
                    finding: cut(&refusal.finding),
                });
            }
        }
        let excess = record.layers.len().saturating_sub(MAX_LAYERS);
        record.layers.drain(..excess);
        record.version = VERSION;
        let path = self.dir.join(FILE_NAME);
        let temp = self
            .dir
            .join(format!(".{FILE_NAME}.{}", crate::random::session_id()));
        let text = serde_json::to_vec_pretty(&record).expect("the record serialises");
        let written = File::create(&temp)
            .and_then(|mut file| file.write_all(&text).and_then(|()| file.sync_all()))
            .and_then(|()| std::fs::rename(&temp, &path));
        if let Err(source) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(RefusalsError::Io {
                what: "write",
                path,
                source,
            });
        }
        Ok(())
    }

    fn read(&self) -> Result<Record, RefusalsError> {
        let path = self.dir.join(FILE_NAME);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Record::default()),
            Err(source) => {
                return Err(RefusalsError::Io {
                    what: "read",
                    path,
                    source,
                });
            }
        };
        match serde_json::from_slice::<Record>(&bytes) {
            Ok(record) if record.version == VERSION => Ok(record),
            _ => Err(RefusalsError::Format { path }),
        }
    }
}

/// `sha256:` and 64 lower-case hex digits: the only thing the record keeps as a key.
fn is_diff_id(id: &str) -> bool {
    id.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

fn cut(summary: &str) -> String {
    match summary.char_indices().nth(MAX_SUMMARY) {
        Some((at, _)) => format!("{}...", &summary[..at]),
        None => summary.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> String {
        format!("sha256:{n:064x}")
    }

    fn refusal(n: usize, finding: &str) -> Refusal {
        Refusal {
            diff_id: id(n),
            finding: finding.into(),
        }
    }

    #[test]
    fn a_refused_layer_is_found_again_with_its_first_finding() {
        let dir = tempfile::tempdir().unwrap();
        let refusals = Refusals::in_dir(dir.path().join("shipimg"));
        assert_eq!(refusals.earlier(&[id(1)]).unwrap(), []);
        refusals
            .remember(&[refusal(1, "`etc/x`: secret `a`")])
            .unwrap();
        refusals
            .remember(&[refusal(1, "later"), refusal(2, "`p`: secret `b`")])
            .unwrap();
        assert_eq!(
            refusals.earlier(&[id(3), id(2), id(1)]).unwrap(),
            [
                refusal(2, "`p`: secret `b`"),
                refusal(1, "`etc/x`: secret `a`")
            ]
        );
        // Nothing else is left in the directory: no temporary files.
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("shipimg"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [FILE_NAME, LOCK_NAME]);
    }

    #[test]
    fn only_diff_ids_are_kept_and_the_record_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let refusals = Refusals::in_dir(dir.path());
        refusals
            .remember(&[Refusal {
                diff_id: "blobs/sha256/abc/layer.tar".into(),
                finding: "x".into(),
            }])
            .unwrap();
        assert!(!dir.path().join(FILE_NAME).exists());
        let many: Vec<Refusal> = (0..MAX_LAYERS + 10).map(|n| refusal(n, "f")).collect();
        refusals.remember(&many).unwrap();
        assert_eq!(refusals.earlier(&[id(0), id(9)]).unwrap(), []);
        assert_eq!(refusals.earlier(&[id(10)]).unwrap(), [refusal(10, "f")]);
        assert_eq!(refusals.read().unwrap().layers.len(), MAX_LAYERS);
        let long = "y".repeat(MAX_SUMMARY * 2);
        refusals.remember(&[refusal(usize::MAX, &long)]).unwrap();
        let kept = refusals.earlier(&[id(usize::MAX)]).unwrap();
        assert_eq!(kept[0].finding.chars().count(), MAX_SUMMARY + 3);
    }

    #[test]
    fn an_unreadable_record_is_an_error_to_read_and_replaced_on_write() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "not json").unwrap();
        let refusals = Refusals::in_dir(dir.path());
        assert!(matches!(
            refusals.earlier(&[id(1)]),
            Err(RefusalsError::Format { .. })
        ));
        refusals.remember(&[refusal(1, "f")]).unwrap();
        assert_eq!(refusals.earlier(&[id(1)]).unwrap(), [refusal(1, "f")]);
    }
}
