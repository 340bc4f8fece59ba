//! The null VM itself: plugins compiled into this test binary, run natively
//! through the SDK's host table. (The examples' and the end-to-end guests'
//! tests run every scenario in both modes; these cover what only the native
//! route has: several plugins and VMs in one process, parallel hosts, panics,
//! traps raised inside host calls, and threads.)

use host_sim::{Error, Host, HostOptions, LogLevel, PluginSpec, Request, Response};
use sluice::{Action, HttpContext, RootContext, headers, logging, metrics};

/// A plugin module `$module`: its root gives every stream a context whose
/// `on_request_headers` is `$on_request_headers`; `sluice_main` registers it.
macro_rules! headers_plugin {
    ($(#[$doc:meta])* $module:ident, $on_request_headers:block) => {
        $(#[$doc])*
        mod $module {
            use super::*;

            struct Root;
            impl RootContext for Root {
                fn new_http_context(&mut self, _: u32) -> Option<Box<dyn HttpContext>> {
                    Some(Box::new(Stream))
                }
            }

            struct Stream;
            impl HttpContext for Stream {
                fn on_request_headers(&mut self, _: usize, _: bool) -> Action $on_request_headers
            }

            pub fn sluice_main() {
                sluice::set_root_context(|_| Box::new(Root));
            }
        }
    };
}

/// Tags requests with `x-plugin: <name>` and counts them in `<name>_requests`.
macro_rules! tagging_plugin {
    ($module:ident, $name:literal) => {
        headers_plugin!($module, {
            let _ = headers::REQUEST.add("x-plugin", $name);
            if let Ok(counter) = metrics::Metric::counter(concat!($name, "_requests")) {
                let _ = counter.increment(1);
            }
            let _ = logging::log(sluice::LogLevel::Info, concat!($name, " saw a request"));
            Action::Continue
        });
    };
}

tagging_plugin!(alpha, "alpha");
tagging_plugin!(beta, "beta");

headers_plugin!(
    /// Panics on `/boom`, after logging; tags other requests.
    panicking,
    {
        let path = headers::REQUEST.get_str(":path").ok().flatten().unwrap_or_default();
        if path == "/boom" {
            let _ = logging::log(sluice::LogLevel::Info, "about to panic");
            let empty: Vec<u8> = Vec::new();
            let _ = empty[path.len()]; // index out of bounds
        }
        Action::Continue
    }
);

headers_plugin!(
    /// Writes a response header while the request headers are processed: the
    /// wrong phase. Logs before and after the call.
    wrong_phase,
    {
        let _ = logging::log(sluice::LogLevel::Info, "before");
        let result = headers::RESPONSE.add("x-early", "1");
        let _ = logging::log(sluice::LogLevel::Info, format!("after: {result:?}"));
        Action::Continue
    }
);

/// An entry point that forgets to register a root context.
fn registers_nothing() {}

fn request() -> Request {
    Request::get("/")
}

fn tag(host: &mut Host, plugin: host_sim::PluginId) -> String {
    let outcome = host.run_http(plugin, request(), Response::ok()).expect("the stream runs");
    let headers = outcome.upstream_request.headers.expect("the request went upstream");
    headers.get_str("x-plugin").expect("tagged").to_owned()
}

#[test]
fn a_native_plugin_is_driven_like_a_wasm_one() {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::native(alpha::sluice_main)).unwrap();
    assert_eq!(tag(&mut host, plugin), "alpha");
    assert_eq!(host.counter("alpha_requests"), Some(1));
    assert!(host.logs_at(LogLevel::Info).iter().any(|l| l == "alpha saw a request"));
    // The trace records the host calls as it does for wasm guests.
    let calls: Vec<&str> = host.trace().iter().map(|c| c.function).collect();
    for function in ["proxy_increment_metric", "proxy_add_header_map_value", "proxy_define_metric", "proxy_log"] {
        assert!(calls.contains(&function), "{function} missing from {calls:?}");
    }
}

#[test]
fn several_native_plugins_and_vms_share_a_process() {
    let mut host = Host::new();
    let a = host.load(PluginSpec::native(alpha::sluice_main).vm_id("one")).unwrap();
    let b = host.load(PluginSpec::native(beta::sluice_main).vm_id("one")).unwrap();
    let a2 = host.load(PluginSpec::native(alpha::sluice_main).vm_id("one").root_id("second")).unwrap();
    let a3 = host.load(PluginSpec::native(alpha::sluice_main).vm_id("two")).unwrap();
    // Same vm_id and same plugin: one VM; another plugin or vm_id: its own.
    assert_eq!(a.vm_index(), a2.vm_index());
    assert_ne!(a.vm_index(), b.vm_index());
    assert_ne!(a.vm_index(), a3.vm_index());
    for (plugin, expected) in [(a, "alpha"), (b, "beta"), (a2, "alpha"), (a3, "alpha"), (b, "beta")] {
        assert_eq!(tag(&mut host, plugin), expected);
    }
    assert_eq!(host.counter("alpha_requests"), Some(3));
    assert_eq!(host.counter("beta_requests"), Some(2));
}

#[test]
fn hosts_on_parallel_threads_keep_their_own_state() {
    let threads: Vec<_> = (1..=6)
        .map(|requests| {
            std::thread::spawn(move || {
                let mut host = Host::new();
                let plugin = host.load(PluginSpec::native(beta::sluice_main)).unwrap();
                for _ in 0..requests * 10 {
                    assert_eq!(tag(&mut host, plugin), "beta");
                }
                (requests * 10, host.counter("beta_requests"))
            })
        })
        .collect();
    for thread in threads {
        let (sent, counted) = thread.join().expect("no thread panicked");
        assert_eq!(counted, Some(sent));
    }
}

#[test]
fn a_panic_fails_the_vm_like_a_trap_and_the_process_lives_on() {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::native(panicking::sluice_main)).unwrap();
    let other = host.load(PluginSpec::native(alpha::sluice_main)).unwrap();
    host.run_http(plugin, request(), Response::ok()).expect("a request that does not panic");

    let result = host.run_http(plugin, Request::get("/boom"), Response::ok());
    let Err(Error::Trap { callback, message }) = result else { panic!("expected a trap, got {result:?}") };
    assert_eq!(callback, "proxy_on_request_headers");
    assert!(message.contains("index out of bounds"), "{message}");
    assert!(message.contains("native.rs:"), "the message names the location: {message}");
    let failure = host.failure(plugin).expect("the VM is marked failed");
    assert!(failure.starts_with("proxy_on_request_headers: "), "{failure}");
    // Reported at critical level through the host, as the SDK does on wasm.
    let critical = host.logs_at(LogLevel::Critical);
    assert!(
        critical.iter().any(|l| l.starts_with("panicked at ") && l.contains("index out of bounds")),
        "{critical:?}"
    );
    assert!(host.logs_at(LogLevel::Info).iter().any(|l| l == "about to panic"));
    // The failed VM refuses further streams; other VMs keep working.
    assert!(matches!(host.run_http(plugin, request(), Response::ok()), Err(Error::VmFailed { .. })));
    assert_eq!(tag(&mut host, other), "alpha");
}

#[test]
fn a_host_call_that_traps_stops_the_plugin_where_it_stands() {
    // Without strict mode the wrong-phase call is a status the plugin sees.
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::native(wrong_phase::sluice_main)).unwrap();
    host.run_http(plugin, request(), Response::ok()).unwrap();
    let info = host.logs_at(LogLevel::Info);
    assert!(info.iter().any(|l| l.starts_with("after: Err(")), "{info:?}");

    // In strict mode it is a trap: the plugin does not run past the call.
    let mut host = Host::new();
    host.set_strict(true);
    let plugin = host.load(PluginSpec::native(wrong_phase::sluice_main)).unwrap();
    let result = host.run_http(plugin, request(), Response::ok());
    let Err(Error::Trap { callback, message }) = result else { panic!("expected a trap, got {result:?}") };
    assert_eq!(callback, "proxy_on_request_headers");
    assert!(message.contains("proxy_add_header_map_value"), "{message}");
    let info = host.logs_at(LogLevel::Info);
    assert_eq!(info, ["before"], "nothing after the trapping call ran");
    assert!(host.failure(plugin).is_some());
}

#[test]
fn an_entry_point_that_registers_no_root_context_fails_to_load() {
    let mut host = Host::new();
    let error = host.load(PluginSpec::native(registers_nothing)).unwrap_err();
    assert!(error.to_string().contains("registered no root context"), "{error}");
}

#[test]
fn a_host_moved_to_another_thread_reports_instead_of_touching_the_plugin() {
    let mut host = Host::new();
    let plugin = host.load(PluginSpec::native(alpha::sluice_main)).unwrap();
    let result = std::thread::spawn(move || host.run_http(plugin, request(), Response::ok()).map(|_| ()))
        .join()
        .expect("the other thread does not panic");
    let Err(Error::Trap { message, .. }) = result else { panic!("expected an error, got {result:?}") };
    assert!(message.contains("only on the thread that loaded it"), "{message}");
}

/// Adds a request header of the configured size (in KiB).
mod big_header {
    use super::*;

    struct Root {
        kib: usize,
    }
    impl RootContext for Root {
        fn on_configure(&mut self, configuration: sluice::config::Configuration) -> bool {
            let text = configuration.bytes().unwrap_or_default();
            self.kib = String::from_utf8_lossy(&text).parse().unwrap_or(0);
            true
        }
        fn new_http_context(&mut self, _: u32) -> Option<Box<dyn HttpContext>> {
            Some(Box::new(Stream { kib: self.kib }))
        }
    }

    struct Stream {
        kib: usize,
    }
    impl HttpContext for Stream {
        fn on_request_headers(&mut self, _: usize, _: bool) -> Action {
            let _ = headers::REQUEST.add("x-big", vec![b'a'; self.kib * 1024]);
            Action::Continue
        }
    }

    pub fn sluice_main() {
        sluice::set_root_context(|_| Box::new(Root { kib: 0 }));
    }
}

#[test]
fn the_memory_cap_bounds_what_a_native_plugin_passes_to_the_host() {
    let options = HostOptions { memory_limit: 1 << 20, ..HostOptions::default() };
    let mut host = Host::with_options(options.clone());
    let small = host.load(PluginSpec::native(big_header::sluice_main).configuration("512").vm_id("small")).unwrap();
    let outcome = host.run_http(small, request(), Response::ok()).unwrap();
    assert_eq!(outcome.upstream_request.headers.unwrap().get(b"x-big").map(<[u8]>::len), Some(512 * 1024));

    let mut host = Host::with_options(options);
    let big = host.load(PluginSpec::native(big_header::sluice_main).configuration("2048")).unwrap();
    let result = host.run_http(big, request(), Response::ok());
    let Err(Error::Trap { callback, message }) = result else { panic!("expected a trap, got {result:?}") };
    assert_eq!(callback, "proxy_on_request_headers");
    assert!(message.contains("memory cap of 1048576 bytes"), "{message}");
}
