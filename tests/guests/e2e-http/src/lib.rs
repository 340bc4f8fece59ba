//! End-to-end HTTP guest. Every callback is noted in the log as
//! `#<context id> <callback> <arguments>` so a test can check the order the
//! host drove it in; what the guest does is chosen by the request path:
//!
//! * `/headers`: edits request headers (add, replace, remove, multi-valued,
//!   non-UTF-8 values), rewrites the response headers wholesale and adds
//!   trailers in both directions.
//! * `/body`: buffers the request and response bodies (pausing each body
//!   callback until the end of stream), then rewrites them.
//! * `/deny`: answers with a local response from `on_request_headers`.
//! * `/replace`: replaces the upstream's response from `on_response_headers`.
#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use sluice::buffers::{self, Buffer};
use sluice::headers::{self, HeaderMap};
use sluice::stream::LocalResponse;
use sluice::{Action, Configuration, Error, HttpContext, LogLevel, RootContext, logging};

fn note(id: u32, text: &str) {
    let _ = logging::log(LogLevel::Info, format!("#{id} {text}"));
}

struct Root {
    id: u32,
}

impl RootContext for Root {
    fn on_vm_start(&mut self, vm_configuration: Configuration) -> bool {
        let config = vm_configuration.text().unwrap_or_default();
        note(self.id, &format!("vm_start {config}"));
        true
    }

    fn on_configure(&mut self, plugin_configuration: Configuration) -> bool {
        let config = plugin_configuration.text().unwrap_or_default();
        note(self.id, &format!("configure {config}"));
        true
    }

    fn new_http_context(&mut self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        note(context_id, &format!("create parent={}", self.id));
        Some(Box::new(Filter { id: context_id, path: String::new() }))
    }
}

struct Filter {
    id: u32,
    path: String,
}

impl Drop for Filter {
    fn drop(&mut self) {
        note(self.id, "delete");
    }
}

/// Describes a failed hostcall result briefly for the log.
fn outcome<T>(result: &Result<T, Error>) -> String {
    match result {
        Ok(_) => String::from("ok"),
        Err(e) => format!("{e}"),
    }
}

impl Filter {
    fn edit_request_headers(&self) {
        let map = headers::REQUEST;
        let _ = map.add("x-added", "1");
        let _ = map.replace("x-replace", "new");
        let _ = map.remove("x-remove");
        let _ = map.remove("x-absent");
        let pairs = map.pairs().unwrap_or_default();
        let multi = pairs.iter().filter(|(k, _)| k == b"x-multi").count();
        let _ = map.add("x-multi-count", format!("{multi}"));
        let first = map.get_str("x-multi").ok().flatten().unwrap_or_default();
        let _ = map.add("x-multi-first", first);
        // A non-UTF-8 value: readable as bytes, refused as text.
        let raw = map.get("x-bin").ok().flatten().unwrap_or_default();
        let mut reversed = raw.clone();
        reversed.reverse();
        let _ = map.add("x-bin-reversed", reversed);
        let _ = map.add("x-latin1", b"caf\xe9");
        note(self.id, &format!("x-bin as text: {}", outcome(&map.get_str("x-bin"))));
        note(self.id, &format!("pairs as text: {}", outcome(&map.pairs_str())));
        // The host reports Envoy's byteSize(): the bytes of every name and value.
        let pairs = map.pairs().unwrap_or_default();
        let ours: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
        note(self.id, &format!("size {} {}", map.serialized_size().unwrap_or(0), ours));
    }

    fn rewrite_response_headers(&self) {
        let pairs = headers::RESPONSE.pairs().unwrap_or_default();
        let count = pairs.len();
        let mut kept: Vec<(Vec<u8>, Vec<u8>)> = pairs.into_iter().filter(|(k, _)| k != b"server").collect();
        kept.push((b"x-response-pairs".to_vec(), format!("{count}").into_bytes()));
        let _ = headers::RESPONSE.set_pairs(kept);
    }

    /// Pauses (buffering) until the whole body is there, then rewrites it.
    fn buffer_body(
        &self,
        buffer: Buffer,
        body_size: usize,
        end_of_stream: bool,
        rewrite: fn(Buffer) -> String,
    ) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        // The last body callback may add trailers the peer did not send.
        let trailers = match buffer.buffer_type() {
            sluice::BufferType::HttpRequestBody => headers::REQUEST_TRAILERS,
            _ => headers::RESPONSE_TRAILERS,
        };
        note(self.id, &format!("trailer added {}", outcome(&trailers.add("x-body-size", format!("{body_size}")))));
        let size = buffer.status().map_or(usize::MAX, |status| status.size);
        note(self.id, &format!("buffered {size} of {body_size}: {}", rewrite(buffer)));
        Action::Continue
    }
}

fn uppercase(buffer: Buffer) -> String {
    let body = buffer.get_all().unwrap_or_default();
    let upper = body.to_ascii_uppercase();
    outcome(&buffer.replace_all(upper))
}

fn wrap(buffer: Buffer) -> String {
    let prepended = buffer.prepend("<<");
    let appended = buffer.append(">>");
    format!("{} {}", outcome(&prepended), outcome(&appended))
}

impl HttpContext for Filter {
    fn on_request_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action {
        note(self.id, &format!("request_headers {num_headers} {end_of_stream}"));
        self.path = headers::REQUEST.get_str(":path").ok().flatten().unwrap_or_default();
        match self.path.as_str() {
            "/headers" => self.edit_request_headers(),
            "/deny" => {
                let sent = LocalResponse::new(403)
                    .header("x-deny-reason", "policy")
                    .details("denied_by_e2e")
                    .body("forbidden\n")
                    .send();
                note(self.id, &format!("local response {}", outcome(&sent)));
                // The host forces a stop whatever the callback returns.
                return Action::Continue;
            }
            _ => {}
        }
        Action::Continue
    }

    fn on_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        note(self.id, &format!("request_body {body_size} {end_of_stream}"));
        if self.path == "/body" {
            return self.buffer_body(buffers::REQUEST_BODY, body_size, end_of_stream, uppercase);
        }
        Action::Continue
    }

    fn on_request_trailers(&mut self, num_trailers: usize) -> Action {
        note(self.id, &format!("request_trailers {num_trailers}"));
        if self.path == "/headers" {
            let _ = headers::REQUEST_TRAILERS.add("x-trailer-added", "req");
        }
        Action::Continue
    }

    fn on_response_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action {
        note(self.id, &format!("response_headers {num_headers} {end_of_stream}"));
        match self.path.as_str() {
            "/headers" => self.rewrite_response_headers(),
            "/replace" => {
                let sent = LocalResponse::new(502).body("replaced").send();
                note(self.id, &format!("local response {}", outcome(&sent)));
            }
            _ => {}
        }
        let _ = headers::RESPONSE.add("x-powered-by", "sluice");
        Action::Continue
    }

    fn on_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        note(self.id, &format!("response_body {body_size} {end_of_stream}"));
        if self.path == "/body" {
            return self.buffer_body(buffers::RESPONSE_BODY, body_size, end_of_stream, wrap);
        }
        Action::Continue
    }

    fn on_response_trailers(&mut self, num_trailers: usize) -> Action {
        note(self.id, &format!("response_trailers {num_trailers}"));
        if self.path == "/headers" {
            let status = HeaderMap::new(sluice::MapType::HttpResponseTrailers).get_str("grpc-status");
            let status = status.ok().flatten().unwrap_or_default();
            let _ = headers::RESPONSE_TRAILERS.replace("x-grpc-status-seen", status);
        }
        Action::Continue
    }

    fn on_done(&mut self) -> bool {
        note(self.id, "done");
        true
    }

    fn on_log(&mut self) {
        // Request headers are still readable while logging.
        let path = headers::REQUEST.get_str(":path").ok().flatten().unwrap_or_default();
        let status = headers::RESPONSE.get_str(":status").ok().flatten().unwrap_or_default();
        note(self.id, &format!("log {path} {status}"));
    }
}

sluice::main! {
    sluice::set_root_context(|id| Box::new(Root { id }));
}
