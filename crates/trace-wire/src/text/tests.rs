//! Tests of the text form as a whole: Go's error messages, the spec's
//! example, and a deterministic no-panic loop over random inputs.

use super::*;
use crate::spec::Version;

/// The example of spec §12.5: text and the 86 bytes Go makes of it.
const SPEC_TEXT: &str = "Trace Go1.23
EventBatch gen=1 m=18446744073709551615 time=0 size=5
Frequency freq=15625000
EventBatch gen=1 m=1 time=100 size=15
ProcStatus dt=0 p=0 pstatus=1
GoStatus dt=0 g=1 m=1 gstatus=2
UserLog dt=2 task=0 key_string=1 value_string=2 stack=0
EventBatch gen=1 m=18446744073709551615 time=0 size=17
Strings
String id=1
\tdata=\"greet\"
String id=2
\tdata=\"hello\"
";

const SPEC_BINARY: &[u8] = &[
    0x67, 0x6f, 0x20, 0x31, 0x2e, 0x32, 0x33, 0x20, 0x74, 0x72, 0x61, 0x63, 0x65, 0x00, 0x00, 0x00,
    0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x05, //
    0x08, 0xa8, 0xd6, 0xb9, 0x07, //
    0x01, 0x01, 0x01, 0x64, 0x0f, //
    0x0d, 0x00, 0x00, 0x01, //
    0x19, 0x00, 0x01, 0x01, 0x02, //
    0x2c, 0x02, 0x00, 0x01, 0x02, 0x00, //
    0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x11, //
    0x04, //
    0x05, 0x01, 0x05, 0x67, 0x72, 0x65, 0x65, 0x74, //
    0x05, 0x02, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
];

/// The text Go 1.27 prints for `trace` (and its error).
fn to_text(trace: &[u8], versioned: bool) -> (String, Option<String>) {
    to_text_as(trace, GoRelease::LATEST, versioned)
}

fn to_text_as(trace: &[u8], release: GoRelease, versioned: bool) -> (String, Option<String>) {
    let mut out = Vec::new();
    let err = bytes_to_text(trace, release, versioned, &mut out).err();
    (String::from_utf8(out).unwrap(), err.map(|e| e.to_string()))
}

#[test]
fn spec_example_both_ways() {
    assert_eq!(SPEC_BINARY.len(), 86);
    let binary = text_to_bytes(SPEC_TEXT.as_bytes(), SizeEncoding::Minimal).unwrap();
    assert_eq!(binary, SPEC_BINARY);
    for release in GoRelease::ALL {
        assert_eq!(
            to_text_as(SPEC_BINARY, release, true),
            (SPEC_TEXT.to_string(), None)
        );
    }
    // Without the header line, as `go tool trace -d=2` prints it.
    let body = SPEC_TEXT.split_once('\n').unwrap().1;
    assert_eq!(to_text(SPEC_BINARY, false), (body.to_string(), None));
}

#[test]
fn padded_sizes() {
    let text = "Trace Go1.23
EventBatch gen=1 m=2 time=3 size=1
Frequency freq=1
ExperimentalBatch exp=1 gen=1 m=2 time=3
\tdata=\"\\x01\"
";
    let binary = text_to_bytes(text.as_bytes(), SizeEncoding::Padded).unwrap();
    let mut want = Version::Go123.header().to_vec();
    want.extend([
        1, 1, 2, 3, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0,
    ]);
    want.extend([8, 1]);
    want.extend([
        49, 1, 1, 2, 3, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0, 1,
    ]);
    assert_eq!(binary, want);
    // Padding is lost on the way to text, and comes back with the option.
    assert_eq!(to_text(&binary, true), (text.to_string(), None));
}

#[test]
fn reader_accepts_what_go_accepts() {
    let text = b"  # leading comment\n\
        Trace\tGo1.023 \r\n\
        \n\
        Stack  id=1   nframes=2 \n\
        # between frames\n\
        pc=1 func=2 file=3 line=4\n\
        \x20  pc=005 func=6 file=7 line=8\r\n\
        String id=1\n\
        \n\
        \x20data = `a\rb`  \n\
        String id=2\n\
        data='\\''\n\
        ExperimentalBatch exp=1 gen=1 m=2 time=3\n\
        \tdata=\"\\xff\\u00e9\\377\"";
    let binary = text_to_bytes(text, SizeEncoding::Minimal).unwrap();
    let want = "Trace Go1.23
Stack id=1 nframes=2
\tpc=1 func=2 file=3 line=4
\tpc=5 func=6 file=7 line=8
String id=1
\tdata=\"ab\"
String id=2
\tdata=\"'\"
ExperimentalBatch exp=1 gen=1 m=2 time=3
\tdata=\"\\xffé\\xff\"
";
    assert_eq!(to_text(&binary, true), (want.to_string(), None));
}

#[test]
fn parse_errors_match_go() {
    // Each message was checked against Go 1.23's `gotraceraw text2bytes`.
    let cases: &[(&[u8], usize, &str)] = &[
        (b"", 1, "EOF"),
        (b"\n  \n# only comments\n", 1, "EOF"),
        (b"Trac Go1.23\n", 1, "failed to parse header"),
        (b"Trace go1.23\n", 1, "failed to parse header Go version"),
        (
            b"Trace Go1.x\n",
            1,
            r#"failed to parse header Go version: strconv.ParseUint: parsing "x": invalid syntax"#,
        ),
        (
            b"Trace Go1.99999999999999999999\n",
            1,
            r#"failed to parse header Go version: strconv.ParseUint: parsing "99999999999999999999": value out of range"#,
        ),
        (
            b"Trace Go1.24\n",
            1,
            "unknown or unsupported Go version 1.24",
        ),
        (
            b"\nTrace Go1.23 extra\n",
            2,
            r#"encountered unexpected non-space at the end of the header: " extra""#,
        ),
        (b"Trace Go1.23\nBogus x=1\n", 2, "unidentified event: Bogus"),
        (
            b"Trace Go1.11\nFrequency freq=1\n",
            2,
            "unidentified event: Frequency",
        ),
        (b"Trace Go1.22\nSync\n", 2, "unidentified event: Sync"),
        (
            b"Trace Go1.23\nProcStart dt=1 p=2\n",
            2,
            "reading args for ProcStart: no argument",
        ),
        (
            b"Trace Go1.23\nProcStart dt=1 p=2 p_seq\n",
            2,
            r#"reading args for ProcStart: malformed argument: "p_seq""#,
        ),
        (
            b"Trace Go1.23\nProcStart dt=1 p=-2 p_seq=3\n",
            2,
            r#"reading args for ProcStart: failed to parse argument value "-2" for arg "p""#,
        ),
        (
            b"Trace Go1.23\nProcStart dt=1 q=2 p_seq=3\n",
            2,
            r#"reading args for ProcStart: expected argument "p", but got "q""#,
        ),
        (
            b"Trace Go1.23\nProcStart dt=1 p=2 p_seq=3 extra\n",
            2,
            r#"reading args for ProcStart: encountered unexpected non-space at the end of an event: " extra""#,
        ),
        (
            b"Trace Go1.23\nProcStart dt=1 p=2 p_seq=3 # comment\n",
            2,
            r##"reading args for ProcStart: encountered unexpected non-space at the end of an event: " # comment""##,
        ),
        (
            b"Trace Go1.23\nEventBatch gen=1 m=2 time=3 size=18446744073709551616\n",
            2,
            r#"reading args for EventBatch: failed to parse argument value "18446744073709551616" for arg "size""#,
        ),
        (
            b"Trace Go1.23\nStack id=1 nframes=2\n\tpc=1 func=2 file=3 line=4\n",
            2,
            "unexpected EOF while reading stack: args=[1 2 1 2 3 4]",
        ),
        (
            b"Trace Go1.23\nStack id=1 nframes=1\n\tpc=1 func=2 file=3\n",
            3,
            "no argument",
        ),
        (
            b"Trace Go1.23\nStack id=1 nframes=1\n\n\tpc=1 func=2 fil=3 line=4\n",
            4,
            r#"expected argument "file", but got "fil""#,
        ),
        (
            b"Trace Go1.23\nString id=1\n",
            2,
            "unexpected EOF while reading data for String: args=[1]",
        ),
        (
            b"Trace Go1.23\nExperimentalBatch exp=1 gen=1 m=2 time=3\n",
            2,
            "unexpected EOF while reading data for ExperimentalBatch: args=[1 1 2 3]",
        ),
        (
            b"Trace Go1.23\nString id=1\n\tdat=\"x\"\n",
            3,
            r#"malformed data: "\tdat=\"x\"""#,
        ),
        (
            b"Trace Go1.23\nString id=1\n\tdata \"x\"\n",
            3,
            r#"malformed data: "\tdata \"x\"""#,
        ),
        (
            b"Trace Go1.23\nString id=1\n\tdata=\"x\n",
            3,
            r#"failed to parse data: "\tdata=\"x": invalid syntax"#,
        ),
    ];
    for &(text, line, message) in cases {
        let err = text_to_bytes(text, SizeEncoding::Minimal).unwrap_err();
        assert_eq!(err.kind().to_string(), message, "{:?}", quote(text));
        assert_eq!(err.line(), line, "{:?}", quote(text));
        assert_eq!(err.to_string(), format!("line {line}: {message}"));
    }
}

#[test]
fn go_quirks_of_the_text_reader() {
    // Go keeps the version in 32 bits: 2^32 + 23 is 1.23.
    let binary = text_to_bytes(
        b"Trace Go1.4294967319\nFrequency freq=1\n",
        SizeEncoding::Minimal,
    )
    .unwrap();
    assert_eq!(&binary[16..], [8, 1]);
    // Invalid UTF-8 inside quotes becomes U+FFFD.
    let binary = text_to_bytes(
        b"Trace Go1.23\nString id=1\n\tdata=\"\xff\"\n",
        SizeEncoding::Minimal,
    )
    .unwrap();
    assert_eq!(&binary[16..], [5, 1, 3, 0xef, 0xbf, 0xbd]);
    // A frame count that is negative as an int64 reads no frames.
    let binary = text_to_bytes(
        b"Trace Go1.23\nStack id=1 nframes=18446744073709551615\nStacks\n",
        SizeEncoding::Minimal,
    )
    .unwrap();
    assert_eq!(binary.len(), 16 + 1 + 1 + 10 + 1);
    // Empty data is written, but Go prints no data line for it.
    let binary = text_to_bytes(
        b"Trace Go1.23\nString id=1\n\tdata=\"\"\n",
        SizeEncoding::Minimal,
    )
    .unwrap();
    assert_eq!(&binary[16..], [5, 1, 0]);
    assert_eq!(to_text(&binary, false), ("String id=1\n".to_string(), None));
}

#[test]
fn event_accessors() {
    let mut reader = TextReader::new(SPEC_TEXT.as_bytes()).unwrap();
    assert_eq!(
        (reader.minor(), reader.version()),
        (23, Some(Version::Go123))
    );
    let batch = reader.next_event().unwrap().unwrap();
    assert_eq!(batch.ty(), ty::EVENT_BATCH);
    assert_eq!(batch.spec().args, ["gen", "m", "time", "size"]);
    assert_eq!(batch.args(), [1, u64::MAX, 0, 5]);
    assert_eq!(batch.frames().count(), 0);
    assert_eq!(batch.data(), None);
    let mut last = None;
    while let Some(e) = reader.next_event().unwrap() {
        last = Some((e.name(), e.data().map(<[u8]>::to_vec)));
    }
    assert_eq!(last, Some(("String", Some(b"hello".to_vec()))));
    assert_eq!(reader.line(), 13);
}

/// A small deterministic pseudo-random generator (xorshift64*).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Applies a few random edits: byte flips, insertions of interesting
/// fragments, deletions and truncation.
fn mutate(rng: &mut XorShift, input: &[u8], fragments: &[&[u8]]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(4) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            1 => {
                let i = rng.below(b.len() + 1);
                let f = fragments[rng.below(fragments.len())];
                b.splice(i..i, f.iter().copied());
            }
            2 if !b.is_empty() => {
                let i = rng.below(b.len());
                let n = (1 + rng.below(4)).min(b.len() - i);
                b.drain(i..i + n);
            }
            _ => b.truncate(rng.below(b.len() + 1)),
        }
    }
    b
}

#[test]
fn no_panics_on_random_input() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let text_fragments: &[&[u8]] = &[
        b" ",
        b"\t",
        b"#",
        b"=",
        b"0",
        b"\"",
        b"'",
        b"`",
        b"\\",
        b"\\x",
        b"\\u",
        b"\\U",
        b"\xc2\xa0",
        b"\xff",
        b"\r",
        b"\n",
        b"data=",
        b"nframes=99",
        b"Stack id=1 nframes=3\n",
        b"String id=1\n",
        b"18446744073709551616",
        b"\\377",
        b"\xe2\x80\xa8",
    ];
    let binary_fragments: &[&[u8]] = &[
        &[0],
        &[3, 1, 0x7f],
        &[5, 1, 0xff, 0x7f],
        &[49, 1],
        &[0x80],
        &[0xff; 10],
        &[60],
        &[200],
    ];
    let mut padded_text = Vec::new();
    // More rounds with e.g. `TRACE_WIRE_TEXT_ROUNDS=1000000 cargo test`.
    let rounds = std::env::var("TRACE_WIRE_TEXT_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    for round in 0..rounds {
        // Text → binary → text → binary must be stable when the text parses.
        let text = mutate(&mut rng, SPEC_TEXT.as_bytes(), text_fragments);
        if let Ok(binary) = text_to_bytes(&text, SizeEncoding::Minimal) {
            let (again, err) = to_text(&binary, true);
            if err.is_none() {
                // Empty data and huge frame counts do not survive the trip.
                if let Ok(b2) = text_to_bytes(again.as_bytes(), SizeEncoding::Minimal) {
                    let (again2, _) = to_text(&b2, true);
                    assert_eq!(again, again2, "round {round}");
                }
            }
        }
        // Binary → text, on mutated and on random bytes.
        let binary = mutate(&mut rng, SPEC_BINARY, binary_fragments);
        let release = GoRelease::ALL[round % GoRelease::ALL.len()];
        let mut sink = Vec::new();
        let _ = bytes_to_text(&binary, release, round % 3 == 0, &mut sink);
        let mut random = Version::ALL[rng.below(4)].header().to_vec();
        random.extend((0..rng.below(64)).map(|_| rng.next() as u8));
        padded_text.clear();
        if bytes_to_text(&random, release, true, &mut padded_text).is_ok() {
            // What we print parses back, unless some event has empty data:
            // Go prints no data line for it, which its reader then misses
            // (spec §12.4).
            let mut reader = RawReader::new(&random, release).unwrap();
            let mut empty_data = false;
            while let Some(e) = reader.next_event().unwrap() {
                empty_data |= e.spec().has_data && e.data().is_none();
            }
            let binary = text_to_bytes(&padded_text, SizeEncoding::Padded);
            assert!(empty_data || binary.is_ok(), "round {round}: {binary:?}");
        }
        // Quoting round-trips any bytes.
        let bytes: Vec<u8> = (0..rng.below(16)).map(|_| rng.next() as u8).collect();
        let quoted = quote(&bytes);
        assert_eq!(unquote(quoted.as_bytes()).as_deref(), Ok(&bytes[..]));
        let _ = unquote(&mutate(&mut rng, quoted.as_bytes(), text_fragments));
    }
}
