//! netrc files: parsing them, choosing an entry for a host, narrowing them to the hosts a build
//! needs, and writing them back as text that Python's `netrc` module (pip, requests) reads the
//! same way.
//!
//! # Format
//!
//! Tokens are separated by spaces, tabs, carriage returns and newlines; where a token starts
//! decides nothing, so `machine h login l password p` on one line and the same words spread over
//! three lines are the same entry. The keywords, matched case-insensitively as curl does:
//!
//! - `machine NAME` starts an entry for host `NAME`; `default` starts the entry for every other
//!   host. Each entry runs until the next `machine`, `default` or `macdef`.
//! - `login NAME` (or `user NAME`, as Python accepts), `password P` and `account A` fill the
//!   current entry; the last of a repeated field wins.
//! - `macdef NAME` defines an ftp macro: the rest of that line and the lines after it, up to an
//!   empty line (or the end of the file), are skipped.
//!
//! A token may be quoted, `"with space"`; inside or outside quotes a backslash takes the next
//! character literally (`\"`, `\\`, `\ `), as Python 3.11+ reads it.
//!
//! # Choices where the readers disagree
//!
//! - **Comments.** Where a keyword is expected, a token starting with `#` begins a comment that
//!   runs to the end of the line. A value is never a comment: in `password #secret` the password
//!   is `#secret`. This is Python's rule inside an entry and agrees with curl on whole-line and
//!   trailing comments; Python's own top level rejects `#word more words`, which we accept.
//! - **Entries after `default`.** `default` belongs last. As curl (which stops at the first entry
//!   that matches, and `default` matches every host), entries after it are never chosen by
//!   [`Netrc::for_host`] nor kept by [`Netrc::only_hosts`]; they stay in [`Netrc::entries`] and
//!   [`Netrc::ignored_after_default`] lists them so a caller can warn.
//! - **Unknown keywords are errors**, not skipped as curl skips them: a typo such as `pasword`
//!   would otherwise drop the password without a word. The error names the line and column but
//!   never the token, because a missing keyword makes the unknown token a password
//!   (`login me hunter2`).
//! - **Escapes.** curl reads `\n`, `\r` and `\t` in quotes as control characters and leaves a
//!   backslash outside quotes alone; we read both as Python does, since the text we write goes to
//!   Python. [`Netrc::to_secret_text`] writes only `\"` and `\\`, which every reader agrees on.
//! - **Repeated machines.** The first entry for a host wins, as in curl ([`Netrc::for_host`]);
//!   Python keeps the last. [`Netrc::only_hosts`] keeps only the first, so the two agree on what
//!   it returns.
//! - **Missing values** at the end of the file (`machine` with no name, `password` with nothing
//!   after it) and `machine ""` are errors; so are fields before any `machine` or `default`, and
//!   a quote never closed.

use std::fmt;

use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

/// The entries of a netrc file, in file order.
///
/// `Debug` and `Display` show hosts and logins, never passwords or accounts.
#[derive(Clone, Default)]
pub struct Netrc {
    entries: Vec<NetrcEntry>,
}

/// One `machine` or `default` entry.
///
/// `Debug` and `Display` show `****` for the password and the account.
#[derive(Clone)]
pub struct NetrcEntry {
    /// The host after `machine`; `None` for the `default` entry.
    pub machine: Option<String>,
    /// The value of `login` (or `user`).
    pub login: Option<String>,
    /// The value of `password`.
    pub password: Option<SecretString>,
    /// The value of `account`.
    pub account: Option<SecretString>,
    /// The 1-based line of the entry's `machine` or `default` keyword; 0 when the entry was not
    /// read from text.
    pub line: usize,
}

/// Why a netrc could not be parsed. The message is one line, names the line, and never holds a
/// token's text, which could be a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetrcError {
    /// A keyword that takes a value ends the file.
    #[error("line {line}: `{keyword}` needs a value, but the file ends")]
    MissingValue {
        /// The keyword's line.
        line: usize,
        /// The keyword, lowercase.
        keyword: &'static str,
    },
    /// `machine ""`.
    #[error("line {line}: `machine` needs a host name, not an empty one")]
    EmptyMachine {
        /// The line of the empty name.
        line: usize,
    },
    /// `login`, `password` or `account` before any `machine` or `default`, or after a `macdef`.
    #[error("line {line}: `{keyword}` belongs after `machine NAME` or `default`")]
    OutsideEntry {
        /// The keyword's line.
        line: usize,
        /// The keyword, lowercase.
        keyword: &'static str,
    },
    /// A token where a keyword belongs that is none (a typo, or a value whose keyword is
    /// missing). Its text is left out: it may be a password.
    #[error(
        "line {line}, column {column}: unknown keyword (not shown: it may be a secret); expected `machine`, `default`, `login`, `password`, `account` or `macdef`"
    )]
    UnknownKeyword {
        /// The token's line.
        line: usize,
        /// The token's 1-based column, in characters.
        column: usize,
    },
    /// A `"` with no closing `"`.
    #[error("line {line}: a quoted token has no closing `\"`")]
    UnterminatedQuote {
        /// The line of the opening quote.
        line: usize,
    },
}

impl NetrcError {
    /// The 1-based line the error is about.
    pub fn line(&self) -> usize {
        match *self {
            Self::MissingValue { line, .. }
            | Self::EmptyMachine { line }
            | Self::OutsideEntry { line, .. }
            | Self::UnknownKeyword { line, .. }
            | Self::UnterminatedQuote { line } => line,
        }
    }
}

/// Parses netrc text. See the [module documentation](self) for the rules.
pub fn parse_netrc(text: &str) -> Result<Netrc, NetrcError> {
    let mut lexer = Lexer::new(text);
    let mut entries = Vec::new();
    let mut current: Option<NetrcEntry> = None;
    while let Some(token) = lexer.next_keyword()? {
        let Some(keyword) = Keyword::of(&token) else {
            return Err(NetrcError::UnknownKeyword {
                line: token.line,
                column: text[token.line_start..token.start].chars().count() + 1,
            });
        };
        match keyword {
            Keyword::Machine => {
                entries.extend(current.take());
                let name = lexer.next_value(&token, "machine")?;
                if name.text.is_empty() {
                    return Err(NetrcError::EmptyMachine { line: name.line });
                }
                current = Some(NetrcEntry::new(Some(name.text.to_string()), token.line));
            }
            Keyword::Default => {
                entries.extend(current.take());
                current = Some(NetrcEntry::new(None, token.line));
            }
            Keyword::Macdef => {
                entries.extend(current.take());
                lexer.next_value(&token, "macdef")?;
                lexer.skip_macro_body();
            }
            Keyword::Field(field, name) => {
                let Some(entry) = current.as_mut() else {
                    return Err(NetrcError::OutsideEntry {
                        line: token.line,
                        keyword: name,
                    });
                };
                let value = lexer.next_value(&token, name)?;
                match field {
                    Field::Login => entry.login = Some(value.text.to_string()),
                    Field::Password => entry.password = Some(SecretString::from(&**value.text)),
                    Field::Account => entry.account = Some(SecretString::from(&**value.text)),
                }
            }
        }
    }
    entries.extend(current);
    Ok(Netrc { entries })
}

/// A netrc with one entry: `machine HOST login LOGIN password PASSWORD`.
pub fn single(host: &str, login: &str, password: SecretString) -> Netrc {
    Netrc::from_entries(vec![NetrcEntry {
        machine: Some(host.to_owned()),
        login: Some(login.to_owned()),
        password: Some(password),
        account: None,
        line: 0,
    }])
}

impl Netrc {
    /// Wraps entries as they are, in order.
    pub fn from_entries(entries: Vec<NetrcEntry>) -> Netrc {
        Netrc { entries }
    }

    /// All entries in file order, including any after `default`.
    pub fn entries(&self) -> &[NetrcEntry] {
        &self.entries
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for `host`, as curl chooses it: the first entry that is either `default` or a
    /// machine named `host` (ignoring ASCII case). Entries after `default` are never chosen.
    pub fn for_host(&self, host: &str) -> Option<&NetrcEntry> {
        self.entries.iter().find(|entry| match &entry.machine {
            None => true,
            Some(machine) => machine.eq_ignore_ascii_case(host),
        })
    }

    /// The entries after the first `default`, which [`Netrc::for_host`] and
    /// [`Netrc::only_hosts`] ignore (curl never reaches them). Empty in a well-ordered file.
    pub fn ignored_after_default(&self) -> &[NetrcEntry] {
        match self
            .entries
            .iter()
            .position(|entry| entry.machine.is_none())
        {
            Some(default) => &self.entries[default + 1..],
            None => &[],
        }
    }

    /// Least privilege: the entries [`Netrc::for_host`] would choose for `hosts` (compared
    /// ignoring ASCII case), and nothing else: no `default`, no other machine, no second entry
    /// for the same host, nothing after `default`.
    ///
    /// A kept entry's machine is spelled as in `hosts`, because Python's `netrc` compares host
    /// names exactly.
    pub fn only_hosts(&self, hosts: &[&str]) -> Netrc {
        let mut kept: Vec<NetrcEntry> = Vec::new();
        for entry in &self.entries {
            let Some(machine) = &entry.machine else {
                break;
            };
            let Some(host) = hosts.iter().find(|h| h.eq_ignore_ascii_case(machine)) else {
                continue;
            };
            let seen = kept.iter().any(|k| {
                k.machine
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(host))
            });
            if !seen {
                kept.push(NetrcEntry {
                    machine: Some((*host).to_owned()),
                    ..entry.clone()
                });
            }
        }
        Netrc { entries: kept }
    }

    /// The entries as netrc text, one per line: `machine H login L password P account A`
    /// (`default ...` for the default entry), leaving out absent fields. A token is quoted, with
    /// `"` and `\` escaped by a backslash, when it is empty, starts with `#`, is a keyword, or
    /// holds whitespace, a control character, `"`, `\` or `,` (a separator for GNU ftp).
    ///
    /// [`parse_netrc`] gives back the same entries (with new line numbers), and Python 3.11+'s
    /// `netrc` module reads the same values, with two exceptions Python cannot express: a
    /// carriage return inside a value (Python's universal newlines turn it into `\n`), and a
    /// machine named `default`, which Python files under its default entry. An entry whose
    /// machine is empty cannot be written at all (`machine ""` is an error to both) and is left
    /// out. No `macdef` is written.
    pub fn to_secret_text(&self) -> SecretString {
        // Sized up front so the buffer never reallocates, and wiped on drop: no stray copies of
        // the passwords are left behind in freed memory.
        let capacity = self
            .entries
            .iter()
            .map(|entry| {
                let fields = [
                    entry.machine.as_deref(),
                    entry.login.as_deref(),
                    entry.password.as_ref().map(|p| p.expose_secret()),
                    entry.account.as_ref().map(|a| a.expose_secret()),
                ];
                40 + fields
                    .iter()
                    .map(|f| f.map_or(0, |f| 2 * f.len() + 2))
                    .sum::<usize>()
            })
            .sum();
        let mut text = Zeroizing::new(String::with_capacity(capacity));
        for entry in &self.entries {
            match entry.machine.as_deref() {
                Some("") => continue,
                Some(machine) => {
                    text.push_str("machine ");
                    push_token(&mut text, machine);
                }
                None => text.push_str("default"),
            }
            let fields = [
                ("login", entry.login.as_deref()),
                (
                    "password",
                    entry.password.as_ref().map(|p| p.expose_secret()),
                ),
                ("account", entry.account.as_ref().map(|a| a.expose_secret())),
            ];
            for (keyword, value) in fields {
                if let Some(value) = value {
                    text.push(' ');
                    text.push_str(keyword);
                    text.push(' ');
                    push_token(&mut text, value);
                }
            }
            text.push('\n');
        }
        SecretString::from(text.as_str())
    }
}

impl NetrcEntry {
    fn new(machine: Option<String>, line: usize) -> NetrcEntry {
        NetrcEntry {
            machine,
            login: None,
            password: None,
            account: None,
            line,
        }
    }
}

impl fmt::Debug for Netrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Netrc")
            .field("entries", &self.entries)
            .finish()
    }
}

impl fmt::Debug for NetrcEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetrcEntry")
            .field("machine", &self.machine)
            .field("login", &self.login)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .field("account", &self.account.as_ref().map(|_| "****"))
            .field("line", &self.line)
            .finish()
    }
}

/// The entries as netrc lines with `****` for passwords and accounts.
impl fmt::Display for Netrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{entry}")?;
        }
        Ok(())
    }
}

/// The entry as a netrc line with `****` for the password and the account.
impl fmt::Display for NetrcEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.machine {
            Some(machine) => write!(f, "machine {machine}")?,
            None => f.write_str("default")?,
        }
        if let Some(login) = &self.login {
            write!(f, " login {login}")?;
        }
        if self.password.is_some() {
            f.write_str(" password ****")?;
        }
        if self.account.is_some() {
            f.write_str(" account ****")?;
        }
        Ok(())
    }
}

/// Keywords, lowercase; any token equal to one (ignoring case) is quoted when written.
const KEYWORDS: [&str; 7] = [
    "machine", "default", "login", "user", "password", "account", "macdef",
];

fn push_token(out: &mut String, token: &str) {
    let plain = !token.is_empty()
        && !token.starts_with('#')
        && !KEYWORDS.iter().any(|k| token.eq_ignore_ascii_case(k))
        && !token
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\\' | ','));
    if plain {
        out.push_str(token);
        return;
    }
    out.push('"');
    for c in token.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

#[derive(Clone, Copy)]
enum Keyword {
    Machine,
    Default,
    Macdef,
    /// A field of the current entry, and the keyword as spelled (lowercase), for messages.
    Field(Field, &'static str),
}

#[derive(Clone, Copy)]
enum Field {
    /// `login`, or Python's synonym `user`.
    Login,
    Password,
    Account,
}

impl Keyword {
    fn of(token: &Token) -> Option<Keyword> {
        if token.quoted {
            return None;
        }
        let text: &str = &token.text;
        let is = |keyword: &str| text.eq_ignore_ascii_case(keyword);
        Some(if is("machine") {
            Keyword::Machine
        } else if is("default") {
            Keyword::Default
        } else if is("login") {
            Keyword::Field(Field::Login, "login")
        } else if is("user") {
            Keyword::Field(Field::Login, "user")
        } else if is("password") {
            Keyword::Field(Field::Password, "password")
        } else if is("account") {
            Keyword::Field(Field::Account, "account")
        } else if is("macdef") {
            Keyword::Macdef
        } else {
            return None;
        })
    }
}

/// One token, unescaped. The text is wiped on drop: it may be a password.
struct Token {
    text: Zeroizing<String>,
    quoted: bool,
    line: usize,
    /// Byte offsets of the token and of its line, for the column of an error (counted only
    /// then: counting every token's column is quadratic on a long line).
    start: usize,
    line_start: usize,
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    line_start: usize,
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            text,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    /// Moves to byte offset `to`, counting the newlines passed.
    fn advance_to(&mut self, to: usize) {
        for (i, c) in self.text[self.pos..to].char_indices() {
            if c == '\n' {
                self.line += 1;
                self.line_start = self.pos + i + 1;
            }
        }
        self.pos = to;
    }

    fn skip_blanks(&mut self) {
        let rest = &self.text[self.pos..];
        let blanks = rest.len() - rest.trim_start_matches(is_blank).len();
        self.advance_to(self.pos + blanks);
    }

    /// Moves past the next newline, or to the end.
    fn skip_line(&mut self) {
        let end = self.text[self.pos..]
            .find('\n')
            .map_or(self.text.len(), |i| self.pos + i + 1);
        self.advance_to(end);
    }

    /// The next token where a keyword belongs: comments are skipped here.
    fn next_keyword(&mut self) -> Result<Option<Token>, NetrcError> {
        loop {
            self.skip_blanks();
            if self.peek() == Some('#') {
                self.skip_line();
                continue;
            }
            return self.next_token();
        }
    }

    /// The value after `keyword`, which must exist.
    fn next_value(&mut self, keyword: &Token, name: &'static str) -> Result<Token, NetrcError> {
        self.skip_blanks();
        self.next_token()?.ok_or(NetrcError::MissingValue {
            line: keyword.line,
            keyword: name,
        })
    }

    /// Lexes the token at `pos` (blanks already skipped).
    fn next_token(&mut self) -> Result<Option<Token>, NetrcError> {
        let Some(first) = self.peek() else {
            return Ok(None);
        };
        let line = self.line;
        let (token_start, line_start) = (self.pos, self.line_start);
        let quoted = first == '"';
        let start = self.pos + usize::from(quoted);
        // Find the token's end first, so its text is allocated once at its final size.
        let rest = &self.text[start..];
        let mut chars = rest.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' if quoted => {
                    end = Some(i);
                    break;
                }
                c if !quoted && is_blank(c) => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = match end {
            Some(end) => end,
            None if quoted => return Err(NetrcError::UnterminatedQuote { line }),
            None => rest.len(),
        };
        let raw = &rest[..end];
        let mut text = Zeroizing::new(String::with_capacity(raw.len()));
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            match c {
                // A backslash at the very end of the input escapes nothing and is dropped.
                '\\' => text.extend(chars.next()),
                c => text.push(c),
            }
        }
        self.advance_to(start + end + usize::from(quoted));
        Ok(Some(Token {
            text,
            quoted,
            line,
            start: token_start,
            line_start,
        }))
    }

    /// Skips a macro: the rest of the `macdef NAME` line, then lines up to and including an
    /// empty one (a bare `\r` counts as empty, for CRLF files), or to the end.
    fn skip_macro_body(&mut self) {
        self.skip_line();
        while self.pos < self.text.len() {
            let rest = &self.text[self.pos..];
            let line = rest.find('\n').map_or(rest, |i| &rest[..=i]);
            let empty = line.trim_end_matches(['\r', '\n']).is_empty();
            self.advance_to(self.pos + line.len());
            if empty {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An entry's fields with secrets exposed, for comparisons.
    type Fields = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );

    fn fields(netrc: &Netrc) -> Vec<Fields> {
        netrc
            .entries()
            .iter()
            .map(|e| {
                (
                    e.machine.clone(),
                    e.login.clone(),
                    e.password.as_ref().map(|p| p.expose_secret().to_owned()),
                    e.account.as_ref().map(|a| a.expose_secret().to_owned()),
                )
            })
            .collect()
    }

    fn lines(netrc: &Netrc) -> Vec<usize> {
        netrc.entries().iter().map(|e| e.line).collect()
    }

    fn entry(machine: Option<&str>, login: Option<&str>, password: Option<&str>) -> Fields {
        (
            machine.map(str::to_owned),
            login.map(str::to_owned),
            password.map(str::to_owned),
            None,
        )
    }

    fn parse(text: &str) -> Netrc {
        parse_netrc(text).unwrap_or_else(|err| panic!("{text:?}: {err}"))
    }

    fn text(netrc: &Netrc) -> String {
        netrc.to_secret_text().expose_secret().to_owned()
    }

    fn from_fields(all: &[Fields]) -> Netrc {
        Netrc::from_entries(
            all.iter()
                .map(|(machine, login, password, account)| NetrcEntry {
                    machine: machine.clone(),
                    login: login.clone(),
                    password: password.as_deref().map(SecretString::from),
                    account: account.as_deref().map(SecretString::from),
                    line: 0,
                })
                .collect(),
        )
    }

    #[test]
    fn one_line_and_multi_line_forms_are_the_same_entry() {
        let one = parse("machine pypi.acme.dev login ci password s3cret\n");
        let multi = parse("machine pypi.acme.dev\n\tlogin ci\n\tpassword s3cret\n");
        let expected = vec![entry(Some("pypi.acme.dev"), Some("ci"), Some("s3cret"))];
        assert_eq!(fields(&one), expected);
        assert_eq!(fields(&multi), expected);
    }

    #[test]
    fn entries_keep_their_order_and_lines() {
        let netrc = parse(
            "machine a login la password pa\n\nmachine b\n  login lb\n  password pb account xb\ndefault login anon password anon\n",
        );
        assert_eq!(
            fields(&netrc),
            vec![
                entry(Some("a"), Some("la"), Some("pa")),
                (
                    Some("b".into()),
                    Some("lb".into()),
                    Some("pb".into()),
                    Some("xb".into())
                ),
                entry(None, Some("anon"), Some("anon")),
            ]
        );
        assert_eq!(lines(&netrc), [1, 3, 6]);
    }

    #[test]
    fn default_answers_for_unlisted_hosts() {
        let netrc = parse("machine a login la password pa\ndefault login anon password x\n");
        assert_eq!(netrc.for_host("a").unwrap().login.as_deref(), Some("la"));
        let fallback = netrc.for_host("elsewhere").unwrap();
        assert_eq!(fallback.machine, None);
        assert_eq!(fallback.login.as_deref(), Some("anon"));
        assert!(parse("machine a login l").for_host("b").is_none());
    }

    #[test]
    fn entries_after_default_are_ignored_as_curl_ignores_them() {
        let netrc = parse("default login anon password x\nmachine a login la password pa\n");
        assert_eq!(netrc.entries().len(), 2);
        assert_eq!(netrc.for_host("a").unwrap().machine, None);
        let ignored = netrc.ignored_after_default();
        assert_eq!(ignored.len(), 1);
        assert_eq!(ignored[0].line, 2);
        assert!(netrc.only_hosts(&["a"]).is_empty());
        assert!(
            parse("machine a\ndefault")
                .ignored_after_default()
                .is_empty()
        );
    }

    #[test]
    fn first_entry_for_a_repeated_host_wins() {
        let netrc = parse("machine a login first\nmachine A login second\n");
        assert_eq!(netrc.for_host("a").unwrap().login.as_deref(), Some("first"));
        let narrowed = netrc.only_hosts(&["a"]);
        assert_eq!(
            fields(&narrowed),
            vec![entry(Some("a"), Some("first"), None)]
        );
    }

    #[test]
    fn host_lookup_ignores_case() {
        let netrc = parse("machine PyPI.Acme.Dev login ci password p\n");
        assert_eq!(netrc.for_host("pypi.acme.dev").unwrap().line, 1);
        assert_eq!(netrc.for_host("PYPI.ACME.DEV").unwrap().line, 1);
    }

    #[test]
    fn keywords_ignore_case_and_user_means_login() {
        let netrc = parse("MACHINE a User u PassWord p ACCOUNT x\n");
        assert_eq!(
            fields(&netrc),
            vec![(
                Some("a".into()),
                Some("u".into()),
                Some("p".into()),
                Some("x".into())
            )]
        );
    }

    #[test]
    fn macdef_body_is_skipped_up_to_the_empty_line() {
        let netrc = parse(
            "machine a login la password pa\nmacdef init\ncd /pub\nmachine not-an-entry\nget file\n\nmachine b login lb\n",
        );
        assert_eq!(
            fields(&netrc),
            vec![
                entry(Some("a"), Some("la"), Some("pa")),
                entry(Some("b"), Some("lb"), None)
            ]
        );
        assert_eq!(lines(&netrc), [1, 7]);
    }

    #[test]
    fn macdef_ends_at_the_end_of_the_file_and_ends_the_entry() {
        let netrc = parse("machine a login la macdef m\nbin\nput x");
        assert_eq!(fields(&netrc), vec![entry(Some("a"), Some("la"), None)]);
        let err = parse_netrc("machine a macdef m\n\npassword p\n").unwrap_err();
        assert_eq!(
            err,
            NetrcError::OutsideEntry {
                line: 3,
                keyword: "password"
            }
        );
    }

    #[test]
    fn macdef_rest_of_line_is_body_and_crlf_empty_line_ends_it() {
        let netrc = parse("macdef m arg password\r\nline\r\n\r\nmachine b login lb\r\n");
        assert_eq!(fields(&netrc), vec![entry(Some("b"), Some("lb"), None)]);
        assert_eq!(lines(&netrc), [4]);
        // A line of spaces is not empty, as for curl and Python.
        let netrc = parse("macdef m\nx\n  \nmachine hidden\n\nmachine b\n");
        assert_eq!(fields(&netrc), vec![entry(Some("b"), None, None)]);
    }

    #[test]
    fn comments_run_to_the_end_of_the_line() {
        let netrc = parse(
            "# my netrc\n  #indented: machine x\nmachine a # the index\n  login la #trailing words\n  password pa\n#machine b login lb\n",
        );
        assert_eq!(
            fields(&netrc),
            vec![entry(Some("a"), Some("la"), Some("pa"))]
        );
        // Python rejects `#word more` at the top level; we read it as a comment.
        assert!(parse("#word more words\n").is_empty());
    }

    #[test]
    fn a_value_starting_with_hash_is_a_value() {
        let netrc = parse("machine a login #me password #secret\n");
        assert_eq!(
            fields(&netrc),
            vec![entry(Some("a"), Some("#me"), Some("#secret"))]
        );
    }

    #[test]
    fn a_keyword_is_a_value_where_a_value_belongs() {
        let netrc = parse("machine a login password password machine\n");
        assert_eq!(
            fields(&netrc),
            vec![entry(Some("a"), Some("password"), Some("machine"))]
        );
    }

    #[test]
    fn quoted_tokens_hold_spaces_and_escapes() {
        let netrc = parse(
            r#"machine "a b" login "l \"q\" \\ x" password "tab	and
newline" account ""
"#,
        );
        assert_eq!(
            fields(&netrc),
            vec![(
                Some("a b".into()),
                Some(r#"l "q" \ x"#.into()),
                Some("tab\tand\nnewline".into()),
                Some(String::new())
            )]
        );
    }

    #[test]
    fn escapes_follow_python_not_curl() {
        // Python 3.11: `\n` in quotes is `n`; outside quotes a backslash escapes too.
        let netrc = parse(r#"machine a login "x\ny" password p\ q\\r"#);
        assert_eq!(
            fields(&netrc),
            vec![entry(Some("a"), Some("xny"), Some(r"p q\r"))]
        );
        // A quote inside an unquoted token is a character; a quoted token ends at its quote.
        let netrc = parse(r##"machine a login a"b password "p""##);
        assert_eq!(
            fields(&netrc),
            vec![entry(Some("a"), Some(r#"a"b"#), Some("p"))]
        );
        assert!(parse_netrc(r#"machine a password "p"x"#).is_err());
    }

    #[test]
    fn missing_values_are_errors_naming_the_keyword_line() {
        assert_eq!(
            parse_netrc("machine").unwrap_err(),
            NetrcError::MissingValue {
                line: 1,
                keyword: "machine"
            }
        );
        assert_eq!(
            parse_netrc("machine a\nlogin me\npassword\n\n").unwrap_err(),
            NetrcError::MissingValue {
                line: 3,
                keyword: "password"
            }
        );
        assert_eq!(
            parse_netrc("macdef").unwrap_err().to_string(),
            "line 1: `macdef` needs a value, but the file ends"
        );
        assert_eq!(
            parse_netrc("\n\nmachine \"\" login l").unwrap_err(),
            NetrcError::EmptyMachine { line: 3 }
        );
    }

    #[test]
    fn unknown_keyword_names_line_and_column_not_the_token() {
        let err = parse_netrc("machine a\n  login me\n  pasword hunter2\n").unwrap_err();
        assert_eq!(err, NetrcError::UnknownKeyword { line: 3, column: 3 });
        assert_eq!(err.line(), 3);
        // A forgotten `password` makes the password the unknown token: it must not show.
        let err = parse_netrc("machine a login me hunter2\n").unwrap_err();
        assert_eq!(
            err,
            NetrcError::UnknownKeyword {
                line: 1,
                column: 20
            }
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
        // Columns count characters, not bytes.
        let err = parse_netrc("machine é login ü x").unwrap_err();
        assert_eq!(
            err,
            NetrcError::UnknownKeyword {
                line: 1,
                column: 19
            }
        );
        // A quoted token is never a keyword.
        let err = parse_netrc("\"machine\" a").unwrap_err();
        assert_eq!(err, NetrcError::UnknownKeyword { line: 1, column: 1 });
    }

    #[test]
    fn fields_before_any_entry_are_errors() {
        assert_eq!(
            parse_netrc("login me password p\n").unwrap_err(),
            NetrcError::OutsideEntry {
                line: 1,
                keyword: "login"
            }
        );
        assert_eq!(
            parse_netrc("user me").unwrap_err().to_string(),
            "line 1: `user` belongs after `machine NAME` or `default`"
        );
    }

    #[test]
    fn unterminated_quote_names_its_opening_line() {
        let err = parse_netrc("machine a\npassword \"abc\ndef\n").unwrap_err();
        assert_eq!(err, NetrcError::UnterminatedQuote { line: 2 });
        assert!(!err.to_string().contains("abc"));
        assert!(parse_netrc("machine a password \"ab\\\"").is_err());
    }

    #[test]
    fn empty_blank_and_comment_only_files_have_no_entries() {
        for text in ["", " \n\t\r\n", "# nothing\n\n# here", "macdef m\nx\n\n"] {
            let netrc = parse(text);
            assert!(netrc.is_empty(), "{text:?}");
            assert!(netrc.for_host("a").is_none());
        }
    }

    #[test]
    fn crlf_line_endings() {
        let netrc =
            parse("machine a\r\nlogin la\r\npassword pa\r\n\r\nmachine b login lb password pb\r\n");
        assert_eq!(
            fields(&netrc),
            vec![
                entry(Some("a"), Some("la"), Some("pa")),
                entry(Some("b"), Some("lb"), Some("pb"))
            ]
        );
        assert_eq!(lines(&netrc), [1, 5]);
    }

    #[test]
    fn only_hosts_keeps_the_index_entry_and_drops_the_rest() {
        let netrc = parse(
            "machine github.com login me password gh-token\nmachine PyPI.Acme.Dev login ci password idx\nmachine other login o password op\ndefault login anon password anon\n",
        );
        let narrowed = netrc.only_hosts(&["pypi.acme.dev", "not-in-file"]);
        // Spelled as asked, since Python compares machine names exactly.
        assert_eq!(
            fields(&narrowed),
            vec![entry(Some("pypi.acme.dev"), Some("ci"), Some("idx"))]
        );
        assert_eq!(narrowed.entries()[0].line, 2);
        let written = text(&narrowed);
        assert!(
            !written.contains("gh-token") && !written.contains("anon"),
            "{written}"
        );
        assert!(netrc.only_hosts(&[]).is_empty());
    }

    #[test]
    fn written_text_is_one_plain_line_per_entry() {
        let netrc =
            parse("machine a login la password pa account x\ndefault password dp\nmachine b\n");
        assert_eq!(
            text(&netrc),
            "machine a login la password pa account x\ndefault password dp\nmachine b\n"
        );
        assert_eq!(lines(&parse(&text(&netrc))), [1, 2, 3]);
        assert_eq!(text(&Netrc::default()), "");
    }

    #[test]
    fn written_tokens_are_quoted_when_a_reader_could_misread_them() {
        let cases = [
            ("p w", r#""p w""#),
            (r#"a"b"#, r#""a\"b""#),
            (r"a\b", r#""a\\b""#),
            ("#x", "\"#x\""),
            ("a#x", "a#x"),
            ("", "\"\""),
            ("machine", "\"machine\""),
            ("Login", "\"Login\""),
            ("a,b", "\"a,b\""),
            ("tab\there", "\"tab\there\""),
            ("nbsp\u{a0}", "\"nbsp\u{a0}\""),
            ("ünïcödé", "ünïcödé"),
        ];
        for (value, written) in cases {
            let netrc = single("h", "l", SecretString::from(value));
            assert_eq!(
                text(&netrc),
                format!("machine h login l password {written}\n")
            );
        }
    }

    #[test]
    fn round_trip_keeps_tricky_values() {
        let tricky = [
            "with space",
            "\"quoted\"",
            "#hash",
            "back\\slash\\",
            "ünïcødé 🔑",
            "multi\nline",
            "cr\rlf\r\n",
            "",
            "password",
            "'single'",
            "a\"b\\\"c",
            "trailing\\",
        ];
        let all: Vec<Fields> = tricky
            .iter()
            .map(|value| {
                (
                    Some(format!("host{value}")),
                    Some((*value).to_owned()),
                    Some((*value).to_owned()),
                    Some((*value).to_owned()),
                )
            })
            .chain([entry(None, Some("anon"), Some("#x y"))])
            .collect();
        let netrc = from_fields(&all);
        assert_eq!(fields(&parse(&text(&netrc))), all);
    }

    #[test]
    fn an_entry_with_an_empty_machine_is_not_written() {
        let netrc = from_fields(&[
            entry(Some(""), Some("l"), Some("p")),
            entry(Some("a"), None, None),
        ]);
        assert_eq!(text(&netrc), "machine a\n");
    }

    #[test]
    fn single_builds_one_machine_entry() {
        let netrc = single("pypi.acme.dev", "ci", SecretString::from("p"));
        assert_eq!(
            fields(&netrc),
            vec![entry(Some("pypi.acme.dev"), Some("ci"), Some("p"))]
        );
        assert_eq!(netrc.entries()[0].line, 0);
        assert!(!netrc.is_empty());
    }

    #[test]
    fn debug_and_display_never_show_passwords_or_accounts() {
        let canary = "CANARY-pw-7f3a";
        let account = "CANARY-acct-91c";
        let netrc = parse(&format!(
            "machine a login me password {canary} account {account}\ndefault password {canary}\n"
        ));
        let shown = [
            format!("{netrc:?}"),
            format!("{netrc:#?}"),
            format!("{netrc}"),
            format!("{:?}", netrc.entries()[0]),
            format!("{}", netrc.entries()[0]),
            format!("{:?}", netrc.only_hosts(&["a"])),
            format!("{:?}", netrc.to_secret_text()),
        ];
        for text in &shown {
            assert!(!text.contains("CANARY"), "{text}");
        }
        assert_eq!(
            format!("{netrc}"),
            "machine a login me password **** account ****\ndefault password ****"
        );
        assert!(shown[0].contains("\"****\""), "{}", shown[0]);

        let errors = [
            format!("machine a login me {canary}"),
            format!("machine a login me\n{canary} x"),
            format!("machine a password \"{canary}"),
            format!("login {canary}"),
            format!("password {canary}"),
            format!("account {canary}"),
            format!("machine \"\" password {canary}"),
        ];
        for text in &errors {
            let err = parse_netrc(text).unwrap_err();
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(!shown.contains("CANARY"), "{shown}");
                assert!(!shown.contains('\n'), "{shown}");
            }
        }
    }

    /// Token soup: keywords, quotes, backslashes, comments and line breaks, to reach the
    /// parser's corners more often than arbitrary strings do.
    fn netrc_like() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("machine".to_owned()),
            Just("default".to_owned()),
            Just("login".to_owned()),
            Just("password".to_owned()),
            Just("account".to_owned()),
            Just("macdef".to_owned()),
            Just("#".to_owned()),
            Just("\"".to_owned()),
            Just("\\".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            Just(" ".to_owned()),
            "[a-zé\"\\\\#\t ]{0,4}",
        ];
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.join(" "))
    }

    fn value() -> impl Strategy<Value = String> {
        "[^\u{0}]{0,12}"
    }

    fn entry_fields() -> impl Strategy<Value = Fields> {
        (
            prop::option::weighted(0.9, "[^\u{0}]{1,12}"),
            prop::option::of(value()),
            prop::option::of(value()),
            prop::option::of(value()),
        )
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = parse_netrc(&text);
        }

        #[test]
        fn parse_never_panics_on_netrc_like_text(input in netrc_like()) {
            if let Ok(netrc) = parse_netrc(&input) {
                // Whatever parses also survives a round trip.
                let written = text(&netrc);
                let again = parse_netrc(&written).unwrap();
                prop_assert_eq!(fields(&again), fields(&netrc));
            }
        }

        #[test]
        fn round_trip_keeps_any_entries(all in prop::collection::vec(entry_fields(), 0..6)) {
            let netrc = from_fields(&all);
            let written = text(&netrc);
            let again = parse_netrc(&written).unwrap();
            prop_assert_eq!(fields(&again), all);
        }
    }
}
