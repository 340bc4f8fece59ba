//! A `#![no_std]` plugin that copies the request's `user-agent` into an
//! `x-agent` header and tags the response: the smallest realistic header
//! plugin, built for wasm32-unknown-unknown without std.
#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use sluice::{Action, HttpContext, RootContext, headers};

struct Plugin;

impl RootContext for Plugin {
    fn new_http_context(&mut self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(AddHeaders))
    }
}

struct AddHeaders;

impl HttpContext for AddHeaders {
    fn on_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let Ok(Some(agent)) = headers::REQUEST.get("user-agent") {
            let _ = headers::REQUEST.add("x-agent", agent);
        }
        Action::Continue
    }

    fn on_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let _ = headers::RESPONSE.add("x-powered-by", "sluice");
        Action::Continue
    }
}

sluice::main! {
    sluice::set_root_context(|_| Box::new(Plugin));
}
