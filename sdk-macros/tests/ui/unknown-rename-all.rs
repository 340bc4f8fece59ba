use sluice::Config;

#[derive(Config)]
#[sluice(rename_all = "lower-case")]
enum Direction {
    Inbound,
    Outbound,
}

fn main() {}
