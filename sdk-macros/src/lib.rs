//! Derive macros for the sluice Proxy-Wasm SDK.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
