//! The reader yields the same events and errors whether it works on the
//! caller's thread or on a background thread, whatever the input (real,
//! broken, truncated, mutated), however the input arrives (in pieces of any
//! size) and however it fails (an I/O error anywhere).

mod common;

use std::fmt::Write as _;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Read};
use std::path::PathBuf;

use common::files;
use trace_reader::{Reader, Threading};

/// Everything observable of a read: each event's `Debug` and `Display`
/// (hashed, to keep large traces small), then how the stream ended (with
/// the error's offset and generation).
fn observe(input: impl Read, threading: Threading) -> Vec<String> {
    observe_as(input, threading, true)
}

/// [`observe`], without `Display` if not `display` (for speed).
fn observe_as(input: impl Read, threading: Threading, display: bool) -> Vec<String> {
    let mut reader = match Reader::with_threading(input, threading) {
        Ok(r) => r,
        Err(e) => return vec![format!("header error {e:?}")],
    };
    let mut res = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Ok(Some(ev)) => {
                text.clear();
                write!(text, "{ev:?}").unwrap();
                if display {
                    write!(text, " {ev}").unwrap();
                }
                let mut h = DefaultHasher::new();
                text.hash(&mut h);
                res.push(format!("{:016x}", h.finish()));
            }
            Ok(None) => {
                res.push("end".into());
                break;
            }
            Err(e) => {
                res.push(format!("error {e:?}"));
                break;
            }
        }
    }
    // Finished readers stay finished.
    assert!(matches!(reader.read_event(), Ok(None)));
    res
}

/// Reads `data` in pieces of the sizes `sizes` cycles through, then fails
/// with `fail` (if any) once `fail_at` bytes are read.
struct Pieces<'a> {
    data: &'a [u8],
    pos: usize,
    sizes: &'a [usize],
    turn: usize,
    fail: Option<(usize, io::ErrorKind)>,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.turn += 1;
        let mut end = self.data.len();
        if let Some((at, kind)) = self.fail {
            if self.pos >= at {
                return Err(kind.into());
            }
            end = end.min(at);
        }
        // An interruption now and then, which readers retry.
        if self.turn % 7 == 3 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let size = self.sizes[self.turn % self.sizes.len()];
        let n = size.min(buf.len()).min(end - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn pieces<'a>(data: &'a [u8], sizes: &'a [usize]) -> Pieces<'a> {
    Pieces {
        data,
        pos: 0,
        sizes,
        turn: 0,
        fail: None,
    }
}

/// Checks that every way of reading `data` observes the same (for large
/// inputs, only the default way: it moves to a background thread).
fn check_same(name: &str, data: &[u8]) {
    if data.len() > 4 << 20 {
        // The conformance tests check the events' text on this path.
        let want = observe_as(data, Threading::Never, false);
        let got = observe_as(data, Threading::Auto, false);
        assert_same(name, "Auto", &want, &got);
        return;
    }
    let want = observe(data, Threading::Never);
    let got = observe(data, Threading::Auto);
    assert_same(name, "Auto", &want, &got);
    let got = observe(data, Threading::Always);
    assert_same(name, "Always", &want, &got);
    let sizes: &[usize] = &[1, 3, 64 << 10, 2, 100_000, 17];
    for threading in [Threading::Never, Threading::Always] {
        let got = observe(pieces(data, sizes), threading);
        assert_same(name, &format!("{threading:?} in pieces"), &want, &got);
    }
}

fn assert_same(name: &str, how: &str, want: &[String], got: &[String]) {
    if want == got {
        return;
    }
    let i = want.iter().zip(got).position(|(a, b)| a != b);
    let i = i.unwrap_or(want.len().min(got.len()));
    panic!(
        "{name}, {how}: differs at item {i} of {}/{}:\n want {:?}\n  got {:?}",
        want.len(),
        got.len(),
        want.get(i),
        got.get(i)
    );
}

fn inputs() -> Vec<(String, PathBuf)> {
    let mut res: Vec<(String, PathBuf)> = files("fuzz/derived", "trace").into_iter().collect();
    res.extend(files("tests/derived", "trace"));
    res.extend(files("traces", "trace"));
    res
}

/// Small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// The traces larger than 4 MiB, checked on their own so that they run in
/// parallel with the rest.
fn is_large(path: &PathBuf) -> bool {
    fs::metadata(path).is_ok_and(|m| m.len() > 4 << 20)
}

#[test]
fn every_trace_reads_the_same_on_any_thread() {
    let inputs = inputs();
    assert!(!inputs.is_empty(), "no inputs found");
    for (name, path) in inputs.iter().filter(|(_, p)| !is_large(p)) {
        check_same(name, &fs::read(path).unwrap());
    }
}

#[test]
fn large_traces_read_the_same_on_any_thread() {
    for (name, path) in inputs().iter().filter(|(_, p)| is_large(p)) {
        check_same(name, &fs::read(path).unwrap());
    }
}

#[test]
fn broken_traces_fail_the_same_on_any_thread() {
    let mut rng = Rng(0x51af_d7ed_558c_cd1d);
    for (name, path) in inputs() {
        let original = fs::read(&path).unwrap();
        if original.len() > 256 << 10 {
            continue;
        }
        for round in 0..8 {
            let mut data = original.clone();
            match round % 4 {
                // Truncated: a read error deferred to the generation's end.
                0 => data.truncate(rng.below(data.len() + 1)),
                // A byte changed.
                1 if !data.is_empty() => {
                    let i = rng.below(data.len());
                    data[i] ^= 1 << rng.below(8);
                }
                // A piece repeated.
                2 if !data.is_empty() => {
                    let a = rng.below(data.len());
                    let b = (a + rng.below(256)).min(data.len());
                    let piece = data[a..b].to_vec();
                    data.splice(a..a, piece);
                }
                _ => data.truncate(data.len().saturating_sub(1 + rng.below(64))),
            }
            check_same(&format!("{name} (variant {round})"), &data);
        }
    }
}

#[test]
fn io_errors_surface_the_same_on_any_thread() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let sizes: &[usize] = &[4096, 1, 65536, 5];
    for (name, path) in inputs() {
        let data = fs::read(&path).unwrap();
        if data.len() > 1 << 20 {
            continue;
        }
        for _ in 0..4 {
            let at = rng.below(data.len() + 1);
            let read = |threading| {
                let input = Pieces {
                    fail: Some((at, io::ErrorKind::ConnectionReset)),
                    ..pieces(&data, sizes)
                };
                observe(input, threading)
            };
            let want = read(Threading::Never);
            let got = read(Threading::Always);
            assert_same(&name, &format!("I/O error at {at}"), &want, &got);
        }
    }
}

#[test]
fn a_reader_dropped_early_stops_its_thread() {
    let Some((_, path)) = inputs()
        .into_iter()
        .max_by_key(|(_, p)| fs::metadata(p).map_or(0, |m| m.len()))
    else {
        return;
    };
    for n in [0, 1, 5000, 100_000] {
        let mut reader = Reader::with_threading(fs::File::open(&path).unwrap(), Threading::Always)
            .expect("a trace");
        for _ in 0..n {
            if reader.read_event().ok().flatten().is_none() {
                break;
            }
        }
        drop(reader);
    }
}

#[test]
fn readers_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Reader<fs::File>>();
    check::<Reader<&[u8]>>();
}
