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
///
/// `--to parquet -o DIR` writes Parquet tables into DIR (traces, events,
/// goroutine_states, tasks, regions, logs, stacks; `DIR/NAME.parquet`), for
/// SQL engines such as DuckDB to query many traces at once; every row
/// names its trace (`--name`, default: the file's name). For example, the
/// p99 latency of each task type over a directory of exports:
/// `SELECT type, quantile_disc(duration_ns, 0.99) FROM 'exports/*/tasks.parquet'
/// WHERE duration_ns IS NOT NULL GROUP BY type`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The output format.
    #[arg(long, value_enum)]
    to: Format,
    /// The binary trace (`-` for standard input).
    file: PathBuf,
    /// Where to write (default: standard output); for `parquet`, the
    /// directory of the tables (required).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// For `parquet`: the trace's name in every row (default: the file's
    /// name).
    #[arg(long)]
    name: Option<String>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// Chrome trace-event JSON (Perfetto UI, chrome://tracing).
    Chrome,
    /// Parquet tables in a directory, for SQL engines (DuckDB, Spark, Trino).
    Parquet,
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
    if let Format::Parquet = args.to {
        return parquet(args);
    }
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

fn parquet(args: &Args) -> anyhow::Result<()> {
    let Some(dir) = args.output.as_deref() else {
        anyhow::bail!("--to parquet needs the tables' directory: -o DIR");
    };
    let input = input::open(&args.file)?;
    let mut reader = Reader::new(input)?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args
            .file
            .file_name()
            .map_or_else(|| "-".to_owned(), |n| n.to_string_lossy().into_owned()),
    };
    match trace_parquet::export(&mut reader, dir, &name) {
        Ok(_) => Ok(()),
        Err(trace_parquet::Error::Trace(e)) => Err(e.into()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("writing {}", dir.display()))),
    }
}
