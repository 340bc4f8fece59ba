//! In-program routing for Envoy and Istio: ordered rules match a request on a
//! header value, a deterministic percentage of a hashed header, or a path
//! prefix; the first match sets a cluster header, rewrites `:authority` or
//! rewrites the path prefix; then the plugin clears Envoy's route cache
//! through the `clear_route_cache` foreign function so that Envoy picks the
//! route again with the new headers.
//!
//! * [`config`]: the JSON configuration and its checks.
//! * [`rules`]: matching and the edits a rule makes (pure).
//! * [`hash`]: the percentage split (FNV-1a, 100 buckets).
//! * [`report`]: metric names and log text.
//! * [`plugin`]: the root and HTTP contexts that run it all in the proxy.
//!
//! The README next to this crate documents the configuration, the Envoy and
//! Istio deployment, and the route-cache change in Envoy 1.33.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod config;
pub mod hash;
pub mod plugin;
pub mod report;
pub mod rules;
