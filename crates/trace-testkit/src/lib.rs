//! Helpers shared by the recorder crates' integration tests
//! (`trace-runtime`, `trace-annotate`, `trace-flight`): a lock that runs
//! one recording at a time, an in-memory writer to stream into, the trace
//! format the tests record in, and the hook that saves traces for
//! `cargo xtask oracle`; and by the robustness tests of the crates that
//! read traces, the small curated traces and damaged copies of them
//! ([`damage`]). A dev-dependency only; it depends on no workspace crate.
//!
//! ```
//! use std::io::Write;
//!
//! let _one_at_a_time = trace_testkit::serial();
//! let out = trace_testkit::Capture::default();
//! out.clone().write_all(b"go 1.23 trace\0\0\0")?;
//! assert_eq!(out.bytes().len(), 16);
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod damage;
pub mod http;

use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// Serializes the tests of one test binary (one process): the trace
/// recorder is process-wide, so tests that record take turns. A test that
/// panicked while holding the lock does not poison it for the others.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A `Write` into shared memory: clone it, hand one clone to the recorder,
/// read the bytes through another.
#[derive(Debug, Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// A copy of the bytes written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The environment variable that chooses the trace format the tests
/// record in: `1.23` or `1.26` (the default).
pub const FORMAT_ENV: &str = "TRACE_TEST_FORMAT";

/// The trace format the tests record in, as the minor version of its file
/// header (23 for `go 1.23 trace`, 26 for `go 1.26 trace`): from
/// [`FORMAT_ENV`], 26 if unset. `cargo xtask oracle` runs the recorder
/// crates' tests once in each format; tests that matter in both run both
/// regardless.
///
/// # Panics
///
/// If the variable holds anything else: the run would not test what it
/// says.
///
/// ```
/// assert!([23, 26].contains(&trace_testkit::format_minor()));
/// ```
pub fn format_minor() -> u32 {
    match std::env::var(FORMAT_ENV).as_deref() {
        Err(_) | Ok("1.26") => 26,
        Ok("1.23") => 23,
        Ok(other) => panic!("{FORMAT_ENV}={other}: expected 1.23 or 1.26"),
    }
}

/// Saves `trace` as `$TRACE_ORACLE_DIR/<name>.trace` when that variable is
/// set (`cargo xtask oracle` then has `go tool trace` read it).
///
/// # Panics
///
/// If the file cannot be written: the oracle run would miss it.
pub fn save(name: &str, trace: &[u8]) {
    if let Some(dir) = std::env::var_os("TRACE_ORACLE_DIR") {
        let path = Path::new(&dir).join(format!("{name}.trace"));
        if let Err(e) = std::fs::write(&path, trace) {
            panic!("saving {}: {e}", path.display());
        }
    }
}
