//! Limits and callout timeouts: the per-VM memory cap, the per-call CPU
//! deadline, fuel metering, HTTP callout timeouts on the virtual clock, and
//! the runtime log level.

use std::time::Duration;

use crate::common::trap;
use host_sim::{CalloutEnd, Error, Host, HostOptions, LogLevel, PluginSpec};

/// A 0.2.1 module with `pages` pages of memory, a no-op allocator, a log
/// import and `extra` functions. Data: "m" at 16, "ok" at 32, "504" at 48.
fn module(pages: u32, extra: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
             (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
             (import "env" "proxy_http_call" (func $http_call
               (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
             (import "env" "proxy_get_log_level" (func $get_level (param i32) (result i32)))
             (memory (export "memory") {pages})
             (data (i32.const 16) "m") (data (i32.const 32) "ok") (data (i32.const 48) "504")
             (data (i32.const 64) "auth")
             ;; serialized headers: 3 pairs :method GET, :path /, :authority a
             (data (i32.const 128)
               "\03\00\00\00\07\00\00\00\03\00\00\00\05\00\00\00\01\00\00\00\0a\00\00\00\01\00\00\00"
               ":method\00GET\00:path\00/\00:authority\00a\00")
             (func (export "proxy_abi_version_0_2_1"))
             (func (export "malloc") (param i32) (result i32) (i32.const 4096))
             {extra})"#
    ))
    .unwrap()
}

/// `proxy_http_call(auth, headers, timeout)`, storing the status at 400 and
/// the token at 404.
fn http_call(timeout: i64) -> String {
    format!(
        r#"(i32.store (i32.const 400) (call $http_call (i32.const 64) (i32.const 4) (i32.const 128) (i32.const 61)
             (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const {timeout}) (i32.const 404)))"#
    )
}

fn host_with(options: HostOptions) -> Host {
    Host::with_options(options)
}

#[test]
fn a_memory_growth_over_the_cap_fails_like_envoy_and_names_the_cap() {
    let guest = module(
        1,
        r#"(func (export "proxy_on_tick") (param i32)
             ;; Envoy: memory.grow past the cap returns -1; the guest then traps.
             (if (i32.eq (memory.grow (i32.const 8)) (i32.const -1)) (then unreachable)))
           (func (export "proxy_on_queue_ready") (param i32 i32)
             (drop (memory.grow (i32.const 1))))"#,
    );
    let mut host = host_with(HostOptions { memory_limit: 4 * 65536, ..HostOptions::default() });
    let plugin = host.load(PluginSpec::from_bytes(guest.clone())).unwrap();
    let (callback, message) = trap(host.tick(plugin).unwrap_err());
    assert_eq!(callback, "proxy_on_tick");
    assert!(message.contains("memory cap of 262144 bytes"), "{message}");
    assert!(message.contains("unreachable"), "{message}");
    assert!(host.failure(plugin).unwrap().contains("proxy_on_tick"));

    // Growth within the cap works; the default cap (1 GiB) allows it too.
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(guest)).unwrap();
    host.tick(plugin).unwrap();
    assert!(host.failure(plugin).is_none());

    // A module whose initial memory exceeds the cap does not instantiate.
    let mut host = host_with(HostOptions { memory_limit: 65536, ..HostOptions::default() });
    let err = host.load(PluginSpec::from_bytes(module(2, ""))).unwrap_err();
    assert!(matches!(err, Error::Instantiate(_)), "{err}");
}

#[test]
fn an_infinite_loop_hits_the_cpu_deadline_and_other_vms_keep_working() {
    let looping = module(1, r#"(func $spin (export "proxy_on_tick") (param i32) (loop $l (br $l)))"#);
    let healthy = module(
        1,
        r#"(func (export "proxy_on_tick") (param i32) (drop (call $log (i32.const 2) (i32.const 32) (i32.const 2))))"#,
    );
    let mut host = host_with(HostOptions { cpu_deadline: Some(Duration::from_millis(50)), ..HostOptions::default() });
    let bad = host.load(PluginSpec::from_bytes(looping).vm_id("bad")).unwrap();
    let good = host.load(PluginSpec::from_bytes(healthy).vm_id("good")).unwrap();
    let (callback, message) = trap(host.tick(bad).unwrap_err());
    assert_eq!(callback, "proxy_on_tick");
    assert!(message.contains("exceeded the CPU deadline"), "{message}");
    assert!(message.contains("spin"), "the guest backtrace names the function: {message}");
    assert!(matches!(host.tick(bad), Err(Error::VmFailed { .. })));
    host.tick(good).unwrap();
    assert_eq!(host.logs_at(LogLevel::Info), ["ok"]);
    assert!(host.failure(good).is_none());
}

#[test]
fn fuel_is_counted_deterministically_and_a_budget_stops_a_call() {
    let guest = module(
        1,
        r#"(func (export "proxy_on_tick") (param i32) (local $i i32)
             (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $l (i32.lt_u (local.get $i) (i32.const 1000)))))
           (func $forever (export "proxy_on_queue_ready") (param i32 i32) (loop $l (br $l)))"#,
    );
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(guest.clone())).unwrap();
    host.tick(plugin).unwrap();
    let first = host.fuel(plugin).unwrap();
    assert!(first.last_call >= 1000, "{first:?}");
    host.tick(plugin).unwrap();
    let second = host.fuel(plugin).unwrap();
    assert_eq!(second.last_call, first.last_call, "the same call costs the same fuel");
    assert_eq!(second.total, first.total + first.last_call);

    // A budget below the loop's cost stops it.
    let mut host = host_with(HostOptions { fuel: Some(100), ..HostOptions::default() });
    let plugin = host.load(PluginSpec::from_bytes(guest)).unwrap();
    let err = host.tick(plugin).unwrap_err();
    assert!(err.to_string().contains("exceeded the fuel budget"), "{err}");
}

#[test]
fn the_log_level_can_change_at_runtime() {
    let guest = module(
        1,
        r#"(func (export "proxy_on_tick") (param i32)
             (drop (call $get_level (i32.const 200)))
             (drop (call $log (i32.load (i32.const 200)) (i32.const 16) (i32.const 1))))"#,
    );
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(guest)).unwrap();
    host.tick(plugin).unwrap();
    host.set_log_level(LogLevel::Warn);
    host.tick(plugin).unwrap();
    assert_eq!(host.logs_at(LogLevel::Trace), ["m"]);
    assert_eq!(host.logs_at(LogLevel::Warn), ["m"]);
}

/// A guest that makes an HTTP call with `timeout` on each tick and logs
/// "504" when the response is Envoy's timeout reply (3 headers, 24-byte
/// body), "ok" for any other response.
fn caller(timeout: i64) -> Vec<u8> {
    module(
        1,
        &format!(
            r#"(func (export "proxy_on_tick") (param i32) {call})
               (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32)
                 (if (i32.and (i32.eq (local.get 2) (i32.const 3)) (i32.eq (local.get 3) (i32.const 24)))
                   (then (drop (call $log (i32.const 2) (i32.const 48) (i32.const 3))))
                   (else (drop (call $log (i32.const 2) (i32.const 32) (i32.const 2))))))"#,
            call = http_call(timeout)
        ),
    )
}

#[test]
fn an_http_call_times_out_when_the_virtual_clock_passes_its_timeout() {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(caller(100))).unwrap();
    host.tick(plugin).unwrap();
    let call = host.http_callouts().remove(0);
    assert_eq!(call.timeout, Duration::from_millis(100));
    host.advance(Duration::from_millis(99)).unwrap();
    assert_eq!(host.http_callouts().len(), 1, "not yet due");
    host.advance(Duration::from_millis(1)).unwrap();
    assert!(host.http_callouts().is_empty());
    assert_eq!(host.logs_at(LogLevel::Info), ["504"]);

    // Several calls in flight: each times out on its own; an answered one never does.
    host.clear_logs();
    host.tick(plugin).unwrap();
    host.advance(Duration::from_millis(50)).unwrap();
    host.tick(plugin).unwrap();
    let calls = host.http_callouts();
    assert_eq!(calls.len(), 2);
    host.respond_http_call(
        calls[1].id(),
        host_sim::HttpCallResponse {
            headers: host_sim::HeaderMap::from_pairs([(":status", "200")]),
            ..Default::default()
        },
    )
    .unwrap();
    host.advance(Duration::from_millis(50)).unwrap();
    assert!(host.http_callouts().is_empty(), "the first call timed out");
    host.advance(Duration::from_secs(10)).unwrap();
    assert_eq!(host.logs_at(LogLevel::Info), ["ok", "504"]);

    // The history keeps the finished calls, oldest first, with how they ended.
    let finished = host.finished_http_callouts();
    let ends: Vec<(u32, CalloutEnd)> = finished.iter().map(|(c, end)| (c.token, *end)).collect();
    assert_eq!(ends, [(1, CalloutEnd::TimedOut), (3, CalloutEnd::Answered), (2, CalloutEnd::TimedOut)]);
    assert_eq!(finished[1].0, calls[1], "the call as the plugin made it");
    host.tick(plugin).unwrap();
    let id = host.http_callouts()[0].id();
    host.fail_http_call(id).unwrap();
    assert_eq!(host.finished_http_callouts().last().map(|(c, end)| (c.id(), *end)), Some((id, CalloutEnd::Failed)));
}

#[test]
fn http_call_timeouts_follow_envoy_zero_is_none_and_negative_is_a_bad_argument() {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(caller(0))).unwrap();
    host.tick(plugin).unwrap();
    assert_eq!(host.http_callouts()[0].timeout, Duration::ZERO);
    host.advance(Duration::from_secs(3600)).unwrap();
    assert_eq!(host.http_callouts().len(), 1, "timeout 0 never fires");

    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(caller(-1))).unwrap();
    host.tick(plugin).unwrap();
    assert!(host.http_callouts().is_empty());
    let call = host.trace().into_iter().find(|c| c.function == "proxy_http_call").unwrap();
    assert_eq!(call.result, host_sim::Status::BadArgument as i32);
}

/// On each tick: a unary gRPC call with `timeout` ms and a gRPC stream. On
/// close, status 4 logs "deadline" and the `proxy_get_status` message; any
/// other status logs "other".
fn grpc_caller(timeout: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
             (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
             (import "env" "proxy_grpc_call" (func $call
               (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
             (import "env" "proxy_grpc_stream" (func $stream (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
             (import "env" "proxy_get_status" (func $status (param i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (data (i32.const 32) "deadline") (data (i32.const 48) "other")
             (data (i32.const 64) "grpc") (data (i32.const 80) "svc") (data (i32.const 96) "M") (data (i32.const 112) "req")
             (func (export "proxy_abi_version_0_2_1"))
             (func (export "malloc") (param i32) (result i32) (i32.const 4096))
             (func (export "proxy_on_tick") (param i32)
               (drop (call $call (i32.const 64) (i32.const 4) (i32.const 80) (i32.const 3) (i32.const 96) (i32.const 1)
                 (i32.const 0) (i32.const 0) (i32.const 112) (i32.const 3) (i32.const {timeout}) (i32.const 404)))
               (drop (call $stream (i32.const 64) (i32.const 4) (i32.const 80) (i32.const 3) (i32.const 96)
                 (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 408))))
             (func (export "proxy_on_grpc_close") (param i32 i32 i32)
               (if (i32.eq (local.get 2) (i32.const 4))
                 (then
                   (drop (call $log (i32.const 2) (i32.const 32) (i32.const 8)))
                   (drop (call $status (i32.const 200) (i32.const 204) (i32.const 208)))
                   (drop (call $log (i32.const 2) (i32.load (i32.const 204)) (i32.load (i32.const 208)))))
                 (else (drop (call $log (i32.const 2) (i32.const 48) (i32.const 5)))))))"#
    ))
    .unwrap()
}

#[test]
fn a_grpc_call_closes_with_deadline_exceeded_when_the_virtual_clock_passes_its_timeout() {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(grpc_caller(300))).unwrap();
    host.tick(plugin).unwrap();
    let calls = host.grpc_callouts();
    assert_eq!(calls.len(), 2, "a call and a stream");
    assert_eq!(calls[0].timeout, Duration::from_millis(300));
    host.advance(Duration::from_millis(299)).unwrap();
    assert_eq!(host.grpc_callouts().len(), 2, "not yet due");
    assert!(host.logs_at(LogLevel::Info).is_empty());
    host.advance(Duration::from_millis(1)).unwrap();
    let open = host.grpc_callouts();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].kind, host_sim::GrpcKind::Stream, "streams have no timeout");
    assert_eq!(host.logs_at(LogLevel::Info), ["deadline", "upstream request timeout"]);

    // A call closed before its timeout never times out.
    host.clear_logs();
    host.tick(plugin).unwrap();
    let call = host.grpc_callouts().into_iter().find(|c| c.kind == host_sim::GrpcKind::Call).unwrap();
    host.grpc_respond(call.id(), host_sim::GrpcEvent::Close(0, String::new())).unwrap();
    host.advance(Duration::from_secs(3600)).unwrap();
    assert_eq!(host.logs_at(LogLevel::Info), ["other"]);
    assert_eq!(host.grpc_callouts().len(), 2, "both streams stay open");
    let ends: Vec<(host_sim::GrpcKind, CalloutEnd)> =
        host.finished_grpc_callouts().iter().map(|(c, end)| (c.kind, *end)).collect();
    assert_eq!(
        ends,
        [(host_sim::GrpcKind::Call, CalloutEnd::TimedOut), (host_sim::GrpcKind::Call, CalloutEnd::Answered)]
    );

    // Envoy before envoyproxy/envoy#44479 closed it with UNAVAILABLE (14).
    let mut host = Host::new();
    host.set_profile(host_sim::HostProfile::Envoy132);
    let plugin = host.load(PluginSpec::from_bytes(grpc_caller(300))).unwrap();
    host.tick(plugin).unwrap();
    host.advance(Duration::from_millis(300)).unwrap();
    assert_eq!(host.logs_at(LogLevel::Info), ["other"]);
    assert_eq!(host_sim::HostProfile::Envoy132.grpc_timeout_status(), 14);

    // Timeout 0: none.
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(grpc_caller(0))).unwrap();
    host.tick(plugin).unwrap();
    host.advance(Duration::from_secs(3600)).unwrap();
    assert_eq!(host.grpc_callouts().len(), 2);
}
