//! [`Reader`]: the streaming reader that turns a trace into Go's ordered,
//! validated event stream. It runs the engine ([`Core`]) on the caller's
//! thread, or moves it to a background thread (`pipeline`) for large inputs,
//! and hands out the events of the [`Chunk`]s the engine fills.

use std::io::{BufReader, Read};

use crate::chunk::{Chunk, BUFFER};
use crate::core::Core;
use crate::error::Error;
use crate::event::Event;
use crate::framing::read_file_header;
use crate::options::{Options, Threading};
use crate::pipeline::{Background, Unstarted};
use trace_wire::Version;

/// With [`Threading::Auto`], a reader moves its work to a background thread
/// once it has read this much of its input (tiny traces never do).
const AUTO_THRESHOLD: u64 = 1 << 20;

/// Events decoded at a time on the caller's thread.
const LOCAL_CHUNK: usize = 512;

/// Reads a Go execution trace (format v2: Go 1.22, 1.23, 1.25 and 1.26, the
/// format Go 1.26 and 1.27 write) and yields its events in Go's order,
/// validated as Go validates them.
///
/// The reader streams: it holds one generation (typically about a second of
/// the traced program) and, before Go 1.26, one batch of the next, whatever
/// the file size. Events share their generation's string and stack tables.
///
/// Past 1 MiB of input the reader decodes and orders events on a background
/// thread, a few thousand events ahead of the caller ([`Threading`]); the
/// input is still read on the caller's thread. The events and errors are
/// the same either way, and so is when errors show: a read error after a
/// generation's first batch comes after that generation's events.
///
/// The stream is today's Go reader's (Go 1.27, `golang.org/x/exp/trace`):
/// a [`Sync`](crate::EventKind::Sync) event before each generation, carrying
/// the generation's clock snapshot in Go 1.25+ traces, and one at the end.
/// With [`Compat::Go123`](crate::Compat::Go123), Go 1.22 and 1.23 traces
/// give Go 1.23's stream instead: one sync event after each generation.
///
/// ```
/// use trace_reader::{EventKind, Reader};
///
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
/// let file = std::fs::File::open(path)?;
/// let mut reader = Reader::new(file)?;
/// let mut transitions = 0;
/// while let Some(event) = reader.read_event()? {
///     if event.kind() == EventKind::StateTransition {
///         transitions += 1;
///     }
///     if let Some(log) = event.log() {
///         println!("{}: {}", log.category, log.message);
///     }
/// }
/// assert!(transitions > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reader<R> {
    version: Version,
    /// Events ready to be returned: `chunk.events[pos..]`, whose names start
    /// at `chunk.names[name_pos]`.
    chunk: Chunk,
    pos: usize,
    name_pos: usize,
    state: State<R>,
    /// The event [`Reader::read_event_ref`] lends.
    current: Event,
}

/// Where a reader does its work.
enum State<R> {
    /// On the caller's thread, until the input reaches `switch_at` bytes.
    Local {
        core: Box<Core>,
        input: BufReader<R>,
        switch_at: u64,
    },
    /// On a background thread.
    Background(Background<R>),
    /// Finished: the last event or the error was returned.
    Done,
}

impl<R> std::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Reader");
        d.field("version", &self.version);
        d.field("buffered", &(self.chunk.events.len() - self.pos));
        match &self.state {
            State::Local { core, .. } => d.field("core", core),
            State::Background(b) => d.field("background", b),
            State::Done => d.field("done", &true),
        };
        d.finish_non_exhaustive()
    }
}

impl<R: Read> Reader<R> {
    /// Reads the file header of `input` (buffered internally).
    ///
    /// Large traces are decoded on a background thread ([`Threading::Auto`]).
    pub fn new(input: R) -> Result<Self, Error> {
        Self::with_threading(input, Threading::Auto)
    }

    /// Reads the file header of `input` (buffered internally); `threading`
    /// says whether to decode on a background thread.
    pub fn with_threading(input: R, threading: Threading) -> Result<Self, Error> {
        Self::with_options(input, Options::new().threading(threading))
    }

    /// Reads the file header of `input` (buffered internally), with
    /// `options`.
    ///
    /// ```
    /// use trace_reader::{Compat, EventKind, Options, Reader};
    ///
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
    /// // The sync events where Go 1.23's reader puts them: after each generation.
    /// let file = std::fs::File::open(path)?;
    /// let mut reader = Reader::with_options(file, Options::new().compat(Compat::Go123))?;
    /// let first = reader.read_event()?.expect("an event");
    /// assert_ne!(first.kind(), EventKind::Sync);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_options(input: R, options: Options) -> Result<Self, Error> {
        let mut input = BufReader::with_capacity(BUFFER, input);
        let (version, header_len) = read_file_header(&mut input)?;
        let switch_at = match options.threading {
            Threading::Auto => AUTO_THRESHOLD,
            Threading::Never => u64::MAX,
            Threading::Always => 0,
        };
        Ok(Self {
            version,
            chunk: Chunk::default(),
            pos: 0,
            name_pos: 0,
            current: Event {
                ty: crate::event::SYNC,
                time: 0,
                ctx: crate::event::Ctx::NONE,
                args: [0; 5],
                table: None,
                name: None,
            },
            state: State::Local {
                core: Box::new(Core::new(version, header_len, options.compat)),
                input,
                switch_at,
            },
        })
    }

    /// The trace's format version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Reads the next event; `Ok(None)` at the end of the trace.
    ///
    /// After an error the reader is finished: further calls return
    /// `Ok(None)`.
    #[inline]
    pub fn read_event(&mut self) -> Result<Option<Event>, Error> {
        match self.buffered() {
            Some(ev) => Ok(Some(ev)),
            None => self.read_slow(),
        }
    }

    /// Reads the next event and lends it; `Ok(None)` at the end of the
    /// trace. The same events as [`Reader::read_event`], for loops that look
    /// at each event and let it go: the event is filled in place, so that
    /// reading costs no reference counting on the generation's tables (most
    /// analyses read events this way; clone the event to keep it).
    ///
    /// ```
    /// use trace_reader::{EventKind, Reader};
    ///
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
    /// let mut reader = Reader::new(std::fs::File::open(path)?)?;
    /// let mut logs = 0;
    /// while let Some(event) = reader.read_event_ref()? {
    ///     logs += usize::from(event.kind() == EventKind::Log);
    /// }
    /// assert!(logs > 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn read_event_ref(&mut self) -> Result<Option<&Event>, Error> {
        if self.buffered_in_place() {
            return Ok(Some(&self.current));
        }
        match self.read_slow()? {
            Some(ev) => {
                self.current = ev;
                Ok(Some(&self.current))
            }
            None => Ok(None),
        }
    }

    /// Fills `self.current` with the next event of the chunk, if any,
    /// keeping its tables when they are the same.
    #[inline(always)]
    fn buffered_in_place(&mut self) -> bool {
        let Some(&raw) = self.chunk.events.get(self.pos) else {
            return false;
        };
        self.pos += 1;
        let cur = &mut self.current;
        cur.ty = raw.ty;
        cur.time = raw.time;
        cur.ctx = raw.ctx;
        cur.args = raw.args;
        match raw.tab {
            // A sync event's tables are its generation's, or none. Other
            // events without tables never look at them: they keep the last
            // ones, which saves dropping and taking them back.
            0 if raw.ty == crate::event::SYNC => cur.table = None,
            0 => {}
            i => match (self.chunk.tables.get(usize::from(i) - 1), &cur.table) {
                (Some(t), Some(held)) if std::sync::Arc::ptr_eq(t, held) => {}
                (t, _) => cur.table = t.cloned(),
            },
        }
        cur.name = if raw.named {
            self.name_pos += 1;
            self.chunk.names.get(self.name_pos - 1).cloned()
        } else {
            None
        };
        true
    }

    /// The next event of the chunk, if any.
    #[inline(always)]
    fn buffered(&mut self) -> Option<Event> {
        let raw = *self.chunk.events.get(self.pos)?;
        self.pos += 1;
        let table = match raw.tab {
            0 => None,
            i => self.chunk.tables.get(usize::from(i) - 1).cloned(),
        };
        let name = if raw.named {
            self.name_pos += 1;
            self.chunk.names.get(self.name_pos - 1).cloned()
        } else {
            None
        };
        Some(Event {
            ty: raw.ty,
            time: raw.time,
            ctx: raw.ctx,
            args: raw.args,
            table,
            name,
        })
    }

    /// The chunk is used up: its end, or the next chunk's first event.
    #[cold]
    fn read_slow(&mut self) -> Result<Option<Event>, Error> {
        loop {
            if let Some(end) = self.chunk.end.take() {
                // Stops the background thread, if any.
                self.state = State::Done;
                return end.map(|()| None);
            }
            self.pos = 0;
            self.name_pos = 0;
            match &mut self.state {
                State::Done => return Ok(None),
                State::Background(b) => b.next_chunk(&mut self.chunk),
                State::Local {
                    core,
                    input,
                    switch_at,
                } => {
                    if core.input_offset() >= *switch_at {
                        let single =
                            std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
                        if single && *switch_at != 0 {
                            *switch_at = u64::MAX;
                        } else if let State::Local { core, input, .. } =
                            std::mem::replace(&mut self.state, State::Done)
                        {
                            self.state = match Background::start(core, input) {
                                Ok(b) => State::Background(b),
                                // No thread to be had: go on here.
                                Err(Unstarted {
                                    core: Some(core),
                                    input,
                                }) => State::Local {
                                    core,
                                    input,
                                    switch_at: u64::MAX,
                                },
                                Err(Unstarted { core: None, .. }) => {
                                    unreachable!("the core comes back if the thread does not start")
                                }
                            };
                        }
                        continue;
                    }
                    self.chunk.clear();
                    core.fill(input, &mut self.chunk, LOCAL_CHUNK, true);
                }
            }
            if let Some(ev) = self.buffered() {
                return Ok(Some(ev));
            }
        }
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read_event().transpose()
    }
}

impl<R: Read> std::iter::FusedIterator for Reader<R> {}
