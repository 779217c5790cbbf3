//! `trace-tool filter`: a trace with some of its events.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use trace_rewrite::{rewrite, Generation};

use super::input;

/// Filter a trace. Without a predicate it is the identity: the trace is
/// copied generation by generation (byte for byte; with `--reencode`, every
/// string, stack and event batch is decoded and encoded again, which gives
/// the same events). Predicates that keep part of a generation (goroutines,
/// tasks, a window within a generation) are not available yet: use `cut`
/// for whole generations.
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
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match filter(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trace-tool filter: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn filter(args: &Args) -> anyhow::Result<()> {
    let input = input::read_input(&args.file).with_context(|| args.file.display().to_string())?;
    let out = input::create(args.output.as_deref()).context("creating the output")?;
    let reencode = args.reencode;
    rewrite(
        &input,
        &mut |g: &mut Generation<'_>| {
            if reencode {
                g.reencode_all()?;
            }
            Ok(())
        },
        out,
    )?;
    Ok(())
}
