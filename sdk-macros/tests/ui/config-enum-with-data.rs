use sluice::Config;

#[derive(Config)]
enum Match {
    Exact,
    Prefix(String),
    Regex { pattern: String },
}

fn main() {}
