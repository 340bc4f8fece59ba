//! Finding the encoded claims in the source header's value: strip the
//! configured prefix (`Bearer `), enforce the size limit, and take the
//! payload segment of a compact JWS (`header.payload.signature`) or the
//! whole value (a bare base64url JSON payload, as Envoy's
//! `forward_payload_header` writes it).
//!
//! Header values are bytes: nothing here assumes UTF-8.

use crate::config::Encoding;
use crate::reason::Reason;

/// Where the encoded payload is and how large it may be.
#[derive(Clone, Copy, Debug)]
pub struct Extract<'a> {
    /// The prefix before the token (compared ignoring ASCII case, as HTTP
    /// authentication schemes are), if any.
    pub prefix: Option<&'a str>,
    /// A JWT, or a bare payload.
    pub encoding: Encoding,
    /// The largest token (after the prefix) accepted, in bytes.
    pub max_token_bytes: usize,
}

fn is_ows(byte: &u8) -> bool {
    matches!(byte, b' ' | b'\t')
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !is_ows(b)).map_or(start, |p| p + 1);
    &bytes[start..end]
}

/// The token after the prefix, trimmed of optional whitespace.
fn token<'v>(value: &'v [u8], prefix: Option<&str>) -> Result<&'v [u8], Reason> {
    let value = trim(value);
    if value.is_empty() {
        return Ok(value);
    }
    let Some(prefix) = prefix.map(str::as_bytes) else { return Ok(value) };
    match value.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix) => Ok(trim(&value[prefix.len()..])),
        // "Bearer" with nothing after it: the scheme without a token.
        _ if value.eq_ignore_ascii_case(trim(prefix)) => Ok(&[]),
        _ => Err(Reason::BadPrefix),
    }
}

/// The base64url payload in a source header value, or why there is none.
pub fn payload<'v>(value: &'v [u8], extract: &Extract<'_>) -> Result<&'v [u8], Reason> {
    let token = token(value, extract.prefix)?;
    if token.is_empty() {
        return Err(Reason::MissingToken);
    }
    if token.len() > extract.max_token_bytes {
        return Err(Reason::TokenTooLarge);
    }
    match extract.encoding {
        Encoding::Base64urlJson => Ok(token),
        Encoding::Jwt => {
            // A JWS in compact serialization has exactly three segments; a
            // JWE has five, and its payload is encrypted.
            let mut segments = token.split(|&b| b == b'.');
            match (segments.next(), segments.next(), segments.next(), segments.next()) {
                (Some(header), Some(payload), Some(_signature), None) if !header.is_empty() && !payload.is_empty() => {
                    Ok(payload)
                }
                _ => Err(Reason::MalformedJwt),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEARER: Extract<'static> = Extract { prefix: Some("Bearer "), encoding: Encoding::Jwt, max_token_bytes: 64 };
    const BARE: Extract<'static> = Extract { prefix: None, encoding: Encoding::Base64urlJson, max_token_bytes: 64 };

    #[test]
    fn takes_the_middle_segment_of_a_bearer_jwt() {
        assert_eq!(payload(b"Bearer aGVhZA.cGF5bG9hZA.c2ln", &BEARER), Ok(&b"cGF5bG9hZA"[..]));
        // Unsecured JWTs (alg "none") have an empty signature segment.
        assert_eq!(payload(b"Bearer aGVhZA.cGF5bG9hZA.", &BEARER), Ok(&b"cGF5bG9hZA"[..]));
    }

    #[test]
    fn prefix_matches_ignoring_case_and_surrounding_whitespace() {
        assert_eq!(payload(b"  bearer   h.p.s \t", &BEARER), Ok(&b"p"[..]));
        assert_eq!(payload(b"BEARER h.p.s", &BEARER), Ok(&b"p"[..]));
    }

    #[test]
    fn a_missing_or_wrong_prefix_is_reported() {
        assert_eq!(payload(b"Basic dXNlcjpwYXNz", &BEARER), Err(Reason::BadPrefix));
        assert_eq!(payload(b"h.p.s", &BEARER), Err(Reason::BadPrefix));
        assert_eq!(payload(b"Bear", &BEARER), Err(Reason::BadPrefix));
    }

    #[test]
    fn an_empty_token_is_a_missing_token() {
        assert_eq!(payload(b"", &BEARER), Err(Reason::MissingToken));
        assert_eq!(payload(b"Bearer", &BEARER), Err(Reason::MissingToken));
        assert_eq!(payload(b"Bearer   ", &BEARER), Err(Reason::MissingToken));
        assert_eq!(payload(b" \t", &BARE), Err(Reason::MissingToken));
    }

    #[test]
    fn segment_count_and_empty_segments_are_checked() {
        for bad in [&b"Bearer onlyone"[..], b"Bearer a.b", b"Bearer a.b.c.d", b"Bearer a.b.c.d.e", b"Bearer .p.s"] {
            assert_eq!(payload(bad, &BEARER), Err(Reason::MalformedJwt), "{bad:?}");
        }
        assert_eq!(payload(b"Bearer h..s", &BEARER), Err(Reason::MalformedJwt));
    }

    #[test]
    fn the_size_limit_applies_to_the_token() {
        let mut value = b"Bearer ".to_vec();
        value.extend_from_slice(&[b'a'; 64]);
        assert_eq!(payload(&value, &BEARER), Err(Reason::MalformedJwt), "64 bytes is within the limit");
        value.push(b'a');
        assert_eq!(payload(&value, &BEARER), Err(Reason::TokenTooLarge));
    }

    #[test]
    fn a_bare_payload_is_taken_whole() {
        assert_eq!(payload(b" eyJhIjoxfQ ", &BARE), Ok(&b"eyJhIjoxfQ"[..]));
        let prefixed = Extract { prefix: Some("Payload "), ..BARE };
        assert_eq!(payload(b"payload eyJhIjoxfQ", &prefixed), Ok(&b"eyJhIjoxfQ"[..]));
    }

    #[test]
    fn non_utf8_bytes_pass_through_untouched() {
        assert_eq!(payload(b"Bearer \xff.\xfe\x80.\xc3", &BEARER), Ok(&b"\xfe\x80"[..]));
        assert_eq!(payload(b"\xffBearer h.p.s", &BEARER), Err(Reason::BadPrefix));
    }
}
