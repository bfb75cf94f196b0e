//! The crate's layers, checked: every top-level module may use only the modules listed before
//! it in [`LAYERS`], so no module reaches up (a domain module into `settings`, `cli` or
//! `commands`) and no two modules import each other. The check reads the `crate::` paths of
//! every source file, tests included; docs/architecture.md draws the same order.

use std::collections::BTreeMap;
use std::path::Path;

/// The top-level modules, lowest first, with what each owns. A module may use those above it
/// in this list, never those below.
const LAYERS: &[(&str, &str)] = &[
    // Foundations: no crate imports of their own.
    ("hex", "lower-case hex for digests"),
    ("cache", "shipimg's cache directory"),
    ("random", "randomness: ids and jitter"),
    ("error", "the user-facing error and exit statuses"),
    (
        "reference",
        "image references: the distribution grammar, Docker Hub's names",
    ),
    ("child_env", "the environment children get, minus secrets"),
    (
        "leak",
        "what a credential is: forms, shapes, URL userinfo, placeholders",
    ),
    ("redact", "masking secrets in everything printed"),
    (
        "login",
        "a registry login: the one type every consumer reads",
    ),
    // Domain leaves.
    ("git", "asking git about the project"),
    ("labels", "the OCI labels put on every image"),
    ("dockerfile", "the Dockerfile model, parsed once"),
    (
        "context",
        "the build context: ignore rules, the guard, the walk, the tar",
    ),
    ("lint", "the Dockerfile secret lint"),
    ("registry", "the registry HTTP API: what a push left there"),
    (
        "engine",
        "the Docker Engine: endpoint, transport, build, push, export",
    ),
    (
        "session",
        "the BuildKit session we serve: file sync, secrets, auth",
    ),
    ("scan", "the leak scan of an exported image"),
    ("credentials", "secrets read into secrecy values; logins"),
    (
        "publish",
        "pushing with retries and checking what the registry holds",
    ),
    ("progress", "build and push progress, rendered"),
    ("refusals", "the layers scans refused, remembered"),
    ("config", "the project config ([tool.shipimg])"),
    ("init", "what `shipimg init` writes"),
    // The command layer: clap types, settings resolved from them, the operations, the commands.
    ("printer", "stdout and stderr for people and scripts"),
    ("cli", "clap types"),
    (
        "settings",
        "flags > SHIPIMG_* > config, one struct per command",
    ),
    (
        "ops",
        "build, lint, scan, push, init as operations that return values",
    ),
    ("commands", "one thin file per subcommand"),
];

/// Modules below a module in [`LAYERS`] that it still may not use: operations take resolved
/// settings and report through `ops::Report`, never clap types nor the printer.
const UNSEEN: &[(&str, &[&str])] = &[("ops", &["cli", "printer"])];

/// The top-level module a source file belongs to (`src/engine/push.rs` -> `engine`).
fn module_of(path: &Path, src: &Path) -> Option<String> {
    let rel = path.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_owned())
}

/// The top-level modules `text` names through `crate::` (comments skipped), with their lines.
fn crate_imports(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut in_group = 0usize;
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                in_group += 1;
                out.extend(group_heads(group).into_iter().map(|m| (m, i + 1)));
                if group.contains('}') {
                    in_group = 0;
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.push((name, i + 1));
            }
            rest = after;
        }
        if in_group > 0 && !code.contains("crate::{") {
            // A `use crate::{...}` spread over lines: each line names more modules.
            out.extend(group_heads(code).into_iter().map(|m| (m, i + 1)));
            if code.contains("};") {
                in_group = 0;
            }
        }
    }
    out
}

/// The first path segment of each item at depth 0 of a `use crate::{...}` group's text.
fn group_heads(text: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut item = String::new();
    let flush = |item: &mut String, heads: &mut Vec<String>| {
        let head: String = item
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !head.is_empty() {
            heads.push(head);
        }
        item.clear();
    };
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => flush(&mut item, &mut heads),
            _ if depth == 0 => item.push(c),
            _ => {}
        }
    }
    flush(&mut item, &mut heads);
    heads
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("src/ is readable").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rank: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (*name, i))
        .collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let Some(module) = module_of(file, &src) else {
            continue;
        };
        // The crate root and the binary wire everything together; this file names them all.
        if matches!(module.as_str(), "lib" | "main" | "layers") {
            continue;
        }
        let Some(&own) = rank.get(module.as_str()) else {
            problems.push(format!(
                "{}: module `{module}` is not in LAYERS (src/layers.rs): place it",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("sources are UTF-8");
        for (used, line) in crate_imports(&text) {
            if used == module || used == "self" || used == "super" {
                continue;
            }
            let unseen = UNSEEN
                .iter()
                .any(|(m, hidden)| *m == module && hidden.contains(&used.as_str()));
            match rank.get(used.as_str()) {
                Some(_) if unseen => problems.push(format!(
                    "{}:{line}: `{module}` uses `crate::{used}`, which UNSEEN hides from it",
                    file.strip_prefix(&src).unwrap_or(file).display()
                )),
                Some(&theirs) if theirs < own => {}
                Some(_) => problems.push(format!(
                    "{}:{line}: `{module}` uses `crate::{used}`, which is not below it in LAYERS",
                    file.strip_prefix(&src).unwrap_or(file).display()
                )),
                None => problems.push(format!(
                    "{}:{line}: `crate::{used}` is not a module in LAYERS",
                    file.strip_prefix(&src).unwrap_or(file).display()
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_module_of_the_crate_has_a_layer() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("src/lib.rs is readable");
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert!(declared.len() > 20, "lib.rs declares modules: {declared:?}");
    let layered: Vec<&str> = LAYERS.iter().map(|(name, _)| *name).collect();
    let mut unique = layered.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), layered.len(), "a module is in LAYERS twice");
    let mut missing: Vec<&str> = declared
        .iter()
        .filter(|d| !layered.contains(d))
        .copied()
        .collect();
    missing.extend(layered.iter().filter(|l| !declared.contains(l)));
    assert!(
        missing.is_empty(),
        "in lib.rs or LAYERS, not both: {missing:?}"
    );
}

#[test]
fn the_check_sees_every_way_a_module_is_named() {
    let text = "use crate::engine::Engine;\n\
                use crate::{progress::Reporter, redact, scan::{self, Scan}};\n\
                use crate::{\n    cli::Cli,\n    settings::{A, B},\n};\n\
                let x = crate::random::unit(); // crate::commands in a comment\n\
                /// [`crate::printer`] in a doc comment\n";
    let names: Vec<(String, usize)> = crate_imports(text);
    let names: Vec<(&str, usize)> = names.iter().map(|(n, l)| (n.as_str(), *l)).collect();
    assert_eq!(
        names,
        [
            ("engine", 1),
            ("progress", 2),
            ("redact", 2),
            ("scan", 2),
            ("cli", 4),
            ("settings", 5),
            ("random", 7),
        ]
    );
}
