//! `cargo xtask parquet-sql`: the fleet query of `trace-parquet`'s docs,
//! run by DuckDB (installed from PyPI into `target/duckdb-venv`) over the
//! Parquet exports of every corpus trace, and checked against the task
//! latencies computed from `trace-tool dump`'s text of the same traces.
//! Skips cleanly when Python or the package registry is not there.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{cargo, root, run};

const SCRIPT: &str = include_str!("parquet/query.py");
/// Pinned, so that a new release cannot change what is checked.
const DUCKDB: &str = "duckdb==2.0.1";

/// The virtual environment's Python with DuckDB, installing it if needed;
/// `None` if that cannot be done here.
fn duckdb_python(venv: &Path) -> Option<PathBuf> {
    let python = venv.join("bin/python");
    let has = |p: &Path| {
        Command::new(p)
            .args(["-c", "import duckdb"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has(&python) {
        return Some(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv)
        .status()
        .is_ok_and(|s| s.success());
    let installed = made
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", DUCKDB])
            .status()
            .is_ok_and(|s| s.success());
    (installed && has(&python)).then_some(python)
}

/// The corpus traces (or the curated ones without `../shared`).
fn traces() -> Result<Vec<PathBuf>> {
    let shared = root().join("../shared");
    let dirs: Vec<PathBuf> = if shared.is_dir() {
        vec![
            shared.join("go-traces/traces"),
            shared.join("go-traces-current/traces"),
        ]
    } else {
        vec![
            root().join("testdata/traces"),
            root().join("testdata/current/traces"),
        ]
    };
    let mut out = Vec::new();
    for dir in dirs {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "trace") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

pub(crate) fn run_sql(_: &[String]) -> Result<()> {
    let target = root().join("target");
    let Some(python) = duckdb_python(&target.join("duckdb-venv")) else {
        eprintln!("parquet-sql: skipped: could not install {DUCKDB} from PyPI with python3");
        return Ok(());
    };
    cargo(&["build", "--release", "-q", "-p", "trace-tool"])?;
    let tool = target.join("release/trace-tool");
    let work = target.join("parquet-sql");
    let _ = std::fs::remove_dir_all(&work);
    let (exports, dumps) = (work.join("exports"), work.join("dumps"));
    std::fs::create_dir_all(&dumps)?;
    let mut n = 0;
    for trace in traces()? {
        let stem = trace
            .file_stem()
            .and_then(|s| s.to_str())
            .context("trace name")?
            .to_owned();
        // Traces Go's reader refuses (the corpus has a few) are left out of
        // both sides.
        let dump = Command::new(&tool).arg("dump").arg(&trace).output()?;
        if !dump.status.success() {
            continue;
        }
        std::fs::write(dumps.join(format!("{stem}.txt")), &dump.stdout)?;
        let out = Command::new(&tool)
            .args(["convert", "--to", "parquet"])
            .arg(&trace)
            .arg("-o")
            .arg(exports.join(&stem))
            .output()?;
        if !out.status.success() {
            bail!(
                "convert --to parquet {}: {}",
                trace.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        n += 1;
    }
    eprintln!("parquet-sql: {n} traces exported to {}", exports.display());
    let script = work.join("query.py");
    std::fs::write(&script, SCRIPT)?;
    run(Command::new(python).arg(&script).arg(&exports).arg(&dumps))
}
