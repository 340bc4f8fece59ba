//! Every diagnostic the derives emit, as trybuild snapshots
//! (`tests/ui/<error-name>.rs` + `.stderr`), and plugins that must compile
//! and run (`tests/pass/`). Regenerate snapshots with `TRYBUILD=overwrite`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/pass/*.rs");
}
