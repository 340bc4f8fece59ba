//! A network (TCP) filter on the official proxy-wasm Rust SDK (0.2.5), for
//! host-sim's gRPC and TCP scenario suites:
//!
//! * the root sets a 1 s tick from `on_configure` and, on every tick, makes
//!   a unary gRPC call `pkg.Auth/Check` to cluster `auth` with metadata
//!   `x-tick: <n>`, the message `ping <n>` and a 500 ms timeout; it logs the
//!   reply's size and body, or the status and message of a failure;
//! * each connection logs `on_new_connection`, upper-cases what the client
//!   sends, prefixes what the upstream sends with `> `, logs the end of each
//!   direction, and closes the upstream when the client sends `quit`.

use std::time::Duration;

use log::info;
use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { ticks: 0 }) });
}}

struct Root {
    ticks: u32,
}

impl Context for Root {
    fn on_grpc_call_response(&mut self, token_id: u32, status_code: u32, response_size: usize) {
        if status_code == 0 {
            let body = self.get_grpc_call_response_body(0, response_size).unwrap_or_default();
            info!("grpc {token_id} ok {response_size}: {}", String::from_utf8_lossy(&body));
        } else {
            let (_, message) = self.get_grpc_status();
            info!("grpc {token_id} failed {status_code}: {}", message.unwrap_or_default());
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _: usize) -> bool {
        self.set_tick_period(Duration::from_secs(1));
        true
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        let tick = self.ticks.to_string();
        let message = format!("ping {tick}");
        let metadata = vec![("x-tick", tick.as_bytes())];
        match self.dispatch_grpc_call(
            "auth",
            "pkg.Auth",
            "Check",
            metadata,
            Some(message.as_bytes()),
            Duration::from_millis(500),
        ) {
            Ok(token) => info!("grpc call {token} for tick {tick}"),
            Err(status) => info!("grpc call refused: {status:?}"),
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }

    fn create_stream_context(&self, context_id: u32) -> Option<Box<dyn StreamContext>> {
        Some(Box::new(Connection { context_id }))
    }
}

struct Connection {
    context_id: u32,
}

impl Context for Connection {}

impl StreamContext for Connection {
    fn on_new_connection(&mut self) -> Action {
        info!("#{} new connection", self.context_id);
        Action::Continue
    }

    fn on_downstream_data(&mut self, data_size: usize, end_of_stream: bool) -> Action {
        let data = self.get_downstream_data(0, data_size).unwrap_or_default();
        if data.starts_with(b"quit") {
            info!("#{} quit: closing the upstream", self.context_id);
            self.close_upstream();
            return Action::Continue;
        }
        self.set_downstream_data(0, data_size, &data.to_ascii_uppercase());
        if end_of_stream {
            info!("#{} client done", self.context_id);
        }
        Action::Continue
    }

    fn on_upstream_data(&mut self, data_size: usize, end_of_stream: bool) -> Action {
        let data = self.get_upstream_data(0, data_size).unwrap_or_default();
        let mut prefixed = b"> ".to_vec();
        prefixed.extend_from_slice(&data);
        self.set_upstream_data(0, data_size, &prefixed);
        if end_of_stream {
            info!("#{} upstream done", self.context_id);
        }
        Action::Continue
    }

    fn on_downstream_close(&mut self, peer_type: PeerType) {
        info!("#{} downstream closed by {peer_type:?}", self.context_id);
    }

    fn on_upstream_close(&mut self, peer_type: PeerType) {
        info!("#{} upstream closed by {peer_type:?}", self.context_id);
    }
}
