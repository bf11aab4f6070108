//! Stamps the binary with the commit it was built from and the day it was built, for
//! `protector --version` and the plans it saves: a plan reviewed in a change request names the
//! build that made it. Outside a git checkout (a source tarball) the commit reads `unknown`.

use std::path::Path;
use std::process::Command;

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    let commit_date = git(&["log", "-1", "--format=%cs", "HEAD"]);
    println!(
        "cargo:rustc-env=PROTECTOR_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=PROTECTOR_COMMIT_DATE={}",
        commit_date.as_deref().unwrap_or("unknown")
    );
    println!("cargo:rustc-env=PROTECTOR_BUILD_DATE={}", today());
    // Run again when HEAD moves (a commit, a checkout); a missing path would make cargo run
    // this script on every build, so only paths that exist are watched.
    println!("cargo:rerun-if-changed=build.rs");
    for path in ["HEAD", "refs/heads", "packed-refs"] {
        if let Some(path) = git(&["rev-parse", "--git-path", path])
            && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_string())
}

/// Today's UTC date as YYYY-MM-DD, or `SOURCE_DATE_EPOCH`'s for a reproducible build.
fn today() -> String {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|value| value.parse::<i64>().ok())
        .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0));
    epoch
        .unwrap_or_else(chrono::Utc::now)
        .format("%Y-%m-%d")
        .to_string()
}
