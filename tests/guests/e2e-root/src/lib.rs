//! End-to-end root-context guest: streams hand themselves to the root, which
//! acts for them from its tick (every second):
//!
//! * `/hold`: the stream pauses; the tick resumes it (`proxy_continue_stream`
//!   with the stream made effective).
//! * `/park`: the stream pauses; the tick dispatches an HTTP call on its
//!   behalf with `dispatch_to`, whose handler runs on the stream, tags the
//!   request and resumes it.
//! * `/linger`: the stream's `on_done` returns false; the tick calls
//!   `proxy_done` for it.
//!
//! Shutting the plugin down makes the root flush to cluster `stats` and
//! return false from `on_done`; the flush's response calls `proxy_done`.
#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::time::Duration;

use sluice::http::HttpCall;
use sluice::{Action, Configuration, ContextHandle, Error, HttpContext, LogLevel, RootContext, headers, logging, time};

fn note(id: u32, text: &str) {
    let _ = logging::log(LogLevel::Info, format!("#{id} {text}"));
}

fn outcome<T>(result: &Result<T, Error>) -> String {
    match result {
        Ok(_) => String::from("ok"),
        Err(e) => format!("{e}"),
    }
}

fn call(path: &str) -> HttpCall {
    HttpCall::new("auth").header(":method", "GET").header(":path", path).header(":authority", "auth.local")
}

/// Streams waiting for the root, by what they wait for.
#[derive(Default)]
struct Waiting {
    held: Vec<ContextHandle>,
    parked: Vec<ContextHandle>,
    lingering: Vec<ContextHandle>,
}

struct Root {
    id: u32,
    waiting: Rc<RefCell<Waiting>>,
}

impl Drop for Root {
    fn drop(&mut self) {
        note(self.id, "delete");
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _plugin_configuration: Configuration) -> bool {
        time::set_tick_period(Duration::from_secs(1)).is_ok()
    }

    fn on_tick(&mut self) {
        note(self.id, "tick");
        let waiting = core::mem::take(&mut *self.waiting.borrow_mut());
        for stream in waiting.held {
            // Hostcalls inside `run` apply to the stream: read and tag its request.
            let path = stream.run(|| {
                let _ = headers::REQUEST.add("x-held-by", format!("{}", self.id));
                headers::REQUEST.get_str(":path")
            });
            let path = path.and_then(|p| p).ok().flatten().unwrap_or_default();
            note(self.id, &format!("held {} at {path}", stream.id()));
            note(self.id, &format!("resumed {} {}", stream.id(), outcome(&stream.resume_http_request())));
        }
        for stream in waiting.parked {
            // A handler typed for another kind of context is refused up front.
            let wrong = call("/wrong").dispatch_to(stream, |_: &mut Root, _| {});
            note(self.id, &format!("wrong type: {}", outcome(&wrong)));
            let sent = call("/for-stream").header("x-stream", format!("{}", stream.id())).dispatch_to(
                stream,
                |this: &mut Stream, response| {
                    note(this.id, &format!("handler on {}", ContextHandle::current().id()));
                    let status = response.status_code().ok().flatten().unwrap_or(0);
                    let _ = headers::REQUEST.add("x-tick-auth", format!("{status}"));
                    note(this.id, &format!("resume {}", outcome(&sluice::stream::resume_http_request())));
                },
            );
            note(self.id, &format!("dispatched for {} {}", stream.id(), outcome(&sent)));
        }
        for stream in waiting.lingering {
            note(self.id, &format!("done {} {}", stream.id(), outcome(&stream.done())));
        }
        // The effective context is the root again after acting for streams.
        note(self.id, &format!("effective {}", ContextHandle::current().id()));
    }

    fn new_http_context(&mut self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream { id: context_id, linger: false, waiting: self.waiting.clone() }))
    }

    fn on_done(&mut self) -> bool {
        let flush = call("/flush").dispatch(|this: &mut Root, _response| {
            note(this.id, "flushed");
            let me = ContextHandle::current();
            note(this.id, &format!("root done {} pending={}", outcome(&me.done()), me.is_done_pending()));
        });
        note(self.id, &format!("on_done flush {}", outcome(&flush)));
        flush.is_err()
    }
}

struct Stream {
    id: u32,
    linger: bool,
    waiting: Rc<RefCell<Waiting>>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        note(self.id, "delete");
    }
}

impl HttpContext for Stream {
    fn on_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let path = headers::REQUEST.get_str(":path").ok().flatten().unwrap_or_default();
        let me = ContextHandle::current();
        let mut waiting = self.waiting.borrow_mut();
        match path.as_str() {
            "/hold" => waiting.held.push(me),
            "/park" => waiting.parked.push(me),
            "/linger" => {
                self.linger = true;
                return Action::Continue;
            }
            _ => return Action::Continue,
        }
        Action::Pause
    }

    fn on_done(&mut self) -> bool {
        note(self.id, &format!("done {}", !self.linger));
        if self.linger {
            self.waiting.borrow_mut().lingering.push(ContextHandle::current());
        }
        !self.linger
    }

    fn on_log(&mut self) {
        note(self.id, &format!("log pending={}", ContextHandle::current().is_done_pending()));
    }
}

sluice::main! {
    sluice::set_root_context(|id| Box::new(Root { id, waiting: Rc::default() }));
}
