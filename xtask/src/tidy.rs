//! `cargo xtask tidy`: the house rules no compiler checks, over every Rust
//! file of the workspace (`crates/`, `xtask/`, `fuzz/`). Also a test, so
//! `cargo test` enforces it.
//!
//! - every file under a `src/` folder starts with module docs (`//!`);
//! - no `dbg!(` and no `todo!(` left behind;
//! - every `unsafe` block, impl or fn has a `// SAFETY:` comment in the
//!   lines just above it;
//! - no file longer than [`MAX_LINES`] lines (split it instead).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// The longest a Rust file may be.
const MAX_LINES: usize = 1500;

/// How far above an `unsafe` its `// SAFETY:` comment may start.
const SAFETY_REACH: usize = 12;

pub(crate) fn run(_: &[String]) -> Result<()> {
    let problems = check(&crate::root())?;
    if problems.is_empty() {
        eprintln!("tidy: ok");
        return Ok(());
    }
    for p in &problems {
        eprintln!("{p}");
    }
    bail!("{} problems", problems.len())
}

/// Every rule broken under `root`, as `path:line: what`.
fn check(root: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "fuzz"] {
        rust_files(&root.join(dir), &mut files)?;
    }
    files.sort();
    let mut problems = Vec::new();
    for path in &files {
        let text = fs::read_to_string(path)?;
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        problems.extend(check_file(&rel, &text));
    }
    Ok(problems)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !matches!(name, "target" | "node_modules" | "corpus" | "artifacts") {
                rust_files(&path, out)?;
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The rules for one file, named `rel` (relative to the root).
fn check_file(rel: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let in_src = rel.split('/').any(|c| c == "src");
    if in_src && !text.trim_start().starts_with("//!") {
        problems.push(format!("{rel}:1: no module docs (`//!`) at the top"));
    }
    if lines.len() > MAX_LINES {
        problems.push(format!(
            "{rel}: {} lines, more than {MAX_LINES}: split it",
            lines.len()
        ));
    }
    for (i, line) in lines.iter().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        // Built so that this file does not match itself.
        for banned in [concat!("dbg", "!("), concat!("todo", "!(")] {
            if code.contains(banned) {
                problems.push(format!("{rel}:{}: `{banned}` left behind", i + 1));
            }
        }
        let is_unsafe = has_unsafe(code);
        if is_unsafe {
            let from = i.saturating_sub(SAFETY_REACH);
            let said = lines[from..i]
                .iter()
                .chain(std::iter::once(line))
                .any(|l| l.contains("SAFETY:") || l.contains("# Safety"));
            if !said {
                problems.push(format!(
                    "{rel}:{}: `unsafe` without a `// SAFETY:` comment",
                    i + 1
                ));
            }
        }
    }
    problems
}

/// Whether `code` has the keyword `unsafe` before a block, `impl` or `fn`
/// (not as part of a longer name).
fn has_unsafe(code: &str) -> bool {
    let keyword = concat!("un", "safe");
    code.match_indices(keyword).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = &code[i + keyword.len()..];
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && [" {", " impl", " fn"].iter().any(|t| after.starts_with(t))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workspace keeps the rules.
    #[test]
    fn workspace_is_tidy() {
        let problems = check(&crate::root()).expect("read the tree");
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn each_rule_catches_its_case() {
        let dbg = concat!("dbg", "!(x);");
        let block = concat!("un", "safe { g() }");
        let bad = format!("fn f() {{\n    {dbg}\n    let y = {block};\n}}\n");
        let problems = check_file("crates/a/src/lib.rs", &bad);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("module docs"));
        assert!(problems[1].contains(":2:"));
        assert!(problems[2].contains(":3:") && problems[2].contains("SAFETY"));

        let good = "//! Docs.\n\nfn f() {\n    // SAFETY: g has no preconditions.\n    unsafe { g() }\n}\n";
        assert!(check_file("crates/a/src/lib.rs", good).is_empty());
        // Tests need no module docs.
        assert!(check_file("crates/a/tests/t.rs", "fn t() {}\n").is_empty());
        let long = "//! Docs.\n".to_string() + &"\n".repeat(MAX_LINES + 1);
        assert_eq!(check_file("crates/a/src/lib.rs", &long).len(), 1);
    }
}
