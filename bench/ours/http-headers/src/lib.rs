//! The official proxy-wasm SDK's `http_headers` example, written with sluice:
//! logs every request and response header, answers `/hello` itself and sets a
//! `Powered-By` response header on every other response. Same host calls and
//! log lines as `tests/official-guests/http-headers`, for the benchmarks.
#![no_std]

use sluice::stream::LocalResponse;
use sluice::{Action, HttpContext, RootContext, headers};

#[derive(RootContext)]
#[sluice(http = HttpHeaders)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct HttpHeaders {
    #[sluice(context_id)]
    id: u32,
}

impl HttpContext for HttpHeaders {
    fn on_request_headers(&mut self, _: usize, _: bool) -> Action {
        let request = headers::REQUEST.view().unwrap_or_default();
        for (name, value) in request.str_pairs().unwrap_or_default() {
            sluice::info!("#{} -> {}: {}", self.id, name, value);
        }
        match headers::REQUEST.get(":path") {
            Ok(Some(path)) if path == b"/hello" => {
                let _ = LocalResponse::new(200)
                    .header("Hello", "World")
                    .header("Powered-By", "proxy-wasm")
                    .body("Hello, World!\n")
                    .send();
                Action::Pause
            }
            _ => Action::Continue,
        }
    }

    fn on_response_headers(&mut self, _: usize, _: bool) -> Action {
        let response = headers::RESPONSE.view().unwrap_or_default();
        for (name, value) in response.str_pairs().unwrap_or_default() {
            sluice::info!("#{} <- {}: {}", self.id, name, value);
        }
        let _ = headers::RESPONSE.replace("Powered-By", "proxy-wasm");
        Action::Continue
    }

    fn on_log(&mut self) {
        sluice::info!("#{} completed.", self.id);
    }
}
