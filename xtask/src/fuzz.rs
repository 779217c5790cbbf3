//! `cargo xtask fuzz <target> [--seconds N]`: libFuzzer on the stable toolchain.
//!
//! The targets live in `fuzz/` (outside the workspace) and are one call each
//! into a library's `fuzzing` module. libFuzzer's coverage instrumentation is
//! enabled with stable `-C` flags (what cargo-fuzz passes, minus the
//! sanitizer, which would need nightly; our crates forbid unsafe code, so
//! the sanitizer would add little). The corpus is seeded from `testdata/` and
//! the shared corpus, and kept in `target/fuzz-corpus/<target>`.

use std::fs;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{root, shared_corpus, shared_current_corpus};

const TARGETS: &[&str] = &["wire", "text", "reader", "rewrite", "writer", "view"];

const RUSTFLAGS: &str = "-Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares \
    --cfg fuzzing -Cdebug-assertions -Coverflow-checks";

pub(crate) fn run(args: &[String]) -> Result<()> {
    let (target, rest) = match args {
        [t, rest @ ..] if TARGETS.contains(&t.as_str()) => (t.as_str(), rest),
        _ => bail!(
            "usage: cargo xtask fuzz <{}> [--seconds N] [-- libfuzzer args]",
            TARGETS.join("|")
        ),
    };
    let mut seconds = 60u64;
    let mut extra = Vec::new();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().context("--seconds needs a value")?.parse()?,
            "--" => extra.extend(it.by_ref().cloned()),
            other => bail!("unknown argument {other}"),
        }
    }
    let root = root();
    let fuzz_dir = root.join("fuzz");
    let target_dir = root.join("target/fuzz");
    crate::run(
        Command::new("cargo")
            .args(["build", "--release", "--manifest-path"])
            .arg(fuzz_dir.join("Cargo.toml"))
            .args([
                "--bin",
                target,
                "--target",
                "x86_64-unknown-linux-gnu",
                "--target-dir",
            ])
            .arg(&target_dir)
            .env("RUSTFLAGS", RUSTFLAGS),
    )?;

    // Seed the corpus.
    let corpus = root.join("target/fuzz-corpus").join(target);
    fs::create_dir_all(&corpus)?;
    let mut seeds = vec![root.join("testdata")];
    seeds.extend(shared_corpus());
    seeds.extend(shared_current_corpus());
    let mut n_seeds = 0;
    for dir in seeds {
        for path in walk(&dir) {
            let keep = match target {
                "text" => path.extension().is_some_and(|e| e == "test"),
                _ => {
                    path.extension().is_some_and(|e| e == "trace")
                        && fs::metadata(&path).is_ok_and(|m| m.len() < 256 << 10)
                }
            };
            if keep {
                let name = path.file_name().expect("a file").to_owned();
                fs::copy(&path, corpus.join(name))?;
                n_seeds += 1;
            }
        }
    }
    eprintln!("fuzz {target}: {n_seeds} seeds, {seconds} s");
    let artifacts = root.join("target/fuzz-artifacts").join(target);
    fs::create_dir_all(&artifacts)?;
    let bin = target_dir
        .join("x86_64-unknown-linux-gnu/release")
        .join(target);
    crate::run(
        Command::new(bin)
            .arg(&corpus)
            .arg(format!("-max_total_time={seconds}"))
            .arg("-rss_limit_mb=2048")
            .arg("-max_len=262144")
            .arg("-print_final_stats=1")
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .args(extra),
    )
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut res = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                res.push(path);
            }
        }
    }
    res
}
