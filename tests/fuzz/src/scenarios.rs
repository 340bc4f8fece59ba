//! Malformed scenario files: the repository's scenario files (and the
//! reliability reproducers') mutated at random, through the path the
//! `host-sim` binary takes: `scenario::load`, then `scenario::run`, then the
//! trace and the JSON report. Mutations flip and cut bytes, drop, repeat and
//! swap lines, swap values between fields, put extreme numbers and strings
//! in place of others, and insert fields named by the scenario format's own
//! JSON Schema with extreme values. Every plugin a file names is a
//! cooperative guest (`scenario_guest.wat`) or a generated hostile one.
//!
//! A case fails if anything panics, if text that is not TOML is accepted,
//! or if a refusal does not start with the file's path (the `file:line:column`
//! form of exit code 2).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use host_sim::scenario;

use crate::guest::{self, Options};
use crate::rng::Rng;

/// Hostile guests a mutated file may name instead of its plugin.
const HOSTILE: u64 = 6;

struct Corpus {
    /// Scenario texts.
    files: Vec<String>,
    /// Where plugins are and cases are written.
    dir: PathBuf,
    /// Field names of the scenario format.
    fields: Vec<String>,
}

static CORPUS: OnceLock<Corpus> = OnceLock::new();

/// Removes the work directory of this process (plugins and case files).
pub fn cleanup() {
    if let Some(corpus) = CORPUS.get() {
        let _ = std::fs::remove_dir_all(&corpus.dir);
    }
}

fn corpus() -> &'static Corpus {
    CORPUS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in [root.join("../scenarios"), root.join("../../host-sim/tests/reliability")] {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("the scenario corpus {} is readable: {e}", dir.display()))
                .map(|entry| entry.expect("a directory entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            paths.sort();
            files.extend(paths.iter().map(|p| std::fs::read_to_string(p).expect("a scenario file")));
        }
        let dir = std::env::temp_dir().join(format!("sluice-fuzz-scenarios-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a work directory");
        let cooperative = wat::parse_str(include_str!("scenario_guest.wat")).expect("the scenario guest is valid WAT");
        for name in files.iter().flat_map(|text| plugin_names(text)) {
            std::fs::write(dir.join(name), &cooperative).expect("a plugin file");
        }
        for n in 0..HOSTILE {
            let hostile = guest::generate(&mut Rng::new(n), Options { runaway: false, malformed: false });
            std::fs::write(dir.join(format!("hostile-{n}.wasm")), hostile.wasm).expect("a plugin file");
        }
        let mut fields = Vec::new();
        collect_fields(&scenario::schema(), &mut fields);
        fields.sort();
        fields.dedup();
        Corpus { files, dir, fields }
    })
}

/// The `"*.wasm"` file names a scenario mentions (without directories).
fn plugin_names(text: &str) -> Vec<&str> {
    text.split('"').filter(|s| s.ends_with(".wasm") && !s.contains('/') && !s.contains('\\')).collect()
}

/// Every property name in a JSON Schema.
fn collect_fields(schema: &serde_json::Value, out: &mut Vec<String>) {
    match schema {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(properties)) = map.get("properties") {
                out.extend(properties.keys().cloned());
            }
            map.values().for_each(|v| collect_fields(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_fields(v, out)),
        _ => {}
    }
}

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "99999999999999999999999",
    "1e400",
    "0x7fffffff",
    "-9223372036854775808",
    "nan",
];

const STRINGS: &[&str] = &[
    "",
    " ",
    "a b",
    "\\u0000",
    "/dev/zero",
    "../../../../../../dev/zero",
    ":path",
    "18446744073709551615ms",
    "18446744073709551615h",
    "0ms",
    "(",
    "[",
    "hostile-0.wasm",
    "hostile-3.wasm",
    "missing.wasm",
    "closed",
    "trace",
];

const VALUES: &[&str] = &[
    "4294967295",
    "18446744073709551615",
    "-1",
    "0",
    "true",
    "\"18446744073709551615ms\"",
    "\"\"",
    "[]",
    "{}",
    "[[\"\", \"\"]]",
    "{ status = 0 }",
    "{ \"a b\" = \"1\" }",
    "\"hostile-1.wasm\"",
];

/// Mutates `text` a few times.
fn mutate(rng: &mut Rng, corpus: &Corpus, text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..rng.range(1, 4) {
        bytes = match rng.below(12) {
            0 if !bytes.is_empty() => {
                let at = rng.index(bytes.len());
                bytes[at] =
                    if rng.chance(50) { *rng.pick(b"[]{}=\"'\n#.,0123456789- \\") } else { rng.next_u64() as u8 };
                bytes
            }
            1 => {
                bytes.truncate(rng.index(bytes.len() + 1));
                bytes
            }
            2 if !bytes.is_empty() => {
                let at = rng.index(bytes.len());
                let end = (at + rng.range(1, 20) as usize).min(bytes.len());
                bytes.drain(at..end);
                bytes
            }
            3..=5 => lines(rng, corpus, &bytes),
            6 | 7 => replace_token(rng, &bytes),
            _ => {
                // A field of the format with an extreme value, on a line of its own.
                let field = rng.pick(&corpus.fields);
                let line = format!("{field} = {}", rng.pick(VALUES));
                insert_line(rng, &bytes, line.as_bytes())
            }
        };
    }
    bytes
}

fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

fn insert_line(rng: &mut Rng, bytes: &[u8], line: &[u8]) -> Vec<u8> {
    let mut lines = split_lines(bytes);
    let at = rng.index(lines.len() + 1);
    lines.insert(at, line.to_vec());
    lines.join(&b'\n')
}

/// Line mutations: drop, repeat, swap, swap two fields' values, take a
/// line of another file.
fn lines(rng: &mut Rng, corpus: &Corpus, bytes: &[u8]) -> Vec<u8> {
    let mut lines = split_lines(bytes);
    let (a, b) = (rng.index(lines.len()), rng.index(lines.len()));
    match rng.below(5) {
        0 => {
            lines.remove(a);
        }
        1 => {
            let line = lines[a].clone();
            lines.insert(b, line);
        }
        2 => lines.swap(a, b),
        3 => {
            let value = |line: &[u8]| line.windows(3).position(|w| w == b" = ").map(|at| at + 3);
            if let (Some(x), Some(y)) = (value(&lines[a]), value(&lines[b])) {
                let (va, vb) = (lines[a][x..].to_vec(), lines[b][y..].to_vec());
                lines[a].truncate(x);
                lines[a].extend(vb);
                lines[b].truncate(y);
                lines[b].extend(va);
            }
        }
        _ => {
            let other = rng.pick(&corpus.files);
            let donor = split_lines(other.as_bytes());
            let line = rng.pick(&donor).clone();
            lines.insert(a, line);
        }
    }
    lines.join(&b'\n')
}

/// Replaces one number or one quoted string with an extreme one.
fn replace_token(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let number = rng.chance(50);
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if number && bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            spans.push((start, i));
        } else if !number && bytes[i] == b'"' {
            let start = i + 1;
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                i += 1;
            }
            spans.push((start, i));
            i += 1;
        } else {
            i += 1;
        }
    }
    if spans.is_empty() {
        return bytes.to_vec();
    }
    let (start, end) = *rng.pick(&spans);
    let long;
    let with = if number {
        *rng.pick(NUMBERS)
    } else if rng.chance(5) {
        long = "a".repeat(70_000);
        &long
    } else {
        *rng.pick(STRINGS)
    };
    let mut out = bytes[..start].to_vec();
    out.extend(with.as_bytes());
    out.extend(&bytes[end.min(bytes.len())..]);
    out
}

/// The scenario file of case `seed` (`sluice-fuzz --kind scenarios --show SEED`).
pub fn case_text(seed: u64) -> Vec<u8> {
    let corpus = corpus();
    let mut rng = Rng::new(seed);
    let text = rng.pick(&corpus.files).clone();
    mutate(&mut rng, corpus, &text)
}

/// Runs case `seed`: the host calls its plugins made (as the report counts
/// them per step), or what host-sim got wrong.
pub fn run(seed: u64) -> Result<u64, String> {
    let corpus = corpus();
    let bytes = case_text(seed);
    let file = corpus.dir.join(format!("case-{seed}.toml"));
    std::fs::write(&file, &bytes).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let result = check(&file, &bytes);
    let _ = std::fs::remove_file(&file);
    result
}

fn check(file: &Path, bytes: &[u8]) -> Result<u64, String> {
    // TOML as host-sim reads it: through serde (the `toml` crate then also
    // takes integers up to u64::MAX where a field is unsigned).
    let is_toml = std::str::from_utf8(bytes).is_ok_and(|text| toml::from_str::<serde::de::IgnoredAny>(text).is_ok());
    let scenario = match scenario::load(file) {
        Ok(scenario) => scenario,
        Err(error) => {
            let shown = error.to_string();
            if !shown.starts_with(&file.display().to_string()) {
                return Err(format!("a refusal does not name the file: {shown}"));
            }
            return Ok(0);
        }
    };
    if !is_toml {
        return Err("text that is not TOML was accepted".into());
    }
    match scenario::run(&scenario) {
        Ok(report) => {
            let _ = scenario::trace::render(&report);
            serde_json::to_string(&report).map_err(|e| format!("the report is not JSON: {e}"))?;
            Ok(report.steps.iter().flat_map(|step| step.host_calls.values()).sum())
        }
        Err(scenario::RunError::Invalid(error)) => {
            let shown = error.to_string();
            if !shown.starts_with(&file.display().to_string()) {
                return Err(format!("a refusal at run time does not name the file: {shown}"));
            }
            Ok(0)
        }
        Err(scenario::RunError::Plugin(_)) => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_names_plugins_and_the_schema_names_fields() {
        let corpus = corpus();
        assert!(corpus.files.len() >= 40, "{} files", corpus.files.len());
        assert!(corpus.dir.join("callout.wasm").is_file());
        for field in ["plugin", "stream", "advance", "ticks", "expect", "fail_policy"] {
            assert!(corpus.fields.iter().any(|f| f == field), "{field} in {:?}", corpus.fields);
        }
    }
}
