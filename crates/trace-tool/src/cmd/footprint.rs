//! `trace-tool footprint`: how many bytes and events each event type takes,
//! as `go tool trace -d=footprint` (Go 1.27) prints it.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use trace_wire::footprint::Footprint;
use trace_wire::gosort;
use trace_wire::text::GoRelease;

use super::input::read_input;
use crate::report;

/// Bytes and events per event type, as `go tool trace -d=footprint`.
///
/// Print the bytes and the number of events of each event type, exactly as
/// Go 1.27's `go tool trace -d=footprint` does: one row per type byte
/// (0–255), largest first.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The binary trace (`-` for standard input).
    #[arg(value_name = "FILE")]
    input: PathBuf,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let trace = match read_input(&args.input) {
        Ok(t) => t,
        Err(e) => return report::fail("footprint", Some(&args.input), &e, 1),
    };
    // Go reads the whole trace before it prints anything: an error leaves
    // standard output empty.
    let footprint = match Footprint::of_trace(&trace, GoRelease::Go127) {
        Ok(f) => f,
        Err(e) => return report::fail("footprint", Some(&args.input), &e, 1),
    };
    let mut out = io::stdout().lock();
    match out
        .write_all(render(&footprint).as_bytes())
        .and_then(|()| out.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => report::fail("footprint", None, &e, 1),
    }
}

/// The columns of the table.
const COLUMNS: usize = 5;

/// The table as Go prints it: a header, a row of dashes, then one row per
/// type byte, sorted by bytes, largest first, with Go's unstable sort (so
/// that types with equal bytes come in Go's order). Each type's bytes are a
/// percentage of the whole file and its count one of all events; with no
/// events the latter is `NaN%`, as in Go. Types past the end of the event
/// table are named `<unknown (N)>`.
fn render(footprint: &Footprint) -> String {
    let mut types = *footprint.types();
    gosort::sort_func(&mut types, |a, b| b.bytes.cmp(&a.bytes));
    let percent = |part: u64, whole: u64| format!("{:.2}%", part as f64 / whole as f64 * 100.0);
    let mut rows: Vec<[String; COLUMNS]> = Vec::with_capacity(types.len() + 2);
    rows.push(["Event", "Bytes", "%", "Count", "%"].map(String::from));
    rows.push(["-"; COLUMNS].map(String::from));
    for t in types {
        let name = match footprint.name(t.ty) {
            Some(name) => name.to_string(),
            None => format!("<unknown ({})>", t.ty),
        };
        rows.push([
            name,
            t.bytes.to_string(),
            percent(t.bytes, footprint.trace_bytes()),
            t.count.to_string(),
            percent(t.count, footprint.events()),
        ]);
    }
    align(&rows)
}

/// Lays out rows of cells the way Go's `text/tabwriter` does with the
/// settings `go tool trace` uses (`NewWriter(w, 3, 8, 2, ' ', 0)`) when
/// every line has the same number of tab-separated cells: each cell but the
/// last of its line is padded with spaces to its column's width, which is
/// the width of the column's widest cell plus two, and at least three. The
/// last cell is not part of a column and is not padded.
fn align(rows: &[[String; COLUMNS]]) -> String {
    const MIN_WIDTH: usize = 3;
    const PADDING: usize = 2;
    // Go counts the width of a cell in runes.
    let width = |cell: &String| cell.chars().count();
    let mut widths = [MIN_WIDTH; COLUMNS - 1];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell) + PADDING);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (cell, &w) in row.iter().zip(&widths) {
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', w - width(cell)));
        }
        out.push_str(&row[COLUMNS - 1]);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_like_tabwriter() {
        let rows = [
            ["Event", "Bytes", "%", "Count", "%"].map(String::from),
            ["", "7", "1.00%", "1", "NaN%"].map(String::from),
            ["é", "", "", "", ""].map(String::from),
        ];
        assert_eq!(
            align(&rows),
            "Event  Bytes  %      Count  %\n       7      1.00%  1      NaN%\né                           \n"
        );
    }

    /// Lines of Go 1.27's `go tool trace -d=footprint` on a trace that is
    /// only the header `go 1.23 trace`.
    #[test]
    fn empty_trace_prints_like_go() {
        let footprint = Footprint::of_trace(b"go 1.23 trace\0\0\0", GoRelease::Go127).unwrap();
        let text = render(&footprint);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 + 256);
        assert_eq!(
            lines[..4],
            [
                "Event                Bytes  %      Count  %",
                "-                    -      -      -      -",
                "                     0      0.00%  0      NaN%",
                "EventBatch           0      0.00%  0      NaN%",
            ]
        );
        assert_eq!(lines[51], "ExperimentalBatch    0      0.00%  0      NaN%");
        assert_eq!(lines[257], "<unknown (255)>      0      0.00%  0      NaN%");
    }
}
