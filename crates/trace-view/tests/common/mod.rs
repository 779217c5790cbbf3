//! Helpers of the integration tests: the test traces, JSON (every answer is
//! checked to be well-formed JSON), and an HTTP GET over 127.0.0.1.

#![allow(dead_code, reason = "each test file uses a different part")]

use std::net::SocketAddr;
use std::path::PathBuf;

pub(crate) fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/traces")
        .join(name)
}

pub(crate) fn timeline(name: &str) -> trace_view::Timeline {
    let f = std::fs::File::open(testdata(name)).expect("testdata trace");
    trace_view::Timeline::from_reader(std::io::BufReader::new(f), name).expect("trace reads")
}

/// A JSON value (`serde_json`'s), with accessors that fail the test on
/// the wrong shape.
pub(crate) type Json = serde_json::Value;

/// The accessors the tests use.
pub(crate) trait JsonExt {
    fn at(&self, k: &str) -> &Json;
    fn arr(&self) -> &[Json];
    fn num(&self) -> f64;
    fn str(&self) -> &str;
    fn obj(&self) -> &serde_json::Map<String, Json>;
    fn nums(&self) -> Vec<i64>;
}

impl JsonExt for Json {
    fn at(&self, k: &str) -> &Json {
        self.obj().get(k).unwrap_or_else(|| panic!("no key {k:?}"))
    }
    fn arr(&self) -> &[Json] {
        self.as_array()
            .unwrap_or_else(|| panic!("not an array: {self}"))
    }
    fn num(&self) -> f64 {
        self.as_f64()
            .unwrap_or_else(|| panic!("not a number: {self}"))
    }
    fn str(&self) -> &str {
        self.as_str()
            .unwrap_or_else(|| panic!("not a string: {self}"))
    }
    fn obj(&self) -> &serde_json::Map<String, Json> {
        self.as_object()
            .unwrap_or_else(|| panic!("not an object: {self}"))
    }
    fn nums(&self) -> Vec<i64> {
        self.arr().iter().map(|v| v.num() as i64).collect()
    }
}

/// Parses `s`, which must be one well-formed JSON value.
pub(crate) fn parse(s: &str) -> Json {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {}", &s[..s.len().min(200)]))
}

pub(crate) use trace_testkit::http::Answer;

/// Sends `request` (a whole request head) to `addr` and reads the answer.
pub(crate) fn raw_request(addr: SocketAddr, request: &str) -> Answer {
    trace_testkit::http::raw_request(addr, request.as_bytes())
}

pub(crate) fn get(addr: SocketAddr, path: &str) -> Answer {
    trace_testkit::http::get(addr, path)
}
