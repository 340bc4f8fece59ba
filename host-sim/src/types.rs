//! The ABI's enumerations, as numbers the guest sees and as Rust enums the
//! test API uses. Guest-supplied integers are converted with `from_u32`, which
//! yields `None` for unknown values instead of trusting them.

use std::fmt;

/// `proxy_status_t`: the status every host function returns to the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Status {
    /// The call succeeded.
    Ok = 0,
    /// The requested item does not exist (or is not available now).
    NotFound = 1,
    /// An argument was invalid (unknown type, bad id, wrong phase in Envoy).
    BadArgument = 2,
    /// A value could not be serialized.
    SerializationFailure = 3,
    /// A value could not be parsed.
    ParseFailure = 4,
    /// Envoy-only: a bad expression.
    BadExpression = 5,
    /// A guest pointer or length was out of bounds.
    InvalidMemoryAccess = 6,
    /// The queue is empty.
    Empty = 7,
    /// Compare-and-swap did not match.
    CasMismatch = 8,
    /// Envoy-only: result mismatch.
    ResultMismatch = 9,
    /// The host failed internally.
    InternalFailure = 10,
    /// Envoy-only: connection broken (the status of a reset HTTP call).
    BrokenConnection = 11,
    /// Not implemented by this host.
    Unimplemented = 12,
}

impl Status {
    /// The numeric code the guest sees.
    pub fn code(self) -> u32 {
        self as u32
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}({})", *self as u32)
    }
}

macro_rules! abi_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:expr,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)*
        }

        impl $name {
            /// Converts a guest-supplied integer; `None` for unknown values.
            pub fn from_u32(value: u32) -> Option<Self> {
                match value {
                    $($value => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

abi_enum!(
    /// `proxy_log_level_t`.
    LogLevel {
        /// Trace.
        Trace = 0,
        /// Debug.
        Debug = 1,
        /// Info.
        Info = 2,
        /// Warn.
        Warn = 3,
        /// Error.
        Error = 4,
        /// Critical.
        Critical = 5,
    }
);

abi_enum!(
    /// `proxy_map_type_t`: which header map a call addresses.
    MapType {
        /// Request headers.
        HttpRequestHeaders = 0,
        /// Request trailers.
        HttpRequestTrailers = 1,
        /// Response headers.
        HttpResponseHeaders = 2,
        /// Response trailers.
        HttpResponseTrailers = 3,
        /// gRPC initial metadata received from a gRPC call.
        GrpcReceiveInitialMetadata = 4,
        /// gRPC trailing metadata received from a gRPC call.
        GrpcReceiveTrailingMetadata = 5,
        /// Headers of an HTTP call response.
        HttpCallResponseHeaders = 6,
        /// Trailers of an HTTP call response.
        HttpCallResponseTrailers = 7,
    }
);

abi_enum!(
    /// `proxy_buffer_type_t`: which buffer a call addresses.
    BufferType {
        /// The request body.
        HttpRequestBody = 0,
        /// The response body.
        HttpResponseBody = 1,
        /// TCP data from the downstream peer.
        DownstreamData = 2,
        /// TCP data from the upstream peer.
        UpstreamData = 3,
        /// Body of an HTTP call response.
        HttpCallResponseBody = 4,
        /// A received gRPC message.
        GrpcReceiveBuffer = 5,
        /// The VM configuration (0.2.0+).
        VmConfiguration = 6,
        /// The plugin configuration (0.2.0+).
        PluginConfiguration = 7,
        /// Arguments of a foreign-function callback (0.2.0+).
        CallData = 8,
    }
);

abi_enum!(
    /// `proxy_stream_type_t` (0.2.0+).
    StreamType {
        /// The HTTP request direction.
        HttpRequest = 0,
        /// The HTTP response direction.
        HttpResponse = 1,
        /// The downstream TCP connection.
        Downstream = 2,
        /// The upstream TCP connection.
        Upstream = 3,
    }
);

abi_enum!(
    /// `proxy_peer_type_t`: who closed a connection.
    PeerType {
        /// Unknown.
        Unknown = 0,
        /// This proxy closed it.
        Local = 1,
        /// The peer closed it.
        Remote = 2,
    }
);

abi_enum!(
    /// `proxy_metric_type_t`.
    MetricType {
        /// A monotonically increasing counter.
        Counter = 0,
        /// A gauge that can go up and down.
        Gauge = 1,
        /// A histogram of recorded values.
        Histogram = 2,
    }
);

/// The Proxy-Wasm ABI version a module declares through its marker export.
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
    /// The marker export name of this version.
    pub fn marker(self) -> &'static str {
        match self {
            AbiVersion::V0_1_0 => "proxy_abi_version_0_1_0",
            AbiVersion::V0_2_0 => "proxy_abi_version_0_2_0",
            AbiVersion::V0_2_1 => "proxy_abi_version_0_2_1",
        }
    }

    /// Recognises a marker export name.
    pub fn from_marker(name: &str) -> Option<AbiVersion> {
        [AbiVersion::V0_1_0, AbiVersion::V0_2_0, AbiVersion::V0_2_1].into_iter().find(|v| v.marker() == name)
    }
}

/// What a stream callback's return value means to the host, after Envoy's
/// conversions (`StopIteration` from a headers callback becomes
/// `StopAllIterationAndWatermark`, out-of-range values become the "stop" value,
/// a local response forces a stop).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Iteration continues: the data is forwarded.
    Continue,
    /// Headers: continue and end the stream here (`ContinueAndEndStream`).
    ContinueAndEndStream,
    /// Trailers or TCP data: stop (`StopIteration`).
    StopIteration,
    /// Headers: stop and buffer the body (`StopAllIterationAndBuffer`).
    StopAllIterationAndBuffer,
    /// Headers: stop with watermark buffering (`StopAllIterationAndWatermark`).
    StopAllIterationAndWatermark,
    /// Body: stop and buffer this chunk (`StopIterationAndBuffer`).
    StopIterationAndBuffer,
    /// Body: stop with watermark buffering (`StopIterationAndWatermark`).
    StopIterationAndWatermark,
    /// Body: stop without buffering (`StopIterationNoBuffer`).
    StopIterationNoBuffer,
}

impl Action {
    /// True for `Continue` and `ContinueAndEndStream`.
    pub fn is_continue(self) -> bool {
        matches!(self, Action::Continue | Action::ContinueAndEndStream)
    }

    /// True for every stop variant (what the SDKs call `Pause`).
    pub fn is_stop(self) -> bool {
        !self.is_continue()
    }

    /// `FilterHeadersStatus` conversion, as cpp-host does it (stop iteration becomes
    /// stop-all with watermark; values above the maximum mean stop).
    pub fn from_headers_result(raw: u32) -> Action {
        match raw {
            0 => Action::Continue,
            2 => Action::ContinueAndEndStream,
            3 => Action::StopAllIterationAndBuffer,
            _ => Action::StopAllIterationAndWatermark,
        }
    }

    /// `FilterDataStatus` conversion.
    pub fn from_data_result(raw: u32) -> Action {
        match raw {
            0 => Action::Continue,
            1 => Action::StopIterationAndBuffer,
            2 => Action::StopIterationAndWatermark,
            _ => Action::StopIterationNoBuffer,
        }
    }

    /// `FilterTrailersStatus` / TCP `FilterStatus` conversion.
    pub fn from_trailers_result(raw: u32) -> Action {
        if raw == 0 { Action::Continue } else { Action::StopIteration }
    }

    /// The stop value a forced stop (after a local response) turns a result into.
    pub(crate) fn forced_stop(self, kind: PhaseKind) -> Action {
        match (self.is_stop(), kind) {
            (true, _) => self,
            (false, PhaseKind::Headers) => Action::StopAllIterationAndWatermark,
            (false, PhaseKind::Data) => Action::StopIterationNoBuffer,
            (false, PhaseKind::Trailers) => Action::StopIteration,
        }
    }
}

/// The kind of stream callback, for status conversions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PhaseKind {
    Headers,
    Data,
    Trailers,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_are_rejected() {
        assert_eq!(MapType::from_u32(8), None);
        assert_eq!(BufferType::from_u32(8), Some(BufferType::CallData));
        assert_eq!(LogLevel::from_u32(6), None);
        assert_eq!(AbiVersion::from_marker("proxy_abi_version_0_3_0"), None);
        assert_eq!(AbiVersion::from_marker("proxy_abi_version_0_1_0"), Some(AbiVersion::V0_1_0));
    }

    #[test]
    fn envoy_status_conversions() {
        assert_eq!(Action::from_headers_result(1), Action::StopAllIterationAndWatermark);
        assert_eq!(Action::from_headers_result(99), Action::StopAllIterationAndWatermark);
        assert_eq!(Action::from_data_result(1), Action::StopIterationAndBuffer);
        assert_eq!(Action::from_data_result(7), Action::StopIterationNoBuffer);
        assert_eq!(Action::from_trailers_result(5), Action::StopIteration);
        assert_eq!(Action::Continue.forced_stop(PhaseKind::Headers), Action::StopAllIterationAndWatermark);
        assert_eq!(Action::Continue.forced_stop(PhaseKind::Data), Action::StopIterationNoBuffer);
    }
}
