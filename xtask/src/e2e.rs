//! `cargo xtask e2e`: the end-to-end test of `trace-tool view` in headless
//! Chromium (Debian's `chromium`, driven by playwright-core).
//!
//! Installs what is missing (the `chromium` package with apt-get when run as
//! root; the page's npm dependencies with `npm ci`), checks that the
//! committed page assets match their TypeScript sources, builds `trace-tool`
//! and records a trace with our runtime (`trace-annotate`'s demo), then runs
//! `crates/trace-view/web/e2e/e2e.mjs` on:
//!
//! * a Go trace with a task, regions and a log (served, and as `--html`);
//! * a Go trace with CPU samples (flame graphs of them; served, and as
//!   `--html`);
//! * the trace recorded by our runtime (with CPU samples; its threads never
//!   block);
//! * the large Go trace of `../shared/go-traces`, if present, which must
//!   open in under 5 s.
//!
//! Screenshots and `results.json` land in `<target>/e2e/`. Not part of
//! `cargo test` or `cargo xtask ci`: it needs Node.js, a browser and a few
//! minutes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{cargo, root, run, shared_corpus};

/// Runs `cmd` in `dir`, failing on a non-zero exit.
fn run_in(dir: &Path, cmd: &mut Command) -> Result<()> {
    run(cmd.current_dir(dir))
}

const CHROMIUM: &str = "/usr/bin/chromium";

pub(crate) fn run_e2e(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask e2e");
    }
    let start = Instant::now();
    let web = root().join("crates/trace-view/web");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let out = target.join("e2e");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    for tool in ["node", "npm"] {
        if !works(Command::new(tool).arg("--version")) {
            bail!("`{tool}` is needed (Node.js 18 or later)");
        }
    }
    if !Path::new(CHROMIUM).exists() {
        if !is_root() {
            bail!("{CHROMIUM} is missing: install Debian's `chromium` package (apt-get install chromium)");
        }
        run(Command::new("apt-get").arg("update"))?;
        run(Command::new("apt-get").args([
            "install",
            "-y",
            "--no-install-recommends",
            "chromium",
        ]))?;
    }
    if !web.join("node_modules/playwright-core").is_dir()
        || !web.join("node_modules/esbuild").is_dir()
    {
        // Never `playwright install`: the browser is Debian's.
        run_in(
            &web,
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"),
        )?;
    }
    let setup = start.elapsed();

    run_in(&web, Command::new("node").args(["build.mjs", "--check"]))?;
    cargo(&["build", "--release", "-p", "trace-tool"])?;
    let runtime_trace = out.join("runtime-demo.trace");
    cargo(&[
        "run",
        "--release",
        "-p",
        "trace-annotate",
        "--example",
        "demo",
        "--",
        path_str(&runtime_trace)?,
    ])
    .context("recording a trace with our runtime (trace-annotate's demo)")?;
    let built = start.elapsed();

    let traces = root().join("testdata/traces");
    let annotations = traces.join("go123-testprog-annotations.trace");
    let nested = traces.join("go123-nestedtasks.trace");
    let cpu = traces.join("go123-testprog-cpu-profile.trace");
    // A trace that breaks off two thirds in, as when its process is killed.
    let cut = out.join("go-cut.trace");
    let whole = std::fs::read(traces.join("go123-testprog-gomaxprocs-advance0.trace"))?;
    std::fs::write(&cut, &whole[..whole.len() * 2 / 3])?;
    let tool = target.join("release/trace-tool");
    let mut cmd = Command::new("node");
    cmd.arg("e2e/e2e.mjs")
        .args([
            "--tool",
            path_str(&tool)?,
            "--out",
            path_str(&out)?,
            "--chromium",
            CHROMIUM,
        ])
        .args([
            "--fixture",
            &format!("go-annotations={}", path_str(&annotations)?),
        ])
        .args([
            "--fixture",
            &format!("go-nestedtasks={}", path_str(&nested)?),
        ])
        .args([
            "--fixture",
            &format!("go-cpu={}:plain:cpu", path_str(&cpu)?),
        ])
        .args([
            "--fixture",
            &format!("runtime-demo={}:cpu:noblock", path_str(&runtime_trace)?),
        ])
        .args([
            "--fixture",
            &format!("go-cut={}:plain:noblock:cut", path_str(&cut)?),
        ])
        .args(["--html", &format!("go-nestedtasks={}", path_str(&nested)?)])
        .args(["--html", &format!("go-cpu={}:plain:cpu", path_str(&cpu)?)]);
    match shared_corpus().map(|c| c.join("traces/go123-large-mixedload.trace")) {
        Some(large) if large.is_file() => {
            cmd.args(["--fixture", &format!("go-large={}:large", path_str(&large)?)]);
        }
        _ => eprintln!("e2e: ../shared/go-traces/traces/go123-large-mixedload.trace is missing; not timing the large trace"),
    }
    run_in(&web, &mut cmd)?;
    let total = start.elapsed();
    eprintln!(
        "e2e: ok in {:.0} s (setup {:.0} s, builds {:.0} s, browser tests {:.0} s); screenshots in {}",
        total.as_secs_f64(),
        setup.as_secs_f64(),
        (built - setup).as_secs_f64(),
        (total - built).as_secs_f64(),
        out.display()
    );
    Ok(())
}

fn works(cmd: &mut Command) -> bool {
    cmd.output().is_ok_and(|o| o.status.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .with_context(|| format!("{} is not UTF-8", p.display()))
}
