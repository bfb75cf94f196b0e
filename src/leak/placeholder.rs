//! What is not a credential although it stands where one would: the placeholders
//! documentation and test data use (`user:password@`, `${TOKEN}`, `<your-token>`, `SAS_KEY`,
//! `changeme`), and what tells a random token from a word. One set of rules for every detector
//! ([`super::shapes`], [`super::userinfo`]).

use std::sync::LazyLock;

/// A value that is a reference to something filled in later: a shell or Dockerfile variable,
/// a command substitution, a template field.
pub fn is_variable(value: &str) -> bool {
    static VARIABLE: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r"^(?:\$[A-Za-z_][A-Za-z0-9_]*|\$\{[^}]*\}|\$\([^)]*\)|%\([^)]*\)[sdr]?|\{\{[^}]*\}\}|\{[^}]*\}|%[A-Za-z_][A-Za-z0-9_]*%)$",
        )
        .unwrap()
    });
    VARIABLE.is_match(value)
}

/// Whether a value is a placeholder rather than a credential: a variable ([`is_variable`]),
/// a value shorter than 4 characters, `<...>`, `[...]`, `(...)`, anything with `...`, runs of
/// one character or of `x`, `*`, `.`, `#`, a template's field name (`SAS_KEY`), the words
/// documentation uses (`password`, `changeme`, `tiger`...) and values containing the tell-tale
/// ones (`example`, `your_`, `dummy`, `redacted`...).
pub fn is_placeholder(value: &str) -> bool {
    let value = value
        .trim()
        .trim_matches(|c| matches!(c, '"' | '\'' | ',' | ';'));
    if is_variable(value) || value.chars().count() < 4 || value.starts_with('$') {
        return true;
    }
    let enclosed = |open: char, close: char| {
        value.len() >= 2 && value.starts_with(open) && value.ends_with(close)
    };
    if enclosed('<', '>') || enclosed('[', ']') || enclosed('(', ')') || enclosed('{', '}') {
        return true;
    }
    if value.contains("...") || value.contains('…') {
        return true;
    }
    let mut chars = value.chars();
    let first = chars.next().unwrap_or_default();
    // `glpat-xxxxxxxxxxxxxxxxxxxx`, as GitLab's docs write a token.
    let unprefixed = TOKEN_PREFIXES
        .iter()
        .find_map(|p| value.strip_prefix(p))
        .unwrap_or(value);
    if chars.all(|c| c == first) || unprefixed.chars().all(|c| "xX*._-#?".contains(c)) {
        return true;
    }
    // A template's field name: `SAS_POLICY_NAME:SAS_KEY`, `USER:PASSWORD`.
    static FIELD_NAME: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"^(?:[A-Z]+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)$").unwrap());
    if FIELD_NAME.is_match(value) {
        return true;
    }
    let folded: String = value
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    PLACEHOLDER_WORDS.contains(&folded.as_str())
        || PLACEHOLDER_PARTS.iter().any(|part| folded.contains(part))
}

/// Exact passwords (lower case, letters and digits only) that documentation uses.
const PLACEHOLDER_WORDS: &[&str] = &[
    "pass",
    "passwd",
    "pwd",
    "pw",
    "secret",
    "secrets",
    "changeme",
    "changeit",
    "token",
    "apitoken",
    "key",
    "apikey",
    "foo",
    "bar",
    "baz",
    "foobar",
    "test",
    "testing",
    "dummy",
    "fake",
    "sample",
    "none",
    "null",
    "nil",
    "empty",
    "redacted",
    "hidden",
    "masked",
    "value",
    "user",
    "username",
    "login",
    "name",
    "abc",
    "abc123",
    "123",
    "1234",
    "12345",
    "123456",
    "mytoken",
    "pat",
    "credentials",
    "auth",
    "mysecret",
    "tiger",
    "guest",
    "masterkey",
    "passphrase",
    "xoauthbasic",
];

/// Parts that make any password a placeholder (`my_password`, `example-token`).
const PLACEHOLDER_PARTS: &[&str] = &[
    "password",
    "passwd",
    "example",
    "placeholder",
    "changeme",
    "redacted",
    "yourtoken",
    "yoursecret",
    "yourkey",
    "yourpass",
    "yourapi",
    "your_",
    "your-",
    "dummy",
    "fake",
    "replace",
    "insert",
    "secret",
    "passphrase",
];

/// Prefixes of token formats that are never a login.
pub const TOKEN_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "gldt-",
    "glptt-",
    "pypi-",
    "npm_",
    "xoxb-",
    "xoxp-",
    "ya29.",
];

/// Whether a token looks random rather than like words: 16 characters or more, digits with
/// letters (or both cases over 20 characters), at least 3 bits of entropy a character, and not
/// words joined by `-`, `_`, `.` or in CamelCase.
pub fn looks_random(token: &str) -> bool {
    if token.len() < 16 {
        return false;
    }
    let has = |f: fn(&char) -> bool| token.chars().any(|c| f(&c));
    let (lower, upper, digit) = (
        has(char::is_ascii_lowercase),
        has(char::is_ascii_uppercase),
        has(char::is_ascii_digit),
    );
    let mixed = (digit && (lower || upper)) || (lower && upper && token.len() >= 20);
    mixed && entropy(token) >= 3.0 && !is_word_like(token) && !is_camel_words(token)
}

/// Shannon entropy in bits per character.
fn entropy(value: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in value.bytes() {
        counts[usize::from(b)] += 1;
    }
    let len = value.len() as f64;
    counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = f64::from(n) / len;
            -p * p.log2()
        })
        .sum()
}

/// A few words and short numbers joined by `-`, `_` or `.`: `deploy-user-2024`, `John.Smith`,
/// `ci_bot_account`. A word is letters, at most 12 of them, that look pronounceable (a vowel
/// in every 4 letters or so), optionally capitalised.
fn is_word_like(value: &str) -> bool {
    let parts: Vec<&str> = value
        .split(['-', '_', '.'])
        .filter(|p| !p.is_empty())
        .collect();
    parts.len() >= 2
        && parts.iter().all(|part| {
            let is_number = part.len() <= 4 && part.bytes().all(|b| b.is_ascii_digit());
            let letters = part.bytes().all(|b| b.is_ascii_alphabetic());
            let tail_lower = part.bytes().skip(1).all(|b| b.is_ascii_lowercase());
            let vowels = part.bytes().filter(|b| b"aeiouyAEIOUY".contains(b)).count();
            is_number || (letters && tail_lower && part.len() <= 12 && vowels * 4 >= part.len())
        })
}

/// Words run together in CamelCase, no digits: `DefaultAzureCredential`, a class name that
/// celery and kombu document as `azureblockblob://DefaultAzureCredential@ACCOUNT`.
fn is_camel_words(value: &str) -> bool {
    let bytes = value.as_bytes();
    if !bytes.iter().all(u8::is_ascii_alphabetic) || !bytes[0].is_ascii_uppercase() {
        return false;
    }
    let mut words = Vec::new();
    let mut start = 0;
    for i in 1..=bytes.len() {
        if i == bytes.len() || bytes[i].is_ascii_uppercase() {
            words.push(&value[start..i]);
            start = i;
        }
    }
    words.iter().all(|w| {
        w.len() >= 3
            && w[1..].bytes().all(|b| b.is_ascii_lowercase())
            && w.bytes().any(|b| b"aeiouyAEIOUY".contains(&b))
    })
}
