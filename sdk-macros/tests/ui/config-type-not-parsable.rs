use sluice::{HttpContext, RootContext};

struct Settings {
    header: String,
}

#[derive(RootContext)]
#[sluice(config = Settings, http = Filter)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct Filter;
impl HttpContext for Filter {}

fn main() {}
