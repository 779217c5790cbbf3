//! `cargo xtask oracle`: checks the traces our recorder writes with Go's own
//! readers.
//!
//! Locates Go 1.27 (see [`go127`](crate::go127); installed with
//! `../shared/tools/install-go-oracle.sh 1.27` if missing) and Go 1.23
//! (installed or located with the same script). Then, once in each trace
//! format the recorder writes (Go 1.26, the default, and Go 1.23), it runs
//! the `trace-annotate` demo and the `trace-flight` example, and runs the
//! recorder's, the annotations' and the flight recorder's test suites with
//! `TRACE_ORACLE_DIR` set, which makes them save every trace they write
//! there, and `TRACE_TEST_FORMAT` choosing the format they record in
//! (some tests record in both formats whatever it says).
//!
//! Every saved trace must pass Go 1.27's `go tool trace -d=parsed`, and
//! every one in the Go 1.23 format (by its header) also Go 1.23's
//! `go tool trace -d=1`: exit status 0 and nothing on stderr. Tests never
//! need Go; this task is how Go keeps checking what they produce.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::{cargo, root, run as run_command};

/// The formats the recorder writes: the name `TRACE_TEST_FORMAT` and the
/// examples' `--format` take, and the file header's start.
const FORMATS: [(&str, &[u8]); 2] = [("1.26", b"go 1.26 trace"), ("1.23", b"go 1.23 trace")];

pub(crate) fn run(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask oracle");
    }
    let go127 = match crate::go127() {
        Some(go) => go,
        None => install_go("1.27")?,
    };
    let go123 = install_go("1.23")?;
    let dir = std::env::temp_dir().join(format!("trace-oracle-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);

    for (format, _) in FORMATS {
        let sub = dir.join(format!("go{}", format.replace('.', "")));
        fs::create_dir_all(&sub)?;
        record(&sub, format)?;
    }

    let mut traces = Vec::new();
    collect(&dir, &mut traces)?;
    traces.sort();
    if traces.is_empty() {
        bail!("no traces were written to {}", dir.display());
    }
    let mut failures = Vec::new();
    let (mut n126, mut n123, mut ok127, mut ok123) = (0, 0, 0, 0);
    for trace in &traces {
        let header = fs::read(trace)
            .with_context(|| format!("reading {}", trace.display()))?
            .get(..13)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        let go123_format = if header == FORMATS[0].1 {
            n126 += 1;
            false
        } else if header == FORMATS[1].1 {
            n123 += 1;
            true
        } else {
            failures.push(format!(
                "{}: unexpected header {:?}",
                trace.display(),
                String::from_utf8_lossy(&header)
            ));
            continue;
        };
        match check(&go127, "-d=parsed", trace)? {
            Some(problem) => failures.push(format!("{} (Go 1.27): {problem}", trace.display())),
            None => ok127 += 1,
        }
        if go123_format {
            match check(&go123, "-d=1", trace)? {
                Some(problem) => failures.push(format!("{} (Go 1.23): {problem}", trace.display())),
                None => ok123 += 1,
            }
        }
    }
    eprintln!(
        "oracle: {} traces ({n126} in the Go 1.26 format, {n123} in the Go 1.23 format): \
         {ok127} of {} accepted by Go 1.27's `go tool trace -d=parsed`, \
         {ok123} of {n123} Go 1.23-format ones by Go 1.23's `go tool trace -d=1`",
        traces.len(),
        n126 + n123,
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

/// Writes the traces of one format into `dir`: the examples' and the
/// tests'.
fn record(dir: &Path, format: &str) -> Result<()> {
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
        "--format",
        format,
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
        "--format",
        format,
    ])?;

    // The tests save their traces here (see `TRACE_ORACLE_DIR` in their
    // helpers), recording in `format` (`TRACE_TEST_FORMAT`).
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
            .env("TRACE_ORACLE_DIR", dir)
            .env("TRACE_TEST_FORMAT", format),
    )
}

/// The `.trace` files below `dir`.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "trace") {
            out.push(path);
        }
    }
    Ok(())
}

/// The `go` binary of Go `version` from the install script (the last line
/// it prints is Go's `bin` directory).
fn install_go(version: &str) -> Result<PathBuf> {
    let script = root().join("../shared/tools/install-go-oracle.sh");
    if !script.is_file() {
        bail!(
            "{} not found: the oracle needs ../shared beside the workspace",
            script.display()
        );
    }
    let out = Command::new("bash")
        .arg(&script)
        .arg(version)
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

/// Runs `go tool trace <mode>` on `trace`; returns what went wrong, if
/// anything.
fn check(go: &Path, mode: &str, trace: &Path) -> Result<Option<String>> {
    let out = Command::new(go)
        .env("GOTOOLCHAIN", "local")
        .args(["tool", "trace", mode])
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
