//! The text reader: text form → events, as Go's `internal/trace/raw`
//! `TextReader` parses it.

use std::fmt;

use crate::spec::{EventSpec, Version};

use super::quote::{decode_rune, unquote_into, Quoted};
use super::reader::{is_space, lookup_version, specs_of};
use super::{Event, FrameData, FRAME_FIELDS, MAX_EVENT_ARGS};

/// A problem in the text form, with the line where it was found.
///
/// `Display` prints `line N: ` and then Go's message; [`ParseError::kind`]
/// alone displays exactly as Go's text reader reports the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    line: usize,
    kind: ParseErrorKind,
}

impl ParseError {
    /// The 1-based line number of the offending line. For an input that ends
    /// too early, it is the line of the event that was cut short (or 1 when
    /// there is no header at all).
    pub fn line(&self) -> usize {
        self.line
    }

    /// What went wrong.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }
}

/// What went wrong in the text form. The `Display` text is Go's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input has no non-blank, non-comment line (Go's `io.EOF`).
    #[error("EOF")]
    MissingHeader,
    /// The first line does not start with `Trace`.
    #[error("failed to parse header")]
    BadHeader,
    /// The header's version does not start with `Go1.`.
    #[error("failed to parse header Go version")]
    BadHeaderVersion,
    /// The header's minor version is not a decimal `u64`.
    #[error("failed to parse header Go version: strconv.ParseUint: parsing {}: {}", Quoted(.digits), if *.out_of_range { "value out of range" } else { "invalid syntax" })]
    BadHeaderNumber {
        /// The text after `Go1.`.
        digits: Vec<u8>,
        /// Whether it is a number too large for a `u64` (rather than not a
        /// number).
        out_of_range: bool,
    },
    /// The header names a version with no event table (after Go's
    /// truncation to 32 bits).
    #[error("unknown or unsupported Go version 1.{0}")]
    UnsupportedVersion(u32),
    /// Text after the header's version.
    #[error("encountered unexpected non-space at the end of the header: {}", Quoted(.0))]
    HeaderTrailing(Vec<u8>),
    /// The first token of a line is not an event name of the version.
    #[error("unidentified event: {}", String::from_utf8_lossy(.0))]
    UnknownEvent(Vec<u8>),
    /// The arguments of an event line are wrong.
    #[error("reading args for {event}: {error}")]
    EventArgs {
        /// The event's name.
        event: &'static str,
        /// What is wrong with them.
        error: ArgError,
    },
    /// A stack frame line is wrong (Go reports this without context).
    #[error("{0}")]
    FrameArgs(ArgError),
    /// The input ended before all of a stack's frames.
    #[error("unexpected EOF while reading stack: args={}", ArgList(.0))]
    StackEof(Vec<u64>),
    /// The input ended before an event's data line.
    #[error("unexpected EOF while reading data for {event}: args={}", ArgList(.args))]
    DataEof {
        /// The event's name.
        event: &'static str,
        /// Its arguments.
        args: Vec<u64>,
    },
    /// A data line that is not `data=<literal>`.
    #[error("malformed data: {}", Quoted(.0))]
    MalformedData(Vec<u8>),
    /// A data line whose value is not a Go string literal.
    #[error("failed to parse data: {}: invalid syntax", Quoted(.0))]
    BadData(Vec<u8>),
}

/// A problem with the `name=value` arguments of a line. The `Display` text is
/// Go's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgError {
    /// The line ends before this argument.
    #[error("no argument")]
    Missing,
    /// A token without `=`.
    #[error("malformed argument: {}", Quoted(.0))]
    Malformed(Vec<u8>),
    /// A value that is not a decimal `u64`.
    #[error("failed to parse argument value {} for arg {}", Quoted(.value), Quoted(.arg))]
    BadValue {
        /// The argument's name as written.
        arg: Vec<u8>,
        /// The value as written.
        value: Vec<u8>,
    },
    /// An argument with another name than the one expected at its position.
    #[error("expected argument {}, but got {}", Quoted(.expected.as_bytes()), Quoted(.found))]
    WrongName {
        /// The name the table has at this position.
        expected: &'static str,
        /// The name written.
        found: Vec<u8>,
    },
    /// Text after the last argument.
    #[error("encountered unexpected non-space at the end of an event: {}", Quoted(.0))]
    Trailing(Vec<u8>),
}

/// Prints a list of numbers as Go's `%v` prints a `[]uint64`.
struct ArgList<'a>(&'a [u64]);

impl fmt::Display for ArgList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{v}")?;
        }
        f.write_str("]")
    }
}

/// Parses the text form one event at a time, accepting exactly what Go's
/// text reader (`internal/trace/raw.TextReader`) accepts:
///
/// - lines end at `\n` (a `\r` before it is dropped); tokens are separated
///   by Unicode white space; blank lines and lines whose first token starts
///   with `#` are skipped everywhere;
/// - the first line is `Trace Go1.<minor>`;
/// - each event line is its name, then `name=value` for every argument in
///   table order (values are decimal `u64`s), and nothing else;
/// - a `Stack` is followed by `nframes` lines `pc=… func=… file=… line=…`;
/// - `String` and `ExperimentalBatch` are followed by a `data=<literal>`
///   line, where the literal is anything Go's `strconv.Unquote` reads.
///
/// Unlike Go (whose line scanner stops at 64 KiB), lines may be of any
/// length.
///
/// Events borrow the reader's buffers, so each must be dropped before the
/// next is read; no allocation happens per event once the buffers have
/// grown.
///
/// ```
/// use trace_wire::text::TextReader;
///
/// let text = b"Trace Go1.23\n# a comment\nStack id=1 nframes=1\n\n\tpc=1 func=2 file=3 line=4\n";
/// let mut reader = TextReader::new(text)?;
/// let stack = reader.next_event()?.unwrap();
/// assert_eq!(stack.args(), [1, 1]);
/// assert_eq!(stack.frames().next().map(|f| f.line), Some(4));
/// assert!(reader.next_event()?.is_none());
///
/// let err = TextReader::new(b"Trace Go1.23\nProcStart dt=1 p=x").unwrap().next_event().unwrap_err();
/// assert_eq!(err.line(), 2);
/// assert_eq!(
///     err.kind().to_string(),
///     r#"reading args for ProcStart: failed to parse argument value "x" for arg "p""#
/// );
/// # Ok::<(), trace_wire::text::ParseError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TextReader<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
    minor: u32,
    version: Option<Version>,
    specs: &'static [EventSpec],
    /// Named events of the version, sorted by name.
    names: Vec<(&'static str, u8)>,
    frames: Vec<u64>,
    data: Vec<u8>,
}

impl<'a> TextReader<'a> {
    /// Reads the header line of `text`.
    ///
    /// Besides the versions of [`Version`], the header may name 1.11, 1.19
    /// or 1.21, which Go accepts but which have no events.
    pub fn new(text: &'a [u8]) -> Result<Self, ParseError> {
        let mut reader = TextReader {
            text,
            pos: 0,
            line: 0,
            minor: 0,
            version: None,
            specs: &[],
            names: Vec::new(),
            frames: Vec::new(),
            data: Vec::new(),
        };
        let Some(line) = reader.next_line() else {
            return Err(ParseError {
                line: 1,
                kind: ParseErrorKind::MissingHeader,
            });
        };
        let fail = |kind| ParseError {
            line: reader.line,
            kind,
        };
        let (trace, rest) = read_token(line);
        if trace != b"Trace" {
            return Err(fail(ParseErrorKind::BadHeader));
        }
        let (go_version, rest) = read_token(rest);
        let Some(digits) = go_version.strip_prefix(b"Go1.") else {
            return Err(fail(ParseErrorKind::BadHeaderVersion));
        };
        let raw = parse_u64(digits).map_err(|out_of_range| {
            fail(ParseErrorKind::BadHeaderNumber {
                digits: digits.to_vec(),
                out_of_range,
            })
        })?;
        // Go keeps the version in a uint32.
        let minor = raw as u32;
        let version =
            lookup_version(minor).ok_or_else(|| fail(ParseErrorKind::UnsupportedVersion(minor)))?;
        if !all_space(rest) {
            return Err(fail(ParseErrorKind::HeaderTrailing(rest.to_vec())));
        }
        let specs = specs_of(version);
        let mut names: Vec<(&'static str, u8)> = specs
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_defined())
            .map(|(i, s)| (s.name, i as u8))
            .collect();
        names.sort_unstable();
        reader.minor = minor;
        reader.version = version;
        reader.specs = specs;
        reader.names = names;
        Ok(reader)
    }

    /// The minor version number of the header, e.g. 23 for `Trace Go1.23`.
    pub fn minor(&self) -> u32 {
        self.minor
    }

    /// The format version, or `None` for the pre-v2 versions 1.11, 1.19 and
    /// 1.21.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The number of the last line read (1-based).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The next non-blank, non-comment line, without its line ending.
    fn next_line(&mut self) -> Option<&'a [u8]> {
        loop {
            let rest = self.text.get(self.pos..).filter(|r| !r.is_empty())?;
            let (mut line, advance) = match rest.iter().position(|&b| b == b'\n') {
                Some(n) => (&rest[..n], n + 1),
                None => (rest, rest.len()),
            };
            self.pos += advance;
            self.line += 1;
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if !read_token(line).0.is_empty() {
                return Some(line);
            }
        }
    }

    /// Reads the next event; `Ok(None)` at the end of the text.
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, ParseError> {
        let Some(line) = self.next_line() else {
            return Ok(None);
        };
        let event_line = self.line;
        let fail = |line, kind| ParseError { line, kind };
        let (name, rest) = read_token(line);
        let Ok(i) = self.names.binary_search_by(|(n, _)| n.as_bytes().cmp(name)) else {
            return Err(fail(
                event_line,
                ParseErrorKind::UnknownEvent(name.to_vec()),
            ));
        };
        let ty = self.names[i].1;
        let spec = &self.specs[usize::from(ty)];
        let mut args = [0u64; MAX_EVENT_ARGS];
        let n_args = spec.args.len().min(MAX_EVENT_ARGS);
        read_args(rest, &spec.args[..n_args], &mut args[..n_args]).map_err(|error| {
            fail(
                event_line,
                ParseErrorKind::EventArgs {
                    event: spec.name,
                    error,
                },
            )
        })?;
        self.frames.clear();
        if spec.is_stack {
            // Go converts the count to an `int`; a negative one reads nothing.
            let count = if i64::try_from(args[1]).is_ok() {
                args[1]
            } else {
                0
            };
            for _ in 0..count {
                let Some(line) = self.next_line() else {
                    let mut all = args[..n_args].to_vec();
                    all.extend_from_slice(&self.frames);
                    return Err(fail(event_line, ParseErrorKind::StackEof(all)));
                };
                let mut frame = [0u64; 4];
                read_args(line, &FRAME_FIELDS, &mut frame)
                    .map_err(|e| fail(self.line, ParseErrorKind::FrameArgs(e)))?;
                self.frames.extend_from_slice(&frame);
            }
        }
        let mut has_data = false;
        if spec.has_data {
            let Some(line) = self.next_line() else {
                return Err(fail(
                    event_line,
                    ParseErrorKind::DataEof {
                        event: spec.name,
                        args: args[..n_args].to_vec(),
                    },
                ));
            };
            self.data.clear();
            read_data(line, &mut self.data).map_err(|kind| fail(self.line, kind))?;
            has_data = true;
        }
        Ok(Some(Event {
            ty,
            spec,
            args,
            n_args: n_args as u8,
            frames: FrameData::Decoded(&self.frames),
            data: has_data.then_some(&self.data[..]),
        }))
    }
}

/// The rune at the start of `s` (not empty) and its width, with invalid
/// UTF-8 read as U+FFFD of width 1, as Go's `range` over a string does.
#[inline]
fn rune_at(s: &[u8]) -> (char, usize) {
    let (c, w) = decode_rune(s);
    (c.unwrap_or(char::REPLACEMENT_CHARACTER), w)
}

fn all_space(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        let (c, w) = rune_at(&s[i..]);
        if !is_space(c) {
            return false;
        }
        i += w;
    }
    true
}

/// Splits off the first token of `s`, as Go's `readToken`: leading white
/// space is skipped; a `#` there makes the rest a comment (no token); the
/// token ends at white space or `#`.
fn read_token(s: &[u8]) -> (&[u8], &[u8]) {
    let mut i = 0;
    let start = loop {
        let Some(&b) = s.get(i) else {
            return (&[], &[]);
        };
        if b == b'#' {
            return (&[], &[]);
        }
        let (c, w) = rune_at(&s[i..]);
        if !is_space(c) {
            break i;
        }
        i += w;
    };
    let mut end = start;
    while let Some(&b) = s.get(end) {
        if b == b'#' {
            break;
        }
        if b < 0x80 {
            if is_space(char::from(b)) {
                break;
            }
            end += 1;
        } else {
            let (c, w) = rune_at(&s[end..]);
            if is_space(c) {
                break;
            }
            end += w;
        }
    }
    (&s[start..end], &s[end..])
}

/// Parses a decimal `u64` as Go's `strconv.ParseUint(s, 10, 64)`: digits
/// only, at least one. The error says whether the value was out of range
/// (`true`) or not a number (`false`).
fn parse_u64(s: &[u8]) -> Result<u64, bool> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return Err(false);
    }
    s.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(true)
    })
}

/// Reads `name=value` tokens for each of `names` into `values`, then checks
/// that only white space is left, as Go's `readArgs`.
fn read_args(mut s: &[u8], names: &[&'static str], values: &mut [u64]) -> Result<(), ArgError> {
    for (&expected, value) in names.iter().zip(values) {
        let (token, rest) = read_token(s);
        if token.is_empty() {
            return Err(ArgError::Missing);
        }
        let Some(eq) = token.iter().position(|&b| b == b'=') else {
            return Err(ArgError::Malformed(token.to_vec()));
        };
        let (arg, digits) = (&token[..eq], &token[eq + 1..]);
        *value = parse_u64(digits).map_err(|_| ArgError::BadValue {
            arg: arg.to_vec(),
            value: digits.to_vec(),
        })?;
        if arg != expected.as_bytes() {
            return Err(ArgError::WrongName {
                expected,
                found: arg.to_vec(),
            });
        }
        s = rest;
    }
    if all_space(s) {
        Ok(())
    } else {
        Err(ArgError::Trailing(s.to_vec()))
    }
}

/// Go's `strings.TrimSpace`.
fn trim_space(mut s: &[u8]) -> &[u8] {
    while !s.is_empty() {
        let (c, w) = rune_at(s);
        if !is_space(c) {
            break;
        }
        s = &s[w..];
    }
    while !s.is_empty() {
        let (c, w) = last_rune(s);
        if !is_space(c) {
            break;
        }
        s = &s[..s.len() - w];
    }
    s
}

/// The rune at the end of `s` (not empty) and its width, as Go's
/// `utf8.DecodeLastRune` reads it: U+FFFD of width 1 unless a valid
/// encoding ends exactly at the end.
fn last_rune(s: &[u8]) -> (char, usize) {
    let end = s.len();
    if s[end - 1] < 0x80 {
        return (char::from(s[end - 1]), 1);
    }
    // The nearest byte that is not a continuation byte, at most three back.
    for start in (end.saturating_sub(4)..end - 1).rev() {
        if s[start] & 0xc0 != 0x80 {
            if let (Some(c), w) = decode_rune(&s[start..]) {
                if start + w == end {
                    return (c, w);
                }
            }
            break;
        }
    }
    (char::REPLACEMENT_CHARACTER, 1)
}

/// Reads a data line, `data=<Go string literal>`, into `out`.
fn read_data(line: &[u8], out: &mut Vec<u8>) -> Result<(), ParseErrorKind> {
    let Some(eq) = line.iter().position(|&b| b == b'=') else {
        return Err(ParseErrorKind::MalformedData(line.to_vec()));
    };
    if trim_space(&line[..eq]) != b"data" {
        return Err(ParseErrorKind::MalformedData(line.to_vec()));
    }
    unquote_into(out, trim_space(&line[eq + 1..]))
        .map_err(|_| ParseErrorKind::BadData(line.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert_eq!(read_token(b"  ab cd"), (&b"ab"[..], &b" cd"[..]));
        assert_eq!(read_token(b"  # ab"), (&b""[..], &b""[..]));
        assert_eq!(read_token(b"ab#cd"), (&b"ab"[..], &b"#cd"[..]));
        assert_eq!(
            read_token("\u{a0}ab\u{3000}x".as_bytes()),
            (&b"ab"[..], "\u{3000}x".as_bytes())
        );
        assert_eq!(read_token(b"\xffa b"), (&b"\xffa"[..], &b" b"[..]));
        assert_eq!(read_token(b""), (&b""[..], &b""[..]));
    }

    #[test]
    fn trimming() {
        assert_eq!(trim_space(b" \t x y \r"), b"x y");
        assert_eq!(trim_space("\u{a0}x\u{2028}".as_bytes()), b"x");
        assert_eq!(trim_space(b"x\xa0"), b"x\xa0");
        assert_eq!(trim_space(b"\xc2\xa0\xc2"), b"\xc2");
        assert_eq!(trim_space(b"   "), b"");
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"007"), Ok(7));
        assert_eq!(parse_u64(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), Err(true));
        assert_eq!(parse_u64(b""), Err(false));
        assert_eq!(parse_u64(b"+1"), Err(false));
        assert_eq!(parse_u64(b"1_0"), Err(false));
        assert_eq!(parse_u64(b"0x10"), Err(false));
    }
}
