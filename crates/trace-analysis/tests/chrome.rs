//! The Chrome trace-event JSON is valid JSON and its slices nest on every
//! track: checked on every curated trace and, when the shared corpus is
//! beside the workspace, on its large trace (4.9 M events), whose JSON is
//! checked as it is written (a few hundred MB never held in memory).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use trace_analysis::chrome::ChromeWriter;
use trace_reader::{EventKind, Reader};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// One trace event, the fields the checks need.
#[derive(Debug, Deserialize)]
struct Ev {
    ph: String,
    pid: u64,
    tid: Option<u64>,
    ts: Option<f64>,
    name: Option<String>,
    cat: Option<String>,
    id: Option<u64>,
}

/// A track's begin and end events: (time in ns, sequence number, is a
/// begin).
type TrackEvents = Vec<(i64, u32, bool)>;

/// Per-track begin/end events, checked once all are in.
#[derive(Debug, Default)]
struct Checker {
    events: u64,
    /// (pid, tid) → its events.
    tracks: BTreeMap<(u64, u64), TrackEvents>,
    /// Task id → (begins, ends, begin time, end time).
    tasks: BTreeMap<u64, (u32, u32, i64, i64)>,
    instants: u64,
    counters: u64,
    max_ts: i64,
}

impl Checker {
    fn add(&mut self, ev: Ev) {
        self.events += 1;
        let ts = ev.ts.map(|t| (t * 1000.0).round() as i64);
        if let Some(t) = ts {
            assert!(t >= 0, "negative ts in {ev:?}");
            self.max_ts = self.max_ts.max(t);
        }
        match ev.ph.as_str() {
            "B" | "E" => {
                let begin = ev.ph == "B";
                if begin {
                    assert!(
                        ev.name.as_deref().is_some_and(|n| !n.is_empty()),
                        "unnamed slice {ev:?}"
                    );
                }
                let track = (ev.pid, ev.tid.expect("slices have a tid"));
                let seq = self.events as u32;
                self.tracks.entry(track).or_default().push((
                    ts.expect("slices have a ts"),
                    seq,
                    begin,
                ));
            }
            "b" | "e" => {
                assert_eq!(ev.cat.as_deref(), Some("task"));
                let id = ev.id.expect("async events have an id");
                let e = self.tasks.entry(id).or_default();
                if ev.ph == "b" {
                    e.0 += 1;
                    e.2 = ts.unwrap();
                } else {
                    e.1 += 1;
                    e.3 = ts.unwrap();
                }
            }
            "i" => self.instants += 1,
            "C" => self.counters += 1,
            "M" => {}
            other => panic!("unexpected phase {other}"),
        }
    }

    /// Every track's slices nest: sorted by time (ties in file order, as
    /// viewers sort), every end closes an open slice and none stays open.
    /// Returns the number of slices.
    fn check(&mut self) -> u64 {
        let mut slices = 0;
        for (track, evs) in &mut self.tracks {
            evs.sort_unstable_by_key(|&(t, seq, _)| (t, seq));
            let mut open: Vec<i64> = Vec::new();
            for &(t, _, begin) in evs.iter() {
                if begin {
                    open.push(t);
                    slices += 1;
                } else {
                    let start = open
                        .pop()
                        .unwrap_or_else(|| panic!("track {track:?}: end at {t} without a begin"));
                    assert!(start <= t, "track {track:?}: slice ends before it begins");
                }
            }
            assert!(
                open.is_empty(),
                "track {track:?}: {} slices left open",
                open.len()
            );
        }
        for (id, &(b, e, tb, te)) in &self.tasks {
            assert_eq!((b, e), (1, 1), "task {id}: {b} begins, {e} ends");
            assert!(tb <= te, "task {id} ends before it begins");
        }
        slices
    }
}

/// Deserializes the document, handing each trace event to the checker.
struct Doc<'a>(&'a mut Checker);

impl<'de> DeserializeSeed<'de> for Doc<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Doc<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a trace-event document")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "traceEvents" {
                map.next_value_seed(Events(&mut *self.0))?;
                seen = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        assert!(seen, "no traceEvents");
        Ok(())
    }
}

struct Events<'a>(&'a mut Checker);

impl<'de> DeserializeSeed<'de> for Events<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Events<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of trace events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(ev) = seq.next_element::<Ev>()? {
            self.0.add(ev);
        }
        Ok(())
    }
}

/// Parses a whole document (it must be exactly one JSON value).
fn check_json(input: impl Read) -> Checker {
    let mut checker = Checker::default();
    let mut de = serde_json::Deserializer::from_reader(input);
    Doc(&mut checker).deserialize(&mut de).expect("valid JSON");
    de.end().expect("nothing after the document");
    checker.check();
    checker
}

fn convert(path: &Path, out: impl Write) -> u64 {
    let mut w = ChromeWriter::new(out);
    for ev in Reader::new(io::BufReader::new(fs::File::open(path).unwrap())).unwrap() {
        w.event(&ev.unwrap()).unwrap();
    }
    let n = w.events_written();
    w.finish().unwrap();
    n
}

#[test]
fn curated_traces_convert_to_nested_valid_json() {
    let mut paths: Vec<PathBuf> = fs::read_dir(testdata().join("traces"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .collect();
    paths.sort();
    for path in paths {
        let mut json = Vec::new();
        let written = convert(&path, &mut json);
        let mut c = check_json(&json[..]);
        assert!(c.events > written, "{}", path.display());
        assert!(c.check() > 0, "{}: no slices", path.display());
    }
}

#[test]
fn annotations_become_slices_instants_and_async_tasks() {
    let path = testdata().join("traces/go123-nestedtasks.trace");
    let (mut regions, mut logs, mut tasks) = (0, 0, 0);
    for ev in Reader::new(fs::File::open(&path).unwrap()).unwrap() {
        match ev.unwrap().kind() {
            EventKind::RegionBegin => regions += 1,
            EventKind::Log => logs += 1,
            EventKind::TaskBegin | EventKind::TaskEnd => tasks += 1,
            _ => {}
        }
    }
    let mut json = Vec::new();
    convert(&path, &mut json);
    let c = check_json(&json[..]);
    let goroutine_slices: usize = c
        .tracks
        .iter()
        .filter(|((pid, _), _)| *pid == 3)
        .map(|(_, evs)| evs.iter().filter(|e| e.2).count())
        .sum();
    // Every region that began is a slice, plus those that began before the
    // trace, plus mark assists.
    assert!(
        goroutine_slices >= regions,
        "{goroutine_slices} < {regions}"
    );
    assert_eq!(c.instants, logs);
    // Every task is one begin and one end, tasks without a begin in the
    // trace included.
    assert!(c.tasks.len() * 2 >= tasks);
    assert!(c.counters > 0);
    // Times are relative to the first event.
    assert!(c.max_ts > 0);
}

/// Sends what is written to a reader on another thread, a chunk at a time.
struct ChunkWriter(mpsc::SyncSender<Vec<u8>>);

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .send(buf.to_vec())
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "reader gone"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct ChunkReader {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.recv() {
                Ok(c) => {
                    self.chunk = c;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn large_trace_converts_to_nested_valid_json() {
    let path = testdata().join("../../shared/go-traces/traces/go123-large-mixedload.trace");
    if !path.is_file() {
        eprintln!("note: {} not found; skipped", path.display());
        return;
    }
    let (tx, rx) = mpsc::sync_channel(4);
    let checker = std::thread::spawn(move || {
        check_json(io::BufReader::with_capacity(
            1 << 20,
            ChunkReader {
                rx,
                chunk: Vec::new(),
                at: 0,
            },
        ))
    });
    let written = convert(&path, ChunkWriter(tx));
    let mut c = checker.join().expect("the JSON checks out");
    assert!(c.events > written);
    let slices = c.check();
    assert!(slices > 1_000_000, "{slices} slices");
    assert_eq!(c.tasks.len(), 363);
}
