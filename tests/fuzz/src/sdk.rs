//! Random host replies into the SDK: a [`sluice::native::Host`] whose every
//! function answers at random (any status code, sizes up to `usize::MAX`,
//! serialized maps that are valid, truncated or claim billions of pairs,
//! buffers longer than asked for, plausible paths and configurations), and
//! plugins built from the SDK (the test guests and the examples, linked
//! natively) driven through a random but well-formed lifecycle, with now
//! and then a callback for a context or call the SDK never saw. The case
//! fails if anything panics.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use sluice::abi::{BufferStatus, CallStatus, SharedValue};
use sluice::native::{Host, HostResult, Instance};

use crate::guest::serialize;
use crate::rng::Rng;

/// The plugins driven, by name (for reports) and entry point.
pub const PLUGINS: &[(&str, fn())] = &[
    ("e2e-http", sluice_guest_e2e_http::sluice_main),
    ("e2e-callout", sluice_guest_e2e_callout::sluice_main),
    ("e2e-state", sluice_guest_e2e_state::sluice_main),
    ("e2e-tcp", sluice_guest_e2e_tcp::sluice_main),
    ("e2e-props", sluice_guest_e2e_props::sluice_main),
    ("e2e-root", sluice_guest_e2e_root::sluice_main),
    ("example-router", sluice_example_router::plugin::sluice_main),
    ("example-header-decode", sluice_example_header_decode::sluice_main),
    ("example-telemetry", sluice_example_telemetry::filter::sluice_main),
];

/// Values a plugin branches on: request paths of the test guests, header
/// values, configurations.
const HINTS: &[&str] = &[
    "/",
    "/http",
    "/grpc",
    "/grpc-stream",
    "/headers",
    "/body",
    "/deny",
    "/replace",
    "/state",
    "/queue",
    "/props",
    "/tick",
    "GET",
    "POST",
    "auth",
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
    "Bearer a.b.c",
    "{}",
    "{\"header\":\"x-user\",\"claims\":[\"sub\"]}",
    "{\"rules\":[{\"prefix\":\"/\",\"cluster\":\"a\"}]}",
    "{\"namespace\":\"n\",\"labels\":{\"a\":\"b\"}}",
    "[",
    "null",
    "200",
    "application/grpc",
];

/// Host calls answered at random in one case; later ones fail.
const BUDGET: u64 = 5000;

/// A host answering every call at random.
struct RandomHost {
    rng: RefCell<Rng>,
    /// Percent of calls answered with an error status.
    errors: u64,
    calls: Cell<u64>,
    /// Call and stream ids handed out, to answer some of them.
    tokens: RefCell<Vec<u32>>,
}

impl RandomHost {
    fn reply<T>(&self, ok: impl FnOnce(&mut Rng) -> T) -> HostResult<T> {
        self.calls.set(self.calls.get() + 1);
        let mut rng = self.rng.borrow_mut();
        // Past its budget every call fails: a plugin that loops until the
        // host says no (draining a queue) ends.
        if rng.chance(self.errors) || self.calls.get() > BUDGET {
            return Err(match rng.below(4) {
                0 => *rng.pick(&[0, 13, 100, u32::MAX]),
                _ => rng.range(1, 12) as u32,
            });
        }
        Ok(ok(&mut rng))
    }

    fn unit(&self) -> HostResult<()> {
        self.reply(|_| ())
    }

    fn bytes(&self) -> HostResult<Vec<u8>> {
        self.reply(bytes)
    }

    fn token(&self) -> HostResult<u32> {
        let token = self.reply(|rng| if rng.chance(80) { rng.range(1, 20) as u32 } else { rng.next_u32() })?;
        self.tokens.borrow_mut().push(token);
        Ok(token)
    }
}

fn bytes(rng: &mut Rng) -> Vec<u8> {
    match rng.below(8) {
        0 => Vec::new(),
        1 | 2 => rng.pick(HINTS).as_bytes().to_vec(),
        3 => map(rng),
        4 => rng.next_u64().to_le_bytes()[..*rng.pick(&[1, 4, 8])].to_vec(),
        5 if rng.chance(5) => vec![b'x'; 1 << 16],
        _ => {
            let len = rng.below(40) as usize;
            rng.bytes(len)
        }
    }
}

/// A serialized map: valid, cut short, or with counts and sizes that lie.
fn map(rng: &mut Rng) -> Vec<u8> {
    let names = [":path", ":method", ":status", "content-type", "authorization", "x-user", "grpc-status", ""];
    let pairs: Vec<(&str, &str)> = (0..rng.below(5)).map(|_| (*rng.pick(&names), *rng.pick(HINTS))).collect();
    let mut out = serialize(&pairs);
    match rng.below(6) {
        0 => out.truncate(rng.index(out.len() + 1)),
        1 if out.len() >= 4 => out[..4].copy_from_slice(&rng.pick(&[u32::MAX, 1 << 30, 1000]).to_le_bytes()),
        2 if out.len() > 8 => {
            let at = 4 + rng.index(out.len() - 8);
            out[at] = rng.next_u64() as u8;
        }
        _ => {}
    }
    out
}

fn size(rng: &mut Rng) -> usize {
    let n = rng.size(200);
    if n > usize::MAX as u64 { usize::MAX } else { n as usize }
}

impl Host for RandomHost {
    fn log(&self, _level: u32, _message: &[u8]) -> HostResult<()> {
        self.unit()
    }
    fn get_log_level(&self) -> HostResult<u32> {
        self.reply(|rng| if rng.chance(80) { rng.below(6) as u32 } else { rng.next_u32() })
    }
    fn get_current_time_nanoseconds(&self) -> HostResult<u64> {
        self.reply(|rng| {
            let any = rng.next_u64();
            *rng.pick(&[0, 1, 1_700_000_000_000_000_000, u64::MAX, any])
        })
    }
    fn set_tick_period_milliseconds(&self, _period: u32) -> HostResult<()> {
        self.unit()
    }
    fn done(&self) -> HostResult<()> {
        self.unit()
    }
    fn set_effective_context(&self, _context_id: u32) -> HostResult<()> {
        self.unit()
    }
    fn set_buffer_bytes(&self, _buffer_type: u32, _start: usize, _size: usize, _value: &[u8]) -> HostResult<()> {
        self.unit()
    }
    fn get_buffer_bytes(&self, _buffer_type: u32, _start: usize, max_size: usize) -> HostResult<Vec<u8>> {
        // Usually at most what was asked for; sometimes more, as a broken host would.
        self.reply(|rng| {
            let mut b = bytes(rng);
            if rng.chance(80) {
                b.truncate(max_size);
            }
            b
        })
    }
    fn get_buffer_status(&self, _buffer_type: u32) -> HostResult<BufferStatus> {
        self.reply(|rng| BufferStatus { size: size(rng), flags: rng.next_u32() })
    }
    fn get_header_map_size(&self, _map_type: u32) -> HostResult<usize> {
        self.reply(size)
    }
    fn get_header_map_pairs(&self, _map_type: u32) -> HostResult<Vec<u8>> {
        self.reply(map)
    }
    fn set_header_map_pairs(&self, _map_type: u32, _serialized: &[u8]) -> HostResult<()> {
        self.unit()
    }
    fn get_header_map_value(&self, _map_type: u32, _key: &[u8]) -> HostResult<Vec<u8>> {
        self.bytes()
    }
    fn add_header_map_value(&self, _map_type: u32, _key: &[u8], _value: &[u8]) -> HostResult<()> {
        self.unit()
    }
    fn replace_header_map_value(&self, _map_type: u32, _key: &[u8], _value: &[u8]) -> HostResult<()> {
        self.unit()
    }
    fn remove_header_map_value(&self, _map_type: u32, _key: &[u8]) -> HostResult<()> {
        self.unit()
    }
    fn continue_stream(&self, _stream_type: u32) -> HostResult<()> {
        self.unit()
    }
    fn close_stream(&self, _stream_type: u32) -> HostResult<()> {
        self.unit()
    }
    fn get_status(&self) -> HostResult<CallStatus> {
        self.reply(|rng| CallStatus {
            code: if rng.chance(70) { rng.below(17) as u32 } else { rng.next_u32() },
            message: bytes(rng),
        })
    }
    fn send_local_response(&self, _: u32, _: &[u8], _: &[u8], _: &[u8], _: i32) -> HostResult<()> {
        self.unit()
    }
    fn http_call(&self, _: &[u8], _: &[u8], _: &[u8], _: &[u8], _: u32) -> HostResult<u32> {
        self.token()
    }
    fn grpc_call(&self, _: &[u8], _: &[u8], _: &[u8], _: &[u8], _: &[u8], _: u32) -> HostResult<u32> {
        self.token()
    }
    fn grpc_stream(&self, _: &[u8], _: &[u8], _: &[u8], _: &[u8]) -> HostResult<u32> {
        self.token()
    }
    fn grpc_send(&self, _stream_id: u32, _message: &[u8], _end_stream: bool) -> HostResult<()> {
        self.unit()
    }
    fn grpc_cancel(&self, _id: u32) -> HostResult<()> {
        self.unit()
    }
    fn grpc_close(&self, _id: u32) -> HostResult<()> {
        self.unit()
    }
    fn set_shared_data(&self, _key: &[u8], _value: &[u8], _cas: u32) -> HostResult<()> {
        self.unit()
    }
    fn get_shared_data(&self, _key: &[u8]) -> HostResult<SharedValue> {
        self.reply(|rng| SharedValue { value: bytes(rng), cas: rng.next_u32() })
    }
    fn register_shared_queue(&self, _name: &[u8]) -> HostResult<u32> {
        self.reply(Rng::next_u32)
    }
    fn resolve_shared_queue(&self, _vm_id: &[u8], _name: &[u8]) -> HostResult<u32> {
        self.reply(Rng::next_u32)
    }
    fn enqueue_shared_queue(&self, _queue_id: u32, _value: &[u8]) -> HostResult<()> {
        self.unit()
    }
    fn dequeue_shared_queue(&self, _queue_id: u32) -> HostResult<Vec<u8>> {
        self.bytes()
    }
    fn define_metric(&self, _metric_type: u32, _name: &[u8]) -> HostResult<u32> {
        self.reply(Rng::next_u32)
    }
    fn record_metric(&self, _metric_id: u32, _value: u64) -> HostResult<()> {
        self.unit()
    }
    fn increment_metric(&self, _metric_id: u32, _delta: i64) -> HostResult<()> {
        self.unit()
    }
    fn get_metric(&self, _metric_id: u32) -> HostResult<u64> {
        self.reply(Rng::next_u64)
    }
    fn get_property(&self, _path: &[u8]) -> HostResult<Vec<u8>> {
        self.bytes()
    }
    fn set_property(&self, _path: &[u8], _value: &[u8]) -> HostResult<()> {
        self.unit()
    }
    fn call_foreign_function(&self, _name: &[u8], _arguments: &[u8]) -> HostResult<Vec<u8>> {
        self.bytes()
    }
}

/// Runs case `seed`: `Ok(host calls the SDK made)`; a panic is the failure
/// (the caller catches it).
pub fn run(seed: u64) -> Result<u64, String> {
    let mut rng = Rng::new(seed);
    let (_, entry) = *rng.pick(PLUGINS);
    let host = Rc::new(RandomHost {
        rng: RefCell::new(rng.fork()),
        errors: *rng.pick(&[0, 5, 20, 50]),
        calls: Cell::new(0),
        tokens: RefCell::new(Vec::new()),
    });
    let mut plugin = Instance::new(host.clone());
    plugin.enter(entry);
    let root = 1;
    plugin.on_context_create(root, 0);
    plugin.on_vm_start(root, size(&mut rng));
    plugin.on_configure(root, size(&mut rng));
    let mut live: Vec<u32> = Vec::new();
    let mut next = 2;
    for _ in 0..rng.range(5, 60) {
        if live.is_empty() || rng.chance(15) {
            let parent = if rng.chance(5) { *rng.pick(&[0, 7, u32::MAX]) } else { root };
            plugin.on_context_create(next, parent);
            live.push(next);
            next += 1;
            continue;
        }
        let id = if rng.chance(3) { *rng.pick(&[0, 999, u32::MAX]) } else { *rng.pick(&live) };
        let n = size(&mut rng);
        let eos = rng.chance(50);
        let token = {
            let tokens = host.tokens.borrow();
            if !tokens.is_empty() && rng.chance(80) { *rng.pick(&tokens) } else { rng.next_u32() }
        };
        match rng.below(24) {
            0..=2 => _ = plugin.on_request_headers(id, n, eos),
            3 => _ = plugin.on_request_body(id, n, eos),
            4 => _ = plugin.on_request_trailers(id, n),
            5..=6 => _ = plugin.on_response_headers(id, n, eos),
            7 => _ = plugin.on_response_body(id, n, eos),
            8 => _ = plugin.on_response_trailers(id, n),
            9 => _ = plugin.on_new_connection(id),
            10 => _ = plugin.on_downstream_data(id, n, eos),
            11 => _ = plugin.on_upstream_data(id, n, eos),
            12 => plugin.on_downstream_connection_close(id, rng.below(4) as u32),
            13 => plugin.on_upstream_connection_close(id, rng.below(4) as u32),
            14 => plugin.on_tick(root),
            15 => plugin.on_queue_ready(root, rng.next_u32()),
            16 => plugin.on_foreign_function(root, rng.below(4) as u32, n),
            17 => {
                let on = if rng.chance(50) { root } else { id };
                plugin.on_http_call_response(on, token, size(&mut rng), n, size(&mut rng));
            }
            18 => plugin.on_grpc_receive_initial_metadata(*rng.pick(&[root, id]), token, n),
            19 => plugin.on_grpc_receive(*rng.pick(&[root, id]), token, n),
            20 => plugin.on_grpc_receive_trailing_metadata(*rng.pick(&[root, id]), token, n),
            21 => plugin.on_grpc_close(*rng.pick(&[root, id]), token, rng.below(20) as u32),
            _ => {
                // The end of a context, sometimes in an odd order.
                let _ = plugin.on_done(id);
                if rng.chance(80) {
                    plugin.on_log(id);
                }
                plugin.on_delete(id);
                live.retain(|&c| c != id);
            }
        }
    }
    for id in live {
        plugin.on_done(id);
        plugin.on_log(id);
        plugin.on_delete(id);
    }
    plugin.on_done(root);
    plugin.on_delete(root);
    Ok(host.calls.get())
}
