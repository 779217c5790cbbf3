//! Reads Go execution traces. Being implemented (issue: trace-reader).
#![forbid(unsafe_code)]
