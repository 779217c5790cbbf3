//! Project automation, reached as `cargo xtask <task>`.
//!
//! Every task finds the workspace root from this crate's manifest directory,
//! never from the current directory, so it works from anywhere in the tree.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

mod bench;
mod e2e;
mod fuzz;
mod golden;
mod oracle;
mod parquet_sql;
mod peer;
mod pprof_oracle;
mod rewrite_oracle;
mod tidy;
mod view_bench;
mod wire_oracle;

type Task = fn(&[String]) -> Result<()>;

const TASKS: &[(&str, Task, &str)] = &[
    (
        "ci",
        ci,
        "everything CI runs: fmt, clippy, tests, golden --check, layering",
    ),
    (
        "test",
        test,
        "the test suite (what the README's test command runs)",
    ),
    (
        "golden",
        golden::run,
        "refresh testdata/ from ../shared/go-traces, footprints with Go 1.27 (--check: fail if stale)",
    ),
    (
        "fuzz",
        fuzz::run,
        "fuzz a target with libFuzzer: fuzz <wire|text|reader|rewrite|writer> [--seconds N]",
    ),
    (
        "layering",
        layering,
        "check which crates may depend on which",
    ),
    (
        "loom",
        loom,
        "model-check trace-runtime's concurrency under loom (own target dir)",
    ),
    (
        "tidy",
        tidy::run,
        "house rules: module docs, no dbg!/todo!, SAFETY comments, file length",
    ),
    (
        "deny",
        deny,
        "cargo-deny: licenses, bans, sources (skipped if cargo-deny is missing)",
    ),
    (
        "oracle-pprof",
        pprof_oracle::run,
        "pprof profiles vs Go's: refresh testdata/pprof (--check: verify), compare the corpus",
    ),
    (
        "oracle-wire",
        wire_oracle::run,
        "trace-tool raw and footprint vs live Go 1.27 -d=wire/-d=footprint on all traces",
    ),
    (
        "oracle-rewrite",
        rewrite_oracle::run,
        "trace-tool redact/cut/filter outputs through Go 1.27 (-d=parsed) on all traces",
    ),
    (
        "parquet-sql",
        parquet_sql::run_sql,
        "DuckDB (from PyPI) runs the p99 task query over Parquet exports of the corpus, checked against dumps",
    ),
    (
        "oracle",
        oracle::run,
        "our recorder's traces, both formats, through Go 1.27 (-d=parsed) and the 1.23 ones Go 1.23 (-d=1)",
    ),
    (
        "bench",
        bench::run_bench,
        "recorder benchmarks as a table vs design.md targets [--quick | --table]",
    ),
    (
        "peer",
        peer::run,
        "our flight recorder vs Go 1.27's, same workload, one table of ratios [--seconds N] (skips without Go)",
    ),
    (
        "view-bench",
        view_bench::run_bench,
        "trace-tool view: time to the first window and peak RSS per trace [TRACE…] [--make-large]",
    ),
    (
        "e2e",
        e2e::run_e2e,
        "trace-tool view in headless Chromium (installs chromium and npm deps if missing)",
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        help();
        return ExitCode::SUCCESS;
    };
    let Some((_, task, _)) = TASKS.iter().find(|(n, _, _)| n == name) else {
        eprintln!("unknown task `{name}`\n");
        help();
        return ExitCode::FAILURE;
    };
    match task(&args[1..]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn help() {
    eprintln!("cargo xtask <task>\n\ntasks:");
    for (name, _, about) in TASKS {
        eprintln!("  {name:<10} {about}");
    }
}

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// The shared conformance corpus beside the workspace, if present.
pub(crate) fn shared_corpus() -> Option<PathBuf> {
    let dir = root().join("../shared/go-traces");
    dir.is_dir().then_some(dir)
}

/// The shared corpus of Go 1.25–1.27 traces beside the workspace, if
/// present.
pub(crate) fn shared_current_corpus() -> Option<PathBuf> {
    let dir = root().join("../shared/go-traces-current");
    dir.is_dir().then_some(dir)
}

/// Go 1.27, the reference for `-d=wire` and `-d=footprint`: `$GO127`, else
/// Debian's `/usr/lib/go-1.27/bin/go`, else `go` on the path, whichever
/// says it is go1.27 first. Run it with `GOTOOLCHAIN=local`.
pub(crate) fn go127() -> Option<PathBuf> {
    [
        std::env::var_os("GO127").map(PathBuf::from),
        Some(PathBuf::from("/usr/lib/go-1.27/bin/go")),
        Some(PathBuf::from("go")),
    ]
    .into_iter()
    .flatten()
    .find(|go| {
        Command::new(go)
            .env("GOTOOLCHAIN", "local")
            .arg("version")
            .output()
            .is_ok_and(|out| {
                out.status.success() && String::from_utf8_lossy(&out.stdout).contains("go1.27")
            })
    })
}

/// The `.trace` files of `dir`, sorted.
pub(crate) fn trace_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    v.retain(|p| p.extension().is_some_and(|e| e == "trace"));
    v.sort();
    Ok(v)
}

/// Runs `cargo` with `args` in the workspace root, failing on a non-zero exit.
pub(crate) fn cargo(args: &[&str]) -> Result<()> {
    run(Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).args(args))
}

/// Runs `cmd` (in the workspace root unless it names a directory of its
/// own), failing on a non-zero exit.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    if cmd.get_current_dir().is_none() {
        cmd.current_dir(root());
    }
    eprintln!("$ {}", describe(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("running {}", describe(cmd)))?;
    if !status.success() {
        bail!("`{}` failed with {status}", describe(cmd));
    }
    Ok(())
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The README's test command.
fn test(_: &[String]) -> Result<()> {
    cargo(&["test", "--workspace"])
}

/// The loom model checks of `trace-runtime` (`tests/loom.rs`), in their own
/// target directory so that `--cfg loom` does not invalidate the ordinary
/// build.
fn loom(_: &[String]) -> Result<()> {
    let target = root().join("target").join("loom");
    run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .env("RUSTFLAGS", "--cfg loom")
            .env("LOOM_MAX_PREEMPTIONS", "2")
            .env("CARGO_TARGET_DIR", &target)
            .args(["test", "--release", "-p", "trace-runtime", "--test", "loom"]),
    )
}

fn ci(_: &[String]) -> Result<()> {
    // Each step prints its time, so that CI's budget can be watched.
    let step = |name: &str, run: &dyn Fn() -> Result<()>| -> Result<()> {
        let start = std::time::Instant::now();
        let result = run();
        eprintln!("ci: {name}: {:.0} s", start.elapsed().as_secs_f64());
        result
    };
    step("fmt", &|| cargo(&["fmt", "--all", "--check"]))?;
    step("clippy", &|| {
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
    })?;
    step("test", &|| test(&[]))?;
    step("golden", &|| golden::run(&["--check".to_string()]))?;
    step("layering", &|| layering(&[]))?;
    step("tidy", &|| tidy::run(&[]))?;
    step("loom", &|| loom(&[]))?;
    step("deny", &|| deny(&[]))?;
    // The benches are type-checked by clippy (`--all-targets`); building
    // and timing them is for `cargo bench` and `cargo xtask bench`.
    Ok(())
}

/// Which workspace crates each crate may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("trace-wire", &[]),
    // Test helpers (a dev-dependency only): no workspace crate.
    ("trace-testkit", &[]),
    ("trace-reader", &["trace-wire"]),
    ("trace-runtime", &["trace-wire"]),
    ("trace-flight", &["trace-wire", "trace-runtime"]),
    ("trace-annotate", &["trace-wire", "trace-runtime"]),
    ("trace-analysis", &["trace-wire", "trace-reader"]),
    (
        "trace-view",
        &["trace-wire", "trace-reader", "trace-analysis"],
    ),
    ("trace-rewrite", &["trace-wire", "trace-reader"]),
    ("trace-parquet", &["trace-wire", "trace-reader"]),
    (
        "trace-tool",
        &[
            "trace-wire",
            "trace-reader",
            "trace-analysis",
            "trace-view",
            "trace-rewrite",
            "trace-parquet",
        ],
    ),
];

/// External crates that only `trace-annotate` may pull in.
const ANNOTATE_ONLY: &[&str] = &[
    "tracing-core",
    "tracing-subscriber",
    "tracing-opentelemetry",
    "opentelemetry",
];

fn layering(_: &[String]) -> Result<()> {
    let mut problems = Vec::new();
    for (krate, allowed) in ALLOWED {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root())
            .args([
                "tree", "-e", "normal", "--prefix", "none", "--format", "{p}", "-p", krate,
            ])
            .output()
            .context("running cargo tree")?;
        if !out.status.success() {
            bail!(
                "cargo tree -p {krate} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let tree = String::from_utf8_lossy(&out.stdout);
        for line in tree.lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            if name == *krate {
                continue;
            }
            let internal = ALLOWED.iter().any(|(n, _)| *n == name);
            if internal && !allowed.contains(&name) {
                problems.push(format!("{krate} depends on {name}"));
            }
            if ANNOTATE_ONLY.contains(&name) && *krate != "trace-annotate" {
                problems.push(format!(
                    "{krate} depends on {name}, which only trace-annotate may use"
                ));
            }
        }
    }
    problems.sort();
    problems.dedup();
    if !problems.is_empty() {
        bail!(
            "layering violations (see docs/architecture.md):\n  {}",
            problems.join("\n  ")
        );
    }
    eprintln!("layering: ok");
    Ok(())
}

fn deny(_: &[String]) -> Result<()> {
    let found = Command::new("cargo")
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("deny: skipped, cargo-deny is not installed (`cargo install cargo-deny`)");
        return Ok(());
    }
    // Advisories need the RustSec database from the network; check the rest.
    cargo(&["deny", "check", "bans", "licenses", "sources"])
}
