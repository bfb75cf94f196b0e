//! What looks like a secret in a Dockerfile's text: variable names (`GITHUB_TOKEN`,
//! `PIP_INDEX_PASSWORD`) and URLs with credentials in them (`https://user:S3cr3t@host`,
//! `https://TOKEN@host`: [`crate::leak::userinfo`] decides).

use crate::leak::userinfo;

pub(crate) use crate::leak::names::{is_secret_name, looks_like_path};

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
