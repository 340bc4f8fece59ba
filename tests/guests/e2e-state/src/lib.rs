//! End-to-end host-state guest. Every request:
//!
//! * counts itself in counter `e2e_requests`, gauge `e2e_active` (down again
//!   in `on_done`) and histogram `e2e_headers` (its header count);
//! * increments shared-data key `hits` with a compare-and-swap loop;
//! * enqueues its path on the shared queue `e2e_jobs`, which the root
//!   registered and drains in `on_queue_ready`;
//! * reports what it saw in request headers (`x-hits`, `x-requests`, ...).
//!
//! Path `/cas` also writes `hits` with a stale CAS and notes the refusal.
#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;

use sluice::metrics::Metric;
use sluice::queue::SharedQueue;
use sluice::shared_data::SharedValue;
use sluice::{Action, Configuration, Error, HttpContext, LogLevel, RootContext, Status, headers, logging, shared_data};

fn note(id: u32, text: &str) {
    let _ = logging::log(LogLevel::Info, format!("#{id} {text}"));
}

fn outcome<T>(result: &Result<T, Error>) -> String {
    match result {
        Ok(_) => String::from("ok"),
        Err(e) => format!("{e}"),
    }
}

#[derive(Clone, Copy)]
struct Metrics {
    requests: Metric,
    active: Metric,
    headers: Metric,
}

impl Metrics {
    fn define() -> Result<Metrics, Error> {
        Ok(Metrics {
            requests: Metric::counter("e2e_requests")?,
            active: Metric::gauge("e2e_active")?,
            headers: Metric::histogram("e2e_headers")?,
        })
    }
}

fn decimal(bytes: &[u8]) -> u64 {
    core::str::from_utf8(bytes).ok().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Adds one to `key` with compare-and-swap, retrying on a concurrent write.
/// Returns the new value.
fn increment(key: &str) -> Result<u64, Error> {
    loop {
        let (next, cas) = match shared_data::get(key)? {
            Some(SharedValue { value, cas }) => (decimal(&value) + 1, Some(cas)),
            None => (1, None),
        };
        match shared_data::set(key, format!("{next}"), cas) {
            Ok(()) => return Ok(next),
            Err(Error::Status(Status::CasMismatch)) => continue,
            Err(e) => return Err(e),
        }
    }
}

struct Root {
    id: u32,
    metrics: Option<Metrics>,
    queue: Option<SharedQueue>,
}

impl RootContext for Root {
    fn on_configure(&mut self, _plugin_configuration: Configuration) -> bool {
        self.metrics = Metrics::define().ok();
        self.queue = SharedQueue::register("e2e_jobs").ok();
        self.metrics.is_some() && self.queue.is_some()
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        note(self.id, &format!("queue ready {}", Some(queue_id) == self.queue.map(SharedQueue::id)));
        let queue = SharedQueue::from_id(queue_id);
        loop {
            match queue.dequeue() {
                Ok(Some(item)) => note(self.id, &format!("job {}", String::from_utf8_lossy(&item))),
                Ok(None) => break note(self.id, "drained"),
                Err(e) => break note(self.id, &format!("dequeue failed: {e}")),
            }
        }
    }

    fn new_http_context(&mut self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream { id: context_id, metrics: self.metrics? }))
    }
}

struct Stream {
    id: u32,
    metrics: Metrics,
}

impl Stream {
    fn report(&self, name: &str, value: impl AsRef<[u8]>) {
        let _ = headers::REQUEST.add(name, value);
    }

    fn stale_cas(&self) {
        let Ok(Some(SharedValue { value, cas })) = shared_data::get("hits") else { return };
        let first = shared_data::set("hits", &value, Some(cas));
        let second = shared_data::set("hits", &value, Some(cas));
        note(self.id, &format!("fresh cas: {}, stale cas: {}", outcome(&first), outcome(&second)));
    }
}

impl HttpContext for Stream {
    fn on_request_headers(&mut self, num_headers: usize, _end_of_stream: bool) -> Action {
        let m = self.metrics;
        let _ = m.requests.increment(1);
        let _ = m.active.increment(1);
        let _ = m.headers.record(num_headers as u64);
        self.report("x-requests", format!("{}", m.requests.get().unwrap_or(0)));
        self.report("x-active", format!("{}", m.active.get().unwrap_or(0)));
        self.report("x-histogram-get", outcome(&m.headers.get()));
        self.report("x-counter-decrement", outcome(&m.requests.increment(-1)));

        match increment("hits") {
            Ok(hits) => self.report("x-hits", format!("{hits}")),
            Err(e) => self.report("x-hits", format!("{e}")),
        }
        let path = headers::REQUEST.get_str(":path").ok().flatten().unwrap_or_default();
        if path == "/cas" {
            self.stale_cas();
        }
        let absent = match shared_data::get("absent") {
            Ok(None) => String::from("none"),
            Ok(Some(_)) => String::from("present"),
            Err(e) => format!("{e}"),
        };
        self.report("x-absent", absent);
        if let Ok(Some(external)) = shared_data::get("external") {
            self.report("x-external", external.value);
        }

        let queue = SharedQueue::resolve("", "e2e_jobs");
        let enqueued = queue.and_then(|q| q.ok_or(Error::Status(Status::NotFound))?.enqueue(&path));
        note(self.id, &format!("enqueued {}", outcome(&enqueued)));
        Action::Continue
    }

    fn on_done(&mut self) -> bool {
        let _ = self.metrics.active.increment(-1);
        true
    }
}

sluice::main! {
    sluice::set_root_context(|id| Box::new(Root { id, metrics: None, queue: None }));
}
