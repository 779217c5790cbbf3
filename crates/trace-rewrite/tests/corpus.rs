//! Rewrites of every trace `cargo test` can see: the curated copies in
//! `testdata/` always, and both shared corpora (`../shared/go-traces`,
//! `../shared/go-traces-current`) when they are present.
//!
//! - the identity copies every trace byte for byte;
//! - re-encoding every batch gives exactly the same events;
//! - redaction gives a valid trace with the same events by kind, in which
//!   no replaced text is left;
//! - a cut holds the events of its generations.

mod common;

use common::{traces, workspace};
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use trace_reader::Reader;
use trace_rewrite::{rewrite, Cut, Generation, RedactOptions, Redactor, Selection};
use trace_wire::{BatchKind, Batches, Strings};

/// What the reader yields for a trace, in a form that fits in memory for
/// the largest traces: the count per kind, a hash of every event's text,
/// and whether it read to the end.
#[derive(Debug, PartialEq, Eq)]
struct Digest {
    kinds: BTreeMap<&'static str, u64>,
    hash: u64,
    whole: bool,
}

fn digest(trace: &[u8]) -> Digest {
    let mut res = Digest {
        kinds: BTreeMap::new(),
        hash: 0,
        whole: false,
    };
    let mut reader = Reader::new(trace).expect("a trace header");
    let mut hasher = DefaultHasher::new();
    let mut text = String::new();
    loop {
        match reader.read_event_ref() {
            Ok(Some(ev)) => {
                *res.kinds.entry(ev.kind().name()).or_default() += 1;
                text.clear();
                std::fmt::write(&mut text, format_args!("{ev}")).unwrap();
                text.hash(&mut hasher);
            }
            Ok(None) => {
                res.whole = true;
                break;
            }
            Err(_) => break,
        }
    }
    res.hash = hasher.finish();
    res
}

/// Runs `check` on every trace, collecting failures.
fn each_trace(check: impl Fn(&str, &[u8]) -> Result<(), String>) {
    let mut failures = Vec::new();
    let all = traces();
    for (name, path) in &all {
        let input = std::fs::read(path).unwrap();
        if let Err(e) = check(name, &input) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} traces failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn identity_copies_every_trace() {
    each_trace(|_, input| {
        let mut out = Vec::new();
        let summary = rewrite(input, &mut |_: &mut Generation<'_>| Ok(()), &mut out)
            .map_err(|e| e.to_string())?;
        if out != input {
            return Err("output differs from the input".into());
        }
        if summary.n_changed != 0 || summary.n_written != summary.n_generations {
            return Err(format!("{summary:?}"));
        }
        Ok(())
    });
}

#[test]
fn reencoding_keeps_every_event() {
    each_trace(|_, input| {
        let mut out = Vec::new();
        let summary = rewrite(
            input,
            &mut |g: &mut Generation<'_>| g.reencode_all(),
            &mut out,
        )
        .map_err(|e| e.to_string())?;
        if summary.n_changed != summary.n_generations {
            return Err(format!("not every generation re-encoded: {summary:?}"));
        }
        let (before, after) = (digest(input), digest(&out));
        if !before.whole || before != after {
            return Err(format!("events differ: {before:?} vs {after:?}"));
        }
        Ok(())
    });
}

/// Every string of every string table of `trace`.
fn all_strings(trace: &[u8]) -> Vec<Vec<u8>> {
    let mut batches = Batches::new(trace).unwrap();
    let version = batches.version();
    let mut res = Vec::new();
    while let Some(b) = batches.next_batch().unwrap() {
        if b.kind(version) == BatchKind::Strings {
            let mut s = Strings::new(b.payload, b.payload_offset).unwrap();
            while let Some((_, data)) = s.next_string().unwrap() {
                res.push(data.to_vec());
            }
        }
    }
    res
}

/// Which of `needles` (each at least 4 bytes long) occur in `haystack`, in
/// one pass over it: candidates by their first 4 bytes.
fn occurring(haystack: &[u8], needles: &[&[u8]]) -> hashbrown::HashSet<usize> {
    let mut by_prefix: hashbrown::HashMap<[u8; 4], Vec<usize>> = hashbrown::HashMap::new();
    for (i, n) in needles.iter().enumerate() {
        let prefix: [u8; 4] = n[..4].try_into().unwrap();
        by_prefix.entry(prefix).or_default().push(i);
    }
    let mut res = hashbrown::HashSet::new();
    for (at, w) in haystack.windows(4).enumerate() {
        if let Some(candidates) = by_prefix.get(w) {
            for &i in candidates {
                if haystack[at..].starts_with(needles[i]) {
                    res.insert(i);
                }
            }
        }
    }
    res
}

#[test]
fn redaction_keeps_events_and_hides_strings() {
    let n_replaced = std::sync::atomic::AtomicU64::new(0);
    each_trace(|_, input| {
        let mut redactor = Redactor::new(RedactOptions::default());
        let mut out = Vec::new();
        rewrite(input, &mut redactor, &mut out).map_err(|e| e.to_string())?;
        let report = trace_reader::validate(&out[..]);
        if !report.is_valid() {
            return Err(format!(
                "invalid output: {:?} {:?}",
                report.error,
                report.violations.first()
            ));
        }
        let (before, after) = (digest(input), digest(&out));
        if before.kinds != after.kinds {
            return Err(format!("kinds differ: {before:?} vs {after:?}"));
        }
        // No replaced text is left: not as a string of the output, and
        // nowhere in its bytes unless it is part of a string that stays
        // (a user string `main` inside `runtime.main`) or too short to be
        // told from other bytes.
        let kept: hashbrown::HashSet<Vec<u8>> = all_strings(&out).into_iter().collect();
        let mut found: Vec<String> = Vec::new();
        let mut long: Vec<&[u8]> = Vec::new();
        for (from, _) in redactor.replaced() {
            n_replaced.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if kept.contains(from) {
                found.push(String::from_utf8_lossy(from).into_owned());
            } else if from.len() >= 4 {
                long.push(from);
            }
        }
        let mut kept_text = Vec::new();
        for s in &kept {
            kept_text.extend_from_slice(s);
            kept_text.push(0);
        }
        let in_kept = occurring(&kept_text, &long);
        for i in occurring(&out, &long) {
            if !in_kept.contains(&i) {
                found.push(String::from_utf8_lossy(long[i]).into_owned());
            }
        }
        if !found.is_empty() {
            return Err(format!("replaced strings left in the output: {found:?}"));
        }
        Ok(())
    });
    assert!(n_replaced.into_inner() > 0);
}

/// A cut's events against the input's for the same generations. Each
/// generation begins at a sync event. Differences allowed, because the cut
/// starts from nothing where the input had the earlier generations' state:
/// - sync events are numbered from the cut's start, and their times may
///   differ;
/// - a resource first seen in the cut has its status read as a trace's
///   first (`Undetermined->`, in the context the thread then has), or as a
///   new proc's (`NotExist->`) after the first generation;
/// - a task begun before the cut ends with no type (and parent) known;
/// - in the cut's first generation, times the input's reader raised to keep
///   them monotonic after the previous generation (never lowered), and the
///   proc and goroutine of the context before the statuses set it, and the
///   order of events of equal times (the order of statuses depends on the
///   state the reader knows; two threads stating one proc's status at the
///   same time may come in the other order, and the transitions after them
///   then start from another state).
fn compare_cut(original: &[String], cut: &[String], first: usize) -> Result<(), String> {
    let gens = |events: &[String]| {
        let mut res: Vec<Vec<String>> = Vec::new();
        for e in events {
            if e.contains(" Sync ") {
                res.push(Vec::new());
            }
            if let Some(g) = res.last_mut() {
                g.push(e.clone());
            }
        }
        res
    };
    let (orig, cut) = (gens(original), gens(cut));
    // The cut ends with its own final sync; compare up to it.
    let n = cut.len() - 1;
    for (k, c) in cut[..n].iter().enumerate() {
        let o = orig
            .get(first - 1 + k)
            .ok_or_else(|| format!("no generation {}", first + k))?;
        if o.len() != c.len() {
            return Err(format!(
                "generation {}: {} events, cut has {}",
                first + k,
                o.len(),
                c.len()
            ));
        }
        // In the first generation the reader may order events of equal
        // times differently (its order of statuses depends on the state
        // it knows): match each run of equal times as a set.
        let mut i = 0;
        while i < c.len() {
            let t = field(&c[i], "Time");
            let run = if k == 0 {
                c[i..].iter().take_while(|e| field(e, "Time") == t).count()
            } else {
                1
            };
            let mut used = vec![false; run];
            for b in &c[i..i + run] {
                let found = (0..run).find(|&j| {
                    let a = &o[i + j];
                    !used[j] && (a == b || same_modulo_cut(a, b, k == 0))
                });
                match found {
                    Some(j) => used[j] = true,
                    None => return Err(format!("generation {}:\n  {}\n  {b}", first + k, o[i])),
                }
            }
            i += run;
        }
    }
    Ok(())
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    Some(line[start..].split([' ', '\n']).next().unwrap_or(""))
}

fn same_modulo_cut(orig: &str, cut: &str, first_gen: bool) -> bool {
    let (o_line, o_stack) = orig.split_once('\n').unwrap_or((orig, ""));
    let (c_line, c_stack) = cut.split_once('\n').unwrap_or((cut, ""));
    let o: Vec<&str> = o_line.split(' ').collect();
    let c: Vec<&str> = c_line.split(' ').collect();
    if o.len() < 6 || c.len() < 6 || o_stack != c_stack || o[3] != c[3] {
        return false;
    }
    // Two threads may state one proc's status at the same time (cgo
    // callbacks): which comes first depends on the state the reader knows,
    // so at the cut's start a first status only matches one of the same
    // resource (at the same time, or raised).
    let time = |t: &str| t.strip_prefix("Time=").and_then(|t| t.parse::<i64>().ok());
    let (Some(to), Some(tc)) = (time(o[4]), time(c[4])) else {
        return false;
    };
    if first_gen && c_line.contains(" Undetermined->") {
        return o[3] == "StateTransition" && tc <= to && o[5] == c[5];
    }
    if o[0] != c[0] {
        return false;
    }
    let kind = c[3];
    // A resource new to the cut: `Undetermined->` in its first generation,
    // `NotExist->` (a proc) in a later one.
    let undetermined = kind == "StateTransition"
        && (c_line.contains(" Undetermined->") || c_line.contains(" NotExist->"));
    if tc > to || (tc != to && !first_gen && kind != "Sync" && !undetermined) {
        return false;
    }
    if o[1..3] != c[1..3] && !first_gen && !undetermined {
        return false;
    }
    let (o_rest, c_rest) = (&o[5..], &c[5..]);
    match kind {
        "Sync" => {
            let no_n = |r: &[&str]| -> Vec<String> {
                r.iter()
                    .filter(|t| !t.starts_with("N="))
                    .map(|t| t.to_string())
                    .collect()
            };
            no_n(o_rest) == no_n(c_rest)
        }
        "StateTransition" if undetermined => {
            let o_rest: Vec<String> = o_rest
                .iter()
                .map(|t| match t.split_once("->") {
                    Some((_, to)) => {
                        let from = if c_line.contains(" NotExist->") {
                            "NotExist"
                        } else {
                            "Undetermined"
                        };
                        format!("{from}->{to}")
                    }
                    None => t.to_string(),
                })
                .collect();
            o_rest == c_rest
        }
        "StateTransition" if first_gen => {
            let to_only = |r: &[&str]| -> Vec<String> {
                r.iter()
                    .map(|t| t.split_once("->").map_or(*t, |(_, to)| to).to_string())
                    .collect()
            };
            to_only(o_rest) == to_only(c_rest)
        }
        "TaskEnd" if c_line.contains("Type=\"\"") => o_rest.first() == c_rest.first(),
        _ => o_rest == c_rest,
    }
}

fn event_texts(trace: &[u8]) -> Vec<String> {
    Reader::new(trace)
        .unwrap()
        .map(|e| e.expect("reads").to_string())
        .collect()
}

#[test]
fn cut_holds_the_events_of_its_generations() {
    let n_cuts = std::sync::atomic::AtomicU64::new(0);
    each_trace(|_, input| {
        if input.len() > 2 << 20 {
            return Ok(());
        }
        let original = event_texts(input);
        let n_gens = original.iter().filter(|e| e.contains(" Sync ")).count() - 1;
        if n_gens < 2 {
            return Ok(());
        }
        let middle = n_gens.div_ceil(2);
        for (first, last) in [(middle, middle), (2, n_gens), (1, 1)] {
            let mut cut = Cut::new(Selection::Generations { first, last });
            let mut out = Vec::new();
            rewrite(input, &mut cut, &mut out).map_err(|e| e.to_string())?;
            cut.check().map_err(|e| e.to_string())?;
            let report = trace_reader::validate(&out[..]);
            if !report.is_valid() {
                return Err(format!("cut {first}..{last} invalid: {:?}", report.error));
            }
            compare_cut(&original, &event_texts(&out), first)
                .map_err(|e| format!("cut {first}..{last}: {e}"))?;
            n_cuts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        // A window inside the middle generation keeps it (and whatever else
        // overlaps the window).
        let syncs: Vec<usize> = original
            .iter()
            .enumerate()
            .filter(|(_, e)| e.contains(" Sync "))
            .map(|(i, _)| i)
            .collect();
        let inner: Vec<i64> = original[syncs[middle - 1] + 1..syncs[middle]]
            .iter()
            .filter_map(|e| field(e, "Time")?.parse().ok())
            .collect();
        if let (Some(&a), Some(&b)) = (inner.get(inner.len() / 3), inner.get(inner.len() / 2)) {
            let mut cut = Cut::new(Selection::Window { from: a, to: b });
            let mut out = Vec::new();
            rewrite(input, &mut cut, &mut out).map_err(|e| e.to_string())?;
            if !cut.kept().contains(&middle) {
                return Err(format!(
                    "window {a}..{b} in generation {middle}: kept {:?}",
                    cut.kept()
                ));
            }
        }
        Ok(())
    });
    assert!(n_cuts.into_inner() > 0);
}

#[test]
fn cut_of_nothing_is_an_error() {
    let input = std::fs::read(workspace().join("testdata/traces/go123-testprog-annotations.trace"))
        .unwrap();
    let mut cut = Cut::new(Selection::Window { from: 0, to: 1 });
    let mut out = Vec::new();
    rewrite(&input, &mut cut, &mut out).unwrap();
    let e = cut.check().unwrap_err();
    assert_eq!(
        e.to_string(),
        "no generation of the trace (1 in all) is in the selection"
    );
}

#[test]
fn shared_string_ids_are_split() {
    // A region named like a block reason: one string id for both. The
    // reason must stay, the region name must go.
    let name = std::cell::RefCell::new(String::new());
    let input = std::fs::read(workspace().join("testdata/traces/go123-testprog-annotations.trace"))
        .unwrap();
    // Rename the first region's name to "sleep", a runtime block reason
    // string of the same generation, by pointing the event at its id.
    let mut renamed = Vec::new();
    rewrite(
        &input,
        &mut |g: &mut Generation<'_>| {
            let mut reason = 0;
            g.for_each_event(|_, ev| {
                if ev.ty == trace_wire::ty::GO_BLOCK && reason == 0 {
                    reason = ev.args[0];
                }
            })?;
            assert_ne!(reason, 0, "a goroutine blocks");
            let text = g.strings()?.get(reason).unwrap().to_vec();
            *name.borrow_mut() = String::from_utf8(text).unwrap();
            let mut done = false;
            g.edit_events(|_, ev| {
                if ev.ty == trace_wire::ty::USER_REGION_BEGIN && !done {
                    ev.args[1] = reason;
                    done = true;
                }
                trace_rewrite::EventEdit::Keep
            })
        },
        &mut renamed,
    )
    .unwrap();
    let region_names = |t: &[u8]| -> Vec<String> {
        Reader::new(t)
            .unwrap()
            .filter_map(|e| {
                let e = e.unwrap();
                e.region()
                    .map(|r| String::from_utf8_lossy(r.ty.as_bytes()).into_owned())
            })
            .collect()
    };
    let name = name.into_inner();
    assert!(region_names(&renamed).contains(&name), "{name}");
    let mut redactor = Redactor::new(RedactOptions::default());
    let mut out = Vec::new();
    rewrite(&renamed, &mut redactor, &mut out).unwrap();
    assert!(!region_names(&out).contains(&name));
    assert!(all_strings(&out).iter().any(|s| *s == name.as_bytes()));
    let reasons = |t: &[u8]| -> usize {
        Reader::new(t)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .to_string()
                    .contains(&format!("Reason=\"{name}\""))
            })
            .count()
    };
    assert!(reasons(&out) > 0);
    assert_eq!(reasons(&out), reasons(&renamed));
    assert!(trace_reader::validate(&out[..]).is_valid());
    let kinds = |t: &[u8]| {
        let mut res: BTreeMap<&'static str, u64> = BTreeMap::new();
        for e in Reader::new(t).unwrap() {
            *res.entry(e.unwrap().kind().name()).or_default() += 1;
        }
        res
    };
    assert_eq!(kinds(&out), kinds(&renamed));
}

#[test]
fn grown_event_batches_are_split() {
    use trace_wire::{ty, varint, BatchHeader, Experiment, RawEvent, NO_THREAD};
    // One generation: frequency, and a batch of thread 1 running goroutine
    // 1 on proc 0 with 20 000 heap metrics of 3 bytes each.
    let mut trace = trace_wire::Version::Go123.header().to_vec();
    let mut payload = vec![ty::FREQUENCY];
    varint::encode(15_625_000, &mut payload);
    let batch = |m, time, payload: &[u8], out: &mut Vec<u8>| {
        BatchHeader {
            experiment: Experiment::None,
            gen: 1,
            m,
            time,
            size: payload.len() as u64,
        }
        .encode(out, trace_wire::SizeEncoding::Minimal);
        out.extend_from_slice(payload);
    };
    batch(NO_THREAD, 0, &payload, &mut trace);
    let mut events = Vec::new();
    let mut ev = |ty, args: &[u64]| {
        let mut a = [0; 4];
        a[..args.len()].copy_from_slice(args);
        RawEvent {
            ty,
            dt: 1,
            args: a,
            n_args: args.len() as u8,
        }
        .encode(&mut events);
    };
    ev(ty::PROC_STATUS, &[0, 1]);
    ev(ty::GO_STATUS, &[1, 1, 2]);
    for i in 0..20_000 {
        ev(ty::HEAP_ALLOC, &[i % 100]);
    }
    assert!(events.len() < 64 << 10);
    batch(1, 100, &events, &mut trace);

    let mut out = Vec::new();
    rewrite(
        &trace,
        &mut |g: &mut Generation<'_>| {
            g.edit_events(|_, ev| {
                if ev.ty == ty::HEAP_ALLOC {
                    ev.args[0] += 1 << 60;
                }
                trace_rewrite::EventEdit::Keep
            })
        },
        &mut out,
    )
    .unwrap();
    let mut batches = Batches::new(&out).unwrap();
    let mut n_event_batches = 0;
    while let Some(b) = batches.next_batch().unwrap() {
        assert!(b.header.size <= 64 << 10);
        n_event_batches += usize::from(b.header.m == 1);
    }
    assert!(n_event_batches >= 3, "{n_event_batches}");
    // The same metrics at the same times, with the new values.
    let metrics = |t: &[u8]| -> Vec<(i64, u64)> {
        Reader::new(t)
            .unwrap()
            .filter_map(|e| {
                let e = e.unwrap();
                let m = e.metric()?;
                let trace_reader::Value::Uint64(v) = m.value else {
                    return None;
                };
                m.name
                    .starts_with("/memory/classes/heap/objects")
                    .then(|| (e.time().as_nanos(), v))
            })
            .collect()
    };
    let (before, after) = (metrics(&trace), metrics(&out));
    assert_eq!(before.len(), 20_000);
    assert_eq!(before.len(), after.len());
    for ((t0, v0), (t1, v1)) in before.iter().zip(&after) {
        assert_eq!((t0, v0 + (1 << 60)), (t1, *v1));
    }
}
