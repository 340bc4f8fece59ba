//! derive-add-header written with the official proxy-wasm SDK 0.2.5, for
//! counting lines only (not built): copies `user-agent` into `x-agent` and
//! tags every response.

use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Plugin) });
}}

struct Plugin;

impl Context for Plugin {}

impl RootContext for Plugin {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(AddHeaders))
    }
}

struct AddHeaders;

impl Context for AddHeaders {}

impl HttpContext for AddHeaders {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        if let Some(agent) = self.get_http_request_header("user-agent") {
            self.add_http_request_header("x-agent", &agent);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        self.add_http_response_header("x-powered-by", "sluice");
        Action::Continue
    }
}
