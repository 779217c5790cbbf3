//! The fuzzing harness (`trace_view::fuzzing::view`: lay out arbitrary
//! bytes, check the rows, ask every question the page asks) on the curated
//! traces and on damaged copies of them: cut short at many points, and with
//! bytes changed. What `cargo xtask fuzz view` explores at random, here as a
//! deterministic test.

use std::path::Path;

use trace_view::fuzzing::view;

fn small_traces() -> Vec<Vec<u8>> {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut res = Vec::new();
    for dir in ["testdata/traces", "testdata/current/traces"] {
        for e in std::fs::read_dir(ws.join(dir)).unwrap().flatten() {
            let data = std::fs::read(e.path()).unwrap();
            if data.len() <= 64 << 10 {
                res.push(data);
            }
        }
    }
    assert!(res.len() >= 5);
    res
}

#[test]
fn whole_traces() {
    for t in small_traces() {
        view(&t);
    }
}

#[test]
fn truncated_traces() {
    for t in small_traces() {
        let step = (t.len() / 25).max(1);
        for len in (0..t.len()).step_by(step) {
            view(&t[..len]);
        }
    }
}

#[test]
fn damaged_traces() {
    // A fixed pseudo-random walk over positions and values.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for t in small_traces() {
        for _ in 0..20 {
            let mut d = t.clone();
            for _ in 0..1 + next() % 4 {
                let at = 16 + (next() as usize) % (d.len().max(17) - 16);
                if let Some(b) = d.get_mut(at) {
                    *b = next() as u8;
                }
            }
            view(&d);
        }
    }
}
