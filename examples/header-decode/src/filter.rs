//! The HTTP stream context: on request headers, remove client-sent copies of
//! the target headers, decode the source header, then set the claim headers
//! (and strip the source) or reject the request.

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use core::cell::Cell;

use sluice::headers::REQUEST;
use sluice::stream::LocalResponse;
use sluice::{Action, HttpContext};

use crate::config::{Encoding, HeaderName, OnError, Settings};
use crate::counters::Counters;
use crate::decode::{self, Failure};

/// The stream context.
#[derive(Debug, sluice::HttpContext)]
pub struct Filter {
    #[sluice(config)]
    settings: Rc<Settings>,
    #[sluice(shared)]
    counters: Rc<Cell<Option<Counters>>>,
}

/// The host refused a header operation, so the request's headers cannot be
/// trusted: fail closed with a 500 (regardless of `on_error`).
fn host_failure(what: &str, error: sluice::Error) -> Action {
    sluice::error!("header-decode: {what} failed: {error}; rejecting the request");
    let sent = LocalResponse::new(500).details("header_decode_host_error").body("internal error\n").send();
    if let Err(e) = sent {
        sluice::error!("header-decode: the local reply failed too: {e}");
    }
    Action::Pause
}

impl Filter {
    fn counters(&self) -> Option<Counters> {
        self.counters.get()
    }

    /// Removes every client-sent copy of a target header that `setting` does
    /// not replace (replacing overwrites them: on Kong's nginx module, where a
    /// removed request header still reaches the upstream, that keeps a
    /// single spoofed value from getting through); returns how many target
    /// headers were present.
    fn remove_client_copies(&self, setting: &[(&HeaderName, String)]) -> sluice::Result<usize> {
        let mut present = 0;
        for mapping in &self.settings.claims {
            let name = mapping.header.as_str();
            // A failed lookup still removes: removal is what matters.
            if REQUEST.get(name).map_or(true, |value| value.is_some()) {
                present += 1;
                if !setting.iter().any(|(set, _)| set.as_str() == name) {
                    REQUEST.remove(name)?;
                }
            }
        }
        Ok(present)
    }

    fn reject(&self, failure: &Failure) -> Action {
        let settings = &self.settings;
        let reason = failure.reason.name();
        let mut reply = LocalResponse::new(settings.reject_status.code())
            .details(format!("jwt_decode_failed{{{reason}}}"))
            .header("content-type", "application/json")
            .body(format!("{{\"error\":\"jwt_decode_failed\",\"reason\":\"{reason}\"}}\n"));
        if settings.reject_status.code() == 401 && settings.source.encoding == Encoding::Jwt {
            reply = reply.header("www-authenticate", "Bearer error=\"invalid_token\"");
        }
        if let Some(counters) = self.counters() {
            counters.rejected();
        }
        match reply.send() {
            Ok(()) => Action::Pause,
            Err(e) => host_failure("sending the rejection", e),
        }
    }
}

impl HttpContext for Filter {
    fn on_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let counters = self.counters();
        let settings = Rc::clone(&self.settings);
        let source = settings.source.header.as_str();
        let value = match REQUEST.get(source) {
            Ok(value) => value,
            Err(e) => return host_failure("reading the source header", e),
        };
        let outcome = decode::decide(&settings, value.as_deref());
        match self.remove_client_copies(&outcome.headers) {
            Ok(removed) => {
                if let Some(c) = counters {
                    c.spoofed(removed);
                }
            }
            Err(e) => return host_failure("removing client-sent claim headers", e),
        }
        match &outcome.failure {
            None => {
                if let Some(c) = counters {
                    c.ok();
                }
            }
            Some(failure) => {
                if let Some(c) = counters {
                    c.failed(failure.reason);
                }
                sluice::debug!("header-decode: {}: {}", failure.reason, failure.detail);
                if settings.on_error == OnError::Reject {
                    return self.reject(failure);
                }
            }
        }
        for (name, text) in &outcome.headers {
            if let Err(e) = REQUEST.replace(name.as_str(), text) {
                return host_failure("setting a claim header", e);
            }
        }
        if settings.strip_source
            && value.is_some()
            && let Err(e) = REQUEST.remove(source)
        {
            return host_failure("removing the source header", e);
        }
        Action::Continue
    }
}
