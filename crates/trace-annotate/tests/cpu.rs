//! CPU profile samples: a busy thread's time shows as `StackSample` events
//! attributed to its M and goroutine, with the busy function at the top of
//! the stack; a thread that never recorded an event still shows.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

mod common;

use std::time::{Duration, Instant};

use trace_reader::{EventKind, Reader};
use trace_runtime::Config;

/// Burns CPU for `d` (not inlined, so that samples name it).
#[inline(never)]
fn spin_for_samples(d: Duration) -> u64 {
    let start = Instant::now();
    let mut h = 1u64;
    while start.elapsed() < d {
        for i in 0..10_000u64 {
            h = std::hint::black_box(h.rotate_left(7) ^ i);
        }
    }
    h
}

#[test]
fn busy_threads_show_in_cpu_samples() {
    let _g = common::serial();
    trace_runtime::configure(
        Config::default()
            .format(common::format())
            .cpu_profile(1000)
            .generation_period(Duration::from_millis(100)),
    )
    .unwrap();
    let trace = common::record_bytes("cpu_samples", || {
        let traced = std::thread::Builder::new()
            .name("busy".into())
            .spawn(|| {
                trace_annotate::log("busy", "start");
                spin_for_samples(Duration::from_millis(300))
            })
            .unwrap();
        // Never records an event.
        let silent = std::thread::spawn(|| spin_for_samples(Duration::from_millis(200)));
        traced.join().unwrap();
        silent.join().unwrap();
    });
    common::use_format(common::format());
    let report = trace_reader::validate(&trace[..]);
    assert!(report.is_valid(), "{report}");

    let mut samples = 0;
    let mut named = 0;
    let mut with_goroutine = 0;
    let mut threads = std::collections::BTreeSet::new();
    let mut reader = Reader::new(&trace[..]).unwrap();
    while let Some(ev) = reader.read_event_ref().unwrap() {
        if ev.kind() != EventKind::StackSample {
            continue;
        }
        samples += 1;
        threads.insert(ev.thread());
        if ev.goroutine().is_some() {
            with_goroutine += 1;
        }
        let top = ev.stack().and_then(|s| s.frames().next());
        // The loop's body is `black_box`, inlined: the symbolizer names the
        // innermost inlined function.
        let busy = |f: &str| {
            ["spin_for_samples", "black_box", "rotate_left"]
                .iter()
                .any(|b| f.contains(b))
        };
        if top.is_some_and(|f| busy(&f.func.to_string())) {
            named += 1;
        }
    }
    // 0.5 s of CPU at 1000 Hz: hundreds of samples on an idle machine; a
    // loaded one gives fewer, never none.
    assert!(samples >= 20, "{samples} samples");
    // The rest is the harness and the recorder's own work (symbolizing).
    assert!(
        named >= 10 && named * 3 >= samples,
        "{named} of {samples} samples in spin_for_samples"
    );
    assert!(threads.len() >= 2, "samples from {threads:?}");
    assert!(
        with_goroutine > 0,
        "no sample names the traced thread's goroutine"
    );
    assert_eq!(trace_runtime::cpu_samples_lost(), 0);
}

/// `pprof --kind cpu --region/--task`: the samples of a region (inside a
/// task) are counted for it, those outside are not.
#[test]
fn cpu_profile_of_one_region_or_task() {
    use trace_analysis::pprof::{cpu_profile, CpuScope};
    let _g = common::serial();
    trace_runtime::configure(Config::default().format(common::format()).cpu_profile(1000)).unwrap();
    let trace = common::record_bytes("cpu_regions", || {
        let task = trace_annotate::new_task("request");
        task.with_region("hot", || spin_for_samples(Duration::from_millis(250)));
        drop(task);
        // Outside any region.
        spin_for_samples(Duration::from_millis(250));
    });
    common::use_format(common::format());
    let total = |scope| -> i64 {
        let p = cpu_profile(&trace[..], scope, 1_000_000).unwrap();
        p.samples.iter().map(|s| s.count).sum()
    };
    let all = total(CpuScope::All);
    let hot = total(CpuScope::Region("hot".into()));
    let request = total(CpuScope::Task("request".into()));
    assert!(all >= 20, "{all} samples");
    assert!(hot > 0 && hot < all, "{hot} of {all} in the region");
    assert!(
        hot * 5 >= all && hot * 5 <= all * 4,
        "{hot} of {all}: not about half"
    );
    assert_eq!(request, hot, "the task's samples are its region's");
    assert_eq!(total(CpuScope::Region("cold".into())), 0);
    assert_eq!(total(CpuScope::Task("other".into())), 0);
}
