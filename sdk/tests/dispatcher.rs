//! The dispatcher through the native host table: context lifecycle, deferred
//! `on_done`, callouts reaching the context they are meant for, and effective
//! context switching.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use sluice::grpc::{GrpcCall, GrpcEvent, GrpcReply};
use sluice::http::{HttpCall, HttpCallId};
use sluice::native::Instance;
use sluice::{Action, ContextHandle, Error, HttpContext, PeerType, RootContext, Status, TcpContext, headers};
use support::FakeHost;

const ROOT: u32 = 1;
const STREAM: u32 = 2;

/// Shared between the test and the plugin's contexts.
#[derive(Default)]
struct Record {
    events: RefCell<Vec<String>>,
    paused: RefCell<Vec<ContextHandle>>,
    dropped: Cell<u32>,
}

impl Record {
    fn push(&self, event: impl Into<String>) {
        self.events.borrow_mut().push(event.into());
    }
}

struct Root {
    record: Rc<Record>,
}

impl RootContext for Root {
    fn on_vm_start(&mut self, vm_configuration: sluice::Configuration) -> bool {
        self.record.push(format!("vm_start {}", vm_configuration.text().unwrap()));
        true
    }

    fn on_configure(&mut self, plugin_configuration: sluice::Configuration) -> bool {
        let text = plugin_configuration.text().unwrap();
        self.record.push(format!("configure {text}"));
        text != "reject"
    }

    fn on_tick(&mut self) {
        // Authorize every paused stream through a call made by the root.
        let paused: Vec<ContextHandle> = self.record.paused.borrow_mut().drain(..).collect();
        for stream in paused {
            let result = HttpCall::new("authz").header(":path", "/check").dispatch_to(
                stream,
                |filter: &mut Filter, response| {
                    filter.authorized = response.status_code() == Ok(Some(200));
                    filter.record.push(format!(
                        "authorized {} on {}",
                        filter.authorized,
                        ContextHandle::current().id()
                    ));
                    headers::REQUEST.add("x-authorized", "yes").unwrap();
                    sluice::stream::resume_http_request().unwrap();
                },
            );
            self.record.push(format!("tick dispatched {}", result.is_ok()));
        }
    }

    fn new_http_context(&mut self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        self.record.push(format!("new http {context_id}"));
        Some(Box::new(Filter { record: self.record.clone(), authorized: false, finish_later: false }))
    }

    fn on_done(&mut self) -> bool {
        self.record.push("root done");
        true
    }
}

struct Filter {
    record: Rc<Record>,
    authorized: bool,
    finish_later: bool,
}

impl Drop for Filter {
    fn drop(&mut self) {
        self.record.dropped.set(self.record.dropped.get() + 1);
    }
}

impl HttpContext for Filter {
    fn on_request_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action {
        self.record.push(format!("request headers {num_headers} {end_of_stream}"));
        match headers::REQUEST.get_str("mode").unwrap().as_deref() {
            Some("root-authz") => {
                self.record.paused.borrow_mut().push(ContextHandle::current());
                Action::Pause
            }
            Some("self-authz") => {
                HttpCall::new("authz")
                    .header(":path", "/self")
                    .dispatch(|this: &mut Filter, response| {
                        this.authorized = !response.is_failure();
                        this.record.push(format!("own response on {}", ContextHandle::current().id()));
                        sluice::stream::resume_http_request().unwrap();
                    })
                    .unwrap();
                Action::Pause
            }
            Some("finish-later") => {
                self.finish_later = true;
                Action::Continue
            }
            _ => Action::Continue,
        }
    }

    fn on_done(&mut self) -> bool {
        self.record.push("stream done");
        !self.finish_later
    }

    fn on_log(&mut self) {
        self.record.push(format!("stream log authorized={}", self.authorized));
    }
}

fn plugin(host: &Rc<FakeHost>, record: &Rc<Record>) -> Instance {
    let mut instance = Instance::new(host.clone());
    let record = record.clone();
    instance.enter(move || sluice::set_root_context(move |_| Box::new(Root { record: record.clone() })));
    host.calling(ROOT);
    instance.on_context_create(ROOT, 0);
    instance
}

/// Runs `f` inside the plugin with the root context effective, as in one of
/// the root's callbacks.
fn as_root<R>(instance: &mut Instance, f: impl FnOnce() -> R) -> R {
    instance.enter(|| {
        sluice::context::set_effective(ROOT).unwrap();
        f()
    })
}

fn start_stream(host: &FakeHost, instance: &mut Instance, mode: &str) -> u32 {
    host.headers.borrow_mut().insert((0, b"mode".to_vec()), mode.as_bytes().to_vec());
    host.calling(STREAM);
    instance.on_context_create(STREAM, ROOT);
    instance.on_request_headers(STREAM, 3, false)
}

#[test]
fn contexts_live_from_create_to_delete_and_read_their_configuration() {
    let host = Rc::new(FakeHost::new(&[ROOT, STREAM]));
    host.buffers.borrow_mut().insert(6, b"vm-cfg".to_vec());
    host.buffers.borrow_mut().insert(7, b"plugin-cfg".to_vec());
    let record = Rc::new(Record::default());
    let mut instance = plugin(&host, &record);

    assert!(instance.on_vm_start(ROOT, 6));
    assert!(instance.on_configure(ROOT, 10));
    assert_eq!(start_stream(&host, &mut instance, "plain"), 0);
    assert_eq!(instance.context_count(), 2);
    assert!(instance.on_done(STREAM));
    instance.on_log(STREAM);
    instance.on_delete(STREAM);
    assert_eq!(instance.context_count(), 1);
    assert_eq!(record.dropped.get(), 1, "on_delete drops the context");
    assert!(instance.on_done(ROOT));
    instance.on_delete(ROOT);
    assert_eq!(instance.context_count(), 0);

    assert_eq!(
        *record.events.borrow(),
        [
            "vm_start vm-cfg",
            "configure plugin-cfg",
            "new http 2",
            "request headers 3 false",
            "stream done",
            "stream log authorized=false",
            "root done"
        ]
    );
    // Callbacks for contexts that do not exist get neutral answers.
    assert_eq!(instance.on_request_headers(99, 1, true), 0);
    assert!(instance.on_done(99));
    assert!(!instance.on_configure(99, 0));
}

#[test]
fn a_failed_configuration_is_reported_to_the_host() {
    let host = Rc::new(FakeHost::new(&[ROOT]));
    host.buffers.borrow_mut().insert(7, b"reject".to_vec());
    let record = Rc::new(Record::default());
    let mut instance = plugin(&host, &record);
    assert!(!instance.on_configure(ROOT, 6));
}

#[test]
fn on_done_false_waits_for_proxy_done_on_the_right_context() {
    let host = Rc::new(FakeHost::new(&[ROOT, STREAM]));
    let record = Rc::new(Record::default());
    let mut instance = plugin(&host, &record);
    start_stream(&host, &mut instance, "finish-later");

    host.calling(STREAM);
    assert!(!instance.on_done(STREAM), "the context asked to finish later");
    let stream = ContextHandle::from_id(STREAM);
    assert!(instance.enter(|| stream.is_done_pending()));
    host.take_calls();

    // Later, from the root's tick, the plugin finishes the stream.
    host.calling(ROOT);
    instance.on_tick(ROOT);
    instance.enter(|| stream.done()).unwrap();
    assert_eq!(host.take_calls(), ["1: set_effective(2)", "2: done", "2: set_effective(1)"]);
    assert!(!instance.enter(|| stream.is_done_pending()));
    assert_eq!(instance.context_count(), 2, "the host deletes the context, not proxy_done");
}

#[test]
fn a_callout_response_reaches_the_stream_that_dispatched_it() {
    let host = Rc::new(FakeHost::new(&[ROOT, STREAM]));
    let record = Rc::new(Record::default());
    let mut instance = plugin(&host, &record);
    assert_eq!(start_stream(&host, &mut instance, "self-authz"), 1, "paused");
    assert_eq!(host.take_calls(), ["2: http_call(authz, 1 headers, 5000ms) -> 1"]);
    assert_eq!(instance.pending_callouts(STREAM), 1);

    // Envoy delivers on the issuing context: no switch needed.
    host.calling(STREAM);
    instance.on_http_call_response(STREAM, 1, 2, 0, 0);
    assert_eq!(host.take_calls(), ["2: continue_stream(0)"]);
    assert_eq!(instance.pending_callouts(STREAM), 0);

    // A host that delivers on the root (as the spec words it) gets the switch.
    start_stream(&host, &mut instance, "self-authz");
    host.take_calls();
    host.calling(ROOT);
    instance.on_http_call_response(ROOT, 2, 2, 0, 0);
    // The stream stays effective to the end of the callback: the host makes
    // each callback's own context effective, so switching back is no call.
    assert_eq!(host.take_calls(), ["1: set_effective(2)", "2: continue_stream(0)"]);
    let events = record.events.borrow();
    assert_eq!(events.iter().filter(|e| *e == "own response on 2").count(), 2);
}

#[test]
fn a_root_tick_calls_out_for_a_paused_stream_and_resumes_it() {
    let host = Rc::new(FakeHost::new(&[ROOT, STREAM]));
    host.headers.borrow_mut().insert((6, b":status".to_vec()), b"200".to_vec());
    let record = Rc::new(Record::default());
    let mut instance = plugin(&host, &record);
    assert_eq!(start_stream(&host, &mut instance, "root-authz"), 1, "paused");

    host.calling(ROOT);
    instance.on_tick(ROOT);
    assert_eq!(instance.pending_callouts(STREAM), 1, "the handler is aimed at the stream");
    host.take_calls();

    // The response arrives on the root, which dispatched the call.
    host.calling(ROOT);
    instance.on_http_call_response(ROOT, 1, 1, 0, 0);
    assert_eq!(
        host.take_calls(),
        ["1: set_effective(2)", "2: add_header(0, x-authorized, yes)", "2: continue_stream(0)"]
    );
    assert!(record.events.borrow().contains(&"authorized true on 2".to_string()));
    instance.on_log(STREAM);
    assert!(record.events.borrow().contains(&"stream log authorized=true".to_string()));
}

#[test]
fn a_handler_for_the_wrong_context_type_is_refused_before_anything_is_sent() {
    let host = Rc::new(FakeHost::new(&[ROOT]));
    let record = Rc::new(Record::default());
    let mut instance = plugin(&host, &record);
    host.calling(ROOT);
    let result = as_root(&mut instance, || HttpCall::new("authz").dispatch(|_: &mut Filter, _| {}));
    assert_eq!(result, Err(Error::WrongContext { context_id: ROOT }));
    let missing =
        instance.enter(|| HttpCall::new("authz").dispatch_to(ContextHandle::from_id(42), |_: &mut Root, _| {}));
    assert_eq!(missing, Err(Error::WrongContext { context_id: 42 }));
    assert!(!host.take_calls().iter().any(|c| c.contains("http_call")));
}

#[test]
fn a_call_is_named_by_its_id_and_a_failed_call_reports_the_hosts_status() {
    let host = Rc::new(FakeHost::new(&[ROOT]));
    *host.status.borrow_mut() = (11, b"reset".to_vec());
    let record = Rc::new(Record::default());
    let mut instance = plugin(&host, &record);
    let call = as_root(&mut instance, || {
        HttpCall::new("authz").dispatch(|root: &mut Root, response| {
            let status = response.status().unwrap();
            let message = String::from_utf8_lossy(&status.message);
            let code = Status::try_from(status.code);
            root.record.push(format!("failed {} with {code:?} {message}", response.is_failure()));
        })
    });
    assert_eq!(call, Ok(HttpCallId::from_id(1)), "the id the host handed out");
    assert!(host.take_calls().contains(&"1: http_call(authz, 0 headers, 5000ms) -> 1".to_string()));
    instance.on_http_call_response(ROOT, call.unwrap().id(), 0, 0, 0);
    assert_eq!(record.events.borrow().last().unwrap(), "failed true with Ok(BrokenConnection) reset");
}

#[test]
fn handlers_of_a_deleted_context_are_dropped_and_late_responses_ignored() {
    let host = Rc::new(FakeHost::new(&[ROOT, STREAM]));
    let record = Rc::new(Record::default());
    let mut instance = plugin(&host, &record);
    start_stream(&host, &mut instance, "self-authz");
    instance.on_delete(STREAM);
    assert_eq!(instance.pending_callouts(STREAM), 0);
    host.take_calls();
    instance.on_http_call_response(STREAM, 1, 1, 0, 0);
    assert!(host.take_calls().is_empty());
    assert!(!record.events.borrow().iter().any(|e| e.starts_with("own response")));
}

struct Streamer {
    events: Rc<RefCell<Vec<String>>>,
}

impl RootContext for Streamer {}

#[test]
fn grpc_stream_events_reach_their_handler_until_close() {
    let host = Rc::new(FakeHost::new(&[ROOT]));
    host.buffers.borrow_mut().insert(5, b"pong".to_vec());
    host.pairs.borrow_mut().insert(4, sluice::map::serialize([("x-md", "1")]).unwrap());
    let events = Rc::new(RefCell::new(Vec::new()));
    let mut instance = Instance::new(host.clone());
    let shared = events.clone();
    instance.enter(move || sluice::set_root_context(move |_| Box::new(Streamer { events: shared.clone() })));
    host.calling(ROOT);
    instance.on_context_create(ROOT, 0);

    let stream = instance
        .enter(|| {
            GrpcCall::new("grpc", "echo.Echo", "Chat").open_stream(|this: &mut Streamer, event| {
                let text = match event {
                    GrpcEvent::InitialMetadata { count } => format!("md {count} {:?}", event.metadata().unwrap()),
                    GrpcEvent::Message(message) => {
                        format!("msg {}", String::from_utf8(message.bytes().unwrap()).unwrap())
                    }
                    GrpcEvent::TrailingMetadata { count } => format!("trailing {count}"),
                    GrpcEvent::Close(close) => format!("close {:?}", close.status()),
                };
                this.events.borrow_mut().push(text);
            })
        })
        .unwrap();
    assert_eq!(stream.id(), 1);
    instance.on_grpc_receive_initial_metadata(ROOT, 1, 1);
    instance.on_grpc_receive(ROOT, 1, 4);
    instance.on_grpc_receive_trailing_metadata(ROOT, 1, 0);
    instance.on_grpc_close(ROOT, 1, 14);
    instance.on_grpc_receive(ROOT, 1, 4); // after close: no handler any more
    assert_eq!(
        *events.borrow(),
        ["md 1 [([120, 45, 109, 100], [49])]", "msg pong", "trailing 0", "close Ok(Unavailable)"]
    );

    // A unary call gets exactly one reply.
    let replies = Rc::new(RefCell::new(Vec::new()));
    let seen = replies.clone();
    instance
        .enter(|| {
            GrpcCall::new("grpc", "echo.Echo", "Ping").dispatch(b"ping", move |_: &mut Streamer, reply| {
                seen.borrow_mut().push(matches!(reply, GrpcReply::Message(m) if m.size() == 4));
            })
        })
        .unwrap();
    instance.on_grpc_receive_initial_metadata(ROOT, 2, 0);
    instance.on_grpc_receive(ROOT, 2, 4);
    instance.on_grpc_close(ROOT, 2, 0);
    assert_eq!(*replies.borrow(), [true]);
}

struct Tcp {
    closes: Rc<RefCell<Vec<PeerType>>>,
}

impl TcpContext for Tcp {
    fn on_downstream_close(&mut self, peer: PeerType) {
        self.closes.borrow_mut().push(peer);
    }
    fn on_downstream_data(&mut self, _data_size: usize, end_of_stream: bool) -> Action {
        if end_of_stream { Action::Continue } else { Action::Pause }
    }
}

struct TcpRoot {
    closes: Rc<RefCell<Vec<PeerType>>>,
}

impl RootContext for TcpRoot {
    fn new_tcp_context(&mut self, _context_id: u32) -> Option<Box<dyn TcpContext>> {
        Some(Box::new(Tcp { closes: self.closes.clone() }))
    }
}

#[test]
fn tcp_contexts_get_their_callbacks_and_unknown_peer_types_are_unknown() {
    let host = Rc::new(FakeHost::new(&[ROOT, STREAM]));
    let closes = Rc::new(RefCell::new(Vec::new()));
    let mut instance = Instance::new(host.clone());
    let shared = closes.clone();
    instance.enter(move || sluice::set_root_context(move |_| Box::new(TcpRoot { closes: shared.clone() })));
    instance.on_context_create(ROOT, 0);
    instance.on_context_create(STREAM, ROOT);
    assert_eq!(instance.on_new_connection(STREAM), 0);
    assert_eq!(instance.on_downstream_data(STREAM, 10, false), 1);
    assert_eq!(instance.on_downstream_data(STREAM, 10, true), 0);
    assert_eq!(instance.on_request_headers(STREAM, 1, true), 0, "not an HTTP context");
    instance.on_downstream_connection_close(STREAM, 2);
    instance.on_downstream_connection_close(STREAM, 77);
    assert_eq!(*closes.borrow(), [PeerType::Remote, PeerType::Unknown]);
}

#[test]
fn instances_keep_separate_contexts_and_hosts() {
    let (host_a, host_b) = (Rc::new(FakeHost::new(&[ROOT])), Rc::new(FakeHost::new(&[ROOT])));
    let (record_a, record_b) = (Rc::new(Record::default()), Rc::new(Record::default()));
    let mut a = plugin(&host_a, &record_a);
    let mut b = plugin(&host_b, &record_b);
    a.on_context_create(STREAM, ROOT);
    assert_eq!((a.context_count(), b.context_count()), (2, 1));
    // Nested entry: b's hostcalls go to b's host, then a is current again.
    a.enter(|| {
        b.enter(|| sluice::logging::log(sluice::LogLevel::Info, "from b").unwrap());
        sluice::logging::log(sluice::LogLevel::Info, "from a").unwrap();
    });
    assert_eq!(host_a.take_calls(), ["1: log(2, from a)"]);
    assert_eq!(host_b.take_calls(), ["1: log(2, from b)"]);

    // Other threads have their own state: nothing registered there.
    std::thread::spawn(|| {
        let mut other = Instance::new(Rc::new(FakeHost::new(&[ROOT])));
        other.on_context_create(ROOT, 0);
        assert_eq!(other.context_count(), 0, "no factory registered on this instance");
    })
    .join()
    .unwrap();
}
