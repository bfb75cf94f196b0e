//! Google access tokens from Application Default Credentials, against local servers that speak
//! Google's protocols (tests/it/support/google_fakes.rs): each test gets the token the server
//! issued, or an error that names the source and the HTTP status but no secret. Every server
//! listens on 127.0.0.1; nothing reaches Google.

#[path = "support/google_fakes.rs"]
mod fakes;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shipimg::credentials::google::{GoogleEnv, GoogleError, GoogleToken, access_token};

use crate::http_server::{Reply, TestServer};
use fakes::{
    CLOUD_PLATFORM, GithubOidc, IAM_SCOPE, IamCredentials, JWT_BEARER, JWT_TOKEN_TYPE,
    KnownServiceAccount, KnownUser, MDS_TOKEN_PATH, MetadataServer, OAuthTokenEndpoint, Sts,
    StsExpectation, TestKey, google_api_error, service_account_key_json,
};

const SERVICE_ACCOUNT: &str = "shipimg-ci@test-project.iam.gserviceaccount.com";
const KEY_ID: &str = "0123456789abcdef0123456789abcdef01234567";
const WIF_AUDIENCE: &str = "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/github/providers/github";

/// An environment with nothing in it: no files, no metadata probe, no `PATH`; short limits.
fn empty_env() -> GoogleEnv {
    GoogleEnv {
        timeout: Duration::from_secs(10),
        metadata_probe_timeout: Duration::from_millis(500),
        gcloud_timeout: Duration::from_secs(10),
        ..GoogleEnv::default()
    }
}

fn env_with_file(path: &Path) -> GoogleEnv {
    GoogleEnv {
        application_credentials: Some(path.to_path_buf()),
        ..empty_env()
    }
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

/// The token is the one `issued`, and `Debug` does not show it.
fn assert_token(token: &GoogleToken, issued: &str) {
    assert_eq!(token.token.expose_secret(), issued, "from {}", token.source);
    let debug = format!("{token:?}");
    assert!(!debug.contains(issued), "{debug}");
    assert!(debug.contains("****"), "{debug}");
}

/// The error's text and hint contain none of `secrets`.
fn assert_no_secrets(err: &GoogleError, secrets: &[&str]) {
    let text = format!("{err} {err:?} {}", err.hint().unwrap_or_default());
    for secret in secrets {
        assert!(!text.contains(secret), "`{secret}` leaked into: {text}");
    }
}

fn known_service_account(key: &TestKey) -> KnownServiceAccount {
    KnownServiceAccount {
        email: SERVICE_ACCOUNT.to_owned(),
        key_id: KEY_ID.to_owned(),
        public_der: key.public_der(),
    }
}

fn test_user() -> KnownUser {
    KnownUser {
        client_id: "764086051850-test.apps.googleusercontent.com".to_owned(),
        client_secret: "d-test-client-secret".to_owned(),
        refresh_token: format!("1//0g-refresh-{}", fakes::unique_token("rt")),
    }
}

/// An `authorized_user` file as gcloud writes it, plus the `token_uri` Google's libraries
/// honour (gcloud leaves it out, meaning `https://oauth2.googleapis.com/token`).
fn authorized_user_json(user: &KnownUser, token_uri: &str) -> Value {
    json!({
        "account": "",
        "client_id": user.client_id,
        "client_secret": user.client_secret,
        "quota_project_id": "test-project",
        "refresh_token": user.refresh_token,
        "type": "authorized_user",
        "universe_domain": "googleapis.com",
        "token_uri": token_uri
    })
}

#[tokio::test]
async fn service_account_key_is_exchanged_for_a_token_at_its_token_uri() {
    let key = TestKey::trusted();
    let oauth = OAuthTokenEndpoint::start(vec![known_service_account(key)], vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let key_json = service_account_key_json(key, SERVICE_ACCOUNT, KEY_ID, &oauth.token_uri());
    let path = write_json(dir.path(), "key.json", &key_json);

    let token = access_token(&env_with_file(&path)).await.unwrap();

    assert_token(&token, &oauth.issued);
    assert_eq!(
        token.source,
        format!(
            "`GOOGLE_APPLICATION_CREDENTIALS` (service account key `{}`)",
            path.display()
        )
    );
    let requests = oauth.server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let form = requests[0].form();
    assert_eq!(form["grant_type"], JWT_BEARER);
    assert_eq!(
        requests[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn every_call_fetches_a_new_token() {
    let key = TestKey::trusted();
    let oauth = OAuthTokenEndpoint::start(vec![known_service_account(key)], vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let key_json = service_account_key_json(key, SERVICE_ACCOUNT, KEY_ID, &oauth.token_uri());
    let env = env_with_file(&write_json(dir.path(), "key.json", &key_json));

    access_token(&env).await.unwrap();
    access_token(&env).await.unwrap();

    assert_eq!(oauth.server.requests().len(), 2);
}

#[tokio::test]
async fn service_account_key_the_endpoint_does_not_trust_is_refused_with_400_invalid_grant() {
    // The endpoint knows the account with the trusted key's public half; the file carries
    // another key, so the signature does not verify.
    let oauth =
        OAuthTokenEndpoint::start(vec![known_service_account(TestKey::trusted())], vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = TestKey::untrusted();
    let key_json = service_account_key_json(wrong, SERVICE_ACCOUNT, KEY_ID, &oauth.token_uri());
    let path = write_json(dir.path(), "key.json", &key_json);

    let err = access_token(&env_with_file(&path)).await.unwrap_err();

    let GoogleError::Failed {
        source_name,
        status,
        message,
    } = &err
    else {
        panic!("expected Failed, got {err:?}");
    };
    assert_eq!(*status, Some(400));
    assert!(source_name.contains("service account key"), "{source_name}");
    assert_eq!(
        message,
        &format!(
            "HTTP 400 (invalid_grant: Invalid JWT Signature.) from `{}`",
            oauth.token_uri()
        )
    );
    let pem_line = wrong.pem.lines().nth(5).unwrap();
    assert_no_secrets(&err, &["PRIVATE KEY", pem_line]);
    // The assertion we sent is a bearer credential for an hour: it must not leak either.
    let assertion = oauth.server.requests()[0].form()["assertion"].clone();
    assert_no_secrets(&err, &[&assertion, assertion.split('.').nth(2).unwrap()]);
}

#[tokio::test]
async fn token_endpoint_answering_401_names_the_source_and_status_not_the_key() {
    let key = TestKey::trusted();
    let oauth = OAuthTokenEndpoint::start(vec![known_service_account(key)], vec![]).await;
    oauth.refuse_with(Reply::json(
        401,
        json!({ "error": "invalid_client", "error_description": "The OAuth client was not found." }),
    ));
    let dir = tempfile::tempdir().unwrap();
    let key_json = service_account_key_json(key, SERVICE_ACCOUNT, KEY_ID, &oauth.token_uri());
    let path = write_json(dir.path(), "key.json", &key_json);

    let err = access_token(&env_with_file(&path)).await.unwrap_err();

    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot get a Google access token from `GOOGLE_APPLICATION_CREDENTIALS` (service account key `{}`): HTTP 401 (invalid_client",
            path.display()
        )),
        "{text}"
    );
    assert!(matches!(
        err,
        GoogleError::Failed {
            status: Some(401),
            ..
        }
    ));
    assert!(err.hint().unwrap().contains("refused"), "{:?}", err.hint());
    assert_no_secrets(&err, &["PRIVATE KEY", key.pem.lines().nth(3).unwrap()]);
}

#[tokio::test]
async fn an_unreachable_token_uri_says_where_it_could_not_connect() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token_uri = format!("http://127.0.0.1:{port}/token");
    let dir = tempfile::tempdir().unwrap();
    let key_json =
        service_account_key_json(TestKey::trusted(), SERVICE_ACCOUNT, KEY_ID, &token_uri);
    let path = write_json(dir.path(), "key.json", &key_json);

    let err = access_token(&env_with_file(&path)).await.unwrap_err();

    assert!(
        matches!(&err, GoogleError::Failed { status: None, message, .. } if *message == format!("cannot connect to `{token_uri}`")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_key_whose_private_key_is_not_pkcs8_is_reported_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut key_json = service_account_key_json(
        TestKey::trusted(),
        SERVICE_ACCOUNT,
        KEY_ID,
        "http://127.0.0.1:9/token",
    );
    key_json["private_key"] =
        "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END RSA PRIVATE KEY-----\n"
            .into();
    let path = write_json(dir.path(), "key.json", &key_json);

    let err = access_token(&env_with_file(&path)).await.unwrap_err();

    assert!(
        err.to_string()
            .ends_with("cannot sign with its `private_key` (a PKCS#8 RSA key is expected)"),
        "{err}"
    );
    assert_no_secrets(&err, &["c2VjcmV0LWtleS1tYXRlcmlhbA"]);
}

#[tokio::test]
async fn authorized_user_file_is_refreshed_at_its_token_uri() {
    let user = test_user();
    let oauth = OAuthTokenEndpoint::start(vec![], vec![user.clone()]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_json(
        dir.path(),
        "adc.json",
        &authorized_user_json(&user, &oauth.token_uri()),
    );

    let token = access_token(&env_with_file(&path)).await.unwrap();

    assert_token(&token, &oauth.issued);
    assert!(
        token.source.contains("authorized_user file"),
        "{}",
        token.source
    );
    let requests = oauth.server.requests();
    assert_eq!(requests.len(), 1);
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["refresh_token"], user.refresh_token.as_str());
}

#[tokio::test]
async fn gcloud_adc_file_under_home_is_used_when_the_variable_is_unset() {
    let user = test_user();
    let oauth = OAuthTokenEndpoint::start(vec![], vec![user.clone()]).await;
    let home = tempfile::tempdir().unwrap();
    let gcloud_dir = home.path().join(".config/gcloud");
    std::fs::create_dir_all(&gcloud_dir).unwrap();
    let path = write_json(
        &gcloud_dir,
        "application_default_credentials.json",
        &authorized_user_json(&user, &oauth.token_uri()),
    );
    let env = GoogleEnv {
        home: Some(home.path().to_path_buf()),
        ..empty_env()
    };

    let token = access_token(&env).await.unwrap();

    assert_token(&token, &oauth.issued);
    assert_eq!(
        token.source,
        format!(
            "gcloud's application default credentials (authorized_user file `{}`)",
            path.display()
        )
    );
}

#[tokio::test]
async fn cloudsdk_config_directory_holds_the_adc_file() {
    let user = test_user();
    let oauth = OAuthTokenEndpoint::start(vec![], vec![user.clone()]).await;
    let config = tempfile::tempdir().unwrap();
    write_json(
        config.path(),
        "application_default_credentials.json",
        &authorized_user_json(&user, &oauth.token_uri()),
    );
    let env = GoogleEnv {
        cloudsdk_config: Some(config.path().to_path_buf()),
        home: Some("/nonexistent-home".into()),
        ..empty_env()
    };

    let token = access_token(&env).await.unwrap();

    assert_token(&token, &oauth.issued);
}

#[tokio::test]
async fn revoked_refresh_token_names_the_status_and_oauth_error_but_no_secret() {
    let user = test_user();
    let oauth = OAuthTokenEndpoint::start(vec![], vec![user.clone()]).await;
    let revoked = KnownUser {
        refresh_token: "1//0g-revoked-refresh-token-value".to_owned(),
        ..user.clone()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = write_json(
        dir.path(),
        "adc.json",
        &authorized_user_json(&revoked, &oauth.token_uri()),
    );

    let err = access_token(&env_with_file(&path)).await.unwrap_err();

    let GoogleError::Failed {
        status, message, ..
    } = &err
    else {
        panic!("expected Failed, got {err:?}");
    };
    assert_eq!(*status, Some(400));
    assert_eq!(
        message,
        &format!(
            "HTTP 400 (invalid_grant: Bad Request) from `{}`",
            oauth.token_uri()
        )
    );
    assert_no_secrets(
        &err,
        &[
            &revoked.refresh_token,
            &revoked.client_secret,
            &user.refresh_token,
        ],
    );
}

#[tokio::test]
async fn external_account_with_a_file_source_is_exchanged_at_its_token_url() {
    let dir = tempfile::tempdir().unwrap();
    let subject = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmaWxlIn0.c2ln";
    let subject_path = dir.path().join("oidc-token");
    std::fs::write(&subject_path, subject).unwrap();
    let sts = Sts::start(StsExpectation {
        audience: WIF_AUDIENCE.to_owned(),
        subject_token: subject.to_owned(),
        subject_token_type: JWT_TOKEN_TYPE.to_owned(),
    })
    .await;
    let path = write_json(
        dir.path(),
        "wif.json",
        &json!({
            "type": "external_account",
            "audience": WIF_AUDIENCE,
            "subject_token_type": JWT_TOKEN_TYPE,
            "token_url": sts.token_url(),
            "credential_source": { "file": subject_path }
        }),
    );

    let token = access_token(&env_with_file(&path)).await.unwrap();

    assert_token(&token, &sts.issued);
    assert!(
        token.source.contains("external_account file"),
        "{}",
        token.source
    );
    let form = sts.server.requests()[0].form();
    assert_eq!(form["scope"], CLOUD_PLATFORM);
}

/// The file google-github-actions/auth writes for "Workload Identity Federation through a
/// Service Account": the GitHub OIDC endpoint as a URL source, then impersonation.
#[tokio::test]
async fn external_account_as_google_github_actions_auth_writes_it() {
    let oidc = GithubOidc::start().await;
    let sts = Sts::start(StsExpectation {
        audience: WIF_AUDIENCE.to_owned(),
        subject_token: oidc.id_token.clone(),
        subject_token_type: JWT_TOKEN_TYPE.to_owned(),
    })
    .await;
    let iam = IamCredentials::start(SERVICE_ACCOUNT, sts.issued.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_json(
        dir.path(),
        "gha-creds-0123456789abcdef.json",
        &json!({
            "type": "external_account",
            "audience": WIF_AUDIENCE,
            "subject_token_type": JWT_TOKEN_TYPE,
            "token_url": sts.token_url(),
            "credential_source": {
                "url": oidc.url("https://iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/github/providers/github"),
                "headers": { "Authorization": format!("Bearer {}", oidc.request_token) },
                "format": { "type": "json", "subject_token_field_name": "value" }
            },
            "service_account_impersonation_url": iam.impersonation_url(SERVICE_ACCOUNT)
        }),
    );

    let token = access_token(&env_with_file(&path)).await.unwrap();

    assert_token(&token, &iam.issued);
    assert_eq!(oidc.server.requests().len(), 1);
    // With impersonation the federated token only needs the IAM scope; the impersonated token
    // gets cloud-platform.
    assert_eq!(sts.server.requests()[0].form()["scope"], IAM_SCOPE);
    let body: Value = serde_json::from_slice(&iam.server.requests()[0].body).unwrap();
    assert_eq!(body["scope"], json!([CLOUD_PLATFORM]));
}

#[tokio::test]
async fn sts_refusal_names_the_status_and_the_sts_url_but_not_the_subject_token() {
    let oidc = GithubOidc::start().await;
    let sts = Sts::start(StsExpectation {
        audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/other/providers/other".to_owned(),
        subject_token: oidc.id_token.clone(),
        subject_token_type: JWT_TOKEN_TYPE.to_owned(),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_json(
        dir.path(),
        "gha-creds-1.json",
        &json!({
            "type": "external_account",
            "audience": WIF_AUDIENCE,
            "subject_token_type": JWT_TOKEN_TYPE,
            "token_url": sts.token_url(),
            "credential_source": {
                "url": oidc.url("https://iam.googleapis.com/x"),
                "headers": { "Authorization": format!("Bearer {}", oidc.request_token) },
                "format": { "type": "json", "subject_token_field_name": "value" }
            }
        }),
    );

    let err = access_token(&env_with_file(&path)).await.unwrap_err();

    assert!(
        matches!(
            err,
            GoogleError::Failed {
                status: Some(400),
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("HTTP 400 (invalid_target: ") && text.contains(&sts.token_url()),
        "{text}"
    );
    assert_no_secrets(&err, &[&oidc.id_token, &oidc.request_token]);
}

#[tokio::test]
async fn refused_impersonation_reports_403_permission_denied_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let subject = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    let subject_path = dir.path().join("oidc-token");
    std::fs::write(&subject_path, subject).unwrap();
    let sts = Sts::start(StsExpectation {
        audience: WIF_AUDIENCE.to_owned(),
        subject_token: subject.to_owned(),
        subject_token_type: JWT_TOKEN_TYPE.to_owned(),
    })
    .await;
    let iam = IamCredentials::start(SERVICE_ACCOUNT, sts.issued.clone()).await;
    iam.refuse_with(google_api_error(
        403,
        "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
        "PERMISSION_DENIED",
    ));
    let path = write_json(
        dir.path(),
        "wif.json",
        &json!({
            "type": "external_account",
            "audience": WIF_AUDIENCE,
            "subject_token_type": JWT_TOKEN_TYPE,
            "token_url": sts.token_url(),
            "credential_source": { "file": subject_path },
            "service_account_impersonation_url": iam.impersonation_url(SERVICE_ACCOUNT)
        }),
    );

    let err = access_token(&env_with_file(&path)).await.unwrap_err();

    assert!(
        matches!(
            err,
            GoogleError::Failed {
                status: Some(403),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("HTTP 403 (PERMISSION_DENIED)"),
        "{err}"
    );
    assert!(
        err.hint()
            .unwrap()
            .contains("roles/iam.workloadIdentityUser")
    );
    assert_no_secrets(&err, &[subject, &sts.issued]);
}

/// What `gcloud auth application-default login --impersonate-service-account` writes.
#[tokio::test]
async fn impersonated_service_account_file_uses_its_source_credentials() {
    let user = test_user();
    let oauth = OAuthTokenEndpoint::start(vec![], vec![user.clone()]).await;
    let iam = IamCredentials::start(SERVICE_ACCOUNT, oauth.issued.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_json(
        dir.path(),
        "adc.json",
        &json!({
            "type": "impersonated_service_account",
            "service_account_impersonation_url": iam.impersonation_url(SERVICE_ACCOUNT),
            "delegates": [],
            "source_credentials": authorized_user_json(&user, &oauth.token_uri())
        }),
    );

    let token = access_token(&env_with_file(&path)).await.unwrap();

    assert_token(&token, &iam.issued);
}

#[tokio::test]
async fn metadata_server_named_by_gce_metadata_host_is_used_without_a_probe() {
    let mds = MetadataServer::start().await;
    let env = GoogleEnv {
        metadata_host: Some(mds.host()),
        ..empty_env()
    };

    let token = access_token(&env).await.unwrap();

    assert_token(&token, &mds.issued);
    assert_eq!(token.source, format!("metadata server `{}`", mds.host()));
    let requests = mds.server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path, MDS_TOKEN_PATH);
    assert_eq!(requests[0].header("metadata-flavor"), Some("Google"));
}

#[tokio::test]
async fn metadata_server_that_answers_the_probe_is_used() {
    let mds = MetadataServer::start().await;
    let env = GoogleEnv {
        metadata_probe_host: Some(mds.host()),
        ..empty_env()
    };

    let token = access_token(&env).await.unwrap();

    assert_token(&token, &mds.issued);
    let paths: Vec<String> = mds.server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/", MDS_TOKEN_PATH]);
}

#[tokio::test]
async fn a_probe_address_that_does_not_answer_is_skipped_within_the_probe_limit() {
    let silent =
        TestServer::start(|_| Reply::text(200, "late").after(Duration::from_secs(30))).await;
    let env = GoogleEnv {
        metadata_probe_host: Some(silent.host()),
        ..empty_env()
    };

    let started = Instant::now();
    let err = access_token(&env).await.unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let GoogleError::NotFound { looked } = &err else {
        panic!("expected NotFound, got {err:?}");
    };
    assert!(
        looked.iter().any(|l| l.contains(&format!(
            "no metadata server answered at `{}`",
            silent.host()
        ))),
        "{looked:?}"
    );
}

#[tokio::test]
async fn a_server_without_the_metadata_flavor_header_is_not_a_metadata_server() {
    let impostor = TestServer::start(|_| Reply::text(200, "hello")).await;
    let env = GoogleEnv {
        metadata_probe_host: Some(impostor.host()),
        ..empty_env()
    };

    let err = access_token(&env).await.unwrap_err();

    assert!(matches!(err, GoogleError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn metadata_server_error_names_the_server_and_status() {
    let mds = MetadataServer::start().await;
    mds.refuse_with(Reply::text(404, "service account not found"));
    let env = GoogleEnv {
        metadata_host: Some(mds.host()),
        ..empty_env()
    };

    let err = access_token(&env).await.unwrap_err();

    let GoogleError::Failed {
        source_name,
        status,
        ..
    } = &err
    else {
        panic!("expected Failed, got {err:?}");
    };
    assert_eq!(source_name, &format!("metadata server `{}`", mds.host()));
    assert_eq!(*status, Some(404));
    assert!(err.to_string().contains("HTTP 404"), "{err}");
}

#[tokio::test]
async fn metadata_server_that_hangs_times_out() {
    let mds = MetadataServer::start().await;
    mds.delay_tokens(Duration::from_secs(30), "ya29.too-late");
    let env = GoogleEnv {
        metadata_host: Some(mds.host()),
        timeout: Duration::from_millis(700),
        ..empty_env()
    };

    let started = Instant::now();
    let err = access_token(&env).await.unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(&err, GoogleError::TimedOut { source_name, .. } if source_name.contains("metadata server")),
        "{err:?}"
    );
}

/// A `bin` directory holding a fake `gcloud` with `body` as its shell script.
fn fake_gcloud(dir: &Path, body: &str) -> std::ffi::OsString {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let gcloud = bin.join("gcloud");
    std::fs::write(&gcloud, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&gcloud, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::env::join_paths([bin.as_path(), Path::new("/usr/bin"), Path::new("/bin")]).unwrap()
}

#[tokio::test]
async fn gcloud_on_path_prints_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let issued = fakes::unique_token("gcloud");
    let path = fake_gcloud(
        dir.path(),
        &format!(
            r#"[ "$1 $2" = "auth print-access-token" ] || {{ echo "unexpected args: $*" >&2; exit 2; }}
[ "$CLOUDSDK_CORE_DISABLE_PROMPTS" = 1 ] || {{ echo "prompts enabled" >&2; exit 3; }}
echo "WARNING: some gcloud warning" >&2
echo "{issued}""#
        ),
    );
    let env = GoogleEnv {
        path: Some(path),
        ..empty_env()
    };

    let token = access_token(&env).await.unwrap();

    assert_token(&token, &issued);
    assert_eq!(token.source, "`gcloud auth print-access-token`");
}

#[tokio::test]
async fn gcloud_that_hangs_is_killed_with_its_children_at_the_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("child.pid");
    let path = fake_gcloud(
        dir.path(),
        &format!(
            "sleep 60 &\necho $! > '{}'\nwait\necho ya29.never",
            pid_file.display()
        ),
    );
    let env = GoogleEnv {
        path: Some(path),
        gcloud_timeout: Duration::from_millis(800),
        ..empty_env()
    };

    let started = Instant::now();
    let err = access_token(&env).await.unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(&err, GoogleError::TimedOut { source_name, .. } if source_name == "`gcloud auth print-access-token`"),
        "{err:?}"
    );
    assert!(
        err.hint()
            .unwrap()
            .contains("gcloud auth print-access-token")
    );
    let child: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        process_is_gone(child),
        "gcloud's child {child} survived the time limit"
    );
}

/// Linux: the process no longer exists, or is a zombie waiting for a reaper that is not us.
fn process_is_gone(pid: u32) -> bool {
    for _ in 0..50 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat) => {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                if state.starts_with('Z') || state.starts_with('X') {
                    return true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[tokio::test]
async fn gcloud_failure_names_its_exit_status_and_last_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = fake_gcloud(
        dir.path(),
        "echo 'ERROR: (gcloud.auth.print-access-token) You do not currently have an active account selected.' >&2\nexit 1",
    );
    let env = GoogleEnv {
        path: Some(path),
        ..empty_env()
    };

    let err = access_token(&env).await.unwrap_err();

    assert_eq!(
        err.to_string(),
        "cannot get a Google access token from `gcloud auth print-access-token`: it exited with \
         code 1: ERROR: (gcloud.auth.print-access-token) You do not currently have an \
         active account selected."
    );
}

#[tokio::test]
async fn nothing_anywhere_is_not_found_listing_every_place_looked() {
    let home = tempfile::tempdir().unwrap();
    let empty_bin = tempfile::tempdir().unwrap();
    let silent =
        TestServer::start(|_| Reply::text(200, "late").after(Duration::from_secs(30))).await;
    let env = GoogleEnv {
        home: Some(home.path().to_path_buf()),
        metadata_probe_host: Some(silent.host()),
        path: Some(empty_bin.path().as_os_str().to_owned()),
        ..empty_env()
    };

    let err = access_token(&env).await.unwrap_err();

    let GoogleError::NotFound { looked } = &err else {
        panic!("expected NotFound, got {err:?}");
    };
    let adc = home
        .path()
        .join(".config/gcloud/application_default_credentials.json");
    assert_eq!(
        looked,
        &[
            "`GOOGLE_APPLICATION_CREDENTIALS` is not set".to_owned(),
            format!("no `{}`", adc.display()),
            format!(
                "`GCE_METADATA_HOST` is not set and no metadata server answered at `{}` within 0.5s",
                silent.host()
            ),
            "no `gcloud` on `PATH`".to_owned(),
        ]
    );
    assert!(err.to_string().starts_with(
        "no Google credentials found: `GOOGLE_APPLICATION_CREDENTIALS` is not set; no `"
    ));
    assert!(
        err.hint()
            .unwrap()
            .contains("gcloud auth application-default login")
    );
}

#[tokio::test]
async fn a_missing_google_application_credentials_file_fails_instead_of_falling_through() {
    let mds = MetadataServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gha-creds-gone.json");
    let env = GoogleEnv {
        metadata_host: Some(mds.host()),
        ..env_with_file(&missing)
    };

    let err = access_token(&env).await.unwrap_err();

    assert!(
        err.to_string().starts_with(&format!(
            "cannot get a Google access token from `GOOGLE_APPLICATION_CREDENTIALS` (`{}`): cannot read the file: ",
            missing.display()
        )),
        "{err}"
    );
    assert!(mds.server.requests().is_empty());
}

#[tokio::test]
async fn google_application_credentials_wins_over_the_adc_file_and_the_metadata_server() {
    let key = TestKey::trusted();
    let oauth = OAuthTokenEndpoint::start(vec![known_service_account(key)], vec![]).await;
    let mds = MetadataServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key_json = service_account_key_json(key, SERVICE_ACCOUNT, KEY_ID, &oauth.token_uri());
    let key_path = write_json(dir.path(), "key.json", &key_json);
    let config = dir.path().join("gcloud");
    std::fs::create_dir(&config).unwrap();
    write_json(
        &config,
        "application_default_credentials.json",
        &json!({ "type": "authorized_user", "client_id": "x", "client_secret": "y", "refresh_token": "z", "token_uri": "http://127.0.0.1:9/token" }),
    );
    let env = GoogleEnv {
        cloudsdk_config: Some(config),
        metadata_host: Some(mds.host()),
        ..env_with_file(&key_path)
    };

    let token = access_token(&env).await.unwrap();

    assert_token(&token, &oauth.issued);
    assert!(mds.server.requests().is_empty());
}

#[tokio::test]
async fn a_file_that_is_not_json_is_reported_without_its_contents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    std::fs::write(&path, "refresh_token=1//0g-not-json-secret").unwrap();

    let err = access_token(&env_with_file(&path)).await.unwrap_err();

    assert!(
        err.to_string()
            .ends_with("it is not valid JSON (line 1, column 1)"),
        "{err}"
    );
    assert_no_secrets(&err, &["1//0g-not-json-secret"]);
}
