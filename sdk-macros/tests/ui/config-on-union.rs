use sluice::Config;

#[derive(Config)]
union Settings {
    a: u32,
    b: f32,
}

fn main() {}
