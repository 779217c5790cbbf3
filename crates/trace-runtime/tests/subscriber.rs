//! Subscribers: whole generations, joins and leaves at boundaries, several
//! at once, a panicking one, and flight-recorder snapshots.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{check_sequence_counts, check_sequences, parse, save, serial, Capture};
use trace_runtime::{
    advance, configure, file_header, log, start, stop, subscribe, Config, Generation, Subscriber,
    TaskId,
};

/// Keeps every generation it receives, and checks the call protocol.
#[derive(Default)]
struct Ring {
    open: Mutex<Option<(Generation, Vec<u8>)>>,
    done: Mutex<Vec<(Generation, Vec<u8>)>>,
    closed: AtomicUsize,
}

impl Subscriber for Ring {
    fn on_batches(&self, gen: Generation, batches: &[u8]) {
        assert_eq!(self.closed.load(Ordering::SeqCst), 0);
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
        let mut res = file_header().to_vec();
        for (_, bytes) in &self.done.lock().unwrap()[from..] {
            res.extend_from_slice(bytes);
        }
        res
    }
}

#[test]
fn flight_recorder_alongside_a_stream() {
    let _g = serial();
    configure(Config::default().generation_period(Duration::from_millis(2))).unwrap();
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
    save("flight_stream", &stream);
    check_sequence_counts(&parse(&stream), "f", &counts);

    let done = ring.done.lock().unwrap().len();
    assert!(done >= 3, "generations retained: {done}");
    assert_eq!(ring.done.lock().unwrap()[0].0, first);
    for from in [0, 1, done / 2, done - 1] {
        let snapshot = ring.snapshot(from);
        save(&format!("flight_snapshot_{from}"), &snapshot);
        parse(&snapshot);
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
    configure(Config::default().generation_period(Duration::from_millis(1))).unwrap();
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
