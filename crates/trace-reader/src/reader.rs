//! [`Reader`]: the streaming reader that turns a trace into Go's ordered,
//! validated event stream.

use std::fmt::Write as _;
use std::io::{BufReader, Read};
use std::sync::Arc;

use trace_wire::{ty, Version};

use crate::cursor::Frontier;
use crate::error::{Error, ErrorKind};
use crate::event::{Ctx, Event, SYNC};
use crate::generation::{CpuSample, Generation, GenerationReader, Spill};
use crate::order::{Ordering, Queued};
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

/// The outcome of an attempt to produce an event: the event and, for events
/// from the wire, its file offset.
type Next = Result<Option<(Event, Option<u64>)>, Error>;

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
        let res = self.next_event().and_then(|ev| match ev {
            Some((ev, offset)) => self.emit(ev, offset).map(Some),
            None => Ok(None),
        });
        if !matches!(res, Ok(Some(_))) {
            self.done = true;
        }
        res
    }

    /// Checks an event's table references and applies the monotonic time
    /// fix-up.
    fn emit(&mut self, mut ev: Event, offset: Option<u64>) -> Result<Event, Error> {
        if ev.ty != SYNC {
            if let Some(table) = ev.table() {
                validate_table_ids(&ev, table).map_err(|e| {
                    let e = e.in_generation(table.gen);
                    match offset {
                        Some(o) => e.at(o),
                        None => e,
                    }
                })?;
            }
        }
        if ev.time <= self.last_ts {
            ev.time = self.last_ts.wrapping_add(1);
        }
        self.last_ts = ev.time;
        Ok(ev)
    }

    fn tables(&self) -> Option<Arc<GenTables>> {
        self.gen.as_ref().map(|g| g.tables.clone())
    }

    fn queued_event(&self, q: Queued) -> (Event, Option<u64>) {
        let ev = Event {
            ty: q.ty,
            time: q.time,
            ctx: q.ctx,
            args: q.args,
            table: self.tables(),
            name: q.name,
        };
        (ev, Some(q.offset))
    }

    fn sync_event(&mut self, table: Option<Arc<GenTables>>, time: i64, clock: bool) -> Event {
        self.syncs += 1;
        Event {
            ty: SYNC,
            time,
            ctx: Ctx::NONE,
            args: [self.syncs, u64::from(clock), 0, 0, 0],
            table,
            name: None,
        }
    }

    fn next_event(&mut self) -> Next {
        if let Some(q) = self.order.queue.pop_front() {
            return Ok(Some(self.queued_event(q)));
        }
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
                return Ok(Some((self.sync_event(table, self.last_ts, false), None)));
            }
            if let Some(e) = self.spill_err.take() {
                return Err(e);
            }
            if self.gen.is_some() && self.spill.is_none() {
                return Ok(None);
            }
            self.load_generation()?;
            self.emitted_sync = false;
            if self.generations == 1 {
                // An empty first generation fails below, as in Go 1.23.
                break;
            }
            // A later generation without events only yields its sync. Go
            // 1.23 fails on it ("frontier is empty"), newer Go accepts it.
        }
        self.advance().map(Some)
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
            return Ok(Some((self.sync_event(None, self.last_ts, false), None)));
        }
        if self.gen.is_some() && self.spill.is_none() {
            self.at_end = true;
            return Ok(Some((self.sync_event(None, self.last_ts, false), None)));
        }
        if let Err(e) = self.load_generation() {
            self.spill_err = Some(e);
            self.spill_err_sync = true;
            return Ok(Some((self.sync_event(None, self.last_ts, false), None)));
        }
        let Some(g) = &self.gen else {
            return Ok(None);
        };
        let (table, time) = (g.tables.clone(), g.tables.freq.ns(g.min_ts));
        Ok(Some((self.sync_event(Some(table), time, true), None)))
    }

    /// Reads the next generation and sets up its cursors and CPU samples.
    fn load_generation(&mut self) -> Result<(), Error> {
        let spill = self.spill.take();
        let recycle = self.gen.take();
        self.frontier.heap.clear();
        self.samples = Vec::new().into_iter();
        let read = self.src.read(spill, recycle)?;
        self.generations += 1;
        self.spill = read.spill;
        self.spill_err = read.deferred;
        let mut g = read.generation;
        let freq = g.tables.freq;
        for (i, t) in g.threads.iter().enumerate() {
            let mut c = crate::cursor::Cursor::new(t.m, i);
            if c.next_event(&t.batches, &g.arena, self.version, &freq)
                .map_err(|e| e.in_generation(g.gen))?
            {
                self.frontier.insert(c);
            }
        }
        self.samples = std::mem::take(&mut g.cpu_samples).into_iter();
        self.gen = Some(g);
        Ok(())
    }

    /// Picks the next event of the current generation (Go's `ReadEvent` after
    /// the generation checks).
    fn advance(&mut self) -> Result<(Event, Option<u64>), Error> {
        if let Some(&s) = self.samples.as_slice().first() {
            if self.frontier.is_empty() || s.time < self.frontier.heap[0].ev.time {
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
                return Ok((ev, None));
            }
        }
        if self.frontier.is_empty() {
            let gen = self.gen.as_ref().map_or(0, |g| g.gen);
            let dump = format!("[gen={gen}]\n\n\n{}\n", self.order.dump());
            return Err(Error::new(ErrorKind::FrontierEmpty { dump }).in_generation(gen));
        }
        if !self.try_advance(0)? {
            // Try the other threads in time order. A sorted heap is a heap.
            self.frontier.sort();
            let mut advanced = false;
            for i in 1..self.frontier.len() {
                if self.try_advance(i)? {
                    advanced = true;
                    break;
                }
            }
            if !advanced {
                return Err(self.failed_to_advance());
            }
        }
        match self.order.queue.pop_front() {
            Some(q) => Ok(self.queued_event(q)),
            None => Err(self.failed_to_advance()),
        }
    }

    /// Tries to advance the event of the cursor at `i` in the frontier.
    fn try_advance(&mut self, i: usize) -> Result<bool, Error> {
        let Self {
            gen: Some(g),
            frontier,
            order,
            version,
            ..
        } = self
        else {
            return Ok(false);
        };
        let c = &mut frontier.heap[i];
        if !order.advance(&mut c.ev, &g.tables, c.m, &mut c.slot, g.gen)? {
            return Ok(false);
        }
        let batches = &g.threads[c.thread].batches;
        let more = c
            .next_event(batches, &g.arena, *version, &g.tables.freq)
            .map_err(|e| e.in_generation(g.gen))?;
        if more {
            frontier.update(i);
        } else {
            frontier.remove(i);
        }
        Ok(true)
    }

    fn failed_to_advance(&self) -> Error {
        let gen = self.gen.as_ref().map_or(0, |g| g.gen);
        let mut dump = format!("[gen={gen}]\n\n");
        for c in &self.frontier.heap {
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

/// Checks that the stacks and strings an event refers to exist (Go's
/// `validateTableIDs`), plus the references Go would only trip over when
/// printing the event.
fn validate_table_ids(ev: &Event, table: &GenTables) -> Result<(), Error> {
    if ev.ty == ty::CPU_SAMPLE {
        // Go 1.25 checks this; Go 1.23 would crash printing the sample.
        if !table.has_stack(ev.args[0]) {
            return Err(ErrorKind::InvalidStackId {
                id: ev.args[0],
                event: "CPUSample",
            }
            .into());
        }
        return Ok(());
    }
    let Some(spec) = Version::Go123.spec(ev.ty) else {
        return Ok(());
    };
    for &i in spec.stack_ids {
        let id = ev.args[i - 1];
        if !table.has_stack(id) {
            return Err(ErrorKind::InvalidStackId {
                id,
                event: spec.name,
            }
            .into());
        }
    }
    for &i in spec.string_ids {
        let id = ev.args[i - 1];
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
    if ev.ty == ty::STW_END && !table.has_string(ev.args[0]) {
        return Err(ErrorKind::InvalidStringId {
            id: ev.args[0],
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
