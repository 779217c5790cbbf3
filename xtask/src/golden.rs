//! `cargo xtask golden [--check]`: the curated fixtures under `testdata/`.
//!
//! `testdata/` mirrors the layout of the shared conformance corpus of Go 1.22
//! and 1.23 traces (`../shared/go-traces`): `traces/`, `expected/`, `tests/`,
//! `fuzz/`, and a `MANIFEST.tsv` holding the rows of the curated traces;
//! `testdata/current/` mirrors the corpus of Go 1.25–1.27 traces
//! (`../shared/go-traces-current`) the same way. Which traces are copied is
//! listed in each mirror's `curated.txt`; every expected output the corpus
//! has for them is copied, and Go's synthetic tests and fuzz seeds whole.
//!
//! One more output per curated trace is made here rather than copied, since
//! the corpora do not have it: `expected/NAME.footprint.txt`, the stdout of
//! Go 1.27's `go tool trace -d=footprint` (with `NAME.footprint.err.txt`,
//! its stderr, where it exits 1); see [`footprint`]. `--check` checks that
//! it agrees with the trace's `.wire` output.
//!
//! `testdata/go127/` holds what Go 1.27's `go tool trace -d=parsed` prints
//! for Go's synthetic tests and fuzz seeds (the corpus has only Go 1.23's
//! outputs for them): `NAME.parsed.txt`, and `NAME.parsed.err.txt` where Go
//! exited 1 with that on standard error. They are made by running Go 1.27
//! when it is installed (`GO127`, or `/usr/lib/go-1.27/bin/go`).
//!
//! Tests read these files and never write them. Without `--check` the task
//! copies the fixtures from the corpora; with it, it fails if any fixture is
//! missing, differs from its source, or is not from a corpus at all.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{go127, root};

mod footprint;

/// A corpus and its curated copy.
struct Mirror {
    /// The corpus, relative to the workspace.
    corpus: &'static str,
    /// The copy, relative to `testdata/`.
    dest: &'static str,
    /// Whether Go's synthetic tests and fuzz seeds are copied whole.
    tests_and_fuzz: bool,
}

const MIRRORS: &[Mirror] = &[
    Mirror {
        corpus: "../shared/go-traces",
        dest: "",
        tests_and_fuzz: true,
    },
    Mirror {
        corpus: "../shared/go-traces-current",
        dest: "current",
        tests_and_fuzz: false,
    },
];

/// The folders of a mirror that hold copies.
const MIRRORED: &[&str] = &["traces", "expected", "tests", "fuzz"];

/// Go 1.27's outputs for the synthetic tests and fuzz seeds, below
/// `testdata/`.
const GO127_DIR: &str = "go127";

pub(crate) fn run(args: &[String]) -> Result<()> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => bail!("usage: cargo xtask golden [--check]"),
    };
    let testdata = root().join("testdata");
    for mirror in MIRRORS {
        let corpus = root().join(mirror.corpus);
        if !corpus.is_dir() {
            eprintln!(
                "golden: skipped {}, the corpus is not beside the workspace",
                mirror.corpus
            );
            continue;
        }
        let dest = testdata.join(mirror.dest);
        let mut wanted = wanted_files(&corpus, &dest, mirror.tests_and_fuzz)?;
        // The footprints are ours to make: Go's output when Go 1.27 is
        // here, else (and always with `--check`) the files as they are.
        let names = curated_names(&dest)?;
        let go = if check { None } else { go127() };
        wanted.extend(footprint::wanted(go.as_deref(), &corpus, &dest, &names)?);
        let inconsistent = footprint::check_consistency(&wanted, &names);
        if !inconsistent.is_empty() {
            bail!(
                "footprint files disagree with the `.wire` outputs:\n  {}",
                inconsistent.join("\n  ")
            );
        }
        sync_dir(&dest, &wanted, MIRRORED, check, mirror.corpus)?;
    }
    go127_outputs(&testdata, check)
}

/// Makes `dest`'s folders `dirs` hold exactly `wanted` (or, with `check`,
/// fails unless they do).
fn sync_dir(
    dest: &Path,
    wanted: &BTreeMap<PathBuf, Vec<u8>>,
    dirs: &[&str],
    check: bool,
    what: &str,
) -> Result<()> {
    let mut stale = Vec::new();
    for (rel, contents) in wanted {
        let path = dest.join(rel);
        if fs::read(&path).ok().as_deref() != Some(contents.as_slice()) {
            stale.push(rel.clone());
            if !check {
                fs::create_dir_all(path.parent().expect("a file has a parent"))?;
                fs::write(&path, contents)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    let mut extra = Vec::new();
    for dir in dirs {
        for path in walk(&dest.join(dir))? {
            let rel = path
                .strip_prefix(dest)
                .expect("walked below the destination")
                .to_path_buf();
            if !wanted.contains_key(&rel) {
                if !check {
                    fs::remove_file(&path)?;
                }
                extra.push(rel);
            }
        }
    }

    let total: usize = wanted.values().map(Vec::len).sum();
    if check {
        if !stale.is_empty() || !extra.is_empty() {
            let list = |v: &[PathBuf]| {
                v.iter()
                    .map(|p| format!("\n  {}", p.display()))
                    .collect::<String>()
            };
            bail!(
                "{} is stale; run `cargo xtask golden`.\nmissing or different:{}\nnot from {what}:{}",
                dest.display(),
                list(&stale),
                list(&extra)
            );
        }
        eprintln!(
            "golden: {what}: {} fixtures ({:.1} MB) up to date",
            wanted.len(),
            total as f64 / 1e6
        );
    } else {
        eprintln!(
            "golden: {what}: {} fixtures ({:.1} MB): {} written, {} removed",
            wanted.len(),
            total as f64 / 1e6,
            stale.len(),
            extra.len()
        );
    }
    Ok(())
}

/// The names of a mirror's curated traces, from its `curated.txt`.
fn curated_names(dest: &Path) -> Result<Vec<String>> {
    let curated_path = dest.join("curated.txt");
    let curated = fs::read_to_string(&curated_path)
        .with_context(|| format!("reading {}", curated_path.display()))?;
    Ok(curated
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Every fixture of a mirror copied from its corpus, by path relative to its
/// destination, with its contents.
fn wanted_files(
    corpus: &Path,
    dest: &Path,
    tests_and_fuzz: bool,
) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let names = curated_names(dest)?;

    let mut res = BTreeMap::new();
    let mut add = |rel: PathBuf| -> Result<()> {
        let contents = fs::read(corpus.join(&rel))
            .with_context(|| format!("reading corpus file {}", rel.display()))?;
        res.insert(rel, contents);
        Ok(())
    };
    let expected = walk(&corpus.join("expected"))?;
    for name in &names {
        add(PathBuf::from(format!("traces/{name}.trace")))?;
        // Every output the corpus has for the trace.
        let prefix = format!("{name}.");
        for path in &expected {
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            if file.starts_with(&prefix) {
                add(PathBuf::from("expected").join(&*file))?;
            }
        }
    }
    if tests_and_fuzz {
        for dir in ["tests", "fuzz"] {
            for path in walk(&corpus.join(dir))? {
                add(path
                    .strip_prefix(corpus)
                    .expect("walked below the corpus")
                    .to_path_buf())?;
            }
        }
    }

    // The manifest rows of the curated traces.
    let manifest = fs::read_to_string(corpus.join("MANIFEST.tsv"))?;
    let mut rows = String::new();
    for (i, line) in manifest.lines().enumerate() {
        let name = line.split('\t').next().unwrap_or("");
        if i == 0 || names.iter().any(|n| n == name) {
            rows.push_str(line);
            rows.push('\n');
        }
    }
    let missing: Vec<_> = names
        .iter()
        .filter(|n| {
            !manifest
                .lines()
                .any(|l| l.split('\t').next() == Some(n.as_str()))
        })
        .collect();
    if !missing.is_empty() {
        bail!("curated.txt names traces the corpus does not have: {missing:?}");
    }
    res.insert(PathBuf::from("MANIFEST.tsv"), rows.into_bytes());
    Ok(res)
}

/// Go 1.27's `-d=parsed` outputs for the synthetic tests and fuzz seeds in
/// `testdata/{tests,fuzz}/derived`: made with Go 1.27 when it is installed;
/// with `check`, only their presence is checked (Go is not needed).
fn go127_outputs(testdata: &Path, check: bool) -> Result<()> {
    let go = go127();
    let mut wanted = BTreeMap::new();
    for dir in ["tests", "fuzz"] {
        for trace in walk(&testdata.join(dir).join("derived"))? {
            if trace.extension().is_none_or(|e| e != "trace") {
                continue;
            }
            let stem = trace.file_stem().unwrap_or_default().to_string_lossy();
            let out = PathBuf::from(dir).join(format!("{stem}.parsed.txt"));
            let err = PathBuf::from(dir).join(format!("{stem}.parsed.err.txt"));
            let existing = testdata.join(GO127_DIR);
            match (&go, check) {
                (Some(go), false) => {
                    let run = Command::new(go)
                        .args(["tool", "trace", "-d=parsed"])
                        .arg(&trace)
                        .env("GOTOOLCHAIN", "local")
                        .env("TZ", "UTC")
                        .output()
                        .with_context(|| format!("running {}", go.display()))?;
                    wanted.insert(out, run.stdout);
                    if !run.stderr.is_empty() || !run.status.success() {
                        wanted.insert(err, run.stderr);
                    }
                }
                _ => {
                    // Keep what is there; its absence is staleness.
                    let Ok(stdout) = fs::read(existing.join(&out)) else {
                        wanted.insert(
                            out,
                            b"(missing: run `cargo xtask golden` with Go 1.27)".to_vec(),
                        );
                        continue;
                    };
                    wanted.insert(out, stdout);
                    if let Ok(stderr) = fs::read(existing.join(&err)) {
                        wanted.insert(err, stderr);
                    }
                }
            }
        }
    }
    if go.is_none() && !check {
        eprintln!("golden: Go 1.27 not found (GO127 or /usr/lib/go-1.27/bin/go): kept testdata/{GO127_DIR} as it is");
    }
    sync_dir(
        &testdata.join(GO127_DIR),
        &wanted,
        &["tests", "fuzz"],
        check,
        "Go 1.27",
    )
}

/// All files below `dir`, sorted; empty if `dir` does not exist.
fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut res = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                res.push(path);
            }
        }
    }
    res.sort();
    Ok(res)
}
