fn main() {
    sluice::warn!("static text", 42);
}
