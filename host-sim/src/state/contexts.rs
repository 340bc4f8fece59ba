//! The context table of one VM: ids from one counter (0 is the VM context),
//! each context's kind, its root, and where it is in its lifecycle.

use super::ids::IdMap;

use crate::types::Status;

/// What a context is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextKind {
    /// A plugin (root) context.
    Root,
    /// An HTTP stream context.
    Http,
    /// A TCP stream context.
    Tcp,
}

/// Where a context is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Created and in use.
    Live,
    /// `proxy_on_done` returned false: waiting for the plugin's `proxy_done`.
    AwaitingDone,
    /// `proxy_done` was called: `on_delete` follows after the current guest call.
    PendingDelete,
}

/// One context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContextEntry {
    /// Its kind.
    pub kind: ContextKind,
    /// Its root context (itself for a root).
    pub root_id: u32,
    /// Its lifecycle state.
    pub lifecycle: Lifecycle,
}

/// The live contexts of a VM.
#[derive(Clone, Debug)]
pub struct Contexts {
    next_id: u32,
    entries: IdMap<ContextEntry>,
}

impl Default for Contexts {
    fn default() -> Contexts {
        Contexts { next_id: 1, entries: IdMap::default() }
    }
}

impl Contexts {
    /// How many stream contexts (HTTP or TCP) of root `root` are alive.
    pub fn streams_of(&self, root: u32) -> usize {
        self.entries.values().filter(|e| e.kind != ContextKind::Root && e.root_id == root).count()
    }

    /// Allocates the next id (never 0, never a live id).
    pub fn create(&mut self, kind: ContextKind, root_id: Option<u32>) -> u32 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1).max(1);
            if let std::collections::hash_map::Entry::Vacant(slot) = self.entries.entry(id) {
                slot.insert(ContextEntry { kind, root_id: root_id.unwrap_or(id), lifecycle: Lifecycle::Live });
                return id;
            }
        }
    }

    /// A context by id.
    pub fn get(&self, id: u32) -> Option<&ContextEntry> {
        self.entries.get(&id)
    }

    /// The root of a context.
    pub fn root_of(&self, id: u32) -> Option<u32> {
        self.entries.get(&id).map(|e| e.root_id)
    }

    /// Marks that `on_done` returned false.
    pub fn await_done(&mut self, id: u32) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.lifecycle = Lifecycle::AwaitingDone;
        }
    }

    /// `proxy_done`: only a context awaiting it may call it (else `NotFound`).
    pub fn done(&mut self, id: u32) -> Result<(), Status> {
        match self.entries.get_mut(&id) {
            Some(e) if e.lifecycle == Lifecycle::AwaitingDone => {
                e.lifecycle = Lifecycle::PendingDelete;
                Ok(())
            }
            _ => Err(Status::NotFound),
        }
    }

    /// Forgets a context.
    pub fn remove(&mut self, id: u32) -> Option<ContextEntry> {
        self.entries.remove(&id)
    }

    /// Number of live contexts.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_one_counter() {
        let mut c = Contexts::default();
        let root = c.create(ContextKind::Root, None);
        let stream = c.create(ContextKind::Http, Some(root));
        let tcp = c.create(ContextKind::Tcp, Some(root));
        assert_eq!((root, stream, tcp), (1, 2, 3));
        assert_eq!(c.root_of(stream), Some(root));
        assert_eq!(c.root_of(root), Some(root));
        c.remove(stream);
        assert_eq!(c.create(ContextKind::Http, Some(root)), 4);
    }

    #[test]
    fn done_only_when_awaited() {
        let mut c = Contexts::default();
        let root = c.create(ContextKind::Root, None);
        assert_eq!(c.done(root), Err(Status::NotFound));
        c.await_done(root);
        c.done(root).unwrap();
        assert_eq!(c.get(root).unwrap().lifecycle, Lifecycle::PendingDelete);
        assert_eq!(c.done(root), Err(Status::NotFound));
        assert_eq!(c.done(42), Err(Status::NotFound));
    }
}
