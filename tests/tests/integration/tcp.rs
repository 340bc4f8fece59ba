//! TCP connections end to end (guest `e2e-tcp`): the connection lifecycle,
//! paused data buffered until the plugin continues, data rewritten in both
//! directions, and a plugin-initiated close.

use crate::common::{Build, every_build, load_spec, notes, spec, wasm};
use guest_build::Target;
use host_sim::{Action, PeerType, PluginSpec, StreamType};

fn data_both_ways(build: Build) {
    let (mut host, plugin) = load_spec(spec("tcp", build));
    let mut conn = host.tcp_stream(plugin).unwrap();
    let id = conn.id().context_id();
    assert_eq!(conn.new_connection_action(), Some(Action::Continue));

    assert_eq!(conn.downstream_data("pi", false).unwrap(), Action::StopIteration);
    assert_eq!(conn.buffered_downstream(), b"pi");
    assert!(conn.sent_upstream().is_empty(), "held until a whole line arrived");
    assert_eq!(conn.downstream_data("ng\n", false).unwrap(), Action::Continue);
    assert_eq!(conn.sent_upstream(), b"> PING\n");

    assert_eq!(conn.upstream_data("pong", false).unwrap(), Action::Continue);
    assert_eq!(conn.sent_downstream(), b"pong [sluice]");
    conn.close_upstream(PeerType::Remote).unwrap();
    assert!(!conn.is_finished(), "the connection lives until the downstream side closes");
    let outcome = conn.complete().unwrap();
    assert_eq!(outcome.sent_upstream, b"> PING\n");
    assert_eq!(outcome.sent_downstream, b"pong [sluice]");
    assert!(outcome.closed_by_plugin.is_empty());
    assert_eq!(
        notes(&host, id),
        [
            "new_connection",
            "downstream 2 false",
            "downstream 5 false",
            "upstream 4 false",
            "upstream_close Remote",
            "downstream_close Remote",
            "done",
            "log",
            "delete",
        ]
    );
}

every_build!(data_flows_both_ways_and_the_connection_finishes: data_both_ways);

#[test]
fn the_plugin_closes_the_downstream_connection() {
    let (mut host, plugin) = load_spec(PluginSpec::from_bytes(wasm("tcp", Target::Wasip1)));
    let mut conn = host.tcp_stream(plugin).unwrap();
    let id = conn.id().context_id();
    conn.downstream_data("close\n", false).unwrap();
    assert!(conn.is_finished(), "closing the downstream side finishes the connection");
    assert!(conn.sent_upstream().is_empty());
    let outcome = conn.complete().unwrap();
    assert_eq!(outcome.closed_by_plugin, [StreamType::Downstream]);
    assert_eq!(
        notes(&host, id),
        ["new_connection", "downstream 6 false", "close true", "downstream_close Local", "done", "log", "delete"]
    );
}
