//! Interning of the few distinct strings an analysis keys on (block
//! reasons, range names, region types, goroutine names), so that the hot
//! path compares small integers and allocates each string once.

use std::sync::Arc;

use hashbrown::HashMap;

/// An interned string: an index into its [`Interner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Sym(u32);

impl Sym {
    /// The empty string, always interned first.
    pub(crate) const EMPTY: Sym = Sym(0);
}

/// A set of strings, each stored once as an `Arc<str>` (invalid UTF-8 is
/// replaced, as Go's `string` conversion would keep the bytes but every
/// consumer here prints text).
#[derive(Debug)]
pub(crate) struct Interner {
    ids: HashMap<Box<[u8]>, Sym>,
    strs: Vec<Arc<str>>,
}

impl Default for Interner {
    fn default() -> Self {
        let mut i = Interner {
            ids: HashMap::new(),
            strs: Vec::new(),
        };
        i.intern(b"");
        i
    }
}

impl Interner {
    /// The symbol of `bytes`, interning it on first sight.
    pub(crate) fn intern(&mut self, bytes: &[u8]) -> Sym {
        if let Some(&s) = self.ids.get(bytes) {
            return s;
        }
        let s = Sym(u32::try_from(self.strs.len()).expect("fewer than 2^32 distinct strings"));
        self.strs.push(String::from_utf8_lossy(bytes).into());
        self.ids.insert(bytes.into(), s);
        s
    }

    /// The string of `s`.
    pub(crate) fn get(&self, s: Sym) -> &Arc<str> {
        &self.strs[s.0 as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once() {
        let mut i = Interner::default();
        assert_eq!(i.intern(b""), Sym::EMPTY);
        let a = i.intern(b"chan receive");
        let b = i.intern(b"sync");
        assert_ne!(a, b);
        assert_eq!(i.intern(b"chan receive"), a);
        assert_eq!(&**i.get(b), "sync");
        let bad = i.intern(b"\xff");
        assert_eq!(&**i.get(bad), "\u{fffd}");
    }
}
