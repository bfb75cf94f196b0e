//! The lint's rules, each firing and not firing, on small Dockerfiles and on the two that
//! matter most: the seed article's recipe and the example project's.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;

use super::*;

const SEED_ARTICLE: &str = r#"FROM python:3.8-slim as build
# Use same workdir as image to which venv is copied
#  otherwise get problems with CLIs / paths
WORKDIR /opt/workdir
RUN apt-get update
RUN apt-get install -y --no-install-recommends \
    build-essential gcc
RUN python -m venv /opt/workdir/.venv
ENV PATH="/opt/workdir/.venv/bin:$PATH"
RUN python -m pip install --upgrade pip
# NB: this file is generated in CD
COPY .netrc /root/.netrc
COPY src src
COPY pyproject.toml pyproject.toml
COPY poetry.lock poetry.lock
COPY README.md README.md
RUN pip install . --extra-index-url=https://europe-west4-python.pkg.dev/this/pypi-registry/simple/

FROM python:3.8-slim
WORKDIR /opt/workdir
COPY --from=build /opt/workdir/.venv .venv
ENV PATH="/opt/workdir/.venv/bin:$PATH"
"#;

fn run(text: &str) -> LintReport {
    run_with(text, &LintOptions::default())
}

fn run_with(text: &str, options: &LintOptions<'_>) -> LintReport {
    lint(text, "Dockerfile", options).expect("parses")
}

/// (rule id, severity, line) of each finding.
fn summary(report: &LintReport) -> Vec<(&'static str, Severity, usize)> {
    report
        .findings
        .iter()
        .map(|f| (f.rule.id(), f.severity, f.line))
        .collect()
}

use Severity::{Error, Warning};

#[test]
fn seed_article_build_stage_netrc_copy_is_an_error() {
    let report = run(SEED_ARTICLE);
    assert_eq!(summary(&report), [("SL002", Error, 12)]);
    let finding = &report.findings[0];
    assert_eq!(finding.text, "COPY .netrc /root/.netrc");
    assert_eq!(
        finding.to_string(),
        "Dockerfile:12: [SL002 copy-credential-stage] `COPY .netrc /root/.netrc` copies `.netrc` \
         into build stage `build`: a netrc file holds passwords, and the build cache and the local \
         image store keep it even though the final image leaves it behind\n  \
         hint: mount it only for the step that needs it: \
         `RUN --mount=type=secret,id=netrc,target=/root/.netrc ...`; shipimg serves the netrc as \
         secret `netrc`; or pass `--allow-secret-copy` to accept it in a build stage"
    );
    assert!(report.has_errors());
}

#[test]
fn seed_article_with_allow_secret_copy_is_a_warning() {
    let options = LintOptions {
        allow_secret_copy: true,
        ..LintOptions::default()
    };
    let report = run_with(SEED_ARTICLE, &options);
    assert_eq!(summary(&report), [("SL002", Warning, 12)]);
    assert!(!report.has_errors());
    assert_eq!(report.warnings().count(), 1);
    assert!(!report.findings[0].fix.contains("--allow-secret-copy"));
}

#[test]
fn example_project_dockerfile_is_clean() {
    let text = include_str!("../../fixtures/example/Dockerfile");
    let mut build_args = BTreeMap::new();
    build_args.insert(
        "INDEX_URL".to_owned(),
        "http://127.0.0.1:8080/simple/".to_owned(),
    );
    let options = LintOptions {
        build_args: &build_args,
        secret_values: &[b"sandbox-password"],
        context_dir: Some(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/example"
        ))),
        ..LintOptions::default()
    };
    assert_eq!(run_with(text, &options).findings, []);
}

#[test]
fn credential_copy_into_the_final_image_is_an_error_even_when_allowed() {
    let text = "FROM python:3.11\nCOPY .netrc /root/.netrc\n";
    let options = LintOptions {
        allow_secret_copy: true,
        ..LintOptions::default()
    };
    assert_eq!(summary(&run_with(text, &options)), [("SL001", Error, 2)]);
}

#[test]
fn a_stage_the_final_image_is_built_from_counts_as_final() {
    let text = "FROM python:3.11 AS base\nCOPY id_rsa /root/.ssh/id_rsa\n\
                FROM python:3.11 AS other\nCOPY .pypirc /root/\n\
                FROM base\nRUN echo hi\n";
    assert_eq!(
        summary(&run(text)),
        [("SL001", Error, 2), ("SL002", Error, 4)]
    );
}

#[test]
fn target_picks_the_final_stage() {
    let text = "FROM python:3.11 AS build\nCOPY .netrc /root/.netrc\nFROM python:3.11\n";
    let options = LintOptions {
        target: Some("BUILD"),
        ..LintOptions::default()
    };
    assert_eq!(summary(&run_with(text, &options)), [("SL001", Error, 2)]);
    assert_eq!(summary(&run(text)), [("SL002", Error, 2)]);
}

#[test]
fn credential_names_in_any_form_of_copy() {
    let text = "FROM x AS build\nRUN true\nFROM y\n\
                COPY --from=build /root/.netrc /root/.netrc\n\
                ADD [\"./conf/../.git-credentials\", \"/root/\"]\n\
                COPY creds.txt /root/.netrc\n\
                COPY --chown=app .env.production /app/\n\
                COPY .env.example README.md /app/\n\
                ADD https://example.com/.netrc /tmp/\n\
                COPY <<EOF /etc/motd\nhello\nEOF\n";
    let report = run(text);
    assert_eq!(
        summary(&report),
        [
            ("SL001", Error, 4),
            ("SL001", Error, 5),
            ("SL001", Error, 6),
            ("SL001", Error, 7)
        ]
    );
    assert!(report.findings[0].message.contains("from stage `build`"));
}

#[test]
fn content_decides_when_the_context_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let key = crate::leak::shapes::tests::pem_key("").replace('\n', "\\n");
    std::fs::write(
        dir.path().join("key.json"),
        format!(r#"{{"type": "service_account", "private_key": "{key}"}}"#),
    )
    .unwrap();
    std::fs::write(dir.path().join("package.json"), r#"{"name": "x"}"#).unwrap();
    std::fs::create_dir(dir.path().join("conf")).unwrap();
    std::fs::write(
        dir.path().join("conf/pip.conf"),
        "[global]\nindex-url = https://u:Zq8xT2pLw9vR@h/simple\n",
    )
    .unwrap();
    let text = "FROM x\nCOPY package.json ./\nCOPY key.json ./\nCOPY conf/*.conf /etc/\n\
                COPY missing.json ./\n";
    let options = LintOptions {
        context_dir: Some(dir.path()),
        ..LintOptions::default()
    };
    assert_eq!(
        summary(&run_with(text, &options)),
        [("SL001", Error, 3), ("SL001", Error, 4)]
    );
    // Without the context only names count.
    assert_eq!(run(text).findings, []);
    // Files let past the guard with --allow-context-file are not findings.
    let allowed: HashSet<Vec<u8>> = [b"key.json".to_vec(), b"conf/pip.conf".to_vec()].into();
    let options = LintOptions {
        context_dir: Some(dir.path()),
        allowed_files: Some(&allowed),
        ..LintOptions::default()
    };
    assert_eq!(run_with(text, &options).findings, []);
}

#[test]
fn secret_env_is_an_error_and_its_value_is_masked() {
    let text = "FROM x\nENV PIP_INDEX_PASSWORD=hunter2 PATH=/venv/bin:$PATH\n\
                ENV GITHUB_TOKEN ghp abc\n";
    let report = run(text);
    assert_eq!(summary(&report), [("SL003", Error, 2), ("SL003", Error, 3)]);
    assert_eq!(
        report.findings[0].text,
        "ENV PIP_INDEX_PASSWORD=**** PATH=/venv/bin:$PATH"
    );
    assert_eq!(report.findings[1].text, "ENV GITHUB_TOKEN=****");
    assert!(!format!("{report:?}").contains("hunter2"));
    assert!(!format!("{report:?}").contains("ghp"));
}

#[test]
fn env_that_is_no_secret_is_clean() {
    let text = "FROM x\nENV TOKENIZERS_PARALLELISM=false PASSWORD_MIN_LENGTH=12\n\
                ENV NETRC=/run/secrets/netrc GOOGLE_APPLICATION_CREDENTIALS=/app/key.json\n\
                ENV API_TOKEN=\"\" GITHUB_TOKEN_FILE=/run/secrets/gh\n";
    assert_eq!(run(text).findings, []);
}

#[test]
fn env_from_an_arg_is_still_baked_in() {
    let text = "FROM x\nARG NPM_TOKEN\nENV NPM_TOKEN=$NPM_TOKEN\n";
    assert_eq!(
        summary(&run(text)),
        [("SL004", Warning, 2), ("SL003", Error, 3)]
    );
}

#[test]
fn secret_arg_is_a_warning_and_an_error_with_a_default() {
    let text =
        "ARG GITHUB_TOKEN\nFROM x\nARG API_KEY=abc123 VERSION=1\nARG AWS_SECRET_ACCESS_KEY=\n";
    let report = run(text);
    assert_eq!(
        summary(&report),
        [
            ("SL004", Warning, 1),
            ("SL004", Error, 3),
            ("SL004", Warning, 4)
        ]
    );
    assert_eq!(report.findings[1].text, "ARG API_KEY=**** VERSION=1");
    assert!(!report.findings[1].to_string().contains("abc123"));
}

#[test]
fn arg_that_is_no_secret_is_clean() {
    let text = "ARG TOKENIZERS_PARALLELISM=false\nFROM x\nARG INDEX_URL\n\
                ARG NETRC=/run/secrets/netrc\nARG AWS_ACCESS_KEY_ID\n";
    assert_eq!(run(text).findings, []);
}

#[test]
fn url_credentials_in_run_env_arg_and_add() {
    let text = "ARG INDEX=https://u:hunter2@pypi.example/simple\nFROM x\n\
                ENV PIP_EXTRA_INDEX_URL=https://u:${PASS}@pypi.example/simple\n\
                RUN pip install --index-url https://user:hunter2@pypi.example/simple \\\n    x\n\
                ADD https://u:hunter2@files.example/a.tgz /tmp/\n\
                RUN <<EOF\ncurl -u x https://bot:hunter2@api.example/\nEOF\n\
                LABEL src=https://u:hunter2@git.example/r\n";
    let report = run(text);
    assert_eq!(
        summary(&report),
        [
            ("SL005", Error, 1),
            ("SL005", Error, 3),
            ("SL005", Error, 4),
            ("SL005", Error, 6),
            ("SL005", Error, 7),
            ("SL005", Error, 10)
        ]
    );
    assert_eq!(
        report.findings[2].text,
        "RUN pip install --index-url https://user:****@pypi.example/simple x"
    );
    assert!(
        report.findings[2]
            .message
            .contains("(`https://user:****@pypi.example`)")
    );
    assert!(report.findings[1].message.contains("image config"));
    let all = format!(
        "{report:?} {}",
        report
            .findings
            .iter()
            .map(|f| f.to_string())
            .collect::<String>()
    );
    assert!(!all.contains("hunter2"), "{all}");
}

#[test]
fn url_without_password_or_with_a_run_time_variable_is_clean() {
    let text = "FROM x\n\
                # pip install https://u:hunter2@old.example (a comment is not in the image)\n\
                RUN pip install --index-url https://pypi.example/simple x\n\
                RUN --mount=type=secret,id=tok TOKEN=$(cat /run/secrets/tok) \\\n\
                    pip install https://__token__:${TOKEN}@pypi.example/simple x\n\
                RUN git clone ssh://git@github.com/org/repo && git clone git@github.com:o/r\n\
                CMD [\"sh\", \"-c\", \"curl https://u:$TOKEN@h/\"]\n";
    assert_eq!(run(text).findings, []);
}

/// SL005 used to match only `user:pass@`, so a Gemfury-style index URL with its token as the
/// login passed the lint and was baked into the image history.
#[test]
fn a_bare_token_as_url_login_is_a_url_credential() {
    let text = "FROM x\n\
                RUN pip install --extra-index-url https://1a2B3c4D5e6F7g8H9i0J@pypi.fury.io/acme/ x\n\
                RUN pip install --extra-index-url https://${FURY_TOKEN}@pypi.fury.io/acme/ x\n\
                RUN git clone ssh://git@github.com/org/repo\n\
                RUN echo http://username:password@host.com/\n";
    let report = run(text);
    assert_eq!(summary(&report), [("SL005", Error, 2)]);
    assert_eq!(
        report.findings[0].text,
        "RUN pip install --extra-index-url https://****@pypi.fury.io/acme/ x"
    );
    assert!(
        report.findings[0]
            .message
            .contains("(`https://****@pypi.fury.io`)"),
        "{}",
        report.findings[0].message
    );

    let mut build_args = BTreeMap::new();
    build_args.insert(
        "PIP_EXTRA_INDEX_URL".to_owned(),
        "https://1a2B3c4D5e6F7g8H9i0J@pypi.fury.io/acme/".to_owned(),
    );
    let options = LintOptions {
        build_args: &build_args,
        ..LintOptions::default()
    };
    let report = run_with("FROM x\n", &options);
    assert_eq!(summary(&report), [("SL005", Error, 0)]);
    assert_eq!(
        report.findings[0].text,
        "--build-arg PIP_EXTRA_INDEX_URL=https://****@pypi.fury.io/acme/"
    );
}

#[test]
fn build_arg_holding_a_secret_is_refused_without_naming_it() {
    let mut build_args = BTreeMap::new();
    build_args.insert("PASSWORD".to_owned(), "s3cret-value".to_owned());
    build_args.insert(
        "INDEX_URL".to_owned(),
        "https://user:s3cret-value@pypi.example/simple".to_owned(),
    );
    build_args.insert(
        "OTHER_URL".to_owned(),
        "https://user:other-pass@pypi.example/simple".to_owned(),
    );
    build_args.insert("VERSION".to_owned(), "1.0".to_owned());
    let options = LintOptions {
        build_args: &build_args,
        secret_values: &[b"s3cret-value"],
        ..LintOptions::default()
    };
    // An allow comment does not reach build arguments.
    let text = "FROM x\n# shipimg:allow SL004 SL005 SL006\nARG PASSWORD\n";
    let report = run_with(text, &options);
    assert_eq!(
        summary(&report),
        [
            ("SL005", Error, 0),
            ("SL006", Error, 0),
            ("SL006", Error, 0)
        ]
    );
    assert_eq!(
        report.findings[0].text,
        "--build-arg OTHER_URL=https://user:****@pypi.example/simple"
    );
    assert_eq!(report.findings[1].text, "--build-arg INDEX_URL=****");
    assert_eq!(report.findings[2].text, "--build-arg PASSWORD=****");
    assert!(
        report.findings[1]
            .to_string()
            .starts_with("Dockerfile: [SL006 build-arg-secret] `--build-arg INDEX_URL` passes")
    );
    let all = format!(
        "{report:?} {options:?} {}",
        report
            .findings
            .iter()
            .map(|f| f.to_string())
            .collect::<String>()
    );
    assert!(
        !all.contains("s3cret-value") && !all.contains("other-pass"),
        "{all}"
    );
}

/// The build's second SL006 pass: only build arguments holding a secret, none of the other
/// rules (the URL credentials here were already the full lint's to report), the same finding
/// as the full lint's, masked.
#[test]
fn build_arg_secrets_alone_finds_only_sl006() {
    let mut build_args = BTreeMap::new();
    build_args.insert("TOKEN".to_owned(), "x-login-pw-x".to_owned());
    build_args.insert(
        "OTHER_URL".to_owned(),
        "https://user:other-pass@pypi.example/simple".to_owned(),
    );
    build_args.insert("VERSION".to_owned(), "1.0".to_owned());
    let options = LintOptions {
        build_args: &build_args,
        secret_values: &[b"", b"login-pw"],
        ..LintOptions::default()
    };
    let report = lint_build_arg_secrets("Dockerfile.prod", &options);
    assert_eq!(summary(&report), [("SL006", Error, 0)]);
    let full = run_with("FROM x\n", &options);
    let full_sl006: Vec<&Finding> = full
        .findings
        .iter()
        .filter(|f| f.rule == Rule::BuildArgSecret)
        .collect();
    assert_eq!(full_sl006.len(), 1);
    assert_eq!(report.findings[0].text, full_sl006[0].text);
    assert_eq!(
        report.findings[0].to_string(),
        full_sl006[0]
            .to_string()
            .replace("Dockerfile:", "Dockerfile.prod:")
    );
    assert!(!format!("{report:?}").contains("login-pw"));

    let clean = BTreeMap::from([("VERSION".to_owned(), "1.0".to_owned())]);
    let options = LintOptions {
        build_args: &clean,
        ..options
    };
    assert!(
        lint_build_arg_secrets("Dockerfile", &options)
            .findings
            .is_empty()
    );
}

#[test]
fn build_args_without_secrets_are_clean() {
    let mut build_args = BTreeMap::new();
    build_args.insert(
        "INDEX_URL".to_owned(),
        "https://pypi.example/simple".to_owned(),
    );
    build_args.insert("SHORT".to_owned(), "ab".to_owned());
    let options = LintOptions {
        build_args: &build_args,
        // Short secrets are only matched whole: "a" is in too many values to mean anything.
        secret_values: &[b"", b"a", b"s3cret"],
        ..LintOptions::default()
    };
    assert_eq!(run_with("FROM x\n", &options).findings, []);
}

#[test]
fn netrc_mounts_where_pip_reads_are_clean() {
    let text = "FROM x AS build\n\
                RUN --mount=type=secret,id=netrc,target=/root/.netrc pip install .\n\
                RUN --mount=type=secret,id=netrc NETRC=/run/secrets/netrc pip install .\n\
                RUN --mount=type=secret,id=netrc,target=/tmp/n \\\n    NETRC=\"/tmp/n\" pip install .\n\
                RUN --mount=type=secret,id=netrc,target=/tmp/h/.netrc HOME=/tmp/h pip install .\n\
                RUN --mount=type=secret,id=other pip install .\n\
                RUN --mount=type=secret,id=netrc,target=$HOME/.netrc pip install .\n\
                USER app:app\n\
                RUN --mount=type=secret,id=netrc,target=/home/app/.netrc,uid=1000 pip install .\n\
                USER 1000\n\
                RUN --mount=type=secret,id=netrc,target=/home/whoever/.netrc pip install .\n\
                USER 0:0\n\
                ENV NETRC=/run/secrets/netrc\n\
                RUN --mount=type=secret,id=netrc pip install .\n\
                FROM x\nENV HOME=/srv\nUSER svc\n\
                RUN --mount=type=secret,id=netrc,target=/srv/.netrc pip install .\n";
    assert_eq!(run(text).findings, []);
}

#[test]
fn netrc_mounts_pip_will_not_read_warn() {
    let text = "FROM x AS build\n\
                RUN --mount=type=secret,id=netrc pip install .\n\
                RUN --mount=type=secret,target=/etc/netrc cat /etc/netrc\n\
                RUN --mount=type=secret,id=netrc,target=/tmp/n NETRC=/tmp/nope pip install .\n\
                USER app\n\
                RUN --mount=type=secret,id=netrc,target=/root/.netrc pip install .\n\
                FROM build AS test\n\
                RUN --mount=type=secret,id=netrc,dst=/root/.netrc pytest\n\
                FROM x\n\
                RUN --mount=type=secret,id=netrc,target=/home/app/.netrc pip install .\n";
    let report = run(text);
    // Line 3: the id defaults to the target's base name, `netrc`.
    assert_eq!(
        summary(&report),
        [
            ("SL007", Warning, 2),
            ("SL007", Warning, 3),
            ("SL007", Warning, 4),
            ("SL007", Warning, 6),
            ("SL007", Warning, 8),
            ("SL007", Warning, 10)
        ]
    );
    assert!(!report.has_errors());
    let first = report.findings[0].to_string();
    assert!(
        first.contains("at BuildKit's default `/run/secrets/netrc`")
            && first.contains("runs as `root`")
            && first.contains("`/root/.netrc`")
            && first.contains("hint: mount it where pip reads it: `--mount=type=secret,id=netrc,target=/root/.netrc`"),
        "{first}"
    );
    // The test stage inherits USER app from build.
    assert!(report.findings[4].message.contains("runs as `app`"));
    assert!(report.findings[4].message.contains("`/home/app/.netrc`"));
    // A stage from a base image starts as root again.
    assert!(report.findings[5].message.contains("runs as `root`"));
}

#[test]
fn allow_comments_silence_the_instruction_below() {
    let text = "FROM x AS build\n\
                # shipimg:allow SL002 -- CI writes a read-only token\n\
                COPY .netrc /root/.netrc\n\
                # shipimg:allow secret-arg, url-credentials public read token\n\
                # a second comment line in the same block\n\
                ARG GH_TOKEN=https://u:Kq72mZ@h\n\
                # shipimg:allow SL003\n\
                \n\
                ENV API_KEY=x\n\
                # shipimg:allow SL001\n\
                ENV SECRET=y\n\
                # shipimg:allow netrc-target\n\
                RUN --mount=type=secret,id=netrc pip install .\n\
                FROM x\n";
    assert_eq!(
        summary(&run(text)),
        [("SL003", Error, 9), ("SL003", Error, 11)]
    );
}

#[test]
fn line_numbers_survive_continuations_comments_and_heredocs() {
    let text = "# syntax=docker/dockerfile:1\n\
                FROM x\n\
                RUN echo a \\\n\
                # a comment inside the continuation\n\
                    && echo b\n\
                RUN <<EOF\n\
                echo one\n\
                echo two\n\
                EOF\n\
                COPY <<EOF /etc/conf\n\
                x\n\
                EOF\n\
                \n\
                ENV \\\n    TOKEN=abc\n\
                COPY _netrc /root/.netrc\n";
    let report = run(text);
    assert_eq!(
        summary(&report),
        [("SL003", Error, 14), ("SL001", Error, 16)]
    );
    assert_eq!(report.findings[0].text, "ENV TOKEN=****");
}

#[test]
fn backtick_escape_joins_lines() {
    let text = "# escape=`\nFROM x\nRUN pip install `\n    https://u:hunter2@h/x.whl\n";
    let report = run(text);
    assert_eq!(summary(&report), [("SL005", Error, 3)]);
    assert_eq!(
        report.findings[0].text,
        "RUN pip install https://u:****@h/x.whl"
    );
}

#[test]
fn held_secrets_never_reach_a_finding() {
    // The Dockerfile itself quotes a value shipimg holds, in places no rule masks.
    let text = "FROM x AS s3cr3t-held-value\n\
                COPY .netrc /home/s3cr3t-held-value/.netrc\n\
                RUN echo s3cr3t-held-value https://u:Kq72mZ@h/\n\
                USER s3cr3t-held-value\n\
                RUN --mount=type=secret,id=netrc,target=/root/.netrc true\n\
                ENV TOKEN=s3cr3t-held-value\n\
                FROM x\n";
    let mut build_args = BTreeMap::new();
    build_args.insert("B".to_owned(), "xx s3cr3t-held-value".to_owned());
    let secret: &[u8] = b"s3cr3t-held-value";
    let options = LintOptions {
        build_args: &build_args,
        secret_values: &[secret],
        ..LintOptions::default()
    };
    let report = run_with(text, &options);
    assert_eq!(
        summary(&report),
        [
            ("SL002", Error, 2),
            ("SL005", Error, 3),
            ("SL007", Warning, 5),
            ("SL003", Error, 6),
            ("SL006", Error, 0)
        ]
    );
    let mut all = format!("{report:?}\n{options:?}\n");
    for finding in &report.findings {
        all.push_str(&format!("{finding}\n{}\n", finding.headline()));
    }
    assert!(!all.contains("s3cr3t-held-value"), "{all}");
}

#[test]
fn rules_parse_by_id_and_name() {
    for rule in Rule::ALL {
        assert_eq!(Rule::parse(rule.id()), Some(rule));
        assert_eq!(Rule::parse(&rule.id().to_lowercase()), Some(rule));
        assert_eq!(Rule::parse(rule.name()), Some(rule));
    }
    assert_eq!(Rule::parse("SL999"), None);
    let ids: HashSet<_> = Rule::ALL.iter().map(|r| r.id()).collect();
    assert_eq!(ids.len(), Rule::ALL.len());
}

#[test]
fn an_unparsable_dockerfile_is_an_error() {
    let err = lint(
        "RUN echo no from\n",
        "Dockerfile.dev",
        &LintOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot parse Dockerfile `Dockerfile.dev`: "),
        "{err}"
    );
}

fn dockerfile_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("FROM x AS build".to_owned()),
        Just("FROM build".to_owned()),
        Just("USER app:app".to_owned()),
        Just("COPY .netrc /root/.netrc".to_owned()),
        Just("RUN --mount=type=secret,id=netrc pip install . \\".to_owned()),
        Just("RUN <<EOF".to_owned()),
        Just("EOF".to_owned()),
        Just("ENV TOKEN=https://u:Kq72mZ@h".to_owned()),
        Just("ARG API_KEY=\"x".to_owned()),
        Just("# shipimg:allow SL001".to_owned()),
        Just("# escape=`".to_owned()),
        Just("ONBUILD RUN x".to_owned()),
        "[ -~]{0,40}",
        "\\PC{0,20}",
    ]
}

proptest! {
    #[test]
    fn lint_never_panics_on_arbitrary_text(text in "\\PC*") {
        let _ = lint(&text, "Dockerfile", &LintOptions::default());
    }

    #[test]
    fn lint_never_panics_on_dockerfile_like_text(
        lines in prop::collection::vec(dockerfile_line(), 0..16),
        crlf in any::<bool>(),
    ) {
        let text = lines.join(if crlf { "\r\n" } else { "\n" });
        let secret: &[u8] = b"p";
        let options = LintOptions { secret_values: &[secret], ..LintOptions::default() };
        let _ = lint(&text, "Dockerfile", &options);
    }
}
