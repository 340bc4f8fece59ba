//! Callouts end to end (guest `e2e-callout`): HTTP calls and gRPC calls and
//! streams dispatched by a stream with a per-call closure. host-sim delivers
//! the response on the root context that owns the call, as Envoy does; the
//! SDK must route it to the stream's handler with the stream effective, so
//! the handler can edit and resume the stream.

use crate::common::{Build, every_build, load_spec, noted, notes, spec};
use host_sim::{Action, CalloutEnd, EndReason, GrpcEvent, GrpcKind, HeaderMap, Host, HttpCallResponse, PluginId};

fn load(build: Build) -> (Host, PluginId) {
    load_spec(spec("callout", build))
}

/// Opens a stream whose request headers go to `path`, and returns its context id.
fn paused_stream(host: &mut Host, plugin: PluginId, path: &str) -> host_sim::StreamId {
    let mut stream = host.http_stream(plugin).unwrap();
    let request = [(":method", "GET"), (":path", path), (":authority", "example.com")];
    assert_eq!(stream.request_headers(request, true).unwrap(), Action::StopAllIterationAndWatermark);
    assert!(stream.upstream_request().headers.is_none(), "paused until the callout answers");
    stream.id()
}

/// Opens a stream whose request headers go to `path`, checks that the
/// request went on without pausing, and returns its context id.
fn continued_stream(host: &mut Host, plugin: PluginId, path: &str) -> u32 {
    let mut stream = host.http_stream(plugin).unwrap();
    let request = [(":method", "GET"), (":path", path), (":authority", "example.com")];
    assert_eq!(stream.request_headers(request, true).unwrap(), Action::Continue);
    assert!(stream.upstream_request().end_of_stream, "the request goes on");
    stream.id().context_id()
}

fn http_callout_resumes_the_stream(build: Build) {
    let (mut host, plugin) = load(build);
    let id = paused_stream(&mut host, plugin, "/http");
    let sid = id.context_id();
    assert!(noted(&host, sid, "dispatched true"));

    let calls = host.http_callouts();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.upstream, "auth");
    assert_eq!(call.context_id, sid);
    assert_eq!(call.root_id, plugin.root_context_id(), "the call belongs to the stream's root");
    assert_eq!(call.headers.get_str(":method"), Some("POST"));
    assert_eq!(call.headers.get_str(":path"), Some("/check"));
    assert_eq!(call.headers.get_str(":authority"), Some("auth.local"));
    assert_eq!(call.body, b"who?");
    assert_eq!(call.timeout, std::time::Duration::from_secs(5));

    let response = HttpCallResponse {
        headers: HeaderMap::from_pairs([(":status", "200"), ("x-user", "alice")]),
        body: b"ok".to_vec(),
        trailers: HeaderMap::from_pairs([("x-t", "1")]),
    };
    host.respond_http_call(call.id(), response).unwrap();

    assert!(noted(&host, sid, &format!("handler on {sid}")), "{:?}", notes(&host, sid));
    assert!(noted(&host, sid, "resume true"));
    let stream = host.http(id).unwrap();
    assert_eq!(stream.request_action(), Some(Action::Continue));
    let upstream = stream.upstream_request();
    assert!(upstream.end_of_stream);
    let headers = upstream.headers.as_ref().expect("the request went upstream after the resume");
    assert_eq!(headers.get_str("x-auth-status"), Some("200"));
    assert_eq!(headers.get_str("x-auth-user"), Some("alice"));
    assert_eq!(headers.get_str("x-auth-body"), Some("ok"));
    assert_eq!(headers.get_str("x-auth-counts"), Some("2 2 1"));
    assert_eq!(headers.get_str("x-auth-trailers"), Some("1"));
    assert!(host.http_callouts().is_empty());
}

every_build!(http_callout_response_reaches_the_stream_and_resumes_it: http_callout_resumes_the_stream);

#[test]
fn failed_http_callout_reports_the_host_status() {
    let (mut host, plugin) = load(Build::WASIP1);
    let id = paused_stream(&mut host, plugin, "/http");
    let call = host.http_callouts().remove(0);
    host.fail_http_call(call.id()).unwrap();
    let sid = id.context_id();
    assert!(noted(&host, sid, &format!("handler on {sid}")));
    assert!(noted(&host, sid, "failure: status code Ok(None)"), "a failed call has no status, not an error");
    assert!(noted(&host, sid, "local response true"));
    // The local reply completes the stream, which then finishes.
    assert!(noted(&host, sid, "delete"), "{:?}", notes(&host, sid));
    let stream = host.http(id).unwrap();
    assert_eq!(stream.ended(), Some(EndReason::LocalResponse));
    let local = stream.local_response().unwrap();
    assert_eq!(local.status_code, 503);
    assert_eq!(local.body, b"callout failed: 11 reset", "Envoy reports a reset call as BrokenConnection");
    assert!(stream.upstream_request().headers.is_none());
}

#[test]
fn a_response_for_a_deleted_stream_is_dropped() {
    let (mut host, plugin) = load(Build::WASIP1);
    let id = paused_stream(&mut host, plugin, "/http");
    let sid = id.context_id();
    // The client goes away while the callout is in flight.
    host.http(id).unwrap().complete().unwrap();
    assert!(noted(&host, sid, "delete"));
    let call = host.http_callouts().remove(0);
    let response = HttpCallResponse { headers: HeaderMap::from_pairs([(":status", "200")]), ..Default::default() };
    host.respond_http_call(call.id(), response).unwrap();
    assert!(!notes(&host, sid).iter().any(|n| n.starts_with("handler")), "{:?}", notes(&host, sid));
    assert!(host.failure(plugin).is_none());
    // The plugin keeps serving.
    let next = paused_stream(&mut host, plugin, "/http");
    assert_ne!(next.context_id(), sid);
}

#[test]
fn grpc_unary_reply_reaches_the_stream() {
    let (mut host, plugin) = load(Build::WASIP1);
    let id = paused_stream(&mut host, plugin, "/grpc");
    let sid = id.context_id();
    let calls = host.grpc_callouts();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.kind, GrpcKind::Call);
    assert_eq!(call.upstream, b"grpc-auth");
    assert_eq!((call.service.as_str(), call.method.as_str()), ("e2e.Auth", "Check"));
    assert_eq!(call.messages, [b"request".to_vec()]);
    assert_eq!(call.initial_metadata.get_str("x-md"), Some("1"));
    assert_eq!(call.context_id, sid);

    // As in Envoy, a unary call gets its reply alone: no metadata, and no
    // close after it.
    let token = call.id();
    let metadata = host.grpc_respond(token, GrpcEvent::InitialMetadata(HeaderMap::from_pairs([("x-a", "1")])));
    assert!(matches!(metadata, Err(host_sim::Error::InvalidPhase(_))), "{metadata:?}");
    assert!(host.http(id).unwrap().upstream_request().headers.is_none(), "not answered yet");
    host.grpc_respond(token, GrpcEvent::Message(b"granted".to_vec())).unwrap();
    assert!(host.grpc_callouts().is_empty(), "the reply ends the call");
    let closed = host.grpc_respond(token, GrpcEvent::Close(0, String::new()));
    assert!(matches!(closed, Err(host_sim::Error::NotFound(_))), "{closed:?}");

    let handled = notes(&host, sid).iter().filter(|n| n.starts_with("handler on")).count();
    assert_eq!(handled, 1, "a unary handler runs once, with the reply");
    assert!(noted(&host, sid, &format!("handler on {sid}")));
    let stream = host.http(id).unwrap();
    let headers = stream.upstream_request().headers.as_ref().unwrap();
    assert_eq!(headers.get_str("x-grpc-reply"), Some("granted"));
}

#[test]
fn grpc_unary_failure_arrives_as_a_close_with_its_message() {
    let (mut host, plugin) = load(Build::WASIP1);
    let id = paused_stream(&mut host, plugin, "/grpc");
    let token = host.grpc_callouts()[0].id();
    host.grpc_respond(token, GrpcEvent::Close(14, "upstream unavailable".into())).unwrap();
    let stream = host.http(id).unwrap();
    let local = stream.local_response().expect("the handler answered locally");
    assert_eq!(local.status_code, 502);
    assert_eq!(local.body, b"grpc closed 14 upstream unavailable");
}

#[test]
fn grpc_stream_events_reach_the_stream_in_order() {
    for build in Build::ALL {
        let (mut host, plugin) = load(build);
        let id = paused_stream(&mut host, plugin, "/grpc-stream");
        let sid = id.context_id();
        let callout = host.grpc_callouts().remove(0);
        assert_eq!(callout.kind, GrpcKind::Stream);
        assert_eq!(callout.method, "Watch");
        assert_eq!(callout.messages, [b"hello".to_vec()]);
        let token = callout.id();

        host.grpc_respond(token, GrpcEvent::InitialMetadata(HeaderMap::from_pairs([("x-a", "1")]))).unwrap();
        host.grpc_respond(token, GrpcEvent::Message(b"m1".to_vec())).unwrap();
        let open = host.grpc_callouts().remove(0);
        assert_eq!(open.messages, [b"hello".to_vec(), b"ack:m1".to_vec()], "the handler sent on the stream");
        host.grpc_respond(token, GrpcEvent::TrailingMetadata(HeaderMap::from_pairs([("x-t", "2")]))).unwrap();
        assert!(host.http(id).unwrap().upstream_request().headers.is_none());
        host.grpc_respond(token, GrpcEvent::Close(0, "done".into())).unwrap();

        let handled = notes(&host, sid).iter().filter(|n| **n == format!("handler on {sid}")).count();
        assert_eq!(handled, 4, "one handler call per event: {:?}", notes(&host, sid));
        let stream = host.http(id).unwrap();
        assert_eq!(stream.request_action(), Some(Action::Continue));
        let headers = stream.upstream_request().headers.as_ref().unwrap();
        assert_eq!(headers.get_str("x-grpc-events"), Some("initial 1 x-a=1|message m1|trailing 1|close 0 done"));
    }
}

#[test]
fn a_grpc_call_cancelled_through_its_id_ends_without_a_reply() {
    let (mut host, plugin) = load(Build::WASIP1);
    let sid = continued_stream(&mut host, plugin, "/grpc-cancel");
    assert!(host.grpc_callouts().is_empty(), "nothing left open");
    let finished = host.finished_grpc_callouts();
    let [(call, end)] = finished.as_slice() else { panic!("one finished call: {finished:?}") };
    assert_eq!((call.kind, call.cancelled, *end), (GrpcKind::Call, true, CalloutEnd::Cancelled));
    let cancelling = format!("cancelling call {}", call.token);
    assert!(noted(&host, sid, &cancelling), "the guest's GrpcCallId is the host's id: {:?}", notes(&host, sid));
    assert!(noted(&host, sid, "cancelled true"));
}

#[test]
fn a_callout_the_host_refuses_is_an_error_and_the_stream_goes_on() {
    let (mut host, plugin) = load(Build::WASIP1);
    let sid = continued_stream(&mut host, plugin, "/refused");
    assert!(noted(&host, sid, "dispatch failed: host returned BadArgument (2)"), "{:?}", notes(&host, sid));
    assert!(host.http_callouts().is_empty());
}

#[test]
fn an_unanswered_http_callout_times_out_like_envoy() {
    // Envoy's async client answers a call that exceeds its timeout with a
    // local 504 ("upstream request timeout"), delivered as a response: the
    // router filter of the async stream sends a local reply on its timeout,
    // which reaches `onSuccess`, not `onFailure` (plugins see `:status` 504,
    // as higress-group/higress#3942 reports from production).
    let (mut host, plugin) = load(Build::WASIP1);
    let id = paused_stream(&mut host, plugin, "/http");
    host.advance(std::time::Duration::from_secs(5)).unwrap();
    assert!(host.http_callouts().is_empty(), "the timed-out call is no longer pending");
    let stream = host.http(id).unwrap();
    let headers = stream.upstream_request().headers.as_ref().expect("the handler resumed the stream");
    assert_eq!(headers.get_str("x-auth-status"), Some("504"));
}

#[test]
fn an_unanswered_grpc_call_closes_with_deadline_exceeded_on_the_virtual_clock() {
    for build in Build::ALL {
        let (mut host, plugin) = load(build);
        let id = paused_stream(&mut host, plugin, "/grpc");
        let call = host.grpc_callouts().remove(0);
        assert_eq!(call.timeout, std::time::Duration::from_secs(5), "the SDK's default timeout");
        host.advance(std::time::Duration::from_millis(4999)).unwrap();
        assert_eq!(host.grpc_callouts().len(), 1, "not before the timeout");
        assert!(host.http(id).unwrap().local_response().is_none());
        host.advance(std::time::Duration::from_millis(1)).unwrap();
        assert!(host.grpc_callouts().is_empty(), "the call is closed");
        let stream = host.http(id).unwrap();
        let local = stream.local_response().expect("the handler got the close");
        assert_eq!(local.body, b"grpc closed 4 upstream request timeout", "{build:?}");
    }
}
