//! Rebuilding a failed VM (opt-in, `PluginSpec::rebuild`): the next stream
//! gets a new instance with the plugins started again under the same ids,
//! until the crash-loop limit (rebuilds per interval of virtual time) holds
//! the VM failed.

use std::time::Duration;

use crate::common::{LOG, Wat};
use guest_build::{Guest, Target};
use host_sim::{Action, FailPolicy, Host, LogLevel, PluginSpec, Rebuild, Request, Response};

/// Guest `e2e-faults`: panics on `/panic` (and in `on_tick` with the
/// configuration `panic-on-tick`), logs `configure error` when configured,
/// sets a 1 s tick period.
fn faults() -> Vec<u8> {
    Guest::package("sluice-guest-e2e-faults").target(Target::Wasip1).bytes().expect("guest e2e-faults builds")
}

fn configured(host: &Host) -> usize {
    host.logs().iter().filter(|r| r.message == "configure error").count()
}

#[test]
fn the_next_stream_gets_a_rebuilt_vm_with_the_plugin_started_again() {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(faults()).rebuild(Rebuild::new(3, Duration::from_secs(60)))).unwrap();
    assert_eq!(configured(&host), 1);

    let outcome = host.run_http(plugin, Request::get("/panic"), Response::ok()).unwrap();
    assert_eq!(outcome.local_response.map(|l| l.status_code), Some(503), "rebuild implies fail closed");
    assert!(host.failure(plugin).unwrap().contains("proxy_on_request_headers"));
    assert_eq!(host.rebuilds(plugin).count, 0, "a rebuild waits for the next stream");

    let outcome = host.run_http(plugin, Request::get("/fine"), Response::ok().body("ok")).unwrap();
    assert_eq!(outcome.fail_policy, None, "served by the new VM");
    assert_eq!(outcome.client_response.body, b"ok");
    assert!(host.logs_at(LogLevel::Debug).iter().any(|l| l == "request /fine"));
    assert_eq!(host.failure(plugin), None);
    assert_eq!(configured(&host), 2, "the plugin was configured again");
    assert_eq!(host.tick_period(plugin), Some(Duration::from_secs(1)), "the same plugin id, its timer set again");
    let rebuilds = host.rebuilds(plugin);
    assert_eq!((rebuilds.count, rebuilds.failed, rebuilds.refused, rebuilds.crash_looping), (1, 0, 0, false));
    assert!(rebuilds.reasons[0].contains("boom at /panic") || rebuilds.reasons[0].contains("unreachable"));
    let warn = host.logs_at(LogLevel::Warn);
    assert!(warn.iter().any(|l| l.starts_with("rebuilt the failed VM (rebuild 1")), "{warn:?}");
    let critical = host.logs_at(LogLevel::Critical);
    assert!(critical.iter().any(|l| l.contains("boom at /panic")), "logs of the old VM are kept: {critical:?}");
}

#[test]
fn the_rebuilt_plugin_keeps_its_configuration() {
    let mut host = Host::new();
    let spec = PluginSpec::from_bytes(faults()).configuration("panic-on-tick").rebuild(Rebuild::default());
    let plugin = host.load(spec).unwrap();
    host.advance(Duration::from_secs(1)).expect("the fail policy handles the trap");
    assert!(host.failure(plugin).unwrap().contains("proxy_on_tick"));
    host.advance(Duration::from_secs(5)).expect("no ticks reach the failed VM");

    host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(host.failure(plugin), None);
    host.advance(Duration::from_secs(1)).unwrap();
    assert!(host.failure(plugin).unwrap().contains("proxy_on_tick"), "configured with panic-on-tick again");
    let panics = host.logs_at(LogLevel::Critical).iter().filter(|l| l.contains("tick exploded")).count();
    assert_eq!(panics, 2);
}

/// A guest whose `nth` `on_request_headers` call per instance traps (1: a
/// crash loop), logging each call.
fn crashes_per_instance(nth: u32) -> Vec<u8> {
    let mut w = Wat::default();
    let body = format!(
        r#"(global $calls (mut i32) (i32.const 0))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    {}
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (if (i32.eq (global.get $calls) (i32.const {nth})) (then unreachable))
    (i32.const 0))"#,
        w.log("request headers")
    );
    w.module("proxy_abi_version_0_2_1", LOG, &body)
}

fn guest_calls(host: &Host) -> usize {
    host.logs().iter().filter(|r| r.message == "request headers").count()
}

#[test]
fn the_crash_loop_limit_holds_the_vm_failed_until_the_interval_passes() {
    let mut host = Host::new();
    let spec = PluginSpec::from_bytes(crashes_per_instance(1)).rebuild(Rebuild::new(2, Duration::from_secs(10)));
    let plugin = host.load(spec).unwrap();
    let run = |host: &mut Host| host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();

    for rebuilds in 0..3 {
        assert_eq!(run(&mut host).local_response.map(|l| l.status_code), Some(503));
        assert_eq!(host.rebuilds(plugin).count, rebuilds, "stream {} crashed its VM", rebuilds + 1);
        host.advance(Duration::from_secs(1)).unwrap();
    }
    assert_eq!(guest_calls(&host), 3);

    // Two rebuilds within 10 s: the fourth stream finds the VM failed.
    assert_eq!(run(&mut host).local_response.map(|l| l.status_code), Some(503));
    assert_eq!(guest_calls(&host), 3, "no new VM, no guest call");
    let rebuilds = host.rebuilds(plugin);
    assert_eq!((rebuilds.count, rebuilds.refused, rebuilds.crash_looping), (2, 1, true));
    run(&mut host);
    assert_eq!(host.rebuilds(plugin).refused, 2);
    let crash_loop = host.logs_at(LogLevel::Error).into_iter().filter(|l| l.starts_with("crash loop")).count();
    assert_eq!(crash_loop, 1, "logged once when the limit trips");

    // On the virtual clock, the first rebuild (at 1 s) leaves the window at 11 s.
    host.advance(Duration::from_secs(7)).unwrap();
    run(&mut host);
    assert!(host.rebuilds(plugin).crash_looping, "at 10 s both rebuilds are still within the interval");
    host.advance(Duration::from_secs(1)).unwrap();
    run(&mut host);
    let rebuilds = host.rebuilds(plugin);
    assert_eq!((rebuilds.count, rebuilds.crash_looping), (3, false));
    assert_eq!(guest_calls(&host), 4);
    assert_eq!(rebuilds.reasons.len(), 3);
}

#[test]
fn plugin_ids_and_open_streams_survive_a_rebuild() {
    let mut host = Host::new();
    let rule = Rebuild::new(1, Duration::from_secs(60));
    let wasm = crashes_per_instance(2);
    let first = host.load(PluginSpec::from_bytes(wasm.clone()).vm_id("v").rebuild(rule)).unwrap();
    // A stream opened between the two loads takes a context id in between.
    let mut open = host.http_stream(first).unwrap();
    assert_eq!(open.request_headers([(":path", "/"), (":method", "GET")], false).unwrap(), Action::Continue);
    let open = open.id();
    let second = host.load(PluginSpec::from_bytes(wasm).vm_id("v").root_id("second").rebuild(rule)).unwrap();
    assert_eq!(first.vm_index(), second.vm_index());
    assert!(second.root_context_id() > open.context_id());

    // The second call crashes the VM; the next stream rebuilds it, and both
    // plugins restart on their root context ids.
    let crashed = host.run_http(second, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(crashed.local_response.map(|l| l.status_code), Some(503));
    let served = host.run_http(first, Request::get("/"), Response::ok().body("ok")).unwrap();
    assert_eq!((served.fail_policy, served.client_response.body.as_slice()), (None, &b"ok"[..]));
    assert!(served.context_id > crashed.context_id, "new context ids do not reuse old ones");
    assert_eq!(host.rebuilds(second).count, 1, "one VM, one rebuild");
    assert!(host.shutdown(second).unwrap() && host.is_deleted(second), "the id names the restarted plugin");

    // The stream that was open during the rebuild stays with the failed
    // instance: its next event gets the fail policy.
    let mut old = host.http(open).expect("carried over to the new VM");
    assert_eq!(old.request_body("late", true).unwrap(), Action::StopIterationNoBuffer);
    let outcome = old.complete().unwrap();
    assert_eq!(outcome.fail_policy, Some(FailPolicy::Closed));
    assert_eq!(outcome.local_response.map(|l| l.details), Some("wasm_fail_stream".into()));
    assert_eq!(guest_calls(&host), 3, "the old stream never reached the new VM");
}
