//! A hand-written guest passes bad pointers and lengths to host functions:
//! each gets `INVALID_MEMORY_ACCESS` (WASI: `EFAULT`), never a host panic;
//! wrong-phase and unknown-id calls get Envoy's statuses. Allocators that
//! return 0 or an out-of-bounds pointer are caught the same way.

use crate::common::{LOG, SET_SHARED, Wat, load};
use host_sim::{Host, Status};

const BAD: &str = "(i32.const 0xfffffff0)";

/// Calls each expression, storing its i32 result at 512 + 4 * i, then
/// publishes the results as shared data `results`.
fn guest_calling(calls: &[String], w: &mut Wat, extra_imports: &str) -> Vec<u8> {
    let stores: String =
        calls.iter().enumerate().map(|(i, call)| format!("(i32.store (i32.const {}) {call})\n", 512 + 4 * i)).collect();
    let key = w.s("results");
    let body = format!(
        r#"(func (export "proxy_on_request_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
             {stores}
             (drop (call $set_shared {key} (i32.const 512) (i32.const {len}) (i32.const 0)))
             (i32.const 0))"#,
        len = 4 * calls.len()
    );
    w.module("proxy_abi_version_0_2_1", &format!("{LOG}\n{SET_SHARED}\n{extra_imports}"), &body)
}

fn results(host: &Host) -> Vec<i32> {
    let (bytes, _) = host.shared_data("", "results").expect("the guest published its results");
    bytes.chunks(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect()
}

const IMPORTS: &str = r#"
  (import "env" "proxy_get_header_map_value" (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs" (func $get_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_current_time_nanoseconds" (func $now (param i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $reply (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $set_effective (param i32) (result i32)))
  (import "env" "proxy_done" (func $done (result i32)))
  (import "env" "proxy_get_shared_data" (func $get_shared (param i32 i32 i32 i32 i32) (result i32)))
"#;

#[test]
fn bad_pointers_and_wrong_phases_get_statuses() {
    let mut w = Wat::default();
    let missing = w.s("x-missing");
    let key = w.s("k");
    let calls: Vec<(String, i32)> = vec![
        (format!("(call $log (i32.const 2) {BAD} (i32.const 10))"), Status::InvalidMemoryAccess as i32),
        (format!("(call $get_header (i32.const 0) {BAD} (i32.const 5) (i32.const 100) (i32.const 104))"), 6),
        (format!("(call $get_pairs (i32.const 0) {BAD} (i32.const 104))"), 6),
        ("(call $get_pairs (i32.const 0) (i32.const 100) (i32.const 65534))".to_owned(), 6),
        (
            "(call $add_header (i32.const 0) (i32.const 16) (i32.const 0x7fffffff) (i32.const 16) (i32.const 1))"
                .to_owned(),
            6,
        ),
        (format!("(call $get_property {BAD} (i32.const 4) (i32.const 100) (i32.const 104))"), 6),
        (format!("(call $set_shared (i32.const 16) (i32.const 1) {BAD} (i32.const 8) (i32.const 0))"), 6),
        ("(call $now (i32.const 65532))".to_owned(), 6),
        (
            format!(
                "(call $reply (i32.const 200) (i32.const 0) (i32.const 0) {BAD} (i32.const 4) (i32.const 0) (i32.const 0) (i32.const -1))"
            ),
            6,
        ),
        (format!("(call $define (i32.const 0) {BAD} (i32.const 3) (i32.const 100))"), 6),
        (
            format!(
                "(call $http_call {BAD} (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 100))"
            ),
            6,
        ),
        (format!("(call $get_shared {key} (i32.const 100) (i32.const 104) {BAD})"), 6),
        (format!("(call $fd_write (i32.const 1) {BAD} (i32.const 1) (i32.const 100))"), 21),
        (
            format!("(call $get_header (i32.const 0) {missing} (i32.const 100) (i32.const 104))"),
            Status::NotFound as i32,
        ),
        ("(call $log (i32.const 9) (i32.const 1024) (i32.const 1))".to_owned(), Status::BadArgument as i32),
        ("(call $get_buffer (i32.const 0) (i32.const 0) (i32.const 10) (i32.const 100) (i32.const 104))".to_owned(), 1),
        (
            "(call $get_buffer (i32.const 99) (i32.const 0) (i32.const 10) (i32.const 100) (i32.const 104))".to_owned(),
            2,
        ),
        ("(call $get_pairs (i32.const 2) (i32.const 100) (i32.const 104))".to_owned(), 2),
        ("(call $set_effective (i32.const 999))".to_owned(), 2),
        ("(call $done)".to_owned(), Status::NotFound as i32),
        ("(call $random (i32.const 16) (i32.const 65537))".to_owned(), 28),
        ("(call $random (i32.const 16) (i32.const 8))".to_owned(), 0),
        ("(call $log (i32.const 2) (i32.const 1024) (i32.const 1))".to_owned(), 0),
    ];
    let exprs: Vec<String> = calls.iter().map(|(c, _)| c.clone()).collect();
    let wasm = guest_calling(&exprs, &mut w, IMPORTS);
    let (mut host, plugin) = load(wasm);
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers([(":path", "/")], true).unwrap();
    assert!(stream.local_response().is_none(), "a reply with a bad body pointer is not sent");
    let got = results(&host);
    let expected: Vec<i32> = calls.iter().map(|(_, s)| *s).collect();
    for (i, (((call, _), want), got)) in calls.iter().zip(&expected).zip(&got).enumerate() {
        assert_eq!(got, want, "call {i}: {call}");
    }
    assert!(host.failure(plugin).is_none(), "statuses, not traps");
}

/// A guest whose `malloc` runs `malloc` (WAT leaving the pointer) and whose
/// `on_request_headers` stores the status of `proxy_get_header_map_pairs` at
/// 512, runs `then`, and publishes `results_len` bytes from 512.
fn allocator_guest(malloc: &str, then: &str, results_len: u32) -> Vec<u8> {
    let key = "(i32.const 1024) (i32.const 7)";
    let text = format!(
        r#"(module
  {SET_SHARED}
  (import "env" "proxy_get_header_map_pairs" (func $get_pairs (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "results")
  (global $heap (mut i32) (i32.const 8192))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param $n i32) (result i32) {malloc})
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (i32.store (i32.const 512) (call $get_pairs (i32.const 0) (i32.const 100) (i32.const 104)))
    {then}
    (drop (call $set_shared {key} (i32.const 512) (i32.const {results_len}) (i32.const 0)))
    (i32.const 0)))"#
    );
    wat::parse_str(text).unwrap()
}

#[test]
fn allocator_failures_are_invalid_memory_access() {
    for returns in ["(i32.const 0)", "(i32.const 0xffff0000)", "(i32.const 65530)"] {
        let (mut host, plugin) = load(allocator_guest(returns, "", 4));
        let mut stream = host.http_stream(plugin).unwrap();
        stream.request_headers([(":path", "/long-enough-to-cross-the-end")], true).unwrap();
        assert_eq!(results(&host), vec![Status::InvalidMemoryAccess as i32], "allocator returning {returns}");
    }
}

#[test]
fn an_allocator_asking_for_a_value_itself_gets_invalid_memory_access() {
    // The allocator calls a host function that returns a value (which would
    // need the allocator again): that inner call is refused, the outer one
    // completes with a well-formed result.
    let malloc = "(local $p i32)
    (i32.store (i32.const 516) (call $get_pairs (i32.const 0) (i32.const 200) (i32.const 204)))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p)";
    let then = "(i32.store (i32.const 520) (i32.ne (i32.load (i32.const 100)) (i32.const 0)))";
    let (mut host, plugin) = load(allocator_guest(malloc, then, 12));
    host.http_stream(plugin).unwrap().request_headers([(":path", "/")], true).unwrap();
    let ima = Status::InvalidMemoryAccess as i32;
    assert_eq!(results(&host), vec![Status::Ok as i32, ima, 1], "outer OK with a buffer, inner refused");
    assert!(host.failure(plugin).is_none());
}

#[test]
fn returned_buffers_have_exactly_the_reported_size() {
    // The allocator records each requested size; the host must ask for
    // exactly the size it then reports.
    let text = format!(
        r#"(module
  {SET_SHARED}
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "results")
  (data (i32.const 1040) "x-long")
  (data (i32.const 1050) "x-empty")
  (global $heap (mut i32) (i32.const 8192))
  (global $last (mut i32) (i32.const -1))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (local $p i32)
    (global.set $last (local.get $n))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $get (i32.const 0) (i32.const 1040) (i32.const 6) (i32.const 100) (i32.const 104)))
    (i32.store (i32.const 512) (global.get $last))
    (i32.store (i32.const 516) (i32.load (i32.const 104)))
    (global.set $last (i32.const -1))
    (i32.store (i32.const 100) (i32.const 77))
    (drop (call $get (i32.const 0) (i32.const 1050) (i32.const 7) (i32.const 100) (i32.const 104)))
    (i32.store (i32.const 520) (global.get $last))
    (i32.store (i32.const 524) (i32.load (i32.const 100)))
    (i32.store (i32.const 528) (i32.load (i32.const 104)))
    (drop (call $set_shared (i32.const 1024) (i32.const 7) (i32.const 512) (i32.const 20) (i32.const 0)))
    (i32.const 0)))"#
    );
    let (mut host, plugin) = load(wat::parse_str(text).unwrap());
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers([("x-long", "0123456789abc"), ("x-empty", "")], true).unwrap();
    // 13 bytes allocated and reported; the empty value is (0, 0) with no allocation.
    assert_eq!(results(&host), vec![13, 13, -1, 0, 0]);
}
