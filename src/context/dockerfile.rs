//! What the build needs to know of a Dockerfile before it starts: the registries its base
//! images come from (for their logins) and its secret mounts (to check the netrc is there).
//! The secret lint, with every rule, is [`crate::lint`].

/// A Dockerfile the parser could not read.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DockerfileError {
    /// The parser's message.
    pub message: String,
}

/// The registry hosts of the images `FROM` names (not earlier stages, not `scratch`, not
/// references built from `ARG`s), for the credentials the engine may ask for while pulling.
pub fn base_image_hosts(text: &str) -> Result<Vec<String>, DockerfileError> {
    let dockerfile = parse_dockerfile::parse(text).map_err(|err| DockerfileError {
        message: err.to_string(),
    })?;
    let mut stages: Vec<String> = Vec::new();
    let mut hosts: Vec<String> = Vec::new();
    for instruction in &dockerfile.instructions {
        let parse_dockerfile::Instruction::From(from) = instruction else {
            continue;
        };
        let image = from.image.value.as_ref();
        let is_stage = stages.iter().any(|s| s.eq_ignore_ascii_case(image));
        if !is_stage && image != "scratch" && !image.contains('$') {
            let host = registry_host(image);
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        if let Some((_, name)) = &from.as_ {
            stages.push(name.value.to_string());
        }
    }
    Ok(hosts)
}

/// The registry host of an image reference, as docker reads it: the first component when it
/// has a `.` or `:` or is `localhost`, else Docker Hub.
pub fn registry_host(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => {
            first.to_ascii_lowercase()
        }
        _ => "docker.io".to_owned(),
    }
}

/// The names every `ARG` declares, in order (duplicates kept).
pub fn declared_args(text: &str) -> Result<Vec<String>, DockerfileError> {
    let dockerfile = parse_dockerfile::parse(text).map_err(|err| DockerfileError {
        message: err.to_string(),
    })?;
    let mut names = Vec::new();
    for instruction in &dockerfile.instructions {
        if let parse_dockerfile::Instruction::Arg(arg) = instruction {
            for (name, _) in crate::lint::parse_pairs(&arg.arguments.value, false) {
                names.push(name);
            }
        }
    }
    Ok(names)
}

/// A `RUN --mount=type=secret,...` in the Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMount {
    /// 1-based line of the `RUN`.
    pub line: usize,
    /// The secret id (`id=`, or the target's base name, as BuildKit defaults it).
    pub id: String,
    /// Where it is mounted (`target=`/`dst=`), if given.
    pub target: Option<String>,
    /// `required=true`.
    pub required: bool,
}

/// Every secret mount of every `RUN`.
pub fn secret_mounts(text: &str) -> Result<Vec<SecretMount>, DockerfileError> {
    let dockerfile = parse_dockerfile::parse(text).map_err(|err| DockerfileError {
        message: err.to_string(),
    })?;
    let mut out = Vec::new();
    for instruction in &dockerfile.instructions {
        let parse_dockerfile::Instruction::Run(run) = instruction else {
            continue;
        };
        let line = text[..run.run.span.start].matches('\n').count() + 1;
        for flag in &run.options {
            if flag.name.value != "mount" {
                continue;
            }
            let Some(value) = &flag.value else { continue };
            if let Some(mount) = parse_secret_mount(&value.value, line) {
                out.push(mount);
            }
        }
    }
    Ok(out)
}

/// `type=secret,id=netrc,target=/root/.netrc,required=true` -> a mount; other types -> None.
fn parse_secret_mount(spec: &str, line: usize) -> Option<SecretMount> {
    let mut kind = None;
    let mut id = None;
    let mut target = None;
    let mut required = false;
    for field in spec.split(',') {
        let (key, value) = field.split_once('=').unwrap_or((field, "true"));
        match key.trim().to_ascii_lowercase().as_str() {
            "type" => kind = Some(value.trim().to_owned()),
            "id" => id = Some(value.trim().to_owned()),
            "target" | "dst" | "destination" => target = Some(value.trim().to_owned()),
            "required" => required = value.trim().eq_ignore_ascii_case("true"),
            _ => {}
        }
    }
    if kind.as_deref() != Some("secret") {
        return None;
    }
    // BuildKit defaults the id to the target's base name.
    let id = id.or_else(|| {
        target
            .as_deref()
            .and_then(|t| t.rsplit('/').next())
            .map(str::to_owned)
    })?;
    Some(SecretMount {
        line,
        id,
        target,
        required,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_image_hosts_skip_stages_scratch_and_args() {
        let text = "ARG BASE=x\nFROM europe-west4-docker.pkg.dev/p/r/python:3.11 AS build\n\
                    FROM build AS test\nFROM $BASE\nFROM scratch\nFROM python:3.11-slim\n\
                    FROM 127.0.0.1:5555/sandbox/busybox:1\nFROM localhost/x\n";
        assert_eq!(
            base_image_hosts(text).unwrap(),
            [
                "europe-west4-docker.pkg.dev",
                "docker.io",
                "127.0.0.1:5555",
                "localhost"
            ]
        );
    }

    #[test]
    fn finds_secret_mounts() {
        let text = "FROM x\n\
                    RUN --mount=type=cache,target=/root/.cache \\\n    --mount=type=secret,id=netrc,target=/root/.netrc,required=true pip install .\n\
                    RUN --mount=type=secret,target=/run/secrets/token cat /run/secrets/token\n\
                    RUN echo hi\n";
        assert_eq!(
            secret_mounts(text).unwrap(),
            [
                SecretMount {
                    line: 2,
                    id: "netrc".into(),
                    target: Some("/root/.netrc".into()),
                    required: true
                },
                SecretMount {
                    line: 4,
                    id: "token".into(),
                    target: Some("/run/secrets/token".into()),
                    required: false
                },
            ]
        );
    }

    #[test]
    fn a_broken_dockerfile_is_an_error_not_a_panic() {
        let _ = secret_mounts("RUN --mount\n");
        let _ = base_image_hosts("FROM\n");
    }
}
