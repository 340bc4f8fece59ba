//! The ABI's description against tables transcribed by hand from the
//! Proxy-Wasm specification (v0.1.0, v0.2.0, v0.2.1; `proxy-wasm-abi.md` §2
//! and §3.1) and cpp-host: the independent check of `sluice_abi`. The SDK's
//! and host-sim's tests check their code against the description.

use sluice_abi::{AbiVersion, CALLBACKS, HOST_FUNCTIONS, HostFunction, LEGACY_HOST_FUNCTIONS};

/// (name, params, results) of the `env.proxy_*` functions common to every
/// ABI version. `l` = i64 (written `I` by the description), every other letter i32.
const COMMON: &[(&str, &str, &str)] = &[
    ("proxy_log", "iii", "i"),
    ("proxy_get_current_time_nanoseconds", "i", "i"),
    ("proxy_set_tick_period_milliseconds", "i", "i"),
    ("proxy_done", "", "i"),
    ("proxy_set_effective_context", "i", "i"),
    ("proxy_set_buffer_bytes", "iiiii", "i"),
    ("proxy_get_buffer_bytes", "iiiii", "i"),
    ("proxy_get_buffer_status", "iii", "i"),
    ("proxy_get_header_map_size", "ii", "i"),
    ("proxy_get_header_map_pairs", "iii", "i"),
    ("proxy_set_header_map_pairs", "iii", "i"),
    ("proxy_get_header_map_value", "iiiii", "i"),
    ("proxy_add_header_map_value", "iiiii", "i"),
    ("proxy_replace_header_map_value", "iiiii", "i"),
    ("proxy_remove_header_map_value", "iii", "i"),
    ("proxy_get_status", "iii", "i"),
    ("proxy_send_local_response", "iiiiiiii", "i"),
    ("proxy_http_call", "iiiiiiiiii", "i"),
    ("proxy_grpc_call", "iiiiiiiiiiii", "i"),
    ("proxy_grpc_stream", "iiiiiiiii", "i"),
    ("proxy_grpc_send", "iiii", "i"),
    ("proxy_grpc_cancel", "i", "i"),
    ("proxy_grpc_close", "i", "i"),
    ("proxy_set_shared_data", "iiiii", "i"),
    ("proxy_get_shared_data", "iiiii", "i"),
    ("proxy_register_shared_queue", "iii", "i"),
    ("proxy_resolve_shared_queue", "iiiii", "i"),
    ("proxy_enqueue_shared_queue", "iii", "i"),
    ("proxy_dequeue_shared_queue", "iii", "i"),
    ("proxy_define_metric", "iiii", "i"),
    ("proxy_record_metric", "il", "i"),
    ("proxy_increment_metric", "il", "i"),
    ("proxy_get_metric", "ii", "i"),
    ("proxy_get_property", "iiii", "i"),
    ("proxy_set_property", "iiii", "i"),
    ("proxy_call_foreign_function", "iiiiii", "i"),
];

const V0_1_0_ONLY: &[(&str, &str, &str)] = &[
    ("proxy_get_configuration", "ii", "i"),
    ("proxy_continue_request", "", "i"),
    ("proxy_continue_response", "", "i"),
    ("proxy_clear_route_cache", "", "i"),
];

const V0_2_0_ADDED: &[(&str, &str, &str)] = &[("proxy_continue_stream", "i", "i"), ("proxy_close_stream", "i", "i")];

const V0_2_1_ADDED: &[(&str, &str, &str)] = &[("proxy_get_log_level", "i", "i")];

/// §2: the callbacks and integration exports, `(params, results)`.
const EXPORTS: &[(&str, (&str, &str))] = &[
    ("proxy_abi_version_0_2_1", ("", "")),
    ("_initialize", ("", "")),
    ("proxy_on_memory_allocate", ("i", "i")),
    ("proxy_on_context_create", ("ii", "")),
    ("proxy_on_vm_start", ("ii", "i")),
    ("proxy_on_configure", ("ii", "i")),
    ("proxy_on_tick", ("i", "")),
    ("proxy_on_queue_ready", ("ii", "")),
    ("proxy_on_foreign_function", ("iii", "")),
    ("proxy_on_done", ("i", "i")),
    ("proxy_on_log", ("i", "")),
    ("proxy_on_delete", ("i", "")),
    ("proxy_on_new_connection", ("i", "i")),
    ("proxy_on_downstream_data", ("iii", "i")),
    ("proxy_on_downstream_connection_close", ("ii", "")),
    ("proxy_on_upstream_data", ("iii", "i")),
    ("proxy_on_upstream_connection_close", ("ii", "")),
    ("proxy_on_request_headers", ("iii", "i")),
    ("proxy_on_request_body", ("iii", "i")),
    ("proxy_on_request_trailers", ("ii", "i")),
    ("proxy_on_response_headers", ("iii", "i")),
    ("proxy_on_response_body", ("iii", "i")),
    ("proxy_on_response_trailers", ("ii", "i")),
    ("proxy_on_http_call_response", ("iiiii", "")),
    ("proxy_on_grpc_receive_initial_metadata", ("iii", "")),
    ("proxy_on_grpc_receive", ("iii", "")),
    ("proxy_on_grpc_receive_trailing_metadata", ("iii", "")),
    ("proxy_on_grpc_close", ("iii", "")),
    // Exported only where wasi-libc does not define it (checked separately).
    ("malloc", ("i", "i")),
    ("memory", ("memory", "")),
];

fn letters(f: &HostFunction) -> String {
    f.wasm_params().map(|t| if t.letter() == 'I' { 'l' } else { 'i' }).collect()
}

/// The reference's functions of `abi`, `(name, params)`, sorted.
fn reference(abi: AbiVersion) -> Vec<(String, String)> {
    let mut rows: Vec<&(&str, &str, &str)> = COMMON.iter().collect();
    match abi {
        AbiVersion::V0_1_0 => rows.extend(V0_1_0_ONLY),
        AbiVersion::V0_2_0 => rows.extend(V0_2_0_ADDED),
        AbiVersion::V0_2_1 => rows.extend(V0_2_0_ADDED.iter().chain(V0_2_1_ADDED)),
    }
    assert!(rows.iter().all(|(_, _, results)| *results == "i"), "every host function returns a status");
    let mut rows: Vec<(String, String)> = rows.into_iter().map(|(n, p, _)| (n.to_string(), p.to_string())).collect();
    rows.sort();
    rows
}

/// The description's functions of `abi`, `(name, params)`, sorted.
fn described(abi: AbiVersion) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = HOST_FUNCTIONS
        .iter()
        .chain(LEGACY_HOST_FUNCTIONS)
        .filter(|f| f.in_version(abi))
        .map(|f| (f.name.to_string(), letters(f)))
        .collect();
    rows.sort();
    rows
}

#[test]
fn the_reference_tables_have_the_reference_sizes() {
    assert_eq!(COMMON.len(), 36, "cpp-host registers 36 common proxy_* functions");
    assert_eq!(V0_1_0_ONLY.len(), 4);
}

#[test]
fn every_version_has_exactly_the_reference_functions_with_their_signatures() {
    for abi in AbiVersion::ALL {
        assert_eq!(described(abi), reference(abi), "{abi:?}");
    }
    assert_eq!(described(AbiVersion::CURRENT).len(), HOST_FUNCTIONS.len());
}

#[test]
fn every_callback_has_its_reference_signature() {
    for callback in CALLBACKS {
        let letter = |t: &sluice_abi::WasmType| t.letter().to_string();
        let params: String = callback.params.iter().map(letter).collect();
        let result: String = callback.result.iter().map(letter).collect();
        let reference = EXPORTS.iter().find(|(name, _)| *name == callback.name).map(|(_, sig)| *sig);
        assert_eq!(reference, Some((params.as_str(), result.as_str())), "{}", callback.name);
    }
    let described = |name: &&str| CALLBACKS.iter().any(|c| c.name == *name);
    let missing: Vec<&str> =
        EXPORTS.iter().map(|(name, _)| *name).filter(|n| n.starts_with("proxy_on_") && !described(n)).collect();
    assert!(missing.is_empty(), "callbacks the description lacks: {missing:?}");
}
