//! Turning the failures of token flows into messages that are safe to show: the HTTP status,
//! the OAuth or Google API error code, the URL without its query, an I/O error; never a response
//! body, token or key.
//!
//! `google-cloud-auth` errors quote response bodies (`body=<...>`) and, for a subject-token file
//! in JSON, the whole file. So instead of printing them, [`describe`] walks the error chain and
//! picks out the typed facts: `reqwest::Error` (status, URL), `google_cloud_gax::error::Error`
//! (status, payload), `std::io::Error`, `serde_json::Error`.

use std::error::Error;

use google_cloud_auth::errors::CredentialsError;

/// What went wrong, safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diagnosis {
    /// The HTTP status of a refusal.
    pub(crate) status: Option<u16>,
    /// One line, no secrets.
    pub(crate) message: String,
}

impl Diagnosis {
    /// A failure without an HTTP status.
    pub(crate) fn message(message: impl Into<String>) -> Self {
        Self {
            status: None,
            message: message.into(),
        }
    }

    /// A refusal: `HTTP 400 (invalid_grant: Bad Request) from `https://host/path``.
    pub(crate) fn refused(status: u16, body: &[u8], url: Option<&str>) -> Self {
        let mut message = format!("HTTP {status}");
        if let Some(code) = error_code(body) {
            message.push_str(&format!(" ({code})"));
        }
        if let Some(url) = url {
            message.push_str(&format!(" from `{url}`"));
        }
        Self {
            status: Some(status),
            message,
        }
    }
}

impl From<String> for Diagnosis {
    fn from(message: String) -> Self {
        Self::message(message)
    }
}

impl From<&str> for Diagnosis {
    fn from(message: &str) -> Self {
        Self::message(message)
    }
}

/// Describes any error from a token flow by the typed facts in its chain.
pub(crate) fn describe(err: &(dyn Error + 'static)) -> Diagnosis {
    let mut status = None;
    let mut url = None;
    let mut body: Option<Vec<u8>> = None;
    let mut connect = false;
    let mut timeout = false;
    let mut io = None;
    let mut json = None;

    let mut next = Some(err);
    while let Some(cause) = next {
        if let Some(err) = cause.downcast_ref::<reqwest::Error>() {
            status = status.or(err.status().map(|s| s.as_u16()));
            url = url.or(err.url().map(safe_url));
            connect |= err.is_connect();
            timeout |= err.is_timeout();
        } else if let Some(err) = cause.downcast_ref::<google_cloud_gax::error::Error>() {
            status = status.or(err.http_status_code());
            if body.is_none() {
                body = err.http_payload().map(|p| p.to_vec());
            }
            connect |= err.is_connect();
            timeout |= err.is_timeout();
        } else if let Some(err) = cause.downcast_ref::<CredentialsError>() {
            if body.is_none() {
                body = quoted_body(&err.to_string()).map(|b| b.as_bytes().to_vec());
            }
        } else if let Some(err) = cause.downcast_ref::<std::io::Error>() {
            io = io.or(Some(err.to_string()));
        } else if let Some(err) = cause.downcast_ref::<serde_json::Error>() {
            json = json.or(Some(describe_json_error(err)));
        }
        next = cause.source();
    }

    if let Some(status) = status {
        return Diagnosis::refused(status, body.as_deref().unwrap_or_default(), url.as_deref());
    }
    let message = if timeout {
        match url {
            Some(url) => format!("`{url}` did not answer in time"),
            None => "the request timed out".to_owned(),
        }
    } else if connect {
        match url {
            Some(url) => format!("cannot connect to `{url}`"),
            None => "cannot connect".to_owned(),
        }
    } else if let Some(io) = io {
        io
    } else if let Some(json) = json {
        json
    } else {
        fallback_text(err)
    };
    Diagnosis::message(message)
}

/// Describes a JSON error without quoting the input: serde's "invalid type" messages quote the
/// value they met, which may be a key or a token.
pub(crate) fn describe_json_error(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let (line, column) = (err.line(), err.column());
    match err.classify() {
        Category::Syntax | Category::Eof => {
            format!("it is not valid JSON (line {line}, column {column})")
        }
        Category::Io => "it cannot be read".to_owned(),
        Category::Data => {
            let text = err.to_string();
            if text.starts_with("missing field `") {
                let field = text.split(" at line ").next().unwrap_or(&text);
                format!("unexpected contents: {field}")
            } else {
                format!("unexpected contents at line {line}, column {column}")
            }
        }
    }
}

/// `scheme://host[:port]/path`: no user, password or query, which may carry secrets.
pub(crate) fn safe_url(url: &reqwest::Url) -> String {
    let mut out = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(url.path());
    out
}

/// The error code of an OAuth2 (`{"error": "invalid_grant", "error_description": ...}`) or
/// Google API (`{"error": {"status": "PERMISSION_DENIED", ...}}`) error body, with the OAuth
/// description once scrubbed of anything token-like.
pub(crate) fn error_code(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = json.get("error")?;
    if let Some(code) = error.as_str() {
        let code = word(code)?;
        let description = json
            .get("error_description")
            .and_then(serde_json::Value::as_str)
            .map(scrub)
            .filter(|d| !d.is_empty());
        return Some(match description {
            Some(description) => format!("{code}: {description}"),
            None => code,
        });
    }
    error
        .get("status")
        .and_then(serde_json::Value::as_str)
        .and_then(word)
}

/// A protocol word (`invalid_grant`, `PERMISSION_DENIED`), or nothing.
fn word(text: &str) -> Option<String> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    ok.then(|| text.to_owned())
}

/// One line of at most 160 characters, with every token-like run replaced by `****`: a server
/// that echoes what it was sent must not make us print it. Token-like means 20 or more token
/// characters (base64, JWT, hex) with a digit or mixed case, so `gcloud.auth.print-access-token`
/// and `PERMISSION_DENIED` stay readable.
pub(crate) fn scrub(text: &str) -> String {
    fn token_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || "+/=_.-~".contains(c)
    }
    fn token_like(run: &str) -> bool {
        let digit = run.bytes().any(|b| b.is_ascii_digit());
        let upper = run.bytes().any(|b| b.is_ascii_uppercase());
        let lower = run.bytes().any(|b| b.is_ascii_lowercase());
        run.len() >= 20 && (digit || (upper && lower))
    }
    let line = text.lines().next().unwrap_or_default();
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if token_like(run) {
            out.push_str("****");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in line.chars() {
        if token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    let out = out.trim();
    match out.char_indices().nth(160) {
        Some((cut, _)) => format!("{}...", &out[..cut]),
        None => out.to_owned(),
    }
}

/// The `<...>` of `body=<...>` in a `google-cloud-auth` message.
fn quoted_body(text: &str) -> Option<&str> {
    let start = text.find("body=<")? + "body=<".len();
    let end = text.rfind('>')?;
    (end > start).then(|| &text[start..end])
}

/// The top error's own text with any quoted body cut off and scrubbed: the last resort when the
/// chain holds nothing typed.
fn fallback_text(err: &(dyn Error + 'static)) -> String {
    let text = err.to_string();
    let text = text.split("body=<").next().unwrap_or_default();
    let text = text.trim_end_matches([',', ' ']);
    let scrubbed = scrub(text);
    if scrubbed.is_empty() {
        "the request failed".to_owned()
    } else {
        scrubbed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_error_code_and_scrubbed_description() {
        let body = br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#;
        assert_eq!(
            error_code(body).as_deref(),
            Some("invalid_grant: Invalid JWT Signature.")
        );
        let echo = br#"{"error":"invalid_request","error_description":"bad assertion eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln"}"#;
        assert_eq!(
            error_code(echo).as_deref(),
            Some("invalid_request: bad assertion ****")
        );
    }

    #[test]
    fn scrub_hides_tokens_but_keeps_words() {
        assert_eq!(
            scrub(
                "ERROR: (gcloud.auth.print-access-token) no account; token ya29.a0AfH6SMBx-y_z1234"
            ),
            "ERROR: (gcloud.auth.print-access-token) no account; token ****"
        );
        assert_eq!(
            scrub("IAM_PERMISSION_DENIED_BY_POLICY"),
            "IAM_PERMISSION_DENIED_BY_POLICY"
        );
        assert_eq!(scrub("first line\nsecond"), "first line");
    }

    #[test]
    fn google_api_error_status_is_the_code() {
        let body = br#"{"error":{"code":403,"message":"Permission 'x' denied","status":"PERMISSION_DENIED"}}"#;
        assert_eq!(error_code(body).as_deref(), Some("PERMISSION_DENIED"));
    }

    #[test]
    fn a_code_that_is_not_a_word_is_dropped() {
        assert_eq!(error_code(br#"{"error":"has spaces in it"}"#), None);
        assert_eq!(error_code(b"<html>"), None);
    }

    #[test]
    fn refusal_names_status_code_and_url() {
        let d = Diagnosis::refused(
            401,
            br#"{"error":"invalid_client"}"#,
            Some("http://h/token"),
        );
        assert_eq!(d.status, Some(401));
        assert_eq!(d.message, "HTTP 401 (invalid_client) from `http://h/token`");
    }

    #[test]
    fn urls_lose_credentials_and_query() {
        let url = reqwest::Url::parse("https://u:p@host:8443/a/b?token=abc#x").unwrap();
        assert_eq!(safe_url(&url), "https://host:8443/a/b");
    }

    #[test]
    fn json_errors_do_not_quote_values() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Key {
            private_key: String,
        }
        let err = serde_json::from_str::<Key>(r#"{"private_key": ["s3cr3t"]}"#).unwrap_err();
        let text = describe_json_error(&err);
        assert!(!text.contains("s3cr3t"), "{text}");
        let err = serde_json::from_str::<Key>("{}").unwrap_err();
        assert_eq!(
            describe_json_error(&err),
            "unexpected contents: missing field `private_key`"
        );
    }

    #[test]
    fn quoted_bodies_are_cut_from_fallback_text() {
        let err = CredentialsError::from_msg(
            false,
            r#"failed to read subject token field `value` as string, body=<{"token":"s3cr3t"}>"#,
        );
        let d = describe(&err);
        assert!(!d.message.contains("s3cr3t"), "{}", d.message);
        assert!(
            d.message.starts_with("failed to read subject token field"),
            "{}",
            d.message
        );
    }
}
