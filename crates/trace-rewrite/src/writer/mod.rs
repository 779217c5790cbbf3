//! [`EventWriter`]: writes a trace of Go 1.26's format from events in the
//! reader's vocabulary ([`trace_reader::Event`]).
//!
//! The writer runs Go's reader state machine over what it writes
//! (`state`), so that it knows, at every point of its output, the state of
//! every goroutine, proc and thread, the sequence number each resource is
//! at, and which ranges are in flight. From that it writes each event in the
//! batches of its thread with the sequence numbers Go's ordering expects,
//! statuses where a generation needs them, and per-generation string and
//! stack tables (`buf`).

mod buf;
mod events;
mod state;

use std::io::Write;

use trace_reader::{Event, EventKind, Version, WireForm};
use trace_wire::ty;

use crate::Error;
use buf::{Clock, GenBuf};
use state::{gs, ps, Gc, State};

/// How an [`EventWriter`] behaves.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    repair: bool,
    generation_bytes: usize,
    version: Version,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            repair: false,
            generation_bytes: 32 << 20,
            version: Version::Go126,
        }
    }
}

impl WriterOptions {
    /// The defaults: Go 1.26's format, strict, generations split past
    /// 32 MiB.
    pub fn new() -> Self {
        Self::default()
    }

    /// With `repair`, an event that cannot be written where it comes (the
    /// end of a stop-the-world whose start was left out, a steal of a proc
    /// that is not in a syscall any more, an event that needs a goroutine
    /// its thread does not run) is left out and counted
    /// ([`Summary::skipped`]), and a proc taken from a thread whose
    /// syscall was left out is stopped on that thread; without it, such an
    /// event is an [`Error::Unwritable`]. Filters write with `repair`.
    pub fn repair(mut self, repair: bool) -> Self {
        self.repair = repair;
        self
    }

    /// Writes the format of `version`: [`Version::Go126`] (the default, what
    /// Go 1.26 and 1.27 write) or [`Version::Go123`] (for Go 1.23's tools:
    /// a frequency batch per generation, no clock snapshot, no
    /// end-of-generation event). Others are an
    /// [`Error::UnsupportedVersion`] when the writer is made.
    pub fn version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// Starts a new generation (with every goroutine's and proc's status)
    /// once the current one holds about this many bytes, at the next gap
    /// between events wide enough for the statuses. Sync events of the input
    /// always start a new generation. The input's first generation is never
    /// split: its goroutines may appear through statuses anywhere in it,
    /// which a later generation does not allow (so events fed without sync
    /// events make one generation).
    pub fn generation_bytes(mut self, bytes: usize) -> Self {
        self.generation_bytes = bytes.max(1);
        self
    }
}

/// What an [`EventWriter`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events written as they came.
    pub events: u64,
    /// Events left out because they could not be written (with
    /// [`WriterOptions::repair`]).
    pub skipped: u64,
    /// Events the writer added: statuses at generation starts and where a
    /// resource needed one, and the start of a GC in progress.
    pub synthesized: u64,
    /// Generations written.
    pub generations: u64,
    /// Generations started because the previous one grew past
    /// [`WriterOptions::generation_bytes`].
    pub split_generations: u64,
}

/// The sync event that opens the next generation.
#[derive(Debug, Clone, Copy)]
struct Pending {
    time: u64,
    clock: Option<Clock>,
    /// Whether it came right after the event before it, as the reader's
    /// last sync does.
    follows: bool,
}

/// Writes a trace in Go 1.26's format (what Go 1.26 and 1.27 write) from
/// events in the reader's vocabulary, fed in the order the reader yields
/// them.
///
/// Each event goes into the batches of its thread, with the sequence
/// numbers Go's ordering expects, so that Go's reader (and ours) yields the
/// same events in the same order, with the same times: ticks are
/// nanoseconds. Sync events start generations: each input generation
/// becomes an output generation (a sync batch with the frequency and the
/// clock snapshot, its events, its string and stack tables, the
/// end-of-generation event). Strings and stacks are interned again per
/// generation.
///
/// Statuses: the events of a trace read by the reader carry the statuses
/// Go's runtime wrote, and they are written where they come. Where a
/// generation starts without them (a generation split because it grew too
/// large, or the first one after [`EventWriter::observe`]d events), the
/// writer writes the status of every goroutine and proc it knows of (with
/// its last status stack), the ranges in flight, and (in the first
/// generation) a GC in progress; where a resource needs a status the input
/// did not give, it writes one just before.
///
/// ```
/// use trace_reader::Reader;
/// use trace_rewrite::EventWriter;
///
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
/// let input = std::fs::read(path)?;
/// let mut writer = EventWriter::new(Vec::new())?;
/// for event in Reader::new(&input[..])? {
///     writer.write(&event?)?;
/// }
/// let (output, summary) = writer.finish()?;
/// assert_eq!(summary.synthesized, 0);
///
/// // The output, in Go 1.26's format, reads back to the same events.
/// let text = |t: &[u8]| -> Vec<String> {
///     Reader::new(t).unwrap().map(|e| e.unwrap().to_string()).collect()
/// };
/// let (before, after) = (text(&input), text(&output));
/// assert_eq!(before.len(), after.len());
/// assert_eq!(before[1..], after[1..]); // all but the first sync's clock
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct EventWriter<W: Write> {
    out: W,
    opts: WriterOptions,
    st: State,
    gen: Option<GenBuf>,
    gen_number: u64,
    pending: Option<Pending>,
    /// The last clock snapshot seen and its trace time.
    last_clock: Option<Clock>,
    /// The time of the last event written.
    last_out: u64,
    /// The time of the last event fed, syncs included.
    last_in: u64,
    /// Whether a generation was opened yet.
    started: bool,
    /// Whether events were observed before the output.
    observed: bool,
    /// Whether the next event should open a new generation.
    split_pending: bool,
    /// Sync events fed (past the input's first generation from two on).
    syncs: u64,
    /// Whether events are written (false while observing).
    emitting: bool,
    /// The time of the proc steal the reader made up for the
    /// `GoDestroySyscall` that follows, which takes its time.
    held_time: Option<u64>,
    summary: Summary,
}

/// Why an event cannot be written in the current state.
pub(crate) type Why = &'static str;

/// A range or GC announced in the output's first generation already (by
/// the writer's statuses): left out, in every mode.
pub(crate) const REDUNDANT: Why = "announced already";

impl<W: Write> EventWriter<W> {
    /// A writer with the default options; writes the file header.
    pub fn new(out: W) -> Result<Self, Error> {
        Self::with_options(out, WriterOptions::default())
    }

    /// A writer with `opts`; writes the file header.
    pub fn with_options(mut out: W, opts: WriterOptions) -> Result<Self, Error> {
        if !matches!(opts.version, Version::Go123 | Version::Go126) {
            return Err(Error::UnsupportedVersion(opts.version));
        }
        out.write_all(&opts.version.header())?;
        Ok(EventWriter {
            out,
            opts,
            st: State::default(),
            gen: None,
            gen_number: 0,
            pending: None,
            last_clock: None,
            last_out: 0,
            last_in: 0,
            started: false,
            observed: false,
            split_pending: false,
            syncs: 0,
            emitting: true,
            held_time: None,
            summary: Summary::default(),
        })
    }

    /// What was written so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Takes in an event that comes before the output: the writer follows
    /// the state it leaves (goroutines, procs, ranges, the GC) and writes
    /// nothing. The first event written after observed ones opens a
    /// generation with the status of everything alive at that point, so
    /// that a trace can start in the middle of another.
    ///
    /// Only before the first [`write`](Self::write): after it, an
    /// [`Error::Unwritable`].
    pub fn observe(&mut self, ev: &Event) -> Result<(), Error> {
        if self.started {
            return Err(unwritable(
                ev,
                "events can only be observed before the first write",
            ));
        }
        self.observed = true;
        if let Some(s) = ev.sync() {
            self.syncs += 1;
            if let Some(c) = s.clock_snapshot {
                self.last_clock = Some(clock_of(&c));
            }
            return Ok(());
        }
        let t = time_of(ev)?;
        self.emitting = false;
        // What cannot be applied is ignored: the reader accepted it.
        let _ = self.apply(ev, t);
        self.emitting = true;
        Ok(())
    }

    /// Writes `ev`, the next event in the reader's order.
    pub fn write(&mut self, ev: &Event) -> Result<(), Error> {
        let t = time_of(ev)?;
        let previous = std::mem::replace(&mut self.last_in, t);
        if ev.kind() == EventKind::Sync {
            return self.sync(ev, t, t == previous.saturating_add(1));
        }
        self.open(t)?;
        match self.apply(ev, t) {
            Ok(()) => {
                self.summary.events += 1;
                self.last_out = self.last_out.max(t);
            }
            Err(why) if self.opts.repair || why == REDUNDANT => {
                let _ = why;
                self.summary.skipped += 1;
            }
            Err(why) => return Err(unwritable(ev, why)),
        }
        if let Some(g) = &self.gen {
            if g.bytes > self.opts.generation_bytes && self.syncs >= 2 {
                self.split_pending = true;
            }
        }
        Ok(())
    }

    /// Writes the last generation and returns the output.
    ///
    /// A sync event fed last is the reader's end of the trace (which the
    /// reader of the output yields again) and writes nothing, unless it
    /// opens a generation: it carries a clock snapshot, it is the only
    /// event, or it does not come right after the last event (a trace cut
    /// short after a generation's sync).
    pub fn finish(mut self) -> Result<(W, Summary), Error> {
        self.close()?;
        if let Some(p) = self.pending {
            if p.clock.is_some() || !self.started || !p.follows {
                self.open_with_pending(p.time)?;
                self.close()?;
            }
        }
        self.out.flush()?;
        Ok((self.out, self.summary))
    }

    /// A sync event: the generation in progress ends, the next one starts
    /// at the next event.
    fn sync(&mut self, ev: &Event, t: u64, follows: bool) -> Result<(), Error> {
        self.syncs += 1;
        let clock = ev
            .sync()
            .and_then(|s| s.clock_snapshot)
            .map(|c| clock_of(&c));
        if let Some(c) = clock {
            self.last_clock = Some(c);
        }
        if self.gen.is_some() {
            self.close()?;
        } else if self.pending.is_some() {
            // A generation without events in the input.
            self.open_with_pending(t)?;
            self.close()?;
        }
        self.pending = Some(Pending {
            time: t,
            clock,
            follows,
        });
        self.split_pending = false;
        Ok(())
    }

    /// Writes the generation in progress, if any.
    fn close(&mut self) -> Result<(), Error> {
        if let Some(g) = self.gen.take() {
            g.finish(&mut self.out)?;
            self.summary.generations += 1;
        }
        Ok(())
    }

    /// Makes sure a generation is open for an event at `t`.
    fn open(&mut self, t: u64) -> Result<(), Error> {
        if self.gen.is_some() {
            if !self.split_pending {
                return Ok(());
            }
            let n = self.st.n_statuses() as u64;
            let force = self
                .gen
                .as_ref()
                .is_some_and(|g| g.bytes > self.opts.generation_bytes.saturating_mul(2));
            // Not in a stop-the-world: its end refers to its begin's kind
            // by the begin's generation's string id.
            if self.st.stw > 0 || (t <= self.last_out.saturating_add(n + 2) && !force) {
                return Ok(());
            }
            self.close()?;
            self.split_pending = false;
            self.summary.split_generations += 1;
            let time = self.last_out + 1;
            let clock = self.clock_at(time, true);
            self.begin(time, clock, true, t);
            return Ok(());
        }
        self.open_with_pending(t)
    }

    /// Opens a generation for an event at `t` with the pending sync, or a
    /// synthesized one just before `t`.
    fn open_with_pending(&mut self, t: u64) -> Result<(), Error> {
        let eager = !self.started && self.observed;
        let n = if eager {
            self.st.n_statuses() as u64
        } else {
            0
        };
        let (time, clock) = match self.pending.take() {
            Some(p) => {
                // Room before `t` for the statuses: the sync moves back if
                // need be.
                let time = if eager {
                    p.time.min(t.saturating_sub(n + 1))
                } else {
                    p.time
                };
                let clock = match p.clock {
                    Some(c) => c,
                    None => self.clock_at(time, false),
                };
                (time, clock)
            }
            None => {
                let mut time = t.saturating_sub(n + 1);
                if self.started {
                    time = time.max(self.last_out + 1);
                }
                let clock = self.clock_at(time, self.started);
                (time, clock)
            }
        };
        self.begin(time, clock, eager, t);
        Ok(())
    }

    /// Starts generation `gen_number + 1` with its sync at `time`, and with
    /// `statuses`, the status of everything alive, just before `next`, the
    /// time of the event that needs the generation.
    fn begin(&mut self, time: u64, clock: Clock, statuses: bool, next: u64) {
        self.gen_number += 1;
        let gen = GenBuf::new(self.gen_number, self.opts.version, time, clock);
        let base = gen.base();
        self.gen = Some(gen);
        self.started = true;
        if statuses {
            let n = self.st.n_statuses() as u64;
            self.write_statuses((base + 1).max(next.saturating_sub(n + 1)));
        }
    }

    /// A clock snapshot for a generation that starts at trace time `time`
    /// without one of its own: the last one seen (its trace time earlier,
    /// so the generation's sync comes right after the previous event), with
    /// `step` one nanosecond later on every clock than the previous
    /// generation's (the input's next snapshot is later still); without any
    /// (Go 1.22 to 1.24 traces have none), the trace time as the monotonic
    /// clock and as the time since the Unix epoch.
    fn clock_at(&mut self, time: u64, step: bool) -> Clock {
        match &mut self.last_clock {
            Some(c) if c.trace <= time => {
                if step {
                    c.trace += 1;
                    c.mono += 1;
                    c.nsec += 1;
                    if c.nsec == 1_000_000_000 {
                        c.nsec = 0;
                        c.sec += 1;
                    }
                }
                *c
            }
            _ => Clock {
                trace: time,
                mono: time,
                sec: time / 1_000_000_000,
                nsec: time % 1_000_000_000,
            },
        }
    }

    /// Writes the status of every proc and goroutine (and the ranges in
    /// flight, and in the first generation a GC in progress) at times from
    /// `t` on.
    fn write_statuses(&mut self, mut t: u64) {
        let gen = self.gen_number;
        let mut pids: Vec<i64> = self.st.ps.keys().copied().collect();
        pids.sort_unstable();
        for id in pids {
            let p = &self.st.ps[&id];
            let (status, sweep) = (p.status, p.sweep);
            let m = if matches!(status, ps::RUNNING | ps::SYSCALL) {
                p.m
            } else {
                -1
            };
            self.emit(m, t, ty::PROC_STATUS, &[id as u64, status]);
            t += 1;
            if sweep {
                self.emit(m, t, ty::GC_SWEEP_ACTIVE, &[id as u64]);
                t += 1;
                self.summary.synthesized += 1;
            }
            let p = self.st.ps.get_mut(&id).expect("listed");
            p.seq = 0;
            p.seq_gen = gen;
            self.summary.synthesized += 1;
        }
        let mut gids: Vec<i64> = self.st.gs.keys().copied().collect();
        gids.sort_unstable();
        for id in gids {
            let g = &self.st.gs[&id];
            let (status, assist) = (g.status, g.assist);
            let m = if matches!(status, gs::RUNNING | gs::SYSCALL) {
                g.m
            } else {
                -1
            };
            let stack = g.stack.clone();
            self.write_go_status(m, t, id, status, stack.as_deref());
            t += 1;
            if assist {
                self.emit(m, t, ty::GC_MARK_ASSIST_ACTIVE, &[id as u64]);
                t += 1;
                self.summary.synthesized += 1;
            }
            let g = self.st.gs.get_mut(&id).expect("listed");
            g.seq = 0;
            g.seq_gen = gen;
            if gen == 1 {
                // The format cannot say that a stop-the-world is in
                // progress: its end will be left out.
                self.st.stw = self.st.stw.saturating_sub(g.stw);
                g.stw = 0;
            }
            self.summary.synthesized += 1;
        }
        if gen == 1 && self.st.gc == Gc::Running {
            self.st.gc_seq += 1;
            self.emit(-1, t, ty::GC_ACTIVE, &[self.st.gc_seq]);
            self.st.gc_written = true;
            self.summary.synthesized += 1;
        }
    }

    /// Writes a goroutine status on thread `m` (-1: none).
    fn write_go_status(
        &mut self,
        m: i64,
        t: u64,
        g: i64,
        status: u64,
        stack: Option<&[state::OwnedFrame]>,
    ) {
        let m_arg = if matches!(status, gs::RUNNING | gs::SYSCALL) {
            m as u64
        } else {
            trace_wire::NO_THREAD
        };
        match stack {
            Some(frames) if !frames.is_empty() && self.emitting => {
                let gen = self.gen.as_mut().expect("a generation is open");
                let id = gen.stack(
                    frames
                        .iter()
                        .map(|f| (f.pc, &f.func[..], &f.file[..], f.line)),
                );
                self.emit(m, t, ty::GO_STATUS_STACK, &[g as u64, m_arg, status, id]);
            }
            _ => self.emit(m, t, ty::GO_STATUS, &[g as u64, m_arg, status]),
        }
    }

    /// Appends an event to thread `m`'s batches, if writing.
    fn emit(&mut self, m: i64, t: u64, ty: u8, args: &[u64]) {
        if !self.emitting {
            return;
        }
        if let Some(g) = self.gen.as_mut() {
            g.event(m, t, ty, args);
        }
    }

    /// The id of `s` in the generation's string table (0 while observing).
    fn string(&mut self, s: &[u8]) -> u64 {
        match (&mut self.gen, self.emitting) {
            (Some(g), true) => g.string(s),
            _ => 0,
        }
    }

    /// The id of a stack in the generation's stack table (0 while
    /// observing, or for none).
    fn stack(&mut self, stack: Option<trace_reader::Stack<'_>>) -> u64 {
        match (&mut self.gen, self.emitting, stack) {
            (Some(g), true, Some(s)) => g.stack(
                s.frames()
                    .map(|f| (f.pc, f.func.as_bytes(), f.file.as_bytes(), f.line)),
            ),
            _ => 0,
        }
    }

    /// Before an event that carries proc `p`'s next sequence number: its
    /// status, if the generation has none yet; then the number.
    fn proc_seq(&mut self, p: i64, m: i64, t: u64) -> u64 {
        let gen = self.gen_number;
        let Some(st) = self.st.ps.get(&p) else {
            return 0;
        };
        if self.emitting && st.seq_gen != gen {
            let (status, holder, sweep) = (st.status, st.m, st.sweep);
            let on = if matches!(status, ps::RUNNING | ps::SYSCALL) && holder != -1 {
                holder
            } else {
                m
            };
            self.emit(on, t, ty::PROC_STATUS, &[p as u64, status]);
            if sweep {
                self.emit(on, t, ty::GC_SWEEP_ACTIVE, &[p as u64]);
            }
            self.summary.synthesized += 1;
        }
        let st = self.st.ps.get_mut(&p).expect("checked");
        if st.seq_gen != gen {
            st.seq_gen = gen;
            st.seq = 0;
        }
        st.seq += 1;
        st.seq
    }

    /// The same for goroutine `g`.
    fn go_seq(&mut self, g: i64, m: i64, t: u64) -> u64 {
        let gen = self.gen_number;
        let Some(st) = self.st.gs.get(&g) else {
            return 0;
        };
        if self.emitting && st.seq_gen != gen {
            let (status, holder, assist) = (st.status, st.m, st.assist);
            let stack = st.stack.clone();
            let on = if matches!(status, gs::RUNNING | gs::SYSCALL) {
                holder
            } else {
                m
            };
            self.write_go_status(on, t, g, status, stack.as_deref());
            if assist {
                self.emit(on, t, ty::GC_MARK_ASSIST_ACTIVE, &[g as u64]);
            }
            self.summary.synthesized += 1;
        }
        let st = self.st.gs.get_mut(&g).expect("checked");
        if st.seq_gen != gen {
            st.seq_gen = gen;
            st.seq = 0;
        }
        st.seq += 1;
        st.seq
    }
}

/// The event's time as trace ticks.
fn time_of(ev: &Event) -> Result<u64, Error> {
    u64::try_from(ev.time().0).map_err(|_| unwritable(ev, "its time is negative"))
}

fn clock_of(c: &trace_reader::ClockSnapshot) -> Clock {
    Clock {
        trace: c.trace.0.max(0) as u64,
        mono: c.mono,
        sec: c.wall_sec.max(0) as u64,
        nsec: c.wall_nsec.max(0) as u64,
    }
}

fn unwritable(ev: &Event, why: &'static str) -> Error {
    Error::Unwritable {
        time: ev.time().0,
        event: event_name(ev.wire()),
        why,
    }
}

/// Go's name of an event's wire type.
fn event_name(w: WireForm) -> &'static str {
    if w.ty == WireForm::SYNC {
        return "Sync";
    }
    Version::Go126.spec(w.ty).map_or("?", |s| s.name)
}
