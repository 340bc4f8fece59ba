//! The plugin: a root context that reads the local node's metadata and owns
//! the caches, and an HTTP stream context that exchanges peer metadata and
//! reports the request's metrics at `on_log`.

use alloc::borrow::Cow;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;
use core::time::Duration;

use sluice::headers::{self, HeaderMap};
use sluice::metrics::Metric;
use sluice::{Action, Configuration, HttpContext, LogLevel, RootContext, Status, logging, property, time};

use crate::config::{DEFAULT_MAX_PEER_CACHE_SIZE, Direction, Settings};
use crate::labels::{self, sanitize};
use crate::peer::{METADATA_HEADER, METADATA_ID_HEADER, PeerCache, PeerInfo};
use crate::stats::{Family, MetricCache};

/// Why the plugin does not start where node properties fail outside a
/// request: Kong's nginx module, whose other limits break it too.
pub const KONG_REFUSAL: &str = "telemetry: the host cannot read node properties at configuration (Kong's nginx \
    module answers \"cannot get scoped properties outside of a request\"); this plugin needs Istio's node metadata, and \
    its Istio metric names (hundreds of bytes) exceed Kong's max_metric_name_length (256): not starting";

/// This proxy's own identity, read from node metadata at `on_configure`.
#[derive(Debug, Default)]
pub struct Local {
    /// The workload facts.
    pub info: PeerInfo,
    /// The `x-envoy-peer-metadata` value sent to peers (`None`: nothing known).
    pub header: Option<String>,
    /// The `x-envoy-peer-metadata-id` value: the node id (`None`: unknown).
    pub id: Option<String>,
}

impl Local {
    /// Reads `node.id` and `node.metadata` (`WORKLOAD_NAME`, `NAMESPACE`,
    /// `CLUSTER_ID`, `LABELS.app`, `LABELS.version`) from the host.
    fn read() -> Local {
        let info = PeerInfo {
            workload_name: text_property(&["node", "metadata", "WORKLOAD_NAME"]),
            namespace: text_property(&["node", "metadata", "NAMESPACE"]),
            cluster_id: text_property(&["node", "metadata", "CLUSTER_ID"]),
            app: text_property(&["node", "metadata", "LABELS", "app"]),
            version: text_property(&["node", "metadata", "LABELS", "version"]),
        };
        let header = (!info.is_empty()).then(|| info.to_header());
        let id = Some(text_property(&["node", "id"])).filter(|id| !id.is_empty());
        Local { info, header, id }
    }
}

/// What the root shares with its streams.
#[derive(Debug)]
pub struct State {
    /// This proxy's identity.
    pub local: RefCell<Local>,
    /// Decoded peers by node id.
    pub peers: RefCell<PeerCache>,
    /// Metric ids by label tuple.
    pub metrics: RefCell<MetricCache>,
}

impl Default for State {
    fn default() -> State {
        State {
            local: RefCell::default(),
            peers: RefCell::new(PeerCache::new(DEFAULT_MAX_PEER_CACHE_SIZE as usize)),
            metrics: RefCell::default(),
        }
    }
}

/// The root context.
#[derive(sluice::RootContext, Debug)]
#[sluice(config = Settings, http = Stream)]
pub struct Telemetry {
    #[sluice(config)]
    settings: Option<Rc<Settings>>,
    #[sluice(shared)]
    state: Rc<State>,
}

impl RootContext for Telemetry {
    fn on_configure(&mut self, _: Configuration) -> bool {
        // The adaptor parsed and stored the configuration before calling us.
        let Some(settings) = &self.settings else { return false };
        if let Err(e) = property::get(["node", "id"])
            && e.status() == Some(Status::InternalFailure)
        {
            // Envoy serves node properties here (NOT_FOUND at worst).
            let _ = logging::log(LogLevel::Error, KONG_REFUSAL);
            return false;
        }
        let local = Local::read();
        let message = format!(
            "telemetry: {:?}, metric prefix {:?}, {} extra dimension(s), local workload {:?} in {:?}, peer cache of {}",
            settings.direction,
            &*settings.metric_prefix,
            settings.dimensions.len(),
            local.info.workload_name,
            local.info.namespace,
            settings.max_peer_cache_size,
        );
        *self.state.local.borrow_mut() = local;
        *self.state.peers.borrow_mut() = PeerCache::new(settings.max_peer_cache_size as usize);
        // Names depend on the prefix and dimensions: start over.
        *self.state.metrics.borrow_mut() = MetricCache::new();
        let _ = logging::log(LogLevel::Info, message);
        true
    }
}

/// One HTTP stream.
#[derive(sluice::HttpContext, Debug)]
pub struct Stream {
    #[sluice(config)]
    settings: Rc<Settings>,
    #[sluice(shared)]
    state: Rc<State>,
    /// When the request headers arrived.
    start: Option<Duration>,
    /// Request body bytes seen.
    request_bytes: u64,
    /// Response body bytes seen.
    response_bytes: u64,
    /// The peer: the downstream client (inbound) or the upstream server (outbound).
    peer: Option<Rc<PeerInfo>>,
    /// The downstream took part in the metadata exchange.
    downstream_exchanges: bool,
    /// The request's `:authority`.
    authority: String,
    /// The request is gRPC (`content-type: application/grpc...`).
    grpc: bool,
}

impl HttpContext for Stream {
    fn on_request_headers(&mut self, _: usize, _: bool) -> Action {
        self.start = time::now().ok();
        let (downstream, exchanged) = self.take_peer(headers::REQUEST, "downstream");
        self.downstream_exchanges = exchanged;
        match self.settings.direction {
            Direction::Inbound => self.peer = downstream,
            // Tell the upstream who is calling.
            Direction::Outbound => self.send_own(headers::REQUEST),
        }
        self.authority = header_text(headers::REQUEST, ":authority");
        self.grpc = header_text(headers::REQUEST, "content-type").starts_with("application/grpc");
        Action::Continue
    }

    fn on_request_body(&mut self, body_size: usize, _: bool) -> Action {
        self.request_bytes = self.request_bytes.saturating_add(body_size as u64);
        Action::Continue
    }

    fn on_response_headers(&mut self, _: usize, _: bool) -> Action {
        let (upstream, _) = self.take_peer(headers::RESPONSE, "upstream");
        match self.settings.direction {
            Direction::Outbound => self.peer = upstream,
            // Answer a downstream proxy that introduced itself; never tell
            // a client outside the mesh about this workload.
            Direction::Inbound if self.downstream_exchanges => self.send_own(headers::RESPONSE),
            Direction::Inbound => {}
        }
        Action::Continue
    }

    fn on_response_body(&mut self, body_size: usize, _: bool) -> Action {
        self.response_bytes = self.response_bytes.saturating_add(body_size as u64);
        Action::Continue
    }

    fn on_log(&mut self) {
        self.report();
    }
}

impl Stream {
    /// Removes the peer's exchange headers from `map` and resolves the peer
    /// through the cache. Returns the peer (if known) and whether the peer
    /// sent any exchange header at all.
    fn take_peer(&self, map: HeaderMap, side: &str) -> (Option<Rc<PeerInfo>>, bool) {
        let id = map.get(METADATA_ID_HEADER).ok().flatten();
        let metadata = map.get(METADATA_HEADER).ok().flatten();
        if id.is_none() && metadata.is_none() {
            return (None, false);
        }
        let _ = map.remove(METADATA_ID_HEADER);
        let _ = map.remove(METADATA_HEADER);
        let resolved = self.state.peers.borrow_mut().resolve(id.as_deref(), metadata.as_deref());
        match resolved {
            Ok(peer) => (peer, true),
            Err(e) => {
                let _ = logging::log(LogLevel::Debug, format!("telemetry: ignoring {side} {METADATA_HEADER}: {e}"));
                (None, true)
            }
        }
    }

    /// Puts this proxy's exchange headers on `map`, replacing any there.
    fn send_own(&self, map: HeaderMap) {
        let local = self.state.local.borrow();
        if let Some(header) = &local.header {
            let _ = map.replace(METADATA_HEADER, header);
        }
        if let Some(id) = &local.id {
            let _ = map.replace(METADATA_ID_HEADER, id);
        }
    }

    /// The label values, in [`labels::STANDARD_DIMENSIONS`] order, then the
    /// extra dimensions.
    fn dimensions(&self) -> Vec<(&str, String)> {
        let local = self.state.local.borrow();
        let unknown = PeerInfo::default();
        let peer = self.peer.as_deref().unwrap_or(&unknown);
        let inbound = self.settings.direction == Direction::Inbound;
        let (source, destination) = if inbound { (peer, &local.info) } else { (&local.info, peer) };
        // Istio reads the principals from the side of the connection that
        // faces the peer: downstream for inbound, upstream for outbound.
        let (source_principal, destination_principal) = if inbound {
            (
                text_property(&["connection", "uri_san_peer_certificate"]),
                text_property(&["connection", "uri_san_local_certificate"]),
            )
        } else {
            (
                text_property(&["upstream", "uri_san_local_certificate"]),
                text_property(&["upstream", "uri_san_peer_certificate"]),
            )
        };
        let host = labels::strip_port(&self.authority);
        let (service_name, service_namespace) = match labels::service_of(host) {
            Some((name, namespace)) => (name.to_string(), namespace.unwrap_or(&destination.namespace).to_string()),
            None => (destination.workload_name.clone(), destination.namespace.clone()),
        };
        let response_code = match property::get_i64(["response", "code"]) {
            Ok(Some(code)) => code.to_string(),
            // Envoy's value when no response was sent.
            _ => String::from("0"),
        };
        let protocol = if self.grpc {
            String::from("grpc")
        } else {
            match property::get_string(["request", "protocol"]) {
                Ok(Some(p)) if !p.starts_with("HTTP") && !p.is_empty() => p.to_ascii_lowercase(),
                _ => String::from("http"),
            }
        };
        let grpc_status = if self.grpc { grpc_status() } else { String::new() };
        let flags = match property::get_u64(["response", "flags"]) {
            Ok(Some(bits)) => labels::response_flags(bits),
            _ => String::from("-"),
        };
        let security = match (inbound, property::get_bool(["connection", "mtls"])) {
            (true, Ok(Some(true))) => "mutual_tls",
            (true, Ok(Some(false))) => "none",
            _ => "unknown",
        };
        let mut values: Vec<(&str, String)> = Vec::with_capacity(labels::STANDARD_DIMENSIONS.len());
        let standard = [
            String::from(self.settings.direction.reporter()),
            source.workload_name.clone(),
            source.namespace.clone(),
            source_principal,
            source.app.clone(),
            source.version.clone(),
            source.cluster_id.clone(),
            destination.workload_name.clone(),
            destination.namespace.clone(),
            destination_principal,
            destination.app.clone(),
            destination.version.clone(),
            host.to_string(),
            service_name,
            service_namespace,
            destination.cluster_id.clone(),
            protocol,
            response_code,
            grpc_status,
            flags,
            String::from(security),
        ];
        values.extend(labels::STANDARD_DIMENSIONS.into_iter().zip(standard));
        for dimension in self.settings.dimensions.iter() {
            let value = property::get(dimension.property.segments()).ok().flatten();
            values.push((&dimension.name, value.map(|v| property_text(&v)).unwrap_or_default()));
        }
        values
    }

    /// Records the stream's metrics under its labels.
    fn report(&self) {
        let values = self.dimensions();
        let sanitized: Vec<(&str, Cow<'_, str>)> = values.iter().map(|(n, v)| (*n, sanitize(v))).collect();
        let labels = labels::encode_labels(sanitized.iter().map(|(n, v)| (*n, &**v)));
        let prefix = &*self.settings.metric_prefix;
        let ids = self.state.metrics.borrow_mut().resolve(labels.as_bytes(), |family| {
            let name = labels::metric_name(&labels, prefix, family.suffix());
            Metric::define(family.metric_type(), name).map(Metric::id)
        });
        let ids = match ids {
            Ok(ids) => ids,
            Err(e) => {
                let _ = logging::log(LogLevel::Warn, format!("telemetry: could not define metrics: {e}"));
                return;
            }
        };
        let duration = self.duration_ms();
        for (id, family) in ids.into_iter().zip(Family::ALL) {
            let metric = Metric::from_id(id);
            let result = match family {
                Family::RequestsTotal => metric.increment(1),
                Family::RequestDuration => metric.record(duration),
                Family::RequestBytes => metric.record(self.request_bytes),
                Family::ResponseBytes => metric.record(self.response_bytes),
            };
            if let Err(e) = result {
                let _ = logging::log(LogLevel::Warn, format!("telemetry: could not record {}: {e}", family.suffix()));
            }
        }
    }

    /// Envoy's `request.duration` if the host has it, else the time since
    /// the request headers arrived, in milliseconds.
    fn duration_ms(&self) -> u64 {
        if let Ok(Some(nanos)) = property::get_duration_nanos(["request", "duration"]) {
            return u64::try_from(nanos).unwrap_or(0) / 1_000_000;
        }
        match (self.start, time::now()) {
            (Some(start), Ok(now)) => now.saturating_sub(start).as_millis().try_into().unwrap_or(u64::MAX),
            _ => 0,
        }
    }
}

/// A property as text; empty when absent or not UTF-8.
fn text_property(path: &[&str]) -> String {
    property::get(path).ok().flatten().and_then(|bytes| String::from_utf8(bytes).ok()).unwrap_or_default()
}

/// A header as text; empty when absent or not UTF-8.
fn header_text(map: HeaderMap, name: &str) -> String {
    map.get(name).ok().flatten().and_then(|bytes| String::from_utf8(bytes).ok()).unwrap_or_default()
}

/// `response.grpc_status`: Envoy serializes it as an 8-byte integer; a host
/// that hands over the `grpc-status` header text is understood too.
fn grpc_status() -> String {
    match property::get(["response", "grpc_status"]) {
        Ok(Some(bytes)) => property_text(&bytes),
        _ => String::new(),
    }
}

/// A property value of unknown type as label text: UTF-8 text without
/// control characters as is, otherwise an 8-byte value as an integer and a
/// 1-byte 0/1 as a boolean; anything else is unknown (empty).
fn property_text(bytes: &[u8]) -> String {
    if let Ok(text) = core::str::from_utf8(bytes)
        && !text.chars().any(char::is_control)
    {
        return String::from(text);
    }
    match bytes {
        [b] if *b <= 1 => String::from(if *b == 1 { "true" } else { "false" }),
        _ => match <[u8; 8]>::try_from(bytes) {
            Ok(le) => i64::from_le_bytes(le).to_string(),
            Err(_) => String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::property_text;

    #[test]
    fn property_values_as_text() {
        assert_eq!(property_text(b"default"), "default");
        assert_eq!(property_text(&9080i64.to_le_bytes()), "9080");
        assert_eq!(property_text(&(-3i64).to_le_bytes()), "-3");
        assert_eq!(property_text(&[1]), "true");
        assert_eq!(property_text(&[0]), "false");
        assert_eq!(property_text(b"\xff\xfe\x00"), "");
        assert_eq!(property_text(b""), "");
    }
}
