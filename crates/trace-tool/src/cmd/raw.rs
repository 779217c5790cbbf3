//! `trace-tool raw`: the text form of a trace, as `go tool trace -d=wire`
//! (Go 1.27) or `-d=2` (Go 1.23) prints it, and back.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use trace_wire::text::{bytes_to_text, text_to_bytes, GoRelease, ToTextError};
use trace_wire::SizeEncoding;

use super::input::read_input;

/// Print every wire event of a trace as text, exactly as
/// `go tool trace -d=wire` does; or, with `--encode`, turn such text back
/// into a binary trace.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The binary trace to print, or with `--encode` the text to convert
    /// (`-` for standard input).
    #[arg(value_name = "FILE")]
    input: PathBuf,

    /// Print what this Go release's `go tool trace` prints: 1.27 (`-d=wire`)
    /// or 1.23 (`-d=2`). They differ in which event types they know: Go 1.27
    /// stops with `invalid event type: N` at the alloc/free events of a Go
    /// 1.23 trace (`GODEBUG=traceallocfree=1`) and at Go 1.23 events in a
    /// Go 1.22 trace; Go 1.23 reads no trace newer than 1.23. [default: 1.27]
    #[arg(long = "go", value_name = "RELEASE")]
    release: Option<Release>,

    /// Start with the `Trace Go1.xx` header line, as `gotraceraw bytes2text`
    /// does; the output can then be given to `--encode`.
    #[arg(long)]
    versioned: bool,

    /// Convert the text form in FILE to a binary trace, as
    /// `gotraceraw text2bytes` does.
    #[arg(long)]
    encode: bool,

    /// Where `--encode` writes the binary trace (default: standard output).
    #[arg(short, long, value_name = "OUT", requires = "encode")]
    output: Option<PathBuf>,

    /// With `--encode`, write batch sizes as ten-byte varints the way the Go
    /// runtime does, so that the text of a runtime trace converts back to the
    /// identical file.
    #[arg(long, requires = "encode")]
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
    // Checked here rather than with clap's `conflicts_with`, which would make
    // clap waive the `requires = "encode"` checks above.
    for (given, flag) in [
        (args.versioned, "--versioned"),
        (args.release.is_some(), "--go <RELEASE>"),
    ] {
        if args.encode && given {
            eprintln!("error: the argument '{flag}' cannot be used with '--encode'");
            return ExitCode::from(2);
        }
    }
    if args.encode {
        encode(&args.input, args.output.as_deref(), args.runtime_padding)
    } else {
        let release = args.release.map_or(GoRelease::LATEST, GoRelease::from);
        print(&args.input, release, args.versioned)
    }
}

fn print(path: &Path, release: GoRelease, versioned: bool) -> ExitCode {
    let trace = match read_input(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("failed to read trace file: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let mut out = BufWriter::with_capacity(64 << 10, io::stdout().lock());
    match bytes_to_text(&trace, release, versioned, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`trace-tool raw x | head`) is not an error.
        Err(ToTextError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn encode(text_path: &Path, output: Option<&Path>, runtime_padding: bool) -> ExitCode {
    let text = match read_input(text_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("failed to read {}: {e}", text_path.display());
            return ExitCode::FAILURE;
        }
    };
    let sizes = if runtime_padding {
        SizeEncoding::Padded
    } else {
        SizeEncoding::Minimal
    };
    // Convert everything first, so that bad text leaves no partial output.
    let binary = match text_to_bytes(&text, sizes) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{}: {e}", text_path.display());
            return ExitCode::FAILURE;
        }
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
            eprintln!(
                "failed to write {}: {e}",
                output.unwrap_or(Path::new("-")).display()
            );
            ExitCode::FAILURE
        }
    }
}
