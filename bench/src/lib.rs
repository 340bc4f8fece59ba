//! Benchmarks of sluice plugins against the official proxy-wasm SDK, and of
//! host-sim against a bare wasmtime loop. `cargo run --release -p sluice-bench`
//! runs them all and writes `BENCHMARKS.md`; see `bench/README.md`.

pub mod driver;
pub mod size;
pub mod speed;

use guest_build::Guest;

/// A plugin measured by the benchmarks.
#[derive(Clone, Debug)]
pub struct Plugin {
    /// Name in the tables.
    pub name: &'static str,
    /// The comparison pair it belongs to, if any (`headers`, `callout`).
    pub pair: Option<&'static str>,
    /// Whether it is written with the official SDK.
    pub official: bool,
    /// How guest-build builds it.
    pub guest: Guest,
}

/// Every plugin measured: the two comparison pairs, then the examples.
pub fn plugins() -> Vec<Plugin> {
    let p = |name, pair, official, guest| Plugin { name, pair, official, guest };
    vec![
        p("headers (sluice)", Some("headers"), false, Guest::package("sluice-bench-http-headers")),
        p("headers (official)", Some("headers"), true, Guest::manifest_dir("tests/official-guests/http-headers")),
        p("callout (sluice)", Some("callout"), false, Guest::package("sluice-bench-http-auth-random")),
        p("callout (official)", Some("callout"), true, Guest::manifest_dir("bench/official/http-auth-random")),
        p("example telemetry", None, false, Guest::package("sluice-example-telemetry")),
        p("example header-decode", None, false, Guest::package("sluice-example-header-decode")),
        p("example router", None, false, Guest::package("sluice-example-router")),
    ]
}
