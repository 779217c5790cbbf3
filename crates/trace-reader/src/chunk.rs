//! What the reader core hands to the thread that returns events: events
//! without their shared parts ([`Raw`]), in [`Chunk`]s that carry the tables
//! and task names they refer to. A chunk goes from the core to the
//! [`Reader`](crate::Reader), directly or through the background thread's
//! channel.

use std::sync::Arc;

use crate::error::Error;
use crate::event::Ctx;
use crate::tables::GenTables;

/// The read buffer size: a few maximal batches.
pub(crate) const BUFFER: usize = 256 << 10;

/// The most tables a chunk refers to (`Raw::tab` is a byte).
const MAX_TABLES: usize = u8::MAX as usize;

/// An event as the reader core produces it: an [`Event`](crate::Event)
/// without its shared parts, which the thread that returns it attaches from
/// its [`Chunk`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Raw {
    pub(crate) ty: u8,
    /// 0: no tables; otherwise `chunk.tables[tab - 1]`.
    pub(crate) tab: u8,
    /// The event carries the next of `chunk.names`.
    pub(crate) named: bool,
    pub(crate) time: i64,
    pub(crate) ctx: Ctx,
    pub(crate) args: [u64; 5],
}

/// Events the core produced, with what they share, on their way to be
/// returned.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) events: Vec<Raw>,
    /// The tables events refer to (see [`Raw::tab`]).
    pub(crate) tables: Vec<Arc<GenTables>>,
    /// The task names of the events with [`Raw::named`], in order.
    pub(crate) names: Vec<Arc<[u8]>>,
    /// The core's generation count when the last of `tables` was added.
    tables_gen: u64,
    /// After these events: `None`, more to come; `Some(Ok)`, the end;
    /// `Some(Err)`, this error.
    pub(crate) end: Option<Result<(), Error>>,
}

impl Default for Chunk {
    fn default() -> Self {
        Self {
            events: Vec::new(),
            tables: Vec::new(),
            names: Vec::new(),
            tables_gen: u64::MAX,
            end: None,
        }
    }
}

impl Chunk {
    /// An empty chunk with room for `n` events.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            events: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    /// Empties the chunk.
    pub(crate) fn clear(&mut self) {
        self.events.clear();
        self.tables.clear();
        self.names.clear();
        self.tables_gen = u64::MAX;
        self.end = None;
    }

    /// The [`Raw::tab`] of the tables of generation number `gen` (counting
    /// generations read).
    #[inline]
    pub(crate) fn tab(&mut self, gen: u64, tables: &Arc<GenTables>) -> u8 {
        if self.tables_gen != gen {
            self.tables.push(tables.clone());
            self.tables_gen = gen;
        }
        self.tables.len() as u8
    }

    /// Whether no more events fit.
    #[inline]
    pub(crate) fn full(&self, limit: usize) -> bool {
        self.events.len() >= limit || self.tables.len() >= MAX_TABLES
    }
}
