use std::rc::Rc;

use sluice::{Config, HttpContext, RootContext};

#[derive(Config)]
struct Settings {
    header: String,
}

#[derive(RootContext)]
#[sluice(config = Settings, http = Filter)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct Filter {
    #[sluice(config)]
    settings: Rc<String>,
}
impl HttpContext for Filter {}

fn main() {}
