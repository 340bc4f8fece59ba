//! Pure host state, one module per ABI area. Nothing here touches wasm: every
//! operation takes and returns Rust values and reports guest-visible failures
//! as a [`Status`](crate::Status), so each module is unit-tested on its own and
//! can back a native (null VM) plugin as well as a wasm one.
//!
//! Layer: plain data. A state module imports only `types`, `error`, `limits`,
//! `failure` and other state modules.

pub mod buffer;
pub mod callouts;
pub mod clock;
pub mod contexts;
pub mod foreign;
pub mod headers;
pub mod http;
pub mod ids;
pub mod logs;
pub mod metrics;
pub mod pairs;
pub mod properties;
pub mod queues;
pub mod routes;
pub mod shared_data;
pub mod tcp;
