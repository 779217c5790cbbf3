//! Where the timeline's rows live: delta-encoded blocks in an unnamed
//! temporary file, with a small directory per row in memory.
//!
//! A row's slices are sorted by start and never overlap, so their ends are
//! sorted too. The builder appends them one at a time to a [`RowBuilder`],
//! which encodes them into blocks of at most [`BLOCK`] slices (each field a
//! LEB128 varint, times as differences from the previous slice's end: about
//! 7 to 14 bytes a slice instead of the 40 of a [`Slice`]) and writes each full
//! block to the [`Store`]. In memory a row keeps one [`BlockMeta`] per block
//! (88 bytes per 128 slices): where it is, its first index, the start of its
//! first slice and the end of its last, its longest slice and the time it
//! spends in each of (up to) four kinds. A window is found by binary search
//! over the directory and costs the blocks it touches; a block shorter than
//! the resolution a query asks for is merged from its directory entry alone,
//! without being read (see [`crate::query`]), so a whole-trace view reads
//! about one block per pixel, not the whole row.
//!
//! The file is created exclusively in the temporary directory (`TMPDIR`),
//! readable by its owner only, and unlinked at once on Unix: it goes away
//! with the process. Reads are positioned (`pread`), so the server's workers
//! read concurrently, and the kernel's page cache, not the process, holds
//! what was read recently. Should no file be available, the blocks stay in
//! memory ([`Store::in_memory`]); the answers are the same.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::model::{Slice, SliceKind};

/// The most slices in a block.
pub(crate) const BLOCK: usize = 128;

/// Kinds whose time a block's directory entry keeps (a row holds at most
/// four: a goroutine's states).
const KIND_SLOTS: usize = 4;

/// Bytes written to the file at once.
const WRITE_CHUNK: usize = 1 << 20;

/// Append-only storage for encoded blocks, shared by every row of a
/// timeline.
#[derive(Debug)]
pub(crate) struct Store {
    inner: Mutex<Inner>,
    /// The file, for positioned reads without the lock.
    file: Option<File>,
    #[cfg(not(unix))]
    path: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Bytes in the file.
    flushed: u64,
    /// Bytes after them, not yet written (all of them without a file).
    pending: Vec<u8>,
    /// The first write error: the build fails with it (what could not be
    /// written stays in `pending`, so rows read until then stay right).
    error: Option<io::ErrorKind>,
}

impl Store {
    /// A store in an unnamed temporary file (in memory if none can be
    /// made).
    pub(crate) fn new() -> Arc<Store> {
        match temp_file() {
            Ok((file, _path)) => Arc::new(Store {
                inner: Mutex::default(),
                file: Some(file),
                #[cfg(not(unix))]
                path: _path,
            }),
            Err(_) => Store::in_memory(),
        }
    }

    /// A store that keeps its blocks in memory.
    pub(crate) fn in_memory() -> Arc<Store> {
        Arc::new(Store {
            inner: Mutex::default(),
            file: None,
            #[cfg(not(unix))]
            path: None,
        })
    }

    /// Bytes appended.
    pub(crate) fn len(&self) -> u64 {
        let inner = self.lock();
        inner.flushed + inner.pending.len() as u64
    }

    /// Whether the blocks are in a file.
    pub(crate) fn on_disk(&self) -> bool {
        self.file.is_some()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `bytes`; their offset.
    fn append(&self, bytes: &[u8]) -> u64 {
        let mut inner = self.lock();
        let offset = inner.flushed + inner.pending.len() as u64;
        inner.pending.extend_from_slice(bytes);
        if inner.pending.len() >= WRITE_CHUNK {
            self.flush_locked(&mut inner);
        }
        offset
    }

    /// Writes what is pending to the file; the first error since the store
    /// was made, if any (what failed to be written stays in memory and is
    /// still read correctly).
    pub(crate) fn flush(&self) -> io::Result<()> {
        let mut inner = self.lock();
        self.flush_locked(&mut inner);
        match inner.error {
            Some(kind) => Err(io::Error::new(
                kind,
                "writing the timeline's temporary file",
            )),
            None => Ok(()),
        }
    }

    fn flush_locked(&self, inner: &mut Inner) {
        let Some(file) = &self.file else { return };
        if inner.error.is_some() || inner.pending.is_empty() {
            return;
        }
        match write_at(file, &inner.pending, inner.flushed) {
            Ok(()) => {
                inner.flushed += inner.pending.len() as u64;
                inner.pending.clear();
                if inner.pending.capacity() > 2 * WRITE_CHUNK {
                    inner.pending.shrink_to(WRITE_CHUNK);
                }
            }
            Err(e) => inner.error = Some(e.kind()),
        }
    }

    /// Reads `len` bytes at `offset` into `buf` (replacing its contents).
    fn read(&self, offset: u64, len: usize, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.clear();
        buf.resize(len, 0);
        let end = offset + len as u64;
        {
            let inner = self.lock();
            if offset >= inner.flushed {
                let from = usize::try_from(offset - inner.flushed).map_err(|_| corrupt())?;
                let src = inner.pending.get(from..from + len).ok_or_else(corrupt)?;
                buf.copy_from_slice(src);
                return Ok(());
            }
            if end > inner.flushed {
                return Err(corrupt());
            }
        }
        let file = self.file.as_ref().ok_or_else(corrupt)?;
        read_at(file, buf, offset)
    }
}

#[cfg(not(unix))]
impl Drop for Store {
    fn drop(&mut self) {
        self.file = None;
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn corrupt() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "the timeline's block store is inconsistent",
    )
}

/// A new file in the temporary directory, created exclusively (never an
/// existing file or a symbolic link) and, on Unix, unlinked at once.
fn temp_file() -> io::Result<(File, Option<PathBuf>)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut last = None;
    for _ in 0..8 {
        let name = format!(
            "trace-view-{}-{nanos:x}-{}.blocks",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(&path) {
            Ok(file) => {
                #[cfg(unix)]
                {
                    std::fs::remove_file(&path)?;
                    return Ok((file, None));
                }
                #[cfg(not(unix))]
                return Ok((file, Some(path)));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no temporary file")))
}

#[cfg(unix)]
fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn write_at(file: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(file, buf, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_read(file, buf, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(not(any(unix, windows)))]
fn write_at(_: &File, _: &[u8], _: u64) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(not(any(unix, windows)))]
fn read_at(_: &File, _: &mut [u8], _: u64) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// A block's entry in its row's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockMeta {
    /// Where its bytes are in the store.
    pub offset: u64,
    /// The index in the row of its first slice.
    pub first: u64,
    /// The start of its first slice.
    pub start: i64,
    /// The end of its last slice (the latest end: ends are sorted).
    pub end: i64,
    /// Its longest slice.
    pub max_dur: i64,
    /// Time spent in each kind of `kinds` (a fifth kind is not counted).
    pub weights: [i64; KIND_SLOTS],
    /// How many bytes.
    pub bytes: u32,
    /// How many slices.
    pub count: u32,
    /// The kinds of `weights` (0: unused slot).
    pub kinds: [u8; KIND_SLOTS],
}

impl BlockMeta {
    fn new(offset: u64, first: u64, s: &Slice) -> Self {
        BlockMeta {
            offset,
            first,
            start: s.start,
            end: s.end,
            max_dur: 0,
            weights: [0; KIND_SLOTS],
            bytes: 0,
            count: 0,
            kinds: [0; KIND_SLOTS],
        }
    }

    fn add(&mut self, s: &Slice) {
        let dur = s.end.saturating_sub(s.start);
        self.end = s.end;
        self.max_dur = self.max_dur.max(dur);
        self.count += 1;
        let code = s.kind.code();
        if let Some(i) = self.kinds.iter().position(|&k| k == code || k == 0) {
            self.kinds[i] = code;
            self.weights[i] = self.weights[i].saturating_add(dur);
        }
    }

    /// (kind, time) for each kind in the block.
    pub(crate) fn kind_weights(&self) -> impl Iterator<Item = (SliceKind, i64)> + '_ {
        self.kinds
            .iter()
            .zip(self.weights)
            .filter_map(|(&k, w)| Some((SliceKind::from_code(k)?, w)))
    }
}

/// One row of a lane: slices sorted by start, not overlapping, kept in
/// blocks in the timeline's store.
///
/// Reading may fail (an I/O error on the temporary file the blocks are in);
/// every read returns an [`io::Result`].
#[derive(Debug, Clone)]
pub struct Row {
    store: Arc<Store>,
    blocks: Vec<BlockMeta>,
    len: u64,
}

impl Row {
    /// The number of slices.
    pub fn len(&self) -> usize {
        usize::try_from(self.len).unwrap_or(usize::MAX)
    }

    /// Whether the row has no slice.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A row holding `slices` (sorted by start, not overlapping), in a
    /// temporary file of its own (in memory if none can be made).
    pub fn from_slices(slices: &[Slice]) -> Row {
        let store = Store::new();
        let mut b = RowBuilder::new(&store);
        for s in slices {
            b.push(*s);
        }
        let row = b.finish();
        // Written out now (a failed write leaves the blocks in memory, where
        // they are read all the same).
        let _ = store.flush();
        row
    }

    pub(crate) fn blocks(&self) -> &[BlockMeta] {
        &self.blocks
    }

    /// Decodes block `i` into `out` (replacing its contents).
    pub(crate) fn read_block(
        &self,
        i: usize,
        buf: &mut Vec<u8>,
        out: &mut Vec<Slice>,
    ) -> io::Result<()> {
        let b = self.blocks.get(i).ok_or_else(corrupt)?;
        self.store.read(b.offset, b.bytes as usize, buf)?;
        out.clear();
        decode(buf, b, out)
    }

    /// Every slice, in order.
    pub fn slices(&self) -> io::Result<Vec<Slice>> {
        read_all(self.blocks.len(), self.len(), |i, buf, out| {
            self.read_block(i, buf, out)
        })
    }

    /// The slice at `index`.
    pub fn get(&self, index: usize) -> io::Result<Option<Slice>> {
        self.cursor().get(index)
    }

    /// A reader of single slices that keeps the last block it decoded.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            row: self,
            block: usize::MAX,
            buf: Vec::new(),
            slices: Vec::new(),
        }
    }

    /// The number of slices that start at or before `t` (the index of the
    /// first that starts after it).
    pub fn count_starting_by(&self, t: i64) -> io::Result<usize> {
        let b = self.blocks.partition_point(|b| b.start <= t);
        if b == 0 {
            return Ok(0);
        }
        let mut c = self.cursor();
        c.load(b - 1)?;
        let base = self.blocks[b - 1].first as usize;
        Ok(base + c.slices.partition_point(|s| s.start <= t))
    }

    /// Calls `f(index, slice)` for each slice, in order.
    pub fn for_each(&self, mut f: impl FnMut(usize, &Slice)) -> io::Result<()> {
        let (mut buf, mut block) = (Vec::new(), Vec::new());
        for i in 0..self.blocks.len() {
            self.read_block(i, &mut buf, &mut block)?;
            let base = self.blocks[i].first as usize;
            for (j, s) in block.iter().enumerate() {
                f(base + j, s);
            }
        }
        Ok(())
    }

    /// Calls `f(index, slice)` for each slice that overlaps `[t0, t1)` (or,
    /// if empty, lies at `t0`), in order.
    pub fn for_each_in(
        &self,
        t0: i64,
        t1: i64,
        mut f: impl FnMut(usize, &Slice),
    ) -> io::Result<()> {
        let (mut buf, mut block) = (Vec::new(), Vec::new());
        for i in self.blocks_in(t0, t1) {
            self.read_block(i, &mut buf, &mut block)?;
            let base = self.blocks[i].first as usize;
            for (j, s) in block.iter().enumerate() {
                if overlaps(s, t0, t1) {
                    f(base + j, s);
                }
            }
        }
        Ok(())
    }

    /// The blocks that may hold slices overlapping `[t0, t1)`.
    pub(crate) fn blocks_in(&self, t0: i64, t1: i64) -> std::ops::Range<usize> {
        let first = self.blocks.partition_point(|b| b.end < t0);
        let last = self.blocks.partition_point(|b| b.start < t1);
        first..last.max(first)
    }
}

/// Whether `s` belongs to the window `[t0, t1)`: it overlaps it, or it is
/// empty and at `t0`.
pub(crate) fn overlaps(s: &Slice, t0: i64, t1: i64) -> bool {
    s.start < t1 && (s.end > t0 || (s.end == t0 && s.start >= t0))
}

/// Reads slices of a row by index, decoding each block once while it reads
/// within it.
#[derive(Debug)]
pub struct Cursor<'a> {
    row: &'a Row,
    block: usize,
    buf: Vec<u8>,
    slices: Vec<Slice>,
}

impl Cursor<'_> {
    fn load(&mut self, block: usize) -> io::Result<()> {
        if self.block != block {
            self.block = usize::MAX;
            self.row
                .read_block(block, &mut self.buf, &mut self.slices)?;
            self.block = block;
        }
        Ok(())
    }

    /// The slice at `index`, if the row has one.
    pub fn get(&mut self, index: usize) -> io::Result<Option<Slice>> {
        if index as u64 >= self.row.len {
            return Ok(None);
        }
        let b = self
            .row
            .blocks
            .partition_point(|b| b.first <= index as u64)
            .saturating_sub(1);
        self.load(b)?;
        let at = index - self.row.blocks[b].first as usize;
        Ok(self.slices.get(at).copied())
    }
}

/// Appends the slices of one row to the store.
#[derive(Debug)]
pub(crate) struct RowBuilder {
    store: Arc<Store>,
    blocks: Vec<BlockMeta>,
    /// The block being encoded.
    open: Option<BlockMeta>,
    buf: Vec<u8>,
    prev_end: i64,
    len: u64,
}

impl RowBuilder {
    pub(crate) fn new(store: &Arc<Store>) -> Self {
        RowBuilder {
            store: Arc::clone(store),
            blocks: Vec::new(),
            open: None,
            buf: Vec::new(),
            prev_end: 0,
            len: 0,
        }
    }

    /// The end of the last slice, if any.
    pub(crate) fn last_end(&self) -> Option<i64> {
        (self.len > 0).then_some(self.prev_end)
    }

    /// Appends `s`, which must start at or after the end of the last one.
    pub(crate) fn push(&mut self, s: Slice) {
        let meta = self
            .open
            .get_or_insert_with(|| BlockMeta::new(0, self.len, &s));
        if meta.count == 0 {
            self.prev_end = s.start;
        }
        meta.add(&s);
        put_signed(&mut self.buf, s.start.wrapping_sub(self.prev_end));
        put_signed(&mut self.buf, s.end.wrapping_sub(s.start));
        self.buf.push(s.kind.code());
        put(&mut self.buf, s.arg.into());
        put(&mut self.buf, s.extra);
        put(&mut self.buf, s.stack0.into());
        put(&mut self.buf, s.stack1.into());
        self.prev_end = s.end;
        self.len += 1;
        if meta.count as usize == BLOCK {
            self.seal();
        }
    }

    /// Writes the open block, if any, to the store.
    pub(crate) fn seal(&mut self) {
        seal(&self.store, &mut self.open, &mut self.buf, &mut self.blocks);
    }

    /// Seals the open block and gives back the encoding buffer (for a row
    /// that will see few slices more).
    pub(crate) fn rest(&mut self) {
        self.seal();
        self.buf = Vec::new();
    }

    pub(crate) fn finish(mut self) -> Row {
        self.seal();
        self.blocks.shrink_to_fit();
        Row {
            store: self.store,
            blocks: self.blocks,
            len: self.len,
        }
    }
}

/// A block of a series' points in its directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PointBlock {
    /// Where its bytes are in the store.
    pub offset: u64,
    /// The index in the series of its first point.
    pub first: u64,
    /// The time of its first point.
    pub t0: i64,
    /// The time of its last point.
    pub t1: i64,
    /// Its smallest value.
    pub min: u64,
    /// Its largest value.
    pub max: u64,
    /// Its last value.
    pub last: u64,
    /// How many bytes.
    pub bytes: u32,
    /// How many points.
    pub count: u32,
}

/// The points of a step series, `(time, value)` with times increasing,
/// kept in blocks in the timeline's store like a [`Row`]'s slices.
#[derive(Debug, Clone)]
pub struct Points {
    store: Arc<Store>,
    blocks: Vec<PointBlock>,
    len: u64,
    max: u64,
}

impl Default for Points {
    fn default() -> Self {
        PointsBuilder::new(&Store::in_memory()).finish()
    }
}

impl Points {
    /// The number of points.
    pub fn len(&self) -> usize {
        usize::try_from(self.len).unwrap_or(usize::MAX)
    }

    /// Whether there is no point.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The largest value (0 if none).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Points `(time, value)` from a list (times increasing), in a store
    /// of their own in memory, coalesced as the builder does (see
    /// [`Points::to_vec`]).
    pub fn from_points(points: &[(i64, u64)]) -> Points {
        let mut b = PointsBuilder::new(&Store::in_memory());
        for &(t, v) in points {
            b.push(t, v);
        }
        b.finish()
    }

    pub(crate) fn blocks(&self) -> &[PointBlock] {
        &self.blocks
    }

    /// Decodes block `i` into `out` (replacing its contents).
    pub(crate) fn read_block(
        &self,
        i: usize,
        buf: &mut Vec<u8>,
        out: &mut Vec<(i64, u64)>,
    ) -> io::Result<()> {
        let b = self.blocks.get(i).ok_or_else(corrupt)?;
        self.store.read(b.offset, b.bytes as usize, buf)?;
        out.clear();
        let (mut at, mut t, mut v) = (0, b.t0, 0u64);
        for _ in 0..b.count {
            t = t.wrapping_add(get_signed(buf, &mut at)?);
            v = v.wrapping_add(get_signed(buf, &mut at)? as u64);
            out.push((t, v));
        }
        if at != buf.len() {
            return Err(corrupt());
        }
        Ok(())
    }

    /// Every point, in order. Consecutive points never have the same time
    /// or the same value: a point at the time of the one before replaces
    /// it, and a point repeating the value before is left out.
    pub fn to_vec(&self) -> io::Result<Vec<(i64, u64)>> {
        read_all(self.blocks.len(), self.len(), |i, buf, out| {
            self.read_block(i, buf, out)
        })
    }

    /// The number of points at or before `t`.
    pub(crate) fn count_by(&self, t: i64) -> io::Result<u64> {
        let b = self.blocks.partition_point(|b| b.t0 <= t);
        if b == 0 {
            return Ok(0);
        }
        let block = &self.blocks[b - 1];
        if block.t1 <= t {
            return Ok(block.first + u64::from(block.count));
        }
        let (mut buf, mut pts) = (Vec::new(), Vec::new());
        self.read_block(b - 1, &mut buf, &mut pts)?;
        Ok(block.first + pts.partition_point(|&(pt, _)| pt <= t) as u64)
    }
}

/// Appends the points of one series to the store.
#[derive(Debug)]
pub(crate) struct PointsBuilder {
    store: Arc<Store>,
    blocks: Vec<PointBlock>,
    open: Option<PointBlock>,
    buf: Vec<u8>,
    /// The last point, not yet encoded: the next may replace it.
    pending: Option<(i64, u64)>,
    prev: (i64, u64),
    len: u64,
    max: u64,
}

impl PointsBuilder {
    pub(crate) fn new(store: &Arc<Store>) -> Self {
        PointsBuilder {
            store: Arc::clone(store),
            blocks: Vec::new(),
            open: None,
            buf: Vec::new(),
            pending: None,
            prev: (0, 0),
            len: 0,
            max: 0,
        }
    }

    /// Whether no point was pushed.
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_none()
    }

    /// Appends a point (times must not decrease), replacing the last one if
    /// it has the same time, and leaving it out if it repeats the last
    /// value.
    pub(crate) fn push(&mut self, t: i64, v: u64) {
        match &mut self.pending {
            Some((pt, pv)) if *pt == t => *pv = v,
            Some((_, pv)) if *pv == v => {}
            _ => {
                if let Some((pt, pv)) = self.pending.replace((t, v)) {
                    self.encode(pt, pv);
                }
            }
        }
    }

    fn encode(&mut self, t: i64, v: u64) {
        let first = self.len;
        let meta = self.open.get_or_insert(PointBlock {
            offset: 0,
            first,
            t0: t,
            t1: t,
            min: v,
            max: v,
            last: v,
            bytes: 0,
            count: 0,
        });
        if meta.count == 0 {
            self.prev = (t, 0);
        }
        meta.t1 = t;
        meta.min = meta.min.min(v);
        meta.max = meta.max.max(v);
        meta.last = v;
        meta.count += 1;
        self.max = self.max.max(v);
        put_signed(&mut self.buf, t.wrapping_sub(self.prev.0));
        put_signed(&mut self.buf, v.wrapping_sub(self.prev.1) as i64);
        self.prev = (t, v);
        self.len += 1;
        if meta.count as usize == BLOCK {
            self.seal();
        }
    }

    fn seal(&mut self) {
        seal(&self.store, &mut self.open, &mut self.buf, &mut self.blocks);
    }

    pub(crate) fn finish(mut self) -> Points {
        if let Some((t, v)) = self.pending.take() {
            self.encode(t, v);
        }
        self.seal();
        self.blocks.shrink_to_fit();
        Points {
            store: self.store,
            blocks: self.blocks,
            len: self.len,
            max: self.max,
        }
    }
}

/// A directory entry, told where its block went.
trait Placed {
    fn place(&mut self, offset: u64, bytes: u32);
}

impl Placed for BlockMeta {
    fn place(&mut self, offset: u64, bytes: u32) {
        (self.offset, self.bytes) = (offset, bytes);
    }
}

impl Placed for PointBlock {
    fn place(&mut self, offset: u64, bytes: u32) {
        (self.offset, self.bytes) = (offset, bytes);
    }
}

/// Writes the open block (`buf`), if any, to `store` and files its entry.
fn seal<M: Placed>(store: &Store, open: &mut Option<M>, buf: &mut Vec<u8>, blocks: &mut Vec<M>) {
    let Some(mut meta) = open.take() else {
        return;
    };
    meta.place(store.append(buf), buf.len() as u32);
    blocks.push(meta);
    buf.clear();
}

/// Every item of `blocks` blocks (`len` in all), each decoded by `read`.
fn read_all<T: Copy>(
    blocks: usize,
    len: usize,
    mut read: impl FnMut(usize, &mut Vec<u8>, &mut Vec<T>) -> io::Result<()>,
) -> io::Result<Vec<T>> {
    let mut out = Vec::with_capacity(len);
    let (mut buf, mut block) = (Vec::new(), Vec::new());
    for i in 0..blocks {
        read(i, &mut buf, &mut block)?;
        out.extend_from_slice(&block);
    }
    Ok(out)
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_signed(out: &mut Vec<u8>, v: i64) {
    put(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn get(buf: &[u8], at: &mut usize) -> io::Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at).ok_or_else(corrupt)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(corrupt())
}

fn get_signed(buf: &[u8], at: &mut usize) -> io::Result<i64> {
    let v = get(buf, at)?;
    Ok((v >> 1) as i64 ^ -((v & 1) as i64))
}

fn decode(buf: &[u8], meta: &BlockMeta, out: &mut Vec<Slice>) -> io::Result<()> {
    let mut at = 0;
    let mut prev_end = meta.start;
    let small = |v: u64| u32::try_from(v).map_err(|_| corrupt());
    for _ in 0..meta.count {
        let start = prev_end.wrapping_add(get_signed(buf, &mut at)?);
        let end = start.wrapping_add(get_signed(buf, &mut at)?);
        let code = *buf.get(at).ok_or_else(corrupt)?;
        at += 1;
        let kind = SliceKind::from_code(code).ok_or_else(corrupt)?;
        let arg = small(get(buf, &mut at)?)?;
        let extra = get(buf, &mut at)?;
        let stack0 = small(get(buf, &mut at)?)?;
        let stack1 = small(get(buf, &mut at)?)?;
        out.push(Slice {
            start,
            end,
            extra,
            arg,
            stack0,
            stack1,
            kind,
        });
        prev_end = end;
    }
    if at != buf.len() {
        return Err(corrupt());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(i: i64) -> Slice {
        Slice {
            start: i * 10,
            end: i * 10 + 3 + i % 5,
            extra: (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            arg: (i % 7) as u32,
            stack0: u32::MAX - i as u32,
            stack1: (i % 3) as u32,
            kind: SliceKind::from_code((i % 4 + 1) as u8).unwrap(),
        }
    }

    #[test]
    fn rows_read_back_what_was_pushed() {
        for store in [Store::new(), Store::in_memory()] {
            let want: Vec<Slice> = (0..1000).map(slice).collect();
            let mut b = RowBuilder::new(&store);
            for s in &want {
                b.push(*s);
            }
            let row = b.finish();
            store.flush().unwrap();
            assert_eq!(row.len(), 1000);
            assert_eq!(row.blocks().len(), 1000usize.div_ceil(BLOCK));
            assert_eq!(row.slices().unwrap(), want);
            assert_eq!(row.get(777).unwrap(), Some(want[777]));
            assert_eq!(row.get(1000).unwrap(), None);
            assert_eq!(row.count_starting_by(5000).unwrap(), 501);
            assert_eq!(row.count_starting_by(-1).unwrap(), 0);
            let mut got = Vec::new();
            row.for_each_in(2002, 3000, |i, s| got.push((i, *s)))
                .unwrap();
            let expect: Vec<(usize, Slice)> = (200..300).map(|i| (i, want[i])).collect();
            assert_eq!(got, expect);
        }
    }

    #[test]
    fn partly_sealed_rows_and_extreme_values_read_back() {
        let store = Store::new();
        let mut b = RowBuilder::new(&store);
        let mut want = Vec::new();
        for i in 0..300 {
            let s = Slice {
                start: i64::MIN / 2 + i * 1_000_000_007,
                end: i64::MIN / 2 + i * 1_000_000_007 + i,
                extra: u64::MAX - i as u64,
                arg: u32::MAX,
                stack0: 0,
                stack1: u32::MAX,
                kind: SliceKind::Task,
            };
            want.push(s);
            b.push(s);
            if i % 37 == 0 {
                b.rest();
            }
        }
        let row = b.finish();
        assert_eq!(row.slices().unwrap(), want);
        let total: i64 = row
            .blocks()
            .iter()
            .flat_map(|m| m.kind_weights())
            .map(|(_, w)| w)
            .sum();
        assert_eq!(total, (0..300).sum::<i64>());
    }

    #[test]
    fn points_coalesce_and_read_back() {
        let mut b = PointsBuilder::new(&Store::new());
        assert!(b.is_empty());
        for (t, v) in [(1, 5), (1, 6), (2, 6), (3, 7)] {
            b.push(t, v);
        }
        let p = b.finish();
        assert_eq!(p.to_vec().unwrap(), vec![(1, 6), (3, 7)]);
        assert_eq!(p.max(), 7);

        let want: Vec<(i64, u64)> = (0..1000).map(|i| (i * 3, (i * 7919 % 13) as u64)).collect();
        let mut b = PointsBuilder::new(&Store::new());
        for &(t, v) in &want {
            b.push(t, v);
        }
        let p = b.finish();
        let got = p.to_vec().unwrap();
        // Repeated values are left out.
        let mut expect = want.clone();
        expect.dedup_by_key(|p| p.1);
        assert_eq!(got, expect);
        assert_eq!(p.count_by(-1).unwrap(), 0);
        let at = got.partition_point(|&(t, _)| t <= 1500) as u64;
        assert_eq!(p.count_by(1500).unwrap(), at);
        assert_eq!(p.count_by(i64::MAX).unwrap(), got.len() as u64);
    }

    #[test]
    fn a_directory_entry_is_small() {
        assert!(std::mem::size_of::<BlockMeta>() <= 88);
        assert!(std::mem::size_of::<PointBlock>() <= 64);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_file_has_no_name() {
        use std::os::fd::AsRawFd;
        let store = Store::new();
        let file = store.file.as_ref().expect("a temporary file");
        let link = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).unwrap();
        assert!(link.to_string_lossy().ends_with(" (deleted)"), "{link:?}");
    }
}
