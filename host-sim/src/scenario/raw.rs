//! The TOML shape of a scenario file, deserialized with spans for error
//! positions; [`super::format`] checks it into a [`super::format::Scenario`].

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) plugin: Spanned<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) root_id: Option<String>,
    #[serde(default)]
    pub(super) vm_id: Option<String>,
    #[serde(default)]
    pub(super) configuration: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) vm_configuration: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) properties: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub(super) environment: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub(super) foreign_functions: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub(super) clusters: Option<Vec<String>>,
    #[serde(default)]
    pub(super) virtual_hosts: Vec<Spanned<RawVirtualHost>>,
    #[serde(default)]
    pub(super) profile: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) strict: bool,
    #[serde(default)]
    pub(super) fail_policy: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) rebuild: Option<RawRebuild>,
    #[serde(default)]
    pub(super) stream: Vec<RawStep>,
    #[serde(default)]
    pub(super) expect: RawExpect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRebuild {
    pub(super) max: u32,
    pub(super) interval: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVirtualHost {
    pub(super) name: String,
    pub(super) domains: Spanned<Vec<String>>,
    #[serde(default)]
    pub(super) routes: Vec<Spanned<RawRoute>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) prefix: Option<String>,
    #[serde(default)]
    pub(super) headers: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub(super) cluster: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) cluster_header: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) advance: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) ticks: u32,
    #[serde(default)]
    pub(super) request: Option<Spanned<RawMessage>>,
    #[serde(default)]
    pub(super) callouts: Vec<RawCallout>,
    #[serde(default)]
    pub(super) hold: Option<Spanned<bool>>,
    #[serde(default)]
    pub(super) response: Option<Spanned<RawMessage>>,
    #[serde(default)]
    pub(super) expect: RawStreamExpect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMessage {
    #[serde(default)]
    pub(super) method: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) path: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) authority: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) scheme: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) status: Option<Spanned<u16>>,
    #[serde(default)]
    pub(super) headers: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub(super) body: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) trailers: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCallout {
    #[serde(default)]
    pub(super) cluster: Option<String>,
    #[serde(default)]
    pub(super) fail: bool,
    #[serde(default)]
    pub(super) timeout: Option<Spanned<bool>>,
    #[serde(default)]
    pub(super) status: Option<u16>,
    #[serde(default)]
    pub(super) headers: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub(super) body: Option<String>,
    #[serde(default)]
    pub(super) trailers: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHeaderExpect {
    #[serde(default)]
    pub(super) has: Vec<String>,
    #[serde(default)]
    pub(super) absent: Vec<String>,
    #[serde(default)]
    pub(super) equals: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub(super) matches: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLocal {
    #[serde(default)]
    pub(super) status: Option<u32>,
    #[serde(default)]
    pub(super) details: Option<String>,
    #[serde(default)]
    pub(super) body: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStreamExpect {
    #[serde(default)]
    pub(super) forwarded: Option<bool>,
    #[serde(default)]
    pub(super) upstream_headers: RawHeaderExpect,
    #[serde(default)]
    pub(super) client_headers: RawHeaderExpect,
    #[serde(default)]
    pub(super) upstream_body: Option<String>,
    #[serde(default)]
    pub(super) client_body: Option<String>,
    #[serde(default)]
    pub(super) local_response: Option<RawLocal>,
    #[serde(default)]
    pub(super) logs: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) callouts: Option<usize>,
    #[serde(default)]
    pub(super) route: Option<String>,
    #[serde(default)]
    pub(super) upstream_cluster: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpect {
    #[serde(default)]
    pub(super) logs: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) no_logs: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) metrics: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub(super) rebuilds: Option<u32>,
    #[serde(default)]
    pub(super) vm_failed: Option<bool>,
}
