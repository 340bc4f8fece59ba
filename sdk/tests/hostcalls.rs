//! Hostcall wrappers against the native host table: every status becomes a
//! typed error, malformed or non-UTF-8 host data is an error and never a
//! panic, what the host returns arrives in named structs, and the logger and
//! panic hook report through `proxy_log`.

mod support;

use std::rc::Rc;

use sluice::buffers::{self, BufferStatus};
use sluice::error::MapError;
use sluice::native::{Host, HostResult, set_host};
use sluice::shared_data::{self, SharedValue};
use sluice::stream::LocalResponse;
use sluice::{Error, GrpcStatus, LogLevel, Status, headers, property};
use support::FakeHost;

/// Runs `f` with `host` installed as this thread's host table.
fn with_host<R>(host: Rc<FakeHost>, f: impl FnOnce() -> R) -> R {
    let previous = set_host(Some(host));
    let result = f();
    set_host(previous);
    result
}

#[test]
fn every_status_the_host_returns_is_a_typed_error() {
    let host = Rc::new(FakeHost::default());
    for code in 1..=12u32 {
        host.forced_status.set(Some(code));
        let result = with_host(host.clone(), || headers::REQUEST.get("x"));
        let expected = if code == 1 { Ok(None) } else { Err(Error::Status(Status::try_from(code).unwrap())) };
        assert_eq!(result, expected, "status {code}");
    }
    host.forced_status.set(Some(4711));
    assert_eq!(with_host(host.clone(), || headers::REQUEST.get("x")), Err(Error::UnknownStatus(4711)));
}

#[test]
fn without_a_host_hostcalls_answer_unimplemented() {
    let previous = set_host(None);
    assert_eq!(headers::REQUEST.add("a", "b"), Err(Error::Status(Status::Unimplemented)));
    set_host(previous);
}

#[test]
fn header_values_are_bytes_and_text_is_checked() {
    let host = Rc::new(FakeHost::default());
    host.headers.borrow_mut().insert((0, b"x-bin".to_vec()), vec![0xff, 0x00, 0xfe]);
    with_host(host.clone(), || {
        assert_eq!(headers::REQUEST.get("x-bin"), Ok(Some(vec![0xff, 0x00, 0xfe])));
        assert_eq!(headers::REQUEST.get_str("x-bin"), Err(Error::InvalidUtf8));
        assert_eq!(headers::REQUEST.get_str("absent"), Ok(None));
        headers::REQUEST.add(b"x-raw".as_slice(), [0x80u8, 0x81]).unwrap();
    });
    assert_eq!(host.headers.borrow().get(&(0, b"x-raw".to_vec())), Some(&vec![0x80, 0x81]));
}

#[test]
fn malformed_maps_from_the_host_are_errors() {
    let host = Rc::new(FakeHost::default());
    let good = sluice::map::serialize([("a", "1")]).unwrap();
    let cases: [(Vec<u8>, MapError); 4] = [
        (good[..good.len() - 1].to_vec(), MapError::MissingNul),
        ([&[9, 0, 0, 0][..], &good[4..]].concat(), MapError::Truncated),
        ([&good[..4], &[0xff, 0xff, 0, 0], &good[8..]].concat(), MapError::OversizedLength),
        ([&good[..], b"x"].concat(), MapError::TrailingBytes),
    ];
    for (bytes, error) in cases {
        host.pairs.borrow_mut().insert(2, bytes);
        assert_eq!(with_host(host.clone(), || headers::RESPONSE.pairs()), Err(Error::MalformedMap(error)));
    }
    host.pairs.borrow_mut().insert(2, sluice::map::serialize([("k", [0xffu8])]).unwrap());
    with_host(host.clone(), || {
        assert_eq!(headers::RESPONSE.pairs().unwrap(), [(b"k".to_vec(), vec![0xff])]);
        assert_eq!(headers::RESPONSE.pairs_str(), Err(Error::InvalidUtf8));
    });
}

#[test]
fn properties_are_fetched_by_nul_joined_path_and_decoded() {
    let host = Rc::new(FakeHost::default());
    {
        let mut properties = host.properties.borrow_mut();
        properties.insert(b"source\0port".to_vec(), 8080i64.to_le_bytes().to_vec());
        properties.insert(b"connection\0mtls".to_vec(), vec![1]);
        properties.insert(b"request\0duration".to_vec(), 2_000_000i64.to_le_bytes().to_vec());
        properties.insert(b"request\0time".to_vec(), 1_700_000_000_000_000_000i64.to_le_bytes().to_vec());
        properties.insert(b"plugin_name".to_vec(), b"sluice".to_vec());
        properties.insert(b"bad\0int".to_vec(), vec![1, 2, 3]);
    }
    with_host(host, || {
        assert_eq!(property::get_i64(["source", "port"]), Ok(Some(8080)));
        assert_eq!(property::get_bool(["connection", "mtls"]), Ok(Some(true)));
        assert_eq!(property::get_duration_nanos(["request", "duration"]), Ok(Some(2_000_000)));
        assert_eq!(property::get_timestamp_nanos(["request", "time"]), Ok(Some(1_700_000_000_000_000_000)));
        assert_eq!(property::get_duration(["request", "duration"]), Ok(Some(std::time::Duration::from_millis(2))));
        let time = property::get_timestamp(["request", "time"]).unwrap().unwrap();
        assert_eq!(time.since_epoch(), Some(std::time::Duration::from_secs(1_700_000_000)));
        assert_eq!(property::get_timestamp(["absent"]), Ok(None));
        assert_eq!(property::get_string(["plugin_name"]), Ok(Some("sluice".to_string())));
        assert_eq!(property::get_string(["absent"]), Ok(None));
        assert_eq!(property::get_i64(["bad", "int"]), Err(Error::MalformedProperty { expected: "i64", len: 3 }));
    });
}

#[test]
fn a_buffer_status_names_the_size_and_the_end_of_stream_flag() {
    let host = Rc::new(FakeHost::default());
    host.buffers.borrow_mut().insert(0, b"hello".to_vec());
    let status = with_host(host.clone(), || buffers::REQUEST_BODY.status()).unwrap();
    assert_eq!(status, BufferStatus { size: 5, flags: 0 });
    assert!(!status.end_of_stream(), "Envoy writes 0: no flag set");
    host.buffer_flags.set(BufferStatus::END_OF_STREAM | 0x10);
    let status = with_host(host.clone(), || buffers::REQUEST_BODY.status()).unwrap();
    assert!(status.end_of_stream());
    assert_eq!(status.flags, 0x11, "unknown bits are kept for the plugin to see");
    assert!(with_host(host, || buffers::RESPONSE_BODY.status()).unwrap_err().is_not_found());
}

#[test]
fn shared_data_reads_give_the_value_with_its_cas_version() {
    let host = Rc::new(FakeHost::default());
    host.shared.borrow_mut().insert(b"hits".to_vec(), (b"3".to_vec(), 7));
    with_host(host, || {
        assert_eq!(shared_data::get("hits"), Ok(Some(SharedValue { value: b"3".to_vec(), cas: 7 })));
        assert_eq!(shared_data::get("absent"), Ok(None));
    });
}

#[test]
fn a_local_response_sends_its_http_status_and_grpc_status() {
    let host = Rc::new(FakeHost::default());
    with_host(host.clone(), || {
        LocalResponse::new(403).details("denied").body("no").send().unwrap();
        LocalResponse::new(200).grpc_status(GrpcStatus::PermissionDenied).send().unwrap();
        // A raw code goes through the enum's conversion.
        let raw = GrpcStatus::try_from(16).unwrap();
        LocalResponse::new(u16::MAX).grpc_status(raw).send().unwrap();
    });
    assert_eq!(
        host.take_calls(),
        [
            "0: send_local_response(403, denied, no, -1)",
            "0: send_local_response(200, , , 7)",
            "0: send_local_response(65535, , , 16)"
        ]
    );
}

#[test]
fn an_unknown_log_level_from_the_host_is_an_error() {
    let host = Rc::new(FakeHost::default());
    host.log_level.set(9);
    let level = with_host(host.clone(), sluice::logging::level);
    assert!(matches!(level, Err(Error::UnknownValue(v)) if v.value == 9));
    host.log_level.set(3);
    assert_eq!(with_host(host, sluice::logging::level), Ok(LogLevel::Warn));
}

/// A host that only logs, shared across threads' panics in this test.
struct Recorder(std::sync::Mutex<Vec<(u32, String)>>);

impl Host for Recorder {
    fn log(&self, level: u32, message: &[u8]) -> HostResult<()> {
        self.0.lock().unwrap().push((level, String::from_utf8_lossy(message).into_owned()));
        Ok(())
    }
    fn get_log_level(&self) -> HostResult<u32> {
        Ok(LogLevel::Info as u32)
    }
}

#[test]
fn the_logger_respects_the_host_level_and_panics_are_logged_as_critical() {
    let host = Rc::new(Recorder(std::sync::Mutex::new(Vec::new())));
    let previous = set_host(Some(host.clone()));
    sluice::logging::init().unwrap();
    sluice::logging::init().expect("initializing again (another root context) keeps the SDK's logger");
    log::debug!("hidden at info");
    log::warn!("shown {}", 42);
    sluice::runtime::install_panic_hook();
    let caught = std::panic::catch_unwind(|| panic!("boom in a callback"));
    let _ = std::panic::take_hook();
    set_host(previous);

    assert!(caught.is_err());
    let logged = host.0.lock().unwrap().clone();
    assert_eq!(logged[0], (3, "shown 42".to_string()));
    assert_eq!(logged.len(), 2, "{logged:?}");
    assert_eq!(logged[1].0, 5, "critical");
    assert!(logged[1].1.contains("boom in a callback"), "{}", logged[1].1);
    assert!(logged[1].1.contains("hostcalls.rs"), "location: {}", logged[1].1);
}

#[test]
fn level_macros_format_like_format_and_filter_by_the_installed_loggers_level() {
    let host = Rc::new(Recorder(std::sync::Mutex::new(Vec::new())));
    let previous = set_host(Some(host.clone()));
    let (id, name, value) = (7u32, "user-agent", String::from("curl/8"));
    // Without the SDK's logger every line reaches the host, which filters.
    sluice::debug!("#{} -> {}: {}", id, name, value);
    let evaluated = std::cell::Cell::new(0);
    let count = || {
        evaluated.set(evaluated.get() + 1);
        evaluated.get()
    };
    sluice::logging::init().unwrap();
    // Info level: debug lines are dropped before their arguments are evaluated.
    sluice::debug!("never {}", count());
    sluice::info!("#{id} {{literal}} {0}/{0} {n:>4}|{:?}|{}", "q", 2.5, n = -3, id = id);
    sluice::warn!("{}", count());
    sluice::critical!("plain");
    // Temporaries in arguments live through the line; `{:p}` sees the pointer
    // itself; `*` is a fill character here.
    let padded = String::from("  padded ");
    let ptr: *const u8 = padded.as_ptr();
    sluice::warn!("[{}] {:p} {:*^7}", padded.to_uppercase().trim(), ptr, "ab");
    set_host(previous);

    let logged = host.0.lock().unwrap().clone();
    let expected = [
        (1, "#7 -> user-agent: curl/8".to_string()),
        (2, format!("#{id} {{literal}} {0}/{0} {n:>4}|{:?}|{}", "q", 2.5, n = -3, id = id)),
        (3, "1".to_string()),
        (5, "plain".to_string()),
        (3, format!("[{}] {:p} {:*^7}", padded.to_uppercase().trim(), ptr, "ab")),
    ];
    assert_eq!(logged, expected);
    assert_eq!(evaluated.get(), 1, "the filtered line's arguments were not evaluated");
}
