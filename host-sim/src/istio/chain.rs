//! Which `WasmPlugin`s a workload's listener runs, and in what order, with
//! Istio's own filters between the phases.

use std::collections::BTreeMap;

use super::manifest::{Phase, PluginType, WasmPlugin, WorkloadMode};

/// Istio's root namespace by default (`meshConfig.rootNamespace`): a
/// `WasmPlugin` there applies to workloads of every namespace.
pub const DEFAULT_ROOT_NAMESPACE: &str = "istio-system";

/// The workload (pod) whose proxy runs the plugins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Its namespace (default `default`).
    pub namespace: String,
    /// Its labels, matched by `selector.matchLabels`.
    pub labels: BTreeMap<String, String>,
    /// The proxy's environment, read by `vmConfig.env` entries with
    /// `valueFrom: HOST`.
    pub env: BTreeMap<String, String>,
    /// The mesh's root namespace (default `istio-system`).
    pub root_namespace: String,
}

impl Default for Workload {
    fn default() -> Workload {
        Workload {
            namespace: "default".into(),
            labels: BTreeMap::new(),
            env: BTreeMap::new(),
            root_namespace: DEFAULT_ROOT_NAMESPACE.into(),
        }
    }
}

/// The kind of listener a stream arrives on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ListenerClass {
    /// A gateway (ingress or egress): traffic counts as `CLIENT`.
    #[default]
    Gateway,
    /// A sidecar's inbound listener: `SERVER`.
    SidecarInbound,
    /// A sidecar's outbound listener: `CLIENT`.
    SidecarOutbound,
}

impl ListenerClass {
    /// The `match[].mode` its traffic has (Istio's
    /// `workloadModeForListenerClass`).
    pub fn mode(self) -> WorkloadMode {
        match self {
            ListenerClass::Gateway | ListenerClass::SidecarOutbound => WorkloadMode::Client,
            ListenerClass::SidecarInbound => WorkloadMode::Server,
        }
    }
}

/// The listener a stream arrives on: its class, port and protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Listener {
    /// Gateway or sidecar, inbound or outbound.
    pub class: ListenerClass,
    /// The port `match[].ports` is compared with (the service port
    /// outbound, the port the server binds inbound).
    pub port: u32,
    /// HTTP streams run the `HTTP` plugins, TCP connections the `NETWORK`
    /// ones.
    pub kind: PluginType,
}

impl Default for Listener {
    fn default() -> Listener {
        Listener { class: ListenerClass::Gateway, port: 8080, kind: PluginType::Http }
    }
}

/// One filter of the chain Istio builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainSlot {
    /// A `WasmPlugin`: its index in the list given to [`filter_chain`].
    Plugin(usize),
    /// One of Istio's own filters, which host-sim does not run: shown in
    /// the trace where Envoy would run it.
    Istio(IstioFilter),
}

/// One of Istio's own filters, as a placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IstioFilter {
    /// The filter's name in Envoy's configuration.
    pub name: &'static str,
    /// What it does, for the trace.
    pub role: &'static str,
}

const MX_HTTP: IstioFilter = IstioFilter { name: "istio.metadata_exchange", role: "peer metadata exchange" };
const AUTHN_HTTP: IstioFilter =
    IstioFilter { name: "istio_authn", role: "Istio authentication (jwt_authn, peer authentication)" };
const AUTHZ_HTTP: IstioFilter =
    IstioFilter { name: "envoy.filters.http.rbac", role: "Istio authorization (AuthorizationPolicy)" };
const STATS_HTTP: IstioFilter = IstioFilter { name: "istio.stats", role: "Istio telemetry (standard metrics)" };
const ROUTER: IstioFilter = IstioFilter { name: "envoy.filters.http.router", role: "routing to the upstream" };
const MX_TCP: IstioFilter = IstioFilter { name: "istio.metadata_exchange", role: "peer metadata exchange (TCP)" };
const AUTHZ_TCP: IstioFilter =
    IstioFilter { name: "envoy.filters.network.rbac", role: "Istio authorization (AuthorizationPolicy)" };
const STATS_TCP: IstioFilter = IstioFilter { name: "istio.stats", role: "Istio telemetry (TCP metrics)" };
const TCP_PROXY: IstioFilter =
    IstioFilter { name: "envoy.filters.network.tcp_proxy", role: "proxying to the upstream" };

/// The filter chain Istio builds for `workload`'s `listener` from
/// `plugins`: those that apply to the workload (namespace and `selector`),
/// the listener's protocol (`type`) and its traffic (`match`), each phase in
/// Istio's order between Istio's own filters:
///
/// - HTTP: metadata exchange, `AUTHN` plugins, Istio authentication,
///   `AUTHZ` plugins, Istio authorization, `STATS` plugins, unspecified-phase
///   plugins, Istio stats, router (`ListenerBuilder::buildHTTPConnectionManager`
///   in Istio's `pilot/pkg/networking/core/listener_builder.go`);
/// - TCP: metadata exchange, `AUTHN` plugins, `AUTHZ` plugins, Istio
///   authorization, `STATS` plugins, unspecified-phase plugins, Istio stats,
///   TCP proxy (`buildNetworkFiltersStack` in `networkfilter.go`).
///
/// Within a phase: priority, highest first; a plugin without one after every
/// plugin with one (Istio sorts an unset priority as `math.MinInt32`); then
/// the workload's namespace before the root namespace, then creation time,
/// name and namespace (`PushContext.TrafficExtensionsByListenerInfo` and
/// `sortConfigByCreationTime` in `pilot/pkg/model`).
pub fn filter_chain(plugins: &[WasmPlugin], workload: &Workload, listener: &Listener) -> Vec<ChainSlot> {
    let selected = |phase: Phase| -> Vec<ChainSlot> {
        let mut found: Vec<(usize, usize)> = Vec::new(); // (namespace rank, index)
        for (rank, namespace) in [&workload.namespace, &workload.root_namespace].into_iter().enumerate() {
            if rank == 1 && workload.root_namespace == workload.namespace {
                break;
            }
            for (index, plugin) in plugins.iter().enumerate() {
                if plugin.namespace == *namespace && plugin.spec.phase == phase && applies(plugin, workload, listener) {
                    found.push((rank, index));
                }
            }
        }
        // Istio first orders every resource by creation time, name and
        // namespace, gathers the proxy's namespace then the root one, and
        // stable-sorts that by priority.
        found.sort_by(|&(ra, a), &(rb, b)| {
            let (pa, pb) = (&plugins[a], &plugins[b]);
            ra.cmp(&rb)
                .then(pa.creation_ns.unwrap_or(0).cmp(&pb.creation_ns.unwrap_or(0)))
                .then(pa.name.cmp(&pb.name))
                .then(pa.namespace.cmp(&pb.namespace))
        });
        found.sort_by_key(|&(_, index)| std::cmp::Reverse(plugins[index].spec.priority.unwrap_or(i32::MIN)));
        found.into_iter().map(|(_, index)| ChainSlot::Plugin(index)).collect()
    };
    // Istio's own filters around the phases: the first, the one after the
    // AUTHN plugins (HTTP only), after the AUTHZ plugins, after the STATS
    // and unspecified-phase plugins, and the last.
    let (first, after_authn, after_authz, after_stats, last) = match listener.kind {
        PluginType::Http => (MX_HTTP, Some(AUTHN_HTTP), AUTHZ_HTTP, STATS_HTTP, ROUTER),
        PluginType::Network => (MX_TCP, None, AUTHZ_TCP, STATS_TCP, TCP_PROXY),
    };
    let istio = ChainSlot::Istio;
    let mut chain = vec![istio(first)];
    chain.extend(selected(Phase::Authn));
    chain.extend(after_authn.map(istio));
    chain.extend(selected(Phase::Authz));
    chain.push(istio(after_authz));
    chain.extend(selected(Phase::Stats));
    chain.extend(selected(Phase::Unspecified));
    chain.push(istio(after_stats));
    chain.push(istio(last));
    chain
}

/// Whether `plugin` applies to `workload`'s `listener` (its namespace is
/// checked by the caller).
fn applies(plugin: &WasmPlugin, workload: &Workload, listener: &Listener) -> bool {
    let labels_match = match &plugin.spec.match_labels {
        None => true,
        Some(wanted) => wanted.iter().all(|(k, v)| workload.labels.get(k) == Some(v)),
    };
    // Istio's matchTrafficSelectorCommon: any selector whose mode and ports
    // both match; no selector matches everything.
    let traffic_match = plugin.spec.traffic.is_empty()
        || plugin.spec.traffic.iter().any(|t| {
            let mode = t.mode == WorkloadMode::ClientAndServer || t.mode == listener.class.mode();
            let port = t.ports.is_empty() || t.ports.iter().any(|&p| p != 0 && p == listener.port);
            mode && port
        });
    labels_match && traffic_match && plugin.spec.plugin_type == listener.kind
}
