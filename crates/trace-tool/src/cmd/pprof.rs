//! `trace-tool pprof`: the blocking profiles of `go tool trace -pprof=KIND`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use trace_analysis::pprof::{self, ProfileKind};

use super::input;

/// Write a blocking profile as pprof protobuf (gzipped), as
/// `go tool trace -pprof=KIND` does: time goroutines spent blocked on
/// synchronization (`sync`), on the network (`net`), in system calls
/// (`syscall`) or waiting to be scheduled (`sched`), by stack. Read it with
/// `go tool pprof`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which profile.
    #[arg(long, value_parser = parse_kind)]
    kind: ProfileKind,
    /// The binary trace (`-` for standard input).
    file: PathBuf,
    /// Where to write the profile (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Write the samples as sorted text (count, delay in ns, frames) instead
    /// of protobuf: the form of the golden files under `testdata/pprof/`.
    #[arg(long)]
    text: bool,
}

fn parse_kind(s: &str) -> Result<ProfileKind, String> {
    s.parse()
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match pprof_cmd(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trace-tool pprof: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn pprof_cmd(args: &Args) -> anyhow::Result<()> {
    let input = input::open(&args.file).with_context(|| args.file.display().to_string())?;
    let profile = pprof::profile(input, args.kind)?;
    let mut out = input::create(args.output.as_deref()).context("creating the output")?;
    if args.text {
        out.write_all(profile.canonical_text().as_bytes())?;
    } else {
        profile.write_pprof(&mut out)?;
    }
    out.flush().context("writing the profile")?;
    Ok(())
}
