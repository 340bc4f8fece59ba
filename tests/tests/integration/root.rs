//! Root contexts acting for streams (guest `e2e-root`): ticks on the virtual
//! clock, resuming a paused stream from the tick, a callout dispatched from
//! the tick on behalf of a paused stream (`dispatch_to`), `on_done` returning
//! false followed by `proxy_done` for a stream and for the root itself.

use std::time::Duration;

use crate::common::{Build, every_build, load_spec, noted, notes, spec};
use host_sim::{Action, HeaderMap, Host, HttpCallResponse, PluginId, StreamId};

fn load(build: Build) -> (Host, PluginId) {
    load_spec(spec("root", build))
}

fn open(host: &mut Host, plugin: PluginId, path: &str) -> (StreamId, Action) {
    let mut stream = host.http_stream(plugin).unwrap();
    let action = stream.request_headers([(":method", "GET"), (":path", path), (":authority", "x")], true).unwrap();
    (stream.id(), action)
}

#[test]
fn ticks_follow_the_period_on_the_virtual_clock() {
    let (mut host, plugin) = load(Build::WASIP1);
    let root = plugin.root_context_id();
    assert_eq!(host.tick_period(plugin), Some(Duration::from_secs(1)));
    host.advance(Duration::from_millis(999)).unwrap();
    assert!(!noted(&host, root, "tick"));
    host.advance(Duration::from_millis(1501)).unwrap();
    assert_eq!(notes(&host, root).iter().filter(|n| *n == "tick").count(), 2);
}

fn held_stream_is_resumed_by_the_tick(build: Build) {
    let (mut host, plugin) = load(build);
    let root = plugin.root_context_id();
    let (id, action) = open(&mut host, plugin, "/hold");
    assert_eq!(action, Action::StopAllIterationAndWatermark);
    assert!(host.http(id).unwrap().upstream_request().headers.is_none());

    host.advance(Duration::from_secs(1)).unwrap();
    let sid = id.context_id();
    assert!(noted(&host, root, &format!("held {sid} at /hold")), "{:?}", notes(&host, root));
    assert!(noted(&host, root, &format!("resumed {sid} ok")), "{:?}", notes(&host, root));
    assert!(noted(&host, root, &format!("effective {root}")), "the root is effective again after acting");
    let stream = host.http(id).unwrap();
    assert_eq!(stream.request_action(), Some(Action::Continue));
    assert!(stream.upstream_request().end_of_stream);
    let headers = stream.upstream_request().headers.as_ref().unwrap();
    assert_eq!(headers.get_str(":path"), Some("/hold"));
    assert_eq!(headers.get_str("x-held-by"), Some(root.to_string().as_str()), "the root edited the stream's headers");
}

every_build!(held_stream_is_resumed_by_the_tick: held_stream_is_resumed_by_the_tick);

#[test]
fn tick_dispatches_a_callout_for_a_parked_stream_and_its_handler_resumes_it() {
    for build in Build::ALL {
        let (mut host, plugin) = load(build);
        let root = plugin.root_context_id();
        let (id, _) = open(&mut host, plugin, "/park");
        let sid = id.context_id();
        host.advance(Duration::from_secs(1)).unwrap();

        assert!(
            noted(
                &host,
                root,
                &format!("wrong type: context {sid} does not exist or has another type than the handler expects")
            ),
            "{:?}",
            notes(&host, root)
        );
        assert!(noted(&host, root, &format!("dispatched for {sid} ok")));
        let calls = host.http_callouts();
        assert_eq!(calls.len(), 1, "the refused dispatch sent nothing");
        assert_eq!(calls[0].headers.get_str(":path"), Some("/for-stream"));
        assert_eq!(calls[0].context_id, root, "dispatched from the root's tick");
        assert!(host.http(id).unwrap().upstream_request().headers.is_none());

        let response = HttpCallResponse { headers: HeaderMap::from_pairs([(":status", "204")]), ..Default::default() };
        host.respond_http_call(calls[0].id(), response).unwrap();
        assert!(noted(&host, sid, &format!("handler on {sid}")), "{:?}", notes(&host, sid));
        assert!(noted(&host, sid, "resume ok"));
        let stream = host.http(id).unwrap();
        assert_eq!(stream.request_action(), Some(Action::Continue));
        assert_eq!(stream.upstream_request().headers.as_ref().unwrap().get_str("x-tick-auth"), Some("204"));
    }
}

#[test]
fn stream_on_done_false_waits_for_proxy_done_from_the_tick() {
    let (mut host, plugin) = load(Build::WASIP1);
    let root = plugin.root_context_id();
    let (id, action) = open(&mut host, plugin, "/linger");
    assert_eq!(action, Action::Continue);
    let sid = id.context_id();
    let mut stream = host.http(id).unwrap();
    stream.response_headers([(":status", "200")], true).unwrap();
    assert!(!stream.is_finished(), "on_done returned false: the context stays");
    assert_eq!(notes(&host, sid), ["done false"]);

    host.advance(Duration::from_secs(1)).unwrap();
    assert!(noted(&host, root, &format!("done {sid} ok")), "{:?}", notes(&host, root));
    assert_eq!(notes(&host, sid), ["done false", "log pending=false", "delete"], "proxy_done → on_log → on_delete");
    assert!(host.http(id).unwrap().is_finished());
}

#[test]
fn root_on_done_false_flushes_then_calls_proxy_done() {
    let (mut host, plugin) = load(Build::WASIP1);
    let root = plugin.root_context_id();
    assert!(!host.shutdown(plugin).unwrap(), "on_done returned false");
    assert!(!host.is_deleted(plugin));
    assert!(noted(&host, root, "on_done flush ok"));
    let flush = host.http_callouts().remove(0);
    assert_eq!(flush.headers.get_str(":path"), Some("/flush"));

    let response = HttpCallResponse { headers: HeaderMap::from_pairs([(":status", "200")]), ..Default::default() };
    host.respond_http_call(flush.id(), response).unwrap();
    assert_eq!(notes(&host, root)[1..], ["flushed", "root done ok pending=false", "delete"]);
    assert!(host.is_deleted(plugin), "proxy_done let the host delete the root");
    assert_eq!(host.tick_period(plugin), None, "a deleted root has no timer");
}
