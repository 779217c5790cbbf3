//! A trace in which no thread ever records anything: Go 1.23 rejects a
//! generation without events, so the recorder must still write one. (A
//! separate test binary, so that no other test has registered a thread.)

mod common;

use common::{parse, save, Capture};

#[test]
fn a_trace_without_events_is_still_valid() {
    for format in common::both_formats() {
        trace_runtime::configure(common::config().format(format)).unwrap();
        let out = Capture::default();
        trace_runtime::start(out.clone()).unwrap();
        trace_runtime::advance().unwrap();
        trace_runtime::stop().unwrap();
        let trace = out.bytes();
        save(&format!("empty_{format:?}"), &trace);
        let t = parse(&trace);
        assert_eq!(t.version, format.version());
        assert_eq!(t.gens.len(), 2);
        assert!(t.gens.iter().all(|g| g.events().count() > 0));
    }
}
