//! Properties and foreign functions: `proxy_get_property`,
//! `proxy_set_property`, `proxy_call_foreign_function`.
//!
//! A property path is resolved in this order: values the plugin set on the
//! current stream, the plugin's own attributes (`plugin_name`,
//! `plugin_root_id`, `plugin_vm_id`, plus what the test set for the plugin),
//! the stream's request/response attributes, then the VM's tree.

use wasmtime::{Caller, Linker};

use super::hostcall;
use super::memory::{self, HostResult};
use crate::state::http;
use crate::state::properties::{PropertyTree, Value, split_path};
use crate::types::Status;
use crate::vm::state::VmState;

pub(crate) fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    hostcall!(linker, "proxy_get_property", get_property, (path: u32, path_len: u32, ptr_ptr: u32, size_ptr: u32));
    hostcall!(linker, "proxy_set_property", set_property, (path: u32, path_len: u32, value: u32, value_len: u32));
    hostcall!(linker, "proxy_call_foreign_function", call_foreign, (name: u32, name_len: u32, args: u32, args_len: u32,
        ptr_ptr: u32, size_ptr: u32));
    Ok(())
}

/// Resolves a property for the effective context.
pub(crate) fn resolve(state: &VmState, path: &[String]) -> Result<Vec<u8>, Status> {
    let id = state.effective;
    if let Some(v) = state.stream_properties.get(&id).and_then(|t| t.get(path)) {
        return Ok(v.serialize());
    }
    if let Some(plugin) = state.effective_root().and_then(|r| state.plugins.get(&r)) {
        let own = match path {
            [p] if p == "plugin_name" => Some(plugin.name.clone()),
            [p] if p == "plugin_root_id" => Some(plugin.root_id.clone()),
            [p] if p == "plugin_vm_id" => Some(state.vm_id.clone()),
            _ => None,
        };
        if let Some(own) = own {
            return Ok(own.into_bytes());
        }
        if let Some(v) = plugin.properties.get(path) {
            return Ok(v.serialize());
        }
    }
    if let Some(stream) = state.http.get(&id) {
        let now = state.world().clock.realtime_ns();
        if let Some(v) = http::attributes(stream, id, now).get(path) {
            return Ok(v.serialize());
        }
    } else if state.tcp.contains_key(&id) && path == ["connection", "id"] {
        return Ok(Value::Uint(id as u64).serialize());
    }
    state.properties.get_serialized(path)
}

fn get_property(caller: &mut Caller<'_, VmState>, path: u32, path_len: u32, ptr_ptr: u32, size_ptr: u32) -> HostResult {
    let value = memory::with_memory(caller, |data, state| {
        let path = split_path(memory::slice(data, path, path_len)?);
        resolve(state, &path)
    })?;
    memory::return_bytes(caller, &value, ptr_ptr, size_ptr)
}

/// Envoy stores plugin-set properties as filter state of the stream (or of
/// the plugin, from a root context); they read back as bytes.
fn set_property(caller: &mut Caller<'_, VmState>, path: u32, path_len: u32, value: u32, value_len: u32) -> HostResult {
    memory::with_memory(caller, |data, state| {
        let path = split_path(memory::slice(data, path, path_len)?);
        let value = Value::Bytes(memory::slice(data, value, value_len)?.to_vec());
        let id = state.effective;
        if state.http.contains_key(&id) || state.tcp.contains_key(&id) {
            state.stream_properties.entry(id).or_insert_with(PropertyTree::new).set(&path, value)
        } else {
            let root = state.effective_root().ok_or(Status::NotFound)?;
            state.plugins.get_mut(&root).ok_or(Status::NotFound)?.properties.set(&path, value)
        }
    })?;
    Ok(())
}

fn call_foreign(
    caller: &mut Caller<'_, VmState>,
    name: u32,
    name_len: u32,
    args: u32,
    args_len: u32,
    ptr_ptr: u32,
    size_ptr: u32,
) -> HostResult {
    let results = memory::with_memory(caller, |data, state| {
        let name = memory::slice(data, name, name_len)?;
        let args = memory::slice(data, args, args_len)?;
        state.world().foreign.call(name, args)
    })?;
    if ptr_ptr == 0 && size_ptr == 0 {
        return Ok(());
    }
    memory::return_bytes(caller, &results, ptr_ptr, size_ptr)
}
