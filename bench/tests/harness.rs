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
