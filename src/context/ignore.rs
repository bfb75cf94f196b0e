//! Docker's `.dockerignore` rules: which ignore file applies, how it is read, and which paths of
//! the build context it keeps out.
//!
//! The reference is what Docker 20.10 (Debian's 20.10.24 engine and CLI) does with BuildKit:
//! the Dockerfile frontend picks and reads the ignore file (`frontend/dockerfile/dockerignore`
//! `ReadAll`), and the client's file-sync walker (`tonistiigi/fsutil` `Walk`, vendored in
//! docker/cli 20.10) applies the patterns with `pkg/fileutils` `PatternMatcher.Matches`.
//!
//! How a walker uses this module, exactly as fsutil 20.10 does:
//!
//! 1. for every entry (in lexical order, root not included) ask [`Matcher::is_excluded`];
//! 2. an excluded file is skipped;
//! 3. an excluded directory is skipped with everything under it, unless
//!    [`Matcher::should_descend`] says an exception could re-include something below it: then
//!    the directory itself is sent and the walk goes on inside it, asking again for each entry.
//!
//! Where this module knowingly differs from 20.10, it follows the documented `filepath.Match`
//! syntax instead of 20.10's accidents, all of them in how 20.10 turns a glob into a Go regexp:
//!
//! - 20.10 escapes only `.` and `$`, so `+ ( ) | { } ^` outside a class act as regexp operators
//!   (`a+b` matches `aab`, `a(b)c` matches `abc`, `a(b` fails the build). Here they are literal,
//!   as in newer Docker (moby/patternmatcher), which still leaves `^` unescaped.
//! - 20.10 passes `\x` through to the regexp, so `\d`, `\w`, `\s`, `\b` are regexp classes or
//!   assertions and `\e` fails. Here `\x` always means the character `x`, as `filepath.Match`
//!   documents.
//! - 20.10 copies `[...]` into the regexp, so `[[:alpha:]]` is a POSIX class, `[\d]` a digit and
//!   a `*` or `?` inside a class turns into a nested class. Here a class is read the way
//!   `filepath.Match` reads it, and every member is literal.
//! - 20.10, built with Go 1.19, checks a glob with `filepath.Match(glob, ".")`, which stops
//!   checking at the first part that does not match `.`, so some malformed globs (`x*\`,
//!   `x*[`) get through and then fail the build or match nonsense. Here every malformed glob
//!   is an error when the file is read.
//!
//! Everything else, including 20.10's bugs that later Docker fixed, is kept: see
//! [`Matcher::is_excluded`] and [`Matcher::should_descend`].

use std::borrow::Cow;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::bytes::{Regex, RegexBuilder};

/// Docker reads an ignore file with Go's `bufio.Scanner`, whose 64 KiB buffer must hold a line
/// and its newline; a longer line makes the whole build fail.
const MAX_LINE_LEN: usize = 64 * 1024 - 1;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A `.dockerignore` that Docker would refuse, or a pattern it could not use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}{kind}", location = Location { file: self.file.as_deref(), line: self.line })]
pub struct IgnoreError {
    file: Option<PathBuf>,
    line: Option<usize>,
    kind: IgnoreErrorKind,
}

impl IgnoreError {
    /// The ignore file the bad line is in, when the patterns came from a file.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The 1-based line number in [`IgnoreError::file`], counting comments and blank lines.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// What was wrong.
    pub fn kind(&self) -> &IgnoreErrorKind {
        &self.kind
    }

    fn at(origin: Option<&Origin>, kind: IgnoreErrorKind) -> Self {
        IgnoreError {
            file: origin.map(|o| o.file.to_path_buf()),
            line: origin.map(|o| o.line),
            kind,
        }
    }
}

/// Renders "`file` line N: " (or less, when that is unknown) in front of an error.
struct Location<'a> {
    file: Option<&'a Path>,
    line: Option<usize>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "`{}` line {line}: ", file.display()),
            (Some(file), None) => write!(f, "`{}`: ", file.display()),
            (None, Some(line)) => write!(f, "line {line}: "),
            (None, None) => Ok(()),
        }
    }
}

/// What made an ignore file or a pattern unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IgnoreErrorKind {
    /// A pattern Docker would reject, as written in the file (after trimming).
    #[error("invalid pattern `{pattern}`: {reason}")]
    InvalidPattern {
        /// The pattern as the user wrote it.
        pattern: String,
        /// Why it is invalid.
        reason: PatternError,
    },
    /// A line longer than Docker's reader accepts.
    #[error("the line is {len} bytes long; Docker reads lines of at most {MAX_LINE_LEN} bytes")]
    LineTooLong {
        /// The length of the line in bytes, without its newline.
        len: usize,
    },
}

/// Why a single pattern is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// `!` with nothing after it once the pattern is cleaned (`!`, `! `, `!/`).
    #[error("`!` must be followed by a pattern")]
    LoneExclamation,
    /// A `[` whose class never ends with `]`.
    #[error("unterminated character class")]
    UnterminatedClass,
    /// A `-` or `]` where a class member must start; it has to be escaped there.
    #[error("`{0}` must be escaped as `\\{0}` at the start of a character class member")]
    UnescapedInClass(char),
    /// A range such as `[z-a]` whose end comes before its start.
    #[error("character range `{lo}-{hi}` is out of order")]
    ReversedRange {
        /// The start of the range.
        lo: char,
        /// The end of the range.
        hi: char,
    },
    /// A `\` at the very end of the pattern, escaping nothing.
    #[error("the pattern ends with a `\\` that escapes nothing")]
    TrailingBackslash,
    /// A byte that is not UTF-8 inside a `[...]` class, which `filepath.Match` refuses.
    #[error("a byte that is not UTF-8 inside a character class")]
    NotUtf8,
    /// The pattern compiles to a regular expression over the size limit.
    #[error("too long or complex to compile")]
    TooComplex,
}

/// Where a pattern came from, so that late errors can still name the file and line.
#[derive(Debug, Clone)]
struct Origin {
    file: Arc<Path>,
    line: usize,
}

/// One cleaned `.dockerignore` pattern: what Docker's `PatternMatcher` keeps of a line.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern's bytes, as Docker compares them with directories.
    raw: Box<[u8]>,
    /// The same, with each byte that is not UTF-8 shown as U+FFFD.
    text: String,
    exception: bool,
    origin: Option<Origin>,
}

impl Pattern {
    /// The cleaned pattern without its leading `!`, as Docker's `Pattern.String()` gives it,
    /// with each byte that is not UTF-8 shown as U+FFFD.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cleaned pattern's exact bytes: what [`Matcher::should_descend`] compares
    /// directories with.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Whether the pattern is an exception (it started with `!`) that re-includes what it matches.
    pub fn is_exception(&self) -> bool {
        self.exception
    }

    /// The 1-based line of the ignore file the pattern was read from, if it came from one.
    pub fn line(&self) -> Option<usize> {
        self.origin.as_ref().map(|o| o.line)
    }

    /// Mirrors what `fileutils.NewPatternMatcher` does to one entry of an exclude list: trim,
    /// clean, split off `!`, and check the glob syntax. `None` for a blank entry, which Docker
    /// skips.
    fn from_entry(entry: &[u8], origin: Option<Origin>) -> Result<Option<Pattern>, PatternError> {
        let trimmed = go_trim_space(entry);
        if trimmed.is_empty() {
            return Ok(None);
        }
        let cleaned = clean(trimmed);
        let (exception, raw) = match cleaned.strip_prefix(b"!") {
            Some([]) => return Err(PatternError::LoneExclamation),
            Some(rest) => (true, rest),
            None => (false, &*cleaned),
        };
        translate(raw)?;
        Ok(Some(Pattern {
            raw: raw.into(),
            text: lossy_like_go(raw),
            exception,
            origin,
        }))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exception {
            f.write_str("!")?;
        }
        f.write_str(&self.text)
    }
}

/// Reads a `.dockerignore` the way Docker 20.10 does (`dockerignore.ReadAll`, then
/// `fileutils.NewPatternMatcher`); `source` names the file in errors.
///
/// - Lines end at `\n`, and one `\r` before it is dropped. A UTF-8 BOM is stripped from the
///   first line only.
/// - A line whose first byte is `#` is a comment; this is checked before trimming, so `  # x`
///   is the pattern `# x`.
/// - Surrounding whitespace is trimmed and blank lines are skipped.
/// - A leading `!` makes an exception; whitespace after it is trimmed too.
/// - The rest is cleaned like Go's `filepath.Clean` and one leading `/` is dropped, so
///   `/foo/bar/`, `/foo/bar`, `foo/bar/` and `foo/bar` are the same pattern.
/// - Docker then cleans the whole entry, `!` included, once more. That makes `!/` the error a
///   bare `!` is, and turns `!../x/..` style entries into plain patterns (`! ../../secret`
///   excludes `secret`); both are kept.
/// - The pattern `.` is kept, as Docker keeps it, but it can never match: the walker never asks
///   about the context root. That is what Docker's documentation calls "ignored".
/// - Bytes that are not UTF-8 are accepted, as Docker accepts them: each stands for one
///   character that only such a byte (or U+FFFD) in a path matches. Only inside a `[...]`
///   class are they an error.
/// - Invalid globs are errors, including ranges such as `[z-a]` that 20.10 only rejects on the
///   first match, and malformed globs that 20.10 (built with Go 1.19, whose `filepath.Match`
///   checks a pattern only as far as it matches `.`) lets through to match nonsense.
pub fn parse_ignore_file(text: &[u8], source: &Path) -> Result<Vec<Pattern>, IgnoreError> {
    let file: Arc<Path> = Arc::from(source);
    let mut patterns = Vec::new();
    for (index, raw) in scan_lines(text).enumerate() {
        let origin = Origin {
            file: Arc::clone(&file),
            line: index + 1,
        };
        if raw.len() > MAX_LINE_LEN {
            let kind = IgnoreErrorKind::LineTooLong { len: raw.len() };
            return Err(IgnoreError::at(Some(&origin), kind));
        }
        let mut line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if index == 0 {
            line = line.strip_prefix(UTF8_BOM).unwrap_or(line);
        }
        if line.starts_with(b"#") {
            continue;
        }
        let line = go_trim_space(line);
        if line.is_empty() {
            continue;
        }
        let entry = normalize_line(line);
        match Pattern::from_entry(&entry, Some(origin.clone())) {
            Ok(Some(pattern)) => patterns.push(pattern),
            Ok(None) => {}
            Err(reason) => {
                let pattern = lossy_like_go(line);
                let kind = IgnoreErrorKind::InvalidPattern { pattern, reason };
                return Err(IgnoreError::at(Some(&origin), kind));
            }
        }
    }
    Ok(patterns)
}

/// Reads an exclude list that was already taken out of an ignore file, such as the
/// `exclude-patterns` a BuildKit frontend sends over the file-sync session, the way
/// `fileutils.NewPatternMatcher` does: blank entries are skipped, the others trimmed, cleaned
/// and checked.
pub fn parse_exclude_patterns<S: AsRef<[u8]>>(entries: &[S]) -> Result<Vec<Pattern>, IgnoreError> {
    let mut patterns = Vec::with_capacity(entries.len());
    for entry in entries {
        let entry = entry.as_ref();
        match Pattern::from_entry(entry, None) {
            Ok(Some(pattern)) => patterns.push(pattern),
            Ok(None) => {}
            Err(reason) => {
                let pattern = lossy_like_go(go_trim_space(entry));
                let kind = IgnoreErrorKind::InvalidPattern { pattern, reason };
                return Err(IgnoreError::at(None, kind));
            }
        }
    }
    Ok(patterns)
}

/// The lines of an ignore file as Go's `bufio.ScanLines` yields them (before `\r` is dropped):
/// split at `\n`, with no empty line after a final newline.
fn scan_lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let empty = text.is_empty();
    body.split(|&b| b == b'\n').filter(move |_| !empty)
}

/// What `dockerignore.ReadAll` makes of one trimmed, non-comment line.
fn normalize_line(line: &[u8]) -> Vec<u8> {
    let (invert, body) = match line.strip_prefix(b"!") {
        Some(rest) => (true, go_trim_space(rest)),
        None => (false, line),
    };
    let mut out = Vec::with_capacity(body.len() + 1);
    if invert {
        out.push(b'!');
    }
    if !body.is_empty() {
        let body = clean(body);
        let body = match body.strip_prefix(b"/") {
            Some(rest) if !rest.is_empty() => rest,
            _ => &body,
        };
        out.extend_from_slice(body);
    }
    out
}

/// Finds the ignore file for a build, as BuildKit's Dockerfile frontend in Docker 20.10 does:
/// `<Dockerfile path>.dockerignore` beside the Dockerfile (e.g. `docker/app.Dockerfile.dockerignore`)
/// wins over `<context>/.dockerignore`; they are never merged.
///
/// Only regular files (after following symlinks) count; a directory of that name is passed
/// over, as BuildKit's failed read of it is. The classic builder (`DOCKER_BUILDKIT=0`) reads
/// only `<context>/.dockerignore`. When the frontend falls back from `Dockerfile` to
/// `dockerfile`, it still looks for `Dockerfile.dockerignore`, so pass the name the user asked
/// for, not the one found on disk.
pub fn find_ignore_file(context_dir: &Path, dockerfile: &Path) -> io::Result<Option<PathBuf>> {
    if let Some(name) = dockerfile.file_name() {
        let mut specific = name.to_os_string();
        specific.push(".dockerignore");
        let specific = dockerfile.with_file_name(specific);
        if is_regular_file(&specific)? {
            return Ok(Some(specific));
        }
    }
    let root = context_dir.join(".dockerignore");
    Ok(is_regular_file(&root)?.then_some(root))
}

fn is_regular_file(path: &Path) -> io::Result<bool> {
    match fs::metadata(path) {
        Ok(meta) => Ok(meta.is_file()),
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

/// Adds the exceptions docker/cli 20.10 adds before it uploads a context as a tar for the
/// classic builder (`build.TrimBuildFilesFromExcludes`), so that the daemon gets the files it
/// needs even when the ignore file lists them:
///
/// - `!<ignore_rel>` when the patterns exclude `ignore_rel` (docker/cli always checks
///   `.dockerignore`, whether or not it exists);
/// - then `!<dockerfile_rel>` when the patterns so far exclude `dockerfile_rel`. Pass `None`
///   for a Dockerfile read from stdin, which docker/cli leaves alone.
///
/// Pass clean `/`-separated paths relative to the context, as docker/cli does: both are checked
/// after cleaning but appended as written (`./Dockerfile` would append an exception that
/// matches nothing), so a Dockerfile name with glob characters in it becomes a glob, as in
/// Docker. The daemon then hides both files from `COPY` again when the ignore file excludes
/// them. With BuildKit none of this happens: the Dockerfile and the ignore file travel outside
/// the context.
///
/// Where Docker's appended pattern would fail the build (a name that is not a valid glob, such
/// as `Dockerfile[`), this appends the name with its glob characters escaped instead.
pub fn with_build_files(
    patterns: Vec<Pattern>,
    dockerfile_rel: Option<&[u8]>,
    ignore_rel: Option<&[u8]>,
) -> Vec<Pattern> {
    let mut patterns = patterns;
    for rel in [ignore_rel, dockerfile_rel].into_iter().flatten() {
        let cleaned = clean(rel);
        if &*cleaned == b"." {
            continue;
        }
        // Patterns that compiled once compile again; should one not, nothing is excluded.
        let excluded = Matcher::new(patterns.clone()).is_ok_and(|m| m.is_excluded(&cleaned));
        if !excluded {
            continue;
        }
        let exception = Pattern::from_entry(&[b"!", rel].concat(), None)
            .or_else(|_| Pattern::from_entry(&[&b"!"[..], &escape_glob(rel)].concat(), None));
        if let Ok(Some(pattern)) = exception {
            patterns.push(pattern);
        }
    }
    patterns
}

/// `name` with every glob character `\`-escaped, so that it matches only itself.
fn escape_glob(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 4);
    for &b in name {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// How one pattern is tested against a path.
#[derive(Debug, Clone)]
enum Test {
    /// The glob has no wildcard: compare the whole path.
    Literal(Box<[u8]>),
    /// The glob as an anchored regular expression.
    Regex(Regex),
}

#[derive(Debug, Clone)]
struct Compiled {
    test: Test,
    /// How many `/`-separated parts the pattern text has (Docker's `len(pattern.dirs)`).
    components: usize,
    exception: bool,
}

impl Compiled {
    fn is_match(&self, path: &[u8]) -> bool {
        match &self.test {
            Test::Literal(literal) => **literal == *path,
            Test::Regex(regex) => regex.is_match(path),
        }
    }
}

/// The compiled patterns of one ignore file, answering which context paths stay out.
///
/// Compile once per build and share it: it is `Send + Sync`, and matching allocates nothing for
/// paths that are valid UTF-8 and already clean.
#[derive(Debug, Clone)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    compiled: Vec<Compiled>,
    has_exceptions: bool,
}

impl Matcher {
    /// Compiles the patterns, in order, to regular expressions. Fails when one is too large to
    /// compile; the error names its file and line when it came from one.
    pub fn new(patterns: Vec<Pattern>) -> Result<Matcher, IgnoreError> {
        let mut compiled = Vec::with_capacity(patterns.len());
        for pattern in &patterns {
            let fail = |reason| {
                let kind = IgnoreErrorKind::InvalidPattern {
                    pattern: pattern.to_string(),
                    reason,
                };
                IgnoreError::at(pattern.origin.as_ref(), kind)
            };
            let test = match translate(&pattern.raw).map_err(fail)? {
                Glob::Literal(literal) => Test::Literal(literal.into_bytes().into_boxed_slice()),
                Glob::Regex(source) => {
                    let regex = RegexBuilder::new(&source)
                        .build()
                        .map_err(|_| fail(PatternError::TooComplex))?;
                    Test::Regex(regex)
                }
            };
            compiled.push(Compiled {
                test,
                components: component_count(&pattern.raw),
                exception: pattern.exception,
            });
        }
        let has_exceptions = patterns.iter().any(|p| p.exception);
        Ok(Matcher {
            patterns,
            compiled,
            has_exceptions,
        })
    }

    /// The patterns, in file order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether any pattern is an exception (`!`); Docker's `PatternMatcher.Exclusions()`.
    pub fn has_exceptions(&self) -> bool {
        self.has_exceptions
    }

    /// Whether `path` (relative to the context root, `/`-separated, as bytes) is excluded:
    /// the last pattern that matches it decides, and an exception re-includes.
    ///
    /// This is 20.10's `PatternMatcher.Matches`. A pattern matches a path when its glob matches
    /// the whole path, or matches the leading part of the path's parent that has as many
    /// `/`-separated parts as the pattern. So `docs` excludes `docs/a/b`, `*` excludes
    /// everything, and `*.md` excludes only top-level markdown (`*` never crosses `/`).
    ///
    /// Only that one parent prefix is tried, so `**/foo` does not match `foo/bar` or
    /// `x/y/foo/bar` (moby/moby#42676, fixed after 20.10 by `MatchesOrParentMatches`, which
    /// tries every parent). A walker that skips excluded directories never asks about those
    /// paths, so this shows only below a directory [`Matcher::should_descend`] walks into.
    ///
    /// A trailing `/` in a pattern was cleaned away, so it matches files too: `ignored/*` then
    /// `!ignored/*/` re-includes every file directly in `ignored` (moby/moby#45284).
    ///
    /// Matching is Go regexp's: bytes that are not UTF-8 count as one character each, and a
    /// `**` (a regexp `.*`) does not match a newline in a file name, while `*` and `?` do.
    pub fn is_excluded(&self, path: &[u8]) -> bool {
        if self.compiled.is_empty() {
            return false;
        }
        let file = decode_like_go(path);
        let parent = go_dir(&file);
        let parent_components = parent.as_deref().map(component_count);
        let mut excluded = false;
        for pattern in &self.compiled {
            // A pattern that cannot change the verdict need not be tried; 20.10 tries it anyway
            // but ends with the same answer.
            if pattern.exception != excluded {
                continue;
            }
            let mut hit = pattern.is_match(&file);
            if !hit
                && let (Some(parent), Some(count)) = (parent.as_deref(), parent_components)
                && pattern.components <= count
            {
                hit = pattern.is_match(leading_components(parent, pattern.components));
            }
            if hit {
                excluded = !pattern.exception;
            }
        }
        excluded
    }

    /// For a directory that [`Matcher::is_excluded`] excludes: whether the walker must still go
    /// into it because an exception might re-include something below. In that case fsutil 20.10
    /// sends the directory entry itself too (docker/cli's tar path for the classic builder walks
    /// in without sending it).
    ///
    /// The rule is 20.10's, in both fsutil's walker and docker/cli's archive code: descend when
    /// some exception's text plus `/` starts with `dir` plus `/`. It compares text, not globs,
    /// which leaves rough edges users keep reporting:
    ///
    /// - `*` then `!**/*.py` re-includes `a.py` but not `src/a.py`: `**/*.py/` does not start
    ///   with `src/` (docker/cli#2919, docker/cli#2847).
    /// - `*` then `!*/*.txt` re-includes nothing below the top level, for the same reason
    ///   (moby/moby#30018, moby/moby#38645).
    /// - `*` then `!src/**/*.py` walks into `src` but not `src/sub`, so `src/a.py` is sent and
    ///   `src/sub/b.py` is not (the second case of docker/cli#2919).
    /// - `*` then `!docker/*/Dockerfile` walks into `docker` but not `docker/app`, so the
    ///   Dockerfile is left out (docker/for-linux#585).
    ///
    /// Newer fsutil walks into every excluded directory as soon as one exception has a wildcard
    /// anywhere but in a trailing `/*` or `/**`, and no longer sends the excluded directory
    /// itself; 20.10 does neither.
    pub fn should_descend(&self, dir: &[u8]) -> bool {
        self.has_exceptions
            && self.patterns.iter().any(|p| {
                let text = &*p.raw;
                p.exception
                    && text.starts_with(dir)
                    && (text.len() == dir.len() || text[dir.len()] == b'/')
            })
    }
}

/// A glob translated for matching.
enum Glob {
    Literal(String),
    Regex(String),
}

/// Translates a cleaned glob, checking it with `filepath.Match`'s grammar and giving `**`
/// Docker's meaning:
///
/// - `*` is any run of characters but `/`, `?` any one character but `/`;
/// - `**` is any run of characters including `/` (a regexp `.*`) when it ends the pattern, and
///   otherwise any number of whole directories, none included (`(.*/)?`); a `/` right after
///   `**` belongs to it;
/// - `[...]` is a class with optional leading `^` (`!` is an ordinary member), members that
///   may be `\`-escaped, and ranges `a-z`; it may match `/`;
/// - `\x` is the character `x`; anything else stands for itself.
///
/// The glob is read as Docker's `text/scanner` reads it: a byte that is not UTF-8 is U+FFFD,
/// and a BOM at the very start is skipped.
fn translate(glob: &[u8]) -> Result<Glob, PatternError> {
    let mut regex = String::with_capacity(glob.len() * 2 + 2);
    regex.push('^');
    let mut literal = String::with_capacity(glob.len());
    let mut is_literal = true;
    let mut chars = GoChars(glob);
    if let Some(('\u{FEFF}', _)) = chars.peek() {
        chars.next();
    }
    while let Some((c, _)) = chars.next() {
        match c {
            '*' => {
                is_literal = false;
                if chars.eat(b'*') {
                    chars.eat(b'/');
                    regex.push_str(if chars.is_empty() { ".*" } else { "(?:.*/)?" });
                } else {
                    regex.push_str("[^/]*");
                }
            }
            '?' => {
                is_literal = false;
                regex.push_str("[^/]");
            }
            '[' => {
                is_literal = false;
                translate_class(&mut chars, &mut regex)?;
            }
            '\\' => {
                let (escaped, _) = chars.next().ok_or(PatternError::TrailingBackslash)?;
                push_literal(&mut regex, escaped);
                literal.push(escaped);
            }
            c => {
                push_literal(&mut regex, c);
                literal.push(c);
            }
        }
    }
    if is_literal {
        return Ok(Glob::Literal(literal));
    }
    regex.push('$');
    Ok(Glob::Regex(regex))
}

/// Reads the class after its `[` as `filepath.Match` does, and writes it with every member as
/// a `\x{..}` escape, so that what the regex crate gives meaning to inside a class (`[`, `&&`,
/// `--`, `~~`, `\d`, POSIX names) is never read that way.
fn translate_class(chars: &mut GoChars<'_>, regex: &mut String) -> Result<(), PatternError> {
    regex.push('[');
    if chars.eat(b'^') {
        regex.push('^');
    }
    let mut members = 0;
    loop {
        if members > 0 && chars.eat(b']') {
            break;
        }
        let lo = class_char(chars)?;
        let mut hi = lo;
        if chars.eat(b'-') {
            hi = class_char(chars)?;
        }
        if chars.is_empty() {
            return Err(PatternError::UnterminatedClass);
        }
        if lo > hi {
            return Err(PatternError::ReversedRange { lo, hi });
        }
        push_class_member(regex, lo, hi);
        members += 1;
    }
    regex.push(']');
    Ok(())
}

/// One member of a class, or one end of a range (Go's `getEsc`).
fn class_char(chars: &mut GoChars<'_>) -> Result<char, PatternError> {
    let member = match chars.next() {
        None => return Err(PatternError::UnterminatedClass),
        Some((c @ ('-' | ']'), _)) => return Err(PatternError::UnescapedInClass(c)),
        Some(('\\', _)) => chars.next().ok_or(PatternError::UnterminatedClass)?,
        Some(member) => member,
    };
    match member {
        (_, true) => Err(PatternError::NotUtf8),
        (c, false) => Ok(c),
    }
}

/// Characters as Go decodes them: `(char, false)` for valid UTF-8, `(U+FFFD, true)` for each
/// byte that does not start a valid sequence.
struct GoChars<'a>(&'a [u8]);

impl GoChars<'_> {
    fn peek(&self) -> Option<(char, bool)> {
        decode_first(self.0).map(|(c, _, bad)| (c, bad))
    }

    fn next(&mut self) -> Option<(char, bool)> {
        let (c, len, bad) = decode_first(self.0)?;
        self.0 = &self.0[len..];
        Some((c, bad))
    }

    fn eat(&mut self, byte: u8) -> bool {
        match self.0.split_first() {
            Some((&first, rest)) if first == byte => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The first character of `bytes` as Go's `utf8.DecodeRune` reads it: the char, its length,
/// and whether it stands for an invalid byte.
fn decode_first(bytes: &[u8]) -> Option<(char, usize, bool)> {
    let &first = bytes.first()?;
    if first.is_ascii() {
        return Some((char::from(first), 1, false));
    }
    let len = match first {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    };
    if len > 0
        && let Some(head) = bytes.get(..len)
        && let Ok(s) = std::str::from_utf8(head)
        && let Some(c) = s.chars().next()
    {
        return Some((c, len, false));
    }
    Some(('\u{FFFD}', 1, true))
}

/// The last character of `bytes`, like Go's `utf8.DecodeLastRune`.
fn decode_last(bytes: &[u8]) -> Option<(char, usize, bool)> {
    if bytes.is_empty() {
        return None;
    }
    for len in 1..=bytes.len().min(4) {
        if let Ok(s) = std::str::from_utf8(&bytes[bytes.len() - len..])
            && let Some(c) = s.chars().next()
            && c.len_utf8() == len
        {
            return Some((c, len, false));
        }
    }
    Some(('\u{FFFD}', 1, true))
}

/// Go's `strings.TrimSpace` on bytes: Unicode white space off both ends; bytes that are not
/// UTF-8 are never space.
fn go_trim_space(mut bytes: &[u8]) -> &[u8] {
    while let Some((c, len, false)) = decode_first(bytes)
        && c.is_whitespace()
    {
        bytes = &bytes[len..];
    }
    while let Some((c, len, false)) = decode_last(bytes)
        && c.is_whitespace()
    {
        bytes = &bytes[..bytes.len() - len];
    }
    bytes
}

/// `bytes` as text, each byte that is not UTF-8 shown as U+FFFD.
fn lossy_like_go(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut chars = GoChars(bytes);
    while let Some((c, _)) = chars.next() {
        out.push(c);
    }
    out
}

fn push_class_member(regex: &mut String, lo: char, hi: char) {
    use std::fmt::Write as _;
    let _ = write!(regex, "\\x{{{:X}}}", lo as u32);
    if hi != lo {
        let _ = write!(regex, "-\\x{{{:X}}}", hi as u32);
    }
}

fn push_literal(regex: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || c == '/' || c == '_' {
        regex.push(c);
    } else {
        use std::fmt::Write as _;
        let _ = write!(regex, "\\x{{{:X}}}", c as u32);
    }
}

/// The path as Go's regexp reads a string: a byte that does not start a valid UTF-8 sequence
/// is one character, U+FFFD. Borrowed unless the path is not UTF-8.
fn decode_like_go(path: &[u8]) -> Cow<'_, [u8]> {
    if std::str::from_utf8(path).is_ok() {
        return Cow::Borrowed(path);
    }
    let mut out = Vec::with_capacity(path.len() + 8);
    let mut rest = path;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.extend_from_slice(valid.as_bytes());
                return Cow::Owned(out);
            }
            Err(err) => {
                let good = err.valid_up_to();
                out.extend_from_slice(&rest[..good]);
                out.extend_from_slice("\u{FFFD}".as_bytes());
                rest = &rest[good + 1..];
            }
        }
    }
}

/// Go's `filepath.Dir`, or `None` where it returns `.`.
fn go_dir(path: &[u8]) -> Option<Cow<'_, [u8]>> {
    let slash = path.iter().rposition(|&b| b == b'/')?;
    let head = if slash == 0 {
        &path[..1]
    } else {
        &path[..slash]
    };
    let dir = clean(head);
    (&*dir != b".").then_some(dir)
}

fn component_count(path: &[u8]) -> usize {
    path.iter().filter(|&&b| b == b'/').count() + 1
}

/// The first `n` `/`-separated parts of `path`, joined again (`n` is at least 1).
fn leading_components(path: &[u8], n: usize) -> &[u8] {
    match path
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'/')
        .nth(n - 1)
    {
        Some((end, _)) => &path[..end],
        None => path,
    }
}

/// Go's `filepath.Clean` with `/` separators; borrowed when the path is already clean.
fn clean(path: &[u8]) -> Cow<'_, [u8]> {
    if is_clean(path) {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(clean_owned(path))
    }
}

/// Whether Go's `Clean` would return `path` unchanged.
fn is_clean(path: &[u8]) -> bool {
    if path == b"." || path == b"/" {
        return true;
    }
    if path.is_empty() || path.ends_with(b"/") {
        return false;
    }
    let rooted = path[0] == b'/';
    let body = if rooted { &path[1..] } else { path };
    let mut only_dot_dots = true;
    for part in body.split(|&b| b == b'/') {
        match part {
            b"" | b"." => return false,
            b".." if rooted || !only_dot_dots => return false,
            b".." => {}
            _ => only_dot_dots = false,
        }
    }
    true
}

fn clean_owned(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let rooted = path[0] == b'/';
    let n = path.len();
    let mut out = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = 1;
    }
    while r < n {
        let at_end = |i: usize| i == n || path[i] == b'/';
        if path[r] == b'/' || (path[r] == b'.' && at_end(r + 1)) {
            // An empty or `.` part.
            r += 1;
        } else if path[r] == b'.' && r + 1 < n && path[r + 1] == b'.' && at_end(r + 2) {
            r += 2;
            if out.len() > dotdot {
                let mut w = out.len() - 1;
                while w > dotdot && out[w] != b'/' {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && path[r] != b'/' {
                out.push(path[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SOURCE: &str = "/ctx/.dockerignore";

    fn matcher(lines: &[&str]) -> Matcher {
        let text = lines.join("\n");
        let patterns = parse_ignore_file(text.as_bytes(), Path::new(SOURCE))
            .unwrap_or_else(|e| panic!("{lines:?}: {e}"));
        Matcher::new(patterns).unwrap()
    }

    fn parse(text: &str) -> Result<Vec<String>, String> {
        parse_ignore_file(text.as_bytes(), Path::new(SOURCE))
            .map(|ps| ps.iter().map(|p| p.to_string()).collect())
            .map_err(|e| e.to_string())
    }

    struct Case {
        patterns: &'static [&'static str],
        path: &'static [u8],
        excluded: bool,
    }

    const fn case(patterns: &'static [&'static str], path: &'static [u8], excluded: bool) -> Case {
        Case {
            patterns,
            path,
            excluded,
        }
    }

    /// Pattern lists, a path, and whether Docker 20.10 leaves the path out. Drawn from the
    /// cases in moby/patternmatcher and 20.10's `pkg/fileutils` tests (which borrow Go's own
    /// `filepath.Match` table), the Docker docs and the issues named.
    const CASES: &[Case] = &[
        // A bare `*` stays within one directory level, but excludes whole top-level dirs.
        case(&["*"], b"main.go", true),
        case(&["*"], b"src/deep/main.go", true),
        case(&["*.go"], b"main.go", true),
        case(&["*.go"], b"cmd/main.go", false),
        case(&["abc"], b"abc", true),
        case(&["*c"], b"abc", true),
        case(&["a*"], b"a", true),
        case(&["a*"], b"ab/c", true),
        case(&["a*/b"], b"abc/b", true),
        case(&["a*/b"], b"a/c/b", false),
        case(&["a*b*c*d*e*/f"], b"axbxcxdxe/f", true),
        case(&["a*b*c*d*e*/f"], b"axbxcxdxexxx/f", true),
        case(&["a*b*c*d*e*/f"], b"axbxcxdxe/xxx/f", false),
        case(&["a*b*c*d*e*/f"], b"axbxcxdxexxx/fff", false),
        case(&["a*b?c*x"], b"abxbbxdbxebxczzx", true),
        case(&["a*b?c*x"], b"abxbbxdbxebxczzy", false),
        case(&["*x"], b"xxx", true),
        case(&["a?b"], b"a/b", false),
        case(&["a*b"], b"a/b", false),
        // `?` is one character, however many bytes it takes.
        case(&["a?b"], "a☺b".as_bytes(), true),
        case(&["a???b"], "a☺b".as_bytes(), false),
        case(&["abc?def"], b"abcZdef", true),
        case(&["abc?def"], b"abcdef", false),
        // Classes: ranges, `^` negation, escapes; `!` is an ordinary member in Go.
        case(&["ab[c]"], b"abc", true),
        case(&["ab[b-d]"], b"abc", true),
        case(&["ab[e-g]"], b"abc", false),
        case(&["ab[^c]"], b"abc", false),
        case(&["ab[^b-d]"], b"abc", false),
        case(&["ab[^e-g]"], b"abc", true),
        case(&["a[b-d]e"], b"ae", false),
        case(&["a[b-d]e"], b"ace", true),
        case(&["a[^b-d]e"], b"aze", true),
        case(&["a[^a]b"], "a☺b".as_bytes(), true),
        case(&["a[^a][^a][^a]b"], "a☺b".as_bytes(), false),
        case(&["[a-ζ]*"], "α".as_bytes(), true),
        case(&["*[a-ζ]"], b"A", false),
        case(&["[!a]b"], b"!b", true),
        case(&["[!a]b"], b"cb", false),
        case(&["[\\]a]"], b"]", true),
        case(&["[\\-]"], b"-", true),
        case(&["[x\\-]"], b"x", true),
        case(&["[x\\-]"], b"z", false),
        case(&["[\\-x]"], b"-", true),
        case(&["[\\-x]"], b"a", false),
        case(&["a[/]b"], b"a/b", true),
        // What the regex crate would read as nested classes or set operations is literal here.
        case(&["[[]x"], b"[x", true),
        case(&["[a&&b]"], b"&", true),
        case(&["[~~]"], b"~", true),
        case(&["[[:alpha:]]"], b"a]", true),
        case(&["[[:alpha:]]"], b"a", false),
        case(&["[\\d]"], b"d", true),
        case(&["[\\d]"], b"5", false),
        // Escapes and characters that are special to regexps but not to globs.
        case(&["a\\*b"], b"a*b", true),
        case(&["a\\*b"], b"ab", false),
        case(&["a\\\\"], b"a\\", true),
        case(&["\\[x\\]"], b"[x]", true),
        case(&[".*"], b".foo", true),
        case(&[".*"], b"foo", false),
        case(&["abc.def"], b"abcdef", false),
        case(&["abc.def"], b"abc.def", true),
        case(&["abc.def"], b"abcZdef", false),
        case(&["a(b)c/def"], b"a(b)c/def", true),
        case(&["a(b)c/def"], b"a(b)c/xyz", false),
        case(&["a.|)$(}+{bc"], b"a.|)$(}+{bc", true),
        case(
            &["dist/*.whl"],
            b"dist/proxy.py-2.4.0rc3+g08acad9-py3-none-any.whl",
            true,
        ),
        // `**`: any number of directories, none included.
        case(&["**"], b"file", true),
        case(&["**"], b"dir/file", true),
        case(&["**/"], b"file", true),
        case(&["**/**"], b"dir/file", true),
        case(&["dir/**"], b"dir/file", true),
        case(&["dir/**"], b"dir/dir2/file", true),
        case(&["abc/**"], b"abc", false),
        case(&["abc/**"], b"abc/def/ghi", true),
        case(&["**/dir"], b"dir", true),
        case(&["**/dir2/*"], b"dir/dir2/file", true),
        case(&["**/dir2/**"], b"dir/dir2/dir3/file", true),
        case(&["**file"], b"file", true),
        case(&["**file"], b"dir/file", true),
        case(&["**/file"], b"dir/dir/file", true),
        case(&["**/file*"], b"dir/dir/file.txt", true),
        case(&["**/file*txt"], b"dir/dir/file.txt", true),
        case(&["**/file*.txt*"], b"dir/dir/file.txt", true),
        case(&["**/**/*.txt"], b"dir/dir/file.txt", true),
        case(&["**/**/*.txt2"], b"dir/dir/file.txt", false),
        case(&["**/*.txt"], b"file.txt", true),
        case(&["**/**/*.txt"], b"file.txt", true),
        case(&["a**/*.txt"], b"a/file.txt", true),
        case(&["a**/*.txt"], b"a/dir/dir/file.txt", true),
        case(&["a/*.txt"], b"a/dir/file.txt", false),
        case(&["a/*.txt"], b"a/file.txt", true),
        case(&["a/*.txt**"], b"a/file.txt", true),
        case(&["**/foo/bar"], b"foo/bar", true),
        case(&["**/foo/bar"], b"dir/dir2/foo/bar", true),
        case(&["**/.foo"], b".foo", true),
        case(&["**/.foo"], b"bar.foo", false),
        // A `**` inside a part needs a `/` after it: `a**b` is `a`, any dirs, `b`.
        case(&["a**b"], b"ab", true),
        case(&["a**b"], b"ax/b", true),
        case(&["a**b"], b"axb", false),
        // 20.10 compiles `**.txt` to `(.*/)?\.txt`: only files named `.txt`. Newer Docker's
        // suffix shortcut excludes every `*.txt`.
        case(&["**.txt"], b"a.txt", false),
        case(&["**.txt"], b"d/.txt", true),
        // 20.10 tries only the parent prefix with as many parts as the pattern (moby/moby#42676;
        // newer Docker says true to both).
        case(&["**/dir"], b"dir/file", false),
        case(&["**/foo"], b"x/y/foo/bar", false),
        // A pattern matching a directory excludes what is under it.
        case(&["docs"], b"docs/sub/deep/file", true),
        case(&["docs"], b"other/docs/file", false),
        case(&["*/temp*"], b"somedir/temporary.txt", true),
        case(&["*/*/temp*"], b"somedir/subdir/temporary.txt", true),
        case(&["temp?"], b"tempa", true),
        // Leading and trailing `/`, `.` and `..` are cleaned away.
        case(&["/docs/"], b"docs/x", true),
        case(&["/foo/bar"], b"foo/bar", true),
        case(&["foo/bar/"], b"foo/bar", true),
        case(&["./foo"], b"foo", true),
        case(&["foo/./bar"], b"foo/bar", true),
        case(&["foo//bar"], b"foo/bar", true),
        case(&["foo/../bar"], b"bar", true),
        case(&["foo/../bar"], b"foo/bar", false),
        case(&["."], b"foo", false),
        case(&["."], b".foo", false),
        case(&["./"], b"a/b", false),
        // Exceptions: the last matching line wins.
        case(&["!main.go", "*.go"], b"main.go", true),
        case(&["*.go", "!main.go"], b"main.go", false),
        case(&["docs", "!docs/README.md"], b"docs/README.md", false),
        case(&["docs/", "!docs/README.md"], b"docs/README.md", false),
        case(&["docs/*", "!docs/README.md"], b"docs/README.md", false),
        case(&["docs", "!docs/README.md"], b"docs/other.md", true),
        case(&["*.md", "!README.md"], b"docs/x.md", false),
        case(
            &["*.md", "!README*.md", "README-secret.md"],
            b"README-secret.md",
            true,
        ),
        case(
            &["*.md", "!README*.md", "README-secret.md"],
            b"README-a.md",
            false,
        ),
        case(
            &["*.md", "README-secret.md", "!README*.md"],
            b"README-secret.md",
            false,
        ),
        case(&["**", "!util/docker/web"], b"util/docker/web/foo", false),
        case(
            &["**", "!util/docker/web", "util/docker/web/foo"],
            b"util/docker/web/foo",
            true,
        ),
        case(
            &["**", "!dist/*.whl"],
            b"dist/proxy.py-2.4.0rc3+g08acad9-py3-none-any.whl",
            false,
        ),
        // A trailing `/` is cleaned away, so `!ignored/*/` re-includes files (moby/moby#45284).
        case(
            &["ignored/*", "!ignored/*/"],
            b"ignored/this-should-be-ignored",
            false,
        ),
        case(&[], b"any/path", false),
        // Go regexp: `.` (from `**`) skips newlines, `[^/]` (from `*`) does not.
        case(&["**"], b"a\nb", false),
        case(&["*"], b"a\nb", true),
        // Bytes that are not UTF-8 are one character each, like U+FFFD.
        case(&["?"], b"\xff", true),
        case(&["??"], b"\xe2\x98", true),
        case(&["a?b"], b"a\xffb", true),
        case(&["\u{FFFD}"], b"\xfe", true),
        case(&["x"], b"x\xff", false),
        case(&["x"], b"x/\xff", true),
    ];

    #[test]
    fn matcher_table() {
        assert!(CASES.len() >= 60);
        let mut failures = Vec::new();
        for case in CASES {
            let got = matcher(case.patterns).is_excluded(case.path);
            if got != case.excluded {
                failures.push(format!(
                    "{:?} on {:?}: got {got}, want {}",
                    case.patterns,
                    String::from_utf8_lossy(case.path),
                    case.excluded
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn literal_and_regex_paths_agree() {
        // `abc` takes the literal shortcut, `ab[c]` the regex; both must see the same paths.
        for path in [&b"abc"[..], b"abc/d", b"x/abc", b"ab", b"abcd", b"abc\xff"] {
            assert_eq!(
                matcher(&["abc"]).is_excluded(path),
                matcher(&["ab[c]"]).is_excluded(path),
                "{path:?}"
            );
        }
    }

    #[test]
    fn reads_patterns_like_docker() {
        let text = "\u{FEFF}first\n# comment\n  # not a comment \n\n\t/abs/path/\r\n! /inverted/abs/\n!  spaced\n../up\nlast";
        assert_eq!(
            parse(text).unwrap(),
            [
                "first",
                "# not a comment",
                "abs/path",
                "!inverted/abs",
                "!spaced",
                "../up",
                "last"
            ]
        );
    }

    #[test]
    fn bom_is_stripped_only_from_the_first_line() {
        assert_eq!(parse("\u{FEFF}#comment\nx").unwrap(), ["x"]);
        assert_eq!(parse("x\n\u{FEFF}y").unwrap(), ["x", "\u{FEFF}y"]);
    }

    #[test]
    fn slashes_around_a_pattern_do_not_matter() {
        for text in [
            "/foo/bar/",
            "/foo/bar",
            "foo/bar/",
            "foo/bar",
            "//foo//bar//",
            "./foo/bar",
        ] {
            assert_eq!(parse(text).unwrap(), ["foo/bar"], "{text:?}");
        }
        assert_eq!(parse("/").unwrap(), ["/"]);
    }

    #[test]
    fn dot_is_kept_but_never_matches() {
        let m = matcher(&[".", "!."]);
        assert_eq!(m.patterns().len(), 2);
        assert!(!m.is_excluded(b"a"));
        assert!(!m.is_excluded(b"a/b"));
    }

    #[test]
    fn docker_cleans_the_exclamation_mark_with_the_pattern() {
        // Docker cleans `!` + pattern as one path, so `..` parts can eat the `!`.
        assert_eq!(parse("!../..").unwrap(), ["."]);
        assert_eq!(parse("! ../../secret").unwrap(), ["secret"]);
        assert_eq!(parse("!../x").unwrap(), ["!../x"]);
    }

    #[test]
    fn bare_exclamation_mark_is_an_error_naming_file_and_line() {
        for (text, shown) in [
            ("ok\n!", "!"),
            ("ok\n!   ", "!"),
            ("ok\n!/", "!/"),
            ("ok\n! //", "! //"),
        ] {
            let err = parse_ignore_file(text.as_bytes(), Path::new(SOURCE)).unwrap_err();
            assert_eq!(err.line(), Some(2));
            assert_eq!(err.file(), Some(Path::new(SOURCE)));
            assert_eq!(
                err.to_string(),
                format!(
                    "`{SOURCE}` line 2: invalid pattern `{shown}`: `!` must be followed by a pattern"
                )
            );
        }
    }

    #[test]
    fn exception_with_spaces_after_the_mark() {
        let m = matcher(&["*", "!   keep.txt  "]);
        assert_eq!(m.patterns()[1].text(), "keep.txt");
        assert!(m.patterns()[1].is_exception());
        assert!(!m.is_excluded(b"keep.txt"));
        assert!(m.is_excluded(b"drop.txt"));
    }

    #[test]
    fn invalid_pattern_error_is_one_line_with_file_line_and_pattern() {
        let err = parse("# header\nok\n[a-\n").unwrap_err();
        assert_eq!(
            err,
            "`/ctx/.dockerignore` line 3: invalid pattern `[a-`: unterminated character class"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn invalid_globs_are_rejected() {
        let reason = |text: &str| match parse_ignore_file(text.as_bytes(), Path::new(SOURCE)) {
            Err(e) => match e.kind() {
                IgnoreErrorKind::InvalidPattern { reason, .. } => reason.clone(),
                other => panic!("{text:?}: {other:?}"),
            },
            Ok(p) => panic!("{text:?} parsed as {p:?}"),
        };
        assert_eq!(reason("["), PatternError::UnterminatedClass);
        assert_eq!(reason("[^"), PatternError::UnterminatedClass);
        assert_eq!(reason("[^bc"), PatternError::UnterminatedClass);
        assert_eq!(reason("a["), PatternError::UnterminatedClass);
        assert_eq!(reason("[\\"), PatternError::UnterminatedClass);
        assert_eq!(reason("[]a]"), PatternError::UnescapedInClass(']'));
        assert_eq!(reason("[-]"), PatternError::UnescapedInClass('-'));
        assert_eq!(reason("[-x]"), PatternError::UnescapedInClass('-'));
        assert_eq!(reason("[x-]"), PatternError::UnescapedInClass(']'));
        assert_eq!(reason("[a-b-c]"), PatternError::UnescapedInClass('-'));
        assert_eq!(
            reason("[z-a]"),
            PatternError::ReversedRange { lo: 'z', hi: 'a' }
        );
        assert_eq!(reason("a\\"), PatternError::TrailingBackslash);
        // Cleaning drops the trailing `/`, leaving the `\` with nothing to escape.
        assert_eq!(reason("foo\\/"), PatternError::TrailingBackslash);
        assert_eq!(reason("!x\\"), PatternError::TrailingBackslash);
    }

    #[test]
    fn line_numbers_count_comments_and_blank_lines() {
        let err = parse("# one\n\n  \nfine\n[z-a]").unwrap_err();
        assert!(err.starts_with("`/ctx/.dockerignore` line 5: "), "{err}");
    }

    #[test]
    fn patterns_that_are_not_utf8_work_like_docker() {
        let source = Path::new(SOURCE);
        assert!(parse_ignore_file(b"#\xff\xfe\nok", source).is_ok());
        let patterns = parse_ignore_file(b"  a\xffb \n*\n!d\xff/keep", source).unwrap();
        assert_eq!(patterns[0].text(), "a\u{FFFD}b");
        assert_eq!(patterns[0].as_bytes(), b"a\xffb");
        let m = Matcher::new(patterns).unwrap();
        // Go's regexp reads every invalid byte, in pattern and path alike, as U+FFFD.
        assert!(m.is_excluded(b"a\xfeb"));
        assert!(m.is_excluded("a\u{FFFD}b".as_bytes()));
        // The walker compares the exception's bytes, not its characters.
        assert!(m.should_descend(b"d\xff"));
        assert!(!m.should_descend(b"d\xfe"));
        let err = parse_ignore_file(b"ok\n[\xff]", source).unwrap_err();
        assert_eq!(err.line(), Some(2));
        assert_eq!(
            err.to_string(),
            "`/ctx/.dockerignore` line 2: invalid pattern `[\u{FFFD}]`: a byte that is not UTF-8 inside a character class"
        );
    }

    #[test]
    fn a_bom_opening_a_later_pattern_is_skipped_when_matching() {
        // Docker's `text/scanner` skips a BOM at the start of the text it compiles.
        let m = matcher(&["x", "\u{FEFF}y"]);
        assert_eq!(m.patterns()[1].text(), "\u{FEFF}y");
        assert!(m.is_excluded(b"y"));
        assert!(!m.is_excluded("\u{FEFF}y".as_bytes()));
    }

    #[test]
    fn lines_longer_than_docker_reads_are_errors() {
        let fits = "a".repeat(MAX_LINE_LEN);
        assert_eq!(parse(&fits).unwrap().len(), 1);
        let too_long = format!("ok\n{}\n", "a".repeat(MAX_LINE_LEN + 1));
        let err = parse_ignore_file(too_long.as_bytes(), Path::new(SOURCE)).unwrap_err();
        assert_eq!(err.line(), Some(2));
        assert!(
            matches!(err.kind(), IgnoreErrorKind::LineTooLong { len } if *len == MAX_LINE_LEN + 1)
        );
    }

    #[test]
    fn empty_and_comment_only_files_have_no_patterns() {
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
        assert_eq!(parse("\n\n# only\n   \r\n").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn exclude_lists_are_read_like_new_pattern_matcher() {
        let patterns = parse_exclude_patterns(&["docs", "", "  !docs/README.md  ", "/x/"]).unwrap();
        let shown: Vec<_> = patterns.iter().map(ToString::to_string).collect();
        // No leading-`/` removal here: that is the ignore-file reader's job.
        assert_eq!(shown, ["docs", "!docs/README.md", "/x"]);
        let err = parse_exclude_patterns(&["ok", "!"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid pattern `!`: `!` must be followed by a pattern"
        );
    }

    /// Walks `tree` (lexically sorted, directories end in `/`) as fsutil 20.10 does and returns
    /// what it would send.
    fn walk(m: &Matcher, tree: &[&str]) -> Vec<String> {
        let mut skipped: Vec<String> = Vec::new();
        let mut sent = Vec::new();
        for entry in tree {
            let is_dir = entry.ends_with('/');
            let path = entry.trim_end_matches('/');
            if skipped.iter().any(|d| path.starts_with(&format!("{d}/"))) {
                continue;
            }
            if m.is_excluded(path.as_bytes()) {
                if !is_dir {
                    continue;
                }
                if !m.should_descend(path.as_bytes()) {
                    skipped.push(path.to_owned());
                    continue;
                }
            }
            sent.push((*entry).to_owned());
        }
        sent
    }

    #[test]
    fn no_exceptions_means_no_descent() {
        let m = matcher(&["build", "*.log"]);
        assert!(!m.has_exceptions());
        assert!(!m.should_descend(b"build"));
    }

    #[test]
    fn descends_toward_an_exception_below_the_dir() {
        let m = matcher(&["build", "!build/keep"]);
        assert!(m.has_exceptions());
        assert!(m.should_descend(b"build"));
        assert!(m.should_descend(b"build/keep"));
        assert!(!m.should_descend(b"build/other"));
        // Whole parts only: `buil/` is not a prefix of `build/keep/`.
        assert!(!m.should_descend(b"buil"));
        assert_eq!(
            walk(
                &m,
                &[
                    "build/",
                    "build/keep/",
                    "build/keep/a",
                    "build/other/",
                    "build/other/b",
                    "build/x"
                ]
            ),
            ["build/", "build/keep/", "build/keep/a"]
        );
    }

    #[test]
    fn exception_text_is_compared_literally() {
        let m = matcher(&["src", "!src/*.py"]);
        assert!(m.should_descend(b"src"));
        assert!(!m.should_descend(b"src/pkg"));
        assert!(!m.is_excluded(b"src/a.py"));
        // Non-UTF-8 directory names are compared byte for byte.
        assert!(!m.should_descend(b"src\xff"));
    }

    #[test]
    fn docker_cli_2919_doublestar_exception_does_not_reach_subdirs() {
        let m = matcher(&["*", "!**/*.py"]);
        assert!(!m.should_descend(b"subdir"));
        assert_eq!(
            walk(&m, &["subdir/", "subdir/sub.py", "top.py", "top.txt"]),
            ["top.py"]
        );
    }

    #[test]
    fn docker_cli_2919_subdir_doublestar_exception_stops_one_level_down() {
        let m = matcher(&["*", "!subdir/**/*.py"]);
        assert!(m.should_descend(b"subdir"));
        assert!(!m.should_descend(b"subdir/another"));
        assert_eq!(
            walk(
                &m,
                &[
                    "subdir/",
                    "subdir/a.py",
                    "subdir/another/",
                    "subdir/another/b.py"
                ]
            ),
            ["subdir/", "subdir/a.py"]
        );
    }

    #[test]
    fn docker_cli_2847_requirements_and_nested_py_files() {
        let m = matcher(&["*", "!**/*.py", "!requirements.txt"]);
        assert_eq!(
            walk(
                &m,
                &[
                    "app/",
                    "app/main.py",
                    "main.py",
                    "requirements.txt",
                    "x.txt"
                ]
            ),
            ["main.py", "requirements.txt"]
        );
    }

    #[test]
    fn moby_30018_wildcard_directory_in_exception_is_not_walked() {
        let m = matcher(&["*", "!hi.txt", "!photos/*.jpeg", "!*/*.txt"]);
        assert!(!m.should_descend(b"recipes"));
        assert!(m.should_descend(b"photos"));
        // The exception matches the file, but the walker never gets there.
        assert!(!m.is_excluded(b"recipes/cake.txt"));
        assert_eq!(
            walk(
                &m,
                &[
                    "Dockerfile",
                    "hi.txt",
                    "ignoreme.txt",
                    "photos/",
                    "photos/steak.jpeg",
                    "recipes/",
                    "recipes/cake.txt"
                ]
            ),
            ["hi.txt", "photos/", "photos/steak.jpeg"]
        );
    }

    #[test]
    fn moby_38645_wildcard_first_part_of_exception_is_not_walked() {
        let m = matcher(&["*", "!*/target/*file1"]);
        assert!(!m.should_descend(b"dir"));
        assert!(walk(&m, &["dir/", "dir/target/", "dir/target/file1"]).is_empty());
    }

    #[test]
    fn docker_for_linux_585_wildcard_middle_part_stops_the_walk() {
        let m = matcher(&["*", "!docker/*/Dockerfile"]);
        assert!(m.should_descend(b"docker"));
        assert!(!m.should_descend(b"docker/application"));
        assert_eq!(
            walk(
                &m,
                &[
                    "docker/",
                    "docker/application/",
                    "docker/application/Dockerfile"
                ]
            ),
            ["docker/"]
        );
    }

    #[test]
    fn moby_42676_doublestar_dir_pattern_misses_files_below_a_walked_dir() {
        // 20.10 walks into `x/y/foo` for the exception, then its one-prefix parent rule does not
        // see `**/foo` in `x/y/foo/other`, which is sent. Newer Docker leaves it out.
        let m = matcher(&["**/foo", "!x/y/foo/keep"]);
        assert_eq!(
            walk(
                &m,
                &["x/", "x/y/", "x/y/foo/", "x/y/foo/keep", "x/y/foo/other"]
            ),
            ["x/", "x/y/", "x/y/foo/", "x/y/foo/keep", "x/y/foo/other"]
        );
    }

    #[test]
    fn moby_45284_trailing_slash_exception_re_includes_files() {
        let m = matcher(&["ignored/*", "!ignored/*/"]);
        assert_eq!(
            walk(
                &m,
                &["ignored/", "ignored/dir/", "ignored/dir/f", "ignored/file"]
            ),
            ["ignored/", "ignored/dir/", "ignored/dir/f", "ignored/file"]
        );
    }

    fn texts(patterns: &[Pattern]) -> Vec<String> {
        patterns.iter().map(ToString::to_string).collect()
    }

    fn build_files(lines: &[&str], dockerfile: Option<&str>) -> Vec<String> {
        let patterns = parse_ignore_file(lines.join("\n").as_bytes(), Path::new(SOURCE)).unwrap();
        let out = with_build_files(
            patterns,
            dockerfile.map(str::as_bytes),
            Some(b".dockerignore"),
        );
        texts(&out)
    }

    #[test]
    fn build_files_are_re_included_when_excluded() {
        assert_eq!(
            build_files(&["Dockerfile", ".dockerignore"], Some("Dockerfile")),
            [
                "Dockerfile",
                ".dockerignore",
                "!.dockerignore",
                "!Dockerfile"
            ]
        );
        assert_eq!(
            build_files(&["*"], Some("build/app.Dockerfile")),
            ["*", "!.dockerignore", "!build/app.Dockerfile"]
        );
        let m = Matcher::new(with_build_files(
            parse_ignore_file(b"*", Path::new(SOURCE)).unwrap(),
            Some(b"Dockerfile"),
            Some(b".dockerignore"),
        ))
        .unwrap();
        assert!(!m.is_excluded(b"Dockerfile"));
        assert!(!m.is_excluded(b".dockerignore"));
        assert!(m.is_excluded(b"other"));
    }

    #[test]
    fn build_files_not_excluded_are_left_alone() {
        assert_eq!(build_files(&["*.log"], Some("Dockerfile")), ["*.log"]);
        assert_eq!(build_files(&[], Some("Dockerfile")), Vec::<String>::new());
        // A Dockerfile from stdin gets no exception.
        assert_eq!(build_files(&["*"], None), ["*", "!.dockerignore"]);
    }

    #[test]
    fn build_file_names_with_glob_characters() {
        // Appended as a glob, as Docker does: `!Dockerfile[1]` does not match `Dockerfile[1]`.
        assert_eq!(
            build_files(&["Dockerfile*"], Some("Dockerfile[1]")),
            ["Dockerfile*", "!Dockerfile[1]"]
        );
        // Docker's build would fail on `!Dockerfile[`; the escaped name keeps the file instead.
        let out = build_files(&["Dockerfile*"], Some("Dockerfile["));
        assert_eq!(out, ["Dockerfile*", "!Dockerfile\\["]);
        let patterns = parse_ignore_file(out[..].join("\n").as_bytes(), Path::new(SOURCE)).unwrap();
        assert!(!Matcher::new(patterns).unwrap().is_excluded(b"Dockerfile["));
        // A name that is not UTF-8 is a pattern like any other.
        let patterns = parse_ignore_file(b"*", Path::new(SOURCE)).unwrap();
        let patterns = with_build_files(patterns, Some(b"Docker\xfffile"), None);
        assert_eq!(texts(&patterns), ["*", "!Docker\u{FFFD}file"]);
        assert!(
            !Matcher::new(patterns)
                .unwrap()
                .is_excluded(b"Docker\xfffile")
        );
    }

    #[test]
    fn finds_the_dockerfile_specific_ignore_file_first() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path();
        let dockerfile = ctx.join("docker/app.Dockerfile");
        fs::create_dir_all(ctx.join("docker")).unwrap();
        assert_eq!(find_ignore_file(ctx, &dockerfile).unwrap(), None);

        fs::write(ctx.join(".dockerignore"), "x").unwrap();
        assert_eq!(
            find_ignore_file(ctx, &dockerfile).unwrap(),
            Some(ctx.join(".dockerignore"))
        );

        let specific = ctx.join("docker/app.Dockerfile.dockerignore");
        fs::write(&specific, "").unwrap();
        assert_eq!(find_ignore_file(ctx, &dockerfile).unwrap(), Some(specific));

        // `Dockerfile.dockerignore` belongs to `Dockerfile`, not to `app.Dockerfile`.
        fs::write(ctx.join("Dockerfile.dockerignore"), "").unwrap();
        assert_eq!(
            find_ignore_file(ctx, &ctx.join("Dockerfile")).unwrap(),
            Some(ctx.join("Dockerfile.dockerignore"))
        );
    }

    #[test]
    fn a_directory_is_not_an_ignore_file() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path();
        fs::create_dir(ctx.join(".dockerignore")).unwrap();
        fs::create_dir(ctx.join("Dockerfile.dockerignore")).unwrap();
        assert_eq!(
            find_ignore_file(ctx, &ctx.join("Dockerfile")).unwrap(),
            None
        );
    }

    #[test]
    fn go_clean_examples() {
        for (input, want) in [
            ("", "."),
            (".", "."),
            ("/", "/"),
            ("//", "/"),
            ("a/", "a"),
            ("a//b", "a/b"),
            ("./a", "a"),
            ("a/./b", "a/b"),
            ("a/../b", "b"),
            ("a/..", "."),
            ("../a", "../a"),
            ("../../a/..", "../.."),
            ("/../a", "/a"),
            ("!../..", "."),
            ("a/b/../../..", ".."),
        ] {
            assert_eq!(&*clean(input.as_bytes()), want.as_bytes(), "{input:?}");
        }
    }

    #[test]
    fn go_dir_examples() {
        let dir =
            |p: &str| go_dir(p.as_bytes()).map(|d| String::from_utf8(d.into_owned()).unwrap());
        assert_eq!(dir("a"), None);
        assert_eq!(dir("a/b/c"), Some("a/b".into()));
        assert_eq!(dir("a//b"), Some("a".into()));
        assert_eq!(dir("file/"), Some("file".into()));
        assert_eq!(dir("/a"), Some("/".into()));
        assert_eq!(dir("./a"), None);
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(text in proptest::collection::vec(any::<u8>(), 0..200),
                                        path in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(patterns) = parse_ignore_file(&text, Path::new(SOURCE))
                && let Ok(m) = Matcher::new(patterns)
            {
                let _ = m.is_excluded(&path);
                let _ = m.should_descend(&path);
            }
        }

        #[test]
        fn glob_like_input_never_panics(lines in proptest::collection::vec("[ab/*?\\[\\]\\\\!^&~.\\-]{0,10}", 0..6),
                                         path in "[ab/.\\-\\[\\]*]{0,12}") {
            let text = lines.join("\n");
            if let Ok(patterns) = parse_ignore_file(text.as_bytes(), Path::new(SOURCE))
                && let Ok(m) = Matcher::new(patterns.clone())
            {
                let _ = m.is_excluded(path.as_bytes());
                let _ = m.should_descend(path.as_bytes());
                let _ = with_build_files(patterns, Some(path.as_bytes()), Some(b".dockerignore"));
            }
        }

        #[test]
        fn is_clean_agrees_with_clean(path in "[ab./]{0,10}") {
            let cleaned = clean_owned(path.as_bytes());
            prop_assert_eq!(is_clean(path.as_bytes()), cleaned == path.as_bytes());
            prop_assert!(is_clean(&cleaned));
        }
    }
}
