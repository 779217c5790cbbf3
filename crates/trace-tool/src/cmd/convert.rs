//! `trace-tool convert`: a trace in another format, for other viewers.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use trace_analysis::chrome::ChromeWriter;
use trace_reader::{Reader, Stop};

use super::input::{self, output_name};

/// Convert a trace for other viewers (Perfetto UI, chrome://tracing).
///
/// Convert a trace for other viewers. `--to chrome` writes Chrome
/// trace-event JSON, which Perfetto UI (ui.perfetto.dev) and
/// chrome://tracing open: a track per proc, thread and goroutine, slices for
/// running goroutines, syscalls, regions, GC phases and stop-the-world
/// pauses, async slices for tasks, instants for logs, counters for metrics.
/// The output is streamed: memory stays flat whatever the trace's size. On a
/// broken trace, the events before the problem are converted (the JSON is
/// complete), then the error is reported (exit status 1).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The output format.
    #[arg(long, value_enum)]
    to: Format,
    /// The binary trace (`-` for standard input).
    file: PathBuf,
    /// Where to write (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// Chrome trace-event JSON (Perfetto UI, chrome://tracing).
    Chrome,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match convert(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if crate::report::is_broken_pipe(e.as_ref()) {
                return ExitCode::SUCCESS;
            }
            crate::report::fail("convert", Some(&args.file), e.as_ref(), 1)
        }
    }
}

fn convert(args: &Args) -> anyhow::Result<()> {
    let Format::Chrome = args.to;
    let input = input::open(&args.file)?;
    let mut reader = Reader::new(input)?;
    let out_name = output_name(args.output.as_deref());
    let out =
        input::create(args.output.as_deref()).with_context(|| format!("creating {out_name}"))?;
    let mut writer = ChromeWriter::new(out);
    let failure = match reader.feed(&mut writer) {
        Ok(_) => None,
        Err(Stop::Trace(e)) => Some(e),
        Err(Stop::Consumer(e)) => {
            return Err(anyhow::Error::new(e).context(format!("writing {out_name}")))
        }
    };
    writer
        .finish()
        .with_context(|| format!("writing {out_name}"))?;
    match failure {
        None => Ok(()),
        Some(e) => Err(e.into()),
    }
}
