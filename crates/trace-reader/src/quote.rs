//! Go's `%q` quoting (`strconv.Quote`) of arbitrary bytes, as `Event.String()`
//! prints strings, written piecewise to any [`Out`] without allocating.
//!
//! The input is decoded as UTF-8 rune by rune the way Go's `utf8.DecodeRune`
//! does; each byte of an invalid sequence is escaped as `\xHH`. Printable runes
//! (Go 1.23's `strconv.IsPrint`, from `trace_wire::text`) are copied, the rest
//! escaped. `trace_wire::text::append_quote` is the same function over a
//! `Vec<u8>`; the tests below check that the two agree.

use std::fmt;

use trace_wire::text::is_print;

use crate::display::{FmtOut, Out};

/// Writes `s` as Go's `strconv.Quote` would, without the surrounding quotes.
pub(crate) fn quote_into<O: Out>(out: &mut O, s: &[u8]) -> Result<(), O::Err> {
    let mut rest = s;
    while !rest.is_empty() {
        // Fast path: a run of printable ASCII that needs no escaping.
        let plain = rest
            .iter()
            .position(|&b| !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\')
            .unwrap_or(rest.len());
        if plain > 0 {
            // Printable ASCII is valid UTF-8.
            out.s(std::str::from_utf8(&rest[..plain]).unwrap_or_default())?;
            rest = &rest[plain..];
            continue;
        }
        let (rune, width) = decode_rune(rest);
        match rune {
            None => escape_hex(out, "\\x", u32::from(rest[0]), 2)?,
            Some(r) => escape_rune(out, r)?,
        }
        rest = &rest[width..];
    }
    Ok(())
}

/// Writes `s` quoted, quotes included.
pub(crate) fn write_quoted<O: Out>(out: &mut O, s: &[u8]) -> Result<(), O::Err> {
    out.s("\"")?;
    quote_into(out, s)?;
    out.s("\"")
}

fn escape_hex<O: Out>(out: &mut O, prefix: &str, v: u32, digits: usize) -> Result<(), O::Err> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 10];
    buf[..2].copy_from_slice(prefix.as_bytes());
    for i in 0..digits {
        buf[2 + i] = HEX[((v >> (4 * (digits - 1 - i))) & 0xf) as usize];
    }
    out.s(std::str::from_utf8(&buf[..2 + digits]).unwrap_or_default())
}

fn escape_rune<O: Out>(out: &mut O, r: char) -> Result<(), O::Err> {
    let mut buf = [0u8; 4];
    if r == '"' || r == '\\' {
        out.s("\\")?;
        return out.s(r.encode_utf8(&mut buf));
    }
    if is_print(r) {
        return out.s(r.encode_utf8(&mut buf));
    }
    match r {
        '\x07' => out.s("\\a"),
        '\x08' => out.s("\\b"),
        '\x0c' => out.s("\\f"),
        '\n' => out.s("\\n"),
        '\r' => out.s("\\r"),
        '\t' => out.s("\\t"),
        '\x0b' => out.s("\\v"),
        _ => {
            let c = u32::from(r);
            if c < 0x20 || c == 0x7f {
                escape_hex(out, "\\x", c, 2)
            } else if c < 0x10000 {
                escape_hex(out, "\\u", c, 4)
            } else {
                escape_hex(out, "\\U", c, 8)
            }
        }
    }
}

/// Decodes the first rune of `s` (non-empty) like Go's `utf8.DecodeRune`:
/// `(None, 1)` for an invalid encoding.
fn decode_rune(s: &[u8]) -> (Option<char>, usize) {
    let b0 = s[0];
    if b0 < 0x80 {
        return (Some(char::from(b0)), 1);
    }
    let (len, lo, hi) = match b0 {
        0xc2..=0xdf => (2, 0x80, 0xbf),
        0xe0 => (3, 0xa0, 0xbf),
        0xe1..=0xec | 0xee..=0xef => (3, 0x80, 0xbf),
        0xed => (3, 0x80, 0x9f),
        0xf0 => (4, 0x90, 0xbf),
        0xf1..=0xf3 => (4, 0x80, 0xbf),
        0xf4 => (4, 0x80, 0x8f),
        _ => return (None, 1),
    };
    if s.len() < len || !(lo..=hi).contains(&s[1]) {
        return (None, 1);
    }
    if s[2..len].iter().any(|&b| !(0x80..=0xbf).contains(&b)) {
        return (None, 1);
    }
    match std::str::from_utf8(&s[..len]) {
        Ok(st) => (st.chars().next(), len),
        Err(_) => (None, 1),
    }
}

/// A `Display` adapter that quotes bytes like Go's `%q`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quoted<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_quoted(&mut FmtOut(f), self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &[u8]) -> String {
        Quoted(s).to_string()
    }

    #[test]
    fn go_examples() {
        // The verified example of part 1 §12.3 of the format spec.
        let input = "a\u{0}b\u{1}c\u{7f}"
            .bytes()
            .chain([0xff, 0xfe])
            .chain(" héllo \u{2028} \u{a0} 😀 \t\n\r\\\"'`\u{200b}\u{feff}".bytes())
            .collect::<Vec<u8>>();
        assert_eq!(
            q(&input),
            r#""a\x00b\x01c\x7f\xff\xfe héllo \u2028 \u00a0 😀 \t\n\r\\\"'`\u200b\ufeff""#
        );
        assert_eq!(q(b""), r#""""#);
        assert_eq!(q(b"\x07\x08\x0b\x0c"), r#""\a\b\v\f""#);
        // A truncated sequence, a surrogate and an overlong encoding.
        assert_eq!(q(b"\xe2\x82A"), r#""\xe2\x82A""#);
        assert_eq!(q(b"\xed\xa0\x80"), r#""\xed\xa0\x80""#);
        assert_eq!(q(b"\xc0\xaf"), r#""\xc0\xaf""#);
        // Unassigned, private use and a printable astral character.
        assert_eq!(
            q("\u{378}\u{e000}\u{1f600}\u{e0001}".as_bytes()),
            "\"\\u0378\\ue000😀\\U000e0001\""
        );
        assert_eq!(q("\u{ad}\u{a1}".as_bytes()), "\"\\u00ad¡\"");
    }

    #[test]
    fn agrees_with_trace_wire() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for len in 0..3000 {
            let mut bytes = Vec::new();
            for _ in 0..len % 24 {
                let r = next();
                if r % 3 == 0 {
                    bytes.push((r >> 8) as u8);
                } else if let Some(c) = char::from_u32((r >> 8) as u32 % 0x3_0000) {
                    let mut buf = [0; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
            assert_eq!(q(&bytes), trace_wire::text::quote(&bytes), "{bytes:?}");
        }
    }
}
