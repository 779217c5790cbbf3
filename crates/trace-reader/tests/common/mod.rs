//! Helpers shared by the conformance tests: where the corpora are, dumping a
//! trace as `go tool trace -d=parsed` (Go 1.27) or `-d=1` (Go 1.23) does,
//! and comparing long outputs.
#![allow(dead_code, reason = "each test binary uses a subset")]

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use trace_reader::{Compat, Options, Reader};

/// Whose `go tool trace` output to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Go {
    /// Go 1.27's `-d=parsed`.
    V127,
    /// Go 1.23's `-d=1`.
    V123,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The roots of the corpus of Go 1.22 and 1.23 traces: the curated copy in
/// the workspace, then the shared corpus beside the workspace when it is
/// present.
pub(crate) fn roots() -> Vec<PathBuf> {
    let mut res = vec![workspace().join("testdata")];
    let shared = workspace().join("../shared/go-traces");
    if shared.is_dir() {
        res.push(shared);
    }
    res
}

/// The roots of the corpus of Go 1.25–1.27 traces, as [`roots`].
pub(crate) fn current_roots() -> Vec<PathBuf> {
    let mut res = vec![workspace().join("testdata/current")];
    let shared = workspace().join("../shared/go-traces-current");
    if shared.is_dir() {
        res.push(shared);
    }
    res
}

/// Go 1.27's outputs for Go's synthetic tests and fuzz seeds
/// (`testdata/go127`, made by `cargo xtask golden`).
pub(crate) fn go127_dir() -> PathBuf {
    workspace().join("testdata/go127")
}

/// Files named `*.{ext}` in `dir` of every root of the Go 1.22/1.23 corpus,
/// by stem. Later roots (the shared corpus) win over the curated copies of
/// the same file.
pub(crate) fn files(dir: &str, ext: &str) -> BTreeMap<String, PathBuf> {
    files_in(&roots(), dir, ext)
}

/// [`files`] over `roots`.
pub(crate) fn files_in(roots: &[PathBuf], dir: &str, ext: &str) -> BTreeMap<String, PathBuf> {
    let mut res = BTreeMap::new();
    for root in roots {
        let Ok(entries) = fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == ext) {
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                res.insert(stem, path);
            }
        }
    }
    res
}

/// How a dump ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// All events printed (exit status 0).
    Success,
    /// The reader failed with this message after the printed events (exit
    /// status 1).
    Failure(String),
}

/// Prints every event of `input` to `out` as `go tool trace` of `go` does.
pub(crate) fn dump(input: impl Read, out: &mut impl Write, go: Go) -> io::Result<Outcome> {
    let compat = match go {
        Go::V127 => Compat::Current,
        Go::V123 => Compat::Go123,
    };
    let mut reader = match Reader::with_options(input, Options::new().compat(compat)) {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::Failure(e.to_string())),
    };
    let fed = reader.feed(&mut trace_reader::consume::from_fn(
        |event: &trace_reader::Event| {
            match go {
                Go::V127 => event.write_go(out)?,
                Go::V123 => event.write_go123(out)?,
            }
            out.write_all(b"\n")
        },
    ));
    match fed {
        Ok(_) => Ok(Outcome::Success),
        Err(trace_reader::Stop::Trace(e)) => Ok(Outcome::Failure(e.to_string())),
        Err(trace_reader::Stop::Consumer(e)) => Err(e),
    }
}

/// Dumps a trace file into memory.
pub(crate) fn dump_file(path: &Path, go: Go) -> (Vec<u8>, Outcome) {
    let mut out = Vec::new();
    let outcome = dump(
        io::BufReader::new(fs::File::open(path).unwrap()),
        &mut out,
        go,
    )
    .unwrap();
    (out, outcome)
}

/// Gunzips a file.
pub(crate) fn gunzip(path: &Path) -> Vec<u8> {
    let mut res = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(path).unwrap())
        .read_to_end(&mut res)
        .unwrap();
    res
}

/// The lines around the first difference of `got` and `want`, or `None` if
/// they are equal.
pub(crate) fn first_difference(got: &[u8], want: &[u8]) -> Option<String> {
    if got == want {
        return None;
    }
    let i = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    Some(excerpt(&got[..i], &got[i..], &want[i..], 0))
}

/// Describes a difference at the end of `same` (the common prefix).
fn excerpt(same: &[u8], got: &[u8], want: &[u8], offset: u64) -> String {
    let line = same.iter().filter(|&&b| b == b'\n').count();
    let start = same.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let mut ctx_start = start;
    for _ in 0..3 {
        if ctx_start == 0 {
            break;
        }
        ctx_start = same[..ctx_start - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
    }
    let rest = |s: &[u8]| {
        let end = s.iter().position(|&b| b == b'\n').unwrap_or(s.len());
        String::from_utf8_lossy(&s[..end.min(400)]).into_owned()
    };
    let partial = String::from_utf8_lossy(&same[start..]);
    format!(
        "first difference at byte {} (line {}):\n--- context\n{}--- got\n{}{}\n--- want\n{}{}\n",
        offset + same.len() as u64,
        line + 1,
        String::from_utf8_lossy(&same[ctx_start..start]),
        partial,
        rest(got),
        partial,
        rest(want),
    )
}

/// A writer that compares what is written with an expected stream, for
/// outputs too large to hold in memory.
pub(crate) struct Compare<R> {
    want: R,
    buf: Vec<u8>,
    /// The last bytes that matched, for context.
    tail: Vec<u8>,
    offset: u64,
    pub(crate) mismatch: Option<String>,
}

impl<R: Read> Compare<R> {
    pub(crate) fn new(want: R) -> Self {
        Self {
            want,
            buf: Vec::new(),
            tail: Vec::new(),
            offset: 0,
            mismatch: None,
        }
    }

    fn fill(&mut self, n: usize) -> io::Result<usize> {
        self.buf.resize(n, 0);
        let mut got = 0;
        while got < n {
            match self.want.read(&mut self.buf[got..])? {
                0 => break,
                k => got += k,
            }
        }
        Ok(got)
    }

    fn fail(&mut self, data: &[u8], want_len: usize) -> io::Error {
        let i = data[..want_len]
            .iter()
            .zip(&self.buf[..want_len])
            .position(|(a, b)| a != b)
            .unwrap_or(want_len);
        let mut same = std::mem::take(&mut self.tail);
        same.extend_from_slice(&data[..i]);
        let mut want = self.buf[i..want_len].to_vec();
        if !want.contains(&b'\n') {
            let mut more = vec![0; 4096];
            let n = self.want.read(&mut more).unwrap_or(0);
            want.extend_from_slice(&more[..n]);
        }
        let base = self.offset + i as u64 - same.len() as u64;
        let msg = if want_len == i && want.is_empty() {
            format!(
                "output longer than expected, at byte {}:\n{}",
                self.offset + i as u64,
                String::from_utf8_lossy(&data[i..data.len().min(i + 400)])
            )
        } else {
            excerpt(&same, &data[i..], &want, base)
        };
        self.mismatch = Some(msg);
        io::Error::other("mismatch")
    }

    /// Checks that the expected stream has ended too.
    pub(crate) fn finish(mut self) -> Result<(), String> {
        if let Some(m) = self.mismatch {
            return Err(m);
        }
        match self.fill(400) {
            Ok(0) => Ok(()),
            Ok(n) => Err(format!(
                "output ends at byte {} but more was expected:\n{}",
                self.offset,
                String::from_utf8_lossy(&self.buf[..n])
            )),
            Err(e) => Err(format!("reading expected output: {e}")),
        }
    }
}

impl<R: Read> Write for Compare<R> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.mismatch.is_some() {
            return Err(io::Error::other("mismatch"));
        }
        let n = self.fill(data.len())?;
        if n < data.len() || self.buf[..n] != *data {
            return Err(self.fail(data, n));
        }
        self.offset += n as u64;
        let keep = 2048;
        if data.len() >= keep {
            self.tail.clear();
            self.tail.extend_from_slice(&data[data.len() - keep..]);
        } else {
            self.tail.extend_from_slice(data);
            if self.tail.len() > 2 * keep {
                self.tail.drain(..self.tail.len() - keep);
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Dumps the trace at `path` as `go` does and compares the output with the
/// gzipped expected output, streaming both. Returns how the dump ended and
/// its length.
pub(crate) fn check_trace(
    path: &Path,
    expected_gz: &Path,
    go: Go,
) -> Result<(Outcome, u64), String> {
    let want = io::BufReader::with_capacity(
        1 << 20,
        flate2::read::GzDecoder::new(fs::File::open(expected_gz).unwrap()),
    );
    let mut cmp = BufWriter::with_capacity(1 << 20, Compare::new(want));
    let input = fs::File::open(path).unwrap();
    let outcome = dump(input, &mut cmp, go);
    let flushed = cmp.flush();
    let (mut cmp, _) = cmp.into_parts();
    if let Some(m) = cmp.mismatch.take() {
        return Err(m);
    }
    let outcome = outcome.map_err(|e| e.to_string())?;
    flushed.map_err(|e| e.to_string())?;
    let len = cmp.offset;
    cmp.finish()?;
    Ok((outcome, len))
}

/// A writer that hashes what is written with SHA-256.
pub(crate) struct Sha256Writer(pub(crate) sha2::Sha256);

impl Write for Sha256Writer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        sha2::Digest::update(&mut self.0, data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Dumps the trace at `path` as Go 1.27 does and compares the SHA-256 of
/// the output with `expected_sha` (a file of hex digits and a newline, as
/// the corpora store the hashes of outputs too large to keep).
pub(crate) fn check_trace_sha256(path: &Path, expected_sha: &Path) -> Result<Outcome, String> {
    let want = fs::read_to_string(expected_sha).unwrap();
    let mut out = BufWriter::with_capacity(1 << 20, Sha256Writer(sha2::Sha256::default()));
    let outcome =
        dump(fs::File::open(path).unwrap(), &mut out, Go::V127).map_err(|e| e.to_string())?;
    let hasher = out.into_inner().map_err(|e| e.to_string())?.0;
    let got: String = sha2::Digest::finalize(hasher)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if got != want.trim() {
        return Err(format!(
            "SHA-256 of the output is {got}, Go's is {}",
            want.trim()
        ));
    }
    Ok(outcome)
}
