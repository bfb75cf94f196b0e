//! The GitHub Action (`action.yml` and `scripts/action/`): the rules its file keeps (every input
//! reaches the scripts through `env:`, no `run:` expands an expression, the default pin is the
//! crate's version, every output is the build step's), the workflow lint, and the install-and-run
//! path run here as a runner would, against the sandbox.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::{
    ImageGuard, Outcome, Sandbox, build_lock, github_outputs, index_password, repo_root,
};
use crate::registry::{registry_digest, repository};

/// Every scalar in a YAML file of the block style action.yml is written in, by its path
/// (`inputs.version.default`, `runs.steps.1.env.INPUT_TAGS`), with block scalars (`|`, `>`)
/// joined by new lines. Enough for action.yml: no flow collections, no anchors, no multi-line
/// plain scalars (it panics on a line it cannot place, so a file it misreads fails the test).
fn yaml_scalars(text: &str) -> Vec<(String, String)> {
    let mut scalars = Vec::new();
    // (indent of the key, path segment) for each open mapping level.
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut items: BTreeMap<String, usize> = BTreeMap::new();
    let mut lines = text.lines().peekable();
    while let Some(raw) = lines.next() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut indent = raw.len() - trimmed.len();
        let mut rest = trimmed;
        if let Some(item) = rest.strip_prefix("- ") {
            // A list item: its keys sit two columns in.
            stack.retain(|(at, _)| *at < indent);
            let parent: Vec<&str> = stack.iter().map(|(_, s)| s.as_str()).collect();
            let parent = parent.join(".");
            let n = items.entry(parent).and_modify(|n| *n += 1).or_insert(0);
            stack.push((indent, n.to_string()));
            indent += 2;
            rest = item;
        }
        stack.retain(|(at, _)| *at < indent);
        let (key, value) = rest
            .split_once(':')
            .unwrap_or_else(|| panic!("not `key: value`: {raw:?}"));
        let value = value.trim();
        let path: Vec<&str> = stack.iter().map(|(_, s)| s.as_str()).chain([key]).collect();
        let path = path.join(".");
        if value.is_empty() {
            stack.push((indent, key.to_owned()));
        } else if value == "|" || value == ">" {
            let mut block = Vec::new();
            while let Some(next) = lines.peek() {
                let next_indent = next.len() - next.trim_start().len();
                if !next.trim().is_empty() && next_indent <= indent {
                    break;
                }
                block.push(next.trim().to_owned());
                lines.next();
            }
            scalars.push((path, block.join("\n")));
        } else {
            scalars.push((path, unquote(value).to_owned()));
        }
    }
    scalars
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// action.yml, read once.
struct Action {
    scalars: Vec<(String, String)>,
}

impl Action {
    fn load() -> Action {
        let text = std::fs::read_to_string(repo_root().join("action.yml")).unwrap();
        Action {
            scalars: yaml_scalars(&text),
        }
    }

    /// The names under a top-level mapping (`inputs`, `outputs`).
    fn names(&self, section: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .scalars
            .iter()
            .filter_map(|(path, _)| path.strip_prefix(&format!("{section}.")))
            .filter_map(|rest| rest.split_once('.').map(|(name, _)| name.to_owned()))
            .collect();
        names.dedup();
        names
    }

    fn get(&self, path: &str) -> Option<&str> {
        self.scalars
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, v)| v.as_str())
    }

    /// The step with this `id`: its index under `runs.steps`.
    fn step(&self, id: &str) -> String {
        self.scalars
            .iter()
            .find_map(|(path, value)| {
                let n = path.strip_prefix("runs.steps.")?.strip_suffix(".id")?;
                (value == id).then(|| n.to_owned())
            })
            .unwrap_or_else(|| panic!("no step with id `{id}` in action.yml"))
    }

    /// A step's `env:` mapping: variable name to its expression.
    fn step_env(&self, id: &str) -> BTreeMap<String, String> {
        let prefix = format!("runs.steps.{}.env.", self.step(id));
        self.scalars
            .iter()
            .filter_map(|(path, value)| {
                Some((path.strip_prefix(&prefix)?.to_owned(), value.clone()))
            })
            .collect()
    }
}

/// The crate's version, from Cargo.toml's `[package]`.
fn crate_version() -> String {
    let text = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let package = text.split("[package]").nth(1).unwrap();
    let line = package
        .lines()
        .find(|line| line.starts_with("version = "))
        .unwrap();
    unquote(line.trim_start_matches("version = ")).to_owned()
}

#[test]
fn every_input_reaches_the_scripts_through_env_and_no_run_expands_one() {
    let action = Action::load();
    let inputs = action.names("inputs");
    assert!(inputs.len() >= 15, "{inputs:?}");
    for name in [
        "version",
        "context",
        "file",
        "image",
        "tags",
        "push",
        "target",
        "build-args",
    ] {
        assert!(
            inputs.iter().any(|i| i == name),
            "no input `{name}`: {inputs:?}"
        );
    }
    for name in ["index-urls", "netrc", "progress"] {
        assert!(
            inputs.iter().any(|i| i == name),
            "no input `{name}`: {inputs:?}"
        );
    }
    let env_values: Vec<&str> = action
        .scalars
        .iter()
        .filter(|(path, _)| path.starts_with("runs.steps.") && path.contains(".env."))
        .map(|(_, value)| value.as_str())
        .collect();
    for input in &inputs {
        let expression = format!("${{{{ inputs.{input} }}}}");
        assert_eq!(
            env_values.iter().filter(|v| **v == expression).count(),
            1,
            "input `{input}` is not mapped through exactly one step's env:"
        );
    }
    // No `run:` holds an expression at all: the runner would paste its value into the script.
    let runs: Vec<&(String, String)> = action
        .scalars
        .iter()
        .filter(|(path, _)| path.starts_with("runs.steps.") && path.ends_with(".run"))
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for (path, script) in runs {
        assert!(
            !script.contains("${{"),
            "{path} expands an expression: {script}"
        );
        assert!(
            script.contains("$GITHUB_ACTION_PATH/scripts/action/"),
            "{path}: {script}"
        );
    }
    // The netrc is a secret: it goes to the script as a variable, never into the argv.
    assert_eq!(
        action.step_env("build")["INPUT_NETRC"],
        "${{ inputs.netrc }}"
    );
}

#[test]
fn the_default_pin_is_the_crate_version_and_outputs_are_the_build_steps() {
    let action = Action::load();
    assert_eq!(
        action.get("inputs.version.default"),
        Some(crate_version().as_str())
    );
    let outputs = action.names("outputs");
    assert_eq!(outputs, ["digest", "image", "imageid", "tags", "metadata"]);
    for output in &outputs {
        assert_eq!(
            action.get(&format!("outputs.{output}.value")),
            Some(format!("${{{{ steps.build.outputs.{output} }}}}").as_str()),
        );
    }
}

#[test]
fn the_yaml_reader_reads_nested_lists_and_blocks() {
    let scalars = yaml_scalars(
        "a:\n  b: \"1\"\n  steps:\n    - id: x\n      run: |\n        one\n        two\n    - id: y\nc: 2\n",
    );
    let want = [
        ("a.b", "1"),
        ("a.steps.0.id", "x"),
        ("a.steps.0.run", "one\ntwo"),
        ("a.steps.1.id", "y"),
        ("c", "2"),
    ];
    let got: Vec<(&str, &str)> = scalars
        .iter()
        .map(|(p, v)| (p.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, want);
}

/// The same script CI runs: actionlint on the workflows (and so on action.yml's inputs), and
/// shellcheck on the action's scripts.
#[test]
fn workflows_and_action_scripts_pass_the_lint() {
    let out = Outcome::of(&mut Command::new(
        repo_root().join("scripts/lint-workflows.sh"),
    ))
    .success();
    assert!(
        out.stdout.contains("workflows and action scripts: ok"),
        "{out}"
    );
}

/// A directory holding only shipimg's wheel (the one the packaging tests install, built once
/// per test run): what `PIP_FIND_LINKS` points at, so that pip cannot pick another file.
fn wheel_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let wheel = crate::wheel::built_wheel();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("action-wheel");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(wheel, dir.join(wheel.file_name().unwrap())).unwrap();
        dir
    })
}

/// A command with a runner's environment for one step of the action: a clean environment with
/// the runner's files, the sandbox's engine and registry login, and pip pointed at the local
/// wheel (so the action's own `pip install shipimg==VERSION` installs it).
fn runner_step(script: &str, runner: &Path, github_output: &Path) -> Command {
    let sandbox = Sandbox::get();
    let mut cmd = Command::new(repo_root().join("scripts/action").join(script));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", runner.join("home"))
        .env("RUNNER_TEMP", runner.join("temp"))
        .env("GITHUB_ACTION_PATH", repo_root())
        .env("GITHUB_OUTPUT", github_output)
        .env("GITHUB_STEP_SUMMARY", runner.join("step_summary"))
        .env("GITHUB_PATH", runner.join("github_path"))
        .env("PIP_NO_INDEX", "1")
        .env("PIP_FIND_LINKS", wheel_dir())
        .env("DOCKER_HOST", sandbox.docker_host())
        .env("DOCKER_CONFIG", sandbox.var("DOCKER_CONFIG"))
        .env("NO_COLOR", "1");
    cmd
}

/// The step's `env:` mapping evaluated as the runner would: each `${{ inputs.NAME }}` is the
/// given input or the input's default, `${{ steps.ID.outputs.NAME }}` that step's output.
fn step_env(
    action: &Action,
    id: &str,
    given: &BTreeMap<&str, String>,
    steps: &BTreeMap<&str, BTreeMap<String, String>>,
) -> Vec<(String, String)> {
    action
        .step_env(id)
        .into_iter()
        .map(|(var, expression)| {
            let inner = expression
                .strip_prefix("${{ ")
                .and_then(|e| e.strip_suffix(" }}"))
                .unwrap_or_else(|| panic!("`{var}: {expression}` is not one expression"));
            let value = if let Some(input) = inner.strip_prefix("inputs.") {
                given.get(input).cloned().unwrap_or_else(|| {
                    action
                        .get(&format!("inputs.{input}.default"))
                        .unwrap_or_default()
                        .to_owned()
                })
            } else {
                let (step, output) = inner
                    .strip_prefix("steps.")
                    .and_then(|r| r.split_once(".outputs."))
                    .unwrap_or_else(|| panic!("unexpected expression in env: {expression}"));
                steps[step].get(output).cloned().unwrap_or_default()
            };
            (var, value)
        })
        .collect()
}

/// The action's install step and build step, run as a runner runs them (each step's own
/// `GITHUB_OUTPUT`, its `env:` mapping evaluated), build and push the example project to the
/// sandbox registry: the outputs hold the digest the registry serves, the metadata JSON, and
/// nothing anywhere holds the index password.
#[test]
fn the_action_installs_the_wheel_and_pushes_the_example_with_its_outputs() {
    let sandbox = Sandbox::get();
    let action = Action::load();
    let wheels = wheel_dir();
    let runner = tempfile::tempdir().unwrap();
    std::fs::create_dir(runner.path().join("temp")).unwrap();
    std::fs::create_dir(runner.path().join("home")).unwrap();
    let project = tempfile::tempdir().unwrap();
    let copied = Command::new("cp")
        .arg("-r")
        .arg(format!(
            "{}/.",
            repo_root().join("fixtures/example").display()
        ))
        .arg(project.path())
        .status()
        .unwrap();
    assert!(copied.success());
    let repo = repository("action");
    let tags = [format!("{repo}:action-1"), format!("{repo}:action-2")];
    let _guard = ImageGuard::new(tags.iter().cloned());
    let password = index_password(sandbox);
    assert!(!password.is_empty());

    let given: BTreeMap<&str, String> = [
        ("tags", format!("{}\n{}", tags[0], tags[1])),
        ("push", "true".to_owned()),
        ("index-urls", sandbox.var("SANDBOX_INDEX_URL").to_owned()),
        (
            "netrc",
            std::fs::read_to_string(sandbox.var("SANDBOX_NETRC")).unwrap(),
        ),
    ]
    .into_iter()
    .collect();
    let mut steps: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();

    let install_output = runner.path().join("install_output");
    let started = std::time::Instant::now();
    let install = Outcome::of(
        runner_step("install.sh", runner.path(), &install_output)
            .envs(step_env(&action, "install", &given, &steps)),
    )
    .success();
    let install_secs = started.elapsed().as_secs_f64();
    let outputs = github_outputs_plain(&std::fs::read_to_string(&install_output).unwrap());
    let shipimg = PathBuf::from(&outputs["shipimg"]);
    assert!(
        shipimg.starts_with(runner.path().join("temp")),
        "{shipimg:?}"
    );
    assert!(
        install
            .stdout
            .contains(&format!("shipimg {}", crate_version())),
        "{install}"
    );
    eprintln!(
        "action install step: {install_secs:.1} s from {}",
        wheels.display()
    );
    steps.insert("install", outputs);

    let build_output = runner.path().join("build_output");
    let build = {
        let _lock = build_lock();
        Outcome::of(
            runner_step("run.sh", runner.path(), &build_output)
                .current_dir(project.path())
                .envs(step_env(&action, "build", &given, &steps)),
        )
        .success()
    };

    let digest = registry_digest(&repo, "action-1").expect("the tag is in the registry");
    let text = std::fs::read_to_string(&build_output).unwrap();
    let outputs = github_outputs(&text);
    assert_eq!(outputs["digest"], digest, "{text}");
    assert_eq!(outputs["image"], format!("{repo}@{digest}"));
    assert_eq!(outputs["tags"], format!("{}\n{}", tags[0], tags[1]));
    assert!(outputs["imageid"].starts_with("sha256:"), "{text}");
    let metadata: serde_json::Value = serde_json::from_str(&outputs["metadata"]).unwrap();
    assert_eq!(metadata["containerimage.digest"], digest.as_str());
    let summary = std::fs::read_to_string(runner.path().join("step_summary")).unwrap();
    assert!(summary.contains(&format!("`{digest}`")), "{summary}");

    for (what, text) in [
        ("GITHUB_OUTPUT", &text),
        ("GITHUB_STEP_SUMMARY", &summary),
        ("the install step's stdout", &install.stdout),
        ("the install step's stderr", &install.stderr),
        ("the build step's stdout", &build.stdout),
        ("the build step's stderr", &build.stderr),
    ] {
        assert!(!text.contains(&password), "the index password is in {what}");
    }
}

/// `name=value` lines, as install.sh writes its one output.
fn github_outputs_plain(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}
