//! `shipimg init`: what a Python project needs to be built right, worked out from its
//! `pyproject.toml`, lock files and requirement files: how it is built (pip, Poetry, uv, or a
//! plain `requirements.txt`), where its dependencies are listed, what the image runs, which
//! Python, and the files that follow (a multi-stage Dockerfile that installs the dependencies in
//! a layer of their own and takes the index credentials only as the `netrc` secret, a
//! `.dockerignore`, and the project config).
//!
//! The Dockerfiles are templates in `templates/`, each built against the sandbox's index by the
//! tests (`tests/it/init.rs`).

mod requirements;

use std::path::Path;

pub use requirements::{Requirements, RequirementsError};

const PIP: &str = include_str!("templates/pip.Dockerfile");
const POETRY: &str = include_str!("templates/poetry.Dockerfile");
const UV: &str = include_str!("templates/uv.Dockerfile");
const REQUIREMENTS: &str = include_str!("templates/requirements.Dockerfile");

/// How a project is built, so which Dockerfile `init` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectKind {
    /// PEP 621 `[project]`, installed with pip.
    Pip,
    /// `[tool.poetry]` with `poetry.lock`, exported by a pinned Poetry, installed with pip.
    Poetry,
    /// `uv.lock`, installed with `uv sync --locked`.
    Uv,
    /// `requirements.txt` without a pyproject.toml: the dependencies, then the source files.
    Requirements,
}

/// The `.dockerignore` every kind gets.
pub const DOCKERIGNORE: &str = include_str!("templates/dockerignore");

/// The Python used when `requires-python` says nothing narrower.
pub const DEFAULT_PYTHON: (u32, u32) = (3, 12);

/// What the Poetry template installs to export `poetry.lock`: pinned, so that every build reads
/// the lock the same way. The sandbox's index serves exactly these (`fixtures/tools`).
pub const POETRY_REQUIREMENTS: &str = "poetry==2.5.1 poetry-plugin-export==1.10.1";
/// The uv the uv template installs.
pub const UV_REQUIREMENT: &str = "uv==0.13.9";

/// Writes `/manifest/requirements.txt` ([project] dependencies) and
/// `/manifest/build-requirements.txt` ([build-system] requires, or setuptools as pip assumes
/// without one) from the `pyproject.toml` in the working directory. Only these lists reach the
/// dependency layers, so a version bump or a source edit leaves them cached. Python 3.11+ has
/// `tomllib`; older ones use the `tomli` that pip vendors.
const READ_PYPROJECT: &str = r#"python3 -c 'import sys; t = __import__("tomllib" if sys.version_info >= (3, 11) else "pip._vendor.tomli", fromlist=["load"]); d = t.load(open("pyproject.toml", "rb")); w = lambda n, l: open("/manifest/" + n, "w").write("".join(r + "\n" for r in l)); w("requirements.txt", d.get("project", {}).get("dependencies", [])); w("build-requirements.txt", d.get("build-system", {}).get("requires", ["setuptools>=40.8.0"]))'"#;

/// Why a project cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Neither a `pyproject.toml` nor a `requirements.txt`.
    #[error("no pyproject.toml or requirements.txt in {0}")]
    NoProject(String),
    /// `--kind pip|poetry|uv` where there is no pyproject.toml.
    #[error("--kind {0} needs a pyproject.toml, and {1} has none")]
    KindNeedsPyproject(String, String),
    /// A Pipfile project: no template reads Pipfile.lock.
    #[error("{0} is a Pipfile project: init cannot write a Dockerfile that installs Pipfile.lock")]
    Pipfile(String),
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
    /// A requirement file init cannot install in a layer of its own.
    #[error(transparent)]
    Requirements(#[from] RequirementsError),
    /// A requirements.txt project with no entry point init recognises.
    #[error("{0} has no app.py, main.py or manage.py: cannot tell what the image runs")]
    NoCommand(String),
    /// `--cmd` that does not split into words.
    #[error("--cmd `{0}`: unbalanced quotes")]
    BadCommand(String),
}

impl crate::error::UserError for InitError {
    fn hint(&self) -> Option<String> {
        let hint = match self {
            InitError::NoProject(_) => {
                "run `shipimg init` in a Python project with a pyproject.toml (pip, Poetry or uv) or a requirements.txt, or pass its directory"
            }
            InitError::KindNeedsPyproject(..) => {
                "drop --kind to build the requirements.txt as it is, or pass --kind requirements"
            }
            InitError::Pipfile(_) => {
                "export the lock with `pipenv requirements > requirements.txt` (add --hash for hashes), then run init again"
            }
            InitError::Invalid { .. } => "fix the file's TOML syntax, then run init again",
            InitError::UnknownKind(_) => {
                "say how it is built with `--kind pip|poetry|uv|requirements`"
            }
            InitError::Requirements(err) => return Some(err.hint().to_owned()),
            InitError::NoCommand(_) => {
                "say what the image runs with `--cmd`, e.g. `--cmd \"gunicorn app:app -b 0.0.0.0:8000\"`"
            }
            InitError::BadCommand(_) => {
                "quote the command as a shell would, e.g. `--cmd \"python -m app\"`"
            }
        };
        Some(hint.into())
    }
}

/// Where the dependency layer's list comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dependencies {
    /// `[project] dependencies` in pyproject.toml.
    Pyproject,
    /// A requirement file (pip-tools' `requirements.lock`, a `requirements.txt`).
    Requirements(Requirements),
    /// `poetry.lock`, exported by a pinned Poetry.
    PoetryLock,
    /// `uv.lock`.
    UvLock,
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
    /// Where its dependencies are listed.
    pub dependencies: Dependencies,
    /// What the image runs, as an exec-form argument list.
    pub cmd: Vec<String>,
    /// True when `cmd` is a guess (`python -m NAME`, `python app.py`), not declared or given.
    pub cmd_guessed: bool,
    /// The Python version for the base image, `3.12`.
    pub python: String,
    /// True when the project has a pyproject.toml (else the config goes to `shipimg.toml`).
    pub has_pyproject: bool,
    /// Things the user should know (no build backend, no lock file).
    pub warnings: Vec<String>,
}

/// Works out the project's kind, its dependencies, its command and its Python from `dir`;
/// `kind` overrides the detected kind and `cmd` (a shell-quoted command line) the command.
pub fn detect(
    dir: &Path,
    kind: Option<ProjectKind>,
    cmd: Option<&str>,
) -> Result<Detected, InitError> {
    let cmd = cmd
        .map(|line| shlex::split(line).ok_or_else(|| InitError::BadCommand(line.to_owned())))
        .transpose()?
        .filter(|words| !words.is_empty());
    let path = dir.join("pyproject.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(_) => return detect_without_pyproject(dir, kind, cmd),
    };
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
    } else if poetry.is_some() || lock("poetry.lock") {
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
    if kind == ProjectKind::Requirements {
        let mut found = detect_without_pyproject(dir, Some(kind), cmd)?;
        found.reason = reason;
        return Ok(found);
    }

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
    let (cmd, cmd_guessed) = match (cmd, script) {
        (Some(cmd), _) => (cmd, false),
        (None, Some(script)) => (vec![script], false),
        (None, None) => (
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
            "pyproject.toml has no [build-system]: the Dockerfile builds the project with setuptools, so add a build backend (e.g. setuptools, hatchling or poetry-core)".to_owned(),
        );
    }
    let dependencies = match kind {
        ProjectKind::Uv => {
            if !lock("uv.lock") {
                warnings.push(
                    "no uv.lock yet: run `uv lock` before building (the Dockerfile runs `uv sync --locked`)"
                        .to_owned(),
                );
            }
            Dependencies::UvLock
        }
        ProjectKind::Poetry => {
            if !lock("poetry.lock") {
                warnings.push(
                    "no poetry.lock yet: run `poetry lock` before building (the Dockerfile installs exactly the lock)"
                        .to_owned(),
                );
            }
            Dependencies::PoetryLock
        }
        _ => pip_dependencies(dir, project.as_ref(), &mut warnings)?,
    };
    Ok(Detected {
        kind,
        reason,
        name,
        dependencies,
        cmd,
        cmd_guessed,
        python: format!("{major}.{minor}"),
        has_pyproject: true,
        warnings,
    })
}

/// The requirement files a pip project's dependencies may be pinned in, most specific first:
/// pip-tools' lock, then the conventional names.
const REQUIREMENT_FILES: [&str; 3] = [
    "requirements.lock",
    "requirements.txt",
    "requirements/prod.txt",
];

/// A pip project's dependency list: a requirement file that pins them (pip-tools'
/// `requirements.lock`, a `requirements.txt`), else `[project] dependencies`.
fn pip_dependencies(
    dir: &Path,
    project: Option<&toml::Table>,
    warnings: &mut Vec<String>,
) -> Result<Dependencies, InitError> {
    let dynamic = project
        .and_then(|p| p.get("dynamic")?.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .any(|v| v.as_str() == Some("dependencies"));
    for name in REQUIREMENT_FILES {
        if !dir.join(name).is_file() {
            continue;
        }
        match Requirements::read(dir, name) {
            Ok(found) => return Ok(Dependencies::Requirements(found)),
            // A requirements.txt that installs the project itself (`-e .`) is a development
            // setup, not a dependency list: [project] has them.
            Err(err) if !dynamic => {
                warnings.push(format!("{err}: installing [project] dependencies instead"));
                return Ok(Dependencies::Pyproject);
            }
            Err(err) => return Err(err.into()),
        }
    }
    if dynamic {
        warnings.push(
            "[project] declares its dependencies dynamic and there is no requirements.txt: the Dockerfile's dependency layer installs none of them, so list them in [project] dependencies".to_owned(),
        );
    }
    Ok(Dependencies::Pyproject)
}

/// A project without a pyproject.toml: a `requirements.txt` service (or a Pipfile one, refused).
fn detect_without_pyproject(
    dir: &Path,
    kind: Option<ProjectKind>,
    cmd: Option<Vec<String>>,
) -> Result<Detected, InitError> {
    let shown = dir.display().to_string();
    if let Some(kind) = kind.filter(|k| *k != ProjectKind::Requirements) {
        return Err(InitError::KindNeedsPyproject(
            format!("{kind:?}").to_lowercase(),
            shown,
        ));
    }
    let file = REQUIREMENT_FILES
        .iter()
        .find(|name| dir.join(name).is_file());
    let Some(file) = file else {
        if dir.join("Pipfile").is_file() {
            return Err(InitError::Pipfile(shown));
        }
        return Err(InitError::NoProject(shown));
    };
    let requirements = Requirements::read(dir, file)?;
    let mut warnings = Vec::new();
    let (cmd, cmd_guessed) = match cmd {
        Some(cmd) => (cmd, false),
        None => (
            detect_command(dir, &mut warnings).ok_or(InitError::NoCommand(shown))?,
            true,
        ),
    };
    let python = std::fs::read_to_string(dir.join(".python-version"))
        .ok()
        .and_then(|text| {
            let mut parts = text.trim().split('.');
            let major: u32 = parts.next()?.parse().ok()?;
            let minor: u32 = parts.next()?.parse().ok()?;
            (major == 3).then(|| format!("{major}.{minor}"))
        })
        .unwrap_or_else(|| format!("{}.{}", DEFAULT_PYTHON.0, DEFAULT_PYTHON.1));
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "service".to_owned());
    Ok(Detected {
        kind: ProjectKind::Requirements,
        reason: format!("{} without a pyproject.toml", requirements.path),
        name,
        dependencies: Dependencies::Requirements(requirements),
        cmd,
        cmd_guessed,
        python,
        has_pyproject: false,
        warnings,
    })
}

/// What a requirements.txt service runs: Django's `manage.py`, else `app.py` or `main.py`.
fn detect_command(dir: &Path, warnings: &mut Vec<String>) -> Option<Vec<String>> {
    let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    if dir.join("manage.py").is_file() {
        warnings.push(
            "manage.py runserver is Django's development server: for production pass e.g. `--cmd \"gunicorn PROJECT.wsgi -b 0.0.0.0:8000\"`".to_owned(),
        );
        return Some(words(&["python", "manage.py", "runserver", "0.0.0.0:8000"]));
    }
    ["app.py", "main.py"]
        .into_iter()
        .find(|name| dir.join(name).is_file())
        .map(|name| words(&["python", name]))
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

/// The Dockerfile for the detected project, its base image, command and cache id filled in.
pub fn dockerfile(detected: &Detected, base_image: &str, cache_id: &str) -> String {
    let template = match detected.kind {
        ProjectKind::Pip => PIP,
        ProjectKind::Poetry => POETRY,
        ProjectKind::Uv => UV,
        ProjectKind::Requirements => REQUIREMENTS,
    };
    let (mounts, install, from) = match &detected.dependencies {
        Dependencies::Requirements(found) => (
            found
                .files
                .iter()
                .map(|file| format!("--mount=type=bind,source={file},target=/req/{file}"))
                .collect::<Vec<_>>()
                .join(" \\\n    "),
            format!(
                "{}-r /req/{}",
                if found.hashes {
                    "--require-hashes "
                } else {
                    ""
                },
                found.path
            ),
            found.path.clone(),
        ),
        _ => (
            "--mount=type=bind,from=manifest,source=/manifest,target=/manifest".to_owned(),
            "-r /manifest/requirements.txt".to_owned(),
            "pyproject.toml's [project] dependencies".to_owned(),
        ),
    };
    let deps_from = match &detected.dependencies {
        Dependencies::Requirements(found) => format!(" pinned in {}", found.path),
        _ => String::new(),
    };
    let cmd = serde_json::to_string(&detected.cmd).unwrap_or_else(|_| "[]".to_owned());
    template
        .replace("{{deps_from}}", &deps_from)
        .replace("{{deps_from_short}}", &from)
        .replace("{{deps_mounts}}", &mounts)
        .replace("{{deps_install}}", &install)
        .replace("{{read_pyproject}}", READ_PYPROJECT)
        .replace("{{poetry_requirements}}", POETRY_REQUIREMENTS)
        .replace("{{uv_requirement}}", UV_REQUIREMENT)
        .replace("{{cache_id}}", cache_id)
        .replace("{{base_image}}", base_image)
        .replace("{{cmd}}", &cmd)
}

/// The id of the project's cache mounts: its name and 8 random characters, so that two
/// projects (or two checkouts of one) never share a cache a build of the other could poison.
pub fn cache_id(name: &str) -> String {
    let mut id: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    id.truncate(40);
    let random = crate::random::session_id();
    format!("{}-{}", id.trim_matches('-'), &random[..8])
}

/// The project config: the image if given (else a commented example), the tag templates, and
/// the indexes (else a commented example).
pub fn config_block(image: Option<&str>, index_urls: &[String], tags: &[&str]) -> String {
    let mut block =
        String::from("# Where `shipimg build --push` pushes: the repository, without a tag.\n");
    match image {
        Some(image) => block.push_str(&format!("image = {}\n", toml_string(image))),
        None => block.push_str("# image = \"europe-west4-docker.pkg.dev/PROJECT/REPO/SERVICE\"\n"),
    }
    let tags: Vec<String> = tags.iter().map(|t| toml_string(t)).collect();
    block.push_str(&format!(
        "# Tag templates: {{version}} (from pyproject.toml), {{git_sha}}, {{git_short_sha}}, {{branch}}, {{date}}.\n\
         tags = [{}]\n\
         # The package indexes the build installs from, without credentials: shipimg serves\n\
         # them to the Dockerfile's `RUN --mount=type=secret,id=netrc` steps from your netrc,\n\
         # SHIPIMG_INDEX_* variables or Google credentials.\n",
        tags.join(", ")
    ));
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

    /// A project directory holding `files` (paths may have directories).
    pub(super) fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn kinds_are_detected_from_the_project_files() {
        let pep621 = "[project]\nname = \"svc\"\nversion = \"1.0\"\n[build-system]\nrequires = [\"setuptools\"]\n";
        let dir = project(&[("pyproject.toml", pep621)]);
        assert_eq!(
            detect(dir.path(), None, None).unwrap().kind,
            ProjectKind::Pip
        );
        let dir = project(&[("pyproject.toml", pep621), ("uv.lock", "version = 1\n")]);
        let uv = detect(dir.path(), None, None).unwrap();
        assert_eq!((uv.kind, uv.reason.as_str()), (ProjectKind::Uv, "uv.lock"));
        let poetry = "[tool.poetry]\nname = \"p-svc\"\n[tool.poetry.dependencies]\npython = \"^3.11\"\n[tool.poetry.scripts]\nrun-it = \"p:main\"\n[build-system]\nrequires = [\"poetry-core\"]\n";
        let dir = project(&[("pyproject.toml", poetry)]);
        let found = detect(dir.path(), None, None).unwrap();
        assert_eq!(found.kind, ProjectKind::Poetry);
        assert_eq!(found.cmd, vec!["run-it"]);
        assert_eq!(found.python, "3.12");
        assert_eq!(found.dependencies, Dependencies::PoetryLock);
        assert!(
            found.warnings[0].starts_with("no poetry.lock yet"),
            "{:?}",
            found.warnings
        );
        let dir = project(&[("pyproject.toml", poetry), ("poetry.lock", "")]);
        let found = detect(dir.path(), None, None).unwrap();
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        let forced = detect(dir.path(), Some(ProjectKind::Pip), None).unwrap();
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
        let found = detect(dir.path(), None, None).unwrap();
        assert_eq!(
            (found.cmd, found.cmd_guessed),
            (vec!["serve".to_owned()], false)
        );
        assert!(found.warnings[0].contains("no [build-system]"));
        let dir = project(&[("pyproject.toml", "[project]\nname = \"My-Service\"\n")]);
        let found = detect(dir.path(), None, None).unwrap();
        assert_eq!(found.cmd, vec!["python", "-m", "my_service"]);
        assert!(found.cmd_guessed);
    }

    #[test]
    fn projects_init_cannot_read_are_errors() {
        let dir = project(&[]);
        assert!(matches!(
            detect(dir.path(), None, None),
            Err(InitError::NoProject(_))
        ));
        let dir = project(&[("requirements.txt", "six\n"), ("app.py", "")]);
        let err = detect(dir.path(), Some(ProjectKind::Pip), None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--kind pip needs a pyproject.toml, and "),
            "{err}"
        );
        let dir = project(&[("Pipfile", "[packages]\n")]);
        assert!(matches!(
            detect(dir.path(), None, None),
            Err(InitError::Pipfile(_))
        ));
        let dir = project(&[("pyproject.toml", "[tool.black]\nline-length = 99\n")]);
        assert!(matches!(
            detect(dir.path(), None, None),
            Err(InitError::UnknownKind(_))
        ));
        let forced = detect(dir.path(), Some(ProjectKind::Pip), None).unwrap();
        assert_eq!(forced.kind, ProjectKind::Pip);
        let dir = project(&[("pyproject.toml", "[project\n")]);
        assert!(matches!(
            detect(dir.path(), None, None),
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
    fn pip_projects_take_a_pinned_requirement_file_over_project_dependencies() {
        let pep621 = "[project]\nname = \"svc\"\ndependencies = [\"six\"]\n[build-system]\nrequires = [\"hatchling\"]\n";
        let dir = project(&[("pyproject.toml", pep621)]);
        assert_eq!(
            detect(dir.path(), None, None).unwrap().dependencies,
            Dependencies::Pyproject
        );
        let dir = project(&[
            ("pyproject.toml", pep621),
            ("requirements.lock", "six==1.16.0 --hash=sha256:ab\n"),
            ("requirements.txt", "six\n"),
        ]);
        let found = detect(dir.path(), None, None).unwrap();
        let Dependencies::Requirements(req) = &found.dependencies else {
            panic!("{found:?}")
        };
        assert_eq!((req.path.as_str(), req.hashes), ("requirements.lock", true));
        // A development requirements.txt (`-e .`) falls back to [project] with a warning.
        let dir = project(&[("pyproject.toml", pep621), ("requirements.txt", "-e .\n")]);
        let found = detect(dir.path(), None, None).unwrap();
        assert_eq!(found.dependencies, Dependencies::Pyproject);
        assert!(found.warnings[0].contains("installing [project] dependencies instead"));
    }

    #[test]
    fn requirements_projects_need_an_entry_point_or_a_command() {
        let dir = project(&[("requirements.txt", "flask==3.0.0\n"), ("app.py", "")]);
        let found = detect(dir.path(), None, None).unwrap();
        assert_eq!(found.kind, ProjectKind::Requirements);
        assert_eq!(found.cmd, ["python", "app.py"]);
        assert!(!found.has_pyproject);
        let dir = project(&[("requirements.txt", "flask==3.0.0\n")]);
        assert!(matches!(
            detect(dir.path(), None, None),
            Err(InitError::NoCommand(_))
        ));
        let found = detect(
            dir.path(),
            None,
            Some("gunicorn 'app:create_app()' -b 0.0.0.0:80"),
        )
        .unwrap();
        assert_eq!(
            found.cmd,
            ["gunicorn", "app:create_app()", "-b", "0.0.0.0:80"]
        );
        assert!(matches!(
            detect(dir.path(), None, Some("python 'app.py")),
            Err(InitError::BadCommand(_))
        ));
        let dir = project(&[
            ("requirements.txt", "django\n"),
            ("manage.py", ""),
            (".python-version", "3.11.9\n"),
        ]);
        let found = detect(dir.path(), None, None).unwrap();
        assert_eq!(found.cmd[..2], ["python", "manage.py"]);
        assert_eq!(found.python, "3.11");
        assert!(found.warnings[0].contains("development server"));
    }

    #[test]
    fn dockerfiles_are_filled_install_dependencies_first_and_lint_clean() {
        let pep621 = "[project]\nname = \"svc\"\n[build-system]\nrequires = [\"setuptools\"]\n";
        let cases: [(&[(&str, &str)], ProjectKind); 5] = [
            (&[("pyproject.toml", pep621)], ProjectKind::Pip),
            (
                &[
                    ("pyproject.toml", pep621),
                    ("requirements.lock", "six==1 --hash=sha256:a\n"),
                ],
                ProjectKind::Pip,
            ),
            (
                &[
                    ("pyproject.toml", "[tool.poetry]\nname = \"p\"\n"),
                    ("poetry.lock", ""),
                ],
                ProjectKind::Poetry,
            ),
            (
                &[("pyproject.toml", pep621), ("uv.lock", "")],
                ProjectKind::Uv,
            ),
            (
                &[("requirements.txt", "six\n"), ("main.py", "")],
                ProjectKind::Requirements,
            ),
        ];
        for (files, kind) in cases {
            let dir = project(files);
            let found = detect(dir.path(), None, None).unwrap();
            assert_eq!(found.kind, kind);
            let text = dockerfile(&found, "python:3.12-slim", "svc-abcd1234");
            assert!(!text.contains("{{"), "{kind:?}: {text}");
            assert!(
                text.contains("FROM python:3.12-slim AS deps") || text.contains("FROM uv AS deps"),
                "{kind:?}"
            );
            assert!(
                text.contains("COPY --from=deps /opt/venv /opt/venv"),
                "{kind:?}"
            );
            assert!(
                text.contains("id=shipimg-pip-svc-abcd1234,sharing=locked"),
                "{kind:?}"
            );
            assert!(!text.contains("NO_CACHE"), "{kind:?}");
            assert!(text.contains("USER 65534:65534"), "{kind:?}");
            assert!(
                text.contains("--mount=type=secret,id=netrc,target=/root/.netrc,required=true"),
                "{kind:?}"
            );
            // The source reaches no stage before the dependencies are installed.
            let deps_run = text.find("AS deps").unwrap();
            let deps_end = text[deps_run..]
                .find("\nFROM ")
                .map_or(text.len(), |i| deps_run + i);
            assert!(!text[..deps_end].contains("COPY ."), "{kind:?}: {text}");
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
    fn cache_ids_are_the_name_and_random() {
        let (a, b) = (cache_id("My_Service.api"), cache_id("My_Service.api"));
        assert!(a.starts_with("my-service-api-"), "{a}");
        assert_eq!(a.len(), "my-service-api-".len() + 8);
        assert_ne!(a, b);
    }

    #[test]
    fn the_block_is_appended_or_replaced() {
        let block = format!(
            "[tool.shipimg]\n{}",
            config_block(
                Some("reg.example/p/svc"),
                &["https://idx.example/simple/".into()],
                &["{version}"],
            )
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
        let commented = format!(
            "[tool.shipimg]\n{}",
            config_block(None, &[], &["{git_short_sha}"])
        );
        let doc: toml::Table = with_block(original, &commented).parse().unwrap();
        assert!(doc["tool"]["shipimg"].get("image").is_none());
    }
}
