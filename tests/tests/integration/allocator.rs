//! The SDK's global allocator (feature `global-allocator`) under stress in a
//! real wasm module (guest `e2e-alloc`), on both wasm targets: every block
//! keeps its bytes and its alignment through allocations, reallocations and
//! frees in any order, and a steady workload reaches a steady footprint.

use guest_build::{Guest, Target};
use host_sim::{Host, PluginSpec, Request, Response};

fn verdict(host: &mut Host, plugin: host_sim::PluginId, path: &str) -> String {
    let outcome = host.run_http(plugin, Request::get(path), Response::ok()).unwrap();
    let headers = outcome.upstream_request.headers.expect("the request went upstream");
    headers.get_str("x-alloc").expect("the guest answered").to_owned()
}

#[test]
fn blocks_keep_their_bytes_and_alignment_and_memory_stops_growing() {
    for target in [Target::Unknown, Target::Wasip1] {
        let wasm = Guest::package("sluice-guest-e2e-alloc").target(target).bytes().unwrap();
        let mut host = Host::new();
        let plugin = host.load(PluginSpec::from_bytes(wasm)).unwrap();
        for round in 0..20 {
            let verdict = verdict(&mut host, plugin, &format!("/round/{round}"));
            assert!(verdict.starts_with("ok "), "{}: round {round}: {verdict}", target.triple());
        }
        // The same rounds again: the memory they need is already there.
        let pages = |verdict: &str| verdict.rsplit(' ').next().unwrap().parse::<u32>().unwrap();
        let grown = pages(&verdict(&mut host, plugin, "/round/19"));
        for round in 0..20 {
            let verdict = verdict(&mut host, plugin, &format!("/round/{round}"));
            assert!(verdict.starts_with("ok "), "{}: round {round} again: {verdict}", target.triple());
            assert_eq!(pages(&verdict), grown, "{}: repeating round {round} grew memory", target.triple());
        }
    }
}
