use sluice::{HttpContext, RootContext};

#[derive(RootContext)]
#[sluice(http = Filter)]
#[sluice(http = Filter)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct Filter;
impl HttpContext for Filter {}

fn main() {}
