//! How a [`Reader`](crate::Reader) reads: which Go release's reader it
//! imitates ([`Compat`]) and whether it works on a background thread
//! ([`Threading`]).

/// Which Go release's reader a [`Reader`] imitates.
///
/// The releases agree on the events of a trace and on their order; they
/// differ in where they put the [`Sync`](crate::EventKind::Sync) events of
/// Go 1.22 and 1.23 traces, and in a few rarely seen cases of broken input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compat {
    /// Today's reader (Go 1.25 to 1.27, `golang.org/x/exp/trace`): a sync
    /// event at the start of every generation, carrying its clock snapshot
    /// when the trace has one, and one after the last; end-of-generation
    /// events are recognized in traces of every version.
    #[default]
    Current,
    /// Go 1.23's reader, for Go 1.22 and 1.23 traces: one sync event after
    /// each generation, and an empty first generation is an error. Traces of
    /// later versions, which Go 1.23 cannot read, are read as
    /// [`Compat::Current`] reads them.
    Go123,
}

/// How a [`Reader`] reads: [`Threading`] and [`Compat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Options {
    /// Whether to decode on a background thread.
    pub threading: Threading,
    /// Which Go release's reader to imitate.
    pub compat: Compat,
}

impl Options {
    /// The defaults: [`Threading::Auto`], [`Compat::Current`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`Options::threading`].
    pub fn threading(mut self, threading: Threading) -> Self {
        self.threading = threading;
        self
    }

    /// Sets [`Options::compat`].
    pub fn compat(mut self, compat: Compat) -> Self {
        self.compat = compat;
        self
    }
}

/// Whether a [`Reader`] decodes and orders events on a background thread.
///
/// On a background thread the reader reads and orders events ahead of the
/// caller (a bounded amount: a few thousand events and a few hundred KiB of
/// input) while the caller handles the events already returned. The events,
/// their order and the errors are the same either way; the input is still
/// read only on the caller's thread, so it need not be `Send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Threading {
    /// A background thread for large traces (from 1 MiB of input on), when
    /// the machine has more than one CPU.
    #[default]
    Auto,
    /// Everything on the caller's thread.
    Never,
    /// A background thread from the first event on.
    Always,
}
