//! `trace-tool`: dumps, validates and summarizes Go execution traces.
//!
//! `main` only parses the command line and hands over to one module per
//! subcommand in `cmd/`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod report;

/// Dumps, validates and summarizes Go execution traces without Go.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Raw(cmd::raw::Args),
    Footprint(cmd::footprint::Args),
    Dump(cmd::dump::Args),
    View(cmd::view::Args),
    Validate(cmd::validate::Args),
    Pprof(cmd::pprof::Args),
    Stats(cmd::stats::Args),
    Convert(cmd::convert::Args),
    Check(cmd::check::Args),
    Redact(cmd::redact::Args),
    Cut(cmd::cut::Args),
    Filter(cmd::filter::Args),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Raw(args) => cmd::raw::run(&args),
        Command::Footprint(args) => cmd::footprint::run(&args),
        Command::Dump(args) => cmd::dump::run(&args),
        Command::View(args) => cmd::view::run(&args),
        Command::Validate(args) => cmd::validate::run(&args),
        Command::Pprof(args) => cmd::pprof::run(&args),
        Command::Stats(args) => cmd::stats::run(&args),
        Command::Convert(args) => cmd::convert::run(&args),
        Command::Check(args) => cmd::check::run(&args),
        Command::Redact(args) => cmd::redact::run(&args),
        Command::Cut(args) => cmd::cut::run(&args),
        Command::Filter(args) => cmd::filter::run(&args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// `trace-tool --help` lists each command on one short line; the details
    /// are in each command's own help.
    #[test]
    fn command_summaries_are_one_line() {
        let cli = super::Cli::command();
        for cmd in cli.get_subcommands() {
            let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(!about.is_empty(), "{}: no summary", cmd.get_name());
            assert!(
                !about.contains('\n') && about.len() <= 80,
                "{}: summary is not one short line: {about:?}",
                cmd.get_name()
            );
            assert!(
                cmd.get_long_about().is_some(),
                "{}: no details",
                cmd.get_name()
            );
        }
    }
}
