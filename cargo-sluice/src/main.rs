//! `cargo sluice`: scaffold, build, inspect, package, push and pull
//! Proxy-Wasm plugins, and write their deploy manifests. See the README's
//! "From `cargo sluice new` to a WasmPlugin".
#![forbid(unsafe_code)]

mod build;
mod cli;
mod error;
mod image;
mod inspect;
mod layout;
mod manifest;
mod module;
mod new;
mod package;
mod pull;
mod push;
mod registry;

use clap::Parser;

fn main() -> std::process::ExitCode {
    // `cargo sluice ...` runs `cargo-sluice sluice ...`: drop the subcommand name cargo passes.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "sluice") {
        args.remove(1);
    }
    let cli = cli::Cli::parse_from(args);
    match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(e.exit_code())
        }
    }
}
