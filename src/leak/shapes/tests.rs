//! The detectors on real-world samples and their near misses.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::*;

fn kinds(name: &str, text: &str) -> Vec<(CredentialKind, bool)> {
    detect(name.as_bytes(), text.as_bytes(), true)
        .into_iter()
        .map(|d| (d.kind, d.whole_file))
        .collect()
}

fn quiet(name: &str, text: &str) {
    assert_eq!(kinds(name, text), vec![], "{name}: {text}");
}

/// A DER SEQUENCE of `len` bytes of content, as a PEM body wrapped at 64 columns.
pub(crate) fn pem_body(len: usize) -> String {
    let mut der = vec![0x30, 0x82, (len >> 8) as u8, len as u8];
    der.extend((0..len).map(|i| (i * 7 + 3) as u8));
    let b64 = STANDARD.encode(der);
    b64.as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned() + "\n")
        .collect()
}

pub(crate) fn pem_key(label: &str) -> String {
    format!(
        "-----BEGIN {label}PRIVATE KEY-----\n{}-----END {label}PRIVATE KEY-----\n",
        pem_body(600)
    )
}

/// A GitHub token with a valid checksum.
pub(crate) fn github_token(prefix: &str, entropy: &str) -> String {
    assert_eq!(entropy.len(), 30);
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut crc = crc32(entropy.as_bytes());
    let mut digits = [b'0'; 6];
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[(crc % 62) as usize];
        crc /= 62;
    }
    format!("{prefix}{entropy}{}", String::from_utf8_lossy(&digits))
}

#[test]
fn netrc_by_shape_whatever_the_name() {
    let text = "machine pypi.example.com\n  login acme\n  password Zq8xT2pLw9vR\n";
    for name in ["netrc", "pip-netrc", ".netrc.bak", "creds.txt"] {
        assert_eq!(
            kinds(name, text),
            vec![(CredentialKind::Netrc, true)],
            "{name}"
        );
    }
    // One line, and `default`.
    assert_eq!(
        kinds("x", "default login u password Zq8xT2pLw9vR"),
        vec![(CredentialKind::Netrc, true)]
    );
    // Embedded in a script: found, but not the file's purpose.
    assert_eq!(
        kinds(
            "setup.sh",
            "#!/bin/sh\necho 'machine idx login acme password Zq8xT2pLw9vR' > ~/.netrc\npip install .\n"
        ),
        vec![(CredentialKind::Netrc, false)]
    );
}

#[test]
fn netrc_near_misses() {
    quiet(
        "README",
        "machine example.com login user password password\n",
    );
    quiet("doc.txt", "machine host login me password $TOKEN\n");
    quiet("doc.txt", "machine host login me password <your-token>\n");
    quiet(
        "a.py",
        "# the password is read from the netrc file\nuse_password = True\n",
    );
    quiet(
        "netrc.py",
        "def parse(password): return {'password': password}\n",
    );
    // Python's netrc docstring style.
    quiet(
        "netrc.py",
        "    machine host.domain.com login myname password mypassword\n",
    );
}

#[test]
fn docker_config_with_auths() {
    let auth = STANDARD.encode("_json_key_base64:Zq8xT2pLw9vRk3");
    let text = format!(r#"{{"auths": {{"europe-docker.pkg.dev": {{"auth": "{auth}"}}}}}}"#);
    for name in ["config.json", "docker-config.json.bak", "x"] {
        assert_eq!(
            kinds(name, &text),
            vec![(CredentialKind::DockerConfig, true)],
            "{name}"
        );
    }
    let token =
        r#"{"auths": {"r.example": {"identitytoken": "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9x"}}}"#;
    assert_eq!(
        kinds("c.json", token),
        vec![(CredentialKind::DockerConfig, true)]
    );
    quiet(
        "config.json",
        r#"{"auths": {"r.example": {}}, "credsStore": "desktop"}"#,
    );
    quiet("config.json", r#"{"auths": {"r.example": {"auth": ""}}}"#);
    let placeholder = STANDARD.encode("user:password");
    quiet(
        "doc.md",
        &format!(r#"{{"auths": {{"r.example": {{"auth": "{placeholder}"}}}}}}"#),
    );
}

#[test]
fn google_keys() {
    let key = pem_key("").replace('\n', "\\n");
    let sa = format!(
        r#"{{"type": "service_account", "project_id": "p", "private_key_id": "1", "private_key": "{key}", "client_email": "a@p.iam.gserviceaccount.com"}}"#
    );
    for name in ["sa-key.json.bak", "key.json", "creds"] {
        assert!(
            kinds(name, &sa).contains(&(CredentialKind::GoogleCredentials, true)),
            "{name}"
        );
    }
    let user = r#"{"client_id": "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com", "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty", "refresh_token": "1//0gZq8xT2pLw9vRk3mN7bV5cX1zQ4wE6rT8yU0iO2pA", "type": "authorized_user"}"#;
    assert_eq!(
        kinds("adc.json", user),
        vec![(CredentialKind::GoogleCredentials, true)]
    );
    // google-auth's code names the fields without a key.
    quiet(
        "service_account.py",
        r#"_DEFAULT_TOKEN_LIFETIME_SECS = 3600
info = {"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n"}
signer = _service_account_info.from_dict(info, require=["client_email", "token_uri"])"#,
    );
    quiet(
        "a.json",
        r#"{"type": "authorized_user", "refresh_token": "<REFRESH_TOKEN>"}"#,
    );
}

#[test]
fn pem_private_keys_with_a_key_body() {
    for label in ["", "RSA ", "EC ", "ENCRYPTED "] {
        assert_eq!(
            kinds("server.pem", &pem_key(label)),
            vec![(CredentialKind::PrivateKey, true)],
            "{label}"
        );
    }
    // A key pasted into code is embedded.
    let code = format!("KEY = \"\"\"\n{}\"\"\"\n", pem_key("RSA "));
    assert_eq!(
        kinds("conftest.py", &code),
        vec![(CredentialKind::PrivateKey, false)]
    );
    // Docstrings and placeholders are not keys.
    quiet(
        "x.py",
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n",
    );
    quiet(
        "x.py",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC...\n-----END PRIVATE KEY-----",
    );
    quiet("x.py", "PEM_HEADER = b'-----BEGIN PRIVATE KEY-----'\n");
    quiet(
        "ca.pem",
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n-----END CERTIFICATE-----\n",
    );
}

#[test]
fn dotenv_shaped_files() {
    assert_eq!(
        kinds(
            "prod.env",
            "# prod\nDEBUG=0\nexport DB_PASSWORD=Zq8xT2pLw9vR\n"
        ),
        vec![(CredentialKind::DotEnv, true)]
    );
    assert_eq!(
        kinds(
            "settings",
            "STRIPE_SECRET_KEY=\"sk_live_Zq8xT2pLw9vRk3mN\"\n"
        ),
        vec![(CredentialKind::DotEnv, true)]
    );
    quiet(
        "prod.env",
        "DB_PASSWORD=${DB_PASSWORD}\nAPI_TOKEN=changeme\n",
    );
    quiet(
        "app.env",
        "DEBUG=1\nPORT=8080\nTOKEN_FILE=/run/secrets/token\n",
    );
    // Code is not a dotenv.
    quiet("config.py", "SECRET_KEY = \"Zq8xT2pLw9vRk3mN\"\n");
    quiet("settings.py", "SECRET_KEY=\"Zq8xT2pLw9vRk3mN\"\n");
}

#[test]
fn npmrc_and_pypirc_and_pip_conf() {
    assert_eq!(
        kinds(
            ".npmrc",
            "//registry.npmjs.org/:_authToken=npm_Zq8xT2pLw9vRk3mN7bV5cX1zQ4wE6r\n"
        ),
        vec![(CredentialKind::Npmrc, true)]
    );
    quiet(".npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n");
    assert_eq!(
        kinds(
            ".pypirc",
            "[distutils]\nindex-servers = pypi\n[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmcCJGE\n"
        ),
        vec![(CredentialKind::Pypirc, true)]
    );
    assert_eq!(
        kinds(
            "pip.conf",
            "[global]\nindex-url = https://acme:Zq8xT2pLw9vR@pypi.example/simple\n"
        ),
        vec![(CredentialKind::PipConfig, true)]
    );
    quiet(
        "pip.conf",
        "[global]\nindex-url = https://pypi.example/simple\n",
    );
}

#[test]
fn url_credentials_are_embedded_unless_the_file_is_config() {
    assert_eq!(
        kinds(
            "settings.py",
            "DATABASE_URL = 'postgres://app:S3cr3tPw@db/app'\n"
        ),
        vec![(CredentialKind::UrlCredentials, false)]
    );
    assert_eq!(
        kinds(
            "requirements.txt",
            "--extra-index-url https://Zq8xT2pLw9vRk3mN7bV5@pypi.fury.io/acme/\n"
        ),
        vec![(CredentialKind::UrlCredentials, false)]
    );
    quiet(
        "poolmanager.py",
        "proxy = 'http://username:password@host.com:80/'\n",
    );
    quiet("git.py", "url = 'ssh://git@example.com/repo.git'\n");
    quiet("a.py", "url = 'https://admin@example.com/'\n");
    quiet(
        "a.sh",
        "pip install --index-url https://acme:$TOKEN@pypi.example/simple x\n",
    );
}

#[test]
fn token_formats() {
    let ghp = github_token("ghp_", "Zq8xT2pLw9vRk3mN7bV5cX1zQ4wE6r");
    assert_eq!(
        kinds("deploy.sh", &format!("export GH={ghp}\n")),
        vec![(CredentialKind::Token(TokenKind::GitHub), false)]
    );
    // On its own in a file: the file's whole purpose.
    assert_eq!(
        kinds("token", &format!("{ghp}\n")),
        vec![(CredentialKind::Token(TokenKind::GitHub), true)]
    );
    // A wrong checksum is not a GitHub token.
    let mut broken = ghp.clone();
    broken.pop();
    broken.push(if ghp.ends_with('A') { 'B' } else { 'A' });
    quiet("x", &broken);
    quiet("x", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    quiet("x", "ghp_abcdefghijklmnopqrstuvwxyzABCD012345");
    let tail = "k3mN7bV5cX1zQ4wE6rT8yU0iO2pAs4dF6gH8jK0lZ2xC4vB6nM8qW0eR2tY4uI6oP8";
    let pat = format!("github_pat_11ABCDEFG0Zq8xT2pLw9vR_{}", &tail[..59]);
    assert_eq!(
        kinds("x", &format!("t = '{pat}'")),
        vec![(CredentialKind::Token(TokenKind::GitHub), false)]
    );
    assert_eq!(
        kinds("ci.yml.bak", "token: glpat-Zq8xT2pLw9vRk3mN7bV5\n"),
        vec![(CredentialKind::Token(TokenKind::GitLab), false)]
    );
    quiet("x", "glpat-xxxxxxxxxxxxxxxxxxxx");
    assert_eq!(
        kinds(
            "x",
            "Authorization: Bearer ya29.a0AfB_byC8Zq8xT2pLw9vRk3mN7bV5cX1zQ4wE6rT8yU0iO\n"
        ),
        vec![(CredentialKind::Token(TokenKind::GoogleAccess), false)]
    );
    quiet("x", "token = 'ya29.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'");
    assert_eq!(
        kinds("x", "aws_access_key_id = AKIA4Z7QX2PLW9VRK3MN\n"),
        vec![(CredentialKind::Token(TokenKind::AwsAccessKey), false)]
    );
    // AWS's documented examples, as boto3 and botocore ship them.
    quiet("x", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n");
    quiet("x", "AKIAI44QH8DHBEXAMPLE");
    quiet("x", "AKIAXXXXXXXXXXXXXXXX");
    // Part of a longer identifier is not a token.
    quiet("x", "MYAKIA4Z7QX2PLW9VRK3MNX");
}

#[test]
fn github_checksum_matches_real_tokens() {
    // Tokens published as revoked real-world samples (base62-token.js's test fixtures).
    for token in [
        "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",
        "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",
        "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",
    ] {
        assert!(github_checksum(&token.as_bytes()[4..]), "{token}");
    }
    // GitHub's documentation example has no valid checksum.
    assert!(!github_checksum(b"16C7e42F292c6912E7710c838347Ae178B4a"));
}

#[test]
fn placeholders() {
    for value in [
        "password",
        "PASSWORD",
        "pass",
        "secret",
        "xxx",
        "xxxxxxxx",
        "****",
        "${TOKEN}",
        "$TOKEN",
        "<token>",
        "[password]",
        "{password}",
        "%(password)s",
        "changeme",
        "your-token-here",
        "example-password",
        "{{ secret }}",
        "...",
    ] {
        assert!(is_placeholder(value.as_bytes()), "{value}");
    }
    for value in ["S3cr3tPw", "Zq8xT2pLw9vR", "hunter2-prod-2024"] {
        assert!(!is_placeholder(value.as_bytes()), "{value}");
    }
}
