//! Whether a module loads and runs on each host profile, from the same
//! link rules and host-function tables host-sim loads plugins with (the
//! linkers of [`crate::engine`], [`HostProfile::link_error`],
//! [`HostProfile::not_implemented`]): `cargo sluice inspect` prints this.

use std::collections::HashMap;

use wasmtime::{ExternType, Module};

use crate::engine::{self, LinkedFunction};
use crate::error::Error;
use crate::policy::{HostProfile, Policy};
use crate::types::AbiVersion;

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The host refuses the module: it does not load.
    FailsToLoad,
    /// The module loads, but calling this function traps (the VM fails).
    TrapsWhenCalled,
}

/// One reason a module does not fully work on a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The import, `module.name`.
    pub import: String,
    /// How bad it is.
    pub severity: Severity,
    /// Why, in the host's words where host-sim knows them.
    pub why: String,
}

/// A module's verdict on one profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The profile.
    pub profile: HostProfile,
    /// Whether the module loads (links and compiles) there.
    pub loads: bool,
    /// Everything that fails to load or traps, in import order.
    pub problems: Vec<Problem>,
}

impl Verdict {
    /// Loads and nothing it imports traps.
    pub fn compatible(&self) -> bool {
        self.loads && self.problems.is_empty()
    }
}

fn type_text(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => {
            let params: Vec<String> = f.params().map(|t| t.to_string()).collect();
            let results: Vec<String> = f.results().map(|t| t.to_string()).collect();
            format!("({}) -> ({})", params.join(", "), results.join(", "))
        }
        ExternType::Memory(_) => "a memory".into(),
        ExternType::Table(_) => "a table".into(),
        ExternType::Global(_) => "a global".into(),
        ExternType::Tag(_) => "a tag".into(),
    }
}

fn host_name(profile: HostProfile) -> &'static str {
    match profile {
        HostProfile::Kong => "Kong's ngx_wasm_module",
        _ => "Envoy",
    }
}

/// The functions `profile` links for `abi`, by `(module, name)`.
fn provided(profile: HostProfile, abi: AbiVersion) -> Result<HashMap<(String, String), LinkedFunction>, Error> {
    let linker = engine::linker_for(abi, Policy::linking(profile))?;
    Ok(engine::functions_of(linker)?.into_iter().map(|f| ((f.0.clone(), f.1.clone()), f)).collect())
}

/// The module's verdict on `profile`. Errors for bytes that are not a
/// wasm module, or a module without a Proxy-Wasm ABI marker or allocator.
pub fn verdict(profile: HostProfile, bytes: &[u8]) -> Result<Verdict, Error> {
    let facts = engine::abi::inspect(bytes)?;
    let module = Module::new(engine::engine()?, bytes).map_err(|e| Error::Compile(format!("{e:#}")))?;
    let provided = provided(profile, facts.abi)?;
    let host = host_name(profile);
    let mut problems = Vec::new();
    for import in module.imports() {
        let (module_name, name, ty) = (import.module(), import.name(), import.ty());
        let label = format!("{module_name}.{name}");
        if let Some(why) = Policy::import_link_error(profile, module_name, name, &ty) {
            problems.push(Problem { import: label, severity: Severity::FailsToLoad, why });
            continue;
        }
        let Some((_, _, params, results)) = provided.get(&(module_name.to_owned(), name.to_owned())) else {
            let why = format!("{host} does not provide {label} ({}) for ABI {:?}", type_text(&ty), facts.abi);
            problems.push(Problem { import: label, severity: Severity::FailsToLoad, why });
            continue;
        };
        let wanted = format!("({}) -> ({})", params.join(", "), results.join(", "));
        if type_text(&ty) != wanted {
            let why = format!(
                "incompatible import type: {host} defines {label} as {wanted}, the module imports {}",
                type_text(&ty)
            );
            problems.push(Problem { import: label, severity: Severity::FailsToLoad, why });
            continue;
        }
        if module_name == "env" && profile.not_implemented(name) {
            let why = format!(
                "{host} links {label} but does not implement it: calling it traps (function not yet implemented)"
            );
            problems.push(Problem { import: label, severity: Severity::TrapsWhenCalled, why });
        }
    }
    // The verdict on loading is host-sim's own load path, so the two never disagree.
    let load = engine::compile_linked(bytes, Policy::linking(profile), |m| Policy::check_link(profile, m));
    if let Err(e) = &load
        && !problems.iter().any(|p| p.severity == Severity::FailsToLoad)
    {
        problems.push(Problem { import: String::new(), severity: Severity::FailsToLoad, why: e.to_string() });
    }
    Ok(Verdict { profile, loads: load.is_ok(), problems })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(imports: &str) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(module {imports} (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1"))
                 (func (export "malloc") (param i32) (result i32) i32.const 0))"#
        ))
        .unwrap()
    }

    #[test]
    fn verdicts_follow_the_profiles_link_rules() {
        let log_level = module(r#"(import "env" "proxy_get_log_level" (func (param i32) (result i32)))"#);
        let envoy = verdict(HostProfile::Envoy133, &log_level).unwrap();
        assert!(envoy.compatible(), "{envoy:?}");
        let kong = verdict(HostProfile::Kong, &log_level).unwrap();
        assert!(!kong.loads);
        assert_eq!(kong.problems.len(), 1);
        assert!(kong.problems[0].why.contains("2 i32 parameters"), "{:?}", kong.problems);

        let done = module(r#"(import "env" "proxy_done" (func (result i32)))"#);
        let kong = verdict(HostProfile::Kong, &done).unwrap();
        assert!(kong.loads && !kong.compatible());
        assert_eq!(kong.problems[0].severity, Severity::TrapsWhenCalled);

        let unknown = module(r#"(import "env" "proxy_teleport" (func))"#);
        let envoy = verdict(HostProfile::Envoy132, &unknown).unwrap();
        assert!(!envoy.loads);
        assert!(envoy.problems[0].why.contains("does not provide env.proxy_teleport"), "{:?}", envoy.problems);

        let typed = module(r#"(import "env" "proxy_log" (func (param i32) (result i32)))"#);
        let envoy = verdict(HostProfile::Envoy133, &typed).unwrap();
        assert!(!envoy.loads && envoy.problems[0].why.contains("incompatible import type"), "{envoy:?}");
    }

    #[test]
    fn non_modules_are_errors() {
        assert!(verdict(HostProfile::Envoy133, b"not wasm").is_err());
        let no_marker =
            wat::parse_str(r#"(module (func (export "malloc") (param i32) (result i32) i32.const 0))"#).unwrap();
        assert!(matches!(verdict(HostProfile::Envoy133, &no_marker), Err(Error::UnknownAbi { .. })));
    }
}
