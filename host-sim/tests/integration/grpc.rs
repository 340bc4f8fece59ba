//! gRPC callouts as Envoy runs them: a unary call gets one answer (its reply,
//! or a failure) and never any metadata; a stream gets every event until it
//! closes; Envoy's token rules for `proxy_grpc_send`, `proxy_grpc_cancel`
//! and `proxy_grpc_close`, driven through the ABI by a WAT guest.

use std::time::Duration;

use crate::common::{LOG, Wat};
use host_sim::{Error, GrpcCallout, GrpcEvent, GrpcKind, HeaderMap, Host, PluginId, PluginSpec, Status};

/// Host calls the test asks the guest for (`proxy_on_foreign_function`'s id).
const SEND_ON_CALL: u32 = 1;
const SEND_ON_STREAM: u32 = 2;
const CANCEL_CALL: u32 = 3;
const CLOSE_STREAM: u32 = 4;
const CANCEL_STREAM: u32 = 5;
const CLOSE_CALL: u32 = 6;

/// On each tick: a unary call (timeout 300 ms) and a stream, tokens at 404
/// and 408. Each gRPC callback logs its name (`proxy_on_grpc_close` its
/// status: `close 13`, `close 14`, or `close other`); foreign function
/// callbacks run one of the commands above on the last tokens.
fn guest() -> Vec<u8> {
    let mut w = Wat::default();
    let (up, svc, method, request, hi) = (w.s("grpc"), w.s("svc"), w.s("M"), w.s("req"), w.s("hi"));
    let command = |id: u32, call: &str| format!("(if (i32.eq (local.get $f) (i32.const {id})) (then (drop {call})))");
    let commands = [
        command(SEND_ON_CALL, &format!("(call $send (i32.load (i32.const 404)) {hi} (i32.const 0))")),
        command(SEND_ON_STREAM, &format!("(call $send (i32.load (i32.const 408)) {hi} (i32.const 0))")),
        command(CANCEL_CALL, "(call $cancel (i32.load (i32.const 404)))"),
        command(CLOSE_STREAM, "(call $close (i32.load (i32.const 408)))"),
        command(CANCEL_STREAM, "(call $cancel (i32.load (i32.const 408)))"),
        command(CLOSE_CALL, "(call $close (i32.load (i32.const 404)))"),
    ]
    .concat();
    let body = format!(
        r#"(func (export "proxy_on_tick") (param i32)
    (drop (call $call {up} {svc} {method} (i32.const 0) (i32.const 0) {request} (i32.const 300) (i32.const 404)))
    (drop (call $stream {up} {svc} {method} (i32.const 0) (i32.const 0) (i32.const 408))))
  (func (export "proxy_on_foreign_function") (param $root i32) (param $f i32) (param $n i32) {commands})
  (func (export "proxy_on_grpc_receive_initial_metadata") (param i32 i32 i32) {initial})
  (func (export "proxy_on_grpc_receive") (param i32 i32 i32) {receive})
  (func (export "proxy_on_grpc_receive_trailing_metadata") (param i32 i32 i32) {trailing})
  (func (export "proxy_on_grpc_close") (param i32 i32) (param $status i32)
    (if (i32.eq (local.get $status) (i32.const 13)) (then {internal})
      (else (if (i32.eq (local.get $status) (i32.const 14)) (then {unavailable}) (else {other})))))"#,
        initial = w.log("initial metadata"),
        receive = w.log("receive"),
        trailing = w.log("trailing metadata"),
        internal = w.log("close 13"),
        unavailable = w.log("close 14"),
        other = w.log("close other"),
    );
    let imports = format!(
        r#"{LOG}
  (import "env" "proxy_grpc_call" (func $call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_stream" (func $stream (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_send" (func $send (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_cancel" (func $cancel (param i32) (result i32)))
  (import "env" "proxy_grpc_close" (func $close (param i32) (result i32)))"#
    );
    w.module("proxy_abi_version_0_2_1", &imports, &body)
}

/// A host with the guest loaded and one tick run: a call and a stream are open.
fn opened() -> (Host, PluginId, GrpcCallout, GrpcCallout) {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(guest())).unwrap();
    host.tick(plugin).unwrap();
    let (call, stream) = open(&host);
    (host, plugin, call.expect("a unary call"), stream.expect("a stream"))
}

/// The open call and stream.
fn open(host: &Host) -> (Option<GrpcCallout>, Option<GrpcCallout>) {
    let open = host.grpc_callouts();
    let of = |kind| open.iter().find(|g| g.kind == kind).cloned();
    (of(GrpcKind::Call), of(GrpcKind::Stream))
}

fn guest_logs(host: &Host) -> Vec<String> {
    host.logs().into_iter().map(|r| r.message).collect()
}

/// What the guest got from the last call of `function`.
fn last_result(host: &Host, function: &str) -> Option<i32> {
    host.trace().into_iter().rev().find(|c| c.function == function).map(|c| c.result)
}

/// Runs one of the guest's commands and returns the status it got.
fn command(host: &mut Host, plugin: PluginId, id: u32, function: &str) -> Option<i32> {
    host.call_foreign_callback(plugin, id, b"").unwrap();
    last_result(host, function)
}

#[test]
fn a_unary_call_ends_with_its_reply() {
    let (mut host, _, call, _) = opened();
    assert_eq!(call.timeout, Duration::from_millis(300));
    host.grpc_respond(call.id(), GrpcEvent::Message(b"reply".to_vec())).unwrap();
    assert_eq!(guest_logs(&host), ["receive"], "the reply alone, no close after it");
    assert!(open(&host).0.is_none(), "the call is over");
    host.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(guest_logs(&host), ["receive"], "its timeout was disarmed");
    let again = host.grpc_respond(call.id(), GrpcEvent::Close(14, "late".into()));
    assert!(matches!(again, Err(Error::NotFound(_))), "{again:?}");
    assert!(open(&host).1.is_some(), "the stream is still open");
}

#[test]
fn a_unary_call_gets_no_metadata() {
    let (mut host, _, call, _) = opened();
    let metadata = HeaderMap::from_pairs([("x-a", "1")]);
    for event in [GrpcEvent::InitialMetadata(metadata.clone()), GrpcEvent::TrailingMetadata(metadata)] {
        match host.grpc_respond(call.id(), event) {
            Err(Error::InvalidPhase(message)) => assert!(message.contains("unary"), "{message}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert!(guest_logs(&host).is_empty(), "the guest was not called");
    assert!(open(&host).0.is_some(), "the call still waits for its answer");
    host.grpc_respond(call.id(), GrpcEvent::Close(14, "unavailable".into())).unwrap();
    assert_eq!(guest_logs(&host), ["close 14"], "a failure reaches on_grpc_close");
    assert!(open(&host).0.is_none());
}

#[test]
fn a_unary_call_closed_ok_without_a_reply_fails_with_internal() {
    let (mut host, _, call, _) = opened();
    host.grpc_respond(call.id(), GrpcEvent::Close(0, "no reply".into())).unwrap();
    assert_eq!(guest_logs(&host), ["close 13"], "Envoy's AsyncRequestImpl: INTERNAL, no message");
    assert!(open(&host).0.is_none());
}

#[test]
fn an_unanswered_unary_call_closes_once_at_its_timeout() {
    let (mut host, ..) = opened();
    host.advance(Duration::from_millis(300)).unwrap();
    assert_eq!(guest_logs(&host), ["close other"], "DEADLINE_EXCEEDED");
    host.advance(Duration::from_secs(10)).unwrap();
    assert_eq!(guest_logs(&host), ["close other"]);
    assert!(open(&host).0.is_none());
}

#[test]
fn a_stream_gets_every_event_until_it_closes() {
    let (mut host, _, _, stream) = opened();
    let token = stream.id();
    host.grpc_respond(token, GrpcEvent::InitialMetadata(HeaderMap::from_pairs([("x-a", "1")]))).unwrap();
    host.grpc_respond(token, GrpcEvent::Message(b"one".to_vec())).unwrap();
    host.grpc_respond(token, GrpcEvent::Message(b"two".to_vec())).unwrap();
    host.grpc_respond(token, GrpcEvent::TrailingMetadata(HeaderMap::new())).unwrap();
    assert!(open(&host).1.is_some(), "open until the close");
    host.grpc_respond(token, GrpcEvent::Close(0, String::new())).unwrap();
    assert_eq!(guest_logs(&host), ["initial metadata", "receive", "receive", "trailing metadata", "close other"]);
    assert!(open(&host).1.is_none());
}

#[test]
fn grpc_send_is_for_streams_only() {
    let (mut host, plugin, call, _) = opened();
    let bad_argument = Some(Status::BadArgument as i32);
    assert_eq!(command(&mut host, plugin, SEND_ON_CALL, "proxy_grpc_send"), bad_argument, "a call token");
    assert_eq!(open(&host).0.unwrap().messages, call.messages, "nothing was added to the call");
    assert_eq!(command(&mut host, plugin, SEND_ON_STREAM, "proxy_grpc_send"), Some(Status::Ok as i32));
    let stream = open(&host).1.unwrap();
    assert_eq!((stream.messages, stream.closed_by_plugin), (vec![b"hi".to_vec()], false));
}

#[test]
fn grpc_cancel_and_close_through_the_abi() {
    let (mut host, plugin, ..) = opened();
    let (ok, not_found) = (Some(Status::Ok as i32), Some(Status::NotFound as i32));

    // Closing a stream half-closes it: it stays open for the upstream's answer.
    assert_eq!(command(&mut host, plugin, CLOSE_STREAM, "proxy_grpc_close"), ok);
    let stream = open(&host).1.expect("still open");
    assert!(stream.closed_by_plugin && !stream.cancelled);
    // Cancelling ends it at once, without a callback.
    assert_eq!(command(&mut host, plugin, CANCEL_STREAM, "proxy_grpc_cancel"), ok);
    assert!(open(&host).1.is_none());
    assert_eq!(command(&mut host, plugin, CANCEL_STREAM, "proxy_grpc_cancel"), not_found, "already gone");
    assert_eq!(command(&mut host, plugin, SEND_ON_STREAM, "proxy_grpc_send"), not_found);

    // A cancelled call is gone, and its timeout does not fire.
    assert_eq!(command(&mut host, plugin, CANCEL_CALL, "proxy_grpc_cancel"), ok);
    assert!(open(&host).0.is_none());
    assert_eq!(command(&mut host, plugin, CLOSE_CALL, "proxy_grpc_close"), not_found);
    host.advance(Duration::from_secs(1)).unwrap();

    // Closing a call cancels it.
    host.tick(plugin).unwrap();
    assert_eq!(command(&mut host, plugin, CLOSE_CALL, "proxy_grpc_close"), ok);
    assert!(open(&host).0.is_none());
    host.advance(Duration::from_secs(1)).unwrap();
    assert!(guest_logs(&host).is_empty(), "no callback for a cancelled exchange");
}
