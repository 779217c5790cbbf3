//! Subscribers: whole generations, joins and leaves at boundaries, several
//! at once, a panicking one, and flight-recorder snapshots.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{both_formats, check_sequence_counts, check_sequences, parse, save, serial, Capture};
use trace_runtime::{
    advance, configure, log, start, stop, subscribe, Error, Format, Generation, Subscriber, TaskId,
};

/// Keeps every generation it receives, and checks the call protocol.
#[derive(Default)]
struct Ring {
    joined: Mutex<Option<(Generation, Format)>>,
    open: Mutex<Option<(Generation, Vec<u8>)>>,
    done: Mutex<Vec<(Generation, Vec<u8>)>>,
    closed: AtomicUsize,
}

impl Subscriber for Ring {
    fn on_join(&self, first: Generation, format: Format) {
        let before = self.joined.lock().unwrap().replace((first, format));
        assert!(before.is_none(), "joined once");
    }

    fn on_batches(&self, gen: Generation, batches: &[u8]) {
        assert_eq!(self.closed.load(Ordering::SeqCst), 0);
        let (first, _) = self.joined.lock().unwrap().expect("joined first");
        assert!(gen >= first);
        let mut open = self.open.lock().unwrap();
        let (g, bytes) = open.get_or_insert_with(|| (gen, Vec::new()));
        assert_eq!(*g, gen, "batches of one generation at a time");
        bytes.extend_from_slice(batches);
    }

    fn on_generation_end(&self, gen: Generation) {
        let (g, bytes) = self.open.lock().unwrap().take().expect("batches first");
        assert_eq!(g, gen);
        let mut done = self.done.lock().unwrap();
        if let Some((last, _)) = done.last() {
            assert_eq!(last.get() + 1, gen.get(), "consecutive generations");
        }
        done.push((gen, bytes));
    }

    fn on_close(&self) {
        assert!(
            self.open.lock().unwrap().is_none(),
            "closed after a whole generation"
        );
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

impl Ring {
    /// A trace of the retained generations from index `from` on.
    fn snapshot(&self, from: usize) -> Vec<u8> {
        let (_, format) = self.joined.lock().unwrap().expect("joined");
        let mut res = format.header().to_vec();
        for (_, bytes) in &self.done.lock().unwrap()[from..] {
            res.extend_from_slice(bytes);
        }
        res
    }
}

#[test]
fn flight_recorder_alongside_a_stream() {
    let _g = serial();
    for format in both_formats() {
        flight_recorder_alongside_a_stream_in(format);
    }
    configure(common::config()).unwrap();
}

fn flight_recorder_alongside_a_stream_in(format: Format) {
    configure(
        common::config()
            .format(format)
            .generation_period(Duration::from_millis(2)),
    )
    .unwrap();
    let out = Capture::default();
    start(out.clone()).unwrap();
    let stop_workers = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let stop_workers = stop_workers.clone();
            thread::spawn(move || {
                let mut j = 0;
                while !stop_workers.load(Ordering::Relaxed) {
                    log(TaskId::BACKGROUND, "", &format!("f:{i}:{j}"));
                    j += 1;
                    if j % 64 == 0 {
                        thread::sleep(Duration::from_micros(200));
                    }
                }
                j
            })
        })
        .collect();
    // A thread that logs once, stays silent for many generations, then
    // logs again and exits: snapshots that start in its silent stretch must
    // still know its goroutine.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let quiet = thread::Builder::new()
        .name("quiet".into())
        .spawn(move || {
            log(TaskId::BACKGROUND, "quiet", "before");
            rx.recv().unwrap();
            log(TaskId::BACKGROUND, "quiet", "after");
        })
        .unwrap();
    thread::sleep(Duration::from_millis(10));
    let ring = Arc::new(Ring::default());
    let sub = subscribe(ring.clone()).unwrap();
    let first = sub.first_generation().unwrap();
    assert_eq!(sub.format(), format);
    assert_eq!(*ring.joined.lock().unwrap(), Some((first, format)));
    thread::sleep(Duration::from_millis(20));
    tx.send(()).unwrap();
    quiet.join().unwrap();
    let last = advance().unwrap().unwrap();
    assert!(last >= first);
    sub.unsubscribe().unwrap();
    assert_eq!(ring.closed.load(Ordering::SeqCst), 1);
    stop_workers.store(true, Ordering::Relaxed);
    let counts: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    stop().unwrap();

    let stream = out.bytes();
    save(&format!("flight_stream_{format:?}"), &stream);
    let t = parse(&stream);
    assert_eq!(t.version, format.version());
    check_sequence_counts(&t, "f", &counts);

    let done = ring.done.lock().unwrap().len();
    assert!(done >= 3, "generations retained: {done}");
    assert_eq!(ring.done.lock().unwrap()[0].0, first);
    for from in [0, 1, done / 2, done - 1] {
        let snapshot = ring.snapshot(from);
        save(&format!("flight_snapshot_{format:?}_{from}"), &snapshot);
        assert_eq!(parse(&snapshot).version, format.version());
    }
}

struct Panicky {
    calls: AtomicUsize,
}

impl Subscriber for Panicky {
    fn on_batches(&self, _: Generation, _: &[u8]) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        panic!("subscriber bug");
    }
    fn on_generation_end(&self, _: Generation) {}
}

#[test]
fn a_panicking_subscriber_is_removed() {
    let _g = serial();
    configure(common::config().generation_period(Duration::from_millis(1))).unwrap();
    let out = Capture::default();
    start(out.clone()).unwrap();
    let panicky = Arc::new(Panicky {
        calls: AtomicUsize::new(0),
    });
    let _sub = subscribe(panicky.clone()).unwrap();
    for j in 0..2000 {
        log(TaskId::BACKGROUND, "", &format!("p:0:{j}"));
    }
    advance().unwrap();
    advance().unwrap();
    advance().unwrap();
    let calls = panicky.calls.load(Ordering::SeqCst);
    assert!(calls >= 1);
    advance().unwrap();
    assert_eq!(
        panicky.calls.load(Ordering::SeqCst),
        calls,
        "no calls after removal"
    );
    stop().unwrap();
    assert_eq!(trace_runtime::subscriber_count(), 0);
    check_sequences(&parse(&out.bytes()), "p", 1, 2000);
}

/// The format is fixed for a tracing session: configuring another while
/// tracing is on says so, every subscriber of the session (one joining
/// late too) gets the session's format, and the next session takes the
/// configured one.
#[test]
fn the_format_is_fixed_per_session() {
    let _g = serial();
    let [first, other] = both_formats();
    configure(common::config().format(first)).unwrap();
    assert_eq!(trace_runtime::format_in_use(), None);
    assert_eq!(trace_runtime::file_header(), first.header());
    let out = Capture::default();
    start(out.clone()).unwrap();
    assert_eq!(trace_runtime::format_in_use(), Some(first));
    log(TaskId::BACKGROUND, "session", "one");
    // Configuring the session's own format is fine, another is refused
    // for this session (and kept for the next).
    configure(common::config().format(first)).unwrap();
    match configure(common::config().format(other)) {
        Err(Error::FormatFixed { in_use }) => assert_eq!(in_use, first),
        res => panic!("{res:?}"),
    }
    assert_eq!(trace_runtime::config().get_format(), other);
    assert_eq!(trace_runtime::file_header(), first.header());
    advance().unwrap();
    let ring = Arc::new(Ring::default());
    let sub = subscribe(ring.clone()).unwrap();
    assert_eq!(
        sub.format(),
        first,
        "a late subscriber gets the session's format"
    );
    log(TaskId::BACKGROUND, "session", "two");
    advance().unwrap();
    sub.unsubscribe().unwrap();
    stop().unwrap();
    assert_eq!(trace_runtime::format_in_use(), None);
    let trace = out.bytes();
    save(&format!("fixed_format_{first:?}"), &trace);
    assert_eq!(parse(&trace).version, first.version());
    let snapshot = ring.snapshot(0);
    save(&format!("fixed_format_snapshot_{first:?}"), &snapshot);
    assert_eq!(parse(&snapshot).version, first.version());

    // The next session is in the format configured meanwhile.
    let out = Capture::default();
    start(out.clone()).unwrap();
    assert_eq!(trace_runtime::format_in_use(), Some(other));
    log(TaskId::BACKGROUND, "session", "three");
    stop().unwrap();
    let trace = out.bytes();
    save(&format!("fixed_format_next_{other:?}"), &trace);
    assert_eq!(parse(&trace).version, other.version());
    configure(common::config()).unwrap();
}

/// Keeps every generation, for traces that begin at any of them.
#[derive(Default)]
struct AllGenerations {
    format: Mutex<Option<Format>>,
    gens: Mutex<Vec<(u64, Vec<u8>)>>,
}

impl Subscriber for AllGenerations {
    fn on_join(&self, _: Generation, format: Format) {
        *self.format.lock().unwrap() = Some(format);
    }
    fn on_batches(&self, gen: Generation, batches: &[u8]) {
        let mut gens = self.gens.lock().unwrap();
        match gens.last_mut() {
            Some((g, bytes)) if *g == gen.get() => bytes.extend_from_slice(batches),
            _ => gens.push((gen.get(), batches.to_vec())),
        }
    }
    fn on_generation_end(&self, _: Generation) {}
}

/// Tasks dropped while generations advance, some of them silent through
/// the generation before their drop: the drop records their end, so a
/// trace beginning at that generation must know them (the sweep of a
/// generation can run after a drop in the next one). Every suffix of the
/// generations is a valid trace.
#[test]
fn tasks_dropped_across_a_switch_are_stated_before_it() {
    let _g = serial();
    configure(common::config().generation_period(Duration::from_secs(3600))).unwrap();
    let all = Arc::new(AllGenerations::default());
    let sub = subscribe(all.clone()).unwrap();
    let stop_advancing = Arc::new(AtomicBool::new(false));
    let advancer = {
        let stop_advancing = stop_advancing.clone();
        thread::spawn(move || {
            while !stop_advancing.load(Ordering::Relaxed) {
                advance().unwrap();
                // An advance runs on its caller when the flusher is idle:
                // without a pause this loop makes thousands of generations,
                // which the check below validates from each one on.
                thread::sleep(Duration::from_micros(200));
            }
        })
    };
    for _ in 0..200 {
        let tasks: Vec<_> = (0..8)
            .map(|_| trace_runtime::AsyncTask::new("dropped"))
            .collect();
        for t in &tasks {
            t.poll_begin().end(trace_runtime::PollOutcome::Pending);
        }
        // Silent through at least one whole generation, then dropped.
        advance().unwrap();
        advance().unwrap();
        drop(tasks);
    }
    stop_advancing.store(true, Ordering::Relaxed);
    advancer.join().unwrap();
    sub.unsubscribe().unwrap();
    configure(common::config()).unwrap();
    let format = all.format.lock().unwrap().unwrap();
    let gens = all.gens.lock().unwrap();
    assert!(gens.len() > 400, "{} generations", gens.len());
    for k in 0..gens.len() {
        let mut trace = format.header().to_vec();
        for (_, bytes) in &gens[k..] {
            trace.extend_from_slice(bytes);
        }
        if k % 100 == 0 {
            save(&format!("dropped_tasks_from_{k}_{format:?}"), &trace);
        }
        let report = trace_reader::validate(&trace[..]);
        assert!(report.is_valid(), "from generation {}: {report}", gens[k].0);
    }
}

/// Calls `advance` from its callbacks, and keeps what it returned.
struct Reentrant {
    results: Mutex<Vec<bool>>,
    /// The test's thread, and how many callbacks ran on it.
    caller: thread::ThreadId,
    on_caller: AtomicUsize,
}

impl Subscriber for Reentrant {
    fn on_batches(&self, _: Generation, _: &[u8]) {}
    fn on_generation_end(&self, _: Generation) {
        let would_deadlock = matches!(advance(), Err(Error::WouldDeadlock));
        self.results
            .lock()
            .unwrap()
            .push(would_deadlock && trace_runtime::in_callback());
        if thread::current().id() == self.caller {
            self.on_caller.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// `advance` runs the generation switch on its caller's thread when the
/// flusher is idle, so callbacks may run there: a callback that calls
/// `advance` gets `WouldDeadlock` on either thread instead of hanging, and
/// `in_callback` says it is in one (the panic hooks rely on it).
#[test]
fn advance_from_a_callback_is_refused_on_any_thread() {
    let _g = serial();
    configure(common::config()).unwrap();
    let sub = Arc::new(Reentrant {
        results: Mutex::default(),
        caller: thread::current().id(),
        on_caller: AtomicUsize::new(0),
    });
    let subscription = subscribe(sub.clone()).unwrap();
    // At least 5 advances, and until one ran here: the flusher may be
    // awake and take an advance first (it does so now and then).
    for i in 0..500 {
        log(TaskId::BACKGROUND, "", "x");
        advance().unwrap();
        if i >= 4 && sub.on_caller.load(Ordering::SeqCst) >= 1 {
            break;
        }
    }
    subscription.unsubscribe().unwrap();
    let results = sub.results.lock().unwrap();
    assert!(results.len() >= 5, "{results:?}");
    assert!(results.iter().all(|&r| r), "{results:?}");
    // Some advances ran here.
    assert!(sub.on_caller.load(Ordering::SeqCst) >= 1);
    assert!(!trace_runtime::in_callback());
}
