//! Plugin start: a plugin whose `on_vm_start` or `on_configure` returns false
//! or traps does not start, and leaves nothing behind (no root context, no
//! timer, no callouts, nothing a rebuild would restart); plugins share a VM
//! only when its key matches: `vm_id`, module, VM configuration and
//! environment, as in Envoy.

use std::time::Duration;

use crate::common::{HTTP_CALL, LOG, Wat};
use host_sim::{Error, Host, PluginSpec, Rebuild};

/// Sets a 100 ms tick period in both start callbacks and logs `tick` on each
/// tick. `on_vm_start` logs the VM configuration and rejects `reject`.
/// `on_configure` logs `configure`; it traps on `trap`, and on `reject` it
/// makes an HTTP call, then rejects. `on_request_headers` traps on a request
/// with a single header.
fn guest() -> Vec<u8> {
    let mut w = Wat::default();
    let body = format!(
        r#"(func (export "proxy_on_vm_start") (param i32) (param $size i32) (result i32)
    (drop (call $tick_period (i32.const 100)))
    (if (local.get $size)
      (then
        (drop (call $buffer (i32.const 6) (i32.const 0) (local.get $size) (i32.const 200) (i32.const 204)))
        (drop (call $log (i32.const 2) (i32.load (i32.const 200)) (i32.load (i32.const 204))))))
    (i32.ne (local.get $size) (i32.const 6)))
  (func (export "proxy_on_configure") (param i32) (param $size i32) (result i32)
    (drop (call $tick_period (i32.const 100)))
    (if (i32.eq (local.get $size) (i32.const 4)) (then unreachable))
    {configure}
    (if (i32.eq (local.get $size) (i32.const 6)) (then {call} (return (i32.const 0))))
    (i32.const 1))
  (func (export "proxy_on_tick") (param i32) {tick})
  (func (export "proxy_on_request_headers") (param i32) (param $n i32) (param i32) (result i32)
    (if (i32.eq (local.get $n) (i32.const 1)) (then unreachable))
    (i32.const 0))"#,
        configure = w.log("configure"),
        call = w.http_call(500),
        tick = w.log("tick"),
    );
    let imports = format!(
        r#"{LOG}
  (import "env" "proxy_set_tick_period_milliseconds" (func $tick_period (param i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $buffer (param i32 i32 i32 i32 i32) (result i32)))
  {HTTP_CALL}"#
    );
    w.module("proxy_abi_version_0_2_1", &imports, &body)
}

fn count(host: &Host, message: &str) -> usize {
    host.logs().iter().filter(|r| r.message == message).count()
}

const GET: [(&str, &str); 3] = [(":method", "GET"), (":path", "/"), (":authority", "a")];

#[test]
fn a_rejected_vm_start_leaves_no_plugin_behind() {
    let mut host = Host::new();
    let err = host.load(PluginSpec::from_bytes(guest()).vm_configuration("reject").root_id("r")).unwrap_err();
    assert!(matches!(&err, Error::VmStartRejected { root_id, .. } if root_id == "r"), "{err}");
    assert_eq!(err.to_string(), "plugin `r`: proxy_on_vm_start returned false");
    assert_eq!(count(&host, "configure"), 0, "on_configure does not follow a rejected VM start");
    host.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(count(&host, "tick"), 0, "its tick period went with it");
}

#[test]
fn a_rejected_configuration_removes_only_that_plugin_from_a_shared_vm() {
    let mut host = Host::new();
    let kept = host.load(PluginSpec::from_bytes(guest()).vm_id("shared")).unwrap();
    let err = host.load(PluginSpec::from_bytes(guest()).vm_id("shared").configuration("reject").root_id("bad"));
    let err = err.unwrap_err();
    assert!(matches!(&err, Error::ConfigureRejected { root_id, .. } if root_id == "bad"), "{err}");
    assert!(host.http_callouts().is_empty(), "the call it made on start is dropped");

    host.advance(Duration::from_millis(300)).unwrap();
    assert_eq!(count(&host, "tick"), 3, "only the plugin that started ticks");
    let mut stream = host.http_stream(kept).unwrap();
    stream.request_headers(GET, true).unwrap();
    assert!(stream.complete().unwrap().upstream_request.end_of_stream);
}

#[test]
fn a_trap_in_on_configure_fails_plugin_start_and_leaves_no_timer() {
    let mut host = Host::new();
    let err = host.load(PluginSpec::from_bytes(guest()).configuration("trap")).unwrap_err();
    assert!(matches!(err, Error::Trap { callback: "proxy_on_configure", .. }), "{err}");
    host.advance(Duration::from_secs(1)).expect("nothing of the failed plugin is due");
    assert_eq!(count(&host, "tick"), 0);
}

#[test]
fn a_rebuild_does_not_restart_a_rejected_plugin() {
    let mut host = Host::new();
    let rule = Rebuild::new(3, Duration::from_secs(60));
    let spec = || PluginSpec::from_bytes(guest()).vm_id("shared").rebuild(rule);
    let plugin = host.load(spec()).unwrap();
    assert!(matches!(host.load(spec().configuration("reject")), Err(Error::ConfigureRejected { .. })));
    assert_eq!(count(&host, "configure"), 2);

    let mut crash = host.http_stream(plugin).unwrap();
    crash.request_headers([(":path", "/crash")], true).unwrap();
    assert_eq!(crash.local_response().map(|l| l.status_code), Some(503));
    assert!(host.failure(plugin).is_some());

    let mut next = host.http_stream(plugin).unwrap();
    next.request_headers(GET, true).unwrap();
    assert!(next.complete().unwrap().upstream_request.end_of_stream, "served by the rebuilt VM");
    let rebuilds = host.rebuilds(plugin);
    assert_eq!((rebuilds.count, rebuilds.failed), (1, 0), "{:?}", rebuilds.reasons);
    assert_eq!(count(&host, "configure"), 3, "only the plugin that had started was configured again");
    assert!(host.http_callouts().is_empty());
}

#[test]
fn plugins_share_a_vm_only_with_the_same_vm_configuration_and_environment() {
    let mut host = Host::new();
    let spec = |vm_configuration: &str| PluginSpec::from_bytes(guest()).vm_id("v").vm_configuration(vm_configuration);
    let one = host.load(spec("one")).unwrap();
    let two = host.load(spec("two")).unwrap();
    assert_ne!(one.vm_index(), two.vm_index(), "another VM configuration: another VM");
    assert_eq!((count(&host, "one"), count(&host, "two")), (1, 1), "each VM starts with its own configuration");
    let again = host.load(spec("one").root_id("again")).unwrap();
    assert_eq!(again.vm_index(), one.vm_index());
    assert_eq!(count(&host, "one"), 2, "on_vm_start runs for each plugin of the VM");

    let with_env = host.load(spec("one").env("A", "1").env("B", "2")).unwrap();
    assert_ne!(with_env.vm_index(), one.vm_index(), "another environment: another VM");
    let same_env = host.load(spec("one").env("B", "2").env("A", "1").root_id("same")).unwrap();
    assert_eq!(same_env.vm_index(), with_env.vm_index(), "the same variables in another order");
    let other_env = host.load(spec("one").env("A", "1").env("B", "3")).unwrap();
    assert_ne!(other_env.vm_index(), with_env.vm_index());
}

/// While the module starts (`_initialize`), Envoy lets it call only
/// `proxy_log` and the WASI functions a runtime needs (cpp-host's
/// `setRestrictedCallback` list): anything else traps `restricted_callback`.
#[test]
fn the_module_start_may_call_only_what_envoy_allows() {
    let module = |calls: &str| {
        let mut w = Wat::default();
        let body = format!(
            r#"(func (export "_initialize") {calls} {log})
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))"#,
            log = w.log("initialized"),
        );
        let imports = format!(
            r#"{LOG}
  (import "env" "proxy_set_tick_period_milliseconds" (func $tick (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))"#
        );
        w.module("proxy_abi_version_0_2_1", &imports, &body)
    };
    let mut host = Host::new();
    host.load(PluginSpec::from_bytes(module("(drop (call $clock (i32.const 1) (i64.const 0) (i32.const 8)))")))
        .expect("proxy_log and clock_time_get are allowed at start");
    for (calls, name) in [
        ("(drop (call $tick (i32.const 1000)))", "proxy_set_tick_period_milliseconds"),
        ("(drop (call $yield))", "sched_yield"),
    ] {
        let err = Host::new().load(PluginSpec::from_bytes(module(calls))).unwrap_err();
        let shown = err.to_string();
        assert!(matches!(err, Error::Trap { callback: "_initialize/_start", .. }), "{shown}");
        assert!(shown.contains(&format!("restricted_callback: {name} may not be called")), "{shown}");
    }
    // Kong's module has no such list.
    let mut kong = Host::new();
    kong.set_profile(host_sim::HostProfile::Kong);
    kong.load(PluginSpec::from_bytes(module("(drop (call $yield))"))).expect("not refused on Kong");
}
