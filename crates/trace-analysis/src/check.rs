//! Latency bounds on user regions and tasks, for CI gates.
//!
//! A [`Rule`] bounds one statistic of the latency of a region or task type:
//!
//! ```text
//! region:max:db.query=50ms        every `db.query` region took at most 50 ms
//! task:p99:checkout=200ms         99 % of `checkout` tasks took at most 200 ms
//! region:p90.5:*=1s               for every region type, p90.5 is at most 1 s
//! ```
//!
//! The form is `KIND:STAT:TYPE=LIMIT`: `KIND` is `region` or `task`; `STAT`
//! is `max` or a percentile `pN` (0 < N ≤ 100, decimals allowed, nearest
//! rank as in [`crate::stats`]); `TYPE` is the type as passed to
//! `trace.StartRegion` / `trace.NewTask` (it may contain `:` and `=`; the
//! limit follows the last `=`), or `*` for each type in the trace; `LIMIT`
//! is a number with a unit: `ns`, `us` (or `µs`), `ms`, `s`, `m`.
//!
//! A bound is exceeded when the statistic is strictly greater than the
//! limit. Percentiles are over complete regions and tasks (both ends in the
//! trace). `max` also counts what is still open when the trace ends (or
//! when the goroutine of a region ends): such a span lasted at least that
//! long, so it exceeds the bound if that already exceeds it. A type that
//! does not occur in the trace passes, with a note.
//!
//! ```
//! use trace_analysis::check::{evaluate, Rule};
//! use trace_analysis::stats;
//!
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-nestedtasks.trace");
//! let stats = stats::stats(std::fs::File::open(path)?)?;
//! let rules: Vec<Rule> = vec!["task:p99:level1=1s".parse()?, "region:max:*=1ns".parse()?];
//! let outcomes = evaluate(&rules, &stats);
//! assert!(outcomes[0].passed);
//! assert!(outcomes.iter().any(|o| !o.passed));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::stats::{SpanStats, TraceStats};

/// What a rule bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// User regions.
    Region,
    /// User tasks.
    Task,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Region => "region",
            Kind::Task => "task",
        })
    }
}

/// Which statistic of the latencies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// The largest (unfinished spans count with their time so far).
    Max,
    /// A percentile, 0 < p ≤ 100, nearest rank.
    Percentile(f64),
}

impl fmt::Display for Stat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stat::Max => f.write_str("max"),
            Stat::Percentile(p) => write!(f, "p{p}"),
        }
    }
}

/// Which types a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeMatch {
    /// This type.
    Exact(String),
    /// Each type in the trace (`*`).
    Each,
}

impl fmt::Display for TypeMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeMatch::Exact(t) => f.write_str(t),
            TypeMatch::Each => f.write_str("*"),
        }
    }
}

/// A latency bound (see the [module docs](self) for the syntax).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Regions or tasks.
    pub kind: Kind,
    /// The statistic bounded.
    pub stat: Stat,
    /// The types it applies to.
    pub ty: TypeMatch,
    /// The bound, inclusive.
    pub limit: Duration,
}

impl Rule {
    /// A rule from its parts: `spec` is `TYPE=LIMIT`, as in the shorthand
    /// command-line flags (`--max-region 'db.query=50ms'`).
    pub fn with(kind: Kind, stat: Stat, spec: &str) -> Result<Rule, RuleError> {
        let (ty, limit) = spec.rsplit_once('=').ok_or_else(|| {
            RuleError(format!("`{spec}`: expected TYPE=LIMIT, e.g. db.query=50ms"))
        })?;
        if ty.is_empty() {
            return Err(RuleError(format!(
                "`{spec}`: empty type (use * for each type)"
            )));
        }
        let ty = if ty == "*" {
            TypeMatch::Each
        } else {
            TypeMatch::Exact(ty.to_string())
        };
        Ok(Rule {
            kind,
            stat,
            ty,
            limit: parse_duration(limit)?,
        })
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}={:?}",
            self.kind, self.stat, self.ty, self.limit
        )
    }
}

/// Why a rule or duration could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError(String);

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RuleError {}

impl FromStr for Stat {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Stat, RuleError> {
        if s == "max" {
            return Ok(Stat::Max);
        }
        let p = s
            .strip_prefix('p')
            .and_then(|n| n.parse::<f64>().ok())
            .filter(|p| *p > 0.0 && *p <= 100.0)
            .ok_or_else(|| {
                RuleError(format!(
                    "`{s}`: expected max or a percentile p1 … p100 (e.g. p99, p99.9)"
                ))
            })?;
        Ok(Stat::Percentile(p))
    }
}

impl FromStr for Rule {
    type Err = RuleError;

    /// `KIND:STAT:TYPE=LIMIT`.
    fn from_str(s: &str) -> Result<Rule, RuleError> {
        let mut parts = s.splitn(3, ':');
        let (Some(kind), Some(stat), Some(spec)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(RuleError(format!(
                "`{s}`: expected KIND:STAT:TYPE=LIMIT, e.g. region:p99:db.query=50ms"
            )));
        };
        let kind = match kind {
            "region" => Kind::Region,
            "task" => Kind::Task,
            other => return Err(RuleError(format!("`{other}`: expected region or task"))),
        };
        Rule::with(kind, stat.parse()?, spec)
    }
}

/// Parses `50ms`, `1.5s`, `200us`, `200µs`, `10ns`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, RuleError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| RuleError(format!("`{s}`: a duration needs a unit (ns, us, ms, s, m)")))?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| RuleError(format!("`{s}`: not a duration")))?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        _ => {
            return Err(RuleError(format!(
                "`{s}`: unknown unit `{unit}` (ns, us, ms, s, m)"
            )))
        }
    };
    let ns = (v * scale).round();
    if !ns.is_finite() || ns > u64::MAX as f64 {
        return Err(RuleError(format!("`{s}`: out of range")));
    }
    Ok(Duration::from_nanos(ns as u64))
}

/// The result of one rule on one type.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The rule.
    pub rule: Rule,
    /// The type it was applied to.
    pub ty: Arc<str>,
    /// The statistic; `None` if there was nothing to measure.
    pub value: Option<Duration>,
    /// Whether `value` is a lower bound: the largest is an unfinished span.
    pub at_least: bool,
    /// How many complete spans the statistic is over.
    pub samples: usize,
    /// How many were unfinished.
    pub unfinished: usize,
    /// Whether the bound holds (a type absent from the trace holds it; see
    /// `missing`).
    pub passed: bool,
    /// Whether the rule names a type that does not occur in the trace at
    /// all (often a typo: callers may want to fail on it).
    pub missing: bool,
    /// The slowest task or region of the type (or the one open longest),
    /// to name when the bound is exceeded.
    pub slowest: Option<crate::stats::Instance>,
}

fn outcome(rule: &Rule, s: Option<&SpanStats>, ty: Arc<str>) -> Outcome {
    let (value, at_least) = match s {
        None => (None, false),
        Some(s) => match rule.stat {
            Stat::Max => {
                let done = s.latency.max();
                match (done, s.unfinished_open) {
                    (d, Some(open)) if Some(open) > d => (Some(open), true),
                    (d, _) => (d, false),
                }
            }
            Stat::Percentile(p) => (s.latency.quantile(p / 100.0), false),
        },
    };
    Outcome {
        rule: rule.clone(),
        ty,
        value,
        at_least,
        samples: s.map_or(0, |s| s.latency.count()),
        unfinished: s.map_or(0, |s| s.unfinished),
        passed: value.is_none_or(|v| v <= rule.limit),
        missing: s.is_none_or(|s| s.count() == 0),
        slowest: s.and_then(|s| s.slowest),
    }
}

/// Applies every rule: one outcome per rule and type (one per rule for a
/// type that does not occur, with no value; none for `*` in a trace without
/// spans of that kind).
pub fn evaluate(rules: &[Rule], stats: &TraceStats) -> Vec<Outcome> {
    let mut out = Vec::new();
    for rule in rules {
        let spans = match rule.kind {
            Kind::Region => &stats.regions,
            Kind::Task => &stats.tasks,
        };
        match &rule.ty {
            TypeMatch::Exact(t) => {
                let s = spans.iter().find(|s| &*s.ty == t.as_str());
                out.push(outcome(rule, s, t.as_str().into()));
            }
            TypeMatch::Each => {
                for s in spans.iter().filter(|s| !s.ty.is_empty()) {
                    out.push(outcome(rule, Some(s), s.ty.clone()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Distribution;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_rules() {
        let r: Rule = "region:max:db.query=50ms".parse().unwrap();
        assert_eq!(
            r,
            Rule {
                kind: Kind::Region,
                stat: Stat::Max,
                ty: TypeMatch::Exact("db.query".into()),
                limit: ms(50)
            }
        );
        let r: Rule = "task:p99.9:a:b=c=1.5s".parse().unwrap();
        assert_eq!(r.stat, Stat::Percentile(99.9));
        assert_eq!(r.ty, TypeMatch::Exact("a:b=c".into()));
        assert_eq!(r.limit, Duration::from_millis(1500));
        assert_eq!(
            "region:p50:*=1us".parse::<Rule>().unwrap().ty,
            TypeMatch::Each
        );
        assert_eq!(r.to_string(), "task:p99.9:a:b=c=1.5s");
        for bad in [
            "region:max:db.query",
            "regions:max:x=1ms",
            "region:p0:x=1ms",
            "region:p101:x=1ms",
            "region:avg:x=1ms",
            "region:max:=1ms",
            "region:max:x=1",
            "region:max:x=1h",
            "region:max",
        ] {
            assert!(bad.parse::<Rule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("10ns").unwrap(), Duration::from_nanos(10));
        assert_eq!(parse_duration("2.5us").unwrap(), Duration::from_nanos(2500));
        assert_eq!(parse_duration("2µs").unwrap(), Duration::from_micros(2));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn evaluates_bounds() {
        let stats = TraceStats {
            regions: vec![SpanStats {
                ty: "db.query".into(),
                latency: Distribution::new((1..=100).map(ms).collect()),
                unfinished: 1,
                unfinished_open: Some(ms(500)),
                without_begin: 0,
                slowest: Some(crate::stats::Instance {
                    task: 7,
                    goroutine: Some(3),
                    start_ns: 1000,
                    duration: ms(500),
                    unfinished: true,
                }),
            }],
            ..TraceStats::default()
        };
        let check = |s: &str| evaluate(&[s.parse().unwrap()], &stats);
        assert!(check("region:p99:db.query=99ms")[0].passed);
        assert!(!check("region:p99:db.query=98ms")[0].passed);
        assert!(check("region:p50:db.query=50ms")[0].passed);
        // The unfinished one has been open for 500 ms.
        let max = &check("region:max:db.query=200ms")[0];
        assert!(!max.passed && max.at_least && max.value == Some(ms(500)));
        assert!(check("region:max:db.query=500ms")[0].passed);
        assert_eq!(
            max.slowest.map(|i| (i.task, i.goroutine)),
            Some((7, Some(3)))
        );
        assert!(!max.missing);
        let absent = &check("region:max:other=1ms")[0];
        assert!(absent.passed && absent.value.is_none() && absent.missing);
        assert_eq!(check("region:max:*=1s").len(), 1);
        assert!(check("task:max:*=1ns").is_empty());
    }
}
