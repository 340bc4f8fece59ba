//! Expectations against what a run recorded; each failure is one line that
//! names the step and the expectation.

use super::format::{ActionsExpect, Expect, FinishedExpect, Forwarded, HeaderExpect, LogExpect, PluginExpect, Step};
use super::report::{ActionReport, FinishedCalloutReport, Headers, LogLine, StepReport};
use crate::host::Host;
use crate::state::metrics::MetricValue;

fn values<'a>(headers: &'a Headers, name: &str) -> Vec<&'a str> {
    headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
}

fn headers(label: &str, side: &str, expect: &HeaderExpect, seen: Option<&Headers>, failures: &mut Vec<String>) {
    let empty = Vec::new();
    let seen = seen.unwrap_or(&empty);
    for name in &expect.has {
        if values(seen, name).is_empty() {
            failures.push(format!("{label}: expect.{side}.has: header `{name}` is missing"));
        }
    }
    for name in &expect.absent {
        let found = values(seen, name);
        if !found.is_empty() {
            failures.push(format!("{label}: expect.{side}.absent: header `{name}` is present: {found:?}"));
        }
    }
    for (name, want) in &expect.equals {
        let found = values(seen, name);
        if found != *want {
            let want: &dyn std::fmt::Debug = if let [one] = want.as_slice() { one } else { want };
            failures.push(format!("{label}: expect.{side}.equals: `{name}` should be {want:?}, found {found:?}"));
        }
    }
    if let Some(want) = &expect.exactly {
        let same = want.len() == seen.len()
            && want.iter().zip(seen).all(|((k, v), (sk, sv))| k.eq_ignore_ascii_case(sk) && v == sv);
        if !same {
            failures.push(format!("{label}: expect.{side}.exactly: expected {want:?}, found {seen:?}"));
        }
    }
    for (name, re) in &expect.matches {
        let found = values(seen, name);
        if !found.iter().any(|v| re.is_match(v)) {
            failures.push(format!("{label}: expect.{side}.matches: `{name}` should match /{re}/, found {found:?}"));
        }
    }
}

/// Each expected string (when given) against what was found.
fn equal_strings<const N: usize>(at: &str, pairs: [(&str, &Option<String>, &String); N], failures: &mut Vec<String>) {
    for (what, want, found) in pairs {
        if let Some(want) = want
            && want != found
        {
            failures.push(format!("{at}.{what}: expected {want:?}, found {found:?}"));
        }
    }
}

/// Checks one step's expectations: callouts and logs against its own
/// report, the stream's against `stream` (the report of the step that
/// opened it, for a step that resumes a stream).
pub fn step(label: &str, step: &Step, own: &StepReport, stream: &StepReport, failures: &mut Vec<String>) {
    let e = &step.expect;
    let report = own;
    for (i, answer) in step.callouts.iter().enumerate() {
        let Some(call) = report.callouts.iter().find(|c| c.answer_index == Some(i)) else { continue };
        if call.answer.starts_with("cannot time out") {
            failures.push(format!("{label}: callouts[{}].timeout: the callout has no timeout (0: none)", i + 1));
        } else if let Some(cluster) = &answer.cluster
            && *cluster != call.cluster
        {
            failures.push(format!(
                "{label}: callouts[{}].cluster: the callout went to {:?}, expected {cluster:?}",
                i + 1,
                call.cluster
            ));
        }
    }
    for (i, answer) in step.callouts.iter().enumerate() {
        let (Some(want), Some(call)) = (&answer.expect, report.callouts.iter().find(|c| c.answer_index == Some(i)))
        else {
            continue;
        };
        let at = format!("{label}: callouts[{}]", i + 1);
        headers(&at, "headers", &want.headers, Some(&call.headers), failures);
        headers(&at, "trailers", &want.trailers, Some(&call.trailers), failures);
        if let Some(body) = &want.body
            && *body != call.body
        {
            failures.push(format!("{at}: expect.body: expected {body:?}, found {:?}", call.body));
        }
        if let Some(timeout) = want.timeout
            && timeout.as_millis() != call.timeout_ms
        {
            failures.push(format!(
                "{at}: expect.timeout: expected {} ms, found {} ms",
                timeout.as_millis(),
                call.timeout_ms
            ));
        }
    }
    for (i, answer) in step.grpc.iter().enumerate() {
        let Some(call) = report.grpc.iter().find(|c| c.answer_index == Some(i)) else { continue };
        let at = format!("{label}: grpc[{}]", i + 1);
        if call.answer.starts_with("cannot time out") {
            failures.push(format!("{at}.timeout: the call has no timeout (0: none)"));
        }
        let want = &answer.expect;
        equal_strings(
            &format!("{at}.expect"),
            [
                ("cluster", &want.cluster, &call.cluster),
                ("service", &want.service, &call.service),
                ("method", &want.method, &call.method),
            ],
            failures,
        );
        if let Some(stream) = want.stream
            && stream != (call.kind == "stream")
        {
            let want = if stream { "stream" } else { "call" };
            failures.push(format!("{at}.expect.kind: expected a {want}, found a {}", call.kind));
        }
        if let Some(messages) = &want.messages
            && *messages != call.messages
        {
            failures.push(format!("{at}.expect.messages: expected {messages:?}, found {:?}", call.messages));
        }
        headers(&at, "metadata", &want.metadata, Some(&call.metadata), failures);
        if let Some(timeout) = want.timeout
            && timeout.as_millis() != call.timeout_ms
        {
            failures.push(format!(
                "{at}.expect.timeout: expected {} ms, found {} ms",
                timeout.as_millis(),
                call.timeout_ms
            ));
        }
    }
    if let Some(n) = e.grpc_calls {
        let made = report.grpc.iter().filter(|c| !c.from_earlier_step).count();
        if made != n {
            failures.push(format!(
                "{label}: expect.grpc_calls: the plugin opened {made} gRPC calls or streams, expected {n}"
            ));
        }
    }
    if let Some(want) = &e.tcp {
        match &report.tcp {
            None => failures.push(format!("{label}: expect.tcp: the step has no TCP connection (`connection`)")),
            Some(tcp) => {
                equal_strings(
                    &format!("{label}: expect.tcp"),
                    [
                        ("upstream_received", &want.upstream_received, &tcp.upstream_received),
                        ("client_received", &want.client_received, &tcp.client_received),
                        ("buffered", &want.buffered, &tcp.buffered),
                    ],
                    failures,
                );
                if let Some(want) = want.new_connection {
                    let want = if want { "continue" } else { "pause" };
                    if tcp.new_connection.as_deref() != Some(want) {
                        failures.push(format!(
                            "{label}: expect.tcp.new_connection: expected {want:?}, found {:?} (on the step that opened it)",
                            tcp.new_connection
                        ));
                    }
                }
                if let Some(want) = &want.closed_by_plugin
                    && *want != tcp.closed_by_plugin
                {
                    failures.push(format!(
                        "{label}: expect.tcp.closed_by_plugin: expected {want:?}, found {:?}",
                        tcp.closed_by_plugin
                    ));
                }
                if let Some(want) = want.finished
                    && want != tcp.finished
                {
                    failures.push(format!("{label}: expect.tcp.finished: expected {want}, found {}", tcp.finished));
                }
            }
        }
    }
    if let Some(n) = e.callouts {
        let made = report.callouts.iter().filter(|c| !c.from_earlier_step).count();
        if made != n {
            failures.push(format!("{label}: expect.callouts: the plugin made {made} callouts, expected {n}"));
        }
    }
    if let Some(want) = &e.finished_callouts {
        finished_callouts(label, want, &report.finished_callouts, failures);
    }
    let report = stream;
    let route = report.route.as_ref();
    for (what, want, found) in [
        ("route", &e.route, route.and_then(|r| r.name.as_ref())),
        ("upstream_cluster", &e.upstream_cluster, route.and_then(|r| r.upstream_cluster.as_ref())),
    ] {
        if let Some(want) = want
            && Some(want) != found
        {
            let found = match (route, found) {
                (None, _) => "no route table: add [[virtual_hosts]]".to_owned(),
                (Some(_), None) => "none".to_owned(),
                (Some(_), Some(found)) => format!("{found:?}"),
            };
            failures.push(format!("{label}: expect.{what}: expected {want:?}, found {found}"));
        }
    }
    if let Some(forwarded) = e.forwarded {
        let found = match (&report.upstream_request, report.upstream_whole) {
            (None, _) => Forwarded::Nothing,
            (Some(_), false) => Forwarded::Headers,
            (Some(_), true) => Forwarded::Whole,
        };
        let what = match (forwarded, found) {
            (Forwarded::Nothing, Forwarded::Nothing) => None,
            (Forwarded::Nothing, _) => Some("should not reach the upstream but did"),
            (Forwarded::Headers, Forwarded::Nothing) => Some("should reach the upstream but did not"),
            (Forwarded::Headers, _) => None,
            (Forwarded::Whole, Forwarded::Whole) => None,
            (Forwarded::Whole, Forwarded::Headers) => Some(
                "should reach the upstream whole, but its end of stream did not (only the headers and part of the body)",
            ),
            (Forwarded::Whole, Forwarded::Nothing) => Some("should reach the upstream whole but did not reach it"),
        };
        if let Some(what) = what {
            failures.push(format!("{label}: expect.forwarded: the request {what}"));
        }
    }
    headers(label, "upstream_headers", &e.upstream_headers, report.upstream_request.as_ref(), failures);
    headers(label, "client_headers", &e.client_headers, report.client_response.as_ref(), failures);
    headers(label, "upstream_trailers", &e.upstream_trailers, report.upstream_trailers.as_ref(), failures);
    headers(label, "client_trailers", &e.client_trailers, report.client_trailers.as_ref(), failures);
    if let Some(want) = e.ended
        && report.ended.as_deref() != Some(want.name())
    {
        let found = match &report.ended {
            Some(found) => format!("it ended {found:?}"),
            None => "the step has no stream".to_owned(),
        };
        failures.push(format!("{label}: expect.ended: expected {:?}, {found}", want.name()));
    }
    if let Some(body) = &e.upstream_body
        && *body != report.upstream_body
    {
        failures.push(format!("{label}: expect.upstream_body: expected {body:?}, found {:?}", report.upstream_body));
    }
    if let Some(body) = &e.client_body
        && *body != report.client_body
    {
        failures.push(format!("{label}: expect.client_body: expected {body:?}, found {:?}", report.client_body));
    }
    if let Some(local) = &e.local_response {
        match &report.local_response {
            None => failures.push(format!("{label}: expect.local_response: the plugin sent no local response")),
            Some((status, details, body)) => {
                if let Some(want) = local.status
                    && want != *status
                {
                    failures.push(format!("{label}: expect.local_response.status: expected {want}, found {status}"));
                }
                if let Some(want) = &local.details
                    && want != details
                {
                    failures
                        .push(format!("{label}: expect.local_response.details: expected {want:?}, found {details:?}"));
                }
                if let Some(re) = &local.body
                    && !re.is_match(body)
                {
                    failures.push(format!("{label}: expect.local_response.body: {body:?} does not match /{re}/"));
                }
                if let Some(want) = &local.reason {
                    match report.status_line.as_deref() {
                        Some(line) if line.splitn(3, ' ').nth(2).unwrap_or_default() == want => {}
                        Some(line) => failures.push(format!(
                            "{label}: expect.local_response.reason: expected {want:?}, the client got {line:?}"
                        )),
                        None => failures.push(format!(
                            "{label}: expect.local_response.reason: expected {want:?}, but the reply went to a gRPC \
                             client (HTTP/2, trailers-only): it has no status line"
                        )),
                    }
                }
            }
        }
    }
    log_lines(&format!("{label}: expect.logs"), "of this step", &e.logs, &own.logs, failures);
    if let Some(want) = &e.exact_logs {
        exact_logs(&format!("{label}: expect.exact_logs"), want, &own.logs, failures);
    }
    if let Some(want) = e.tick_period {
        let found = own.tick_period_ms.unwrap_or(0);
        if want.as_millis() != found {
            failures.push(format!("{label}: expect.tick_period: expected {} ms, found {found} ms", want.as_millis()));
        }
    }
    for ((path, want), (_, found)) in e.properties.iter().zip(&own.properties_read) {
        let name = path.join(".");
        let shown = |v: &Option<crate::Value>| match v {
            Some(crate::Value::String(s)) => format!("{s:?}"),
            Some(crate::Value::Bytes(b)) => format!("{:?}", String::from_utf8_lossy(b)),
            Some(crate::Value::Int(n)) => n.to_string(),
            Some(crate::Value::Uint(n)) => n.to_string(),
            Some(crate::Value::Bool(b)) => b.to_string(),
            Some(other) => format!("{other:?}"),
            None => "none (NotFound)".to_owned(),
        };
        if want.as_ref().map(crate::Value::serialize) != found.as_ref().map(crate::Value::serialize) {
            failures.push(format!(
                "{label}: expect.properties: {name}: expected {}, found {}",
                shown(want),
                shown(found)
            ));
        }
    }
    if let Some(max) = e.max_fuel
        && own.fuel > max
    {
        failures.push(format!("{label}: expect.max_fuel: the step used {} fuel, more than {max}", own.fuel));
    }
    if let Some(want) = &e.local_reply_from
        && stream.local_reply_from.as_ref() != Some(want)
    {
        let found = match &stream.local_reply_from {
            Some(from) => format!("the local reply came from {from:?}"),
            None => "no plugin of the chain replied locally".to_owned(),
        };
        failures.push(format!("{label}: expect.local_reply_from: expected {want:?}, {found}"));
    }
    if let Some(want) = e.worker
        && stream.worker != Some(want)
    {
        let found = stream.worker.map_or("no stream".to_owned(), |w| format!("worker {w}"));
        failures.push(format!("{label}: expect.worker: expected worker {want}, the stream ran on {found}"));
    }
    if let Some(accepted) = e.reload_accepted {
        let got = own.reload.as_deref().unwrap_or("not done");
        if accepted != (got == "accepted") {
            let want = if accepted { "accepted" } else { "rejected" };
            failures.push(format!("{label}: expect.reload: expected the reload {want}, it was {got}"));
        }
    }
    for (function, want) in &e.host_calls {
        let found = own.host_calls.get(function).copied().unwrap_or(0);
        if found != *want {
            failures.push(format!("{label}: expect.host_calls.{function}: expected {want} call(s), found {found}"));
        }
    }
    if let Some(want) = &e.properties_set {
        let want: std::collections::BTreeMap<String, String> =
            want.iter().map(|(p, v)| (p.join("."), String::from_utf8_lossy(&v.serialize()).into_owned())).collect();
        if want != stream.properties_set {
            failures
                .push(format!("{label}: expect.properties_set: expected {want:?}, found {:?}", stream.properties_set));
        }
    }
    actions(label, &e.actions, &stream.actions, failures);
    usage(label, &e.usage, own.usage.as_ref(), failures);
    if let Some(want) = e.deleted
        && want != own.deleted
    {
        let what = if want { "should be deleted but is not" } else { "should not be deleted but is" };
        failures.push(format!("{label}: expect.deleted: the plugin's root context {what}"));
    }
    if let Some(want) = e.on_done
        && Some(want) != own.on_done
    {
        failures.push(format!(
            "{label}: expect.on_done: expected the root's on_done to return {want}, found {:?}",
            own.on_done
        ));
    }
}

/// Checks what each named callback returned: its last call, or every call
/// in order.
fn actions(label: &str, want: &[(&str, ActionsExpect)], found: &[ActionReport], failures: &mut Vec<String>) {
    for (callback, want) in want {
        let at = format!("{label}: expect.actions.{callback}");
        let calls: Vec<&str> = found.iter().filter(|a| a.callback == *callback).map(|a| a.action.as_str()).collect();
        match want {
            ActionsExpect::Last(want) => match calls.last() {
                None => failures.push(format!(
                    "{at}: expected {:?}, but the stream's client and upstream made no {callback} call (the stream \
                     ended or was held before it)",
                    want.name()
                )),
                Some(last) if !want.matches(last) => {
                    let of =
                        if calls.len() > 1 { format!(" (the last of {} calls)", calls.len()) } else { String::new() };
                    failures.push(format!("{at}: expected {:?}, it returned {last:?}{of}", want.name()));
                }
                Some(_) => {}
            },
            ActionsExpect::Each(want) => {
                let same = want.len() == calls.len() && want.iter().zip(&calls).all(|(w, c)| w.matches(c));
                if !same {
                    let names: Vec<&str> = want.iter().map(|w| w.name()).collect();
                    failures.push(format!("{at}: expected the calls to return {names:?}, they returned {calls:?}"));
                }
            }
        }
    }
}

/// Checks the fields of [`crate::Usage`] a step names against what the host
/// held for its plugin after it.
fn usage(label: &str, want: &[(String, u64)], found: Option<&crate::Usage>, failures: &mut Vec<String>) {
    if want.is_empty() {
        return;
    }
    let Some(found) = found else {
        return failures.push(format!("{label}: expect.usage: the step's plugin has no VM to report on"));
    };
    let found = serde_json::to_value(found).unwrap_or_default();
    for (field, want) in want {
        let value = found.get(field).and_then(serde_json::Value::as_u64);
        if value != Some(*want) {
            let value = value.map_or("nothing".to_owned(), |v| v.to_string());
            failures.push(format!("{label}: expect.usage.{field}: expected {want}, found {value}"));
        }
    }
}

/// Checks that exactly the callouts `want` ended in a step, in order per
/// kind (HTTP entries against HTTP callouts, gRPC against gRPC).
fn finished_callouts(
    label: &str,
    want: &[FinishedExpect],
    found: &[FinishedCalloutReport],
    failures: &mut Vec<String>,
) {
    let at = format!("{label}: expect.finished_callouts");
    for (kind, grpc) in super::model::CALLOUT_KINDS {
        let want: Vec<&FinishedExpect> = want.iter().filter(|w| w.grpc == grpc).collect();
        let found: Vec<&FinishedCalloutReport> = found.iter().filter(|f| f.kind == kind).collect();
        let shown = |f: &FinishedCalloutReport| format!("{} (to {:?})", f.ended, f.cluster);
        let all: Vec<String> = found.iter().map(|f| shown(f)).collect();
        if want.len() != found.len() {
            failures.push(format!(
                "{at}: expected {} {kind} callout(s) to end in this step, {} did: {all:?}",
                want.len(),
                found.len()
            ));
            continue;
        }
        for (i, (w, f)) in want.iter().zip(&found).enumerate() {
            let end = super::model::callout_end_name(w.ended);
            if f.ended != end || w.cluster.as_ref().is_some_and(|c| *c != f.cluster) {
                let to = w.cluster.as_ref().map_or(String::new(), |c| format!(" (to {c:?})"));
                failures.push(format!("{at}: {kind} callout {}: expected {end}{to}, it ended {}", i + 1, shown(f)));
            }
        }
    }
}

/// Checks the expectations on a plugin's VM (`which` names the plugin when
/// there are several): whether it failed (without `vm_failed`, a failure
/// is a failed run) and how often it was rebuilt.
pub fn vm(which: &str, expect: &PluginExpect, failure: Option<&str>, rebuilds: u32, failures: &mut Vec<String>) {
    if expect.start_fails == Some(true) {
        failures.push(format!("{which}expect.start_fails: the plugin started"));
    }
    let failure = failure.map(crate::failure::summary);
    match (expect.vm_failed, failure) {
        (None, Some(failure)) => failures.push(format!("{which}the plugin's VM failed: {failure}")),
        (Some(false), Some(failure)) => {
            failures.push(format!("{which}expect.vm_failed: the plugin's VM failed: {failure}"))
        }
        (Some(true), None) => failures.push(format!("{which}expect.vm_failed: the plugin's VM never failed")),
        _ => {}
    }
    if let Some(want) = expect.rebuilds
        && want != rebuilds
    {
        failures.push(format!("{which}expect.rebuilds: expected {want} rebuilds of the plugin's VM, found {rebuilds}"));
    }
}

/// Checks a plugin that did not start (`error`) against its expectations.
pub fn start_failure(which: &str, expect: &PluginExpect, error: &str, failures: &mut Vec<String>) {
    if let Some(re) = &expect.start_error
        && !re.is_match(error)
    {
        failures.push(format!("{which}expect.start_error: the start error does not match /{re}/: {error}"));
    }
}

/// Checks shared data and queues at the end of the run.
pub fn state(expect: &Expect, host: &Host, failures: &mut Vec<String>) {
    for (i, want) in expect.shared_data.iter().enumerate() {
        let field = format!("expect.shared_data[{}] ({:?} in vm_id {:?})", i + 1, want.key, want.vm_id);
        match host.shared_data(&want.vm_id, &want.key) {
            None if want.absent => {}
            None => failures.push(format!("{field}: the key is not set")),
            Some((value, _)) if want.absent => {
                failures.push(format!("{field}: the key should be unset, it is {:?}", String::from_utf8_lossy(&value)))
            }
            Some((value, cas)) => {
                let value = String::from_utf8_lossy(&value);
                if let Some(w) = &want.value
                    && *w != value
                {
                    failures.push(format!("{field}.value: expected {w:?}, found {value:?}"));
                }
                if let Some(w) = want.cas
                    && w != cas
                {
                    failures.push(format!("{field}.cas: expected {w}, found {cas}"));
                }
            }
        }
    }
    let set = host.filter_state();
    for (key, want) in &expect.filter_state {
        match set.iter().rev().find(|f| f.path == *key) {
            None => failures.push(format!("expect.filter_state.{key}: no plugin set it")),
            Some(found) if found.value != want.as_bytes() => failures.push(format!(
                "expect.filter_state.{key}: expected {want:?}, found {:?}",
                String::from_utf8_lossy(&found.value)
            )),
            Some(_) => {}
        }
    }
    let declared = host.declared_properties();
    for name in &expect.declared_properties {
        if !declared.iter().any(|d| d.name == *name) {
            let names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
            failures.push(format!("expect.declared_properties: {name:?} was not declared (declared: {names:?})"));
        }
    }
    for (i, want) in expect.queues.iter().enumerate() {
        let field = format!("expect.queues[{}] ({:?} in vm_id {:?})", i + 1, want.name, want.vm_id);
        match host.queue(&want.vm_id, &want.name) {
            None => failures.push(format!("{field}: no such queue (no plugin registered it)")),
            Some(items) => {
                let items: Vec<String> = items.iter().map(|i| String::from_utf8_lossy(i).into_owned()).collect();
                if items != want.items {
                    failures.push(format!("{field}.items: expected {:?}, found {items:?}", want.items));
                }
            }
        }
    }
}

/// Checks `want` against `lines`: each entry matches some line, or
/// exactly `count` lines.
fn log_lines(at: &str, of: &str, want: &[LogExpect], lines: &[LogLine], failures: &mut Vec<String>) {
    for w in want {
        let n = lines.iter().filter(|l| w.matches(&l.level, &l.message)).count();
        match w.count {
            None if n == 0 => failures.push(format!("{at}: no log line {of} matches {w}")),
            Some(count) if count != n => {
                failures.push(format!("{at}: {count} log line(s) {of} should match {w}, found {n}"))
            }
            _ => {}
        }
    }
}

/// Checks that `lines` are exactly `want`, in order (`count` consecutive
/// lines per entry, default one).
fn exact_logs(at: &str, want: &[LogExpect], lines: &[LogLine], failures: &mut Vec<String>) {
    let mut next = 0;
    for w in want {
        for _ in 0..w.count.unwrap_or(1) {
            match lines.get(next) {
                Some(l) if w.matches(&l.level, &l.message) => next += 1,
                Some(l) => {
                    return failures.push(format!(
                        "{at}: line {} should match {w}, found [{}] {:?}",
                        next + 1,
                        l.level,
                        l.message
                    ));
                }
                None => {
                    return failures
                        .push(format!("{at}: expected a line matching {w} after the last of {} line(s)", lines.len()));
                }
            }
        }
    }
    if let Some(extra) = lines.get(next) {
        failures.push(format!(
            "{at}: {} line(s) more than expected, the first: [{}] {:?}",
            lines.len() - next,
            extra.level,
            extra.message
        ));
    }
}

/// Checks the run-wide expectations.
pub fn global(expect: &Expect, logs: &[LogLine], metrics: &[(String, MetricValue)], failures: &mut Vec<String>) {
    log_lines("expect.logs", "", &expect.logs, logs, failures);
    if let Some(want) = &expect.exact_logs {
        exact_logs("expect.exact_logs", want, logs, failures);
    }
    for re in &expect.no_logs {
        if let Some(line) = logs.iter().find(|l| re.is_match(&l.message)) {
            failures.push(format!("expect.no_logs: a log line matches /{re}/: {:?}", line.message));
        }
    }
    for (selector, want) in &expect.histograms {
        let samples: Vec<u64> = selector
            .select(metrics)
            .iter()
            .flat_map(|v| match v {
                MetricValue::Histogram(s) => s.clone(),
                _ => Vec::new(),
            })
            .collect();
        if samples != *want {
            failures.push(format!("expect.histograms.\"{selector}\": expected samples {want:?}, found {samples:?}"));
        }
    }
    for (selector, want) in &expect.metrics {
        let selected = selector.select(metrics);
        let value: i128 = selected
            .iter()
            .map(|v| match v {
                MetricValue::Counter(c) => i128::from(*c),
                MetricValue::Gauge(g) => i128::from(*g),
                MetricValue::Histogram(s) => s.len() as i128,
            })
            .sum();
        let of = if selected.len() > 1 { format!(" (the sum of {} series)", selected.len()) } else { String::new() };
        if selected.is_empty() {
            failures.push(format!("expect.metrics.\"{selector}\": no such metric (expected {want})"));
        } else if value != i128::from(*want) {
            failures.push(format!("expect.metrics.\"{selector}\": expected {want}, found {value}{of}"));
        }
    }
}
