//! The process-wide recorder: its state, the background flusher thread, the
//! generation protocol (`05-writer.md` §7.8) and subscription control.
//!
//! All generation switches and all deliveries happen on the flusher thread,
//! so subscribers see one call at a time. Other threads ask for a switch
//! (to join, to leave, or to complete the current generation) by bumping a
//! request counter and waiting until the flusher has served it.
//!
//! Advance from generation N:
//! 1. decide the next set of subscribers (leavers out, joiners in); the next
//!    generation is N+1, or 0 (tracing off) if nobody is left; a session
//!    that starts (N = 0) takes the configured format, which holds until
//!    tracing turns off;
//! 2. in the Go 1.26 format, write N+1's sync batch (frequency and a clock
//!    snapshot), so that it is the generation's first batch;
//! 3. switch the buffers to N+1;
//! 4. drain: close every open batch of N and take N's tables;
//! 5. sweep: statuses for registered threads that wrote nothing in N;
//! 6. if N has no event at all, write one `ProcStatus` (Go 1.23 rejects an
//!    empty generation);
//! 7. in the Go 1.23 format, write N's frequency batch; write N's stack
//!    table (symbolizing new PCs) and string table; in the Go 1.26 format,
//!    the end-of-generation event; deliver the rest of N and end it;
//! 8. tell joiners their first generation and the format
//!    (`Subscriber::on_join`), and install the next set of subscribers;
//!    only now may N+1 be delivered.
//!
//! The format is only ever looked at here, once per generation: recording
//! threads write the same events in both formats.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as StdOrdering};
use std::sync::{Condvar, Mutex as StdMutex, MutexGuard as StdMutexGuard, OnceLock};
use std::thread::{self, Thread, ThreadId};
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use trace_wire::{ty, RawFrame, NO_THREAD};

use crate::buffer::{Buffers, GenTables};
use crate::config::Config;
use crate::error::Error;
use crate::format::Format;
use crate::stack::{self, Symbols};
use crate::subscriber::{self, Entry, Multiplexer, Subscriber, SubscriberSet};
use std::sync::Arc;

use crate::sync::lock_std;
use crate::tables::{self, StringTable};
use crate::thread::{Threads, P_IDLE};
use crate::{clock, Generation};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Whether tracing is on: the one load every annotation makes first.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The latest generation tracing switched to (0: never on).
static LAST_GENERATION: AtomicU64 = AtomicU64::new(0);

/// The latest generation tracing switched to, whether or not it is still
/// current (0 if tracing never started). Read before
/// [`Buffers::generation`]: if that then reads 0, no generation after this
/// one has begun.
pub(crate) fn last_generation() -> u64 {
    LAST_GENERATION.load(StdOrdering::SeqCst)
}

/// Whether any subscriber is recording (one relaxed atomic load).
#[inline(always)]
pub(crate) fn active() -> bool {
    ACTIVE.load(StdOrdering::Relaxed)
}

/// The recorder, if anything ever configured or subscribed.
#[inline(always)]
pub(crate) fn runtime() -> Option<&'static Runtime> {
    RUNTIME.get()
}

/// The recorder, created on first use.
pub(crate) fn runtime_or_init() -> &'static Runtime {
    RUNTIME.get_or_init(Runtime::new)
}

/// Finished bytes past which the flusher does not wait for its period
/// (as many as the free output chunks the buffers keep).
const FLUSH_EARLY_BYTES: u64 = 4 << 20;

/// The largest generation tail (frequency and tables) buffer kept for the
/// next generation.
const TAIL_KEEP: usize = 4 << 20;

/// What the flusher should do next.
enum Action {
    Advance,
    Flush(u64),
    Idle,
}

#[derive(Debug)]
struct Control {
    config: Config,
    /// The number the next generation started from "off" gets.
    next_gen: u64,
    gen_started: Instant,
    /// Advances requested and served (tickets).
    requested: u64,
    done: u64,
    joins: Vec<Entry>,
    leaves: Vec<u64>,
    next_id: u64,
    /// First generation and format of each subscriber whose join was
    /// served, until its caller picks it up.
    joined: HashMap<u64, (u64, Format)>,
    /// The format of the current tracing session (`None`: tracing off).
    session: Option<Format>,
    last_closed: u64,
    flusher: Option<Thread>,
    flusher_id: Option<ThreadId>,
}

/// The recorder's state.
#[derive(Debug)]
pub(crate) struct Runtime {
    pub(crate) buffers: Buffers,
    pub(crate) threads: Threads,
    pub(crate) symbols: Symbols,
    mux: Multiplexer,
    control: StdMutex<Control>,
    served: Condvar,
    /// The buffer a generation's tail is built in (flusher only).
    tail: StdMutex<Vec<u8>>,
    /// Held by whoever flushes or advances: the flusher thread, or a
    /// caller of [`advance`](Runtime::advance) that found it idle.
    work: StdMutex<()>,
}

/// The flusher thread's name.
const FLUSHER_NAME: &str = "trace-flusher";

/// Whether the current thread runs subscriber callbacks now: it is the
/// flusher, or a caller of `advance` switching the generation itself.
pub(crate) fn in_callback() -> bool {
    ADVANCING.with(|a| a.get()) || thread::current().name() == Some(FLUSHER_NAME)
}

thread_local! {
    /// Whether this thread is running an advance (and so subscriber
    /// callbacks) for [`Runtime::advance`].
    static ADVANCING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Runtime {
    fn new() -> Self {
        Self {
            buffers: Buffers::new(crate::raw::n_cpus()),
            threads: Threads::default(),
            symbols: Symbols::default(),
            mux: Multiplexer::default(),
            control: StdMutex::new(Control {
                config: Config::default(),
                next_gen: 1,
                gen_started: Instant::now(),
                requested: 0,
                done: 0,
                joins: Vec::new(),
                leaves: Vec::new(),
                next_id: 1,
                joined: HashMap::new(),
                session: None,
                last_closed: 0,
                flusher: None,
                flusher_id: None,
            }),
            served: Condvar::new(),
            tail: StdMutex::new(Vec::new()),
            work: StdMutex::new(()),
        }
    }

    fn control(&self) -> StdMutexGuard<'_, Control> {
        lock_std(&self.control)
    }

    /// Applies `config`.
    pub(crate) fn configure(&self, config: Config) -> Result<(), Error> {
        let in_use = clock::source_in_use();
        let clock_differs = in_use != clock::ClockSource::Auto
            && config.clock != clock::ClockSource::Auto
            && config.clock != in_use;
        stack::set_mode(config.stacks);
        let mut c = self.control();
        let format_fixed = c.session.filter(|&in_use| in_use != config.format);
        c.config = config;
        if let Some(f) = &c.flusher {
            f.unpark();
        }
        drop(c);
        if clock_differs {
            return Err(Error::ClockFixed);
        }
        if let Some(in_use) = format_fixed {
            return Err(Error::FormatFixed { in_use });
        }
        Ok(())
    }

    /// The format of the current tracing session, `None` while tracing is
    /// off.
    pub(crate) fn session_format(&self) -> Option<Format> {
        self.control().session
    }

    /// The current configuration.
    pub(crate) fn config(&self) -> Config {
        self.control().config.clone()
    }

    /// Starts the flusher thread if needed. Called with the control lock.
    fn ensure_flusher(&'static self, c: &mut Control) -> Result<(), Error> {
        if c.flusher.is_some() {
            return Ok(());
        }
        clock::init(c.config.clock);
        let handle = thread::Builder::new()
            .name(FLUSHER_NAME.into())
            .spawn(move || self.flusher_main())
            .map_err(Error::Spawn)?;
        c.flusher_id = Some(handle.thread().id());
        crate::limits::set_flusher(handle.thread().clone());
        c.flusher = Some(handle.thread().clone());
        Ok(())
    }

    fn check_not_flusher(&self, c: &Control) -> Result<(), Error> {
        if c.flusher_id == Some(thread::current().id()) || ADVANCING.with(|a| a.get()) {
            return Err(Error::WouldDeadlock);
        }
        Ok(())
    }

    /// Asks for an advance; returns its ticket. Called with the control lock.
    fn request(c: &mut Control) -> u64 {
        c.requested += 1;
        if let Some(f) = &c.flusher {
            f.unpark();
        }
        c.requested
    }

    /// Runs the flusher's work `f` (a flush or an advance), excluding the
    /// flusher thread and callers of [`advance`](Runtime::advance).
    fn work<T>(&self, f: impl FnOnce() -> T) -> T {
        let _work = lock_std(&self.work);
        f()
    }

    fn wait_served<'a>(
        &self,
        c: StdMutexGuard<'a, Control>,
        ticket: u64,
    ) -> StdMutexGuard<'a, Control> {
        self.served
            .wait_while(c, |c| c.done < ticket)
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `sub`; returns its id, first generation and format once it
    /// is receiving.
    /// `on_id` learns the id before any delivery.
    pub(crate) fn subscribe_with(
        &'static self,
        sub: Arc<dyn Subscriber>,
        on_id: impl FnOnce(u64),
    ) -> Result<(u64, u64, Format), Error> {
        let mut c = self.control();
        self.check_not_flusher(&c)?;
        self.ensure_flusher(&mut c)?;
        let id = c.next_id;
        c.next_id += 1;
        on_id(id);
        c.joins.push(Entry { id, sub });
        let ticket = Self::request(&mut c);
        let mut c = self.wait_served(c, ticket);
        let (first, format) = c.joined.remove(&id).unwrap_or((0, c.config.format));
        Ok((id, first, format))
    }

    /// Removes subscriber `id` at the next generation boundary; with `wait`,
    /// returns once its last generation was delivered and it was closed.
    pub(crate) fn unsubscribe(&self, id: u64, wait: bool) -> Result<(), Error> {
        let mut c = self.control();
        if wait {
            self.check_not_flusher(&c)?;
        }
        c.leaves.push(id);
        let ticket = Self::request(&mut c);
        if wait {
            drop(self.wait_served(c, ticket));
        }
        Ok(())
    }

    /// Completes the current generation; returns the latest complete one.
    pub(crate) fn advance(&self) -> Result<Option<Generation>, Error> {
        let mut c = self.control();
        self.check_not_flusher(&c)?;
        if c.flusher.is_none() {
            return Ok(Generation::new(c.last_closed));
        }
        // The caller advances itself, once the flusher (or another caller)
        // is done with what it is doing: under load, waking the flusher and
        // being woken again cost more than the advance (two scheduler round
        // trips, a millisecond with busy CPUs). The flusher, woken all the
        // same, finds the ticket served.
        c.requested += 1;
        let ticket = c.requested;
        drop(c);
        {
            let _work = lock_std(&self.work);
            if self.control().done < ticket {
                struct Advancing;
                impl Drop for Advancing {
                    fn drop(&mut self) {
                        ADVANCING.with(|a| a.set(false));
                    }
                }
                ADVANCING.with(|a| a.set(true));
                let _advancing = Advancing;
                self.advance_now();
            }
        }
        let c = self.wait_served(self.control(), ticket);
        Ok(Generation::new(c.last_closed))
    }

    /// The number of subscribers receiving the current generation.
    pub(crate) fn n_subscribers(&self) -> usize {
        self.mux.current().entries.len()
    }

    fn flusher_main(&'static self) {
        loop {
            crate::limits::flusher_awake();
            let (action, sleep) = {
                let c = self.control();
                let gen = self.buffers.generation();
                let period = crate::limits::period(c.config.generation_period);
                let elapsed = c.gen_started.elapsed();
                if self.advance_due(&c) {
                    (Action::Advance, Duration::ZERO)
                } else if gen != 0 {
                    let sleep = c.config.flush_period.min(period - elapsed);
                    (Action::Flush(gen), sleep)
                } else {
                    (Action::Idle, Duration::from_secs(1))
                }
            };
            match action {
                Action::Advance => self.work(|| {
                    // A caller of `advance` may have served it meanwhile.
                    if self.advance_due(&self.control()) {
                        self.advance_now();
                    }
                }),
                Action::Flush(gen) => self.work(|| self.flush(gen)),
                Action::Idle => {}
            }
            // Deliver at once when batches pile up faster than the period.
            let early = crate::limits::flush_early_bytes(FLUSH_EARLY_BYTES);
            if !sleep.is_zero() && self.buffers.completed_bytes() < early {
                thread::park_timeout(sleep);
            }
        }
    }

    /// Whether an advance is asked for, or the generation is old or big
    /// enough.
    fn advance_due(&self, c: &Control) -> bool {
        let gen = self.buffers.generation();
        let period = crate::limits::period(c.config.generation_period);
        let full = crate::limits::bytes_reached(self.buffers.completed_bytes());
        c.requested > c.done || (gen != 0 && (c.gen_started.elapsed() >= period || full))
    }

    /// Delivers the finished batches of the current generation.
    fn flush(&self, gen: u64) {
        let (chunks, _) = self.buffers.take_completed(gen);
        if chunks.is_empty() {
            return;
        }
        crate::limits::delivered(chunks.iter().map(|c| c.len() as u64).sum());
        let g = Generation::new(gen).expect("tracing is on");
        let failed = self.deliver_chunks(&self.mux.current(), g, chunks);
        self.drop_failed(failed);
    }

    /// Delivers finished batches of `g` to `set` chunk by chunk, then
    /// recycles the chunks; returns the ids of subscribers that panicked
    /// (perhaps more than once).
    fn deliver_chunks(&self, set: &SubscriberSet, g: Generation, chunks: Vec<Vec<u8>>) -> Vec<u64> {
        let mut failed = Vec::new();
        for chunk in &chunks {
            failed.extend(subscriber::deliver(set, |s| s.on_batches(g, chunk)));
        }
        self.buffers.recycle(chunks);
        failed
    }

    /// Queues the removal of subscribers that panicked.
    fn drop_failed(&self, failed: Vec<u64>) {
        if failed.is_empty() {
            return;
        }
        let mut c = self.control();
        c.leaves.extend(failed);
        Self::request(&mut c);
    }

    /// One generation switch (runs on the flusher thread).
    fn advance_now(&self) {
        let set = self.mux.current();
        let old = self.buffers.generation();
        let mut next = SubscriberSet::default();
        let mut leaving = Vec::new();
        // Under the control lock: the subscribers of the next generation,
        // its number, and the session's format (so that `configure` sees
        // the session that this advance starts or ends).
        let (target, joins, cancelled, new, old_format, new_format, cpu_hz) = {
            let mut c = self.control();
            let leaves = std::mem::take(&mut c.leaves);
            for e in &set.entries {
                if leaves.contains(&e.id) {
                    leaving.push(e.clone());
                } else {
                    next.entries.push(e.clone());
                }
            }
            // A subscriber that leaves before its join was served never
            // receives.
            let (cancelled, joins): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut c.joins)
                .into_iter()
                .partition(|e| leaves.contains(&e.id));
            next.entries.extend(joins.iter().cloned());
            let new = match (next.entries.is_empty(), old) {
                (true, _) => 0,
                (false, 0) => c.next_gen,
                (false, old) => old + 1,
            };
            // The format of the generation that ends (if any), and of the
            // one that begins: a session keeps the format it started with.
            let old_format = c.session.unwrap_or(c.config.format);
            let new_format = match (new, old) {
                (0, _) => None,
                (_, 0) => Some(c.config.format),
                _ => Some(old_format),
            };
            c.session = new_format;
            let cpu_hz = c.config.cpu_hz;
            (
                c.requested,
                joins,
                cancelled,
                new,
                old_format,
                new_format,
                cpu_hz,
            )
        };
        // CPU samples while tracing is on: start with the session, stop
        // before its last generation closes so that it gets every sample.
        if old == 0 && new != 0 && cpu_hz > 0 {
            if let Err(e) = crate::cpu::start(cpu_hz) {
                eprintln!("trace-runtime: CPU samples are off: {e}");
            }
        } else if old != 0 && new == 0 {
            crate::cpu::stop();
        }
        let switch_ts = match new_format {
            Some(Format::Go126) => {
                // The sync batch opens the new generation: pushed before
                // the switch, it precedes every batch written in it.
                let freq = clock::frequency();
                let snapshot = clock::snapshot();
                let payload = tables::sync_payload(freq, &snapshot);
                self.buffers.push_structural(new, snapshot.ticks, &payload);
                snapshot.ticks
            }
            Some(Format::Go123) | None => clock::now(),
        };
        self.buffers.switch(new);
        if new != 0 {
            // After the switch: see `last_generation`.
            LAST_GENERATION.store(new, StdOrdering::SeqCst);
        }
        crate::limits::generation_switched();
        ACTIVE.store(new != 0, StdOrdering::SeqCst);
        let mut failed = Vec::new();
        if old != 0 {
            failed = self.close_generation(old, old_format, switch_ts, &set);
        }
        for e in leaving.iter().chain(&cancelled) {
            failed.extend(subscriber::deliver(
                &SubscriberSet {
                    entries: vec![e.clone()],
                },
                |s| s.on_close(),
            ));
        }
        if let (Some(first), Some(format)) = (Generation::new(new), new_format) {
            for e in &joins {
                failed.extend(subscriber::deliver(
                    &SubscriberSet {
                        entries: vec![e.clone()],
                    },
                    |s| s.on_join(first, format),
                ));
            }
        }
        failed.retain(|id| next.entries.iter().any(|e| e.id == *id));
        self.mux.replace(next);
        let mut c = self.control();
        c.done = c.done.max(target);
        for e in &joins {
            c.joined
                .insert(e.id, (new, new_format.unwrap_or(old_format)));
        }
        if new != 0 {
            c.next_gen = new + 1;
        } else if old != 0 {
            c.next_gen = old + 1;
        }
        if old != 0 {
            c.last_closed = old;
        }
        c.gen_started = Instant::now();
        if !failed.is_empty() {
            c.leaves.extend(failed);
            Self::request(&mut c);
        }
        drop(c);
        self.served.notify_all();
    }

    /// Steps 4–7 of the protocol for generation `gen`, written in
    /// `format`; returns the ids of subscribers that panicked.
    fn close_generation(
        &self,
        gen: u64,
        format: Format,
        switch_ts: u64,
        set: &SubscriberSet,
    ) -> Vec<u64> {
        let tables = self.buffers.drain(gen);
        self.threads.sweep(gen, |m, payload| {
            self.buffers.push_batch(gen, m, switch_ts, payload);
        });
        let (chunks, n_batches) = self.buffers.take_completed(gen);
        let mut samples = Vec::new();
        crate::cpu::drain(|s| samples.push(s));
        let g = Generation::new(gen).expect("generation numbers start at 1");
        let mut failed = self.deliver_chunks(set, g, chunks);
        // The tail (frequency, tables) is built in a buffer kept across
        // generations.
        let mut out = std::mem::take(&mut *lock_std(&self.tail));
        out.clear();
        // Sample stacks take ids above every event stack's.
        let n = tables.len().max(1);
        let base = tables.iter().map(|t| t.stacks.len()).max().unwrap_or(0) * n + 1;
        let sample_stacks = write_samples(&mut out, gen, switch_ts, &samples, base as u64);
        if n_batches == 0 && samples.is_empty() {
            // Go 1.23 rejects a generation without events: state that some
            // idle P is idle.
            let (p, stopped) = self.threads.take_p();
            let mut payload = vec![ty::PROC_STATUS, 0];
            trace_wire::varint::encode(p, &mut payload);
            trace_wire::varint::encode(P_IDLE, &mut payload);
            trace_wire::BatchHeader {
                experiment: trace_wire::Experiment::None,
                gen,
                m: NO_THREAD,
                time: switch_ts.max(stopped.saturating_add(1)),
                size: payload.len() as u64,
            }
            .encode(&mut out, trace_wire::SizeEncoding::Minimal);
            out.extend_from_slice(&payload);
            self.threads.put_p(p, stopped);
        }
        match format {
            Format::Go123 => {
                tables::write_frequency_batch(&mut out, gen, switch_ts, clock::frequency());
                // Table batches at time 0, as this format always had them.
                self.write_tables(gen, 0, &tables, (base as u64, &sample_stacks), &mut out);
            }
            Format::Go126 => {
                // Newer readers date a generation's sync by its earliest
                // batch: table batches get the generation's end.
                self.write_tables(
                    gen,
                    switch_ts,
                    &tables,
                    (base as u64, &sample_stacks),
                    &mut out,
                );
                tables::write_end_of_generation(&mut out);
            }
        }
        failed.extend(subscriber::deliver(set, |s| s.on_batches(g, &out)));
        failed.extend(subscriber::deliver(set, |s| s.on_generation_end(g)));
        self.buffers.retire(gen);
        // Keep a buffer of ordinary size; let a rare huge one go.
        if out.capacity() <= TAIL_KEEP {
            *lock_std(&self.tail) = out;
        }
        failed.sort_unstable();
        failed.dedup();
        failed
    }

    /// Writes the stack and string tables of `gen`, in batches of header
    /// time `time`; `samples` are the CPU samples' stacks, numbered from
    /// the id given.
    fn write_tables(
        &self,
        gen: u64,
        time: u64,
        tables: &[GenTables],
        samples: (u64, &[Vec<u64>]),
        out: &mut Vec<u8>,
    ) {
        let n = tables.len();
        // Function and file names of stack frames go in the extra lane `n`.
        let mut names = StringTable::default();
        let name_id = |names: &mut StringTable, s: &str| -> u64 {
            let s = tables::truncate_end(s.as_bytes());
            if s.is_empty() {
                0
            } else {
                tables::global_id(names.intern(s), n, n + 1)
            }
        };
        let mut frames: Vec<RawFrame> = Vec::new();
        let mut w = tables::table_writer(out, gen, time, ty::STACKS);
        for (lane, t) in tables.iter().enumerate() {
            for (i, pcs) in t.stacks.iter().enumerate() {
                let resolved: Vec<_> = pcs
                    .iter()
                    .map(|&pc| (pc, self.symbols.resolve(pc)))
                    .collect();
                // Drop the recorder's own frames from the top of the stack.
                let skip = resolved.iter().position(|(_, f)| !f.internal).unwrap_or(0);
                frames.clear();
                for (pc, f) in &resolved[skip..] {
                    let func = name_id(&mut names, &f.func);
                    let file = name_id(&mut names, &f.file);
                    frames.push(RawFrame {
                        pc: *pc,
                        func,
                        file,
                        line: f.line,
                    });
                }
                w.stack(tables::global_id(i, lane, n), &frames);
            }
        }
        // A sample's stack is where the CPU was, the recorder's own code
        // included.
        let (first, stacks) = samples;
        for (k, pcs) in stacks.iter().enumerate() {
            frames.clear();
            for &pc in pcs {
                let f = self.symbols.resolve(pc);
                let func = name_id(&mut names, &f.func);
                let file = name_id(&mut names, &f.file);
                frames.push(RawFrame {
                    pc,
                    func,
                    file,
                    line: f.line,
                });
            }
            w.stack(first + k as u64, &frames);
        }
        w.finish();
        let mut w = tables::table_writer(out, gen, time, ty::STRINGS);
        for (lane, t) in tables.iter().enumerate() {
            for (i, s) in t.strings.iter().enumerate() {
                w.string(tables::global_id(i, lane, n + 1), s);
            }
        }
        for (i, s) in names.iter().enumerate() {
            w.string(tables::global_id(i, n, n + 1), s);
        }
        w.finish();
    }
}

/// Appends the `CPUSamples` batches of generation `gen` (header time
/// `time`) for `samples`, numbering their distinct stacks from `first`;
/// returns those stacks in id order.
fn write_samples(
    out: &mut Vec<u8>,
    gen: u64,
    time: u64,
    samples: &[crate::cpu::Sample],
    first: u64,
) -> Vec<Vec<u64>> {
    /// Room left for the largest sample (six ten-byte varints).
    const LIMIT: usize = trace_wire::MAX_BATCH_SIZE as usize - 64;
    let mut ids: HashMap<&[u64], u64> = HashMap::new();
    let mut stacks: Vec<Vec<u64>> = Vec::new();
    let mut payload = Vec::new();
    let flush = |payload: &mut Vec<u8>, out: &mut Vec<u8>| {
        if payload.len() > 1 {
            trace_wire::BatchHeader {
                experiment: trace_wire::Experiment::None,
                gen,
                m: NO_THREAD,
                time,
                size: payload.len() as u64,
            }
            .encode(out, trace_wire::SizeEncoding::Minimal);
            out.extend_from_slice(payload);
        }
        payload.clear();
        payload.push(ty::CPU_SAMPLES);
    };
    flush(&mut payload, out);
    for s in samples {
        let stack = if s.pcs.is_empty() {
            0
        } else {
            *ids.entry(&s.pcs).or_insert_with(|| {
                stacks.push(s.pcs.clone());
                first + stacks.len() as u64 - 1
            })
        };
        payload.push(ty::CPU_SAMPLE);
        for v in [s.time, s.m, s.p, s.g, stack] {
            trace_wire::varint::encode(v, &mut payload);
        }
        if payload.len() > LIMIT {
            flush(&mut payload, out);
        }
    }
    flush(&mut payload, out);
    stacks
}

// Generation limits (`limits.rs`).
impl Runtime {
    /// Asks for an advance without waiting for it; callable from the
    /// flusher.
    pub(crate) fn request_advance(&self) {
        let mut c = self.control();
        if c.flusher.is_some() {
            Self::request(&mut c);
        }
    }
}
