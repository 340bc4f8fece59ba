//! Rebuilding a failed VM when the next stream starts, within the
//! crash-loop limit: a new instance of the same compiled module with the same
//! settings, its plugins started again on their root context ids, and the
//! old VM's streams and logs carried over.

use super::Host;
use crate::error::Error;
use crate::failure::{Admission, Rebuilds, summary};
use crate::spec::PluginId;
use crate::state::contexts::Lifecycle;
use crate::state::logs::Ring;
use crate::store::PluginState;
use crate::types::LogLevel;
use crate::vm::Vm;

/// `older` followed by the items of `newer` (capacity of `older`).
fn append<T: Clone>(mut older: Ring<T>, newer: &Ring<T>) -> Ring<T> {
    for item in newer.iter() {
        older.push(item.clone());
    }
    older
}

impl Host {
    /// The rebuilds of a plugin's VM (see [`PluginSpec::rebuild`](crate::PluginSpec::rebuild)):
    /// how many, how many the crash-loop limit refused, whether it holds the
    /// VM failed now, and why each rebuild was needed.
    pub fn rebuilds(&self, plugin: PluginId) -> Rebuilds {
        self.world().rebuilds.stats(plugin.vm)
    }

    /// Before a stream starts: rebuilds VM `index` if it failed and its
    /// plugins asked for rebuilds, unless the crash-loop limit is reached. A
    /// rebuild that fails leaves the VM failed (and counts).
    pub(crate) fn rebuild_if_failed(&mut self, index: usize) -> Result<(), Error> {
        let Some(reason) = self.vms.get(index).and_then(|vm| vm.failed.clone()) else { return Ok(()) };
        let Some(rule) = self.world().policy.rebuild.get(&index).copied() else { return Ok(()) };
        let admission = {
            let mut world = self.world();
            let now = world.clock.monotonic_ns();
            world.rebuilds.admit(index, rule, now, &reason)
        };
        let limit = format!("at most {} per {:?} of virtual time", rule.max, rule.interval);
        let why = summary(&reason);
        match admission {
            Admission::Refused { first } => {
                if first {
                    let message = format!("crash loop: not rebuilding the failed VM ({limit}); it stays failed");
                    self.vms[index].note(0, LogLevel::Error, message);
                }
                Ok(())
            }
            Admission::Rebuild(n) => match self.rebuild(index) {
                Ok(()) => {
                    let message = format!("rebuilt the failed VM (rebuild {n} within the interval, {limit}): {why}");
                    self.vms[index].note(0, LogLevel::Warn, message);
                    self.pump()
                }
                Err(e) => {
                    self.world().rebuilds.attempt_failed(index, format!("rebuild failed: {e}"));
                    self.vms[index].note(0, LogLevel::Error, format!("rebuilding the failed VM failed: {e}"));
                    Ok(())
                }
            },
        }
    }

    /// Replaces VM `index` by a new instance with its plugins started again.
    /// The old VM's callouts and timers are dropped; its open streams move to
    /// the new VM, handed to their plugin's fail policy (they belong to the
    /// failed instance), so their context ids stay taken.
    fn rebuild(&mut self, index: usize) -> Result<(), Error> {
        let old = &self.vms[index];
        let (compiled, settings) = (old.compiled.clone(), old.settings.clone());
        let contexts = old.state().contexts.clone();
        let mut plugins: Vec<(u32, PluginState)> = old.state().plugins.iter().map(|(r, p)| (*r, p.clone())).collect();
        plugins.sort_by_key(|(root, _)| *root);
        {
            let mut world = self.world();
            world.callouts.forget_vm(index);
            for (root, _) in &plugins {
                world.timers.remove((index, *root));
            }
        }
        let mut vm = Vm::new(compiled, index, settings, self.world.clone(), &mut self.lost_logs)?;
        vm.state_mut().contexts = contexts;
        for (root, plugin) in plugins {
            let live = vm.state().contexts.get(root).is_some_and(|c| c.lifecycle == Lifecycle::Live);
            if plugin.deleted || !live {
                vm.state_mut().contexts.remove(root);
                vm.state_mut().plugins.insert(root, PluginState { deleted: true, ..plugin });
            } else {
                vm.start_root(root, plugin)?;
            }
        }
        let from = self.vms[index].state_mut();
        let to = vm.state_mut();
        to.http = std::mem::take(&mut from.http);
        to.tcp = std::mem::take(&mut from.tcp);
        to.stream_properties = std::mem::take(&mut from.stream_properties);
        to.logs = append(std::mem::replace(&mut from.logs, Ring::new(0)), &to.logs);
        to.trace = append(std::mem::replace(&mut from.trace, Ring::new(0)), &to.trace);
        let policy_of = |root: Option<u32>| root.and_then(|r| to.plugins.get(&r)?.fail_policy).unwrap_or_default();
        for (id, stream) in to.http.iter_mut().filter(|(_, s)| !s.finished) {
            stream.fail_policy.get_or_insert(policy_of(to.contexts.root_of(*id)));
        }
        for (id, connection) in to.tcp.iter_mut().filter(|(_, c)| !c.finished) {
            connection.fail_policy.get_or_insert(policy_of(to.contexts.root_of(*id)));
        }
        self.vms[index] = vm;
        Ok(())
    }
}
