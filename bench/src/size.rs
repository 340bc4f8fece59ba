//! Module size and imports.

use wasmparser::{Parser, Payload, TypeRef};

/// Size facts of one module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Bytes as built.
    pub raw: usize,
    /// Bytes without custom sections (names, producers, target features).
    pub stripped: usize,
    /// Imported functions named `proxy_*`.
    pub proxy_imports: usize,
    /// Imported functions from a `wasi_*` module.
    pub wasi_imports: usize,
}

fn leb_u32(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let mut value = 0u32;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The module without its custom sections (id 0), section by section.
pub fn strip_custom_sections(wasm: &[u8]) -> Option<Vec<u8>> {
    let mut out = wasm.get(..8)?.to_vec();
    let mut at = 8;
    while at < wasm.len() {
        let start = at;
        let id = wasm[at];
        at += 1;
        let len = leb_u32(wasm, &mut at)? as usize;
        let end = at.checked_add(len).filter(|&e| e <= wasm.len())?;
        if id != 0 {
            out.extend_from_slice(&wasm[start..end]);
        }
        at = end;
    }
    Some(out)
}

/// Measures `wasm`.
pub fn measure(wasm: &[u8]) -> Size {
    let stripped = strip_custom_sections(wasm).map_or(wasm.len(), |s| s.len());
    let (mut proxy_imports, mut wasi_imports) = (0, 0);
    for payload in Parser::new(0).parse_all(wasm).flatten() {
        if let Payload::ImportSection(reader) = payload {
            for import in reader.into_imports().flatten() {
                if !matches!(import.ty, TypeRef::Func(_)) {
                    continue;
                }
                if import.name.starts_with("proxy_") {
                    proxy_imports += 1;
                } else if import.module.starts_with("wasi_") {
                    wasi_imports += 1;
                }
            }
        }
    }
    Size { raw: wasm.len(), stripped, proxy_imports, wasi_imports }
}
