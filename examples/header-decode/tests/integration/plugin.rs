//! The plugin built from source to wasm and run in host-sim: claims copied
//! into headers, anti-spoofing, every failure reason with `pass` and
//! `reject`, nested and array claims, non-UTF-8 bytes, base64url edge cases
//! and limits.

use crate::common;

use crate::common::{bearer, counter, host, host_for, jwt, local, upstream};
use guest_build::Target;
use host_sim::{Action, Request, Response};

const CLAIMS: &str = r#"[
    {"claim": "sub", "header": "x-user-id"},
    {"claim": "tenant", "header": "x-tenant"},
    {"claim": "realm_access.roles", "header": "x-roles", "join": ","}
]"#;

const PAYLOAD: &str = r#"{"iss": "https://idp.example.com", "sub": "alice", "tenant": "acme",
    "realm_access": {"roles": ["dev", "ops"]}, "exp": 1700000000}"#;

fn config(extra: &str) -> String {
    format!(r#"{{"claims": {CLAIMS}{extra}}}"#)
}

#[test]
fn a_valid_token_sets_the_claim_headers_and_keeps_the_source_on_both_targets() {
    for target in Target::ALL {
        let (mut host, plugin) = host_for(target, &config(""));
        let token = bearer(PAYLOAD);
        let request = Request::get("/api").header("authorization", &token);
        let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
        assert_eq!(outcome.request_action, Some(Action::Continue), "{target:?}");
        assert!(outcome.local_response.is_none());
        assert_eq!(upstream(&outcome, "x-user-id"), ["alice"], "{target:?}");
        assert_eq!(upstream(&outcome, "x-tenant"), ["acme"]);
        assert_eq!(upstream(&outcome, "x-roles"), ["dev,ops"]);
        assert_eq!(upstream(&outcome, "authorization"), [token], "the source is kept by default");
        assert_eq!(counter(&host, "header_decode.decode_ok"), 1);
        assert_eq!(outcome.client_response.headers.as_ref().unwrap().get(b":status"), Some(&b"200"[..]));
    }
}

host_sim::dual_tests! {
    fn strip_source_removes_the_token_before_forwarding(mode) {
        let (mut host, plugin) = host(mode, &config(r#", "strip_source": true"#));
        let request = Request::get("/").header("authorization", &bearer(PAYLOAD));
        let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
        assert_eq!(upstream(&outcome, "x-user-id"), ["alice"]);
        assert!(upstream(&outcome, "authorization").is_empty());
        // Also on a failure that passes: the token never reaches the upstream.
        let request = Request::get("/").header("authorization", "Bearer h.!!!.s");
        let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
        assert!(upstream(&outcome, "authorization").is_empty());
        assert_eq!(counter(&host, "header_decode.decode_failed.bad_base64"), 1);
    }
}

host_sim::dual_tests! {
    fn client_sent_copies_of_target_headers_are_overwritten_or_removed(mode) {
        let (mut host, plugin) = host(mode, &config(""));
        // With a token: the claim replaces every client-sent value.
        let request = Request::get("/")
            .header("x-user-id", "admin")
            .header("X-User-Id", "root")
            .header("authorization", &bearer(PAYLOAD));
        let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
        assert_eq!(upstream(&outcome, "x-user-id"), ["alice"]);
        // Without a token: the spoofed headers are removed, the request passes.
        let request = Request::get("/").header("x-user-id", "admin").header("x-roles", "superuser");
        let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
        assert!(upstream(&outcome, "x-user-id").is_empty());
        assert!(upstream(&outcome, "x-roles").is_empty());
        assert_eq!(upstream(&outcome, ":path"), ["/"], "other headers are untouched");
        // With a token that lacks the claim: still removed, not passed through.
        let request = Request::get("/").header("x-tenant", "other").header("authorization", &bearer(r#"{"sub": "bob"}"#));
        let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
        assert!(upstream(&outcome, "x-tenant").is_empty());
        assert_eq!(upstream(&outcome, "x-user-id"), ["bob"]);
        assert_eq!(counter(&host, "header_decode.spoofed_headers_removed"), 4);
    }
}

/// Each malformed input, with the reason it is counted under.
fn failures() -> Vec<(&'static str, Option<String>)> {
    vec![
        ("missing_token", None),
        ("missing_token", Some("Bearer ".into())),
        ("bad_prefix", Some(format!("Basic {}", jwt(PAYLOAD)))),
        ("malformed_jwt", Some("Bearer not-a-jwt".into())),
        ("malformed_jwt", Some("Bearer a.b.c.d.e".into())),
        ("bad_base64", Some("Bearer eyJhbGciOiJub25lIn0.e30*.c2ln".into())),
        ("bad_json", Some(format!("Bearer h.{}.s", common::b64url(b"not json")))),
        ("bad_json", Some(format!("Bearer h.{}.s", common::b64url(br#"{"sub": "a", "sub": "b"}"#)))),
        ("not_an_object", Some(bearer(r#"["sub"]"#))),
        ("claim_missing", Some(bearer(r#"{"sub": "alice", "realm_access": {"roles": []}}"#))),
        ("claim_type", Some(bearer(r#"{"sub": {"id": 1}, "tenant": "t", "realm_access": {"roles": []}}"#))),
        ("claim_invalid", Some(bearer(r#"{"sub": "a\r\nx-admin: 1", "tenant": "t", "realm_access": {"roles": []}}"#))),
    ]
}

host_sim::dual_tests! {
    fn failures_are_counted_by_reason_and_pass_by_default(mode) {
        let (mut host, plugin) = host(mode, &config(""));
        for (reason, authorization) in failures() {
            let mut request = Request::get("/").header("x-user-id", "spoofed");
            if let Some(value) = &authorization {
                request = request.header("authorization", value);
            }
            let before = counter(&host, &format!("header_decode.decode_failed.{reason}"));
            let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
            assert!(outcome.local_response.is_none(), "{reason}: passed on");
            assert_eq!(outcome.request_action, Some(Action::Continue));
            assert_ne!(upstream(&outcome, "x-user-id"), ["spoofed"], "{reason}: spoofed header removed");
            assert_eq!(counter(&host, &format!("header_decode.decode_failed.{reason}")), before + 1, "{reason}");
            assert!(host.failure(plugin).is_none());
        }
        assert_eq!(counter(&host, "header_decode.decode_ok"), 0);
        assert_eq!(counter(&host, "header_decode.rejected"), 0);
        // A claim that decoded is still set when a later one fails (pass mode).
        let request = Request::get("/").header("authorization", &bearer(r#"{"sub": "alice"}"#));
        let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
        assert_eq!(upstream(&outcome, "x-user-id"), ["alice"]);
        assert!(upstream(&outcome, "x-tenant").is_empty());
    }
}

host_sim::dual_tests! {
    fn failures_are_rejected_with_a_401_local_reply_when_configured(mode) {
        let (mut host, plugin) = host(mode, &config(r#", "on_error": "reject""#));
        for (reason, authorization) in failures() {
            let mut request = Request::get("/");
            if let Some(value) = &authorization {
                request = request.header("authorization", value);
            }
            let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
            let reply = local(&outcome);
            assert_eq!(reply.status_code, 401, "{reason}");
            assert_eq!(reply.details, format!("jwt_decode_failed{{{reason}}}"));
            let body = String::from_utf8(reply.body.clone()).unwrap();
            assert_eq!(body, format!("{{\"error\":\"jwt_decode_failed\",\"reason\":\"{reason}\"}}\n"));
            assert_eq!(reply.headers.get(b"www-authenticate"), Some(&br#"Bearer error="invalid_token""#[..]));
            assert_eq!(reply.headers.get(b"content-type"), Some(&b"application/json"[..]));
            assert!(outcome.upstream_request.headers.is_none(), "{reason}: the upstream never saw the request");
        }
        let rejected = counter(&host, "header_decode.rejected");
        assert_eq!(rejected, failures().len() as u64);
        // A good token still passes.
        let request = Request::get("/").header("authorization", &bearer(PAYLOAD));
        let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
        assert!(outcome.local_response.is_none());
        assert_eq!(upstream(&outcome, "x-roles"), ["dev,ops"]);
    }
}

host_sim::dual_tests! {
    fn the_reject_status_is_configurable(mode) {
        let (mut host, plugin) = host(mode, &config(r#", "on_error": "reject", "reject_status": 403"#));
        let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
        let reply = local(&outcome);
        assert_eq!(reply.status_code, 403);
        assert_eq!(reply.details, "jwt_decode_failed{missing_token}");
        assert_eq!(reply.headers.get(b"www-authenticate"), None, "only a 401 challenges");
    }
}

host_sim::dual_tests! {
    fn nested_and_array_claims(mode) {
        let claims = r#"{"claims": [
            {"claim": "realm_access.roles", "header": "x-roles", "join": " "},
            {"claim": "resource_access.api.level", "header": "x-level"},
            {"claim": "flags", "header": "x-flags", "join": ";"},
            {"claim": "email_verified", "header": "x-email-verified"},
            {"claim": "groups", "header": "x-groups", "required": false}
        ]}"#;
        let (mut host, plugin) = host(mode, claims);
        let payload = r#"{"realm_access": {"roles": ["dev", "ops", "on-call"]},
            "resource_access": {"api": {"level": 3}}, "flags": [true, 2.5, "x"], "email_verified": false}"#;
        let request = Request::get("/").header("authorization", &bearer(payload));
        let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
        assert_eq!(upstream(&outcome, "x-roles"), ["dev ops on-call"]);
        assert_eq!(upstream(&outcome, "x-level"), ["3"]);
        assert_eq!(upstream(&outcome, "x-flags"), ["true;2.5;x"]);
        assert_eq!(upstream(&outcome, "x-email-verified"), ["false"]);
        assert!(upstream(&outcome, "x-groups").is_empty(), "an absent optional claim sets nothing");
        assert_eq!(counter(&host, "header_decode.decode_ok"), 1);
        // An array of objects is refused, the other claims are still set.
        let payload = r#"{"realm_access": {"roles": [{"name": "dev"}]}, "resource_access": {"api": {"level": 1}},
            "flags": [], "email_verified": true}"#;
        let outcome = host.run_http(plugin, Request::get("/").header("authorization", &bearer(payload)), Response::ok());
        let outcome = outcome.unwrap();
        assert!(upstream(&outcome, "x-roles").is_empty());
        assert_eq!(upstream(&outcome, "x-level"), ["1"]);
        assert_eq!(upstream(&outcome, "x-flags"), [""], "an empty array is an empty value");
        assert_eq!(counter(&host, "header_decode.decode_failed.claim_type"), 1);
    }
}

host_sim::dual_tests! {
    fn non_utf8_header_bytes_do_not_panic(mode) {
        let (mut host, plugin) = host(mode, &config(""));
        let token = bearer(PAYLOAD);
        let cases: [(&[u8], &str); 4] = [
            (b"Bearer \xff\xfe.\x80\x81.\xc3", "bad_base64"),
            (b"\xffBearer x.y.z", "bad_prefix"),
            (b"Bearer h.\xe2\x82.s", "bad_base64"),
            // Base64url of {"sub":"<0xff>"}: decodes, but is not UTF-8 JSON.
            (b"Bearer h.eyJzdWIiOiL_In0.s", "bad_json"),
        ];
        for (value, reason) in cases {
            let name = format!("header_decode.decode_failed.{reason}");
            let before = counter(&host, &name);
            let mut stream = host.http_stream(plugin).unwrap();
            let headers: [(&[u8], &[u8]); 5] = [
                (b":path", b"/"),
                (b":method", b"GET"),
                (b"authorization", value),
                (b"x-user-id", b"\xff\xfe spoofed"),
                (b"x-binary", b"\x00\xff\x80"),
            ];
            let action = stream.request_headers(headers, true).unwrap();
            assert_eq!(action, Action::Continue, "{reason}");
            let seen = stream.request_headers_now().unwrap().clone();
            assert_eq!(seen.get(b"x-user-id"), None, "{reason}: spoofed non-UTF-8 value removed");
            assert_eq!(seen.get(b"x-binary"), Some(&b"\x00\xff\x80"[..]), "unrelated bytes untouched");
            assert_eq!(seen.get(b"authorization"), Some(value));
            stream.response_headers([(":status", "200")], true).unwrap();
            stream.complete().unwrap();
            assert_eq!(counter(&host, &name), before + 1, "{reason}");
        }
        assert!(host.failure(plugin).is_none(), "the VM did not trap");
        assert!(host.logs_at(host_sim::LogLevel::Critical).is_empty(), "no panic was reported");
        // The plugin still works afterwards.
        let outcome = host.run_http(plugin, Request::get("/").header("authorization", &token), Response::ok()).unwrap();
        assert_eq!(upstream(&outcome, "x-user-id"), ["alice"]);
    }
}

host_sim::dual_tests! {
    fn padding_and_the_url_safe_alphabet(mode) {
        let one_claim = r#"{"claims": [{"claim": "sub", "header": "x-user-id"}]}"#;
        let (mut host, plugin) = host(mode, one_claim);
        // {"sub":"???>>>"} encodes with both URL-safe characters, and needs "==" padding.
        let unpadded = "eyJzdWIiOiI_Pz8-Pj4ifQ";
        assert_eq!(common::b64url(br#"{"sub":"???>>>"}"#), unpadded);
        let run = |host: &mut host_sim::Host, payload: &str| {
            let request = Request::get("/").header("authorization", &format!("Bearer eyJhbGciOiJub25lIn0.{payload}.sig"));
            host.run_http(plugin, request, Response::ok()).unwrap()
        };
        assert_eq!(upstream(&run(&mut host, unpadded), "x-user-id"), ["???>>>"]);
        assert_eq!(upstream(&run(&mut host, &format!("{unpadded}==")), "x-user-id"), ["???>>>"], "padding tolerated");
        for bad in [
            "eyJzdWIiOiI/Pz8+Pj4ifQ",    // the standard alphabet
            "eyJzdWIiOiI_Pz8-Pj4ifQ=",   // one '=' short
            "eyJzdWIiOiI_Pz8-Pj4ifQ===", // one '=' too many
            "eyJzdWIiOiI_Pz8-Pj4ifR",    // non-zero trailing bits
            "eyJzdWIiOiI_Pz8-Pj4ifQAAA", // a length of 4n+1
            "eyJzdWIiOiI_Pz8 -Pj4ifQ",   // whitespace inside
        ] {
            let outcome = run(&mut host, bad);
            assert!(upstream(&outcome, "x-user-id").is_empty(), "{bad}");
        }
        assert_eq!(counter(&host, "header_decode.decode_failed.bad_base64"), 6);
        assert_eq!(counter(&host, "header_decode.decode_ok"), 2);
    }
}

host_sim::dual_tests! {
    fn a_bare_payload_header_as_envoy_forwards_it(mode) {
        let config = r#"{"source": {"header": "x-jwt-payload", "encoding": "base64url-json"},
            "claims": [{"claim": "sub", "header": "x-user-id"}], "strip_source": true}"#;
        let (mut host, plugin) = host(mode, config);
        for payload in ["eyJzdWIiOiJib2IifQ", "eyJzdWIiOiJib2IifQ=="] {
            let request = Request::get("/").header("x-jwt-payload", payload).header("authorization", "Basic abc");
            let outcome = host.run_http(plugin, request, Response::ok()).unwrap();
            assert_eq!(upstream(&outcome, "x-user-id"), ["bob"], "{payload}");
            assert!(upstream(&outcome, "x-jwt-payload").is_empty(), "stripped");
            assert_eq!(upstream(&outcome, "authorization"), ["Basic abc"], "other headers untouched");
        }
        let outcome = host.run_http(plugin, Request::get("/").header("x-jwt-payload", "a.b.c"), Response::ok()).unwrap();
        assert!(outcome.local_response.is_none());
        assert_eq!(counter(&host, "header_decode.decode_failed.bad_base64"), 1);
    }
}

host_sim::dual_tests! {
    fn limits_on_token_and_value_sizes(mode) {
        let config = r#"{"claims": [{"claim": "sub", "header": "x-user-id"}, {"claim": "groups", "header": "x-groups"}],
            "max_token_bytes": 200, "max_value_bytes": 16}"#;
        let (mut host, plugin) = host(mode, config);
        let big = format!(r#"{{"sub": "alice", "groups": ["a"], "padding": "{}"}}"#, "x".repeat(200));
        let outcome = host.run_http(plugin, Request::get("/").header("authorization", &bearer(&big)), Response::ok());
        assert!(upstream(&outcome.unwrap(), "x-user-id").is_empty());
        assert_eq!(counter(&host, "header_decode.decode_failed.token_too_large"), 1);
        let long = r#"{"sub": "alice", "groups": ["group-1", "group-2", "group-3"]}"#;
        let outcome = host.run_http(plugin, Request::get("/").header("authorization", &bearer(long)), Response::ok());
        let outcome = outcome.unwrap();
        assert_eq!(upstream(&outcome, "x-user-id"), ["alice"]);
        assert!(upstream(&outcome, "x-groups").is_empty(), "23 bytes is over the 16-byte limit");
        assert_eq!(counter(&host, "header_decode.decode_failed.claim_too_large"), 1);
    }
}

host_sim::dual_tests! {
    fn every_counter_is_defined_when_the_plugin_starts(mode) {
        let (host, _plugin) = host(mode, &config(r#", "metric_prefix": "jwt_claims""#));
        let names: Vec<String> = host.metrics().into_iter().map(|(name, _)| name).collect();
        for reason in ["missing_token", "bad_prefix", "token_too_large", "malformed_jwt", "bad_base64", "bad_json"] {
            assert!(names.contains(&format!("jwt_claims.decode_failed.{reason}")), "{reason}: {names:?}");
        }
        for name in ["jwt_claims.decode_ok", "jwt_claims.rejected", "jwt_claims.spoofed_headers_removed"] {
            assert_eq!(host.counter(name), Some(0), "{name}");
        }
    }
}
