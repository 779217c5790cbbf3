//! Lay out → ask every question the page asks, on arbitrary bytes: see
//! `trace_view::fuzzing::view`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| trace_view::fuzzing::view(data));
