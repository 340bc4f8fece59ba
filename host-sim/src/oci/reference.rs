//! Image references: `[oci://]HOST[:PORT]/NAME[:TAG][@sha256:HEX]`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::{OciError, is_sha256_digest};

/// An image reference, as an `oci://` URL of a `WasmPlugin` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    inner: oci_client::Reference,
}

impl Reference {
    /// Parses `[oci://]HOST[:PORT]/NAME[:TAG][@sha256:HEX]` (no tag and no
    /// digest: `latest`). A digest must be `sha256:` and 64 lowercase hex
    /// digits, the only algorithm Istio caches by.
    pub fn parse(text: &str) -> Result<Reference, OciError> {
        let bare = text.strip_prefix("oci://").unwrap_or(text);
        if bare.is_empty() || bare.contains("://") {
            return Err(OciError::Reference(format!("{text:?}: expected [oci://]HOST/NAME[:TAG][@sha256:HEX]")));
        }
        if !bare.split('@').next().unwrap_or("").contains('/') {
            return Err(OciError::Reference(format!(
                "{text:?} names no registry: write HOST[:PORT]/NAME (e.g. 127.0.0.1:5000/{bare})"
            )));
        }
        let inner = oci_client::Reference::from_str(bare).map_err(|e| OciError::Reference(format!("{text:?}: {e}")))?;
        if let Some(digest) = inner.digest()
            && !is_sha256_digest(digest)
        {
            return Err(OciError::Reference(format!(
                "{text:?}: the digest must be sha256: and 64 lowercase hex digits"
            )));
        }
        Ok(Reference { inner })
    }

    /// The registry (`host[:port]`).
    pub fn registry(&self) -> &str {
        self.inner.resolve_registry()
    }

    /// The registry host, without the port.
    pub fn host(&self) -> &str {
        let registry = self.inner.registry();
        if let Some(rest) = registry.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        registry.rsplit_once(':').map_or(registry, |(host, _)| host)
    }

    /// Whether the registry is on a loopback address (`localhost`, `127.0.0.0/8`, `[::1]`).
    pub fn is_loopback(&self) -> bool {
        let host = self.host();
        host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The repository (`NAME`).
    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    /// The tag, if the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    /// The digest (`sha256:...`), if the reference has one.
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// The same image by digest.
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            inner: oci_client::Reference::with_digest(
                self.inner.registry().to_owned(),
                self.inner.repository().to_owned(),
                digest.to_owned(),
            ),
        }
    }

    /// The reference as the OCI client takes it.
    pub fn client_reference(&self) -> &oci_client::Reference {
        &self.inner
    }

    /// The `oci://` URL.
    pub fn url(&self) -> String {
        format!("oci://{}", self.inner.whole())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.whole())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_with_and_without_the_scheme() {
        let r = Reference::parse("oci://127.0.0.1:5000/plugins/router:v1").unwrap();
        assert_eq!(
            (r.registry(), r.host(), r.repository(), r.tag()),
            ("127.0.0.1:5000", "127.0.0.1", "plugins/router", Some("v1"))
        );
        assert!(r.is_loopback());
        assert_eq!(r.url(), "oci://127.0.0.1:5000/plugins/router:v1");
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("registry.example.com/p@{digest}")).unwrap();
        assert_eq!((r.digest(), r.tag(), r.is_loopback()), (Some(digest.as_str()), None, false));
        assert!(Reference::parse("localhost:5000/p").unwrap().is_loopback());
        assert_eq!(Reference::parse("localhost:5000/p").unwrap().tag(), Some("latest"));
    }

    #[test]
    fn bad_references_say_why() {
        let cases: [(&str, &str); 6] = [
            ("", "expected"),
            ("https://x/y", "expected"),
            ("router:v1", "names no registry"),
            ("127.0.0.1:5000/p@sha256:abc", "invalid reference format"),
            (&format!("127.0.0.1:5000/p@sha512:{}", "a".repeat(128)), "64 lowercase hex"),
            ("127.0.0.1:5000/P:v1", "127.0.0.1:5000/P:v1"),
        ];
        for (text, why) in cases {
            let err = Reference::parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
