//! host-sim: a Proxy-Wasm host on wasmtime for testing plugins without Envoy.
//!
//! It loads any Proxy-Wasm module (ABI 0.1.0, 0.2.0 or 0.2.1), links every
//! host function of its ABI version plus the whole WASI preview 1 surface, and
//! drives the plugin through Envoy's lifecycle: VM start, plugin configure,
//! HTTP streams and TCP connections, timers, queues, callouts. Everything the
//! plugin did can be inspected: the request as the upstream saw it, the
//! response as the client saw it, the local response, logs, metrics, shared
//! data, queues, the tick period, callouts, and a trace of every host call.
//!
//! ```no_run
//! use host_sim::{Host, LogLevel, PluginSpec, Request, Response};
//!
//! # fn main() -> Result<(), host_sim::Error> {
//! let mut host = Host::new();
//! let plugin = host.load(PluginSpec::from_file("plugin.wasm")?.configuration(r#"{"header":"x-hello"}"#))?;
//!
//! // One request and its response, in one call:
//! let outcome = host.run_http(plugin, Request::get("/hello"), Response::ok().body("hi"))?;
//! assert_eq!(outcome.client_response.headers.unwrap().get_str("powered-by"), Some("proxy-wasm"));
//!
//! // Or phase by phase:
//! let mut stream = host.http_stream(plugin)?;
//! let action = stream.request_headers([(":path", "/"), (":method", "GET")], true)?;
//! assert!(action.is_continue());
//! stream.response_headers([(":status", "200")], true)?;
//! let outcome = stream.complete()?;
//! assert!(outcome.local_response.is_none());
//! assert!(host.logs_at(LogLevel::Info).iter().any(|l| l.contains("completed")));
//! # Ok(()) }
//! ```
//!
//! Layout, in layers that only import downwards (checked by
//! `cargo test -p host-sim --test integration layers::`, which reads these
//! files and fails on a cycle or an upward import):
//!
//! 1. plain data: [`types`], the private `error`, [`state`] (the pure host
//!    state, one module per area), the private `store` (what a VM's
//!    wasmtime store carries), [`limits`], [`failure`], the private `faults`,
//!    `policy` (host profiles, capabilities) and `spec` (plugin specs);
//! 2. the ABI layer: the private `abi` modules marshal each ABI area
//!    between guest memory and the store, `abi::gate` holds each host
//!    call's gate (phases, strict mode, capabilities) and `abi::kong` Kong's
//!    differences;
//! 3. [`engine`] compiles, links and pre-instantiates modules;
//! 4. the private `vm` module drives a VM through Envoy's lifecycle, and
//!    [`native`] is the null VM;
//! 5. the private `host` folder holds [`Host`] with every one of its `impl`
//!    blocks, and the stream, chain and exchange handles;
//! 6. [`dual`] and [`compat`] build on it; then [`report`], [`istio`],
//!    [`oci`], [`scenario`], and the `host-sim` binary on top.
// Only the null VM's bridge and thread binding need `unsafe` (see `native`).
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod abi;
pub mod compat;
pub mod dual;
pub mod engine;
mod error;
pub mod failure;
mod faults;
mod host;
pub mod istio;
pub mod limits;
#[allow(unsafe_code)]
pub mod native;
pub mod oci;
mod policy;
pub mod report;
pub mod scenario;
mod spec;
pub mod state;
pub(crate) mod store;
pub mod types;
mod vm;

#[doc(no_inline)]
pub use chain::{Chain, ChainOutcome, ChainStreamId, HttpChainStream, LinkOutcome, TcpChainOutcome, TcpChainStream};
pub use dual::Mode;
pub use error::Error;
pub use failure::{FailPolicy, Rebuild, Rebuilds};
pub use faults::{DEFAULT_CPU_DEADLINE, DEFAULT_MEMORY_LIMIT, FuelUsage};
pub use host::chain;
pub use host::exchange::{Exchange, Request, Response};
pub use host::streams::{HttpOutcome, HttpStream, StreamId, TcpOutcome, TcpStream};
pub use host::{CalloutId, Host, HostOptions};
pub use limits::{Limit, LimitExceeded, Limits, Usage};
#[doc(no_inline)]
pub use native::NativeEntry;
pub use policy::GRPC_DEADLINE_EXCEEDED;
pub use policy::HostProfile;
pub use spec::{PluginId, PluginSpec};
pub use state::callouts::{CalloutEnd, GrpcCallout, GrpcKind, HttpCallout};
pub use state::foreign::{DeclaredProperty, FilterState};
pub use state::headers::HeaderMap;
pub use state::http::{EndReason, LocalResponse, Message};
pub use state::logs::{HostCall, LogRecord};
pub use state::metrics::MetricValue;
pub use state::properties::Value;
pub use state::routes::{HeaderMatch, Route, RouteAction, RouteCache, RouteTable, SelectedRoute, VirtualHost};
pub use types::{AbiVersion, Action, BufferType, LogLevel, MapType, MetricType, PeerType, Status, StreamType};
pub use vm::{GrpcEvent, HttpCallResponse};

/// The linked host functions, for signature checks against the reference
/// tables: `(module, name, params, results)` with wasm value type names.
pub fn linked_functions(abi: AbiVersion) -> Result<Vec<engine::LinkedFunction>, Error> {
    engine::linked_functions(abi)
}
