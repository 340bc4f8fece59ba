//! The harness measures what it claims: fuel counts are reproducible, and the
//! sluice and official plugins of each pair do identical work on the same input.

use guest_build::Guest;
use sluice_bench::driver::{self, Driver, Exchange, Outcome};
use sluice_bench::speed;

fn pair(ours: &str, official: &str) -> (Vec<u8>, Vec<u8>) {
    (Guest::package(ours).bytes().unwrap(), Guest::manifest_dir(official).bytes().unwrap())
}

fn outcome(wasm: &[u8], exchange: &Exchange) -> Outcome {
    let mut driver = Driver::new(&driver::engine(true), wasm, true).unwrap();
    driver.stream(exchange).unwrap();
    driver.stream(exchange).unwrap()
}

fn check_pair(ours: &[u8], official: &[u8], exchange: &Exchange) -> Outcome {
    let (a, b) = (outcome(ours, exchange), outcome(official, exchange));
    assert_eq!(a, b, "both plugins must do identical work");
    for wasm in [ours, official] {
        let first = speed::fuel_per_stream(wasm, exchange, 3, 5).unwrap();
        let second = speed::fuel_per_stream(wasm, exchange, 3, 5).unwrap();
        assert!(first > 0);
        assert_eq!(first, second, "fuel counts are reproducible");
    }
    a
}

#[test]
fn header_plugins_do_identical_reproducible_work() {
    let (ours, official) = pair("sluice-bench-http-headers", "tests/official-guests/http-headers");
    let exchange = Exchange::standard();
    let out = check_pair(&ours, &official, &exchange);
    assert!(out.response.contains(&("powered-by".into(), "proxy-wasm".into())));
    assert_eq!(out.logs.len(), exchange.request.len() + exchange.response.len() + 1);
    assert_eq!(out.actions, vec![0, 0]);
    // The `/hello` branch answers locally, identically too.
    let mut hello = exchange.clone();
    hello.request[1].1 = "/hello".into();
    let out = check_pair(&ours, &official, &hello);
    assert_eq!(out.local.as_ref().map(|l| l.status), Some(200));
}

#[test]
fn callout_plugins_do_identical_reproducible_work() {
    let (ours, official) = pair("sluice-bench-http-auth-random", "bench/official/http-auth-random");
    let mut exchange = Exchange::standard();
    let out = check_pair(&ours, &official, &exchange);
    assert_eq!(out.callouts.len(), 1);
    assert_eq!(out.resumed, vec![0]);
    assert!(out.local.is_none());
    exchange.callout_body = vec![3];
    let out = check_pair(&ours, &official, &exchange);
    assert_eq!(out.local.as_ref().map(|l| l.status), Some(403));
}

/// The filter-chain table measures the gateway's work: header-decode
/// writes the token's claims, the router (after it) rewrites on them, and
/// every plugin ran on every stream.
#[test]
fn the_chain_benchmark_runs_the_three_examples_in_order() {
    let build = |package: &str| Guest::package(package).bytes().unwrap();
    let (decode, router, telemetry) =
        (build("sluice-example-header-decode"), build("sluice-example-router"), build("sluice-example-telemetry"));
    let configured = |wasm, configuration| speed::Configured { wasm, configuration };
    let plugins = [
        configured(&decode[..], sluice_bench::HEADER_DECODE_CONFIG),
        configured(&router[..], sluice_bench::ROUTER_CONFIG),
        configured(&telemetry[..], sluice_bench::TELEMETRY_CONFIG),
    ];
    let exchange = Exchange::standard();
    let mut request = exchange.request.clone();
    request.push(("authorization".into(), format!("Bearer {}", sluice_bench::BENCH_TOKEN)));
    let (run, out) = speed::chain_run(&plugins, &request, &exchange.response, 3).unwrap();
    assert_eq!(run.streams, 3);
    let upstream = out.upstream_request.headers.expect("the request went upstream");
    assert_eq!(upstream.get_str("x-user-id"), Some("alice"));
    assert_eq!(upstream.get_str("x-tenant"), Some("acme"));
    assert_eq!(upstream.get_str("x-route-cluster"), Some("acme-backend"), "the router routed on the claim");
    assert_eq!(out.plugins.len(), 3);
    assert!(out.plugins.iter().all(|p| p.request_in.headers.is_some()), "every plugin saw the request");
    // Without a token header-decode rejects: the chain does not forward.
    assert!(speed::chain_run(&plugins, &exchange.request, &exchange.response, 1).is_err());
}

#[test]
fn host_calls_are_counted_exactly_and_sluice_makes_no_more_than_the_official_sdk() {
    let exchange = Exchange::standard();
    for (ours, official) in [
        ("sluice-bench-http-headers", "tests/official-guests/http-headers"),
        ("sluice-bench-http-auth-random", "bench/official/http-auth-random"),
    ] {
        let (a, b) = pair(ours, official);
        let count = |wasm: &[u8]| {
            let plugin = speed::Configured { wasm, configuration: "" };
            speed::host_calls_per_stream(plugin, &exchange.request, &exchange.response, &exchange.callout_body, 3)
                .unwrap()
        };
        let (ours_calls, official_calls) = (count(&a), count(&b));
        eprintln!("{ours}: {ours_calls} host calls per stream, the official SDK's: {official_calls}");
        assert!(ours_calls > 0);
        assert_eq!(ours_calls, count(&a), "host-call counts are exact");
        assert!(
            ours_calls <= official_calls,
            "{ours}: {ours_calls} host calls, the official SDK makes {official_calls}"
        );
    }
}
