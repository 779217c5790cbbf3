//! `trace-tool filter`: a trace with some of its events.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use std::io::Write;

use trace_reader::{EventKind, GoId, TaskId, Time};
use trace_rewrite::{rewrite, EventEdit, EventFilter, Generation};
use trace_wire::ty;

use super::input;

/// Keep some goroutines, tasks, a time window or kinds of events of a trace.
///
/// Filter a trace. Without a predicate it is the identity: the trace is
/// copied generation by generation (byte for byte; with `--reencode`, every
/// string, stack and event batch is decoded and encoded again, which gives
/// the same events). `--drop` leaves out events of kinds that no state
/// depends on (logs, metrics, labels); the others keep their times.
///
/// The event-level predicates (`--goroutine`, `--task`, `--from`/`--to`,
/// `--kinds`, or `--events` for none) read the trace's events and write the
/// kept ones again, in Go 1.26's format, with the statuses the output
/// needs: every goroutine's and proc's at the start of a window, and where
/// a kept goroutine needs one. A window holds exactly the events Go's
/// reader yields between `--from` and `--to` (nanoseconds, as `dump`
/// prints them), after those statuses; the ends of stop-the-world ranges
/// begun before it are left out, and a task that began before it ends
/// without its type. Events that need a goroutine that was left out (a
/// metric or GC event it ran) are left out too. Every output is a trace
/// Go 1.27 accepts (with `--format 1.23`, Go 1.23 as well).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The binary trace (`-` for standard input).
    file: PathBuf,
    /// Where to write the trace (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Encode every table and event batch again (minimal varints) instead of
    /// copying them.
    #[arg(long)]
    reencode: bool,
    /// Leave out the events of these kinds (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    drop: Vec<Kind>,
    /// Write the events again (Go 1.26's format) even without another
    /// event-level predicate: the round trip.
    #[arg(long)]
    events: bool,
    /// Keep these goroutines (ids, comma-separated): their transitions and
    /// the events they run, and every proc's transitions.
    #[arg(long = "goroutine", value_name = "ID", value_delimiter = ',')]
    goroutines: Vec<i64>,
    /// Keep the tasks of this type (or, if a number, this task id), their
    /// subtasks and the goroutines that ran their events (repeatable).
    #[arg(long = "task", value_name = "TYPE|ID")]
    tasks: Vec<String>,
    /// Keep the events from this time on (nanoseconds).
    #[arg(long, value_name = "NS")]
    from: Option<i64>,
    /// Keep the events up to this time (nanoseconds).
    #[arg(long, value_name = "NS")]
    to: Option<i64>,
    /// Keep only these kinds of events (comma-separated); state transitions
    /// and syncs are always kept.
    #[arg(long, value_enum, value_delimiter = ',')]
    kinds: Vec<EventKindArg>,
    /// The format the event-level predicates write: Go 1.26's (what Go
    /// 1.26 and 1.27 write) or Go 1.23's (for Go 1.23's tools; no clock
    /// snapshots).
    #[arg(long, value_name = "1.26|1.23", default_value = "1.26", value_parser = ["1.26", "1.23"])]
    format: String,
}

/// Event kinds `--kinds` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EventKindArg {
    /// `Log`.
    Log,
    /// `Metric`.
    Metric,
    /// `Label`.
    Label,
    /// `StackSample` (CPU profile samples).
    StackSample,
    /// `RangeBegin`, `RangeActive`, `RangeEnd` (GC, stop-the-world, sweeps, assists).
    Range,
    /// `TaskBegin`, `TaskEnd`.
    Task,
    /// `RegionBegin`, `RegionEnd`.
    Region,
    /// `Experimental`.
    Experimental,
}

impl EventKindArg {
    fn kinds(self) -> &'static [EventKind] {
        match self {
            EventKindArg::Log => &[EventKind::Log],
            EventKindArg::Metric => &[EventKind::Metric],
            EventKindArg::Label => &[EventKind::Label],
            EventKindArg::StackSample => &[EventKind::StackSample],
            EventKindArg::Range => &[
                EventKind::RangeBegin,
                EventKind::RangeActive,
                EventKind::RangeEnd,
            ],
            EventKindArg::Task => &[EventKind::TaskBegin, EventKind::TaskEnd],
            EventKindArg::Region => &[EventKind::RegionBegin, EventKind::RegionEnd],
            EventKindArg::Experimental => &[EventKind::Experimental],
        }
    }
}

/// Event kinds `--drop` can leave out: none changes a goroutine's, proc's
/// or task's state, so the trace stays valid without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    /// User log messages (`Log`).
    Log,
    /// Heap size, heap goal and GOMAXPROCS (`Metric`).
    Metric,
    /// Goroutine labels (`Label`).
    Label,
}

impl Kind {
    fn wire_types(self) -> &'static [u8] {
        match self {
            Kind::Log => &[ty::USER_LOG],
            Kind::Metric => &[ty::HEAP_ALLOC, ty::HEAP_GOAL, ty::PROCS_CHANGE],
            Kind::Label => &[ty::GO_LABEL],
        }
    }
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match filter(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if crate::report::is_broken_pipe(e.as_ref()) {
                return ExitCode::SUCCESS;
            }
            crate::report::fail("filter", Some(&args.file), e.as_ref(), 1)
        }
    }
}

impl Args {
    fn event_level(&self) -> bool {
        self.events
            || !self.goroutines.is_empty()
            || !self.tasks.is_empty()
            || self.from.is_some()
            || self.to.is_some()
            || !self.kinds.is_empty()
            || self.format != "1.26"
    }
}

fn filter(args: &Args) -> anyhow::Result<()> {
    if args.event_level() {
        if args.reencode || !args.drop.is_empty() {
            anyhow::bail!(
                "--reencode and --drop work on the wire level; use --kinds with the event-level predicates"
            );
        }
        return filter_events(args);
    }
    let input = input::read_input(&args.file)?;
    let out = input::create(args.output.as_deref()).context("creating the output")?;
    let reencode = args.reencode;
    let mut dropped = [false; 256];
    for k in &args.drop {
        for &t in k.wire_types() {
            dropped[usize::from(t)] = true;
        }
    }
    rewrite(
        &input,
        &mut |g: &mut Generation<'_>| {
            if reencode {
                g.reencode_all()?;
            }
            if !args.drop.is_empty() {
                g.edit_events(|_, ev| {
                    if dropped[usize::from(ev.ty)] {
                        EventEdit::Drop
                    } else {
                        EventEdit::Keep
                    }
                })?;
            }
            Ok(())
        },
        out,
    )?;
    Ok(())
}

/// The event-level filter.
fn filter_events(args: &Args) -> anyhow::Result<()> {
    let (from, to) = (args.from.unwrap_or(i64::MIN), args.to.unwrap_or(i64::MAX));
    if from > to {
        anyhow::bail!("--from {from} is after --to {to}");
    }
    let input = input::read_input(&args.file)?;
    let mut filter = EventFilter::new();
    if !args.goroutines.is_empty() {
        filter = filter.goroutines(args.goroutines.iter().map(|&g| GoId(g)));
    }
    for t in &args.tasks {
        filter = match t.parse::<u64>() {
            Ok(id) => filter.task(TaskId(id)),
            Err(_) => filter.task_type(t),
        };
    }
    if args.from.is_some() || args.to.is_some() {
        filter = filter.window(Time(from), Time(to));
    }
    if !args.kinds.is_empty() {
        filter = filter.kinds(args.kinds.iter().flat_map(|k| k.kinds().iter().copied()));
    }
    if args.format == "1.23" {
        filter = filter.format(trace_reader::Version::Go123);
    }
    let out = input::create(args.output.as_deref()).context("creating the output")?;
    let (mut out, summary) = trace_rewrite::filter_events(&input, &filter, out)?;
    out.flush().context("writing the output")?;
    if summary.skipped > 0 {
        eprintln!(
            "trace-tool filter: left out {} events that the kept ones no longer allow",
            summary.skipped
        );
    }
    Ok(())
}
