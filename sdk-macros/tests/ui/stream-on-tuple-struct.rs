use sluice::TcpContext;

#[derive(TcpContext)]
struct Counter(usize);

impl TcpContext for Counter {}

fn main() {}
