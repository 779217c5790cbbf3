//! The internals that `tests/loom.rs` model-checks, exposed only in
//! `--cfg loom` builds. Not an API.
#![allow(missing_docs, reason = "test-only surface")]

use crate::buffer;
use crate::subscriber::{self, Entry, SubscriberSet};
use crate::Generation;
use std::sync::Arc;

/// The per-CPU buffers.
#[derive(Debug)]
pub struct Buffers(buffer::Buffers);

/// A writing thread's state.
#[derive(Debug)]
pub struct Writer(buffer::WriterState);

impl Writer {
    pub fn new(m: u64) -> Self {
        Self(buffer::WriterState::new(m))
    }
}

impl Buffers {
    pub fn new(n_slots: usize) -> Self {
        Self(buffer::Buffers::new(n_slots))
    }

    pub fn switch(&self, gen: u64) {
        self.0.switch(gen);
    }

    /// Writes a `UserLog`-shaped event carrying `value` on slot `cpu`;
    /// returns the generation written in, if tracing was on.
    pub fn write(&self, cpu: usize, writer: &Writer, value: u64) -> Option<u64> {
        self.0.write_on(cpu, &writer.0, value, |w| {
            w.event(trace_wire::ty::USER_LOG, &[value, 0, 0, 0]);
            w.gen()
        })
    }

    /// Pushes a structural (no-thread) batch into `gen`'s output.
    pub fn push_structural(&self, gen: u64, time: u64, payload: &[u8]) {
        self.0.push_structural(gen, time, payload);
    }

    pub fn drain(&self, gen: u64) {
        self.0.drain(gen);
    }

    pub fn take_completed(&self, gen: u64) -> Vec<u8> {
        self.0.take_completed(gen).0.concat()
    }
}

/// The subscriber multiplexer.
#[derive(Debug, Default)]
pub struct Multiplexer(subscriber::Multiplexer);

impl Multiplexer {
    /// Installs a set of subscribers with the given ids.
    pub fn replace(&self, subs: Vec<(u64, Arc<dyn crate::Subscriber>)>) {
        let entries = subs
            .into_iter()
            .map(|(id, sub)| Entry { id, sub })
            .collect();
        self.0.replace(SubscriberSet { entries });
    }

    /// Delivers `bytes` of `gen` to the current set; returns the ids
    /// delivered to.
    pub fn deliver(&self, gen: Generation, bytes: &[u8]) -> Vec<u64> {
        let set = self.0.current();
        subscriber::deliver(&set, |s| s.on_batches(gen, bytes));
        set.entries.iter().map(|e| e.id).collect()
    }
}
