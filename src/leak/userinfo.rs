//! Credentials in URLs: `scheme://user:password@host` and `scheme://TOKEN@host`.
//!
//! Two questions live here, and nowhere else:
//!
//! - Does this URL the user gave us carry userinfo at all ([`has_userinfo`], [`strip_userinfo`])?
//!   For an index URL, a git remote or a build argument any userinfo is refused or removed,
//!   placeholder or not: shipimg never needs it.
//! - Does this text carry a *credential* in a URL ([`find`], [`find_counting_variables`])? Text is
//!   bytes (a Dockerfile, a file in the context, a file in a layer) and a finding is a position,
//!   so a content detector can report and mask it without copying the secret.
//!
//! Real dependency trees are full of documented examples (pip's vendored urllib3 shows
//! `http://username:password@host.com`, its git support `ssh://git@example.com`, Celery
//! `amqp://guest:guest@localhost//`), so a userinfo only counts when it looks real:
//!
//! - **Password** (`user:password@`): counts unless it is a placeholder: empty; a template or
//!   variable (`$VAR`, `${VAR}`, `$(cmd)`, `%(name)s`, `{name}`, `{{name}}`, `<...>`, `[...]`,
//!   `%VAR%`); one repeated character or only masking characters (`xxx`, `***`, `x-x`); an
//!   elision (`...`); the login itself (`guest:guest`); a word documentation uses for a password
//!   (`pass`, `secret`, `changeme`, `token`, `foo`...); or containing `password`, `passwd`,
//!   `example`, `placeholder`, `changeme`, `redacted` or `your` + a credential word. Percent
//!   escapes are decoded first (`%3Cpassword%3E` is `<password>`).
//! - **Token** (`TOKEN@`, or `TOKEN:@`, or a token login whose password is a placeholder, as in
//!   GitHub's `TOKEN:x-oauth-basic@`): counts when the login starts with a known token prefix
//!   (`ghp_`, `github_pat_`, `glpat-`, `pypi-`...), or is at least 16 token characters that mix
//!   letters with digits (or upper with lower case over 20 characters), have enough entropy, and
//!   are not a few words joined by `-`, `_` or `.` (`deploy-user-2024`). `git@`, `admin@` and
//!   `john.smith@` are logins, not tokens.
//!
//! Hosts never make a real password a placeholder: `postgres://app:S3cr3t@localhost/app` counts,
//! since a copied development settings file is exactly how a real password ships.

use std::borrow::Cow;
use std::ops::Range;

use super::placeholder::{TOKEN_PREFIXES, is_placeholder, is_variable, looks_random};
use std::sync::LazyLock;

use regex::bytes::Regex;

/// What the secret part of a [`UrlCredential`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `user:password@`: the password is the secret.
    Password,
    /// `TOKEN@`: the login is the secret (Gemfury's `https://TOKEN@pypi.fury.io/ORG/`).
    Token,
}

/// A credential in a URL, as byte ranges into the text it was found in. It holds no bytes of
/// the secret, so it may be logged and compared freely.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UrlCredential {
    /// The URL from its scheme to the end of its host and port (`https://u:p@host:8443`).
    pub url: Range<usize>,
    /// The userinfo (`u:p`), without the `@`.
    pub range: Range<usize>,
    /// The login (`u`); for a [`Kind::Token`], the token.
    pub user: Range<usize>,
    /// The password (`p`), when the userinfo has a non-empty one.
    pub password: Option<Range<usize>>,
    /// Which part is the secret.
    pub kind: Kind,
    /// Whether the secret part is only a variable (`${TOKEN}`); only
    /// [`find_counting_variables`] returns those.
    pub is_variable: bool,
}

impl UrlCredential {
    /// The range of the secret: the password, or the token.
    pub fn secret(&self) -> Range<usize> {
        match (&self.kind, &self.password) {
            (Kind::Password, Some(password)) => password.clone(),
            _ => self.user.clone(),
        }
    }

    /// The URL with its secret replaced by `****`, for messages: `https://u:****@host`,
    /// `https://****@pypi.fury.io`.
    pub fn masked_url(&self, text: &[u8]) -> String {
        let secret = self.secret();
        format!(
            "{}****{}",
            String::from_utf8_lossy(&text[self.url.start..secret.start]),
            String::from_utf8_lossy(&text[secret.end..self.url.end])
        )
    }
}

/// Every credential in `text`, in order. Placeholders and variables (`${TOKEN}`) are left out:
/// in a file's text, a variable is filled in by whatever reads it, at run time.
pub fn find(text: &[u8]) -> impl Iterator<Item = UrlCredential> + '_ {
    Finder {
        text,
        pos: 0,
        count_variables: false,
    }
}

/// [`find`], and also the URLs whose secret is only a variable (`https://u:${TOKEN}@host`), with
/// [`UrlCredential::is_variable`] set. For the Dockerfile's `ENV`, `ARG` and `LABEL`, where the
/// build substitutes the value and bakes it into the image.
pub fn find_counting_variables(text: &[u8]) -> impl Iterator<Item = UrlCredential> + '_ {
    Finder {
        text,
        pos: 0,
        count_variables: true,
    }
}

/// `text` with the secret of every credential [`find_counting_variables`] finds replaced by
/// `****`, and also every other non-empty password: what is shown must not hold a password
/// even when the rules here take it for a placeholder.
pub fn mask(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut spans: Vec<Range<usize>> = Vec::new();
    for at in separators(bytes) {
        let Some(url) = parse_at(bytes, at) else {
            continue;
        };
        let span = match classify(bytes, &url, true) {
            Some(found) => found.secret(),
            None => match url.password {
                Some(password) => password,
                None => continue,
            },
        };
        spans.push(span);
    }
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for span in spans {
        // Spans are on char boundaries: they are bounded by ASCII bytes.
        out.push_str(&text[last..span.start]);
        out.push_str("****");
        last = span.end;
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// Whether a URL has userinfo (anything before an `@` in its authority), placeholder or not.
/// Text that is not a `scheme://` URL has none.
pub fn has_userinfo(url: &str) -> bool {
    authority(url).is_some_and(|(start, end)| url[start..end].contains('@'))
}

/// The URL without its userinfo: `https://u:tok@host/x` -> `https://host/x`. Text that is not a
/// `scheme://` URL comes back as it is.
pub fn strip_userinfo(url: &str) -> Cow<'_, str> {
    match authority(url) {
        Some((start, end)) => match url[start..end].rfind('@') {
            Some(at) => Cow::Owned(format!("{}{}", &url[..start], &url[start + at + 1..])),
            None => Cow::Borrowed(url),
        },
        None => Cow::Borrowed(url),
    }
}

/// The byte range of a URL's authority (`u:p@host:1`), after `scheme://`, up to `/`, `?`, `#`.
fn authority(url: &str) -> Option<(usize, usize)> {
    let (scheme, rest) = url.split_once("://")?;
    let mut chars = scheme.chars();
    if !chars.next()?.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    {
        return None;
    }
    let start = scheme.len() + 3;
    let end = rest.find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    Some((start, end))
}

/// `://`, and `:\/\/` as JSON may escape it.
static SEPARATOR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r":(?://|\\/\\/)").unwrap());

fn separators(text: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    SEPARATOR.find_iter(text).map(|m| m.range())
}

struct Finder<'t> {
    text: &'t [u8],
    pos: usize,
    count_variables: bool,
}

impl Iterator for Finder<'_> {
    type Item = UrlCredential;

    fn next(&mut self) -> Option<UrlCredential> {
        while let Some(at) = SEPARATOR.find_at(self.text, self.pos) {
            self.pos = at.end();
            let Some(url) = parse_at(self.text, at.range()) else {
                continue;
            };
            if let Some(found) = classify(self.text, &url, self.count_variables) {
                return Some(found);
            }
        }
        self.pos = self.text.len();
        None
    }
}

/// A URL with userinfo, before deciding whether its userinfo is a credential.
struct RawUrl {
    url: Range<usize>,
    userinfo: Range<usize>,
    user: Range<usize>,
    password: Option<Range<usize>>,
}

/// The URL around the separator at `sep`, when it has a scheme and non-empty userinfo.
fn parse_at(text: &[u8], sep: Range<usize>) -> Option<RawUrl> {
    let is_scheme = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-');
    let mut start = sep.start;
    while start > 0 && is_scheme(text[start - 1]) {
        start -= 1;
    }
    // A scheme starts with a letter: `3https://` is `https://` after a digit.
    while start < sep.start && !text[start].is_ascii_alphabetic() {
        start += 1;
    }
    if start == sep.start {
        return None;
    }
    let from = sep.end;
    let end = text[from..]
        .iter()
        .position(|&b| ends_authority(b))
        .map_or(text.len(), |i| from + i);
    // The last `@`: people write logins that are e-mail addresses unescaped.
    let at = from + text[from..end].iter().rposition(|&b| b == b'@')?;
    if at == from {
        return None;
    }
    let userinfo = from..at;
    let (user, password) = match text[from..at].iter().position(|&b| b == b':') {
        Some(colon) => {
            let password = from + colon + 1..at;
            (
                from..from + colon,
                (!password.is_empty()).then_some(password),
            )
        }
        None => (from..at, None),
    };
    Some(RawUrl {
        url: start..end,
        userinfo,
        user,
        password,
    })
}

/// What ends an authority in running text: the path, query or fragment, whitespace, control
/// characters, quotes and the brackets that enclose URLs in prose and markup.
fn ends_authority(b: u8) -> bool {
    b <= b' '
        || b == 0x7f
        || matches!(
            b,
            b'/' | b'?' | b'#' | b'"' | b'\'' | b'`' | b'\\' | b'<' | b'>' | b'^' | b'|'
        )
}

/// The credential `url` holds, if its userinfo is one.
fn classify(text: &[u8], url: &RawUrl, count_variables: bool) -> Option<UrlCredential> {
    let user = decode(&text[url.user.clone()]);
    let found = |kind, is_variable| UrlCredential {
        url: url.url.clone(),
        range: url.userinfo.clone(),
        user: url.user.clone(),
        password: url.password.clone(),
        kind,
        is_variable,
    };
    if let Some(range) = &url.password {
        let password = decode(&text[range.clone()]);
        match password_verdict(&password, &user) {
            Verdict::Secret => return Some(found(Kind::Password, false)),
            Verdict::Variable if count_variables => return Some(found(Kind::Password, true)),
            _ => {}
        }
    }
    match token_verdict(&user) {
        Verdict::Secret => Some(found(Kind::Token, false)),
        Verdict::Variable if count_variables && variable_names_secret(&user) => {
            Some(found(Kind::Token, true))
        }
        _ => None,
    }
}

enum Verdict {
    Secret,
    Variable,
    Placeholder,
}

/// Percent escapes decoded (invalid ones kept as they are), lossily as UTF-8.
fn decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if raw[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn password_verdict(password: &str, user: &str) -> Verdict {
    if is_variable(password) {
        return Verdict::Variable;
    }
    if is_placeholder(password) || password == user {
        return Verdict::Placeholder;
    }
    Verdict::Secret
}

/// Whether a login (with no real password) is a token.
fn token_verdict(user: &str) -> Verdict {
    if is_variable(user) {
        return Verdict::Variable;
    }
    if is_placeholder(user) {
        return Verdict::Placeholder;
    }
    let token_char = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if !user.chars().all(token_char) {
        return Verdict::Placeholder;
    }
    if TOKEN_PREFIXES
        .iter()
        .any(|p| user.strip_prefix(p).is_some_and(|rest| rest.len() >= 8))
    {
        return Verdict::Secret;
    }
    if looks_random(user) {
        Verdict::Secret
    } else {
        Verdict::Placeholder
    }
}

/// Whether a variable's name says it holds a secret (`${GITLAB_TOKEN}`, `$API_KEY`): a login
/// that is a variable counts only then.
fn variable_names_secret(user: &str) -> bool {
    let upper = user.to_ascii_uppercase();
    ["TOKEN", "KEY", "SECRET", "PASS", "PAT", "AUTH"]
        .iter()
        .any(|word| upper.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The secret of every credential `find` reports, as text.
    fn secrets(text: &str) -> Vec<String> {
        find(text.as_bytes())
            .map(|c| text[c.secret()].to_owned())
            .collect()
    }

    #[test]
    fn real_passwords_count_whatever_the_host() {
        for (text, secret) in [
            ("DATABASES_URL = 'postgres://app:S3cr3t@db/app'", "S3cr3t"),
            ("postgres://app:S3cr3t@localhost:5432/app", "S3cr3t"),
            (
                "index-url = https://u:p4ss-w0rd-17@pypi.example.com/simple",
                "p4ss-w0rd-17",
            ),
            ("url: https://ci:hunter2@example.com/x", "hunter2"),
            // What guard.rs's pip.conf check is tested with, should it call `find`.
            (
                "index-url = https://user:s3cret@pypi.example/simple",
                "s3cret",
            ),
            ("redis://:Zq8v2LmR@cache:6379/0", "Zq8v2LmR"),
            (
                "https://x-access-token:ghs_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r.git",
                "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
            ),
            (
                "https://oauth2:glpat-Zx81kQm2Lp0vNc7aB3@gitlab.com",
                "glpat-Zx81kQm2Lp0vNc7aB3",
            ),
            (
                "https://__token__:pypi-AgEIcHlwaS5vcmcCJGFiYw@upload.pypi.org/legacy/",
                "pypi-AgEIcHlwaS5vcmcCJGFiYw",
            ),
            ("amqp://celery:k9%40Lm%2Fx@rabbit//", "k9%40Lm%2Fx"),
            ("ftp://anna.berg@corp.se:Wint3r!@ftp.corp.se/", "Wint3r!"),
            (r#"{"url":"https:\/\/u:Pq7rT2@h.io\/x"}"#, "Pq7rT2"),
        ] {
            assert_eq!(secrets(text), [secret], "{text}");
        }
        let text = "postgres://app:S3cr3t@db/app";
        let found: Vec<_> = find(text.as_bytes()).collect();
        assert_eq!(
            found,
            [UrlCredential {
                url: 0..24,
                range: 11..21,
                user: 11..14,
                password: Some(15..21),
                kind: Kind::Password,
                is_variable: false,
            }]
        );
        assert_eq!(
            found[0].masked_url(text.as_bytes()),
            "postgres://app:****@db"
        );
    }

    #[test]
    fn documented_placeholders_do_not_count() {
        for text in [
            // urllib3 (vendored in pip): `util/url.py` and `poolmanager.py` docstrings.
            ">>> parse_url('http://username:password@host.com:80/path?query#fragment')",
            "proxy = urllib3.ProxyManager('http://user:pass@localhost:3128/')",
            // requests docs.
            "proxies = {'http': 'http://user:pass@10.10.1.10:3128/'}",
            "'http://user:password@host/'",
            // pip: git, VCS and index URLs in its docs.
            "pip install git+ssh://git@github.com/pypa/pip.git",
            "ssh://git@example.com/MyProject",
            "git+https://git.example.com/MyProject#egg=MyProject",
            "--index-url https://username:password@pypi.company.com/simple",
            "https://<username>:<password>@pypi.example.com/simple",
            "https://%3Cuser%3E:%3Cpassword%3E@host/simple",
            "https://user:${PIP_PASSWORD}@host/simple",
            "https://user:$PIP_PASSWORD@host/simple",
            "https://user:$(cat /run/secrets/token)@host/simple",
            "'%(scheme)s://%(user)s:%(password)s@%(host)s'",
            "f'https://{user}:{token}@{host}/simple'",
            "https://{{ user }}:{{ token }}@host",
            "https://user:%TOKEN%@host",
            "https://[user]:[secret]@host",
            // Celery, SQLAlchemy, Redis docs.
            "broker_url = 'amqp://guest:guest@localhost//'",
            "amqp://myuser:mypassword@localhost:5672/myvhost",
            "postgresql://scott:tiger@localhost/mydatabase",
            "https://oauth2:glpat-xxxxxxxxxxxxxxxxxxxx@gitlab.com",
            "redis://:password@localhost:6379/0",
            "mysql://root:secret@127.0.0.1/db",
            "https://user:xxxxxx@host",
            "https://user:****@host",
            "https://user:x-x-x@host",
            "https://user:abc...xyz@host",
            "https://user:@host/",
            "https://user:your_api_token@host",
            "https://user:example-token@host",
            "https://:@host/",
            "https://@host/",
            // Logins that are not tokens.
            "ssh://git@github.com/org/repo",
            "https://admin@host/",
            "https://user@host/",
            "https://deploy-user-2024@host/",
            "https://john.smith@host/",
            "https://ci_bot_account@host/",
            "ftp://anonymous@ftp.example.org/",
            "https://TOKEN@pypi.fury.io/ORG/",
            "https://token@pypi.fury.io/ORG/",
            "https://YOUR_TOKEN@pypi.fury.io/ORG/",
            "https://${FURY_TOKEN}@pypi.fury.io/ORG/",
            // Not URLs with userinfo.
            "git@github.com:org/repo.git",
            "see https://example.com/a@b and mail me at bob@corp.com",
            "https://host/path?user=a:b@c",
            "@decorator\ndef f(): return 'https://host/x'",
            "://a:Kq72mZ@c",
            "12://a:Kq72mZ@c",
        ] {
            assert_eq!(secrets(text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn tokens_as_logins_count() {
        for (text, token) in [
            (
                "--extra-index-url https://1a2B3c4D5e6F7g8H9i0J@pypi.fury.io/acme/",
                "1a2B3c4D5e6F7g8H9i0J",
            ),
            (
                "https://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@github.com/o/r",
                "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",
            ),
            (
                "https://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:x-oauth-basic@github.com/o/r",
                "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",
            ),
            ("https://3f9a0c1d2e4b5a69788f@host/", "3f9a0c1d2e4b5a69788f"),
            (
                "https://123e4567-e89b-12d3-a456-426614174000@api.host/",
                "123e4567-e89b-12d3-a456-426614174000",
            ),
            ("https://9c8b7a6d5e4f3a2b:@host/", "9c8b7a6d5e4f3a2b"),
            (
                "https://glpat-Zx81kQm2Lp0vNc7@gitlab.com",
                "glpat-Zx81kQm2Lp0vNc7",
            ),
        ] {
            assert_eq!(secrets(text), [token], "{text}");
            assert!(
                find(text.as_bytes()).all(|c| c.kind == Kind::Token),
                "{text}"
            );
        }
        let text = "https://1a2B3c4D5e6F7g8H9i0J@pypi.fury.io/acme/";
        let found = find(text.as_bytes()).next().unwrap();
        assert_eq!(
            found.masked_url(text.as_bytes()),
            "https://****@pypi.fury.io"
        );
        assert_eq!(found.password, None);
    }

    #[test]
    fn near_misses_of_tokens_stay_logins() {
        for user in [
            "abcdefghijklmnop",     // 16 letters, no digit, one case
            "AbcdefghijKlmnop",     // mixed case but under 20
            "aaaaaaaaaaaaaaa1",     // low entropy
            "release-bot-2024",     // words and a number
            "Service.Account.Prod", // capitalised words
            "1234567890123456",     // digits only
        ] {
            let text = format!("https://{user}@host/");
            assert_eq!(secrets(&text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn variables_count_only_when_asked() {
        let text = "ENV PIP_INDEX_URL=https://u:${TOKEN}@h/x";
        assert_eq!(find(text.as_bytes()).count(), 0);
        let found: Vec<_> = find_counting_variables(text.as_bytes()).collect();
        assert_eq!(found.len(), 1);
        assert!(found[0].is_variable);
        assert_eq!(found[0].masked_url(text.as_bytes()), "https://u:****@h");
        // A password that only starts with a variable is not one.
        assert_eq!(secrets("https://u:p$TOKEN@h/x"), ["p$TOKEN"]);
        // A login variable counts only when its name says it is a secret.
        assert_eq!(
            find_counting_variables(b"https://${FURY_TOKEN}@pypi.fury.io/o/").count(),
            1
        );
        assert_eq!(find_counting_variables(b"https://${USER}@host/").count(), 0);
    }

    #[test]
    fn several_urls_in_one_text() {
        let text = "a https://u:Kq72mZ@h1/x,https://h2/ https://v:Pz81nW@h3 ssh://git@h4";
        assert_eq!(secrets(text), ["Kq72mZ", "Pz81nW"]);
        let bytes = b"x\0https://u:Kq72mZ@h1\xff\xfe https://v:Pz81nW@h3";
        assert_eq!(find(bytes).count(), 2);
    }

    #[test]
    fn mask_hides_every_password_and_token() {
        assert_eq!(
            mask("pip install --index-url https://user:hunter2@pypi.example/simple x"),
            "pip install --index-url https://user:****@pypi.example/simple x"
        );
        assert_eq!(
            mask("https://u:password@h https://1a2B3c4D5e6F7g8H9i0J@f ssh://git@h"),
            "https://u:****@h https://****@f ssh://git@h"
        );
        assert_eq!(mask("https://u:${T}@h"), "https://u:****@h");
        assert!(matches!(mask("no urls here"), Cow::Borrowed(_)));
    }

    #[test]
    fn has_and_strip_userinfo() {
        for url in [
            "https://u:p@host/simple",
            "https://TOKEN@pypi.fury.io/ORG/",
            "https://user@host",
            "https://@host",
            "HTTPS://u:p@h?x",
        ] {
            assert!(has_userinfo(url), "{url}");
        }
        for url in [
            "https://host/simple",
            "https://host/a@b",
            "https://host?u=a@b",
            "https://host#a@b",
            "git@github.com:o/r.git",
            "not a url @ all",
            "",
        ] {
            assert!(!has_userinfo(url), "{url}");
        }
        assert_eq!(
            strip_userinfo("https://user:tok@github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(
            strip_userinfo("https://a@b@host:1/x@y"),
            "https://host:1/x@y"
        );
        assert_eq!(
            strip_userinfo("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(strip_userinfo("https://host/x"), "https://host/x");
    }

    proptest::proptest! {
        #[test]
        fn no_text_panics(text in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            for found in find_counting_variables(&text) {
                proptest::prop_assert!(found.url.end <= text.len());
                proptest::prop_assert!(found.range.start >= found.url.start);
                let _ = found.masked_url(&text);
            }
            let lossy = String::from_utf8_lossy(&text);
            let _ = mask(&lossy);
            let _ = strip_userinfo(&lossy);
        }

        #[test]
        fn a_random_password_is_found_anywhere(
            before in "[ a-z=:\n]{0,20}",
            password in "[A-Za-z][A-Za-z0-9]{5,20}[0-9]",
            after in "[ /a-z\n]{0,20}",
        ) {
            let text = format!("{before} https://svc:{password}@db.internal/app{after}");
            proptest::prop_assert_eq!(secrets(&text), vec![password]);
        }
    }
}
