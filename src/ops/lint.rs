//! The Dockerfile lint as an operation: warnings are reported, errors are the operation's
//! error. `build` runs every rule; `context` only the rules about credential files copied from
//! the context.

use std::collections::BTreeMap;

use crate::context::ContextPlan;
use crate::dockerfile::Parsed;
use crate::error::CliError;
use crate::lint::{LintError, LintOptions, LintReport, Rule, lint_parsed};

use super::Report;

/// What the lint is run with.
pub struct LintInputs<'a> {
    /// `--allow-secret-copy`.
    pub allow_secret_copy: bool,
    /// `--target`.
    pub target: Option<&'a str>,
    /// The resolved `--build-arg`s.
    pub build_args: &'a BTreeMap<String, String>,
    /// Every secret value the command holds.
    pub secret_values: &'a [&'a [u8]],
    /// Only these rules, when given.
    pub only: Option<&'a [Rule]>,
    /// Say so when there is no error (`--lint-only`).
    pub report_clean: bool,
}

/// The plan's Dockerfile, parsed once for every check that reads it; one that does not parse
/// is the command's error, naming the file.
pub fn parse(plan: &ContextPlan) -> Result<Parsed<'_>, CliError> {
    Parsed::new(&plan.dockerfile_text).map_err(|err| {
        CliError::from(LintError {
            file: file_name(plan),
            message: err.message,
        })
    })
}

/// The Dockerfile as the lint's messages name it.
pub(super) fn file_name(plan: &ContextPlan) -> String {
    plan.dockerfile
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Dockerfile".into())
}

/// Lints the plan's Dockerfile, `parsed`. Errors come back as one `CliError` (the finding
/// itself when there is one, a count after listing them when there are several).
pub fn lint_dockerfile(
    plan: &ContextPlan,
    parsed: &Parsed<'_>,
    inputs: &LintInputs<'_>,
    out: &dyn Report,
) -> Result<(), CliError> {
    let name = file_name(plan);
    let options = LintOptions {
        allow_secret_copy: inputs.allow_secret_copy,
        context_dir: Some(&plan.dir),
        allowed_files: Some(&plan.allowed),
        target: inputs.target,
        build_args: inputs.build_args,
        secret_values: inputs.secret_values,
    };
    let mut report = lint_parsed(parsed, &name, &options);
    if let Some(only) = inputs.only {
        report.findings.retain(|f| only.contains(&f.rule));
    }
    report_findings(&report, &name, inputs.report_clean, out)
}

/// SL006 alone (see [`crate::lint::lint_build_arg_secrets`]): no `--build-arg` in
/// `build_args` may hold one of `secret_values`.
pub fn lint_build_arg_secrets(
    plan: &ContextPlan,
    build_args: &BTreeMap<String, String>,
    secret_values: &[&[u8]],
    out: &dyn Report,
) -> Result<(), CliError> {
    let name = file_name(plan);
    let options = LintOptions {
        build_args,
        secret_values,
        ..LintOptions::default()
    };
    report_findings(
        &crate::lint::lint_build_arg_secrets(&name, &options),
        &name,
        false,
        out,
    )
}

/// Reports the warnings; the errors are the result.
fn report_findings(
    report: &LintReport,
    name: &str,
    report_clean: bool,
    out: &dyn Report,
) -> Result<(), CliError> {
    for warning in report.warnings() {
        out.warn(&warning.headline(), Some(&warning.fix));
    }
    let errors: Vec<_> = report.errors().collect();
    match errors.as_slice() {
        [] => {
            if report_clean {
                out.status(
                    "Linted",
                    &format!(
                        "{name}: no errors, {} warning(s)",
                        report.warnings().count()
                    ),
                );
            }
            Ok(())
        }
        [only] => Err(CliError::user(only.headline()).with_hint(only.fix.clone())),
        many => {
            for finding in many {
                out.error(&CliError::user(finding.headline()).with_hint(finding.fix.clone()));
            }
            Err(CliError::user(format!(
                "the Dockerfile lint found {} errors, listed above; nothing was built",
                many.len()
            ))
            .with_hint("fix them, or silence one with `# shipimg:allow RULE` on the line above it"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ContextOptions;
    use crate::ops::testing::Recorded;

    #[test]
    fn several_errors_are_each_reported_then_counted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM scratch\nCOPY .netrc /root/.netrc\nCOPY id_rsa /root/.ssh/id_rsa\n",
        )
        .unwrap();
        let options = ContextOptions {
            dir: dir.path().to_owned(),
            ..ContextOptions::default()
        };
        let plan = ContextPlan::new(&options, dir.path()).unwrap();
        let report = Recorded::default();
        let inputs = LintInputs {
            allow_secret_copy: false,
            target: None,
            build_args: &BTreeMap::new(),
            secret_values: &[],
            only: None,
            report_clean: true,
        };
        let parsed = parse(&plan).unwrap();
        let err = lint_dockerfile(&plan, &parsed, &inputs, &report).unwrap_err();
        let errors: Vec<String> = report
            .lines()
            .into_iter()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(errors.len(), 2, "{:?}", report.lines());
        assert!(errors[0].contains("Dockerfile:2"), "{errors:?}");
        assert!(errors[1].contains("Dockerfile:3"), "{errors:?}");
        assert_eq!(
            err.message(),
            "the Dockerfile lint found 2 errors, listed above; nothing was built"
        );
        assert!(!report.lines().iter().any(|l| l.starts_with("Linted")));
    }

    #[test]
    fn a_dockerfile_that_does_not_parse_is_one_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "RUN echo no from\n").unwrap();
        let options = ContextOptions {
            dir: dir.path().to_owned(),
            ..ContextOptions::default()
        };
        let plan = ContextPlan::new(&options, dir.path()).unwrap();
        let err = parse(&plan).err().expect("does not parse");
        assert!(
            err.message()
                .starts_with("cannot parse Dockerfile `Dockerfile`: "),
            "{}",
            err.message()
        );
        assert!(err.hint().is_some());
    }
}
