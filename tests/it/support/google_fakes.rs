//! Local stand-ins for Google's auth endpoints that speak the real protocols and check what
//! they are sent, so a flow passes only if it would pass against Google:
//!
//! - [`OAuthTokenEndpoint`]: `oauth2.googleapis.com/token`, the JWT-bearer grant (RFC 7523, the
//!   assertion's RS256 signature verified with the service account's public key, `iss`, `aud`,
//!   `scope`, `iat`, `exp` checked) and the refresh-token grant (form or JSON body);
//! - [`Sts`]: `sts.googleapis.com/v1/token`, the token exchange of RFC 8693;
//! - [`GithubOidc`]: the GitHub Actions ID-token endpoint google-github-actions/auth points at;
//! - [`IamCredentials`]: `iamcredentials.googleapis.com` `generateAccessToken`;
//! - [`MetadataServer`]: the GCE metadata server (`Metadata-Flavor: Google` required).
//!
//! Test keys are RSA-2048 keys generated at test time; nothing here is a real credential.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::http_server::{Recorded, Reply, TestServer};

pub const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
pub const IAM_SCOPE: &str = "https://www.googleapis.com/auth/iam";
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
pub const MDS_TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";

/// A token value no one else issues, so a test can tell whose token came back.
pub fn unique_token(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "ya29.{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A test-only RSA key, as a service-account key file carries it.
pub struct TestKey {
    pair: KeyPair,
    /// PKCS#8 PEM, the form Google issues.
    pub pem: String,
}

impl TestKey {
    /// A key shared by the whole test binary (RSA key generation is slow in debug builds).
    pub fn trusted() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(TestKey::generate)
    }

    /// A second key, which no fake endpoint trusts.
    pub fn untrusted() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(TestKey::generate)
    }

    fn generate() -> TestKey {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("generate RSA-2048");
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).expect("PKCS#8");
        let b64 = STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        TestKey { pair, pem }
    }

    /// `RSAPublicKey` DER, to verify signatures with.
    pub fn public_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }
}

/// A service-account key file's JSON, as the Cloud console downloads it.
pub fn service_account_key_json(
    key: &TestKey,
    email: &str,
    key_id: &str,
    token_uri: &str,
) -> Value {
    json!({
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": key_id,
        "private_key": key.pem,
        "client_email": email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": format!("https://www.googleapis.com/robot/v1/metadata/x509/{email}"),
        "universe_domain": "googleapis.com"
    })
}

/// A forced answer, to test how refusals are reported.
type Override = Arc<Mutex<Option<Reply>>>;

fn forced(force: &Override) -> Option<Reply> {
    force.lock().unwrap().clone()
}

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

/// A service account the token endpoint knows.
#[derive(Clone)]
pub struct KnownServiceAccount {
    pub email: String,
    pub key_id: String,
    pub public_der: Vec<u8>,
}

/// A user (gcloud login) the token endpoint knows.
#[derive(Clone)]
pub struct KnownUser {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
}

/// Google's OAuth2 token endpoint at `/token`.
pub struct OAuthTokenEndpoint {
    pub server: TestServer,
    /// The token every successful grant returns.
    pub issued: String,
    force: Override,
}

impl OAuthTokenEndpoint {
    pub async fn start(accounts: Vec<KnownServiceAccount>, users: Vec<KnownUser>) -> Self {
        let issued = unique_token("oauth");
        let force: Override = Arc::default();
        let own_url: Arc<OnceLock<String>> = Arc::default();
        let (token, force_in, url_in) = (issued.clone(), force.clone(), own_url.clone());
        let server = TestServer::start(move |req| {
            if let Some(reply) = forced(&force_in) {
                return reply;
            }
            if req.method != "POST" || req.path != "/token" {
                return Reply::text(404, "Not Found");
            }
            let aud = url_in.get().expect("url is set before any request");
            token_endpoint(req, aud, &accounts, &users, &token)
        })
        .await;
        own_url.set(server.url("/token")).unwrap();
        Self {
            server,
            issued,
            force,
        }
    }

    /// The URL to put in a key file's `token_uri`.
    pub fn token_uri(&self) -> String {
        self.server.url("/token")
    }

    /// From now on, answer every request with `reply`.
    pub fn refuse_with(&self, reply: Reply) {
        *self.force.lock().unwrap() = Some(reply);
    }
}

fn token_endpoint(
    req: &Recorded,
    aud: &str,
    accounts: &[KnownServiceAccount],
    users: &[KnownUser],
    issued: &str,
) -> Reply {
    let is_json = req
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json"));
    let params: std::collections::HashMap<String, String> = if is_json {
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(map)) => map
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                .collect(),
            _ => return oauth_error(400, "invalid_request", "Invalid JSON payload"),
        }
    } else {
        req.form()
    };
    let granted = json!({ "access_token": issued, "expires_in": 3599, "token_type": "Bearer" });
    match params.get("grant_type").map(String::as_str) {
        Some(JWT_BEARER) => {
            let Some(assertion) = params.get("assertion") else {
                return oauth_error(
                    400,
                    "invalid_request",
                    "Missing required parameter: assertion",
                );
            };
            match verify_assertion(assertion, aud, accounts) {
                Ok(()) => Reply::json(200, granted),
                Err(reply) => reply,
            }
        }
        Some("refresh_token") => {
            let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
            let Some(user) = users.iter().find(|u| u.client_id == get("client_id")) else {
                return oauth_error(401, "invalid_client", "The OAuth client was not found.");
            };
            if user.client_secret != get("client_secret") {
                return oauth_error(401, "invalid_client", "Unauthorized");
            }
            if user.refresh_token != get("refresh_token") {
                return oauth_error(400, "invalid_grant", "Bad Request");
            }
            Reply::json(200, granted)
        }
        _ => oauth_error(400, "unsupported_grant_type", "Invalid grant_type"),
    }
}

/// Checks a JWT-bearer assertion as Google does: RS256 by a known key, `iss` that key's account,
/// `aud` this endpoint, a `scope`, and a lifetime of at most an hour around now.
fn verify_assertion(
    assertion: &str,
    aud: &str,
    accounts: &[KnownServiceAccount],
) -> Result<(), Reply> {
    let bad = |why: &str| oauth_error(400, "invalid_grant", why);
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(bad("Invalid JWT: not three parts"));
    };
    let decode = |part: &str| -> Result<Value, Reply> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| bad("Invalid JWT: bad base64"))?;
        serde_json::from_slice(&bytes).map_err(|_| bad("Invalid JWT: bad JSON"))
    };
    let header = decode(header)?;
    let claims_json = decode(claims)?;
    if header["alg"] != "RS256" {
        return Err(bad("Invalid JWT: alg must be RS256"));
    }
    let iss = claims_json["iss"].as_str().unwrap_or_default();
    let Some(account) = accounts.iter().find(|a| a.email == iss) else {
        return Err(bad("Invalid JWT: unknown issuer"));
    };
    if let Some(kid) = header["kid"].as_str()
        && kid != account.key_id
    {
        return Err(bad("Invalid JWT: unknown key id"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| bad("Invalid JWT Signature."))?;
    let signed = format!("{}.{}", parts[0], parts[1]);
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &account.public_der)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| bad("Invalid JWT Signature."))?;
    if claims_json["aud"] != aud {
        return Err(bad("Invalid JWT: Failed audience check."));
    }
    let scope = claims_json["scope"].as_str().unwrap_or_default();
    if !scope.split(' ').any(|s| s == CLOUD_PLATFORM) {
        return Err(oauth_error(
            400,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ));
    }
    let (iat, exp, now) = (
        claims_json["iat"].as_u64().unwrap_or(0),
        claims_json["exp"].as_u64().unwrap_or(0),
        now(),
    );
    if exp <= now || iat > now + 60 || exp.saturating_sub(iat) > 3600 {
        return Err(bad(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        ));
    }
    Ok(())
}

/// What the STS must be sent to issue its token.
#[derive(Clone)]
pub struct StsExpectation {
    pub audience: String,
    pub subject_token: String,
    pub subject_token_type: String,
}

/// Google's Security Token Service at `/v1/token`.
pub struct Sts {
    pub server: TestServer,
    pub issued: String,
}

impl Sts {
    pub async fn start(expect: StsExpectation) -> Self {
        let issued = unique_token("sts");
        let token = issued.clone();
        let server = TestServer::start(move |req| {
            if req.method != "POST" || req.path != "/v1/token" {
                return Reply::text(404, "Not Found");
            }
            let form = req.form();
            let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
            if get("grant_type") != TOKEN_EXCHANGE {
                return oauth_error(400, "unsupported_grant_type", "Invalid grant_type");
            }
            if get("requested_token_type") != ACCESS_TOKEN_TYPE {
                return oauth_error(400, "invalid_request", "Invalid requested_token_type");
            }
            if get("subject_token_type") != expect.subject_token_type {
                return oauth_error(400, "invalid_request", "Invalid subject_token_type");
            }
            if get("audience") != expect.audience {
                return oauth_error(
                    400,
                    "invalid_target",
                    "The target service indicated by the \"audience\" parameters is invalid.",
                );
            }
            if get("subject_token") != expect.subject_token {
                return oauth_error(400, "invalid_grant", "The given subject token is invalid.");
            }
            let scopes: Vec<&str> = get("scope").split(' ').collect();
            if !scopes.contains(&CLOUD_PLATFORM) && !scopes.contains(&IAM_SCOPE) {
                return oauth_error(400, "invalid_scope", "Invalid scope");
            }
            Reply::json(
                200,
                json!({
                    "access_token": token,
                    "issued_token_type": ACCESS_TOKEN_TYPE,
                    "token_type": "Bearer",
                    "expires_in": 3600
                }),
            )
        })
        .await;
        Self { server, issued }
    }

    pub fn token_url(&self) -> String {
        self.server.url("/v1/token")
    }
}

/// The GitHub Actions OIDC endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`): `GET ?audience=...` with
/// `Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN` answers `{"value": "<JWT>"}`.
pub struct GithubOidc {
    pub server: TestServer,
    pub request_token: String,
    pub id_token: String,
}

impl GithubOidc {
    pub async fn start() -> Self {
        let request_token = format!("gha-request-token-{}", unique_token("req"));
        let id_token = format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(format!(
                r#"{{"sub":"repo:acme/app","n":"{}"}}"#,
                unique_token("oidc")
            ))
        );
        let (expected, value) = (format!("Bearer {request_token}"), id_token.clone());
        let server = TestServer::start(move |req| {
            if req.method != "GET" || req.path != "/idtoken" {
                return Reply::text(404, "Not Found");
            }
            if req.header("authorization") != Some(expected.as_str()) {
                return Reply::json(401, json!({ "message": "Bad credentials" }));
            }
            if !req.query_params().contains_key("audience") {
                return Reply::json(400, json!({ "message": "audience is required" }));
            }
            Reply::json(200, json!({ "count": 1, "value": value }))
        })
        .await;
        Self {
            server,
            request_token,
            id_token,
        }
    }

    /// The URL as google-github-actions/auth writes it, `audience` appended.
    pub fn url(&self, audience: &str) -> String {
        format!(
            "{}?api-version=2.0&audience={}",
            self.server.url("/idtoken"),
            audience.replace(':', "%3A").replace('/', "%2F")
        )
    }
}

/// IAM Credentials `generateAccessToken` for one service account, accepting one bearer token.
pub struct IamCredentials {
    pub server: TestServer,
    pub issued: String,
    force: Override,
}

impl IamCredentials {
    pub async fn start(service_account: &str, accepted_bearer: String) -> Self {
        let issued = unique_token("iam");
        let force: Override = Arc::default();
        let path = format!("/v1/projects/-/serviceAccounts/{service_account}:generateAccessToken");
        let (token, force_in, route) = (issued.clone(), force.clone(), path.clone());
        let server = TestServer::start(move |req| {
            if let Some(reply) = forced(&force_in) {
                return reply;
            }
            if req.method != "POST" || req.path != route {
                return Reply::text(404, "Not Found");
            }
            if req.header("authorization") != Some(&format!("Bearer {accepted_bearer}")) {
                return google_api_error(
                    401,
                    "Request had invalid authentication credentials.",
                    "UNAUTHENTICATED",
                );
            }
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let scopes = body["scope"].as_array().cloned().unwrap_or_default();
            if !scopes.iter().any(|s| s == CLOUD_PLATFORM) {
                return google_api_error(400, "Invalid scope", "INVALID_ARGUMENT");
            }
            Reply::json(
                200,
                json!({ "accessToken": token, "expireTime": rfc3339(now() + 3600) }),
            )
        })
        .await;
        Self {
            server,
            issued,
            force,
        }
    }

    /// The `service_account_impersonation_url` for the account.
    pub fn impersonation_url(&self, service_account: &str) -> String {
        self.server.url(&format!(
            "/v1/projects/-/serviceAccounts/{service_account}:generateAccessToken"
        ))
    }

    pub fn refuse_with(&self, reply: Reply) {
        *self.force.lock().unwrap() = Some(reply);
    }
}

pub fn google_api_error(status: u16, message: &str, code: &str) -> Reply {
    Reply::json(
        status,
        json!({ "error": { "code": status, "message": message, "status": code } }),
    )
}

/// The GCE metadata server: `GET /` answers with `Metadata-Flavor: Google` (the probe), the
/// default service account's token needs the `Metadata-Flavor: Google` request header, and
/// requests through a proxy (`X-Forwarded-For`) are refused, as on GCE.
pub struct MetadataServer {
    pub server: TestServer,
    pub issued: String,
    force: Override,
}

impl MetadataServer {
    pub async fn start() -> Self {
        let issued = unique_token("mds");
        let force: Override = Arc::default();
        let (token, force_in) = (issued.clone(), force.clone());
        let server = TestServer::start(move |req| {
            let flavored = |reply: Reply| reply.with_header("Metadata-Flavor", "Google");
            if req.header("x-forwarded-for").is_some() {
                return flavored(Reply::text(403, "Forbidden"));
            }
            if req.method != "GET" {
                return flavored(Reply::text(405, "Method Not Allowed"));
            }
            if req.path == "/" {
                return flavored(Reply::text(200, "computeMetadata/\n"));
            }
            if req.header("metadata-flavor") != Some("Google") {
                return flavored(Reply::text(403, "Missing required header: Metadata-Flavor"));
            }
            if let Some(reply) = forced(&force_in) {
                return flavored(reply);
            }
            match req.path.as_str() {
                MDS_TOKEN_PATH => flavored(Reply::json(
                    200,
                    json!({ "access_token": token, "expires_in": 3599, "token_type": "Bearer" }),
                )),
                "/computeMetadata/v1/universe/universe-domain" => {
                    flavored(Reply::text(200, "googleapis.com"))
                }
                _ => flavored(Reply::text(404, "Not Found")),
            }
        })
        .await;
        Self {
            server,
            issued,
            force,
        }
    }

    /// `127.0.0.1:PORT`, as `GCE_METADATA_HOST` holds it.
    pub fn host(&self) -> String {
        self.server.host()
    }

    pub fn refuse_with(&self, reply: Reply) {
        *self.force.lock().unwrap() = Some(reply);
    }

    /// Answer token requests only after `delay`.
    pub fn delay_tokens(&self, delay: Duration, issued: &str) {
        let reply = Reply::json(
            200,
            json!({ "access_token": issued, "expires_in": 3599, "token_type": "Bearer" }),
        )
        .after(delay);
        *self.force.lock().unwrap() = Some(reply);
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (days-from-civil, Howard Hinnant's algorithm).
pub fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[test]
fn rfc3339_matches_known_instants() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
}
