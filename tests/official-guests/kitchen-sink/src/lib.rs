//! A plugin written against the official proxy-wasm Rust SDK (0.2.5) that
//! touches every area of host state, so host-sim's tests can check the SDK
//! sees what Envoy would give it:
//!
//! * VM start reads the VM configuration; configure reads the plugin
//!   configuration, defines metrics, registers a queue, sets a tick period.
//! * Each tick bumps a gauge and writes shared data.
//! * `on_queue_ready` dequeues and logs the item.
//! * Requests to `/auth` pause and make an HTTP call to cluster `authz`; the
//!   response resumes the request (adding `x-auth`) or sends a 403.
//! * Requests with a body are buffered until the end, then upper-cased.
//! * Every request reads properties, calls the foreign function `echo`, and
//!   counts into `requests_total`; `on_log` records the status code.

use std::time::Duration;

use log::{info, warn};
use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

#[derive(Default)]
struct Root {
    config: String,
    queue: u32,
    ticks: u64,
    requests: u32,
    ticks_gauge: u32,
    status_histogram: u32,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_vm_start(&mut self, _: usize) -> bool {
        let vm_config = self.get_vm_configuration().unwrap_or_default();
        info!("vm config: {}", String::from_utf8_lossy(&vm_config));
        true
    }

    fn on_configure(&mut self, _: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        self.config = String::from_utf8_lossy(&config).into_owned();
        if self.config == "reject" {
            return false;
        }
        self.queue = self.register_shared_queue("jobs");
        self.requests = proxy_wasm::hostcalls::define_metric(MetricType::Counter, "requests_total").unwrap();
        self.ticks_gauge = proxy_wasm::hostcalls::define_metric(MetricType::Gauge, "ticks").unwrap();
        self.status_histogram = proxy_wasm::hostcalls::define_metric(MetricType::Histogram, "status_codes").unwrap();
        self.set_tick_period(Duration::from_millis(100));
        info!("configured with {}", self.config);
        true
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        proxy_wasm::hostcalls::increment_metric(self.ticks_gauge, 1).unwrap();
        let now = self.get_current_time();
        let since = now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
        self.set_shared_data("last_tick_ms", Some(since.to_string().as_bytes()), None).unwrap();
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        while let Ok(Some(item)) = self.dequeue_shared_queue(queue_id) {
            info!("dequeued {}", String::from_utf8_lossy(&item));
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream {
            context_id,
            requests: self.requests,
            status_histogram: self.status_histogram,
            queue: self.queue,
        }))
    }
}

struct Stream {
    context_id: u32,
    requests: u32,
    status_histogram: u32,
    queue: u32,
}

impl Context for Stream {
    fn on_http_call_response(&mut self, _: u32, num_headers: usize, body_size: usize, _: usize) {
        if num_headers == 0 {
            warn!("#{} callout failed", self.context_id);
            self.send_http_response(503, vec![], Some(b"authz unavailable"));
            return;
        }
        let status = self.get_http_call_response_header(":status").unwrap_or_default();
        let body = self.get_http_call_response_body(0, body_size).unwrap_or_default();
        if status == "200" {
            self.set_http_request_header("x-auth", Some(&String::from_utf8_lossy(&body)));
            self.resume_http_request();
        } else {
            warn!("#{} denied with {}", self.context_id, status);
            self.send_http_response(403, vec![("x-denied-by", "authz")], Some(b"denied"));
        }
    }
}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _: usize, end_of_stream: bool) -> Action {
        proxy_wasm::hostcalls::increment_metric(self.requests, 1).unwrap();
        let workload = self.get_property(vec!["node", "metadata", "WORKLOAD_NAME"]).unwrap_or_default();
        let plugin = self.get_property(vec!["plugin_name"]).unwrap_or_default();
        let path = self.get_property(vec!["request", "path"]).unwrap_or_default();
        info!(
            "workload={} plugin={} path={}",
            String::from_utf8_lossy(&workload),
            String::from_utf8_lossy(&plugin),
            String::from_utf8_lossy(&path)
        );
        if let Ok(echo) = proxy_wasm::hostcalls::call_foreign_function("echo", Some(b"ping")) {
            self.set_http_request_header("x-echo", Some(&String::from_utf8_lossy(&echo.unwrap_or_default())));
        }
        self.enqueue_shared_queue(self.queue, Some(format!("request {}", self.context_id).as_bytes())).unwrap();
        match self.get_http_request_header(":path").as_deref() {
            Some("/auth") => {
                let token = self.get_http_request_header("authorization").unwrap_or_default();
                let call = self.dispatch_http_call(
                    "authz",
                    vec![(":method", "POST"), (":path", "/check"), (":authority", "authz")],
                    Some(token.as_bytes()),
                    vec![],
                    Duration::from_secs(1),
                );
                match call {
                    Ok(_) => Action::Pause,
                    Err(status) => {
                        warn!("dispatch failed: {:?}", status);
                        Action::Continue
                    }
                }
            }
            _ if !end_of_stream => Action::Continue,
            _ => Action::Continue,
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self.get_http_request_body(0, body_size).unwrap_or_default();
        let upper = String::from_utf8_lossy(&body).to_uppercase();
        self.set_http_request_body(0, body_size, upper.as_bytes());
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        self.add_http_response_header("x-seen-by", "kitchen-sink");
        Action::Continue
    }

    fn on_log(&mut self) {
        let code = self.get_property(vec!["response", "code"]).unwrap_or_default();
        if code.len() == 8 {
            let code = i64::from_le_bytes(code.try_into().unwrap());
            proxy_wasm::hostcalls::record_metric(self.status_histogram, code as u64).unwrap();
            info!("#{} finished with {}", self.context_id, code);
        }
    }
}
