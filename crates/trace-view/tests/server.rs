//! The served page and its JSON API, over HTTP on 127.0.0.1.

mod common;

use std::net::SocketAddr;

use common::{get, parse, raw_request, timeline, Json, JsonExt};
use trace_view::Server;

fn serve(name: &str) -> trace_view::Handle {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Server::bind(timeline(name), addr)
        .expect("bind")
        .spawn()
        .expect("spawn")
}

fn lane_index(meta: &Json, kind: &str) -> Vec<usize> {
    meta.at("lanes")
        .arr()
        .iter()
        .enumerate()
        .filter(|(_, l)| l.at("kind").str() == kind)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn page_and_api() {
    let h = serve("go123-testprog-annotations.trace");
    let addr = h.local_addr();
    assert!(addr.ip().is_loopback());
    assert_eq!(h.url(), format!("http://{addr}/"));

    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains("<canvas id=\"canvas\">"));
    assert!(page.text().contains("go123-testprog-annotations.trace"));
    assert!(page.text().contains("traceView"), "the script is inlined");
    assert!(
        !page.text().contains("id=\"trace-data\""),
        "served pages fetch their data"
    );

    let meta = parse(get(addr, "/api/meta").text());
    let span = meta.at("span").num() as i64;
    assert!(span > 0);
    let lanes = meta.at("lanes").arr();
    for kind in ["gc", "tasks", "proc", "thread", "goroutine"] {
        assert!(!lane_index(&meta, kind).is_empty(), "no {kind} lane");
    }
    assert!(
        lanes.iter().any(|l| l.at("name").str() == "G1 main.main"),
        "goroutines are named after their function"
    );
    let tasks = meta.at("tasks").arr();
    assert_eq!(tasks.len(), 1);
    let task = tasks[0].nums();
    assert_eq!(task[0], 1, "task id");
    assert_eq!(task[1], -1, "no parent");
    assert_eq!(meta.at("strings").at(&task[2].to_string()).str(), "task0");
    assert!(task[3] >= 0 && task[4] > task[3]);
    let charts: Vec<&str> = meta
        .at("charts")
        .arr()
        .iter()
        .map(|c| c.at("name").str())
        .collect();
    assert!(
        charts.contains(&"Heap") && charts.contains(&"Goroutines"),
        "{charts:?}"
    );

    // The whole trace at full detail.
    let n = lanes.len();
    let w = parse(
        get(
            addr,
            &format!("/api/window?t0=0&t1={}&res=0&lanes=0-{}", span + 1, n - 1),
        )
        .text(),
    );
    let strings = w.at("strings");
    let mut regions = Vec::new();
    let mut logs = Vec::new();
    let mut running = 0;
    for l in w.at("lanes").arr() {
        for row in l.at("rows").arr() {
            let v = row.nums();
            assert_eq!(v.len() % 8, 0);
            for s in v.chunks(8) {
                assert!(s[0] <= s[1], "{s:?}");
                assert_eq!(s[7], 1, "nothing merged at res=0");
                match s[2] {
                    1 => running += 1,
                    8 => {
                        regions.push((strings.at(&s[3].to_string()).str().to_string(), s[4], s[5]))
                    }
                    _ => {}
                }
            }
            for pair in v.chunks(8).collect::<Vec<_>>().windows(2) {
                assert!(pair[0][1] <= pair[1][0], "rows do not overlap: {pair:?}");
            }
        }
        let marks = l.at("marks").nums();
        assert_eq!(marks.len() % 7, 0);
        for m in marks.chunks(7) {
            logs.push((
                strings.at(&m[2].to_string()).str().to_string(),
                strings.at(&m[3].to_string()).str().to_string(),
                m[5],
            ));
        }
    }
    assert!(running > 0);
    let names: Vec<&str> = regions.iter().map(|r| r.0.as_str()).collect();
    for r in [
        "task0 region",
        "unended region",
        "region0",
        "region1",
        "post-existing region",
    ] {
        assert!(names.contains(&r), "{r} missing from {names:?}");
    }
    assert!(
        regions
            .iter()
            .filter(|r| r.0.starts_with("region"))
            .all(|r| r.1 == 1),
        "regions know their task"
    );
    assert_eq!(logs.len(), 1);
    assert_eq!(
        (logs[0].0.as_str(), logs[0].1.as_str()),
        ("key0", "0123456789abcdef")
    );

    // The log's stack.
    let stacks = parse(get(addr, &format!("/api/stacks?ids={}", logs[0].2)).text());
    let frames = stacks.at(&logs[0].2.to_string()).arr();
    assert!(!frames.is_empty());
    let funcs: Vec<&str> = frames.iter().map(|f| f.arr()[0].str()).collect();
    assert!(funcs.iter().any(|f| f.starts_with("main.")), "{funcs:?}");
    assert!(frames[0].arr()[3].str().starts_with("0x"));

    let charts = parse(get(addr, &format!("/api/charts?t0=0&t1={}&res=1000", span + 1)).text());
    assert_eq!(
        charts.at("charts").arr().len(),
        meta.at("charts").arr().len()
    );

    h.stop();
}

#[test]
fn window_answers_are_bounded_by_the_resolution() {
    let h = serve("go123-testprog-gomaxprocs-advance0.trace");
    let addr = h.local_addr();
    let meta = parse(get(addr, "/api/meta").text());
    let span = meta.at("span").num() as i64;
    let lanes = meta.at("lanes").arr().len();
    let full = parse(
        get(
            addr,
            &format!(
                "/api/window?t0=0&t1={}&res=0&lanes=0-{}",
                span + 1,
                lanes - 1
            ),
        )
        .text(),
    );
    let count = |w: &Json| -> (usize, u64, usize) {
        let (mut items, mut slices, mut max_row) = (0, 0u64, 0);
        for l in w.at("lanes").arr() {
            for row in l.at("rows").arr() {
                let v = row.nums();
                items += v.len() / 8;
                max_row = max_row.max(v.len() / 8);
                slices += v.chunks(8).map(|s| s[7] as u64).sum::<u64>();
            }
        }
        (items, slices, max_row)
    };
    let (items_full, slices_full, _) = count(&full);
    assert!(items_full > 10_000, "a busy trace: {items_full}");
    let res = span / 500;
    let coarse = parse(
        get(
            addr,
            &format!(
                "/api/window?t0=0&t1={}&res={res}&lanes=0-{}",
                span + 1,
                lanes - 1
            ),
        )
        .text(),
    );
    let (items, slices, max_row) = count(&coarse);
    assert_eq!(slices, slices_full, "merged blocks account for every slice");
    assert!(items * 2 < items_full, "{items} vs {items_full}");
    assert!(
        max_row <= 1100,
        "a row holds about span/res blocks at most: {max_row}"
    );
    // Asking for full detail over the whole trace is capped the same way.
    let capped = parse(
        get(
            addr,
            &format!(
                "/api/window?t0=0&t1={}&res=0&lanes=0-{}",
                40 * span,
                lanes - 1
            ),
        )
        .text(),
    );
    // A window far past the trace is cut to one span either side of it.
    assert_eq!(capped.at("t1").num() as i64, 2 * span + 1);
    assert!(capped.at("res").num() as i64 >= 2 * span / trace_view::MAX_BUCKETS);
    h.stop();
}

#[test]
fn bad_requests() {
    let h = serve("go123-testprog-annotations.trace");
    let addr = h.local_addr();
    assert_eq!(get(addr, "/nope").status, 404);
    assert_eq!(get(addr, "/favicon.ico").status, 204);
    assert_eq!(get(addr, "/api/window?t0=5&t1=1&lanes=0").status, 400);
    assert_eq!(get(addr, "/api/window?t0=0&t1=10").status, 400);
    assert_eq!(
        get(addr, "/api/window?t0=0&t1=10&lanes=0-999999").status,
        400
    );
    assert_eq!(get(addr, "/api/stacks?ids=x").status, 400);
    // Out-of-range lanes are left out, not an error.
    let w = parse(get(addr, "/api/window?t0=0&t1=10&lanes=4000").text());
    assert!(w.at("lanes").arr().is_empty());
    let post = raw_request(
        addr,
        &format!("POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n"),
    );
    assert_eq!(post.status, 405);
    let rebinding = raw_request(
        addr,
        "GET /api/meta HTTP/1.1\r\nHost: attacker.example\r\n\r\n",
    );
    assert_eq!(rebinding.status, 403);
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_eq!(raw_request(addr, &huge).status, 431);
    let head = raw_request(addr, &format!("HEAD / HTTP/1.1\r\nHost: {addr}\r\n\r\n"));
    assert_eq!(head.status, 200);
    assert!(head.text().is_empty());
    // Still serving after all that.
    assert_eq!(get(addr, "/api/meta").status, 200);
    h.stop();
}

#[test]
fn only_loopback() {
    let tl = timeline("go123-testprog-annotations.trace");
    let err = Server::bind(tl, "0.0.0.0:0".parse().unwrap()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn many_concurrent_clients() {
    let h = serve("go123-testprog-annotations.trace");
    let addr = h.local_addr();
    let threads: Vec<_> = (0..16)
        .map(|_| std::thread::spawn(move || (0..5).all(|_| get(addr, "/api/meta").status == 200)))
        .collect();
    for t in threads {
        assert!(t.join().unwrap());
    }
    h.stop();
}

/// The probe that overflowed `(t1 - t0) / MAX_BUCKETS` in release builds and
/// got hundreds of MB back: the answer stays about the size of a normal
/// one.
#[test]
fn extreme_windows_get_bounded_answers() {
    let h = serve("go123-testprog-annotations.trace");
    let addr = h.local_addr();
    let whole = get(addr, "/api/window?t0=0&t1=1000000000&res=1&lanes=0-63");
    assert_eq!(whole.status, 200);
    for path in [
        "/api/window?t0=-4611686018427387905&t1=4611686018427387904&res=1&lanes=0-4095",
        "/api/window?t0=-9223372036854775808&t1=9223372036854775807&res=0&lanes=0-4095",
        "/api/charts?t0=-9223372036854775808&t1=9223372036854775807&res=1",
    ] {
        let a = get(addr, path);
        assert_eq!(a.status, 200, "{path}");
        assert!(
            a.text().len() < 4 * whole.text().len() + (64 << 10),
            "{path}: {} bytes",
            a.text().len()
        );
        parse(a.text());
    }
}

/// Clients that trickle their request a byte at a time cannot hold the
/// workers: each gets the request deadline, and others are answered.
#[test]
fn slow_clients_do_not_block_the_server() {
    use std::io::Write;
    use std::time::{Duration, Instant};
    let h = serve("go123-testprog-annotations.trace");
    let addr = h.local_addr();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow: Vec<_> = (0..12)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let Ok(mut s) = std::net::TcpStream::connect(addr) else {
                    return;
                };
                let _ = s.write_all(b"GET /api/meta HTTP/1.1\r\n");
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if s.write_all(b"X").is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let a = get(addr, "/api/meta");
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in slow {
        let _ = t.join();
    }
    assert!(a.status == 200 || a.status == 503, "{}", a.status);
    assert!(took < Duration::from_secs(8), "answered after {took:?}");
}

/// The page may only run its own script and style, may not be framed, and
/// API answers may not be framed either.
#[test]
fn answers_carry_a_content_security_policy() {
    let h = serve("go123-testprog-annotations.trace");
    let addr = h.local_addr();
    let page = get(addr, "/");
    let csp = page.header("content-security-policy").expect("a CSP");
    for part in [
        "default-src 'none'",
        "script-src 'sha256-",
        "style-src 'sha256-",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{part} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let meta = get(addr, "/api/meta");
    assert!(meta
        .header("content-security-policy")
        .is_some_and(|c| c.contains("frame-ancestors 'none'")));
}
