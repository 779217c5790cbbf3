//! `trace-tool pprof`: the blocking profiles of `go tool trace -pprof=KIND`,
//! and CPU profiles of the trace's CPU samples, whole or of the samples
//! inside tasks or regions of one type.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use trace_analysis::pprof::{self, CpuScope, ProfileKind};

use super::input::{self, output_name};

/// Write a blocking or CPU profile for `go tool pprof`.
///
/// Write a profile as pprof protobuf (gzipped). The blocking profiles are
/// `go tool trace -pprof=KIND`'s: time goroutines spent blocked on
/// synchronization (`sync`), on the network (`net`), in system calls
/// (`syscall`) or waiting to be scheduled (`sched`), by stack. `cpu` is the
/// trace's CPU samples by stack; with `--task TYPE` or `--region TYPE`, only
/// the samples of goroutines inside such a task's regions or such a region:
/// where the CPU of one kind of request went. Read it with `go tool pprof`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which profile.
    #[arg(long, value_enum)]
    kind: Kind,
    /// The binary trace (`-` for standard input).
    file: PathBuf,
    /// Where to write the profile (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Write the samples as sorted text (count, delay in ns, frames) instead
    /// of protobuf: the form of the golden files under `testdata/pprof/`.
    #[arg(long)]
    text: bool,
    /// With `--kind cpu`: only samples inside tasks of this type.
    #[arg(long, value_name = "TYPE", conflicts_with = "region")]
    task: Option<String>,
    /// With `--kind cpu`: only samples inside regions of this type.
    #[arg(long, value_name = "TYPE")]
    region: Option<String>,
    /// With `--kind cpu`: the rate the samples were taken at, per CPU
    /// second (Go's CPU profiler and `cpu_profile(100)` use 100), to turn
    /// them into CPU time.
    #[arg(long, value_name = "HZ", default_value_t = 100)]
    hz: u32,
}

/// The profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    /// Time blocked on channels, `select` and `sync` primitives.
    Sync,
    /// Time blocked on the network.
    Net,
    /// Time in system calls.
    Syscall,
    /// Time runnable, waiting to be scheduled.
    Sched,
    /// CPU samples.
    Cpu,
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
    let blocking = match args.kind {
        Kind::Sync => Some(ProfileKind::Sync),
        Kind::Net => Some(ProfileKind::Net),
        Kind::Syscall => Some(ProfileKind::Syscall),
        Kind::Sched => Some(ProfileKind::Sched),
        Kind::Cpu => None,
    };
    let profile = match blocking {
        Some(kind) => {
            if args.task.is_some() || args.region.is_some() {
                anyhow::bail!("--task and --region go with --kind cpu");
            }
            pprof::profile(input, kind)?
        }
        None => {
            let scope = match (&args.task, &args.region) {
                (Some(t), _) => CpuScope::Task(t.clone()),
                (_, Some(r)) => CpuScope::Region(r.clone()),
                _ => CpuScope::All,
            };
            let period = 1_000_000_000 / i64::from(args.hz.max(1));
            pprof::cpu_profile(input, scope, period)?
        }
    };
    // An empty or stackless profile is written all the same, but said.
    let note = if profile.samples.is_empty() {
        Some(match args.kind {
            Kind::Cpu if args.task.is_some() || args.region.is_some() => {
                "no CPU sample falls inside that task or region type"
            }
            Kind::Cpu => "the trace has no CPU samples (the profiler was off while tracing)",
            _ => "the profile is empty",
        })
    } else if profile.samples.iter().all(|s| s.stack.is_empty()) {
        Some("no sample has a stack (the trace was recorded without stacks)")
    } else {
        None
    };
    if let Some(note) = note {
        eprintln!(
            "trace-tool pprof: {}: note: {note}",
            crate::report::name(&args.file)
        );
    }
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
