//! The host profile, strict mode and routes of a [`Host`].

use super::Host;
use crate::policy::HostProfile;
use crate::state::foreign::{DeclaredProperty, FilterState};
use crate::state::routes::RouteTable;
impl Host {
    /// Selects the host profile (default [`HostProfile::Envoy133`]); load
    /// plugins after setting it.
    pub fn set_profile(&mut self, profile: HostProfile) {
        self.world().policy.profile = profile;
        self.refresh_policies();
    }

    /// The host profile.
    pub fn profile(&self) -> HostProfile {
        self.world().policy.profile
    }

    /// Strict mode: a host call in the wrong phase (ngx_wasm_module's
    /// hostcall × phase rules, or a header map or buffer that does not
    /// exist in this phase in Envoy) fails the guest call with a message
    /// naming the function, the callback and why, instead of returning a
    /// status. The VM is then failed, and the driving call returns
    /// [`Error::Trap`](crate::Error::Trap) whatever the plugin's fail policy: strict mode is a
    /// tool for failing tests, so a violation is never served as a guest
    /// failure would be (later events of the failed VM get the policy).
    pub fn set_strict(&mut self, strict: bool) {
        self.world().policy.strict = strict;
        self.refresh_policies();
    }

    /// Gives every VM a fresh copy of its [`VmPolicy`](crate::policy::VmPolicy).
    fn refresh_policies(&mut self) {
        let world = self.world.lock().unwrap_or_else(|p| p.into_inner());
        for vm in &mut self.vms {
            let state = vm.store.data_mut();
            state.policy = world.policy.for_vm(state.index);
        }
    }

    /// Sets the route table: each HTTP stream selects its route and cluster
    /// when its request headers arrive (properties `route_name`,
    /// `cluster_name`, `xds.route_name`, `xds.cluster_name`). An empty table
    /// turns routing off (the properties then come from the defaults).
    pub fn set_routes(&mut self, table: RouteTable) {
        self.world().routes = table;
    }

    /// What plugins set with `set_envoy_filter_state` from a stream: one
    /// record per key, its last value and who set it (bounded by the
    /// setting VM's `property_bytes`; see [`crate::Limits`]).
    pub fn filter_state(&self) -> Vec<FilterState> {
        self.world().foreign.filter_state.clone()
    }

    /// The properties plugins declared with `declare_property`, in the
    /// order they were declared, each with its VM and context: every
    /// declaration of every root context (a context declares a name once:
    /// Envoy refuses a repeat with `BAD_ARGUMENT` and keeps the first), and
    /// of the stream contexts' declarations the first of each name per VM
    /// (Envoy drops a stream's declarations with the stream, so a plugin
    /// that declares on every request keeps one record, not one per
    /// request). Bounded by each VM's `property_bytes` (see
    /// [`crate::Limits`]).
    pub fn declared_properties(&self) -> Vec<DeclaredProperty> {
        self.world().foreign.declared.clone()
    }
}
