//! Reports of what a plugin did, in formats other tools read.

pub mod prometheus;
