//! Per-CPU event buffers and the hand-off of finished batches.
//!
//! # Design
//!
//! There is one *slot* per CPU, padded to its own cache lines. A slot holds
//! one open batch (the events of one thread, one generation) and the string
//! and stack tables interned on that CPU for the generations in flight. A
//! writer takes the slot of the CPU it runs on (`sched_getcpu`, answered by
//! glibc from the thread's rseq area in about 3 ns) with an uncontended
//! atomic compare-exchange, appends its events, and releases it. So the memory for open
//! buffers is O(CPUs) whatever the number of threads, and the hot path writes
//! no shared cache line: only the threads that currently run on a CPU touch
//! its slot.
//!
//! A slot's open batch belongs to one thread. When another thread writes on
//! that CPU, the open batch is closed (moved to the generation's output) and a
//! new one is started. When a thread migrates, it must not leave its last
//! batch open in the old slot while it writes newer events elsewhere, or its
//! batches could reach the output out of order. Each thread remembers the
//! slot and serial number of its open batch; before writing in a different
//! slot it locks the old slot and closes that batch if it is still open.
//! Closing appends the batch to the output under one mutex, so the output
//! holds each thread's batches in the order the thread wrote them.
//!
//! Alternatives considered: restartable sequences would avoid the atomic
//! (about 8 ns on the development VM) but need per-architecture assembly and
//! still need the migration rule; `rdtscp` returns the CPU id with the
//! timestamp but costs about 29 ns against 16 ns for `rdtsc` plus
//! `sched_getcpu`; per-thread buffers would make open-buffer memory O(threads).
//!
//! Generations: a writer reads the current generation while holding its slot.
//! The advancer stores the new generation number and then locks every slot in
//! turn, closing the batches of the old generation and taking its tables.
//! A writer that locks a slot after the advancer released it is ordered after
//! the store and sees the new number; one that locked it before is waited for.
//! After the sweep no event of the old generation can be written any more.

use std::cell::Cell;

use trace_wire::{varint, BatchHeader, Experiment, SizeEncoding, MAX_BATCH_SIZE};

use crate::raw::{SpinGuard, SpinLock};
use crate::sync::{self, AtomicU64, Mutex, Ordering};
use crate::tables::{self, StackTable, StringTable};

/// The longest encoded timed event: a type byte and five ten-byte varints.
const MAX_EVENT_LEN: usize = 1 + 5 * varint::MAX_LEN;

/// The payload size at which a batch is closed (the format's limit).
const BATCH_LIMIT: usize = MAX_BATCH_SIZE as usize;

/// Aligns its contents to 128 bytes, the prefetch pair on x86-64 and the line
/// size on some aarch64 parts, so that neighbouring slots never share a line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

/// Where a thread's open batch is: slot index and the slot's serial number
/// of that batch.
pub(crate) type OpenIn = Option<(usize, u64)>;

/// The per-thread state the buffers need from a writer.
#[derive(Debug)]
pub(crate) struct WriterState {
    /// The thread id (M) written in batch headers.
    pub(crate) m: u64,
    /// The thread's open batch, if any.
    pub(crate) open_in: Cell<OpenIn>,
    /// A batch this thread closed found the flusher behind: yield the CPU
    /// once the slot is released.
    throttle: Cell<bool>,
}

impl WriterState {
    pub(crate) fn new(m: u64) -> Self {
        Self {
            m,
            open_in: Cell::new(None),
            throttle: Cell::new(false),
        }
    }
}

/// String and stack tables of one generation in one slot.
#[derive(Debug, Default)]
pub(crate) struct GenTables {
    pub(crate) gen: u64,
    pub(crate) strings: StringTable,
    pub(crate) stacks: StackTable,
}

#[derive(Debug)]
struct OpenBatch {
    open: bool,
    m: u64,
    gen: u64,
    base: u64,
    last: u64,
    serial: u64,
    /// The payload buffer (allocated on first use) and its used length.
    buf: Box<[u8]>,
    len: usize,
}

#[derive(Debug)]
struct Slot {
    batch: OpenBatch,
    next_serial: u64,
    tables: [GenTables; 2],
}

/// The capacity of an output chunk: finished batches are appended whole to
/// chunks of this size (a larger one only for a batch that cannot fit).
pub(crate) const CHUNK: usize = 256 << 10;

/// Free chunks kept for reuse (4 MiB); more are freed.
const FREE_CHUNKS: usize = 16;

/// The longest batch header: a type byte and four ten-byte varints.
const MAX_HEADER_LEN: usize = 1 + 4 * varint::MAX_LEN;

/// Finished batches of one generation, waiting for the flusher.
///
/// They are kept in fixed-size chunks rather than one growing buffer: a
/// buffer that doubles to megabytes, moves to the flusher and is freed
/// there (while the next one grows on the writers' threads) leaves the
/// allocator's per-thread arenas fragmented, and the process's resident
/// memory climbs under sustained load although the bytes in use stay
/// bounded. Chunks of one size, recycled, keep it flat.
#[derive(Debug, Default)]
pub(crate) struct GenOut {
    pub(crate) gen: u64,
    pub(crate) chunks: Vec<Vec<u8>>,
    /// Event batches closed into this generation so far.
    pub(crate) n_batches: u64,
}

#[derive(Debug, Default)]
struct Completed {
    gens: [GenOut; 2],
    /// Empty chunks of capacity [`CHUNK`], for reuse.
    free: Vec<Vec<u8>>,
}

impl Completed {
    /// Appends a batch with `header` and `payload` to generation `gen`'s
    /// output, counted as an event batch if `events`; returns the bytes
    /// added.
    fn append(&mut self, header: BatchHeader, payload: &[u8], events: bool) -> usize {
        let out = &mut self.gens[(header.gen % 2) as usize];
        if out.gen != header.gen {
            debug_assert!(out.chunks.is_empty(), "generation {} not taken", out.gen);
            out.gen = header.gen;
            out.n_batches = 0;
        }
        let need = MAX_HEADER_LEN + payload.len();
        let fits = out
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= need);
        if !fits {
            let free = if need <= CHUNK { self.free.pop() } else { None };
            out.chunks
                .push(free.unwrap_or_else(|| Vec::with_capacity(need.max(CHUNK))));
        }
        let chunk = out.chunks.last_mut().expect("a chunk with room");
        let before = chunk.len();
        header.encode(chunk, SizeEncoding::Minimal);
        chunk.extend_from_slice(payload);
        out.n_batches += u64::from(events);
        chunk.len() - before
    }
}

/// The per-CPU slots and the output of finished batches.
#[derive(Debug)]
pub(crate) struct Buffers {
    gen: AtomicU64,
    slots: Box<[CachePadded<SpinLock<Slot>>]>,
    completed: Mutex<Completed>,
    completed_bytes: AtomicU64,
}

impl Buffers {
    /// Buffers with `n_slots` slots (at least one), tracing off.
    pub(crate) fn new(n_slots: usize) -> Self {
        let slots = (0..n_slots.max(1))
            .map(|_| {
                CachePadded(SpinLock::new(Slot {
                    batch: OpenBatch {
                        open: false,
                        m: 0,
                        gen: 0,
                        base: 0,
                        last: 0,
                        serial: 0,
                        buf: Box::default(),
                        len: 0,
                    },
                    next_serial: 1,
                    tables: Default::default(),
                }))
            })
            .collect();
        Self {
            gen: AtomicU64::new(0),
            slots,
            completed: Mutex::new(Completed::default()),
            completed_bytes: AtomicU64::new(0),
        }
    }

    /// The number of slots, which is also the number of table lanes used by
    /// writers (lane `n_slots` is left to the advancer).
    pub(crate) fn n_slots(&self) -> usize {
        self.slots.len()
    }

    /// The current generation (0: tracing off).
    pub(crate) fn generation(&self) -> u64 {
        self.gen.load(Ordering::Acquire)
    }

    /// Bytes of finished batches not yet taken (approximate).
    pub(crate) fn completed_bytes(&self) -> u64 {
        self.completed_bytes.load(Ordering::Relaxed)
    }

    /// Switches to generation `gen` (0: tracing off). Until [`drain`]
    /// returns for the old generation, writers may still be finishing events
    /// in it.
    ///
    /// [`drain`]: Buffers::drain
    pub(crate) fn switch(&self, gen: u64) {
        self.gen.store(gen, Ordering::SeqCst);
    }

    /// Writes on the slot of the CPU the caller runs on.
    #[inline]
    pub(crate) fn write<R>(
        &self,
        writer: &WriterState,
        ts: u64,
        f: impl FnOnce(&mut EventWriter<'_>) -> R,
    ) -> Option<R> {
        self.write_on(crate::raw::cpu_id(), writer, ts, f)
    }

    /// Writes on slot `cpu` (modulo the number of slots), or a free one if it
    /// is busy: runs `f` with an [`EventWriter`] for the current generation.
    /// Returns `None` without calling `f` if tracing is off.
    pub(crate) fn write_on<R>(
        &self,
        cpu: usize,
        writer: &WriterState,
        ts: u64,
        f: impl FnOnce(&mut EventWriter<'_>) -> R,
    ) -> Option<R> {
        let n = self.slots.len();
        let pref = if n == 1 { 0 } else { cpu % n };
        let (idx, mut guard) = match writer.open_in.get() {
            // Our open batch is in the preferred slot: wait for it, since
            // writing anywhere else would first need that slot anyway.
            Some((s, _)) if s == pref => (s, self.slots[s].0.lock()),
            Some((s, serial)) => {
                // Migrated: close our batch in the old slot first, so that it
                // reaches the output before anything we write from now on.
                self.slots[s].0.lock().with(|slot| {
                    if slot.batch.open && slot.batch.serial == serial {
                        self.close_for(writer, &mut slot.batch);
                    }
                });
                writer.open_in.set(None);
                self.lock_any(pref)
            }
            None => self.lock_any(pref),
        };
        let res = guard.with(|slot| {
            let gen = self.gen.load(Ordering::Relaxed);
            if gen == 0 {
                return None;
            }
            let batch = &mut slot.batch;
            let ours = batch.open && writer.open_in.get() == Some((idx, batch.serial));
            if batch.open && (!ours || batch.gen != gen) {
                self.close_for(writer, batch);
            }
            let mut w = EventWriter {
                buffers: self,
                slot,
                idx,
                writer,
                gen,
                ts,
            };
            if !w.slot.batch.open {
                w.open(ts);
            }
            Some(f(&mut w))
        });
        drop(guard);
        if writer.throttle.replace(false) {
            throttle();
        }
        res
    }

    /// Locks `pref` if free, else any free slot, else waits.
    fn lock_any(&self, pref: usize) -> (usize, SpinGuard<'_, Slot>) {
        let n = self.slots.len();
        let mut round = 0;
        loop {
            for k in 0..n {
                let i = (pref + k) % n;
                if let Some(g) = self.slots[i].0.try_lock() {
                    return (i, g);
                }
            }
            sync::spin_wait(&mut round);
        }
    }

    /// [`close`](Buffers::close) on behalf of `writer`, which yields the
    /// CPU after its write if the flusher is behind.
    fn close_for(&self, writer: &WriterState, batch: &mut OpenBatch) {
        if self.close(batch) {
            writer.throttle.set(true);
        }
    }

    /// Moves a closed batch to the output of its generation; returns
    /// whether the flusher is behind a generation byte bound (see
    /// [`limits::batch_closed`](crate::limits::batch_closed)).
    fn close(&self, batch: &mut OpenBatch) -> bool {
        debug_assert!(batch.open);
        batch.open = false;
        let header = BatchHeader {
            experiment: Experiment::None,
            gen: batch.gen,
            m: batch.m,
            time: batch.base,
            size: batch.len as u64,
        };
        let added =
            sync::lock(&self.completed).append(header, &batch.buf[..batch.len], true) as u64;
        let waiting = self
            .completed_bytes
            .fetch_add(added, Ordering::Relaxed)
            .wrapping_add(added);
        batch.len = 0;
        crate::limits::batch_closed(waiting)
    }

    /// Appends an already encoded event batch (from the advancer: statuses
    /// of silent threads) to the output of `gen`.
    pub(crate) fn push_batch(&self, gen: u64, m: u64, time: u64, payload: &[u8]) {
        self.push(gen, m, time, payload, true);
    }

    /// Appends a structural batch of the no-thread id (the sync batch that
    /// opens a Go 1.26 generation) to the output of `gen`; it does not
    /// count as an event batch. Call before [`switch`](Buffers::switch)ing
    /// to `gen` to make it the generation's first batch.
    pub(crate) fn push_structural(&self, gen: u64, time: u64, payload: &[u8]) {
        self.push(gen, trace_wire::NO_THREAD, time, payload, false);
    }

    fn push(&self, gen: u64, m: u64, time: u64, payload: &[u8], events: bool) {
        let header = BatchHeader {
            experiment: Experiment::None,
            gen,
            m,
            time,
            size: payload.len() as u64,
        };
        let added = sync::lock(&self.completed).append(header, payload, events) as u64;
        self.completed_bytes.fetch_add(added, Ordering::Relaxed);
    }

    /// Closes every open batch of generation `gen` and takes the tables of
    /// `gen` from every slot. Call after [`switch`](Buffers::switch) to
    /// another generation; afterwards nothing more is written in `gen`.
    pub(crate) fn drain(&self, gen: u64) -> Vec<GenTables> {
        let mut tables = Vec::with_capacity(self.slots.len());
        for slot in self.slots.iter() {
            let t = slot.0.lock_urgent().with(|slot| {
                if slot.batch.open && slot.batch.gen == gen {
                    // The flusher itself: never throttled.
                    let _ = self.close(&mut slot.batch);
                }
                let t = &mut slot.tables[(gen % 2) as usize];
                if t.gen == gen {
                    std::mem::take(t)
                } else {
                    GenTables {
                        gen,
                        ..GenTables::default()
                    }
                }
            });
            tables.push(t);
        }
        tables
    }

    /// Takes the finished batches of `gen` written so far, in order, as
    /// chunks of whole batches, and how many event batches the generation
    /// has had in total. Give the chunks back with
    /// [`recycle`](Buffers::recycle).
    pub(crate) fn take_completed(&self, gen: u64) -> (Vec<Vec<u8>>, u64) {
        let mut completed = sync::lock(&self.completed);
        let out = &mut completed.gens[(gen % 2) as usize];
        if out.gen != gen {
            return (Vec::new(), 0);
        }
        let chunks = std::mem::take(&mut out.chunks);
        let n = out.n_batches;
        drop(completed);
        let bytes: usize = chunks.iter().map(Vec::len).sum();
        self.completed_bytes
            .fetch_sub(bytes as u64, Ordering::Relaxed);
        (chunks, n)
    }

    /// Keeps delivered chunks for reuse (up to a few; the rest are freed).
    pub(crate) fn recycle(&self, chunks: Vec<Vec<u8>>) {
        let mut completed = sync::lock(&self.completed);
        for mut chunk in chunks {
            if completed.free.len() >= FREE_CHUNKS {
                break;
            }
            if chunk.capacity() == CHUNK {
                chunk.clear();
                completed.free.push(chunk);
            }
        }
    }

    /// Forgets generation `gen`'s output bookkeeping once it is delivered.
    pub(crate) fn retire(&self, gen: u64) {
        let mut completed = sync::lock(&self.completed);
        let out = &mut completed.gens[(gen % 2) as usize];
        if out.gen == gen {
            debug_assert!(out.chunks.is_empty());
            out.gen = 0;
            out.n_batches = 0;
        }
    }
}

/// Gives the CPU away once: the flusher, woken because a generation
/// reached its byte bound, waits for one while busy threads outnumber the
/// CPUs, and every millisecond it waits makes the generation larger.
#[cold]
fn throttle() {
    #[cfg(not(loom))]
    std::thread::yield_now();
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// Writes the minimal varint of `v` at the start of `out` (at least ten
/// bytes long); returns its length.
#[inline(always)]
fn encode_varint(mut v: u64, out: &mut [u8]) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
    i + 1
}

/// Appends events to the caller's open batch, under its slot's lock.
#[derive(Debug)]
pub(crate) struct EventWriter<'a> {
    buffers: &'a Buffers,
    slot: &'a mut Slot,
    idx: usize,
    writer: &'a WriterState,
    gen: u64,
    ts: u64,
}

impl EventWriter<'_> {
    /// The generation being written.
    #[inline]
    pub(crate) fn gen(&self) -> u64 {
        self.gen
    }

    /// The timestamp of the events (taken before the slot was locked).
    #[inline]
    pub(crate) fn ts(&self) -> u64 {
        self.ts
    }

    fn open(&mut self, ts: u64) {
        let slot = &mut *self.slot;
        let serial = slot.next_serial;
        slot.next_serial += 1;
        let batch = &mut slot.batch;
        batch.open = true;
        batch.m = self.writer.m;
        batch.gen = self.gen;
        batch.base = ts;
        batch.last = ts;
        batch.serial = serial;
        if batch.buf.is_empty() {
            batch.buf = vec![0; BATCH_LIMIT].into_boxed_slice();
        }
        self.writer.open_in.set(Some((self.idx, serial)));
    }

    /// Appends a timed event of type `ty` at the writer's timestamp;
    /// returns the time it was recorded at (see [`event_at`]).
    ///
    /// [`event_at`]: EventWriter::event_at
    #[inline]
    pub(crate) fn event(&mut self, ty: u8, args: &[u64]) -> u64 {
        self.event_at(self.ts, ty, args)
    }

    /// Appends a timed event of type `ty` at `ts`, or at the time of the
    /// batch's previous event if that is later (deltas are unsigned); returns
    /// the time recorded.
    #[inline]
    pub(crate) fn event_at(&mut self, ts: u64, ty: u8, args: &[u64]) -> u64 {
        debug_assert!(args.len() < 5);
        if self.slot.batch.len + MAX_EVENT_LEN > BATCH_LIMIT {
            self.buffers.close_for(self.writer, &mut self.slot.batch);
            self.open(ts);
        }
        let batch = &mut self.slot.batch;
        let dt = ts.saturating_sub(batch.last);
        batch.last = batch.last.max(ts);
        // Room for the longest event was checked above.
        let out = &mut batch.buf[batch.len..batch.len + MAX_EVENT_LEN];
        out[0] = ty;
        let mut n = 1 + encode_varint(dt, &mut out[1..]);
        for &a in args {
            n += encode_varint(a, &mut out[n..]);
        }
        batch.len += n;
        batch.last
    }

    #[inline(always)]
    fn tables(&mut self) -> &mut GenTables {
        let t = &mut self.slot.tables[(self.gen % 2) as usize];
        if t.gen != self.gen {
            *t = GenTables {
                gen: self.gen,
                ..GenTables::default()
            };
        }
        t
    }

    /// The id of string `s` in this generation (0 for the empty string);
    /// strings longer than 1024 bytes are cut to their first 1024 bytes.
    #[inline]
    pub(crate) fn string(&mut self, s: &[u8]) -> u64 {
        if s.is_empty() {
            return 0;
        }
        let (lane, stride) = (self.idx, self.buffers.n_slots() + 1);
        let i = self.tables().strings.intern(tables::truncate_start(s));
        tables::global_id(i, lane, stride)
    }

    /// The id of the stack `pcs` (innermost first) in this generation; 0 for
    /// an empty stack. Stacks are cut to 128 frames.
    #[inline]
    pub(crate) fn stack(&mut self, pcs: &[u64]) -> u64 {
        if pcs.is_empty() {
            return 0;
        }
        let pcs = &pcs[..pcs.len().min(tables::MAX_STACK_DEPTH)];
        let (lane, stride) = (self.idx, self.buffers.n_slots());
        let i = self.tables().stacks.intern(pcs);
        tables::global_id(i, lane, stride)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use trace_wire::{Batches, EventCursor, Version};

    type Decoded = Vec<(u64, u64, Vec<(u8, Vec<u64>)>)>;

    /// Decodes `bytes` (batches without a file header) into
    /// `(gen, m, [(ty, args)])` per batch.
    fn decode(bytes: &[u8]) -> Decoded {
        let mut data = Version::Go123.header().to_vec();
        data.extend_from_slice(bytes);
        let mut batches = Batches::new(&data).unwrap();
        let mut res = Vec::new();
        while let Some(b) = batches.next_batch().unwrap() {
            let mut events = EventCursor::new(b.payload, Version::Go123, 0);
            let mut evs = Vec::new();
            while let Some(e) = events.next_event().unwrap() {
                evs.push((e.ty, e.args().to_vec()));
            }
            res.push((b.header.gen, b.header.m, evs));
        }
        res
    }

    #[test]
    fn off_writes_nothing() {
        let b = Buffers::new(2);
        let w = WriterState::new(1);
        assert!(b.write_on(0, &w, 10, |_| ()).is_none());
    }

    #[test]
    fn threads_sharing_a_slot_get_separate_batches() {
        let b = Buffers::new(2);
        b.switch(1);
        let (w1, w2) = (WriterState::new(1), WriterState::new(2));
        b.write_on(0, &w1, 10, |w| w.event(44, &[0, 0, 0, 0]));
        b.write_on(0, &w1, 11, |w| w.event(44, &[1, 0, 0, 0]));
        b.write_on(0, &w2, 12, |w| w.event(44, &[2, 0, 0, 0]));
        b.write_on(0, &w1, 13, |w| w.event(44, &[3, 0, 0, 0]));
        b.switch(2);
        b.drain(1);
        let (chunks, n) = b.take_completed(1);
        let bytes = chunks.concat();
        assert_eq!(n, 3);
        let batches = decode(&bytes);
        let ms: Vec<u64> = batches.iter().map(|b| b.1).collect();
        assert_eq!(ms, [1, 2, 1]);
        assert_eq!(batches[0].2.len(), 2);
    }

    #[test]
    fn migration_closes_the_old_batch_first() {
        let b = Buffers::new(2);
        b.switch(1);
        let (w1, w2) = (WriterState::new(1), WriterState::new(2));
        b.write_on(0, &w1, 10, |w| w.event(44, &[0, 0, 0, 0]));
        // w2 opens a batch on slot 1; w1 migrates there.
        b.write_on(1, &w2, 11, |w| w.event(44, &[0, 0, 0, 0]));
        b.write_on(1, &w1, 12, |w| w.event(44, &[1, 0, 0, 0]));
        b.switch(0);
        b.drain(1);
        let bytes = b.take_completed(1).0.concat();
        let w1_batches: Vec<_> = decode(&bytes)
            .into_iter()
            .filter(|b| b.1 == 1)
            .map(|b| b.2[0].1[0])
            .collect();
        assert_eq!(w1_batches, [0, 1]);
    }

    #[test]
    fn full_batches_are_split() {
        let b = Buffers::new(1);
        b.switch(7);
        let w = WriterState::new(3);
        for i in 0..20_000u64 {
            b.write_on(0, &w, i, |w| w.event(44, &[i, i, i, u64::MAX]));
        }
        b.switch(8);
        b.drain(7);
        let (chunks, n) = b.take_completed(7);
        assert!(n > 1);
        let mut next = 0;
        // Every chunk holds whole batches, in order.
        assert!(chunks.len() > 1);
        for chunk in &chunks {
            assert!(chunk.len() <= CHUNK);
            for (gen, m, events) in decode(chunk) {
                assert_eq!((gen, m), (7, 3));
                for (_, args) in events {
                    assert_eq!(args[0], next);
                    next += 1;
                }
            }
        }
        assert_eq!(next, 20_000);
        assert_eq!(b.completed_bytes(), 0);
    }

    #[test]
    fn chunks_are_recycled_and_a_huge_batch_gets_its_own() {
        let b = Buffers::new(1);
        b.switch(1);
        let w = WriterState::new(1);
        for i in 0..40_000u64 {
            b.write_on(0, &w, i, |w| w.event(44, &[i, i, i, u64::MAX]));
        }
        let (chunks, _) = b.take_completed(1);
        let n = chunks.len();
        assert!(n > 2);
        let ptrs: Vec<*const u8> = chunks.iter().map(|c| c.as_ptr()).collect();
        b.recycle(chunks);
        for i in 0..40_000u64 {
            b.write_on(0, &w, i, |w| w.event(44, &[i, i, i, u64::MAX]));
        }
        let (chunks, _) = b.take_completed(1);
        // The same allocations serve again (and one more: the batch left
        // open at the first take was closed into this round).
        let reused = chunks.iter().filter(|c| ptrs.contains(&c.as_ptr())).count();
        assert_eq!(reused, n);
        b.recycle(chunks);
        // A batch larger than a chunk (the advancer's statuses of many
        // threads) is kept whole in a chunk of its own.
        let payload = vec![0u8; CHUNK + 10];
        b.push_batch(2, 9, 5, &payload);
        let (chunks, n_batches) = b.take_completed(2);
        assert_eq!(n_batches, 1);
        assert_eq!(chunks.len(), 1);
        assert!(chunks[0].len() > CHUNK + 10);
    }

    #[test]
    fn a_structural_batch_pushed_before_the_switch_comes_first_and_is_not_counted() {
        let b = Buffers::new(1);
        b.switch(1);
        let w = WriterState::new(4);
        b.write_on(0, &w, 10, |w| w.event(44, &[1, 0, 0, 0]));
        b.push_structural(2, 20, &[trace_wire::ty::SYNC]);
        b.switch(2);
        b.write_on(0, &w, 30, |w| w.event(44, &[2, 0, 0, 0]));
        b.drain(1);
        assert_eq!(b.take_completed(1).1, 1);
        b.switch(3);
        b.drain(2);
        let (chunks, n) = b.take_completed(2);
        assert_eq!(n, 1, "only the event batch counts");
        let mut data = Version::Go126.header().to_vec();
        data.extend_from_slice(&chunks.concat());
        let mut batches = Batches::new(&data).unwrap();
        let first = batches.next_batch().unwrap().unwrap();
        assert_eq!(
            (first.header.m, first.header.time, first.payload),
            (trace_wire::NO_THREAD, 20, &[trace_wire::ty::SYNC][..])
        );
        assert_eq!(batches.next_batch().unwrap().unwrap().header.m, 4);
    }

    #[test]
    fn tables_follow_generations() {
        let b = Buffers::new(2);
        b.switch(1);
        let w = WriterState::new(1);
        let ids = b
            .write_on(1, &w, 1, |w| {
                (
                    w.string(b"a"),
                    w.string(b"b"),
                    w.string(b"a"),
                    w.string(b""),
                )
            })
            .unwrap();
        // Lane 1 of 3: ids 2, 5, 8, ...
        assert_eq!(ids, (2, 5, 2, 0));
        b.switch(2);
        let t = b.drain(1);
        assert_eq!(t[1].strings.iter().count(), 2);
        assert_eq!(t[0].strings.iter().count(), 0);
        let id = b.write_on(1, &w, 2, |w| w.string(b"b")).unwrap();
        assert_eq!(id, 2);
    }
}
