//! A map kept as a vector sorted by key: binary search to find, a move of
//! the tail to insert or remove. The caches here hold at most a few thousand
//! entries, where this is as fast as a `BTreeMap` and its code is a small
//! fraction of one (the three `BTreeMap`s these caches used were a fifth of
//! the plugin).

use alloc::vec::Vec;
use core::borrow::Borrow;

/// Keys in order, each with its value.
#[derive(Debug, Clone)]
pub struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap { entries: Vec::new() }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        SortedMap::default()
    }

    /// How many entries it has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value of `key`, to change.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    /// Sets `key` to `value`, returning the value it had.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(core::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// Removes the entry with the smallest key.
    pub fn pop_first(&mut self) -> Option<(K, V)> {
        (!self.entries.is_empty()).then(|| self.entries.remove(0))
    }

    /// The values, in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;

    use super::SortedMap;

    #[test]
    fn behaves_like_a_btree_map() {
        let mut ours = SortedMap::new();
        let mut std = BTreeMap::new();
        let mut x = 7u32;
        for _ in 0..2000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let key = (x >> 16) % 97;
            match x % 4 {
                0 => assert_eq!(ours.remove(&key), std.remove(&key)),
                1 => assert_eq!(ours.pop_first(), std.pop_first()),
                2 => assert_eq!(ours.get(&key), std.get(&key)),
                _ => assert_eq!(ours.insert(key, x), std.insert(key, x)),
            }
            assert_eq!(ours.len(), std.len());
            assert!(ours.values().eq(std.values()));
        }
        if let Some(v) = ours.get_mut(&std.keys().next().copied().unwrap_or(0)) {
            *v = 0;
        }
        assert_eq!(ours.is_empty(), std.is_empty());
    }
}
