//! The router on host-sim's `kong` profile (Kong's nginx module): it loads
//! (it imports no `proxy_get_log_level`), with `"host": "kong"` it routes
//! without Envoy's foreign function, and with Envoy's configuration the
//! first re-routing request fails the VM the way the real module does.

use crate::common;

use crate::common::{get, host_calls, values};
use guest_build::Target;
use host_sim::{Host, HostProfile, PluginId, PluginSpec, Response};

const FOREIGN_CALL: &str = "proxy_call_foreign_function";

const RULES: &str = r#""rules": [
    {"name": "acme", "match": {"header": "x-tenant", "exact": "acme"}, "cluster": "acme-backend"},
    {"name": "api-v2", "match": {"path_prefix": "/v1/"}, "rewrite_path_prefix": "/v2/"}]"#;

/// The router built for wasm32-wasip1 on a Kong host with `config`.
fn kong(config: &str) -> (Host, Result<PluginId, host_sim::Error>) {
    let mut host = Host::new();
    host.set_profile(HostProfile::Kong);
    let spec = PluginSpec::from_bytes(common::wasm(Target::Wasip1)).name("router").configuration(config);
    let plugin = host.load(spec);
    (host, plugin)
}

#[test]
fn the_module_imports_no_proxy_get_log_level_so_it_loads_on_kong() {
    let wasm = common::wasm(Target::Wasip1);
    let compiled = host_sim::engine::compile(&wasm).expect("the router compiles");
    let imports: Vec<String> = compiled.imports().into_iter().map(|(_, name)| name).collect();
    assert!(!imports.iter().any(|name| name == "proxy_get_log_level"), "{imports:?}");
    let (host, plugin) = kong(&format!("{{{RULES}}}"));
    plugin.unwrap_or_else(|e| panic!("the router loads on Kong: {e}; logs {:?}", host.logs()));
}

#[test]
fn with_host_kong_it_routes_without_the_foreign_function() {
    let (mut host, plugin) = kong(&format!(r#"{{"host": "kong", {RULES}}}"#));
    let plugin = plugin.expect("the router starts");
    let outcome = common::run(&mut host, plugin, get("/orders", &[("x-tenant", "acme"), ("x-route-cluster", "admin")]));
    // nginx forwards the deleted client copy too; `$http_x_route_cluster` skips it.
    assert_eq!(values(&outcome, "x-route-cluster"), ["admin", "acme-backend"]);
    let outcome = common::run(&mut host, plugin, get("/v1/items", &[]));
    assert_eq!(values(&outcome, ":path"), ["/v2/items"]);
    assert!(host_calls(&host, FOREIGN_CALL).is_empty(), "clear_route_cache is never called on Kong");
    assert!(host_calls(&host, "proxy_get_property").is_empty(), "no cluster_name reads (not supported on Kong)");
}

#[test]
fn with_envoy_s_configuration_the_first_re_route_traps_as_on_the_real_module() {
    let (mut host, plugin) = kong(&format!("{{{RULES}}}"));
    let plugin = plugin.expect("the router starts");
    let _ = host.run_http(plugin, get("/orders", &[("x-tenant", "acme")]), Response::ok());
    let failure = host.failure(plugin).expect("the VM failed");
    assert!(failure.contains("unknown foreign function") && failure.contains("Kong"), "{failure}");
}

#[test]
fn with_host_kong_what_kong_cannot_do_is_refused_at_start() {
    for (config, field) in [
        (r#"{"host": "kong", "verify_cluster": true, "rules": []}"#, "verify_cluster"),
        (r#"{"host": "kong", "clear_route_cache": "always", "rules": []}"#, "clear_route_cache"),
        (r#"{"host": "kong", "rules": [{"match": {}, "authority": "api.internal"}]}"#, "rules[0].authority"),
    ] {
        let (host, plugin) = kong(config);
        let error = plugin.expect_err(config).to_string();
        assert!(error.contains("on_configure"), "{error}");
        let logs = host.logs().iter().map(|l| l.message.clone()).collect::<Vec<_>>().join("\n");
        assert!(logs.contains(&format!("field \"{field}\"")) && logs.contains("Kong"), "{config}: {logs}");
    }
}
