use std::rc::Rc;

use sluice::{HttpContext, RootContext};

#[derive(RootContext)]
#[sluice(http)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct Filter {
    #[sluice(shared = true)]
    state: Rc<u32>,
}
impl HttpContext for Filter {}

fn main() {}
