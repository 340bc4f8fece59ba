//! `cargo sluice inspect MODULE|REFERENCE [--json] [--require PROFILE]`.

use std::process::ExitCode;

use host_sim::HostProfile;
use host_sim::compat::{Severity, Verdict};
use serde::Serialize;

use crate::cli::InspectArgs;
use crate::error::{Failure, Result};
use crate::module::{self, Info, Source};

#[derive(Serialize)]
struct ProfileReport {
    profile: &'static str,
    loads: bool,
    compatible: bool,
    problems: Vec<ProblemReport>,
}

#[derive(Serialize)]
struct ProblemReport {
    import: String,
    severity: &'static str,
    why: String,
}

#[derive(Serialize)]
struct Report {
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_digest: Option<String>,
    module_digest: String,
    #[serde(flatten)]
    info: Info,
    profiles: Vec<ProfileReport>,
}

fn profile_report(verdict: &Verdict) -> ProfileReport {
    ProfileReport {
        profile: verdict.profile.name(),
        loads: verdict.loads,
        compatible: verdict.compatible(),
        problems: verdict
            .problems
            .iter()
            .map(|p| ProblemReport {
                import: p.import.clone(),
                severity: match p.severity {
                    Severity::FailsToLoad => "fails-to-load",
                    Severity::TrapsWhenCalled => "traps-when-called",
                },
                why: p.why.clone(),
            })
            .collect(),
    }
}

/// Every profile host-sim knows, by name.
fn profiles() -> impl Iterator<Item = HostProfile> {
    HostProfile::NAMES.into_iter().map(|(_, p)| p)
}

/// Runs `inspect`.
pub fn run(args: &InspectArgs) -> Result<ExitCode> {
    for name in &args.require {
        if HostProfile::from_name(name).is_none() {
            let known: Vec<&str> = HostProfile::NAMES.iter().map(|(n, _)| *n).collect();
            return Err(Failure::new(format!("unknown profile {name:?} for --require (known: {})", known.join(", "))));
        }
    }
    let loaded = module::load(&args.module, &args.registry)?;
    let info = module::info(&loaded.bytes, &args.module)?;
    let verdicts: Vec<Verdict> =
        profiles().map(|p| host_sim::compat::verdict(p, &loaded.bytes)).collect::<std::result::Result<_, _>>()?;
    let (source, image_digest) = match &loaded.source {
        Source::File(path) => (path.display().to_string(), None),
        Source::Image { reference, pulled } => (reference.url(), Some(pulled.manifest_digest.clone())),
    };
    let report = Report {
        source,
        image_digest,
        module_digest: host_sim::oci::sha256_digest(&loaded.bytes),
        info,
        profiles: verdicts.iter().map(profile_report).collect(),
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| Failure::new(e.to_string()))?;
        println!("{text}");
    } else {
        print_text(&report);
    }
    let unmet: Vec<&str> = args
        .require
        .iter()
        .filter(|name| verdicts.iter().any(|v| v.profile.name() == name.as_str() && !v.compatible()))
        .map(String::as_str)
        .collect();
    if !unmet.is_empty() {
        eprintln!("error: the module is not compatible with {}", unmet.join(", "));
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_text(report: &Report) {
    let info = &report.info;
    println!("{}", report.source);
    if let Some(digest) = &report.image_digest {
        println!("  image        {digest}");
    }
    println!("  module       {}", report.module_digest);
    println!("  size         {} bytes ({} in custom sections)", info.size, info.custom_section_bytes);
    println!("  ABI version  {}", info.abi_version);
    println!("  allocator    {}", info.allocator);
    let start = if info.start.is_empty() { "none".to_owned() } else { info.start.join(", ") };
    println!("  start        {start}");
    let wasi = if info.wasi.is_empty() { "none".to_owned() } else { info.wasi.join(", ") };
    println!("  WASI         {wasi}");
    println!("  imports      {}", info.imports.len());
    for import in &info.imports {
        println!("    {}.{} ({})", import.module, import.name, import.kind);
    }
    println!("  exports      {}", info.exports.len());
    for export in &info.exports {
        println!("    {export}");
    }
    println!("compatibility:");
    for profile in &report.profiles {
        let verdict = match (profile.loads, profile.compatible) {
            (true, true) => "compatible",
            (true, false) => "loads, but some calls trap",
            _ => "does not load",
        };
        println!("  {:<11} {verdict}", profile.profile);
        for problem in &profile.problems {
            println!("    {}: {}", problem.severity, problem.why);
        }
    }
}
