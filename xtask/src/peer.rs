//! `cargo xtask peer`: the same workload against Go 1.27's
//! `runtime/trace.FlightRecorder` (`peer/peer.go`) and ours
//! (`trace-flight`'s `peer` example), one table of ratios: the cost of a
//! region pair with the recorder on, snapshot latency under load (a
//! snapshot every 50 ms while worker threads serve requests), and the
//! largest snapshot against the configured bound. Skips cleanly without
//! Go 1.27.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{go127, root};

const GO_SOURCE: &str = include_str!("peer/peer.go");

/// Parses `key=value` lines.
fn parse(out: &[u8]) -> BTreeMap<String, f64> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}

fn output(cmd: &mut Command) -> Result<BTreeMap<String, f64>> {
    eprintln!("$ {cmd:?}");
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(parse(&out.stdout))
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut seconds = "3".to_owned();
    let mut workers = "2".to_owned();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().context("--seconds N")?.clone(),
            "--workers" => workers = it.next().context("--workers N")?.clone(),
            _ => bail!("usage: cargo xtask peer [--seconds N] [--workers N]"),
        }
    }
    let Some(go) = go127() else {
        eprintln!("peer: skipped: Go 1.27 not found (GO127 or /usr/lib/go-1.27/bin/go)");
        return Ok(());
    };
    let flags = ["--seconds", seconds.as_str(), "--workers", workers.as_str()];

    // Ours first (cargo builds while Go is not yet loading the machine).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ours = output(
        Command::new(cargo)
            .current_dir(root())
            .args([
                "run",
                "--release",
                "-q",
                "-p",
                "trace-flight",
                "--example",
                "peer",
                "--",
            ])
            .args(flags),
    )?;

    let dir = std::env::temp_dir().join(format!("xtask-peer-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("go.mod"), "module peer\n\ngo 1.25\n")?;
    std::fs::write(dir.join("peer.go"), GO_SOURCE)?;
    let bin = dir.join("peer");
    let built = Command::new(&go)
        .current_dir(&dir)
        .env("GOTOOLCHAIN", "local")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .status()
        .context("go build")?;
    if !built.success() {
        bail!("go build of the peer workload failed");
    }
    let go_flags: Vec<String> = flags
        .iter()
        .map(|f| {
            f.strip_prefix("--")
                .map_or((*f).to_owned(), |f| format!("-{f}"))
        })
        .collect();
    let theirs = output(Command::new(&bin).args(&go_flags))?;
    let _ = std::fs::remove_dir_all(&dir);

    let get = |m: &BTreeMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(f64::NAN);
    println!();
    println!(
        "{:<40} {:>12} {:>12} {:>10}",
        "metric", "ours", "Go 1.27", "Go / ours"
    );
    let row = |label: &str, key: &str| {
        let (a, b) = (get(&ours, key), get(&theirs, key));
        println!("{label:<40} {a:>12.2} {b:>12.2} {:>10.2}", b / a);
    };
    row("region pair, tracing off (ns)", "region_pair_off_ns");
    row("region pair, recorder on (ns)", "region_pair_on_ns");
    row("snapshot latency under load, mean (ms)", "snapshot_mean_ms");
    row("snapshot latency under load, max (ms)", "snapshot_max_ms");
    // Go has no snapshot without a write: its column is `WriteTo` again.
    let capture = |label: &str, key: &str, go_key: &str| {
        let (a, b) = (get(&ours, key), get(&theirs, go_key));
        println!("{label:<40} {a:>12.2} {b:>12.2} {:>10.2}", b / a);
    };
    capture(
        "  of which capture, mean (ms)",
        "capture_mean_ms",
        "snapshot_mean_ms",
    );
    capture(
        "  of which capture, max (ms)",
        "capture_max_ms",
        "snapshot_max_ms",
    );
    let bound = |m: &BTreeMap<String, f64>| get(m, "snapshot_largest_bytes") / get(m, "max_bytes");
    let (a, b) = (bound(&ours), bound(&theirs));
    println!(
        "{:<40} {a:>12.2} {b:>12.2} {:>10.2}",
        "largest snapshot / max_bytes",
        b / a
    );
    println!(
        "({} and {} snapshots; {} s of load, {} workers, max_bytes {} MiB)",
        get(&ours, "snapshots"),
        get(&theirs, "snapshots"),
        seconds,
        workers,
        get(&ours, "max_bytes") / f64::from(1 << 20)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_lines_parse() {
        let m = parse(b"a=1.5\nnoise\nb = 2\nc=x\n");
        assert_eq!(m.len(), 2);
        assert_eq!(m["a"], 1.5);
        assert_eq!(m["b"], 2.0);
    }
}
