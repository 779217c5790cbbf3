//! `trace-tool convert`: a trace in another format, for other viewers.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use trace_analysis::chrome::ChromeWriter;
use trace_reader::Reader;

use super::input;

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
            eprintln!("trace-tool convert: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn convert(args: &Args) -> anyhow::Result<()> {
    let Format::Chrome = args.to;
    let input = input::open(&args.file).with_context(|| args.file.display().to_string())?;
    let mut reader = Reader::new(input)?;
    let out = input::create(args.output.as_deref()).context("creating the output")?;
    let mut writer = ChromeWriter::new(out);
    let failure = loop {
        match reader.read_event_ref() {
            Ok(Some(ev)) => writer.event(ev).context("writing")?,
            Ok(None) => break None,
            Err(e) if e.is_go_eof() => break None,
            Err(e) => break Some(e),
        }
    };
    writer.finish().context("writing")?;
    match failure {
        None => Ok(()),
        Some(e) => Err(e.into()),
    }
}
