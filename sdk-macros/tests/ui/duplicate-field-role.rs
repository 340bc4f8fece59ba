use std::rc::Rc;

use sluice::HttpContext;

#[derive(HttpContext)]
struct Filter {
    #[sluice(context_id)]
    id: u32,
    #[sluice(context_id)]
    again: u32,
    #[sluice(config, shared)]
    both: Rc<u32>,
}
impl HttpContext for Filter {}

fn main() {}
