//! `trace-tool cut`: the whole generations of a time window or a range.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use trace_rewrite::{rewrite, Cut, Selection};

use super::input;

/// Keep whole generations: a time window or a range of them.
///
/// Cut a trace down to whole generations: those with an event in the time
/// window `--from`..`--to` (nanoseconds, as `dump` prints times), or the
/// generations `--gen A..B` (positions in the file from 1, as the `N=` of
/// `dump`'s sync events counts them). The generations kept are copied as
/// they are, so the output is a valid trace with their events; its first
/// generation's statuses start from `Undetermined`, as a trace's first do.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The binary trace (`-` for standard input).
    file: PathBuf,
    /// Where to write the cut trace (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The start of the window, in nanoseconds.
    #[arg(long, value_name = "NS", conflicts_with = "gen")]
    from: Option<i64>,
    /// The end of the window (inclusive), in nanoseconds.
    #[arg(long, value_name = "NS", conflicts_with = "gen")]
    to: Option<i64>,
    /// The generations to keep, `A..B` (inclusive) or `A`.
    #[arg(long, value_name = "A..B")]
    gen: Option<String>,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match cut(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if crate::report::is_broken_pipe(e.as_ref()) {
                return ExitCode::SUCCESS;
            }
            crate::report::fail("cut", Some(&args.file), e.as_ref(), 1)
        }
    }
}

fn parse_range(s: &str) -> anyhow::Result<(usize, usize)> {
    let parse = |n: &str| {
        n.trim()
            .parse::<usize>()
            .with_context(|| format!("bad generation number {n:?} in --gen {s:?}"))
    };
    let (a, b) = match s.split_once("..") {
        Some((a, b)) => (parse(a)?, parse(b.strip_prefix('=').unwrap_or(b))?),
        None => {
            let n = parse(s)?;
            (n, n)
        }
    };
    if a == 0 || b < a {
        bail!("--gen {s:?}: want A..B with 1 <= A <= B");
    }
    Ok((a, b))
}

fn cut(args: &Args) -> anyhow::Result<()> {
    let selection = match (&args.gen, args.from, args.to) {
        (Some(g), _, _) => {
            let (first, last) = parse_range(g)?;
            Selection::Generations { first, last }
        }
        (None, None, None) => bail!("give a window (--from, --to) or --gen A..B"),
        (None, from, to) => {
            let (from, to) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
            if to < from {
                bail!("--to {to} is before --from {from}");
            }
            Selection::Window { from, to }
        }
    };
    let input = input::read_input(&args.file)?;
    let mut cut = Cut::new(selection);
    let out = input::create(args.output.as_deref()).context("creating the output")?;
    let summary = rewrite(&input, &mut cut, out)?;
    cut.check()?;
    let kept = cut.kept();
    eprintln!(
        "kept generations {}..{} ({} of {}), {} bytes",
        kept.first().copied().unwrap_or_default(),
        kept.last().copied().unwrap_or_default(),
        summary.n_written,
        summary.n_generations,
        summary.bytes_written
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("2..5").unwrap(), (2, 5));
        assert_eq!(parse_range("3").unwrap(), (3, 3));
        assert_eq!(parse_range("1..=2").unwrap(), (1, 2));
        assert!(parse_range("0..2").is_err());
        assert!(parse_range("5..2").is_err());
        assert!(parse_range("x").is_err());
    }
}
