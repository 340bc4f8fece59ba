//! The Proxy-Wasm ABI, written down once, for the `sluice` SDK and host-sim.
//!
//! - [`functions`]: every `env.proxy_*` host function with its signature,
//!   ABI versions, area and rules, as data ([`HOST_FUNCTIONS`]) and as a
//!   macro ([`for_each_host_function!`]) from which the SDK generates its
//!   imports, safe wrappers, native shims and `native::Host` trait, and
//!   host-sim its linker, gates and null-VM bridge.
//! - [`callbacks`]: every `proxy_on_*` export a plugin may have.
//! - [`enums`]: the enumerations (`Status`, `MapType`, …) and [`AbiVersion`].
//! - [`map`]: the serialized map format; [`path`]: property paths.
//!
//! `no_std`, no dependencies. Nothing here runs a plugin or a host: it says
//! what the ABI is, and the tests of both sides check their code against it
//! (and it against hand-written tables taken from the specification).
#![no_std]

extern crate alloc;

pub mod callbacks;
pub mod enums;
pub mod functions;
pub mod map;
pub mod path;

pub use callbacks::{CALLBACKS, Callback, LEGACY_CALLBACKS, callback_in};
pub use enums::{
    AbiVersion, BufferType, GrpcStatus, LogLevel, MapType, MetricType, PeerType, Status, StreamType, UnknownValue,
};
pub use functions::{
    Access, Area, BufferStatus, CallStatus, HOST_FUNCTIONS, HostFunction, KongSupport, LEGACY_HOST_FUNCTIONS, RawKind,
    SharedValue, WasmType, host_function,
};

/// What the generated code names through `$crate` (not part of the API).
#[doc(hidden)]
pub mod __private {
    pub use alloc::string::String;
    pub use alloc::vec::Vec;
}
