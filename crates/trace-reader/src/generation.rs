//! Reading one generation: its batches, grouped by thread, and its tables.
//!
//! There is no end-of-generation marker before Go 1.26, so a generation ends
//! when the first batch of the next one is read; that batch is kept (the
//! "spill") and starts the next generation. A read error after the first
//! batch of a generation is deferred: the generation read so far is returned
//! with it, and its events come first (part 2 §2.2 of the spec).
//!
//! From Go 1.26 on, each generation ends with an end-of-generation event
//! ([`GenerationReader::read_delimited`]): no batch is read ahead, and any
//! error loses the whole generation it happens in, as in Go's reader.

use std::io::BufRead;
use std::sync::Arc;

use hashbrown::HashMap;
use trace_wire::gosort::{sort_func_as, SortRelease};
use trace_wire::{
    parse_frequency, ty, varint, BatchHeader, BatchKind, ErrorKind as WireKind, Frequency, IoCause,
    Version,
};

use crate::error::{Error, ErrorKind};
use crate::framing::{Framed, Framing};
use crate::tables::{ClockSnapshot, GenTables, TablesBuilder};
use crate::types::Time;

/// An event batch's payload within a generation's arena.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchRef {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// The batch's base time, in ticks.
    pub(crate) time: u64,
    /// The file offset of the payload.
    pub(crate) offset: u64,
}

/// The event batches of one thread, in file order.
#[derive(Debug)]
pub(crate) struct ThreadBatches {
    pub(crate) m: u64,
    pub(crate) batches: Vec<BatchRef>,
}

/// A CPU sample, with its time converted to nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuSample {
    pub(crate) time: i64,
    pub(crate) m: i64,
    pub(crate) p: i64,
    pub(crate) g: i64,
    pub(crate) stack: u64,
}

/// A generation ready to be ordered.
#[derive(Debug)]
pub(crate) struct Generation {
    pub(crate) gen: u64,
    /// The payloads of all event batches.
    pub(crate) arena: Vec<u8>,
    /// Threads in order of their first batch in the generation.
    pub(crate) threads: Vec<ThreadBatches>,
    pub(crate) tables: Arc<GenTables>,
    /// Sorted by time, as Go sorts them.
    pub(crate) cpu_samples: Vec<CpuSample>,
    /// The smallest batch base time (ticks), for 1.25 sync events.
    pub(crate) min_ts: u64,
}

/// The first batch of the next generation, read while finishing this one.
#[derive(Debug)]
pub(crate) struct Spill {
    header: BatchHeader,
    payload: Vec<u8>,
    payload_offset: u64,
}

/// What reading a generation produced.
#[derive(Debug)]
pub(crate) struct ReadGeneration {
    pub(crate) generation: Generation,
    pub(crate) spill: Option<Spill>,
    /// A read error to report after this generation's events.
    pub(crate) deferred: Option<Error>,
}

/// Reads generations from a stream of batches.
#[derive(Debug)]
pub(crate) struct GenerationReader {
    framing: Framing,
    version: Version,
    /// Today's reader, not Go 1.23's.
    current: bool,
}

/// The frequency and clock of a generation, as found so far.
#[derive(Debug, Default)]
struct SyncState {
    freq: Option<u64>,
    /// (trace time in ticks, mono, sec, nsec)
    clock: Option<(u64, u64, u64, u64)>,
}

/// A generation being read.
struct Builder {
    gen: u64,
    version: Version,
    /// Read frequency batches as Go 1.25+ does (every event in them).
    sync_loop: bool,
    arena: Vec<u8>,
    threads: Vec<ThreadBatches>,
    thread_index: HashMap<u64, usize>,
    tables: TablesBuilder,
    sync: SyncState,
    min_ts: u64,
}

impl Builder {
    /// Adds a batch whose payload is in `payload`.
    fn process(&mut self, h: &BatchHeader, payload: &[u8], offset: u64) -> Result<(), Error> {
        match h.kind(payload, self.version) {
            BatchKind::Events => {
                let start = self.arena.len();
                self.arena.extend_from_slice(payload);
                self.add_events(h, start, offset);
                Ok(())
            }
            _ => self.process_other(h, payload, offset),
        }
    }

    /// Adds a batch of this generation whose payload was just appended to
    /// the arena at `start`, and takes its time into the generation's
    /// earliest.
    fn add_batch(&mut self, h: &BatchHeader, start: usize, offset: u64) -> Result<(), Error> {
        if self.min_ts == 0 || h.time < self.min_ts {
            self.min_ts = h.time;
        }
        self.process_in_arena(h, start, offset)
            .map_err(|e| e.in_generation(self.gen))
    }

    /// Adds a batch whose payload was just appended to the arena, at `start`:
    /// an event batch stays there, the payload of any other batch is dropped
    /// from the arena once processed.
    fn process_in_arena(
        &mut self,
        h: &BatchHeader,
        start: usize,
        offset: u64,
    ) -> Result<(), Error> {
        if h.kind(&self.arena[start..], self.version) == BatchKind::Events {
            self.add_events(h, start, offset);
            return Ok(());
        }
        let arena = std::mem::take(&mut self.arena);
        let res = self.process_other(h, &arena[start..], offset);
        self.arena = arena;
        self.arena.truncate(start);
        res
    }

    /// Records the event batch at `start..` in the arena.
    fn add_events(&mut self, h: &BatchHeader, start: usize, offset: u64) {
        let i = *self.thread_index.entry(h.m).or_insert_with(|| {
            self.threads.push(ThreadBatches {
                m: h.m,
                batches: Vec::new(),
            });
            self.threads.len() - 1
        });
        self.threads[i].batches.push(BatchRef {
            start,
            end: self.arena.len(),
            time: h.time,
            offset,
        });
    }

    /// Adds a batch other than an event batch.
    fn process_other(&mut self, h: &BatchHeader, payload: &[u8], offset: u64) -> Result<(), Error> {
        match h.kind(payload, self.version) {
            BatchKind::Strings => self.tables.add_strings(payload, offset),
            BatchKind::Stacks => self.tables.add_stacks(payload, offset),
            BatchKind::CpuSamples => self.tables.add_cpu_samples(payload, offset),
            // Go 1.25+'s readers read a frequency batch as they read a sync
            // batch (without the sync byte and the clock snapshot).
            BatchKind::Frequency if self.sync_loop => self.add_sync(h, payload, offset, 0),
            BatchKind::Frequency => {
                let f = parse_frequency(payload, offset)?;
                if self.sync.freq.is_some() {
                    return Err(
                        Error::new(ErrorKind::Wire(WireKind::MultipleFrequencies)).at(offset)
                    );
                }
                self.sync.freq = Some(f);
                Ok(())
            }
            // After the sync byte, checked by the batch's classification.
            BatchKind::Sync => self.add_sync(h, payload, offset, 1),
            BatchKind::Experimental(exp) => {
                self.tables.add_experimental(exp, h.m, payload);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A 1.25+ sync batch: `Sync`, then frequency and clock snapshot in any
    /// order, each at most once per generation; the events start at `pos`.
    /// (Frequency batches of older traces are read the same way by newer
    /// readers, without clock snapshots.)
    fn add_sync(
        &mut self,
        h: &BatchHeader,
        payload: &[u8],
        offset: u64,
        mut pos: usize,
    ) -> Result<(), Error> {
        let clock_ok = self.version >= Version::Go125;
        let wire = |kind, at: usize| Error::new(ErrorKind::Wire(kind)).at(offset + at as u64);
        let uvarint = |pos: &mut usize| -> Result<u64, Error> {
            match varint::decode(&payload[*pos..]) {
                Ok((v, n)) => {
                    *pos += n;
                    Ok(v)
                }
                Err(e) => {
                    let cause = match e {
                        varint::VarintError::Truncated { read: 0 } => IoCause::Eof,
                        varint::VarintError::Truncated { read } if read < varint::MAX_LEN => {
                            IoCause::UnexpectedEof
                        }
                        _ => IoCause::Overflow,
                    };
                    Err(wire(WireKind::Io(cause), *pos))
                }
            }
        };
        while pos < payload.len() {
            let at = pos;
            let b = payload[pos];
            pos += 1;
            match b {
                ty::FREQUENCY => {
                    if self.sync.freq.is_some() {
                        return Err(wire(WireKind::MultipleFrequencies, at));
                    }
                    self.sync.freq = Some(uvarint(&mut pos)?);
                }
                ty::CLOCK_SNAPSHOT if clock_ok => {
                    if self.sync.clock.is_some() {
                        return Err(wire(WireKind::MultipleClockSnapshots, at));
                    }
                    // Go records the snapshot before reading its arguments.
                    self.sync.clock = Some((0, 0, 0, 0));
                    let dt = uvarint(&mut pos)?;
                    let mono = uvarint(&mut pos)?;
                    let sec = uvarint(&mut pos)?;
                    let nsec = uvarint(&mut pos)?;
                    self.sync.clock = Some((h.time.wrapping_add(dt), mono, sec, nsec));
                }
                b => return Err(wire(WireKind::ExpectedFrequencyOrClock(b), at)),
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Generation, Error> {
        let Some(freq) = self.sync.freq else {
            return Err(ErrorKind::NoFrequency.into());
        };
        if self.version >= Version::Go125 && self.sync.clock.is_none() {
            return Err(ErrorKind::NoClockSnapshot.into());
        }
        let freq = Frequency::new(freq);
        let clock = self.sync.clock.map(|(t, mono, sec, nsec)| ClockSnapshot {
            trace: Time(freq.ns(t)),
            wall_sec: sec as i64,
            wall_nsec: nsec as i64,
            mono,
        });
        let mut samples: Vec<CpuSample> = self
            .tables
            .cpu_samples
            .iter()
            .map(|s| CpuSample {
                time: freq.ns(s.time),
                m: s.m as i64,
                p: s.p as i64,
                g: if s.g == 0 { -1 } else { s.g as i64 },
                stack: s.stack,
            })
            .collect();
        let tables = self.tables.finish(self.gen, freq, clock)?;
        let release = if self.sync_loop {
            SortRelease::Go127
        } else {
            SortRelease::Go123
        };
        sort_func_as(release, &mut samples, |a, b| a.time.cmp(&b.time));
        Ok(Generation {
            gen: self.gen,
            arena: self.arena,
            threads: self.threads,
            tables: Arc::new(tables),
            cpu_samples: samples,
            min_ts: self.min_ts,
        })
    }
}

impl GenerationReader {
    /// Reads generations after a file header of `header_len` bytes; with
    /// `current`, as today's Go reads them (end-of-generation events are
    /// recognized in traces of every version, frequency batches are read to
    /// their end), otherwise as Go 1.23 does.
    pub(crate) fn new(version: Version, header_len: u64, current: bool) -> Self {
        Self {
            framing: Framing::new(version, header_len, current),
            version,
            current,
        }
    }

    /// An empty generation builder, reusing the buffers of `recycle`.
    fn builder(&self, recycle: Option<Generation>) -> Builder {
        let (mut arena, mut threads) = match recycle {
            Some(g) => (g.arena, g.threads),
            None => (Vec::new(), Vec::new()),
        };
        arena.clear();
        threads.clear();
        Builder {
            gen: 0,
            version: self.version,
            sync_loop: self.current,
            arena,
            threads,
            thread_index: HashMap::new(),
            tables: TablesBuilder::new(),
            sync: SyncState::default(),
            min_ts: 0,
        }
    }

    /// Reads the next generation of a Go 1.26+ trace, up to and including
    /// its end-of-generation event; `Ok(None)` when the input ends cleanly
    /// before it (Go's reader also ends there if the generation so far has
    /// only table batches).
    pub(crate) fn read_delimited(
        &mut self,
        src: &mut dyn BufRead,
        recycle: Option<Generation>,
    ) -> Result<Option<Generation>, Error> {
        let mut b = self.builder(recycle);
        loop {
            let (h, batch_offset) = match self.framing.read_header(src) {
                Ok(Some(Framed::Batch(h, offset))) => (h, offset),
                Ok(Some(Framed::EndOfGeneration(_))) => break,
                Ok(None) if b.threads.is_empty() => return Ok(None),
                Ok(None) => {
                    return Err(Error::new(ErrorKind::IncompleteGeneration)
                        .at(self.framing.offset())
                        .in_generation(b.gen))
                }
                Err(e) => return Err(Error::from(e).in_generation(b.gen)),
            };
            let start = b.arena.len();
            self.framing
                .read_payload(src, h.size, batch_offset, &mut b.arena)
                .map_err(|e| Error::from(e).in_generation(b.gen))?;
            let payload_offset = self.framing.offset() - h.size;
            if b.gen == 0 {
                b.gen = h.gen;
            }
            if h.gen == 0 {
                return Err(Error::new(ErrorKind::InvalidGenerationZero).at(batch_offset));
            }
            if h.gen != b.gen {
                return Err(Error::new(ErrorKind::MissingEndOfGeneration)
                    .at(batch_offset)
                    .in_generation(b.gen));
            }
            b.add_batch(&h, start, payload_offset)?;
        }
        let gen = b.gen;
        b.finish().map(Some).map_err(|e| e.in_generation(gen))
    }

    /// The number of bytes of the input read so far.
    pub(crate) fn offset(&self) -> u64 {
        self.framing.offset()
    }

    /// Reads the next generation from `src`, starting with `spill` if there
    /// is one. `recycle` is a finished generation whose buffers may be
    /// reused.
    pub(crate) fn read(
        &mut self,
        src: &mut dyn BufRead,
        spill: Option<Spill>,
        recycle: Option<Generation>,
    ) -> Result<ReadGeneration, Error> {
        let mut b = self.builder(recycle);
        let mut next_spill = None;
        let mut deferred = None;
        let mut spill_payload = Vec::new();
        if let Some(s) = spill {
            b.gen = s.header.gen;
            b.min_ts = s.header.time;
            b.process(&s.header, &s.payload, s.payload_offset)
                .map_err(|e| e.in_generation(s.header.gen))?;
            spill_payload = s.payload;
        }
        loop {
            let res = match self.framing.read_header(src) {
                // Go 1.26+ readers take this byte for a batch of generation
                // 0 in older traces.
                Ok(Some(Framed::EndOfGeneration(offset))) => {
                    return Err(Error::new(ErrorKind::InvalidGenerationZero)
                        .at(offset)
                        .in_generation(b.gen));
                }
                Ok(Some(Framed::Batch(h, batch_offset))) => {
                    if h.gen == b.gen.wrapping_add(1) && b.gen != 0 {
                        // The first batch of the next generation: keep it
                        // for then, in the old spill's buffer.
                        spill_payload.clear();
                        self.framing
                            .read_payload(src, h.size, batch_offset, &mut spill_payload)
                            .map(|()| Some((h, batch_offset)))
                    } else {
                        self.framing
                            .read_payload(src, h.size, batch_offset, &mut b.arena)
                            .map(|()| Some((h, batch_offset)))
                    }
                }
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            };
            let (h, batch_offset) = match res {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(e) if b.gen != 0 => {
                    deferred = Some(Error::from(e).in_generation(b.gen));
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            let payload_offset = self.framing.offset() - h.size;
            if h.gen == 0 {
                return Err(Error::new(ErrorKind::InvalidGenerationZero)
                    .at(batch_offset)
                    .in_generation(b.gen));
            }
            if b.gen == 0 {
                b.gen = h.gen;
            }
            if h.gen == b.gen.wrapping_add(1) {
                next_spill = Some(Spill {
                    header: h,
                    payload: spill_payload,
                    payload_offset,
                });
                break;
            }
            let start = b.arena.len() - h.size as usize;
            if h.gen != b.gen {
                return Err(Error::new(ErrorKind::GenerationsOutOfOrder)
                    .at(batch_offset)
                    .in_generation(b.gen));
            }
            b.add_batch(&h, start, payload_offset)?;
        }
        let gen = b.gen;
        let generation = b.finish().map_err(|e| e.in_generation(gen))?;
        Ok(ReadGeneration {
            generation,
            spill: next_spill,
            deferred,
        })
    }
}
