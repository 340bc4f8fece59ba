use std::collections::BTreeMap;

use super::*;

fn plugins(yaml: &str) -> Vec<WasmPlugin> {
    WasmPlugin::parse(yaml, None).unwrap_or_else(|e| panic!("{e}"))
}

/// The gateway's filter chain for `listener`, by name (Istio's own filters
/// in brackets).
fn gateway_chain(plugins: &[WasmPlugin], listener: &Listener) -> Vec<String> {
    filter_chain(plugins, &gateway(), listener)
        .iter()
        .map(|slot| match slot {
            ChainSlot::Plugin(i) => plugins[*i].name.clone(),
            ChainSlot::Istio(filter) => format!("[{}]", filter.name),
        })
        .collect()
}

fn plugin(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: {name}\n  namespace: istio-ingress\nspec:\n  url: file:///opt/{name}.wasm\n{extra}---\n"
    )
}

fn gateway() -> Workload {
    Workload {
        namespace: "istio-ingress".into(),
        labels: BTreeMap::from([("istio".to_string(), "ingressgateway".to_string())]),
        ..Workload::default()
    }
}

/// The three-plugin example of Istio's WasmPlugin reference: "the
/// resulting filter chain looks like this: -> openid-connect -> istio.authn
/// -> acl-check -> check-header -> router".
#[test]
fn istio_documented_example_orders_by_phase_then_priority() {
    let selector = "  selector:\n    matchLabels:\n      istio: ingressgateway\n";
    let yaml = [
        plugin("openid-connect", &format!("{selector}  phase: AUTHN\n")),
        plugin("acl-check", &format!("{selector}  phase: AUTHZ\n  priority: 1000\n")),
        plugin("check-header", &format!("{selector}  phase: AUTHZ\n  priority: 10\n")),
    ]
    .concat();
    let all = plugins(&yaml);
    assert_eq!(
        gateway_chain(&all, &Listener::default()),
        [
            "[istio.metadata_exchange]",
            "openid-connect",
            "[istio_authn]",
            "acl-check",
            "check-header",
            "[envoy.filters.http.rbac]",
            "[istio.stats]",
            "[envoy.filters.http.router]"
        ]
    );
}

#[test]
fn ties_and_unset_priorities_follow_istios_sort() {
    // An unset priority sorts after a negative one (math.MinInt32); equal
    // priorities: the workload's namespace before the root namespace, then
    // creation time, then name.
    let root = "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: aaa-root\n  namespace: istio-system\nspec:\n  url: file:///r.wasm\n  phase: STATS\n  priority: 5\n---\n";
    let yaml = [
        plugin("unset", "  phase: STATS\n"),
        plugin("negative", "  phase: STATS\n  priority: -100\n"),
        plugin("zz-old", "  phase: STATS\n  priority: 5\n").replace(
            "  namespace: istio-ingress\n",
            "  namespace: istio-ingress\n  creationTimestamp: \"2024-01-01T00:00:00Z\"\n",
        ),
        plugin("bb-new", "  phase: STATS\n  priority: 5\n").replace(
            "  namespace: istio-ingress\n",
            "  namespace: istio-ingress\n  creationTimestamp: \"2025-01-01T00:00:00Z\"\n",
        ),
        root.to_string(),
        plugin("unspecified", ""),
    ]
    .concat();
    let all = plugins(&yaml);
    assert_eq!(
        gateway_chain(&all, &Listener::default())[2..9],
        ["[envoy.filters.http.rbac]", "zz-old", "bb-new", "aaa-root", "negative", "unset", "unspecified"]
    );
}

#[test]
fn selector_namespace_match_and_type_decide_which_plugins_run() {
    let yaml = [
        plugin("labels-match", "  selector:\n    matchLabels:\n      istio: ingressgateway\n"),
        plugin("labels-differ", "  selector:\n    matchLabels:\n      app: ratings\n"),
        plugin("server-only", "  match:\n  - mode: SERVER\n"),
        plugin("client-8080", "  match:\n  - mode: CLIENT\n    ports:\n    - number: 8080\n"),
        plugin("port-9090", "  match:\n  - ports:\n    - number: 9090\n"),
        plugin("network", "  type: NETWORK\n"),
        plugin("elsewhere", "").replace("namespace: istio-ingress", "namespace: bookinfo"),
    ]
    .concat();
    let all = plugins(&yaml);
    let http: Vec<String> =
        gateway_chain(&all, &Listener::default()).into_iter().filter(|n| !n.starts_with('[')).collect();
    assert_eq!(http, ["client-8080", "labels-match"]);
    let inbound = Listener { class: ListenerClass::SidecarInbound, port: 9090, kind: PluginType::Http };
    let inbound: Vec<String> = gateway_chain(&all, &inbound).into_iter().filter(|n| !n.starts_with('[')).collect();
    assert_eq!(inbound, ["labels-match", "port-9090", "server-only"]);
    let tcp = Listener { kind: PluginType::Network, ..Listener::default() };
    assert_eq!(
        gateway_chain(&all, &tcp),
        [
            "[istio.metadata_exchange]",
            "[envoy.filters.network.rbac]",
            "network",
            "[istio.stats]",
            "[envoy.filters.network.tcp_proxy]"
        ]
    );
}

#[test]
fn every_modelled_field_reaches_the_plugin_spec() {
    let wasm = b"\0asm\x01\0\0\0".to_vec();
    let sum = sha256_hex(&wasm);
    let yaml = format!(
        "apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: jwt
  namespace: shop
  labels: {{ team: edge }}
  annotations: {{ note: ok }}
spec:
  url: file://jwt.wasm
  sha256: {sum}
  imagePullPolicy: IfNotPresent
  pluginName: claims
  phase: AUTHN
  priority: 7
  failStrategy: FAIL_OPEN
  pluginConfig:
    claims: [{{ claim: sub, header: x-user-id }}]
  vmConfig:
    env:
    - name: POD_NAME
      valueFrom: HOST
    - name: MISSING
      valueFrom: HOST
    - name: TRUST_DOMAIN
      value: cluster.local
  match:
  - mode: CLIENT_AND_SERVER
  type: HTTP
"
    );
    let all = WasmPlugin::parse(&yaml, Some(std::path::Path::new("/etc/mesh/jwt.yaml"))).unwrap();
    let p = &all[0];
    assert_eq!(p.module_source().unwrap(), ModuleSource::File("/etc/mesh/jwt.wasm".into()));
    assert_eq!((p.spec.phase, p.spec.priority), (Phase::Authn, Some(7)));
    assert_eq!(p.spec.image_pull_policy, Some(PullPolicy::IfNotPresent));
    let workload = Workload {
        namespace: "shop".into(),
        env: BTreeMap::from([("POD_NAME".to_string(), "gw-1".to_string())]),
        ..Workload::default()
    };
    let spec = p.plugin_spec(wasm, &workload).unwrap();
    assert_eq!(spec.name, "shop.jwt");
    assert_eq!(spec.root_id, "claims");
    assert_eq!(spec.configuration, br#"{"claims":[{"claim":"sub","header":"x-user-id"}]}"#);
    assert_eq!(
        spec.environment,
        [("POD_NAME".to_string(), "gw-1".to_string()), ("TRUST_DOMAIN".to_string(), "cluster.local".to_string())]
    );
    assert_eq!(spec.failure.policy, Some(crate::FailPolicy::Open));

    p.check_sha256(&sum, "module").unwrap();
    let stale = yaml.replace(&sum, &"0".repeat(64));
    let err = WasmPlugin::parse(&stale, None).unwrap()[0].check_sha256(&sum, "module").unwrap_err();
    assert!(err.message.contains("the module's SHA-256 is") && err.message.contains(&sum), "{err}");
}

#[test]
fn defaults_are_istios() {
    let all = plugins(&plugin("plain", ""));
    let p = &all[0];
    assert_eq!(p.spec.phase, Phase::Unspecified);
    assert_eq!(p.spec.plugin_type, PluginType::Http);
    assert_eq!(p.spec.fail_strategy, FailStrategy::FailClose);
    let spec = p.plugin_spec(b"\0asm\x01\0\0\0".to_vec(), &Workload::default()).unwrap();
    assert_eq!(spec.root_id, "");
    assert!(spec.configuration.is_empty(), "no pluginConfig: no configuration");
    assert_eq!(spec.failure.policy, Some(crate::FailPolicy::Closed));
    let reload = plugins(&plugin("reload", "  failStrategy: FAIL_RELOAD\n"));
    let spec = reload[0].plugin_spec(b"\0asm\x01\0\0\0".to_vec(), &Workload::default()).unwrap();
    assert_eq!(spec.failure.rebuild, Some(crate::Rebuild::new(1, std::time::Duration::from_secs(1))));
    let no_namespace = plugins(&plugin("x", "").replace("  namespace: istio-ingress\n", ""));
    assert_eq!(no_namespace[0].envoy_name(), "default.x");
    let no_scheme = plugins(&plugin("x", "").replace("file:///opt/x.wasm", "ghcr.io/acme/x:1"));
    assert_eq!(no_scheme[0].module_source().unwrap(), ModuleSource::Oci("ghcr.io/acme/x:1".into()));
}

#[test]
fn fields_host_sim_does_not_model_are_refused_by_name() {
    for (extra, wanted) in [
        ("  targetRefs:\n  - kind: Gateway\n    name: gw\n", "`targetRefs` is an Istio field host-sim does not model"),
        ("  imagePullSecret: creds\n", "`imagePullSecret` is an Istio field host-sim does not model"),
        ("  verificationKey: k\n", "`verificationKey`"),
        ("  vmConfig:\n    env:\n    - name: A\n      valueFrom: SECRET\n", "valueFrom`: unknown value `SECRET`"),
        ("  vmConfig:\n    env:\n    - name: A\n      valueFrom: HOST\n      value: x\n", "only be set when"),
        ("  phase: LATE\n", "`spec.phase`: unknown value `LATE`, expected one of"),
        ("  failStrategy: FAIL_SOMETIMES\n", "`spec.failStrategy`"),
        ("  type: GRPC\n", "`spec.type`"),
        ("  match:\n  - mode: SIDEWAYS\n", "`spec.match[0].mode`"),
        ("  match:\n  - portz: 1\n", "unknown field `portz`"),
        ("  sha256: ABC\n", "not 64 lowercase hex digits"),
        ("  priority: high\n", "priority"),
        ("  madeUp: 1\n", "unknown field `madeUp`"),
    ] {
        let err = WasmPlugin::parse(&plugin("p", extra), Some(std::path::Path::new("m.yaml"))).unwrap_err();
        assert!(err.to_string().contains(wanted), "{extra:?}: {err}");
        assert!(err.to_string().starts_with("m.yaml: "), "{err}");
    }
    let second = format!("{}{}", plugin("ok", ""), plugin("bad", "  madeUp: 1\n"));
    let err = WasmPlugin::parse(&second, None).unwrap_err();
    assert!(err.to_string().starts_with("document 2: "), "{err}");
    for (text, wanted) in [
        ("apiVersion: v1\nkind: WasmPlugin\nmetadata: {name: a}\nspec: {url: x}\n", "`apiVersion`"),
        (
            "apiVersion: extensions.istio.io/v1alpha1\nkind: EnvoyFilter\nmetadata: {name: a}\nspec: {url: x}\n",
            "`kind`",
        ),
        ("", "no WasmPlugin resource"),
        ("apiVersion: [", ""),
    ] {
        let err = WasmPlugin::parse(text, None).unwrap_err();
        assert!(err.to_string().contains(wanted), "{text:?}: {err}");
    }
    let http = plugins(&plugin("p", "").replace("file:///opt/p.wasm", "https://bucket/p.wasm"));
    assert!(http[0].module_source().unwrap_err().message.contains("download the module"));
}

/// The examples' manifests: the gateway chain header-decode (AUTHN), router
/// (AUTHZ), telemetry (STATS), each module next to the cargo output.
#[test]
fn the_examples_manifests_make_the_gateway_chain() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut all = Vec::new();
    for example in ["telemetry", "router", "header-decode"] {
        let path = root.join("examples").join(example).join("wasmplugin.yaml");
        all.extend(WasmPlugin::from_file(&path).unwrap_or_else(|e| panic!("{e}")));
    }
    assert_eq!(
        gateway_chain(&all, &Listener::default()),
        [
            "[istio.metadata_exchange]",
            "header-decode",
            "[istio_authn]",
            "router",
            "[envoy.filters.http.rbac]",
            "telemetry",
            "[istio.stats]",
            "[envoy.filters.http.router]"
        ]
    );
    for plugin in &all {
        let ModuleSource::File(path) = plugin.module_source().unwrap() else {
            panic!("{} is not file://", plugin.name)
        };
        assert!(path.ends_with(format!("sluice_example_{}.wasm", plugin.name.replace('-', "_"))), "{}", path.display());
    }
}

#[test]
fn a_file_url_is_read_next_to_the_manifest_and_checked() {
    let dir = std::env::temp_dir().join(format!("host-sim-istio-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("modules")).unwrap();
    let wasm = b"\0asm\x01\0\0\0".to_vec();
    std::fs::write(dir.join("modules/p.wasm"), &wasm).unwrap();
    let manifest = |sha: &str| {
        let text = plugin("p", &format!("  sha256: {sha}\n")).replace("file:///opt/p.wasm", "file://modules/p.wasm");
        std::fs::write(dir.join("p.yaml"), text).unwrap();
        WasmPlugin::from_file(dir.join("p.yaml")).unwrap().remove(0)
    };
    let good = manifest(&sha256_hex(&wasm));
    assert_eq!(good.plugin_spec_from_file(&Workload::default()).unwrap().wasm(), &wasm[..]);
    let stale = manifest(&"a".repeat(64)).plugin_spec_from_file(&Workload::default()).unwrap_err();
    assert!(
        stale.to_string().contains("WasmPlugin istio-ingress/p: `spec.sha256`: the module's SHA-256 is"),
        "{stale}"
    );
    std::fs::remove_file(dir.join("modules/p.wasm")).unwrap();
    let missing = good.plugin_spec_from_file(&Workload::default()).unwrap_err();
    assert!(missing.to_string().contains("cannot read"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}
