//! Host profiles (Kong), strict mode, capability restriction, header
//! redaction and the property fixes.

use std::time::Duration;

use crate::common::{LOG, SET_SHARED, Wat};
use host_sim::state::pairs;
use host_sim::{Error, Host, HostProfile, LogLevel, PluginSpec, Status};

const MORE: &str = r#"
  (import "env" "proxy_set_tick_period_milliseconds" (func $tick (param i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $get_prop (param i32 i32 i32 i32) (result i32)))"#;

/// A guest whose `on_request_headers` runs `body` (WAT), then continues.
fn guest(build: impl FnOnce(&mut Wat) -> String) -> Vec<u8> {
    let mut w = Wat::default();
    let body = build(&mut w);
    let body = format!(
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    {body}
    (i32.const 0))"#
    );
    w.module("proxy_abi_version_0_2_1", &format!("{LOG} {MORE}"), &body)
}

fn results(host: &Host, function: &str) -> Vec<i32> {
    host.trace().iter().filter(|c| c.function == function).map(|c| c.result).collect()
}

fn tick_in_stream() -> Vec<u8> {
    guest(|_| "(drop (call $tick (i32.const 1000)))".into())
}

#[test]
fn strict_mode_fails_a_wrong_phase_call_with_a_clear_message() {
    // Lenient (default): the call returns a status and the stream goes on.
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(tick_in_stream())).unwrap();
    let mut stream = host.http_stream(plugin).unwrap();
    assert!(stream.request_headers([(":path", "/")], true).unwrap().is_continue());
    assert_eq!(host.failure(plugin), None);

    let mut host = Host::new();
    host.set_strict(true);
    let plugin = host.load(PluginSpec::from_bytes(tick_in_stream())).unwrap();
    let mut stream = host.http_stream(plugin).unwrap();
    let err = stream.request_headers([(":path", "/")], true).unwrap_err();
    let Error::Trap { callback, message } = &err else { panic!("expected a trap, got {err}") };
    assert_eq!(*callback, "proxy_on_request_headers");
    for part in ["strict mode", "proxy_set_tick_period_milliseconds", "proxy_on_request_headers", "root context"] {
        assert!(message.contains(part), "{part} in {message}");
    }
    assert!(host.failure(plugin).is_some());
}

#[test]
fn switching_strict_mode_applies_to_plugins_already_loaded() {
    // Each VM keeps its own copy of the checks' settings: switching the mode
    // after loading must reach it.
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(tick_in_stream())).unwrap();
    host.set_strict(true);
    let err = host.http_stream(plugin).unwrap().request_headers([(":path", "/")], true).unwrap_err();
    assert!(err.to_string().contains("strict mode"), "{err}");

    let mut host = Host::new();
    host.set_strict(true);
    let plugin = host.load(PluginSpec::from_bytes(tick_in_stream())).unwrap();
    host.set_strict(false);
    assert!(host.http_stream(plugin).unwrap().request_headers([(":path", "/")], true).unwrap().is_continue());
    assert_eq!(host.failure(plugin), None);
}

#[test]
fn strict_mode_covers_buffers_and_maps_that_do_not_exist_yet() {
    let body_read = guest(|_| {
        "(drop (call $get_buffer (i32.const 1) (i32.const 0) (i32.const 10) (i32.const 100) (i32.const 104)))".into()
    });
    let response_header =
        guest(|w| format!("(drop (call $get_header (i32.const 2) {} (i32.const 100) (i32.const 104)))", w.s("server")));
    for (wasm, expect) in [
        (body_read, "can only get or set response body during on_response_body"),
        (response_header, "proxy_get_header_map_value called in proxy_on_request_headers returned BAD_ARGUMENT"),
    ] {
        let mut host = Host::new();
        let plugin = host.load(PluginSpec::from_bytes(wasm.clone())).unwrap();
        host.http_stream(plugin).unwrap().request_headers([(":path", "/")], true).unwrap();
        let mut strict = Host::new();
        strict.set_strict(true);
        let plugin = strict.load(PluginSpec::from_bytes(wasm)).unwrap();
        let err = strict.http_stream(plugin).unwrap().request_headers([(":path", "/")], true).unwrap_err();
        assert!(err.to_string().contains(expect), "{err}");
    }
}

#[test]
fn restricted_capabilities_log_and_return_internal_failure() {
    let wasm = guest(|w| {
        format!(
            "(drop (call $get_prop {} (i32.const 100) (i32.const 104))) {}",
            w.s("request\0path"),
            w.log("still running")
        )
    });
    let mut host = Host::new();
    let spec = PluginSpec::from_bytes(wasm).allow_capabilities(["proxy_log", "proxy_on_request_headers"]);
    let plugin = host.load(spec).unwrap();
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers([(":path", "/")], true).unwrap();
    assert_eq!(results(&host, "proxy_get_property"), [Status::InternalFailure as i32]);
    assert_eq!(results(&host, "proxy_log"), [0]);
    assert!(
        host.logs_at(LogLevel::Error)
            .contains(&"Attempted call to restricted proxy-wasm capability: proxy_get_property".to_owned())
    );
    assert_eq!(host.logs_at(LogLevel::Info), ["still running"]);
}

#[test]
fn restricted_wasi_functions_return_enotcapable() {
    let imports = r#"
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))"#;
    let body = r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $random (i32.const 300) (i32.const 8)))
    (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 400)))
    (i32.const 0))"#;
    let wasm = Wat::default().module("proxy_abi_version_0_2_1", imports, body);
    for (allowed, random) in [(None, 0), (Some(vec!["clock_time_get"]), 76)] {
        let mut spec = PluginSpec::from_bytes(wasm.clone());
        if let Some(list) = allowed {
            spec = spec.allow_capabilities(list);
        }
        let mut host = Host::new();
        let plugin = host.load(spec).unwrap();
        host.http_stream(plugin).unwrap().request_headers([(":path", "/")], true).unwrap();
        assert_eq!(results(&host, "random_get"), [random]);
        assert_eq!(results(&host, "clock_time_get"), [0]);
    }
}

#[test]
fn restricted_wasi_stubs_and_proc_exit_are_refused_too() {
    // cpp-host replaces every WASI function the list leaves out, stubs
    // included, with one that logs and returns ENOTCAPABLE (proc_exit: logs
    // and returns, so the guest goes on).
    let imports = format!(
        r#"{LOG}
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_unstable" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_advise" (func $advise (param i32 i64 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))"#
    );
    let mut w = Wat::default();
    let after = w.log("after proc_exit");
    let body = format!(
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
    (drop (call $close (i32.const 3)))
    (drop (call $advise (i32.const 1) (i64.const 0) (i64.const 0) (i32.const 0)))
    (call $exit (i32.const 3))
    {after}
    (i32.const 0))"#
    );
    let wasm = w.module("proxy_abi_version_0_2_1", &imports, &body);
    let spec = PluginSpec::from_bytes(wasm).allow_capabilities(["proxy_log", "fd_read"]);
    let mut host = Host::new();
    let plugin = host.load(spec).unwrap();
    host.http_stream(plugin).unwrap().request_headers([(":path", "/")], true).unwrap();
    assert_eq!(results(&host, "fd_read"), [52], "allowed: the stub answers as usual (NOSYS)");
    assert_eq!(results(&host, "fd_close"), [76]);
    assert_eq!(results(&host, "fd_advise"), [76]);
    assert!(host.failure(plugin).is_none(), "a restricted proc_exit does not stop the guest");
    assert_eq!(host.logs_at(LogLevel::Info), ["after proc_exit"]);
    let errors = host.logs_at(LogLevel::Error);
    for name in ["fd_close", "fd_advise", "proc_exit"] {
        assert!(errors.contains(&format!("Attempted call to restricted WASI capability: {name}")), "{errors:?}");
    }
    assert!(!errors.iter().any(|e| e.ends_with("fd_read")), "{errors:?}");
}

#[test]
fn redacted_headers_are_hidden_from_the_plugin_but_reach_the_upstream() {
    let wasm = {
        let mut w = Wat::default();
        let (auth, accept, prop) = (w.s("authorization"), w.s("accept"), w.s("request\0headers"));
        let (k1, k2, k3) = (w.s("auth"), w.s("accept"), w.s("headers"));
        let body = format!(
            r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (i32.store (i32.const 200) (call $get_header (i32.const 0) {auth} (i32.const 100) (i32.const 104)))
    (drop (call $set_shared {k1} (i32.const 200) (i32.const 4) (i32.const 0)))
    (drop (call $get_header (i32.const 0) {accept} (i32.const 100) (i32.const 104)))
    (drop (call $set_shared {k2} (i32.load (i32.const 100)) (i32.load (i32.const 104)) (i32.const 0)))
    (drop (call $get_prop {prop} (i32.const 100) (i32.const 104)))
    (drop (call $set_shared {k3} (i32.load (i32.const 100)) (i32.load (i32.const 104)) (i32.const 0)))
    (i32.const 0))"#
        );
        w.module("proxy_abi_version_0_2_1", &format!("{LOG} {SET_SHARED} {MORE}"), &body)
    };
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(wasm).redact_headers(["Authorization", "cookie"])).unwrap();
    let mut stream = host.http_stream(plugin).unwrap();
    let request = [(":path", "/"), ("authorization", "Bearer secret"), ("accept", "*/*"), ("cookie", "a=b")];
    stream.request_headers(request, true).unwrap();
    let upstream = stream.upstream_request().headers.clone().unwrap();
    assert_eq!(upstream.get_str("authorization"), Some("Bearer secret"));
    assert_eq!(upstream.get_str("cookie"), Some("a=b"));
    let status = host.shared_data("", "auth").unwrap().0;
    assert_eq!(status, (Status::NotFound as u32).to_le_bytes());
    assert_eq!(host.shared_data("", "accept").unwrap().0, b"*/*");
    let headers = pairs::decode(&host.shared_data("", "headers").unwrap().0);
    let names: Vec<&[u8]> = headers.iter().map(|(k, _)| k.as_slice()).collect();
    assert!(
        names.contains(&&b"accept"[..]) && !names.contains(&&b"authorization"[..]) && !names.contains(&&b"cookie"[..])
    );
}

fn imports_guest(import: &str) -> Vec<u8> {
    Wat::default().module("proxy_abi_version_0_2_1", import, "")
}

#[test]
fn kong_does_not_link_unregistered_or_differently_typed_functions() {
    let cases = [
        (r#"(import "env" "proxy_get_header_map_size" (func (param i32 i32) (result i32)))"#, "missing host function"),
        (
            r#"(import "env" "proxy_get_buffer_status" (func (param i32 i32 i32) (result i32)))"#,
            "missing host function",
        ),
        (r#"(import "env" "proxy_get_log_level" (func (param i32) (result i32)))"#, "2 i32 parameters"),
    ];
    for (import, why) in cases {
        let mut envoy = Host::new();
        envoy.load(PluginSpec::from_bytes(imports_guest(import))).unwrap();
        let mut kong = Host::new();
        kong.set_profile(HostProfile::Kong);
        let err = kong.load(PluginSpec::from_bytes(imports_guest(import))).unwrap_err();
        assert!(matches!(err, Error::Instantiate(_)) && err.to_string().contains(why), "{err}");
    }
}

#[test]
fn kong_links_its_own_proxy_get_log_level_and_traps_when_it_is_called() {
    // ngx_wasm_module registers it as (i32, i32) -> i32, a "not yet implemented" stub.
    let import = r#"(import "env" "proxy_get_log_level" (func $level (param i32 i32) (result i32)))"#;
    let body = r#"(func (export "proxy_on_configure") (param i32 i32) (result i32)
    (drop (call $level (i32.const 100) (i32.const 0))) (i32.const 1))"#;
    let wasm = Wat::default().module("proxy_abi_version_0_2_1", import, body);
    let mut kong = Host::new();
    kong.set_profile(HostProfile::Kong);
    let err = kong.load(PluginSpec::from_bytes(wasm.clone())).unwrap_err().to_string();
    assert!(err.contains("function not yet implemented") && err.contains("proxy_get_log_level"), "{err}");
    // Envoy registers the spec's signature: the module does not link there.
    let err = Host::new().load(PluginSpec::from_bytes(wasm)).unwrap_err();
    assert!(matches!(err, Error::Instantiate(_)) && err.to_string().contains("proxy_get_log_level"), "{err}");
}

#[test]
fn kong_traps_on_unimplemented_functions_and_takes_host_port_upstreams() {
    let imports = r#"
  (import "env" "proxy_get_status" (func $status (param i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $http (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))"#;
    let mut w = Wat::default();
    let headers = pairs::encode(&[(":method", "GET"), (":path", "/"), (":authority", "svc")]);
    let headers = w.s(&headers.iter().map(|b| *b as char).collect::<String>());
    let (cluster, host_port) = (w.s("outbound|80||svc"), w.s("127.0.0.1:8080"));
    let body = format!(
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $http {cluster} {headers} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 300)))
    (drop (call $http {host_port} {headers} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 300)))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (drop (call $status (i32.const 100) (i32.const 104) (i32.const 108)))
    (i32.const 0))"#
    );
    let wasm = w.module("proxy_abi_version_0_2_1", imports, &body);

    let mut host = Host::new();
    host.set_profile(HostProfile::Kong);
    let plugin = host.load(PluginSpec::from_bytes(wasm.clone())).unwrap();
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers([(":path", "/")], true).unwrap();
    let id = stream.id();
    assert_eq!(results(&host, "proxy_http_call"), [Status::BadArgument as i32, 0]);
    assert!(host.logs_at(LogLevel::Error).iter().any(|l| l.contains("dispatch failed: invalid upstream")));
    assert_eq!(host.http_callouts().len(), 1);
    let err = host.http(id).unwrap().response_headers([(":status", "200")], true).unwrap_err();
    assert!(err.to_string().contains("(function not yet implemented): proxy_get_status"), "{err}");

    let mut envoy = Host::new();
    let plugin = envoy.load(PluginSpec::from_bytes(wasm)).unwrap();
    let mut stream = envoy.http_stream(plugin).unwrap();
    stream.request_headers([(":path", "/")], true).unwrap();
    let id = stream.id();
    assert_eq!(results(&envoy, "proxy_http_call"), [0, 0]);
    envoy.http(id).unwrap().response_headers([(":status", "200")], true).unwrap();
}

/// A guest that stores, in `on_log`, each of `paths` (dotted) as shared data
/// keyed by the dotted path (absent paths store nothing).
fn property_dumper(paths: &[&str]) -> Vec<u8> {
    let mut w = Wat::default();
    let mut body = String::new();
    for path in paths {
        let (p, key) = (w.s(&path.replace('.', "\0")), w.s(path));
        body.push_str(&format!(
            "(if (i32.eqz (call $get_prop {p} (i32.const 100) (i32.const 104)))
      (then (drop (call $set_shared {key} (i32.load (i32.const 100)) (i32.load (i32.const 104)) (i32.const 0)))))\n"
        ));
    }
    let body = format!(r#"(func (export "proxy_on_log") (param i32) {body})"#);
    w.module("proxy_abi_version_0_2_1", &format!("{LOG} {SET_SHARED} {MORE}"), &body)
}

#[test]
fn property_fixes_for_telemetry() {
    let paths = [
        "request.time",
        "request.duration",
        "request.protocol",
        "response.flags",
        "response.grpc_status",
        "upstream.uri_san_peer_certificate",
        "upstream.uri_san_local_certificate",
        "node.metadata",
    ];
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(property_dumper(&paths))).unwrap();
    host.set_property(plugin, &["node", "metadata", "WORKLOAD_NAME"], "reviews-v2").unwrap();
    host.set_now_ns(1_700_000_000_000_000_000);
    let mut stream = host.http_stream(plugin).unwrap();
    stream.set_protocol("HTTP/2").unwrap();
    stream.request_headers([(":path", "/"), (":method", "POST")], true).unwrap();
    stream.host().advance(Duration::from_millis(25)).unwrap();
    stream.response_headers([(":status", "200"), ("grpc-status", "5")], true).unwrap();
    assert!(stream.is_finished());
    let get = |k: &str| host.shared_data("", k).map(|(v, _)| v).unwrap_or_else(|| panic!("{k} missing"));
    assert_eq!(get("request.time"), 1_700_000_000_000_000_000i64.to_le_bytes());
    assert_eq!(get("request.duration"), 25_000_000i64.to_le_bytes());
    assert_eq!(get("request.protocol"), b"HTTP/2");
    assert_eq!(get("response.flags"), 0i64.to_le_bytes());
    assert_eq!(get("response.grpc_status"), 5i64.to_le_bytes());
    // Present (plaintext upstream of an inbound sidecar: empty), no longer NOT_FOUND.
    assert_eq!(get("upstream.uri_san_peer_certificate"), b"");
    assert_eq!(get("upstream.uri_san_local_certificate"), b"");
    let metadata = pairs::decode(&get("node.metadata"));
    let value = |k: &str| metadata.iter().find(|(n, _)| n == k.as_bytes()).map(|(_, v)| v.clone());
    assert_eq!(value("WORKLOAD_NAME"), Some(b"reviews-v2".to_vec()));
    assert_eq!(value("NAMESPACE"), Some(b"default".to_vec()), "siblings of the test's leaf stay");
}

#[test]
fn kong_prefixes_metric_names_and_dispatches_without_a_cluster_table() {
    let imports = r#"
  (import "env" "proxy_define_metric" (func $define (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_increment_metric" (func $increment (param i32 i64) (result i32)))
  (import "env" "proxy_http_call" (func $http (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))"#;
    let mut w = Wat::default();
    let headers = pairs::encode(&[(":method", "GET"), (":path", "/check")]);
    let headers = w.s(&headers.iter().map(|b| *b as char).collect::<String>());
    let (hits, upstream) = (w.s("hits"), w.s("127.0.0.1:8080"));
    let body = format!(
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $define (i32.const 0) {hits} (i32.const 200)))
    (drop (call $increment (i32.load (i32.const 200)) (i64.const 1)))
    (drop (call $http {upstream} {headers} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 300)))
    (i32.const 0))"#
    );
    let wasm = w.module("proxy_abi_version_0_2_1", imports, &body);
    let run = |profile: HostProfile| {
        let mut host = Host::new();
        host.set_profile(profile);
        host.set_clusters(&["auth"]);
        let plugin = host.load(PluginSpec::from_bytes(wasm.clone()).name("edge")).unwrap();
        host.http_stream(plugin).unwrap().request_headers([(":path", "/")], true).unwrap();
        host
    };

    let kong = run(HostProfile::Kong);
    assert_eq!(kong.counter("pw:edge:hits"), Some(1), "{:?}", kong.metrics());
    assert_eq!(kong.counter("hits"), None);
    assert_eq!(results(&kong, "proxy_http_call"), [0], "host:port, no cluster table, no :authority needed");
    assert_eq!(kong.http_callouts()[0].upstream, "127.0.0.1:8080");

    let envoy = run(HostProfile::Envoy133);
    assert_eq!(envoy.counter("hits"), Some(1));
    assert_eq!(results(&envoy, "proxy_http_call"), [Status::BadArgument as i32], "unknown cluster, no :authority");
}
