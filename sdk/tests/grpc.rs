//! gRPC handlers leave the callout table when the host will deliver nothing
//! more: after a stream or a unary call is cancelled (Envoy resets it without
//! a callback), and after a stream's `on_grpc_close`; a locally closed stream
//! keeps its handler for the upstream's close.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use sluice::grpc::{GrpcCall, GrpcCallId, GrpcEvent, GrpcStream};
use sluice::native::Instance;
use sluice::{Error, RootContext, Status};
use support::FakeHost;

const ROOT: u32 = 1;
const UNIMPLEMENTED: u32 = 12;

/// A root that opens streams and calls, and records what its handlers see.
struct Caller {
    events: Rc<RefCell<Vec<String>>>,
}

impl RootContext for Caller {}

/// What the test drives: the instance and the handlers' record.
struct Fixture {
    host: Rc<FakeHost>,
    instance: Instance,
    events: Rc<RefCell<Vec<String>>>,
}

impl Fixture {
    fn new() -> Fixture {
        let host = Rc::new(FakeHost::new(&[ROOT]));
        host.buffers.borrow_mut().insert(5, b"pong".to_vec());
        let events = Rc::new(RefCell::new(Vec::new()));
        let mut instance = Instance::new(host.clone());
        let shared = events.clone();
        instance.enter(move || sluice::set_root_context(move |_| Box::new(Caller { events: shared.clone() })));
        host.calling(ROOT);
        instance.on_context_create(ROOT, 0);
        Fixture { host, instance, events }
    }

    /// Opens a stream whose handler records each event and, with
    /// `cancel_on_message`, cancels the stream from inside the handler when
    /// a message arrives.
    fn open_stream(&mut self, cancel_on_message: bool) -> GrpcStream {
        let own_id = Rc::new(Cell::new(0));
        let id = own_id.clone();
        let stream = self
            .instance
            .enter(|| {
                GrpcCall::new("grpc", "echo.Echo", "Chat").open_stream(move |this: &mut Caller, event| {
                    let text = match event {
                        GrpcEvent::InitialMetadata { count } => format!("metadata {count}"),
                        GrpcEvent::Message(message) => format!("message {}", message.size()),
                        GrpcEvent::TrailingMetadata { count } => format!("trailers {count}"),
                        GrpcEvent::Close(close) => format!("close {}", close.code()),
                    };
                    this.events.borrow_mut().push(text);
                    if cancel_on_message && matches!(event, GrpcEvent::Message(_)) {
                        let cancelled = GrpcStream::from_id(id.get()).cancel();
                        this.events.borrow_mut().push(format!("cancel {cancelled:?}"));
                    }
                })
            })
            .expect("the stream opens");
        own_id.set(stream.id());
        stream
    }

    fn call(&mut self) -> GrpcCallId {
        let events = self.events.clone();
        self.instance
            .enter(|| {
                GrpcCall::new("grpc", "echo.Echo", "Ping").dispatch(b"ping", move |_: &mut Caller, reply| {
                    events.borrow_mut().push(format!("reply {reply:?}"));
                })
            })
            .expect("the call is sent")
    }

    fn pending(&mut self) -> usize {
        self.instance.pending_callouts(ROOT)
    }

    fn events(&self) -> Vec<String> {
        self.events.borrow().clone()
    }
}

#[test]
fn a_cancelled_stream_drops_its_handler() {
    let mut f = Fixture::new();
    let stream = f.open_stream(false);
    f.instance.on_grpc_receive(ROOT, stream.id(), 4);
    assert_eq!(f.pending(), 1);
    assert_eq!(f.instance.enter(|| stream.cancel()), Ok(()));
    assert_eq!(f.pending(), 0, "Envoy sends nothing after a cancel: the handler must not linger");
    // A late event (a host that sends one anyway) reaches no handler.
    f.instance.on_grpc_close(ROOT, stream.id(), 1);
    assert_eq!(f.events(), ["message 4"]);
    assert!(f.host.take_calls().iter().any(|c| c == "1: grpc_cancel(1)"));
}

#[test]
fn a_stream_cancelled_from_its_own_handler_is_not_put_back() {
    let mut f = Fixture::new();
    let stream = f.open_stream(true);
    f.instance.on_grpc_receive_initial_metadata(ROOT, stream.id(), 2);
    f.instance.on_grpc_receive(ROOT, stream.id(), 4);
    assert_eq!(f.pending(), 0);
    f.instance.on_grpc_receive(ROOT, stream.id(), 4);
    assert_eq!(f.events(), ["metadata 2", "message 4", "cancel Ok(())"]);
}

#[test]
fn a_closed_stream_keeps_its_handler_until_the_upstream_closes() {
    let mut f = Fixture::new();
    let stream = f.open_stream(false);
    assert_eq!(f.instance.enter(|| stream.close()), Ok(()));
    assert_eq!(f.pending(), 1, "half-closed: the upstream can still answer");
    f.instance.on_grpc_receive(ROOT, stream.id(), 4);
    f.instance.on_grpc_receive_trailing_metadata(ROOT, stream.id(), 0);
    f.instance.on_grpc_close(ROOT, stream.id(), 0);
    assert_eq!(f.pending(), 0);
    assert_eq!(f.events(), ["message 4", "trailers 0", "close 0"]);
}

#[test]
fn a_cancelled_unary_call_drops_its_handler() {
    let mut f = Fixture::new();
    let call = f.call();
    assert_eq!(call, GrpcCallId::from_id(1), "the id the host handed out");
    assert_eq!(f.pending(), 1);
    assert_eq!(f.instance.enter(|| call.cancel()), Ok(()));
    assert_eq!(f.pending(), 0, "Envoy sends nothing after a cancel: no reply comes");
    f.instance.on_grpc_receive(ROOT, call.id(), 4);
    assert!(f.events().is_empty());
    assert!(f.host.take_calls().iter().any(|c| c == "1: grpc_cancel(1)"));
}

#[test]
fn a_cancel_the_host_refuses_keeps_the_handler_and_an_unknown_call_is_forgotten() {
    let mut f = Fixture::new();
    let stream = f.open_stream(false);
    f.host.grpc_status.set(UNIMPLEMENTED);
    assert_eq!(f.instance.enter(|| stream.cancel()), Err(Error::Status(Status::Unimplemented)));
    assert_eq!(f.pending(), 1, "the stream may still be open");
    f.instance.on_grpc_receive(ROOT, stream.id(), 4);
    assert_eq!(f.events(), ["message 4"]);

    // The host does not know the id: nothing will come for it.
    f.host.grpc_status.set(support::NOT_FOUND);
    assert!(f.instance.enter(|| stream.cancel()).unwrap_err().is_not_found());
    assert_eq!(f.pending(), 0);
}
