//! Driving a scenario's steps on a host: the clock and ticks, one HTTP
//! stream per step, callout answers (a response, a reset, or the clock moved
//! to the call's timeout), and streams a step holds open until a later step
//! resumes them.

use super::format::{Message, Step};
use super::run::{CalloutReport, Headers, RouteReport, StepReport};
use crate::api::{HttpStream, StreamId};
use crate::error::Error;
use crate::failure::FAIL_STREAM_DETAILS;
use crate::host::{CalloutId, Host};
use crate::spec::PluginId;
use crate::state::callouts::HttpCallout;
use crate::state::headers::HeaderMap;
use crate::state::http::Message as Sent;
use crate::vm::HttpCallResponse;

pub(super) fn text(map: &HeaderMap) -> Headers {
    map.to_strings()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A stream that a step (`hold = true`) left open.
#[derive(Debug)]
struct Held {
    step: usize,
    stream: StreamId,
    response: Option<Message>,
}

/// Runs steps and keeps the streams they hold open.
#[derive(Debug)]
pub(super) struct Driver {
    held: Vec<Held>,
    /// The host has a route table: streams report where they were routed.
    routing: bool,
}

impl Driver {
    /// A driver for a host with (`routing`) or without a route table.
    pub fn new(routing: bool) -> Driver {
        Driver { held: Vec::new(), routing }
    }

    /// Runs step `index`; a host or plugin error ends the step and is in its report.
    pub fn step(&mut self, host: &mut Host, plugin: PluginId, index: usize, step: &Step) -> StepReport {
        let mut report = StepReport::new(step);
        if let Err(e) = self.drive(host, plugin, index, step, &mut report) {
            report.error = Some(e.to_string());
        }
        report
    }

    /// After step `now` (0-based; `None`: the scenario ended): each held
    /// stream that a step resumed (its request reached the upstream, or it
    /// ended) gets its upstream response and finishes, with its outcome in
    /// its own step's report; at the end every held stream finishes, as
    /// when its client goes away.
    pub fn release(&mut self, host: &mut Host, reports: &mut [StepReport], now: Option<usize>) {
        for held in std::mem::take(&mut self.held) {
            let ready = host.http(held.stream).is_ok_and(|s| ready(&s));
            let Some(report) = reports.get_mut(held.step) else { continue };
            if !ready && now.is_some() {
                self.held.push(held);
                continue;
            }
            report.released_in = now.map(|n| n + 1);
            let result = host.http(held.stream).and_then(|mut stream| {
                let delivered = match &held.response {
                    Some(response) => respond(&mut stream, response, report),
                    None => Ok(()),
                };
                finish(stream, report, delivered, self.routing)
            });
            if let Err(e) = result {
                report.error.get_or_insert(e.to_string());
            }
        }
    }

    fn drive(
        &mut self,
        host: &mut Host,
        plugin: PluginId,
        index: usize,
        step: &Step,
        report: &mut StepReport,
    ) -> Result<(), Error> {
        let earlier: Vec<CalloutId> = host.http_callouts().iter().map(HttpCallout::id).collect();
        if let Some(by) = step.advance {
            host.advance(by)?;
        }
        for _ in 0..step.ticks {
            host.tick(plugin)?;
        }
        let Some(request) = &step.request else { return answer_callouts(host, step, &earlier, report) };
        report.request_in = Some(text(&request.headers));
        report.request_body_in = lossy(&request.chunks.concat());
        let mut stream = host.http_stream(plugin)?;
        let result =
            request.deliver(&mut stream, false).and_then(|()| answer_callouts(stream.host(), step, &earlier, report));
        if result.is_ok() && step.hold && !ready(&stream) {
            report.held = true;
            self.held.push(Held { step: index, stream: stream.id(), response: step.response.clone() });
            return Ok(());
        }
        let result = match (&step.response, result) {
            (Some(response), Ok(())) => respond(&mut stream, response, report),
            (_, result) => result,
        };
        finish(stream, report, result, self.routing)
    }
}

/// Whether the stream can take the upstream's response now (or has ended).
fn ready(stream: &HttpStream<'_>) -> bool {
    stream.is_over() || stream.upstream_request().end_of_stream
}

/// Sends the upstream's response if the upstream received the whole
/// request; otherwise records why not.
fn respond(stream: &mut HttpStream<'_>, response: &Message, report: &mut StepReport) -> Result<(), Error> {
    report.response_in = Some(text(&response.headers));
    report.response_skipped = if let Some(local) = stream.local_response() {
        Some(if local.details == FAIL_STREAM_DETAILS {
            format!("the plugin's VM failed: fail closed answered locally ({})", local.status_code)
        } else {
            format!("the plugin answered locally ({})", local.status_code)
        })
    } else if stream.is_over() {
        Some("the stream already ended".into())
    } else if stream.upstream_request().headers.is_none() {
        Some("the request is paused before the upstream (the plugin did not resume it)".into())
    } else if !stream.upstream_request().end_of_stream {
        Some("the upstream has not received the whole request".into())
    } else {
        None
    };
    if report.response_skipped.is_none() {
        response.deliver(stream, true)?;
    }
    Ok(())
}

/// Finishes the stream and records what each side saw, and where it was
/// routed when the host has a route table (even after an error of
/// `result`, which is returned).
fn finish(
    stream: HttpStream<'_>,
    report: &mut StepReport,
    result: Result<(), Error>,
    routing: bool,
) -> Result<(), Error> {
    let outcome = stream.complete();
    result?;
    let outcome = outcome?;
    if routing {
        report.route = Some(RouteReport {
            virtual_host: outcome.route.as_ref().map(|r| r.virtual_host.clone()),
            name: outcome.route.as_ref().map(|r| r.route_name.clone()),
            upstream_cluster: outcome.upstream_cluster.clone(),
        });
    }
    let record = |sent: &Sent| (sent.headers.as_ref().map(text), lossy(&sent.body));
    (report.upstream_request, report.upstream_body) = record(&outcome.upstream_request);
    (report.client_response, report.client_body) = record(&outcome.client_response);
    if let Some(local) = &outcome.local_response {
        report.local_response = Some((local.status_code, local.details.clone(), lossy(&local.body)));
        if report.client_response.is_none() {
            report.client_response = Some(text(&local.client_headers()));
            report.client_body = lossy(&local.body);
        }
    }
    report.fail_policy = outcome.fail_policy.map(|p| p.name().to_owned());
    Ok(())
}

/// Answers the pending HTTP callouts with the step's answers, oldest first
/// (callouts of earlier steps, pending when the step began: `earlier`,
/// included), then lists those still pending.
fn answer_callouts(host: &mut Host, step: &Step, earlier: &[CalloutId], report: &mut StepReport) -> Result<(), Error> {
    let callout = |call: &HttpCallout, answer: String| CalloutReport {
        cluster: call.upstream.clone(),
        headers: text(&call.headers),
        body: lossy(&call.body),
        timeout_ms: call.timeout.as_millis(),
        answer,
        from_earlier_step: earlier.contains(&call.id()),
    };
    for (i, answer) in step.callouts.iter().enumerate() {
        let Some(call) = host.http_callouts().into_iter().next() else {
            report.callouts.push(CalloutReport {
                cluster: answer.cluster.clone().unwrap_or_default(),
                headers: Vec::new(),
                body: String::new(),
                timeout_ms: 0,
                answer: format!("answer {} not used: no callout was pending", i + 1),
                from_earlier_step: false,
            });
            continue;
        };
        let (answer_text, result) = if answer.fail {
            ("failed (reset)".to_string(), host.fail_http_call(call.id()))
        } else if answer.timeout {
            match host.http_call_time_left(call.id()) {
                Some(left) => (format!("timed out (clock advanced {} ms)", left.as_millis()), host.advance(left)),
                None => ("cannot time out: the callout has no timeout".to_string(), Ok(())),
            }
        } else {
            let status = answer.headers.get_str(":status").unwrap_or("200").to_owned();
            let response = HttpCallResponse {
                headers: answer.headers.clone(),
                body: answer.body.clone(),
                trailers: answer.trailers.clone(),
            };
            (format!("answered {status}"), host.respond_http_call(call.id(), response))
        };
        report.callouts.push(callout(&call, answer_text));
        result?;
    }
    for call in host.http_callouts() {
        report.callouts.push(callout(&call, "unanswered (still pending)".into()));
    }
    Ok(())
}
