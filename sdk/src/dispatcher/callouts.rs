//! Callouts without bookkeeping: every HTTP call, gRPC call and gRPC stream
//! carries its own handler, registered when it is dispatched, and the response
//! is handed to that handler together with `&mut` access to the context it
//! was registered for.
//!
//! The table maps a call token to `(target context id, handler)`. The target
//! defaults to the context that dispatched the call, but may be another one
//! (a root context dispatching a call on behalf of a paused stream). When the
//! host delivers a response, on whichever context it chooses (Envoy: the
//! issuing one; the spec: the root), the dispatcher takes the target context
//! out of the table, makes it the effective context if it is not the one the
//! host called, runs the handler, and restores the effective context.
//!
//! Handlers are type-erased closures over `&mut dyn Any`; the typed wrapper
//! that downcasts to the concrete context and switches the effective context
//! is built by the generic dispatch functions in [`http`](crate::http) and
//! [`grpc`](crate::grpc), so a plugin that makes no callouts links none of it
//! (and imports no `proxy_set_effective_context`).
//!
//! When a context is deleted, the handlers aimed at it are dropped; a response
//! that arrives later for their token is ignored. So is the handler of a gRPC
//! call the plugin cancels, even from inside that handler.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::any::{Any, TypeId};

use super::id_map::IdMap;
use super::{enter, with_context};
use crate::error::{Error, Result};
use crate::grpc::{GrpcClose, GrpcEvent, GrpcMessage, GrpcReply};
use crate::http::HttpResponse;
use crate::state;

/// Runs with the target context, the id of the context the host called, and the event.
pub(crate) type Handler<E> = Box<dyn FnOnce(&mut dyn Any, u32, E)>;
/// A gRPC stream handler runs once per event.
pub(crate) type StreamHandler = Box<dyn FnMut(&mut dyn Any, u32, GrpcEvent)>;

pub(crate) enum Callback {
    Http(Handler<HttpResponse>),
    GrpcCall(Handler<GrpcReply>),
    GrpcStream(StreamHandler),
    /// Holds a stream's place while its handler runs: the handler goes back
    /// afterwards unless the stream was cancelled meanwhile.
    Running,
}

struct Callout {
    target: u32,
    callback: Callback,
}

/// HTTP call tokens and gRPC tokens are separate namespaces on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Token {
    Http(u32),
    Grpc(u32),
}

/// The pending callouts of one plugin instance.
pub(crate) struct Table(IdMap<Token, Callout>);

impl Table {
    pub(crate) const fn new() -> Table {
        Table(IdMap::new())
    }

    /// Removes the handlers aimed at a deleted context; the caller drops them.
    pub(crate) fn remove_target(&mut self, target: u32) -> Vec<Callback> {
        self.0.remove_where(|c| c.target == target).into_iter().map(|c| c.callback).collect()
    }

    /// How many callouts aimed at `target` are pending.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub(crate) fn pending_for(&self, target: u32) -> usize {
        self.0.values().filter(|c| c.target == target).count()
    }
}

/// Checks that `target` exists and is a `C`, before a call is dispatched for it.
pub(crate) fn check_target<C: Any>(target: u32) -> Result<()> {
    match state::with(|d| d.context_type(target)).flatten() {
        Some(type_id) if type_id == TypeId::of::<C>() => Ok(()),
        _ => Err(Error::WrongContext { context_id: target }),
    }
}

/// Records the handler of a dispatched call.
pub(crate) fn register(token: Token, target: u32, callback: Callback) {
    let replaced = state::with(|d| d.callouts.0.insert(token, Callout { target, callback }));
    drop(replaced);
}

fn take(token: Token) -> Option<Callout> {
    state::with(|d| d.callouts.0.remove(&token)).flatten()
}

/// Drops the handler of gRPC `token` once the host will deliver nothing more
/// for it; with `keep_stream`, a stream's handler stays (see
/// [`GrpcStream::close`](crate::grpc::GrpcStream::close)).
pub(crate) fn forget_grpc(token: u32, keep_stream: bool) {
    let token = Token::Grpc(token);
    let removed = state::with(|d| {
        let stream =
            d.callouts.0.get(&token).is_some_and(|c| matches!(c.callback, Callback::GrpcStream(_) | Callback::Running));
        if keep_stream && stream { None } else { d.callouts.0.remove(&token) }
    });
    // Outside the borrow: the handler's destructor is user code.
    drop(removed);
}

/// Removes a running stream handler's placeholder; `false` if the stream was
/// forgotten while its handler ran.
fn end_running(token: Token) -> bool {
    state::with(|d| match d.callouts.0.get(&token) {
        Some(Callout { callback: Callback::Running, .. }) => d.callouts.0.remove(&token).is_some(),
        _ => false,
    })
    .unwrap_or(false)
}

pub(crate) fn on_http_call_response(via: u32, token: u32, num_headers: usize, body_size: usize, num_trailers: usize) {
    enter(via);
    let Some(Callout { target, callback: Callback::Http(handler) }) = take(Token::Http(token)) else { return };
    let response = HttpResponse::new(num_headers, body_size, num_trailers);
    with_context(target, |ctx| handler(ctx.as_any_mut(), via, response));
}

pub(crate) fn on_grpc_event(via: u32, token: u32, event: GrpcEvent) {
    enter(via);
    let Some(callout) = take(Token::Grpc(token)) else { return };
    let target = callout.target;
    match callout.callback {
        Callback::GrpcStream(mut handler) => {
            let closed = matches!(event, GrpcEvent::Close(_));
            if !closed {
                register(Token::Grpc(token), target, Callback::Running);
            }
            let delivered = with_context(target, |ctx| handler(ctx.as_any_mut(), via, event));
            if !closed && end_running(Token::Grpc(token)) && delivered.is_some() {
                register(Token::Grpc(token), target, Callback::GrpcStream(handler));
            }
        }
        Callback::GrpcCall(handler) => {
            let reply = match event {
                GrpcEvent::Message(message) => GrpcReply::Message(message),
                GrpcEvent::Close(close) => GrpcReply::Closed(close),
                // A unary call's handler wants the reply; metadata stays readable
                // in its own callback only, so the handler waits for the reply.
                GrpcEvent::InitialMetadata { .. } | GrpcEvent::TrailingMetadata { .. } => {
                    register(Token::Grpc(token), target, Callback::GrpcCall(handler));
                    return;
                }
            };
            with_context(target, |ctx| handler(ctx.as_any_mut(), via, reply));
        }
        Callback::Http(_) | Callback::Running => {}
    }
}

pub(crate) fn on_grpc_receive_initial_metadata(via: u32, token: u32, count: usize) {
    on_grpc_event(via, token, GrpcEvent::InitialMetadata { count });
}

pub(crate) fn on_grpc_receive(via: u32, token: u32, size: usize) {
    on_grpc_event(via, token, GrpcEvent::Message(GrpcMessage::new(size)));
}

pub(crate) fn on_grpc_receive_trailing_metadata(via: u32, token: u32, count: usize) {
    on_grpc_event(via, token, GrpcEvent::TrailingMetadata { count });
}

pub(crate) fn on_grpc_close(via: u32, token: u32, status_code: u32) {
    on_grpc_event(via, token, GrpcEvent::Close(GrpcClose::new(status_code)));
}
