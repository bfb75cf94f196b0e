//! What looks like a secret in a Dockerfile's text: variable names (`GITHUB_TOKEN`,
//! `PIP_INDEX_PASSWORD`) and URLs with a password in them (`https://user:pass@host`).

use std::sync::LazyLock;

use regex::Regex;

pub(crate) use crate::leak::names::{is_secret_name, looks_like_path};

static URL_CREDENTIALS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^/\s@]+)@([^/\s:@'\x22]*)").unwrap()
});

/// A password that is only a shell expansion (`$TOKEN`, `${TOKEN}`), which a `RUN` fills in at
/// run time, perhaps from a secret mount.
static SHELL_VARIABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\$(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)$").unwrap());

/// The URLs in `text` that carry a password, each as `scheme://user:****@host` (the password
/// never leaves this function). With `allow_variables`, a password that is only a `$VAR` is not
/// counted: the shell of a `RUN` expands it at run time.
pub(crate) fn url_credentials(text: &str, allow_variables: bool) -> Vec<String> {
    URL_CREDENTIALS
        .captures_iter(text)
        .filter(|c| !(allow_variables && SHELL_VARIABLE.is_match(&c[2])))
        .map(|c| format!("{}****@{}", &c[1], &c[3]))
        .collect()
}

/// `text` with the password of every URL that has one replaced by `****`.
pub(crate) fn mask_url_credentials(text: &str) -> String {
    URL_CREDENTIALS
        .replace_all(text, "${1}****@${3}")
        .into_owned()
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
        assert_eq!(
            mask_url_credentials(text),
            "pip install --index-url https://user:****@pypi.example/simple x"
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
    }
}
