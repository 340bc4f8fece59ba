use sluice::Config;

#[derive(Config)]
#[sluice]
struct Settings {
    #[sluice = "name"]
    header: String,
}

fn main() {}
