//! `--secret` values in buildx's syntax: `id=ID[,src=PATH|,env=VAR][,type=file|env]`.
//!
//! As buildx (`util/buildflags/secrets.go`): `source` is a synonym of `src`; with `type=env`
//! and no `env=`, `src` names the variable; a file secret's id defaults to the file's base
//! name, an env secret's variable to its id; with no type and no source, a variable named like
//! the id wins if it is set, else a file of that name. Empty values are errors here, where
//! buildx would fail later, reading a file or variable with no name.

use std::path::PathBuf;

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file's bytes.
    File(PathBuf),
    /// An environment variable's value.
    Env(String),
}

/// A parsed `--secret`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    /// The id the Dockerfile mounts.
    pub id: String,
    /// Where the value comes from.
    pub source: SecretSource,
}

/// Parses one `--secret` value. `env_is_set` answers whether a variable exists (for the
/// id-only form), so the parse stays pure.
pub fn parse_secret_spec(
    value: &str,
    env_is_set: &dyn Fn(&str) -> bool,
) -> Result<SecretSpec, String> {
    let mut kind = None;
    let mut id = None;
    let mut src = None;
    let mut env = None;
    for field in split_fields(value)? {
        let Some((key, val)) = field.split_once('=') else {
            return Err(format!(
                "invalid field `{field}`: expected KEY=VALUE (id, src, env or type)"
            ));
        };
        let val = val.to_owned();
        match key.trim().to_ascii_lowercase().as_str() {
            "type" => kind = Some(val),
            "id" => id = Some(val),
            "src" | "source" => src = Some(val),
            "env" => env = Some(val),
            other => {
                return Err(format!(
                    "unknown field `{other}`: expected id, src, env or type"
                ));
            }
        }
    }
    for (name, value) in [("id", &id), ("src", &src), ("env", &env)] {
        if value.as_deref() == Some("") {
            return Err(format!("`{name}` is empty"));
        }
    }
    let kind = match kind.as_deref() {
        Some("file") => "file",
        Some("env") => "env",
        Some(other) => return Err(format!("unknown type `{other}`: expected `file` or `env`")),
        None if env.is_some() => "env",
        None if src.is_some() => "file",
        None => match &id {
            Some(id) if env_is_set(id) => "env",
            Some(_) => "file",
            None => return Err("give at least `id=ID` or `src=PATH`".into()),
        },
    };
    if kind == "file" {
        if env.is_some() {
            return Err("`env` does not go with `type=file`".into());
        }
        let path = src
            .or_else(|| id.clone())
            .ok_or("`type=file` needs `src=PATH` or `id=ID`")?;
        let id = match id {
            Some(id) => id,
            None => PathBuf::from(&path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| format!("cannot take an id from `{path}`: give `id=`"))?,
        };
        Ok(SecretSpec {
            id,
            source: SecretSource::File(PathBuf::from(path)),
        })
    } else {
        if env.is_some() && src.is_some() {
            return Err("give the variable once: `env=` or `src=`, not both".into());
        }
        let var = env
            .or(src)
            .or_else(|| id.clone())
            .ok_or("`type=env` needs `env=VARIABLE` or `id=ID`")?;
        Ok(SecretSpec {
            id: id.unwrap_or_else(|| var.clone()),
            source: SecretSource::Env(var),
        })
    }
}

/// Splits on commas outside double quotes, as buildx's CSV reading does.
fn split_fields(value: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    fields.push(current);
    Ok(fields.into_iter().filter(|f| !f.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<SecretSpec, String> {
        parse_secret_spec(value, &|name| name == "SET_VAR")
    }

    fn file(id: &str, path: &str) -> SecretSpec {
        SecretSpec {
            id: id.into(),
            source: SecretSource::File(path.into()),
        }
    }

    fn env(id: &str, var: &str) -> SecretSpec {
        SecretSpec {
            id: id.into(),
            source: SecretSource::Env(var.into()),
        }
    }

    #[test]
    fn buildx_forms() {
        assert_eq!(
            parse("id=tok,src=/run/tok").unwrap(),
            file("tok", "/run/tok")
        );
        assert_eq!(
            parse("id=tok,source=/run/tok").unwrap(),
            file("tok", "/run/tok")
        );
        assert_eq!(
            parse("src=/etc/app/key.json").unwrap(),
            file("key.json", "/etc/app/key.json")
        );
        assert_eq!(
            parse("id=tok,env=MY_TOKEN").unwrap(),
            env("tok", "MY_TOKEN")
        );
        assert_eq!(parse("env=MY_TOKEN").unwrap(), env("MY_TOKEN", "MY_TOKEN"));
        assert_eq!(
            parse("type=env,id=MY_TOKEN").unwrap(),
            env("MY_TOKEN", "MY_TOKEN")
        );
        assert_eq!(parse("type=file,id=tok").unwrap(), file("tok", "tok"));
        // buildx reads `src` as the variable's name under `type=env`.
        assert_eq!(
            parse("type=env,id=tok,src=MY_TOKEN").unwrap(),
            env("tok", "MY_TOKEN")
        );
        assert_eq!(
            parse("type=env,source=MY_TOKEN").unwrap(),
            env("MY_TOKEN", "MY_TOKEN")
        );
        assert_eq!(
            parse("id=\"a,b\",src=\"/x,y\"").unwrap(),
            file("a,b", "/x,y")
        );
    }

    #[test]
    fn id_alone_prefers_a_set_variable() {
        assert_eq!(parse("id=SET_VAR").unwrap(), env("SET_VAR", "SET_VAR"));
        assert_eq!(parse("id=unset").unwrap(), file("unset", "unset"));
    }

    #[test]
    fn bad_forms_say_what_is_wrong() {
        for (value, needle) in [
            ("", "at least"),
            ("id=", "empty"),
            ("tok", "KEY=VALUE"),
            ("id=x,path=/y", "unknown field `path`"),
            ("type=ssh,id=x", "unknown type `ssh`"),
            ("type=file,id=x,env=Y", "does not go"),
            ("type=env,id=x,env=Y,src=Z", "not both"),
            ("id=\"x", "unterminated"),
            // `type=file` alone used to panic.
            ("type=file", "needs `src=PATH` or `id=ID`"),
            ("type=env", "needs `env=VARIABLE` or `id=ID`"),
            ("type=file,src=", "`src` is empty"),
            ("id=x,env=", "`env` is empty"),
            ("src=/", "cannot take an id"),
        ] {
            let err = parse(value).unwrap_err();
            assert!(err.contains(needle), "{value:?}: {err}");
        }
    }

    proptest::proptest! {
        #[test]
        fn no_value_panics(value in "((type|id|src|source|env|x)?=?(file|env|[a-z/\",]{0,6})?,?){0,5}") {
            let _ = parse(&value);
        }

        #[test]
        fn no_text_panics(value in "\\PC{0,40}") {
            let _ = parse(&value);
        }
    }
}
