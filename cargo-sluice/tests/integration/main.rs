//! cargo-sluice's integration tests, one test binary (each binary links
//! wasmtime through host-sim): against a real registry
//! (`registry`), and the whole path from `cargo sluice new` to a
//! `WasmPlugin` host-sim pulls (`round_trip`).

mod common;

mod registry;
mod round_trip;
