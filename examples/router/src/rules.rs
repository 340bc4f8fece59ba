//! The routing table as the plugin runs it: ordered rules, first match wins,
//! and the header edits a matching rule asks for. Pure: requests are read
//! through [`Inputs`], so everything here is unit-tested without a host.
//!
//! Values are compared as bytes, never decoded: a header that is not UTF-8
//! simply does not equal (or start with) a configured text.

use alloc::string::String;
use alloc::vec::Vec;

use crate::hash;

/// The validated configuration: rules, where the decision goes, and when to
/// clear the route cache. Built from JSON by [`crate::config`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routes {
    /// The rules, in the order they are tried.
    pub rules: Vec<Rule>,
    /// The request header that carries the chosen cluster (for a route with
    /// `cluster_header`); client-sent copies are always removed.
    pub cluster_header: String,
    /// When to call the `clear_route_cache` foreign function.
    pub clear_route_cache: ClearRouteCache,
    /// Whether rule clusters are Envoy cluster names (consumed by a route's
    /// `cluster_header`), so that a request that went to another cluster is
    /// worth a warning.
    pub verify_cluster: bool,
    /// The proxy the plugin runs in.
    pub host: Host,
}

/// The proxy the plugin runs in, where hosts differ in what a plugin can do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Host {
    /// Envoy (and Istio): the default.
    #[default]
    Envoy,
    /// Kong's nginx module (ngx_wasm_module): `:authority` is read-only, there
    /// is no `clear_route_cache` foreign function (calling one traps the VM)
    /// and no `cluster_name` property. nginx chose the `location` before the
    /// filter ran; a `proxy_pass` with a variable (`$http_x_route_cluster`)
    /// reads the plugin's headers.
    Kong,
}

/// One rule: a condition and what to do when it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Its name in logs and metrics (`rule-<index>` unless configured).
    pub name: String,
    /// When it applies.
    pub when: Match,
    /// What it changes.
    pub then: Actions,
}

/// A rule's condition: every part that is present must hold (an empty match
/// matches every request).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Match {
    /// The `:path` must start with this (it starts with `/` and has no `?`).
    pub path_prefix: Option<String>,
    /// A condition on one request header.
    pub header: Option<HeaderMatch>,
}

/// A condition on one request header (its first value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderMatch {
    /// The header name (lowercase; pseudo-headers such as `:authority` allowed).
    pub name: String,
    /// The test its value must pass.
    pub test: HeaderTest,
}

/// What a header's value must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderTest {
    /// Present and byte-for-byte equal to this.
    Exact(String),
    /// Present and starting with this.
    Prefix(String),
    /// Present (`true`) or absent (`false`).
    Present(bool),
    /// Present and in the first `percent` of the 100 hash buckets (see [`hash`]).
    Percent {
        /// 0 to 100.
        percent: u8,
        /// Bytes hashed before the value, for independent splits.
        salt: String,
    },
}

/// The edits of a matching rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actions {
    /// Set the cluster header to this cluster.
    pub cluster: Option<String>,
    /// Rewrite `:authority`.
    pub authority: Option<AuthorityRewrite>,
    /// Replace the matched `path_prefix` with this prefix.
    pub path_prefix: Option<String>,
}

/// How `:authority` is rewritten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorityRewrite {
    /// Replace it with this value.
    Replace(String),
    /// Append this to it (`example.com` → `example.com-canary`), as the Go
    /// SDK's `http_routing` example does; nothing happens without `:authority`.
    Suffix(String),
}

/// When the plugin calls the `clear_route_cache` foreign function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClearRouteCache {
    /// When the plugin changed a request header that routing can depend on
    /// (including removing a client-sent cluster header).
    #[default]
    Auto,
    /// After every request, changed or not.
    Always,
    /// Never (the host clears it itself, or the plugin's edits must not re-route).
    Never,
}

impl ClearRouteCache {
    /// Whether to clear the cache after a request whose headers were
    /// (`changed`) or were not changed.
    pub fn should_clear(self, changed: bool) -> bool {
        match self {
            ClearRouteCache::Auto => changed,
            ClearRouteCache::Always => true,
            ClearRouteCache::Never => false,
        }
    }
}

/// Request headers, as the rules read them. `:path` and `:authority` are
/// headers too.
pub trait Inputs {
    /// The first value of the header `name` (lowercase), or `None`.
    fn header(&mut self, name: &str) -> Option<&[u8]>;
}

impl Match {
    /// Whether a request satisfies this condition.
    pub fn matches(&self, inputs: &mut impl Inputs) -> bool {
        if let Some(prefix) = &self.path_prefix {
            let path = inputs.header(":path").unwrap_or_default();
            if !path.starts_with(prefix.as_bytes()) {
                return false;
            }
        }
        match &self.header {
            Some(header) => header.test.accepts(inputs.header(&header.name)),
            None => true,
        }
    }
}

impl HeaderTest {
    /// Whether a header value (`None`: absent) passes.
    pub fn accepts(&self, value: Option<&[u8]>) -> bool {
        match (self, value) {
            (HeaderTest::Present(wanted), value) => value.is_some() == *wanted,
            (_, None) => false,
            (HeaderTest::Exact(expected), Some(value)) => value == expected.as_bytes(),
            (HeaderTest::Prefix(prefix), Some(value)) => value.starts_with(prefix.as_bytes()),
            (HeaderTest::Percent { percent, salt }, Some(value)) => hash::in_percent(salt.as_bytes(), value, *percent),
        }
    }
}

/// What to write for a decision; `None` fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan<'r> {
    /// The cluster to put in the cluster header.
    pub cluster: Option<&'r str>,
    /// The new `:authority`, with the old one.
    pub authority: Option<Rewrite>,
    /// The new `:path`, with the old one.
    pub path: Option<Rewrite>,
}

/// A header value before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// The value the request had.
    pub old: Vec<u8>,
    /// The value the plugin writes.
    pub new: Vec<u8>,
}

impl Routes {
    /// The index of the first rule the request matches.
    pub fn decide(&self, inputs: &mut impl Inputs) -> Option<usize> {
        self.rules.iter().position(|rule| rule.when.matches(inputs))
    }

    /// The edits rule `index` makes to this request (nothing for an unknown index).
    pub fn plan(&self, index: usize, inputs: &mut impl Inputs) -> Plan<'_> {
        let Some(rule) = self.rules.get(index) else { return Plan::default() };
        let authority = rule.then.authority.as_ref().and_then(|rewrite| {
            let old = inputs.header(":authority").map(<[u8]>::to_vec);
            let new = rewrite_authority(old.as_deref(), rewrite)?;
            Some(Rewrite { old: old.unwrap_or_default(), new })
        });
        let path = match (&rule.when.path_prefix, &rule.then.path_prefix) {
            (Some(from), Some(to)) => inputs.header(":path").and_then(|old| {
                let new = rewrite_path_prefix(old, from, to)?;
                Some(Rewrite { old: old.to_vec(), new })
            }),
            _ => None,
        };
        Plan { cluster: rule.then.cluster.as_deref(), authority, path }
    }
}

/// The new `:authority`, or `None` when there is nothing to change (a suffix
/// without an `:authority` to append it to, or a value already equal).
pub fn rewrite_authority(current: Option<&[u8]>, rewrite: &AuthorityRewrite) -> Option<Vec<u8>> {
    let new = match rewrite {
        AuthorityRewrite::Replace(value) => value.as_bytes().to_vec(),
        AuthorityRewrite::Suffix(suffix) => [current?, suffix.as_bytes()].concat(),
    };
    (current != Some(new.as_slice())).then_some(new)
}

/// `path` with its leading `from` replaced by `to`; the rest of the path and
/// the query string stay as they are. `None` if `path` does not start with
/// `from` or nothing would change.
pub fn rewrite_path_prefix(path: &[u8], from: &str, to: &str) -> Option<Vec<u8>> {
    let rest = path.strip_prefix(from.as_bytes())?;
    (from != to).then(|| [to.as_bytes(), rest].concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::borrow::ToOwned;
    use alloc::vec;

    /// A request as a list of headers.
    struct Headers(Vec<(&'static str, Vec<u8>)>);

    impl Inputs for Headers {
        fn header(&mut self, name: &str) -> Option<&[u8]> {
            self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_slice())
        }
    }

    fn request(pairs: &[(&'static str, &[u8])]) -> Headers {
        Headers(pairs.iter().map(|(n, v)| (*n, v.to_vec())).collect())
    }

    fn header(name: &str, test: HeaderTest) -> Match {
        Match { path_prefix: None, header: Some(HeaderMatch { name: name.to_owned(), test }) }
    }

    fn rule(name: &str, when: Match, then: Actions) -> Rule {
        Rule { name: name.to_owned(), when, then }
    }

    fn to_cluster(cluster: &str) -> Actions {
        Actions { cluster: Some(cluster.to_owned()), ..Actions::default() }
    }

    fn routes() -> Routes {
        Routes {
            rules: vec![
                rule("acme", header("x-tenant", HeaderTest::Exact("acme".into())), to_cluster("acme-backend")),
                rule(
                    "canary",
                    header("x-user-id", HeaderTest::Percent { percent: 10, salt: String::new() }),
                    Actions {
                        cluster: Some("canary".into()),
                        authority: Some(AuthorityRewrite::Suffix("-canary".into())),
                        path_prefix: None,
                    },
                ),
                rule(
                    "v1-to-v2",
                    Match { path_prefix: Some("/v1/".into()), header: None },
                    Actions { path_prefix: Some("/v2/".into()), ..Actions::default() },
                ),
                rule("beta", header("x-beta", HeaderTest::Present(true)), to_cluster("beta")),
            ],
            cluster_header: "x-route-cluster".into(),
            clear_route_cache: ClearRouteCache::Auto,
            verify_cluster: false,
            host: Host::Envoy,
        }
    }

    /// A user id in the canary's 10% and one outside, found by the formula.
    fn ids() -> (String, String) {
        let id = |n: u32| alloc::format!("user-{n}");
        let inside = (0..).map(id).find(|i| hash::bucket(b"", i.as_bytes()) < 10).unwrap_or_default();
        let outside = (0..).map(id).find(|i| hash::bucket(b"", i.as_bytes()) >= 10).unwrap_or_default();
        (inside, outside)
    }

    #[test]
    fn header_tests_compare_bytes() {
        assert!(HeaderTest::Exact("acme".into()).accepts(Some(b"acme")));
        assert!(!HeaderTest::Exact("acme".into()).accepts(Some(b"acme2")));
        assert!(!HeaderTest::Exact("acme".into()).accepts(Some(b"ACME")));
        assert!(!HeaderTest::Exact("acme".into()).accepts(None));
        assert!(HeaderTest::Prefix("ac".into()).accepts(Some(b"acme")));
        assert!(!HeaderTest::Prefix("me".into()).accepts(Some(b"acme")));
        assert!(HeaderTest::Present(true).accepts(Some(b"")));
        assert!(!HeaderTest::Present(true).accepts(None));
        assert!(HeaderTest::Present(false).accepts(None));
        assert!(!HeaderTest::Present(false).accepts(Some(b"x")));
        // Bytes that are not UTF-8 are values like any other.
        assert!(HeaderTest::Prefix("a".into()).accepts(Some(b"a\xff\xfe")));
        assert!(!HeaderTest::Exact("a".into()).accepts(Some(b"\xff")));
        assert!(!HeaderTest::Percent { percent: 100, salt: String::new() }.accepts(None));
        assert!(HeaderTest::Percent { percent: 100, salt: String::new() }.accepts(Some(b"\xff")));
    }

    #[test]
    fn first_matching_rule_wins() {
        let routes = routes();
        let (inside, _) = ids();
        // Both the tenant rule and the canary rule match: the tenant rule is first.
        let mut r = request(&[("x-tenant", b"acme"), ("x-user-id", inside.as_bytes()), (":path", b"/v1/x")]);
        assert_eq!(routes.decide(&mut r), Some(0));
        let mut r = request(&[("x-tenant", b"other"), ("x-user-id", inside.as_bytes()), (":path", b"/v1/x")]);
        assert_eq!(routes.decide(&mut r), Some(1));
        let mut r = request(&[(":path", b"/v1/x"), ("x-beta", b"1")]);
        assert_eq!(routes.decide(&mut r), Some(2));
        let mut r = request(&[(":path", b"/v3/x"), ("x-beta", b"")]);
        assert_eq!(routes.decide(&mut r), Some(3));
        let mut r = request(&[(":path", b"/v3/x")]);
        assert_eq!(routes.decide(&mut r), None);
    }

    #[test]
    fn percent_rule_follows_the_documented_bucket_formula() {
        let routes = routes();
        let (inside, outside) = ids();
        assert_eq!(routes.decide(&mut request(&[("x-user-id", inside.as_bytes())])), Some(1));
        assert_eq!(routes.decide(&mut request(&[("x-user-id", outside.as_bytes())])), None);
        // No id, no split.
        assert_eq!(routes.decide(&mut request(&[])), None);
    }

    #[test]
    fn all_parts_of_a_match_must_hold() {
        let when = Match {
            path_prefix: Some("/api/".into()),
            header: Some(HeaderMatch { name: ":method".into(), test: HeaderTest::Exact("POST".into()) }),
        };
        assert!(when.matches(&mut request(&[(":path", b"/api/x"), (":method", b"POST")])));
        assert!(!when.matches(&mut request(&[(":path", b"/api/x"), (":method", b"GET")])));
        assert!(!when.matches(&mut request(&[(":path", b"/other"), (":method", b"POST")])));
        assert!(!when.matches(&mut request(&[(":method", b"POST")])));
        assert!(Match::default().matches(&mut request(&[])));
    }

    #[test]
    fn plan_lists_every_edit_of_the_rule() {
        let routes = routes();
        let (inside, _) = ids();
        let mut r = request(&[(":authority", b"shop.example.com"), ("x-user-id", inside.as_bytes())]);
        let plan = routes.plan(1, &mut r);
        assert_eq!(plan.cluster, Some("canary"));
        assert_eq!(
            plan.authority,
            Some(Rewrite { old: b"shop.example.com".to_vec(), new: b"shop.example.com-canary".to_vec() })
        );
        assert_eq!(plan.path, None);

        let mut r = request(&[(":path", b"/v1/items/7?color=red&size=m")]);
        let plan = routes.plan(2, &mut r);
        assert_eq!(plan.cluster, None);
        assert_eq!(
            plan.path,
            Some(Rewrite {
                old: b"/v1/items/7?color=red&size=m".to_vec(),
                new: b"/v2/items/7?color=red&size=m".to_vec()
            })
        );
        assert_eq!(routes.plan(9, &mut r), Plan::default());
    }

    #[test]
    fn path_rewrite_keeps_the_rest_and_the_query() {
        assert_eq!(rewrite_path_prefix(b"/v1/a/b?q=1#f", "/v1/", "/v2/"), Some(b"/v2/a/b?q=1#f".to_vec()));
        assert_eq!(rewrite_path_prefix(b"/v1/", "/v1/", "/"), Some(b"/".to_vec()));
        assert_eq!(rewrite_path_prefix(b"/legacy/x", "/legacy", "/api/v2"), Some(b"/api/v2/x".to_vec()));
        assert_eq!(rewrite_path_prefix(b"/v1/\xff?\xfe", "/v1/", "/v2/"), Some(b"/v2/\xff?\xfe".to_vec()));
        assert_eq!(rewrite_path_prefix(b"/v2/a", "/v1/", "/v2/"), None);
        assert_eq!(rewrite_path_prefix(b"/v1/a", "/v1/", "/v1/"), None);
    }

    #[test]
    fn authority_rewrite_appends_or_replaces() {
        let suffix = AuthorityRewrite::Suffix("-canary".into());
        assert_eq!(rewrite_authority(Some(b"a.example"), &suffix), Some(b"a.example-canary".to_vec()));
        assert_eq!(rewrite_authority(Some(b"a:8080"), &suffix), Some(b"a:8080-canary".to_vec()));
        assert_eq!(rewrite_authority(None, &suffix), None);
        let replace = AuthorityRewrite::Replace("b.internal".into());
        assert_eq!(rewrite_authority(Some(b"a.example"), &replace), Some(b"b.internal".to_vec()));
        assert_eq!(rewrite_authority(None, &replace), Some(b"b.internal".to_vec()));
        assert_eq!(rewrite_authority(Some(b"b.internal"), &replace), None);
    }

    #[test]
    fn cache_modes() {
        assert!(ClearRouteCache::Auto.should_clear(true));
        assert!(!ClearRouteCache::Auto.should_clear(false));
        assert!(ClearRouteCache::Always.should_clear(false));
        assert!(!ClearRouteCache::Never.should_clear(true));
    }
}
