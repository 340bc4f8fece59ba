//! Istio-style request telemetry as a Proxy-Wasm plugin, written with
//! sluice's derives.
//!
//! For every HTTP request the plugin records `<prefix>_requests_total` (a
//! counter) and the histograms `<prefix>_request_duration_milliseconds`,
//! `<prefix>_request_bytes` and `<prefix>_response_bytes`, labelled with
//! Istio's standard dimensions (reporter, source and destination workload,
//! namespace, principal, app, version, cluster, destination service,
//! protocol, response code, gRPC status, response flags, connection security
//! policy) plus configured extra ones. The labels are encoded into the stat
//! name the way Istio's `stats_tags` extract them (see [`labels`]).
//!
//! The peer's identity comes from Istio's metadata exchange: proxies send
//! their node metadata in `x-envoy-peer-metadata` (base64 of JSON here;
//! Istio used a protobuf `Struct`) and their node id in
//! `x-envoy-peer-metadata-id`. The plugin strips these headers from what it
//! receives, decodes them through a bounded cache (see [`peer`]), and adds
//! its own: to requests when outbound, to responses when inbound.
//!
//! Configuration (see [`config::Settings`]):
//!
//! ```json
//! {"direction": "inbound", "metric_prefix": "istio",
//!  "dimensions": [{"name": "route", "property": "route_name"}],
//!  "max_peer_cache_size": 500}
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod base64;
pub mod config;
pub mod filter;
pub mod labels;
pub mod peer;
pub mod sorted;
pub mod stats;
