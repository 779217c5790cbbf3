//! A minimal protocol-buffers codec: just what the fixed `profile.proto`
//! schema of pprof needs (varints, length-delimited fields, packed repeated
//! scalars), written by hand so that the crate pulls in no code generator.

use std::fmt;

/// Wire types of the protobuf encoding.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// Appends protobuf fields to a byte buffer.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    pub(crate) buf: Vec<u8>,
}

impl Encoder {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire));
    }

    /// An unsigned integer field; zero (the default) is omitted.
    pub(crate) fn uint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, VARINT);
            self.varint(v);
        }
    }

    /// A signed integer field (`int64`: two's complement, not zigzag);
    /// zero is omitted.
    pub(crate) fn int(&mut self, field: u32, v: i64) {
        self.uint(field, v as u64);
    }

    /// A bytes or string field, always written (the string table starts
    /// with an empty string that must be present).
    pub(crate) fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, LEN);
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    /// A packed repeated integer field; nothing if empty.
    pub(crate) fn packed(&mut self, field: u32, vs: impl IntoIterator<Item = u64>) {
        let mut body = Encoder::default();
        for v in vs {
            body.varint(v);
        }
        if !body.buf.is_empty() {
            self.bytes(field, &body.buf);
        }
    }

    /// An embedded message field, built by `f`.
    pub(crate) fn message(&mut self, field: u32, f: impl FnOnce(&mut Encoder)) {
        let mut body = Encoder::default();
        f(&mut body);
        self.bytes(field, &body.buf);
    }
}

/// Why a protobuf message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub(crate) String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed profile: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

fn err<T>(what: &str) -> Result<T, DecodeError> {
    Err(DecodeError(what.to_string()))
}

/// One field of a message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

impl<'a> Value<'a> {
    pub(crate) fn int(self) -> Result<u64, DecodeError> {
        match self {
            Value::Int(v) => Ok(v),
            Value::Bytes(_) => err("expected an integer field"),
        }
    }

    pub(crate) fn bytes(self) -> Result<&'a [u8], DecodeError> {
        match self {
            Value::Bytes(b) => Ok(b),
            Value::Int(_) => err("expected a length-delimited field"),
        }
    }

    /// The integers of a repeated scalar field occurrence, packed or not.
    pub(crate) fn ints(self) -> Result<Vec<u64>, DecodeError> {
        match self {
            Value::Int(v) => Ok(vec![v]),
            Value::Bytes(mut b) => {
                let mut out = Vec::new();
                while !b.is_empty() {
                    out.push(varint(&mut b)?);
                }
                Ok(out)
            }
        }
    }
}

fn varint(b: &mut &[u8]) -> Result<u64, DecodeError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let Some((&byte, rest)) = b.split_first() else {
            return err("truncated varint");
        };
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(v);
        }
    }
    err("varint too long")
}

/// Iterates over the fields of a message as `(field number, value)`,
/// skipping fixed-width fields (the pprof schema has none).
pub(crate) fn fields(mut b: &[u8]) -> impl Iterator<Item = Result<(u32, Value<'_>), DecodeError>> {
    std::iter::from_fn(move || {
        while !b.is_empty() {
            let res = (|| {
                let key = varint(&mut b)?;
                let field = u32::try_from(key >> 3).or_else(|_| err("field number too large"))?;
                let value = match (key & 7) as u8 {
                    VARINT => Some(Value::Int(varint(&mut b)?)),
                    LEN => {
                        let n = usize::try_from(varint(&mut b)?).unwrap_or(usize::MAX);
                        if n > b.len() {
                            return err("truncated field");
                        }
                        let (v, rest) = b.split_at(n);
                        b = rest;
                        Some(Value::Bytes(v))
                    }
                    FIXED64 | FIXED32 => {
                        let n = if key & 7 == u64::from(FIXED64) { 8 } else { 4 };
                        if n > b.len() {
                            return err("truncated field");
                        }
                        b = &b[n..];
                        None
                    }
                    _ => return err("unsupported wire type"),
                };
                Ok(value.map(|v| (field, v)))
            })();
            match res {
                Ok(Some(f)) => return Some(Ok(f)),
                Ok(None) => continue,
                Err(e) => {
                    b = &[];
                    return Some(Err(e));
                }
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut e = Encoder::default();
            e.varint(v);
            let mut b = &e.buf[..];
            assert_eq!(varint(&mut b), Ok(v));
            assert!(b.is_empty());
        }
        // Known encodings.
        let mut e = Encoder::default();
        e.varint(300);
        assert_eq!(e.buf, [0xac, 0x02]);
        let mut e = Encoder::default();
        e.int(1, -1);
        assert_eq!(
            e.buf.len(),
            11,
            "negative int64 takes ten bytes plus the key"
        );
    }

    #[test]
    fn fields_round_trip() {
        let mut e = Encoder::default();
        e.uint(1, 5);
        e.uint(2, 0); // omitted
        e.bytes(3, b"abc");
        e.packed(4, [1u64, 300, 2]);
        e.message(5, |m| m.uint(1, 7));
        let got: Vec<_> = fields(&e.buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].0, 1);
        assert_eq!(got[0].1.int(), Ok(5));
        assert_eq!(got[1].1.bytes(), Ok(&b"abc"[..]));
        assert_eq!(got[2].1.ints(), Ok(vec![1, 300, 2]));
        let inner: Vec<_> = fields(got[3].1.bytes().unwrap())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(inner[0].1.int(), Ok(7));
        // Unpacked repeated scalars decode too.
        assert_eq!(Value::Int(9).ints(), Ok(vec![9]));
    }

    #[test]
    fn skips_fixed_and_rejects_garbage() {
        let buf = [0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x10, 0x01];
        let got: Vec<_> = fields(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 2);
        assert!(fields(&[0x0a, 0x05, 1]).any(|f| f.is_err()));
        assert!(fields(&[0x80]).any(|f| f.is_err()));
        assert!(fields(&[0x0b]).any(|f| f.is_err()));
    }
}
