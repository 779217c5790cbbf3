//! `trace-tool footprint` against Go 1.27's `go tool trace -d=footprint`:
//! the curated traces' outputs, made with Go by `cargo xtask golden`
//! (`testdata/expected/NAME.footprint.txt`, and `NAME.footprint.err.txt`
//! where Go exited 1). `cargo xtask oracle-wire` compares the shared
//! corpora with Go live.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::message;

fn testdata() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    dir
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn footprint(trace: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trace-tool"))
        .arg("footprint")
        .arg(trace)
        .output()
        .expect("run trace-tool")
}

#[test]
fn curated_traces_match_go() {
    let dir = testdata();
    let mut names: Vec<String> = fs::read_dir(dir.join("expected"))
        .expect("testdata/expected")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            Some(name.strip_suffix(".footprint.txt")?.to_string())
        })
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "no footprint files; run `cargo xtask golden`"
    );
    let (mut failures, mut errors) = (Vec::new(), 0);
    for name in &names {
        let out = footprint(&dir.join("traces").join(format!("{name}.trace")));
        let expected = dir.join("expected");
        let want_stdout = read(&expected.join(format!("{name}.footprint.txt")));
        let err_file = expected.join(format!("{name}.footprint.err.txt"));
        let trace = dir.join("traces").join(format!("{name}.trace"));
        let (want_code, want_message) = if err_file.is_file() {
            errors += 1;
            let go = String::from_utf8(read(&err_file)).expect("UTF-8");
            (Some(1), Some(go.trim_end().to_string()))
        } else {
            (Some(0), None)
        };
        // Go's message, after our `trace-tool footprint: FILE: ` prefix.
        let got_message = (!out.stderr.is_empty()).then(|| message(&out, "footprint", &trace));
        if out.status.code() != want_code || got_message != want_message {
            failures.push(format!(
                "{name}: exit {:?} with stderr {:?}, Go's: exit {want_code:?} with {want_message:?}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr),
            ));
        }
        if out.stdout != want_stdout {
            let line = out
                .stdout
                .split(|&b| b == b'\n')
                .zip(want_stdout.split(|&b| b == b'\n'))
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            failures.push(format!(
                "{name}: stdout differs from Go's at line {}",
                line + 1
            ));
        }
    }
    eprintln!(
        "footprints: {} curated traces ({errors} of them Go's errors), {} failed",
        names.len(),
        failures.len()
    );
    assert!(errors > 0, "no curated trace exercises Go's error path");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reports_errors_like_go() {
    let dir = std::env::temp_dir().join(format!("trace-tool-footprint-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    // A good event, then one cut short inside a varint: Go prints no table.
    let path = dir.join("cut.trace");
    let mut trace = b"go 1.26 trace\0\0\0".to_vec();
    trace.extend([8, 7, 8, 0x80]);
    fs::write(&path, &trace).expect("write");
    let out = footprint(&path);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "trace-tool footprint: {}: unexpected EOF (truncated trace; byte offset 19)\n",
            path.display()
        )
    );
    assert_eq!(message(&out, "footprint", &path), "unexpected EOF");

    let missing = dir.join("missing.trace");
    let out = footprint(&missing);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(message(&out, "footprint", &missing), "no such file");
    let _ = fs::remove_dir_all(&dir);
}
