//! The official proxy-wasm Rust SDK (0.2.5) `http_headers` example, built
//! for wasm32-wasip1 from `tests/official-guests/http-headers`, run through
//! host-sim.

use host_sim::{Action, EndReason, Host, LogLevel, PluginSpec, Request, Response};

fn plugin_wasm() -> Vec<u8> {
    guest_build::Guest::manifest_dir("tests/official-guests/http-headers").bytes().expect("official guest builds")
}

#[test]
fn logs_headers_and_adds_a_response_header() {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(plugin_wasm())).unwrap();
    let mut stream = host.http_stream(plugin).unwrap();
    let id = stream.id().context_id();
    let action =
        stream.request_headers([(":path", "/"), (":method", "GET"), ("X-Multi", "a"), ("x-multi", "b")], true).unwrap();
    assert_eq!(action, Action::Continue);
    let upstream = stream.upstream_request().clone();
    assert!(upstream.end_of_stream);
    let headers = upstream.headers.unwrap();
    assert_eq!(headers.get_all(b"x-multi").count(), 2, "repeated headers stay separate entries");
    stream.response_headers([(":status", "200"), ("content-type", "text/plain")], true).unwrap();
    assert!(stream.is_finished(), "Envoy finishes the stream once the client has the whole response");
    let outcome = stream.complete().unwrap();
    let response = outcome.client_response.headers.unwrap();
    assert_eq!(response.get_str("powered-by"), Some("proxy-wasm"));
    let info = host.logs_at(LogLevel::Info);
    assert!(info.contains(&format!("#{id} -> :path: /")), "{info:?}");
    assert!(info.contains(&format!("#{id} -> x-multi: b")), "{info:?}");
    assert!(info.contains(&format!("#{id} <- :status: 200")), "{info:?}");
    assert_eq!(info.last(), Some(&format!("#{id} completed.")));
    let log_record = host.logs().into_iter().find(|r| r.message.ends_with("completed.")).unwrap();
    assert_eq!(log_record.context_id, id);
}

#[test]
fn hello_path_is_answered_locally() {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(plugin_wasm())).unwrap();
    let outcome = host.run_http(plugin, Request::get("/hello"), Response::ok().body("upstream")).unwrap();
    let local = outcome.local_response.expect("local response");
    assert_eq!(local.status_code, 200);
    assert_eq!(local.body, b"Hello, World!\n");
    assert_eq!(local.headers.get_str("hello"), Some("World"));
    assert_eq!(outcome.ended, Some(EndReason::LocalResponse));
    assert_eq!(outcome.request_action, Some(Action::StopAllIterationAndWatermark));
    assert!(outcome.upstream_request.headers.is_none(), "the upstream never saw the request");
    let client = outcome.client_response;
    assert_eq!(client.body, b"Hello, World!\n");
    let headers = client.headers.unwrap();
    assert_eq!(headers.get_str(":status"), Some("200"));
    // The local reply passed the plugin's own response callback, as in Envoy.
    assert_eq!(headers.get_str("powered-by"), Some("proxy-wasm"));
}

#[test]
fn many_streams_reuse_one_vm() {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::from_bytes(plugin_wasm())).unwrap();
    let mut ids = Vec::new();
    for _ in 0..50 {
        let outcome = host.run_http(plugin, Request::get("/x"), Response::ok()).unwrap();
        ids.push(outcome.context_id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 50);
    assert!(host.trace().iter().any(|c| c.function == "proxy_get_header_map_pairs" && c.result == 0));
}
