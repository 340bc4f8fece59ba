use std::rc::Rc;

use sluice::RootContext;

#[derive(RootContext)]
struct Plugin {
    #[sluice(config)]
    settings: Option<Rc<String>>,
}
impl RootContext for Plugin {}

fn main() {}
