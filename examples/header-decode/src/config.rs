//! The plugin configuration: read with `derive(Config)`, each value checked
//! as it is read (header names, claim paths, status, limits), then checked
//! as a whole (no duplicate or forbidden target headers). Every error names
//! the field it is about, for example
//! `field "claims[1].header": expected an HTTP header name ..., found "x user"`.
//!
//! ```
//! use sluice_example_header_decode::config::{OnError, Settings};
//! let settings: Settings = sluice::json::from_config(br#"{
//!     "source": {"header": "authorization", "prefix": "Bearer "},
//!     "claims": [
//!         {"claim": "sub", "header": "x-user-id"},
//!         {"claim": "realm_access.roles", "header": "x-roles", "join": ","}
//!     ],
//!     "strip_source": false,
//!     "on_error": "reject",
//!     "reject_status": 401
//! }"#)?;
//! assert_eq!(settings.on_error, OnError::Reject);
//! assert_eq!(settings.claims[1].header.as_str(), "x-roles");
//! # Ok::<(), sluice::json::Error>(())
//! ```

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use sluice::Config;
use sluice::json::{self, FromJson, Value};

use crate::claims::{ClaimPath, is_header_value};

/// The most claim mappings a configuration may have.
pub const MAX_CLAIMS: usize = 32;
/// The default and the largest `max_token_bytes`.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8192;
/// The largest `max_token_bytes` (Envoy's default header limit is 60 KiB).
pub const LIMIT_MAX_TOKEN_BYTES: usize = 65536;
/// The default `max_value_bytes`.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1024;
/// The largest `max_value_bytes`.
pub const LIMIT_MAX_VALUE_BYTES: usize = 16384;

/// Target headers a claim may not be copied into: pseudo-headers are
/// refused separately; these would change how the request is framed or routed.
const FORBIDDEN_TARGETS: [&str; 8] =
    ["host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "proxy-connection"];

/// A lower-case HTTP header name (RFC 9110 token characters), or an
/// HTTP/2 pseudo-header such as `:path` (accepted only as a source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderName(String);

impl HeaderName {
    /// Checks and lower-cases a header name.
    pub fn parse(name: &str) -> Result<HeaderName, String> {
        let body = name.strip_prefix(':').unwrap_or(name);
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if body.is_empty() || name.len() > 256 || !body.bytes().all(token) {
            return Err(format!(
                "expected an HTTP header name (letters, digits and !#$%&'*+-.^_`|~, at most 256), found {name:?}"
            ));
        }
        Ok(HeaderName(name.to_ascii_lowercase()))
    }

    /// The name, lower-case.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn is_pseudo(&self) -> bool {
        self.0.starts_with(':')
    }
}

impl FromJson for HeaderName {
    fn from_json(value: &Value) -> Result<Self, json::Error> {
        HeaderName::parse(&String::from_json(value)?).map_err(json::Error::custom)
    }
}

/// A separator for array claims: up to 16 bytes of valid header text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Separator(String);

impl Separator {
    /// The separator text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Separator {
    fn default() -> Separator {
        Separator(String::from(","))
    }
}

impl FromJson for Separator {
    fn from_json(value: &Value) -> Result<Self, json::Error> {
        let text = String::from_json(value)?;
        if text.len() > 16 || !is_header_value(text.as_bytes()) {
            return Err(json::Error::custom(format!(
                "expected a separator of at most 16 bytes without control characters, found {text:?}"
            )));
        }
        Ok(Separator(text))
    }
}

/// The status of the local reply when `on_error` is `reject`: 400 to 599.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RejectStatus(u16);

impl RejectStatus {
    /// The HTTP status code.
    pub fn code(self) -> u16 {
        self.0
    }
}

impl FromJson for RejectStatus {
    fn from_json(value: &Value) -> Result<Self, json::Error> {
        match value.as_u64() {
            Some(code @ 400..=599) => Ok(RejectStatus(code as u16)),
            _ => Err(json::Error::invalid_type("an HTTP error status from 400 to 599", value)),
        }
    }
}

/// How the source header's value is encoded.
#[derive(Config, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// A compact JWS, `header.payload.signature`: the payload segment is decoded.
    Jwt,
    /// The whole value is the base64url JSON payload (Envoy's
    /// `forward_payload_header`, Istio's `outputPayloadToHeader`).
    #[sluice(rename = "base64url-json")]
    Base64urlJson,
}

/// Where the token comes from.
#[derive(Config, Clone, Debug, PartialEq, Eq)]
#[sluice(deny_unknown_fields)]
pub struct Source {
    /// The request header holding the token.
    pub header: HeaderName,
    /// A prefix before the token (`"Bearer "`), compared ignoring ASCII case.
    pub prefix: Option<String>,
    /// How the value is encoded (default `jwt`).
    #[sluice(default = Encoding::Jwt)]
    pub encoding: Encoding,
}

impl Default for Source {
    /// `Authorization: Bearer <jwt>`.
    fn default() -> Source {
        Source {
            header: HeaderName(String::from("authorization")),
            prefix: Some(String::from("Bearer ")),
            encoding: Encoding::Jwt,
        }
    }
}

/// One claim copied into one header.
#[derive(Config, Clone, Debug, PartialEq, Eq)]
#[sluice(deny_unknown_fields)]
pub struct Mapping {
    /// The claim: a name or a dotted path into nested objects.
    pub claim: ClaimPath,
    /// The request header to set.
    pub header: HeaderName,
    /// The separator for array claims (default `,`).
    #[sluice(default)]
    pub join: Separator,
    /// Whether an absent claim is an error (default `true`); an absent
    /// optional claim just leaves its header unset.
    #[sluice(default = true)]
    pub required: bool,
}

/// What to do when a request's claims cannot be copied.
#[derive(Config, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// Forward the request (without the failed headers; client copies are
    /// still removed).
    Pass,
    /// Answer with a local reply of `reject_status`.
    Reject,
}

/// The raw configuration, before the checks across fields.
#[derive(Config)]
#[sluice(deny_unknown_fields)]
struct Raw {
    #[sluice(default)]
    source: Source,
    claims: Vec<Mapping>,
    #[sluice(default)]
    strip_source: bool,
    #[sluice(default = OnError::Pass)]
    on_error: OnError,
    #[sluice(default = RejectStatus(401))]
    reject_status: RejectStatus,
    #[sluice(default = DEFAULT_MAX_TOKEN_BYTES)]
    max_token_bytes: usize,
    #[sluice(default = DEFAULT_MAX_VALUE_BYTES)]
    max_value_bytes: usize,
    #[sluice(default = String::from("header_decode"))]
    metric_prefix: String,
}

/// The checked plugin configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Where the token comes from.
    pub source: Source,
    /// The claims to copy, in order.
    pub claims: Vec<Mapping>,
    /// Remove the source header before forwarding.
    pub strip_source: bool,
    /// Pass or reject on failure.
    pub on_error: OnError,
    /// The local reply's status when rejecting.
    pub reject_status: RejectStatus,
    /// The largest token accepted, in bytes.
    pub max_token_bytes: usize,
    /// The longest header value a claim may produce, in bytes.
    pub max_value_bytes: usize,
    /// The prefix of the metric names.
    pub metric_prefix: String,
}

fn in_range(field: &str, value: usize, max: usize) -> Result<usize, json::Error> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(json::Error::custom(format!("expected a size from 1 to {max} bytes, found {value}")).in_field(field))
    }
}

fn check_prefix(prefix: &Option<String>) -> Result<(), json::Error> {
    match prefix {
        Some(p) if p.trim().is_empty() || p.len() > 64 || !is_header_value(p.as_bytes()) => Err(json::Error::custom(
            format!("expected a prefix of at most 64 bytes with visible characters, found {p:?}"),
        )
        .in_field("prefix")
        .in_field("source")),
        _ => Ok(()),
    }
}

fn check_claims(claims: &[Mapping], source: &HeaderName) -> Result<(), json::Error> {
    if claims.is_empty() || claims.len() > MAX_CLAIMS {
        return Err(json::Error::custom(format!(
            "expected from 1 to {MAX_CLAIMS} claim mappings, found {}",
            claims.len()
        ))
        .in_field("claims"));
    }
    for (i, mapping) in claims.iter().enumerate() {
        let header = &mapping.header;
        let problem = if header.is_pseudo() || FORBIDDEN_TARGETS.contains(&header.as_str()) {
            Some(format!("{:?} cannot be set from a claim (it frames or routes the request)", header.as_str()))
        } else if header == source {
            Some(format!("{:?} is the source header", header.as_str()))
        } else if claims[..i].iter().any(|earlier| earlier.header == *header) {
            Some(format!("{:?} is the target of an earlier mapping", header.as_str()))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(json::Error::custom(problem).in_field("header").at_index(i).in_field("claims"));
        }
    }
    Ok(())
}

fn check_metric_prefix(prefix: &str) -> Result<(), json::Error> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    if prefix.is_empty() || prefix.len() > 64 || !prefix.bytes().all(ok) {
        return Err(json::Error::custom(format!("expected 1 to 64 letters, digits, '_' or '.', found {prefix:?}"))
            .in_field("metric_prefix"));
    }
    Ok(())
}

impl FromJson for Settings {
    fn from_json(value: &Value) -> Result<Self, json::Error> {
        let raw = Raw::from_json(value)?;
        check_prefix(&raw.source.prefix)?;
        check_claims(&raw.claims, &raw.source.header)?;
        check_metric_prefix(&raw.metric_prefix)?;
        Ok(Settings {
            max_token_bytes: in_range("max_token_bytes", raw.max_token_bytes, LIMIT_MAX_TOKEN_BYTES)?,
            max_value_bytes: in_range("max_value_bytes", raw.max_value_bytes, LIMIT_MAX_VALUE_BYTES)?,
            source: raw.source,
            claims: raw.claims,
            strip_source: raw.strip_source,
            on_error: raw.on_error,
            reject_status: raw.reject_status,
            metric_prefix: raw.metric_prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn load(config: &str) -> Result<Settings, String> {
        json::from_config::<Settings>(config.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_fill_everything_but_the_claims() {
        let s = load(r#"{"claims": [{"claim": "sub", "header": "X-User-Id"}]}"#).unwrap();
        assert_eq!(s.source, Source::default());
        assert_eq!(s.claims[0].header.as_str(), "x-user-id", "names are lower-cased");
        assert_eq!(s.claims[0].join.as_str(), ",");
        assert!(s.claims[0].required);
        assert!(!s.strip_source);
        assert_eq!(s.on_error, OnError::Pass);
        assert_eq!(s.reject_status.code(), 401);
        assert_eq!((s.max_token_bytes, s.max_value_bytes), (DEFAULT_MAX_TOKEN_BYTES, DEFAULT_MAX_VALUE_BYTES));
        assert_eq!(s.metric_prefix, "header_decode");
    }

    #[test]
    fn a_payload_header_source() {
        let s = load(
            r#"{"source": {"header": "x-jwt-payload", "encoding": "base64url-json"},
                "claims": [{"claim": "a.b", "header": "x-b", "join": ";", "required": false}],
                "strip_source": true, "on_error": "reject", "reject_status": 403,
                "max_token_bytes": 100, "max_value_bytes": 10, "metric_prefix": "jwt.claims"}"#,
        )
        .unwrap();
        assert_eq!(s.source.encoding, Encoding::Base64urlJson);
        assert_eq!(s.source.prefix, None);
        assert_eq!(s.claims[0].claim.segments(), ["a", "b"]);
        assert!(!s.claims[0].required);
        assert_eq!((s.reject_status.code(), s.max_token_bytes, s.max_value_bytes), (403, 100, 10));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{}"#, r#"field "claims": required"#),
            (r#"{"claims": []}"#, r#"field "claims": expected from 1 to 32 claim mappings, found 0"#),
            (r#"{"claims": [{"claim": "sub"}]}"#, r#"field "claims[0].header": required"#),
            (r#"{"claims": [{"claim": "", "header": "x"}]}"#, r#"field "claims[0].claim": expected a claim name"#),
            (
                r#"{"claims": [{"claim": "a", "header": "x y"}]}"#,
                r#"field "claims[0].header": expected an HTTP header"#,
            ),
            (
                r#"{"claims": [{"claim": "a", "header": "x-a"}, {"claim": "b", "header": "X-A"}]}"#,
                r#"field "claims[1].header": "x-a" is the target of an earlier mapping"#,
            ),
            (
                r#"{"claims": [{"claim": "a", "header": "authorization"}]}"#,
                r#"field "claims[0].header": "authorization" is the source"#,
            ),
            (
                r#"{"claims": [{"claim": "a", "header": ":path"}]}"#,
                r#"field "claims[0].header": ":path" cannot be set"#,
            ),
            (r#"{"claims": [{"claim": "a", "header": "host"}]}"#, r#"field "claims[0].header": "host" cannot be set"#),
            (
                r#"{"claims": [{"claim": "a", "header": "x", "join": "\n"}]}"#,
                r#"field "claims[0].join": expected a separator"#,
            ),
            (
                r#"{"claims": [{"claim": "a", "header": "x", "requird": true}]}"#,
                r#"field "claims[0].requird": unknown field"#,
            ),
            (
                r#"{"on_error": "drop", "claims": []}"#,
                r#"field "on_error": expected one of "pass", "reject", found "drop""#,
            ),
            (
                r#"{"reject_status": 200, "claims": []}"#,
                r#"field "reject_status": expected an HTTP error status from 400 to 599, found 200"#,
            ),
            (
                r#"{"source": {"header": "a", "encoding": "jwe"}, "claims": []}"#,
                r#"field "source.encoding": expected one of "jwt", "base64url-json""#,
            ),
            (r#"{"source": {"prefix": "Bearer "}, "claims": []}"#, r#"field "source.header": required"#),
            (
                r#"{"source": {"header": "a", "prefix": " "}, "claims": [{"claim": "a", "header": "x"}]}"#,
                r#"field "source.prefix": expected a prefix"#,
            ),
            (
                r#"{"max_token_bytes": 0, "claims": [{"claim": "a", "header": "x"}]}"#,
                r#"field "max_token_bytes": expected a size from 1 to 65536 bytes, found 0"#,
            ),
            (
                r#"{"max_value_bytes": 99999, "claims": [{"claim": "a", "header": "x"}]}"#,
                r#"field "max_value_bytes": expected a size from 1 to 16384"#,
            ),
            (
                r#"{"metric_prefix": "a b", "claims": [{"claim": "a", "header": "x"}]}"#,
                r#"field "metric_prefix": expected 1 to 64"#,
            ),
            (r#"{"strip-source": true, "claims": []}"#, r#"field "strip-source": unknown field"#),
            (r#"{"claims": [#]}"#, "invalid JSON at line 1, column 13"),
        ];
        for (config, expected) in cases {
            let err = load(config).unwrap_err();
            assert!(err.starts_with(expected), "{config}\n  gave: {err}\n  want: {expected}...");
        }
    }

    #[test]
    fn the_readme_configuration_is_valid() {
        let readme = include_str!("../README.md");
        let block = readme.split("```json\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap();
        let s = load(block).unwrap();
        assert_eq!(s.claims.len(), 3);
        assert!(!s.claims[1].required);
        assert_eq!(s.on_error, OnError::Reject);
    }

    #[test]
    fn at_most_32_claims() {
        let mapping = |i: usize| alloc::format!(r#"{{"claim": "c{i}", "header": "x-c{i}"}}"#);
        let config =
            |n: usize| alloc::format!(r#"{{"claims": [{}]}}"#, (0..n).map(mapping).collect::<Vec<_>>().join(","));
        assert_eq!(load(&config(MAX_CLAIMS)).unwrap().claims.len(), MAX_CLAIMS);
        assert!(load(&config(MAX_CLAIMS + 1)).unwrap_err().contains("expected from 1 to 32 claim mappings, found 33"));
    }
}
