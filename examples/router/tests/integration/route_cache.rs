//! The route cache under host-sim's Envoy profiles: with a route table that
//! routes on the cluster header, where the request finally goes depends on
//! the `clear_route_cache` mode and on the Envoy version.

use crate::common;

use crate::common::{host, run};
use host_sim::{Host, HostProfile, LogLevel, Mode, PluginId, Route, RouteTable, VirtualHost};

fn config(mode: &str) -> String {
    format!(
        r#"{{"clear_route_cache": "{mode}", "verify_cluster": true,
            "rules": [{{"name": "acme", "match": {{"header": "x-tenant", "exact": "acme"}}, "cluster": "acme-backend"}}]}}"#
    )
}

/// The router (run in `mode`) with `clear` on an Envoy of `profile` whose routes send requests
/// carrying `x-route-cluster` to that cluster, and others to `primary`.
fn envoy(mode: Mode, profile: HostProfile, clear: &str) -> (Host, PluginId) {
    let (mut host, plugin) = host(mode, &config(clear));
    host.set_profile(profile);
    host.set_routes(RouteTable::new(vec![
        VirtualHost::new("all", &["*"])
            .route(Route::to_cluster_header("by-cluster-header", "x-route-cluster").header_present("x-route-cluster"))
            .route(Route::to_cluster("default", "primary")),
    ]));
    (host, plugin)
}

/// Runs a request the `acme` rule matches; returns the upstream cluster and
/// the cluster the plugin saw in `on_log` (its `cluster_name` property).
fn final_cluster(mode: Mode, profile: HostProfile, clear: &str) -> (Option<String>, String) {
    let (mut host, plugin) = envoy(mode, profile, clear);
    let outcome = run(&mut host, plugin, common::get("/", &[("x-tenant", "acme")]));
    assert_eq!(common::values(&outcome, "x-route-cluster"), ["acme-backend"], "{profile:?} {clear}");
    let debug = host.logs_at(LogLevel::Debug);
    let seen = debug
        .iter()
        .find_map(|l| l.split("request went to cluster \"").nth(1)?.split('"').next().map(str::to_owned))
        .unwrap_or_else(|| panic!("on_log reports the cluster: {debug:?}"));
    (outcome.upstream_cluster, seen)
}

host_sim::dual_tests! {
    fn never_clearing_keeps_the_first_route_on_envoy_1_33_but_not_on_1_32(mode) {
        let (upstream, seen) = final_cluster(mode, HostProfile::Envoy133, "never");
        assert_eq!((upstream.as_deref(), seen.as_str()), (Some("primary"), "primary"));
        // Envoy up to 1.32 cleared the cache itself when the plugin wrote the header.
        let (upstream, seen) = final_cluster(mode, HostProfile::Envoy132, "never");
        assert_eq!((upstream.as_deref(), seen.as_str()), (Some("acme-backend"), "acme-backend"));
    }
}

host_sim::dual_tests! {
    fn auto_clearing_routes_on_the_written_header_on_both_envoy_versions(mode) {
        for profile in [HostProfile::Envoy132, HostProfile::Envoy133] {
            let (upstream, seen) = final_cluster(mode, profile, "auto");
            assert_eq!((upstream.as_deref(), seen.as_str()), (Some("acme-backend"), "acme-backend"), "{profile:?}");
        }
    }
}
