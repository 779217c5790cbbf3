//! Inputs for the robustness tests of the crates that read traces
//! (`trace-rewrite`, `trace-view`): the small curated traces, and damaged
//! copies of them made by a fixed pseudo-random walk.

use std::path::Path;

/// The curated traces (`testdata/traces`, `testdata/current/traces`) of at
/// most `max_bytes` bytes; at least five.
pub fn small_traces(max_bytes: usize) -> Vec<Vec<u8>> {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut res = Vec::new();
    for dir in ["testdata/traces", "testdata/current/traces"] {
        for e in std::fs::read_dir(ws.join(dir)).unwrap().flatten() {
            let data = std::fs::read(e.path()).unwrap();
            if data.len() <= max_bytes {
                res.push(data);
            }
        }
    }
    assert!(res.len() >= 5);
    res
}

/// Damages copies of traces: each copy has one to four bytes after the
/// header (the first 16) replaced, at positions and with values from a
/// fixed pseudo-random walk (xorshift) that goes on from copy to copy.
#[derive(Debug, Clone)]
pub struct Damage(u64);

impl Damage {
    /// A walk from `seed` (not 0).
    pub fn new(seed: u64) -> Self {
        Damage(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A damaged copy of `trace`.
    pub fn copy(&mut self, trace: &[u8]) -> Vec<u8> {
        let mut d = trace.to_vec();
        for _ in 0..1 + self.next() % 4 {
            let at = 16 + (self.next() as usize) % (d.len().max(17) - 16);
            if let Some(b) = d.get_mut(at) {
                *b = self.next() as u8;
            }
        }
        d
    }
}
