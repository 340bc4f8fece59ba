//! Why a request's claims could not be copied: one stable name per reason,
//! used in the `decode_failed.<reason>` counters, the local response and
//! the logs.

use core::fmt;

/// Why decoding failed for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The source header is absent or holds no token.
    MissingToken,
    /// The source header does not start with the configured prefix.
    BadPrefix,
    /// The token is longer than `max_token_bytes`.
    TokenTooLarge,
    /// The token is not a compact JWS (`header.payload.signature`).
    MalformedJwt,
    /// The payload is not strict base64url.
    BadBase64,
    /// The decoded payload is not JSON (or not UTF-8).
    BadJson,
    /// The payload is JSON but not an object.
    NotAnObject,
    /// A required claim is absent (or `null`).
    ClaimMissing,
    /// A claim is an object, or an array holding something other than
    /// strings, numbers and booleans.
    ClaimType,
    /// A claim's text would be an invalid header value (control characters).
    ClaimInvalid,
    /// A claim's text is longer than `max_value_bytes`.
    ClaimTooLarge,
}

impl Reason {
    /// Every reason, in a fixed order (the index of [`Reason::index`]).
    pub const ALL: [Reason; 11] = [
        Reason::MissingToken,
        Reason::BadPrefix,
        Reason::TokenTooLarge,
        Reason::MalformedJwt,
        Reason::BadBase64,
        Reason::BadJson,
        Reason::NotAnObject,
        Reason::ClaimMissing,
        Reason::ClaimType,
        Reason::ClaimInvalid,
        Reason::ClaimTooLarge,
    ];

    /// The stable name (metric suffix, response detail).
    pub const fn name(self) -> &'static str {
        match self {
            Reason::MissingToken => "missing_token",
            Reason::BadPrefix => "bad_prefix",
            Reason::TokenTooLarge => "token_too_large",
            Reason::MalformedJwt => "malformed_jwt",
            Reason::BadBase64 => "bad_base64",
            Reason::BadJson => "bad_json",
            Reason::NotAnObject => "not_an_object",
            Reason::ClaimMissing => "claim_missing",
            Reason::ClaimType => "claim_type",
            Reason::ClaimInvalid => "claim_invalid",
            Reason::ClaimTooLarge => "claim_too_large",
        }
    }

    /// The position in [`Reason::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_index_order_and_names_are_unique_snake_case() {
        for (i, reason) in Reason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i);
            assert!(
                reason.name().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{reason}"
            );
        }
        let mut names: alloc::vec::Vec<_> = Reason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Reason::ALL.len());
    }
}
