//! Builds hand-written WAT guests: static strings become data segments, the
//! module gets a memory, a bump allocator and the ABI marker; and runs the
//! `host-sim` binary.

#![allow(dead_code)]

use host_sim::{Error, Host, PluginId, PluginSpec};

/// A WAT guest under construction.
pub struct Wat {
    data: Vec<(u32, Vec<u8>)>,
    next: u32,
}

impl Default for Wat {
    fn default() -> Wat {
        Wat { data: Vec::new(), next: 1024 }
    }
}

impl Wat {
    /// Places `text` in memory and returns `(i32.const ptr) (i32.const len)`.
    pub fn s(&mut self, text: &str) -> String {
        let ptr = self.next;
        self.data.push((ptr, text.as_bytes().to_vec()));
        self.next += text.len() as u32 + 1;
        format!("(i32.const {ptr}) (i32.const {})", text.len())
    }

    /// Places a serialized header map and returns `(i32.const ptr) (i32.const len)`.
    pub fn pairs(&mut self, pairs: &[(&str, &str)]) -> String {
        let bytes = host_sim::state::pairs::encode(pairs);
        let ptr = self.next;
        self.next += bytes.len() as u32 + 1;
        let len = bytes.len();
        self.data.push((ptr, bytes));
        format!("(i32.const {ptr}) (i32.const {len})")
    }

    /// `proxy_http_call` of a `GET /` to the cluster `auth` with `timeout_ms`,
    /// its token at 300 (the import must be `$http`).
    pub fn http_call(&mut self, timeout_ms: u32) -> String {
        let cluster = self.s("auth");
        let headers = self.pairs(&[(":method", "GET"), (":path", "/"), (":authority", "a")]);
        format!(
            "(drop (call $http {cluster} {headers} (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) \
             (i32.const {timeout_ms}) (i32.const 300)))"
        )
    }

    /// `proxy_log` at info of a static message (the import must be `$log`).
    pub fn log(&mut self, text: &str) -> String {
        format!("(drop (call $log (i32.const 2) {}))", self.s(text))
    }

    /// The whole module: `imports` and `body` are WAT fragments.
    pub fn module(&self, marker: &str, imports: &str, body: &str) -> Vec<u8> {
        let data: String = self
            .data
            .iter()
            .map(|(ptr, bytes)| {
                let escaped: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
                format!("(data (i32.const {ptr}) \"{escaped}\")\n")
            })
            .collect();
        let text = format!(
            r#"(module
  {imports}
  (memory (export "memory") 1)
  {data}
  (global $heap (mut i32) (i32.const 32768))
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "{marker}"))
  {body}
)"#
        );
        wat::parse_str(&text).unwrap_or_else(|e| panic!("bad WAT: {e}\n{text}"))
    }
}

/// Loads a module in a fresh host.
pub fn load(wasm: Vec<u8>) -> (Host, PluginId) {
    load_spec(PluginSpec::from_bytes(wasm))
}

/// Loads a spec in a fresh host.
pub fn load_spec(spec: PluginSpec) -> (Host, PluginId) {
    let mut host = Host::new();
    let plugin = host.load(spec).unwrap();
    (host, plugin)
}

/// The trap a driving call returned: its callback and message.
pub fn trap(error: Error) -> (&'static str, String) {
    match error {
        Error::Trap { callback, message } => (callback, message),
        other => panic!("expected a trap, got {other}"),
    }
}

/// Log messages with their context ids.
pub fn messages(host: &Host) -> Vec<(String, u32)> {
    host.logs().into_iter().map(|r| (r.message, r.context_id)).collect()
}

pub const LOG: &str = r#"(import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))"#;
pub const SET_SHARED: &str =
    r#"(import "env" "proxy_set_shared_data" (func $set_shared (param i32 i32 i32 i32 i32) (result i32)))"#;
pub const TICK_PERIOD: &str =
    r#"(import "env" "proxy_set_tick_period_milliseconds" (func $tick_period (param i32) (result i32)))"#;
pub const HTTP_CALL: &str =
    r#"(import "env" "proxy_http_call" (func $http (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))"#;

/// Every callback a 0.2.1 guest may export, with its signature and the end
/// of a body that returns what Envoy takes as going on (`Continue`, `true`).
pub const CALLBACKS: [(&str, &str, &str); 25] = [
    ("proxy_on_vm_start", "(param i32 i32) (result i32)", "i32.const 1"),
    ("proxy_on_configure", "(param i32 i32) (result i32)", "i32.const 1"),
    ("proxy_on_context_create", "(param i32 i32)", ""),
    ("proxy_on_request_headers", "(param i32 i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_request_body", "(param i32 i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_request_trailers", "(param i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_response_headers", "(param i32 i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_response_body", "(param i32 i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_response_trailers", "(param i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_done", "(param i32) (result i32)", "i32.const 1"),
    ("proxy_on_log", "(param i32)", ""),
    ("proxy_on_delete", "(param i32)", ""),
    ("proxy_on_tick", "(param i32)", ""),
    ("proxy_on_grpc_receive_initial_metadata", "(param i32 i32 i32)", ""),
    ("proxy_on_grpc_receive", "(param i32 i32 i32)", ""),
    ("proxy_on_grpc_receive_trailing_metadata", "(param i32 i32 i32)", ""),
    ("proxy_on_grpc_close", "(param i32 i32 i32)", ""),
    ("proxy_on_queue_ready", "(param i32 i32)", ""),
    ("proxy_on_foreign_function", "(param i32 i32 i32)", ""),
    ("proxy_on_new_connection", "(param i32) (result i32)", "i32.const 0"),
    ("proxy_on_downstream_data", "(param i32 i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_upstream_data", "(param i32 i32 i32) (result i32)", "i32.const 0"),
    ("proxy_on_upstream_connection_close", "(param i32 i32)", ""),
    ("proxy_on_downstream_connection_close", "(param i32 i32)", ""),
    ("proxy_on_http_call_response", "(param i32 i32 i32 i32 i32)", ""),
];

/// The signature and the body's end of callback `name` in [`CALLBACKS`].
pub fn callback(name: &str) -> (&'static str, &'static str) {
    let (_, signature, result) = CALLBACKS.iter().find(|(n, _, _)| *n == name).expect("a callback");
    (signature, result)
}

/// Runs the `host-sim` binary with `args` then `file`: its exit code (`None`
/// if a signal ended it), standard output and standard error. Both pipes
/// are drained while it runs, so output past a pipe's buffer cannot block
/// it. A guard, not an assertion on time: a run still going after 60 s is
/// killed and fails the test instead of stalling it.
pub fn host_sim(args: &[&str], file: &std::path::Path) -> (Option<i32>, String, String) {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_host-sim"))
        .args(args)
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("host-sim runs");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8(text).expect("host-sim prints UTF-8")
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let mut waited = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("host-sim's status") {
            break status;
        }
        if waited == 600 {
            let _ = child.kill();
            panic!("{}: host-sim still running after 60 s", file.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    };
    (status.code(), stdout.join().expect("stdout read"), stderr.join().expect("stderr read"))
}
