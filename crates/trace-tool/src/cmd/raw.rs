//! `trace-tool raw`: the text form of a trace, as `go tool trace -d=wire`
//! (Go 1.27) or `-d=2` (Go 1.23) prints it, and back.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use trace_wire::text::{bytes_to_text, text_to_bytes, GoRelease, ToTextError};
use trace_wire::SizeEncoding;

use super::input::{output_name, read_input};
use crate::report;

/// Print a trace's wire events as text, as `go tool trace -d=wire` does.
///
/// Print every wire event of a trace as text, exactly as
/// `go tool trace -d=wire` does (`raw encode` turns such text back into a
/// binary trace).
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Option<Action>,

    /// The binary trace to print (`-` for standard input).
    #[arg(value_name = "FILE", required = true)]
    input: Option<PathBuf>,

    /// Print what this Go release's `go tool trace` prints: 1.27 (`-d=wire`)
    /// or 1.23 (`-d=2`). They differ in which event types they know: Go 1.27
    /// stops with `invalid event type: N` at the alloc/free events of a Go
    /// 1.23 trace (`GODEBUG=traceallocfree=1`) and at Go 1.23 events in a
    /// Go 1.22 trace; Go 1.23 reads no trace newer than 1.23.
    #[arg(
        long = "go",
        value_name = "RELEASE",
        value_enum,
        default_value = "1.27"
    )]
    release: Release,

    /// Start with the `Trace Go1.xx` header line, as `gotraceraw bytes2text`
    /// does; the output can then be given to `raw encode`.
    #[arg(long)]
    versioned: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Convert the text form (as `raw --versioned` prints it) back to a
    /// binary trace, as `gotraceraw text2bytes` does.
    Encode(EncodeArgs),
}

#[derive(Debug, clap::Args)]
struct EncodeArgs {
    /// The text to convert (`-` for standard input).
    #[arg(value_name = "TEXT")]
    input: PathBuf,

    /// Where to write the binary trace (default: standard output).
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,

    /// Write batch sizes as ten-byte varints the way the Go runtime does, so
    /// that the text of a runtime trace converts back to the identical file.
    #[arg(long)]
    runtime_padding: bool,
}

/// The values of `--go`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Release {
    /// Go 1.23's `go tool trace -d=2`.
    #[value(name = "1.23")]
    Go123,
    /// Go 1.27's `go tool trace -d=wire`.
    #[value(name = "1.27")]
    Go127,
}

impl From<Release> for GoRelease {
    fn from(r: Release) -> GoRelease {
        match r {
            Release::Go123 => GoRelease::Go123,
            Release::Go127 => GoRelease::Go127,
        }
    }
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match (&args.action, &args.input) {
        (Some(Action::Encode(e)), _) => encode(&e.input, e.output.as_deref(), e.runtime_padding),
        (None, Some(input)) => print(input, args.release.into(), args.versioned),
        // clap requires one or the other.
        (None, None) => report::fail_msg("raw", None, "no trace given", 2),
    }
}

fn print(path: &Path, release: GoRelease, versioned: bool) -> ExitCode {
    let trace = match read_input(path) {
        Ok(t) => t,
        Err(e) => return report::fail("raw", Some(path), &e, 1),
    };
    let mut out = BufWriter::with_capacity(64 << 10, io::stdout().lock());
    match bytes_to_text(&trace, release, versioned, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`trace-tool raw x | head`) is not an error.
        Err(ToTextError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(ToTextError::Trace(e)) => report::fail("raw", Some(path), &e, 1),
        Err(ToTextError::Io(e)) => report::fail("raw", None, &e, 1),
        Err(e) => report::fail("raw", Some(path), &e, 1),
    }
}

fn encode(text_path: &Path, output: Option<&Path>, runtime_padding: bool) -> ExitCode {
    let text = match read_input(text_path) {
        Ok(t) => t,
        Err(e) => return report::fail("raw encode", Some(text_path), &e, 1),
    };
    let sizes = if runtime_padding {
        SizeEncoding::Padded
    } else {
        SizeEncoding::Minimal
    };
    // Convert everything first, so that bad text leaves no partial output.
    let binary = match text_to_bytes(&text, sizes) {
        Ok(b) => b,
        Err(e) => return report::fail("raw encode", Some(text_path), &e, 1),
    };
    let written = match output {
        Some(path) if path != Path::new("-") => fs::write(path, &binary),
        _ => {
            let mut out = BufWriter::new(io::stdout().lock());
            out.write_all(&binary).and_then(|()| out.flush())
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("writing {}: {}", output_name(output), report::words(&e));
            report::fail_msg("raw encode", Some(text_path), &msg, 1)
        }
    }
}
