fn main() {
    sluice::info!("a } b");
}
