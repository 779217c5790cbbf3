//! The trace doctor line and the MMU curve, in the outline and from
//! `/api/mmu`.

mod common;

use std::net::SocketAddr;

use common::{get, parse, timeline, JsonExt};
use trace_view::Server;

#[test]
fn doctor_line_is_in_the_outline() {
    let tl = timeline("go123-testprog-annotations.trace");
    let line = tl.diagnosis().to_string();
    assert!(line.contains("no CPU samples"), "{line}");
    let meta = parse(&trace_view::json::meta_json(&tl));
    let doctor = meta.at("doctor");
    assert_eq!(doctor.at("line").str(), line);
    assert_eq!(doctor.at("ok"), &serde_json::Value::Bool(false));
    assert!(!doctor.at("findings").arr().is_empty());

    let tl = timeline("go123-testprog-cpu-profile.trace");
    let line = tl.diagnosis().to_string();
    assert!(!line.contains("no CPU samples"), "{line}");
}

#[test]
fn mmu_curve() {
    let tl = timeline("go123-testprog-gomaxprocs-advance0.trace");
    let m = tl.mmu();
    assert!(m.windows.len() >= 20, "{m:?}");
    assert!(m.windows.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(m.windows[0], 1_000);
    assert_eq!(*m.windows.last().unwrap(), tl.span());
    assert!(m.values.iter().all(|v| (0.0..=1.0).contains(v)));
    // Stop-the-world pauses longer than 1 µs; the whole trace's window
    // sees the mean.
    assert_eq!(m.values[0], 0.0);
    assert!((m.values.last().unwrap() - m.mean).abs() < 1e-9);
    assert!(m.mean > 0.0 && m.mean < 1.0, "{}", m.mean);

    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let h = Server::bind(tl, addr).unwrap().spawn().unwrap();
    let a = get(h.local_addr(), "/api/mmu");
    assert_eq!(a.status, 200);
    let j = parse(a.text());
    assert_eq!(j.at("windows").arr().len(), j.at("values").arr().len());
    assert_eq!(j.at("values").arr()[0].num(), 0.0);
    let meta = parse(get(h.local_addr(), "/api/meta").text());
    assert_eq!(meta.at("mmu"), &j);
    // It takes no parameters.
    assert_eq!(get(h.local_addr(), "/api/mmu?windows=-1").status, 400);
}
