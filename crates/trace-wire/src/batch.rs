//! Batch framing: the header every batch starts with, and reading batches
//! from a byte slice or from a stream.
//!
//! ```text
//! u8       1 (EventBatch)       | 49 (ExperimentalBatch), u8 experiment id
//! uvarint  gen
//! uvarint  m                    ; thread id, or u64::MAX for "no thread"
//! uvarint  time                 ; base timestamp, in ticks
//! uvarint  size                 ; payload bytes that follow, at most 65 536
//! byte[size] payload
//! ```

use std::io::{self, Read};

use crate::error::{BatchField, Error, ErrorKind, IoCause};
use crate::spec::{ty, Experiment, Version, HEADER_LEN};
use crate::varint;

/// The largest payload a batch may have (`64 << 10`).
pub const MAX_BATCH_SIZE: u64 = 64 << 10;

/// The thread id the runtime writes for batches that belong to no thread.
pub const NO_THREAD: u64 = u64::MAX;

/// How a writer encodes a batch's `size` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SizeEncoding {
    /// The shortest varint (what Go's `gotraceraw text2bytes` writes).
    #[default]
    Minimal,
    /// Always ten bytes, as Go's runtime writes it so that it can fill the size
    /// in after the body.
    Padded,
}

/// A batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// The experiment of an experimental batch; [`Experiment::None`] for an
    /// ordinary event batch.
    pub experiment: Experiment,
    /// The generation the batch belongs to.
    pub gen: u64,
    /// The thread (M) that wrote the batch, or [`NO_THREAD`].
    pub m: u64,
    /// The base timestamp of the batch, in ticks.
    pub time: u64,
    /// The payload length in bytes.
    pub size: u64,
}

impl BatchHeader {
    /// Appends the encoded header to `out`.
    pub fn encode(&self, out: &mut Vec<u8>, size_encoding: SizeEncoding) {
        if self.experiment == Experiment::None {
            out.push(ty::EVENT_BATCH);
        } else {
            out.push(ty::EXPERIMENTAL_BATCH);
            out.push(self.experiment.id());
        }
        varint::encode(self.gen, out);
        varint::encode(self.m, out);
        varint::encode(self.time, out);
        match size_encoding {
            SizeEncoding::Minimal => varint::encode(self.size, out),
            SizeEncoding::Padded => varint::encode_padded(self.size, out),
        }
    }
}

/// Reads and checks the file header at the start of `input`.
///
/// The header is matched as Go's reader matches it, with
/// `fmt.Fscanf(r, "go 1.%d trace\x00\x00\x00", &v)`; every trace Go writes
/// starts with the 16 bytes of [`Version::header`].
///
/// ```
/// use trace_wire::{read_header, Version};
/// assert_eq!(read_header(b"go 1.23 trace\0\0\0"), Ok(Version::Go123));
/// assert!(read_header(b"go 1.99 trace\0\0\0").is_err());
/// assert!(read_header(b"not a trace at all").is_err());
/// ```
pub fn read_header(input: &[u8]) -> Result<Version, Error> {
    read_header_len(input).map(|(v, _)| v)
}

/// [`read_header`], also returning the header's length.
fn read_header_len(input: &[u8]) -> Result<(Version, usize), Error> {
    let (minor, len) = scan_header(input)?;
    let version =
        Version::from_minor(minor).ok_or(Error::new(ErrorKind::UnsupportedVersion(minor), 0))?;
    Ok((version, len))
}

/// The longest header this crate reads before giving up: Go's pattern
/// allows runs of white space of any length, but no writer pads a header.
const MAX_HEADER_LEN: usize = 64;

/// Matches the file header as Go's
/// `fmt.Fscanf(r, "go 1.%d trace\x00\x00\x00", &v)` with a `uint32` `v`
/// does, returning the number and the header's length in bytes.
///
/// Scanf's rules that matter here: a space in the format matches one or more
/// white-space runes (not newlines) in the input; `%d` skips leading white
/// space and reads decimal digits, which must fit a `uint32`; every other
/// format rune must match exactly.
pub(crate) fn scan_header(input: &[u8]) -> Result<(u32, usize), Error> {
    // Unlike Go, give up after `MAX_HEADER_LEN` bytes, so that a stream
    // reader needs no unbounded look-ahead (and agrees with the slice one).
    let input = &input[..input.len().min(MAX_HEADER_LEN)];
    let bad = Error::new(ErrorKind::BadHeader, 0);
    let mut pos = 0;
    let next_rune = |pos: usize| -> Option<(char, usize)> {
        let rest = input.get(pos..).filter(|r| !r.is_empty())?;
        let (c, w) = crate::text::decode_rune(rest);
        Some((c.unwrap_or(char::REPLACEMENT_CHARACTER), w))
    };
    let literal = |pos: &mut usize, lit: &str| -> Result<(), Error> {
        for want in lit.chars() {
            match next_rune(*pos) {
                Some((c, w)) if c == want => *pos += w,
                _ => return Err(bad),
            }
        }
        Ok(())
    };
    let spaces = |pos: &mut usize, at_least_one: bool| -> Result<(), Error> {
        let mut seen = false;
        while let Some((c, w)) = next_rune(*pos) {
            if c == '\n' {
                return Err(bad);
            }
            if !crate::text::is_space(c) {
                break;
            }
            *pos += w;
            seen = true;
        }
        // End of input also satisfies a format space, but then the literal
        // after it fails.
        if at_least_one && !seen && *pos < input.len() {
            return Err(bad);
        }
        Ok(())
    };
    literal(&mut pos, "go")?;
    spaces(&mut pos, true)?;
    literal(&mut pos, "1.")?;
    spaces(&mut pos, false)?;
    let digits = input[pos..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return Err(bad);
    }
    let mut value = 0u32;
    for &d in &input[pos..pos + digits] {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(d - b'0')))
            .ok_or(bad)?;
    }
    pos += digits;
    spaces(&mut pos, true)?;
    literal(&mut pos, "trace\0\0\0")?;
    Ok((value, pos))
}

/// A source of bytes with a position, read one byte at a time for headers.
trait ByteSource {
    fn next_byte(&mut self) -> Result<Option<u8>, IoCause>;
    fn offset(&self) -> u64;
}

/// What starts where a batch may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed {
    /// A batch header; the payload follows.
    Batch(BatchHeader),
    /// An end-of-generation event (one byte, Go 1.26+).
    EndOfGeneration,
}

/// Parses what starts at a batch boundary, reading bytes from `next`, as
/// Go's `readBatch` does: a batch header, or (with `end_of_generation`) a
/// lone end-of-generation event. `Ok(None)` if the input ends cleanly before
/// it (also inside an experimental batch's header, as in Go). Errors carry
/// `start`, the boundary's offset.
///
/// This is the one batch-header parser of the workspace: [`Batches`] and
/// [`BatchReader`] use it, and so does `trace-reader`'s framing, with its own
/// byte source.
///
/// ```
/// use trace_wire::{parse_batch_header, Framed, Version};
///
/// let bytes = [1, 2, 7, 100, 5];
/// let mut it = bytes.iter().copied();
/// let h = parse_batch_header(|| Ok(it.next()), 0, Version::Go126, true)?;
/// let Some(Framed::Batch(h)) = h else { panic!("{h:?}") };
/// assert_eq!((h.gen, h.m, h.time, h.size), (2, 7, 100, 5));
///
/// let mut it = [52u8].into_iter();
/// let end = parse_batch_header(|| Ok(it.next()), 0, Version::Go126, true)?;
/// assert_eq!(end, Some(Framed::EndOfGeneration));
/// # Ok::<(), trace_wire::Error>(())
/// ```
#[inline(always)]
pub fn parse_batch_header(
    mut next: impl FnMut() -> Result<Option<u8>, IoCause>,
    start: u64,
    version: Version,
    end_of_generation: bool,
) -> Result<Option<Framed>, Error> {
    let fail = |kind| Error::new(kind, start);
    let Some(b) = next().map_err(|c| fail(ErrorKind::Io(c)))? else {
        return Ok(None);
    };
    let experiment = match b {
        ty::EVENT_BATCH => Experiment::None,
        ty::EXPERIMENTAL_BATCH => match next().map_err(|c| fail(ErrorKind::Io(c)))? {
            Some(id) => Experiment::from_id(id),
            // Go's reader treats EOF here like a clean end of the trace.
            None => return Ok(None),
        },
        ty::END_OF_GENERATION if end_of_generation => return Ok(Some(Framed::EndOfGeneration)),
        ty => return Err(fail(ErrorKind::ExpectedBatch { ty, version })),
    };
    let mut field = |field| {
        varint::read_with(&mut next).map_err(|cause| fail(ErrorKind::BatchHeader { field, cause }))
    };
    let gen = field(BatchField::Gen)?;
    let m = field(BatchField::M)?;
    let time = field(BatchField::Time)?;
    let size = field(BatchField::Size)?;
    if size > MAX_BATCH_SIZE {
        return Err(fail(ErrorKind::BatchTooLarge(size)));
    }
    Ok(Some(Framed::Batch(BatchHeader {
        experiment,
        gen,
        m,
        time,
        size,
    })))
}

/// Reads the next batch header, skipping the end-of-generation events of
/// Go 1.26+ traces; returns it with the batch's offset. `Ok(None)` means the
/// input ended cleanly before it.
fn read_batch_header(
    src: &mut impl ByteSource,
    version: Version,
) -> Result<Option<(BatchHeader, u64)>, Error> {
    loop {
        let start = src.offset();
        match parse_batch_header(
            || src.next_byte(),
            start,
            version,
            version >= Version::Go126,
        )? {
            Some(Framed::Batch(h)) => return Ok(Some((h, start))),
            Some(Framed::EndOfGeneration) => {}
            None => return Ok(None),
        }
    }
}

/// One batch: its header and borrowed payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch<'a> {
    /// The header.
    pub header: BatchHeader,
    /// The payload, `header.size` bytes.
    pub payload: &'a [u8],
    /// The byte offset of the batch's first header byte in the file.
    pub offset: u64,
    /// The byte offset of the payload in the file.
    pub payload_offset: u64,
}

/// What a batch holds, decided as Go's reader decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchKind {
    /// A string table section.
    Strings,
    /// A stack table section.
    Stacks,
    /// CPU samples.
    CpuSamples,
    /// The tick frequency (1.22 and 1.23).
    Frequency,
    /// Frequency and clock snapshot (1.25+).
    Sync,
    /// An experiment's opaque data.
    Experimental(Experiment),
    /// Timed events of thread `m` (also what an empty payload is).
    Events,
}

impl BatchHeader {
    /// Classifies a batch with this header and `payload` by the payload's
    /// first byte.
    pub fn kind(&self, payload: &[u8], version: Version) -> BatchKind {
        if self.experiment != Experiment::None {
            return BatchKind::Experimental(self.experiment);
        }
        match payload.first() {
            Some(&ty::STRINGS) => BatchKind::Strings,
            Some(&ty::STACKS) => BatchKind::Stacks,
            Some(&ty::CPU_SAMPLES) => BatchKind::CpuSamples,
            Some(&ty::FREQUENCY) if !version.has_sync_batches() => BatchKind::Frequency,
            Some(&ty::SYNC) if version.has_sync_batches() => BatchKind::Sync,
            _ => BatchKind::Events,
        }
    }
}

impl Batch<'_> {
    /// What the batch holds.
    pub fn kind(&self, version: Version) -> BatchKind {
        self.header.kind(self.payload, version)
    }
}

struct SliceSource<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
}

impl ByteSource for SliceSource<'_> {
    fn next_byte(&mut self) -> Result<Option<u8>, IoCause> {
        let b = self.data.get(self.pos).copied();
        if b.is_some() {
            self.pos += 1;
        }
        Ok(b)
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }
}

/// Reads the batches of a whole trace held in memory, borrowing payloads.
///
/// ```
/// use trace_wire::{Batches, Version};
/// let mut trace = Version::Go123.header().to_vec();
/// trace.extend([1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 5]);
/// trace.extend([8, 0xa8, 0xd6, 0xb9, 0x07]); // Frequency 15625000
/// let mut batches = Batches::new(&trace)?;
/// let batch = batches.next_batch()?.unwrap();
/// assert_eq!(batch.header.gen, 1);
/// assert_eq!(batch.payload.len(), 5);
/// assert!(batches.next_batch()?.is_none());
/// # Ok::<(), trace_wire::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    data: &'a [u8],
    pos: usize,
    version: Version,
}

impl<'a> Batches<'a> {
    /// Checks the file header and positions the reader on the first batch.
    pub fn new(data: &'a [u8]) -> Result<Self, Error> {
        let (version, len) = read_header_len(data)?;
        Ok(Self {
            data,
            pos: len,
            version,
        })
    }

    /// The trace's format version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The offset of the next byte to read.
    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// Reads the next batch; `Ok(None)` at the end of the input. The
    /// end-of-generation events of Go 1.26+ traces are skipped.
    pub fn next_batch(&mut self) -> Result<Option<Batch<'a>>, Error> {
        let mut src = SliceSource {
            data: self.data,
            pos: self.pos,
            base: 0,
        };
        let Some((header, offset)) = read_batch_header(&mut src, self.version)? else {
            self.pos = self.data.len();
            return Ok(None);
        };
        let start = src.pos;
        let available = (self.data.len() - start) as u64;
        if available < header.size {
            return Err(Error::new(
                ErrorKind::BatchTruncated {
                    read: available,
                    wanted: header.size,
                },
                offset,
            ));
        }
        let end = start + header.size as usize;
        self.pos = end;
        Ok(Some(Batch {
            header,
            payload: &self.data[start..end],
            offset,
            payload_offset: start as u64,
        }))
    }
}

/// Reads batches from a stream, copying each payload into a caller's buffer.
///
/// Memory use is one batch (at most 64 KiB) plus the reader's own buffering.
#[derive(Debug)]
pub struct BatchReader<R> {
    inner: R,
    offset: u64,
    version: Version,
}

struct StreamSource<'r, R> {
    inner: &'r mut R,
    offset: &'r mut u64,
}

impl<R: Read> ByteSource for StreamSource<'_, R> {
    fn next_byte(&mut self) -> Result<Option<u8>, IoCause> {
        let mut b = [0u8];
        loop {
            match self.inner.read(&mut b) {
                Ok(0) => return Ok(None),
                Ok(_) => {
                    *self.offset += 1;
                    return Ok(Some(b[0]));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(IoCause::Io(e.kind())),
            }
        }
    }

    fn offset(&self) -> u64 {
        *self.offset
    }
}

impl<R: Read> BatchReader<R> {
    /// Reads and checks the file header. For good performance `inner` should
    /// be buffered (e.g. a `BufReader`): headers are read a byte at a time.
    pub fn new(mut inner: R) -> Result<Self, Error> {
        // Read up to the end of the pattern, a byte at a time, so that the
        // first batch is not consumed.
        let mut header = Vec::with_capacity(HEADER_LEN);
        let mut src = StreamSource {
            inner: &mut inner,
            offset: &mut 0,
        };
        while header.len() < MAX_HEADER_LEN && !header.ends_with(b"trace\0\0\0") {
            match src.next_byte() {
                Ok(Some(b)) => header.push(b),
                Ok(None) => break,
                Err(cause) => return Err(Error::new(ErrorKind::Io(cause), header.len() as u64)),
            }
        }
        let (version, len) = read_header_len(&header)?;
        Ok(Self {
            inner,
            offset: len as u64,
            version,
        })
    }

    /// The trace's format version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The offset of the next byte to read.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next batch, replacing the contents of `payload` with its
    /// payload. Returns the header and the batch's offset; `Ok(None)` at the
    /// end of the input. The end-of-generation events of Go 1.26+ traces are
    /// skipped.
    pub fn read_batch(
        &mut self,
        payload: &mut Vec<u8>,
    ) -> Result<Option<(BatchHeader, u64)>, Error> {
        let mut src = StreamSource {
            inner: &mut self.inner,
            offset: &mut self.offset,
        };
        let Some((header, offset)) = read_batch_header(&mut src, self.version)? else {
            return Ok(None);
        };
        payload.clear();
        // The size was checked against MAX_BATCH_SIZE, so this is bounded.
        payload.resize(header.size as usize, 0);
        let mut n = 0;
        while n < payload.len() {
            match self.inner.read(&mut payload[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::new(ErrorKind::Io(IoCause::Io(e.kind())), offset));
                }
            }
        }
        self.offset += n as u64;
        if n < payload.len() {
            payload.truncate(n);
            return Err(Error::new(
                ErrorKind::BatchTruncated {
                    read: n as u64,
                    wanted: header.size,
                },
                offset,
            ));
        }
        Ok(Some((header, offset)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Decoded = Result<Vec<(BatchHeader, Vec<u8>)>, Error>;

    fn trace(batches: &[u8]) -> Vec<u8> {
        let mut res = Version::Go123.header().to_vec();
        res.extend_from_slice(batches);
        res
    }

    fn both(data: &[u8]) -> (Decoded, Decoded) {
        let slice = (|| {
            let mut b = Batches::new(data)?;
            let mut res = Vec::new();
            while let Some(batch) = b.next_batch()? {
                res.push((batch.header, batch.payload.to_vec()));
            }
            Ok(res)
        })();
        let stream = (|| {
            let mut r = BatchReader::new(data)?;
            let mut res = Vec::new();
            let mut buf = Vec::new();
            while let Some((h, _)) = r.read_batch(&mut buf)? {
                res.push((h, buf.clone()));
            }
            Ok(res)
        })();
        (slice, stream)
    }

    #[test]
    fn header_round_trip() {
        let h = BatchHeader {
            experiment: Experiment::AllocFree,
            gen: 3,
            m: NO_THREAD,
            time: 77,
            size: 2,
        };
        for enc in [SizeEncoding::Minimal, SizeEncoding::Padded] {
            let mut bytes = Vec::new();
            h.encode(&mut bytes, enc);
            bytes.extend([9, 9]);
            let (a, b) = both(&trace(&bytes));
            assert_eq!(a, b);
            assert_eq!(a.unwrap(), vec![(h, vec![9, 9])]);
        }
    }

    #[test]
    fn errors_match_go() {
        let cases: &[(&[u8], &str)] = &[
            (&[7], "expected batch event, got CPUSample"),
            (&[60], "expected batch event, got "),
            (&[200], "expected batch event, got Invalid(200)"),
            (&[1], "error reading batch gen: EOF"),
            (&[1, 0x80], "error reading batch gen: unexpected EOF"),
            (&[1, 1, 1, 1], "error reading batch size: EOF"),
            (
                &[1, 1, 1, 1, 0x81, 0x80, 0x04],
                "invalid batch size 65537, maximum is 65536",
            ),
            (
                &[1, 1, 1, 1, 5, 0, 0],
                "failed to read full batch: read 2 but wanted 5",
            ),
            (
                &[
                    1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
                ],
                "error reading batch gen: binary: varint overflows a 64-bit integer",
            ),
        ];
        for (bytes, want) in cases {
            let (a, b) = both(&trace(bytes));
            assert_eq!(a.as_ref().unwrap_err().to_string(), *want, "{bytes:?}");
            assert_eq!(a.unwrap_err(), b.unwrap_err(), "{bytes:?}");
        }
    }

    #[test]
    fn clean_ends() {
        assert_eq!(both(&trace(&[])).0.unwrap(), vec![]);
        // EOF right after the experimental batch byte ends the trace, as in Go.
        assert_eq!(both(&trace(&[49])).0.unwrap(), vec![]);
        assert_eq!(both(&trace(&[49])).1.unwrap(), vec![]);
    }

    #[test]
    fn bad_headers() {
        assert_eq!(
            read_header(b"go 1.24 trace\0\0\0").unwrap_err().to_string(),
            "unknown or unsupported trace version go 1.24"
        );
        assert_eq!(
            read_header(b"go 1.2").unwrap_err().kind(),
            ErrorKind::BadHeader
        );
        assert_eq!(
            read_header(b"GO 1.23 trace\0\0\0").unwrap_err().kind(),
            ErrorKind::BadHeader
        );
    }
}

#[cfg(test)]
mod header_tests {
    use super::*;

    /// Found by `cargo xtask fuzz wire`: a header padded past
    /// `MAX_HEADER_LEN` was accepted by the slice reader only.
    #[test]
    fn overlong_header_is_rejected_by_both_readers() {
        let mut trace = b"go 1.".to_vec();
        trace.extend([b' '; 57]);
        trace.extend(b"22\x0b trace\0\0\0\x01\xff\xff\xba\x30");
        assert_eq!(
            Batches::new(&trace).unwrap_err().kind(),
            ErrorKind::BadHeader
        );
        assert_eq!(
            BatchReader::new(&trace[..]).unwrap_err().kind(),
            ErrorKind::BadHeader
        );
        crate::fuzzing::batches(&trace);
    }

    #[test]
    fn lenient_headers_like_go() {
        // Go matches the header with Fscanf: runs of spaces and leading zeros
        // are accepted, and the batches start right after the pattern.
        for header in [&b"go 1.023 trace\0\0\0"[..], b"go  1. 23  trace\0\0\0"] {
            let mut trace = header.to_vec();
            trace.extend([1, 1, 1, 0, 0]);
            let mut slice = Batches::new(&trace).unwrap();
            assert_eq!(slice.version(), Version::Go123);
            assert_eq!(slice.offset(), header.len() as u64);
            assert!(slice.next_batch().unwrap().is_some());
            let mut stream = BatchReader::new(&trace[..]).unwrap();
            assert_eq!(stream.offset(), header.len() as u64);
            assert!(stream.read_batch(&mut Vec::new()).unwrap().is_some());
        }
    }
}
