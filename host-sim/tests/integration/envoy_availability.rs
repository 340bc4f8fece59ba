//! What Envoy makes available outside the callback that produced it: a body
//! held by `StopIterationAndBuffer` stays readable and writable from the
//! stream's other callbacks (here a callout response), and a property can
//! only be set where there is a stream.

use crate::common::{SET_SHARED, Wat, load};
use host_sim::{HeaderMap, Host, HttpCallResponse, Status};

fn shared(host: &Host, key: &str) -> Vec<u8> {
    host.shared_data("", key).unwrap_or_else(|| panic!("the guest published {key}")).0
}

fn status(host: &Host, key: &str) -> i32 {
    i32::from_le_bytes(shared(host, key).try_into().unwrap())
}

const CALLOUT_IMPORTS: &str = r#"
  (import "env" "proxy_http_call" (func $http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $set_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $set_effective (param i32) (result i32)))"#;

/// Holds the request body (`StopIterationAndBuffer`) behind an HTTP call;
/// the call's response (delivered on the root context, as in Envoy) switches
/// to the stream, reads the buffered body, replaces it and resumes.
fn buffering_guest() -> Vec<u8> {
    let mut w = Wat::default();
    let headers = String::from_utf8(host_sim::state::pairs::encode(&[
        (":method", "GET"),
        (":path", "/check"),
        (":authority", "auth"),
    ]))
    .unwrap();
    let (cluster, headers) = (w.s("auth"), w.s(&headers));
    let (k_read, k_body, k_write) = (w.s("read"), w.s("body"), w.s("write"));
    let replacement = w.s("HELLO WORLD");
    let body = format!(
        r#"(global $stream (mut i32) (i32.const 0))
  (func (export "proxy_on_request_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (if (i32.eqz (global.get $stream))
      (then
        (global.set $stream (local.get $ctx))
        (drop (call $http_call {cluster} {headers} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
          (i32.const 1000) (i32.const 300)))))
    (i32.const 1))
  (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32)
    (drop (call $set_effective (global.get $stream)))
    (i32.store (i32.const 200)
      (call $get_buffer (i32.const 0) (i32.const 0) (i32.const 100) (i32.const 100) (i32.const 104)))
    (drop (call $set_shared {k_read} (i32.const 200) (i32.const 4) (i32.const 0)))
    (drop (call $set_shared {k_body} (i32.load (i32.const 100)) (i32.load (i32.const 104)) (i32.const 0)))
    (i32.store (i32.const 204) (call $set_buffer (i32.const 0) (i32.const 0) (i32.const 100) {replacement}))
    (drop (call $set_shared {k_write} (i32.const 204) (i32.const 4) (i32.const 0)))
    (drop (call $continue (i32.const 0))))"#
    );
    w.module("proxy_abi_version_0_2_1", &format!("{SET_SHARED}\n{CALLOUT_IMPORTS}"), &body)
}

#[test]
fn a_buffered_body_is_readable_and_writable_from_a_callout_response() {
    let (mut host, plugin) = load(buffering_guest());
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers([(":method", "POST"), (":path", "/upload")], false).unwrap();
    stream.request_body("hello ", false).unwrap();
    stream.request_body("world", true).unwrap();
    assert!(stream.upstream_request().body.is_empty(), "the body is held while the call is out");
    let id = stream.id();
    let call = host.http_callouts().pop().expect("the body callback made an HTTP call");
    let response = HttpCallResponse {
        headers: HeaderMap::from_pairs([(":status", "200")]),
        body: Vec::new(),
        trailers: HeaderMap::new(),
    };
    host.respond_http_call(call.id(), response).unwrap();

    assert_eq!(status(&host, "read"), Status::Ok as i32, "the held body is available in the callout response");
    assert_eq!(shared(&host, "body"), b"hello world", "both chunks, as buffered");
    assert_eq!(status(&host, "write"), Status::Ok as i32);
    let stream = host.http(id).unwrap();
    assert_eq!(stream.upstream_request().body, b"HELLO WORLD", "the replaced body went upstream on resume");
    assert!(stream.upstream_request().end_of_stream);
    assert!(host.failure(plugin).is_none());
}

#[test]
fn set_property_needs_a_stream() {
    let mut w = Wat::default();
    let (path, value) = (w.s("wasm\0flag"), w.s("on"));
    let (k_root, k_stream, k_read) = (w.s("root"), w.s("stream"), w.s("read"));
    let body = format!(
        r#"(func (export "proxy_on_configure") (param i32 i32) (result i32)
    (i32.store (i32.const 200) (call $set_prop {path} {value}))
    (drop (call $set_shared {k_root} (i32.const 200) (i32.const 4) (i32.const 0)))
    (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (i32.store (i32.const 204) (call $set_prop {path} {value}))
    (drop (call $set_shared {k_stream} (i32.const 204) (i32.const 4) (i32.const 0)))
    (drop (call $get_prop {path} (i32.const 100) (i32.const 104)))
    (drop (call $set_shared {k_read} (i32.load (i32.const 100)) (i32.load (i32.const 104)) (i32.const 0)))
    (i32.const 0))"#
    );
    let imports = format!(
        r#"{SET_SHARED}
  (import "env" "proxy_set_property" (func $set_prop (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $get_prop (param i32 i32 i32 i32) (result i32)))"#
    );
    let (mut host, plugin) = load(w.module("proxy_abi_version_0_2_1", &imports, &body));
    assert_eq!(status(&host, "root"), Status::NotFound as i32, "a root context has no stream info");
    host.http_stream(plugin).unwrap().request_headers([(":path", "/")], true).unwrap();
    assert_eq!(status(&host, "stream"), Status::Ok as i32);
    assert_eq!(shared(&host, "read"), b"on", "the stream reads back what it set");
}
