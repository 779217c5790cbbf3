//! Model checks of the buffer hand-off and the subscriber swap, under loom:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test --release -p trace-runtime --test loom
//! ```
//!
//! In ordinary builds this file is empty.
#![cfg(loom)]

use std::sync::Arc;

use loom::thread;
use trace_runtime::loom_api::{Buffers, Multiplexer, Writer};
use trace_runtime::{Generation, Subscriber};
use trace_wire::{Batches, EventCursor, Version};

/// The `(m, value)` of every event in `bytes` (batches of one generation),
/// in output order.
fn events(bytes: &[u8]) -> Vec<(u64, u64)> {
    let mut data = Version::Go123.header().to_vec();
    data.extend_from_slice(bytes);
    let mut batches = Batches::new(&data).unwrap();
    let mut res = Vec::new();
    while let Some(b) = batches.next_batch().unwrap() {
        let mut cur = EventCursor::new(b.payload, Version::Go123, 0);
        while let Some(e) = cur.next_event().unwrap() {
            res.push((b.header.m, e.args[0]));
        }
    }
    res
}

/// Two threads write (one of them migrating between slots) while a third
/// advances from generation 1 to 2. Every event lands in the generation the
/// writer saw, the old generation is complete once drained, and each
/// thread's events come out in the order it wrote them.
#[test]
fn writers_racing_an_advance() {
    // Spinning on a slot lock takes branches; 2 preemptions (as in CI) stay
    // far below the default limit, 3 need a higher one.
    let mut model = loom::model::Builder::new();
    model.max_branches = 20_000;
    model.check(|| {
        let buffers = Arc::new(Buffers::new(2));
        buffers.switch(1);
        let writers: Vec<_> = [(1u64, [0usize, 1]), (2, [1, 1])]
            .into_iter()
            .map(|(m, cpus)| {
                let buffers = buffers.clone();
                thread::spawn(move || {
                    let writer = Writer::new(m);
                    let mut gens = Vec::new();
                    for (k, cpu) in cpus.into_iter().enumerate() {
                        let gen = buffers.write(cpu, &writer, k as u64).unwrap();
                        gens.push(gen);
                    }
                    gens
                })
            })
            .collect();
        let advancer = {
            let buffers = buffers.clone();
            thread::spawn(move || {
                buffers.switch(2);
                buffers.drain(1);
                buffers.take_completed(1)
            })
        };
        let gens: Vec<Vec<u64>> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        let gen1 = events(&advancer.join().unwrap());
        buffers.switch(0);
        buffers.drain(2);
        let gen2 = events(&buffers.take_completed(2));
        for (i, m) in [1u64, 2].into_iter().enumerate() {
            // A thread never goes back to an older generation.
            assert!(gens[i].windows(2).all(|w| w[0] <= w[1]), "{gens:?}");
            let mut seen = Vec::new();
            for (gen, evs) in [(1, &gen1), (2, &gen2)] {
                for &(em, v) in evs.iter() {
                    if em == m {
                        assert_eq!(gens[i][v as usize], gen, "event {v} of M{m}");
                        seen.push(v);
                    }
                }
            }
            assert_eq!(seen, [0, 1], "M{m}: every event once, in order");
        }
    });
}

/// The advancer pushes generation 2's sync batch before switching to it
/// while a thread writes (migrating between slots): the sync batch is the
/// first batch of generation 2, whatever the interleaving.
#[test]
fn a_sync_batch_pushed_before_the_switch_opens_the_generation() {
    let mut model = loom::model::Builder::new();
    model.max_branches = 20_000;
    model.check(|| {
        let buffers = Arc::new(Buffers::new(2));
        buffers.switch(1);
        let writer = {
            let buffers = buffers.clone();
            thread::spawn(move || {
                let writer = Writer::new(7);
                [0usize, 1]
                    .into_iter()
                    .enumerate()
                    .map(|(k, cpu)| buffers.write(cpu, &writer, k as u64).unwrap())
                    .collect::<Vec<u64>>()
            })
        };
        buffers.push_structural(2, 0, &[trace_wire::ty::SYNC]);
        buffers.switch(2);
        buffers.drain(1);
        let gens = writer.join().unwrap();
        buffers.switch(0);
        buffers.drain(2);
        let mut data = Version::Go126.header().to_vec();
        data.extend_from_slice(&buffers.take_completed(2));
        let mut batches = Batches::new(&data).unwrap();
        let first = batches.next_batch().unwrap().expect("the sync batch");
        assert_eq!(first.header.m, trace_wire::NO_THREAD);
        assert_eq!(first.payload, [trace_wire::ty::SYNC]);
        let mut in_gen2 = 0;
        while let Some(b) = batches.next_batch().unwrap() {
            assert_eq!(b.header.m, 7);
            let mut cur = EventCursor::new(b.payload, Version::Go126, 0);
            while cur.next_event().unwrap().is_some() {
                in_gen2 += 1;
            }
        }
        assert_eq!(in_gen2, gens.iter().filter(|&&g| g == 2).count());
    });
}

struct Count(loom::sync::atomic::AtomicUsize);

impl Subscriber for Count {
    fn on_batches(&self, _: Generation, _: &[u8]) {
        self.0.fetch_add(1, loom::sync::atomic::Ordering::SeqCst);
    }
    fn on_generation_end(&self, _: Generation) {}
}

/// A delivery racing a swap of the subscriber set goes to the old set or
/// the new one, never to a mix or to nobody.
#[test]
fn delivery_racing_a_subscriber_swap() {
    loom::model(|| {
        let mux = Arc::new(Multiplexer::default());
        let a: Arc<dyn Subscriber> = Arc::new(Count(Default::default()));
        let b: Arc<dyn Subscriber> = Arc::new(Count(Default::default()));
        mux.replace(vec![(1, a.clone())]);
        let swapper = {
            let mux = mux.clone();
            thread::spawn(move || mux.replace(vec![(2, b)]))
        };
        let gen = Generation::new(1).unwrap();
        let ids = mux.deliver(gen, b"x");
        assert!(ids == [1] || ids == [2], "{ids:?}");
        swapper.join().unwrap();
        assert_eq!(mux.deliver(gen, b"y"), [2]);
    });
}
