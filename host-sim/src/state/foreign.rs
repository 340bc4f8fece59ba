//! Foreign functions for `proxy_call_foreign_function`: the ones the test
//! registers, and the records of Envoy's built-in ones (`clear_route_cache`,
//! `set_envoy_filter_state`, `declare_property`), whose protobuf arguments are
//! decoded here.
//!
//! Accepted argument encodings (what Envoy's `foreign.cc` parses):
//! - `clear_route_cache`: arguments ignored; OK, no result.
//! - `set_envoy_filter_state`: a serialized
//!   `envoy.source.extensions.common.wasm.SetEnvoyFilterStateArguments`
//!   (`string path = 1; string value = 2; LifeSpan span = 3`); any path is
//!   accepted (host-sim has no object factories) and recorded with its value.
//! - `declare_property`: a serialized `DeclarePropertyArguments`
//!   (`string name = 1; WasmType type = 2; LifeSpan span = 3; bytes schema = 4;
//!   bool readonly = 5`); recorded.
//!
//! Arguments that are not a valid protobuf message, or lack the path/name,
//! are `BAD_ARGUMENT`, as in Envoy.

use std::collections::HashMap;
use std::fmt;

use crate::types::Status;

/// A host function a plugin can call by name: arguments in, results out.
pub type ForeignFunction = Box<dyn FnMut(&[u8]) -> Result<Vec<u8>, Status> + Send>;

/// The registry of foreign functions of a host.
#[derive(Default)]
pub struct ForeignFunctions {
    functions: HashMap<String, ForeignFunction>,
    /// Every `set_envoy_filter_state` call, in order.
    pub filter_state: Vec<FilterState>,
    /// Every `declare_property` call, in order.
    pub declared: Vec<DeclaredProperty>,
}

/// A value a plugin stored with `set_envoy_filter_state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterState {
    /// The VM index.
    pub vm: usize,
    /// The context that called.
    pub context_id: u32,
    /// The filter state key (`path`).
    pub path: String,
    /// The value, as the plugin sent it.
    pub value: Vec<u8>,
    /// `LifeSpan`: 0 filter chain, 1 downstream request, 2 downstream connection.
    pub span: u64,
}

/// A property a plugin declared with `declare_property`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredProperty {
    /// The property name.
    pub name: String,
    /// `WasmType`: 0 bytes, 1 string, 2 flatbuffers, 3 protobuf.
    pub kind: u64,
    /// `LifeSpan`.
    pub span: u64,
    /// The schema bytes.
    pub schema: Vec<u8>,
    /// Whether the property is read-only.
    pub readonly: bool,
}

/// A decoded protobuf field: a varint or length-delimited bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Decodes a flat protobuf message (varint, fixed and length-delimited fields).
fn decode_message(data: &[u8]) -> Result<Vec<(u64, Field<'_>)>, Status> {
    let mut fields = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let key = varint(data, &mut pos).ok_or(Status::BadArgument)?;
        let (number, wire) = (key >> 3, key & 7);
        if number == 0 {
            return Err(Status::BadArgument);
        }
        let field = match wire {
            0 => Field::Varint(varint(data, &mut pos).ok_or(Status::BadArgument)?),
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                let bytes = data.get(pos..pos + n).ok_or(Status::BadArgument)?;
                pos += n;
                Field::Bytes(bytes)
            }
            2 => {
                let len = varint(data, &mut pos).ok_or(Status::BadArgument)?;
                let end = pos.checked_add(usize::try_from(len).map_err(|_| Status::BadArgument)?);
                let bytes = end.and_then(|end| data.get(pos..end)).ok_or(Status::BadArgument)?;
                pos += bytes.len();
                Field::Bytes(bytes)
            }
            _ => return Err(Status::BadArgument),
        };
        fields.push((number, field));
    }
    Ok(fields)
}

fn bytes_field<'a>(fields: &[(u64, Field<'a>)], number: u64) -> Option<&'a [u8]> {
    fields.iter().rev().find_map(|(n, f)| match f {
        Field::Bytes(b) if *n == number => Some(*b),
        _ => None,
    })
}

fn varint_field(fields: &[(u64, Field<'_>)], number: u64) -> u64 {
    fields
        .iter()
        .rev()
        .find_map(|(n, f)| match f {
            Field::Varint(v) if *n == number => Some(*v),
            _ => None,
        })
        .unwrap_or(0)
}

/// Decodes `SetEnvoyFilterStateArguments` into `(path, value, span)`.
pub fn decode_filter_state(args: &[u8]) -> Result<(String, Vec<u8>, u64), Status> {
    let fields = decode_message(args)?;
    let path = bytes_field(&fields, 1).filter(|p| !p.is_empty()).ok_or(Status::BadArgument)?;
    let path = String::from_utf8(path.to_vec()).map_err(|_| Status::BadArgument)?;
    let value = bytes_field(&fields, 2).unwrap_or_default().to_vec();
    Ok((path, value, varint_field(&fields, 3)))
}

/// Decodes `DeclarePropertyArguments`.
pub fn decode_declare_property(args: &[u8]) -> Result<DeclaredProperty, Status> {
    let fields = decode_message(args)?;
    let name = bytes_field(&fields, 1).filter(|p| !p.is_empty()).ok_or(Status::BadArgument)?;
    Ok(DeclaredProperty {
        name: String::from_utf8(name.to_vec()).map_err(|_| Status::BadArgument)?,
        kind: varint_field(&fields, 2),
        span: varint_field(&fields, 3),
        schema: bytes_field(&fields, 4).unwrap_or_default().to_vec(),
        readonly: varint_field(&fields, 5) != 0,
    })
}

impl fmt::Debug for ForeignFunctions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.functions.keys().collect();
        names.sort();
        f.debug_struct("ForeignFunctions")
            .field("names", &names)
            .field("filter_state", &self.filter_state)
            .field("declared", &self.declared)
            .finish()
    }
}

impl ForeignFunctions {
    /// Registers (or replaces) a function.
    pub fn register(&mut self, name: &str, function: ForeignFunction) {
        self.functions.insert(name.to_owned(), function);
    }

    /// Whether the test registered a function of this name.
    pub fn contains(&self, name: &[u8]) -> bool {
        std::str::from_utf8(name).is_ok_and(|n| self.functions.contains_key(n))
    }

    /// Calls a function; unknown names are `NotFound`.
    pub fn call(&mut self, name: &[u8], arguments: &[u8]) -> Result<Vec<u8>, Status> {
        let name = std::str::from_utf8(name).map_err(|_| Status::NotFound)?;
        let function = self.functions.get_mut(name).ok_or(Status::NotFound)?;
        function(arguments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_calls_by_name() {
        let mut f = ForeignFunctions::default();
        f.register("reverse", Box::new(|a: &[u8]| Ok(a.iter().rev().copied().collect())));
        f.register("fail", Box::new(|_: &[u8]| Err(Status::BadArgument)));
        assert_eq!(f.call(b"reverse", b"abc"), Ok(b"cba".to_vec()));
        assert_eq!(f.call(b"fail", b""), Err(Status::BadArgument));
        assert_eq!(f.call(b"missing", b""), Err(Status::NotFound));
        assert!(format!("{f:?}").contains("reverse"));
        assert!(f.contains(b"reverse") && !f.contains(b"missing"));
    }

    #[test]
    fn envoy_argument_messages_decode() {
        // path = "envoy.tcp_proxy.cluster", value = "blue", span = 1
        let mut msg = vec![0x0a, 23];
        msg.extend_from_slice(b"envoy.tcp_proxy.cluster");
        msg.extend_from_slice(&[0x12, 4]);
        msg.extend_from_slice(b"blue");
        msg.extend_from_slice(&[0x18, 1]);
        assert_eq!(decode_filter_state(&msg), Ok(("envoy.tcp_proxy.cluster".into(), b"blue".to_vec(), 1)));
        assert_eq!(decode_filter_state(&[0x12, 1, b'x']), Err(Status::BadArgument));
        assert_eq!(decode_filter_state(&[0x0a, 9, b'x']), Err(Status::BadArgument));
        assert_eq!(decode_filter_state(b"plain text"), Err(Status::BadArgument));
        let mut decl = vec![0x0a, 3];
        decl.extend_from_slice(b"foo");
        decl.extend_from_slice(&[0x10, 1, 0x18, 2, 0x22, 2, b'{', b'}', 0x28, 1]);
        let d = decode_declare_property(&decl).unwrap();
        assert_eq!((d.name.as_str(), d.kind, d.span, d.schema.as_slice(), d.readonly), ("foo", 1, 2, &b"{}"[..], true));
    }
}
