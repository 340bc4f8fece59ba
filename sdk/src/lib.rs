//! Sluice: a Rust SDK for Proxy-Wasm plugins.
#![no_std]
#![deny(missing_docs)]
