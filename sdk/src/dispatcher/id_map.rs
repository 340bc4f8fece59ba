//! A map from small ordered keys (context ids, callout tokens) to values,
//! kept as a vector sorted by key.
//!
//! A plugin holds a handful of entries (its root contexts, the streams in
//! flight, their pending callouts), inserted mostly in increasing key order
//! because hosts count ids and tokens up. A sorted vector serves that with a
//! binary search and an append, in a fraction of the code of a `BTreeMap`
//! (whose node balancing is monomorphised for every key and value type), and
//! an empty map allocates nothing.

use alloc::vec::Vec;

/// Entries sorted by key, each key once.
pub(crate) struct IdMap<K, V>(Vec<(K, V)>);

impl<K: Ord + Copy, V> IdMap<K, V> {
    pub(crate) const fn new() -> IdMap<K, V> {
        IdMap(Vec::new())
    }

    fn find(&self, key: &K) -> Result<usize, usize> {
        // Ids grow, so the newest entry is the likeliest hit and insertion point.
        match self.0.last() {
            Some((last, _)) if last < key => Err(self.0.len()),
            _ => self.0.binary_search_by(|(k, _)| k.cmp(key)),
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.find(key).ok().and_then(|i| self.0.get(i)).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.find(key).ok().and_then(|i| self.0.get_mut(i)).map(|(_, v)| v)
    }

    /// Inserts or replaces; returns the value replaced.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => self.0.get_mut(i).map(|(_, v)| core::mem::replace(v, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Removes every entry whose value matches, returning their values (no
    /// allocation when none does).
    pub(crate) fn remove_where(&mut self, mut matches: impl FnMut(&V) -> bool) -> Vec<V> {
        if !self.0.iter().any(|(_, v)| matches(v)) {
            return Vec::new();
        }
        let (gone, kept): (Vec<_>, Vec<_>) = core::mem::take(&mut self.0).into_iter().partition(|(_, v)| matches(v));
        self.0 = kept;
        gone.into_iter().map(|(_, v)| v).collect()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_keys_sorted_whatever_the_insertion_order() {
        let mut map = IdMap::new();
        for key in [5u32, 1, 9, 3, 7, 2] {
            assert_eq!(map.insert(key, key * 10), None);
        }
        assert_eq!(map.0.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 2, 3, 5, 7, 9]);
        assert_eq!(map.insert(3, 33), Some(30));
        assert_eq!(map.get(&3), Some(&33));
        assert_eq!(map.get(&4), None);
        *map.get_mut(&9).unwrap() += 1;
        assert_eq!(map.get(&9), Some(&91));
        assert_eq!(map.remove(&1), Some(10));
        assert_eq!(map.remove(&1), None);
        assert_eq!(map.len(), 5);
    }

    #[test]
    fn counting_up_appends_and_finds_the_newest_first() {
        let mut map = IdMap::new();
        for key in 1u32..=1000 {
            map.insert(key, ());
        }
        assert_eq!(map.len(), 1000);
        assert!((1..=1000).all(|k| map.get(&k).is_some()));
        assert!(map.get(&0).is_none() && map.get(&1001).is_none());
    }

    #[test]
    fn remove_where_takes_the_matching_values_in_key_order() {
        let mut map = IdMap::new();
        for (key, target) in [(4u32, 'a'), (1, 'b'), (3, 'a'), (2, 'c')] {
            map.insert(key, target);
        }
        assert!(map.remove_where(|t| *t == 'z').is_empty());
        assert_eq!(map.remove_where(|t| *t == 'a'), ['a', 'a']);
        assert_eq!(map.values().copied().collect::<Vec<_>>(), ['b', 'c']);
    }
}
