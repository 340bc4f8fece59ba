//! The level macros accept Rust's format syntax: positional, indexed and
//! named arguments, captured variables, specifications and escaped braces.
fn main() {
    let (id, name) = (3u64, "x-tenant");
    let value = String::from("acme");
    sluice::trace!("plain");
    sluice::debug!("#{} {}: {}", id, name, value);
    sluice::info!("#{id} {name}={value:?} {0:>5} {{}}", 1.5);
    sluice::warn!("{a}+{b}={}", 3, a = 1, b = 2);
    sluice::error!("{}", sluice::Error::InvalidUtf8);
    sluice::critical!("{:#x}", 255);
}
