//! A value that stays on the thread that created it.
//!
//! A natively hosted plugin is made of `Rc`s and boxed trait objects that are
//! not `Send`, while a [`Host`](crate::Host) is: a test may move it to another
//! thread. [`ThreadBound`] makes that sound the way `send_wrapper` does: the
//! value is reachable only from its own thread (elsewhere [`get_mut`] answers
//! `None`, and the VM reports that as a failure), and dropping it on another
//! thread leaks it instead of running its destructor there.
//!
//! [`get_mut`]: ThreadBound::get_mut

use std::mem::ManuallyDrop;
use std::thread::{self, ThreadId};

pub(crate) struct ThreadBound<T> {
    value: ManuallyDrop<T>,
    thread: ThreadId,
}

// SAFETY: the value is only ever touched (borrowed or dropped) on the thread
// that created it: `get_mut` checks the current thread, and `drop` leaks the
// value on any other thread. Moving the wrapper itself moves no `T` access.
unsafe impl<T> Send for ThreadBound<T> {}

impl<T> ThreadBound<T> {
    pub(crate) fn new(value: T) -> ThreadBound<T> {
        ThreadBound { value: ManuallyDrop::new(value), thread: thread::current().id() }
    }

    /// The value, on the thread that created it.
    pub(crate) fn get_mut(&mut self) -> Option<&mut T> {
        (thread::current().id() == self.thread).then(|| &mut *self.value)
    }
}

impl<T> Drop for ThreadBound<T> {
    fn drop(&mut self) {
        if thread::current().id() == self.thread {
            // SAFETY: dropped exactly once, here, and never used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.value) }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;

    #[test]
    fn reachable_only_on_its_own_thread() {
        let mut bound = ThreadBound::new(Rc::new(5));
        assert_eq!(bound.get_mut().map(|v| **v), Some(5));
        let mut bound = thread::spawn(move || {
            assert!(bound.get_mut().is_none(), "another thread must not reach the value");
            bound
        })
        .join()
        .unwrap();
        assert_eq!(bound.get_mut().map(|v| **v), Some(5));
    }

    #[test]
    fn dropped_on_another_thread_it_leaks() {
        let rc = Rc::new(());
        let bound = ThreadBound::new(Rc::clone(&rc));
        thread::spawn(move || drop(bound)).join().unwrap();
        assert_eq!(Rc::strong_count(&rc), 2, "the clone was leaked, not released on the wrong thread");
    }
}
