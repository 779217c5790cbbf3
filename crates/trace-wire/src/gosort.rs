//! Go's `slices.SortFunc` as of Go 1.27, reproduced step for step.
//!
//! Go's sort is a pattern-defeating quicksort: not stable, and the order in
//! which it leaves equal elements is part of what Go prints wherever it
//! sorts rows with ties (for instance the event types of
//! `go tool trace -d=footprint`, most of which have zero bytes). Matching
//! that output byte for byte needs Go's exact algorithm, including its
//! deterministic pattern breaking: a xorshift generator seeded with the
//! slice length, with the shifts 13, 7, 17 of Go 1.27's `slices` package
//! (13, 17, 5 in Go 1.23's, which [`sort_func_as`] with [`SortRelease::Go123`]
//! reproduces).
//!
//! ```
//! use trace_wire::gosort::sort_func;
//!
//! // (key, original position): equal keys do not keep their order.
//! let mut v: Vec<(u8, usize)> = (0..20).map(|i| (u8::from(i % 3 == 0), i)).collect();
//! sort_func(&mut v, |a, b| b.0.cmp(&a.0)); // largest key first
//! let order: Vec<usize> = v.iter().map(|e| e.1).collect();
//! assert_eq!(order, [9, 18, 15, 3, 12, 0, 6, 5, 8, 7, 10, 11, 4, 13, 14, 2, 16, 17, 1, 19]);
//! ```

use std::cmp::Ordering;

/// Whose `slices.SortFunc` to reproduce: the releases differ only in the
/// generator that breaks patterns, so only in the order of equal elements
/// of longer slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SortRelease {
    /// Go 1.23 (shifts 13, 17, 5).
    Go123,
    /// Go 1.27 (shifts 13, 7, 17).
    #[default]
    Go127,
}

/// Sorts `data` exactly as Go 1.27's `slices.SortFunc(data, cmp)` does,
/// leaving equal elements in the same order as Go.
pub fn sort_func<T>(data: &mut [T], cmp: impl FnMut(&T, &T) -> Ordering) {
    sort_func_as(SortRelease::Go127, data, cmp);
}

/// Sorts `data` exactly as `slices.SortFunc(data, cmp)` of `release` does.
pub fn sort_func_as<T>(
    release: SortRelease,
    data: &mut [T],
    mut cmp: impl FnMut(&T, &T) -> Ordering,
) {
    let n = data.len();
    let mut less = |a: &T, b: &T| cmp(a, b) == Ordering::Less;
    pdqsort(data, 0, n, bits_len(n), &mut less, release);
}

/// Go's `bits.Len`: the number of bits needed to represent `n`.
fn bits_len(n: usize) -> usize {
    (usize::BITS - n.leading_zeros()) as usize
}

#[derive(PartialEq, Eq)]
enum Hint {
    Unknown,
    Increasing,
    Decreasing,
}

fn insertion_sort<T>(data: &mut [T], a: usize, b: usize, less: &mut impl FnMut(&T, &T) -> bool) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(&data[j], &data[j - 1]) {
            data.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn sift_down<T>(
    data: &mut [T],
    lo: usize,
    hi: usize,
    first: usize,
    less: &mut impl FnMut(&T, &T) -> bool,
) {
    let mut root = lo;
    loop {
        let mut child = 2 * root + 1;
        if child >= hi {
            return;
        }
        if child + 1 < hi && less(&data[first + child], &data[first + child + 1]) {
            child += 1;
        }
        if !less(&data[first + root], &data[first + child]) {
            return;
        }
        data.swap(first + root, first + child);
        root = child;
    }
}

fn heap_sort<T>(data: &mut [T], a: usize, b: usize, less: &mut impl FnMut(&T, &T) -> bool) {
    let first = a;
    let hi = b - a;
    // Only called on more than 12 elements, so `hi >= 1`.
    for i in (0..=(hi - 1) / 2).rev() {
        sift_down(data, i, hi, first, less);
    }
    for i in (0..hi).rev() {
        data.swap(first, first + i);
        sift_down(data, 0, i, first, less);
    }
}

fn pdqsort<T>(
    data: &mut [T],
    mut a: usize,
    mut b: usize,
    mut limit: usize,
    less: &mut impl FnMut(&T, &T) -> bool,
    release: SortRelease,
) {
    const MAX_INSERTION: usize = 12;
    let mut was_balanced = true;
    let mut was_partitioned = true;
    loop {
        let length = b - a;
        if length <= MAX_INSERTION {
            insertion_sort(data, a, b, less);
            return;
        }
        if limit == 0 {
            heap_sort(data, a, b, less);
            return;
        }
        if !was_balanced {
            break_patterns(data, a, b, release);
            limit -= 1;
        }
        let (mut pivot, mut hint) = choose_pivot(data, a, b, less);
        if hint == Hint::Decreasing {
            data[a..b].reverse();
            pivot = (b - 1) - (pivot - a);
            hint = Hint::Increasing;
        }
        if was_balanced
            && was_partitioned
            && hint == Hint::Increasing
            && partial_insertion_sort(data, a, b, less)
        {
            return;
        }
        if a > 0 && !less(&data[a - 1], &data[pivot]) {
            a = partition_equal(data, a, b, pivot, less);
            continue;
        }
        let (mid, already_partitioned) = partition(data, a, b, pivot, less);
        was_partitioned = already_partitioned;
        let (left_len, right_len) = (mid - a, b - mid);
        let balance_threshold = length / 8;
        if left_len < right_len {
            was_balanced = left_len >= balance_threshold;
            pdqsort(data, a, mid, limit, less, release);
            a = mid + 1;
        } else {
            was_balanced = right_len >= balance_threshold;
            pdqsort(data, mid + 1, b, limit, less, release);
            b = mid;
        }
    }
}

fn partition<T>(
    data: &mut [T],
    a: usize,
    b: usize,
    pivot: usize,
    less: &mut impl FnMut(&T, &T) -> bool,
) -> (usize, bool) {
    data.swap(a, pivot);
    // Go uses signed indices; `j` may go one below `i`, never below `a`.
    let (mut i, mut j) = (a as isize + 1, b as isize - 1);
    let at = |k: isize| k as usize;
    while i <= j && less(&data[at(i)], &data[a]) {
        i += 1;
    }
    while i <= j && !less(&data[at(j)], &data[a]) {
        j -= 1;
    }
    if i > j {
        data.swap(at(j), a);
        return (at(j), true);
    }
    data.swap(at(i), at(j));
    i += 1;
    j -= 1;
    loop {
        while i <= j && less(&data[at(i)], &data[a]) {
            i += 1;
        }
        while i <= j && !less(&data[at(j)], &data[a]) {
            j -= 1;
        }
        if i > j {
            break;
        }
        data.swap(at(i), at(j));
        i += 1;
        j -= 1;
    }
    data.swap(at(j), a);
    (at(j), false)
}

fn partition_equal<T>(
    data: &mut [T],
    a: usize,
    b: usize,
    pivot: usize,
    less: &mut impl FnMut(&T, &T) -> bool,
) -> usize {
    data.swap(a, pivot);
    let (mut i, mut j) = (a as isize + 1, b as isize - 1);
    let at = |k: isize| k as usize;
    loop {
        while i <= j && !less(&data[a], &data[at(i)]) {
            i += 1;
        }
        while i <= j && less(&data[a], &data[at(j)]) {
            j -= 1;
        }
        if i > j {
            break;
        }
        data.swap(at(i), at(j));
        i += 1;
        j -= 1;
    }
    at(i)
}

fn partial_insertion_sort<T>(
    data: &mut [T],
    a: usize,
    b: usize,
    less: &mut impl FnMut(&T, &T) -> bool,
) -> bool {
    const MAX_STEPS: usize = 5;
    const SHORTEST_SHIFTING: usize = 50;
    let mut i = a + 1;
    for _ in 0..MAX_STEPS {
        while i < b && !less(&data[i], &data[i - 1]) {
            i += 1;
        }
        if i == b {
            return true;
        }
        if b - a < SHORTEST_SHIFTING {
            return false;
        }
        data.swap(i, i - 1);
        // Shift the smaller one to the left. (Go's loop runs down to index 1,
        // not to `a`.)
        if i - a >= 2 {
            let mut j = i - 1;
            while j >= 1 {
                if !less(&data[j], &data[j - 1]) {
                    break;
                }
                data.swap(j, j - 1);
                j -= 1;
            }
        }
        // Shift the greater one to the right.
        if b - i >= 2 {
            let mut j = i + 1;
            while j < b {
                if !less(&data[j], &data[j - 1]) {
                    break;
                }
                data.swap(j, j - 1);
                j += 1;
            }
        }
    }
    false
}

/// Go's `xorshift` generator, with the shifts of a release.
struct XorShift(u64, SortRelease);

impl XorShift {
    fn next(&mut self) -> u64 {
        match self.1 {
            SortRelease::Go127 => {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
            }
            SortRelease::Go123 => {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 17;
                self.0 ^= self.0 << 5;
            }
        }
        self.0
    }
}

fn break_patterns<T>(data: &mut [T], a: usize, b: usize, release: SortRelease) {
    let length = b - a;
    if length >= 8 {
        let mut random = XorShift(length as u64, release);
        // Go's `nextPowerOfTwo`: `1 << bits.Len(length)`.
        let modulus = 1u64 << bits_len(length);
        let idx0 = a + (length / 4) * 2 - 1;
        for idx in idx0..=a + (length / 4) * 2 + 1 {
            // The result is below `modulus`, at most twice `length`.
            let mut other = (random.next() & (modulus - 1)) as usize;
            if other >= length {
                other -= length;
            }
            data.swap(idx, a + other);
        }
    }
}

fn choose_pivot<T>(
    data: &mut [T],
    a: usize,
    b: usize,
    less: &mut impl FnMut(&T, &T) -> bool,
) -> (usize, Hint) {
    const SHORTEST_NINTHER: usize = 50;
    const MAX_SWAPS: usize = 4 * 3;
    let l = b - a;
    let mut swaps = 0;
    let mut i = a + l / 4;
    let mut j = a + l / 4 * 2;
    let mut k = a + l / 4 * 3;
    if l >= 8 {
        if l >= SHORTEST_NINTHER {
            i = median_adjacent(data, i, &mut swaps, less);
            j = median_adjacent(data, j, &mut swaps, less);
            k = median_adjacent(data, k, &mut swaps, less);
        }
        j = median(data, i, j, k, &mut swaps, less);
    }
    match swaps {
        0 => (j, Hint::Increasing),
        MAX_SWAPS => (j, Hint::Decreasing),
        _ => (j, Hint::Unknown),
    }
}

fn order2<T>(
    data: &[T],
    a: usize,
    b: usize,
    swaps: &mut usize,
    less: &mut impl FnMut(&T, &T) -> bool,
) -> (usize, usize) {
    if less(&data[b], &data[a]) {
        *swaps += 1;
        return (b, a);
    }
    (a, b)
}

fn median<T>(
    data: &[T],
    a: usize,
    b: usize,
    c: usize,
    swaps: &mut usize,
    less: &mut impl FnMut(&T, &T) -> bool,
) -> usize {
    let (a, b) = order2(data, a, b, swaps, less);
    let (b, _c) = order2(data, b, c, swaps, less);
    let (_a, b) = order2(data, a, b, swaps, less);
    b
}

fn median_adjacent<T>(
    data: &[T],
    a: usize,
    swaps: &mut usize,
    less: &mut impl FnMut(&T, &T) -> bool,
) -> usize {
    median(data, a - 1, a, a + 1, swaps, less)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A linear congruential generator, for keys with many ties.
    fn keys(n: usize, distinct: u64, seed: &mut u64) -> Vec<(u64, usize)> {
        (0..n)
            .map(|i| {
                *seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((*seed >> 33) % distinct, i)
            })
            .collect()
    }

    #[test]
    fn sorts_and_permutes() {
        let mut seed = 12345u64;
        for n in [0usize, 1, 2, 5, 12, 13, 49, 50, 51, 100, 256, 1000] {
            let mut v = keys(n, 7, &mut seed);
            sort_func(&mut v, |a, b| a.0.cmp(&b.0));
            assert!(v.windows(2).all(|w| w[0].0 <= w[1].0), "n={n}");
            let mut idx: Vec<usize> = v.iter().map(|x| x.1).collect();
            idx.sort_unstable();
            assert_eq!(idx, (0..n).collect::<Vec<_>>());
        }
        let mut v: Vec<u32> = (0..200).rev().collect();
        sort_func(&mut v, |a, b| a.cmp(b));
        assert_eq!(v, (0..200).collect::<Vec<_>>());
    }

    #[test]
    fn small_inputs_are_stable() {
        let mut v = vec![(1, 'a'), (0, 'b'), (1, 'c'), (0, 'd')];
        sort_func(&mut v, |a, b| a.0.cmp(&b.0));
        assert_eq!(v, [(0, 'b'), (0, 'd'), (1, 'a'), (1, 'c')]);
    }

    /// FNV-1a of the positions, in sorted order.
    fn fnv(v: &[(u64, usize)]) -> u64 {
        v.iter().fold(0xcbf2_9ce4_8422_2325, |h, x| {
            (h ^ x.1 as u64).wrapping_mul(0x0100_0000_01b3)
        })
    }

    /// The orders of equal elements are Go 1.27's: each hash is of the
    /// positions that Go's `slices.SortFunc` left, largest key first, for
    /// the same keys (generated the same way in Go).
    #[test]
    fn ties_end_up_where_go_puts_them() {
        const GO: [(usize, u64, u64); 12] = [
            (100, 2, 0xd006_2967_ca9f_3dbd),
            (100, 3, 0x3dd0_0f95_ed5b_2eb9),
            (100, 50, 0x0fb9_fbd9_0290_d0b5),
            (256, 2, 0xcfbd_c505_50f3_af6b),
            (256, 3, 0xd088_57f8_bb2b_6559),
            (256, 50, 0x0bec_c7bd_eb03_6759),
            (1000, 2, 0x9002_33a5_0b7f_2bd5),
            (1000, 3, 0x41ad_e1ed_b408_e2b5),
            (1000, 50, 0x6f7a_1213_2443_16c3),
            (5000, 2, 0x23d2_52ee_9683_ff01),
            (5000, 3, 0x8de9_605a_b7e3_f249),
            (5000, 50, 0x0ca1_f676_5ab7_3581),
        ];
        for (n, distinct, want) in GO {
            let mut v = keys(n, distinct, &mut 12345);
            sort_func(&mut v, |a, b| b.0.cmp(&a.0));
            assert_eq!(fnv(&v), want, "n={n} distinct={distinct}");
        }
    }
}
