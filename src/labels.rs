//! The OCI labels shipimg puts on every image by default, where it can know them:
//! `org.opencontainers.image.revision` (git HEAD), `.source` (the git remote, any credentials
//! stripped), `.created` (now, RFC 3339) and `.version` (from `pyproject.toml`). A `--label`
//! the user gives wins.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `org.opencontainers.image.revision`
pub const REVISION: &str = "org.opencontainers.image.revision";
/// `org.opencontainers.image.source`
pub const SOURCE: &str = "org.opencontainers.image.source";
/// `org.opencontainers.image.created`
pub const CREATED: &str = "org.opencontainers.image.created";
/// `org.opencontainers.image.version`
pub const VERSION: &str = "org.opencontainers.image.version";

/// The default labels for a build of `context_dir`, at `now`.
pub fn default_labels(context_dir: &Path, now: SystemTime) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert(CREATED.to_owned(), rfc3339(now));
    // Two gits at once: each is a few milliseconds of a cached rebuild's few hundred.
    let (revision, remote) = std::thread::scope(|scope| {
        let remote =
            scope.spawn(|| crate::git::line(context_dir, &["remote", "get-url", "origin"]));
        let revision = crate::git::line(context_dir, &["rev-parse", "HEAD"]);
        (revision, remote.join().ok().flatten())
    });
    if let Some(revision) = revision {
        labels.insert(REVISION.to_owned(), revision);
    }
    if let Some(remote) = remote {
        labels.insert(SOURCE.to_owned(), crate::git::remote_for_label(&remote));
    }
    if let Some(version) = pyproject_version(&context_dir.join("pyproject.toml")) {
        labels.insert(VERSION.to_owned(), version);
    }
    labels
}

/// Adds the defaults under the user's labels: the user's win.
pub fn merge(
    user: &BTreeMap<String, String>,
    defaults: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut merged = defaults;
    merged.extend(user.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

/// `[project].version`, else `[tool.poetry].version`.
pub fn pyproject_version(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let doc: toml::Table = toml::from_str(&text).ok()?;
    project_version(&doc)
}

/// `[project].version`, else `[tool.poetry].version`, of a parsed pyproject.
pub fn project_version(doc: &toml::Table) -> Option<String> {
    let from = |table: Option<&toml::Value>| {
        table
            .and_then(|t| t.get("version"))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    from(doc.get("project")).or_else(|| from(doc.get("tool").and_then(|t| t.get("poetry"))))
}

/// `2026-11-24T02:30:00Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's method).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_487_400)),
            "2026-11-24T02:30:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn version_from_either_pyproject_style() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyproject.toml");
        std::fs::write(&path, "[project]\nname = \"x\"\nversion = \"1.2.3\"\n").unwrap();
        assert_eq!(pyproject_version(&path).as_deref(), Some("1.2.3"));
        std::fs::write(&path, "[tool.poetry]\nname = \"x\"\nversion = \"0.4.0\"\n").unwrap();
        assert_eq!(pyproject_version(&path).as_deref(), Some("0.4.0"));
        std::fs::write(&path, "[project]\nname = \"x\"\ndynamic = [\"version\"]\n").unwrap();
        assert_eq!(pyproject_version(&path), None);
    }

    #[test]
    fn user_labels_win_and_git_facts_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            assert!(
                std::process::Command::new("git")
                    .arg("-C")
                    .arg(dir.path())
                    .args(args)
                    .output()
                    .unwrap()
                    .status
                    .success()
            );
        };
        run(&["init", "-q"]);
        run(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ]);
        run(&[
            "remote",
            "add",
            "origin",
            "https://u:tok@example.com/acme/svc.git?private_token=tok2",
        ]);
        let labels = default_labels(dir.path(), UNIX_EPOCH);
        assert_eq!(labels[SOURCE], "https://example.com/acme/svc.git");
        assert_eq!(labels[REVISION].len(), 40);
        assert_eq!(labels[CREATED], "1970-01-01T00:00:00Z");
        let user = BTreeMap::from([(SOURCE.to_owned(), "mine".to_owned())]);
        assert_eq!(merge(&user, labels)[SOURCE], "mine");
        let outside = tempfile::tempdir().unwrap();
        assert!(!default_labels(outside.path(), UNIX_EPOCH).contains_key(REVISION));
    }
}
