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
    /// Its size budget (sluice's plugins; see [`SizeBudget`]).
    pub budget: Option<Budget>,
}

/// A size budget and target, in bytes without custom sections.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// The most bytes the plugin may take: today's size and a small margin
    /// for toolchain noise, so growth is a decision, not an accident.
    pub bytes: usize,
    /// The size the project aims for, where it has one (issue 14's
    /// targets); `bytes` moves down towards it as the plugin shrinks.
    pub target: Option<usize>,
}

const fn budget(bytes: usize, target: Option<usize>) -> Option<Budget> {
    Some(Budget { bytes, target })
}

/// Every plugin measured: the two comparison pairs, then the examples.
pub fn plugins() -> Vec<Plugin> {
    let p = |name, pair, official, guest, budget| Plugin { name, pair, official, guest, budget };
    vec![
        p(
            "headers (sluice)",
            Some("headers"),
            false,
            Guest::package("sluice-bench-http-headers"),
            budget(24_000, Some(15_000)),
        ),
        p("headers (official)", Some("headers"), true, Guest::manifest_dir("tests/official-guests/http-headers"), None),
        p(
            "callout (sluice)",
            Some("callout"),
            false,
            Guest::package("sluice-bench-http-auth-random"),
            budget(21_500, None),
        ),
        p("callout (official)", Some("callout"), true, Guest::manifest_dir("bench/official/http-auth-random"), None),
        p("example telemetry", None, false, Guest::package("sluice-example-telemetry"), budget(97_500, Some(60_000))),
        p(
            "example header-decode",
            None,
            false,
            Guest::package("sluice-example-header-decode"),
            budget(82_500, Some(40_000)),
        ),
        p("example router", None, false, Guest::package("sluice-example-router"), budget(86_500, Some(40_000))),
    ]
}

/// A plugin held to a size budget: bytes without custom sections, built
/// for wasm32-wasip1 with the workspace's release profile (what
/// [`size::measure`] calls `stripped`). Sizes are deterministic for a
/// toolchain, so `bench/tests/sizes.rs` holds every plugin to its budget
/// and fails with the plugin's name, its size and its budget when a change
/// outgrows it.
#[derive(Clone, Debug)]
pub struct SizeBudget {
    /// Name in the test's report.
    pub name: &'static str,
    /// How guest-build builds it.
    pub guest: Guest,
    /// Its budget.
    pub budget: Budget,
}

/// Every sluice plugin's size budget, in one place: the budgets of
/// [`plugins`], and the smallest derived plugin's, which the benchmarks do
/// not measure otherwise.
pub fn size_budgets() -> Vec<SizeBudget> {
    let measured =
        plugins().into_iter().filter_map(|p| Some(SizeBudget { name: p.name, guest: p.guest, budget: p.budget? }));
    let derive = SizeBudget {
        name: "derive-add-header",
        guest: Guest::package("derive-add-header"),
        budget: Budget { bytes: 18_500, target: Some(10_000) },
    };
    measured.chain([derive]).collect()
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
