//! `trace-tool validate`: reads a whole trace with the reader's checks and
//! runs the validator on every event.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use trace_analysis::doctor::Doctor;

use super::input;
use crate::report;

/// Check that a trace is valid (exit status 1 if not).
///
/// Check that a trace is valid: it reads to the end without error and every
/// event passes the validator (Go's test validator, plus the checks of newer
/// Go). Prints a one-line summary and exits 0 when valid; otherwise prints
/// every problem, with the generation and byte offset where the reader
/// stopped, and exits 1.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The binary trace (`-` for standard input).
    file: PathBuf,
    /// Print at most this many validator findings (0 for all).
    #[arg(long, default_value_t = 20)]
    max_findings: usize,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let mut doctor = Doctor::new();
    let report = match input::open(&args.file) {
        Ok(f) => trace_reader::validate_with(f, &mut doctor),
        Err(e) => return report::fail("validate", Some(&args.file), &e, 1),
    };
    // Not a trace at all: one error line, as every subcommand prints.
    if let (None, Some(e)) = (report.version, &report.error) {
        return report::fail("validate", Some(&args.file), e, 1);
    }
    let name = report::name(&args.file);
    let version = report
        .version
        .map_or_else(|| "unknown version".into(), |v| v.to_string());
    let span = report
        .span
        .map_or(0, |(a, b)| b.as_nanos().saturating_sub(a.as_nanos()));
    let summary = format!(
        "{version} trace, {} events, {} generations, {} goroutines, {} procs, {} threads, {:.6} s",
        report.n_events,
        report.n_generations,
        report.n_goroutines,
        report.n_procs,
        report.n_threads,
        span as f64 / 1e9,
    );
    // A closed pipe (`validate x | head`) ends the output quietly.
    let mut out = io::stdout().lock();
    macro_rules! say {
        ($($arg:tt)*) => {
            let _ = writeln!(out, $($arg)*);
        };
    }
    let diagnosis = doctor.finish(report.error.as_ref());
    if report.is_valid() {
        say!("{name}: valid: {summary}");
        say!("  doctor: {diagnosis}");
        return ExitCode::SUCCESS;
    }
    say!("{name}: INVALID: {summary}");
    say!("  doctor: {diagnosis}");
    let shown = if args.max_findings == 0 {
        usize::MAX
    } else {
        args.max_findings
    };
    for v in report.violations.iter().take(shown) {
        say!("  {v}");
    }
    if report.violations.len() > shown {
        say!(
            "  ... and {} more findings",
            report.violations.len() - shown
        );
    }
    if let Some(e) = &report.error {
        let mut at = String::new();
        if let Some(g) = e.generation() {
            at.push_str(&format!("generation {g}, "));
        }
        if let Some(o) = e.offset() {
            at.push_str(&format!("byte offset {o}, "));
        }
        say!("  read error ({at}after {} events): {e}", report.n_events);
    }
    ExitCode::FAILURE
}
