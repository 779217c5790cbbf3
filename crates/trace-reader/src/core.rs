//! The reader's engine: generation boundaries, CPU samples, the frontier of
//! per-thread cursors and the ordering, Go's monotonic time fix-up and table
//! checks. It turns the batches of a trace into [`Chunk`]s of events and
//! owns no input, so that it can run on the caller's thread or on the
//! background thread (`pipeline`).

use std::fmt::Write as _;
use std::io::BufRead;

use trace_wire::{ty, Version};

use crate::chunk::{Chunk, Raw};
use crate::cursor::{Cursor, Decoder, Frontier, Ticks};
use crate::error::{Error, ErrorKind};
use crate::event::{Ctx, SYNC};
use crate::generation::{CpuSample, Generation, GenerationReader, Spill};
use crate::options::Compat;
use crate::order::{Accepted, Ordering, Queued};
use crate::specs::{TypeInfo, TypeTable};
use crate::tables::GenTables;

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

    /// The number of bytes of the input read so far.
    pub(crate) fn input_offset(&self) -> u64 {
        self.src.offset()
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
                let time = c.ev.time;
                frontier.update_root(time);
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
                if self.order.accepted_queued && self.order.queue.is_empty() {
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
        if self.order.accepted_queued && self.order.queue.is_empty() {
            return Err(self.failed_to_advance());
        }
        Ok(())
    }

    /// The root thread's event must wait: tries the other threads in time
    /// order (a sorted heap is still a heap).
    #[cold]
    fn advance_others(&mut self, out: &mut Chunk) -> Result<(), Error> {
        let release = if self.sync_after {
            trace_wire::gosort::SortRelease::Go123
        } else {
            trace_wire::gosort::SortRelease::Go127
        };
        self.frontier.sort(release);
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
    let named = order.name.is_some() && take_name(order, acc.queued, out);
    let mut bad = None;
    if !acc.queued {
        let ev = &c.ev;
        let info = dec.types.get(ev.ty);
        let mut t = 0;
        if info.tables {
            t = tab;
            if !ids_exist(info, ev.ty, &ev.args, &g.tables) {
                bad = Some(ev.offset);
            }
        }
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

/// Takes the task name the ordering attached to the event just accepted:
/// to `out` if the event is reported from the cursor (returns `true`), else
/// dropped.
#[cold]
fn take_name(order: &mut Ordering, queued: bool, out: &mut Chunk) -> bool {
    let name = order.name.take();
    match name {
        Some(name) if !queued => {
            out.names.push(name);
            true
        }
        _ => false,
    }
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
