//! derive-config written with the official proxy-wasm SDK 0.2.5 and
//! serde/serde_json, for counting lines only (not built): the same
//! configuration, defaults, shared request budget and behaviour.

use std::cell::Cell;
use std::rc::Rc;

use log::error;
use proxy_wasm::traits::*;
use proxy_wasm::types::*;
use serde::Deserialize;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(Plugin { settings: None, requests: Rc::new(Cell::new(0)) })
    });
}}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    direction: Direction,
    header: String,
    #[serde(default = "default_value")]
    value: String,
    #[serde(default)]
    skip_paths: Vec<String>,
    max_requests: Option<u64>,
}

fn default_value() -> String {
    "sluice".to_string()
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Direction {
    Inbound,
    Outbound,
}

struct Plugin {
    settings: Option<Rc<Settings>>,
    requests: Rc<Cell<u64>>,
}

impl Context for Plugin {}

impl RootContext for Plugin {
    fn on_configure(&mut self, _: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let bytes = if bytes.is_empty() { b"{}".to_vec() } else { bytes };
        match serde_json::from_slice::<Settings>(&bytes) {
            Ok(settings) => {
                // A new configuration starts a new budget.
                self.requests.set(0);
                let usable = !settings.header.is_empty();
                self.settings = Some(Rc::new(settings));
                usable
            }
            Err(e) => {
                error!("plugin configuration: {e}");
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        let settings = self.settings.clone()?;
        Some(Box::new(Filter { settings, requests: self.requests.clone(), skip: false }))
    }
}

struct Filter {
    settings: Rc<Settings>,
    requests: Rc<Cell<u64>>,
    skip: bool,
}

impl Context for Filter {}

impl Filter {
    fn tags(&self, direction: Direction) -> bool {
        !self.skip && self.settings.direction == direction
    }
}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let count = self.requests.get() + 1;
        self.requests.set(count);
        if self.settings.max_requests.is_some_and(|max| count > max) {
            self.send_http_response(429, vec![], Some(b"request budget spent\n"));
            return Action::Pause;
        }
        let path = self.get_http_request_header(":path").unwrap_or_default();
        self.skip = self.settings.skip_paths.iter().any(|prefix| path.starts_with(prefix.as_str()));
        if self.tags(Direction::Inbound) {
            self.add_http_request_header(&self.settings.header, &self.settings.value);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        if self.tags(Direction::Outbound) {
            self.add_http_response_header(&self.settings.header, &self.settings.value);
        }
        Action::Continue
    }
}
