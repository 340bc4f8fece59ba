//! End-to-end faults guest. The root installs the SDK's `log` logger and
//! logs one line per level in `on_configure` (`configure <level>`); the host's
//! level decides which reach `proxy_log`. Each tick re-reads the host's
//! level (`logging::refresh_level`, as a hand-written root does where it
//! wants) and logs `tick` at info and `tick detail` at debug. A request to
//! `/panic` panics in user code; with the plugin configuration
//! `panic-on-tick` the tick panics.
#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use core::time::Duration;

use sluice::{Action, Configuration, HttpContext, RootContext, headers, logging, time};

struct Root {
    panic_on_tick: bool,
}

impl RootContext for Root {
    fn on_vm_start(&mut self, _vm_configuration: Configuration) -> bool {
        logging::init().is_ok()
    }

    fn on_configure(&mut self, plugin_configuration: Configuration) -> bool {
        self.panic_on_tick = plugin_configuration.bytes().is_ok_and(|c| c == b"panic-on-tick");
        log::error!("configure error");
        log::warn!("configure warn");
        log::info!("configure info");
        log::debug!("configure debug");
        log::trace!("configure trace");
        time::set_tick_period(Duration::from_secs(1)).is_ok()
    }

    fn on_tick(&mut self) {
        if self.panic_on_tick {
            panic!("tick exploded");
        }
        logging::refresh_level();
        log::info!("tick");
        log::debug!("tick detail");
    }

    fn new_http_context(&mut self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream))
    }
}

struct Stream;

impl HttpContext for Stream {
    fn on_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let path = headers::REQUEST.get_str(":path").ok().flatten().unwrap_or_default();
        if path == "/panic" {
            panic!("boom at {path}");
        }
        log::debug!("request {path}");
        Action::Continue
    }
}

sluice::main! {
    sluice::set_root_context(|_| Box::new(Root { panic_on_tick: false }));
}
