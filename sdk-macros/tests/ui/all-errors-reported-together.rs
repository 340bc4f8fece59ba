use sluice::{Config, RootContext};

#[derive(RootContext)]
#[sluice(config = Settings, htp = Filter, config = Settings)]
struct Plugin {
    #[sluice(shared, config = Settings)]
    state: u32,
    #[sluice(vm_config)]
    vm: u32,
}
impl RootContext for Plugin {}

#[derive(Config)]
#[sluice(rename_all = "camelcase", deny_unknown)]
struct Settings {
    #[sluice(rename = 5)]
    header: String,
    #[sluice(defualt)]
    value: String,
}

fn main() {}
