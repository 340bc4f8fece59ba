//! host-sim's modules import only downwards: no module imports a module that
//! imports it back, and each top-level module imports only from its own layer
//! or the layers below it.
//!
//! Run it with `cargo test -p host-sim --test integration layers::`.
//!
//! The check reads host-sim's own `src/` files (comments, doc comments,
//! strings and character literals are blanked first, so a path in a doc
//! link or a message is not an import) and builds the graph "module A uses
//! something from module B" from `use` items (`crate::…`, `super::…`,
//! `self::…` and a child module's name), from paths in code (`crate::a::b`,
//! `super::x`), and through re-exports (`pub use`, `pub(crate) use` and plain
//! `use`, since a child may name what its parent imported): a path that ends
//! at a re-exported name counts as an edge to the module that defines it. A
//! module is a file (`src/a/b.rs`, `src/a/mod.rs`); inline `mod tests { … }`
//! blocks belong to their file. `lib.rs` is the crate's facade (it only
//! declares and re-exports) and is not a node; `crate::Host` counts as an
//! edge to the module `Host` comes from.
//!
//! Two granularities are checked for cycles: files, and top-level modules
//! (`vm/lifecycle.rs` belongs to `vm`), the units of [`LAYERS`]. At the file
//! level a module's edges into its own children (`host/mod.rs` naming
//! `host::workers::PluginEntry`, `abi/mod.rs` registering `abi::headers`'s
//! functions, re-exports) are not counted: a parent declares and owns its
//! children, so a child may use its parent's items (`super::Host`)
//! without that being a cycle. Every other edge counts, siblings included.
//!
//! Test code is not part of the layers: items under `#[cfg(test)]` (a
//! `mod tests { … }`, or a `mod tests;` file) are skipped, since a unit test
//! may drive its module through the layers above it (a scenario parser's
//! tests parse whole scenario files).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, bottom first; a top-level module may import from its own
/// layer (without cycles) and from the layers before it.
const LAYERS: &[(&str, &[&str])] = &[
    // Plain data: the ABI's vocabulary, errors, per-area host state, the
    // data-only store, limits, fail and host policies, plugin specs.
    ("data", &["types", "error", "failure", "faults", "limits", "policy", "spec", "state", "store"]),
    // Marshalling between guest memory and the store, each call's gate
    ("abi", &["abi"]),
    // Compiling, linking and pre-instantiating modules.
    ("engine", &["engine"]),
    // VMs driven through Envoy's lifecycle, and the null VM.
    ("vm", &["vm", "native"]),
    // The test-facing `Host` and every one of its `impl` blocks.
    ("host", &["host"]),
    // Built on the host: running one plugin both ways, compatibility reports.
    ("on-host", &["dual", "compat"]),
    // Prometheus text of the metrics.
    ("report", &["report"]),
    // Istio's `WasmPlugin` model and Envoy filter chains.
    ("istio", &["istio"]),
    // Plugins pulled from OCI registries (a `WasmPlugin`'s `url`).
    ("oci", &["oci"]),
    // Scenario files: parse, run, check, trace.
    ("scenario", &["scenario"]),
    // The `host-sim` command line.
    ("bin", &["bin"]),
];

/// Top-level modules that form one unit of [`LAYERS`] with another, and why
/// (none today: each host call's gate, once a top-level `profile` counted
/// with `abi`, is `abi/gate.rs`).
const UNITS: &[(&str, &str)] = &[];

fn unit(module: &str) -> &str {
    UNITS.iter().find(|(m, _)| *m == module).map_or(module, |(_, u)| u)
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let graph = Graph::read();
    let mut failures = Vec::new();
    for (name, edges) in [("file", &graph.files), ("top-level module", &graph.tops)] {
        for (cycle, component) in cycles(edges) {
            failures.push(format!(
                "{name} cycle: {} (its strongly connected component has {} modules: {})",
                cycle.join(" → "),
                component.len(),
                component.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    assert!(failures.is_empty(), "host-sim's import graph has cycles:\n{}", failures.join("\n"));
}

#[test]
fn top_level_modules_import_only_downwards() {
    let graph = Graph::read();
    let layer_of = |module: &str| LAYERS.iter().position(|(_, members)| members.contains(&module));
    let mut failures = Vec::new();
    for (from, targets) in &graph.tops {
        let Some(n) = layer_of(from) else {
            failures.push(format!("module {from} is in no layer (add it to LAYERS)"));
            continue;
        };
        for to in targets {
            match layer_of(to) {
                None => failures.push(format!("module {to} is in no layer (add it to LAYERS)")),
                Some(m) if m > n => failures.push(format!(
                    "module {from} (layer {n}, {}) imports {to} (layer {m} > {n}, {}){}",
                    LAYERS[n].0,
                    LAYERS[m].0,
                    graph.why(from, to)
                )),
                Some(_) => {}
            }
        }
    }
    failures.sort();
    failures.dedup();
    assert!(failures.is_empty(), "host-sim's layers are crossed upwards:\n{}", failures.join("\n"));
}

/// The checker finds cycles and reads the real graph (not an empty one).
#[test]
fn the_checker_sees_cycles_and_edges() {
    let edge = |from: &str, to: &str| (from.to_string(), BTreeSet::from([to.to_string()]));
    let edges = BTreeMap::from([edge("a", "b"), edge("b", "c"), edge("c", "a"), edge("d", "a")]);
    let found = cycles(&edges);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, ["a", "b", "c", "a"]);
    let graph = Graph::read();
    for (from, to) in [("abi", "store"), ("engine", "abi"), ("vm", "engine"), ("host", "vm"), ("scenario", "host")] {
        assert!(graph.tops[from].contains(to), "the reader missed {from} → {to}: {:?}", graph.tops[from]);
    }
    assert!(graph.files["host/reload"].contains("host"), "child → parent edges are read");
}

/// The checker itself: comments and strings are not imports, groups and
/// re-exports are followed.
#[test]
fn the_reader_sees_only_code() {
    let code = blank(
        "// use crate::a;\n/* crate::b:: /* nested */ */ let s = \"crate::c::x\"; let r = r#\"crate::d::\"#; let c = '\"'; fn f<'a>() {}\n/// [`crate::e`]\nuse crate::{f::X, g::{self, Y}};",
    );
    let named: Vec<String> = paths(&tokens(&code)).0.into_iter().map(|p| p.segments.join("::")).collect();
    assert_eq!(named, ["crate::f::X", "crate::g", "crate::g::Y"]);
    let (found, children) = paths(&tokens(&blank(
        "#[cfg(test)]\nmod tests;\n#[cfg(test)]\n#[allow(x)]\nmod t { use crate::a::B; }\nuse crate::c;",
    )));
    let named: Vec<String> = found.into_iter().map(|p| p.segments.join("::")).collect();
    assert_eq!((named, children), (vec!["crate::c".to_string()], vec!["tests".to_string()]));
}

/// One file: its module path and the paths it names.
struct File {
    module: Vec<String>,
    paths: Vec<PathUse>,
    /// Child modules declared `#[cfg(test)] mod name;`.
    test_children: Vec<String>,
}

/// A path named in a file, with the inline modules it sits in.
struct PathUse {
    segments: Vec<String>,
    inline: Vec<String>,
    /// `Some(alias)` for a `use` item: the name it brings into scope.
    imports: Option<String>,
}

struct Graph {
    files: BTreeMap<String, BTreeSet<String>>,
    tops: BTreeMap<String, BTreeSet<String>>,
    /// For messages: which file edges make each top-level edge.
    file_edges: Vec<(String, String)>,
}

impl Graph {
    fn read() -> Graph {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        walk(&src, &src, &mut files);
        let tests: Vec<Vec<String>> = files
            .iter()
            .flat_map(|f| f.test_children.iter().map(|c| f.module.iter().chain([c]).cloned().collect()))
            .collect();
        files.retain(|f| !tests.iter().any(|t| f.module.starts_with(t)));
        let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
        // Every name a module brings into scope with `use`, resolved to an
        // absolute path, for following re-exports.
        let mut scope: BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        for file in &files {
            for path in &file.paths {
                if let (Some(alias), true) = (&path.imports, path.inline.is_empty())
                    && let Some(absolute) = absolute(&file.module, &path.inline, &path.segments, &modules)
                {
                    scope.entry(file.module.clone()).or_default().insert(alias.clone(), absolute);
                }
            }
        }
        let mut graph = Graph { files: BTreeMap::new(), tops: BTreeMap::new(), file_edges: Vec::new() };
        for file in &files {
            if file.module.is_empty() {
                continue; // lib.rs, the facade
            }
            let from = file.module.join("/");
            graph.files.entry(from.clone()).or_default();
            graph.tops.entry(unit(&file.module[0]).to_string()).or_default();
            for path in &file.paths {
                let Some(absolute) = absolute(&file.module, &path.inline, &path.segments, &modules) else {
                    continue;
                };
                let target = resolve(&absolute, &modules, &scope, 0);
                if target.is_empty() || target == file.module {
                    continue;
                }
                let to = target.join("/");
                let (from_unit, to_unit) = (unit(&file.module[0]), unit(&target[0]));
                if from_unit != to_unit {
                    graph.tops.entry(from_unit.to_string()).or_default().insert(to_unit.to_string());
                }
                graph.file_edges.push((from.clone(), to.clone()));
                if !target.starts_with(&file.module) {
                    graph.files.entry(from.clone()).or_default().insert(to);
                }
            }
        }
        graph.file_edges.sort();
        graph.file_edges.dedup();
        graph
    }

    /// The file edges behind a top-level edge, for messages.
    fn why(&self, from: &str, to: &str) -> String {
        let top = |module: &str| unit(module.split('/').next().unwrap_or("")).to_string();
        let edges: Vec<String> = self
            .file_edges
            .iter()
            .filter(|(a, b)| top(a) == from && top(b) == to)
            .map(|(a, b)| format!("{a} → {b}"))
            .collect();
        format!(": {}", edges.join(", "))
    }
}

/// Reads every `.rs` file under `dir`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<File>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read src").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(root, &path, out);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let relative = path.strip_prefix(root).expect("under src").with_extension("");
        let mut module: Vec<String> = relative.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        if module.last().is_some_and(|m| m == "mod" || m == "lib") {
            module.pop();
        }
        if module.first().is_some_and(|m| m == "bin") {
            module = vec!["bin".to_string()];
        }
        let text = std::fs::read_to_string(&path).expect("read a source file");
        let (paths, test_children) = paths(&tokens(&blank(&text)));
        out.push(File { module, paths, test_children });
    }
}

/// `segments` as an absolute module path (`crate` dropped), if it names
/// something of this crate.
fn absolute(
    module: &[String],
    inline: &[String],
    segments: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let mut here: Vec<String> = module.iter().chain(inline).cloned().collect();
    let mut rest = segments;
    match rest.first().map(String::as_str) {
        Some("crate") | Some("$crate") | Some("host_sim") => {
            here.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                here.pop()?;
                rest = &rest[1..];
            }
        }
        Some(first) => {
            // A child module's name (relative paths), or in the binary, none.
            let mut child = module.to_vec();
            child.push(first.to_string());
            if !inline.is_empty() || !modules.contains(&child) || module.first().is_some_and(|m| m == "bin") {
                return None;
            }
        }
        None => return None,
    }
    here.extend(rest.iter().cloned());
    Some(here)
}

/// The file module a path ends in, following `use` re-exports of the item
/// it names.
fn resolve(
    path: &[String],
    modules: &BTreeSet<Vec<String>>,
    scope: &BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
    depth: usize,
) -> Vec<String> {
    let mut prefix = path.len();
    while prefix > 0 && !modules.contains(&path[..prefix].to_vec()) {
        prefix -= 1;
    }
    let module = path[..prefix].to_vec();
    if depth < 8
        && let Some(item) = path.get(prefix)
        && let Some(target) = scope.get(&module).and_then(|names| names.get(item))
    {
        let mut next = target.clone();
        next.extend(path[prefix + 1..].iter().cloned());
        if next != path {
            return resolve(&next, modules, scope, depth + 1);
        }
    }
    module
}

/// The text with comments, strings and character literals replaced by
/// spaces (line breaks kept).
fn blank(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let put = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    put(&mut out, chars[i]);
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && !prev_is_ident(&chars, i)
            && raw_string_start(&chars, i + if c == 'b' { 2 } else { 1 }).is_some()
        {
            let start = i + if c == 'b' { 2 } else { 1 };
            let hashes = raw_string_start(&chars, start).unwrap_or(0);
            i = start + hashes + 1;
            loop {
                if i >= chars.len() {
                    break;
                }
                if chars[i] == '"' && (0..hashes).all(|k| chars.get(i + 1 + k) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                put(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if let Some(&ch) = chars.get(i) {
                    put(&mut out, ch);
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a).
            let literal_end = if next == Some('\\') {
                (i + 3..chars.len().min(i + 12)).find(|&k| chars[k] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match literal_end {
                Some(end) => i = end + 1,
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// At `start`: `#…#"` opens a raw string; the number of `#`s.
fn raw_string_start(chars: &[char], start: usize) -> Option<usize> {
    let hashes = chars[start.min(chars.len())..].iter().take_while(|&&c| c == '#').count();
    (chars.get(start + hashes) == Some(&'"')).then_some(hashes)
}

/// Identifiers (with `$crate`), `::` and single punctuation characters.
fn tokens(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' || (c == '$' && chars.get(i + 1).is_some_and(|n| n.is_alphabetic())) {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".to_string());
            i += 2;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

fn is_ident(token: &str) -> bool {
    token.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
}

/// Every path a file names: `use` trees expanded, and `a::b::c` paths in
/// code, with the inline `mod x { … }` blocks around each.
fn paths(tokens: &[String]) -> (Vec<PathUse>, Vec<String>) {
    let mut out = Vec::new();
    let mut test_children = Vec::new();
    // Inline modules: (name, brace depth at which it closes).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i].as_str();
        if tokens[i..].starts_with(&CFG_TEST.map(String::from)) {
            let (end, child) = skip_item(tokens, i + CFG_TEST.len());
            test_children.extend(child);
            i = end;
            continue;
        }
        match token {
            "{" => {
                depth += 1;
                if let Some(name) = pending_mod.take() {
                    inline.push((name, depth));
                }
            }
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            ";" => pending_mod = None,
            "mod" if tokens.get(i + 1).is_some_and(|t| is_ident(t)) => {
                pending_mod = Some(tokens[i + 1].clone());
                i += 2;
                continue;
            }
            _ => {}
        }
        let names: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
        let after_path_sep = i > 0 && tokens[i - 1] == "::";
        if token == "use" && !after_path_sep {
            let mut j = i + 1;
            let mut trees = Vec::new();
            use_tree(tokens, &mut j, Vec::new(), &mut trees);
            for (segments, alias) in trees {
                out.push(PathUse { segments, inline: names.clone(), imports: alias });
            }
            i = j;
            continue;
        }
        if is_ident(token) && !after_path_sep && tokens.get(i + 1).is_some_and(|t| t == "::") {
            let mut segments = vec![token.to_string()];
            let mut j = i + 1;
            while tokens.get(j).is_some_and(|t| t == "::") && tokens.get(j + 1).is_some_and(|t| is_ident(t)) {
                segments.push(tokens[j + 1].clone());
                j += 2;
            }
            out.push(PathUse { segments, inline: names, imports: None });
            i = j;
            continue;
        }
        i += 1;
    }
    (out, test_children)
}

const CFG_TEST: [&str; 7] = ["#", "[", "cfg", "(", "test", ")", "]"];

/// Skips the item that starts at `start` (after its `#[cfg(test)]`): its
/// other attributes, then up to its `;` or its closing `}`. Returns where
/// it ends and, for `mod name;`, the name.
fn skip_item(tokens: &[String], start: usize) -> (usize, Option<String>) {
    let mut k = start;
    while tokens.get(k).is_some_and(|t| t == "#") && tokens.get(k + 1).is_some_and(|t| t == "[") {
        let mut depth = 0;
        k += 1;
        while let Some(t) = tokens.get(k) {
            k += 1;
            match t.as_str() {
                "[" => depth += 1,
                "]" => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    let item: Vec<&str> = tokens[k..].iter().take(4).map(String::as_str).collect();
    let child = match item.as_slice() {
        ["mod", name, ";", ..] | ["pub", "mod", name, ";"] => Some(name.to_string()),
        _ => None,
    };
    let mut depth = 0usize;
    while let Some(t) = tokens.get(k) {
        k += 1;
        match t.as_str() {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            ";" if depth == 0 => break,
            _ => {}
        }
    }
    (k, child)
}

/// Expands one use tree at `*j` into (path, name brought into scope).
fn use_tree(tokens: &[String], j: &mut usize, mut prefix: Vec<String>, out: &mut Vec<(Vec<String>, Option<String>)>) {
    if tokens.get(*j).is_some_and(|t| t == "::") {
        *j += 1; // a leading `::`
    }
    loop {
        let Some(token) = tokens.get(*j) else { return };
        match token.as_str() {
            "{" => {
                *j += 1;
                while tokens.get(*j).is_some_and(|t| t != "}") {
                    use_tree(tokens, j, prefix.clone(), out);
                    if tokens.get(*j).is_some_and(|t| t == ",") {
                        *j += 1;
                    }
                }
                *j += 1;
                if tokens.get(*j).is_some_and(|t| t == ";") {
                    *j += 1;
                }
                return;
            }
            "*" => {
                *j += 1;
                out.push((prefix, None));
                if tokens.get(*j).is_some_and(|t| t == ";") {
                    *j += 1;
                }
                return;
            }
            "self" if !prefix.is_empty() => {
                *j += 1;
            }
            name if is_ident(name) => {
                prefix.push(name.to_string());
                *j += 1;
                if tokens.get(*j).is_some_and(|t| t == "::") {
                    *j += 1;
                    continue;
                }
            }
            _ => {}
        }
        // The end of this path: an alias, then `,`, `}` or `;`.
        let mut alias = prefix.last().cloned();
        if tokens.get(*j).is_some_and(|t| t == "as") {
            alias = tokens.get(*j + 1).cloned().filter(|a| a != "_");
            *j += 2;
        }
        if !prefix.is_empty() {
            out.push((prefix, alias));
        }
        if tokens.get(*j).is_some_and(|t| t == ";") {
            *j += 1;
        }
        return;
    }
}

/// One cycle per strongly connected component of more than one node,
/// spelled out as `A → B → … → A`.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<(Vec<String>, BTreeSet<String>)> {
    let mut out = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for start in edges.keys() {
        if seen.contains(start) {
            continue;
        }
        let component = component_of(start, edges);
        seen.extend(component.iter().cloned());
        if component.len() < 2 {
            continue;
        }
        // The shortest way back to `start` within the component.
        let mut parent: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.clone()]);
        let mut closing = None;
        while let Some(node) = queue.pop_front() {
            for next in edges.get(&node).into_iter().flatten() {
                if !component.contains(next) {
                    continue;
                }
                if next == start {
                    closing = Some(node.clone());
                    break;
                }
                if !parent.contains_key(next) {
                    parent.insert(next.clone(), node.clone());
                    queue.push_back(next.clone());
                }
            }
            if closing.is_some() {
                break;
            }
        }
        let mut cycle = vec![start.clone()];
        let mut node = closing.unwrap_or_else(|| start.clone());
        while &node != start {
            cycle.push(node.clone());
            node = parent[&node].clone();
        }
        cycle.push(start.clone());
        cycle.reverse();
        out.push((cycle, component));
    }
    out
}

/// The nodes reachable from `start` that also reach it.
fn component_of(start: &str, edges: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    let reach = |from: &str, forward: bool| {
        let mut seen = BTreeSet::from([from.to_string()]);
        let mut stack = vec![from.to_string()];
        while let Some(node) = stack.pop() {
            let nexts: Vec<String> = if forward {
                edges.get(&node).into_iter().flatten().cloned().collect()
            } else {
                edges.iter().filter(|(_, to)| to.contains(&node)).map(|(from, _)| from.clone()).collect()
            };
            for next in nexts {
                if seen.insert(next.clone()) {
                    stack.push(next);
                }
            }
        }
        seen
    };
    let forward = reach(start, true);
    let backward = reach(start, false);
    forward.intersection(&backward).cloned().collect()
}
