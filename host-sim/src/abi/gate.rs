//! Host profiles, strict mode and capability restriction: the checks every
//! `proxy_*` host call passes before it runs (see [`HostProfile`] for what
//! each profile changes).
//!
//! Layer: the ABI layer (`abi/`, whose registrations call these gates).
//! Imports `abi::memory`, `abi::kong`, `store` and the data modules;
//! the profiles themselves are data in `policy`, their link rules in
//! `engine::link_policy`, and `Host`'s profile settings in `host::profile`.

use sluice::abi::{Access, HostFunction};
use wasmtime::Caller;

use crate::abi::memory::{HostError, HostResult};
use crate::limits::LimitExceeded;
use crate::policy::HostProfile;
use crate::state::contexts::ContextKind;
use crate::store::{Callback, VmState};
use crate::types::Status;

/// What the checks decided.
pub(crate) enum Gate {
    /// Run the host function.
    Run,
    /// Do not run it; the guest gets this.
    Return(HostResult),
}

fn trap(message: String) -> HostResult {
    Err(HostError::Trap(wasmtime::Error::msg(message)))
}

fn callback_name(state: &VmState) -> &'static str {
    state.callback.map_or("no callback", Callback::name)
}

/// The host functions a module may call while it starts (`_initialize`,
/// `_start`, `main`): cpp-host's `WasmBase::startVm` allow-list
/// (`setRestrictedCallback`, `src/wasm.cc`). The WASI stubs cpp-host added
/// with `clock_res_get` are on it too; `sched_yield`, `proc_exit`,
/// `fd_read`, `fd_seek`, `fd_close` and `path_open` are not.
const START_CALLS: [&str; 15] = [
    "emscripten_notify_memory_growth",
    "proxy_log",
    "fd_write",
    "args_sizes_get",
    "args_get",
    "environ_sizes_get",
    "environ_get",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "clock_time_get",
    "clock_res_get",
    "random_get",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "poll_oneoff",
];

/// The other WASI functions refused at start.
const START_REFUSED_WASI: [&str; 6] = ["sched_yield", "proc_exit", "fd_read", "fd_seek", "fd_close", "path_open"];

/// A host call made while the module starts that cpp-host refuses: the VM
/// traps with `restricted_callback`, as V8's host-function wrapper does.
pub(crate) fn start_refusal(state: &VmState, name: &str, wasi: bool) -> Option<wasmtime::Error> {
    // Kong's module has no such list (not modelled there).
    if state.callback != Some(Callback::Start)
        || START_CALLS.contains(&name)
        || state.policy.profile == HostProfile::Kong
    {
        return None;
    }
    if wasi && !START_REFUSED_WASI.contains(&name) {
        return None;
    }
    Some(wasmtime::Error::msg(format!(
        "restricted_callback: {name} may not be called while the module starts (_initialize/_start): \
         Envoy allows only proxy_log and the WASI functions a runtime needs to start"
    )))
}

/// Runs before every `proxy_*` host function: capability restriction,
/// profile differences, and (strict mode) the phase rules.
pub(crate) fn gate(caller: &mut Caller<'_, VmState>, function: &'static HostFunction, args: &[u64]) -> Gate {
    let name = function.name;
    if let Some(refused) = start_refusal(caller.data(), name, false) {
        return Gate::Return(Err(HostError::Trap(refused)));
    }
    let policy = &caller.data().policy;
    let (profile, strict) = (policy.profile, policy.strict);
    if !policy.allows(name) {
        super::log_error(caller.data_mut(), format!("Attempted call to restricted proxy-wasm capability: {name}"));
        return Gate::Return(Err(Status::InternalFailure.into()));
    }
    if profile.leaves_unimplemented(function) {
        return Gate::Return(trap(format!(
            "host trap (function not yet implemented): {name} (host profile {profile:?}, called in {})",
            callback_name(caller.data())
        )));
    }
    if strict && let Some(why) = phase_violation(caller.data(), function.access, args) {
        caller.data().strict_violation.set(true);
        return Gate::Return(trap(format!(
            "strict mode: {name} called in {} is not allowed: {why}",
            callback_name(caller.data())
        )));
    }
    if profile == HostProfile::Kong
        && let Some(result) = super::kong::gate(caller, name, args)
    {
        return Gate::Return(result);
    }
    Gate::Run
}

/// WASI's `ENOTCAPABLE`: what a restricted WASI function returns in Envoy.
pub(crate) const ENOTCAPABLE: i32 = 76;

/// Whether the plugin's capability list (if any) leaves out this WASI
/// function (any of them, as in cpp-host: the stubs too).
pub(crate) fn wasi_restricted(state: &VmState, name: &str) -> bool {
    !state.policy.allows(name)
}

/// Strict mode: a `BAD_ARGUMENT` from a header-map or buffer function means
/// the map or buffer does not exist in this phase (Envoy's availability
/// rules); it becomes a trap naming the function and the phase.
pub(crate) fn strict_status(state: &VmState, function: &'static HostFunction, status: Status) -> Option<String> {
    let name = function.name;
    if status != Status::BadArgument || !function.access.needs_map_or_buffer() {
        return None;
    }
    if !state.policy.strict {
        return None;
    }
    state.strict_violation.set(true);
    Some(format!(
        "strict mode: {name} called in {} returned BAD_ARGUMENT: the map or buffer does not exist in this phase \
         (or the type is unknown)",
        callback_name(state)
    ))
}

/// ngx_wasm_module's hostcall × phase matrix (where Envoy would return a
/// status or ignore the call), plus root-only and stream-only rules: the
/// function's [`Access`] rule in the ABI's description.
fn phase_violation(state: &VmState, access: Access, args: &[u64]) -> Option<&'static str> {
    use Callback::*;
    let cb = state.callback?;
    let stream = state.contexts.get(state.effective).is_some_and(|c| c.kind != ContextKind::Root);
    let grpc = matches!(cb, GrpcInitialMetadata | GrpcReceive | GrpcTrailingMetadata | GrpcClose);
    match access {
        Access::RootOnly if stream => Some("can only set tick_period in root context"),
        Access::MapWrite => match args.first() {
            Some(0 | 1)
                if !(matches!(cb, RequestHeaders | RequestBody | RequestTrailers | HttpCallResponse) || grpc) =>
            {
                Some(
                    "can only set request headers before the response is produced (request callbacks, callout responses)",
                )
            }
            Some(2) if matches!(cb, ResponseBody | ResponseTrailers | Log | Done | Delete) => {
                Some("can only set response headers before on_response_body")
            }
            Some(3) if matches!(cb, Log | Done | Delete) => Some("can only set response trailers before on_log"),
            _ => None,
        },
        Access::BufferRead | Access::BufferWrite => {
            let set = access == Access::BufferWrite;
            match args.first() {
                Some(0) if set && !matches!(cb, RequestHeaders | RequestBody) => {
                    Some("can only set request body during on_request_headers, on_request_body")
                }
                Some(0) if !set && !matches!(cb, RequestBody | Log) => {
                    Some("can only get request body during on_request_body, on_log")
                }
                Some(1) if cb != ResponseBody => Some("can only get or set response body during on_response_body"),
                _ => None,
            }
        }
        Access::HttpCall
            if matches!(
                cb,
                VmStart | Configure | ResponseHeaders | ResponseBody | ResponseTrailers | Log | Done | Delete
            ) =>
        {
            Some(
                "can only send HTTP dispatch during on_request_headers, on_request_body, on_tick, \
                 on_http_call_response, on_foreign_function",
            )
        }
        Access::LocalResponse if !stream || matches!(cb, Log | Done | Delete) => {
            Some("can only send a local response from a stream's request or response callbacks")
        }
        _ => None,
    }
}

impl From<LimitExceeded> for HostError {
    fn from(exceeded: LimitExceeded) -> HostError {
        HostError::Trap(wasmtime::Error::new(exceeded))
    }
}
