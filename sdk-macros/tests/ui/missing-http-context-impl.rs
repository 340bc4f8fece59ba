use sluice::{HttpContext, RootContext};

#[derive(RootContext)]
#[sluice(http = Filter)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct Filter;

fn main() {}
