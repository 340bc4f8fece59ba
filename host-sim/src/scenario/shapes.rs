//! The JSON Schema shapes of the fields the parser reads as raw TOML
//! (tables of headers, properties, bodies) or checks against a table of
//! names: the `raw` model's `schemars(with = …)` types.

use std::collections::BTreeMap;

use schemars::JsonSchema;

/// Any TOML value (a string or a table for configurations).
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
pub(super) enum AnyValue {
    /// A string.
    String(String),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Boolean(bool),
    /// A list.
    Array(Vec<AnyValue>),
    /// A table.
    Table(BTreeMap<String, AnyValue>),
}

/// A header value: one string, or a list (the header repeated).
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
pub(super) enum HeaderValue {
    /// One value.
    One(String),
    /// The header repeated, in order.
    Many(Vec<String>),
}

/// Headers in file order: name = value, or name = [values].
pub(super) type HeaderTable = BTreeMap<String, HeaderValue>;

/// name = string.
pub(super) type StringTable = BTreeMap<String, String>;

/// Nested property tables; leaves are strings, integers, floats, booleans or lists.
pub(super) type PropertyTable = BTreeMap<String, AnyValue>;

/// A body: a string, or a list of chunks.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
pub(super) enum Body {
    /// The whole body, one callback.
    Whole(String),
    /// Chunks, one callback each.
    Chunks(Vec<String>),
}

/// What reached the upstream.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
pub(super) enum Forwarded {
    /// true: the request headers reached it; false: nothing did.
    Flag(bool),
    /// "headers": the request headers; "whole": the whole request (end of stream).
    How(ForwardedHow),
}

/// How much of the request reached the upstream.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(super) enum ForwardedHow {
    /// The headers.
    Headers,
    /// The whole request.
    Whole,
}

/// A string schema allowing exactly `names`: the tables the parser itself
/// reads the names from, so the schema cannot drift from it.
fn names_schema(names: &[&str]) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "enum": names })
}

/// A type whose schema is a string allowing exactly the names an
/// expression gives (a table the parser reads the names from).
macro_rules! names_schema_type {
    ($(#[$doc:meta])* $name:ident, $names:expr) => {
        $(#[$doc])*
        pub(super) struct $name;

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                names_schema(&$names)
            }
        }
    };
}

names_schema_type!(
    /// How a stream ended (`expect.ended`): [`super::model::Ended::NAMES`].
    EndedName,
    super::model::Ended::NAMES.map(|(n, _)| n)
);

names_schema_type!(
    /// How a callout ended (`finished_callouts[].ended`): [`super::model::CALLOUT_ENDS`].
    CalloutEndName,
    super::model::CALLOUT_ENDS.map(|(n, _)| n)
);

names_schema_type!(
    /// An action a stream callback returned (`expect.actions`):
    /// [`super::model::ActionExpect::names`].
    ActionName,
    super::model::ActionExpect::names()
);

/// What a callback returned: its last call's action, or every call's.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
pub(super) enum ActionValue {
    /// The last call's action.
    Last(ActionName),
    /// Every call's, in order.
    Each(Vec<ActionName>),
}

/// The kind of a callout (`finished_callouts[].kind`).
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(super) enum CalloutKind {
    /// An HTTP callout (proxy_http_call).
    Http,
    /// A gRPC call or stream.
    Grpc,
}
