//! Reading a module (a file or an image reference), checking it is a
//! Proxy-Wasm module, describing it, and stripping its custom sections.

use std::path::{Path, PathBuf};

use host_sim::AbiVersion;
use host_sim::oci::{Pulled, Reference};
use serde::Serialize;
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

use crate::cli::RegistryArgs;
use crate::error::{Failure, Result};

/// Where a module came from.
#[derive(Debug)]
pub enum Source {
    /// A file.
    File(PathBuf),
    /// An image in a registry.
    Image {
        /// The reference given.
        reference: Reference,
        /// What was pulled (digests).
        pulled: Box<Pulled>,
    },
}

/// A module and where it came from.
#[derive(Debug)]
pub struct Loaded {
    /// The module bytes.
    pub bytes: Vec<u8>,
    /// Where they came from.
    pub source: Source,
}

/// Reads a module file (a regular file of at most 256 MiB).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    host_sim::limits::read_regular_file(path, host_sim::limits::MAX_FILE_BYTES)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))
}

/// A file if `arg` names one, else an image reference pulled from its registry.
pub fn load(arg: &str, registry: &RegistryArgs) -> Result<Loaded> {
    let path = Path::new(arg);
    if !arg.starts_with("oci://") && (path.exists() || arg.ends_with(".wasm")) {
        return Ok(Loaded { bytes: read_file(path)?, source: Source::File(path.to_path_buf()) });
    }
    let reference = Reference::parse(arg)
        .map_err(|e| Failure::new(format!("{arg} is neither a file nor an image reference: {e}")))?;
    let pulled = registry.pull(&reference)?;
    Ok(Loaded { bytes: pulled.module.clone(), source: Source::Image { reference, pulled: Box::new(pulled) } })
}

/// The module's ABI version, or why it is not a Proxy-Wasm module (not
/// wasm, no ABI marker, no allocator).
pub fn check_proxy_wasm(bytes: &[u8], what: &str) -> Result<AbiVersion> {
    if bytes.len() < 8 || bytes[..4] != *b"\0asm" {
        return Err(Failure::new(format!("{what} is not a wasm module (no \\0asm header)")));
    }
    wasmparser::Validator::new()
        .validate_all(bytes)
        .map_err(|e| Failure::new(format!("{what} is not a valid wasm module: {e}")))?;
    host_sim::engine::abi::inspect(bytes)
        .map(|facts| facts.abi)
        .map_err(|e| Failure::new(format!("{what} is not a Proxy-Wasm module: {e}")))
}

/// `0.1.0`, `0.2.0` or `0.2.1`.
pub fn abi_text(abi: AbiVersion) -> &'static str {
    match abi {
        AbiVersion::V0_1_0 => "0.1.0",
        AbiVersion::V0_2_0 => "0.2.0",
        AbiVersion::V0_2_1 => "0.2.1",
    }
}

/// The module without its custom sections (names, producers, debug info),
/// every other section byte for byte.
pub fn strip_custom_sections(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = bytes.get(..8).ok_or_else(|| Failure::new("not a wasm module"))?.to_vec();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| Failure::new(format!("not a valid wasm module: {e}")))?;
        if let Payload::Version { encoding: wasmparser::Encoding::Component, .. } = payload {
            return Err(Failure::new("a component, not a core wasm module"));
        }
        let Some((id, range)) = payload.as_section() else { continue };
        if id == 0 {
            continue;
        }
        out.push(id);
        let mut len = range.len() as u64;
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            out.push(if len == 0 { byte } else { byte | 0x80 });
            if len == 0 {
                break;
            }
        }
        out.extend_from_slice(&bytes[range]);
    }
    Ok(out)
}

/// An import.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Import {
    /// The import module (`env`, `wasi_snapshot_preview1`).
    pub module: String,
    /// The name.
    pub name: String,
    /// `func`, `memory`, `table`, `global` or `tag`.
    pub kind: &'static str,
}

/// What a module declares.
#[derive(Clone, Debug, Serialize)]
pub struct Info {
    /// Size in bytes.
    pub size: usize,
    /// The ABI version marker.
    pub abi_version: &'static str,
    /// The allocator export the host calls.
    pub allocator: &'static str,
    /// The start functions: the start section and `_start`/`_initialize`.
    pub start: Vec<String>,
    /// Exported functions.
    pub exports: Vec<String>,
    /// Imports.
    pub imports: Vec<Import>,
    /// The WASI functions it imports (empty: runs without WASI).
    pub wasi: Vec<String>,
    /// Bytes in custom sections (what `build` strips).
    pub custom_section_bytes: usize,
}

/// Describes a Proxy-Wasm module.
pub fn info(bytes: &[u8], what: &str) -> Result<Info> {
    let abi = check_proxy_wasm(bytes, what)?;
    let facts = host_sim::engine::abi::inspect(bytes)?;
    let (mut exports, mut imports, mut start, mut custom) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| Failure::new(format!("{what}: {e}")))? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| Failure::new(format!("{what}: {e}")))?;
                    let kind = match import.ty {
                        TypeRef::Func(_) | TypeRef::FuncExact(_) => "func",
                        TypeRef::Memory(_) => "memory",
                        TypeRef::Table(_) => "table",
                        TypeRef::Global(_) => "global",
                        TypeRef::Tag(_) => "tag",
                    };
                    imports.push(Import { module: import.module.to_owned(), name: import.name.to_owned(), kind });
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| Failure::new(format!("{what}: {e}")))?;
                    if export.kind == ExternalKind::Func {
                        exports.push(export.name.to_owned());
                        if matches!(export.name, "_start" | "_initialize") {
                            start.push(export.name.to_owned());
                        }
                    }
                }
            }
            Payload::StartSection { func, .. } => start.insert(0, format!("start section (function {func})")),
            Payload::CustomSection(section) => custom += section.range().len(),
            _ => {}
        }
    }
    let wasi = imports.iter().filter(|i| i.module.starts_with("wasi_")).map(|i| i.name.clone()).collect();
    Ok(Info {
        size: bytes.len(),
        abi_version: abi_text(abi),
        allocator: facts.allocator,
        start,
        exports,
        imports,
        wasi,
        custom_section_bytes: custom,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module() -> Vec<u8> {
        wat::parse_str(
            r#"(module $named
                 (import "env" "proxy_log" (func (param i32 i32 i32) (result i32)))
                 (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                 (memory (export "memory") 1)
                 (func (export "proxy_abi_version_0_2_1"))
                 (func (export "_initialize"))
                 (func $alloc (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 0))"#,
        )
        .unwrap()
    }

    #[test]
    fn modules_are_described_and_stripped() {
        let bytes = module();
        let info = info(&bytes, "m").unwrap();
        assert_eq!((info.abi_version, info.allocator), ("0.2.1", "proxy_on_memory_allocate"));
        assert_eq!(info.start, ["_initialize"]);
        assert_eq!(info.wasi, ["fd_write"]);
        assert_eq!(info.imports.len(), 2);
        assert!(info.custom_section_bytes > 0, "wat writes a name section");
        let stripped = strip_custom_sections(&bytes).unwrap();
        assert!(stripped.len() + info.custom_section_bytes <= bytes.len(), "{} {}", stripped.len(), bytes.len());
        let again = info_of(&stripped);
        assert_eq!(again.custom_section_bytes, 0);
        assert_eq!(again.exports, info.exports);
        assert_eq!(strip_custom_sections(&stripped).unwrap(), stripped);
    }

    fn info_of(bytes: &[u8]) -> Info {
        info(bytes, "m").unwrap()
    }

    #[test]
    fn non_proxy_wasm_modules_are_refused() {
        let err = check_proxy_wasm(b"hello world", "x.wasm").unwrap_err().to_string();
        assert!(err.contains("no \\0asm header"), "{err}");
        let plain =
            wat::parse_str(r#"(module (func (export "malloc") (param i32) (result i32) i32.const 0))"#).unwrap();
        let err = check_proxy_wasm(&plain, "x.wasm").unwrap_err().to_string();
        assert!(err.contains("not a Proxy-Wasm module") && err.contains("ABI version"), "{err}");
        let err = check_proxy_wasm(b"\0asm\x01\0\0\0\x01\x05", "x.wasm").unwrap_err().to_string();
        assert!(err.contains("not a valid wasm module"), "{err}");
    }
}
