//! Unsigned LEB128 varints ("uvarints"), as Go's `encoding/binary` writes them.
//!
//! A value is written seven bits at a time, least significant group first. Every
//! byte but the last has its high bit (`0x80`) set. A `u64` takes one to
//! [`MAX_LEN`] bytes, and the tenth byte may only be `0x00` or `0x01`.
//!
//! Non-minimal (padded) encodings are valid: the Go runtime writes every batch
//! size as exactly ten bytes so that it can fill the size in after the batch
//! body. [`encode_padded`] writes that form, [`encode`] the minimal one, and
//! [`decode`] accepts both.
//!
//! ```
//! use trace_wire::varint;
//!
//! let mut buf = Vec::new();
//! varint::encode(300, &mut buf);
//! assert_eq!(buf, [0xac, 0x02]);
//! assert_eq!(varint::decode(&buf), Ok((300, 2)));
//!
//! buf.clear();
//! varint::encode_padded(5, &mut buf);
//! assert_eq!(buf, [0x85, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
//! assert_eq!(varint::decode(&buf), Ok((5, 10)));
//! ```

/// The longest encoding of a `u64`, in bytes.
pub const MAX_LEN: usize = 10;

/// Why a varint could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The input ended before the last byte of the varint. `read` bytes were
    /// consumed; zero means the input was empty.
    Truncated {
        /// Bytes consumed before the input ended.
        read: usize,
    },
    /// More than ten bytes, or a tenth byte greater than one.
    Overflow,
}

/// Appends the minimal encoding of `value` to `out`.
#[inline]
pub fn encode(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends the ten-byte encoding of `value` that the Go runtime uses for batch
/// sizes: nine bytes with the continuation bit set, then the top bit.
#[inline]
pub fn encode_padded(value: u64, out: &mut Vec<u8>) {
    for i in 0..MAX_LEN - 1 {
        out.push(((value >> (7 * i)) as u8 & 0x7f) | 0x80);
    }
    out.push((value >> 63) as u8);
}

/// Reads one varint a byte at a time from `next`, the way Go's
/// `binary.ReadUvarint` does: [`IoCause::Eof`](crate::IoCause::Eof) if no
/// byte came, `UnexpectedEof` if the input ended inside the varint, and
/// `Overflow` after ten continuation bytes or a tenth byte above one (even
/// when more bytes would follow, unlike [`decode`]).
#[inline]
pub fn read_with(
    next: &mut impl FnMut() -> Result<Option<u8>, crate::IoCause>,
) -> Result<u64, crate::IoCause> {
    use crate::IoCause;
    let mut value = 0u64;
    for i in 0..MAX_LEN {
        let Some(b) = next()? else {
            return Err(if i == 0 {
                IoCause::Eof
            } else {
                IoCause::UnexpectedEof
            });
        };
        if b < 0x80 {
            if i == MAX_LEN - 1 && b > 1 {
                return Err(IoCause::Overflow);
            }
            return Ok(value | (u64::from(b) << (7 * i)));
        }
        value |= u64::from(b & 0x7f) << (7 * i);
    }
    Err(IoCause::Overflow)
}

/// The number of bytes [`encode`] writes for `value`.
#[inline]
pub const fn encoded_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Decodes one varint from the start of `input`, returning the value and the
/// number of bytes it took.
#[inline]
pub fn decode(input: &[u8]) -> Result<(u64, usize), VarintError> {
    // Fast path: one byte.
    if let Some(&b) = input.first() {
        if b < 0x80 {
            return Ok((u64::from(b), 1));
        }
    }
    let mut value = 0u64;
    for (i, &b) in input.iter().enumerate() {
        if i == MAX_LEN {
            return Err(VarintError::Overflow);
        }
        if b < 0x80 {
            if i == MAX_LEN - 1 && b > 1 {
                return Err(VarintError::Overflow);
            }
            return Ok((value | (u64::from(b) << (7 * i)), i + 1));
        }
        value |= u64::from(b & 0x7f) << (7 * i);
    }
    Err(VarintError::Truncated {
        read: input.len().min(MAX_LEN),
    })
}

/// Decodes the varint at `*pos` in `data` and moves `*pos` past it, as Go's
/// `binary.Uvarint` does; `None` (and `*pos` unchanged) if it is truncated
/// or overflows. The hot-path form of [`decode`], for decoders that keep
/// their own position and report errors themselves.
///
/// ```
/// use trace_wire::varint::decode_at;
///
/// let data = [0x05, 0xac, 0x02, 0x80];
/// let mut pos = 0;
/// assert_eq!(decode_at(&data, &mut pos), Some(5));
/// assert_eq!(decode_at(&data, &mut pos), Some(300));
/// assert_eq!(pos, 3);
/// assert_eq!(decode_at(&data, &mut pos), None);
/// assert_eq!(pos, 3);
/// ```
#[inline(always)]
pub fn decode_at(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut p = *pos;
    let b = *data.get(p)?;
    if b < 0x80 {
        *pos = p + 1;
        return Some(u64::from(b));
    }
    let mut value = u64::from(b & 0x7f);
    let mut shift = 7;
    loop {
        p += 1;
        let b = *data.get(p)?;
        if b < 0x80 {
            // The tenth byte may only hold the top bit.
            if shift == 63 && b > 1 {
                return None;
            }
            *pos = p + 1;
            return Some(value | (u64::from(b) << shift));
        }
        if shift == 63 {
            return None;
        }
        value |= u64::from(b & 0x7f) << shift;
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_boundaries() {
        for v in [
            0,
            1,
            127,
            128,
            16383,
            16384,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            encode(v, &mut buf);
            assert_eq!(buf.len(), encoded_len(v), "len of {v}");
            assert_eq!(decode(&buf), Ok((v, buf.len())));
            buf.clear();
            encode_padded(v, &mut buf);
            assert_eq!(buf.len(), MAX_LEN);
            assert_eq!(decode(&buf), Ok((v, MAX_LEN)));
        }
    }

    #[test]
    fn longest_encoding() {
        let mut buf = Vec::new();
        encode(u64::MAX, &mut buf);
        assert_eq!(
            buf,
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
    }

    #[test]
    fn truncation() {
        assert_eq!(decode(&[]), Err(VarintError::Truncated { read: 0 }));
        assert_eq!(decode(&[0x80]), Err(VarintError::Truncated { read: 1 }));
        assert_eq!(decode(&[0xff; 9]), Err(VarintError::Truncated { read: 9 }));
    }

    #[test]
    fn overflow() {
        // Tenth byte greater than one.
        let mut buf = vec![0xff; 9];
        buf.push(0x02);
        assert_eq!(decode(&buf), Err(VarintError::Overflow));
        // Eleven bytes.
        assert_eq!(decode(&[0x80; 11]), Err(VarintError::Overflow));
        // Ten continuation bytes and nothing after: Go's `Uvarint` calls this
        // truncated (its `ReadUvarint` would call it an overflow).
        assert_eq!(
            decode(&[0x80; 10]),
            Err(VarintError::Truncated { read: 10 })
        );
    }

    #[test]
    fn decode_at_agrees_with_decode() {
        let mut inputs: Vec<Vec<u8>> = vec![vec![], vec![0x80; 10], vec![0x80; 11], vec![0xff; 9]];
        let mut tenth = vec![0xff; 9];
        tenth.push(0x02);
        inputs.push(tenth);
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut buf = Vec::new();
            encode(v, &mut buf);
            inputs.push(buf.clone());
            buf.clear();
            encode_padded(v, &mut buf);
            inputs.push(buf);
        }
        for input in inputs {
            let mut pos = 0;
            let got = decode_at(&input, &mut pos).map(|v| (v, pos));
            assert_eq!(got, decode(&input).ok(), "{input:x?}");
        }
    }

    #[test]
    fn trailing_bytes_are_left_alone() {
        assert_eq!(decode(&[0x05, 0xff]), Ok((5, 1)));
    }
}
