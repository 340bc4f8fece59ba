//! A plugin that calls every host function of ABI v0.2.1 (`sluice::abi::HOST_FUNCTIONS`) and
//! implements every callback, so that a test can check the module's imports
//! and exports against the ABI tables. It is not meant to do anything useful.

use std::time::Duration;

use sluice::grpc::{GrpcCall, GrpcStream};
use sluice::http::HttpCall;
use sluice::metrics::Metric;
use sluice::queue::SharedQueue;
use sluice::stream::LocalResponse;
use sluice::{
    Action, Configuration, ContextHandle, HttpContext, PeerType, RootContext, StreamType, TcpContext, buffers, headers,
    property, shared_data,
};

#[derive(Default)]
struct Root {
    queue: Option<SharedQueue>,
    stream: Option<GrpcStream>,
}

impl RootContext for Root {
    fn on_vm_start(&mut self, vm_configuration: Configuration) -> bool {
        let _ = sluice::logging::init();
        log::info!("vm config: {:?}", vm_configuration.bytes());
        let _ = sluice::time::now();
        sluice::time::set_tick_period(Duration::from_secs(1)).is_ok()
    }

    fn on_configure(&mut self, plugin_configuration: Configuration) -> bool {
        let _ = plugin_configuration.text();
        let _ = shared_data::set("key", "value", None);
        let _ = shared_data::get("key");
        self.queue = SharedQueue::register("queue").ok();
        let _ = SharedQueue::resolve("vm", "queue");
        if let Ok(metric) = Metric::counter("requests") {
            let _ = metric.record(1);
            let _ = metric.increment(1);
            let _ = metric.get();
        }
        let _ = property::get_string(["plugin_name"]);
        let _ = property::set(["filter_state", "x"], "y");
        let _ = sluice::foreign::call("compress", b"data");
        true
    }

    fn on_tick(&mut self) {
        let _ = HttpCall::new("cluster").header(":path", "/").dispatch(|_: &mut Root, response| {
            let _ = response.status();
            let _ = response.headers();
            let _ = response.body();
            let _ = headers::HTTP_CALL_RESPONSE.serialized_size();
        });
        let _ = GrpcCall::new("grpc", "svc", "Unary").dispatch(b"msg", |_: &mut Root, _reply| {});
        self.stream = GrpcCall::new("grpc", "svc", "Stream").open_stream(|_: &mut Root, _event| {}).ok();
        if let Some(stream) = self.stream {
            let _ = stream.send(b"msg", false);
            let _ = stream.cancel();
            let _ = stream.close();
        }
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        let queue = SharedQueue::from_id(queue_id);
        if let Ok(Some(item)) = queue.dequeue() {
            let _ = queue.enqueue(item);
        }
    }

    fn on_foreign_function(&mut self, _function_id: u32, arguments_size: usize) {
        let _ = sluice::foreign::arguments(arguments_size);
    }

    fn new_http_context(&mut self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http))
    }

    fn new_tcp_context(&mut self, _context_id: u32) -> Option<Box<dyn TcpContext>> {
        Some(Box::new(Tcp))
    }

    fn on_done(&mut self) -> bool {
        let _ = ContextHandle::current().done();
        true
    }
}

struct Http;

impl HttpContext for Http {
    fn on_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let _ = headers::REQUEST.get("host");
        let _ = headers::REQUEST.add("x-a", "1");
        let _ = headers::REQUEST.replace("x-b", "2");
        let _ = headers::REQUEST.remove("x-c");
        if let Ok(pairs) = headers::REQUEST.pairs() {
            let _ = headers::REQUEST.set_pairs(pairs);
        }
        Action::Continue
    }

    fn on_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let _ = buffers::REQUEST_BODY.status();
        let _ = buffers::REQUEST_BODY.get(0, body_size);
        let _ = buffers::REQUEST_BODY.append(b"!");
        if end_of_stream { Action::Continue } else { Action::Pause }
    }

    fn on_request_trailers(&mut self, _num_trailers: usize) -> Action {
        let _ = sluice::stream::resume(StreamType::HttpRequest);
        Action::Continue
    }

    fn on_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let _ = LocalResponse::new(403).body("denied").send();
        Action::Pause
    }

    fn on_response_body(&mut self, _body_size: usize, _end_of_stream: bool) -> Action {
        let _ = sluice::stream::close(StreamType::HttpResponse);
        Action::Continue
    }

    fn on_response_trailers(&mut self, _num_trailers: usize) -> Action {
        Action::Continue
    }

    fn on_log(&mut self) {
        let _ = sluice::context::set_effective(ContextHandle::current().id());
    }
}

struct Tcp;

impl TcpContext for Tcp {
    fn on_new_connection(&mut self) -> Action {
        Action::Continue
    }

    fn on_downstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        let _ = buffers::DOWNSTREAM_DATA.get(0, data_size);
        Action::Continue
    }

    fn on_downstream_close(&mut self, _peer: PeerType) {}

    fn on_upstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        let _ = buffers::UPSTREAM_DATA.get(0, data_size);
        Action::Continue
    }

    fn on_upstream_close(&mut self, _peer: PeerType) {}
}

sluice::main! {
    sluice::set_root_context(|_| Box::new(Root::default()));
}
