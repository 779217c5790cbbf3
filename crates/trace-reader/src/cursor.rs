//! Per-thread batch cursors and the frontier: a binary min-heap of cursors
//! keyed on the time of each cursor's next event.
//!
//! The heap is Go's (`batchcursor.go`) rule for rule — strict comparisons,
//! the same sift order, removal by bubbling to the root — because which of
//! two events with the same timestamp comes first depends on it.

use trace_wire::{EventCursor, Frequency, Version};

use crate::error::Error;
use crate::generation::BatchRef;

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
    batch: usize,
    off: usize,
    last_ts: i64,
    pub(crate) ev: CurEvent,
}

impl Cursor {
    pub(crate) fn new(m: u64, thread: usize) -> Self {
        Self {
            m,
            thread,
            slot: None,
            batch: 0,
            off: 0,
            last_ts: 0,
            ev: CurEvent::default(),
        }
    }

    /// Decodes the next event into `self.ev`; `Ok(false)` when the thread has
    /// no more events.
    #[inline]
    pub(crate) fn next_event(
        &mut self,
        batches: &[BatchRef],
        arena: &[u8],
        version: Version,
        freq: &Frequency,
    ) -> Result<bool, Error> {
        // Skip finished (and empty) batches.
        while let Some(b) = batches.get(self.batch) {
            if b.end - b.start != self.off {
                break;
            }
            self.batch += 1;
            self.off = 0;
            self.last_ts = 0;
        }
        let Some(b) = batches.get(self.batch) else {
            return Ok(false);
        };
        if self.last_ts == 0 {
            self.last_ts = freq.ns(b.time);
        }
        let data = &arena[b.start + self.off..b.end];
        let offset = b.offset + self.off as u64;
        let mut events = EventCursor::new(data, version, offset);
        let Some(raw) = events.next_event()? else {
            return Ok(false);
        };
        let time = freq.ns(raw.dt).wrapping_add(self.last_ts);
        self.last_ts = time;
        self.off += events.position();
        self.ev = CurEvent {
            ty: raw.ty,
            time,
            args: [raw.args[0], raw.args[1], raw.args[2], raw.args[3], 0],
            offset,
        };
        Ok(true)
    }
}

/// Go's frontier heap over cursors.
#[derive(Debug, Default)]
pub(crate) struct Frontier {
    pub(crate) heap: Vec<Cursor>,
}

impl Frontier {
    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    #[inline]
    fn time(&self, i: usize) -> i64 {
        self.heap[i].ev.time
    }

    pub(crate) fn insert(&mut self, c: Cursor) {
        self.heap.push(c);
        self.sift_up(self.heap.len() - 1);
    }

    /// Restores the heap after the cursor at `i` moved to its next event.
    pub(crate) fn update(&mut self, i: usize) {
        if self.sift_up(i) != i {
            return;
        }
        self.sift_down(i);
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

    fn sift_up(&mut self, mut i: usize) -> usize {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.time(parent) <= self.time(i) {
                break;
            }
            self.heap.swap(parent, i);
            i = parent;
        }
        i
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let mut m = i;
            let mut min = self.time(i);
            for c in [2 * i + 1, 2 * i + 2] {
                if c < n && self.time(c) < min {
                    min = self.time(c);
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

    /// Sorts the cursors by time with Go's (unstable) sort; a sorted array is
    /// still a valid heap.
    pub(crate) fn sort(&mut self) {
        crate::gosort::sort_func(&mut self.heap, |a, b| a.ev.time.cmp(&b.ev.time));
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
            res.push(f.heap[0].m);
            f.remove(0);
        }
        res
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
    fn update_moves_down() {
        let mut f = Frontier::default();
        for (m, t) in [(1, 1), (2, 2), (3, 3)] {
            f.insert(cursor(m, t));
        }
        f.heap[0].ev.time = 10;
        f.update(0);
        assert_eq!(f.heap[0].m, 2);
        assert_eq!(order(&mut f), [2, 3, 1]);
    }
}
