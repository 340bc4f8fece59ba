//! A mesh in a box: filter chains (order in both directions, a local reply
//! from the middle, a pause held across the chain, TCP), Envoy workers
//! (per-worker VMs next to process-wide shared data and stats) and live
//! reloads (streams in flight finish on the old version; a rejected one
//! keeps the old serving). The plugins are the `e2e-mesh` test guest,
//! built from source, each configured differently.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use crate::cli::{host_sim, workdir};
use guest_build::{Guest, Target};
use host_sim::chain::HttpChainStream;
use host_sim::{EndReason, Error, Host, HostOptions, PluginId, PluginSpec, Request, Response};

fn mesh_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| Guest::package("sluice-guest-e2e-mesh").target(Target::Wasip1).bytes().expect("builds"))
}

/// `host-sim run` on a scenario file.
fn run_scenario(file: &Path) -> (i32, String, String) {
    host_sim(&["run"], file)
}

fn spec(config: &str) -> PluginSpec {
    let name = config.split(';').find_map(|p| p.strip_prefix("name=")).unwrap_or("mesh");
    PluginSpec::from_bytes(mesh_wasm().to_vec()).configuration(config).name(name)
}

fn load(host: &mut Host, config: &str) -> PluginId {
    host.load(spec(config)).expect("the plugin starts")
}

/// A chain stream through e2e-mesh plugins (one per configuration, in
/// that order) that has had the request headers of `method path`.
fn chain_stream<'h>(host: &'h mut Host, configs: &[&str], method: &str, path: &str, end: bool) -> HttpChainStream<'h> {
    let chain = chain_of(host, configs);
    let mut stream = host.http_chain_stream(&chain).unwrap();
    let action = stream.request_headers([(":path", path), (":method", method), (":authority", "x")], end).unwrap();
    assert_eq!(action.is_continue(), stream.request_held_by().is_none());
    stream
}

/// A chain of e2e-mesh plugins, one per configuration, in that order.
fn chain_of(host: &mut Host, configs: &[&str]) -> host_sim::chain::Chain {
    let plugins: Vec<PluginId> = configs.iter().map(|c| load(host, c)).collect();
    host.chain(&plugins).unwrap()
}

/// Messages logged, in order, that start with one of the plugins' names
/// and contain one of `kinds`.
fn logged(host: &Host, names: &[&str], kinds: &[&str]) -> Vec<String> {
    host.logs()
        .into_iter()
        .map(|r| r.message)
        .filter(|m| names.iter().any(|n| m.starts_with(&format!("{n} "))))
        .filter(|m| kinds.iter().any(|k| m.contains(k)))
        .collect()
}

/// The headers callbacks the plugins logged, in order.
fn calls(host: &Host, names: &[&str]) -> Vec<String> {
    logged(host, names, &["request_headers", "response_headers"])
}

/// The body and trailers callbacks the plugins logged, in order.
fn body_calls(host: &Host, names: &[&str]) -> Vec<String> {
    logged(host, names, &["_body ", "_trailers"])
}

fn value(map: Option<&host_sim::HeaderMap>, key: &str) -> Option<String> {
    map?.get_str(key).map(str::to_owned)
}

fn header(message: &host_sim::Message, key: &str) -> Option<String> {
    value(message.headers.as_ref(), key)
}

fn trailer(message: &host_sim::Message, key: &str) -> Option<String> {
    value(message.trailers.as_ref(), key)
}

#[test]
fn a_chain_runs_requests_first_to_last_and_responses_last_to_first() {
    let mut host = Host::new();
    let chain = chain_of(&mut host, &["name=a", "name=b;require=x-chain", "name=c"]);
    let out = host.run_http_chain(&chain, Request::get("/"), Response::ok()).unwrap();

    assert_eq!(header(&out.upstream_request, "x-chain").as_deref(), Some("a,b,c"));
    assert_eq!(header(&out.client_response, "x-chain-back").as_deref(), Some("c,b,a"));
    assert_eq!(header(&out.upstream_request, "x-b-saw").as_deref(), Some("yes"), "b saw what a added");
    assert_eq!(
        calls(&host, &["a", "b", "c"]),
        [
            "a request_headers end=true",
            "b request_headers end=true",
            "c request_headers end=true",
            "c response_headers end=true",
            "b response_headers end=true",
            "a response_headers end=true"
        ]
    );
    // Each plugin's own view: what reached it and what it passed on.
    assert_eq!(out.plugins.len(), 3);
    assert_eq!(header(&out.plugins[1].request_in, "x-chain").as_deref(), Some("a"));
    assert_eq!(header(&out.plugins[1].outcome.upstream_request, "x-chain").as_deref(), Some("a,b"));
    let edits = out.plugins[1].request_edits();
    assert!(edits.contains(&host_sim::chain::HeaderEdit::Removed("x-chain".into(), "a".into())), "{edits:?}");
    assert!(edits.contains(&host_sim::chain::HeaderEdit::Added("x-chain".into(), "a,b".into())), "{edits:?}");
    assert!(out.plugins.iter().all(|p| p.host_calls.iter().any(|c| c.function == "proxy_replace_header_map_value")));
    // Every plugin's stream context finished, first to last.
    let done: Vec<String> =
        host.logs().into_iter().map(|r| r.message).filter(|m| m.contains(" done ") && !m.contains("root")).collect();
    assert_eq!(done.iter().map(|m| &m[..1]).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(out.plugins.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
}

#[test]
fn a_local_reply_from_the_middle_passes_every_plugins_response_callbacks() {
    let mut host = Host::new();
    let chain = chain_of(&mut host, &["name=a", "name=b;deny=/admin", "name=c"]);
    let out = host.run_http_chain(&chain, Request::get("/admin"), Response::ok()).unwrap();

    assert_eq!(out.local_reply_from, Some(1));
    assert_eq!(out.ended, Some(EndReason::LocalResponse));
    assert_eq!(out.local_response.as_ref().map(|r| r.status_code), Some(403));
    assert!(out.upstream_request.headers.is_none(), "nothing reached the upstream");
    assert!(out.plugins[2].request_in.headers.is_none(), "c never saw the request");
    assert_eq!(header(&out.client_response, ":status").as_deref(), Some("403"));
    assert_eq!(out.client_response.body, b"denied by b");
    // Envoy's sendLocalReplyViaFilterChain encodes from the first encoder
    // filter: c (which never saw the request), then b, then a.
    assert_eq!(header(&out.client_response, "x-chain-back").as_deref(), Some("c,b,a"));
    assert_eq!(
        calls(&host, &["a", "b", "c"]),
        [
            "a request_headers end=true",
            "b request_headers end=true",
            "c response_headers end=false",
            "b response_headers end=false",
            "a response_headers end=false"
        ]
    );
}

#[test]
fn a_local_reply_after_the_response_started_goes_straight_to_the_client() {
    // A reply from a response callback: Envoy's sendDirectLocalReply, no
    // plugin sees it. The WAT plugin answers 502 from on_response_headers.
    let wat = r#"(module
      (import "env" "proxy_send_local_response" (func $reply (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 100) "replaced")
      (func (export "proxy_abi_version_0_2_1"))
      (func (export "malloc") (param i32) (result i32) (i32.const 1024))
      (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
        (drop (call $reply (i32.const 502) (i32.const 0) (i32.const 0) (i32.const 100) (i32.const 8)
          (i32.const 0) (i32.const 0) (i32.const -1)))
        (i32.const 0)))"#;
    let mut host = Host::new();
    let a = load(&mut host, "name=a");
    let replacer = host.load(PluginSpec::from_bytes(wat::parse_str(wat).unwrap()).name("replacer")).unwrap();
    let chain = host.chain(&[a, replacer]).unwrap();
    let out = host.run_http_chain(&chain, Request::get("/"), Response::ok().body("upstream body")).unwrap();
    assert_eq!(out.local_reply_from, Some(1));
    assert_eq!(header(&out.client_response, ":status").as_deref(), Some("502"));
    assert_eq!(out.client_response.body, b"replaced");
    assert_eq!(header(&out.client_response, "x-chain-back"), None, "a never saw the direct reply");
    assert!(out.plugins[0].response_in.headers.is_none());
}

#[test]
fn a_pause_holds_the_rest_of_the_chain_until_the_plugin_resumes() {
    let mut host = Host::new();
    let chain = chain_of(&mut host, &["name=a", "name=b;hold=/slow", "name=c;require=x-held-by"]);
    let mut stream = host.http_chain_stream(&chain).unwrap();
    let action = stream.request_headers([(":path", "/slow"), (":method", "GET"), (":authority", "x")], true).unwrap();
    assert!(!action.is_continue(), "b holds the request");
    assert_eq!(stream.request_held_by().map(|(k, _)| k), Some(1));
    assert!(stream.upstream_request().headers.is_none(), "c and the upstream have nothing yet");
    let id = stream.id();
    let links = stream.link_streams();
    assert_eq!(calls(&host, &["c"]), Vec::<String>::new());
    assert!(host.http(links[1]).is_err(), "a plugin's part of a chain is the chain's to drive");

    // b's tick resumes it; the chain carries on at c.
    host.advance(Duration::from_secs(1)).unwrap();
    let mut stream = host.http_chain(id).unwrap();
    assert_eq!(stream.request_held_by(), None);
    let upstream = stream.upstream_request().clone();
    assert_eq!(header(&upstream, "x-chain").as_deref(), Some("a,b,c"));
    assert_eq!(header(&upstream, "x-held-by").as_deref(), Some("b"));
    assert_eq!(header(&upstream, "x-c-saw").as_deref(), Some("yes"), "c saw what b added while it held the request");
    stream.response_headers([(":status", "200")], true).unwrap();
    let out = stream.complete().unwrap();
    assert_eq!(header(&out.client_response, "x-chain-back").as_deref(), Some("c,b,a"));
}

#[test]
fn a_chain_shares_a_vm_by_vm_id_and_keeps_each_plugins_root_and_configuration() {
    let mut host = Host::new();
    let a = host.load(spec("name=a").vm_id("shared")).unwrap();
    let b = host.load(spec("name=b").vm_id("shared")).unwrap();
    assert_eq!(a.vm_index(), b.vm_index(), "one VM");
    assert_ne!(a.root_context_id(), b.root_context_id(), "two root contexts");
    let chain = host.chain(&[a, b]).unwrap();
    let out = host.run_http_chain(&chain, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(header(&out.upstream_request, "x-chain").as_deref(), Some("a,b"));
    // One VM: its global cache counts both plugins' requests.
    assert_eq!(header(&out.upstream_request, "x-a-local").as_deref(), Some("1"));
    assert_eq!(header(&out.upstream_request, "x-b-local").as_deref(), Some("2"));
    assert!(host.chain(&[a, a]).is_err(), "a plugin appears once");
    assert!(host.chain(&[]).is_err());
}

/// Forwards what it gets and tags the connection in the log; TCP chains.
const TCP_TAG: &str = r#"(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $set (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $tag (mut i32) (i32.const 0))
  (data (i32.const 100) "TAG")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 2048))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    ;; the configuration (one letter) is the tag
    (drop (call $get (i32.const 7) (i32.const 0) (i32.const 1) (i32.const 200) (i32.const 204)))
    (global.set $tag (i32.load8_u (i32.load (i32.const 200))))
    (i32.const 1))
  (func $append (param $buffer i32) (param $size i32)
    (i32.store8 (i32.const 300) (global.get $tag))
    (drop (call $set (local.get $buffer) (local.get $size) (i32.const 0) (i32.const 300) (i32.const 1))))
  (func (export "proxy_on_downstream_data") (param i32) (param $size i32) (param i32) (result i32)
    (call $append (i32.const 2) (local.get $size)) (i32.const 0))
  (func (export "proxy_on_upstream_data") (param i32) (param $size i32) (param i32) (result i32)
    (call $append (i32.const 3) (local.get $size)) (i32.const 0)))"#;

#[test]
fn a_tcp_chain_passes_client_data_first_to_last_and_upstream_data_last_to_first() {
    let mut host = Host::new();
    let wasm = wat::parse_str(TCP_TAG).unwrap();
    // Own vm_ids: on one VM the tag (a global) would be the last configured.
    let x = host.load(PluginSpec::from_bytes(wasm.clone()).configuration("x").name("x").vm_id("x")).unwrap();
    let y = host.load(PluginSpec::from_bytes(wasm).configuration("y").name("y").vm_id("y")).unwrap();
    let chain = host.chain(&[x, y]).unwrap();
    let mut conn = host.tcp_chain_stream(&chain).unwrap();
    conn.downstream_data("hi", false).unwrap();
    assert_eq!(conn.sent_upstream(), b"hixy");
    conn.upstream_data("yo", false).unwrap();
    assert_eq!(conn.sent_downstream(), b"yoyx");
    let out = conn.complete().unwrap();
    assert_eq!(out.sent_upstream, b"hixy");
    assert_eq!(out.plugins.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["x", "y"]);
    assert_eq!(out.plugins[0].1.sent_upstream, b"hix", "x's own forwarded bytes");
}

#[test]
fn each_worker_has_its_own_vm_and_the_process_shares_data_and_stats() {
    let mut host = Host::with_options(HostOptions { concurrency: 2, ..HostOptions::default() });
    let a = load(&mut host, "name=a");
    assert_eq!(host.worker_count(), 2);
    let instances = host.instances(a);
    assert_eq!(instances.len(), 2);
    assert_ne!(instances[0].vm_index(), instances[1].vm_index(), "a VM per worker");
    assert_eq!(host.worker_of(instances[1]), 1);
    for instance in &instances {
        let logs: Vec<String> = host.vm_logs(*instance).into_iter().map(|r| r.message).collect();
        assert!(logs.contains(&"vm_start".to_owned()), "each worker's VM ran on_vm_start: {logs:?}");
        assert!(logs.iter().any(|l| l.starts_with("a configure")), "and on_configure: {logs:?}");
    }
    // Four requests, round robin over the workers: the per-VM cache sees
    // only its own worker's; shared data and the counter see all four.
    let mut seen = Vec::new();
    for _ in 0..4 {
        let out = host.run_http(a, Request::get("/"), Response::ok()).unwrap();
        let local = header(&out.upstream_request, "x-a-local").unwrap();
        let shared = header(&out.upstream_request, "x-a-shared").unwrap();
        seen.push((local, shared));
    }
    let seen: Vec<(&str, &str)> = seen.iter().map(|(l, s)| (l.as_str(), s.as_str())).collect();
    assert_eq!(
        seen,
        [("1", "1"), ("1", "2"), ("2", "3"), ("2", "4")],
        "the cache assumed global is wrong under 2 workers"
    );
    assert_eq!(host.counter("a_requests"), Some(4), "one stat summed over the workers");
    assert_eq!(host.shared_data("", "hits-a").map(|(v, _)| v), Some(b"4".to_vec()));
    // Fuel and logs are per worker; a stream can be put on a worker.
    let fuel: Vec<u64> = instances.iter().map(|i| host.fuel(*i).unwrap().total).collect();
    assert!(fuel.iter().all(|f| *f > 0), "{fuel:?}");
    let mut on_one = host.http_stream_on(a, 1).unwrap();
    on_one.request_headers([(":path", "/"), (":method", "GET")], true).unwrap();
    let out = on_one.complete().unwrap();
    assert_eq!(header(&out.upstream_request, "x-a-local").as_deref(), Some("3"), "worker 1's third request");
    assert_eq!(header(&out.upstream_request, "x-a-shared").as_deref(), Some("5"));
    assert!(host.http_stream_on(a, 2).is_err(), "there is no worker 2");
    // Shutting the plugin down (its load's id) shuts every worker's instance down.
    assert!(host.shutdown(a).unwrap());
    assert!(instances.iter().all(|i| host.is_deleted(*i)));
}

#[test]
fn a_chain_stream_runs_on_one_worker() {
    let mut host = Host::with_options(HostOptions { concurrency: 2, ..HostOptions::default() });
    let a = load(&mut host, "name=a");
    let b = load(&mut host, "name=b");
    let chain = host.chain(&[a, b]).unwrap();
    let first = host.run_http_chain(&chain, Request::get("/"), Response::ok()).unwrap();
    let second = host.run_http_chain(&chain, Request::get("/"), Response::ok()).unwrap();
    assert_eq!((first.worker, second.worker), (0, 1));
    for out in [&first, &second] {
        assert!(out.plugins.iter().all(|p| host.worker_of(p.plugin) == out.worker));
    }
    let third = host.http_chain_stream_on(&chain, 1).unwrap().complete().unwrap();
    assert_eq!(third.worker, 1);
}

#[test]
fn a_reload_sends_new_streams_to_the_new_root_and_lets_open_ones_finish_on_the_old() {
    let mut host = Host::new();
    let a = load(&mut host, "name=a;hold=/slow");
    let old_root = a.root_context_id();
    let mut held = host.http_stream(a).unwrap();
    held.request_headers([(":path", "/slow"), (":method", "GET")], true).unwrap();
    let held = held.id();

    let new = host.reconfigure(a, "name=a2").unwrap();
    assert_ne!(new, a);
    assert_eq!(new.vm_index(), a.vm_index(), "a configuration change keeps the VM");
    assert_eq!(host.current(a), new);
    assert!(host.is_draining(a), "the old root waits for its stream");
    assert!(!host.is_deleted(a));

    // A new stream (opened with the old id, as a listener keeps its name) goes to the new root.
    let out = host.run_http(a, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(header(&out.upstream_request, "x-chain").as_deref(), Some("a2"));

    // The held stream finishes on the old root, which then goes.
    host.advance(Duration::from_secs(1)).unwrap();
    let mut stream = host.http(held).unwrap();
    assert_eq!(header(stream.upstream_request(), "x-chain").as_deref(), Some("a"));
    stream.response_headers([(":status", "200")], true).unwrap();
    stream.complete().unwrap();
    assert!(host.is_deleted(a), "old root: on_done, on_delete once drained");
    assert!(!host.is_draining(a));
    assert!(host.logs_at(host_sim::LogLevel::Info).contains(&format!("a root done root={old_root}")));
    assert!(!host.is_deleted(new));

    // A new module (here: another VM configuration) starts a new VM.
    let newer = host.reload(a, spec("name=a3").vm_configuration("v2")).unwrap();
    assert_ne!(newer.vm_index(), new.vm_index());
    assert!(host.is_deleted(new), "nothing open on a2: it goes at once");
    let out = host.run_http(a, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(header(&out.upstream_request, "x-chain").as_deref(), Some("a3"));
}

#[test]
fn a_rejected_reload_keeps_the_old_version_serving() {
    let mut host = Host::with_options(HostOptions { concurrency: 2, ..HostOptions::default() });
    let a = load(&mut host, "name=a");
    let error = host.reconfigure(a, "name=a;refuse=1").unwrap_err();
    assert!(
        matches!(&error, Error::ReloadRejected { reason, .. } if matches!(**reason, Error::ConfigureRejected { .. }))
    );
    assert!(error.to_string().contains("Failed to configure base Wasm plugin"), "{error}");
    assert_eq!(host.current(a), a);
    assert!(!host.is_draining(a) && !host.is_deleted(a));
    for _ in 0..2 {
        let out = host.run_http(a, Request::get("/"), Response::ok()).unwrap();
        assert_eq!(header(&out.upstream_request, "x-chain").as_deref(), Some("a"));
    }
}

#[test]
fn a_reload_in_a_chain_applies_to_new_chain_streams() {
    let mut host = Host::new();
    let a = load(&mut host, "name=a");
    let b = load(&mut host, "name=b;hold=/slow");
    let chain = host.chain(&[a, b]).unwrap();
    let mut open = host.http_chain_stream(&chain).unwrap();
    open.request_headers([(":path", "/slow"), (":method", "GET")], true).unwrap();
    let open = open.id();
    host.reconfigure(a, "name=a-new").unwrap();
    let out = host.run_http_chain(&chain, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(header(&out.upstream_request, "x-chain").as_deref(), Some("a-new,b"));
    host.advance(Duration::from_secs(1)).unwrap();
    let mut stream = host.http_chain(open).unwrap();
    stream.response_headers([(":status", "200")], true).unwrap();
    let out = stream.complete().unwrap();
    assert_eq!(header(&out.upstream_request, "x-chain").as_deref(), Some("a,b"), "in flight: the old a");
    assert!(host.is_deleted(a));
}

/// The gateway's routing, through a chain: header-decode writes the
/// tenant claim as `x-tenant`, the router (after it) picks the cluster from
/// it and clears the route cache. The chain's plugins share one route cache
/// (Envoy routes a stream once): the request goes to the router's cluster,
/// and a spoofed `x-tenant` from the client is replaced by the claim.
#[test]
fn a_chain_routes_once_and_a_later_plugin_reroutes_on_what_an_earlier_one_wrote() {
    use host_sim::{Route, RouteTable, VirtualHost};
    let build = |package: &str| Guest::package(package).target(Target::Wasip1).bytes().expect("builds");
    let mut host = Host::new();
    host.set_routes(RouteTable::new(vec![
        VirtualHost::new("shop", &["*"])
            .route(Route::to_cluster_header("by-cluster-header", "x-route-cluster").header_present("x-route-cluster"))
            .route(Route::to_cluster("default", "orders")),
    ]));
    let decode = host
        .load(
            PluginSpec::from_bytes(build("sluice-example-header-decode"))
                .name("jwt")
                .vm_id("jwt")
                .configuration(r#"{"source":{"header":"authorization","prefix":"Bearer "},"on_error":"reject","claims":[{"claim":"tenant","header":"x-tenant"}]}"#),
        )
        .unwrap();
    let router = host
        .load(
            PluginSpec::from_bytes(build("sluice-example-router"))
                .name("router")
                .vm_id("router")
                .configuration(r#"{"clear_route_cache":"auto","rules":[{"name":"acme","match":{"header":"x-tenant","exact":"acme"},"cluster":"acme-backend"}]}"#),
        )
        .unwrap();
    let token = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSIsInN1YiI6ImFsaWNlIiwidGVuYW50IjoiYWNtZSIsInJlYWxtX2FjY2VzcyI6eyJyb2xlcyI6WyJkZXYiLCJvcHMiXX0sImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJl";
    let request =
        Request::get("/orders").header("authorization", &format!("Bearer {token}")).header("x-tenant", "evil");
    let chain = host.chain(&[decode, router]).unwrap();
    let out = host.run_http_chain(&chain, request.clone(), Response::ok()).unwrap();
    assert_eq!(header(&out.upstream_request, "x-tenant").as_deref(), Some("acme"), "the claim, not the spoofed value");
    let last = &out.plugins[1].outcome;
    assert_eq!(last.upstream_cluster.as_deref(), Some("acme-backend"), "routed on what header-decode wrote");
    assert_eq!(out.plugins[0].outcome.route.as_ref().map(|r| r.route_name.as_str()), Some("default"));
    // Without header-decode before it, the router routes on what the client sent.
    let spoofed = host.run_http(router, Request::get("/orders").header("x-tenant", "acme"), Response::ok()).unwrap();
    assert_eq!(spoofed.upstream_cluster.as_deref(), Some("acme-backend"));
    let plain = host.run_http(router, Request::get("/orders"), Response::ok()).unwrap();
    assert_eq!(plain.upstream_cluster.as_deref(), Some("orders"));
}

/// A plugin in the middle of a chain whose VM fails, under fail closed:
/// the client gets Envoy's 503 `wasm_fail_stream` back through the plugins
/// before it, nothing reaches the plugins after it or the upstream; fail
/// open lets the request go on past it.
#[test]
fn a_failed_plugin_in_a_chain_is_served_by_its_fail_policy() {
    let trap = wat::parse_str(
        r#"(module
          (memory (export "memory") 1)
          (func (export "proxy_abi_version_0_2_1"))
          (func (export "malloc") (param i32) (result i32) (i32.const 1024))
          (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) unreachable))"#,
    )
    .unwrap();
    for (policy, status) in [(host_sim::FailPolicy::Closed, Some("503")), (host_sim::FailPolicy::Open, None)] {
        let mut host = Host::new();
        let a = load(&mut host, "name=a");
        let broken = host.load(PluginSpec::from_bytes(trap.clone()).name("broken").fail_policy(policy)).unwrap();
        let c = load(&mut host, "name=c");
        let chain = host.chain(&[a, broken, c]).unwrap();
        let out = host.run_http_chain(&chain, Request::get("/"), Response::ok()).unwrap();
        assert!(host.failure(broken).is_some());
        match status {
            Some(status) => {
                assert_eq!(header(&out.client_response, ":status").as_deref(), Some(status), "{policy:?}");
                assert_eq!(header(&out.client_response, "x-chain-back").as_deref(), Some("a"), "back through a");
                assert!(out.upstream_request.headers.is_none() && out.plugins[2].request_in.headers.is_none());
            }
            None => {
                assert_eq!(header(&out.upstream_request, "x-chain").as_deref(), Some("a,c"), "{policy:?}");
                assert_eq!(header(&out.client_response, "x-chain-back").as_deref(), Some("c,a"));
            }
        }
    }
}

#[test]
fn a_new_module_starts_new_vms_on_every_worker() {
    let mut host = Host::with_options(HostOptions { concurrency: 2, ..HostOptions::default() });
    let a = load(&mut host, "name=a");
    let plain = wat::parse_str(
        r#"(module
          (memory (export "memory") 1)
          (func (export "proxy_abi_version_0_2_1"))
          (func (export "malloc") (param i32) (result i32) (i32.const 1024)))"#,
    )
    .unwrap();
    let old = host.instances(a);
    let new = host.reload(a, PluginSpec::from_bytes(plain).name("plain")).unwrap();
    let fresh = host.instances(new);
    assert_eq!(fresh.len(), 2);
    for (o, f) in old.iter().zip(&fresh) {
        assert_ne!(o.vm_index(), f.vm_index(), "a new module: a new VM");
        assert_eq!(host.worker_of(*o), host.worker_of(*f));
        assert!(host.is_deleted(*o), "no stream was open: the old roots went at once");
    }
    for _ in 0..2 {
        let out = host.run_http(a, Request::get("/"), Response::ok()).unwrap();
        assert_eq!(header(&out.upstream_request, "x-chain"), None, "the new module does not tag");
    }
}

/// Each plugin tags every body chunk it passes on (`[name]`) and appends
/// its name to trailer `x-trail`: the upstream gets each chunk as a, b, c
/// left it, in that order; the client gets the response's as c, b, a left
/// it. Body chunks and trailers go plugin by plugin, as Envoy's
/// `decodeData`/`encodeData` iterate the filters.
#[test]
fn bodies_and_trailers_pass_the_chain_as_each_plugin_left_them() {
    let mut host = Host::new();
    let chain = chain_of(&mut host, &["name=a;body=1", "name=b;body=1", "name=c;body=1"]);
    let request = Request::post("/upload", "ab").body("cd").trailer("x-trail", "client");
    let response = Response::ok().body("xy").trailer("x-trail", "upstream");
    let out = host.run_http_chain(&chain, request, response).unwrap();

    assert_eq!(out.upstream_request.body, b"ab[a][b][c]cd[a][b][c]");
    assert_eq!(trailer(&out.upstream_request, "x-trail").as_deref(), Some("client,a,b,c"));
    assert!(out.upstream_request.end_of_stream);
    assert_eq!(out.client_response.body, b"xy[c][b][a]");
    assert_eq!(trailer(&out.client_response, "x-trail").as_deref(), Some("upstream,c,b,a"));
    // What reached b: the body and trailers as a left them; the response as c left it.
    assert_eq!(out.plugins[1].request_in.body, b"ab[a]cd[a]");
    assert_eq!(trailer(&out.plugins[1].request_in, "x-trail").as_deref(), Some("client,a"));
    assert_eq!(out.plugins[1].response_in.body, b"xy[c]");
    assert_eq!(trailer(&out.plugins[1].response_in, "x-trail").as_deref(), Some("upstream,c"));
    assert_eq!(out.plugins[2].outcome.upstream_request.body, out.upstream_request.body);
    assert_eq!(out.plugins[0].response_in.body, b"xy[c][b]");
    // One chunk passes the whole chain before the next one enters it; each
    // plugin's body_size counts what the previous one added.
    assert_eq!(
        body_calls(&host, &["a", "b", "c"]),
        [
            "a request_body 2 end=false",
            "b request_body 5 end=false",
            "c request_body 8 end=false",
            "a request_body 2 end=false",
            "b request_body 5 end=false",
            "c request_body 8 end=false",
            "a request_trailers",
            "b request_trailers",
            "c request_trailers",
            "c response_body 2 end=false",
            "b response_body 5 end=false",
            "a response_body 8 end=false",
            "c response_trailers",
            "b response_trailers",
            "a response_trailers",
        ]
    );
}

/// b pauses the request body at its last chunk (Envoy buffers it:
/// `StopIterationAndBuffer`): c has the headers but none of the body, and
/// the upstream has no end of stream. b's tick appends to the buffered
/// body (Envoy's `Context::getBuffer` serves the decoding buffer while the
/// filter buffers) and resumes: c then gets the body as b left it.
#[test]
fn a_pause_from_a_body_callback_holds_the_rest_of_the_chain_until_resumed() {
    let mut host = Host::new();
    let mut stream = chain_stream(
        &mut host,
        &["name=a;body=1", "name=b;body=1;hold-body=/upload", "name=c;body=1"],
        "POST",
        "/upload",
        false,
    );
    stream.request_body("x", false).unwrap();
    assert_eq!(stream.upstream_request().body, b"x[a][b][c]", "the first chunk passed every plugin");
    let action = stream.request_body("y", true).unwrap();
    assert!(!action.is_continue(), "b holds the body");
    assert_eq!(stream.request_held_by().map(|(k, _)| k), Some(1));
    let upstream = stream.upstream_request().clone();
    assert!(upstream.headers.is_some(), "the headers went on before b paused");
    assert_eq!(upstream.body, b"x[a][b][c]", "nothing of the held chunk reached c");
    assert!(!upstream.end_of_stream);
    let id = stream.id();
    assert_eq!(body_calls(&host, &["c"]), ["c request_body 7 end=false"]);

    host.advance(Duration::from_secs(1)).unwrap();
    let mut stream = host.http_chain(id).unwrap();
    assert_eq!(stream.request_held_by(), None);
    assert_eq!(stream.upstream_request().body, b"x[a][b][c]y[a][b][held by b][c]");
    assert!(stream.upstream_request().end_of_stream);
    assert_eq!(body_calls(stream.host(), &["c"]), ["c request_body 7 end=false", "c request_body 18 end=true"]);
    stream.response_headers([(":status", "200")], true).unwrap();
    let out = stream.complete().unwrap();
    assert_eq!(out.plugins[2].request_in.body, b"x[a][b]y[a][b][held by b]", "c saw the body as b left it");
    assert_eq!(header(&out.client_response, ":status").as_deref(), Some("200"));
}

/// The trace of a chain step names, plugin by plugin and in the order they
/// ran, what each changed: the request first to last, the response last to
/// first.
#[test]
fn the_trace_says_which_plugin_of_a_chain_changed_what() {
    let (code, out, err) = run_scenario(&workdir().join("chain-bodies-pass.toml"));
    assert_eq!(code, 0, "{out}\n{err}");
    let step = out.split("── stream 2").next().unwrap();
    let lines: Vec<&str> = step.lines().collect();
    let at = |line: &str| lines.iter().position(|l| *l == line).unwrap_or_else(|| panic!("no {line:?} in\n{step}"));
    let request = at("  ⛓ chain a → b → c: request first to last");
    let (a, b, c) = (
        at("    a changed request headers:"),
        at("    b changed request headers:"),
        at("    c changed request headers:"),
    );
    assert!(request < a && a < b && b < c, "request side first to last:\n{step}");
    // Each plugin's own edits sit under its name.
    let under =
        |from: usize, line: &str| lines[from + 1..].iter().take_while(|l| l.starts_with("      ")).any(|l| *l == line);
    assert!(under(a, "      + x-chain: a"), "{step}");
    assert!(under(b, "      ~ x-chain: a -> a,b"), "{step}");
    assert!(under(b, "      + x-b-saw: yes"), "{step}");
    assert!(!under(a, "      + x-b-saw: yes") && !under(c, "      + x-b-saw: yes"), "only b added x-b-saw:\n{step}");
    assert!(under(c, "      ~ x-chain: a,b -> a,b,c"), "{step}");
    let response = at("  ⛓ chain a → b → c: response last to first");
    let (rc, rb, ra) = (
        at("    c changed response headers:"),
        at("    b changed response headers:"),
        at("    a changed response headers:"),
    );
    assert!(c < response && response < rc && rc < rb && rb < ra, "response side last to first:\n{step}");
    assert!(under(rc, "      + x-chain-back: c"), "{step}");
    assert!(under(rb, "      ~ x-chain-back: c -> c,b"), "{step}");
    assert!(under(ra, "      ~ x-chain-back: c,b -> c,b,a"), "{step}");
    assert!(out.contains("PASS: every expectation held (3 streams)"), "{out}");
}

/// One VM's log lines that start with `prefix`.
fn vm_lines(host: &Host, instance: PluginId, prefix: &str) -> Vec<String> {
    host.vm_logs(instance).into_iter().map(|r| r.message).filter(|m| m.starts_with(prefix)).collect()
}

/// Envoy runs each worker's VM on its own dispatcher, with its own tick
/// timer: every worker's root ticks, counting in its own memory, while the
/// tick counter is one stat. A stream held on worker 1 lives in worker
/// 1's VM, so only worker 1's tick can resume it.
#[test]
fn each_workers_vm_ticks_on_its_own_and_only_its_tick_resumes_its_streams() {
    let mut host = Host::with_options(HostOptions { concurrency: 2, ..HostOptions::default() });
    let a = load(&mut host, "name=a;tick=1;hold=/slow");
    let instances = host.instances(a);
    for instance in &instances {
        assert_eq!(host.tick_period(*instance), Some(Duration::from_secs(1)), "each worker's root set its period");
    }
    host.advance(Duration::from_secs(3)).unwrap();
    for instance in &instances {
        assert_eq!(vm_lines(&host, *instance, "a tick "), ["a tick 1", "a tick 2", "a tick 3"], "its own count");
    }
    assert_eq!(host.counter("a_ticks"), Some(6), "both workers' ticks, one stat");

    let mut held = host.http_stream_on(a, 1).unwrap();
    held.request_headers([(":path", "/slow"), (":method", "GET")], true).unwrap();
    let held = held.id();
    host.tick(instances[0]).unwrap();
    assert!(host.http(held).unwrap().upstream_request().headers.is_none(), "worker 0's tick does not resume it");
    assert!(vm_lines(&host, instances[0], "a resumed").is_empty());
    host.tick(instances[1]).unwrap();
    let stream = host.http(held).unwrap();
    assert_eq!(header(stream.upstream_request(), "x-held-by").as_deref(), Some("a"), "worker 1's tick resumed it");
    assert_eq!(vm_lines(&host, instances[1], "a resumed").len(), 1);
}

/// Shared queues are the process's, keyed by `vm_id` and name: both
/// workers' roots register `events` and get one token. cpp-host's
/// `SharedQueue::registerQueue` binds the queue to the root that
/// registered it last (here worker 1's, the last started; in Envoy,
/// whichever worker's VM configured last), so items enqueued on either
/// worker wake that root alone, on its worker.
#[test]
fn a_shared_queue_is_one_queue_for_every_worker_and_wakes_the_root_that_registered_it_last() {
    let mut host = Host::with_options(HostOptions { concurrency: 2, ..HostOptions::default() });
    let a = load(&mut host, "name=a;queue=1");
    let instances = host.instances(a);
    let tokens: Vec<Vec<String>> = instances.iter().map(|i| vm_lines(&host, *i, "a registered events ")).collect();
    assert_eq!(tokens[0].len(), 1, "{tokens:?}");
    assert_eq!(tokens[0], tokens[1], "one queue, one token");
    assert_ne!(tokens[0][0], "a registered events 0", "registered");
    for worker in [0, 1, 0] {
        let mut stream = host.http_stream_on(a, worker).unwrap();
        stream.request_headers([(":path", "/"), (":method", "GET")], true).unwrap();
        stream.complete().unwrap();
    }
    // Items are `<name>-<worker's own count>-<shared count>`.
    assert_eq!(
        vm_lines(&host, instances[1], "a queue_ready "),
        ["a queue_ready a-1-1", "a queue_ready a-1-2", "a queue_ready a-2-3"],
        "worker 1's root got every worker's items"
    );
    assert!(vm_lines(&host, instances[0], "a queue_ready ").is_empty(), "worker 0's root is not the queue's");
    assert_eq!(host.queue("", "events"), Some(Vec::new()), "all dequeued");
}

/// Envoy's stats are the process's: a gauge is one value that every
/// worker's `add`/`sub` changes (so it sums the workers' open streams) and
/// every worker's `set` replaces (the last write wins, it is not summed); a
/// histogram merges every worker's samples (each worker records into its
/// thread-local histogram, merged into the one parent histogram).
#[test]
fn gauges_and_histograms_are_one_stat_across_workers() {
    let mut host = Host::with_options(HostOptions { concurrency: 2, ..HostOptions::default() });
    let a = load(&mut host, "name=a");
    let mut open = Vec::new();
    for worker in [0, 0, 1] {
        let mut stream = host.http_stream_on(a, worker).unwrap();
        stream.request_headers([(":path", "/"), (":method", "GET")], true).unwrap();
        open.push(stream.id());
    }
    assert_eq!(host.gauge("a_open"), Some(3), "two streams on worker 0 and one on worker 1");
    assert_eq!(host.gauge("a_last_local"), Some(1), "worker 1 set it last, to its own count");
    assert_eq!(host.histogram("a_local_hist"), Some(vec![1, 2, 1]), "both workers' samples");
    for id in open {
        let mut stream = host.http(id).unwrap();
        stream.response_headers([(":status", "200")], true).unwrap();
        stream.complete().unwrap();
    }
    assert_eq!(host.gauge("a_open"), Some(0), "each worker took its own streams off");
}

/// A `[mesh]` plugin's module is checked against its WasmPlugin's
/// `sha256` as it is read: Istio's agent refuses a module whose checksum
/// differs, and host-sim exits 3 (the plugin could not run), naming both
/// sums; the right sum runs.
#[test]
fn a_mesh_module_whose_sha256_differs_from_its_manifest_exits_3() {
    let dir = workdir().join("sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mesh.wasm"), mesh_wasm()).unwrap();
    let actual = host_sim::istio::sha256_hex(mesh_wasm());
    let wrong = format!("{:0>64}", "1");
    for (file, sum) in [("right", &actual), ("wrong", &wrong)] {
        let manifest = format!(
            "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: tag\n  namespace: shop\n\
             spec:\n  url: file://mesh.wasm\n  sha256: {sum}\n  pluginConfig: {{ mode: tag }}\n"
        );
        std::fs::write(dir.join(format!("{file}.yaml")), manifest).unwrap();
        let scenario = format!(
            "[mesh]\nwasm_plugins = [\"{file}.yaml\"]\nnamespace = \"shop\"\n[[stream]]\nrequest = {{ path = \"/\" }}\n\
             [stream.expect]\nupstream_headers = {{ equals = {{ x-chain = \"mesh\" }} }}\n"
        );
        std::fs::write(dir.join(format!("{file}.toml")), scenario).unwrap();
    }
    let (code, out, err) = run_scenario(&dir.join("right.toml"));
    assert_eq!(code, 0, "the right sum runs:\n{out}\n{err}");
    let (code, out, err) = run_scenario(&dir.join("wrong.toml"));
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(
        err.contains(&format!("has the SHA-256 {actual}, but its WasmPlugin's `sha256` is {wrong}")),
        "the error names both sums: {err}"
    );
    assert!(!out.contains("── stream 1"), "nothing ran: {out}");
}

/// `mesh-network-pass.toml` runs a NETWORK WasmPlugin connection end to
/// end; its report shows the network filter chain Istio's rules made from
/// the manifest: the plugins whose selector, match and type fit, in phase
/// order, between Istio's own filters.
#[test]
fn network_wasm_plugins_make_the_network_filter_chain_a_connection_runs_through() {
    let (code, out, err) = host_sim(&["run", "--json"], &workdir().join("mesh-network-pass.toml"));
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        report["tcp_filter_chain"],
        serde_json::json!([
            "[istio.metadata_exchange]",
            "l4-authz",
            "[envoy.filters.network.rbac]",
            "l4-stats",
            "[istio.stats]",
            "[envoy.filters.network.tcp_proxy]"
        ]),
        "l4-other-port (port 9000) and l4-other-workload (app=payments) stay out"
    );
    let http: Vec<&str> = report["filter_chain"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.as_str())
        .filter(|f| !f.starts_with('['))
        .collect();
    assert_eq!(http, ["http-tag"], "the HTTP chain has the HTTP plugin only");
    assert_eq!(report["failures"].as_array().map(Vec::len), Some(0));
}

/// A body sent while b holds the request headers: cpp-host turns a
/// headers `StopIteration` into `StopAllIterationAndWatermark`, so Envoy
/// buffers the body without calling b, and neither c nor the upstream gets
/// anything; once b resumes, Envoy's `commonContinue` iterates from b
/// itself, so b's body callback gets the buffered body, then c gets it as
/// b left it.
#[test]
fn a_body_sent_while_a_plugin_holds_the_headers_waits_for_it_then_passes_it() {
    let mut host = Host::new();
    let mut stream = chain_stream(
        &mut host,
        &["name=a;body=1", "name=b;body=1;hold=/slow", "name=c;body=1"],
        "POST",
        "/slow",
        false,
    );
    stream.request_body("x", true).unwrap();
    assert_eq!(stream.request_held_by().map(|(k, _)| k), Some(1));
    assert!(stream.upstream_request().headers.is_none() && stream.upstream_request().body.is_empty());
    let id = stream.id();
    assert_eq!(body_calls(&host, &["a", "b", "c"]), ["a request_body 1 end=true"], "b is stopped: no callback");

    host.advance(Duration::from_secs(1)).unwrap();
    let stream = host.http_chain(id).unwrap();
    assert_eq!(stream.upstream_request().body, b"x[a][b][c]");
    assert!(stream.upstream_request().end_of_stream);
    assert_eq!(header(stream.upstream_request(), "x-held-by").as_deref(), Some("b"));
    assert_eq!(
        body_calls(&host, &["a", "b", "c"]),
        ["a request_body 1 end=true", "b request_body 4 end=true", "c request_body 7 end=true"]
    );
}

/// The response side of a body pause: b (the second encoder filter, the
/// response running last to first) holds the last response chunk, so a
/// and the client get nothing of it until b's tick appends to the
/// buffered body and resumes; c, before b on the response path, is done.
#[test]
fn a_pause_from_a_response_body_callback_holds_the_plugins_before_it() {
    let mut host = Host::new();
    let mut stream = chain_stream(
        &mut host,
        &["name=a;body=1", "name=b;body=1;hold-response-body=/", "name=c;body=1"],
        "GET",
        "/",
        true,
    );
    stream.response_headers([(":status", "200")], false).unwrap();
    stream.response_body("r", false).unwrap();
    let action = stream.response_body("s", true).unwrap();
    assert!(!action.is_continue());
    assert_eq!(stream.response_held_by().map(|(k, _)| k), Some(1));
    assert_eq!(stream.client_response().body, b"r[c][b][a]", "the first chunk passed every plugin");
    assert!(!stream.client_response().end_of_stream);
    let id = stream.id();
    assert_eq!(
        logged(&host, &["a"], &["response_body"]),
        ["a response_body 7 end=false"],
        "a has the first chunk only"
    );

    host.advance(Duration::from_secs(1)).unwrap();
    let out = host.http_chain(id).unwrap().complete().unwrap();
    assert_eq!(out.client_response.body, b"r[c][b][a]s[c][b][held by b][a]");
    assert!(out.client_response.end_of_stream);
    assert_eq!(out.plugins[0].response_in.body, b"r[c][b]s[c][b][held by b]", "a saw it as b left it");
}
