//! Fuzzing harnesses. Not a stable API: for `fuzz/` targets only.
//!
//! Each harness runs the decoders over arbitrary bytes and checks properties
//! that must hold for every input, panicking when one does not (which is
//! what the fuzzer looks for).

use crate::{
    parse_frequency, parse_sync, read_header, BatchHeader, BatchKind, BatchReader, Batches,
    CpuSamples, Error, EventCursor, SizeEncoding, Stacks, Strings, Version,
};

/// `data`'s tail under the header of the version its first byte picks, so
/// that short inputs reach the layers past the header without having to
/// guess one; `None` for no input. The other crates' harnesses use it too.
pub fn under_a_header(data: &[u8]) -> Option<Vec<u8>> {
    let (&v, body) = data.split_first()?;
    let version = Version::ALL[usize::from(v) % Version::ALL.len()];
    let mut trace = version.header().to_vec();
    trace.extend_from_slice(body);
    Some(trace)
}

/// Decodes `data` as a trace, batch by batch and event by event, checking:
/// - the slice and streaming batch readers agree, on success and on error;
/// - every decoded batch header and event re-encodes to bytes that decode to
///   the same values;
/// - errors point inside the input.
pub fn batches(data: &[u8]) {
    // Also try the body under every version, so that short inputs reach the
    // batch decoder without having to guess a header.
    if read_header(data).is_ok() {
        check_trace(data);
    }
    if let Some(trace) = under_a_header(data) {
        check_trace(&trace);
    }
}

fn check_trace(data: &[u8]) {
    let from_slice = decode_slice(data);
    let from_stream = decode_stream(data);
    assert_eq!(from_slice, from_stream, "slice and stream readers disagree");
    if let Err(e) = from_slice {
        assert!(
            e.offset() <= data.len() as u64,
            "error offset {} past the end {}",
            e.offset(),
            data.len()
        );
    }
}

fn decode_slice(data: &[u8]) -> Result<Vec<BatchHeader>, Error> {
    let mut batches = Batches::new(data)?;
    let version = batches.version();
    let mut headers = Vec::new();
    while let Some(batch) = batches.next_batch()? {
        let mut buf = Vec::new();
        for enc in [SizeEncoding::Minimal, SizeEncoding::Padded] {
            buf.clear();
            buf.extend_from_slice(&version.header());
            batch.header.encode(&mut buf, enc);
            buf.extend_from_slice(batch.payload);
            let again = Batches::new(&buf)
                .and_then(|mut b| b.next_batch())
                .expect("re-encoded batch decodes");
            let again = again.expect("re-encoded batch is there");
            assert_eq!((again.header, again.payload), (batch.header, batch.payload));
        }
        // Payload errors are fine; panics and wrong offsets are not.
        if let Err(e) = decode_payload(batch.header, batch.payload, batch.payload_offset, version) {
            let end = batch.payload_offset + batch.payload.len() as u64;
            assert!(
                e.offset() >= batch.payload_offset && e.offset() <= end,
                "payload error offset out of range: {e:?}"
            );
        }
        headers.push(batch.header);
    }
    Ok(headers)
}

fn decode_stream(data: &[u8]) -> Result<Vec<BatchHeader>, Error> {
    let mut reader = BatchReader::new(data)?;
    let slice_start = Batches::new(data).map(|b| b.offset());
    assert_eq!(
        Ok(reader.offset()),
        slice_start,
        "readers disagree on the header length"
    );
    let mut headers = Vec::new();
    let mut payload = Vec::new();
    while let Some((header, _)) = reader.read_batch(&mut payload)? {
        headers.push(header);
    }
    Ok(headers)
}

fn decode_payload(
    header: BatchHeader,
    payload: &[u8],
    base: u64,
    version: Version,
) -> Result<(), Error> {
    match header.kind(payload, version) {
        BatchKind::Strings => {
            let mut s = Strings::new(payload, base)?;
            while s.next_string()?.is_some() {}
        }
        BatchKind::Stacks => {
            let mut s = Stacks::new(payload, base)?;
            while let Some(stack) = s.next_stack()? {
                assert_eq!(stack.frames().count() as u64, stack.n_frames);
            }
        }
        BatchKind::CpuSamples => {
            let mut s = CpuSamples::new(payload, base)?;
            while s.next_sample()?.is_some() {}
        }
        BatchKind::Frequency => {
            parse_frequency(payload, base)?;
        }
        BatchKind::Sync => {
            parse_sync(payload, base)?;
        }
        BatchKind::Experimental(_) => {}
        BatchKind::Events => {
            let mut events = EventCursor::new(payload, version, base);
            let mut buf = Vec::new();
            while let Some(event) = events.next_event()? {
                buf.clear();
                event.encode(&mut buf);
                let again = EventCursor::new(&buf, version, 0)
                    .next_event()
                    .expect("re-encoded event decodes");
                assert_eq!(again, Some(event));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// A few thousand pseudo-random inputs through the harness, so that
    /// `cargo test` already catches the easy panics.
    #[test]
    fn random_inputs_do_not_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 96) as usize;
            // Bias bytes towards small values, which are meaningful type bytes.
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 3 == 0 {
                        (r >> 8) as u8
                    } else {
                        (r >> 8) as u8 % 12
                    }
                })
                .collect();
            super::batches(&data);
        }
    }
}
