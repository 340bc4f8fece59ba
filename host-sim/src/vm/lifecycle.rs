//! Context teardown (`on_done`, `on_log`, `on_delete`, `proxy_done`), the
//! deferred-action loop, and the root-context events: ticks, queue
//! notifications, foreign-function callbacks and callout completions.

use super::Vm;
use crate::error::Error;
use crate::state::callouts::HttpCallout;
use crate::state::contexts::ContextKind;
use crate::state::headers::HeaderMap;
use crate::store::{Callback, Deferred, Scope};
use crate::types::{PeerType, Status, StreamType};

/// What answers an HTTP callout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpCallResponse {
    /// Response headers (include `:status`); empty means the call failed.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Vec<u8>,
    /// Response trailers.
    pub trailers: HeaderMap,
}

impl HttpCallResponse {
    /// What Envoy delivers for a call that exceeded its timeout: the async
    /// client's router sends a local reply, `504` with the body `upstream
    /// request timeout`, which reaches the plugin as a normal response (not a
    /// failure: `proxy_get_status` is OK).
    pub fn timeout() -> HttpCallResponse {
        let body = b"upstream request timeout".to_vec();
        HttpCallResponse {
            headers: HeaderMap::from_pairs([
                (":status", "504"),
                ("content-length", body.len().to_string().as_str()),
                ("content-type", "text/plain"),
            ]),
            body,
            trailers: HeaderMap::new(),
        }
    }
}

impl Vm {
    /// Whether delivery number `count` of one loop of the driver is past
    /// the VM's `deliveries_per_step`: then the VM fails (`Ok(true)` under a
    /// fail policy of plugin `root`, else the error).
    pub(crate) fn over_deliveries(
        &mut self,
        count: usize,
        root: Option<u32>,
        callback: &'static str,
        what: &str,
    ) -> Result<bool, Error> {
        let exceeded = self.state().caps.check(crate::limits::Limit::DeliveriesPerStep, count, || {
            format!("{what} reached {count}: the guest keeps causing more")
        });
        match exceeded {
            Ok(()) => Ok(false),
            Err(exceeded) => self.fail_by_limit(root, callback, exceeded).map(|()| true),
        }
    }

    /// Runs deferred actions until none are left (at most
    /// `deliveries_per_step` of them).
    pub fn run_deferred(&mut self) -> Result<(), Error> {
        let mut count = 0;
        loop {
            let deferred = std::mem::take(&mut self.state_mut().deferred);
            if deferred.is_empty() {
                return Ok(());
            }
            for action in deferred {
                count += 1;
                let (id, name) = match action {
                    Deferred::Continue(id, _) => (id, "proxy_continue_stream"),
                    Deferred::Close(id, _) => (id, "proxy_close_stream"),
                    Deferred::LocalResponse(id) => (id, "proxy_send_local_response"),
                    Deferred::Done(id) => (id, "proxy_done"),
                };
                if self.failed.is_none() {
                    let root = self.state().contexts.root_of(id);
                    if self.over_deliveries(count, root, name, "deferred actions after one guest call")? {
                        self.state_mut().deferred.clear();
                        return Ok(());
                    }
                }
                match action {
                    Deferred::Continue(id, StreamType::HttpRequest) => self.resume_http(id, false)?,
                    Deferred::Continue(id, StreamType::HttpResponse) => self.resume_http(id, true)?,
                    Deferred::Continue(..) => {}
                    Deferred::Close(id, StreamType::HttpRequest | StreamType::HttpResponse) => self.reset_http(id)?,
                    Deferred::Close(id, StreamType::Downstream) => self.tcp_close(id, false, PeerType::Local)?,
                    Deferred::Close(id, StreamType::Upstream) => self.tcp_close(id, true, PeerType::Local)?,
                    Deferred::LocalResponse(id) => self.local_response(id)?,
                    Deferred::Done(id) => self.after_proxy_done(id)?,
                }
            }
        }
    }

    /// Finishes a stream context: `on_done`; if it returns true, `on_log` then
    /// `on_delete`; else the context waits for the plugin's `proxy_done`.
    pub fn finish_stream(&mut self, id: u32) -> Result<(), Error> {
        let Some(entry) = self.state().contexts.get(id).copied() else { return Ok(()) };
        if entry.lifecycle != crate::state::contexts::Lifecycle::Live {
            return Ok(());
        }
        let done = match self.exports.done.clone() {
            Some(f) => self.call_serving(id, Callback::Done, f, id)?.is_none_or(|r| r != 0),
            None => true,
        };
        if done {
            self.log_and_delete(id)?;
        } else {
            self.state_mut().contexts.await_done(id);
        }
        self.run_deferred()
    }

    fn log_and_delete(&mut self, id: u32) -> Result<(), Error> {
        if let Some(f) = self.exports.log.clone() {
            self.call_serving(id, Callback::Log, f, id)?;
        }
        self.delete(id)
    }

    fn delete(&mut self, id: u32) -> Result<(), Error> {
        if let Some(f) = self.exports.delete.clone() {
            self.call_serving(id, Callback::Delete, f, id)?;
        }
        let state = self.state_mut();
        let kind = state.contexts.remove(id).map(|e| e.kind);
        let set = state.stream_properties.remove(&id);
        match kind {
            Some(ContextKind::Http) => {
                if let Some(s) = state.http.get_mut(&id) {
                    s.finished = true;
                    s.properties_set = set
                        .map(|tree| tree.leaves())
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(p, v)| (p, v.serialize()))
                        .collect();
                }
            }
            Some(ContextKind::Tcp) => {
                if let Some(s) = state.tcp.get_mut(&id) {
                    s.finished = true;
                }
            }
            Some(ContextKind::Root) => {
                if let Some(p) = state.plugins.get_mut(&id) {
                    p.deleted = true;
                }
                let index = state.index;
                state.world().timers.remove((index, id));
            }
            None => {}
        }
        Ok(())
    }

    /// After `proxy_done`: streams get `on_log` and `on_delete`, roots only `on_delete`.
    fn after_proxy_done(&mut self, id: u32) -> Result<(), Error> {
        match self.state().contexts.get(id).map(|e| e.kind) {
            Some(ContextKind::Root) => self.delete(id),
            Some(_) => self.log_and_delete(id),
            None => Ok(()),
        }
    }

    /// Shuts a plugin down: `on_done(root)`; true → `on_delete`; false → wait
    /// for `proxy_done`, after which `on_delete` follows.
    pub fn shutdown_plugin(&mut self, root: u32) -> Result<bool, Error> {
        if self.state().contexts.get(root).is_none() {
            return Err(Error::NotFound(format!("plugin root context {root}")));
        }
        let done = match self.exports.done.clone() {
            Some(f) => self.call_serving(root, Callback::Done, f, root)?.is_none_or(|r| r != 0),
            None => true,
        };
        if done {
            self.delete(root)?;
        } else {
            self.state_mut().contexts.await_done(root);
        }
        self.run_deferred()?;
        Ok(done)
    }

    /// `proxy_on_tick(root)`.
    pub fn tick(&mut self, root: u32) -> Result<(), Error> {
        if let Some(f) = self.exports.tick.clone() {
            self.call_serving(root, Callback::Tick, f, root)?;
        }
        self.run_deferred()
    }

    /// `proxy_on_queue_ready(root, token)`.
    pub fn queue_ready(&mut self, root: u32, token: u32) -> Result<(), Error> {
        if self.state().contexts.get(root).is_none() {
            return Ok(());
        }
        if let Some(f) = self.exports.queue_ready.clone() {
            self.call_serving(root, Callback::QueueReady, f, (root, token))?;
        }
        self.run_deferred()
    }

    /// `proxy_on_foreign_function(root, function_id, args_size)` with the
    /// arguments readable as the `ForeignFunctionArguments` buffer.
    pub fn foreign_callback(&mut self, root: u32, function_id: u32, args: Vec<u8>) -> Result<(), Error> {
        let len = args.len() as u32;
        self.state_mut().scope = Scope { foreign_args: Some(args), ..Scope::default() };
        let result = match self.exports.foreign_function.clone() {
            Some(f) => self.call_serving(root, Callback::ForeignFunction, f, (root, function_id, len)).map(drop),
            None => Ok(()),
        };
        self.state_mut().scope = Scope::default();
        result?;
        self.run_deferred()
    }

    /// Delivers an HTTP call's response (or failure, `None`) to the root that
    /// owns the call: `on_http_call_response(root, token, headers, body, trailers)`.
    pub fn http_call_response(&mut self, call: &HttpCallout, response: Option<HttpCallResponse>) -> Result<(), Error> {
        let scope = match &response {
            Some(r) => Scope {
                call_headers: Some(r.headers.clone()),
                call_body: Some(r.body.clone()),
                call_trailers: Some(r.trailers.clone()),
                status: Some((Status::Ok as u32, Vec::new())),
                ..Scope::default()
            },
            None => Scope { status: Some((Status::BrokenConnection as u32, b"reset".to_vec())), ..Scope::default() },
        };
        let sizes = response
            .as_ref()
            .map(|r| (r.headers.len() as u32, r.body.len() as u32, r.trailers.len() as u32))
            .unwrap_or_default();
        self.state_mut().scope = scope;
        let result = match self.exports.http_call_response.clone() {
            Some(f) => self
                .call_serving(
                    call.root_id,
                    Callback::HttpCallResponse,
                    f,
                    (call.root_id, call.token, sizes.0, sizes.1, sizes.2),
                )
                .map(drop),
            None => Ok(()),
        };
        self.state_mut().scope = Scope::default();
        result?;
        self.run_deferred()
    }

    /// Delivers a gRPC event to the owning root.
    pub fn grpc_event(&mut self, root: u32, token: u32, event: GrpcEvent) -> Result<(), Error> {
        let e = self.exports.clone();
        let result = match event {
            GrpcEvent::InitialMetadata(map) => {
                let n = map.len() as u32;
                self.state_mut().scope = Scope { grpc_initial: Some(map), ..Scope::default() };
                e.grpc_initial_metadata
                    .map(|f| self.call_serving(root, Callback::GrpcInitialMetadata, f, (root, token, n)))
            }
            GrpcEvent::Message(message) => {
                let n = message.len() as u32;
                self.state_mut().scope = Scope { grpc_message: Some(message), ..Scope::default() };
                e.grpc_receive.map(|f| self.call_serving(root, Callback::GrpcReceive, f, (root, token, n)))
            }
            GrpcEvent::TrailingMetadata(map) => {
                let n = map.len() as u32;
                self.state_mut().scope = Scope { grpc_trailing: Some(map), ..Scope::default() };
                e.grpc_trailing_metadata
                    .map(|f| self.call_serving(root, Callback::GrpcTrailingMetadata, f, (root, token, n)))
            }
            GrpcEvent::Close(status, message) => {
                self.state_mut().scope = Scope { status: Some((status, message.into_bytes())), ..Scope::default() };
                e.grpc_close.map(|f| self.call_serving(root, Callback::GrpcClose, f, (root, token, status)))
            }
        };
        self.state_mut().scope = Scope::default();
        result.transpose()?;
        self.run_deferred()
    }
}

/// Something a gRPC upstream sends back.
///
/// A stream (`proxy_grpc_stream`) gets any of them, until `Close`. A unary
/// call (`proxy_grpc_call`) gets what Envoy's unary async client delivers:
/// either its reply, a `Message` (`proxy_on_grpc_receive`; the call is then
/// over, with no close after it), or a failure, a `Close` with a non-zero
/// status (`proxy_on_grpc_close`). It never sees metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrpcEvent {
    /// Initial metadata (streams only).
    InitialMetadata(HeaderMap),
    /// A response message; on a unary call, its reply, which ends the call.
    Message(Vec<u8>),
    /// Trailing metadata (streams only).
    TrailingMetadata(HeaderMap),
    /// The call or stream closed with a gRPC status and message. A unary
    /// call closed with status 0 (OK) but no reply gets what Envoy gives it:
    /// a close with status 13 (`INTERNAL`) and no message.
    Close(u32, String),
}

/// gRPC status `INTERNAL`.
const GRPC_INTERNAL: u32 = 13;

impl GrpcEvent {
    /// What a unary call (token `token`) gets for this event: Envoy's
    /// `AsyncRequestImpl` answers once, with the reply or a failure, and
    /// turns an OK close without a reply into an `INTERNAL` failure.
    pub(crate) fn for_unary_call(self, token: u32) -> Result<GrpcEvent, Error> {
        match self {
            GrpcEvent::InitialMetadata(_) | GrpcEvent::TrailingMetadata(_) => Err(Error::InvalidPhase(format!(
                "gRPC call {token} is unary: Envoy delivers no metadata to a unary call, only its reply \
                 (GrpcEvent::Message) or a failure (GrpcEvent::Close)"
            ))),
            GrpcEvent::Close(0, _) => Ok(GrpcEvent::Close(GRPC_INTERNAL, String::new())),
            event => Ok(event),
        }
    }

    /// What a unary gRPC call gets when the virtual clock passes its timeout
    /// (`proxy_grpc_call`'s `timeout`) under the newest Envoy: a close with
    /// status 4 (`DEADLINE_EXCEEDED`) and the message `upstream request
    /// timeout` (the text of Envoy's router timeout), as `proxy_get_status`
    /// reports. Older Envoys gave another status: see
    /// [`HostProfile::grpc_timeout_status`](crate::HostProfile::grpc_timeout_status).
    pub fn deadline_exceeded() -> GrpcEvent {
        GrpcEvent::timeout(crate::policy::GRPC_DEADLINE_EXCEEDED)
    }

    /// A close with `status` and Envoy's router timeout message.
    pub fn timeout(status: u32) -> GrpcEvent {
        GrpcEvent::Close(status, "upstream request timeout".to_owned())
    }
}
