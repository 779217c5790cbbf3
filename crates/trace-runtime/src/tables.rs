//! Per-generation string and stack tables, and their encoding as table
//! batches.
//!
//! Every per-CPU slot keeps its own tables for the generations in flight, so
//! interning happens under the slot lock the writer already holds and never
//! touches a shared cache line. Ids are made unique across slots by
//! interleaving: the `i`th entry of lane `l` (of `stride` lanes) gets id
//! `i * stride + l + 1`. The same string may therefore appear under several
//! ids in one generation, which the format allows; an id is never declared
//! twice, and id 0 (the empty string, no stack) is never declared.

use std::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};
use trace_wire::{ty, varint, BatchHeader, Experiment, SizeEncoding, TableWriter, NO_THREAD};

/// Go's limit on a string's length; longer strings are cut to their first
/// 1024 bytes, as Go's runtime does.
pub(crate) const MAX_STRING_LEN: usize = 1024;

/// Go's limit on a stack's depth.
pub(crate) const MAX_STACK_DEPTH: usize = 128;

type Hasher = hashbrown::DefaultHashBuilder;

/// Cuts `s` to [`MAX_STRING_LEN`] bytes, keeping the start.
#[inline(always)]
pub(crate) fn truncate_start(s: &[u8]) -> &[u8] {
    &s[..s.len().min(MAX_STRING_LEN)]
}

/// Cuts `s` to [`MAX_STRING_LEN`] bytes, keeping the end (Go does this for
/// function and file names).
pub(crate) fn truncate_end(s: &[u8]) -> &[u8] {
    &s[s.len().saturating_sub(MAX_STRING_LEN)..]
}

/// A fast hash of a byte string: two overlapping 8-byte loads and a folded
/// multiply for the short strings annotations use, the default hasher
/// beyond 16 bytes.
#[inline]
fn hash_bytes(hasher: &Hasher, s: &[u8]) -> u64 {
    const K1: u64 = 0x243f_6a88_85a3_08d3;
    const K2: u64 = 0x1319_8a2e_0370_7344;
    let n = s.len();
    let (a, b) = if n >= 8 {
        if n > 16 {
            return hasher.hash_one(s);
        }
        (load8(&s[..8]), load8(&s[n - 8..]))
    } else if n >= 4 {
        (load4(&s[..4]), load4(&s[n - 4..]))
    } else if n > 0 {
        let x = u64::from(s[0]) | u64::from(s[n / 2]) << 8 | u64::from(s[n - 1]) << 16;
        (x, 0)
    } else {
        (0, 0)
    };
    let m = u128::from(a ^ K1) * u128::from(b ^ K2 ^ n as u64);
    (m as u64) ^ ((m >> 64) as u64)
}

#[inline(always)]
fn load8(s: &[u8]) -> u64 {
    u64::from_le_bytes(s[..8].try_into().expect("8 bytes"))
}

#[inline(always)]
fn load4(s: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes(s[..4].try_into().expect("4 bytes")))
}

/// Byte-string equality without a call to `memcmp` for short strings.
#[inline]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        8..=16 => load8(a) == load8(b) && load8(&a[n - 8..]) == load8(&b[n - 8..]),
        4..=7 => load4(a) == load4(b) && load4(&a[n - 4..]) == load4(&b[n - 4..]),
        _ => a == b,
    }
}

/// Entries of the pointer-keyed cache in front of a string table.
const CACHE_SIZE: usize = 64;

/// A recently interned string: where the caller's bytes were, and the
/// local index they got.
#[derive(Debug, Default, Clone, Copy)]
struct CacheEntry {
    addr: usize,
    len: usize,
    index: u32,
}

/// Strings interned in one lane for one generation.
#[derive(Debug)]
pub(crate) struct StringTable {
    /// Most annotation strings are literals passed again and again from the
    /// same address: a hit here skips hashing. The bytes are still compared,
    /// since other memory may later hold other bytes at that address.
    cache: Box<[CacheEntry; CACHE_SIZE]>,
    hasher: Hasher,
    index: HashTable<u32>,
    arena: Vec<u8>,
    /// End offset of each entry in `arena`.
    ends: Vec<u32>,
}

impl Default for StringTable {
    fn default() -> Self {
        Self {
            cache: Box::new([CacheEntry::default(); CACHE_SIZE]),
            hasher: Hasher::default(),
            index: HashTable::new(),
            arena: Vec::new(),
            ends: Vec::new(),
        }
    }
}

impl StringTable {
    /// The bytes of entry `i`.
    #[inline(always)]
    fn entry(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.arena[start..self.ends[i] as usize]
    }

    /// The local index of `s` (already truncated), interning it if needed.
    #[inline]
    pub(crate) fn intern(&mut self, s: &[u8]) -> usize {
        let addr = s.as_ptr() as usize;
        let slot = ((addr >> 3) ^ (addr >> 11) ^ s.len()) % CACHE_SIZE;
        let hit = self.cache[slot];
        if hit.addr == addr && hit.len == s.len() && bytes_eq(self.entry(hit.index as usize), s) {
            return hit.index as usize;
        }
        let index = self.intern_slow(s);
        self.cache[slot] = CacheEntry {
            addr,
            len: s.len(),
            index: index as u32,
        };
        index
    }

    #[inline(never)]
    fn intern_slow(&mut self, s: &[u8]) -> usize {
        let hash = hash_bytes(&self.hasher, s);
        let Self {
            index,
            arena,
            ends,
            hasher,
            ..
        } = self;
        let get = |ends: &[u32], i: u32| -> std::ops::Range<usize> {
            let i = i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] as usize };
            start..ends[i] as usize
        };
        let entry = index.entry(
            hash,
            |&i| bytes_eq(&arena[get(ends, i)], s),
            |&i| hash_bytes(hasher, &arena[get(ends, i)]),
        );
        match entry {
            Entry::Occupied(e) => *e.get() as usize,
            Entry::Vacant(e) => {
                let i = ends.len();
                arena.extend_from_slice(s);
                ends.push(arena.len() as u32);
                e.insert(i as u32);
                i
            }
        }
    }

    /// The entries in local-index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let s = &self.arena[start..end as usize];
            start = end as usize;
            s
        })
    }
}

/// A hash of a stack from its depth and its innermost frames only: cheap for
/// deep stacks, and stacks that agree on those are rare enough that the
/// full comparison on lookup sorts them out.
#[inline]
fn hash_stack(stack: &[u64]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    // Independent multiplies (no chain through `h`), combined by position.
    let mut h = (stack.len() as u64).wrapping_mul(K);
    for (i, &pc) in stack.iter().take(8).enumerate() {
        h ^= (pc ^ (i as u64)).wrapping_mul(K).rotate_left(7 * i as u32);
    }
    h ^ (h >> 29)
}

/// Stacks (program-counter sequences, innermost first) interned in one lane
/// for one generation.
#[derive(Debug, Default)]
pub(crate) struct StackTable {
    index: HashTable<u32>,
    pcs: Vec<u64>,
    ends: Vec<u32>,
}

impl StackTable {
    /// The local index of `pcs`, interning it if needed.
    #[inline]
    pub(crate) fn intern(&mut self, stack: &[u64]) -> usize {
        let hash = hash_stack(stack);
        let Self { index, pcs, ends } = self;
        let get = |ends: &[u32], i: u32| -> std::ops::Range<usize> {
            let i = i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] as usize };
            start..ends[i] as usize
        };
        let entry = index.entry(
            hash,
            |&i| pcs[get(ends, i)] == *stack,
            |&i| hash_stack(&pcs[get(ends, i)]),
        );
        match entry {
            Entry::Occupied(e) => *e.get() as usize,
            Entry::Vacant(e) => {
                let i = ends.len();
                pcs.extend_from_slice(stack);
                ends.push(pcs.len() as u32);
                e.insert(i as u32);
                i
            }
        }
    }

    /// How many stacks the table holds.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The stacks in local-index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u64]> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let s = &self.pcs[start..end as usize];
            start = end as usize;
            s
        })
    }
}

/// The id of local entry `index` of `lane` when there are `stride` lanes.
#[inline]
pub(crate) fn global_id(index: usize, lane: usize, stride: usize) -> u64 {
    (index * stride + lane + 1) as u64
}

/// A writer of generation `gen`'s string (`marker` [`ty::STRINGS`]) or
/// stack ([`ty::STACKS`]) table batches with header time `time`.
pub(crate) fn table_writer(out: &mut Vec<u8>, gen: u64, time: u64, marker: u8) -> TableWriter<'_> {
    let header = BatchHeader {
        experiment: Experiment::None,
        gen,
        m: NO_THREAD,
        time,
        size: 0,
    };
    if marker == ty::STACKS {
        TableWriter::stacks(out, header)
    } else {
        TableWriter::strings(out, header)
    }
}

/// Appends the frequency batch of generation `gen`.
pub(crate) fn write_frequency_batch(out: &mut Vec<u8>, gen: u64, time: u64, freq: u64) {
    let mut payload = vec![ty::FREQUENCY];
    varint::encode(freq, &mut payload);
    BatchHeader {
        experiment: Experiment::None,
        gen,
        m: NO_THREAD,
        time,
        size: payload.len() as u64,
    }
    .encode(out, SizeEncoding::Minimal);
    out.extend_from_slice(&payload);
}

/// The payload of a Go 1.26 sync batch whose header time is
/// `snapshot.ticks`: `Sync`, `Frequency`, `ClockSnapshot` (in the order
/// Go's runtime writes them).
pub(crate) fn sync_payload(freq: u64, snapshot: &crate::clock::Snapshot) -> Vec<u8> {
    let mut payload = vec![ty::SYNC, ty::FREQUENCY];
    varint::encode(freq, &mut payload);
    payload.push(ty::CLOCK_SNAPSHOT);
    // The snapshot's time relative to the batch's.
    varint::encode(0, &mut payload);
    varint::encode(snapshot.mono, &mut payload);
    varint::encode(snapshot.sec, &mut payload);
    varint::encode(snapshot.nsec, &mut payload);
    payload
}

/// Appends Go 1.26's end-of-generation event, which follows the last batch
/// of a generation.
pub(crate) fn write_end_of_generation(out: &mut Vec<u8>) {
    out.push(ty::END_OF_GENERATION);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn strings_dedup_and_order() {
        let mut t = StringTable::default();
        assert_eq!(t.intern(b"a"), 0);
        assert_eq!(t.intern(b"bc"), 1);
        assert_eq!(t.intern(b"a"), 0);
        assert_eq!(t.intern(b""), 2);
        assert_eq!(t.iter().collect::<Vec<_>>(), [&b"a"[..], b"bc", b""]);
        assert_eq!(t.iter().count(), 3);
    }

    #[test]
    fn short_hashes_and_equality() {
        let h = Hasher::default();
        let words: Vec<Vec<u8>> = (0..40).map(|n| vec![b'a'; n]).collect();
        let hashes: hashbrown::HashSet<u64> = words.iter().map(|w| hash_bytes(&h, w)).collect();
        assert_eq!(hashes.len(), 40);
        assert_ne!(hash_bytes(&h, b"region-1"), hash_bytes(&h, b"region-2"));
        assert!(bytes_eq(b"0123456789abc", b"0123456789abc"));
        assert!(!bytes_eq(b"0123456789abc", b"0123456789abd"));
        assert!(!bytes_eq(b"0123456789abc", b"x123456789abc"));
        let mut t = StringTable::default();
        for w in &words {
            t.intern(w);
        }
        for (i, w) in words.iter().enumerate() {
            assert_eq!(t.intern(w), i);
        }
    }

    #[test]
    fn stacks_dedup() {
        let mut t = StackTable::default();
        assert_eq!(t.intern(&[1, 2, 3]), 0);
        assert_eq!(t.intern(&[1, 2]), 1);
        assert_eq!(t.intern(&[1, 2, 3]), 0);
        assert_eq!(t.iter().count(), 2);
    }

    #[test]
    fn truncation() {
        let long = vec![b'x'; 2000];
        assert_eq!(truncate_start(&long).len(), 1024);
        let mut s = vec![b'a'; 1000];
        s.extend_from_slice(&[b'b'; 1000]);
        assert!(truncate_end(&s).starts_with(b"aa"));
        assert!(truncate_end(&s).ends_with(b"b"));
        assert_eq!(truncate_start(b"short"), b"short");
    }

    #[test]
    fn ids_interleave() {
        // Two lanes: lane 0 gets 1, 3, 5...; lane 1 gets 2, 4, 6...
        assert_eq!(global_id(0, 0, 2), 1);
        assert_eq!(global_id(0, 1, 2), 2);
        assert_eq!(global_id(1, 0, 2), 3);
    }

    #[test]
    fn big_tables_split_into_batches() {
        let mut out = Vec::new();
        let mut w = table_writer(&mut out, 1, 0, ty::STRINGS);
        let s = vec![b'z'; 1024];
        for id in 1..=200 {
            w.string(id, &s);
        }
        w.finish();
        let mut data = trace_wire::Version::Go123.header().to_vec();
        data.extend_from_slice(&out);
        let mut batches = trace_wire::Batches::new(&data).unwrap();
        let mut n = 0;
        let mut n_batches = 0;
        while let Some(b) = batches.next_batch().unwrap() {
            n_batches += 1;
            let mut strings = trace_wire::Strings::new(b.payload, b.payload_offset).unwrap();
            while let Some((_, s)) = strings.next_string().unwrap() {
                assert_eq!(s.len(), 1024);
                n += 1;
            }
        }
        assert_eq!(n, 200);
        assert!(n_batches >= 4);
    }

    #[test]
    fn sync_batch_and_end_of_generation() {
        let snapshot = crate::clock::Snapshot {
            ticks: 1000,
            mono: 123_456_789,
            sec: 1_800_000_000,
            nsec: 999_999_999,
        };
        let payload = sync_payload(15_625_000, &snapshot);
        let mut data = trace_wire::Version::Go126.header().to_vec();
        BatchHeader {
            experiment: Experiment::None,
            gen: 3,
            m: NO_THREAD,
            time: snapshot.ticks,
            size: payload.len() as u64,
        }
        .encode(&mut data, SizeEncoding::Minimal);
        data.extend_from_slice(&payload);
        write_end_of_generation(&mut data);
        let mut batches = trace_wire::Batches::new(&data).unwrap();
        let b = batches.next_batch().unwrap().unwrap();
        assert_eq!(
            b.kind(trace_wire::Version::Go126),
            trace_wire::BatchKind::Sync
        );
        let sync = trace_wire::parse_sync(b.payload, 0).unwrap();
        assert_eq!(sync.frequency, Some(15_625_000));
        let clock = sync.clock.unwrap();
        assert_eq!(
            (clock.dt, clock.mono, clock.sec, clock.nsec),
            (0, 123_456_789, 1_800_000_000, 999_999_999)
        );
        // The end-of-generation event is skipped; nothing follows.
        assert!(batches.next_batch().unwrap().is_none());
    }
}
