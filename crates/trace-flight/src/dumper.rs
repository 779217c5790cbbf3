//! The dumper: a background thread per recorder with triggers that writes
//! closed windows (and, when the recorder stops, the slowest kept) to the
//! dump directory, rotates it within its caps and keeps `manifest.json`.
//!
//! It completes a window whose end has come by advancing the runtime
//! (the flusher closes windows at generation ends), writes each dump with
//! the safe dump-file code (`dump::write_file`: a new exclusive temporary
//! file renamed over the path) and unpins the window's generations only
//! once it is written.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::dump::write_file;
use crate::retain::Dump;
use crate::ring::Ring;
use crate::triggers::TriggerConfig;
use crate::Snapshot;

/// The name of the manifest in the dump directory.
pub(crate) const MANIFEST: &str = "manifest.json";

/// Room kept in `max_dir_bytes` for the manifest's next entry.
const MANIFEST_ENTRY_ESTIMATE: u64 = 2048;

/// The dumper thread of one recorder session.
#[derive(Debug)]
pub(crate) struct Dumper {
    ring: Arc<Ring>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Dumper {
    /// Creates the directory and starts the thread.
    pub(crate) fn spawn(ring: Arc<Ring>, config: &TriggerConfig) -> io::Result<Self> {
        let mut dir = DumpDir::open(config)?;
        let kept_sync = config.kept_sync;
        let thread = {
            let ring = ring.clone();
            thread::Builder::new()
                .name("trace-flight-dumper".into())
                .spawn(move || run(&ring, &mut dir, kept_sync))?
        };
        Ok(Self {
            ring,
            thread: Some(thread),
        })
    }

    /// Writes what is left (open windows, the slowest kept) and stops.
    /// Waits for that, except in a subscriber callback (a stop from one,
    /// [`trace_runtime::in_callback`]), which the dumper's final advance
    /// waits for: there the dumper finishes on its own afterwards.
    pub(crate) fn finish(mut self) {
        self.ring.state().stopping = true;
        self.ring.wake.notify_all();
        if let Some(t) = self.thread.take() {
            if !trace_runtime::in_callback() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Dumper {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.ring.state().stopping = true;
            self.ring.wake.notify_all();
            if let Some(t) = self.thread.take() {
                if !trace_runtime::in_callback() {
                    let _ = t.join();
                }
            }
        }
    }
}

fn run(ring: &Ring, dir: &mut DumpDir, kept_sync: Duration) {
    // The version of the kept entries last written, and when.
    let (mut synced, mut last_sync) = (0, Instant::now());
    loop {
        let mut st = ring.state();
        let (dumps, last, kept) = loop {
            let closed = st.retention.take_closed();
            if !closed.is_empty() {
                break (closed, false, None);
            }
            let now = Instant::now();
            let version = st.retention.kept_version();
            if st.stopping {
                // Complete the current generation so that open windows
                // get it, then write them and the slowest kept (if they
                // changed since they were last written).
                drop(st);
                let _ = trace_runtime::advance();
                st = ring.state();
                st.retention.close_all();
                let dumps = st.retention.take_closed();
                let version = st.retention.kept_version();
                let kept = (version != synced).then_some(version);
                break (dumps, true, kept);
            }
            // The slowest kept changed: write them when the interval is up.
            let sync_at = (version != synced)
                .then(|| last_sync.checked_add(kept_sync))
                .flatten();
            if sync_at.is_some_and(|at| at <= now) {
                break (Vec::new(), false, Some(version));
            }
            let deadline = match (st.retention.next_deadline(), sync_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            match deadline {
                Some(deadline) if deadline <= now => {
                    drop(st);
                    let _ = trace_runtime::advance();
                    st = ring.state();
                    // Without a generation end (the session is ending),
                    // close it as it is.
                    st.retention.close_due(now);
                }
                Some(deadline) => {
                    st = ring
                        .wake
                        .wait_timeout(st, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                None => {
                    st = ring
                        .wake
                        .wait_timeout(st, Duration::from_secs(1))
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        };
        drop(st);
        for d in dumps {
            write_dump(ring, dir, &d);
        }
        if let Some(version) = kept {
            // The new set replaces the slowest written before: written
            // first, so that a crash in between loses nothing.
            let dumps = ring.state().retention.kept_dumps();
            dir.retire_slowest();
            for d in &dumps {
                write_dump(ring, dir, d);
            }
            dir.remove_retired();
            (synced, last_sync) = (version, Instant::now());
        }
        if last {
            return;
        }
    }
}

/// Writes `d` and counts it.
fn write_dump(ring: &Ring, dir: &mut DumpDir, d: &Dump) {
    let res = dir.write(d);
    let mut st = ring.state();
    match res {
        Ok(rotated) => {
            st.retention.stats.dumps_written += 1;
            st.retention.stats.dumps_rotated += rotated;
        }
        Err(_) => st.retention.stats.dumps_failed += 1,
    }
    if d.kind == "window" {
        st.retention.release(d.id);
    }
    drop(st);
    ring.wake.notify_all();
}

/// One dump in the directory.
#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    file: String,
    kind: &'static str,
    reasons: Vec<String>,
    triggers: u64,
    tasks: Vec<u64>,
    /// First and last generation.
    gens: (u64, u64),
    /// Unix time in nanoseconds of the start of the first generation and
    /// the end of the last.
    start_ns: u128,
    end_ns: u128,
    bytes: u64,
    format: &'static str,
}

/// The dump directory: the dumps this recorder wrote or found there, and
/// the caps.
#[derive(Debug)]
struct DumpDir {
    dir: PathBuf,
    entries: Vec<Entry>,
    next_id: u64,
    max_dumps: usize,
    max_bytes: u64,
    manifest_len: u64,
    /// An `Instant` and the wall time it was.
    anchor: (Instant, SystemTime),
}

/// The kind of a `slowest` dump a newer set replaces.
const RETIRED: &str = "slowest (replaced)";

/// The id in a dump's file name `flight-NNNNNN-KIND.trace`.
fn dump_id(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("flight-")?.strip_suffix(".trace")?;
    rest.split('-').next()?.parse().ok()
}

impl DumpDir {
    /// Creates the directory if missing, and adopts the dumps already in
    /// it (from an earlier session), so that the caps count them.
    fn open(config: &TriggerConfig) -> io::Result<Self> {
        fs::create_dir_all(&config.dir)?;
        let mut entries = Vec::new();
        for e in fs::read_dir(&config.dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = dump_id(&name) else { continue };
            let meta = fs::symlink_metadata(e.path())?;
            if !meta.file_type().is_file() {
                continue;
            }
            entries.push(Entry {
                id,
                file: name,
                kind: "earlier",
                reasons: Vec::new(),
                triggers: 0,
                tasks: Vec::new(),
                gens: (0, 0),
                start_ns: 0,
                end_ns: 0,
                bytes: meta.len(),
                format: "",
            });
        }
        entries.sort_by_key(|e| e.id);
        let next_id = entries.last().map_or(1, |e| e.id + 1);
        let mut res = Self {
            dir: config.dir.clone(),
            entries,
            next_id,
            max_dumps: config.max_dumps,
            max_bytes: config.max_dir_bytes,
            manifest_len: 0,
            anchor: (Instant::now(), SystemTime::now()),
        };
        // Earlier dumps beyond the caps go first.
        while res.entries.len() > res.max_dumps || res.total() > res.max_bytes {
            if !res.rotate_one() {
                break;
            }
        }
        res.write_manifest().map_err(|e| match e {
            crate::Error::Io(e) => e,
            e => io::Error::other(e.to_string()),
        })?;
        Ok(res)
    }

    fn total(&self) -> u64 {
        self.entries.iter().map(|e| e.bytes).sum::<u64>() + self.manifest_len
    }

    fn unix_ns(&self, t: Instant) -> u128 {
        let (at, wall) = self.anchor;
        let wall = if t >= at {
            wall + (t - at)
        } else {
            wall - (at - t)
        };
        wall.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    }

    /// Removes the oldest dump to make room: a replaced `slowest` one
    /// first, then the oldest window dump, then the oldest of all; whether
    /// one was removed.
    fn rotate_one(&mut self) -> bool {
        let victim = self
            .entries
            .iter()
            .position(|e| e.kind == RETIRED)
            .or_else(|| self.entries.iter().position(|e| e.kind != "slowest"))
            .or(if self.entries.is_empty() {
                None
            } else {
                Some(0)
            });
        let Some(i) = victim else { return false };
        let e = self.entries.remove(i);
        let _ = fs::remove_file(self.dir.join(&e.file));
        true
    }

    /// Marks the `slowest` dumps as replaced: the next writes may remove
    /// them first, and [`remove_retired`](DumpDir::remove_retired) does.
    fn retire_slowest(&mut self) {
        for e in &mut self.entries {
            if e.kind == "slowest" {
                e.kind = RETIRED;
            }
        }
    }

    /// Removes the replaced `slowest` dumps.
    fn remove_retired(&mut self) {
        let (retired, kept) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|e| e.kind == RETIRED);
        self.entries = kept;
        let retired: Vec<Entry> = retired;
        for e in &retired {
            let _ = fs::remove_file(self.dir.join(&e.file));
        }
        if !retired.is_empty() {
            let _ = self.write_manifest();
        }
    }

    /// Writes `d` after making room; returns how many dumps were removed.
    fn write(&mut self, d: &Dump) -> Result<u64, crate::Error> {
        if d.gens.is_empty() {
            return Err(crate::Error::NothingRetained);
        }
        let snapshot = Snapshot::new(d.gens.clone());
        let size = snapshot.size();
        let need = size + MANIFEST_ENTRY_ESTIMATE;
        if self.max_dumps == 0 || need + self.manifest_len > self.max_bytes {
            return Err(crate::Error::DumpTooLarge {
                size,
                cap: self.max_bytes,
            });
        }
        let mut rotated = 0;
        while !self.entries.is_empty()
            && (self.entries.len() + 1 > self.max_dumps || self.total() + need > self.max_bytes)
        {
            self.rotate_one();
            rotated += 1;
        }
        let id = self.next_id;
        self.next_id += 1;
        let file = format!("flight-{id:06}-{}.trace", d.kind);
        write_file(&self.dir.join(&file), |f| snapshot.write_to(f).map(drop))?;
        let (first, last) = (&d.gens[0], &d.gens[d.gens.len() - 1]);
        self.entries.push(Entry {
            id,
            file,
            kind: d.kind,
            reasons: d.reasons.clone(),
            triggers: d.triggers,
            tasks: d.tasks.clone(),
            gens: (first.gen.get(), last.gen.get()),
            start_ns: self.unix_ns(first.started),
            end_ns: self.unix_ns(last.ended),
            bytes: size,
            format: match snapshot.format() {
                trace_runtime::Format::Go123 => "go 1.23",
                _ => "go 1.26",
            },
        });
        self.write_manifest()?;
        Ok(rotated)
    }

    fn write_manifest(&mut self) -> Result<(), crate::Error> {
        let json = manifest_json(&self.entries, self.max_dumps, self.max_bytes);
        write_file(&self.dir.join(MANIFEST), |f| {
            io::Write::write_all(f, json.as_bytes())
        })?;
        self.manifest_len = json.len() as u64;
        Ok(())
    }
}

/// `s` as a JSON string.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn manifest_json(entries: &[Entry], max_dumps: usize, max_bytes: u64) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{{\n  \"max_dumps\": {max_dumps},\n  \"max_dir_bytes\": {max_bytes},\n  \"dumps\": ["
    );
    for (i, e) in entries.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        let _ = write!(out, "    {{\"id\": {}, \"file\": ", e.id);
        json_string(&mut out, &e.file);
        out.push_str(", \"kind\": ");
        json_string(&mut out, e.kind);
        out.push_str(", \"reason\": ");
        json_string(&mut out, e.reasons.first().map_or("", String::as_str));
        out.push_str(", \"reasons\": [");
        for (j, r) in e.reasons.iter().enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            json_string(&mut out, r);
        }
        let _ = write!(
            out,
            "], \"triggers\": {}, \"start_unix_ns\": {}, \"end_unix_ns\": {}, \"generations\": [{}, {}], \"task_ids\": [",
            e.triggers, e.start_ns, e.end_ns, e.gens.0, e.gens.1
        );
        for (j, t) in e.tasks.iter().enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{t}");
        }
        let _ = write!(out, "], \"bytes\": {}, \"format\": ", e.bytes);
        json_string(&mut out, e.format);
        out.push('}');
    }
    out.push_str(if entries.is_empty() {
        "]\n}\n"
    } else {
        "\n  ]\n}\n"
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        json_string(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn dump_names_give_their_id() {
        assert_eq!(dump_id("flight-000042-window.trace"), Some(42));
        assert_eq!(dump_id("flight-x-window.trace"), None);
        assert_eq!(dump_id("manifest.json"), None);
    }
}
