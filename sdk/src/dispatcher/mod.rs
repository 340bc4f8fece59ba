//! The dispatcher: owns every context, keyed by the host's context ids, and
//! turns each callback export into a call on the right context.
//!
//! A context is taken out of the table while its callback runs and put back
//! afterwards, so user code never runs while the table is borrowed: a callback
//! can register callouts, and a callout handler can run on a context other
//! than the one the host called (see [`callouts`]).

pub(crate) mod callouts;
mod id_map;

use alloc::boxed::Box;
use core::any::{Any, TypeId};

use self::id_map::IdMap;
use crate::config::Configuration;
use crate::contexts::{HttpContext, RootContext, TcpContext};
use crate::state;
use crate::types::{Action, PeerType};

/// Creates a root context for a context id.
type RootFactory = Box<dyn FnMut(u32) -> Box<dyn RootContext>>;

/// Registers the plugin's root context factory.
///
/// Call it from the plugin's entry point (the block given to
/// [`main!`](crate::main)). The factory is called with the context id of each
/// root context the host creates (`proxy_on_context_create(id, 0)`): once per
/// plugin configuration that uses this module. Registering again replaces the
/// factory for root contexts created afterwards.
pub fn set_root_context<F>(factory: F)
where
    F: FnMut(u32) -> Box<dyn RootContext> + 'static,
{
    state::with(|d| d.factory = Some(Box::new(factory)));
}

/// A context object, by kind.
pub(crate) enum Ctx {
    Root(Box<dyn RootContext>),
    Http(Box<dyn HttpContext>),
    Tcp(Box<dyn TcpContext>),
}

impl Ctx {
    /// The context as `Any`, for callout handlers typed on the concrete context.
    pub(crate) fn as_any_mut(&mut self) -> &mut dyn Any {
        match self {
            Ctx::Root(c) => &mut **c,
            Ctx::Http(c) => &mut **c,
            Ctx::Tcp(c) => &mut **c,
        }
    }

    fn concrete_type(&self) -> TypeId {
        match self {
            Ctx::Root(c) => (**c).type_id(),
            Ctx::Http(c) => (**c).type_id(),
            Ctx::Tcp(c) => (**c).type_id(),
        }
    }
}

struct Entry {
    /// The concrete type of the context object, known even while it is taken out.
    type_id: TypeId,
    /// `on_done` returned `false` and `proxy_done` has not been called yet.
    done_pending: bool,
    /// `None` while the context's callback runs.
    ctx: Option<Ctx>,
}

/// The state of one plugin instance: contexts, callouts, the root factory.
pub(crate) struct Dispatcher {
    pub(crate) factory: Option<RootFactory>,
    contexts: IdMap<u32, Entry>,
    pub(crate) callouts: callouts::Table,
    /// The context the host treats as current: the one whose callback runs,
    /// or the one last set with `proxy_set_effective_context`.
    effective: u32,
}

impl Dispatcher {
    pub(crate) const fn new() -> Dispatcher {
        Dispatcher { factory: None, contexts: IdMap::new(), callouts: callouts::Table::new(), effective: 0 }
    }

    /// The concrete type of context `id`, if it exists.
    pub(crate) fn context_type(&self, id: u32) -> Option<TypeId> {
        self.contexts.get(&id).map(|e| e.type_id)
    }

    /// How many contexts exist.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub(crate) fn context_count(&self) -> usize {
        self.contexts.len()
    }

    /// Whether context `id` is waiting for `proxy_done`.
    pub(crate) fn is_done_pending(&self, id: u32) -> bool {
        self.contexts.get(&id).is_some_and(|e| e.done_pending)
    }

    pub(crate) fn effective(&self) -> u32 {
        self.effective
    }

    pub(crate) fn set_effective(&mut self, id: u32) {
        self.effective = id;
    }

    /// Records that `proxy_done` succeeded for context `id`.
    pub(crate) fn clear_done_pending(&mut self, id: u32) {
        if let Some(entry) = self.contexts.get_mut(&id) {
            entry.done_pending = false;
        }
    }

    /// Takes context `id` out of its entry (`None` if it does not exist or
    /// is already out, its callback running).
    fn take(&mut self, id: u32) -> Option<Ctx> {
        self.contexts.get_mut(&id).and_then(|e| e.ctx.take())
    }

    /// Inserts context `id`, returning the entry it replaces (a host reusing
    /// a live id) for the caller to drop outside the state borrow.
    #[must_use]
    fn insert(&mut self, id: u32, ctx: Ctx) -> Option<Entry> {
        let entry = Entry { type_id: ctx.concrete_type(), done_pending: false, ctx: Some(ctx) };
        self.contexts.insert(id, entry)
    }
}

/// The context id the host treats as current.
pub(crate) fn effective_context() -> u32 {
    state::with(|d| d.effective()).unwrap_or(0)
}

/// Marks `id` as the context the host is calling.
fn enter(id: u32) {
    state::with(|d| d.set_effective(id));
}

/// Runs `f` on context `id`, taken out of the table for the duration of the
/// call. `None` if the context does not exist or its callback is running.
pub(crate) fn with_context<R>(id: u32, f: impl FnOnce(&mut Ctx) -> R) -> Option<R> {
    let ctx = state::with(|d| d.take(id)).flatten()?;
    Some(run_taken(id, ctx, f))
}

/// [`enter`] and [`with_context`] in one borrow of the state: how a callback
/// reaches the context the host called.
fn enter_context<R>(id: u32, f: impl FnOnce(&mut Ctx) -> R) -> Option<R> {
    let ctx = state::with(|d| {
        d.set_effective(id);
        d.take(id)
    })
    .flatten()?;
    Some(run_taken(id, ctx, f))
}

/// Runs `f` on a context taken out of the table, then puts it back.
fn run_taken<R>(id: u32, mut ctx: Ctx, f: impl FnOnce(&mut Ctx) -> R) -> R {
    let result = f(&mut ctx);
    let leftover = state::with(|d| match d.contexts.get_mut(&id) {
        Some(entry) => entry.ctx.replace(ctx),
        // Deleted while it ran: drop it below, outside the borrow.
        None => Some(ctx),
    });
    drop(leftover);
    result
}

/// A root context callback.
#[derive(Clone, Copy)]
enum RootEvent {
    VmStart(usize),
    Configure(usize),
    Tick,
    QueueReady(u32),
    ForeignFunction(u32, usize),
}

/// Delivers a root context callback; `None` if `id` is not a root context.
/// One function for every root callback (not one per export), to keep the
/// module small.
#[inline(never)]
fn root_event(id: u32, event: RootEvent) -> Option<bool> {
    enter_context(id, |ctx| {
        let Ctx::Root(c) = ctx else { return None };
        Some(match event {
            RootEvent::VmStart(size) => c.on_vm_start(Configuration::vm(size)),
            RootEvent::Configure(size) => c.on_configure(Configuration::plugin(size)),
            RootEvent::Tick => {
                c.on_tick();
                true
            }
            RootEvent::QueueReady(queue_id) => {
                c.on_queue_ready(queue_id);
                true
            }
            RootEvent::ForeignFunction(function_id, size) => {
                c.on_foreign_function(function_id, size);
                true
            }
        })
    })
    .flatten()
}

/// An HTTP or TCP stream callback.
#[derive(Clone, Copy)]
enum StreamEvent {
    RequestHeaders(usize, bool),
    RequestBody(usize, bool),
    RequestTrailers(usize),
    ResponseHeaders(usize, bool),
    ResponseBody(usize, bool),
    ResponseTrailers(usize),
    NewConnection,
    DownstreamData(usize, bool),
    UpstreamData(usize, bool),
    DownstreamClose(PeerType),
    UpstreamClose(PeerType),
}

/// Delivers a stream callback and returns its action (`Continue` if `id` is
/// not a stream of the callback's kind, and for the close callbacks, which
/// answer nothing). One function for every stream callback, as [`root_event`].
#[inline(never)]
fn stream_event(id: u32, event: StreamEvent) -> u32 {
    use StreamEvent as E;
    let action = enter_context(id, |ctx| match (ctx, event) {
        (Ctx::Http(c), E::RequestHeaders(n, end)) => Some(c.on_request_headers(n, end)),
        (Ctx::Http(c), E::RequestBody(n, end)) => Some(c.on_request_body(n, end)),
        (Ctx::Http(c), E::RequestTrailers(n)) => Some(c.on_request_trailers(n)),
        (Ctx::Http(c), E::ResponseHeaders(n, end)) => Some(c.on_response_headers(n, end)),
        (Ctx::Http(c), E::ResponseBody(n, end)) => Some(c.on_response_body(n, end)),
        (Ctx::Http(c), E::ResponseTrailers(n)) => Some(c.on_response_trailers(n)),
        (Ctx::Tcp(c), E::NewConnection) => Some(c.on_new_connection()),
        (Ctx::Tcp(c), E::DownstreamData(n, end)) => Some(c.on_downstream_data(n, end)),
        (Ctx::Tcp(c), E::UpstreamData(n, end)) => Some(c.on_upstream_data(n, end)),
        (Ctx::Tcp(c), E::DownstreamClose(peer)) => {
            c.on_downstream_close(peer);
            None
        }
        (Ctx::Tcp(c), E::UpstreamClose(peer)) => {
            c.on_upstream_close(peer);
            None
        }
        _ => None,
    });
    action.flatten().unwrap_or(Action::Continue).into()
}

// ---- lifecycle ----

pub(crate) fn on_context_create(id: u32, parent: u32) {
    enter(id);
    let ctx = if parent == 0 {
        // Take the factory out so user code never runs inside the state borrow.
        let Some(mut factory) = state::with(|d| d.factory.take()).flatten() else { return };
        let root = factory(id);
        state::with(|d| {
            d.factory.get_or_insert(factory);
        });
        Ctx::Root(root)
    } else {
        let child = with_context(parent, |ctx| match ctx {
            Ctx::Root(root) => match root.new_http_context(id) {
                Some(http) => Some(Ctx::Http(http)),
                None => root.new_tcp_context(id).map(Ctx::Tcp),
            },
            _ => None,
        });
        match child.flatten() {
            Some(ctx) => ctx,
            None => return,
        }
    };
    // The replaced context's destructor is user code: run it after the borrow.
    let replaced = state::with(|d| d.insert(id, ctx));
    drop(replaced);
}

pub(crate) fn on_done(id: u32) -> bool {
    let done = enter_context(id, |ctx| match ctx {
        Ctx::Root(c) => c.on_done(),
        Ctx::Http(c) => c.on_done(),
        Ctx::Tcp(c) => c.on_done(),
    })
    .unwrap_or(true);
    if !done {
        state::with(|d| {
            if let Some(entry) = d.contexts.get_mut(&id) {
                entry.done_pending = true;
            }
        });
    }
    done
}

pub(crate) fn on_log(id: u32) {
    enter_context(id, |ctx| match ctx {
        Ctx::Root(c) => c.on_log(),
        Ctx::Http(c) => c.on_log(),
        Ctx::Tcp(c) => c.on_log(),
    });
}

pub(crate) fn on_delete(id: u32) {
    // Drop the context and its pending callout handlers after the borrow ends:
    // their destructors are user code.
    let removed = state::with(|d| {
        d.set_effective(id);
        (d.contexts.remove(&id), d.callouts.remove_target(id))
    });
    drop(removed);
}

// ---- root callbacks ----

/// The spec calls the id "unused"; Envoy passes the root context's id, but a
/// host may pass one without a root context (proxy-wasm-go-sdk's test harness
/// passes 0, before creating any). No root context refused, so the VM starts.
pub(crate) fn on_vm_start(root: u32, vm_configuration_size: usize) -> bool {
    root_event(root, RootEvent::VmStart(vm_configuration_size)).unwrap_or(true)
}

pub(crate) fn on_configure(root: u32, plugin_configuration_size: usize) -> bool {
    root_event(root, RootEvent::Configure(plugin_configuration_size)).unwrap_or(false)
}

pub(crate) fn on_tick(root: u32) {
    root_event(root, RootEvent::Tick);
}

pub(crate) fn on_queue_ready(root: u32, queue_id: u32) {
    root_event(root, RootEvent::QueueReady(queue_id));
}

pub(crate) fn on_foreign_function(root: u32, function_id: u32, arguments_size: usize) {
    root_event(root, RootEvent::ForeignFunction(function_id, arguments_size));
}

// ---- HTTP stream callbacks ----

pub(crate) fn on_request_headers(id: u32, num_headers: usize, end_of_stream: bool) -> u32 {
    stream_event(id, StreamEvent::RequestHeaders(num_headers, end_of_stream))
}

pub(crate) fn on_request_body(id: u32, body_size: usize, end_of_stream: bool) -> u32 {
    stream_event(id, StreamEvent::RequestBody(body_size, end_of_stream))
}

pub(crate) fn on_request_trailers(id: u32, num_trailers: usize) -> u32 {
    stream_event(id, StreamEvent::RequestTrailers(num_trailers))
}

pub(crate) fn on_response_headers(id: u32, num_headers: usize, end_of_stream: bool) -> u32 {
    stream_event(id, StreamEvent::ResponseHeaders(num_headers, end_of_stream))
}

pub(crate) fn on_response_body(id: u32, body_size: usize, end_of_stream: bool) -> u32 {
    stream_event(id, StreamEvent::ResponseBody(body_size, end_of_stream))
}

pub(crate) fn on_response_trailers(id: u32, num_trailers: usize) -> u32 {
    stream_event(id, StreamEvent::ResponseTrailers(num_trailers))
}

// ---- TCP callbacks ----

fn peer(raw: u32) -> PeerType {
    PeerType::try_from(raw).unwrap_or(PeerType::Unknown)
}

pub(crate) fn on_new_connection(id: u32) -> u32 {
    stream_event(id, StreamEvent::NewConnection)
}

pub(crate) fn on_downstream_data(id: u32, data_size: usize, end_of_stream: bool) -> u32 {
    stream_event(id, StreamEvent::DownstreamData(data_size, end_of_stream))
}

pub(crate) fn on_downstream_connection_close(id: u32, peer_type: u32) {
    stream_event(id, StreamEvent::DownstreamClose(peer(peer_type)));
}

pub(crate) fn on_upstream_data(id: u32, data_size: usize, end_of_stream: bool) -> u32 {
    stream_event(id, StreamEvent::UpstreamData(data_size, end_of_stream))
}

pub(crate) fn on_upstream_connection_close(id: u32, peer_type: u32) {
    stream_event(id, StreamEvent::UpstreamClose(peer(peer_type)));
}
