//! `cargo xtask golden [--check]`: the curated fixtures under `testdata/`.
//!
//! `testdata/` mirrors the layout of the shared conformance corpus
//! (`../shared/go-traces`): `traces/`, `expected/`, `tests/`, `fuzz/`, and a
//! `MANIFEST.tsv` holding the rows of the curated traces. Which traces are
//! copied is listed in `testdata/curated.txt`; Go's synthetic tests and fuzz
//! seeds are copied whole. Tests read these files and never write them.
//!
//! Of each curated trace's expected outputs, those of Go 1.23 (`.d1`, `.d2`)
//! and of Go 1.27's raw reader (`.wire`, with `.wire.err.txt` where Go
//! failed) are copied. One more is made here rather than copied, since the
//! corpus does not have it: `expected/NAME.footprint.txt`, the stdout of Go
//! 1.27's `go tool trace -d=footprint` (with `NAME.footprint.err.txt`, its
//! stderr, where it exits 1). See [`footprint`].
//!
//! Without `--check` the task copies the fixtures from the corpus and
//! regenerates the footprints with Go 1.27 (kept as they are when Go 1.27
//! is not installed); with it, it fails if any fixture is missing, differs
//! from its source, or is not from the corpus at all, and if a footprint
//! is missing or disagrees with the trace's `.wire` output. `--check` never
//! runs Go.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::{root, shared_corpus};

mod footprint;

/// The folders of `testdata/` that mirror the corpus.
const MIRRORED: &[&str] = &["traces", "expected", "tests", "fuzz"];

pub(crate) fn run(args: &[String]) -> Result<()> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => bail!("usage: cargo xtask golden [--check]"),
    };
    let Some(corpus) = shared_corpus() else {
        eprintln!("golden: skipped, the corpus ../shared/go-traces is not beside the workspace");
        return Ok(());
    };
    let testdata = root().join("testdata");
    let mut wanted = wanted_files(&corpus, &testdata)?;
    let names = curated_names(&testdata)?;
    // The footprints are ours to make: Go's output when Go 1.27 is here,
    // else (and always with `--check`) the files as they are, checked.
    let go = if check { None } else { crate::go127() };
    if !check && go.is_none() {
        eprintln!("golden: Go 1.27 not found (set GO127); keeping the footprint files as they are");
    }
    let footprints = footprint::wanted(go.as_deref(), &corpus, &testdata, &names)?;
    wanted.extend(footprints.iter().map(|(k, v)| (k.clone(), v.clone())));

    let mut stale = Vec::new();
    for (rel, contents) in &wanted {
        let dest = testdata.join(rel);
        if fs::read(&dest).ok().as_deref() != Some(contents.as_slice()) {
            stale.push(rel.clone());
            if !check {
                fs::create_dir_all(dest.parent().expect("a file has a parent"))?;
                fs::write(&dest, contents)
                    .with_context(|| format!("writing {}", dest.display()))?;
            }
        }
    }
    let mut extra = Vec::new();
    for dir in MIRRORED {
        for path in walk(&testdata.join(dir))? {
            let rel = path
                .strip_prefix(&testdata)
                .expect("walked below testdata")
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
    // The footprints must agree with the `.wire` outputs copied from the
    // corpus: same events per type, same error.
    let inconsistent = footprint::check_consistency(&wanted, &names);
    if !inconsistent.is_empty() {
        bail!(
            "footprint files disagree with the `.wire` outputs:\n  {}",
            inconsistent.join("\n  ")
        );
    }
    if check {
        if !stale.is_empty() || !extra.is_empty() {
            let list = |v: &[PathBuf]| {
                v.iter()
                    .map(|p| format!("\n  {}", p.display()))
                    .collect::<String>()
            };
            bail!(
                "testdata/ is stale; run `cargo xtask golden`.\nmissing or different:{}\nnot from the corpus:{}",
                list(&stale),
                list(&extra)
            );
        }
        eprintln!(
            "golden: {} fixtures ({:.1} MB) up to date",
            wanted.len(),
            total as f64 / 1e6
        );
    } else {
        eprintln!(
            "golden: {} fixtures ({:.1} MB): {} written, {} removed",
            wanted.len(),
            total as f64 / 1e6,
            stale.len(),
            extra.len()
        );
    }
    Ok(())
}

/// The names of the curated traces, from `testdata/curated.txt`.
fn curated_names(testdata: &Path) -> Result<Vec<String>> {
    let curated_path = testdata.join("curated.txt");
    let curated = fs::read_to_string(&curated_path)
        .with_context(|| format!("reading {}", curated_path.display()))?;
    Ok(curated
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Every fixture copied from the corpus, by path relative to `testdata/`,
/// with its contents.
fn wanted_files(corpus: &Path, testdata: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let names = curated_names(testdata)?;

    let mut res = BTreeMap::new();
    let mut add = |rel: PathBuf| -> Result<()> {
        let contents = fs::read(corpus.join(&rel))
            .with_context(|| format!("reading corpus file {}", rel.display()))?;
        res.insert(rel, contents);
        Ok(())
    };
    for name in &names {
        add(PathBuf::from(format!("traces/{name}.trace")))?;
        for suffix in ["d1.txt.gz", "d2.txt.gz", "wire.txt.gz"] {
            add(PathBuf::from(format!("expected/{name}.{suffix}")))?;
        }
        // The stderr of the runs that failed.
        for suffix in ["d1.err.txt", "wire.err.txt"] {
            let err = PathBuf::from(format!("expected/{name}.{suffix}"));
            if corpus.join(&err).exists() {
                add(err)?;
            }
        }
    }
    for dir in ["tests", "fuzz"] {
        for path in walk(&corpus.join(dir))? {
            add(path
                .strip_prefix(corpus)
                .expect("walked below the corpus")
                .to_path_buf())?;
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
