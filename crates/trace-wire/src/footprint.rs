//! How many bytes each event type takes in a trace: the numbers behind
//! `go tool trace -d=footprint`.

use crate::error::Error;
use crate::spec::EventSpec;
use crate::text::{Event, GoRelease, RawReader};

/// The events of one type in a trace: how many there are and how many bytes
/// they take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TypeFootprint {
    /// The type byte.
    pub ty: u8,
    /// How many events of this type the trace has.
    pub count: u64,
    /// The sum of their canonical encoded sizes
    /// ([`Event::encoded_size`]).
    pub bytes: u64,
}

/// The events of a trace counted by type byte, as `go tool trace
/// -d=footprint` counts them: every event its raw reader reads (batch
/// headers and table entries included), each weighing the size of its
/// canonical encoding ([`Event::encoded_size`]), so that batch sizes the
/// runtime padded to ten bytes count as their minimal encoding.
///
/// Counting reads the whole trace with a [`RawReader`] and fails where it
/// fails: on a malformed trace, or at a type byte outside the release's
/// event table (Go 1.27 prints no table then, only the error).
///
/// ```
/// use trace_wire::footprint::Footprint;
/// use trace_wire::text::GoRelease;
///
/// let mut trace = b"go 1.23 trace\0\0\0".to_vec();
/// // EventBatch gen=1 m=2 time=3 size=300, the size padded to ten bytes.
/// trace.extend([1, 1, 2, 3, 0xac, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0]);
/// trace.extend([10, 1, 0, 7]); // ProcStart dt=1 p=0 p_seq=7
/// trace.extend([10, 2, 1, 8]); // ProcStart dt=2 p=1 p_seq=8
///
/// let footprint = Footprint::of_trace(&trace, GoRelease::LATEST)?;
/// assert_eq!(footprint.events(), 3);
/// assert_eq!(footprint.trace_bytes(), 16 + 14 + 4 + 4);
/// let starts = footprint.get(10);
/// assert_eq!((starts.count, starts.bytes), (2, 8));
/// assert_eq!(footprint.get(1).bytes, 6); // not 14
/// assert_eq!(footprint.name(10), Some("ProcStart"));
/// assert_eq!(footprint.name(50), None); // past the end of Go 1.27's 1.23 table
/// # Ok::<(), trace_wire::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Footprint {
    types: [TypeFootprint; 256],
    events: u64,
    trace_bytes: u64,
    table: &'static [EventSpec],
}

impl Footprint {
    /// Counts the events of the binary `trace` (header included) as
    /// `release`'s raw reader reads them; the error of the first problem it
    /// meets, if any. The input ending where an event's value should start
    /// ends the trace, as in Go: the cut-short event is not counted.
    pub fn of_trace(trace: &[u8], release: GoRelease) -> Result<Footprint, Error> {
        let mut reader = RawReader::new(trace, release)?;
        let mut footprint = Footprint {
            types: std::array::from_fn(|ty| TypeFootprint {
                ty: ty as u8,
                ..TypeFootprint::default()
            }),
            events: 0,
            trace_bytes: trace.len() as u64,
            table: reader.table(),
        };
        while let Some(event) = reader.next_event()? {
            footprint.add(&event);
        }
        Ok(footprint)
    }

    fn add(&mut self, event: &Event<'_>) {
        let entry = &mut self.types[usize::from(event.ty())];
        entry.count += 1;
        entry.bytes += event.encoded_size() as u64;
        self.events += 1;
    }

    /// The footprint of type byte `ty`.
    pub fn get(&self, ty: u8) -> TypeFootprint {
        self.types[usize::from(ty)]
    }

    /// Every type byte's footprint, in type byte order (most are zero).
    pub fn types(&self) -> &[TypeFootprint; 256] {
        &self.types
    }

    /// How many events the trace has.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The size of the whole input, header included. Go divides each
    /// type's bytes by this to get its share; the type's bytes add up to
    /// less, since they leave out the header and any padding.
    pub fn trace_bytes(&self) -> u64 {
        self.trace_bytes
    }

    /// The name of type byte `ty` in the event table that was read with:
    /// `None` past the end of the table, `Some("")` for a slot without a
    /// name (type 0, or the unused types below the experimental ones).
    pub fn name(&self, ty: u8) -> Option<&'static str> {
        self.table.get(usize::from(ty)).map(|spec| spec.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::text_to_bytes;
    use crate::SizeEncoding;

    #[test]
    fn counts_canonical_sizes_of_every_event() {
        let text = "Trace Go1.26
EventBatch gen=1 m=18446744073709551615 time=0 size=17
Strings
String id=1
\tdata=\"greet\"
String id=2
\tdata=\"\"
Stack id=1 nframes=2
\tpc=200 func=1 file=1 line=3
\tpc=1 func=1 file=1 line=300
EndOfGeneration
";
        let trace = text_to_bytes(text.as_bytes(), SizeEncoding::Padded).unwrap();
        let fp = Footprint::of_trace(&trace, GoRelease::Go127).unwrap();
        assert_eq!(fp.events(), 6);
        assert_eq!(fp.trace_bytes(), trace.len() as u64);
        let get = |ty| (fp.get(ty).count, fp.get(ty).bytes);
        // Type byte, 18446744073709551615 takes 10 bytes, 0, and 17.
        assert_eq!(get(crate::ty::EVENT_BATCH), (1, 1 + 1 + 10 + 1 + 1));
        assert_eq!(get(crate::ty::STRINGS), (1, 1));
        // Empty data still has its length.
        assert_eq!(get(crate::ty::STRING), (2, (1 + 1 + 1 + 5) + (1 + 1 + 1)));
        assert_eq!(
            get(crate::ty::STACK),
            (1, 1 + 1 + 1 + (2 + 1 + 1 + 1) + 4 + 1)
        );
        assert_eq!(get(crate::ty::END_OF_GENERATION), (1, 1));
        let total: u64 = fp.types().iter().map(|t| t.count).sum();
        assert_eq!(total, fp.events());
        assert!(fp
            .types()
            .iter()
            .enumerate()
            .all(|(i, t)| usize::from(t.ty) == i));
        assert_eq!(fp.name(0), Some(""));
        assert_eq!(fp.name(100), Some(""));
        assert_eq!(fp.name(136), Some("GoroutineStackFree"));
        assert_eq!(fp.name(137), None);
    }

    #[test]
    fn fails_where_the_raw_reader_fails() {
        let mut trace = b"go 1.23 trace\0\0\0".to_vec();
        trace.extend([2, 129, 1, 2, 3, 4]); // Stacks, SpanAlloc
        assert_eq!(
            Footprint::of_trace(&trace, GoRelease::Go127)
                .unwrap_err()
                .to_string(),
            "invalid event type: 129"
        );
        let fp = Footprint::of_trace(&trace, GoRelease::Go123).unwrap();
        assert_eq!((fp.events(), fp.name(129)), (2, Some("SpanAlloc")));
        assert!(Footprint::of_trace(b"go 1.23 trace\0\0", GoRelease::Go127).is_err());
        // A header alone: no events.
        let fp = Footprint::of_trace(b"go 1.26 trace\0\0\0", GoRelease::Go127).unwrap();
        assert_eq!((fp.events(), fp.trace_bytes()), (0, 16));
    }
}
