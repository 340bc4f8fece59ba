//! Shared by the end-to-end tests: build an `e2e-*` guest from source and
//! load it into a fresh host-sim host.

#![allow(dead_code)]

use guest_build::{Guest, Target};
use host_sim::{Host, HostOptions, PluginId, PluginSpec};

/// The module bytes of test guest `tests/guests/e2e-<name>` for `target`:
/// with the standard library on wasm32-wasip1, with the SDK's no_std runtime
/// (allocator and panic handler) on wasm32-unknown-unknown.
pub fn wasm(name: &str, target: Target) -> Vec<u8> {
    let guest = Guest::package(&format!("sluice-guest-e2e-{name}")).target(target);
    let guest = match target {
        Target::Wasip1 => guest,
        Target::Unknown => guest.no_default_features().feature("no-std-runtime"),
    };
    guest.bytes().unwrap_or_else(|e| panic!("guest e2e-{name} for {}: {e}", target.triple()))
}

/// A fresh host with `spec` loaded.
pub fn load_spec(spec: PluginSpec) -> (Host, PluginId) {
    load_spec_with(HostOptions::default(), spec)
}

/// A fresh host with the given options and `spec` loaded.
pub fn load_spec_with(options: HostOptions, spec: PluginSpec) -> (Host, PluginId) {
    let mut host = Host::with_options(options);
    let plugin = host.load(spec).expect("plugin loads");
    (host, plugin)
}

/// A fresh host with guest `e2e-<name>` (wasip1) loaded with no configuration.
pub fn load(name: &str) -> (Host, PluginId) {
    load_spec(PluginSpec::from_bytes(wasm(name, Target::Wasip1)))
}

/// The info-level notes a guest logged for context `id` (`#<id> <text>`),
/// without the prefix, in order.
pub fn notes(host: &Host, id: u32) -> Vec<String> {
    let prefix = format!("#{id} ");
    host.logs_at(host_sim::LogLevel::Info)
        .into_iter()
        .filter_map(|m| m.strip_prefix(&prefix).map(str::to_owned))
        .collect()
}

/// Whether the notes of context `id` contain `text` exactly.
pub fn noted(host: &Host, id: u32, text: &str) -> bool {
    notes(host, id).iter().any(|n| n == text)
}
