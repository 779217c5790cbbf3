//! `cargo xtask oracle-wire`: `trace-tool raw` and `trace-tool footprint`
//! against Go 1.27's `go tool trace -d=wire` and `-d=footprint`, run live.
//!
//! Every trace of `testdata/traces`, `../shared/go-traces/traces` and
//! `../shared/go-traces-current/traces` (each corpus skipped when absent),
//! the binary forms of Go's synthetic tests and fuzz seeds
//! (`testdata/tests/derived`, `testdata/fuzz/derived`), and every curated
//! trace cut at a third and at two thirds of its bytes (broken traces: Go's
//! errors, and the events before them), goes through both tools; stdout,
//! stderr and the exit status must be identical. The task prints how many
//! matched per set and fails on any difference.
//!
//! The tests compare `raw` with the outputs the corpora store, and
//! `footprint` with the curated `testdata/expected/NAME.footprint.txt`;
//! this task covers the rest without storing more.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, Context, Result};

use crate::trace_files as traces;
use crate::{cargo, go127, root, shared_corpus, shared_current_corpus};

/// Each of our subcommands, with the `go tool trace` flag it imitates.
const MODES: [(&str, &str); 2] = [("raw", "-d=wire"), ("footprint", "-d=footprint")];

pub(crate) fn run(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask oracle-wire");
    }
    let go = go127().context("Go 1.27 not found (set GO127)")?;
    cargo(&["build", "-p", "trace-tool"])?;
    let ours = target_dir().join("debug/trace-tool");
    let work = target_dir().join("oracle-wire");
    fs::create_dir_all(&work)?;

    let mut sets: Vec<(String, Vec<PathBuf>)> =
        vec![("testdata".into(), traces(&root().join("testdata/traces"))?)];
    for corpus in [shared_corpus(), shared_current_corpus()]
        .into_iter()
        .flatten()
    {
        let name = corpus
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        sets.push((format!("../shared/{name}"), traces(&corpus.join("traces"))?));
    }
    for dir in ["tests/derived", "fuzz/derived"] {
        sets.push((
            format!("testdata/{dir}"),
            traces(&root().join("testdata").join(dir))?,
        ));
    }
    sets.push(("truncated testdata".into(), truncated(&work)?));

    let mut failures = Vec::new();
    for (set, traces) in &sets {
        let mut matched = [0usize; MODES.len()];
        let mut failed = [0usize; MODES.len()];
        // Of the matches, those where Go exited 1 (and so did we).
        let mut errors = [0usize; MODES.len()];
        for trace in traces {
            for (i, (ours_mode, go_flag)) in MODES.iter().enumerate() {
                let mine = Command::new(&ours)
                    .arg(ours_mode)
                    .arg(trace)
                    .output()
                    .context("running trace-tool")?;
                let gos = Command::new(&go)
                    .env("GOTOOLCHAIN", "local")
                    .args(["tool", "trace", go_flag])
                    .arg(trace)
                    .output()
                    .context("running go tool trace")?;
                if let Some(what) = difference(&mine, &gos) {
                    failed[i] += 1;
                    failures.push(format!(
                        "{} {ours_mode}: {what}",
                        trace.strip_prefix(root()).unwrap_or(trace).display()
                    ));
                } else {
                    matched[i] += 1;
                    errors[i] += usize::from(!gos.status.success());
                }
            }
        }
        let report: Vec<String> = (0..MODES.len())
            .map(|i| {
                let (mode, flag) = MODES[i];
                format!(
                    "{mode} {}/{} identical to {flag} ({} of them Go's errors)",
                    matched[i],
                    matched[i] + failed[i],
                    errors[i]
                )
            })
            .collect();
        eprintln!("oracle-wire: {set}: {}", report.join(", "));
    }
    if !failures.is_empty() {
        bail!("differences from Go 1.27:\n  {}", failures.join("\n  "));
    }
    Ok(())
}

/// Why two runs differ, or `None` if they do not.
fn difference(ours: &Output, go: &Output) -> Option<String> {
    if ours.status.code() != go.status.code() {
        return Some(format!(
            "exit status {:?}, Go's is {:?} (stderr {:?}, Go's {:?})",
            ours.status.code(),
            go.status.code(),
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&go.stderr)
        ));
    }
    if ours.stderr != go.stderr {
        return Some(format!(
            "stderr {:?}, Go's is {:?}",
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&go.stderr)
        ));
    }
    if ours.stdout != go.stdout {
        let at = ours
            .stdout
            .iter()
            .zip(&go.stdout)
            .position(|(a, b)| a != b)
            .unwrap_or(ours.stdout.len().min(go.stdout.len()));
        let line = go.stdout[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        return Some(format!(
            "stdout differs at line {line} ({} bytes, Go's {})",
            ours.stdout.len(),
            go.stdout.len()
        ));
    }
    None
}

/// The curated traces cut at a third and at two thirds of their bytes,
/// written to `work`.
fn truncated(work: &Path) -> Result<Vec<PathBuf>> {
    let dir = work.join("truncated");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let mut res = Vec::new();
    for trace in traces(&root().join("testdata/traces"))? {
        let bytes = fs::read(&trace)?;
        let stem = trace
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        for (num, den) in [(1, 3), (2, 3)] {
            let cut = dir.join(format!("{stem}-cut{num}of{den}.trace"));
            fs::write(&cut, &bytes[..bytes.len() * num / den])?;
            res.push(cut);
        }
    }
    Ok(res)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}
