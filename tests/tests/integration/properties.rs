//! Properties and foreign functions end to end (guest `e2e-props`): the SDK's
//! typed getters decode what host-sim serializes the way Envoy does, and
//! foreign functions work in both directions.

use std::time::Duration;

use crate::common::{Build, every_build, load_spec, noted, spec, wasm};
use guest_build::Target;
use host_sim::{PluginSpec, Request, Response, Status, Value};

const SINCE: i64 = 1_700_000_000_123_456_789;
const NOW: u64 = 1_800_000_000_000_000_000;

fn typed_properties(build: Build) {
    let spec = spec("props", build)
        .name("props-plugin")
        .root_id("props-root")
        .vm_id("props-vm")
        .property(&["e2e", "int"], Value::Int(-42))
        .property(&["e2e", "uint"], Value::Uint(7))
        .property(&["e2e", "flag"], Value::Bool(false))
        .property(&["e2e", "ratio"], Value::Double(0.25))
        .property(&["e2e", "ttl"], Value::Duration(Duration::from_millis(1500)))
        .property(&["e2e", "since"], Value::Timestamp(SINCE))
        .property(&["e2e", "list"], Value::List(vec!["a".into(), "b".into()]));
    let (mut host, plugin) = load_spec(spec);
    host.register_foreign_function("e2e_reverse", |args| Ok(args.iter().rev().copied().collect()));
    host.register_foreign_function("e2e_unused", |_| Err(Status::InternalFailure));
    host.set_now_ns(NOW);

    let outcome = host.run_http(plugin, Request::get("/props?x=1"), Response::ok()).unwrap();
    let headers = outcome.upstream_request.headers.unwrap();
    let p = |name: &str| headers.get_str(&format!("x-p-{name}")).unwrap_or_else(|| panic!("no x-p-{name}")).to_owned();
    assert_eq!(p("plugin-name"), "props-plugin");
    assert_eq!(p("root-id"), "props-root");
    assert_eq!(p("vm-id"), "props-vm");
    assert_eq!(p("namespace"), "default");
    assert_eq!(p("source-port"), "51234", "integers are 8 little-endian bytes");
    assert_eq!(p("mtls"), "true", "booleans are one byte");
    assert_eq!(p("connection-id"), outcome.context_id.to_string());
    assert_eq!(p("path"), "/props?x=1");
    assert_eq!(p("request-time"), NOW.to_string(), "timestamps are i64 nanoseconds");
    assert_eq!(p("labels"), "app=productpage,version=v1", "maps are serialized pairs");
    assert_eq!(p("int"), "-42");
    assert_eq!(p("uint"), "7");
    assert_eq!(p("flag"), "false");
    assert_eq!(p("ratio"), "0.25");
    assert_eq!(p("ttl"), "1500000000", "durations are i64 nanoseconds");
    assert_eq!(p("since"), SINCE.to_string());
    assert_eq!(p("list"), "a,b");
    assert_eq!(p("missing"), "none", "a missing property is None, not an error");
    assert_eq!(p("malformed"), "property value of 10 bytes is not a valid i64");
    assert_eq!(p("set"), "true written", "a property the plugin set reads back");
    assert_eq!(p("foreign"), "cba");
    assert_eq!(p("foreign-missing"), "host returned NotFound (1)");
}

every_build!(typed_property_getters_decode_envoy_serialization: typed_properties);

#[test]
fn host_initiated_foreign_call_reaches_the_root_with_its_arguments() {
    let (mut host, plugin) = load_spec(PluginSpec::from_bytes(wasm("props", Target::Wasip1)));
    let root = plugin.root_context_id();
    host.call_foreign_callback(plugin, 7, b"args").unwrap();
    host.call_foreign_callback(plugin, 8, b"").unwrap();
    assert!(noted(&host, root, "foreign 7 4 args"));
    assert!(noted(&host, root, "foreign 8 0 "));
}

/// Properties read back as the plugin sees them, defaults removed before the
/// start or between streams, and what the plugin set on its stream.
fn removed_and_read_back(build: Build) {
    let spec = spec("props", build).name("props-plugin").without_property(&["connection", "mtls"]);
    let (mut host, plugin) = load_spec(spec);
    assert_eq!(host.property(plugin, &["connection", "mtls"]), None, "removed before the start");
    assert_eq!(host.property(plugin, &["plugin_name"]), Some(Value::String("props-plugin".into())));
    assert_eq!(host.property(plugin, &["node", "metadata", "NAMESPACE"]), Some(Value::from("default")));

    let outcome = host.run_http(plugin, Request::get("/a"), Response::ok()).unwrap();
    let headers = outcome.upstream_request.headers.unwrap();
    assert_eq!(headers.get_str("x-p-mtls"), Some("none"));
    assert_eq!(headers.get_str("x-p-labels").map(|l| l.starts_with("app=")), Some(true));
    assert_eq!(outcome.properties_set, [(vec!["e2e".to_owned(), "set".to_owned()], b"written".to_vec())]);
    assert_eq!(host.property(plugin, &["e2e", "set"]), None, "set on the stream, gone with it");

    host.remove_property(plugin, &["node", "metadata", "LABELS"]).unwrap();
    let err = host.remove_property(plugin, &["node", "metadata", "LABELS"]).unwrap_err();
    assert!(err.to_string().contains("property node.metadata.LABELS"), "{err}");
    let outcome = host.run_http(plugin, Request::get("/b"), Response::ok()).unwrap();
    assert_eq!(outcome.upstream_request.headers.unwrap().get_str("x-p-labels"), Some("none"));

    let mut stream = host.http_stream(plugin).unwrap();
    let id = stream.id();
    stream.set_protocol("HTTP/2").unwrap();
    stream
        .request_headers([(":method", "GET"), (":path", "/c"), (":authority", "x"), (":scheme", "https")], true)
        .unwrap();
    assert_eq!(host.stream_property(id, &["request", "path"]), Some(Value::from("/c")));
    assert_eq!(host.stream_property(id, &["request", "protocol"]), Some(Value::from("HTTP/2")));
    assert_eq!(host.stream_property(id, &["e2e", "set"]), Some(Value::Bytes(b"written".to_vec())));
}

every_build!(properties_removed_and_read_back: removed_and_read_back, wasip1 = WASIP1, native = Native);
