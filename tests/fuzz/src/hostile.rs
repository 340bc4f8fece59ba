//! One hostile-guest case: a generated guest ([`crate::guest`]) loaded into
//! a host next to a well-behaved plugin, under random host options, limits,
//! fail policy and profile, then driven by random steps: whole and partial
//! HTTP streams (in any order, including wrong ones), TCP connections,
//! ticks, clock steps up to the end of time, queue items, callout answers,
//! foreign callbacks, property changes, shutdowns. Errors of every kind are
//! expected; the case fails only if the host panics (caught by the caller),
//! or if the well-behaved plugin stops being served.

use std::sync::OnceLock;
use std::time::Duration;

use host_sim::{
    FailPolicy, GrpcEvent, HeaderMap, Host, HostOptions, HostProfile, HttpCallResponse, Limits, LogLevel, PeerType,
    PluginId, PluginSpec, Rebuild, Request, Response,
};

use crate::guest::{self, Options};
use crate::rng::Rng;

/// Host calls kept per VM: far more than a case makes, so that the trace
/// counts them all.
const TRACE: usize = 1 << 21;

/// A well-behaved plugin (host-sim's `tests/reliability/healthy.wat`): it
/// logs each request and lets it through.
fn healthy() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        wat::parse_str(include_str!("../../../host-sim/tests/reliability/healthy.wat"))
            .expect("the healthy plugin is valid WAT")
    })
}

/// Runs case `seed`: `Ok(host calls made)`, or what went wrong.
pub fn run(seed: u64) -> Result<u64, String> {
    let mut rng = Rng::new(seed);
    let guest = guest::generate(&mut rng.fork(), Options { runaway: true, malformed: rng.chance(10) });
    let mut host = Host::with_options(options(&mut rng));
    host.set_profile(*rng.pick(&HostProfile::NAMES.map(|(_, p)| p)));
    if rng.chance(10) {
        host.set_strict(true);
    }
    if rng.chance(30) {
        host.set_clusters(&["auth", "cluster", "upstream"]);
    }
    if rng.chance(20) {
        host.register_foreign_function("echo", |args| Ok(args.to_vec()));
    }
    let neighbour = host
        .load(PluginSpec::from_bytes(healthy()).vm_id("neighbour"))
        .map_err(|e| format!("the well-behaved plugin did not load: {e}"))?;

    let spec = spec(&mut rng, guest.wasm);
    let mut plugins = Vec::new();
    if let Ok(plugin) = host.load(spec.clone()) {
        plugins.push(plugin);
    }
    if rng.chance(20)
        && let Ok(plugin) = host.load(spec.clone().root_id("second"))
    {
        plugins.push(plugin);
    }
    if !plugins.is_empty() {
        for _ in 0..rng.range(2, 24) {
            let plugin = *rng.pick(&plugins);
            step(&mut host, &mut rng, plugin, &spec);
        }
    }
    let calls = host.trace().len() as u64;
    still_serves(&mut host, neighbour)?;
    Ok(calls)
}

fn options(rng: &mut Rng) -> HostOptions {
    HostOptions {
        seed: rng.next_u64(),
        log_capacity: *rng.pick(&[0, 10, 100_000]),
        trace_capacity: TRACE,
        log_level: *rng.pick(&[LogLevel::Trace, LogLevel::Info, LogLevel::Critical]),
        memory_limit: *rng.pick(&[1 << 20, 4 << 20, 16 << 20, 64 << 20]),
        // Fuel stops endless guest code deterministically; the deadline
        // is the backstop (and, without fuel, what stops it).
        cpu_deadline: Some(Duration::from_millis(if rng.chance(1) { 20 } else { 2000 })),
        fuel: if rng.chance(1) { None } else { Some(rng.range(10_000, 2_000_000)) },
        // Clocks anywhere, the end of time included.
        realtime_ns: *rng.pick(&[0, 1_735_689_600_000_000_000, u64::MAX - 1_000_000, u64::MAX]),
        monotonic_ns: *rng.pick(&[0, 1, 86_400_000_000_000, u64::MAX - 1_000_000, u64::MAX]),
        stream_idle_timeout: *rng.pick(&[None, Some(Duration::from_millis(1)), Some(Duration::from_secs(300))]),
        // One worker: the hostile guests target one VM (workers are tested in host-sim/tests/integration/mesh.rs).
        concurrency: 1,
    }
}

/// A small value or the default of a limit.
fn limit(rng: &mut Rng, default: usize, small: &[usize]) -> usize {
    if rng.chance(60) { default } else { *rng.pick(small) }
}

fn limits(rng: &mut Rng) -> Limits {
    let d = Limits::default();
    Limits {
        log_line_bytes: limit(rng, d.log_line_bytes, &[0, 16, 4096]),
        log_bytes: limit(rng, d.log_bytes, &[0, 100, 1 << 16]),
        host_call_bytes: limit(rng, d.host_call_bytes, &[0, 64, 1 << 16]),
        property_depth: limit(rng, d.property_depth, &[0, 1, 3, 256, usize::MAX]),
        property_bytes: limit(rng, d.property_bytes, &[0, 10, 1000]),
        pending_callouts: limit(rng, d.pending_callouts, &[0, 1, 3]),
        callout_bytes: limit(rng, d.callout_bytes, &[0, 100, 10_000]),
        shared_data_bytes: limit(rng, d.shared_data_bytes, &[0, 10, 1000]),
        queues: limit(rng, d.queues, &[0, 1, 2]),
        queue_items: limit(rng, d.queue_items, &[0, 1, 5]),
        queue_bytes: limit(rng, d.queue_bytes, &[0, 10, 1000]),
        metrics: limit(rng, d.metrics, &[0, 1, 3]),
        metric_name_bytes: limit(rng, d.metric_name_bytes, &[0, 4, 64]),
        histogram_samples: limit(rng, d.histogram_samples, &[0, 1, 10]),
        // Deliveries are bounded lower than the default most of the time:
        // a guest re-enqueueing from on_queue_ready runs to the limit.
        deliveries_per_step: if rng.chance(5) { d.deliveries_per_step } else { *rng.pick(&[0, 1, 10, 1000]) },
    }
}

fn spec(rng: &mut Rng, wasm: Vec<u8>) -> PluginSpec {
    let mut spec = PluginSpec::from_bytes(wasm)
        .vm_id(*rng.pick(&["", "a", "neighbour"]))
        .configuration(random_bytes(rng, 64))
        .vm_configuration(random_bytes(rng, 16))
        .name(*rng.pick(&["plugin", "", "p q"]))
        .limits(limits(rng));
    match rng.below(10) {
        0..=3 => {}
        4..=6 => spec = spec.fail_policy(FailPolicy::Closed),
        _ => spec = spec.fail_policy(FailPolicy::Open),
    }
    if rng.chance(15) {
        spec = spec.rebuild(Rebuild::new(rng.range(0, 3) as u32, Duration::from_secs(rng.range(0, 100))));
    }
    if rng.chance(10) {
        spec = spec.env("K", "v").property(&["a", "b"], "c");
    }
    if rng.chance(5) {
        spec = spec.allow_capabilities(["proxy_log", "proxy_get_property", "fd_write", "proxy_on_request_headers"]);
    }
    if rng.chance(5) {
        spec = spec.redact_headers(["authorization", ":path"]);
    }
    spec
}

fn random_bytes(rng: &mut Rng, max: u64) -> Vec<u8> {
    let len = rng.below(max + 1) as usize;
    if rng.chance(50) { rng.bytes(len) } else { (0..len).map(|_| b'a' + rng.below(26) as u8).collect() }
}

const NAMES: &[&str] = &[":path", ":method", ":authority", ":status", "x-fuzz", "content-length", "", "a b", "A"];

fn headers(rng: &mut Rng, first: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> =
        first.iter().filter(|_| rng.chance(90)).map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
    for _ in 0..rng.below(4) {
        pairs.push((rng.pick(NAMES).as_bytes().to_vec(), random_bytes(rng, 12)));
    }
    pairs
}

fn header_map(rng: &mut Rng, first: &[(&str, &str)]) -> HeaderMap {
    HeaderMap::from_pairs(headers(rng, first))
}

const REQUEST: &[(&str, &str)] = &[(":method", "GET"), (":path", "/"), (":authority", "example.com")];
const RESPONSE: &[(&str, &str)] = &[(":status", "200")];

fn exchange(rng: &mut Rng, first: &[(&str, &str)]) -> Request {
    let mut exchange = Request { headers: header_map(rng, first), ..Request::default() };
    for _ in 0..rng.below(3) {
        exchange = exchange.body(random_bytes(rng, 100));
    }
    if rng.chance(20) {
        exchange = exchange.trailer("t", "1");
    }
    exchange
}

fn peer(rng: &mut Rng) -> PeerType {
    *rng.pick(&[PeerType::Unknown, PeerType::Local, PeerType::Remote])
}

/// One random step; every result is allowed, as long as nothing panics.
fn step(host: &mut Host, rng: &mut Rng, plugin: PluginId, spec: &PluginSpec) {
    match rng.below(20) {
        0..=4 => {
            let request = exchange(rng, REQUEST);
            let response: Response = exchange(rng, RESPONSE);
            let _ = host.run_http(plugin, request, response);
        }
        5..=7 => {
            let Ok(mut stream) = host.http_stream(plugin) else { return };
            for _ in 0..rng.range(1, 8) {
                let eos = rng.chance(40);
                let _ = match rng.below(6) {
                    0 => stream.request_headers(headers(rng, REQUEST), eos),
                    1 => stream.request_body(random_bytes(rng, 64), eos),
                    2 => stream.request_trailers(headers(rng, &[])),
                    3 => stream.response_headers(headers(rng, RESPONSE), eos),
                    4 => stream.response_body(random_bytes(rng, 64), eos),
                    _ => stream.response_trailers(headers(rng, &[])),
                };
            }
            if rng.chance(70) {
                let _ = stream.complete();
            }
        }
        8 => {
            let Ok(mut tcp) = host.tcp_stream(plugin) else { return };
            for _ in 0..rng.range(1, 6) {
                let eos = rng.chance(30);
                let _ = match rng.below(4) {
                    0 => tcp.downstream_data(random_bytes(rng, 64), eos),
                    1 => tcp.upstream_data(random_bytes(rng, 64), eos),
                    2 => tcp.close_downstream(peer(rng)).map(|_| host_sim::Action::Continue),
                    _ => tcp.close_upstream(peer(rng)).map(|_| host_sim::Action::Continue),
                };
            }
            if rng.chance(70) {
                let _ = tcp.complete();
            }
        }
        9..=10 => {
            let _ = host.tick(plugin);
        }
        11 => {
            let by = match rng.below(10) {
                0 => Duration::from_nanos(u64::MAX),
                1 => Duration::from_millis(u64::from(u32::MAX)),
                2 => Duration::from_nanos(u64::MAX - host.now_ns()),
                _ => Duration::from_millis(rng.below(5000)),
            };
            let _ = host.advance(by);
        }
        12 => {
            let vm_id = *rng.pick(&["", "a", "neighbour"]);
            let queue = *rng.pick(&["q", "queue", ""]);
            let _ = host.enqueue(vm_id, queue, &random_bytes(rng, 32));
        }
        13..=14 => answer_callouts(host, rng),
        15 => {
            let _ = host.call_foreign_callback(plugin, rng.below(4) as u32, &random_bytes(rng, 16));
        }
        16 => {
            let path: Vec<&str> =
                (0..rng.range(0, 4)).map(|_| *rng.pick(&["request", "a", "", "plugin_name"])).collect();
            let _ = host.set_property(plugin, &path, "v");
        }
        17 => {
            if rng.chance(30) {
                let _ = host.shutdown(plugin);
            } else {
                let _ = host.load(spec.clone().root_id(format!("r{}", rng.below(3))));
            }
        }
        18 => {
            let (vm_id, key) = (*rng.pick(&["", "a"]), *rng.pick(&["key", "k"]));
            host.set_shared_data(vm_id, key, &random_bytes(rng, 16));
            host.set_log_level(*rng.pick(&[LogLevel::Trace, LogLevel::Warn, LogLevel::Critical]));
        }
        _ => {
            // Everything a test reads back.
            let _ = (host.usage(plugin), host.failure(plugin), host.tick_period(plugin), host.fuel(plugin));
            let _ = (host.logs().len(), host.metrics().len(), host.http_callouts().len(), host.grpc_callouts().len());
            if rng.chance(20) {
                host.clear_logs();
            }
        }
    }
}

fn answer_callouts(host: &mut Host, rng: &mut Rng) {
    for call in host.http_callouts() {
        if !rng.chance(70) {
            continue;
        }
        let _ = match rng.below(4) {
            0 => host.fail_http_call(call.id()),
            1 => host.respond_http_call(call.id(), HttpCallResponse::timeout()),
            _ => host.respond_http_call(
                call.id(),
                HttpCallResponse {
                    headers: header_map(rng, RESPONSE),
                    body: random_bytes(rng, 100),
                    trailers: header_map(rng, &[]),
                },
            ),
        };
    }
    for call in host.grpc_callouts() {
        if !rng.chance(70) {
            continue;
        }
        let event = match rng.below(4) {
            0 => GrpcEvent::InitialMetadata(header_map(rng, &[])),
            1 => GrpcEvent::Message(random_bytes(rng, 64)),
            2 => GrpcEvent::TrailingMetadata(header_map(rng, &[])),
            _ => GrpcEvent::Close(*rng.pick(&[0, 2, 4, 13, 16, 17, u32::MAX]), "closed".into()),
        };
        let _ = host.grpc_respond(call.id(), event);
    }
}

/// The well-behaved plugin still serves a whole stream, unchanged.
fn still_serves(host: &mut Host, plugin: PluginId) -> Result<(), String> {
    let outcome = host
        .run_http(plugin, Request::get("/"), Response::ok().body("hi"))
        .map_err(|e| format!("the well-behaved plugin was not served: {e}"))?;
    let status = outcome.client_response.headers.as_ref().and_then(|h| h.get_str(":status").map(str::to_owned));
    if status.as_deref() != Some("200") || outcome.client_response.body != b"hi" || outcome.local_response.is_some() {
        return Err(format!("the well-behaved plugin's client got {status:?} {:?}", outcome.client_response.body));
    }
    if let Some(failure) = host.failure(plugin) {
        return Err(format!("the well-behaved plugin failed: {failure}"));
    }
    Ok(())
}
