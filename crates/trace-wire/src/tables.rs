//! The payloads of structural batches: strings, stacks, CPU samples,
//! frequency and (1.25+) sync batches.
//!
//! Each parser borrows from the payload and yields entries one at a time.
//! They check the grammar only; table-level rules (duplicate ids, dangling
//! references) belong to the reader.

use crate::error::{Error, ErrorKind, FrameField, IoCause};
use crate::spec::ty;
use crate::varint::{self, VarintError};

/// The longest string the format allows, in bytes.
pub const MAX_STRING_SIZE: u64 = 1024;
/// The most frames a stack may have.
pub const MAX_FRAMES_PER_STACK: u64 = 128;

/// A byte cursor that reports errors the way Go's `bytes.Reader` does.
#[derive(Debug, Clone)]
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8], base: u64) -> Self {
        Self { data, pos: 0, base }
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn byte(&mut self) -> Option<u8> {
        let b = self.data.get(self.pos).copied();
        self.pos += usize::from(b.is_some());
        b
    }

    /// Go's `binary.ReadUvarint` over a `bytes.Reader`.
    fn uvarint(&mut self) -> Result<u64, IoCause> {
        match varint::decode(&self.data[self.pos..]) {
            Ok((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            Err(VarintError::Truncated { read: 0 }) => Err(IoCause::Eof),
            Err(VarintError::Truncated {
                read: varint::MAX_LEN,
            })
            | Err(VarintError::Overflow) => Err(IoCause::Overflow),
            Err(VarintError::Truncated { .. }) => Err(IoCause::UnexpectedEof),
        }
    }

    fn uvarint_or(&mut self) -> Result<u64, Error> {
        let at = self.offset();
        self.uvarint().map_err(|c| Error::new(ErrorKind::Io(c), at))
    }

    fn bytes(&mut self, len: u64) -> Result<&'a [u8], u64> {
        let available = (self.data.len() - self.pos) as u64;
        if available < len {
            self.pos = self.data.len();
            return Err(available);
        }
        let res = &self.data[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(res)
    }
}

/// The entries of a strings batch: `(id, bytes)` pairs.
///
/// ```
/// use trace_wire::Strings;
/// let payload = [4, 5, 1, 5, b'g', b'r', b'e', b'e', b't'];
/// let mut strings = Strings::new(&payload, 0)?;
/// assert_eq!(strings.next_string()?, Some((1, &b"greet"[..])));
/// assert_eq!(strings.next_string()?, None);
/// # Ok::<(), trace_wire::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Strings<'a> {
    cur: Cursor<'a>,
}

impl<'a> Strings<'a> {
    /// Checks the leading `Strings` byte of `payload` (at file offset `base`).
    pub fn new(payload: &'a [u8], base: u64) -> Result<Self, Error> {
        let mut cur = Cursor::new(payload, base);
        if cur.byte() != Some(ty::STRINGS) {
            return Err(Error::new(ErrorKind::MissingStringsHeader, base));
        }
        Ok(Self { cur })
    }

    /// The next string entry.
    pub fn next_string(&mut self) -> Result<Option<(u64, &'a [u8])>, Error> {
        if self.cur.is_empty() {
            return Ok(None);
        }
        let at = self.cur.offset();
        let fail = |kind| Error::new(kind, at);
        let b = self.cur.byte().unwrap_or_default();
        if b != ty::STRING {
            return Err(fail(ErrorKind::ExpectedString(b)));
        }
        let id = self.cur.uvarint_or()?;
        let len = self.cur.uvarint_or()?;
        if len > MAX_STRING_SIZE {
            return Err(fail(ErrorKind::StringTooLarge(len)));
        }
        let data = self
            .cur
            .bytes(len)
            .map_err(|read| fail(ErrorKind::StringTruncated { read, wanted: len }))?;
        Ok(Some((id, data)))
    }
}

/// One stack-table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackEntry<'a> {
    /// The stack's id.
    pub id: u64,
    /// The number of frames.
    pub n_frames: u64,
    frames: &'a [u8],
}

/// One stack frame as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame {
    /// The program counter.
    pub pc: u64,
    /// The string id of the function name.
    pub func: u64,
    /// The string id of the file name.
    pub file: u64,
    /// The line number.
    pub line: u64,
}

impl StackEntry<'_> {
    /// The frames, leaf first. They were checked when the entry was read.
    pub fn frames(&self) -> impl Iterator<Item = RawFrame> + '_ {
        let mut cur = Cursor::new(self.frames, 0);
        (0..self.n_frames).map(move |_| {
            // Every value was decoded once already by `Stacks::next_stack`.
            let mut next = || cur.uvarint().unwrap_or_default();
            RawFrame {
                pc: next(),
                func: next(),
                file: next(),
                line: next(),
            }
        })
    }
}

/// The entries of a stacks batch.
///
/// ```
/// use trace_wire::Stacks;
/// // Stack id=1 with one frame pc=0x10 func=2 file=3 line=4.
/// let payload = [2, 3, 1, 1, 0x10, 2, 3, 4];
/// let mut stacks = Stacks::new(&payload, 0)?;
/// let stack = stacks.next_stack()?.unwrap();
/// assert_eq!(stack.id, 1);
/// assert_eq!(stack.frames().next().unwrap().line, 4);
/// # Ok::<(), trace_wire::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Stacks<'a> {
    cur: Cursor<'a>,
}

impl<'a> Stacks<'a> {
    /// Checks the leading `Stacks` byte of `payload` (at file offset `base`).
    pub fn new(payload: &'a [u8], base: u64) -> Result<Self, Error> {
        let mut cur = Cursor::new(payload, base);
        if cur.byte() != Some(ty::STACKS) {
            return Err(Error::new(ErrorKind::MissingStacksHeader, base));
        }
        Ok(Self { cur })
    }

    /// The next stack entry.
    pub fn next_stack(&mut self) -> Result<Option<StackEntry<'a>>, Error> {
        if self.cur.is_empty() {
            return Ok(None);
        }
        let at = self.cur.offset();
        let b = self.cur.byte().unwrap_or_default();
        if b != ty::STACK {
            return Err(Error::new(ErrorKind::ExpectedStack(b), at));
        }
        let id = self.cur.uvarint_or()?;
        let n_frames = self.cur.uvarint_or()?;
        if n_frames > MAX_FRAMES_PER_STACK {
            return Err(Error::new(ErrorKind::StackTooLarge(n_frames), at));
        }
        let start = self.cur.pos;
        for index in 1..=n_frames {
            for field in [
                FrameField::Pc,
                FrameField::Func,
                FrameField::File,
                FrameField::Line,
            ] {
                let field_at = self.cur.offset();
                self.cur.uvarint().map_err(|cause| {
                    Error::new(
                        ErrorKind::Frame {
                            index,
                            field,
                            stack: id,
                            cause,
                        },
                        field_at,
                    )
                })?;
            }
        }
        Ok(Some(StackEntry {
            id,
            n_frames,
            frames: &self.cur.data[start..self.cur.pos],
        }))
    }
}

/// One CPU sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawCpuSample {
    /// Absolute time, in ticks.
    pub time: u64,
    /// The thread.
    pub m: u64,
    /// The proc, `u64::MAX` if none.
    pub p: u64,
    /// The goroutine, 0 if none.
    pub g: u64,
    /// The stack id.
    pub stack: u64,
}

/// The samples of a CPU samples batch.
#[derive(Debug, Clone)]
pub struct CpuSamples<'a> {
    cur: Cursor<'a>,
}

impl<'a> CpuSamples<'a> {
    /// Checks the leading `CPUSamples` byte of `payload` (at file offset `base`).
    pub fn new(payload: &'a [u8], base: u64) -> Result<Self, Error> {
        let mut cur = Cursor::new(payload, base);
        if cur.byte() != Some(ty::CPU_SAMPLES) {
            return Err(Error::new(ErrorKind::MissingCpuSamplesHeader, base));
        }
        Ok(Self { cur })
    }

    /// The next sample.
    pub fn next_sample(&mut self) -> Result<Option<RawCpuSample>, Error> {
        if self.cur.is_empty() {
            return Ok(None);
        }
        let at = self.cur.offset();
        let b = self.cur.byte().unwrap_or_default();
        if b != ty::CPU_SAMPLE {
            return Err(Error::new(ErrorKind::ExpectedCpuSample(b), at));
        }
        Ok(Some(RawCpuSample {
            time: self.cur.uvarint_or()?,
            m: self.cur.uvarint_or()?,
            p: self.cur.uvarint_or()?,
            g: self.cur.uvarint_or()?,
            stack: self.cur.uvarint_or()?,
        }))
    }
}

/// Parses a frequency batch (1.22/1.23): the `Frequency` byte and one varint.
/// Anything after the varint is ignored, as Go does.
pub fn parse_frequency(payload: &[u8], base: u64) -> Result<u64, Error> {
    let mut cur = Cursor::new(payload, base);
    cur.byte();
    cur.uvarint_or()
}

/// A clock snapshot from a 1.25+ sync batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawClockSnapshot {
    /// Ticks after the batch's base time.
    pub dt: u64,
    /// Monotonic clock reading, in nanoseconds.
    pub mono: u64,
    /// Wall clock, seconds since the Unix epoch.
    pub sec: u64,
    /// Wall clock, nanoseconds within the second.
    pub nsec: u64,
}

/// What a 1.25+ sync batch holds; either part may be missing (the reader
/// decides whether that is an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncBatch {
    /// The tick frequency.
    pub frequency: Option<u64>,
    /// The clock snapshot.
    pub clock: Option<RawClockSnapshot>,
}

/// Parses a 1.25+ sync batch: `Sync`, then at most one `Frequency` and one
/// `ClockSnapshot` in any order.
pub fn parse_sync(payload: &[u8], base: u64) -> Result<SyncBatch, Error> {
    let mut cur = Cursor::new(payload, base);
    if cur.byte() != Some(ty::SYNC) {
        return Err(Error::new(ErrorKind::MissingSyncHeader, base));
    }
    let mut res = SyncBatch::default();
    while !cur.is_empty() {
        let at = cur.offset();
        match cur.byte().unwrap_or_default() {
            ty::FREQUENCY => {
                if res.frequency.is_some() {
                    return Err(Error::new(ErrorKind::MultipleFrequencies, at));
                }
                res.frequency = Some(cur.uvarint_or()?);
            }
            ty::CLOCK_SNAPSHOT => {
                if res.clock.is_some() {
                    return Err(Error::new(ErrorKind::MultipleClockSnapshots, at));
                }
                res.clock = Some(RawClockSnapshot {
                    dt: cur.uvarint_or()?,
                    mono: cur.uvarint_or()?,
                    sec: cur.uvarint_or()?,
                    nsec: cur.uvarint_or()?,
                });
            }
            b => return Err(Error::new(ErrorKind::ExpectedFrequencyOrClock(b), at)),
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings_err(payload: &[u8]) -> String {
        let mut s = Strings::new(payload, 0).unwrap();
        loop {
            match s.next_string() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("no error"),
                Err(e) => return e.to_string(),
            }
        }
    }

    fn stacks_err(payload: &[u8]) -> String {
        let mut s = Stacks::new(payload, 0).unwrap();
        loop {
            match s.next_stack() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("no error"),
                Err(e) => return e.to_string(),
            }
        }
    }

    #[test]
    fn string_errors() {
        assert_eq!(
            Strings::new(&[2], 0).unwrap_err().to_string(),
            "missing strings batch header"
        );
        assert_eq!(strings_err(&[4, 6]), "expected string event, got 6");
        assert_eq!(strings_err(&[4, 5]), "EOF");
        assert_eq!(strings_err(&[4, 5, 1, 0x80]), "unexpected EOF");
        assert_eq!(
            strings_err(&[4, 5, 1, 0x81, 0x08]),
            "invalid string size 1025, maximum is 1024"
        );
        assert_eq!(
            strings_err(&[4, 5, 1, 3, b'a']),
            "failed to read full string: read 1 but wanted 3"
        );
    }

    #[test]
    fn stack_errors() {
        assert_eq!(
            stacks_err(&[2, 3, 1, 0x81, 0x01]),
            "invalid stack size 129, maximum is 128"
        );
        assert_eq!(
            stacks_err(&[2, 3, 7, 2, 1, 2, 3, 4, 5]),
            "reading frame 2's funcID for stack 7: EOF"
        );
        assert_eq!(stacks_err(&[2, 4]), "expected stack event, got 4");
    }

    #[test]
    fn sync_batches() {
        let ok = parse_sync(&[50, 51, 1, 2, 3, 4, 8, 100], 0).unwrap();
        assert_eq!(ok.frequency, Some(100));
        assert_eq!(
            ok.clock,
            Some(RawClockSnapshot {
                dt: 1,
                mono: 2,
                sec: 3,
                nsec: 4
            })
        );
        assert_eq!(
            parse_sync(&[50, 8, 1, 8, 1], 0).unwrap_err().to_string(),
            "found multiple frequency events"
        );
        assert_eq!(
            parse_sync(&[50, 9], 0).unwrap_err().to_string(),
            "expected frequency or clock snapshot event, got 9"
        );
        assert_eq!(
            parse_sync(&[8], 0).unwrap_err().to_string(),
            "missing sync batch header"
        );
    }
}
