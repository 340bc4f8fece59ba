//! The readable trace of a [`Report`]: each stream as it went through the
//! plugin (what came in, what the plugin changed, what went upstream and
//! back to the client, callouts, logs), the final metrics in Prometheus
//! text format, and the result.

use std::fmt::Write as _;

use super::report::{Headers, LogLine, Report, RouteReport, StepReport};

const WIDTH: usize = 96;

fn short(value: &str) -> String {
    cut(value, WIDTH)
}

fn cut(value: &str, width: usize) -> String {
    if value.chars().count() <= width {
        return value.to_owned();
    }
    let cut: String = value.chars().take(width - 20).collect();
    format!("{cut}… ({} bytes)", value.len())
}

fn first_line(headers: &Headers) -> String {
    let get = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match get(":status") {
        Some(status) => status.to_string(),
        None => format!(
            "{} {}{}",
            get(":method").unwrap_or("?"),
            get(":authority").unwrap_or(""),
            get(":path").unwrap_or("")
        ),
    }
}

fn body_note(body: &str) -> String {
    if body.is_empty() { String::new() } else { format!("  body {:?}", short(body)) }
}

/// A diff of two header lists by name: `+` added, `-` removed, `~` changed.
pub fn diff(before: &Headers, after: &Headers) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (k, _) in before.iter().chain(after) {
        let k = k.to_ascii_lowercase();
        if !names.contains(&k) {
            names.push(k);
        }
    }
    let mut out = Vec::new();
    for name in names {
        let of = |h: &Headers| -> Vec<String> {
            h.iter().filter(|(k, _)| k.eq_ignore_ascii_case(&name)).map(|(_, v)| v.clone()).collect()
        };
        let (old, new) = (of(before), of(after));
        if old == new {
            continue;
        }
        if old.len() == 1 && new.len() == 1 {
            out.push(format!("~ {name}: {} -> {}", short(&old[0]), short(&new[0])));
            continue;
        }
        for v in old.iter().filter(|v| !new.contains(v)) {
            out.push(format!("- {name}: {}", short(v)));
        }
        for v in new.iter().filter(|v| !old.contains(v)) {
            out.push(format!("+ {name}: {}", short(v)));
        }
    }
    out
}

/// Where Envoy's routing sent the request.
fn routed(route: &RouteReport) -> String {
    match (&route.virtual_host, &route.name, &route.upstream_cluster) {
        (Some(vh), Some(name), Some(cluster)) => {
            format!("routed by route {name:?} of virtual host {vh:?} to cluster {cluster:?}")
        }
        (Some(vh), Some(name), None) => format!(
            "route {name:?} of virtual host {vh:?} named no cluster (its cluster_header is missing: Envoy answers 503)"
        ),
        _ => "no route matched (Envoy answers 404, route_not_found)".to_owned(),
    }
}

fn headers_block(out: &mut String, headers: &Headers) {
    for (k, v) in headers {
        let _ = writeln!(out, "      {k}: {}", short(v));
    }
}

fn trailers(out: &mut String, trailers: Option<&Headers>) {
    if let Some(trailers) = trailers.filter(|t| !t.is_empty()) {
        let _ = writeln!(out, "    with trailers:");
        headers_block(out, trailers);
    }
}

fn changes(out: &mut String, what: &str, before: &Headers, after: &Headers) {
    let d = diff(before, after);
    if d.is_empty() {
        let _ = writeln!(out, "    plugin changed {what}: nothing");
    } else {
        let _ = writeln!(out, "    plugin changed {what}:");
        for line in d {
            let _ = writeln!(out, "      {line}");
        }
    }
}

/// Which plugin of a chain changed what, in the order they ran: the
/// request side first to last, the response side last to first.
fn chain_changes(out: &mut String, s: &StepReport, request: bool) {
    if s.chain.is_empty() {
        return;
    }
    let names: Vec<&str> = s.chain.iter().map(|l| l.plugin.as_str()).collect();
    let order: Vec<&super::report::LinkReport> =
        if request { s.chain.iter().collect() } else { s.chain.iter().rev().collect() };
    if request {
        let _ = writeln!(out, "  ⛓ chain {}: request first to last", names.join(" → "));
    } else {
        let _ = writeln!(out, "  ⛓ chain {}: response last to first", names.join(" → "));
    }
    for link in order {
        let (seen, left) =
            if request { (&link.request_in, &link.forwarded) } else { (&link.response_in, &link.passed_back) };
        let side = if request { "request" } else { "response" };
        match (seen, left) {
            (None, _) => {
                let _ = writeln!(out, "    {}: no {side} headers reached it", link.plugin);
            }
            (Some(_), None) => match link.local_response.filter(|_| request) {
                Some(status) => {
                    let _ = writeln!(out, "    {} answered locally ({status}): nothing passed on", link.plugin);
                }
                None => {
                    let _ = writeln!(out, "    {}: held the {side} headers (nothing passed on)", link.plugin);
                }
            },
            (Some(before), Some(after)) => {
                let d = diff(before, after);
                if d.is_empty() {
                    let _ = writeln!(out, "    {} changed {side} headers: nothing", link.plugin);
                } else {
                    let _ = writeln!(out, "    {} changed {side} headers:", link.plugin);
                    for line in d {
                        let _ = writeln!(out, "      {line}");
                    }
                }
            }
        }
    }
}

fn logs(out: &mut String, lines: &[LogLine]) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "  logs:");
    for l in lines {
        let _ = writeln!(out, "    [{:<5}] {}", l.level, cut(&l.message, 240));
    }
}

fn step(out: &mut String, index: usize, s: &StepReport) {
    match s.plugin.as_str() {
        "plugin" | "" => writeln!(out, "── stream {index}: {} ──", s.name),
        plugin => writeln!(out, "── stream {index}: {} (plugin {plugin}) ──", s.name),
    }
    .unwrap_or(());
    if let Some(ms) = s.advanced_ms {
        let _ = writeln!(out, "  clock advanced {ms} ms");
    }
    if s.ticks > 0 {
        let _ = writeln!(out, "  on_tick called {} time(s)", s.ticks);
    }
    if s.vm_rebuilt {
        let _ = writeln!(out, "  ↻ the plugin's failed VM was rebuilt");
    }
    if let Some(reload) = &s.reload {
        let _ = writeln!(out, "  ⟳ reload: {}", cut(reload, 240));
    }
    if let Some(worker) = s.worker.filter(|w| *w > 0 || !s.chain.is_empty()) {
        let _ = writeln!(out, "  on worker {worker}");
    }
    if let Some(request) = &s.request_in {
        let _ = writeln!(out, "  → client request: {}{}", first_line(request), body_note(&s.request_body_in));
        headers_block(out, request);
        chain_changes(out, s, true);
        match &s.upstream_request {
            Some(up) => {
                if s.chain.is_empty() {
                    changes(out, "request headers", request, up);
                }
                let _ = writeln!(out, "  → upstream received: {}{}", first_line(up), body_note(&s.upstream_body));
                trailers(out, s.upstream_trailers.as_ref());
                if let Some(route) = &s.route {
                    let _ = writeln!(out, "    {}", routed(route));
                }
            }
            None => {
                let _ = writeln!(out, "  → upstream received: nothing (the request was stopped)");
            }
        }
    }
    for c in &s.callouts {
        let call = if c.headers.is_empty() { String::new() } else { format!(" {}", first_line(&c.headers)) };
        let earlier = if c.from_earlier_step { " (made during an earlier stream)" } else { "" };
        let _ = writeln!(out, "  ⇄ callout to {}{}{}{earlier}: {}", c.cluster, call, body_note(&c.body), c.answer);
    }
    for g in &s.grpc {
        let earlier = if g.from_earlier_step { " (opened during an earlier stream)" } else { "" };
        let sent = if g.messages.is_empty() { String::new() } else { format!(" sent {:?}", g.messages) };
        let _ = writeln!(
            out,
            "  ⇄ gRPC {} to {} {}/{}{sent}{earlier}: {}",
            g.kind, g.cluster, g.service, g.method, g.answer
        );
    }
    if let Some(tcp) = &s.tcp {
        let opened = match &tcp.new_connection {
            Some(action) => format!(" opened (on_new_connection: {action})"),
            None => String::new(),
        };
        let _ = writeln!(out, "  ⇆ TCP connection {}{opened}", tcp.connection);
        for event in &tcp.events {
            let _ = writeln!(out, "    {}", cut(event, 240));
        }
        let _ = writeln!(out, "    upstream received so far: {:?}", short(&tcp.upstream_received));
        let _ = writeln!(out, "    client received so far: {:?}", short(&tcp.client_received));
        if !tcp.buffered.is_empty() {
            let _ = writeln!(out, "    held back by the plugin: {:?}", short(&tcp.buffered));
        }
        if !tcp.closed_by_plugin.is_empty() {
            let _ = writeln!(out, "    the plugin closed: {}", tcp.closed_by_plugin.join(", "));
        }
        if tcp.finished {
            let _ = writeln!(out, "    finished (on_done, on_log, on_delete)");
        }
    }
    if let Some(response) = &s.response_in {
        match &s.response_skipped {
            Some(why) => {
                let _ = writeln!(out, "  ← upstream response not sent: {why}");
            }
            None => {
                let _ = writeln!(out, "  ← upstream response: {}", first_line(response));
                headers_block(out, response);
                if let Some(client) = &s.client_response
                    && s.chain.is_empty()
                {
                    changes(out, "response headers", response, client);
                }
            }
        }
    }
    if s.response_in.is_some() || s.local_reply_from.is_some() {
        chain_changes(out, s, false);
    }
    if let Some((status, details, body)) = &s.local_response {
        let _ = writeln!(out, "  ✋ local response {status} (details {details:?}){}", body_note(body));
        if let Some(line) = &s.status_line {
            let _ = writeln!(out, "    status line {line:?}");
        }
    }
    if let Some(client) = &s.client_response {
        let _ = writeln!(out, "  ← client received: {}{}", first_line(client), body_note(&s.client_body));
        if s.response_in.is_none() || s.response_skipped.is_some() {
            headers_block(out, client);
        }
        trailers(out, s.client_trailers.as_ref());
    } else if s.request_in.is_some() {
        let _ = writeln!(out, "  ← client received: nothing");
    }
    if !s.actions.is_empty() {
        let shown: Vec<String> = s
            .actions
            .iter()
            .map(|a| match a.action.as_str() {
                "continue" => format!("{} continue", a.callback),
                exact => {
                    let continues = super::model::by_name(&super::model::ACTION_NAMES, exact)
                        .is_some_and(crate::Action::is_continue);
                    let coarse = if continues { "continue" } else { "pause" };
                    format!("{} {coarse} ({exact})", a.callback)
                }
            })
            .collect();
        let _ = writeln!(out, "  actions: {}", cut(&shown.join(", "), 480));
    }
    if s.ended.as_deref() == Some("reset") {
        let _ = writeln!(out, "  ✗ the stream was reset");
    }
    for f in &s.finished_callouts {
        let what = if f.kind == "grpc" { "gRPC call" } else { "callout" };
        let _ = writeln!(out, "  ⇥ {what} to {} ended: {}", f.cluster, f.ended.replace('_', " "));
    }
    if let Some(policy) = &s.fail_policy {
        let _ = writeln!(out, "  ⚠ the plugin's VM had failed: the stream was handled fail {policy}");
    }
    if s.held {
        let _ = match s.released_in {
            Some(n) => writeln!(out, "  ⏸ held open after this stream; it finished during stream {n}"),
            None => writeln!(out, "  ⏸ held open after this stream; it finished when the scenario ended"),
        };
    }
    if let Some(reason) = &s.vm_failed {
        let _ = writeln!(out, "  ✗ the plugin's VM failed: {}", cut(&crate::failure::summary(reason), 240));
    }
    if let Some(error) = &s.error {
        let _ = writeln!(out, "  ✗ error: {error}");
    }
    if let Some(usage) = &s.usage {
        usage_line(out, usage);
    }
    logs(out, &s.logs);
    let _ = writeln!(out);
}

/// What the host holds for the step's plugin: the fields of
/// [`crate::Usage`] that are not zero.
fn usage_line(out: &mut String, usage: &crate::Usage) {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(usage) else { return };
    let held: Vec<String> =
        fields.iter().filter(|(_, v)| v.as_u64() != Some(0)).map(|(k, v)| format!("{k} {v}")).collect();
    if !held.is_empty() {
        let _ = writeln!(out, "  host holds for the plugin: {}", held.join(", "));
    }
}

/// Renders the whole report as text.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario {}", report.scenario);
    let _ = writeln!(out, "plugin   {}", report.plugin);
    if !report.filter_chain.is_empty() {
        // Istio's own filters are shown where Envoy runs them; host-sim
        // passes the stream through them unchanged.
        let _ = writeln!(out, "chain    {}  ([..]: Istio's filters, not run)", report.filter_chain.join(" → "));
    }
    if !report.tcp_filter_chain.is_empty() {
        let _ = writeln!(out, "tcp      {}  ([..]: Istio's filters, not run)", report.tcp_filter_chain.join(" → "));
    }
    let _ = writeln!(out);
    if !report.startup_logs.is_empty() || !report.start_failures.is_empty() {
        let _ = writeln!(out, "── plugin start ──");
        for (plugin, error) in &report.start_failures {
            let error = cut(&crate::failure::summary(error), 240);
            let _ = writeln!(out, "  ✗ plugin {plugin:?} did not start (as expected): {error}");
        }
        logs(&mut out, &report.startup_logs);
        let _ = writeln!(out);
    }
    for (i, s) in report.steps.iter().enumerate() {
        step(&mut out, i + 1, s);
    }
    let _ = writeln!(out, "── metrics (Prometheus text format) ──");
    if report.prometheus.is_empty() {
        let _ = writeln!(out, "(none)");
    } else {
        out.push_str(&report.prometheus);
    }
    let _ = writeln!(out);
    if report.failures.is_empty() {
        let _ = writeln!(out, "PASS: every expectation held ({} streams)", report.steps.len());
    } else {
        let _ = writeln!(out, "FAIL: {} expectation(s) failed:", report.failures.len());
        for f in &report.failures {
            let _ = writeln!(out, "  ✗ {f}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::diff;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn diff_names_added_removed_and_changed_headers() {
        let before = h(&[(":path", "/v1/a"), ("x-spoof", "1"), ("x-spoof", "2"), ("keep", "k")]);
        let after = h(&[(":path", "/v2/a"), ("keep", "k"), ("x-user", "alice")]);
        assert_eq!(
            diff(&before, &after),
            ["~ :path: /v1/a -> /v2/a", "- x-spoof: 1", "- x-spoof: 2", "+ x-user: alice"]
        );
        assert!(diff(&before, &before).is_empty());
    }
}
