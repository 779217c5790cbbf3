//! The background thread of a [`Reader`](crate::Reader): the reader core
//! (batch framing, tables, decoding, ordering, validation) runs there and
//! sends its events in chunks, while the caller's thread returns them and
//! handles them.
//!
//! The input stays on the caller's thread (it need not be `Send`): the
//! worker asks for blocks of input, which the caller's thread reads when it
//! next waits for events. The caller's thread also attaches the shared parts
//! of each event (its generation's tables), so that the tables' reference
//! count is only touched by one thread.
//!
//! Both channels are unbounded, but what travels on them is bounded by
//! credits: the worker has at most [`CHUNKS`] chunks (the caller returns each
//! one it has emptied) and asks for at most [`LOOKAHEAD`] blocks ahead.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::chunk::{Chunk, BUFFER};
use crate::core::Core;

/// Events per chunk.
const CHUNK: usize = 8192;

/// Chunks in flight, counting the one being filled and the one being read.
const CHUNKS: usize = 4;

/// Blocks of input the worker asks for ahead of the one it reads.
const LOOKAHEAD: usize = 3;

/// Bytes per block of input.
const BLOCK: usize = BUFFER;

/// From the worker.
enum Up {
    Chunk(Chunk),
    /// A request for one more block of input, with a block the worker is
    /// done with to read it into.
    Need(Option<Vec<u8>>),
}

/// To the worker.
enum Down {
    /// A block of input (never empty).
    Data(Vec<u8>),
    /// The input ended (`None`) or failed.
    End(Option<io::ErrorKind>),
    /// An emptied chunk.
    Recycle(Chunk),
}

/// What is left when the worker thread could not be started.
pub(crate) struct Unstarted<R> {
    /// The core, to go on with on the caller's thread.
    pub(crate) core: Option<Box<Core>>,
    pub(crate) input: BufReader<R>,
}

/// The caller's side.
pub(crate) struct Background<R> {
    input: BufReader<R>,
    /// Set once the input ended or failed.
    input_end: Option<Option<io::ErrorKind>>,
    down: Sender<Down>,
    /// In a mutex only to keep the reader `Sync`; never contended.
    up: Mutex<Receiver<Up>>,
    worker: Option<JoinHandle<()>>,
}

impl<R> std::fmt::Debug for Background<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background")
            .field("input_end", &self.input_end)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Background<R> {
    /// Starts a worker thread that continues `core`'s work; `input` is the
    /// rest of the input.
    pub(crate) fn start(core: Box<Core>, input: BufReader<R>) -> Result<Self, Unstarted<R>> {
        let (down, down_rx) = channel();
        let (up_tx, up) = channel();
        let feed = Feed::new(down_rx, up_tx);
        // The core goes to the thread through a slot, to be taken back if
        // there is no thread.
        let slot = Arc::new(Mutex::new(Some((core, feed))));
        let theirs = Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("trace-reader".into())
            .spawn(move || {
                let taken = theirs.lock().ok().and_then(|mut s| s.take());
                drop(theirs);
                if let Some((core, feed)) = taken {
                    work(core, feed);
                }
            });
        match spawned {
            Ok(worker) => Ok(Self {
                input,
                input_end: None,
                down,
                up: Mutex::new(up),
                worker: Some(worker),
            }),
            Err(_) => {
                let taken = slot.lock().ok().and_then(|mut s| s.take());
                Err(Unstarted {
                    core: taken.map(|(core, _)| core),
                    input,
                })
            }
        }
    }

    /// Replaces `chunk` (used up) with the worker's next chunk, serving
    /// its requests for input meanwhile.
    pub(crate) fn next_chunk(&mut self, chunk: &mut Chunk) {
        if chunk.events.capacity() != 0 {
            let mut old = std::mem::take(chunk);
            old.clear();
            // A worker that is gone no longer needs it.
            let _ = self.down.send(Down::Recycle(old));
        }
        loop {
            let msg = self.up.get_mut().map(|rx| rx.recv());
            match msg {
                Ok(Ok(Up::Chunk(c))) => {
                    *chunk = c;
                    return;
                }
                Ok(Ok(Up::Need(block))) => self.serve(block.unwrap_or_default()),
                _ => self.worker_died(),
            }
        }
    }

    /// Reads a block of input for the worker, into `block`.
    fn serve(&mut self, mut block: Vec<u8>) {
        let msg = match self.input_end {
            Some(end) => Down::End(end),
            None => {
                block.resize(BLOCK, 0);
                loop {
                    match self.input.read(&mut block) {
                        Ok(0) => {
                            self.input_end = Some(None);
                            break Down::End(None);
                        }
                        Ok(n) => {
                            block.truncate(n);
                            break Down::Data(block);
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            self.input_end = Some(Some(e.kind()));
                            break Down::End(Some(e.kind()));
                        }
                    }
                }
            }
        };
        let _ = self.down.send(msg);
    }

    /// The worker stopped without saying why: it panicked.
    #[cold]
    fn worker_died(&mut self) -> ! {
        if let Some(w) = self.worker.take() {
            if let Err(panic) = w.join() {
                std::panic::resume_unwind(panic);
            }
        }
        panic!("the trace reader's background thread stopped");
    }
}

impl<R> Drop for Background<R> {
    fn drop(&mut self) {
        // Closing the channels stops the worker at its next message.
        let (down, _) = channel();
        drop(std::mem::replace(&mut self.down, down));
        let (_, up) = channel();
        drop(std::mem::replace(
            self.up.get_mut().unwrap_or_else(|e| e.into_inner()),
            up,
        ));
        if let Some(w) = self.worker.take() {
            // A panic of the worker has no one to go to now.
            let _ = w.join();
        }
    }
}

/// A block of input or its end, in the worker's queue.
enum Item {
    Data(Vec<u8>),
    End(Option<io::ErrorKind>),
}

/// The worker's input: blocks from the caller's thread.
struct Feed {
    rx: Receiver<Down>,
    up: Sender<Up>,
    /// The block being read, and where.
    cur: Vec<u8>,
    pos: usize,
    /// Blocks received, not yet read.
    queue: VecDeque<Item>,
    /// Blocks asked for and not received yet.
    asked: usize,
    /// The end of the input was received: no more asking.
    ended: bool,
    /// The end of the input was reached: what `fill_buf` says from now on.
    end: Option<Option<io::ErrorKind>>,
    /// Emptied chunks back from the caller.
    free: Vec<Chunk>,
    /// Chunks allocated so far.
    made: usize,
    /// Blocks read, to give back with the next requests.
    spare: Vec<Vec<u8>>,
}

/// The caller went away.
#[derive(Debug)]
struct Gone;

impl From<Gone> for io::Error {
    fn from(_: Gone) -> Self {
        io::Error::other("the trace reader was dropped")
    }
}

impl Feed {
    fn new(rx: Receiver<Down>, up: Sender<Up>) -> Self {
        Self {
            rx,
            up,
            cur: Vec::new(),
            pos: 0,
            queue: VecDeque::new(),
            asked: 0,
            ended: false,
            end: None,
            free: Vec::new(),
            made: 0,
            spare: Vec::new(),
        }
    }

    /// Waits for one message and sorts it.
    fn receive(&mut self) -> Result<(), Gone> {
        match self.rx.recv().map_err(|_| Gone)? {
            Down::Data(b) => {
                self.asked -= 1;
                self.queue.push_back(Item::Data(b));
            }
            Down::End(e) => {
                self.asked -= 1;
                if !self.ended {
                    self.ended = true;
                    self.queue.push_back(Item::End(e));
                }
            }
            Down::Recycle(c) => self.free.push(c),
        }
        Ok(())
    }

    /// Asks for blocks up to the lookahead.
    fn ask(&mut self) -> Result<(), Gone> {
        while !self.ended && self.queue.len() + self.asked < LOOKAHEAD {
            self.up.send(Up::Need(self.spare.pop())).map_err(|_| Gone)?;
            self.asked += 1;
        }
        Ok(())
    }

    /// Moves to the next block, or to the end of the input.
    #[cold]
    fn next_block(&mut self) -> Result<(), Gone> {
        // The block just read goes back with the next request, to be
        // refilled.
        if self.cur.capacity() != 0 {
            self.spare.push(std::mem::take(&mut self.cur));
        }
        self.pos = 0;
        while self.end.is_none() {
            self.ask()?;
            match self.queue.pop_front() {
                Some(Item::Data(b)) => {
                    self.cur = b;
                    return Ok(());
                }
                Some(Item::End(e)) => self.end = Some(e),
                None => self.receive()?,
            }
        }
        Ok(())
    }

    /// An empty chunk, once one is free.
    fn chunk(&mut self) -> Result<Chunk, Gone> {
        loop {
            if let Some(c) = self.free.pop() {
                return Ok(c);
            }
            if self.made < CHUNKS {
                self.made += 1;
                return Ok(Chunk::with_capacity(CHUNK));
            }
            self.receive()?;
        }
    }

    /// Sends a chunk.
    fn send(&mut self, chunk: Chunk) -> Result<(), Gone> {
        self.up.send(Up::Chunk(chunk)).map_err(|_| Gone)
    }
}

impl Read for Feed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let data = self.fill_buf()?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Feed {
    #[inline]
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.cur.len() {
            self.next_block()?;
            if self.pos >= self.cur.len() {
                return match self.end {
                    Some(Some(kind)) => Err(kind.into()),
                    _ => Ok(&[]),
                };
            }
        }
        Ok(&self.cur[self.pos..])
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
}

/// The worker thread.
fn work(mut core: Box<Core>, mut feed: Feed) {
    // `Gone`: the reader was dropped, nothing left to do.
    let _ = run(&mut core, &mut feed);
}

fn run(core: &mut Core, feed: &mut Feed) -> Result<(), Gone> {
    loop {
        let mut chunk = feed.chunk()?;
        core.fill(feed, &mut chunk, CHUNK, false);
        let end = chunk.end.is_some();
        feed.send(chunk)?;
        if end {
            return Ok(());
        }
    }
}
