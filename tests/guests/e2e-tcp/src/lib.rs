//! End-to-end TCP guest. Downstream data is held (paused) until a whole line
//! has arrived, then forwarded upper-cased behind `> `; the line `close`
//! makes the plugin close the downstream connection instead. Upstream data
//! gets ` [sluice]` appended. Every callback is noted as `#<id> <callback>`.
#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;

use sluice::buffers::{DOWNSTREAM_DATA, UPSTREAM_DATA};
use sluice::{Action, LogLevel, PeerType, RootContext, StreamType, TcpContext, logging, stream};

fn note(id: u32, text: &str) {
    let _ = logging::log(LogLevel::Info, format!("#{id} {text}"));
}

struct Root;

impl RootContext for Root {
    fn new_tcp_context(&mut self, context_id: u32) -> Option<Box<dyn TcpContext>> {
        Some(Box::new(Connection { id: context_id }))
    }
}

struct Connection {
    id: u32,
}

impl Drop for Connection {
    fn drop(&mut self) {
        note(self.id, "delete");
    }
}

impl TcpContext for Connection {
    fn on_new_connection(&mut self) -> Action {
        note(self.id, "new_connection");
        Action::Continue
    }

    fn on_downstream_data(&mut self, data_size: usize, end_of_stream: bool) -> Action {
        note(self.id, &format!("downstream {data_size} {end_of_stream}"));
        let data = DOWNSTREAM_DATA.get_all().unwrap_or_default();
        if !data.ends_with(b"\n") && !end_of_stream {
            return Action::Pause;
        }
        if data == b"close\n" {
            note(self.id, &format!("close {}", stream::close(StreamType::Downstream).is_ok()));
            return Action::Pause;
        }
        let mut line = data.to_ascii_uppercase();
        line.splice(0..0, *b"> ");
        let _ = DOWNSTREAM_DATA.replace_all(line);
        Action::Continue
    }

    fn on_upstream_data(&mut self, data_size: usize, end_of_stream: bool) -> Action {
        note(self.id, &format!("upstream {data_size} {end_of_stream}"));
        let _ = UPSTREAM_DATA.append(" [sluice]");
        Action::Continue
    }

    fn on_downstream_close(&mut self, peer: PeerType) {
        note(self.id, &format!("downstream_close {peer:?}"));
    }

    fn on_upstream_close(&mut self, peer: PeerType) {
        note(self.id, &format!("upstream_close {peer:?}"));
    }

    fn on_done(&mut self) -> bool {
        note(self.id, "done");
        true
    }

    fn on_log(&mut self) {
        note(self.id, "log");
    }
}

sluice::main! {
    sluice::set_root_context(|_| Box::new(Root));
}
