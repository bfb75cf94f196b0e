//! `shipimg completions SHELL`, the hidden `shipimg manpage --out-dir DIR` and
//! `scripts/gen-completions.sh`, which the release runs: each script names the real subcommands
//! and flags and never the hidden ones, and the shells themselves parse it (bash and fish also
//! complete with it); the man pages render through groff without a warning and read in `man`.
//! No engine is needed. The shells, groff and man come from `fixtures/sandbox.sh`'s package
//! list; a missing one fails the test rather than skipping it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Outcome, repo_root, shipimg};

/// Every subcommand `shipimg --help` lists (`help` aside).
const SUBCOMMANDS: [&str; 7] = [
    "build",
    "push",
    "scan",
    "context",
    "doctor",
    "init",
    "completions",
];

/// Long flags of the subcommands (`build --push`, `build --netrc`, `push --no-scan`, ...) and a
/// global one.
const FLAGS: [&str; 6] = [
    "push",
    "netrc",
    "index-url",
    "no-scan",
    "secret-env",
    "color",
];

/// The shells `completions` writes for, with how each spells a long flag in its script.
const SHELLS: [(&str, &str); 4] = [
    ("bash", "--"),
    ("zsh", "--"),
    ("fish", "-l "),
    ("powershell", "--"),
];

/// Words only the hidden `manpage` subcommand brings.
const HIDDEN: [&str; 2] = ["manpage", "out-dir"];

fn completion_script(home: &Path, shell: &str) -> String {
    let out = Outcome::of(shipimg(home).args(["completions", shell])).success();
    assert!(out.stderr.is_empty(), "{shell}: stderr is not empty\n{out}");
    out.stdout
}

/// A shell (or groff, man) run with a private HOME and nothing else of ours in its environment.
fn tool(home: &Path, program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LANG", "C.UTF-8");
    cmd
}

#[test]
fn completion_scripts_name_every_subcommand_and_flag_and_no_hidden_one() {
    let home = tempfile::tempdir().unwrap();
    for (shell, long) in SHELLS {
        let script = completion_script(home.path(), shell);
        assert!(
            script.len() > 1000,
            "{shell}: a script this short completes nothing"
        );
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell}: no `{sub}` in the script");
        }
        for flag in FLAGS {
            assert!(
                script.contains(&format!("{long}{flag}")),
                "{shell}: no `{long}{flag}` in the script"
            );
        }
        for hidden in HIDDEN {
            assert!(
                !script.contains(hidden),
                "{shell}: offers the hidden `{hidden}`"
            );
        }
    }
}

/// Writes `shipimg completions SHELL` to `path` and has the shell parse it without running it
/// (`parse_only` is the shell's flag for that).
fn write_parsed_script(home: &Path, shell: &str, path: &Path, parse_only: &str) {
    std::fs::write(path, completion_script(home, shell)).unwrap();
    Outcome::of(tool(home, shell).arg(parse_only).arg(path)).success();
}

/// What a shell offered after `shipimg `: every subcommand, and not the hidden one.
fn assert_offers_visible_subcommands(shell: &str, offered: &[String]) {
    for sub in SUBCOMMANDS {
        assert!(
            offered.iter().any(|w| w == sub),
            "{shell}: no `{sub}` in {offered:?}"
        );
    }
    assert!(
        !offered.iter().any(|w| w == "manpage"),
        "{shell}: offers `manpage`: {offered:?}"
    );
}

#[test]
fn bash_parses_the_script_and_completes_subcommands_and_flags() {
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("shipimg.bash");
    write_parsed_script(home.path(), "bash", &script, "-n");

    // What bash offers after `shipimg ` and after `shipimg build --ne`: the function the script
    // registers, called the way bash calls it (COMP_WORDS, COMP_CWORD; command, word, previous).
    let complete = |words: &str, cword: usize, cur: &str, prev: &str| -> Vec<String> {
        let program = format!(
            r#"source "$1"; COMP_WORDS=({words}); COMP_CWORD={cword}; _shipimg shipimg "{cur}" "{prev}"; printf '%s\n' "${{COMPREPLY[@]}}""#
        );
        let out = Outcome::of(
            tool(home.path(), "bash")
                .args(["-c", &program, "bash"])
                .arg(&script),
        )
        .success();
        out.stdout.lines().map(str::to_owned).collect()
    };
    assert_offers_visible_subcommands("bash", &complete(r#"shipimg """#, 1, "", "shipimg"));
    assert_eq!(
        complete("shipimg build --ne", 2, "--ne", "build"),
        ["--network", "--netrc"]
    );
}

#[test]
fn fish_parses_the_script_and_completes_subcommands_and_flags() {
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("shipimg.fish");
    write_parsed_script(home.path(), "fish", &script, "--no-execute");

    let complete = |line: &str| -> Vec<String> {
        let program = format!(r#"source $argv[1]; complete --do-complete "{line}""#);
        let out = Outcome::of(
            tool(home.path(), "fish")
                .args(["-c", &program])
                .arg(&script),
        )
        .success();
        // Each line is the word, a tab, its description.
        out.stdout
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
            .collect()
    };
    assert_offers_visible_subcommands("fish", &complete("shipimg "));
    assert_eq!(complete("shipimg build --ne"), ["--netrc", "--network"]);
}

#[test]
fn zsh_parses_the_script_and_compinit_registers_it() {
    let home = tempfile::tempdir().unwrap();
    let functions = home.path().join("functions");
    std::fs::create_dir(&functions).unwrap();
    write_parsed_script(home.path(), "zsh", &functions.join("_shipimg"), "-n");

    // compinit reads the `#compdef shipimg` line and binds the function to the command.
    let out = Outcome::of(tool(home.path(), "zsh").args([
        "-f",
        "-c",
        r#"fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -D; print -r -- $_comps[shipimg]"#,
        "zsh",
    ]).arg(&functions))
    .success();
    assert_eq!(out.stdout.trim(), "_shipimg", "{out}");
}

/// Runs `shipimg manpage --out-dir DIR` and returns the paths it printed.
fn write_man_pages(home: &Path, dir: &Path) -> Vec<PathBuf> {
    let out = Outcome::of(shipimg(home).args(["manpage", "--out-dir"]).arg(dir)).success();
    out.stdout.lines().map(PathBuf::from).collect()
}

fn expected_pages() -> Vec<String> {
    std::iter::once("shipimg.1".to_owned())
        .chain(SUBCOMMANDS.iter().map(|sub| format!("shipimg-{sub}.1")))
        .collect()
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn man_pages_one_per_visible_subcommand_render_without_warnings() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("man/man1");
    let written = write_man_pages(home.path(), &dir);

    let expected: Vec<PathBuf> = expected_pages().iter().map(|n| dir.join(n)).collect();
    assert_eq!(written, expected, "the paths printed");
    let mut expected_names = expected_pages();
    expected_names.sort();
    assert_eq!(
        file_names(&dir),
        expected_names,
        "the files in {}",
        dir.display()
    );

    for page in &written {
        // -ww: every warning; -z: format, print nothing. Any stderr is a warning.
        let out = Outcome::of(
            tool(home.path(), "groff")
                .args(["-man", "-Tutf8", "-ww", "-z"])
                .arg(page),
        )
        .success();
        assert_eq!(out.stderr, "", "groff warns about {}", page.display());

        let out = Outcome::of(
            tool(home.path(), "man")
                .env("MANPAGER", "cat")
                .env("MANWIDTH", "100")
                .arg("-l")
                .arg(page),
        )
        .success();
        assert_eq!(out.stderr, "", "man complains about {}", page.display());
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS"] {
            assert!(
                out.stdout.lines().any(|l| l == section),
                "no {section} section in {}\n{}",
                page.display(),
                out.stdout
            );
        }
        assert!(
            !out.stdout.contains("manpage"),
            "{} names `manpage`",
            page.display()
        );
    }

    let read = |name: &str| {
        Outcome::of(
            tool(home.path(), "man")
                .env("MANPAGER", "cat")
                .env("MANWIDTH", "100")
                .arg("-l")
                .arg(dir.join(name)),
        )
        .success()
        .stdout
    };
    let root = read("shipimg.1");
    assert!(root.contains("SUBCOMMANDS"), "{root}");
    for sub in SUBCOMMANDS {
        assert!(
            root.contains(&format!("shipimg-{sub}(1)")),
            "shipimg.1 lacks shipimg-{sub}(1)"
        );
    }
    let build = read("shipimg-build.1");
    for flag in ["--push", "--netrc", "--index-url"] {
        assert!(
            build.contains(flag),
            "shipimg-build.1 lacks {flag}\n{build}"
        );
    }
}

#[test]
fn man_pages_into_a_directory_that_cannot_be_created_is_one_error_with_a_hint() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let under_file = file.join("man");
    let cases = [
        (&under_file, "error: cannot create the man page directory `"),
        (&file, "error: `"),
    ];
    for (dir, headline) in cases {
        let out = Outcome::of(shipimg(home.path()).args(["manpage", "--out-dir"]).arg(dir)).code(1);
        assert_eq!(out.stdout, "", "{out}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines[0].starts_with(headline) && lines[0].contains(&dir.display().to_string()),
            "{out}"
        );
        assert!(
            lines[1].starts_with("  hint: pass `--out-dir` a directory"),
            "{out}"
        );
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory");
}

#[test]
fn manpage_is_hidden_from_help() {
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(shipimg(home.path()).arg("--help")).success();
    assert!(out.stdout.contains("completions"), "{out}");
    assert!(!out.stdout.contains("manpage"), "{out}");
}

/// The release workflow's call: `SHIPIMG=... scripts/gen-completions.sh OUT_DIR` writes the four
/// scripts and the man pages, the same bytes the binary prints.
#[test]
fn gen_completions_script_writes_every_shell_and_the_man_pages() {
    let home = tempfile::tempdir().unwrap();
    let out_dir = home.path().join("dist/extras");
    let out = Outcome::of(
        tool(home.path(), "bash")
            .arg(repo_root().join("scripts/gen-completions.sh"))
            .arg(&out_dir)
            .env("SHIPIMG", env!("CARGO_BIN_EXE_shipimg")),
    )
    .success();

    let completions = out_dir.join("completions");
    let files = [
        ("bash", "shipimg.bash"),
        ("zsh", "_shipimg"),
        ("fish", "shipimg.fish"),
        ("powershell", "_shipimg.ps1"),
    ];
    for (shell, name) in files {
        let written = std::fs::read_to_string(completions.join(name)).unwrap();
        assert_eq!(
            written,
            completion_script(home.path(), shell),
            "{name} is not `shipimg completions {shell}`"
        );
    }
    let mut names: Vec<String> = files.iter().map(|(_, n)| n.to_string()).collect();
    names.sort();
    assert_eq!(file_names(&completions), names);
    let mut pages = expected_pages();
    pages.sort();
    assert_eq!(file_names(&out_dir.join("man")), pages);
    // It names every file it wrote.
    assert_eq!(
        out.stdout.lines().count(),
        files.len() + pages.len(),
        "{out}"
    );
}

#[test]
fn gen_completions_script_refuses_a_missing_binary() {
    let home = tempfile::tempdir().unwrap();
    let out = Outcome::of(
        tool(home.path(), "bash")
            .arg(repo_root().join("scripts/gen-completions.sh"))
            .arg(home.path().join("out"))
            .env("SHIPIMG", home.path().join("no-such-shipimg")),
    )
    .code(1);
    assert!(out.stderr.contains("is not an executable file"), "{out}");
    assert!(out.stderr.contains("hint: "), "{out}");
    assert!(!home.path().join("out").exists(), "{out}");
}
