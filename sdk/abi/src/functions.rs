//! Every `env.proxy_*` host function, written down once.
//!
//! [`for_each_host_function!`](crate::for_each_host_function) holds the
//! functions of ABI v0.2.1 and
//! [`for_each_legacy_host_function!`](crate::for_each_legacy_host_function)
//! the ones older versions had and v0.2.1 dropped. Each macro hands its whole
//! list, in the compact form [`__canonical!`](crate::__canonical) describes,
//! to a macro of the caller's, which generates what it needs from it:
//! the SDK its wasm imports, safe wrappers, native shims and
//! `sluice::native::Host` trait; host-sim its linker registrations, its
//! null-VM bridge and each call's gate. [`HOST_FUNCTIONS`] and
//! [`LEGACY_HOST_FUNCTIONS`] are the same lists as data.
//!
//! # The notation
//!
//! ```text
//! /// docs
//! fn proxy_get_header_map_value as get_header_map_value(
//!     map_type: u32 [map_type: u32],
//!     key: bytes [key_data: ptr, key_size: len],
//! ) -> (value: bytes [return_value_data: out_ptr, return_value_size: out_len])
//! { area: headers, since: V0_1_0, access: MapRead, kong: Same }
//! ```
//!
//! - `proxy_…` is the import name, `as …` the method name of the safe layers.
//! - Each input is `name: kind [raw parameters]`: the value a safe layer
//!   passes (`u32`, `i32`, `u64`, `i64`, `usize`, `bool`, or `bytes`, a
//!   slice) and the wasm parameters it becomes, each with its raw kind (see
//!   [`RawKind`]).
//! - The outputs, after `->`, are the values the host writes through the
//!   out-pointers (`u32`, `u64`, `usize`, or `bytes`, a buffer the host
//!   allocates in guest memory). Several outputs are returned as the named
//!   struct written before them (`-> BufferStatus (...)`); one output is
//!   returned as it is, none as `()`.
//! - The block ends with the rules: the [`Area`] (the host-sim module that
//!   implements it), the ABI versions (`since`, and for legacy functions
//!   `until`, the first version without it), the [`Access`] rule (when the
//!   call may be made, what strict mode checks) and [`KongSupport`].
//!
//! Every function returns a [`Status`](crate::Status) as `u32`.

use crate::enums::AbiVersion;

/// A wasm value type of a host function's parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WasmType {
    /// `i32`: 32-bit integers, sizes and pointers (wasm32).
    I32,
    /// `i64`: 64-bit integers.
    I64,
}

impl WasmType {
    /// The reference's one-letter notation: `i` for `i32`, `I` for `i64`.
    pub const fn letter(self) -> char {
        match self {
            WasmType::I32 => 'i',
            WasmType::I64 => 'I',
        }
    }
}

/// What one raw wasm parameter carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RawKind {
    /// A 32-bit value (`u32` on the wire).
    U32,
    /// A signed 32-bit value.
    I32,
    /// A 64-bit value.
    U64,
    /// A signed 64-bit value.
    I64,
    /// A size or offset (`usize`, 32 bits on wasm32).
    Size,
    /// The start of bytes the guest passes.
    Ptr,
    /// The length of bytes the guest passes.
    Len,
    /// Where the host writes the address of bytes it returns.
    OutPtr,
    /// Where the host writes the length of bytes it returns.
    OutLen,
    /// Where the host writes a returned `u32`.
    OutU32,
    /// Where the host writes a returned `u64`.
    OutU64,
    /// Where the host writes a returned size.
    OutSize,
}

impl RawKind {
    /// The wasm type of a parameter of this kind.
    pub const fn wasm(self) -> WasmType {
        match self {
            RawKind::U64 | RawKind::I64 => WasmType::I64,
            _ => WasmType::I32,
        }
    }

    /// Whether the host writes through it.
    pub const fn is_output(self) -> bool {
        matches!(self, RawKind::OutPtr | RawKind::OutLen | RawKind::OutU32 | RawKind::OutU64 | RawKind::OutSize)
    }
}

/// The part of the ABI a host function belongs to (and the host-sim module,
/// `host_sim::abi::<area>`, that implements it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum Area {
    /// Logging, time, ticks, contexts and configuration.
    context,
    /// Byte buffers (bodies, TCP data, configurations, call data).
    buffers,
    /// Header maps (headers, trailers, metadata).
    headers,
    /// Resuming and closing streams, local responses, call statuses.
    stream,
    /// HTTP and gRPC callouts.
    callouts,
    /// Shared data and shared queues.
    shared,
    /// Metrics.
    metrics,
    /// Properties and foreign functions.
    properties,
}

/// When a host function may be called, as the hosts decide it: the rule
/// host-sim's strict mode and phase checks apply to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// From any callback.
    Any,
    /// From a root context only (ngx_wasm_module: "can only set tick_period
    /// in root context").
    RootOnly,
    /// Reads a header map, which must exist in this phase (Envoy answers
    /// `BAD_ARGUMENT` otherwise).
    MapRead,
    /// Edits a header map: it must exist, and ngx_wasm_module's phase matrix
    /// says when each map may still change.
    MapWrite,
    /// Asks a buffer's size, which must exist in this phase.
    BufferStatus,
    /// Reads a buffer, which must exist in this phase.
    BufferRead,
    /// Edits a buffer, which must exist in this phase.
    BufferWrite,
    /// Dispatches an HTTP call (not once the response is under way).
    HttpCall,
    /// Sends a local response (from a stream's request or response callbacks).
    LocalResponse,
}

impl Access {
    /// Whether the call addresses a header map or buffer that must exist in
    /// the current phase (a `BAD_ARGUMENT` then means it does not).
    pub const fn needs_map_or_buffer(self) -> bool {
        matches!(
            self,
            Access::MapRead | Access::MapWrite | Access::BufferStatus | Access::BufferRead | Access::BufferWrite
        )
    }
}

/// How Kong's nginx module (Kong/ngx_wasm_module) offers a host function,
/// from the hostcall table in `src/common/proxy_wasm/ngx_proxy_wasm_host.c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KongSupport {
    /// Registered and implemented (host-sim's Kong profile models where it
    /// behaves differently).
    Same,
    /// Not registered: a module importing it does not load ("missing host
    /// function").
    Missing,
    /// Registered as `NGX_WAVM_NYI`: calling it traps "(function not yet
    /// implemented)".
    NotImplemented,
    /// Registered with another signature, two `i32` parameters, and not
    /// implemented: a module importing the spec's signature does not load.
    OwnSignature,
}

/// One host function, as data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostFunction {
    /// The import name in module `env`.
    pub name: &'static str,
    /// The method name of the safe layers (`sluice::native::Host`).
    pub method: &'static str,
    /// Its part of the ABI.
    pub area: Area,
    /// The first version that has it.
    pub since: AbiVersion,
    /// The first version that no longer has it.
    pub until: Option<AbiVersion>,
    /// Every wasm parameter, inputs then out-pointers, with its kind.
    pub params: &'static [(&'static str, RawKind)],
    /// When it may be called.
    pub access: Access,
    /// How Kong offers it.
    pub kong: KongSupport,
}

impl HostFunction {
    /// Whether a module of ABI `version` may import it.
    pub fn in_version(&self, version: AbiVersion) -> bool {
        version >= self.since && self.until.is_none_or(|until| version < until)
    }

    /// The wasm types of its parameters, in order (every host function
    /// returns one `i32`, the status).
    pub fn wasm_params(&self) -> impl Iterator<Item = WasmType> + '_ {
        self.params.iter().map(|(_, kind)| kind.wasm())
    }
}

/// The host function named `name` (`proxy_…`) of any version.
pub fn host_function(name: &str) -> Option<&'static HostFunction> {
    HOST_FUNCTIONS.iter().chain(LEGACY_HOST_FUNCTIONS).find(|f| f.name == name)
}

/// What `proxy_get_buffer_status` returns: a buffer's size and flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferStatus {
    /// The buffer's size in bytes.
    pub size: usize,
    /// The flags word: [`END_OF_STREAM`](Self::END_OF_STREAM) is the only
    /// flag defined (proxy-wasm-cpp-sdk's `WasmBufferFlags`); proxy-wasm-cpp-host,
    /// and so Envoy, writes 0.
    pub flags: u32,
}

impl BufferStatus {
    /// The flag bit saying the buffer holds the end of its stream.
    pub const END_OF_STREAM: u32 = 1;

    /// Whether the host set [`END_OF_STREAM`](Self::END_OF_STREAM). Hosts that
    /// write 0 never do: the callback's `end_of_stream` argument is the
    /// reliable signal.
    pub fn end_of_stream(&self) -> bool {
        self.flags & Self::END_OF_STREAM != 0
    }
}

/// What `proxy_get_status` returns: the host's status for the call whose
/// response is being delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallStatus {
    /// The status code: for an HTTP call a host [`Status`](crate::Status)
    /// (Envoy reports a reset call as 11, `BrokenConnection`; convert it with
    /// `Status::try_from`), for a gRPC call the gRPC status.
    pub code: u32,
    /// The status message (Envoy: `"reset"` for a reset call).
    pub message: crate::__private::Vec<u8>,
}

/// What `proxy_get_shared_data` returns: a stored value and its
/// compare-and-swap version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SharedValue {
    /// The value.
    pub value: crate::__private::Vec<u8>,
    /// The version: pass it back as `cas` to `proxy_set_shared_data` to
    /// write only if nobody wrote since this read.
    pub cas: u32,
}

/// Hands the host functions of ABI v0.2.1 to `$callback!` (see the [module
/// docs](crate::functions) for the notation).
#[macro_export]
macro_rules! for_each_host_function {
    ($callback:ident) => {
        $crate::__canonical! { $callback;
            /// Writes a log line at `level` (a [`LogLevel`](crate::LogLevel)).
            fn proxy_log as log(
                level: u32 [level: u32],
                message: bytes [message_data: ptr, message_size: len],
            ) -> () { area: context, since: V0_1_0, access: Any, kong: Same }

            /// The host's current log level.
            fn proxy_get_log_level as get_log_level() -> (level: u32 [return_level: out_u32])
            { area: context, since: V0_2_1, access: Any, kong: OwnSignature }

            /// Wall-clock time in nanoseconds since the Unix epoch.
            fn proxy_get_current_time_nanoseconds as get_current_time_nanoseconds()
                -> (time: u64 [return_time: out_u64])
            { area: context, since: V0_1_0, access: Any, kong: Same }

            /// Calls the root context's `proxy_on_tick` every `period` ms (0 stops).
            fn proxy_set_tick_period_milliseconds as set_tick_period_milliseconds(
                period: u32 [period: u32],
            ) -> () { area: context, since: V0_1_0, access: RootOnly, kong: Same }

            /// Tells the host a context that answered `false` to `proxy_on_done` is done.
            fn proxy_done as done() -> () { area: context, since: V0_1_0, access: Any, kong: NotImplemented }

            /// Makes `context_id` the context later host calls act on.
            fn proxy_set_effective_context as set_effective_context(
                context_id: u32 [context_id: u32],
            ) -> () { area: context, since: V0_1_0, access: Any, kong: Same }

            /// Replaces `size` bytes at `start` of a buffer with `value`.
            fn proxy_set_buffer_bytes as set_buffer_bytes(
                buffer_type: u32 [buffer_type: u32],
                start: usize [start: size],
                size: usize [size: size],
                value: bytes [value_data: ptr, value_size: len],
            ) -> () { area: buffers, since: V0_1_0, access: BufferWrite, kong: Same }

            /// Up to `max_size` bytes of a buffer from `start`.
            fn proxy_get_buffer_bytes as get_buffer_bytes(
                buffer_type: u32 [buffer_type: u32],
                start: usize [start: size],
                max_size: usize [max_size: size],
            ) -> (bytes: bytes [return_data: out_ptr, return_size: out_len])
            { area: buffers, since: V0_1_0, access: BufferRead, kong: Same }

            /// A buffer's size and flags.
            fn proxy_get_buffer_status as get_buffer_status(
                buffer_type: u32 [buffer_type: u32],
            ) -> BufferStatus (
                size: usize [return_size: out_size],
                flags: u32 [return_flags: out_u32],
            ) { area: buffers, since: V0_1_0, access: BufferStatus, kong: Missing }

            /// The serialized size of a header map.
            fn proxy_get_header_map_size as get_header_map_size(
                map_type: u32 [map_type: u32],
            ) -> (size: usize [return_size: out_size])
            { area: headers, since: V0_1_0, access: MapRead, kong: Missing }

            /// A whole header map, serialized.
            fn proxy_get_header_map_pairs as get_header_map_pairs(
                map_type: u32 [map_type: u32],
            ) -> (pairs: bytes [return_data: out_ptr, return_size: out_len])
            { area: headers, since: V0_1_0, access: MapRead, kong: Same }

            /// Replaces a whole header map with serialized pairs.
            fn proxy_set_header_map_pairs as set_header_map_pairs(
                map_type: u32 [map_type: u32],
                serialized: bytes [data: ptr, size: len],
            ) -> () { area: headers, since: V0_1_0, access: MapWrite, kong: Same }

            /// The value of one header (repeated headers joined with `,`).
            fn proxy_get_header_map_value as get_header_map_value(
                map_type: u32 [map_type: u32],
                key: bytes [key_data: ptr, key_size: len],
            ) -> (value: bytes [return_data: out_ptr, return_size: out_len])
            { area: headers, since: V0_1_0, access: MapRead, kong: Same }

            /// Adds a header (keeping others of the name).
            fn proxy_add_header_map_value as add_header_map_value(
                map_type: u32 [map_type: u32],
                key: bytes [key_data: ptr, key_size: len],
                value: bytes [value_data: ptr, value_size: len],
            ) -> () { area: headers, since: V0_1_0, access: MapWrite, kong: Same }

            /// Sets a header, replacing every value of the name.
            fn proxy_replace_header_map_value as replace_header_map_value(
                map_type: u32 [map_type: u32],
                key: bytes [key_data: ptr, key_size: len],
                value: bytes [value_data: ptr, value_size: len],
            ) -> () { area: headers, since: V0_1_0, access: MapWrite, kong: Same }

            /// Removes every value of a header.
            fn proxy_remove_header_map_value as remove_header_map_value(
                map_type: u32 [map_type: u32],
                key: bytes [key_data: ptr, key_size: len],
            ) -> () { area: headers, since: V0_1_0, access: MapWrite, kong: Same }

            /// Resumes a paused stream direction.
            fn proxy_continue_stream as continue_stream(
                stream_type: u32 [stream_type: u32],
            ) -> () { area: stream, since: V0_2_0, access: Any, kong: Same }

            /// Closes (resets) a stream direction.
            fn proxy_close_stream as close_stream(
                stream_type: u32 [stream_type: u32],
            ) -> () { area: stream, since: V0_2_0, access: Any, kong: NotImplemented }

            /// The status of the call being delivered.
            fn proxy_get_status as get_status() -> CallStatus (
                code: u32 [return_code: out_u32],
                message: bytes [return_message_data: out_ptr, return_message_size: out_len],
            ) { area: stream, since: V0_1_0, access: Any, kong: NotImplemented }

            /// Answers the client instead of the upstream.
            fn proxy_send_local_response as send_local_response(
                status_code: u32 [status_code: u32],
                details: bytes [details_data: ptr, details_size: len],
                body: bytes [body_data: ptr, body_size: len],
                serialized_headers: bytes [headers_data: ptr, headers_size: len],
                grpc_status: i32 [grpc_status: i32],
            ) -> () { area: stream, since: V0_1_0, access: LocalResponse, kong: Same }

            /// Starts an HTTP call to an upstream; its id.
            fn proxy_http_call as http_call(
                upstream: bytes [upstream_data: ptr, upstream_size: len],
                serialized_headers: bytes [headers_data: ptr, headers_size: len],
                body: bytes [body_data: ptr, body_size: len],
                serialized_trailers: bytes [trailers_data: ptr, trailers_size: len],
                timeout_ms: u32 [timeout_ms: u32],
            ) -> (call_id: u32 [return_call_id: out_u32])
            { area: callouts, since: V0_1_0, access: HttpCall, kong: Same }

            /// Starts a unary gRPC call; its id.
            fn proxy_grpc_call as grpc_call(
                upstream: bytes [upstream_data: ptr, upstream_size: len],
                service: bytes [service_data: ptr, service_size: len],
                method: bytes [method_data: ptr, method_size: len],
                serialized_initial_metadata: bytes [metadata_data: ptr, metadata_size: len],
                message: bytes [message_data: ptr, message_size: len],
                timeout_ms: u32 [timeout_ms: u32],
            ) -> (call_id: u32 [return_call_id: out_u32])
            { area: callouts, since: V0_1_0, access: Any, kong: NotImplemented }

            /// Opens a gRPC stream; its id.
            fn proxy_grpc_stream as grpc_stream(
                upstream: bytes [upstream_data: ptr, upstream_size: len],
                service: bytes [service_data: ptr, service_size: len],
                method: bytes [method_data: ptr, method_size: len],
                serialized_initial_metadata: bytes [metadata_data: ptr, metadata_size: len],
            ) -> (stream_id: u32 [return_stream_id: out_u32])
            { area: callouts, since: V0_1_0, access: Any, kong: NotImplemented }

            /// Sends a message on a gRPC stream.
            fn proxy_grpc_send as grpc_send(
                stream_id: u32 [stream_id: u32],
                message: bytes [message_data: ptr, message_size: len],
                end_stream: bool [end_stream: u32],
            ) -> () { area: callouts, since: V0_1_0, access: Any, kong: NotImplemented }

            /// Cancels a gRPC call or stream.
            fn proxy_grpc_cancel as grpc_cancel(
                call_or_stream_id: u32 [call_or_stream_id: u32],
            ) -> () { area: callouts, since: V0_1_0, access: Any, kong: NotImplemented }

            /// Half-closes a gRPC stream (or cancels a call).
            fn proxy_grpc_close as grpc_close(
                call_or_stream_id: u32 [call_or_stream_id: u32],
            ) -> () { area: callouts, since: V0_1_0, access: Any, kong: NotImplemented }

            /// Writes shared data (compare-and-swap unless `cas` is 0).
            fn proxy_set_shared_data as set_shared_data(
                key: bytes [key_data: ptr, key_size: len],
                value: bytes [value_data: ptr, value_size: len],
                cas: u32 [cas: u32],
            ) -> () { area: shared, since: V0_1_0, access: Any, kong: Same }

            /// Reads shared data and its compare-and-swap token.
            fn proxy_get_shared_data as get_shared_data(
                key: bytes [key_data: ptr, key_size: len],
            ) -> SharedValue (
                value: bytes [return_data: out_ptr, return_size: out_len],
                cas: u32 [return_cas: out_u32],
            ) { area: shared, since: V0_1_0, access: Any, kong: Same }

            /// Registers a shared queue of this VM; its id.
            fn proxy_register_shared_queue as register_shared_queue(
                name: bytes [name_data: ptr, name_size: len],
            ) -> (queue_id: u32 [return_id: out_u32])
            { area: shared, since: V0_1_0, access: Any, kong: Same }

            /// Finds the shared queue another VM registered; its id.
            fn proxy_resolve_shared_queue as resolve_shared_queue(
                vm_id: bytes [vm_id_data: ptr, vm_id_size: len],
                name: bytes [name_data: ptr, name_size: len],
            ) -> (queue_id: u32 [return_id: out_u32])
            { area: shared, since: V0_1_0, access: Any, kong: NotImplemented }

            /// Appends to a shared queue.
            fn proxy_enqueue_shared_queue as enqueue_shared_queue(
                queue_id: u32 [queue_id: u32],
                value: bytes [value_data: ptr, value_size: len],
            ) -> () { area: shared, since: V0_1_0, access: Any, kong: Same }

            /// Takes the oldest item of a shared queue.
            fn proxy_dequeue_shared_queue as dequeue_shared_queue(
                queue_id: u32 [queue_id: u32],
            ) -> (value: bytes [return_data: out_ptr, return_size: out_len])
            { area: shared, since: V0_1_0, access: Any, kong: Same }

            /// Defines (or finds) a metric; its id.
            fn proxy_define_metric as define_metric(
                metric_type: u32 [metric_type: u32],
                name: bytes [name_data: ptr, name_size: len],
            ) -> (metric_id: u32 [return_id: out_u32])
            { area: metrics, since: V0_1_0, access: Any, kong: Same }

            /// Sets a gauge or records a histogram sample.
            fn proxy_record_metric as record_metric(
                metric_id: u32 [metric_id: u32],
                value: u64 [value: u64],
            ) -> () { area: metrics, since: V0_1_0, access: Any, kong: Same }

            /// Adds `delta` to a counter or gauge.
            fn proxy_increment_metric as increment_metric(
                metric_id: u32 [metric_id: u32],
                delta: i64 [delta: i64],
            ) -> () { area: metrics, since: V0_1_0, access: Any, kong: Same }

            /// A metric's value.
            fn proxy_get_metric as get_metric(
                metric_id: u32 [metric_id: u32],
            ) -> (value: u64 [return_value: out_u64])
            { area: metrics, since: V0_1_0, access: Any, kong: Same }

            /// A property's encoded value (the path's segments NUL-separated).
            fn proxy_get_property as get_property(
                path: bytes [path_data: ptr, path_size: len],
            ) -> (value: bytes [return_data: out_ptr, return_size: out_len])
            { area: properties, since: V0_1_0, access: Any, kong: Same }

            /// Sets a property.
            fn proxy_set_property as set_property(
                path: bytes [path_data: ptr, path_size: len],
                value: bytes [value_data: ptr, value_size: len],
            ) -> () { area: properties, since: V0_1_0, access: Any, kong: Same }

            /// Calls a function the host offers by name.
            fn proxy_call_foreign_function as call_foreign_function(
                name: bytes [name_data: ptr, name_size: len],
                arguments: bytes [arguments_data: ptr, arguments_size: len],
            ) -> (result: bytes [return_data: out_ptr, return_size: out_len])
            { area: properties, since: V0_1_0, access: Any, kong: Same }
        }
    };
}

/// Hands the host functions that older ABI versions had and v0.2.1 dropped
/// to `$callback!`, in the notation of
/// [`for_each_host_function!`](crate::for_each_host_function) plus `until`.
#[macro_export]
macro_rules! for_each_legacy_host_function {
    ($callback:ident) => {
        $crate::__canonical! { $callback;
            /// The configuration of the callback being run (0.1.0).
            fn proxy_get_configuration as get_configuration()
                -> (configuration: bytes [return_data: out_ptr, return_size: out_len])
            { area: context, since: V0_1_0, until: V0_2_0, access: Any, kong: Same }

            /// Resumes the request (0.1.0; `proxy_continue_stream` since).
            fn proxy_continue_request as continue_request() -> ()
            { area: stream, since: V0_1_0, until: V0_2_0, access: Any, kong: Same }

            /// Resumes the response (0.1.0; `proxy_continue_stream` since).
            fn proxy_continue_response as continue_response() -> ()
            { area: stream, since: V0_1_0, until: V0_2_0, access: Any, kong: NotImplemented }

            /// Makes the host select the route again (0.1.0; a foreign
            /// function in Envoy since).
            fn proxy_clear_route_cache as clear_route_cache() -> ()
            { area: stream, since: V0_1_0, until: V0_2_0, access: Any, kong: NotImplemented }
        }
    };
}

/// Parses the description (the one place its notation is read) and hands
/// `$callback!` every function in one compact form, each in brackets:
///
/// ```text
/// [ (docs) proxy_name method area [Struct?] ( input kind (raw rawkind ...) ... )
///   ( output kind (raw rawkind ...) ... ) { since: V, until: V?, access: A, kong: K } ]
/// ```
///
/// A consumer matches it with
/// `$( [ ($(#[$meta:meta])*) $name:ident $method:ident $area:ident [$($ret:ident)?]
/// ( $( $in:ident $inkind:ident ( $( $raw:ident $rawkind:ident )+ ) )* )
/// ( $( $out:ident $outkind:ident ( $( $oraw:ident $orawkind:ident )+ ) )* ) $rules:tt ] )*`.
#[doc(hidden)]
#[macro_export]
macro_rules! __canonical {
    (
        $callback:ident;
        $(
            $(#[$meta:meta])*
            fn $name:ident as $method:ident (
                $( $in:ident : $inkind:ident [ $( $raw:ident : $rawkind:ident ),+ ] ),* $(,)?
            ) -> $($ret:ident)? (
                $( $out:ident : $outkind:ident [ $( $oraw:ident : $orawkind:ident ),+ ] ),* $(,)?
            ) { area: $area:ident, $($rules:tt)* }
        )*
    ) => {
        $callback! { $(
            [ ($(#[$meta])*) $name $method $area [$($ret)?]
              ( $( $in $inkind ( $( $raw $rawkind )+ ) )* )
              ( $( $out $outkind ( $( $oraw $orawkind )+ ) )* )
              { $($rules)* } ]
        )* }
    };
}

/// Builds the data tables from the description.
macro_rules! table {
    ( $( [ ($(#[$meta:meta])*) $name:ident $method:ident $area:ident [$($ret:ident)?]
        ( $( $in:ident $inkind:ident ( $( $raw:ident $rawkind:ident )+ ) )* )
        ( $( $out:ident $outkind:ident ( $( $oraw:ident $orawkind:ident )+ ) )* )
        { since: $since:ident, $(until: $until:ident,)? access: $access:ident, kong: $kong:ident } ] )*
    ) => {
        &[$(
            HostFunction {
                name: stringify!($name),
                method: stringify!($method),
                area: Area::$area,
                since: AbiVersion::$since,
                until: table!(@until $($until)?),
                params: &[
                    $( $( (stringify!($raw), $crate::raw_kind!($rawkind)), )+ )*
                    $( $( (stringify!($oraw), $crate::raw_kind!($orawkind)), )+ )*
                ],
                access: Access::$access,
                kong: KongSupport::$kong,
            },
        )*]
    };
    (@until) => { None };
    (@until $until:ident) => { Some(AbiVersion::$until) };
}

/// The host functions of ABI v0.2.1, in the reference's order.
pub const HOST_FUNCTIONS: &[HostFunction] = crate::for_each_host_function!(table);

/// The host functions of older versions that v0.2.1 dropped.
pub const LEGACY_HOST_FUNCTIONS: &[HostFunction] = crate::for_each_legacy_host_function!(table);

/// The [`RawKind`] of a raw kind written in the description.
#[doc(hidden)]
#[macro_export]
macro_rules! raw_kind {
    (u32) => {
        $crate::RawKind::U32
    };
    (i32) => {
        $crate::RawKind::I32
    };
    (u64) => {
        $crate::RawKind::U64
    };
    (i64) => {
        $crate::RawKind::I64
    };
    (size) => {
        $crate::RawKind::Size
    };
    (ptr) => {
        $crate::RawKind::Ptr
    };
    (len) => {
        $crate::RawKind::Len
    };
    (out_ptr) => {
        $crate::RawKind::OutPtr
    };
    (out_len) => {
        $crate::RawKind::OutLen
    };
    (out_u32) => {
        $crate::RawKind::OutU32
    };
    (out_u64) => {
        $crate::RawKind::OutU64
    };
    (out_size) => {
        $crate::RawKind::OutSize
    };
}

/// The guest's Rust type of a raw parameter (what a wasm32 import declares).
#[doc(hidden)]
#[macro_export]
macro_rules! raw_type {
    (u32) => { u32 };
    (i32) => { i32 };
    (u64) => { u64 };
    (i64) => { i64 };
    (size) => { usize };
    (ptr) => { *const u8 };
    (len) => { usize };
    (out_ptr) => { *mut *mut u8 };
    (out_len) => { *mut usize };
    (out_u32) => { *mut u32 };
    (out_u64) => { *mut u64 };
    (out_size) => { *mut usize };
}

/// The host's type of a raw parameter as wasmtime passes it (32-bit values
/// and pointers as `u32`).
#[doc(hidden)]
#[macro_export]
macro_rules! host_raw_type {
    (i32) => {
        i32
    };
    (u64) => {
        u64
    };
    (i64) => {
        i64
    };
    ($other:ident) => {
        u32
    };
}

/// The Rust type of an input in the safe layers.
#[doc(hidden)]
#[macro_export]
macro_rules! input_type {
    (bytes) => {
        &[u8]
    };
    ($scalar:ident) => {
        $scalar
    };
}

/// The Rust type of an output in the safe layers.
#[doc(hidden)]
#[macro_export]
macro_rules! output_type {
    (bytes) => { $crate::__private::Vec<u8> };
    ($scalar:ident) => { $scalar };
}

/// What a host function returns in the safe layers: its named struct, its
/// one output, a tuple of several, or `()`.
#[doc(hidden)]
#[macro_export]
macro_rules! returns {
    ([$ret:ident] $($kind:ident)*) => { $crate::$ret };
    ([] $($kind:ident)*) => { ( $( $crate::output_type!($kind) ),* ) };
}

/// The value (or pattern) of the outputs, in the shape of [`returns!`].
#[doc(hidden)]
#[macro_export]
macro_rules! outputs {
    ([$ret:ident] $($out:ident)*) => { $crate::$ret { $($out),* } };
    ([] $($out:ident)*) => { ( $($out),* ) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_the_lists_do_not_overlap() {
        let all: crate::__private::Vec<&str> =
            HOST_FUNCTIONS.iter().chain(LEGACY_HOST_FUNCTIONS).map(|f| f.name).collect();
        for (i, name) in all.iter().enumerate() {
            assert!(!all[..i].contains(name), "{name} is described twice");
            assert!(name.starts_with("proxy_"), "{name}");
        }
        assert!(HOST_FUNCTIONS.iter().all(|f| f.until.is_none() && f.in_version(AbiVersion::V0_2_1)));
        assert!(LEGACY_HOST_FUNCTIONS.iter().all(|f| !f.in_version(AbiVersion::V0_2_1)));
    }

    #[test]
    fn versions_and_rules_read_back() {
        let level = host_function("proxy_get_log_level").unwrap();
        assert!(!level.in_version(AbiVersion::V0_2_0) && level.in_version(AbiVersion::V0_2_1));
        assert_eq!(level.kong, KongSupport::OwnSignature);
        let config = host_function("proxy_get_configuration").unwrap();
        assert!(config.in_version(AbiVersion::V0_1_0) && !config.in_version(AbiVersion::V0_2_0));
        let pairs = host_function("proxy_set_header_map_pairs").unwrap();
        assert_eq!(pairs.access, Access::MapWrite);
        assert!(pairs.access.needs_map_or_buffer());
        assert_eq!(pairs.method, "set_header_map_pairs");
        assert!(host_function("proxy_nothing").is_none());
    }

    #[test]
    fn out_pointers_come_after_the_inputs() {
        for f in HOST_FUNCTIONS.iter().chain(LEGACY_HOST_FUNCTIONS) {
            let first_out = f.params.iter().position(|(_, k)| k.is_output()).unwrap_or(f.params.len());
            assert!(f.params[first_out..].iter().all(|(_, k)| k.is_output()), "{}", f.name);
        }
        let record = host_function("proxy_record_metric").unwrap();
        assert_eq!(record.wasm_params().map(WasmType::letter).collect::<crate::__private::String>(), "iI");
    }
}
