//! The fail policy (Envoy's `failure_policy` / `fail_open`): once a plugin's
//! VM fails, fail closed answers HTTP streams with a local `503`
//! `wasm_fail_stream` (or resets them once the response started) and closes
//! TCP connections; fail open lets them through as if the plugin were not
//! there. Either way the driving calls succeed, the guest is not called
//! again, and the failure stays readable.

use crate::common::{HTTP_CALL, LOG, TICK_PERIOD, Wat, callback};
use std::time::Duration;

use host_sim::{
    Action, EndReason, Error, FailPolicy, Host, HttpCallResponse, LogLevel, PluginId, PluginSpec, Request, Response,
};

/// Stream and root callbacks that log their own name, in the order Envoy
/// may call them; the one named `trapping` traps instead.
const CALLBACKS: [&str; 13] = [
    "proxy_on_context_create",
    "proxy_on_request_headers",
    "proxy_on_request_body",
    "proxy_on_response_headers",
    "proxy_on_response_body",
    "proxy_on_new_connection",
    "proxy_on_downstream_data",
    "proxy_on_upstream_data",
    "proxy_on_tick",
    "proxy_on_http_call_response",
    "proxy_on_done",
    "proxy_on_log",
    "proxy_on_delete",
];

fn guest(trapping: &str) -> Vec<u8> {
    let mut w = Wat::default();
    let mut funcs = String::new();
    for name in CALLBACKS {
        let (signature, result) = callback(name);
        let body = if name == trapping { "unreachable".to_owned() } else { format!("{} {result}", w.log(name)) };
        funcs.push_str(&format!("(func (export \"{name}\") {signature} {body})\n"));
    }
    w.module("proxy_abi_version_0_2_1", LOG, &funcs)
}

/// The callbacks the guest ran (its own log lines).
fn guest_calls(host: &Host) -> Vec<String> {
    host.logs().into_iter().map(|r| r.message).filter(|m| m.starts_with("proxy_on_")).collect()
}

fn load(trapping: &str, policy: FailPolicy) -> (Host, PluginId) {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(guest(trapping)).fail_policy(policy)).unwrap();
    (host, plugin)
}

fn request() -> [(&'static str, &'static str); 3] {
    [(":method", "POST"), (":path", "/"), (":authority", "example.com")]
}

#[test]
fn fail_closed_answers_503_wasm_fail_stream_and_nothing_goes_upstream() {
    let (mut host, plugin) = load("proxy_on_request_headers", FailPolicy::Closed);
    let mut stream = host.http_stream(plugin).unwrap();
    let action = stream.request_headers(request(), false).expect("the policy handles the trap");
    assert_eq!(action, Action::StopAllIterationAndWatermark, "CHECK_FAIL's closed result");
    assert!(stream.upstream_request().headers.is_none(), "the request never reaches the upstream");
    let local = stream.local_response().expect("Envoy's local reply").clone();
    assert_eq!((local.status_code, local.details.as_str(), local.body.len()), (503, "wasm_fail_stream", 0));
    let client = stream.client_response().clone();
    assert_eq!(client.headers.as_ref().unwrap().get_str(":status"), Some("503"));
    assert!(client.end_of_stream && client.body.is_empty());
    assert!(stream.is_finished(), "the stream is over once the client has the reply");
    assert!(matches!(stream.request_body("late", true), Err(Error::InvalidPhase(_))));
    let outcome = stream.complete().unwrap();
    assert_eq!(outcome.fail_policy, Some(FailPolicy::Closed));
    assert_eq!(outcome.ended, Some(EndReason::LocalResponse));

    let failure = host.failure(plugin).expect("the failure stays readable").to_owned();
    assert!(failure.contains("proxy_on_request_headers") && failure.contains("unreachable"), "{failure}");
    let errors = host.logs_at(LogLevel::Error);
    assert!(
        errors.iter().any(|l| l.starts_with("Function: proxy_on_request_headers failed") && l.contains("fail closed")),
        "{errors:?}"
    );
    let created = ["proxy_on_context_create"; 2];
    assert_eq!(guest_calls(&host), created, "the root's and the stream's; no teardown in a failed VM");

    // A new stream on the failed VM gets the same answer without the guest.
    let outcome = host.run_http(plugin, Request::get("/next"), Response::ok().body("never")).unwrap();
    assert_eq!(outcome.local_response.map(|l| (l.status_code, l.details)), Some((503, "wasm_fail_stream".into())));
    assert_eq!(outcome.upstream_request.headers, None);
    assert_eq!(outcome.fail_policy, Some(FailPolicy::Closed));
    assert_eq!(guest_calls(&host), created);
}

#[test]
fn fail_open_continues_as_if_the_plugin_were_not_there() {
    let (mut host, plugin) = load("proxy_on_request_headers", FailPolicy::Open);
    let mut stream = host.http_stream(plugin).unwrap();
    assert_eq!(stream.request_headers(request(), true).unwrap(), Action::Continue);
    assert_eq!(stream.upstream_request().headers.as_ref().unwrap().get_str(":path"), Some("/"));
    assert_eq!(stream.response_headers([(":status", "200")], false).unwrap(), Action::Continue);
    stream.response_body("hello", true).unwrap();
    let outcome = stream.complete().unwrap();
    assert_eq!(outcome.client_response.body, b"hello");
    assert!(outcome.client_response.end_of_stream);
    assert_eq!((outcome.local_response, outcome.ended), (None, None));
    assert_eq!(outcome.fail_policy, Some(FailPolicy::Open));
    assert!(host.failure(plugin).is_some());

    let outcome = host.run_http(plugin, Request::post("/next", "body"), Response::status(201)).unwrap();
    assert_eq!(outcome.upstream_request.body, b"body");
    assert_eq!(outcome.client_response.headers.unwrap().get_str(":status"), Some("201"));
    assert_eq!(guest_calls(&host), ["proxy_on_context_create"; 2], "the guest is not called again");
}

#[test]
fn a_failure_mid_stream_gets_the_policy_from_that_event_on() {
    let (mut host, plugin) = load("proxy_on_request_body", FailPolicy::Closed);
    let mut stream = host.http_stream(plugin).unwrap();
    assert_eq!(stream.request_headers(request(), false).unwrap(), Action::Continue);
    assert_eq!(stream.request_body("part", false).unwrap(), Action::StopIterationNoBuffer);
    assert_eq!(stream.upstream_request().body, b"", "the body stops at the plugin");
    assert!(!stream.upstream_request().end_of_stream);
    assert_eq!(stream.local_response().map(|l| l.status_code), Some(503));
    assert_eq!(stream.fail_policy(), Some(FailPolicy::Closed));

    let (mut host, plugin) = load("proxy_on_request_body", FailPolicy::Open);
    let outcome =
        host.run_http(plugin, Request::post("/", "one").body("two"), Response::ok().body("fine")).expect("served");
    assert_eq!(outcome.upstream_request.body, b"onetwo");
    assert!(outcome.upstream_request.end_of_stream);
    assert_eq!(outcome.client_response.body, b"fine");
}

#[test]
fn fail_closed_resets_a_stream_whose_response_already_started() {
    let (mut host, plugin) = load("proxy_on_response_body", FailPolicy::Closed);
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers(request(), true).unwrap();
    stream.response_headers([(":status", "200")], false).unwrap();
    assert!(stream.client_response().headers.is_some(), "the client has the response headers");
    assert_eq!(stream.response_body("x", false).unwrap(), Action::StopIterationNoBuffer);
    assert_eq!(stream.ended(), Some(EndReason::Reset));
    assert!(stream.local_response().is_none(), "too late for a local reply");
    assert!(stream.is_finished());
}

#[test]
fn a_grpc_request_failed_closed_gets_grpc_status_unavailable() {
    let (mut host, plugin) = load("proxy_on_request_headers", FailPolicy::Closed);
    let request = Request::post("/pkg.Svc/Call", "\0\0\0\0\0").header("content-type", "application/grpc");
    let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
    let headers = outcome.client_response.headers.unwrap();
    // Envoy's sendLocalReply answers a gRPC request with a trailers-only
    // gRPC reply: HTTP 200, the status in grpc-status, no body.
    assert_eq!((headers.get_str(":status"), headers.get_str("grpc-status")), (Some("200"), Some("14")));
    assert_eq!(headers.get_str("content-type"), Some("application/grpc"));
    assert!(outcome.client_response.body.is_empty() && outcome.client_response.end_of_stream);
    assert_eq!(outcome.local_response.map(|l| l.status_code), Some(503), "the reply Envoy was asked for");
}

#[test]
fn tcp_fail_closed_closes_the_connection() {
    let (mut host, plugin) = load("proxy_on_downstream_data", FailPolicy::Closed);
    let mut connection = host.tcp_stream(plugin).unwrap();
    assert_eq!(connection.new_connection_action(), Some(Action::Continue));
    assert_eq!(connection.downstream_data("hello", false).unwrap(), Action::StopIteration);
    assert!(connection.is_finished(), "the host closed the connection");
    assert_eq!(connection.sent_upstream(), b"");
    assert!(matches!(connection.downstream_data("more", false), Err(Error::InvalidPhase(_))));
    let outcome = connection.complete().unwrap();
    assert_eq!(outcome.fail_policy, Some(FailPolicy::Closed));
    assert!(outcome.closed_by_plugin.is_empty(), "the plugin did not close it");

    // A new connection on the failed VM is closed at once.
    let connection = host.tcp_stream(plugin).unwrap();
    assert_eq!(connection.new_connection_action(), Some(Action::StopIteration));
    assert!(connection.is_finished());
    assert_eq!(connection.fail_policy(), Some(FailPolicy::Closed));
}

#[test]
fn tcp_fail_open_passes_data_through() {
    let (mut host, plugin) = load("proxy_on_downstream_data", FailPolicy::Open);
    let mut connection = host.tcp_stream(plugin).unwrap();
    assert_eq!(connection.downstream_data("hello", false).unwrap(), Action::Continue);
    assert_eq!(connection.upstream_data("world", false).unwrap(), Action::Continue);
    let outcome = connection.complete().unwrap();
    assert_eq!((outcome.sent_upstream.as_slice(), outcome.sent_downstream.as_slice()), (&b"hello"[..], &b"world"[..]));
    assert_eq!(outcome.fail_policy, Some(FailPolicy::Open));
    let calls = guest_calls(&host);
    assert!(!calls.contains(&"proxy_on_upstream_data".to_owned()), "{calls:?}");
}

#[test]
fn root_callbacks_of_a_failed_vm_are_skipped() {
    let (mut host, plugin) = load("proxy_on_request_headers", FailPolicy::Closed);
    host.tick(plugin).unwrap();
    let before = guest_calls(&host);
    host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
    host.tick(plugin).expect("a tick of a failed VM is skipped, not an error");
    assert_eq!(guest_calls(&host).len(), before.len() + 1, "only the stream's on_context_create ran");

    // A trap in a root callback fails the VM too, without an error.
    let (mut host, plugin) = load("proxy_on_tick", FailPolicy::Open);
    host.tick(plugin).expect("the policy handles the trap");
    assert!(host.failure(plugin).unwrap().contains("proxy_on_tick"));
    let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
    assert!(outcome.upstream_request.headers.is_some(), "fail open");
    assert_eq!(guest_calls(&host), ["proxy_on_context_create"], "the root's only");
}

#[test]
fn a_callout_answered_after_the_failure_is_dropped() {
    let mut w = Wat::default();
    let body = format!(
        r#"(func (export "proxy_on_tick") (param i32) {})
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) unreachable)
  (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32) {})"#,
        w.http_call(0),
        w.log("proxy_on_http_call_response")
    );
    let imports = format!("{LOG} {HTTP_CALL}");
    let mut host = Host::new();
    let plugin = host
        .load(PluginSpec::from_bytes(w.module("proxy_abi_version_0_2_1", &imports, &body)).fail_open(false))
        .unwrap();
    host.tick(plugin).unwrap();
    let call = host.http_callouts().remove(0);
    host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
    host.respond_http_call(call.id(), HttpCallResponse::timeout()).expect("skipped");
    assert!(guest_calls(&host).is_empty());
}

#[test]
fn plugins_sharing_a_vm_keep_their_own_policy() {
    let mut host = Host::new();
    let wasm = guest("proxy_on_request_headers");
    let closed = host.load(PluginSpec::from_bytes(wasm.clone()).vm_id("shared").fail_policy(FailPolicy::Closed));
    let open = host.load(PluginSpec::from_bytes(wasm).vm_id("shared").root_id("open").fail_open(true));
    let (closed, open) = (closed.unwrap(), open.unwrap());
    assert_eq!(closed.vm_index(), open.vm_index());
    let first = host.run_http(closed, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(first.local_response.map(|l| l.status_code), Some(503));
    let second = host.run_http(open, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(second.client_response.headers.unwrap().get_str(":status"), Some("200"));
    assert_eq!(second.fail_policy, Some(FailPolicy::Open));
}

#[test]
fn without_a_policy_a_failure_is_an_error_for_the_test() {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(guest("proxy_on_request_headers"))).unwrap();
    let err = host.http_stream(plugin).unwrap().request_headers(request(), true).unwrap_err();
    assert!(matches!(err, Error::Trap { callback: "proxy_on_request_headers", .. }), "{err}");
    assert!(matches!(host.http_stream(plugin), Err(Error::VmFailed { .. })));
    assert!(matches!(host.tcp_stream(plugin), Err(Error::VmFailed { .. })));
}

/// A global `$failing` and an `on_configure` that sets a tick period of
/// `period_ms`; configured with four bytes (`fail`, `trap`) it sets
/// `$failing` and runs `then`.
fn configure(period_ms: u32, then: &str) -> String {
    format!(
        r#"(global $failing (mut i32) (i32.const 0))
  (func (export "proxy_on_configure") (param i32) (param $size i32) (result i32)
    (drop (call $tick_period (i32.const {period_ms})))
    (if (i32.eq (local.get $size) (i32.const 4)) (then (global.set $failing (i32.const 1)) {then}))
    (i32.const 1))"#
    )
}

/// Ticks every 100 ms, logging `tick`; configured with `fail`, it makes an
/// HTTP call with a 150 ms timeout on start and traps in `on_tick` instead.
fn ticker() -> Vec<u8> {
    let mut w = Wat::default();
    let body = format!(
        r#"{configure}
  (func (export "proxy_on_tick") (param i32)
    (if (global.get $failing) (then unreachable))
    {tick})
  (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32) {response})"#,
        configure = configure(100, &w.http_call(150)),
        tick = w.log("tick"),
        response = w.log("response"),
    );
    let imports = format!("{LOG} {HTTP_CALL} {TICK_PERIOD}");
    w.module("proxy_abi_version_0_2_1", &imports, &body)
}

#[test]
fn without_a_policy_advance_skips_a_failed_vm_and_ticks_the_healthy_ones() {
    let mut host = Host::new();
    let failing = host.load(PluginSpec::from_bytes(ticker()).vm_id("a").configuration("fail")).unwrap();
    let healthy = host.load(PluginSpec::from_bytes(ticker()).vm_id("b")).unwrap();
    assert_eq!(host.http_callouts().len(), 1);
    let ticks = |host: &Host| host.logs().iter().filter(|r| r.message == "tick").count();

    // The failing VM's tick comes first at 100 ms: the failure is the test's error.
    let err = host.advance(Duration::from_secs(1)).unwrap_err();
    assert_eq!(ticks(&host), 0);
    assert!(matches!(err, Error::Trap { callback: "proxy_on_tick", .. }), "{err}");
    assert_eq!(host.now_ns() - host_sim::state::clock::DEFAULT_EPOCH_NS, 100_000_000, "the clock stopped there");

    // From then on the failed VM's timer and callout timeout are dropped;
    // the healthy VM ticks on (at 100 ms, and every 100 ms to 1.1 s).
    host.advance(Duration::from_secs(1)).expect("a failed VM does not stop the clock");
    assert_eq!(ticks(&host), 11);
    assert!(host.failure(failing).unwrap().starts_with("proxy_on_tick"));
    assert!(host.http_callouts().is_empty(), "the failed VM's call timed out unseen");
    assert!(!host.logs().iter().any(|r| r.message == "response"));
    host.advance(Duration::from_millis(500)).unwrap();
    assert_eq!(ticks(&host), 16);
    assert!(host.failure(healthy).is_none());
}

/// `on_request_headers` sets a tick period: in a stream context, a strict-mode violation.
fn tick_in_stream() -> Vec<u8> {
    let mut w = Wat::default();
    let body = format!(
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $tick_period (i32.const 10))) {} (i32.const 0))"#,
        w.log("request headers")
    );
    let imports = format!("{LOG} {TICK_PERIOD}");
    w.module("proxy_abi_version_0_2_1", &imports, &body)
}

#[test]
fn a_strict_mode_violation_is_an_error_under_any_policy() {
    for policy in [FailPolicy::Open, FailPolicy::Closed] {
        let mut host = Host::new();
        host.set_strict(true);
        let plugin = host.load(PluginSpec::from_bytes(tick_in_stream()).fail_policy(policy)).unwrap();
        let err = host.http_stream(plugin).unwrap().request_headers(request(), true).unwrap_err();
        match &err {
            Error::Trap { callback: "proxy_on_request_headers", message } => {
                assert!(message.contains("strict mode: proxy_set_tick_period_milliseconds"), "{message}")
            }
            other => panic!("{policy:?}: expected the strict-mode trap, got {other}"),
        }
        assert!(host.failure(plugin).unwrap().contains("strict mode"));
        // The VM is failed: later streams get the policy.
        let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
        assert_eq!(outcome.fail_policy, Some(policy));
    }

    // Without strict mode the call is allowed (Envoy sets the root's period).
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(tick_in_stream()).fail_policy(FailPolicy::Open)).unwrap();
    let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(outcome.fail_policy, None);
    assert!(host.logs_at(LogLevel::Info).contains(&"request headers".to_owned()));
}

/// Pauses every request in its headers with an HTTP call (no timeout) it
/// never answers the stream for; ticks every second and traps in `on_tick`
/// when configured with `trap`.
fn pauser() -> Vec<u8> {
    let mut w = Wat::default();
    let body = format!(
        r#"{configure}
  (func (export "proxy_on_tick") (param i32) (if (global.get $failing) (then unreachable)))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) {call} (i32.const 1))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) {log} (i32.const 0))"#,
        configure = configure(1000, ""),
        call = w.http_call(0),
        log = w.log("proxy_on_response_headers"),
    );
    let imports = format!("{LOG} {HTTP_CALL} {TICK_PERIOD}");
    w.module("proxy_abi_version_0_2_1", &imports, &body)
}

/// A stream paused when its VM fails stays paused, as in Envoy (the callout
/// answer is dropped, nothing resumes it), until Envoy's stream idle
/// timeout (5 minutes) ends it: fail open lets the 504 `stream timeout`
/// through, fail closed answers 503 `wasm_fail_stream` from the failed
/// filter instead.
#[test]
fn a_stream_paused_when_its_vm_fails_ends_at_the_stream_idle_timeout() {
    for (policy, status, details) in
        [(FailPolicy::Open, 504, "stream_idle_timeout"), (FailPolicy::Closed, 503, "wasm_fail_stream")]
    {
        let mut host = Host::new();
        let plugin = host.load(PluginSpec::from_bytes(pauser()).configuration("trap").fail_policy(policy)).unwrap();
        let mut stream = host.http_stream(plugin).unwrap();
        let id = stream.id();
        assert_ne!(stream.request_headers(request(), true).unwrap(), Action::Continue);
        host.advance(Duration::from_secs(1)).unwrap();
        assert!(host.failure(plugin).unwrap().starts_with("proxy_on_tick"), "{policy:?}");
        host.advance(Duration::from_secs(298)).unwrap();
        assert!(!host.http(id).unwrap().is_finished(), "{policy:?}: still paused at 299 s");
        host.advance(Duration::from_secs(1)).unwrap();
        let stream = host.http(id).unwrap();
        assert!(stream.is_finished(), "{policy:?}: ended at 300 s");
        let outcome = stream.complete().unwrap();
        let headers = outcome.client_response.headers.unwrap();
        assert_eq!(headers.get_str(":status"), Some(status.to_string().as_str()), "{policy:?}");
        assert_eq!(outcome.local_response.map(|l| l.details), Some(details.to_owned()));
        assert!(outcome.upstream_request.headers.is_none(), "never forwarded");
        let trace = host.logs_at(LogLevel::Debug);
        assert!(trace.iter().any(|l| l.contains("no activity for 300s (Envoy's stream_idle_timeout)")), "{trace:?}");
        assert!(guest_calls(&host).is_empty(), "{policy:?}: the failed guest is not called");
    }
}

/// The idle timeout is Envoy's for any stream: one a healthy plugin never
/// resumes gets the 504 through the plugin's own response callbacks; a
/// request whose client stopped sending gets 408; a stream whose response
/// started is reset; an event restarts the timer; it can be turned off.
#[test]
fn the_stream_idle_timeout_ends_streams_nobody_moves() {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(pauser())).unwrap();
    let mut paused = host.http_stream(plugin).unwrap();
    paused.request_headers(request(), true).unwrap();
    let paused = paused.id();
    let mut partial = host.http_stream(plugin).unwrap();
    partial.request_headers(request(), false).unwrap();
    let partial = partial.id();
    host.advance(Duration::from_secs(200)).unwrap();
    host.http(partial).unwrap().request_body("more", false).unwrap();
    host.advance(Duration::from_secs(100)).unwrap();
    let outcome = host.http(paused).unwrap().complete().unwrap();
    assert_eq!(outcome.client_response.headers.unwrap().get_str(":status"), Some("504"));
    assert_eq!(outcome.client_response.body, b"stream timeout");
    assert_eq!(guest_calls(&host), ["proxy_on_response_headers"], "the reply passed the plugin");
    assert!(!host.http(partial).unwrap().is_finished(), "its body restarted the timer at 200 s");
    host.advance(Duration::from_secs(200)).unwrap();
    let outcome = host.http(partial).unwrap().complete().unwrap();
    assert_eq!(outcome.client_response.headers.unwrap().get_str(":status"), Some("408"), "the request was not whole");

    let mut started = host.http_stream(plugin).unwrap();
    started.request_headers(request(), true).unwrap();
    let started = started.id();
    host.http(started).unwrap().response_headers([(":status", "200")], false).unwrap();
    host.advance(Duration::from_secs(300)).unwrap();
    assert_eq!(host.http(started).unwrap().ended(), Some(EndReason::Reset));

    let options = host_sim::HostOptions { stream_idle_timeout: None, ..Default::default() };
    let mut host = Host::with_options(options);
    let plugin = host.load(PluginSpec::from_bytes(pauser())).unwrap();
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers(request(), true).unwrap();
    let id = stream.id();
    host.advance(Duration::from_secs(3600)).unwrap();
    assert!(!host.http(id).unwrap().is_finished(), "no idle timeout");
}
