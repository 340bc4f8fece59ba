use sluice::{HttpContext, RootContext};

#[derive(RootContext)]
#[sluice(htttp = Filter)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct Filter;
impl HttpContext for Filter {}

fn main() {}
