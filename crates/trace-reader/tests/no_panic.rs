//! Arbitrary bytes never make the reader panic: every trace of the corpus,
//! the Go test traces and the fuzz seeds, mutated many times over (bytes
//! flipped, cut, repeated, inserted), go through the fuzzing harness
//! (`trace_reader::fuzzing::read`), which reads each to the end and uses
//! every accessor of every event.

mod common;

use std::fs;
use std::path::PathBuf;

use common::files;

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One random mutation of `data`.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    let len = data.len();
    match rng.below(6) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = rng.next() as u8;
        }
        2 => data.truncate(rng.below(len + 1)),
        3 if len > 0 => {
            let a = rng.below(len);
            let b = (a + rng.below(64)).min(len);
            let chunk = data[a..b].to_vec();
            let at = rng.below(len + 1);
            data.splice(at..at, chunk);
        }
        4 => {
            let at = rng.below(len + 1);
            let n = rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            data.splice(at..at, bytes);
        }
        _ if len > 0 => {
            // A small varint-ish value somewhere, to hit ids and counts.
            let i = rng.below(len);
            data[i] = [0, 1, 2, 0x7f, 0x80, 0xff][rng.below(6)];
        }
        _ => {}
    }
}

fn inputs() -> Vec<PathBuf> {
    let mut res: Vec<PathBuf> = files("fuzz/derived", "trace").into_values().collect();
    res.extend(files("tests/derived", "trace").into_values());
    // Small real traces only: each is read once per mutation.
    res.extend(
        files("traces", "trace")
            .into_values()
            .filter(|p| fs::metadata(p).is_ok_and(|m| m.len() <= 16 << 10)),
    );
    res
}

#[test]
fn mutated_traces_never_panic() {
    let inputs = inputs();
    assert!(!inputs.is_empty(), "no inputs found");
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for path in &inputs {
        let original = fs::read(path).unwrap();
        trace_reader::fuzzing::read(&original);
        let rounds = if original.len() > 4096 { 40 } else { 150 };
        for _ in 0..rounds {
            let mut data = original.clone();
            for _ in 0..=rng.below(4) {
                mutate(&mut rng, &mut data);
            }
            let res = std::panic::catch_unwind(|| trace_reader::fuzzing::read(&data));
            if res.is_err() {
                panic!(
                    "panic on a mutation of {}; input ({} bytes): {:02x?}",
                    path.display(),
                    data.len(),
                    data
                );
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let len = rng.below(200);
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        trace_reader::fuzzing::read(&data);
    }
}
