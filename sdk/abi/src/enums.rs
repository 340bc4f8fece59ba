//! The ABI's enumerations: each converts from the integer on the wire with
//! [`TryFrom<u32>`] (or `from_u32`) and back with `From<_> for u32`.
//!
//! Every value crosses the ABI as a `u32` and is converted here, so a value
//! one side does not know yet (a newer host, a host-specific extension)
//! becomes an [`UnknownValue`] error instead of undefined behaviour.

use core::fmt;

/// A value the host sent that is not a known member of an ABI enumeration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownValue {
    /// Which enumeration the value was meant for (for example `"PeerType"`).
    pub enumeration: &'static str,
    /// The raw value.
    pub value: u32,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} value {}", self.enumeration, self.value)
    }
}

/// Defines an ABI enumeration with its `TryFrom<u32>` and `From<_> for u32`.
macro_rules! abi_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum $name { $( $(#[$vmeta])* $variant = $value ),+ }

        impl TryFrom<u32> for $name {
            type Error = UnknownValue;
            fn try_from(value: u32) -> Result<Self, UnknownValue> {
                match value {
                    $( $value => Ok($name::$variant), )+
                    _ => Err(UnknownValue { enumeration: stringify!($name), value }),
                }
            }
        }

        impl From<$name> for u32 {
            fn from(value: $name) -> u32 {
                value as u32
            }
        }

        impl $name {
            /// Every member, in the order of its value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Converts a value from the other side of the ABI; `None` for a
            /// value this enumeration does not know.
            pub const fn from_u32(value: u32) -> Option<$name> {
                match value {
                    $( $value => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// The numeric value on the wire.
            pub const fn code(self) -> u32 {
                self as u32
            }
        }
    };
}

abi_enum! {
    /// `proxy_status_t`: the result of every host function. The spec's codes plus
    /// the three the reference host (`WasmResult`) adds: 5, 9 and 11.
    ///
    /// Non-exhaustive: a later ABI or host may define more codes (until then
    /// the SDK reports them as `sluice::Error::UnknownStatus`), so a `match`
    /// outside this crate needs a `_` arm.
    #[non_exhaustive]
    pub enum Status {
        /// 0: success.
        Ok = 0,
        /// 1: the key, context, queue, call or buffer does not exist.
        NotFound = 1,
        /// 2: an argument was rejected (unknown enum value, unknown upstream, ...).
        BadArgument = 2,
        /// 3: the host could not serialize a value (for example a property).
        SerializationFailure = 3,
        /// 4: the host could not parse what the plugin sent.
        ParseFailure = 4,
        /// 5: a bad expression (reference host only).
        BadExpression = 5,
        /// 6: a pointer/size pair the plugin passed is outside its memory.
        InvalidMemoryAccess = 6,
        /// 7: nothing to return (for example an empty shared queue).
        Empty = 7,
        /// 8: the compare-and-swap value of shared data did not match.
        CasMismatch = 8,
        /// 9: a result mismatch (reference host only).
        ResultMismatch = 9,
        /// 10: the host failed internally.
        InternalFailure = 10,
        /// 11: the connection broke (Envoy reports it for a reset HTTP call).
        BrokenConnection = 11,
        /// 12: the host does not implement the function.
        Unimplemented = 12,
    }
}

abi_enum! {
    /// `proxy_log_level_t`.
    pub enum LogLevel {
        /// 0
        Trace = 0,
        /// 1
        Debug = 1,
        /// 2
        Info = 2,
        /// 3
        Warn = 3,
        /// 4
        Error = 4,
        /// 5
        Critical = 5,
    }
}

abi_enum! {
    /// `proxy_buffer_type_t`: which byte buffer a buffer hostcall addresses.
    pub enum BufferType {
        /// 0: the request body, in `on_request_body`.
        HttpRequestBody = 0,
        /// 1: the response body, in `on_response_body`.
        HttpResponseBody = 1,
        /// 2: downstream data, in `on_downstream_data`.
        DownstreamData = 2,
        /// 3: upstream data, in `on_upstream_data`.
        UpstreamData = 3,
        /// 4: the body of an HTTP call's response.
        HttpCallResponseBody = 4,
        /// 5: a received gRPC message.
        GrpcReceiveBuffer = 5,
        /// 6: the VM configuration, in `on_vm_start`.
        VmConfiguration = 6,
        /// 7: the plugin configuration, in `on_configure`.
        PluginConfiguration = 7,
        /// 8: the arguments of a foreign function call.
        ForeignFunctionArguments = 8,
    }
}

abi_enum! {
    /// `proxy_map_type_t`: which header map a map hostcall addresses.
    pub enum MapType {
        /// 0
        HttpRequestHeaders = 0,
        /// 1
        HttpRequestTrailers = 1,
        /// 2
        HttpResponseHeaders = 2,
        /// 3
        HttpResponseTrailers = 3,
        /// 4
        GrpcReceiveInitialMetadata = 4,
        /// 5
        GrpcReceiveTrailingMetadata = 5,
        /// 6
        HttpCallResponseHeaders = 6,
        /// 7
        HttpCallResponseTrailers = 7,
    }
}

abi_enum! {
    /// `proxy_peer_type_t`: who closed a TCP connection.
    pub enum PeerType {
        /// 0: not known.
        Unknown = 0,
        /// 1: the proxy closed it.
        Local = 1,
        /// 2: the peer closed it.
        Remote = 2,
    }
}

abi_enum! {
    /// `proxy_stream_type_t`: which direction of a stream to resume or close.
    pub enum StreamType {
        /// 0
        HttpRequest = 0,
        /// 1
        HttpResponse = 1,
        /// 2
        Downstream = 2,
        /// 3
        Upstream = 3,
    }
}

abi_enum! {
    /// `proxy_metric_type_t`.
    pub enum MetricType {
        /// 0: only grows.
        Counter = 0,
        /// 1: goes up and down.
        Gauge = 1,
        /// 2: records a distribution.
        Histogram = 2,
    }
}

abi_enum! {
    /// gRPC status codes, as delivered to `proxy_on_grpc_close`.
    pub enum GrpcStatus {
        /// 0
        Ok = 0,
        /// 1
        Cancelled = 1,
        /// 2
        Unknown = 2,
        /// 3
        InvalidArgument = 3,
        /// 4
        DeadlineExceeded = 4,
        /// 5
        NotFound = 5,
        /// 6
        AlreadyExists = 6,
        /// 7
        PermissionDenied = 7,
        /// 8
        ResourceExhausted = 8,
        /// 9
        FailedPrecondition = 9,
        /// 10
        Aborted = 10,
        /// 11
        OutOfRange = 11,
        /// 12
        Unimplemented = 12,
        /// 13
        Internal = 13,
        /// 14
        Unavailable = 14,
        /// 15
        DataLoss = 15,
        /// 16
        Unauthenticated = 16,
    }
}

impl fmt::Display for Status {
    /// `Name(code)`, for example `BadArgument(2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}({})", *self as u32)
    }
}

/// The Proxy-Wasm ABI version a module declares with its marker export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AbiVersion {
    /// `proxy_abi_version_0_1_0`.
    V0_1_0,
    /// `proxy_abi_version_0_2_0`.
    V0_2_0,
    /// `proxy_abi_version_0_2_1`.
    V0_2_1,
}

impl AbiVersion {
    /// Every version, oldest first.
    pub const ALL: [AbiVersion; 3] = [AbiVersion::V0_1_0, AbiVersion::V0_2_0, AbiVersion::V0_2_1];

    /// The version the SDK implements.
    pub const CURRENT: AbiVersion = AbiVersion::V0_2_1;

    /// The marker export name of this version.
    pub const fn marker(self) -> &'static str {
        match self {
            AbiVersion::V0_1_0 => "proxy_abi_version_0_1_0",
            AbiVersion::V0_2_0 => "proxy_abi_version_0_2_0",
            AbiVersion::V0_2_1 => "proxy_abi_version_0_2_1",
        }
    }

    /// Recognises a marker export name.
    pub fn from_marker(name: &str) -> Option<AbiVersion> {
        AbiVersion::ALL.into_iter().find(|v| v.marker() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_code_round_trips_and_unknown_codes_are_errors() {
        for code in 0..=12u32 {
            let status = Status::try_from(code).expect("codes 0..=12 are known");
            assert_eq!(u32::from(status), code);
            assert_eq!(Status::from_u32(code), Some(status));
        }
        assert_eq!(Status::try_from(5), Ok(Status::BadExpression));
        assert_eq!(Status::try_from(9), Ok(Status::ResultMismatch));
        assert_eq!(Status::try_from(11), Ok(Status::BrokenConnection));
        assert_eq!(Status::try_from(13), Err(UnknownValue { enumeration: "Status", value: 13 }));
        assert_eq!(Status::from_u32(13), None);
        assert_eq!(Status::try_from(u32::MAX).unwrap_err().value, u32::MAX);
        assert_eq!(Status::ALL.len(), 13);
    }

    #[test]
    fn enums_reject_values_past_their_last_member() {
        assert_eq!(LogLevel::try_from(5), Ok(LogLevel::Critical));
        assert!(LogLevel::try_from(6).is_err());
        assert_eq!(BufferType::try_from(8), Ok(BufferType::ForeignFunctionArguments));
        assert!(BufferType::try_from(9).is_err());
        assert_eq!(MapType::try_from(7), Ok(MapType::HttpCallResponseTrailers));
        assert!(MapType::try_from(8).is_err());
        assert_eq!(PeerType::try_from(2), Ok(PeerType::Remote));
        assert!(PeerType::try_from(3).is_err());
        assert_eq!(StreamType::try_from(3), Ok(StreamType::Upstream));
        assert!(StreamType::try_from(4).is_err());
        assert_eq!(MetricType::try_from(2), Ok(MetricType::Histogram));
        assert!(MetricType::try_from(3).is_err());
        assert_eq!(GrpcStatus::try_from(16), Ok(GrpcStatus::Unauthenticated));
        assert!(GrpcStatus::try_from(17).is_err());
    }

    #[test]
    fn versions_by_marker() {
        assert_eq!(AbiVersion::from_marker("proxy_abi_version_0_3_0"), None);
        assert_eq!(AbiVersion::from_marker("proxy_abi_version_0_1_0"), Some(AbiVersion::V0_1_0));
        assert_eq!(AbiVersion::CURRENT.marker(), "proxy_abi_version_0_2_1");
    }
}
