//! Shared by cargo-sluice's integration tests: a real OCI registry (the
//! CNCF distribution registry, Debian's `docker-registry`) on a loopback
//! port with temporary storage, stopped when dropped; running the
//! `cargo-sluice` binary; a small Proxy-Wasm module.
#![allow(dead_code)] // each test binary uses a different subset

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory under the target directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The registry binary, if installed.
fn registry_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("docker-registry"))
        .find(|p| p.is_file())
}

/// A running registry.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    _dir: Scratch,
}

impl Registry {
    /// Starts a registry (with htpasswd auth when `user` is given), or
    /// `None` when `docker-registry` is not installed and
    /// `SLUICE_REQUIRE_REGISTRY` is not set (the test then skips, loudly).
    pub fn start(test: &str, user: Option<(&str, &str)>) -> Option<Registry> {
        let Some(binary) = registry_binary() else {
            if std::env::var_os("SLUICE_REQUIRE_REGISTRY").is_some_and(|v| v == "1") {
                panic!(
                    "SLUICE_REQUIRE_REGISTRY=1 but docker-registry is not installed (apt-get install docker-registry)"
                );
            }
            eprintln!("SKIPPED {test}: docker-registry is not installed (apt-get install docker-registry)");
            return None;
        };
        let dir = Scratch::new(&format!("registry-{test}"));
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path("storage").display()
        );
        if let Some((name, password)) = user {
            let hash = bcrypt::hash(password, 4).expect("bcrypt");
            std::fs::write(dir.path("htpasswd"), format!("{name}:{hash}\n")).expect("htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: sluice-test\n    path: {}\n",
                dir.path("htpasswd").display()
            ));
        }
        std::fs::write(dir.path("config.yml"), config).expect("registry config");
        let child = Command::new(binary)
            .arg("serve")
            .arg(dir.path("config.yml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path("registry.log")).expect("log file"))
            .spawn()
            .expect("docker-registry starts");
        let registry = Registry { child, addr, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&registry.addr).is_err() {
            assert!(Instant::now() < deadline, "the registry did not listen on {}", registry.addr);
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(registry)
    }

    /// `127.0.0.1:PORT/NAME`.
    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.addr)
    }

    /// The registry's log (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cargo-sluice` with `args` (and `env`).
pub fn sluice(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-sluice"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // No credentials from the machine's Docker config unless a test gives some.
    if !env.iter().any(|(k, _)| *k == "DOCKER_CONFIG") {
        cmd.env("DOCKER_CONFIG", Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-docker-config"));
    }
    cmd.output().expect("cargo-sluice runs")
}

/// `sluice`, which must succeed; its standard output.
pub fn sluice_ok(args: &[&str], env: &[(&str, &Path)]) -> String {
    let out = sluice(args, env);
    assert!(out.status.success(), "cargo sluice {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `sluice`, which must fail with exit status 1; its standard error.
pub fn sluice_err(args: &[&str], env: &[(&str, &Path)]) -> String {
    let out = sluice(args, env);
    assert_eq!(out.status.code(), Some(1), "cargo sluice {args:?}: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).expect("UTF-8 output")
}

/// A Proxy-Wasm module (ABI 0.2.1) that answers every request with a
/// local response `status`, so tests can tell modules apart by behaviour.
pub fn module(status: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
             (import "env" "proxy_send_local_response"
               (func $reply (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (global $heap (mut i32) (i32.const 1024))
             (func (export "proxy_abi_version_0_2_1"))
             (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
               (local $at i32)
               global.get $heap
               local.set $at
               global.get $heap
               local.get $n
               i32.add
               global.set $heap
               local.get $at)
             (func (export "proxy_on_vm_start") (param i32 i32) (result i32) i32.const 1)
             (func (export "proxy_on_configure") (param i32 i32) (result i32) i32.const 1)
             (func (export "proxy_on_context_create") (param i32 i32))
             (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
               (drop (call $reply (i32.const {status}) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                                  (i32.const 0) (i32.const 0) (i32.const -1)))
               i32.const 1)
             (func (export "proxy_on_done") (param i32) (result i32) i32.const 1)
             (func (export "proxy_on_delete") (param i32)))"#
    ))
    .expect("the test module assembles")
}

/// The local response status `module` answers with, run in host-sim.
pub fn status_of(spec: host_sim::PluginSpec) -> u32 {
    let mut host = host_sim::Host::new();
    let plugin = host.load(spec).expect("the module loads");
    let outcome =
        host.run_http(plugin, host_sim::Request::get("/"), host_sim::Response::ok()).expect("the request runs");
    outcome.local_response.expect("a local response").status_code
}

/// Writes `bytes` to `dir/name`; its path as text.
pub fn write(dir: &Scratch, name: &str, bytes: &[u8]) -> String {
    let path = dir.path(name);
    std::fs::write(&path, bytes).expect("write");
    path.display().to_string()
}
