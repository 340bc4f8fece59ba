use sluice::{Config, RootContext};

#[derive(Config, Default)]
struct Settings {
    header: String,
}

#[derive(RootContext)]
#[sluice(config = Settings)]
struct Plugin {
    #[sluice(config)]
    settings: Settings,
}
impl RootContext for Plugin {}

fn main() {}
