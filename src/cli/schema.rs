//! `protector schema [--out DIR]`: write the JSON Schemas of the spec and the plan file.

use std::path::PathBuf;

use super::{CommandError, Outcome, eprint};
use crate::schemas;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder to write the schema files into (created if missing).
    #[arg(long, value_name = "DIR", default_value = "schemas")]
    out: PathBuf,
}

pub fn run(args: &Args) -> Result<Outcome, CommandError> {
    let cannot_write = |error: std::io::Error| {
        CommandError::new(format!("cannot write to {}: {error}", args.out.display()))
            .hint("choose a writable folder with --out DIR")
    };
    std::fs::create_dir_all(&args.out).map_err(cannot_write)?;
    for (name, text) in schemas::documents() {
        let path = args.out.join(name);
        std::fs::write(&path, text).map_err(cannot_write)?;
        eprint(&format!("wrote {}", path.display()));
    }
    Ok(Outcome::Success)
}
