//! The router under the conditions that break routing plugins in production:
//! route-cache modes and hosts without `clear_route_cache`, bad
//! configuration, and request bytes that are not UTF-8.

use crate::common;

use crate::common::{calls, count_clear_route_cache, decisions, get, host, host_calls, run, values};
use host_sim::{Error, Host, LogLevel, Mode, Status};

const FOREIGN_CALL: &str = "proxy_call_foreign_function";

fn config(mode: &str) -> String {
    format!(
        r#"{{"clear_route_cache": "{mode}",
            "rules": [{{"name": "acme", "match": {{"header": "x-tenant", "exact": "acme"}}, "cluster": "acme-backend"}}]}}"#
    )
}

host_sim::dual_tests! {
    fn clear_route_cache_is_called_as_configured(mode) {
        // (clear mode, calls after: a routed request, an unrouted one, an unrouted one with a spoofed header)
        let expected = [("auto", [1, 0, 1]), ("always", [1, 1, 1]), ("never", [0, 0, 0])];
        for (clear, after) in expected {
            let (mut host, plugin) = host(mode, &config(clear));
            let counter = count_clear_route_cache(&mut host);
            let requests = [
                get("/", &[("x-tenant", "acme")]),
                get("/", &[("x-tenant", "other")]),
                get("/", &[("x-route-cluster", "admin")]),
            ];
            for (request, expected_calls) in requests.into_iter().zip(after) {
                let before = calls(&counter);
                run(&mut host, plugin, request);
                assert_eq!(calls(&counter) - before, expected_calls, "mode {clear}");
            }
            // The host-call trace agrees: every call succeeded.
            let traced = host_calls(&host, FOREIGN_CALL);
            assert_eq!(traced.len(), after.iter().sum::<usize>(), "mode {clear}");
            assert!(traced.iter().all(|&status| status == 0), "mode {clear}: {traced:?}");
        }
    }
}

host_sim::dual_tests! {
    fn clearing_happens_after_the_headers_are_written(mode) {
        // The foreign function runs inside the plugin's host call; it cannot see
        // the stream, but the trace shows the order of the calls.
        let (mut host, plugin) = host(mode, &config("auto"));
        count_clear_route_cache(&mut host);
        run(&mut host, plugin, get("/", &[("x-tenant", "acme")]));
        let trace: Vec<&str> = host.trace().into_iter().map(|c| c.function).collect();
        let write = trace.iter().position(|f| *f == "proxy_replace_header_map_value").expect("the header is written");
        let clear = trace.iter().position(|f| *f == FOREIGN_CALL).expect("the cache is cleared");
        assert!(write < clear, "{trace:?}");
    }
}

host_sim::dual_tests! {
    fn a_host_without_clear_route_cache_is_logged_once_and_routes_anyway(mode) {
        // A host without the function (Envoy before 1.33; this registration
        // replaces the built-in one) answers NOT_FOUND. Kong's nginx module
        // traps instead: see tests/kong.rs.
        let (mut host, plugin) = host(mode, &config("always"));
        host.register_foreign_function("clear_route_cache", |_| Err(Status::NotFound));
        for _ in 0..3 {
            let outcome = run(&mut host, plugin, get("/", &[("x-tenant", "acme")]));
            assert_eq!(values(&outcome, "x-route-cluster"), ["acme-backend"]);
        }
        assert_eq!(host_calls(&host, FOREIGN_CALL), [Status::NotFound.code() as i32], "called once, then not again");
        let warnings = host.logs_at(LogLevel::Warn);
        let missing: Vec<_> = warnings.iter().filter(|l| l.contains("no clear_route_cache foreign function")).collect();
        assert_eq!(missing.len(), 1, "{warnings:?}");
        assert_eq!(decisions(&host, "acme", "acme-backend"), 3);
        let debug = host.logs_at(LogLevel::Debug);
        assert!(debug.iter().any(|l| l.ends_with("route cache kept")), "{debug:?}");
    }
}

host_sim::dual_tests! {
    fn a_failing_clear_route_cache_does_not_break_the_request(mode) {
        let (mut host, plugin) = host(mode, &config("auto"));
        host.register_foreign_function("clear_route_cache", |_| Err(Status::InternalFailure));
        for _ in 0..2 {
            let outcome = run(&mut host, plugin, get("/", &[("x-tenant", "acme")]));
            assert_eq!(values(&outcome, "x-route-cluster"), ["acme-backend"]);
        }
        // Other failures are not "absent": the plugin keeps trying, and says why each time.
        assert_eq!(host_calls(&host, FOREIGN_CALL).len(), 2);
        let warnings = host.logs_at(LogLevel::Warn);
        assert_eq!(warnings.iter().filter(|l| l.contains("clear_route_cache failed")).count(), 2, "{warnings:?}");
    }
}

/// Loads the router with `config` and returns the error and what it logged.
fn rejected(mode: Mode, config: &str) -> (Error, Vec<String>) {
    let mut host = Host::new();
    let spec = common::spec(mode).root_id("router").configuration(config);
    match host.load(spec) {
        Ok(_) => panic!("the router accepted {config}"),
        Err(e) => (e, host.logs_at(LogLevel::Error)),
    }
}

host_sim::dual_tests! {
    fn bad_configuration_fails_plugin_start_naming_the_field(mode) {
        let cases = [
            ("", "field \"rules\": required, but missing"),
            ("{\"rules\": [", "invalid JSON"),
            (
                r#"{"rules": [], "clear_route_cache": "sometimes"}"#,
                "field \"clear_route_cache\": expected one of \"auto\", \"always\", \"never\"",
            ),
            (
                r#"{"rules": [{"match": {"header": "x-user-id", "percent": 150}, "cluster": "canary"}]}"#,
                "field \"rules[0].match.percent\": expected an integer from 0 to 100, found 150",
            ),
            (
                r#"{"rules": [{"match": {"path_prefix": "/v1/"}, "cluster": "a"}, {"match": {}, "rewrite_path_prefix": "/v2/"}]}"#,
                "field \"rules[1].rewrite_path_prefix\": needs \"match.path_prefix\"",
            ),
            (
                r#"{"rules": [{"match": {"header": "x-route-cluster", "exact": "a"}, "cluster": "a"}]}"#,
                "field \"rules[0].match.header\": \"x-route-cluster\" is the cluster header",
            ),
            (r#"{"rules": [{"match": {}, "clustr": "a"}]}"#, "field \"rules[0].clustr\": unknown field"),
        ];
        for (config, expected) in cases {
            let (error, logs) = rejected(mode, config);
            assert!(matches!(error, Error::ConfigureRejected { .. }), "{config}: {error}");
            assert!(
                logs.iter().any(|l| l.starts_with("plugin configuration: ") && l.contains(expected)),
                "{config}\n  logged: {logs:?}\n  expected: {expected}"
            );
        }
    }
}

host_sim::dual_tests! {
    fn header_bytes_that_are_not_utf8_route_without_panicking(mode) {
        let config = r#"{"rules": [
            {"name": "tenant", "match": {"header": "x-tenant", "prefix": "ac"}, "cluster": "acme-backend"},
            {"name": "users", "match": {"header": "x-user-id", "percent": 100}, "authority_suffix": "-canary"},
            {"name": "v1", "match": {"path_prefix": "/v1/"}, "rewrite_path_prefix": "/v2/"}
        ]}"#;
        let (mut host, plugin) = host(mode, config);
        count_clear_route_cache(&mut host);
        let mut stream = host.http_stream(plugin).unwrap();
        // A prefix match on bytes that are not UTF-8, and a spoofed cluster header that is not either.
        let action = stream
            .request_headers(
                [
                    (&b":path"[..], &b"/v1/\xff\xfe?q=\xc3"[..]),
                    (b":authority", b"shop\xe9.example"),
                    (b"x-tenant", b"ac\xff\xfe"),
                    (b"x-route-cluster", b"\x80\x81"),
                ],
                true,
            )
            .unwrap();
        assert!(action.is_continue());
        let sent = stream.request_headers_now().unwrap().clone();
        assert_eq!(sent.get(b"x-route-cluster"), Some(&b"acme-backend"[..]));
        assert_eq!(sent.get(b":path"), Some(&b"/v1/\xff\xfe?q=\xc3"[..]), "the first rule decided");
        stream.complete().unwrap();

        // The hashed header and the rewritten values keep their bytes.
        let mut stream = host.http_stream(plugin).unwrap();
        stream
            .request_headers(
                [(&b":path"[..], &b"/x"[..]), (b":authority", b"shop\xe9.example"), (b"x-user-id", b"\xff\x00\xfe")],
                true,
            )
            .unwrap();
        assert_eq!(stream.request_headers_now().unwrap().get(b":authority"), Some(&b"shop\xe9.example-canary"[..]));
        stream.complete().unwrap();

        let mut stream = host.http_stream(plugin).unwrap();
        stream.request_headers([(&b":path"[..], &b"/v1/\xff\xfe?q=\xc3"[..])], true).unwrap();
        assert_eq!(stream.request_headers_now().unwrap().get(b":path"), Some(&b"/v2/\xff\xfe?q=\xc3"[..]));
        stream.complete().unwrap();

        assert_eq!(host.failure(plugin), None);
        assert!(host.logs_at(LogLevel::Critical).is_empty(), "no panic: {:?}", host.logs_at(LogLevel::Critical));
        let debug = host.logs_at(LogLevel::Debug);
        assert!(debug.iter().any(|l| l.contains(r#"removing client-sent x-route-cluster: "\x80\x81""#)), "{debug:?}");
        assert!(debug.iter().any(|l| l.contains(r#":path "/v1/\xff\xfe?q=\xc3" -> "/v2/\xff\xfe?q=\xc3""#)), "{debug:?}");
    }
}

host_sim::dual_tests! {
    fn properties_that_are_not_utf8_are_logged_escaped(mode) {
        let config = r#"{"verify_cluster": true,
                         "rules": [{"name": "acme", "match": {"header": "x-tenant", "exact": "acme"}, "cluster": "acme-backend"}]}"#;
        let (mut host, plugin) = host(mode, config);
        host.set_property(plugin, &["cluster_name"], host_sim::Value::Bytes(b"odd\xffcluster".to_vec())).unwrap();
        run(&mut host, plugin, get("/", &[("x-tenant", "acme")]));
        let warnings = host.logs_at(LogLevel::Warn);
        assert!(warnings.iter().any(|l| l.contains(r#"went to "odd\xffcluster""#)), "{warnings:?}");
    }
}
