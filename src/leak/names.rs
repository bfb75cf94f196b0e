//! Secret-looking names: `GITHUB_TOKEN`, `PIP_INDEX_PASSWORD` and `API_KEY` hold secrets;
//! `TOKENIZERS_PARALLELISM`, `PASSWORD_MIN_LENGTH` and `AWS_ACCESS_KEY_ID` do not. The lint
//! checks `ENV`/`ARG` names with it, the shape detectors `.env`-style keys.

/// Name parts that mark a secret on their own (`PIP_INDEX_PASSWORD`, `GITHUB_TOKEN`, `NETRC`).
const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "TOKENS",
    "PASSWORD",
    "PASSWORDS",
    "PASSWD",
    "PASS",
    "PASSPHRASE",
    "PWD",
    "SECRET",
    "SECRETS",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "NETRC",
    "PAT",
    "APIKEY",
    "ACCESSKEY",
    "PRIVATEKEY",
    "AUTHTOKEN",
    "ACCESSTOKEN",
];

/// Two consecutive parts that mark a secret (`API_KEY`, `AWS_ACCESS_KEY`); `KEY` alone does not
/// (`CACHE_KEY`, `SORT_KEY`).
const SECRET_PAIRS: &[(&str, &str)] = &[
    ("API", "KEY"),
    ("ACCESS", "KEY"),
    ("PRIVATE", "KEY"),
    ("SIGNING", "KEY"),
    ("ENCRYPTION", "KEY"),
    ("ACCOUNT", "KEY"),
    ("MASTER", "KEY"),
    ("AUTH", "KEY"),
    ("SESSION", "KEY"),
    ("DEPLOY", "KEY"),
    ("SSH", "KEY"),
    ("LICENSE", "KEY"),
];

/// A last part that says the variable holds something *about* a secret, not the secret:
/// `PASSWORD_MIN_LENGTH`, `GITHUB_TOKEN_FILE`, `API_KEY_ID`, `TOKEN_URL`.
const QUALIFIERS: &[&str] = &[
    "FILE", "PATH", "DIR", "LOCATION", "LENGTH", "LEN", "MIN", "MAX", "SIZE", "NAME", "URL", "URI",
    "ENDPOINT", "HOST", "TYPE", "MODE", "ENABLED", "DISABLED", "REQUIRED", "TTL", "TIMEOUT",
    "EXPIRY", "EXPIRES", "POLICY", "VERSION", "ROTATION", "HEADER", "ID",
];

/// Whether a variable name looks like it holds a secret.
///
/// The name is split into words on anything not alphanumeric and at lower-to-upper case
/// changes, then compared word by word, case-insensitively: a secret word (`TOKEN`, `PASSWORD`,
/// `NETRC`...) or pair (`API_KEY`, `ACCESS_KEY`...) makes it secret-looking, unless the last
/// word is a qualifier (`PASSWORD_MIN_LENGTH`, `TOKEN_FILE`). Whole words only, so
/// `TOKENIZERS_PARALLELISM` and `BYPASS_CACHE` are not secrets; `PWD` alone is the working
/// directory, so only `DB_PWD`-style names count.
pub fn is_secret_name(name: &str) -> bool {
    let words = split_words(name);
    let Some(last) = words.last() else {
        return false;
    };
    if words.len() > 1 && QUALIFIERS.contains(&last.as_str()) {
        return false;
    }
    let single = words
        .iter()
        .any(|w| SECRET_WORDS.contains(&w.as_str()) && !(w == "PWD" && words.len() == 1));
    single
        || words
            .windows(2)
            .any(|pair| SECRET_PAIRS.contains(&(pair[0].as_str(), pair[1].as_str())))
}

/// `AWS_secretAccessKey` -> `AWS`, `SECRET`, `ACCESS`, `KEY`.
fn split_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut word = String::new();
        let mut prev_lower = false;
        for c in part.chars() {
            if c.is_ascii_uppercase() && prev_lower && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            word.push(c.to_ascii_uppercase());
        }
        if !word.is_empty() {
            words.push(word);
        }
    }
    words
}

/// Whether a value names a file rather than holding a secret: `NETRC=/run/secrets/netrc`,
/// `GOOGLE_APPLICATION_CREDENTIALS=/app/key.json`, `TOKEN_DIR=$HOME/.tokens`. Tokens in base64
/// may start with `/` but hold `+` or `=`, which a path here may not.
pub fn looks_like_path(value: &str) -> bool {
    let value = value.trim();
    let rest = ["/", "~/", "$HOME/", "${HOME}/"]
        .iter()
        .find_map(|p| value.strip_prefix(p));
    let Some(rest) = rest else {
        return false;
    };
    !rest.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/~${}-".contains(c))
}
