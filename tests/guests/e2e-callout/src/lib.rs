//! End-to-end callout guest: a stream pauses, makes a callout, and the
//! response reaches that stream's own context through the closure given at
//! dispatch time, which edits the request and resumes it. Chosen by path:
//!
//! * `/http`: an HTTP call to cluster `auth`; on success the response's
//!   `x-user` header, status and body are copied into the request; on failure
//!   the stream is answered with a 503 naming the host's status.
//! * `/grpc`: a unary gRPC call; the reply message goes into the request.
//! * `/grpc-cancel`: a unary gRPC call cancelled at once through its
//!   `GrpcCallId`; the request goes on without waiting.
//! * `/grpc-stream`: a gRPC stream; every event is recorded, each message is
//!   acknowledged on the stream, and the close resumes the request.
//!
//! Handlers note `#<id> handler on <effective context>` so a test can check
//! that they ran on the stream, with the stream effective.
#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use sluice::grpc::{GrpcCall, GrpcEvent, GrpcReply, GrpcStream};
use sluice::http::{CallStatus, HttpCall, HttpResponse};
use sluice::stream::{self, LocalResponse};
use sluice::{Action, ContextHandle, HttpContext, LogLevel, RootContext, headers, logging};

fn note(id: u32, text: &str) {
    let _ = logging::log(LogLevel::Info, format!("#{id} {text}"));
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

struct Root;

impl RootContext for Root {
    fn new_http_context(&mut self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream { id: context_id, events: Vec::new(), grpc: None }))
    }
}

struct Stream {
    id: u32,
    events: Vec<String>,
    grpc: Option<GrpcStream>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        note(self.id, "delete");
    }
}

impl Stream {
    fn handler_entered(&self) {
        note(self.id, &format!("handler on {}", ContextHandle::current().id()));
    }

    fn on_http_response(&mut self, response: HttpResponse) {
        self.handler_entered();
        if response.is_failure() {
            note(self.id, &format!("failure: status code {:?}", response.status_code()));
            let status = response.status().unwrap_or(CallStatus { code: 0, message: Vec::new() });
            let body = format!("callout failed: {} {}", status.code, lossy(&status.message));
            let sent = LocalResponse::new(503).body(body).send();
            note(self.id, &format!("local response {}", sent.is_ok()));
            return;
        }
        let request = headers::REQUEST;
        let status = response.status_code().ok().flatten().unwrap_or(0);
        let _ = request.add("x-auth-status", format!("{status}"));
        let user = response.header("x-user").ok().flatten().unwrap_or_default();
        let _ = request.add("x-auth-user", user);
        let _ = request.add("x-auth-body", response.body().unwrap_or_default());
        let counts = format!("{} {} {}", response.num_headers(), response.body_size(), response.num_trailers());
        let _ = request.add("x-auth-counts", counts);
        let trailers = response.trailers().unwrap_or_default();
        let _ = request.add("x-auth-trailers", format!("{}", trailers.len()));
        note(self.id, &format!("resume {}", stream::resume_http_request().is_ok()));
    }

    fn on_grpc_reply(&mut self, reply: GrpcReply) {
        self.handler_entered();
        match reply {
            GrpcReply::Message(message) => {
                let _ = headers::REQUEST.add("x-grpc-reply", message.bytes().unwrap_or_default());
                note(self.id, &format!("resume {}", stream::resume_http_request().is_ok()));
            }
            GrpcReply::Closed(close) => {
                let message = lossy(&close.message().unwrap_or_default());
                let _ = LocalResponse::new(502).body(format!("grpc closed {} {message}", close.code())).send();
            }
        }
    }

    fn on_grpc_event(&mut self, event: GrpcEvent) {
        self.handler_entered();
        let text = match event {
            GrpcEvent::InitialMetadata { count } => {
                let pairs = event.metadata().unwrap_or_default();
                let first = pairs.first().map(|(k, v)| format!("{}={}", lossy(k), lossy(v))).unwrap_or_default();
                format!("initial {count} {first}")
            }
            GrpcEvent::Message(message) => {
                let bytes = message.bytes().unwrap_or_default();
                if let Some(grpc) = self.grpc {
                    let _ = grpc.send(&[b"ack:", &bytes[..]].concat(), false);
                }
                format!("message {}", lossy(&bytes))
            }
            GrpcEvent::TrailingMetadata { count } => format!("trailing {count}"),
            GrpcEvent::Close(close) => {
                let message = lossy(&close.message().unwrap_or_default());
                format!("close {} {message}", close.code())
            }
        };
        self.events.push(text);
        if let GrpcEvent::Close(_) = event {
            let _ = headers::REQUEST.add("x-grpc-events", self.events.join("|"));
            note(self.id, &format!("resume {}", stream::resume_http_request().is_ok()));
        }
    }
}

impl HttpContext for Stream {
    fn on_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let path = headers::REQUEST.get_str(":path").ok().flatten().unwrap_or_default();
        let dispatched = match path.as_str() {
            "/http" => HttpCall::new("auth")
                .header(":method", "POST")
                .header(":path", "/check")
                .header(":authority", "auth.local")
                .body("who?")
                .dispatch(|this: &mut Stream, response| this.on_http_response(response))
                .map(|_| ()),
            // Envoy refuses a call without `:authority`: an error, no handler kept.
            "/refused" => HttpCall::new("auth")
                .header(":method", "GET")
                .header(":path", "/check")
                .dispatch(|this: &mut Stream, response| this.on_http_response(response))
                .map(|_| ()),
            "/grpc" => GrpcCall::new("grpc-auth", "e2e.Auth", "Check")
                .metadata("x-md", "1")
                .dispatch(b"request", |this: &mut Stream, reply| this.on_grpc_reply(reply))
                .map(|_| ()),
            "/grpc-cancel" => {
                let sent = GrpcCall::new("grpc-auth", "e2e.Auth", "Check")
                    .dispatch(b"request", |this: &mut Stream, reply| this.on_grpc_reply(reply));
                let cancelled = sent.and_then(|call| {
                    note(self.id, &format!("cancelling call {}", call.id()));
                    call.cancel()
                });
                note(self.id, &format!("cancelled {}", cancelled.is_ok()));
                return Action::Continue;
            }
            "/grpc-stream" => {
                let opened = GrpcCall::new("grpc-auth", "e2e.Auth", "Watch")
                    .open_stream(|this: &mut Stream, event| this.on_grpc_event(event));
                opened.and_then(|grpc| {
                    self.grpc = Some(grpc);
                    grpc.send(b"hello", false)
                })
            }
            _ => return Action::Continue,
        };
        match &dispatched {
            Ok(()) => note(self.id, "dispatched true"),
            Err(e) => note(self.id, &format!("dispatch failed: {e}")),
        }
        if dispatched.is_ok() { Action::Pause } else { Action::Continue }
    }
}

sluice::main! {
    sluice::set_root_context(|_| Box::new(Root));
}
