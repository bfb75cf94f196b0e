//! The Dockerfile secret lint: before a build, read the Dockerfile and the build arguments and
//! report every way a credential would end up in an image, its history or the build cache, each
//! with `file:line`, the offending instruction (secrets masked), a stable rule id and the fix.
//!
//! | id    | name                  | severity                         | what                                             |
//! |-------|-----------------------|----------------------------------|--------------------------------------------------|
//! | SL001 | copy-credential-final | error                            | `COPY`/`ADD` of a credential file into the final image (the target stage or a stage it is built `FROM`) |
//! | SL002 | copy-credential-stage | error; warning with `--allow-secret-copy` | the same in an earlier build stage: the build cache and the local image store keep it |
//! | SL003 | secret-env            | error                            | `ENV` with a secret-looking name: baked into the image config |
//! | SL004 | secret-arg            | warning; error with a default    | `ARG` with a secret-looking name: its value shows in `docker history` |
//! | SL005 | url-credentials       | error                            | `https://user:S3cr3t@host` or `https://TOKEN@host` in an instruction or a `--build-arg` value ([`crate::leak::userinfo`]) |
//! | SL006 | build-arg-secret      | error                            | a `--build-arg` whose value is, or holds, a secret shipimg holds |
//! | SL007 | netrc-target          | warning                          | `RUN --mount=type=secret,id=netrc` where pip will not read it |
//!
//! A finding in the Dockerfile is silenced by `# shipimg:allow RULE` (id or name, several
//! separated by spaces or commas, anything after them is a free-form reason) in the block of
//! comment lines directly above its instruction: Dockerfile comments are whole lines, so the
//! comment cannot share the instruction's line. Findings about `--build-arg` values (line 0)
//! cannot be silenced: shipimg serves secrets to the build, so there is always a safer way.
//!
//! The credential files are the context guard's ([`crate::context::guard`]); `shipimg context`
//! runs this lint's credential-copy rules (SL001, SL002) before it stages the context, `build`
//! runs every rule.

mod names;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use parse_dockerfile::{
    Command, Flag, HealthcheckArguments, Instruction, JsonOrStringArray, Source,
};

use crate::context::guard::{self, CredentialKind, NameVerdict};
use crate::context::ignore::{self, Matcher};
use crate::dockerfile::{self, Parsed, parse_pairs};
use crate::leak::userinfo;

/// The longest instruction text a finding quotes; longer ones end in `...`.
const MAX_TEXT: usize = 120;

/// A lint rule. Ids and names are stable: users write them in `# shipimg:allow` comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// SL001: a credential file copied into the final image.
    CopyCredentialFinal,
    /// SL002: a credential file copied into an earlier build stage.
    CopyCredentialStage,
    /// SL003: an `ENV` with a secret-looking name.
    SecretEnv,
    /// SL004: an `ARG` with a secret-looking name.
    SecretArg,
    /// SL005: credentials in a URL (a password, or a token as the login).
    UrlCredentials,
    /// SL006: a build argument that passes a secret shipimg holds.
    BuildArgSecret,
    /// SL007: the netrc secret mounted where the tools will not read it.
    NetrcTarget,
}

impl Rule {
    /// Every rule, in id order.
    pub const ALL: [Rule; 7] = [
        Rule::CopyCredentialFinal,
        Rule::CopyCredentialStage,
        Rule::SecretEnv,
        Rule::SecretArg,
        Rule::UrlCredentials,
        Rule::BuildArgSecret,
        Rule::NetrcTarget,
    ];

    /// The stable id, `SL001`...
    pub fn id(self) -> &'static str {
        match self {
            Rule::CopyCredentialFinal => "SL001",
            Rule::CopyCredentialStage => "SL002",
            Rule::SecretEnv => "SL003",
            Rule::SecretArg => "SL004",
            Rule::UrlCredentials => "SL005",
            Rule::BuildArgSecret => "SL006",
            Rule::NetrcTarget => "SL007",
        }
    }

    /// The stable name, `copy-credential-final`...
    pub fn name(self) -> &'static str {
        match self {
            Rule::CopyCredentialFinal => "copy-credential-final",
            Rule::CopyCredentialStage => "copy-credential-stage",
            Rule::SecretEnv => "secret-env",
            Rule::SecretArg => "secret-arg",
            Rule::UrlCredentials => "url-credentials",
            Rule::BuildArgSecret => "build-arg-secret",
            Rule::NetrcTarget => "netrc-target",
        }
    }

    /// The rule an id or a name stands for, case-insensitively.
    pub fn parse(word: &str) -> Option<Rule> {
        Rule::ALL
            .into_iter()
            .find(|r| r.id().eq_ignore_ascii_case(word) || r.name().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id(), self.name())
    }
}

/// Whether a finding stops the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Stops the build (and `--lint-only` fails).
    Error,
    /// Reported; the build goes on.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One thing the lint found. No field holds a secret value: passwords in URLs, the values of
/// secret-looking variables and every value in [`LintOptions::secret_values`] are `****`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule that fired.
    pub rule: Rule,
    /// Error or warning.
    pub severity: Severity,
    /// The Dockerfile as named in messages.
    pub file: String,
    /// 1-based line of the instruction; 0 for a `--build-arg`, which is not in the Dockerfile.
    pub line: usize,
    /// The instruction on one line (or `--build-arg NAME=****`), secrets masked.
    pub text: String,
    /// What is wrong, quoting `text`: lowercase, no trailing period.
    pub message: String,
    /// How to fix it, for the `hint:` line.
    pub fix: String,
}

impl Finding {
    /// The first line: `Dockerfile:12: [SL002 copy-credential-stage] message`.
    pub fn headline(&self) -> String {
        match self.line {
            0 => format!("{}: [{}] {}", self.file, self.rule, self.message),
            line => format!("{}:{line}: [{}] {}", self.file, self.rule, self.message),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n  hint: {}", self.headline(), self.fix)
    }
}

/// Everything the lint found, Dockerfile findings by line, then build-argument findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintReport {
    /// The findings not silenced by a `# shipimg:allow` comment.
    pub findings: Vec<Finding>,
}

impl LintReport {
    /// The findings that stop the build.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    /// The findings that are only reported.
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }

    /// Whether any finding stops the build.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

/// What the lint needs besides the Dockerfile.
#[derive(Clone, Copy)]
pub struct LintOptions<'a> {
    /// `--allow-secret-copy`: a credential `COPY` in an earlier stage is a warning, not an error.
    pub allow_secret_copy: bool,
    /// The context directory, to look inside the files a `COPY` names when only the content
    /// says whether they are credentials (`*.json`, `*.pem`, `pip.conf`). `None`: by name only.
    pub context_dir: Option<&'a Path>,
    /// Context-relative paths the user let past the guard with `--allow-context-file`
    /// ([`crate::context::ContextPlan::allowed`]): copying them is not a finding.
    pub allowed_files: Option<&'a HashSet<Vec<u8>>>,
    /// `--target`: the stage whose image is the result (default: the last one).
    pub target: Option<&'a str>,
    /// `--build-arg`s, resolved.
    pub build_args: &'a BTreeMap<String, String>,
    /// Every secret value shipimg holds (passwords, tokens, the netrc), to refuse a build
    /// argument that passes one and to mask them in findings.
    pub secret_values: &'a [&'a [u8]],
}

static NO_BUILD_ARGS: BTreeMap<String, String> = BTreeMap::new();

impl Default for LintOptions<'_> {
    fn default() -> Self {
        Self {
            allow_secret_copy: false,
            context_dir: None,
            allowed_files: None,
            target: None,
            build_args: &NO_BUILD_ARGS,
            secret_values: &[],
        }
    }
}

impl fmt::Debug for LintOptions<'_> {
    // Build argument values and secrets are never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LintOptions")
            .field("allow_secret_copy", &self.allow_secret_copy)
            .field("context_dir", &self.context_dir)
            .field("allowed_files", &self.allowed_files.map(HashSet::len))
            .field("target", &self.target)
            .field("build_args", &self.build_args.keys().collect::<Vec<_>>())
            .field(
                "secret_values",
                &format_args!("[{} x ****]", self.secret_values.len()),
            )
            .finish()
    }
}

/// A Dockerfile the parser could not read.
#[derive(Debug, thiserror::Error)]
#[error("cannot parse Dockerfile `{file}`: {message}")]
pub struct LintError {
    /// The Dockerfile as named in messages.
    pub file: String,
    /// The parser's message.
    pub message: String,
}

impl crate::error::UserError for LintError {
    fn hint(&self) -> Option<String> {
        Some(
            "fix the Dockerfile's syntax where the parser says; BuildKit would refuse it too"
                .into(),
        )
    }
}

/// Lints `text`, the Dockerfile that `file` names in messages, with the build's options.
pub fn lint(text: &str, file: &str, options: &LintOptions<'_>) -> Result<LintReport, LintError> {
    let parsed = Parsed::new(text).map_err(|err| LintError {
        file: file.to_owned(),
        message: err.message,
    })?;
    Ok(lint_parsed(&parsed, file, options))
}

/// Lints a Dockerfile already parsed (the build parses it once, for the model and the lint).
pub fn lint_parsed(parsed: &Parsed<'_>, file: &str, options: &LintOptions<'_>) -> LintReport {
    let text = parsed.text;
    let dockerfile = &parsed.syntax;
    let escape = dockerfile
        .parser_directives
        .escape
        .as_ref()
        .map_or('\\', |d| d.value.value);
    let mut linter = Linter {
        text,
        escape,
        options,
        findings: Vec::new(),
    };
    linter.dockerfile(&dockerfile.instructions);
    linter.build_args();
    linter.report(file)
}

/// SL006 alone: the `--build-arg` values in `options` that hold one of its secret values. The
/// build runs it once more after the full lint, when the registries' logins and the index's
/// Google token are held too; it reads no Dockerfile and no context file.
pub fn lint_build_arg_secrets(file: &str, options: &LintOptions<'_>) -> LintReport {
    let mut linter = Linter {
        text: "",
        escape: '\\',
        options,
        findings: Vec::new(),
    };
    for (name, value) in options.build_args {
        linter.build_arg_secret(name, value);
    }
    linter.report(file)
}

impl Linter<'_, '_> {
    /// The findings not silenced by a `# shipimg:allow` comment, secrets masked, in order.
    fn report(self, file: &str) -> LintReport {
        let (text, options) = (self.text, self.options);
        let lines: Vec<&str> = text.lines().collect();

        let secrets: Vec<&str> = options
            .secret_values
            .iter()
            .filter_map(|s| std::str::from_utf8(s).ok())
            .filter(|s| !s.is_empty())
            .collect();
        let mut findings: Vec<Finding> = self
            .findings
            .into_iter()
            .filter(|f| f.line == 0 || !allowed_above(&lines, f.line).contains(&f.rule))
            .map(|f| Finding {
                file: file.to_owned(),
                text: truncate(&mask(&f.text, &secrets)),
                message: mask(&f.message, &secrets),
                fix: mask(&f.fix, &secrets),
                ..f
            })
            .collect();
        findings.sort_by_key(|f| (f.line == 0, f.line, f.rule));
        LintReport { findings }
    }
}

/// The rules silenced for the instruction on `line` by the comment lines directly above it.
fn allowed_above(lines: &[&str], line: usize) -> Vec<Rule> {
    let mut rules = Vec::new();
    for above in lines[..(line - 1).min(lines.len())].iter().rev() {
        let Some(comment) = above.trim().strip_prefix('#') else {
            break;
        };
        let Some(rest) = comment.trim().strip_prefix("shipimg:allow") else {
            continue;
        };
        rules.extend(
            rest.split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
                .map_while(Rule::parse),
        );
    }
    rules
}

/// `text` with every held secret replaced by `****`.
fn mask(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .fold(text.to_owned(), |acc, secret| acc.replace(secret, "****"))
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_TEXT {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX_TEXT - 3).collect();
    format!("{cut}...")
}

/// Who a stage's `RUN`s run as, as far as the Dockerfile says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum User {
    /// `root`, uid 0, or no `USER` (assuming the base image runs as root, as Python images do).
    Root,
    /// A user by name: home `/home/NAME` by convention.
    Named(String),
    /// A numeric uid or a variable: the home is unknown.
    Unknown(String),
}

/// What the lint tracks through a stage.
#[derive(Debug, Clone)]
struct StageState {
    /// The stage's name (`AS build`) or its index.
    label: String,
    /// Whether it is the final stage or one the final stage is built `FROM`.
    in_final_image: bool,
    user: User,
    /// `ENV HOME=...`, if set.
    home: Option<String>,
    /// `ENV NETRC=...`, if set.
    netrc_env: Option<String>,
}

impl StageState {
    /// Where pip reads the netrc in this stage: `$HOME/.netrc`; `None` when unknown.
    fn netrc_path(&self) -> Option<String> {
        if let Some(home) = &self.home {
            return (!home.contains('$')).then(|| format!("{}/.netrc", home.trim_end_matches('/')));
        }
        match &self.user {
            User::Root => Some("/root/.netrc".into()),
            User::Named(name) => Some(format!("/home/{name}/.netrc")),
            User::Unknown(_) => None,
        }
    }

    fn runs_as(&self) -> String {
        match &self.user {
            User::Root => "root".into(),
            User::Named(name) | User::Unknown(name) => name.clone(),
        }
    }
}

struct Linter<'t, 'o> {
    text: &'t str,
    escape: char,
    options: &'o LintOptions<'o>,
    findings: Vec<Finding>,
}

impl Linter<'_, '_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn push(
        &mut self,
        rule: Rule,
        severity: Severity,
        line: usize,
        text: &str,
        message: String,
        fix: String,
    ) {
        self.findings.push(Finding {
            rule,
            severity,
            file: String::new(),
            line,
            text: text.to_owned(),
            message,
            fix,
        });
    }

    fn dockerfile(&mut self, instructions: &[Instruction<'_>]) {
        let final_chain = final_chain(instructions, self.options.target);
        let mut stages: Vec<StageState> = Vec::new();
        for instruction in instructions {
            if let Instruction::From(from) = instruction {
                let index = stages.len();
                let image = from.image.value.as_ref();
                let parent = stages
                    .iter()
                    .rev()
                    .find(|s| s.label.eq_ignore_ascii_case(image))
                    .cloned();
                let label = match &from.as_ {
                    Some((_, name)) => name.value.to_string(),
                    None => index.to_string(),
                };
                let in_final_image = final_chain.contains(&index);
                stages.push(match parent {
                    Some(parent) => StageState {
                        label,
                        in_final_image,
                        ..parent
                    },
                    None => StageState {
                        label,
                        in_final_image,
                        user: User::Root,
                        home: None,
                        netrc_env: None,
                    },
                });
            }
            self.url_credentials(instruction);
            match (instruction, stages.last_mut()) {
                (Instruction::Arg(arg), _) => self.secret_arg(arg),
                (Instruction::Env(env), stage) => {
                    self.secret_env(env);
                    if let Some(stage) = stage {
                        for (key, value) in parse_pairs(&env.arguments.value, true) {
                            match key.as_str() {
                                "HOME" => stage.home = value,
                                "NETRC" => stage.netrc_env = value,
                                _ => {}
                            }
                        }
                    }
                }
                (Instruction::User(user), Some(stage)) => {
                    stage.user = parse_user(&user.arguments.value);
                }
                (Instruction::Copy(_) | Instruction::Add(_), Some(stage)) => {
                    let stage = stage.clone();
                    self.copy_credentials(instruction, &stage);
                }
                (Instruction::Run(run), Some(stage)) => {
                    let stage = stage.clone();
                    self.netrc_target(instruction, run, &stage);
                }
                _ => {}
            }
        }
    }

    /// SL001 / SL002.
    fn copy_credentials(&mut self, instruction: &Instruction<'_>, stage: &StageState) {
        let (options, sources, dest) = match instruction {
            Instruction::Copy(copy) => (&copy.options[..], &copy.src[..], &copy.dest),
            Instruction::Add(add) => (&add.options[..], &add.src[..], &add.dest),
            _ => return,
        };
        let Some((start, text)) = self.one_line(instruction) else {
            return;
        };
        let line = self.line_of(start);
        let from = options
            .iter()
            .find(|f| f.name.value == "from")
            .and_then(|f| f.value.as_ref())
            .map(|v| v.value.to_string());
        let dest = dest.value.as_ref();
        let mut paths: Vec<&str> = sources
            .iter()
            .filter_map(|s| match s {
                Source::Path(p) => Some(p.value.as_ref()),
                _ => None,
            })
            .filter(|p| !p.contains("://") && !p.starts_with("git@"))
            .collect();
        // One file copied to a credential's name (`COPY creds /root/.netrc`) is that credential.
        if sources.len() == 1 && paths.len() == 1 && !dest.ends_with('/') {
            paths.push(dest);
        }
        let mut seen = HashSet::new();
        for path in paths {
            let clean = clean_path(path);
            if self.is_allowed(&clean) && from.is_none() {
                continue;
            }
            let kind = match guard::classify_name(clean.as_bytes()) {
                NameVerdict::Credential(kind) => Some(kind),
                _ if from.is_none() && path != dest => self.matching_credential(&clean),
                _ => None,
            };
            let Some(kind) = kind else { continue };
            if !seen.insert(kind) {
                continue;
            }
            let source = match &from {
                Some(stage) => format!("`{path}` from stage `{stage}`"),
                None => format!("`{path}`"),
            };
            let fix = copy_fix(kind, path, dest, stage, from.as_deref());
            if stage.in_final_image {
                self.push(
                    Rule::CopyCredentialFinal,
                    Severity::Error,
                    line,
                    &text,
                    format!("`{text}` copies {source} into the final image: {kind}"),
                    fix,
                );
            } else {
                let severity = if self.options.allow_secret_copy {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                let fix = if self.options.allow_secret_copy {
                    fix
                } else {
                    format!("{fix}; or pass `--allow-secret-copy` to accept it in a build stage")
                };
                self.push(
                    Rule::CopyCredentialStage,
                    severity,
                    line,
                    &text,
                    format!(
                        "`{text}` copies {source} into build stage `{}`: {kind}, and the build cache and the local image store keep it even though the final image leaves it behind",
                        stage.label
                    ),
                    fix,
                );
            }
        }
    }

    fn is_allowed(&self, clean: &str) -> bool {
        self.options
            .allowed_files
            .is_some_and(|allowed| allowed.contains(clean.as_bytes()))
    }

    /// A credential among the context files a `COPY` source names directly (a path, or a glob
    /// in its last component), as the context guard looks at them.
    fn matching_credential(&self, source: &str) -> Option<CredentialKind> {
        let dir = self.options.context_dir?;
        let (parent, last) = source.rsplit_once('/').unwrap_or(("", source));
        let parent_dir = dir.join(parent);
        let candidates: Vec<PathBuf> = if last.contains(['*', '?', '[']) {
            let patterns = ignore::parse_ignore_file(last.as_bytes(), Path::new("COPY")).ok()?;
            let pattern = Matcher::new(patterns).ok()?;
            std::fs::read_dir(&parent_dir)
                .ok()?
                .filter_map(Result::ok)
                .filter(|e| pattern.is_excluded(e.file_name().as_bytes()))
                .map(|e| e.path())
                .collect()
        } else {
            vec![parent_dir.join(last)]
        };
        candidates.into_iter().find_map(|path| {
            let meta = std::fs::symlink_metadata(&path).ok()?;
            if !meta.is_file() {
                return None;
            }
            let rel = path.strip_prefix(dir).ok()?.as_os_str().as_bytes();
            if self
                .options
                .allowed_files
                .is_some_and(|allowed| allowed.contains(rel))
            {
                return None;
            }
            match crate::context::classify_file(rel, &path, &meta) {
                crate::context::Verdict::LeftOut(kind) => Some(kind),
                _ => None,
            }
        })
    }

    /// SL003.
    fn secret_env(&mut self, env: &parse_dockerfile::EnvInstruction<'_>) {
        let pairs = parse_pairs(&env.arguments.value, true);
        let text = pairs_text("ENV", &pairs);
        let line = self.line_of(env.env.span.start);
        for (name, value) in &pairs {
            let Some(value) = value else { continue };
            if !names::is_secret_name(name) || value.is_empty() || names::looks_like_path(value) {
                continue;
            }
            let id = name.to_ascii_lowercase();
            self.push(
                Rule::SecretEnv,
                Severity::Error,
                line,
                &text,
                format!(
                    "`{text}` bakes `{name}` into the image config, where `docker inspect` shows it in this image and every image built on it"
                ),
                format!(
                    "read it in the one `RUN` that needs it: `RUN --mount=type=secret,id={id},env={name} ...` (or read `/run/secrets/{id}`), built with `--secret id={id},env={name}`"
                ),
            );
        }
    }

    /// SL004.
    fn secret_arg(&mut self, arg: &parse_dockerfile::ArgInstruction<'_>) {
        let pairs = parse_pairs(&arg.arguments.value, false);
        let text = pairs_text("ARG", &pairs);
        let line = self.line_of(arg.arg.span.start);
        for (name, default) in &pairs {
            if !names::is_secret_name(name) {
                continue;
            }
            // A default that names a file (`ARG NETRC=/run/secrets/netrc`) holds no secret.
            if default.as_deref().is_some_and(names::looks_like_path) {
                continue;
            }
            let default = default.as_deref().filter(|d| !d.is_empty());
            let id = name.to_ascii_lowercase();
            let fix = format!(
                "pass it as a secret instead: `RUN --mount=type=secret,id={id},env={name} ...` (or read `/run/secrets/{id}`), built with `--secret id={id},env={name}`"
            );
            match default {
                Some(_) => self.push(
                    Rule::SecretArg,
                    Severity::Error,
                    line,
                    &text,
                    format!(
                        "`{text}` writes a default for `{name}` into the Dockerfile; a `RUN` that uses it records the value in `docker history` and the build cache"
                    ),
                    fix,
                ),
                None => self.push(
                    Rule::SecretArg,
                    Severity::Warning,
                    line,
                    &text,
                    format!(
                        "`{text}`: build argument `{name}` looks like a secret; a `RUN` that uses it records its value in `docker history` and the build cache"
                    ),
                    fix,
                ),
            }
        }
    }

    /// SL005, in any instruction. `RUN`, `CMD`, `ENTRYPOINT` and `HEALTHCHECK` may use a
    /// `$VARIABLE` as the password: their shell expands it at run time.
    fn url_credentials(&mut self, instruction: &Instruction<'_>) {
        let Some((start, end)) = instruction_range(instruction) else {
            return;
        };
        let mut scanned = self.source_without_comments(start, end);
        for doc in here_docs(instruction) {
            scanned.push('\n');
            scanned.push_str(doc);
        }
        let kind = match instruction {
            Instruction::Onbuild(onbuild) => &*onbuild.instruction,
            other => other,
        };
        let shell = matches!(
            kind,
            Instruction::Run(_)
                | Instruction::Cmd(_)
                | Instruction::Entrypoint(_)
                | Instruction::Healthcheck(_)
        );
        let urls = names::url_credentials(&scanned, shell);
        if urls.is_empty() {
            return;
        }
        let text = match instruction {
            Instruction::Env(env) => pairs_text("ENV", &parse_pairs(&env.arguments.value, true)),
            Instruction::Arg(arg) => pairs_text("ARG", &parse_pairs(&arg.arguments.value, false)),
            _ => self
                .one_line(instruction)
                .map(|(_, t)| t)
                .unwrap_or_default(),
        };
        let where_ = match kind {
            Instruction::Env(_) | Instruction::Label(_) => {
                "the image config, where `docker inspect` shows it"
            }
            _ => "the image history and the build cache",
        };
        let list = urls
            .iter()
            .map(|u| format!("`{u}`"))
            .collect::<Vec<_>>()
            .join(", ");
        self.push(
            Rule::UrlCredentials,
            Severity::Error,
            self.line_of(start),
            &text,
            format!("`{text}` has credentials in a URL ({list}), which ends up in {where_}"),
            "take the credentials out of the URL and let the tool find them: shipimg serves the index netrc as secret `netrc`, mounted with `RUN --mount=type=secret,id=netrc,target=/root/.netrc ...`".into(),
        );
    }

    /// SL007.
    fn netrc_target(
        &mut self,
        instruction: &Instruction<'_>,
        run: &parse_dockerfile::RunInstruction<'_>,
        stage: &StageState,
    ) {
        let Some((start, end)) = instruction_range(instruction) else {
            return;
        };
        let mut run_text = self.source_without_comments(start, end);
        for doc in &run.here_docs {
            run_text.push('\n');
            run_text.push_str(&doc.value);
        }
        for flag in &run.options {
            let Some(mount) = dockerfile::secret_mount(self.text, flag, self.line_of(start)) else {
                continue;
            };
            if mount.id != "netrc" {
                continue;
            }
            // `env=` alone puts the secret in a variable, not a file: not a mount this rule checks.
            let Some(target) = mount.path() else {
                continue;
            };
            if target.contains('$') || run_sets(&run_text, "NETRC", &target) {
                continue;
            }
            if stage.netrc_env.as_deref() == Some(target.as_str()) {
                continue;
            }
            if let Some(dir) = target.strip_suffix("/.netrc")
                && run_sets(&run_text, "HOME", dir)
            {
                continue;
            }
            let expected = stage.netrc_path();
            let fine = match &expected {
                Some(path) => *path == target,
                None => target.ends_with("/.netrc"),
            };
            if fine {
                continue;
            }
            let text = self
                .one_line(instruction)
                .map(|(_, t)| t)
                .unwrap_or_default();
            let mounted = match &mount.target {
                Some(t) => format!("at `{t}`"),
                None => format!("at BuildKit's default `{target}`"),
            };
            let reads = match &expected {
                Some(path) => format!("`$NETRC`, else `$HOME/.netrc` (`{path}`)"),
                None => "`$NETRC`, else `$HOME/.netrc`".into(),
            };
            let suggestion = expected.unwrap_or_else(|| "$HOME/.netrc".into());
            self.push(
                Rule::NetrcTarget,
                Severity::Warning,
                self.line_of(start),
                &text,
                format!(
                    "`{text}` mounts the netrc {mounted}, where pip will not read it: this step runs as `{}` and pip reads {reads}",
                    stage.runs_as()
                ),
                format!(
                    "mount it where pip reads it: `--mount=type=secret,id=netrc,target={suggestion}`; or set `NETRC={target}` for the command in the same `RUN`"
                ),
            );
        }
    }

    /// SL005 and SL006 for `--build-arg` values.
    fn build_args(&mut self) {
        for (name, value) in self.options.build_args {
            if self.build_arg_secret(name, value) {
                continue;
            }
            let urls = names::url_credentials(value, false);
            if !urls.is_empty() {
                let masked = userinfo::mask(value);
                self.push(
                    Rule::UrlCredentials,
                    Severity::Error,
                    0,
                    &format!("--build-arg {name}={masked}"),
                    format!(
                        "`--build-arg {name}` has credentials in a URL (`{}`), which a `RUN` records in `docker history` and the build cache",
                        urls.join("`, `")
                    ),
                    "pass the URL without credentials: shipimg serves the index netrc as secret `netrc`, mounted with `RUN --mount=type=secret,id=netrc,target=/root/.netrc ...`".into(),
                );
            }
        }
    }

    /// SL006 for one `--build-arg`: its value is, or holds, a secret shipimg holds. Says
    /// whether it did.
    fn build_arg_secret(&mut self, name: &str, value: &str) -> bool {
        let bytes = value.as_bytes();
        let holds_secret = self
            .options
            .secret_values
            .iter()
            .filter(|s| !s.is_empty())
            .any(|s| bytes == *s || (s.len() >= 4 && bytes.windows(s.len()).any(|w| w == *s)));
        if holds_secret {
            self.push(
                Rule::BuildArgSecret,
                Severity::Error,
                0,
                &format!("--build-arg {name}=****"),
                format!(
                    "`--build-arg {name}` passes a secret shipimg holds as a build argument, which a `RUN` records in `docker history` and the build cache"
                ),
                format!(
                    "drop `--build-arg {name}` and read the secret in the `RUN` that needs it: shipimg serves the index netrc as secret `netrc` (`RUN --mount=type=secret,id=netrc,target=/root/.netrc ...`), others with `--secret id=ID,...`"
                ),
            );
        }
        holds_secret
    }

    /// The instruction's start and its text on one line, continuations joined, comment lines
    /// dropped, URL passwords masked (`ENV`/`ARG` callers mask values with [`pairs_text`]).
    fn one_line(&self, instruction: &Instruction<'_>) -> Option<(usize, String)> {
        let (start, end) = instruction_range(instruction)?;
        let source = self.source_without_comments(start, end);
        let mut joined = String::new();
        for line in source.lines() {
            let line = line.trim_end_matches('\r');
            match line.trim_end().strip_suffix(self.escape) {
                Some(before) => {
                    joined.push_str(before);
                    joined.push(' ');
                }
                None => {
                    joined.push_str(line);
                    joined.push(' ');
                }
            }
        }
        let squeezed = joined.split_whitespace().collect::<Vec<_>>().join(" ");
        Some((start, userinfo::mask(&squeezed).into_owned()))
    }

    /// The source from `start` to the end of the line holding `end`, without the comment lines
    /// a continued instruction may hold. Here-document bodies come after that line.
    fn source_without_comments(&self, start: usize, end: usize) -> String {
        let bytes = self.text.as_bytes();
        let end = end.min(bytes.len());
        let line_end = bytes[end..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| end + i);
        let Some(source) = self.text.get(start.min(line_end)..line_end) else {
            return String::new();
        };
        source
            .lines()
            .enumerate()
            .filter(|(i, l)| *i == 0 || !l.trim_start().starts_with('#'))
            .map(|(_, l)| l)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The indices of the final stage (`--target`, else the last) and the stages it is built
/// `FROM`, whose layers the final image carries.
fn final_chain(instructions: &[Instruction<'_>], target: Option<&str>) -> Vec<usize> {
    let stages: Vec<(Option<&str>, &str)> = instructions
        .iter()
        .filter_map(|i| match i {
            Instruction::From(from) => Some((
                from.as_.as_ref().map(|(_, n)| n.value.as_ref()),
                from.image.value.as_ref(),
            )),
            _ => None,
        })
        .collect();
    let Some(last) = stages.len().checked_sub(1) else {
        return Vec::new();
    };
    let mut current = target
        .and_then(|t| {
            stages
                .iter()
                .position(|(name, _)| name.is_some_and(|n| n.eq_ignore_ascii_case(t)))
        })
        .unwrap_or(last);
    let mut chain = vec![current];
    loop {
        let image = stages[current].1;
        let parent = stages[..current]
            .iter()
            .rposition(|(name, _)| name.is_some_and(|n| n.eq_ignore_ascii_case(image)));
        match parent {
            Some(p) => {
                chain.push(p);
                current = p;
            }
            None => return chain,
        }
    }
}

/// The byte range an instruction spans in the text, here-document bodies excluded.
fn instruction_range(instruction: &Instruction<'_>) -> Option<(usize, usize)> {
    fn command_end(command: &Command<'_>) -> Option<usize> {
        match command {
            Command::Exec(e) => Some(e.span.end),
            Command::Shell(s) => Some(s.span.end),
            _ => None,
        }
    }
    fn flags_end(flags: &[Flag<'_>]) -> usize {
        flags.iter().map(|f| f.span().end).max().unwrap_or(0)
    }
    let (start, ends): (usize, Vec<usize>) = match instruction {
        Instruction::Add(i) => (
            i.add.span.start,
            vec![flags_end(&i.options), i.dest.span.end, sources_end(&i.src)],
        ),
        Instruction::Copy(i) => (
            i.copy.span.start,
            vec![flags_end(&i.options), i.dest.span.end, sources_end(&i.src)],
        ),
        Instruction::Arg(i) => (i.arg.span.start, vec![i.arguments.span.end]),
        Instruction::Cmd(i) => (i.cmd.span.start, vec![command_end(&i.arguments)?]),
        Instruction::Entrypoint(i) => (i.entrypoint.span.start, vec![command_end(&i.arguments)?]),
        Instruction::Env(i) => (i.env.span.start, vec![i.arguments.span.end]),
        Instruction::Expose(i) => (
            i.expose.span.start,
            i.arguments.iter().map(|a| a.span.end).collect(),
        ),
        Instruction::From(i) => (
            i.from.span.start,
            vec![
                flags_end(&i.options),
                i.image.span.end,
                i.as_.as_ref().map_or(0, |(_, n)| n.span.end),
            ],
        ),
        Instruction::Healthcheck(i) => {
            let end = match &i.arguments {
                HealthcheckArguments::Cmd { arguments, .. } => command_end(arguments)?,
                HealthcheckArguments::None { none, .. } => none.span.end,
                _ => return None,
            };
            (i.healthcheck.span.start, vec![flags_end(&i.options), end])
        }
        Instruction::Label(i) => (i.label.span.start, vec![i.arguments.span.end]),
        Instruction::Maintainer(i) => (i.maintainer.span.start, vec![i.name.span.end]),
        Instruction::Onbuild(i) => (
            i.onbuild.span.start,
            vec![instruction_range(&i.instruction)?.1],
        ),
        Instruction::Run(i) => (
            i.run.span.start,
            vec![
                i.run.span.end,
                flags_end(&i.options),
                command_end(&i.arguments)?,
            ],
        ),
        Instruction::Shell(i) => (
            i.shell.span.start,
            i.arguments.iter().map(|a| a.span.end).collect(),
        ),
        Instruction::Stopsignal(i) => (i.stopsignal.span.start, vec![i.arguments.span.end]),
        Instruction::User(i) => (i.user.span.start, vec![i.arguments.span.end]),
        Instruction::Volume(i) => (
            i.volume.span.start,
            match &i.arguments {
                JsonOrStringArray::Json(j) => vec![j.span.end],
                JsonOrStringArray::String(s) => s.iter().map(|a| a.span.end).collect(),
            },
        ),
        Instruction::Workdir(i) => (i.workdir.span.start, vec![i.arguments.span.end]),
        _ => return None,
    };
    let end = ends.into_iter().max().unwrap_or(start).max(start);
    Some((start, end))
}

fn sources_end(sources: &[Source<'_>]) -> usize {
    sources
        .iter()
        .filter_map(|s| match s {
            Source::Path(p) => Some(p.span.end),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// The here-document bodies of an instruction.
fn here_docs<'i>(instruction: &'i Instruction<'_>) -> Vec<&'i str> {
    let heredoc_sources = |sources: &'i [Source<'_>]| -> Vec<&'i str> {
        sources
            .iter()
            .filter_map(|s| match s {
                Source::HereDoc(h) => Some(h.value.as_ref()),
                _ => None,
            })
            .collect()
    };
    match instruction {
        Instruction::Run(run) => run.here_docs.iter().map(|h| h.value.as_ref()).collect(),
        Instruction::Copy(copy) => heredoc_sources(&copy.src),
        Instruction::Add(add) => heredoc_sources(&add.src),
        Instruction::Onbuild(onbuild) => here_docs(&onbuild.instruction),
        _ => Vec::new(),
    }
}

/// `USER name[:group]`.
fn parse_user(value: &str) -> User {
    let user = value.trim();
    let user = user.split_once(':').map_or(user, |(u, _)| u);
    if user == "root" || user == "0" {
        User::Root
    } else if user.contains('$') || user.bytes().all(|b| b.is_ascii_digit()) {
        User::Unknown(user.to_owned())
    } else {
        User::Named(user.to_owned())
    }
}

/// Whether a `RUN` sets `NAME=value` (bare or quoted) in its command.
fn run_sets(run_text: &str, name: &str, value: &str) -> bool {
    let value = value.trim_end_matches('/');
    [
        format!("{name}={value}"),
        format!("{name}=\"{value}\""),
        format!("{name}='{value}'"),
    ]
    .iter()
    .any(|needle| {
        run_text.match_indices(needle.as_str()).any(|(i, m)| {
            let before_ok = run_text[..i]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
            let after = run_text[i + m.len()..].chars().next();
            before_ok && after.is_none_or(|c| c.is_whitespace() || ";&|)".contains(c))
        })
    })
}

/// `ENV A=1 TOKEN=****`: the pairs on one line, values of secret-looking names and URL
/// passwords masked.
fn pairs_text(keyword: &str, pairs: &[(String, Option<String>)]) -> String {
    let mut out = keyword.to_owned();
    for (name, value) in pairs {
        out.push(' ');
        out.push_str(name);
        let Some(value) = value else { continue };
        let shown =
            if names::is_secret_name(name) && !value.is_empty() && !names::looks_like_path(value) {
                "****".to_owned()
            } else {
                userinfo::mask(value).into_owned()
            };
        if shown.contains(char::is_whitespace) || shown.is_empty() {
            out.push_str(&format!("={shown:?}"));
        } else {
            out.push('=');
            out.push_str(&shown);
        }
    }
    out
}

/// `./a/../b/` -> `b`, as docker cleans `COPY` sources.
fn clean_path(source: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in source.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// The fix for a credential `COPY`.
fn copy_fix(
    kind: CredentialKind,
    path: &str,
    dest: &str,
    stage: &StageState,
    from: Option<&str>,
) -> String {
    if let Some(from) = from {
        return format!(
            "copy only what the image needs out of stage `{from}`, and mount credentials as secrets in the `RUN` that uses them"
        );
    }
    match kind {
        CredentialKind::Netrc => {
            let target = if dest.ends_with(".netrc") {
                dest.to_owned()
            } else {
                stage.netrc_path().unwrap_or_else(|| "/root/.netrc".into())
            };
            format!(
                "mount it only for the step that needs it: `RUN --mount=type=secret,id=netrc,target={target} ...`; shipimg serves the netrc as secret `netrc`"
            )
        }
        _ => format!(
            "mount it only for the step that needs it: `RUN --mount=type=secret,id=NAME ...` with `--secret id=NAME,src={path}`"
        ),
    }
}

#[cfg(test)]
mod tests;
