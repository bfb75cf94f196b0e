//! `shipimg init`: writes a project's Dockerfile, `.dockerignore` and `[tool.shipimg]` block.
//! Nothing is overwritten without `--force`, and nothing is written unless everything can be.

use std::path::{Path, PathBuf};

use crate::cli::{InitArgs, ProjectKind};
use crate::config::{ConfigSource, check_image, check_index_url};
use crate::error::{CliError, ExitStatus};
use crate::init::{self, InitError};
use crate::printer::Printer;

/// Sets the project up.
pub async fn run(args: &InitArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let dir = &args.path;
    let detected = init::detect(dir, args.kind).map_err(|err| {
        let hint = match &err {
            InitError::NoPyproject(_) => {
                "run `shipimg init` in a Python project with a pyproject.toml (pip, Poetry or uv), or pass its directory"
            }
            InitError::Invalid { .. } => "fix the file's TOML syntax, then run init again",
            InitError::UnknownKind(_) => "say how it is built with `--kind pip|poetry|uv`",
        };
        CliError::user(err.to_string()).with_hint(hint)
    })?;
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
    let pyproject_path = dir.join("pyproject.toml");
    let pyproject = std::fs::read_to_string(&pyproject_path)?;
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
    if init::has_block(&pyproject) {
        existing.push(format!("[tool.shipimg] in {}", shown(&pyproject_path)));
    }
    if !existing.is_empty() && !args.force {
        return Err(CliError::user(format!(
            "not overwriting {}: it exists already",
            existing.join(", ")
        ))
        .with_hint("pass --force to replace it, or move it aside")
        .into());
    }

    let block = init::config_block(args.image.as_deref(), &args.index_urls);
    let (config_path, config_text) = match shipimg_toml.exists() {
        true => (&shipimg_toml, block.clone()),
        false => (&pyproject_path, init::with_block(&pyproject, &block)),
    };
    // Everything is prepared before anything is written.
    let dockerfile = init::dockerfile(detected.kind, &base_image, &detected.cmd);
    write(&dockerfile_path, &dockerfile)?;
    write(&ignore_path, init::DOCKERIGNORE)?;
    write(config_path, &config_text)?;
    crate::config::load(dir)?;

    let kind = match detected.kind {
        ProjectKind::Pip => "pip (pip install . into a virtualenv)",
        ProjectKind::Poetry => "Poetry (pip install . through poetry-core)",
        ProjectKind::Uv => "uv (uv sync --locked --no-dev)",
    };
    printer.status("Detected", &format!("{kind}, from {}", detected.reason));
    printer.status(
        "Wrote",
        &format!(
            "{} (FROM {base_image}, CMD {})",
            shown(&dockerfile_path),
            serde_json::to_string(&detected.cmd).unwrap_or_default()
        ),
    );
    printer.status("Wrote", &shown(&ignore_path));
    printer.status(
        "Wrote",
        &format!("[tool.shipimg] in {}", shown(config_path)),
    );
    if detected.cmd_guessed {
        printer.warn(&format!(
            "no [project.scripts] entry: the image runs `{}`; edit CMD in the Dockerfile if that is wrong",
            detected.cmd.join(" ")
        ));
    }
    for warning in &detected.warnings {
        printer.warn(warning);
    }
    if args.image.is_none() {
        printer.info("next: set `image` in [tool.shipimg], then run `shipimg build --push`");
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
