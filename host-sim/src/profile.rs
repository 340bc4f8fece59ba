//! Host profiles, strict mode and capability restriction: the checks every
//! `proxy_*` host call passes before it runs (see [`HostProfile`] for what
//! each profile changes).

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::Caller;

use crate::abi::memory::{self, HostError, HostResult};
use crate::engine::Compiled;
use crate::error::Error;
use crate::host::Host;
use crate::spec::PluginSpec;
use crate::state::contexts::ContextKind;
use crate::state::foreign::{DeclaredProperty, FilterState};
use crate::state::logs::LogRecord;
use crate::state::routes::RouteTable;
use crate::types::{LogLevel, Status};
use crate::vm::state::{Callback, VmState};

/// gRPC status `UNAVAILABLE`.
const GRPC_UNAVAILABLE: u32 = 14;

/// The real host whose behaviour host-sim reproduces where hosts differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostProfile {
    /// Envoy up to 1.32: changing the request headers (any `proxy_*` header
    /// map edit of the request headers or trailers) clears the stream's route
    /// cache, so the route is selected again from the edited headers.
    Envoy132,
    /// Envoy 1.33 and later (the default): header edits keep the cached
    /// route; a plugin re-routes by calling the foreign function
    /// `clear_route_cache`.
    #[default]
    Envoy133,
    /// Kong's nginx module (ngx_wasm_module):
    /// - `proxy_get_header_map_size` and `proxy_get_buffer_status` are not
    ///   registered: a module importing them fails to load ("missing host
    ///   function");
    /// - `proxy_get_log_level` is registered with two `i32` parameters: a
    ///   module importing the spec's one-parameter version fails to load
    ///   (import type mismatch);
    /// - not-yet-implemented functions trap with "(function not yet
    ///   implemented): `<name>`": `proxy_done`, `proxy_close_stream`,
    ///   `proxy_continue_response`, `proxy_clear_route_cache`,
    ///   `proxy_get_status`, `proxy_resolve_shared_queue` and every gRPC
    ///   function (no gRPC);
    /// - `proxy_set_effective_context` returns OK and does nothing;
    /// - `proxy_http_call` takes an upstream `host[:port]`, an IP or a
    ///   `unix:` path, not an Envoy cluster name: anything else is refused
    ///   with `BAD_ARGUMENT` and an error log ("dispatch failed: invalid
    ///   upstream"); there is no cluster table (`Host::set_clusters` does not
    ///   apply) and `:authority` is optional (only `:method` and `:path` are
    ///   required);
    /// - metric names are prefixed `pw.<plugin name>.`;
    /// - Envoy's foreign functions (`clear_route_cache`, ...) do not exist
    ///   (`NOT_FOUND`), and there is no route cache to clear.
    Kong,
}

impl HostProfile {
    /// The profiles by the names scenario files use.
    pub const NAMES: [(&'static str, HostProfile); 3] =
        [("envoy-1.32", HostProfile::Envoy132), ("envoy-1.33", HostProfile::Envoy133), ("kong", HostProfile::Kong)];

    /// A profile by name: `envoy-1.32`, `envoy-1.33` or `kong`.
    pub fn from_name(name: &str) -> Option<HostProfile> {
        HostProfile::NAMES.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }

    /// The profile's name (see [`HostProfile::from_name`]).
    pub fn name(self) -> &'static str {
        HostProfile::NAMES.iter().find(|(_, p)| *p == self).map_or("envoy-1.33", |(n, _)| n)
    }

    /// The gRPC status a unary gRPC call gets when its timeout passes. Envoy's
    /// router answers a timed-out gRPC request with a local reply; up to
    /// Envoy 1.37 that was the HTTP 504 mapped to `UNAVAILABLE` (14), and
    /// since envoyproxy/envoy#44479 (2026, runtime guard
    /// `envoy.reloadable_features.grpc_timeout_returns_deadline_exceeded`) it
    /// is `DEADLINE_EXCEEDED` (4). The default profile models the newest
    /// Envoy; `Envoy132` the older status.
    pub fn grpc_timeout_status(self) -> u32 {
        match self {
            HostProfile::Envoy132 => GRPC_UNAVAILABLE,
            _ => crate::vm::GRPC_DEADLINE_EXCEEDED,
        }
    }

    /// Whether editing the request headers clears the route cache.
    pub fn header_edits_clear_route_cache(self) -> bool {
        self == HostProfile::Envoy132
    }

    /// Whether callouts go to Envoy clusters (checked against the known
    /// clusters, `:authority` required); Kong dispatches to `host:port`.
    pub fn has_clusters(self) -> bool {
        self != HostProfile::Kong
    }

    /// The name a metric the plugin defines as `name` gets: Kong prefixes
    /// `pw.<filter>.` (the plugin name); Envoy keeps it (Envoy stores it in
    /// the `wasmcustom` stats namespace, which its Prometheus output strips).
    pub fn metric_name(self, plugin: &str, name: &str) -> String {
        match self {
            HostProfile::Kong => format!("pw.{plugin}.{name}"),
            _ => name.to_owned(),
        }
    }

    /// Whether Envoy's built-in foreign functions exist.
    pub fn has_envoy_foreign_functions(self) -> bool {
        self != HostProfile::Kong
    }

    /// Why the profile cannot link a module importing `env.<name>` (the
    /// load error), `None` when it can.
    pub fn link_error(self, name: &str) -> Option<String> {
        if self != HostProfile::Kong {
            return None;
        }
        match name {
            "proxy_get_header_map_size" | "proxy_get_buffer_status" => {
                Some(format!("missing host function: env.{name} (ngx_wasm_module does not register it)"))
            }
            "proxy_get_log_level" => Some(
                "incompatible import type for env.proxy_get_log_level: ngx_wasm_module registers it with \
                 2 i32 parameters, the module imports the spec's (i32) -> i32"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// Host functions the profile links but does not implement (they trap).
    pub fn not_implemented(self, name: &str) -> bool {
        self == HostProfile::Kong
            && (matches!(
                name,
                "proxy_done"
                    | "proxy_close_stream"
                    | "proxy_continue_response"
                    | "proxy_clear_route_cache"
                    | "proxy_get_status"
                    | "proxy_resolve_shared_queue"
            ) || name.starts_with("proxy_grpc_"))
    }
}

/// Host-wide checks configuration (kept in the world every VM shares).
#[derive(Clone, Debug, Default)]
pub(crate) struct Policy {
    pub profile: HostProfile,
    pub strict: bool,
    /// Per VM index: the `proxy_*` functions the plugin may call (absent: all).
    pub capabilities: HashMap<usize, Vec<String>>,
    /// Per VM index: request/response header names the plugin cannot read.
    pub redacted: HashMap<usize, Vec<Vec<u8>>>,
    /// Per VM index: whether and how a failed VM is rebuilt (absent: never).
    pub rebuild: HashMap<usize, crate::failure::Rebuild>,
}

/// The part of the [`Policy`] one VM's host calls consult, copied into the
/// VM's state so that a host call reads it without locking the host-wide
/// state. A VM takes its copy when it is created (after [`Policy::assign`]);
/// [`Host::set_profile`] and [`Host::set_strict`] refresh every VM's copy.
#[derive(Clone, Debug, Default)]
pub(crate) struct VmPolicy {
    pub profile: HostProfile,
    pub strict: bool,
    /// The `proxy_*` and WASI functions the plugin may call (`None`: all).
    pub capabilities: Option<Arc<[String]>>,
    /// Request/response header names the plugin cannot read.
    pub redacted: Arc<[Vec<u8>]>,
}

impl VmPolicy {
    /// Whether the capability list (if any) lets the plugin call `name`.
    pub fn allows(&self, name: &str) -> bool {
        self.capabilities.as_ref().is_none_or(|list| list.iter().any(|f| f == name))
    }
}

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

/// Logs what the host refused, at error level on the effective context.
pub(crate) fn log_error(state: &mut VmState, message: String) {
    let context_id = state.effective;
    state.logs.push(LogRecord { level: LogLevel::Error, context_id, message });
}

/// Runs before every `proxy_*` host function: capability restriction,
/// profile differences, and (strict mode) the phase rules.
pub(crate) fn gate(caller: &mut Caller<'_, VmState>, name: &'static str, args: &[u64]) -> Gate {
    let policy = &caller.data().policy;
    let (profile, strict) = (policy.profile, policy.strict);
    if !policy.allows(name) {
        log_error(caller.data_mut(), format!("Attempted call to restricted proxy-wasm capability: {name}"));
        return Gate::Return(Err(Status::InternalFailure.into()));
    }
    if profile.not_implemented(name) {
        return Gate::Return(trap(format!(
            "host trap (function not yet implemented): {name} (host profile {profile:?}, called in {})",
            callback_name(caller.data())
        )));
    }
    if profile == HostProfile::Kong {
        if name == "proxy_set_effective_context" {
            return Gate::Return(Ok(()));
        }
        if name == "proxy_http_call"
            && let [ptr, len, ..] = *args
        {
            let upstream = memory::with_memory(caller, |data, _| {
                let (ptr, len) = (u32::try_from(ptr), u32::try_from(len));
                let (Ok(ptr), Ok(len)) = (ptr, len) else { return Err(Status::InvalidMemoryAccess) };
                Ok(memory::slice(data, ptr, len)?.to_vec())
            });
            match upstream {
                Ok(u) if kong_upstream_ok(&u) => {}
                Ok(u) => {
                    let message = format!(
                        "dispatch failed: invalid upstream \"{}\" (expected host[:port], an IP or unix:path)",
                        String::from_utf8_lossy(&u)
                    );
                    log_error(caller.data_mut(), message);
                    return Gate::Return(Err(Status::BadArgument.into()));
                }
                Err(status) => return Gate::Return(Err(status.into())),
            }
        }
    }
    if strict && let Some(why) = phase_violation(caller.data(), name, args) {
        caller.data().strict_violation.set(true);
        return Gate::Return(trap(format!(
            "strict mode: {name} called in {} is not allowed: {why}",
            callback_name(caller.data())
        )));
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
pub(crate) fn strict_status(state: &VmState, name: &'static str, status: Status) -> Option<String> {
    if status != Status::BadArgument || !(name.contains("header_map") || name.contains("buffer")) {
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

fn kong_upstream_ok(upstream: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(upstream) else { return false };
    if let Some(path) = text.strip_prefix("unix:") {
        return !path.is_empty();
    }
    let host = match text.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') || h.ends_with(']') => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            h
        }
        _ => text,
    };
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
}

/// ngx_wasm_module's hostcall × phase matrix (where Envoy would return a
/// status or ignore the call), plus root-only and stream-only rules.
fn phase_violation(state: &VmState, name: &str, args: &[u64]) -> Option<&'static str> {
    use Callback::*;
    let cb = state.callback?;
    let stream = state.contexts.get(state.effective).is_some_and(|c| c.kind != ContextKind::Root);
    let grpc = matches!(cb, GrpcInitialMetadata | GrpcReceive | GrpcTrailingMetadata | GrpcClose);
    match name {
        "proxy_set_tick_period_milliseconds" if stream => Some("can only set tick_period in root context"),
        "proxy_add_header_map_value"
        | "proxy_replace_header_map_value"
        | "proxy_remove_header_map_value"
        | "proxy_set_header_map_pairs" => match args.first() {
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
        "proxy_get_buffer_bytes" | "proxy_set_buffer_bytes" => {
            let set = name == "proxy_set_buffer_bytes";
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
        "proxy_http_call" | "proxy_dispatch_http_call"
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
        "proxy_send_local_response" if !stream || matches!(cb, Log | Done | Delete) => {
            Some("can only send a local response from a stream's request or response callbacks")
        }
        _ => None,
    }
}

impl Policy {
    /// Refuses a module the profile cannot link (Kong's missing or
    /// differently typed host functions).
    pub fn check_link(&self, compiled: &Compiled) -> Result<(), Error> {
        for (module, name) in compiled.imports() {
            if module == "env"
                && let Some(why) = self.profile.link_error(&name)
            {
                return Err(Error::Instantiate(format!("host profile {:?}: {why}", self.profile)));
            }
        }
        Ok(())
    }

    /// Whether a plugin may join VM `index` (same capabilities, redaction
    /// and rebuild settings).
    pub fn vm_matches(&self, index: usize, spec: &PluginSpec) -> bool {
        let redacted: Vec<Vec<u8>> = spec.redacted_headers.iter().map(|h| h.as_bytes().to_vec()).collect();
        self.capabilities.get(&index) == spec.capabilities.as_ref()
            && self.redacted.get(&index).map_or(redacted.is_empty(), |r| *r == redacted)
            && self.rebuild.get(&index) == spec.failure.rebuild.as_ref()
    }

    /// What VM `index`'s host calls consult (see [`VmPolicy`]).
    pub fn for_vm(&self, index: usize) -> VmPolicy {
        VmPolicy {
            profile: self.profile,
            strict: self.strict,
            capabilities: self.capabilities.get(&index).map(|list| list.as_slice().into()),
            redacted: self.redacted.get(&index).map_or_else(Arc::default, |names| names.as_slice().into()),
        }
    }

    /// Gives VM `index` the plugin's capabilities, redaction and rebuild settings.
    pub fn assign(&mut self, index: usize, spec: &PluginSpec) {
        match spec.failure.rebuild {
            Some(rule) => self.rebuild.insert(index, rule),
            None => self.rebuild.remove(&index),
        };
        match &spec.capabilities {
            Some(list) => self.capabilities.insert(index, list.clone()),
            None => self.capabilities.remove(&index),
        };
        if spec.redacted_headers.is_empty() {
            self.redacted.remove(&index);
        } else {
            self.redacted.insert(index, spec.redacted_headers.iter().map(|h| h.as_bytes().to_vec()).collect());
        }
    }
}

impl Host {
    /// Selects the host profile (default [`HostProfile::Envoy133`]); load
    /// plugins after setting it.
    pub fn set_profile(&mut self, profile: HostProfile) {
        self.world().policy.profile = profile;
        self.refresh_policies();
    }

    /// The host profile.
    pub fn profile(&self) -> HostProfile {
        self.world().policy.profile
    }

    /// Strict mode: a host call in the wrong phase (ngx_wasm_module's
    /// hostcall × phase rules, or a header map or buffer that does not
    /// exist in this phase in Envoy) fails the guest call with a message
    /// naming the function, the callback and why, instead of returning a
    /// status. The VM is then failed, and the driving call returns
    /// [`Error::Trap`] whatever the plugin's fail policy: strict mode is a
    /// tool for failing tests, so a violation is never served as a guest
    /// failure would be (later events of the failed VM get the policy).
    pub fn set_strict(&mut self, strict: bool) {
        self.world().policy.strict = strict;
        self.refresh_policies();
    }

    /// Gives every VM a fresh copy of its [`VmPolicy`].
    fn refresh_policies(&mut self) {
        let world = self.world.lock().unwrap_or_else(|p| p.into_inner());
        for vm in &mut self.vms {
            let state = vm.store.data_mut();
            state.policy = world.policy.for_vm(state.index);
        }
    }

    /// Sets the route table: each HTTP stream selects its route and cluster
    /// when its request headers arrive (properties `route_name`,
    /// `cluster_name`, `xds.route_name`, `xds.cluster_name`). An empty table
    /// turns routing off (the properties then come from the defaults).
    pub fn set_routes(&mut self, table: RouteTable) {
        self.world().routes = table;
    }

    /// Every `set_envoy_filter_state` call plugins made.
    pub fn filter_state(&self) -> Vec<FilterState> {
        self.world().foreign.filter_state.clone()
    }

    /// Every property plugins declared with `declare_property`.
    pub fn declared_properties(&self) -> Vec<DeclaredProperty> {
        self.world().foreign.declared.clone()
    }
}
