//! The ABI's enumerations (from [`sluice_abi`], the ABI's one description),
//! converted from the host's integers with [`TryFrom<u32>`], and [`Action`].
//!
//! The host never hands the plugin a Rust enum: every value arrives as a `u32`
//! and is converted, so a value this SDK does not know yet (a newer host,
//! a host-specific extension) becomes an [`UnknownValue`] error instead of
//! undefined behaviour.

pub use sluice_abi::{
    BufferType, GrpcStatus, LogLevel, MapType, MetricType, PeerType, Status, StreamType, UnknownValue,
};

/// What a stream callback tells the host to do next (`proxy_action_t`).
///
/// This travels from the plugin to the host only, so it is a plain enum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Action {
    /// Pass the data on.
    #[default]
    Continue,
    /// Hold the stream until the plugin resumes it (see
    /// [`stream::resume`](crate::stream::resume)). Envoy buffers body data
    /// while a body callback pauses; on headers it stops all iteration.
    Pause,
}

impl From<Action> for u32 {
    fn from(action: Action) -> u32 {
        match action {
            Action::Continue => 0,
            Action::Pause => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_the_abi_values() {
        assert_eq!(u32::from(Action::Pause), 1);
        assert_eq!(u32::from(Action::Continue), 0);
    }
}
