//! Helpers the binary's tests share: where the fixtures are, and running
//! `trace-tool`.
#![allow(dead_code, reason = "each test binary uses a subset")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace's `testdata/`.
pub(crate) fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// Runs `trace-tool` with `args`.
pub(crate) fn tool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trace-tool"))
        .args(args)
        .output()
        .expect("trace-tool runs")
}

/// What a run printed on standard output.
pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

/// The message of the one error line `trace-tool CMD: FILE: message (notes)`
/// a run printed, without the prefix and the notes: for trace errors, Go's
/// own text. Panics if standard error is not such a line.
pub(crate) fn message(o: &Output, cmd: &str, file: &Path) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr);
    let prefix = format!("trace-tool {cmd}: {}: ", file.display());
    let line = stderr
        .strip_prefix(&prefix)
        .and_then(|l| l.strip_suffix('\n'))
        .filter(|l| !l.contains('\n'))
        .unwrap_or_else(|| panic!("not one `{prefix}…` line: {stderr:?}"));
    let line = match line.rfind(" (") {
        Some(i) if line.ends_with(')') && line[i..].contains("byte offset") => &line[..i],
        _ => line,
    };
    line.to_string()
}
