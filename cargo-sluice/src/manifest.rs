//! `cargo sluice manifest MODULE|REFERENCE --config FILE [--istio|--envoy]`.
//!
//! Istio: a `WasmPlugin` whose `sha256` is, for an `oci://` URL, the image's
//! manifest digest (what istio-agent compares it with after pulling), and
//! for a `file://` module its SHA-256. Envoy: an `envoy.filters.http.wasm`
//! filter with the module as a local file or a remote HTTP data source
//! with its SHA-256, the configuration as a `google.protobuf.StringValue`.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use crate::cli::ManifestArgs;
use crate::error::{Failure, Result, io};
use crate::module::{self, Source};

/// Reads the plugin configuration, JSON or YAML, as a JSON value.
pub fn read_config(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    if let Ok(value) = serde_json::from_str(&text) {
        return Ok(value);
    }
    serde_yaml_ng::from_str::<serde_json::Value>(&text)
        .map_err(|e| Failure::new(format!("{}: neither JSON nor YAML: {e}", path.display())))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WasmPlugin {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: WasmPluginSpec,
}

#[derive(Serialize)]
struct Metadata {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WasmPluginSpec {
    url: String,
    sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<i32>,
    plugin_config: serde_json::Value,
}

/// A Kubernetes object name from a file or repository name.
fn resource_name(text: &str) -> String {
    let name: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let name = name.trim_matches('-').to_owned();
    if name.is_empty() { "plugin".to_owned() } else { name }
}

fn default_name(source: &Source) -> String {
    match source {
        Source::File(path) => {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            resource_name(stem.trim_end_matches(".stripped"))
        }
        Source::Image { reference, .. } => {
            resource_name(reference.repository().rsplit('/').next().unwrap_or(reference.repository()))
        }
    }
}

fn absolute(path: &Path) -> Result<String> {
    let path = std::path::absolute(path).map_err(io(path))?;
    Ok(path.display().to_string())
}

fn yaml(value: &impl Serialize) -> Result<String> {
    serde_yaml_ng::to_string(value).map_err(|e| Failure::new(format!("cannot write YAML: {e}")))
}

/// The manifest's text.
pub fn render(args: &ManifestArgs) -> Result<String> {
    let config = read_config(&args.config)?;
    let loaded = module::load(&args.module, &args.registry)?;
    module::check_proxy_wasm(&loaded.bytes, &args.module)?;
    let name = args.name.clone().unwrap_or_else(|| default_name(&loaded.source));
    let module_sha = host_sim::oci::sha256_digest(&loaded.bytes)[7..].to_owned();
    if args.envoy {
        return envoy(args, &loaded.source, &name, &config, &module_sha);
    }
    if !config.is_object() {
        return Err(Failure::new(format!(
            "{}: a WasmPlugin's pluginConfig is an object (google.protobuf.Struct)",
            args.config.display()
        )));
    }
    let (url, sha256) = match &loaded.source {
        Source::Image { reference, pulled } => (reference.url(), pulled.manifest_digest[7..].to_owned()),
        Source::File(path) => (format!("file://{}", absolute(path)?), module_sha),
    };
    let manifest = WasmPlugin {
        api_version: "extensions.istio.io/v1alpha1",
        kind: "WasmPlugin",
        metadata: Metadata { name, namespace: args.namespace.clone() },
        spec: WasmPluginSpec { url, sha256, phase: args.phase.clone(), priority: args.priority, plugin_config: config },
    };
    yaml(&manifest)
}

fn envoy(args: &ManifestArgs, source: &Source, name: &str, config: &serde_json::Value, sha256: &str) -> Result<String> {
    let code = match (&args.url, source) {
        (Some(url), _) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Failure::new(format!("--url {url:?}: Envoy fetches remote modules over http(s)")));
            }
            serde_json::json!({"remote": {
                "http_uri": {"uri": url, "cluster": args.cluster.clone().unwrap_or_else(|| "wasm_modules".to_owned()),
                             "timeout": "10s"},
                "sha256": sha256,
            }})
        }
        (None, Source::File(path)) => {
            let filename = match &args.filename {
                Some(f) => f.clone(),
                None => absolute(path)?,
            };
            serde_json::json!({"local": {"filename": filename}})
        }
        (None, Source::Image { .. }) => {
            return Err(Failure::new(
                "Envoy does not pull OCI images: give the module file, or --url where Envoy downloads it",
            ));
        }
    };
    let configuration = match config {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let filter = serde_json::json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": name,
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": configuration,
                },
                "vm_config": {
                    "vm_id": name,
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": code,
                },
            },
        },
    });
    yaml(&filter)
}

/// Runs `manifest`.
pub fn run(args: &ManifestArgs) -> Result<ExitCode> {
    let text = render(args)?;
    match &args.output {
        Some(path) => std::fs::write(path, &text).map_err(io(path))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kubernetes_names() {
        assert_eq!(resource_name("sluice_example_router"), "sluice-example-router");
        assert_eq!(resource_name("__"), "plugin");
        assert_eq!(resource_name("My.Plugin"), "my-plugin");
    }
}
