//! Snapshots: the file header and the retained generations, as shared
//! references that can be written or read at leisure.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::ring::Complete;

/// A flight-recorder snapshot: a valid trace made of the file header and
/// whole consecutive generations, taken by
/// [`FlightRecorder::snapshot`](crate::FlightRecorder::snapshot). The
/// generations are all of the tracing session the recorder records in, so
/// of one [`Format`](trace_runtime::Format) ([`format`](Snapshot::format)),
/// whose header the snapshot starts with.
///
/// It holds shared references to the generations, not a copy: taking it
/// costs a generation advance and a few reference counts, and the recorder
/// goes on (and may evict those generations from its ring) while the
/// snapshot is written. Memory for the generations is freed when the last
/// snapshot that holds them is dropped.
///
/// Write it with [`write_to`](Snapshot::write_to), or read it as a byte
/// stream ([`Read`]), which is how the admin endpoint streams it.
///
/// ```
/// use std::io::Read;
/// use trace_flight::{FlightRecorder, FlightRecorderConfig};
///
/// let recorder = FlightRecorder::new(FlightRecorderConfig::default());
/// recorder.start()?;
/// trace_runtime::log(trace_runtime::TaskId::BACKGROUND, "demo", "hello");
/// let mut snapshot = recorder.snapshot()?;
/// recorder.stop()?;
/// assert!(snapshot.generations() >= 1);
/// let mut bytes = Vec::new();
/// snapshot.read_to_end(&mut bytes)?;
/// assert_eq!(bytes.len() as u64, snapshot.size());
/// assert!(bytes.starts_with(&snapshot.format().header()));
/// assert!(bytes.starts_with(b"go 1.26 trace")); // the default format
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Snapshot {
    header: [u8; 16],
    gens: Vec<Arc<Complete>>,
    size: u64,
    /// Read position: the header, then chunk `chunk` of generation `gen`,
    /// from byte `offset`.
    pos: ReadPos,
}

#[derive(Debug, Default, Clone, Copy)]
struct ReadPos {
    header_done: usize,
    gen: usize,
    chunk: usize,
    offset: usize,
}

impl Snapshot {
    /// A snapshot of `gens` (consecutive generations of one format): the
    /// header of their format, then their bytes.
    pub(crate) fn new(gens: Vec<Arc<Complete>>) -> Self {
        let header = gens.first().map(|g| g.format).unwrap_or_default().header();
        let size = header.len() as u64 + gens.iter().map(|g| g.data.len()).sum::<u64>();
        Self {
            header,
            gens,
            size,
            pos: ReadPos::default(),
        }
    }

    /// The trace format of the snapshot (the format of the tracing session
    /// it was recorded in).
    pub fn format(&self) -> trace_runtime::Format {
        self.gens.first().map(|g| g.format).unwrap_or_default()
    }

    /// The size of the trace in bytes, header included.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// How many generations the snapshot holds.
    pub fn generations(&self) -> usize {
        self.gens.len()
    }

    /// The generation numbers it holds, oldest first (consecutive).
    pub fn generation_range(
        &self,
    ) -> Option<(trace_runtime::Generation, trace_runtime::Generation)> {
        Some((self.gens.first()?.gen, self.gens.last()?.gen))
    }

    /// The time the snapshot covers: from the start of its oldest
    /// generation to the end of its newest.
    pub fn window(&self) -> Duration {
        match (self.gens.first(), self.gens.last()) {
            (Some(first), Some(last)) => last.ended.duration_since(first.started),
            _ => Duration::ZERO,
        }
    }

    /// Writes the whole trace to `w` (whatever was already read through
    /// [`Read`]); returns the number of bytes written, [`size`].
    ///
    /// # Errors
    ///
    /// The writer's error.
    ///
    /// [`size`]: Snapshot::size
    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> io::Result<u64> {
        let mut w = w;
        self.write_dyn(&mut w)
    }

    fn write_dyn(&self, w: &mut dyn Write) -> io::Result<u64> {
        w.write_all(&self.header)?;
        for g in &self.gens {
            for block in g.data.iter() {
                w.write_all(block)?;
            }
        }
        Ok(self.size)
    }
}

impl Read for Snapshot {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pos = &mut self.pos;
        if pos.header_done < self.header.len() {
            let n = buf.len().min(self.header.len() - pos.header_done);
            buf[..n].copy_from_slice(&self.header[pos.header_done..pos.header_done + n]);
            pos.header_done += n;
            return Ok(n);
        }
        while let Some(g) = self.gens.get(pos.gen) {
            let Some(chunk) = g.data.block(pos.chunk) else {
                pos.gen += 1;
                pos.chunk = 0;
                continue;
            };
            if pos.offset == chunk.len() {
                pos.chunk += 1;
                pos.offset = 0;
                continue;
            }
            let n = buf.len().min(chunk.len() - pos.offset);
            buf[..n].copy_from_slice(&chunk[pos.offset..pos.offset + n]);
            pos.offset += n;
            return Ok(n);
        }
        Ok(0)
    }
}
