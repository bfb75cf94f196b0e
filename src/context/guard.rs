//! The credential guard: files that look like credentials are left out of the build context
//! unless the user opts one back in, because a context file is one `COPY` away from an image
//! layer, and even a discarded build stage keeps it in the build cache.
//!
//! Some kinds are known by name alone (`.netrc`, `id_rsa`); every other file is judged by what
//! it holds, whatever it is called, with the detectors the image scan runs too
//! ([`crate::leak::shapes`]): a file whose whole purpose is a credential (netrc-shaped, a docker
//! config with logins, a key, a dotenv with secrets) is left out; a credential embedded in an
//! ordinary file is reported and sent, since leaving the file out would change the application.

pub use crate::leak::shapes::CredentialKind;
use crate::leak::shapes::{self, Detection};

/// Content checks read at most this much of a file; credential files are small. Larger files
/// are still searched, whole, by the image scan.
pub const CONTENT_PEEK: u64 = 1 << 20;

/// What the name alone says about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameVerdict {
    /// Not a credential file.
    Clean,
    /// A credential file by its name alone.
    Credential(CredentialKind),
}

/// Classifies a context-relative, `/`-separated path by its name.
pub fn classify_name(rel_path: &[u8]) -> NameVerdict {
    let name = match rel_path.iter().rposition(|&b| b == b'/') {
        Some(i) => &rel_path[i + 1..],
        None => rel_path,
    };
    use CredentialKind::*;
    match name {
        b".netrc" | b"_netrc" => return NameVerdict::Credential(Netrc),
        b".pypirc" => return NameVerdict::Credential(Pypirc),
        b".git-credentials" => return NameVerdict::Credential(GitCredentials),
        b"id_rsa" | b"id_dsa" | b"id_ecdsa" | b"id_ed25519" | b"id_ecdsa_sk" | b"id_ed25519_sk" => {
            return NameVerdict::Credential(PrivateKey);
        }
        _ => {}
    }
    if rel_path == b".docker/config.json" || rel_path.ends_with(b"/.docker/config.json") {
        return NameVerdict::Credential(DockerConfig);
    }
    if name.starts_with(b"gha-creds-") && name.ends_with(b".json") {
        return NameVerdict::Credential(GhaCredentials);
    }
    if name == b".env" || is_dotenv_variant(name) {
        return NameVerdict::Credential(DotEnv);
    }
    NameVerdict::Clean
}

/// `.env.production` is a credential file; `.env.example` and friends are templates.
fn is_dotenv_variant(name: &[u8]) -> bool {
    let Some(suffix) = name.strip_prefix(b".env.") else {
        return false;
    };
    !matches!(
        suffix,
        b"example" | b"sample" | b"template" | b"dist" | b"defaults"
    )
}

/// What a file's content says: the detections of [`shapes::detect`] on `head`, the file's first
/// [`CONTENT_PEEK`] bytes (`complete` when that is the whole file). Binary files get only the
/// rules that are not noisy ([`shapes::detect_binary`]).
pub fn classify_content(rel_path: &[u8], head: &[u8], complete: bool) -> Vec<Detection> {
    let name = match rel_path.iter().rposition(|&b| b == b'/') {
        Some(i) => &rel_path[i + 1..],
        None => rel_path,
    };
    if shapes::is_binary(head) {
        return shapes::detect_binary(name, head, complete);
    }
    shapes::detect(name, head, complete)
}

#[cfg(test)]
mod tests {
    use super::*;
    use CredentialKind::*;

    #[test]
    fn names_that_are_credentials() {
        for (path, kind) in [
            (".netrc", Netrc),
            ("deploy/_netrc", Netrc),
            (".pypirc", Pypirc),
            (".git-credentials", GitCredentials),
            (".docker/config.json", DockerConfig),
            ("home/u/.docker/config.json", DockerConfig),
            ("gha-creds-3f2a1b.json", GhaCredentials),
            ("keys/id_rsa", PrivateKey),
            ("id_ed25519", PrivateKey),
            (".env", DotEnv),
            ("svc/.env.production", DotEnv),
        ] {
            assert_eq!(
                classify_name(path.as_bytes()),
                NameVerdict::Credential(kind),
                "{path}"
            );
        }
    }

    #[test]
    fn ordinary_names_are_clean() {
        for path in [
            "src/app.py",
            ".env.example",
            ".envrc.md",
            "id_rsa.pub",
            "netrc.md",
            "config.json.bak",
            ".docker/daemon.yaml",
        ] {
            assert_eq!(classify_name(path.as_bytes()), NameVerdict::Clean, "{path}");
        }
    }

    #[test]
    fn content_decides_whatever_the_name() {
        let netrc = b"machine idx login acme password Zq8xT2pLw9vR\n";
        assert_eq!(
            classify_content(b"deploy/creds.txt", netrc, true),
            vec![Detection {
                kind: Netrc,
                whole_file: true
            }]
        );
        assert!(
            classify_content(b"a.bin", b"\0machine idx password Zq8xT2pLw9vR", true).is_empty()
        );
        assert_eq!(
            classify_content(
                b"pip.conf",
                b"index-url = https://u:Zq8xT2pLw9vR@h/simple\n",
                true
            ),
            vec![Detection {
                kind: PipConfig,
                whole_file: true
            }]
        );
        assert!(classify_content(b"pip.conf", b"index-url = https://h/simple\n", true).is_empty());
    }
}
