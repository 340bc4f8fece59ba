//! Derive macros for the sluice Proxy-Wasm SDK, re-exported by `sluice`
//! (feature `macros`, on by default): [`RootContext`], [`HttpContext`],
//! [`TcpContext`] and [`Config`].
//!
//! The user implements the SDK's callback traits with only the callbacks
//! they need; the derives generate the plumbing around them: the adaptor
//! that parses typed configuration, the factory that builds a stream context
//! from its root, the registration with the dispatcher and the entry point.
//! `sluice::plugin` documents the runtime side and shows whole plugins.
//!
//! Every misuse is a spanned compile error that says what was expected; all
//! mistakes in one item are reported together, and an item that fails still
//! gets a minimal implementation so that one mistake is reported once.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod ast;
mod attr;
mod check;
mod errors;
mod expand;
mod log_line;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Makes a struct a plugin's root context.
///
/// # Input
///
/// A struct with named fields (or a unit struct) that also implements
/// `sluice::RootContext` with the callbacks it wants (possibly none):
///
/// ```
/// # use std::rc::Rc; use std::cell::Cell;
/// # use sluice::{Config, HttpContext, RootContext};
/// # #[derive(Config)] struct Settings { header: String }
/// # #[derive(HttpContext)] struct Filter;
/// # impl HttpContext for Filter {}
/// #[derive(RootContext)]
/// #[sluice(config = Settings, http = Filter)]
/// struct Plugin {
///     #[sluice(config)]
///     settings: Option<Rc<Settings>>, // set before `on_configure` runs
///     #[sluice(shared)]
///     requests: Rc<Cell<u64>>,        // cloned into every stream that asks
///     ticks: u32,                     // any other field: `Default`
/// }
///
/// impl RootContext for Plugin {
///     fn on_tick(&mut self) { self.ticks += 1; }
/// }
/// ```
///
/// Struct attributes: `config = Type` (the plugin configuration, parsed in
/// `on_configure`; any `sluice::json::FromJson` type, usually
/// `#[derive(Config)]`), `vm_config = Type` (the VM configuration, parsed in
/// `on_vm_start`), `http = Type` or `tcp = Type` (the stream context it
/// creates: one kind per root, since the host does not tell a root whether a
/// new stream is HTTP or TCP), `no_main` (define the entry point yourself).
/// Field attributes: `config`, `vm_config` (a field of type `Option<Rc<C>>`
/// that receives the parsed configuration) and `shared` (the state streams
/// receive a clone of).
///
/// # What it generates
///
/// ```text
/// const _: () = {
///     impl ::sluice::plugin::Plugin for Plugin {
///         type Config = Settings;
///         type VmConfig = NoConfig;
///         type Shared = Rc<Cell<u64>>;
///         fn new() -> Self { Plugin { settings: Default::default(), requests: Default::default(), ticks: Default::default() } }
///         fn set_config(&mut self, config: &Rc<Settings>) { self.settings = ConfigField::from_config(config); }
///         fn shared(&self) -> &Rc<Cell<u64>> { &self.requests }
///         fn create_http_context(env: &Env<'_, Self>) -> Option<Box<dyn HttpContext>> {
///             Some(<Filter as NewHttpContext<Self>>::create_http_context(env))
///         }
///         // set_vm_config, create_tcp_context: nothing declared
///     }
/// };
/// ::sluice::main! { ::sluice::plugin::register::<Plugin>(); }
/// ```
///
/// On invalid input it reports every mistake and still implements `Plugin`
/// (with the declared types and bodies that never run, and no entry point),
/// so that code naming the root, such as a handler typed on `Root<Plugin>`,
/// is not reported a second time.
///
/// `register` installs a factory that wraps each root context in
/// `sluice::plugin::Root<Plugin>`, which parses the configuration (a bad one
/// makes `on_configure` return `false` and logs the field and the problem),
/// creates the streams and forwards every callback to `Plugin`.
///
/// # An error it reports
///
/// ```text
/// error: unknown `sluice` attribute `htttp` on a `#[derive(RootContext)]` struct; expected one of
///        `config = Type`, `vm_config = Type`, `http = Type`, `tcp = Type`, `no_main`
///  --> tests/ui/unknown-attribute.rs:4:10
///   |
/// 4 | #[sluice(htttp = Filter)]
///   |          ^^^^^
/// ```
#[proc_macro_derive(RootContext, attributes(sluice))]
pub fn derive_root_context(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::root::derive(&input).into()
}

/// Makes a struct an HTTP stream context that its root creates for every
/// HTTP stream.
///
/// # Input
///
/// A struct with named fields (or a unit struct) that implements
/// `sluice::HttpContext` with the callbacks it wants:
///
/// ```
/// # use std::rc::Rc; use std::cell::Cell;
/// # use sluice::{Action, Config, HttpContext, RootContext};
/// # #[derive(Config)] struct Settings { header: String }
/// # #[derive(RootContext)] #[sluice(config = Settings, http = Filter)]
/// # struct Plugin { #[sluice(shared)] requests: Rc<Cell<u64>> }
/// # impl RootContext for Plugin {}
/// #[derive(HttpContext)]
/// struct Filter {
///     #[sluice(config)]
///     settings: Rc<Settings>,   // the root's configuration
///     #[sluice(shared)]
///     requests: Rc<Cell<u64>>,  // a clone of the root's shared field
///     #[sluice(context_id)]
///     id: u32,                  // this stream's context id
///     body_bytes: usize,        // any other field: `Default`
/// }
///
/// impl HttpContext for Filter {
///     fn on_request_headers(&mut self, _: usize, _: bool) -> Action {
///         self.requests.set(self.requests.get() + 1);
///         Action::Continue
///     }
/// }
/// ```
///
/// # What it generates
///
/// ```text
/// const _: () = {
///     impl<__R: Plugin> NewHttpContext<__R> for Filter
///     where
///         Rc<Settings>: ConfigField<__R::Config>,
///         __R: Plugin<Shared = Rc<Cell<u64>>>,
///     {
///         fn create_http_context(env: &Env<'_, __R>) -> Box<dyn HttpContext> {
///             Box::new(Filter {
///                 settings: ConfigField::from_config(env.config()),
///                 requests: Clone::clone(env.shared()),
///                 id: env.context_id(),
///                 body_bytes: Default::default(),
///             })
///         }
///     }
/// };
/// ```
///
/// # An error it reports
///
/// ```text
/// error[E0277]: the trait bound `Filter: HttpContext` is not satisfied
///  --> tests/ui/missing-http-context-impl.rs:9:8
///   |
/// 9 | struct Filter;
///   |        ^^^^^^ unsatisfied trait bound
///   |
///   = note: required for the cast from `Box<Filter>` to `Box<(dyn HttpContext + 'static)>`
/// ```
#[proc_macro_derive(HttpContext, attributes(sluice))]
pub fn derive_http_context(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::stream::derive(&input, expand::stream::Kind::Http).into()
}

/// Makes a struct a TCP stream context that its root creates for every
/// connection; the same as [`HttpContext`], for `sluice::TcpContext`.
///
/// # Input
///
/// ```
/// # use sluice::{Action, RootContext, TcpContext};
/// # #[derive(RootContext)] #[sluice(tcp = Counter)] struct Plugin;
/// # impl RootContext for Plugin {}
/// #[derive(TcpContext)]
/// struct Counter {
///     bytes: usize,
/// }
///
/// impl TcpContext for Counter {
///     fn on_downstream_data(&mut self, size: usize, _: bool) -> Action {
///         self.bytes += size;
///         Action::Continue
///     }
/// }
/// ```
///
/// # What it generates
///
/// ```text
/// const _: () = {
///     impl<__R: Plugin> NewTcpContext<__R> for Counter {
///         fn create_tcp_context(env: &Env<'_, __R>) -> Box<dyn TcpContext> {
///             Box::new(Counter { bytes: Default::default() })
///         }
///     }
/// };
/// ```
///
/// # An error it reports
///
/// ```text
/// error: `#[derive(TcpContext)]` expects a struct with named fields or a unit struct, found a tuple struct
///  --> tests/ui/stream-on-tuple-struct.rs:4:15
///   |
/// 4 | struct Counter(usize);
///   |               ^^^^^^^
/// ```
#[proc_macro_derive(TcpContext, attributes(sluice))]
pub fn derive_tcp_context(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::stream::derive(&input, expand::stream::Kind::Tcp).into()
}

/// Reads a type from JSON configuration: implements `sluice::json::FromJson`.
///
/// # Input
///
/// A struct with named fields (read from a JSON object, field by field) or
/// an enum of unit variants (read from a JSON string):
///
/// ```
/// # use std::collections::BTreeMap;
/// use sluice::Config;
///
/// #[derive(Config)]
/// #[sluice(rename_all = "camelCase")]
/// struct Telemetry {
///     direction: Direction,                   // required
///     #[sluice(default = "istio".into())]
///     metric_prefix: String,                  // JSON "metricPrefix"; "istio" when absent
///     extra_dimensions: BTreeMap<String, String>, // required object
///     #[sluice(default)]
///     rules: Vec<Rule>,                       // empty when absent
///     max_cache_entries: Option<u32>,         // `None` when absent or null
/// }
///
/// #[derive(Config)]
/// struct Rule { header: String, cluster: String }
///
/// #[derive(Config)]
/// enum Direction {
///     Inbound,                                // "inbound"
///     #[sluice(rename = "out")]
///     Outbound,                               // "out"
/// }
/// ```
///
/// Struct attributes: `rename_all = "camelCase"` (or `snake_case`, the
/// default, `PascalCase`, `kebab-case`, `SCREAMING_SNAKE_CASE`,
/// `SCREAMING-KEBAB-CASE`, `lowercase`, `UPPERCASE`; also on enums),
/// `default` (missing fields come from `Self::default()`),
/// `deny_unknown_fields`. Field attributes: `rename = "name"`, `default`
/// (`Default::default()` when absent) or `default = expression`. Variant
/// attribute: `rename = "name"`. Fields of type `Option<T>` are optional.
///
/// # What it generates
///
/// ```text
/// const _: () = {
///     impl FromJson for Telemetry {
///         fn from_json(value: &Value) -> Result<Self, Error> {
///             let object = object(value)?;  // else: expected an object, found ...
///             Ok(Self {
///                 direction: required::<Direction>(object, "direction")?,
///                 metric_prefix: match optional::<String>(object, "metricPrefix")? {
///                     Some(value) => value,
///                     None => "istio".into(),
///                 },
///                 // ...
///             })
///         }
///     }
///     impl FromJson for Direction {
///         fn from_json(value: &Value) -> Result<Self, Error> {
///             match name(value)? {
///                 "inbound" => Ok(Self::Inbound),
///                 "out" => Ok(Self::Outbound),
///                 other => Err(Error::unknown_variant(other, &["inbound", "out"])),
///             }
///         }
///     }
/// };
/// ```
///
/// Errors at run time name the field path and the problem:
/// `field "direction": expected one of "inbound", "out", found "sideways"`.
///
/// # An error it reports
///
/// ```text
/// error: `#[derive(Config)]` expects unit variants (configuration enums are read from strings); `Prefix` has fields
///  --> tests/ui/config-enum-with-data.rs:6:11
///   |
/// 6 |     Prefix(String),
///   |           ^^^^^^^^
/// ```
#[proc_macro_derive(Config, attributes(sluice))]
pub fn derive_config(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::config::derive(&input).into()
}

/// The expansion of `sluice::info!` and the other level macros, which
/// document it: takes `$crate, level, "format", args...`.
#[doc(hidden)]
#[proc_macro]
pub fn format_log_line(input: TokenStream) -> TokenStream {
    let line = parse_macro_input!(input as log_line::LogLine);
    line.expand().unwrap_or_else(syn::Error::into_compile_error).into()
}
