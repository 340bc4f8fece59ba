//! The plugin configuration: JSON read with `derive(Config)`, then checked
//! and turned into [`Routes`]. Every problem is an error that names the field
//! (`field "rules[1].match.percent": must be at most 100, found 150`), which
//! the SDK logs when it rejects the configuration.
//!
//! ```json
//! {
//!   "cluster_header": "x-route-cluster",
//!   "clear_route_cache": "auto",
//!   "rules": [
//!     {"name": "acme", "match": {"header": "x-tenant", "exact": "acme"}, "cluster": "acme-backend"},
//!     {"match": {"header": "x-user-id", "percent": 10}, "cluster": "canary", "authority_suffix": "-canary"},
//!     {"match": {"path_prefix": "/v1/"}, "rewrite_path_prefix": "/v2/"}
//!   ]
//! }
//! ```

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use sluice::Config;
use sluice::json::{Error, FromJson, Value};

use crate::rules::{Actions, AuthorityRewrite, ClearRouteCache, HeaderMatch, HeaderTest, Host, Match, Routes, Rule};

/// The cluster header when none is configured.
pub const DEFAULT_CLUSTER_HEADER: &str = "x-route-cluster";

/// The configuration as written.
#[derive(Config)]
#[sluice(deny_unknown_fields)]
struct RawRoutes {
    rules: Vec<RawRule>,
    #[sluice(default = String::from(DEFAULT_CLUSTER_HEADER))]
    cluster_header: String,
    #[sluice(default)]
    clear_route_cache: ClearRouteCache,
    #[sluice(default)]
    verify_cluster: bool,
    #[sluice(default)]
    host: Host,
}

#[derive(Config)]
#[sluice(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    #[sluice(rename = "match")]
    when: RawMatch,
    cluster: Option<String>,
    authority: Option<String>,
    authority_suffix: Option<String>,
    rewrite_path_prefix: Option<String>,
}

#[derive(Config)]
#[sluice(deny_unknown_fields)]
struct RawMatch {
    path_prefix: Option<String>,
    header: Option<String>,
    exact: Option<String>,
    prefix: Option<String>,
    present: Option<bool>,
    percent: Option<u64>,
    hash: Option<HashAlgorithm>,
    salt: Option<String>,
}

/// The hash of a percentage match; FNV-1a (32-bit) is the only one.
#[derive(Config, Clone, Copy, Debug, PartialEq, Eq)]
enum HashAlgorithm {
    #[sluice(rename = "fnv1a")]
    Fnv1a,
}

#[derive(Config)]
enum CacheMode {
    Auto,
    Always,
    Never,
}

impl FromJson for ClearRouteCache {
    fn from_json(value: &Value) -> Result<Self, Error> {
        Ok(match CacheMode::from_json(value)? {
            CacheMode::Auto => ClearRouteCache::Auto,
            CacheMode::Always => ClearRouteCache::Always,
            CacheMode::Never => ClearRouteCache::Never,
        })
    }
}

#[derive(Config)]
enum HostName {
    Envoy,
    Kong,
}

impl FromJson for Host {
    fn from_json(value: &Value) -> Result<Self, Error> {
        Ok(match HostName::from_json(value)? {
            HostName::Envoy => Host::Envoy,
            HostName::Kong => Host::Kong,
        })
    }
}

impl FromJson for Routes {
    fn from_json(value: &Value) -> Result<Self, Error> {
        RawRoutes::from_json(value)?.check()
    }
}

/// An error about `rules[index]` and then the fields in `path` (outermost first).
fn rule_error(index: usize, path: &[&str], message: String) -> Error {
    path.iter().rev().fold(Error::custom(message), |e, field| e.in_field(field)).at_index(index).in_field("rules")
}

/// Whether `name` is a header name as Envoy stores it: lowercase RFC 9110
/// token characters (a leading `:` only where pseudo-headers are allowed).
fn is_header_name(name: &str, pseudo_allowed: bool) -> bool {
    let body = match name.strip_prefix(':') {
        Some(rest) if pseudo_allowed => rest,
        Some(_) => return false,
        None => name,
    };
    !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Visible ASCII without `;` and `=` (which separate metric tags).
fn is_metric_safe(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic() && b != b';' && b != b'=')
}

/// A header value the plugin writes: visible ASCII (no spaces or controls).
fn is_header_value(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic())
}

/// A path prefix: starts with `/`, visible ASCII, no query or fragment.
fn is_path_prefix(text: &str) -> bool {
    text.starts_with('/') && text.bytes().all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
}

impl RawRoutes {
    fn check(self) -> Result<Routes, Error> {
        if !is_header_name(&self.cluster_header, false) {
            return Err(Error::custom(format!(
                "expected a lowercase header name that is not a pseudo-header (letters, digits, '-', '_', ...), \
                 found {:?}",
                self.cluster_header
            ))
            .in_field("cluster_header"));
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(self.rules.len());
        for (index, raw) in self.rules.into_iter().enumerate() {
            let rule = raw.check(index, &self.cluster_header)?;
            if let Some(first) = rules.iter().position(|earlier| earlier.name == rule.name) {
                return Err(rule_error(
                    index,
                    &["name"],
                    format!("{:?} is already the name of rules[{first}]", rule.name),
                ));
            }
            rules.push(rule);
        }
        let mut clear_route_cache = self.clear_route_cache;
        if self.host == Host::Kong {
            kong_check(&rules, clear_route_cache, self.verify_cluster)?;
            // Kong has no route cache: nothing to clear.
            clear_route_cache = ClearRouteCache::Never;
        }
        Ok(Routes {
            rules,
            cluster_header: self.cluster_header,
            clear_route_cache,
            verify_cluster: self.verify_cluster,
            host: self.host,
        })
    }
}

/// Refuses what Kong's nginx module cannot do, naming the limitation.
fn kong_check(rules: &[Rule], clear_route_cache: ClearRouteCache, verify_cluster: bool) -> Result<(), Error> {
    if clear_route_cache == ClearRouteCache::Always {
        return Err(Error::custom(
            "\"always\" cannot work on Kong: ngx_wasm_module has no clear_route_cache foreign function (calling \
             one traps the VM); use \"auto\" or \"never\", which never call it there",
        )
        .in_field("clear_route_cache"));
    }
    if verify_cluster {
        return Err(Error::custom("cannot work on Kong: ngx_wasm_module does not support the cluster_name property")
            .in_field("verify_cluster"));
    }
    if let Some((index, rewrite)) = rules.iter().enumerate().find_map(|(i, r)| Some((i, r.then.authority.as_ref()?))) {
        let field = match rewrite {
            AuthorityRewrite::Replace(_) => "authority",
            AuthorityRewrite::Suffix(_) => "authority_suffix",
        };
        return Err(rule_error(
            index,
            &[field],
            "Kong cannot rewrite :authority: ngx_wasm_module treats it as read-only (it logs `cannot set read-only \
             \":authority\" header` and keeps it); route with \"cluster\" or \"rewrite_path_prefix\" there"
                .into(),
        ));
    }
    Ok(())
}

impl RawRule {
    fn check(self, index: usize, cluster_header: &str) -> Result<Rule, Error> {
        let name = match self.name {
            Some(name) if name == "-" || !is_metric_safe(&name) => {
                return Err(rule_error(
                    index,
                    &["name"],
                    format!("expected visible ASCII without ';' or '=' (and not \"-\"), found {name:?}"),
                ));
            }
            Some(name) => name,
            None => format!("rule-{index}"),
        };
        let when = self.when.check(index, cluster_header)?;
        if let Some(cluster) = &self.cluster
            && !is_metric_safe(cluster)
        {
            return Err(rule_error(
                index,
                &["cluster"],
                format!("expected a cluster name of visible ASCII without ';' or '=', found {cluster:?}"),
            ));
        }
        for (field, value) in [("authority", &self.authority), ("authority_suffix", &self.authority_suffix)] {
            if let Some(value) = value
                && !is_header_value(value)
            {
                return Err(rule_error(
                    index,
                    &[field],
                    format!("expected visible ASCII without spaces, found {value:?}"),
                ));
            }
        }
        let authority = match (self.authority, self.authority_suffix) {
            (Some(_), Some(_)) => {
                return Err(rule_error(
                    index,
                    &["authority_suffix"],
                    "conflicts with \"authority\": a rule either replaces :authority or appends to it".into(),
                ));
            }
            (Some(value), None) => Some(AuthorityRewrite::Replace(value)),
            (None, Some(suffix)) => Some(AuthorityRewrite::Suffix(suffix)),
            (None, None) => None,
        };
        if let Some(to) = &self.rewrite_path_prefix {
            if when.path_prefix.is_none() {
                return Err(rule_error(
                    index,
                    &["rewrite_path_prefix"],
                    "needs \"match.path_prefix\": the prefix it replaces".into(),
                ));
            }
            if !is_path_prefix(to) {
                return Err(rule_error(
                    index,
                    &["rewrite_path_prefix"],
                    format!("expected a path starting with '/' without '?' or '#', found {to:?}"),
                ));
            }
        }
        let then = Actions { cluster: self.cluster, authority, path_prefix: self.rewrite_path_prefix };
        if then == Actions::default() {
            return Err(rule_error(
                index,
                &[],
                "a rule needs at least one action: \"cluster\", \"authority\", \"authority_suffix\" or \
                 \"rewrite_path_prefix\""
                    .into(),
            ));
        }
        Ok(Rule { name, when, then })
    }
}

impl RawMatch {
    fn check(self, index: usize, cluster_header: &str) -> Result<Match, Error> {
        let error = |field: &str, message: String| rule_error(index, &["match", field], message);
        if let Some(prefix) = &self.path_prefix
            && !is_path_prefix(prefix)
        {
            return Err(error(
                "path_prefix",
                format!("expected a path starting with '/' without '?' or '#', found {prefix:?}"),
            ));
        }
        let tests = [
            ("exact", self.exact.is_some()),
            ("prefix", self.prefix.is_some()),
            ("present", self.present.is_some()),
            ("percent", self.percent.is_some()),
        ];
        let given: Vec<&str> = tests.iter().filter(|(_, set)| *set).map(|(name, _)| *name).collect();
        if self.percent.is_none() {
            for (field, set) in [("hash", self.hash.is_some()), ("salt", self.salt.is_some())] {
                if set {
                    return Err(error(field, "only applies to a \"percent\" match".into()));
                }
            }
        }
        let Some(name) = self.header else {
            return match given.first() {
                Some(field) => Err(error(field, "needs \"header\": the header whose value it tests".into())),
                None => Ok(Match { path_prefix: self.path_prefix, header: None }),
            };
        };
        if !is_header_name(&name, true) {
            return Err(error(
                "header",
                format!("expected a lowercase header name (letters, digits, '-', '_', ...), found {name:?}"),
            ));
        }
        if name == cluster_header {
            return Err(error(
                "header",
                format!("{name:?} is the cluster header, which the plugin removes from client requests"),
            ));
        }
        if given.len() != 1 {
            return Err(rule_error(
                index,
                &["match"],
                format!(
                    "a header match needs exactly one of \"exact\", \"prefix\", \"present\", \"percent\"; found {}",
                    if given.is_empty() { String::from("none") } else { given.join(", ") }
                ),
            ));
        }
        let test = if let Some(value) = self.exact {
            HeaderTest::Exact(value)
        } else if let Some(prefix) = self.prefix {
            HeaderTest::Prefix(prefix)
        } else if let Some(present) = self.present {
            HeaderTest::Present(present)
        } else {
            let percent = self.percent.unwrap_or_default();
            let percent = u8::try_from(percent)
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| error("percent", format!("expected an integer from 0 to 100, found {percent}")))?;
            // FNV-1a is the only (and default) algorithm; `hash` documents the choice.
            let HashAlgorithm::Fnv1a = self.hash.unwrap_or(HashAlgorithm::Fnv1a);
            HeaderTest::Percent { percent, salt: self.salt.unwrap_or_default() }
        };
        Ok(Match { path_prefix: self.path_prefix, header: Some(HeaderMatch { name, test }) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn parse(json: &str) -> Result<Routes, String> {
        sluice::json::from_config::<Routes>(json.as_bytes()).map_err(|e| e.to_string())
    }

    fn error(json: &str) -> String {
        match parse(json) {
            Ok(routes) => panic!("accepted {json}: {routes:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn reads_the_documented_example() {
        let routes = parse(
            r#"{
              "cluster_header": "x-route-cluster",
              "clear_route_cache": "always",
              "verify_cluster": true,
              "rules": [
                {"name": "acme", "match": {"header": "x-tenant", "exact": "acme"}, "cluster": "acme-backend"},
                {"match": {"header": "x-user-id", "percent": 10, "hash": "fnv1a", "salt": "exp1"},
                 "cluster": "canary", "authority_suffix": "-canary"},
                {"match": {"path_prefix": "/v1/"}, "rewrite_path_prefix": "/v2/"},
                {"match": {"header": ":authority", "prefix": "api."}, "authority": "api.internal"},
                {"match": {"header": "x-beta", "present": false}, "cluster": "outbound|9080|v1|reviews.default.svc.cluster.local"},
                {"match": {}, "cluster": "primary"}
              ]
            }"#,
        )
        .unwrap();
        assert_eq!(routes.cluster_header, "x-route-cluster");
        assert_eq!(routes.clear_route_cache, ClearRouteCache::Always);
        assert!(routes.verify_cluster);
        let names: Vec<&str> = routes.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["acme", "rule-1", "rule-2", "rule-3", "rule-4", "rule-5"]);
        assert_eq!(
            routes.rules[1].when.header,
            Some(HeaderMatch {
                name: "x-user-id".into(),
                test: HeaderTest::Percent { percent: 10, salt: "exp1".into() }
            })
        );
        assert_eq!(routes.rules[1].then.authority, Some(AuthorityRewrite::Suffix("-canary".into())));
        assert_eq!(routes.rules[2].when, Match { path_prefix: Some("/v1/".into()), header: None });
        assert_eq!(routes.rules[2].then.path_prefix.as_deref(), Some("/v2/"));
        assert_eq!(routes.rules[3].then.authority, Some(AuthorityRewrite::Replace("api.internal".into())));
        assert_eq!(routes.rules[4].when.header.as_ref().map(|h| &h.test), Some(&HeaderTest::Present(false)));
        assert_eq!(routes.rules[5].when, Match::default());
    }

    #[test]
    fn the_readme_examples_are_valid() {
        let readme = include_str!("../README.md");
        let mut blocks = readme.split("```json\n").skip(1).map(|rest| rest.split("```").next().unwrap_or_default());
        let example = blocks.next().expect("the README shows a configuration");
        let routes = parse(example).unwrap();
        assert_eq!(routes.rules.len(), 4);
        // The configuration embedded in the Envoy example, too.
        let envoy =
            readme.split("value: |\n").nth(1).and_then(|rest| rest.split("- name: envoy.filters.http.router").next());
        let routes = parse(envoy.expect("the README shows an Envoy configuration")).unwrap();
        assert_eq!(routes.rules.len(), 3);
    }

    #[test]
    fn defaults() {
        let routes = parse(r#"{"rules": []}"#).unwrap();
        assert_eq!(
            routes,
            Routes {
                rules: vec![],
                cluster_header: DEFAULT_CLUSTER_HEADER.into(),
                clear_route_cache: ClearRouteCache::Auto,
                verify_cluster: false,
                host: Host::Envoy,
            }
        );
    }

    #[test]
    fn every_error_names_its_field() {
        let cases = [
            ("", "field \"rules\": required, but missing"),
            (
                r#"{"rules": [], "clear_route_cache": "sometimes"}"#,
                "field \"clear_route_cache\": expected one of \"auto\", \"always\", \"never\", found \"sometimes\"",
            ),
            (
                r#"{"rules": [], "cluster_header": "X-Route"}"#,
                "field \"cluster_header\": expected a lowercase header name",
            ),
            (
                r#"{"rules": [], "verify_cluster": "yes"}"#,
                "field \"verify_cluster\": expected a boolean, found \"yes\"",
            ),
            (
                r#"{"rules": [], "cluster_header": ":authority"}"#,
                "field \"cluster_header\": expected a lowercase header name",
            ),
            (r#"{"rules": [], "routes": []}"#, "field \"routes\": unknown field"),
            (r#"{"rules": [{"cluster": "a"}]}"#, "field \"rules[0].match\": required, but missing"),
            (r#"{"rules": [{"match": {}}]}"#, "field \"rules[0]\": a rule needs at least one action"),
            (
                r#"{"rules": [{"match": {}, "cluster": "a", "cluser": "b"}]}"#,
                "field \"rules[0].cluser\": unknown field",
            ),
            (
                r#"{"rules": [{"match": {}, "cluster": "a"}, {"match": {"header": "x-u", "percent": 150}, "cluster": "b"}]}"#,
                "field \"rules[1].match.percent\": expected an integer from 0 to 100, found 150",
            ),
            (
                r#"{"rules": [{"match": {"header": "x-u", "percent": -1}, "cluster": "b"}]}"#,
                "field \"rules[0].match.percent\": expected an integer",
            ),
            (
                r#"{"rules": [{"match": {"header": "x-u", "percent": 5, "hash": "md5"}, "cluster": "b"}]}"#,
                "field \"rules[0].match.hash\": expected one of \"fnv1a\", found \"md5\"",
            ),
            (
                r#"{"rules": [{"match": {"header": "x-u", "exact": "a", "salt": "s"}, "cluster": "b"}]}"#,
                "field \"rules[0].match.salt\": only applies to a \"percent\" match",
            ),
            (
                r#"{"rules": [{"match": {"header": "x-u"}, "cluster": "b"}]}"#,
                "field \"rules[0].match\": a header match needs exactly one of",
            ),
            (
                r#"{"rules": [{"match": {"header": "x-u", "exact": "a", "prefix": "b"}, "cluster": "b"}]}"#,
                "found exact, prefix",
            ),
            (
                r#"{"rules": [{"match": {"exact": "a"}, "cluster": "b"}]}"#,
                "field \"rules[0].match.exact\": needs \"header\"",
            ),
            (
                r#"{"rules": [{"match": {"header": "X-Tenant", "exact": "a"}, "cluster": "b"}]}"#,
                "field \"rules[0].match.header\": expected a lowercase header name",
            ),
            (
                r#"{"rules": [{"match": {"header": "x-route-cluster", "present": true}, "cluster": "b"}]}"#,
                "field \"rules[0].match.header\": \"x-route-cluster\" is the cluster header",
            ),
            (
                r#"{"rules": [{"match": {"path_prefix": "v1/"}, "cluster": "b"}]}"#,
                "field \"rules[0].match.path_prefix\": expected a path starting with '/'",
            ),
            (
                r#"{"rules": [{"match": {"path_prefix": "/v1?x"}, "cluster": "b"}]}"#,
                "field \"rules[0].match.path_prefix\"",
            ),
            (
                r#"{"rules": [{"match": {}, "rewrite_path_prefix": "/v2/"}]}"#,
                "field \"rules[0].rewrite_path_prefix\": needs \"match.path_prefix\"",
            ),
            (
                r#"{"rules": [{"match": {"path_prefix": "/v1/"}, "rewrite_path_prefix": "v2"}]}"#,
                "field \"rules[0].rewrite_path_prefix\": expected a path",
            ),
            (r#"{"rules": [{"match": {}, "cluster": ""}]}"#, "field \"rules[0].cluster\": expected a cluster name"),
            (r#"{"rules": [{"match": {}, "cluster": "a;b"}]}"#, "field \"rules[0].cluster\""),
            (r#"{"rules": [{"match": {}, "cluster": 7}]}"#, "field \"rules[0].cluster\": expected a string, found 7"),
            (
                r#"{"rules": [{"match": {}, "authority": "a", "authority_suffix": "-b"}]}"#,
                "field \"rules[0].authority_suffix\": conflicts with \"authority\"",
            ),
            (
                r#"{"rules": [{"match": {}, "authority_suffix": "- b"}]}"#,
                "field \"rules[0].authority_suffix\": expected visible ASCII",
            ),
            (
                r#"{"rules": [{"name": "x", "match": {}, "cluster": "a"}, {"name": "x", "match": {}, "cluster": "b"}]}"#,
                "field \"rules[1].name\": \"x\" is already the name of rules[0]",
            ),
            (r#"{"rules": [{"name": "-", "match": {}, "cluster": "a"}]}"#, "field \"rules[0].name\""),
            (r#"{"rules": [{"match": {}, "cluster": "a"},]}"#, "invalid JSON at line 1"),
            (r#"{"host": "nginx", "rules": []}"#, "field \"host\""),
            (
                r#"{"host": "kong", "clear_route_cache": "always", "rules": []}"#,
                "field \"clear_route_cache\": \"always\" cannot work on Kong: ngx_wasm_module has no \
                 clear_route_cache foreign function",
            ),
            (
                r#"{"host": "kong", "verify_cluster": true, "rules": []}"#,
                "field \"verify_cluster\": cannot work on Kong: ngx_wasm_module does not support the cluster_name",
            ),
            (
                r#"{"host": "kong", "rules": [{"match": {}, "cluster": "a"}, {"match": {}, "authority_suffix": "-b"}]}"#,
                "field \"rules[1].authority_suffix\": Kong cannot rewrite :authority: ngx_wasm_module treats it as \
                 read-only",
            ),
        ];
        for (json, expected) in cases {
            let message = error(json);
            assert!(message.contains(expected), "{json}\n  gave:     {message}\n  expected: {expected}");
        }
    }

    #[test]
    fn on_kong_auto_never_clears_the_route_cache() {
        let json = r#"{"host": "kong", "rules": [{"match": {"path_prefix": "/v1/"}, "rewrite_path_prefix": "/v2/"}]}"#;
        let routes = parse(json).unwrap();
        assert_eq!((routes.host, routes.clear_route_cache), (Host::Kong, ClearRouteCache::Never));
        let envoy = parse(r#"{"rules": []}"#).unwrap();
        assert_eq!((envoy.host, envoy.clear_route_cache), (Host::Envoy, ClearRouteCache::Auto));
    }
}
