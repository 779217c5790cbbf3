//! The trace doctor on real traces and on traces made to lack something.

use std::path::PathBuf;

use trace_analysis::doctor::{Diagnosis, Doctor, Finding};
use trace_reader::{Reader, Stop};
use trace_wire::text::text_to_bytes;
use trace_wire::SizeEncoding;

fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

fn diagnose(bytes: &[u8]) -> Diagnosis {
    let mut doctor = Doctor::new();
    let res = Reader::new(bytes).expect("header").feed(&mut doctor);
    let error = match res {
        Ok(_) => None,
        Err(Stop::Trace(e)) => Some(e),
        Err(Stop::Consumer(never)) => match never {},
    };
    doctor.finish(error.as_ref())
}

#[test]
fn a_trace_with_cpu_samples_and_clocks_is_healthy() {
    let bytes = std::fs::read(testdata(
        "current/traces/go127-flightrec-dual-cpuprof-snap1.trace",
    ))
    .expect("curated trace");
    let d = diagnose(&bytes);
    assert!(d.is_healthy(), "{d}");
    assert_eq!(d.to_string(), "ok");
}

#[test]
fn an_old_trace_has_no_wall_clock() {
    let bytes = std::fs::read(testdata("traces/go123-testprog-annotations.trace")).unwrap();
    let d = diagnose(&bytes);
    assert_eq!(d.findings, [Finding::NoCpuSamples, Finding::NoWallClock]);
}

#[test]
fn a_trace_without_stacks_says_so() {
    let test = std::fs::read_to_string(testdata("tests/go122-annotations.test")).unwrap();
    let text = test.split("-- trace --\n").nth(1).expect("trace section");
    // The same trace, every stack reference emptied.
    let no_stacks: String = text
        .lines()
        .map(|l| {
            l.split(' ')
                .map(|w| match w.split_once("stack=") {
                    Some((k, _)) if k.is_empty() || k == "new_" => {
                        if k.is_empty() {
                            "stack=0"
                        } else {
                            "new_stack=0"
                        }
                    }
                    _ => w,
                })
                .collect::<Vec<_>>()
                .join(" ")
                + "\n"
        })
        .collect();
    let with = diagnose(&text_to_bytes(text.as_bytes(), SizeEncoding::Minimal).unwrap());
    assert!(
        !with
            .findings
            .iter()
            .any(|f| matches!(f, Finding::NoStacks { .. })),
        "{with}"
    );
    let without = diagnose(&text_to_bytes(no_stacks.as_bytes(), SizeEncoding::Minimal).unwrap());
    assert!(
        without
            .findings
            .iter()
            .any(|f| matches!(f, Finding::NoStacks { events } if *events > 0)),
        "{without}"
    );
}

#[test]
fn a_cut_trace_is_truncated() {
    let bytes = std::fs::read(testdata(
        "current/traces/go127-testprog-many-start-stop-advance0.trace",
    ))
    .unwrap();
    let d = diagnose(&bytes[..bytes.len() * 2 / 3]);
    let last = d.findings.last().expect("findings");
    assert!(
        matches!(
            last,
            Finding::Truncated {
                generation: Some(_),
                ..
            }
        ),
        "{d}"
    );
    assert!(d.to_string().contains("truncated in generation"), "{d}");
}
