//! Captured guest logs and the trace of host calls, each kept in a bounded ring
//! so a long-running benchmark does not grow without limit.

use std::collections::VecDeque;

use crate::types::LogLevel;

/// One line the guest logged (`proxy_log`, or WASI `fd_write` to stdout/stderr).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// The level.
    pub level: LogLevel,
    /// The effective context when the line was logged.
    pub context_id: u32,
    /// The message (lossily decoded as UTF-8).
    pub message: String,
}

/// One host function call the guest made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostCall {
    /// The effective context during the call.
    pub context_id: u32,
    /// The import name, e.g. `proxy_get_header_map_value`.
    pub function: &'static str,
    /// What the guest got back: a `proxy_status_t`, a WASI errno, or 0 for
    /// functions without a result.
    pub result: i32,
}

/// A bounded ring of records that counts what it dropped.
#[derive(Clone, Debug)]
pub struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
    dropped: u64,
}

impl<T> Ring<T> {
    /// A ring holding at most `capacity` items (0 keeps nothing).
    pub fn new(capacity: usize) -> Ring<T> {
        Ring { items: VecDeque::new(), capacity, dropped: 0 }
    }

    /// Adds an item, dropping the oldest when full.
    pub fn push(&mut self, item: T) {
        if self.capacity == 0 {
            self.dropped += 1;
            return;
        }
        if self.items.len() == self.capacity {
            self.items.pop_front();
            self.dropped += 1;
        }
        self.items.push_back(item);
    }

    /// True when the ring keeps nothing (capture switched off).
    pub fn is_disabled(&self) -> bool {
        self.capacity == 0
    }

    /// The items, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    /// How many items were dropped for lack of room.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Removes every item.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// Number of items held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Strips one trailing newline, as cpp-host does for `fd_write` output.
pub fn trim_newline(message: &[u8]) -> String {
    text(message.strip_suffix(b"\n").unwrap_or(message))
}

/// A log message as text: lossily decoded, with a fast path for valid UTF-8
/// (the usual case, checked word by word rather than chunk by chunk).
pub fn text(message: &[u8]) -> String {
    match std::str::from_utf8(message) {
        Ok(valid) => valid.to_owned(),
        Err(_) => String::from_utf8_lossy(message).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_decode_lossily() {
        assert_eq!(text(b"caf\xc3\xa9"), "caf\u{e9}");
        assert_eq!(text(b"caf\xe9"), "caf\u{fffd}");
        assert_eq!(trim_newline(b"line\n"), "line");
    }

    #[test]
    fn ring_drops_oldest() {
        let mut r = Ring::new(2);
        for i in 0..5 {
            r.push(i);
        }
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(r.dropped(), 3);
        let mut none = Ring::new(0);
        none.push(1);
        assert!(none.is_empty());
        assert_eq!(none.dropped(), 1);
    }

    #[test]
    fn newline_trimmed_once() {
        assert_eq!(trim_newline(b"hi\n"), "hi");
        assert_eq!(trim_newline(b"hi\n\n"), "hi\n");
    }
}
