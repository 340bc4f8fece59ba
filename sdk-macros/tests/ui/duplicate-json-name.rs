use sluice::Config;

#[derive(Config)]
#[sluice(rename_all = "camelCase")]
struct Settings {
    metric_prefix: String,
    #[sluice(rename = "metricPrefix")]
    prefix: String,
}

#[derive(Config)]
enum Direction {
    Inbound,
    #[sluice(rename = "inbound")]
    In,
}

fn main() {}
