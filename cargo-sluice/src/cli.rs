//! The command line (clap derive) and the dispatch to each subcommand.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::Result;

/// Scaffold, build, inspect, package, push and pull Proxy-Wasm plugins, and
/// write their deploy manifests.
#[derive(Debug, Parser)]
#[command(name = "cargo sluice", bin_name = "cargo sluice", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A new plugin crate that builds and passes its tests at once.
    New(NewArgs),
    /// Builds the plugin in release for wasm and writes it without custom sections.
    Build(BuildArgs),
    /// ABI version, imports, exports, WASI needs and a verdict per host profile.
    Inspect(InspectArgs),
    /// Writes an OCI image layout of the plugin, as Istio and Envoy Gateway pull it.
    Package(PackageArgs),
    /// Pushes a module (or an image layout from `package`) to a registry.
    Push(PushArgs),
    /// Pulls a plugin image and writes its module, digests verified.
    Pull(PullArgs),
    /// Writes an Istio WasmPlugin or an Envoy HTTP filter configuration.
    Manifest(ManifestArgs),
}

/// `new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The crate name (also its directory, under --path).
    pub name: String,
    /// A TCP (network) filter instead of an HTTP filter.
    #[arg(long)]
    pub tcp: bool,
    /// The directory to create the crate in.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// The sluice checkout (its root, with sdk/ and host-sim/) the crate
    /// depends on by path; default: the checkout cargo-sluice was built from.
    #[arg(long)]
    pub sluice_path: Option<PathBuf>,
}

/// The wasm targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// WASI preview 1: what Envoy and Istio users usually build.
    #[value(name = "wasm32-wasip1")]
    Wasip1,
    /// No WASI imports at all.
    #[value(name = "wasm32-unknown-unknown")]
    Unknown,
}

impl Target {
    /// The target triple.
    pub fn triple(self) -> &'static str {
        match self {
            Target::Wasip1 => "wasm32-wasip1",
            Target::Unknown => "wasm32-unknown-unknown",
        }
    }
}

/// `build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The wasm target.
    #[arg(long, value_enum, default_value = "wasm32-wasip1")]
    pub target: Target,
    /// The plugin crate's Cargo.toml (default: the one cargo finds here).
    #[arg(long)]
    pub manifest_path: Option<PathBuf>,
    /// The package, in a workspace with several.
    #[arg(short, long)]
    pub package: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Registry access, shared by every command that reaches a registry.
#[derive(Clone, Debug, Default, Args)]
pub struct RegistryArgs {
    /// Plain HTTP instead of TLS (for a registry on loopback).
    #[arg(long)]
    pub insecure: bool,
    /// The registry user (default: the Docker config file's credentials).
    #[arg(long, requires = "password")]
    pub username: Option<String>,
    /// The registry password or token.
    #[arg(long, requires = "username")]
    pub password: Option<String>,
}

/// `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A .wasm file, or an image reference (`[oci://]HOST/NAME:TAG`).
    pub module: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 unless the module is compatible with these
    /// profiles (envoy-1.32, envoy-1.33, kong; repeat or comma-separate).
    #[arg(long, value_delimiter = ',')]
    pub require: Vec<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// The image formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// OCI artifact: config and layer with Wasm media types.
    Oci,
    /// Docker image manifest with a gzip tar layer holding plugin.wasm.
    Docker,
}

/// Image settings shared by `package` and `push`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// The image format.
    #[arg(long, value_enum, default_value = "oci")]
    pub format: Format,
    /// The plugin name annotation (default: the module's file stem).
    #[arg(long)]
    pub name: Option<String>,
}

/// `package`.
#[derive(Debug, Args)]
pub struct PackageArgs {
    /// The .wasm module.
    pub module: PathBuf,
    /// The directory to write the OCI image layout to (must not exist or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// The tag recorded in the layout's index.json.
    #[arg(long, default_value = "latest")]
    pub tag: String,
    #[command(flatten)]
    pub image: ImageArgs,
}

/// `push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// A .wasm module, or an image layout directory written by `package`.
    pub source: PathBuf,
    /// Where to push: `[oci://]HOST/NAME:TAG`.
    pub reference: String,
    #[command(flatten)]
    pub image: ImageArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// `[oci://]HOST/NAME:TAG` or `...@sha256:HEX`.
    pub reference: String,
    /// The module file to write.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `manifest`.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// A .wasm file, or the pushed image's reference.
    pub module: String,
    /// The plugin configuration (JSON or YAML).
    #[arg(long)]
    pub config: PathBuf,
    /// An Istio WasmPlugin (the default).
    #[arg(long, conflicts_with = "envoy")]
    pub istio: bool,
    /// An Envoy `envoy.filters.http.wasm` HTTP filter.
    #[arg(long)]
    pub envoy: bool,
    /// The resource (and Envoy plugin) name (default: the image's or file's name).
    #[arg(long)]
    pub name: Option<String>,
    /// The WasmPlugin's namespace.
    #[arg(long)]
    pub namespace: Option<String>,
    /// The WasmPlugin phase: AUTHN, AUTHZ or STATS.
    #[arg(long, value_parser = ["AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"])]
    pub phase: Option<String>,
    /// The WasmPlugin priority within its phase.
    #[arg(long)]
    pub priority: Option<i32>,
    /// Envoy: the HTTP(S) URL Envoy downloads the module from (a remote
    /// data source with its sha256); without it, a local file.
    #[arg(long, requires = "envoy")]
    pub url: Option<String>,
    /// Envoy: the cluster serving --url.
    #[arg(long, requires = "url")]
    pub cluster: Option<String>,
    /// Envoy: the module's path on the proxy (default: the file's absolute path).
    #[arg(long, requires = "envoy")]
    pub filename: Option<String>,
    /// Write here instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Runs the command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::New(args) => crate::new::run(&args),
        Command::Build(args) => crate::build::run(&args),
        Command::Inspect(args) => crate::inspect::run(&args),
        Command::Package(args) => crate::package::run(&args),
        Command::Push(args) => crate::push::run(&args),
        Command::Pull(args) => crate::pull::run(&args),
        Command::Manifest(args) => crate::manifest::run(&args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["cargo sluice", "inspect", "p.wasm", "--require", "kong,envoy-1.33"]).unwrap();
        match cli.command {
            Command::Inspect(args) => assert_eq!(args.require, ["kong", "envoy-1.33"]),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["cargo sluice", "push", "p.wasm", "r", "--username", "u"]).is_err());
        assert!(
            Cli::try_parse_from(["cargo sluice", "manifest", "p.wasm", "--config", "c", "--istio", "--envoy"]).is_err()
        );
    }
}
