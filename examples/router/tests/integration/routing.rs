//! The router built from source and run in host-sim: matching, the edits it
//! makes, the percentage split, its counters and logs, on both wasm targets.

use crate::common::{
    bucket, count_clear_route_cache, decisions, get, host, host_calls, host_for, host_with, run, values,
};
use guest_build::Target;
use host_sim::LogLevel;

const TENANT_AND_CANARY: &str = r#"{
  "rules": [
    {"name": "acme", "match": {"header": "x-tenant", "exact": "acme"}, "cluster": "acme-backend"},
    {"name": "canary", "match": {"header": "x-user-id", "percent": 10}, "cluster": "canary"}
  ]
}"#;

#[test]
fn header_match_sets_the_cluster_header_on_both_targets() {
    for target in Target::ALL {
        let (mut host, plugin) = host_for(target, TENANT_AND_CANARY, |spec| spec);
        let outcome = run(&mut host, plugin, get("/orders", &[("x-tenant", "acme")]));
        assert_eq!(values(&outcome, "x-route-cluster"), ["acme-backend"], "{}", target.triple());
        // Everything else reaches the upstream unchanged.
        assert_eq!(values(&outcome, ":path"), ["/orders"]);
        assert_eq!(values(&outcome, ":authority"), ["example.com"]);
        assert_eq!(values(&outcome, "x-tenant"), ["acme"]);
        assert_eq!(decisions(&host, "acme", "acme-backend"), 1);

        // Another tenant: no rule matches, nothing is set.
        let outcome = run(&mut host, plugin, get("/orders", &[("x-tenant", "acme-corp")]));
        assert!(values(&outcome, "x-route-cluster").is_empty());
        assert_eq!(decisions(&host, "-", "-"), 1);
        assert_eq!(decisions(&host, "acme", "acme-backend"), 1);
    }
}

host_sim::dual_tests! {
    fn client_sent_cluster_header_is_always_stripped(mode) {
        let (mut host, plugin) = host(mode, TENANT_AND_CANARY);
        // No rule matches: the spoofed values (both of them) are removed, nothing replaces them.
        let spoofed = get("/admin", &[("x-route-cluster", "admin-backend"), ("x-route-cluster", "other")]);
        let outcome = run(&mut host, plugin, spoofed);
        assert!(values(&outcome, "x-route-cluster").is_empty(), "{:?}", outcome.upstream_request);
        // A rule matches: the rule's cluster is the only value.
        let spoofed = get("/admin", &[("x-route-cluster", "admin-backend"), ("x-tenant", "acme")]);
        let outcome = run(&mut host, plugin, spoofed);
        assert_eq!(values(&outcome, "x-route-cluster"), ["acme-backend"]);
        let debug = host.logs_at(LogLevel::Debug);
        assert!(debug.iter().any(|l| l.contains("removing client-sent x-route-cluster: \"admin-backend\"")), "{debug:?}");
    }
}

host_sim::dual_tests! {
    fn a_configured_cluster_header_is_the_one_written_and_stripped(mode) {
        let config = r#"{"cluster_header": "x-backend",
                         "rules": [{"match": {"header": "x-tenant", "prefix": "ac"}, "cluster": "acme-backend"}]}"#;
        let (mut host, plugin) = host(mode, config);
        let outcome = run(&mut host, plugin, get("/", &[("x-tenant", "acme"), ("x-backend", "spoof")]));
        assert_eq!(values(&outcome, "x-backend"), ["acme-backend"]);
        let outcome = run(&mut host, plugin, get("/", &[("x-backend", "spoof")]));
        assert!(values(&outcome, "x-backend").is_empty());
        // The default header is not special any more.
        let outcome = run(&mut host, plugin, get("/", &[("x-route-cluster", "left-alone")]));
        assert_eq!(values(&outcome, "x-route-cluster"), ["left-alone"]);
    }
}

host_sim::dual_tests! {
    fn percent_split_is_deterministic_and_converges(mode) {
        const USERS: usize = 2000;
        let ids: Vec<String> = (0..USERS).map(|i| format!("user-{i}")).collect();
        let route_all = |ids: &[String]| -> Vec<bool> {
            let (mut host, plugin) = host(mode, TENANT_AND_CANARY);
            let routed: Vec<bool> = ids
                .iter()
                .map(|id| {
                    let outcome = run(&mut host, plugin, get("/", &[("x-user-id", id)]));
                    match values(&outcome, "x-route-cluster").as_slice() {
                        [] => false,
                        [c] if c == "canary" => true,
                        other => panic!("unexpected cluster header {other:?}"),
                    }
                })
                .collect();
            let canary = routed.iter().filter(|&&c| c).count() as u64;
            assert_eq!(decisions(&host, "canary", "canary"), canary);
            assert_eq!(decisions(&host, "-", "-"), ids.len() as u64 - canary);
            routed
        };
        let first = route_all(&ids);
        // Every user is where the documented formula puts them...
        for (id, canary) in ids.iter().zip(&first) {
            assert_eq!(*canary, bucket(b"", id.as_bytes()) < 10, "{id}");
        }
        // ...in a fresh VM too, and the share converges on the configured 10%.
        assert_eq!(route_all(&ids), first);
        let share = first.iter().filter(|&&c| c).count() as f64 / USERS as f64;
        assert!((0.085..=0.115).contains(&share), "canary share {share}");
    }
}

host_sim::dual_tests! {
    fn salt_makes_an_independent_split(mode) {
        let config = r#"{"rules": [{"name": "exp", "match": {"header": "x-user-id", "percent": 50, "hash": "fnv1a", "salt": "exp-42:"},
                                    "cluster": "b"}]}"#;
        let (mut host, plugin) = host(mode, config);
        for i in 0..200 {
            let id = format!("user-{i}");
            let outcome = run(&mut host, plugin, get("/", &[("x-user-id", &id)]));
            let expected = bucket(b"exp-42:", id.as_bytes()) < 50;
            assert_eq!(values(&outcome, "x-route-cluster") == ["b"], expected, "{id}");
        }
    }
}

host_sim::dual_tests! {
    fn path_prefix_rewrite_keeps_the_rest_and_the_query(mode) {
        let config = r#"{"rules": [{"name": "v1", "match": {"path_prefix": "/v1/"}, "rewrite_path_prefix": "/v2/"}]}"#;
        let (mut host, plugin) = host(mode, config);
        let outcome = run(&mut host, plugin, get("/v1/items/7?color=red&size=m", &[]));
        assert_eq!(values(&outcome, ":path"), ["/v2/items/7?color=red&size=m"]);
        assert!(values(&outcome, "x-route-cluster").is_empty());
        assert_eq!(decisions(&host, "v1", "-"), 1);
        for untouched in ["/v10/items", "/api/v1/items", "/v1"] {
            let outcome = run(&mut host, plugin, get(untouched, &[]));
            assert_eq!(values(&outcome, ":path"), [untouched]);
        }
        let debug = host.logs_at(LogLevel::Debug);
        let line = "rule \"v1\" matched; :path \"/v1/items/7?color=red&size=m\" -> \"/v2/items/7?color=red&size=m\"";
        assert!(debug.iter().any(|l| l.contains(line)), "{debug:?}");
    }
}

host_sim::dual_tests! {
    fn ab_testing_rewrites_the_path_for_a_share_of_users(mode) {
        // GCP's ab_testing: /v1/ becomes /v2/ for the users in the first 50%.
        let config = r#"{"rules": [{"match": {"path_prefix": "/v1/", "header": "x-user-id", "percent": 50}, "rewrite_path_prefix": "/v2/"}]}"#;
        let (mut host, plugin) = host(mode, config);
        for i in 0..100 {
            let id = format!("u{i}");
            let outcome = run(&mut host, plugin, get("/v1/cart?x=1", &[("x-user-id", &id)]));
            let expected = if bucket(b"", id.as_bytes()) < 50 { "/v2/cart?x=1" } else { "/v1/cart?x=1" };
            assert_eq!(values(&outcome, ":path"), [expected], "{id}");
        }
    }
}

host_sim::dual_tests! {
    fn authority_is_suffixed_or_replaced(mode) {
        let config = r#"{"rules": [
            {"name": "canary", "match": {"header": "x-canary", "present": true}, "authority_suffix": "-canary"},
            {"name": "api", "match": {"header": ":authority", "prefix": "api."}, "authority": "api.internal", "cluster": "api"}
        ]}"#;
        let (mut host, plugin) = host(mode, config);
        let outcome = run(&mut host, plugin, get("/", &[("x-canary", "")]));
        assert_eq!(values(&outcome, ":authority"), ["example.com-canary"]);
        let outcome = run(&mut host, plugin, get("/", &[]));
        assert_eq!(values(&outcome, ":authority"), ["example.com"]);
        let mut request = get("/", &[]);
        request.headers.replace(b":authority", b"api.example.com");
        let outcome = run(&mut host, plugin, request);
        assert_eq!(values(&outcome, ":authority"), ["api.internal"]);
        assert_eq!(values(&outcome, "x-route-cluster"), ["api"]);
        assert_eq!(decisions(&host, "canary", "-"), 1);
        assert_eq!(decisions(&host, "api", "api"), 1);
    }
}

host_sim::dual_tests! {
    fn on_log_reports_where_the_request_went(mode) {
        let config = TENANT_AND_CANARY.replacen('{', r#"{"verify_cluster": true,"#, 1);
        let (mut host, plugin) = host_with(mode, &config, |spec| {
            spec.property(&["cluster_name"], "acme-backend").property(&["route_name"], "by-cluster-header")
        });
        count_clear_route_cache(&mut host);
        run(&mut host, plugin, get("/", &[("x-tenant", "acme")]));
        let debug = host.logs_at(LogLevel::Debug);
        let line = "route: request went to cluster \"acme-backend\" by route \"by-cluster-header\"";
        assert!(debug.iter().any(|l| l.contains(line)), "{debug:?}");
        assert!(host.logs_at(LogLevel::Warn).is_empty(), "{:?}", host.logs_at(LogLevel::Warn));

        // The proxy sent it elsewhere than the plugin chose: say so.
        host.set_property(plugin, &["cluster_name"], "primary").unwrap();
        run(&mut host, plugin, get("/", &[("x-tenant", "acme")]));
        let warnings = host.logs_at(LogLevel::Warn);
        assert!(
            warnings.iter().any(|l| l.contains("chose cluster acme-backend but the request went to \"primary\"")),
            "{warnings:?}"
        );
    }
}

host_sim::dual_tests! {
    fn without_verify_cluster_a_label_that_is_no_cluster_is_not_a_warning(mode) {
        // Istio: the header is a label a VirtualService matches; the cluster has another name.
        let (mut host, plugin) = host_with(mode, TENANT_AND_CANARY, |spec| {
            spec.property(&["cluster_name"], "outbound|8080|acme|shop.shop.svc.cluster.local")
        });
        count_clear_route_cache(&mut host);
        run(&mut host, plugin, get("/", &[("x-tenant", "acme")]));
        assert!(host.logs_at(LogLevel::Warn).is_empty(), "{:?}", host.logs_at(LogLevel::Warn));
        // Without verification on_log reads nothing (no property host calls).
        let debug = host.logs_at(LogLevel::Debug);
        assert!(!debug.iter().any(|l| l.contains("went to cluster")), "{debug:?}");
        assert!(host_calls(&host, "proxy_get_property").is_empty(), "{:?}", host_calls(&host, "proxy_get_property"));
    }
}
