//! `protector show PLAN`: a saved plan, as text, JSON, Markdown or Graphviz dot.

use std::path::PathBuf;

use super::{CommandError, Outcome, print};
use crate::plan::Plan;
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

/// Reads a plan file.
pub fn read_plan(path: &std::path::Path) -> Result<Plan, CommandError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| CommandError::new(format!("cannot read {}: {error}", path.display())))?;
    let plan: Plan = serde_json::from_str(&text).map_err(|error| {
        CommandError::new(format!(
            "{} is not a protector plan: {error}",
            path.display()
        ))
        .hint("write plans with `protector plan FILE -o PLAN`")
    })?;
    if plan.format_version != crate::plan::FORMAT_VERSION {
        return Err(CommandError::new(format!(
            "{} has plan format {}; this protector reads format {}",
            path.display(),
            plan.format_version,
            crate::plan::FORMAT_VERSION
        ))
        .hint("plan again with this protector"));
    }
    Ok(plan)
}

pub fn run(args: &Args) -> Result<Outcome, CommandError> {
    let plan = read_plan(&args.plan)?;
    print(&match args.format {
        ShowFormat::Text => render::plan::text(&plan),
        ShowFormat::Json => serde_json::to_string_pretty(&plan).unwrap_or_default(),
        ShowFormat::Markdown => render::markdown::plan(&plan),
        ShowFormat::Dot => render::plan::dot(&plan),
    });
    Ok(Outcome::Success)
}
