//! `cargo xtask oracle-pprof [--check]`: our blocking profiles against Go's.
//!
//! For every trace and every kind (`sync`, `net`, `syscall`, `sched`), Go
//! 1.23 writes `go tool trace -pprof=KIND TRACE` and we write
//! `trace-tool pprof --kind KIND TRACE`; both are decoded by
//! `go tool pprof -raw` (which also proves that Go reads our protobuf) and
//! reduced to canonical text: one block per sample, sorted, each a line
//! `COUNT DELAY_NS` and one line `\t0xPC FUNCTION FILE:LINE` per frame, leaf
//! first. That is the form of `Profile::canonical_text` in `trace-analysis`.
//!
//! * Golden files: Go's profiles of the curated traces (`testdata/traces`)
//!   are written to `testdata/pprof/NAME.KIND.txt`, which the tests compare
//!   against without Go. With `--check` they are verified instead.
//! * Corpus: every trace of `../shared/go-traces` is compared, and the
//!   number of matching profiles is reported per kind; any mismatch fails.
//! * Broken traces: each curated trace cut at a third and at two thirds of
//!   its bytes must give what Go gives (the profile of the generations
//!   before the break, or an error if there are none).
//!
//! Go's `go tool trace` is not deterministic: its reader orders events of
//! different threads with equal timestamps by Go's random map order, and the
//! scheduling profile of a busy trace can change from run to run. Like the
//! corpus' `-d=1` files, the reference is therefore Go 1.23's `cmd/trace`
//! rebuilt with `../shared/go-traces/tools/deterministic-frontier.patch`
//! (the order our reader follows). Stock `go tool trace` is compared as well
//! and reported; a profile that differs from stock Go's is retried a few
//! times to tell randomness from a real difference.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{cargo, root, shared_corpus};

const KINDS: [&str; 4] = ["sync", "net", "syscall", "sched"];

/// How many times stock Go is rerun on a mismatch.
const STOCK_RETRIES: usize = 4;

pub(crate) fn run(args: &[String]) -> Result<()> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => bail!("usage: cargo xtask oracle-pprof [--check]"),
    };
    let go = go_binary()?;
    let work = target_dir().join("oracle-pprof");
    fs::create_dir_all(&work)?;
    let det = deterministic_tool(&go, &work)?;
    cargo(&["build", "--release", "-p", "trace-tool"])?;
    let ours = target_dir().join("release/trace-tool");
    let tools = Tools {
        go,
        det,
        ours,
        work,
    };

    let golden = golden_files(&tools, check);
    let truncated = compare_truncated(&tools, &root().join("testdata/traces"));
    let golden = golden.and(truncated);

    let Some(corpus) = shared_corpus() else {
        eprintln!("oracle-pprof: the corpus ../shared/go-traces is absent; golden files only");
        return golden;
    };
    let compared = compare_corpus(&tools, &corpus.join("traces"));
    golden.and(compared)
}

struct Tools {
    go: PathBuf,
    /// `cmd/trace` with the deterministic-frontier patch, if it could be
    /// built.
    det: Option<PathBuf>,
    ours: PathBuf,
    work: PathBuf,
}

impl Tools {
    /// The reference profile of `trace`: Go's, deterministic if possible.
    fn reference(&self, trace: &Path, kind: &str) -> Result<String> {
        self.try_reference(trace, kind)?
            .with_context(|| format!("go tool trace -pprof={kind} {} failed", trace.display()))
    }

    /// Like `reference`, but `None` if Go fails on the trace.
    fn try_reference(&self, trace: &Path, kind: &str) -> Result<Option<String>> {
        match &self.det {
            Some(det) => {
                self.go_profile(Command::new(det).arg(format!("-pprof={kind}")).arg(trace))
            }
            None => self.try_stock(trace, kind),
        }
    }

    fn stock(&self, trace: &Path, kind: &str) -> Result<String> {
        self.try_stock(trace, kind)?
            .with_context(|| format!("go tool trace -pprof={kind} {} failed", trace.display()))
    }

    fn try_stock(&self, trace: &Path, kind: &str) -> Result<Option<String>> {
        self.go_profile(
            Command::new(&self.go)
                .args(["tool", "trace", &format!("-pprof={kind}")])
                .arg(trace),
        )
    }

    fn ours(&self, trace: &Path, kind: &str) -> Result<String> {
        self.try_ours(trace, kind)?
            .with_context(|| format!("trace-tool pprof --kind {kind} {} failed", trace.display()))
    }

    /// Our profile, or `None` if `trace-tool` fails on the trace.
    fn try_ours(&self, trace: &Path, kind: &str) -> Result<Option<String>> {
        let out = self.work.join("ours.pb.gz");
        let status = Command::new(&self.ours)
            .args(["pprof", "--kind", kind])
            .arg(trace)
            .arg("-o")
            .arg(&out)
            .stderr(std::process::Stdio::null())
            .status()
            .context("running trace-tool")?;
        if !status.success() {
            return Ok(None);
        }
        self.canonical(&out).map(Some)
    }

    /// Runs a Go command that prints a profile on stdout; its canonical
    /// text, or `None` if the command fails.
    fn go_profile(&self, cmd: &mut Command) -> Result<Option<String>> {
        let out = cmd.output().context("running go tool trace")?;
        if !out.status.success() {
            return Ok(None);
        }
        let file = self.work.join("go.pb.gz");
        fs::write(&file, &out.stdout)?;
        self.canonical(&file).map(Some)
    }

    /// `go tool pprof -raw FILE`, canonicalized.
    fn canonical(&self, profile: &Path) -> Result<String> {
        let out = Command::new(&self.go)
            .args(["tool", "pprof", "-raw"])
            .arg(profile)
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
fn golden_files(tools: &Tools, check: bool) -> Result<()> {
    let testdata = root().join("testdata");
    let dir = testdata.join("pprof");
    fs::create_dir_all(&dir)?;
    let mut wanted = BTreeMap::new();
    for trace in traces(&testdata.join("traces"))? {
        let name = stem(&trace);
        for kind in KINDS {
            wanted.insert(format!("{name}.{kind}.txt"), tools.reference(&trace, kind)?);
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
    let mut matched = BTreeMap::<&str, (usize, usize)>::new();
    let mut failures = Vec::new();
    for trace in &traces {
        let name = stem(trace);
        for kind in KINDS {
            let ours = tools.ours(trace, kind)?;
            let reference = tools.reference(trace, kind)?;
            let entry = matched.entry(kind).or_default();
            if ours == reference {
                entry.0 += 1;
            } else {
                failures.push(format!("{name} {kind}: differs from Go"));
            }
            if tools.det.is_some() {
                // Stock Go, possibly several times.
                let mut runs = 0;
                let same = loop {
                    runs += 1;
                    if tools.stock(trace, kind)? == ours {
                        break true;
                    }
                    if runs > STOCK_RETRIES {
                        break false;
                    }
                };
                if same {
                    entry.1 += 1;
                    if runs > 1 {
                        eprintln!("  {name} {kind}: stock Go matched on run {runs} (Go is nondeterministic here)");
                    }
                } else {
                    eprintln!("  {name} {kind}: stock Go differed on all {runs} runs");
                }
            }
        }
    }
    eprintln!("oracle-pprof: {} traces of {}", traces.len(), dir.display());
    for (kind, (det, stock)) in &matched {
        if tools.det.is_some() {
            eprintln!(
                "  {kind:<8} {det}/{n} identical to Go's (deterministic cmd/trace), {stock}/{n} to stock go tool trace",
                n = traces.len()
            );
        } else {
            eprintln!(
                "  {kind:<8} {det}/{n} identical to stock go tool trace",
                n = traces.len()
            );
        }
    }
    if !failures.is_empty() {
        bail!("profiles differ from Go's:\n  {}", failures.join("\n  "));
    }
    Ok(())
}

/// Compares our profiles with Go's on broken traces: each curated trace cut
/// at a third and at two thirds of its bytes. Go keeps the generations
/// before the break (and fails if there are none); so must we.
fn compare_truncated(tools: &Tools, dir: &Path) -> Result<()> {
    let mut cases = 0;
    let mut failures = Vec::new();
    let cut = tools.work.join("truncated.trace");
    for trace in traces(dir)? {
        let bytes = fs::read(&trace)?;
        for (num, den) in [(1, 3), (2, 3)] {
            fs::write(&cut, &bytes[..bytes.len() * num / den])?;
            for kind in KINDS {
                cases += 1;
                let ours = tools.try_ours(&cut, kind)?;
                let reference = tools.try_reference(&cut, kind)?;
                if ours != reference {
                    let what =
                        |p: &Option<String>| if p.is_some() { "a profile" } else { "an error" };
                    failures.push(format!(
                        "{} cut at {num}/{den}, {kind}: Go gives {}, we give {}{}",
                        stem(&trace),
                        what(&reference),
                        what(&ours),
                        if ours.is_some() && reference.is_some() {
                            " (different)"
                        } else {
                            ""
                        }
                    ));
                }
            }
        }
    }
    eprintln!(
        "oracle-pprof: {}/{cases} profiles of truncated curated traces identical to Go's",
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

/// The `.trace` files of `dir`, sorted.
fn traces(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    v.retain(|p| p.extension().is_some_and(|e| e == "trace"));
    v.sort();
    Ok(v)
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Go 1.23: `$GO`, else Debian's `/usr/lib/go-1.23/bin/go`, else `go` on the
/// path (`../shared/tools/install-go-oracle.sh` installs it).
fn go_binary() -> Result<PathBuf> {
    let candidates = [
        std::env::var_os("GO").map(PathBuf::from),
        Some(PathBuf::from("/usr/lib/go-1.23/bin/go")),
        Some(PathBuf::from("go")),
    ];
    for go in candidates.into_iter().flatten() {
        if let Ok(out) = Command::new(&go).arg("version").output() {
            let version = String::from_utf8_lossy(&out.stdout);
            if out.status.success() && version.contains("go1.23") {
                return Ok(go);
            }
        }
    }
    bail!("Go 1.23 not found (set GO, or run ../shared/tools/install-go-oracle.sh)")
}

/// Builds Go's `cmd/trace` with the corpus' deterministic-frontier patch
/// into `work`, once; `None` (stock Go is the reference then) if the patch
/// is not there.
fn deterministic_tool(go: &Path, work: &Path) -> Result<Option<PathBuf>> {
    let Some(patch) = shared_corpus().map(|c| c.join("tools/deterministic-frontier.patch")) else {
        return Ok(None);
    };
    if !patch.is_file() {
        return Ok(None);
    }
    let tool = work.join("trace-det");
    let stamp = work.join("trace-det.patch");
    let patch_text = fs::read(&patch)?;
    if tool.is_file() && fs::read(&stamp).ok().as_deref() == Some(patch_text.as_slice()) {
        return Ok(Some(tool));
    }
    let out = Command::new(go)
        .args(["env", "GOROOT"])
        .output()
        .context("go env GOROOT")?;
    let goroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let src = work.join("overlay");
    let _ = fs::remove_dir_all(&src);
    let files = ["generation.go", "reader.go"];
    fs::create_dir_all(src.join("src/internal/trace"))?;
    for f in files {
        fs::copy(
            goroot.join("src/internal/trace").join(f),
            src.join("src/internal/trace").join(f),
        )?;
    }
    let status = Command::new("patch")
        .args(["-s", "-p1", "-d"])
        .arg(&src)
        .arg("-i")
        .arg(&patch)
        .status()
        .context("running patch")?;
    if !status.success() {
        bail!("applying {} failed", patch.display());
    }
    let replace: Vec<String> = files
        .iter()
        .map(|f| {
            format!(
                "{:?}: {:?}",
                goroot.join("src/internal/trace").join(f),
                src.join("src/internal/trace").join(f)
            )
        })
        .collect();
    let overlay = work.join("overlay.json");
    fs::write(
        &overlay,
        format!("{{\"Replace\": {{{}}}}}", replace.join(", ")),
    )?;
    eprintln!(
        "oracle-pprof: building Go's cmd/trace with {}",
        patch.display()
    );
    let status = Command::new(go)
        .arg("build")
        .arg(format!("-overlay={}", overlay.display()))
        .arg("-o")
        .arg(&tool)
        .arg("cmd/trace")
        .status()
        .context("go build cmd/trace")?;
    if !status.success() {
        bail!("building the deterministic cmd/trace failed");
    }
    fs::write(&stamp, patch_text)?;
    Ok(Some(tool))
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
