//! The secrets one invocation holds, defined once: what the leak scan looks for before anything
//! reaches a registry (`build --push` and `push` alike), and what no name the registry or the
//! image shows (a tag, a label, a build-arg name) may contain.
//!
//! `build` holds its `--secret` values, the index netrc, and the logins of the push registries
//! and of the base images' registries. `push` builds nothing, so it holds what `build` would find
//! without flags: the index netrc from `SHIPIMG_NETRC`, `SHIPIMG_INDEX_*`, `$NETRC` or
//! `~/.netrc`, and the push registries' logins.

use secrecy::{ExposeSecret, SecretSlice};

use super::LoadedSecret;
use super::index::{
    IndexCredentials, IndexEnv, IndexError, IndexOptions, resolve_index_credentials,
};
use super::registry::{LoginError, login_for_host};
use crate::error::UserError;
use crate::login::Login;
use crate::redact::Redactor;
use crate::reference::{Reference, ReferenceError};
use crate::scan::ScanSecret;

/// What an invocation holds, by source.
pub struct Held<'a> {
    /// `--secret` values. The served `netrc` secret is left out: [`Held::index`] names each of
    /// its passwords with its machine.
    pub secrets: &'a [LoadedSecret],
    /// The index netrc.
    pub index: Option<&'a IndexCredentials>,
    /// Registry logins, by host: the push targets', the base images'.
    pub logins: &'a [(String, Login)],
}

/// Every secret `held` holds, as the leak scan looks for it, each named by where it came from.
pub fn scan_secrets(held: &Held<'_>) -> Vec<ScanSecret> {
    let mut secrets: Vec<ScanSecret> = held
        .secrets
        .iter()
        .filter(|s| s.id != "netrc")
        .map(|s| ScanSecret {
            id: format!("--secret {}", s.id),
            value: SecretSlice::from(s.value.expose_secret().to_vec()),
            login: None,
        })
        .collect();
    for entry in held.index.map(|i| i.netrc.entries()).unwrap_or_default() {
        if let Some(password) = &entry.password {
            secrets.push(ScanSecret {
                id: format!(
                    "netrc password for {}",
                    entry.machine.as_deref().unwrap_or("default")
                ),
                value: SecretSlice::from(password.expose_secret().as_bytes().to_vec()),
                login: entry.login.clone(),
            });
        }
    }
    for (host, login) in held.logins {
        let id = format!("registry password for {host}");
        if secrets.iter().any(|s| s.id == id) {
            continue;
        }
        secrets.push(ScanSecret {
            id,
            value: SecretSlice::from(login.secret.expose_secret().as_bytes().to_vec()),
            login: Some(login.username.clone()),
        });
    }
    secrets
}

/// The registry hosts of `references`, each once, in order.
pub fn registry_hosts(references: &[String]) -> Result<Vec<String>, ReferenceError> {
    let mut hosts: Vec<String> = Vec::new();
    for reference in references {
        let host = Reference::parse(reference)?.host;
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    Ok(hosts)
}

/// The login for each registry `references` push to (`None`: anonymous), fetched now so a
/// broken one stops the command before anything runs.
pub async fn push_logins(
    references: &[String],
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Option<Login>)>, LoginError> {
    let mut logins = Vec::new();
    for host in registry_hosts(references)? {
        let login = login_for_host(&host, true, var).await?;
        logins.push((host, login));
    }
    Ok(logins)
}

/// The logins for the registries the build's base images come from (`hosts`), where one is
/// found. `SHIPIMG_REGISTRY_*` counts only for a host the build also pushes to (`tags`).
pub async fn base_image_logins(
    hosts: &[String],
    tags: &[String],
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Login)>, LoginError> {
    let push_hosts = registry_hosts(tags)?;
    let mut logins = Vec::new();
    for host in hosts {
        let push_target = push_hosts.contains(host);
        if let Some(login) = login_for_host(host, push_target, var).await? {
            logins.push((host.clone(), login));
        }
    }
    Ok(logins)
}

/// True when the index netrc would come from `$NETRC` or `~/.netrc`, not from anything the user
/// gave shipimg itself.
pub fn implicit_netrc(options: &IndexOptions, var: &dyn Fn(&str) -> Option<String>) -> bool {
    options.netrc_flag.is_none()
        && var("SHIPIMG_NETRC").is_none_or(|t| t.is_empty())
        && var("SHIPIMG_INDEX_USERNAME").is_none()
}

/// The index credentials a command that builds nothing still holds, found as `build` finds them
/// without flags. A broken `$NETRC` or `~/.netrc` is returned as the error's message for the
/// caller to warn about: nobody asked for it, and other tools may read it; a broken
/// `SHIPIMG_NETRC` or `SHIPIMG_INDEX_*` is an error.
pub fn implicit_index(
    env: &IndexEnv<'_>,
) -> Result<(Option<IndexCredentials>, Option<String>), IndexError> {
    let options = IndexOptions {
        netrc_flag: None,
        index_urls: Vec::new(),
    };
    match resolve_index_credentials(&options, env) {
        Ok(index) => Ok((index, None)),
        Err(err) if implicit_netrc(&options, env.var) => {
            Ok((None, Some(crate::error::chain(&err))))
        }
        // `SHIPIMG_INDEX_*` needs the index it is for; without one, its password is still held.
        Err(err) => match index_password_alone(env) {
            Some(index) if (env.var)("SHIPIMG_NETRC").is_none_or(|t| t.is_empty()) => {
                Ok((Some(index), None))
            }
            _ => Err(err),
        },
    }
}

/// `SHIPIMG_INDEX_USERNAME`/`SHIPIMG_INDEX_PASSWORD` as a netrc of one `default` entry, for a
/// command that has no `--index-url` to name the machine.
fn index_password_alone(env: &IndexEnv<'_>) -> Option<IndexCredentials> {
    let login = (env.var)("SHIPIMG_INDEX_USERNAME")?;
    let password = secrecy::SecretString::from((env.var)("SHIPIMG_INDEX_PASSWORD")?);
    let netrc = super::netrc::Netrc::from_entries(vec![super::netrc::NetrcEntry {
        machine: None,
        login: Some(login),
        password: Some(password),
        account: None,
        line: 0,
    }]);
    super::index::register_netrc(&netrc);
    Some(IndexCredentials {
        netrc,
        source: "SHIPIMG_INDEX_USERNAME/SHIPIMG_INDEX_PASSWORD".into(),
        google_hosts: Vec::new(),
        machines_before: 1,
        narrowed: false,
        warnings: Vec::new(),
    })
}

/// A name the registry, the image or CI would show, and where the user gave it.
pub struct ShownName<'a> {
    /// Where it came from, for the error: `-t`, `--label` value, `IMAGE` ...
    pub given_as: String,
    /// The name.
    pub value: &'a str,
}

/// Fails on the first name that holds a secret `redactor` masks: tags and image names reach
/// the registry's tag list, labels and build-arg names the image config, all of them CI logs.
/// The message names where the name was given, never the name.
pub fn check_names(names: &[ShownName<'_>], redactor: &Redactor) -> Result<(), NameHoldsSecret> {
    match names
        .iter()
        .find(|name| redactor.redact(name.value) != name.value)
    {
        Some(name) => Err(NameHoldsSecret {
            given_as: name.given_as.clone(),
        }),
        None => Ok(()),
    }
}

/// A public name (a tag, a label, a build-arg name) that holds a secret; it says where the name
/// was given, never the name.
#[derive(Debug, thiserror::Error)]
#[error("{given_as} holds a secret shipimg was given (not shown here)")]
pub struct NameHoldsSecret {
    /// Where the name was given: `a `-t` tag`, `a `--label` value` ...
    pub given_as: String,
}

impl UserError for NameHoldsSecret {
    fn hint(&self) -> Option<String> {
        Some("tags, image names, labels and build-arg names are public (the registry lists them, the image config keeps them): take the secret out of it".into())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use secrecy::SecretString;

    use super::*;
    use crate::credentials::netrc::parse_netrc;

    fn index(text: &str) -> IndexCredentials {
        IndexCredentials {
            netrc: parse_netrc(text).unwrap(),
            source: "test".into(),
            google_hosts: Vec::new(),
            machines_before: 1,
            narrowed: false,
            warnings: Vec::new(),
        }
    }

    fn login(user: &str, secret: &str) -> Login {
        Login::password(user, SecretString::from(secret), "test")
    }

    #[test]
    fn every_source_is_a_scan_secret_named_by_where_it_came_from() {
        let loaded = [
            LoadedSecret {
                id: "tok".into(),
                source: "variable `T`".into(),
                value: Arc::new(SecretSlice::from(b"tok-value".to_vec())),
            },
            LoadedSecret {
                id: "netrc".into(),
                source: "--netrc n".into(),
                value: Arc::new(SecretSlice::from(b"whole netrc".to_vec())),
            },
        ];
        let index = index("machine idx.example login acme password pw1\ndefault password pw2\n");
        let logins = [
            ("reg.example".to_owned(), login("u", "reg-pw")),
            ("reg.example".to_owned(), login("u", "reg-pw")),
        ];
        let secrets = scan_secrets(&Held {
            secrets: &loaded,
            index: Some(&index),
            logins: &logins,
        });
        let shown: Vec<(&str, &[u8], Option<&str>)> = secrets
            .iter()
            .map(|s| (s.id.as_str(), s.value.expose_secret(), s.login.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("--secret tok", &b"tok-value"[..], None),
                ("netrc password for idx.example", b"pw1", Some("acme")),
                ("netrc password for default", b"pw2", None),
                ("registry password for reg.example", b"reg-pw", Some("u")),
            ]
        );
    }

    /// Each entry's machine and login.
    type Entries = Vec<(Option<String>, Option<String>)>;

    fn implicit(
        vars: &[(&str, &str)],
        home: Option<&std::path::Path>,
    ) -> Result<(Entries, Option<String>), IndexError> {
        let var = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let env = IndexEnv {
            var: &var,
            home: home.map(std::path::Path::to_path_buf),
        };
        let (index, warning) = implicit_index(&env)?;
        let entries = index
            .map(|i| {
                i.netrc
                    .entries()
                    .iter()
                    .map(|e| (e.machine.clone(), e.login.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Ok((entries, warning))
    }

    #[test]
    fn push_holds_the_netrc_build_would_find_without_flags() {
        let home = tempfile::tempdir().unwrap();
        assert_eq!(implicit(&[], Some(home.path())).unwrap(), (vec![], None));
        std::fs::write(
            home.path().join(".netrc"),
            "machine a.example login u password held-home-pw\n",
        )
        .unwrap();
        let from_home = (
            vec![(Some("a.example".to_owned()), Some("u".to_owned()))],
            None,
        );
        assert_eq!(implicit(&[], Some(home.path())).unwrap(), from_home);
        // With no --index-url, the SHIPIMG_INDEX_* password is still held, for any host.
        let alone = implicit(
            &[
                ("SHIPIMG_INDEX_USERNAME", "acme"),
                ("SHIPIMG_INDEX_PASSWORD", "held-env-pw"),
            ],
            Some(home.path()),
        )
        .unwrap();
        assert_eq!(alone, (vec![(None, Some("acme".to_owned()))], None));
        // Half a login is an error, as for build.
        assert!(implicit(&[("SHIPIMG_INDEX_USERNAME", "acme")], None).is_err());
        // A broken ~/.netrc nobody named is a warning; a broken SHIPIMG_NETRC an error.
        std::fs::write(home.path().join(".netrc"), "machine\n").unwrap();
        let (entries, warning) = implicit(&[], Some(home.path())).unwrap();
        assert!(entries.is_empty() && warning.is_some());
        assert!(implicit(&[("SHIPIMG_NETRC", "machine")], None).is_err());
    }

    #[test]
    fn hosts_are_listed_once_in_order() {
        let refs = [
            "r.example/a:1",
            "r.example/b:2",
            "busybox:1",
            "localhost:5000/x",
        ]
        .map(String::from);
        assert_eq!(
            registry_hosts(&refs).unwrap(),
            ["r.example", "docker.io", "localhost:5000"]
        );
    }

    #[test]
    fn a_name_holding_a_secret_is_refused_without_showing_it() {
        let mut builder = Redactor::builder();
        builder.text(&SecretString::from("S3cr3t-tag-value"));
        let redactor = builder.build();
        let clean = ShownName {
            given_as: "`-t`".into(),
            value: "r.example/a:1",
        };
        assert!(check_names(&[clean], &redactor).is_ok());
        let names = [
            ShownName {
                given_as: "`-t`".into(),
                value: "r.example/a:1",
            },
            ShownName {
                given_as: "a `--label` value".into(),
                value: "built-with-S3cr3t-tag-value",
            },
        ];
        let err = crate::error::CliError::from(check_names(&names, &redactor).unwrap_err());
        assert_eq!(
            err.message(),
            "a `--label` value holds a secret shipimg was given (not shown here)"
        );
        assert!(err.hint().is_some());
    }
}
