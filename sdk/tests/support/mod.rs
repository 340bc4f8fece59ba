//! A fake host table for native tests: records every hostcall together with
//! the context that was effective when it was made, and serves headers,
//! buffers, properties and call tokens from plain maps.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use sluice::native::{Host, HostResult};

/// Header maps: (map type, name) -> value.
pub type HeaderTable = BTreeMap<(u32, Vec<u8>), Vec<u8>>;
/// Shared data: key -> (value, CAS version).
pub type SharedTable = BTreeMap<Vec<u8>, (Vec<u8>, u32)>;

pub const BAD_ARGUMENT: u32 = 2;
pub const NOT_FOUND: u32 = 1;

#[derive(Default)]
pub struct FakeHost {
    /// Every hostcall, as `"<effective context>: <call>"`.
    pub calls: RefCell<Vec<String>>,
    /// The effective context, as the host tracks it.
    pub effective: Cell<u32>,
    /// Contexts `set_effective_context` accepts.
    pub contexts: RefCell<Vec<u32>>,
    /// Header maps: (map type, name) -> value.
    pub headers: RefCell<HeaderTable>,
    /// Serialized pairs returned by `get_header_map_pairs`, by map type.
    pub pairs: RefCell<BTreeMap<u32, Vec<u8>>>,
    /// Buffers by type.
    pub buffers: RefCell<BTreeMap<u32, Vec<u8>>>,
    /// The flags word get_buffer_status answers with.
    pub buffer_flags: Cell<u32>,
    /// Shared data, as get_shared_data answers.
    pub shared: RefCell<SharedTable>,
    /// Properties by encoded path.
    pub properties: RefCell<BTreeMap<Vec<u8>, Vec<u8>>>,
    /// The last token handed out by http_call / grpc_call / grpc_stream.
    pub token: Cell<u32>,
    /// What get_status answers.
    pub status: RefCell<(u32, Vec<u8>)>,
    /// The host log level.
    pub log_level: Cell<u32>,
    /// A status to answer get_header_map_value with instead of looking up.
    pub forced_status: Cell<Option<u32>>,
    /// What grpc_cancel and grpc_close answer (0: OK).
    pub grpc_status: Cell<u32>,
}

impl FakeHost {
    pub fn new(contexts: &[u32]) -> FakeHost {
        let host = FakeHost::default();
        host.contexts.borrow_mut().extend_from_slice(contexts);
        host
    }

    /// The host calling a callback on `context` makes it effective.
    pub fn calling(&self, context: u32) {
        self.effective.set(context);
    }

    fn record(&self, call: String) {
        self.calls.borrow_mut().push(format!("{}: {call}", self.effective.get()));
    }

    pub fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.borrow_mut())
    }

    fn next_token(&self) -> u32 {
        self.token.set(self.token.get() + 1);
        self.token.get()
    }
}

fn status(code: u32) -> HostResult<()> {
    if code == 0 { Ok(()) } else { Err(code) }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Host for FakeHost {
    fn log(&self, level: u32, message: &[u8]) -> HostResult<()> {
        if level > 5 {
            return Err(BAD_ARGUMENT);
        }
        self.record(format!("log({level}, {})", text(message)));
        Ok(())
    }

    fn get_log_level(&self) -> HostResult<u32> {
        Ok(self.log_level.get())
    }

    fn set_tick_period_milliseconds(&self, period: u32) -> HostResult<()> {
        self.record(format!("set_tick_period({period})"));
        Ok(())
    }

    fn done(&self) -> HostResult<()> {
        self.record("done".into());
        Ok(())
    }

    fn set_effective_context(&self, context_id: u32) -> HostResult<()> {
        if !self.contexts.borrow().contains(&context_id) {
            return Err(BAD_ARGUMENT);
        }
        self.record(format!("set_effective({context_id})"));
        self.effective.set(context_id);
        Ok(())
    }

    fn get_buffer_bytes(&self, buffer_type: u32, start: usize, max_size: usize) -> HostResult<Vec<u8>> {
        let buffers = self.buffers.borrow();
        let buffer = buffers.get(&buffer_type).ok_or(NOT_FOUND)?;
        let start = start.min(buffer.len());
        let end = start.saturating_add(max_size).min(buffer.len());
        Ok(buffer[start..end].to_vec())
    }

    fn get_buffer_status(&self, buffer_type: u32) -> HostResult<sluice::abi::BufferStatus> {
        let size = self.buffers.borrow().get(&buffer_type).ok_or(NOT_FOUND)?.len();
        Ok(sluice::abi::BufferStatus { size, flags: self.buffer_flags.get() })
    }

    fn get_header_map_pairs(&self, map_type: u32) -> HostResult<Vec<u8>> {
        self.pairs.borrow().get(&map_type).cloned().ok_or(NOT_FOUND)
    }

    fn get_header_map_value(&self, map_type: u32, key: &[u8]) -> HostResult<Vec<u8>> {
        if let Some(status) = self.forced_status.get() {
            return Err(status);
        }
        self.headers.borrow().get(&(map_type, key.to_vec())).cloned().ok_or(NOT_FOUND)
    }

    fn add_header_map_value(&self, map_type: u32, key: &[u8], value: &[u8]) -> HostResult<()> {
        self.record(format!("add_header({map_type}, {}, {})", text(key), text(value)));
        self.headers.borrow_mut().insert((map_type, key.to_vec()), value.to_vec());
        Ok(())
    }

    fn continue_stream(&self, stream_type: u32) -> HostResult<()> {
        self.record(format!("continue_stream({stream_type})"));
        Ok(())
    }

    fn get_status(&self) -> HostResult<sluice::abi::CallStatus> {
        let (code, message) = self.status.borrow().clone();
        Ok(sluice::abi::CallStatus { code, message })
    }

    fn send_local_response(
        &self,
        status_code: u32,
        details: &[u8],
        body: &[u8],
        _serialized_headers: &[u8],
        grpc_status: i32,
    ) -> HostResult<()> {
        self.record(format!("send_local_response({status_code}, {}, {}, {grpc_status})", text(details), text(body)));
        Ok(())
    }

    fn http_call(
        &self,
        upstream: &[u8],
        headers: &[u8],
        _body: &[u8],
        _trailers: &[u8],
        timeout_ms: u32,
    ) -> HostResult<u32> {
        let pairs = sluice::map::deserialize(headers).map_err(|_| BAD_ARGUMENT)?;
        let token = self.next_token();
        self.record(format!("http_call({}, {} headers, {timeout_ms}ms) -> {token}", text(upstream), pairs.len()));
        Ok(token)
    }

    fn grpc_stream(&self, upstream: &[u8], service: &[u8], method: &[u8], _metadata: &[u8]) -> HostResult<u32> {
        let token = self.next_token();
        self.record(format!("grpc_stream({}, {}/{}) -> {token}", text(upstream), text(service), text(method)));
        Ok(token)
    }

    fn grpc_call(
        &self,
        upstream: &[u8],
        service: &[u8],
        method: &[u8],
        _metadata: &[u8],
        message: &[u8],
        _timeout_ms: u32,
    ) -> HostResult<u32> {
        let token = self.next_token();
        self.record(format!(
            "grpc_call({}, {}/{}, {}) -> {token}",
            text(upstream),
            text(service),
            text(method),
            text(message)
        ));
        Ok(token)
    }

    fn grpc_cancel(&self, call_or_stream_id: u32) -> HostResult<()> {
        self.record(format!("grpc_cancel({call_or_stream_id})"));
        status(self.grpc_status.get())
    }

    fn grpc_close(&self, call_or_stream_id: u32) -> HostResult<()> {
        self.record(format!("grpc_close({call_or_stream_id})"));
        status(self.grpc_status.get())
    }

    fn get_shared_data(&self, key: &[u8]) -> HostResult<sluice::abi::SharedValue> {
        let (value, cas) = self.shared.borrow().get(key).cloned().ok_or(NOT_FOUND)?;
        Ok(sluice::abi::SharedValue { value, cas })
    }

    fn get_property(&self, path: &[u8]) -> HostResult<Vec<u8>> {
        self.properties.borrow().get(path).cloned().ok_or(NOT_FOUND)
    }
}
