fn main() {
    let format = "{}";
    sluice::error!(format, 1);
}
