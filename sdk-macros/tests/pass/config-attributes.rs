// Every `#[derive(Config)]` attribute, checked on real JSON.
use std::collections::BTreeMap;

use sluice::Config;
use sluice::json::{self, FromJson};

#[derive(Config, Debug, PartialEq)]
#[sluice(rename_all = "camelCase", deny_unknown_fields)]
struct Telemetry {
    direction: Direction,
    #[sluice(default = "istio".into())]
    metric_prefix: String,
    #[sluice(default)]
    extra_dimensions: BTreeMap<String, String>,
    #[sluice(rename = "rules")]
    routes: Vec<Rule>,
    max_cache_entries: Option<u32>,
    r#type: Kind,
}

#[derive(Config, Debug, PartialEq, Default)]
#[sluice(default)]
struct Rule {
    header: String,
    percent: u8,
    weight: f64,
}

#[derive(Config, Debug, PartialEq)]
enum Direction {
    Inbound,
    #[sluice(rename = "out")]
    Outbound,
}

#[derive(Config, Debug, PartialEq)]
#[sluice(rename_all = "SCREAMING-KEBAB-CASE")]
enum Kind {
    HttpOnly,
    Any,
}

fn main() {
    let t: Telemetry = json::from_slice(
        br#"{"direction": "out", "rules": [{"header": "x-a", "percent": 5}, {}], "type": "HTTP-ONLY",
             "extraDimensions": {"app": "x"}, "maxCacheEntries": null}"#,
    )
    .unwrap();
    assert_eq!(t.direction, Direction::Outbound);
    assert_eq!(t.metric_prefix, "istio");
    assert_eq!(t.extra_dimensions["app"], "x");
    assert_eq!(t.routes[0], Rule { header: "x-a".into(), percent: 5, weight: 0.0 });
    assert_eq!(t.routes[1], Rule::default());
    assert_eq!(t.max_cache_entries, None);
    assert_eq!(t.r#type, Kind::HttpOnly);

    let err = |input: &str| json::from_slice::<Telemetry>(input.as_bytes()).unwrap_err().to_string();
    assert_eq!(
        err(r#"{"direction": "in", "rules": [], "type": "ANY"}"#),
        r#"field "direction": expected one of "inbound", "out", found "in""#
    );
    assert_eq!(
        err(r#"{"direction": "inbound", "rules": [{}, {"percent": 300}], "type": "ANY"}"#),
        r#"field "rules[1].percent": expected an integer from 0 to 255, found 300"#
    );
    assert_eq!(
        err(r#"{"direction": "inbound", "rules": [], "type": "ANY", "metricPrefx": "p"}"#),
        r#"field "metricPrefx": unknown field; expected one of "direction", "metricPrefix", "extraDimensions", "rules", "maxCacheEntries", "type""#
    );
    assert_eq!(err(r#"{"direction": "inbound", "type": "ANY"}"#), r#"field "rules": required, but missing"#);
    assert_eq!(Kind::from_json(&json::Value::Bool(true)).unwrap_err().to_string(), "expected a string, found true");
}
