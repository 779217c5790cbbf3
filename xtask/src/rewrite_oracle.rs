//! `cargo xtask oracle-rewrite`: the outputs of `trace-tool redact`, `cut`
//! and `filter` through Go 1.27's reader, run live.
//!
//! For every trace of `testdata/traces`, `testdata/current/traces`,
//! `../shared/go-traces/traces` and `../shared/go-traces-current/traces`
//! (each skipped when absent): `redact`, `filter` (which must copy the trace
//! byte for byte), `filter --reencode`, `filter --drop log,metric,label`,
//! `cut --gen M` (the middle generation) and `cut --gen 2..N`; and the
//! event writer's: `filter --events` (the round trip), `filter --from A
//! --to B` (the middle third of the trace), `filter --goroutine` (the odd
//! ids up to 39), `filter --task TYPE` (the first task type `stats`
//! lists) and `filter --kinds log,region`. Every output must be read by
//! `go tool trace -d=parsed` with exit status 0 and nothing on stderr, and
//! by `trace-tool validate`. The tests check the events of the outputs with
//! our reader; this task adds Go's word.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{cargo, go127, root, shared_corpus, shared_current_corpus, trace_files};

pub(crate) fn run(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask oracle-rewrite");
    }
    let go = go127().context("Go 1.27 not found (set GO127)")?;
    cargo(&["build", "--release", "-p", "trace-tool"])?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let ours = target.join("release/trace-tool");
    let work = target.join("oracle-rewrite");
    fs::create_dir_all(&work)?;

    let mut dirs = vec![
        root().join("testdata/traces"),
        root().join("testdata/current/traces"),
    ];
    for corpus in [shared_corpus(), shared_current_corpus()]
        .into_iter()
        .flatten()
    {
        dirs.push(corpus.join("traces"));
    }
    let mut n_outputs = 0;
    let mut failures = Vec::new();
    for dir in &dirs {
        for trace in trace_files(dir)? {
            let name = trace.file_stem().unwrap_or_default().to_string_lossy();
            let n_gens = generations(&ours, &trace)?;
            let middle = n_gens.div_ceil(2).max(1).to_string();
            let mut runs: Vec<Vec<String>> = vec![
                vec!["redact".into()],
                vec!["filter".into()],
                vec!["filter".into(), "--reencode".into()],
                vec!["filter".into(), "--drop".into(), "log,metric,label".into()],
                vec!["cut".into(), "--gen".into(), middle],
            ];
            if n_gens >= 2 {
                runs.push(vec!["cut".into(), "--gen".into(), format!("2..{n_gens}")]);
            }
            let facts = facts(&ours, &trace)?;
            let odd: Vec<String> = (1..40).step_by(2).map(|g: u32| g.to_string()).collect();
            runs.push(vec!["filter".into(), "--events".into()]);
            runs.push(vec!["filter".into(), "--goroutine".into(), odd.join(",")]);
            runs.push(vec!["filter".into(), "--kinds".into(), "log,region".into()]);
            if let Some((start, end)) = facts.span {
                let third = (end - start) / 3;
                runs.push(vec![
                    "filter".into(),
                    "--from".into(),
                    (start + third).to_string(),
                    "--to".into(),
                    (end - third).to_string(),
                ]);
            }
            if let Some(task) = facts.task {
                runs.push(vec!["filter".into(), "--task".into(), task]);
            }
            for run in runs {
                let out = work.join("out.trace");
                let o = Command::new(&ours)
                    .args(&run)
                    .arg(&trace)
                    .arg("-o")
                    .arg(&out)
                    .output()
                    .context("running trace-tool")?;
                let what = run.join(" ");
                if !o.status.success()
                    && String::from_utf8_lossy(&o.stderr).contains("no event of the trace")
                {
                    continue;
                }
                if !o.status.success() {
                    failures.push(format!(
                        "{name}: {what}: {}",
                        String::from_utf8_lossy(&o.stderr)
                    ));
                    continue;
                }
                n_outputs += 1;
                if run == ["filter"] && fs::read(&out)? != fs::read(&trace)? {
                    failures.push(format!("{name}: filter: not the identity"));
                }
                let g = Command::new(&go)
                    .env("GOTOOLCHAIN", "local")
                    .args(["tool", "trace", "-d=parsed"])
                    .arg(&out)
                    .output()
                    .context("running go tool trace")?;
                if !g.status.success() || !g.stderr.is_empty() {
                    let err = String::from_utf8_lossy(&g.stderr);
                    failures.push(format!("{name}: {what}: Go: {}", err.trim()));
                }
                let v = Command::new(&ours).arg("validate").arg(&out).output()?;
                if !v.status.success() {
                    let text = String::from_utf8_lossy(&v.stdout);
                    failures.push(format!("{name}: {what}: validate: {}", text.trim()));
                }
            }
        }
    }
    eprintln!(
        "oracle-rewrite: {n_outputs} outputs, {} failures",
        failures.len()
    );
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    Ok(())
}

/// How many generations `trace-tool validate` counts in `trace`.
fn generations(ours: &Path, trace: &Path) -> Result<usize> {
    let o = Command::new(ours).arg("validate").arg(trace).output()?;
    let text = String::from_utf8_lossy(&o.stdout);
    text.split(", ")
        .find_map(|part| part.strip_suffix(" generations")?.parse().ok())
        .with_context(|| format!("no generation count in {text:?}"))
}

/// What the event-level filters of a trace are given.
struct Facts {
    /// The first and last event times.
    span: Option<(i64, i64)>,
    /// A task type.
    task: Option<String>,
}

/// Reads `trace-tool stats --json` of `trace` for its span and a task type.
fn facts(ours: &Path, trace: &Path) -> Result<Facts> {
    let o = Command::new(ours)
        .args(["stats", "--json"])
        .arg(trace)
        .output()?;
    let text = String::from_utf8_lossy(&o.stdout);
    let number = |key: &str| -> Option<i64> {
        let i = text.find(key)? + key.len();
        let rest = &text[i..];
        let end = rest.find(|c: char| !c.is_ascii_digit() && c != '-')?;
        rest[..end].parse().ok()
    };
    let span = number("\"start_ns\":").zip(number("\"end_ns\":"));
    let task = text.find("\"tasks\":[{\"type\":\"").and_then(|i| {
        let rest = &text[i + "\"tasks\":[{\"type\":\"".len()..];
        let ty = &rest[..rest.find('"')?];
        (!ty.is_empty() && !ty.contains('\\')).then(|| ty.to_string())
    });
    Ok(Facts { span, task })
}
