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

/// Where a module's bytes go: the code of its functions grouped by the
/// module path their (demangled) names start with, and its data segments.
/// Biggest first.
pub fn contributors(wasm: &[u8]) -> Vec<(String, usize)> {
    let mut imported = 0u32;
    let mut bodies: Vec<usize> = Vec::new();
    let mut names: std::collections::HashMap<u32, String> = std::collections::HashMap::new();
    let mut data = 0usize;
    for payload in Parser::new(0).parse_all(wasm).flatten() {
        match payload {
            Payload::ImportSection(reader) => {
                imported += reader.into_imports().flatten().filter(|i| matches!(i.ty, TypeRef::Func(_))).count() as u32;
            }
            Payload::CodeSectionEntry(body) => bodies.push(body.range().len()),
            Payload::DataSection(reader) => data += reader.range().len(),
            Payload::CustomSection(custom) => {
                if let wasmparser::KnownCustom::Name(reader) = custom.as_known() {
                    for name in reader.flatten() {
                        if let wasmparser::Name::Function(map) = name {
                            for naming in map.into_iter().flatten() {
                                names.insert(naming.index, naming.name.to_owned());
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut groups: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (i, len) in bodies.iter().enumerate() {
        let name = names.get(&(imported + i as u32)).map_or("(unnamed)", String::as_str);
        *groups.entry(group_of(name)).or_default() += len;
    }
    if data > 0 {
        groups.insert("(data: strings, tables)".to_owned(), data);
    }
    let mut sorted: Vec<(String, usize)> = groups.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    sorted
}

/// The module path a function's symbol belongs to: its first two path
/// segments (`core::fmt`, `sluice::json`), the implementing type's for a
/// trait method (`<sluice::json::Error as core::fmt::Display>::fmt` is
/// `sluice::json`); exports and C symbols are their own name.
fn group_of(symbol: &str) -> String {
    let demangled = format!("{:#}", rustc_demangle::demangle(symbol));
    let path = match demangled.strip_prefix('<') {
        // `<T as Trait>::f` is T's; `<impl Trait for T>` forms start with the
        // type too once `impl ` is skipped.
        Some(inner) => inner.split(" as ").next().unwrap_or(inner).trim_start_matches("impl "),
        None => demangled.as_str(),
    };
    let path = path.split(['<', '>', '(', ' ']).next().unwrap_or(path);
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [] => demangled.clone(),
        [one] => (*one).to_owned(),
        [first, second, ..] => format!("{first}::{second}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn symbols_group_by_their_module_path() {
        for (symbol, group) in [
            ("_ZN6sluice4json5parse6Parser6object17h63d580f030677ca4E", "sluice::json"),
            (
                "_ZN65_$LT$sluice..json..error..Error$u20$as$u20$core..fmt..Display$GT$3fmt17ha962d05e1d31e0aeE",
                "sluice::json",
            ),
            ("_RNvNtCsdHhIpgkcIfN_4core3str19slice_error_fail_rt", "core::str"),
            ("proxy_on_context_create", "proxy_on_context_create"),
        ] {
            assert_eq!(super::group_of(symbol), group, "{symbol}");
        }
    }
}
