//! A plugin on the official proxy-wasm SDK that uses every area of host state
//! (`tests/official-guests/kitchen-sink`): configuration, properties, shared
//! data, queues, metrics, timers, foreign functions, HTTP callouts with a
//! paused request, body buffering and local responses.

use std::time::Duration;

use host_sim::{
    Action, Error, HeaderMap, Host, HttpCallResponse, HttpCallout, LogLevel, MetricValue, PluginId, PluginSpec,
    Request, Response, Status, StreamId,
};

fn wasm() -> Vec<u8> {
    guest_build::Guest::manifest_dir("tests/official-guests/kitchen-sink").bytes().expect("kitchen-sink guest builds")
}

fn setup() -> (Host, PluginId) {
    let mut host = Host::new();
    host.register_foreign_function("echo", |args| Ok(args.iter().rev().copied().collect()));
    let spec = PluginSpec::from_bytes(wasm())
        .vm_id("sink")
        .vm_configuration("vm-cfg")
        .configuration("plugin-cfg")
        .name("sink-plugin");
    let plugin = host.load(spec).unwrap();
    (host, plugin)
}

/// A fresh host whose stream, the request on `/auth`, waits for the plugin's
/// HTTP callout: the host, the stream and the callout.
fn paused_on_auth() -> (Host, StreamId, HttpCallout) {
    let (mut host, plugin) = setup();
    let mut stream = host.http_stream(plugin).unwrap();
    let id = stream.id();
    stream.request_headers([(":method", "GET"), (":path", "/auth")], true).unwrap();
    let call = host.http_callouts().remove(0);
    (host, id, call)
}

#[test]
fn start_reads_both_configurations_and_sets_a_tick() {
    let (host, plugin) = setup();
    let info = host.logs_at(LogLevel::Info);
    assert!(info.contains(&"vm config: vm-cfg".to_owned()), "{info:?}");
    assert!(info.contains(&"configured with plugin-cfg".to_owned()), "{info:?}");
    assert_eq!(host.tick_period(plugin), Some(Duration::from_millis(100)));
}

#[test]
fn rejected_configuration_fails_plugin_start() {
    let mut host = Host::new();
    let err = host.load(PluginSpec::from_bytes(wasm()).configuration("reject").root_id("r1")).unwrap_err();
    assert!(matches!(err, Error::ConfigureRejected { ref root_id, .. } if root_id == "r1"), "{err}");
}

#[test]
fn ticks_follow_the_virtual_clock() {
    let (mut host, _) = setup();
    host.advance(Duration::from_millis(350)).unwrap();
    assert_eq!(host.gauge("ticks"), Some(3));
    let (value, _) = host.shared_data("sink", "last_tick_ms").unwrap();
    let expected = host_sim::state::clock::DEFAULT_EPOCH_NS / 1_000_000 + 300;
    assert_eq!(String::from_utf8(value).unwrap(), expected.to_string());
    host.advance(Duration::from_millis(50)).unwrap();
    assert_eq!(host.gauge("ticks"), Some(4));
}

#[test]
fn requests_read_properties_call_foreign_functions_and_enqueue() {
    let (mut host, plugin) = setup();
    let outcome = host.run_http(plugin, Request::get("/plain"), Response::ok()).unwrap();
    let upstream = outcome.upstream_request.headers.unwrap();
    assert_eq!(upstream.get_str("x-echo"), Some("gnip"));
    assert_eq!(outcome.client_response.headers.unwrap().get_str("x-seen-by"), Some("kitchen-sink"));
    let info = host.logs_at(LogLevel::Info);
    assert!(info.contains(&"workload=productpage-v1 plugin=sink-plugin path=/plain".to_owned()), "{info:?}");
    // The queue item was delivered to the root after the request callback returned.
    assert!(info.contains(&format!("dequeued request {}", outcome.context_id)), "{info:?}");
    assert_eq!(host.queue("sink", "jobs"), Some(vec![]));
    assert_eq!(host.counter("requests_total"), Some(1));
    assert_eq!(host.metric("status_codes"), Some(MetricValue::Histogram(vec![200])));
}

#[test]
fn overridden_properties_reach_the_plugin() {
    let (mut host, plugin) = setup();
    host.set_property(plugin, &["node", "metadata", "WORKLOAD_NAME"], "reviews-v2").unwrap();
    host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
    assert!(host.logs_at(LogLevel::Info).iter().any(|l| l.starts_with("workload=reviews-v2")));
}

#[test]
fn an_http_callout_pauses_the_request_until_answered() {
    let (mut host, plugin) = setup();
    let mut stream = host.http_stream(plugin).unwrap();
    let id = stream.id();
    let action =
        stream.request_headers([(":method", "GET"), (":path", "/auth"), ("authorization", "Bearer t")], true).unwrap();
    assert_eq!(action, Action::StopAllIterationAndWatermark);
    assert!(stream.upstream_request().headers.is_none());

    let calls = host.http_callouts();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.upstream, "authz");
    assert_eq!(call.body, b"Bearer t");
    assert_eq!(call.context_id, id.context_id());
    assert_eq!(call.headers.get_str(":path"), Some("/check"));
    assert_eq!(call.timeout, Duration::from_secs(1));

    let answer = HttpCallResponse {
        headers: HeaderMap::from_pairs([(":status", "200")]),
        body: b"alice".to_vec(),
        ..Default::default()
    };
    host.respond_http_call(call.id(), answer).unwrap();
    let mut stream = host.http(id).unwrap();
    assert_eq!(stream.request_action(), Some(Action::Continue));
    let upstream = stream.upstream_request().headers.clone().unwrap();
    assert_eq!(upstream.get_str("x-auth"), Some("alice"));
    stream.response_headers([(":status", "204")], true).unwrap();
    let outcome = stream.complete().unwrap();
    assert!(outcome.client_response.end_of_stream);
    assert!(host.http_callouts().is_empty());
}

#[test]
fn a_denied_callout_sends_a_local_response() {
    let (mut host, id, call) = paused_on_auth();
    host.respond_http_call(
        call.id(),
        HttpCallResponse { headers: HeaderMap::from_pairs([(":status", "401")]), ..Default::default() },
    )
    .unwrap();
    let stream = host.http(id).unwrap();
    let local = stream.local_response().unwrap();
    assert_eq!((local.status_code, local.body.as_slice()), (403, &b"denied"[..]));
    assert!(stream.is_finished());
    let outcome = stream.complete().unwrap();
    assert!(outcome.upstream_request.headers.is_none());
    assert_eq!(outcome.client_response.headers.unwrap().get_str("x-denied-by"), Some("authz"));
    assert!(host.logs_at(LogLevel::Warn).iter().any(|l| l.ends_with("denied with 401")));
}

#[test]
fn a_failed_callout_reaches_the_plugin_as_a_reset() {
    let (mut host, id, call) = paused_on_auth();
    host.fail_http_call(call.id()).unwrap();
    assert_eq!(host.http(id).unwrap().local_response().map(|l| l.status_code), Some(503));
    assert!(host.logs_at(LogLevel::Warn).iter().any(|l| l.ends_with("callout failed")));
    assert!(host.fail_http_call(call.id()).is_err(), "a callout is answered once");
}

#[test]
fn unknown_clusters_are_refused() {
    let (mut host, plugin) = setup();
    host.set_clusters(&["other"]);
    let mut stream = host.http_stream(plugin).unwrap();
    let action = stream.request_headers([(":method", "GET"), (":path", "/auth")], true).unwrap();
    assert_eq!(action, Action::Continue);
    assert!(host.logs_at(LogLevel::Warn).iter().any(|l| l.contains("BadArgument")));
    assert!(host.trace().iter().any(|c| c.function == "proxy_http_call" && c.result == Status::BadArgument as i32));
}

#[test]
fn body_is_buffered_until_the_end_then_rewritten() {
    let (mut host, plugin) = setup();
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers([(":method", "POST"), (":path", "/upload")], false).unwrap();
    assert_eq!(stream.request_body("hello ", false).unwrap(), Action::StopIterationAndBuffer);
    assert_eq!(stream.buffered_request_body(), b"hello ");
    assert!(stream.upstream_request().body.is_empty());
    assert_eq!(stream.request_body("world", true).unwrap(), Action::Continue);
    assert_eq!(stream.upstream_request().body, b"HELLO WORLD");
    assert!(stream.upstream_request().end_of_stream);
    let outcome = stream.complete().unwrap();
    assert_eq!(outcome.upstream_request.body, b"HELLO WORLD");
}

#[test]
fn the_test_can_enqueue_like_another_worker() {
    let (mut host, _) = setup();
    host.enqueue("sink", "jobs", b"from-test").unwrap();
    assert!(host.logs_at(LogLevel::Info).contains(&"dequeued from-test".to_owned()));
    assert!(host.enqueue("sink", "missing", b"x").is_err());
}

#[test]
fn plugins_with_the_same_vm_id_share_a_vm_and_its_shared_data() {
    let (mut host, first) = setup();
    let second = PluginSpec::from_bytes(wasm()).vm_id("sink").vm_configuration("vm-cfg").configuration("second");
    let second = host.load(second).unwrap();
    assert_eq!(first.vm_index(), second.vm_index(), "same vm_id, module and VM configuration");
    assert_ne!(first.root_context_id(), second.root_context_id());
    let other = host.load(PluginSpec::from_bytes(wasm()).vm_id("elsewhere")).unwrap();
    assert_ne!(other.vm_index(), first.vm_index());
    host.advance(Duration::from_millis(100)).unwrap();
    assert!(host.shared_data("sink", "last_tick_ms").is_some());
    assert!(host.shared_data("elsewhere", "last_tick_ms").is_some());
    assert_eq!(host.gauge("ticks"), Some(3), "three roots ticked once each");
}
