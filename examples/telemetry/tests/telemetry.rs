//! The telemetry plugin, built from source to wasm and run in host-sim:
//! metadata exchange (strip, decode through the cache, inject), the Istio
//! metrics and their labels as Envoy's `stats_tags` read them, the metric-id
//! cache, and its error paths (bad configuration, malformed peer headers).

mod support;

use std::time::Duration;

use guest_build::Target;
use host_sim::{Error, HeaderMap, Host, LogLevel, PluginId, Request, Response, Value};
use support::{NODE_ID, counter, load, mode_spec, named, peer_metadata, samples, spec, stats, unbase64};

const INBOUND: &str = r#"{"direction": "inbound"}"#;
const OUTBOUND: &str = r#"{"direction": "outbound"}"#;
const METADATA: &str = "x-envoy-peer-metadata";
const METADATA_ID: &str = "x-envoy-peer-metadata-id";
const REVIEWS_ID: &str = "sidecar~10.44.0.21~reviews-v2-5b64c47d9f-l7x2p.bookinfo~bookinfo.svc.cluster.local";

/// A GET to the ratings service, as a client sidecar would send it.
fn ratings_request() -> Request {
    Request {
        headers: HeaderMap::from_pairs([
            (":method", "GET"),
            (":path", "/ratings/0"),
            (":authority", "ratings.default.svc.cluster.local:9080"),
            (":scheme", "http"),
        ]),
        ..Request::default()
    }
}

fn reviews_request() -> Request {
    ratings_request().header(METADATA_ID, REVIEWS_ID).header(METADATA, &peer_metadata("reviews-v2", "reviews", "v2"))
}

fn has(map: &Option<HeaderMap>, name: &str) -> bool {
    map.as_ref().is_some_and(|m| m.get(name.as_bytes()).is_some())
}

fn define_metric_calls(host: &Host) -> usize {
    host.trace().iter().filter(|c| c.function == "proxy_define_metric").count()
}

fn assert_running(host: &Host, plugin: PluginId) {
    assert_eq!(host.failure(plugin), None, "the plugin trapped");
}

host_sim::dual_tests! {
    fn inbound_strips_the_peer_headers_and_labels_metrics_with_the_peer(mode) {
        let (mut host, plugin) = load(mode, INBOUND);
        let outcome = host.run_http(plugin, reviews_request(), Response::ok().body("{\"stars\": 5}")).unwrap();

        // The application never sees the mesh-internal headers.
        assert!(!has(&outcome.upstream_request.headers, METADATA));
        assert!(!has(&outcome.upstream_request.headers, METADATA_ID));
        // The calling proxy introduced itself, so it learns who answered.
        let response = outcome.client_response.headers.as_ref().unwrap();
        assert_eq!(response.get_str(METADATA_ID), Some(NODE_ID));
        let ours = String::from_utf8(unbase64(response.get_str(METADATA).unwrap())).unwrap();
        assert_eq!(
            ours,
            r#"{"WORKLOAD_NAME":"ratings-v1","NAMESPACE":"default","CLUSTER_ID":"east","LABELS":{"app":"ratings","version":"v1"}}"#
        );

        let stats = stats(&host, &[]);
        let requests = named(&stats, "istio_requests_total");
        assert_eq!(requests.len(), 1, "{stats:#?}");
        let r = requests[0];
        assert_eq!(counter(r), 1);
        let expected = [
            ("reporter", "destination"),
            ("source_workload", "reviews-v2"),
            ("source_workload_namespace", "bookinfo"),
            // host-sim's default `connection.uri_san_peer_certificate`.
            ("source_principal", "spiffe://cluster.local/ns/default/sa/bookinfo-gateway"),
            ("source_app", "reviews"),
            ("source_version", "v2"),
            ("source_cluster", "west"),
            ("destination_workload", "ratings-v1"),
            ("destination_workload_namespace", "default"),
            ("destination_principal", "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"),
            ("destination_app", "ratings"),
            ("destination_version", "v1"),
            ("destination_service", "ratings.default.svc.cluster.local"),
            ("destination_service_name", "ratings"),
            ("destination_service_namespace", "default"),
            ("destination_cluster", "east"),
            ("request_protocol", "http"),
            ("response_code", "200"),
            ("grpc_response_status", "unknown"),
            ("response_flags", "-"),
            ("connection_security_policy", "mutual_tls"),
        ];
        for (label, value) in expected {
            assert_eq!(r.label(label), value, "label {label}");
        }
        assert_eq!(r.labels.len(), expected.len(), "no other labels: {:?}", r.labels);

        // The raw stat name, as Envoy's stats sink sees it before extraction.
        let raw: Vec<String> = host.metrics().into_iter().map(|(n, _)| n).collect();
        let encoded: String = expected.iter().map(|(k, v)| format!("{k}=.={v};.;")).collect();
        assert!(raw.contains(&format!("{encoded}istio_requests_total")), "{raw:#?}");
        assert_running(&host, plugin);
    }
}

host_sim::dual_tests! {
    fn inbound_does_not_introduce_itself_to_clients_outside_the_mesh(mode) {
        let (mut host, plugin) = load(mode, INBOUND);
        let outcome = host.run_http(plugin, ratings_request(), Response::ok()).unwrap();
        assert!(!has(&outcome.client_response.headers, METADATA));
        assert!(!has(&outcome.client_response.headers, METADATA_ID));
        let stats = stats(&host, &[]);
        let r = named(&stats, "istio_requests_total")[0];
        assert_eq!(r.label("source_workload"), "unknown");
        assert_eq!(r.label("source_app"), "unknown");
        assert_eq!(r.label("destination_workload"), "ratings-v1");
    }
}

host_sim::dual_tests! {
    fn outbound_injects_its_metadata_and_labels_metrics_with_the_upstream(mode) {
        let (mut host, plugin) = load(mode, OUTBOUND);
        // A client-sent copy of the exchange headers is replaced, not forwarded.
        let request = ratings_request().header(METADATA, "c3Bvb2Zl").header(METADATA_ID, "spoofed");
        let response = Response::ok()
            .header(METADATA_ID, REVIEWS_ID)
            .header(METADATA, &peer_metadata("ratings-v2", "ratings", "v2"))
            .body("ok");
        let outcome = host.run_http(plugin, request, response).unwrap();

        let upstream = outcome.upstream_request.headers.as_ref().unwrap();
        assert_eq!(upstream.get_all(METADATA.as_bytes()).count(), 1);
        assert_eq!(upstream.get_all(METADATA_ID.as_bytes()).count(), 1);
        assert_eq!(upstream.get_str(METADATA_ID), Some(NODE_ID));
        let sent = String::from_utf8(unbase64(upstream.get_str(METADATA).unwrap())).unwrap();
        assert!(sent.contains(r#""WORKLOAD_NAME":"ratings-v1""#), "{sent}");
        assert!(sent.contains(r#""LABELS":{"app":"ratings","version":"v1"}"#), "{sent}");
        // The upstream's headers stop at this proxy.
        assert!(!has(&outcome.client_response.headers, METADATA));
        assert!(!has(&outcome.client_response.headers, METADATA_ID));

        let stats = stats(&host, &[]);
        let r = named(&stats, "istio_requests_total")[0];
        assert_eq!(r.label("reporter"), "source");
        assert_eq!(r.label("source_workload"), "ratings-v1");
        assert_eq!(r.label("destination_workload"), "ratings-v2");
        assert_eq!(r.label("destination_workload_namespace"), "bookinfo");
        assert_eq!(r.label("destination_version"), "v2");
        assert_eq!(r.label("destination_cluster"), "west");
        assert_eq!(r.label("connection_security_policy"), "unknown");
        // Outbound principals come from the upstream connection, which host-sim
        // does not describe.
        assert_eq!(r.label("destination_principal"), "unknown");
    }
}

host_sim::dual_tests! {
    fn response_codes_are_counted_and_metric_ids_defined_once_per_label_set(mode) {
        let (mut host, plugin) = load(mode, INBOUND);
        let before = define_metric_calls(&host);
        for code in [200, 200, 503] {
            host.run_http(plugin, reviews_request(), Response::status(code)).unwrap();
        }
        let stats = stats(&host, &[]);
        let requests = named(&stats, "istio_requests_total");
        let by_code = |code: &str| requests.iter().find(|s| s.label("response_code") == code).map(|s| counter(s));
        assert_eq!(by_code("200"), Some(2));
        assert_eq!(by_code("503"), Some(1));
        assert_eq!(requests.len(), 2);
        for family in ["istio_request_duration_milliseconds", "istio_request_bytes", "istio_response_bytes"] {
            let histograms = named(&stats, family);
            assert_eq!(histograms.len(), 2, "{family}");
            let samples_200 = histograms.iter().find(|s| s.label("response_code") == "200").map(|s| samples(s).len());
            assert_eq!(samples_200, Some(2), "{family}");
        }
        // Two label sets, four metrics each: the second 200 reused the ids.
        assert_eq!(define_metric_calls(&host) - before, 8);
        assert_running(&host, plugin);
    }
}

host_sim::dual_tests! {
    fn histograms_record_duration_and_body_sizes(mode) {
        let (mut host, plugin) = load(mode, INBOUND);
        let mut stream = host.http_stream(plugin).unwrap();
        let headers = reviews_request().headers;
        stream.request_headers(headers.entries().to_vec(), false).unwrap();
        stream.request_body("hello", false).unwrap();
        stream.request_body(" world!", true).unwrap();
        stream.host().advance(Duration::from_millis(25)).unwrap();
        stream.response_headers([(":status", "201")], false).unwrap();
        stream.response_body("0123456789", false).unwrap();
        stream.response_body("abc", true).unwrap();
        stream.complete().unwrap();

        let stats = stats(&host, &[]);
        let one = |name: &str| {
            let found = named(&stats, name);
            assert_eq!(found.len(), 1, "{name}: {stats:#?}");
            assert_eq!(found[0].label("response_code"), "201");
            samples(found[0]).to_vec()
        };
        assert_eq!(one("istio_request_duration_milliseconds"), [25]);
        assert_eq!(one("istio_request_bytes"), [12]);
        assert_eq!(one("istio_response_bytes"), [13]);
    }
}

host_sim::dual_tests! {
    fn the_peer_cache_answers_by_id_within_its_bound(mode) {
        // A later request from the same peer sends only its id.
        let only_id = || ratings_request().header(METADATA_ID, REVIEWS_ID);
        let (mut host, plugin) = load(mode, INBOUND);
        host.run_http(plugin, reviews_request(), Response::ok()).unwrap();
        host.run_http(plugin, only_id(), Response::ok()).unwrap();
        let first = stats(&host, &[]);
        let requests = named(&first, "istio_requests_total");
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].label("source_workload"), "reviews-v2");
        assert_eq!(counter(requests[0]), 2);

        // With the cache off, an id alone identifies nobody.
        let (mut host, plugin) = load(mode, r#"{"direction": "inbound", "max_peer_cache_size": 0}"#);
        host.run_http(plugin, reviews_request(), Response::ok()).unwrap();
        host.run_http(plugin, only_id(), Response::ok()).unwrap();
        let second = stats(&host, &[]);
        let mut workloads: Vec<&str> =
            named(&second, "istio_requests_total").iter().map(|s| s.label("source_workload")).collect();
        workloads.sort();
        assert_eq!(workloads, ["reviews-v2", "unknown"]);
    }
}

host_sim::dual_tests! {
    fn extra_dimensions_response_flags_and_grpc(mode) {
        let config = r#"{"direction": "inbound", "metric_prefix": "mesh",
            "dimensions": [{"name": "route", "property": "route_name"},
                           {"name": "tenant", "property": ["request", "headers", "x-tenant"]},
                           {"name": "port", "property": "destination.port"}]}"#;
        let (mut host, plugin) = load(mode, config);
        host.set_property(plugin, &["response", "flags"], Value::Uint(0x2 | 0x20)).unwrap();
        let request = ratings_request().header("content-type", "application/grpc").header("x-tenant", "acme;.;x=.=y");
        let response = Response::ok().header("content-type", "application/grpc").header("grpc-status", "14");
        host.run_http(plugin, request, response).unwrap();

        let stats = stats(&host, &["route", "tenant", "port"]);
        let requests = named(&stats, "mesh_requests_total");
        assert_eq!(requests.len(), 1, "{stats:#?}");
        let r = requests[0];
        assert_eq!(r.label("route"), "default");
        // Separator characters in values cannot end the field or forge a label.
        assert_eq!(r.label("tenant"), "acme_._x_._y");
        assert_eq!(r.label("port"), "9080");
        assert_eq!(r.label("response_flags"), "UH,UF");
        assert_eq!(r.label("request_protocol"), "grpc");
        assert_eq!(r.label("grpc_response_status"), "14");
        assert_eq!(r.labels.len(), 24);
    }
}

host_sim::dual_tests! {
    fn bad_configuration_fails_the_start_naming_the_field(mode) {
        let cases = [
            ("{}", r#"field "direction": required, but missing"#),
            (
                r#"{"direction": "sideways"}"#,
                r#"field "direction": expected one of "inbound", "outbound", found "sideways""#,
            ),
            (r#"{"direction": "inbound", "metric_prefix": "istio-mesh"}"#, r#"field "metric_prefix": expected letters"#),
            (
                r#"{"direction": "inbound", "max_peer_cache_size": "many"}"#,
                r#"field "max_peer_cache_size": expected an integer"#,
            ),
            (r#"{"direction": "inbound", "dimension": []}"#, r#"field "dimension": unknown field"#),
            (
                r#"{"direction": "inbound", "dimensions": [{"name": "reporter", "property": "x"}]}"#,
                r#"field "dimensions[0].name": "reporter" is one of the standard dimensions"#,
            ),
            (r#"{"direction": "inbound""#, "invalid JSON at line 1"),
        ];
        for (config, expected) in cases {
            let mut host = Host::new();
            let result = host.load(mode_spec(mode, config));
            assert!(matches!(result, Err(Error::ConfigureRejected { .. })), "{config}: {result:?}");
            let errors = host.logs_at(LogLevel::Error);
            assert!(
                errors.iter().any(|e| e.starts_with("plugin configuration: ") && e.contains(expected)),
                "{config}: expected {expected:?} in {errors:?}"
            );
        }
    }
}

host_sim::dual_tests! {
    fn malformed_peer_metadata_is_stripped_and_ignored_without_a_trap(mode) {
        let (mut host, plugin) = load(mode, INBOUND);
        let bad_values: [(Vec<u8>, &[u8]); 7] = [
            (b"\xff\xfe\x80".to_vec(), b"\xc3\x28"),
            (b"not base64!".to_vec(), b"node"),
            (support::base64(b"not json").into_bytes(), b"node-2"),
            (support::base64(b"[\"an\", \"array\"]").into_bytes(), b""),
            (support::base64(b"{\"WORKLOAD_NAME\": 7}").into_bytes(), b"node-3"),
            (support::base64(b"\xff\xff{}").into_bytes(), b"node-4"),
            (vec![b'A'; 64 * 1024], b"node-5"),
        ];
        for (metadata, id) in &bad_values {
            let mut stream = host.http_stream(plugin).unwrap();
            let mut headers = ratings_request().headers;
            headers.add(METADATA.as_bytes(), metadata);
            headers.add(METADATA_ID.as_bytes(), id);
            stream.request_headers(headers.entries().to_vec(), true).unwrap();
            stream.response_headers([(":status", "200")], true).unwrap();
            let outcome = stream.complete().unwrap();
            assert!(!has(&outcome.upstream_request.headers, METADATA));
            assert!(!has(&outcome.upstream_request.headers, METADATA_ID));
            assert_running(&host, plugin);
        }
        let stats = stats(&host, &[]);
        let requests = named(&stats, "istio_requests_total");
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].label("source_workload"), "unknown");
        assert_eq!(counter(requests[0]), 7);
        let debug = host.logs_at(LogLevel::Debug);
        assert_eq!(
            debug.iter().filter(|l| l.starts_with("telemetry: ignoring downstream x-envoy-peer-metadata")).count(),
            7
        );
        assert!(debug.iter().any(|l| l.contains("65536 bytes, more than the 8192 accepted")), "{debug:?}");
    }
}

#[test]
fn builds_for_both_targets_and_behaves_the_same() {
    for target in Target::ALL {
        let wasm = support::wasm(target);
        eprintln!("{}: {} bytes", target.triple(), wasm.len());
        let mut host = Host::new();
        let plugin = host.load(spec(target, INBOUND)).unwrap();
        host.run_http(plugin, reviews_request(), Response::status(404)).unwrap();
        let stats = stats(&host, &[]);
        let r = named(&stats, "istio_requests_total")[0];
        assert_eq!(
            (r.label("source_workload"), r.label("response_code")),
            ("reviews-v2", "404"),
            "{}",
            target.triple()
        );
        assert_eq!(host.logs_at(LogLevel::Info).len(), 1, "{:?}", host.logs());
    }
}
