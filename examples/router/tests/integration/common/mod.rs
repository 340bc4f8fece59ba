//! Shared by the router's host-sim tests: the plugin built from source, a
//! host with it loaded, and a counter of `clear_route_cache` calls.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use guest_build::{Guest, Target};
use host_sim::{HeaderMap, Host, HttpOutcome, Mode, PluginId, PluginSpec, Request, Response};

/// The router compiled to wasm for `target` (built once per test binary).
pub fn wasm(target: Target) -> Vec<u8> {
    Guest::package("sluice-example-router")
        .target(target)
        .bytes()
        .unwrap_or_else(|e| panic!("the router builds for {}: {e}", target.triple()))
}

/// The router in `mode`: natively compiled, or built for wasm32-wasip1.
pub fn spec(mode: Mode) -> PluginSpec {
    mode.spec(sluice_example_router::plugin::sluice_main, || wasm(Target::Wasip1))
}

/// A host running the router in `mode` with `config`.
pub fn host(mode: Mode, config: &str) -> (Host, PluginId) {
    host_with(mode, config, |spec| spec)
}

/// A host running the router in `mode`, with `config` and more settings
/// from `spec`.
pub fn host_with(mode: Mode, config: &str, spec: impl FnOnce(PluginSpec) -> PluginSpec) -> (Host, PluginId) {
    load(self::spec(mode), config, spec)
}

/// A host running the router built for `target`, with `config` and more
/// settings from `spec`.
pub fn host_for(target: Target, config: &str, spec: impl FnOnce(PluginSpec) -> PluginSpec) -> (Host, PluginId) {
    load(PluginSpec::from_bytes(wasm(target)), config, spec)
}

fn load(base: PluginSpec, config: &str, spec: impl FnOnce(PluginSpec) -> PluginSpec) -> (Host, PluginId) {
    let mut host = Host::new();
    let plugin = host
        .load(spec(base.name("router").configuration(config)))
        .unwrap_or_else(|e| panic!("router starts with {config}: {e}; logs: {:?}", host.logs()));
    (host, plugin)
}

/// Registers `clear_route_cache` on `host` and returns how often it was called.
pub fn count_clear_route_cache(host: &mut Host) -> Arc<AtomicUsize> {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    host.register_foreign_function("clear_route_cache", move |args| {
        assert!(args.is_empty(), "clear_route_cache takes no arguments, got {args:?}");
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(Vec::new())
    });
    calls
}

/// Reads a call counter.
pub fn calls(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

/// A GET request with extra headers.
pub fn get(path: &str, headers: &[(&str, &str)]) -> Request {
    headers.iter().fold(Request::get(path), |r, (k, v)| r.header(k, v))
}

/// Runs one request through the plugin with a 200 response; checks the VM is healthy.
pub fn run(host: &mut Host, plugin: PluginId, request: Request) -> HttpOutcome {
    let outcome = host.run_http(plugin, request, Response::ok()).expect("the stream runs");
    assert_eq!(host.failure(plugin), None, "the VM must not fail");
    assert!(outcome.request_action.is_some_and(|a| a.is_continue()), "the request continues: {outcome:?}");
    outcome
}

/// The request headers the upstream received.
pub fn upstream(outcome: &HttpOutcome) -> &HeaderMap {
    outcome.upstream_request.headers.as_ref().expect("the upstream received the request headers")
}

/// Every value of `name` the upstream received, as text.
pub fn values(outcome: &HttpOutcome, name: &str) -> Vec<String> {
    upstream(outcome).get_all(name.as_bytes()).map(|v| String::from_utf8_lossy(v).into_owned()).collect()
}

/// The counter of decisions by `rule` for `cluster` (0 if never defined).
pub fn decisions(host: &Host, rule: &str, cluster: &str) -> u64 {
    host.counter(&format!("route_rule=.={rule};.;route_cluster=.={cluster};.;route_decisions")).unwrap_or(0)
}

/// The independent reference of the documented bucket formula:
/// `fnv1a_32(salt ++ value) % 100`.
pub fn bucket(salt: &[u8], value: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &b in salt.iter().chain(value) {
        hash = (hash ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    hash % 100
}

/// How often the plugin called a host function.
pub fn host_calls(host: &Host, function: &str) -> Vec<i32> {
    host.trace().into_iter().filter(|c| c.function == function).map(|c| c.result).collect()
}
