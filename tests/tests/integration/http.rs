//! HTTP streams end to end: guest `e2e-http` (written with the SDK's plain
//! traits) driven through host-sim, on wasm32-wasip1 and on
//! wasm32-unknown-unknown (the no_std runtime).

use crate::common::{Build, every_build, load_spec, noted, notes, spec};
use host_sim::{Action, EndReason, Host, PluginId, Request, Response};

fn load(build: Build) -> (Host, PluginId) {
    load_spec(spec("http", build).vm_configuration("vm-cfg").configuration("plugin-cfg"))
}

fn lifecycle(build: Build) {
    let (mut host, plugin) = load(build);
    let root = plugin.root_context_id();
    assert_eq!(notes(&host, root), ["vm_start vm-cfg", "configure plugin-cfg"]);

    let mut stream = host.http_stream(plugin).unwrap();
    let id = stream.id().context_id();
    assert_ne!(id, root, "stream and root ids come from one counter");
    let request = [(":method", "POST"), (":path", "/plain"), (":authority", "example.com"), (":scheme", "https")];
    assert_eq!(stream.request_headers(request, false).unwrap(), Action::Continue);
    assert_eq!(stream.request_body("hello", false).unwrap(), Action::Continue);
    assert_eq!(stream.request_trailers([("x-checksum", "1")]).unwrap(), Action::Continue);
    assert!(stream.upstream_request().end_of_stream);
    assert_eq!(stream.response_headers([(":status", "200")], false).unwrap(), Action::Continue);
    assert_eq!(stream.response_body("abc", false).unwrap(), Action::Continue);
    assert!(!stream.is_finished());
    assert_eq!(stream.response_trailers([("grpc-status", "0")]).unwrap(), Action::Continue);
    assert!(stream.is_finished(), "the stream finishes once the client has the whole response");
    let outcome = stream.complete().unwrap();

    assert_eq!(
        notes(&host, id),
        [
            "create parent=1",
            "request_headers 4 false",
            "request_body 5 false",
            "request_trailers 1",
            "response_headers 1 false",
            "response_body 3 false",
            "response_trailers 1",
            "done",
            "log /plain 200",
            "delete",
        ]
    );
    assert_eq!(outcome.upstream_request.body, b"hello");
    assert_eq!(outcome.client_response.body, b"abc");
    let headers = outcome.client_response.headers.unwrap();
    assert_eq!(headers.get_str("x-powered-by"), Some("sluice"));
    assert_eq!(outcome.client_response.trailers.unwrap().get_str("grpc-status"), Some("0"));
    assert_eq!(outcome.ended, None);
}

every_build!(every_callback_runs_in_envoy_order: lifecycle);

fn header_edits(build: Build) {
    let (mut host, plugin) = load(build);
    let mut stream = host.http_stream(plugin).unwrap();
    let id = stream.id().context_id();
    let request: Vec<(&str, &[u8])> = vec![
        (":method", b"GET"),
        (":path", b"/headers"),
        (":authority", b"example.com"),
        ("X-Replace", b"old1"),
        ("x-replace", b"old2"),
        ("x-remove", b"gone"),
        ("x-multi", b"a"),
        ("x-multi", b"b"),
        ("x-bin", b"\xff\xfe\x80"),
    ];
    stream.request_headers(request, false).unwrap();
    stream.request_trailers([("x-checksum", "1")]).unwrap();
    let upstream = stream.upstream_request().clone();
    let headers = upstream.headers.unwrap();
    assert_eq!(headers.get_str("x-added"), Some("1"));
    assert_eq!(headers.get_all(b"x-replace").collect::<Vec<_>>(), [&b"new"[..]], "replace leaves one value");
    assert_eq!(headers.get(b"x-remove"), None);
    assert_eq!(headers.get_all(b"x-multi").count(), 2, "repeated headers stay separate entries");
    assert_eq!(headers.get_str("x-multi-count"), Some("2"));
    assert_eq!(headers.get_str("x-multi-first"), Some("a"));
    assert_eq!(headers.get(b"x-bin"), Some(&b"\xff\xfe\x80"[..]));
    assert_eq!(headers.get(b"x-bin-reversed"), Some(&b"\x80\xfe\xff"[..]));
    assert_eq!(headers.get(b"x-latin1"), Some(&b"caf\xe9"[..]));
    let trailers = upstream.trailers.unwrap();
    assert_eq!(trailers.get_str("x-trailer-added"), Some("req"));
    assert_eq!(trailers.get_str("x-checksum"), Some("1"));

    let response = [(":status", "200"), ("server", "upstream"), ("content-type", "text/plain")];
    stream.response_headers(response, false).unwrap();
    stream.response_trailers([("grpc-status", "0")]).unwrap();
    let outcome = stream.complete().unwrap();
    let headers = outcome.client_response.headers.unwrap();
    assert_eq!(headers.get(b"server"), None, "set_pairs replaced the whole map");
    assert_eq!(headers.get_str("x-response-pairs"), Some("3"));
    assert_eq!(headers.get_str("content-type"), Some("text/plain"));
    assert_eq!(headers.get_str("x-powered-by"), Some("sluice"));
    assert_eq!(outcome.client_response.trailers.unwrap().get_str("x-grpc-status-seen"), Some("0"));

    assert!(noted(&host, id, "x-bin as text: value is not valid UTF-8"), "{:?}", notes(&host, id));
    assert!(noted(&host, id, "pairs as text: value is not valid UTF-8"));
    let size = notes(&host, id).into_iter().find_map(|n| n.strip_prefix("size ").map(str::to_owned)).unwrap();
    let (host_size, sdk_size) = size.split_once(' ').unwrap();
    assert_eq!(
        host_size, sdk_size,
        "proxy_get_header_map_size is the bytes of every name and value (Envoy's byteSize)"
    );
    assert_ne!(host_size, "0");
}

every_build!(headers_are_edited_as_bytes: header_edits);

#[test]
fn paused_body_callbacks_buffer_until_the_end_of_stream() {
    let (mut host, plugin) = load(Build::WASIP1);
    let mut stream = host.http_stream(plugin).unwrap();
    let id = stream.id().context_id();
    stream.request_headers([(":method", "POST"), (":path", "/body"), (":authority", "x")], false).unwrap();
    assert_eq!(stream.request_body("hello ", false).unwrap(), Action::StopIterationAndBuffer);
    assert_eq!(stream.buffered_request_body(), b"hello ");
    assert!(stream.upstream_request().body.is_empty(), "nothing forwarded while paused");
    assert_eq!(stream.request_body("world", true).unwrap(), Action::Continue);
    assert_eq!(stream.upstream_request().body, b"HELLO WORLD");
    assert!(stream.upstream_request().end_of_stream);
    let trailers = stream.upstream_request().trailers.clone().expect("trailers added in the last body callback");
    assert_eq!(trailers.get_str("x-body-size"), Some("11"));

    stream.response_headers([(":status", "200")], false).unwrap();
    assert_eq!(stream.response_body("abc", false).unwrap(), Action::StopIterationAndBuffer);
    assert_eq!(stream.response_body("def", true).unwrap(), Action::Continue);
    let outcome = stream.complete().unwrap();
    assert_eq!(outcome.client_response.body, b"<<abcdef>>");
    assert_eq!(outcome.client_response.trailers.unwrap().get_str("x-body-size"), Some("6"));

    let notes = notes(&host, id);
    assert!(notes.contains(&"request_body 6 false".to_owned()), "{notes:?}");
    assert!(notes.contains(&"request_body 11 true".to_owned()), "the next callback sees the accumulated body");
    assert!(notes.contains(&"buffered 11 of 11: ok".to_owned()), "{notes:?}");
    assert!(notes.contains(&"buffered 6 of 6: ok ok".to_owned()), "{notes:?}");
    assert_eq!(notes.iter().filter(|n| *n == "trailer added ok").count(), 2);
}

#[test]
fn local_response_from_request_headers_never_reaches_the_upstream() {
    for build in Build::ALL {
        let (mut host, plugin) = load(build);
        let outcome = host.run_http(plugin, Request::get("/deny"), Response::ok().body("upstream")).unwrap();
        let id = outcome.context_id;
        let local = outcome.local_response.expect("a local response");
        assert_eq!(local.status_code, 403);
        assert_eq!(local.details, "denied_by_e2e");
        assert_eq!(local.body, b"forbidden\n");
        assert_eq!(local.headers.get_str("x-deny-reason"), Some("policy"));
        assert_eq!(local.grpc_status, None, "the SDK passes -1: not a gRPC reply");
        assert_eq!(outcome.ended, Some(EndReason::LocalResponse));
        assert_eq!(
            outcome.request_action,
            Some(Action::StopAllIterationAndWatermark),
            "the host forces a stop after a local response"
        );
        assert!(outcome.upstream_request.headers.is_none());
        let client = outcome.client_response;
        assert_eq!(client.body, b"forbidden\n");
        let headers = client.headers.unwrap();
        assert_eq!(headers.get_str(":status"), Some("403"));
        assert_eq!(headers.get_str("x-powered-by"), Some("sluice"), "the reply passed the plugin's response path");
        assert!(noted(&host, id, "local response ok"));
        let notes = notes(&host, id);
        assert_eq!(notes[notes.len() - 3..], ["done", "log /deny 403", "delete"]);
    }
}

#[test]
fn local_response_from_response_headers_replaces_the_upstream_response() {
    let (mut host, plugin) = load(Build::WASIP1);
    let outcome = host.run_http(plugin, Request::get("/replace"), Response::ok().body("upstream")).unwrap();
    assert_eq!(outcome.local_response.as_ref().map(|l| l.status_code), Some(502));
    let client = outcome.client_response;
    assert_eq!(client.headers.unwrap().get_str(":status"), Some("502"));
    assert_eq!(client.body, b"replaced");
    assert!(noted(&host, outcome.context_id, "local response ok"));
}
