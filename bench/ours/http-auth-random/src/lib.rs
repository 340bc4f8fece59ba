//! The official proxy-wasm SDK's `http_auth_random` example, written with
//! sluice: every request is paused while an HTTP call to `httpbin` fetches one
//! random byte; an even byte resumes the request, anything else answers 403.
//! Every response gets a `Powered-By` header. Same host calls and log lines as
//! `bench/official/http-auth-random`, for the benchmarks.
#![no_std]

use core::time::Duration;

use sluice::http::{HttpCall, HttpResponse};
use sluice::stream::{self, LocalResponse};
use sluice::{Action, HttpContext, LogLevel, RootContext, headers, logging};

#[derive(RootContext)]
#[sluice(http = HttpAuthRandom)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct HttpAuthRandom;

impl HttpAuthRandom {
    fn on_auth_response(&mut self, response: HttpResponse) {
        let body = response.body().unwrap_or_default();
        if body.first().is_some_and(|byte| byte % 2 == 0) {
            let _ = logging::log(LogLevel::Trace, "Access granted.");
            let _ = stream::resume_http_request();
            return;
        }
        let _ = logging::log(LogLevel::Trace, "Access forbidden.");
        let _ = LocalResponse::new(403).header("Powered-By", "proxy-wasm").body("Access forbidden.\n").send();
    }
}

impl HttpContext for HttpAuthRandom {
    fn on_request_headers(&mut self, _: usize, _: bool) -> Action {
        let call = HttpCall::new("httpbin")
            .header(":method", "GET")
            .header(":path", "/bytes/1")
            .header(":authority", "httpbin.org")
            .timeout(Duration::from_secs(1))
            .dispatch(HttpAuthRandom::on_auth_response);
        match call {
            Ok(_) => Action::Pause,
            Err(_) => panic!("dispatching the auth call failed"),
        }
    }

    fn on_response_headers(&mut self, _: usize, _: bool) -> Action {
        let _ = headers::RESPONSE.replace("Powered-By", "proxy-wasm");
        Action::Continue
    }
}
