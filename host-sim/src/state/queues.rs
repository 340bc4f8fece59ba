//! Shared queues (cpp-host `SharedQueue`): named per `vm_id`, owned by the root
//! context that registered them last (cpp-host's `registerQueue` keeps the
//! token and the items but rebinds the queue to each new registrant);
//! enqueueing reports the owner so the host can deliver
//! `proxy_on_queue_ready` after the current guest call.

use std::collections::{HashMap, VecDeque};

use crate::types::Status;

/// The root context that receives a queue's `on_queue_ready`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QueueOwner {
    /// Index of the VM in the host.
    pub vm: usize,
    /// Root context id in that VM.
    pub root_id: u32,
}

#[derive(Debug)]
struct Queue {
    vm_id: String,
    name: String,
    owner: QueueOwner,
    items: VecDeque<Vec<u8>>,
    /// The bytes of the items.
    bytes: usize,
}

/// What the queues of one `vm_id` hold together: the bounds on queues are
/// totals per `vm_id` (Envoy keys queues by `vm_id`), so a guest cannot
/// multiply them by registering more queues.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// Queues registered.
    pub queues: usize,
    /// Items waiting in them.
    pub items: usize,
    /// Bytes of their names and of the items waiting.
    pub bytes: usize,
}

/// All queues of a host.
#[derive(Debug, Default)]
pub struct Queues {
    queues: HashMap<u32, Queue>,
    by_name: HashMap<(String, String), u32>,
    /// What each `vm_id`'s queues hold.
    held: HashMap<String, Held>,
    next_token: u32,
}

impl Queues {
    /// Registers `name` in `vm_id`, owned by `owner`; re-registering keeps
    /// the token and the items and makes `owner` the new owner, as cpp-host does.
    pub fn register(&mut self, vm_id: &str, name: &str, owner: QueueOwner) -> u32 {
        if let Some(&token) = self.by_name.get(&(vm_id.to_owned(), name.to_owned())) {
            if let Some(q) = self.queues.get_mut(&token) {
                q.owner = owner;
            }
            return token;
        }
        self.next_token += 1;
        let token = self.next_token;
        let held = self.held.entry(vm_id.to_owned()).or_default();
        held.queues += 1;
        held.bytes += name.len();
        self.by_name.insert((vm_id.to_owned(), name.to_owned()), token);
        self.queues.insert(
            token,
            Queue { vm_id: vm_id.to_owned(), name: name.to_owned(), owner, items: VecDeque::new(), bytes: 0 },
        );
        token
    }

    /// Finds an existing queue.
    pub fn resolve(&self, vm_id: &str, name: &str) -> Result<u32, Status> {
        self.by_name.get(&(vm_id.to_owned(), name.to_owned())).copied().ok_or(Status::NotFound)
    }

    /// Appends an item and returns the owner to notify.
    pub fn enqueue(&mut self, token: u32, value: &[u8]) -> Result<QueueOwner, Status> {
        let q = self.queues.get_mut(&token).ok_or(Status::NotFound)?;
        q.items.push_back(value.to_vec());
        q.bytes += value.len();
        let held = self.held.entry(q.vm_id.clone()).or_default();
        held.items += 1;
        held.bytes += value.len();
        Ok(q.owner)
    }

    /// Pops the oldest item.
    pub fn dequeue(&mut self, token: u32) -> Result<Vec<u8>, Status> {
        let q = self.queues.get_mut(&token).ok_or(Status::NotFound)?;
        let item = q.items.pop_front().ok_or(Status::Empty)?;
        q.bytes -= item.len();
        if let Some(held) = self.held.get_mut(&q.vm_id) {
            held.items -= 1;
            held.bytes -= item.len();
        }
        Ok(item)
    }

    /// The items waiting in a queue and their bytes.
    pub fn usage(&self, token: u32) -> Result<(usize, usize), Status> {
        self.queues.get(&token).map(|q| (q.items.len(), q.bytes)).ok_or(Status::NotFound)
    }

    /// What `vm_id`'s queues hold together.
    pub fn held(&self, vm_id: &str) -> Held {
        self.held.get(vm_id).copied().unwrap_or_default()
    }

    /// The items of a queue, oldest first.
    pub fn items(&self, vm_id: &str, name: &str) -> Option<Vec<Vec<u8>>> {
        let token = self.resolve(vm_id, name).ok()?;
        self.queues.get(&token).map(|q| q.items.iter().cloned().collect())
    }

    /// `(vm_id, name)` of a queue token.
    pub fn name_of(&self, token: u32) -> Option<(&str, &str)> {
        self.queues.get(&token).map(|q| (q.vm_id.as_str(), q.name.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: QueueOwner = QueueOwner { vm: 0, root_id: 1 };

    #[test]
    fn register_resolve_enqueue_dequeue() {
        let mut q = Queues::default();
        let t = q.register("vm", "jobs", OWNER);
        assert_ne!(t, 0);
        assert_eq!(q.register("vm", "jobs", OWNER), t);
        assert_eq!(q.resolve("vm", "jobs"), Ok(t));
        assert_eq!(q.resolve("other", "jobs"), Err(Status::NotFound));
        assert_eq!(q.dequeue(t), Err(Status::Empty));
        assert_eq!(q.enqueue(t, b"a"), Ok(OWNER));
        q.enqueue(t, b"b").unwrap();
        assert_eq!(q.items("vm", "jobs").unwrap(), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(q.usage(t), Ok((2, 2)));
        assert_eq!(q.dequeue(t), Ok(b"a".to_vec()));
        assert_eq!(q.usage(t), Ok((1, 1)));
        assert_eq!(q.held("vm"), Held { queues: 1, items: 1, bytes: "jobs".len() + 1 });
        assert_eq!(q.enqueue(99, b"x"), Err(Status::NotFound));
        assert_eq!(q.dequeue(99), Err(Status::NotFound));
        assert_eq!(q.name_of(t), Some(("vm", "jobs")));
    }

    #[test]
    fn re_registering_keeps_the_items_and_moves_the_owner() {
        let mut q = Queues::default();
        let t = q.register("vm", "jobs", OWNER);
        q.enqueue(t, b"kept").unwrap();
        let other = QueueOwner { vm: 1, root_id: 7 };
        assert_eq!(q.register("vm", "jobs", other), t);
        assert_eq!(q.items("vm", "jobs").unwrap(), vec![b"kept".to_vec()]);
        assert_eq!(q.enqueue(t, b"next"), Ok(other), "the latest registrant gets on_queue_ready");
    }

    #[test]
    fn what_a_vm_ids_queues_hold_is_totalled_with_their_names() {
        let mut q = Queues::default();
        let a = q.register("vm", "a", OWNER);
        let bc = q.register("vm", "bc", OWNER);
        let other = q.register("other", "a", OWNER);
        assert_eq!(q.register("vm", "a", OWNER), a, "re-registering adds nothing");
        q.enqueue(a, b"123").unwrap();
        q.enqueue(bc, b"45").unwrap();
        q.enqueue(other, b"6").unwrap();
        assert_eq!(q.held("vm"), Held { queues: 2, items: 2, bytes: 3 + 5 });
        assert_eq!(q.held("other"), Held { queues: 1, items: 1, bytes: 2 });
        q.dequeue(a).unwrap();
        assert_eq!(q.held("vm"), Held { queues: 2, items: 1, bytes: 3 + 2 });
        assert_eq!(q.held("none"), Held::default());
    }
}
