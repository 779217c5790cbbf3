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

const TIMEOUT: Duration = Duration::from_secs(30);

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection, with timeouts.
fn request(addr: SocketAddr, method: &str, path: &str, auth: Option<&str>) -> Response {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(auth) = auth {
        req.push_str(&format!("Authorization: {auth}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
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
    assert_eq!(
        request(addr, "GET", PATH, Some("Bearer s3cret-tokeN")).status,
        401
    );
    assert_eq!(
        request(addr, "GET", PATH, Some("Basic s3cret-token")).status,
        401
    );
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
