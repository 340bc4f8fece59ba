//! End-to-end properties and foreign-function guest. Each request reports,
//! as request headers `x-p-<name>`, the properties it read with the SDK's
//! typed getters (strings, integers, booleans, doubles, durations,
//! timestamps, maps and lists), a property it set and read back, and the
//! results of foreign calls. `on_foreign_function` notes what the host sent.
#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Display;

use sluice::{Action, HttpContext, LogLevel, Result, RootContext, foreign, headers, logging, property};

fn note(id: u32, text: &str) {
    let _ = logging::log(LogLevel::Info, format!("#{id} {text}"));
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A typed property read, as text: the value, `none`, or the error.
fn text<T: Display>(value: Result<Option<T>>) -> String {
    match value {
        Ok(Some(v)) => v.to_string(),
        Ok(None) => String::from("none"),
        Err(e) => e.to_string(),
    }
}

fn joined(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(",")
}

struct Root {
    id: u32,
}

impl RootContext for Root {
    fn on_foreign_function(&mut self, function_id: u32, arguments_size: usize) {
        let arguments = foreign::arguments(arguments_size).unwrap_or_default();
        note(self.id, &format!("foreign {function_id} {arguments_size} {}", lossy(&arguments)));
    }

    fn new_http_context(&mut self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream))
    }
}

struct Stream;

fn report(name: &str, value: String) {
    let _ = headers::REQUEST.add(format!("x-p-{name}"), value);
}

impl HttpContext for Stream {
    fn on_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        report("plugin-name", text(property::get_string(["plugin_name"])));
        report("root-id", text(property::get_string(["plugin_root_id"])));
        report("vm-id", text(property::get_string(["plugin_vm_id"])));
        report("namespace", text(property::get_string(["node", "metadata", "NAMESPACE"])));
        report("source-port", text(property::get_i64(["source", "port"])));
        report("mtls", text(property::get_bool(["connection", "mtls"])));
        report("connection-id", text(property::get_u64(["connection", "id"])));
        report("path", text(property::get_string(["request", "path"])));
        report("request-time", text(property::get_timestamp_nanos(["request", "time"])));
        let labels = property::get_map(["node", "metadata", "LABELS"])
            .map(|m| m.map(|pairs| joined(pairs.iter().map(|(k, v)| format!("{}={}", lossy(k), lossy(v))))));
        report("labels", text(labels));

        report("int", text(property::get_i64(["e2e", "int"])));
        report("uint", text(property::get_u64(["e2e", "uint"])));
        report("flag", text(property::get_bool(["e2e", "flag"])));
        report("ratio", text(property::get_f64(["e2e", "ratio"])));
        report("ttl", text(property::get_duration_nanos(["e2e", "ttl"])));
        report("since", text(property::get_timestamp_nanos(["e2e", "since"])));
        let list = property::get_list(["e2e", "list"]).map(|l| l.map(|items| joined(items.iter().map(|i| lossy(i)))));
        report("list", text(list));
        report("missing", text(property::get_string(["e2e", "missing"])));
        report("malformed", text(property::get_i64(["request", "path"])));

        let set = property::set(["e2e", "set"], b"written");
        report("set", format!("{} {}", set.is_ok(), text(property::get_string(["e2e", "set"]))));

        let reversed = foreign::call("e2e_reverse", b"abc").map(|r| Some(lossy(&r)));
        report("foreign", text(reversed));
        let missing = foreign::call("e2e_missing", b"").map(|r| Some(lossy(&r)));
        report("foreign-missing", text(missing));
        Action::Continue
    }
}

sluice::main! {
    sluice::set_root_context(|id| Box::new(Root { id }));
}
