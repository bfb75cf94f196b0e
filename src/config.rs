//! The project config: `[tool.shipimg]` in the context's `pyproject.toml` (where Python projects
//! keep tool settings), or the top level of `shipimg.toml`. It only supplies values: flags and
//! `SHIPIMG_*` variables override it, as [`crate::settings`] resolves them.
//!
//! Keys are kebab-case, as in the rest of `pyproject.toml`. Every key is checked: an unknown key
//! or a value of the wrong kind is an error naming the key and the file, with a "did you mean"
//! for a near miss, so a typo never silently falls back to a default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::UserError;

/// The keys of `[tool.shipimg]`, for errors and suggestions.
pub const KEYS: &[&str] = &[
    "image",
    "tags",
    "dockerfile",
    "target",
    "platform",
    "network",
    "index-urls",
    "build-args",
    "labels",
    "scan-allow",
];

/// The tag templates used when the config names an image but no tags.
pub const DEFAULT_TAGS: &[&str] = &["{version}", "{git_short_sha}"];

/// The placeholders a tag template may use.
pub const PLACEHOLDERS: &[&str] = &["version", "git_sha", "git_short_sha", "branch", "date"];

/// Where a config was read from, for messages: `pyproject.toml [tool.shipimg]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSource {
    /// The file.
    pub path: PathBuf,
    /// True for `pyproject.toml`'s `[tool.shipimg]`, false for `shipimg.toml`.
    pub pyproject: bool,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pyproject {
            true => write!(f, "[tool.shipimg] in {}", self.path.display()),
            false => write!(f, "{}", self.path.display()),
        }
    }
}

/// `[tool.shipimg]`, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectConfig {
    /// Where it came from; `None` for an empty default.
    pub source: Option<ConfigSource>,
    /// `image`: the repository, without a tag.
    pub image: Option<String>,
    /// `tags`: tag templates.
    pub tags: Option<Vec<String>>,
    /// `dockerfile`, relative to the config's directory.
    pub dockerfile: Option<PathBuf>,
    /// `target`
    pub target: Option<String>,
    /// `platform`
    pub platform: Option<String>,
    /// `network`: `default`, `host` or `none`.
    pub network: Option<String>,
    /// `index-urls`
    pub index_urls: Option<Vec<String>>,
    /// `[tool.shipimg.build-args]`
    pub build_args: BTreeMap<String, String>,
    /// `[tool.shipimg.labels]`
    pub labels: BTreeMap<String, String>,
    /// `scan-allow`: files in the image the leak scan accepts ([`crate::scan::allow`]).
    pub scan_allow: crate::scan::allow::AllowList,
}

/// The facts a project file gives besides the config: its version, for `{version}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    /// The config (empty when the project has none).
    pub config: ProjectConfig,
    /// `[project].version`, else `[tool.poetry].version`.
    pub version: Option<String>,
    /// True when `[project]` lists `version` in `dynamic` (set by the build backend).
    pub dynamic_version: bool,
}

/// A project config, or a value given in its place (a flag, a variable), that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read {}", .path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML; `place` is `path:line` when the parser knows the line.
    #[error("{place}: invalid TOML: {message}")]
    Syntax { place: String, message: String },
    /// Both `pyproject.toml`'s `[tool.shipimg]` and a `shipimg.toml`.
    #[error("two project configs: {first} and {}", .second.display())]
    Two {
        first: ConfigSource,
        second: PathBuf,
    },
    /// A key (or the flag or variable that stands for it) with a value that cannot be used.
    #[error("{config}: {message}")]
    Key {
        config: ConfigSource,
        message: String,
        hint: Option<String>,
    },
    /// A tag template that cannot be filled.
    #[error("{message}")]
    Template {
        message: String,
        hint: Option<String>,
    },
}

impl ConfigError {
    fn template(message: String) -> Self {
        ConfigError::Template {
            message,
            hint: None,
        }
    }

    fn with_hint(mut self, text: impl Into<String>) -> Self {
        if let ConfigError::Key { hint, .. } | ConfigError::Template { hint, .. } = &mut self {
            *hint = Some(text.into());
        }
        self
    }
}

impl UserError for ConfigError {
    fn hint(&self) -> Option<String> {
        match self {
            ConfigError::Unreadable { .. } => None,
            ConfigError::Syntax { .. } => Some("fix the file's syntax (https://toml.io)".into()),
            ConfigError::Two { .. } => {
                Some("keep one: move the settings into one file and delete the other".into())
            }
            ConfigError::Key { hint, .. } | ConfigError::Template { hint, .. } => hint.clone(),
        }
    }
}

/// Reads the project config of the context directory `dir`: `pyproject.toml`'s
/// `[tool.shipimg]`, else `shipimg.toml`. A directory with neither gives an empty config.
pub fn load(dir: &Path) -> Result<Project, ConfigError> {
    let pyproject_path = dir.join("pyproject.toml");
    let shipimg_path = dir.join("shipimg.toml");
    let mut project = Project::default();
    let mut tool_table = None;
    if let Some(doc) = read_toml(&pyproject_path)? {
        let section = |name: &str| doc.get(name).and_then(toml::Value::as_table);
        project.version = crate::labels::project_version(&doc);
        project.dynamic_version = section("project")
            .and_then(|p| p.get("dynamic")?.as_array().cloned())
            .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("version")));
        if let Some(value) = section("tool").and_then(|t| t.get("shipimg")) {
            let source = ConfigSource {
                path: pyproject_path.clone(),
                pyproject: true,
            };
            let table = value.as_table().ok_or_else(|| {
                config_error(&source, "`tool.shipimg` must be a table")
                    .with_hint("write it as a `[tool.shipimg]` section")
            })?;
            tool_table = Some((source, table.clone()));
        }
    }
    if shipimg_path.is_file() {
        if let Some((source, _)) = &tool_table {
            return Err(ConfigError::Two {
                first: source.clone(),
                second: shipimg_path,
            });
        }
        if let Some(doc) = read_toml(&shipimg_path)? {
            let source = ConfigSource {
                path: shipimg_path,
                pyproject: false,
            };
            // A shipimg.toml may also be written as `[tool.shipimg]`, copied from a pyproject.
            let table = match doc.get("tool").and_then(|t| t.get("shipimg")) {
                Some(toml::Value::Table(table)) if doc.len() == 1 => table.clone(),
                _ => doc,
            };
            tool_table = Some((source, table));
        }
    }
    if let Some((source, table)) = tool_table {
        project.config = parse(&source, &table)?;
    }
    Ok(project)
}

fn read_toml(path: &Path) -> Result<Option<toml::Table>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Unreadable {
                path: path.to_owned(),
                source,
            });
        }
    };
    match text.parse::<toml::Table>() {
        Ok(doc) => Ok(Some(doc)),
        Err(err) => {
            let line = err
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let place = match line {
                Some(line) => format!("{}:{line}", path.display()),
                None => path.display().to_string(),
            };
            let message = err.message().trim_end().to_owned();
            Err(ConfigError::Syntax { place, message })
        }
    }
}

fn config_error(source: &ConfigSource, message: &str) -> ConfigError {
    ConfigError::Key {
        config: source.clone(),
        message: message.to_owned(),
        hint: None,
    }
}

/// Checks every key of the table.
pub fn parse(source: &ConfigSource, table: &toml::Table) -> Result<ProjectConfig, ConfigError> {
    let mut config = ProjectConfig {
        source: Some(source.clone()),
        ..ProjectConfig::default()
    };
    for (key, value) in table {
        let string = || -> Result<String, ConfigError> {
            match value.as_str() {
                Some(text) if !text.trim().is_empty() => Ok(text.to_owned()),
                Some(_) => Err(config_error(source, &format!("`{key}` is empty"))
                    .with_hint(format!("give `{key}` a value or remove it"))),
                None => Err(wrong_type(source, key, value, "a string")),
            }
        };
        let strings = || -> Result<Vec<String>, ConfigError> {
            let items = value
                .as_array()
                .ok_or_else(|| wrong_type(source, key, value, "an array of strings"))?;
            items
                .iter()
                .map(|item| match item.as_str() {
                    Some(text) if !text.trim().is_empty() => Ok(text.to_owned()),
                    _ => Err(config_error(
                        source,
                        &format!("`{key}` must hold non-empty strings, not {item}"),
                    )
                    .with_hint(format!("e.g. {key} = [\"...\"]"))),
                })
                .collect()
        };
        let table = || -> Result<BTreeMap<String, String>, ConfigError> {
            let items = value
                .as_table()
                .ok_or_else(|| wrong_type(source, key, value, "a table"))?;
            let mut out = BTreeMap::new();
            for (name, item) in items {
                let text = match item {
                    toml::Value::String(text) => text.clone(),
                    toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                        item.to_string()
                    }
                    _ => {
                        return Err(config_error(
                            source,
                            &format!("`{key}.{name}` must be a string, not {}", kind(item)),
                        )
                        .with_hint(format!("write it as {name} = \"VALUE\"")));
                    }
                };
                out.insert(name.clone(), text);
            }
            Ok(out)
        };
        match key.as_str() {
            "image" => config.image = Some(check_image(source, &string()?)?),
            "tags" => {
                let tags = strings()?;
                for tag in &tags {
                    check_template(source, tag)?;
                }
                config.tags = Some(tags);
            }
            "dockerfile" => config.dockerfile = Some(PathBuf::from(string()?)),
            "target" => config.target = Some(string()?),
            "platform" => config.platform = Some(string()?),
            "network" => {
                let network = string()?;
                if !["default", "host", "none"].contains(&network.as_str()) {
                    return Err(config_error(
                        source,
                        &format!("`network` is `{network}`, not one of default, host, none"),
                    )
                    .with_hint("use network = \"default\", \"host\" or \"none\""));
                }
                config.network = Some(network);
            }
            "index-urls" => {
                let urls = strings()?;
                for url in &urls {
                    check_index_url(source, url)?;
                }
                config.index_urls = Some(urls);
            }
            "build-args" => config.build_args = table()?,
            "labels" => config.labels = table()?,
            "scan-allow" => {
                config.scan_allow = crate::scan::allow::AllowList::new(&strings()?)
                    .map_err(|err| config_error(source, &err.to_string()).with_hint(err.hint()))?;
            }
            other => {
                let mut error = config_error(source, &format!("unknown key `{other}`"));
                error = match did_you_mean(other, KEYS) {
                    Some(near) => error.with_hint(format!("did you mean `{near}`?")),
                    None => error.with_hint(format!("the keys are: {}", KEYS.join(", "))),
                };
                return Err(error);
            }
        }
    }
    Ok(config)
}

fn kind(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

fn wrong_type(source: &ConfigSource, key: &str, value: &toml::Value, want: &str) -> ConfigError {
    let example = match want {
        "a string" => format!("{key} = \"...\""),
        "a table" => format!("[tool.shipimg.{key}] with NAME = \"VALUE\" lines"),
        _ => format!("{key} = [\"...\"]"),
    };
    config_error(
        source,
        &format!("`{key}` must be {want}, not {}", kind(value)),
    )
    .with_hint(format!("write it as {example}"))
}

/// The closest name within an edit distance of 2 (or a third of the word).
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = 2.max(word.len() / 3);
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Checks `image`: a repository name without a tag or digest ([`crate::reference`]).
pub fn check_image(source: &ConfigSource, image: &str) -> Result<String, ConfigError> {
    crate::reference::Reference::parse_repository(image)
        .map_err(|err| config_error(source, &format!("`image`: {err}")).with_hint(err.hint()))?;
    Ok(image.to_owned())
}

/// Checks one `index-urls` entry: http(s), no credentials (never echoed when it has some).
pub fn check_index_url(source: &ConfigSource, url: &str) -> Result<(), ConfigError> {
    let Some((scheme, _)) = url.split_once("://") else {
        return Err(config_error(
            source,
            &format!("`index-urls` has `{url}`, not an http(s) URL"),
        )
        .with_hint(
            "e.g. index-urls = [\"https://europe-west4-python.pkg.dev/PROJECT/REPO/simple/\"]",
        ));
    };
    if !matches!(scheme, "http" | "https") {
        return Err(config_error(
            source,
            &format!("`index-urls` has `{url}`: only http and https indexes are supported"),
        )
        .with_hint("use the index's https URL"));
    }
    if crate::leak::userinfo::has_userinfo(url) {
        // Never echo the URL: it holds a credential.
        return Err(config_error(
            source,
            "an `index-urls` entry has credentials in it (`user:password@` or `token@`)",
        )
        .with_hint(
            "remove them from the URL: shipimg serves the password from your netrc, environment or Google credentials, never from the URL",
        ));
    }
    Ok(())
}

/// Checks a tag template's placeholders.
pub fn check_template(source: &ConfigSource, template: &str) -> Result<(), ConfigError> {
    template_parts(template).map(|_| ()).map_err(|bad| {
        let mut error = config_error(
            source,
            &format!("tag template `{template}` has an unknown placeholder `{{{bad}}}`"),
        );
        error = match did_you_mean(&bad, PLACEHOLDERS) {
            Some(near) => error.with_hint(format!("did you mean `{{{near}}}`?")),
            None => error.with_hint(format!(
                "the placeholders are: {}",
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        error
    })
}

/// A template's literal text and placeholders, or the first unknown placeholder.
fn template_parts(template: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Text(&rest[..open]));
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(after.to_owned());
        };
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(name.to_owned());
        }
        parts.push(Part::Placeholder(name));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

enum Part<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// What tag templates are filled with. `None` where the fact is unknown; the error then says
/// why a template needing it cannot be used.
#[derive(Debug, Clone)]
pub struct TemplateValues {
    /// The project version, or why there is none.
    pub version: Result<String, String>,
    /// The commit (full sha), or why there is none.
    pub git_sha: Result<String, String>,
    /// The branch, or why there is none.
    pub branch: Result<String, String>,
    /// `YYYYMMDD`, UTC.
    pub date: String,
}

impl TemplateValues {
    /// Reads the facts for the project in `dir` (git, the version, CI variables, the clock).
    /// Git is asked only when `templates` need it.
    pub fn gather(
        dir: &Path,
        project: &Project,
        templates: &[String],
        env: &dyn Fn(&str) -> Option<String>,
        now: std::time::SystemTime,
    ) -> Self {
        let needs = |name: &str| templates.iter().any(|t| t.contains(&format!("{{{name}}}")));
        let version = match (&project.version, project.dynamic_version) {
            (Some(version), _) => Ok(version.clone()),
            (None, true) => Err("the project's version is dynamic (set by its build backend), so it is not in pyproject.toml".to_owned()),
            (None, false) => Err(format!(
                "no version in {} ([project] or [tool.poetry])",
                dir.join("pyproject.toml").display()
            )),
        };
        let mut git_sha = Err(String::new());
        if needs("git_sha") || needs("git_short_sha") {
            git_sha = crate::git::line(dir, &["rev-parse", "--verify", "HEAD"])
                .or_else(|| ci_var(env, &["GITHUB_SHA", "CI_COMMIT_SHA", "COMMIT_SHA"]))
                .ok_or_else(|| {
                    format!(
                        "{} is not in a git repository with a commit (and no GITHUB_SHA, CI_COMMIT_SHA or COMMIT_SHA is set)",
                        dir.display()
                    )
                });
        }
        let mut branch = Err(String::new());
        if needs("branch") {
            // CI checkouts are often detached; the CI's own variable names the branch then.
            branch = crate::git::line(dir, &["symbolic-ref", "--short", "-q", "HEAD"])
                .or_else(|| {
                    ci_var(
                        env,
                        &[
                            "GITHUB_HEAD_REF",
                            "GITHUB_REF_NAME",
                            "CI_COMMIT_REF_NAME",
                            "BRANCH_NAME",
                        ],
                    )
                })
                .ok_or_else(|| {
                    format!(
                        "{} is not on a git branch (detached or not a repository) and no GITHUB_REF_NAME, CI_COMMIT_REF_NAME or BRANCH_NAME is set",
                        dir.display()
                    )
                });
        }
        let date = crate::labels::rfc3339(now)[..10].replace('-', "");
        Self {
            version,
            git_sha,
            branch,
            date,
        }
    }
}

fn ci_var(env: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|name| env(name).filter(|v| !v.trim().is_empty()))
}

/// Fills one template; the result is made a valid tag (other characters become `-`).
pub fn expand(template: &str, values: &TemplateValues) -> Result<String, ConfigError> {
    let parts = template_parts(template).map_err(|bad| {
        ConfigError::template(format!(
            "tag template `{template}` has an unknown placeholder `{{{bad}}}`"
        ))
    })?;
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Placeholder(name) => {
                let value = match name {
                    "version" => &values.version,
                    "git_sha" | "git_short_sha" => &values.git_sha,
                    "branch" => &values.branch,
                    _ => {
                        out.push_str(&values.date);
                        continue;
                    }
                };
                let value = value.as_ref().map_err(|why| {
                    ConfigError::template(format!("cannot fill the tag template `{template}`: {why}"))
                        .with_hint(
                            "drop the placeholder from `tags` in the config (or SHIPIMG_TAGS), or give the tags with `-t NAME:TAG`",
                        )
                })?;
                match name {
                    "git_short_sha" => out.push_str(&value[..value.len().min(7)]),
                    _ => out.push_str(value),
                }
            }
        }
    }
    let tag = sanitize_tag(&out);
    if tag.is_empty() {
        return Err(ConfigError::template(format!(
            "the tag template `{template}` gives an empty tag"
        ))
        .with_hint("give the template some literal text or a placeholder with a value"));
    }
    Ok(tag)
}

/// A valid tag: `[A-Za-z0-9_.-]`, not starting with `.` or `-`, at most 128 characters.
pub fn sanitize_tag(text: &str) -> String {
    let replaced: String = text
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() || "_.-".contains(c) {
            true => c,
            false => '-',
        })
        .collect();
    let trimmed = replaced.trim_start_matches(['.', '-']);
    trimmed.chars().take(128).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CliError;

    fn source() -> ConfigSource {
        ConfigSource {
            path: PathBuf::from("pyproject.toml"),
            pyproject: true,
        }
    }

    fn parse_text(text: &str) -> Result<ProjectConfig, String> {
        let table: toml::Table = text.parse().unwrap();
        parse(&source(), &table).map_err(|e| {
            let e = CliError::from(e);
            format!("{} hint: {}", e.message(), e.hint().unwrap_or_default())
        })
    }

    #[test]
    fn every_key_parses() {
        let config = parse_text(
            r#"
            image = "europe-west4-docker.pkg.dev/proj/repo/svc"
            tags = ["{version}", "sha-{git_short_sha}"]
            dockerfile = "docker/Dockerfile"
            target = "runtime"
            platform = "linux/amd64"
            network = "host"
            index-urls = ["https://europe-west4-python.pkg.dev/proj/py/simple/"]
            [build-args]
            PYTHON = "3.12"
            WORKERS = 4
            [labels]
            team = "payments"
            "#,
        )
        .unwrap();
        assert_eq!(
            config.image.as_deref(),
            Some("europe-west4-docker.pkg.dev/proj/repo/svc")
        );
        assert_eq!(
            config.tags,
            Some(vec!["{version}".into(), "sha-{git_short_sha}".into()])
        );
        assert_eq!(config.dockerfile, Some(PathBuf::from("docker/Dockerfile")));
        assert_eq!(config.network.as_deref(), Some("host"));
        assert_eq!(config.build_args["WORKERS"], "4");
        assert_eq!(config.labels["team"], "payments");
    }

    #[test]
    fn a_typo_is_an_error_with_a_suggestion() {
        let err = parse_text(r#"imgae = "x""#).unwrap_err();
        assert!(
            err.contains("[tool.shipimg] in pyproject.toml: unknown key `imgae`"),
            "{err}"
        );
        assert!(err.contains("did you mean `image`?"), "{err}");
        let err = parse_text(r#"index-url = ["https://x/simple/"]"#).unwrap_err();
        assert!(err.contains("did you mean `index-urls`?"), "{err}");
        let err = parse_text(r#"colour = "x""#).unwrap_err();
        assert!(err.contains("the keys are: image, tags"), "{err}");
    }

    #[test]
    fn bad_values_name_the_key() {
        for (text, want) in [
            (
                r#"tags = "latest""#,
                "`tags` must be an array of strings, not a string",
            ),
            (r#"image = 3"#, "`image` must be a string, not an integer"),
            (
                r#"image = "reg.example/svc:1.0""#,
                "`image`: `reg.example/svc:1.0` names a tag or digest, not a repository alone",
            ),
            (
                r#"image = "Reg/Svc""#,
                "`image`: `Reg/Svc` has upper case in its repository",
            ),
            (
                r#"image = "reg.example//svc""#,
                "`image`: `reg.example//svc` has an empty path component",
            ),
            (r#"image = "-svc""#, "must start with a letter or digit"),
            (r#"network = "bridge""#, "not one of default, host, none"),
            (r#"tags = ["{vesion}"]"#, "did you mean `{version}`?"),
            (r#"index-urls = ["ftp://x/"]"#, "only http and https"),
            (
                r#"build-args = { A = [1] }"#,
                "`build-args.A` must be a string",
            ),
            (r#"target = """#, "`target` is empty"),
        ] {
            let err = parse_text(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn credentials_in_an_index_url_are_refused_without_echoing_them() {
        let err =
            parse_text(r#"index-urls = ["https://me:hunter22@idx.example/simple/"]"#).unwrap_err();
        assert!(err.contains("has credentials in it"), "{err}");
        assert!(!err.contains("hunter22"), "{err}");
    }

    fn values() -> TemplateValues {
        TemplateValues {
            version: Ok("1.2.3+local.1".into()),
            git_sha: Ok("0123456789abcdef0123456789abcdef01234567".into()),
            branch: Ok("feature/Add-thing".into()),
            date: "20261124".into(),
        }
    }

    #[test]
    fn templates_expand_into_valid_tags() {
        let v = values();
        assert_eq!(expand("{version}", &v).unwrap(), "1.2.3-local.1");
        assert_eq!(expand("{git_short_sha}", &v).unwrap(), "0123456");
        assert_eq!(
            expand("{git_sha}", &v).unwrap(),
            "0123456789abcdef0123456789abcdef01234567"
        );
        assert_eq!(
            expand("{branch}-{date}", &v).unwrap(),
            "feature-Add-thing-20261124"
        );
        assert_eq!(expand("latest", &v).unwrap(), "latest");
        assert_eq!(sanitize_tag("..-x"), "x");
        assert_eq!(sanitize_tag(&"a".repeat(200)).len(), 128);
    }

    #[test]
    fn a_template_without_its_fact_says_why() {
        let v = TemplateValues {
            git_sha: Err("/p is not in a git repository".into()),
            ..values()
        };
        let err = CliError::from(expand("{git_short_sha}", &v).unwrap_err());
        let err = format!("{} hint: {}", err.message(), err.hint().unwrap_or_default());
        assert!(
            err.contains(
                "cannot fill the tag template `{git_short_sha}`: /p is not in a git repository"
            ),
            "{err}"
        );
        assert!(err.contains("hint:"), "{err}");
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn load_reads_the_version_of_either_style_and_the_config() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "pyproject.toml",
            "[project]\nname = \"a\"\nversion = \"2.0.1\"\n[tool.shipimg]\nimage = \"reg.example/a\"\n",
        );
        let project = load(dir.path()).unwrap();
        assert_eq!(project.version.as_deref(), Some("2.0.1"));
        assert_eq!(project.config.image.as_deref(), Some("reg.example/a"));
        assert!(project.config.source.unwrap().pyproject);

        write(
            dir.path(),
            "pyproject.toml",
            "[tool.poetry]\nname = \"a\"\nversion = \"0.3.0\"\n",
        );
        write(dir.path(), "shipimg.toml", "image = \"reg.example/b\"\n");
        let project = load(dir.path()).unwrap();
        assert_eq!(project.version.as_deref(), Some("0.3.0"));
        assert_eq!(project.config.image.as_deref(), Some("reg.example/b"));

        write(
            dir.path(),
            "pyproject.toml",
            "[project]\nname = \"a\"\ndynamic = [\"version\"]\n[tool.shipimg]\n",
        );
        let err = CliError::from(load(dir.path()).unwrap_err());
        assert!(
            err.message().starts_with("two project configs"),
            "{}",
            err.message()
        );
        std::fs::remove_file(dir.path().join("shipimg.toml")).unwrap();
        let project = load(dir.path()).unwrap();
        let values = TemplateValues::gather(
            dir.path(),
            &project,
            &["{version}".into()],
            &|_| None,
            std::time::SystemTime::UNIX_EPOCH,
        );
        assert!(values.version.unwrap_err().contains("dynamic"));
        assert_eq!(values.date, "19700101");
    }

    #[test]
    fn git_facts_come_from_the_repository_then_from_ci() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "f", "x");
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
                .args(args)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        let templates = ["{git_sha}".to_owned(), "{branch}".to_owned()];
        let ci = |name: &str| (name == "GITHUB_REF_NAME").then(|| "release/1.x".to_owned());
        let now = std::time::SystemTime::now();
        let project = Project::default();
        let values = TemplateValues::gather(dir.path(), &project, &templates, &|_| None, now);
        assert!(
            values
                .git_sha
                .unwrap_err()
                .contains("not in a git repository")
        );
        assert!(values.branch.is_err());

        git(&["init", "-q", "-b", "feature/x"]);
        git(&["add", "f"]);
        git(&["commit", "-q", "-m", "m"]);
        let values = TemplateValues::gather(dir.path(), &project, &templates, &ci, now);
        assert_eq!(values.git_sha.as_ref().unwrap().len(), 40);
        assert_eq!(values.branch.as_deref(), Ok("feature/x"));
        assert_eq!(expand("{branch}", &values).unwrap(), "feature-x");

        // Detached, as CI checks out: the CI's variable names the branch.
        git(&["checkout", "-q", "--detach"]);
        let values = TemplateValues::gather(dir.path(), &project, &templates, &ci, now);
        assert_eq!(values.branch.as_deref(), Ok("release/1.x"));
    }

    #[test]
    fn suggestions_stay_near() {
        assert_eq!(did_you_mean("netwrok", KEYS), Some("network"));
        assert_eq!(did_you_mean("platfrom", KEYS), Some("platform"));
        assert_eq!(did_you_mean("xyz", KEYS), None);
    }
}
