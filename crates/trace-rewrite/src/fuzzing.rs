//! Fuzzing harnesses. Not a stable API: for `fuzz/` targets and the
//! robustness tests only.
//!
//! The harness rewrites arbitrary bytes and reads both input and output with
//! `trace-reader`, panicking when a property does not hold (which is what a
//! fuzzer looks for).

use trace_reader::Reader;
use trace_wire::Version;

use crate::{rewrite, Generation, RedactOptions, Redactor};

/// Rewrites `data` (and its tail under each version's header, so that short
/// inputs reach the inner layers) three ways, checking:
/// - nothing panics, whatever the input;
/// - the identity copies the input exactly;
/// - re-encoding every batch gives a trace the reader reads to exactly the
///   same events (and the same error, if any) as the input;
/// - redaction keeps the number of events of a trace the reader reads
///   whole.
pub fn rewrite_round_trip(data: &[u8]) {
    check(data);
    if let Some((&v, body)) = data.split_first() {
        let version = Version::ALL[usize::from(v) % Version::ALL.len()];
        let mut trace = version.header().to_vec();
        trace.extend_from_slice(body);
        check(&trace);
    }
}

/// The events the reader yields, as text, and whether it read to the end.
fn events(data: &[u8]) -> (Vec<String>, bool) {
    let Ok(reader) = Reader::new(data) else {
        return (Vec::new(), false);
    };
    let mut res = Vec::new();
    for ev in reader {
        match ev {
            Ok(ev) => res.push(ev.to_string()),
            Err(_) => return (res, false),
        }
    }
    (res, true)
}

fn check(data: &[u8]) {
    let mut identity = Vec::new();
    if rewrite(data, &mut |_: &mut Generation<'_>| Ok(()), &mut identity).is_ok() {
        assert_eq!(identity, data, "the identity changed the trace");
    }
    let mut out = Vec::new();
    let reencoded = rewrite(
        data,
        &mut |g: &mut Generation<'_>| g.reencode_all(),
        &mut out,
    );
    let (before, whole) = events(data);
    if reencoded.is_ok() && whole {
        let (after, after_whole) = events(&out);
        assert!(after_whole, "the re-encoded trace does not read to the end");
        assert_eq!(before, after, "re-encoding changed the events");
    }
    let mut redactor = Redactor::new(RedactOptions::default());
    let mut out = Vec::new();
    if rewrite(data, &mut redactor, &mut out).is_ok() && whole {
        let (after, after_whole) = events(&out);
        assert!(after_whole, "the redacted trace does not read to the end");
        assert_eq!(before.len(), after.len(), "redaction changed the events");
    }
}
