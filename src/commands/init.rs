//! `shipimg init`: writes a project's Dockerfile, `.dockerignore` and config (`[tool.shipimg]`
//! in pyproject.toml, or `shipimg.toml`).
//! Nothing is overwritten without `--force`, and nothing is written unless everything can be.

use std::path::{Path, PathBuf};

use crate::cli::InitArgs;
use crate::config::{ConfigSource, check_image, check_index_url};
use crate::error::{CliError, ExitStatus};
use crate::init::{self, Dependencies, ProjectKind};
use crate::printer::Printer;

/// Sets the project up.
pub async fn run(args: &InitArgs, printer: &Printer) -> Result<ExitStatus, CliError> {
    let dir = &args.path;
    let detected = init::detect(dir, args.kind, args.cmd.as_deref())?;
    // The values go through the config's own checks, so init never writes a config that
    // `build` would refuse.
    let flag = |name: &str| ConfigSource {
        path: PathBuf::from(name),
        pyproject: false,
    };
    if let Some(image) = &args.image {
        check_image(&flag("--image"), image)?;
    }
    for url in &args.index_urls {
        check_index_url(&flag("--index-url"), url)?;
    }

    let base_image = args
        .base_image
        .clone()
        .unwrap_or_else(|| format!("python:{}-slim", detected.python));
    // Checked now, as `-t` is: a typo fails here, not as the first build's pull error.
    if let Err(err) = crate::reference::Reference::parse(&base_image) {
        return Err(CliError::user(format!("--base-image: {err}")).with_hint(err.hint()));
    }
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
    if !existing.is_empty() && !args.force {
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
    let block = init::config_block(args.image.as_deref(), &args.index_urls, tags);
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
    printer.status("Detected", &format!("{kind}, from {}", detected.reason));
    printer.status(
        "Dependencies",
        &format!("{dependencies}, installed in a layer of their own"),
    );
    printer.status(
        "Wrote",
        &format!(
            "{} (FROM {base_image}, CMD {})",
            shown(&dockerfile_path),
            serde_json::to_string(&detected.cmd).unwrap_or_default()
        ),
    );
    printer.status("Wrote", &shown(&ignore_path));
    printer.status("Wrote", &config_name);
    printer.status(
        "Caches",
        &format!("pip/uv downloads in cache mounts with id shipimg-*-{cache_id} (never the netrc)"),
    );
    if detected.cmd_guessed {
        let what = match detected.has_pyproject {
            true => "no [project.scripts] entry",
            false => "no --cmd",
        };
        printer.warn(&format!(
            "{what}: the image runs `{}`; edit CMD in the Dockerfile (or pass --cmd) if that is wrong",
            detected.cmd.join(" ")
        ));
    }
    for warning in &detected.warnings {
        printer.warn(warning);
    }
    if args.image.is_none() {
        printer.info(&format!(
            "next: set `image` in {config_name}, then run `shipimg build --push`"
        ));
    } else {
        printer.info("next: `shipimg build --push`");
    }
    Ok(ExitStatus::Success)
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text)
        .map_err(|err| CliError::user(format!("cannot write {}: {err}", path.display())))
}

fn shown(path: &Path) -> String {
    path.strip_prefix(".").unwrap_or(path).display().to_string()
}
