//! `trace-tool view`: the offline page, and the server on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn tool() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trace-tool"))
}

fn trace(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/traces")
        .join(name)
}

/// Kills the child when dropped, so a failing test leaves no server behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn html_writes_one_offline_page() {
    let out = std::env::temp_dir().join(format!("trace-tool-view-{}.html", std::process::id()));
    let status = tool()
        .args(["view", "--html"])
        .arg(&out)
        .arg(trace("go123-testprog-annotations.trace"))
        .status()
        .unwrap();
    assert!(status.success());
    let html = std::fs::read_to_string(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    assert!(html.contains("<canvas id=\"canvas\">"));
    assert!(html.contains("id=\"trace-data\""));
    assert!(html.contains("\"title\":\"go123-testprog-annotations.trace\""));
    assert!(
        !html.contains("<script src") && !html.contains("<link"),
        "nothing loaded from elsewhere"
    );
}

/// The rows go to an unnamed temporary file in `TMPDIR`; where none can be
/// made they stay in memory, and the page is the same.
#[test]
fn rows_stay_in_memory_without_a_temporary_directory() {
    let page = |tmpdir: &std::path::Path, name: &str| {
        let out = std::env::temp_dir().join(format!(
            "trace-tool-view-{name}-{}.html",
            std::process::id()
        ));
        let run = tool()
            .env("TMPDIR", tmpdir)
            .args(["view", "--html"])
            .arg(&out)
            .arg(trace("go123-testprog-annotations.trace"))
            .output()
            .unwrap();
        assert!(run.status.success(), "{run:?}");
        let html = std::fs::read_to_string(&out).unwrap();
        std::fs::remove_file(&out).unwrap();
        (String::from_utf8_lossy(&run.stderr).into_owned(), html)
    };
    let (said, in_memory) = page(std::path::Path::new("/nonexistent/tmp"), "mem");
    assert!(said.contains("in memory: no temporary file"), "{said}");
    let (said, on_disk) = page(&std::env::temp_dir(), "disk");
    assert!(said.contains("in an unnamed temporary file"), "{said}");
    assert_eq!(in_memory, on_disk);
}

#[test]
fn serves_on_loopback_and_prints_the_url() {
    let child = tool()
        .arg("view")
        .arg(trace("go123-testprog-annotations.trace"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Child(child);
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"));
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_ne!(addr, "127.0.0.1:0");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET /api/meta HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\"kind\":\"tasks\""));
}

#[test]
fn a_missing_file_is_an_error() {
    let out = tool()
        .args(["view", "/nonexistent/x.trace"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.trace"));
}

/// A trace that breaks off is shown up to there: the reader's error line,
/// as the other commands print it, says where and how much is shown, the
/// page's doctor line says it too, and the exit status is success.
#[test]
fn a_trace_that_breaks_off_is_shown_up_to_there() {
    let dir = std::env::temp_dir().join(format!("trace-tool-view-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let whole = std::fs::read(trace("go123-testprog-gomaxprocs-advance0.trace")).unwrap();
    let cut = dir.join("cut.trace");
    std::fs::write(&cut, &whole[..whole.len() * 2 / 3]).unwrap();
    let page = dir.join("cut.html");
    let out = tool()
        .args(["view", "--html"])
        .arg(&page)
        .arg(&cut)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let first = stderr.lines().next().unwrap_or("");
    let prefix = format!("trace-tool view: {}: ", cut.display());
    assert!(first.starts_with(&prefix), "{first}");
    assert!(first.contains("generation "), "{first}");
    assert!(first.contains("; showing the "), "{first}");
    let shown: u64 = first
        .rsplit_once("showing the ")
        .and_then(|(_, n)| n.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(shown > 0);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("truncated in generation"));
    // The whole trace has no such line.
    let whole_out = tool()
        .args(["view", "--html"])
        .arg(&page)
        .arg(trace("go123-testprog-gomaxprocs-advance0.trace"))
        .output()
        .unwrap();
    assert!(whole_out.status.success());
    assert!(!String::from_utf8_lossy(&whole_out.stderr).contains("showing the"));
    let _ = std::fs::remove_dir_all(&dir);
}
