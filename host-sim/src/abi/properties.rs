//! Properties and foreign functions: `proxy_get_property`,
//! `proxy_set_property`, `proxy_call_foreign_function`.
//!
//! A property path is resolved in this order: values the plugin set on the
//! current stream, the plugin's own attributes (`plugin_name`,
//! `plugin_root_id`, `plugin_vm_id`, plus what the test set for the plugin),
//! the stream's request/response attributes, then the VM's tree.

use wasmtime::Caller;

use super::memory::{self, HostResult};
use crate::limits::{Limit, LimitExceeded};
use crate::state::contexts::ContextKind;
use crate::state::foreign::{Declarer, decode_declare_property, decode_filter_state};
use crate::state::http;
use crate::state::properties::{PropertyTree, Value, merge_values, split_path};
use crate::state::routes::SelectedRoute;
use crate::store::VmState;
use crate::types::Status;

/// The route properties, answered from the stream's route cache when a
/// route table is set.
const ROUTE_PATHS: [&[&str]; 4] =
    [&["route_name"], &["cluster_name"], &["xds", "route_name"], &["xds", "cluster_name"]];

fn is_route_path(path: &[String]) -> bool {
    ROUTE_PATHS.iter().any(|p| p.len() == path.len() && p.iter().zip(path).all(|(a, b)| a == b))
}

/// The stream's route, re-selected from the current request headers when
/// the cache was cleared (Envoy recomputes a cleared route on its next use).
/// `None` when no route table is set or the stream has no request headers.
pub(crate) fn use_route(state: &mut VmState, id: u32) -> Option<Option<SelectedRoute>> {
    let world = state.world.clone();
    let world = world.lock().unwrap_or_else(|p| p.into_inner());
    if world.routes.is_empty() {
        return None;
    }
    let stream = state.http.get_mut(&id)?;
    let headers = stream.request.headers.as_ref()?;
    if stream.route.cleared || stream.route.selections == 0 {
        stream.route.select(&world.routes, headers);
    }
    Some(stream.route.selected.clone())
}

/// Resolves a property for the effective context.
pub(crate) fn resolve(state: &VmState, path: &[String]) -> Result<Vec<u8>, Status> {
    lookup(state, path).map(|v| v.serialize())
}

/// Finds a property in each layer, highest first: values the plugin set on
/// the stream, the plugin's own attributes and the test's values for it, the
/// stream's attributes (and route), then the VM's tree. The first value found
/// wins, except that maps merge with the maps of lower layers, so a test value
/// at a leaf (`node.metadata.WORKLOAD_NAME`) keeps its siblings.
fn lookup(state: &VmState, path: &[String]) -> Result<Value, Status> {
    lookup_in(state, state.effective, path)
}

/// [`lookup`] in context `id` (a root or a stream), whatever context the
/// guest has as its effective one.
pub(crate) fn lookup_in(state: &VmState, id: u32, path: &[String]) -> Result<Value, Status> {
    let mut found: Vec<Value> = Vec::new();
    // Adds a layer's value; whether to keep looking (every value so far is a map).
    fn push(found: &mut Vec<Value>, v: Option<&Value>) -> bool {
        if let Some(v) = v {
            found.push(v.clone());
        }
        found.iter().all(|v| matches!(v, Value::Map(_)))
    }
    let stream_value = state.stream_properties.get(&id).and_then(|t| t.get(path));
    if !push(&mut found, stream_value) {
        return finish(found);
    }
    if let Some(plugin) = state.contexts.root_of(id).and_then(|r| state.plugins.get(&r)) {
        let own = match path {
            [p] if p == "plugin_name" => Some(plugin.name.clone()),
            [p] if p == "plugin_root_id" => Some(plugin.root_id.clone()),
            [p] if p == "plugin_vm_id" => Some(state.vm_id.clone()),
            _ => None,
        };
        if found.is_empty()
            && let Some(own) = own
        {
            return Ok(Value::String(own));
        }
        if !push(&mut found, plugin.properties.get(path)) {
            return finish(found);
        }
    }
    if let Some(stream) = state.http.get(&id) {
        if found.is_empty() && is_route_path(path) && stream.route.selections > 0 {
            let selected = stream.route.selected.as_ref().ok_or(Status::NotFound)?;
            let value = if path.last().is_some_and(|p| p == "route_name") {
                Some(selected.route_name.clone())
            } else {
                selected.cluster.clone()
            };
            return value.map(Value::String).ok_or(Status::NotFound);
        }
        let now = state.world().clock.realtime_ns();
        let mut attributes = http::attributes(stream, id, now);
        for name in state.policy.redacted.iter() {
            let name = String::from_utf8_lossy(name).into_owned();
            attributes.remove(&["request", "headers", name.as_str()]);
            attributes.remove(&["response", "headers", name.as_str()]);
        }
        if !push(&mut found, attributes.get(path)) {
            return finish(found);
        }
    } else if state.tcp.contains_key(&id) && path == ["connection", "id"] && found.is_empty() {
        return Ok(Value::Uint(id as u64));
    }
    push(&mut found, state.properties.get(path));
    finish(found)
}

/// The highest value, merged over lower maps.
fn finish(found: Vec<Value>) -> Result<Value, Status> {
    let mut layers = found.into_iter().rev();
    let lowest = layers.next().ok_or(Status::NotFound)?;
    Ok(layers.fold(lowest, |lower, upper| merge_values(&lower, &upper)))
}

pub(super) fn get_property(
    caller: &mut Caller<'_, VmState>,
    path: u32,
    path_len: u32,
    ptr_ptr: u32,
    size_ptr: u32,
) -> HostResult {
    let value = memory::with_memory(caller, |data, state| {
        let path = match guest_path(state, memory::slice(data, path, path_len)?, "proxy_get_property") {
            Ok(path) => path,
            Err(exceeded) => return Ok(Err(exceeded)),
        };
        if is_route_path(&path) {
            use_route(state, state.effective);
        }
        resolve(state, &path).map(Ok)
    })??;
    memory::return_bytes(caller, &value, ptr_ptr, size_ptr)
}

/// Splits a guest's property path after checking its depth against the
/// plugin's `property_depth` (counted before anything is allocated).
fn guest_path(state: &VmState, raw: &[u8], function: &str) -> Result<Vec<String>, LimitExceeded> {
    let depth =
        if raw.is_empty() { 0 } else { raw.strip_suffix(&[0]).unwrap_or(raw).iter().filter(|b| **b == 0).count() + 1 };
    state.caps.check(Limit::PropertyDepth, depth, || format!("{function} with a path of {depth} segments"))?;
    Ok(split_path(raw))
}

/// Envoy stores plugin-set properties as filter state of the stream; they
/// read back as bytes. A root context has no stream info: `NOT_FOUND`
/// (Envoy's `Context::setProperty`).
pub(super) fn set_property(
    caller: &mut Caller<'_, VmState>,
    path: u32,
    path_len: u32,
    value: u32,
    value_len: u32,
) -> HostResult {
    memory::with_memory(caller, |data, state| {
        let raw = memory::slice(data, path, path_len)?;
        let value = memory::slice(data, value, value_len)?;
        let id = state.effective;
        if !(state.http.contains_key(&id) || state.tcp.contains_key(&id)) {
            return Err(Status::NotFound);
        }
        let path = match guest_path(state, raw, "proxy_set_property") {
            Ok(path) => path,
            Err(exceeded) => return Ok(Err(exceeded)),
        };
        if path.is_empty() {
            return Err(Status::BadArgument);
        }
        let bytes = state.stream_properties.get(&id).map_or(0, |t| t.bytes_after_set(&path, value.len()));
        let bytes = bytes.max(path.iter().map(String::len).sum::<usize>() + value.len());
        if let Err(exceeded) = state.caps.check(Limit::PropertyBytes, bytes, || {
            format!("proxy_set_property of {} bytes would make the stream's properties {bytes} bytes", value.len())
        }) {
            return Ok(Err(exceeded));
        }
        let value = Value::Bytes(value.to_vec());
        state.stream_properties.entry(id).or_insert_with(PropertyTree::new).set(&path, value).map(Ok)
    })??;
    Ok(())
}

pub(super) fn call_foreign_function(
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
        let profile = {
            let mut world = state.world();
            if world.foreign.contains(name) {
                return world.foreign.call(name, args).map(Ok);
            }
            world.policy.profile
        };
        if !profile.has_envoy_foreign_functions() {
            return Err(Status::NotFound);
        }
        envoy_foreign(state, name, args)
    })??;
    if ptr_ptr == 0 && size_ptr == 0 {
        return Ok(());
    }
    memory::return_bytes(caller, &results, ptr_ptr, size_ptr)
}

/// Envoy's built-in foreign functions (see [`crate::state::foreign`] for the
/// argument encodings); unknown names are `NOT_FOUND`.
fn envoy_foreign(state: &mut VmState, name: &[u8], args: &[u8]) -> Result<Result<Vec<u8>, LimitExceeded>, Status> {
    let id = state.effective;
    match name {
        b"clear_route_cache" => {
            // From a root context there is no route: Envoy ignores the call.
            if let Some(stream) = state.http.get_mut(&id) {
                stream.route.clear();
            }
            Ok(Ok(Vec::new()))
        }
        b"set_envoy_filter_state" => {
            // Borrowed from guest memory: nothing is copied before the
            // checks pass.
            let args = decode_filter_state(args)?;
            // Filter state belongs to a stream: a root context has none.
            if !(state.http.contains_key(&id) || state.tcp.contains_key(&id)) {
                return Err(Status::NotFound);
            }
            let key = ["filter_state", args.path];
            let len = args.value.len();
            let bytes = state.stream_properties.get(&id).map_or(0, |t| t.bytes_after_set(&key, len));
            let bytes = bytes.max(key.iter().map(|k| k.len()).sum::<usize>() + len);
            if let Err(exceeded) = state.caps.check(Limit::PropertyBytes, bytes, || {
                format!("set_envoy_filter_state of {len} bytes would make the stream's properties {bytes} bytes")
            }) {
                return Ok(Err(exceeded));
            }
            let (vm, caps) = (state.index, state.caps);
            if let Err(exceeded) = state.world().foreign.set_filter_state(vm, id, args, &caps) {
                return Ok(Err(exceeded));
            }
            let tree = state.stream_properties.entry(id).or_default();
            let _ = tree.set(&key, Value::Bytes(args.value.to_vec()));
            Ok(Ok(Vec::new()))
        }
        b"declare_property" => {
            // Declarations are the calling context's (Envoy's
            // `Context::declareProperty`); a stream's go with it.
            let args = decode_declare_property(args)?;
            let stream = matches!(state.contexts.get(id).map(|e| e.kind), Some(ContextKind::Http | ContextKind::Tcp));
            let contexts = &state.contexts;
            let by = Declarer { vm: state.index, context_id: id, stream, live: |c| contexts.get(c).is_some() };
            let result = state.world().foreign.declare(by, args, &state.caps);
            result.map(|fits| fits.map(|()| Vec::new()))
        }
        _ => Err(Status::NotFound),
    }
}
