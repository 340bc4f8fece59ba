//! sluice-example-header-decode's integration tests, one test binary: each binary links
//! wasmtime (through host-sim), so one binary instead of one per file saves
//! a link and tens of megabytes per file, and the tests of every file run
//! in parallel. Run one file's tests with
//! `cargo test -p sluice-example-header-decode --test integration config::`.

mod common;

mod config;
mod plugin;
