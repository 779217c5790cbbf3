//! Every subcommand fails the same way: one line on standard error,
//! `trace-tool CMD: FILE: message`, plain words for the usual mistakes, the
//! generation and byte offset where the reader stopped, and the same exit
//! status; and every subcommand reads standard input for `-`.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::testdata;

/// Each subcommand that reads a trace, with the arguments it needs, and its
/// exit status on failure.
fn commands(scratch: &Path) -> Vec<(&'static str, Vec<String>, i32)> {
    let html = scratch.join("out.html").display().to_string();
    let tables = scratch.join("tables").display().to_string();
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    vec![
        ("dump", s(&[]), 1),
        ("validate", s(&[]), 1),
        ("stats", s(&[]), 1),
        ("pprof", s(&["--kind", "sync"]), 1),
        ("convert", s(&["--to", "chrome"]), 1),
        ("convert", s(&["--to", "parquet", "-o", &tables]), 1),
        ("check", s(&["--max-task", "t=1ms"]), 2),
        ("raw", s(&[]), 1),
        ("footprint", s(&[]), 1),
        ("view", s(&["--html", &html]), 1),
    ]
}

/// The subcommands that rewrite a trace into a file.
fn rewriters(scratch: &Path) -> Vec<(&'static str, Vec<String>)> {
    let out = scratch.join("out.trace").display().to_string();
    vec![
        ("redact", vec!["-o".into(), out.clone()]),
        (
            "cut",
            vec!["--gen".into(), "1..1".into(), "-o".into(), out.clone()],
        ),
        ("filter", vec!["-o".into(), out]),
    ]
}

/// The rewriting subcommands fail as the others do.
#[test]
fn rewriters_fail_the_same_way() {
    let dir = scratch("rewriters");
    let not_trace = dir.join("Cargo.toml");
    fs::write(&not_trace, "[package]\n").unwrap();
    let empty = dir.join("empty.trace");
    fs::write(&empty, "").unwrap();
    let cut = dir.join("cut.trace");
    fs::write(&cut, &fs::read(trace()).unwrap()[..3000]).unwrap();
    let missing = dir.join("missing.trace");
    let cases = [
        (&not_trace, "not a Go execution trace (it does not start with \"go 1.N trace\")"),
        (&empty, "empty file, not a Go execution trace"),
        (&missing, "no such file"),
        (
            &cut,
            "failed to read full batch: read 1453 but wanted 2270 (truncated trace; byte offset 1519)",
        ),
    ];
    for (cmd, args) in rewriters(&dir) {
        for (file, msg) in &cases {
            let out = run(cmd, &args, file, None);
            assert_eq!(out.status.code(), Some(1), "{cmd} {}", file.display());
            assert_eq!(
                String::from_utf8_lossy(&out.stderr),
                format!("trace-tool {cmd}: {}: {msg}\n", file.display())
            );
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

fn run(cmd: &str, args: &[String], file: &Path, stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trace-tool"));
    c.arg(cmd).args(args).arg(file);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = c.spawn().expect("trace-tool runs");
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        // The tool may stop reading early; a closed pipe is fine.
        let _ = pipe.write_all(data);
    }
    child.wait_with_output().expect("trace-tool exits")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trace-tool-errors-{name}-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A small curated Go 1.27 trace.
fn trace() -> PathBuf {
    testdata().join("current/traces/go127-testprog-many-start-stop-advance0.trace")
}

/// Asserts that every command fails on `file` with exactly `message`
/// (after `trace-tool CMD: NAME: `), except where `special` says otherwise.
fn check_all(file: &Path, name: &str, message: &str, stdin: Option<&[u8]>) {
    let dir = scratch("all");
    let mut failures = Vec::new();
    for (cmd, args, code) in commands(&dir) {
        let out = run(cmd, &args, file, stdin);
        // pprof says what Go's `go tool trace -pprof` says first.
        let message = if cmd == "pprof"
            && !message.starts_with("no such")
            && !message.starts_with("is a dir")
        {
            format!("failed to parse any useful part of the trace: {message}")
        } else {
            message.to_string()
        };
        let want = format!("trace-tool {cmd}: {name}: {message}\n");
        let got = String::from_utf8_lossy(&out.stderr);
        if got != want || out.status.code() != Some(code) {
            failures.push(format!(
                "{cmd}: exit {:?}, stderr {got:?}; want exit {code}, {want:?}",
                out.status.code()
            ));
        }
    }
    let _ = fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn not_a_trace() {
    let dir = scratch("not");
    let file = dir.join("Cargo.toml");
    fs::write(&file, "[package]\nname = \"x\"\n").expect("write");
    let msg = "not a Go execution trace (it does not start with \"go 1.N trace\")";
    check_all(&file, &file.display().to_string(), msg, None);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn empty_file() {
    let dir = scratch("empty");
    let file = dir.join("empty.trace");
    fs::write(&file, "").expect("write");
    check_all(
        &file,
        &file.display().to_string(),
        "empty file, not a Go execution trace",
        None,
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_directory() {
    let dir = scratch("dir");
    check_all(
        &dir,
        &dir.display().to_string(),
        "is a directory, not a trace file",
        None,
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_file() {
    let file = scratch("missing").join("nothing.trace");
    check_all(&file, &file.display().to_string(), "no such file", None);
}

#[test]
fn standard_input_is_named() {
    check_all(
        Path::new("-"),
        "<stdin>",
        "not a Go execution trace (it does not start with \"go 1.N trace\")",
        Some(b"hello, world\n"),
    );
}

#[test]
fn a_truncated_trace_says_where() {
    let dir = scratch("cut");
    let file = dir.join("cut.trace");
    let bytes = fs::read(trace()).expect("curated trace");
    fs::write(&file, &bytes[..3000]).expect("write");
    let name = file.display().to_string();
    let msg = "failed to read full batch: read 1453 but wanted 2270 \
               (truncated trace; generation 36, byte offset 1519)";
    for (cmd, args, code) in commands(&dir) {
        let out = run(cmd, &args, &file, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match cmd {
            // Go's `-d=wire` and `-d=footprint` stop quietly at a batch that
            // is cut short, and so do we.
            "raw" | "footprint" => {
                assert!(out.status.success(), "{cmd}: {stderr}");
                assert_eq!(stderr, "", "{cmd}");
            }
            // The report says it on standard output, with the rest.
            "validate" => {
                assert_eq!(out.status.code(), Some(1));
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    stdout.contains(
                        "read error (generation 36, byte offset 1519, after 1 events): \
                         failed to read full batch: read 1453 but wanted 2270"
                    ),
                    "{stdout}"
                );
            }
            // Go's pprof uses the generations before the error: none here.
            "pprof" => {
                assert_eq!(out.status.code(), Some(1));
                assert_eq!(
                    stderr,
                    format!("trace-tool pprof: {name}: the trace has no goroutines\n")
                );
            }
            _ => {
                assert_eq!(out.status.code(), Some(code), "{cmd}: {stderr}");
                assert_eq!(
                    stderr,
                    format!("trace-tool {cmd}: {name}: {msg}\n"),
                    "{cmd}"
                );
            }
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

/// `-` reads the trace from standard input, for every subcommand, with the
/// same output as from the file.
#[test]
fn every_command_reads_standard_input() {
    let dir = scratch("stdin");
    let trace = trace();
    let bytes = fs::read(&trace).expect("curated trace");
    for (cmd, args, _) in commands(&dir) {
        if cmd == "view" {
            // Writes a file named after nothing in particular; compare it.
            let from_file = run(cmd, &args, &trace, None);
            assert!(from_file.status.success(), "{from_file:?}");
            let page = fs::read(dir.join("out.html")).expect("page");
            let from_stdin = run(cmd, &args, Path::new("-"), Some(&bytes));
            assert!(from_stdin.status.success(), "{from_stdin:?}");
            let again = fs::read(dir.join("out.html")).expect("page");
            assert_eq!(page.len() > 1000, again.len() > 1000);
            continue;
        }
        if args.iter().any(|a| a == "parquet") {
            // Tables in a directory: the same files from either input.
            let tables = dir.join("tables");
            let events = |file: &Path, stdin| {
                use parquet::file::reader::{FileReader, SerializedFileReader};
                let out = run(cmd, &args, file, stdin);
                assert!(out.status.success(), "{out:?}");
                let f = fs::File::open(tables.join("events.parquet")).expect("tables");
                let reader = SerializedFileReader::new(f).expect("a Parquet file");
                reader.metadata().file_metadata().num_rows()
            };
            let from_file = events(&trace, None);
            assert!(from_file > 0, "{cmd}");
            assert_eq!(from_file, events(Path::new("-"), Some(&bytes[..])), "{cmd}");
            continue;
        }
        let from_file = run(cmd, &args, &trace, None);
        let from_stdin = run(cmd, &args, Path::new("-"), Some(&bytes));
        assert_eq!(from_file.status.code(), from_stdin.status.code(), "{cmd}");
        let (a, b) = (&from_file.stdout, &from_stdin.stdout);
        if cmd == "validate" {
            // The report starts with the input's name.
            let a = String::from_utf8_lossy(a);
            let b = String::from_utf8_lossy(b);
            assert_eq!(
                a.split_once(": ").map(|x| x.1),
                b.split_once(": ").map(|x| x.1),
                "{cmd}"
            );
            assert!(b.starts_with("<stdin>: valid"), "{b}");
        } else {
            assert!(!a.is_empty(), "{cmd}: no output");
            assert!(a == b, "{cmd}: standard input gives other output");
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

/// The event-level options of `filter` that do not go together fail as the
/// other mistakes do, before reading the trace.
#[test]
fn filter_option_mistakes() {
    let dir = scratch("filter-options");
    let out = dir.join("out.trace").display().to_string();
    let file = trace();
    let cases: [(&[&str], &str); 3] = [
        (&["--from", "20", "--to", "10"], "--from 20 is after --to 10"),
        (
            &["--reencode", "--goroutine", "1"],
            "--reencode and --drop work on the wire level; use --kinds with the event-level predicates",
        ),
        (&["--from", "0", "--to", "1"], "no event of the trace is in the selection"),
    ];
    for (args, message) in cases {
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.extend(["-o".to_string(), out.clone()]);
        let o = run("filter", &args, &file, None);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr).trim_end(),
            format!("trace-tool filter: {}: {message}", file.display()),
            "{args:?}"
        );
    }
}
