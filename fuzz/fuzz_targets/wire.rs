//! The batch decoder on arbitrary bytes: see `trace_wire::fuzzing::batches`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trace_wire::fuzzing::batches(data));
