//! Envoy's lifecycle with a hand-written guest that logs every callback:
//! start order, the root id passed to `on_vm_start`, stream creation and
//! teardown order, `proxy_done` with a deferred `on_delete`, effective
//! context, deferred continue and close, and TCP connections.

use std::time::Duration;

use crate::common::{LOG, TICK_PERIOD, Wat, load, messages};
use host_sim::{Action, EndReason, Error, PeerType, Request, Response};

fn lifecycle_guest() -> Vec<u8> {
    let mut w = Wat::default();
    let body = format!(
        r#"
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32) {create})
  (func (export "proxy_on_vm_start") (param $root i32) (param $size i32) (result i32)
    (if (i32.eq (local.get $root) (i32.const 1)) (then {vm_start_root}) (else {vm_start_other}))
    (i32.const 1))
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    {configure}
    (drop (call $tick_period (i32.const 10)))
    (i32.const 1))
  (func (export "proxy_on_request_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    {request_headers}
    (if (i32.eq (call $get_header (i32.const 0) {close_key} (i32.const 100) (i32.const 104)) (i32.const 0))
      (then (drop (call $close (i32.const 0)))))
    (if (i32.eq (call $get_header (i32.const 0) {pause_key} (i32.const 100) (i32.const 104)) (i32.const 0))
      (then (drop (call $continue (i32.const 0))) {after_continue} (return (i32.const 1))))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    {response_headers}
    (i32.const 0))
  (func (export "proxy_on_done") (param $ctx i32) (result i32)
    {done}
    (i32.ne (local.get $ctx) (i32.const 1)))
  (func (export "proxy_on_log") (param $ctx i32) {log})
  (func (export "proxy_on_delete") (param $ctx i32) {delete})
  (func (export "proxy_on_tick") (param $root i32)
    {tick}
    (drop (call $set_effective (i32.const 1)))
    (drop (call $done))
    {after_done})
  (func (export "proxy_on_new_connection") (param $ctx i32) (result i32) {new_connection} (i32.const 0))
  (func (export "proxy_on_downstream_data") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (if (i32.lt_u (local.get $size) (i32.const 5)) (then (return (i32.const 1))))
    (drop (call $set_buffer (i32.const 2) (i32.const 0) (i32.const 0) {lt}))
    (i32.const 0))
  (func (export "proxy_on_upstream_data") (param $ctx i32) (param $size i32) (param $eos i32) (result i32) (i32.const 0))
  (func (export "proxy_on_downstream_connection_close") (param $ctx i32) (param $peer i32)
    (if (i32.eq (local.get $peer) (i32.const 2)) (then {down_close_remote})))
  (func (export "proxy_on_upstream_connection_close") (param $ctx i32) (param $peer i32) {up_close})
"#,
        create = w.log("create"),
        vm_start_root = w.log("vm_start with root id"),
        vm_start_other = w.log("vm_start with another id"),
        configure = w.log("configure"),
        request_headers = w.log("request_headers"),
        close_key = w.s("x-close"),
        pause_key = w.s("x-pause"),
        after_continue = w.log("after continue"),
        response_headers = w.log("response_headers"),
        done = w.log("done"),
        log = w.log("log"),
        delete = w.log("delete"),
        tick = w.log("tick"),
        after_done = w.log("after proxy_done"),
        new_connection = w.log("new_connection"),
        lt = w.s("<"),
        down_close_remote = w.log("downstream closed by peer"),
        up_close = w.log("upstream closed"),
    );
    let imports = format!(
        r#"{LOG} {TICK_PERIOD}
  (import "env" "proxy_done" (func $done (result i32)))
  (import "env" "proxy_set_effective_context" (func $set_effective (param i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
  (import "env" "proxy_close_stream" (func $close (param i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $set_buffer (param i32 i32 i32 i32 i32) (result i32)))"#
    );
    w.module("proxy_abi_version_0_2_1", &imports, &body)
}

fn owned(items: &[(&str, u32)]) -> Vec<(String, u32)> {
    items.iter().map(|(m, c)| (m.to_string(), *c)).collect()
}

#[test]
fn start_and_stream_follow_envoys_order() {
    let (mut host, plugin) = load(lifecycle_guest());
    assert_eq!(messages(&host), owned(&[("create", 1), ("vm_start with root id", 1), ("configure", 1)]));
    host.clear_logs();
    let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(outcome.context_id, 2);
    assert_eq!(
        messages(&host),
        owned(&[
            ("create", 2),
            ("request_headers", 2),
            ("response_headers", 2),
            ("done", 2),
            ("log", 2),
            ("delete", 2)
        ])
    );
    let second = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(second.context_id, 3, "context ids come from one counter");
}

#[test]
fn proxy_done_deletes_the_root_after_the_call() {
    let (mut host, plugin) = load(lifecycle_guest());
    host.clear_logs();
    assert!(!host.shutdown(plugin).unwrap(), "the guest's on_done returns false for its root");
    assert!(!host.is_deleted(plugin));
    host.advance(Duration::from_millis(10)).unwrap();
    assert_eq!(messages(&host), owned(&[("done", 1), ("tick", 1), ("after proxy_done", 1), ("delete", 1)]));
    assert!(host.is_deleted(plugin));
    assert_eq!(host.tick_period(plugin), None, "a deleted root has no timer");
    let done = host.trace().into_iter().find(|c| c.function == "proxy_done").unwrap();
    assert_eq!((done.result, done.context_id), (0, 1));
}

#[test]
fn continue_stream_is_deferred_until_the_callback_returns() {
    let (mut host, plugin) = load(lifecycle_guest());
    let mut stream = host.http_stream(plugin).unwrap();
    let action = stream.request_headers([(":path", "/"), ("x-pause", "1")], true).unwrap();
    assert_eq!(action, Action::StopAllIterationAndWatermark, "the callback's own result, converted");
    assert_eq!(stream.request_action(), Some(Action::Continue), "resumed after the callback");
    assert!(stream.upstream_request().end_of_stream);
    let logs: Vec<String> = stream.host().logs().into_iter().map(|r| r.message).collect();
    assert!(logs.ends_with(&["request_headers".to_owned(), "after continue".to_owned()]));
}

#[test]
fn close_stream_resets_and_finishes_the_stream() {
    let (mut host, plugin) = load(lifecycle_guest());
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers([(":path", "/"), ("x-close", "1")], false).unwrap();
    assert_eq!(stream.ended(), Some(EndReason::Reset));
    assert!(stream.is_finished());
    let err = stream.request_body("late", true).unwrap_err();
    assert!(matches!(err, Error::InvalidPhase(_)), "{err}");
    assert_eq!(stream.complete().unwrap().ended, Some(EndReason::Reset));
}

#[test]
fn phases_out_of_order_are_test_errors() {
    let (mut host, plugin) = load(lifecycle_guest());
    let mut stream = host.http_stream(plugin).unwrap();
    assert!(matches!(stream.request_body("x", false), Err(Error::InvalidPhase(_))));
    stream.request_headers([(":path", "/")], true).unwrap();
    assert!(matches!(stream.request_headers([(":path", "/")], true), Err(Error::InvalidPhase(_))));
    assert!(matches!(stream.request_body("x", false), Err(Error::InvalidPhase(_))));
}

#[test]
fn tcp_connection_buffers_paused_data_and_finishes_on_close() {
    let (mut host, plugin) = load(lifecycle_guest());
    host.clear_logs();
    let mut conn = host.tcp_stream(plugin).unwrap();
    assert_eq!(conn.new_connection_action(), Some(Action::Continue));
    assert_eq!(conn.downstream_data("ab", false).unwrap(), Action::StopIteration);
    assert_eq!(conn.buffered_downstream(), b"ab");
    assert!(conn.sent_upstream().is_empty());
    assert_eq!(conn.downstream_data("cdef", false).unwrap(), Action::Continue);
    assert_eq!(conn.sent_upstream(), b"<abcdef");
    conn.upstream_data("reply", false).unwrap();
    assert_eq!(conn.sent_downstream(), b"reply");
    conn.close_upstream(PeerType::Remote).unwrap();
    conn.close_downstream(PeerType::Remote).unwrap();
    assert!(conn.is_finished());
    let outcome = conn.complete().unwrap();
    assert_eq!(outcome.sent_upstream, b"<abcdef");
    let id = outcome.context_id;
    assert_eq!(
        messages(&host),
        owned(&[
            ("create", id),
            ("new_connection", id),
            ("upstream closed", id),
            ("downstream closed by peer", id),
            ("done", id),
            ("log", id),
            ("delete", id)
        ])
    );
}
