//! The short fuzzing run of `cargo test`: a few thousand deterministic
//! cases over the three kinds (the long run is the `sluice-fuzz` binary;
//! see host-sim's README, "Fuzzing"). Seeds are fixed, so a failure here
//! replays with `cargo run -p sluice-fuzz -- --kind KIND --seed SEED --cases 1`.

use sluice_fuzz::{Kind, Summary, run_cases};

fn assert_clean(kind: Kind, summary: &Summary, cases: u64) {
    let failures: Vec<String> = summary.failures.iter().map(|(seed, why)| format!("seed {seed}: {why}")).collect();
    assert!(failures.is_empty(), "{}: {} failing seed(s):\n{}", kind.name(), failures.len(), failures.join("\n"));
    assert_eq!(summary.cases, cases);
}

#[test]
fn hostile_guests_neither_crash_nor_hang_the_host_and_the_neighbour_is_served() {
    let summary = run_cases(Kind::Guests, 1, 800);
    assert_clean(Kind::Guests, &summary, 800);
    // The guests did call the host, many times: over a thousand calls a
    // case on average (the count is deterministic for these seeds).
    assert!(summary.host_calls > 800_000, "{} host calls", summary.host_calls);
}

#[test]
fn random_host_replies_never_panic_the_sdk() {
    let summary = run_cases(Kind::Sdk, 1, 5000);
    assert_clean(Kind::Sdk, &summary, 5000);
    assert!(summary.host_calls > 200_000, "{} host calls", summary.host_calls);
}

#[test]
fn malformed_scenario_files_are_refused_or_run_without_a_crash() {
    let summary = run_cases(Kind::Scenarios, 1, 2000);
    sluice_fuzz::scenarios::cleanup();
    assert_clean(Kind::Scenarios, &summary, 2000);
    // Many mutated files still run: their plugins (cooperative and hostile)
    // are in the corpus's directory.
    assert!(summary.host_calls > 1_000, "the scenarios ran plugins: {} host calls", summary.host_calls);
}

/// The binary runs cases in a worker it watches and prints the figures.
#[test]
fn the_long_run_binary_reports_cases_host_calls_and_failing_seeds() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sluice-fuzz"))
        .args(["--kind", "guests", "--seed", "7", "--cases", "20"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(out.starts_with("guests: 20 cases in "), "{out}");
    assert!(
        out.contains("cases/s), ") && out.contains(" host calls (") && out.contains(", 0 failing seed(s)"),
        "{out}"
    );
    let usage = std::process::Command::new(env!("CARGO_BIN_EXE_sluice-fuzz")).arg("--bogus").output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}
