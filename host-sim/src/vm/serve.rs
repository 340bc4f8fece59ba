//! Serving streams of a failed VM under the plugin's fail policy (cpp-host's
//! `CHECK_FAIL`): which contexts no longer reach the guest, and what a stream
//! event does instead of a callback.

use wasmtime::{WasmParams, WasmResults};

use super::Vm;
use crate::engine::exports::GuestFn;
use crate::error::Error;
use crate::failure::FailPolicy;
use crate::state::http::fail_stream_reply;
use crate::state::http::{EndReason, HttpStreamState};
use crate::store::Callback;
use crate::types::{LogLevel, PeerType};

/// Applies fail closed to an HTTP stream: Envoy's local reply when the client
/// has no response headers yet, a reset when the response has started.
fn fail_closed(stream: &mut HttpStreamState) {
    if stream.response.sent.headers.is_none() {
        let grpc = crate::state::http::is_grpc_request(stream.request.headers.as_ref());
        stream.end_with_reply(fail_stream_reply(grpc));
    } else if !stream.response.sent.end_of_stream {
        stream.ended = Some(EndReason::Reset);
    }
}

impl Vm {
    /// The fail policy that handles context `id` instead of the guest: the
    /// stream was already handed to it, or the VM failed and the context's
    /// plugin has a fail policy. `None`: the guest is called as usual.
    pub(crate) fn failing(&self, id: u32) -> Option<FailPolicy> {
        let state = self.state();
        let handed = state.http.get(&id).and_then(|s| s.fail_policy).or_else(|| state.tcp.get(&id)?.fail_policy);
        if handed.is_some() {
            return handed;
        }
        self.failed.as_ref()?;
        state.plugins.get(&state.contexts.root_of(id)?)?.fail_policy
    }

    /// `VmFailed` unless the VM is alive or context `id` is served by a fail policy.
    pub(crate) fn check_serving(&self, id: u32) -> Result<(), Error> {
        if self.failing(id).is_some() { Ok(()) } else { self.check_alive() }
    }

    /// Calls the guest for context `id` as [`Vm::call`] does, unless a fail
    /// policy serves the context: then, or when this call fails the VM of
    /// a plugin with a fail policy, the guest is not (or no longer) there
    /// and the result is `None`. A strict-mode violation stays an error
    /// whatever the policy (see [`Host::set_strict`](crate::Host::set_strict)).
    pub(crate) fn call_serving<P: WasmParams, R: WasmResults>(
        &mut self,
        id: u32,
        callback: Callback,
        func: GuestFn<P, R>,
        args: P,
    ) -> Result<Option<R>, Error> {
        if self.failing(id).is_some() {
            return Ok(None);
        }
        match self.call(id, callback, func, args) {
            Ok(result) => Ok(Some(result)),
            Err(error) if self.state().strict_violation.get() => Err(error),
            Err(error) => match self.failing(id) {
                Some(policy) => {
                    self.note(id, LogLevel::Error, format!("{error}; the plugin's streams now fail {}", policy.name()));
                    Ok(None)
                }
                None => Err(error),
            },
        }
    }

    /// The raw result of a stream callback (`ran`: what the guest returned,
    /// `None` if it was not called). When a fail policy serves the stream,
    /// the policy applies instead: open continues; closed ends an HTTP
    /// stream (the stop is forced, as after a local reply) or closes a TCP
    /// connection (`StopIteration`).
    pub(crate) fn stream_result(&mut self, id: u32, ran: Option<u32>) -> Result<u32, Error> {
        let Some(policy) = self.failing(id) else { return Ok(ran.unwrap_or(0)) };
        let closed = policy == FailPolicy::Closed;
        if let Some(stream) = self.state_mut().http.get_mut(&id) {
            let first = stream.fail_policy.replace(policy).is_none();
            if closed && stream.ended.is_none() {
                fail_closed(stream);
            }
            stream.stop_next_iteration |= closed;
            if first {
                self.note(
                    id,
                    LogLevel::Debug,
                    format!("HTTP stream {id}: the plugin's VM failed: fail {}", policy.name()),
                );
            }
            return Ok(0);
        }
        let Some(connection) = self.state_mut().tcp.get_mut(&id) else { return Ok(ran.unwrap_or(0)) };
        let first = connection.fail_policy.replace(policy).is_none();
        if first {
            self.note(
                id,
                LogLevel::Debug,
                format!("TCP connection {id}: the plugin's VM failed: fail {}", policy.name()),
            );
        }
        if !closed {
            return Ok(0);
        }
        // Closing a closed side does nothing.
        self.tcp_close(id, true, PeerType::Local)?;
        self.tcp_close(id, false, PeerType::Local)?;
        Ok(1)
    }

    /// Fails the VM outside a guest call because it exceeded a limit of the
    /// host (deliveries per step): as a trap in `callback` would, under the
    /// fail policy of plugin `root` (any of the VM's plugins when `None`).
    /// `Ok` when a fail policy serves the plugin from now on, else the
    /// error for the test.
    pub(crate) fn fail_by_limit(
        &mut self,
        root: Option<u32>,
        callback: &'static str,
        exceeded: crate::limits::LimitExceeded,
    ) -> Result<(), Error> {
        let message = exceeded.to_string();
        self.failed = Some(format!("{callback}: {message}"));
        let state = self.state();
        let policy = match root {
            Some(root) => state.plugins.get(&root).and_then(|p| p.fail_policy),
            None => state.plugins.iter().find_map(|(_, p)| p.fail_policy),
        };
        let error = Error::Trap { callback, message };
        match policy {
            Some(policy) => {
                self.note(0, LogLevel::Error, format!("{error}; the plugin's streams now fail {}", policy.name()));
                Ok(())
            }
            None => Err(error),
        }
    }

    /// A line in the VM's log from host-sim itself.
    pub(crate) fn note(&mut self, context_id: u32, level: LogLevel, message: String) {
        self.state_mut().log_line(level, context_id, message);
    }
}
