//! An admin HTTP endpoint that serves flight-recorder snapshots (feature
//! `http`).
//!
//! A service exposes its recorder with [`AdminServer::start`]: `GET` on
//! the configured path with the header `Authorization: Bearer <token>`
//! answers with a fresh snapshot as `application/octet-stream`, streamed
//! from the shared generations without copying them.
//!
//! Safe defaults: the server binds to loopback (`127.0.0.1:0`, an ephemeral
//! port) unless told otherwise, and refuses a non-loopback address unless
//! [`AdminConfig::allow_non_loopback`] says so; it requires a non-empty
//! token, compared in constant time; and it takes at most one snapshot per
//! [`AdminConfig::min_interval`] (default 10 s), answering `429 Too Many
//! Requests` with `Retry-After` in between, because each snapshot completes
//! a generation and holds the window's memory while it is sent. Requests
//! are served one at a time by one thread, on tiny_http (no TLS: put a
//! proxy in front to expose it beyond the host).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

use crate::{Error, FlightRecorder};

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
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("addr", &self.addr)
            .field("token", &"<redacted>")
            .field("path", &self.path)
            .field("min_interval", &self.min_interval)
            .field("allow_non_loopback", &self.allow_non_loopback)
            .finish()
    }
}

impl AdminConfig {
    /// Defaults (`127.0.0.1:0`, path `/debug/flight-recorder`, one
    /// snapshot per 10 s) with the bearer token clients must present.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: token.into(),
            path: "/debug/flight-recorder".into(),
            min_interval: Duration::from_secs(10),
            allow_non_loopback: false,
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
    server: Arc<Server>,
    thread: Option<thread::JoinHandle<()>>,
}

impl std::fmt::Debug for AdminServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
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
        let server = Arc::new(Server::from_listener(listener, None).map_err(io::Error::other)?);
        let thread = {
            let server = server.clone();
            thread::Builder::new()
                .name("trace-flight-admin".into())
                .spawn(move || serve(&server, &recorder, &config))?
        };
        Ok(Self {
            addr,
            server,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the request in progress, if any.
    pub fn shutdown(self) {}
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(server: &Server, recorder: &FlightRecorder, config: &AdminConfig) {
    let mut last: Option<Instant> = None;
    // `recv` fails once `unblock` was called.
    while let Ok(request) = server.recv() {
        let _ = respond(request, recorder, config, &mut last);
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn text(status: u16, body: &str) -> Response<io::Cursor<Vec<u8>>> {
    Response::from_string(body)
        .with_status_code(StatusCode(status))
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
}

fn respond(
    request: Request,
    recorder: &FlightRecorder,
    config: &AdminConfig,
    last: &mut Option<Instant>,
) -> io::Result<()> {
    let path = request.url().split('?').next().unwrap_or_default();
    if path != config.path {
        return request.respond(text(404, "not found\n"));
    }
    if !matches!(request.method(), Method::Get) {
        return request.respond(text(405, "use GET\n").with_header(header("Allow", "GET")));
    }
    let authorized = request
        .headers()
        .iter()
        .filter(|h| h.field.equiv("Authorization"))
        .any(|h| bearer_matches(h.value.as_str(), &config.token));
    if !authorized {
        return request.respond(
            text(401, "unauthorized\n").with_header(header("WWW-Authenticate", "Bearer")),
        );
    }
    if let Some(t) = *last {
        let since = t.elapsed();
        if since < config.min_interval {
            let wait = (config.min_interval - since).as_secs_f64().ceil().max(1.0);
            return request.respond(
                text(429, "one snapshot per interval; retry later\n")
                    .with_header(header("Retry-After", &format!("{wait}"))),
            );
        }
    }
    match recorder.snapshot() {
        Ok(snapshot) => {
            *last = Some(Instant::now());
            let len = usize::try_from(snapshot.size()).ok();
            let response = Response::new(
                StatusCode(200),
                vec![
                    header("Content-Type", "application/octet-stream"),
                    header(
                        "Content-Disposition",
                        "attachment; filename=\"flight-recorder.trace\"",
                    ),
                    header("Cache-Control", "no-store"),
                ],
                snapshot,
                len,
                None,
            );
            request.respond(response)
        }
        Err(Error::NotStarted) => {
            request.respond(text(503, "the flight recorder is not started\n"))
        }
        Err(Error::SnapshotActive) => request.respond(
            text(503, "a snapshot is in progress; retry\n").with_header(header("Retry-After", "1")),
        ),
        Err(Error::NothingRetained) => request.respond(
            text(
                503,
                "the flight recorder holds no complete generation yet; retry\n",
            )
            .with_header(header("Retry-After", "1")),
        ),
        Err(e) => request.respond(text(500, &format!("snapshot failed: {e}\n"))),
    }
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
}
