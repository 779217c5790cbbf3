//! Read → write events → read on arbitrary bytes: see
//! `trace_rewrite::fuzzing::write_round_trip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trace_rewrite::fuzzing::write_round_trip(data));
