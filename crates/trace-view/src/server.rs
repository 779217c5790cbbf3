//! A small HTTP/1.1 server for the page and its JSON API, on the loopback
//! interface only.
//!
//! | path | answer |
//! | --- | --- |
//! | `/` | the page ([`server_page`]) |
//! | `/api/meta` | [`meta_json`] |
//! | `/api/window?t0=&t1=&res=&lanes=` | [`window_json`] (`lanes` as `0-5,9`) |
//! | `/api/charts?t0=&t1=&res=` | [`charts_json`] |
//! | `/api/stacks?ids=1,2` | [`stacks_json`] |
//! | `/api/task?id=N` | [`task_json`] (404 for no such task) |
//! | `/api/mmu` | [`mmu_json`] |
//! | `/api/flame?kind=cpu\|block\|syscall[&t0=&t1=][&g=\|&task=][&max=]` | [`flame_json`] |
//! | `/api/chain?g=&t=` or `/api/chain?task=` | [`chain_json`] |
//!
//! The flame and chain requests are checked strictly: an unknown, repeated
//! or malformed parameter is a 400, an unknown goroutine or task a 404.
//!
//! Handling is bounded: a fixed pool of worker threads takes connections
//! from a short queue; a request head is at most 16 KiB and must arrive
//! within a few seconds; a window answer never holds more than about
//! [`MAX_BUCKETS`] items per row, whatever resolution is asked for; one
//! request per connection. Requests naming another host than the loopback
//! one are refused, so that other web pages cannot reach the server through
//! DNS rebinding.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::flame::{
    chain, flame, task_chain_start, FlameKind, Scope, Selection, MAX_CHAIN_STEPS, MAX_FLAME_NODES,
};
use crate::json::{
    chain_json, charts_json, flame_json, meta_json, mmu_json, parse_lanes, stacks_json, task_json,
    window_json, WindowQuery,
};
use crate::model::Timeline;
use crate::page::server_page;

/// The most blocks per row a window answer may hold: the resolution is
/// raised to `(t1 - t0) / MAX_BUCKETS` if finer.
pub const MAX_BUCKETS: i64 = 20_000;

/// The most blocks (over all lanes) a window answer is sized for: the
/// resolution is raised to `(t1 - t0) * lanes / MAX_WINDOW_BLOCKS` if finer.
pub const MAX_WINDOW_BLOCKS: i64 = 400_000;

const WORKERS: usize = 8;
const QUEUE: usize = 32;
const MAX_HEAD: usize = 16 << 10;
const MAX_STACK_IDS: usize = 4096;
/// How long a client has to send its request head, in all.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// How long a client has to take its answer, in all.
const RESPONSE_DEADLINE: Duration = Duration::from_secs(30);

pub(crate) struct Shared {
    timeline: Timeline,
    page: String,
    meta: String,
    port: u16,
}

impl Shared {
    pub(crate) fn new(timeline: Timeline, port: u16) -> Shared {
        Shared {
            page: server_page(timeline.title()),
            meta: meta_json(&timeline),
            timeline,
            port,
        }
    }
}

/// What the server answers to `target` (a request's path and query): the
/// status line's code and text, and the body.
pub(crate) fn answer(shared: &Shared, target: &str) -> (&'static str, Vec<u8>) {
    let r = route(target, shared);
    (r.status, r.body)
}

/// A server bound to a loopback address, not yet serving.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .finish()
    }
}

impl Server {
    /// Binds `addr`, which must be a loopback address (port 0 picks a free
    /// port).
    pub fn bind(timeline: Timeline, addr: SocketAddr) -> io::Result<Server> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing to serve on {addr}: only loopback addresses are allowed"),
            ));
        }
        let listener = TcpListener::bind(addr)?;
        let port = listener.local_addr()?.port();
        Ok(Server {
            listener,
            shared: Arc::new(Shared::new(timeline, port)),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The page's URL, e.g. `http://127.0.0.1:43121/`.
    pub fn url(&self) -> String {
        url(self.listener.local_addr().ok())
    }

    /// Serves until the process ends.
    pub fn run(self) -> io::Result<()> {
        let stop = Arc::new(AtomicBool::new(false));
        serve(self.listener, self.shared, stop)
    }

    /// Serves on a background thread until [`Handle::stop`].
    pub fn spawn(self) -> io::Result<Handle> {
        let addr = self.listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("trace-view-accept".into())
            .spawn(move || serve(self.listener, self.shared, flag))?;
        Ok(Handle {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

fn url(addr: Option<SocketAddr>) -> String {
    match addr {
        Some(a) => format!("http://{a}/"),
        None => String::new(),
    }
}

/// A server running on a background thread.
#[derive(Debug)]
pub struct Handle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Handle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        url(Some(self.addr))
    }

    /// Stops accepting, lets the workers finish, and waits for them.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve(listener: TcpListener, shared: Arc<Shared>, stop: Arc<AtomicBool>) -> io::Result<()> {
    let (tx, rx) = sync_channel::<TcpStream>(QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    let mut workers = Vec::new();
    for i in 0..WORKERS {
        let rx = rx.clone();
        let shared = shared.clone();
        workers.push(
            std::thread::Builder::new()
                .name(format!("trace-view-http-{i}"))
                .spawn(move || worker(&rx, &shared))?,
        );
    }
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match conn {
            Ok(stream) => match tx.try_send(stream) {
                Ok(()) => {}
                // Every worker busy and the queue full: say so at once
                // rather than keep the client (or the accept loop) waiting.
                Err(std::sync::mpsc::TrySendError::Full(stream)) => {
                    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
                    let _ =
                        write_response(&stream, &Response::error("503 Service Unavailable"), false);
                }
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => break,
            },
            // A peer that gave up, or descriptors running out for a moment:
            // keep serving.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    drop(tx);
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

fn worker(rx: &Mutex<Receiver<TcpStream>>, shared: &Shared) {
    loop {
        let stream = {
            let Ok(rx) = rx.lock() else { return };
            match rx.recv() {
                Ok(s) => s,
                Err(_) => return,
            }
        };
        let _ = handle(stream, shared);
    }
}

/// A response: status, content type, body.
struct Response {
    status: &'static str,
    ty: &'static str,
    body: Vec<u8>,
}

impl Response {
    fn json(body: String) -> Self {
        Response {
            status: "200 OK",
            ty: "application/json",
            body: body.into_bytes(),
        }
    }

    fn error(status: &'static str) -> Self {
        Response {
            status,
            ty: "text/plain; charset=utf-8",
            body: format!("{status}\n").into_bytes(),
        }
    }

    /// The timeline's rows could not be read (500, with the reason).
    fn failed(e: &io::Error) -> Self {
        let status = "500 Internal Server Error";
        Response {
            status,
            ty: "text/plain; charset=utf-8",
            body: format!("{status}\n{e}\n").into_bytes(),
        }
    }

    fn read(body: io::Result<String>) -> Self {
        match body {
            Ok(body) => Response::json(body),
            Err(e) => Response::failed(&e),
        }
    }
}

/// A reader that gives up at a deadline for all its reads together, so a
/// client cannot hold a worker by trickling bytes.
struct DeadlineReader<'a> {
    stream: &'a TcpStream,
    deadline: std::time::Instant,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let now = std::time::Instant::now();
        if now >= self.deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(self.deadline - now))?;
        let mut stream = self.stream;
        stream.read(buf)
    }
}

fn handle(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_write_timeout(Some(RESPONSE_DEADLINE))?;
    let deadline = std::time::Instant::now() + REQUEST_DEADLINE;
    let source = DeadlineReader {
        stream: &stream,
        deadline,
    };
    let mut reader = BufReader::new(source.take(MAX_HEAD as u64));
    let mut head = Vec::new();
    // Read lines up to the blank line that ends the head.
    loop {
        let before = head.len();
        let n = reader.read_until(b'\n', &mut head)?;
        if n == 0 {
            break;
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if head.len() >= MAX_HEAD {
            return respond(
                &stream,
                &Response::error("431 Request Header Fields Too Large"),
                false,
            );
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return respond(&stream, &Response::error("405 Method Not Allowed"), false);
    }
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("host") && !host_allowed(value.trim(), shared.port) {
                return respond(&stream, &Response::error("403 Forbidden"), false);
            }
        }
    }
    let response = route(target, shared);
    respond(&stream, &response, head_only)
}

fn host_allowed(host: &str, port: u16) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, p)) if p == port.to_string() => name,
        Some(_) => return false,
        None => host,
    };
    matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

fn respond(stream: &TcpStream, r: &Response, head_only: bool) -> io::Result<()> {
    write_response(stream, r, head_only)?;
    // Close gently: closing a socket with unread input resets the
    // connection, which may destroy the answer before the client reads it.
    // So end our side, then drain (a little of) what the client still
    // sends until it closes its side.
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    let _ = io::copy(&mut stream.take(1 << 20), &mut io::sink());
    Ok(())
}

fn write_response(mut stream: &TcpStream, r: &Response, head_only: bool) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n\
         Content-Security-Policy: {}\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        r.status,
        r.ty,
        r.body.len(),
        if r.ty.starts_with("text/html") {
            crate::page::content_security_policy()
        } else {
            "default-src 'none'; frame-ancestors 'none'"
        }
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(&r.body)?;
    }
    stream.flush()
}

/// The value of query parameter `name`, percent-decoded.
fn param<'a>(query: &'a str, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
}

fn percent_decode(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('%') && !s.contains('+') {
        return s.into();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned().into()
}

fn int_param(query: &str, name: &str) -> Option<i64> {
    param(query, name)?.parse().ok()
}

fn route(target: &str, shared: &Shared) -> Response {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let tl = &shared.timeline;
    match path {
        "/" | "/index.html" => Response {
            status: "200 OK",
            ty: "text/html; charset=utf-8",
            body: shared.page.clone().into_bytes(),
        },
        "/api/meta" => Response::json(shared.meta.clone()),
        "/api/window" => {
            let (Some(t0), Some(t1), Some(lanes)) = (
                int_param(query, "t0"),
                int_param(query, "t1"),
                param(query, "lanes").and_then(|l| parse_lanes(&l)),
            ) else {
                return Response::error("400 Bad Request");
            };
            let Some((t0, t1)) = clamp_window(tl.span(), t0, t1) else {
                return Response::error("400 Bad Request");
            };
            let n_lanes = lanes.iter().filter(|&&l| l < tl.lanes().len()).count();
            let res = resolution(int_param(query, "res"), t0, t1, n_lanes);
            Response::read(window_json(tl, &WindowQuery { lanes, t0, t1, res }))
        }
        "/api/charts" => {
            let (Some(t0), Some(t1)) = (int_param(query, "t0"), int_param(query, "t1")) else {
                return Response::error("400 Bad Request");
            };
            let Some((t0, t1)) = clamp_window(tl.span(), t0, t1) else {
                return Response::error("400 Bad Request");
            };
            let res = resolution(int_param(query, "res"), t0, t1, 1);
            Response::read(charts_json(tl, t0, t1, res))
        }
        "/api/stacks" => {
            let ids: Option<Vec<u32>> = param(query, "ids")
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().ok())
                .collect();
            match ids {
                Some(ids) if ids.len() <= MAX_STACK_IDS => Response::json(stacks_json(tl, &ids)),
                _ => Response::error("400 Bad Request"),
            }
        }
        "/api/mmu" if query.is_empty() => Response::json(mmu_json(tl)),
        "/api/mmu" => Response::error("400 Bad Request"),
        "/api/task" => {
            // A task id is a u64: anything else (a sign, a fraction, more
            // than 20 digits) is refused rather than wrapped.
            let Some(id) = param(query, "id").and_then(|v| v.parse::<u64>().ok()) else {
                return Response::error("400 Bad Request");
            };
            match task_json(tl, id) {
                Ok(Some(body)) => Response::json(body),
                Ok(None) => Response::error("404 Not Found"),
                Err(e) => Response::failed(&e),
            }
        }
        "/api/flame" => flame_route(query, tl),
        "/api/chain" => chain_route(query, tl),
        "/favicon.ico" => Response {
            status: "204 No Content",
            ty: "text/plain",
            body: Vec::new(),
        },
        _ => Response::error("404 Not Found"),
    }
}

/// The parameters of `query`, if each is one of `allowed`, given once, with
/// a non-empty value.
fn strict_params<'a>(query: &'a str, allowed: &[&str]) -> Option<Params<'a>> {
    let mut out: Vec<(&str, std::borrow::Cow<'_, str>)> = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=')?;
        if !allowed.contains(&k) || v.is_empty() || out.iter().any(|(o, _)| *o == k) {
            return None;
        }
        out.push((k, percent_decode(v)));
    }
    Some(Params(out))
}

/// A query's parameters, each at most once, decoded.
struct Params<'a>(Vec<(&'a str, std::borrow::Cow<'a, str>)>);

impl Params<'_> {
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.as_ref())
    }
}

/// A number in plain decimal digits (an optional leading `-`), nothing else.
fn strict_int<T: std::str::FromStr>(v: &str) -> Option<T> {
    let digits = v.strip_prefix('-').unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

fn flame_route(query: &str, tl: &Timeline) -> Response {
    let bad = || Response::error("400 Bad Request");
    let Some(params) = strict_params(query, &["kind", "t0", "t1", "g", "task", "max"]) else {
        return bad();
    };
    let get = |k: &str| params.get(k);
    let Some(kind) = get("kind").and_then(FlameKind::from_name) else {
        return bad();
    };
    let (t0, t1) = match (get("t0"), get("t1")) {
        (None, None) => (0, tl.span().saturating_add(1)),
        (Some(a), Some(b)) => match (strict_int::<i64>(a), strict_int::<i64>(b)) {
            (Some(a), Some(b)) if a < b => (a, b),
            _ => return bad(),
        },
        _ => return bad(),
    };
    let scope = match (get("g"), get("task")) {
        (None, None) => Scope::All,
        (Some(g), None) => match strict_int::<i64>(g) {
            Some(g) if g >= 0 => Scope::Goroutine(g),
            _ => return bad(),
        },
        (None, Some(t)) => match strict_int::<u64>(t) {
            Some(t) => Scope::Task(t),
            None => return bad(),
        },
        _ => return bad(),
    };
    let max = match get("max") {
        None => MAX_FLAME_NODES,
        Some(m) => match strict_int::<usize>(m) {
            Some(m) if (1..=MAX_FLAME_NODES).contains(&m) => m,
            _ => return bad(),
        },
    };
    let sel = Selection { t0, t1, scope };
    match flame(tl, kind, &sel, max) {
        Ok(Some(f)) => Response::json(flame_json(tl, &f, &sel)),
        Ok(None) => Response::error("404 Not Found"),
        Err(e) => Response::failed(&e),
    }
}

fn chain_route(query: &str, tl: &Timeline) -> Response {
    let bad = || Response::error("400 Bad Request");
    let Some(params) = strict_params(query, &["g", "t", "task"]) else {
        return bad();
    };
    let get = |k: &str| params.get(k);
    let start = match (get("g"), get("t"), get("task")) {
        (Some(g), Some(t), None) => match (strict_int::<i64>(g), strict_int::<i64>(t)) {
            (Some(g), Some(t)) if g >= 0 => Some((g, t)),
            _ => return bad(),
        },
        (None, None, Some(task)) => match strict_int::<u64>(task) {
            Some(id) => task_chain_start(tl, id),
            None => return bad(),
        },
        _ => return bad(),
    };
    let Some((g, t)) = start else {
        return Response::error("404 Not Found");
    };
    match chain(tl, g, t, MAX_CHAIN_STEPS) {
        Ok(Some(steps)) => Response::json(chain_json(tl, g, t, &steps)),
        Ok(None) => Response::error("404 Not Found"),
        Err(e) => Response::failed(&e),
    }
}

/// A window `t0 < t1` (ns from the trace's start) cut down to at most one
/// trace span either side of the trace, so that its width is bounded and
/// computed without overflow; `None` if empty.
fn clamp_window(span: i64, t0: i64, t1: i64) -> Option<(i64, i64)> {
    if t1 <= t0 {
        return None;
    }
    let span = span.max(1);
    let lo = span.saturating_neg().saturating_sub(1);
    let hi = span.saturating_mul(2).saturating_add(1);
    let (t0, t1) = (t0.clamp(lo, hi), t1.clamp(lo, hi));
    (t0 < t1).then_some((t0, t1))
}

/// The resolution of an answer over `t0..t1` for `lanes` lanes: what the
/// client asked for, raised so that a row holds at most [`MAX_BUCKETS`]
/// blocks and the answer about [`MAX_WINDOW_BLOCKS`].
fn resolution(asked: Option<i64>, t0: i64, t1: i64, lanes: usize) -> i64 {
    let width = i128::from(t1) - i128::from(t0);
    let per_row = width / i128::from(MAX_BUCKETS);
    let per_answer = width * (lanes.max(1) as i128) / i128::from(MAX_WINDOW_BLOCKS);
    let res = i128::from(asked.unwrap_or(0).max(0))
        .max(per_row)
        .max(per_answer);
    i64::try_from(res).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_bounded_without_overflow() {
        // The probe that overflowed `(t1 - t0) / MAX_BUCKETS`.
        let (t0, t1) = clamp_window(
            1_000_000,
            -4_611_686_018_427_387_905,
            4_611_686_018_427_387_904,
        )
        .unwrap();
        assert_eq!((t0, t1), (-1_000_001, 2_000_001));
        assert_eq!(resolution(Some(1), t0, t1, 1), 150);
        assert_eq!(clamp_window(10, i64::MIN, i64::MAX), Some((-11, 21)));
        assert_eq!(
            clamp_window(i64::MAX, i64::MIN, i64::MAX),
            Some((i64::MIN, i64::MAX))
        );
        assert!(resolution(Some(0), i64::MIN, i64::MAX, 4096) > 0);
        assert_eq!(clamp_window(10, 5, 5), None);
        assert_eq!(clamp_window(10, 100, 200), None);
        // The answer's size, not only each row's, bounds the resolution.
        assert_eq!(resolution(Some(1), 0, 1_000_000, 4000), 10_000);
    }

    #[test]
    fn hosts() {
        assert!(host_allowed("127.0.0.1:8080", 8080));
        assert!(host_allowed("localhost:8080", 8080));
        assert!(host_allowed("localhost", 8080));
        assert!(!host_allowed("evil.example:8080", 8080));
        assert!(!host_allowed("127.0.0.1:9090", 8080));
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("0-5%2C7"), "0-5,7");
        assert_eq!(percent_decode("a+b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(param("a=1&lanes=0-3", "lanes").as_deref(), Some("0-3"));
        assert_eq!(param("a=1", "lanes"), None);
    }
}
