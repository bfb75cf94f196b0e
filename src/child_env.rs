//! The environment shipimg's children get: credential helpers, `gcloud`, `git`.
//!
//! They inherit the parent's environment (helpers need `HOME`, `PATH`, the D-Bus session and
//! their own settings such as `AWS_*`; `gcloud` needs `CLOUDSDK_*`), minus every secret shipimg
//! was handed through a variable: every `SHIPIMG_*` variable, and every variable a
//! `--secret env=VAR` (or `scan --secret-env VAR`) names. All of `SHIPIMG_*` goes, not only the
//! ones that hold secrets today (`SHIPIMG_NETRC`, `SHIPIMG_INDEX_PASSWORD`,
//! `SHIPIMG_REGISTRY_PASSWORD`): no child reads shipimg's own settings, and a secret variable
//! added later is then scrubbed without anyone remembering to list it here.
//!
//! [`prepare`] is the one place a child's environment is decided; every spawn goes through it.

use std::ffi::{OsStr, OsString};
use std::sync::RwLock;

/// Variables registered as holding a secret (`--secret env=VAR`).
static SECRET_VARS: RwLock<Vec<OsString>> = RwLock::new(Vec::new());

/// Records that `name` holds a secret: no child sees it from now on.
pub fn register_secret_var(name: &str) {
    let mut vars = SECRET_VARS.write().unwrap_or_else(|p| p.into_inner());
    if !vars.iter().any(|v| v == name) {
        vars.push(OsString::from(name));
    }
}

/// Whether a child must not see the variable `name`.
pub fn is_secret_var(name: &OsStr) -> bool {
    if name.as_encoded_bytes().starts_with(b"SHIPIMG_") {
        return true;
    }
    SECRET_VARS
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .any(|v| v == name)
}

/// Which of the parent's variables a child keeps.
#[derive(Clone, Copy)]
pub enum Inherit<'a> {
    /// Everything but the secrets.
    All,
    /// Only variables this keeps (and never a secret): for tools, like git, whose needs are
    /// known and small.
    Only(&'a dyn Fn(&str) -> bool),
}

/// A command whose environment can be edited: `std` and tokio's.
pub trait ChildCommand {
    /// Removes one variable from the child's environment.
    fn remove_var(&mut self, name: &OsStr);
    /// Starts the child from an empty environment.
    fn clear_vars(&mut self);
    /// Sets one variable.
    fn set_var(&mut self, name: &OsStr, value: &OsStr);
}

/// The two `Command`s share these methods by name only, so one impl is written for both.
macro_rules! child_command {
    ($($command:ty),*) => {$(
        impl ChildCommand for $command {
            fn remove_var(&mut self, name: &OsStr) {
                self.env_remove(name);
            }
            fn clear_vars(&mut self) {
                self.env_clear();
            }
            fn set_var(&mut self, name: &OsStr, value: &OsStr) {
                self.env(name, value);
            }
        }
    )*};
}

child_command!(std::process::Command, tokio::process::Command);

/// Prepares `command`'s environment from the parent's: never a secret variable, and with
/// [`Inherit::Only`] only what the filter keeps. Call it before setting the child's own
/// variables (they are kept).
pub fn prepare<'c, C: ChildCommand>(command: &'c mut C, inherit: Inherit<'_>) -> &'c mut C {
    prepare_from(command, inherit, std::env::vars_os())
}

fn prepare_from<'c, C: ChildCommand>(
    command: &'c mut C,
    inherit: Inherit<'_>,
    parent: impl Iterator<Item = (OsString, OsString)>,
) -> &'c mut C {
    match inherit {
        Inherit::All => {
            for (name, _) in parent {
                if is_secret_var(&name) {
                    command.remove_var(&name);
                }
            }
        }
        Inherit::Only(keep) => {
            command.clear_vars();
            for (name, value) in parent {
                let kept = name.to_str().is_some_and(keep);
                if kept && !is_secret_var(&name) {
                    command.set_var(&name, &value);
                }
            }
        }
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> impl Iterator<Item = (OsString, OsString)> {
        [
            ("PATH", "/bin"),
            ("HOME", "/home/u"),
            ("AWS_PROFILE", "prod"),
            ("CLOUDSDK_CONFIG", "/g"),
            ("SHIPIMG_NETRC", "machine x login a password p"),
            ("SHIPIMG_REGISTRY_PASSWORD", "p"),
            ("SHIPIMG_IMAGE", "r/x"),
            ("GIT_DIR", "/repo/.git"),
            ("CHILD_ENV_TEST_TOKEN", "t"),
        ]
        .into_iter()
        .map(|(n, v)| (n.into(), v.into()))
    }

    fn seen(command: &std::process::Command) -> Vec<(String, Option<String>)> {
        let mut vars: Vec<_> = command
            .get_envs()
            .map(|(n, v)| {
                (
                    n.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        vars.sort();
        vars
    }

    #[test]
    fn every_shipimg_variable_and_every_registered_secret_variable_is_removed() {
        register_secret_var("CHILD_ENV_TEST_TOKEN");
        let mut command = std::process::Command::new("true");
        prepare_from(&mut command, Inherit::All, parent());
        let removed: Vec<String> = seen(&command)
            .into_iter()
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            removed,
            [
                "CHILD_ENV_TEST_TOKEN",
                "SHIPIMG_IMAGE",
                "SHIPIMG_NETRC",
                "SHIPIMG_REGISTRY_PASSWORD"
            ]
        );
    }

    #[test]
    fn an_allow_list_never_lets_a_secret_through() {
        register_secret_var("GIT_TEST_SECRET_TOKEN");
        let keep = |name: &str| name == "PATH" || name.starts_with("GIT_");
        let parent = parent().chain([("GIT_TEST_SECRET_TOKEN".into(), "s".into())]);
        let mut command = tokio::process::Command::new("true");
        prepare_from(&mut command, Inherit::Only(&keep), parent);
        let vars = seen(command.as_std());
        assert_eq!(
            vars,
            [
                ("GIT_DIR".to_owned(), Some("/repo/.git".to_owned())),
                ("PATH".to_owned(), Some("/bin".to_owned())),
            ]
        );
    }
}
