//! Batch framing over a buffered input: the file header and batch headers
//! (parsed by `trace_wire::parse_batch_header`, with `trace_wire`'s errors
//! and offsets), reading each payload straight from the input's buffer into
//! the caller's vector (no zero-filled intermediate copy), and the header
//! straight from the buffer when it is all there.
//!
//! The input is passed to every call rather than owned, so that what is read
//! can come from the caller's reader or, on the reader's background thread,
//! from the blocks the caller's thread reads for it.

use std::io::{self, BufRead};

use trace_wire::{
    parse_batch_header, varint, BatchHeader, BatchReader, Error as WireError,
    ErrorKind as WireKind, Framed as WireFramed, IoCause, Version,
};

use crate::error::Error;

/// The longest header `BatchReader::new` reads before giving up.
const MAX_FILE_HEADER: usize = 64;

/// The longest batch header: two type bytes and four varints.
const MAX_BATCH_HEADER: usize = 2 + 4 * varint::MAX_LEN;

/// Reads one byte; `Ok(None)` at the end of the input.
#[inline]
fn next_byte(src: &mut dyn BufRead) -> Result<Option<u8>, IoCause> {
    loop {
        match src.fill_buf() {
            Ok([]) => return Ok(None),
            Ok(&[b, ..]) => {
                src.consume(1);
                return Ok(Some(b));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(IoCause::Io(e.kind())),
        }
    }
}

/// Reads and checks the file header, a byte at a time up to the end of its
/// pattern, exactly as `BatchReader::new` does; returns the version and the
/// header's length.
pub(crate) fn read_file_header(src: &mut dyn BufRead) -> Result<(Version, u64), Error> {
    let mut header = Vec::with_capacity(trace_wire::HEADER_LEN);
    while header.len() < MAX_FILE_HEADER && !header.ends_with(b"trace\0\0\0") {
        match next_byte(src) {
            Ok(Some(b)) => header.push(b),
            Ok(None) => break,
            Err(cause) => {
                return Err(WireError::new(WireKind::Io(cause), header.len() as u64).into());
            }
        }
    }
    // The bytes read are the whole input as far as the header goes.
    let r = BatchReader::new(&header[..])?;
    Ok((r.version(), r.offset()))
}

/// What comes next in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framed {
    /// A batch, with the batch's offset; its payload follows.
    Batch(BatchHeader, u64),
    /// An end-of-generation event (one byte, Go 1.26+), at this offset.
    EndOfGeneration(u64),
}

fn framed(f: WireFramed, start: u64) -> Framed {
    match f {
        WireFramed::Batch(h) => Framed::Batch(h, start),
        WireFramed::EndOfGeneration => Framed::EndOfGeneration(start),
    }
}

/// Batch framing state: where the input is, and the format version.
#[derive(Debug, Clone)]
pub(crate) struct Framing {
    version: Version,
    /// Whether an end-of-generation byte may stand where a batch starts.
    end_of_generation: bool,
    /// The offset of the next byte to read.
    offset: u64,
}

impl Framing {
    /// Framing after a file header of `header_len` bytes; with
    /// `end_of_generation`, end-of-generation events are recognized (Go
    /// 1.26+'s readers do so in traces of every version).
    pub(crate) fn new(version: Version, header_len: u64, end_of_generation: bool) -> Self {
        Self {
            version,
            end_of_generation,
            offset: header_len,
        }
    }

    /// The offset of the next byte to read.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next batch header or end-of-generation event; `Ok(None)` at
    /// the end of the input.
    pub(crate) fn read_header(
        &mut self,
        src: &mut dyn BufRead,
    ) -> Result<Option<Framed>, WireError> {
        let start = self.offset;
        // Usually the whole header is buffered: parse it in place.
        let buffered = loop {
            match src.fill_buf() {
                Ok(b) => break b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(WireError::new(WireKind::Io(IoCause::Io(e.kind())), start)),
            }
        };
        if buffered.len() >= MAX_BATCH_HEADER {
            let mut pos = 0;
            let header = parse_batch_header(
                || {
                    let b = buffered[pos];
                    pos += 1;
                    Ok(Some(b))
                },
                start,
                self.version,
                self.end_of_generation,
            );
            src.consume(pos);
            self.offset += pos as u64;
            return header.map(|h| h.map(|h| framed(h, start)));
        }
        let offset = &mut self.offset;
        let header = parse_batch_header(
            || {
                let b = next_byte(src)?;
                *offset += u64::from(b.is_some());
                Ok(b)
            },
            start,
            self.version,
            self.end_of_generation,
        )?;
        Ok(header.map(|h| framed(h, start)))
    }

    /// Appends the `size` bytes of the payload of the batch at `batch` to
    /// `dst`. If the input ends or fails first, `dst` keeps its old length.
    pub(crate) fn read_payload(
        &mut self,
        src: &mut dyn BufRead,
        size: u64,
        batch: u64,
        dst: &mut Vec<u8>,
    ) -> Result<(), WireError> {
        let old = dst.len();
        // The size was checked against MAX_BATCH_SIZE, so this is bounded.
        let size = size as usize;
        let mut n = 0;
        while n < size {
            match src.fill_buf() {
                Ok([]) => break,
                Ok(b) => {
                    let k = b.len().min(size - n);
                    dst.extend_from_slice(&b[..k]);
                    src.consume(k);
                    n += k;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    dst.truncate(old);
                    return Err(WireError::new(WireKind::Io(IoCause::Io(e.kind())), batch));
                }
            }
        }
        self.offset += n as u64;
        if n < size {
            dst.truncate(old);
            return Err(WireError::new(
                WireKind::BatchTruncated {
                    read: n as u64,
                    wanted: size as u64,
                },
                batch,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;

    use super::*;

    type Batches = Vec<(BatchHeader, u64, Vec<u8>)>;

    /// Every batch as `trace_wire::BatchReader` reads it.
    fn wire(data: &[u8]) -> Result<Batches, WireError> {
        let mut r = BatchReader::new(data)?;
        let mut res = Vec::new();
        let mut payload = Vec::new();
        while let Some((h, offset)) = r.read_batch(&mut payload)? {
            res.push((h, offset, payload.clone()));
        }
        Ok(res)
    }

    /// Every batch as [`Framing`] reads it through a buffer of `capacity`.
    fn ours(data: &[u8], capacity: usize) -> Result<Batches, WireError> {
        let mut src = BufReader::with_capacity(capacity, data);
        let (version, len) = match read_file_header(&mut src) {
            Ok(x) => x,
            // Header errors are wire errors with an offset.
            Err(e) => {
                let offset = e.offset().unwrap_or(0);
                let crate::ErrorKind::Wire(kind) = e.kind().clone() else {
                    panic!("not a wire error: {e:?}");
                };
                return Err(WireError::new(kind, offset));
            }
        };
        let mut f = Framing::new(version, len, false);
        let mut res = Vec::new();
        while let Some(Framed::Batch(h, offset)) = f.read_header(&mut src)? {
            let mut payload = vec![0xaa; 3];
            f.read_payload(&mut src, h.size, offset, &mut payload)?;
            assert_eq!(payload[..3], [0xaa; 3]);
            res.push((h, offset, payload[3..].to_vec()));
        }
        Ok(res)
    }

    fn check(data: &[u8]) {
        let want = wire(data);
        for capacity in [1, 2, 7, 41, 42, 43, 1000, 1 << 20] {
            assert_eq!(ours(data, capacity), want, "capacity {capacity}");
        }
    }

    #[test]
    fn batches_are_read_as_trace_wire_reads_them() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces");
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n.max(1) as u64) as usize
        };
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            if data.len() > 256 << 10 {
                continue;
            }
            n += 1;
            check(&data);
            for _ in 0..20 {
                let mut d = data.clone();
                let i = rand(d.len());
                match rand(3) {
                    0 => d.truncate(i),
                    1 => d[i] = [0, 1, 0x31, 0x7f, 0x80, 0xff][rand(6)],
                    _ => d.splice(i..i, [0xff; 11]).for_each(drop),
                }
                check(&d);
            }
        }
        assert!(n > 0);
        // Headers: short, odd, padded.
        for h in [
            &b""[..],
            b"go 1.23 trace",
            b"go 1.23 trace\0\0\0",
            b"go  1.23   trace\0\0\0\x01",
            b"go 1.99 trace\0\0\0",
            b"not a trace at all, not at all, certainly not a trace, no, not a trace",
        ] {
            check(h);
        }
    }
}
