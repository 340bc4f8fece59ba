use std::time::Duration;

use sluice::Config;

#[derive(Config)]
struct Settings {
    header: String,
    timeout: Duration,
}

fn main() {}
