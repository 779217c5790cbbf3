//! An admin HTTP endpoint that serves flight-recorder snapshots (feature
//! `http`).
//!
//! A service exposes its recorder with [`AdminServer::start`]: `GET` on
//! the configured path with the header `Authorization: Bearer <token>`
//! answers with a fresh snapshot as `application/octet-stream`, streamed
//! from the shared generations without copying them.
//!
//! It runs inside the service it observes, so everything it does is bounded
//! whatever a client sends:
//!
//! * it binds to loopback (`127.0.0.1:0`, an ephemeral port) unless told
//!   otherwise, and refuses a non-loopback address unless
//!   [`AdminConfig::allow_non_loopback`] says so;
//! * one request per connection (`Connection: close`): pipelined requests
//!   are dropped with the connection, never queued;
//! * the request head is read into a fixed buffer ([`MAX_REQUEST_HEAD`]):
//!   a longer request line or header section is answered `431` and the
//!   connection closed, so memory stays flat;
//! * a whole-request deadline ([`AdminConfig::request_timeout`], default
//!   5 s) for the head, and one for sending the response
//!   ([`AdminConfig::response_timeout`], default 60 s), however slowly the
//!   client trickles bytes;
//! * at most [`AdminConfig::max_connections`] connections are served at
//!   once (one thread each, default 4); more are answered `503` at once and
//!   closed;
//! * a non-empty token, compared in constant time; after a failed attempt,
//!   further attempts are refused with `429` for a delay that doubles with
//!   each consecutive failure (from 100 ms up to 10 s), so guessing is
//!   throttled to a few attempts per second at most;
//! * at most one snapshot per [`AdminConfig::min_interval`] (default 10 s),
//!   `429` with `Retry-After` in between, because each snapshot completes a
//!   generation and holds the window's memory while it is sent.
//!
//! It speaks just enough HTTP/1.1 for `curl` and scrapers, on the standard
//! library (no TLS: put a proxy in front to expose it beyond the host).

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::{Error, FlightRecorder};

/// The largest request head (request line and headers) read; longer ones
/// are refused.
pub const MAX_REQUEST_HEAD: usize = 16 << 10;

/// The first and the longest refusal delay after failed authentication.
const AUTH_DELAY_MIN: Duration = Duration::from_millis(100);
const AUTH_DELAY_MAX: Duration = Duration::from_secs(10);

/// Settings of an [`AdminServer`].
///
/// ```
/// use std::time::Duration;
/// use trace_flight::AdminConfig;
///
/// let config = AdminConfig::new("s3cret").min_interval(Duration::from_secs(30));
/// assert_eq!(config.get_addr().ip().to_string(), "127.0.0.1");
/// ```
#[derive(Clone)]
pub struct AdminConfig {
    addr: SocketAddr,
    token: String,
    path: String,
    min_interval: Duration,
    allow_non_loopback: bool,
    max_connections: usize,
    request_timeout: Duration,
    response_timeout: Duration,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("addr", &self.addr)
            .field("token", &"<redacted>")
            .field("path", &self.path)
            .field("min_interval", &self.min_interval)
            .field("allow_non_loopback", &self.allow_non_loopback)
            .field("max_connections", &self.max_connections)
            .field("request_timeout", &self.request_timeout)
            .field("response_timeout", &self.response_timeout)
            .finish()
    }
}

impl AdminConfig {
    /// Defaults (`127.0.0.1:0`, path `/debug/flight-recorder`, one
    /// snapshot per 10 s, 4 connections, 5 s to send a request, 60 s to
    /// receive the answer) with the bearer token clients must present.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: token.into(),
            path: "/debug/flight-recorder".into(),
            min_interval: Duration::from_secs(10),
            allow_non_loopback: false,
            max_connections: 4,
            request_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
        }
    }

    /// The address to bind (port 0: any free port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The path that serves snapshots.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The least time between two snapshots.
    pub fn min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }

    /// Whether a non-loopback address may be bound (default false).
    pub fn allow_non_loopback(mut self, allow: bool) -> Self {
        self.allow_non_loopback = allow;
        self
    }

    /// The most connections served at once (at least 1), each on a thread
    /// of its own; more are refused.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long a client has to send its whole request head.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long a client has to receive the whole response.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// The address to bind.
    pub fn get_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The path that serves snapshots.
    pub fn get_path(&self) -> &str {
        &self.path
    }

    /// The least time between two snapshots.
    pub fn get_min_interval(&self) -> Duration {
        self.min_interval
    }
}

/// A running admin endpoint; dropping it (or [`shutdown`]) stops it.
///
/// ```
/// use std::sync::Arc;
/// use trace_flight::{AdminConfig, AdminServer, FlightRecorder};
///
/// let recorder = Arc::new(FlightRecorder::default());
/// recorder.start()?;
/// let server = AdminServer::start(recorder.clone(), AdminConfig::new("s3cret"))?;
/// println!("curl -H 'Authorization: Bearer s3cret' http://{}/debug/flight-recorder", server.local_addr());
/// server.shutdown();
/// recorder.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`shutdown`]: AdminServer::shutdown
pub struct AdminServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<()>>,
}

impl std::fmt::Debug for AdminServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// What the accepting thread and the connection threads share.
struct Shared {
    recorder: Arc<FlightRecorder>,
    config: AdminConfig,
    stopping: AtomicBool,
    /// Connections being served.
    active: Mutex<usize>,
    idle: Condvar,
    /// When the last snapshot was taken.
    last_snapshot: Mutex<Option<Instant>>,
    auth: Mutex<AuthThrottle>,
}

/// Consecutive failed authentications, and until when attempts are refused.
#[derive(Debug, Default)]
struct AuthThrottle {
    failures: u32,
    refuse_until: Option<Instant>,
}

impl AdminServer {
    /// Binds `config`'s address and serves snapshots of `recorder` from a
    /// new thread.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an empty token, or a non-loopback address not
    /// allowed by the config; the bind error; a thread spawn error.
    pub fn start(recorder: Arc<FlightRecorder>, config: AdminConfig) -> io::Result<Self> {
        if config.token.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the admin endpoint needs a non-empty token",
            ));
        }
        if !config.addr.ip().is_loopback() && !config.allow_non_loopback {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "refusing to bind the admin endpoint to non-loopback address {} \
                     (see AdminConfig::allow_non_loopback)",
                    config.addr
                ),
            ));
        }
        let listener = TcpListener::bind(config.addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            recorder,
            config,
            stopping: AtomicBool::new(false),
            active: Mutex::new(0),
            idle: Condvar::new(),
            last_snapshot: Mutex::new(None),
            auth: Mutex::new(AuthThrottle::default()),
        });
        let thread = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("trace-flight-admin".into())
                .spawn(move || accept_loop(&listener, &shared))?
        };
        Ok(Self {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the requests in progress (each bounded
    /// by the config's timeouts).
    pub fn shutdown(self) {}
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accepting thread.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let deadline = self.shared.config.request_timeout + self.shared.config.response_timeout;
        let active = lock(&self.shared.active);
        let _ = self
            .shared
            .idle
            .wait_timeout_while(active, deadline, |n| *n > 0);
    }
}

/// Locks `m`, going on if a thread panicked while holding it (the data are
/// counters and times, consistent at every step).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let admitted = {
            let mut active = lock(&shared.active);
            if *active < shared.config.max_connections {
                *active += 1;
                true
            } else {
                false
            }
        };
        if !admitted {
            refuse_busy(stream);
            continue;
        }
        let worker = shared.clone();
        let spawned = thread::Builder::new()
            .name("trace-flight-admin-conn".into())
            .spawn(move || {
                // Counted out however the connection ends.
                let _done = Done(&worker);
                let _ = serve_connection(stream, &worker);
            });
        if spawned.is_err() {
            let mut active = lock(&shared.active);
            *active -= 1;
        }
    }
}

/// Counts a connection out when its thread ends.
struct Done<'a>(&'a Shared);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        let mut active = lock(&self.0.active);
        *active -= 1;
        self.0.idle.notify_all();
    }
}

/// Answers `503` to a connection over the limit, without waiting on it.
fn refuse_busy(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let _ = stream.write_all(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
          Retry-After: 1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbusy\n",
    );
    let _ = stream.shutdown(Shutdown::Both);
}

/// A request head, as far as the endpoint cares.
#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    authorization: Vec<String>,
}

/// Why a request head could not be read.
#[derive(Debug)]
enum HeadError {
    /// Longer than [`MAX_REQUEST_HEAD`].
    TooLarge,
    /// Not HTTP/1.x.
    Malformed,
    /// The deadline passed or the connection failed or closed.
    Io,
}

/// Reads one request head within `deadline`, into a fixed buffer.
fn read_head(stream: &mut TcpStream, deadline: Instant) -> Result<Request, HeadError> {
    let mut buf = vec![0u8; MAX_REQUEST_HEAD];
    let mut len = 0;
    let end = loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(HeadError::Io);
        }
        stream
            .set_read_timeout(Some(deadline - now))
            .map_err(|_| HeadError::Io)?;
        if len == buf.len() {
            return Err(HeadError::TooLarge);
        }
        let n = match stream.read(&mut buf[len..]) {
            Ok(0) => return Err(HeadError::Io),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(HeadError::Io),
        };
        // Look for the blank line only in what may now complete it.
        let from = len.saturating_sub(3);
        len += n;
        if let Some(i) = buf[from..len].windows(4).position(|w| w == b"\r\n\r\n") {
            break from + i;
        }
    };
    parse_head(&buf[..end])
}

/// Parses a request head (without its final blank line).
fn parse_head(head: &[u8]) -> Result<Request, HeadError> {
    let head = std::str::from_utf8(head).map_err(|_| HeadError::Malformed)?;
    let mut lines = head.split("\r\n");
    let line = lines.next().ok_or(HeadError::Malformed)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed);
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(HeadError::Malformed);
    }
    let mut authorization = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(HeadError::Malformed)?;
        if name.trim().eq_ignore_ascii_case("authorization") {
            authorization.push(value.trim().to_string());
        }
    }
    Ok(Request {
        method: method.to_string(),
        path: target.split('?').next().unwrap_or_default().to_string(),
        authorization,
    })
}

/// A writer that gives up at a deadline, however slowly its reader reads.
struct Deadline<'a> {
    stream: &'a mut TcpStream,
    deadline: Instant,
}

impl Write for Deadline<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_write_timeout(Some(self.deadline - now))?;
        self.stream.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// Writes a response with a text body.
fn text(out: &mut impl Write, status: &str, extra: &str, body: &str) -> io::Result<()> {
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}

/// Serves the one request of a connection.
fn serve_connection(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let config = &shared.config;
    let started = Instant::now();
    let head = read_head(&mut stream, started + config.request_timeout);
    let mut out = io::BufWriter::new(Deadline {
        deadline: Instant::now() + config.response_timeout,
        stream: &mut stream,
    });
    let request = match head {
        Ok(r) => r,
        Err(HeadError::TooLarge) => {
            return text(
                &mut out,
                "431 Request Header Fields Too Large",
                "",
                "request head too large\n",
            )
        }
        Err(HeadError::Malformed) => return text(&mut out, "400 Bad Request", "", "bad request\n"),
        Err(HeadError::Io) => return Ok(()),
    };
    if request.path != config.path {
        return text(&mut out, "404 Not Found", "", "not found\n");
    }
    if request.method != "GET" {
        return text(
            &mut out,
            "405 Method Not Allowed",
            "Allow: GET\r\n",
            "use GET\n",
        );
    }
    if let Err(wait) = authenticate(shared, &request) {
        return match wait {
            None => text(
                &mut out,
                "401 Unauthorized",
                "WWW-Authenticate: Bearer\r\n",
                "unauthorized\n",
            ),
            Some(wait) => text(
                &mut out,
                "429 Too Many Requests",
                &format!("Retry-After: {}\r\n", retry_after(wait)),
                "too many failed attempts; retry later\n",
            ),
        };
    }
    {
        let last = lock(&shared.last_snapshot);
        if let Some(t) = *last {
            let since = t.elapsed();
            if since < config.min_interval {
                let wait = config.min_interval - since;
                return text(
                    &mut out,
                    "429 Too Many Requests",
                    &format!("Retry-After: {}\r\n", retry_after(wait)),
                    "one snapshot per interval; retry later\n",
                );
            }
        }
    }
    let retry = "Retry-After: 1\r\n";
    match shared.recorder.snapshot() {
        Ok(mut snapshot) => {
            *lock(&shared.last_snapshot) = Some(Instant::now());
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                 Content-Disposition: attachment; filename=\"flight-recorder.trace\"\r\n\
                 Cache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                snapshot.size()
            )?;
            io::copy(&mut snapshot, &mut out)?;
            out.flush()
        }
        Err(Error::NotStarted) => text(
            &mut out,
            "503 Service Unavailable",
            "",
            "the flight recorder is not started\n",
        ),
        Err(Error::SnapshotActive) => text(
            &mut out,
            "503 Service Unavailable",
            retry,
            "a snapshot is in progress; retry\n",
        ),
        Err(Error::NothingRetained) => text(
            &mut out,
            "503 Service Unavailable",
            retry,
            "the flight recorder holds no complete generation yet; retry\n",
        ),
        Err(e) => text(
            &mut out,
            "500 Internal Server Error",
            "",
            &format!("snapshot failed: {e}\n"),
        ),
    }
}

/// Seconds for `Retry-After`, rounded up, at least 1.
fn retry_after(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.as_secs() == 0))
}

/// Checks the request's token; `Err(None)` for a wrong or missing one,
/// `Err(Some(wait))` while attempts are refused after failures.
fn authenticate(shared: &Shared, request: &Request) -> Result<(), Option<Duration>> {
    let mut throttle = lock(&shared.auth);
    if let Some(until) = throttle.refuse_until {
        let now = Instant::now();
        if now < until {
            return Err(Some(until - now));
        }
    }
    let ok = request
        .authorization
        .iter()
        .any(|v| bearer_matches(v, &shared.config.token));
    if ok {
        *throttle = AuthThrottle::default();
        return Ok(());
    }
    throttle.failures = throttle.failures.saturating_add(1);
    let delay = AUTH_DELAY_MIN
        .saturating_mul(1 << (throttle.failures - 1).min(16))
        .min(AUTH_DELAY_MAX);
    throttle.refuse_until = Some(Instant::now() + delay);
    Err(None)
}

/// Whether `value` is `Bearer <token>`; the token is compared in constant
/// time (for a given length).
fn bearer_matches(value: &str, token: &str) -> bool {
    let Some((scheme, presented)) = value.trim().split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && constant_time_eq(presented.trim().as_bytes(), token.as_bytes())
}

/// Compares without an early exit on the first difference, so the time
/// taken does not tell how much of a guess was right. (The length is not
/// secret.)
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        assert!(bearer_matches("Bearer abc", "abc"));
        assert!(bearer_matches("bearer  abc ", "abc"));
        assert!(!bearer_matches("Bearer abd", "abc"));
        assert!(!bearer_matches("Bearer ab", "abc"));
        assert!(!bearer_matches("Basic abc", "abc"));
        assert!(!bearer_matches("abc", "abc"));
        assert!(!bearer_matches("Bearer ", "abc"));
    }

    #[test]
    fn request_heads() {
        let r = parse_head(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nauthorization: Bearer t").unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/a"));
        assert_eq!(r.authorization, ["Bearer t"]);
        for bad in [
            &b"GET /a"[..],
            b"GET /a HTTP/1.1 x",
            b"GET a HTTP/1.1",
            b"GET /a SPDY/3",
            b"GET /a HTTP/1.1\r\nno colon",
            b"\xff /a HTTP/1.1",
        ] {
            assert!(
                matches!(parse_head(bad), Err(HeadError::Malformed)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after(Duration::ZERO), 1);
        assert_eq!(retry_after(Duration::from_millis(100)), 1);
        assert_eq!(retry_after(Duration::from_secs(2)), 2);
        assert_eq!(retry_after(Duration::from_millis(2100)), 3);
    }
}
