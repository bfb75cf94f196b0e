//! A service-account key's OAuth2 access token: the JWT-bearer grant of RFC 7523, as Google
//! documents it for server-to-server OAuth ("Preparing to make an authorized API call").
//!
//! `google-cloud-auth` 1.x turns a key into a self-signed JWT only (AIP-4111): it has no option
//! to call the key's `token_uri`. We keep its key handling (PEM parsing and RS256 signing through
//! `service_account::Builder::build_signer`) and do the exchange here: sign `{iss, scope, aud =
//! token_uri, iat, exp}`, POST `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and the
//! assertion to `token_uri`, read `access_token`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use google_cloud_auth::credentials::service_account;
use secrecy::{ExposeSecret, SecretString};

use super::CLOUD_PLATFORM;
use super::failure::{self, Diagnosis};

/// Where Google's keys point, and where we go when a key names no `token_uri`.
pub(crate) const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The grant type of RFC 7523 section 2.1.
pub(crate) const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The longest lifetime Google's token endpoint accepts for an assertion.
const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// Exchanges a signed assertion for an access token at the key's `token_uri`.
pub(crate) async fn fetch_token(
    key: serde_json::Value,
    timeout: Duration,
) -> Result<SecretString, Diagnosis> {
    let token_uri = key
        .get("token_uri")
        .and_then(serde_json::Value::as_str)
        .filter(|uri| !uri.is_empty())
        .unwrap_or(DEFAULT_TOKEN_URI)
        .to_owned();
    let key_id = key
        .get("private_key_id")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let assertion = sign_assertion(key, key_id, &token_uri).await?;
    exchange(&token_uri, &assertion, timeout).await
}

/// The signed JWT: RS256 over `header.claims` with the key's private key.
async fn sign_assertion(
    key: serde_json::Value,
    key_id: Option<String>,
    token_uri: &str,
) -> Result<SecretString, Diagnosis> {
    let signer = service_account::Builder::new(key)
        .build_signer()
        .map_err(|err| failure::describe(&err))?;
    let email = signer
        .client_email()
        .await
        .map_err(|err| failure::describe(&err))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Diagnosis::message("the system clock is before 1970"))?
        .as_secs();
    let mut header = serde_json::json!({ "alg": "RS256", "typ": "JWT" });
    if let Some(key_id) = key_id {
        header["kid"] = key_id.into();
    }
    let claims = serde_json::json!({
        "iss": email,
        "scope": CLOUD_PLATFORM,
        "aud": token_uri,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
    });
    let signing_input = format!("{}.{}", encode_json(&header), encode_json(&claims));
    let signature = signer.sign(signing_input.as_bytes()).await.map_err(|_| {
        // The signer's error quotes PEM parsing details; say what is expected instead.
        Diagnosis::message("cannot sign with its `private_key` (a PKCS#8 RSA key is expected)")
    })?;
    Ok(SecretString::from(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

fn encode_json(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// POSTs the grant and reads the token. No redirects: the assertion goes to `token_uri` only.
async fn exchange(
    token_uri: &str,
    assertion: &SecretString,
    timeout: Duration,
) -> Result<SecretString, Diagnosis> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|err| failure::describe(&err))?;
    // Both values are form-safe except the grant's colons: base64url and dots need no escaping.
    let body = SecretString::from(format!(
        "grant_type={}&assertion={}",
        JWT_BEARER_GRANT.replace(':', "%3A"),
        assertion.expose_secret()
    ));
    let response = client
        .post(token_uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body.expose_secret().to_owned())
        .send()
        .await
        .map_err(|err| failure::describe(&err))?;
    let status = response.status();
    let url = failure::safe_url(response.url());
    let bytes = response
        .bytes()
        .await
        .map_err(|err| failure::describe(&err))?;
    if !status.is_success() {
        return Err(Diagnosis::refused(status.as_u16(), &bytes, Some(&url)));
    }
    #[derive(serde::Deserialize)]
    struct TokenResponse {
        access_token: String,
    }
    let parsed: TokenResponse = serde_json::from_slice(&bytes).map_err(|err| {
        Diagnosis::message(format!(
            "`{url}` answered {status} without an `access_token` ({})",
            failure::describe_json_error(&err)
        ))
    })?;
    Ok(SecretString::from(parsed.access_token))
}
