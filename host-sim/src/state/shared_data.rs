//! Shared key/value data with compare-and-swap, one namespace per `vm_id`
//! (cpp-host `SharedData`).

use std::collections::HashMap;

use crate::types::Status;

/// One `vm_id`'s keys with their values and CAS.
type Namespace = HashMap<Vec<u8>, (Vec<u8>, u32)>;

/// All shared data of a host, keyed by `vm_id` then key.
#[derive(Debug, Default)]
pub struct SharedData {
    namespaces: HashMap<String, Namespace>,
    /// Bytes (keys and values) per namespace.
    sizes: HashMap<String, usize>,
    next_cas: u32,
    /// Writes of other workers that land just before the next
    /// compare-and-swap write of their key: `(vm_id, key)` to the value.
    races: HashMap<(String, Vec<u8>), Vec<u8>>,
}

impl SharedData {
    /// The value and CAS of `key` in `vm_id`'s namespace.
    pub fn get(&self, vm_id: &str, key: &[u8]) -> Result<(&[u8], u32), Status> {
        self.namespaces
            .get(vm_id)
            .and_then(|ns| ns.get(key))
            .map(|(v, cas)| (v.as_slice(), *cas))
            .ok_or(Status::NotFound)
    }

    /// Sets `key`; a non-zero `cas` must match the current CAS of an existing
    /// key. A race set for the key lands first (and the CAS no longer matches).
    pub fn set(&mut self, vm_id: &str, key: &[u8], value: &[u8], cas: u32) -> Result<(), Status> {
        if cas != 0
            && let Some(other) = self.races.remove(&(vm_id.to_owned(), key.to_vec()))
        {
            self.set(vm_id, key, &other, 0)?;
        }
        let next = self.bump();
        let ns = self.namespaces.entry(vm_id.to_owned()).or_default();
        let size = self.sizes.entry(vm_id.to_owned()).or_default();
        match ns.get_mut(key) {
            Some(entry) => {
                if cas != 0 && cas != entry.1 {
                    return Err(Status::CasMismatch);
                }
                *size = *size - entry.0.len() + value.len();
                *entry = (value.to_vec(), next);
            }
            None => {
                *size += key.len() + value.len();
                ns.insert(key.to_vec(), (value.to_vec(), next));
            }
        }
        Ok(())
    }

    /// The bytes (keys and values) of `vm_id`'s namespace.
    pub fn bytes(&self, vm_id: &str) -> usize {
        self.sizes.get(vm_id).copied().unwrap_or(0)
    }

    /// The bytes of `vm_id`'s namespace after setting `key` to a value of
    /// `value_len` bytes.
    pub fn bytes_after_set(&self, vm_id: &str, key: &[u8], value_len: usize) -> usize {
        let current = self.bytes(vm_id);
        match self.namespaces.get(vm_id).and_then(|ns| ns.get(key)) {
            Some((old, _)) => current - old.len() + value_len,
            None => current + key.len() + value_len,
        }
    }

    /// Another worker writes `value` to `key` between a plugin's read and
    /// its next compare-and-swap write of the key, which then fails with
    /// `CasMismatch` (as under contention in Envoy, where workers share the
    /// data); a plain write (CAS 0) does not take the race.
    pub fn race(&mut self, vm_id: &str, key: &[u8], value: &[u8]) {
        self.races.insert((vm_id.to_owned(), key.to_vec()), value.to_vec());
    }

    fn bump(&mut self) -> u32 {
        self.next_cas = self.next_cas.wrapping_add(1).max(1);
        self.next_cas
    }

    /// Every key of a namespace, sorted, for inspection.
    pub fn keys(&self, vm_id: &str) -> Vec<Vec<u8>> {
        let mut keys: Vec<_> = self.namespaces.get(vm_id).map(|ns| ns.keys().cloned().collect()).unwrap_or_default();
        keys.sort();
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_race_lands_before_the_next_cas_write_only() {
        let mut d = SharedData::default();
        d.set("vm", b"k", b"1", 0).unwrap();
        d.race("vm", b"k", b"41");
        d.set("vm", b"k", b"2", 0).unwrap();
        let (_, cas) = d.get("vm", b"k").unwrap();
        assert_eq!(d.set("vm", b"k", b"3", cas), Err(Status::CasMismatch));
        let (value, cas) = d.get("vm", b"k").unwrap();
        assert_eq!(value, b"41");
        d.set("vm", b"k", b"42", cas).unwrap();
        assert_eq!(d.get("vm", b"k").unwrap().0, b"42");
    }

    #[test]
    fn cas_rules() {
        let mut d = SharedData::default();
        assert_eq!(d.get("vm", b"k"), Err(Status::NotFound));
        d.set("vm", b"k", b"1", 0).unwrap();
        let (v, cas) = d.get("vm", b"k").unwrap();
        assert_eq!(v, b"1");
        assert_eq!(d.set("vm", b"k", b"2", cas + 1), Err(Status::CasMismatch));
        d.set("vm", b"k", b"2", cas).unwrap();
        let (v, cas2) = d.get("vm", b"k").unwrap();
        assert_eq!((v, cas2 != cas), (&b"2"[..], true));
        d.set("vm", b"k", b"3", 0).unwrap();
        assert_eq!(d.get("vm", b"k").unwrap().0, b"3");
        assert_eq!(d.bytes("vm"), 2);
        assert_eq!(d.bytes_after_set("vm", b"k", 5), 6);
        assert_eq!(d.bytes_after_set("vm", b"other", 5), 12);
    }

    #[test]
    fn namespaces_are_per_vm_id() {
        let mut d = SharedData::default();
        d.set("a", b"k", b"1", 0).unwrap();
        assert_eq!(d.get("b", b"k"), Err(Status::NotFound));
        assert_eq!(d.keys("a"), vec![b"k".to_vec()]);
    }
}
