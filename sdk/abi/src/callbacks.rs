//! Every `proxy_on_*` callback a plugin exports, with its signature, and the
//! other exports a module is read by.

use crate::enums::AbiVersion;
use crate::functions::WasmType::{self, I32};

/// One callback (or integration export) of a plugin module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Callback {
    /// The export name.
    pub name: &'static str,
    /// Its parameters: the context id first, for every `proxy_on_*` but the
    /// allocator.
    pub params: &'static [WasmType],
    /// Its result, if it has one.
    pub result: Option<WasmType>,
    /// The first version that has it in this form.
    pub since: AbiVersion,
}

const fn callback(
    name: &'static str,
    params: &'static [WasmType],
    result: Option<WasmType>,
    since: AbiVersion,
) -> Callback {
    Callback { name, params, result, since }
}

use AbiVersion::{V0_1_0, V0_2_0};

/// The callbacks of ABI v0.2.1, in the reference's order (§2). ABI 0.1.0's
/// headers callbacks take no `end_of_stream`: see [`LEGACY_CALLBACKS`].
pub const CALLBACKS: &[Callback] = &[
    callback("proxy_on_memory_allocate", &[I32], Some(I32), V0_1_0),
    callback("proxy_on_context_create", &[I32, I32], None, V0_1_0),
    callback("proxy_on_vm_start", &[I32, I32], Some(I32), V0_1_0),
    callback("proxy_on_configure", &[I32, I32], Some(I32), V0_1_0),
    callback("proxy_on_tick", &[I32], None, V0_1_0),
    callback("proxy_on_queue_ready", &[I32, I32], None, V0_1_0),
    callback("proxy_on_foreign_function", &[I32, I32, I32], None, V0_2_0),
    callback("proxy_on_done", &[I32], Some(I32), V0_1_0),
    callback("proxy_on_log", &[I32], None, V0_1_0),
    callback("proxy_on_delete", &[I32], None, V0_1_0),
    callback("proxy_on_new_connection", &[I32], Some(I32), V0_1_0),
    callback("proxy_on_downstream_data", &[I32, I32, I32], Some(I32), V0_1_0),
    callback("proxy_on_downstream_connection_close", &[I32, I32], None, V0_1_0),
    callback("proxy_on_upstream_data", &[I32, I32, I32], Some(I32), V0_1_0),
    callback("proxy_on_upstream_connection_close", &[I32, I32], None, V0_1_0),
    callback("proxy_on_request_headers", &[I32, I32, I32], Some(I32), V0_2_0),
    callback("proxy_on_request_body", &[I32, I32, I32], Some(I32), V0_1_0),
    callback("proxy_on_request_trailers", &[I32, I32], Some(I32), V0_1_0),
    callback("proxy_on_response_headers", &[I32, I32, I32], Some(I32), V0_2_0),
    callback("proxy_on_response_body", &[I32, I32, I32], Some(I32), V0_1_0),
    callback("proxy_on_response_trailers", &[I32, I32], Some(I32), V0_1_0),
    callback("proxy_on_http_call_response", &[I32, I32, I32, I32, I32], None, V0_1_0),
    callback("proxy_on_grpc_receive_initial_metadata", &[I32, I32, I32], None, V0_1_0),
    callback("proxy_on_grpc_receive", &[I32, I32, I32], None, V0_1_0),
    callback("proxy_on_grpc_receive_trailing_metadata", &[I32, I32, I32], None, V0_1_0),
    callback("proxy_on_grpc_close", &[I32, I32, I32], None, V0_1_0),
];

/// ABI 0.1.0's forms of callbacks that changed: the headers callbacks
/// without `end_of_stream`.
pub const LEGACY_CALLBACKS: &[Callback] = &[
    callback("proxy_on_request_headers", &[I32, I32], Some(I32), V0_1_0),
    callback("proxy_on_response_headers", &[I32, I32], Some(I32), V0_1_0),
];

/// The callback named `name` as ABI `version` defines it.
pub fn callback_in(name: &str, version: AbiVersion) -> Option<&'static Callback> {
    let current = CALLBACKS.iter().find(|c| c.name == name && c.since <= version);
    current.or_else(|| LEGACY_CALLBACKS.iter().find(|c| c.name == name && c.since <= version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_callbacks_change_shape_in_0_2_0() {
        assert_eq!(callback_in("proxy_on_request_headers", V0_1_0).unwrap().params.len(), 2);
        assert_eq!(callback_in("proxy_on_request_headers", AbiVersion::V0_2_1).unwrap().params.len(), 3);
        assert!(callback_in("proxy_on_foreign_function", V0_1_0).is_none());
        assert!(callback_in("proxy_on_nothing", AbiVersion::V0_2_1).is_none());
    }
}
