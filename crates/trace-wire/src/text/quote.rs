//! Go's `strconv.Quote` and `strconv.Unquote`, over bytes.
//!
//! Go strings are byte strings that are usually, but not necessarily, UTF-8.
//! Both functions here work on `&[u8]` so that invalid UTF-8 is handled the
//! way Go handles it: quoting escapes each invalid byte as `\xHH`, unquoting
//! replaces each invalid byte inside a quoted literal with U+FFFD.

use std::fmt;

use super::isprint::{IS_NOT_PRINT16, IS_NOT_PRINT32, IS_PRINT16, IS_PRINT32};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Decodes the rune at the start of `s` as Go's `utf8.DecodeRune` does:
/// `(None, 1)` for a byte that does not start a valid encoding (including
/// surrogates, overlong forms and values past U+10FFFF). `s` must not be
/// empty.
pub(crate) fn decode_rune(s: &[u8]) -> (Option<char>, usize) {
    let b0 = s[0];
    if b0 < 0x80 {
        return (Some(char::from(b0)), 1);
    }
    let width = match b0 {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return (None, 1),
    };
    match s.get(..width).map(std::str::from_utf8) {
        Some(Ok(text)) => (text.chars().next(), width),
        _ => (None, 1),
    }
}

/// Whether Go's `strconv.IsPrint` (and `unicode.IsPrint`) calls `c`
/// printable: a letter, mark, number, punctuation or symbol (Unicode 15.0.0,
/// as in Go 1.23), or the ASCII space. Other spaces are not printable.
///
/// ```
/// use trace_wire::text::is_print;
/// assert!(is_print('a') && is_print(' ') && is_print('é') && is_print('😀'));
/// assert!(!is_print('\t') && !is_print('\u{a0}') && !is_print('\u{2028}'));
/// assert!(!is_print('\u{ad}') && !is_print('\u{feff}'));
/// ```
pub fn is_print(c: char) -> bool {
    let r = u32::from(c);
    if r <= 0xff {
        return (0x20..=0x7e).contains(&r) || ((0xa1..=0xff).contains(&r) && r != 0xad);
    }
    if let Ok(r16) = u16::try_from(r) {
        return in_ranges(&IS_PRINT16, r16) && IS_NOT_PRINT16.binary_search(&r16).is_err();
    }
    if !in_ranges(&IS_PRINT32, r) {
        return false;
    }
    // Everything from U+20000 on that falls in a range is printable; below
    // that, exceptions are listed as offsets from U+10000.
    match u16::try_from(r - 0x10000) {
        Ok(offset) if r < 0x20000 => IS_NOT_PRINT32.binary_search(&offset).is_err(),
        _ => true,
    }
}

/// Whether `x` lies in one of the inclusive `[lo, hi]` pairs of `table`.
fn in_ranges<T: Ord + Copy>(table: &[T], x: T) -> bool {
    let i = table.partition_point(|&v| v < x);
    i < table.len() && table[i & !1] <= x && x <= table[i | 1]
}

/// Appends `s` quoted exactly as Go's `strconv.Quote` quotes it.
///
/// The output is always valid UTF-8.
///
/// ```
/// use trace_wire::text::append_quote;
/// let mut out = b"data=".to_vec();
/// append_quote(&mut out, b"tab\there \xff");
/// assert_eq!(out, br#"data="tab\there \xff""#);
/// ```
pub fn append_quote(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut i = 0;
    while i < s.len() {
        // Copy runs of plain printable ASCII in one go.
        let plain = s[i..]
            .iter()
            .take_while(|&&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
            .count();
        if plain > 0 {
            out.extend_from_slice(&s[i..i + plain]);
            i += plain;
            continue;
        }
        let b = s[i];
        let (rune, width) = decode_rune(&s[i..]);
        match rune {
            None => push_hex_escape(out, b),
            Some('"') => out.extend_from_slice(b"\\\""),
            Some('\\') => out.extend_from_slice(b"\\\\"),
            Some(c) if is_print(c) => out.extend_from_slice(&s[i..i + width]),
            Some('\x07') => out.extend_from_slice(b"\\a"),
            Some('\x08') => out.extend_from_slice(b"\\b"),
            Some('\x0c') => out.extend_from_slice(b"\\f"),
            Some('\n') => out.extend_from_slice(b"\\n"),
            Some('\r') => out.extend_from_slice(b"\\r"),
            Some('\t') => out.extend_from_slice(b"\\t"),
            Some('\x0b') => out.extend_from_slice(b"\\v"),
            Some(c) if c < ' ' || c == '\x7f' => push_hex_escape(out, b),
            Some(c) => {
                let r = u32::from(c);
                let (prefix, digits) = if r < 0x10000 {
                    (b"\\u", 4)
                } else {
                    (b"\\U", 8)
                };
                out.extend_from_slice(prefix);
                for shift in (0..digits).rev() {
                    out.push(HEX[(r >> (4 * shift)) as usize & 0xf]);
                }
            }
        }
        i += width;
    }
    out.push(b'"');
}

fn push_hex_escape(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[
        b'\\',
        b'x',
        HEX[usize::from(b >> 4)],
        HEX[usize::from(b & 0xf)],
    ]);
}

/// `s` quoted exactly as Go's `strconv.Quote` (and `fmt`'s `%q`) quotes it.
///
/// ```
/// use trace_wire::text::quote;
/// assert_eq!(quote(b"a\x00b\"\\\xff\xe2\x80\xa8"), r#""a\x00b\"\\\xff\u2028""#);
/// ```
pub fn quote(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    append_quote(&mut out, s);
    // Every byte that is not part of a valid UTF-8 sequence was escaped.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A Go literal that [`unquote`] could not read. Its text is Go's
/// `strconv.ErrSyntax`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid syntax")]
pub struct UnquoteError;

/// Reads a Go string literal as Go's `strconv.Unquote` does: a
/// double-quoted string with escapes, a back-quoted raw string (carriage
/// returns are dropped) or a single-quoted rune literal. Nothing may follow
/// the closing quote.
///
/// ```
/// use trace_wire::text::unquote;
/// assert_eq!(unquote(br#""a\tb\xff\u00e9""#), Ok(b"a\tb\xff\xc3\xa9".to_vec()));
/// assert_eq!(unquote(b"`raw\\n`"), Ok(b"raw\\n".to_vec()));
/// assert_eq!(unquote(br"'\''"), Ok(b"'".to_vec()));
/// assert!(unquote(br#""\400""#).is_err());
/// ```
pub fn unquote(s: &[u8]) -> Result<Vec<u8>, UnquoteError> {
    let mut out = Vec::with_capacity(s.len());
    unquote_into(&mut out, s)?;
    Ok(out)
}

/// [`unquote`], appending to `out`. On error `out` may hold part of the
/// value.
pub(super) fn unquote_into(out: &mut Vec<u8>, s: &[u8]) -> Result<(), UnquoteError> {
    if s.len() < 2 {
        return Err(UnquoteError);
    }
    let quote = s[0];
    match quote {
        b'`' => {
            let body = &s[1..];
            let end = body.iter().position(|&b| b == b'`').ok_or(UnquoteError)?;
            if end + 1 != body.len() {
                return Err(UnquoteError);
            }
            out.extend(body[..end].iter().filter(|&&b| b != b'\r'));
            Ok(())
        }
        b'"' | b'\'' => {
            let mut i = 1;
            loop {
                let &c = s.get(i).ok_or(UnquoteError)?;
                if c == quote {
                    break;
                }
                if c == b'\n' {
                    return Err(UnquoteError);
                }
                i += unquote_char(out, &s[i..], quote)?;
                // A rune literal holds exactly one character.
                if quote == b'\'' {
                    if s.get(i) != Some(&quote) {
                        return Err(UnquoteError);
                    }
                    break;
                }
            }
            // `i` is at the closing quote, which must be the last byte.
            if i + 1 == s.len() {
                Ok(())
            } else {
                Err(UnquoteError)
            }
        }
        _ => Err(UnquoteError),
    }
}

/// Decodes one character or escape at the start of `s` (not empty, not
/// starting with `quote`) into `out`, as Go's `strconv.UnquoteChar`;
/// returns the bytes consumed.
fn unquote_char(out: &mut Vec<u8>, s: &[u8], quote: u8) -> Result<usize, UnquoteError> {
    let c = s[0];
    if c >= 0x80 {
        let (rune, width) = decode_rune(s);
        push_char(out, rune.unwrap_or(char::REPLACEMENT_CHARACTER));
        return Ok(width);
    }
    if c != b'\\' {
        out.push(c);
        return Ok(1);
    }
    let &e = s.get(1).ok_or(UnquoteError)?;
    let rest = &s[2..];
    let simple = match e {
        b'a' => Some(0x07),
        b'b' => Some(0x08),
        b'f' => Some(0x0c),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(0x0b),
        b'\\' => Some(b'\\'),
        b'\'' | b'"' if e == quote => Some(e),
        _ => None,
    };
    if let Some(b) = simple {
        out.push(b);
        return Ok(2);
    }
    match e {
        b'x' | b'u' | b'U' => {
            let n = match e {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let digits = rest.get(..n).ok_or(UnquoteError)?;
            let mut v = 0u32;
            for &d in digits {
                let x = char::from(d).to_digit(16).ok_or(UnquoteError)?;
                v = v << 4 | x;
            }
            if e == b'x' {
                // A single byte, possibly not UTF-8.
                out.push(v as u8);
            } else {
                push_char(out, char::from_u32(v).ok_or(UnquoteError)?);
            }
            Ok(2 + n)
        }
        b'0'..=b'7' => {
            let digits = rest.get(..2).ok_or(UnquoteError)?;
            let mut v = u32::from(e - b'0');
            for &d in digits {
                if !(b'0'..=b'7').contains(&d) {
                    return Err(UnquoteError);
                }
                v = v << 3 | u32::from(d - b'0');
            }
            out.push(u8::try_from(v).map_err(|_| UnquoteError)?);
            Ok(4)
        }
        _ => Err(UnquoteError),
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Displays bytes as Go's `%q` verb does.
pub(super) struct Quoted<'a>(pub(super) &'a [u8]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&quote(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        // §12.3 of the spec, verified against `go tool trace -d=2`.
        let mut data = Vec::new();
        data.extend_from_slice(b"a\x00b\x01c\x7f\xff\xfe h\xc3\xa9llo ");
        data.extend_from_slice("\u{2028} \u{a0} \u{1F600} \t\n\r\\\"'`\u{200b}\u{feff}".as_bytes());
        assert_eq!(
            quote(&data),
            r#""a\x00b\x01c\x7f\xff\xfe héllo \u2028 \u00a0 😀 \t\n\r\\\"'`\u200b\ufeff""#
        );
    }

    #[test]
    fn quote_edges() {
        assert_eq!(quote(b""), r#""""#);
        assert_eq!(quote(b"\x07\x08\x0c\x0b"), r#""\a\b\f\v""#);
        // A valid U+FFFD is printable and kept; a lone invalid byte is not.
        assert_eq!(quote("\u{fffd}".as_bytes()), "\"\u{fffd}\"");
        assert_eq!(quote(b"\xef\xbf"), r#""\xef\xbf""#);
        // Surrogates (ED A0 80) are invalid UTF-8: three escapes.
        assert_eq!(quote(b"\xed\xa0\x80"), r#""\xed\xa0\x80""#);
        // Overlong NUL.
        assert_eq!(quote(b"\xc0\x80"), r#""\xc0\x80""#);
        // C1 controls and soft hyphen.
        assert_eq!(quote("\u{85}\u{ad}".as_bytes()), r#""\u0085\u00ad""#);
        // Unassigned and private-use code points.
        assert_eq!(quote("\u{378}\u{e000}".as_bytes()), r#""\u0378\ue000""#);
        assert_eq!(
            quote("\u{10ffff}\u{e0001}".as_bytes()),
            r#""\U0010ffff\U000e0001""#
        );
        // Printable supplementary code points are kept.
        assert_eq!(
            quote("\u{20000}\u{1d11e}".as_bytes()),
            "\"\u{20000}\u{1d11e}\""
        );
    }

    #[test]
    fn is_print_matches_go_samples() {
        // Checked with Go 1.23's strconv.IsPrint.
        for c in [
            '~',
            '¡',
            'ÿ',
            'Ͱ',
            '\u{1F600}',
            '\u{3042}',
            '\u{20000}',
            '\u{31350}',
        ] {
            assert!(is_print(c), "{c:?}");
        }
        for c in [
            '\0',
            '\x7f',
            '\u{a0}',
            '\u{ad}',
            '\u{378}',
            '\u{2028}',
            '\u{3000}',
            '\u{fffe}',
            '\u{1d173}',
            '\u{e0001}',
            '\u{f0000}',
            '\u{2fffe}',
        ] {
            assert!(!is_print(c), "{c:?}");
        }
    }

    #[test]
    fn unquote_like_go() {
        // Each case was run through Go 1.23's strconv.Unquote.
        let ok: &[(&[u8], &[u8])] = &[
            (b"''", b""),
            (b"'a'", b"a"),
            (br"'\x41'", b"A"),
            (br#""\u00e9""#, "é".as_bytes()),
            (b"\"\xff\"", "\u{fffd}".as_bytes()),
            (b"\"\xff\\n\"", "\u{fffd}\n".as_bytes()),
            (b"`a\rb`", b"ab"),
            (br"'\''", b"'"),
            (br#"'"'"#, b"\""),
            (b"'\xff'", "\u{fffd}".as_bytes()),
            (br"'\xff'", b"\xff"),
            (br"'\u00ff'", "ÿ".as_bytes()),
            ("'é'".as_bytes(), "é".as_bytes()),
            (br#""\a\b\f\n\r\t\v\\\"""#, b"\x07\x08\x0c\n\r\t\x0b\\\""),
            (
                br#""\377\000\x7F\U0001F600""#,
                b"\xff\x00\x7f\xf0\x9f\x98\x80",
            ),
            (b"`\xff\\`", b"\xff\\"),
            (br#""'""#, b"'"),
        ];
        for &(input, want) in ok {
            assert_eq!(unquote(input).as_deref(), Ok(want), "{:?}", quote(input));
        }
        let bad: &[&[u8]] = &[
            b"",
            b"\"",
            b"'ab'",
            br#""\400""#,
            br#""\'""#,
            br#"'\"'"#,
            b"\"a",
            b"\"a\"\"",
            br#""\ud800""#,
            br#""\U00110000""#,
            br#""\x4""#,
            br#""\xg0""#,
            br#""\08""#,
            br#""\c""#,
            br#""\""#,
            b"\"a\nb\"",
            b"x",
            b"`a` ",
            b"`a",
            b"'''",
        ];
        for &input in bad {
            assert_eq!(unquote(input), Err(UnquoteError), "{:?}", quote(input));
        }
    }

    #[test]
    fn quote_unquote_round_trip_valid_utf8() {
        let s = "héllo\u{0}\u{2028}\u{1F600}\\\"\u{feff}";
        assert_eq!(
            unquote(quote(s.as_bytes()).as_bytes()).unwrap(),
            s.as_bytes()
        );
        // Invalid bytes round-trip through their \x escapes.
        let b = b"\xff\xfe\x80abc\xc3";
        assert_eq!(unquote(quote(b).as_bytes()).unwrap(), b);
    }
}
