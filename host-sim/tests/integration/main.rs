//! host-sim's integration tests, one test binary: each binary links
//! wasmtime, so one binary instead of one per file saves a link and tens of
//! megabytes per file, and the tests of every file run in parallel. Run one
//! file's tests with `cargo test -p host-sim --test integration mesh::`.

mod common;

mod abi_surface;
mod abi_versions;
mod bad_pointers;
mod cli;
mod envoy_availability;
mod fail_policy;
mod go_guest;
mod grpc;
mod kitchen_sink;
mod kong;
mod layers;
mod lifecycle;
mod limits_and_timeouts;
mod memory_safety;
mod mesh;
mod native;
mod official_sdk;
mod plugin_start;
mod profiles;
mod rebuild;
mod reliability;
mod routing;
mod traps_everywhere;
