//! [`Reader`]: the streaming reader that turns a trace into Go's ordered,
//! validated event stream.

use std::fmt::Write as _;
use std::io::{BufReader, Read};
use std::sync::Arc;

use trace_wire::{ty, Version};

use crate::cursor::{CurEvent, Cursor, Decoder, Frontier, Ticks};
use crate::error::{Error, ErrorKind};
use crate::event::{Ctx, Event, SYNC};
use crate::generation::{CpuSample, Generation, GenerationReader, Spill};
use crate::order::{Ordering, Queued};
use crate::specs::{TypeInfo, TypeTable};
use crate::tables::GenTables;

/// The read buffer size: a few maximal batches.
const BUFFER: usize = 256 << 10;

/// Reads a Go execution trace (format v2: Go 1.22, 1.23 and 1.25) and yields
/// its events in Go's order, validated as Go validates them.
///
/// The reader streams: it holds one generation (typically about a second of
/// the traced program) and one batch of the next, whatever the file size.
/// Events share their generation's string and stack tables.
///
/// For Go 1.22 and 1.23 traces the stream is exactly Go 1.23's: one
/// [`Sync`](crate::EventKind::Sync) event after each generation. For Go 1.25
/// traces it is Go 1.25's: a sync event before each generation, carrying the
/// generation's clock snapshot, and one at the end.
///
/// ```
/// use trace_reader::{EventKind, Reader};
///
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
/// let file = std::fs::File::open(path)?;
/// let mut reader = Reader::new(file)?;
/// let mut transitions = 0;
/// while let Some(event) = reader.read_event()? {
///     if event.kind() == EventKind::StateTransition {
///         transitions += 1;
///     }
///     if let Some(log) = event.log() {
///         println!("{}: {}", log.category, log.message);
///     }
/// }
/// assert!(transitions > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Reader<R> {
    src: GenerationReader<BufReader<R>>,
    version: Version,
    gen: Option<Generation>,
    spill: Option<Spill>,
    /// A read error to report once the current generation is done.
    spill_err: Option<Error>,
    /// 1.25: whether the sync that precedes `spill_err` was emitted.
    spill_err_sync: bool,
    frontier: Frontier,
    samples: std::vec::IntoIter<CpuSample>,
    order: Ordering,
    types: TypeTable,
    /// The current generation's clock.
    ticks: Ticks,
    /// The event last accepted by the ordering.
    accepted: CurEvent,
    /// 1.22/1.23: whether the current generation's closing sync was emitted.
    emitted_sync: bool,
    syncs: u64,
    last_ts: i64,
    generations: u64,
    /// The stream ends after the events already queued.
    at_end: bool,
    /// The stream has ended (or failed).
    done: bool,
}

/// The outcome of an attempt to produce an event.
type Next = Result<Option<Event>, Error>;

impl<R: Read> Reader<R> {
    /// Reads the file header of `input` (buffered internally).
    pub fn new(input: R) -> Result<Self, Error> {
        let src = GenerationReader::new(BufReader::with_capacity(BUFFER, input))?;
        let version = src.version();
        Ok(Self {
            src,
            version,
            gen: None,
            spill: None,
            spill_err: None,
            spill_err_sync: false,
            frontier: Frontier::default(),
            samples: Vec::new().into_iter(),
            order: Ordering::default(),
            types: TypeTable::new(version),
            ticks: Ticks::new(trace_wire::Frequency::new(1)),
            accepted: CurEvent::default(),
            emitted_sync: true,
            syncs: 0,
            last_ts: 0,
            generations: 0,
            at_end: false,
            done: false,
        })
    }

    /// The trace's format version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Reads the next event; `Ok(None)` at the end of the trace.
    ///
    /// After an error the reader is finished: further calls return
    /// `Ok(None)`.
    pub fn read_event(&mut self) -> Result<Option<Event>, Error> {
        if self.done {
            return Ok(None);
        }
        let res = if let Some(q) = self.order.queue.pop() {
            self.emit_queued(q).map(Some)
        } else if self.frontier.is_empty() || self.samples.len() != 0 || self.at_end {
            self.next_slow()
        } else {
            // The common case: within a generation, no CPU sample pending.
            self.advance_and_pop()
        };
        if !matches!(res, Ok(Some(_))) {
            self.done = true;
        }
        res
    }

    /// Returns an event the ordering queued.
    fn emit_queued(&mut self, q: Queued) -> Result<Event, Error> {
        let ev = CurEvent {
            ty: q.ty,
            time: q.time,
            args: q.args,
            offset: q.offset,
        };
        self.emit_wire(&ev, q.ctx, None)
    }

    /// Returns an event accepted by the ordering: checks its table
    /// references and applies the monotonic time fix-up.
    #[inline(always)]
    fn emit_wire(
        &mut self,
        ev: &CurEvent,
        ctx: Ctx,
        name: Option<Arc<[u8]>>,
    ) -> Result<Event, Error> {
        let info = *self.types.get(ev.ty);
        // Sharing the tables costs two atomic operations per event; events
        // that refer to no strings or stacks go without.
        let table = match &self.gen {
            Some(g) if info.tables => Some(g.tables.clone()),
            _ => None,
        };
        if let Some(t) = &table {
            if !ids_exist(&info, ev.ty, &ev.args, t) {
                validate_table_ids(ev.ty, &ev.args, t)
                    .map_err(|e| e.at(ev.offset).in_generation(t.gen))?;
            }
        }
        Ok(Event {
            ty: ev.ty,
            time: self.fix_time(ev.time),
            ctx,
            args: ev.args,
            table,
            name,
        })
    }

    /// Returns a sync event or a CPU sample.
    fn emit_other(&mut self, mut ev: Event) -> Result<Event, Error> {
        if ev.ty != SYNC {
            if let Some(t) = ev.table() {
                validate_table_ids(ev.ty, &ev.args, t).map_err(|e| e.in_generation(t.gen))?;
            }
        }
        ev.time = self.fix_time(ev.time);
        Ok(ev)
    }

    /// Go's monotonic fix-up: output times strictly increase.
    #[inline]
    fn fix_time(&mut self, time: i64) -> i64 {
        let time = if time <= self.last_ts {
            self.last_ts.wrapping_add(1)
        } else {
            time
        };
        self.last_ts = time;
        time
    }

    fn tables(&self) -> Option<Arc<GenTables>> {
        self.gen.as_ref().map(|g| g.tables.clone())
    }

    fn sync_event(&mut self, table: Option<Arc<GenTables>>, time: i64, clock: bool) -> Next {
        self.syncs += 1;
        let ev = Event {
            ty: SYNC,
            time,
            ctx: Ctx::NONE,
            args: [self.syncs, u64::from(clock), 0, 0, 0],
            table,
            name: None,
        };
        self.emit_other(ev).map(Some)
    }

    /// The next event when none is queued: generation boundaries, CPU
    /// samples, and advancing the ordering.
    fn next_slow(&mut self) -> Next {
        if self.at_end {
            return Ok(None);
        }
        while self.frontier.is_empty() && self.samples.len() == 0 {
            if self.version >= Version::Go125 {
                return self.generation_boundary_go125();
            }
            // Go 1.22/1.23: a sync closes the generation just finished.
            if !self.emitted_sync {
                self.emitted_sync = true;
                let table = self.tables();
                return self.sync_event(table, self.last_ts, false);
            }
            if let Some(e) = self.spill_err.take() {
                return Err(e);
            }
            if self.gen.is_some() && self.spill.is_none() {
                return Ok(None);
            }
            self.read_generation()?;
            self.start_cursors()?;
            self.emitted_sync = false;
            if self.generations == 1 {
                // An empty first generation fails below, as in Go 1.23.
                break;
            }
            // A later generation without events only yields its sync. Go
            // 1.23 fails on it ("frontier is empty"), newer Go accepts it.
        }
        if let Some(&s) = self.samples.as_slice().first() {
            if self.frontier.min_time().is_none_or(|t| s.time < t) {
                self.samples.next();
                let ev = Event {
                    ty: ty::CPU_SAMPLE,
                    time: s.time,
                    ctx: Ctx {
                        g: s.g,
                        p: s.p,
                        m: s.m,
                    },
                    args: [s.stack, 0, 0, 0, 0],
                    table: self.tables(),
                    name: None,
                };
                return self.emit_other(ev).map(Some);
            }
        }
        self.advance_and_pop()
    }

    /// Advances one event and returns the first event it yields.
    #[inline(always)]
    fn advance_and_pop(&mut self) -> Next {
        self.advance()?;
        if !self.order.accepted.queued {
            let ev = self.accepted;
            let ctx = self.order.accepted.ctx;
            let name = self.order.accepted.name.take();
            return self.emit_wire(&ev, ctx, name).map(Some);
        }
        match self.order.queue.pop() {
            Some(q) => self.emit_queued(q).map(Some),
            None => Err(self.failed_to_advance()),
        }
    }

    /// Go 1.25's generation boundary: a sync before each generation, one at
    /// the end, and one before a read error.
    fn generation_boundary_go125(&mut self) -> Next {
        if let Some(e) = self.spill_err.take() {
            if self.spill_err_sync {
                return Err(e);
            }
            self.spill_err = Some(e);
            self.spill_err_sync = true;
            return self.sync_event(None, self.last_ts, false);
        }
        if self.gen.is_some() && self.spill.is_none() {
            self.at_end = true;
            return self.sync_event(None, self.last_ts, false);
        }
        if let Err(e) = self.read_generation() {
            self.spill_err = Some(e);
            self.spill_err_sync = true;
            return self.sync_event(None, self.last_ts, false);
        }
        self.start_cursors()?;
        let Some(g) = &self.gen else {
            return Ok(None);
        };
        let (table, time) = (g.tables.clone(), g.tables.freq.ns(g.min_ts));
        self.sync_event(Some(table), time, true)
    }

    /// Reads the next generation.
    fn read_generation(&mut self) -> Result<(), Error> {
        let spill = self.spill.take();
        let recycle = self.gen.take();
        self.frontier.clear();
        self.samples = Vec::new().into_iter();
        let read = self.src.read(spill, recycle)?;
        self.generations += 1;
        self.spill = read.spill;
        self.spill_err = read.deferred;
        self.gen = Some(read.generation);
        Ok(())
    }

    /// Sets up the cursors and CPU samples of the generation just read.
    fn start_cursors(&mut self) -> Result<(), Error> {
        let Some(g) = &mut self.gen else {
            return Ok(());
        };
        self.ticks = Ticks::new(g.tables.freq);
        let dec = Decoder {
            version: self.version,
            ticks: self.ticks,
            types: &self.types,
        };
        for (i, t) in g.threads.iter().enumerate() {
            let mut c = Cursor::new(t.m, i);
            if c.next_event(&t.batches, &g.arena, &dec)
                .map_err(|e| e.in_generation(g.gen))?
            {
                self.frontier.insert(c);
            }
        }
        self.samples = std::mem::take(&mut g.cpu_samples).into_iter();
        Ok(())
    }

    /// Advances one event of the current generation (Go's `ReadEvent` after
    /// the generation checks), queueing what it yields.
    #[inline(always)]
    fn advance(&mut self) -> Result<(), Error> {
        if self.frontier.is_empty() {
            let gen = self.gen.as_ref().map_or(0, |g| g.gen);
            let dump = format!("[gen={gen}]\n\n\n{}\n", self.order.dump());
            return Err(Error::new(ErrorKind::FrontierEmpty { dump }).in_generation(gen));
        }
        if self.try_advance(0)? {
            return Ok(());
        }
        self.advance_others()
    }

    /// The root thread's event must wait: tries the other threads in time
    /// order (a sorted heap is still a heap).
    #[cold]
    fn advance_others(&mut self) -> Result<(), Error> {
        self.frontier.sort();
        for i in 1..self.frontier.len() {
            if self.try_advance(i)? {
                return Ok(());
            }
        }
        Err(self.failed_to_advance())
    }

    /// Tries to advance the event of the cursor at `i` in the frontier. If it
    /// is accepted, it is kept in `self.accepted` (and how to report it in
    /// `self.order.accepted`).
    #[inline(always)]
    fn try_advance(&mut self, i: usize) -> Result<bool, Error> {
        let Self {
            gen: Some(g),
            frontier,
            order,
            version,
            types,
            ticks,
            accepted,
            ..
        } = self
        else {
            return Ok(false);
        };
        let c = frontier.cursor(i);
        if !order.advance(&mut c.ev, &g.tables, c.m, &mut c.slot, g.gen)? {
            return Ok(false);
        }
        *accepted = c.ev;
        let batches = &g.threads[c.thread].batches;
        let dec = Decoder {
            version: *version,
            ticks: *ticks,
            types,
        };
        let more = c
            .next_event(batches, &g.arena, &dec)
            .map_err(|e| e.in_generation(g.gen))?;
        if more {
            frontier.update(i);
        } else {
            frontier.remove(i);
        }
        Ok(true)
    }

    #[cold]
    fn failed_to_advance(&self) -> Error {
        let gen = self.gen.as_ref().map_or(0, |g| g.gen);
        let mut dump = format!("[gen={gen}]\n\n");
        for c in self.frontier.iter() {
            let spec = Version::Go123.spec(c.ev.ty);
            let name = spec.map_or("", |s| s.name);
            let _ = write!(dump, "M {} [{} time={}", c.m as i64, name, c.ev.time);
            let args = spec.map_or(&[][..], |s| s.args.get(1..).unwrap_or(&[]));
            for (arg, v) in args.iter().zip(c.ev.args) {
                let _ = write!(dump, " {arg}={v}");
            }
            dump.push_str("]\n");
        }
        let _ = write!(dump, "\n{}\n", self.order.dump());
        Error::new(ErrorKind::FailedToAdvance { dump }).in_generation(gen)
    }
}

/// Whether every stack and string an event refers to exists (the fast check;
/// [`validate_table_ids`] says which does not).
#[inline]
fn ids_exist(info: &TypeInfo, t: u8, args: &[u64; 5], table: &GenTables) -> bool {
    let mut bits = info.stacks;
    while bits != 0 {
        if !table.has_stack(args[bits.trailing_zeros() as usize]) {
            return false;
        }
        bits &= bits - 1;
    }
    let mut bits = info.strings;
    while bits != 0 {
        if !table.has_string(args[bits.trailing_zeros() as usize]) {
            return false;
        }
        bits &= bits - 1;
    }
    match t {
        ty::STW_END => table.has_string(args[0]),
        ty::CPU_SAMPLE => table.has_stack(args[0]),
        _ => true,
    }
}

/// Checks that the stacks and strings an event refers to exist (Go's
/// `validateTableIDs`), plus the references Go would only trip over when
/// printing the event.
fn validate_table_ids(t: u8, args: &[u64; 5], table: &GenTables) -> Result<(), Error> {
    if t == ty::CPU_SAMPLE {
        // Go 1.25 checks this; Go 1.23 would crash printing the sample.
        if !table.has_stack(args[0]) {
            return Err(ErrorKind::InvalidStackId {
                id: args[0],
                event: "CPUSample",
            }
            .into());
        }
        return Ok(());
    }
    let Some(spec) = Version::Go123.spec(t) else {
        return Ok(());
    };
    for &i in spec.stack_ids {
        let id = args[i - 1];
        if !table.has_stack(id) {
            return Err(ErrorKind::InvalidStackId {
                id,
                event: spec.name,
            }
            .into());
        }
    }
    for &i in spec.string_ids {
        let id = args[i - 1];
        if !table.has_string(id) {
            return Err(ErrorKind::InvalidStringId {
                id,
                event: spec.name,
            }
            .into());
        }
    }
    // A stop-the-world end carries its begin's kind, which may come from an
    // earlier generation's table.
    if t == ty::STW_END && !table.has_string(args[0]) {
        return Err(ErrorKind::InvalidStringId {
            id: args[0],
            event: spec.name,
        }
        .into());
    }
    Ok(())
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read_event().transpose()
    }
}

impl<R: Read> std::iter::FusedIterator for Reader<R> {}
