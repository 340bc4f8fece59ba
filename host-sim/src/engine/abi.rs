//! Reading what a module declares before instantiating it: the ABI version
//! marker and the allocator.

use wasmparser::{ExternalKind, Parser, Payload};

use crate::error::Error;
use crate::types::AbiVersion;

/// What the module's exports say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleFacts {
    /// The declared ABI version.
    pub abi: AbiVersion,
    /// The allocator export to call.
    pub allocator: &'static str,
}

/// The allocator in the spec's order: `proxy_on_memory_allocate`, then the
/// deprecated `malloc` "only in its absence". (cpp-host tries `malloc` first;
/// for modules exporting both, the spec's choice is the one SDKs free with.)
pub const ALLOCATORS: [&str; 2] = ["proxy_on_memory_allocate", "malloc"];

/// Scans the export section for the ABI marker and the allocator.
pub fn inspect(bytes: &[u8]) -> Result<ModuleFacts, Error> {
    let mut functions = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| Error::Compile(e.to_string()))?;
        if let Payload::ExportSection(reader) = payload {
            for export in reader {
                let export = export.map_err(|e| Error::Compile(e.to_string()))?;
                if export.kind == ExternalKind::Func {
                    functions.push(export.name.to_owned());
                }
            }
        }
    }
    let abi = functions.iter().find_map(|name| AbiVersion::from_marker(name)).ok_or_else(|| Error::UnknownAbi {
        found: functions.iter().filter(|n| n.starts_with("proxy_abi_version_")).cloned().collect(),
    })?;
    let allocator = ALLOCATORS.into_iter().find(|a| functions.iter().any(|n| n == a)).ok_or(Error::MissingAllocator)?;
    Ok(ModuleFacts { abi, allocator })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(exports: &str) -> Vec<u8> {
        wat::parse_str(format!("(module (memory (export \"memory\") 1) {exports})")).unwrap()
    }

    #[test]
    fn detects_versions_and_allocator_order() {
        let m = module(
            r#"(func (export "proxy_abi_version_0_1_0")) (func (export "malloc") (param i32) (result i32) i32.const 0)
               (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 0)"#,
        );
        assert_eq!(
            inspect(&m).unwrap(),
            ModuleFacts { abi: AbiVersion::V0_1_0, allocator: "proxy_on_memory_allocate" }
        );
        let m = module(
            r#"(func (export "proxy_abi_version_0_2_0")) (func (export "malloc") (param i32) (result i32) i32.const 0)"#,
        );
        assert_eq!(inspect(&m).unwrap(), ModuleFacts { abi: AbiVersion::V0_2_0, allocator: "malloc" });
    }

    #[test]
    fn rejects_missing_or_unknown_markers() {
        let m = module(r#"(func (export "proxy_abi_version_0_3_0"))"#);
        match inspect(&m) {
            Err(Error::UnknownAbi { found }) => assert_eq!(found, vec!["proxy_abi_version_0_3_0"]),
            other => panic!("unexpected {other:?}"),
        }
        let m = module("");
        assert!(matches!(inspect(&m), Err(Error::UnknownAbi { found }) if found.is_empty()));
        let m = module(r#"(func (export "proxy_abi_version_0_2_1"))"#);
        assert!(matches!(inspect(&m), Err(Error::MissingAllocator)));
        assert!(inspect(b"not wasm").is_err());
    }
}
