//! A minimal Proxy-Wasm host on bare wasmtime: just what the header and
//! callout plugins need (header maps, logs, local responses, HTTP calls and
//! their response body, stream resumption). Every other import answers 0.
//!
//! It serves two measurements: guest instructions per stream, counted with
//! wasmtime fuel (deterministic: host functions consume no fuel), and the
//! "bare loop" whose streams/s host-sim is compared with.

use wasmtime::{Caller, Config, Engine, Extern, Func, Linker, Memory, Module, Store, TypedFunc, Val};

/// Header pairs, in order.
pub type Pairs = Vec<(String, String)>;

/// What one stream brings: its headers and, if the plugin makes an HTTP call,
/// the body of the call's response.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// Request headers.
    pub request: Pairs,
    /// Response headers (sent unless the plugin answered locally).
    pub response: Pairs,
    /// Body of every HTTP call's response.
    pub callout_body: Vec<u8>,
}

impl Exchange {
    /// The exchange every measurement uses.
    pub fn standard() -> Exchange {
        let pairs = |p: &[(&str, &str)]| p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Exchange {
            request: pairs(&[
                (":method", "GET"),
                (":path", "/"),
                (":authority", "example.com"),
                (":scheme", "https"),
                ("user-agent", "bench"),
            ]),
            response: pairs(&[(":status", "200"), ("content-type", "text/plain")]),
            callout_body: vec![2],
        }
    }
}

/// A local response the plugin sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalReply {
    /// HTTP status.
    pub status: u32,
    /// Headers.
    pub headers: Pairs,
    /// Body.
    pub body: Vec<u8>,
}

/// An HTTP call the plugin made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Callout {
    /// Upstream (cluster).
    pub upstream: String,
    /// Call headers.
    pub headers: Pairs,
    /// Call body.
    pub body: Vec<u8>,
    /// Timeout in milliseconds.
    pub timeout_ms: u32,
}

/// Everything the plugin did to one stream, as the host saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Request headers after the plugin ran.
    pub request: Pairs,
    /// Response headers after the plugin ran (empty if it answered locally).
    pub response: Pairs,
    /// Its local response, if any.
    pub local: Option<LocalReply>,
    /// HTTP calls it made.
    pub callouts: Vec<Callout>,
    /// Streams it resumed (`proxy_continue_stream` argument).
    pub resumed: Vec<i32>,
    /// Log lines (level, message), when recording.
    pub logs: Vec<(i32, String)>,
    /// Actions returned by request and response headers callbacks.
    pub actions: Vec<i32>,
}

/// The host's state for one VM.
#[derive(Default)]
pub struct State {
    memory: Option<Memory>,
    malloc: Option<TypedFunc<i32, i32>>,
    maps: [Pairs; 8],
    record_logs: bool,
    callout_body: Vec<u8>,
    next_token: i32,
    out: Outcome,
    /// Fuel each guest call of the last stream consumed, by callback.
    fuel_by_callback: Vec<(&'static str, u64)>,
}

fn read(caller: &mut Caller<'_, State>, ptr: i32, len: i32) -> Vec<u8> {
    let memory = caller.data().memory.expect("guest exports memory");
    let data = memory.data(&*caller);
    data.get(ptr as u32 as usize..(ptr as u32 as usize).saturating_add(len as u32 as usize))
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

fn read_str(caller: &mut Caller<'_, State>, ptr: i32, len: i32) -> String {
    String::from_utf8_lossy(&read(caller, ptr, len)).into_owned()
}

fn write_u32(caller: &mut Caller<'_, State>, ptr: i32, value: u32) {
    let memory = caller.data().memory.expect("guest exports memory");
    let at = ptr as u32 as usize;
    memory.data_mut(&mut *caller)[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// Copies `bytes` into guest memory (allocated with `proxy_on_memory_allocate`)
/// and stores its address and size at `ptr_ptr` and `size_ptr`.
fn give(caller: &mut Caller<'_, State>, bytes: &[u8], ptr_ptr: i32, size_ptr: i32) -> i32 {
    let malloc = caller.data().malloc.clone().expect("guest exports proxy_on_memory_allocate");
    let ptr = malloc.call(&mut *caller, bytes.len() as i32).expect("guest allocates");
    let memory = caller.data().memory.expect("guest exports memory");
    let at = ptr as u32 as usize;
    memory.data_mut(&mut *caller)[at..at + bytes.len()].copy_from_slice(bytes);
    write_u32(caller, ptr_ptr, ptr as u32);
    write_u32(caller, size_ptr, bytes.len() as u32);
    0
}

/// The Proxy-Wasm serialization of a header map (the ABI's one encoder).
pub fn serialize(pairs: &[(String, String)]) -> Vec<u8> {
    sluice::abi::map::encode(pairs)
}

/// The pairs of a serialized map (none if it is malformed).
fn deserialize(bytes: &[u8]) -> Pairs {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let count = sluice::abi::map::validate(bytes).unwrap_or(0);
    sluice::abi::map::PairsIter::new(bytes, count).map(|(k, v)| (text(k), text(v))).collect()
}

fn map<'a>(caller: &'a mut Caller<'_, State>, map: i32) -> &'a mut Pairs {
    let index = (map as usize).min(7);
    &mut caller.data_mut().maps[index]
}

fn link(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.func_wrap("env", "proxy_log", |mut c: Caller<'_, State>, level: i32, ptr: i32, len: i32| {
        if c.data().record_logs {
            let message = read_str(&mut c, ptr, len);
            c.data_mut().out.logs.push((level, message));
        }
        0
    })?;
    linker.func_wrap("env", "proxy_get_log_level", |mut c: Caller<'_, State>, ptr: i32| {
        write_u32(&mut c, ptr, 0);
        0
    })?;
    linker.func_wrap("env", "proxy_get_header_map_pairs", |mut c: Caller<'_, State>, m: i32, pp: i32, sp: i32| {
        let bytes = serialize(map(&mut c, m));
        give(&mut c, &bytes, pp, sp)
    })?;
    linker.func_wrap("env", "proxy_set_header_map_pairs", |mut c: Caller<'_, State>, m: i32, p: i32, l: i32| {
        let pairs = deserialize(&read(&mut c, p, l));
        *map(&mut c, m) = pairs;
        0
    })?;
    linker.func_wrap("env", "proxy_get_header_map_size", |mut c: Caller<'_, State>, m: i32, sp: i32| {
        let size = serialize(map(&mut c, m)).len() as u32;
        write_u32(&mut c, sp, size);
        0
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut c: Caller<'_, State>, m: i32, kp: i32, kl: i32, pp: i32, sp: i32| {
            let key = read_str(&mut c, kp, kl).to_ascii_lowercase();
            match map(&mut c, m).iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()) {
                Some(value) => give(&mut c, value.as_bytes(), pp, sp),
                None => 1, // NotFound
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut c: Caller<'_, State>, m: i32, kp: i32, kl: i32, vp: i32, vl: i32| {
            let key = read_str(&mut c, kp, kl).to_ascii_lowercase();
            let value = read_str(&mut c, vp, vl);
            let pairs = map(&mut c, m);
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, value));
            0
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut c: Caller<'_, State>, m: i32, kp: i32, kl: i32, vp: i32, vl: i32| {
            let key = read_str(&mut c, kp, kl).to_ascii_lowercase();
            let value = read_str(&mut c, vp, vl);
            map(&mut c, m).push((key, value));
            0
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut c: Caller<'_, State>, m: i32, kp: i32, kl: i32| {
            let key = read_str(&mut c, kp, kl).to_ascii_lowercase();
            map(&mut c, m).retain(|(k, _)| *k != key);
            0
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: Caller<'_, State>, status: i32, _dp: i32, _dl: i32, bp: i32, bl: i32, hp: i32, hl: i32, _grpc: i32| {
            let body = read(&mut c, bp, bl);
            let headers = deserialize(&read(&mut c, hp, hl));
            c.data_mut().out.local = Some(LocalReply { status: status as u32, headers, body });
            0
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut c: Caller<'_, State>,
         up: i32,
         ul: i32,
         hp: i32,
         hl: i32,
         bp: i32,
         bl: i32,
         _tp: i32,
         _tl: i32,
         timeout: i32,
         token_ptr: i32| {
            let upstream = read_str(&mut c, up, ul);
            let headers = deserialize(&read(&mut c, hp, hl));
            let body = read(&mut c, bp, bl);
            c.data_mut().out.callouts.push(Callout { upstream, headers, body, timeout_ms: timeout as u32 });
            c.data_mut().next_token += 1;
            let token = c.data().next_token;
            write_u32(&mut c, token_ptr, token as u32);
            0
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: Caller<'_, State>, kind: i32, start: i32, max: i32, pp: i32, sp: i32| {
            if kind != 4 {
                return 1; // NotFound: only the HTTP call response body exists here.
            }
            let body = c.data().callout_body.clone();
            let from = (start as usize).min(body.len());
            let to = from.saturating_add(max as u32 as usize).min(body.len());
            give(&mut c, &body[from..to], pp, sp)
        },
    )?;
    linker.func_wrap("env", "proxy_continue_stream", |mut c: Caller<'_, State>, stream: i32| {
        c.data_mut().out.resumed.push(stream);
        0
    })?;
    Ok(())
}

/// Answers every import `link` does not define with zeroes.
fn link_rest(linker: &mut Linker<State>, engine: &Engine, module: &Module) -> wasmtime::Result<()> {
    let mut probe = Store::new(engine, State::default());
    for import in module.imports() {
        if linker.get_by_import(&mut probe, &import).is_some() {
            continue;
        }
        if let wasmtime::ExternType::Func(ty) = import.ty() {
            let results: Vec<_> = ty.results().collect();
            linker.func_new(import.module(), import.name(), ty.clone(), move |_, _, out| {
                for (slot, t) in out.iter_mut().zip(&results) {
                    *slot = Val::default_for_ty(t).unwrap_or(Val::I32(0));
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// An engine for the driver: with fuel metering (instruction counts) or
/// without (speed).
pub fn engine(fuel: bool) -> Engine {
    let mut config = Config::new();
    config.consume_fuel(fuel);
    Engine::new(&config).expect("wasmtime engine")
}

const ROOT: i32 = 1;

/// `proxy_on_http_call_response(context_id, token, headers, body_size, trailers)`.
type CallResponse = TypedFunc<(i32, i32, i32, i32, i32), ()>;

/// Runs one guest call, noting the fuel it used when metering.
fn metered<R>(
    store: &mut Store<State>,
    fuel: bool,
    name: &'static str,
    call: impl FnOnce(&mut Store<State>) -> wasmtime::Result<R>,
) -> wasmtime::Result<R> {
    let before = if fuel { store.get_fuel()? } else { 0 };
    let result = call(store)?;
    if fuel {
        let used = before - store.get_fuel()?;
        store.data_mut().fuel_by_callback.push((name, used));
    }
    Ok(result)
}

/// One booted plugin VM (root context 1 created, VM started, configured).
pub struct Driver {
    store: Store<State>,
    fuel: bool,
    next_id: i32,
    create: TypedFunc<(i32, i32), ()>,
    request_headers: TypedFunc<(i32, i32, i32), i32>,
    response_headers: TypedFunc<(i32, i32, i32), i32>,
    call_response: Option<CallResponse>,
    done: TypedFunc<i32, i32>,
    log: TypedFunc<i32, ()>,
    delete: TypedFunc<i32, ()>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("out", &self.out).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("next_id", &self.next_id).finish_non_exhaustive()
    }
}

impl Driver {
    /// Instantiates and boots `wasm` on `engine`; `record_logs` keeps log lines
    /// in each [`Outcome`].
    pub fn new(engine: &Engine, wasm: &[u8], record_logs: bool) -> wasmtime::Result<Driver> {
        let module = Module::new(engine, wasm)?;
        let mut linker = Linker::new(engine);
        link(&mut linker)?;
        link_rest(&mut linker, engine, &module)?;
        let fuel = engine.get_consume_fuel();
        let mut store = Store::new(engine, State { record_logs, ..State::default() });
        if fuel {
            store.set_fuel(u64::MAX)?;
        }
        let instance = linker.instantiate(&mut store, &module)?;
        store.data_mut().memory = instance.get_memory(&mut store, "memory");
        store.data_mut().malloc = Some(instance.get_typed_func(&mut store, "proxy_on_memory_allocate")?);
        let func = |store: &mut Store<State>, name: &str| -> wasmtime::Result<Func> {
            match instance.get_export(&mut *store, name) {
                Some(Extern::Func(f)) => Ok(f),
                _ => Err(wasmtime::format_err!("the module does not export {name}")),
            }
        };
        let init = func(&mut store, "_initialize").ok();
        let create = func(&mut store, "proxy_on_context_create")?.typed(&store)?;
        let vm_start = func(&mut store, "proxy_on_vm_start")?.typed::<(i32, i32), i32>(&store)?;
        let configure = func(&mut store, "proxy_on_configure")?.typed::<(i32, i32), i32>(&store)?;
        let request_headers = func(&mut store, "proxy_on_request_headers")?.typed(&store)?;
        let response_headers = func(&mut store, "proxy_on_response_headers")?.typed(&store)?;
        let call_response =
            func(&mut store, "proxy_on_http_call_response").ok().map(|f| f.typed(&store)).transpose()?;
        let done = func(&mut store, "proxy_on_done")?.typed(&store)?;
        let log = func(&mut store, "proxy_on_log")?.typed(&store)?;
        let delete = func(&mut store, "proxy_on_delete")?.typed(&store)?;
        if let Some(init) = init {
            init.typed::<(), ()>(&store)?.call(&mut store, ())?;
        }
        create.call(&mut store, (ROOT, 0))?;
        vm_start.call(&mut store, (ROOT, 0))?;
        configure.call(&mut store, (ROOT, 0))?;
        Ok(Driver {
            store,
            fuel,
            next_id: ROOT + 1,
            create,
            request_headers,
            response_headers,
            call_response,
            done,
            log,
            delete,
        })
    }

    /// Runs one HTTP stream: context create, request headers, the response of
    /// every HTTP call made, response headers (unless answered locally), done,
    /// log, delete.
    pub fn stream(&mut self, exchange: &Exchange) -> wasmtime::Result<Outcome> {
        let id = self.next_id;
        self.next_id += 1;
        let fuel = self.fuel;
        let store = &mut self.store;
        {
            let state = store.data_mut();
            state.out = Outcome::default();
            state.fuel_by_callback.clear();
            state.maps[0].clone_from(&exchange.request);
            state.maps[2].clear();
            state.maps[6] = vec![(":status".into(), "200".into())];
            state.callout_body.clone_from(&exchange.callout_body);
        }
        metered(store, fuel, "on_context_create", |s| self.create.call(s, (id, ROOT)))?;
        let n = exchange.request.len() as i32;
        let action = metered(store, fuel, "on_request_headers", |s| self.request_headers.call(s, (id, n, 1)))?;
        store.data_mut().out.actions.push(action);
        let calls = store.data().out.callouts.len();
        for _ in 0..calls {
            let token = store.data().next_token;
            let call_response = self.call_response.as_ref().ok_or_else(|| wasmtime::format_err!("no call handler"))?;
            let size = exchange.callout_body.len() as i32;
            metered(store, fuel, "on_http_call_response", |s| call_response.call(s, (ROOT, token, 1, size, 0)))?;
        }
        if store.data().out.local.is_none() {
            store.data_mut().maps[2].clone_from(&exchange.response);
            let n = exchange.response.len() as i32;
            let action = metered(store, fuel, "on_response_headers", |s| self.response_headers.call(s, (id, n, 1)))?;
            store.data_mut().out.actions.push(action);
        }
        metered(store, fuel, "on_done", |s| self.done.call(s, id))?;
        metered(store, fuel, "on_log", |s| self.log.call(s, id))?;
        metered(store, fuel, "on_delete", |s| self.delete.call(s, id))?;
        let state = store.data_mut();
        state.out.request.clone_from(&state.maps[0]);
        state.out.response.clone_from(&state.maps[2]);
        Ok(state.out.clone())
    }

    /// Runs one stream and returns the fuel (wasm instructions) it consumed.
    pub fn stream_fuel(&mut self, exchange: &Exchange) -> wasmtime::Result<u64> {
        assert!(self.fuel, "the driver's engine must consume fuel");
        let before = self.store.get_fuel()?;
        self.stream(exchange)?;
        Ok(before - self.store.get_fuel()?)
    }

    /// Fuel (wasm instructions) each guest call of the last stream consumed,
    /// in call order; empty without fuel metering.
    pub fn fuel_by_callback(&self) -> &[(&'static str, u64)] {
        &self.store.data().fuel_by_callback
    }

    /// Bytes of guest linear memory.
    pub fn memory_bytes(&self) -> usize {
        self.store.data().memory.map_or(0, |m| m.data_size(&self.store))
    }
}
