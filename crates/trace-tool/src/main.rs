//! `trace-tool`: dumps, validates and summarizes Go execution traces.
fn main() {}
