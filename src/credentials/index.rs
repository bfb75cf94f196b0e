//! The package-index credentials a build gets as secret `netrc`: found where pip users keep
//! them, narrowed to the indexes the build uses, and checked against those indexes before the
//! build starts (pip itself only says "No matching distribution found" when a password is
//! wrong).
//!
//! Sources, the first that applies wins: `--netrc PATH`; `SHIPIMG_NETRC` (the whole netrc
//! text, as a CI secret holds it); `SHIPIMG_INDEX_USERNAME` + `SHIPIMG_INDEX_PASSWORD` for the
//! hosts of `--index-url`; `$NETRC` or `~/.netrc`. An Artifact Registry Python host
//! (`*-python.pkg.dev`) that none of them covers gets a Google access token as
//! `oauth2accesstoken`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::google::GoogleError;
use super::netrc::{Netrc, NetrcEntry, NetrcError, parse_netrc};
use crate::error::UserError;

/// Why the index credentials cannot be had, or were refused by the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// An `--index-url` that is no http(s) URL with a host (shown masked).
    #[error("invalid --index-url `{url}`")]
    InvalidUrl { url: String },
    /// An `--index-url` with `user:password@` or `token@` in it.
    #[error(
        "an --index-url holds credentials (`user:password@` or `token@`): they would show in logs and build history"
    )]
    UrlHoldsCredentials,
    /// `SHIPIMG_NETRC` does not parse.
    #[error("SHIPIMG_NETRC")]
    EnvNetrc(#[source] NetrcError),
    /// `SHIPIMG_INDEX_USERNAME` without its password.
    #[error("SHIPIMG_INDEX_USERNAME is set but SHIPIMG_INDEX_PASSWORD is not")]
    PasswordMissing,
    /// `SHIPIMG_INDEX_*` with no `--index-url` to name the machine.
    #[error("SHIPIMG_INDEX_USERNAME and SHIPIMG_INDEX_PASSWORD need the index they are for")]
    NoIndexForLogin,
    /// A netrc file that cannot be read.
    #[error("cannot read the netrc `{}` ({origin})", .path.display())]
    Unreadable {
        path: PathBuf,
        origin: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A netrc file that does not parse.
    #[error("invalid netrc `{}`", .path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: NetrcError,
    },
    /// An Artifact Registry index nothing covers, and no Google token to be had.
    #[error("no credentials for {}", .hosts.join(", "))]
    NoGoogleToken {
        hosts: Vec<String>,
        #[source]
        source: GoogleError,
    },
    /// The preflight's HTTP client could not be made.
    #[error("cannot make an HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// The index answered 401 or 403 to the credentials the build would get.
    #[error(
        "the package index `{url}` refused {login} from {source_name} (HTTP {status} {reason})"
    )]
    Refused {
        url: String,
        host: String,
        login: String,
        source_name: String,
        status: u16,
        reason: &'static str,
        had_entry: bool,
    },
}

impl UserError for IndexError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            IndexError::InvalidUrl { .. } => "use the index's full URL, e.g. `https://europe-west4-python.pkg.dev/PROJECT/REPO/simple/`".into(),
            IndexError::UrlHoldsCredentials => "put them in a netrc (`--netrc`, `SHIPIMG_NETRC`) or `SHIPIMG_INDEX_USERNAME`/`SHIPIMG_INDEX_PASSWORD`".into(),
            IndexError::EnvNetrc(_) => "SHIPIMG_NETRC holds the netrc text itself: `machine HOST login USER password PASSWORD`".into(),
            IndexError::PasswordMissing => "set both, or neither".into(),
            IndexError::NoIndexForLogin => "name it with `--index-url URL`".into(),
            IndexError::Unreadable { .. } => "check the path, or give the credentials another way (see `shipimg build --help`)".into(),
            IndexError::Invalid { .. } => "a netrc entry reads `machine HOST login USER password PASSWORD`".into(),
            IndexError::NoGoogleToken { .. } => "log in with `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or give a netrc (`--netrc`)".into(),
            IndexError::HttpClient(_) => return None,
            IndexError::Refused { host, source_name, had_entry: true, .. } => format!(
                "check the password for `{host}` in {source_name}; pip would only report \"No matching distribution found\""
            ),
            IndexError::Refused { host, .. } => format!(
                "give a netrc entry for `{host}` (`--netrc`, `SHIPIMG_NETRC`, `~/.netrc`)"
            ),
        })
    }
}

/// How long the preflight request to an index may take.
pub const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct IndexOptions {
    /// `--netrc`.
    pub netrc_flag: Option<PathBuf>,
    /// `--index-url`, repeatable.
    pub index_urls: Vec<String>,
}

/// What the environment holds, injected so resolution stays testable.
pub struct IndexEnv<'a> {
    /// Looks a variable up.
    pub var: &'a dyn Fn(&str) -> Option<String>,
    /// The home directory, for `~/.netrc`.
    pub home: Option<PathBuf>,
}

/// The netrc the build will get, and where it came from.
pub struct IndexCredentials {
    /// The entries served (narrowed to the index hosts when any were given).
    pub netrc: Netrc,
    /// Where they came from, for people: a flag and path, or a variable name. Never a value.
    pub source: String,
    /// Hosts whose entry is a Google access token.
    pub google_hosts: Vec<String>,
    /// Machines in the source before narrowing (for the "narrow it" note).
    pub machines_before: usize,
    /// Whether `--index-url` narrowed the netrc.
    pub narrowed: bool,
    /// What is wrong with the netrc, though the build can go on (see [`netrc_warnings`]).
    pub warnings: Vec<IndexWarning>,
}

/// Something the user should fix in the index credentials; the build goes on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexWarning {
    /// One line, naming where the credentials came from.
    pub message: String,
    /// The fix.
    pub hint: String,
}

/// Warnings for a netrc that gives the build nothing to log in with: no entry at all, or
/// entries without a password (pip sends no credentials, or prompts where nobody can answer,
/// and the index refuses). Such a netrc parses fine, so it used to be served without a word.
pub fn netrc_warnings(netrc: &Netrc, source: &str) -> Vec<IndexWarning> {
    if netrc.is_empty() {
        return vec![IndexWarning {
            message: format!(
                "the netrc from `{source}` has no entries: the build gets no index credentials"
            ),
            hint: "add the index's entry: `machine HOST login USER password PASSWORD`".into(),
        }];
    }
    let without: Vec<String> = netrc
        .entries()
        .iter()
        .filter(|e| {
            e.password
                .as_ref()
                .is_none_or(|p| p.expose_secret().is_empty())
        })
        .map(|e| format!("`{}`", e.machine.as_deref().unwrap_or("default")))
        .collect();
    if without.is_empty() {
        return Vec::new();
    }
    vec![IndexWarning {
        message: format!(
            "the netrc from `{source}` has no password for {}: pip will send no credentials there",
            without.join(", ")
        ),
        hint: "add `password PASSWORD` to the entry: `machine HOST login USER password PASSWORD`"
            .into(),
    }]
}

impl std::fmt::Debug for IndexCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexCredentials")
            .field("source", &self.source)
            .field("machines", &self.netrc.entries().len())
            .finish_non_exhaustive()
    }
}

/// The host of an index URL as a netrc names it: no scheme, credentials, port or path.
pub fn index_host(url: &str) -> Result<String, IndexError> {
    let invalid = || IndexError::InvalidUrl {
        url: crate::redact::redact(url),
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    if !matches!(scheme, "http" | "https") {
        return Err(invalid());
    }
    if crate::leak::userinfo::has_userinfo(url) {
        return Err(IndexError::UrlHoldsCredentials);
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default().to_owned(),
        None => authority.split(':').next().unwrap_or_default().to_owned(),
    };
    if host.is_empty() {
        return Err(invalid());
    }
    Ok(host.to_ascii_lowercase())
}

/// Whether a host is an Artifact Registry Python repository host.
pub fn is_artifact_registry_python(host: &str) -> bool {
    host.ends_with("-python.pkg.dev")
}

/// The build arguments pip and uv read an index from, for a build of `index_urls`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IndexBuildArgs {
    /// `(name, value)` to add.
    pub added: Vec<(String, String)>,
    /// Names left out because their URL carries a credential.
    pub withheld: Vec<&'static str>,
}

/// The index URLs as the build arguments pip and uv read (`PIP_INDEX_URL`, `UV_INDEX_URL` and
/// their `EXTRA_` lists), for each the Dockerfile declares with `ARG` (`declared`) and the user
/// left unset (`set`): `shipimg init`'s Dockerfiles then need no `--build-arg`. A URL with a
/// credential in it is never a build argument.
pub fn index_build_args(
    index_urls: &[String],
    declared: &[String],
    set: &std::collections::BTreeMap<String, String>,
) -> IndexBuildArgs {
    let mut args = IndexBuildArgs::default();
    let Some((first, rest)) = index_urls.split_first() else {
        return args;
    };
    let extra = rest.join(" ");
    for (name, value) in [
        ("PIP_INDEX_URL", first),
        ("UV_INDEX_URL", first),
        ("PIP_EXTRA_INDEX_URL", &extra),
        ("UV_EXTRA_INDEX_URL", &extra),
    ] {
        if value.is_empty() || !declared.iter().any(|d| d == name) || set.contains_key(name) {
            continue;
        }
        if value
            .split_whitespace()
            .any(crate::leak::userinfo::has_userinfo)
        {
            args.withheld.push(name);
        } else {
            args.added.push((name.to_owned(), value.clone()));
        }
    }
    args
}

/// Where [`resolve_index_credentials`] looks for the index netrc, in its order, for the error
/// when a build needs one and none was found.
pub const NETRC_SOURCES: &str =
    "--netrc, SHIPIMG_NETRC, SHIPIMG_INDEX_USERNAME/SHIPIMG_INDEX_PASSWORD, $NETRC, ~/.netrc";

/// Finds the netrc for the build, without Google tokens (see [`add_google_tokens`]).
/// `Ok(None)` when no source applies.
pub fn resolve_index_credentials(
    options: &IndexOptions,
    env: &IndexEnv<'_>,
) -> Result<Option<IndexCredentials>, IndexError> {
    let hosts = options
        .index_urls
        .iter()
        .map(|url| index_host(url))
        .collect::<Result<Vec<_>, _>>()?;

    let (netrc, source) = if let Some(path) = &options.netrc_flag {
        (
            read_netrc_file(path, "--netrc")?,
            format!("--netrc {}", path.display()),
        )
    } else if let Some(text) = (env.var)("SHIPIMG_NETRC").filter(|t| !t.is_empty()) {
        let netrc = parse_netrc(&text).map_err(IndexError::EnvNetrc)?;
        (netrc, "SHIPIMG_NETRC".to_owned())
    } else if let Some(user) = (env.var)("SHIPIMG_INDEX_USERNAME") {
        let password = (env.var)("SHIPIMG_INDEX_PASSWORD").ok_or(IndexError::PasswordMissing)?;
        if hosts.is_empty() {
            return Err(IndexError::NoIndexForLogin);
        }
        let password = SecretString::from(password);
        crate::redact::register_login(&user, &password);
        let entries = hosts
            .iter()
            .map(|host| NetrcEntry {
                machine: Some(host.clone()),
                login: Some(user.clone()),
                password: Some(password.clone()),
                account: None,
                line: 0,
            })
            .collect();
        (
            Netrc::from_entries(entries),
            "SHIPIMG_INDEX_USERNAME/SHIPIMG_INDEX_PASSWORD".to_owned(),
        )
    } else if let Some(path) = (env.var)("NETRC").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        (
            read_netrc_file(&path, "NETRC")?,
            format!("NETRC={}", path.display()),
        )
    } else {
        match &env.home {
            Some(home) if home.join(".netrc").is_file() => {
                let path = home.join(".netrc");
                (
                    read_netrc_file(&path, "~/.netrc")?,
                    path.display().to_string(),
                )
            }
            _ => return Ok(None),
        }
    };
    register_netrc(&netrc);
    let warnings = netrc_warnings(&netrc, &source);

    let machines_before = netrc.entries().len();
    let narrowed = !hosts.is_empty();
    let netrc = if narrowed {
        let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
        netrc.only_hosts(&refs)
    } else {
        netrc
    };
    Ok(Some(IndexCredentials {
        netrc,
        source,
        google_hosts: Vec::new(),
        machines_before,
        narrowed,
        warnings,
    }))
}

fn read_netrc_file(path: &Path, origin: &'static str) -> Result<Netrc, IndexError> {
    let text = std::fs::read_to_string(path).map_err(|source| IndexError::Unreadable {
        path: path.to_owned(),
        origin,
        source,
    })?;
    parse_netrc(&text).map_err(|source| IndexError::Invalid {
        path: path.to_owned(),
        source,
    })
}

/// Registers every password and login of a netrc with the redaction layer.
pub fn register_netrc(netrc: &Netrc) {
    for entry in netrc.entries() {
        if let Some(password) = &entry.password {
            crate::redact::register_login(entry.login.as_deref().unwrap_or_default(), password);
        }
        if let Some(account) = &entry.account {
            crate::redact::register_text(account);
        }
    }
    crate::redact::register_text(&netrc.to_secret_text());
}

/// Adds a Google access token as `oauth2accesstoken` for every Artifact Registry Python host
/// among `hosts` that the netrc does not cover. Fetched now, right before the build uses it.
pub async fn add_google_tokens(
    credentials: Option<IndexCredentials>,
    index_urls: &[String],
) -> Result<Option<IndexCredentials>, IndexError> {
    let mut uncovered = Vec::new();
    for url in index_urls {
        let host = index_host(url)?;
        let covered = credentials
            .as_ref()
            .and_then(|c| c.netrc.for_host(&host))
            .is_some_and(|e| e.machine.is_some());
        if is_artifact_registry_python(&host) && !covered && !uncovered.contains(&host) {
            uncovered.push(host);
        }
    }
    if uncovered.is_empty() {
        return Ok(credentials);
    }
    let token = super::google::access_token(&super::google::GoogleEnv::from_process())
        .await
        .map_err(|source| IndexError::NoGoogleToken {
            hosts: uncovered.clone(),
            source,
        })?;
    crate::redact::register_login("oauth2accesstoken", &token.token);
    let mut entries: Vec<NetrcEntry> = credentials
        .as_ref()
        .map(|c| c.netrc.entries().to_vec())
        .unwrap_or_default();
    for host in &uncovered {
        entries.push(NetrcEntry {
            machine: Some(host.clone()),
            login: Some("oauth2accesstoken".into()),
            password: Some(token.token.clone()),
            account: None,
            line: 0,
        });
    }
    let source = match &credentials {
        Some(c) => format!("{} + Google ({})", c.source, token.source),
        None => format!("Google ({})", token.source),
    };
    Ok(Some(IndexCredentials {
        netrc: Netrc::from_entries(entries),
        source,
        google_hosts: uncovered,
        machines_before: credentials.as_ref().map_or(0, |c| c.machines_before),
        narrowed: !index_urls.is_empty(),
        warnings: credentials.map(|c| c.warnings).unwrap_or_default(),
    }))
}

/// The result of asking an index with the build's credentials.
#[derive(Debug, PartialEq, Eq)]
pub enum Preflight {
    /// It answered with something other than 401/403.
    Accepted,
    /// It could not be reached from here; the build's network may differ.
    Unreachable(String),
}

/// Requests each index with the credentials the build will get. 401 and 403 are errors naming
/// the index, the login and the source; an index that cannot be reached is a warning.
pub async fn preflight(
    index_url: &str,
    credentials: Option<&IndexCredentials>,
) -> Result<Preflight, IndexError> {
    let host = index_host(index_url)?;
    let entry = credentials.and_then(|c| c.netrc.for_host(&host));
    let client = reqwest::Client::builder()
        .timeout(PREFLIGHT_TIMEOUT)
        .build()
        .map_err(IndexError::HttpClient)?;
    let mut request = client.get(index_url);
    if let Some(entry) = entry {
        request = request.basic_auth(
            entry.login.clone().unwrap_or_default(),
            entry
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned()),
        );
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) => {
            let why = if err.is_timeout() {
                format!("no answer within {} s", PREFLIGHT_TIMEOUT.as_secs())
            } else if err.is_connect() {
                "connection failed".to_owned()
            } else {
                "request failed".to_owned()
            };
            return Ok(Preflight::Unreachable(why));
        }
    };
    let status = response.status().as_u16();
    if status == 401 || status == 403 {
        let login = entry
            .and_then(|e| e.login.clone())
            .map(|l| format!("login `{l}`"))
            .unwrap_or_else(|| "no login".to_owned());
        let source = credentials
            .map(|c| c.source.clone())
            .unwrap_or_else(|| "no credentials found".to_owned());
        let reason = if status == 401 {
            "Unauthorized"
        } else {
            "Forbidden"
        };
        return Err(IndexError::Refused {
            url: index_url.to_owned(),
            host,
            login,
            source_name: source,
            status,
            reason,
            had_entry: entry.is_some(),
        });
    }
    Ok(Preflight::Accepted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CliError;

    #[test]
    fn index_urls_become_the_declared_unset_build_args_never_with_credentials() {
        let urls = |list: &[&str]| list.iter().map(|u| (*u).to_owned()).collect::<Vec<_>>();
        let declared = urls(&["PIP_INDEX_URL", "UV_INDEX_URL", "PIP_EXTRA_INDEX_URL"]);
        let mut set = std::collections::BTreeMap::new();
        set.insert("UV_INDEX_URL".to_owned(), "mine".to_owned());
        let args = index_build_args(
            &urls(&["https://a.example/simple", "https://b.example/simple"]),
            &declared,
            &set,
        );
        assert_eq!(
            args.added,
            [
                (
                    "PIP_INDEX_URL".to_owned(),
                    "https://a.example/simple".to_owned()
                ),
                (
                    "PIP_EXTRA_INDEX_URL".to_owned(),
                    "https://b.example/simple".to_owned()
                ),
            ]
        );
        assert!(args.withheld.is_empty());
        let args = index_build_args(
            &urls(&["https://a.example/simple", "https://u:p@b.example/simple"]),
            &declared,
            &Default::default(),
        );
        assert_eq!(args.withheld, ["PIP_EXTRA_INDEX_URL"]);
        assert_eq!(args.added.len(), 2, "{args:?}");
        assert_eq!(
            index_build_args(&[], &declared, &set),
            IndexBuildArgs::default()
        );
    }

    fn env<'a>(
        vars: &'a [(&'a str, &'a str)],
        home: Option<PathBuf>,
    ) -> (impl Fn(&str) -> Option<String> + 'a, Option<PathBuf>) {
        (
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            },
            home,
        )
    }

    fn resolve(
        options: &IndexOptions,
        vars: &[(&str, &str)],
        home: Option<PathBuf>,
    ) -> Result<Option<IndexCredentials>, CliError> {
        let (var, home) = env(vars, home);
        resolve_index_credentials(options, &IndexEnv { var: &var, home }).map_err(CliError::from)
    }

    fn machines(c: &IndexCredentials) -> Vec<String> {
        c.netrc
            .entries()
            .iter()
            .map(|e| e.machine.clone().unwrap_or_else(|| "default".into()))
            .collect()
    }

    const TWO_MACHINES: &str = "machine pypi.acme.dev login ci password idx-pass\nmachine github.com login me password gh-pass\ndefault login anon password anon-pass\n";

    #[test]
    fn hosts_come_from_index_urls() {
        assert_eq!(
            index_host("https://europe-west4-python.pkg.dev/p/r/simple/").unwrap(),
            "europe-west4-python.pkg.dev"
        );
        assert_eq!(
            index_host("http://127.0.0.1:5556/simple/").unwrap(),
            "127.0.0.1"
        );
        assert_eq!(index_host("http://[::1]:80/simple").unwrap(), "::1");
        assert!(index_host("pypi.acme.dev/simple").is_err());
        let err = CliError::from(index_host("https://u:secret@pypi.acme.dev/simple").unwrap_err());
        assert!(!err.message().contains("secret"), "{}", err.message());
        assert!(err.hint().unwrap().contains("netrc"));
    }

    #[test]
    fn precedence_flag_then_env_text_then_user_pass_then_netrc_var_then_home() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("flag.netrc");
        std::fs::write(&flag, "machine flag.host login f password fp\n").unwrap();
        let var_file = dir.path().join("var.netrc");
        std::fs::write(&var_file, "machine var.host login v password vp\n").unwrap();
        std::fs::write(
            dir.path().join(".netrc"),
            "machine home.host login h password hp\n",
        )
        .unwrap();
        let home = Some(dir.path().to_path_buf());
        let urls = vec!["https://idx.host/simple/".to_owned()];
        let text = "machine text.host login t password tp";
        let var_path = var_file.to_str().unwrap();
        let all = [
            ("SHIPIMG_NETRC", text),
            ("SHIPIMG_INDEX_USERNAME", "u"),
            ("SHIPIMG_INDEX_PASSWORD", "up"),
            ("NETRC", var_path),
        ];

        let with_flag = IndexOptions {
            netrc_flag: Some(flag.clone()),
            index_urls: vec![],
        };
        let c = resolve(&with_flag, &all, home.clone()).unwrap().unwrap();
        assert_eq!(
            (machines(&c), c.source.starts_with("--netrc ")),
            (vec!["flag.host".into()], true)
        );

        let none = IndexOptions::default();
        let c = resolve(&none, &all, home.clone()).unwrap().unwrap();
        assert_eq!(
            (machines(&c), c.source.as_str()),
            (vec!["text.host".into()], "SHIPIMG_NETRC")
        );

        let with_url = IndexOptions {
            netrc_flag: None,
            index_urls: urls.clone(),
        };
        let c = resolve(&with_url, &all[1..], home.clone())
            .unwrap()
            .unwrap();
        assert_eq!(machines(&c), ["idx.host"]);
        assert_eq!(c.source, "SHIPIMG_INDEX_USERNAME/SHIPIMG_INDEX_PASSWORD");

        let c = resolve(&none, &all[3..], home.clone()).unwrap().unwrap();
        assert_eq!(
            (machines(&c), c.source.starts_with("NETRC=")),
            (vec!["var.host".into()], true)
        );

        let c = resolve(&none, &[], home.clone()).unwrap().unwrap();
        assert_eq!(machines(&c), ["home.host"]);

        assert!(
            resolve(&none, &[], Some(dir.path().join("nowhere")))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn empty_and_password_less_netrcs_are_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("netrc");
        let flag = IndexOptions {
            netrc_flag: Some(path.clone()),
            index_urls: Vec::new(),
        };
        for (text, expected) in [
            ("", Some("has no entries")),
            ("# only a comment\n", Some("has no entries")),
            (
                "machine a.host login me\nmachine b.host login me password p1\ndefault login x\n",
                Some("has no password for `a.host`, `default`: pip will send no credentials there"),
            ),
            ("machine a.host login me password \"\"\n", Some("`a.host`")),
            ("machine a.host login me password p1\n", None),
        ] {
            std::fs::write(&path, text).unwrap();
            let c = resolve(&flag, &[], None).unwrap().unwrap();
            match expected {
                Some(needle) => {
                    let [warning] = &c.warnings[..] else {
                        panic!("{text:?}: {:?}", c.warnings)
                    };
                    assert!(warning.message.contains(needle), "{text:?}: {warning:?}");
                    assert!(
                        warning
                            .message
                            .contains(&format!("`--netrc {}`", path.display())),
                        "names the file: {warning:?}"
                    );
                    assert!(warning.hint.contains("machine HOST login USER password"));
                }
                None => assert_eq!(c.warnings, [], "{text:?}"),
            }
        }
        let vars = [
            ("SHIPIMG_INDEX_USERNAME", "u"),
            ("SHIPIMG_INDEX_PASSWORD", "p"),
        ];
        let options = IndexOptions {
            netrc_flag: None,
            index_urls: vec!["https://idx.host/simple/".into()],
        };
        assert_eq!(
            resolve(&options, &vars, None).unwrap().unwrap().warnings,
            []
        );
    }

    #[test]
    fn index_urls_narrow_the_netrc_to_their_hosts() {
        let vars = [("SHIPIMG_NETRC", TWO_MACHINES)];
        let all = resolve(&IndexOptions::default(), &vars, None)
            .unwrap()
            .unwrap();
        assert_eq!(machines(&all), ["pypi.acme.dev", "github.com", "default"]);
        assert!(!all.narrowed);
        let options = IndexOptions {
            netrc_flag: None,
            index_urls: vec!["https://PYPI.acme.dev/simple/".into()],
        };
        let narrowed = resolve(&options, &vars, None).unwrap().unwrap();
        assert_eq!(machines(&narrowed), ["pypi.acme.dev"]);
        assert_eq!(narrowed.machines_before, 3);
        assert!(narrowed.narrowed);
    }

    #[test]
    fn half_given_or_unusable_sources_are_clear_errors() {
        let err = resolve(
            &IndexOptions::default(),
            &[("SHIPIMG_INDEX_USERNAME", "u")],
            None,
        )
        .unwrap_err();
        assert!(
            err.message().contains("SHIPIMG_INDEX_PASSWORD is not"),
            "{}",
            err.message()
        );
        let err = resolve(
            &IndexOptions::default(),
            &[
                ("SHIPIMG_INDEX_USERNAME", "u"),
                ("SHIPIMG_INDEX_PASSWORD", "p"),
            ],
            None,
        )
        .unwrap_err();
        assert!(err.hint().unwrap().contains("--index-url"));
        let missing = IndexOptions {
            netrc_flag: Some("/nonexistent/netrc".into()),
            index_urls: vec![],
        };
        let err = resolve(&missing, &[], None).unwrap_err();
        assert!(
            err.message()
                .starts_with("cannot read the netrc `/nonexistent/netrc` (--netrc)"),
            "{}",
            err.message()
        );
    }
}
