//! The raw binary reader: events back to back, as `go tool trace -d=wire`
//! reads them.

use crate::error::{Error, ErrorKind, IoCause};
use crate::spec::{EventSpec, Version};
use crate::varint::{self, VarintError};

use super::{Event, FrameData, GoRelease, MAX_EVENT_ARGS};

/// Reads the events of a binary trace one after another, batch headers and
/// table entries included, without interpreting them: the view behind
/// `go tool trace -d=wire` (`-d=2` before Go 1.25), Go's
/// `internal/trace/raw.Reader`, as the [`GoRelease`] given imitates it.
///
/// Unlike [`crate::Batches`], it does not use batch sizes at all, so it
/// shows exactly what bytes are there even in a corrupt trace. Its rules are
/// Go's:
/// - a type byte of 0 or past the end of the release's event table for the
///   trace's version is an error (`invalid event type: <n>`); table slots
///   without a name are read as events without arguments (see
///   [`GoRelease`] for the tables);
/// - every argument, including an experimental batch's `exp`, is a varint;
///   a `Stack` is followed by `nframes` frames of four varints (none if
///   `nframes` does not fit an `i64`); `String` and `ExperimentalBatch`
///   are followed by a varint length and that many bytes of data;
/// - the input ending where a varint or data byte should start ends the
///   trace cleanly, dropping the incomplete event; ending inside a varint is
///   the error `unexpected EOF`.
///
/// Events borrow from the input; reading allocates nothing.
///
/// ```
/// use trace_wire::text::{GoRelease, RawReader};
///
/// let mut trace = b"go 1.23 trace\0\0\0".to_vec();
/// trace.extend([1, 1, 2, 3, 5]); // EventBatch gen=1 m=2 time=3 size=5
/// trace.extend([8, 0xa8, 0xd6, 0xb9, 0x07]); // Frequency freq=15625000
/// let mut reader = RawReader::new(&trace, GoRelease::LATEST)?;
/// assert_eq!(reader.minor(), 23);
/// let batch = reader.next_event()?.unwrap();
/// assert_eq!((batch.name(), batch.args()), ("EventBatch", &[1, 2, 3, 5][..]));
/// assert_eq!(reader.next_event()?.unwrap().to_string(), "Frequency freq=15625000");
/// assert!(reader.next_event()?.is_none());
/// # Ok::<(), trace_wire::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RawReader<'a> {
    data: &'a [u8],
    pos: usize,
    minor: u32,
    version: Option<Version>,
    release: GoRelease,
    specs: &'static [EventSpec],
}

/// Versions Go's header check accepts that predate the v2 format. The raw
/// reader has no event table for them, so any event in such a trace is an
/// invalid event type.
const LEGACY_MINORS: [u32; 3] = [11, 19, 21];

/// The version of a header's minor version number, if the text form knows
/// it: `Some(None)` for the legacy versions, which have an empty table.
pub(super) fn lookup_version(minor: u32) -> Option<Option<Version>> {
    if LEGACY_MINORS.contains(&minor) {
        return Some(None);
    }
    Version::from_minor(minor).map(Some)
}

/// The widest event table this crate knows for `version`: Go 1.23's for
/// 1.22 and 1.23, every event for 1.25 and later. The text parser reads
/// event names with it, so that it accepts whatever any [`GoRelease`]
/// prints.
pub(super) fn specs_of(version: Option<Version>) -> &'static [EventSpec] {
    version.map_or(&[], Version::specs)
}

impl<'a> RawReader<'a> {
    /// Checks the file header at the start of `trace` and positions the
    /// reader on the first event, reading as `release`'s raw reader does.
    ///
    /// The header is matched the way Go matches it, with
    /// `fmt.Fscanf(r, "go 1.%d trace\x00\x00\x00", &v)`, which is lenient
    /// about white space and leading zeros. The versions accepted are those
    /// `release` knows (see [`GoRelease::accepts`]): the v2 versions up to
    /// its own and, as in Go, the pre-v2 versions 1.11, 1.19 and 1.21; such
    /// a trace has no events this reader knows.
    pub fn new(trace: &'a [u8], release: GoRelease) -> Result<Self, Error> {
        let (minor, len) = crate::batch::scan_header(trace)?;
        let unsupported = Error::new(ErrorKind::UnsupportedVersion(minor), 0);
        let version = lookup_version(minor).ok_or(unsupported)?;
        if !release.accepts(version) {
            return Err(unsupported);
        }
        Ok(Self {
            data: trace,
            pos: len,
            minor,
            version,
            release,
            specs: release.table(version),
        })
    }

    /// The release whose reader this one imitates.
    pub fn release(&self) -> GoRelease {
        self.release
    }

    /// The event table in use, indexed by type byte: the release's table
    /// for the trace's version ([`GoRelease::table`]).
    pub fn table(&self) -> &'static [EventSpec] {
        self.specs
    }

    /// The minor version number the header names, e.g. 23 for
    /// `go 1.23 trace`.
    pub fn minor(&self) -> u32 {
        self.minor
    }

    /// The format version, or `None` for a pre-v2 header (1.11, 1.19, 1.21).
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The offset of the next event in the input.
    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// Reads the next event; `Ok(None)` at the end of the input (including an
    /// input that ends where a value of the event should start).
    #[inline]
    pub fn next_event(&mut self) -> Result<Option<Event<'a>>, Error> {
        let start = self.pos;
        let Some(&ty) = self.data.get(start) else {
            return Ok(None);
        };
        let Some(spec) = self.specs.get(usize::from(ty)).filter(|_| ty != 0) else {
            return Err(Error::new(ErrorKind::RawInvalidEventType(ty), start as u64));
        };
        let mut cur = Cursor {
            data: self.data,
            pos: start + 1,
        };
        let Some(event) = cur.event(ty, spec)? else {
            // Go's reader reports `io.EOF` for the cut-short event, which
            // `go tool trace -d=wire` treats as the end of the trace.
            self.pos = self.data.len();
            return Ok(None);
        };
        self.pos = cur.pos;
        Ok(Some(event))
    }
}

/// A position in the input, reading values the way Go's `bufio.Reader`
/// with `binary.ReadUvarint` does.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// One varint; `Ok(None)` if the input ends before its first byte.
    #[inline]
    fn uvarint(&mut self) -> Result<Option<u64>, Error> {
        let cause = match varint::decode(&self.data[self.pos..]) {
            Ok((v, n)) => {
                self.pos += n;
                return Ok(Some(v));
            }
            Err(VarintError::Truncated { read: 0 }) => return Ok(None),
            Err(VarintError::Truncated {
                read: varint::MAX_LEN,
            })
            | Err(VarintError::Overflow) => IoCause::Overflow,
            Err(VarintError::Truncated { .. }) => IoCause::UnexpectedEof,
        };
        Err(Error::new(ErrorKind::Io(cause), self.pos as u64))
    }

    /// The rest of an event whose type byte was read; `Ok(None)` if the
    /// input ends where a value should start.
    fn event(&mut self, ty: u8, spec: &'static EventSpec) -> Result<Option<Event<'a>>, Error> {
        let mut args = [0u64; MAX_EVENT_ARGS];
        let n_args = spec.args.len().min(MAX_EVENT_ARGS);
        for arg in &mut args[..n_args] {
            let Some(v) = self.uvarint()? else {
                return Ok(None);
            };
            *arg = v;
        }
        let mut frames = FrameData::NONE;
        if spec.is_stack {
            // Go converts the count to an `int`; a negative one reads nothing.
            let count = if i64::try_from(args[1]).is_ok() {
                args[1]
            } else {
                0
            };
            let start = self.pos;
            // Every frame takes at least four bytes, so this loop ends.
            for _ in 0..count {
                for _ in 0..4 {
                    if self.uvarint()?.is_none() {
                        return Ok(None);
                    }
                }
            }
            frames = FrameData::Encoded {
                bytes: &self.data[start..self.pos],
                count,
            };
        }
        let mut data = None;
        if spec.has_data {
            let Some(len) = self.uvarint()? else {
                return Ok(None);
            };
            // As above, a length that is negative as an `int` reads nothing;
            // an empty one is Go's nil data.
            if len > 0 && i64::try_from(len).is_ok() {
                let available = (self.data.len() - self.pos) as u64;
                if len > available {
                    return Ok(None);
                }
                let end = self.pos + len as usize;
                data = Some(&self.data[self.pos..end]);
                self.pos = end;
            }
        }
        Ok(Some(Event {
            ty,
            spec,
            args,
            n_args: n_args as u8,
            frames,
            data,
        }))
    }
}

/// Go's `unicode.IsSpace` (and `fmt`'s space set, which is the same).
pub(crate) fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Go 1.23's reader gives for `trace`.
    fn read_all(trace: &[u8]) -> (Vec<String>, Option<String>) {
        read_all_as(trace, GoRelease::Go123)
    }

    fn read_all_as(trace: &[u8], release: GoRelease) -> (Vec<String>, Option<String>) {
        let mut r = match RawReader::new(trace, release) {
            Ok(r) => r,
            Err(e) => return (Vec::new(), Some(e.to_string())),
        };
        let mut lines = Vec::new();
        loop {
            match r.next_event() {
                Ok(Some(e)) => lines.push(e.to_string()),
                Ok(None) => return (lines, None),
                Err(e) => return (lines, Some(e.to_string())),
            }
        }
    }

    fn with_header(body: &[u8]) -> Vec<u8> {
        let mut t = b"go 1.23 trace\0\0\0".to_vec();
        t.extend_from_slice(body);
        t
    }

    #[test]
    fn headers_like_fscanf() {
        // Each was run through `go tool trace -d=2` (Go 1.23.5).
        let body = b"\x02\x04\x05\x01\x02ab";
        let want: Vec<String> = ["Stacks", "Strings", "String id=1\n\tdata=\"ab\""]
            .map(String::from)
            .to_vec();
        for h in [
            &b"go 1.023 trace\0\0\0"[..],
            b"go 1. 23 trace\0\0\0",
            b"go 1.23  trace\0\0\0",
            b"go\t1.23\ttrace\0\0\0",
        ] {
            let mut t = h.to_vec();
            t.extend_from_slice(body);
            assert_eq!(read_all(&t), (want.clone(), None), "{h:?}");
        }
        for h in [
            &b"go 1.+23 trace\0\0\0"[..],
            b"go 1.23 trace\0\0",
            b"go1.23 trace\0\0\0",
            b"go 1.23trace\0\0\0",
            b"go 1.\n23 trace\0\0\0",
            b"go 1.4294967319 trace\0\0\0",
            b"",
        ] {
            let mut t = h.to_vec();
            t.extend_from_slice(body);
            let want = Some("bad file format: not a Go execution trace?".to_string());
            assert_eq!(read_all(&t), (vec![], want), "{h:?}");
        }
        // Go's reader accepts the old versions but has no table for them.
        let mut t = b"go 1.21 trace\0\0\0".to_vec();
        t.extend_from_slice(body);
        assert_eq!(read_all(&t), (vec![], Some("invalid event type: 2".into())));
        for release in GoRelease::ALL {
            assert_eq!(
                read_all_as(b"go 1.24 trace\0\0\0", release).1.as_deref(),
                Some("unknown or unsupported trace version go 1.24")
            );
        }
        // Go 1.23 came before 1.25 and 1.26.
        for minor in [25, 26] {
            let header = format!("go 1.{minor} trace\0\0\0");
            assert_eq!(
                read_all(header.as_bytes()).1,
                Some(format!("unknown or unsupported trace version go 1.{minor}"))
            );
            assert_eq!(
                read_all_as(header.as_bytes(), GoRelease::Go127),
                (vec![], None)
            );
        }
    }

    #[test]
    fn go127_tables_end_at_each_version_s_last_event() {
        // (header, the last type byte of the table, one past it).
        let cases: [(&[u8; 16], u8, u8); 4] = [
            (b"go 1.22 trace\0\0\0", 44, 45),
            (b"go 1.23 trace\0\0\0", 49, 50),
            (b"go 1.25 trace\0\0\0", 51, 52),
            (b"go 1.26 trace\0\0\0", 136, 137),
        ];
        for (header, last, past) in cases {
            let mut t = header.to_vec();
            t.extend([2, past]); // Stacks, then the first type past the table
            assert_eq!(
                read_all_as(&t, GoRelease::Go127),
                (
                    vec!["Stacks".to_string()],
                    Some(format!("invalid event type: {past}"))
                )
            );
            // The last event of the table reads (its arguments cut short).
            let mut t = header.to_vec();
            t.push(last);
            assert_eq!(read_all_as(&t, GoRelease::Go127), (vec![], None), "{last}");
        }
        // Unnamed slots inside the 1.26 table, and experimental events.
        let mut t = b"go 1.26 trace\0\0\0".to_vec();
        t.extend([60, 52, 130, 1, 2]);
        assert_eq!(
            read_all_as(&t, GoRelease::Go127).0,
            ["", "EndOfGeneration", "SpanFree dt=1 id=2"]
        );
        // Go 1.23 reads a 1.22 trace with its 1.23 table.
        let mut t = b"go 1.22 trace\0\0\0".to_vec();
        t.extend([45, 1, 2, 3, 60]);
        assert_eq!(read_all(&t).0, ["GoSwitch dt=1 g=2 g_seq=3", ""]);
        assert_eq!(
            read_all_as(&t, GoRelease::Go127).1.as_deref(),
            Some("invalid event type: 45")
        );
    }

    #[test]
    fn dumb_reading_rules() {
        // Unnamed slots print as empty lines; 0 is invalid.
        assert_eq!(
            read_all(&with_header(&[60, 60, 0])),
            (
                vec![String::new(), String::new()],
                Some("invalid event type: 0".into())
            )
        );
        assert_eq!(
            read_all(&with_header(&[137])).1.as_deref(),
            Some("invalid event type: 137")
        );
        // EOF at the start of an argument: silent end.
        assert_eq!(
            read_all(&with_header(&[8, 5, 13, 1])),
            (vec!["Frequency freq=5".into()], None)
        );
        // EOF inside a varint.
        assert_eq!(
            read_all(&with_header(&[8, 0x80])),
            (vec![], Some("unexpected EOF".into()))
        );
        // Overflow.
        let mut body = vec![8];
        body.extend([0x80; 10]);
        assert_eq!(
            read_all(&with_header(&body)).1.as_deref(),
            Some("binary: varint overflows a 64-bit integer")
        );
        // Data cut short: silent end. Empty data: no data line.
        assert_eq!(read_all(&with_header(&[5, 1, 3, b'a'])), (vec![], None));
        assert_eq!(
            read_all(&with_header(&[5, 1, 0, 4])),
            (vec!["String id=1".into(), "Strings".into()], None)
        );
        // A data length that is negative as an int64 reads no data.
        let mut body = vec![5, 1];
        body.extend([
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 4,
        ]);
        assert_eq!(
            read_all(&with_header(&body)),
            (vec!["String id=1".into(), "Strings".into()], None)
        );
        // Stack frames; a negative frame count reads none.
        assert_eq!(
            read_all(&with_header(&[3, 7, 1, 10, 1, 2, 3])).0,
            vec!["Stack id=7 nframes=1\n\tpc=10 func=1 file=2 line=3"]
        );
        let mut body = vec![3, 7];
        body.extend([
            0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 2,
        ]);
        assert_eq!(
            read_all(&with_header(&body)).0,
            vec!["Stack id=7 nframes=9223372036854775808", "Stacks"]
        );
        // A huge frame count reads frames until the input ends.
        assert_eq!(
            read_all(&with_header(&[3, 7, 0x7f, 1, 2, 3, 4, 5])),
            (vec![], None)
        );
        // Experimental batch: `exp` is a varint, the size is the data length.
        assert_eq!(
            read_all(&with_header(&[49, 1, 1, 2, 3, 2, 0, 0xff])).0,
            vec!["ExperimentalBatch exp=1 gen=1 m=2 time=3\n\tdata=\"\\x00\\xff\""]
        );
    }
}
