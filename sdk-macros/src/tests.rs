//! Expansion tests: the generated items for small inputs.
