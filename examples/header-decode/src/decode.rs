//! The decision for one request, without touching the host: from the
//! source header's bytes to the headers to set, or why not.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use sluice::json::{self, Value};

use crate::base64url;
use crate::claims;
use crate::config::{HeaderName, Settings};
use crate::reason::Reason;
use crate::token::{self, Extract};

/// A failure, with a detail for the logs (never sent to the client).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Why.
    pub reason: Reason,
    /// What exactly, for the logs.
    pub detail: String,
}

impl Failure {
    fn new(reason: Reason, detail: impl Into<String>) -> Failure {
        Failure { reason, detail: detail.into() }
    }
}

/// What to do with one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome<'s> {
    /// The headers to set, in mapping order.
    pub headers: Vec<(&'s HeaderName, String)>,
    /// The first failure, if any. Claims after a failed one are still
    /// rendered, so that `on_error: pass` sets every header it can.
    pub failure: Option<Failure>,
}

/// The decoded payload object in the source header's value.
fn payload(settings: &Settings, value: Option<&[u8]>) -> Result<Value, Failure> {
    let value = value.ok_or_else(|| Failure::new(Reason::MissingToken, "no source header"))?;
    let extract = Extract {
        prefix: settings.source.prefix.as_deref(),
        encoding: settings.source.encoding,
        max_token_bytes: settings.max_token_bytes,
    };
    let encoded = token::payload(value, &extract).map_err(|reason| {
        let detail = match reason {
            Reason::TokenTooLarge => format!("token larger than {} bytes", settings.max_token_bytes),
            Reason::MissingToken => String::from("the source header holds no token"),
            Reason::BadPrefix => String::from("the source header does not start with the configured prefix"),
            Reason::MalformedJwt => String::from("the token is not header.payload.signature"),
            _ => String::from("the token cannot be read"),
        };
        Failure::new(reason, detail)
    })?;
    let bytes = base64url::decode(encoded).map_err(|e| Failure::new(Reason::BadBase64, format!("{e}")))?;
    let payload = json::parse(&bytes).map_err(|e| Failure::new(Reason::BadJson, format!("{e}")))?;
    if payload.as_object().is_none() {
        return Err(Failure::new(Reason::NotAnObject, "the payload is not a JSON object"));
    }
    Ok(payload)
}

/// Decides what one request gets, from the source header's value (`None`
/// when the header is absent).
pub fn decide<'s>(settings: &'s Settings, value: Option<&[u8]>) -> Outcome<'s> {
    let payload = match payload(settings, value) {
        Ok(payload) => payload,
        Err(failure) => return Outcome { headers: Vec::new(), failure: Some(failure) },
    };
    let mut outcome = Outcome::default();
    for mapping in &settings.claims {
        let rendered = match mapping.claim.lookup(&payload) {
            Some(value) => claims::render(value, mapping.join.as_str(), settings.max_value_bytes),
            None if mapping.required => Err(Reason::ClaimMissing),
            None => continue,
        };
        match rendered {
            Ok(text) => outcome.headers.push((&mapping.header, text)),
            Err(reason) => {
                if outcome.failure.is_none() {
                    outcome.failure = Some(Failure::new(reason, format!("claim {}", mapping.claim)));
                }
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(claims: &str) -> Settings {
        json::from_config(alloc::format!(r#"{{"claims": {claims}}}"#).as_bytes()).unwrap()
    }

    /// `Bearer <header>.<payload>.<signature>` with this payload JSON.
    fn bearer(payload: &str) -> Vec<u8> {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut encoded = String::new();
        for chunk in payload.as_bytes().chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                encoded.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            }
        }
        alloc::format!("Bearer eyJhbGciOiJSUzI1NiJ9.{encoded}.c2ln").into_bytes()
    }

    fn names<'a>(outcome: &'a Outcome<'_>) -> Vec<(&'a str, &'a str)> {
        outcome.headers.iter().map(|(h, v)| (h.as_str(), v.as_str())).collect()
    }

    #[test]
    fn copies_every_mapped_claim() {
        let s = settings(
            r#"[{"claim": "sub", "header": "x-user-id"}, {"claim": "realm_access.roles", "header": "x-roles", "join": " "},
                {"claim": "email_verified", "header": "x-verified"}]"#,
        );
        let token = bearer(r#"{"sub": "alice", "realm_access": {"roles": ["dev", "ops"]}, "email_verified": true}"#);
        let outcome = decide(&s, Some(&token));
        assert_eq!(outcome.failure, None);
        assert_eq!(names(&outcome), [("x-user-id", "alice"), ("x-roles", "dev ops"), ("x-verified", "true")]);
    }

    #[test]
    fn token_level_failures_set_nothing() {
        let s = settings(r#"[{"claim": "sub", "header": "x-user-id"}]"#);
        let cases: [(Option<&[u8]>, Reason); 6] = [
            (None, Reason::MissingToken),
            (Some(b"Basic abc"), Reason::BadPrefix),
            (Some(b"Bearer abc"), Reason::MalformedJwt),
            (Some(b"Bearer h.not*base64.s"), Reason::BadBase64),
            (Some(b"Bearer h.bm90IGpzb24.s"), Reason::BadJson),
            (Some(b"Bearer h.WzFd.s"), Reason::NotAnObject),
        ];
        for (value, reason) in cases {
            let outcome = decide(&s, value);
            assert!(outcome.headers.is_empty());
            assert_eq!(outcome.failure.map(|f| f.reason), Some(reason), "{value:?}");
        }
        let huge = [b"Bearer ".as_slice(), &[b'a'; 9000]].concat();
        assert_eq!(decide(&s, Some(&huge)).failure.unwrap().reason, Reason::TokenTooLarge);
    }

    #[test]
    fn a_failed_claim_does_not_stop_the_others() {
        let s = settings(
            r#"[{"claim": "sub", "header": "x-user-id"}, {"claim": "tenant", "header": "x-tenant"},
                {"claim": "obj", "header": "x-obj"}, {"claim": "groups", "header": "x-groups"}]"#,
        );
        let outcome = decide(&s, Some(&bearer(r#"{"sub": "bob", "obj": {}, "groups": ["a"]}"#)));
        assert_eq!(names(&outcome), [("x-user-id", "bob"), ("x-groups", "a")]);
        let failure = outcome.failure.unwrap();
        assert_eq!(failure.reason, Reason::ClaimMissing, "the first failure is reported");
        assert_eq!(failure.detail, "claim tenant");
    }

    #[test]
    fn optional_claims_may_be_absent() {
        let s = settings(
            r#"[{"claim": "sub", "header": "x-user-id"}, {"claim": "tenant", "header": "x-tenant", "required": false}]"#,
        );
        let outcome = decide(&s, Some(&bearer(r#"{"sub": "carol", "tenant": null}"#)));
        assert_eq!(outcome.failure, None);
        assert_eq!(names(&outcome), [("x-user-id", "carol")]);
    }

    #[test]
    fn invalid_utf8_in_the_payload_is_bad_json() {
        let s = settings(r#"[{"claim": "sub", "header": "x-user-id"}]"#);
        // base64url of {"sub":"<0xff>"}
        let outcome = decide(&s, Some(b"Bearer h.eyJzdWIiOiL_In0.s"));
        assert_eq!(outcome.failure.unwrap().reason, Reason::BadJson);
    }
}
