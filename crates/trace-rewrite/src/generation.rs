//! One generation of a trace, as a transform sees and edits it: its batches,
//! its string and stack tables, and the timed events of its event batches.
//!
//! Nothing is decoded until a transform asks for it, and nothing is encoded
//! again unless it changed: an untouched generation is copied byte for byte,
//! and in a touched one only the batches that changed are re-encoded (with
//! their new lengths); the others, and the end-of-generation events of Go
//! 1.26+ traces, are copied as they were.

use std::borrow::Cow;

use hashbrown::HashMap;
use trace_wire::{
    parse_frequency, parse_sync, Batch, BatchHeader, BatchKind, CpuSamples, EventCursor,
    Experiment, Frequency, RawEvent, RawFrame, SizeEncoding, Stacks, Strings, TableWriter, Version,
    MAX_BATCH_SIZE, MAX_FRAMES_PER_STACK, MAX_STRING_SIZE, NO_THREAD,
};

use crate::Error;

/// One generation: every batch of one generation number, in file order.
///
/// A transform reads it ([`Generation::batches`], [`Generation::for_each_event`],
/// [`Generation::time_range`]), edits it ([`Generation::strings`],
/// [`Generation::stacks`], [`Generation::edit_events`]) or leaves it out of
/// the output ([`Generation::drop_generation`]).
#[derive(Debug)]
pub struct Generation<'a> {
    version: Version,
    number: u64,
    index: usize,
    span: &'a [u8],
    slots: Vec<Slot<'a>>,
    strings: Option<StringTable<'a>>,
    stacks: Option<StackTable>,
    dropped: bool,
}

/// One batch of the input and, if it was edited, its new encoding.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    pub(crate) header: BatchHeader,
    pub(crate) kind: BatchKind,
    /// The batch's bytes in the input, header and payload.
    pub(crate) raw: &'a [u8],
    pub(crate) payload: &'a [u8],
    pub(crate) offset: u64,
    pub(crate) payload_offset: u64,
    /// What follows the batch in the input before the next batch (the
    /// end-of-generation events of Go 1.26+ traces).
    pub(crate) trailing: &'a [u8],
    /// The re-encoded batch (possibly several batches), if it changed.
    pub(crate) replacement: Option<Vec<u8>>,
}

/// What [`Generation::edit_events`] does with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventEdit {
    /// Keep the event (with whatever the closure changed in it).
    Keep,
    /// Leave the event out; its time delta goes to the next event of the
    /// batch, so that the times of the others do not move.
    Drop,
}

impl<'a> Generation<'a> {
    pub(crate) fn new(
        version: Version,
        index: usize,
        span: &'a [u8],
        slots: Vec<Slot<'a>>,
    ) -> Self {
        Self {
            version,
            number: slots.first().map_or(0, |s| s.header.gen),
            index,
            span,
            slots,
            strings: None,
            stacks: None,
            dropped: false,
        }
    }

    /// The generation number written in its batches.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Its position in the input, counting from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The trace's format version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Its bytes in the input, from its first batch to the first batch of
    /// the next generation.
    pub fn input_bytes(&self) -> &'a [u8] {
        self.span
    }

    /// Its batches as they are in the input, in file order.
    pub fn batches(&self) -> impl ExactSizeIterator<Item = Batch<'a>> + '_ {
        self.slots.iter().map(|s| Batch {
            header: s.header,
            payload: s.payload,
            offset: s.offset,
            payload_offset: s.payload_offset,
        })
    }

    /// Leaves the whole generation out of the output.
    pub fn drop_generation(&mut self) {
        self.dropped = true;
    }

    /// Whether [`Generation::drop_generation`] was called.
    pub fn is_dropped(&self) -> bool {
        self.dropped
    }

    /// Whether the output will differ from the input.
    pub fn is_changed(&self) -> bool {
        self.dropped
            || self.strings.as_ref().is_some_and(|t| t.dirty)
            || self.stacks.as_ref().is_some_and(|t| t.dirty)
            || self.slots.iter().any(|s| s.replacement.is_some())
    }

    /// The tick frequency, from the frequency batch (Go 1.22–1.23) or the
    /// sync batch (Go 1.25+); `None` if there is none.
    pub fn frequency(&self) -> Result<Option<u64>, Error> {
        for s in &self.slots {
            match s.kind {
                BatchKind::Frequency => {
                    return Ok(Some(parse_frequency(s.payload, s.payload_offset)?));
                }
                BatchKind::Sync => {
                    if let Some(f) = parse_sync(s.payload, s.payload_offset)?.frequency {
                        return Ok(Some(f));
                    }
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// The times of the generation's first and last timed events and CPU
    /// samples, in nanoseconds as the reader computes them before its
    /// monotonic fix-up; `None` if it has none (or no frequency).
    pub fn time_range(&self) -> Result<Option<(i64, i64)>, Error> {
        let Some(freq) = self.frequency()? else {
            return Ok(None);
        };
        let freq = Frequency::new(freq);
        let mut range: Option<(i64, i64)> = None;
        let mut add = |t: i64| {
            range = Some(range.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
        };
        for s in &self.slots {
            match s.kind {
                BatchKind::Events => {
                    let mut t = freq.ns(s.header.time);
                    let mut cur = EventCursor::new(s.payload, self.version, s.payload_offset);
                    while let Some(ev) = cur.next_event()? {
                        t = t.wrapping_add(freq.ns(ev.dt));
                        add(t);
                    }
                }
                BatchKind::CpuSamples => {
                    let mut cur = CpuSamples::new(s.payload, s.payload_offset)?;
                    while let Some(sample) = cur.next_sample()? {
                        add(freq.ns(sample.time));
                    }
                }
                _ => {}
            }
        }
        Ok(range)
    }

    /// The generation's string table, decoded on first use. Changing it
    /// re-encodes every strings batch of the generation.
    pub fn strings(&mut self) -> Result<&mut StringTable<'a>, Error> {
        if self.strings.is_none() {
            self.strings = Some(StringTable::decode(self.number, &self.slots)?);
        }
        Ok(self.strings.as_mut().expect("decoded just above"))
    }

    /// The generation's stack table, decoded on first use. Changing it
    /// re-encodes every stacks batch of the generation.
    pub fn stacks(&mut self) -> Result<&mut StackTable, Error> {
        if self.stacks.is_none() {
            self.stacks = Some(StackTable::decode(self.number, &self.slots)?);
        }
        Ok(self.stacks.as_mut().expect("decoded just above"))
    }

    /// Both tables at once, decoded on first use, for a transform that
    /// reads one while it edits the other (function names while it edits
    /// frames).
    pub fn tables(&mut self) -> Result<(&mut StringTable<'a>, &mut StackTable), Error> {
        self.strings()?;
        self.stacks()?;
        match (self.strings.as_mut(), self.stacks.as_mut()) {
            (Some(strings), Some(stacks)) => Ok((strings, stacks)),
            _ => unreachable!("both tables were decoded just above"),
        }
    }

    /// Calls `f` on every timed event of every event batch, in file order,
    /// with the header of its batch. Experimental batches are opaque and
    /// not visited.
    pub fn for_each_event(&self, mut f: impl FnMut(&BatchHeader, &RawEvent)) -> Result<(), Error> {
        for s in &self.slots {
            if s.kind != BatchKind::Events {
                continue;
            }
            let mut cur = EventCursor::new(s.payload, self.version, s.payload_offset);
            while let Some(ev) = cur.next_event()? {
                f(&s.header, &ev);
            }
        }
        Ok(())
    }

    /// Calls `f` on every timed event of every event batch, in file order;
    /// `f` may change the event's arguments and type, or drop it. Each batch
    /// in which something changed is encoded again, split in two if it would
    /// outgrow the 64 KiB limit.
    ///
    /// A transform is responsible for what the events mean: an edit that
    /// breaks the scheduling rules (a sequence number, a status) gives a
    /// trace Go rejects.
    pub fn edit_events(
        &mut self,
        mut f: impl FnMut(&BatchHeader, &mut RawEvent) -> EventEdit,
    ) -> Result<(), Error> {
        let mut events = Vec::new();
        for s in &mut self.slots {
            if s.kind != BatchKind::Events {
                continue;
            }
            events.clear();
            let mut changed = false;
            // The delta of dropped events, carried to the next kept one.
            let mut carry = 0u64;
            let mut cur = EventCursor::new(s.payload, self.version, s.payload_offset);
            // A batch that was edited before is decoded from its input
            // again: edits compose only within one call.
            while let Some(ev) = cur.next_event()? {
                let mut edited = ev;
                match f(&s.header, &mut edited) {
                    EventEdit::Keep => {
                        edited.n_args = ev.n_args;
                        changed |= edited != ev || carry != 0;
                        edited.dt = edited.dt.wrapping_add(carry);
                        carry = 0;
                        events.push(edited);
                    }
                    EventEdit::Drop => {
                        changed = true;
                        carry = carry.wrapping_add(edited.dt);
                    }
                }
            }
            if changed {
                let mut out = Vec::with_capacity(s.raw.len());
                encode_event_batches(&s.header, &events, &mut out);
                s.replacement = Some(out);
            }
        }
        Ok(())
    }

    /// Decodes every table and event batch so that the whole generation is
    /// encoded again (with minimal varints), even where nothing changed: a
    /// check of the encoder, and the identity a filter without predicates
    /// may use.
    pub fn reencode_all(&mut self) -> Result<(), Error> {
        self.strings()?.dirty = true;
        self.stacks()?.dirty = true;
        let mut events = Vec::new();
        for s in &mut self.slots {
            if s.kind != BatchKind::Events {
                continue;
            }
            events.clear();
            let mut cur = EventCursor::new(s.payload, self.version, s.payload_offset);
            while let Some(ev) = cur.next_event()? {
                events.push(ev);
            }
            let mut out = Vec::with_capacity(s.raw.len());
            encode_event_batches(&s.header, &events, &mut out);
            s.replacement = Some(out);
        }
        Ok(())
    }

    /// Appends the generation's output to `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        if self.dropped {
            return;
        }
        if !self.is_changed() {
            out.extend_from_slice(self.span);
            return;
        }
        let strings = self.strings.as_ref().filter(|t| t.dirty);
        let stacks = self.stacks.as_ref().filter(|t| t.dirty);
        let last_of = |kind| self.slots.iter().rposition(|s| s.kind == kind);
        let last_strings = last_of(BatchKind::Strings);
        let last_stacks = last_of(BatchKind::Stacks);
        let mut next_string = 0;
        let mut next_stack = 0;
        for (i, s) in self.slots.iter().enumerate() {
            match (s.kind, strings, stacks) {
                // A table batch with no entry stays as it was: its time may
                // be the generation's earliest, which newer readers use.
                (BatchKind::Strings, Some(t), _) => {
                    let mut w = TableWriter::strings(out, s.header);
                    let next = t.write_slot(&mut w, next_string, i, last_strings == Some(i));
                    w.finish();
                    if next == next_string {
                        out.extend_from_slice(s.raw);
                    }
                    next_string = next;
                }
                (BatchKind::Stacks, _, Some(t)) => {
                    let mut w = TableWriter::stacks(out, s.header);
                    let next = t.write_slot(&mut w, next_stack, i, last_stacks == Some(i));
                    w.finish();
                    if next == next_stack {
                        out.extend_from_slice(s.raw);
                    }
                    next_stack = next;
                }
                _ => out.extend_from_slice(s.replacement.as_deref().unwrap_or(s.raw)),
            }
            if i + 1 == self.slots.len() {
                // Entries added to a generation that had no table of their
                // kind go in a new batch, before the end of the generation.
                // It takes the time of a batch of the generation, so that
                // the minimum batch time (the time of Go 1.25+'s sync
                // event) does not move.
                let header = BatchHeader {
                    experiment: Experiment::None,
                    m: NO_THREAD,
                    size: 0,
                    ..s.header
                };
                if let (Some(t), None) = (strings, last_strings) {
                    let mut w = TableWriter::strings(out, header);
                    t.write_slot(&mut w, next_string, usize::MAX, true);
                    w.finish();
                }
                if let (Some(t), None) = (stacks, last_stacks) {
                    let mut w = TableWriter::stacks(out, header);
                    t.write_slot(&mut w, next_stack, usize::MAX, true);
                    w.finish();
                }
            }
            out.extend_from_slice(s.trailing);
        }
    }
}

/// Encodes `events` as one event batch with `header`'s generation, thread
/// and base time, or as several if they outgrow the 64 KiB limit: a further
/// batch takes the tick time of the event before it as its base, so every
/// delta stays as it was. (The reader converts a batch's base and each delta
/// to nanoseconds separately; with a frequency that does not divide 10^9 the
/// events after such a split may move by a nanosecond.)
fn encode_event_batches(header: &BatchHeader, events: &[RawEvent], out: &mut Vec<u8>) {
    let mut payload = Vec::new();
    let mut base = header.time;
    let mut time = header.time;
    let mut encoded = Vec::with_capacity(64);
    for ev in events {
        encoded.clear();
        ev.encode(&mut encoded);
        if !payload.is_empty() && payload.len() + encoded.len() > MAX_BATCH_SIZE as usize {
            flush_batch(header, base, &payload, out);
            payload.clear();
            base = time;
        }
        payload.extend_from_slice(&encoded);
        time = time.wrapping_add(ev.dt);
    }
    flush_batch(header, base, &payload, out);
}

fn flush_batch(header: &BatchHeader, time: u64, payload: &[u8], out: &mut Vec<u8>) {
    BatchHeader {
        time,
        size: payload.len() as u64,
        ..*header
    }
    .encode(out, SizeEncoding::Minimal);
    out.extend_from_slice(payload);
}

/// A generation's string table: every `String` entry of its strings
/// batches, in file order.
///
/// Ids are the generation's own: the same text may have another id in
/// another generation. Id 0 is the empty string and is never declared.
#[derive(Debug)]
pub struct StringTable<'a> {
    gen: u64,
    entries: Vec<StringEntry<'a>>,
    /// The first entry of each id.
    index: HashMap<u64, usize>,
    has_duplicates: bool,
    next_id: u64,
    dirty: bool,
}

#[derive(Debug)]
struct StringEntry<'a> {
    id: u64,
    data: Cow<'a, [u8]>,
    /// The batch it is written in; `usize::MAX` for added entries.
    slot: usize,
}

impl<'a> StringTable<'a> {
    fn decode(gen: u64, slots: &[Slot<'a>]) -> Result<Self, Error> {
        let mut res = Self {
            gen,
            entries: Vec::new(),
            index: HashMap::new(),
            has_duplicates: false,
            next_id: 1,
            dirty: false,
        };
        for (i, s) in slots.iter().enumerate() {
            if s.kind != BatchKind::Strings {
                continue;
            }
            let mut strings = Strings::new(s.payload, s.payload_offset)?;
            while let Some((id, data)) = strings.next_string()? {
                res.push(id, Cow::Borrowed(data), i);
            }
        }
        Ok(res)
    }

    fn push(&mut self, id: u64, data: Cow<'a, [u8]>, slot: usize) {
        let at = self.entries.len();
        if self.index.try_insert(id, at).is_err() {
            self.has_duplicates = true;
        }
        self.next_id = self.next_id.max(id.saturating_add(1));
        self.entries.push(StringEntry { id, data, slot });
    }

    /// The text of string `id` (its first declaration), `Some(b"")` for id 0.
    pub fn get(&self, id: u64) -> Option<&[u8]> {
        if id == 0 {
            return Some(b"");
        }
        self.index.get(&id).map(|&i| &*self.entries[i].data)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry, `(id, text)`, in file order (added ones last).
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        self.entries.iter().map(|e| (e.id, &*e.data))
    }

    /// Replaces the text of string `id` (every declaration of it); `false`
    /// if the generation does not declare it.
    pub fn set(&mut self, id: u64, data: impl Into<Vec<u8>>) -> Result<bool, Error> {
        let data = data.into();
        self.check_len(id, &data)?;
        let Some(&first) = self.index.get(&id) else {
            return Ok(false);
        };
        self.dirty = true;
        if self.has_duplicates {
            for e in self.entries[first..].iter_mut().filter(|e| e.id == id) {
                e.data = Cow::Owned(data.clone());
            }
        } else {
            self.entries[first].data = Cow::Owned(data);
        }
        Ok(true)
    }

    /// Declares a new string, with an id no entry of the generation has,
    /// and returns the id. It is written after the generation's other
    /// strings.
    pub fn add(&mut self, data: impl Into<Vec<u8>>) -> Result<u64, Error> {
        let data = data.into();
        let id = self.next_id;
        self.check_len(id, &data)?;
        self.dirty = true;
        self.push(id, Cow::Owned(data), usize::MAX);
        Ok(id)
    }

    fn check_len(&self, id: u64, data: &[u8]) -> Result<(), Error> {
        if data.len() as u64 > MAX_STRING_SIZE {
            return Err(Error::StringTooLong {
                gen: self.gen,
                id,
                len: data.len(),
            });
        }
        Ok(())
    }

    /// Writes the entries of batch `slot` (and with `last`, the added ones),
    /// starting at entry `from`; returns the first entry not written.
    fn write_slot(&self, w: &mut TableWriter<'_>, from: usize, slot: usize, last: bool) -> usize {
        let mut i = from;
        while let Some(e) = self.entries.get(i) {
            if e.slot != slot && !(last && e.slot == usize::MAX) {
                break;
            }
            w.string(e.id, &e.data);
            i += 1;
        }
        i
    }
}

/// A generation's stack table: every `Stack` entry of its stacks batches,
/// in file order.
#[derive(Debug)]
pub struct StackTable {
    gen: u64,
    /// `(id, first frame, number of frames, batch)`.
    entries: Vec<(u64, usize, usize, usize)>,
    frames: Vec<RawFrame>,
    dirty: bool,
}

impl StackTable {
    fn decode(gen: u64, slots: &[Slot<'_>]) -> Result<Self, Error> {
        let mut res = Self {
            gen,
            entries: Vec::new(),
            frames: Vec::new(),
            dirty: false,
        };
        for (i, s) in slots.iter().enumerate() {
            if s.kind != BatchKind::Stacks {
                continue;
            }
            let mut stacks = Stacks::new(s.payload, s.payload_offset)?;
            while let Some(stack) = stacks.next_stack()? {
                let start = res.frames.len();
                res.frames.extend(stack.frames());
                res.entries
                    .push((stack.id, start, res.frames.len() - start, i));
            }
        }
        Ok(res)
    }

    /// The number of stacks.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no stack.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every stack, `(id, frames)` (leaf first), in file order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[RawFrame])> + '_ {
        self.entries
            .iter()
            .map(|&(id, start, len, _)| (id, &self.frames[start..start + len]))
    }

    /// Every frame of every stack, to edit in place (a function or file
    /// name's string id, a line, a PC). Go 1.23+ keeps one frame per PC in a
    /// generation: frames that share a PC should stay identical.
    pub fn frames_mut(&mut self) -> &mut [RawFrame] {
        self.dirty = true;
        &mut self.frames
    }

    /// Adds a stack with a new id and returns the id.
    pub fn add(&mut self, frames: &[RawFrame]) -> Result<u64, Error> {
        let id = self
            .entries
            .iter()
            .map(|e| e.0)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        if frames.len() as u64 > MAX_FRAMES_PER_STACK {
            return Err(Error::StackTooLarge {
                gen: self.gen,
                id,
                len: frames.len(),
            });
        }
        self.dirty = true;
        let start = self.frames.len();
        self.frames.extend_from_slice(frames);
        self.entries.push((id, start, frames.len(), usize::MAX));
        Ok(id)
    }

    fn write_slot(&self, w: &mut TableWriter<'_>, from: usize, slot: usize, last: bool) -> usize {
        let mut i = from;
        while let Some(&(id, start, len, s)) = self.entries.get(i) {
            if s != slot && !(last && s == usize::MAX) {
                break;
            }
            w.stack(id, &self.frames[start..start + len]);
            i += 1;
        }
        i
    }
}
