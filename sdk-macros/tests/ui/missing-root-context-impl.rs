use sluice::{HttpContext, RootContext};

#[derive(RootContext)]
#[sluice(http = Filter)]
struct Plugin;

#[derive(HttpContext)]
struct Filter;
impl HttpContext for Filter {}

fn main() {}
