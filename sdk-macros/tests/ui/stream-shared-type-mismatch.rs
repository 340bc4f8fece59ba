use std::cell::Cell;
use std::rc::Rc;

use sluice::{HttpContext, RootContext};

#[derive(RootContext)]
#[sluice(http = Filter)]
struct Plugin {
    #[sluice(shared)]
    requests: Rc<Cell<u64>>,
}
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct Filter {
    #[sluice(shared)]
    requests: Rc<Cell<u32>>,
}
impl HttpContext for Filter {}

fn main() {}
