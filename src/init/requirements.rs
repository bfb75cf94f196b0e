//! Requirement files (`requirements.txt`, pip-tools' `requirements.lock`) as `init` reads them:
//! which files the dependency layer must mount (the file and every `-r`/`-c` it includes),
//! whether every requirement is hash-pinned (then pip runs with `--require-hashes`), and the
//! lines a layer of dependencies cannot hold (the project itself, local paths).

use std::path::{Component, Path, PathBuf};

/// A requirement file and the files it includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirements {
    /// The file, relative to the project directory (`requirements.txt`).
    pub path: String,
    /// It and every file it includes with `-r`/`-c`, relative to the project directory.
    pub files: Vec<String>,
    /// True when it pins hashes (`--hash=`): pip then checks every download against them.
    pub hashes: bool,
}

/// Why a requirement file cannot be the dependency layer's list.
#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    /// It cannot be read.
    #[error("cannot read {path}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line installs a local directory or file: the project's source, not a dependency.
    #[error(
        "{path}:{line}: `{requirement}` installs a local path, which a dependency layer cannot hold"
    )]
    LocalPath {
        /// The file.
        path: String,
        /// The line number.
        line: usize,
        /// The requirement as written.
        requirement: String,
    },
    /// An included file outside the project directory (not in the build context).
    #[error(
        "{path}:{line}: `{include}` is outside the project directory, so not in the build context"
    )]
    OutsideContext {
        /// The file.
        path: String,
        /// The line number.
        line: usize,
        /// The include as written.
        include: String,
    },
}

impl RequirementsError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Unreadable { .. } => "check the file's permissions, then run init again",
            Self::LocalPath { .. } => {
                "list only the dependencies in it (e.g. with `pip-compile` or `pip freeze --exclude-editable`); the Dockerfile copies the source itself"
            }
            Self::OutsideContext { .. } => {
                "move the included file into the project directory, or run init on the directory that holds both"
            }
        }
    }
}

impl Requirements {
    /// Reads `dir/name` and the files it includes.
    pub fn read(dir: &Path, name: &str) -> Result<Self, RequirementsError> {
        let mut found = Requirements {
            path: name.to_owned(),
            files: Vec::new(),
            hashes: false,
        };
        let mut pending = vec![PathBuf::from(name)];
        while let Some(relative) = pending.pop() {
            let shown = relative.display().to_string();
            if found.files.contains(&shown) {
                continue;
            }
            let text = std::fs::read_to_string(dir.join(&relative)).map_err(|source| {
                RequirementsError::Unreadable {
                    path: shown.clone(),
                    source,
                }
            })?;
            found.files.push(shown.clone());
            for (line_no, line) in logical_lines(&text) {
                let words: Vec<&str> = line.split_whitespace().collect();
                let Some(first) = words.first() else { continue };
                if line.contains("--hash=") || line.contains("--hash ") {
                    found.hashes = true;
                }
                let include = match *first {
                    "-r" | "--requirement" | "-c" | "--constraint" => words.get(1).copied(),
                    _ => ["--requirement=", "--constraint=", "-r", "-c"]
                        .iter()
                        .find_map(|prefix| first.strip_prefix(prefix))
                        .filter(|rest| !rest.is_empty()),
                };
                if let Some(include) = include {
                    let base = relative.parent().unwrap_or(Path::new(""));
                    let joined = normalise(&base.join(include)).ok_or_else(|| {
                        RequirementsError::OutsideContext {
                            path: shown.clone(),
                            line: line_no,
                            include: include.to_owned(),
                        }
                    })?;
                    pending.push(joined);
                    continue;
                }
                let requirement = match *first {
                    "-e" | "--editable" => words.get(1).copied().unwrap_or(""),
                    other if other.starts_with('-') => continue,
                    other => other,
                };
                let editable = matches!(*first, "-e" | "--editable");
                let local = requirement.starts_with('.')
                    || requirement.starts_with('/')
                    || requirement.starts_with("file:")
                    || requirement.contains(" @ file:")
                    || line.contains("@ file:");
                if local || (editable && !requirement.contains("://")) {
                    return Err(RequirementsError::LocalPath {
                        path: shown,
                        line: line_no,
                        requirement: line.trim().to_owned(),
                    });
                }
            }
        }
        Ok(found)
    }
}

/// The file's lines with comments removed and `\` continuations joined, each with the number
/// of the line it starts on.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (index, raw) in text.lines().enumerate() {
        if current.is_empty() {
            start = index + 1;
        }
        // A comment starts at `#` at the line's start or after whitespace (pip's rule).
        let mut line = raw;
        if let Some(pos) = raw
            .char_indices()
            .find(|&(i, c)| c == '#' && (i == 0 || raw[..i].ends_with(char::is_whitespace)))
            .map(|(i, _)| i)
        {
            line = &raw[..pos];
        }
        match line.trim_end().strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                if !current.trim().is_empty() {
                    out.push((start, current.trim().to_owned()));
                }
                current.clear();
            }
        }
    }
    if !current.trim().is_empty() {
        out.push((start, current.trim().to_owned()));
    }
    out
}

/// `path` without `.` and `..` components, or None when it leaves its root.
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(name) => out.push(name),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::tests::project as dir_with;

    #[test]
    fn includes_are_followed_and_hashes_noticed() {
        let dir = dir_with(&[
            (
                "requirements.txt",
                "# prod\n-r requirements/base.txt\nflask==3.0.0 \\\n    --hash=sha256:abc\n",
            ),
            (
                "requirements/base.txt",
                "-c ../constraints.txt\nsix==1.16.0\n",
            ),
            ("constraints.txt", "six<2\n"),
        ]);
        let found = Requirements::read(dir.path(), "requirements.txt").unwrap();
        assert_eq!(found.path, "requirements.txt");
        let mut files = found.files.clone();
        files.sort();
        assert_eq!(
            files,
            [
                "constraints.txt",
                "requirements.txt",
                "requirements/base.txt"
            ]
        );
        assert!(found.hashes);
        let dir = dir_with(&[("requirements.txt", "six==1.16.0  # a comment --hash=x\n")]);
        assert!(
            !Requirements::read(dir.path(), "requirements.txt")
                .unwrap()
                .hashes
        );
    }

    #[test]
    fn local_paths_and_outside_includes_are_refused() {
        for (text, want) in [
            (
                "six\n-e .\n",
                "requirements.txt:2: `-e .` installs a local path",
            ),
            (
                "./libs/acme\n",
                "requirements.txt:1: `./libs/acme` installs a local path",
            ),
            (
                "acme @ file:///src/acme\n",
                "requirements.txt:1: `acme @ file:///src/acme` installs a local path",
            ),
            (
                "-r ../shared.txt\n",
                "requirements.txt:1: `../shared.txt` is outside the project directory",
            ),
        ] {
            let dir = dir_with(&[("requirements.txt", text)]);
            let err = Requirements::read(dir.path(), "requirements.txt").unwrap_err();
            assert!(err.to_string().starts_with(want), "{err}");
        }
        // VCS requirements are dependencies like any other.
        let dir = dir_with(&[(
            "requirements.txt",
            "-e git+https://example.invalid/acme.git#egg=acme\n",
        )]);
        Requirements::read(dir.path(), "requirements.txt").unwrap();
    }
}
