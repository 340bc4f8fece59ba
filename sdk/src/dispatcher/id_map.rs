//! A map from small ordered keys (context ids, callout tokens) to values,
//! kept as a vector sorted by key.
//!
//! A plugin holds its root contexts, the streams in flight and their pending
//! callouts. Hosts count ids and tokens up, so entries arrive in increasing
//! key order: a sorted vector serves that with a binary search and an
//! append, in a fraction of the code of a `BTreeMap` (whose node balancing
//! is monomorphised for every key and value type), and an empty map
//! allocates nothing. Streams end in any order, mostly oldest first, so a
//! removal leaves a vacant slot instead of shifting what follows; vacant
//! slots are swept out once they are the majority, which keeps removal
//! amortised O(1) however many streams are in flight.

use alloc::vec::Vec;

/// Entries sorted by key, each key once; `None` marks a vacant slot.
pub(crate) struct IdMap<K, V> {
    slots: Vec<(K, Option<V>)>,
    vacant: usize,
}

impl<K: Ord + Copy, V> IdMap<K, V> {
    pub(crate) const fn new() -> IdMap<K, V> {
        IdMap { slots: Vec::new(), vacant: 0 }
    }

    fn find(&self, key: &K) -> Result<usize, usize> {
        // Ids grow, so the newest entry is the likeliest hit and insertion point.
        match self.slots.last() {
            Some((last, _)) if last < key => Err(self.slots.len()),
            Some((last, _)) if last == key => Ok(self.slots.len() - 1),
            _ => self.slots.binary_search_by(|(k, _)| k.cmp(key)),
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.find(key).ok().and_then(|i| self.slots.get(i)).and_then(|(_, v)| v.as_ref())
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.find(key).ok().and_then(|i| self.slots.get_mut(i)).and_then(|(_, v)| v.as_mut())
    }

    /// Inserts or replaces; returns the value replaced.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => {
                let old = self.slots.get_mut(i).and_then(|(_, v)| v.replace(value));
                if old.is_none() {
                    self.vacant -= 1;
                }
                old
            }
            Err(i) => {
                self.slots.insert(i, (key, Some(value)));
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.find(key).ok()?;
        let value = self.slots.get_mut(i).and_then(|(_, v)| v.take())?;
        self.vacate(1);
        Some(value)
    }

    /// Removes every entry whose value matches, returning their values (no
    /// allocation when none does).
    pub(crate) fn remove_where(&mut self, mut matches: impl FnMut(&V) -> bool) -> Vec<V> {
        let mut gone = Vec::new();
        for (_, slot) in &mut self.slots {
            if slot.as_ref().is_some_and(&mut matches) {
                gone.extend(slot.take());
            }
        }
        self.vacate(gone.len());
        gone
    }

    /// Counts `n` more vacant slots, and sweeps them out once they are the majority.
    fn vacate(&mut self, n: usize) {
        self.vacant += n;
        if self.vacant > 8 && self.vacant * 2 > self.slots.len() {
            self.slots.retain(|(_, v)| v.is_some());
            self.vacant = 0;
        }
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().filter_map(|(_, v)| v.as_ref())
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.vacant
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
        assert_eq!(map.slots.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 2, 3, 5, 7, 9]);
        assert_eq!(map.insert(3, 33), Some(30));
        assert_eq!(map.get(&3), Some(&33));
        assert_eq!(map.get(&4), None);
        *map.get_mut(&9).unwrap() += 1;
        assert_eq!(map.get(&9), Some(&91));
        assert_eq!(map.remove(&1), Some(10));
        assert_eq!(map.remove(&1), None);
        assert_eq!(map.get(&1), None);
        assert_eq!(map.len(), 5);
        // A removed key can come back.
        assert_eq!(map.insert(1, 11), None);
        assert_eq!((map.get(&1), map.len()), (Some(&11), 6));
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
    fn streams_ending_oldest_first_leave_no_pile_of_vacant_slots() {
        let mut map = IdMap::new();
        // 1,000 streams in flight; each new one arrives as the oldest ends.
        for key in 1u32..=1000 {
            map.insert(key, key);
        }
        for key in 1001u32..=100_000 {
            assert_eq!(map.remove(&(key - 1000)), Some(key - 1000));
            map.insert(key, key);
            assert_eq!(map.len(), 1000);
        }
        assert!(map.slots.len() <= 2001, "{} slots for 1000 entries", map.slots.len());
        assert_eq!(map.values().copied().min(), Some(99_001));
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
        assert_eq!(map.len(), 2);
    }
}
