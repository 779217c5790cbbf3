//! Per-thread batch cursors and the frontier: a binary min-heap of cursors
//! keyed on the time of each cursor's next event.
//!
//! The heap is Go's (`batchcursor.go`) rule for rule — strict comparisons,
//! the same sift order, removal by bubbling to the root — because which of
//! two events with the same timestamp comes first depends on it.

use trace_wire::varint::decode_at as uvarint;
use trace_wire::{EventCursor, Frequency, Version};

use crate::error::Error;
use crate::generation::BatchRef;
use crate::specs::{TypeTable, NOT_TIMED};

/// The next event of a cursor, decoded.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CurEvent {
    pub(crate) ty: u8,
    pub(crate) time: i64,
    /// Arguments after `dt`; the last slots are free for the ordering.
    pub(crate) args: [u64; 5],
    /// The file offset of the event.
    pub(crate) offset: u64,
}

/// Walks the event batches of one thread in order.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    /// The thread id.
    pub(crate) m: u64,
    /// Index of the thread's batches in the generation.
    pub(crate) thread: usize,
    /// The ordering's slot for this thread, once known.
    pub(crate) slot: Option<u32>,
    /// The next batch to start.
    next_batch: usize,
    /// The current batch: next event and end, in the arena.
    pos: usize,
    end: usize,
    /// File offset minus arena offset of the current batch.
    file_base: u64,
    /// The current batch's base time, in ticks.
    batch_time: u64,
    last_ts: i64,
    pub(crate) ev: CurEvent,
}

impl Cursor {
    pub(crate) fn new(m: u64, thread: usize) -> Self {
        Self {
            m,
            thread,
            slot: None,
            next_batch: 0,
            pos: 0,
            end: 0,
            file_base: 0,
            batch_time: 0,
            last_ts: 0,
            ev: CurEvent::default(),
        }
    }

    /// Decodes the next event into `self.ev`; `Ok(false)` when the thread has
    /// no more events.
    #[inline(always)]
    pub(crate) fn next_event(
        &mut self,
        batches: &[BatchRef],
        arena: &[u8],
        dec: &Decoder<'_>,
    ) -> Result<bool, Error> {
        if self.pos >= self.end && !self.next_batch(batches) {
            return Ok(false);
        }
        // Go converts the base time whenever the running time is 0.
        if self.last_ts == 0 {
            self.last_ts = dec.ticks.ns(self.batch_time);
        }
        let data = &arena[self.pos..self.end];
        let offset = self.file_base.wrapping_add(self.pos as u64);
        // Decoded in place: the event is large, and a decoding error ends
        // the stream, so a half-written event is never looked at.
        let ev = &mut self.ev;
        let Some((t, dt, len)) = dec.decode(data, &mut ev.args) else {
            return Err(Self::malformed(data, dec.version, offset));
        };
        let time = dec.ticks.ns(dt).wrapping_add(self.last_ts);
        self.last_ts = time;
        self.pos += len;
        ev.ty = t;
        ev.time = time;
        ev.offset = offset;
        Ok(true)
    }

    /// Starts the next non-empty batch; `false` if there is none.
    #[cold]
    fn next_batch(&mut self, batches: &[BatchRef]) -> bool {
        while let Some(b) = batches.get(self.next_batch) {
            self.next_batch += 1;
            self.last_ts = 0;
            if b.end > b.start {
                self.pos = b.start;
                self.end = b.end;
                self.file_base = b.offset.wrapping_sub(b.start as u64);
                self.batch_time = b.time;
                return true;
            }
        }
        false
    }

    /// The error for a malformed event, in Go's words (the wire decoder's).
    #[cold]
    fn malformed(data: &[u8], version: Version, offset: u64) -> Error {
        match EventCursor::new(data, version, offset).next_event() {
            Err(e) => e.into(),
            // Both decoders follow Go's rules, so this does not happen.
            Ok(_) => trace_wire::Error::new(trace_wire::ErrorKind::InvalidArgument, offset).into(),
        }
    }
}

/// Go's tick-to-nanosecond conversion, with a shortcut for the usual case of
/// a whole number of nanoseconds per tick (64 on most platforms).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticks {
    freq: Frequency,
    /// Nanoseconds per tick if that is a whole number, else 0.
    whole: u64,
    /// Below this many ticks, `ticks * whole` is exactly Go's result.
    limit: u64,
}

impl Ticks {
    pub(crate) fn new(freq: Frequency) -> Self {
        // The same double-precision computation as Go's (and `Frequency`'s).
        let per_tick = 1.0 / (freq.ticks_per_second() as f64 / 1e9);
        let whole = if per_tick.fract() == 0.0 && (1.0..=1_048_576.0).contains(&per_tick) {
            per_tick as u64
        } else {
            0
        };
        Ticks {
            freq,
            whole,
            // Products below 2^53 are exact in double precision too.
            limit: (1u64 << 53).checked_div(whole).unwrap_or(0),
        }
    }

    /// `ticks` in nanoseconds, exactly as Go converts them.
    #[inline]
    pub(crate) fn ns(&self, ticks: u64) -> i64 {
        if ticks < self.limit {
            (ticks * self.whole) as i64
        } else {
            self.freq.ns(ticks)
        }
    }
}

/// What decoding a generation's events needs.
#[derive(Debug)]
pub(crate) struct Decoder<'a> {
    pub(crate) version: Version,
    pub(crate) ticks: Ticks,
    pub(crate) types: &'a TypeTable,
}

impl Decoder<'_> {
    /// Decodes the timed event at the start of `data`: type, `dt` and
    /// encoded length, and the arguments into `args` (the unused ones
    /// zeroed). `None` if it is malformed.
    #[inline(always)]
    fn decode(&self, data: &[u8], args: &mut [u64; 5]) -> Option<(u8, u64, usize)> {
        let t = *data.first()?;
        let n = self.types.get(t).n_args;
        if n == NOT_TIMED {
            return None;
        }
        let mut pos = 1;
        let dt = uvarint(data, &mut pos)?;
        *args = [0u64; 5];
        // At most four arguments (Go's wire format has no more).
        if n > 0 {
            args[0] = uvarint(data, &mut pos)?;
            if n > 1 {
                args[1] = uvarint(data, &mut pos)?;
                if n > 2 {
                    args[2] = uvarint(data, &mut pos)?;
                    if n > 3 {
                        args[3] = uvarint(data, &mut pos)?;
                    }
                }
            }
        }
        Some((t, dt, pos))
    }
}

/// Go's frontier heap over cursors.
///
/// The heap holds (time of the cursor's next event, cursor index) pairs so
/// that sifting moves small values; the cursors stay in place.
#[derive(Debug, Default)]
pub(crate) struct Frontier {
    heap: Vec<(i64, u32)>,
    cursors: Vec<Cursor>,
}

impl Frontier {
    pub(crate) fn clear(&mut self) {
        self.heap.clear();
        self.cursors.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// The time of the root cursor's next event.
    pub(crate) fn min_time(&self) -> Option<i64> {
        self.heap.first().map(|&(t, _)| t)
    }

    /// The cursor at heap position `i`.
    #[inline]
    pub(crate) fn cursor(&mut self, i: usize) -> &mut Cursor {
        &mut self.cursors[self.heap[i].1 as usize]
    }

    /// The root cursor: the one whose next event is earliest.
    #[inline]
    pub(crate) fn root(&mut self) -> Option<&mut Cursor> {
        let &(_, c) = self.heap.first()?;
        self.cursors.get_mut(c as usize)
    }

    /// The cursors in heap order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Cursor> {
        self.heap.iter().map(|&(_, c)| &self.cursors[c as usize])
    }

    pub(crate) fn insert(&mut self, c: Cursor) {
        self.heap.push((c.ev.time, self.cursors.len() as u32));
        self.cursors.push(c);
        self.sift_up(self.heap.len() - 1);
    }

    /// Restores the heap after the cursor at `i` moved to its next event.
    #[inline]
    pub(crate) fn update(&mut self, i: usize) {
        self.heap[i].0 = self.cursors[self.heap[i].1 as usize].ev.time;
        if self.sift_up(i) != i {
            return;
        }
        self.sift_down(i);
    }

    /// Restores the heap after the root cursor moved to its next event, at
    /// `time`: the same as `update(0)`, with a shortcut for the usual case
    /// of the root staying earliest (ties keep it, as in `sift_down`).
    #[inline(always)]
    pub(crate) fn update_root(&mut self, time: i64) {
        let heap = &mut self.heap[..];
        let Some(root) = heap.first_mut() else {
            return;
        };
        root.0 = time;
        let stays = match heap {
            [_] => true,
            [_, a] => time <= a.0,
            [_, a, b, ..] => time <= a.0 && time <= b.0,
            [] => true,
        };
        if !stays {
            self.sift_down(0);
        }
    }

    /// Removes the cursor at `i` (exhausted), Go's way: bubble it to the root
    /// ignoring times, swap it with the last, sift the new root down.
    pub(crate) fn remove(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            self.heap.swap(parent, i);
            i = parent;
        }
        let last = self.heap.len() - 1;
        self.heap.swap(0, last);
        self.heap.pop();
        if !self.heap.is_empty() {
            self.sift_down(0);
        }
    }

    #[inline]
    fn sift_up(&mut self, mut i: usize) -> usize {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[parent].0 <= self.heap[i].0 {
                break;
            }
            self.heap.swap(parent, i);
            i = parent;
        }
        i
    }

    #[inline]
    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let mut m = i;
            let mut min = self.heap[i].0;
            for c in [2 * i + 1, 2 * i + 2] {
                if c < n && self.heap[c].0 < min {
                    min = self.heap[c].0;
                    m = c;
                }
            }
            if m == i {
                return;
            }
            self.heap.swap(i, m);
            i = m;
        }
    }

    /// Sorts the cursors by time with the (unstable) sort of Go `release`; a
    /// sorted array is still a valid heap.
    pub(crate) fn sort(&mut self, release: trace_wire::gosort::SortRelease) {
        trace_wire::gosort::sort_func_as(release, &mut self.heap, |a, b| a.0.cmp(&b.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(m: u64, time: i64) -> Cursor {
        let mut c = Cursor::new(m, 0);
        c.ev.time = time;
        c
    }

    fn order(f: &mut Frontier) -> Vec<u64> {
        let mut res = Vec::new();
        while !f.is_empty() {
            res.push(f.cursor(0).m);
            f.remove(0);
        }
        res
    }

    #[test]
    fn ticks_match_go() {
        for tps in [15_625_000, 1_000_000_000, 3_000_000_000, 500_000_000, 7, 1] {
            let f = Frequency::new(tps);
            let t = Ticks::new(f);
            for ticks in [
                0,
                1,
                2,
                3,
                1000,
                123_456_789_012,
                1 << 47,
                (1 << 53) - 1,
                1 << 60,
            ] {
                assert_eq!(t.ns(ticks), f.ns(ticks), "{tps} {ticks}");
            }
        }
        assert_eq!(Ticks::new(Frequency::new(15_625_000)).whole, 64);
    }

    #[test]
    fn ties_follow_go() {
        // Equal times: the heap keeps insertion order at the root and Go's
        // removal rule decides the rest.
        let mut f = Frontier::default();
        for (m, t) in [(1, 5), (2, 5), (3, 5), (4, 1)] {
            f.insert(cursor(m, t));
        }
        assert_eq!(order(&mut f), [4, 2, 3, 1]);
    }

    #[test]
    fn update_root_is_update() {
        // Small times make ties common, which is where the shortcut could
        // differ from Go's sift.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut rand = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for size in 1..=9 {
            let mut a = Frontier::default();
            for m in 0..size {
                a.insert(cursor(m, rand(4) as i64));
            }
            let mut b = Frontier {
                heap: a.heap.clone(),
                cursors: a.cursors.clone(),
            };
            for _ in 0..200 {
                let t = a.cursor(0).ev.time + rand(3) as i64;
                a.cursor(0).ev.time = t;
                a.update(0);
                b.cursor(0).ev.time = t;
                b.update_root(t);
                assert_eq!(a.heap, b.heap, "size {size}");
            }
        }
    }

    #[test]
    fn update_moves_down() {
        let mut f = Frontier::default();
        for (m, t) in [(1, 1), (2, 2), (3, 3)] {
            f.insert(cursor(m, t));
        }
        f.cursor(0).ev.time = 10;
        f.update(0);
        assert_eq!(f.cursor(0).m, 2);
        assert_eq!(order(&mut f), [2, 3, 1]);
    }
}
