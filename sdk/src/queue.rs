//! Shared queues between plugin instances and VMs. A root context is told
//! of new items by [`RootContext::on_queue_ready`](crate::RootContext::on_queue_ready).

use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::ffi;
use crate::types::Status;

/// A shared queue, by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SharedQueue(u32);

impl SharedQueue {
    /// Creates (or opens) the queue `name` of this VM; the calling root
    /// context is notified of its items.
    pub fn register(name: impl AsRef<[u8]>) -> Result<SharedQueue> {
        ffi::register_shared_queue(name.as_ref()).map(SharedQueue)
    }

    /// Finds the existing queue `name` of VM `vm_id`, or `None`.
    pub fn resolve(vm_id: impl AsRef<[u8]>, name: impl AsRef<[u8]>) -> Result<Option<SharedQueue>> {
        match ffi::resolve_shared_queue(vm_id.as_ref(), name.as_ref()) {
            Ok(id) => Ok(Some(SharedQueue(id))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The queue with this id (as passed to `on_queue_ready`).
    pub const fn from_id(id: u32) -> SharedQueue {
        SharedQueue(id)
    }

    /// The id.
    pub const fn id(self) -> u32 {
        self.0
    }

    /// Appends an item.
    pub fn enqueue(self, value: impl AsRef<[u8]>) -> Result<()> {
        ffi::enqueue_shared_queue(self.0, value.as_ref())
    }

    /// Takes the oldest item, or `None` if the queue is empty.
    pub fn dequeue(self) -> Result<Option<Vec<u8>>> {
        match ffi::dequeue_shared_queue(self.0) {
            Ok(value) => Ok(Some(value)),
            Err(Error::Status(Status::Empty)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
