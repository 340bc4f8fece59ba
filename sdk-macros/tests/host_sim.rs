//! The plugins written with the derives (`tests/guests/derive-*`) in
//! host-sim: each test runs once against the guest built for wasm32-wasip1
//! and once natively through host-sim's null VM, with the same assertions.

// The guests' sources, compiled into this test binary for the null VM (the
// guest crates are cdylib-only, so that their wasm builds get full LTO).
#[allow(unused_attributes)]
#[path = "../../tests/guests/derive-add-header/src/lib.rs"]
mod derive_add_header;
#[allow(unused_attributes)]
#[path = "../../tests/guests/derive-config/src/lib.rs"]
mod derive_config;

use guest_build::{Guest, Target};
use host_sim::{Error, Host, HttpOutcome, LogLevel, Mode, PluginId, PluginSpec, Request, Response};

/// A guest package in `mode`: its native entry point or its wasip1 module.
fn spec(mode: Mode, package: &str, native: fn()) -> PluginSpec {
    mode.spec(native, || {
        Guest::package(package).target(Target::Wasip1).bytes().unwrap_or_else(|e| panic!("{package} builds: {e}"))
    })
}

/// The typed-configuration plugin in `mode`, configured with `config`.
fn configured(mode: Mode, config: &str) -> PluginSpec {
    spec(mode, "derive-config", derive_config::sluice_main).configuration(config)
}

fn load(host: &mut Host, spec: PluginSpec) -> PluginId {
    host.load(spec).unwrap_or_else(|e| panic!("the plugin starts: {e}; logs: {:?}", host.logs()))
}

/// Runs a request for `path` with a 200 response; the VM stays healthy.
fn run(host: &mut Host, plugin: PluginId, request: Request) -> HttpOutcome {
    let outcome = host.run_http(plugin, request, Response::ok()).expect("the stream runs");
    assert_eq!(host.failure(plugin), None, "the VM must not fail");
    outcome
}

/// Every value of header `name` in a message's headers.
fn values(headers: Option<&host_sim::HeaderMap>, name: &str) -> Vec<String> {
    let headers = headers.expect("the headers were sent");
    headers.get_all(name.as_bytes()).map(|v| String::from_utf8_lossy(v).into_owned()).collect()
}

fn upstream(outcome: &HttpOutcome, name: &str) -> Vec<String> {
    values(outcome.upstream_request.headers.as_ref(), name)
}

fn client(outcome: &HttpOutcome, name: &str) -> Vec<String> {
    values(outcome.client_response.headers.as_ref(), name)
}

const CONFIG: &str = r#"{"direction": "outbound", "header": "x-env", "skipPaths": ["/health"], "maxRequests": 2}"#;

host_sim::dual_tests! {
    fn smallest_plugin_tags_requests_and_responses(mode) {
        let mut host = Host::new();
        let plugin = load(&mut host, spec(mode, "derive-add-header", derive_add_header::sluice_main));
        let outcome = run(&mut host, plugin, Request::get("/").header("user-agent", "curl/8"));
        assert_eq!(upstream(&outcome, "x-agent"), ["curl/8"]);
        assert_eq!(client(&outcome, "x-powered-by"), ["sluice"]);
        assert!(host.logs_at(LogLevel::Error).is_empty(), "{:?}", host.logs());
    }

    fn typed_configuration_reaches_every_stream_with_shared_state(mode) {
        let mut host = Host::new();
        let plugin = load(&mut host, configured(mode, CONFIG));
        // Outbound: the response is tagged with the default value, the request is not.
        let outcome = run(&mut host, plugin, Request::get("/api"));
        assert_eq!(client(&outcome, "x-env"), ["sluice"]);
        assert!(upstream(&outcome, "x-env").is_empty());
        // A skipped prefix is not tagged.
        let outcome = run(&mut host, plugin, Request::get("/health/live"));
        assert!(client(&outcome, "x-env").is_empty());
        // The budget of 2 requests is shared by the streams: the third gets a 429.
        let outcome = run(&mut host, plugin, Request::get("/api"));
        assert_eq!(outcome.local_response.map(|r| r.status_code), Some(429));
    }

    fn a_bad_configuration_is_rejected_and_the_field_named(mode) {
        for (config, error) in [
            (
                r#"{"direction": "sideways", "header": "x-env"}"#,
                r#"plugin configuration: field "direction": expected one of "inbound", "outbound", found "sideways""#,
            ),
            (r#"{"direction": "inbound"}"#, r#"plugin configuration: field "header": required, but missing"#),
            (
                r#"{"direction": "inbound", "header": "h", "skipPaths": ["/a", 7]}"#,
                r#"plugin configuration: field "skipPaths[1]": expected a string, found 7"#,
            ),
        ] {
            let mut host = Host::new();
            let result = host.load(configured(mode, config));
            assert!(matches!(result, Err(Error::ConfigureRejected { .. })), "{config}: {result:?}");
            assert_eq!(host.logs_at(LogLevel::Error), [error], "{config}");
        }
    }

    fn the_log_level_the_host_changes_at_run_time_applies_to_the_next_stream(mode) {
        let mut host = Host::new();
        host.set_log_level(LogLevel::Info);
        let plugin = load(&mut host, configured(mode, CONFIG));
        run(&mut host, plugin, Request::get("/health"));
        assert!(host.logs_at(LogLevel::Debug).is_empty(), "filtered at info: {:?}", host.logs());
        host.set_log_level(LogLevel::Debug);
        run(&mut host, plugin, Request::get("/health/ready"));
        assert_eq!(host.logs_at(LogLevel::Debug), ["not tagging /health/ready"]);
    }
}
