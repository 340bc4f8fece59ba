//! The ABI's enumerations (from `sluice::abi`, the ABI's one description),
//! and what a callback's result means to the host. Guest-supplied integers
//! are converted with `from_u32`, which yields `None` for unknown values
//! instead of trusting them.

pub use sluice::abi::{AbiVersion, BufferType, LogLevel, MapType, MetricType, PeerType, Status, StreamType};

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
        assert_eq!(BufferType::from_u32(8), Some(BufferType::ForeignFunctionArguments));
        assert_eq!(LogLevel::from_u32(6), None);
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
