fn main() {
    let id = 1;
    sluice::info!("#{} -> {}", id);
}
