//! The whole reader (and the validator) on arbitrary bytes: see
//! `trace_reader::fuzzing::read`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trace_reader::fuzzing::read(data));
