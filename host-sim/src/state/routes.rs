//! A small Envoy route table: virtual hosts chosen by `:authority` (exact,
//! `*`-prefix and `*`-suffix wildcards, `*` alone), routes matched in order on
//! a path prefix and headers (exact value or presence), and an action that
//! names a cluster or takes it from a request header (`cluster_header`).
//!
//! Envoy picks the route once, before the HTTP filters run, and caches it for
//! the stream; [`RouteCache`] models that cache: it is re-computed from the
//! current request headers only after it was cleared.

use super::headers::HeaderMap;

/// How a route matches a request header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderMatch {
    /// The header is present with exactly this value.
    Exact(String, String),
    /// The header is present (any value).
    Present(String),
}

/// Where a route sends the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteAction {
    /// A fixed cluster.
    Cluster(String),
    /// The cluster named by this request header (Envoy's `cluster_header`); a
    /// missing header selects no cluster (Envoy answers 404/503).
    ClusterHeader(String),
}

/// One route of a virtual host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The route name (property `route_name`).
    pub name: String,
    /// The `:path` prefix (`"/"` matches every path).
    pub prefix: String,
    /// Header matchers, all of which must match.
    pub headers: Vec<HeaderMatch>,
    /// The action.
    pub action: RouteAction,
}

impl Route {
    /// A route named `name` matching every path, to `cluster`.
    pub fn to_cluster(name: &str, cluster: &str) -> Route {
        Route {
            name: name.into(),
            prefix: "/".into(),
            headers: Vec::new(),
            action: RouteAction::Cluster(cluster.into()),
        }
    }

    /// A route named `name` matching every path, to the cluster named by `header`.
    pub fn to_cluster_header(name: &str, header: &str) -> Route {
        Route {
            name: name.into(),
            prefix: "/".into(),
            headers: Vec::new(),
            action: RouteAction::ClusterHeader(header.to_ascii_lowercase()),
        }
    }

    /// Only paths starting with `prefix`.
    pub fn prefix(mut self, prefix: &str) -> Route {
        self.prefix = prefix.into();
        self
    }

    /// Only requests whose header `name` is exactly `value`.
    pub fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.push(HeaderMatch::Exact(name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Only requests that carry header `name`.
    pub fn header_present(mut self, name: &str) -> Route {
        self.headers.push(HeaderMatch::Present(name.to_ascii_lowercase()));
        self
    }

    fn matches(&self, headers: &HeaderMap) -> bool {
        let path = headers.get(b":path").unwrap_or_default();
        path.starts_with(self.prefix.as_bytes())
            && self.headers.iter().all(|m| match m {
                HeaderMatch::Exact(k, v) => headers.get(k.as_bytes()) == Some(v.as_bytes()),
                HeaderMatch::Present(k) => headers.get(k.as_bytes()).is_some(),
            })
    }
}

/// A virtual host: domains and ordered routes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualHost {
    /// The name.
    pub name: String,
    /// Domains: exact (`api.example.com`), suffix wildcard (`*.example.com`,
    /// `*-canary`), prefix wildcard (`api.*`) or `*`. Envoy's precedence:
    /// exact, then the longest suffix wildcard, then the longest prefix
    /// wildcard, then `*`. `:authority` is matched with and without its
    /// port; the better match wins (like Envoy's `ignore_port_in_host_matching`).
    pub domains: Vec<String>,
    /// Routes, first match wins.
    pub routes: Vec<Route>,
}

impl VirtualHost {
    /// A virtual host for `domains` with no routes yet.
    pub fn new(name: &str, domains: &[&str]) -> VirtualHost {
        VirtualHost {
            name: name.into(),
            domains: domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            routes: vec![],
        }
    }

    /// Appends a route.
    pub fn route(mut self, route: Route) -> VirtualHost {
        self.routes.push(route);
        self
    }
}

/// The route Envoy chose for a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectedRoute {
    /// The virtual host's name.
    pub virtual_host: String,
    /// The route's name.
    pub route_name: String,
    /// The cluster, `None` when a `cluster_header` was missing.
    pub cluster: Option<String>,
}

/// The route configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteTable {
    /// Virtual hosts.
    pub virtual_hosts: Vec<VirtualHost>,
}

/// How well a domain pattern matches a host: higher wins.
fn domain_rank(pattern: &str, host: &str) -> Option<(u8, usize)> {
    if pattern == host {
        Some((4, pattern.len()))
    } else if pattern == "*" {
        Some((1, 0))
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        (host.len() > suffix.len() && host.ends_with(suffix)).then_some((3, suffix.len()))
    } else if let Some(prefix) = pattern.strip_suffix('*') {
        (host.len() > prefix.len() && host.starts_with(prefix)).then_some((2, prefix.len()))
    } else {
        None
    }
}

impl RouteTable {
    /// A table of these virtual hosts.
    pub fn new(virtual_hosts: Vec<VirtualHost>) -> RouteTable {
        RouteTable { virtual_hosts }
    }

    /// Whether there are no virtual hosts (routing is not simulated).
    pub fn is_empty(&self) -> bool {
        self.virtual_hosts.is_empty()
    }

    fn virtual_host(&self, authority: &str) -> Option<&VirtualHost> {
        let authority = authority.to_ascii_lowercase();
        let without_port = match authority.rsplit_once(':') {
            Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => authority.as_str(),
        };
        let mut best: Option<((u8, usize), &VirtualHost)> = None;
        for host in [authority.as_str(), without_port] {
            for vh in &self.virtual_hosts {
                for d in &vh.domains {
                    if let Some(rank) = domain_rank(d, host)
                        && best.as_ref().is_none_or(|(b, _)| rank > *b)
                    {
                        best = Some((rank, vh));
                    }
                }
            }
        }
        best.map(|(_, vh)| vh)
    }

    /// The route for these request headers, `None` when no virtual host or
    /// route matches (Envoy answers 404 `route_not_found`).
    pub fn select(&self, headers: &HeaderMap) -> Option<SelectedRoute> {
        let authority = String::from_utf8_lossy(headers.get(b":authority").unwrap_or_default()).into_owned();
        let vh = self.virtual_host(&authority)?;
        let route = vh.routes.iter().find(|r| r.matches(headers))?;
        let cluster = match &route.action {
            RouteAction::Cluster(c) => Some(c.clone()),
            RouteAction::ClusterHeader(h) => {
                headers.get(h.as_bytes()).map(|v| String::from_utf8_lossy(v).into_owned()).filter(|c| !c.is_empty())
            }
        };
        Some(SelectedRoute { virtual_host: vh.name.clone(), route_name: route.name.clone(), cluster })
    }
}

/// A stream's route cache.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteCache {
    /// The cached route (`None` with `cleared` false: no route matched).
    pub selected: Option<SelectedRoute>,
    /// The cache was cleared: the next use re-selects from the current headers.
    pub cleared: bool,
    /// How many times the route was selected (1 + re-selections).
    pub selections: u32,
    /// How many times the cache was cleared.
    pub clears: u32,
    /// The cluster the upstream request went to, fixed when the request
    /// headers were forwarded.
    pub upstream_cluster: Option<String>,
    /// The request headers were forwarded: the route used upstream is fixed.
    pub upstream_fixed: bool,
}

impl RouteCache {
    /// Selects the route now (request headers arrived, or a cleared cache is used).
    pub fn select(&mut self, table: &RouteTable, headers: &HeaderMap) {
        self.selected = table.select(headers);
        self.cleared = false;
        self.selections += 1;
    }

    /// Clears the cache (`clear_route_cache`).
    pub fn clear(&mut self) {
        self.cleared = true;
        self.clears += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::new(vec![
            VirtualHost::new("canary", &["*-canary"]).route(Route::to_cluster("canary-route", "canary")),
            VirtualHost::new("example", &["*.example.com", "example.com"])
                .route(Route::to_cluster("v2", "backend-v2").prefix("/v2/"))
                .route(Route::to_cluster("beta", "beta").header("x-beta", "1"))
                .route(Route::to_cluster("debug", "debug").header_present("x-debug"))
                .route(Route::to_cluster_header("by-header", "X-Route-Cluster").prefix("/dyn"))
                .route(Route::to_cluster("default", "primary")),
            VirtualHost::new("catch-all", &["*"]).route(Route::to_cluster("fallback", "fallback")),
        ])
    }

    fn pick(pairs: &[(&str, &str)]) -> Option<(String, Option<String>)> {
        table().select(&HeaderMap::from_pairs(pairs.iter().copied())).map(|s| (s.route_name, s.cluster))
    }

    #[test]
    fn domains_and_wildcards() {
        let some = |r: &str, c: &str| Some((r.to_owned(), Some(c.to_owned())));
        assert_eq!(pick(&[(":authority", "shop-canary"), (":path", "/")]), some("canary-route", "canary"));
        assert_eq!(pick(&[(":authority", "api.example.com:8443"), (":path", "/")]), some("default", "primary"));
        assert_eq!(pick(&[(":authority", "example.com"), (":path", "/v2/x")]), some("v2", "backend-v2"));
        assert_eq!(pick(&[(":authority", "other"), (":path", "/")]), some("fallback", "fallback"));
        assert_eq!(pick(&[(":authority", "example.com"), (":path", "/"), ("x-beta", "1")]), some("beta", "beta"));
        assert_eq!(pick(&[(":authority", "example.com"), (":path", "/"), ("x-beta", "2")]), some("default", "primary"));
        assert_eq!(pick(&[(":authority", "example.com"), (":path", "/"), ("x-debug", "")]), some("debug", "debug"));
        assert_eq!(
            pick(&[(":authority", "example.com"), (":path", "/dyn"), ("x-route-cluster", "blue")]),
            some("by-header", "blue")
        );
        assert_eq!(pick(&[(":authority", "example.com"), (":path", "/dyn")]), Some(("by-header".into(), None)));
        let no_catch_all = RouteTable::new(vec![VirtualHost::new("only", &["a"])]);
        assert_eq!(no_catch_all.select(&HeaderMap::from_pairs([(":authority", "a")])), None);
    }

    #[test]
    fn cache_counts_selections_and_clears() {
        let mut cache = RouteCache::default();
        cache.select(&table(), &HeaderMap::from_pairs([(":authority", "x"), (":path", "/")]));
        cache.clear();
        assert!(cache.cleared);
        cache.select(&table(), &HeaderMap::from_pairs([(":authority", "x-canary"), (":path", "/")]));
        assert_eq!((cache.selections, cache.clears, cache.cleared), (2, 1, false));
        assert_eq!(cache.selected.unwrap().cluster.as_deref(), Some("canary"));
    }
}
