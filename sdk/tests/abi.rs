//! Compiles the test guests to wasm and checks their imports and exports,
//! names and signatures, against the ABI's description (`sluice::abi`,
//! itself checked against the reference's tables, `proxy-wasm-abi.md` §2 and
//! §3.1, in sdk/abi/tests/spec.rs); measures the header plugin's size.

use std::collections::BTreeMap;

use guest_build::{Guest, Target};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef, ValType};

/// A wasm function signature in the reference's notation: `i` = i32, `I` = i64.
type Sig = (String, String);

/// The exports of a plugin module besides the callbacks (`proxy_on_*`, from
/// the ABI's description): `malloc` only where wasi-libc does not define it
/// (checked separately).
const INTEGRATION_EXPORTS: [(&str, (&str, &str)); 4] = [
    ("proxy_abi_version_0_2_1", ("", "")),
    ("_initialize", ("", "")),
    ("malloc", ("i", "i")),
    ("memory", ("memory", "")),
];

fn letters(types: impl IntoIterator<Item = sluice::abi::WasmType>) -> String {
    types.into_iter().map(sluice::abi::WasmType::letter).collect()
}

/// Every export of ABI v0.2.1: the description's callbacks plus the integration exports.
fn exports() -> Vec<(String, Sig)> {
    let callbacks = sluice::abi::CALLBACKS
        .iter()
        .map(|c| (c.name.to_owned(), (letters(c.params.iter().copied()), letters(c.result))));
    let integration = INTEGRATION_EXPORTS.iter().map(|(n, (p, r))| (n.to_string(), (p.to_string(), r.to_string())));
    callbacks.chain(integration).collect()
}

/// What a module imports and exports, with signatures in the table notation.
#[derive(Debug, Default)]
struct Module {
    imports: BTreeMap<(String, String), (String, String)>,
    exports: BTreeMap<String, (String, String)>,
    /// Size without custom sections (names, producers, debug info).
    stripped_size: usize,
    size: usize,
}

fn notation(types: &[ValType]) -> String {
    types
        .iter()
        .map(|t| match t {
            ValType::I32 => 'i',
            ValType::I64 => 'I',
            _ => '?',
        })
        .collect()
}

fn parse(wasm: &[u8]) -> Module {
    let mut module = Module { size: wasm.len(), stripped_size: 8, ..Module::default() };
    let mut types = Vec::new();
    let mut functions: Vec<u32> = Vec::new();
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.expect("valid wasm");
        if let Some((_, range)) = payload.as_section()
            && !matches!(payload, Payload::CustomSection(_))
        {
            // Section id byte + LEB128 size + contents.
            module.stripped_size += 1 + leb_len(range.len()) + range.len();
        }
        match payload {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    let ty = ty.unwrap();
                    types.push((notation(ty.params()), notation(ty.results())));
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.unwrap();
                    let sig = match import.ty {
                        TypeRef::Func(index) | TypeRef::FuncExact(index) => {
                            functions.push(index);
                            types[index as usize].clone()
                        }
                        other => (format!("{other:?}"), String::new()),
                    };
                    module.imports.insert((import.module.to_owned(), import.name.to_owned()), sig);
                }
            }
            Payload::FunctionSection(reader) => functions.extend(reader.into_iter().map(Result::unwrap)),
            Payload::ExportSection(reader) => exports.extend(reader.into_iter().map(Result::unwrap)),
            _ => {}
        }
    }
    for export in exports {
        let sig = match export.kind {
            ExternalKind::Func | ExternalKind::FuncExact => types[functions[export.index as usize] as usize].clone(),
            ExternalKind::Memory => ("memory".into(), String::new()),
            other => (format!("{other:?}"), String::new()),
        };
        module.exports.insert(export.name.to_owned(), sig);
    }
    module
}

fn leb_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn build(package: &str, target: Target) -> Module {
    let wasm = Guest::package(package).target(target).bytes().unwrap_or_else(|e| panic!("{package}: {e}"));
    parse(&wasm)
}

fn expected_exports(target: Target) -> BTreeMap<String, Sig> {
    exports().into_iter().filter(|(name, _)| name != "malloc" || target == Target::Unknown).collect()
}

fn assert_exports(module: &Module, target: Target) {
    for (name, sig) in expected_exports(target) {
        assert_eq!(module.exports.get(&name), Some(&sig), "export {name} on {target:?}");
    }
    if target == Target::Wasip1 {
        assert!(!module.exports.contains_key("malloc"), "wasi-libc owns malloc on wasip1");
    }
    let unexpected: Vec<&String> = module
        .exports
        .keys()
        .filter(|name| name.starts_with("proxy_") && !exports().iter().any(|(n, _)| n == *name))
        .collect();
    assert!(unexpected.is_empty(), "exports not in the ABI: {unexpected:?}");
}

fn env_imports(module: &Module) -> BTreeMap<String, (String, String)> {
    module.imports.iter().filter(|((m, _), _)| m == "env").map(|((_, name), sig)| (name.clone(), sig.clone())).collect()
}

#[test]
fn the_abi_guest_imports_every_host_function_with_its_signature() {
    // The description itself is checked against the reference's tables in
    // sluice-abi's own tests (sdk/abi/tests/spec.rs).
    for target in Target::ALL {
        let module = build("sluice-guest-abi-all", target);
        let expected: BTreeMap<String, Sig> = sluice::abi::HOST_FUNCTIONS
            .iter()
            .map(|f| (f.name.to_owned(), (letters(f.wasm_params()), "i".to_owned())))
            .collect();
        assert_eq!(env_imports(&module), expected, "env imports on {target:?}");
        let others: Vec<_> = module.imports.keys().filter(|(m, _)| m != "env").collect();
        match target {
            Target::Unknown => assert!(others.is_empty(), "non-env imports: {others:?}"),
            Target::Wasip1 => {
                assert!(others.iter().all(|(m, _)| m == "wasi_snapshot_preview1"), "unexpected modules: {others:?}")
            }
        }
        assert_exports(&module, target);
    }
}

#[test]
fn the_no_std_header_guest_imports_only_what_it_uses_and_no_wasi() {
    let module = build("sluice-guest-header-nostd", Target::Unknown);
    let names: Vec<&str> =
        module.imports.keys().map(|(m, n)| if m == "env" { n.as_str() } else { m.as_str() }).collect();
    // Reading and adding headers, plus proxy_log for the panic handler.
    assert_eq!(names, ["proxy_add_header_map_value", "proxy_get_header_map_value", "proxy_log"]);
    assert_exports(&module, Target::Unknown);
}

#[test]
fn a_derived_plugin_that_does_not_log_imports_no_log_level() {
    // The adaptor has the SDK's logger re-read the host's level, but only
    // through the logger itself, which a plugin that never installs it does
    // not link. `derive-add-header` does not; `derive-config` does.
    for target in Target::ALL {
        let names = |package| {
            let module = build(package, target);
            module.imports.into_keys().map(|(_, name)| name).collect::<Vec<_>>()
        };
        let quiet = names("derive-add-header");
        assert!(!quiet.iter().any(|n| n == "proxy_get_log_level"), "{target:?}: {quiet:?}");
        // The level macros without `init` log everything and let the host filter.
        let macros = names("sluice-bench-http-headers");
        assert!(macros.iter().any(|n| n == "proxy_log"), "{target:?}: {macros:?}");
        assert!(!macros.iter().any(|n| n == "proxy_get_log_level"), "{target:?}: {macros:?}");
        let logging = names("derive-config");
        assert!(logging.iter().any(|n| n == "proxy_get_log_level"), "{target:?}: {logging:?}");
    }
}

#[test]
fn no_std_guests_on_wasip1_import_only_proxy_functions() {
    // Slice and string comparisons compile to `memcmp`/`bcmp`; without std on
    // wasm32-wasip1 the SDK's runtime must define them, or the module would
    // import `env.memcmp`, which no host provides. `derive-config` compares
    // strings (JSON keys, enum names) and `header-nostd` does not.
    for package in ["derive-config", "sluice-guest-header-nostd"] {
        let module = build(package, Target::Wasip1);
        let stray: Vec<_> = module.imports.keys().filter(|(m, n)| m != "env" || !n.starts_with("proxy_")).collect();
        assert!(stray.is_empty(), "{package} on wasip1 imports {stray:?}");
    }
}

#[test]
fn the_header_plugin_is_a_fraction_of_the_official_sdks() {
    // The official SDK's http_headers example is about 108 KB without custom
    // sections (BENCHMARKS.md); this plugin measured 19.8 KB.
    for target in Target::ALL {
        let module = build("sluice-guest-header-nostd", target);
        eprintln!(
            "header plugin, {}: {} bytes raw, {} bytes without custom sections",
            target.triple(),
            module.size,
            module.stripped_size
        );
        assert!(module.stripped_size < 30_000, "{target:?}: {} bytes", module.stripped_size);
        assert!(!module.imports.keys().any(|(m, _)| m.starts_with("wasi")), "{target:?} imports WASI");
    }
}
