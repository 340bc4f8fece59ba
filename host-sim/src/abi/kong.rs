//! The `kong` profile: how Kong's nginx module (Kong/ngx_wasm_module, as of
//! its `main` branch of April 2025, on nginx 1.27) answers where Envoy
//! answers otherwise. Each rule names the source file it comes from (paths
//! in the ngx_wasm_module repository unless they start with `nginx:`); the
//! table in [`HostProfile`](crate::HostProfile)'s docs lists them all.
//!
//! Everything here runs from [`super::gate::gate`] before the host function, or
//! from a one-line hook in the ABI module that owns the data (the request
//! header view, the local response body, the forwarded request headers).

use std::borrow::Cow;

use wasmtime::Caller;

use crate::abi::memory::{self, HostError, HostResult};
use crate::state::headers::HeaderMap;
use crate::state::pairs;
use crate::state::properties::split_path;
use crate::store::{Callback, VmState};
use crate::types::{LogLevel, MapType, Status};

/// What the plugin reads as the request's `:authority` on Kong: the
/// `server_name` of the nginx `server{}` block (nginx's default is empty,
/// and then the machine's host name) and the port of the listening socket
/// (`ngx_proxy_wasm_maps_get_authority`, src/common/proxy_wasm/ngx_proxy_wasm_maps.c).
/// host-sim models the default `server_name` on a host named `localhost`
/// listening on port 80. The client's `Host` header stays readable as `host`.
pub const SERVER_AUTHORITY: &str = "localhost:80";

/// The machine's host name as nginx reports it (`$hostname`): what
/// `request.host` reads on Kong (it maps to `ngx.hostname`).
pub const HOSTNAME: &str = "localhost";

/// ngx_wasm_module's default `max_metric_name_length`
/// (`NGX_WA_METRICS_DEFAULT_MAX_NAME_LEN`, src/ngx_wasmx.h).
pub const MAX_METRIC_NAME_LENGTH: usize = 256;

/// Request pseudo-headers Kong cannot set (no setter in
/// `ngx_proxy_wasm_maps_special_keys`, src/common/proxy_wasm/ngx_proxy_wasm_maps.c).
const READ_ONLY: [&[u8]; 2] = [b":authority", b":scheme"];

/// Properties ngx_wasm_module declares "not supported": an `[error]` log
/// line `"<path>" property not supported` and `NOT_FOUND`
/// (`not_supported` in src/common/proxy_wasm/ngx_proxy_wasm_properties.c;
/// t/03-proxy_wasm/hfuncs/117-proxy_properties_get.t, TEST 14).
const NOT_SUPPORTED: [&str; 11] = [
    "response.code_details",
    "response.flags",
    "connection.termination_details",
    "node",
    "cluster_name",
    "cluster_metadata",
    "listener_direction",
    "listener_metadata",
    "route_name",
    "route_metadata",
    "upstream_host_metadata",
];

/// Properties ngx_wasm_module has not implemented: an `[alert]` log line
/// `NYI - "<path>" property` and `NOT_FOUND` (`nyi` in
/// src/common/proxy_wasm/ngx_proxy_wasm_properties.c; `NGX_LOG_WASM_NYI` is
/// `NGX_LOG_ALERT`, src/wasm/ngx_wasm.h; t/03-proxy_wasm/hfuncs/118-proxy_properties_get_nyi.t).
const NYI: [&str; 19] = [
    "response.grpc_status",
    "response.trailers",
    "upstream.tls_version",
    "upstream.subject_local_certificate",
    "upstream.subject_peer_certificate",
    "upstream.dns_san_local_certificate",
    "upstream.dns_san_peer_certificate",
    "upstream.uri_san_local_certificate",
    "upstream.uri_san_peer_certificate",
    "upstream.sha256_peer_certificate_digest",
    "upstream.local_address",
    "upstream.transport_failure_reason",
    "connection.subject_peer_certificate",
    "connection.dns_san_local_certificate",
    "connection.dns_san_peer_certificate",
    "connection.uri_san_local_certificate",
    "connection.uri_san_peer_certificate",
    "connection.sha256_peer_certificate_digest",
    "plugin_vm_id",
];

/// The Envoy attributes ngx_wasm_module maps to nginx variables (`pw2ngx`
/// in src/common/proxy_wasm/ngx_proxy_wasm_properties.c), by the variable.
/// Every value is the variable's text, never Envoy's binary encoding.
const MAPPED: [(&str, &str); 17] = [
    ("request.path", "request_uri"),
    ("request.url_path", "uri"),
    ("request.host", "hostname"),
    ("request.scheme", "scheme"),
    ("request.method", "request_method"),
    ("request.useragent", "http_user_agent"),
    ("request.protocol", "server_protocol"),
    ("request.query", "args"),
    ("request.duration", "request_time"),
    ("request.size", "content_length"),
    ("request.total_size", "request_length"),
    ("response.code", "status"),
    ("response.size", "body_bytes_sent"),
    ("response.total_size", "bytes_sent"),
    ("destination.address", "proxy_protocol_addr"),
    ("destination.port", "proxy_protocol_port"),
    ("source.address", "remote_addr"),
];

fn trap(message: String) -> HostResult {
    Err(HostError::Trap(wasmtime::Error::msg(message)))
}

fn log(state: &mut VmState, level: LogLevel, message: String) {
    let context_id = state.effective;
    state.log_line(level, context_id, message);
}

fn read(caller: &mut Caller<'_, VmState>, ptr: u64, len: u64) -> Result<Vec<u8>, Status> {
    let (Ok(ptr), Ok(len)) = (u32::try_from(ptr), u32::try_from(len)) else { return Err(Status::InvalidMemoryAccess) };
    memory::with_memory(caller, |data, _| Ok(memory::slice(data, ptr, len)?.to_vec()))
}

/// Kong's answer for host function `name`, where it differs from Envoy's
/// (`None`: run the function as usual, possibly after noting something).
/// A bad pointer reads as `INVALID_MEMORY_ACCESS`, as the function itself
/// would answer.
pub(super) fn gate(caller: &mut Caller<'_, VmState>, name: &str, args: &[u64]) -> Option<HostResult> {
    match (name, args) {
        // src/common/proxy_wasm/ngx_proxy_wasm_host.c `ngx_proxy_wasm_hfuncs_set_effective_context`
        // is a no-op that returns OK.
        ("proxy_set_effective_context", _) => Some(Ok(())),
        ("proxy_http_call" | "proxy_dispatch_http_call", [ptr, len, ..]) => http_call(caller, *ptr, *len),
        ("proxy_call_foreign_function", [ptr, len, ..]) => foreign_function(caller, *ptr, *len),
        ("proxy_define_metric", [kind, ptr, len, ..]) => define_metric(caller, *kind, *ptr, *len),
        ("proxy_send_local_response", [status, ..]) => local_response_checks(caller.data(), *status),
        ("proxy_get_property", [ptr, len, ptr_ptr, size_ptr]) => {
            Some(get_property(caller, *ptr, *len, *ptr_ptr, *size_ptr))
        }
        ("proxy_set_property", [ptr, len, ..]) => Some(set_property(caller, *ptr, *len, args)),
        (
            "proxy_add_header_map_value" | "proxy_replace_header_map_value" | "proxy_remove_header_map_value",
            [0, ptr, len, ..],
        ) => header_edit(caller, name, *ptr, *len),
        ("proxy_set_header_map_pairs", [0, ptr, len]) => set_request_pairs(caller, *ptr, *len),
        _ => None,
    }
}

/// `proxy_http_call` takes an upstream `host[:port]`, an IP or a `unix:`
/// path (src/http/proxy_wasm/ngx_http_proxy_wasm_dispatch.c).
fn http_call(caller: &mut Caller<'_, VmState>, ptr: u64, len: u64) -> Option<HostResult> {
    match read(caller, ptr, len) {
        Ok(u) if upstream_ok(&u) => None,
        Ok(u) => {
            let message = format!(
                "dispatch failed: invalid upstream \"{}\" (expected host[:port], an IP or unix:path)",
                String::from_utf8_lossy(&u)
            );
            super::log_error(caller.data_mut(), message);
            Some(Err(Status::BadArgument.into()))
        }
        Err(status) => Some(Err(status.into())),
    }
}

/// Kong knows one foreign function, `resolve_lua` (with Lua support); any
/// other name traps the VM: `ngx_proxy_wasm_hfuncs_call_foreign_function`
/// returns `ngx_proxy_wasm_result_trap(pwexec, "unknown foreign function")`
/// (src/common/proxy_wasm/ngx_proxy_wasm_host.c). A function the test
/// registers ([`Host::register_foreign_function`](crate::Host), a scenario's
/// `[foreign_functions]`) stands for such a host extension and is called.
fn foreign_function(caller: &mut Caller<'_, VmState>, ptr: u64, len: u64) -> Option<HostResult> {
    let name = match read(caller, ptr, len) {
        Ok(name) => name,
        Err(status) => return Some(Err(status.into())),
    };
    if caller.data().world().foreign.contains(&name) {
        return None;
    }
    Some(trap(format!(
        "host trap (unknown foreign function): {} (Kong's ngx_wasm_module has no Envoy foreign functions; it knows \
         only resolve_lua)",
        String::from_utf8_lossy(&name)
    )))
}

/// Kong stores a metric as `pw:<filter>:<name>` and traps when that is
/// longer than `max_metric_name_length`, or for an unknown type
/// (`ngx_proxy_wasm_hfuncs_define_metric`, src/common/proxy_wasm/ngx_proxy_wasm_host.c;
/// docs/METRICS.md "Name Prefixing").
fn define_metric(caller: &mut Caller<'_, VmState>, kind: u64, ptr: u64, len: u64) -> Option<HostResult> {
    let name = match read(caller, ptr, len) {
        Ok(name) => name,
        Err(status) => return Some(Err(status.into())),
    };
    let name = String::from_utf8_lossy(&name);
    if kind > 2 {
        return Some(trap(format!("host trap: could not define metric \"{name}\": unknown type \"{kind}\" (Kong)")));
    }
    let state = caller.data();
    let filter = state.effective_root().and_then(|r| state.plugins.get(&r)).map_or(0, |p| p.name.len());
    if 4 + filter + name.len() > MAX_METRIC_NAME_LENGTH {
        return Some(trap(format!(
            "host trap: could not define metric: name \"{name}\" too long (Kong stores it as pw:<filter>:<name>, \
             {} bytes here, over max_metric_name_length {MAX_METRIC_NAME_LENGTH})",
            4 + filter + name.len()
        )));
    }
    None
}

/// `ngx_http_wasm_stash_local_response` (src/http/ngx_http_wasm_local_response.c):
/// a status outside 100-999 is `BAD_ARGUMENT`; a second local response, or
/// one after the response headers were sent, traps
/// (`ngx_proxy_wasm_hfuncs_send_local_response`, src/common/proxy_wasm/ngx_proxy_wasm_host.c).
fn local_response_checks(state: &VmState, status: u64) -> Option<HostResult> {
    if !(100..=999).contains(&status) {
        return Some(Err(Status::BadArgument.into()));
    }
    let stream = state.http.get(&state.effective)?;
    if stream.local_response.is_some() {
        return Some(trap("host trap (bad usage): local response already stashed (Kong)".to_owned()));
    }
    if stream.response.sent.headers.is_some() {
        return Some(trap("host trap (bad usage): response already sent (Kong)".to_owned()));
    }
    None
}

/// Kong's local response body: nginx appends a line feed to a non-empty
/// body (`*b->last++ = LF` in `ngx_http_wasm_stash_local_response`,
/// src/http/ngx_http_wasm_local_response.c).
pub(crate) fn local_response_body(body: &mut Vec<u8>) {
    if !body.is_empty() {
        body.push(b'\n');
    }
}

/// The request headers as a plugin reads them on Kong: the pseudo-headers
/// first (`:path`, `:method`, `:scheme`, `:authority` as nginx computes it),
/// then the client's headers, `host` (the client's `Host`, which Envoy
/// calls `:authority`) first (`ngx_proxy_wasm_maps_get_all`,
/// src/common/proxy_wasm/ngx_proxy_wasm_maps.c).
pub(crate) fn request_view(map: &HeaderMap) -> HeaderMap {
    let mut view = HeaderMap::new();
    for key in [&b":path"[..], b":method", b":scheme"] {
        if let Some(value) = map.get(key) {
            view.add(key, value);
        }
    }
    view.add(b":authority", SERVER_AUTHORITY.as_bytes());
    if map.get(b"host").is_none()
        && let Some(client) = map.get(b":authority")
    {
        view.add(b"host", client);
    }
    for (key, value) in map.entries() {
        if !key.starts_with(b":") {
            view.add(key, value);
        }
    }
    view
}

/// The request header map as the plugin reads it under `profile`.
pub(crate) fn readable<'m>(kind: MapType, map: Cow<'m, HeaderMap>) -> Cow<'m, HeaderMap> {
    match kind {
        MapType::HttpRequestHeaders => Cow::Owned(request_view(&map)),
        _ => map,
    }
}

/// The request headers, if the stream has them and has not forwarded them.
fn pending_request(state: &mut VmState) -> Option<&mut crate::state::http::Flow> {
    let flow = &mut state.http.get_mut(&state.effective)?.request;
    (flow.headers.is_some() && flow.sent.headers.is_none()).then_some(flow)
}

/// Add, replace or remove one request header.
///
/// Kong refuses to set `:authority` and `:scheme`: an `[error]` log line
/// `cannot set read-only ":authority" header`, and the call returns OK
/// (`ngx_proxy_wasm_maps_set`, src/common/proxy_wasm/ngx_proxy_wasm_maps.c;
/// t/03-proxy_wasm/hfuncs/111-proxy_set_http_request_header.t TEST 19).
///
/// A removed request header still reaches the upstream: nginx marks the
/// list entry deleted (`hash = 0`, `ngx_http_wasm_set_header_helper` in
/// src/http/ngx_http_wasm_headers.c), the plugin's later reads skip it, but
/// `proxy_pass` builds the upstream request from every entry
/// (`ngx_http_proxy_create_request`, nginx: src/http/modules/ngx_http_proxy_module.c,
/// which does not test `hash`). Replacing a header updates its first entry
/// and deletes the others the same way.
fn header_edit(caller: &mut Caller<'_, VmState>, name: &str, ptr: u64, len: u64) -> Option<HostResult> {
    let key = match read(caller, ptr, len) {
        Ok(key) => key,
        Err(status) => return Some(Err(status.into())),
    };
    let state = caller.data_mut();
    if READ_ONLY.iter().any(|k| k.eq_ignore_ascii_case(&key)) {
        if pending_request(state).is_some() || state.http.contains_key(&state.effective) {
            let message = format!("cannot set read-only \"{}\" header (Kong)", String::from_utf8_lossy(&key));
            log(state, LogLevel::Error, message);
            return Some(Ok(()));
        }
        return None;
    }
    if name == "proxy_add_header_map_value" {
        return None;
    }
    let flow = pending_request(state)?;
    let headers = flow.headers.as_ref().expect("pending request has headers");
    let skip = usize::from(name == "proxy_replace_header_map_value");
    let indices: Vec<usize> = headers
        .entries()
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| k.eq_ignore_ascii_case(&key))
        .map(|(i, _)| i)
        .skip(skip)
        .collect();
    flow.kong_delete(&indices);
    None
}

/// `proxy_set_header_map_pairs` on the request: Kong deletes every client
/// header first (each still reaches the upstream, as in [`header_edit`])
/// and then sets the pairs in order; a read-only pseudo-header among them
/// logs the error and ends the call there, OK, without setting the rest
/// (`ngx_proxy_wasm_maps_set_all` returns at the first `NGX_ABORT`).
fn set_request_pairs(caller: &mut Caller<'_, VmState>, ptr: u64, len: u64) -> Option<HostResult> {
    let bytes = match read(caller, ptr, len) {
        Ok(bytes) => bytes,
        Err(status) => return Some(Err(status.into())),
    };
    let state = caller.data_mut();
    let flow = pending_request(state)?;
    let headers = flow.headers.as_ref().expect("pending request has headers");
    let deleted: Vec<usize> =
        headers.entries().iter().enumerate().filter(|(_, (k, _))| !k.starts_with(b":")).map(|(i, _)| i).collect();
    flow.kong_delete(&deleted);
    let pairs = pairs::decode(&bytes);
    let stop = pairs.iter().position(|(k, _)| READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(k)))?;
    let headers = flow.headers.as_mut().expect("pending request has headers");
    let pseudo: Vec<(Vec<u8>, Vec<u8>)> =
        headers.entries().iter().filter(|(k, _)| k.starts_with(b":")).cloned().collect();
    *headers = HeaderMap::from_pairs(pseudo);
    for (k, v) in &pairs[..stop] {
        headers.replace(k, v);
    }
    let message = format!("cannot set read-only \"{}\" header (Kong)", String::from_utf8_lossy(&pairs[stop].0));
    log(state, LogLevel::Error, message);
    Some(Ok(()))
}

/// Outside a request (root callbacks, `on_tick`) Kong has no request
/// context: any dotted path fails (`ngx_proxy_wasm_properties_get`/`_set`,
/// src/common/proxy_wasm/ngx_proxy_wasm_properties.c; 117-proxy_properties_get.t TEST 19-22).
fn outside_request(state: &VmState) -> bool {
    !state.http.contains_key(&state.effective) && state.callback != Some(Callback::HttpCallResponse)
}

/// What Kong answers for a property path (dotted).
enum Answer {
    Value(Vec<u8>),
    NotFound,
    /// Logged, then `NOT_FOUND`.
    Logged(LogLevel, String),
    /// Logged, then `INTERNAL_FAILURE`.
    Failed(String),
}

fn get_property(caller: &mut Caller<'_, VmState>, ptr: u64, len: u64, ptr_ptr: u64, size_ptr: u64) -> HostResult {
    let raw = read(caller, ptr, len)?;
    let path = split_path(&raw).join(".");
    let answer = property(caller.data(), &path);
    let state = caller.data_mut();
    let value = match answer {
        Answer::Value(v) => v,
        Answer::NotFound => return Err(Status::NotFound.into()),
        Answer::Logged(level, message) => {
            log(state, level, message);
            return Err(Status::NotFound.into());
        }
        Answer::Failed(message) => {
            log(state, LogLevel::Error, message);
            return Err(Status::InternalFailure.into());
        }
    };
    let (Ok(ptr_ptr), Ok(size_ptr)) = (u32::try_from(ptr_ptr), u32::try_from(size_ptr)) else {
        return Err(Status::InvalidMemoryAccess.into());
    };
    memory::return_bytes(caller, &value, ptr_ptr, size_ptr)
}

/// Kong's answer for `path`: the attribute table, then `ngx.*` (nginx
/// variables) and `wasmx.*` (host properties the plugin set); anything else
/// is `NOT_FOUND`, silently (`node.metadata` included: only `node` itself
/// is declared).
fn property(state: &VmState, path: &str) -> Answer {
    if path.contains('.') && outside_request(state) {
        return Answer::Failed("cannot get scoped properties outside of a request (Kong)".to_owned());
    }
    if NOT_SUPPORTED.contains(&path) {
        return Answer::Logged(LogLevel::Error, format!("\"{path}\" property not supported (Kong)"));
    }
    if NYI.contains(&path) {
        return Answer::Logged(LogLevel::Critical, format!("NYI - \"{path}\" property (Kong)"));
    }
    if let Some((_, variable)) = MAPPED.iter().find(|(p, _)| *p == path) {
        return variable_answer(state, variable);
    }
    let stream = state.http.get(&state.effective);
    let header = |map: Option<&HeaderMap>, name: &str| {
        map.and_then(|m| m.get(name.as_bytes())).map_or(Answer::NotFound, |v| Answer::Value(v.to_vec()))
    };
    match path {
        "plugin_name" => state
            .effective_root()
            .and_then(|r| state.plugins.get(&r))
            .map_or(Answer::NotFound, |p| Answer::Value(p.name.clone().into_bytes())),
        "plugin_root_id" => Answer::Value(state.effective_root().unwrap_or(0).to_string().into_bytes()),
        "request.id" => header(stream.and_then(|s| s.request.headers.as_ref()), "x-request-id"),
        "request.referer" => header(stream.and_then(|s| s.request.headers.as_ref()), "referer"),
        "request.time" => {
            envoy_i64(state, &["request", "time"]).map_or(Answer::NotFound, |ns| Answer::Value(seconds(ns)))
        }
        "request.is_subrequest" => Answer::Value(b"false".to_vec()),
        "connection.id" => Answer::Value(state.effective.to_string().into_bytes()),
        // `connection.mtls` reads `$https` and `$ssl_client_verify`; the
        // latter does not exist on a plaintext connection: NOT_FOUND.
        "connection.mtls" | "connection.requested_server_name" | "connection.tls_version" => Answer::NotFound,
        "upstream.address" | "upstream.port" => upstream(state, path == "upstream.port"),
        "source.port" => variable_answer(state, "remote_port"),
        _ => {
            if let Some(name) = path.strip_prefix("request.headers.") {
                let view = stream.and_then(|s| s.request.headers.as_ref()).map(request_view);
                return header(view.as_ref(), &name.to_ascii_lowercase());
            }
            if let Some(name) = path.strip_prefix("response.headers.") {
                return header(stream.and_then(|s| s.response.headers.as_ref()), &name.to_ascii_lowercase());
            }
            if let Some(variable) = path.strip_prefix("ngx.") {
                return variable_answer(state, variable);
            }
            if path.starts_with("wasmx.") {
                let value = state.stream_properties.get(&state.effective).and_then(|t| t.get(&[path]));
                return value.map_or(Answer::NotFound, |v| Answer::Value(v.serialize()));
            }
            Answer::NotFound
        }
    }
}

fn envoy_i64(state: &VmState, path: &[&str]) -> Option<i64> {
    let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
    let bytes = crate::abi::properties::resolve(state, &path).ok()?;
    Some(i64::from_le_bytes(bytes.try_into().ok()?))
}

fn envoy_text(state: &VmState, path: &[&str]) -> Option<Vec<u8>> {
    let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
    crate::abi::properties::resolve(state, &path).ok()
}

/// nginx's `%T.%03M`: seconds with milliseconds.
fn seconds(ns: i64) -> Vec<u8> {
    let ms = ns.max(0) / 1_000_000;
    format!("{}.{:03}", ms / 1000, ms % 1000).into_bytes()
}

/// `host:port` split at the last colon.
fn split_address(address: &[u8], port: bool) -> Option<Vec<u8>> {
    let colon = address.iter().rposition(|b| *b == b':')?;
    Some(if port { address[colon + 1..].to_vec() } else { address[..colon].to_vec() })
}

/// `upstream.address`/`upstream.port`: only once nginx has an upstream
/// (`r->upstream`), i.e. from the response on.
fn upstream(state: &VmState, port: bool) -> Answer {
    let responded = state.http.get(&state.effective).is_some_and(|s| s.response.headers.is_some());
    if !responded {
        return Answer::NotFound;
    }
    envoy_text(state, &["upstream", "address"])
        .and_then(|a| split_address(&a, port))
        .map_or(Answer::NotFound, Answer::Value)
}

/// An nginx variable, as the text nginx gives (`ngx_proxy_wasm_properties_get_ngx`).
fn variable_answer(state: &VmState, variable: &str) -> Answer {
    variable_value(state, variable).map_or(Answer::NotFound, Answer::Value)
}

fn variable_value(state: &VmState, variable: &str) -> Option<Vec<u8>> {
    let stream = state.http.get(&state.effective)?;
    let request = stream.request.headers.as_ref();
    let int = |path: &[&str]| envoy_i64(state, path).map(|n| n.to_string().into_bytes());
    match variable {
        "hostname" => Some(HOSTNAME.as_bytes().to_vec()),
        "request_uri" => envoy_text(state, &["request", "path"]),
        "uri" => envoy_text(state, &["request", "url_path"]),
        "scheme" => envoy_text(state, &["request", "scheme"]),
        "request_method" => envoy_text(state, &["request", "method"]),
        "server_protocol" => envoy_text(state, &["request", "protocol"]),
        "args" => {
            let path = envoy_text(state, &["request", "path"])?;
            let query = path.iter().position(|b| *b == b'?').map_or(Vec::new(), |q| path[q + 1..].to_vec());
            Some(query)
        }
        "request_time" => envoy_i64(state, &["request", "duration"]).map(seconds),
        "content_length" => request?.get(b"content-length").map(<[u8]>::to_vec),
        "request_length" => int(&["request", "total_size"]),
        // `$status`: "000" until nginx has a status (ngx_http_variable_status).
        "status" => Some(format!("{:03}", envoy_i64(state, &["response", "code"]).unwrap_or(0)).into_bytes()),
        "body_bytes_sent" => int(&["response", "size"]).or(Some(b"0".to_vec())),
        "bytes_sent" => int(&["response", "total_size"]).or(Some(b"0".to_vec())),
        "remote_addr" => envoy_text(state, &["source", "address"]).and_then(|a| split_address(&a, false)),
        "remote_port" => envoy_text(state, &["source", "address"]).and_then(|a| split_address(&a, true)),
        // No PROXY protocol on the connection: the variables do not exist.
        "proxy_protocol_addr" | "proxy_protocol_port" => None,
        _ => {
            let name = variable.strip_prefix("http_")?.replace('_', "-");
            request?.get(name.as_bytes()).map(<[u8]>::to_vec)
        }
    }
}

/// `proxy_set_property` on Kong: `ngx.*` and the mapped attributes set
/// nginx variables, which are not changeable (an `[error]` log line,
/// `INTERNAL_FAILURE`); `wasmx.*` stores a host property on the stream;
/// anything else is `NOT_FOUND` (`ngx_proxy_wasm_properties_set`).
fn set_property(caller: &mut Caller<'_, VmState>, ptr: u64, len: u64, args: &[u64]) -> HostResult {
    let raw = read(caller, ptr, len)?;
    let path = split_path(&raw).join(".");
    let state = caller.data_mut();
    if path.contains('.') && outside_request(state) {
        log(state, LogLevel::Error, "cannot set scoped properties outside of a request (Kong)".to_owned());
        return Err(Status::InternalFailure.into());
    }
    let variable = path.strip_prefix("ngx.").or_else(|| MAPPED.iter().find(|(p, _)| *p == path).map(|(_, v)| *v));
    if let Some(variable) = variable {
        log(state, LogLevel::Error, format!("variable \"{variable}\" is not changeable (Kong)"));
        return Err(Status::InternalFailure.into());
    }
    if !path.starts_with("wasmx.") {
        return Err(Status::NotFound.into());
    }
    let value = match args {
        [_, _, value, value_len] => read(caller, *value, *value_len)?,
        _ => Vec::new(),
    };
    let state = caller.data_mut();
    let id = state.effective;
    let tree = state.stream_properties.entry(id).or_default();
    tree.set(&[path.as_str()], crate::state::properties::Value::Bytes(value))?;
    Ok(())
}

/// Whether an upstream is `host[:port]`, an IP or `unix:path`.
fn upstream_ok(upstream: &[u8]) -> bool {
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
