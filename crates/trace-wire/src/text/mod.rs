//! The text form of a trace: the "raw" format of Go's `internal/trace/raw`,
//! printed by `go tool trace -d=wire` (`-d=2` before Go 1.25) and used by
//! Go's `.test` files.
//!
//! Every wire event becomes one line, batch headers and table entries
//! included, with Go's event and argument names; `Stack` frames follow on
//! tab-indented lines, and the data of `String` and `ExperimentalBatch` on a
//! tab-indented `data=` line quoted like Go's `strconv.Quote`:
//!
//! ```text
//! EventBatch gen=1 m=18446744073709551615 time=0 size=17
//! Strings
//! String id=1
//!     data="greet"
//! ```
//!
//! The pieces:
//! - [`RawReader`] reads a binary trace as [`Event`]s, the way Go's raw
//!   reader does (no batch sizes, Go's errors); [`GoRelease`] names the
//!   release whose reader it imitates, which decides the event table;
//! - [`Event::write_text`] and [`Event`]'s `Display` print an event exactly as
//!   Go does; [`bytes_to_text`] does a whole trace;
//! - [`TextReader`] parses text back into [`Event`]s, accepting what Go's text
//!   reader accepts and failing with Go's messages (plus a line number);
//!   [`Event::encode`] writes the binary form and [`text_to_bytes`] does a
//!   whole trace, optionally padding batch sizes as the Go runtime does;
//! - [`quote`], [`unquote`] and [`is_print`] are Go's `strconv` functions.
//!
//! ```
//! use trace_wire::text::{bytes_to_text, text_to_bytes, GoRelease};
//! use trace_wire::SizeEncoding;
//!
//! let text = "Trace Go1.23\n\
//!     EventBatch gen=1 m=18446744073709551615 time=0 size=9\n\
//!     Strings\n\
//!     String id=1\n\
//!     \tdata=\"greet\"\n";
//! let binary = text_to_bytes(text.as_bytes(), SizeEncoding::Minimal)?;
//! assert_eq!(&binary[..16], b"go 1.23 trace\0\0\0");
//!
//! let mut again = Vec::new();
//! bytes_to_text(&binary, GoRelease::LATEST, true, &mut again)?;
//! assert_eq!(String::from_utf8(again)?, text);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;

use crate::batch::SizeEncoding;
use crate::error::Error;
use crate::spec::{ty, EventSpec};
use crate::tables::RawFrame;
use crate::varint;

mod isprint;
mod parser;
mod quote;
mod reader;
mod release;

pub use parser::{ArgError, ParseError, ParseErrorKind, TextReader};
pub(crate) use quote::decode_rune;
pub use quote::{append_quote, is_print, quote, unquote, UnquoteError};
pub(crate) use reader::is_space;
pub use reader::RawReader;
pub use release::GoRelease;

/// The most arguments an event has before its frames and data (`dt` and
/// four more, e.g. `UserLog`).
const MAX_EVENT_ARGS: usize = 5;

/// The names of a stack frame's four values, in order.
const FRAME_FIELDS: [&str; 4] = ["pc", "func", "file", "line"];

/// One event of the text form: any wire event, including batch headers
/// (`EventBatch`, `ExperimentalBatch`) and table entries (`Stack`,
/// `String`, …), with its arguments, frames and data.
///
/// Events come from [`RawReader`] (borrowing the binary trace) or from
/// [`TextReader`] (borrowing the reader's buffers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    ty: u8,
    spec: &'static EventSpec,
    args: [u64; MAX_EVENT_ARGS],
    n_args: u8,
    frames: FrameData<'a>,
    data: Option<&'a [u8]>,
}

/// Stack frames as their wire bytes (already checked) or as decoded values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameData<'a> {
    Encoded { bytes: &'a [u8], count: u64 },
    Decoded(&'a [u64]),
}

impl FrameData<'_> {
    const NONE: FrameData<'static> = FrameData::Decoded(&[]);
}

impl<'a> Event<'a> {
    /// The type byte.
    pub fn ty(&self) -> u8 {
        self.ty
    }

    /// The event's entry in its version's table.
    pub fn spec(&self) -> &'static EventSpec {
        self.spec
    }

    /// Go's name of the event; empty for unnamed table slots.
    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    /// The arguments, one per name in [`EventSpec::args`] (for a batch
    /// header these include `size`; for a `Stack`, `id` and `nframes`).
    pub fn args(&self) -> &[u64] {
        &self.args[..usize::from(self.n_args)]
    }

    /// The frames of a `Stack` event, leaf first; empty for other events.
    pub fn frames(&self) -> Frames<'a> {
        Frames(self.frames)
    }

    /// The data of a `String` or `ExperimentalBatch` event. As in Go, data of
    /// length zero read from a binary trace is `None` (and prints no data
    /// line), while the text form always has a (possibly empty) value.
    pub fn data(&self) -> Option<&'a [u8]> {
        self.data
    }

    /// Appends the event as Go's `go tool trace -d=wire` (`-d=2`) prints it,
    /// ending with a newline.
    ///
    /// ```
    /// use trace_wire::text::{GoRelease, RawReader};
    /// let mut trace = b"go 1.23 trace\0\0\0".to_vec();
    /// trace.extend([3, 1, 1, 0xe2, 0x01, 4, 5, 6]); // one stack, one frame
    /// let event = RawReader::new(&trace, GoRelease::LATEST)?.next_event()?.unwrap();
    /// let mut out = Vec::new();
    /// event.write_text(&mut out);
    /// assert_eq!(out, b"Stack id=1 nframes=1\n\tpc=226 func=4 file=5 line=6\n");
    /// # Ok::<(), trace_wire::Error>(())
    /// ```
    pub fn write_text(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.spec.name.as_bytes());
        for (name, &value) in self.spec.args.iter().zip(self.args()) {
            out.push(b' ');
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
            push_decimal(out, value);
        }
        for frame in self.frames() {
            let values = [frame.pc, frame.func, frame.file, frame.line];
            for (i, (name, value)) in FRAME_FIELDS.iter().zip(values).enumerate() {
                out.extend_from_slice(if i == 0 { b"\n\t" } else { b" " });
                out.extend_from_slice(name.as_bytes());
                out.push(b'=');
                push_decimal(out, value);
            }
        }
        if let Some(data) = self.data {
            out.extend_from_slice(b"\n\tdata=");
            append_quote(out, data);
        }
        out.push(b'\n');
    }

    /// Appends the event's binary form: the type byte, then every argument,
    /// frame value and the data length as varints, then the data, as Go's
    /// `internal/trace/raw.Writer` writes them.
    ///
    /// With [`SizeEncoding::Padded`], the `size` of an `EventBatch` and the
    /// data length of an `ExperimentalBatch` (its payload size) take ten
    /// bytes, as the Go runtime writes them; every other value is minimal.
    ///
    /// ```
    /// use trace_wire::text::TextReader;
    /// use trace_wire::SizeEncoding;
    /// let mut text = TextReader::new(b"Trace Go1.23\nEventBatch gen=1 m=2 time=3 size=4\n")?;
    /// let event = text.next_event()?.unwrap();
    /// let mut out = Vec::new();
    /// event.encode(&mut out, SizeEncoding::Minimal);
    /// assert_eq!(out, [1, 1, 2, 3, 4]);
    /// out.clear();
    /// event.encode(&mut out, SizeEncoding::Padded);
    /// assert_eq!(out, [1, 1, 2, 3, 0x84, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0]);
    /// # Ok::<(), trace_wire::text::ParseError>(())
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>, sizes: SizeEncoding) {
        let padded = sizes == SizeEncoding::Padded;
        out.push(self.ty);
        for (i, &arg) in self.args().iter().enumerate() {
            if padded && self.ty == ty::EVENT_BATCH && i == 3 {
                varint::encode_padded(arg, out);
            } else {
                varint::encode(arg, out);
            }
        }
        for frame in self.frames() {
            for v in [frame.pc, frame.func, frame.file, frame.line] {
                varint::encode(v, out);
            }
        }
        if self.spec.has_data {
            let data = self.data.unwrap_or_default();
            let len = data.len() as u64;
            if padded && self.ty == ty::EXPERIMENTAL_BATCH {
                varint::encode_padded(len, out);
            } else {
                varint::encode(len, out);
            }
            out.extend_from_slice(data);
        }
    }

    /// The size of the event's canonical binary form, in bytes: the length
    /// of what [`encode`](Self::encode) writes with
    /// [`SizeEncoding::Minimal`], computed without writing it. This is Go's
    /// `raw.Event.EncodedSize`, which `go tool trace -d=footprint` adds up;
    /// it ignores how the values were encoded in the trace, so a batch size
    /// padded to ten bytes by the runtime counts as its minimal encoding.
    ///
    /// ```
    /// use trace_wire::text::{GoRelease, RawReader};
    /// let mut trace = b"go 1.23 trace\0\0\0".to_vec();
    /// // EventBatch gen=1 m=2 time=3 size=300, the size padded to ten bytes.
    /// trace.extend([1, 1, 2, 3, 0xac, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0]);
    /// let event = RawReader::new(&trace, GoRelease::LATEST)?.next_event()?.unwrap();
    /// assert_eq!(event.encoded_size(), 1 + 1 + 1 + 1 + 2);
    /// # Ok::<(), trace_wire::Error>(())
    /// ```
    pub fn encoded_size(&self) -> usize {
        let args: usize = self.args().iter().map(|&v| varint::encoded_len(v)).sum();
        let frames: usize = self
            .frames()
            .map(|f| {
                [f.pc, f.func, f.file, f.line]
                    .into_iter()
                    .map(varint::encoded_len)
                    .sum::<usize>()
            })
            .sum();
        let data = if self.spec.has_data {
            let len = self.data.map_or(0, <[u8]>::len);
            varint::encoded_len(len as u64) + len
        } else {
            0
        };
        1 + args + frames + data
    }
}

/// The event's text, without the final newline (Go's `raw.Event.String`).
impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.write_text(&mut out);
        out.pop();
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

/// The frames of a `Stack` event, leaf first; see [`Event::frames`].
#[derive(Debug, Clone)]
pub struct Frames<'a>(FrameData<'a>);

impl Iterator for Frames<'_> {
    type Item = RawFrame;

    fn next(&mut self) -> Option<RawFrame> {
        match &mut self.0 {
            FrameData::Decoded(values) => {
                let (frame, rest) = values.split_first_chunk::<4>()?;
                *values = rest;
                let [pc, func, file, line] = *frame;
                Some(RawFrame {
                    pc,
                    func,
                    file,
                    line,
                })
            }
            FrameData::Encoded { bytes, count } => {
                if *count == 0 {
                    return None;
                }
                *count -= 1;
                // The reader checked these bytes, so decoding cannot fail.
                let mut next = || match varint::decode(bytes) {
                    Ok((v, n)) => {
                        *bytes = &bytes[n..];
                        v
                    }
                    Err(_) => 0,
                };
                Some(RawFrame {
                    pc: next(),
                    func: next(),
                    file: next(),
                    line: next(),
                })
            }
        }
    }
}

/// Appends the decimal digits of `v`.
#[inline]
fn push_decimal(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends the header line of the text form, `Trace Go1.<minor>`, with its
/// newline (as `gotraceraw bytes2text` prints it; `go tool trace -d=wire`
/// omits it).
pub fn write_header_line(out: &mut Vec<u8>, minor: u32) {
    out.extend_from_slice(b"Trace Go1.");
    push_decimal(out, u64::from(minor));
    out.push(b'\n');
}

/// Why [`bytes_to_text`] stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToTextError {
    /// The trace is malformed; the text of every event before the problem
    /// was written. The message is Go's.
    #[error(transparent)]
    Trace(#[from] Error),
    /// Writing the output failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Writes the text form of the binary `trace` to `out`: exactly what
/// `release`'s `go tool trace` prints with `-d=wire` (Go 1.27) or `-d=2`
/// (Go 1.23), preceded by the `Trace Go1.xx` header line if `versioned` (as
/// `gotraceraw bytes2text` prints it).
///
/// On a malformed trace, or one with a type byte outside `release`'s event
/// table (see [`GoRelease`]), the events before the problem are written
/// (and flushed to `out`) before the error is returned, as Go does. Output
/// is buffered internally in 64 KiB chunks.
///
/// ```
/// use trace_wire::text::{bytes_to_text, GoRelease, ToTextError};
/// let mut trace = b"go 1.23 trace\0\0\0".to_vec();
/// trace.extend([8, 7, 60]); // Frequency freq=7, then an unnamed type
/// let mut out = Vec::new();
/// let err = bytes_to_text(&trace, GoRelease::Go127, false, &mut out).unwrap_err();
/// assert_eq!(out, b"Frequency freq=7\n");
/// assert_eq!(err.to_string(), "invalid event type: 60");
///
/// // Go 1.23's table has the slot (without a name or arguments).
/// out.clear();
/// bytes_to_text(&trace, GoRelease::Go123, false, &mut out)?;
/// assert_eq!(out, b"Frequency freq=7\n\n");
/// # Ok::<(), ToTextError>(())
/// ```
pub fn bytes_to_text<W: io::Write + ?Sized>(
    trace: &[u8],
    release: GoRelease,
    versioned: bool,
    out: &mut W,
) -> Result<(), ToTextError> {
    const CHUNK: usize = 64 << 10;
    let mut reader = RawReader::new(trace, release)?;
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    if versioned {
        write_header_line(&mut buf, reader.minor());
    }
    let result = loop {
        match reader.next_event() {
            Ok(Some(event)) => {
                event.write_text(&mut buf);
                if buf.len() >= CHUNK {
                    out.write_all(&buf)?;
                    buf.clear();
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    out.write_all(&buf)?;
    out.flush()?;
    Ok(result?)
}

/// Converts the text form to a binary trace, as `gotraceraw text2bytes`
/// does: the header, then each event's binary form (see [`Event::encode`]).
///
/// Nothing is computed: batch sizes must be right in the text. With
/// [`SizeEncoding::Minimal`] the output is byte-identical to Go's; with
/// [`SizeEncoding::Padded`] batch sizes take ten bytes, so the text of a
/// trace written by the Go runtime converts back to the identical file.
pub fn text_to_bytes(text: &[u8], sizes: SizeEncoding) -> Result<Vec<u8>, ParseError> {
    let mut reader = TextReader::new(text)?;
    // Binary is usually about a fifth of the text's size.
    let mut out = Vec::with_capacity(text.len() / 4 + 16);
    write_binary_header(&mut out, reader.minor());
    while let Some(event) = reader.next_event()? {
        event.encode(&mut out, sizes);
    }
    Ok(out)
}

/// Appends the binary file header `go 1.<minor> trace\0\0\0`.
fn write_binary_header(out: &mut Vec<u8>, minor: u32) {
    out.extend_from_slice(b"go 1.");
    push_decimal(out, u64::from(minor));
    out.extend_from_slice(b" trace\0\0\0");
}

#[cfg(test)]
mod tests;
