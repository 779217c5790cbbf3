//! `trace-tool dump`: every event of a trace, ordered and validated, exactly
//! as `go tool trace -d=parsed` of Go 1.27 prints it (or, with `--go 1.23`,
//! as Go 1.23's `go tool trace -d=1` does).

use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use trace_reader::{consume, Compat, Event, Options, Reader, Stop};

use super::input;
use crate::report;

/// Print every event, ordered and validated, as `go tool trace -d=parsed`.
///
/// Print every event of a trace as Go 1.27's `go tool trace -d=parsed`
/// does: Go's `Event.String()` for each event, in Go's order. On a broken
/// trace, the events before the problem are printed, then the error (on
/// standard error, exit status 1).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The binary trace (`-` for standard input).
    file: PathBuf,

    /// Whose output to reproduce: `1.27` (Go 1.25 to 1.27's
    /// `go tool trace -d=parsed`) or `1.23` (Go 1.23's `go tool trace -d=1`:
    /// its text, and its sync events for Go 1.22 and 1.23 traces).
    #[arg(long = "go", value_name = "RELEASE", default_value = "1.27")]
    go: GoRelease,
}

/// A Go release whose `go tool trace` output `dump` reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum GoRelease {
    /// Go 1.23's `-d=1`.
    #[value(name = "1.23")]
    Go123,
    /// Go 1.25, 1.26 and 1.27's `-d=parsed` (identical for every trace).
    #[value(name = "1.27", alias = "1.26", alias = "current")]
    Current,
}

/// Why a dump stopped early.
enum Failure {
    /// The trace is broken (Go's message).
    Trace(trace_reader::Error),
    /// Reading the file or writing the output failed.
    Io(io::Error),
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(256 << 10, stdout);
    let res = input::open(&args.file)
        .map_err(Failure::Io)
        .and_then(|input| dump(input, args.go, &mut out));
    let flushed = out.flush();
    let failure = match (res, flushed) {
        (Ok(()), Ok(())) => return ExitCode::SUCCESS,
        (Err(f), _) => f,
        (Ok(()), Err(e)) => Failure::Io(e),
    };
    match failure {
        Failure::Trace(e) => report::fail("dump", Some(&args.file), &e, 1),
        Failure::Io(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Failure::Io(e) => report::fail("dump", Some(&args.file), &e, 1),
    }
}

/// Writes every event, one per line.
fn dump(input: impl Read, go: GoRelease, out: &mut impl Write) -> Result<(), Failure> {
    let compat = match go {
        GoRelease::Go123 => Compat::Go123,
        GoRelease::Current => Compat::Current,
    };
    let mut reader =
        Reader::with_options(input, Options::new().compat(compat)).map_err(Failure::Trace)?;
    let mut print = consume::from_fn(|event: &Event| {
        match go {
            GoRelease::Go123 => event.write_go123(out),
            GoRelease::Current => event.write_go(out),
        }?;
        out.write_all(b"\n")
    });
    match reader.feed(&mut print) {
        Ok(_) => Ok(()),
        Err(Stop::Trace(e)) => Err(Failure::Trace(e)),
        Err(Stop::Consumer(e)) => Err(Failure::Io(e)),
    }
}
