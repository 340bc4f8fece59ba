//! `host-sim run <scenario.toml>...`: runs Proxy-Wasm plugins through
//! scenario files and prints what happened. The format and the exit codes
//! are in host-sim's README.

use std::path::PathBuf;
use std::process::ExitCode;

use host_sim::scenario;

const USAGE: &str = "\
usage: host-sim run [--json] <scenario.toml>...
       host-sim schema

Runs Proxy-Wasm plugins through each scenario file and prints a trace of
every stream, the final metrics in Prometheus text format, and the result.
`schema` prints the scenario format's JSON Schema (for editors: put
`#:schema <file>` on a scenario's first line).

options:
  --json      print one JSON report per scenario instead of the trace
  -h, --help  show this help

exit codes:
  0  every expectation held
  1  an expectation failed (each one is named)
  2  usage error, or a scenario file is invalid (file:line:column and field)
  3  the plugin could not run (module missing, or it did not start)
";

/// Writes `text` to standard output; `false` once the reader has gone
/// (`host-sim schema | head`): the rest of the output is dropped, as Unix
/// tools do, instead of panicking as `print!` would. Any other write error
/// is reported and makes the exit code 3.
fn out(text: &str, code: &mut u8) -> bool {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => false,
        Err(e) => {
            err(&format!("error: cannot write to standard output: {e}"));
            *code = (*code).max(3);
            false
        }
    }
}

/// Writes a line to standard error, which may be closed too (`2>&1 |
/// head`): then the line is dropped instead of panicking as `eprintln!`
/// would; the exit code still says what happened.
fn err(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") || args.first().is_some_and(|a| a == "help") {
        let mut code = 0;
        out(USAGE, &mut code);
        return ExitCode::from(code);
    }
    let Some((command, rest)) = args.split_first() else {
        err(USAGE.trim_end());
        return ExitCode::from(2);
    };
    if command == "schema" && rest.is_empty() {
        match serde_json::to_string_pretty(&scenario::schema()) {
            Ok(text) => {
                let mut code = 0;
                out(&format!("{text}\n"), &mut code);
                return ExitCode::from(code);
            }
            Err(e) => {
                err(&format!("error: cannot write the schema: {e}"));
                return ExitCode::from(3);
            }
        }
    }
    if command != "run" {
        err(&format!("host-sim: unknown command {command:?}\n\n{USAGE}"));
        return ExitCode::from(2);
    }
    let json = rest.iter().any(|a| a == "--json");
    let files: Vec<PathBuf> = rest.iter().filter(|a| *a != "--json").map(PathBuf::from).collect();
    if let Some(flag) = files.iter().find(|f| f.to_string_lossy().starts_with('-')) {
        err(&format!("host-sim: unknown option {}\n\n{USAGE}", flag.display()));
        return ExitCode::from(2);
    }
    if files.is_empty() {
        err(&format!("host-sim: no scenario file given\n\n{USAGE}"));
        return ExitCode::from(2);
    }
    let mut code = 0u8;
    for file in &files {
        let scenario = match scenario::load(file) {
            Ok(s) => s,
            Err(e) => {
                err(&format!("error: invalid scenario: {e}"));
                code = code.max(2);
                continue;
            }
        };
        let report = match scenario::run(&scenario) {
            Ok(r) => r,
            Err(scenario::RunError::Invalid(e)) => {
                err(&format!("error: invalid scenario: {e}"));
                code = code.max(2);
                continue;
            }
            Err(e) => {
                err(&format!("error: {}: {e}", file.display()));
                code = code.max(3);
                continue;
            }
        };
        let written = if json {
            match serde_json::to_string_pretty(&report) {
                Ok(text) => out(&format!("{text}\n"), &mut code),
                Err(e) => {
                    err(&format!("error: cannot write the JSON report: {e}"));
                    code = code.max(3);
                    true
                }
            }
        } else {
            out(&scenario::trace::render(&report), &mut code)
        };
        if !report.passed() {
            for f in &report.failures {
                err(&format!("failed: {}: {f}", file.display()));
            }
            code = code.max(1);
        }
        if !written {
            // Nobody reads the rest: the exit code still covers what ran.
            break;
        }
    }
    ExitCode::from(code)
}
