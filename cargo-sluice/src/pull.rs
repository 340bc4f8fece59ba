//! `cargo sluice pull REFERENCE -o FILE`.

use std::process::ExitCode;

use host_sim::oci::Reference;

use crate::cli::PullArgs;
use crate::error::{Result, io};

/// Runs `pull`: the module, every digest checked, written only when all
/// checks passed (to a temporary file renamed into place).
pub fn run(args: &PullArgs) -> Result<ExitCode> {
    let reference = Reference::parse(&args.reference)?;
    let pulled = args.registry.pull(&reference)?;
    crate::module::check_proxy_wasm(&pulled.module, &format!("the module of {reference}"))?;
    let temporary = args.output.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, &pulled.module).map_err(io(&temporary))?;
    std::fs::rename(&temporary, &args.output).map_err(io(&args.output))?;
    println!(
        "{} {} bytes, module {}, image {} ({} variant)",
        args.output.display(),
        pulled.module.len(),
        pulled.module_digest,
        pulled.manifest_digest,
        pulled.variant.name()
    );
    Ok(ExitCode::SUCCESS)
}
