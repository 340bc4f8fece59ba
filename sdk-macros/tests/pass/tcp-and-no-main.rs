// A TCP plugin with a VM configuration, its own entry point (`no_main`),
// shared state and the context id; driven natively to check the wiring.
use std::cell::Cell;
use std::rc::Rc;

use sluice::native::{Host, HostResult, Instance};
use sluice::{Action, Config, RootContext, TcpContext};

#[derive(Config, Default)]
#[sluice(default)]
struct VmSettings {
    limit: usize,
}

#[derive(RootContext)]
#[sluice(vm_config = VmSettings, tcp = Counter, no_main)]
struct Plugin {
    #[sluice(vm_config)]
    vm: Option<Rc<VmSettings>>,
    #[sluice(shared)]
    bytes: Rc<Cell<usize>>,
}

impl RootContext for Plugin {
    fn on_vm_start(&mut self, _: sluice::Configuration) -> bool {
        // An empty VM configuration reads as `{}`: every field from `Default`.
        self.vm.as_ref().is_some_and(|vm| vm.limit == 0)
    }
}

#[derive(TcpContext)]
struct Counter {
    #[sluice(shared)]
    bytes: Rc<Cell<usize>>,
    #[sluice(context_id)]
    id: u32,
}

impl TcpContext for Counter {
    fn on_downstream_data(&mut self, size: usize, _: bool) -> Action {
        // The budget is shared by every connection of the root.
        self.bytes.set(self.bytes.get() + size);
        if self.bytes.get() > 100 + self.id as usize { Action::Pause } else { Action::Continue }
    }
}

sluice::main! {
    sluice::plugin::register::<Plugin>();
}

struct Silent;
impl Host for Silent {
    fn log(&self, _: u32, _: &[u8]) -> HostResult<()> {
        Ok(())
    }
}

fn main() {
    let mut plugin = Instance::new(Rc::new(Silent));
    plugin.enter(sluice_main);
    plugin.on_context_create(1, 0);
    assert!(plugin.on_vm_start(1, 0));
    assert!(plugin.on_configure(1, 0));
    plugin.on_context_create(7, 1);
    plugin.on_context_create(8, 1);
    assert_eq!(plugin.context_count(), 3);
    // 100 bytes on connection 7: within 100 + 7.
    assert_eq!(plugin.on_downstream_data(7, 100, false), 0, "continue");
    // 10 more on connection 8: the shared total 110 exceeds 100 + 8.
    assert_eq!(plugin.on_downstream_data(8, 10, false), 1, "pause");
}
