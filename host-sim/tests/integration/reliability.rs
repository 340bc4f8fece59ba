//! The hostile reproducers of `tests/reliability/` (issue 15), each as a
//! regression test: the guest's VM fails with an error naming the limit it
//! exceeded (or the call is refused), the host goes on serving another
//! plugin, and what the host holds for the guest does not grow (exact
//! counts and sizes from `Host::usage`, never timings).

use std::path::Path;
use std::time::Duration;

use crate::common::trap;
use host_sim::{
    EndReason, Error, FailPolicy, Host, HostOptions, Limits, PluginId, PluginSpec, Request, Response, Usage,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reliability");

/// A reproducer's module.
fn guest(name: &str) -> Vec<u8> {
    wat::parse_file(Path::new(DIR).join(format!("{name}.wat"))).unwrap()
}

/// A well-behaved plugin (`healthy.wat`): it logs each request and lets it through.
fn healthy() -> Vec<u8> {
    guest("healthy")
}

/// Loads the healthy plugin next to the hostile one.
fn neighbour(host: &mut Host) -> PluginId {
    host.load(PluginSpec::from_bytes(healthy()).vm_id("neighbour")).unwrap()
}

/// The healthy plugin still serves a whole stream.
fn still_serves(host: &mut Host, plugin: PluginId) {
    let outcome = host.run_http(plugin, Request::get("/"), Response::ok().body("hi")).unwrap();
    assert!(outcome.local_response.is_none());
    assert_eq!(outcome.client_response.headers.unwrap().get_str(":status"), Some("200"));
    assert_eq!(outcome.client_response.body, b"hi");
    assert!(host.failure(plugin).is_none());
}

#[test]
fn deep_property_fails_the_vm_on_the_path_depth_limit() {
    let mut host = Host::new();
    let other = neighbour(&mut host);
    let plugin = host.load(PluginSpec::from_bytes(guest("deep_property"))).unwrap();
    let (callback, message) = trap(host.run_http(plugin, Request::get("/"), Response::ok()).unwrap_err());
    assert_eq!(callback, "proxy_on_request_headers");
    assert!(message.contains("exceeded the limit `property_depth` of 32 segments"), "{message}");
    assert!(message.contains("proxy_set_property with a path of 1000000 segments"), "{message}");
    assert!(host.failure(plugin).unwrap().contains("property_depth"));
    assert_eq!(host.usage(plugin).unwrap().property_bytes, 0, "nothing of the path was kept");
    still_serves(&mut host, other);

    // Raised past what the host's stack takes, the limit stays at 256.
    let spec = PluginSpec::from_bytes(guest("deep_property"))
        .limits(Limits { property_depth: 2_000_000, property_bytes: 1 << 30, ..Limits::default() })
        .fail_policy(FailPolicy::Closed);
    let plugin = host.load(spec).unwrap();
    answered_503(&mut host, plugin);
    assert!(host.failure(plugin).unwrap().contains("`property_depth` of 256 segments"));
    still_serves(&mut host, other);
}

#[test]
fn a_path_within_the_depth_limit_is_set_and_dropped() {
    // 256 segments, the deepest tree allowed: set, read back, dropped with
    // the stream, without overflowing the stack of a test thread.
    let wasm = wat::parse_str(
        r#"(module
             (import "env" "proxy_set_property" (func $set (param i32 i32 i32 i32) (result i32)))
             (import "env" "proxy_get_property" (func $get (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (data (i32.const 1000) "v")
             (func (export "proxy_abi_version_0_2_1"))
             (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 2048))
             (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
               ;; 255 NULs at 0: 256 empty segments
               (if (call $set (i32.const 0) (i32.const 255) (i32.const 1000) (i32.const 1)) (then unreachable))
               (if (call $get (i32.const 0) (i32.const 1) (i32.const 1100) (i32.const 1104)) (then unreachable))
               (i32.const 0)))"#,
    )
    .unwrap();
    let mut host = Host::new();
    let plugin =
        host.load(PluginSpec::from_bytes(wasm).limits(Limits { property_depth: 256, ..Limits::default() })).unwrap();
    let mut stream = host.http_stream(plugin).unwrap();
    stream.request_headers([(":path", "/")], true).unwrap();
    assert_eq!(stream.host().usage(plugin).unwrap().property_bytes, 1, "256 empty keys and one byte");
    stream.response_headers([(":status", "200")], true).unwrap();
    stream.complete().unwrap();
    assert_eq!(host.usage(plugin).unwrap().property_bytes, 0);
}

#[test]
fn overlapping_fd_write_iovecs_fail_on_the_log_line_limit_before_copying() {
    for name in ["fdwrite1", "fdwrite4"] {
        let mut host = Host::new();
        let other = neighbour(&mut host);
        let plugin = host.load(PluginSpec::from_bytes(guest(name))).unwrap();
        let (callback, message) = trap(host.run_http(plugin, Request::get("/"), Response::ok()).unwrap_err());
        assert_eq!(callback, "proxy_on_request_headers");
        assert!(message.contains("exceeded the limit `log_line_bytes` of 1048576 bytes"), "{name}: {message}");
        assert_eq!(host.usage(plugin).unwrap().log_bytes, 0, "{name}: no line was kept");
        still_serves(&mut host, other);

        // With a larger line limit the host-call limit stops it.
        let limits = Limits { log_line_bytes: usize::MAX, host_call_bytes: 1 << 20, ..Limits::default() };
        let plugin = host.load(PluginSpec::from_bytes(guest(name)).limits(limits).fail_open(true)).unwrap();
        let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
        assert_eq!(outcome.fail_policy, Some(FailPolicy::Open));
        assert!(outcome.upstream_request.end_of_stream, "fail open lets the stream through");
        let failure = host.failure(plugin).unwrap();
        assert!(failure.contains("exceeded the limit `host_call_bytes` of 1048576 bytes"), "{failure}");
        let notes: usize = host.logs().iter().filter(|r| r.message != "served").map(|r| r.message.len()).sum();
        assert_eq!(host.usage(plugin).unwrap().log_bytes, notes, "{name}: only host-sim's own notes");
        still_serves(&mut host, other);
    }
}

#[test]
fn queue_pingpong_stops_at_the_deliveries_limit() {
    // Default limits: Host::load returns, with the error naming the limit.
    let mut host = Host::new();
    let other = neighbour(&mut host);
    let (callback, message) = trap(host.load(PluginSpec::from_bytes(guest("queue_pingpong"))).unwrap_err());
    assert_eq!(callback, "proxy_on_queue_ready");
    assert!(message.contains("exceeded the limit `deliveries_per_step` of 100000 deliveries"), "{message}");
    assert!(message.contains("queue notifications after one guest call"), "{message}");
    still_serves(&mut host, other);
    assert_eq!(host.queue("", "q").map(|items| items.len()), Some(1), "one item waits, as before each round");

    // A lower limit, with a fail policy: the plugin loads, its VM failed.
    let mut host = Host::new();
    let other = neighbour(&mut host);
    let limits = Limits { deliveries_per_step: 1000, ..Limits::default() };
    let spec = PluginSpec::from_bytes(guest("queue_pingpong")).limits(limits).fail_policy(FailPolicy::Closed);
    let plugin = host.load(spec).unwrap();
    assert!(host.failure(plugin).unwrap().contains("`deliveries_per_step` of 1000 deliveries"));
    let usage = host.usage(plugin).unwrap();
    assert_eq!((usage.queues, usage.queue_items, usage.queue_bytes), (1, 1, 2), "the name \"q\" and one item");
    let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(outcome.local_response.unwrap().status_code, 503);
    still_serves(&mut host, other);
    assert_eq!(host.usage(plugin).unwrap().queue_items, 1, "nothing more was enqueued");
}

/// A root that sets a tick period of `u32::MAX` ms and logs each tick.
fn logging_ticker() -> Vec<u8> {
    wat::parse_str(
        r#"(module
             (import "env" "proxy_set_tick_period_milliseconds" (func $period (param i32) (result i32)))
             (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (data (i32.const 16) "tick")
             (func (export "proxy_abi_version_0_2_1"))
             (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
             (func (export "proxy_on_configure") (param i32 i32) (result i32)
               (drop (call $period (i32.const -1))) (i32.const 1))
             (func (export "proxy_on_tick") (param i32)
               (drop (call $log (i32.const 2) (i32.const 16) (i32.const 4)))))"#,
    )
    .unwrap()
}

#[test]
fn advancing_past_the_end_of_time_is_an_error_and_the_end_of_time_is_reached_once() {
    let mut host = Host::new();
    let other = neighbour(&mut host);
    let plugin = host.load(PluginSpec::from_bytes(guest("ticker"))).unwrap();
    let period = Duration::from_millis(u32::MAX as u64);
    assert_eq!(host.tick_period(plugin), Some(period));
    let before = host.now_ns();
    let err = host.advance(Duration::from_millis(u64::MAX)).unwrap_err();
    assert!(matches!(&err, Error::InvalidArgument(m) if m.contains("passes the end of time")), "{err}");
    assert_eq!(host.now_ns(), before, "nothing moved");
    still_serves(&mut host, other);

    // Up to the last nanosecond: each tick due fires once, then none.
    let mut host = Host::new();
    let ticker = host.load(PluginSpec::from_bytes(logging_ticker())).unwrap();
    let left = u64::MAX - host.now_ns().max(host.monotonic_ns());
    host.advance(Duration::from_nanos(left)).unwrap();
    assert_eq!(host.now_ns().max(host.monotonic_ns()), u64::MAX);
    let ticks = host.logs().iter().filter(|r| r.message == "tick").count() as u64;
    assert_eq!(ticks, left / period.as_nanos() as u64, "the clocks moved by {left} ns");
    assert!(matches!(host.advance(Duration::from_nanos(1)), Err(Error::InvalidArgument(_))));
    host.advance(Duration::ZERO).unwrap();
    assert_eq!(host.logs().iter().filter(|r| r.message == "tick").count() as u64, ticks);
    assert!(host.failure(ticker).is_none());
}

#[test]
fn ticks_past_the_deliveries_limit_fail_the_vm() {
    let mut host = Host::new();
    let other = neighbour(&mut host);
    let limits = Limits { deliveries_per_step: 100, ..Limits::default() };
    let spec = PluginSpec::from_bytes(logging_ticker()).limits(limits).fail_policy(FailPolicy::Closed);
    let plugin = host.load(spec).unwrap();
    host.advance(Duration::from_millis(u32::MAX as u64) * 1000).unwrap();
    assert_eq!(host.logs().iter().filter(|r| r.message == "tick").count(), 100);
    let failure = host.failure(plugin).unwrap();
    assert!(failure.starts_with("proxy_on_tick: exceeded the limit `deliveries_per_step` of 100"), "{failure}");
    assert_eq!(host.tick_period(plugin), None, "the failed VM's timer is dropped");
    still_serves(&mut host, other);
}

#[test]
fn a_stream_ended_from_context_create_is_reported_and_released() {
    for (name, ended) in [("early_reset", EndReason::Reset), ("early_local", EndReason::LocalResponse)] {
        let mut host = Host::new();
        let other = neighbour(&mut host);
        let plugin = host.load(PluginSpec::from_bytes(guest(name))).unwrap();
        let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
        assert_eq!(outcome.ended, Some(ended), "{name}");
        assert!(outcome.upstream_request.headers.is_none(), "{name}: nothing reached the upstream");
        if ended == EndReason::LocalResponse {
            assert_eq!(outcome.local_response.unwrap().status_code, 403);
            assert_eq!(outcome.client_response.headers.unwrap().get_str(":status"), Some("403"));
        } else {
            assert!(outcome.local_response.is_none() && outcome.client_response.headers.is_none());
        }
        let usage = host.usage(plugin).unwrap();
        assert_eq!((usage.http_streams, usage.contexts), (0, 1), "{name}: only the root context is left");

        // Phase by phase: the request headers go nowhere, no error.
        let mut stream = host.http_stream(plugin).unwrap();
        assert!(stream.is_over());
        assert!(stream.request_headers([(":path", "/")], true).unwrap().is_stop());
        assert_eq!(stream.complete().unwrap().ended, Some(ended));

        for _ in 0..10_000 {
            host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
        }
        assert_eq!(host.usage(plugin), Some(usage), "{name}: nothing grew over 10 000 streams");
        assert!(host.failure(plugin).is_none());
        still_serves(&mut host, other);
    }
}

#[test]
fn an_endless_start_function_names_the_cpu_deadline() {
    let mut host =
        Host::with_options(HostOptions { cpu_deadline: Some(Duration::from_millis(200)), ..HostOptions::default() });
    let other = neighbour(&mut host);
    let err = host.load(PluginSpec::from_bytes(guest("start_loop"))).unwrap_err();
    let Error::Instantiate(message) = &err else { panic!("expected an instantiation error, got {err}") };
    assert!(message.contains("start function"), "{message}");
    assert!(message.contains("exceeded the CPU deadline of 200ms per guest call"), "{message}");
    still_serves(&mut host, other);
}

#[test]
fn plugin_files_must_be_regular_files() {
    if Path::new("/dev/zero").exists() {
        let err = PluginSpec::from_file("/dev/zero").unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
    let dir = std::env::temp_dir().join(format!("host-sim-reliability-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("plugin.wasm");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        // Opening a FIFO for reading would block until a writer comes.
        let err = PluginSpec::from_file(&fifo).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
    let big = dir.join("big.wasm");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(host_sim::limits::MAX_FILE_BYTES + 1).unwrap();
    let err = PluginSpec::from_file(&big).unwrap_err();
    assert!(err.to_string().contains("larger than the limit of 268435456 bytes"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `host-sim run <scenario>` ([`crate::common::host_sim`], with its 60 s
/// guard): its exit code and what it printed (stdout, then stderr).
fn host_sim_run(scenario: &Path) -> (Option<i32>, String) {
    let (code, out, err) = crate::common::host_sim(&["run"], scenario);
    (code, out + &err)
}

/// Each reproducer's scenario through the `host-sim` binary: it ends, and
/// says why the plugin failed.
#[test]
fn the_reproducer_scenarios_end_with_a_clear_message() {
    let dir = std::env::temp_dir().join(format!("host-sim-reliability-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // (reproducer, what the output says, exit code: 1 a step failed (the
    // plugin, or the clock refusing to pass the end of time), 3 the plugin
    // did not start, 0 passed)
    let cases = [
        ("deep_property", "property_depth", 1),
        ("fdwrite1", "log_line_bytes", 1),
        ("fdwrite4", "log_line_bytes", 1),
        ("queue_pingpong", "deliveries_per_step", 3),
        ("huge_advance", "end of time", 1),
        ("start_loop", "CPU deadline", 3),
        ("early_reset", "reset", 0),
        ("early_local", "403", 0),
    ];
    for name in [
        "deep_property",
        "fdwrite1",
        "fdwrite4",
        "queue_pingpong",
        "ticker",
        "start_loop",
        "early_reset",
        "early_local",
    ] {
        std::fs::write(dir.join(format!("{name}.wasm")), guest(name)).unwrap();
    }
    for (name, said, code) in cases {
        let scenario = dir.join(format!("{name}.toml"));
        std::fs::copy(Path::new(DIR).join(format!("{name}.toml")), &scenario).unwrap();
        let (exit, text) = host_sim_run(&scenario);
        assert_eq!(exit, Some(code), "{name}: exit code\n{text}");
        assert!(text.contains(said), "{name}: {said:?} not in\n{text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A root that, on each tick, makes an HTTP call with a 1 MiB body, sets a
/// 1 MiB shared-data value under a new key and enqueues 1 MiB.
fn hoarder() -> Vec<u8> {
    wat::parse_str(
        r#"(module
             (import "env" "proxy_http_call" (func $http (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
             (import "env" "proxy_set_shared_data" (func $set (param i32 i32 i32 i32 i32) (result i32)))
             (import "env" "proxy_register_shared_queue" (func $register (param i32 i32 i32) (result i32)))
             (import "env" "proxy_enqueue_shared_queue" (func $enqueue (param i32 i32 i32) (result i32)))
             (memory (export "memory") 32)
             (global $n (mut i32) (i32.const 0))
             (data (i32.const 64) "auth")
             ;; serialized headers: :method GET, :path /, :authority a
             (data (i32.const 128)
               "\03\00\00\00\07\00\00\00\03\00\00\00\05\00\00\00\01\00\00\00\0a\00\00\00\01\00\00\00"
               ":method\00GET\00:path\00/\00:authority\00a\00")
             (data (i32.const 256) "q")
             (func (export "proxy_abi_version_0_2_1"))
             (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 2048))
             (func (export "proxy_on_configure") (param i32 i32) (result i32)
               (drop (call $register (i32.const 256) (i32.const 1) (i32.const 300)))
               (i32.const 1))
             (func (export "proxy_on_tick") (param i32)
               (global.set $n (i32.add (global.get $n) (i32.const 1)))
               (i32.store (i32.const 400) (global.get $n))
               (drop (call $http (i32.const 64) (i32.const 4) (i32.const 128) (i32.const 61)
                 (i32.const 65536) (i32.const 1048576) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 304)))
               (drop (call $set (i32.const 400) (i32.const 4) (i32.const 65536) (i32.const 1048576) (i32.const 0)))
               (drop (call $enqueue (i32.load (i32.const 300)) (i32.const 65536) (i32.const 1048576)))))"#,
    )
    .unwrap()
}

#[test]
fn pending_callouts_shared_data_and_queues_are_bounded() {
    let cases: [(Limits, &str); 4] = [
        (Limits { callout_bytes: (3 << 20) + 4096, ..Limits::default() }, "`callout_bytes` of 3149824 bytes"),
        (Limits { pending_callouts: 3, ..Limits::default() }, "`pending_callouts` of 3 callouts"),
        (Limits { shared_data_bytes: (3 << 20) + 12, ..Limits::default() }, "`shared_data_bytes` of 3145740 bytes"),
        (Limits { queue_items: 3, ..Limits::default() }, "`queue_items` of 3 items"),
    ];
    for (limits, named) in cases {
        let mut host = Host::new();
        let other = neighbour(&mut host);
        let plugin =
            host.load(PluginSpec::from_bytes(hoarder()).limits(limits).fail_policy(FailPolicy::Closed)).unwrap();
        for _ in 0..4 {
            host.tick(plugin).unwrap();
        }
        let failure = host.failure(plugin).unwrap();
        assert!(failure.starts_with("proxy_on_tick: exceeded the limit ") && failure.contains(named), "{failure}");
        let usage = host.usage(plugin).unwrap();
        // Three rounds went through whole; the fourth stopped at the limit.
        let calls = if named.contains("callout") { 3 } else { 4 };
        assert_eq!(usage.pending_callouts, calls, "{named}");
        let header_bytes = 7 + 3 + 5 + 1 + 10 + 1 + "content-length".len() + "1048576".len();
        assert_eq!(usage.callout_bytes, calls * ("auth".len() + header_bytes + (1 << 20)), "{named}");
        let values = if named.contains("queue") { 4 } else { 3 };
        assert_eq!(usage.shared_data_bytes, values * (4 + (1 << 20)), "{named}");
        assert_eq!((usage.queue_items, usage.queue_bytes), (3, "q".len() + (3 << 20)), "{named}");
        still_serves(&mut host, other);
    }
}

/// Found by the fuzzer (sluice-fuzz, scenarios): `ticks = 4294967295` in a
/// step made the scenario runner call `proxy_on_tick` four billion times.
/// More ticks than one step may deliver is an invalid scenario (exit 2).
#[test]
fn a_step_with_more_ticks_than_one_step_may_deliver_is_invalid() {
    let file = Path::new(DIR).join("ticks.toml");
    let text = |ticks: u64| format!("plugin = \"ticker.wasm\"\n\n[[stream]]\nname = \"t\"\nticks = {ticks}\n");
    let err = host_sim::scenario::parse(&file, &text(u32::MAX as u64)).unwrap_err().to_string();
    assert!(err.contains("ticks.toml:3:1: field `stream[1].ticks`"), "{err}");
    assert!(err.contains("at most 100000 ticks per step"), "{err}");
    let scenario = host_sim::scenario::parse(&file, &text(100_000)).unwrap();
    assert_eq!(scenario.steps[0].ticks, 100_000);
}

// ---- One test per limit (issue 15): each shows the VM failing with an
// error that names the limit and its value (or, for `log_bytes`, the oldest
// lines dropped), the neighbour still served, and `Host::usage` flat after.

/// A root guest for the limit tests: the host functions they spend with,
/// `pages` pages of memory, "q" at 32, "auth" at 64 and an HTTP call's
/// serialized headers at 128 (61 bytes), `data` and `funcs`. `$count` bumps
/// the tick number (1, 2, ...) and stores it at 400.
fn spender(pages: u32, data: &str, funcs: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
             (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
             (import "env" "proxy_register_shared_queue" (func $register (param i32 i32 i32) (result i32)))
             (import "env" "proxy_enqueue_shared_queue" (func $enqueue (param i32 i32 i32) (result i32)))
             (import "env" "proxy_dequeue_shared_queue" (func $dequeue (param i32 i32 i32) (result i32)))
             (import "env" "proxy_define_metric" (func $define (param i32 i32 i32 i32) (result i32)))
             (import "env" "proxy_record_metric" (func $record (param i32 i64) (result i32)))
             (import "env" "proxy_set_property" (func $set_property (param i32 i32 i32 i32) (result i32)))
             (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
             (import "env" "proxy_http_call" (func $http (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
             (memory (export "memory") {pages})
             (global $n (mut i32) (i32.const 0))
             (data (i32.const 32) "q")
             (data (i32.const 64) "auth")
             (data (i32.const 128)
               "\03\00\00\00\07\00\00\00\03\00\00\00\05\00\00\00\01\00\00\00\0a\00\00\00\01\00\00\00"
               ":method\00GET\00:path\00/\00:authority\00a\00")
             {data}
             (func (export "proxy_abi_version_0_2_1"))
             (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 2048))
             (func $count
               (global.set $n (i32.add (global.get $n) (i32.const 1)))
               (i32.store (i32.const 400) (global.get $n)))
             {funcs})"#
    ))
    .unwrap()
}

/// Loads `wasm` with `limits` under fail closed, next to the neighbour.
fn load_limited(wasm: Vec<u8>, limits: Limits) -> (Host, PluginId, PluginId) {
    let mut host = Host::new();
    let other = neighbour(&mut host);
    let spec = PluginSpec::from_bytes(wasm).vm_id("hoard").limits(limits).fail_policy(FailPolicy::Closed);
    let plugin = host.load(spec).unwrap();
    (host, plugin, other)
}

/// A one-page [`spender`] root: `configure` in `proxy_on_configure`, and
/// `tick` in `proxy_on_tick` after `$count` (with a local `$i`).
fn root(data: &str, configure: &str, tick: &str) -> Vec<u8> {
    spender(
        1,
        data,
        &format!(
            r#"(func (export "proxy_on_configure") (param i32 i32) (result i32) {configure} (i32.const 1))
               (func (export "proxy_on_tick") (param i32) (local $i i32) (call $count) {tick})"#
        ),
    )
}

/// `proxy_on_configure`'s registration of queue "q" (its token at 300).
const REGISTER_Q: &str = "(drop (call $register (i32.const 32) (i32.const 1) (i32.const 300)))";

/// A [`root`] that registers "q" and enqueues 1000 bytes there on each tick.
fn enqueuer() -> Vec<u8> {
    root("", REGISTER_Q, "(drop (call $enqueue (i32.load (i32.const 300)) (i32.const 1024) (i32.const 1000)))")
}

/// Ticks `plugin` `fine` times, which the VM survives, then once more.
fn tick_past(host: &mut Host, plugin: PluginId, fine: usize) {
    for _ in 0..fine {
        host.tick(plugin).unwrap();
    }
    assert!(host.failure(plugin).is_none(), "{fine} ticks fit the limit");
    host.tick(plugin).unwrap();
}

/// A stream of `plugin`, whose VM failed, gets fail closed's 503.
fn answered_503(host: &mut Host, plugin: PluginId) {
    let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(outcome.local_response.unwrap().status_code, 503, "fail closed");
}

/// The failed plugin's VM stays failed, answers its streams 503 (fail
/// closed) and holds nothing more, whatever the host does with it.
fn stays_failed_and_flat(host: &mut Host, plugin: PluginId) {
    let failure = host.failure(plugin).unwrap().to_owned();
    let usage = host.usage(plugin).unwrap();
    for _ in 0..10 {
        host.tick(plugin).unwrap(); // the failed VM gets no callback
        answered_503(host, plugin);
    }
    host.advance(Duration::from_secs(60)).unwrap();
    assert_eq!(host.failure(plugin), Some(failure.as_str()));
    // Each refused stream adds host-sim's note to the VM's log, which
    // `log_bytes` bounds like any line (its own test); nothing else grows.
    let after = host.usage(plugin).unwrap();
    assert_eq!(after.log_lines, usage.log_lines + 10, "one note per stream");
    let without_logs = |u: Usage| Usage { log_lines: 0, log_bytes: 0, ..u };
    assert_eq!(without_logs(after), without_logs(usage), "nothing grew after the VM failed");
}

/// Asserts the VM failed in `callback` on `limit` with `value`, and says
/// `what`.
fn failed_on(host: &Host, plugin: PluginId, callback: &str, limit: &str, what: &str) {
    let failure = host.failure(plugin).expect("the VM failed");
    assert!(failure.starts_with(&format!("{callback}: exceeded the limit {limit} (")), "{failure}");
    assert!(failure.contains(what), "{what:?} not in {failure}");
}

#[test]
fn registering_more_queues_than_the_limit_fails_the_vm() {
    // "q" again is no new queue; then one named by the tick number.
    let wasm = root(
        "",
        REGISTER_Q,
        "(drop (call $register (i32.const 32) (i32.const 1) (i32.const 300)))
         (drop (call $register (i32.const 400) (i32.const 4) (i32.const 304)))",
    );
    let (mut host, plugin, other) = load_limited(wasm, Limits { queues: 4, ..Limits::default() });
    tick_past(&mut host, plugin, 3);
    failed_on(&host, plugin, "proxy_on_tick", "`queues` of 4 queues", "proxy_register_shared_queue of a new queue");
    assert!(host.failure(plugin).unwrap().contains("vm_id `hoard`"));
    assert_eq!(host.usage(plugin).unwrap().queues, 4, "the fifth was not registered");
    stays_failed_and_flat(&mut host, plugin);
    still_serves(&mut host, other);
}

#[test]
fn enqueueing_past_the_queue_bytes_fails_the_vm() {
    let wasm = enqueuer();
    let (mut host, plugin, other) = load_limited(wasm, Limits { queue_bytes: 2500, ..Limits::default() });
    tick_past(&mut host, plugin, 2);
    failed_on(
        &host,
        plugin,
        "proxy_on_tick",
        "`queue_bytes` of 2500 bytes",
        "proxy_enqueue_shared_queue of 1000 bytes would make vm_id `hoard`'s queues 3001 bytes",
    );
    let usage = host.usage(plugin).unwrap();
    assert_eq!(
        (usage.queue_items, usage.queue_bytes),
        (2, 2001),
        "the name \"q\" and two items: the third was not kept"
    );
    assert_eq!(host.queue("hoard", "q").map(|items| items.len()), Some(2));
    stays_failed_and_flat(&mut host, plugin);
    still_serves(&mut host, other);
}

#[test]
fn defining_more_metrics_than_the_limit_fails_the_vm() {
    // "fixed" again is no new metric; then a gauge named by the tick number.
    let wasm = root(
        r#"(data (i32.const 16) "fixed")"#,
        "(drop (call $define (i32.const 0) (i32.const 16) (i32.const 5) (i32.const 300)))",
        "(drop (call $define (i32.const 0) (i32.const 16) (i32.const 5) (i32.const 300)))
         (drop (call $define (i32.const 1) (i32.const 400) (i32.const 4) (i32.const 304)))",
    );
    let (mut host, plugin, other) = load_limited(wasm, Limits { metrics: 3, ..Limits::default() });
    tick_past(&mut host, plugin, 2);
    failed_on(
        &host,
        plugin,
        "proxy_on_tick",
        "`metrics` of 3 metrics",
        "proxy_define_metric of a new metric; the VM defined 3",
    );
    assert_eq!(host.usage(plugin).unwrap().metrics, 3);
    assert_eq!(host.metrics().len(), 3, "the fourth was not defined");
    stays_failed_and_flat(&mut host, plugin);
    still_serves(&mut host, other);
}

#[test]
fn a_metric_name_over_the_limit_fails_the_vm() {
    // A 4096-byte name (the default limit) is defined, a 4097-byte one is not.
    let wasm = root(
        "",
        "(drop (call $define (i32.const 0) (i32.const 4096) (i32.const 4096) (i32.const 300)))",
        "(drop (call $define (i32.const 0) (i32.const 8192) (i32.const 4097) (i32.const 304)))",
    );
    let (mut host, plugin, other) = load_limited(wasm, Limits::default());
    assert_eq!(host.usage(plugin).unwrap().metrics, 1);
    tick_past(&mut host, plugin, 0);
    failed_on(
        &host,
        plugin,
        "proxy_on_tick",
        "`metric_name_bytes` of 4096 bytes",
        "proxy_define_metric of a 4097-byte name",
    );
    assert_eq!(host.metrics().len(), 1);
    stays_failed_and_flat(&mut host, plugin);
    still_serves(&mut host, other);
}

#[test]
fn recording_more_histogram_samples_than_the_limit_fails_the_vm() {
    let wasm = root(
        r#"(data (i32.const 16) "h")"#,
        "(drop (call $define (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 300)))",
        "(drop (call $record (i32.load (i32.const 300)) (i64.extend_i32_u (global.get $n))))",
    );
    let (mut host, plugin, other) = load_limited(wasm, Limits { histogram_samples: 3, ..Limits::default() });
    tick_past(&mut host, plugin, 3);
    failed_on(
        &host,
        plugin,
        "proxy_on_tick",
        "`histogram_samples` of 3 samples",
        "proxy_record_metric on a histogram; the VM's histograms hold 3 samples it recorded",
    );
    assert_eq!(host.histogram("h"), Some(vec![1, 2, 3]), "the fourth sample was not kept");
    stays_failed_and_flat(&mut host, plugin);
    assert_eq!(host.histogram("h"), Some(vec![1, 2, 3]));
    still_serves(&mut host, other);
}

#[test]
fn properties_past_the_property_bytes_fail_the_vm_and_are_released_with_the_stream() {
    // Two 600 KiB values on one stream: the second passes 1 MiB.
    let wasm = spender(
        16,
        r#"(data (i32.const 16) "a") (data (i32.const 20) "b")"#,
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
             (drop (call $set_property (i32.const 16) (i32.const 1) (i32.const 4096) (i32.const 614400)))
             (drop (call $set_property (i32.const 20) (i32.const 1) (i32.const 4096) (i32.const 614400)))
             (i32.const 0))"#,
    );
    let (mut host, plugin, other) = load_limited(wasm, Limits::default());
    answered_503(&mut host, plugin);
    failed_on(
        &host,
        plugin,
        "proxy_on_request_headers",
        "`property_bytes` of 1048576 bytes",
        "proxy_set_property of 614400 bytes would make the stream's properties 1228802 bytes",
    );
    let usage = host.usage(plugin).unwrap();
    assert_eq!((usage.property_bytes, usage.http_streams), (0, 0), "the stream and its first value are gone");
    stays_failed_and_flat(&mut host, plugin);
    still_serves(&mut host, other);

    // Within the limit (one value per stream) nothing fails, nothing stays.
    let limits = Limits { property_bytes: 614401, ..Limits::default() };
    let wasm = spender(
        16,
        r#"(data (i32.const 16) "a")"#,
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
             (drop (call $set_property (i32.const 16) (i32.const 1) (i32.const 4096) (i32.const 614400)))
             (i32.const 0))"#,
    );
    let (mut host, plugin, _) = load_limited(wasm, limits);
    for _ in 0..20 {
        let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
        assert!(outcome.local_response.is_none());
    }
    assert!(host.failure(plugin).is_none());
    assert_eq!(host.usage(plugin).unwrap().property_bytes, 0);
}

#[test]
fn log_lines_past_the_log_bytes_drop_the_oldest_without_failing() {
    // Each tick logs a 1000-byte line that starts with the tick number's
    // last digit.
    let wasm = root(
        "",
        "",
        "(i32.store8 (i32.const 1024) (i32.add (i32.const 48) (i32.rem_u (global.get $n) (i32.const 10))))
         (drop (call $log (i32.const 2) (i32.const 1024) (i32.const 1000)))",
    );
    let (mut host, plugin, other) = load_limited(wasm, Limits { log_bytes: 3500, ..Limits::default() });
    for _ in 0..10 {
        host.tick(plugin).unwrap();
    }
    assert!(host.failure(plugin).is_none(), "not a failure");
    let usage = host.usage(plugin).unwrap();
    assert_eq!((usage.log_lines, usage.log_bytes), (3, 3000));
    let kept: String = host.vm_logs(plugin).iter().map(|r| r.message.chars().next().unwrap()).collect();
    assert_eq!(kept, "890", "the newest three lines are kept");
    for _ in 0..100 {
        host.tick(plugin).unwrap();
    }
    assert_eq!(host.usage(plugin), Some(usage), "100 more lines, the same bytes held");
    let kept: String = host.vm_logs(plugin).iter().map(|r| r.message.chars().next().unwrap()).collect();
    assert_eq!(kept, "890", "ticks 108 to 110");
    still_serves(&mut host, other);
}

/// One call to `on_request_headers` asks to continue the stream 200 times.
const CONTINUE_200_TIMES: &str = r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
   (local $i i32)
   (loop $l
     (drop (call $continue (i32.const 0)))
     (local.set $i (i32.add (local.get $i) (i32.const 1)))
     (br_if $l (i32.lt_u (local.get $i) (i32.const 200))))
   (i32.const 1))"#;

#[test]
fn deferred_actions_one_guest_call_leaves_waiting_are_bounded() {
    // The 101st continue fails the VM in the call that asks for it: the
    // deferred actions waiting never pass the limit.
    let wasm = spender(1, "", CONTINUE_200_TIMES);
    let (mut host, plugin, other) = load_limited(wasm, Limits { deliveries_per_step: 100, ..Limits::default() });
    answered_503(&mut host, plugin);
    failed_on(
        &host,
        plugin,
        "proxy_on_request_headers",
        "`deliveries_per_step` of 100 deliveries",
        "proxy_continue_stream with 100 deferred actions already waiting for the guest call to end",
    );
    let usage = host.usage(plugin).unwrap();
    assert_eq!((usage.http_streams, usage.contexts), (0, 1), "only the root context is left");
    stays_failed_and_flat(&mut host, plugin);
    still_serves(&mut host, other);

    // Without a fail policy the driving call returns the error.
    let mut host = Host::new();
    let other = neighbour(&mut host);
    let spec = PluginSpec::from_bytes(spender(1, "", CONTINUE_200_TIMES))
        .limits(Limits { deliveries_per_step: 100, ..Limits::default() });
    let plugin = host.load(spec).unwrap();
    let (callback, message) = trap(host.run_http(plugin, Request::get("/"), Response::ok()).unwrap_err());
    assert_eq!(callback, "proxy_on_request_headers");
    assert!(
        message.starts_with(
            "exceeded the limit `deliveries_per_step` of 100 deliveries (proxy_continue_stream with 100 deferred"
        ),
        "{message}"
    );
    still_serves(&mut host, other);

    // Closing and replying in a loop are bounded the same way, at the
    // default of 100 000.
    for (call, function) in [
        ("(call $close (i32.const 0))", "proxy_close_stream"),
        ("(call $continue (i32.const 1))", "proxy_continue_stream"),
        (
            "(call $reply (i32.const 403) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) \
             (i32.const 0) (i32.const -1))",
            "proxy_send_local_response",
        ),
    ] {
        let (mut host, plugin, other) = load_limited(looping(call, 1_000_000), Limits::default());
        answered_503(&mut host, plugin);
        failed_on(
            &host,
            plugin,
            "proxy_on_request_headers",
            "`deliveries_per_step` of 100000 deliveries",
            &format!("{function} with 100000 deferred actions already waiting for the guest call to end"),
        );
        stays_failed_and_flat(&mut host, plugin);
        still_serves(&mut host, other);
    }

    // Within the limit every one is kept and run, and nothing stays.
    let (mut host, plugin, _) = load_limited(
        looping("(call $continue (i32.const 0))", 100),
        Limits { deliveries_per_step: 100, ..Limits::default() },
    );
    let before = host.usage(plugin).unwrap();
    for _ in 0..20 {
        let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
        assert!(outcome.upstream_request.end_of_stream, "the continues resumed the request");
        assert!(outcome.local_response.is_none());
    }
    assert!(host.failure(plugin).is_none());
    assert_eq!(host.usage(plugin), Some(before), "20 streams of 100 continues each, nothing held");
}

/// A stream guest whose `proxy_on_request_headers` makes `call` (which
/// returns a status) `times` times in one call, then pauses the request.
fn looping(call: &str, times: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
             (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
             (import "env" "proxy_close_stream" (func $close (param i32) (result i32)))
             (import "env" "proxy_send_local_response"
               (func $reply (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (func (export "proxy_abi_version_0_2_1"))
             (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 2048))
             (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
               (local $i i32)
               (loop $l
                 (drop {call})
                 (local.set $i (i32.add (local.get $i) (i32.const 1)))
                 (br_if $l (i32.lt_u (local.get $i) (i32.const {times}))))
               (i32.const 1)))"#
    ))
    .unwrap()
}

#[test]
fn callout_timeouts_past_the_deliveries_limit_fail_the_vm() {
    // One tick makes 150 HTTP calls with a 1 ms timeout; each answer logs "r".
    let wasm = spender(
        1,
        r#"(data (i32.const 16) "r")"#,
        r#"(func (export "proxy_on_tick") (param i32)
             (local $i i32)
             (loop $l
               (drop (call $http (i32.const 64) (i32.const 4) (i32.const 128) (i32.const 61)
                 (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 304)))
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $l (i32.lt_u (local.get $i) (i32.const 150)))))
           (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32)
             (drop (call $log (i32.const 2) (i32.const 16) (i32.const 1))))"#,
    );
    let (mut host, plugin, other) = load_limited(wasm, Limits { deliveries_per_step: 100, ..Limits::default() });
    host.tick(plugin).unwrap();
    assert_eq!(host.usage(plugin).unwrap().pending_callouts, 150);
    host.advance(Duration::from_millis(1)).unwrap();
    failed_on(
        &host,
        plugin,
        "proxy_on_http_call_response",
        "`deliveries_per_step` of 100 deliveries",
        "ticks and callout timeouts of one Host::advance reached 101",
    );
    assert_eq!(host.vm_logs(plugin).iter().filter(|r| r.message == "r").count(), 100, "100 timeouts delivered");
    let usage = host.usage(plugin).unwrap();
    assert_eq!((usage.pending_callouts, usage.callout_bytes), (0, 0), "the other 50 calls were dropped");
    stays_failed_and_flat(&mut host, plugin);
    still_serves(&mut host, other);
}

// ---- The bounds on held memory are totals (issue 15): per VM, or per
// `vm_id` for queues; no count multiplies them, and no other VM uses them up.

#[test]
fn queue_items_and_bytes_are_totals_over_the_vm_ids_queues() {
    // Each tick registers a new queue (named by the tick number) and
    // enqueues 1000 bytes there: every queue alone stays small.
    let each_tick_a_new_queue = "(drop (call $register (i32.const 400) (i32.const 4) (i32.const 304)))
         (drop (call $enqueue (i32.load (i32.const 304)) (i32.const 1024) (i32.const 1000)))";
    let wasm = || root("", REGISTER_Q, each_tick_a_new_queue);

    let (mut host, plugin, other) = load_limited(wasm(), Limits { queue_bytes: 2500, ..Limits::default() });
    tick_past(&mut host, plugin, 2);
    failed_on(
        &host,
        plugin,
        "proxy_on_tick",
        "`queue_bytes` of 2500 bytes",
        "proxy_enqueue_shared_queue of 1000 bytes would make vm_id `hoard`'s queues 3013 bytes",
    );
    let usage = host.usage(plugin).unwrap();
    assert_eq!((usage.queues, usage.queue_items, usage.queue_bytes), (4, 2, 1 + 3 * 4 + 2000));
    stays_failed_and_flat(&mut host, plugin);
    still_serves(&mut host, other);

    let (mut host, plugin, other) = load_limited(wasm(), Limits { queue_items: 2, ..Limits::default() });
    tick_past(&mut host, plugin, 2);
    failed_on(
        &host,
        plugin,
        "proxy_on_tick",
        "`queue_items` of 2 items",
        "proxy_enqueue_shared_queue would make vm_id `hoard`'s queues hold 3 items",
    );
    assert_eq!(host.usage(plugin).unwrap().queue_items, 2);
    stays_failed_and_flat(&mut host, plugin);
    still_serves(&mut host, other);

    // The names count: 1000 queues of 64 KiB names would be 64 MiB.
    let wasm = root("", "", "(drop (call $register (i32.const 1024) (i32.const 3000) (i32.const 304)))");
    let (mut host, plugin, other) = load_limited(wasm, Limits { queue_bytes: 2500, ..Limits::default() });
    tick_past(&mut host, plugin, 0);
    failed_on(
        &host,
        plugin,
        "proxy_on_tick",
        "`queue_bytes` of 2500 bytes",
        "proxy_register_shared_queue of a 3000-byte name would make vm_id `hoard`'s queues 3000 bytes",
    );
    assert_eq!(host.usage(plugin).unwrap().queues, 0);
    stays_failed_and_flat(&mut host, plugin);
    still_serves(&mut host, other);
}

#[test]
fn another_vm_ids_queues_do_not_count() {
    // Two plugins in their own vm_ids, each up to its limit: neither fails.
    let wasm = enqueuer();
    let limits = Limits { queue_items: 3, queue_bytes: 3001, ..Limits::default() };
    let mut host = Host::new();
    let a = host.load(PluginSpec::from_bytes(wasm.clone()).vm_id("a").limits(limits)).unwrap();
    let b = host.load(PluginSpec::from_bytes(wasm).vm_id("b").limits(limits)).unwrap();
    for _ in 0..3 {
        host.tick(a).unwrap();
        host.tick(b).unwrap();
    }
    assert!(host.failure(a).is_none() && host.failure(b).is_none());
    for plugin in [a, b] {
        let usage = host.usage(plugin).unwrap();
        assert_eq!((usage.queues, usage.queue_items, usage.queue_bytes), (1, 3, 3001));
    }
    let (callback, message) = trap(host.tick(a).unwrap_err());
    assert_eq!(callback, "proxy_on_tick");
    assert!(message.starts_with("exceeded the limit `queue_items` of 3 items"), "{message}");
    assert_eq!(host.usage(b).unwrap().queue_items, 3, "b's queue is untouched");
}

#[test]
fn queue_notifications_one_guest_call_leaves_waiting_are_bounded() {
    // Enqueue and dequeue 200 times in one call: the queue never holds more
    // than one item, but every enqueue leaves a notification waiting.
    let wasm = root(
        "",
        REGISTER_Q,
        "(loop $l
           (drop (call $enqueue (i32.load (i32.const 300)) (i32.const 1024) (i32.const 8)))
           (drop (call $dequeue (i32.load (i32.const 300)) (i32.const 308) (i32.const 312)))
           (local.set $i (i32.add (local.get $i) (i32.const 1)))
           (br_if $l (i32.lt_u (local.get $i) (i32.const 200))))",
    );
    let (mut host, plugin, other) = load_limited(wasm, Limits { deliveries_per_step: 100, ..Limits::default() });
    tick_past(&mut host, plugin, 0);
    failed_on(
        &host,
        plugin,
        "proxy_on_tick",
        "`deliveries_per_step` of 100 deliveries",
        "proxy_enqueue_shared_queue with 100 queue notifications already waiting for the guest call to end",
    );
    let usage = host.usage(plugin).unwrap();
    assert_eq!((usage.queue_items, usage.queue_bytes), (0, 1), "the 101st item was not enqueued");
    stays_failed_and_flat(&mut host, plugin);
    still_serves(&mut host, other);
}

#[test]
fn metrics_and_histogram_samples_count_per_vm() {
    // Each tick defines a new histogram (named by the tick number) and
    // records one sample in it, and records one in the shared "h".
    let wasm = || {
        root(
            r#"(data (i32.const 16) "h")"#,
            "(drop (call $define (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 300)))",
            "(drop (call $define (i32.const 2) (i32.const 400) (i32.const 4) (i32.const 304)))
             (drop (call $record (i32.load (i32.const 304)) (i64.const 7)))
             (drop (call $record (i32.load (i32.const 300)) (i64.const 8)))",
        )
    };
    // Two plugins (two VMs): "h" is one stat, defined by the first.
    let limits = Limits { metrics: 3, histogram_samples: 6, ..Limits::default() };
    let mut host = Host::new();
    let other = neighbour(&mut host);
    let spec = |vm_id: &str| PluginSpec::from_bytes(wasm()).vm_id(vm_id).limits(limits).fail_policy(FailPolicy::Closed);
    let a = host.load(spec("a")).unwrap();
    let b = host.load(spec("b")).unwrap();
    for _ in 0..2 {
        host.tick(a).unwrap();
        host.tick(b).unwrap();
    }
    assert!(host.failure(a).is_none() && host.failure(b).is_none(), "each VM's own metrics count, not the host's");
    assert_eq!(host.metrics().len(), 3, "\"h\" and the two per tick, the same names in both VMs");
    let (ua, ub) = (host.usage(a).unwrap(), host.usage(b).unwrap());
    assert_eq!((ua.metrics, ua.histogram_samples), (3, 4), "a defined them all");
    assert_eq!((ub.metrics, ub.histogram_samples), (0, 4), "b defined none, recorded as many");
    assert_eq!(host.histogram("h").map(|h| h.len()), Some(4));

    // A third tick: a defines a fourth metric; b (which defines nothing
    // new, the names are a's) goes on, up to its samples.
    host.tick(a).unwrap();
    failed_on(&host, a, "proxy_on_tick", "`metrics` of 3 metrics", "the VM defined 3");
    host.tick(b).unwrap();
    assert!(host.failure(b).is_none());
    assert_eq!(host.usage(b).unwrap().metrics, 1, "the fourth name was b's to define");
    assert_eq!(host.usage(b).unwrap().histogram_samples, 6);
    host.tick(b).unwrap();
    failed_on(
        &host,
        b,
        "proxy_on_tick",
        "`histogram_samples` of 6 samples",
        "the VM's histograms hold 6 samples it recorded",
    );
    stays_failed_and_flat(&mut host, a);
    stays_failed_and_flat(&mut host, b);
    still_serves(&mut host, other);
}

/// A scenario file that is not a regular file (a FIFO nothing writes to,
/// whose opening for reading would block forever; `/dev/zero`, which never
/// ends), or one over 16 MiB: `host-sim run` refuses it before reading, as an
/// invalid scenario (exit 2), naming the file and the cause.
#[test]
fn host_sim_run_refuses_a_scenario_that_is_not_a_regular_file_or_too_large() {
    let dir = std::env::temp_dir().join(format!("host-sim-reliability-scenario-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut refused = Vec::new();
    let fifo = dir.join("fifo.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        refused.push((fifo, "cannot read the scenario: not a regular file (a FIFO, device or socket)".to_owned()));
    }
    if Path::new("/dev/zero").exists() {
        refused.push((Path::new("/dev/zero").to_owned(), "cannot read the scenario: not a regular file".to_owned()));
    }
    let big = dir.join("big.toml");
    std::fs::File::create(&big).unwrap().set_len(host_sim::limits::MAX_SCENARIO_BYTES + 1).unwrap();
    let said = format!("cannot read the scenario: 16777217 bytes is larger than the limit of {} bytes", 16 << 20);
    refused.push((big, said));
    for (scenario, said) in refused {
        let (exit, text) = host_sim_run(&scenario);
        assert_eq!(exit, Some(2), "{}: exit code\n{text}", scenario.display());
        let named = format!("invalid scenario: {}: {said}", scenario.display());
        assert!(text.contains(&named), "{named:?} not in\n{text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A guest that calls Envoy's foreign functions, the arguments protobuf
/// messages in memory: `$set d v` sets filter state key `key<d>` to 1000
/// bytes, the first `v` (`set_envoy_filter_state`; 1004 bytes of key and
/// value), `$declare d` declares property `prop<d>` with a 1000-byte schema
/// (`declare_property`; 1005 bytes of name and schema). Each returns the
/// status. `$n` counts the callbacks that bump it; `funcs` are the callbacks.
fn foreign_spender(funcs: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
             (import "env" "proxy_call_foreign_function" (func $foreign (param i32 i32 i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (global $n (mut i32) (i32.const 0))
             (data (i32.const 16) "set_envoy_filter_state")
             (data (i32.const 48) "declare_property")
             ;; path (1) = "key0", value (2) = 1000 bytes
             (data (i32.const 1024) "\0a\04key0\12\e8\07")
             ;; name (1) = "prop0", schema (4) = 1000 bytes
             (data (i32.const 3072) "\0a\05prop0\22\e8\07")
             (func (export "proxy_abi_version_0_2_1"))
             (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 8192))
             (func $set (param $d i32) (param $v i32) (result i32)
               (i32.store8 (i32.const 1029) (i32.add (i32.const 48) (local.get $d)))
               (i32.store8 (i32.const 1033) (local.get $v))
               (call $foreign (i32.const 16) (i32.const 22) (i32.const 1024) (i32.const 1009) (i32.const 500) (i32.const 504)))
             (func $declare (param $d i32) (result i32)
               (i32.store8 (i32.const 3078) (i32.add (i32.const 48) (local.get $d)))
               (call $foreign (i32.const 48) (i32.const 16) (i32.const 3072) (i32.const 1010) (i32.const 500) (i32.const 504)))
             (func $count (global.set $n (i32.add (global.get $n) (i32.const 1))))
             {funcs})"#
    ))
    .unwrap()
}

#[test]
fn filter_state_records_keep_each_keys_last_value_and_declarations_are_per_context() {
    // The root declares prop0, and again: BAD_ARGUMENT (Envoy's
    // Context::declareProperty refuses a name the context declared and keeps
    // the first); it cannot set filter state (no stream: NOT_FOUND, as in
    // Envoy). Each request sets key0 to a value starting with its number,
    // declares prop0 (its own context: OK) and again (BAD_ARGUMENT).
    let wasm = foreign_spender(
        r#"(func (export "proxy_on_configure") (param i32 i32) (result i32)
             (if (call $declare (i32.const 0)) (then unreachable))
             (if (i32.ne (call $declare (i32.const 0)) (i32.const 2)) (then unreachable))
             (if (i32.ne (call $set (i32.const 9) (i32.const 0)) (i32.const 1)) (then unreachable))
             (i32.const 1))
           (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
             (call $count)
             (if (call $set (i32.const 0) (global.get $n)) (then unreachable))
             (if (call $declare (i32.const 0)) (then unreachable))
             (if (i32.ne (call $declare (i32.const 0)) (i32.const 2)) (then unreachable))
             (i32.const 0))"#,
    );
    let (mut host, plugin, other) = load_limited(wasm.clone(), Limits::default());
    assert_eq!(host.usage(plugin).unwrap().filter_state_bytes, 1005, "the root's declaration only");
    assert!(host.filter_state().is_empty(), "the root's set was refused");
    host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
    let usage = host.usage(plugin).unwrap();
    assert_eq!(usage.filter_state_bytes, 1005 + 1005 + 1004, "the stream's declaration is its own");
    for _ in 1..50 {
        let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
        assert!(outcome.local_response.is_none());
    }
    assert!(host.failure(plugin).is_none());
    assert_eq!(host.usage(plugin), Some(usage), "50 streams set the same key and declare the same name: flat");
    assert_eq!(usage.property_bytes, 0, "each stream's filter state went with it");
    let records = host.filter_state();
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].path.as_str(), records[0].value.len(), records[0].value[0]), ("key0", 1000, 50));
    let declared = host.declared_properties();
    let contexts: Vec<u32> = declared.iter().map(|d| d.context_id).collect();
    assert_eq!(contexts.len(), 2, "the root's and the first stream's: {declared:?}");
    assert_eq!(contexts[0], plugin.root_context_id());
    assert_ne!(contexts[1], plugin.root_context_id());
    for d in &declared {
        assert_eq!((d.vm, d.name.as_str(), d.schema.len()), (declared[0].vm, "prop0", 1000));
    }

    // Another VM declares in its own contexts and keeps its own records;
    // setting the key replaces the first VM's record, which it now holds.
    let second = host.load(PluginSpec::from_bytes(wasm).vm_id("second")).unwrap();
    assert_eq!(host.usage(second).unwrap().filter_state_bytes, 1005);
    host.run_http(second, Request::get("/"), Response::ok()).unwrap();
    assert_eq!(host.usage(second).unwrap().filter_state_bytes, 1005 + 1005 + 1004);
    assert_eq!(host.usage(plugin).unwrap().filter_state_bytes, 1005 + 1005, "the first VM's value was replaced");
    let records = host.filter_state();
    assert_eq!((records.len(), records[0].value[0]), (1, 1), "the last value: the second VM's first request");
    let declared = host.declared_properties();
    assert_eq!(declared.len(), 4);
    assert_eq!(declared[2].context_id, second.root_context_id());
    assert!(declared[2].vm == declared[3].vm && declared[2].vm != declared[0].vm, "{declared:?}");
    still_serves(&mut host, other);
}

#[test]
fn distinct_filter_state_keys_past_the_limit_fail_the_vm() {
    // Each request sets a new key (key1, key2, ...): 1004 bytes each.
    let wasm = foreign_spender(
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
             (call $count)
             (drop (call $set (global.get $n) (i32.const 0)))
             (i32.const 0))"#,
    );
    let (mut host, plugin, other) = load_limited(wasm, Limits { property_bytes: 2500, ..Limits::default() });
    for _ in 0..2 {
        let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
        assert!(outcome.local_response.is_none());
    }
    assert!(host.failure(plugin).is_none(), "two keys fit");
    answered_503(&mut host, plugin);
    failed_on(
        &host,
        plugin,
        "proxy_on_request_headers",
        "`property_bytes` of 2500 bytes",
        "set_envoy_filter_state of 1004 bytes (key and value) would make the VM's filter state records 3012 bytes",
    );
    assert_eq!(host.usage(plugin).unwrap().filter_state_bytes, 2008);
    let keys: Vec<String> = host.filter_state().into_iter().map(|r| r.path).collect();
    assert_eq!(keys, ["key1", "key2"], "the third was not kept");
    stays_failed_and_flat(&mut host, plugin);
    assert_eq!(host.filter_state().len(), 2);
    still_serves(&mut host, other);
}

#[test]
fn distinct_property_declarations_past_the_limit_fail_the_vm() {
    // Each tick declares a new property (prop1, prop2, ...): 1005 bytes each.
    let wasm = foreign_spender(
        r#"(func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
           (func (export "proxy_on_tick") (param i32)
             (call $count)
             (drop (call $declare (global.get $n))))"#,
    );
    let (mut host, plugin, other) = load_limited(wasm, Limits { property_bytes: 2500, ..Limits::default() });
    tick_past(&mut host, plugin, 2);
    failed_on(
        &host,
        plugin,
        "proxy_on_tick",
        "`property_bytes` of 2500 bytes",
        "declare_property of 1005 bytes (name and schema) would make the VM's filter state records 3015 bytes",
    );
    assert_eq!(host.usage(plugin).unwrap().filter_state_bytes, 2010);
    let names: Vec<String> = host.declared_properties().into_iter().map(|d| d.name).collect();
    assert_eq!(names, ["prop1", "prop2"], "the third was not kept");
    stays_failed_and_flat(&mut host, plugin);
    assert_eq!(host.declared_properties().len(), 2);
    still_serves(&mut host, other);
}

/// A relay: registers queue "in" in its `vm_id`, and on each notification
/// enqueues 60 one-byte items to queue "sink" of `vm_id` "sink" (traps if
/// it cannot resolve it or an enqueue is not OK).
const RELAY: &str = r#"(module
  (import "env" "proxy_register_shared_queue" (func $register (param i32 i32 i32) (result i32)))
  (import "env" "proxy_resolve_shared_queue" (func $resolve (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_enqueue_shared_queue" (func $enqueue (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "in")
  (data (i32.const 32) "sink")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (drop (call $register (i32.const 16) (i32.const 2) (i32.const 300)))
    (i32.const 1))
  (func (export "proxy_on_queue_ready") (param i32 i32) (local $i i32)
    (if (call $resolve (i32.const 32) (i32.const 4) (i32.const 32) (i32.const 4) (i32.const 304)) (then unreachable))
    (loop $l
      (if (call $enqueue (i32.load (i32.const 304)) (i32.const 48) (i32.const 1)) (then unreachable))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 60))))))"#;

/// The relays' driver (`vm_id` "sink"): registers queue "sink", and on
/// each tick enqueues one item to queue "in" of `vm_id` "a", then of "b".
const DRIVER: &str = r#"(module
  (import "env" "proxy_register_shared_queue" (func $register (param i32 i32 i32) (result i32)))
  (import "env" "proxy_resolve_shared_queue" (func $resolve (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_enqueue_shared_queue" (func $enqueue (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "in")
  (data (i32.const 32) "sink")
  (data (i32.const 40) "ab")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (drop (call $register (i32.const 32) (i32.const 4) (i32.const 300)))
    (i32.const 1))
  (func (export "proxy_on_tick") (param i32)
    (if (call $resolve (i32.const 40) (i32.const 1) (i32.const 16) (i32.const 2) (i32.const 304)) (then unreachable))
    (if (call $resolve (i32.const 41) (i32.const 1) (i32.const 16) (i32.const 2) (i32.const 308)) (then unreachable))
    (if (call $enqueue (i32.load (i32.const 304)) (i32.const 48) (i32.const 1)) (then unreachable))
    (if (call $enqueue (i32.load (i32.const 308)) (i32.const 48) (i32.const 1)) (then unreachable))))"#;

#[test]
fn queue_notifications_another_vm_left_waiting_do_not_count() {
    // One round of deliveries runs a's on_queue_ready, then b's: each
    // leaves 60 notifications waiting, under its limit of 100; b's count
    // must not include the 60 a's left.
    let mut host = Host::new();
    let driver = host.load(PluginSpec::from_bytes(wat::parse_str(DRIVER).unwrap()).vm_id("sink")).unwrap();
    let limits = Limits { deliveries_per_step: 100, ..Limits::default() };
    let relay = |vm_id| PluginSpec::from_bytes(wat::parse_str(RELAY).unwrap()).vm_id(vm_id).limits(limits);
    let a = host.load(relay("a")).unwrap();
    let b = host.load(relay("b")).unwrap();
    for round in 1..=3 {
        let ticked = host.tick(driver);
        assert!(ticked.is_ok(), "round {round}: {ticked:?}");
        for plugin in [driver, a, b] {
            assert_eq!(host.failure(plugin), None, "round {round}");
        }
        assert_eq!(host.queue("sink", "sink").map(|items| items.len()), Some(120 * round));
    }
    assert_eq!(host.usage(a).unwrap().queue_items, 3, "the driver's, which a never dequeues");
    assert_eq!(host.usage(driver).unwrap().queue_items, 360);
}

/// The largest allocation the current thread makes while `f` runs (the
/// test binary's allocator notes it; other threads are not watched).
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(Some(0)));
    let result = f();
    (result, LARGEST.with(|l| l.take()).unwrap_or(0))
}

thread_local! {
    /// The largest allocation since [`largest_allocation`] started watching
    /// this thread (`None`: not watching).
    static LARGEST: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// The system allocator, noting each thread's largest allocation while
/// [`largest_allocation`] watches it.
struct Watching;

fn note(size: usize) {
    // No destructor, so never unavailable; `try_with` all the same, as the
    // allocator may run while a thread exits.
    let _ = LARGEST.try_with(|l| {
        if let Some(largest) = l.get() {
            l.set(Some(largest.max(size)));
        }
    });
}

// SAFETY: every call goes to `System` unchanged; noting a size allocates nothing.
unsafe impl std::alloc::GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: as above.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Watching = Watching;

/// A guest with 4 MiB arguments for Envoy's foreign functions at 65536:
/// each request calls `set_envoy_filter_state` with key "key0" and a 4 MiB
/// value, each tick `declare_property` of "prop0" with a 4 MiB schema.
fn big_foreign_arguments() -> Vec<u8> {
    wat::parse_str(
        r#"(module
             (import "env" "proxy_call_foreign_function" (func $foreign (param i32 i32 i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 80)
             (data (i32.const 16) "set_envoy_filter_state")
             (data (i32.const 48) "declare_property")
             ;; path (1) = "key0", value (2) = 4 MiB (varint 80 80 80 02)
             (data (i32.const 65536) "\0a\04key0\12\80\80\80\02")
             ;; name (1) = "prop0", schema (4) = 4 MiB
             (data (i32.const 131072) "\0a\05prop0\22\80\80\80\02")
             (func (export "proxy_abi_version_0_2_1"))
             (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 8192))
             (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
             (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
               (drop (call $foreign (i32.const 16) (i32.const 22) (i32.const 65536) (i32.const 4194315)
                 (i32.const 500) (i32.const 504)))
               (i32.const 0))
             (func (export "proxy_on_tick") (param i32)
               (drop (call $foreign (i32.const 48) (i32.const 16) (i32.const 131072) (i32.const 4194316)
                 (i32.const 500) (i32.const 504)))))"#,
    )
    .unwrap()
}

#[test]
fn foreign_function_arguments_past_property_bytes_are_refused_before_copying() {
    // A 4 MiB value or schema against a property_bytes of 1000: the VM
    // fails on the limit, and the host never allocates room for the
    // 4 MiB (it checks the lengths in guest memory first).
    let limits = Limits { property_bytes: 1000, ..Limits::default() };
    let (mut host, plugin, other) = load_limited(big_foreign_arguments(), limits);
    let (outcome, largest) = largest_allocation(|| host.run_http(plugin, Request::get("/"), Response::ok()));
    assert_eq!(outcome.unwrap().local_response.unwrap().status_code, 503, "fail closed");
    failed_on(
        &host,
        plugin,
        "proxy_on_request_headers",
        "`property_bytes` of 1000 bytes",
        "set_envoy_filter_state of 4194304 bytes would make the stream's properties",
    );
    assert!(largest < 1 << 20, "the host allocated {largest} bytes for a value it refused");
    assert!(host.filter_state().is_empty());
    still_serves(&mut host, other);

    let (mut host, plugin, other) = load_limited(big_foreign_arguments(), limits);
    let (ticked, largest) = largest_allocation(|| host.tick(plugin));
    ticked.unwrap();
    failed_on(
        &host,
        plugin,
        "proxy_on_tick",
        "`property_bytes` of 1000 bytes",
        "declare_property of 4194309 bytes (name and schema) would make the VM's filter state records 4194309 bytes",
    );
    assert!(largest < 1 << 20, "the host allocated {largest} bytes for a schema it refused");
    assert!(host.declared_properties().is_empty());
    assert_eq!(host.usage(plugin).unwrap().filter_state_bytes, 0);
    still_serves(&mut host, other);
}
