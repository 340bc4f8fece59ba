//! A trap in any callback kind fails the VM with an error naming that
//! callback; a trap in `on_vm_start` or `on_configure` fails plugin start;
//! `proc_exit` then the `unreachable` toolchains put after it fails the VM as a trap does.

use crate::common::CALLBACKS;
use host_sim::{
    Action, Error, FailPolicy, GrpcEvent, HeaderMap, Host, HttpCallResponse, PeerType, PluginId, PluginSpec,
};

/// The bodies of the callbacks that do more than return when they do not
/// trap: `on_configure` registers the queue `jobs`, `on_tick` opens a gRPC
/// stream (so that the four gRPC callbacks can be reached).
fn body(name: &str, result: &'static str) -> &'static str {
    match name {
        "proxy_on_configure" => "(drop (call $queue (i32.const 112) (i32.const 4) (i32.const 412))) i32.const 1",
        "proxy_on_tick" => {
            "(drop (call $stream (i32.const 64) (i32.const 4) (i32.const 80) (i32.const 3) (i32.const 96) (i32.const 1) \
             (i32.const 0) (i32.const 0) (i32.const 408)))"
        }
        _ => result,
    }
}

/// Every callback of [`CALLBACKS`] with its [`body`], except `trapping`, which traps.
fn guest(trapping: &str) -> Vec<u8> {
    let funcs: String = CALLBACKS
        .iter()
        .map(|(name, sig, result)| {
            let body = if *name == trapping { "unreachable" } else { body(name, result) };
            format!("(func (export \"{name}\") {sig} {body})\n")
        })
        .collect();
    wat::parse_str(format!(
        r#"(module
             (import "env" "proxy_grpc_stream" (func $stream (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
             (import "env" "proxy_register_shared_queue" (func $queue (param i32 i32 i32) (result i32)))
             (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1"))
             (data (i32.const 64) "grpc") (data (i32.const 80) "svc") (data (i32.const 96) "M")
             (data (i32.const 112) "jobs")
             (func (export "malloc") (param i32) (result i32) (i32.const 1024)) {funcs})"#
    ))
    .unwrap()
}

/// Loads `spec` with `vm_id` (the plugin goes into `loaded`) and drives
/// everything that reaches each callback; returns the first error.
fn drive(host: &mut Host, spec: PluginSpec, vm_id: &str, loaded: &mut Option<PluginId>) -> Result<(), Error> {
    let plugin = host.load(spec.vm_id(vm_id))?;
    *loaded = Some(plugin);
    host.tick(plugin)?;
    let stream = host.grpc_callouts().iter().find(|g| g.vm == plugin.vm_index()).expect("on_tick opened a stream").id();
    host.grpc_respond(stream, GrpcEvent::InitialMetadata(HeaderMap::from_pairs([("x-a", "1")])))?;
    host.grpc_respond(stream, GrpcEvent::Message(b"m".to_vec()))?;
    host.grpc_respond(stream, GrpcEvent::TrailingMetadata(HeaderMap::new()))?;
    host.grpc_respond(stream, GrpcEvent::Close(0, String::new()))?;
    host.enqueue(vm_id, "jobs", b"job")?;
    host.call_foreign_callback(plugin, 7, b"args")?;
    let mut stream = host.http_stream(plugin)?;
    stream.request_headers([(":path", "/"), (":method", "GET"), (":authority", "a")], false)?;
    stream.request_body("x", false)?;
    stream.request_trailers([("t", "1")])?;
    stream.response_headers([(":status", "200")], false)?;
    stream.response_body("y", false)?;
    stream.response_trailers([("t", "2")])?;
    stream.complete()?;
    let mut connection = host.tcp_stream(plugin)?;
    connection.downstream_data("ping", false)?;
    connection.upstream_data("pong", false)?;
    connection.close_upstream(PeerType::Remote)?;
    connection.close_downstream(PeerType::Remote)?;
    Ok(())
}

#[test]
fn a_trap_in_any_callback_fails_the_vm_naming_the_callback() {
    for (name, _, _) in CALLBACKS {
        if name == "proxy_on_http_call_response" {
            continue; // needs a call; see the next test
        }
        let mut host = Host::new();
        let mut loaded = None;
        let err = drive(&mut host, PluginSpec::from_bytes(guest(name)), "", &mut loaded).expect_err(name);
        match &err {
            Error::Trap { callback, message } => {
                assert_eq!(*callback, name);
                assert!(message.contains("unreachable"), "{name}: {message}");
                assert!(err.to_string().starts_with(&format!("Function: {name} failed")), "{err}");
            }
            other => panic!("{name}: expected a trap, got {other}"),
        }
        match loaded {
            Some(plugin) => {
                let failure = host.failure(plugin).unwrap_or_else(|| panic!("{name}: the VM did not fail"));
                assert!(failure.starts_with(&format!("{name}: ")), "{name}: {failure}");
                assert!(matches!(host.http_stream(plugin), Err(Error::VmFailed { .. })), "{name}");
            }
            None => assert!(
                ["proxy_on_vm_start", "proxy_on_configure", "proxy_on_context_create"].contains(&name),
                "{name} failed plugin start"
            ),
        }
        // Healthy plugins in other VMs keep working.
        let healthy = host.load(PluginSpec::from_bytes(guest("none")).vm_id("other")).unwrap();
        drive(&mut host, PluginSpec::from_bytes(guest("none")), "third", &mut None).unwrap();
        host.tick(healthy).unwrap();
        assert!(host.failure(healthy).is_none());
    }
}

#[test]
fn a_trap_in_the_http_call_response_fails_the_vm() {
    let wat_guest = wat::parse_str(
        r#"(module
             (import "env" "proxy_http_call" (func $call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1"))
             (data (i32.const 64) "auth")
             (data (i32.const 128)
               "\03\00\00\00\07\00\00\00\03\00\00\00\05\00\00\00\01\00\00\00\0a\00\00\00\01\00\00\00"
               ":method\00GET\00:path\00/\00:authority\00a\00")
             (func (export "malloc") (param i32) (result i32) (i32.const 0))
             (func (export "proxy_on_tick") (param i32)
               (drop (call $call (i32.const 64) (i32.const 4) (i32.const 128) (i32.const 61)
                 (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 400))))
             (func $respond (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32) unreachable))"#,
    )
    .unwrap();
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(wat_guest)).unwrap();
    host.tick(plugin).unwrap();
    let call = host.http_callouts().remove(0);
    let response = HttpCallResponse { headers: HeaderMap::from_pairs([(":status", "200")]), ..Default::default() };
    let err = host.respond_http_call(call.id(), response).unwrap_err();
    assert!(
        matches!(&err, Error::Trap { callback: "proxy_on_http_call_response", message } if message.contains("respond")),
        "{err}"
    );
    assert!(host.failure(plugin).unwrap().contains("proxy_on_http_call_response"));
}

fn proc_exit_guest() -> Vec<u8> {
    wat::parse_str(
        r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
           (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1"))
           (func (export "malloc") (param i32) (result i32) (i32.const 0))
           (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
             (call $exit (i32.const 7)) unreachable))"#,
    )
    .unwrap()
}

#[test]
fn proc_exit_in_a_stream_callback_fails_the_vm() {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(proc_exit_guest())).unwrap();
    let err = host.http_stream(plugin).unwrap().request_headers([(":path", "/")], true).unwrap_err();
    let exited = |m: &str| m.contains("proc_exit(7)");
    assert!(matches!(&err, Error::Trap { callback: "proxy_on_request_headers", message } if exited(message)), "{err}");
    assert!(host.failure(plugin).unwrap().starts_with("proxy_on_request_headers: "));
    assert!(matches!(host.http_stream(plugin), Err(Error::VmFailed { .. })));

    // Under a fail policy, the stream is served by it like after any trap.
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(proc_exit_guest()).fail_policy(FailPolicy::Closed)).unwrap();
    let mut stream = host.http_stream(plugin).unwrap();
    assert_eq!(stream.request_headers([(":path", "/")], true).unwrap(), Action::StopAllIterationAndWatermark);
    assert_eq!(stream.local_response().map(|l| l.status_code), Some(503));
    assert!(host.failure(plugin).unwrap().contains("proc_exit(7)"));
}
