//! The TOML shape of a scenario file, deserialized with spans for error
//! positions; [`super::format`] checks it into a [`super::format::Scenario`].
//! The same types give the scenario format's JSON Schema
//! ([`super::schema`]): their doc comments are its descriptions.

use std::ops::Deref;

use schemars::JsonSchema;
use serde::Deserialize;

use super::shapes::{AnyValue, HeaderTable, PropertyTable, StringTable};

/// A value with its place in the file: deserialized as `toml::Spanned`,
/// described in the schema as the value itself.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(super) struct Spanned<T>(toml::Spanned<T>);

impl<T> Deref for Spanned<T> {
    type Target = toml::Spanned<T>;
    fn deref(&self) -> &toml::Spanned<T> {
        &self.0
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// A scenario: one plugin (`plugin = ...` with its fields at the top) or
/// several (`[[plugins]]`), the host they run on, the steps, and what must
/// have happened.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "host-sim scenario")]
pub(super) struct RawScenario {
    /// The plugin module (.wasm), relative to the scenario file; or an
    /// `oci://HOST/NAME:TAG` (`@sha256:...`) reference, or an Istio
    /// `WasmPlugin` manifest (.yaml/.yml). Required unless `[[plugins]]`
    /// lists the plugins.
    #[serde(default)]
    pub(super) plugin: Option<Spanned<String>>,
    /// The plugin name (property `plugin_name`; default "plugin").
    #[serde(default)]
    pub(super) name: Option<Spanned<String>>,
    /// The root id (`plugin_root_id`).
    #[serde(default)]
    pub(super) root_id: Option<Spanned<String>>,
    /// The VM id: plugins with the same `vm_id`, module, VM configuration
    /// and environment share one VM; shared data and queues are per `vm_id`.
    #[serde(default)]
    pub(super) vm_id: Option<Spanned<String>>,
    /// The plugin configuration: a string (sent as is) or a table (sent as JSON).
    #[serde(default)]
    #[schemars(with = "Option<AnyValue>")]
    pub(super) configuration: Option<Spanned<toml::Value>>,
    /// The VM configuration: a string (sent as is) or a table (sent as JSON).
    #[serde(default)]
    #[schemars(with = "Option<AnyValue>")]
    pub(super) vm_configuration: Option<Spanned<toml::Value>>,
    /// Properties the plugin reads, as nested tables (dotted keys work too).
    #[serde(default)]
    #[schemars(with = "Option<PropertyTable>")]
    pub(super) properties: Option<Spanned<toml::Table>>,
    /// Environment variables the VM's `environ_get` serves.
    #[serde(default)]
    #[schemars(with = "Option<StringTable>")]
    pub(super) environment: Option<Spanned<toml::Table>>,
    /// The plugin's fail policy after its VM fails: "closed" or "open"
    /// (without it, a VM failure fails the run).
    #[serde(default)]
    pub(super) fail_policy: Option<Spanned<String>>,
    /// Rebuild a failed VM for the next stream, at most `max` per `interval`.
    #[serde(default)]
    pub(super) rebuild: Option<Spanned<RawRebuild>>,
    /// What the plugin may make the host spend (host-sim's `Limits`; each
    /// field left out keeps its default).
    #[serde(default)]
    pub(super) limits: Option<Spanned<crate::Limits>>,
    /// Envoy's `capability_restriction_config`: the host functions (and
    /// WASI functions) the plugin may call; the others are refused.
    #[serde(default)]
    pub(super) capabilities: Option<Vec<String>>,
    /// Request and response headers the plugin cannot see.
    #[serde(default)]
    pub(super) redact_headers: Vec<String>,
    /// Envoy's default properties removed before the plugin starts (dotted paths).
    #[serde(default)]
    pub(super) remove_properties: Vec<Spanned<String>>,
    /// Host-wide options.
    #[serde(default)]
    pub(super) host: Option<RawHost>,
    /// Several plugins, each with its own fields; steps name one by `id`
    /// (the first when they name none). Not together with `plugin`.
    #[serde(default)]
    pub(super) plugins: Vec<Spanned<RawPlugin>>,
    /// The plugins as an Istio mesh deploys them: `WasmPlugin` manifests,
    /// selected and ordered for one workload's listener as Istio does, each
    /// step's HTTP stream running through the whole chain. Not together with
    /// `plugin` or `[[plugins]]`.
    #[serde(default)]
    pub(super) mesh: Option<Spanned<RawMesh>>,
    /// Foreign functions the host offers: name = the bytes they return, or
    /// `{ returns = "bytes" }`, `{ echo = true }` (their input back) or
    /// `{ status = "not_found" }` (a failure status); a name registered here
    /// replaces Envoy's built-in one.
    #[serde(default)]
    pub(super) foreign_functions: std::collections::BTreeMap<String, Spanned<RawForeign>>,
    /// Callout clusters the host knows (default: any).
    #[serde(default)]
    pub(super) clusters: Option<Vec<String>>,
    /// Envoy's route table (default: none, routing is not simulated).
    #[serde(default)]
    pub(super) virtual_hosts: Vec<Spanned<RawVirtualHost>>,
    /// The host profile: "envoy-1.32", "envoy-1.33" (default) or "kong".
    #[serde(default)]
    pub(super) profile: Option<Spanned<String>>,
    /// Strict mode: a host call in the wrong phase fails the VM.
    #[serde(default)]
    pub(super) strict: bool,
    /// Shared data set before the plugins start (as another worker would).
    #[serde(default)]
    pub(super) shared_data: Vec<Spanned<RawSharedData>>,
    /// Where the clocks start (default: wall 2025-01-01T00:00:00Z,
    /// monotonic a day after boot).
    #[serde(default)]
    pub(super) clock: Option<RawClock>,
    /// The steps, in order.
    #[serde(default)]
    pub(super) stream: Vec<Spanned<RawStep>>,
    /// Expectations on the whole run.
    #[serde(default)]
    pub(super) expect: RawExpect,
}

impl RawScenario {
    /// The single-plugin form's fields, taken out as a plugin, and whether
    /// `plugin` was given.
    pub(super) fn single(&mut self) -> (bool, RawPlugin) {
        let nowhere = || Spanned(toml::Spanned::new(0..0, String::new()));
        let given = self.plugin.is_some();
        let plugin = RawPlugin {
            id: nowhere(),
            plugin: self.plugin.take().unwrap_or_else(nowhere),
            name: self.name.take(),
            root_id: self.root_id.take(),
            vm_id: self.vm_id.take(),
            configuration: self.configuration.take(),
            vm_configuration: self.vm_configuration.take(),
            properties: self.properties.take(),
            environment: self.environment.take(),
            fail_policy: self.fail_policy.take(),
            rebuild: self.rebuild.take(),
            limits: self.limits.take(),
            capabilities: self.capabilities.take(),
            redact_headers: std::mem::take(&mut self.redact_headers),
            remove_properties: std::mem::take(&mut self.remove_properties),
        };
        (given, plugin)
    }
}

impl RawPlugin {
    /// The first field given (with its place), `plugin` counted when
    /// `plugin_given`: for refusing the single form's fields next to `[[plugins]]`.
    pub(super) fn given(&self, plugin_given: bool) -> Option<(&'static str, std::ops::Range<usize>)> {
        let strings = [
            ("name", &self.name),
            ("root_id", &self.root_id),
            ("vm_id", &self.vm_id),
            ("fail_policy", &self.fail_policy),
        ];
        let values = [("configuration", &self.configuration), ("vm_configuration", &self.vm_configuration)];
        let tables = [("properties", &self.properties), ("environment", &self.environment)];
        plugin_given
            .then(|| ("plugin", self.plugin.span()))
            .or_else(|| strings.iter().find_map(|(n, v)| Some((*n, v.as_ref()?.span()))))
            .or_else(|| values.iter().find_map(|(n, v)| Some((*n, v.as_ref()?.span()))))
            .or_else(|| tables.iter().find_map(|(n, v)| Some((*n, v.as_ref()?.span()))))
            .or_else(|| self.rebuild.as_ref().map(|r| ("rebuild", r.span())))
            .or_else(|| self.limits.as_ref().map(|r| ("limits", r.span())))
            .or_else(|| self.remove_properties.first().map(|r| ("remove_properties", r.span())))
            .or_else(|| self.capabilities.as_ref().map(|_| ("capabilities", 0..0)))
            .or_else(|| (!self.redact_headers.is_empty()).then_some(("redact_headers", 0..0)))
    }
}

/// How a foreign function answers.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(super) enum RawForeign {
    /// The bytes it returns.
    Returns(String),
    /// One of `returns`, `echo`, `status`.
    Table(RawForeignTable),
}

/// How a foreign function answers: exactly one field.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawForeignTable {
    /// The bytes it returns.
    #[serde(default)]
    pub(super) returns: Option<String>,
    /// true: it returns its input.
    #[serde(default)]
    pub(super) echo: Option<bool>,
    /// It fails with this status: "not_found", "bad_argument",
    /// "serialization_failure", "parse_failure", "internal_failure",
    /// "unimplemented", ...
    #[serde(default)]
    pub(super) status: Option<String>,
}

/// A log line expected: a regex, or a table with the regex, the level and
/// how many lines match.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(super) enum RawLog {
    /// A regex some line matches.
    Pattern(String),
    /// A regex, a level, a count.
    Table(RawLogTable),
}

/// A log line expected, with its level and count.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLogTable {
    /// A regex the message matches (default: any).
    #[serde(default, rename = "match")]
    pub(super) pattern: Option<String>,
    /// The level: trace, debug, info, warn, error, critical.
    #[serde(default)]
    pub(super) level: Option<String>,
    /// How many lines match (default: at least one; in `exact_logs`: one line).
    #[serde(default)]
    pub(super) count: Option<usize>,
}

/// One plugin of `[[plugins]]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlugin {
    /// The name steps give in `plugin = "..."` to send their stream here.
    pub(super) id: Spanned<String>,
    /// The plugin module (.wasm), relative to the scenario file; or an
    /// `oci://` reference, or an Istio `WasmPlugin` manifest (.yaml/.yml).
    pub(super) plugin: Spanned<String>,
    /// The plugin name (property `plugin_name`; default "plugin").
    #[serde(default)]
    pub(super) name: Option<Spanned<String>>,
    /// The root id (`plugin_root_id`).
    #[serde(default)]
    pub(super) root_id: Option<Spanned<String>>,
    /// The VM id: plugins with the same `vm_id`, module, VM configuration
    /// and environment share one VM; shared data and queues are per `vm_id`.
    #[serde(default)]
    pub(super) vm_id: Option<Spanned<String>>,
    /// The plugin configuration: a string (sent as is) or a table (sent as JSON).
    #[serde(default)]
    #[schemars(with = "Option<AnyValue>")]
    pub(super) configuration: Option<Spanned<toml::Value>>,
    /// The VM configuration: a string (sent as is) or a table (sent as JSON).
    #[serde(default)]
    #[schemars(with = "Option<AnyValue>")]
    pub(super) vm_configuration: Option<Spanned<toml::Value>>,
    /// Properties the plugin reads, as nested tables.
    #[serde(default)]
    #[schemars(with = "Option<PropertyTable>")]
    pub(super) properties: Option<Spanned<toml::Table>>,
    /// Environment variables of the VM.
    #[serde(default)]
    #[schemars(with = "Option<StringTable>")]
    pub(super) environment: Option<Spanned<toml::Table>>,
    /// The plugin's fail policy: "closed" or "open".
    #[serde(default)]
    pub(super) fail_policy: Option<Spanned<String>>,
    /// Rebuilding the plugin's failed VM.
    #[serde(default)]
    pub(super) rebuild: Option<Spanned<RawRebuild>>,
    /// What the plugin may make the host spend (host-sim's `Limits`; each
    /// field left out keeps its default).
    #[serde(default)]
    pub(super) limits: Option<Spanned<crate::Limits>>,
    /// Envoy's `capability_restriction_config`: the host functions (and
    /// WASI functions) the plugin may call; the others are refused.
    #[serde(default)]
    pub(super) capabilities: Option<Vec<String>>,
    /// Request and response headers the plugin cannot see.
    #[serde(default)]
    pub(super) redact_headers: Vec<String>,
    /// Envoy's default properties removed before the plugin starts (dotted paths).
    #[serde(default)]
    pub(super) remove_properties: Vec<Spanned<String>>,
}

/// `[mesh]`: the workload whose proxy runs the `WasmPlugin`s, and the files
/// that hold them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMesh {
    /// `WasmPlugin` manifests (YAML, several resources per file with `---`),
    /// relative to the scenario file.
    pub(super) wasm_plugins: Vec<Spanned<String>>,
    /// The workload's namespace (default "default").
    #[serde(default)]
    pub(super) namespace: Option<Spanned<String>>,
    /// The workload's labels, matched by `selector.matchLabels`.
    #[serde(default)]
    pub(super) labels: std::collections::BTreeMap<String, String>,
    /// The proxy's environment, read by `vmConfig.env` with `valueFrom: HOST`.
    #[serde(default)]
    pub(super) env: std::collections::BTreeMap<String, String>,
    /// Istio's root namespace, whose plugins apply to every namespace
    /// (default "istio-system").
    #[serde(default)]
    pub(super) root_namespace: Option<Spanned<String>>,
    /// The listener: "gateway" (default), "sidecar-inbound" or
    /// "sidecar-outbound"; `match[].mode` compares its traffic direction.
    #[serde(default)]
    pub(super) listener: Option<Spanned<String>>,
    /// The listener's port, compared with `match[].ports` (default 8080).
    #[serde(default)]
    pub(super) port: Option<u32>,
    /// Properties every plugin of the mesh reads (the proxy's node metadata,
    /// say), as nested tables.
    #[serde(default)]
    #[schemars(with = "Option<PropertyTable>")]
    pub(super) properties: Option<Spanned<toml::Table>>,
}

/// Host-wide options (`HostOptions`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHost {
    /// Memory cap per VM in bytes (default Envoy's 1 GiB).
    #[serde(default)]
    pub(super) memory_limit: Option<usize>,
    /// CPU deadline of one guest call, a duration such as "1s" (default 1s).
    #[serde(default)]
    pub(super) cpu_deadline: Option<Spanned<String>>,
    /// Fuel budget of one guest call (default: unlimited).
    #[serde(default)]
    pub(super) fuel: Option<u64>,
    /// What proxy_get_log_level reports at start: trace (default), debug,
    /// info, warn, error, critical.
    #[serde(default)]
    pub(super) log_level: Option<Spanned<String>>,
    /// Seed of the VMs' random_get.
    #[serde(default)]
    pub(super) seed: Option<u64>,
    /// Envoy's stream_idle_timeout: a duration ("5m", the default; "0s"
    /// turns it off, as in Envoy).
    #[serde(default)]
    pub(super) stream_idle_timeout: Option<Spanned<String>>,
    /// Envoy's --concurrency: worker threads, each with its own VM of every
    /// plugin (1 to 64; default 1). Streams go to the workers round robin
    /// (a step's `worker` names one); shared data, queues and metrics are
    /// the process's.
    #[serde(default)]
    pub(super) concurrency: Option<Spanned<usize>>,
}

/// Where the clocks start.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClock {
    /// Wall time (`proxy_get_current_time_nanoseconds`, WASI's realtime
    /// clock): RFC 3339 with `Z` or an offset, such as "2026-03-01T08:30:00Z".
    #[serde(default)]
    pub(super) wall: Option<Spanned<String>>,
    /// Monotonic time since boot (WASI's monotonic clock): a duration such
    /// as "30s" or "24h".
    #[serde(default)]
    pub(super) monotonic: Option<Spanned<String>>,
}

/// How a failed VM is rebuilt.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRebuild {
    /// At most this many rebuilds per `interval`.
    pub(super) max: u32,
    /// Of virtual time: a duration such as "30s" or "1m".
    pub(super) interval: Spanned<String>,
}

/// A shared-data entry.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSharedData {
    /// The VM id whose shared data it is (default "").
    #[serde(default)]
    pub(super) vm_id: String,
    /// The key.
    pub(super) key: String,
    /// The value.
    pub(super) value: String,
    /// Written only when a plugin next writes the key with a CAS, just
    /// before that write, which then fails with CasMismatch (another worker
    /// won the race).
    #[serde(default)]
    pub(super) race: bool,
}

/// A call of the plugin's proxy_on_foreign_function.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawForeignCallback {
    /// The function id.
    pub(super) id: u32,
    /// Its argument bytes.
    #[serde(default)]
    pub(super) args: String,
}

/// An item put on a shared queue from outside (another worker).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEnqueue {
    /// The VM id of the queue (default "").
    #[serde(default)]
    pub(super) vm_id: String,
    /// The queue name the plugin registered.
    pub(super) queue: String,
    /// The item.
    pub(super) value: String,
}

/// A virtual host of the route table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVirtualHost {
    /// Its name (required, like Envoy's).
    pub(super) name: String,
    /// Domains: exact, "*.suffix", "prefix.*", "*".
    pub(super) domains: Spanned<Vec<String>>,
    /// Routes in order, first match.
    #[serde(default)]
    pub(super) routes: Vec<Spanned<RawRoute>>,
}

/// A route of a virtual host.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    /// route_name (default "").
    #[serde(default)]
    pub(super) name: String,
    /// The :path prefix (default "/").
    #[serde(default)]
    pub(super) prefix: Option<String>,
    /// Header matches: an exact value, or true (present).
    #[serde(default)]
    #[schemars(with = "Option<std::collections::BTreeMap<String, AnyValue>>")]
    pub(super) headers: Option<Spanned<toml::Table>>,
    /// A fixed cluster (or `cluster_header`).
    #[serde(default)]
    pub(super) cluster: Option<Spanned<String>>,
    /// The cluster is this request header's value (or `cluster`).
    #[serde(default)]
    pub(super) cluster_header: Option<Spanned<String>>,
}

/// One step: shared data and queue items from outside, the clock and ticks,
/// then an HTTP stream opened (`request`) or taken up again (`resume`), then
/// answers to pending callouts.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    /// A name for the trace and failure messages.
    #[serde(default)]
    pub(super) name: Option<String>,
    /// The plugin (an `id` of `[[plugins]]`) the step's stream and ticks go
    /// to (default: the first).
    #[serde(default)]
    pub(super) plugin: Option<Spanned<String>>,
    /// Shared data set first, as another worker would.
    #[serde(default)]
    pub(super) shared_data: Vec<Spanned<RawSharedData>>,
    /// Items enqueued first, as another worker would (the owner gets on_queue_ready).
    #[serde(default)]
    pub(super) enqueue: Vec<Spanned<RawEnqueue>>,
    /// Moves the virtual clock (ms, s, m, h); due ticks and timeouts fire.
    #[serde(default)]
    pub(super) advance: Option<Spanned<String>>,
    /// Then call proxy_on_tick this many times (at most 100 000).
    #[serde(default)]
    pub(super) ticks: u32,
    /// Properties set for the step's plugin first (nested tables), as a
    /// test changes them between streams.
    #[serde(default)]
    #[schemars(with = "Option<PropertyTable>")]
    pub(super) properties: Option<Spanned<toml::Table>>,
    /// Calls the plugin's proxy_on_foreign_function (root context) after the rest.
    #[serde(default)]
    pub(super) foreign_callbacks: Vec<Spanned<RawForeignCallback>>,
    /// Shuts the step's plugin down at the end of the step (root on_done,
    /// then on_delete now or after its proxy_done).
    #[serde(default)]
    pub(super) shutdown: bool,
    /// Properties removed for the step's plugin first (dotted paths), Envoy's
    /// defaults of its VM included, as on a proxy without them.
    #[serde(default)]
    pub(super) remove_properties: Vec<Spanned<String>>,
    /// The log level plugins see from now on (proxy_get_log_level), set first.
    #[serde(default)]
    pub(super) log_level: Option<Spanned<String>>,
    /// Sets the wall clock first (RFC 3339, as `[clock] wall`), as NTP or an
    /// operator would; the monotonic clock and the timers are not moved.
    #[serde(default)]
    pub(super) wall: Option<Spanned<String>>,
    /// The client's request: opens an HTTP stream.
    #[serde(default)]
    pub(super) request: Option<Spanned<RawMessage>>,
    /// Runs the step's stream through these plugins (ids of [[plugins]]),
    /// as one Envoy filter chain in this order: the request first to last,
    /// the response last to first. Replaces `plugin` for the stream.
    #[serde(default)]
    pub(super) chain: Option<Spanned<Vec<Spanned<String>>>>,
    /// The worker (0-based, below [host] concurrency) the step's new stream
    /// goes to, instead of the next one round robin.
    #[serde(default)]
    pub(super) worker: Option<Spanned<usize>>,
    /// Replaces a plugin's configuration or module first, as an xDS update
    /// does: new streams go to the new version, open ones finish on the old.
    #[serde(default)]
    pub(super) reload: Option<Spanned<RawReload>>,
    /// Names the stream this step opens, so that a later step can `resume` it.
    #[serde(default)]
    pub(super) id: Option<Spanned<String>>,
    /// Takes up the open stream of this `id`: sends what is left of its
    /// request and response (up to `until`).
    #[serde(default)]
    pub(super) resume: Option<Spanned<String>>,
    /// Send the stream only up to and including this part, then leave it
    /// open for a later `resume`: "request_headers", "request_body",
    /// "request" (trailers included), "response_headers", "response_body".
    #[serde(default)]
    pub(super) until: Option<Spanned<String>>,
    /// Opens (the first time it is named) or continues a TCP connection by
    /// this name; `tcp` lists what happens on it.
    #[serde(default)]
    pub(super) connection: Option<Spanned<String>>,
    /// Events on the step's `connection`, in order: data from a peer (with
    /// end of stream: a half-close), or a peer closing.
    #[serde(default)]
    pub(super) tcp: Vec<Spanned<RawTcpEvent>>,
    /// Answers to pending HTTP callouts, oldest first.
    #[serde(default)]
    pub(super) callouts: Vec<Spanned<RawCallout>>,
    /// Answers to open gRPC calls and streams, oldest first.
    #[serde(default)]
    pub(super) grpc: Vec<Spanned<RawGrpcAnswer>>,
    /// Keep the stream open after the step while it waits; it goes on once
    /// a later step resumes it.
    #[serde(default)]
    pub(super) hold: Option<Spanned<bool>>,
    /// The upstream's response (sent once the upstream has the whole request).
    #[serde(default)]
    pub(super) response: Option<Spanned<RawMessage>>,
    /// Expectations on this step and its stream.
    #[serde(default)]
    pub(super) expect: RawStreamExpect,
}

/// A live reload of one plugin: what changes (the rest stays as loaded).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReload {
    /// The plugin (an `id` of [[plugins]]; default: the step's plugin).
    #[serde(default)]
    pub(super) plugin: Option<Spanned<String>>,
    /// The new plugin configuration (a string, or a table sent as JSON).
    #[serde(default)]
    #[schemars(with = "Option<AnyValue>")]
    pub(super) configuration: Option<Spanned<toml::Value>>,
    /// The new VM configuration (a new VM starts).
    #[serde(default)]
    #[schemars(with = "Option<AnyValue>")]
    pub(super) vm_configuration: Option<Spanned<toml::Value>>,
    /// A new module (a .wasm path, relative to the scenario file; a new VM starts).
    #[serde(default)]
    pub(super) module: Option<Spanned<String>>,
}

/// A request or a response: pseudo-header fields, headers, body, trailers.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMessage {
    /// :method (default GET).
    #[serde(default)]
    pub(super) method: Option<Spanned<String>>,
    /// :path (default "/").
    #[serde(default)]
    pub(super) path: Option<Spanned<String>>,
    /// :authority (default example.com).
    #[serde(default)]
    pub(super) authority: Option<Spanned<String>>,
    /// :scheme (default https).
    #[serde(default)]
    pub(super) scheme: Option<Spanned<String>>,
    /// false: no default pseudo-headers; only those given (as fields or in
    /// `headers`) are sent.
    #[serde(default)]
    pub(super) defaults: Option<bool>,
    /// :status of a response (default 200; 100 to 999).
    #[serde(default)]
    pub(super) status: Option<Spanned<u16>>,
    /// Headers in order; a list value repeats the header.
    #[serde(default)]
    #[schemars(with = "Option<HeaderTable>")]
    pub(super) headers: Option<Spanned<toml::Table>>,
    /// The body: a string, or a list of chunks (one callback each).
    #[serde(default)]
    #[schemars(with = "Option<super::shapes::Body>")]
    pub(super) body: Option<Spanned<toml::Value>>,
    /// Trailers.
    #[serde(default)]
    #[schemars(with = "Option<HeaderTable>")]
    pub(super) trailers: Option<Spanned<toml::Table>>,
    /// A request's protocol, `request.protocol` (default "HTTP/1.1").
    #[serde(default)]
    pub(super) protocol: Option<Spanned<String>>,
}

/// An answer to a pending HTTP callout.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCallout {
    /// The cluster the callout must have gone to.
    #[serde(default)]
    pub(super) cluster: Option<String>,
    /// Reset it instead of answering (status 11 "reset").
    #[serde(default)]
    pub(super) fail: bool,
    /// Let it time out: the clock moves to its timeout (Envoy's 504).
    #[serde(default)]
    pub(super) timeout: Option<Spanned<bool>>,
    /// The response :status (default 200; 100 to 999).
    #[serde(default)]
    pub(super) status: Option<Spanned<u16>>,
    /// Response headers.
    #[serde(default)]
    #[schemars(with = "Option<HeaderTable>")]
    pub(super) headers: Option<Spanned<toml::Table>>,
    /// Response body.
    #[serde(default)]
    pub(super) body: Option<String>,
    /// Response trailers.
    #[serde(default)]
    #[schemars(with = "Option<HeaderTable>")]
    pub(super) trailers: Option<Spanned<toml::Table>>,
    /// Expectations on the request the plugin made.
    #[serde(default)]
    pub(super) expect: Option<RawCalloutExpect>,
}

/// Expectations on an HTTP callout's request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCalloutExpect {
    /// Its headers (pseudo-headers included).
    #[serde(default)]
    pub(super) headers: RawHeaderExpect,
    /// Its body.
    #[serde(default)]
    pub(super) body: Option<String>,
    /// Its trailers.
    #[serde(default)]
    pub(super) trailers: RawHeaderExpect,
    /// Its timeout: a duration, or "0ms" for none.
    #[serde(default)]
    pub(super) timeout: Option<Spanned<String>>,
}

/// One event on a TCP connection: exactly one of `downstream`, `upstream`, `close`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTcpEvent {
    /// Data from the client (proxy_on_downstream_data).
    #[serde(default)]
    pub(super) downstream: Option<String>,
    /// Data from the upstream (proxy_on_upstream_data).
    #[serde(default)]
    pub(super) upstream: Option<String>,
    /// The data ends its direction (a half-close).
    #[serde(default)]
    pub(super) end: bool,
    /// A peer closes: "downstream" (the client; the connection then
    /// finishes) or "upstream".
    #[serde(default)]
    pub(super) close: Option<Spanned<String>>,
    /// Who closed it: "remote" (default) or "local".
    #[serde(default)]
    pub(super) peer: Option<Spanned<String>>,
}

/// An answer to an open gRPC call or stream, and what the call must have been.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGrpcAnswer {
    /// Initial metadata (streams only).
    #[serde(default)]
    #[schemars(with = "Option<HeaderTable>")]
    pub(super) initial_metadata: Option<Spanned<toml::Table>>,
    /// Messages, in order (a unary call takes one: its reply).
    #[serde(default)]
    pub(super) messages: Vec<String>,
    /// Trailing metadata (streams only).
    #[serde(default)]
    #[schemars(with = "Option<HeaderTable>")]
    pub(super) trailing_metadata: Option<Spanned<toml::Table>>,
    /// Close with this gRPC status (0 to 16) after the rest.
    #[serde(default)]
    pub(super) status: Option<Spanned<u32>>,
    /// The close's message.
    #[serde(default)]
    pub(super) message: Option<String>,
    /// Let it time out: the clock moves to its timeout.
    #[serde(default)]
    pub(super) timeout: Option<Spanned<bool>>,
    /// Expectations on the call the plugin made.
    #[serde(default)]
    pub(super) expect: Option<RawGrpcExpect>,
}

/// Expectations on a gRPC call or stream the plugin opened.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGrpcExpect {
    /// The upstream cluster.
    #[serde(default)]
    pub(super) cluster: Option<String>,
    /// The service.
    #[serde(default)]
    pub(super) service: Option<String>,
    /// The method.
    #[serde(default)]
    pub(super) method: Option<String>,
    /// "call" (unary) or "stream".
    #[serde(default)]
    pub(super) kind: Option<Spanned<String>>,
    /// The messages it sent so far, in order.
    #[serde(default)]
    pub(super) messages: Option<Vec<String>>,
    /// Its initial metadata.
    #[serde(default)]
    pub(super) metadata: RawHeaderExpect,
    /// A unary call's timeout: a duration ("0ms": none).
    #[serde(default)]
    pub(super) timeout: Option<Spanned<String>>,
}

/// Expectations on a TCP connection at the end of its step.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTcpExpect {
    /// Every byte the upstream received so far.
    #[serde(default)]
    pub(super) upstream_received: Option<String>,
    /// Every byte the client received so far.
    #[serde(default)]
    pub(super) client_received: Option<String>,
    /// Client bytes the plugin holds back.
    #[serde(default)]
    pub(super) buffered: Option<String>,
    /// What proxy_on_new_connection returned: "continue" or "pause".
    #[serde(default)]
    pub(super) new_connection: Option<Spanned<String>>,
    /// The sides the plugin closed: "downstream", "upstream".
    #[serde(default)]
    pub(super) closed_by_plugin: Option<Vec<Spanned<String>>>,
    /// Whether the connection finished (on_done, on_log, on_delete ran).
    #[serde(default)]
    pub(super) finished: Option<bool>,
}

/// Expectations on one side's headers.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHeaderExpect {
    /// Headers that must be present.
    #[serde(default)]
    pub(super) has: Vec<String>,
    /// Headers that must be absent.
    #[serde(default)]
    pub(super) absent: Vec<String>,
    /// Exact values: a string (the only value) or a list (every value, in order).
    #[serde(default)]
    #[schemars(with = "Option<HeaderTable>")]
    pub(super) equals: Option<Spanned<toml::Table>>,
    /// Regexes some value of the header matches.
    #[serde(default)]
    #[schemars(with = "Option<StringTable>")]
    pub(super) matches: Option<Spanned<toml::Table>>,
    /// The exact header list, in order: `[["name", "value"], ...]`.
    #[serde(default)]
    pub(super) exactly: Option<Spanned<Vec<Vec<String>>>>,
}

/// Expectations on a local response.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLocal {
    /// Its status.
    #[serde(default)]
    pub(super) status: Option<u32>,
    /// Its details (`response.code_details`).
    #[serde(default)]
    pub(super) details: Option<String>,
    /// A regex its body matches.
    #[serde(default)]
    pub(super) body: Option<Spanned<String>>,
    /// The reason phrase of the HTTP/1.1 status line the client got, as the
    /// host profile writes it: Envoy the status code's standard phrase
    /// ("Unauthorized"), Kong the details (`jwt_decode_failed`).
    #[serde(default)]
    pub(super) reason: Option<String>,
}

/// A callout that ended during a step, and how.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFinishedCallout {
    /// How it ended: "answered" (a response, a gRPC reply or close),
    /// "failed" (reset), "timed_out", "cancelled" (by the plugin:
    /// proxy_grpc_cancel) or "dropped" (it went unanswered with its VM or
    /// plugin: a failed VM, a rebuild, a plugin that did not start).
    #[schemars(with = "super::shapes::CalloutEndName")]
    pub(super) ended: Spanned<String>,
    /// "http" (default) or "grpc": entries of each kind are checked, in
    /// order, against the callouts of that kind.
    #[serde(default)]
    #[schemars(with = "Option<super::shapes::CalloutKind>")]
    pub(super) kind: Option<Spanned<String>>,
    /// The cluster (upstream) it went to.
    #[serde(default)]
    pub(super) cluster: Option<String>,
}

/// Expectations on a step and its stream.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStreamExpect {
    /// true or "headers": the upstream received the request headers;
    /// "whole": it received the whole request (end of stream); false: nothing.
    #[serde(default)]
    #[schemars(with = "Option<super::shapes::Forwarded>")]
    pub(super) forwarded: Option<Spanned<toml::Value>>,
    /// The request as the upstream received it.
    #[serde(default)]
    pub(super) upstream_headers: RawHeaderExpect,
    /// The response as the client received it.
    #[serde(default)]
    pub(super) client_headers: RawHeaderExpect,
    /// The request trailers the upstream received (none sent: every `has`
    /// is missing, `exactly = []` holds).
    #[serde(default)]
    pub(super) upstream_trailers: RawHeaderExpect,
    /// The response trailers the client received.
    #[serde(default)]
    pub(super) client_trailers: RawHeaderExpect,
    /// How the stream ended: "reset" (proxy_close_stream, a local reply
    /// after the response started, an idle timeout then), "local_response"
    /// (the plugin or the host answered locally) or "normally" (neither).
    #[serde(default)]
    #[schemars(with = "Option<super::shapes::EndedName>")]
    pub(super) ended: Option<Spanned<String>>,
    /// Exactly the callouts that ended during the step (those of earlier
    /// steps included), oldest first per kind, and how each ended.
    #[serde(default)]
    pub(super) finished_callouts: Option<Vec<Spanned<RawFinishedCallout>>>,
    /// The request body the upstream received.
    #[serde(default)]
    pub(super) upstream_body: Option<String>,
    /// The response body the client received.
    #[serde(default)]
    pub(super) client_body: Option<String>,
    /// A local response was sent, with these properties.
    #[serde(default)]
    pub(super) local_response: Option<RawLocal>,
    /// Log lines of this step: a regex each, or `{ match, level, count }`.
    #[serde(default)]
    pub(super) logs: Vec<Spanned<RawLog>>,
    /// Exactly these lines logged in this step, in order (a regex each, or
    /// `{ match, level, count }`).
    #[serde(default)]
    pub(super) exact_logs: Option<Vec<Spanned<RawLog>>>,
    /// After the step: the tick period the plugin set ("0ms": none).
    #[serde(default)]
    pub(super) tick_period: Option<Spanned<String>>,
    /// After the step: whether the plugin's root context was deleted.
    #[serde(default)]
    pub(super) deleted: Option<bool>,
    /// With `shutdown`: what the root's on_done returned (false: it finishes
    /// later, by proxy_done).
    #[serde(default)]
    pub(super) on_done: Option<bool>,
    /// How many callouts the plugin made in this step.
    #[serde(default)]
    pub(super) callouts: Option<usize>,
    /// With [[virtual_hosts]]: the route the stream's route cache held at its end.
    #[serde(default)]
    pub(super) route: Option<String>,
    /// With [[virtual_hosts]]: the cluster the upstream request went to.
    #[serde(default)]
    pub(super) upstream_cluster: Option<String>,
    /// The step's TCP connection.
    #[serde(default)]
    pub(super) tcp: Option<RawTcpExpect>,
    /// How many gRPC calls and streams the plugin opened in this step.
    #[serde(default)]
    pub(super) grpc_calls: Option<usize>,
    /// After the step: properties as the plugin reads them outside a stream
    /// (nested tables or dotted keys; strings, integers, booleans).
    #[serde(default)]
    #[schemars(with = "Option<PropertyTable>")]
    pub(super) properties: Option<Spanned<toml::Table>>,
    /// After the step: properties the plugin cannot read (NotFound).
    #[serde(default)]
    pub(super) absent_properties: Vec<Spanned<String>>,
    /// At most this much wasmtime fuel in the step's guest calls (exact and
    /// deterministic: a budget a CI run can hold a plugin to).
    #[serde(default)]
    pub(super) max_fuel: Option<u64>,
    /// How many times the plugins called these host functions during the
    /// step (0: never), e.g. `{ proxy_http_call = 1 }`.
    #[serde(default)]
    pub(super) host_calls: std::collections::BTreeMap<String, u64>,
    /// Exactly what the plugin set with proxy_set_property on the step's
    /// stream (its filter state), as nested tables or dotted keys.
    #[serde(default)]
    #[schemars(with = "Option<PropertyTable>")]
    pub(super) properties_set: Option<Spanned<toml::Table>>,
    /// With `chain`: the plugin (its id) whose local reply the client got.
    #[serde(default)]
    pub(super) local_reply_from: Option<Spanned<String>>,
    /// The worker that served the step's stream.
    #[serde(default)]
    pub(super) worker: Option<usize>,
    /// With `reload`: "accepted", or "rejected" (the new version did not
    /// start: Envoy NACKs the update and the old version keeps serving).
    #[serde(default)]
    pub(super) reload: Option<Spanned<String>>,
    /// What the stream's callbacks returned, by callback: "continue",
    /// "pause" (any stop) or an exact action ("stop_iteration_and_buffer",
    /// ...) for the last call, or a list for every call, in order.
    #[serde(default)]
    pub(super) actions: Option<RawActions>,
    /// After the step: what the host holds for the step's plugin's VM
    /// (host-sim's `Usage`), field = its exact value; fields left out are
    /// not checked.
    #[serde(default)]
    #[schemars(with = "Option<crate::Usage>")]
    pub(super) usage: Option<Spanned<toml::Table>>,
}

/// What each HTTP callback of a stream returned (`expect.actions`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawActions {
    /// proxy_on_request_headers.
    #[serde(default)]
    #[schemars(with = "Option<super::shapes::ActionValue>")]
    pub(super) request_headers: Option<Spanned<toml::Value>>,
    /// proxy_on_request_body (one call per chunk).
    #[serde(default)]
    #[schemars(with = "Option<super::shapes::ActionValue>")]
    pub(super) request_body: Option<Spanned<toml::Value>>,
    /// proxy_on_request_trailers.
    #[serde(default)]
    #[schemars(with = "Option<super::shapes::ActionValue>")]
    pub(super) request_trailers: Option<Spanned<toml::Value>>,
    /// proxy_on_response_headers.
    #[serde(default)]
    #[schemars(with = "Option<super::shapes::ActionValue>")]
    pub(super) response_headers: Option<Spanned<toml::Value>>,
    /// proxy_on_response_body (one call per chunk).
    #[serde(default)]
    #[schemars(with = "Option<super::shapes::ActionValue>")]
    pub(super) response_body: Option<Spanned<toml::Value>>,
    /// proxy_on_response_trailers.
    #[serde(default)]
    #[schemars(with = "Option<super::shapes::ActionValue>")]
    pub(super) response_trailers: Option<Spanned<toml::Value>>,
}

impl RawActions {
    /// Each callback's expectation, by the callback's name as the driver
    /// records it in the report's `actions`.
    pub(super) fn each(&self) -> [(&'static str, &Option<Spanned<toml::Value>>); 6] {
        [
            ("request_headers", &self.request_headers),
            ("request_body", &self.request_body),
            ("request_trailers", &self.request_trailers),
            ("response_headers", &self.response_headers),
            ("response_body", &self.response_body),
            ("response_trailers", &self.response_trailers),
        ]
    }
}

/// A shared-data entry expected at the end.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSharedDataExpect {
    /// The VM id (default "").
    #[serde(default)]
    pub(super) vm_id: String,
    /// The key.
    pub(super) key: String,
    /// Its value (omit with `absent`).
    #[serde(default)]
    pub(super) value: Option<String>,
    /// Its CAS.
    #[serde(default)]
    pub(super) cas: Option<u32>,
    /// The key must not be set.
    #[serde(default)]
    pub(super) absent: bool,
}

/// A shared queue's items expected at the end.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueueExpect {
    /// The VM id (default "").
    #[serde(default)]
    pub(super) vm_id: String,
    /// The queue name.
    pub(super) name: String,
    /// Its items, oldest first.
    pub(super) items: Vec<String>,
}

/// Expectations on one plugin's VM.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPluginExpect {
    /// The plugin does not start (a rejected configuration, a trap or
    /// proc_exit at start): a passing outcome; its steps are skipped.
    #[serde(default)]
    pub(super) start_fails: Option<bool>,
    /// A regex the start error matches.
    #[serde(default)]
    pub(super) start_error: Option<Spanned<String>>,
    /// Whether the plugin's VM failed (default: a failure fails the run).
    #[serde(default)]
    pub(super) vm_failed: Option<bool>,
    /// How many times the VM was rebuilt.
    #[serde(default)]
    pub(super) rebuilds: Option<u32>,
}

/// Expectations on the whole run.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpect {
    /// Log lines of the run: a regex each, or `{ match, level, count }`.
    #[serde(default)]
    pub(super) logs: Vec<Spanned<RawLog>>,
    /// Exactly these lines, in order (every VM's, plugin start included).
    #[serde(default)]
    pub(super) exact_logs: Option<Vec<Spanned<RawLog>>>,
    /// Histograms' recorded values, in order (by raw name or series).
    #[serde(default)]
    #[schemars(with = "Option<std::collections::BTreeMap<String, Vec<u64>>>")]
    pub(super) histograms: Option<Spanned<toml::Table>>,
    /// Regexes no log line may match.
    #[serde(default)]
    pub(super) no_logs: Vec<Spanned<String>>,
    /// Metrics: a counter's or gauge's value, a histogram's sample count.
    #[serde(default)]
    #[schemars(with = "Option<std::collections::BTreeMap<String, i64>>")]
    pub(super) metrics: Option<Spanned<toml::Table>>,
    /// How many times the VM of every plugin without its own expectation was rebuilt.
    #[serde(default)]
    pub(super) rebuilds: Option<u32>,
    /// Whether the VM of every plugin without its own expectation failed.
    #[serde(default)]
    pub(super) vm_failed: Option<bool>,
    /// The plugin (of the single form) does not start: a passing outcome.
    #[serde(default)]
    pub(super) start_fails: Option<bool>,
    /// A regex the start error matches.
    #[serde(default)]
    pub(super) start_error: Option<Spanned<String>>,
    /// Per plugin (by `id` of `[[plugins]]`): `vm_failed` and `rebuilds`.
    #[serde(default)]
    pub(super) plugins: std::collections::BTreeMap<String, Spanned<RawPluginExpect>>,
    /// Shared data at the end: value and CAS, or absent.
    #[serde(default)]
    pub(super) shared_data: Vec<Spanned<RawSharedDataExpect>>,
    /// Shared queues' items at the end.
    #[serde(default)]
    pub(super) queues: Vec<Spanned<RawQueueExpect>>,
    /// Envoy filter state the plugins set with the foreign function
    /// `set_envoy_filter_state`: key = the value it was last set to.
    #[serde(default)]
    pub(super) filter_state: std::collections::BTreeMap<String, String>,
    /// Properties the plugins declared with the foreign function `declare_property`.
    #[serde(default)]
    pub(super) declared_properties: Vec<String>,
}
