//! Workspace-level tests live in `tests/tests/`; guests they run live in `tests/guests/`.
