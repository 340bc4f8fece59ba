//! The effective context: which context the host applies hostcalls to, and
//! handles that let one context act on another (a root context resuming a
//! stream it paused, for example).
//!
//! The host sets the effective context to the context whose callback it
//! calls. `proxy_set_effective_context` changes it for the rest of that
//! callback; [`ContextHandle::run`] switches and switches back.

use crate::dispatcher;
use crate::error::Result;
use crate::ffi;
use crate::state;
use crate::stream;
use crate::types::StreamType;

/// A context, by id. Cheap to copy and store: a root context can keep the
/// handles of the streams it paused and resume them later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContextHandle(u32);

impl ContextHandle {
    /// The context the host is currently calling (or that was made effective).
    pub fn current() -> ContextHandle {
        ContextHandle(dispatcher::effective_context())
    }

    /// A handle for a context id.
    pub const fn from_id(id: u32) -> ContextHandle {
        ContextHandle(id)
    }

    /// The context id.
    pub const fn id(self) -> u32 {
        self.0
    }

    /// Runs `f` with this context effective, then restores the previous one.
    pub fn run<R>(self, f: impl FnOnce() -> R) -> Result<R> {
        let previous = dispatcher::effective_context();
        if previous == self.0 {
            return Ok(f());
        }
        set_effective(self.0)?;
        let result = f();
        // The previous context is the one the host called, which it knows.
        let _ = set_effective(previous);
        Ok(result)
    }

    /// Resumes a paused direction of this stream.
    pub fn resume(self, stream: StreamType) -> Result<()> {
        self.run(|| stream::resume(stream))?
    }

    /// Resumes this HTTP stream's paused request.
    pub fn resume_http_request(self) -> Result<()> {
        self.resume(StreamType::HttpRequest)
    }

    /// Resumes this HTTP stream's paused response.
    pub fn resume_http_response(self) -> Result<()> {
        self.resume(StreamType::HttpResponse)
    }

    /// Closes a direction of this stream.
    pub fn close(self, stream: StreamType) -> Result<()> {
        self.run(|| stream::close(stream))?
    }

    /// Tells the host this context finished the work it deferred by returning
    /// `false` from `on_done` (`proxy_done`).
    pub fn done(self) -> Result<()> {
        self.run(done)?
    }

    /// Whether this context returned `false` from `on_done` and has not
    /// called [`done`](Self::done) yet.
    pub fn is_done_pending(self) -> bool {
        state::with(|d| d.is_done_pending(self.0)).unwrap_or(false)
    }
}

/// Makes `context_id` the effective context (`proxy_set_effective_context`).
pub fn set_effective(context_id: u32) -> Result<()> {
    ffi::set_effective_context(context_id)?;
    state::with(|d| d.set_effective(context_id));
    Ok(())
}

/// `proxy_done` for the effective context: it finished the work it deferred
/// by returning `false` from `on_done`; the host may now finalize it.
pub fn done() -> Result<()> {
    ffi::done()?;
    state::with(|d| {
        let id = d.effective();
        d.clear_done_pending(id);
    });
    Ok(())
}

/// Runs a callout handler meant for `target` from a callback the host made on
/// context `via`: makes `target` effective first when they differ, so the
/// handler's hostcalls apply to its own context. `target` stays effective
/// until the callback returns: the handler is the last thing the callback
/// does, and the host makes each callback's own context effective when it
/// calls it (cpp-host saves and restores the effective context around every
/// callback), so restoring `via` would be a host call that changes nothing.
/// The handler is skipped if the host does not know `target` any more.
pub(crate) fn deliver(via: u32, target: u32, handler: impl FnOnce()) {
    if via == target || set_effective(target).is_ok() {
        handler();
    }
}
