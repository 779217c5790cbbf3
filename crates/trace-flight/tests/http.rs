//! The admin endpoint, over real sockets on 127.0.0.1 only: bearer token,
//! rate limit, snapshots streamed as `application/octet-stream`.
#![cfg(feature = "http")]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use common::{read_back, save, serial};
use trace_flight::{AdminConfig, AdminServer, FlightRecorder};
use trace_runtime::{log, TaskId};
use trace_testkit::http::Answer;

/// How long a raw connection of a test waits.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One request on a fresh connection, with an `Authorization` header if
/// given.
fn request(addr: SocketAddr, method: &str, path: &str, auth: Option<&str>) -> Answer {
    let auth = auth.map(|a| format!("Authorization: {a}"));
    let headers: Vec<&str> = auth.iter().map(String::as_str).collect();
    trace_testkit::http::request(addr, method, path, &headers)
}

const PATH: &str = "/debug/flight-recorder";

#[test]
fn serves_snapshots_to_bearers_of_the_token_at_a_limited_rate() {
    let _g = serial();
    let recorder = Arc::new(FlightRecorder::default());
    recorder.start().unwrap();
    let config = AdminConfig::new("s3cret-token").min_interval(Duration::from_secs(3600));
    let server = AdminServer::start(recorder.clone(), config).unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());

    let r = request(addr, "GET", PATH, None);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"));
    // After a failure, attempts wait (100 ms, then twice as long each time).
    assert_eq!(
        request(addr, "GET", PATH, Some("Bearer s3cret-token")).status,
        429
    );
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(
        request(addr, "GET", PATH, Some("Bearer s3cret-tokeN")).status,
        401
    );
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(
        request(addr, "GET", PATH, Some("Basic s3cret-token")).status,
        401
    );
    std::thread::sleep(Duration::from_millis(450));
    assert_eq!(
        request(addr, "GET", "/other", Some("Bearer s3cret-token")).status,
        404
    );
    assert_eq!(
        request(addr, "POST", PATH, Some("Bearer s3cret-token")).status,
        405
    );

    log(TaskId::BACKGROUND, "admin", "before the request");
    let r = request(addr, "GET", PATH, Some("Bearer s3cret-token"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(
        r.header("Content-Length"),
        Some(r.body.len().to_string().as_str())
    );
    let s = read_back(&r.body);
    assert!(s
        .logs
        .contains(&("admin".into(), "before the request".into())));
    save("http", &r.body);

    // At most one snapshot per interval.
    let r = request(addr, "GET", PATH, Some("Bearer s3cret-token"));
    assert_eq!(r.status, 429);
    let retry: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!(retry > 3000);

    server.shutdown();
    // Nothing listens any more.
    let refused = TcpStream::connect_timeout(&addr, TIMEOUT);
    if let Ok(mut stream) = refused {
        // A connection may still be accepted by the OS backlog; it gets no
        // answer.
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut buf = [0; 1];
        let read = stream.read(&mut buf);
        assert!(matches!(read, Ok(0)) || read.is_err());
    }
    recorder.stop().unwrap();
}

#[test]
fn a_stopped_recorder_answers_503() {
    let _g = serial();
    let recorder = Arc::new(FlightRecorder::default());
    let server = AdminServer::start(recorder, AdminConfig::new("t")).unwrap();
    let r = request(server.local_addr(), "GET", PATH, Some("Bearer t"));
    assert_eq!(r.status, 503);
}

#[test]
fn refuses_unsafe_configurations() {
    let recorder = Arc::new(FlightRecorder::default());
    let err = AdminServer::start(recorder.clone(), AdminConfig::new("")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let anywhere: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let err = AdminServer::start(recorder, AdminConfig::new("t").addr(anywhere)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

/// The process's resident set and thread count (Linux).
fn rss_and_threads() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |key: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        line[key.len()..]
            .trim()
            .trim_end_matches(" kB")
            .trim()
            .parse()
            .unwrap()
    };
    (field("VmRSS:") * 1024, field("Threads:"))
}

/// The process's thread count once it has settled: threads of earlier
/// tests' servers (connections finishing on their own time) are gone.
fn settled_threads() -> u64 {
    let started = std::time::Instant::now();
    let mut last = rss_and_threads().1;
    let mut same = 0;
    while same < 10 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
        let now = rss_and_threads().1;
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
    last
}

/// Sends `first`, then `filler` over and over (up to `limit` bytes),
/// without reading; returns how much was sent before the server cut the
/// connection, or `None` if it never did.
fn flood(addr: SocketAddr, first: &[u8], filler: &[u8], limit: usize) -> Option<usize> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream.write_all(first).ok()?;
    let chunk = filler.repeat((64 << 10) / filler.len());
    let mut sent = first.len();
    while sent < limit {
        match stream.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => return Some(sent),
        }
    }
    None
}

/// An endless request line or header section is cut off after a fixed
/// amount: the connection is closed long before the client is done, and the
/// host does not grow.
#[test]
fn endless_request_heads_are_cut_off() {
    let _g = serial();
    let recorder = Arc::new(FlightRecorder::default());
    let server = AdminServer::start(recorder, AdminConfig::new("t")).unwrap();
    let addr = server.local_addr();
    let (rss_before, _) = rss_and_threads();
    let limit = 256 << 20;
    let line = flood(addr, b"GET /", b"a", limit);
    let headers = flood(
        addr,
        b"GET / HTTP/1.1\r\n",
        b"X-Filler: aaaaaaaaaaaaaaaa\r\n",
        limit,
    );
    let (rss_after, _) = rss_and_threads();
    for (what, sent) in [("request line", line), ("headers", headers)] {
        let sent = sent.unwrap_or_else(|| panic!("an endless {what} was read to {limit} bytes"));
        // The head buffer plus what the kernel buffers took.
        assert!(sent < 64 << 20, "{what}: {sent} bytes sent before the cut");
    }
    assert!(
        rss_after < rss_before + (32 << 20),
        "RSS grew from {rss_before} to {rss_after}"
    );
    // The server still answers.
    assert_eq!(request(addr, "GET", PATH, Some("Bearer t")).status, 503);
}

/// A client that pipelines many requests and never reads gets one answer
/// and its connection closed; other clients are served meanwhile.
#[test]
fn pipelined_requests_do_not_stall_the_endpoint() {
    let _g = serial();
    let recorder = Arc::new(FlightRecorder::default());
    let server = AdminServer::start(recorder, AdminConfig::new("t")).unwrap();
    let addr = server.local_addr();
    let mut hog = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    hog.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let one = format!("GET /nothing-here HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let many = one.repeat(200_000);
    // The server stops reading after the first request; the write may fail
    // (or, from a server that answers each one, block once the answers
    // fill the socket buffers).
    let hog = std::thread::spawn(move || {
        let _ = hog.write_all(many.as_bytes());
        hog
    });
    std::thread::sleep(Duration::from_secs(1));
    let started = std::time::Instant::now();
    let mut other = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    other
        .write_all(b"GET /debug/flight-recorder HTTP/1.1\r\nAuthorization: Bearer t\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let read = other.read_to_end(&mut answer);
    assert!(
        read.is_ok() && answer.starts_with(b"HTTP/1.1 503"),
        "{read:?} after {:?}: {}",
        started.elapsed(),
        String::from_utf8_lossy(&answer)
    );
    drop(hog.join());
}

/// Connections that never finish their request take at most
/// `max_connections` threads; others are refused at once, and the slow ones
/// are dropped at the request deadline, after which clients are served.
#[test]
fn half_sent_requests_take_bounded_threads() {
    let _g = serial();
    let recorder = Arc::new(FlightRecorder::default());
    let config = AdminConfig::new("t")
        .max_connections(4)
        .request_timeout(Duration::from_secs(2));
    let server = AdminServer::start(recorder, config).unwrap();
    let addr = server.local_addr();
    let threads_before = settled_threads();
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
        let _ = s.write_all(b"GET /debug/flight-recorder HTTP/1.1\r\nHost: x\r\n");
        slow.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let (_, threads_during) = rss_and_threads();
    assert!(
        threads_during <= threads_before + 4,
        "{threads_before} threads before, {threads_during} with 300 half-sent requests"
    );
    // Over the limit: refused at once, not left hanging.
    let started = std::time::Instant::now();
    let r = request(addr, "GET", PATH, Some("Bearer t"));
    assert!(r.status == 503 && started.elapsed() < Duration::from_secs(2));
    // After the deadline the slow ones are gone.
    std::thread::sleep(Duration::from_secs(3));
    let r = request(addr, "GET", PATH, Some("Bearer t"));
    assert_eq!(r.status, 503);
    assert_eq!(r.body, b"the flight recorder is not started\n");
    drop(slow);
}

/// Failed token guesses are throttled: the delay after a failure doubles,
/// so a guesser gets a handful of real attempts per second at most.
#[test]
fn failed_token_guesses_are_throttled() {
    let _g = serial();
    let recorder = Arc::new(FlightRecorder::default());
    let server = AdminServer::start(recorder, AdminConfig::new("the-token")).unwrap();
    let addr = server.local_addr();
    let started = std::time::Instant::now();
    let mut checked = 0;
    let mut refused = 0;
    while started.elapsed() < Duration::from_secs(2) {
        let guess = format!("Bearer guess-{}", checked + refused);
        match request(addr, "GET", PATH, Some(&guess)).status {
            401 => checked += 1,
            429 => refused += 1,
            s => panic!("status {s}"),
        }
    }
    // 100 + 200 + 400 + 800 ms: at most 5 guesses checked in 2 s.
    assert!(checked <= 5, "{checked} guesses checked in 2 s");
    assert!(refused > 0);
    // The right token, once the wait is over, resets the throttle.
    let r = request(addr, "GET", PATH, Some("Bearer the-token"));
    let wait: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    std::thread::sleep(Duration::from_secs(wait));
    assert_eq!(
        request(addr, "GET", PATH, Some("Bearer the-token")).status,
        503
    );
}
