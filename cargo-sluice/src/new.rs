//! `cargo sluice new NAME [--tcp]`: a plugin crate that builds and passes
//! its tests at once.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::NewArgs;
use crate::error::{Failure, Result, io};

/// The checkout cargo-sluice was built from (its `sdk/` and `host-sim/`).
fn own_checkout() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?.to_path_buf();
    (root.join("sdk").join("Cargo.toml").is_file() && root.join("host-sim").join("Cargo.toml").is_file())
        .then_some(root)
}

/// Whether `name` is a valid crate name (and so a valid directory name).
fn check_name(name: &str) -> Result<()> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(Failure::new(format!(
            "{name:?} is not a crate name: start with a letter, then letters, digits, - and _"
        )));
    }
    Ok(())
}

/// The files of the new crate, by path relative to its directory.
pub fn files(name: &str, tcp: bool, checkout: &Path) -> Vec<(&'static str, String)> {
    let lib = name.replace('-', "_");
    let checkout = checkout.display().to_string().replace('\\', "/");
    let fill =
        |template: &str| template.replace("{{name}}", name).replace("{{lib}}", &lib).replace("{{checkout}}", &checkout);
    let (source, test, scenario, config) = if tcp {
        (TCP_LIB, TCP_TEST, TCP_SCENARIO, TCP_CONFIG)
    } else {
        (HTTP_LIB, HTTP_TEST, HTTP_SCENARIO, HTTP_CONFIG)
    };
    vec![
        ("Cargo.toml", fill(CARGO_TOML)),
        ("src/lib.rs", fill(source)),
        ("tests/plugin.rs", fill(&format!("{TEST_COMMON}{test}"))),
        ("scenario.toml", fill(scenario)),
        ("config.json", fill(config)),
        ("wasmplugin.yaml", fill(&WASMPLUGIN.replace("{{config}}", &indent(config, 4)))),
        ("README.md", fill(README)),
        (".gitignore", "/target\n".to_owned()),
    ]
}

fn indent(json: &str, spaces: usize) -> String {
    let value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let yaml = serde_yaml_ng::to_string(&value).unwrap_or_default();
    yaml.lines().map(|l| format!("{}{l}\n", " ".repeat(spaces))).collect()
}

/// Runs `new`.
pub fn run(args: &NewArgs) -> Result<ExitCode> {
    check_name(&args.name)?;
    let checkout = match &args.sluice_path {
        Some(path) => std::path::absolute(path).map_err(io(path))?,
        None => own_checkout().ok_or_else(|| {
            Failure::new("give --sluice-path: the sluice checkout (with sdk/ and host-sim/) the plugin builds against")
        })?,
    };
    for part in ["sdk", "host-sim"] {
        if !checkout.join(part).join("Cargo.toml").is_file() {
            return Err(Failure::new(format!(
                "{} has no {part}/Cargo.toml: not a sluice checkout",
                checkout.display()
            )));
        }
    }
    let dir = args.path.join(&args.name);
    if dir.exists() {
        return Err(Failure::new(format!("{} already exists", dir.display())));
    }
    let files = files(&args.name, args.tcp, &checkout);
    let temporary = args.path.join(format!(".{}.tmp{}", args.name, std::process::id()));
    let written = (|| {
        for (path, text) in &files {
            let path = temporary.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&path, text).map_err(io(&path))?;
        }
        std::fs::rename(&temporary, &dir).map_err(io(&dir))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&temporary);
        return Err(e);
    }
    let kind = if args.tcp { "TCP" } else { "HTTP" };
    println!("created the {kind} plugin {} in {}", args.name, dir.display());
    println!(
        "  cd {} && cargo test && cargo sluice build && cargo sluice inspect target/wasm32-wasip1/release/{}.stripped.wasm",
        dir.display(),
        args.name.replace('-', "_")
    );
    Ok(ExitCode::SUCCESS)
}

const CARGO_TOML: &str = r##"[package]
name = "{{name}}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the wasm module; rlib: the plugin compiled into its native tests.
crate-type = ["cdylib", "rlib"]

[dependencies]
sluice = { path = "{{checkout}}/sdk", default-features = false, features = ["macros", "global-allocator", "panic-handler"] }

[dev-dependencies]
host-sim = { path = "{{checkout}}/host-sim" }

# A crate of its own, not a member of an enclosing workspace.
[workspace]

# Small, fast wasm.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = "debuginfo"

# Tests need line numbers, not full debug info (which triples the target
# directory and slows every link).
[profile.dev]
debug = "line-tables-only"
[profile.dev.package."*"]
debug = false

# host-sim's wasmtime compiles the wasm tests' module ~10x faster optimised.
[profile.dev.package.wasmtime]
opt-level = 3
[profile.dev.package.wasmtime-environ]
opt-level = 3
[profile.dev.package.wasmtime-internal-cranelift]
opt-level = 3
[profile.dev.package.cranelift-codegen]
opt-level = 3
[profile.dev.package.regalloc2]
opt-level = 3
[profile.dev.package.wasmparser]
opt-level = 3
"##;

const HTTP_LIB: &str = r##"//! {{name}}: a Proxy-Wasm HTTP filter written with sluice. It adds the
//! configured header to every response:
//!
//! ```json
//! {"header": "x-hello", "value": "world"}
//! ```
#![no_std]

extern crate alloc;

use alloc::rc::Rc;
use alloc::string::String;

use sluice::{Action, Config, Configuration, HttpContext, RootContext, headers};

/// The plugin configuration.
#[derive(Config)]
pub struct Settings {
    /// The response header to add.
    header: String,
    /// Its value.
    #[sluice(default = String::from("sluice"))]
    value: String,
}

/// The root context: one per plugin configuration.
#[derive(RootContext)]
#[sluice(config = Settings, http = AddHeader)]
pub struct Plugin {
    #[sluice(config)]
    settings: Option<Rc<Settings>>,
}

impl RootContext for Plugin {
    fn on_configure(&mut self, _: Configuration) -> bool {
        // The derive parsed the configuration; refuse an empty header name.
        self.settings.as_ref().is_some_and(|s| !s.header.is_empty())
    }
}

/// One HTTP stream.
#[derive(HttpContext)]
pub struct AddHeader {
    #[sluice(config)]
    settings: Rc<Settings>,
}

impl HttpContext for AddHeader {
    fn on_response_headers(&mut self, _: usize, _: bool) -> Action {
        let _ = headers::RESPONSE.add(&self.settings.header, &self.settings.value);
        Action::Continue
    }
}
"##;

const TEST_COMMON: &str = r##"//! The plugin in host-sim, natively (compiled into this test) and as wasm
//! (built for wasm32-wasip1 into this test's own target directory, so the
//! build never waits on the `cargo test` running it).

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use host_sim::{Host, Mode, PluginSpec};

fn wasm() -> Vec<u8> {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasm");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "--release", "--target", "wasm32-wasip1", "--target-dir"]).arg(&target_dir);
        build.current_dir(env!("CARGO_MANIFEST_DIR"));
        for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR"] {
            build.env_remove(var);
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "the plugin builds for wasm32-wasip1 (rustup target add wasm32-wasip1)");
        std::fs::read(target_dir.join("wasm32-wasip1/release/{{lib}}.wasm")).expect("the module was built")
    })
    .clone()
}

fn spec(mode: Mode) -> PluginSpec {
    mode.spec({{lib}}::sluice_main, wasm).name("{{name}}")
}

fn host(mode: Mode, configuration: &str) -> Result<(Host, host_sim::PluginId), host_sim::Error> {
    let mut host = Host::new();
    let plugin = host.load(spec(mode).configuration(configuration))?;
    Ok((host, plugin))
}
"##;

const HTTP_TEST: &str = r##"
host_sim::dual_tests! {
    fn adds_the_configured_header(mode) {
        let (mut host, plugin) = host(mode, include_str!("../config.json")).expect("the plugin starts");
        let outcome = host
            .run_http(plugin, host_sim::Request::get("/"), host_sim::Response::ok())
            .expect("the request runs");
        let headers = outcome.client_response.headers.expect("a response");
        assert_eq!(headers.get_str("x-hello"), Some("world"), "{mode:?}");
    }

    fn refuses_a_configuration_without_a_header(mode) {
        assert!(host(mode, r#"{"header": ""}"#).is_err(), "{mode:?}");
        assert!(host(mode, "not json").is_err(), "{mode:?}");
    }
}
"##;

const HTTP_SCENARIO: &str = r##"# Run: cargo sluice build && host-sim run scenario.toml
plugin = "target/wasm32-wasip1/release/{{lib}}.wasm"
name = "{{name}}"
configuration = { header = "x-hello", value = "world" }

[[stream]]
name = "responses get the header"
[stream.request]
path = "/"
[stream.response]
status = 200
[stream.expect]
client_headers.equals = { x-hello = "world" }
"##;

const HTTP_CONFIG: &str = r##"{"header": "x-hello", "value": "world"}
"##;

const TCP_LIB: &str = r##"//! {{name}}: a Proxy-Wasm TCP (network) filter written with sluice. It
//! counts the bytes each connection's client sent and logs the count when
//! the connection ends, prefixed by the configured label:
//!
//! ```json
//! {"label": "{{name}}"}
//! ```
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;

use sluice::{Action, Config, Configuration, LogLevel, RootContext, TcpContext, logging};

/// The plugin configuration.
#[derive(Config)]
pub struct Settings {
    /// Logged before each connection's count.
    label: String,
}

/// The root context: one per plugin configuration.
#[derive(RootContext)]
#[sluice(config = Settings, tcp = Counter)]
pub struct Plugin {
    #[sluice(config)]
    settings: Option<Rc<Settings>>,
}

impl RootContext for Plugin {
    fn on_configure(&mut self, _: Configuration) -> bool {
        self.settings.is_some()
    }
}

/// One connection.
#[derive(TcpContext)]
pub struct Counter {
    #[sluice(config)]
    settings: Rc<Settings>,
    bytes: usize,
}

impl TcpContext for Counter {
    fn on_downstream_data(&mut self, size: usize, _: bool) -> Action {
        self.bytes += size;
        Action::Continue
    }

    fn on_log(&mut self) {
        let _ = logging::log(LogLevel::Info, format!("{}: {} bytes from the client", self.settings.label, self.bytes));
    }
}
"##;

const TCP_TEST: &str = r##"
host_sim::dual_tests! {
    fn counts_the_clients_bytes(mode) {
        let (mut host, plugin) = host(mode, include_str!("../config.json")).expect("the plugin starts");
        let mut connection = host.tcp_stream(plugin).expect("a connection");
        connection.downstream_data("hello", false).expect("data");
        connection.downstream_data(" world", true).expect("data");
        let outcome = connection.complete().expect("the connection ends");
        assert_eq!(outcome.sent_upstream, b"hello world", "{mode:?}");
        let logs = host.logs_at(host_sim::LogLevel::Info);
        assert!(logs.iter().any(|l| l.contains("{{name}}: 11 bytes from the client")), "{mode:?}: {logs:?}");
    }

    fn refuses_a_configuration_without_a_label(mode) {
        assert!(host(mode, "{}").is_err(), "{mode:?}");
    }
}
"##;

const TCP_SCENARIO: &str = r##"# Run: cargo sluice build && host-sim run scenario.toml
plugin = "target/wasm32-wasip1/release/{{lib}}.wasm"
name = "{{name}}"
configuration = { label = "{{name}}" }

[[stream]]
name = "a connection's bytes are counted"
connection = "c1"
tcp = [{ downstream = "hello", end = true }, { close = "downstream" }]
[stream.expect]
logs = ['{{name}}: 5 bytes from the client']
tcp = { upstream_received = "hello", finished = true }
"##;

const TCP_CONFIG: &str = r##"{"label": "{{name}}"}
"##;

const WASMPLUGIN: &str = r##"# Regenerate with the pushed image's digest:
#   cargo sluice manifest oci://REGISTRY/{{name}}:0.1.0 --config config.json --istio -o wasmplugin.yaml
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: {{name}}
spec:
  url: oci://registry.example.com/{{name}}:0.1.0
  pluginConfig:
{{config}}"##;

const README: &str = r##"# {{name}}

A Proxy-Wasm plugin written with [sluice](https://github.com/sluice-rs/sluice).

```sh
cargo test                                   # host-sim, natively and as wasm
cargo sluice build                           # target/wasm32-wasip1/release/{{lib}}.stripped.wasm
cargo sluice inspect target/wasm32-wasip1/release/{{lib}}.stripped.wasm --require envoy-1.33
host-sim run scenario.toml                   # the scenario against the built module
cargo sluice push target/wasm32-wasip1/release/{{lib}}.stripped.wasm REGISTRY/{{name}}:0.1.0
cargo sluice manifest oci://REGISTRY/{{name}}:0.1.0 --config config.json --istio -o wasmplugin.yaml
kubectl apply -f wasmplugin.yaml
```

`config.json` is the plugin configuration; `wasmplugin.yaml` the Istio `WasmPlugin` that
deploys it (`cargo sluice manifest` fills in the image's digest).
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("my-plugin_2").is_ok());
        for bad in ["", "2x", "a b", "../x", "é"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_templates_are_filled_and_parse() {
        for tcp in [false, true] {
            let files = files("my-plugin", tcp, Path::new("/src/sluice"));
            let text = |name: &str| files.iter().find(|(p, _)| *p == name).map(|(_, t)| t.clone()).unwrap();
            assert!(files.iter().all(|(_, t)| !t.contains("{{")), "every placeholder is filled");
            let cargo: toml::Table = toml::from_str(&text("Cargo.toml")).unwrap();
            assert_eq!(cargo["dependencies"]["sluice"]["path"].as_str(), Some("/src/sluice/sdk"));
            host_sim::scenario::parse(Path::new("scenario.toml"), &text("scenario.toml")).unwrap();
            let manifest = host_sim::istio::WasmPlugin::parse(&text("wasmplugin.yaml"), None).unwrap().remove(0);
            let config: serde_json::Value = serde_json::from_str(&text("config.json")).unwrap();
            let sent: serde_json::Value = serde_json::from_slice(&manifest.configuration().unwrap()).unwrap();
            assert_eq!(sent, config);
            assert!(text("tests/plugin.rs").contains("my_plugin::sluice_main"));
        }
    }
}
