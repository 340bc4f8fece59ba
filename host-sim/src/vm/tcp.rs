//! Driving a TCP connection: new connection, data in each direction (a
//! paused callback keeps the data buffered, so the next one sees more),
//! connection close from either side, then `on_done`/`on_log`/`on_delete`.

use super::Vm;
use crate::error::Error;
use crate::state::contexts::ContextKind;
use crate::state::tcp::{TcpFlow, TcpStreamState};
use crate::store::Callback;
use crate::types::{Action, PeerType};

impl Vm {
    fn tcp_flow(&mut self, id: u32, upstream: bool) -> Result<&mut TcpFlow, Error> {
        let s = self.state_mut().tcp.get_mut(&id).ok_or_else(|| Error::NotFound(format!("TCP connection {id}")))?;
        Ok(if upstream { &mut s.upstream } else { &mut s.downstream })
    }

    /// Creates the connection's context and calls `on_new_connection`.
    pub fn tcp_create(&mut self, root: u32) -> Result<(u32, Action), Error> {
        self.check_serving(root)?;
        let state = self.state_mut();
        match state.contexts.get(root) {
            Some(e) if e.kind == ContextKind::Root => {}
            _ => return Err(Error::NotFound(format!("plugin root context {root}"))),
        }
        let id = state.contexts.create(ContextKind::Tcp, Some(root));
        state.tcp.insert(id, TcpStreamState::default());
        if let Some(f) = self.exports.context_create.clone() {
            self.call_serving(id, Callback::ContextCreate, f, (id, root))?;
        }
        let ran = match self.exports.new_connection.clone() {
            Some(f) => self.call_serving(id, Callback::NewConnection, f, id)?,
            None => Some(0),
        };
        let raw = self.stream_result(id, ran)?;
        let action = Action::from_trailers_result(raw);
        if let Some(s) = self.state_mut().tcp.get_mut(&id) {
            s.new_connection_action = Some(action);
        }
        self.run_deferred()?;
        Ok((id, action))
    }

    /// Data from one peer: `on_downstream_data` / `on_upstream_data`.
    pub fn tcp_data(&mut self, id: u32, upstream: bool, data: &[u8], end: bool) -> Result<Action, Error> {
        self.check_serving(id)?;
        let flow = self.tcp_flow(id, upstream)?;
        if flow.closed.is_some() {
            return Err(Error::InvalidPhase("data after the connection closed".into()));
        }
        flow.buffer.extend_from_slice(data);
        flow.received_end = end;
        flow.exposed = true;
        let size = flow.buffer.len() as u32;
        let (f, cb) = if upstream {
            (self.exports.upstream_data.clone(), Callback::UpstreamData)
        } else {
            (self.exports.downstream_data.clone(), Callback::DownstreamData)
        };
        let result = match f {
            Some(f) => self.call_serving(id, cb, f, (id, size, end as u32)),
            None => Ok(Some(0)),
        };
        self.tcp_flow(id, upstream)?.exposed = false;
        let action = Action::from_trailers_result(self.stream_result(id, result?)?);
        let flow = self.tcp_flow(id, upstream)?;
        flow.action = Some(action);
        if action.is_continue() {
            flow.forward();
        } else {
            flow.stopped = true;
        }
        self.run_deferred()?;
        Ok(action)
    }

    /// A peer closed: `on_downstream_connection_close` /
    /// `on_upstream_connection_close`. When the downstream side closes, the
    /// connection is finished (`on_done`, `on_log`, `on_delete`).
    pub fn tcp_close(&mut self, id: u32, upstream: bool, peer: PeerType) -> Result<(), Error> {
        let Ok(flow) = self.tcp_flow(id, upstream) else { return Ok(()) };
        if flow.closed.is_some() {
            return Ok(());
        }
        flow.closed = Some(peer);
        let (f, cb) = if upstream {
            (self.exports.upstream_close.clone(), Callback::UpstreamClose)
        } else {
            (self.exports.downstream_close.clone(), Callback::DownstreamClose)
        };
        if let Some(f) = f {
            self.call_serving(id, cb, f, (id, peer as u32))?;
        }
        if !upstream {
            self.finish_stream(id)?;
        }
        self.run_deferred()
    }
}
