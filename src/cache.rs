//! Where shipimg keeps what it remembers on this machine (the file-sync node id, the context
//! guard's verdicts): `$XDG_CACHE_HOME/shipimg`, else `~/.cache/shipimg`. Never a secret.

use std::path::{Path, PathBuf};

/// The directory, from the environment `var` reads; `None` without a home.
pub fn dir(var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = var("XDG_CACHE_HOME")
        .filter(|v| Path::new(v).is_absolute())
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(base.join("shipimg"))
}
