//! `trace-tool redact`: a trace with its user strings and non-allowed
//! function names replaced.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use trace_rewrite::{rewrite, RedactOptions, Redactor};

use super::input;

/// Replace names, messages and code paths, to share a trace.
///
/// Redact a trace so it can be shared: task and region names, log
/// categories and messages, goroutine labels, and the function and file
/// names of stack frames outside an allow-list are replaced, the same text
/// by the same replacement everywhere (`redacted-N`, `redacted.funcN`,
/// `redacted/fileN.go`). Functions of Go's standard library and runtime are
/// kept unless `--redact-std`. Events, ids and times are untouched. Prints
/// what was replaced (counts per category) on standard error.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The binary trace (`-` for standard input).
    file: PathBuf,
    /// Where to write the redacted trace (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Also keep the functions whose names start with this prefix (a
    /// trailing `*` is ignored), e.g. `--keep-func 'main.*'`. Repeatable.
    #[arg(long, value_name = "PREFIX")]
    keep_func: Vec<String>,
    /// Redact the standard library's and runtime's function names too.
    #[arg(long)]
    redact_std: bool,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Derive each replacement from the text and the secret in this file
    /// (HMAC-SHA256) instead of numbering them: the same name gets the same
    /// replacement in every trace redacted with the same key, so a fleet's
    /// dumps can still be joined. A file, not an argument, so that the key
    /// does not show in process listings.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match redact(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if crate::report::is_broken_pipe(e.as_ref()) {
                return ExitCode::SUCCESS;
            }
            crate::report::fail("redact", Some(&args.file), e.as_ref(), 1)
        }
    }
}

fn redact(args: &Args) -> anyhow::Result<()> {
    let input = input::read_input(&args.file)?;
    let mut options = RedactOptions::default().keep_std(!args.redact_std);
    for p in &args.keep_func {
        options = options.keep_func(p);
    }
    if let Some(path) = &args.key_file {
        let key =
            std::fs::read(path).with_context(|| format!("reading the key {}", path.display()))?;
        let key = key.trim_ascii_end();
        if key.is_empty() {
            anyhow::bail!("the key file {} is empty", path.display());
        }
        options = options.key(key);
    }
    let mut redactor = Redactor::new(options);
    let out = input::create(args.output.as_deref()).context("creating the output")?;
    let summary = rewrite(&input, &mut redactor, out)?;
    let report = redactor.report();
    eprintln!(
        "redacted {} distinct strings in {} generations ({} rewritten):",
        report.total_distinct(),
        summary.n_generations,
        summary.n_changed
    );
    for (category, n) in report.categories() {
        eprintln!(
            "  {:<16} {:>8} distinct {:>10} references",
            category.name(),
            n.distinct,
            n.references
        );
    }
    if let Some(path) = &args.report {
        std::fs::write(path, report.to_json() + "\n")
            .with_context(|| format!("writing the report to {}", path.display()))?;
    }
    Ok(())
}
