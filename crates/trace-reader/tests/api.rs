//! The event API on real traces: the kind-specific views say what the
//! printed events say.

use std::path::Path;

use trace_reader::{
    EventKind, GoId, GoState, ProcState, RangeName, Reader, ResourceId, StateChange, TaskId, Value,
    NO_GOROUTINE, NO_TASK,
};

fn read(name: &str) -> Vec<trace_reader::Event> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/traces")
        .join(format!("{name}.trace"));
    Reader::new(std::fs::File::open(path).unwrap())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn views_of_an_annotated_trace() {
    let all = read("go123-testprog-annotations");
    // Today's reader starts every generation with a sync event.
    let sync = all[0].sync().expect("a sync event first");
    assert_eq!(sync.n, 1);
    assert!(
        sync.clock_snapshot.is_none(),
        "Go 1.23 traces have no clock"
    );
    let events = &all[1..];
    let first = &events[0];
    assert_eq!(first.kind(), EventKind::StateTransition);
    assert_eq!(first.goroutine(), NO_GOROUTINE);
    let t = first.state_transition().unwrap();
    assert_eq!(t.resource, ResourceId::Proc(trace_reader::ProcId(1)));
    assert_eq!(
        t.proc(),
        Some((ProcState::Undetermined, ProcState::Running))
    );
    assert!(first.task().is_none() && first.log().is_none());

    let metric = events[2].metric().unwrap();
    assert_eq!(metric.name, "/sched/gomaxprocs:threads");
    assert_eq!(metric.value, Value::Uint64(2));
    let frames: Vec<_> = events[2].stack().unwrap().frames().collect();
    assert_eq!(frames[0].func, "runtime.traceLocker.Gomaxprocs");
    assert!(frames[0]
        .file
        .as_bytes()
        .ends_with(b"runtime/traceruntime.go"));

    let stw = events[3].range().unwrap();
    assert_eq!(stw.name.to_string(), "stop-the-world (start trace)");
    assert!(matches!(stw.name, RangeName::StopTheWorld(kind) if kind == "start trace"));
    assert_eq!(stw.scope, ResourceId::Goroutine(GoId(1)));

    let begin = events.iter().find_map(|e| e.task()).unwrap();
    assert_eq!((begin.id, begin.parent), (TaskId(1), NO_TASK));
    assert_eq!(begin.ty, "task0");
    let end = events
        .iter()
        .filter(|e| e.kind() == EventKind::TaskEnd)
        .find_map(|e| e.task())
        .unwrap();
    assert_eq!((end.id, end.ty), (TaskId(1), begin.ty));

    let log = events.iter().find_map(|e| e.log()).unwrap();
    assert_eq!(
        (log.category.to_str(), log.message.to_str()),
        (Some("key0"), Some("0123456789abcdef"))
    );
    let region = events.iter().find_map(|e| e.region()).unwrap();
    assert_eq!(region.ty, "task0 region");

    // A creation: the transition stack is the new goroutine's.
    let create = events
        .iter()
        .find(|e| {
            matches!(
                e.state_transition().map(|t| t.change),
                Some(StateChange::Goroutine {
                    from: GoState::NotExist,
                    ..
                })
            )
        })
        .unwrap();
    let t = create.state_transition().unwrap();
    assert!(t.stack.is_some() && create.stack().is_some());
    assert_ne!(t.stack, create.stack());

    // Times strictly increase; the stream ends with a sync.
    assert!(events.windows(2).all(|w| w[0].time() < w[1].time()));
    let last = events.last().unwrap();
    assert_eq!(last.kind(), EventKind::Sync);
    // One generation: a sync before it and one after it.
    assert_eq!(last.sync().unwrap().n, 2);
    assert!(last.sync().unwrap().clock_snapshot.is_none());
}

#[test]
fn experimental_events_carry_their_batches() {
    let events = read("go123-testprog-annotations-allocfree");
    let x = events.iter().find_map(|e| e.experimental()).unwrap();
    assert_eq!(x.name, "Span");
    assert_eq!(x.arg_names, ["id", "npages_value", "kindclass"]);
    assert_eq!(x.args.len(), 3);
    let data = x.data.expect("experimental batches");
    assert!(!data.batches.is_empty());
}

#[test]
fn cpu_samples_are_stack_samples() {
    let events = read("go123-testprog-cpu-profile");
    let sample = events
        .iter()
        .find(|e| e.kind() == EventKind::StackSample)
        .expect("a CPU sample");
    assert!(sample.stack().is_some());
    assert!(sample.thread().is_some());
}

#[test]
fn events_and_readers_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<trace_reader::Event>();
    send_sync::<trace_reader::Error>();
    fn send<T: Send>() {}
    send::<Reader<std::fs::File>>();
}

/// `read_event_ref` lends the same events `read_event` returns: same text,
/// same stacks, same sync details, on traces with several generations and
/// both threading modes.
#[test]
fn lent_events_are_the_returned_events() {
    use trace_reader::{Options, Threading};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    for path in [
        dir.join("traces/go123-testprog-many-start-stop-advance0.trace"),
        dir.join("traces/go123-testprog-cpu-profile.trace"),
        dir.join("current/traces/go127-nestedtasks-advance0.trace"),
        dir.join("current/traces/go125-flightrec-dual-snap2.trace"),
    ] {
        let bytes = std::fs::read(&path).unwrap();
        let owned: Vec<String> = Reader::new(&bytes[..])
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                format!("{e} {:?}", e.sync().map(|s| (s.n, s.clock_snapshot)))
            })
            .collect();
        for threading in [Threading::Never, Threading::Always] {
            let mut reader =
                Reader::with_options(&bytes[..], Options::new().threading(threading)).unwrap();
            let mut lent = Vec::new();
            while let Some(e) = reader.read_event_ref().unwrap() {
                lent.push(format!(
                    "{e} {:?}",
                    e.sync().map(|s| (s.n, s.clock_snapshot))
                ));
            }
            assert_eq!(lent, owned, "{}", path.display());
        }
    }
}

/// `feed` hands every event to the consumer, in order, stops where the
/// consumer fails, and runs a pair of consumers in one pass.
#[test]
fn feed_drives_consumers() {
    use trace_reader::{consume, Consume, Stop};
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/traces/go123-testprog-annotations.trace");
    let open = || Reader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let all = read("go123-testprog-annotations");

    let mut times = Vec::new();
    let mut kinds = Vec::new();
    let mut both = (
        consume::from_fn(|ev: &trace_reader::Event| {
            times.push(ev.time());
            Ok::<(), String>(())
        }),
        consume::from_fn(|ev: &trace_reader::Event| {
            kinds.push(ev.kind());
            Ok::<(), String>(())
        }),
    );
    let n = open().feed(&mut both).unwrap();
    assert_eq!(n as usize, all.len());
    assert_eq!(times, all.iter().map(|e| e.time()).collect::<Vec<_>>());
    assert_eq!(kinds, all.iter().map(|e| e.kind()).collect::<Vec<_>>());

    struct FailAt(usize, usize);
    impl Consume for FailAt {
        type Error = usize;
        fn event(&mut self, _: &trace_reader::Event) -> Result<(), usize> {
            self.0 += 1;
            if self.0 == self.1 {
                Err(self.0)
            } else {
                Ok(())
            }
        }
    }
    let mut c = FailAt(0, 10);
    match open().feed(&mut c) {
        Err(Stop::Consumer(10)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(c.0, 10, "no event after the failure");
}
