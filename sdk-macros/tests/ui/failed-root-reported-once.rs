// The root's derive fails (an unknown attribute); code that names the root
// through the SDK's plugin types still type-checks against its fallback
// impl, so the attribute is the only error.
use std::cell::Cell;
use std::rc::Rc;

use sluice::http::HttpCall;
use sluice::plugin::Root;
use sluice::{Config, HttpContext, RootContext};

#[derive(Config)]
struct Settings {
    header: String,
}

#[derive(RootContext)]
#[sluice(config = Settings, http = Filter, htp = Filter)]
struct Plugin {
    #[sluice(shared)]
    calls: Rc<Cell<u32>>,
}

impl RootContext for Plugin {
    fn on_tick(&mut self) {
        let _ = HttpCall::new("auth").dispatch(|root: &mut Root<Plugin>, _| {
            root.calls.set(root.calls.get() + 1);
            let _header: Option<&String> = root.config().map(|settings| &settings.header);
        });
    }
}

#[derive(HttpContext)]
struct Filter {
    #[sluice(shared)]
    calls: Rc<Cell<u32>>,
}
impl HttpContext for Filter {}

fn main() {
    sluice::plugin::register::<Plugin>();
}
