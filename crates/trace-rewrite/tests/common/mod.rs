//! Helpers the integration tests of this crate share.
#![allow(dead_code, reason = "each test binary uses a subset")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The workspace's root.
pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every trace, by name; the shared corpora win over the curated copies.
pub(crate) fn traces() -> BTreeMap<String, PathBuf> {
    let ws = workspace();
    let mut res = BTreeMap::new();
    for dir in [
        ws.join("testdata/traces"),
        ws.join("testdata/current/traces"),
        ws.join("../shared/go-traces/traces"),
        ws.join("../shared/go-traces-current/traces"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "trace") {
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                res.insert(name, p);
            }
        }
    }
    assert!(res.len() >= 20, "testdata/ has the curated traces");
    res
}
