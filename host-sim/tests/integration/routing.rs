//! Routing fidelity: the route table, the route cache under the Envoy ≤ 1.32
//! and ≥ 1.33 profiles, and Envoy's built-in foreign functions.

use crate::common::{LOG, Wat};
use host_sim::{Host, HostProfile, PluginId, PluginSpec, Route, RouteTable, Status, VirtualHost};

const IMPORTS: &str = r#"
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value" (func $replace (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_call_foreign_function" (func $foreign (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $get_prop (param i32 i32 i32 i32) (result i32)))"#;

/// A guest that logs `cluster_name`, rewrites `:authority` to `shop-canary`,
/// runs `after_edit`, logs `cluster_name` again, then runs `at_end`.
fn rewriting_guest(clear: bool, at_end: &str) -> Vec<u8> {
    let mut w = Wat::default();
    let cluster = w.s("cluster_name");
    let route = w.s("route_name");
    let (authority, canary) = (w.s(":authority"), w.s("shop-canary"));
    let clear_call = if clear {
        format!(
            "(drop (call $foreign {} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))",
            w.s("clear_route_cache")
        )
    } else {
        String::new()
    };
    let at_end = at_end.replace("{authority}", &authority).replace("{example}", &w.s("example.com"));
    let absent = w.log("absent");
    let body = format!(
        r#"
  (func $log_prop (param $p i32) (param $l i32)
    (if (i32.eqz (call $get_prop (local.get $p) (local.get $l) (i32.const 100) (i32.const 104)))
      (then (drop (call $log (i32.const 2) (i32.load (i32.const 100)) (i32.load (i32.const 104)))))
      (else {absent})))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (call $log_prop {cluster})
    (drop (call $replace (i32.const 0) {authority} {canary}))
    {clear_call}
    (call $log_prop {cluster})
    (call $log_prop {route})
    {at_end}
    (i32.const 0))"#
    );
    w.module("proxy_abi_version_0_2_1", IMPORTS, &body)
}

fn table() -> RouteTable {
    RouteTable::new(vec![
        VirtualHost::new("canary", &["*-canary"]).route(Route::to_cluster("canary-route", "canary")),
        VirtualHost::new("main", &["*.example.com", "example.com"]).route(Route::to_cluster("main-route", "primary")),
    ])
}

fn routed(profile: HostProfile, guest: Vec<u8>) -> (Host, PluginId) {
    let mut host = Host::new();
    host.set_profile(profile);
    host.set_routes(table());
    let plugin = host.load(PluginSpec::from_bytes(guest)).unwrap();
    (host, plugin)
}

/// Runs one request and returns the info logs and the upstream cluster.
fn run(profile: HostProfile, guest: Vec<u8>) -> (Vec<String>, Option<String>) {
    let (mut host, plugin) = routed(profile, guest);
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers([(":authority", "example.com"), (":path", "/"), (":method", "GET")], true).unwrap();
    assert_eq!(stream.upstream_request().headers.as_ref().unwrap().get_str(":authority"), Some("shop-canary"));
    let upstream = stream.upstream_cluster().map(str::to_owned);
    let outcome = stream.complete().unwrap();
    assert_eq!(outcome.upstream_cluster, upstream);
    (host.logs_at(host_sim::LogLevel::Info), upstream)
}

#[test]
fn envoy_1_33_keeps_the_route_unless_the_plugin_clears_it() {
    // Without the clear, then with it: the logs and the upstream.
    for (clear, want_logs, want_upstream) in [
        (false, ["primary", "primary", "main-route"], "primary"),
        (true, ["primary", "canary", "canary-route"], "canary"),
    ] {
        let (logs, upstream) = run(HostProfile::Envoy133, rewriting_guest(clear, ""));
        assert_eq!(logs, want_logs, "clear: {clear}");
        assert_eq!(upstream.as_deref(), Some(want_upstream), "clear: {clear}");
    }
}

#[test]
fn envoy_1_32_clears_the_route_cache_on_request_header_edits() {
    let (logs, upstream) = run(HostProfile::Envoy132, rewriting_guest(false, ""));
    assert_eq!(logs, ["primary", "canary", "canary-route"]);
    assert_eq!(upstream.as_deref(), Some("canary"));
    // Calling clear_route_cache as well changes nothing.
    let (_, upstream) = run(HostProfile::Envoy132, rewriting_guest(true, ""));
    assert_eq!(upstream.as_deref(), Some("canary"));
}

#[test]
fn a_re_selected_route_is_cached_again() {
    // After the clear and the read (which re-selects: canary), the plugin
    // rewrites `:authority` back; without another clear the cached route stays.
    let back = "(drop (call $replace (i32.const 0) {authority} {example}))";
    let (mut host, plugin) = routed(HostProfile::Envoy133, rewriting_guest(true, back));
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers([(":authority", "example.com"), (":path", "/")], true).unwrap();
    assert_eq!(stream.upstream_request().headers.as_ref().unwrap().get_str(":authority"), Some("example.com"));
    assert_eq!(stream.upstream_cluster(), Some("canary"));
    assert_eq!((stream.route_cache().selections, stream.route_cache().clears), (2, 1));
    // Under 1.32 the edit back clears the cache again: the upstream goes to primary.
    let (mut host, plugin) = routed(HostProfile::Envoy132, rewriting_guest(true, back));
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers([(":authority", "example.com"), (":path", "/")], true).unwrap();
    assert_eq!(stream.upstream_cluster(), Some("primary"));
    assert_eq!(stream.route().unwrap().route_name, "main-route");
}

/// Request headers, the expected route and cluster.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, Option<&'a str>);

#[test]
fn cluster_header_and_header_matches_route_the_request() {
    let guest = Wat::default().module("proxy_abi_version_0_2_1", LOG, "");
    let mut host = Host::new();
    host.set_routes(RouteTable::new(vec![
        VirtualHost::new("all", &["*"])
            .route(Route::to_cluster("beta", "beta").header("x-beta", "1"))
            .route(Route::to_cluster_header("dynamic", "x-route-cluster").prefix("/dyn"))
            .route(Route::to_cluster("default", "primary")),
    ]));
    let plugin = host.load(PluginSpec::from_bytes(guest)).unwrap();
    let cases: [Case<'_>; 4] = [
        (&[(":path", "/"), ("x-beta", "1")], "beta", Some("beta")),
        (&[(":path", "/dyn/x"), ("x-route-cluster", "blue")], "dynamic", Some("blue")),
        (&[(":path", "/dyn/x")], "dynamic", None),
        (&[(":path", "/other")], "default", Some("primary")),
    ];
    for (headers, route, cluster) in cases {
        let mut stream = host.http_stream(plugin).unwrap();
        stream.request_headers(headers.iter().copied().chain([(":authority", "any")]), true).unwrap();
        assert_eq!(stream.route().map(|r| r.route_name.as_str()), Some(route), "{headers:?}");
        assert_eq!(stream.upstream_cluster(), cluster, "{headers:?}");
        stream.response_headers([(":status", "200")], true).unwrap();
        assert!(stream.is_finished());
    }
}

fn foreign_guest(calls: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = Wat::default();
    let mut body = String::new();
    for (name, args) in calls {
        let name = w.s(name);
        // Arguments may be binary: place them byte by byte.
        let args = w.s(&args.iter().map(|b| *b as char).collect::<String>());
        body.push_str(&format!("(drop (call $foreign {name} {args} (i32.const 100) (i32.const 104)))\n"));
    }
    let body = format!(
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    {body}
    (i32.const 0))"#
    );
    w.module("proxy_abi_version_0_2_1", IMPORTS, &body)
}

fn foreign_results(host: &Host) -> Vec<i32> {
    host.trace().iter().filter(|c| c.function == "proxy_call_foreign_function").map(|c| c.result).collect()
}

#[test]
fn envoy_foreign_functions_are_built_in() {
    let mut filter_state = vec![0x0a, 23];
    filter_state.extend_from_slice(b"envoy.tcp_proxy.cluster");
    filter_state.extend_from_slice(&[0x12, 4]);
    filter_state.extend_from_slice(b"blue");
    let mut declare = vec![0x0a, 7];
    declare.extend_from_slice(b"my_prop");
    declare.extend_from_slice(&[0x10, 1, 0x28, 1]);
    let guest = foreign_guest(&[
        ("clear_route_cache", b""),
        ("set_envoy_filter_state", &filter_state),
        ("declare_property", &declare),
        ("set_envoy_filter_state", b"\xff"),
        ("no_such_function", b""),
    ]);
    let (mut host, plugin) = routed(HostProfile::Envoy133, guest);
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers([(":authority", "example.com"), (":path", "/")], true).unwrap();
    assert_eq!(stream.route_cache().clears, 1);
    let expected = [0, 0, 0, Status::BadArgument as i32, Status::NotFound as i32];
    assert_eq!(foreign_results(&host), expected);
    let fs = host.filter_state();
    assert_eq!(fs.len(), 1);
    assert_eq!((fs[0].path.as_str(), fs[0].value.as_slice()), ("envoy.tcp_proxy.cluster", &b"blue"[..]));
    let declared = host.declared_properties();
    assert_eq!((declared[0].name.as_str(), declared[0].kind, declared[0].readonly), ("my_prop", 1, true));
}

#[test]
fn a_test_registered_function_overrides_the_built_in() {
    let guest = foreign_guest(&[("clear_route_cache", b"")]);
    let (mut host, plugin) = routed(HostProfile::Envoy133, guest);
    host.register_foreign_function("clear_route_cache", |_| Err(Status::Unimplemented));
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers([(":authority", "example.com"), (":path", "/")], true).unwrap();
    assert_eq!(stream.route_cache().clears, 0);
    assert_eq!(foreign_results(&host), [Status::Unimplemented as i32]);
}
