//! [`Reader`]: the streaming reader that turns a trace into Go's ordered,
//! validated event stream.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use trace_wire::{ty, Version};

use crate::cursor::{Cursor, Decoder, Frontier, Ticks};
use crate::error::{Error, ErrorKind};
use crate::event::{Ctx, Event, SYNC};
use crate::framing::read_file_header;
use crate::generation::{CpuSample, Generation, GenerationReader, Spill};
use crate::order::{Accepted, Ordering, Queued};
use crate::pipeline::{Background, Unstarted};
use crate::specs::{TypeInfo, TypeTable};
use crate::tables::GenTables;

/// The read buffer size: a few maximal batches.
pub(crate) const BUFFER: usize = 256 << 10;

/// With [`Threading::Auto`], a reader moves its work to a background thread
/// once it has read this much of its input (tiny traces never do).
const AUTO_THRESHOLD: u64 = 1 << 20;

/// Events decoded at a time on the caller's thread.
const LOCAL_CHUNK: usize = 512;

/// The most tables a chunk refers to (`Raw::tab` is a byte).
const MAX_TABLES: usize = u8::MAX as usize;

/// Which Go release's reader a [`Reader`] imitates.
///
/// The releases agree on the events of a trace and on their order; they
/// differ in where they put the [`Sync`](crate::EventKind::Sync) events of
/// Go 1.22 and 1.23 traces, and in a few rarely seen cases of broken input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compat {
    /// Today's reader (Go 1.25 to 1.27, `golang.org/x/exp/trace`): a sync
    /// event at the start of every generation, carrying its clock snapshot
    /// when the trace has one, and one after the last; end-of-generation
    /// events are recognized in traces of every version.
    #[default]
    Current,
    /// Go 1.23's reader, for Go 1.22 and 1.23 traces: one sync event after
    /// each generation, and an empty first generation is an error. Traces of
    /// later versions, which Go 1.23 cannot read, are read as
    /// [`Compat::Current`] reads them.
    Go123,
}

/// How a [`Reader`] reads: [`Threading`] and [`Compat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Options {
    /// Whether to decode on a background thread.
    pub threading: Threading,
    /// Which Go release's reader to imitate.
    pub compat: Compat,
}

impl Options {
    /// The defaults: [`Threading::Auto`], [`Compat::Current`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`Options::threading`].
    pub fn threading(mut self, threading: Threading) -> Self {
        self.threading = threading;
        self
    }

    /// Sets [`Options::compat`].
    pub fn compat(mut self, compat: Compat) -> Self {
        self.compat = compat;
        self
    }
}

/// Whether a [`Reader`] decodes and orders events on a background thread.
///
/// On a background thread the reader reads and orders events ahead of the
/// caller (a bounded amount: a few thousand events and a few hundred KiB of
/// input) while the caller handles the events already returned. The events,
/// their order and the errors are the same either way; the input is still
/// read only on the caller's thread, so it need not be `Send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Threading {
    /// A background thread for large traces (from 1 MiB of input on), when
    /// the machine has more than one CPU.
    #[default]
    Auto,
    /// Everything on the caller's thread.
    Never,
    /// A background thread from the first event on.
    Always,
}

/// Reads a Go execution trace (format v2: Go 1.22, 1.23 and 1.25) and yields
/// its events in Go's order, validated as Go validates them.
///
/// The reader streams: it holds one generation (typically about a second of
/// the traced program) and one batch of the next, whatever the file size.
/// Events share their generation's string and stack tables.
///
/// Past 1 MiB of input the reader decodes and orders events on a background
/// thread, a few thousand events ahead of the caller ([`Threading`]); the
/// input is still read on the caller's thread. The events and errors are
/// the same either way, and so is when errors show: a read error after a
/// generation's first batch comes after that generation's events.
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
pub struct Reader<R> {
    version: Version,
    /// Events ready to be returned: `chunk.events[pos..]`, whose names start
    /// at `chunk.names[name_pos]`.
    chunk: Chunk,
    pos: usize,
    name_pos: usize,
    state: State<R>,
}

/// Where a reader does its work.
enum State<R> {
    /// On the caller's thread, until the input reaches `switch_at` bytes.
    Local {
        core: Box<Core>,
        input: BufReader<R>,
        switch_at: u64,
    },
    /// On a background thread.
    Background(Background<R>),
    /// Finished: the last event or the error was returned.
    Done,
}

impl<R> std::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Reader");
        d.field("version", &self.version);
        d.field("buffered", &(self.chunk.events.len() - self.pos));
        match &self.state {
            State::Local { core, .. } => d.field("core", core),
            State::Background(b) => d.field("background", b),
            State::Done => d.field("done", &true),
        };
        d.finish_non_exhaustive()
    }
}

/// An event as the reader core produces it: an [`Event`] without its shared
/// parts, which the thread that returns it attaches from its [`Chunk`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Raw {
    pub(crate) ty: u8,
    /// 0: no tables; otherwise `chunk.tables[tab - 1]`.
    pub(crate) tab: u8,
    /// The event carries the next of `chunk.names`.
    pub(crate) named: bool,
    pub(crate) time: i64,
    pub(crate) ctx: Ctx,
    pub(crate) args: [u64; 5],
}

/// Events the core produced, with what they share, on their way to be
/// returned.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) events: Vec<Raw>,
    /// The tables events refer to (see [`Raw::tab`]).
    pub(crate) tables: Vec<Arc<GenTables>>,
    /// The task names of the events with [`Raw::named`], in order.
    pub(crate) names: Vec<Arc<[u8]>>,
    /// The core's generation count when the last of `tables` was added.
    tables_gen: u64,
    /// After these events: `None`, more to come; `Some(Ok)`, the end;
    /// `Some(Err)`, this error.
    pub(crate) end: Option<Result<(), Error>>,
}

impl Default for Chunk {
    fn default() -> Self {
        Self {
            events: Vec::new(),
            tables: Vec::new(),
            names: Vec::new(),
            tables_gen: u64::MAX,
            end: None,
        }
    }
}

impl Chunk {
    /// An empty chunk with room for `n` events.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            events: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    /// Empties the chunk.
    pub(crate) fn clear(&mut self) {
        self.events.clear();
        self.tables.clear();
        self.names.clear();
        self.tables_gen = u64::MAX;
        self.end = None;
    }

    /// The [`Raw::tab`] of the tables of generation number `gen` (counting
    /// generations read).
    #[inline]
    fn tab(&mut self, gen: u64, tables: &Arc<GenTables>) -> u8 {
        if self.tables_gen != gen {
            self.tables.push(tables.clone());
            self.tables_gen = gen;
        }
        self.tables.len() as u8
    }

    /// Whether no more events fit.
    #[inline]
    fn full(&self, limit: usize) -> bool {
        self.events.len() >= limit || self.tables.len() >= MAX_TABLES
    }
}

impl<R: Read> Reader<R> {
    /// Reads the file header of `input` (buffered internally).
    ///
    /// Large traces are decoded on a background thread ([`Threading::Auto`]).
    pub fn new(input: R) -> Result<Self, Error> {
        Self::with_threading(input, Threading::Auto)
    }

    /// Reads the file header of `input` (buffered internally); `threading`
    /// says whether to decode on a background thread.
    pub fn with_threading(input: R, threading: Threading) -> Result<Self, Error> {
        Self::with_options(input, Options::new().threading(threading))
    }

    /// Reads the file header of `input` (buffered internally), with
    /// `options`.
    ///
    /// ```
    /// use trace_reader::{Compat, EventKind, Options, Reader};
    ///
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
    /// // The sync events where Go 1.23's reader puts them: after each generation.
    /// let file = std::fs::File::open(path)?;
    /// let mut reader = Reader::with_options(file, Options::new().compat(Compat::Go123))?;
    /// let first = reader.read_event()?.expect("an event");
    /// assert_ne!(first.kind(), EventKind::Sync);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_options(input: R, options: Options) -> Result<Self, Error> {
        let mut input = BufReader::with_capacity(BUFFER, input);
        let (version, header_len) = read_file_header(&mut input)?;
        let switch_at = match options.threading {
            Threading::Auto => AUTO_THRESHOLD,
            Threading::Never => u64::MAX,
            Threading::Always => 0,
        };
        Ok(Self {
            version,
            chunk: Chunk::default(),
            pos: 0,
            name_pos: 0,
            state: State::Local {
                core: Box::new(Core::new(version, header_len, options.compat)),
                input,
                switch_at,
            },
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
    #[inline]
    pub fn read_event(&mut self) -> Result<Option<Event>, Error> {
        match self.buffered() {
            Some(ev) => Ok(Some(ev)),
            None => self.read_slow(),
        }
    }

    /// The next event of the chunk, if any.
    #[inline(always)]
    fn buffered(&mut self) -> Option<Event> {
        let raw = *self.chunk.events.get(self.pos)?;
        self.pos += 1;
        let table = match raw.tab {
            0 => None,
            i => self.chunk.tables.get(usize::from(i) - 1).cloned(),
        };
        let name = if raw.named {
            self.name_pos += 1;
            self.chunk.names.get(self.name_pos - 1).cloned()
        } else {
            None
        };
        Some(Event {
            ty: raw.ty,
            time: raw.time,
            ctx: raw.ctx,
            args: raw.args,
            table,
            name,
        })
    }

    /// The chunk is used up: its end, or the next chunk's first event.
    #[cold]
    fn read_slow(&mut self) -> Result<Option<Event>, Error> {
        loop {
            if let Some(end) = self.chunk.end.take() {
                // Stops the background thread, if any.
                self.state = State::Done;
                return end.map(|()| None);
            }
            self.pos = 0;
            self.name_pos = 0;
            match &mut self.state {
                State::Done => return Ok(None),
                State::Background(b) => b.next_chunk(&mut self.chunk),
                State::Local {
                    core,
                    input,
                    switch_at,
                } => {
                    if core.src.offset() >= *switch_at {
                        let single =
                            std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
                        if single && *switch_at != 0 {
                            *switch_at = u64::MAX;
                        } else if let State::Local { core, input, .. } =
                            std::mem::replace(&mut self.state, State::Done)
                        {
                            self.state = match Background::start(core, input) {
                                Ok(b) => State::Background(b),
                                // No thread to be had: go on here.
                                Err(Unstarted {
                                    core: Some(core),
                                    input,
                                }) => State::Local {
                                    core,
                                    input,
                                    switch_at: u64::MAX,
                                },
                                Err(Unstarted { core: None, .. }) => {
                                    unreachable!("the core comes back if the thread does not start")
                                }
                            };
                        }
                        continue;
                    }
                    self.chunk.clear();
                    core.fill(input, &mut self.chunk, LOCAL_CHUNK, true);
                }
            }
            if let Some(ev) = self.buffered() {
                return Ok(Some(ev));
            }
        }
    }
}

/// The reader proper: turns the batches of a trace into Go's ordered,
/// validated event stream. It owns no input: every call that may read is
/// given one, so that the core can move to a background thread.
#[derive(Debug)]
pub(crate) struct Core {
    src: GenerationReader,
    version: Version,
    /// Generation boundaries as Go 1.23's reader marks them: one sync after
    /// each generation (Go 1.22 and 1.23 traces read with
    /// [`Compat::Go123`]).
    sync_after: bool,
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

/// What [`Core::next_slow`] did.
enum Slow {
    /// Produced an event or ended the stream (`Core::done`).
    Went,
    /// Stopped before reading input.
    Paused,
}

/// Go's monotonic fix-up: output times strictly increase.
#[inline(always)]
fn fix_time(last_ts: &mut i64, time: i64) -> i64 {
    let time = if time <= *last_ts {
        last_ts.wrapping_add(1)
    } else {
        time
    };
    *last_ts = time;
    time
}

impl Core {
    /// A reader core after a file header of `header_len` bytes, imitating
    /// the reader of `compat`.
    pub(crate) fn new(version: Version, header_len: u64, compat: Compat) -> Self {
        // Go 1.23 cannot read later traces: they are read as today.
        let go123 = compat == Compat::Go123 && version <= Version::Go123;
        Self {
            src: GenerationReader::new(version, header_len, !go123),
            version,
            sync_after: go123,
            gen: None,
            spill: None,
            spill_err: None,
            spill_err_sync: false,
            frontier: Frontier::default(),
            samples: Vec::new().into_iter(),
            order: Ordering::default(),
            types: TypeTable::new(version),
            ticks: Ticks::new(trace_wire::Frequency::new(1)),
            emitted_sync: true,
            syncs: 0,
            last_ts: 0,
            generations: 0,
            at_end: false,
            done: false,
        }
    }

    /// Adds events to `out` until it holds `limit` (or as many tables as a
    /// chunk can refer to), reading `src` as needed; sets `out.end` when the
    /// stream ends or fails. With `hold`, stops before reading input once
    /// `out` has events (so that they are not kept waiting for input).
    pub(crate) fn fill(
        &mut self,
        src: &mut dyn BufRead,
        out: &mut Chunk,
        limit: usize,
        hold: bool,
    ) {
        if let Err(e) = self.fill_inner(src, out, limit, hold) {
            self.done = true;
            out.end = Some(Err(e));
        } else if self.done {
            out.end = Some(Ok(()));
        }
    }

    #[inline]
    fn fill_inner(
        &mut self,
        src: &mut dyn BufRead,
        out: &mut Chunk,
        limit: usize,
        hold: bool,
    ) -> Result<(), Error> {
        while !self.done && !out.full(limit) {
            if let Some(q) = self.order.queue.pop() {
                self.emit_queued(q, out)?;
            } else if self.frontier.is_empty() || self.samples.len() != 0 || self.at_end {
                let hold = hold && !out.events.is_empty();
                if let Slow::Paused = self.next_slow(src, out, hold)? {
                    return Ok(());
                }
            } else {
                // The common case: within a generation, no CPU sample pending.
                self.run(out, limit)?;
            }
        }
        Ok(())
    }

    /// The common case: advances the events of the current generation into
    /// `out` while nothing is queued (no CPU sample is pending), until `out`
    /// holds `limit` events, an advance queues events, or the generation's
    /// events are all out.
    #[inline(always)]
    fn run(&mut self, out: &mut Chunk, limit: usize) -> Result<(), Error> {
        /// Why the loop stopped.
        enum Stop {
            Done,
            /// The root thread's event must wait.
            Blocked,
            /// An advance queued nothing although it said it did.
            Failed,
        }
        let Self {
            gen: Some(g),
            frontier,
            order,
            version,
            types,
            ticks,
            last_ts,
            generations,
            ..
        } = self
        else {
            return self.advance(out);
        };
        let dec = Decoder {
            version: *version,
            ticks: *ticks,
            types,
        };
        let tab = out.tab(*generations, &g.tables);
        let stop = loop {
            let Some(c) = frontier.root() else {
                break Stop::Done;
            };
            let Some(acc) = order.advance(&mut c.ev, &g.tables, c.m, &mut c.slot, g.gen)? else {
                break Stop::Blocked;
            };
            if accept(c, acc, order, g, &dec, tab, last_ts, out)? {
                frontier.update(0);
            } else {
                frontier.remove(0);
            }
            if acc.queued {
                if order.queue.is_empty() {
                    break Stop::Failed;
                }
                break Stop::Done;
            }
            if out.events.len() >= limit {
                break Stop::Done;
            }
        };
        match stop {
            Stop::Done => Ok(()),
            Stop::Blocked => {
                self.advance_others(out)?;
                if self.order.accepted.queued && self.order.queue.is_empty() {
                    return Err(self.failed_to_advance());
                }
                Ok(())
            }
            Stop::Failed => Err(self.failed_to_advance()),
        }
    }

    /// Adds an event the ordering queued.
    fn emit_queued(&mut self, q: Queued, out: &mut Chunk) -> Result<(), Error> {
        let info = *self.types.get(q.ty);
        let mut tab = 0;
        if info.tables {
            if let Some(g) = &self.gen {
                tab = out.tab(self.generations, &g.tables);
                let t = &*g.tables;
                if !ids_exist(&info, q.ty, &q.args, t) {
                    validate_table_ids(q.ty, &q.args, t)
                        .map_err(|e| e.at(q.offset).in_generation(t.gen))?;
                }
            }
        }
        out.events.push(Raw {
            ty: q.ty,
            tab,
            named: false,
            time: fix_time(&mut self.last_ts, q.time),
            ctx: q.ctx,
            args: q.args,
        });
        Ok(())
    }

    /// Adds a sync event or a CPU sample; `tables`: whether it refers to the
    /// current generation's tables.
    fn emit_other(&mut self, mut ev: Raw, tables: bool, out: &mut Chunk) -> Result<(), Error> {
        ev.tab = 0;
        if let (true, Some(g)) = (tables, &self.gen) {
            if ev.ty != SYNC {
                validate_table_ids(ev.ty, &ev.args, &g.tables)
                    .map_err(|e| e.in_generation(g.tables.gen))?;
            }
            ev.tab = out.tab(self.generations, &g.tables);
        }
        ev.time = fix_time(&mut self.last_ts, ev.time);
        out.events.push(ev);
        Ok(())
    }

    fn sync_event(
        &mut self,
        tables: bool,
        time: i64,
        clock: bool,
        out: &mut Chunk,
    ) -> Result<Slow, Error> {
        self.syncs += 1;
        let ev = Raw {
            ty: SYNC,
            tab: 0,
            named: false,
            time,
            ctx: Ctx::NONE,
            args: [self.syncs, u64::from(clock), 0, 0, 0],
        };
        self.emit_other(ev, tables, out)?;
        Ok(Slow::Went)
    }

    /// The end of the stream.
    fn end(&mut self) -> Result<Slow, Error> {
        self.done = true;
        Ok(Slow::Went)
    }

    /// The next event when none is queued: generation boundaries, CPU
    /// samples, and advancing the ordering. With `hold`, pauses instead of
    /// reading input.
    fn next_slow(
        &mut self,
        src: &mut dyn BufRead,
        out: &mut Chunk,
        hold: bool,
    ) -> Result<Slow, Error> {
        if self.at_end {
            return self.end();
        }
        while self.frontier.is_empty() && self.samples.len() == 0 {
            if self.version >= Version::Go126 {
                return self.generation_boundary_delimited(src, out, hold);
            }
            if !self.sync_after {
                return self.generation_boundary_go125(src, out, hold);
            }
            // Go 1.22/1.23: a sync closes the generation just finished.
            if !self.emitted_sync {
                self.emitted_sync = true;
                let tables = self.gen.is_some();
                return self.sync_event(tables, self.last_ts, false, out);
            }
            if let Some(e) = self.spill_err.take() {
                return Err(e);
            }
            if self.gen.is_some() && self.spill.is_none() {
                return self.end();
            }
            if hold {
                return Ok(Slow::Paused);
            }
            self.read_generation(src)?;
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
                let ev = Raw {
                    ty: ty::CPU_SAMPLE,
                    tab: 0,
                    named: false,
                    time: s.time,
                    ctx: Ctx {
                        g: s.g,
                        p: s.p,
                        m: s.m,
                    },
                    args: [s.stack, 0, 0, 0, 0],
                };
                self.emit_other(ev, true, out)?;
                return Ok(Slow::Went);
            }
        }
        self.advance(out)?;
        Ok(Slow::Went)
    }

    /// Go 1.25's generation boundary: a sync before each generation, one at
    /// the end, and one before a read error.
    fn generation_boundary_go125(
        &mut self,
        src: &mut dyn BufRead,
        out: &mut Chunk,
        hold: bool,
    ) -> Result<Slow, Error> {
        if let Some(e) = self.spill_err.take() {
            if self.spill_err_sync {
                return Err(e);
            }
            self.spill_err = Some(e);
            self.spill_err_sync = true;
            return self.sync_event(false, self.last_ts, false, out);
        }
        if self.gen.is_some() && self.spill.is_none() {
            self.at_end = true;
            return self.sync_event(false, self.last_ts, false, out);
        }
        if hold {
            return Ok(Slow::Paused);
        }
        if let Err(e) = self.read_generation(src) {
            self.spill_err = Some(e);
            self.spill_err_sync = true;
            return self.sync_event(false, self.last_ts, false, out);
        }
        self.start_cursors()?;
        let Some(g) = &self.gen else {
            return self.end();
        };
        let time = g.tables.freq.ns(g.min_ts);
        self.sync_event(true, time, true, out)
    }

    /// The generation boundary of Go 1.26+ traces, which end each generation
    /// with an event: a sync before each generation and one at the end; a
    /// generation that cannot be read yields a sync, then the error.
    fn generation_boundary_delimited(
        &mut self,
        src: &mut dyn BufRead,
        out: &mut Chunk,
        hold: bool,
    ) -> Result<Slow, Error> {
        if let Some(e) = self.spill_err.take() {
            return Err(e);
        }
        if hold {
            return Ok(Slow::Paused);
        }
        let recycle = self.gen.take();
        self.frontier.clear();
        self.samples = Vec::new().into_iter();
        match self.src.read_delimited(src, recycle) {
            Err(e) => {
                self.spill_err = Some(e);
                self.sync_event(false, self.last_ts, false, out)
            }
            Ok(None) => {
                self.at_end = true;
                self.sync_event(false, self.last_ts, false, out)
            }
            Ok(Some(g)) => {
                self.generations += 1;
                self.gen = Some(g);
                self.start_cursors()?;
                let Some(g) = &self.gen else {
                    return self.end();
                };
                let time = g.tables.freq.ns(g.min_ts);
                self.sync_event(true, time, true, out)
            }
        }
    }

    /// Reads the next generation.
    fn read_generation(&mut self, src: &mut dyn BufRead) -> Result<(), Error> {
        let spill = self.spill.take();
        let recycle = self.gen.take();
        self.frontier.clear();
        self.samples = Vec::new().into_iter();
        let read = self.src.read(src, spill, recycle)?;
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
    /// the generation checks): adds it to `out`, or queues what it yields.
    #[inline(always)]
    fn advance(&mut self, out: &mut Chunk) -> Result<(), Error> {
        if self.frontier.is_empty() {
            let gen = self.gen.as_ref().map_or(0, |g| g.gen);
            let dump = format!("[gen={gen}]\n\n\n{}\n", self.order.dump());
            return Err(Error::new(ErrorKind::FrontierEmpty { dump }).in_generation(gen));
        }
        if !self.try_advance(0, out)? {
            self.advance_others(out)?;
        }
        if self.order.accepted.queued && self.order.queue.is_empty() {
            return Err(self.failed_to_advance());
        }
        Ok(())
    }

    /// The root thread's event must wait: tries the other threads in time
    /// order (a sorted heap is still a heap).
    #[cold]
    fn advance_others(&mut self, out: &mut Chunk) -> Result<(), Error> {
        self.frontier.sort();
        for i in 1..self.frontier.len() {
            if self.try_advance(i, out)? {
                return Ok(());
            }
        }
        Err(self.failed_to_advance())
    }

    /// Tries to advance the event of the cursor at `i` in the frontier. If it
    /// is accepted, it goes to `out` (or, with the events it implies, to the
    /// ordering's queue) once the thread's next event is decoded.
    #[inline(always)]
    fn try_advance(&mut self, i: usize, out: &mut Chunk) -> Result<bool, Error> {
        let Self {
            gen: Some(g),
            frontier,
            order,
            version,
            types,
            ticks,
            last_ts,
            generations,
            ..
        } = self
        else {
            return Ok(false);
        };
        let c = frontier.cursor(i);
        let Some(acc) = order.advance(&mut c.ev, &g.tables, c.m, &mut c.slot, g.gen)? else {
            return Ok(false);
        };
        let dec = Decoder {
            version: *version,
            ticks: *ticks,
            types,
        };
        let tab = out.tab(*generations, &g.tables);
        if accept(c, acc, order, g, &dec, tab, last_ts, out)? {
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

/// Reports the event of cursor `c`, which the ordering just accepted (as
/// `acc` says): adds
/// it to `out` (unless the ordering queued it), with `tab` if it refers to
/// the tables, then decodes the thread's next event. Returns whether the
/// thread has one. The event is taken back if decoding fails (that error
/// comes first) or if it refers to missing strings or stacks.
#[inline(always)]
#[allow(clippy::too_many_arguments, reason = "one call site per path, inlined")]
fn accept(
    c: &mut Cursor,
    acc: Accepted,
    order: &mut Ordering,
    g: &Generation,
    dec: &Decoder<'_>,
    tab: u8,
    last_ts: &mut i64,
    out: &mut Chunk,
) -> Result<bool, Error> {
    let name = if order.name.is_some() {
        order.name.take()
    } else {
        None
    };
    let mut bad = None;
    if !acc.queued {
        let ev = &c.ev;
        let info = *dec.types.get(ev.ty);
        let mut t = 0;
        if info.tables {
            t = tab;
            if !ids_exist(&info, ev.ty, &ev.args, &g.tables) {
                bad = Some(ev.offset);
            }
        }
        let named = match name {
            Some(name) => {
                out.names.push(name);
                true
            }
            None => false,
        };
        out.events.push(Raw {
            ty: ev.ty,
            tab: t,
            named,
            time: fix_time(last_ts, ev.time),
            ctx: acc.ctx,
            args: ev.args,
        });
    }
    let batches = &g.threads[c.thread].batches;
    let more = match c.next_event(batches, &g.arena, dec) {
        Ok(more) => more,
        Err(e) => {
            if !acc.queued {
                out.events.pop();
            }
            return Err(e.in_generation(g.gen));
        }
    };
    if let (Some(offset), Some(ev)) = (bad, out.events.last()) {
        if let Err(e) = validate_table_ids(ev.ty, &ev.args, &g.tables) {
            out.events.pop();
            return Err(e.at(offset).in_generation(g.tables.gen));
        }
    }
    Ok(more)
}

/// Whether every stack and string an event refers to exists (the fast check;
/// [`validate_table_ids`] says which does not).
#[inline(always)]
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
