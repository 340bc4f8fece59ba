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

/// A plugin's size budget: bytes without custom sections, built for
/// wasm32-wasip1 with the workspace's release profile (what
/// [`size::measure`] calls `stripped`). Sizes are deterministic for a
/// toolchain, so `bench/tests/sizes.rs` holds every plugin to its budget
/// and fails with the plugin's name, its size and its budget when a change
/// outgrows it.
#[derive(Clone, Debug)]
pub struct SizeBudget {
    /// Name in the test's report (the size table finds a plugin's budget
    /// by its `guest`, so a renamed plugin keeps it).
    pub name: &'static str,
    /// How guest-build builds it.
    pub guest: Guest,
    /// The most bytes it may take: today's size and a small margin for
    /// toolchain noise, so growth is a decision, not an accident.
    pub budget: usize,
    /// The size the project aims for, where it has one (issue 14's
    /// targets); `budget` moves down towards it as the plugin shrinks.
    pub target: Option<usize>,
}

/// Every sluice plugin's size budget, in one place.
pub fn size_budgets() -> Vec<SizeBudget> {
    let b = |name, guest, budget, target| SizeBudget { name, guest, budget, target };
    vec![
        b("headers (sluice)", Guest::package("sluice-bench-http-headers"), 24_500, Some(15_000)),
        b("derive-add-header", Guest::package("derive-add-header"), 18_500, Some(10_000)),
        b("callout (sluice)", Guest::package("sluice-bench-http-auth-random"), 23_500, None),
        b("example telemetry", Guest::package("sluice-example-telemetry"), 97_500, Some(60_000)),
        b("example header-decode", Guest::package("sluice-example-header-decode"), 83_000, Some(40_000)),
        b("example router", Guest::package("sluice-example-router"), 86_500, Some(40_000)),
    ]
}

/// header-decode's configuration in the chain benchmark: the claims of the
/// example's scenario, bad tokens rejected.
pub const HEADER_DECODE_CONFIG: &str = r#"{"source":{"header":"authorization","prefix":"Bearer "},"on_error":"reject","reject_status":401,"claims":[{"claim":"sub","header":"x-user-id"},{"claim":"tenant","header":"x-tenant"},{"claim":"realm_access.roles","header":"x-roles","join":","}]}"#;

/// The router's configuration in the chain benchmark: the example's rules
/// (the tenant header header-decode writes picks the cluster).
pub const ROUTER_CONFIG: &str = r#"{"clear_route_cache":"auto","rules":[{"name":"acme","match":{"header":"x-tenant","exact":"acme"},"cluster":"acme-backend"},{"name":"canary","match":{"header":"x-user-id","percent":10,"hash":"fnv1a"},"cluster":"canary"},{"name":"api-v2","match":{"path_prefix":"/v1/"},"rewrite_path_prefix":"/v2/"}]}"#;

/// telemetry's configuration in the chain benchmark.
pub const TELEMETRY_CONFIG: &str = r#"{"direction":"inbound","metric_prefix":"istio"}"#;

/// A token header-decode accepts (the example scenario's: sub alice, tenant acme).
pub const BENCH_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSIsInN1YiI6ImFsaWNlIiwidGVuYW50IjoiYWNtZSIsInJlYWxtX2FjY2VzcyI6eyJyb2xlcyI6WyJkZXYiLCJvcHMiXX0sImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJl";
