//! Which Go release's raw reader to imitate.

use std::fmt;

use crate::spec::{ty, EventSpec, Version};

/// A Go release whose raw trace reader (`internal/trace/raw`, behind
/// `go tool trace -d=2` in Go 1.23 and `-d=wire` since Go 1.25) the
/// [`RawReader`](super::RawReader) imitates.
///
/// Releases print every event they read the same way; they differ in which
/// header versions they accept and in the event table each version gets,
/// that is in which type bytes are events and which are the error
/// `invalid event type: N`:
///
/// | trace header | Go 1.23 | Go 1.27 |
/// |---|---|---|
/// | `go 1.22 trace` | types 1–136 | types 1–44 (`UserLog`) |
/// | `go 1.23 trace` | types 1–136 | types 1–49 (`ExperimentalBatch`) |
/// | `go 1.25 trace` | rejected | types 1–51 (`ClockSnapshot`) |
/// | `go 1.26 trace` | rejected | types 1–136 |
///
/// Types 128–136 are the alloc/free experiment's events (`Span`,
/// `HeapObject`, `GoroutineStack`, …), which Go 1.23's runtime writes into
/// experimental batches with `GODEBUG=traceallocfree=1`: Go 1.23 prints
/// them, Go 1.27 stops at the first one. A type inside the table but without
/// a name (50–127 for Go 1.23; 53–127 for a 1.26 trace in Go 1.27) is read
/// as an event without arguments and printed as an empty line. Both accept
/// the pre-v2 headers 1.11, 1.19 and 1.21, with an empty table.
///
/// ```
/// use trace_wire::text::{GoRelease, RawReader};
///
/// let mut trace = b"go 1.23 trace\0\0\0".to_vec();
/// trace.extend([49, 1, 1, 2, 3, 0]); // ExperimentalBatch exp=1 gen=1 m=2 time=3
/// trace.extend([129, 5, 1, 2, 3]); // SpanAlloc dt=5 id=1 npages_value=2 kindclass=3
///
/// let mut go123 = RawReader::new(&trace, GoRelease::Go123)?;
/// go123.next_event()?;
/// assert_eq!(go123.next_event()?.unwrap().name(), "SpanAlloc");
///
/// let mut go127 = RawReader::new(&trace, GoRelease::Go127)?;
/// go127.next_event()?;
/// assert_eq!(go127.next_event().unwrap_err().to_string(), "invalid event type: 129");
/// # Ok::<(), trace_wire::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GoRelease {
    /// Go 1.23: `go tool trace -d=2`.
    Go123,
    /// Go 1.27: `go tool trace -d=wire`.
    Go127,
}

impl GoRelease {
    /// The newest release this crate imitates.
    pub const LATEST: GoRelease = GoRelease::Go127;

    /// Every release this crate imitates, oldest first.
    pub const ALL: [GoRelease; 2] = [GoRelease::Go123, GoRelease::Go127];

    /// Whether this release's reader accepts a trace whose header names
    /// `version` (`None` for the pre-v2 versions, which every release
    /// accepts).
    pub fn accepts(self, version: Option<Version>) -> bool {
        match (self, version) {
            (_, None) => true,
            (GoRelease::Go123, Some(v)) => v <= Version::Go123,
            (GoRelease::Go127, Some(_)) => true,
        }
    }

    /// The event table, indexed by type byte, that this release's raw reader
    /// uses for a trace of `version` (`None`: a pre-v2 trace, whose table is
    /// empty). Meaningful only if [`accepts`](Self::accepts) is true.
    pub fn table(self, version: Option<Version>) -> &'static [EventSpec] {
        let Some(version) = version else {
            return &[];
        };
        let full = version.specs();
        match self {
            // One table for 1.22 and 1.23, experimental events included.
            GoRelease::Go123 => full,
            // Go 1.27's `internal/trace/version`: each version's table ends
            // with the last event that version introduced.
            GoRelease::Go127 => {
                let last = match version {
                    Version::Go122 => ty::USER_LOG,
                    Version::Go123 => ty::EXPERIMENTAL_BATCH,
                    Version::Go125 => ty::CLOCK_SNAPSHOT,
                    Version::Go126 => return full,
                };
                &full[..=usize::from(last)]
            }
        }
    }
}

/// `Go1.23` or `Go1.27`.
impl fmt::Display for GoRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GoRelease::Go123 => "Go1.23",
            GoRelease::Go127 => "Go1.27",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_prefixes_of_the_version_tables() {
        for release in GoRelease::ALL {
            for version in Version::ALL {
                let table = release.table(Some(version));
                assert_eq!(table, &version.specs()[..table.len()]);
            }
            assert!(release.table(None).is_empty());
            assert!(release.accepts(None));
        }
        let len = |r: GoRelease, v| r.table(Some(v)).len();
        assert_eq!(len(GoRelease::Go127, Version::Go122), 45);
        assert_eq!(len(GoRelease::Go127, Version::Go123), 50);
        assert_eq!(len(GoRelease::Go127, Version::Go125), 52);
        assert_eq!(len(GoRelease::Go127, Version::Go126), 137);
        assert_eq!(len(GoRelease::Go123, Version::Go122), 137);
        assert!(!GoRelease::Go123.accepts(Some(Version::Go125)));
        assert!(GoRelease::Go127.accepts(Some(Version::Go126)));
    }
}
