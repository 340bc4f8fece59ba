//! Driving a scenario's steps on a host: shared data and queue items from
//! outside, the clock and ticks, HTTP streams sent part by part (a step may
//! send a stream up to a part, `until`, and a later step `resume` it),
//! callout answers (a response, a reset, or the clock moved to the call's
//! timeout), and streams left open while the plugin holds them.

use super::format::{Ended, Message, Part, Scenario, Step, TcpEvent};
use super::report::{
    CalloutReport, FinishedCalloutReport, GrpcReport, Headers, LinkReport, LogLine, RouteReport, StepReport, TcpReport,
};
use crate::error::Error;
use crate::failure::FAIL_STREAM_DETAILS;
use crate::host::chain::{ChainStreamId, HttpChainStream};
use crate::host::streams::{HttpStream, StreamId};
use crate::host::{CalloutId, Host};
use crate::spec::PluginId;
use crate::state::callouts::{DeadlineKind, GrpcCallout, GrpcKind, HttpCallout};
use crate::state::headers::HeaderMap;
use crate::state::http::Message as Sent;
use crate::types::{PeerType, StreamType};
use crate::vm::{GrpcEvent, HttpCallResponse};

pub(super) fn text(map: &HeaderMap) -> Headers {
    map.to_strings()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One piece a client or an upstream sends, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    RequestHeaders,
    RequestChunk(usize),
    RequestTrailers,
    ResponseHeaders,
    ResponseChunk(usize),
    ResponseTrailers,
}

impl Piece {
    /// Whether `until = part` includes this piece.
    fn within(self, part: Part) -> bool {
        let rank = match self {
            Piece::RequestHeaders => Part::RequestHeaders,
            Piece::RequestChunk(_) => Part::RequestBody,
            Piece::RequestTrailers => Part::Request,
            Piece::ResponseHeaders => Part::ResponseHeaders,
            Piece::ResponseChunk(_) | Piece::ResponseTrailers => Part::ResponseBody,
        };
        rank <= part && !(self == Piece::ResponseTrailers && part == Part::ResponseBody)
    }
}

/// The pieces of a request and (when given) its response.
fn pieces(request: &Message, response: Option<&Message>) -> Vec<Piece> {
    let mut out = vec![Piece::RequestHeaders];
    out.extend((0..request.chunks.len()).map(Piece::RequestChunk));
    if request.trailers.is_some() {
        out.push(Piece::RequestTrailers);
    }
    if let Some(response) = response {
        out.push(Piece::ResponseHeaders);
        out.extend((0..response.chunks.len()).map(Piece::ResponseChunk));
        if response.trailers.is_some() {
            out.push(Piece::ResponseTrailers);
        }
    }
    out
}

/// Which stream: one plugin's, or a chain's.
#[derive(Debug, Clone, Copy)]
enum StreamRef {
    One(StreamId),
    Chain(ChainStreamId),
}

/// Which TCP connection: one plugin's, or a chain's.
#[derive(Debug, Clone, Copy)]
enum ConnRef {
    One(StreamId),
    Chain(ChainStreamId),
}

/// A TCP connection taken up from the host.
enum Conn<'h> {
    One(crate::TcpStream<'h>),
    Chain(crate::TcpChainStream<'h>),
}

/// `$e` on whichever of a [`Conn`]'s or a [`Handle`]'s (`$kind`) variants
/// `$self` is, bound to `$c`.
macro_rules! each {
    ($kind:ident, $self:expr, $c:ident => $e:expr) => {
        match $self {
            $kind::One($c) => $e,
            $kind::Chain($c) => $e,
        }
    };
}

impl Conn<'_> {
    fn take_up(host: &mut Host, conn: ConnRef) -> Result<Conn<'_>, Error> {
        Ok(match conn {
            ConnRef::One(id) => Conn::One(host.tcp(id)?),
            ConnRef::Chain(id) => Conn::Chain(host.tcp_chain(id)?),
        })
    }

    fn downstream_data(&mut self, data: &[u8], end: bool) -> Result<crate::Action, Error> {
        each!(Conn, self, c => c.downstream_data(data, end))
    }

    fn upstream_data(&mut self, data: &[u8], end: bool) -> Result<crate::Action, Error> {
        each!(Conn, self, c => c.upstream_data(data, end))
    }

    fn close_downstream(&mut self, peer: PeerType) -> Result<(), Error> {
        each!(Conn, self, c => c.close_downstream(peer))
    }

    fn close_upstream(&mut self, peer: PeerType) -> Result<(), Error> {
        each!(Conn, self, c => c.close_upstream(peer))
    }

    fn new_connection_action(&self) -> Option<crate::Action> {
        each!(Conn, self, c => c.new_connection_action())
    }

    /// The report's view of the connection now.
    fn record(&self, tcp: &mut TcpReport) {
        let closed = each!(Conn, self, c => c.closed_by_plugin());
        each!(Conn, self, c => {
            tcp.upstream_received = lossy(c.sent_upstream());
            tcp.client_received = lossy(c.sent_downstream());
            tcp.buffered = lossy(c.buffered_downstream());
            tcp.finished = c.is_finished();
        });
        tcp.closed_by_plugin = closed
            .iter()
            .map(|side| if *side == StreamType::Downstream { "downstream" } else { "upstream" }.to_owned())
            .collect();
    }
}

/// A stream taken up from the host.
enum Handle<'h> {
    One(HttpStream<'h>),
    Chain(HttpChainStream<'h>),
}

impl Handle<'_> {
    fn take_up(host: &mut Host, stream: StreamRef) -> Result<Handle<'_>, Error> {
        Ok(match stream {
            StreamRef::One(id) => Handle::One(host.http(id)?),
            StreamRef::Chain(id) => Handle::Chain(host.http_chain(id)?),
        })
    }

    fn is_over(&self) -> bool {
        each!(Handle, self, s => s.is_over())
    }

    fn upstream_request(&self) -> &Sent {
        each!(Handle, self, s => s.upstream_request())
    }

    fn client_done(&self) -> bool {
        match self {
            Handle::One(s) => s.client_response().end_of_stream,
            Handle::Chain(s) => s.client_response().end_of_stream,
        }
    }

    fn local_response(&self) -> Option<&crate::LocalResponse> {
        match self {
            Handle::One(s) => s.local_response(),
            Handle::Chain(s) => s.local_response().map(|(_, r)| r),
        }
    }

    fn host(&mut self) -> &mut Host {
        each!(Handle, self, s => s.host())
    }

    fn set_protocol(&mut self, protocol: &str) -> Result<(), Error> {
        each!(Handle, self, s => s.set_protocol(protocol))
    }

    fn request_headers(&mut self, headers: HeaderMap, end: bool) -> Result<crate::Action, Error> {
        each!(Handle, self, s => s.request_headers(headers, end))
    }

    fn request_body(&mut self, chunk: &[u8], end: bool) -> Result<crate::Action, Error> {
        each!(Handle, self, s => s.request_body(chunk, end))
    }

    fn request_trailers(&mut self, trailers: HeaderMap) -> Result<crate::Action, Error> {
        each!(Handle, self, s => s.request_trailers(trailers))
    }

    fn response_headers(&mut self, headers: HeaderMap, end: bool) -> Result<crate::Action, Error> {
        each!(Handle, self, s => s.response_headers(headers, end))
    }

    fn response_body(&mut self, chunk: &[u8], end: bool) -> Result<crate::Action, Error> {
        each!(Handle, self, s => s.response_body(chunk, end))
    }

    fn response_trailers(&mut self, trailers: HeaderMap) -> Result<crate::Action, Error> {
        each!(Handle, self, s => s.response_trailers(trailers))
    }
}

/// An HTTP stream the scenario has opened and not finished.
#[derive(Debug)]
struct Open {
    /// The step that opened it: its report holds the stream's outcome.
    step: usize,
    /// Its `id`, for `resume`.
    name: Option<String>,
    stream: StreamRef,
    /// With a chain: the scenario ids of its plugins, in chain order.
    chain: Vec<String>,
    request: Message,
    response: Option<Message>,
    /// Pieces sent so far.
    sent: usize,
    /// Send no further than this part until a step resumes it.
    until: Option<Part>,
}

impl Open {
    fn pieces(&self) -> Vec<Piece> {
        pieces(&self.request, self.response.as_ref())
    }

    /// Sends the next pieces, up to `until`; the response only once the
    /// upstream has the whole request. Stops once the stream is over.
    fn send(&mut self, stream: &mut Handle<'_>, report: &mut StepReport) -> Result<(), Error> {
        let pieces = self.pieces();
        while let Some(&piece) = pieces.get(self.sent) {
            if stream.is_over() || self.until.is_some_and(|u| !piece.within(u)) {
                return Ok(());
            }
            let (request, response) = (&self.request, self.response.as_ref());
            let last = |chunks: usize, trailers: bool, i: usize| i + 1 == chunks && !trailers;
            let (callback, action) = match piece {
                Piece::RequestHeaders => {
                    if let Some(protocol) = &request.protocol {
                        stream.set_protocol(protocol)?;
                    }
                    let end = request.chunks.is_empty() && request.trailers.is_none();
                    ("request_headers", stream.request_headers(request.headers.clone(), end)?)
                }
                Piece::RequestChunk(i) => {
                    let end = last(request.chunks.len(), request.trailers.is_some(), i);
                    ("request_body", stream.request_body(&request.chunks[i], end)?)
                }
                Piece::RequestTrailers => {
                    ("request_trailers", stream.request_trailers(request.trailers.clone().unwrap_or_default())?)
                }
                Piece::ResponseHeaders => {
                    let Some(response) = response else { return Ok(()) };
                    if !stream.upstream_request().end_of_stream {
                        return Ok(());
                    }
                    report.response_in = Some(text(&response.headers));
                    let end = response.chunks.is_empty() && response.trailers.is_none();
                    ("response_headers", stream.response_headers(response.headers.clone(), end)?)
                }
                Piece::ResponseChunk(i) => {
                    let Some(response) = response else { return Ok(()) };
                    let end = last(response.chunks.len(), response.trailers.is_some(), i);
                    ("response_body", stream.response_body(&response.chunks[i], end)?)
                }
                Piece::ResponseTrailers => {
                    let Some(response) = response else { return Ok(()) };
                    ("response_trailers", stream.response_trailers(response.trailers.clone().unwrap_or_default())?)
                }
            };
            let action = super::model::action_name(action).to_owned();
            report.actions.push(super::report::ActionReport { callback: callback.to_owned(), action });
            self.sent += 1;
        }
        Ok(())
    }

    /// Whether the stream has nothing more to do: it is over, or everything
    /// is sent and the client has the whole response (without a response:
    /// the upstream has the whole request).
    fn done(&self, stream: &Handle<'_>) -> bool {
        if stream.is_over() {
            return true;
        }
        if self.sent < self.pieces().len() {
            return false;
        }
        match &self.response {
            Some(_) => stream.client_done(),
            None => stream.upstream_request().end_of_stream,
        }
    }
}

/// Reads each VM's new log lines.
#[derive(Debug, Default)]
pub(super) struct LogCursor {
    /// Lines seen per VM (dropped ones included).
    seen: Vec<u64>,
}

impl LogCursor {
    /// The lines logged since the last call, in the order they were logged
    /// (across VMs: the plugins of a chain, the workers).
    pub fn take(&mut self, host: &Host) -> Vec<LogLine> {
        let mut out: Vec<(u64, LogLine)> = Vec::new();
        self.seen.resize(host.vms.len(), 0);
        for (vm, seen) in host.vms.iter().zip(&mut self.seen) {
            let logs = &vm.state().logs;
            let total = logs.dropped() + logs.len() as u64;
            if total < *seen {
                *seen = 0;
            }
            let skip = seen.saturating_sub(logs.dropped()) as usize;
            out.extend(logs.iter().skip(skip).map(|r| {
                let line = LogLine {
                    level: super::report::level(r.level),
                    context_id: r.context_id,
                    message: r.message.clone(),
                };
                (r.seq, line)
            }));
            *seen = total;
        }
        out.sort_by_key(|(seq, _)| *seq);
        out.into_iter().map(|(_, line)| line).collect()
    }
}

/// The newest finished callout of each kind at some point (VM and token),
/// to tell which callouts ended after it.
#[derive(Debug, Clone, Copy)]
pub(super) struct FinishedMark {
    http: Option<(usize, u32)>,
    grpc: Option<(usize, u32)>,
}

impl FinishedMark {
    /// The newest finished callouts now.
    pub fn now(host: &Host) -> FinishedMark {
        FinishedMark {
            http: host.finished_http_callouts().last().map(|(c, _)| (c.vm, c.token)),
            grpc: host.finished_grpc_callouts().last().map(|(c, _)| (c.vm, c.token)),
        }
    }

    /// The callouts that ended since the mark, oldest first: HTTP, then
    /// gRPC. The host keeps the newest 1000 of each kind: once the marked
    /// one is gone from its history, every one it still holds is newer.
    pub fn since(&self, host: &Host) -> Vec<FinishedCalloutReport> {
        fn after<T>(
            list: Vec<(T, crate::CalloutEnd)>,
            mark: Option<(usize, u32)>,
            id: impl Fn(&T) -> (usize, u32),
        ) -> Vec<(T, crate::CalloutEnd)> {
            let start = mark.and_then(|m| list.iter().rposition(|(c, _)| id(c) == m)).map_or(0, |i| i + 1);
            list.into_iter().skip(start).collect()
        }
        let end = super::model::callout_end_name;
        let http = after(host.finished_http_callouts(), self.http, |c| (c.vm, c.token)).into_iter().map(|(c, e)| {
            FinishedCalloutReport { kind: "http".to_owned(), cluster: c.upstream, ended: end(e).to_owned() }
        });
        let grpc = after(host.finished_grpc_callouts(), self.grpc, |c| (c.vm, c.token)).into_iter().map(|(c, e)| {
            FinishedCalloutReport { kind: "grpc".to_owned(), cluster: lossy(&c.upstream), ended: end(e).to_owned() }
        });
        http.chain(grpc).collect()
    }
}

/// Runs steps and keeps the streams they leave open.
#[derive(Debug)]
pub(super) struct Driver {
    /// The loaded plugins (`None`: it did not start, as expected).
    plugins: Vec<Option<PluginId>>,
    /// Their scenario ids.
    ids: Vec<String>,
    open: Vec<Open>,
    /// TCP connections by name, until the scenario ends.
    connections: Vec<(String, ConnRef)>,
    /// The host has a route table: streams report where they were routed.
    routing: bool,
    /// Log lines per report, gathered while streams finish.
    pub(super) logs: LogCursor,
}

impl Driver {
    /// A driver for the scenario's loaded plugins.
    pub fn new(scenario: &Scenario, plugins: Vec<Option<PluginId>>, logs: LogCursor) -> Driver {
        Driver {
            plugins,
            ids: scenario.plugins.iter().map(|p| p.id.clone()).collect(),
            open: Vec::new(),
            connections: Vec::new(),
            routing: !scenario.routes.is_empty(),
            logs,
        }
    }

    /// The loaded plugin of scenario plugin `index` (`None`: it did not start).
    pub fn plugin(&self, index: usize) -> Option<PluginId> {
        self.plugins.get(index).copied().flatten()
    }

    /// Runs step `index`; a host or plugin error ends the step and is in
    /// the report of the stream it happened on.
    pub fn step(&mut self, host: &mut Host, index: usize, step: &Step, reports: &mut Vec<StepReport>) {
        reports.push(StepReport::new(step));
        let result = self.drive(host, index, step, reports);
        if let Err((at, e)) = result {
            reports[at].error.get_or_insert(e.to_string());
        }
        let Some(plugin) = self.plugin(step.plugin) else { return };
        let report = &mut reports[index];
        let after = step
            .foreign_callbacks
            .iter()
            .try_for_each(|(id, args)| host.call_foreign_callback(plugin, *id, args))
            .and_then(|()| {
                if step.shutdown {
                    report.on_done = Some(host.shutdown(plugin)?);
                }
                Ok(())
            });
        if let Err(e) = after {
            report.error.get_or_insert(e.to_string());
        }
    }

    /// After step `now` (0-based; `None`: the scenario ended): each open
    /// stream goes on as far as it can (a step may have resumed it) and
    /// finishes once it is done, with its outcome in the report of the step
    /// that opened it; at the end every open stream finishes, as when its
    /// client goes away, and the lines it logs then are in that report.
    pub fn release(&mut self, host: &mut Host, reports: &mut [StepReport], now: Option<usize>) {
        for mut open in std::mem::take(&mut self.open) {
            let at = open.step;
            let result = Handle::take_up(host, open.stream).and_then(|mut stream| {
                let sent = open.send(&mut stream, &mut reports[at]);
                if sent.is_ok() && now.is_some() && !open.done(&stream) {
                    return Ok(Some(()));
                }
                reports[at].released_in = now.map(|n| n + 1);
                finish(stream, &open, &mut reports[at], sent, self.routing).map(|()| None)
            });
            match result {
                Ok(Some(())) => self.open.push(open),
                Ok(None) => {}
                Err(e) => {
                    reports[at].error.get_or_insert(e.to_string());
                }
            }
            if now.is_none() {
                let lines = self.logs.take(host);
                reports[at].logs.extend(lines);
            }
        }
        if now.is_none() {
            for (_, id) in std::mem::take(&mut self.connections) {
                // The client goes away from each connection still open.
                let _ = match id {
                    ConnRef::One(id) => host.tcp(id).and_then(|c| c.complete()).map(drop),
                    ConnRef::Chain(id) => host.tcp_chain(id).and_then(|c| c.complete()).map(drop),
                };
            }
        }
    }

    fn drive(
        &mut self,
        host: &mut Host,
        index: usize,
        step: &Step,
        reports: &mut [StepReport],
    ) -> Result<(), (usize, Error)> {
        let here = |e| (index, e);
        let plugin =
            self.plugin(step.plugin).ok_or_else(|| here(Error::NotFound("the plugin did not start".into())))?;
        if let Some(level) = step.log_level {
            host.set_log_level(level);
        }
        if let Some(ns) = step.wall_ns {
            host.set_now_ns(ns);
        }
        for path in &step.remove_properties {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            host.remove_property(plugin, &path).map_err(here)?;
        }
        for (path, value) in &step.properties {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            host.set_property(plugin, &path, value.clone()).map_err(here)?;
        }
        let earlier = Earlier {
            http: host.http_callouts().iter().map(HttpCallout::id).collect(),
            grpc: host.grpc_callouts().iter().map(GrpcCallout::id).collect(),
        };
        for d in &step.shared_data {
            d.apply(host);
        }
        for e in &step.enqueue {
            host.enqueue(&e.vm_id, &e.queue, &e.value).map_err(here)?;
        }
        if let Some(by) = step.advance {
            host.advance(by).map_err(here)?;
        }
        for _ in 0..step.ticks {
            host.tick(plugin).map_err(here)?;
        }
        let mut open = match (&step.request, &step.resume) {
            (Some(request), _) => {
                let report = &mut reports[index];
                report.request_in = Some(text(&request.headers));
                report.request_body_in = lossy(&request.chunks.concat());
                let (stream, chain) = self.open_stream(host, plugin, step, report).map_err(here)?;
                Open {
                    step: index,
                    name: step.id.clone(),
                    stream,
                    chain,
                    request: request.clone(),
                    response: step.response.clone(),
                    sent: 0,
                    until: step.until,
                }
            }
            (None, Some(name)) => {
                let Some(at) = self.open.iter().position(|o| o.name.as_ref() == Some(name)) else {
                    answer_callouts(host, step, &earlier, &mut reports[index]).map_err(here)?;
                    return Err((index, Error::NotFound(format!("no open stream {name:?} to resume (it finished)"))));
                };
                let mut open = self.open.remove(at);
                open.until = step.until;
                if open.response.is_none() {
                    open.response = step.response.clone();
                }
                open
            }
            (None, None) => {
                if let Some(name) = &step.connection {
                    self.connection(host, plugin, name, step, &mut reports[index]).map_err(here)?;
                }
                return answer_callouts(host, step, &earlier, &mut reports[index]).map_err(here);
            }
        };
        let owner = open.step;
        let mut stream = match Handle::take_up(host, open.stream) {
            Ok(stream) => stream,
            Err(e) => return Err((owner, e)),
        };
        let result = open
            .send(&mut stream, &mut reports[owner])
            .and_then(|()| answer_callouts(stream.host(), step, &earlier, &mut reports[index]))
            .and_then(|()| open.send(&mut stream, &mut reports[owner]));
        let keep = step.hold || open.name.is_some();
        if result.is_ok() && keep && !open.done(&stream) {
            reports[owner].held = true;
            self.open.push(open);
            return Ok(());
        }
        if owner != index {
            reports[owner].released_in = Some(index + 1);
        }
        finish(stream, &open, &mut reports[owner], result, self.routing).map_err(|e| (owner, e))
    }
}

impl Driver {
    /// Opens the step's HTTP stream: on its plugin, or through its chain;
    /// on the step's worker, or the next one.
    fn open_stream(
        &self,
        host: &mut Host,
        plugin: PluginId,
        step: &Step,
        report: &mut StepReport,
    ) -> Result<(StreamRef, Vec<String>), Error> {
        if step.chain.is_empty() {
            let stream = match step.worker {
                Some(w) => host.http_stream_on(plugin, w)?,
                None => host.http_stream(plugin)?,
            };
            let id = stream.id();
            report.worker = host.vms.get(id.vm).map(|vm| vm.settings.worker);
            return Ok((StreamRef::One(id), Vec::new()));
        }
        let chain = self.chain_of(host, step)?;
        let stream = match step.worker {
            Some(w) => host.http_chain_stream_on(&chain, w)?,
            None => host.http_chain_stream(&chain)?,
        };
        report.worker = Some(stream.worker());
        let ids = step.chain.iter().map(|&i| self.ids[i].clone()).collect();
        Ok((StreamRef::Chain(stream.id()), ids))
    }

    /// The step's chain of loaded plugins.
    fn chain_of(&self, host: &Host, step: &Step) -> Result<crate::Chain, Error> {
        let mut members = Vec::with_capacity(step.chain.len());
        for &i in &step.chain {
            let id = self
                .plugin(i)
                .ok_or_else(|| Error::NotFound(format!("plugin {:?} of the chain did not start", self.ids[i])))?;
            members.push(id);
        }
        host.chain(&members)
    }

    /// Opens the step's TCP connection (the first time it is named) or
    /// takes it up, sends its events, and records its state.
    fn connection(
        &mut self,
        host: &mut Host,
        plugin: PluginId,
        name: &str,
        step: &Step,
        report: &mut StepReport,
    ) -> Result<(), Error> {
        let mut tcp = TcpReport {
            connection: name.to_owned(),
            events: Vec::new(),
            new_connection: None,
            upstream_received: String::new(),
            client_received: String::new(),
            buffered: String::new(),
            closed_by_plugin: Vec::new(),
            finished: false,
        };
        let id = match self.connections.iter().find(|(n, _)| n == name) {
            Some((_, id)) => *id,
            None => {
                let id = if step.chain.is_empty() {
                    let conn = match step.worker {
                        Some(w) => host.tcp_stream_on(plugin, w)?,
                        None => host.tcp_stream(plugin)?,
                    };
                    ConnRef::One(conn.id())
                } else {
                    let chain = self.chain_of(host, step)?;
                    let conn = match step.worker {
                        Some(w) => host.tcp_chain_stream_on(&chain, w)?,
                        None => host.tcp_chain_stream(&chain)?,
                    };
                    ConnRef::Chain(conn.id())
                };
                tcp.new_connection = Conn::take_up(host, id)?.new_connection_action().map(action);
                self.connections.push((name.to_owned(), id));
                id
            }
        };
        report.worker = match id {
            ConnRef::One(s) => host.vms.get(s.vm).map(|vm| vm.settings.worker),
            ConnRef::Chain(c) => host.tcp_chain(c).ok().map(|c| c.worker()),
        };
        let peer = |p: PeerType| if p == PeerType::Local { "local" } else { "remote" };
        let mut result = Ok(());
        for event in &step.tcp {
            let mut conn = Conn::take_up(host, id)?;
            let (text, sent) = match event {
                TcpEvent::Downstream(data, end) => {
                    let action = conn.downstream_data(data, *end);
                    (format!("client sent {:?}{}", lossy(data), if *end { " (end)" } else { "" }), action.map(Some))
                }
                TcpEvent::Upstream(data, end) => {
                    let action = conn.upstream_data(data, *end);
                    (format!("upstream sent {:?}{}", lossy(data), if *end { " (end)" } else { "" }), action.map(Some))
                }
                TcpEvent::CloseDownstream(p) => {
                    (format!("client closed ({})", peer(*p)), conn.close_downstream(*p).map(|()| None))
                }
                TcpEvent::CloseUpstream(p) => {
                    (format!("upstream closed ({})", peer(*p)), conn.close_upstream(*p).map(|()| None))
                }
            };
            match sent {
                Ok(Some(a)) => tcp.events.push(format!("{text}: {}", action(a))),
                Ok(None) => tcp.events.push(text),
                Err(e) => {
                    tcp.events.push(format!("{text}: failed"));
                    result = Err(e);
                    break;
                }
            }
        }
        if let Ok(conn) = Conn::take_up(host, id) {
            conn.record(&mut tcp);
        }
        report.tcp = Some(tcp);
        result
    }
}

/// A TCP callback's action as scenarios name it.
fn action(action: crate::types::Action) -> String {
    if action == crate::types::Action::Continue { "continue" } else { "pause" }.to_owned()
}

/// Callouts pending when a step began.
struct Earlier {
    http: Vec<CalloutId>,
    grpc: Vec<CalloutId>,
}

/// Why the upstream's response was not sent.
fn skipped(stream: &Handle<'_>) -> String {
    if let Some(local) = stream.local_response() {
        if local.details == FAIL_STREAM_DETAILS {
            format!("the plugin's VM failed: fail closed answered locally ({})", local.status_code)
        } else if local.details == crate::state::http::STREAM_IDLE_TIMEOUT_DETAILS {
            format!("nothing moved the stream: Envoy's stream idle timeout answered ({})", local.status_code)
        } else {
            format!("the plugin answered locally ({})", local.status_code)
        }
    } else if stream.is_over() {
        "the stream already ended".into()
    } else if stream.upstream_request().headers.is_none() {
        "the request is paused before the upstream (the plugin did not resume it)".into()
    } else if !stream.upstream_request().end_of_stream {
        "the upstream has not received the whole request".into()
    } else {
        "the stream was left open before its response (`until`)".into()
    }
}

/// Finishes the stream and records what each side saw, and where it was
/// routed when the host has a route table (even after an error of
/// `result`, which is returned).
fn finish(
    mut stream: Handle<'_>,
    open: &Open,
    report: &mut StepReport,
    result: Result<(), Error>,
    routing: bool,
) -> Result<(), Error> {
    if let Some(response) = &open.response
        && report.response_in.is_none()
    {
        report.response_in = Some(text(&response.headers));
        report.response_skipped = Some(skipped(&stream));
    }
    let profile = stream.host().profile();
    let outcome = match stream {
        Handle::One(stream) => stream.complete(),
        Handle::Chain(stream) => {
            let outcome = stream.complete();
            result?;
            return record_chain(outcome?, open, report, routing, profile);
        }
    };
    result?;
    let outcome = outcome?;
    if routing {
        report.route = Some(route_report(&outcome));
    }
    report.ended = Some(Ended::of(outcome.ended).name().to_owned());
    record_sides(report, &outcome.upstream_request, &outcome.client_response, outcome.local_response.as_ref(), profile);
    report.fail_policy = outcome.fail_policy.map(|p| p.name().to_owned());
    report.properties_set =
        outcome.properties_set.iter().map(|(p, v)| (p.join("."), String::from_utf8_lossy(v).into_owned())).collect();
    Ok(())
}

fn route_report(outcome: &crate::HttpOutcome) -> RouteReport {
    RouteReport {
        virtual_host: outcome.route.as_ref().map(|r| r.virtual_host.clone()),
        name: outcome.route.as_ref().map(|r| r.route_name.clone()),
        upstream_cluster: outcome.upstream_cluster.clone(),
    }
}

/// What the upstream and the client saw, and the local reply (its status
/// line as the host profile writes it).
fn record_sides(
    report: &mut StepReport,
    upstream: &Sent,
    client: &Sent,
    local: Option<&crate::LocalResponse>,
    profile: crate::HostProfile,
) {
    let record = |sent: &Sent| (sent.headers.as_ref().map(text), lossy(&sent.body));
    (report.upstream_request, report.upstream_body) = record(upstream);
    report.upstream_whole = upstream.end_of_stream;
    (report.client_response, report.client_body) = record(client);
    report.upstream_trailers = upstream.trailers.as_ref().map(text);
    report.client_trailers = client.trailers.as_ref().map(text);
    if let Some(local) = local {
        report.local_response = Some((local.status_code, local.details.clone(), lossy(&local.body)));
        // A gRPC client gets Envoy's trailers-only reply over HTTP/2
        // (`:status 200`, the status in `grpc-status`): no status line.
        report.status_line = (!local.grpc_request).then(|| profile.status_line(local.status_code, &local.details));
        if report.client_response.is_none() {
            report.client_response = Some(text(&local.client_headers()));
            report.client_body = lossy(local.client_body());
        }
    }
}

/// A chain stream's outcome in the report: both sides, and each plugin's
/// view (what reached it, what it passed on).
fn record_chain(
    outcome: crate::ChainOutcome,
    open: &Open,
    report: &mut StepReport,
    routing: bool,
    profile: crate::HostProfile,
) -> Result<(), Error> {
    if routing && let Some(last) = outcome.plugins.last() {
        report.route = Some(route_report(&last.outcome));
    }
    report.ended = Some(Ended::of(outcome.ended).name().to_owned());
    record_sides(report, &outcome.upstream_request, &outcome.client_response, outcome.local_response.as_ref(), profile);
    report.local_reply_from = outcome.local_reply_from.and_then(|k| open.chain.get(k).cloned());
    report.fail_policy = outcome.plugins.iter().find_map(|p| p.outcome.fail_policy).map(|p| p.name().to_owned());
    report.properties_set = outcome
        .plugins
        .iter()
        .flat_map(|p| &p.outcome.properties_set)
        .map(|(p, v)| (p.join("."), String::from_utf8_lossy(v).into_owned()))
        .collect();
    report.chain = outcome
        .plugins
        .iter()
        .zip(&open.chain)
        .map(|(link, id)| LinkReport {
            plugin: id.clone(),
            request_in: link.request_in.headers.as_ref().map(text),
            forwarded: link.outcome.upstream_request.headers.as_ref().map(text),
            response_in: link.response_in.headers.as_ref().map(text),
            passed_back: link.outcome.client_response.headers.as_ref().map(text),
            local_response: link.outcome.local_response.as_ref().map(|l| l.status_code),
        })
        .collect();
    Ok(())
}

/// Answers the pending HTTP callouts with the step's answers, oldest first
/// (callouts of earlier steps, pending when the step began: `earlier`,
/// included), then lists those still pending. An answer with no callout
/// pending is recorded as not used (the run reports the scenario invalid).
fn answer_callouts(host: &mut Host, step: &Step, earlier: &Earlier, report: &mut StepReport) -> Result<(), Error> {
    answer_http(host, step, &earlier.http, report)?;
    answer_grpc(host, step, &earlier.grpc, report)
}

/// What a gRPC call or stream looks like in the report.
fn grpc_report(call: &GrpcCallout, earlier: &[CalloutId], answer: String, index: Option<usize>) -> GrpcReport {
    GrpcReport {
        cluster: lossy(&call.upstream),
        service: call.service.clone(),
        method: call.method.clone(),
        kind: if call.kind == GrpcKind::Stream { "stream" } else { "call" }.to_owned(),
        metadata: text(&call.initial_metadata),
        messages: call.messages.iter().map(|m| lossy(m)).collect(),
        timeout_ms: call.timeout.as_millis(),
        answer,
        from_earlier_step: earlier.contains(&call.id()),
        answer_index: index,
    }
}

/// Answers open gRPC calls and streams, oldest first: initial metadata,
/// messages, trailing metadata, then a close; or lets a call time out.
fn answer_grpc(host: &mut Host, step: &Step, earlier: &[CalloutId], report: &mut StepReport) -> Result<(), Error> {
    let mut answered: Vec<CalloutId> = Vec::new();
    for (i, answer) in step.grpc.iter().enumerate() {
        let Some(call) = host.grpc_callouts().into_iter().find(|c| !answered.contains(&c.id())) else {
            report.unused_grpc.push(i);
            continue;
        };
        let id = call.id();
        answered.push(id);
        let mut sent = Vec::new();
        let mut result = Ok(());
        if answer.timeout {
            let left = {
                let world = host.world();
                world
                    .callouts
                    .deadline(DeadlineKind::Grpc, id.vm, id.token)
                    .map(|at| at.saturating_sub(world.clock.monotonic_ns()))
            };
            match left {
                Some(ns) => {
                    sent.push(format!("timed out (clock advanced {} ms)", ns / 1_000_000));
                    result = host.advance(std::time::Duration::from_nanos(ns));
                }
                None => sent.push("cannot time out: it has no timeout".to_owned()),
            }
        }
        let mut events: Vec<(String, GrpcEvent)> = Vec::new();
        if let Some(md) = &answer.initial_metadata {
            events.push((format!("initial metadata ({})", md.len()), GrpcEvent::InitialMetadata(md.clone())));
        }
        for m in &answer.messages {
            events.push((format!("message {:?}", lossy(m)), GrpcEvent::Message(m.clone())));
        }
        if let Some(md) = &answer.trailing_metadata {
            events.push((format!("trailing metadata ({})", md.len()), GrpcEvent::TrailingMetadata(md.clone())));
        }
        if let Some((status, message)) = &answer.close {
            events.push((format!("close {status} {message:?}"), GrpcEvent::Close(*status, message.clone())));
        }
        for (label, event) in events {
            if result.is_err() {
                break;
            }
            sent.push(label);
            result = host.grpc_respond(id, event);
        }
        report.grpc.push(grpc_report(&call, earlier, sent.join(", "), Some(i)));
        result?;
    }
    for call in host.grpc_callouts() {
        if !answered.contains(&call.id()) {
            report.grpc.push(grpc_report(&call, earlier, "unanswered (still open)".into(), None));
        }
    }
    Ok(())
}

/// Answers pending HTTP callouts (see [`answer_callouts`]).
fn answer_http(host: &mut Host, step: &Step, earlier: &[CalloutId], report: &mut StepReport) -> Result<(), Error> {
    let callout = |call: &HttpCallout, answer: String, index: Option<usize>| CalloutReport {
        cluster: call.upstream.clone(),
        headers: text(&call.headers),
        body: lossy(&call.body),
        trailers: text(&call.trailers),
        timeout_ms: call.timeout.as_millis(),
        answer,
        from_earlier_step: earlier.contains(&call.id()),
        answer_index: index,
    };
    for (i, answer) in step.callouts.iter().enumerate() {
        let Some(call) = host.http_callouts().into_iter().next() else {
            report.unused_answers.push(i);
            continue;
        };
        let (answer_text, result) = if answer.fail {
            ("failed (reset)".to_string(), host.fail_http_call(call.id()))
        } else if answer.timeout {
            match host.http_call_time_left(call.id()) {
                Some(left) => (format!("timed out (clock advanced {} ms)", left.as_millis()), host.advance(left)),
                None => ("cannot time out: the callout has no timeout".to_string(), Ok(())),
            }
        } else {
            let status = answer.headers.get_str(":status").unwrap_or("200").to_owned();
            let response = HttpCallResponse {
                headers: answer.headers.clone(),
                body: answer.body.clone(),
                trailers: answer.trailers.clone(),
            };
            (format!("answered {status}"), host.respond_http_call(call.id(), response))
        };
        report.callouts.push(callout(&call, answer_text, Some(i)));
        result?;
    }
    for call in host.http_callouts() {
        report.callouts.push(callout(&call, "unanswered (still pending)".into(), None));
    }
    Ok(())
}
