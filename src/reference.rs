//! Image references, `[HOST[:PORT]/]PATH[:TAG][@DIGEST]`, parsed in one place by the grammar of
//! the distribution project (github.com/distribution/reference, `regexp.go` and `normalize.go`),
//! which docker, BuildKit and registries follow: the `-t` tags, `image` in the config and
//! `SHIPIMG_IMAGE`, `push`'s arguments, the Dockerfile's `FROM` images and the registry a push
//! logs in to all go through [`Reference`]. Docker Hub's names live here too, once.
//!
//! - The host is the first component when it holds a `.` or a `:` or is `localhost`: a domain
//!   name (components of letters, digits and inner `-`), an IPv4 address or `[IPv6]`, with an
//!   optional port. Anything else is a path on Docker Hub (`docker.io`), and a one-component
//!   path there is an official image, under `library/`. `index.docker.io` is Docker Hub's old
//!   name and is read as `docker.io`, as docker does.
//! - Path components are lower-case letters and digits joined by one `.`, one or two `_`, or
//!   any number of `-`. The name (host and path) is at most 255 characters.
//! - A tag is up to 128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.
//! - A digest is `sha256:`, `sha384:` or `sha512:` with its length of lower-case hex, the
//!   algorithms the digest library docker uses knows.
//!
//! Deliberate divergences from docker's `ParseNormalizedNamed`:
//!
//! - docker takes a first component with upper case as a registry host (`Team/app` is host
//!   `Team`, path `app`). That is a typo for a Docker Hub repository far more often than a host
//!   name without a dot, so here it is a path, refused for its case with a hint.
//! - The host is kept in lower case (host names ignore case; logins and the registry API are
//!   looked up by it); [`Reference::written_name`] keeps the name as written for the engine.
//! - Each way a reference can be wrong is its own error, quoting the reference and saying which
//!   part is wrong, where docker says "invalid reference format".

use std::fmt;

/// Docker Hub's name in references: what a name without a registry host means.
pub const DOCKER_HUB: &str = "docker.io";

/// The host Docker Hub's registry API answers at, which BuildKit also asks credentials for.
pub const DOCKER_HUB_REGISTRY: &str = "registry-1.docker.io";

/// Every name Docker Hub goes by: in references, as the old index (`index.docker.io`, still its
/// key in the docker CLI's config), and as the registry API's host.
pub const DOCKER_HUB_ALIASES: [&str; 3] = [DOCKER_HUB, "index.docker.io", DOCKER_HUB_REGISTRY];

/// The tag a reference without one means.
pub const DEFAULT_TAG: &str = "latest";

/// The longest tag.
pub const MAX_TAG_LEN: usize = 128;

/// The longest name, host and path together.
pub const MAX_NAME_LEN: usize = 255;

/// The prefix of Docker Hub's official images.
const OFFICIAL_PREFIX: &str = "library/";

/// Whether `host` is one of Docker Hub's names (ASCII case ignored).
pub fn is_docker_hub(host: &str) -> bool {
    DOCKER_HUB_ALIASES
        .iter()
        .any(|alias| alias.eq_ignore_ascii_case(host))
}

/// The names a registry host goes by, which a login for it must answer to: all of Docker Hub's
/// for Docker Hub, else the host alone.
pub fn host_aliases(host: &str) -> Vec<String> {
    match is_docker_hub(host) {
        true => DOCKER_HUB_ALIASES.map(str::to_owned).to_vec(),
        false => vec![host.to_owned()],
    }
}

/// A reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The registry host and port, in lower case: `127.0.0.1:5555`,
    /// `europe-west4-docker.pkg.dev`, `docker.io`.
    pub host: String,
    /// The path in the registry: `proj/repo/svc`; Docker Hub's official images get `library/`.
    pub repository: String,
    /// The tag, when one was given.
    pub tag: Option<String>,
    /// The digest (`sha256:...`), when one was given.
    pub digest: Option<String>,
    /// The name as it was written, without tag and digest (what the engine calls the image).
    pub written_name: String,
}

impl Reference {
    /// Parses any reference: a name, with an optional tag and an optional digest.
    pub fn parse(reference: &str) -> Result<Reference, ReferenceError> {
        let problem = |problem| ReferenceError {
            reference: reference.to_owned(),
            problem,
        };
        if reference.is_empty() {
            return Err(problem(Problem::Empty));
        }
        if reference.len() == 64 && reference.bytes().all(is_lower_hex) {
            return Err(problem(Problem::ImageId));
        }
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(|why| {
                    problem(Problem::BadDigest {
                        digest: digest.to_owned(),
                        why,
                    })
                })?;
                (rest, Some(digest.to_owned()))
            }
            None => (reference, None),
        };
        // The tag starts at the first `:` after the last `/`: a port's `:` comes before a `/`,
        // and a second `:` is then the tag's problem, not the name's.
        let path_start = rest.rfind('/').map_or(0, |slash| slash + 1);
        let (name, tag) = match rest[path_start..].find(':') {
            Some(colon) => (
                &rest[..path_start + colon],
                Some(&rest[path_start + colon + 1..]),
            ),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            check_tag(tag).map_err(|why| match why {
                TagProblem::Empty => problem(Problem::EmptyTag),
                TagProblem::TooLong => problem(Problem::TagTooLong { length: tag.len() }),
                TagProblem::Bad(why) => problem(Problem::BadTag {
                    tag: tag.to_owned(),
                    why,
                }),
            })?;
        }
        if name.is_empty() {
            return Err(problem(Problem::NoName));
        }
        let (host, path) = match name.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => {
                check_host(first).map_err(|why| {
                    problem(Problem::BadHost {
                        host: first.to_owned(),
                        why,
                    })
                })?;
                (first.to_ascii_lowercase(), path)
            }
            _ => (DOCKER_HUB.to_owned(), name),
        };
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(problem(Problem::Uppercase));
        }
        for component in path.split('/') {
            if component.is_empty() {
                return Err(problem(Problem::EmptyComponent));
            }
            check_component(component).map_err(|why| {
                problem(Problem::BadComponent {
                    component: component.to_owned(),
                    why,
                })
            })?;
        }
        let host = match host.as_str() {
            "index.docker.io" => DOCKER_HUB.to_owned(),
            _ => host,
        };
        let repository = match host == DOCKER_HUB && !path.contains('/') {
            true => format!("{OFFICIAL_PREFIX}{path}"),
            false => path.to_owned(),
        };
        let length = host.len() + 1 + repository.len();
        if length > MAX_NAME_LEN {
            return Err(problem(Problem::NameTooLong { length }));
        }
        Ok(Reference {
            host,
            repository,
            tag: tag.map(str::to_owned),
            digest,
            written_name: name.to_owned(),
        })
    }

    /// Parses a name to tag an image with and push it by: `NAME[:TAG]`, no digest.
    pub fn parse_name_tag(reference: &str) -> Result<Reference, ReferenceError> {
        let parsed = Self::parse(reference)?;
        match parsed.digest {
            Some(_) => Err(ReferenceError {
                reference: reference.to_owned(),
                problem: Problem::DigestGiven,
            }),
            None => Ok(parsed),
        }
    }

    /// Parses a repository: a name alone, no tag, no digest.
    pub fn parse_repository(reference: &str) -> Result<Reference, ReferenceError> {
        let parsed = Self::parse(reference)?;
        match (&parsed.tag, &parsed.digest) {
            (None, None) => Ok(parsed),
            _ => Err(ReferenceError {
                reference: reference.to_owned(),
                problem: Problem::NotARepository,
            }),
        }
    }

    /// The tag, or `latest` when none was given.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or(DEFAULT_TAG)
    }

    /// `host/repository` as people write it.
    pub fn name(&self) -> String {
        format!("{}/{}", self.host, self.repository)
    }
}

impl fmt::Display for Reference {
    /// The reference as it was written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written_name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// A reference that does not parse: the reference as given, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct ReferenceError {
    /// The reference as given.
    pub reference: String,
    /// What is wrong with it.
    pub problem: Problem,
}

/// What is wrong with a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Nothing was given.
    Empty,
    /// A tag or digest with no name before it (`:1.0`).
    NoName,
    /// 64 hex digits: docker reads that as an image id, never as a name.
    ImageId,
    /// The host part (`HOST[:PORT]`) is not one.
    BadHost { host: String, why: String },
    /// `a//b`, `/a`, `a/`.
    EmptyComponent,
    /// Upper case in the repository path.
    Uppercase,
    /// A path component outside the grammar.
    BadComponent { component: String, why: String },
    /// Host and path longer than [`MAX_NAME_LEN`].
    NameTooLong { length: usize },
    /// A `:` with nothing after it.
    EmptyTag,
    /// A tag longer than [`MAX_TAG_LEN`].
    TagTooLong { length: usize },
    /// A tag outside `[A-Za-z0-9_][A-Za-z0-9_.-]*`.
    BadTag { tag: String, why: String },
    /// The part after `@` is not a digest.
    BadDigest { digest: String, why: String },
    /// A digest where a tag is needed ([`Reference::parse_name_tag`]).
    DigestGiven,
    /// A tag or digest where a repository alone is needed ([`Reference::parse_repository`]).
    NotARepository,
}

impl ReferenceError {
    /// The message: quotes the reference (shortened when only its length is the matter) and
    /// says what is wrong.
    fn message(&self) -> String {
        let reference = &self.reference;
        match &self.problem {
            Problem::Empty => "the image reference is empty".to_owned(),
            Problem::NoName => format!("`{reference}` has no name before its tag or digest"),
            Problem::ImageId => {
                format!("`{reference}` is 64 hex digits, which docker reads as an image id")
            }
            Problem::BadHost { host, why } => {
                format!("the registry host in `{reference}` is `{host}`, which {why}")
            }
            Problem::EmptyComponent => format!("`{reference}` has an empty path component"),
            Problem::Uppercase => format!(
                "`{reference}` has upper case in its repository: repository names must be lowercase"
            ),
            Problem::BadComponent { component, why } => {
                format!("the path component `{component}` in `{reference}` {why}")
            }
            Problem::NameTooLong { length } => format!(
                "the name in `{}` is {length} characters; the limit is {MAX_NAME_LEN}",
                shorten(reference)
            ),
            Problem::EmptyTag => format!("the tag in `{reference}` is empty"),
            Problem::TagTooLong { length } => format!(
                "the tag in `{}` is {length} characters; the limit is {MAX_TAG_LEN}",
                shorten(reference)
            ),
            Problem::BadTag { tag, why } => {
                format!("the tag in `{reference}` is `{tag}`, which {why}")
            }
            Problem::BadDigest { digest, why } => {
                format!("the digest in `{reference}` is `{digest}`, which {why}")
            }
            Problem::DigestGiven => {
                format!("`{reference}` names a digest, but images are tagged and pushed by tag")
            }
            Problem::NotARepository => {
                format!("`{reference}` names a tag or digest, not a repository alone")
            }
        }
    }

    /// The fix, for the `hint:` line.
    pub fn hint(&self) -> String {
        match &self.problem {
            Problem::Empty | Problem::NoName => {
                "give a name, e.g. `europe-west4-docker.pkg.dev/PROJECT/REPO/SERVICE:1.0`".into()
            }
            Problem::ImageId => {
                "give the image a name (`NAME[:TAG]`); docker never takes 64 hex digits as one"
                    .into()
            }
            Problem::BadHost { .. } => {
                "a registry host is a host name or IP address with an optional port, e.g. `europe-west4-docker.pkg.dev` or `localhost:5000`".into()
            }
            Problem::EmptyComponent => "remove the extra `/`".into(),
            Problem::Uppercase => format!(
                "write `{}`; only a registry host (one with a `.` or a `:PORT`) may have upper case",
                lowercase_path(&self.reference)
            ),
            Problem::BadComponent { .. } => {
                "path components are lower-case letters and digits joined by `.`, `_`, `__` or `-`, e.g. `team/my-app`".into()
            }
            Problem::NameTooLong { .. } => {
                format!("shorten the registry host and path to {MAX_NAME_LEN} characters")
            }
            Problem::EmptyTag => "put a tag after the `:`, or drop the `:` for `latest`".into(),
            Problem::TagTooLong { .. } => {
                format!("shorten the tag to {MAX_TAG_LEN} characters")
            }
            Problem::BadTag { .. } => {
                "a tag is letters, digits, `_`, `.` and `-`, not starting with `.` or `-`, after the name's one `:`, e.g. `NAME:1.0`".into()
            }
            Problem::BadDigest { .. } => {
                "a digest is `sha256:` and 64 lower-case hex digits".into()
            }
            Problem::DigestGiven => {
                "drop the `@...` part: the registry gives the digest once the tag is pushed".into()
            }
            Problem::NotARepository => {
                "give the repository alone, e.g. `europe-west4-docker.pkg.dev/PROJECT/REPO/SERVICE`; the tags come from `tags`, `SHIPIMG_TAGS` or `-t`".into()
            }
        }
    }
}

/// The first 40 characters and an ellipsis, for a reference too long to quote whole.
fn shorten(reference: &str) -> String {
    match reference.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &reference[..end]),
        None => reference.to_owned(),
    }
}

/// `reference` with its path in lower case, its host and tag as written.
fn lowercase_path(reference: &str) -> String {
    let (host, rest) = match reference.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, reference),
    };
    let end = rest.find([':', '@']).unwrap_or(rest.len());
    let lowered = format!("{}{}", rest[..end].to_ascii_lowercase(), &rest[end..]);
    match host {
        Some(host) => format!("{host}/{lowered}"),
        None => lowered,
    }
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// `HOST[:PORT]`: a domain name or IPv4 address, or `[IPv6]`.
fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = match host.strip_prefix('[') {
        Some(inner) => {
            let Some((address, after)) = inner.split_once(']') else {
                return Err("opens `[` without closing it".into());
            };
            if address.is_empty() || !address.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
                return Err(format!("has `[{address}]`, not an IPv6 address"));
            }
            match after {
                "" => (None, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (None, Some(port)),
                    None => return Err("has more after its `]` than a `:PORT`".into()),
                },
            }
        }
        None => match host.split_once(':') {
            Some((name, port)) => (Some(name), Some(port)),
            None => (Some(host), None),
        },
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("has the port `{port}`, not a number"));
    }
    let Some(name) = name else {
        return Ok(());
    };
    for label in name.split('.') {
        if label.is_empty() {
            return Err("has an empty name between dots".into());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
        {
            return Err(format!("has `{c}`, which no host name holds"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("has `{label}`, which starts or ends with `-`"));
        }
    }
    Ok(())
}

/// One path component: `[a-z0-9]+` runs joined by `.`, `_`, `__` or `-+` (upper case is
/// refused before this).
fn check_component(component: &str) -> Result<(), String> {
    if let Some(c) = component
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(*c)))
    {
        return Err(format!("has `{c}`"));
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !component.starts_with(alnum) {
        return Err("must start with a letter or digit".into());
    }
    if !component.ends_with(alnum) {
        return Err("must end with a letter or digit".into());
    }
    for separator in component.split(alnum).filter(|s| !s.is_empty()) {
        let allowed = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !allowed {
            return Err(format!(
                "joins with `{separator}`: one `.`, one or two `_`, or dashes only"
            ));
        }
    }
    Ok(())
}

/// Why a tag is refused.
enum TagProblem {
    Empty,
    TooLong,
    Bad(String),
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), TagProblem> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if tag.is_empty() {
        return Err(TagProblem::Empty);
    }
    if let Some(c) = tag.chars().find(|c| !(word(*c) || *c == '.' || *c == '-')) {
        return Err(TagProblem::Bad(format!("has `{c}`")));
    }
    if !tag.starts_with(word) {
        return Err(TagProblem::Bad(
            "starts with a character other than a letter, digit or `_`".into(),
        ));
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(TagProblem::TooLong);
    }
    Ok(())
}

/// A digest: `ALGORITHM:HEX`, for an algorithm docker knows, with its length of lower-case hex.
fn check_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err("has no `ALGORITHM:` before its hex".into());
    };
    let want = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(format!("uses `{algorithm}`, not sha256, sha384 or sha512")),
    };
    if !hex.bytes().all(is_lower_hex) {
        return Err("has characters other than lower-case hex digits after the `:`".into());
    }
    if hex.len() != want {
        return Err(format!(
            "has {} hex digits; {algorithm} has {want}",
            hex.len()
        ));
    }
    Ok(())
}

/// A bad reference where no flag or key is known to name: the message and its fix.
impl crate::error::UserError for ReferenceError {
    fn hint(&self) -> Option<String> {
        Some(ReferenceError::hint(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parts(reference: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(reference).unwrap_or_else(|err| panic!("{reference}: {err}"));
        assert_eq!(r.to_string(), reference, "Display gives the reference back");
        (r.host, r.repository, r.tag, r.digest)
    }

    fn problem(reference: &str) -> Problem {
        match Reference::parse(reference) {
            Ok(r) => panic!("{reference} parsed: {r:?}"),
            Err(err) => err.problem,
        }
    }

    #[test]
    fn valid_references_split_like_docker() {
        let some = |s: &str| Some(s.to_owned());
        let digest = format!("sha256:{HEX}");
        for (reference, host, repository, tag, dgst) in [
            (
                "localhost:5000/a/b:1",
                "localhost:5000",
                "a/b",
                some("1"),
                None,
            ),
            (
                "europe-west4-docker.pkg.dev/proj/repo/svc:v1",
                "europe-west4-docker.pkg.dev",
                "proj/repo/svc",
                some("v1"),
                None,
            ),
            ("ubuntu", "docker.io", "library/ubuntu", None, None),
            (
                "python:3.11-slim",
                "docker.io",
                "library/python",
                some("3.11-slim"),
                None,
            ),
            ("team/app", "docker.io", "team/app", None, None),
            (
                &format!("a/b@{digest}"),
                "docker.io",
                "a/b",
                None,
                some(&digest),
            ),
            (
                &format!("a:b@{digest}"),
                "docker.io",
                "library/a",
                some("b"),
                some(&digest),
            ),
            ("127.0.0.1:5555/x", "127.0.0.1:5555", "x", None, None),
            ("[::1]:5000/x:tag", "[::1]:5000", "x", some("tag"), None),
            ("[fe80::1]/x", "[fe80::1]", "x", None, None),
            ("localhost/x", "localhost", "x", None, None),
            // A lone `host:port` is a Docker Hub name and a tag, as docker reads it.
            (
                "localhost:5000",
                "docker.io",
                "library/localhost",
                some("5000"),
                None,
            ),
            (
                "Registry.Example.COM/a",
                "registry.example.com",
                "a",
                None,
                None,
            ),
            (
                "index.docker.io/team/app",
                "docker.io",
                "team/app",
                None,
                None,
            ),
            (
                "index.docker.io/ubuntu",
                "docker.io",
                "library/ubuntu",
                None,
                None,
            ),
            (
                "registry-1.docker.io/a/b",
                "registry-1.docker.io",
                "a/b",
                None,
                None,
            ),
            (
                "a__b/c---d/e.f_g:V_1.0-rc",
                "docker.io",
                "a__b/c---d/e.f_g",
                some("V_1.0-rc"),
                None,
            ),
            (
                &format!("x:{}", "t".repeat(128)),
                "docker.io",
                "library/x",
                some(&"t".repeat(128)),
                None,
            ),
            ("x:_", "docker.io", "library/x", some("_"), None),
        ] {
            assert_eq!(
                parts(reference),
                (host.to_owned(), repository.to_owned(), tag, dgst),
                "{reference}"
            );
        }
    }

    #[test]
    fn written_name_and_defaults() {
        let r = Reference::parse("Reg.Example:5000/a/b").unwrap();
        assert_eq!(r.written_name, "Reg.Example:5000/a/b");
        assert_eq!(r.name(), "reg.example:5000/a/b");
        assert_eq!(r.tag_or_latest(), "latest");
        let r = Reference::parse("python:3.11").unwrap();
        assert_eq!(r.written_name, "python");
        assert_eq!(r.name(), "docker.io/library/python");
        assert_eq!(r.tag_or_latest(), "3.11");
    }

    #[test]
    fn invalid_references_say_which_part_is_wrong() {
        let short = format!("sha256:{}", &HEX[..32]);
        type Expect = fn(&Problem) -> bool;
        let cases: Vec<(String, Expect)> = vec![
            (
                "a:b:c".into(),
                |p| matches!(p, Problem::BadTag { tag, .. } if tag == "b:c"),
            ),
            ("repo//x:1".into(), |p| *p == Problem::EmptyComponent),
            ("/a".into(), |p| *p == Problem::EmptyComponent),
            ("a/".into(), |p| *p == Problem::EmptyComponent),
            ("Repo/x".into(), |p| *p == Problem::Uppercase),
            ("A/b".into(), |p| *p == Problem::Uppercase),
            ("reg.example/Team/app:1".into(), |p| {
                *p == Problem::Uppercase
            }),
            (format!("x:{}", "t".repeat(300)), |p| {
                *p == Problem::TagTooLong { length: 300 }
            }),
            ("".into(), |p| *p == Problem::Empty),
            (
                "-a".into(),
                |p| matches!(p, Problem::BadComponent { why, .. } if why.contains("start")),
            ),
            (
                "a-".into(),
                |p| matches!(p, Problem::BadComponent { why, .. } if why.contains("end")),
            ),
            (
                "a..b".into(),
                |p| matches!(p, Problem::BadComponent { why, .. } if why.contains("`..`")),
            ),
            ("a___b".into(), |p| {
                matches!(p, Problem::BadComponent { .. })
            }),
            ("a.-b".into(), |p| matches!(p, Problem::BadComponent { .. })),
            (
                "a b".into(),
                |p| matches!(p, Problem::BadComponent { why, .. } if why == "has ` `"),
            ),
            ("a:".into(), |p| *p == Problem::EmptyTag),
            (":a".into(), |p| *p == Problem::NoName),
            ("a:.x".into(), |p| matches!(p, Problem::BadTag { .. })),
            ("a:-x".into(), |p| matches!(p, Problem::BadTag { .. })),
            (
                format!("a@{short}"),
                |p| matches!(p, Problem::BadDigest { why, .. } if why.contains("32 hex digits; sha256 has 64")),
            ),
            (format!("a@sha256:{}", HEX.to_uppercase()), |p| {
                matches!(p, Problem::BadDigest { .. })
            }),
            (format!("a@md5:{HEX}"), |p| {
                matches!(p, Problem::BadDigest { .. })
            }),
            ("a@".into(), |p| matches!(p, Problem::BadDigest { .. })),
            (format!("@sha256:{HEX}"), |p| *p == Problem::NoName),
            (format!("a@sha256:{HEX}@x"), |p| {
                matches!(p, Problem::BadDigest { .. })
            }),
            (HEX.into(), |p| *p == Problem::ImageId),
            ("reg_x.example/a".into(), |p| {
                matches!(p, Problem::BadHost { .. })
            }),
            ("-reg.example/a".into(), |p| {
                matches!(p, Problem::BadHost { .. })
            }),
            ("reg..example/a".into(), |p| {
                matches!(p, Problem::BadHost { .. })
            }),
            ("reg.example:x/a".into(), |p| {
                matches!(p, Problem::BadHost { .. })
            }),
            ("reg.example:/a".into(), |p| {
                matches!(p, Problem::BadHost { .. })
            }),
            ("[::1/a".into(), |p| matches!(p, Problem::BadHost { .. })),
            ("[::g]:5000/a".into(), |p| {
                matches!(p, Problem::BadHost { .. })
            }),
            ("[::1]x/a".into(), |p| matches!(p, Problem::BadHost { .. })),
            (format!("reg.example/{}", "a".repeat(250)), |p| {
                *p == Problem::NameTooLong { length: 262 }
            }),
            // The official-image prefix counts, as docker counts it.
            ("a".repeat(240), |p| {
                *p == Problem::NameTooLong { length: 258 }
            }),
        ];
        for (reference, expected) in cases {
            let got = problem(&reference);
            assert!(expected(&got), "{reference}: {got:?}");
        }
    }

    #[test]
    fn messages_quote_the_reference_and_name_the_part() {
        let message = |reference: &str| Reference::parse(reference).unwrap_err().to_string();
        assert_eq!(
            message("repo:a:b"),
            "the tag in `repo:a:b` is `a:b`, which has `:`"
        );
        assert_eq!(message("repo//x"), "`repo//x` has an empty path component");
        assert_eq!(
            message(&format!("svc:{}", "t".repeat(300))),
            format!(
                "the tag in `svc:{}…` is 300 characters; the limit is 128",
                "t".repeat(36)
            )
        );
        assert_eq!(
            message("Team/App:V1"),
            "`Team/App:V1` has upper case in its repository: repository names must be lowercase"
        );
        assert_eq!(message(""), "the image reference is empty");
        assert_eq!(
            message("-a"),
            "the path component `-a` in `-a` must start with a letter or digit"
        );
        assert_eq!(
            message("reg.example:x/a"),
            "the registry host in `reg.example:x/a` is `reg.example:x`, which has the port `x`, not a number"
        );
    }

    #[test]
    fn hints_give_the_fix() {
        let hint = |reference: &str| Reference::parse(reference).unwrap_err().hint();
        assert!(hint("Team/App:V1").starts_with("write `team/app:V1`;"));
        assert!(hint("Reg.Example/Team/App:V1").starts_with("write `Reg.Example/team/app:V1`;"));
        assert!(hint("a:b:c").contains("after the name's one `:`"));
        assert!(hint(&format!("x:{}", "t".repeat(129))).contains("128"));
    }

    #[test]
    fn tags_and_repositories_refuse_what_they_cannot_use() {
        let digest = format!("reg.example/a@sha256:{HEX}");
        assert_eq!(
            Reference::parse_name_tag(&digest).unwrap_err().problem,
            Problem::DigestGiven
        );
        assert_eq!(
            Reference::parse_name_tag(&format!("reg.example/a:1@sha256:{HEX}"))
                .unwrap_err()
                .problem,
            Problem::DigestGiven
        );
        assert!(Reference::parse_name_tag("reg.example/a:1").is_ok());
        assert!(Reference::parse_name_tag("reg.example/a").is_ok());
        assert!(Reference::parse_repository("reg.example:5000/a").is_ok());
        for reference in ["reg.example/a:1", digest.as_str()] {
            assert_eq!(
                Reference::parse_repository(reference).unwrap_err().problem,
                Problem::NotARepository,
                "{reference}"
            );
        }
        // A grammar error wins over the wrong kind.
        assert_eq!(
            Reference::parse_repository("a:b:c").unwrap_err().problem,
            Problem::BadTag {
                tag: "b:c".into(),
                why: "has `:`".into()
            }
        );
    }

    #[test]
    fn docker_hub_goes_by_three_names() {
        for host in ["docker.io", "Index.Docker.IO", "registry-1.docker.io"] {
            assert!(is_docker_hub(host), "{host}");
            assert_eq!(host_aliases(host), DOCKER_HUB_ALIASES);
        }
        assert!(!is_docker_hub("docker.example"));
        assert_eq!(host_aliases("reg.example:5000"), ["reg.example:5000"]);
    }

    proptest::proptest! {
        #[test]
        fn nothing_panics_and_what_parses_prints_back(s in "\\PC{0,80}", t in "[a-zA-Z0-9:/@._\\-\\[\\]]{0,60}") {
            for text in [&s, &t] {
                if let Ok(r) = Reference::parse(text) {
                    proptest::prop_assert_eq!(&r.to_string(), text);
                    proptest::prop_assert!(Reference::parse(&r.to_string()).is_ok());
                }
            }
        }
    }
}
