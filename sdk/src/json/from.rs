//! [`FromJson`]: typed extraction from a [`Value`].

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Error, Value};

/// A type that can be read from a JSON [`Value`].
///
/// [`derive(Config)`](crate::Config) implements it for structs (from objects,
/// field by field) and for enums of unit variants (from strings). Implement it
/// by hand for anything else; errors from nested values keep their path when
/// wrapped with [`Error::in_field`] / [`Error::at_index`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read from JSON configuration",
    label = "`{Self}` does not implement `sluice::json::FromJson`",
    note = "derive it with `#[derive(sluice::Config)]`, or implement `sluice::json::FromJson` by hand"
)]
pub trait FromJson: Sized {
    /// Reads `value`.
    fn from_json(value: &Value) -> Result<Self, Error>;

    /// The value to use when an object member of this type is absent:
    /// `None` (the default) makes the member required. `Option<T>` answers
    /// `Some(None)`, so optional fields need no annotation.
    fn missing() -> Option<Self> {
        None
    }
}

impl FromJson for Value {
    fn from_json(value: &Value) -> Result<Self, Error> {
        Ok(value.clone())
    }
}

impl FromJson for bool {
    fn from_json(value: &Value) -> Result<Self, Error> {
        value.as_bool().ok_or_else(|| Error::invalid_type("a boolean", value))
    }
}

impl FromJson for String {
    fn from_json(value: &Value) -> Result<Self, Error> {
        value.as_str().map(String::from).ok_or_else(|| Error::invalid_type("a string", value))
    }
}

macro_rules! unsigned {
    ($($t:ty => $expected:literal),* $(,)?) => {$(
        impl FromJson for $t {
            fn from_json(value: &Value) -> Result<Self, Error> {
                value.as_u64().and_then(|n| <$t>::try_from(n).ok()).ok_or_else(|| Error::invalid_type($expected, value))
            }
        }
    )*};
}

macro_rules! signed {
    ($($t:ty => $expected:literal),* $(,)?) => {$(
        impl FromJson for $t {
            fn from_json(value: &Value) -> Result<Self, Error> {
                value.as_i64().and_then(|n| <$t>::try_from(n).ok()).ok_or_else(|| Error::invalid_type($expected, value))
            }
        }
    )*};
}

unsigned! {
    u8 => "an integer from 0 to 255",
    u16 => "an integer from 0 to 65535",
    u32 => "an integer from 0 to 4294967295",
    u64 => "an integer from 0 to 18446744073709551615",
    usize => "a non-negative integer",
}

signed! {
    i8 => "an integer from -128 to 127",
    i16 => "an integer from -32768 to 32767",
    i32 => "an integer from -2147483648 to 2147483647",
    i64 => "an integer from -9223372036854775808 to 9223372036854775807",
    isize => "an integer",
}

impl FromJson for f64 {
    fn from_json(value: &Value) -> Result<Self, Error> {
        value.as_f64().ok_or_else(|| Error::invalid_type("a number", value))
    }
}

impl FromJson for f32 {
    fn from_json(value: &Value) -> Result<Self, Error> {
        // Rounding to the nearest f32 is the intent of an f32 field.
        value.as_f64().map(|f| f as f32).ok_or_else(|| Error::invalid_type("a number", value))
    }
}

/// `null` and an absent member both read as `None`.
impl<T: FromJson> FromJson for Option<T> {
    fn from_json(value: &Value) -> Result<Self, Error> {
        match value {
            Value::Null => Ok(None),
            value => T::from_json(value).map(Some),
        }
    }

    fn missing() -> Option<Self> {
        Some(None)
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let items = value.as_array().ok_or_else(|| Error::invalid_type("an array", value))?;
        items.iter().enumerate().map(|(i, item)| T::from_json(item).map_err(|e| e.at_index(i))).collect()
    }
}

/// An object whose members all have type `T` (for example extra dimensions:
/// `{"app": "request.headers['x-app']"}`).
impl<T: FromJson> FromJson for BTreeMap<String, T> {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let object = value.as_object().ok_or_else(|| Error::invalid_type("an object", value))?;
        object.iter().map(|(k, v)| Ok((String::from(k), T::from_json(v).map_err(|e| e.in_field(k))?))).collect()
    }
}

impl<T: FromJson> FromJson for Box<T> {
    fn from_json(value: &Value) -> Result<Self, Error> {
        T::from_json(value).map(Box::new)
    }
}

impl<T: FromJson> FromJson for Rc<T> {
    fn from_json(value: &Value) -> Result<Self, Error> {
        T::from_json(value).map(Rc::new)
    }
}
