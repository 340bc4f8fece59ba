//! `cargo sluice build [--target ...]`: `cargo build --release` for wasm,
//! then the module without custom sections next to cargo's output.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use crate::cli::BuildArgs;
use crate::error::{Failure, Result, io};
use crate::module;

/// What a build produced.
#[derive(Debug, serde::Serialize)]
pub struct Built {
    /// cargo's module.
    pub cargo_output: PathBuf,
    /// The module without custom sections.
    pub module: PathBuf,
    /// Its size.
    pub size: usize,
    /// cargo's module's size.
    pub cargo_size: usize,
    /// The ABI version.
    pub abi_version: &'static str,
    /// Its imports, `module.name`.
    pub imports: Vec<String>,
}

/// The stripped module's path for cargo's `x.wasm`: `x.stripped.wasm`.
pub fn stripped_path(cargo_output: &std::path::Path) -> PathBuf {
    cargo_output.with_extension("stripped.wasm")
}

/// Builds and strips; returns every cdylib module of the build.
pub fn build(args: &BuildArgs) -> Result<Vec<Built>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--message-format=json-render-diagnostics", "--target", args.target.triple()]);
    if let Some(path) = &args.manifest_path {
        cmd.arg("--manifest-path").arg(path);
    }
    if let Some(package) = &args.package {
        cmd.arg("--package").arg(package);
    }
    // The outer build's target settings must not leak into the wasm build.
    cmd.env_remove("CARGO_BUILD_TARGET");
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let output = cmd.output().map_err(|e| Failure::new(format!("cannot run cargo: {e}")))?;
    if !output.status.success() {
        return Err(Failure::new(format!("cargo build failed ({})", output.status)));
    }
    let mut modules = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let cdylib = message["target"]["crate_types"].as_array().is_some_and(|k| k.iter().any(|t| t == "cdylib"));
        if message["reason"] != "compiler-artifact" || !cdylib {
            continue;
        }
        for file in message["filenames"].as_array().into_iter().flatten() {
            if let Some(file) = file.as_str().filter(|f| f.ends_with(".wasm")) {
                modules.push(PathBuf::from(file));
            }
        }
    }
    if modules.is_empty() {
        return Err(Failure::new(
            "the build produced no .wasm module: the plugin crate needs `crate-type = [\"cdylib\"]` in [lib]",
        ));
    }
    modules.into_iter().map(strip).collect()
}

fn strip(cargo_output: PathBuf) -> Result<Built> {
    let bytes = module::read_file(&cargo_output)?;
    let info = module::info(&bytes, &cargo_output.display().to_string())?;
    let stripped = module::strip_custom_sections(&bytes)?;
    let path = stripped_path(&cargo_output);
    std::fs::write(&path, &stripped).map_err(io(&path))?;
    Ok(Built {
        cargo_size: bytes.len(),
        size: stripped.len(),
        module: path,
        cargo_output,
        abi_version: info.abi_version,
        imports: info.imports.iter().map(|i| format!("{}.{}", i.module, i.name)).collect(),
    })
}

/// Runs `build`.
pub fn run(args: &BuildArgs) -> Result<ExitCode> {
    let built = build(args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&built).map_err(|e| Failure::new(e.to_string()))?);
        return Ok(ExitCode::SUCCESS);
    }
    for b in &built {
        println!("{}", b.module.display());
        println!("  size         {} bytes (cargo's output: {})", b.size, b.cargo_size);
        println!("  ABI version  {}", b.abi_version);
        println!("  imports      {}", b.imports.len());
        for import in &b.imports {
            println!("    {import}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
