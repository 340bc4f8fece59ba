//! host-sim: a Proxy-Wasm host on wasmtime for testing plugins.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
