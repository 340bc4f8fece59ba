//! Host speed: compile, load and boot times, streams/s through host-sim next
//! to the bare wasmtime loop of [`crate::driver`], and memory (host RSS, guest
//! linear memory) over many streams. Moved here from host-sim's former
//! `throughput` example.

use std::time::{Duration, Instant};

use host_sim::{Host, HostOptions, PluginSpec, engine};

use crate::driver::{self, Driver, Exchange};

/// Compile and load times of one module.
#[derive(Clone, Copy, Debug)]
pub struct LoadTimes {
    /// Cold cranelift compile.
    pub compile: Duration,
    /// Load from wasmtime's on-disk cache.
    pub disk_cached: Duration,
    /// Load from host-sim's in-process module cache.
    pub process_cached: Duration,
    /// Instantiate + `_initialize` + context create + VM start + configure, per VM.
    pub boot: Duration,
}

/// Measures [`LoadTimes`].
pub fn load_times(wasm: &[u8]) -> LoadTimes {
    let compile = engine::time_compile(&engine::new_engine(None).unwrap(), wasm).unwrap();
    let cache_dir = std::env::temp_dir().join(format!("sluice-bench-cache-{}", std::process::id()));
    engine::time_compile(&engine::new_engine(Some(cache_dir.clone())).unwrap(), wasm).unwrap();
    let disk_cached = engine::time_compile(&engine::new_engine(Some(cache_dir.clone())).unwrap(), wasm).unwrap();
    let _ = std::fs::remove_dir_all(&cache_dir);
    engine::compile(wasm).unwrap();
    let start = Instant::now();
    engine::compile(wasm).unwrap();
    let process_cached = start.elapsed();
    let boots = 100;
    let start = Instant::now();
    for _ in 0..boots {
        let mut host = Host::new();
        host.load(PluginSpec::from_bytes(wasm.to_vec())).unwrap();
    }
    LoadTimes { compile, disk_cached, process_cached, boot: start.elapsed() / boots }
}

/// The process's resident set size in KiB (`VmRSS` of `/proc/self/status`).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// Host memory per VM: RSS growth per plugin VM when `vms` VMs of `wasm` are
/// loaded into one host-sim host (each with its own `vm_id`, so each is a VM
/// of its own rather than another plugin of a shared one), in KiB, and guest
/// linear memory of one booted VM in bytes.
pub fn memory_per_vm(wasm: &[u8], vms: u32) -> (f64, usize) {
    let mut host = Host::new();
    host.load(PluginSpec::from_bytes(wasm.to_vec())).unwrap();
    let before = rss_kib();
    for i in 0..vms {
        host.load(PluginSpec::from_bytes(wasm.to_vec()).vm_id(format!("bench-vm-{i}"))).unwrap();
    }
    let per_vm = (rss_kib().saturating_sub(before)) as f64 / f64::from(vms);
    let linear = Driver::new(&driver::engine(false), wasm, false).unwrap().memory_bytes();
    (per_vm, linear)
}

/// A run of many streams: time taken and a memory sample after `sample_at`
/// streams and at the end.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// Streams run.
    pub streams: u32,
    /// Time for all of them.
    pub elapsed: Duration,
    /// Memory after `sample_at` streams (KiB RSS for host-sim, bytes of guest memory for the bare loop).
    pub early: u64,
    /// The same at the end.
    pub end: u64,
}

impl Run {
    /// Streams per second.
    pub fn rate(&self) -> f64 {
        f64::from(self.streams) / self.elapsed.as_secs_f64()
    }
}

fn pairs(exchange: &[(String, String)]) -> Vec<(&str, &str)> {
    exchange.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Streams through host-sim (one VM, one thread), sampling host RSS.
pub fn host_sim_run(wasm: &[u8], streams: u32, sample_at: u32, options: HostOptions) -> Run {
    let exchange = Exchange::standard();
    let (request, response) = (pairs(&exchange.request), pairs(&exchange.response));
    let mut host = Host::with_options(HostOptions {
        log_capacity: options.log_capacity.min(10_000),
        trace_capacity: options.trace_capacity.min(10_000),
        ..options
    });
    let plugin = host.load(PluginSpec::from_bytes(wasm.to_vec())).unwrap();
    let mut early = 0;
    let start = Instant::now();
    for i in 0..streams {
        if i == sample_at {
            early = rss_kib();
        }
        let mut stream = host.http_stream(plugin).unwrap();
        stream.request_headers(request.iter().copied(), true).unwrap();
        stream.response_headers(response.iter().copied(), true).unwrap();
        stream.complete().unwrap();
    }
    let elapsed = start.elapsed();
    Run { streams, elapsed, early, end: rss_kib() }
}

/// The same streams through the bare wasmtime loop, sampling guest memory.
pub fn bare_run(wasm: &[u8], streams: u32, sample_at: u32) -> Run {
    let exchange = Exchange::standard();
    let mut driver = Driver::new(&driver::engine(false), wasm, false).unwrap();
    let mut early = 0;
    let start = Instant::now();
    for i in 0..streams {
        if i == sample_at {
            early = driver.memory_bytes() as u64;
        }
        driver.stream(&exchange).unwrap();
    }
    let elapsed = start.elapsed();
    Run { streams, elapsed, early, end: driver.memory_bytes() as u64 }
}

/// A fresh metering VM of `wasm` that has run `warmup` streams of `exchange`.
fn warmed_up(wasm: &[u8], exchange: &Exchange, warmup: u32) -> wasmtime::Result<Driver> {
    let mut driver = Driver::new(&driver::engine(true), wasm, false)?;
    for _ in 0..warmup {
        driver.stream(exchange)?;
    }
    Ok(driver)
}

/// Guest instructions (wasm fuel) of one stream of `exchange`, averaged over
/// `streams` streams after `warmup` streams, in a fresh VM.
pub fn fuel_per_stream(wasm: &[u8], exchange: &Exchange, warmup: u32, streams: u32) -> wasmtime::Result<u64> {
    let mut driver = warmed_up(wasm, exchange, warmup)?;
    let mut total = 0;
    for _ in 0..streams {
        total += driver.stream_fuel(exchange)?;
    }
    Ok(total / u64::from(streams.max(1)))
}

/// Guest instructions of each callback of one stream of `exchange`, after
/// `warmup` streams, in a fresh VM (callback name, fuel), in call order.
pub fn fuel_by_callback(wasm: &[u8], exchange: &Exchange, warmup: u32) -> wasmtime::Result<Vec<(&'static str, u64)>> {
    let mut driver = warmed_up(wasm, exchange, warmup)?;
    driver.stream(exchange)?;
    Ok(driver.fuel_by_callback().to_vec())
}

/// One plugin of the chain benchmark: its module and configuration.
#[derive(Clone, Copy, Debug)]
pub struct Configured<'a> {
    /// The module.
    pub wasm: &'a [u8],
    /// Its plugin configuration.
    pub configuration: &'a str,
}

/// Streams through a filter chain of `plugins` in one host (one worker),
/// each stream's request `request` and response `response`; every stream
/// must reach the upstream (a chain that answers locally measures
/// something else). A chain of one plugin is that plugin alone, driven the
/// same way. Returns the run and the last stream's outcome (what the
/// harness test checks the chain did).
pub fn chain_run(
    plugins: &[Configured<'_>],
    request: &[(String, String)],
    response: &[(String, String)],
    streams: u32,
) -> Result<(Run, host_sim::ChainOutcome), host_sim::Error> {
    let mut host = Host::with_options(HostOptions { log_capacity: 0, trace_capacity: 0, ..HostOptions::default() });
    let mut ids = Vec::with_capacity(plugins.len());
    for (i, p) in plugins.iter().enumerate() {
        // Each its own vm_id: one VM per plugin, as three WasmPlugins of different modules get.
        let spec = PluginSpec::from_bytes(p.wasm.to_vec()).configuration(p.configuration).vm_id(format!("bench-{i}"));
        ids.push(host.load(spec)?);
    }
    let chain = host.chain(&ids)?;
    let (request, response) = (pairs(request), pairs(response));
    let start = Instant::now();
    let mut last = None;
    for _ in 0..streams.max(1) {
        let mut stream = host.http_chain_stream(&chain)?;
        stream.request_headers(request.iter().copied(), true)?;
        if !stream.upstream_request().end_of_stream {
            return Err(host_sim::Error::InvalidPhase("the chain did not forward the request".into()));
        }
        stream.response_headers(response.iter().copied(), true)?;
        last = Some(stream.complete()?);
    }
    let run = Run { streams: streams.max(1), elapsed: start.elapsed(), early: 0, end: rss_kib() };
    Ok((run, last.expect("at least one stream ran")))
}

/// Host calls (every `proxy_*` and WASI call the guest makes, as host-sim's
/// trace records them) of one HTTP stream of `plugin` alone, after `warmup`
/// streams: request headers, the answer to every HTTP call it makes (`200`
/// with `callout_body`), response headers unless it answered locally, and
/// the end of the stream.
pub fn host_calls_per_stream(
    plugin: Configured<'_>,
    request: &[(String, String)],
    response: &[(String, String)],
    callout_body: &[u8],
    warmup: u32,
) -> Result<usize, host_sim::Error> {
    let mut host =
        Host::with_options(HostOptions { log_capacity: 0, trace_capacity: 1 << 20, ..HostOptions::default() });
    let id = host.load(PluginSpec::from_bytes(plugin.wasm.to_vec()).configuration(plugin.configuration))?;
    let (request, response) = (pairs(request), pairs(response));
    let one_stream = |host: &mut Host| -> Result<(), host_sim::Error> {
        let mut stream = host.http_stream(id)?;
        stream.request_headers(request.iter().copied(), true)?;
        while let Some(call) = stream.host().http_callouts().first().map(host_sim::HttpCallout::id) {
            let answer = host_sim::HttpCallResponse {
                headers: host_sim::HeaderMap::from_pairs([(":status", "200")]),
                body: callout_body.to_vec(),
                trailers: host_sim::HeaderMap::new(),
            };
            stream.host().respond_http_call(call, answer)?;
        }
        if stream.local_response().is_none() {
            stream.response_headers(response.iter().copied(), true)?;
        }
        stream.complete().map(drop)
    };
    for _ in 0..warmup {
        one_stream(&mut host)?;
    }
    let before = host.trace().len();
    one_stream(&mut host)?;
    Ok(host.trace().len() - before)
}
