//! Hostile guests, generated with `wasm-encoder` from a seed: a module that
//! imports a random part of the host functions host-sim links for its ABI
//! version (taken from [`host_sim::linked_functions`], not a second copy),
//! exports a random part of the callbacks, and whose callbacks call host
//! functions with random arguments: pointers in and out of bounds, lengths
//! up to `u32::MAX`, unknown enumeration values, the callback's own
//! arguments, values from a PRNG inside the guest; in loops, between
//! `memory.grow`s, stores, `unreachable`, endless loops and unbounded
//! recursion. Its allocator may be well behaved, return any address, trap or
//! call back into the host. A part of the calls follows each function's
//! argument kinds (a string where the ABI wants one, a serialized map, a
//! property path, an iovec table) so that calls get past the host's first
//! checks.

use std::collections::HashMap;
use std::sync::OnceLock;

use host_sim::AbiVersion;
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection, Function, FunctionSection,
    GlobalSection, GlobalType, ImportSection, InstructionSink, MemArg, MemorySection, MemoryType, Module, StartSection,
    TypeSection, ValType,
};

use crate::rng::Rng;

/// The Proxy-Wasm serialization of a header map (host-sim's own encoder).
pub use host_sim::state::pairs::encode as serialize;

/// Where the data segment (strings, maps, paths, iovec tables) starts.
const DICT: u32 = 64;
/// Where out-pointers point.
const SCRATCH: u32 = 16384;
/// Where the bump allocator starts.
const HEAP: u32 = 24576;
/// One wasm page.
const PAGE: u32 = 65536;

/// A host function a guest may import.
#[derive(Clone, Debug)]
struct HostFunction {
    module: String,
    name: String,
    params: Vec<ValType>,
    results: Vec<ValType>,
}

/// The functions host-sim links for `abi`.
fn host_functions(abi: AbiVersion) -> &'static [HostFunction] {
    static TABLES: OnceLock<[Vec<HostFunction>; 3]> = OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        [AbiVersion::V0_1_0, AbiVersion::V0_2_0, AbiVersion::V0_2_1].map(|abi| {
            let linked = host_sim::linked_functions(abi).expect("host-sim lists the functions it links");
            let ty = |t: &String| if t == "i64" { ValType::I64 } else { ValType::I32 };
            linked
                .iter()
                .map(|(module, name, params, results)| HostFunction {
                    module: module.clone(),
                    name: name.clone(),
                    params: params.iter().map(ty).collect(),
                    results: results.iter().map(ty).collect(),
                })
                .collect()
        })
    });
    &tables[abi_index(abi)]
}

fn abi_index(abi: AbiVersion) -> usize {
    match abi {
        AbiVersion::V0_1_0 => 0,
        AbiVersion::V0_2_0 => 1,
        _ => 2,
    }
}

/// The callbacks a guest may export: name, parameter count, whether it
/// returns an `i32`. Headers callbacks have one parameter less in ABI 0.1.0,
/// which has no `proxy_on_foreign_function`.
const CALLBACKS: &[(&str, u32, bool)] = &[
    ("proxy_on_context_create", 2, false),
    ("proxy_on_vm_start", 2, true),
    ("proxy_on_configure", 2, true),
    ("proxy_on_tick", 1, false),
    ("proxy_on_queue_ready", 2, false),
    ("proxy_on_foreign_function", 3, false),
    ("proxy_on_done", 1, true),
    ("proxy_on_log", 1, false),
    ("proxy_on_delete", 1, false),
    ("proxy_on_new_connection", 1, true),
    ("proxy_on_downstream_data", 3, true),
    ("proxy_on_downstream_connection_close", 2, false),
    ("proxy_on_upstream_data", 3, true),
    ("proxy_on_upstream_connection_close", 2, false),
    ("proxy_on_request_headers", 3, true),
    ("proxy_on_request_body", 3, true),
    ("proxy_on_request_trailers", 2, true),
    ("proxy_on_response_headers", 3, true),
    ("proxy_on_response_body", 3, true),
    ("proxy_on_response_trailers", 2, true),
    ("proxy_on_http_call_response", 5, false),
    ("proxy_on_grpc_receive_initial_metadata", 3, false),
    ("proxy_on_grpc_receive", 3, false),
    ("proxy_on_grpc_receive_trailing_metadata", 3, false),
    ("proxy_on_grpc_close", 3, false),
];

/// The argument kinds of the functions whose calls should often be
/// meaningful, one letter per wasm parameter: `e` an enumeration or flag,
/// `n` a number, `c` a context, call, queue or metric id, `o` an
/// out-pointer, `P`/`L` a string and its length, `M`/`N` a serialized map
/// and its size, `Q`/`R` a property path and its size, `V` an iovec table.
fn pattern(name: &str) -> Option<&'static str> {
    Some(match name {
        "proxy_log" => "ePL",
        "proxy_get_log_level" | "proxy_get_current_time_nanoseconds" => "o",
        "proxy_set_tick_period_milliseconds" => "n",
        "proxy_set_effective_context" | "proxy_grpc_cancel" | "proxy_grpc_close" => "c",
        "proxy_get_buffer_bytes" => "ennoo",
        "proxy_get_buffer_status" | "proxy_get_header_map_pairs" => "eoo",
        "proxy_set_buffer_bytes" => "ennPL",
        "proxy_get_header_map_size" => "eo",
        "proxy_set_header_map_pairs" => "eMN",
        "proxy_get_header_map_value" => "ePLoo",
        "proxy_add_header_map_value" | "proxy_replace_header_map_value" => "ePLPL",
        "proxy_remove_header_map_value" => "ePL",
        "proxy_continue_stream" | "proxy_close_stream" => "e",
        "proxy_get_status" => "ooo",
        "proxy_send_local_response" => "nPLPLMNn",
        "proxy_http_call" => "PLMNPLMNno",
        "proxy_grpc_call" => "PLPLPLMNPLno",
        "proxy_grpc_stream" => "PLPLPLMNo",
        "proxy_grpc_send" => "cPLe",
        "proxy_set_shared_data" => "PLPLn",
        "proxy_get_shared_data" => "PLooo",
        "proxy_register_shared_queue" => "PLo",
        "proxy_resolve_shared_queue" => "PLPLo",
        "proxy_enqueue_shared_queue" => "cPL",
        "proxy_dequeue_shared_queue" => "coo",
        "proxy_define_metric" => "ePLo",
        "proxy_record_metric" | "proxy_increment_metric" => "cn",
        "proxy_get_metric" => "co",
        "proxy_get_property" => "QRoo",
        "proxy_set_property" => "QRPL",
        "proxy_call_foreign_function" => "PLPLoo",
        "proxy_get_configuration" => "oo",
        "fd_write" => "eVno",
        "random_get" => "on",
        "clock_time_get" => "eno",
        "environ_sizes_get" | "args_sizes_get" => "oo",
        "environ_get" | "args_get" => "oo",
        _ => return None,
    })
}

/// The data segment: the items calls point at.
struct Dict {
    blob: Vec<u8>,
    strings: Vec<(u32, u32)>,
    maps: Vec<(u32, u32)>,
    paths: Vec<(u32, u32)>,
    iovecs: Vec<(u32, u32)>,
}

const WORDS: &[&str] = &[
    ":path",
    ":method",
    ":authority",
    ":status",
    ":scheme",
    "GET",
    "POST",
    "/",
    "x-fuzz",
    "content-length",
    "200",
    "cluster",
    "auth",
    "q",
    "queue",
    "vm",
    "",
    "counter",
    "plugin_name",
    "request",
    "headers",
    "upstream",
    "grpc.Service",
    "Method",
    "a b",
    "key",
    "declare_property",
    "set_envoy_filter_state",
    "clear_route_cache",
];

const PATHS: &[&[&str]] = &[
    &["request", "headers"],
    &["request", "path"],
    &["plugin_name"],
    &["source", "address"],
    &["a", "b", "c"],
    &["x"],
    &["node", "metadata", "k"],
    &["response", "code"],
    &[""],
];

impl Dict {
    fn new(rng: &mut Rng) -> Dict {
        let mut dict =
            Dict { blob: Vec::new(), strings: Vec::new(), maps: Vec::new(), paths: Vec::new(), iovecs: Vec::new() };
        for word in WORDS {
            let at = dict.put(word.as_bytes());
            dict.strings.push(at);
        }
        for _ in 0..4 {
            let len = rng.range(1, 64) as usize;
            let at = dict.put(&rng.bytes(len));
            dict.strings.push(at);
        }
        let long = dict.put(&vec![b'a'; rng.range(1000, 3000) as usize]);
        dict.strings.push(long);
        let request = serialize(&[(":method", "GET"), (":path", "/"), (":authority", "a"), ("x-fuzz", "1")]);
        for map in [
            request,
            serialize(&[(":status", "200")]),
            0u32.to_le_bytes().to_vec(),
            serialize(&[("", ""), ("a b", "\0")]),
        ] {
            let at = dict.put_aligned(&map);
            dict.maps.push(at);
        }
        // A count far past the data, and a map cut short.
        let mut huge = u32::MAX.to_le_bytes().to_vec();
        huge.extend(rng.bytes(12));
        let at = dict.put_aligned(&huge);
        dict.maps.push(at);
        let cut = serialize(&[(":path", "/cut")]);
        let at = dict.put_aligned(&cut[..cut.len() - 3]);
        dict.maps.push(at);
        for path in PATHS {
            let at = dict.put(path.join("\0").as_bytes());
            dict.paths.push(at);
        }
        // Deeper than any property limit.
        let at = dict.put(&vec![0; rng.range(255, 600) as usize]);
        dict.paths.push(at);
        // iovec tables: over two strings, overlapping ranges read many
        // times, one pointing out of bounds.
        let (a, b) = (dict.strings[0], dict.strings[8]);
        let table = [a.0, a.1, b.0, b.1];
        let at = dict.put_words(&table);
        dict.iovecs.push((at.0, 2));
        let overlapping: Vec<u32> = (0..64).flat_map(|_| [DICT, rng.range(1000, 60000) as u32]).collect();
        let at = dict.put_words(&overlapping);
        dict.iovecs.push((at.0, 64));
        let at = dict.put_words(&[u32::MAX - 8, 64, DICT, 16]);
        dict.iovecs.push((at.0, 2));
        dict
    }

    fn put(&mut self, bytes: &[u8]) -> (u32, u32) {
        let at = DICT + self.blob.len() as u32;
        self.blob.extend_from_slice(bytes);
        (at, bytes.len() as u32)
    }

    fn put_aligned(&mut self, bytes: &[u8]) -> (u32, u32) {
        while !self.blob.len().is_multiple_of(4) {
            self.blob.push(0);
        }
        self.put(bytes)
    }

    fn put_words(&mut self, words: &[u32]) -> (u32, u32) {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.put_aligned(&bytes)
    }
}

/// A value passed to a host function.
#[derive(Clone, Copy, Debug)]
enum Arg {
    Const(i64),
    /// `(next() & mask) + base`: different at each call of a loop.
    Dynamic {
        mask: u32,
        base: u32,
    },
    /// One of the callback's parameters.
    Param(u32),
}

/// What generating one module decides, and the module.
#[derive(Clone, Debug)]
pub struct Guest {
    /// The binary module.
    pub wasm: Vec<u8>,
    /// The ABI version it declares (if it declares one host-sim knows).
    pub abi: AbiVersion,
}

/// Options of [`generate`].
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Whether the guest may loop forever, recurse without end or run
    /// loops of thousands of rounds (a host without fuel then waits for its
    /// CPU deadline).
    pub runaway: bool,
    /// Whether the module may be invalid as a Proxy-Wasm module (no ABI
    /// marker, no allocator, a callback of the wrong type, an unknown import).
    pub malformed: bool,
}

/// Generates one hostile guest.
pub fn generate(rng: &mut Rng, options: Options) -> Guest {
    Generator::new(rng, options).module()
}

struct Generator<'a> {
    rng: &'a mut Rng,
    options: Options,
    abi: AbiVersion,
    imports: Vec<HostFunction>,
    dict: Dict,
    /// Index of `$next` (after the imports).
    next_fn: u32,
    memory_bytes: u32,
    types: TypeSection,
    type_index: HashMap<(Vec<ValType>, Vec<ValType>), u32>,
}

/// The function whose body is being generated: its index, parameter
/// count and whether it returns an `i32`.
#[derive(Clone, Copy)]
struct Own {
    index: u32,
    params: u32,
    result: bool,
}

/// Global 0: the guest PRNG's state; global 1: the bump allocator's top.
const RNG_GLOBAL: u32 = 0;
const HEAP_GLOBAL: u32 = 1;

impl<'a> Generator<'a> {
    fn new(rng: &'a mut Rng, options: Options) -> Generator<'a> {
        let abi = match rng.below(10) {
            0 => AbiVersion::V0_1_0,
            1 => AbiVersion::V0_2_0,
            _ => AbiVersion::V0_2_1,
        };
        let share = rng.range(10, 90);
        let imports: Vec<HostFunction> = host_functions(abi).iter().filter(|_| rng.chance(share)).cloned().collect();
        let dict = Dict::new(rng);
        let pages = if options.malformed && rng.chance(2) { 0 } else { rng.range(1, 3) as u32 };
        Generator {
            next_fn: imports.len() as u32,
            rng,
            options,
            abi,
            imports,
            dict,
            memory_bytes: pages * PAGE,
            types: TypeSection::new(),
            type_index: HashMap::new(),
        }
    }

    fn ty(&mut self, params: &[ValType], results: &[ValType]) -> u32 {
        let key = (params.to_vec(), results.to_vec());
        if let Some(&index) = self.type_index.get(&key) {
            return index;
        }
        let index = self.types.len();
        self.types.ty().function(params.iter().copied(), results.iter().copied());
        self.type_index.insert(key, index);
        index
    }

    fn module(mut self) -> Guest {
        let mut imports = ImportSection::new();
        for f in self.imports.clone() {
            let ty = self.ty(&f.params, &f.results);
            imports.import(&f.module, &f.name, EntityType::Function(ty));
        }
        let mut import_count = self.imports.len() as u32;
        if self.options.malformed && self.rng.chance(3) {
            // An import host-sim does not offer, or one of the wrong type.
            let ty = self.ty(&[ValType::I64], &[]);
            let name = *self.rng.pick(&["proxy_no_such_function", "proxy_log", "fd_write"]);
            let module = *self.rng.pick(&["env", "wasi_snapshot_preview1", "elsewhere"]);
            imports.import(module, name, EntityType::Function(ty));
            import_count += 1;
            self.next_fn = import_count;
        }

        // Defined functions, in index order: $next, the marker, the
        // allocator, the callbacks, and maybe an entry point.
        let mut functions = FunctionSection::new();
        let mut code = CodeSection::new();
        let mut exports = ExportSection::new();
        let mut index = import_count;

        let next_ty = self.ty(&[], &[ValType::I32]);
        functions.function(next_ty);
        code.function(&next_function());
        index += 1;

        let unit = self.ty(&[], &[]);
        let marker = match self.abi {
            AbiVersion::V0_1_0 => "proxy_abi_version_0_1_0",
            AbiVersion::V0_2_0 => "proxy_abi_version_0_2_0",
            _ => "proxy_abi_version_0_2_1",
        };
        functions.function(unit);
        code.function(&{
            let mut f = Function::new([]);
            f.instructions().end();
            f
        });
        if !(self.options.malformed && self.rng.chance(2)) {
            exports.export(marker, ExportKind::Func, index);
        }
        if self.options.malformed && self.rng.chance(2) {
            exports.export("proxy_abi_version_0_3_0", ExportKind::Func, index);
        }
        index += 1;

        let alloc_ty = self.ty(&[ValType::I32], &[ValType::I32]);
        functions.function(alloc_ty);
        let allocator = self.allocator(index);
        code.function(&allocator);
        match self.rng.below(100) {
            0..=2 if self.options.malformed => {}
            3..=12 => {
                exports.export("malloc", ExportKind::Func, index);
            }
            13..=17 => {
                exports.export("malloc", ExportKind::Func, index);
                exports.export("proxy_on_memory_allocate", ExportKind::Func, index);
            }
            _ => {
                exports.export("proxy_on_memory_allocate", ExportKind::Func, index);
            }
        }
        index += 1;

        let share = self.rng.range(20, 100);
        for &(name, params, result) in CALLBACKS {
            if self.abi == AbiVersion::V0_1_0 && name == "proxy_on_foreign_function" || !self.rng.chance(share) {
                continue;
            }
            let mut params =
                if self.abi == AbiVersion::V0_1_0 && name.ends_with("_headers") { params - 1 } else { params };
            if self.options.malformed && self.rng.chance(1) {
                params += 1;
            }
            let param_types = vec![ValType::I32; params as usize];
            let results: &[ValType] = if result { &[ValType::I32] } else { &[] };
            let ty = self.ty(&param_types, results);
            functions.function(ty);
            let body = self.callback(name, params, result, index);
            code.function(&body);
            exports.export(name, ExportKind::Func, index);
            index += 1;
        }

        let mut start = None;
        if self.rng.chance(6) {
            // An entry point that calls the host before any context exists.
            functions.function(unit);
            let body = self.body_function(0, false, index, 4);
            code.function(&body);
            match self.rng.below(3) {
                0 => start = Some(index),
                1 => {
                    exports.export("_initialize", ExportKind::Func, index);
                }
                _ => {
                    exports.export("_start", ExportKind::Func, index);
                }
            }
        }

        let mut memories = MemorySection::new();
        let minimum = u64::from(self.memory_bytes / PAGE);
        let maximum = if self.rng.chance(20) { Some(minimum + self.rng.below(4)) } else { None };
        memories.memory(MemoryType { minimum, maximum, memory64: false, shared: false, page_size_log2: None });
        if !(self.options.malformed && self.rng.chance(2)) {
            exports.export("memory", ExportKind::Memory, 0);
        }

        let mut globals = GlobalSection::new();
        let seed = (self.rng.next_u32() | 1) as i32;
        let mutable = GlobalType { val_type: ValType::I32, mutable: true, shared: false };
        globals.global(mutable, &ConstExpr::i32_const(seed));
        globals.global(mutable, &ConstExpr::i32_const(HEAP as i32));

        let mut data = DataSection::new();
        data.active(0, &ConstExpr::i32_const(DICT as i32), self.dict.blob.iter().copied());

        let mut module = Module::new();
        module.section(&self.types);
        module.section(&imports);
        module.section(&functions);
        module.section(&memories);
        module.section(&globals);
        module.section(&exports);
        if let Some(function_index) = start {
            module.section(&StartSection { function_index });
        }
        module.section(&code);
        module.section(&data);
        Guest { wasm: module.finish(), abi: self.abi }
    }

    /// `proxy_on_memory_allocate(size)`: a bump allocator that grows memory
    /// as needed, or any address, or a trap; sometimes calling the host first.
    fn allocator(&mut self, own_index: u32) -> Function {
        // Locals: 0 the size, 1 the address, 2 pages to grow, 3-4 loop counters.
        let mut f = Function::new([(4, ValType::I32)]);
        if self.rng.chance(8) {
            self.statements(&mut f, Own { index: own_index, params: 1, result: true }, 2, 0);
        }
        let mut s = f.instructions();
        match self.rng.below(100) {
            0..=79 => {
                s.global_get(HEAP_GLOBAL).local_set(1);
                s.global_get(HEAP_GLOBAL).local_get(0).i32_add().i32_const(7).i32_add().i32_const(-8).i32_and();
                s.global_set(HEAP_GLOBAL);
                s.global_get(HEAP_GLOBAL).i32_const(16).i32_shr_u().i32_const(1).i32_add().memory_size(0).i32_sub();
                s.local_tee(2).i32_const(0).i32_gt_s().if_(BlockType::Empty);
                s.local_get(2).memory_grow(0).drop().end();
                s.local_get(1);
            }
            80..=94 => {
                let end = self.memory_bytes;
                let at = *self.rng.pick(&[0, SCRATCH, end.wrapping_sub(4), end, u32::MAX - 15, u32::MAX, HEAP]);
                s.i32_const(at as i32);
            }
            _ => {
                s.unreachable();
            }
        }
        s.end();
        f
    }

    fn callback(&mut self, name: &str, params: u32, result: bool, own_index: u32) -> Function {
        let mut f = Function::new([(2, ValType::I32)]);
        let count = self.rng.range(1, 8) as usize;
        self.statements(&mut f, Own { index: own_index, params, result }, count, 0);
        let mut s = f.instructions();
        if result {
            let sensible = match name {
                "proxy_on_vm_start" | "proxy_on_configure" | "proxy_on_done" => 1,
                _ => 0,
            };
            match self.rng.below(10) {
                0..=6 => s.i32_const(sensible),
                7 => s.i32_const(1),
                8 => s.i32_const(*self.rng.pick(&[2, 3, 4, 7, -1, i32::MAX])),
                _ => s.call(self.next_fn).i32_const(7).i32_and(),
            };
        }
        s.end();
        f
    }

    /// A function of no parameters and no result made of statements.
    fn body_function(&mut self, params: u32, result: bool, own_index: u32, count: usize) -> Function {
        let mut f = Function::new([(2, ValType::I32)]);
        self.statements(&mut f, Own { index: own_index, params, result }, count, 0);
        let mut s = f.instructions();
        if result {
            s.i32_const(0);
        }
        s.end();
        f
    }

    /// `count` statements. Locals `params` and `params + 1` count loops.
    fn statements(&mut self, f: &mut Function, own: Own, count: usize, depth: u32) {
        let Own { index: own_index, params, result } = own;
        for _ in 0..count {
            let roll = self.rng.below(1000);
            match roll {
                0..=699 => self.call(f, params),
                700..=829 if depth < 2 => {
                    // A counted loop: `count` rounds of a few calls.
                    let counter = params + depth;
                    let rounds = match self.rng.below(20) {
                        0 if self.options.runaway => self.rng.range(500, 3000),
                        _ => self.rng.range(2, 64),
                    } as i32;
                    f.instructions().i32_const(rounds).local_set(counter).loop_(BlockType::Empty);
                    let inner = self.rng.range(1, 3) as usize;
                    self.statements(f, own, inner, depth + 1);
                    f.instructions().local_get(counter).i32_const(1).i32_sub().local_tee(counter).br_if(0).end();
                }
                830..=879 => {
                    let pages = *self.rng.pick(&[0, 1, 2, 4, 16, 65535, -1]);
                    f.instructions().i32_const(pages).memory_grow(0).drop();
                }
                880..=949 => {
                    let at = self.arg(params, 'o');
                    self.emit(f, at, ValType::I32);
                    let value = self.arg(params, 'n');
                    self.emit(f, value, ValType::I32);
                    f.instructions().i32_store(MemArg { offset: 0, align: 0, memory_index: 0 });
                }
                950..=979 => {
                    let context = self.arg(params, 'c');
                    self.emit(f, context, ValType::I32);
                    // Not a host call: a no-op that keeps the value alive.
                    f.instructions().drop();
                }
                980..=993 => {
                    f.instructions().unreachable();
                }
                994..=996 if self.options.runaway => {
                    f.instructions().loop_(BlockType::Empty).br(0).end();
                }
                997..=999 if self.options.runaway => {
                    // Unbounded recursion: the callback calls itself with its own arguments.
                    let mut s = f.instructions();
                    for p in 0..params {
                        s.local_get(p);
                    }
                    s.call(own_index);
                    if result {
                        s.drop();
                    }
                }
                _ => self.call(f, params),
            }
        }
    }

    /// One host call with random arguments, its result dropped.
    fn call(&mut self, f: &mut Function, params: u32) {
        if self.imports.is_empty() {
            return;
        }
        let index = self.rng.index(self.imports.len());
        let function = self.imports[index].clone();
        let kinds: Vec<char> = match pattern(&function.name) {
            Some(p) if p.len() == function.params.len() && self.rng.chance(65) => p.chars().collect(),
            _ => vec!['?'; function.params.len()],
        };
        let mut i = 0;
        while i < kinds.len() {
            let kind = kinds[i];
            let paired = matches!(kind, 'P' | 'M' | 'Q') && kinds.get(i + 1).is_some();
            if paired && self.rng.chance(90) {
                let items = match kind {
                    'P' => &self.dict.strings,
                    'M' => &self.dict.maps,
                    _ => &self.dict.paths,
                };
                let (at, len) = *self.rng.pick(items);
                let len = if self.rng.chance(8) { len.wrapping_add(self.rng.range(1, 70000) as u32) } else { len };
                self.emit(f, Arg::Const(at as i64), function.params[i]);
                self.emit(f, Arg::Const(len as i64), function.params[i + 1]);
                i += 2;
                continue;
            }
            let arg = if kind == 'V' && self.rng.chance(90) {
                let (at, count) = *self.rng.pick(&self.dict.iovecs);
                // fd_write's count follows its table.
                self.emit(f, Arg::Const(at as i64), function.params[i]);
                self.emit(f, Arg::Const(count as i64), function.params[i + 1]);
                i += 2;
                continue;
            } else {
                self.arg(params, kind)
            };
            self.emit(f, arg, function.params[i]);
            i += 1;
        }
        f.instructions().call(index as u32);
        for _ in &function.results {
            f.instructions().drop();
        }
    }

    /// A random argument of a kind (`?`: any).
    fn arg(&mut self, params: u32, kind: char) -> Arg {
        let end = self.memory_bytes;
        let kind =
            if kind == '?' || self.rng.chance(10) { *self.rng.pick(&['e', 'n', 'c', 'o', 'P', 'L']) } else { kind };
        match (kind, self.rng.below(10)) {
            (_, 0) if params > 0 => Arg::Param(self.rng.below(params as u64) as u32),
            (_, 1) => Arg::Dynamic { mask: *self.rng.pick(&[0xf, 0xff, 0xffff, 0x1ffff, u32::MAX]), base: 0 },
            ('e', _) => Arg::Const(*self.rng.pick(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, -1])),
            ('c', _) => Arg::Const(*self.rng.pick(&[0, 1, 2, 3, 4, 5, 100, -1])),
            ('o', n) => match n {
                2 => Arg::Const(*self.rng.pick(&[0, end as i64 - 2, end as i64, -4, u32::MAX as i64])),
                3 => Arg::Dynamic { mask: 0xfff, base: SCRATCH },
                _ => Arg::Const((SCRATCH + self.rng.below(512) as u32 * 8) as i64),
            },
            ('P', _) => Arg::Const(self.rng.pick(&self.dict.strings).0 as i64),
            ('L', _) => Arg::Const(self.rng.size(64) as i64),
            _ => Arg::Const(match self.rng.below(4) {
                0 => self.rng.size(100_000) as i64,
                1 => self.rng.next_u64() as i64,
                _ => self.rng.below(2000) as i64,
            }),
        }
    }

    fn emit(&mut self, f: &mut Function, arg: Arg, ty: ValType) {
        let mut s = f.instructions();
        let i64 = ty == ValType::I64;
        match arg {
            Arg::Const(v) if i64 => {
                s.i64_const(v);
            }
            Arg::Const(v) => {
                s.i32_const(v as i32);
            }
            Arg::Param(p) => {
                s.local_get(p);
                widen(&mut s, i64);
            }
            Arg::Dynamic { mask, base } => {
                s.call(self.next_fn).i32_const(mask as i32).i32_and();
                if base != 0 {
                    s.i32_const(base as i32).i32_add();
                }
                widen(&mut s, i64);
            }
        }
    }
}

fn widen(s: &mut InstructionSink<'_>, i64: bool) {
    if i64 {
        s.i64_extend_i32_u();
    }
}

/// `$next() -> i32`: xorshift32 over global 0.
fn next_function() -> Function {
    let mut f = Function::new([(1, ValType::I32)]);
    let mut s = f.instructions();
    s.global_get(RNG_GLOBAL).local_tee(0).local_get(0).i32_const(13).i32_shl().i32_xor().local_set(0);
    s.local_get(0).local_get(0).i32_const(17).i32_shr_u().i32_xor().local_set(0);
    s.local_get(0).local_get(0).i32_const(5).i32_shl().i32_xor().local_tee(0).global_set(RNG_GLOBAL);
    s.local_get(0).end();
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_guests_are_valid_modules_and_deterministic() {
        let options = Options { runaway: true, malformed: false };
        for seed in 0..200 {
            let a = generate(&mut Rng::new(seed), options);
            let b = generate(&mut Rng::new(seed), options);
            assert_eq!(a.wasm, b.wasm, "seed {seed}");
            wasmparser::Validator::new().validate_all(&a.wasm).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
    }
}
