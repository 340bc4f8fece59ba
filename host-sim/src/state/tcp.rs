//! The state of one TCP connection: data in each direction, what was
//! forwarded, and which peers closed.

use crate::types::{Action, PeerType};

/// One direction of a TCP connection.
#[derive(Clone, Debug, Default)]
pub struct TcpFlow {
    /// Received, not yet forwarded.
    pub buffer: Vec<u8>,
    /// Forwarded to the other peer.
    pub forwarded: Vec<u8>,
    /// The peer half-closed (end of stream seen).
    pub received_end: bool,
    /// The data buffer is readable (a data callback of this direction runs).
    pub exposed: bool,
    /// The last action.
    pub action: Option<Action>,
    /// Stopped by the plugin.
    pub stopped: bool,
    /// Who closed this side, once closed.
    pub closed: Option<PeerType>,
}

impl TcpFlow {
    /// Forwards the buffered data.
    pub fn forward(&mut self) {
        self.forwarded.append(&mut self.buffer);
        self.stopped = false;
    }
}

/// A TCP connection.
#[derive(Clone, Debug, Default)]
pub struct TcpStreamState {
    /// Data from the client towards the upstream.
    pub downstream: TcpFlow,
    /// Data from the upstream towards the client.
    pub upstream: TcpFlow,
    /// The action of `proxy_on_new_connection`.
    pub new_connection_action: Option<Action>,
    /// The plugin asked to close (`proxy_close_stream`): which sides.
    pub close_requested: Vec<crate::types::StreamType>,
    /// `on_done`/`on_log`/`on_delete` ran.
    pub finished: bool,
    /// The plugin's fail policy handled this connection (its VM had failed;
    /// closed: the host closed it).
    pub fail_policy: Option<crate::failure::FailPolicy>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_moves_buffer() {
        let mut f = TcpFlow { buffer: b"ab".to_vec(), stopped: true, ..TcpFlow::default() };
        f.forward();
        assert_eq!(f.forwarded, b"ab");
        assert!(f.buffer.is_empty() && !f.stopped);
    }
}
