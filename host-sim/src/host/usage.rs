//! What a [`Host`] holds for one plugin's VM ([`Usage`]).

use super::Host;
use crate::limits::Usage;
use crate::spec::PluginId;
use crate::state::properties::PropertyTree;

impl Host {
    /// What the host holds for a plugin's VM now (see [`Usage`]).
    pub fn usage(&self, plugin: PluginId) -> Option<Usage> {
        let state = self.vms.get(plugin.vm)?.state();
        let world = self.world();
        let (pending_callouts, callout_bytes) = world.callouts.held(plugin.vm);
        let queues = world.queues.held(&state.vm_id);
        let metrics = world.metrics.held(plugin.vm);
        Some(Usage {
            log_lines: state.logs.len(),
            log_bytes: state.logs.bytes(),
            contexts: state.contexts.len(),
            http_streams: state.http.len(),
            tcp_streams: state.tcp.len(),
            property_bytes: state.stream_properties.values().map(PropertyTree::bytes).sum(),
            filter_state_bytes: world.foreign.held(plugin.vm),
            pending_callouts,
            callout_bytes,
            shared_data_bytes: world.shared_data.bytes(&state.vm_id),
            queues: queues.queues,
            queue_items: queues.items,
            queue_bytes: queues.bytes,
            metrics: metrics.metrics,
            histogram_samples: metrics.samples,
        })
    }
}
