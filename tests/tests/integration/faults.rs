//! Logging and faults end to end (guest `e2e-faults`): the SDK's `log`
//! logger forwards to `proxy_log` filtered by `proxy_get_log_level`, and a
//! panic in user code is reported through `proxy_log` at critical level with
//! its message before the module traps; host-sim reports the trap, refuses
//! the failed VM, and keeps serving other plugins.

use crate::common::{Build, every_build, load_spec_with, spec, wasm};
use guest_build::Target;
use std::time::Duration;

use host_sim::{Error, FailPolicy, Host, HostOptions, LogLevel, PluginSpec, Rebuild, Request, Response};

fn options(log_level: LogLevel) -> HostOptions {
    HostOptions { log_level, ..HostOptions::default() }
}

/// `(level, message)` of every `configure ...` line.
fn configure_lines(host: &Host) -> Vec<(LogLevel, String)> {
    host.logs().into_iter().filter(|r| r.message.starts_with("configure")).map(|r| (r.level, r.message)).collect()
}

#[test]
fn log_crate_logger_respects_the_host_level() {
    for build in Build::ALL {
        let spec = spec("faults", build);
        let (host, _) = load_spec_with(options(LogLevel::Trace), spec.clone());
        let all = [
            (LogLevel::Error, "configure error"),
            (LogLevel::Warn, "configure warn"),
            (LogLevel::Info, "configure info"),
            (LogLevel::Debug, "configure debug"),
            (LogLevel::Trace, "configure trace"),
        ]
        .map(|(l, m)| (l, m.to_owned()));
        assert_eq!(configure_lines(&host), all, "each log level maps to the host's level");

        let (host, _) = load_spec_with(options(LogLevel::Warn), spec.clone());
        assert_eq!(configure_lines(&host), all[..2], "below the host's level nothing is logged");

        let (host, _) = load_spec_with(options(LogLevel::Critical), spec);
        assert_eq!(configure_lines(&host), [], "`log` has no critical level: nothing passes");
    }
}

fn panic_traps(build: Build) {
    let mut host = Host::new();
    let faulty = host.load(spec("faults", build).vm_id("faulty")).unwrap();
    let healthy = host.load(spec("http", build).vm_id("healthy")).unwrap();
    assert_ne!(faulty.vm_index(), healthy.vm_index());

    let mut stream = host.http_stream(faulty).unwrap();
    let result = stream.request_headers([(":method", "GET"), (":path", "/panic"), (":authority", "x")], true);
    match result {
        Err(Error::Trap { callback, message }) => {
            assert_eq!(callback, "proxy_on_request_headers");
            // On wasm a Rust panic ends in `unreachable`; natively host-sim
            // catches the unwind and reports the panic itself.
            let expected = if build == Build::Native { "boom at /panic" } else { "unreachable" };
            assert!(message.contains(expected), "{build:?}: {message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    let critical = host.logs_at(LogLevel::Critical);
    assert_eq!(critical.len(), 1, "{critical:?}");
    if build == Build::NO_STD {
        // The no_std handler without `panic-details` formats nothing: a
        // message with arguments is not shown, and no location is.
        assert_eq!(
            critical[0],
            "panicked (its message has arguments: enable sluice's `panic-details` feature to see it and where it happened)"
        );
    } else {
        assert!(critical[0].contains("panicked at"), "{critical:?}");
        assert!(critical[0].contains("boom at /panic"), "the panic message is reported: {critical:?}");
    }
    let record = host.logs().into_iter().find(|r| r.level == LogLevel::Critical).unwrap();
    assert_ne!(record.context_id, 0, "reported on the stream's context");

    let failure = host.failure(faulty).expect("the VM is marked failed").to_owned();
    assert!(failure.contains("proxy_on_request_headers"), "{failure}");
    assert!(matches!(host.http_stream(faulty), Err(Error::VmFailed { .. })), "a failed VM is not used again");

    // Another plugin of the same host keeps working.
    let outcome = host.run_http(healthy, Request::get("/plain"), Response::ok()).unwrap();
    assert_eq!(outcome.client_response.headers.unwrap().get_str("x-powered-by"), Some("sluice"));
    assert!(host.failure(healthy).is_none());
}

every_build!(panic_is_logged_at_critical_then_the_module_traps: panic_traps);

/// The no_std handler reports a message without arguments as it is, and
/// with `panic-details` the whole message with its location; without it the
/// module carries no `core::fmt` formatting of the panic (rustc still emits
/// each panic site's location; only nightly's `-Zlocation-detail=none`
/// drops them).
#[test]
fn the_no_std_panic_handler_reports_static_messages_and_details_on_request() {
    let build = |details: bool| {
        let guest = guest_build::Guest::package("sluice-guest-e2e-faults")
            .target(Target::Unknown)
            .no_default_features()
            .feature(if details { "panic-details" } else { "no-std-runtime" });
        guest.bytes().expect("e2e-faults builds")
    };
    let critical = |wasm: Vec<u8>, path: &str| {
        let mut host = Host::new();
        let plugin = host.load(PluginSpec::from_bytes(wasm.clone()).configuration("panic-on-tick")).unwrap();
        let _ = host.advance(std::time::Duration::from_secs(1));
        assert!(host.failure(plugin).is_some());
        let mut other = Host::new();
        let plugin = other.load(PluginSpec::from_bytes(wasm)).unwrap();
        let mut stream = other.http_stream(plugin).unwrap();
        let _ = stream.request_headers([(":method", "GET"), (":path", path), (":authority", "x")], true);
        (host.logs_at(LogLevel::Critical), other.logs_at(LogLevel::Critical))
    };
    let (plain, details) = (build(false), build(true));
    assert!(plain.len() < details.len(), "{} < {}", plain.len(), details.len());
    let (tick, request) = critical(plain, "/panic");
    assert_eq!(tick, ["panicked: tick exploded"]);
    assert!(request[0].starts_with("panicked (its message has arguments"), "{request:?}");
    let (tick, request) = critical(details, "/panic");
    assert!(tick[0].starts_with("panicked at ") && tick[0].ends_with("tick exploded"), "{tick:?}");
    assert!(request[0].contains("src/lib.rs") && request[0].ends_with("boom at /panic"), "{request:?}");
}

#[test]
fn panic_in_a_root_tick_is_reported_and_traps() {
    let spec = PluginSpec::from_bytes(wasm("faults", Target::Wasip1)).configuration("panic-on-tick");
    let (mut host, plugin) = load_spec_with(HostOptions::default(), spec);
    let result = host.advance(std::time::Duration::from_secs(1));
    assert!(matches!(result, Err(Error::Trap { callback: "proxy_on_tick", .. })), "{result:?}");
    let critical = host.logs_at(LogLevel::Critical);
    assert!(critical.iter().any(|m| m.contains("tick exploded")), "{critical:?}");
    assert!(host.failure(plugin).is_some());
}

#[test]
fn every_plugin_of_a_vm_installs_the_logger() {
    // Envoy runs `on_vm_start` once per plugin (root context) of a VM; the
    // second plugin's `logging::init` finds the SDK's own logger installed.
    let mut host = Host::new();
    let wasm = wasm("faults", Target::Wasip1);
    let a = host.load(PluginSpec::from_bytes(wasm.clone()).vm_id("shared").root_id("a")).unwrap();
    let b = host.load(PluginSpec::from_bytes(wasm).vm_id("shared").root_id("b"));
    let b = b.expect("the second plugin of the VM starts");
    assert_eq!(a.vm_index(), b.vm_index());
    let errors = host.logs_at(LogLevel::Error);
    assert_eq!(errors, ["configure error", "configure error"], "both plugins log through the SDK's logger");
}

#[test]
fn a_panic_is_handled_by_the_fail_policy_and_the_vm_is_rebuilt_in_every_build() {
    for build in [Build::Native, Build::WASIP1] {
        let mut host = Host::new();
        let spec = spec("faults", build).rebuild(Rebuild::new(2, Duration::from_secs(60)));
        let plugin = host.load(spec).unwrap();
        let outcome = host.run_http(plugin, Request::get("/panic"), Response::ok()).unwrap();
        let local = outcome.local_response.expect("fail closed answers the client");
        assert_eq!(local.status_code, 503, "{build:?}");
        assert!(host.failure(plugin).is_some(), "{build:?}");

        let outcome = host.run_http(plugin, Request::get("/fine"), Response::ok().body("ok")).unwrap();
        assert_eq!(outcome.client_response.body, b"ok", "{build:?}: served by the rebuilt VM");
        assert_eq!(host.failure(plugin), None, "{build:?}");
        assert_eq!(host.rebuilds(plugin).count, 1, "{build:?}");
    }
}

#[test]
fn fail_open_lets_the_stream_through_after_a_panic_in_every_build() {
    for build in [Build::Native, Build::WASIP1] {
        let mut host = Host::new();
        let plugin = host.load(spec("faults", build).fail_policy(FailPolicy::Open)).unwrap();
        let outcome = host.run_http(plugin, Request::get("/panic"), Response::ok().body("upstream")).unwrap();
        assert_eq!(outcome.local_response, None, "{build:?}");
        assert_eq!(outcome.client_response.body, b"upstream", "{build:?}");
        assert!(host.failure(plugin).is_some(), "{build:?}");
    }
}
