//! A bad configuration makes the plugin fail to start (Envoy would reject
//! the listener update), with an error log that names the field.

use crate::common;

use host_sim::{Error, Host, LogLevel, Mode};

/// Loads the plugin with `configuration`, expecting it to be refused, and
/// returns the error log lines.
fn refused(mode: Mode, configuration: &str) -> Vec<String> {
    let mut host = Host::new();
    let spec = common::spec(mode).configuration(configuration);
    match host.load(spec) {
        Err(Error::ConfigureRejected { .. }) => host.logs_at(LogLevel::Error),
        Err(other) => panic!("{configuration}: expected a rejected configuration, got {other}"),
        Ok(_) => panic!("{configuration}: the plugin started"),
    }
}

host_sim::dual_tests! {
    fn bad_configurations_fail_the_start_naming_the_field(mode) {
        let one = r#"{"claim": "sub", "header": "x-user-id"}"#;
        let cases = [
            ("", r#"field "claims": required, but missing"#),
            ("{}", r#"field "claims": required, but missing"#),
            (r#"{"claims": []}"#, r#"field "claims": expected from 1 to 32 claim mappings, found 0"#),
            (
                r#"{"claims": [{"claim": "sub", "header": "x user"}]}"#,
                r#"field "claims[0].header": expected an HTTP header name"#,
            ),
            (
                r#"{"claims": [{"claim": "a..b", "header": "x-a"}]}"#,
                r#"field "claims[0].claim": expected a dotted claim path"#,
            ),
            (
                &format!(r#"{{"claims": [{one}, {{"claim": "name", "header": "X-User-Id"}}]}}"#),
                r#"field "claims[1].header": "x-user-id" is the target of an earlier mapping"#,
            ),
            (
                &format!(r#"{{"claims": [{one}], "on_error": "drop"}}"#),
                r#"field "on_error": expected one of "pass", "reject""#,
            ),
            (
                &format!(r#"{{"claims": [{one}], "reject_status": 302}}"#),
                r#"field "reject_status": expected an HTTP error status"#,
            ),
            (
                &format!(r#"{{"claims": [{one}], "max_token_bytes": 0}}"#),
                r#"field "max_token_bytes": expected a size from 1"#,
            ),
            (
                &format!(r#"{{"claims": [{one}], "source": {{"header": ""}}}}"#),
                r#"field "source.header": expected an HTTP header name"#,
            ),
            (&format!(r#"{{"claims": [{one}], "stripSource": true}}"#), r#"field "stripSource": unknown field"#),
            (r#"{"claims": [}"#, "invalid JSON at line 1, column 13"),
        ];
        for (configuration, expected) in cases {
            let errors = refused(mode, configuration);
            assert!(
                errors.iter().any(|line| line.starts_with(&format!("plugin configuration: {expected}"))),
                "{configuration}\n  want: plugin configuration: {expected}...\n  logs: {errors:#?}"
            );
        }
    }
}

host_sim::dual_tests! {
    fn more_than_32_claim_mappings_are_refused(mode) {
        let mappings: Vec<String> = (0..33).map(|i| format!(r#"{{"claim": "c{i}", "header": "x-c{i}"}}"#)).collect();
        let errors = refused(mode, &format!(r#"{{"claims": [{}]}}"#, mappings.join(",")));
        assert!(errors.iter().any(|l| l.contains(r#"field "claims": expected from 1 to 32 claim mappings, found 33"#)));
    }
}

host_sim::dual_tests! {
    fn a_good_configuration_starts_and_says_what_it_does(mode) {
        let (host, _plugin) =
            common::host(mode, r#"{"claims": [{"claim": "sub", "header": "x-user-id"}], "on_error": "reject"}"#);
        let info = host.logs_at(LogLevel::Info);
        assert!(
            info.iter().any(|l| l == "header-decode: copying 1 claim(s) from `authorization`, on error: Reject"),
            "{info:?}"
        );
    }
}
