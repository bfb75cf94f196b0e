//! What makes content a credential, whoever's it is and whatever the file is called: the one
//! detector set the context guard ([`crate::context::guard`]) and the image scan
//! ([`crate::scan`]) both run.
//!
//! Each detector checks what it matched, so that the documentation, test data and examples real
//! dependency trees ship stay quiet:
//!
//! | rule | matches | not |
//! |---|---|---|
//! | `netrc` | `machine`/`default` entries with a `password` | placeholder passwords, `$VAR` |
//! | `docker-config` | `"auths"` with an `auth` (base64 `user:password`) or `identitytoken` | empty or placeholder `auth` |
//! | `google-key` | service-account JSON with a `private_key` that is a key, `authorized_user` with a `refresh_token` | field names in code |
//! | `private-key` | a PEM `PRIVATE KEY` block whose body decodes to a key structure | `...`, `<key>`, docstrings |
//! | `dotenv` | a file of `KEY=value` lines with a secret-looking key and a real value | `KEY = value` (code), `${VAR}` |
//! | `npmrc` | `_authToken=`, `_auth=`, `_password=` with a value | `${NPM_TOKEN}` |
//! | `url-credentials` | `scheme://user:password@` and `scheme://TOKEN@` ([`super::userinfo`]) | `username:password`, `git@` |
//! | `token` | Google `ya29.` access tokens, GitHub `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` (checksum checked) and `github_pat_`, GitLab `glpat-`, AWS `AKIA`/`ASIA` access key ids | documented `...EXAMPLE` keys, `ghp_xxxx` |
//!
//! A [`Detection`] says whether the credential is the file's *whole purpose* (a netrc, a docker
//! config, a key file, a dotenv, a token on its own, any credential in a `pip.conf`): the context
//! guard leaves such a file out. A credential *embedded* in an ordinary file (a `settings.py`
//! with `postgres://app:S3cr3t@db/app`) is reported instead, since leaving it out would change the
//! application; the scan refuses the push either way.
//!
//! Detectors run on text the caller already holds: the whole file when it is small
//! ([`detect`] with `complete`), or a window of it. Each detector has anchors, literals at least
//! one of which occurs in any text it can fire on: one pass of a small automaton
//! ([`may_hold_credential`]) decides which detectors run at all.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use regex::bytes::Regex;

use super::names::is_secret_name;
use super::placeholder;

/// A kind of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CredentialKind {
    /// `.netrc` / `_netrc` or netrc-shaped text: machine passwords.
    Netrc,
    /// `.pypirc`: upload credentials.
    Pypirc,
    /// `pip.conf` / `pip.ini` with a password in an index URL.
    PipConfig,
    /// `.npmrc` with an auth token or password.
    Npmrc,
    /// A docker config with registry logins.
    DockerConfig,
    /// `.git-credentials`: git passwords and tokens.
    GitCredentials,
    /// `gha-creds-*.json`: what google-github-actions/auth writes into the workspace.
    GhaCredentials,
    /// A Google service-account key or gcloud user credentials (JSON).
    GoogleCredentials,
    /// A private key (`id_rsa`, a PEM private key block).
    PrivateKey,
    /// A `.env` file, or `.env`-shaped text with secret keys.
    DotEnv,
    /// A URL with a password or token in its userinfo.
    UrlCredentials,
    /// A token in a well-known format.
    Token(TokenKind),
}

/// Token formats recognised on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenKind {
    /// `ya29.`: a Google OAuth access token.
    GoogleAccess,
    /// `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` (checksum checked), `github_pat_`.
    GitHub,
    /// `glpat-`: a GitLab personal access token.
    GitLab,
    /// `AKIA...` / `ASIA...`: an AWS access key id.
    AwsAccessKey,
}

impl CredentialKind {
    /// Every kind, in a fixed order (the guard's remembered verdicts store the index).
    pub const ALL: &[CredentialKind] = &[
        CredentialKind::Netrc,
        CredentialKind::Pypirc,
        CredentialKind::PipConfig,
        CredentialKind::Npmrc,
        CredentialKind::DockerConfig,
        CredentialKind::GitCredentials,
        CredentialKind::GhaCredentials,
        CredentialKind::GoogleCredentials,
        CredentialKind::PrivateKey,
        CredentialKind::DotEnv,
        CredentialKind::UrlCredentials,
        CredentialKind::Token(TokenKind::GoogleAccess),
        CredentialKind::Token(TokenKind::GitHub),
        CredentialKind::Token(TokenKind::GitLab),
        CredentialKind::Token(TokenKind::AwsAccessKey),
    ];

    /// Why this kind must not ship, for messages.
    pub fn reason(self) -> &'static str {
        match self {
            CredentialKind::Netrc => "a netrc file holds passwords",
            CredentialKind::Pypirc => "a .pypirc holds package upload credentials",
            CredentialKind::PipConfig => "this pip config has a password in an index URL",
            CredentialKind::Npmrc => "this .npmrc holds an npm auth token or password",
            CredentialKind::DockerConfig => "a docker config holds registry logins",
            CredentialKind::GitCredentials => "a .git-credentials file holds git passwords",
            CredentialKind::GhaCredentials => {
                "google-github-actions/auth writes Google credentials to gha-creds-*.json"
            }
            CredentialKind::GoogleCredentials => "this JSON is a Google credential key",
            CredentialKind::PrivateKey => "this is a private key",
            CredentialKind::DotEnv => "a .env file holds environment secrets",
            CredentialKind::UrlCredentials => "a URL with a password or token in it",
            CredentialKind::Token(TokenKind::GoogleAccess) => "a Google access token (`ya29.`)",
            CredentialKind::Token(TokenKind::GitHub) => "a GitHub token",
            CredentialKind::Token(TokenKind::GitLab) => "a GitLab access token (`glpat-`)",
            CredentialKind::Token(TokenKind::AwsAccessKey) => "an AWS access key id",
        }
    }

    /// Whether the rule is one of the noisy ones (private keys, tokens, URLs with credentials):
    /// libraries and packages ship test keys, example tokens and documented URLs, so these rules
    /// are not run on binary files. The others (netrc, docker config, Google keys, npm, pypirc,
    /// dotenv) match whole credential structures and run on every file.
    pub fn is_noisy(self) -> bool {
        matches!(
            self,
            CredentialKind::PrivateKey | CredentialKind::Token(_) | CredentialKind::UrlCredentials
        )
    }

    /// The rule's name, as docs/leak-guard.md lists it.
    pub fn rule(self) -> &'static str {
        match self {
            CredentialKind::Netrc => "netrc",
            CredentialKind::Pypirc => "pypirc",
            CredentialKind::PipConfig => "pip-config",
            CredentialKind::Npmrc => "npmrc",
            CredentialKind::DockerConfig => "docker-config",
            CredentialKind::GitCredentials => "git-credentials",
            CredentialKind::GhaCredentials => "gha-creds",
            CredentialKind::GoogleCredentials => "google-key",
            CredentialKind::PrivateKey => "private-key",
            CredentialKind::DotEnv => "dotenv",
            CredentialKind::UrlCredentials => "url-credentials",
            CredentialKind::Token(_) => "token",
        }
    }
}

impl std::fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

/// One credential found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Detection {
    /// What it is.
    pub kind: CredentialKind,
    /// Whether the credential is the file's whole purpose (see the [module docs](self)).
    pub whole_file: bool,
}

/// Literals one of which occurs in any text a detector can fire on, each with the detectors it
/// wakes. Few enough, and case-sensitive, for aho-corasick's SIMD searcher; where one anchor
/// is inside another (`password` in `_password`), the longer wakes both detectors.
const ANCHORS: &[(&str, u32)] = &[
    ("password", NETRC | NPM),
    ("PASSWORD", NETRC),
    ("Password", NETRC),
    ("_password", NETRC | NPM),
    ("\"auth", DOCKER),
    ("_auth", NPM),
    ("private_key", GOOGLE),
    ("refresh_token", GOOGLE),
    ("PRIVATE KEY-----", PEM),
    ("://", URL),
    ("ya29.", TOKENS),
    ("ghp_", TOKENS),
    ("gho_", TOKENS),
    ("ghu_", TOKENS),
    ("ghs_", TOKENS),
    ("ghr_", TOKENS),
    ("github_pat_", TOKENS),
    ("glpat-", TOKENS),
    ("AKIA", TOKENS),
    ("ASIA", TOKENS),
];

const NETRC: u32 = 1;
const DOCKER: u32 = 1 << 1;
const GOOGLE: u32 = 1 << 2;
const PEM: u32 = 1 << 3;
const NPM: u32 = 1 << 4;
const URL: u32 = 1 << 5;
const TOKENS: u32 = 1 << 6;

static ANCHOR_AUTOMATON: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(ANCHORS.iter().map(|(a, _)| a))
        .expect("literal patterns always build")
});

/// Whether a detector could fire on `text`, the contents of a file (`complete` when that is
/// all of it): one pass of a small automaton, so that a caller holding text anyway (the scan)
/// runs [`detect`] only where it can matter.
pub fn may_hold_credential(text: &[u8], complete: bool) -> bool {
    ANCHOR_AUTOMATON.is_match(text) || (complete && dotenv_candidate(text))
}

/// The detectors `text` wakes.
fn woken(text: &[u8]) -> u32 {
    let mut woken = 0;
    for m in ANCHOR_AUTOMATON.find_iter(text) {
        woken |= ANCHORS[m.pattern().as_usize()].1;
    }
    woken
}

/// Whether the first line that is not blank or a comment is a `KEY=value` assignment, as in
/// every `.env` file: a check of a few bytes, before the whole-file one.
fn dotenv_candidate(text: &[u8]) -> bool {
    let Some(line) = text
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .find(|l| !l.is_empty() && !l.starts_with(b"#"))
    else {
        return false;
    };
    let line = line
        .strip_prefix(b"export ")
        .unwrap_or(line)
        .trim_ascii_start();
    let key = line
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        .count();
    key > 0 && !line[0].is_ascii_digit() && line.get(key) == Some(&b'=')
}

/// Names whose purpose is configuration that may carry credentials: any credential in one is
/// its whole purpose (a `pip.conf` is left out, not reported).
fn is_config_name(name: &[u8]) -> Option<CredentialKind> {
    match name {
        b"pip.conf" | b"pip.ini" => Some(CredentialKind::PipConfig),
        b".npmrc" => Some(CredentialKind::Npmrc),
        b".pypirc" => Some(CredentialKind::Pypirc),
        b".git-credentials" => Some(CredentialKind::GitCredentials),
        _ => None,
    }
}

/// [`detect`] for a binary file (a NUL byte in its first 8 KiB: a library, a `.pyc`, an
/// archive): only the rules that are not [noisy](CredentialKind::is_noisy). A credential file
/// with a NUL byte put in front of it is still a credential file.
pub fn detect_binary(name: &[u8], text: &[u8], complete: bool) -> Vec<Detection> {
    let mut found = detect(name, text, complete);
    found.retain(|d| !d.kind.is_noisy());
    found
}

/// Whether `head`, a file's first bytes, says the file is binary: a NUL in its first 8 KiB.
pub fn is_binary(head: &[u8]) -> bool {
    memchr::memchr(0, &head[..head.len().min(8192)]).is_some()
}

/// Every credential in `text`, the contents of the file `name` (its last path component).
/// `complete` says `text` is the whole file: only then can the file's whole purpose be judged
/// (a netrc, a dotenv, a JSON key); otherwise only embedded credentials are looked for.
pub fn detect(name: &[u8], text: &[u8], complete: bool) -> Vec<Detection> {
    let mut found = Vec::new();
    let config = is_config_name(name);
    let mut push = |kind: CredentialKind, whole: bool| {
        let whole_file = whole || config.is_some();
        let kind = match (config, kind) {
            (Some(config), CredentialKind::UrlCredentials | CredentialKind::Npmrc) => config,
            _ => kind,
        };
        let detection = Detection { kind, whole_file };
        if !found.contains(&detection) {
            found.push(detection);
        }
    };
    let woken = woken(text);
    if woken & NETRC != 0 && has(text, b"password") {
        if let Some(whole) = netrc(text, complete) {
            push(CredentialKind::Netrc, whole);
        }
        if complete && pypirc(text) {
            push(CredentialKind::Pypirc, true);
        }
    }
    if woken & DOCKER != 0
        && let Some(whole) = docker_config(text, complete)
    {
        push(CredentialKind::DockerConfig, whole);
    }
    if woken & GOOGLE != 0
        && let Some(whole) = google_key(text, complete)
    {
        push(CredentialKind::GoogleCredentials, whole);
    }
    if woken & PEM != 0
        && has(text, b"PRIVATE KEY-----")
        && let Some(whole) = private_key(text, complete)
    {
        push(CredentialKind::PrivateKey, whole);
    }
    if woken & NPM != 0 && npmrc(text) {
        push(CredentialKind::Npmrc, complete && name == b".npmrc");
    }
    if complete && dotenv_candidate(text) && dotenv(name, text) {
        push(CredentialKind::DotEnv, true);
    }
    if woken & URL != 0 && url_credentials(text) {
        push(CredentialKind::UrlCredentials, false);
    }
    if woken & TOKENS != 0 {
        for (kind, token) in tokens(text) {
            let whole = complete && text.trim_ascii() == token;
            push(CredentialKind::Token(kind), whole);
        }
    }
    found
}

fn has(text: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(text, needle).is_some()
}

// --- placeholders -------------------------------------------------------------------------

/// [`placeholder::is_placeholder`] on bytes.
fn is_placeholder(value: &[u8]) -> bool {
    placeholder::is_placeholder(&String::from_utf8_lossy(trim_quotes(value.trim_ascii())))
}

/// [`placeholder::looks_random`] on bytes.
fn looks_random(token: &[u8]) -> bool {
    placeholder::looks_random(&String::from_utf8_lossy(token))
}

fn trim_quotes(value: &[u8]) -> &[u8] {
    let mut value = value;
    while let [b'"' | b'\'', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b'"' | b'\'' | b',' | b';'] = value {
        value = rest;
    }
    value
}

// --- netrc --------------------------------------------------------------------------------

/// netrc entries with a real password: `Some(true)` when the whole text is netrc-shaped.
///
/// An entry is `machine HOST` or `default`, then its `login`, `password`, `account` and `port`
/// pairs; it counts with a login and a real password (not a placeholder, not anonymous FTP's
/// `anonymous` with an address for a password). Prose that happens to say "the default
/// password is" is not an entry: it has no `login`.
fn netrc(text: &[u8], complete: bool) -> Option<bool> {
    if !has(text, b"machine") && !has(text, b"default") {
        return None;
    }
    // Quotes and `;` split too: a netrc echoed by a script (`echo 'machine h ...' > ~/.netrc`).
    let split = |b: &u8| {
        b.is_ascii_whitespace() || b.is_ascii_control() || matches!(b, b'\'' | b'"' | b'`' | b';')
    };
    let tokens: Vec<&[u8]> = text.split(split).filter(|t| !t.is_empty()).collect();
    let mut real = false;
    let mut netrc_tokens = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let start = match tokens[i] {
            b"machine" if i + 1 < tokens.len() => i + 2,
            b"default" => i + 1,
            _ => {
                i += 1;
                continue;
            }
        };
        let (mut login, mut password) = (None, None);
        let mut j = start;
        while j + 1 < tokens.len() {
            match tokens[j] {
                b"login" => login = Some(tokens[j + 1]),
                b"password" => password = Some(tokens[j + 1]),
                b"account" | b"port" => {}
                _ => break,
            }
            j += 2;
        }
        if j > start {
            netrc_tokens += j - i;
        }
        if let (Some(login), Some(password)) = (login, password)
            && login != b"anonymous"
            && !is_placeholder(password)
            && !has_template(password)
        {
            real = true;
        }
        i = j.max(i + 1);
    }
    if !real {
        return None;
    }
    // Comments aside, a netrc file is nothing but its entries.
    let comment_tokens = text
        .split(|&b| b == b'\n')
        .filter(|l| l.trim_ascii_start().starts_with(b"#"))
        .map(|l| l.split(split).filter(|t| !t.is_empty()).count())
        .sum::<usize>();
    Some(complete && netrc_tokens + comment_tokens >= tokens.len())
}

/// A value that is a template or code expression rather than a literal.
fn has_template(value: &[u8]) -> bool {
    value.iter().any(|&b| {
        matches!(
            b,
            b'$' | b'{' | b'}' | b'<' | b'>' | b'%' | b'(' | b')' | b'"' | b'\'' | b'`' | b'\\'
        )
    })
}

/// A `.pypirc`: an ini file (nothing but sections, `key = value` lines and comments) with a
/// `[pypi]`-style section and a real `password =`. Code and docs that show one are not.
fn pypirc(text: &[u8]) -> bool {
    static PASSWORD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?m)^\s*password\s*[=:]\s*(\S+)\s*$").unwrap());
    static INI_LINE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?:\[[^\]]+\]|[A-Za-z0-9_.-]+\s*[=:].*|[#;].*|\s+\S.*)?$").unwrap()
    });
    (has(text, b"[distutils]") || has(text, b"[pypi]") || has(text, b"[testpypi]"))
        && text
            .split(|&b| b == b'\n')
            .all(|l| INI_LINE.is_match(l.trim_ascii_end()))
        && PASSWORD
            .captures_iter(text)
            .any(|c| !is_placeholder(&c[1]) && !has_template(&c[1]))
}

// --- docker config ------------------------------------------------------------------------

/// A docker config's `auths` with a real login: `Some(true)` when the text is that JSON.
fn docker_config(text: &[u8], complete: bool) -> Option<bool> {
    if complete && let Ok(json) = serde_json::from_slice::<serde_json::Value>(text) {
        let auths = json.get("auths")?.as_object()?;
        let real = auths.values().any(|entry| {
            let auth = entry.get("auth").and_then(|a| a.as_str()).unwrap_or("");
            let token = entry
                .get("identitytoken")
                .and_then(|a| a.as_str())
                .unwrap_or("");
            real_basic_auth(auth.as_bytes())
                || (!token.is_empty() && !is_placeholder(token.as_bytes()))
        });
        return real.then_some(true);
    }
    static AUTH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#""(auth|identitytoken)"\s*:\s*"([A-Za-z0-9+/=._-]{8,})""#).unwrap()
    });
    let real = AUTH.captures_iter(text).any(|c| match &c[1] {
        b"auth" => real_basic_auth(&c[2]),
        _ => !is_placeholder(&c[2]) && looks_random(&c[2]),
    });
    real.then_some(false)
}

/// Base64 of `user:password` with a real password.
fn real_basic_auth(auth: &[u8]) -> bool {
    let Ok(decoded) = STANDARD.decode(auth.trim_ascii()) else {
        return false;
    };
    match decoded.iter().position(|&b| b == b':') {
        Some(colon) => !is_placeholder(&decoded[colon + 1..]),
        None => false,
    }
}

// --- Google keys --------------------------------------------------------------------------

/// A service-account key or `authorized_user` credentials: `Some(true)` when the text is that
/// JSON.
fn google_key(text: &[u8], complete: bool) -> Option<bool> {
    static TYPE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#""type"\s*:\s*"(service_account|authorized_user)""#).unwrap()
    });
    static REFRESH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#""refresh_token"\s*:\s*"([^"]{16,})""#).unwrap());
    static PRIVATE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#""private_key"\s*:\s*"(-----BEGIN [A-Z ]*PRIVATE KEY-----[^"]{64,}?-----END [A-Z ]*PRIVATE KEY-----(\\n)?)""#)
            .unwrap()
    });
    TYPE.is_match(text).then_some(())?;
    let real = PRIVATE
        .captures_iter(text)
        .any(|c| private_key(&c[1], false).is_some())
        || REFRESH
            .captures_iter(text)
            .any(|c| !is_placeholder(&c[1]) && looks_random(&c[1]));
    real.then(|| complete && text.trim_ascii_start().starts_with(b"{"))
}

// --- private keys -------------------------------------------------------------------------

/// A PEM private key whose body decodes to a key: `Some(true)` when the text is a PEM file.
fn private_key(text: &[u8], complete: bool) -> Option<bool> {
    /// Longer bodies are not keys (a 16384-bit RSA key is about 12 kB of base64).
    const MAX_BODY: usize = 16 * 1024;
    let mut real = false;
    let mut at = 0;
    while let Some(begin) = memchr::memmem::find(&text[at..], b"-----BEGIN ") {
        let label_start = at + begin + 11;
        let Some(label_len) = memchr::memmem::find(&text[label_start..], b"-----") else {
            break;
        };
        let label = &text[label_start..label_start + label_len];
        let body_start = label_start + label_len + 5;
        at = body_start;
        let Some(kind) = label
            .strip_suffix(b"PRIVATE KEY")
            .or(label.strip_suffix(b"PRIVATE KEY BLOCK"))
        else {
            continue;
        };
        let window = &text[body_start..text.len().min(body_start + MAX_BODY)];
        let Some(end) = memchr::memmem::find(window, b"-----END ") else {
            continue;
        };
        if key_body(kind, &window[..end]) {
            real = true;
            break;
        }
    }
    real.then(|| complete && text.trim_ascii_start().starts_with(b"-----BEGIN"))
}

/// Whether a PEM body (between the lines) decodes to a key structure: DER (an ASN.1 SEQUENCE
/// whose length fits), an OpenSSH key (`openssh-key-v1`), or a PGP key packet.
fn key_body(label: &[u8], body: &[u8]) -> bool {
    // The body as files, JSON strings (`\n`) and source code (quotes, `+`) carry it.
    let body = body
        .split(|&b| b == b'\n')
        .filter(|line| !line.contains(&b':'));
    let mut clean = Vec::new();
    for line in body {
        let mut i = 0;
        while i < line.len() {
            match line[i] {
                b'\\' if line.get(i + 1) == Some(&b'n') => i += 2,
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' => {
                    clean.push(line[i]);
                    i += 1;
                }
                _ => i += 1,
            }
        }
    }
    let clean: Vec<u8> = clean.into_iter().filter(|&b| b != b'=').collect();
    let Ok(der) = base64::engine::general_purpose::STANDARD_NO_PAD.decode(&clean) else {
        return false;
    };
    if label.starts_with(b"OPENSSH") {
        return der.starts_with(b"openssh-key-v1\0");
    }
    if label.starts_with(b"PGP") {
        return der.len() >= 64;
    }
    der_sequence(&der)
}

/// An ASN.1 DER SEQUENCE whose declared length matches the bytes (a key is at least 32 bytes).
fn der_sequence(der: &[u8]) -> bool {
    if der.len() < 32 || der[0] != 0x30 {
        return false;
    }
    let (len, header) = match der[1] {
        n if n < 0x80 => (usize::from(n), 2),
        0x81 => (usize::from(der[2]), 3),
        0x82 => ((usize::from(der[2]) << 8) | usize::from(der[3]), 4),
        0x83 => (
            (usize::from(der[2]) << 16) | (usize::from(der[3]) << 8) | usize::from(der[4]),
            5,
        ),
        _ => return false,
    };
    // A decoder may leave a byte or two of padding.
    let total = header + len;
    total <= der.len() && der.len() - total <= 2 && len >= 16
}

// --- npm, dotenv --------------------------------------------------------------------------

fn npmrc(text: &[u8]) -> bool {
    static AUTH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?m)(?:^|:)(_authToken|_auth|_password)\s*=\s*"?([^\s"]+)"#).unwrap()
    });
    AUTH.captures_iter(text)
        .any(|c| !is_placeholder(&c[2]) && !has_template(&c[2]))
}

/// A `.env`-shaped file: nothing but `KEY=value` lines (comments and `export` allowed), with a
/// secret-looking key holding a real value. Code (`KEY = value`, Python's style) never is.
fn dotenv(name: &[u8], text: &[u8]) -> bool {
    static LINE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)=(.*)$").unwrap());
    const CODE: &[&[u8]] = &[
        b".py", b".pyi", b".js", b".ts", b".rb", b".go", b".rs", b".java", b".c", b".h", b".php",
        b".md", b".rst", b".txt", b".html", b".cfg", b".toml", b".ini", b".yaml", b".yml",
    ];
    if CODE.iter().any(|ext| name.ends_with(ext)) || text.len() > 256 * 1024 {
        return false;
    }
    let mut secret = false;
    let mut lines = 0;
    for line in text.split(|&b| b == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let Some(c) = LINE.captures(line) else {
            return false;
        };
        lines += 1;
        let key = String::from_utf8_lossy(&c[1]);
        let value = trim_quotes(c[2].trim_ascii());
        if is_secret_name(&key)
            && value.len() >= 8
            && !is_placeholder(value)
            && !has_template(value)
            && !crate::leak::names::looks_like_path(&String::from_utf8_lossy(value))
        {
            secret = true;
        }
    }
    secret && lines > 0
}

// --- URLs ---------------------------------------------------------------------------------

fn url_credentials(text: &[u8]) -> bool {
    super::userinfo::find(text).next().is_some()
}

// --- tokens -------------------------------------------------------------------------------

/// Well-known tokens in `text`, each checked as far as its format allows.
fn tokens(text: &[u8]) -> Vec<(TokenKind, &[u8])> {
    static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"(?:^|[^A-Za-z0-9_])(",
            r"ya29\.[0-9A-Za-z_-]{30,}",
            r"|gh[pousr]_[0-9A-Za-z]{36}",
            r"|github_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59}",
            r"|glpat-[0-9A-Za-z_-]{20,}",
            r"|(?:AKIA|ASIA)[0-9A-Z]{16}",
            r")(?:$|[^A-Za-z0-9_-])"
        ))
        .unwrap()
    });
    let mut out = Vec::new();
    for c in TOKEN.captures_iter(text) {
        let token = c.get(1).expect("group 1 always matches").as_bytes();
        let kind = match token {
            [b'y', b'a', b'2', b'9', ..] => TokenKind::GoogleAccess,
            [b'g', b'h', ..] | [b'g', b'i', b't', b'h', b'u', b'b', ..] => TokenKind::GitHub,
            [b'g', b'l', b'p', b'a', b't', ..] => TokenKind::GitLab,
            _ => TokenKind::AwsAccessKey,
        };
        let real = match kind {
            TokenKind::GitHub if token.starts_with(b"github_pat_") => looks_random(&token[11..]),
            TokenKind::GitHub => github_checksum(&token[4..]),
            TokenKind::AwsAccessKey => {
                !token.ends_with(b"EXAMPLE") && looks_random_upper(&token[4..])
            }
            TokenKind::GoogleAccess => looks_random(&token[5..]) && !is_placeholder(token),
            TokenKind::GitLab => looks_random(&token[6..]) && !is_placeholder(token),
        };
        if real {
            out.push((kind, token));
        }
    }
    out
}

/// An AWS key id's random part: upper case and digits, not a run or a word.
fn looks_random_upper(part: &[u8]) -> bool {
    let digits = part.iter().filter(|b| b.is_ascii_digit()).count();
    let mut seen = [false; 256];
    let distinct = part
        .iter()
        .filter(|&&b| !std::mem::replace(&mut seen[usize::from(b)], true))
        .count();
    digits >= 1 && distinct >= 8 && !is_placeholder(part)
}

/// GitHub's token checksum: the last six characters are the CRC-32 of the first thirty, in
/// base62 (`0-9A-Za-z`), zero-padded.
fn github_checksum(body: &[u8]) -> bool {
    if body.len() != 36 {
        return false;
    }
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut crc = crc32(&body[..30]);
    let mut digits = [b'0'; 6];
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[(crc % 62) as usize];
        crc /= 62;
    }
    crc == 0 && digits == body[30..]
}

/// CRC-32 (IEEE), as zlib computes it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
pub(crate) mod tests;
