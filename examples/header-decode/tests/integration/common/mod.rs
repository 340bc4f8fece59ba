//! Shared by the host-sim tests: the plugin built from source, token
//! makers, and small readers of what the upstream and client saw.

#![allow(dead_code)]

use guest_build::{Guest, Target};
use host_sim::{Host, HttpOutcome, LocalResponse, Mode, PluginId, PluginSpec};

/// The plugin's wasm, built from source for `target` (once per process).
pub fn wasm(target: Target) -> Vec<u8> {
    Guest::package("sluice-example-header-decode")
        .target(target)
        .bytes()
        .unwrap_or_else(|e| panic!("building the plugin for {}: {e}", target.triple()))
}

/// The plugin in `mode`: natively compiled, or built for wasm32-wasip1.
pub fn spec(mode: Mode) -> PluginSpec {
    mode.spec(sluice_example_header_decode::sluice_main, || wasm(Target::Wasip1))
}

/// A host with the plugin loaded in `mode` with `configuration`.
pub fn host(mode: Mode, configuration: &str) -> (Host, PluginId) {
    load(spec(mode), configuration)
}

/// A host with the plugin built for `target` loaded with `configuration`.
pub fn host_for(target: Target, configuration: &str) -> (Host, PluginId) {
    load(PluginSpec::from_bytes(wasm(target)), configuration)
}

fn load(spec: PluginSpec, configuration: &str) -> (Host, PluginId) {
    let mut host = Host::new();
    let plugin = host
        .load(spec.configuration(configuration))
        .unwrap_or_else(|e| panic!("loading the plugin: {e}\nlogs: {:#?}", host_logs(&host)));
    (host, plugin)
}

fn host_logs(host: &Host) -> Vec<String> {
    host.logs().into_iter().map(|r| format!("{:?}: {}", r.level, r.message)).collect()
}

/// Base64url without padding, as JWT segments are encoded.
pub fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// A compact JWS with this payload JSON (the signature is not checked by
/// the plugin: `jwt_authn` verifies it before).
pub fn jwt(payload: &str) -> String {
    format!("{}.{}.{}", b64url(br#"{"alg":"RS256","typ":"JWT"}"#), b64url(payload.as_bytes()), b64url(b"signature"))
}

/// `Bearer <jwt>` for this payload JSON.
pub fn bearer(payload: &str) -> String {
    format!("Bearer {}", jwt(payload))
}

/// Every value of `name` the upstream received, as text.
pub fn upstream(outcome: &HttpOutcome, name: &str) -> Vec<String> {
    let headers = outcome.upstream_request.headers.as_ref().expect("the upstream received the request");
    headers.get_all(name.as_bytes()).map(|v| String::from_utf8_lossy(v).into_owned()).collect()
}

/// The local reply, which must have been sent.
pub fn local(outcome: &HttpOutcome) -> &LocalResponse {
    outcome.local_response.as_ref().expect("a local reply was sent")
}

/// The counter's value, 0 if it was never defined or incremented.
pub fn counter(host: &Host, name: &str) -> u64 {
    host.counter(name).unwrap_or(0)
}
