//! Filter chains: several plugins on one HTTP stream or TCP connection, in
//! Envoy's order.
//!
//! Each plugin of a chain gets its own stream context (on its own VM, or on
//! a VM it shares by `vm_id`), under its own root context and
//! configuration. The chain moves what one plugin forwarded to the next:
//!
//! - request side (Envoy's decoder filters): the client's request reaches
//!   plugin 0; what plugin `k` forwarded (headers, body bytes, trailers, as
//!   it left them) reaches plugin `k + 1`; what the last one forwarded is the
//!   upstream's request;
//! - response side (encoder filters, in reverse): the upstream's response
//!   reaches the last plugin, what plugin `k` passed on reaches `k - 1`, and
//!   what plugin 0 passed on is the client's response.
//!
//! A plugin that pauses (`StopIteration`, a stopped body) holds everything
//! after it: nothing it has not forwarded reaches the next plugin, and once
//! it resumes (`proxy_continue_stream`, after a callout answer or a tick)
//! the chain carries on from the next plugin. The chain moves data after
//! every host operation, so resumptions from [`Host::respond_http_call`],
//! [`Host::advance`] and the like flow on by themselves.
//!
//! A local reply from plugin `k` during the request path ends the request
//! path (nothing more reaches the plugins after `k` or the upstream) and is
//! sent as Envoy's `FilterManager::sendLocalReplyViaFilterChain` sends it:
//! `encodeHeaders(nullptr, ...)` starts at the first encoder filter, so the
//! reply passes through the response callbacks of **every** plugin of the
//! chain, last to first, the plugins after `k` included (Envoy's source
//! carries a TODO to start from the last filter that saw the request
//! instead). A local reply once the upstream's response has reached the
//! chain goes straight to the client (`sendDirectLocalReply`, no plugin
//! sees it), or resets the stream when the client already has response
//! headers. A reset (`proxy_close_stream`) from any plugin resets the whole
//! stream. When the stream is over, every plugin's context finishes, first
//! to last (`on_done`, `on_log`, `on_delete`).
//!
//! TCP chains follow Envoy's network filter manager: data from the client
//! passes the read filters in order (`on_downstream_data`, plugin 0 first);
//! data from the upstream passes the write filters in reverse order
//! (`on_upstream_data`, the last plugin first); close events reach every
//! plugin, first to last.

use crate::error::Error;
use crate::host::Host;
use crate::host::streams::{HttpOutcome, StreamId, TcpOutcome};
use crate::spec::PluginId;
use crate::state::headers::HeaderMap;
use crate::state::http::{EndReason, LocalResponse, Message};
use crate::state::logs::HostCall;
use crate::types::{Action, PeerType};

/// An ordered list of loaded plugins to run as one filter chain (see
/// [`Host::chain`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub(crate) plugins: Vec<PluginId>,
}

impl Chain {
    /// The plugins, in chain (request) order.
    pub fn plugins(&self) -> &[PluginId] {
        &self.plugins
    }

    /// How many plugins the chain has.
    pub fn len(&self) -> usize {
        self.plugins.len()
    }

    /// Whether the chain has no plugin (never: [`Host::chain`] refuses one).
    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }
}

/// Identifies an open chain stream or connection (see [`Host::http_chain_stream`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainStreamId(pub(crate) u32);

/// How far a source message has reached the next plugin.
#[derive(Clone, Copy, Debug, Default)]
struct Cursor {
    headers: bool,
    body: usize,
    trailers: bool,
    end: bool,
}

/// One plugin of an open chain.
#[derive(Debug)]
pub(crate) struct Link {
    /// The plugin instance (on the chain's worker).
    plugin: PluginId,
    name: String,
    stream: StreamId,
    /// What reached the plugin on each side, and how far.
    request_in: Message,
    response_in: Message,
    request_cursor: Cursor,
    response_cursor: Cursor,
}

/// A local reply on its way through a chain: the plugin (chain index)
/// that sent it, the reply, and the response it makes.
type Routed = (usize, LocalResponse, Message);

/// Where an HTTP chain's response comes from, besides the upstream.
#[derive(Debug, Default)]
pub(crate) struct HttpCarry {
    /// The local reply passing through the chain.
    reply: Option<Box<Routed>>,
    /// A reply sent straight to the client (bypassing the plugins).
    direct: Option<Box<LocalResponse>>,
    /// The whole stream was reset.
    reset: bool,
}

/// How a chain is carried.
#[derive(Debug)]
pub(crate) enum Carried {
    Http(HttpCarry),
    Tcp,
}

/// An open chain stream or connection.
#[derive(Debug)]
pub(crate) struct ChainState {
    links: Vec<Link>,
    carried: Carried,
    finished: bool,
    worker: usize,
}

impl ChainState {
    fn http(&self) -> Option<&HttpCarry> {
        match &self.carried {
            Carried::Http(carry) => Some(carry),
            Carried::Tcp => None,
        }
    }
}

/// What one plugin of a finished HTTP chain saw and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkOutcome {
    /// The plugin (the instance that served the stream).
    pub plugin: PluginId,
    /// Its name (`plugin_name`).
    pub name: String,
    /// The request as it reached this plugin (what the previous one
    /// forwarded; the client's request for the first).
    pub request_in: Message,
    /// The response as it reached this plugin (what the next one passed
    /// on; the upstream's response, or the local reply, for the last).
    pub response_in: Message,
    /// The plugin's own stream: `upstream_request` is what it forwarded,
    /// `client_response` what it passed back, `local_response` the reply it sent.
    pub outcome: HttpOutcome,
    /// The host calls its stream context made, in order.
    pub host_calls: Vec<HostCall>,
}

/// A header added or removed by a plugin (see [`LinkOutcome::request_edits`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderEdit {
    /// The plugin added (or set) this entry.
    Added(String, String),
    /// The plugin removed (or replaced) this entry.
    Removed(String, String),
}

/// The entries of `before` missing from `after` (removed) and of `after`
/// missing from `before` (added), as multisets, in map order.
fn edits(before: Option<&HeaderMap>, after: Option<&HeaderMap>) -> Vec<HeaderEdit> {
    let (Some(before), Some(after)) = (before, after) else { return Vec::new() };
    let lower = |m: &HeaderMap| -> Vec<(String, String)> {
        m.to_strings().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect()
    };
    let (before, after) = (lower(before), lower(after));
    let mut left = after.clone();
    let mut out = Vec::new();
    for entry in &before {
        match left.iter().position(|e| e == entry) {
            Some(i) => drop(left.remove(i)),
            None => out.push(HeaderEdit::Removed(entry.0.clone(), entry.1.clone())),
        }
    }
    let mut gone = before;
    for entry in after {
        match gone.iter().position(|e| *e == entry) {
            Some(i) => drop(gone.remove(i)),
            None => out.push(HeaderEdit::Added(entry.0, entry.1)),
        }
    }
    out
}

impl LinkOutcome {
    /// What the plugin changed in the request headers it passed on.
    pub fn request_edits(&self) -> Vec<HeaderEdit> {
        edits(self.request_in.headers.as_ref(), self.outcome.upstream_request.headers.as_ref())
    }

    /// What the plugin changed in the response headers it passed back.
    pub fn response_edits(&self) -> Vec<HeaderEdit> {
        edits(self.response_in.headers.as_ref(), self.outcome.client_response.headers.as_ref())
    }
}

/// Everything about a finished HTTP chain stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainOutcome {
    /// The request as the upstream received it (what the last plugin forwarded).
    pub upstream_request: Message,
    /// The response as the client received it.
    pub client_response: Message,
    /// The local reply that reached the client, if one did.
    pub local_response: Option<LocalResponse>,
    /// The plugin (chain index) that sent it.
    pub local_reply_from: Option<usize>,
    /// How the stream ended early, if it did.
    pub ended: Option<EndReason>,
    /// The worker that served the stream.
    pub worker: usize,
    /// Each plugin, in chain order.
    pub plugins: Vec<LinkOutcome>,
}

/// Everything about a finished TCP chain connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpChainOutcome {
    /// Bytes the upstream received (what the last plugin forwarded).
    pub sent_upstream: Vec<u8>,
    /// Bytes the client received (what plugin 0 forwarded).
    pub sent_downstream: Vec<u8>,
    /// The worker that served the connection.
    pub worker: usize,
    /// Each plugin's own connection, in chain order.
    pub plugins: Vec<(String, TcpOutcome)>,
}

/// An open HTTP stream through a chain, borrowed from its [`Host`].
#[derive(Debug)]
pub struct HttpChainStream<'h> {
    host: &'h mut Host,
    id: ChainStreamId,
}

/// An open TCP connection through a chain, borrowed from its [`Host`].
#[derive(Debug)]
pub struct TcpChainStream<'h> {
    host: &'h mut Host,
    id: ChainStreamId,
}

impl Host {
    /// A filter chain of loaded plugins, in request order (Envoy's
    /// `http_filters` / network `filters` order). Each plugin keeps its own
    /// root context and configuration; a plugin may appear once.
    pub fn chain(&self, plugins: &[PluginId]) -> Result<Chain, Error> {
        if plugins.is_empty() {
            return Err(Error::InvalidArgument("a chain needs at least one plugin".into()));
        }
        for (i, p) in plugins.iter().enumerate() {
            let known = self.vms.get(p.vm).is_some_and(|vm| vm.state().plugins.contains_key(&p.root));
            if !known {
                return Err(Error::NotFound(format!("plugin {i} of the chain (root context {})", p.root)));
            }
            if plugins[..i].contains(p) {
                return Err(Error::InvalidArgument(format!(
                    "plugin {i} of the chain (root context {}) is already in it",
                    p.root
                )));
            }
        }
        Ok(Chain { plugins: plugins.to_vec() })
    }

    fn plugin_name(&self, plugin: PluginId) -> String {
        self.vms
            .get(plugin.vm)
            .and_then(|vm| vm.state().plugins.get(&plugin.root))
            .map(|p| p.name.clone())
            .unwrap_or_default()
    }

    /// Opens streams on every plugin of a chain (on the worker Envoy would
    /// pick for a new connection, see [`Host::next_worker`]): each plugin's
    /// `on_context_create`, first to last.
    pub fn http_chain_stream(&mut self, chain: &Chain) -> Result<HttpChainStream<'_>, Error> {
        let worker = self.next_worker();
        self.http_chain_stream_on(chain, worker)
    }

    /// [`Host::http_chain_stream`] on a given worker.
    pub fn http_chain_stream_on(&mut self, chain: &Chain, worker: usize) -> Result<HttpChainStream<'_>, Error> {
        let id = self.open_chain(chain, worker, false)?;
        Ok(HttpChainStream { host: self, id })
    }

    /// Opens a TCP connection through every plugin of a chain
    /// (`on_context_create`, `on_new_connection`, first to last).
    pub fn tcp_chain_stream(&mut self, chain: &Chain) -> Result<TcpChainStream<'_>, Error> {
        let worker = self.next_worker();
        self.tcp_chain_stream_on(chain, worker)
    }

    /// [`Host::tcp_chain_stream`] on a given worker.
    pub fn tcp_chain_stream_on(&mut self, chain: &Chain, worker: usize) -> Result<TcpChainStream<'_>, Error> {
        let id = self.open_chain(chain, worker, true)?;
        Ok(TcpChainStream { host: self, id })
    }

    /// Takes up a chain stream opened earlier (to interleave streams).
    pub fn http_chain(&mut self, id: ChainStreamId) -> Result<HttpChainStream<'_>, Error> {
        match self.chains.get(&id.0).map(|c| c.http().is_some()) {
            Some(true) => Ok(HttpChainStream { host: self, id }),
            _ => Err(Error::NotFound(format!("HTTP chain stream {}", id.0))),
        }
    }

    /// Takes up a chain connection opened earlier.
    pub fn tcp_chain(&mut self, id: ChainStreamId) -> Result<TcpChainStream<'_>, Error> {
        match self.chains.get(&id.0).map(|c| c.http().is_none()) {
            Some(true) => Ok(TcpChainStream { host: self, id }),
            _ => Err(Error::NotFound(format!("TCP chain connection {}", id.0))),
        }
    }

    fn open_chain(&mut self, chain: &Chain, worker: usize, tcp: bool) -> Result<ChainStreamId, Error> {
        let plugins = chain.plugins.iter().map(|&p| self.serving(p, worker)).collect::<Result<Vec<_>, Error>>()?;
        let mut links: Vec<Link> = Vec::with_capacity(plugins.len());
        for plugin in plugins {
            self.rebuild_if_failed(plugin.vm)?;
            let opened = if tcp {
                self.on_vm(plugin.vm, |vm| vm.tcp_create(plugin.root).map(|(id, _)| id))
            } else {
                self.on_vm(plugin.vm, |vm| {
                    let id = vm.http_create(plugin.root)?;
                    if let Some(s) = vm.state_mut().http.get_mut(&id) {
                        s.chained = true;
                    }
                    Ok(id)
                })
            };
            let id = match opened {
                Ok(id) => id,
                Err(error) => {
                    // The streams opened so far go away with the chain.
                    for link in &links {
                        let stream = link.stream;
                        let _ = self.on_vm(stream.vm, |vm| vm.finish_stream(stream.id));
                        self.forget_link(stream, tcp);
                    }
                    return Err(error);
                }
            };
            links.push(Link {
                plugin,
                name: self.plugin_name(plugin),
                stream: StreamId { vm: plugin.vm, id },
                request_in: Message::default(),
                response_in: Message::default(),
                request_cursor: Cursor::default(),
                response_cursor: Cursor::default(),
            });
        }
        let carried = if tcp { Carried::Tcp } else { Carried::Http(HttpCarry::default()) };
        self.chain_ids += 1;
        let id = self.chain_ids;
        self.chains.insert(id, ChainState { links, carried, finished: false, worker });
        // A plugin may have replied (or reset) from on_context_create.
        self.pump_chains()?;
        Ok(ChainStreamId(id))
    }

    fn forget_link(&mut self, stream: StreamId, tcp: bool) {
        if let Some(vm) = self.vms.get_mut(stream.vm) {
            if tcp {
                vm.state_mut().tcp.remove(&stream.id);
            } else {
                vm.state_mut().http.remove(&stream.id);
            }
        }
    }

    /// Moves data along every open chain until nothing moves (run after
    /// each host operation; a no-op while it already runs).
    pub(crate) fn pump_chains(&mut self) -> Result<(), Error> {
        if self.pumping_chains || self.chains.is_empty() {
            return Ok(());
        }
        self.pumping_chains = true;
        let ids: Vec<u32> = self.chains.keys().copied().collect();
        let mut result = Ok(());
        for id in ids {
            result = self.pump_chain(id);
            if result.is_err() {
                break;
            }
        }
        self.pumping_chains = false;
        result
    }

    fn pump_chain(&mut self, id: u32) -> Result<(), Error> {
        loop {
            let Some(mut chain) = self.chains.remove(&id) else { return Ok(()) };
            let moved = match chain.carried {
                Carried::Http(_) => self.step_http_chain(&mut chain),
                Carried::Tcp => self.step_tcp_chain(&mut chain),
            };
            self.chains.insert(id, chain);
            if !moved? {
                return Ok(());
            }
        }
    }

    fn http_state(&self, stream: StreamId) -> Option<&crate::state::http::HttpStreamState> {
        self.vms.get(stream.vm)?.state().http.get(&stream.id)
    }

    /// One round of moving an HTTP chain along; whether anything moved.
    fn step_http_chain(&mut self, chain: &mut ChainState) -> Result<bool, Error> {
        if chain.finished {
            return Ok(false);
        }
        let Carried::Http(HttpCarry { reply, direct, reset }) = &mut chain.carried else { return Ok(false) };
        let n = chain.links.len();
        // A reset from any plugin resets the whole stream.
        if !*reset
            && chain.links.iter().any(|l| self.http_state(l.stream).is_some_and(|s| s.ended == Some(EndReason::Reset)))
        {
            *reset = true;
        }
        // Local replies the plugins sent.
        if !*reset {
            for k in 0..n {
                let stream = chain.links[k].stream;
                let Some(state) = self.vms.get_mut(stream.vm).and_then(|vm| vm.state_mut().http.get_mut(&stream.id))
                else {
                    continue;
                };
                if !std::mem::take(&mut state.reply_deferred) {
                    continue;
                }
                let Some(sent) = state.local_response.clone() else { continue };
                let response_started = reply.is_some() || chain.links[n - 1].response_in.headers.is_some();
                let client_started = direct.is_some()
                    || self.http_state(chain.links[0].stream).is_some_and(|s| s.response.sent.headers.is_some());
                if client_started {
                    *reset = true;
                } else if response_started {
                    *direct = Some(Box::new(sent));
                } else {
                    let message = Message {
                        headers: Some(sent.client_headers()),
                        body: sent.client_body().to_vec(),
                        trailers: None,
                        end_of_stream: true,
                    };
                    if let Some(state) =
                        self.vms.get_mut(stream.vm).and_then(|vm| vm.state_mut().http.get_mut(&stream.id))
                    {
                        state.reply_through_chain = true;
                    }
                    *reply = Some(Box::new((k, sent, message)));
                }
                return Ok(true);
            }
        }
        let over = *reset || direct.is_some();
        let mut moved = false;
        if !over && reply.is_none() {
            // Request side: what plugin k forwarded reaches plugin k + 1.
            for k in 0..n.saturating_sub(1) {
                let Some(src) = self.http_state(chain.links[k].stream).map(|s| s.request.sent.clone()) else {
                    continue;
                };
                let target = chain.links[k + 1].stream;
                if !self.http_state(target).is_some_and(|s| s.ended.is_none() && !s.finished) {
                    continue;
                }
                if !chain.links[k + 1].request_cursor.headers && src.headers.is_some() {
                    self.inherit_route(chain.links[k].stream, target);
                }
                let link = &mut chain.links[k + 1];
                if self.feed_http(target, false, &src, &mut link.request_cursor, &mut link.request_in)? {
                    return Ok(true);
                }
            }
        }
        if !over {
            // Response side: the reply enters the last plugin; what plugin
            // k passed on reaches plugin k - 1.
            for j in (0..n).rev() {
                let src = if j == n - 1 {
                    reply.as_ref().map(|r| r.2.clone())
                } else {
                    self.http_state(chain.links[j + 1].stream).map(|s| s.response.sent.clone())
                };
                let Some(src) = src else { continue };
                let target = chain.links[j].stream;
                let open = self.http_state(target).is_some_and(|s| {
                    !s.finished && (s.ended.is_none() || s.reply_through_chain) && s.ended != Some(EndReason::Reset)
                });
                if !open {
                    continue;
                }
                let link = &mut chain.links[j];
                if self.feed_http(target, true, &src, &mut link.response_cursor, &mut link.response_in)? {
                    moved = true;
                    break;
                }
            }
        }
        if moved {
            return Ok(true);
        }
        // The stream is over once the client has the whole response, or it was reset.
        let client_done =
            direct.is_some() || self.http_state(chain.links[0].stream).is_some_and(|s| s.response.sent.end_of_stream);
        if *reset || client_done {
            self.finish_chain(chain)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// The next plugin's stream takes over the route cache (and the start
    /// time) of the previous one as its request headers reach it: Envoy
    /// selects a stream's route once, and a plugin clearing the cache makes
    /// the next use re-select from the headers as they are then.
    fn inherit_route(&mut self, from: StreamId, to: StreamId) {
        let Some((mut route, started)) = self.http_state(from).map(|s| (s.route.clone(), s.started_ns)) else { return };
        route.upstream_fixed = false;
        route.upstream_cluster = None;
        if let Some(s) = self.vms.get_mut(to.vm).and_then(|vm| vm.state_mut().http.get_mut(&to.id)) {
            s.route = route;
            s.started_ns = started;
            s.route_inherited = true;
        }
    }

    /// Every plugin's context finishes, first to last.
    fn finish_chain(&mut self, chain: &mut ChainState) -> Result<(), Error> {
        chain.finished = true;
        let reset = matches!(chain.carried, Carried::Http(HttpCarry { reset: true, .. }));
        for link in &chain.links {
            let stream = link.stream;
            if reset
                && let Some(s) = self.vms.get_mut(stream.vm).and_then(|vm| vm.state_mut().http.get_mut(&stream.id))
                && s.ended.is_none()
            {
                s.ended = Some(EndReason::Reset);
            }
            self.on_vm(stream.vm, |vm| vm.finish_stream(stream.id))?;
        }
        Ok(())
    }

    /// Delivers what `src` has that `target` has not had yet: headers, new
    /// body bytes, the end of stream, trailers. Whether anything was delivered.
    fn feed_http(
        &mut self,
        target: StreamId,
        response: bool,
        src: &Message,
        cursor: &mut Cursor,
        seen: &mut Message,
    ) -> Result<bool, Error> {
        let id = target.id;
        if !cursor.headers {
            let Some(headers) = src.headers.clone() else { return Ok(false) };
            let end = src.end_of_stream && src.body.is_empty() && src.trailers.is_none();
            cursor.headers = true;
            cursor.end = end;
            seen.headers = Some(headers.clone());
            seen.end_of_stream = end;
            self.on_vm(target.vm, |vm| vm.http_headers(id, response, headers, end))?;
            return Ok(true);
        }
        if cursor.end {
            return Ok(false);
        }
        let fresh = src.body.len() > cursor.body;
        let body_end = src.end_of_stream && src.trailers.is_none();
        if fresh || body_end {
            let chunk = src.body[cursor.body.min(src.body.len())..].to_vec();
            cursor.body = src.body.len();
            cursor.end = body_end;
            seen.body.extend_from_slice(&chunk);
            seen.end_of_stream = body_end;
            self.on_vm(target.vm, |vm| vm.http_body(id, response, &chunk, body_end))?;
            return Ok(true);
        }
        if let Some(trailers) = src.trailers.clone().filter(|_| src.end_of_stream && !cursor.trailers) {
            cursor.trailers = true;
            cursor.end = true;
            seen.trailers = Some(trailers.clone());
            seen.end_of_stream = true;
            self.on_vm(target.vm, |vm| vm.http_trailers(id, response, trailers))?;
            return Ok(true);
        }
        Ok(false)
    }

    /// One round of moving a TCP chain along; whether anything moved.
    fn step_tcp_chain(&mut self, chain: &mut ChainState) -> Result<bool, Error> {
        if chain.finished {
            return Ok(false);
        }
        let n = chain.links.len();
        let tcp = |host: &Host, s: StreamId| host.vms.get(s.vm).and_then(|vm| vm.state().tcp.get(&s.id)).cloned();
        // Downstream data: plugin k's forwarded bytes reach plugin k + 1.
        for k in 0..n.saturating_sub(1) {
            let (Some(src), Some(target)) = (tcp(self, chain.links[k].stream), tcp(self, chain.links[k + 1].stream))
            else {
                continue;
            };
            let link = &mut chain.links[k + 1];
            let end = src.downstream.received_end && src.downstream.buffer.is_empty();
            if target.downstream.closed.is_none()
                && (src.downstream.forwarded.len() > link.request_cursor.body || (end && !link.request_cursor.end))
            {
                let chunk = src.downstream.forwarded[link.request_cursor.body..].to_vec();
                link.request_cursor.body = src.downstream.forwarded.len();
                link.request_cursor.end = end;
                link.request_in.body.extend_from_slice(&chunk);
                let id = link.stream.id;
                self.on_vm(link.stream.vm, |vm| vm.tcp_data(id, false, &chunk, end))?;
                return Ok(true);
            }
        }
        // Upstream data: plugin j's forwarded bytes reach plugin j - 1.
        for j in (1..n).rev() {
            let (Some(src), Some(target)) = (tcp(self, chain.links[j].stream), tcp(self, chain.links[j - 1].stream))
            else {
                continue;
            };
            let link = &mut chain.links[j - 1];
            let end = src.upstream.received_end && src.upstream.buffer.is_empty();
            if target.upstream.closed.is_none()
                && (src.upstream.forwarded.len() > link.response_cursor.body || (end && !link.response_cursor.end))
            {
                let chunk = src.upstream.forwarded[link.response_cursor.body..].to_vec();
                link.response_cursor.body = src.upstream.forwarded.len();
                link.response_cursor.end = end;
                link.response_in.body.extend_from_slice(&chunk);
                let id = link.stream.id;
                self.on_vm(link.stream.vm, |vm| vm.tcp_data(id, true, &chunk, end))?;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The first plugin in `order` whose direction is stopped, with its action.
fn holder(host: &Host, chain: &ChainState, response: bool) -> Option<(usize, Action)> {
    let n = chain.links.len();
    let order: Vec<usize> = if response { (0..n).rev().collect() } else { (0..n).collect() };
    order.into_iter().find_map(|k| {
        let s = host.http_state(chain.links[k].stream)?;
        let flow = if response { &s.response } else { &s.request };
        flow.stopped.map(|_| (k, flow.action.unwrap_or(Action::Continue)))
    })
}

impl HttpChainStream<'_> {
    /// The stream's id (to come back to it with [`Host::http_chain`]).
    pub fn id(&self) -> ChainStreamId {
        self.id
    }

    /// The host.
    pub fn host(&mut self) -> &mut Host {
        self.host
    }

    fn chain(&self) -> &ChainState {
        // The handle exists only for an open chain; `complete` consumes it.
        &self.host.chains[&self.id.0]
    }

    /// The worker serving the stream.
    pub fn worker(&self) -> usize {
        self.chain().worker
    }

    /// Each plugin's stream, in chain order (for [`Host::stream_property`]).
    pub fn link_streams(&self) -> Vec<StreamId> {
        self.chain().links.iter().map(|l| l.stream).collect()
    }

    /// The plugin (chain index) holding the request, and the action it
    /// stopped with: nothing after it has had what it holds back.
    pub fn request_held_by(&self) -> Option<(usize, Action)> {
        holder(self.host, self.chain(), false)
    }

    /// The plugin holding the response (the last plugin first).
    pub fn response_held_by(&self) -> Option<(usize, Action)> {
        holder(self.host, self.chain(), true)
    }

    fn drive(
        &mut self,
        response: bool,
        f: impl FnOnce(&mut crate::vm::Vm, u32) -> Result<Action, Error>,
    ) -> Result<Action, Error> {
        if self.is_over() {
            return Err(Error::InvalidPhase("the chain stream is over".into()));
        }
        let chain = self.chain();
        let link = if response { chain.links.len() - 1 } else { 0 };
        let stream = chain.links[link].stream;
        let now = self.host.monotonic_ns();
        for l in &self.chain().links.iter().map(|l| l.stream).collect::<Vec<_>>() {
            if let Some(s) = self.host.vm(l.vm)?.state_mut().http.get_mut(&l.id) {
                s.last_activity_ns = now;
            }
        }
        let action = self.host.on_vm(stream.vm, |vm| f(vm, stream.id))?;
        self.host.pump_chains()?;
        Ok(match holder(self.host, self.chain(), response) {
            Some((_, stop)) => stop,
            None => action,
        })
    }

    fn record(&mut self, response: bool, f: impl FnOnce(&mut Message)) {
        if let Some(chain) = self.host.chains.get_mut(&self.id.0) {
            let link = if response { chain.links.len() - 1 } else { 0 };
            let link = &mut chain.links[link];
            f(if response { &mut link.response_in } else { &mut link.request_in });
        }
    }

    /// Headers from the client (`response` false) or the upstream.
    fn headers(&mut self, response: bool, map: HeaderMap, end_of_stream: bool) -> Result<Action, Error> {
        self.record(response, |m| {
            m.headers = Some(map.clone());
            m.end_of_stream = end_of_stream;
        });
        self.drive(response, |vm, id| vm.http_headers(id, response, map, end_of_stream))
    }

    /// A body chunk from the client or the upstream.
    fn body(&mut self, response: bool, chunk: &[u8], end_of_stream: bool) -> Result<Action, Error> {
        self.record(response, |m| {
            m.body.extend_from_slice(chunk);
            m.end_of_stream = end_of_stream;
        });
        self.drive(response, |vm, id| vm.http_body(id, response, chunk, end_of_stream))
    }

    /// Trailers from the client or the upstream.
    fn trailers(&mut self, response: bool, map: HeaderMap) -> Result<Action, Error> {
        self.record(response, |m| {
            m.trailers = Some(map.clone());
            m.end_of_stream = true;
        });
        self.drive(response, |vm, id| vm.http_trailers(id, response, map))
    }

    /// Request headers from the client, into plugin 0 (then on down the
    /// chain as each plugin forwards them). The action is the one of the
    /// plugin holding the request, if one does, else plugin 0's.
    pub fn request_headers<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
        end_of_stream: bool,
    ) -> Result<Action, Error> {
        self.headers(false, HeaderMap::from_pairs(pairs), end_of_stream)
    }

    /// A request body chunk.
    pub fn request_body(&mut self, chunk: impl AsRef<[u8]>, end_of_stream: bool) -> Result<Action, Error> {
        self.body(false, chunk.as_ref(), end_of_stream)
    }

    /// Request trailers.
    pub fn request_trailers<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Action, Error> {
        self.trailers(false, HeaderMap::from_pairs(pairs))
    }

    /// Response headers from the upstream, into the last plugin (then
    /// back up the chain); the action is the one of the plugin holding the
    /// response, if one does, else the last plugin's.
    pub fn response_headers<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
        end_of_stream: bool,
    ) -> Result<Action, Error> {
        self.headers(true, HeaderMap::from_pairs(pairs), end_of_stream)
    }

    /// A response body chunk.
    pub fn response_body(&mut self, chunk: impl AsRef<[u8]>, end_of_stream: bool) -> Result<Action, Error> {
        self.body(true, chunk.as_ref(), end_of_stream)
    }

    /// Response trailers.
    pub fn response_trailers<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Action, Error> {
        self.trailers(true, HeaderMap::from_pairs(pairs))
    }

    /// Sets `request.protocol` on every plugin's stream.
    pub fn set_protocol(&mut self, protocol: &str) -> Result<(), Error> {
        for stream in self.link_streams() {
            if let Some(s) = self.host.vm(stream.vm)?.state_mut().http.get_mut(&stream.id) {
                s.protocol = Some(protocol.to_owned());
            }
        }
        Ok(())
    }

    fn link_state(&self, k: usize) -> &crate::state::http::HttpStreamState {
        let stream = self.chain().links[k].stream;
        &self.host.vms[stream.vm].state().http[&stream.id]
    }

    /// The request as the upstream has received it so far (what the last
    /// plugin forwarded).
    pub fn upstream_request(&self) -> &Message {
        &self.link_state(self.chain().links.len() - 1).request.sent
    }

    /// The response as the client has received it so far (what plugin 0
    /// passed on; empty if a reply went straight to the client, see
    /// [`HttpChainStream::local_response`]).
    pub fn client_response(&self) -> Message {
        match self.chain().http() {
            Some(HttpCarry { direct: Some(direct), .. }) => Message {
                headers: Some(direct.client_headers()),
                body: direct.client_body().to_vec(),
                trailers: None,
                end_of_stream: true,
            },
            _ => self.link_state(0).response.sent.clone(),
        }
    }

    /// The local reply sent to the client (through the chain or directly),
    /// and the plugin that sent it.
    pub fn local_response(&self) -> Option<(usize, &LocalResponse)> {
        let HttpCarry { reply, direct, .. } = self.chain().http()?;
        if let Some(direct) = direct {
            let direct: &LocalResponse = direct;
            let from =
                (0..self.chain().links.len()).find(|&k| self.link_state(k).local_response.as_ref() == Some(direct));
            return Some((from.unwrap_or(0), direct));
        }
        reply.as_ref().map(|r| (r.0, &r.1))
    }

    /// How the stream ended early, if it did.
    pub fn ended(&self) -> Option<EndReason> {
        let carry = self.chain().http()?;
        if carry.reset {
            Some(EndReason::Reset)
        } else if carry.reply.is_some() || carry.direct.is_some() {
            Some(EndReason::LocalResponse)
        } else {
            None
        }
    }

    /// Whether every plugin's context has finished.
    pub fn is_finished(&self) -> bool {
        self.chain().finished
    }

    /// Whether nothing more can be sent through the chain.
    pub fn is_over(&self) -> bool {
        self.ended().is_some() || self.is_finished()
    }

    /// Finishes the stream if it is not yet (every plugin's `on_done`,
    /// `on_log`, `on_delete`, first to last) and returns its outcome.
    pub fn complete(self) -> Result<ChainOutcome, Error> {
        let client_response = self.client_response();
        let local = self.local_response().map(|(k, r)| (k, r.clone()));
        let ended = self.ended();
        let id = self.id.0;
        let mut chain = self.host.chains.remove(&id).ok_or_else(|| Error::NotFound(format!("chain stream {id}")))?;
        let finished = if chain.finished { Ok(()) } else { self.host.finish_chain(&mut chain) };
        let worker = chain.worker;
        let mut plugins = Vec::with_capacity(chain.links.len());
        for link in chain.links {
            let stream = link.stream;
            let host_calls = self
                .host
                .vms
                .get(stream.vm)
                .map(|vm| vm.state().trace.iter().filter(|c| c.context_id == stream.id).cloned().collect())
                .unwrap_or_default();
            // Taken even when finishing failed: the streams go with the chain.
            let outcome = crate::host::streams::take_http_outcome(self.host, stream);
            if let Ok(outcome) = outcome {
                plugins.push(LinkOutcome {
                    plugin: link.plugin,
                    name: link.name,
                    request_in: link.request_in,
                    response_in: link.response_in,
                    outcome,
                    host_calls,
                });
            }
        }
        finished?;
        Ok(ChainOutcome {
            upstream_request: plugins.last().map(|p| p.outcome.upstream_request.clone()).unwrap_or_default(),
            client_response,
            local_reply_from: local.as_ref().map(|(k, _)| *k),
            local_response: local.map(|(_, r)| r),
            ended,
            worker,
            plugins,
        })
    }
}

impl TcpChainStream<'_> {
    /// The connection's id (to come back to it with [`Host::tcp_chain`]).
    pub fn id(&self) -> ChainStreamId {
        self.id
    }

    fn chain(&self) -> &ChainState {
        &self.host.chains[&self.id.0]
    }

    fn link_tcp(&self, k: usize) -> &crate::state::tcp::TcpStreamState {
        let stream = self.chain().links[k].stream;
        &self.host.vms[stream.vm].state().tcp[&stream.id]
    }

    /// The worker serving the connection.
    pub fn worker(&self) -> usize {
        self.chain().worker
    }

    fn data(&mut self, upstream: bool, data: &[u8], end: bool) -> Result<Action, Error> {
        let chain = self.chain();
        let k = if upstream { chain.links.len() - 1 } else { 0 };
        let stream = chain.links[k].stream;
        if let Some(chain) = self.host.chains.get_mut(&self.id.0) {
            let link = &mut chain.links[k];
            (if upstream { &mut link.response_in } else { &mut link.request_in }).body.extend_from_slice(data);
        }
        let action = self.host.on_vm(stream.vm, |vm| vm.tcp_data(stream.id, upstream, data, end))?;
        self.host.pump_chains()?;
        Ok(action)
    }

    /// Data from the client, into plugin 0 (`on_downstream_data`).
    pub fn downstream_data(&mut self, data: impl AsRef<[u8]>, end_of_stream: bool) -> Result<Action, Error> {
        self.data(false, data.as_ref(), end_of_stream)
    }

    /// Data from the upstream, into the last plugin (`on_upstream_data`).
    pub fn upstream_data(&mut self, data: impl AsRef<[u8]>, end_of_stream: bool) -> Result<Action, Error> {
        self.data(true, data.as_ref(), end_of_stream)
    }

    fn close(&mut self, upstream: bool, peer: PeerType) -> Result<(), Error> {
        let streams: Vec<StreamId> = self.chain().links.iter().map(|l| l.stream).collect();
        for stream in streams {
            self.host.on_vm(stream.vm, |vm| vm.tcp_close(stream.id, upstream, peer))?;
        }
        if !upstream && let Some(chain) = self.host.chains.get_mut(&self.id.0) {
            chain.finished = true;
        }
        self.host.pump_chains()
    }

    /// The client closed: every plugin's `on_downstream_connection_close`,
    /// first to last; the connection then finishes.
    pub fn close_downstream(&mut self, peer: PeerType) -> Result<(), Error> {
        self.close(false, peer)
    }

    /// The upstream closed: every plugin's `on_upstream_connection_close`.
    pub fn close_upstream(&mut self, peer: PeerType) -> Result<(), Error> {
        self.close(true, peer)
    }

    /// Bytes the upstream has received so far.
    pub fn sent_upstream(&self) -> &[u8] {
        &self.link_tcp(self.chain().links.len() - 1).downstream.forwarded
    }

    /// Bytes the client has received so far.
    pub fn sent_downstream(&self) -> &[u8] {
        &self.link_tcp(0).upstream.forwarded
    }

    /// Client bytes plugin 0 holds back.
    pub fn buffered_downstream(&self) -> &[u8] {
        &self.link_tcp(0).downstream.buffer
    }

    /// What `on_new_connection` returned: the first plugin's that did not
    /// continue, else `Continue`.
    pub fn new_connection_action(&self) -> Option<Action> {
        let n = self.chain().links.len();
        let actions: Vec<Option<Action>> = (0..n).map(|k| self.link_tcp(k).new_connection_action).collect();
        actions.iter().copied().find(|a| a.is_some_and(|a| !a.is_continue())).unwrap_or(actions[0])
    }

    /// The sides the plugins asked to close, each once.
    pub fn closed_by_plugin(&self) -> Vec<crate::types::StreamType> {
        let mut sides = Vec::new();
        for k in 0..self.chain().links.len() {
            for side in &self.link_tcp(k).close_requested {
                if !sides.contains(side) {
                    sides.push(*side);
                }
            }
        }
        sides
    }

    /// Whether the connection finished (every plugin's `on_done`, `on_log`,
    /// `on_delete`, once the client closed).
    pub fn is_finished(&self) -> bool {
        self.chain().finished
    }

    /// Closes the client side if still open and returns the outcome.
    pub fn complete(mut self) -> Result<TcpChainOutcome, Error> {
        self.close_downstream(PeerType::Remote)?;
        let id = self.id.0;
        let chain = self.host.chains.remove(&id).ok_or_else(|| Error::NotFound(format!("chain connection {id}")))?;
        let (sent_upstream, sent_downstream) = {
            let last = chain.links[chain.links.len() - 1].stream;
            let first = chain.links[0].stream;
            let tcp = |s: StreamId| self.host.vms.get(s.vm).and_then(|vm| vm.state().tcp.get(&s.id));
            (
                tcp(last).map(|t| t.downstream.forwarded.clone()).unwrap_or_default(),
                tcp(first).map(|t| t.upstream.forwarded.clone()).unwrap_or_default(),
            )
        };
        let mut plugins = Vec::with_capacity(chain.links.len());
        for link in chain.links {
            plugins.push((link.name, crate::host::streams::take_tcp_outcome(self.host, link.stream)?));
        }
        Ok(TcpChainOutcome { sent_upstream, sent_downstream, worker: chain.worker, plugins })
    }
}
