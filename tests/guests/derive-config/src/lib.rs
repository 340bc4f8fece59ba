//! A plugin with typed configuration, written with the derives: adds a
//! configured header to requests (inbound) or responses (outbound), skips
//! configured path prefixes (logging each at debug level through the `log`
//! crate), and answers 429 once a request budget shared by all streams of
//! the plugin is spent.
//!
//! ```json
//! {"direction": "outbound", "header": "x-env", "value": "prod", "skipPaths": ["/health"], "maxRequests": 1000}
//! ```
#![no_std]

extern crate alloc;

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;

use sluice::stream::LocalResponse;
use sluice::{Action, Config, HttpContext, RootContext, headers, logging};

#[derive(Config)]
#[sluice(rename_all = "camelCase")]
struct Settings {
    direction: Direction,
    header: String,
    #[sluice(default = String::from("sluice"))]
    value: String,
    #[sluice(default)]
    skip_paths: Vec<String>,
    max_requests: Option<u64>,
}

#[derive(Config, Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Inbound,
    Outbound,
}

#[derive(RootContext)]
#[sluice(config = Settings, http = Filter)]
struct Plugin {
    #[sluice(config)]
    settings: Option<Rc<Settings>>,
    #[sluice(shared)]
    requests: Rc<Cell<u64>>,
}

impl RootContext for Plugin {
    fn on_vm_start(&mut self, _: sluice::Configuration) -> bool {
        logging::init().is_ok()
    }

    fn on_configure(&mut self, _: sluice::Configuration) -> bool {
        // A new configuration starts a new budget.
        self.requests.set(0);
        self.settings.as_ref().is_some_and(|s| !s.header.is_empty())
    }
}

#[derive(HttpContext)]
struct Filter {
    #[sluice(config)]
    settings: Rc<Settings>,
    #[sluice(shared)]
    requests: Rc<Cell<u64>>,
    skip: bool,
}

impl Filter {
    fn tag(&self, map: headers::HeaderMap, direction: Direction) {
        if !self.skip && self.settings.direction == direction {
            let _ = map.add(&self.settings.header, &self.settings.value);
        }
    }
}

impl HttpContext for Filter {
    fn on_request_headers(&mut self, _: usize, _: bool) -> Action {
        let count = self.requests.get() + 1;
        self.requests.set(count);
        if self.settings.max_requests.is_some_and(|max| count > max) {
            let _ = LocalResponse::new(429).body("request budget spent\n").send();
            return Action::Pause;
        }
        let path = headers::REQUEST.get_str(":path").ok().flatten().unwrap_or_default();
        self.skip = self.settings.skip_paths.iter().any(|prefix| path.starts_with(prefix.as_str()));
        if self.skip {
            log::debug!("not tagging {path}");
        }
        self.tag(headers::REQUEST, Direction::Inbound);
        Action::Continue
    }

    fn on_response_headers(&mut self, _: usize, _: bool) -> Action {
        self.tag(headers::RESPONSE, Direction::Outbound);
        Action::Continue
    }
}
