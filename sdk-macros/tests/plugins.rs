//! Plugins written with the derives (`tests/guests/derive-*`): they build to
//! wasm, and natively, through the SDK's host table, they behave as written:
//! configuration parsed, headers added, state shared between streams, and a
//! bad configuration rejected with a log line naming the field.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use guest_build::{Guest, Target};

// The guests' sources, compiled natively into this test binary (the way an
// in-process "null VM" host links a plugin). The guest crates themselves are
// cdylib-only so that their wasm builds get full LTO.
#[allow(unused_attributes)]
#[path = "../../tests/guests/derive-add-header/src/lib.rs"]
mod derive_add_header;
#[allow(unused_attributes)]
#[path = "../../tests/guests/derive-config/src/lib.rs"]
mod derive_config;
use sluice::native::{Host, HostResult, Instance};
use sluice::{BufferType, LogLevel, MapType};

const NOT_FOUND: u32 = 1;

/// A header map: its pairs in order, names may repeat.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A host with plugin/VM configuration buffers, header maps, a log, and the
/// local responses sent.
#[derive(Default)]
struct TestHost {
    buffers: RefCell<BTreeMap<u32, Vec<u8>>>,
    headers: RefCell<BTreeMap<u32, Pairs>>,
    log: RefCell<Vec<(u32, String)>>,
    local_responses: RefCell<Vec<u32>>,
}

impl TestHost {
    fn with_config(config: &str) -> Rc<TestHost> {
        let host = TestHost::default();
        host.buffers.borrow_mut().insert(u32::from(BufferType::PluginConfiguration), config.as_bytes().to_vec());
        Rc::new(host)
    }

    fn set_headers(&self, map: MapType, pairs: &[(&str, &str)]) {
        let pairs = pairs.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
        self.headers.borrow_mut().insert(u32::from(map), pairs);
    }

    fn header(&self, map: MapType, name: &str) -> Vec<String> {
        let headers = self.headers.borrow();
        let pairs = headers.get(&u32::from(map)).map(Vec::as_slice).unwrap_or_default();
        pairs
            .iter()
            .filter(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    fn errors(&self) -> Vec<String> {
        let error = u32::from(LogLevel::Error);
        self.log.borrow().iter().filter(|(level, _)| *level == error).map(|(_, m)| m.clone()).collect()
    }
}

impl Host for TestHost {
    fn log(&self, level: u32, message: &[u8]) -> HostResult<()> {
        self.log.borrow_mut().push((level, String::from_utf8_lossy(message).into_owned()));
        Ok(())
    }

    fn get_log_level(&self) -> HostResult<u32> {
        Ok(0)
    }

    fn get_buffer_bytes(&self, buffer_type: u32, start: usize, max_size: usize) -> HostResult<Vec<u8>> {
        let buffers = self.buffers.borrow();
        let buffer = buffers.get(&buffer_type).ok_or(NOT_FOUND)?;
        let start = start.min(buffer.len());
        Ok(buffer[start..].iter().take(max_size).copied().collect())
    }

    fn get_header_map_value(&self, map_type: u32, key: &[u8]) -> HostResult<Vec<u8>> {
        let headers = self.headers.borrow();
        let pairs = headers.get(&map_type).ok_or(NOT_FOUND)?;
        pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).ok_or(NOT_FOUND)
    }

    fn add_header_map_value(&self, map_type: u32, key: &[u8], value: &[u8]) -> HostResult<()> {
        self.headers.borrow_mut().entry(map_type).or_default().push((key.to_vec(), value.to_vec()));
        Ok(())
    }

    fn send_local_response(&self, status: u32, _: &[u8], _: &[u8], _: &[u8], _: i32) -> HostResult<()> {
        self.local_responses.borrow_mut().push(status);
        Ok(())
    }
}

/// Starts a plugin instance: registers it, creates root context 1, starts
/// the VM and configures it with the host's plugin configuration.
fn start(host: &Rc<TestHost>, main: fn()) -> (Instance, bool) {
    let mut plugin = Instance::new(host.clone());
    plugin.enter(main);
    plugin.on_context_create(1, 0);
    assert!(plugin.on_vm_start(1, 0), "on_vm_start");
    let size = host.buffers.borrow()[&u32::from(BufferType::PluginConfiguration)].len();
    let configured = plugin.on_configure(1, size);
    (plugin, configured)
}

#[test]
fn smallest_plugin_adds_its_headers() {
    let host = TestHost::with_config("");
    let (mut plugin, configured) = start(&host, derive_add_header::sluice_main);
    assert!(configured);
    host.set_headers(MapType::HttpRequestHeaders, &[("user-agent", "curl/8")]);
    plugin.on_context_create(2, 1);
    assert_eq!(plugin.on_request_headers(2, 1, true), 0);
    assert_eq!(plugin.on_response_headers(2, 0, true), 0);
    assert_eq!(host.header(MapType::HttpRequestHeaders, "x-agent"), ["curl/8"]);
    assert_eq!(host.header(MapType::HttpResponseHeaders, "x-powered-by"), ["sluice"]);
    assert!(host.errors().is_empty(), "{:?}", host.errors());
}

const CONFIG: &str =
    r#"{"direction": "outbound", "header": "x-env", "skipPaths": ["/health"], "maxRequests": 2, "unused": [1, {}]}"#;

#[test]
fn typed_config_is_parsed_and_shared_with_streams() {
    let host = TestHost::with_config(CONFIG);
    let (mut plugin, configured) = start(&host, derive_config::sluice_main);
    assert!(configured, "{:?}", host.errors());

    // Outbound: the response is tagged, with the default value; not the request.
    host.set_headers(MapType::HttpRequestHeaders, &[(":path", "/api")]);
    plugin.on_context_create(2, 1);
    assert_eq!(plugin.on_request_headers(2, 1, true), 0);
    assert_eq!(plugin.on_response_headers(2, 0, true), 0);
    assert_eq!(host.header(MapType::HttpResponseHeaders, "x-env"), ["sluice"]);
    assert!(host.header(MapType::HttpRequestHeaders, "x-env").is_empty());

    // A skipped path is not tagged.
    host.set_headers(MapType::HttpRequestHeaders, &[(":path", "/health/live")]);
    host.set_headers(MapType::HttpResponseHeaders, &[]);
    plugin.on_context_create(3, 1);
    plugin.on_request_headers(3, 1, true);
    plugin.on_response_headers(3, 0, true);
    assert!(host.header(MapType::HttpResponseHeaders, "x-env").is_empty());

    // The request budget (2) is shared by all streams of the root: the third
    // stream gets a 429 and is paused.
    plugin.on_context_create(4, 1);
    assert_eq!(plugin.on_request_headers(4, 1, true), 1, "paused");
    assert_eq!(*host.local_responses.borrow(), [429]);
    assert!(host.errors().is_empty(), "{:?}", host.errors());
}

#[test]
fn inbound_direction_and_explicit_value() {
    let host = TestHost::with_config(r#"{"direction": "inbound", "header": "x-env", "value": "prod"}"#);
    let (mut plugin, configured) = start(&host, derive_config::sluice_main);
    assert!(configured, "{:?}", host.errors());
    host.set_headers(MapType::HttpRequestHeaders, &[(":path", "/")]);
    plugin.on_context_create(2, 1);
    plugin.on_request_headers(2, 1, true);
    assert_eq!(host.header(MapType::HttpRequestHeaders, "x-env"), ["prod"]);
}

/// Configures the typed-config plugin with `config` and returns the errors it
/// logged, asserting that `on_configure` returned false.
fn rejected(config: &str) -> Vec<String> {
    let host = TestHost::with_config(config);
    let (mut plugin, configured) = start(&host, derive_config::sluice_main);
    assert!(!configured, "{config} was accepted");
    // The host does not open streams for a plugin it could not configure; if
    // one is opened anyway, it is left unfiltered.
    plugin.on_context_create(2, 1);
    assert_eq!(plugin.on_request_headers(2, 0, true), 0);
    host.errors()
}

#[test]
fn bad_configuration_is_rejected_with_the_field_named() {
    assert_eq!(
        rejected(r#"{"direction": "sideways", "header": "x-env"}"#),
        [r#"plugin configuration: field "direction": expected one of "inbound", "outbound", found "sideways""#]
    );
    assert_eq!(
        rejected(r#"{"direction": "inbound"}"#),
        [r#"plugin configuration: field "header": required, but missing"#]
    );
    assert_eq!(
        rejected(r#"{"direction": "inbound", "header": "h", "skipPaths": ["/a", 7]}"#),
        [r#"plugin configuration: field "skipPaths[1]": expected a string, found 7"#]
    );
    assert_eq!(
        rejected(r#"{"direction": "inbound", "header": "h", "maxRequests": -1}"#),
        [r#"plugin configuration: field "maxRequests": expected an integer from 0 to 18446744073709551615, found -1"#]
    );
    assert_eq!(
        rejected("{\"direction\": \"inbound\",\n \"header\": \"h\",}"),
        ["plugin configuration: invalid JSON at line 2, column 16: expected a string key"]
    );
    assert_eq!(rejected("[]"), ["plugin configuration: expected an object, found an array"]);
    assert_eq!(rejected(""), [r#"plugin configuration: field "direction": required, but missing"#]);
    // Parsed, but refused by the plugin's own on_configure: nothing logged by the SDK.
    assert!(rejected(r#"{"direction": "inbound", "header": ""}"#).is_empty());
}

/// Size of a built module in bytes.
fn wasm_size(guest: Guest) -> u64 {
    let path = guest.build().unwrap_or_else(|e| panic!("{e}"));
    std::fs::metadata(path).expect("built module").len()
}

#[test]
fn derive_built_plugins_compile_to_wasm_and_cost_little() {
    let derived = wasm_size(Guest::package("derive-add-header").target(Target::Unknown));
    let manual = wasm_size(Guest::package("sluice-guest-header-nostd").target(Target::Unknown));
    let typed = wasm_size(Guest::package("derive-config").target(Target::Unknown));
    assert!(wasm_size(Guest::package("derive-config").target(Target::Wasip1)) > 0);
    println!(
        "wasm32-unknown-unknown, release: derive-add-header {derived} B, hand-written header-nostd {manual} B, derive-config {typed} B"
    );
    // The derive adds an adaptor whose unused parts (configuration parsing,
    // TCP factory) are compiled out; allow a small constant overhead.
    assert!(derived <= manual + 2048, "derive-add-header is {derived} B, the hand-written one {manual} B");
    assert!(typed < 160 * 1024, "derive-config is {typed} B");
}
