//! Claims: dotted paths into the payload (`realm_access.roles`) and the
//! header text of a claim's value.
//!
//! * strings are copied as they are;
//! * numbers keep their JSON text (`1700000000`, `1.5`, `-3`);
//! * booleans become `true` / `false`;
//! * arrays of those are joined with the mapping's separator;
//! * `null` counts as absent; objects and nested arrays are refused.
//!
//! The text must be a valid header value: no control characters other than
//! tab (so a claim cannot smuggle a `\r\n` into the request), and at most
//! the configured number of bytes.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use sluice::json::{self, FromJson, Value};

use crate::reason::Reason;

/// The most segments a claim path may have.
pub const MAX_PATH_SEGMENTS: usize = 16;

/// A claim path: object keys separated by dots (`realm_access.roles`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimPath(Vec<String>);

impl ClaimPath {
    /// Parses a dotted path.
    pub fn parse(path: &str) -> Result<ClaimPath, &'static str> {
        if path.is_empty() {
            return Err("expected a claim name or dotted path, found an empty string");
        }
        let segments: Vec<String> = path.split('.').map(String::from).collect();
        if segments.iter().any(String::is_empty) {
            return Err("expected a dotted claim path without empty segments (no leading, trailing or double dots)");
        }
        if segments.len() > MAX_PATH_SEGMENTS {
            return Err("expected a claim path of at most 16 segments");
        }
        Ok(ClaimPath(segments))
    }

    /// The keys, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// The claim's value in `payload`; `None` if a key is absent, a step is
    /// not an object, or the value is `null`.
    pub fn lookup<'v>(&self, payload: &'v Value) -> Option<&'v Value> {
        payload.pointer(&self.0).filter(|value| !value.is_null())
    }
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(segment)?;
        }
        Ok(())
    }
}

impl FromJson for ClaimPath {
    fn from_json(value: &Value) -> Result<Self, json::Error> {
        let text = String::from_json(value)?;
        ClaimPath::parse(&text).map_err(json::Error::custom)
    }
}

/// Whether `bytes` may appear in a header value: visible characters, space,
/// tab and non-ASCII (obs-text), but no other control character.
pub fn is_header_value(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Appends the text of a scalar; `Err` for anything else.
fn push_scalar(out: &mut String, value: &Value) -> Result<(), Reason> {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Number(n) => out.push_str(n.as_str()),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Null | Value::Array(_) | Value::Object(_) => return Err(Reason::ClaimType),
    }
    Ok(())
}

/// The header text of a claim value, at most `max_bytes` long.
pub fn render(value: &Value, separator: &str, max_bytes: usize) -> Result<String, Reason> {
    let mut out = String::new();
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(separator);
                }
                push_scalar(&mut out, item)?;
                // Stop early: a huge array must not build a huge string.
                if out.len() > max_bytes {
                    return Err(Reason::ClaimTooLarge);
                }
            }
        }
        scalar => push_scalar(&mut out, scalar)?,
    }
    if !is_header_value(out.as_bytes()) {
        return Err(Reason::ClaimInvalid);
    }
    if out.len() > max_bytes {
        return Err(Reason::ClaimTooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn payload() -> Value {
        json::parse(
            br#"{
                "sub": "alice",
                "exp": 1700000000,
                "score": -1.5e3,
                "admin": false,
                "nothing": null,
                "realm_access": {"roles": ["dev", "ops"], "level": {"n": 3}},
                "mixed": ["a", 1, true],
                "nested_array": [["a"]],
                "objects": [{"a": 1}],
                "empty": [],
                "evil": "x\r\nset-cookie: y",
                "tabbed": "a\tb",
                "unicode": "caf\u00e9"
            }"#,
        )
        .unwrap()
    }

    fn claim(path: &str) -> Result<String, Reason> {
        let payload = payload();
        let value = ClaimPath::parse(path).unwrap().lookup(&payload).ok_or(Reason::ClaimMissing)?;
        render(value, ",", 64)
    }

    #[test]
    fn paths_parse_and_display() {
        let path = ClaimPath::parse("realm_access.roles").unwrap();
        assert_eq!(path.segments(), ["realm_access", "roles"]);
        assert_eq!(path.to_string(), "realm_access.roles");
        // Dots always split keys, as in Envoy's claim_to_headers.
        assert_eq!(ClaimPath::parse("https://example.com/x").unwrap().segments(), ["https://example", "com/x"]);
        for bad in ["", ".sub", "sub.", "a..b", "."] {
            assert!(ClaimPath::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ClaimPath::parse(&["a"; 16].join(".")).is_ok());
        assert!(ClaimPath::parse(&["a"; 17].join(".")).is_err());
    }

    #[test]
    fn scalars_render_as_text() {
        assert_eq!(claim("sub").unwrap(), "alice");
        assert_eq!(claim("exp").unwrap(), "1700000000");
        assert_eq!(claim("score").unwrap(), "-1.5e3", "numbers keep their JSON text");
        assert_eq!(claim("admin").unwrap(), "false");
        assert_eq!(claim("unicode").unwrap(), "café");
        assert_eq!(claim("tabbed").unwrap(), "a\tb");
    }

    #[test]
    fn nested_paths_and_arrays() {
        assert_eq!(claim("realm_access.roles").unwrap(), "dev,ops");
        assert_eq!(claim("mixed").unwrap(), "a,1,true");
        assert_eq!(claim("empty").unwrap(), "");
        let payload = payload();
        let roles = ClaimPath::parse("realm_access.roles").unwrap().lookup(&payload).unwrap();
        assert_eq!(render(roles, " ", 64).unwrap(), "dev ops");
        assert_eq!(render(roles, "", 64).unwrap(), "devops");
    }

    #[test]
    fn absent_and_null_claims_are_missing() {
        assert_eq!(claim("nope"), Err(Reason::ClaimMissing));
        assert_eq!(claim("nothing"), Err(Reason::ClaimMissing));
        assert_eq!(claim("sub.deeper"), Err(Reason::ClaimMissing), "a string has no members");
        assert_eq!(claim("realm_access.nope"), Err(Reason::ClaimMissing));
    }

    #[test]
    fn objects_and_nested_arrays_are_refused() {
        assert_eq!(claim("realm_access"), Err(Reason::ClaimType));
        assert_eq!(claim("realm_access.level"), Err(Reason::ClaimType));
        assert_eq!(claim("nested_array"), Err(Reason::ClaimType));
        assert_eq!(claim("objects"), Err(Reason::ClaimType));
    }

    #[test]
    fn control_characters_cannot_reach_a_header() {
        assert_eq!(claim("evil"), Err(Reason::ClaimInvalid));
        assert!(!is_header_value(b"a\0b"));
        assert!(!is_header_value(b"a\x7fb"));
        assert!(is_header_value(b"caf\xc3\xa9 \t!~"));
    }

    #[test]
    fn values_longer_than_the_limit_are_refused() {
        let long = Value::String("x".repeat(65));
        assert_eq!(render(&long, ",", 64), Err(Reason::ClaimTooLarge));
        assert_eq!(render(&Value::String("x".repeat(64)), ",", 64).unwrap().len(), 64);
        let many = json::parse(alloc::format!("[{}]", ["\"abcdefgh\""; 100].join(",")).as_bytes()).unwrap();
        assert_eq!(render(&many, ",", 64), Err(Reason::ClaimTooLarge));
    }

    #[test]
    fn claim_paths_read_from_configuration_name_the_problem() {
        let err = json::from_slice::<ClaimPath>(br#""a..b""#).unwrap_err();
        assert!(err.to_string().contains("empty segments"), "{err}");
        let err = json::from_slice::<ClaimPath>(b"3").unwrap_err();
        assert_eq!(err.to_string(), "expected a string, found 3");
    }
}
