//! Streams per second through host-sim for the official SDK's `http_headers`
//! example, next to a minimal hand-written wasmtime host driving the same
//! module in the same process; plus compile, cached-load and instantiate
//! times.
//!
//! ```text
//! cargo run --release -p host-sim --example throughput [-- STREAMS]
//! ```

use std::time::{Duration, Instant};

use host_sim::{Host, HostOptions, PluginSpec, engine};
use wasmtime::{Caller, Engine, Extern, Linker, Memory, Module, Store, TypedFunc, Val};

const REQUEST: [(&str, &str); 5] =
    [(":method", "GET"), (":path", "/"), (":authority", "example.com"), (":scheme", "https"), ("user-agent", "bench")];
const RESPONSE: [(&str, &str); 2] = [(":status", "200"), ("content-type", "text/plain")];

fn main() {
    let streams: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let wasm = guest_build::Guest::manifest_dir("tests/official-guests/http-headers").bytes().expect("guest builds");

    let cold = engine::time_compile(&engine::new_engine(None).unwrap(), &wasm).unwrap();
    let cache_dir = std::env::temp_dir().join(format!("host-sim-throughput-{}", std::process::id()));
    engine::time_compile(&engine::new_engine(Some(cache_dir.clone())).unwrap(), &wasm).unwrap();
    let cached = engine::time_compile(&engine::new_engine(Some(cache_dir.clone())).unwrap(), &wasm).unwrap();
    let _ = std::fs::remove_dir_all(&cache_dir);
    engine::compile(&wasm).unwrap();
    let start = Instant::now();
    engine::compile(&wasm).unwrap();
    let in_process = start.elapsed();

    let start = Instant::now();
    let boots = 100;
    for _ in 0..boots {
        let mut host = Host::new();
        host.load(PluginSpec::from_bytes(wasm.clone())).unwrap();
    }
    let boot = start.elapsed() / boots;

    let bare = bare_loop(&wasm, streams);
    let sim = host_sim_loop(&wasm, streams, HostOptions::default());
    let quiet =
        host_sim_loop(&wasm, streams, HostOptions { log_capacity: 0, trace_capacity: 0, ..HostOptions::default() });

    let rate = |d: Duration| streams as f64 / d.as_secs_f64();
    println!("module: official proxy-wasm 0.2.5 http_headers example ({} bytes)", wasm.len());
    println!("compile (cold, cranelift):           {:>10.2?}", cold);
    println!("load from wasmtime's on-disk cache:  {:>10.2?}", cached);
    println!("load from host-sim's process cache:  {:>10.2?}", in_process);
    println!("instantiate + start + configure:     {:>10.2?}", boot);
    println!("streams: {streams}, one thread, request headers + response headers + done/log/delete");
    println!("bare wasmtime loop:                  {:>10.0} streams/s", rate(bare));
    println!(
        "host-sim (logs + trace captured):    {:>10.0} streams/s  ({:.0}% of bare)",
        rate(sim),
        100.0 * bare.as_secs_f64() / sim.as_secs_f64()
    );
    println!(
        "host-sim (capture off):              {:>10.0} streams/s  ({:.0}% of bare)",
        rate(quiet),
        100.0 * bare.as_secs_f64() / quiet.as_secs_f64()
    );
}

fn host_sim_loop(wasm: &[u8], streams: u32, options: HostOptions) -> Duration {
    let mut host = Host::with_options(HostOptions {
        log_capacity: options.log_capacity.min(10_000),
        trace_capacity: options.trace_capacity.min(10_000),
        ..options
    });
    let plugin = host.load(PluginSpec::from_bytes(wasm.to_vec())).unwrap();
    let start = Instant::now();
    for _ in 0..streams {
        let mut stream = host.http_stream(plugin).unwrap();
        stream.request_headers(REQUEST, true).unwrap();
        stream.response_headers(RESPONSE, true).unwrap();
        stream.complete().unwrap();
    }
    start.elapsed()
}

/// What the minimal host keeps: the guest's memory and allocator, and the
/// current stream's two header maps.
struct Bare {
    memory: Option<Memory>,
    malloc: Option<TypedFunc<i32, i32>>,
    request: Vec<u8>,
    response: Vec<u8>,
}

fn serialize(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
    for (k, v) in pairs {
        out.extend((k.len() as u32).to_le_bytes());
        out.extend((v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend(k.as_bytes());
        out.push(0);
        out.extend(v.as_bytes());
        out.push(0);
    }
    out
}

fn give(caller: &mut Caller<'_, Bare>, bytes: &[u8], ptr_ptr: i32, size_ptr: i32) -> i32 {
    let malloc = caller.data().malloc.clone().unwrap();
    let ptr = malloc.call(&mut *caller, bytes.len() as i32).unwrap();
    let memory = caller.data().memory.unwrap();
    let data = memory.data_mut(&mut *caller);
    data[ptr as usize..ptr as usize + bytes.len()].copy_from_slice(bytes);
    data[ptr_ptr as usize..ptr_ptr as usize + 4].copy_from_slice(&ptr.to_le_bytes());
    data[size_ptr as usize..size_ptr as usize + 4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    0
}

fn bare_loop(wasm: &[u8], streams: u32) -> Duration {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm).unwrap();
    let mut linker: Linker<Bare> = Linker::new(&engine);
    linker.func_wrap("env", "proxy_log", |_: Caller<'_, Bare>, _: i32, _: i32, _: i32| 0).unwrap();
    linker
        .func_wrap("env", "proxy_get_header_map_pairs", |mut c: Caller<'_, Bare>, map: i32, pp: i32, sp: i32| {
            let bytes = if map == 0 { c.data().request.clone() } else { c.data().response.clone() };
            give(&mut c, &bytes, pp, sp)
        })
        .unwrap();
    linker
        .func_wrap(
            "env",
            "proxy_get_header_map_value",
            |mut c: Caller<'_, Bare>, _: i32, _: i32, _: i32, pp: i32, sp: i32| give(&mut c, b"/", pp, sp),
        )
        .unwrap();
    // Everything else the module imports answers 0.
    for import in module.imports() {
        if linker
            .get_by_import(
                &mut Store::new(&engine, Bare { memory: None, malloc: None, request: vec![], response: vec![] }),
                &import,
            )
            .is_some()
        {
            continue;
        }
        if let wasmtime::ExternType::Func(ty) = import.ty() {
            let results: Vec<_> = ty.results().collect();
            linker
                .func_new(import.module(), import.name(), ty.clone(), move |_, _, out| {
                    for (slot, t) in out.iter_mut().zip(&results) {
                        *slot = Val::default_for_ty(t).unwrap_or(Val::I32(0));
                    }
                    Ok(())
                })
                .unwrap();
        }
    }
    let state = Bare { memory: None, malloc: None, request: serialize(&REQUEST), response: serialize(&RESPONSE) };
    let mut store = Store::new(&engine, state);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    store.data_mut().memory = instance.get_memory(&mut store, "memory");
    store.data_mut().malloc = Some(instance.get_typed_func(&mut store, "proxy_on_memory_allocate").unwrap());
    let mut f = |name: &str| match instance.get_export(&mut store, name) {
        Some(Extern::Func(f)) => f,
        _ => panic!("missing {name}"),
    };
    let (init, create, vm_start, configure) =
        (f("_initialize"), f("proxy_on_context_create"), f("proxy_on_vm_start"), f("proxy_on_configure"));
    let (req, resp, done, log, delete) = (
        f("proxy_on_request_headers"),
        f("proxy_on_response_headers"),
        f("proxy_on_done"),
        f("proxy_on_log"),
        f("proxy_on_delete"),
    );
    init.typed::<(), ()>(&store).unwrap().call(&mut store, ()).unwrap();
    let create = create.typed::<(i32, i32), ()>(&store).unwrap();
    create.call(&mut store, (1, 0)).unwrap();
    vm_start.typed::<(i32, i32), i32>(&store).unwrap().call(&mut store, (1, 0)).unwrap();
    configure.typed::<(i32, i32), i32>(&store).unwrap().call(&mut store, (1, 0)).unwrap();
    let req = req.typed::<(i32, i32, i32), i32>(&store).unwrap();
    let resp = resp.typed::<(i32, i32, i32), i32>(&store).unwrap();
    let done = done.typed::<i32, i32>(&store).unwrap();
    let log = log.typed::<i32, ()>(&store).unwrap();
    let delete = delete.typed::<i32, ()>(&store).unwrap();
    let start = Instant::now();
    for i in 0..streams as i32 {
        let id = i + 2;
        create.call(&mut store, (id, 1)).unwrap();
        req.call(&mut store, (id, REQUEST.len() as i32, 1)).unwrap();
        resp.call(&mut store, (id, RESPONSE.len() as i32, 1)).unwrap();
        done.call(&mut store, id).unwrap();
        log.call(&mut store, id).unwrap();
        delete.call(&mut store, id).unwrap();
    }
    start.elapsed()
}
