//! Helpers for the recorder's integration tests: an in-memory writer, a
//! structural checker built on `trace-wire` (the format rules of
//! `05-writer.md` §1 that do not need the reader's state machine), and the
//! hook that saves traces for `cargo xtask oracle`.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use hashbrown::{HashMap, HashSet};

use trace_runtime::{Config, Format};
#[allow(unused_imports, reason = "each test binary uses a different subset")]
pub(crate) use trace_testkit::{save, serial, Capture};
use trace_wire::{
    parse_batch_header, ty, BatchKind, Batches, EventCursor, Framed, RawClockSnapshot, Stacks,
    Strings, Version, NO_THREAD,
};

/// The format the tests record in (`trace_testkit::format_minor`).
pub(crate) fn format() -> Format {
    match trace_testkit::format_minor() {
        23 => Format::Go123,
        _ => Format::Go126,
    }
}

/// The default settings, in the tests' format.
pub(crate) fn config() -> Config {
    Config::default().format(format())
}

/// Both formats, the tests' own first.
pub(crate) fn both_formats() -> [Format; 2] {
    match format() {
        Format::Go123 => [Format::Go123, Format::Go126],
        _ => [Format::Go126, Format::Go123],
    }
}

/// One timed event.
#[derive(Debug, Clone)]
pub(crate) struct Ev {
    pub(crate) ty: u8,
    pub(crate) args: Vec<u64>,
}

/// One generation, decoded.
#[derive(Debug, Default)]
pub(crate) struct Gen {
    pub(crate) gen: u64,
    pub(crate) freq: u64,
    /// The sync batch's time and clock snapshot (Go 1.26 format).
    pub(crate) sync: Option<(u64, RawClockSnapshot)>,
    pub(crate) strings: HashMap<u64, Vec<u8>>,
    /// Frames as (pc, func, file, line), innermost first.
    pub(crate) stacks: HashMap<u64, Vec<(u64, String, String, u64)>>,
    /// Each thread's events in order, threads in order of first batch.
    pub(crate) threads: Vec<(u64, Vec<Ev>)>,
    /// Events of no-thread batches.
    pub(crate) no_thread: Vec<Ev>,
}

impl Gen {
    pub(crate) fn string(&self, id: u64) -> String {
        if id == 0 {
            return String::new();
        }
        String::from_utf8_lossy(&self.strings[&id]).into_owned()
    }

    pub(crate) fn events(&self) -> impl Iterator<Item = (u64, &Ev)> {
        self.threads
            .iter()
            .flat_map(|(m, evs)| evs.iter().map(move |e| (*m, e)))
            .chain(self.no_thread.iter().map(|e| (NO_THREAD, e)))
    }
}

/// A decoded trace.
#[derive(Debug)]
pub(crate) struct Trace {
    pub(crate) version: Version,
    pub(crate) gens: Vec<Gen>,
}

impl Trace {
    /// Every `UserLog` as (thread, category, message), each thread's in the
    /// order the thread wrote them.
    pub(crate) fn logs(&self) -> Vec<(u64, String, String)> {
        let mut res = Vec::new();
        for g in &self.gens {
            for (m, e) in g.events() {
                if e.ty == ty::USER_LOG {
                    res.push((m, g.string(e.args[1]), g.string(e.args[2])));
                }
            }
        }
        res
    }

    /// How many events of type `t` the trace has.
    pub(crate) fn count(&self, t: u8) -> usize {
        self.gens
            .iter()
            .map(|g| g.events().filter(|(_, e)| e.ty == t).count())
            .sum()
    }
}

/// Reads `trace` back with `trace-reader` (Go's reader, reimplemented),
/// panicking on its first error; returns the events as `go tool trace -d=1`
/// prints them.
pub(crate) fn read_back(trace: &[u8]) -> Vec<String> {
    let reader = trace_reader::Reader::new(trace).expect("trace header");
    let mut res = Vec::new();
    for event in reader {
        match event {
            Ok(e) => res.push(e.to_string()),
            Err(e) => {
                let tail = res[res.len().saturating_sub(20)..].join("\n");
                panic!("trace-reader: {e}\nafter:\n{tail}");
            }
        }
    }
    res
}

/// Runs `trace-reader`'s validator (after Go's test validator) over
/// `trace`, panicking with every violation it reports.
pub(crate) fn validate(trace: &[u8]) {
    let report = trace_reader::validate(trace);
    assert!(report.is_valid(), "{report}");
}

/// Decodes `trace`, checking the structural rules every generation must
/// follow in its format (see [`check_framing`]) and reading it back with
/// `trace-reader`; panics with a message on the first violation.
pub(crate) fn parse(trace: &[u8]) -> Trace {
    read_back(trace);
    validate(trace);
    check_framing(trace);
    let mut batches = Batches::new(trace).expect("header");
    let version = batches.version();
    assert!(
        [Version::Go123, Version::Go126].contains(&version),
        "{version:?}"
    );
    let mut res = Trace {
        version,
        gens: Vec::new(),
    };
    let mut freqs = 0;
    while let Some(b) = batches.next_batch().expect("batch framing") {
        let gen = b.header.gen;
        if res.gens.last().map(|g| g.gen) != Some(gen) {
            if let Some(last) = res.gens.last() {
                assert_eq!(gen, last.gen + 1, "generations must be consecutive");
                assert_eq!(freqs, 1, "one frequency in generation {}", last.gen);
            }
            freqs = 0;
            res.gens.push(Gen {
                gen,
                ..Gen::default()
            });
        }
        let g = res.gens.last_mut().unwrap();
        match b.kind(version) {
            BatchKind::Frequency => {
                freqs += 1;
                g.freq = trace_wire::parse_frequency(b.payload, 0).unwrap();
            }
            BatchKind::Sync => {
                freqs += 1;
                let sync = trace_wire::parse_sync(b.payload, 0).unwrap();
                g.freq = sync.frequency.expect("a frequency in the sync batch");
                let clock = sync.clock.expect("a clock snapshot in the sync batch");
                g.sync = Some((b.header.time, clock));
            }
            BatchKind::Strings => {
                let mut s = Strings::new(b.payload, 0).unwrap();
                while let Some((id, data)) = s.next_string().unwrap() {
                    assert_ne!(id, 0, "string id 0 declared");
                    assert!(data.len() <= 1024);
                    let dup = g.strings.insert(id, data.to_vec());
                    assert!(dup.is_none(), "string {id} declared twice in gen {gen}");
                }
            }
            BatchKind::Stacks => {
                let mut s = Stacks::new(b.payload, 0).unwrap();
                while let Some(st) = s.next_stack().unwrap() {
                    assert_ne!(st.id, 0, "stack id 0 declared");
                    let frames = st
                        .frames()
                        .map(|f| (f.pc, f.func.to_string(), f.file.to_string(), f.line))
                        .collect();
                    let dup = g.stacks.insert(st.id, frames);
                    assert!(dup.is_none(), "stack {} declared twice", st.id);
                }
            }
            BatchKind::Events => {
                let mut cur = EventCursor::new(b.payload, version, b.payload_offset);
                let mut evs = Vec::new();
                while let Some(e) = cur.next_event().expect("event") {
                    evs.push(Ev {
                        ty: e.ty,
                        args: e.args().to_vec(),
                    });
                }
                if b.header.m == NO_THREAD {
                    g.no_thread.extend(evs);
                } else if let Some((_, t)) = g.threads.iter_mut().find(|(m, _)| *m == b.header.m) {
                    t.extend(evs);
                } else {
                    g.threads.push((b.header.m, evs));
                }
            }
            other => panic!("unexpected batch kind {other:?}"),
        }
    }
    assert_eq!(freqs, 1, "one frequency in the last generation");
    for g in &mut res.gens {
        check_ids(g, version);
    }
    res
}

/// Checks how generations are framed, as Go's runtime frames them: in a
/// Go 1.26 trace, every generation opens with its sync batch (no-thread,
/// `Sync` first) and ends with one end-of-generation event, and every batch
/// has a non-zero time; in a Go 1.23 trace there is no end-of-generation
/// event.
pub(crate) fn check_framing(trace: &[u8]) {
    let version = Batches::new(trace).expect("header").version();
    let go126 = version >= Version::Go126;
    let mut pos = trace_wire::HEADER_LEN;
    // The generation being read, and whether it was ended.
    let mut current: Option<(u64, bool)> = None;
    loop {
        let mut at = pos;
        let framed = parse_batch_header(
            || {
                let b = trace.get(at).copied();
                at += usize::from(b.is_some());
                Ok(b)
            },
            pos as u64,
            version,
            true,
        )
        .expect("batch framing");
        match framed {
            None => break,
            Some(Framed::EndOfGeneration) => {
                assert!(go126, "an end-of-generation event in a {version:?} trace");
                let (gen, ended) = current.expect("an end of generation before any batch");
                assert!(!ended, "generation {gen} ended twice");
                current = Some((gen, true));
                pos = at;
            }
            Some(Framed::Batch(h)) => {
                let payload = &trace[at..at + h.size as usize];
                pos = at + h.size as usize;
                if go126 {
                    assert_ne!(h.time, 0, "a real time in every batch");
                }
                if current.is_some_and(|(gen, ended)| gen == h.gen && !ended) {
                    continue;
                }
                if let Some((gen, ended)) = current {
                    assert_eq!(h.gen, gen + 1, "consecutive generations");
                    assert_eq!(ended, go126, "generation {gen} ended by an event");
                }
                current = Some((h.gen, false));
                if go126 {
                    assert_eq!(
                        (h.m, payload.first()),
                        (NO_THREAD, Some(&ty::SYNC)),
                        "generation {} opens with its sync batch",
                        h.gen
                    );
                }
            }
        }
    }
    if let Some((gen, ended)) = current {
        assert_eq!(
            ended, go126,
            "last generation {gen}: end-of-generation event"
        );
    }
}

/// Checks that every id an event or frame uses is declared, and resolves the
/// frames' names.
fn check_ids(g: &mut Gen, version: Version) {
    let n_events = g.events().count();
    assert!(n_events > 0, "generation {} has no event", g.gen);
    let strings: HashSet<u64> = g.strings.keys().copied().collect();
    let declared = |id: u64| id == 0 || strings.contains(&id);
    for (_, e) in g.events() {
        let spec = version.spec(e.ty).unwrap();
        // spec.args includes dt; e.args does not.
        for &i in spec.string_ids {
            let id = e.args[i - 1];
            assert!(
                declared(id),
                "gen {}: undeclared string {id} in {}",
                g.gen,
                spec.name
            );
        }
        for &i in spec.stack_ids {
            let id = e.args[i - 1];
            assert!(
                id == 0 || g.stacks.contains_key(&id),
                "gen {}: undeclared stack {id} in {}",
                g.gen,
                spec.name
            );
        }
    }
    let mut pcs: HashMap<u64, (String, String, u64)> = HashMap::new();
    for frames in g.stacks.values_mut() {
        for f in frames.iter_mut() {
            let (func, file) = (f.1.parse::<u64>().unwrap(), f.2.parse::<u64>().unwrap());
            assert!(declared(func) && func != 0, "frame function {func}");
            assert!(declared(file) && file != 0, "frame file {file}");
            f.1 = String::from_utf8_lossy(&g.strings[&func]).into_owned();
            f.2 = String::from_utf8_lossy(&g.strings[&file]).into_owned();
            assert!(f.0 != 0 && f.3 != 0, "frames need a PC and a line: {f:?}");
            let key = (f.1.clone(), f.2.clone(), f.3);
            let prev = pcs.entry(f.0).or_insert_with(|| key.clone());
            assert_eq!(*prev, key, "one frame per PC");
        }
    }
}

/// Checks that the logs whose message is `"<tag>:<i>:<j>"` hold, for every
/// `i` in `0..n_threads`, exactly `j = 0..per_thread`, in order, all from
/// one thread (M).
pub(crate) fn check_sequences(trace: &Trace, tag: &str, n_threads: usize, per_thread: usize) {
    check_sequence_counts(trace, tag, &vec![per_thread; n_threads]);
}

/// Like [`check_sequences`], with `counts[i]` messages for thread `i`.
pub(crate) fn check_sequence_counts(trace: &Trace, tag: &str, counts: &[usize]) {
    let mut seen: HashMap<usize, (u64, usize)> = HashMap::new();
    for (m, _, msg) in trace.logs() {
        let mut parts = msg.split(':');
        if parts.next() != Some(tag) {
            continue;
        }
        let i: usize = parts.next().unwrap().parse().unwrap();
        let j: usize = parts.next().unwrap().parse().unwrap();
        let entry = seen.entry(i).or_insert((m, 0));
        assert_eq!(entry.0, m, "thread {i} logged from two Ms");
        assert_eq!(
            entry.1, j,
            "thread {i}: expected message {} next, got {j}",
            entry.1
        );
        entry.1 += 1;
    }
    let n_expected = counts.iter().filter(|&&n| n > 0).count();
    assert_eq!(seen.len(), n_expected, "threads seen");
    for (i, (_, n)) in seen {
        assert_eq!(n, counts[i], "thread {i} messages");
    }
}
