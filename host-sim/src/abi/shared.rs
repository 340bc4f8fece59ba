//! Shared data and shared queues: `proxy_set_shared_data`,
//! `proxy_get_shared_data`, `proxy_register_shared_queue`,
//! `proxy_resolve_shared_queue`, `proxy_enqueue_shared_queue`,
//! `proxy_dequeue_shared_queue`. Enqueueing only records the
//! `on_queue_ready` notification; the host delivers it after the call.
//!
//! The bounds are totals per `vm_id`, as Envoy keys shared data and queues:
//! `shared_data_bytes` (keys and values), `queues`, and `queue_items` and
//! `queue_bytes` over all the `vm_id`'s queues (their names and the items
//! waiting), checked with the limits of the VM that calls. The
//! notifications one guest call leaves waiting are bounded by
//! `deliveries_per_step`, which their delivery would exceed anyway; the
//! count is what the call itself enqueued, not what other calls left
//! waiting before it (the host's list holds every VM's: one round of
//! deliveries runs several VMs' `on_queue_ready` before the next).

use wasmtime::Caller;

use super::memory::{self, HostResult};
use crate::limits::Limit;
use crate::state::queues::QueueOwner;
use crate::store::VmState;
use crate::types::Status;

pub(super) fn set_shared_data(
    caller: &mut Caller<'_, VmState>,
    key: u32,
    key_len: u32,
    value: u32,
    value_len: u32,
    cas: u32,
) -> HostResult {
    memory::with_memory(caller, |data, state| {
        let key = memory::slice(data, key, key_len)?;
        let value = memory::slice(data, value, value_len)?;
        let mut world = state.world();
        let bytes = world.shared_data.bytes_after_set(&state.vm_id, key, value.len());
        if let Err(exceeded) = state.caps.check(Limit::SharedDataBytes, bytes, || {
            format!(
                "proxy_set_shared_data of {} bytes would make vm_id `{}`'s shared data {bytes} bytes",
                value.len(),
                state.vm_id
            )
        }) {
            return Ok(Err(exceeded));
        }
        world.shared_data.set(&state.vm_id, key, value, cas).map(Ok)
    })??;
    Ok(())
}

pub(super) fn get_shared_data(
    caller: &mut Caller<'_, VmState>,
    key: u32,
    key_len: u32,
    ptr_ptr: u32,
    size_ptr: u32,
    cas_ptr: u32,
) -> HostResult {
    memory::check(caller, cas_ptr, 4)?;
    let (value, cas) = memory::with_memory(caller, |data, state| {
        let key = memory::slice(data, key, key_len)?;
        let world = state.world();
        let (value, cas) = world.shared_data.get(&state.vm_id, key)?;
        Ok((value.to_vec(), cas))
    })?;
    memory::return_bytes(caller, &value, ptr_ptr, size_ptr)?;
    Ok(memory::write_u32(caller, cas_ptr, cas)?)
}

pub(super) fn register_shared_queue(
    caller: &mut Caller<'_, VmState>,
    name: u32,
    name_len: u32,
    token_ptr: u32,
) -> HostResult {
    memory::check(caller, token_ptr, 4)?;
    let token = memory::with_memory(caller, |data, state| {
        let name = String::from_utf8_lossy(memory::slice(data, name, name_len)?).into_owned();
        let root_id = state.effective_root().ok_or(Status::BadArgument)?;
        let owner = QueueOwner { vm: state.index, root_id };
        let mut world = state.world();
        if world.queues.resolve(&state.vm_id, &name).is_err() {
            let held = world.queues.held(&state.vm_id);
            let bytes = held.bytes + name.len();
            let fits = state
                .caps
                .check(Limit::Queues, held.queues + 1, || {
                    format!("proxy_register_shared_queue of a new queue in vm_id `{}`", state.vm_id)
                })
                .and_then(|()| {
                    state.caps.check(Limit::QueueBytes, bytes, || {
                        format!(
                            "proxy_register_shared_queue of a {}-byte name would make \
                             vm_id `{}`'s queues {bytes} bytes",
                            name.len(),
                            state.vm_id
                        )
                    })
                });
            if let Err(exceeded) = fits {
                return Ok(Err(exceeded));
            }
        }
        Ok(Ok(world.queues.register(&state.vm_id, &name, owner)))
    })??;
    Ok(memory::write_u32(caller, token_ptr, token)?)
}

pub(super) fn resolve_shared_queue(
    caller: &mut Caller<'_, VmState>,
    vm: u32,
    vm_len: u32,
    name: u32,
    name_len: u32,
    token_ptr: u32,
) -> HostResult {
    memory::check(caller, token_ptr, 4)?;
    let token = memory::with_memory(caller, |data, state| {
        let vm_id = String::from_utf8_lossy(memory::slice(data, vm, vm_len)?).into_owned();
        let name = String::from_utf8_lossy(memory::slice(data, name, name_len)?).into_owned();
        let vm_id = if vm_id.is_empty() { state.vm_id.clone() } else { vm_id };
        state.world().queues.resolve(&vm_id, &name)
    })?;
    Ok(memory::write_u32(caller, token_ptr, token)?)
}

pub(super) fn enqueue_shared_queue(
    caller: &mut Caller<'_, VmState>,
    token: u32,
    value: u32,
    value_len: u32,
) -> HostResult {
    memory::with_memory(caller, |data, state| {
        let value = memory::slice(data, value, value_len)?;
        let mut world = state.world();
        let vm_id = world.queues.name_of(token).ok_or(Status::NotFound)?.0.to_owned();
        let held = world.queues.held(&vm_id);
        // Only what this guest call enqueued counts: notifications other
        // calls left (another VM's handler in the same delivery round, say)
        // were waiting before it first enqueued.
        let base = state.queue_ready_base.get().unwrap_or(world.queue_ready.len());
        state.queue_ready_base.set(Some(base));
        let waiting = world.queue_ready.len().saturating_sub(base);
        let bytes = held.bytes + value.len();
        let fits = state
            .caps
            .check(Limit::QueueItems, held.items + 1, || {
                format!("proxy_enqueue_shared_queue would make vm_id `{vm_id}`'s queues hold {} items", held.items + 1)
            })
            .and_then(|()| {
                state.caps.check(Limit::QueueBytes, bytes, || {
                    format!(
                        "proxy_enqueue_shared_queue of {} bytes would make vm_id `{vm_id}`'s queues {bytes} bytes",
                        value.len()
                    )
                })
            })
            .and_then(|()| {
                state.caps.check(Limit::DeliveriesPerStep, waiting + 1, || {
                    format!(
                        "proxy_enqueue_shared_queue with {waiting} queue notifications already waiting \
                         for the guest call to end"
                    )
                })
            });
        if let Err(exceeded) = fits {
            return Ok(Err(exceeded));
        }
        let owner = world.queues.enqueue(token, value)?;
        world.queue_ready.push((owner, token));
        Ok(Ok(()))
    })??;
    Ok(())
}

pub(super) fn dequeue_shared_queue(
    caller: &mut Caller<'_, VmState>,
    token: u32,
    ptr_ptr: u32,
    size_ptr: u32,
) -> HostResult {
    memory::check(caller, ptr_ptr, 4)?;
    memory::check(caller, size_ptr, 4)?;
    let value = caller.data().world().queues.dequeue(token)?;
    memory::return_bytes(caller, &value, ptr_ptr, size_ptr)
}
