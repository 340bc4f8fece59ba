//! The `host-sim` binary run on the scenario files under `tests/scenarios/`:
//! exit codes, the trace and metrics it prints, failed expectations named,
//! and malformed files reported with their line and field.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use guest_build::{Guest, Target};

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

/// A temporary directory holding the scenario files and the header-decode
/// plugin built from source (the scenarios name it `header-decode.wasm`).
fn workdir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("host-sim-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(scenarios()).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
        let wasm = Guest::package("sluice-example-header-decode").target(Target::Wasip1).bytes().expect("builds");
        std::fs::write(dir.join("header-decode.wasm"), wasm).unwrap();
        dir
    })
}

fn run(args: &[&str], file: &str) -> (i32, String, String) {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_host-sim"))
        .args(args)
        .arg(workdir().join(file))
        .output()
        .expect("host-sim runs");
    let code = output.status.code().expect("an exit code");
    (code, String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap())
}

#[test]
fn a_passing_scenario_prints_the_trace_and_metrics_and_exits_0() {
    let (code, out, err) = run(&["run"], "header-decode-pass.toml");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("── stream 1: valid token ──"), "{out}");
    assert!(out.contains("~ x-user-id: admin -> alice"), "the header diff: {out}");
    assert!(out.contains("✋ local response 401"), "{out}");
    assert!(out.contains("clock advanced 1000 ms"), "{out}");
    assert!(out.contains("# TYPE header_decode_decode_ok counter\nheader_decode_decode_ok 1\n"), "{out}");
    assert!(out.contains("PASS: every expectation held (2 streams)"), "{out}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn json_output_is_one_report() {
    let (code, out, err) = run(&["run", "--json"], "header-decode-pass.toml");
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["failures"].as_array().unwrap().len(), 0);
    assert_eq!(report["steps"][0]["name"], "valid token");
    assert_eq!(report["steps"][1]["local_response"][0], 401);
    assert!(report["prometheus"].as_str().unwrap().contains("header_decode_rejected 1"));
}

#[test]
fn a_failing_scenario_names_each_failed_expectation_and_exits_1() {
    let (code, out, err) = run(&["run"], "header-decode-fail.toml");
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("FAIL: 2 expectation(s) failed"), "{out}");
    assert!(
        err.contains(
            r#"stream 1 (valid token): expect.upstream_headers.equals: `x-user-id` should be "bob", found ["alice"]"#
        ),
        "{err}"
    );
    assert!(err.contains(r#"expect.metrics."header_decode.decode_ok": expected 5, found 1"#), "{err}");
}

#[test]
fn malformed_scenarios_report_line_and_field_and_exit_2() {
    let cases = [
        ("malformed-field.toml", ":7:1: field `stream[1].request.hedaers`: unknown field `hedaers`"),
        ("malformed-regex.toml", ":7:9: field `stream[1].expect.logs`: not a valid regex"),
        ("malformed-duration.toml", ":5:11: field `stream[1].advance`: expected a duration"),
    ];
    for (file, expected) in cases {
        let (code, out, err) = run(&["run"], file);
        assert_eq!(code, 2, "{file}: {out}\n{err}");
        assert!(err.contains(file) && err.contains(expected), "{file}: {err}");
        assert!(out.is_empty());
    }
}

#[test]
fn a_missing_plugin_exits_3_and_usage_errors_exit_2() {
    let (code, _, err) = run(&["run"], "missing-plugin.toml");
    assert_eq!(code, 3);
    assert!(err.contains("cannot read the plugin") && err.contains("no-such-plugin.wasm"), "{err}");
    let (code, _, err) = run(&["frobnicate"], "header-decode-pass.toml");
    assert_eq!(code, 2);
    assert!(err.contains("unknown command"), "{err}");
    let help = Command::new(env!("CARGO_BIN_EXE_host-sim")).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8(help.stdout).unwrap().contains("exit codes:"));
}
