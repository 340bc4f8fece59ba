//! Errors that say where (the field path) and what (the problem).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::Value;

/// Why JSON could not be read or converted, and where.
///
/// Its `Display` names the field path and the problem, for example
/// `field "rules[2].direction": expected one of "inbound", "outbound", found "sideways"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: Box<ErrorKind>,
    /// Innermost segment first (segments are added as the error propagates out).
    path: Vec<Segment>,
}

/// One step of the path to the value an error is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// An object member.
    Field(String),
    /// An array element.
    Index(usize),
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is not JSON.
    Syntax {
        /// 1-based line of the offending byte.
        line: usize,
        /// 1-based column (in bytes) of the offending byte.
        column: usize,
        /// What the parser expected there.
        expected: &'static str,
    },
    /// The value has the wrong type (`expected` reads "a string", "an array", ...).
    InvalidType {
        /// What was expected.
        expected: &'static str,
        /// A short rendering of what was found.
        found: String,
    },
    /// A string that is not one of the accepted names.
    UnknownVariant {
        /// The accepted names.
        expected: &'static [&'static str],
        /// What was found.
        found: String,
    },
    /// A required member is absent.
    MissingField,
    /// A member that the type does not have (when unknown fields are denied).
    UnknownField {
        /// The accepted member names.
        expected: &'static [&'static str],
    },
    /// A problem described by a custom [`FromJson`](super::FromJson) implementation.
    Custom(String),
}

impl Error {
    fn new(kind: ErrorKind) -> Error {
        Error { kind: Box::new(kind), path: Vec::new() }
    }

    pub(crate) fn syntax(input: &[u8], offset: usize, expected: &'static str) -> Error {
        let before = &input[..offset.min(input.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.len() - before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        Error::new(ErrorKind::Syntax { line, column, expected })
    }

    /// `value` is not of the `expected` kind ("a string", "an integer from 0 to 255", ...).
    pub fn invalid_type(expected: &'static str, value: &Value) -> Error {
        Error::new(ErrorKind::InvalidType { expected, found: describe(value) })
    }

    /// `found` is not one of the `expected` names.
    pub fn unknown_variant(found: &str, expected: &'static [&'static str]) -> Error {
        Error::new(ErrorKind::UnknownVariant { expected, found: String::from(found) })
    }

    /// The required member `name` is absent.
    pub fn missing_field(name: &str) -> Error {
        Error::new(ErrorKind::MissingField).in_field(name)
    }

    /// The member `name` is not one of `expected`.
    pub fn unknown_field(name: &str, expected: &'static [&'static str]) -> Error {
        Error::new(ErrorKind::UnknownField { expected }).in_field(name)
    }

    /// Any other problem, described in words.
    pub fn custom(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Custom(message.into()))
    }

    /// Says that the error is about the member `name` of the current value.
    pub fn in_field(mut self, name: &str) -> Error {
        self.path.push(Segment::Field(String::from(name)));
        self
    }

    /// Says that the error is about element `index` of the current value.
    pub fn at_index(mut self, index: usize) -> Error {
        self.path.push(Segment::Index(index));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The path to the offending value, outermost first.
    pub fn path(&self) -> impl Iterator<Item = &Segment> {
        self.path.iter().rev()
    }

    /// The path as text (`rules[2].cluster`), empty for the document itself.
    pub fn path_string(&self) -> String {
        use fmt::Write;
        let mut out = String::new();
        for segment in self.path() {
            let _ = match segment {
                Segment::Field(name) if out.is_empty() => write!(out, "{name}"),
                Segment::Field(name) => write!(out, ".{name}"),
                Segment::Index(index) => write!(out, "[{index}]"),
            };
        }
        out
    }
}

/// A short rendering of a value for error messages.
fn describe(value: &Value) -> String {
    use fmt::Write;
    let mut out = String::new();
    let _ = match value {
        Value::Null => write!(out, "null"),
        Value::Bool(b) => write!(out, "{b}"),
        Value::Number(n) => write!(out, "{}", n.as_str()),
        Value::String(s) => {
            const MAX: usize = 40;
            match s.char_indices().nth(MAX) {
                Some((end, _)) => write!(out, "{:?}...", &s[..end]),
                None => write!(out, "{s:?}"),
            }
        }
        Value::Array(_) => write!(out, "an array"),
        Value::Object(_) => write!(out, "an object"),
    };
    out
}

fn write_names(f: &mut fmt::Formatter<'_>, names: &[&str]) -> fmt::Result {
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{name:?}")?;
    }
    Ok(())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "field {:?}: ", self.path_string())?;
        }
        match &*self.kind {
            ErrorKind::Syntax { line, column, expected } => {
                write!(f, "invalid JSON at line {line}, column {column}: expected {expected}")
            }
            ErrorKind::InvalidType { expected, found } => write!(f, "expected {expected}, found {found}"),
            ErrorKind::UnknownVariant { expected, found } => {
                f.write_str("expected one of ")?;
                write_names(f, expected)?;
                write!(f, ", found {found:?}")
            }
            ErrorKind::MissingField => f.write_str("required, but missing"),
            ErrorKind::UnknownField { expected: [] } => f.write_str("unknown field; this object has no fields"),
            ErrorKind::UnknownField { expected } => {
                f.write_str("unknown field; expected one of ")?;
                write_names(f, expected)
            }
            ErrorKind::Custom(message) => f.write_str(message),
        }
    }
}

impl core::error::Error for Error {}
