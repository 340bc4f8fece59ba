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
//!   bool readonly = 5`). Declarations belong to the context that calls, as
//!   Envoy's `Context::declareProperty` keeps them: a name the context has
//!   not declared yet is stored (OK), declaring it again in the same context
//!   is `BAD_ARGUMENT` and keeps the first declaration (Envoy never replaces
//!   a prototype); another context, another VM's included, declares its own.
//!   Envoy's `setProperty` looks a path up in the root context's
//!   declarations only; host-sim's `proxy_set_property` applies no declared
//!   type (the value reads back as bytes, a declaration or not), so nothing
//!   reads the stream contexts' declarations but the test.
//!
//! Arguments that are not a valid protobuf message, or lack the path/name,
//! are `BAD_ARGUMENT`, as in Envoy. The decoders borrow the path, value,
//! name and schema from the guest's memory: nothing is copied before the
//! `property_bytes` checks pass.
//!
//! What the host keeps for the test to read ([`Host::filter_state`](crate::Host::filter_state),
//! [`Host::declared_properties`](crate::Host::declared_properties), a
//! scenario's `expect.filter_state` and `expect.declared_properties`) is
//! what those read, not every call:
//! - the last value of each filter state key (with the VM and context that
//!   set it); setting a key again holds nothing more;
//! - every declaration of each root context (each name once per context,
//!   since a repeat is refused), kept after the context;
//! - of the stream contexts' declarations, the first of each name per VM:
//!   in Envoy a stream's declarations go with the stream, and a plugin that
//!   declares on every request would otherwise add a record per request.
//!   While a stream context lives the host also remembers which names it
//!   declared, to refuse its repeats (names the VM's records hold already);
//!   that is dropped once the stream has ended, at one of the VM's later
//!   declarations.
//!
//! The records count for the VM that made them, against its
//! `property_bytes` ([`Limits`]) in total (what one stream may hold).

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
    /// The declarations kept, in order ([`ForeignFunctions::declare`]):
    /// each root context's, and the first of each name the stream contexts
    /// of a VM declared.
    pub declared: Vec<DeclaredProperty>,
    /// Where each key's record is in `filter_state`.
    filter_state_at: HashMap<String, usize>,
    /// The names each context declared, by VM and context id: a root's
    /// (and the VM context's) for good, a stream's while it may still be
    /// live.
    scopes: HashMap<(usize, u32), Scope>,
    /// The names each VM's stream contexts declared whose first
    /// declaration is in `declared`.
    stream_names: HashMap<usize, HashSet<String>>,
    /// The size of `scopes` past which the calling VM's ended streams are
    /// dropped from it.
    prune_at: usize,
    /// Bytes of the records each VM made (keys and values, names and
    /// schemas); a VM that holds none has no entry.
    held: HashMap<usize, usize>,
}

/// The names one context declared.
#[derive(Debug, Default)]
struct Scope {
    /// Whether the context is a stream (whose scope goes after it ends).
    stream: bool,
    names: HashSet<String>,
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
    /// The VM index.
    pub vm: usize,
    /// The context that declared it (for a stream context's, the first
    /// stream of the VM that declared the name).
    pub context_id: u32,
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

/// `SetEnvoyFilterStateArguments`, borrowed from the arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterStateArgs<'a> {
    /// The filter state key.
    pub path: &'a str,
    /// The value.
    pub value: &'a [u8],
    /// `LifeSpan`.
    pub span: u64,
}

/// `DeclarePropertyArguments`, borrowed from the arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeclareArgs<'a> {
    /// The property name.
    pub name: &'a str,
    /// `WasmType`.
    pub kind: u64,
    /// `LifeSpan`.
    pub span: u64,
    /// The schema bytes.
    pub schema: &'a [u8],
    /// Whether the property is read-only.
    pub readonly: bool,
}

/// Decodes `SetEnvoyFilterStateArguments`, copying nothing.
pub fn decode_filter_state(args: &[u8]) -> Result<FilterStateArgs<'_>, Status> {
    let fields = decode_message(args)?;
    let path = bytes_field(&fields, 1).filter(|p| !p.is_empty()).ok_or(Status::BadArgument)?;
    let path = std::str::from_utf8(path).map_err(|_| Status::BadArgument)?;
    let value = bytes_field(&fields, 2).unwrap_or_default();
    Ok(FilterStateArgs { path, value, span: varint_field(&fields, 3) })
}

/// Decodes `DeclarePropertyArguments`, copying nothing.
pub fn decode_declare_property(args: &[u8]) -> Result<DeclareArgs<'_>, Status> {
    let fields = decode_message(args)?;
    let name = bytes_field(&fields, 1).filter(|p| !p.is_empty()).ok_or(Status::BadArgument)?;
    Ok(DeclareArgs {
        name: std::str::from_utf8(name).map_err(|_| Status::BadArgument)?,
        kind: varint_field(&fields, 2),
        span: varint_field(&fields, 3),
        schema: bytes_field(&fields, 4).unwrap_or_default(),
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

/// Where a context declares: whether it is a stream context, and whether
/// a context of its VM is still live (for dropping ended streams' names).
pub struct Declarer<F: Fn(u32) -> bool> {
    /// The VM index.
    pub vm: usize,
    /// The context that calls.
    pub context_id: u32,
    /// Whether it is a stream context (HTTP or TCP).
    pub stream: bool,
    /// Whether a context id of the VM is live.
    pub live: F,
}

impl<F: Fn(u32) -> bool> fmt::Debug for Declarer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Declarer")
            .field("vm", &self.vm)
            .field("context_id", &self.context_id)
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

/// The size of `scopes` below which ended streams are not looked for.
const PRUNE_FLOOR: usize = 64;

impl ForeignFunctions {
    /// Records that context `context_id` of VM `vm` set filter state key
    /// `args.path`: the record replaces the key's previous one (whichever
    /// VM made it, whose bytes it frees), so a key holds only its last
    /// value. Refused, with nothing changed or copied, if the VM's records
    /// would pass `limits`' `property_bytes`.
    pub fn set_filter_state(
        &mut self,
        vm: usize,
        context_id: u32,
        args: FilterStateArgs<'_>,
        limits: &Limits,
    ) -> Result<(), LimitExceeded> {
        let bytes = args.path.len() + args.value.len();
        let at = self.filter_state_at.get(args.path).copied();
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
        let record =
            FilterState { vm, context_id, path: args.path.to_owned(), value: args.value.to_vec(), span: args.span };
        match at {
            Some(i) => self.filter_state[i] = record,
            None => {
                self.filter_state_at.insert(record.path.clone(), self.filter_state.len());
                self.filter_state.push(record);
            }
        }
        Ok(())
    }

    /// Context `by.context_id` of VM `by.vm` declares a property, as
    /// Envoy's `Context::declareProperty`: `BadArgument` if that context
    /// declared the name before (the first declaration stays), else stored.
    /// A root context's declaration is kept as a record; a stream context's
    /// only if no stream of the VM declared the name before (the stream
    /// remembers the name, to refuse its repeats, until it ends). Refused,
    /// with nothing kept, if the VM's records would pass `limits`'
    /// `property_bytes`; nothing is copied before that check.
    pub fn declare<F: Fn(u32) -> bool>(
        &mut self,
        by: Declarer<F>,
        args: DeclareArgs<'_>,
        limits: &Limits,
    ) -> Result<Result<(), LimitExceeded>, Status> {
        let Declarer { vm, context_id, stream, live } = by;
        if self.scopes.get(&(vm, context_id)).is_some_and(|s| s.names.contains(args.name)) {
            return Err(Status::BadArgument);
        }
        let recorded = !stream || !self.stream_names.get(&vm).is_some_and(|n| n.contains(args.name));
        if recorded {
            let bytes = args.name.len() + args.schema.len();
            let held = self.held(vm) + bytes;
            if let Err(exceeded) = limits.check(Limit::PropertyBytes, held, || {
                format!("declare_property of {bytes} bytes (name and schema) would make the VM's filter state records {held} bytes")
            }) {
                return Ok(Err(exceeded));
            }
            *self.held.entry(vm).or_default() += bytes;
            if stream {
                self.stream_names.entry(vm).or_default().insert(args.name.to_owned());
            }
            self.declared.push(DeclaredProperty {
                vm,
                context_id,
                name: args.name.to_owned(),
                kind: args.kind,
                span: args.span,
                schema: args.schema.to_vec(),
                readonly: args.readonly,
            });
        }
        if stream && self.scopes.len() >= self.prune_at.max(PRUNE_FLOOR) {
            // Drop the names of this VM's streams that have ended (other
            // VMs' go at their own declarations); amortized over the
            // declarations since the last time.
            self.scopes.retain(|&(v, id), scope| !scope.stream || v != vm || live(id));
            self.prune_at = 2 * self.scopes.len();
        }
        let scope = self.scopes.entry((vm, context_id)).or_default();
        scope.stream = stream;
        scope.names.insert(args.name.to_owned());
        Ok(Ok(()))
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
        let args = |path, value| FilterStateArgs { path, value, span: 0 };
        let mut f = ForeignFunctions::default();
        f.set_filter_state(0, 2, args("k", b"1234"), &limits).unwrap();
        f.set_filter_state(0, 2, args("k", b"123456789"), &limits).unwrap();
        assert_eq!(f.held(0), 10, "the new value replaces the old one's bytes");
        let err = f.set_filter_state(0, 2, args("j", b""), &limits).unwrap_err();
        assert_eq!(err.limit, Limit::PropertyBytes);
        f.set_filter_state(1, 3, args("k", b"x"), &limits).unwrap();
        assert_eq!((f.held(0), f.held(1)), (0, 2), "another VM's value frees the first VM's record");
        let record = FilterState { vm: 1, context_id: 3, path: "k".into(), value: b"x".to_vec(), span: 0 };
        assert_eq!(f.filter_state, [record]);
    }

    fn declare(
        f: &mut ForeignFunctions,
        (vm, context_id, stream): (usize, u32, bool),
        name: &str,
        limits: &Limits,
    ) -> Result<Result<(), LimitExceeded>, Status> {
        let args = DeclareArgs { name, kind: 1, span: 0, schema: b"s", readonly: false };
        f.declare(Declarer { vm, context_id, stream, live: |id| id == context_id }, args, limits)
    }

    fn names(f: &ForeignFunctions) -> Vec<(usize, u32, &str)> {
        f.declared.iter().map(|d| (d.vm, d.context_id, d.name.as_str())).collect()
    }

    #[test]
    fn declarations_are_per_context_and_a_repeat_in_one_is_a_bad_argument() {
        let limits = Limits::default();
        let mut f = ForeignFunctions::default();
        assert_eq!(declare(&mut f, (0, 1, false), "p", &limits), Ok(Ok(())));
        assert_eq!(declare(&mut f, (0, 1, false), "p", &limits), Err(Status::BadArgument), "same root");
        assert_eq!(declare(&mut f, (0, 4, false), "p", &limits), Ok(Ok(())), "another root of the VM");
        assert_eq!(declare(&mut f, (1, 1, false), "p", &limits), Ok(Ok(())), "the same id in another VM");
        assert_eq!(declare(&mut f, (0, 2, true), "p", &limits), Ok(Ok(())), "a stream of the first root");
        assert_eq!(declare(&mut f, (0, 2, true), "p", &limits), Err(Status::BadArgument), "same stream");
        assert_eq!(declare(&mut f, (0, 3, true), "p", &limits), Ok(Ok(())), "another stream");
        assert_eq!(declare(&mut f, (0, 3, true), "p", &limits), Err(Status::BadArgument));
        assert_eq!(declare(&mut f, (0, 3, true), "q", &limits), Ok(Ok(())));
        assert_eq!(
            names(&f),
            [(0, 1, "p"), (0, 4, "p"), (1, 1, "p"), (0, 2, "p"), (0, 3, "q")],
            "each root's, and the first stream declaration of each name per VM"
        );
        assert_eq!((f.held(0), f.held(1)), (4 * 2, 2), "name and schema of each record");
        let first = &f.declared[0];
        assert_eq!((first.kind, first.span, first.schema.as_slice(), first.readonly), (1, 0, &b"s"[..], false));
    }

    #[test]
    fn ended_streams_declarations_are_dropped_and_add_nothing() {
        let limits = Limits::default();
        let mut f = ForeignFunctions::default();
        declare(&mut f, (0, 1, false), "p", &limits).unwrap().unwrap();
        // 10000 streams, each live only while it declares: flat.
        for id in 2..10_002 {
            declare(&mut f, (0, id, true), "p", &limits).unwrap().unwrap();
            assert!(f.scopes.len() <= 2 * PRUNE_FLOOR, "{} scopes after stream {id}", f.scopes.len());
        }
        assert_eq!(names(&f), [(0, 1, "p"), (0, 2, "p")]);
        assert_eq!(f.held(0), 4);
        assert!(f.scopes.contains_key(&(0, 1)), "a root's names stay");
    }

    #[test]
    fn a_declaration_past_the_limit_keeps_nothing() {
        let limits = Limits { property_bytes: 10, ..Limits::default() };
        let mut f = ForeignFunctions::default();
        declare(&mut f, (0, 1, false), "p", &limits).unwrap().unwrap();
        for _ in 0..2 {
            let err = declare(&mut f, (0, 1, false), "longer-name", &limits).unwrap().unwrap_err();
            assert_eq!(err.limit, Limit::PropertyBytes, "not kept, so not a repeat either");
            let err = declare(&mut f, (0, 2, true), "longer-name", &limits).unwrap().unwrap_err();
            assert_eq!(err.limit, Limit::PropertyBytes);
        }
        assert_eq!(declare(&mut f, (0, 2, true), "p", &limits), Ok(Ok(())));
        assert_eq!(declare(&mut f, (0, 3, true), "p", &limits), Ok(Ok(())), "no new record, nothing to count");
        assert_eq!((names(&f), f.held(0)), (vec![(0, 1, "p"), (0, 2, "p")], 4));
    }

    #[test]
    fn envoy_argument_messages_decode() {
        // path = "envoy.tcp_proxy.cluster", value = "blue", span = 1
        let mut msg = vec![0x0a, 23];
        msg.extend_from_slice(b"envoy.tcp_proxy.cluster");
        msg.extend_from_slice(&[0x12, 4]);
        msg.extend_from_slice(b"blue");
        msg.extend_from_slice(&[0x18, 1]);
        let args = FilterStateArgs { path: "envoy.tcp_proxy.cluster", value: b"blue", span: 1 };
        assert_eq!(decode_filter_state(&msg), Ok(args));
        assert_eq!(decode_filter_state(&msg).unwrap().value.as_ptr(), msg[27..].as_ptr(), "borrowed, not copied");
        assert_eq!(decode_filter_state(&[0x12, 1, b'x']), Err(Status::BadArgument));
        assert_eq!(decode_filter_state(&[0x0a, 9, b'x']), Err(Status::BadArgument));
        assert_eq!(decode_filter_state(b"plain text"), Err(Status::BadArgument));
        let mut decl = vec![0x0a, 3];
        decl.extend_from_slice(b"foo");
        decl.extend_from_slice(&[0x10, 1, 0x18, 2, 0x22, 2, b'{', b'}', 0x28, 1]);
        let d = decode_declare_property(&decl).unwrap();
        assert_eq!((d.name, d.kind, d.span, d.schema, d.readonly), ("foo", 1, 2, &b"{}"[..], true));
        assert_eq!(d.schema.as_ptr(), decl[11..].as_ptr(), "borrowed from the arguments, not copied");
    }
}
