//! Stream handles: drive an HTTP stream or a TCP connection phase by phase,
//! read back what each side saw, and finish it.

use crate::error::Error;
use crate::failure::FailPolicy;
use crate::host::Host;
use crate::spec::PluginId;
use crate::state::headers::HeaderMap;
use crate::state::http::{EndReason, HttpStreamState, LocalResponse, Message};
use crate::state::routes::{RouteCache, SelectedRoute};
use crate::state::tcp::TcpStreamState;
use crate::types::{Action, PeerType};

/// Identifies a stream for [`Host::http`] / [`Host::tcp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamId {
    pub(crate) vm: usize,
    pub(crate) id: u32,
}

impl StreamId {
    /// The stream's context id.
    pub fn context_id(self) -> u32 {
        self.id
    }
}

fn headers<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: impl IntoIterator<Item = (K, V)>) -> HeaderMap {
    HeaderMap::from_pairs(pairs)
}

/// An open HTTP stream, borrowed from its [`Host`].
#[derive(Debug)]
pub struct HttpStream<'h> {
    host: &'h mut Host,
    stream: StreamId,
}

/// Everything about a finished HTTP stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpOutcome {
    /// The stream context id.
    pub context_id: u32,
    /// The request as the upstream received it.
    pub upstream_request: Message,
    /// The response as the client received it.
    pub client_response: Message,
    /// The local response, if the plugin sent one.
    pub local_response: Option<LocalResponse>,
    /// The last action of the request direction.
    pub request_action: Option<Action>,
    /// The last action of the response direction.
    pub response_action: Option<Action>,
    /// How the stream ended early, if it did.
    pub ended: Option<EndReason>,
    /// The route in the stream's route cache at the end (with a route table).
    pub route: Option<SelectedRoute>,
    /// The cluster the upstream request went to (with a route table).
    pub upstream_cluster: Option<String>,
    /// The plugin's VM had failed and its fail policy handled the stream
    /// (closed: see `local_response` or `ended`).
    pub fail_policy: Option<FailPolicy>,
    /// What the plugin set with `proxy_set_property` on the stream (Envoy's
    /// filter state of the request), as leaf paths and their serialized
    /// values (the bytes the plugin passed), in path order.
    pub properties_set: Vec<(Vec<String>, Vec<u8>)>,
}

impl Host {
    /// Opens an HTTP stream on a plugin (`proxy_on_context_create`).
    /// Rebuilds the plugin's VM first if it failed and the plugin asked for
    /// rebuilds ([`PluginSpec::rebuild`](crate::PluginSpec::rebuild)).
    ///
    /// The stream goes to the plugin's newest reload (see [`Host::reload`]),
    /// on the worker [`Host::next_worker`] picks (an instance of another
    /// worker than 0, from [`Host::instances`], keeps its worker).
    pub fn http_stream(&mut self, plugin: PluginId) -> Result<HttpStream<'_>, Error> {
        let plugin = self.route_stream(plugin)?;
        self.open_http(plugin)
    }

    pub(crate) fn open_http(&mut self, plugin: PluginId) -> Result<HttpStream<'_>, Error> {
        self.rebuild_if_failed(plugin.vm)?;
        let id = self.on_vm(plugin.vm, |vm| vm.http_create(plugin.root))?;
        Ok(HttpStream { host: self, stream: StreamId { vm: plugin.vm, id } })
    }

    /// Takes up an HTTP stream opened earlier (to interleave streams). A
    /// plugin's part of a chain stream is the chain's to drive
    /// ([`Host::http_chain`]): taking it up alone is refused.
    pub fn http(&mut self, stream: StreamId) -> Result<HttpStream<'_>, Error> {
        let state = self
            .vm(stream.vm)?
            .state()
            .http
            .get(&stream.id)
            .ok_or_else(|| Error::NotFound(format!("HTTP stream {}", stream.id)))?;
        if state.chained {
            return Err(Error::InvalidArgument(format!(
                "HTTP stream {} is one plugin's part of a chain stream: drive the chain (Host::http_chain)",
                stream.id
            )));
        }
        Ok(HttpStream { host: self, stream })
    }

    /// Opens a TCP connection on a plugin (`on_context_create`, `on_new_connection`).
    /// Rebuilds a failed VM first, as [`Host::http_stream`] does.
    pub fn tcp_stream(&mut self, plugin: PluginId) -> Result<TcpStream<'_>, Error> {
        let plugin = self.route_stream(plugin)?;
        self.open_tcp(plugin)
    }

    pub(crate) fn open_tcp(&mut self, plugin: PluginId) -> Result<TcpStream<'_>, Error> {
        self.rebuild_if_failed(plugin.vm)?;
        let (id, _) = self.on_vm(plugin.vm, |vm| vm.tcp_create(plugin.root))?;
        Ok(TcpStream { host: self, stream: StreamId { vm: plugin.vm, id } })
    }

    /// Takes up a TCP connection opened earlier.
    pub fn tcp(&mut self, stream: StreamId) -> Result<TcpStream<'_>, Error> {
        self.vm(stream.vm)?
            .state()
            .tcp
            .get(&stream.id)
            .ok_or_else(|| Error::NotFound(format!("TCP connection {}", stream.id)))?;
        Ok(TcpStream { host: self, stream })
    }
}

impl HttpStream<'_> {
    /// The stream's id (to come back to it with [`Host::http`]).
    pub fn id(&self) -> StreamId {
        self.stream
    }

    /// The host.
    pub fn host(&mut self) -> &mut Host {
        self.host
    }

    fn state(&self) -> &HttpStreamState {
        // The handle is only created for an existing stream, and streams are
        // removed only by `complete`, which consumes the handle.
        &self.host.vms[self.stream.vm].state().http[&self.stream.id]
    }

    fn drive(&mut self, f: impl FnOnce(&mut crate::vm::Vm, u32) -> Result<Action, Error>) -> Result<Action, Error> {
        let id = self.stream.id;
        let now = self.host.monotonic_ns();
        if let Some(stream) = self.host.vm(self.stream.vm)?.state_mut().http.get_mut(&id) {
            // An event from a peer restarts Envoy's stream idle timer.
            stream.last_activity_ns = now;
        }
        self.host.on_vm(self.stream.vm, |vm| f(vm, id))
    }

    /// Request headers from the client (`proxy_on_request_headers`).
    pub fn request_headers<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
        end_of_stream: bool,
    ) -> Result<Action, Error> {
        let map = headers(pairs);
        self.drive(|vm, id| vm.http_headers(id, false, map, end_of_stream))
    }

    /// A request body chunk (`proxy_on_request_body`).
    pub fn request_body(&mut self, chunk: impl AsRef<[u8]>, end_of_stream: bool) -> Result<Action, Error> {
        self.drive(|vm, id| vm.http_body(id, false, chunk.as_ref(), end_of_stream))
    }

    /// Request trailers (`proxy_on_request_trailers`).
    pub fn request_trailers<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Action, Error> {
        let map = headers(pairs);
        self.drive(|vm, id| vm.http_trailers(id, false, map))
    }

    /// Response headers from the upstream (`proxy_on_response_headers`).
    pub fn response_headers<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
        end_of_stream: bool,
    ) -> Result<Action, Error> {
        let map = headers(pairs);
        self.drive(|vm, id| vm.http_headers(id, true, map, end_of_stream))
    }

    /// A response body chunk (`proxy_on_response_body`).
    pub fn response_body(&mut self, chunk: impl AsRef<[u8]>, end_of_stream: bool) -> Result<Action, Error> {
        self.drive(|vm, id| vm.http_body(id, true, chunk.as_ref(), end_of_stream))
    }

    /// Response trailers (`proxy_on_response_trailers`).
    pub fn response_trailers<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Action, Error> {
        let map = headers(pairs);
        self.drive(|vm, id| vm.http_trailers(id, true, map))
    }

    /// The request as the upstream has received it so far.
    pub fn upstream_request(&self) -> &Message {
        &self.state().request.sent
    }

    /// The response as the client has received it so far.
    pub fn client_response(&self) -> &Message {
        &self.state().response.sent
    }

    /// The request headers as the plugin sees them now (with its edits).
    pub fn request_headers_now(&self) -> Option<&HeaderMap> {
        self.state().request.headers.as_ref()
    }

    /// The response headers as the plugin sees them now.
    pub fn response_headers_now(&self) -> Option<&HeaderMap> {
        self.state().response.headers.as_ref()
    }

    /// Request body bytes held back (buffered) by the plugin.
    pub fn buffered_request_body(&self) -> &[u8] {
        &self.state().request.body
    }

    /// Response body bytes held back by the plugin.
    pub fn buffered_response_body(&self) -> &[u8] {
        &self.state().response.body
    }

    /// The last request-direction action (`Continue` after `proxy_continue_stream`).
    pub fn request_action(&self) -> Option<Action> {
        self.state().request.action
    }

    /// The last response-direction action.
    pub fn response_action(&self) -> Option<Action> {
        self.state().response.action
    }

    /// The local response the plugin sent, if any.
    pub fn local_response(&self) -> Option<&LocalResponse> {
        self.state().local_response.as_ref()
    }

    /// Sets `request.protocol` (`HTTP/1.1`, `HTTP/2`, `HTTP/3`...; default `HTTP/1.1`).
    pub fn set_protocol(&mut self, protocol: &str) -> Result<(), Error> {
        let StreamId { vm, id } = self.stream;
        let stream = self.host.vm(vm)?.state_mut().http.get_mut(&id);
        stream.ok_or_else(|| Error::NotFound(format!("HTTP stream {id}")))?.protocol = Some(protocol.to_owned());
        Ok(())
    }

    /// The route in the stream's route cache (with a route table; re-selected
    /// on use after the cache was cleared).
    pub fn route(&self) -> Option<&SelectedRoute> {
        self.state().route.selected.as_ref()
    }

    /// The stream's route cache: selections, clears, the upstream cluster.
    pub fn route_cache(&self) -> &RouteCache {
        &self.state().route
    }

    /// The cluster the upstream request went to, once the request headers
    /// were forwarded (with a route table).
    pub fn upstream_cluster(&self) -> Option<&str> {
        self.state().route.upstream_cluster.as_deref()
    }

    /// How the stream ended early, if it did.
    pub fn ended(&self) -> Option<EndReason> {
        self.state().ended
    }

    /// Whether the plugin's fail policy handles the stream (its VM failed).
    pub fn fail_policy(&self) -> Option<FailPolicy> {
        self.state().fail_policy
    }

    /// Whether `on_done`/`on_log`/`on_delete` have run (Envoy finishes a
    /// stream once the client has the whole response, or on a reset).
    pub fn is_finished(&self) -> bool {
        self.state().finished
    }

    /// Whether nothing more can be sent through the stream: it ended early
    /// (local reply, reset) or has finished.
    pub fn is_over(&self) -> bool {
        self.ended().is_some() || self.is_finished()
    }

    /// Finishes the stream if it is not yet (`on_done`, `on_log`,
    /// `on_delete`, as when the client goes away) and returns its outcome.
    pub fn complete(self) -> Result<HttpOutcome, Error> {
        let StreamId { vm, id } = self.stream;
        self.host.on_vm(vm, |vm| vm.finish_stream(id))?;
        take_http_outcome(self.host, self.stream)
    }
}

/// Removes a (finished) HTTP stream's state and returns its outcome.
pub(crate) fn take_http_outcome(host: &mut Host, stream: StreamId) -> Result<HttpOutcome, Error> {
    let StreamId { vm, id } = stream;
    let state =
        host.vm(vm)?.state_mut().http.remove(&id).ok_or_else(|| Error::NotFound(format!("HTTP stream {id}")))?;
    Ok(HttpOutcome {
        context_id: id,
        upstream_request: state.request.sent,
        client_response: state.response.sent,
        local_response: state.local_response,
        request_action: state.request.action,
        response_action: state.response.action,
        ended: state.ended,
        route: state.route.selected,
        upstream_cluster: state.route.upstream_cluster,
        fail_policy: state.fail_policy,
        properties_set: state.properties_set,
    })
}

/// An open TCP connection, borrowed from its [`Host`].
#[derive(Debug)]
pub struct TcpStream<'h> {
    host: &'h mut Host,
    stream: StreamId,
}

/// Everything about a finished TCP connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpOutcome {
    /// The connection's context id.
    pub context_id: u32,
    /// Bytes forwarded to the upstream.
    pub sent_upstream: Vec<u8>,
    /// Bytes forwarded to the client.
    pub sent_downstream: Vec<u8>,
    /// The plugin closed these sides.
    pub closed_by_plugin: Vec<crate::types::StreamType>,
    /// The plugin's VM had failed and its fail policy handled the
    /// connection (closed: the host closed it).
    pub fail_policy: Option<FailPolicy>,
}

impl TcpStream<'_> {
    /// The connection's id.
    pub fn id(&self) -> StreamId {
        self.stream
    }

    fn state(&self) -> &TcpStreamState {
        &self.host.vms[self.stream.vm].state().tcp[&self.stream.id]
    }

    /// The action `proxy_on_new_connection` returned.
    pub fn new_connection_action(&self) -> Option<Action> {
        self.state().new_connection_action
    }

    /// Data from the client (`proxy_on_downstream_data`).
    pub fn downstream_data(&mut self, data: impl AsRef<[u8]>, end_of_stream: bool) -> Result<Action, Error> {
        let id = self.stream.id;
        self.host.on_vm(self.stream.vm, |vm| vm.tcp_data(id, false, data.as_ref(), end_of_stream))
    }

    /// Data from the upstream (`proxy_on_upstream_data`).
    pub fn upstream_data(&mut self, data: impl AsRef<[u8]>, end_of_stream: bool) -> Result<Action, Error> {
        let id = self.stream.id;
        self.host.on_vm(self.stream.vm, |vm| vm.tcp_data(id, true, data.as_ref(), end_of_stream))
    }

    /// The client closed (`proxy_on_downstream_connection_close`); the
    /// connection then finishes.
    pub fn close_downstream(&mut self, peer: PeerType) -> Result<(), Error> {
        let id = self.stream.id;
        self.host.on_vm(self.stream.vm, |vm| vm.tcp_close(id, false, peer))
    }

    /// The upstream closed (`proxy_on_upstream_connection_close`).
    pub fn close_upstream(&mut self, peer: PeerType) -> Result<(), Error> {
        let id = self.stream.id;
        self.host.on_vm(self.stream.vm, |vm| vm.tcp_close(id, true, peer))
    }

    /// Bytes forwarded to the upstream so far.
    pub fn sent_upstream(&self) -> &[u8] {
        &self.state().downstream.forwarded
    }

    /// Bytes forwarded to the client so far.
    pub fn sent_downstream(&self) -> &[u8] {
        &self.state().upstream.forwarded
    }

    /// Bytes from the client the plugin holds back.
    pub fn buffered_downstream(&self) -> &[u8] {
        &self.state().downstream.buffer
    }

    /// Whether the connection finished (`on_done`/`on_log`/`on_delete`).
    pub fn is_finished(&self) -> bool {
        self.state().finished
    }

    /// Whether the plugin's fail policy handles the connection (its VM failed).
    pub fn fail_policy(&self) -> Option<FailPolicy> {
        self.state().fail_policy
    }

    /// The sides the plugin asked to close (`proxy_close_stream`).
    pub fn closed_by_plugin(&self) -> Vec<crate::types::StreamType> {
        self.state().close_requested.clone()
    }

    /// Closes the client side if still open (`Remote`), finishing the
    /// connection, and returns its outcome.
    pub fn complete(mut self) -> Result<TcpOutcome, Error> {
        self.close_downstream(PeerType::Remote)?;
        take_tcp_outcome(self.host, self.stream)
    }
}

/// Removes a (finished) TCP connection's state and returns its outcome.
pub(crate) fn take_tcp_outcome(host: &mut Host, stream: StreamId) -> Result<TcpOutcome, Error> {
    let StreamId { vm, id } = stream;
    let state =
        host.vm(vm)?.state_mut().tcp.remove(&id).ok_or_else(|| Error::NotFound(format!("TCP connection {id}")))?;
    Ok(TcpOutcome {
        context_id: id,
        sent_upstream: state.downstream.forwarded,
        sent_downstream: state.upstream.forwarded,
        closed_by_plugin: state.close_requested,
        fail_policy: state.fail_policy,
    })
}
