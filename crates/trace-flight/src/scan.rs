//! The scanner: finds the tasks, regions and logs that trigger rules and
//! retention care about in the bytes the runtime delivers, on the flusher
//! thread.
//!
//! # Design
//!
//! Rules are evaluated here, off the recording threads: a recording thread
//! writes exactly the bytes it writes without a recorder, and the scanner
//! reads them back as they reach the ring (the flusher copies them there
//! anyway). A decision waits for the end of the generation that holds the
//! task's or region's end (at most one generation period, a quarter of
//! `min_age`), which is also when the generation's string table, and so
//! the names, are known. The alternative, checking each region's and
//! task's duration in `trace-annotate`, would add a clock read and a name
//! comparison to every region on the hot path, and a hook from the runtime
//! into the recorder.
//!
//! Memory is bounded: only the names of interest are kept (a rule's or a
//! retention's), open tasks and regions are capped, and so are the findings
//! of one generation.

use std::collections::BTreeMap;
use std::sync::Arc;

use trace_wire::{parse_batch_header, ty, BatchKind, EventCursor, Framed, Strings, Version};

/// The most tasks and regions the scanner follows at once, and the most
/// findings one generation yields; beyond, further ones are not followed.
const MAX_OPEN: usize = 1 << 16;
/// The deepest region nesting followed per thread.
const MAX_DEPTH: usize = 256;

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Task,
    Region,
    Log,
}

/// A name of interest: a task or region type, or a log category.
#[derive(Debug, Clone)]
pub(crate) struct Interest {
    pub(crate) kind: Kind,
    pub(crate) name: Arc<str>,
}

/// A task or region that ended, or a log, of a name of interest.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    /// Index into the interests.
    pub(crate) interest: usize,
    pub(crate) task: u64,
    /// The duration in ticks (0 for a log).
    pub(crate) ticks: u64,
    /// The generation where it began (where it happened, for a log).
    pub(crate) first_gen: u64,
    /// Its end (a log's time), in ticks.
    pub(crate) at: u64,
}

/// A name: a string id of the generation being received, or resolved to
/// an interest (`None`: of no interest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Id(u64),
    Resolved(Option<usize>),
}

#[derive(Debug, Clone, Copy)]
struct Open {
    task: u64,
    name: Name,
    begin: u64,
    gen: u64,
}

#[derive(Debug, Clone, Copy)]
struct Ended {
    kind: Kind,
    task: u64,
    name: Name,
    ticks: u64,
    first_gen: u64,
    at: u64,
}

/// Scans deliveries for the names of interest.
#[derive(Debug)]
pub(crate) struct Scanner {
    interests: Vec<Interest>,
    tasks: bool,
    regions: bool,
    logs: bool,
    version: Version,
    /// Ticks per second (the latest frequency seen).
    frequency: u64,
    /// Open tasks by id.
    open_tasks: BTreeMap<u64, Open>,
    /// Open regions by thread (M), innermost last.
    open_regions: BTreeMap<u64, Vec<Open>>,
    /// Ended in the generation being received, names not yet resolved.
    ended: Vec<Ended>,
    /// Strings of the generation being received that some name needs.
    strings: BTreeMap<u64, Option<usize>>,
    /// The string id last added to `strings` (names repeat).
    last_wanted: Option<u64>,
    /// Below this duration (ticks), ended tasks and regions are ignored.
    floor_ticks: u64,
    /// Deliveries that did not parse (never expected).
    pub(crate) errors: u64,
}

impl Scanner {
    pub(crate) fn new(interests: Vec<Interest>) -> Self {
        let has = |k| interests.iter().any(|i| i.kind == k);
        Self {
            tasks: has(Kind::Task),
            regions: has(Kind::Region),
            logs: has(Kind::Log),
            interests,
            version: Version::Go126,
            frequency: 1_000_000_000,
            open_tasks: BTreeMap::new(),
            open_regions: BTreeMap::new(),
            ended: Vec::new(),
            strings: BTreeMap::new(),
            last_wanted: None,
            floor_ticks: 0,
            errors: 0,
        }
    }

    pub(crate) fn interests(&self) -> &[Interest] {
        &self.interests
    }

    pub(crate) fn is_idle(&self) -> bool {
        !(self.tasks || self.regions || self.logs)
    }

    pub(crate) fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    /// Ticks per second of the session's clock.
    pub(crate) fn frequency(&self) -> u64 {
        self.frequency
    }

    /// Ended tasks and regions shorter than `ticks` are ignored from now on.
    pub(crate) fn set_floor(&mut self, ticks: u64) {
        self.floor_ticks = ticks;
    }

    /// Scans one delivery of generation `gen` (whole batches).
    pub(crate) fn scan(&mut self, gen: u64, bytes: &[u8]) {
        if self.is_idle() {
            return;
        }
        if self.scan_batches(gen, bytes).is_err() {
            self.errors += 1;
        }
    }

    fn scan_batches(&mut self, gen: u64, bytes: &[u8]) -> Result<(), trace_wire::Error> {
        let mut pos = 0usize;
        let eog = self.version >= Version::Go126;
        loop {
            let start = pos;
            let header = parse_batch_header(
                || {
                    let b = bytes.get(pos).copied();
                    if b.is_some() {
                        pos += 1;
                    }
                    Ok(b)
                },
                start as u64,
                self.version,
                eog,
            )?;
            let header = match header {
                None => return Ok(()),
                Some(Framed::EndOfGeneration) => continue,
                Some(Framed::Batch(h)) => h,
            };
            let end = pos.saturating_add(header.size as usize).min(bytes.len());
            let payload = &bytes[pos..end];
            let base = pos as u64;
            pos = end;
            match header.kind(payload, self.version) {
                BatchKind::Events => self.scan_events(gen, header.m, header.time, payload)?,
                BatchKind::Strings => {
                    let mut strings = Strings::new(payload, base)?;
                    while let Some((id, s)) = strings.next_string()? {
                        if let Some(slot) = self.strings.get_mut(&id) {
                            *slot = self.interests.iter().position(|i| i.name.as_bytes() == s);
                        }
                    }
                }
                BatchKind::Frequency => {
                    self.frequency = trace_wire::parse_frequency(payload, base)?.max(1);
                }
                BatchKind::Sync => {
                    if let Some(f) = trace_wire::parse_sync(payload, base)?.frequency {
                        self.frequency = f.max(1);
                    }
                }
                _ => {}
            }
        }
    }

    fn want(&mut self, id: u64) -> Name {
        if self.last_wanted != Some(id) {
            self.strings.entry(id).or_insert(None);
            self.last_wanted = Some(id);
        }
        Name::Id(id)
    }

    fn scan_events(
        &mut self,
        gen: u64,
        m: u64,
        mut ts: u64,
        payload: &[u8],
    ) -> Result<(), trace_wire::Error> {
        let mut events = EventCursor::new(payload, self.version, 0);
        // The batch's thread's open regions, out of the map while it is read.
        let mut regions = if self.regions {
            self.open_regions.remove(&m).unwrap_or_default()
        } else {
            Vec::new()
        };
        let res = self.scan_cursor(gen, &mut ts, &mut events, &mut regions);
        if !regions.is_empty() {
            self.open_regions.insert(m, regions);
        }
        res
    }

    fn scan_cursor(
        &mut self,
        gen: u64,
        ts: &mut u64,
        events: &mut EventCursor<'_>,
        regions: &mut Vec<Open>,
    ) -> Result<(), trace_wire::Error> {
        while let Some(e) = events.next_event()? {
            *ts = ts.wrapping_add(e.dt);
            let ts = *ts;
            let a = e.args;
            match e.ty {
                ty::USER_TASK_BEGIN if self.tasks && self.open_tasks.len() < MAX_OPEN => {
                    let name = self.want(a[2]);
                    self.open_tasks.insert(
                        a[0],
                        Open {
                            task: a[0],
                            name,
                            begin: ts,
                            gen,
                        },
                    );
                }
                ty::USER_TASK_END if self.tasks => {
                    if let Some(open) = self.open_tasks.remove(&a[0]) {
                        self.end(Kind::Task, open, ts);
                    }
                }
                ty::USER_REGION_BEGIN if self.regions => {
                    let name = self.want(a[1]);
                    if regions.len() < MAX_DEPTH {
                        regions.push(Open {
                            task: a[0],
                            name,
                            begin: ts,
                            gen,
                        });
                    }
                }
                ty::USER_REGION_END if self.regions => {
                    // Regions nest strictly on a thread: the end closes the
                    // innermost open one.
                    if let Some(open) = regions.pop() {
                        self.end(Kind::Region, open, ts);
                    }
                }
                ty::USER_LOG if self.logs && self.ended.len() < MAX_OPEN => {
                    let name = self.want(a[1]);
                    self.ended.push(Ended {
                        kind: Kind::Log,
                        task: a[0],
                        name,
                        ticks: 0,
                        first_gen: gen,
                        at: ts,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn end(&mut self, kind: Kind, open: Open, ts: u64) {
        let ticks = ts.saturating_sub(open.begin);
        if ticks < self.floor_ticks || open.name == Name::Resolved(None) {
            return;
        }
        if self.ended.len() < MAX_OPEN {
            self.ended.push(Ended {
                kind,
                task: open.task,
                name: open.name,
                ticks,
                first_gen: open.gen,
                at: ts,
            });
        }
    }

    /// The generation being received is complete: resolves names and returns what ended
    /// in it.
    pub(crate) fn end_generation(&mut self) -> Vec<Finding> {
        let strings = std::mem::take(&mut self.strings);
        self.last_wanted = None;
        let resolve = |name: Name, kind: Kind, interests: &[Interest]| match name {
            Name::Resolved(r) => r,
            Name::Id(id) => strings
                .get(&id)
                .copied()
                .flatten()
                .filter(|&i| interests[i].kind == kind),
        };
        let mut res = Vec::new();
        for e in std::mem::take(&mut self.ended) {
            if let Some(interest) = resolve(e.name, e.kind, &self.interests) {
                res.push(Finding {
                    interest,
                    task: e.task,
                    ticks: e.ticks,
                    first_gen: e.first_gen,
                    at: e.at,
                });
            }
        }
        // What is still open carries its resolved name into the next
        // generation; tasks of no interest are no longer followed.
        let interests = &self.interests;
        self.open_tasks.retain(|_, open| {
            open.name = Name::Resolved(resolve(open.name, Kind::Task, interests));
            open.name != Name::Resolved(None)
        });
        for stack in self.open_regions.values_mut() {
            for open in stack.iter_mut() {
                open.name = Name::Resolved(resolve(open.name, Kind::Region, interests));
            }
        }
        self.open_regions.retain(|_, stack| !stack.is_empty());
        res
    }

    /// The session ended or a generation was lost: forget what is open.
    pub(crate) fn reset(&mut self) {
        self.open_tasks.clear();
        self.open_regions.clear();
        self.ended.clear();
        self.strings.clear();
        self.last_wanted = None;
    }
}
