//! The whole ship path, as a plugin author walks it: `cargo sluice new` →
//! `cargo test` (the new crate's own tests) → `build` → `push` to a real registry → `manifest` → host-sim runs the new
//! crate's own scenario with the plugin pulled from `oci://` through the
//! written `WasmPlugin`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Registry, Scratch, sluice_ok};

/// Where the new crates build and test: kept between runs (the SDK and
/// host-sim compile once; the first run compiles wasmtime for the new
/// crates' tests, minutes on a small machine), unlike the scratch directory
/// the crates are created in.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("round-trip-target")
}

/// The workspace's lock file, so a new crate resolves the versions this
/// checkout was tested with instead of whatever the registry has today.
fn pin_versions(krate: &Path) {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    std::fs::copy(&lock, krate.join("Cargo.lock")).expect("the workspace's Cargo.lock");
}

/// The crate's `scenario.toml`, pointed at `wasmplugin.yaml` instead of the
/// local build: the configuration then comes from the manifest's
/// `pluginConfig`, as in the mesh.
fn scenario_through_the_manifest(krate: &Path) -> PathBuf {
    let text = std::fs::read_to_string(krate.join("scenario.toml")).expect("the new crate has a scenario");
    let plugin_line = text.lines().find(|l| l.starts_with("plugin = ")).expect("a plugin line");
    let configuration_line = text.lines().find(|l| l.starts_with("configuration = ")).expect("a configuration line");
    let text =
        text.replace(plugin_line, "plugin = \"wasmplugin.yaml\"").replace(&format!("{configuration_line}\n"), "");
    let path = krate.join("scenario-oci.toml");
    std::fs::write(&path, text).expect("write the scenario");
    path
}

fn round_trip(name: &str, tcp: bool) {
    let dir = Scratch::new(&format!("round-trip-{name}"));
    let mut new = vec!["new", name, "--path", dir.0.to_str().expect("UTF-8 path")];
    if tcp {
        new.push("--tcp");
    }
    sluice_ok(&new, &[]);
    let krate = dir.path(name);
    pin_versions(&krate);

    // The new crate's own tests pass at once: host-sim, natively and as wasm.
    let mut test = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    test.args(["test", "--manifest-path"]).arg(krate.join("Cargo.toml")).env("CARGO_TARGET_DIR", target_dir());
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
        test.env_remove(var);
    }
    let tested = test.output().expect("cargo runs");
    let report = String::from_utf8_lossy(&tested.stdout);
    assert!(
        tested.status.success(),
        "cargo test of the new crate:\n{report}\n{}",
        String::from_utf8_lossy(&tested.stderr)
    );
    let passed: Vec<&str> = report.lines().filter(|l| l.starts_with("test ") && l.ends_with(" ok")).collect();
    assert_eq!(passed.len(), 4, "two tests, natively and as wasm: {passed:?}");

    // build: the stripped module, its ABI version and imports.
    let manifest_path = krate.join("Cargo.toml");
    let target = target_dir();
    let built = sluice_ok(
        &["build", "--manifest-path", manifest_path.to_str().unwrap(), "--json"],
        &[("CARGO_TARGET_DIR", &target)],
    );
    let built: serde_json::Value = serde_json::from_str(&built).expect("build --json prints JSON");
    let module = built[0]["module"].as_str().expect("the stripped module's path").to_owned();
    assert_eq!(built[0]["abi_version"], "0.2.1", "{built}");
    assert!(module.ends_with(&format!("{}.stripped.wasm", name.replace('-', "_"))), "{module}");
    assert!(
        built[0]["size"].as_u64().unwrap() < built[0]["cargo_size"].as_u64().unwrap(),
        "custom sections are stripped: {built}"
    );

    // inspect: the plugin runs on every profile host-sim knows.
    for profile in ["envoy-1.32", "envoy-1.33", "kong"] {
        sluice_ok(&["inspect", &module, "--require", profile], &[]);
    }

    // push, then the manifest of what was pushed (the steps above run
    // without a registry too).
    let Some(registry) = Registry::start(&format!("round-trip-{name}"), None) else { return };
    let image = registry.image(&format!("{name}:0.1.0"));
    let pushed = sluice_ok(&["push", &module, &image, "--insecure"], &[]);
    let wasmplugin = krate.join("wasmplugin.yaml");
    let config = krate.join("config.json");
    sluice_ok(
        &[
            "manifest",
            &format!("oci://{image}"),
            "--config",
            config.to_str().unwrap(),
            "--istio",
            "--insecure",
            "-o",
            wasmplugin.to_str().unwrap(),
        ],
        &[],
    );
    let manifest = std::fs::read_to_string(&wasmplugin).expect("manifest -o wrote the file");
    let parsed = host_sim::istio::WasmPlugin::parse(&manifest, None).expect("a valid WasmPlugin").remove(0);
    let digest = pushed.find("sha256:").map(|at| &pushed[at + 7..at + 71]).expect("push prints the digest");
    assert_eq!(parsed.spec.sha256.as_deref(), Some(digest), "the manifest pins what was pushed:\n{manifest}");
    assert_eq!(parsed.spec.url, format!("oci://{image}"), "{manifest}");
    let sent: serde_json::Value = serde_json::from_slice(&parsed.configuration().unwrap()).unwrap();
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    assert_eq!(sent, written, "pluginConfig is config.json");

    // host-sim: the crate's scenario, the plugin pulled from the registry.
    let scenario = host_sim::scenario::load(&scenario_through_the_manifest(&krate)).expect("the scenario parses");
    let report = host_sim::scenario::run(&scenario).unwrap_or_else(|e| panic!("the scenario runs: {e}"));
    assert!(report.passed(), "the scenario passes: {:?}", report.failures);
    assert!(!report.steps.is_empty(), "the scenario has steps");
    assert!(report.plugin.contains("wasmplugin.yaml") || report.plugin.contains("oci://"), "{}", report.plugin);
}

#[test]
fn an_http_plugin_goes_from_new_to_a_wasmplugin_pulled_by_host_sim() {
    round_trip("rt-http", false);
}

#[test]
fn a_tcp_plugin_goes_from_new_to_a_wasmplugin_pulled_by_host_sim() {
    round_trip("rt-tcp", true);
}
