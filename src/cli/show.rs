//! `protector show PLAN`: a saved plan, as text, JSON, Markdown or Graphviz dot, with the plan
//! file's SHA-256 (what a change request approves, and `apply --expect-sha256` checks).

use std::path::{Path, PathBuf};

use super::{CommandError, Outcome, eprint, print};
use crate::plan::{Plan, file};
use crate::render;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    Text,
    Json,
    Markdown,
    Dot,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan file written by `protector plan -o PLAN`.
    #[arg(value_name = "PLAN")]
    plan: PathBuf,
    #[arg(short = 'f', long, value_enum, default_value = "text")]
    format: ShowFormat,
}

/// A plan file as read: the plan, checked, and the SHA-256 of the file's bytes.
pub struct PlanFile {
    pub plan: Plan,
    pub sha256: String,
}

/// Reads a plan file; with `expected`, refuses (exit 3) a file whose SHA-256 is another, before
/// anything else is made of it.
pub fn read_plan(path: &Path, expected: Option<&str>) -> Result<PlanFile, CommandError> {
    let bytes = std::fs::read(path)
        .map_err(|error| CommandError::new(format!("cannot read {}: {error}", path.display())))?;
    let sha256 = file::sha256(&bytes);
    if let Some(expected) = expected
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(CommandError::new(format!(
            "{} is not the plan that was approved: its SHA-256 is {sha256}, --expect-sha256 says {expected}",
            path.display()
        ))
        .hint("apply the approved plan file as `protector plan ... -o PLAN` wrote it (`protector show PLAN` prints its SHA-256), or have this one reviewed")
        .refused());
    }
    let plan = file::read(&bytes).map_err(|invalid| {
        let error = CommandError::new(format!("{} {invalid}", path.display())).hint(invalid.hint());
        match invalid {
            file::Invalid::Structure(_) => error.refused(),
            _ => error,
        }
    })?;
    Ok(PlanFile { plan, sha256 })
}

/// A plan as JSON output: the plan's fields and, when it is a file, `plan_sha256` (of the
/// file's bytes, not of this output).
pub fn json(plan: &Plan, sha256: Option<&str>) -> String {
    let mut value = serde_json::to_value(plan).unwrap_or_default();
    if let (Some(sha256), Some(fields)) = (sha256, value.as_object_mut()) {
        fields.insert("plan_sha256".to_string(), sha256.into());
    }
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

pub fn run(args: &Args) -> Result<Outcome, CommandError> {
    let PlanFile { plan, sha256 } = read_plan(&args.plan, None)?;
    print(&match args.format {
        ShowFormat::Text => render::plan::text(&plan),
        ShowFormat::Json => json(&plan, Some(&sha256)),
        ShowFormat::Markdown => render::markdown::plan(&plan, Some(&sha256)),
        ShowFormat::Dot => render::plan::dot(&plan),
    });
    if matches!(args.format, ShowFormat::Text | ShowFormat::Dot) {
        eprint(&format!("SHA-256 of {}: {sha256}", args.plan.display()));
    }
    Ok(Outcome::Success)
}
