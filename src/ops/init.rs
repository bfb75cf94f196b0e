//! `shipimg init` as an operation: detect the project, write its Dockerfile, `.dockerignore`
//! and config (`[tool.shipimg]` in pyproject.toml, or `shipimg.toml`), and say what it wrote.
//! Nothing is overwritten without `--force`, and nothing is written unless everything can be.

use std::path::Path;

use crate::error::CliError;
use crate::init::{self, Dependencies, ProjectKind};
use crate::settings::InitSettings;

use super::Report;

/// Sets the project up.
pub fn init_project(settings: &InitSettings, report: &dyn Report) -> Result<(), CliError> {
    let dir = &settings.dir;
    let detected = init::detect(dir, settings.kind, settings.cmd.as_deref())?;
    let base_image = settings
        .base_image
        .clone()
        .unwrap_or_else(|| format!("python:{}-slim", detected.python));
    let pyproject_path = dir.join("pyproject.toml");
    let pyproject = match detected.has_pyproject {
        true => Some(std::fs::read_to_string(&pyproject_path).map_err(|err| {
            CliError::user(format!("cannot read {}: {err}", pyproject_path.display()))
        })?),
        false => None,
    };
    let dockerfile_path = dir.join("Dockerfile");
    let ignore_path = dir.join(".dockerignore");

    // A project that keeps its config in shipimg.toml gets the block there.
    let shipimg_toml = dir.join("shipimg.toml");
    let mut existing: Vec<String> = Vec::new();
    for path in [&dockerfile_path, &ignore_path, &shipimg_toml] {
        if path.exists() {
            existing.push(shown(path));
        }
    }
    if pyproject.as_deref().is_some_and(init::has_block) {
        existing.push(format!("[tool.shipimg] in {}", shown(&pyproject_path)));
    }
    if !existing.is_empty() && !settings.force {
        return Err(CliError::user(format!(
            "not overwriting {}: it exists already",
            existing.join(", ")
        ))
        .with_hint("pass --force to replace it, or move it aside"));
    }

    // Without a pyproject.toml there is no {version}: the commit names the image.
    let tags: &[&str] = match detected.has_pyproject {
        true => &["{version}", "{git_short_sha}"],
        false => &["{git_short_sha}"],
    };
    let block = init::config_block(settings.image.as_deref(), &settings.index_urls, tags);
    let (config_path, config_text, config_name) = match (&pyproject, shipimg_toml.exists()) {
        (Some(pyproject), false) => (
            &pyproject_path,
            init::with_block(pyproject, &format!("[tool.shipimg]\n{block}")),
            format!("[tool.shipimg] in {}", shown(&pyproject_path)),
        ),
        _ => (
            &shipimg_toml,
            format!("# shipimg's project config (`shipimg init`).\n{block}"),
            shown(&shipimg_toml),
        ),
    };
    // Everything is prepared before anything is written.
    let cache_id = init::cache_id(&detected.name);
    let dockerfile = init::dockerfile(&detected, &base_image, &cache_id);
    write(&dockerfile_path, &dockerfile)?;
    write(&ignore_path, init::DOCKERIGNORE)?;
    write(config_path, &config_text)?;
    crate::config::load(dir)?;

    let kind = match detected.kind {
        ProjectKind::Pip => "pip",
        ProjectKind::Poetry => "Poetry",
        ProjectKind::Uv => "uv",
        ProjectKind::Requirements => "requirements.txt",
    };
    let dependencies = match &detected.dependencies {
        Dependencies::Pyproject => "[project] dependencies".to_owned(),
        Dependencies::Requirements(found) => match found.hashes {
            true => format!("{} (--require-hashes)", found.path),
            false => found.path.clone(),
        },
        Dependencies::PoetryLock => {
            "poetry.lock (exported by Poetry, pip --require-hashes)".to_owned()
        }
        Dependencies::UvLock => "uv.lock (uv sync --locked)".to_owned(),
    };
    report.status("Detected", &format!("{kind}, from {}", detected.reason));
    report.status(
        "Dependencies",
        &format!("{dependencies}, installed in a layer of their own"),
    );
    report.status(
        "Wrote",
        &format!(
            "{} (FROM {base_image}, CMD {})",
            shown(&dockerfile_path),
            serde_json::to_string(&detected.cmd).unwrap_or_default()
        ),
    );
    report.status("Wrote", &shown(&ignore_path));
    report.status("Wrote", &config_name);
    report.status(
        "Caches",
        &format!("pip/uv downloads in cache mounts with id shipimg-*-{cache_id} (never the netrc)"),
    );
    if detected.cmd_guessed {
        let what = match detected.has_pyproject {
            true => "no [project.scripts] entry",
            false => "no --cmd",
        };
        report.warn(
            &format!(
                "{what}: the image runs `{}`; edit CMD in the Dockerfile (or pass --cmd) if that is wrong",
                detected.cmd.join(" ")
            ),
            None,
        );
    }
    for warning in &detected.warnings {
        report.warn(warning, None);
    }
    if settings.image.is_none() {
        report.info(&format!(
            "next: set `image` in {config_name}, then run `shipimg build --push`"
        ));
    } else {
        report.info("next: `shipimg build --push`");
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text)
        .map_err(|err| CliError::user(format!("cannot write {}: {err}", path.display())))
}

fn shown(path: &Path) -> String {
    path.strip_prefix(".").unwrap_or(path).display().to_string()
}
