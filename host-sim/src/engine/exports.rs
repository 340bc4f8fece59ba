//! The guest's exports, looked up and type-checked once per instance. Each
//! callback is kept behind an [`Arc`]: the VM takes a copy of the one it
//! calls, and cloning a wasmtime `TypedFunc` itself costs a dozen atomic
//! operations on the engine's type registry.

use std::sync::Arc;

use wasmtime::{Instance, Memory, Store, TypedFunc, WasmParams, WasmResults};

use crate::error::Error;
use crate::store::VmState;
use crate::types::AbiVersion;

/// A headers callback: two parameters in ABI 0.1.0, three (with
/// `end_of_stream`) from 0.2.0.
#[derive(Clone)]
pub(crate) enum HeadersFn {
    V1(GuestFn<(u32, u32), u32>),
    V2(GuestFn<(u32, u32, u32), u32>),
}

/// A guest callback, cheap to clone.
pub(crate) type GuestFn<P, R> = Arc<TypedFunc<P, R>>;

/// `proxy_on_http_call_response(ctx, token, headers, body, trailers)`.
pub(crate) type HttpCallResponseFn = GuestFn<(u32, u32, u32, u32, u32), ()>;

/// Every export host-sim may call. Callbacks are optional; a missing one is
/// simply not called (the spec's rule).
#[derive(Clone)]
pub(crate) struct Exports {
    pub memory: Option<Memory>,
    pub allocator: Option<TypedFunc<u32, u32>>,
    pub initialize: Option<GuestFn<(), ()>>,
    pub main: Option<GuestFn<(u32, u32), u32>>,
    pub main_void: Option<GuestFn<(), u32>>,
    pub start: Option<GuestFn<(), ()>>,
    pub context_create: Option<GuestFn<(u32, u32), ()>>,
    pub done: Option<GuestFn<u32, u32>>,
    pub log: Option<GuestFn<u32, ()>>,
    pub delete: Option<GuestFn<u32, ()>>,
    pub vm_start: Option<GuestFn<(u32, u32), u32>>,
    pub configure: Option<GuestFn<(u32, u32), u32>>,
    pub tick: Option<GuestFn<u32, ()>>,
    pub queue_ready: Option<GuestFn<(u32, u32), ()>>,
    pub foreign_function: Option<GuestFn<(u32, u32, u32), ()>>,
    pub new_connection: Option<GuestFn<u32, u32>>,
    pub downstream_data: Option<GuestFn<(u32, u32, u32), u32>>,
    pub downstream_close: Option<GuestFn<(u32, u32), ()>>,
    pub upstream_data: Option<GuestFn<(u32, u32, u32), u32>>,
    pub upstream_close: Option<GuestFn<(u32, u32), ()>>,
    pub request_headers: Option<HeadersFn>,
    pub request_body: Option<GuestFn<(u32, u32, u32), u32>>,
    pub request_trailers: Option<GuestFn<(u32, u32), u32>>,
    pub response_headers: Option<HeadersFn>,
    pub response_body: Option<GuestFn<(u32, u32, u32), u32>>,
    pub response_trailers: Option<GuestFn<(u32, u32), u32>>,
    pub http_call_response: Option<HttpCallResponseFn>,
    pub grpc_initial_metadata: Option<GuestFn<(u32, u32, u32), ()>>,
    pub grpc_receive: Option<GuestFn<(u32, u32, u32), ()>>,
    pub grpc_trailing_metadata: Option<GuestFn<(u32, u32, u32), ()>>,
    pub grpc_close: Option<GuestFn<(u32, u32, u32), ()>>,
}

struct Lookup<'a> {
    instance: Instance,
    store: &'a mut Store<VmState>,
}

impl Lookup<'_> {
    fn func<P: WasmParams, R: WasmResults>(&mut self, name: &str) -> Result<Option<TypedFunc<P, R>>, Error> {
        let Some(func) = self.instance.get_func(&mut *self.store, name) else { return Ok(None) };
        func.typed::<P, R>(&*self.store).map(Some).map_err(|e| Error::BadExport {
            name: name.to_owned(),
            expected: format!("the ABI's signature ({e:#})"),
            found: func.ty(&*self.store).to_string(),
        })
    }

    fn callback<P: WasmParams, R: WasmResults>(&mut self, name: &str) -> Result<Option<GuestFn<P, R>>, Error> {
        Ok(self.func(name)?.map(Arc::new))
    }

    fn headers(&mut self, name: &str, abi: AbiVersion) -> Result<Option<HeadersFn>, Error> {
        Ok(match abi {
            AbiVersion::V0_1_0 => self.callback(name)?.map(HeadersFn::V1),
            _ => self.callback(name)?.map(HeadersFn::V2),
        })
    }
}

impl Exports {
    /// Looks up every export the host uses, checking its type.
    pub fn lookup(
        instance: Instance,
        store: &mut Store<VmState>,
        abi: AbiVersion,
        allocator: &str,
    ) -> Result<Exports, Error> {
        let memory = instance.get_memory(&mut *store, "memory");
        let mut l = Lookup { instance, store };
        Ok(Exports {
            memory,
            allocator: l.func(allocator)?,
            initialize: l.callback("_initialize")?,
            main: l.callback("main")?,
            main_void: l.callback("__main_void")?,
            start: l.callback("_start")?,
            context_create: l.callback("proxy_on_context_create")?,
            done: l.callback("proxy_on_done")?,
            log: l.callback("proxy_on_log")?,
            delete: l.callback("proxy_on_delete")?,
            vm_start: l.callback("proxy_on_vm_start")?,
            configure: l.callback("proxy_on_configure")?,
            tick: l.callback("proxy_on_tick")?,
            queue_ready: l.callback("proxy_on_queue_ready")?,
            foreign_function: if abi == AbiVersion::V0_1_0 { None } else { l.callback("proxy_on_foreign_function")? },
            new_connection: l.callback("proxy_on_new_connection")?,
            downstream_data: l.callback("proxy_on_downstream_data")?,
            downstream_close: l.callback("proxy_on_downstream_connection_close")?,
            upstream_data: l.callback("proxy_on_upstream_data")?,
            upstream_close: l.callback("proxy_on_upstream_connection_close")?,
            request_headers: l.headers("proxy_on_request_headers", abi)?,
            request_body: l.callback("proxy_on_request_body")?,
            request_trailers: l.callback("proxy_on_request_trailers")?,
            response_headers: l.headers("proxy_on_response_headers", abi)?,
            response_body: l.callback("proxy_on_response_body")?,
            response_trailers: l.callback("proxy_on_response_trailers")?,
            http_call_response: l.callback("proxy_on_http_call_response")?,
            grpc_initial_metadata: l.callback("proxy_on_grpc_receive_initial_metadata")?,
            grpc_receive: l.callback("proxy_on_grpc_receive")?,
            grpc_trailing_metadata: l.callback("proxy_on_grpc_receive_trailing_metadata")?,
            grpc_close: l.callback("proxy_on_grpc_close")?,
        })
    }
}

impl std::fmt::Debug for Exports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exports").field("memory", &self.memory.is_some()).finish_non_exhaustive()
    }
}
