//! `cargo sluice package MODULE --out DIR`.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{ImageArgs, PackageArgs};
use crate::error::Result;
use crate::image::Image;
use crate::module;

/// The image of a module file, after checking it is a Proxy-Wasm module.
pub fn image_of(path: &Path, args: &ImageArgs) -> Result<Image> {
    let bytes = module::read_file(path)?;
    let abi = module::check_proxy_wasm(&bytes, &path.display().to_string())?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => path.file_stem().map_or_else(|| "plugin".to_owned(), |s| s.to_string_lossy().into_owned()),
    };
    crate::image::build(&bytes, &name, module::abi_text(abi), args.format)
}

/// Runs `package`.
pub fn run(args: &PackageArgs) -> Result<ExitCode> {
    let image = image_of(&args.module, &args.image)?;
    crate::layout::write(&args.out, &image, &args.tag)?;
    let size: usize = image.blobs.iter().map(|(_, b)| b.len()).sum::<usize>() + image.manifest.len();
    println!("{} {} ({} bytes, tag {})", args.out.display(), image.digest, size, args.tag);
    Ok(ExitCode::SUCCESS)
}
