use sluice::RootContext;

struct Client {
    cluster: String,
}

#[derive(RootContext)]
struct Plugin {
    client: Client,
}
impl RootContext for Plugin {}

fn main() {}
