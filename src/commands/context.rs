//! `shipimg context`: what `build` would send, as a summary or as the exact tar.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use crate::cli::{ContextArgs, OutputFormat};
use crate::context::archive::{self, ContextSummary};
use crate::context::walk::Notice;
use crate::context::{ContextError, ContextPlan};
use crate::error::{CliError, ExitStatus};
use crate::lint::Rule;
use crate::printer::Printer;

/// Where `--output` sends the tar.
enum Output {
    Stdout,
    File(PathBuf),
}

/// Plans the context, then summarises it or writes its tar.
pub async fn run(args: &ContextArgs, printer: &Printer) -> Result<ExitStatus, CliError> {
    // The same context `build` would stage: its Dockerfile from -f, SHIPIMG_DOCKERFILE or the
    // project config.
    let project = crate::config::load(&args.path)?;
    let options = crate::settings::context_options(
        &args.path,
        args.file.as_deref(),
        &args.allow_context_file,
        &|name| std::env::var(name).ok(),
        &project.config,
    );
    let output = args.output.as_ref().map(|path| {
        if path.as_os_str() == "-" {
            Output::Stdout
        } else {
            Output::File(path.clone())
        }
    });
    if matches!(output, Some(Output::Stdout)) && std::io::stdout().is_terminal() {
        return Err(
            CliError::user("refusing to write a tar archive to a terminal").with_hint(
                "redirect it: `shipimg context --output - > context.tar`, or pipe it to `tar -t`",
            ),
        );
    }

    let cwd = crate::ops::current_dir()?;
    let plan = ContextPlan::new(&options, &cwd)?;
    // A Dockerfile that copies a credential file from the context stops here, as the build
    // would: the lint's credential-copy rules.
    crate::ops::lint::lint_dockerfile(
        &plan,
        &crate::ops::lint::parse(&plan)?,
        &crate::ops::lint::LintInputs {
            allow_secret_copy: false,
            target: None,
            build_args: &std::collections::BTreeMap::new(),
            secret_values: &[],
            only: Some(&[Rule::CopyCredentialFinal, Rule::CopyCredentialStage]),
            report_clean: false,
        },
        printer,
    )?;
    let warn_printer = printer.clone();
    let summary = crate::ops::joined(
        tokio::task::spawn_blocking(move || -> Result<ContextSummary, ContextError> {
            let mut warn = |notice: &Notice| warn_notice(&warn_printer, notice);
            match output {
                None => archive::summarize(&plan, &mut warn),
                Some(Output::Stdout) => {
                    grow_stdout_pipe();
                    let out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
                    archive::write_tar(&plan, out, &mut warn)
                }
                Some(Output::File(path)) => {
                    let file = std::fs::File::create(&path).map_err(|source| ContextError::Io {
                        path: path.clone(),
                        source,
                    })?;
                    let out = std::io::BufWriter::with_capacity(1 << 20, file);
                    let result = archive::write_tar(&plan, out, &mut warn);
                    if result.is_err() {
                        // Nothing half-written stays behind looking like a context.
                        let _ = std::fs::remove_file(&path);
                    }
                    result
                }
            }
        })
        .await,
    )??;

    let to_stdout = args.output.is_none();
    match args.format {
        OutputFormat::Json => {
            let json = super::to_json(&summary)?;
            if to_stdout {
                printer.stdout_line(&json);
            } else {
                printer.info(&json);
            }
        }
        OutputFormat::Text => {
            for line in render_summary(&summary, to_stdout) {
                if to_stdout {
                    printer.stdout_line(&line);
                } else {
                    printer.info(&line);
                }
            }
        }
    }
    let _ = std::io::stdout().flush();
    Ok(ExitStatus::Success)
}

/// A 64 KiB pipe makes the writer sleep every 64 KiB while the reader catches up, which costs
/// most under load; a 1 MiB pipe (the default limit for unprivileged processes) lets whole
/// buffers through. Best effort: stdout may not be a pipe, or the limit may be lower.
fn grow_stdout_pipe() {
    use std::os::fd::AsRawFd;
    let fd = std::io::stdout().as_raw_fd();
    // SAFETY: fcntl on our own stdout descriptor with an integer argument; it changes only
    // the pipe's capacity and fails harmlessly when fd is not a pipe.
    unsafe {
        libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20);
    }
}

fn warn_notice(printer: &Printer, notice: &Notice) {
    printer.warn(&notice.to_string());
}

/// The text summary. With `full`, the largest files and directories too.
fn render_summary(summary: &ContextSummary, full: bool) -> Vec<String> {
    let mut lines = vec![format!(
        "{} files, {} directories, {} symlinks, {} ({} bytes)",
        summary.files,
        summary.dirs,
        summary.symlinks,
        crate::progress::human_bytes(summary.bytes),
        summary.bytes
    )];
    if full {
        if !summary.largest_files.is_empty() {
            lines.push("largest files:".into());
            for (path, size) in &summary.largest_files {
                lines.push(format!(
                    "  {:>10}  {path}",
                    crate::progress::human_bytes(*size)
                ));
            }
        }
        if !summary.largest_dirs.is_empty() {
            lines.push("largest directories:".into());
            for (path, size) in &summary.largest_dirs {
                lines.push(format!(
                    "  {:>10}  {path}/",
                    crate::progress::human_bytes(*size)
                ));
            }
        }
    }
    if !summary.left_out.is_empty() {
        lines.push("left out by the credential guard:".into());
        for (path, reason) in &summary.left_out {
            lines.push(format!("  {path}  ({reason})"));
        }
    }
    if !summary.embedded.is_empty() {
        lines.push("sent, but carrying a credential (the scan refuses to push it):".into());
        for (path, reason) in &summary.embedded {
            lines.push(format!("  {path}  ({reason})"));
        }
    }
    lines
}
