//! The analyses know a trace from our recorder: `stats` says so (and
//! `trace-tool stats` then leaves out the Go runtime's sections).

mod common;

#[test]
fn stats_know_our_recorder() {
    let _g = common::serial();
    let trace = common::record_bytes("stats_rust", || {
        let task = trace_annotate::new_task("job");
        task.with_region("step", || std::hint::black_box(1 + 1));
        drop(task);
    });
    let ours = trace_analysis::stats::stats(&trace[..]).unwrap();
    assert!(ours.from_rust_recorder);
    assert_eq!(ours.gc.cycles, 0);
    let go = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/traces/go123-testprog-annotations.trace"),
    )
    .unwrap();
    assert!(
        !trace_analysis::stats::stats(&go[..])
            .unwrap()
            .from_rust_recorder
    );
}
