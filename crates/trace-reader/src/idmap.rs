//! Maps keyed by trace ids: a vector for small, dense ids and a hash map for
//! the rest.
//!
//! Goroutine, proc, string and stack ids are usually small and dense, so most
//! lookups index a vector. The dense part only grows while it stays
//! proportional to the number of entries, so hostile ids cannot make it
//! allocate more than a constant factor of what the trace holds.

use hashbrown::HashMap;

/// Entries below this id may always live in the dense part.
const DENSE_SLACK: u64 = 1024;

/// A map from `u64` ids to `V`.
#[derive(Debug, Clone)]
pub(crate) struct IdMap<V> {
    dense: Vec<Option<V>>,
    sparse: HashMap<u64, V>,
    len: usize,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        Self {
            dense: Vec::new(),
            sparse: HashMap::new(),
            len: 0,
        }
    }
}

impl<V> IdMap<V> {
    #[inline]
    pub(crate) fn get(&self, id: u64) -> Option<&V> {
        match self.dense.get(id as usize) {
            Some(slot) if (id as usize as u64) == id => slot.as_ref(),
            _ if self.sparse.is_empty() => None,
            _ => self.sparse.get(&id),
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut V> {
        match self.dense.get_mut(id as usize) {
            Some(slot) if (id as usize as u64) == id => slot.as_mut(),
            _ if self.sparse.is_empty() => None,
            _ => self.sparse.get_mut(&id),
        }
    }

    #[inline]
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.get(id).is_some()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The ids present, in no particular order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.dense
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some())
            .map(|(i, _)| i as u64)
            .chain(self.sparse.keys().copied())
    }

    /// The value under `id`, inserting `make()` first if there is none.
    #[inline]
    pub(crate) fn get_or_insert_with(&mut self, id: u64, make: impl FnOnce() -> V) -> &mut V {
        if !self.contains(id) {
            self.insert(id, make());
        }
        self.get_mut(id).expect("just inserted")
    }

    /// Inserts `value` under `id`, returning the previous value.
    pub(crate) fn insert(&mut self, id: u64, value: V) -> Option<V> {
        if id < self.dense.len() as u64 {
            let old = self.dense[id as usize].replace(value);
            self.len += usize::from(old.is_none());
            return old;
        }
        let limit = 2 * self.len as u64 + DENSE_SLACK;
        if id < limit {
            self.grow_dense(id, limit);
            self.dense[id as usize] = Some(value);
            self.len += 1;
            return None;
        }
        let old = self.sparse.insert(id, value);
        self.len += usize::from(old.is_none());
        old
    }

    /// Grows the dense part so that it covers `id` (< `limit`) and moves the
    /// sparse entries it now covers.
    fn grow_dense(&mut self, id: u64, limit: u64) {
        let want = (id + 1).max(2 * self.dense.len() as u64).min(limit) as usize;
        self.dense.resize_with(want, || None);
        if !self.sparse.is_empty() {
            let moved: Vec<u64> = self
                .sparse
                .keys()
                .copied()
                .filter(|&k| k < want as u64)
                .collect();
            for k in moved {
                if let Some(v) = self.sparse.remove(&k) {
                    self.dense[k as usize] = Some(v);
                }
            }
        }
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<V> {
        let old = match self.dense.get_mut(id as usize) {
            Some(slot) if (id as usize as u64) == id => slot.take(),
            _ => self.sparse.remove(&id),
        };
        self.len -= usize::from(old.is_some());
        old
    }

    /// All entries, in ascending id order.
    pub(crate) fn sorted(&self) -> Vec<(u64, &V)> {
        let mut res: Vec<(u64, &V)> = self
            .dense
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref().map(|v| (i as u64, v)))
            .collect();
        let mut sparse: Vec<(u64, &V)> = self.sparse.iter().map(|(&k, v)| (k, v)).collect();
        sparse.sort_unstable_by_key(|&(k, _)| k);
        res.extend(sparse);
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse() {
        let mut m = IdMap::default();
        assert_eq!(m.insert(5, 'a'), None);
        assert_eq!(m.insert(1 << 40, 'b'), None);
        assert_eq!(m.insert(u64::MAX, 'c'), None);
        assert_eq!(m.insert(5, 'd'), Some('a'));
        assert_eq!(m.len(), 3);
        assert_eq!(m.get(5), Some(&'d'));
        assert_eq!(m.get(1 << 40), Some(&'b'));
        assert_eq!(m.get(u64::MAX), Some(&'c'));
        assert_eq!(m.get(6), None);
        assert_eq!(m.remove(1 << 40), Some('b'));
        assert_eq!(m.get(1 << 40), None);
        assert_eq!(m.len(), 2);
        let ids: Vec<u64> = m.sorted().into_iter().map(|(k, _)| k).collect();
        assert_eq!(ids, [5, u64::MAX]);
    }

    #[test]
    fn sparse_entries_move_when_dense_grows() {
        let mut m = IdMap::default();
        m.insert(5000, 1);
        for i in 0..4500 {
            m.insert(i, 0);
        }
        assert!(m.dense.len() > 5000);
        assert_eq!(m.get(5000), Some(&1));
        assert_eq!(m.len(), 4501);
        assert!(m.sparse.is_empty());
    }
}
