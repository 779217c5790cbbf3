//! The little JSON this crate writes: strings escaped per RFC 8259, numbers,
//! and an object writer that tracks commas. Enough for statistics and for
//! streaming Chrome trace events, without a serialization framework.

/// Appends `s` to `out` as a JSON string literal.
pub(crate) fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let text = String::from_utf8_lossy(s);
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends a count of nanoseconds as microseconds with up to three
/// decimals (Chrome's `ts` and `dur` unit), exactly, without floating point.
pub(crate) fn micros(out: &mut Vec<u8>, ns: i64) {
    if ns < 0 {
        out.push(b'-');
    }
    let ns = ns.unsigned_abs();
    uint(out, ns / 1000);
    let frac = ns % 1000;
    if frac != 0 {
        out.extend_from_slice(&[
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ]);
    }
}

/// Appends an unsigned integer.
pub(crate) fn uint(out: &mut Vec<u8>, mut v: u64) {
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

/// Appends a signed integer.
pub(crate) fn int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    uint(out, v.unsigned_abs());
}

/// Writes a JSON object field by field.
#[derive(Debug)]
pub(crate) struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    /// Starts an object.
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        string(self.out, k.as_bytes());
        self.out.push(b':');
        self.out
    }

    /// A string field.
    pub(crate) fn str(&mut self, k: &str, v: &str) -> &mut Self {
        let out = self.key(k);
        string(out, v.as_bytes());
        self
    }

    /// An integer field.
    pub(crate) fn int(&mut self, k: &str, v: i64) -> &mut Self {
        int(self.key(k), v);
        self
    }

    /// An unsigned integer field.
    pub(crate) fn uint(&mut self, k: &str, v: u64) -> &mut Self {
        uint(self.key(k), v);
        self
    }

    /// A field whose value `f` writes (an object, an array, …).
    pub(crate) fn raw(&mut self, k: &str, f: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        f(self.key(k));
        self
    }

    /// Closes the object.
    pub(crate) fn end(&mut self) {
        self.out.push(b'}');
    }
}

/// Writes `items` as a JSON array, each by `f`.
pub(crate) fn array<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut f: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        f(out, item);
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_strings() {
        let mut out = Vec::new();
        string(&mut out, b"a\"b\\c\n\x01\x7f\xffz");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\n\\u0001\\u007f\u{fffd}z\""
        );
    }

    #[test]
    fn micros_are_exact() {
        for (ns, want) in [
            (0, "0"),
            (1, "0.001"),
            (1500, "1.500"),
            (123_456_789, "123456.789"),
            (-1, "-0.001"),
        ] {
            let mut out = Vec::new();
            micros(&mut out, ns);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    #[test]
    fn objects_and_arrays() {
        let mut out = Vec::new();
        Object::new(&mut out)
            .str("a", "x")
            .int("b", -3)
            .raw("c", |o| array(o, [1u64, 2], uint))
            .end();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"x","b":-3,"c":[1,2]}"#
        );
    }
}
