use sluice::{RootContext, TcpContext};

#[derive(RootContext)]
#[sluice(tcp = Counter)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(TcpContext)]
struct Counter;

fn main() {}
