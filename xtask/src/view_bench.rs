//! `cargo xtask view-bench [TRACE…] [--make-large] [--make-huge]`: for each trace, the
//! time from starting `trace-tool view` until it answers the first window a
//! page asks for (the whole trace, its first 40 lanes, at a screen's
//! resolution), and the server's peak RSS (`VmHWM`), against the target of
//! issue 16 (3× the trace's size + 64 MB).
//!
//! Without traces named: the corpus' two large traces and, if present,
//! `target/view-bench/large.trace` and `huge.trace`, which `--make-large`
//! and `--make-huge` write first with Go 1.27 (`mixedload.go` of
//! `../shared/go-traces-current` for 20 s and for 15 s: the size depends on
//! how much CPU the program gets; here 136 MiB and 411 MiB).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{cargo, go127, root, run};

/// One GET on `addr`; the body.
fn get(addr: &str, path: &str) -> Result<String> {
    let mut s = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(600)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("no HTTP answer to {path}");
    };
    if !head.starts_with("HTTP/1.1 200") {
        bail!("{path}: {}", head.lines().next().unwrap_or(""));
    }
    Ok(body.to_owned())
}

/// The server's peak resident set, in bytes.
fn peak_rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM")?;
    Ok(kb * 1024)
}

/// Kills the server when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serves `trace`; returns the time to the first window and the peak RSS.
fn measure(tool: &Path, trace: &Path) -> Result<(Duration, u64)> {
    let start = Instant::now();
    let mut child = Server(
        Command::new(tool)
            .arg("view")
            .arg(trace)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting trace-tool view")?,
    );
    // "Serving TITLE at http://127.0.0.1:PORT/"
    let mut stdout = child.0.stdout.take().context("stdout")?;
    let mut line = Vec::new();
    let mut byte = [0u8];
    while stdout.read(&mut byte)? == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&line).into_owned();
    let addr = line
        .split("http://")
        .nth(1)
        .map(|a| a.trim_end_matches('/').to_owned())
        .with_context(|| format!("no URL in {line:?}"))?;
    let meta = get(&addr, "/api/meta")?;
    let span: i64 = meta
        .split("\"span\":")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .context("no span in /api/meta")?;
    let res = (span / 2000).max(1);
    get(
        &addr,
        &format!("/api/window?t0=0&t1={}&res={res}&lanes=0-39", span + 1),
    )?;
    let first = start.elapsed();
    Ok((first, peak_rss(child.0.id())?))
}

/// Writes a large trace with Go 1.27 into `out`: `mixedload.go` run for
/// `seconds` at `scale`.
fn make_large(out: &Path, seconds: &str, scale: &str) -> Result<()> {
    let Some(go) = go127() else {
        bail!("--make-large needs Go 1.27 (GO127 or /usr/lib/go-1.27/bin/go)");
    };
    let dir = out.parent().context("output directory")?;
    std::fs::create_dir_all(dir)?;
    let src = root().join("../shared/go-traces-current/src/mixedload.go");
    // The corpus' sources are read-only, and a copy keeps that mode.
    let _ = std::fs::remove_file(dir.join("mixedload.go"));
    std::fs::copy(&src, dir.join("mixedload.go"))
        .with_context(|| format!("copying {}", src.display()))?;
    std::fs::write(dir.join("go.mod"), "module viewbench\n\ngo 1.25\n")?;
    run(Command::new(go)
        .current_dir(dir)
        .env("GOTOOLCHAIN", "local")
        .args(["run", "mixedload.go", "-d", seconds, "-scale", scale, "-o"])
        .arg(out))
}

pub(crate) fn run_bench(args: &[String]) -> Result<()> {
    let large = root().join("target/view-bench/large.trace");
    let huge = root().join("target/view-bench/huge.trace");
    let mut traces: Vec<PathBuf> = Vec::new();
    for a in args {
        match a.as_str() {
            "--make-large" => make_large(&large, "20s", "2")?,
            "--make-huge" => make_large(&huge, "15s", "2")?,
            flag if flag.starts_with('-') => {
                bail!("usage: cargo xtask view-bench [TRACE…] [--make-large] [--make-huge]")
            }
            path => traces.push(PathBuf::from(path)),
        }
    }
    if traces.is_empty() {
        let shared = root().join("../shared");
        traces = [
            shared.join("go-traces-current/traces/go127-large-mixedload.trace"),
            shared.join("go-traces/traces/go123-large-mixedload.trace"),
            large,
            huge,
        ]
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    }
    cargo(&["build", "--release", "-q", "-p", "trace-tool"])?;
    let tool = root().join("target/release/trace-tool");
    println!(
        "{:<36} {:>9} {:>13} {:>14} {:>8} {:>14}",
        "trace", "size MB", "first window", "peak RSS MB", "RSS/size", "target MB"
    );
    for trace in &traces {
        let size = std::fs::metadata(trace)?.len();
        let (first, rss) = measure(&tool, trace)?;
        let mb = |b: u64| b as f64 / f64::from(1 << 20);
        println!(
            "{:<36} {:>9.1} {:>11.2} s {:>14.0} {:>8.1} {:>14.0}",
            trace
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            mb(size),
            first.as_secs_f64(),
            mb(rss),
            rss as f64 / size as f64,
            mb(3 * size) + 64.0,
        );
    }
    Ok(())
}
