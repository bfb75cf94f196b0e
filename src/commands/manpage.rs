//! `shipimg manpage --out-dir DIR` (hidden; for packagers and the release): writes `shipimg.1`
//! and one `shipimg-SUB.1` per visible subcommand with `clap_mangen`, and prints each path it
//! wrote on stdout.

use clap_mangen::Man;

use crate::cli::{ManpageArgs, visible_command};
use crate::error::{CliError, ExitStatus};
use crate::printer::Printer;

/// What to do about an `--out-dir` that cannot hold the pages.
const OUT_DIR_HINT: &str =
    "pass `--out-dir` a directory that can be created and written, e.g. `target/man`";

/// Writes the man pages into `args.out_dir`.
pub(crate) fn run(args: &ManpageArgs, printer: &Printer) -> Result<ExitStatus, CliError> {
    let dir = &args.out_dir;
    if dir.exists() && !dir.is_dir() {
        return Err(
            CliError::user(format!("`{}` is not a directory", dir.display()))
                .with_hint(OUT_DIR_HINT),
        );
    }
    std::fs::create_dir_all(dir).map_err(|err| {
        CliError::user(format!(
            "cannot create the man page directory `{}`: {err}",
            dir.display()
        ))
        .with_hint(OUT_DIR_HINT)
    })?;
    for (name, page) in render_pages() {
        let path = dir.join(name);
        std::fs::write(&path, page).map_err(|err| {
            CliError::user(format!("cannot write `{}`: {err}", path.display()))
                .with_hint(OUT_DIR_HINT)
        })?;
        printer.stdout_line(&path.display().to_string());
    }
    Ok(ExitStatus::Success)
}

/// Each page's file name and roff text: the root's first, then one per visible subcommand,
/// named `shipimg-SUB.1` as git and cargo name theirs.
fn render_pages() -> Vec<(String, Vec<u8>)> {
    // No `help` subcommand: it has no page, and `--help` is documented on every page.
    let mut root = visible_command().disable_help_subcommand(true);
    // Building gives each subcommand its display name, `shipimg-SUB`, which names its page.
    root.build();
    std::iter::once(root.clone())
        .chain(root.get_subcommands().cloned())
        .map(|cmd| {
            let man = Man::new(cmd);
            let mut page = Vec::new();
            man.render(&mut page)
                .expect("rendering into memory does not fail");
            (man.get_filename(), page)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_for_the_root_and_each_visible_subcommand() {
        let names: Vec<String> = render_pages().into_iter().map(|(name, _)| name).collect();
        assert_eq!(
            names,
            [
                "shipimg.1",
                "shipimg-build.1",
                "shipimg-push.1",
                "shipimg-scan.1",
                "shipimg-context.1",
                "shipimg-doctor.1",
                "shipimg-init.1",
                "shipimg-completions.1",
            ]
        );
    }
}
