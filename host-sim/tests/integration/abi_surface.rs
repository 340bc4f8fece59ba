//! Every linked host function, by name and signature: the `proxy_*` ones
//! against the ABI's description (`sluice::abi`, itself checked against the
//! spec's tables for v0.1.0, v0.2.0 and v0.2.1 in sdk/abi/tests/spec.rs), the
//! WASI ones against a table transcribed from cpp-host's
//! `FOR_ALL_WASI_FUNCTIONS`; and a guest that imports all of them.

use host_sim::{AbiVersion, Host, PluginSpec, linked_functions};

/// cpp-host's 45 WASI functions plus `proc_raise` (the rest of preview 1).
const WASI: &[(&str, &str, &str)] = &[
    ("args_get", "ii", "i"),
    ("args_sizes_get", "ii", "i"),
    ("clock_res_get", "ii", "i"),
    ("clock_time_get", "ili", "i"),
    ("environ_get", "ii", "i"),
    ("environ_sizes_get", "ii", "i"),
    ("fd_advise", "illi", "i"),
    ("fd_allocate", "ill", "i"),
    ("fd_close", "i", "i"),
    ("fd_datasync", "i", "i"),
    ("fd_fdstat_get", "ii", "i"),
    ("fd_fdstat_set_flags", "ii", "i"),
    ("fd_fdstat_set_rights", "ill", "i"),
    ("fd_filestat_get", "ii", "i"),
    ("fd_filestat_set_size", "il", "i"),
    ("fd_filestat_set_times", "illi", "i"),
    ("fd_pread", "iiili", "i"),
    ("fd_prestat_dir_name", "iii", "i"),
    ("fd_prestat_get", "ii", "i"),
    ("fd_pwrite", "iiili", "i"),
    ("fd_read", "iiii", "i"),
    ("fd_readdir", "iiili", "i"),
    ("fd_renumber", "ii", "i"),
    ("fd_seek", "ilii", "i"),
    ("fd_sync", "i", "i"),
    ("fd_tell", "ii", "i"),
    ("fd_write", "iiii", "i"),
    ("path_create_directory", "iii", "i"),
    ("path_filestat_get", "iiiii", "i"),
    ("path_filestat_set_times", "iiiilli", "i"),
    ("path_link", "iiiiiii", "i"),
    ("path_open", "iiiiillii", "i"),
    ("path_readlink", "iiiiii", "i"),
    ("path_remove_directory", "iii", "i"),
    ("path_rename", "iiiiii", "i"),
    ("path_symlink", "iiiii", "i"),
    ("path_unlink_file", "iii", "i"),
    ("poll_oneoff", "iiii", "i"),
    ("proc_exit", "i", ""),
    ("proc_raise", "i", "i"),
    ("random_get", "ii", "i"),
    ("sched_yield", "", "i"),
    ("sock_accept", "iii", "i"),
    ("sock_recv", "iiiiii", "i"),
    ("sock_send", "iiiii", "i"),
    ("sock_shutdown", "ii", "i"),
];

const ENV_EXTRA: &[(&str, &str, &str)] = &[("pthread_equal", "ii", "i"), ("emscripten_notify_memory_growth", "i", "")];

fn types(code: &str) -> Vec<String> {
    code.chars().map(|c| if c == 'l' { "i64".to_owned() } else { "i32".to_owned() }).collect()
}

type Row = (String, String, Vec<String>, Vec<String>);

fn expected(abi: AbiVersion) -> Vec<Row> {
    let described = sluice::abi::HOST_FUNCTIONS.iter().chain(sluice::abi::LEGACY_HOST_FUNCTIONS);
    let mut rows: Vec<Row> = described
        .filter(|f| f.in_version(abi))
        .map(|f| {
            let params: String =
                f.wasm_params().map(|t| if t == sluice::abi::WasmType::I64 { 'l' } else { 'i' }).collect();
            ("env".to_owned(), f.name.to_owned(), types(&params), types("i"))
        })
        .collect();
    rows.extend(ENV_EXTRA.iter().map(|(n, p, r)| ("env".to_owned(), n.to_string(), types(p), types(r))));
    for module in ["wasi_snapshot_preview1", "wasi_unstable"] {
        rows.extend(WASI.iter().map(|(n, p, r)| (module.to_owned(), n.to_string(), types(p), types(r))));
    }
    rows.sort();
    rows
}

#[test]
fn the_wasi_table_has_the_reference_size() {
    assert_eq!(WASI.len(), 46, "cpp-host's 45 WASI functions plus proc_raise");
}

#[test]
fn every_linked_function_matches_the_reference_tables() {
    for abi in [AbiVersion::V0_1_0, AbiVersion::V0_2_0, AbiVersion::V0_2_1] {
        let linked = linked_functions(abi).unwrap();
        let expected = expected(abi);
        let missing: Vec<_> = expected.iter().filter(|r| !linked.contains(r)).collect();
        let extra: Vec<_> = linked.iter().filter(|r| !expected.contains(r)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{abi:?}: missing {missing:#?}, unexpected {extra:#?}");
    }
}

/// A module that imports every function of `abi` and does nothing else.
fn importing_everything(abi: AbiVersion) -> Vec<u8> {
    let mut imports = String::new();
    for (module, name, params, results) in expected(abi) {
        let p: String = params.iter().map(|t| format!(" {t}")).collect();
        let r: String = results.iter().map(|t| format!(" {t}")).collect();
        imports.push_str(&format!("(import \"{module}\" \"{name}\" (func (param{p}) (result{r})))\n"));
    }
    let wat = format!(
        r#"(module {imports}
            (memory (export "memory") 1)
            (func (export "{marker}"))
            (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 1024))"#,
        marker = abi.marker()
    );
    wat::parse_str(wat).unwrap()
}

#[test]
fn a_guest_importing_everything_loads_for_each_abi() {
    for abi in [AbiVersion::V0_1_0, AbiVersion::V0_2_0, AbiVersion::V0_2_1] {
        let mut host = Host::new();
        let plugin = host.load(PluginSpec::from_bytes(importing_everything(abi))).unwrap();
        assert_eq!(host.abi(plugin), Some(abi));
    }
}

#[test]
fn a_guest_importing_another_versions_function_does_not_link() {
    let wat = r#"(module
        (import "env" "proxy_get_log_level" (func (param i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "proxy_abi_version_0_2_0"))
        (func (export "malloc") (param i32) (result i32) i32.const 0))"#;
    let err = Host::new().load(PluginSpec::from_bytes(wat::parse_str(wat).unwrap())).unwrap_err();
    assert!(err.to_string().contains("proxy_get_log_level"), "{err}");
}

#[test]
fn a_wrongly_typed_import_does_not_link() {
    // Kong registers proxy_get_log_level with two parameters: the ABI has one.
    let wat = r#"(module
        (import "env" "proxy_get_log_level" (func (param i32 i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "proxy_abi_version_0_2_1"))
        (func (export "malloc") (param i32) (result i32) i32.const 0))"#;
    assert!(Host::new().load(PluginSpec::from_bytes(wat::parse_str(wat).unwrap())).is_err());
}
