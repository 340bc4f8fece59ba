//! The plugin: a root context that holds the routes and defines the
//! counters, and an HTTP context that routes each request.
//!
//! Per request, in `on_request_headers`:
//!
//! 1. remove any client-sent cluster header (always, even when no rule matches);
//! 2. try the rules in order; the first that matches decides;
//! 3. write its edits: the cluster header, `:authority`, `:path`;
//! 4. call the `clear_route_cache` foreign function as configured (`auto`:
//!    when step 1 or 3 changed a header);
//! 5. count the decision and log it (debug).
//!
//! With `verify_cluster`, `on_log` reads the `cluster_name` and `route_name`
//! properties, logs (debug) where the request finally went and warns when
//! that is not the cluster it chose (a route without `cluster_header`, or a
//! route cache that was not cleared).
//!
//! It logs through sluice's level macros without installing the SDK's
//! logger, so the host filters by its own level and the module imports no
//! `proxy_get_log_level` (Kong's nginx module registers that function with
//! another signature: a module importing it does not load there).

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use sluice::metrics::Metric;
use sluice::{
    Action, Configuration, HttpContext, LogLevel, RootContext, debug, foreign, headers, logging, property, warn,
};

use crate::report::{self, Escaped};
use crate::rules::{Inputs, Plan, Routes};

/// The name of Envoy's foreign function that clears the route cache.
pub const CLEAR_ROUTE_CACHE: &str = "clear_route_cache";

/// State the root shares with its streams.
#[derive(Debug, Default)]
pub struct Shared {
    /// One counter per rule, then one for "no rule matched"; `None` where
    /// the host refused to define it.
    counters: RefCell<Vec<Option<Metric>>>,
    /// Set once the host answered `NOT_FOUND` for `clear_route_cache`: it is
    /// not called again (a host's foreign functions do not change while it runs).
    no_clear_route_cache: Cell<bool>,
}

/// The root context: one per plugin configuration.
#[derive(Debug, sluice::RootContext)]
#[sluice(config = Routes, http = RouteFilter)]
pub struct Router {
    #[sluice(config)]
    routes: Option<Rc<Routes>>,
    #[sluice(shared)]
    shared: Rc<Shared>,
}

impl RootContext for Router {
    fn on_configure(&mut self, _: Configuration) -> bool {
        // The adaptor parsed and checked the configuration before this runs.
        let Some(routes) = &self.routes else { return false };
        let rules = routes.rules.iter().map(Some).chain([None]);
        let counters = rules
            .map(|rule| {
                let name = report::decision_metric(rule);
                Metric::counter(&name).map_err(|e| warn!("route: cannot define counter {name}: {e}")).ok()
            })
            .collect();
        *self.shared.counters.borrow_mut() = counters;
        debug!("route: configured {} rules, cluster header {}", routes.rules.len(), routes.cluster_header);
        true
    }
}

/// What a stream decided, for `on_log`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Decision {
    /// `on_request_headers` did not run (the stream ended before it).
    #[default]
    Pending,
    /// No rule matched.
    NoMatch,
    /// Rule `n` matched.
    Rule(usize),
}

/// The HTTP context: routes one request.
#[derive(Debug, sluice::HttpContext)]
pub struct RouteFilter {
    #[sluice(config)]
    routes: Rc<Routes>,
    #[sluice(shared)]
    shared: Rc<Shared>,
    decision: Decision,
}

/// The request headers, read from the host at most once per name.
#[derive(Default)]
struct HostRequest {
    seen: Vec<(String, Option<Vec<u8>>)>,
}

impl Inputs for HostRequest {
    fn header(&mut self, name: &str) -> Option<&[u8]> {
        let index = match self.seen.iter().position(|(seen, _)| seen == name) {
            Some(index) => index,
            None => {
                let value = headers::REQUEST.get(name).unwrap_or_else(|e| {
                    warn!("route: cannot read request header {name}: {e}; treating it as absent");
                    None
                });
                self.seen.push((String::from(name), value));
                self.seen.len() - 1
            }
        };
        self.seen[index].1.as_deref()
    }
}

/// Replaces a request header, logging a failure; whether it was written.
fn write_header(name: &str, value: &[u8]) -> bool {
    match headers::REQUEST.replace(name, value) {
        Ok(()) => true,
        Err(e) => {
            warn!("route: cannot set request header {name}: {e}");
            false
        }
    }
}

impl RouteFilter {
    /// Removes a client-sent cluster header; whether there was one.
    fn strip_cluster_header(&self) -> bool {
        let name = self.routes.cluster_header.as_str();
        let sent = match headers::REQUEST.get(name) {
            Ok(None) => return false,
            Ok(Some(value)) => {
                debug!("route: removing client-sent {name}: {}", Escaped(&value));
                true
            }
            // Unknown: remove it anyway, and count it as a change.
            Err(e) => {
                warn!("route: cannot read request header {name}: {e}; removing it");
                true
            }
        };
        if let Err(e) = headers::REQUEST.remove(name) {
            warn!("route: cannot remove client-sent {name}: {e}");
        }
        sent
    }

    /// Writes a plan's edits; whether any header changed.
    fn apply(&self, plan: &Plan<'_>) -> bool {
        let mut changed = false;
        if let Some(cluster) = plan.cluster {
            changed |= write_header(&self.routes.cluster_header, cluster.as_bytes());
        }
        if let Some(authority) = &plan.authority {
            changed |= write_header(":authority", &authority.new);
        }
        if let Some(path) = &plan.path {
            changed |= write_header(":path", &path.new);
        }
        changed
    }

    /// Calls `clear_route_cache`; whether the host cleared the cache.
    fn clear_route_cache(&self) -> bool {
        if self.shared.no_clear_route_cache.get() {
            return false;
        }
        match foreign::call(CLEAR_ROUTE_CACHE, []) {
            Ok(_) => true,
            Err(e) if e.is_not_found() => {
                self.shared.no_clear_route_cache.set(true);
                warn!(
                    "route: this host has no {CLEAR_ROUTE_CACHE} foreign function; not calling it again. Header \
                     changes re-route only where the host clears the route cache itself (Envoy up to 1.32)"
                );
                false
            }
            Err(e) => {
                warn!("route: {CLEAR_ROUTE_CACHE} failed: {e}");
                false
            }
        }
    }

    fn count(&self, slot: usize) {
        let counter = self.shared.counters.borrow().get(slot).copied().flatten();
        if let Some(counter) = counter
            && let Err(e) = counter.increment(1)
        {
            warn!("route: cannot count the decision: {e}");
        }
    }

    fn log_decision(&self, plan: &Plan<'_>, stripped: bool, cleared: bool) {
        if !logging::enabled(LogLevel::Debug) {
            return;
        }
        use core::fmt::Write;
        let mut line = String::from("route: ");
        let _ = match self.decision {
            Decision::Rule(index) => match self.routes.rules.get(index) {
                Some(rule) => write!(line, "rule {:?} matched", rule.name),
                None => write!(line, "rule {index} matched"),
            },
            _ => write!(line, "no rule matched"),
        };
        if let Some(cluster) = plan.cluster {
            let _ = write!(line, "; {}: {cluster}", self.routes.cluster_header);
        }
        if let Some(a) = &plan.authority {
            let _ = write!(line, "; :authority {} -> {}", Escaped(&a.old), Escaped(&a.new));
        }
        if let Some(p) = &plan.path {
            let _ = write!(line, "; :path {} -> {}", Escaped(&p.old), Escaped(&p.new));
        }
        if stripped {
            let _ = write!(line, "; removed the client's {}", self.routes.cluster_header);
        }
        line.push_str(if cleared { "; route cache cleared" } else { "; route cache kept" });
        debug!("{line}");
    }
}

impl HttpContext for RouteFilter {
    fn on_request_headers(&mut self, _: usize, _: bool) -> Action {
        let stripped = self.strip_cluster_header();
        let mut request = HostRequest::default();
        let routes = &*self.routes;
        let (plan, slot) = match routes.decide(&mut request) {
            Some(index) => {
                self.decision = Decision::Rule(index);
                (routes.plan(index, &mut request), index)
            }
            None => {
                self.decision = Decision::NoMatch;
                (Plan::default(), routes.rules.len())
            }
        };
        let changed = self.apply(&plan) | stripped;
        let cleared = routes.clear_route_cache.should_clear(changed) && self.clear_route_cache();
        self.count(slot);
        self.log_decision(&plan, stripped, cleared);
        Action::Continue
    }

    fn on_log(&mut self) {
        // Only verification reads where the request went: two host calls per
        // request that Kong's nginx module answers with an error log line each
        // (it does not support these properties; the configuration refuses
        // `verify_cluster` there).
        if !self.routes.verify_cluster {
            return;
        }
        let chosen = match self.decision {
            Decision::Rule(index) => self.routes.rules.get(index).and_then(|r| r.then.cluster.as_deref()),
            _ => None,
        };
        let read = |name: &str| {
            property::get([name]).unwrap_or_else(|e| {
                warn!("route: cannot read property {name}: {e}");
                None
            })
        };
        let cluster = read("cluster_name");
        let route = read("route_name");
        let shown = |value: &Option<Vec<u8>>| match value {
            Some(v) => alloc::format!("{}", Escaped(v)),
            None => String::from(report::NONE),
        };
        debug!("route: request went to cluster {} by route {}", shown(&cluster), shown(&route));
        if let (Some(chosen), Some(actual)) = (chosen, &cluster)
            && chosen.as_bytes() != actual.as_slice()
        {
            warn!(
                "route: chose cluster {chosen} but the request went to {}: does the route use `cluster_header: {}`, \
                 and is the route cache cleared (clear_route_cache, needed from Envoy 1.33)?",
                Escaped(actual),
                self.routes.cluster_header
            );
        }
    }
}
