//! The engine: one process-wide wasmtime [`Engine`], module compilation with a
//! bounded per-process cache (and wasmtime's on-disk cache), the linkers (one per ABI
//! version, since each version has its own host-function set), and
//! pre-instantiation so each new VM costs only an instantiation.
//!
//! Layer: the engine. Imports `abi` (the linker registrations), `store` and
//! the data modules, never `vm`, `native` or `host`.

pub mod abi;
pub(crate) mod exports;
mod link_policy;

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::{Cache, CacheConfig, Config, Engine, InstancePre, Linker, Module};

use crate::abi as hostcalls;
use crate::error::Error;
use crate::store::VmState;
use crate::types::AbiVersion;
pub use abi::ModuleFacts;

/// Where wasmtime's on-disk compilation cache lives: `$HOST_SIM_CACHE_DIR`, or
/// `host-sim-cache` in the system temporary directory. Setting
/// `HOST_SIM_NO_DISK_CACHE` disables it.
pub fn disk_cache_dir() -> Option<PathBuf> {
    if std::env::var_os("HOST_SIM_NO_DISK_CACHE").is_some() {
        return None;
    }
    Some(
        std::env::var_os("HOST_SIM_CACHE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("host-sim-cache")),
    )
}

/// Builds an engine configured like host-sim's (optionally with an on-disk
/// cache directory). Exposed for measurements; host-sim itself uses [`engine`].
pub fn new_engine(disk_cache: Option<PathBuf>) -> Result<Engine, Error> {
    let mut config = Config::new();
    // Every guest call runs under a CPU deadline (epochs advanced by a ticker
    // thread, see [`EPOCH_PERIOD`]) and is metered with fuel (a deterministic
    // instruction count; unlimited unless `HostOptions::fuel` sets a budget).
    config.epoch_interruption(true);
    config.consume_fuel(true);
    if let Some(dir) = disk_cache {
        let mut cache = CacheConfig::new();
        cache.with_directory(dir);
        // A cache that cannot be set up (read-only disk...) only costs speed.
        if let Ok(cache) = Cache::new(cache) {
            config.cache(Some(cache));
        }
    }
    Engine::new(&config).map_err(|e| Error::Compile(e.to_string()))
}

/// How often the process-wide engine's epoch advances: the granularity of
/// the per-call CPU deadline (`HostOptions::cpu_deadline`).
pub const EPOCH_PERIOD: Duration = Duration::from_millis(10);

/// The process-wide engine. The first call also starts the ticker thread that
/// advances its epoch every [`EPOCH_PERIOD`].
pub fn engine() -> Result<&'static Engine, Error> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    let engine = ENGINE
        .get_or_init(|| {
            let engine = new_engine(disk_cache_dir()).map_err(|e| e.to_string())?;
            let ticking = engine.clone();
            std::thread::Builder::new()
                .name("host-sim-epoch".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(EPOCH_PERIOD);
                        ticking.increment_epoch();
                    }
                })
                .map_err(|e| format!("cannot start the epoch ticker: {e}"))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(|e| Error::Compile(e.clone()))?;
    Ok(engine)
}

/// Epoch ticks for a CPU deadline (at least one; `None`: practically never).
pub(crate) fn deadline_ticks(deadline: Option<Duration>) -> u64 {
    match deadline {
        Some(d) => (d.as_nanos() / EPOCH_PERIOD.as_nanos()).clamp(1, u64::MAX as u128 / 2) as u64 + 1,
        None => u64::MAX / 2,
    }
}

/// The host functions a module links against: the spec's, or those of a
/// host that registers some with other signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Linking {
    /// The spec's signatures (Envoy).
    Spec,
    /// Kong's nginx module: `proxy_get_log_level` takes two `i32`s.
    Kong,
}

/// The linker for one ABI version (built once per process).
pub(crate) fn linker(abi: AbiVersion) -> Result<&'static Linker<VmState>, Error> {
    linker_for(abi, Linking::Spec)
}

/// The linker for one ABI version and host (built once per process).
pub(crate) fn linker_for(abi: AbiVersion, linking: Linking) -> Result<&'static Linker<VmState>, Error> {
    type Linkers = OnceLock<Result<[Linker<VmState>; 3], String>>;
    type Build = fn(&Engine, AbiVersion) -> wasmtime::Result<Linker<VmState>>;
    static SPEC: Linkers = OnceLock::new();
    static KONG: Linkers = OnceLock::new();
    let (cell, build): (&Linkers, Build) = match linking {
        Linking::Spec => (&SPEC, hostcalls::linker),
        Linking::Kong => (&KONG, hostcalls::kong_linker),
    };
    let linkers = cell
        .get_or_init(|| {
            let engine = engine().map_err(|e| e.to_string())?;
            let build = |abi| build(engine, abi).map_err(|e| e.to_string());
            Ok([build(AbiVersion::V0_1_0)?, build(AbiVersion::V0_2_0)?, build(AbiVersion::V0_2_1)?])
        })
        .as_ref()
        .map_err(|e| Error::Instantiate(e.clone()))?;
    Ok(&linkers[abi as usize])
}

/// A compiled, linked module ready to instantiate.
pub struct Compiled {
    pub(crate) module: Module,
    pub(crate) facts: ModuleFacts,
    pub(crate) pre: InstancePre<VmState>,
    compile_time: Duration,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("facts", &self.facts)
            .field("compile_time", &self.compile_time)
            .finish_non_exhaustive()
    }
}

impl Compiled {
    /// The ABI version the module declares.
    pub fn abi(&self) -> AbiVersion {
        self.facts.abi
    }

    /// How long compiling (or loading from the on-disk cache) took.
    pub fn compile_time(&self) -> Duration {
        self.compile_time
    }

    /// The module's imports as `(module, name)` pairs.
    pub fn imports(&self) -> Vec<(String, String)> {
        self.module.imports().map(|i| (i.module().to_owned(), i.name().to_owned())).collect()
    }
}

fn fingerprint(bytes: &[u8]) -> (usize, u64, u64) {
    let mut a = DefaultHasher::new();
    bytes.hash(&mut a);
    let mut b = DefaultHasher::new();
    0xabcdu16.hash(&mut b);
    bytes.hash(&mut b);
    (bytes.len(), a.finish(), b.finish())
}

/// Compiles `bytes` on the process-wide engine, at most once per process for
/// identical bytes, and pre-instantiates it against its ABI's linker.
pub fn compile(bytes: &[u8]) -> Result<Arc<Compiled>, Error> {
    compile_linked(bytes, Linking::Spec, |_| Ok(()))
}

/// [`compile`] against the host functions of `linking`; `check` sees the
/// module before it is linked (a host's own link rules), and a module it
/// refuses is not cached.
pub(crate) fn compile_linked(
    bytes: &[u8],
    linking: Linking,
    check: impl FnOnce(&Module) -> Result<(), Error>,
) -> Result<Arc<Compiled>, Error> {
    static CACHE: OnceLock<Mutex<ModuleCache>> = OnceLock::new();
    let key = (fingerprint(bytes), linking);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(hit);
    }
    let facts = abi::inspect(bytes)?;
    let compiled = Arc::new(compile_checked(bytes, linker_for(facts.abi, linking)?, check)?);
    // Another thread may have compiled the same bytes meanwhile: keep the
    // first, so every caller of one module shares one `Compiled` (VM reuse
    // compares them by identity).
    Ok(cache.lock().unwrap_or_else(|p| p.into_inner()).insert(key, compiled))
}

type ModuleKey = ((usize, u64, u64), Linking);

/// The per-process module cache. It holds every module some VM still uses
/// (weakly: the VMs own them) and the last [`ModuleCache::RECENT`] compiled
/// ones (strongly, so a test that loads the same plugin again and again
/// compiles it once); a process that loads ever new modules (a fuzzer, a
/// long-lived host reloading plugins) keeps the memory of only those.
#[derive(Default)]
struct ModuleCache {
    modules: HashMap<ModuleKey, std::sync::Weak<Compiled>>,
    recent: std::collections::VecDeque<Arc<Compiled>>,
}

impl ModuleCache {
    const RECENT: usize = 32;

    fn get(&mut self, key: &ModuleKey) -> Option<Arc<Compiled>> {
        let hit = self.modules.get(key)?.upgrade()?;
        self.remember(&hit);
        Some(hit)
    }

    /// `compiled`, or the module already cached under `key`.
    fn insert(&mut self, key: ModuleKey, compiled: Arc<Compiled>) -> Arc<Compiled> {
        if let Some(hit) = self.get(&key) {
            return hit;
        }
        self.modules.retain(|_, module| module.strong_count() > 0);
        self.modules.insert(key, Arc::downgrade(&compiled));
        self.remember(&compiled);
        compiled
    }

    fn remember(&mut self, compiled: &Arc<Compiled>) {
        if let Some(at) = self.recent.iter().position(|c| Arc::ptr_eq(c, compiled)) {
            self.recent.remove(at);
        } else if self.recent.len() == Self::RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(compiled.clone());
    }
}

/// Compiles without the per-process cache (wasmtime's on-disk cache still applies).
pub fn compile_uncached(bytes: &[u8]) -> Result<Compiled, Error> {
    let facts = abi::inspect(bytes)?;
    compile_with(bytes, linker(facts.abi)?)
}

/// Compiles `bytes` and pre-instantiates it against `linker`.
pub(crate) fn compile_with(bytes: &[u8], linker: &Linker<VmState>) -> Result<Compiled, Error> {
    compile_checked(bytes, linker, |_| Ok(()))
}

fn compile_checked(
    bytes: &[u8],
    linker: &Linker<VmState>,
    check: impl FnOnce(&Module) -> Result<(), Error>,
) -> Result<Compiled, Error> {
    let facts = abi::inspect(bytes)?;
    let start = Instant::now();
    let module = Module::new(engine()?, bytes).map_err(|e| Error::Compile(format!("{e:#}")))?;
    let compile_time = start.elapsed();
    check(&module)?;
    let pre = linker.instantiate_pre(&module).map_err(|e| Error::Instantiate(format!("{e:#}")))?;
    Ok(Compiled { module, facts, pre, compile_time })
}

/// Compiles `bytes` on `engine` and reports how long it took; used by the
/// throughput example to time cold compiles and on-disk cache hits.
pub fn time_compile(engine: &Engine, bytes: &[u8]) -> Result<Duration, Error> {
    let start = Instant::now();
    Module::new(engine, bytes).map_err(|e| Error::Compile(format!("{e:#}")))?;
    Ok(start.elapsed())
}

/// A linked host function: `(module, name, params, results)` with wasm value
/// type names.
pub type LinkedFunction = (String, String, Vec<String>, Vec<String>);

/// Every function the linker for `abi` defines, as `(module, name, params,
/// results)` with wasm value type names (`i32`, `i64`).
pub fn linked_functions(abi: AbiVersion) -> Result<Vec<LinkedFunction>, Error> {
    functions_of(linker(abi)?)
}

/// Every function `linker` defines, as in [`linked_functions`].
pub(crate) fn functions_of(linker: &Linker<VmState>) -> Result<Vec<LinkedFunction>, Error> {
    let mut store = wasmtime::Store::new(engine()?, VmState::detached());
    let mut out = Vec::new();
    let items: Vec<_> = linker.iter(&mut store).collect();
    for (module, name, item) in items {
        if let wasmtime::Extern::Func(f) = item {
            let ty = f.ty(&store);
            out.push((
                module.to_owned(),
                name.to_owned(),
                ty.params().map(|t| t.to_string()).collect(),
                ty.results().map(|t| t.to_string()).collect(),
            ));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(n: usize) -> Vec<u8> {
        let wat = format!(
            r#"(module (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1"))
                 (func (export "malloc") (param i32) (result i32) i32.const {n}))"#
        );
        wat::parse_str(wat).unwrap()
    }

    #[test]
    fn the_module_cache_keeps_what_is_in_use_and_the_recent_ones_only() {
        let held = compile(&module(1_000_000)).unwrap();
        let dropped = Arc::downgrade(&compile(&module(1_000_001)).unwrap());
        assert!(Arc::ptr_eq(&dropped.upgrade().unwrap(), &compile(&module(1_000_001)).unwrap()), "a recent hit");
        for n in 0..ModuleCache::RECENT + 1 {
            compile(&module(n)).unwrap();
        }
        assert!(dropped.upgrade().is_none(), "an unused module past the recent ones is released");
        assert!(Arc::ptr_eq(&held, &compile(&module(1_000_000)).unwrap()), "a module in use is shared");
    }
}
