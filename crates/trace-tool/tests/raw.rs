//! Conformance of `trace-tool raw` with Go's raw reader and `gotraceraw`,
//! over the shared corpora (`<workspace>/../shared/go-traces` and
//! `go-traces-current`, each skipped when absent) and the curated copies in
//! `<workspace>/testdata`.
//!
//! Each trace is checked against both references the corpora keep: Go
//! 1.27's `go tool trace -d=wire` (`NAME.wire.txt.gz`, `NAME.wire.sha256`
//! for the largest, `NAME.wire.err.txt` where Go failed), which `raw` prints
//! by default, and Go 1.23's `-d=2` (`NAME.d2.txt.gz`), which it prints
//! with `--go 1.23`.
//!
//! Expected files are only read, never written. Most checks call the
//! library (faster than spawning); the `binary_*` tests run the real binary.

mod common;

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::message;
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use trace_wire::text::{bytes_to_text, text_to_bytes, GoRelease};
use trace_wire::SizeEncoding;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The curated corpus, which must exist.
fn testdata() -> PathBuf {
    let dir = workspace_root().join("testdata");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    dir
}

/// The shared corpus of Go 1.22/1.23 traces, or `None` (with a note) when
/// it is not there.
fn shared() -> Option<PathBuf> {
    shared_dir("go-traces")
}

/// The shared corpus of Go 1.25–1.27 traces, or `None` (with a note).
fn shared_current() -> Option<PathBuf> {
    shared_dir("go-traces-current")
}

fn shared_dir(name: &str) -> Option<PathBuf> {
    let dir = workspace_root().join("../shared").join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "note: {} not found; skipping the shared corpus",
            dir.display()
        );
        None
    }
}

/// Files in `dir` whose names end with `suffix`, sorted, as (stem, path).
fn files(dir: &Path, suffix: &str) -> Vec<(String, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .map(|e| e.expect("readable directory").path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let stem = name.strip_suffix(suffix)?.to_string();
            Some((stem, p))
        })
        .collect();
    out.sort();
    out
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The text form of `trace` as `release` prints it, with the error message
/// if there was one.
fn raw(trace: &[u8], release: GoRelease, versioned: bool) -> (Vec<u8>, Option<String>) {
    let mut out = Vec::new();
    let err = bytes_to_text(trace, release, versioned, &mut out).err();
    (out, err.map(|e| e.to_string()))
}

/// Which of Go's raw outputs a corpus keeps beside each trace.
#[derive(Debug, Clone, Copy)]
enum Reference {
    /// Go 1.27's `go tool trace -d=wire`: `NAME.wire.txt.gz`, or
    /// `NAME.wire.sha256` for the largest outputs, and `NAME.wire.err.txt`
    /// (the stderr) where Go exited 1.
    Wire,
    /// Go 1.23's `go tool trace -d=2`: `NAME.d2.txt.gz` (Go never failed).
    D2,
}

/// Go's stdout for one trace: the output itself or its SHA-256.
enum ExpectedOutput {
    Gzip(PathBuf),
    Sha256(String),
}

/// What Go printed for one trace.
struct Expected {
    stdout: ExpectedOutput,
    /// The error message, if Go failed.
    error: Option<String>,
}

impl Reference {
    /// The release whose output this is.
    fn release(self) -> GoRelease {
        match self {
            Reference::Wire => GoRelease::Go127,
            Reference::D2 => GoRelease::Go123,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Reference::Wire => "wire",
            Reference::D2 => "d2",
        }
    }

    /// The expected output for trace `name` of `corpus`, if there is one.
    fn expected(self, corpus: &Path, name: &str) -> Option<Expected> {
        let base = corpus
            .join("expected")
            .join(format!("{name}.{}", self.suffix()));
        let with = |ext: &str| {
            let mut p = base.clone().into_os_string();
            p.push(ext);
            PathBuf::from(p)
        };
        let (gz, sha, err) = (with(".txt.gz"), with(".sha256"), with(".err.txt"));
        let stdout = if gz.is_file() {
            ExpectedOutput::Gzip(gz)
        } else if sha.is_file() {
            let hex = String::from_utf8(read(&sha)).expect("a hex hash");
            ExpectedOutput::Sha256(hex.trim().to_string())
        } else {
            return None;
        };
        let error = err
            .is_file()
            .then(|| String::from_utf8_lossy(&read(&err)).trim_end().to_string());
        Some(Expected { stdout, error })
    }
}

/// Compares `actual` with Go's stdout.
fn compare_expected(actual: &[u8], expected: &ExpectedOutput) -> Result<(), String> {
    match expected {
        ExpectedOutput::Gzip(path) => compare_stream(actual, GzDecoder::new(read(path).as_slice()))
            .map_err(|diff| format!("differs from {}\n{diff}", path.display())),
        ExpectedOutput::Sha256(want) => {
            let got: String = Sha256::digest(actual)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if &got == want {
                Ok(())
            } else {
                Err(format!(
                    "SHA-256 {got} of {} bytes, Go's output has {want}",
                    actual.len()
                ))
            }
        }
    }
}

/// Lines `[from, to)` (0-based) of `text`, each prefixed with its number
/// plus `skipped` (the lines before `text` in the whole output).
fn numbered_lines(text: &[u8], from: usize, to: usize, skipped: usize) -> String {
    let mut s = String::new();
    for (i, line) in text
        .split(|&b| b == b'\n')
        .enumerate()
        .skip(from)
        .take(to - from)
    {
        let _ = writeln!(
            s,
            "  {:>8} | {}",
            skipped + i + 1,
            String::from_utf8_lossy(line)
        );
    }
    s
}

/// A first-difference excerpt: a few lines of each side around byte `pos`,
/// where `actual` and `expected` first differ. `expected` may be a window of
/// the whole expected output that starts at byte `expected_base`, at a line
/// start before `pos`.
fn difference(actual: &[u8], expected: &[u8], expected_base: usize, pos: usize) -> String {
    let newlines = |s: &[u8]| s.iter().filter(|&&b| b == b'\n').count();
    let line = newlines(&actual[..pos.min(actual.len())]);
    // The two sides agree up to `pos`, so lines before the window count the same.
    let skipped = newlines(&actual[..expected_base.min(actual.len())]);
    let from = line.saturating_sub(3);
    format!(
        "first difference at byte {pos}, line {}\n--- expected\n{}+++ actual\n{}",
        line + 1,
        numbered_lines(
            expected,
            from.saturating_sub(skipped),
            line - skipped + 4,
            skipped
        ),
        numbered_lines(actual, from, line + 4, 0),
    )
}

/// Compares `actual` with the stream `expected` without holding all of the
/// expected bytes in memory.
fn compare_stream(actual: &[u8], mut expected: impl Read) -> Result<(), String> {
    const CHUNK: usize = 4 << 20;
    let mut chunk = vec![0u8; CHUNK];
    // Expected bytes kept for context: the tail of the previous chunk (from
    // a line start) and the current chunk.
    let mut window: Vec<u8> = Vec::new();
    let mut window_base = 0usize;
    let mut offset = 0usize;
    loop {
        let n =
            read_full(&mut expected, &mut chunk).map_err(|e| format!("reading expected: {e}"))?;
        if n == 0 {
            break;
        }
        let got = &actual[offset.min(actual.len())..(offset + n).min(actual.len())];
        if got != &chunk[..n] {
            let i = got
                .iter()
                .zip(&chunk[..n])
                .position(|(a, b)| a != b)
                .unwrap_or(got.len());
            window.extend_from_slice(&chunk[..n]);
            // A little more expected text after the difference, for context.
            let mut more = vec![0u8; 4096];
            let m = read_full(&mut expected, &mut more).unwrap_or(0);
            window.extend_from_slice(&more[..m]);
            return Err(difference(actual, &window, window_base, offset + i));
        }
        // Keep the last few lines for context.
        let keep_from = chunk[..n]
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, &b)| b == b'\n')
            .nth(8)
            .map_or(0, |(i, _)| i + 1);
        window.clear();
        window.extend_from_slice(&chunk[keep_from..n]);
        window_base = offset + keep_from;
        offset += n;
    }
    if actual.len() != offset {
        return Err(format!(
            "expected {offset} bytes, got {}:\n{}",
            actual.len(),
            difference(actual, &window, window_base, offset)
        ));
    }
    Ok(())
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Where two byte strings first differ.
fn first_byte_difference(a: &[u8], b: &[u8]) -> String {
    let i = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    format!(
        "lengths {} and {}; first difference at byte {i}: {:02x?} vs {:02x?}",
        a.len(),
        b.len(),
        &a[i..(i + 16).min(a.len())],
        &b[i..(i + 16).min(b.len())]
    )
}

/// Collects failures so that one run reports all of them.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn add(&mut self, what: String) {
        eprintln!("FAIL {}", what.lines().next().unwrap_or_default());
        self.0.push(what);
    }

    fn check(self, checked: usize, min: usize, what: &str) {
        eprintln!("{what}: {checked} checked, {} failed", self.0.len());
        assert!(checked >= min, "{what}: only {checked} checked");
        assert!(
            self.0.is_empty(),
            "{what}: {} failures:\n\n{}",
            self.0.len(),
            self.0.join("\n\n")
        );
    }
}

/// `raw` (as `reference`'s release) prints what Go printed for each trace
/// with an expected file: the same stdout, and the same error if Go failed;
/// and when it printed everything, `raw --versioned` then `--encode
/// --runtime-padding` gives the file back.
fn check_traces(corpus: &Path, reference: Reference) -> (usize, Failures) {
    let mut failures = Failures::default();
    let mut checked = 0;
    for (name, path) in files(&corpus.join("traces"), ".trace") {
        let Some(expected) = reference.expected(corpus, &name) else {
            continue;
        };
        checked += 1;
        let trace = read(&path);
        let (text, err) = raw(&trace, reference.release(), true);
        if err != expected.error {
            failures.add(format!(
                "{name}: error {err:?}, Go's ({reference:?}) is {:?}",
                expected.error
            ));
        }
        // The versioned text is Go's text after one header line.
        let header_len = text.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        let body = &text[header_len..];
        if let Err(diff) = compare_expected(body, &expected.stdout) {
            failures.add(format!("{name}: raw output ({reference:?}) {diff}"));
            continue;
        }
        if err.is_some() {
            continue;
        }
        match text_to_bytes(&text, SizeEncoding::Padded) {
            Ok(again) if again == trace => {}
            Ok(again) => failures.add(format!(
                "{name}: text → binary (padded) differs from the trace: {}",
                first_byte_difference(&again, &trace)
            )),
            Err(e) => failures.add(format!("{name}: encoding our own text failed: {e}")),
        }
    }
    (checked, failures)
}

#[test]
fn testdata_traces_match_go_wire() {
    let (checked, failures) = check_traces(&testdata(), Reference::Wire);
    failures.check(checked, 1, "testdata traces, Go 1.27 -d=wire");
}

#[test]
fn testdata_traces_match_go123_d2() {
    let (checked, failures) = check_traces(&testdata(), Reference::D2);
    failures.check(checked, 1, "testdata traces, Go 1.23 -d=2");
}

#[test]
fn shared_traces_match_go_wire() {
    let Some(dir) = shared() else { return };
    let (checked, failures) = check_traces(&dir, Reference::Wire);
    failures.check(checked, 1, "shared traces, Go 1.27 -d=wire");
}

#[test]
fn shared_traces_match_go123_d2() {
    let Some(dir) = shared() else { return };
    let (checked, failures) = check_traces(&dir, Reference::D2);
    failures.check(checked, 1, "shared traces, Go 1.23 -d=2");
}

#[test]
fn shared_current_traces_match_go_wire() {
    let Some(dir) = shared_current() else { return };
    let (checked, failures) = check_traces(&dir, Reference::Wire);
    failures.check(checked, 1, "shared current traces, Go 1.27 -d=wire");
}

/// The `-- trace --` section of a txtar archive.
fn txtar_trace(archive: &[u8]) -> Option<&[u8]> {
    let marker = b"-- trace --\n";
    let start = archive.windows(marker.len()).position(|w| w == marker)? + marker.len();
    let rest = &archive[start..];
    // Up to the next section, if any.
    let end = rest
        .split_inclusive(|&b| b == b'\n')
        .scan(0, |pos, line| {
            let at = *pos;
            *pos += line.len();
            Some((at, line))
        })
        .find(|(_, line)| line.starts_with(b"-- ") && line.trim_ascii_end().ends_with(b" --"))
        .map_or(rest.len(), |(at, _)| at);
    Some(&rest[..end])
}

/// For Go's `.test` files: text → binary equals Go's conversion (when
/// derived), binary → text (as Go 1.27 reads it) gives the text back, and
/// `--go 1.23` prints what Go 1.23's `-d=2` printed for the binary (the
/// derived files are Go 1.23's).
fn check_text_tests(corpus: &Path) -> (usize, Failures) {
    let mut failures = Failures::default();
    let mut checked = 0;
    let derived = corpus.join("tests/derived");
    for (name, path) in files(&corpus.join("tests"), ".test") {
        checked += 1;
        let archive = read(&path);
        let Some(text) = txtar_trace(&archive) else {
            failures.add(format!("{name}: no `-- trace --` section"));
            continue;
        };
        let binary = match text_to_bytes(text, SizeEncoding::Minimal) {
            Ok(b) => b,
            Err(e) => {
                failures.add(format!("{name}: text → binary failed: {e}"));
                continue;
            }
        };
        let go_binary = derived.join(format!("{name}.trace"));
        if go_binary.is_file() {
            let want = read(&go_binary);
            if binary != want {
                failures.add(format!(
                    "{name}: binary differs from {}: {}",
                    go_binary.display(),
                    first_byte_difference(&binary, &want)
                ));
            }
        }
        let (again, err) = raw(&binary, GoRelease::Go127, true);
        if let Some(err) = err {
            failures.add(format!("{name}: binary → text failed: {err}"));
        }
        if again != text {
            failures.add(format!(
                "{name}: text → binary → text changed the text\n{}",
                difference(&again, text, 0, first_difference(&again, text))
            ));
        }
        let go_d2 = derived.join(format!("{name}.d2.txt.gz"));
        if go_d2.is_file() {
            let (d2, _) = raw(&binary, GoRelease::Go123, false);
            if let Err(diff) = compare_stream(&d2, GzDecoder::new(read(&go_d2).as_slice())) {
                failures.add(format!(
                    "{name}: raw differs from {}\n{diff}",
                    go_d2.display()
                ));
            }
        }
    }
    (checked, failures)
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

#[test]
fn testdata_text_tests_round_trip() {
    let (checked, failures) = check_text_tests(&testdata());
    failures.check(checked, 1, "testdata .test files");
}

#[test]
fn shared_text_tests_round_trip() {
    let Some(dir) = shared() else { return };
    let (checked, failures) = check_text_tests(&dir);
    failures.check(checked, 1, "shared .test files");
}

/// The `d2_exit` column of a fuzz `RESULTS.tsv`, by seed name.
fn d2_exits(results: &Path) -> Vec<(String, String)> {
    let text = String::from_utf8(read(results)).expect("RESULTS.tsv is UTF-8");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let name_col = header
        .iter()
        .position(|&c| c == "name")
        .expect("name column");
    let exit_col = header
        .iter()
        .position(|&c| c == "d2_exit")
        .expect("d2_exit column");
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[name_col].to_string(), cols[exit_col].to_string())
        })
        .collect()
}

/// Go's fuzz seeds, read as Go 1.23 reads them (the derived files are Go
/// 1.23's): stdout equals `NAME.d2.txt`, the exit status matches
/// `RESULTS.tsv`, and the error equals `NAME.d2.err.txt` when there is one.
fn check_fuzz_seeds(corpus: &Path) -> (usize, Failures) {
    let mut failures = Failures::default();
    let dir = corpus.join("fuzz/derived");
    let exits = d2_exits(&dir.join("RESULTS.tsv"));
    let mut checked = 0;
    for (name, path) in files(&dir, ".trace") {
        checked += 1;
        let (out, err) = raw(&read(&path), GoRelease::Go123, false);
        let want = read(&dir.join(format!("{name}.d2.txt")));
        if out != want {
            failures.add(format!(
                "{name}: stdout differs\n{}",
                difference(&out, &want, 0, first_difference(&out, &want))
            ));
        }
        let exit = if err.is_some() { "1" } else { "0" };
        match exits.iter().find(|(n, _)| *n == name) {
            Some((_, want)) if want == exit => {}
            Some((_, want)) => failures.add(format!(
                "{name}: exit status {exit}, Go's is {want} (error: {err:?})"
            )),
            None => failures.add(format!("{name}: not in RESULTS.tsv")),
        }
        let err_file = dir.join(format!("{name}.d2.err.txt"));
        if err_file.is_file() {
            let want = String::from_utf8_lossy(&read(&err_file))
                .trim_end()
                .to_string();
            if err.as_deref() != Some(want.as_str()) {
                failures.add(format!("{name}: error {err:?}, Go's is {want:?}"));
            }
        }
    }
    (checked, failures)
}

#[test]
fn testdata_fuzz_seeds_match_go() {
    let (checked, failures) = check_fuzz_seeds(&testdata());
    failures.check(checked, 1, "testdata fuzz seeds");
}

#[test]
fn shared_fuzz_seeds_match_go() {
    let Some(dir) = shared() else { return };
    let (checked, failures) = check_fuzz_seeds(&dir);
    failures.check(checked, 1, "shared fuzz seeds");
}

// ---- The real binary. ----

fn trace_tool() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trace-tool"))
}

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trace-tool-{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Decompresses a `.gz` file.
fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(read(path).as_slice())
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

/// The smallest (or largest) curated trace that Go 1.27 prints whole, and
/// its expected `-d=wire` output.
fn curated_trace(largest: bool) -> (PathBuf, Vec<u8>) {
    let dir = testdata();
    let expected = |n: &str, ext: &str| dir.join("expected").join(format!("{n}.wire.{ext}"));
    let candidates = files(&dir.join("traces"), ".trace")
        .into_iter()
        .filter(|(n, _)| expected(n, "txt.gz").is_file() && !expected(n, "err.txt").exists());
    let size = |(_, p): &(String, PathBuf)| fs::metadata(p).map_or(0, |m| m.len());
    let (name, path) = if largest {
        candidates.max_by_key(size)
    } else {
        candidates.min_by_key(size)
    }
    .expect("a curated trace with expected output");
    (path, gunzip(&expected(&name, "txt.gz")))
}

#[test]
fn binary_prints_like_go_and_round_trips() {
    let (trace, expected) = curated_trace(false);
    let out = trace_tool()
        .arg("raw")
        .arg(&trace)
        .output()
        .expect("run trace-tool");
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == expected,
        "{}",
        difference(
            &out.stdout,
            &expected,
            0,
            first_difference(&out.stdout, &expected)
        )
    );

    let dir = scratch("round-trip");
    let text = dir.join("trace.txt");
    let versioned = trace_tool()
        .args(["raw", "--versioned"])
        .arg(&trace)
        .output()
        .expect("run trace-tool");
    assert!(versioned.status.success());
    assert!(versioned.stdout.starts_with(b"Trace Go1.2"));
    assert!(versioned.stdout.ends_with(&expected));
    fs::write(&text, &versioned.stdout).expect("write text");

    let padded = dir.join("padded.trace");
    let status = trace_tool()
        .args(["raw", "encode", "--runtime-padding"])
        .arg(&text)
        .arg("-o")
        .arg(&padded)
        .status()
        .expect("run trace-tool");
    assert!(status.success());
    assert!(read(&padded) == read(&trace), "padded round trip differs");

    // Minimal sizes: smaller, and the same text.
    let minimal = trace_tool()
        .args(["raw", "encode"])
        .arg(&text)
        .output()
        .expect("run trace-tool");
    assert!(minimal.status.success());
    assert!(minimal.stdout.len() < read(&trace).len());
    let again = trace_tool()
        .args(["raw", "--versioned", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(&minimal.stdout)?;
            child.wait_with_output()
        })
        .expect("run trace-tool");
    assert!(
        again.stdout == versioned.stdout,
        "minimal round trip changed the text"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn binary_reports_errors_like_go() {
    let dir = scratch("errors");
    // Two good events, then a bad type byte.
    let mut trace = b"go 1.23 trace\0\0\0".to_vec();
    trace.extend([8, 7, 2, 200]);
    let path = dir.join("bad.trace");
    fs::write(&path, &trace).expect("write");
    let out = trace_tool().arg("raw").arg(&path).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"Frequency freq=7\nStacks\n");
    assert_eq!(message(&out, "raw", &path), "invalid event type: 200");

    let missing = dir.join("missing.trace");
    let out = trace_tool().arg("raw").arg(&missing).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(message(&out, "raw", &missing), "no such file");

    // Bad text: an error with its line, and no output file.
    let text = dir.join("bad.txt");
    fs::write(&text, "Trace Go1.23\nProcStart dt=1 p=x p_seq=1\n").expect("write");
    let output = dir.join("out.trace");
    let out = trace_tool()
        .args(["raw", "encode"])
        .arg(&text)
        .arg("-o")
        .arg(&output)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        format!(
            "trace-tool raw encode: {}: line 2: reading args for ProcStart: failed to parse argument value \"x\" for arg \"p\"\n",
            text.display()
        ),
    );
    assert!(!output.exists());
    let _ = fs::remove_dir_all(&dir);
}

/// A curated Go 1.23 trace with alloc/free events: Go 1.27 prints the events
/// before the first one and fails (exit 1, its message on stderr); Go 1.23
/// prints it all, and so does `raw --go 1.23`.
#[test]
fn binary_follows_the_release_chosen_with_go() {
    let dir = testdata();
    let expected = |n: &str, ext: &str| dir.join("expected").join(format!("{n}.{ext}"));
    let size = |(_, p): &(String, PathBuf)| fs::metadata(p).map_or(0, |m| m.len());
    let (name, trace) = files(&dir.join("traces"), ".trace")
        .into_iter()
        .filter(|(n, _)| expected(n, "wire.err.txt").is_file())
        .min_by_key(size)
        .expect("a curated trace that Go 1.27 fails on");

    let out = trace_tool().arg("raw").arg(&trace).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{name}");
    let go = String::from_utf8(read(&expected(&name, "wire.err.txt"))).expect("UTF-8");
    assert_eq!(message(&out, "raw", &trace) + "\n", go, "{name}");
    let wire = gunzip(&expected(&name, "wire.txt.gz"));
    assert!(!wire.is_empty());
    assert!(out.stdout == wire, "{name}: stdout differs from Go 1.27's");

    for release in ["1.23", "1.27"] {
        let out = trace_tool()
            .args(["raw", "--go", release])
            .arg(&trace)
            .output()
            .expect("run");
        if release == "1.23" {
            assert!(out.status.success(), "{out:?}");
            assert!(out.stderr.is_empty());
            assert!(out.stdout == gunzip(&expected(&name, "d2.txt.gz")));
            assert!(out.stdout.starts_with(&wire) && out.stdout.len() > wire.len());
        } else {
            assert_eq!(out.status.code(), Some(1));
            assert!(out.stdout == wire);
        }
    }

    // Go 1.27 printed everything before the failure, so the text converts
    // back to the start of the trace.
    let out = trace_tool()
        .args(["raw", "--versioned"])
        .arg(&trace)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let scratch = scratch("release");
    let text = scratch.join("prefix.txt");
    fs::write(&text, &out.stdout).expect("write");
    let again = trace_tool()
        .args(["raw", "encode", "--runtime-padding"])
        .arg(&text)
        .output()
        .expect("run");
    assert!(again.status.success(), "{again:?}");
    assert!(read(&trace).starts_with(&again.stdout));

    // `--go` is for printing, and names a release we know.
    let out = trace_tool()
        .args(["raw", "encode", "--go", "1.23"])
        .arg(&text)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: unexpected argument '--go' found"),
        "{out:?}"
    );
    let out = trace_tool()
        .args(["raw", "--go", "1.24"])
        .arg(&trace)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let _ = fs::remove_dir_all(&scratch);
}

#[test]
fn binary_survives_a_closed_pipe() {
    // Big enough that the output does not fit in the pipe's buffer.
    let (trace, expected) = curated_trace(true);
    assert!(expected.len() > 1 << 20);
    let mut child = trace_tool()
        .arg("raw")
        .arg(&trace)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run trace-tool");
    let mut first = [0u8; 16];
    child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut first)
        .expect("read");
    // The pipe is closed now; the tool must stop quietly.
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
