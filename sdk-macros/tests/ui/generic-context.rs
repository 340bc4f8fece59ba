use sluice::{HttpContext, RootContext};

#[derive(RootContext)]
#[sluice(http = Filter<u8>)]
struct Plugin;
impl RootContext for Plugin {}

#[derive(HttpContext)]
struct Filter<T> {
    value: T,
}
impl<T: 'static> HttpContext for Filter<T> {}

fn main() {}
