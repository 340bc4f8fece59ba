//! The parser: RFC 8259, strict, iterative over whitespace and bounded in
//! nesting depth, never panicking on any input.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Error, Number, Object, Value};

/// How deeply arrays and objects may nest before the input is rejected
/// (untrusted input must not be able to exhaust the stack).
pub const MAX_DEPTH: usize = 128;

pub(crate) struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Parser<'a> {
        // A UTF-8 byte order mark is tolerated at the start.
        let pos = if input.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        Parser { input, pos, depth: 0 }
    }

    fn error(&self, expected: &'static str) -> Error {
        Error::syntax(self.input, self.pos, expected)
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), Error> {
        if self.eat(byte) { Ok(()) } else { Err(self.error(expected)) }
    }

    pub(crate) fn document(mut self) -> Result<Value, Error> {
        self.skip_whitespace();
        let value = self.value()?;
        self.skip_whitespace();
        if self.pos < self.input.len() {
            return Err(self.error("the end of the input"));
        }
        Ok(value)
    }

    fn value(&mut self) -> Result<Value, Error> {
        match self.peek() {
            Some(b'{') => self.nested(Parser::object),
            Some(b'[') => self.nested(Parser::array),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            _ => Err(self.error("a value")),
        }
    }

    fn nested(&mut self, f: fn(&mut Parser<'a>) -> Result<Value, Error>) -> Result<Value, Error> {
        if self.depth == MAX_DEPTH {
            return Err(self.error("less nesting (128 levels at most)"));
        }
        self.depth += 1;
        let value = f(self);
        self.depth -= 1;
        value
    }

    fn literal(&mut self, word: &'static [u8], value: Value) -> Result<Value, Error> {
        if self.input[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("a value"))
        }
    }

    fn object(&mut self) -> Result<Value, Error> {
        self.pos += 1; // '{'
        let mut members: Vec<(String, Value)> = Vec::new();
        let mut key_positions = Vec::new();
        self.skip_whitespace();
        if self.eat(b'}') {
            return Ok(Value::Object(Object(members)));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("a string key"));
            }
            key_positions.push(self.pos);
            let key = self.string()?;
            self.skip_whitespace();
            self.expect(b':', "':'")?;
            self.skip_whitespace();
            let value = self.value()?;
            members.push((key, value));
            self.skip_whitespace();
            if self.eat(b'}') {
                return self.unique(members, &key_positions);
            }
            self.expect(b',', "',' or '}'")?;
        }
    }

    /// Rejects an object with a repeated key (a classic way to smuggle a
    /// second value past a check), pointing at the later occurrence. Sorting
    /// keeps this O(n log n) for objects with many members.
    fn unique(&mut self, members: Vec<(String, Value)>, key_positions: &[usize]) -> Result<Value, Error> {
        let mut keys: Vec<(&str, usize)> =
            members.iter().zip(key_positions).map(|((k, _), &pos)| (k.as_str(), pos)).collect();
        heap_sort(&mut keys);
        if let Some(pair) = keys.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            self.pos = pair[0].1.max(pair[1].1);
            return Err(self.error("a key that is not already in this object"));
        }
        Ok(Value::Object(Object(members)))
    }

    fn array(&mut self) -> Result<Value, Error> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.eat(b']') {
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value()?);
            self.skip_whitespace();
            if self.eat(b']') {
                return Ok(Value::Array(items));
            }
            self.expect(b',', "',' or ']'")?;
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Number, Error> {
        let start = self.pos;
        self.eat(b'-');
        if !self.eat(b'0') && self.digits() == 0 {
            return Err(self.error("a digit"));
        }
        if self.eat(b'.') && self.digits() == 0 {
            return Err(self.error("a digit after '.'"));
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            if self.digits() == 0 {
                return Err(self.error("a digit in the exponent"));
            }
        }
        // Only ASCII digits, signs, '.', 'e' and 'E' were consumed.
        let text = core::str::from_utf8(&self.input[start..self.pos]).map_err(|_| self.error("a number"))?;
        Ok(Number(String::from(text)))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.error("four hexadecimal digits after \\u")),
            };
            code = code * 16 + u32::from(digit);
            self.pos += 1;
        }
        Ok(code)
    }

    fn escape(&mut self, out: &mut String) -> Result<(), Error> {
        let Some(byte) = self.peek() else { return Err(self.error("an escape character")) };
        self.pos += 1;
        let c = match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&high) {
                    if !(self.eat(b'\\') && self.eat(b'u')) {
                        return Err(self.error("the low surrogate of a \\u surrogate pair"));
                    }
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(self.error("a low surrogate (\\uDC00 to \\uDFFF)"));
                    }
                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    high
                };
                char::from_u32(code).ok_or_else(|| self.error("a Unicode scalar value, not a lone surrogate"))?
            }
            _ => {
                self.pos -= 1;
                return Err(self.error("one of \" \\ / b f n r t u after '\\'"));
            }
        };
        out.push(c);
        Ok(())
    }

    fn string(&mut self) -> Result<String, Error> {
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            match core::str::from_utf8(&self.input[start..self.pos]) {
                Ok(run) => out.push_str(run),
                Err(e) => {
                    self.pos = start + e.valid_up_to();
                    return Err(self.error("valid UTF-8"));
                }
            }
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => return Err(self.error("a closing '\"' (control characters must be escaped)")),
                None => return Err(self.error("a closing '\"'")),
            }
        }
    }
}

/// Sorts keys (then positions) in place in O(n log n). A heap sort of this
/// one type, instead of `sort_unstable`'s pattern-defeating quicksort with
/// its small-sort networks: the same order in about a twentieth of the code,
/// which every plugin that parses JSON configuration carries.
pub(super) fn heap_sort(keys: &mut [(&str, usize)]) {
    fn sift_down(keys: &mut [(&str, usize)], mut root: usize, end: usize) {
        loop {
            let mut child = 2 * root + 1;
            if child >= end {
                return;
            }
            if child + 1 < end && keys[child] < keys[child + 1] {
                child += 1;
            }
            if keys[root] >= keys[child] {
                return;
            }
            keys.swap(root, child);
            root = child;
        }
    }
    let len = keys.len();
    for start in (0..len / 2).rev() {
        sift_down(keys, start, len);
    }
    for end in (1..len).rev() {
        keys.swap(0, end);
        sift_down(keys, 0, end);
    }
}
