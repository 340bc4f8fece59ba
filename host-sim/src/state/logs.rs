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
    /// The line's place among the lines of every VM of the host (they
    /// count up together, so lines of several VMs sort into the order
    /// they were logged in, as across the plugins of a filter chain).
    pub seq: u64,
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

impl LogRecord {
    /// The bytes a line holds (its message), for the ring's byte budget.
    pub fn weight(record: &LogRecord) -> usize {
        record.message.len()
    }
}

/// How a ring weighs an item, in bytes.
pub type Weigh<T> = fn(&T) -> usize;

/// A bounded ring of records that counts what it dropped: at most
/// `capacity` items and, with a budget, at most `budget` bytes of them.
#[derive(Clone, Debug)]
pub struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
    dropped: u64,
    /// The byte budget and how to weigh an item (`None`: items are not weighed).
    budget: Option<(usize, Weigh<T>)>,
    /// The weight of the items held.
    bytes: usize,
}

impl<T> Ring<T> {
    /// A ring holding at most `capacity` items (0 keeps nothing).
    pub fn new(capacity: usize) -> Ring<T> {
        Ring { items: VecDeque::new(), capacity, dropped: 0, budget: None, bytes: 0 }
    }

    /// The same ring, also holding at most `budget` bytes of items as
    /// `weigh` counts them: the oldest items go first.
    pub fn with_budget(mut self, budget: usize, weigh: Weigh<T>) -> Ring<T> {
        self.budget = Some((budget, weigh));
        self.bytes = self.items.iter().map(weigh).sum();
        self
    }

    /// Adds an item, dropping the oldest when full.
    pub fn push(&mut self, item: T) {
        if self.capacity == 0 {
            self.dropped += 1;
            return;
        }
        if self.items.len() == self.capacity {
            self.pop_oldest();
        }
        if let Some((budget, weigh)) = self.budget {
            let weight = weigh(&item);
            if weight > budget {
                self.dropped += 1;
                return;
            }
            while self.bytes + weight > budget {
                self.pop_oldest();
            }
            self.bytes += weight;
        }
        self.items.push_back(item);
    }

    fn pop_oldest(&mut self) {
        if let Some(item) = self.items.pop_front() {
            self.dropped += 1;
            if let Some((_, weigh)) = self.budget {
                self.bytes -= weigh(&item);
            }
        }
    }

    /// The bytes of the items held, as the budget weighs them (0 without one).
    pub fn bytes(&self) -> usize {
        self.bytes
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
        self.bytes = 0;
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
    fn a_budget_drops_the_oldest_items_by_weight() {
        let mut r = Ring::new(10).with_budget(5, |s: &&str| s.len());
        for s in ["ab", "cd", "e", "fgh"] {
            r.push(s);
        }
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec!["e", "fgh"]);
        assert_eq!((r.bytes(), r.dropped()), (4, 2));
        r.push("too long");
        assert_eq!((r.len(), r.dropped()), (2, 3), "an item over the budget is dropped itself");
        r.clear();
        assert_eq!(r.bytes(), 0);
    }

    #[test]
    fn newline_trimmed_once() {
        assert_eq!(trim_newline(b"hi\n"), "hi");
        assert_eq!(trim_newline(b"hi\n\n"), "hi\n");
    }
}
