//! End-to-end tests: the real `protector` binary, as operators and CI run it.
//! One test binary with modules (each test binary costs a link on a 2-core machine).

mod api_samples;
mod apply;
mod apply_crash;
mod cinder_api;
mod cli;
mod clock;
mod cloud;
mod drill;
mod examples;
mod fault_schedule;
mod flasharray_api;
mod forward;
mod keystone_api;
mod neutron_api;
mod nova_api;
mod plan;
mod plan_files;
mod quota;
mod report;
mod reviewed;
mod rollback;
mod schema;
mod sim;
mod swift_api;
mod tls;
mod twin;
mod validate;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root: tests run the binary from there, so paths read as in the README.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `protector ARGS` from the repository root, colour off.
pub fn protector(args: &[&str]) -> Output {
    protector_in(root(), args)
}

pub fn protector_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_protector"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("the protector binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Files with extension `ext` directly in `dir` (relative to the root), sorted.
pub fn files_in(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|error| panic!("cannot list {dir}: {error}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == ext))
        .map(|path| path.strip_prefix(root()).expect("under root").to_path_buf())
        .collect();
    files.sort();
    files
}
