//! `[mesh]`: a scenario's plugins from Istio `WasmPlugin` manifests, chosen
//! and ordered for one workload's listener as Istio does
//! ([`crate::istio::filter_chain`]).
//!
//! ```toml
//! [mesh]
//! wasm_plugins = ["authn.yaml", "router.yaml"]   # relative to the scenario
//! namespace = "istio-ingress"                      # the workload's
//! labels = { istio = "ingressgateway" }
//! env = { POD_NAME = "gateway-1" }                 # the proxy's (valueFrom: HOST)
//! listener = "gateway"                             # or sidecar-inbound, sidecar-outbound
//! port = 8080
//! ```

use std::path::Path;

use super::fields::{flatten, plugin_expect};
use super::model::{PluginExpect, PluginSetup};
use super::raw::{RawExpect, RawMesh, Spanned};
use super::source::{ScenarioError, Source};
use crate::istio::{self, ChainSlot, Listener, ListenerClass, ModuleSource, PluginType, WasmPlugin, Workload};

/// The mesh's plugins, its two chains, and the chains as the trace shows
/// them.
pub(super) struct Mesh {
    /// The plugins that apply: the HTTP chain's in request order, then the
    /// network chain's.
    pub(super) plugins: Vec<PluginSetup>,
    /// The HTTP filter chain (indices into `plugins`), which a step's HTTP
    /// stream runs through.
    pub(super) http: Vec<usize>,
    /// The network filter chain, which a step's TCP connection runs through.
    pub(super) tcp: Vec<usize>,
    /// The HTTP filter chain, Istio's own filters as `[name]` (empty when
    /// no HTTP plugin applies).
    pub(super) http_shown: Vec<String>,
    /// The network filter chain, the same way.
    pub(super) tcp_shown: Vec<String>,
}

pub(super) fn mesh(
    src: &Source<'_>,
    dir: &Path,
    raw: &Spanned<RawMesh>,
    expect: &RawExpect,
) -> Result<Mesh, ScenarioError> {
    let m = raw.get_ref();
    if m.wasm_plugins.is_empty() {
        return Err(src.at(raw, "mesh.wasm_plugins".into(), "name at least one WasmPlugin manifest"));
    }
    let mut all: Vec<WasmPlugin> = Vec::new();
    for (i, file) in m.wasm_plugins.iter().enumerate() {
        let field = format!("mesh.wasm_plugins[{}]", i + 1);
        let path = dir.join(file.get_ref());
        let found = WasmPlugin::from_file(&path).map_err(|e| src.at(file, field.clone(), e.to_string()))?;
        for plugin in found {
            if all.iter().any(|p| p.name == plugin.name && p.namespace == plugin.namespace) {
                return Err(src.at(
                    file,
                    field,
                    format!("WasmPlugin {}/{} is given twice", plugin.namespace, plugin.name),
                ));
            }
            all.push(plugin);
        }
    }
    let text = |v: &Option<Spanned<String>>| v.as_ref().map(|v| v.get_ref().clone());
    let workload = Workload {
        namespace: text(&m.namespace).unwrap_or_else(|| "default".into()),
        labels: m.labels.clone(),
        env: m.env.clone(),
        root_namespace: text(&m.root_namespace).unwrap_or_else(|| istio::DEFAULT_ROOT_NAMESPACE.into()),
    };
    let class = match m.listener.as_ref() {
        None => ListenerClass::Gateway,
        Some(l) => match l.get_ref().as_str() {
            "gateway" => ListenerClass::Gateway,
            "sidecar-inbound" => ListenerClass::SidecarInbound,
            "sidecar-outbound" => ListenerClass::SidecarOutbound,
            other => {
                return Err(src.at(
                    l,
                    "mesh.listener".into(),
                    format!("expected \"gateway\", \"sidecar-inbound\" or \"sidecar-outbound\", found {other:?}"),
                ));
            }
        },
    };
    let port = m.port.unwrap_or(8080);
    let mut properties = Vec::new();
    if let Some(table) = &m.properties {
        flatten(src, table.span(), table.get_ref(), &mut Vec::new(), &mut properties, "mesh.properties")?;
    }
    let plugin_expect = plugin_expect(src, expect)?;
    let mut plugins: Vec<PluginSetup> = Vec::new();
    let mut chains = [(Vec::new(), Vec::new()), (Vec::new(), Vec::new())];
    for (kind, (chain, shown)) in [PluginType::Http, PluginType::Network].into_iter().zip(chains.iter_mut()) {
        let slots = istio::filter_chain(&all, &workload, &Listener { class, port, kind });
        if !slots.iter().any(|s| matches!(s, ChainSlot::Plugin(_))) {
            continue;
        }
        for slot in slots {
            let index = match slot {
                ChainSlot::Istio(filter) => {
                    shown.push(format!("[{}]", filter.name));
                    continue;
                }
                ChainSlot::Plugin(index) => index,
            };
            let setup = setup(src, raw, &all[index], &all, &workload, &properties, &plugin_expect)?;
            shown.push(setup.id.clone());
            chain.push(plugins.len());
            plugins.push(setup);
        }
    }
    if plugins.is_empty() {
        return Err(src.at(
            raw,
            "mesh".into(),
            format!(
                "none of the {} WasmPlugin(s) applies to this workload's listener (namespace {:?}, labels {:?}, {:?} port {})",
                all.len(),
                workload.namespace,
                workload.labels,
                class,
                port
            ),
        ));
    }
    let [(http, http_shown), (tcp, tcp_shown)] = chains;
    Ok(Mesh { plugins, http, tcp, http_shown, tcp_shown })
}

/// One `WasmPlugin` as the plugin Envoy gets from Istio.
fn setup(
    src: &Source<'_>,
    raw: &Spanned<RawMesh>,
    wp: &WasmPlugin,
    all: &[WasmPlugin],
    workload: &Workload,
    properties: &[(Vec<String>, crate::state::properties::Value)],
    expect: &PluginExpect,
) -> Result<PluginSetup, ScenarioError> {
    // Ids are the resources' names, namespaced where two namespaces both
    // have one of that name.
    let id = if all.iter().filter(|p| p.name == wp.name).count() > 1 {
        format!("{}/{}", wp.namespace, wp.name)
    } else {
        wp.name.clone()
    };
    let at = |e: istio::ManifestError| src.at(raw, "mesh.wasm_plugins".into(), e.to_string());
    let module = match wp.module_source().map_err(at)? {
        ModuleSource::File(path) => path,
        ModuleSource::Oci(reference) => {
            // Pulled when the plugin loads (crate::oci). With `sha256`, by
            // that digest, which the pull verifies against the image
            // manifest, as Istio's agent compares it.
            let pinned = match (&wp.spec.sha256, reference.split_once("@sha256:")) {
                (Some(sum), Some((_, digest))) if digest != sum => {
                    return Err(at(istio::ManifestError {
                        source: wp.source.clone(),
                        document: None,
                        message: format!(
                            "WasmPlugin {}/{}: `spec.sha256` {sum} is not the digest its url names ({digest})",
                            wp.namespace, wp.name
                        ),
                    }));
                }
                (Some(sum), None) => format!("oci://{reference}@sha256:{sum}"),
                _ => format!("oci://{reference}"),
            };
            std::path::PathBuf::from(pinned)
        }
    };
    // The module is read when the plugin loads; its checksum is checked then
    // (a file's by run.rs, an image's by its pull).
    let file_sha256 =
        if module.to_str().is_some_and(|m| m.starts_with("oci://")) { None } else { wp.spec.sha256.clone() };
    let (fail_policy, rebuild) = wp.failure();
    Ok(PluginSetup {
        id,
        plugin: module,
        name: Some(wp.envoy_name()),
        root_id: Some(wp.spec.plugin_name.clone()),
        vm_id: None,
        configuration: wp.configuration().map_err(at)?,
        vm_configuration: Vec::new(),
        properties: properties.to_vec(),
        environment: wp.environment(workload),
        fail_policy: Some(fail_policy),
        rebuild,
        limits: crate::Limits::default(),
        capabilities: None,
        redact_headers: Vec::new(),
        remove_properties: Vec::new(),
        sha256: file_sha256,
        expect: expect.clone(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    fn dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("host-sim-mesh-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn manifest(name: &str, extra: &str) -> String {
        format!(
            "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: {name}\n  namespace: gw\nspec:\n  url: file://{name}.wasm\n{extra}---\n"
        )
    }

    fn parse(dir: &std::path::Path, scenario: &str) -> Result<super::super::model::Scenario, String> {
        let file = dir.join("s.toml");
        super::super::format::parse(&file, scenario).map_err(|e| e.to_string())
    }

    #[test]
    fn a_mesh_loads_its_manifests_in_istio_order_and_steps_run_the_chain() {
        let d = dir("ok");
        let text = [
            manifest("stats", "  phase: STATS\n  pluginConfig: { prefix: s }\n"),
            manifest("authn", "  phase: AUTHN\n  pluginName: root\n  failStrategy: FAIL_OPEN\n  vmConfig:\n    env:\n    - { name: POD, valueFrom: HOST }\n"),
            manifest("other-ns", "").replace("namespace: gw", "namespace: elsewhere"),
            manifest("l4", "  type: NETWORK\n"),
        ]
        .concat();
        std::fs::write(d.join("m.yaml"), text).unwrap();
        let s = parse(
            &d,
            "[mesh]\nwasm_plugins = [\"m.yaml\"]\nnamespace = \"gw\"\nenv = { POD = \"gw-1\" }\n[[stream]]\nrequest = {}\n[[stream]]\nchain = [\"stats\"]\nrequest = {}\n[[stream]]\nconnection = \"c\"\ntcp = [{ downstream = \"x\" }]\n[[stream]]\nconnection = \"c\"\ntcp = [{ close = \"downstream\" }]\n",
        )
        .unwrap();
        let ids: Vec<&str> = s.plugins.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["authn", "stats", "l4"], "the HTTP chain's, then the network chain's");
        assert_eq!(s.plugins[0].name.as_deref(), Some("gw.authn"));
        assert_eq!(s.plugins[0].root_id.as_deref(), Some("root"));
        assert_eq!(s.plugins[0].environment, [("POD".to_string(), "gw-1".to_string())]);
        assert_eq!(s.plugins[0].fail_policy, Some(crate::FailPolicy::Open));
        assert_eq!(s.plugins[1].configuration, br#"{"prefix":"s"}"#);
        assert_eq!(s.plugins[1].plugin, d.join("stats.wasm"));
        assert_eq!(s.steps[0].chain, [0, 1], "a step runs the whole chain");
        assert_eq!(s.steps[1].chain, [1], "unless it names its own");
        assert_eq!(s.steps[2].chain, [2], "a new connection runs the network chain");
        assert_eq!(s.filter_chain[1], "authn");
        assert_eq!(s.filter_chain.len(), 7);
        assert_eq!(
            s.tcp_filter_chain,
            [
                "[istio.metadata_exchange]",
                "[envoy.filters.network.rbac]",
                "l4",
                "[istio.stats]",
                "[envoy.filters.network.tcp_proxy]"
            ]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn bad_meshes_are_refused_with_the_field() {
        let d = dir("bad");
        std::fs::write(d.join("m.yaml"), manifest("a", "")).unwrap();
        std::fs::write(d.join("bad.yaml"), manifest("b", "  madeUp: 1\n")).unwrap();
        for (scenario, wanted) in [
            (
                "plugin = \"x.wasm\"\n[mesh]\nwasm_plugins = [\"m.yaml\"]\n",
                "field `plugin`: with [mesh], the plugins come from",
            ),
            ("[mesh]\nwasm_plugins = []\n", "name at least one WasmPlugin manifest"),
            ("[mesh]\nwasm_plugins = [\"m.yaml\"]\nlistener = \"sidecar\"\n", "field `mesh.listener`: expected"),
            ("[mesh]\nwasm_plugins = [\"bad.yaml\"]\nnamespace = \"gw\"\n", "field `mesh.wasm_plugins[1]`"),
            ("[mesh]\nwasm_plugins = [\"bad.yaml\"]\nnamespace = \"gw\"\n", "unknown field `madeUp`"),
            ("[mesh]\nwasm_plugins = [\"missing.yaml\"]\n", "cannot read it"),
            ("[mesh]\nwasm_plugins = [\"m.yaml\", \"m.yaml\"]\nnamespace = \"gw\"\n", "WasmPlugin gw/a is given twice"),
            ("[mesh]\nwasm_plugins = [\"m.yaml\"]\nnamespace = \"other\"\n", "none of the 1 WasmPlugin(s) applies"),
            ("[mesh]\nwasm_plugins = [\"m.yaml\"]\nnamespace = \"gw\"\nunknown = 1\n", "unknown field `unknown`"),
            (
                "[mesh]\nwasm_plugins = [\"m.yaml\"]\nnamespace = \"gw\"\n[[stream]]\nconnection = \"c\"\ntcp = [{ downstream = \"x\" }]\n",
                "field `stream[1].connection`: no WasmPlugin of type NETWORK in [mesh] applies",
            ),
        ] {
            let err = parse(&d, scenario).unwrap_err();
            assert!(err.contains(wanted), "{scenario:?}: {err}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
