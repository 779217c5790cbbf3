//! Encoding the entries of string and stack tables into batches.
//!
//! Every writer of traces needs the same few steps: encode one `String` or
//! `Stack` entry, pack entries into batches of at most [`MAX_BATCH_SIZE`]
//! payload bytes that start with the table's marker byte, and frame each
//! batch with its header. [`TableWriter`] does them, appending to a caller's
//! buffer.

use crate::batch::{BatchHeader, SizeEncoding, MAX_BATCH_SIZE};
use crate::spec::ty;
use crate::tables::RawFrame;
use crate::varint;

/// Appends one `String` entry (`5 id len bytes`) to `out`.
///
/// ```
/// let mut out = Vec::new();
/// trace_wire::encode_string(1, b"greet", &mut out);
/// assert_eq!(out, [5, 1, 5, b'g', b'r', b'e', b'e', b't']);
/// ```
pub fn encode_string(id: u64, data: &[u8], out: &mut Vec<u8>) {
    out.push(ty::STRING);
    varint::encode(id, out);
    varint::encode(data.len() as u64, out);
    out.extend_from_slice(data);
}

/// Appends one `Stack` entry (`3 id nframes (pc func file line)*`) to `out`.
///
/// ```
/// use trace_wire::RawFrame;
/// let mut out = Vec::new();
/// let frame = RawFrame { pc: 0x10, func: 2, file: 3, line: 4 };
/// trace_wire::encode_stack(1, &[frame], &mut out);
/// assert_eq!(out, [3, 1, 1, 0x10, 2, 3, 4]);
/// ```
pub fn encode_stack(id: u64, frames: &[RawFrame], out: &mut Vec<u8>) {
    out.push(ty::STACK);
    varint::encode(id, out);
    varint::encode(frames.len() as u64, out);
    for f in frames {
        for v in [f.pc, f.func, f.file, f.line] {
            varint::encode(v, out);
        }
    }
}

/// Writes table entries into batches: each batch starts with the table's
/// marker byte (`Strings` or `Stacks`) and holds whole entries, at most
/// [`MAX_BATCH_SIZE`] bytes of payload; a new batch begins when the next
/// entry would not fit.
///
/// Entries are expected to respect the format's limits (strings of at most
/// [`MAX_STRING_SIZE`](crate::MAX_STRING_SIZE) bytes, stacks of at most
/// [`MAX_FRAMES_PER_STACK`](crate::MAX_FRAMES_PER_STACK) frames), so that
/// each fits in a batch; a larger entry is written alone in a batch that Go
/// will reject.
///
/// ```
/// use trace_wire::{BatchHeader, Batches, Experiment, Strings, TableWriter, Version, NO_THREAD};
///
/// let mut trace = Version::Go123.header().to_vec();
/// let header = BatchHeader { experiment: Experiment::None, gen: 1, m: NO_THREAD, time: 0, size: 0 };
/// let mut w = TableWriter::strings(&mut trace, header);
/// w.string(1, b"greet");
/// w.string(2, b"hello");
/// w.finish();
///
/// let mut batches = Batches::new(&trace)?;
/// let batch = batches.next_batch()?.unwrap();
/// let mut strings = Strings::new(batch.payload, batch.payload_offset)?;
/// assert_eq!(strings.next_string()?, Some((1, &b"greet"[..])));
/// assert_eq!(strings.next_string()?, Some((2, &b"hello"[..])));
/// # Ok::<(), trace_wire::Error>(())
/// ```
#[derive(Debug)]
pub struct TableWriter<'a> {
    out: &'a mut Vec<u8>,
    header: BatchHeader,
    marker: u8,
    size_encoding: SizeEncoding,
    payload: Vec<u8>,
    entry: Vec<u8>,
}

impl<'a> TableWriter<'a> {
    /// A writer of `Strings` batches with `header` (its `size` is ignored).
    pub fn strings(out: &'a mut Vec<u8>, header: BatchHeader) -> Self {
        Self::new(out, header, ty::STRINGS)
    }

    /// A writer of `Stacks` batches with `header` (its `size` is ignored).
    pub fn stacks(out: &'a mut Vec<u8>, header: BatchHeader) -> Self {
        Self::new(out, header, ty::STACKS)
    }

    fn new(out: &'a mut Vec<u8>, header: BatchHeader, marker: u8) -> Self {
        Self {
            out,
            header,
            marker,
            size_encoding: SizeEncoding::Minimal,
            payload: Vec::new(),
            entry: Vec::new(),
        }
    }

    /// Encodes batch sizes as `size_encoding` (minimal by default).
    pub fn size_encoding(mut self, size_encoding: SizeEncoding) -> Self {
        self.size_encoding = size_encoding;
        self
    }

    /// Appends a `String` entry.
    pub fn string(&mut self, id: u64, data: &[u8]) {
        let mut entry = std::mem::take(&mut self.entry);
        entry.clear();
        encode_string(id, data, &mut entry);
        self.push(&entry);
        self.entry = entry;
    }

    /// Appends a `Stack` entry.
    pub fn stack(&mut self, id: u64, frames: &[RawFrame]) {
        let mut entry = std::mem::take(&mut self.entry);
        entry.clear();
        encode_stack(id, frames, &mut entry);
        self.push(&entry);
        self.entry = entry;
    }

    fn push(&mut self, entry: &[u8]) {
        if !self.payload.is_empty() && self.payload.len() + entry.len() > MAX_BATCH_SIZE as usize {
            self.finish_batch();
        }
        if self.payload.is_empty() {
            self.payload.push(self.marker);
        }
        self.payload.extend_from_slice(entry);
    }

    fn finish_batch(&mut self) {
        if self.payload.is_empty() {
            return;
        }
        BatchHeader {
            size: self.payload.len() as u64,
            ..self.header
        }
        .encode(self.out, self.size_encoding);
        self.out.extend_from_slice(&self.payload);
        self.payload.clear();
    }

    /// Writes the last batch; nothing if no entry was written.
    pub fn finish(mut self) {
        self.finish_batch();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Batches, Experiment, Stacks, Strings, Version, NO_THREAD};

    fn header() -> BatchHeader {
        BatchHeader {
            experiment: Experiment::None,
            gen: 2,
            m: NO_THREAD,
            time: 9,
            size: 0,
        }
    }

    #[test]
    fn big_tables_split_into_batches() {
        let mut trace = Version::Go123.header().to_vec();
        let mut w = TableWriter::strings(&mut trace, header());
        let data = [b'x'; 1024];
        for id in 1..=200 {
            w.string(id, &data);
        }
        w.finish();
        let mut batches = Batches::new(&trace).unwrap();
        let mut ids = Vec::new();
        let mut n_batches = 0;
        while let Some(b) = batches.next_batch().unwrap() {
            n_batches += 1;
            assert!(b.header.size <= MAX_BATCH_SIZE);
            assert_eq!((b.header.gen, b.header.time), (2, 9));
            let mut s = Strings::new(b.payload, b.payload_offset).unwrap();
            while let Some((id, d)) = s.next_string().unwrap() {
                assert_eq!(d, &data[..]);
                ids.push(id);
            }
        }
        assert_eq!(n_batches, 4);
        assert_eq!(ids, (1..=200).collect::<Vec<_>>());
    }

    #[test]
    fn stacks_round_trip() {
        let mut trace = Version::Go126.header().to_vec();
        let frames: Vec<RawFrame> = (0..128)
            .map(|i| RawFrame {
                pc: 0x40_0000 + i,
                func: i + 1,
                file: 300 + i,
                line: 1 << 20,
            })
            .collect();
        let mut w = TableWriter::stacks(&mut trace, header()).size_encoding(SizeEncoding::Padded);
        w.stack(7, &frames);
        w.stack(8, &frames[..1]);
        w.finish();
        let mut batches = Batches::new(&trace).unwrap();
        let b = batches.next_batch().unwrap().unwrap();
        let mut s = Stacks::new(b.payload, b.payload_offset).unwrap();
        let e = s.next_stack().unwrap().unwrap();
        assert_eq!(e.id, 7);
        assert_eq!(e.frames().collect::<Vec<_>>(), frames);
        let e = s.next_stack().unwrap().unwrap();
        assert_eq!(e.frames().collect::<Vec<_>>(), frames[..1]);
        assert!(s.next_stack().unwrap().is_none());
        assert!(batches.next_batch().unwrap().is_none());
    }

    #[test]
    fn nothing_written_without_entries() {
        let mut out = Vec::new();
        TableWriter::stacks(&mut out, header()).finish();
        assert!(out.is_empty());
    }
}
