//! The curated traces' footprints: `expected/NAME.footprint.txt`, the
//! stdout of Go 1.27's `go tool trace -d=footprint traces/NAME.trace`, and
//! `expected/NAME.footprint.err.txt`, its stderr, where it exits 1 (stdout
//! is empty then: Go reads the whole trace before it prints).
//!
//! The corpus keeps no footprints, so they are made with Go 1.27 when it is
//! installed. Without Go they cannot be remade, but they can be checked
//! against the `.wire` outputs the corpus does keep, which come from the
//! same raw reader: a footprint fails exactly where `-d=wire` fails, with
//! the same message, and otherwise counts, per event name, the lines that
//! `-d=wire` prints for that name.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use flate2::read::GzDecoder;

/// Go 1.27's footprints of the curated traces, by path relative to
/// `testdata/`: made with `go` if given, else the files already there
/// (which must exist).
pub(super) fn wanted(
    go: Option<&Path>,
    corpus: &Path,
    testdata: &Path,
    names: &[String],
) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let mut res = BTreeMap::new();
    for name in names {
        let out = PathBuf::from(format!("expected/{name}.footprint.txt"));
        let err = PathBuf::from(format!("expected/{name}.footprint.err.txt"));
        match go {
            Some(go) => {
                let trace = corpus.join(format!("traces/{name}.trace"));
                let run = Command::new(go)
                    .env("GOTOOLCHAIN", "local")
                    .args(["tool", "trace", "-d=footprint"])
                    .arg(&trace)
                    .output()
                    .context("running go tool trace -d=footprint")?;
                match run.status.code() {
                    Some(0) => {}
                    Some(1) => {
                        res.insert(err, run.stderr);
                    }
                    _ => bail!(
                        "go tool trace -d=footprint {} failed with {}: {}",
                        trace.display(),
                        run.status,
                        String::from_utf8_lossy(&run.stderr)
                    ),
                }
                res.insert(out, run.stdout);
            }
            None => {
                let contents = fs::read(testdata.join(&out)).with_context(|| {
                    format!(
                        "testdata/{} is missing; run `cargo xtask golden` where Go 1.27 is installed",
                        out.display()
                    )
                })?;
                res.insert(out, contents);
                if let Ok(contents) = fs::read(testdata.join(&err)) {
                    res.insert(err, contents);
                }
            }
        }
    }
    Ok(res)
}

/// The problems of the curated footprints in `files` (every fixture, by
/// path relative to `testdata/`) against the `.wire` outputs and the traces
/// there; empty if there are none.
pub(super) fn check_consistency(
    files: &BTreeMap<PathBuf, Vec<u8>>,
    names: &[String],
) -> Vec<String> {
    let mut problems = Vec::new();
    for name in names {
        if let Err(e) = check_one(files, name) {
            problems.push(format!("{name}: {e:#}"));
        }
    }
    problems
}

fn check_one(files: &BTreeMap<PathBuf, Vec<u8>>, name: &str) -> Result<()> {
    let get = |rel: String| files.get(&PathBuf::from(rel));
    let footprint = get(format!("expected/{name}.footprint.txt")).context("no footprint")?;
    let footprint_err = get(format!("expected/{name}.footprint.err.txt"));
    let wire_err = get(format!("expected/{name}.wire.err.txt"));
    if footprint_err != wire_err {
        bail!(
            "footprint error {:?}, but -d=wire's is {:?}",
            footprint_err.map(|e| String::from_utf8_lossy(e)),
            wire_err.map(|e| String::from_utf8_lossy(e))
        );
    }
    if wire_err.is_some() {
        if !footprint.is_empty() {
            bail!("Go failed, yet the footprint has output");
        }
        return Ok(());
    }
    let trace_len = get(format!("traces/{name}.trace"))
        .context("no trace")?
        .len();
    let wire = get(format!("expected/{name}.wire.txt.gz")).context("no .wire output")?;
    let mut text = String::new();
    GzDecoder::new(wire.as_slice())
        .read_to_string(&mut text)
        .context("gunzip .wire output")?;
    // One line per event; frames and data follow on tab-indented lines.
    let mut wire_counts = BTreeMap::<&str, u64>::new();
    for line in text.lines().filter(|l| !l.starts_with('\t')) {
        *wire_counts
            .entry(line.split(' ').next().unwrap_or(""))
            .or_default() += 1;
    }

    let footprint = std::str::from_utf8(footprint).context("footprint is not UTF-8")?;
    let rows = parse(footprint)?;
    let total: u64 = rows.iter().map(|r| r.count).sum();
    let mut counts = BTreeMap::<&str, u64>::new();
    let mut last_bytes = u64::MAX;
    for row in &rows {
        if row.bytes > last_bytes {
            bail!(
                "rows are not sorted by bytes: {:?} after {last_bytes}",
                row.name
            );
        }
        last_bytes = row.bytes;
        let percent = |part: u64, whole: u64| format!("{:.2}%", part as f64 / whole as f64 * 100.0);
        if row.bytes_percent != percent(row.bytes, trace_len as u64)
            || row.count_percent != percent(row.count, total)
        {
            bail!("percentages of {:?} do not add up", row.name);
        }
        if row.count > 0 {
            *counts.entry(row.name.as_str()).or_default() += row.count;
        }
    }
    if counts != wire_counts {
        bail!("events per type {counts:?}, but -d=wire printed {wire_counts:?}");
    }
    Ok(())
}

/// One row of the footprint table.
struct Row {
    name: String,
    bytes: u64,
    bytes_percent: String,
    count: u64,
    count_percent: String,
}

/// The 256 rows of a footprint table, after its two header lines.
fn parse(text: &str) -> Result<Vec<Row>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let dashes: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    if header != ["Event", "Bytes", "%", "Count", "%"] || dashes != ["-"; 5] {
        bail!("not a footprint table");
    }
    let mut rows = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let Some((numbers, name)) = cells
            .len()
            .checked_sub(4)
            .map(|n| (&cells[n..], cells[..n].join(" ")))
        else {
            bail!("bad row {line:?}");
        };
        let number = |s: &str| {
            s.parse::<u64>()
                .with_context(|| format!("bad number in {line:?}"))
        };
        rows.push(Row {
            name,
            bytes: number(numbers[0])?,
            bytes_percent: numbers[1].to_string(),
            count: number(numbers[2])?,
            count_percent: numbers[3].to_string(),
        });
    }
    if rows.len() != 256 {
        bail!("{} rows, not one per type byte", rows.len());
    }
    Ok(rows)
}
