//! `cargo sluice push MODULE|DIR REFERENCE`.

use std::process::ExitCode;

use host_sim::oci::Reference;

use crate::cli::PushArgs;
use crate::error::{Failure, Result};

/// Runs `push`: builds the image (or reads the layout), checks the module
/// in it is a Proxy-Wasm module, uploads the blobs, then the manifest.
pub fn run(args: &PushArgs) -> Result<ExitCode> {
    let reference = Reference::parse(&args.reference)?;
    if reference.digest().is_some() {
        return Err(Failure::new("push to a tag (HOST/NAME:TAG); the digest is what the push returns"));
    }
    let image = if args.source.is_dir() {
        let image = crate::layout::read(&args.source, None)?;
        let parsed = host_sim::oci::parse_manifest(&image.manifest, image.media_type)?;
        let (module, _) = host_sim::oci::extract_module(&parsed, |d| {
            let blob = image.blobs.iter().find(|(digest, _)| *digest == d.digest);
            Ok(blob.map(|(_, b)| b.clone()).unwrap_or_default())
        })?;
        crate::module::check_proxy_wasm(&module, &format!("the module in {}", args.source.display()))?;
        image
    } else {
        crate::package::image_of(&args.source, &args.image)?
    };
    let registry = args.registry.connect(&reference)?;
    for (_, blob) in &image.blobs {
        registry.push_blob(&reference, blob)?;
    }
    let digest = registry.push_manifest(&reference, &image.manifest, image.media_type)?;
    let pinned = reference.with_digest(&digest).url();
    if args.json {
        let out = serde_json::json!({"reference": reference.url(), "digest": digest, "pinned": pinned,
                                     "media_type": image.media_type});
        println!("{out}");
    } else {
        println!("pushed {} {digest}\n{pinned}", reference.url());
    }
    Ok(ExitCode::SUCCESS)
}
