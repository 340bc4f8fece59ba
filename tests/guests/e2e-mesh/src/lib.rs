//! End-to-end mesh guest: one plugin of a filter chain, configured by its
//! plugin configuration, `key=value` pairs separated by `;`:
//!
//! * `name=<n>`: appends `<n>` to request header `x-chain` and response
//!   header `x-chain-back` (comma-separated), so the order the plugins ran
//!   in shows on each side; logs `<n> <callback>` for every callback.
//! * `deny=<path>`: a local reply `403` (`denied by <n>`) to that path from
//!   `on_request_headers`.
//! * `hold=<path>`: pauses that path's request headers; the plugin's tick
//!   (every second) adds `x-held-by: <n>` and resumes it.
//! * `require=<header>`: `x-<n>-saw: yes` or `no`, whether the request
//!   reached this plugin with that header (set by an earlier plugin).
//! * `refuse=1`: `on_configure` returns false.
//! * `body=1`: appends `[<n>]` to every non-empty body chunk it passes on,
//!   in both directions (so a chain's body shows the order the plugins saw
//!   it in), and `<n>` to trailer `x-trail` (comma-separated) both ways.
//! * `hold-body=<path>`: pauses that path's request body at its last chunk
//!   (Envoy buffers it); the tick appends `[held by <n>]` to the buffered
//!   body and resumes it. `hold-response-body=<path>`: the same with the
//!   response body.
//! * `tick=1`: a tick every second, which counts itself in counter
//!   `<n>_ticks` and logs `<n> tick <k>` (`k`: this VM's own tick count).
//! * `queue=1`: registers shared queue `events` in `on_configure` (logging
//!   `<n> registered events <token>`); every request enqueues
//!   `<n>-<local>-<shared>` on it, and `on_queue_ready` logs
//!   `<n> queue_ready <item>` for each item it dequeues.
//!
//! Every request also counts hits twice: in a global variable of the VM
//! (`x-<n>-local`: a per-process cache that assumes it is global) and in
//! shared data key `hits-<n>` (compare-and-swap: `x-<n>-shared`); counter
//! `<n>_requests` counts them too. On a proxy with several workers the
//! local count only sees its own worker's requests. Gauge `<n>_open` goes
//! up at each request and down when its stream is done; gauge
//! `<n>_last_local` is set to the local count, and histogram
//! `<n>_local_hist` records it.
#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

use sluice::shared_data::{self, SharedValue};
use sluice::{Action, Configuration, ContextHandle, HttpContext, LogLevel, RootContext, headers, logging, metrics};
use sluice::{buffers, queue::SharedQueue, stream::LocalResponse, time};

/// The per-VM cache: a wasm global, one per VM (so one per Envoy worker).
static LOCAL_HITS: AtomicU32 = AtomicU32::new(0);
/// This VM's ticks.
static LOCAL_TICKS: AtomicU32 = AtomicU32::new(0);

#[derive(Default, Clone)]
struct Settings {
    name: String,
    deny: Option<String>,
    hold: Option<String>,
    require: Option<String>,
    refuse: bool,
    body: bool,
    hold_body: Option<String>,
    hold_response_body: Option<String>,
    tick: bool,
    queue: bool,
}

fn parse(text: &str) -> Settings {
    let mut s = Settings { name: String::from("mesh"), ..Settings::default() };
    for pair in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key.trim() {
            "name" => s.name = String::from(value.trim()),
            "deny" => s.deny = Some(String::from(value.trim())),
            "hold" => s.hold = Some(String::from(value.trim())),
            "require" => s.require = Some(String::from(value.trim())),
            "refuse" => s.refuse = value.trim() == "1",
            "body" => s.body = value.trim() == "1",
            "hold-body" => s.hold_body = Some(String::from(value.trim())),
            "hold-response-body" => s.hold_response_body = Some(String::from(value.trim())),
            "tick" => s.tick = value.trim() == "1",
            "queue" => s.queue = value.trim() == "1",
            _ => {}
        }
    }
    s
}

fn note(text: &str) {
    let _ = logging::log(LogLevel::Info, text);
}

fn gauge(name: &str, suffix: &str) -> Option<metrics::Metric> {
    metrics::Metric::gauge(format!("{name}_{suffix}")).ok()
}

fn append(map: headers::HeaderMap, key: &str, name: &str) {
    let value = match map.get_str(key).ok().flatten() {
        Some(old) if !old.is_empty() => format!("{old},{name}"),
        _ => String::from(name),
    };
    let _ = map.replace(key, value);
}

/// Bumps shared-data key `hits-<name>` with compare-and-swap, retrying a lost race.
fn bump_shared(name: &str) -> u32 {
    let key = format!("hits-{name}");
    for _ in 0..8 {
        let (count, cas) = match shared_data::get(&key) {
            Ok(Some(SharedValue { value, cas })) => {
                (core::str::from_utf8(&value).ok().and_then(|v| v.parse().ok()).unwrap_or(0), Some(cas))
            }
            _ => (0u32, None),
        };
        if shared_data::set(&key, format!("{}", count + 1), cas).is_ok() {
            return count + 1;
        }
    }
    0
}

/// Where a plugin holds a stream for its tick.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    RequestHeaders,
    RequestBody,
    ResponseBody,
}

/// A stream a plugin holds for its tick.
#[derive(Clone, Copy)]
struct Held {
    stream: ContextHandle,
    part: Part,
}

struct Root {
    id: u32,
    settings: Settings,
    held: Rc<RefCell<Vec<Held>>>,
    queue: Option<SharedQueue>,
}

impl RootContext for Root {
    fn on_vm_start(&mut self, _vm_configuration: Configuration) -> bool {
        note("vm_start");
        true
    }

    fn on_configure(&mut self, plugin_configuration: Configuration) -> bool {
        self.settings = parse(&plugin_configuration.text().unwrap_or_default());
        note(&format!("{} configure root={}", self.settings.name, self.id));
        if self.settings.refuse {
            note(&format!("{} refuses its configuration", self.settings.name));
            return false;
        }
        let s = &self.settings;
        if s.hold.is_some() || s.hold_body.is_some() || s.hold_response_body.is_some() || s.tick {
            let _ = time::set_tick_period(Duration::from_secs(1));
        }
        if self.settings.queue {
            self.queue = SharedQueue::register("events").ok();
            let token = self.queue.map_or(0, SharedQueue::id);
            note(&format!("{} registered events {token}", self.settings.name));
        }
        true
    }

    fn on_tick(&mut self) {
        let name = self.settings.name.clone();
        if self.settings.tick {
            let k = LOCAL_TICKS.fetch_add(1, Ordering::Relaxed) + 1;
            if let Ok(counter) = metrics::Metric::counter(format!("{name}_ticks")) {
                let _ = counter.increment(1);
            }
            note(&format!("{name} tick {k}"));
        }
        let held = core::mem::take(&mut *self.held.borrow_mut());
        for Held { stream, part } in held {
            // A paused body is buffered: readable and writable here.
            let _ = stream.run(|| match part {
                Part::RequestHeaders => headers::REQUEST.add("x-held-by", &name),
                Part::RequestBody => buffers::REQUEST_BODY.append(format!("[held by {name}]")),
                Part::ResponseBody => buffers::RESPONSE_BODY.append(format!("[held by {name}]")),
            });
            let resumed =
                if part == Part::ResponseBody { stream.resume_http_response() } else { stream.resume_http_request() };
            note(&format!("{name} resumed {} {}", stream.id(), resumed.is_ok()));
        }
    }

    fn on_queue_ready(&mut self, _queue_id: u32) {
        let Some(queue) = self.queue else { return };
        while let Ok(Some(item)) = queue.dequeue() {
            let item = core::str::from_utf8(&item).unwrap_or("?");
            note(&format!("{} queue_ready {item}", self.settings.name));
        }
    }

    fn on_done(&mut self) -> bool {
        note(&format!("{} root done root={}", self.settings.name, self.id));
        true
    }

    fn new_http_context(&mut self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Filter {
            id: context_id,
            settings: self.settings.clone(),
            held: self.held.clone(),
            path: String::new(),
            counted: false,
        }))
    }
}

struct Filter {
    id: u32,
    settings: Settings,
    /// The root's held streams (its tick resumes them).
    held: Rc<RefCell<Vec<Held>>>,
    path: String,
    /// Counted in `<n>_open` (so `on_done` counts it out).
    counted: bool,
}

impl Filter {
    /// `body=1`: tags the chunk this plugin passes on.
    fn tag_body(&self, buffer: buffers::Buffer, body_size: usize) {
        if self.settings.body && body_size > 0 {
            let _ = buffer.append(format!("[{}]", self.settings.name));
        }
    }

    /// `body=1`: appends the plugin's name to trailer `x-trail`.
    fn tag_trailers(&self, map: headers::HeaderMap) {
        if self.settings.body {
            append(map, "x-trail", &self.settings.name);
        }
    }
}

impl HttpContext for Filter {
    fn on_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let name = self.settings.name.clone();
        note(&format!("{name} request_headers end={end_of_stream}"));
        let path = headers::REQUEST.get_str(":path").ok().flatten().unwrap_or_default();
        self.path = path.clone();
        if let Some(header) = &self.settings.require {
            let saw = headers::REQUEST.get(header).ok().flatten().is_some();
            let _ = headers::REQUEST.replace(format!("x-{name}-saw"), if saw { "yes" } else { "no" });
        }
        append(headers::REQUEST, "x-chain", &name);
        let local = LOCAL_HITS.fetch_add(1, Ordering::Relaxed) + 1;
        let shared = bump_shared(&name);
        let _ = headers::REQUEST.replace(format!("x-{name}-local"), format!("{local}"));
        let _ = headers::REQUEST.replace(format!("x-{name}-shared"), format!("{shared}"));
        if let Ok(counter) = metrics::Metric::counter(format!("{name}_requests")) {
            let _ = counter.increment(1);
        }
        if let Some(open) = gauge(&name, "open") {
            self.counted = open.increment(1).is_ok();
        }
        if let Some(last) = gauge(&name, "last_local") {
            let _ = last.record(u64::from(local));
        }
        if let Ok(histogram) = metrics::Metric::histogram(format!("{name}_local_hist")) {
            let _ = histogram.record(u64::from(local));
        }
        if self.settings.queue
            && let Ok(Some(queue)) = SharedQueue::resolve("", "events")
        {
            let _ = queue.enqueue(format!("{name}-{local}-{shared}"));
        }
        if self.settings.deny.as_deref() == Some(path.as_str()) {
            let sent = LocalResponse::new(403).body(format!("denied by {name}")).details("mesh_denied").send();
            note(&format!("{name} denied {path}: {}", sent.is_ok()));
            return Action::Continue;
        }
        if self.settings.hold.as_deref() == Some(path.as_str()) {
            note(&format!("{name} holds {path}"));
            self.held.borrow_mut().push(Held { stream: ContextHandle::from_id(self.id), part: Part::RequestHeaders });
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let name = &self.settings.name;
        note(&format!("{name} request_body {body_size} end={end_of_stream}"));
        self.tag_body(buffers::REQUEST_BODY, body_size);
        if end_of_stream && self.settings.hold_body.as_deref() == Some(self.path.as_str()) {
            note(&format!("{name} holds the body of {}", self.path));
            self.held.borrow_mut().push(Held { stream: ContextHandle::from_id(self.id), part: Part::RequestBody });
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_request_trailers(&mut self, _num_trailers: usize) -> Action {
        note(&format!("{} request_trailers", self.settings.name));
        self.tag_trailers(headers::REQUEST_TRAILERS);
        Action::Continue
    }

    fn on_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        note(&format!("{} response_headers end={end_of_stream}", self.settings.name));
        append(headers::RESPONSE, "x-chain-back", &self.settings.name);
        Action::Continue
    }

    fn on_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let name = &self.settings.name;
        note(&format!("{name} response_body {body_size} end={end_of_stream}"));
        self.tag_body(buffers::RESPONSE_BODY, body_size);
        if end_of_stream && self.settings.hold_response_body.as_deref() == Some(self.path.as_str()) {
            note(&format!("{name} holds the response body of {}", self.path));
            self.held.borrow_mut().push(Held { stream: ContextHandle::from_id(self.id), part: Part::ResponseBody });
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_response_trailers(&mut self, _num_trailers: usize) -> Action {
        note(&format!("{} response_trailers", self.settings.name));
        self.tag_trailers(headers::RESPONSE_TRAILERS);
        Action::Continue
    }

    fn on_done(&mut self) -> bool {
        note(&format!("{} done {}", self.settings.name, self.id));
        if core::mem::take(&mut self.counted)
            && let Some(open) = gauge(&self.settings.name, "open")
        {
            let _ = open.increment(-1);
        }
        true
    }
}

sluice::main! {
    sluice::set_root_context(|id| Box::new(Root { id, settings: Settings::default(), held: Rc::default(), queue: None }));
}
