//! One generation of output being assembled: per-thread event batches, CPU
//! samples and the string and stack tables, interned as events come in, and
//! its encoding in Go 1.26's format (sync batch first, end-of-generation
//! event last).

use std::io::Write;

use hashbrown::HashMap;
use trace_wire::{
    ty, varint, BatchHeader, Experiment, RawFrame, SizeEncoding, TableWriter, Version,
    MAX_BATCH_SIZE, NO_THREAD,
};

/// Ticks per second of every trace the writer writes: ticks are
/// nanoseconds, so the reader's times come back exactly.
pub(crate) const FREQUENCY: u64 = 1_000_000_000;

/// A clock snapshot as the sync batch holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clock {
    /// Trace time of the snapshot, in ticks (nanoseconds).
    pub(crate) trace: u64,
    pub(crate) mono: u64,
    pub(crate) sec: u64,
    pub(crate) nsec: u64,
}

/// The batches of one thread (or of no thread) in a generation.
#[derive(Debug)]
struct ThreadBuf {
    m: u64,
    /// Finished batches, header and payload.
    done: Vec<u8>,
    /// The open batch's payload.
    cur: Vec<u8>,
    /// The open batch's base time and the time of its last event.
    base: u64,
    last: u64,
}

/// One generation being written.
#[derive(Debug)]
pub(crate) struct GenBuf {
    pub(crate) number: u64,
    /// Go 1.26's format, or Go 1.23's (a frequency batch instead of the
    /// sync batch, no end-of-generation event).
    version: Version,
    /// The sync batch's time: the reader's sync event time.
    pub(crate) sync_time: u64,
    pub(crate) clock: Clock,
    threads: Vec<ThreadBuf>,
    index: HashMap<u64, usize>,
    samples: Vec<[u64; 5]>,
    strings: HashMap<Box<[u8]>, u64>,
    string_list: Vec<Box<[u8]>>,
    stacks: HashMap<Box<[[u64; 4]]>, u64>,
    stack_list: Vec<Box<[[u64; 4]]>>,
    /// Bytes of events, samples and table entries so far (about).
    pub(crate) bytes: usize,
    /// Scratch for one event and one stack key.
    event: Vec<u8>,
    key: Vec<[u64; 4]>,
}

impl GenBuf {
    pub(crate) fn new(number: u64, version: Version, sync_time: u64, clock: Clock) -> Self {
        Self {
            number,
            version,
            sync_time,
            clock,
            threads: Vec::new(),
            index: HashMap::new(),
            samples: Vec::new(),
            strings: HashMap::new(),
            string_list: Vec::new(),
            stacks: HashMap::new(),
            stack_list: Vec::new(),
            bytes: 0,
            event: Vec::with_capacity(64),
            key: Vec::with_capacity(128),
        }
    }

    /// The id of string `s` in this generation (0 for the empty string).
    pub(crate) fn string(&mut self, s: &[u8]) -> u64 {
        if s.is_empty() {
            return 0;
        }
        if let Some(&id) = self.strings.get(s) {
            return id;
        }
        // The format's limit; only events built by hand can exceed it.
        let data = &s[..s.len().min(trace_wire::MAX_STRING_SIZE as usize)];
        let id = self.string_list.len() as u64 + 1;
        self.bytes += data.len() + 4;
        self.string_list.push(data.into());
        self.strings.insert(s.into(), id);
        id
    }

    /// The id of the stack with these frames (leaf first; 0 for none):
    /// `(pc, func, file, line)`.
    pub(crate) fn stack<'a>(
        &mut self,
        frames: impl Iterator<Item = (u64, &'a [u8], &'a [u8], u64)>,
    ) -> u64 {
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        for (pc, func, file, line) in frames.take(trace_wire::MAX_FRAMES_PER_STACK as usize) {
            let func = self.string(func);
            let file = self.string(file);
            key.push([pc, func, file, line]);
        }
        let id = if key.is_empty() {
            0
        } else if let Some(&id) = self.stacks.get(key.as_slice()) {
            id
        } else {
            let id = self.stack_list.len() as u64 + 1;
            self.bytes += key.len() * 16 + 4;
            self.stack_list.push(key.as_slice().into());
            self.stacks.insert(key.as_slice().into(), id);
            id
        };
        self.key = key;
        id
    }

    /// The time of the sync batch, which the reader gives the sync event
    /// that opens the generation (unless that moves past the previous
    /// generation's last event): the sync's time, or the clock snapshot's
    /// if earlier.
    pub(crate) fn base(&self) -> u64 {
        if self.version.has_sync_batches() {
            self.sync_time.min(self.clock.trace)
        } else {
            self.sync_time
        }
    }

    /// Appends a timed event to thread `m`'s batches (`-1`: no thread).
    pub(crate) fn event(&mut self, m: i64, time: u64, ty: u8, args: &[u64]) {
        let m = m as u64;
        let i = match self.index.get(&m) {
            Some(&i) => i,
            None => {
                self.threads.push(ThreadBuf {
                    m,
                    done: Vec::new(),
                    cur: Vec::new(),
                    base: time,
                    last: time,
                });
                self.index.insert(m, self.threads.len() - 1);
                self.threads.len() - 1
            }
        };
        let t = &mut self.threads[i];
        // Times never go back within a thread; the writer keeps them
        // increasing, and a tie costs nothing.
        let time = time.max(t.last);
        let mut ev = std::mem::take(&mut self.event);
        ev.clear();
        for &a in args {
            varint::encode(a, &mut ev);
        }
        if !t.cur.is_empty() && t.cur.len() + 11 + ev.len() > MAX_BATCH_SIZE as usize {
            finish_batch(self.number, t);
        }
        if t.cur.is_empty() {
            t.base = time;
            t.last = time;
        }
        t.cur.push(ty);
        varint::encode(time - t.last, &mut t.cur);
        self.bytes += ev.len() + 2;
        t.cur.extend_from_slice(&ev);
        t.last = time;
        self.event = ev;
    }

    /// Adds a CPU sample.
    pub(crate) fn sample(&mut self, time: u64, m: u64, p: u64, g: u64, stack: u64) {
        self.bytes += 12;
        self.samples.push([time, m, p, g, stack]);
    }

    /// Encodes the whole generation into `out`.
    pub(crate) fn finish(mut self, out: &mut impl Write) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(self.bytes + 1024);
        // A snapshot taken before the sync event's time (which the reader
        // moved past the previous generation's last event) sets the
        // batch's time: the reader moves it past that event again.
        let base = self.base();
        let header = |m: u64, time: u64, size: usize| BatchHeader {
            experiment: Experiment::None,
            gen: self.number,
            m,
            time,
            size: size as u64,
        };
        let mut sync = Vec::new();
        if self.version.has_sync_batches() {
            sync.extend([ty::SYNC, ty::FREQUENCY]);
            varint::encode(FREQUENCY, &mut sync);
            sync.push(ty::CLOCK_SNAPSHOT);
            varint::encode(self.clock.trace - base, &mut sync);
            varint::encode(self.clock.mono, &mut sync);
            varint::encode(self.clock.sec, &mut sync);
            varint::encode(self.clock.nsec, &mut sync);
        } else {
            sync.push(ty::FREQUENCY);
            varint::encode(FREQUENCY, &mut sync);
        }
        header(NO_THREAD, base, sync.len()).encode(&mut buf, SizeEncoding::Minimal);
        buf.extend_from_slice(&sync);
        for t in &mut self.threads {
            finish_batch(self.number, t);
            buf.extend_from_slice(&t.done);
        }
        if !self.samples.is_empty() {
            self.samples.sort_by_key(|s| s[0]);
            let mut payload = vec![ty::CPU_SAMPLES];
            for s in &self.samples {
                let mut entry = vec![ty::CPU_SAMPLE];
                for &v in s {
                    varint::encode(v, &mut entry);
                }
                if payload.len() + entry.len() > MAX_BATCH_SIZE as usize {
                    header(NO_THREAD, base, payload.len()).encode(&mut buf, SizeEncoding::Minimal);
                    buf.extend_from_slice(&payload);
                    payload.truncate(1);
                }
                payload.extend_from_slice(&entry);
            }
            header(NO_THREAD, base, payload.len()).encode(&mut buf, SizeEncoding::Minimal);
            buf.extend_from_slice(&payload);
        }
        let mut w = TableWriter::stacks(&mut buf, header(NO_THREAD, base, 0));
        let mut frames = Vec::new();
        for (i, s) in self.stack_list.iter().enumerate() {
            frames.clear();
            frames.extend(s.iter().map(|&[pc, func, file, line]| RawFrame {
                pc,
                func,
                file,
                line,
            }));
            w.stack(i as u64 + 1, &frames);
        }
        w.finish();
        let mut w = TableWriter::strings(&mut buf, header(NO_THREAD, base, 0));
        for (i, s) in self.string_list.iter().enumerate() {
            w.string(i as u64 + 1, s);
        }
        w.finish();
        if self.version >= Version::Go126 {
            buf.push(ty::END_OF_GENERATION);
        }
        out.write_all(&buf)
    }
}

/// Moves a thread's open batch, framed, to its finished batches.
fn finish_batch(gen: u64, t: &mut ThreadBuf) {
    if t.cur.is_empty() {
        return;
    }
    BatchHeader {
        experiment: Experiment::None,
        gen,
        m: t.m,
        time: t.base,
        size: t.cur.len() as u64,
    }
    .encode(&mut t.done, SizeEncoding::Minimal);
    t.done.extend_from_slice(&t.cur);
    t.cur.clear();
}
