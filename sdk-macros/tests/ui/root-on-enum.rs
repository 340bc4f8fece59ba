use sluice::RootContext;

#[derive(RootContext)]
enum Plugin {
    A,
}

fn main() {}
