//! Feeding a trace's events to consumers: the [`Consume`] trait that
//! analyses implement, and [`Reader::feed`], the one loop that reads a trace
//! to its end as Go's tools do.

use std::convert::Infallible;
use std::io::Read;

use crate::{Error, Event, Reader};

/// Something that takes in a trace's events one at a time, in order: an
/// analysis, an exporter, a printer.
///
/// [`Reader::feed`] drives it to the end of the trace. Consumers that cannot
/// fail say `type Error = Infallible`; a pair of consumers with the same
/// error type is a consumer, so several analyses run in one pass.
///
/// ```
/// use std::convert::Infallible;
/// use trace_reader::{Consume, Event, EventKind, Reader};
///
/// #[derive(Default)]
/// struct Logs(usize);
///
/// impl Consume for Logs {
///     type Error = Infallible;
///     fn event(&mut self, event: &Event) -> Result<(), Infallible> {
///         self.0 += usize::from(event.kind() == EventKind::Log);
///         Ok(())
///     }
/// }
///
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
/// let mut reader = Reader::new(std::fs::File::open(path)?)?;
/// let mut logs = Logs::default();
/// let events = reader.feed(&mut logs)?;
/// assert!(logs.0 > 0 && events > logs.0 as u64);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Consume {
    /// What the consumer may stop with (such as failing to write its
    /// output); [`Infallible`] if nothing.
    type Error;

    /// Takes in the next event.
    fn event(&mut self, event: &Event) -> Result<(), Self::Error>;
}

impl<C: Consume + ?Sized> Consume for &mut C {
    type Error = C::Error;

    fn event(&mut self, event: &Event) -> Result<(), Self::Error> {
        (**self).event(event)
    }
}

impl<A: Consume, B: Consume<Error = A::Error>> Consume for (A, B) {
    type Error = A::Error;

    fn event(&mut self, event: &Event) -> Result<(), Self::Error> {
        self.0.event(event)?;
        self.1.event(event)
    }
}

/// The consumer that does nothing.
impl Consume for () {
    type Error = Infallible;

    fn event(&mut self, _: &Event) -> Result<(), Infallible> {
        Ok(())
    }
}

/// A consumer made of a closure (see [`from_fn`]).
#[derive(Debug, Clone)]
pub struct FromFn<F>(F);

/// A consumer that calls `f` on each event.
///
/// ```
/// use trace_reader::{consume, Reader};
///
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
/// let mut reader = Reader::new(std::fs::File::open(path)?)?;
/// let mut last = None;
/// reader.feed(&mut consume::from_fn(|ev| {
///     last = Some(ev.time());
///     Ok::<(), std::convert::Infallible>(())
/// }))?;
/// assert!(last.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_fn<E, F: FnMut(&Event) -> Result<(), E>>(f: F) -> FromFn<F> {
    FromFn(f)
}

impl<E, F: FnMut(&Event) -> Result<(), E>> Consume for FromFn<F> {
    type Error = E;

    fn event(&mut self, event: &Event) -> Result<(), E> {
        (self.0)(event)
    }
}

/// Why [`Reader::feed`] stopped before the end of the trace.
#[derive(Debug, thiserror::Error)]
pub enum Stop<E> {
    /// The trace is broken here (the events before it were fed).
    #[error(transparent)]
    Trace(Error),
    /// The consumer failed.
    #[error(transparent)]
    Consumer(E),
}

impl From<Stop<Infallible>> for Error {
    fn from(stop: Stop<Infallible>) -> Error {
        match stop {
            Stop::Trace(e) => e,
            Stop::Consumer(never) => match never {},
        }
    }
}

impl<R: Read> Reader<R> {
    /// Feeds every event to `consumer`, to the end of the trace as Go's
    /// tools see it, and returns how many it fed.
    ///
    /// Go's reader reports a table cut short in one case as a bare `io.EOF`,
    /// which `go tool trace` cannot tell from the end of the trace
    /// ([`Error::is_go_eof`]): that ends the trace here too. Any other error
    /// comes back as [`Stop::Trace`], with its generation and byte offset,
    /// after every event before it was fed. With a consumer that cannot
    /// fail, `?` turns the result into this crate's [`Error`].
    pub fn feed<C: Consume + ?Sized>(&mut self, consumer: &mut C) -> Result<u64, Stop<C::Error>> {
        let mut n = 0u64;
        loop {
            match self.read_event_ref() {
                Ok(Some(ev)) => {
                    consumer.event(ev).map_err(Stop::Consumer)?;
                    n += 1;
                }
                Ok(None) => return Ok(n),
                Err(e) if e.is_go_eof() => return Ok(n),
                Err(e) => return Err(Stop::Trace(e)),
            }
        }
    }
}
