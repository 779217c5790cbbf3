//! `trace-tool filter`: a trace with some of its events.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use trace_rewrite::{rewrite, EventEdit, Generation};
use trace_wire::ty;

use super::input;

/// Copy a trace, leaving out logs, metrics or labels.
///
/// Filter a trace. Without a predicate it is the identity: the trace is
/// copied generation by generation (byte for byte; with `--reencode`, every
/// string, stack and event batch is decoded and encoded again, which gives
/// the same events). `--drop` leaves out events of kinds that no state
/// depends on (logs, metrics, labels); the others keep their times.
/// Predicates that keep part of the scheduling (goroutines, tasks, a window
/// within a generation) are not available yet: use `cut` for whole
/// generations.
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

fn filter(args: &Args) -> anyhow::Result<()> {
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
