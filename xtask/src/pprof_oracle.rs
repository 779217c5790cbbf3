//! `cargo xtask oracle-pprof [--check]`: our blocking profiles against Go's.
//!
//! For every trace and every kind (`sync`, `net`, `syscall`, `sched`), Go
//! 1.27 writes `go tool trace -pprof=KIND TRACE` and we write
//! `trace-tool pprof --kind KIND TRACE`; both are decoded by
//! `go tool pprof -raw` (which also proves that Go reads our protobuf) and
//! reduced to canonical text: one block per sample, sorted, each a line
//! `COUNT DELAY_NS` and one line `\t0xPC FUNCTION FILE:LINE` per frame, leaf
//! first. That is the form of `Profile::canonical_text` in `trace-analysis`.
//! Where Go fails on a trace, we must fail too.
//!
//! * Golden files: Go's profiles of the curated traces (`testdata/traces`
//!   and `testdata/current/traces`) are written to
//!   `testdata/pprof/NAME.KIND.txt`, which the tests compare against
//!   without Go. With `--check` they are verified instead.
//! * Corpora: every trace of `../shared/go-traces` and of
//!   `../shared/go-traces-current` is compared, and the number of matching
//!   profiles is reported per kind and corpus; any mismatch fails.
//! * Broken traces: each curated trace cut at a third and at two thirds of
//!   its bytes must give what Go gives (the profile of the events up to the
//!   last sync before the break, or an error).
//!
//! Go 1.27 is found as `$GO127`, else `/usr/lib/go-1.27/bin/go`; without it
//! the task is skipped. Since Go 1.24 `go tool trace` orders events of
//! different threads deterministically (the order our reader follows), so
//! stock Go is the reference.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::trace_files as traces;
use crate::{cargo, go127, root};

const KINDS: [&str; 4] = ["sync", "net", "syscall", "sched"];

/// The corpora beside the workspace, and the curated copy of each below
/// `testdata/`.
const CORPORA: [(&str, &str); 2] = [
    ("../shared/go-traces", "traces"),
    ("../shared/go-traces-current", "current/traces"),
];

pub(crate) fn run(args: &[String]) -> Result<()> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => bail!("usage: cargo xtask oracle-pprof [--check]"),
    };
    let Some(go) = go127() else {
        eprintln!("oracle-pprof: skipped, Go 1.27 not found (set GO127, or install /usr/lib/go-1.27/bin/go)");
        return Ok(());
    };
    let version = Command::new(&go)
        .arg("version")
        .env("GOTOOLCHAIN", "local")
        .output()
        .with_context(|| format!("running {} version", go.display()))?;
    let version = String::from_utf8_lossy(&version.stdout);
    if !version.contains("go1.27") {
        bail!("{} is not Go 1.27: {}", go.display(), version.trim());
    }
    let work = target_dir().join("oracle-pprof");
    fs::create_dir_all(&work)?;
    cargo(&["build", "--release", "-p", "trace-tool"])?;
    let tools = Tools {
        go,
        ours: target_dir().join("release/trace-tool"),
        work,
    };

    let testdata = root().join("testdata");
    let curated: Vec<PathBuf> = CORPORA
        .iter()
        .map(|(_, dir)| traces(&testdata.join(dir)))
        .collect::<Result<Vec<_>>>()?
        .concat();
    let mut result = golden_files(&tools, &curated, check);
    result = result.and(compare_truncated(&tools, &curated));
    for (corpus, _) in CORPORA {
        let dir = root().join(corpus);
        if !dir.is_dir() {
            eprintln!("oracle-pprof: the corpus {corpus} is absent; skipped");
            continue;
        }
        result = result.and(compare_corpus(&tools, &dir.join("traces")));
    }
    result
}

struct Tools {
    go: PathBuf,
    ours: PathBuf,
    work: PathBuf,
}

impl Tools {
    /// Go's profile of `trace`, or `None` if Go fails on the trace.
    fn go(&self, trace: &Path, kind: &str) -> Result<Option<String>> {
        let out = Command::new(&self.go)
            .args(["tool", "trace", &format!("-pprof={kind}")])
            .arg(trace)
            .env("GOTOOLCHAIN", "local")
            .stderr(Stdio::null())
            .output()
            .context("running go tool trace")?;
        if !out.status.success() {
            return Ok(None);
        }
        let file = self.work.join("go.pb.gz");
        fs::write(&file, &out.stdout)?;
        self.canonical(&file).map(Some)
    }

    /// Our profile, or `None` if `trace-tool` fails on the trace.
    fn ours(&self, trace: &Path, kind: &str) -> Result<Option<String>> {
        let out = self.work.join("ours.pb.gz");
        let status = Command::new(&self.ours)
            .args(["pprof", "--kind", kind])
            .arg(trace)
            .arg("-o")
            .arg(&out)
            .stderr(Stdio::null())
            .status()
            .context("running trace-tool")?;
        if !status.success() {
            return Ok(None);
        }
        self.canonical(&out).map(Some)
    }

    /// `go tool pprof -raw FILE`, canonicalized.
    fn canonical(&self, profile: &Path) -> Result<String> {
        let out = Command::new(&self.go)
            .args(["tool", "pprof", "-raw"])
            .arg(profile)
            .env("GOTOOLCHAIN", "local")
            .output()
            .context("running go tool pprof")?;
        if !out.status.success() {
            bail!(
                "go tool pprof -raw {} failed: {}",
                profile.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        canonical_from_raw(&String::from_utf8_lossy(&out.stdout))
    }
}

/// How a profile compared: `None` if equal, else what differs.
fn compare(go: &Option<String>, ours: &Option<String>) -> Option<String> {
    let what = |p: &Option<String>| if p.is_some() { "a profile" } else { "an error" };
    match (go, ours) {
        (Some(a), Some(b)) if a == b => None,
        (None, None) => None,
        (Some(_), Some(_)) => Some("different profiles".into()),
        _ => Some(format!("Go gives {}, we give {}", what(go), what(ours))),
    }
}

/// Reduces `go tool pprof -raw` output to the canonical text.
fn canonical_from_raw(raw: &str) -> Result<String> {
    let mut lines = raw.lines();
    lines
        .by_ref()
        .find(|l| *l == "Samples:")
        .context("no Samples: section")?;
    lines.next().context("no sample types")?;
    let mut samples = Vec::new();
    for line in lines.by_ref() {
        if line == "Locations" {
            break;
        }
        let (values, locs) = line
            .split_once(':')
            .with_context(|| format!("bad sample line {line:?}"))?;
        let values: Vec<&str> = values.split_whitespace().collect();
        let locs: Vec<&str> = locs.split_whitespace().collect();
        samples.push((values.join(" "), locs));
    }
    let mut locations = BTreeMap::new();
    for line in lines.by_ref() {
        if line == "Mappings" {
            break;
        }
        // `%6d: %#x [M=%d ]NAME FILE:LINE:COLUMN s=START`, one line per
        // location (Go's trace profiles have one source line per location).
        let (id, rest) = line
            .trim_start()
            .split_once(": ")
            .with_context(|| format!("bad location line {line:?}"))?;
        let (addr, rest) = rest
            .split_once(' ')
            .with_context(|| format!("bad location line {line:?}"))?;
        let rest = match rest.strip_prefix("M=") {
            Some(r) => r.split_once(' ').map_or("", |(_, r)| r),
            None => rest,
        };
        let (rest, _start) = rest
            .rsplit_once(" s=")
            .with_context(|| format!("bad location line {line:?}"))?;
        let (rest, _column) = rest
            .rsplit_once(':')
            .with_context(|| format!("bad location line {line:?}"))?;
        locations.insert(id.to_string(), format!("{addr} {rest}"));
    }
    let mut blocks = Vec::with_capacity(samples.len());
    for (values, locs) in samples {
        let mut block = format!("{values}\n");
        for id in locs {
            let loc = locations
                .get(id)
                .with_context(|| format!("unknown location {id}"))?;
            block.push('\t');
            block.push_str(loc);
            block.push('\n');
        }
        blocks.push(block);
    }
    blocks.sort();
    Ok(blocks.concat())
}

/// Writes (or with `check`, verifies) `testdata/pprof/NAME.KIND.txt` for
/// every curated trace.
fn golden_files(tools: &Tools, curated: &[PathBuf], check: bool) -> Result<()> {
    let dir = root().join("testdata/pprof");
    fs::create_dir_all(&dir)?;
    let mut wanted = BTreeMap::new();
    for trace in curated {
        let name = stem(trace);
        for kind in KINDS {
            let profile = tools.go(trace, kind)?.with_context(|| {
                format!("go tool trace -pprof={kind} {} failed", trace.display())
            })?;
            wanted.insert(format!("{name}.{kind}.txt"), profile);
        }
    }
    let mut stale = Vec::new();
    for (file, text) in &wanted {
        let path = dir.join(file);
        if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(file.clone());
            if !check {
                fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    let mut extra = Vec::new();
    for entry in fs::read_dir(&dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".txt") && !wanted.contains_key(&name) {
            if !check {
                fs::remove_file(dir.join(&name))?;
            }
            extra.push(name);
        }
    }
    if check && (!stale.is_empty() || !extra.is_empty()) {
        bail!(
            "testdata/pprof is stale; run `cargo xtask oracle-pprof`.\nmissing or different: {stale:?}\nnot from a curated trace: {extra:?}"
        );
    }
    let verb = if check { "up to date" } else { "written" };
    eprintln!(
        "oracle-pprof: {} golden profiles {verb} ({} changed, {} removed)",
        wanted.len(),
        if check { 0 } else { stale.len() },
        if check { 0 } else { extra.len() }
    );
    Ok(())
}

/// Compares our profiles with Go's on every trace in `dir`.
fn compare_corpus(tools: &Tools, dir: &Path) -> Result<()> {
    let traces = traces(dir)?;
    // Per kind: identical profiles, how many of them have samples, and
    // traces both fail on.
    let mut matched = BTreeMap::<&str, [usize; 3]>::new();
    let mut failures = Vec::new();
    for trace in &traces {
        for kind in KINDS {
            let go = tools.go(trace, kind)?;
            let ours = tools.ours(trace, kind)?;
            match compare(&go, &ours) {
                None => {
                    let m = matched.entry(kind).or_default();
                    m[0] += 1;
                    match &go {
                        Some(p) if !p.is_empty() => m[1] += 1,
                        Some(_) => {}
                        None => m[2] += 1,
                    }
                }
                Some(diff) => failures.push(format!("{} {kind}: {diff}", stem(trace))),
            }
        }
    }
    eprintln!("oracle-pprof: {} traces of {}", traces.len(), dir.display());
    for kind in KINDS {
        let [same, samples, errors] = matched.get(kind).copied().unwrap_or_default();
        eprintln!(
            "  {kind:<8} {same}/{} identical to go tool trace -pprof={kind} (Go 1.27): {samples} with samples, {} empty, {errors} errors on both sides",
            traces.len(),
            same - samples - errors
        );
    }
    if !failures.is_empty() {
        bail!("profiles differ from Go's:\n  {}", failures.join("\n  "));
    }
    Ok(())
}

/// Compares our profiles with Go's on broken traces: each curated trace cut
/// at a third and at two thirds of its bytes.
fn compare_truncated(tools: &Tools, curated: &[PathBuf]) -> Result<()> {
    let mut cases = 0;
    let mut errors = 0;
    let mut failures = Vec::new();
    let cut = tools.work.join("truncated.trace");
    for trace in curated {
        let bytes = fs::read(trace)?;
        for (num, den) in [(1, 3), (2, 3)] {
            fs::write(&cut, &bytes[..bytes.len() * num / den])?;
            for kind in KINDS {
                cases += 1;
                let go = tools.go(&cut, kind)?;
                let ours = tools.ours(&cut, kind)?;
                errors += usize::from(go.is_none() && ours.is_none());
                if let Some(diff) = compare(&go, &ours) {
                    failures.push(format!(
                        "{} cut at {num}/{den}, {kind}: {diff}",
                        stem(trace)
                    ));
                }
            }
        }
    }
    eprintln!(
        "oracle-pprof: {}/{cases} profiles of truncated curated traces identical to Go's ({errors} errors on both sides)",
        cases - failures.len()
    );
    if !failures.is_empty() {
        bail!(
            "profiles of truncated traces differ from Go's:\n  {}",
            failures.join("\n  ")
        );
    }
    Ok(())
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::canonical_from_raw;

    #[test]
    fn canonicalizes_raw_output() {
        let raw = "PeriodType: trace count\nPeriod: 1\nSamples:\ncontentions/count delay/nanoseconds\n          1     860288: 1 2 \n          2       6208: 2 \nLocations\n     1: 0x4759c7 M=1 sync.(*WaitGroup).Wait /usr/lib/go-1.23/src/sync/waitgroup.go:118:0 s=0\n     2: 0x4afff1 M=1 main.main /tmp/a b/misc.go:84:0 s=0\nMappings\n1: 0x0/0x0/0x0   \n";
        assert_eq!(
            canonical_from_raw(raw).unwrap(),
            "1 860288\n\t0x4759c7 sync.(*WaitGroup).Wait /usr/lib/go-1.23/src/sync/waitgroup.go:118\n\t0x4afff1 main.main /tmp/a b/misc.go:84\n2 6208\n\t0x4afff1 main.main /tmp/a b/misc.go:84\n"
        );
        assert_eq!(
            canonical_from_raw("Samples:\nx/y\nLocations\nMappings\n").unwrap(),
            ""
        );
    }
}
