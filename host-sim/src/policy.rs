//! Host profiles and the policy every host call consults, as data: which
//! real host is reproduced ([`HostProfile`] and what it changes), strict
//! mode, capabilities, redaction and rebuild rules per VM. The checks that
//! read them run in the ABI layer (`profile`, the gates) and the engine
//! (`engine::link_policy`, what a profile links).
//!
//! Layer: plain data. Imports only `spec`, `failure` and the standard
//! library.

use sluice::abi::{HostFunction, KongSupport};
use std::collections::HashMap;
use std::sync::Arc;

use crate::spec::PluginSpec;

/// gRPC status `DEADLINE_EXCEEDED`.
pub const GRPC_DEADLINE_EXCEEDED: u32 = 4;

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
    /// Kong's nginx module (Kong/ngx_wasm_module on nginx), as its source
    /// behaves. Every message host-sim produces for a Kong behaviour says
    /// "Kong".
    ///
    /// # Envoy and Kong
    ///
    /// Where the two hosts differ, the `kong` profile follows Kong's nginx
    /// module (Kong/ngx_wasm_module, read at its April 2025 `main`, nginx 1.27;
    /// paths below are in that repository unless marked `nginx:` (nginx/nginx)
    /// or `cpp-host:` (proxy-wasm/proxy-wasm-cpp-host); `t/...` are its tests).
    /// A scenario under `profile = "kong"` fails where the real module would,
    /// with a message that names Kong.
    ///
    /// | behaviour | Envoy | Kong | where each is defined |
    /// |---|---|---|---|
    /// | `proxy_get_log_level` | `(i32) -> i32`, the host's level | registered as `(i32, i32) -> i32` and not implemented: a module importing the spec's signature does not load (`incompatible import type`); one importing Kong's loads and traps "(function not yet implemented)" when it calls it | cpp-host: `src/exports.cc`; Kong: the hostcall table in `src/common/proxy_wasm/ngx_proxy_wasm_host.c` (`ngx_wavm_arity_i32x2`, `ngx_proxy_wasm_hfuncs_nop`) |
    /// | `proxy_get_header_map_size`, `proxy_get_buffer_status` | implemented | not registered: the module does not load ("missing host function") | same table |
    /// | `proxy_done`, `proxy_close_stream`, `proxy_continue_response`, `proxy_clear_route_cache`, `proxy_get_status`, `proxy_resolve_shared_queue`, gRPC | implemented | trap "(function not yet implemented)" | same table (`NGX_WAVM_NYI`) |
    /// | unknown foreign function (`clear_route_cache`, ...) | `NOT_FOUND` (Envoy 1.33+ has `clear_route_cache`) | trap "unknown foreign function"; only `resolve_lua` exists | cpp-host: `src/exports.cc` `call_foreign_function`; Kong: `ngx_proxy_wasm_hfuncs_call_foreign_function` in `ngx_proxy_wasm_host.c` |
    /// | route cache | re-selected after `clear_route_cache` (1.33+) or any request-header edit (1.32) | none: nginx chose the `location` before the filter ran | Envoy: `source/extensions/common/wasm/foreign.cc`; Kong: no route cache in `src/http/proxy_wasm/ngx_http_proxy_wasm.c` |
    /// | setting `:authority` or `:scheme` | rewrites it | `[error] cannot set read-only ":authority" header`, returns OK, nothing changes; `proxy_set_header_map_pairs` stops at that pair | Kong: `ngx_proxy_wasm_maps_set` and the special keys (no setter) in `src/common/proxy_wasm/ngx_proxy_wasm_maps.c`; `t/03-proxy_wasm/hfuncs/111-proxy_set_http_request_header.t` TEST 19 |
    /// | reading `:authority` | the client's `Host` | `server_name` of the nginx server (default: the machine's host name) and the listening port; host-sim: `localhost:80`; the client's `Host` is the `host` header | Kong: `ngx_proxy_wasm_maps_get_authority` in `ngx_proxy_wasm_maps.c` |
    /// | request header removed by the plugin | gone | the plugin no longer sees it, but it still reaches the upstream, in its place among the others, through `proxy_pass` (and `grpc_pass`) with `proxy_pass_request_headers on`, the default (`$http_*` variables skip it); replacing a repeated header deletes its other values the same way; `proxy_set_header_map_pairs` deletes all of them | Kong: `ngx_http_wasm_set_header_helper` marks the entry `hash = 0` (`src/http/ngx_http_wasm_headers.c`); nginx: `ngx_http_proxy_create_request` (`src/http/modules/ngx_http_proxy_module.c`) copies every entry without testing `hash` |
    /// | dotted property outside a request (`on_vm_start`, `on_configure`, `on_tick`) | served | `[error] cannot get scoped properties outside of a request`, `INTERNAL_FAILURE` | Kong: `ngx_proxy_wasm_properties_get` in `src/common/proxy_wasm/ngx_proxy_wasm_properties.c`; `117-proxy_properties_get.t` TEST 19-22 |
    /// | `cluster_name`, `route_name`, `response.flags`, `response.code_details`, `node`, `*_metadata`, `listener_direction` | served | `[error] "<path>" property not supported` on every read, `NOT_FOUND` | Kong: `not_supported` in the `pw2ngx` table of `ngx_proxy_wasm_properties.c`; `117-proxy_properties_get.t` TEST 14 |
    /// | `connection.*`/`upstream.*` certificate properties, `response.grpc_status`, `response.trailers`, `plugin_vm_id` | served | `[alert] NYI - "<path>" property` (host-sim: critical), `NOT_FOUND` | Kong: `nyi` in the same table; `118-proxy_properties_get_nyi.t` |
    /// | `node.*` (in a request), `xds.*` | served | `NOT_FOUND`, no log | Kong: not in the `pw2ngx` table |
    /// | property values (`response.code`, `request.duration`, ...) | typed: integers as 8 bytes LE, durations and times in ns | the nginx variable's text: `response.code` is `"200"`, `request.duration` `"0.025"` (s); `request.host` is `$hostname`; `connection.mtls` is absent on plaintext | Envoy: `source/extensions/filters/common/expr/context.cc`; Kong: `pw2ngx` maps each to an nginx variable |
    /// | metric names | as defined (Envoy prefixes `wasmcustom.` internally) | `pw:<filter>:<name>` | Kong: `ngx_proxy_wasm_hfuncs_define_metric` in `ngx_proxy_wasm_host.c`, `docs/METRICS.md` (its `docs/PROXY_WASM_HOST_DIFFERENCES.md` says `pw.`; the code uses colons) |
    /// | metric name length | no limit of its own | `4 + len(filter) + len(name)` over `max_metric_name_length` (256 by default) traps "could not define metric: name ... too long" | Kong: same function; default in `src/ngx_wasmx.h` |
    /// | local response status line | the code's standard reason phrase ([`HostProfile::status_line`]) | the details as reason phrase: `HTTP/1.1 401 jwt_decode_failed{malformed_jwt}` | Kong: `ngx_http_wasm_stash_local_response` in `src/http/ngx_http_wasm_local_response.c` |
    /// | local response body | as sent | a line feed appended to a non-empty body | same function |
    /// | second local response, or one after the response headers were sent | ignored / the stream is reset | traps "local response already stashed" / "response already sent"; a status outside 100-999 is `BAD_ARGUMENT` | Kong: `ngx_proxy_wasm_hfuncs_send_local_response` in `ngx_proxy_wasm_host.c` |
    /// | `proxy_http_call` upstream | a cluster name (`:authority` required) | `host[:port]`, an IP or `unix:path`; `:method` and `:path` required | Kong: `src/http/proxy_wasm/ngx_http_proxy_wasm_dispatch.c` |
    /// | `proxy_set_effective_context` | switches the context | returns OK, does nothing | Kong: `ngx_proxy_wasm_hfuncs_set_effective_context` |
    ///
    /// host-sim does not model nginx variables beyond those the mapped
    /// properties use (`ngx.*` of any other name is `NOT_FOUND`), nor
    /// `resolve_lua`.
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
            _ => GRPC_DEADLINE_EXCEEDED,
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

    /// The name a metric the plugin defines as `name` gets: Kong stores
    /// `pw:<filter>:<name>` (the filter is the plugin name; docs/METRICS.md
    /// "Name Prefixing" and `ngx_proxy_wasm_hfuncs_define_metric`; its
    /// docs/PROXY_WASM_HOST_DIFFERENCES.md still says `pw.<filter>.`, the
    /// code uses colons); Envoy keeps it (Envoy stores it in the `wasmcustom`
    /// stats namespace, which its Prometheus output strips).
    pub fn metric_name(self, plugin: &str, name: &str) -> String {
        match self {
            HostProfile::Kong => format!("pw:{plugin}:{name}"),
            _ => name.to_owned(),
        }
    }

    /// The HTTP/1.1 status line a client receives for a local response.
    /// Envoy writes the status code's standard reason phrase (its HTTP/1
    /// codec, `CodeUtility::toString`); Kong puts the plugin's details there
    /// (`ngx_http_wasm_stash_local_response` builds the status line
    /// `"<status> <details>"`, src/http/ngx_http_wasm_local_response.c),
    /// falling back to nginx's standard phrase when the details are empty.
    pub fn status_line(self, status: u32, details: &str) -> String {
        match self {
            HostProfile::Kong if !details.is_empty() => format!("HTTP/1.1 {status} {details}"),
            _ => format!("HTTP/1.1 {status} {}", reason_phrase(status)),
        }
    }

    /// Whether Envoy's built-in foreign functions exist.
    pub fn has_envoy_foreign_functions(self) -> bool {
        self != HostProfile::Kong
    }

    /// Why the profile cannot link a module importing `env.<name>` (the
    /// load error), `None` when it can: the function's [`KongSupport`] in
    /// the ABI's description, under the Kong profile.
    pub fn link_error(self, name: &str) -> Option<String> {
        if self != HostProfile::Kong {
            return None;
        }
        let function = sluice::abi::host_function(name)?;
        match function.kong {
            KongSupport::Missing => {
                Some(format!("missing host function: env.{name} (ngx_wasm_module does not register it)"))
            }
            KongSupport::OwnSignature => {
                let spec: Vec<&str> = function.wasm_params().map(|_| "i32").collect();
                Some(format!(
                    "incompatible import type for env.{name}: ngx_wasm_module registers it with 2 i32 parameters, \
                     the module imports the spec's ({}) -> i32",
                    spec.join(", ")
                ))
            }
            KongSupport::Same | KongSupport::NotImplemented => None,
        }
    }

    /// Host functions the profile links but does not implement (they trap):
    /// Kong's `NGX_WAVM_NYI` ones in the ABI's description.
    pub fn not_implemented(self, name: &str) -> bool {
        sluice::abi::host_function(name).is_some_and(|f| self.leaves_unimplemented(f))
    }

    /// Whether the profile links `function` but does not implement it (see
    /// [`HostProfile::not_implemented`]); what each host call's gate asks.
    pub(crate) fn leaves_unimplemented(self, function: &HostFunction) -> bool {
        self == HostProfile::Kong && matches!(function.kong, KongSupport::NotImplemented | KongSupport::OwnSignature)
    }
}

/// The standard reason phrase of an HTTP status code (RFC 9110), or
/// `Unknown` as Envoy writes for a code it does not know.
fn reason_phrase(status: u32) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
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

impl Policy {
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
