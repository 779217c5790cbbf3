//! `trace-tool check`: latency bounds on regions and tasks, for CI.

use std::path::PathBuf;
use std::process::ExitCode;

use trace_analysis::check::{self, Kind, Outcome, Rule, Stat};
use trace_analysis::stats;

use super::input;
use super::stats::human;

/// Fail (exit status 1) when region or task latencies exceed bounds.
///
/// Check latency bounds on user regions and tasks: exit status 1 if a bound
/// is exceeded, 0 if all hold, 2 if the trace cannot be read or the rules
/// are malformed. Bounds are inclusive; `max` also counts regions and tasks
/// still open at the end (they took at least that long); percentiles are
/// nearest-rank over complete ones. A type absent from the trace fails (a
/// misspelt type would otherwise turn the gate off) unless
/// `--allow-missing`. A FAIL line names the slowest task or region of the
/// type: its task id, goroutine and start time.
///
/// Examples: `--max-region 'db.query=50ms'`, `--p99-task 'checkout=200ms'`,
/// `--rule 'region:p90:*=10ms'` (every region type).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The binary trace (`-` for standard input).
    file: PathBuf,
    /// TYPE=LIMIT: no region of TYPE may take longer than LIMIT (`*`: any
    /// type). LIMIT has a unit: ns, us, ms, s, m.
    #[arg(long, value_name = "TYPE=LIMIT")]
    max_region: Vec<String>,
    /// TYPE=LIMIT: the 99th percentile of regions of TYPE is at most LIMIT.
    #[arg(long, value_name = "TYPE=LIMIT")]
    p99_region: Vec<String>,
    /// TYPE=LIMIT: no task of TYPE may take longer than LIMIT.
    #[arg(long, value_name = "TYPE=LIMIT")]
    max_task: Vec<String>,
    /// TYPE=LIMIT: the 99th percentile of tasks of TYPE is at most LIMIT.
    #[arg(long, value_name = "TYPE=LIMIT")]
    p99_task: Vec<String>,
    /// KIND:STAT:TYPE=LIMIT, the general form: KIND is region or task, STAT
    /// is max or a percentile pN (p50, p99.9, …), e.g. `task:p90:*=1s`.
    #[arg(long, value_name = "KIND:STAT:TYPE=LIMIT")]
    rule: Vec<String>,
    /// Print only the bounds that are exceeded.
    #[arg(short, long)]
    quiet: bool,
    /// Let a bound on a type that does not occur in the trace pass.
    #[arg(long)]
    allow_missing: bool,
}

impl Args {
    fn rules(&self) -> Result<Vec<Rule>, check::RuleError> {
        let mut rules = Vec::new();
        let groups = [
            (&self.max_region, Kind::Region, Stat::Max),
            (&self.p99_region, Kind::Region, Stat::Percentile(99.0)),
            (&self.max_task, Kind::Task, Stat::Max),
            (&self.p99_task, Kind::Task, Stat::Percentile(99.0)),
        ];
        for (specs, kind, stat) in groups {
            for spec in specs {
                rules.push(Rule::with(kind, stat, spec)?);
            }
        }
        for r in &self.rule {
            rules.push(r.parse()?);
        }
        Ok(rules)
    }
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match check_cmd(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            if crate::report::is_broken_pipe(e.as_ref()) {
                return ExitCode::SUCCESS;
            }
            crate::report::fail("check", Some(&args.file), e.as_ref(), 2)
        }
    }
}

/// Whether an outcome passes, a missing type counting as a failure unless
/// allowed.
fn passes(o: &Outcome, allow_missing: bool) -> bool {
    o.passed && (allow_missing || !o.missing)
}

fn describe(o: &Outcome, start_ns: i64, allow_missing: bool) -> String {
    let what = format!("{} {} {:?}", o.rule.kind, o.rule.stat, &*o.ty);
    let limit = human(o.rule.limit);
    match o.value {
        None if o.unfinished > 0 => {
            format!("ok    {what}: none complete ({} unfinished)", o.unfinished)
        }
        None if o.missing && !allow_missing => format!(
            "FAIL  {what}: no {} of this type in the trace (a typo? --allow-missing lets it pass)",
            o.rule.kind
        ),
        None => format!("ok    {what}: none in the trace"),
        Some(v) => {
            let at_least = if o.at_least { "at least " } else { "" };
            let (verdict, op) = if o.passed {
                ("ok  ", "<=")
            } else {
                ("FAIL", ">")
            };
            let mut s = format!(
                "{verdict}  {what} = {at_least}{} {op} {limit} ({} done",
                human(v),
                o.samples
            );
            if o.unfinished > 0 {
                s.push_str(&format!(", {} unfinished", o.unfinished));
            }
            s.push(')');
            if let (false, Some(i)) = (o.passed, o.slowest) {
                s.push_str(&format!(
                    "; slowest: {} at {} into the trace",
                    instance_name(&o.rule.kind.to_string(), &i),
                    human(std::time::Duration::from_nanos(
                        i.start_ns.saturating_sub(start_ns).max(0) as u64
                    ))
                ));
                s.push_str(&format!(
                    ", {}{}",
                    if i.unfinished {
                        "open for at least "
                    } else {
                        "took "
                    },
                    human(i.duration)
                ));
            }
            s
        }
    }
}

/// `task 17` or `region of task 17 on goroutine 42`.
fn instance_name(kind: &str, i: &trace_analysis::stats::Instance) -> String {
    match i.goroutine {
        Some(g) if i.task == 0 => format!("{kind} on goroutine {g} (background task)"),
        Some(g) => format!("{kind} of task {} on goroutine {g}", i.task),
        None => format!("{kind} {}", i.task),
    }
}

/// Whether every bound holds.
fn check_cmd(args: &Args) -> anyhow::Result<bool> {
    let rules = args.rules()?;
    if rules.is_empty() {
        anyhow::bail!("no bounds given (see --help)");
    }
    let input = input::open(&args.file)?;
    let stats = stats::stats(input)?;
    let outcomes = check::evaluate(&rules, &stats);
    let mut ok = true;
    for o in &outcomes {
        let passed = passes(o, args.allow_missing);
        ok &= passed;
        if !(args.quiet && passed) {
            println!("{}", describe(o, stats.start_ns, args.allow_missing));
        }
    }
    Ok(ok)
}
