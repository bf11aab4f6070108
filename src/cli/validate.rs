//! `protector validate FILE...`: the spec rules that need no network.

use std::path::PathBuf;

use super::{CommandError, Outcome, ReportFormat, eprint, print};
use crate::render::{self, diagnostics};
use crate::spec::{self, Spec};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Protection-group spec files (YAML).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// `text` for people; `json` is `terraform validate -json`'s shape.
    #[arg(short = 'f', long, value_enum, default_value = "text")]
    format: ReportFormat,
}

pub fn run(args: &Args) -> Result<Outcome, CommandError> {
    // An unreadable file is one more invalid file: the others are still checked and reported.
    let validations: Vec<_> = args
        .files
        .iter()
        .map(|path| spec::load(path).unwrap_or_else(spec::ReadError::into_validation))
        .collect();
    let valid = validations.iter().all(|v| !v.report.has_errors());
    match args.format {
        ReportFormat::Json => {
            let mut documents = validations.iter().map(|v| diagnostics::json(&v.report));
            let mut merged = documents.next().expect("clap requires at least one file");
            for document in documents {
                merged.valid &= document.valid;
                merged.error_count += document.error_count;
                merged.warning_count += document.warning_count;
                merged.diagnostics.extend(document.diagnostics);
            }
            let text = serde_json::to_string_pretty(&merged)
                .map_err(|error| CommandError::new(format!("cannot encode JSON: {error}")))?;
            print(&text);
        }
        ReportFormat::Text => {
            for validation in &validations {
                let report = &validation.report;
                if !report.diagnostics.is_empty() {
                    eprint(&format!("{}\n", diagnostics::text(report)));
                }
                match &validation.spec {
                    Some(spec) => print(&summary(&report.source.name, spec)),
                    None => eprint(&format!(
                        "{} {} is invalid: {}",
                        render::paint(render::ERROR, "error:"),
                        report.source.name,
                        counts(report.error_count(), report.warning_count())
                    )),
                }
            }
        }
    }
    Ok(if valid {
        Outcome::Success
    } else {
        Outcome::Error
    })
}

fn counts(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match warnings {
        0 => plural(errors, "error"),
        _ => format!(
            "{}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    }
}

/// One line: the group, its sites, members and mappings.
fn summary(file: &str, spec: &Spec) -> String {
    let tiers: std::collections::BTreeSet<u32> =
        spec.members.iter().map(|m| m.boot_order).collect();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{} {file}: protection group {} between {} (primary) and {}; {} in {}; mappings: {}, {}",
        render::paint(render::SUCCESS, "valid"),
        spec.name,
        spec.primary,
        spec.secondary(),
        plural(spec.members.len(), "member", "members"),
        plural(tiers.len(), "boot tier", "boot tiers"),
        plural(spec.mappings.networks.len(), "network", "networks"),
        plural(spec.mappings.flavors.len(), "flavor", "flavors"),
    )
}
