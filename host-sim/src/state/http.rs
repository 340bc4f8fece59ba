//! The state of one HTTP stream: per direction, what the plugin sees now and
//! what has been forwarded to the next hop (the upstream for the request, the
//! client for the response), plus the local response and how the stream ended.

use super::headers::HeaderMap;
use crate::types::Action;

/// Headers, body and trailers as one side of the stream saw them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// Headers, once sent.
    pub headers: Option<HeaderMap>,
    /// Every body byte sent, concatenated.
    pub body: Vec<u8>,
    /// Trailers, if any were sent.
    pub trailers: Option<HeaderMap>,
    /// Whether the end of stream was sent.
    pub end_of_stream: bool,
}

/// Where a direction is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// A headers callback stopped (all iteration: later body is buffered without callbacks).
    Headers,
    /// A body callback stopped (later chunks still reach the plugin, accumulated).
    Body,
    /// A trailers callback stopped.
    Trailers,
}

/// One direction (request or response) of an HTTP stream.
#[derive(Clone, Debug, Default)]
pub struct Flow {
    /// The headers as the plugin sees (and edits) them; `None` until they arrive.
    pub headers: Option<HeaderMap>,
    /// Body bytes received but not yet forwarded.
    pub body: Vec<u8>,
    /// The trailers as the plugin sees them.
    pub trailers: Option<HeaderMap>,
    /// What the next hop received.
    pub sent: Message,
    /// The peer has sent its end of stream.
    pub received_end: bool,
    /// Where the direction is stopped, if it is.
    pub stopped: Option<Stop>,
    /// Body data arrived while stopped at headers.
    pub body_pending: bool,
    /// Trailers that arrived while stopped.
    pub pending_trailers: Option<HeaderMap>,
    /// The last callback's action (`Continue` again after `proxy_continue_stream`).
    pub action: Option<Action>,
    /// The body buffer is readable: a body callback of this direction is running.
    pub body_exposed: bool,
    /// A trailers map was opened for adding during the last body callback.
    pub trailers_addable: bool,
    /// The stream was ended early (`ContinueAndEndStream`): later data is dropped.
    pub ended_early: bool,
    /// Kong profile: request headers the plugin removed that still reach the
    /// upstream (nginx only marks them deleted; see `abi::kong`), in the
    /// order they were deleted.
    pub kong_deleted: Vec<Deleted>,
}

/// A request header nginx marked deleted: it keeps its place in nginx's
/// header list, before the visible entry it preceded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deleted {
    /// How many visible entries precede it (kept up to date as more are deleted).
    pub before: usize,
    /// The header name (lowercase).
    pub key: Vec<u8>,
    /// Its value.
    pub value: Vec<u8>,
}

impl Flow {
    /// Whether the plugin can read and modify the body buffer now: while a
    /// body callback of this direction runs, and after one returned
    /// `StopIterationAndBuffer` from any callback of the stream (a callout
    /// response, a tick's effective context...) until the direction resumes,
    /// as Envoy then serves the filter manager's buffered body
    /// (`buffering_request_body_` in its `Context::getBuffer`).
    pub fn body_available(&self) -> bool {
        self.body_exposed || (self.stopped == Some(Stop::Body) && self.action == Some(Action::StopIterationAndBuffer))
    }

    /// Kong profile: nginx marks the visible request header entries at
    /// `indices` (ascending, in the current map) deleted; the caller then
    /// removes them from the map. Entries added later go after them, as
    /// nginx appends to its list.
    pub fn kong_delete(&mut self, indices: &[usize]) {
        let Some(headers) = &self.headers else { return };
        for (removed, &index) in indices.iter().enumerate() {
            let Some((key, value)) = headers.entries().get(index) else { continue };
            // Its place among the entries still visible once the earlier ones are gone.
            let before = index - removed;
            for dead in &mut self.kong_deleted {
                if dead.before > before {
                    dead.before -= 1;
                }
            }
            self.kong_deleted.push(Deleted { before, key: key.to_ascii_lowercase(), value: value.clone() });
        }
    }

    /// Forwards the current headers (on Kong with the deleted entries in
    /// their places: nginx's `proxy_pass` copies those too).
    pub fn forward_headers(&mut self) {
        self.sent.headers = self.headers.as_ref().map(|visible| {
            if self.kong_deleted.is_empty() {
                return visible.clone();
            }
            let mut dead: Vec<&Deleted> = self.kong_deleted.iter().collect();
            // Stable: entries deleted at one place keep their order.
            dead.sort_by_key(|d| d.before);
            let mut dead = dead.into_iter().peekable();
            let mut all = Vec::with_capacity(visible.entries().len() + self.kong_deleted.len());
            for (at, entry) in visible.entries().iter().enumerate() {
                while let Some(d) = dead.next_if(|d| d.before <= at) {
                    all.push((d.key.clone(), d.value.clone()));
                }
                all.push(entry.clone());
            }
            all.extend(dead.map(|d| (d.key.clone(), d.value.clone())));
            HeaderMap::from_pairs(all)
        });
        if self.received_end && self.body.is_empty() && self.pending_trailers.is_none() && !self.body_pending {
            self.sent.end_of_stream = true;
        }
    }

    /// Forwards the buffered body (and the end of stream when it was received
    /// and no trailers are pending).
    pub fn forward_body(&mut self) {
        self.sent.body.append(&mut self.body);
        if self.received_end && self.pending_trailers.is_none() {
            if let Some(t) = self.trailers.as_ref().filter(|t| self.trailers_addable && !t.is_empty()) {
                self.sent.trailers = Some(t.clone());
            }
            self.sent.end_of_stream = true;
        }
    }

    /// Forwards the trailers, ending the direction.
    pub fn forward_trailers(&mut self) {
        self.sent.body.append(&mut self.body);
        self.sent.trailers = self.trailers.clone();
        self.sent.end_of_stream = true;
    }

    /// Closes the trailers map opened for adding during a body callback if the
    /// plugin left it empty.
    pub fn close_addable_trailers(&mut self) {
        if self.trailers_addable && self.trailers.as_ref().is_some_and(HeaderMap::is_empty) {
            self.trailers = None;
            self.trailers_addable = false;
        }
    }
}

/// A local response the plugin sent with `proxy_send_local_response`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalResponse {
    /// HTTP status code.
    pub status_code: u32,
    /// Status code details (Envoy's `response.code_details`).
    pub details: String,
    /// Body.
    pub body: Vec<u8>,
    /// Extra headers.
    pub headers: HeaderMap,
    /// gRPC status, or `None` when the guest passed -1.
    pub grpc_status: Option<u32>,
    /// The request was a gRPC request: the client gets Envoy's trailers-only
    /// gRPC reply instead of an HTTP one (see [`LocalResponse::client_headers`]).
    pub grpc_request: bool,
}

impl LocalResponse {
    /// The response headers a client receives, as Envoy's `sendLocalReply`
    /// builds them (`source/common/http/utility.cc`):
    ///
    /// - HTTP: `:status`, the plugin's headers, `content-length` and (for a
    ///   body) `content-type: text/plain`. The gRPC status is not used.
    /// - gRPC request: a trailers-only reply: `:status 200`, the plugin's
    ///   headers, `content-type: application/grpc`, `grpc-status` (unless the
    ///   plugin set one: its status if it is one, 0 to 16, or the HTTP status mapped as
    ///   `Grpc::Utility::httpToGrpcStatus` maps it), `grpc-message` (the body
    ///   without one trailing newline, percent-encoded), no `content-length`
    ///   and no body.
    pub fn client_headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        if self.grpc_request {
            h.add(b":status", b"200");
            for (k, v) in self.headers.entries() {
                h.add(k, v);
            }
            h.replace(b"content-type", b"application/grpc");
            if h.get(b"grpc-status").is_none() {
                // A gRPC status the plugin gave counts when it is one (0 to 16).
                let given = self.grpc_status.filter(|s| *s <= 16);
                let status = given.unwrap_or_else(|| http_to_grpc_status(self.status_code));
                h.add(b"grpc-status", status.to_string().as_bytes());
            }
            let message = self.body.strip_suffix(b"\n").unwrap_or(&self.body);
            if !message.is_empty() {
                h.replace(b"grpc-message", &percent_encode(message));
            }
            h.remove(b"content-length");
            return h;
        }
        h.add(b":status", self.status_code.to_string().as_bytes());
        for (k, v) in self.headers.entries() {
            h.add(k, v);
        }
        if !self.body.is_empty() && h.get(b"content-type").is_none() {
            h.add(b"content-type", b"text/plain");
        }
        h.replace(b"content-length", self.body.len().to_string().as_bytes());
        h
    }

    /// The body the client receives: none for a gRPC request (its message
    /// is in `grpc-message`).
    pub fn client_body(&self) -> &[u8] {
        if self.grpc_request { &[] } else { &self.body }
    }
}

/// The details of Envoy's reply to a stream idle for `stream_idle_timeout`.
pub const STREAM_IDLE_TIMEOUT_DETAILS: &str = "stream_idle_timeout";

impl HttpStreamState {
    /// Envoy's reply when the stream idle timeout fires before the response
    /// started (`ConnectionManagerImpl::ActiveStream::onIdleTimeout`): 504
    /// when the whole request was received (`maybeRequestTimeoutCode`), 408
    /// otherwise, body `stream timeout`, details `stream_idle_timeout`.
    pub fn idle_timeout_reply(&self) -> LocalResponse {
        LocalResponse {
            status_code: if self.request.received_end { 504 } else { 408 },
            details: STREAM_IDLE_TIMEOUT_DETAILS.to_owned(),
            body: b"stream timeout".to_vec(),
            headers: HeaderMap::new(),
            grpc_status: None,
            grpc_request: is_grpc_request(self.request.headers.as_ref()),
        }
    }
}

/// Envoy's `Grpc::Utility::httpToGrpcStatus` (`source/common/grpc/status.cc`).
pub fn http_to_grpc_status(http_status: u32) -> u32 {
    match http_status {
        400 => 13,                   // INTERNAL
        401 => 16,                   // UNAUTHENTICATED
        403 => 7,                    // PERMISSION_DENIED
        404 => 12,                   // UNIMPLEMENTED
        429 | 502 | 503 | 504 => 14, // UNAVAILABLE
        _ => 2,                      // UNKNOWN
    }
}

/// Envoy's `Http::Utility::PercentEncoding::encode` for `grpc-message`:
/// bytes outside printable ASCII, and `%`, become `%XX`.
fn percent_encode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for &b in text {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// Whether request headers are a gRPC request as Envoy decides
/// (`Grpc::Common::isGrpcRequestHeaders`): a `:path`, and `content-type`
/// `application/grpc`, `application/grpc+<codec>` or `application/grpc;...`
/// (gRPC-Web is not gRPC).
pub fn is_grpc_request(headers: Option<&HeaderMap>) -> bool {
    let Some(headers) = headers else { return false };
    let Some(content_type) = headers.get(b"content-type") else { return false };
    headers.get(b":path").is_some()
        && (content_type == b"application/grpc"
            || content_type.starts_with(b"application/grpc+")
            || content_type.starts_with(b"application/grpc;"))
}

/// How a stream ended before both directions completed normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The plugin sent a local response.
    LocalResponse,
    /// The stream was reset (`proxy_close_stream`, or a local response after the
    /// response had started).
    Reset,
}

/// An HTTP stream.
#[derive(Clone, Debug, Default)]
pub struct HttpStreamState {
    /// The request direction.
    pub request: Flow,
    /// The response direction.
    pub response: Flow,
    /// The local response, if one was sent.
    pub local_response: Option<LocalResponse>,
    /// Why the stream ended early.
    pub ended: Option<EndReason>,
    /// `send_local_response` during the running callback forces a stop.
    pub stop_next_iteration: bool,
    /// `on_done`/`on_log`/`on_delete` ran.
    pub finished: bool,
    /// How often the plugin cleared the route cache (ABI 0.1.0 `proxy_clear_route_cache`).
    pub route_cache_clears: u32,
    /// The stream's route cache (see [`super::routes`]).
    pub route: super::routes::RouteCache,
    /// Wall time when the request headers arrived (`request.time`), ns.
    pub started_ns: Option<u64>,
    /// `request.protocol` (`HTTP/1.1` unless the test set another).
    pub protocol: Option<String>,
    /// The plugin's fail policy handled this stream (its VM had failed).
    pub fail_policy: Option<crate::failure::FailPolicy>,
    /// What the plugin set with `proxy_set_property` on the stream, kept
    /// when the stream's context is deleted (leaf paths and serialized values).
    pub properties_set: Vec<(Vec<String>, Vec<u8>)>,
    /// Monotonic time of the stream's last event from a peer (the client's
    /// request parts, the upstream's response parts), ns: Envoy's stream idle
    /// timer restarts there.
    pub last_activity_ns: u64,
    /// The idle timeout fired (it fires once).
    pub idle_timed_out: bool,
    /// The stream is one plugin's part of a filter chain (see
    /// [`crate::chain`]): it finishes with the whole chain, and its local
    /// replies are the chain's to route.
    pub chained: bool,
    /// A chained stream's plugin sent a local reply the chain has not
    /// routed yet (`local_response` holds it).
    pub reply_deferred: bool,
    /// The chain passes this stream's own local reply through its response
    /// callbacks (response events are taken although the stream ended).
    pub reply_through_chain: bool,
    /// A chained stream after the first: its route cache and start time
    /// come from the previous plugin's stream (Envoy routes a stream once,
    /// for the whole filter chain), not from its own request headers.
    pub route_inherited: bool,
}

impl HttpStreamState {
    /// The flow of a direction.
    pub fn flow_mut(&mut self, response: bool) -> &mut Flow {
        if response { &mut self.response } else { &mut self.request }
    }

    /// Whether the client has the whole response (or the stream ended): Envoy
    /// then destroys the stream.
    pub fn is_complete(&self) -> bool {
        self.ended == Some(EndReason::Reset) || self.response.sent.end_of_stream
    }

    /// Marks the stream ended by a local response: the request stops where
    /// it is, and the forced stop applies to the running callback only.
    pub fn end_locally(&mut self) {
        self.ended = Some(EndReason::LocalResponse);
        self.stop_next_iteration = false;
        self.request.stopped = None;
        self.request.pending_trailers = None;
    }

    /// Ends the stream with a local response that goes straight to the
    /// client, replacing a response it has not received yet.
    pub fn end_with_reply(&mut self, reply: LocalResponse) {
        self.end_locally();
        let headers = reply.client_headers();
        let body = reply.client_body().to_vec();
        let flow = &mut self.response;
        flow.headers = Some(headers.clone());
        flow.body = body.clone();
        flow.stopped = None;
        flow.sent = Message { headers: Some(headers), body, trailers: None, end_of_stream: true };
        self.local_response = Some(reply);
    }
}

/// gRPC status UNAVAILABLE, which Envoy puts on a fail-closed gRPC request.
const GRPC_UNAVAILABLE: u32 = 14;

/// The local reply of a fail-closed HTTP stream (Envoy's
/// `Context::failStream`): `503`, no body, details `wasm_fail_stream`.
pub(crate) fn fail_stream_reply(grpc_request: bool) -> LocalResponse {
    LocalResponse {
        status_code: 503,
        details: crate::failure::FAIL_STREAM_DETAILS.to_owned(),
        body: Vec::new(),
        headers: HeaderMap::new(),
        grpc_status: grpc_request.then_some(GRPC_UNAVAILABLE),
        grpc_request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fail_stream_reply_is_envoys() {
        let reply = fail_stream_reply(false);
        assert_eq!((reply.status_code, reply.details.as_str(), reply.body.len()), (503, "wasm_fail_stream", 0));
        assert_eq!(reply.client_headers().get_str("grpc-status"), None);
        assert_eq!(fail_stream_reply(true).client_headers().get_str("grpc-status"), Some("14"));
    }

    #[test]
    fn forwarding_moves_buffered_data() {
        let mut f = Flow { headers: Some(HeaderMap::from_pairs([("a", "1")])), ..Flow::default() };
        f.forward_headers();
        assert_eq!(f.sent.headers, f.headers);
        assert!(!f.sent.end_of_stream);
        f.body.extend_from_slice(b"abc");
        f.received_end = true;
        f.forward_body();
        assert_eq!(f.sent.body, b"abc");
        assert!(f.body.is_empty());
        assert!(f.sent.end_of_stream);
    }

    #[test]
    fn headers_only_request_ends_with_headers() {
        let mut f = Flow { headers: Some(HeaderMap::new()), received_end: true, ..Flow::default() };
        f.forward_headers();
        assert!(f.sent.end_of_stream);
    }

    #[test]
    fn added_trailers_are_sent_with_the_last_chunk() {
        let mut f = Flow { received_end: true, trailers_addable: true, ..Flow::default() };
        f.trailers = Some(HeaderMap::from_pairs([("x", "1")]));
        f.forward_body();
        assert_eq!(f.sent.trailers, Some(HeaderMap::from_pairs([("x", "1")])));
        let mut g = Flow { trailers_addable: true, trailers: Some(HeaderMap::new()), ..Flow::default() };
        g.close_addable_trailers();
        assert_eq!(g.trailers, None);
    }

    #[test]
    fn local_response_headers() {
        let lr = LocalResponse {
            status_code: 403,
            details: "denied".into(),
            body: b"no".to_vec(),
            headers: HeaderMap::from_pairs([("x-why", "policy")]),
            grpc_status: Some(5),
            grpc_request: false,
        };
        let h = lr.client_headers();
        assert_eq!(h.get(b":status"), Some(&b"403"[..]));
        assert_eq!(h.get(b"content-length"), Some(&b"2"[..]));
        assert_eq!(h.get(b"x-why"), Some(&b"policy"[..]));
        assert_eq!(h.get(b"grpc-status"), None, "not a gRPC request: Envoy ignores the gRPC status");
        assert_eq!(lr.client_body(), b"no");
    }

    #[test]
    fn a_local_response_to_a_grpc_request_is_trailers_only() {
        let mut lr = LocalResponse {
            status_code: 403,
            details: "denied".into(),
            body: b"no entry: 100% sure\n".to_vec(),
            headers: HeaderMap::from_pairs([("x-why", "policy"), ("content-type", "text/html")]),
            grpc_status: None,
            grpc_request: true,
        };
        let h = lr.client_headers();
        let shown: Vec<(String, String)> = h.to_strings();
        let want = [
            (":status", "200"),
            ("x-why", "policy"),
            ("content-type", "application/grpc"),
            ("grpc-status", "7"),
            ("grpc-message", "no entry: 100%25 sure"),
        ];
        assert_eq!(shown, want.map(|(k, v)| (k.to_owned(), v.to_owned())));
        assert!(lr.client_body().is_empty(), "the message is in grpc-message");
        lr.grpc_status = Some(16);
        assert_eq!(lr.client_headers().get_str("grpc-status"), Some("16"), "the plugin's status wins");
        lr.grpc_status = Some(17);
        assert_eq!(lr.client_headers().get_str("grpc-status"), Some("7"), "not a gRPC status: mapped from 403");
        lr.headers = HeaderMap::from_pairs([("grpc-status", "3")]);
        assert_eq!(lr.client_headers().get_str("grpc-status"), Some("3"), "a grpc-status header the plugin set stays");
        assert_eq!(
            [400, 401, 404, 429, 502, 503, 504, 500, 200].map(http_to_grpc_status),
            [13, 16, 12, 14, 14, 14, 14, 2, 2]
        );
        let grpc = |ct: &str| is_grpc_request(Some(&HeaderMap::from_pairs([(":path", "/s/M"), ("content-type", ct)])));
        assert!(grpc("application/grpc") && grpc("application/grpc+proto") && grpc("application/grpc; charset=x"));
        assert!(!grpc("application/grpc-web") && !grpc("application/json"));
        assert!(!is_grpc_request(Some(&HeaderMap::from_pairs([("content-type", "application/grpc")]))), "no :path");
    }
}

/// Envoy's per-request attributes (`request.*`, `response.*`,
/// `connection.id`) derived from the stream's current state.
pub fn attributes(stream: &HttpStreamState, context_id: u32, now_ns: u64) -> super::properties::PropertyTree {
    use super::properties::{PropertyTree, Value};
    /// Envoy's CEL view of a header map: one entry per name, the values of a
    /// repeated header joined with `,` (`getAllOfHeaderAsString`).
    fn headers_value(map: &HeaderMap) -> Value {
        use std::collections::btree_map::{BTreeMap, Entry};
        let mut joined: BTreeMap<String, Value> = BTreeMap::new();
        for (k, v) in map.entries() {
            let v = String::from_utf8_lossy(v);
            match joined.entry(String::from_utf8_lossy(k).into_owned()) {
                Entry::Occupied(mut seen) => {
                    if let Value::String(s) = seen.get_mut() {
                        s.push(',');
                        s.push_str(&v);
                    }
                }
                Entry::Vacant(slot) => {
                    slot.insert(Value::String(v.into_owned()));
                }
            }
        }
        Value::Map(joined)
    }
    fn text(map: Option<&HeaderMap>, key: &str) -> Option<Value> {
        map?.get(key.as_bytes()).map(|v| Value::String(String::from_utf8_lossy(v).into_owned()))
    }
    let mut t = PropertyTree::new();
    let request = stream.request.headers.as_ref();
    let mut set = |path: &[&str], value: Option<Value>| {
        if let Some(value) = value {
            let _ = t.set(path, value);
        }
    };
    set(&["connection", "id"], Some(Value::Uint(context_id as u64)));
    if let Some(h) = request {
        set(&["request", "headers"], Some(headers_value(h)));
        set(&["request", "path"], text(request, ":path"));
        let url_path = h.get(b":path").map(|p| p.split(|b| *b == b'?').next().unwrap_or_default());
        set(&["request", "url_path"], url_path.map(|p| Value::String(String::from_utf8_lossy(p).into_owned())));
        set(&["request", "host"], text(request, ":authority"));
        set(&["request", "method"], text(request, ":method"));
        set(&["request", "scheme"], text(request, ":scheme"));
        set(&["request", "referer"], text(request, "referer"));
        set(&["request", "useragent"], text(request, "user-agent"));
        set(&["request", "id"], text(request, "x-request-id"));
        let protocol = stream.protocol.clone().unwrap_or_else(|| "HTTP/1.1".to_owned());
        set(&["request", "protocol"], Some(Value::String(protocol)));
        let started = stream.started_ns.unwrap_or(now_ns);
        set(&["request", "time"], Some(Value::Timestamp(started.min(i64::MAX as u64) as i64)));
        let elapsed = std::time::Duration::from_nanos(now_ns.saturating_sub(started));
        set(&["request", "duration"], Some(Value::Duration(elapsed)));
        let size = (stream.request.sent.body.len() + stream.request.body.len()) as i64;
        set(&["request", "size"], Some(Value::Int(size)));
        set(&["request", "total_size"], Some(Value::Int(size + h.byte_size() as i64)));
    }
    let response = stream.response.headers.as_ref();
    if let Some(h) = response {
        set(&["response", "headers"], Some(headers_value(h)));
        let code = h.get(b":status").and_then(|s| std::str::from_utf8(s).ok()?.parse::<i64>().ok());
        set(&["response", "code"], code.map(Value::Int));
        let size = (stream.response.sent.body.len() + stream.response.body.len()) as i64;
        set(&["response", "size"], Some(Value::Int(size)));
        set(&["response", "total_size"], Some(Value::Int(size + h.byte_size() as i64)));
        let grpc =
            |m: Option<&HeaderMap>| m?.get(b"grpc-status").and_then(|s| std::str::from_utf8(s).ok()?.parse().ok());
        let grpc_status = grpc(stream.response.trailers.as_ref()).or_else(|| grpc(response));
        set(&["response", "grpc_status"], grpc_status.map(Value::Int));
        // No Envoy response flag applies to what host-sim simulates
        // (UAEX, UF, UT, ... come from other filters and the upstream).
        set(&["response", "flags"], Some(Value::Int(0)));
    }
    if let Some(t) = stream.response.trailers.as_ref() {
        set(&["response", "trailers"], Some(headers_value(t)));
    }
    let details = match (&stream.local_response, stream.ended) {
        (Some(lr), _) => Some(lr.details.clone()),
        (None, Some(EndReason::Reset)) => Some("wasm_close_stream".to_owned()),
        _ if response.is_some() => Some("via_upstream".to_owned()),
        _ => None,
    };
    set(&["response", "code_details"], details.map(Value::String));
    if let Some(lr) = &stream.local_response {
        set(&["response", "code"], Some(Value::Int(lr.status_code as i64)));
    }
    t
}

#[cfg(test)]
mod attribute_tests {
    use super::*;
    use crate::state::properties::Value;

    #[test]
    fn request_attributes_follow_headers() {
        let mut s = HttpStreamState::default();
        s.request.headers = Some(HeaderMap::from_pairs([(":path", "/a?b=1"), (":method", "GET"), (":authority", "x")]));
        s.response.headers = Some(HeaderMap::from_pairs([(":status", "404")]));
        let t = attributes(&s, 7, 1);
        assert_eq!(t.get(&["request", "url_path"]), Some(&Value::from("/a")));
        assert_eq!(t.get(&["request", "method"]), Some(&Value::from("GET")));
        assert_eq!(t.get(&["response", "code"]), Some(&Value::Int(404)));
        assert_eq!(t.get(&["connection", "id"]), Some(&Value::Uint(7)));
        assert_eq!(t.get(&["response", "code_details"]), Some(&Value::from("via_upstream")));
        assert_eq!(t.get(&["response", "flags"]), Some(&Value::Int(0)));
        assert_eq!(t.get(&["request", "protocol"]), Some(&Value::from("HTTP/1.1")));
    }

    #[test]
    fn repeated_headers_are_joined_with_commas() {
        let mut s = HttpStreamState::default();
        s.request.headers = Some(HeaderMap::from_pairs([
            (":path", "/"),
            ("x-forwarded-for", "a"),
            ("accept", "*/*"),
            ("X-Forwarded-For", "b"),
        ]));
        s.response.headers = Some(HeaderMap::from_pairs([("set-cookie", "a=1"), ("set-cookie", "b=2")]));
        let t = attributes(&s, 1, 1);
        assert_eq!(t.get(&["request", "headers", "x-forwarded-for"]), Some(&Value::from("a,b")));
        assert_eq!(t.get(&["request", "headers", "accept"]), Some(&Value::from("*/*")));
        assert_eq!(t.get(&["response", "headers", "set-cookie"]), Some(&Value::from("a=1,b=2")));
        let Some(Value::Map(all)) = t.get(&["request", "headers"]) else { panic!("request.headers is a map") };
        assert_eq!(all.len(), 3, "one entry per header name");
    }

    #[test]
    fn time_duration_protocol_and_grpc_status() {
        let mut s = HttpStreamState { started_ns: Some(1_000), protocol: Some("HTTP/2".into()), ..Default::default() };
        s.request.headers = Some(HeaderMap::from_pairs([(":path", "/")]));
        s.response.headers = Some(HeaderMap::from_pairs([(":status", "200"), ("grpc-status", "7")]));
        let t = attributes(&s, 1, 5_000);
        assert_eq!(t.get(&["request", "time"]), Some(&Value::Timestamp(1_000)));
        assert_eq!(t.get(&["request", "duration"]), Some(&Value::Duration(std::time::Duration::from_nanos(4_000))));
        assert_eq!(t.get(&["request", "protocol"]), Some(&Value::from("HTTP/2")));
        assert_eq!(t.get(&["response", "grpc_status"]).map(Value::serialize), Some(7i64.to_le_bytes().to_vec()));
        s.response.trailers = Some(HeaderMap::from_pairs([("grpc-status", "14")]));
        assert_eq!(attributes(&s, 1, 5_000).get(&["response", "grpc_status"]), Some(&Value::Int(14)));
    }
}
