//! A trap in any callback kind fails the VM with an error naming that
//! callback; a trap in `on_vm_start` or `on_configure` fails plugin start.

use host_sim::{Error, HeaderMap, Host, HttpCallResponse, PeerType, PluginSpec};

const CALLBACKS: [(&str, &str, &str); 15] = [
    ("proxy_on_vm_start", "(param i32 i32) (result i32)", "i32.const 1"),
    ("proxy_on_configure", "(param i32 i32) (result i32)", "i32.const 1"),
    ("proxy_on_context_create", "(param i32 i32)", ""),
    ("proxy_on_request_headers", "(param i32 i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_request_body", "(param i32 i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_request_trailers", "(param i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_response_headers", "(param i32 i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_response_body", "(param i32 i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_response_trailers", "(param i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_done", "(param i32) (result i32)", "i32.const 1"),
    ("proxy_on_log", "(param i32)", ""),
    ("proxy_on_delete", "(param i32)", ""),
    ("proxy_on_tick", "(param i32)", ""),
    ("proxy_on_new_connection", "(param i32) (result i32)", "i32.const 0"),
    ("proxy_on_http_call_response", "(param i32 i32 i32 i32 i32)", ""),
];

/// Every callback a no-op, except `trapping`, which traps.
fn guest(trapping: &str) -> Vec<u8> {
    let funcs: String = CALLBACKS
        .iter()
        .map(|(name, sig, body)| {
            let body = if *name == trapping { "unreachable" } else { body };
            format!(r#"(func (export "{name}") {sig} {body})"#)
        })
        .collect();
    wat::parse_str(format!(
        r#"(module (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1"))
             (func (export "malloc") (param i32) (result i32) (i32.const 0)) {funcs})"#
    ))
    .unwrap()
}

/// Drives everything that reaches each callback; returns the first error.
fn drive(host: &mut Host, spec: PluginSpec) -> Result<(), Error> {
    let plugin = host.load(spec)?;
    host.tick(plugin)?;
    let mut stream = host.http_stream(plugin)?;
    stream.request_headers([(":path", "/"), (":method", "GET"), (":authority", "a")], false)?;
    stream.request_body("x", false)?;
    stream.request_trailers([("t", "1")])?;
    stream.response_headers([(":status", "200")], false)?;
    stream.response_body("y", false)?;
    stream.response_trailers([("t", "2")])?;
    stream.complete()?;
    host.tcp_stream(plugin)?.close_downstream(PeerType::Remote)?;
    Ok(())
}

#[test]
fn a_trap_in_any_callback_fails_the_vm_naming_the_callback() {
    for (name, _, _) in CALLBACKS {
        if name == "proxy_on_http_call_response" {
            continue; // needs a call; see the next test
        }
        let mut host = Host::new();
        let err = drive(&mut host, PluginSpec::from_bytes(guest(name))).expect_err(name);
        match &err {
            Error::Trap { callback, message } => {
                assert_eq!(*callback, name);
                assert!(message.contains("unreachable"), "{name}: {message}");
                assert!(err.to_string().starts_with(&format!("Function: {name} failed")), "{err}");
            }
            other => panic!("{name}: expected a trap, got {other}"),
        }
        // Healthy plugins in other VMs keep working.
        let healthy = host.load(PluginSpec::from_bytes(guest("none")).vm_id("other")).unwrap();
        drive(&mut host, PluginSpec::from_bytes(guest("none")).vm_id("third")).unwrap();
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
