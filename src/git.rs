//! Asking git about the project: HEAD, the branch, the remote. Git runs with a scrubbed
//! environment and its answers are read as one line; a remote shown in a label or a tag loses
//! any credential in it.

use std::path::Path;
use std::process::Command;

/// One line of git's output in `dir`, or None (no git, not a repository, no remote). Git gets
/// only the variables it needs to find itself and its config: never shipimg's secrets.
pub fn line(dir: &Path, args: &[&str]) -> Option<String> {
    let keep = |name: &str| {
        matches!(
            name,
            "PATH" | "HOME" | "XDG_CONFIG_HOME" | "LANG" | "LC_ALL" | "TZ"
        ) || name.starts_with("GIT_")
    };
    let mut command = Command::new("git");
    let output = crate::child_env::prepare(&mut command, crate::child_env::Inherit::Only(&keep))
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let line = text.lines().next()?.trim().to_owned();
    (!line.is_empty()).then_some(line)
}

/// The remote as a label may show it: without userinfo, query or fragment, where tokens ride
/// (`https://user:token@github.com/o/r.git`, `https://gitlab.com/o/r.git?private_token=...`)
/// -> `https://github.com/o/r.git`. scp-style `git@github.com:o/r.git` stays (no secret in it).
pub fn remote_for_label(url: &str) -> String {
    let url = crate::leak::userinfo::strip_userinfo(url);
    if !url.contains("://") {
        return url.into_owned();
    }
    url.split(['?', '#']).next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_credentials_are_stripped() {
        assert_eq!(
            remote_for_label("https://x-access-token:ghs_abc@github.com/acme/svc.git"),
            "https://github.com/acme/svc.git"
        );
        assert_eq!(
            remote_for_label("https://github.com/a/b"),
            "https://github.com/a/b"
        );
        assert_eq!(
            remote_for_label("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
    }

    /// A token in the remote's query or fragment used to land in the source label, which every
    /// `docker inspect` and registry UI shows.
    #[test]
    fn remote_query_and_fragment_are_stripped() {
        for (remote, label) in [
            (
                "https://gitlab.com/acme/svc.git?private_token=glpat-Zx81kQm2Lp0vNc7aB3",
                "https://gitlab.com/acme/svc.git",
            ),
            (
                "https://oauth2:glpat-Zx81kQm2Lp0vNc7aB3@gitlab.com/acme/svc.git?ref=main#frag",
                "https://gitlab.com/acme/svc.git",
            ),
            (
                "https://1a2B3c4D5e6F7g8H9i0J@git.fury.io/acme/svc.git",
                "https://git.fury.io/acme/svc.git",
            ),
            ("https://host?token=abc", "https://host"),
            ("ssh://git@github.com/a/b.git", "ssh://github.com/a/b.git"),
        ] {
            assert_eq!(remote_for_label(remote), label, "{remote}");
        }
    }
}
