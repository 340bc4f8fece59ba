//! Every linked host function, in every ABI version, called with an
//! out-of-bounds pointer in each of its pointer arguments (one at a time,
//! the others valid): the `proxy_*` functions return
//! `INVALID_MEMORY_ACCESS`, the WASI functions `EFAULT`, as cpp-host does;
//! cpp-host's stubs, which never read their pointers, answer as they do with
//! valid ones. Nothing traps and the host never panics. The table of
//! argument roles below must cover exactly what the linker defines.

use std::collections::BTreeMap;

use crate::common::Wat;
use host_sim::state::pairs;
use host_sim::{AbiVersion, Host, PluginSpec, Status, linked_functions};

/// One argument of a call, as the test fills it when it is not the bad one.
#[derive(Clone, Copy, Debug)]
enum Arg {
    /// A value (`i64.const` where the signature has an `i64`).
    Val(i64),
    /// A pointer to these bytes and, as the next parameter, their length.
    Data(&'static str),
    /// A pointer the function writes through (or reads a table from).
    Out,
    /// A pointer cpp-host's stub never dereferences.
    Unread,
    /// The i32 the setup stored at this address (queue token, metric id).
    Saved(u32),
}

use Arg::*;

const HEADERS: &str = "headers";
const MD: &str = "metadata";

/// The host functions whose arguments need other values than the ones
/// [`described`] derives, and every other function: its module (`env` or
/// `wasi`, meaning both WASI module names) and the role of each argument.
const TABLE: &[(&str, &str, &[Arg])] = &[
    ("env", "proxy_log", &[Val(2), Data("message")]),
    ("env", "proxy_get_buffer_bytes", &[Val(7), Val(0), Val(16), Out, Out]),
    ("env", "proxy_get_buffer_status", &[Val(7), Out, Out]),
    ("env", "proxy_set_header_map_pairs", &[Val(0), Data(HEADERS)]),
    ("env", "proxy_get_header_map_value", &[Val(0), Data(":path"), Out, Out]),
    ("env", "proxy_add_header_map_value", &[Val(0), Data("x-a"), Data("1")]),
    ("env", "proxy_replace_header_map_value", &[Val(0), Data("x-a"), Data("1")]),
    ("env", "proxy_remove_header_map_value", &[Val(0), Data("x-a")]),
    ("env", "proxy_send_local_response", &[Val(403), Data("details"), Data("body"), Data(HEADERS), Val(-1)]),
    ("env", "proxy_http_call", &[Data("cluster"), Data(HEADERS), Data("body"), Data(HEADERS), Val(1000), Out]),
    ("env", "proxy_grpc_call", &[Data("cluster"), Data("svc"), Data("method"), Data(MD), Data("msg"), Val(1000), Out]),
    ("env", "proxy_grpc_stream", &[Data("cluster"), Data("svc"), Data("method"), Data(MD), Out]),
    ("env", "proxy_grpc_send", &[Val(2), Data("msg"), Val(0)]),
    ("env", "proxy_grpc_cancel", &[Val(1)]),
    ("env", "proxy_grpc_close", &[Val(1)]),
    ("env", "proxy_set_shared_data", &[Data("k"), Data("v"), Val(0)]),
    ("env", "proxy_get_shared_data", &[Data("k"), Out, Out, Out]),
    ("env", "proxy_register_shared_queue", &[Data("q"), Out]),
    ("env", "proxy_resolve_shared_queue", &[Data("vm"), Data("q"), Out]),
    ("env", "proxy_enqueue_shared_queue", &[Saved(QUEUE), Data("item")]),
    ("env", "proxy_dequeue_shared_queue", &[Saved(QUEUE), Out, Out]),
    ("env", "proxy_define_metric", &[Val(0), Data("m2"), Out]),
    ("env", "proxy_record_metric", &[Saved(METRIC), Val(1)]),
    ("env", "proxy_increment_metric", &[Saved(METRIC), Val(1)]),
    ("env", "proxy_get_metric", &[Saved(METRIC), Out]),
    ("env", "proxy_get_property", &[Data("request\0path"), Out, Out]),
    ("env", "proxy_set_property", &[Data("wasm\0x"), Data("v")]),
    ("env", "proxy_call_foreign_function", &[Data("clear_route_cache"), Data("a"), Out, Out]),
    ("env", "pthread_equal", &[Val(1), Val(1)]),
    ("env", "emscripten_notify_memory_growth", &[Val(0)]),
    ("wasi", "args_get", &[Unread, Unread]),
    ("wasi", "args_sizes_get", &[Out, Out]),
    ("wasi", "clock_res_get", &[Val(0), Out]),
    ("wasi", "clock_time_get", &[Val(0), Val(1), Out]),
    ("wasi", "environ_get", &[Out, Out]),
    ("wasi", "environ_sizes_get", &[Out, Out]),
    ("wasi", "fd_advise", &[Val(1), Val(0), Val(0), Val(0)]),
    ("wasi", "fd_allocate", &[Val(1), Val(0), Val(0)]),
    ("wasi", "fd_close", &[Val(3)]),
    ("wasi", "fd_datasync", &[Val(1)]),
    ("wasi", "fd_fdstat_get", &[Val(1), Out]),
    ("wasi", "fd_fdstat_set_flags", &[Val(1), Val(0)]),
    ("wasi", "fd_fdstat_set_rights", &[Val(1), Val(0), Val(0)]),
    ("wasi", "fd_filestat_get", &[Val(1), Unread]),
    ("wasi", "fd_filestat_set_size", &[Val(1), Val(0)]),
    ("wasi", "fd_filestat_set_times", &[Val(1), Val(0), Val(0), Val(0)]),
    ("wasi", "fd_pread", &[Val(1), Unread, Val(1), Val(0), Unread]),
    ("wasi", "fd_prestat_dir_name", &[Val(3), Unread, Val(4)]),
    ("wasi", "fd_prestat_get", &[Val(3), Unread]),
    // The iovec table is read from an all-zero slot: one empty buffer.
    ("wasi", "fd_pwrite", &[Val(1), Out, Val(1), Val(0), Out]),
    ("wasi", "fd_read", &[Val(0), Unread, Val(1), Unread]),
    ("wasi", "fd_readdir", &[Val(3), Unread, Val(8), Val(0), Unread]),
    ("wasi", "fd_renumber", &[Val(1), Val(2)]),
    ("wasi", "fd_seek", &[Val(1), Val(0), Val(0), Unread]),
    ("wasi", "fd_sync", &[Val(1)]),
    ("wasi", "fd_tell", &[Val(1), Unread]),
    ("wasi", "fd_write", &[Val(1), Out, Val(1), Out]),
    ("wasi", "path_create_directory", &[Val(3), Unread, Val(4)]),
    ("wasi", "path_filestat_get", &[Val(3), Val(0), Unread, Val(4), Unread]),
    ("wasi", "path_filestat_set_times", &[Val(3), Val(0), Unread, Val(4), Val(0), Val(0), Val(0)]),
    ("wasi", "path_link", &[Val(3), Val(0), Unread, Val(4), Val(3), Unread, Val(4)]),
    ("wasi", "path_open", &[Val(3), Val(0), Unread, Val(4), Val(0), Val(0), Val(0), Val(0), Unread]),
    ("wasi", "path_readlink", &[Val(3), Unread, Val(4), Unread, Val(8), Unread]),
    ("wasi", "path_remove_directory", &[Val(3), Unread, Val(4)]),
    ("wasi", "path_rename", &[Val(3), Unread, Val(4), Val(3), Unread, Val(4)]),
    ("wasi", "path_symlink", &[Unread, Val(4), Val(3), Unread, Val(4)]),
    ("wasi", "path_unlink_file", &[Val(3), Unread, Val(4)]),
    ("wasi", "poll_oneoff", &[Unread, Unread, Val(1), Out]),
    ("wasi", "proc_exit", &[Val(0)]),
    ("wasi", "proc_raise", &[Val(0)]),
    ("wasi", "random_get", &[Out, Val(8)]),
    ("wasi", "sched_yield", &[]),
    ("wasi", "sock_accept", &[Val(3), Val(0), Unread]),
    ("wasi", "sock_recv", &[Val(3), Unread, Val(1), Val(0), Unread, Unread]),
    ("wasi", "sock_send", &[Val(3), Unread, Val(1), Val(0), Unread]),
    ("wasi", "sock_shutdown", &[Val(3), Val(0)]),
];

const BAD: &str = "(i32.const 0xfffffff0)";
/// Where the setup stores the queue token and the metric id.
const QUEUE: u32 = 400;
const METRIC: u32 = 404;
/// Where each call's result goes (4 bytes per call).
const RESULTS: u32 = 60_000;
const VM_ID: &str = "vm";

/// The bytes a `Data` argument points to: the text, or the map it names.
fn payload(text: &str) -> String {
    let bytes = match text {
        HEADERS => pairs::encode(&[(":method", "GET"), (":path", "/"), (":authority", "cluster")]),
        MD => pairs::encode(&[("x-md", "1")]),
        _ => return text.to_owned(),
    };
    String::from_utf8(bytes).expect("the serialized maps are ASCII")
}

/// A linked function: `(module, name, params, results)`.
type Linked = (String, String, Vec<String>, Vec<String>);

fn table_entry(module: &str, name: &str) -> Option<Vec<Arg>> {
    let group = if module == "env" { "env" } else { "wasi" };
    let row = TABLE.iter().find(|(m, n, _)| *m == group && *n == name).map(|(_, _, args)| args.to_vec());
    row.or_else(|| (module == "env").then(|| described(name)).flatten())
}

/// The roles of a `proxy_*` function's arguments from the ABI's
/// description: bytes it reads are `Data("x")`, out-pointers `Out`, values 0.
fn described(name: &str) -> Option<Vec<Arg>> {
    use sluice::abi::RawKind;
    let function = sluice::abi::host_function(name)?;
    let roles = function.params.iter().filter_map(|(_, kind)| match kind {
        RawKind::Ptr => Some(Data("x")),
        RawKind::Len => None,
        kind if kind.is_output() => Some(Out),
        _ => Some(Val(0)),
    });
    Some(roles.collect())
}

/// The parameter types the roles stand for (`Val` takes the linked type).
fn arity(args: &[Arg]) -> usize {
    args.iter().map(|a| if matches!(a, Data(_)) { 2 } else { 1 }).sum()
}

/// The WAT arguments of one call: every role valid, except the pointer at
/// role `bad` (if any), which is out of bounds.
fn call_args(args: &[Arg], params: &[String], bad: Option<usize>, w: &mut Wat) -> String {
    let mut out = Vec::new();
    let mut param = 0;
    for (i, arg) in args.iter().enumerate() {
        let pointer = if bad == Some(i) { BAD.to_owned() } else { String::new() };
        match *arg {
            Val(v) if params[param] == "i64" => out.push(format!("(i64.const {v})")),
            Val(v) => out.push(format!("(i32.const {v})")),
            Data(text) if pointer.is_empty() => {
                out.push(w.s(&payload(text)));
                param += 1;
            }
            Data(text) => {
                out.push(format!("{pointer} (i32.const {})", payload(text).len()));
                param += 1;
            }
            // Each pointer of a call gets its own zeroed 16-byte slot.
            Out | Unread if pointer.is_empty() => out.push(format!("(i32.const {})", 256 + 16 * i)),
            Out | Unread => out.push(pointer),
            Saved(addr) => out.push(format!("(i32.load (i32.const {addr}))")),
        }
        param += 1;
    }
    out.join(" ")
}

/// What a call with a bad pointer must return.
enum Expect {
    Status(i32),
    /// Whatever the same call with valid pointers (call number) returned.
    SameAs(usize),
}

/// A call with one bad pointer: which, and what it must return.
struct Case {
    label: String,
    expect: Expect,
}

/// The guest: setup, then every call (each result stored), then the results
/// published as shared data. The cases line up with the calls (`None`: a
/// baseline call with valid pointers).
fn guest(abi: AbiVersion, linked: &[Linked]) -> (Vec<u8>, Vec<Option<Case>>) {
    let mut w = Wat::default();
    let mut imports = String::new();
    let mut index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, (module, name, params, results)) in linked.iter().enumerate() {
        let p: String = params.iter().map(|t| format!(" {t}")).collect();
        let r: String = results.iter().map(|t| format!(" {t}")).collect();
        imports.push_str(&format!("(import \"{module}\" \"{name}\" (func $f{i} (param{p}) (result{r})))\n"));
        index.insert((module.as_str(), name.as_str()), i);
    }
    let f = |name: &str| format!("$f{}", index[&("env", name)]);
    let setup = format!(
        "(drop (call {register} {q} (i32.const {QUEUE})))
         (drop (call {enqueue} (i32.load (i32.const {QUEUE})) {item}))
         (drop (call {define} (i32.const 0) {m} (i32.const {METRIC})))
         (drop (call {set_shared} {k} {v} (i32.const 0)))",
        register = f("proxy_register_shared_queue"),
        enqueue = f("proxy_enqueue_shared_queue"),
        define = f("proxy_define_metric"),
        set_shared = f("proxy_set_shared_data"),
        q = w.s("q"),
        item = w.s("item"),
        m = w.s("m"),
        k = w.s("k"),
        v = w.s("v"),
    );

    let mut calls: Vec<(String, Option<Case>)> = Vec::new();
    for (i, (module, name, params, _)) in linked.iter().enumerate() {
        let args = &table_entry(module, name).unwrap();
        let baseline = args.iter().any(|a| matches!(a, Unread)).then(|| {
            calls.push((format!("(call $f{i} {})", call_args(args, params, None, &mut w)), None));
            calls.len() - 1
        });
        let fault = if module == "env" { Status::InvalidMemoryAccess as i32 } else { 21 };
        for (j, arg) in args.iter().enumerate() {
            let expect = match (arg, baseline) {
                (Unread, Some(b)) => Expect::SameAs(b),
                (Data(_) | Out, _) => Expect::Status(fault),
                _ => continue,
            };
            let label = format!("{module}.{name}, argument {j} out of bounds");
            calls.push((
                format!("(call $f{i} {})", call_args(args, params, Some(j), &mut w)),
                Some(Case { label, expect }),
            ));
        }
    }
    assert!(RESULTS as usize + 4 * calls.len() <= 65_536, "the results fit the guest's memory");
    let stores: String = calls
        .iter()
        .enumerate()
        .map(|(i, (call, _))| format!("(i32.store (i32.const {}) {call})\n", RESULTS + 4 * i as u32))
        .collect();
    let key = w.s("results");
    let publish = format!(
        "(drop (call {} {key} (i32.const {RESULTS}) (i32.const {}) (i32.const 0)))",
        f("proxy_set_shared_data"),
        4 * calls.len()
    );
    let params = if abi == AbiVersion::V0_1_0 { "(param i32 i32)" } else { "(param i32 i32 i32)" };
    let body = format!(
        r#"(func (export "proxy_on_request_headers") {params} (result i32)
    {setup}
    {stores}
    {publish}
    (i32.const 0))"#
    );
    let wasm = w.module(abi.marker(), &imports, &body);
    (wasm, calls.into_iter().map(|(_, case)| case).collect())
}

#[test]
fn the_table_covers_every_linked_function_with_its_signature() {
    let mut used = vec![false; TABLE.len()];
    for abi in [AbiVersion::V0_1_0, AbiVersion::V0_2_0, AbiVersion::V0_2_1] {
        for (module, name, params, _) in linked_functions(abi).unwrap() {
            let args = table_entry(&module, &name).unwrap_or_else(|| panic!("{module}.{name} is not in the table"));
            assert_eq!(arity(&args), params.len(), "{module}.{name}: the roles cover every parameter");
            let mut param = 0;
            for arg in &args {
                let width = if matches!(arg, Data(_)) { 2 } else { 1 };
                if !matches!(arg, Val(_)) {
                    let types = &params[param..param + width];
                    assert!(types.iter().all(|t| t == "i32"), "{module}.{name}: pointers and lengths are i32");
                }
                param += width;
            }
            let group = if module == "env" { "env" } else { "wasi" };
            if let Some(row) = TABLE.iter().position(|(m, n, _)| *m == group && *n == name) {
                used[row] = true;
            }
        }
    }
    let unused: Vec<_> = TABLE.iter().zip(&used).filter(|(_, u)| !**u).map(|((m, n, _), _)| (m, n)).collect();
    assert!(unused.is_empty(), "table entries no ABI links: {unused:?}");
    let redundant: Vec<_> = TABLE
        .iter()
        .filter(|(m, n, args)| *m == "env" && described(n).is_some_and(|d| format!("{d:?}") == format!("{args:?}")))
        .map(|(_, n, _)| n)
        .collect();
    assert!(redundant.is_empty(), "rows the description already gives: {redundant:?}");
}

#[test]
fn every_pointer_argument_of_every_function_is_bounds_checked() {
    for abi in [AbiVersion::V0_1_0, AbiVersion::V0_2_0, AbiVersion::V0_2_1] {
        let linked = linked_functions(abi).unwrap();
        let (wasm, cases) = guest(abi, &linked);
        let mut host = Host::new();
        let spec = PluginSpec::from_bytes(wasm).vm_id(VM_ID).configuration("config").env("HOME", "/nowhere");
        let plugin = host.load(spec).unwrap();
        let mut stream = host.http_stream(plugin).unwrap();
        stream.request_headers([(":method", "GET"), (":path", "/")], true).unwrap();
        assert!(stream.local_response().is_none(), "{abi:?}: no reply with a bad pointer");
        assert!(host.failure(plugin).is_none(), "{abi:?}: statuses, never a trap");
        let (bytes, _) = host.shared_data(VM_ID, "results").expect("the guest published its results");
        let got: Vec<i32> = bytes.chunks(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(got.len(), cases.len());
        let mut checked = 0;
        for (i, case) in cases.iter().enumerate() {
            let Some(case) = case else { continue };
            let want = match case.expect {
                Expect::Status(s) => s,
                Expect::SameAs(b) => got[b],
            };
            assert_eq!(got[i], want, "{abi:?}: {}", case.label);
            checked += 1;
        }
        assert!(checked > 100, "{abi:?}: {checked} pointer arguments checked");
        assert!(host.http_callouts().is_empty() && host.grpc_callouts().is_empty(), "{abi:?}: no callout went out");
    }
}
