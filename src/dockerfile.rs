//! The Dockerfile model: what shipimg reads from a Dockerfile, parsed once. The build asks it
//! for its stages (their base images' registries, for the logins a pull needs), the `ARG`s it
//! declares (the index build arguments) and its secret mounts (is the netrc mounted?). The
//! secret lint ([`crate::lint`]) walks the instructions of the same parse ([`Parsed`]) for its
//! rules, and reads mounts and `ENV`/`ARG` pairs with this module's `secret_mount` and
//! [`parse_pairs`], so the two never disagree on what a step mounts or declares.

use crate::reference::Reference;

/// A Dockerfile the parser could not read.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DockerfileError {
    /// The parser's message.
    pub message: String,
}

/// A Dockerfile, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dockerfile {
    /// Every `FROM`, in order.
    pub stages: Vec<Stage>,
    /// The names every `ARG` declares, in order (duplicates kept).
    pub args: Vec<String>,
    /// Every secret mount of every `RUN`, in order.
    pub secret_mounts: Vec<SecretMount>,
}

/// One `FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// 1-based line of the `FROM`.
    pub line: usize,
    /// The image as written (`python:3.12-slim`, an earlier stage's name, `scratch`, `${BASE}`).
    pub base: String,
    /// The name `AS` gives it.
    pub name: Option<String>,
}

/// A Dockerfile as the parser reads it, parsed once: the model is read from it
/// ([`Parsed::model`]) and the lint walks its instructions.
pub struct Parsed<'a> {
    /// The whole Dockerfile.
    pub text: &'a str,
    /// The parser's syntax tree.
    pub syntax: parse_dockerfile::Dockerfile<'a>,
}

impl<'a> Parsed<'a> {
    /// Parses `text` (the whole Dockerfile).
    pub fn new(text: &'a str) -> Result<Self, DockerfileError> {
        let syntax = parse_dockerfile::parse(text).map_err(|err| DockerfileError {
            message: err.to_string(),
        })?;
        Ok(Self { text, syntax })
    }

    /// The 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        let text = self.text;
        text[..offset.min(text.len())].matches('\n').count() + 1
    }

    /// What shipimg reads from it: stages, `ARG`s, secret mounts.
    pub fn model(&self) -> Dockerfile {
        let text = self.text;
        let mut model = Dockerfile::default();
        for instruction in &self.syntax.instructions {
            match instruction {
                parse_dockerfile::Instruction::From(from) => model.stages.push(Stage {
                    line: self.line_of(from.from.span.start),
                    base: from.image.value.to_string(),
                    name: from.as_.as_ref().map(|(_, name)| name.value.to_string()),
                }),
                parse_dockerfile::Instruction::Arg(arg) => model.args.extend(
                    parse_pairs(&arg.arguments.value, false)
                        .into_iter()
                        .map(|(name, _)| name),
                ),
                parse_dockerfile::Instruction::Run(run) => {
                    let line = self.line_of(run.run.span.start);
                    model.secret_mounts.extend(
                        run.options
                            .iter()
                            .filter_map(|flag| secret_mount(text, flag, line)),
                    );
                }
                _ => {}
            }
        }
        model
    }
}

impl Dockerfile {
    /// Parses `text` (the whole Dockerfile) into the model.
    pub fn parse(text: &str) -> Result<Self, DockerfileError> {
        Ok(Parsed::new(text)?.model())
    }

    /// The registry hosts of the images the stages start from (not earlier stages, not
    /// `scratch`, not references built from `ARG`s, not a reference that does not parse, which
    /// BuildKit refuses naming the line), for the credentials the engine may ask for while
    /// pulling. Each host once, in order.
    pub fn base_image_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = Vec::new();
        for (i, stage) in self.stages.iter().enumerate() {
            let image = stage.base.as_str();
            let is_stage = self.stages[..i]
                .iter()
                .filter_map(|s| s.name.as_deref())
                .any(|name| name.eq_ignore_ascii_case(image));
            if !is_stage
                && image != "scratch"
                && !image.contains('$')
                && let Ok(reference) = Reference::parse(image)
                && !hosts.contains(&reference.host)
            {
                hosts.push(reference.host);
            }
        }
        hosts
    }

    /// The first mount of secret `id`, if a step mounts it.
    pub fn secret_mount(&self, id: &str) -> Option<&SecretMount> {
        self.secret_mounts.iter().find(|m| m.id == id)
    }
}

/// Where BuildKit mounts a secret that has no `target=` (and no `env=`).
pub const DEFAULT_SECRET_DIR: &str = "/run/secrets/";

/// A `RUN --mount=type=secret,...` in the Dockerfile, read as BuildKit's Dockerfile frontend
/// reads it (`frontend/dockerfile/instructions/commands_runmount.go`, `dispatch_secrets.go`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMount {
    /// 1-based line of the `RUN`.
    pub line: usize,
    /// The secret id: `src=`/`source=`, else `id=`, else the target's base name.
    pub id: String,
    /// `target=`/`dst=`/`destination=`, as written.
    pub target: Option<String>,
    /// `env=`: the variable the secret is put in.
    pub env: Option<String>,
    /// `required` or `required=true` (any Go boolean).
    pub required: bool,
}

impl SecretMount {
    /// The file the secret is mounted at: the target, else `/run/secrets/ID`; none for a mount
    /// that only sets `env=`.
    pub fn path(&self) -> Option<String> {
        match (&self.target, &self.env) {
            (Some(target), _) => Some(target.clone()),
            (None, Some(_)) => None,
            (None, None) => Some(format!(
                "{DEFAULT_SECRET_DIR}{}",
                self.id.rsplit('/').next().unwrap_or_default()
            )),
        }
    }
}

/// The secret mount a `RUN` flag declares, or None: not `--mount`, another type, or a mount
/// BuildKit would refuse (it then fails the build with its own message). `text` is the whole
/// Dockerfile the flag was parsed from: the parser hands flag values over with their quotes
/// and cuts them at a quoted space, so the value is read again from the source.
pub(crate) fn secret_mount(
    text: &str,
    flag: &parse_dockerfile::Flag<'_>,
    line: usize,
) -> Option<SecretMount> {
    if flag.name.value != "mount" {
        return None;
    }
    let start = flag.value.as_ref()?.span.start;
    parse_secret_mount(&flag_word(text.get(start..)?)?, line)
}

/// One flag word as the Dockerfile frontend reads it: up to unquoted whitespace, quotes
/// removed, `\` escaping the next character (inside `"`, only `"` and `\`). None when a
/// quote is never closed, which the frontend refuses.
fn flag_word(source: &str) -> Option<String> {
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => break,
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '\\') => word.extend(chars.next()),
            (Some('"'), '\\') if matches!(chars.peek(), Some('"' | '\\')) => {
                word.extend(chars.next());
            }
            (_, c) => word.push(c),
        }
    }
    quote.is_none().then_some(word)
}

/// A mount's fields, split as Go's `encoding/csv` splits one record: a field that starts with
/// `"` is quoted (`""` is a quote) and may hold commas; a quote anywhere else is an error.
fn csv_fields(spec: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut chars = spec.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => break,
                    c => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Some(fields);
                }
                Some(',') => {}
                Some(_) => return None,
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Some(fields);
                    }
                    Some(',') => break,
                    Some('"') => return None,
                    Some(c) => field.push(c),
                }
            }
        }
        fields.push(field);
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `type=secret,id=netrc,target=/root/.netrc,required` -> a mount; other types and specs
/// BuildKit refuses -> None.
fn parse_secret_mount(spec: &str, line: usize) -> Option<SecretMount> {
    let mut kind = "bind".to_owned();
    let (mut id, mut source, mut target, mut env) = (None, None, None, None);
    let (mut required, mut from_or_sharing) = (false, false);
    for field in csv_fields(spec)? {
        let (key, value) = match field.split_once('=') {
            Some((key, value)) => (key.to_ascii_lowercase(), Some(value.to_owned())),
            None => (field.to_ascii_lowercase(), None),
        };
        let is_secret = kind == "secret";
        match (key.as_str(), value) {
            ("readonly" | "ro" | "readwrite" | "rw", None) => {}
            ("required", None) if is_secret => required = true,
            (_, None) => return None,
            ("type", Some(value)) => kind = value.to_ascii_lowercase(),
            ("from" | "sharing", Some(_)) => from_or_sharing = true,
            ("source" | "src", Some(value)) => source = Some(value),
            ("target" | "dst" | "destination", Some(value)) => target = Some(value),
            ("readonly" | "ro" | "readwrite" | "rw", Some(value)) => {
                go_bool(&value)?;
            }
            ("required", Some(value)) if is_secret => required = go_bool(&value)?,
            ("id", Some(value)) => id = Some(value),
            ("env", Some(value)) => env = Some(value),
            ("mode", Some(value)) => {
                u32::from_str_radix(&value, 8).ok()?;
            }
            ("uid" | "gid", Some(value)) => {
                value.parse::<u32>().ok()?;
            }
            _ => return None,
        }
    }
    if kind != "secret" || from_or_sharing {
        return None;
    }
    let (id, source, target) = (
        id.filter(|v| !v.is_empty()),
        source.filter(|v| !v.is_empty()),
        target.filter(|v| !v.is_empty()),
    );
    if id.is_some() && source.is_some() {
        return None;
    }
    let id = match source.or(id) {
        Some(id) => id,
        None => target.as_deref()?.rsplit('/').next()?.to_owned(),
    };
    Some(SecretMount {
        line,
        id,
        target,
        env: env.filter(|v| !v.is_empty()),
        required,
    })
}

/// The `NAME=value` pairs of an `ENV` (`legacy` allows `ENV NAME value with spaces`) or an
/// `ARG` (`NAME` without a value too), quotes removed. Values with `$` are kept as written.
pub fn parse_pairs(arguments: &str, legacy: bool) -> Vec<(String, Option<String>)> {
    let words = split_shell_words(arguments);
    if legacy
        && let Some(first) = words.first()
        && !first.contains('=')
    {
        let rest = arguments
            .trim_start()
            .split_once(char::is_whitespace)
            .map_or("", |(_, rest)| rest);
        return vec![(first.clone(), Some(unquote(rest)))];
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
            None => (w, None),
        })
        .collect()
}

/// Splits on unquoted whitespace and removes the quotes, as the Dockerfile frontend reads `ENV`.
fn split_shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.push(c),
            (_, '\\') => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            (_, c) => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

fn unquote(value: &str) -> String {
    split_shell_words(value).join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_image_hosts_skip_stages_scratch_and_args() {
        let text = "ARG BASE=x\nFROM europe-west4-docker.pkg.dev/p/r/python:3.11 AS build\n\
                    FROM build AS test\nFROM $BASE\nFROM scratch\nFROM python:3.11-slim\n\
                    FROM 127.0.0.1:5555/sandbox/busybox:1\nFROM localhost/x\n\
                    FROM Reg.Example/team/app:1\nFROM index.docker.io/team/app\n\
                    FROM bad.example//x:1\n";
        let dockerfile = Dockerfile::parse(text).unwrap();
        assert_eq!(
            dockerfile.base_image_hosts(),
            [
                "europe-west4-docker.pkg.dev",
                "docker.io",
                "127.0.0.1:5555",
                "localhost",
                "reg.example"
            ]
        );
    }

    #[test]
    fn stages_and_args_are_read_in_order() {
        let text = "ARG BASE=python:3.12\nFROM ${BASE} AS deps\nARG PIP_INDEX_URL\n\
                    ARG A=1 B\nFROM deps\nRUN --mount=type=secret,id=netrc,target=/root/.netrc true\n";
        let dockerfile = Dockerfile::parse(text).unwrap();
        assert_eq!(dockerfile.args, ["BASE", "PIP_INDEX_URL", "A", "B"]);
        assert_eq!(
            dockerfile.stages,
            [
                Stage {
                    line: 2,
                    base: "${BASE}".into(),
                    name: Some("deps".into())
                },
                Stage {
                    line: 5,
                    base: "deps".into(),
                    name: None
                },
            ]
        );
        assert_eq!(dockerfile.secret_mount("netrc").map(|m| m.line), Some(6));
        assert!(dockerfile.secret_mount("token").is_none());
        assert!(dockerfile.base_image_hosts().is_empty());
    }

    fn mount(id: &str, target: Option<&str>, env: Option<&str>, required: bool) -> SecretMount {
        SecretMount {
            line: 2,
            id: id.into(),
            target: target.map(Into::into),
            env: env.map(Into::into),
            required,
        }
    }

    #[test]
    fn finds_secret_mounts() {
        let text = "FROM x\n\
                    RUN --mount=type=cache,target=/root/.cache \\\n    --mount=type=secret,id=netrc,target=/root/.netrc,required=true pip install .\n\
                    RUN --mount=type=secret,target=/run/secrets/token cat /run/secrets/token\n\
                    RUN echo hi\n";
        assert_eq!(
            Dockerfile::parse(text).unwrap().secret_mounts,
            [
                SecretMount {
                    line: 2,
                    ..mount("netrc", Some("/root/.netrc"), None, true)
                },
                SecretMount {
                    line: 4,
                    ..mount("token", Some("/run/secrets/token"), None, false)
                },
            ]
        );
    }

    /// The lint and the build's netrc check used to read mounts with two parsers: one took
    /// `required` alone as false, the other ignored `env=`, neither knew `src=` or quotes.
    #[test]
    fn secret_mounts_are_read_as_buildkit_reads_them() {
        let one = |flags: &str| {
            let text = format!("FROM x\nRUN {flags} true\n");
            let mounts = Dockerfile::parse(&text).unwrap().secret_mounts;
            assert!(mounts.len() <= 1, "{flags}: {mounts:?}");
            mounts.into_iter().next()
        };
        for (flags, expected) in [
            (
                "--mount=type=secret,id=netrc,target=/root/.netrc",
                mount("netrc", Some("/root/.netrc"), None, false),
            ),
            (
                "--mount=type=secret,id=netrc,required",
                mount("netrc", None, None, true),
            ),
            (
                "--mount=type=secret,id=netrc,required=1",
                mount("netrc", None, None, true),
            ),
            (
                "--mount=type=secret,id=netrc,required=false",
                mount("netrc", None, None, false),
            ),
            (
                "--mount=type=secret,id=tok,env=TOKEN",
                mount("tok", None, Some("TOKEN"), false),
            ),
            (
                "--mount=type=secret,src=netrc,dst=/root/.netrc",
                mount("netrc", Some("/root/.netrc"), None, false),
            ),
            (
                "--mount=type=secret,source=netrc,destination=/home/app/.netrc,uid=1000,gid=1000,mode=0400",
                mount("netrc", Some("/home/app/.netrc"), None, false),
            ),
            (
                "--mount=TYPE=SECRET,ID=netrc,Target=/root/.netrc",
                mount("netrc", Some("/root/.netrc"), None, false),
            ),
            (
                "--mount=\"type=secret,id=netrc,target=/root/.netrc\"",
                mount("netrc", Some("/root/.netrc"), None, false),
            ),
            (
                "--mount=type=secret,id='netrc',target=\"/home/my app/.netrc\"",
                mount("netrc", Some("/home/my app/.netrc"), None, false),
            ),
            (
                "--mount='type=secret,\"target=/a,b/tok\"'",
                mount("tok", Some("/a,b/tok"), None, false),
            ),
            (
                "--mount=type=secret,target=/root/.netrc",
                mount(".netrc", Some("/root/.netrc"), None, false),
            ),
        ] {
            assert_eq!(one(flags), Some(expected), "{flags}");
        }
        for flags in [
            "--mount=type=cache,target=/root/.cache",
            "--mount=target=/src",
            "--mount=type=ssh",
            "--network=none",
            // BuildKit refuses these; it says why when the build runs.
            "--mount=type=secret",
            "--mount=type=secret,id=a,src=b",
            "--mount=type=secret,id=a,from=stage",
            "--mount=type=secret,id=a,required=maybe",
            "--mount=type=secret,id=a,mode=9",
            "--mount=type=secret,id=a,bogus=1",
            "--mount=type=secret,id=a\"b",
            "--mount=required,type=secret,id=a",
        ] {
            assert_eq!(one(flags), None, "{flags}");
        }
        let text = "FROM x\nRUN --mount=type=secret,id=a --mount=type=secret,id=b,env=B \\\n    --mount=type=secret,id=c,target=/c true\n";
        let ids: Vec<_> = Dockerfile::parse(text)
            .unwrap()
            .secret_mounts
            .into_iter()
            .map(|m| (m.id.clone(), m.path()))
            .collect();
        assert_eq!(
            ids,
            [
                ("a".to_owned(), Some("/run/secrets/a".to_owned())),
                ("b".to_owned(), None),
                ("c".to_owned(), Some("/c".to_owned())),
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn no_mount_spec_panics(spec in "\\PC{0,40}", raw in "[a-z=,\"' \\\\]{0,30}") {
            let _ = parse_secret_mount(&spec, 1);
            let _ = parse_secret_mount(&raw, 1);
            let _ = flag_word(&raw);
            let _ = Dockerfile::parse(&format!("FROM x\nRUN --mount=type=secret,{raw} x\n"));
        }
    }

    #[test]
    fn a_broken_dockerfile_is_an_error_not_a_panic() {
        for text in ["RUN --mount\n", "FROM\n"] {
            let err = Dockerfile::parse(text).expect_err(text);
            assert!(!err.message.is_empty(), "{text}: an empty message");
        }
        // A quote never closed: the parser takes the step, BuildKit will refuse the mount.
        let unclosed = Dockerfile::parse("FROM x\nRUN --mount=\"type=secret,id=netrc true\n");
        assert!(unclosed.unwrap().secret_mounts.is_empty());
    }
}
