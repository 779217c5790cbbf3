//! `trace-tool pprof`: the blocking profiles of `go tool trace -pprof=KIND`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use trace_analysis::pprof::{self, ProfileKind};

use super::input::{self, output_name};

/// Write a blocking profile (sync, net, syscall, sched) for `go tool pprof`.
///
/// Write a blocking profile as pprof protobuf (gzipped), as
/// `go tool trace -pprof=KIND` does: time goroutines spent blocked on
/// synchronization (`sync`), on the network (`net`), in system calls
/// (`syscall`) or waiting to be scheduled (`sched`), by stack. Read it with
/// `go tool pprof`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which profile: time goroutines spent blocked on synchronization
    /// (`sync`), on the network (`net`), in system calls (`syscall`) or
    /// waiting to be scheduled (`sched`).
    #[arg(long, value_parser = kind_parser())]
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

/// The kinds, listed in `--help` and in the error for another value.
fn kind_parser() -> impl clap::builder::TypedValueParser<Value = ProfileKind> {
    use clap::builder::{PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(["sync", "net", "syscall", "sched"])
        .try_map(|s| s.parse::<ProfileKind>())
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match pprof_cmd(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if crate::report::is_broken_pipe(e.as_ref()) {
                return ExitCode::SUCCESS;
            }
            crate::report::fail("pprof", Some(&args.file), e.as_ref(), 1)
        }
    }
}

fn pprof_cmd(args: &Args) -> anyhow::Result<()> {
    let input = input::open(&args.file)?;
    let profile = pprof::profile(input, args.kind)?;
    let mut out = input::create(args.output.as_deref())
        .with_context(|| format!("creating {}", output_name(args.output.as_deref())))?;
    if args.text {
        out.write_all(profile.canonical_text().as_bytes())?;
    } else {
        profile.write_pprof(&mut out)?;
    }
    out.flush()
        .with_context(|| format!("writing {}", output_name(args.output.as_deref())))?;
    Ok(())
}
