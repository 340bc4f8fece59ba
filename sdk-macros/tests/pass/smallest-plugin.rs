// The smallest plugin: a root with no callbacks and an HTTP context that
// tags every response.
use sluice::{Action, HttpContext, RootContext, headers};

#[derive(RootContext)]
#[sluice(http = AddHeader)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct AddHeader;

impl HttpContext for AddHeader {
    fn on_response_headers(&mut self, _: usize, _: bool) -> Action {
        let _ = headers::RESPONSE.add("x-powered-by", "sluice");
        Action::Continue
    }
}

fn main() {
    // The derive defined the entry point; natively it is `sluice_main`.
    let _: fn() = sluice_main;
}
