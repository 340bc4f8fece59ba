//! Driving an HTTP stream through the guest as Envoy's filter manager does:
//! headers, body chunks and trailers per direction; Envoy's status
//! conversions; stop-all buffering after a paused headers callback;
//! accumulated bodies after a paused body callback; resumption; local
//! responses through the plugin's own response path; resets.

use super::Vm;
use crate::engine::exports::HeadersFn;
use crate::error::Error;
use crate::state::contexts::ContextKind;
use crate::state::headers::HeaderMap;
use crate::state::http::{EndReason, Flow, HttpStreamState, Stop};
use crate::store::Callback;
use crate::types::{Action, LogLevel, PhaseKind};

fn callbacks(response: bool) -> [Callback; 3] {
    if response {
        [Callback::ResponseHeaders, Callback::ResponseBody, Callback::ResponseTrailers]
    } else {
        [Callback::RequestHeaders, Callback::RequestBody, Callback::RequestTrailers]
    }
}

impl Vm {
    fn stream_mut(&mut self, id: u32) -> Result<&mut HttpStreamState, Error> {
        self.state_mut().http.get_mut(&id).ok_or_else(|| Error::NotFound(format!("HTTP stream {id}")))
    }

    fn flow_mut(&mut self, id: u32, response: bool) -> Result<&mut Flow, Error> {
        Ok(self.stream_mut(id)?.flow_mut(response))
    }

    /// Creates an HTTP stream context under `root`.
    pub fn http_create(&mut self, root: u32) -> Result<u32, Error> {
        self.check_serving(root)?;
        let state = self.state_mut();
        match state.contexts.get(root) {
            Some(e) if e.kind == ContextKind::Root => {}
            _ => return Err(Error::NotFound(format!("plugin root context {root}"))),
        }
        let id = state.contexts.create(ContextKind::Http, Some(root));
        let now = state.world().clock.monotonic_ns();
        state.http.insert(id, HttpStreamState { last_activity_ns: now, ..HttpStreamState::default() });
        if let Some(f) = self.exports.context_create.clone() {
            self.call_serving(id, Callback::ContextCreate, f, (id, root))?;
        }
        self.run_deferred()?;
        Ok(id)
    }

    fn check_open(&mut self, id: u32, response: bool, what: &str) -> Result<(), Error> {
        self.check_serving(id)?;
        let stream = self.stream_mut(id)?;
        if let Some(reason) = stream.ended.filter(|_| !(response && stream.reply_through_chain)) {
            return Err(Error::InvalidPhase(format!("{what}: the stream already ended ({reason:?})")));
        }
        if stream.finished {
            return Err(Error::InvalidPhase(format!("{what}: the stream is finished")));
        }
        let flow = stream.flow_mut(response);
        if what != "headers" && flow.headers.is_none() {
            return Err(Error::InvalidPhase(format!("{what} before headers")));
        }
        if what == "headers" && flow.headers.is_some() {
            return Err(Error::InvalidPhase("headers sent twice".into()));
        }
        if flow.received_end {
            return Err(Error::InvalidPhase(format!("{what} after end of stream")));
        }
        Ok(())
    }

    /// The action of the last callback of a direction (Continue after a resume).
    pub fn http_action(&self, id: u32, response: bool) -> Option<Action> {
        let s = self.state().http.get(&id)?;
        if response { s.response.action } else { s.request.action }
    }

    /// Runs deferred work and finishes a complete stream. Returns the action
    /// of the callback this event ran (`None`: no callback ran, e.g. data
    /// buffered behind stopped headers: the direction's current action).
    fn after_event(&mut self, id: u32, response: bool, ran: Option<Action>) -> Result<Action, Error> {
        let current = self.http_action(id, response);
        self.run_deferred()?;
        self.fix_upstream_route(id);
        self.complete_if_done(id)?;
        Ok(ran.or(current).unwrap_or(Action::Continue))
    }

    /// Headers arrive in one direction.
    ///
    /// Request headers reaching a stream the plugin ended before any (a
    /// local reply or a reset from `proxy_on_context_create`) go nowhere, as
    /// in Envoy: the call succeeds with a forced stop and the stream's
    /// outcome says how it ended.
    pub fn http_headers(&mut self, id: u32, response: bool, headers: HeaderMap, end: bool) -> Result<Action, Error> {
        let ended_at_creation =
            self.state().http.get(&id).is_some_and(|s| s.ended.is_some() && s.request.headers.is_none());
        if !response && ended_at_creation {
            self.check_serving(id)?;
            return Ok(Action::Continue.forced_stop(PhaseKind::Headers));
        }
        self.check_open(id, response, "headers")?;
        if !response {
            self.start_route(id, &headers)?;
        }
        let flow = self.flow_mut(id, response)?;
        flow.headers = Some(headers);
        flow.received_end = end;
        let action = self.deliver_headers(id, response)?;
        self.after_event(id, response, Some(action))
    }

    /// A body chunk arrives.
    pub fn http_body(&mut self, id: u32, response: bool, chunk: &[u8], end: bool) -> Result<Action, Error> {
        self.check_open(id, response, "body")?;
        let flow = self.flow_mut(id, response)?;
        if flow.ended_early {
            flow.received_end = end;
            return self.after_event(id, response, None);
        }
        flow.body.extend_from_slice(chunk);
        flow.received_end = end;
        if matches!(flow.stopped, Some(Stop::Headers)) {
            flow.body_pending = true;
            return self.after_event(id, response, None);
        }
        let action = self.deliver_body(id, response)?;
        self.after_event(id, response, Some(action))
    }

    /// Trailers arrive (ending the direction).
    pub fn http_trailers(&mut self, id: u32, response: bool, trailers: HeaderMap) -> Result<Action, Error> {
        self.check_open(id, response, "trailers")?;
        let flow = self.flow_mut(id, response)?;
        flow.received_end = true;
        if flow.ended_early {
            return self.after_event(id, response, None);
        }
        if flow.stopped.is_some() {
            flow.pending_trailers = Some(trailers);
            return self.after_event(id, response, None);
        }
        flow.trailers = Some(trailers);
        flow.trailers_addable = false;
        let action = self.deliver_trailers(id, response)?;
        self.after_event(id, response, Some(action))
    }

    /// A local response sent during the callback forces a stop.
    fn settle(&mut self, id: u32, action: Action, kind: PhaseKind) -> Result<Action, Error> {
        let stream = self.stream_mut(id)?;
        if std::mem::take(&mut stream.stop_next_iteration) { Ok(action.forced_stop(kind)) } else { Ok(action) }
    }

    fn deliver_headers(&mut self, id: u32, response: bool) -> Result<Action, Error> {
        let flow = self.flow_mut(id, response)?;
        let n = flow.headers.as_ref().map_or(0, HeaderMap::len) as u32;
        let end = flow.received_end as u32;
        let f = if response { self.exports.response_headers.clone() } else { self.exports.request_headers.clone() };
        let cb = callbacks(response)[0];
        let ran = match f {
            Some(HeadersFn::V1(f)) => self.call_serving(id, cb, f, (id, n))?,
            Some(HeadersFn::V2(f)) => self.call_serving(id, cb, f, (id, n, end))?,
            None => Some(0),
        };
        let raw = self.stream_result(id, ran)?;
        let action = self.settle(id, Action::from_headers_result(raw), PhaseKind::Headers)?;
        let flow = self.flow_mut(id, response)?;
        flow.action = Some(action);
        match action {
            Action::Continue => flow.forward_headers(),
            Action::ContinueAndEndStream => {
                flow.forward_headers();
                flow.sent.end_of_stream = true;
                flow.ended_early = true;
                flow.body.clear();
            }
            _ => flow.stopped = Some(Stop::Headers),
        }
        Ok(action)
    }

    fn deliver_body(&mut self, id: u32, response: bool) -> Result<Action, Error> {
        let flow = self.flow_mut(id, response)?;
        flow.body_pending = false;
        flow.body_exposed = true;
        let end = flow.received_end;
        if end && flow.trailers.is_none() && flow.pending_trailers.is_none() {
            flow.trailers = Some(HeaderMap::new());
            flow.trailers_addable = true;
        }
        let size = flow.body.len() as u32;
        let f = if response { self.exports.response_body.clone() } else { self.exports.request_body.clone() };
        let result = match f {
            Some(f) => self.call_serving(id, callbacks(response)[1], f, (id, size, end as u32)),
            None => Ok(Some(0)),
        };
        self.flow_mut(id, response)?.body_exposed = false;
        let raw = self.stream_result(id, result?)?;
        let action = self.settle(id, Action::from_data_result(raw), PhaseKind::Data)?;
        let flow = self.flow_mut(id, response)?;
        flow.action = Some(action);
        match action {
            Action::Continue => {
                flow.stopped = None;
                flow.forward_body();
            }
            Action::StopIterationNoBuffer => {
                flow.body.clear();
                flow.stopped = Some(Stop::Body);
            }
            _ => flow.stopped = Some(Stop::Body),
        }
        flow.close_addable_trailers();
        Ok(action)
    }

    fn deliver_trailers(&mut self, id: u32, response: bool) -> Result<Action, Error> {
        let n = self.flow_mut(id, response)?.trailers.as_ref().map_or(0, HeaderMap::len) as u32;
        let f = if response { self.exports.response_trailers.clone() } else { self.exports.request_trailers.clone() };
        let ran = match f {
            Some(f) => self.call_serving(id, callbacks(response)[2], f, (id, n))?,
            None => Some(0),
        };
        let raw = self.stream_result(id, ran)?;
        let action = self.settle(id, Action::from_trailers_result(raw), PhaseKind::Trailers)?;
        let flow = self.flow_mut(id, response)?;
        flow.action = Some(action);
        if action.is_continue() {
            flow.stopped = None;
            flow.forward_trailers();
        } else {
            flow.stopped = Some(Stop::Trailers);
        }
        Ok(action)
    }

    fn deliver_pending_trailers(&mut self, id: u32, response: bool) -> Result<(), Error> {
        let flow = self.flow_mut(id, response)?;
        if flow.stopped.is_none()
            && let Some(trailers) = flow.pending_trailers.take()
        {
            flow.trailers = Some(trailers);
            flow.trailers_addable = false;
            self.deliver_trailers(id, response)?;
        }
        Ok(())
    }

    /// `proxy_continue_stream` (deferred): resume a stopped direction.
    pub(crate) fn resume_http(&mut self, id: u32, response: bool) -> Result<(), Error> {
        let Some(stream) = self.state_mut().http.get_mut(&id) else { return Ok(()) };
        if stream.ended.is_some() || stream.finished {
            return Ok(());
        }
        let flow = stream.flow_mut(response);
        let Some(stop) = flow.stopped.take() else { return Ok(()) };
        flow.action = Some(Action::Continue);
        match stop {
            Stop::Headers => {
                flow.forward_headers();
                if flow.body_pending || !flow.body.is_empty() {
                    self.deliver_body(id, response)?;
                }
                self.deliver_pending_trailers(id, response)?;
            }
            Stop::Body => {
                flow.forward_body();
                self.deliver_pending_trailers(id, response)?;
            }
            Stop::Trailers => flow.forward_trailers(),
        }
        self.fix_upstream_route(id);
        self.complete_if_done(id)
    }

    /// The request starts: its start time, and the route Envoy selects
    /// before the filters run (when a route table is set).
    fn start_route(&mut self, id: u32, headers: &HeaderMap) -> Result<(), Error> {
        if self.stream_mut(id)?.route_inherited {
            return Ok(());
        }
        let (now, table) = {
            let world = self.state().world();
            (world.clock.realtime_ns(), (!world.routes.is_empty()).then(|| world.routes.clone()))
        };
        let stream = self.stream_mut(id)?;
        stream.started_ns = Some(now);
        if let Some(table) = table {
            stream.route.select(&table, headers);
        }
        Ok(())
    }

    /// Once the request headers went upstream, the route (re-selected if the
    /// cache was cleared) fixes the upstream cluster.
    fn fix_upstream_route(&mut self, id: u32) {
        let state = self.state_mut();
        let forwarded = state
            .http
            .get(&id)
            .is_some_and(|s| s.request.sent.headers.is_some() && !s.route.upstream_fixed && s.route.selections > 0);
        if !forwarded {
            return;
        }
        let selected = crate::abi::properties::use_route(state, id).flatten();
        if let Some(stream) = state.http.get_mut(&id) {
            stream.route.upstream_fixed = true;
            stream.route.upstream_cluster = selected.and_then(|s| s.cluster);
        }
    }

    /// Finishes a complete stream (a chained one finishes with its chain).
    fn complete_if_done(&mut self, id: u32) -> Result<(), Error> {
        let complete = self.state().http.get(&id).is_some_and(|s| s.is_complete() && !s.finished && !s.chained);
        if complete { self.finish_stream(id) } else { Ok(()) }
    }

    /// Envoy's stream idle timeout fires on stream `id`: a stream whose
    /// response started is reset; otherwise the client gets the idle reply
    /// (see [`HttpStreamState::idle_timeout_reply`]), through the plugin's
    /// response callbacks as Envoy's local replies pass the encoder filters,
    /// or under its fail policy when its VM failed (fail closed: the 503 of
    /// `wasm_fail_stream` instead). A failed VM without a fail policy is not
    /// called: the reply goes straight to the client.
    pub(crate) fn stream_idle_timeout(&mut self, id: u32, idle: std::time::Duration) -> Result<(), Error> {
        let policy = if self.failed.is_some() { self.failing(id) } else { None };
        let alive = self.failed.is_none();
        let Some(stream) = self.state_mut().http.get_mut(&id) else { return Ok(()) };
        if stream.finished || stream.ended.is_some() || std::mem::replace(&mut stream.idle_timed_out, true) {
            return Ok(());
        }
        let started = stream.response.sent.headers.is_some();
        let reply = stream.idle_timeout_reply();
        let what = if started { "reset".to_owned() } else { format!("answered {}", reply.status_code) };
        self.note(
            id,
            LogLevel::Debug,
            format!("HTTP stream {id}: no activity for {idle:?} (Envoy's stream_idle_timeout): {what}"),
        );
        let stream = self.stream_mut(id)?;
        if started {
            stream.ended = Some(EndReason::Reset);
        } else if alive {
            stream.local_response = Some(reply);
            stream.request.stopped = None;
            return self.local_response(id);
        } else {
            // The failed filter's encoder callback fails the stream: fail
            // closed replaces the reply with its own 503 (Envoy sends it
            // directly, the response headers not yet encoded).
            stream.fail_policy = policy.or(stream.fail_policy);
            if policy == Some(crate::failure::FailPolicy::Closed) {
                let grpc = crate::state::http::is_grpc_request(stream.request.headers.as_ref());
                stream.end_with_reply(crate::state::http::fail_stream_reply(grpc));
            } else {
                stream.end_with_reply(reply);
            }
        }
        self.complete_if_done(id)
    }

    /// `proxy_close_stream` on an HTTP direction (deferred): Envoy resets the
    /// whole stream, which then finishes.
    pub(crate) fn reset_http(&mut self, id: u32) -> Result<(), Error> {
        let Some(stream) = self.state_mut().http.get_mut(&id) else { return Ok(()) };
        stream.ended = Some(EndReason::Reset);
        self.complete_if_done(id)
    }

    /// A local response (deferred). Sent while the request is processed, it
    /// goes through the plugin's own response callbacks, as Envoy's local
    /// replies pass the encoder filters; sent from the response path before
    /// the response went out, it replaces the response directly.
    ///
    /// In a filter chain the chain routes the reply (through every
    /// plugin's response callbacks, or straight to the client): the stream
    /// only ends its request path here.
    pub(crate) fn local_response(&mut self, id: u32) -> Result<(), Error> {
        let stream = self.stream_mut(id)?;
        let Some(reply) = stream.local_response.clone() else { return Ok(()) };
        if stream.ended.is_some() {
            return Ok(());
        }
        if stream.chained {
            stream.end_locally();
            stream.reply_deferred = true;
            return Ok(());
        }
        if stream.response.headers.is_some() {
            stream.end_with_reply(reply);
            return self.complete_if_done(id);
        }
        stream.end_locally();
        let headers = reply.client_headers();
        let body = reply.client_body().to_vec();
        let flow = &mut stream.response;
        flow.headers = Some(headers);
        flow.received_end = body.is_empty();
        self.deliver_headers(id, true)?;
        if !body.is_empty() {
            let flow = self.flow_mut(id, true)?;
            flow.body = body;
            flow.received_end = true;
            if matches!(flow.stopped, Some(Stop::Headers)) {
                flow.body_pending = true;
            } else {
                self.deliver_body(id, true)?;
            }
        }
        self.complete_if_done(id)
    }
}
