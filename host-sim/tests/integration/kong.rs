//! The `kong` profile: each behaviour of Kong's ngx_wasm_module that differs
//! from Envoy, next to Envoy's (the profile module's docs cite the source).

use crate::common::{LOG, SET_SHARED, Wat};
use host_sim::state::pairs;
use host_sim::{Error, Host, HostProfile, LogLevel, PluginId, PluginSpec, Status};

const IMPORTS: &str = r#"
  (import "env" "proxy_get_header_map_value" (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value" (func $replace (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_remove_header_map_value" (func $remove (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_header_map_pairs" (func $set_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs" (func $get_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $get_prop (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_call_foreign_function" (func $foreign (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $local (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))"#;

/// Callback bodies (WAT) of a test guest; each callback continues.
#[derive(Default)]
struct Callbacks {
    configure: String,
    request_headers: String,
    response_headers: String,
    log: String,
}

fn guest(build: impl FnOnce(&mut Wat, &mut Callbacks)) -> Vec<u8> {
    let mut w = Wat::default();
    let mut c = Callbacks::default();
    build(&mut w, &mut c);
    let body = format!(
        r#"(func (export "proxy_on_configure") (param i32 i32) (result i32) {} (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) {} (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) {} (i32.const 0))
  (func (export "proxy_on_log") (param i32) {})"#,
        c.configure, c.request_headers, c.response_headers, c.log
    );
    w.module("proxy_abi_version_0_2_1", &format!("{LOG} {SET_SHARED} {IMPORTS}"), &body)
}

/// WAT that stores the status of `call` as shared data `key` (4 bytes LE),
/// and, when it is OK, the returned bytes as `key.value`.
fn keep(w: &mut Wat, key: &str, call: &str) -> String {
    let (k, kv) = (w.s(key), w.s(&format!("{key}.value")));
    format!(
        "(i32.store (i32.const 200) {call})
    (drop (call $set_shared {k} (i32.const 200) (i32.const 4) (i32.const 0)))
    (if (i32.eqz (i32.load (i32.const 200)))
      (then (drop (call $set_shared {kv} (i32.load (i32.const 100)) (i32.load (i32.const 104)) (i32.const 0)))))\n"
    )
}

fn get_header(w: &mut Wat, name: &str) -> String {
    let n = w.s(name);
    let call = format!("(call $get_header (i32.const 0) {n} (i32.const 100) (i32.const 104))");
    keep(w, &format!("header {name}"), &call)
}

fn get_property(w: &mut Wat, path: &str) -> String {
    let p = w.s(&path.replace('.', "\0"));
    let call = format!("(call $get_prop {p} (i32.const 100) (i32.const 104))");
    keep(w, &format!("property {path}"), &call)
}

fn load(profile: HostProfile, wasm: Vec<u8>) -> (Host, PluginId) {
    let mut host = Host::new();
    host.set_profile(profile);
    let plugin = host.load(PluginSpec::from_bytes(wasm).name("edge")).expect("loads");
    (host, plugin)
}

fn status(host: &Host, key: &str) -> i32 {
    let (bytes, _) = host.shared_data("", key).unwrap_or_else(|| panic!("{key} was not recorded"));
    i32::from_le_bytes(bytes.try_into().expect("4 bytes"))
}

fn value(host: &Host, key: &str) -> Option<Vec<u8>> {
    host.shared_data("", &format!("{key}.value")).map(|(v, _)| v)
}

const REQUEST: [(&str, &str); 4] =
    [(":method", "GET"), (":path", "/api?x=1"), (":authority", "shop.example.com"), ("x-user-id", "admin")];

#[test]
fn an_unknown_foreign_function_traps_on_kong() {
    let wasm = guest(|w, c| {
        let (clear, mine) = (w.s("clear_route_cache"), w.s("my_extension"));
        c.request_headers = format!(
            "(drop (call $foreign {mine} (i32.const 0) (i32.const 0) (i32.const 100) (i32.const 104)))
    (drop (call $foreign {clear} (i32.const 0) (i32.const 0) (i32.const 100) (i32.const 104)))"
        );
    });
    for profile in [HostProfile::Envoy133, HostProfile::Kong] {
        let mut host = Host::new();
        host.set_profile(profile);
        host.register_foreign_function("my_extension", |_| Ok(b"ok".to_vec()));
        let plugin = host.load(PluginSpec::from_bytes(wasm.clone())).unwrap();
        let result = host.http_stream(plugin).unwrap().request_headers(REQUEST, false);
        match profile {
            HostProfile::Kong => {
                let err = result.unwrap_err();
                let Error::Trap { message, .. } = &err else { panic!("expected a trap, got {err}") };
                assert!(message.contains("unknown foreign function): clear_route_cache"), "{message}");
                assert!(message.contains("Kong"), "{message}");
            }
            _ => assert!(result.unwrap().is_continue()),
        }
        let calls: Vec<i32> =
            host.trace().iter().filter(|c| c.function == "proxy_call_foreign_function").map(|c| c.result).collect();
        // A function the test registers stands for a host extension on both hosts.
        assert_eq!(calls[0], 0, "{profile:?}");
    }
}

#[test]
fn kong_reads_authority_as_the_server_and_refuses_to_set_it() {
    let wasm = guest(|w, c| {
        let (authority, rewritten) = (w.s(":authority"), w.s("api.internal"));
        c.request_headers = format!(
            "{}{}(drop (call $replace (i32.const 0) {authority} {rewritten}))\n{}",
            get_header(w, ":authority"),
            get_header(w, "host"),
            get_property(w, "request.host"),
        );
    });
    let (mut kong, plugin) = load(HostProfile::Kong, wasm.clone());
    let mut stream = kong.http_stream(plugin).unwrap();
    stream.request_headers(REQUEST, true).unwrap();
    let upstream = stream.upstream_request().headers.clone().unwrap();
    assert_eq!(upstream.get_str(":authority"), Some("shop.example.com"), "the rewrite did not happen");
    assert_eq!(value(&kong, "header :authority").as_deref(), Some(&b"localhost:80"[..]));
    assert_eq!(value(&kong, "header host").as_deref(), Some(&b"shop.example.com"[..]));
    assert_eq!(value(&kong, "property request.host").as_deref(), Some(&b"localhost"[..]));
    let errors = kong.logs_at(LogLevel::Error);
    assert!(errors.iter().any(|l| l.starts_with("cannot set read-only \":authority\" header")), "{errors:?}");
    assert!(kong.failure(plugin).is_none(), "no trap: the call returns OK");

    let (mut envoy, plugin) = load(HostProfile::Envoy133, wasm);
    let mut stream = envoy.http_stream(plugin).unwrap();
    stream.request_headers(REQUEST, true).unwrap();
    assert_eq!(stream.upstream_request().headers.as_ref().unwrap().get_str(":authority"), Some("api.internal"));
    assert_eq!(value(&envoy, "header :authority").as_deref(), Some(&b"shop.example.com"[..]));
    assert_eq!(status(&envoy, "header host"), Status::NotFound as i32);
}

#[test]
fn kong_stops_setting_pairs_at_a_read_only_pseudo_header() {
    let wasm = guest(|w, c| {
        let map = w.pairs(&[(":path", "/new"), ("x-a", "1"), (":authority", "other"), ("x-b", "2")]);
        c.request_headers = format!("(drop (call $set_pairs (i32.const 0) {map}))");
    });
    let (mut kong, plugin) = load(HostProfile::Kong, wasm);
    let mut stream = kong.http_stream(plugin).unwrap();
    stream.request_headers(REQUEST, true).unwrap();
    let upstream = stream.upstream_request().headers.clone().unwrap();
    assert_eq!(upstream.get_str(":path"), Some("/new"));
    assert_eq!(upstream.get_str("x-a"), Some("1"));
    assert_eq!(upstream.get_str("x-b"), None, "pairs after :authority are not set");
    assert_eq!(upstream.get_str(":authority"), Some("shop.example.com"));
    assert_eq!(upstream.get_str("x-user-id"), Some("admin"), "the cleared client header still reaches the upstream");
    assert!(kong.logs_at(LogLevel::Error).iter().any(|l| l.contains("read-only \":authority\"")));
}

#[test]
fn a_removed_request_header_still_reaches_the_upstream_on_kong() {
    let wasm = guest(|w, c| {
        let (user, roles, alice) = (w.s("x-user-id"), w.s("x-roles"), w.s("alice"));
        c.request_headers = format!(
            "(drop (call $remove (i32.const 0) {user}))\n{}(drop (call $replace (i32.const 0) {roles} {alice}))",
            get_header(w, "x-user-id"),
        );
    });
    let request = [
        (":method", "GET"),
        (":path", "/"),
        (":authority", "a"),
        ("x-user-id", "admin"),
        ("x-roles", "root"),
        ("x-roles", "ops"),
    ];
    let (mut kong, plugin) = load(HostProfile::Kong, wasm.clone());
    let mut stream = kong.http_stream(plugin).unwrap();
    stream.request_headers(request, true).unwrap();
    let upstream = stream.upstream_request().headers.clone().unwrap();
    assert_eq!(status(&kong, "header x-user-id"), Status::NotFound as i32, "the plugin no longer sees it");
    assert_eq!(upstream.get_all(b"x-user-id").collect::<Vec<_>>(), [b"admin"], "but the upstream gets it");
    assert_eq!(upstream.get_all(b"x-roles").collect::<Vec<_>>(), [&b"alice"[..], b"ops"], "replace keeps the second");
    let order: Vec<(&[u8], &[u8])> = upstream.entries().iter().map(|(k, v)| (&k[..], &v[..])).collect();
    let expected: Vec<(&[u8], &[u8])> =
        request.iter().map(|(k, v)| (k.as_bytes(), if *v == "root" { &b"alice"[..] } else { v.as_bytes() })).collect();
    assert_eq!(order, expected, "deleted entries keep their place in nginx's list");

    let (mut envoy, plugin) = load(HostProfile::Envoy133, wasm);
    let mut stream = envoy.http_stream(plugin).unwrap();
    stream.request_headers(request, true).unwrap();
    let upstream = stream.upstream_request().headers.clone().unwrap();
    assert_eq!(upstream.get(b"x-user-id"), None);
    assert_eq!(upstream.get_all(b"x-roles").collect::<Vec<_>>(), [b"alice"]);
}

#[test]
fn kong_properties_outside_a_request_fail() {
    let wasm = guest(|w, c| {
        c.configure = format!("{}{}", get_property(w, "node.metadata"), get_property(w, "plugin_name"));
    });
    let (kong, _) = load(HostProfile::Kong, wasm.clone());
    assert_eq!(status(&kong, "property node.metadata"), Status::InternalFailure as i32);
    assert_eq!(value(&kong, "property plugin_name").as_deref(), Some(&b"edge"[..]));
    assert!(
        kong.logs_at(LogLevel::Error)
            .iter()
            .any(|l| l.starts_with("cannot get scoped properties outside of a request"))
    );
    let (envoy, _) = load(HostProfile::Envoy133, wasm);
    assert_eq!(status(&envoy, "property node.metadata"), 0);
}

#[test]
fn kong_declines_envoy_attributes_with_a_log_line_per_request() {
    let paths =
        ["cluster_name", "route_name", "response.flags", "connection.uri_san_peer_certificate", "node.metadata"];
    let wasm = guest(|w, c| {
        c.request_headers = paths.iter().map(|p| get_property(w, p)).collect();
    });
    let (mut kong, plugin) = load(HostProfile::Kong, wasm);
    for _ in 0..2 {
        kong.http_stream(plugin).unwrap().request_headers(REQUEST, true).unwrap();
    }
    for path in paths {
        assert_eq!(status(&kong, &format!("property {path}")), Status::NotFound as i32, "{path}");
    }
    let errors = kong.logs_at(LogLevel::Error);
    for path in ["cluster_name", "route_name", "response.flags"] {
        let lines = errors.iter().filter(|l| l.starts_with(&format!("\"{path}\" property not supported"))).count();
        assert_eq!(lines, 2, "one per request: {errors:?}");
    }
    let alerts = kong.logs_at(LogLevel::Critical);
    assert_eq!(alerts.iter().filter(|l| l.contains("NYI - \"connection.uri_san_peer_certificate\"")).count(), 2);
    assert!(!errors.iter().chain(&alerts).any(|l| l.contains("node.metadata")), "node.* is silently absent");
}

#[test]
fn kong_serves_response_code_as_text() {
    let wasm = guest(|w, c| {
        c.log = get_property(w, "response.code");
    });
    for (code, text) in [("200", "200"), ("503", "503")] {
        let (mut kong, plugin) = load(HostProfile::Kong, wasm.clone());
        let mut stream = kong.http_stream(plugin).unwrap();
        stream.request_headers(REQUEST, true).unwrap();
        stream.response_headers([(":status", code)], true).unwrap();
        assert_eq!(value(&kong, "property response.code").as_deref(), Some(text.as_bytes()));
    }
    let (mut envoy, plugin) = load(HostProfile::Envoy133, wasm);
    let mut stream = envoy.http_stream(plugin).unwrap();
    stream.request_headers(REQUEST, true).unwrap();
    stream.response_headers([(":status", "503")], true).unwrap();
    assert_eq!(value(&envoy, "property response.code"), Some(503i64.to_le_bytes().to_vec()));
}

fn define(w: &mut Wat, name: &str) -> String {
    format!("(drop (call $define (i32.const 0) {} (i32.const 300)))", w.s(name))
}

#[test]
fn kong_prefixes_metrics_with_colons_and_traps_on_long_names() {
    // The stored name is `pw:edge:<name>`: 4 + 4 bytes of overhead.
    let longest = "m".repeat(256 - 8);
    let wasm = guest(|w, c| c.configure = format!("{}\n{}", define(w, "hits"), define(w, &longest)));
    let (kong, _) = load(HostProfile::Kong, wasm);
    assert_eq!(kong.counter("pw:edge:hits"), Some(0), "{:?}", kong.metrics());
    assert_eq!(kong.counter(&format!("pw:edge:{longest}")), Some(0));

    let too_long = "m".repeat(256 - 7);
    let wasm = guest(|w, c| c.configure = define(w, &too_long));
    let mut kong = Host::new();
    kong.set_profile(HostProfile::Kong);
    let err = kong.load(PluginSpec::from_bytes(wasm.clone()).name("edge")).unwrap_err();
    assert!(err.to_string().contains("could not define metric: name"), "{err}");
    assert!(err.to_string().contains("too long"), "{err}");
    let (envoy, _) = load(HostProfile::Envoy133, wasm);
    assert_eq!(envoy.counter(&too_long), Some(0));
}

#[test]
fn kong_local_responses_carry_details_as_reason_and_a_newline() {
    let wasm = guest(|w, c| {
        let (details, body) = (w.s("jwt_decode_failed{malformed_jwt}"), w.s("{\"error\":\"jwt\"}"));
        c.request_headers =
            format!("(drop (call $local (i32.const 401) {details} {body} (i32.const 0) (i32.const 0) (i32.const -1)))");
    });
    let (mut kong, plugin) = load(HostProfile::Kong, wasm.clone());
    let mut stream = kong.http_stream(plugin).unwrap();
    stream.request_headers(REQUEST, true).unwrap();
    let local = stream.local_response().cloned().expect("a local response");
    assert_eq!(local.body, b"{\"error\":\"jwt\"}\n");
    assert_eq!(stream.client_response().body, b"{\"error\":\"jwt\"}\n");
    let line = kong.profile().status_line(local.status_code, &local.details);
    assert_eq!(line, "HTTP/1.1 401 jwt_decode_failed{malformed_jwt}");

    let (mut envoy, plugin) = load(HostProfile::Envoy133, wasm);
    let mut stream = envoy.http_stream(plugin).unwrap();
    stream.request_headers(REQUEST, true).unwrap();
    let local = stream.local_response().cloned().expect("a local response");
    assert_eq!(local.body, b"{\"error\":\"jwt\"}");
    assert_eq!(envoy.profile().status_line(local.status_code, &local.details), "HTTP/1.1 401 Unauthorized");
}

#[test]
fn kong_refuses_a_second_local_response_and_bad_statuses() {
    let wasm = guest(|w, c| {
        let (d, b) = (w.s("first"), w.s("x"));
        let once = format!("(call $local (i32.const 403) {d} {b} (i32.const 0) (i32.const 0) (i32.const -1))");
        c.request_headers = format!(
            "(drop (call $local (i32.const 99) {d} {b} (i32.const 0) (i32.const 0) (i32.const -1)))
    (drop {once}) (drop {once})"
        );
    });
    let (mut kong, plugin) = load(HostProfile::Kong, wasm);
    let err = kong.http_stream(plugin).unwrap().request_headers(REQUEST, true).unwrap_err();
    assert!(err.to_string().contains("local response already stashed"), "{err}");
    let results: Vec<i32> =
        kong.trace().iter().filter(|c| c.function == "proxy_send_local_response").map(|c| c.result).collect();
    assert_eq!(results, [Status::BadArgument as i32, 0, -1]);
}

#[test]
fn kong_pairs_view_lists_pseudo_headers_first() {
    let wasm = guest(|w, c| {
        let key = w.s("pairs");
        c.request_headers = format!(
            "(drop (call $get_pairs (i32.const 0) (i32.const 100) (i32.const 104)))
    (drop (call $set_shared {key} (i32.load (i32.const 100)) (i32.load (i32.const 104)) (i32.const 0)))"
        );
    });
    let (mut kong, plugin) = load(HostProfile::Kong, wasm);
    kong.http_stream(plugin).unwrap().request_headers(REQUEST, true).unwrap();
    let (bytes, _) = kong.shared_data("", "pairs").unwrap();
    let seen: Vec<(String, String)> = pairs::decode(&bytes)
        .into_iter()
        .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
        .collect();
    let expected = [
        (":path", "/api?x=1"),
        (":method", "GET"),
        (":authority", "localhost:80"),
        ("host", "shop.example.com"),
        ("x-user-id", "admin"),
    ];
    assert_eq!(seen, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
}
