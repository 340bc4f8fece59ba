//! Version-exact semantics (ABI 0.1.0's two-argument header callbacks,
//! `proxy_get_configuration`, `proxy_continue_request`, OK-and-empty for a
//! missing header), clear load errors, WASI, and guest traps.

use crate::common::{LOG, SET_SHARED, Wat, load_spec, messages, trap};
use host_sim::{AbiVersion, Action, Error, Host, LogLevel, PluginSpec};

fn v010_guest() -> Vec<u8> {
    let mut w = Wat::default();
    let (vmcfg, cfg, legacy, missing) = (w.s("vmcfg"), w.s("cfg"), w.s("legacy"), w.s("x-missing"));
    let body = format!(
        r#"
  (func (export "proxy_on_vm_start") (param $root i32) (param $size i32) (result i32)
    (drop (call $get_config (i32.const 300) (i32.const 304)))
    (drop (call $set_shared {vmcfg} (i32.load (i32.const 300)) (i32.load (i32.const 304)) (i32.const 0)))
    (i32.const 1))
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (drop (call $get_config (i32.const 300) (i32.const 304)))
    (drop (call $set_shared {cfg} (i32.load (i32.const 300)) (i32.load (i32.const 304)) (i32.const 0)))
    (i32.const 1))
  (func (export "proxy_on_request_headers") (param $ctx i32) (param $n i32) (result i32)
    (i32.store (i32.const 200) (call $get_header (i32.const 0) {missing} (i32.const 100) (i32.const 104)))
    (i32.store (i32.const 204) (i32.load (i32.const 104)))
    (drop (call $set_shared {legacy} (i32.const 200) (i32.const 8) (i32.const 0)))
    (drop (call $continue_request))
    (i32.const 1))"#
    );
    let imports = format!(
        r#"{LOG} {SET_SHARED}
  (import "env" "proxy_get_configuration" (func $get_config (param i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_continue_request" (func $continue_request (result i32)))"#
    );
    w.module("proxy_abi_version_0_1_0", &imports, &body)
}

#[test]
fn abi_0_1_0_semantics() {
    let spec = PluginSpec::from_bytes(v010_guest()).vm_id("old").vm_configuration("VMC").configuration("PC");
    let (mut host, plugin) = load_spec(spec);
    assert_eq!(host.abi(plugin), Some(AbiVersion::V0_1_0));
    assert_eq!(host.shared_data("old", "vmcfg").unwrap().0, b"VMC");
    assert_eq!(host.shared_data("old", "cfg").unwrap().0, b"PC");
    let mut stream = host.http_stream(plugin).unwrap();
    let action = stream.request_headers([(":path", "/")], true).unwrap();
    assert_eq!(action, Action::StopAllIterationAndWatermark);
    assert_eq!(stream.request_action(), Some(Action::Continue), "proxy_continue_request resumed it");
    assert!(stream.upstream_request().headers.is_some());
    // A missing header is OK with an empty value in 0.1.0 (NOT_FOUND from 0.2.0).
    assert_eq!(host.shared_data("old", "legacy").unwrap().0, [0u8; 8]);
}

fn minimal(marker: &str, extra: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module (memory (export "memory") 1) (func (export "{marker}"))
           (func (export "malloc") (param i32) (result i32) (i32.const 0)) {extra})"#
    ))
    .unwrap()
}

#[test]
fn load_errors_are_clear() {
    let mut host = Host::new();
    let err = host.load(PluginSpec::from_bytes(minimal("proxy_abi_version_0_3_0", ""))).unwrap_err();
    assert!(
        err.to_string().contains("Missing or unknown Proxy-Wasm ABI version: found proxy_abi_version_0_3_0"),
        "{err}"
    );
    let err = host.load(PluginSpec::from_bytes(minimal("not_a_marker", ""))).unwrap_err();
    assert!(matches!(err, Error::UnknownAbi { ref found } if found.is_empty()), "{err}");
    let wrong_arity = r#"(func (export "proxy_on_request_headers") (param i32 i32) (result i32) (i32.const 0))"#;
    let err = host.load(PluginSpec::from_bytes(minimal("proxy_abi_version_0_2_1", wrong_arity))).unwrap_err();
    assert!(matches!(err, Error::BadExport { ref name, .. } if name == "proxy_on_request_headers"), "{err}");
    let no_alloc =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_0")))"#).unwrap();
    assert!(matches!(host.load(PluginSpec::from_bytes(no_alloc)), Err(Error::MissingAllocator)));
    assert!(matches!(host.load(PluginSpec::from_bytes(b"garbage".to_vec())), Err(Error::Compile(_))));
    assert!(matches!(PluginSpec::from_file("/nonexistent/plugin.wasm"), Err(Error::Io { .. })));
}

#[test]
fn a_trap_fails_the_vm_with_the_callback_and_backtrace() {
    let guest = minimal(
        "proxy_abi_version_0_2_1",
        r#"(func $boom (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) unreachable)"#,
    );
    let (mut host, plugin) = load_spec(PluginSpec::from_bytes(guest));
    let mut stream = host.http_stream(plugin).unwrap();
    let (callback, message) = trap(stream.request_headers([(":path", "/")], true).unwrap_err());
    assert_eq!(callback, "proxy_on_request_headers");
    assert!(message.contains("unreachable"), "{message}");
    assert!(message.contains("boom"), "backtrace names the function: {message}");
    assert!(host.failure(plugin).unwrap().contains("proxy_on_request_headers"));
    assert!(matches!(host.http_stream(plugin), Err(Error::VmFailed { .. })));
}

/// cpp-host's `proc_exit` logs (Envoy: at trace, `wasi_unstable proc_exit`)
/// and returns. Toolchains put `unreachable` after it, so the VM fails
/// there, and the error names the exit code; a guest that goes on, goes on.
#[test]
fn proc_exit_returns_as_in_envoy_and_the_trap_after_it_names_the_code() {
    let guest = |after: &str| {
        wat::parse_str(format!(
            r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
               (import "env" "proxy_set_tick_period_milliseconds" (func $tick (param i32) (result i32)))
               (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1"))
               (func (export "malloc") (param i32) (result i32) (i32.const 0))
               (func (export "proxy_on_tick") (param i32) (call $exit (i32.const 3)) {after}))"#
        ))
        .unwrap()
    };
    let (mut host, plugin) = load_spec(PluginSpec::from_bytes(guest("unreachable")));
    let err = host.tick(plugin).unwrap_err();
    assert!(
        matches!(&err, Error::Trap { callback: "proxy_on_tick", message }
            if message.starts_with("the guest called proc_exit(3), then trapped: ")),
        "{err}"
    );
    assert_eq!(host.logs_at(LogLevel::Trace), ["wasi_unstable proc_exit"]);

    let (mut host, plugin) = load_spec(PluginSpec::from_bytes(guest("(drop (call $tick (i32.const 5)))")));
    host.tick(plugin).unwrap();
    assert!(host.failure(plugin).is_none(), "it returned");
    assert_eq!(host.tick_period(plugin), Some(std::time::Duration::from_millis(5)), "and the guest went on");
}

fn wasi_guest() -> Vec<u8> {
    let mut w = Wat::default();
    let (out, err_text, env_key, clock_key, rand_key) =
        (w.s("to stdout\n"), w.s("to stderr"), w.s("env"), w.s("clock"), w.s("random"));
    let body = format!(
        r#"
  (func (export "_initialize")
    ;; iovec at 400: (ptr, len) of the stdout text
    (i32.store (i32.const 400) {out_ptr}) (i32.store (i32.const 404) {out_len})
    (drop (call $fd_write (i32.const 1) (i32.const 400) (i32.const 1) (i32.const 408)))
    (i32.store (i32.const 400) {err_ptr}) (i32.store (i32.const 404) {err_len})
    (drop (call $fd_write (i32.const 2) (i32.const 400) (i32.const 1) (i32.const 408)))
    (drop (call $environ_sizes (i32.const 420) (i32.const 424)))
    (drop (call $environ_get (i32.const 440) (i32.const 2000)))
    (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 460)))
    (drop (call $random (i32.const 480) (i32.const 16))))
  ;; Published once the VM started: Envoy refuses other host calls in _initialize.
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
    (drop (call $set_shared {env_key} (i32.const 2000) (i32.load (i32.const 424)) (i32.const 0)))
    (drop (call $set_shared {clock_key} (i32.const 460) (i32.const 8) (i32.const 0)))
    (drop (call $set_shared {rand_key} (i32.const 480) (i32.const 16) (i32.const 0)))
    (i32.const 1))"#,
        out_ptr = out.split(' ').nth(1).unwrap().trim_end_matches(')'),
        out_len = out.split(' ').nth(3).unwrap().trim_end_matches(')'),
        err_ptr = err_text.split(' ').nth(1).unwrap().trim_end_matches(')'),
        err_len = err_text.split(' ').nth(3).unwrap().trim_end_matches(')'),
    );
    let body = body
        .replace("(i32.store (i32.const 400) ", "(i32.store (i32.const 400) (i32.const ")
        .replace("(i32.store (i32.const 404) ", "(i32.store (i32.const 404) (i32.const ")
        .replace(") (i32.store (i32.const 404)", ")) (i32.store (i32.const 404)")
        .replace(")\n    (drop (call $fd_write", "))\n    (drop (call $fd_write");
    let imports = format!(
        r#"{LOG} {SET_SHARED}
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes (param i32 i32) (result i32)))
  (import "wasi_unstable" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))"#
    );
    w.module("proxy_abi_version_0_2_1", &imports, &body)
}

#[test]
fn wasi_is_deterministic_and_per_plugin() {
    let spec = || PluginSpec::from_bytes(wasi_guest()).env("A", "1").env("B", "two");
    let (host, _) = load_spec(spec());
    assert_eq!(messages(&host), vec![("to stdout".to_owned(), 0), ("to stderr".to_owned(), 0)]);
    assert_eq!(host.logs_at(LogLevel::Error), vec!["to stderr"]);
    assert_eq!(host.shared_data("", "env").unwrap().0, b"A=1\0B=two\0");
    assert_eq!(
        host.shared_data("", "clock").unwrap().0,
        host_sim::state::clock::DEFAULT_MONOTONIC_NS.to_le_bytes(),
        "the monotonic clock starts a day after boot"
    );
    let options = host_sim::HostOptions { monotonic_ns: 7, ..Default::default() };
    let mut set = Host::with_options(options);
    set.load(spec()).unwrap();
    assert_eq!(set.shared_data("", "clock").unwrap().0, 7u64.to_le_bytes(), "set before load");
    let (again, _) = load_spec(spec());
    assert_eq!(host.shared_data("", "random"), again.shared_data("", "random"), "seeded random");
    assert_ne!(host.shared_data("", "random").unwrap().0, [0u8; 16]);
}

/// A guest whose `proxy_on_tick` (the plugin running, past the start's
/// restrictions) asks the clocks, `poll_oneoff` and `sched_yield`, and
/// publishes each errno and value as shared data `wasi`: errnos at 600..640,
/// values at 700..772.
fn running_wasi_guest() -> Vec<u8> {
    let mut w = Wat::default();
    let key = w.s("wasi");
    let body = format!(
        r#"
  (func (export "proxy_on_tick") (param i32)
    (i32.store (i32.const 600) (call $res (i32.const 0) (i32.const 700)))
    (i32.store (i32.const 604) (call $res (i32.const 1) (i32.const 708)))
    (i64.store (i32.const 716) (i64.const -1))
    (i32.store (i32.const 608) (call $res (i32.const 2) (i32.const 716)))
    (i32.store (i32.const 612) (call $time (i32.const 0) (i64.const 1000) (i32.const 724)))
    (i32.store (i32.const 616) (call $time (i32.const 1) (i64.const 0) (i32.const 732)))
    (i64.store (i32.const 740) (i64.const -1))
    (i32.store (i32.const 620) (call $time (i32.const 2) (i64.const 1) (i32.const 740)))
    (i32.store (i32.const 624) (call $time (i32.const 3) (i64.const 1) (i32.const 740)))
    (i32.store (i32.const 756) (i32.const 99))
    (i32.store (i32.const 628) (call $poll (i32.const 800) (i32.const 900) (i32.const 1) (i32.const 756)))
    (i32.store (i32.const 632) (call $yield))
    (i32.store (i32.const 636) (call $now (i32.const 764)))
    (drop (call $set_shared {key} (i32.const 600) (i32.const 172) (i32.const 0))))"#
    );
    let imports = format!(
        r#"{SET_SHARED}
  (import "wasi_snapshot_preview1" "clock_res_get" (func $res (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
  (import "env" "proxy_get_current_time_nanoseconds" (func $now (param i32) (result i32)))"#
    );
    w.module("proxy_abi_version_0_2_1", &imports, &body)
}

/// What [`running_wasi_guest`] published on its last tick.
struct RunningWasi {
    errnos: Vec<u32>,
    res: [u64; 3],
    wall: u64,
    monotonic: u64,
    other_clock: u64,
    nevents: u32,
    proxy_now: u64,
}

fn running_wasi(host: &Host) -> RunningWasi {
    let bytes = host.shared_data("", "wasi").expect("the tick published").0;
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at - 600..at - 596].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at - 600..at - 592].try_into().unwrap());
    RunningWasi {
        errnos: (0..10).map(|i| u32_at(600 + 4 * i)).collect(),
        res: [u64_at(700), u64_at(708), u64_at(716)],
        wall: u64_at(724),
        monotonic: u64_at(732),
        other_clock: u64_at(740),
        nevents: u32_at(756),
        proxy_now: u64_at(764),
    }
}

/// The WASI answers of host-sim's README table for calls made while the
/// plugin runs, as cpp-host's `exports.cc` gives them: `clock_res_get` 1 ns
/// for the realtime and monotonic clocks, ENOTSUP (58) for any other id and
/// nothing written; `clock_time_get` the two clocks (the precision
/// ignored), ENOTSUP for other ids; `poll_oneoff` success with 0 events;
/// `sched_yield` success. The wall clock set before the plugin loaded is
/// what the guest reads (through WASI and `proxy_get_current_time_nanoseconds`
/// alike); `Host::advance` moves both clocks, `Host::set_now_ns` only the wall.
#[test]
fn wasi_answers_while_the_plugin_runs_are_cpp_hosts_and_the_clocks_start_where_set() {
    const WALL: u64 = 1_780_000_000_123_456_789;
    const MONOTONIC: u64 = 3_600_000_000_000;
    let options = host_sim::HostOptions { realtime_ns: WALL, monotonic_ns: MONOTONIC, ..Default::default() };
    let mut host = Host::with_options(options);
    let plugin = host.load(PluginSpec::from_bytes(running_wasi_guest())).unwrap();
    host.tick(plugin).unwrap();
    let first = running_wasi(&host);
    assert_eq!(first.errnos, [0, 0, 58, 0, 0, 58, 58, 0, 0, 0], "res 0 1 2, time 0 1 2 3, poll, yield, proxy now");
    assert_eq!(first.res[..2], [1, 1], "1 ns resolution");
    assert_eq!(first.res[2], u64::MAX, "ENOTSUP writes nothing");
    assert_eq!(first.other_clock, u64::MAX, "ENOTSUP writes nothing");
    assert_eq!((first.wall, first.proxy_now, first.monotonic), (WALL, WALL, MONOTONIC), "as set before load");
    assert_eq!(first.nevents, 0, "no events, and success: what the Go runtime needs");

    host.advance(std::time::Duration::from_millis(1500)).unwrap();
    host.tick(plugin).unwrap();
    let later = running_wasi(&host);
    assert_eq!((later.wall, later.proxy_now), (WALL + 1_500_000_000, WALL + 1_500_000_000));
    assert_eq!(later.monotonic, MONOTONIC + 1_500_000_000);

    host.set_now_ns(WALL - 7);
    host.tick(plugin).unwrap();
    let set = running_wasi(&host);
    assert_eq!((set.wall, set.proxy_now), (WALL - 7, WALL - 7), "the wall clock set back");
    assert_eq!(set.monotonic, MONOTONIC + 1_500_000_000, "the monotonic clock never goes back");
    assert_eq!(set.errnos, first.errnos);
}
