//! `shipimg init`: what a Python project needs to be built right, worked out from its
//! `pyproject.toml`: how it is built (pip, Poetry, uv), what the image runs, which Python, and
//! the files that follow (a two-stage Dockerfile that takes the index credentials only as the
//! `netrc` secret, a `.dockerignore`, and the `[tool.shipimg]` block).
//!
//! The Dockerfiles are templates in `templates/`, each built against the sandbox's index by the
//! tests (`tests/it/init.rs`).

use std::path::Path;

use crate::cli::ProjectKind;

const PIP: &str = include_str!("templates/pip.Dockerfile");
const POETRY: &str = include_str!("templates/poetry.Dockerfile");
const UV: &str = include_str!("templates/uv.Dockerfile");
/// The `.dockerignore` every kind gets.
pub const DOCKERIGNORE: &str = include_str!("templates/dockerignore");

/// The Python used when `requires-python` says nothing narrower.
pub const DEFAULT_PYTHON: (u32, u32) = (3, 12);

/// Why a project cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// No `pyproject.toml`.
    #[error("no pyproject.toml in {0}")]
    NoPyproject(String),
    /// It does not parse.
    #[error("{path}: invalid TOML: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// Neither `[project]` nor `[tool.poetry]`.
    #[error("{0} has neither [project] nor [tool.poetry]: cannot tell how the project is built")]
    UnknownKind(String),
}

/// What `init` found out about the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// How it is built.
    pub kind: ProjectKind,
    /// Why that kind (for the output).
    pub reason: String,
    /// The project's name.
    pub name: String,
    /// What the image runs, as an exec-form argument list.
    pub cmd: Vec<String>,
    /// True when `cmd` is a guess (`python -m NAME`), not a declared script.
    pub cmd_guessed: bool,
    /// The Python version for the base image, `3.12`.
    pub python: String,
    /// Things the user should know (no build backend, no lock file).
    pub warnings: Vec<String>,
}

/// Reads `dir/pyproject.toml` (and looks for lock files) to work out the project's kind, its
/// command and its Python; `kind` overrides the detected kind.
pub fn detect(dir: &Path, kind: Option<ProjectKind>) -> Result<Detected, InitError> {
    let path = dir.join("pyproject.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|_| InitError::NoPyproject(dir.display().to_string()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|err: toml::de::Error| InitError::Invalid {
            path: path.display().to_string(),
            message: err.message().trim_end().to_owned(),
        })?;
    let table = |t: Option<&toml::Value>, key: &str| t?.get(key)?.as_table().cloned();
    let project = doc.get("project").and_then(|p| p.as_table()).cloned();
    let tool = doc.get("tool");
    let poetry = table(tool, "poetry");
    let has_uv = tool.and_then(|t| t.get("uv")).is_some();
    let lock = |name: &str| dir.join(name).is_file();
    let (detected, reason) = if lock("uv.lock") {
        (ProjectKind::Uv, "uv.lock".to_owned())
    } else if has_uv {
        (ProjectKind::Uv, "[tool.uv] in pyproject.toml".to_owned())
    } else if poetry.is_some() {
        let why = match lock("poetry.lock") {
            true => "[tool.poetry] and poetry.lock",
            false => "[tool.poetry] in pyproject.toml",
        };
        (ProjectKind::Poetry, why.to_owned())
    } else if project.is_some() {
        (ProjectKind::Pip, "[project] in pyproject.toml".to_owned())
    } else if let Some(kind) = kind {
        (kind, "--kind".to_owned())
    } else {
        return Err(InitError::UnknownKind(path.display().to_string()));
    };
    let (kind, reason) = match kind {
        Some(kind) if kind != detected => (kind, "--kind".to_owned()),
        _ => (detected, reason),
    };

    let name = project
        .as_ref()
        .and_then(|p| p.get("name")?.as_str())
        .or_else(|| poetry.as_ref()?.get("name")?.as_str())
        .unwrap_or("service")
        .to_owned();
    let scripts = project
        .as_ref()
        .and_then(|p| p.get("scripts")?.as_table().cloned())
        .or_else(|| poetry.as_ref()?.get("scripts")?.as_table().cloned());
    let script = scripts.and_then(|s| s.keys().next().cloned());
    let (cmd, cmd_guessed) = match script {
        Some(script) => (vec![script], false),
        None => (
            vec![
                "python".to_owned(),
                "-m".to_owned(),
                name.to_ascii_lowercase().replace(['-', '.'], "_"),
            ],
            true,
        ),
    };
    let requires = project
        .as_ref()
        .and_then(|p| p.get("requires-python")?.as_str().map(str::to_owned))
        .or_else(|| {
            poetry
                .as_ref()?
                .get("dependencies")?
                .get("python")?
                .as_str()
                .map(str::to_owned)
        });
    let (major, minor) = requires
        .as_deref()
        .map_or(DEFAULT_PYTHON, python_for_requirement);

    let mut warnings = Vec::new();
    if doc.get("build-system").is_none() {
        warnings.push(
            "pyproject.toml has no [build-system]: the Dockerfile installs the project as a package, so add a build backend (e.g. setuptools, hatchling or poetry-core)".to_owned(),
        );
    }
    if kind == ProjectKind::Uv && !lock("uv.lock") {
        warnings.push(
            "no uv.lock yet: run `uv lock` before building (the Dockerfile runs `uv sync --locked`)"
                .to_owned(),
        );
    }
    if kind == ProjectKind::Poetry && lock("poetry.lock") {
        warnings.push(
            "the Dockerfile installs with pip through poetry-core, which resolves [tool.poetry.dependencies] afresh: poetry.lock is not used".to_owned(),
        );
    }
    Ok(Detected {
        kind,
        reason,
        name,
        cmd,
        cmd_guessed,
        python: format!("{major}.{minor}"),
        warnings,
    })
}

/// The Python for a `requires-python` (or Poetry `python`) requirement: the default, unless the
/// requirement's lower bound is newer or its upper bound excludes it.
pub fn python_for_requirement(requirement: &str) -> (u32, u32) {
    let mut chosen = DEFAULT_PYTHON;
    for clause in requirement.split(',') {
        let clause = clause.trim();
        let op_len = clause
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(clause.len());
        let (op, version) = clause.split_at(op_len);
        let mut numbers = version.split('.').map(|n| n.trim().parse::<u32>().ok());
        let (Some(Some(major)), Some(Some(minor))) = (numbers.next(), numbers.next()) else {
            continue;
        };
        if major != 3 {
            continue;
        }
        match op.trim() {
            ">=" | "~=" | "^" | "~" | "==" if (major, minor) > chosen => chosen = (major, minor),
            "==" => chosen = (major, minor),
            "<" if (major, minor) <= chosen && minor > 0 => chosen = (major, minor - 1),
            "<=" if (major, minor) < chosen => chosen = (major, minor),
            _ => {}
        }
    }
    chosen
}

/// The Dockerfile for `kind`, its base image and command filled in.
pub fn dockerfile(kind: ProjectKind, base_image: &str, cmd: &[String]) -> String {
    let template = match kind {
        ProjectKind::Pip => PIP,
        ProjectKind::Poetry => POETRY,
        ProjectKind::Uv => UV,
    };
    let cmd = serde_json::to_string(cmd).unwrap_or_else(|_| "[]".to_owned());
    template
        .replace("{{base_image}}", base_image)
        .replace("{{cmd}}", &cmd)
}

/// The `[tool.shipimg]` block: the image if given (else a commented example), the default tag
/// templates, and the indexes (else a commented example).
pub fn config_block(image: Option<&str>, index_urls: &[String]) -> String {
    let mut block = String::from(
        "[tool.shipimg]\n\
         # Where `shipimg build --push` pushes: the repository, without a tag.\n",
    );
    match image {
        Some(image) => block.push_str(&format!("image = {}\n", toml_string(image))),
        None => block.push_str("# image = \"europe-west4-docker.pkg.dev/PROJECT/REPO/SERVICE\"\n"),
    }
    block.push_str(
        "# Tag templates: {version} (from this file), {git_sha}, {git_short_sha}, {branch}, {date}.\n\
         tags = [\"{version}\", \"{git_short_sha}\"]\n\
         # The package indexes the build installs from, without credentials: shipimg serves\n\
         # them to the Dockerfile's `RUN --mount=type=secret,id=netrc` steps from your netrc,\n\
         # SHIPIMG_INDEX_* variables or Google credentials.\n",
    );
    match index_urls {
        [] => block.push_str(
            "# index-urls = [\"https://europe-west4-python.pkg.dev/PROJECT/REPO/simple/\"]\n",
        ),
        urls => {
            let list: Vec<String> = urls.iter().map(|u| toml_string(u)).collect();
            block.push_str(&format!("index-urls = [{}]\n", list.join(", ")));
        }
    }
    block
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// True when the pyproject text has a `[tool.shipimg]` table (or a sub-table of it).
pub fn has_block(pyproject: &str) -> bool {
    pyproject.lines().any(|line| is_block_header(line.trim()))
}

fn is_block_header(line: &str) -> bool {
    let squashed: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    squashed.starts_with("[tool.shipimg]") || squashed.starts_with("[tool.shipimg.")
}

/// The pyproject text with `block` in place of its `[tool.shipimg]` tables (the header line,
/// everything up to the next table that is not one of them), or appended when it has none.
pub fn with_block(pyproject: &str, block: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    let mut placed = false;
    for line in pyproject.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            inside = is_block_header(trimmed);
            if inside && !placed {
                out.push_str(block);
                out.push('\n');
                placed = true;
            }
        }
        if !inside {
            out.push_str(line);
        }
    }
    if !placed {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(block);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn kinds_are_detected_from_the_project_files() {
        let pep621 = "[project]\nname = \"svc\"\nversion = \"1.0\"\n[build-system]\nrequires = [\"setuptools\"]\n";
        let dir = project(&[("pyproject.toml", pep621)]);
        assert_eq!(detect(dir.path(), None).unwrap().kind, ProjectKind::Pip);
        let dir = project(&[("pyproject.toml", pep621), ("uv.lock", "version = 1\n")]);
        let uv = detect(dir.path(), None).unwrap();
        assert_eq!((uv.kind, uv.reason.as_str()), (ProjectKind::Uv, "uv.lock"));
        let poetry = "[tool.poetry]\nname = \"p-svc\"\n[tool.poetry.dependencies]\npython = \"^3.11\"\n[tool.poetry.scripts]\nrun-it = \"p:main\"\n[build-system]\nrequires = [\"poetry-core\"]\n";
        let dir = project(&[("pyproject.toml", poetry)]);
        let found = detect(dir.path(), None).unwrap();
        assert_eq!(found.kind, ProjectKind::Poetry);
        assert_eq!(found.cmd, vec!["run-it"]);
        assert_eq!(found.python, "3.12");
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        let forced = detect(dir.path(), Some(ProjectKind::Pip)).unwrap();
        assert_eq!(
            (forced.kind, forced.reason.as_str()),
            (ProjectKind::Pip, "--kind")
        );
    }

    #[test]
    fn the_command_is_a_script_or_a_guessed_module() {
        let dir = project(&[(
            "pyproject.toml",
            "[project]\nname = \"My-Service\"\n[project.scripts]\nserve = \"m:main\"\n",
        )]);
        let found = detect(dir.path(), None).unwrap();
        assert_eq!(
            (found.cmd, found.cmd_guessed),
            (vec!["serve".to_owned()], false)
        );
        assert!(found.warnings[0].contains("no [build-system]"));
        let dir = project(&[("pyproject.toml", "[project]\nname = \"My-Service\"\n")]);
        let found = detect(dir.path(), None).unwrap();
        assert_eq!(found.cmd, vec!["python", "-m", "my_service"]);
        assert!(found.cmd_guessed);
    }

    #[test]
    fn projects_init_cannot_read_are_errors() {
        let dir = project(&[]);
        assert!(matches!(
            detect(dir.path(), None),
            Err(InitError::NoPyproject(_))
        ));
        let dir = project(&[("pyproject.toml", "[tool.black]\nline-length = 99\n")]);
        assert!(matches!(
            detect(dir.path(), None),
            Err(InitError::UnknownKind(_))
        ));
        let forced = detect(dir.path(), Some(ProjectKind::Pip)).unwrap();
        assert_eq!(forced.kind, ProjectKind::Pip);
        let dir = project(&[("pyproject.toml", "[project\n")]);
        assert!(matches!(
            detect(dir.path(), None),
            Err(InitError::Invalid { .. })
        ));
    }

    #[test]
    fn python_follows_the_requirement() {
        assert_eq!(python_for_requirement(">=3.8"), (3, 12));
        assert_eq!(python_for_requirement(">=3.13"), (3, 13));
        assert_eq!(python_for_requirement(">=3.9,<3.12"), (3, 11));
        assert_eq!(python_for_requirement("^3.11"), (3, 12));
        assert_eq!(python_for_requirement("==3.10.*"), (3, 10));
        assert_eq!(python_for_requirement("nonsense"), (3, 12));
    }

    #[test]
    fn dockerfiles_are_filled_and_mount_the_netrc_secret() {
        for kind in [ProjectKind::Pip, ProjectKind::Poetry, ProjectKind::Uv] {
            let text = dockerfile(kind, "python:3.12-slim", &["svc".to_owned()]);
            assert!(!text.contains("{{"), "{kind:?}");
            assert!(text.contains("FROM python:3.12-slim AS build"), "{kind:?}");
            assert!(text.contains("CMD [\"svc\"]"), "{kind:?}");
            assert!(
                text.contains("--mount=type=secret,id=netrc,target=/root/.netrc,required=true"),
                "{kind:?}"
            );
            let report =
                crate::lint::lint(&text, "Dockerfile", &crate::lint::LintOptions::default())
                    .unwrap();
            assert!(
                report.findings.is_empty(),
                "{kind:?}: {:?}",
                report.findings
            );
        }
    }

    #[test]
    fn the_block_is_appended_or_replaced() {
        let block = config_block(
            Some("reg.example/p/svc"),
            &["https://idx.example/simple/".into()],
        );
        let original = "[project]\nname = \"svc\"\n";
        let added = with_block(original, &block);
        assert!(added.starts_with(original));
        assert!(has_block(&added));
        let doc: toml::Table = added.parse().unwrap();
        assert_eq!(
            doc["tool"]["shipimg"]["image"].as_str(),
            Some("reg.example/p/svc")
        );
        let old = "[project]\nname = \"svc\"\n\n[tool.shipimg]\nimage = \"old/x\"\n[tool.shipimg.labels]\na = \"b\"\n\n[tool.ruff]\nline-length = 99\n";
        let replaced = with_block(old, &block);
        let doc: toml::Table = replaced.parse().unwrap();
        assert_eq!(
            doc["tool"]["shipimg"]["image"].as_str(),
            Some("reg.example/p/svc")
        );
        assert!(doc["tool"]["shipimg"].get("labels").is_none());
        assert_eq!(doc["tool"]["ruff"]["line-length"].as_integer(), Some(99));
        let commented = config_block(None, &[]);
        let doc: toml::Table = with_block(original, &commented).parse().unwrap();
        assert!(doc["tool"]["shipimg"].get("image").is_none());
    }
}
