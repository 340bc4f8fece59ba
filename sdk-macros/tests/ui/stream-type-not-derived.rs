use sluice::{HttpContext, RootContext};

#[derive(RootContext)]
#[sluice(http = Filter)]
struct Plugin;
impl RootContext for Plugin {}

struct Filter;
impl HttpContext for Filter {}

fn main() {}
