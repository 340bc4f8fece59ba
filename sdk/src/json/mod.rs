//! A small `no_std` JSON reader: a [`Value`] tree, a strict parser, and
//! [`FromJson`] for typed extraction with errors that name the field.
//!
//! Plugins read JSON in two places: their configuration (see
//! [`derive(Config)`](crate::Config), which generates [`FromJson`]) and data
//! from requests, such as a JWT's payload. Both are untrusted input, so the
//! parser is strict (RFC 8259, no trailing commas or comments, duplicate keys
//! rejected), bounds its nesting depth, and never panics.
//!
//! ```
//! use sluice::json::{self, Value};
//!
//! let claims = json::parse(br#"{"sub": "alice", "groups": ["dev", "ops"], "exp": 1700000000}"#)?;
//! assert_eq!(claims.get("sub").and_then(Value::as_str), Some("alice"));
//! assert_eq!(claims.get("exp").and_then(Value::as_u64), Some(1_700_000_000));
//!
//! let groups: Vec<String> = json::from_value(claims.get("groups").unwrap_or(&Value::Null))?;
//! assert_eq!(groups, ["dev", "ops"]);
//!
//! let err = json::from_slice::<u8>(b"300").unwrap_err();
//! assert_eq!(err.to_string(), "expected an integer from 0 to 255, found 300");
//! # Ok::<(), sluice::json::Error>(())
//! ```
//!
//! Numbers keep their source text until asked for: [`Number::as_u64`] and
//! [`Number::as_i64`] are exact over their whole range, and a plugin that
//! never asks for a float does not link float parsing.

mod error;
mod from;
mod parse;
#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;

pub use error::{Error, ErrorKind, Segment};
pub use from::FromJson;
pub use parse::MAX_DEPTH;

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, kept as its source text.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, members in source order (keys are unique).
    Object(Object),
}

/// A JSON number, kept as its (validated) source text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number(String);

/// A JSON object: its members in source order, with unique keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Object(Vec<(String, Value)>);

impl Number {
    /// The number as written in the source.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the number is written without a fraction or an exponent.
    pub fn is_integer(&self) -> bool {
        !self.0.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
    }

    /// The number as a `u64`, if it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        if self.is_integer() { self.0.parse().ok() } else { None }
    }

    /// The number as an `i64`, if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        if self.is_integer() { self.0.parse().ok() } else { None }
    }

    /// The number as the nearest `f64`.
    pub fn as_f64(&self) -> f64 {
        // The text is a valid JSON number, which Rust's float grammar accepts.
        self.0.parse().unwrap_or(f64::NAN)
    }
}

impl Object {
    /// The value of member `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The members, in source order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The keys, in source order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// How many members the object has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the object has no members.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Value {
    /// The member `key` of an object (`None` for other values).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    /// Follows a path of object keys (`["realm", "roles"]`) from this value.
    pub fn pointer<'a, I, S>(&self, keys: I) -> Option<&Value>
    where
        I: IntoIterator<Item = &'a S>,
        S: AsRef<str> + ?Sized + 'a,
    {
        keys.into_iter().try_fold(self, |value, key| value.get(key.as_ref()))
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as a `u64` (see [`Number::as_u64`]).
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number()?.as_u64()
    }

    /// The number as an `i64` (see [`Number::as_i64`]).
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    /// The number as an `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().map(Number::as_f64)
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Parses one JSON document (surrounding whitespace allowed).
pub fn parse(input: &[u8]) -> Result<Value, Error> {
    parse::Parser::new(input).document()
}

/// Converts a value into `T`.
pub fn from_value<T: FromJson>(value: &Value) -> Result<T, Error> {
    T::from_json(value)
}

/// Parses a JSON document into `T`.
pub fn from_slice<T: FromJson>(input: &[u8]) -> Result<T, Error> {
    T::from_json(&parse(input)?)
}

/// Parses a JSON document into `T`; empty input (only whitespace) counts as
/// `{}`, which is what a proxy hands a plugin that has no configuration.
pub fn from_config<T: FromJson>(input: &[u8]) -> Result<T, Error> {
    if input.iter().all(u8::is_ascii_whitespace) {
        T::from_json(&Value::Object(Object::default()))
    } else {
        from_slice(input)
    }
}
