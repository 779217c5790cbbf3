//! Timed events inside an event batch.

use crate::error::{Error, ErrorKind};
use crate::spec::{EventSpec, Version};
use crate::varint;

/// The most arguments a timed event has after its time delta.
pub const MAX_ARGS: usize = 4;

/// One timed event as it is on the wire: type, time delta and arguments.
///
/// Decoding one allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEvent {
    /// The type byte.
    pub ty: u8,
    /// Ticks since the previous event of the batch (or the batch's base time).
    pub dt: u64,
    /// The arguments after `dt`, in table order; unused slots are zero.
    pub args: [u64; MAX_ARGS],
    /// How many of `args` are used.
    pub n_args: u8,
}

impl RawEvent {
    /// The arguments after `dt`.
    pub fn args(&self) -> &[u64] {
        &self.args[..usize::from(self.n_args)]
    }

    /// Appends the encoded event to `out` (minimal varints).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.ty);
        varint::encode(self.dt, out);
        for &a in self.args() {
            varint::encode(a, out);
        }
    }
}

/// A cursor over the timed events of one event batch's payload.
///
/// ```
/// use trace_wire::{EventCursor, Version};
/// // ProcStatus dt=0 p=0 pstatus=1, then GoStatus dt=0 g=1 m=1 gstatus=2.
/// let payload = [13, 0, 0, 1, 25, 0, 1, 1, 2];
/// let mut events = EventCursor::new(&payload, Version::Go123, 0);
/// let e = events.next_event()?.unwrap();
/// assert_eq!((e.ty, e.args()), (13, &[0, 1][..]));
/// let e = events.next_event()?.unwrap();
/// assert_eq!(e.args(), &[1, 1, 2]);
/// assert!(events.next_event()?.is_none());
/// # Ok::<(), trace_wire::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct EventCursor<'a> {
    data: &'a [u8],
    pos: usize,
    specs: &'static [EventSpec],
    base_offset: u64,
}

impl<'a> EventCursor<'a> {
    /// A cursor over `payload`, whose first byte is at `base_offset` in the file
    /// (used for error offsets only).
    pub fn new(payload: &'a [u8], version: Version, base_offset: u64) -> Self {
        Self {
            data: payload,
            pos: 0,
            specs: version.specs(),
            base_offset,
        }
    }

    /// The offset of the next event relative to the payload's start.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether no bytes are left.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Decodes the next event; `Ok(None)` when the payload is exhausted.
    #[inline]
    pub fn next_event(&mut self) -> Result<Option<RawEvent>, Error> {
        let Some(&ty) = self.data.get(self.pos) else {
            return Ok(None);
        };
        let fail = |kind| Error::new(kind, self.base_offset + self.pos as u64);
        let Some(spec) = self.specs.get(usize::from(ty)) else {
            return Err(fail(ErrorKind::InvalidEventType(ty)));
        };
        if spec.args.is_empty() || !spec.is_timed {
            return Err(fail(ErrorKind::EventWithoutTimestamp(ty)));
        }
        let mut pos = self.pos + 1;
        let (dt, n) = varint::decode(&self.data[pos..])
            .map_err(|_| Error::new(ErrorKind::InvalidTimestamp, self.base_offset + pos as u64))?;
        pos += n;
        let n_args = spec.args.len() - 1;
        let mut args = [0u64; MAX_ARGS];
        for arg in args.iter_mut().take(n_args) {
            let (v, n) = varint::decode(&self.data[pos..]).map_err(|_| {
                Error::new(ErrorKind::InvalidArgument, self.base_offset + pos as u64)
            })?;
            *arg = v;
            pos += n;
        }
        self.pos = pos;
        Ok(Some(RawEvent {
            ty,
            dt,
            args,
            n_args: n_args as u8,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(bytes: &[u8]) -> Result<Option<RawEvent>, Error> {
        EventCursor::new(bytes, Version::Go123, 100).next_event()
    }

    #[test]
    fn decode_errors() {
        assert_eq!(
            first(&[200]).unwrap_err().to_string(),
            "found invalid event type: 200"
        );
        assert_eq!(
            first(&[5]).unwrap_err().to_string(),
            "found event without a timestamp: type=5"
        );
        assert_eq!(
            first(&[60]).unwrap_err().to_string(),
            "found event without a timestamp: type=60"
        );
        assert_eq!(
            first(&[13]).unwrap_err().to_string(),
            "found invalid uvarint for timestamp"
        );
        let e = first(&[13, 0, 0x80]).unwrap_err();
        assert_eq!(e.to_string(), "found invalid uvarint");
        assert_eq!(e.offset(), 102);
    }

    #[test]
    fn encode_round_trip() {
        let e = RawEvent {
            ty: 44,
            dt: 300,
            args: [0, 1, 2, 0],
            n_args: 4,
        };
        let mut buf = Vec::new();
        e.encode(&mut buf);
        assert_eq!(first(&buf).unwrap(), Some(e));
    }
}
