//! Shared by the end-to-end tests: build an `e2e-*` guest from source and
//! load it into a fresh host-sim host.

#![allow(dead_code)]

use guest_build::{Guest, Target};
use host_sim::{Host, HostOptions, NativeEntry, PluginId, PluginSpec};

/// How a test runs a guest: compiled into the test binary (host-sim's null
/// VM), or built to wasm for a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    Native,
    Wasm(Target),
}

impl Build {
    /// Every way: native, wasm32-wasip1 (std), wasm32-unknown-unknown (no_std).
    pub const ALL: [Build; 3] = [Build::Native, Build::Wasm(Target::Wasip1), Build::Wasm(Target::Unknown)];
    pub const WASIP1: Build = Build::Wasm(Target::Wasip1);
    pub const NO_STD: Build = Build::Wasm(Target::Unknown);
}

/// The native entry point of guest `e2e-<name>`.
fn entry(name: &str) -> NativeEntry {
    match name {
        "callout" => sluice_guest_e2e_callout::sluice_main,
        "faults" => sluice_guest_e2e_faults::sluice_main,
        "http" => sluice_guest_e2e_http::sluice_main,
        "props" => sluice_guest_e2e_props::sluice_main,
        "root" => sluice_guest_e2e_root::sluice_main,
        "state" => sluice_guest_e2e_state::sluice_main,
        "tcp" => sluice_guest_e2e_tcp::sluice_main,
        other => panic!("no end-to-end guest e2e-{other}"),
    }
}

/// Guest `e2e-<name>` as `build` runs it.
pub fn spec(name: &str, build: Build) -> PluginSpec {
    match build {
        Build::Native => PluginSpec::native(entry(name)),
        Build::Wasm(target) => PluginSpec::from_bytes(wasm(name, target)),
    }
}

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

/// The tests of one check run every way a guest is built: a module `$name`
/// holding one test a build (`wasip1`, `native`, `no_std`, or the builds
/// listed), each calling `$check` (a function of the calling file) with it.
macro_rules! every_build {
    ($name:ident: $check:ident) => {
        crate::common::every_build!($name: $check, wasip1 = WASIP1, native = Native, no_std = NO_STD);
    };
    ($name:ident: $check:ident, $($test:ident = $build:ident),+) => {
        mod $name {
            $(
                #[test]
                fn $test() {
                    super::$check(crate::common::Build::$build);
                }
            )+
        }
    };
}
pub(crate) use every_build;
