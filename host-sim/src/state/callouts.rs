//! HTTP and gRPC callouts a plugin made, kept until the test answers them.

use std::time::Duration;

use super::headers::HeaderMap;
use crate::types::Status;

/// An HTTP call made with `proxy_http_call`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCallout {
    /// Index of the VM that made the call.
    pub vm: usize,
    /// The token the guest got back.
    pub token: u32,
    /// The effective context that issued the call.
    pub context_id: u32,
    /// The root context that owns the call and receives the response.
    pub root_id: u32,
    /// The upstream (cluster) name.
    pub upstream: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body.
    pub body: Vec<u8>,
    /// Request trailers.
    pub trailers: HeaderMap,
    /// Timeout (zero: none).
    pub timeout: Duration,
}

/// What kind of gRPC exchange a token names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrpcKind {
    /// A unary call (`proxy_grpc_call`).
    Call,
    /// A stream (`proxy_grpc_stream`).
    Stream,
}

/// A gRPC call or stream a plugin opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcCallout {
    /// Index of the VM.
    pub vm: usize,
    /// The token (odd for calls, even for streams).
    pub token: u32,
    /// Call or stream.
    pub kind: GrpcKind,
    /// The effective context that opened it.
    pub context_id: u32,
    /// The owning root context.
    pub root_id: u32,
    /// Upstream (cluster name or serialized `GrpcService`).
    pub upstream: Vec<u8>,
    /// Service name.
    pub service: String,
    /// Method name.
    pub method: String,
    /// Initial metadata.
    pub initial_metadata: HeaderMap,
    /// Messages sent (the request for a call; every `proxy_grpc_send` for a stream).
    pub messages: Vec<Vec<u8>>,
    /// Whether the plugin half-closed (end_stream on send, or `proxy_grpc_close`).
    pub closed_by_plugin: bool,
    /// Whether the plugin cancelled it.
    pub cancelled: bool,
    /// Timeout of a unary call.
    pub timeout: Duration,
}

/// How a callout ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalloutEnd {
    /// The test answered it (an HTTP response, a gRPC reply, or a gRPC
    /// close with a status).
    Answered,
    /// The test failed it (an HTTP reset).
    Failed,
    /// Its timeout passed on the virtual clock.
    TimedOut,
    /// The plugin cancelled it (`proxy_grpc_cancel`, `proxy_grpc_close` of a call).
    Cancelled,
    /// It went with its plugin or VM (deleted, failed, rebuilt) unanswered.
    Dropped,
}

/// Finished callouts kept: the newest, at most this many of each kind...
const HISTORY: usize = 1000;
/// ...and at most this many bytes of bodies, messages and headers in all.
const HISTORY_BYTES: usize = 16 << 20;

/// Finished callouts, oldest first, within [`HISTORY`] and [`HISTORY_BYTES`].
#[derive(Debug)]
struct History<T> {
    items: std::collections::VecDeque<(T, CalloutEnd, usize)>,
    bytes: usize,
}

impl<T> Default for History<T> {
    fn default() -> History<T> {
        History { items: Default::default(), bytes: 0 }
    }
}

impl<T: Clone> History<T> {
    fn push(&mut self, item: T, end: CalloutEnd, weight: usize) {
        self.items.push_back((item, end, weight));
        self.bytes += weight;
        while self.items.len() > HISTORY || (self.bytes > HISTORY_BYTES && self.items.len() > 1) {
            if let Some((_, _, w)) = self.items.pop_front() {
                self.bytes -= w;
            }
        }
    }

    fn to_vec(&self) -> Vec<(T, CalloutEnd)> {
        self.items.iter().map(|(item, end, _)| (item.clone(), *end)).collect()
    }
}

/// Every outstanding callout of a host, and the newest finished ones.
#[derive(Debug, Default)]
pub struct Callouts {
    http: Vec<HttpCallout>,
    grpc: Vec<GrpcCallout>,
    finished_http: History<HttpCallout>,
    finished_grpc: History<GrpcCallout>,
    next_http: u32,
    next_grpc_call: u32,
    next_grpc_stream: u32,
    clusters: Option<Vec<String>>,
    /// When HTTP calls and unary gRPC calls time out.
    deadlines: Vec<Deadline>,
}

/// What kind of callout a deadline belongs to (HTTP and gRPC tokens are
/// counted separately).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeadlineKind {
    /// An HTTP call.
    Http,
    /// A unary gRPC call.
    Grpc,
}

/// When a callout times out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// HTTP or gRPC.
    pub kind: DeadlineKind,
    /// VM index.
    pub vm: usize,
    /// The callout's token.
    pub token: u32,
    /// Monotonic time of the timeout, ns.
    pub at_ns: u64,
}

/// The pseudo-headers Envoy requires on an HTTP call.
const REQUIRED: [&[u8]; 3] = [b":method", b":path", b":authority"];

impl Callouts {
    /// Restricts upstreams to a known set of cluster names (default: any).
    pub fn set_clusters(&mut self, clusters: Option<Vec<String>>) {
        self.clusters = clusters;
    }

    fn check_cluster(&self, name: &str) -> bool {
        self.clusters.as_ref().is_none_or(|c| c.iter().any(|k| k == name))
    }

    /// Records an HTTP call after Envoy's checks (`envoy` true): a known
    /// upstream cluster and the `:method`, `:path` and `:authority`
    /// pseudo-headers; Kong's (`envoy` false) need only `:method` and
    /// `:path`, the upstream being a `host:port`. Returns the token.
    pub fn http_call(&mut self, mut call: HttpCallout, envoy: bool) -> Result<u32, Status> {
        self.check_http(&call.upstream, &call.headers, envoy)?;
        if !call.body.is_empty() {
            call.headers.replace(b"content-length", call.body.len().to_string().as_bytes());
        }
        self.next_http = self.next_http.wrapping_add(1).max(1);
        call.token = self.next_http;
        let token = call.token;
        self.http.push(call);
        Ok(token)
    }

    /// Envoy's checks of an HTTP call (see [`Callouts::http_call`]), to run
    /// before its body is copied.
    pub fn check_http(&self, upstream: &str, headers: &HeaderMap, envoy: bool) -> Result<(), Status> {
        let required = if envoy { &REQUIRED[..] } else { &REQUIRED[..2] };
        let known = !envoy || self.check_cluster(upstream);
        if !known || required.iter().any(|h| headers.get(h).is_none()) {
            return Err(Status::BadArgument);
        }
        Ok(())
    }

    /// The callouts VM `vm` has pending and the bytes the host holds for
    /// them (HTTP: upstream, headers, body, trailers; gRPC: upstream,
    /// service, method, metadata, messages).
    pub fn held(&self, vm: usize) -> (usize, usize) {
        let http = self
            .http
            .iter()
            .filter(|c| c.vm == vm)
            .map(|c| c.upstream.len() + c.headers.byte_size() + c.body.len() + c.trailers.byte_size());
        let grpc = self.grpc.iter().filter(|g| g.vm == vm).map(|g| {
            let messages: usize = g.messages.iter().map(Vec::len).sum();
            g.upstream.len() + g.service.len() + g.method.len() + g.initial_metadata.byte_size() + messages
        });
        let sizes: Vec<usize> = http.chain(grpc).collect();
        (sizes.len(), sizes.iter().sum())
    }

    /// Opens a gRPC call or stream; calls get odd tokens, streams even ones.
    pub fn grpc_open(&mut self, mut callout: GrpcCallout) -> Result<u32, Status> {
        let name = String::from_utf8_lossy(&callout.upstream).into_owned();
        if !self.check_cluster(&name) {
            return Err(Status::ParseFailure);
        }
        callout.token = match callout.kind {
            GrpcKind::Call => {
                self.next_grpc_call += 1;
                self.next_grpc_call * 2 - 1
            }
            GrpcKind::Stream => {
                self.next_grpc_stream += 1;
                self.next_grpc_stream * 2
            }
        };
        let token = callout.token;
        self.grpc.push(callout);
        Ok(token)
    }

    fn grpc_mut(&mut self, vm: usize, token: u32) -> Result<&mut GrpcCallout, Status> {
        self.grpc.iter_mut().find(|g| g.vm == vm && g.token == token).ok_or(Status::NotFound)
    }

    /// `proxy_grpc_send`: only on streams.
    pub fn grpc_send(&mut self, vm: usize, token: u32, message: &[u8], end_stream: bool) -> Result<(), Status> {
        if token % 2 == 1 {
            return Err(Status::BadArgument);
        }
        let g = self.grpc_mut(vm, token)?;
        g.messages.push(message.to_vec());
        g.closed_by_plugin |= end_stream;
        Ok(())
    }

    /// `proxy_grpc_cancel`: the exchange is forgotten.
    pub fn grpc_cancel(&mut self, vm: usize, token: u32) -> Result<(), Status> {
        self.grpc_mut(vm, token)?.cancelled = true;
        self.take_grpc(vm, token, CalloutEnd::Cancelled);
        Ok(())
    }

    /// `proxy_grpc_close`: half-closes a stream (a call is cancelled).
    pub fn grpc_close(&mut self, vm: usize, token: u32) -> Result<(), Status> {
        if token % 2 == 1 {
            return self.grpc_cancel(vm, token);
        }
        self.grpc_mut(vm, token)?.closed_by_plugin = true;
        Ok(())
    }

    /// Pending HTTP calls.
    pub fn http(&self) -> &[HttpCallout] {
        &self.http
    }

    /// Open gRPC calls and streams.
    pub fn grpc(&self) -> &[GrpcCallout] {
        &self.grpc
    }

    /// Arms a callout's timeout.
    pub fn set_deadline(&mut self, deadline: Deadline) {
        self.deadlines.push(deadline);
    }

    fn disarm(&mut self, kind: DeadlineKind, vm: usize, token: u32) {
        self.deadlines.retain(|d| !(d.kind == kind && d.vm == vm && d.token == token));
    }

    /// When a callout times out (monotonic ns), if it has a timeout.
    pub fn deadline(&self, kind: DeadlineKind, vm: usize, token: u32) -> Option<u64> {
        self.deadlines.iter().find(|d| d.kind == kind && d.vm == vm && d.token == token).map(|d| d.at_ns)
    }

    /// The pending callout that times out first, no later than `until_ns`.
    pub fn next_timeout(&self, until_ns: u64) -> Option<Deadline> {
        self.deadlines.iter().filter(|d| d.at_ns <= until_ns).min_by_key(|d| (d.at_ns, d.vm, d.kind, d.token)).copied()
    }

    /// The root context that owns the callout a deadline is for.
    pub fn owner(&self, deadline: Deadline) -> Option<u32> {
        let Deadline { kind, vm, token, .. } = deadline;
        match kind {
            DeadlineKind::Http => self.http.iter().find(|c| c.vm == vm && c.token == token).map(|c| c.root_id),
            DeadlineKind::Grpc => self.grpc.iter().find(|c| c.vm == vm && c.token == token).map(|c| c.root_id),
        }
    }

    /// Removes an HTTP call as it ends (disarming its timeout), into the history.
    pub fn take_http(&mut self, vm: usize, token: u32, end: CalloutEnd) -> Option<HttpCallout> {
        self.disarm(DeadlineKind::Http, vm, token);
        let i = self.http.iter().position(|c| c.vm == vm && c.token == token)?;
        let call = self.http.remove(i);
        let weight = call.body.len() + call.headers.byte_size() + call.trailers.byte_size();
        self.finished_http.push(call.clone(), end, weight);
        Some(call)
    }

    /// Forgets every callout of a VM (it was replaced by a new instance).
    pub fn forget_vm(&mut self, vm: usize) {
        let http: Vec<u32> = self.http.iter().filter(|c| c.vm == vm).map(|c| c.token).collect();
        let grpc: Vec<u32> = self.grpc.iter().filter(|g| g.vm == vm).map(|g| g.token).collect();
        for token in http {
            self.take_http(vm, token, CalloutEnd::Dropped);
        }
        for token in grpc {
            self.take_grpc(vm, token, CalloutEnd::Dropped);
        }
        self.deadlines.retain(|d| d.vm != vm);
    }

    /// HTTP calls that ended, oldest first, with how (the newest 1000,
    /// within 16 MiB of bodies and headers).
    pub fn finished_http(&self) -> Vec<(HttpCallout, CalloutEnd)> {
        self.finished_http.to_vec()
    }

    /// gRPC calls and streams that ended, oldest first, with how (as
    /// [`Callouts::finished_http`]).
    pub fn finished_grpc(&self) -> Vec<(GrpcCallout, CalloutEnd)> {
        self.finished_grpc.to_vec()
    }

    /// A gRPC exchange by token.
    pub fn grpc_get(&self, vm: usize, token: u32) -> Option<&GrpcCallout> {
        self.grpc.iter().find(|g| g.vm == vm && g.token == token)
    }

    /// Removes a gRPC exchange once it ends (disarming its timeout), into the history.
    pub fn take_grpc(&mut self, vm: usize, token: u32, end: CalloutEnd) -> Option<GrpcCallout> {
        self.disarm(DeadlineKind::Grpc, vm, token);
        let i = self.grpc.iter().position(|g| g.vm == vm && g.token == token)?;
        let call = self.grpc.remove(i);
        let weight = call.messages.iter().map(Vec::len).sum::<usize>() + call.initial_metadata.byte_size();
        self.finished_grpc.push(call.clone(), end, weight);
        Some(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(headers: &[(&str, &str)]) -> HttpCallout {
        HttpCallout {
            vm: 0,
            token: 0,
            context_id: 2,
            root_id: 1,
            upstream: "auth".into(),
            headers: HeaderMap::from_pairs(headers.iter().copied()),
            body: b"hi".to_vec(),
            trailers: HeaderMap::new(),
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn http_calls_are_validated_and_numbered() {
        let mut c = Callouts::default();
        assert_eq!(c.http_call(call(&[(":method", "GET"), (":path", "/")]), true), Err(Status::BadArgument));
        let ok = [(":method", "GET"), (":path", "/"), (":authority", "auth")];
        assert_eq!(c.http_call(call(&ok), true), Ok(1));
        assert_eq!(c.http_call(call(&ok), true), Ok(2));
        assert_eq!(c.http()[0].headers.get(b"content-length"), Some(&b"2"[..]));
        c.set_clusters(Some(vec!["other".into()]));
        assert_eq!(c.http_call(call(&ok), true), Err(Status::BadArgument));
        let at = |token, at_ns| Deadline { kind: DeadlineKind::Http, vm: 0, token, at_ns };
        c.set_deadline(at(1, 500));
        c.set_deadline(at(2, 300));
        assert_eq!(c.next_timeout(200), None);
        assert_eq!(c.next_timeout(1000), Some(at(2, 300)));
        assert_eq!(c.take_http(0, 1, CalloutEnd::Answered).unwrap().token, 1);
        assert!(c.take_http(0, 1, CalloutEnd::Answered).is_none());
        assert_eq!(c.next_timeout(1000), Some(at(2, 300)));
        c.take_http(0, 2, CalloutEnd::Failed);
        assert_eq!(c.next_timeout(u64::MAX), None, "answered calls do not time out");
    }

    #[test]
    fn kong_calls_skip_the_cluster_and_authority_checks() {
        let mut c = Callouts::default();
        c.set_clusters(Some(vec!["known".into()]));
        let no_authority = [(":method", "GET"), (":path", "/")];
        assert_eq!(c.http_call(call(&no_authority), true), Err(Status::BadArgument));
        assert_eq!(c.http_call(call(&no_authority), false), Ok(1), "host:port upstreams, no cluster table");
        assert_eq!(c.http_call(call(&[(":path", "/")]), false), Err(Status::BadArgument), "`:method` is required");
    }

    #[test]
    fn grpc_deadlines_are_disarmed_when_the_call_ends_and_vms_forget_their_callouts() {
        let mut c = Callouts::default();
        let grpc = |token, at_ns| Deadline { kind: DeadlineKind::Grpc, vm: 0, token, at_ns };
        c.set_deadline(grpc(1, 100));
        c.set_deadline(Deadline { kind: DeadlineKind::Http, vm: 0, token: 1, at_ns: 100 });
        assert_eq!(c.next_timeout(100).map(|d| d.kind), Some(DeadlineKind::Http), "same time: HTTP first");
        c.take_grpc(0, 1, CalloutEnd::Answered);
        c.take_http(0, 1, CalloutEnd::Answered);
        assert_eq!(c.next_timeout(u64::MAX), None);
        c.http_call(call(&[(":method", "GET"), (":path", "/"), (":authority", "a")]), true).unwrap();
        c.set_deadline(grpc(3, 5));
        c.forget_vm(0);
        assert!(c.http().is_empty() && c.next_timeout(u64::MAX).is_none());
    }

    #[test]
    fn grpc_tokens_and_rules() {
        let mut c = Callouts::default();
        let base = GrpcCallout {
            vm: 0,
            token: 0,
            kind: GrpcKind::Call,
            context_id: 1,
            root_id: 1,
            upstream: b"grpc".to_vec(),
            service: "svc".into(),
            method: "M".into(),
            initial_metadata: HeaderMap::new(),
            messages: vec![],
            closed_by_plugin: false,
            cancelled: false,
            timeout: Duration::ZERO,
        };
        let call = c.grpc_open(base.clone()).unwrap();
        let stream = c.grpc_open(GrpcCallout { kind: GrpcKind::Stream, ..base }).unwrap();
        assert_eq!((call % 2, stream % 2), (1, 0));
        assert_eq!(c.grpc_send(0, call, b"x", false), Err(Status::BadArgument));
        assert_eq!(c.grpc_send(0, 100, b"x", false), Err(Status::NotFound));
        c.grpc_send(0, stream, b"x", true).unwrap();
        assert!(c.grpc_get(0, stream).unwrap().closed_by_plugin);
        c.grpc_cancel(0, call).unwrap();
        assert!(c.grpc_get(0, call).is_none());
    }
}
