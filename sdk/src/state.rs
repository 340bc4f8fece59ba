//! Where the dispatcher's state lives.
//!
//! On wasm a module instance is single-threaded, so the state is one global
//! behind a `RefCell` (a re-entrant access fails cleanly instead of aliasing).
//! Natively the state is per thread and swappable, so that several plugin
//! instances (and tests) can share a process: see [`crate::native::Instance`].

use core::cell::RefCell;

use crate::dispatcher::Dispatcher;

#[cfg(target_arch = "wasm32")]
mod global {
    use super::*;

    /// A cell for the one dispatcher of a wasm module instance.
    pub(super) struct GlobalCell(pub(super) RefCell<Dispatcher>);

    #[cfg(target_feature = "atomics")]
    compile_error!("sluice keeps its dispatcher in a single-threaded global; wasm threads are not supported");

    // SAFETY: without the `atomics` target feature (rejected above) a wasm32
    // module instance runs on exactly one thread, so the cell is never reached
    // from two threads; `RefCell` guards against re-entrant access.
    unsafe impl Sync for GlobalCell {}

    pub(super) static STATE: GlobalCell = GlobalCell(RefCell::new(Dispatcher::new()));
}

#[cfg(not(target_arch = "wasm32"))]
std::thread_local! {
    static STATE: RefCell<Dispatcher> = const { RefCell::new(Dispatcher::new()) };
}

/// Runs `f` on the current dispatcher state. Returns `None` if the state is
/// already borrowed (a re-entrant call, which hosts never make).
pub(crate) fn with<R>(f: impl FnOnce(&mut Dispatcher) -> R) -> Option<R> {
    #[cfg(target_arch = "wasm32")]
    {
        global::STATE.0.try_borrow_mut().ok().map(|mut d| f(&mut d))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        STATE.with(|cell| cell.try_borrow_mut().ok().map(|mut d| f(&mut d)))
    }
}

/// Exchanges the current thread's dispatcher state with `other`.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn swap(other: &mut Dispatcher) -> bool {
    with(|d| core::mem::swap(d, other)).is_some()
}
