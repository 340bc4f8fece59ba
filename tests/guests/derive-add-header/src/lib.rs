//! The smallest realistic plugin, written with the derives: copies the
//! request's `user-agent` into `x-agent` and tags every response. Same
//! behaviour as the hand-written `header-nostd` guest, for size comparison.
#![no_std]

use sluice::{Action, HttpContext, RootContext, headers};

#[derive(RootContext)]
#[sluice(http = AddHeaders)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct AddHeaders;

impl HttpContext for AddHeaders {
    fn on_request_headers(&mut self, _: usize, _: bool) -> Action {
        if let Ok(Some(agent)) = headers::REQUEST.get("user-agent") {
            let _ = headers::REQUEST.add("x-agent", agent);
        }
        Action::Continue
    }

    fn on_response_headers(&mut self, _: usize, _: bool) -> Action {
        let _ = headers::RESPONSE.add("x-powered-by", "sluice");
        Action::Continue
    }
}
