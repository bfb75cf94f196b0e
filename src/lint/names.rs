//! What looks like a secret in a Dockerfile's text: variable names (`GITHUB_TOKEN`,
//! `PIP_INDEX_PASSWORD`) and URLs with credentials in them (`https://user:S3cr3t@host`,
//! `https://TOKEN@host`: [`crate::leak::userinfo`] decides).

use crate::leak::userinfo;

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
pub(crate) fn is_secret_name(name: &str) -> bool {
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
pub(crate) fn looks_like_path(value: &str) -> bool {
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

/// The URLs in `text` that carry a credential, each as `scheme://user:****@host` (the secret
/// never leaves this function), by [`userinfo`]'s rules. With `expanded_by_shell`, a secret
/// that is only a `$VAR` is not counted: the shell of a `RUN` expands it at run time, while
/// `ENV`, `ARG` and `LABEL` bake the substituted value into the image.
pub(crate) fn url_credentials(text: &str, expanded_by_shell: bool) -> Vec<String> {
    let bytes = text.as_bytes();
    let masked = |found: userinfo::UrlCredential| found.masked_url(bytes);
    if expanded_by_shell {
        userinfo::find(bytes).map(masked).collect()
    } else {
        userinfo::find_counting_variables(bytes)
            .map(masked)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for name in [
            "PIP_INDEX_PASSWORD",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY",
            "NETRC",
            "API_KEY",
            "api-key",
            "apiKey",
            "PRIVATE_KEY",
            "CREDENTIALS",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "PASSWD",
            "AUTH_TOKEN",
            "DB_PASS",
            "MYSQL_PWD",
            "GH_PAT",
            "SECRET_KEY_BASE",
            "npm_token",
            "OPENAI_APIKEY",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn false_friends_are_not_secret_names() {
        for name in [
            "TOKENIZERS_PARALLELISM",
            "PASSWORD_MIN_LENGTH",
            "GITHUB_TOKEN_FILE",
            "POSTGRES_PASSWORD_FILE",
            "AWS_ACCESS_KEY_ID",
            "API_KEY_NAME",
            "TOKEN_URL",
            "BYPASS_CACHE",
            "PASSENGER_APP_ENV",
            "PWD",
            "OLDPWD",
            "CACHE_KEY",
            "PATH",
            "PIP_INDEX_URL",
            "PIP_NO_CACHE_DIR",
            "KEYRING_PROVIDER",
            "",
            "_",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn paths_are_not_secret_values() {
        for value in [
            "/run/secrets/netrc",
            "/app/key.json",
            "$HOME/.netrc",
            "${HOME}/.netrc",
            "~/.netrc",
        ] {
            assert!(looks_like_path(value), "{value}");
        }
        for value in ["s3cr3t", "/9j+4AAQ==", "/", "ghp_abc", "a/b", "/has space"] {
            assert!(!looks_like_path(value), "{value}");
        }
    }

    #[test]
    fn urls_with_passwords_are_found_and_masked() {
        let text = "pip install --index-url https://user:hunter2@pypi.example/simple x";
        assert_eq!(
            url_credentials(text, false),
            ["https://user:****@pypi.example"]
        );
        assert!(url_credentials("https://pypi.example/simple", false).is_empty());
        assert!(url_credentials("git@github.com:org/repo.git", false).is_empty());
        assert!(url_credentials("ssh://git@github.com/org/repo", false).is_empty());
        assert!(url_credentials("https://user:@host/", false).is_empty());
        assert_eq!(
            url_credentials("HTTPS://u:${TOKEN}@h/x", false),
            ["HTTPS://u:****@h"]
        );
        assert!(url_credentials("https://u:${TOKEN}@h/x", true).is_empty());
        assert!(url_credentials("https://u:$TOKEN@h/x", true).is_empty());
        assert_eq!(url_credentials("https://u:p$TOKEN@h/x", true).len(), 1);
        // A bare token as the login, as Gemfury's index URLs carry it.
        assert_eq!(
            url_credentials("https://1a2B3c4D5e6F7g8H9i0J@pypi.fury.io/acme/", true),
            ["https://****@pypi.fury.io"]
        );
        // Documented placeholders are not credentials.
        assert!(url_credentials("https://user:password@host.com/", false).is_empty());
    }
}
