//! Every sluice plugin within its size budget (`sluice_bench::size_budgets`):
//! sizes are deterministic, so this is a check CI can hold; timings stay in
//! the benchmark binary.

use sluice_bench::size;

#[test]
fn every_plugin_is_within_its_size_budget() {
    let mut over = Vec::new();
    for plugin in sluice_bench::size_budgets() {
        let wasm = plugin.guest.bytes().unwrap_or_else(|e| panic!("{} builds: {e}", plugin.name));
        let bytes = size::measure(&wasm).stripped;
        println!(
            "{:<24} {bytes:>7} bytes without custom sections (budget {}, target {})",
            plugin.name,
            plugin.budget.bytes,
            plugin.budget.target.map_or("none".to_owned(), |t| t.to_string())
        );
        if bytes > plugin.budget.bytes {
            over.push(format!(
                "{} is {bytes} bytes without custom sections, over its budget of {} (bench/src/lib.rs: plugins, size_budgets)",
                plugin.name, plugin.budget.bytes
            ));
        }
    }
    assert!(over.is_empty(), "{}", over.join("\n"));
}
