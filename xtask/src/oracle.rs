//! `cargo xtask oracle`: checks the traces our recorder writes with Go's own
//! reader, `go tool trace -d=1`.
//!
//! Installs or locates Go 1.23 with `../shared/tools/install-go-oracle.sh`,
//! runs the `trace-annotate` demo and the `trace-flight` example, and runs
//! the recorder's and the flight recorder's test suites with
//! `TRACE_ORACLE_DIR` set, which makes them save every trace they write
//! there. Then every saved trace must pass `go tool trace -d=1` with exit
//! status 0 and nothing on stderr. Tests never need Go; this task is how Go
//! keeps checking what they produce.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::{cargo, root, run as run_command};

pub(crate) fn run(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask oracle");
    }
    let go = go_binary()?;
    let dir = std::env::temp_dir().join(format!("trace-oracle-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;

    let demo = dir.join("demo.trace");
    let demo_arg = demo.to_str().context("temporary path is not UTF-8")?;
    cargo(&[
        "run",
        "--release",
        "-p",
        "trace-annotate",
        "--example",
        "demo",
        "--",
        demo_arg,
    ])?;

    // A flight-recorder snapshot taken by the example.
    let flight = dir.join("flight-example.trace");
    let flight_arg = flight.to_str().context("temporary path is not UTF-8")?;
    cargo(&[
        "run",
        "--release",
        "-p",
        "trace-flight",
        "--example",
        "flight",
        "--",
        flight_arg,
    ])?;

    // The tests save their traces here (see `TRACE_ORACLE_DIR` in their
    // helpers).
    run_command(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "test",
                "-p",
                "trace-runtime",
                "-p",
                "trace-annotate",
                "-p",
                "trace-flight",
                "--tests",
            ])
            .env("TRACE_ORACLE_DIR", &dir),
    )?;

    let mut traces: Vec<PathBuf> = fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    traces.retain(|p| p.extension().is_some_and(|e| e == "trace"));
    traces.sort();
    if traces.is_empty() {
        bail!("no traces were written to {}", dir.display());
    }
    let mut failures = Vec::new();
    for trace in &traces {
        if let Some(problem) = check(&go, trace)? {
            failures.push(format!("{}: {problem}", trace.display()));
        }
    }
    eprintln!(
        "oracle: {} of {} traces accepted by `go tool trace -d=1`",
        traces.len() - failures.len(),
        traces.len()
    );
    if !failures.is_empty() {
        bail!(
            "rejected (traces kept in {}):\n  {}",
            dir.display(),
            failures.join("\n  ")
        );
    }
    fs::remove_dir_all(&dir)?;
    Ok(())
}

/// The `go` binary from the install script (the last line it prints is
/// Go's `bin` directory).
fn go_binary() -> Result<PathBuf> {
    let script = root().join("../shared/tools/install-go-oracle.sh");
    if !script.is_file() {
        bail!(
            "{} not found: the oracle needs ../shared beside the workspace",
            script.display()
        );
    }
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!("{} failed with {}", script.display(), out.status);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bin = stdout
        .lines()
        .last()
        .context("the install script printed nothing")?
        .trim();
    let go = Path::new(bin).join("go");
    if !go.is_file() {
        bail!("{} does not exist", go.display());
    }
    Ok(go)
}

/// Runs `go tool trace -d=1` on `trace`; returns what went wrong, if
/// anything.
fn check(go: &Path, trace: &Path) -> Result<Option<String>> {
    let out = Command::new(go)
        .args(["tool", "trace", "-d=1"])
        .arg(trace)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {} tool trace", go.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    Ok(if !out.status.success() {
        Some(format!("exit {}: {}", out.status, stderr.trim()))
    } else if !stderr.trim().is_empty() {
        Some(format!("stderr: {}", stderr.trim()))
    } else {
        None
    })
}
