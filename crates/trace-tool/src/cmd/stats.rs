//! `trace-tool stats`: a summary of a trace, as tables or JSON.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use trace_analysis::stats::{self, Distribution, SpanStats, TraceStats};

use super::input;

/// Summarize a trace: GC, tasks and regions with percentiles, goroutines.
///
/// Summarize a trace: duration, events by kind, goroutines, procs, threads,
/// generations, garbage collection and stop-the-world pauses, user tasks and
/// regions by type with latency percentiles (nearest rank), and goroutines
/// grouped by start function with where their time went (as `go tool
/// trace`'s goroutine analysis). A trace that breaks off is summarized up
/// to there, and the reader's error is printed after the summary.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The binary trace (`-` for standard input).
    file: PathBuf,
    /// Print one JSON object (durations in nanoseconds) instead of tables.
    #[arg(long)]
    json: bool,
    /// How many goroutine groups to list, most execution time first (0: all).
    #[arg(long, default_value_t = 20)]
    top: usize,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match stats_cmd(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if crate::report::is_broken_pipe(e.as_ref()) {
                return ExitCode::SUCCESS;
            }
            crate::report::fail("stats", Some(&args.file), e.as_ref(), 1)
        }
    }
}

fn stats_cmd(args: &Args) -> anyhow::Result<()> {
    let input = input::open(&args.file)?;
    // A trace that breaks off is summarized up to there (as `view` shows
    // it); the reader's error goes to standard error after the summary.
    let (stats, stopped) = stats::stats_partial(input)?;
    let text = if args.json {
        let mut s = stats.to_json();
        s.push('\n');
        s
    } else {
        render(&stats, args.top)
    };
    let mut out = input::create(None)?;
    out.write_all(text.as_bytes())?;
    out.flush()?;
    if let Some(e) = stopped {
        let shown = format!("the summary is of the {} events before it", stats.events);
        crate::report::stopped_early("stats", &args.file, &e, &shown);
    }
    Ok(())
}

/// A duration with three significant digits: `812ns`, `12.3µs`, `4.56ms`,
/// `1.23s`.
pub(crate) fn human(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1000 {
        return format!("{ns}ns");
    }
    // The largest unit that keeps at least 1 before the point, moving up
    // when rounding to three digits would print 1000.
    let units = [(1e3, "µs"), (1e6, "ms"), (1e9, "s")];
    let ns = ns as f64;
    let mut i = units.iter().rposition(|&(u, _)| ns >= u).unwrap_or(0);
    if i + 1 < units.len() && ns / units[i].0 >= 999.5 {
        i += 1;
    }
    let (u, unit) = units[i];
    let v = ns / u;
    let decimals = if v < 9.995 {
        2
    } else if v < 99.95 {
        1
    } else {
        0
    };
    format!("{v:.decimals$}{unit}")
}

/// Nanoseconds since the Unix epoch as RFC 3339 in UTC with nanoseconds:
/// `2006-01-02T15:04:05.000000000Z`.
fn rfc3339(unix_ns: i64) -> String {
    let secs = unix_ns.div_euclid(1_000_000_000);
    let nanos = unix_ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

fn opt(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_string(), human)
}

/// Left-aligns the first column and right-aligns the others.
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let cols = header.len();
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        out.push_str("  ");
        for (i, cell) in cells.enumerate() {
            let pad = width[i] - cell.chars().count();
            if i == 0 {
                out.push_str(cell);
                if cols > 1 {
                    out.push_str(&" ".repeat(pad));
                }
            } else {
                out.push_str("  ");
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            }
        }
        out.push('\n');
    };
    line(out, &mut header.iter().copied());
    for row in rows {
        line(out, &mut row.iter().map(String::as_str));
    }
}

fn type_name(ty: &str, missing: &str) -> String {
    if ty.is_empty() {
        missing.to_string()
    } else {
        ty.to_string()
    }
}

fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn quantiles(d: &Distribution, qs: &[f64]) -> Vec<String> {
    qs.iter().map(|&q| opt(d.quantile(q))).collect()
}

fn render(s: &TraceStats, top: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Trace");
    let kinds: Vec<String> = s
        .events_by_kind
        .iter()
        .map(|(k, n)| format!("{k} {}", count(*n)))
        .collect();
    let mut rows = Vec::new();
    if let Some(ns) = s.start_wall.and_then(stats::unix_nanos) {
        rows.push(vec![
            "started".into(),
            format!("{} (wall clock)", rfc3339(ns)),
        ]);
    }
    rows.extend([
        vec!["duration".into(), human(s.duration)],
        vec!["events".into(), count(s.events)],
        vec!["  by kind".into(), kinds.join(", ")],
        vec!["generations".into(), count(s.generations)],
        vec!["doctor".into(), s.diagnosis.to_string()],
        vec![
            "goroutines".into(),
            format!(
                "{} ({} created in the trace)",
                count(s.goroutines as u64),
                count(s.goroutines_created)
            ),
        ],
        vec!["procs".into(), count(s.procs as u64)],
        vec!["threads".into(), count(s.threads as u64)],
    ]);
    if let Some(p) = s.gomaxprocs {
        rows.push(vec!["GOMAXPROCS".into(), p.to_string()]);
    }
    if let Some(h) = s.max_heap_bytes {
        rows.push(vec![
            "max heap".into(),
            format!("{:.1} MiB", h as f64 / (1 << 20) as f64),
        ]);
    }
    table_plain(&mut out, &rows);

    // A Rust program has no garbage collector: say nothing of one.
    let gc = &s.gc;
    let show_gc = !(s.from_rust_recorder && gc.cycles == 0 && gc.stw.is_empty());
    if show_gc {
        let _ = writeln!(out, "\nGarbage collection");
    }
    if show_gc {
        table_plain(
            &mut out,
            &[
                vec!["GC cycles".into(), count(gc.cycles as u64)],
                vec!["mark phase".into(), human(gc.mark_time)],
            ],
        );
    }
    if !gc.stw.is_empty() {
        let mut rows: Vec<Vec<String>> = gc
            .stw_by_kind
            .iter()
            .map(|k| {
                let mut r = vec![
                    k.kind.to_string(),
                    count(k.pauses.count() as u64),
                    human(k.pauses.total()),
                ];
                r.extend(quantiles(&k.pauses, &[0.5, 0.99, 1.0]));
                r
            })
            .collect();
        let mut all = vec![
            "(all)".into(),
            count(gc.stw.count() as u64),
            human(gc.stw.total()),
        ];
        all.extend(quantiles(&gc.stw, &[0.5, 0.99, 1.0]));
        rows.push(all);
        let _ = writeln!(out, "\nStop-the-world pauses");
        table(
            &mut out,
            &["KIND", "COUNT", "TOTAL", "P50", "P99", "MAX"],
            &rows,
        );
    }

    if !s.tasks.is_empty() {
        let _ = writeln!(out, "\nTasks (latency from begin to end)");
        let rows: Vec<Vec<String>> = s
            .tasks
            .iter()
            .map(|t| {
                let mut r = span_head(t, "(begin not in trace)");
                r.extend(quantiles(&t.latency, &[0.5, 0.9, 0.99, 1.0]));
                r
            })
            .collect();
        table(
            &mut out,
            &[
                "TYPE",
                "COUNT",
                "DONE",
                "UNFINISHED",
                "NO BEGIN",
                "P50",
                "P90",
                "P99",
                "MAX",
            ],
            &rows,
        );
    }

    if !s.regions.is_empty() {
        let _ = writeln!(out, "\nRegions");
        let rows: Vec<Vec<String>> = s
            .regions
            .iter()
            .map(|r| {
                let mut row = span_head(r, "(no type)");
                row.push(human(r.latency.total()));
                row.extend(quantiles(&r.latency, &[0.5, 0.99, 1.0]));
                row
            })
            .collect();
        table(
            &mut out,
            &[
                "TYPE",
                "COUNT",
                "DONE",
                "UNFINISHED",
                "NO BEGIN",
                "TOTAL",
                "P50",
                "P99",
                "MAX",
            ],
            &rows,
        );
    }

    if !s.goroutine_groups.is_empty() {
        let n = if top == 0 {
            s.goroutine_groups.len()
        } else {
            top.min(s.goroutine_groups.len())
        };
        let _ = writeln!(
            out,
            "\nGoroutines by start function ({n} of {} groups, most execution time first)",
            s.goroutine_groups.len()
        );
        let rows: Vec<Vec<String>> = s.goroutine_groups[..n]
            .iter()
            .map(|g| {
                vec![
                    type_name(&g.name, "(no stack seen)"),
                    count(g.count as u64),
                    human(g.exec),
                    human(g.sched_wait),
                    human(g.sync_block),
                    human(g.net_block),
                    human(g.other_block),
                    human(g.syscall),
                    human(g.syscall_block),
                    human(g.gc_assist),
                ]
            })
            .collect();
        let header = [
            "START FUNCTION",
            "COUNT",
            "EXEC",
            "SCHED WAIT",
            "SYNC BLOCK",
            "NET BLOCK",
            "OTHER BLOCK",
            "SYSCALL",
            "SYSCALL BLOCK",
            "GC ASSIST",
        ];
        // For a Rust program's trace, the times that are zero throughout
        // (the Go runtime's network poller, GC assists, …) are left out.
        let keep: Vec<bool> = (0..header.len())
            .map(|c| !s.from_rust_recorder || c < 2 || rows.iter().any(|r| r[c] != "0ns"))
            .collect();
        let pick = |v: &[String]| -> Vec<String> {
            v.iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(x, _)| x.clone())
                .collect()
        };
        let header: Vec<&str> = header
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(h, _)| *h)
            .collect();
        let rows: Vec<Vec<String>> = rows.iter().map(|r| pick(r)).collect();
        table(&mut out, &header, &rows);
    }
    out
}

fn span_head(s: &SpanStats, missing: &str) -> Vec<String> {
    vec![
        type_name(&s.ty, missing),
        count(s.count() as u64),
        count(s.latency.count() as u64),
        count(s.unfinished as u64),
        count(s.without_begin as u64),
    ]
}

/// Two columns, both left-aligned.
fn table_plain(out: &mut String, rows: &[Vec<String>]) {
    let w = rows.iter().map(|r| r[0].chars().count()).max().unwrap_or(0);
    for r in rows {
        let _ = writeln!(out, "  {:<w$}  {}", r[0], r[1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        let d = Duration::from_nanos;
        assert_eq!(human(d(0)), "0ns");
        assert_eq!(human(d(999)), "999ns");
        assert_eq!(human(d(1_234)), "1.23µs");
        assert_eq!(human(d(12_345_678)), "12.3ms");
        assert_eq!(human(d(123_456_789)), "123ms");
        assert_eq!(human(d(4_500_000_000)), "4.50s");
        assert_eq!(human(d(999_999_999)), "1.00s");
        assert_eq!(human(d(9_999)), "10.0µs");
        assert_eq!(human(d(99_999)), "100µs");
        assert_eq!(human(d(999_600)), "1.00ms");
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            rfc3339(951_782_400_000_000_001),
            "2000-02-29T00:00:00.000000001Z"
        );
    }

    #[test]
    fn counts_have_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(4_936_441), "4,936,441");
    }
}
