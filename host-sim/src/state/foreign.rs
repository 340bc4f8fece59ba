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
//!   accepted (host-sim has no object factories). The value is the stream's
//!   filter state (property `filter_state.<path>`, counted in
//!   `property_bytes` and dropped with the stream); from a root context,
//!   which has no stream, `NOT_FOUND` (Envoy's `Context::setEnvoyFilterState`
//!   finds no stream info).
//! - `declare_property`: a serialized `DeclarePropertyArguments`
//!   (`string name = 1; WasmType type = 2; LifeSpan span = 3; bytes schema = 4;
//!   bool readonly = 5`).
//!
//! Arguments that are not a valid protobuf message, or lack the path/name,
//! are `BAD_ARGUMENT`, as in Envoy.
//!
//! What the host keeps for the test to read ([`Host::filter_state`](crate::Host::filter_state),
//! [`Host::declared_properties`](crate::Host::declared_properties), a
//! scenario's `expect.filter_state` and `expect.declared_properties`) is
//! what those read, not every call: the last value of each filter state key
//! (with the VM and context that set it) and the first declaration of each
//! property name (Envoy never replaces a declared prototype). Setting a key
//! again, or declaring a name again (each stream of a plugin that declares
//! per request), holds nothing more. The records count for the VM that made
//! them, against its `property_bytes` ([`Limits`]) in total (what one stream
//! may hold).

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::limits::{Limit, LimitExceeded, Limits};
use crate::types::Status;

/// A host function a plugin can call by name: arguments in, results out.
pub type ForeignFunction = Box<dyn FnMut(&[u8]) -> Result<Vec<u8>, Status> + Send>;

/// The registry of foreign functions of a host.
#[derive(Default)]
pub struct ForeignFunctions {
    functions: HashMap<String, ForeignFunction>,
    /// The last value each filter state key was set to: one record per key,
    /// in the order the keys were first set ([`ForeignFunctions::set_filter_state`]).
    pub filter_state: Vec<FilterState>,
    /// The first declaration of each property name, in order
    /// ([`ForeignFunctions::declare`]).
    pub declared: Vec<DeclaredProperty>,
    /// Where each key's record is in `filter_state`.
    filter_state_at: HashMap<String, usize>,
    /// The names in `declared`.
    declared_names: HashSet<String>,
    /// Bytes of the records each VM made (keys and values, names and
    /// schemas); a VM that holds none has no entry.
    held: HashMap<usize, usize>,
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

/// Bytes a filter state record counts: its key and value.
fn filter_state_bytes(record: &FilterState) -> usize {
    record.path.len() + record.value.len()
}

/// Bytes a declaration counts: its name and schema.
fn declared_bytes(property: &DeclaredProperty) -> usize {
    property.name.len() + property.schema.len()
}

impl ForeignFunctions {
    /// Records that VM `record.vm` set filter state key `record.path`: the
    /// record replaces the key's previous one (whichever VM made it, whose
    /// bytes it frees), so a key holds only its last value. Refused, with
    /// nothing changed, if the VM's records would pass `limits`'
    /// `property_bytes`.
    pub fn set_filter_state(&mut self, record: FilterState, limits: &Limits) -> Result<(), LimitExceeded> {
        let vm = record.vm;
        let bytes = filter_state_bytes(&record);
        let at = self.filter_state_at.get(&record.path).copied();
        let replaced = at.map(|i| (self.filter_state[i].vm, filter_state_bytes(&self.filter_state[i])));
        let freed = match replaced {
            Some((owner, old)) if owner == vm => old,
            _ => 0,
        };
        let held = self.held(vm) - freed + bytes;
        limits.check(Limit::PropertyBytes, held, || {
            format!("set_envoy_filter_state of {bytes} bytes (key and value) would make the VM's filter state records {held} bytes")
        })?;
        if let Some((owner, old)) = replaced {
            self.release(owner, old);
        }
        *self.held.entry(vm).or_default() += bytes;
        match at {
            Some(i) => self.filter_state[i] = record,
            None => {
                self.filter_state_at.insert(record.path.clone(), self.filter_state.len());
                self.filter_state.push(record);
            }
        }
        Ok(())
    }

    /// Records that VM `vm` declared `property`, unless its name was
    /// declared before (by any VM): then nothing is kept or counted. Refused,
    /// with nothing kept, if the VM's records would pass `limits`'
    /// `property_bytes`.
    pub fn declare(&mut self, vm: usize, property: DeclaredProperty, limits: &Limits) -> Result<(), LimitExceeded> {
        if self.declared_names.contains(&property.name) {
            return Ok(());
        }
        let bytes = declared_bytes(&property);
        let held = self.held(vm) + bytes;
        limits.check(Limit::PropertyBytes, held, || {
            format!("declare_property of {bytes} bytes (name and schema) would make the VM's filter state records {held} bytes")
        })?;
        *self.held.entry(vm).or_default() += bytes;
        self.declared_names.insert(property.name.clone());
        self.declared.push(property);
        Ok(())
    }

    /// Bytes of the filter state records and declarations VM `vm` made that
    /// the host keeps.
    pub fn held(&self, vm: usize) -> usize {
        self.held.get(&vm).copied().unwrap_or(0)
    }

    fn release(&mut self, vm: usize, bytes: usize) {
        if let Some(held) = self.held.get_mut(&vm) {
            *held -= bytes;
            if *held == 0 {
                self.held.remove(&vm);
            }
        }
    }

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
    fn records_keep_each_keys_last_value_and_count_for_its_vm() {
        let limits = Limits { property_bytes: 10, ..Limits::default() };
        let record = |vm, path: &str, value: &[u8]| FilterState {
            vm,
            context_id: 2,
            path: path.into(),
            value: value.to_vec(),
            span: 0,
        };
        let mut f = ForeignFunctions::default();
        f.set_filter_state(record(0, "k", b"1234"), &limits).unwrap();
        f.set_filter_state(record(0, "k", b"123456789"), &limits).unwrap();
        assert_eq!(f.held(0), 10, "the new value replaces the old one's bytes");
        let err = f.set_filter_state(record(0, "j", b""), &limits).unwrap_err();
        assert_eq!(err.limit, Limit::PropertyBytes);
        f.set_filter_state(record(1, "k", b"x"), &limits).unwrap();
        assert_eq!((f.held(0), f.held(1)), (0, 2), "another VM's value frees the first VM's record");
        assert_eq!(f.filter_state, [record(1, "k", b"x")]);
        let property = |name: &str| DeclaredProperty {
            name: name.into(),
            kind: 1,
            span: 0,
            schema: b"s".to_vec(),
            readonly: false,
        };
        f.declare(0, property("p"), &limits).unwrap();
        f.declare(1, property("p"), &limits).unwrap();
        assert_eq!((f.held(0), f.held(1), f.declared.len()), (2, 2, 1), "a name declared again keeps nothing");
        assert!(f.declare(1, property("longer-name"), &limits).is_err());
        assert_eq!(f.declared, [property("p")]);
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
