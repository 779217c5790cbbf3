//! Trace bytes stored in fixed-size blocks recycled through a pool.
//!
//! Deliveries from the runtime come in every size, from a few bytes to
//! megabytes. Copying each into an allocation of its own size makes the
//! allocator fragment under load (glibc raises its mmap threshold as large
//! blocks are freed, then serves them from heaps that never shrink), and the
//! process's memory creeps up although the retained bytes stay bounded.
//! Uniform blocks that are reused keep memory flat: a recorder's blocks
//! settle at about its window plus the pool, whatever the delivery sizes.

use std::sync::{Arc, Mutex};

/// The size of a block.
pub(crate) const BLOCK: usize = 64 << 10;

/// Free blocks, up to a cap; beyond it, freed blocks go back to the
/// allocator.
#[derive(Debug)]
pub(crate) struct Pool {
    free: Mutex<Vec<Box<[u8]>>>,
    cap: usize,
}

impl Pool {
    /// A pool that keeps at most `cap` free blocks.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            cap,
        }
    }

    fn take(&self) -> Box<[u8]> {
        let block = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        block.unwrap_or_else(|| vec![0; BLOCK].into_boxed_slice())
    }

    fn give(&self, blocks: impl Iterator<Item = Box<[u8]>>) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        for block in blocks {
            if free.len() >= self.cap {
                break;
            }
            free.push(block);
        }
    }

    #[cfg(test)]
    pub(crate) fn n_free(&self) -> usize {
        self.free.lock().unwrap().len()
    }
}

/// A byte string stored in pooled blocks, all full but the last; the blocks
/// go back to the pool when it is cleared or dropped.
#[derive(Debug)]
pub(crate) struct Blocks {
    pool: Arc<Pool>,
    blocks: Vec<Box<[u8]>>,
    len: usize,
}

impl Blocks {
    pub(crate) fn new(pool: Arc<Pool>) -> Self {
        Self {
            pool,
            blocks: Vec::new(),
            len: 0,
        }
    }

    /// The number of bytes stored.
    pub(crate) fn len(&self) -> u64 {
        self.len as u64
    }

    /// Appends `bytes`, filling the last block before taking new ones.
    pub(crate) fn extend(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let used = self.len % BLOCK;
            if used == 0 {
                self.blocks.push(self.pool.take());
            }
            let last = self.blocks.last_mut().expect("a block with room");
            let n = bytes.len().min(BLOCK - used);
            last[used..used + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
    }

    /// Empties it, returning the blocks to the pool.
    pub(crate) fn clear(&mut self) {
        self.pool.give(self.blocks.drain(..));
        self.len = 0;
    }

    /// The stored bytes of block `i`.
    pub(crate) fn block(&self, i: usize) -> Option<&[u8]> {
        let block = self.blocks.get(i)?;
        let end = (self.len - i * BLOCK).min(BLOCK);
        Some(&block[..end])
    }

    /// The stored bytes, block by block.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.blocks.len()).filter_map(|i| self.block(i))
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_span_blocks_and_blocks_are_reused() {
        let pool = Arc::new(Pool::new(2));
        let mut b = Blocks::new(pool.clone());
        let data: Vec<u8> = (0..BLOCK * 2 + 10).map(|i| i as u8).collect();
        b.extend(&data[..100]);
        b.extend(&data[100..BLOCK + 5]);
        b.extend(&data[BLOCK + 5..]);
        assert_eq!(b.len(), data.len() as u64);
        let lens: Vec<usize> = b.iter().map(<[u8]>::len).collect();
        assert_eq!(lens, [BLOCK, BLOCK, 10]);
        assert_eq!(b.iter().flatten().copied().collect::<Vec<u8>>(), data);
        drop(b);
        // The pool keeps two of the three blocks.
        assert_eq!(pool.n_free(), 2);
        let mut c = Blocks::new(pool.clone());
        c.extend(&[7; 3]);
        assert_eq!(pool.n_free(), 1);
        assert_eq!(c.block(0), Some(&[7u8; 3][..]));
        assert_eq!(c.block(1), None);
    }
}
