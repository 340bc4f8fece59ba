//! Host state end to end (guest `e2e-state`): metrics with Envoy's semantics,
//! shared data with compare-and-swap shared by the plugins of a VM, and a
//! shared queue whose items reach the owning root through `on_queue_ready`.

use crate::common::{Build, load_spec, noted, notes, spec};
use host_sim::{Host, HttpOutcome, PluginId, PluginSpec, Request, Response};

fn state_spec(build: Build) -> PluginSpec {
    spec("state", build).vm_id("e2e")
}

fn request(host: &mut Host, plugin: PluginId, path: &str) -> HttpOutcome {
    host.run_http(plugin, Request::get(path), Response::ok()).unwrap()
}

fn header(outcome: &HttpOutcome, name: &str) -> String {
    let headers = outcome.upstream_request.headers.as_ref().expect("the request went upstream");
    headers.get_str(name).unwrap_or_else(|| panic!("no {name} in {:?}", headers.to_strings())).to_owned()
}

#[test]
fn metrics_follow_envoy_semantics() {
    for build in Build::ALL {
        let (mut host, plugin) = load_spec(state_spec(build));
        let first = request(&mut host, plugin, "/a");
        assert_eq!(header(&first, "x-requests"), "1");
        assert_eq!(header(&first, "x-active"), "1");
        assert_eq!(header(&first, "x-histogram-get"), "host returned BadArgument (2)", "histograms cannot be read");
        assert_eq!(header(&first, "x-counter-decrement"), "host returned BadArgument (2)", "counters only grow");
        let second = request(&mut host, plugin, "/b");
        assert_eq!(header(&second, "x-requests"), "2");

        let mut open = host.http_stream(plugin).unwrap();
        open.request_headers([(":method", "GET"), (":path", "/c"), (":authority", "x")], true).unwrap();
        assert_eq!(open.host().gauge("e2e_active"), Some(1), "one stream is open");
        open.complete().unwrap();
        assert_eq!(host.counter("e2e_requests"), Some(3));
        assert_eq!(host.gauge("e2e_active"), Some(0), "on_done brought the gauge down again");
        assert_eq!(host.histogram("e2e_headers"), Some(vec![4, 4, 3]), "one sample per request: its header count");
    }
}

#[test]
fn shared_data_is_updated_with_compare_and_swap() {
    let (mut host, plugin) = load_spec(state_spec(Build::WASIP1));
    assert_eq!(header(&request(&mut host, plugin, "/a"), "x-hits"), "1");
    let (value, cas) = host.shared_data("e2e", "hits").unwrap();
    assert_eq!(value, b"1");
    let second = request(&mut host, plugin, "/b");
    assert_eq!(header(&second, "x-hits"), "2");
    let (value, next_cas) = host.shared_data("e2e", "hits").unwrap();
    assert_eq!(value, b"2");
    assert_ne!(cas, next_cas, "every write gets a new CAS");
    assert_eq!(header(&second, "x-absent"), "none", "a missing key reads as None, not an error");

    let cas_check = request(&mut host, plugin, "/cas");
    assert!(
        noted(&host, cas_check.context_id, "fresh cas: ok, stale cas: host returned CasMismatch (8)"),
        "{:?}",
        notes(&host, cas_check.context_id)
    );

    // Another worker writes; the plugin reads it.
    host.set_shared_data("e2e", "external", b"from-test");
    assert_eq!(header(&request(&mut host, plugin, "/d"), "x-external"), "from-test");
    assert!(host.shared_data("", "hits").is_none(), "shared data is per vm_id");
}

#[test]
fn plugins_of_one_vm_share_data() {
    let mut host = Host::new();
    let a = host.load(state_spec(Build::WASIP1).root_id("a")).unwrap();
    let b = host.load(state_spec(Build::WASIP1).root_id("b")).unwrap();
    assert_eq!(a.vm_index(), b.vm_index(), "same vm_id and module: one VM");
    assert_ne!(a.root_context_id(), b.root_context_id());
    assert_eq!(header(&request(&mut host, a, "/a"), "x-hits"), "1");
    assert_eq!(header(&request(&mut host, b, "/b"), "x-hits"), "2");
}

#[test]
fn queued_items_reach_the_owning_root() {
    for build in Build::ALL {
        let (mut host, plugin) = load_spec(state_spec(build));
        let root = plugin.root_context_id();
        let outcome = request(&mut host, plugin, "/job-1");
        assert!(noted(&host, outcome.context_id, "enqueued ok"));
        assert_eq!(notes(&host, root), ["queue ready true", "job /job-1", "drained"]);
        assert_eq!(host.queue("e2e", "e2e_jobs"), Some(vec![]), "the root drained the queue");

        host.enqueue("e2e", "e2e_jobs", b"from-another-worker").unwrap();
        assert_eq!(notes(&host, root)[3..], ["queue ready true", "job from-another-worker", "drained"]);
    }
}
