//! `cargo xtask bench`: runs the recorder's benchmarks and prints them as a
//! table next to `design.md` §5's targets, with every figure also shown as a
//! multiple of one clock read measured in the same run.
//!
//! The benchmarks are built with `-C force-frame-pointers=yes` (in a target
//! directory of their own, so that ordinary builds are not invalidated), so
//! that the stack benchmark measures the frame-pointer walk.
//! `cargo xtask bench --quick` passes `--quick` to criterion;
//! `cargo xtask bench --table` prints the table of the last run again.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{root, run};

/// What to print: criterion id, label, and the target as a closure over the
/// results (`None` when the row has no target).
struct Row {
    id: &'static str,
    label: &'static str,
    target: &'static str,
    check: fn(&Results, f64) -> Option<bool>,
}

struct Results {
    dir: PathBuf,
}

impl Results {
    /// The mean of benchmark `id` (criterion's `group/function`), in ns.
    fn get(&self, id: &str) -> Option<f64> {
        let path = self
            .dir
            .join(id.replace('/', std::path::MAIN_SEPARATOR_STR))
            .join("new/estimates.json");
        let json = fs::read_to_string(path).ok()?;
        mean_point_estimate(&json)
    }

    fn clock(&self) -> f64 {
        self.get("clock/read").unwrap_or(f64::NAN)
    }
}

/// `"mean":{..."point_estimate":X` from criterion's `estimates.json`.
fn mean_point_estimate(json: &str) -> Option<f64> {
    let mean = &json[json.find("\"mean\"")?..];
    let at = mean.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let rest = &mean[at..];
    let end = rest.find([',', '}'])?;
    rest[..end].trim().parse().ok()
}

const ROWS: &[Row] = &[
    Row {
        id: "clock/read",
        label: "one clock read (the floor)",
        target: "",
        check: |_, _| None,
    },
    Row {
        id: "clock/instant_now",
        label: "Instant::now()",
        target: "",
        check: |_, _| None,
    },
    Row {
        id: "off/is_enabled",
        label: "is_enabled, tracing off",
        target: "<= 1 ns",
        check: |_, v| Some(v <= 1.0),
    },
    Row {
        id: "off/region_pair",
        label: "region begin+end, tracing off",
        target: "<= 1 ns",
        check: |_, v| Some(v <= 1.0),
    },
    Row {
        id: "off/log",
        label: "log, tracing off",
        target: "<= 1 ns",
        check: |_, v| Some(v <= 1.0),
    },
    Row {
        id: "off/task",
        label: "task new+end, tracing off",
        target: "<= 1 ns",
        check: |_, v| Some(v <= 1.0),
    },
    Row {
        id: "on/log",
        label: "log",
        target: "<= clock + 10 ns",
        check: |r, v| Some(v <= r.clock() + 10.0),
    },
    Row {
        id: "on/region_pair",
        label: "region begin+end",
        target: "<= 2 clocks + 15 ns, <= 0.5x fastrace",
        check: |r, v| {
            let fastrace = r.get("peers/fastrace_local_span")?;
            Some(v <= 2.0 * r.clock() + 15.0 && v <= 0.5 * fastrace)
        },
    },
    Row {
        id: "on/task",
        label: "task new+end",
        target: "<= 2 clocks + 20 ns",
        check: |r, v| Some(v <= 2.0 * r.clock() + 20.0),
    },
    Row {
        id: "on/log_stack16_frame_pointers",
        label: "log with a 16-frame stack (frame pointers)",
        target: "<= clock + 60 ns",
        check: |r, v| Some(v <= r.clock() + 60.0),
    },
    Row {
        id: "on/log_stack16_unwind",
        label: "log with a 16-frame stack (unwinder)",
        target: "",
        check: |_, _| None,
    },
    Row {
        id: "on/region_pair_1_threads",
        label: "region pair, 1 thread",
        target: "",
        check: |_, _| None,
    },
    Row {
        id: "on/region_pair_2_threads",
        label: "region pair, 2 threads at once (per thread)",
        target: "<= 1.2x 1 thread",
        check: |r, v| Some(v <= 1.2 * r.get("on/region_pair_1_threads")?),
    },
    Row {
        id: "clock/read_1_threads",
        label: "clock read, 1 thread",
        target: "",
        check: |_, _| None,
    },
    Row {
        id: "clock/read_2_threads",
        label: "clock read, 2 threads at once (machine scaling)",
        target: "",
        check: |_, _| None,
    },
    Row {
        id: "peers/fastrace_local_span",
        label: "fastrace LocalSpan",
        target: "",
        check: |_, _| None,
    },
    Row {
        id: "peers/tracing_chrome_span",
        label: "tracing span+enter+exit, tracing-chrome",
        target: "",
        check: |_, _| None,
    },
];

pub(crate) fn run_bench(args: &[String]) -> Result<()> {
    let (quick, table_only) = match args {
        [] => (false, false),
        [flag] if flag == "--quick" => (true, false),
        [flag] if flag == "--table" => (false, true),
        _ => bail!("usage: cargo xtask bench [--quick | --table]"),
    };
    let target = target_dir()?.join("bench-frame-pointers");
    if !table_only {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["bench", "-p", "trace-annotate", "--bench", "annotate"])
            .env("CARGO_TARGET_DIR", &target)
            .env("RUSTFLAGS", "-C force-frame-pointers=yes");
        if quick {
            cmd.args(["--", "--quick"]);
        }
        run(&mut cmd)?;
    }
    print_table(&Results {
        dir: target.join("criterion"),
    });
    Ok(())
}

fn print_table(r: &Results) {
    let clock = r.clock();
    println!();
    println!(
        "{:<48} {:>10} {:>9}  {:<40} met",
        "benchmark", "ns", "x clock", "target (design.md §5)"
    );
    for row in ROWS {
        let Some(v) = r.get(row.id) else {
            println!("{:<48} {:>10}", row.label, "-");
            continue;
        };
        let met = match (row.check)(r, v) {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        println!(
            "{:<48} {:>10.2} {:>9.2}  {:<40} {}",
            row.label,
            v,
            v / clock,
            row.target,
            met
        );
    }
    let ratio = |a: &str, b: &str| Some(r.get(a)? / r.get(b)?);
    if let Some(x) = ratio("on/region_pair", "peers/fastrace_local_span") {
        println!("\nregion pair / fastrace LocalSpan: {x:.2}");
    }
    if let Some(x) = ratio("on/region_pair", "peers/tracing_chrome_span") {
        println!("region pair / tracing + tracing-chrome span: {x:.3}");
    }
    if let Some(x) = ratio("on/region_pair_2_threads", "on/region_pair_1_threads") {
        let machine = ratio("clock/read_2_threads", "clock/read_1_threads").unwrap_or(f64::NAN);
        println!("2 threads / 1 thread: {x:.2} (the clock alone: {machine:.2})");
    }
    println!(
        "\nGo 1.23 on this kind of VM (design.md): region pair 400-800 ns, log ~245 ns, task 410-535 ns, off 2.3 ns"
    );
}

/// The workspace's target directory, as cargo reports it.
fn target_dir() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let json = String::from_utf8_lossy(&out.stdout);
    let key = "\"target_directory\":\"";
    let at = json
        .find(key)
        .context("no target_directory in cargo metadata")?
        + key.len();
    let end = json[at..]
        .find('"')
        .context("unterminated target_directory")?;
    Ok(Path::new(&json[at..at + end].replace("\\\\", "\\")).to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_criterion_estimates() {
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":24.1,"upper_bound":25.0},"point_estimate":24.5,"standard_error":0.2},"median":{"point_estimate":1.0}}"#;
        assert_eq!(mean_point_estimate(json), Some(24.5));
    }
}
