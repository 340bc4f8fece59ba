use sluice::{HttpContext, RootContext, TcpContext};

#[derive(RootContext)]
#[sluice(http = Filter, tcp = Counter)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct Filter;
impl HttpContext for Filter {}

#[derive(TcpContext)]
struct Counter;
impl TcpContext for Counter {}

fn main() {}
