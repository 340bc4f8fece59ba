//! Helpers for the code the derive macros generate. Not a public API: reached
//! as `::sluice::__private::plugin`.

pub use alloc::boxed::Box;
pub use alloc::rc::Rc;
pub use core::clone::Clone;
pub use core::default::Default;
pub use core::option::Option::{self, None, Some};
pub use core::result::Result::{self, Err, Ok};

pub use super::{ConfigField, Env, NewHttpContext, NewTcpContext, NoConfig, Plugin, register};
pub use crate::contexts::{HttpContext, RootContext, TcpContext};
pub use crate::json::{Error, FromJson, Object, Value};

/// The value as an object, for a struct.
pub fn object(value: &Value) -> Result<&Object, Error> {
    value.as_object().ok_or_else(|| Error::invalid_type("an object", value))
}

/// The value as a string, for an enum of names.
pub fn name(value: &Value) -> Result<&str, Error> {
    value.as_str().ok_or_else(|| Error::invalid_type("a string", value))
}

/// Member `name` read as `T`, or `None` if it is absent.
pub fn optional<T: FromJson>(object: &Object, name: &str) -> Result<Option<T>, Error> {
    match object.get(name) {
        Some(value) => T::from_json(value).map(Some).map_err(|e| e.in_field(name)),
        None => Ok(None),
    }
}

/// Member `name` read as `T`; if absent, [`FromJson::missing`] or an error.
pub fn required<T: FromJson>(object: &Object, name: &str) -> Result<T, Error> {
    match optional(object, name)? {
        Some(value) => Ok(value),
        None => T::missing().ok_or_else(|| Error::missing_field(name)),
    }
}

/// Rejects members other than `expected`.
pub fn deny_unknown_fields(object: &Object, expected: &'static [&'static str]) -> Result<(), Error> {
    match object.keys().find(|key| !expected.contains(key)) {
        Some(key) => Err(Error::unknown_field(key, expected)),
        None => Ok(()),
    }
}
