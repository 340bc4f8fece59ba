//! `[[virtual_hosts]]`: the scenario's Envoy route table, checked into a
//! [`RouteTable`] (virtual hosts by domain, ordered routes matching a path
//! prefix and headers, each to a `cluster` or a `cluster_header`).

use super::raw::{RawRoute, RawVirtualHost, Spanned};
use super::source::{ScenarioError, Source};
use crate::state::routes::{HeaderMatch, Route, RouteAction, RouteTable, VirtualHost};

/// The route table of `[[virtual_hosts]]` (empty: routing is not simulated).
pub(super) fn route_table(src: &Source<'_>, hosts: &[Spanned<RawVirtualHost>]) -> Result<RouteTable, ScenarioError> {
    let mut virtual_hosts: Vec<VirtualHost> = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        let field = format!("virtual_hosts[{}]", i + 1);
        let raw = host.get_ref();
        if raw.domains.get_ref().is_empty() {
            return Err(src.at(
                &raw.domains,
                format!("{field}.domains"),
                "a virtual host needs at least one domain (\"*\" matches every :authority)",
            ));
        }
        let domains: Vec<&str> = raw.domains.get_ref().iter().map(String::as_str).collect();
        for domain in &domains {
            let lower = domain.to_ascii_lowercase();
            if let Some(other) = virtual_hosts.iter().find(|vh| vh.domains.contains(&lower)) {
                return Err(src.at(
                    &raw.domains,
                    format!("{field}.domains"),
                    format!(
                        "domain {domain:?} is already in virtual host {:?} (Envoy wants unique domains)",
                        other.name
                    ),
                ));
            }
        }
        let mut vh = VirtualHost::new(&raw.name, &domains);
        for (j, route) in raw.routes.iter().enumerate() {
            vh = vh.route(self::route(src, route, &format!("{field}.routes[{}]", j + 1))?);
        }
        virtual_hosts.push(vh);
    }
    Ok(RouteTable::new(virtual_hosts))
}

fn route(src: &Source<'_>, route: &Spanned<RawRoute>, field: &str) -> Result<Route, ScenarioError> {
    let raw = route.get_ref();
    let action = match (&raw.cluster, &raw.cluster_header) {
        (Some(cluster), None) => RouteAction::Cluster(cluster.get_ref().clone()),
        (None, Some(header)) => RouteAction::ClusterHeader(header.get_ref().to_ascii_lowercase()),
        (None, None) => {
            return Err(src.at(route, field.to_owned(), "a route needs `cluster` or `cluster_header`"));
        }
        (Some(_), Some(header)) => {
            return Err(src.at(
                header,
                format!("{field}.cluster_header"),
                "a route has `cluster` or `cluster_header`, not both",
            ));
        }
    };
    let mut headers = Vec::new();
    if let Some(table) = &raw.headers {
        for (key, value) in table.get_ref() {
            let name = key.to_ascii_lowercase();
            headers.push(match value {
                toml::Value::String(exact) => HeaderMatch::Exact(name, exact.clone()),
                toml::Value::Boolean(true) => HeaderMatch::Present(name),
                other => {
                    return Err(src.at_key(
                        table,
                        key,
                        format!("{field}.headers.\"{key}\""),
                        format!("expected a string (the exact value) or true (present), found {other}"),
                    ));
                }
            });
        }
    }
    Ok(Route { name: raw.name.clone(), prefix: raw.prefix.clone().unwrap_or_else(|| "/".into()), headers, action })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario::format::parse;

    fn error(text: &str) -> ScenarioError {
        parse(Path::new("s.toml"), &format!("plugin = \"p.wasm\"\n{text}")).unwrap_err()
    }

    #[test]
    fn virtual_hosts_become_the_route_table() {
        let text = r#"plugin = "p.wasm"
[[virtual_hosts]]
name = "shop"
domains = ["Shop.example.com", "*.shop"]
routes = [
  { name = "tenant", prefix = "/api/", headers = { X-Tenant = "acme", x-debug = true }, cluster = "acme" },
  { name = "dynamic", cluster_header = "X-Route-Cluster" },
]
"#;
        let s = parse(Path::new("s.toml"), text).unwrap();
        let expected = RouteTable::new(vec![
            VirtualHost::new("shop", &["shop.example.com", "*.shop"])
                .route(
                    Route::to_cluster("tenant", "acme")
                        .prefix("/api/")
                        .header("x-tenant", "acme")
                        .header_present("x-debug"),
                )
                .route(Route::to_cluster_header("dynamic", "x-route-cluster")),
        ]);
        assert_eq!(s.routes, expected);
    }

    #[test]
    fn bad_routes_name_their_field_and_line() {
        let both = error(
            "[[virtual_hosts]]\nname = \"a\"\ndomains = [\"*\"]\n[[virtual_hosts.routes]]\ncluster = \"x\"\ncluster_header = \"y\"\n",
        );
        assert_eq!(
            (both.field.as_deref(), both.position),
            (Some("virtual_hosts[1].routes[1].cluster_header"), Some((7, 18)))
        );
        let header = error(
            "[[virtual_hosts]]\nname = \"a\"\ndomains = [\"*\"]\nroutes = [{ cluster = \"x\", headers = { x-a = false } }]\n",
        );
        assert_eq!(header.field.as_deref(), Some("virtual_hosts[1].routes[1].headers.\"x-a\""));
        assert!(header.message.contains("found false"), "{header}");
        let domains = error("[[virtual_hosts]]\nname = \"a\"\ndomains = []\n");
        assert_eq!((domains.field.as_deref(), domains.position), (Some("virtual_hosts[1].domains"), Some((4, 11))));
        let twice = error(
            "[[virtual_hosts]]\nname = \"a\"\ndomains = [\"*\"]\n[[virtual_hosts]]\nname = \"b\"\ndomains = [\"*\"]\n",
        );
        assert!(twice.message.contains("domain \"*\" is already in virtual host \"a\""), "{twice}");
        let nameless = error("[[virtual_hosts]]\ndomains = [\"*\"]\n");
        assert_eq!(nameless.field.as_deref(), Some("virtual_hosts[1].name"), "{nameless}");
    }
}
