//! `protector report OP [--format markdown|html|json] [--template FILE] [--evidence DIR]` and
//! `protector verify-evidence DIR`: an operation's report from what it recorded, an evidence
//! bundle that seals it with its sources, and the check of such a bundle.

use std::path::PathBuf;

use clap::ValueEnum;

use super::operation::{read_operation, recorded};
use super::{CommandError, Outcome, eprint, print};
use crate::render::{self, report::Format, report::Template};
use crate::report::{Report, evidence};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    Markdown,
    Html,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The operation (`op-...`), as `protector operation list FILE` shows it.
    #[arg(value_name = "OP")]
    operation: String,
    #[arg(short = 'f', long, value_enum, default_value = "markdown")]
    format: FormatArg,
    /// Render with this minijinja template instead of the built-in one (Markdown or HTML; it
    /// gets the fields of `--format json`).
    #[arg(long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// Write an evidence bundle to DIR (new or empty) instead: the plan and the journal as
    /// recorded, the report as Markdown, and manifest.json with their SHA-256 and hash chain.
    #[arg(long, value_name = "DIR", conflicts_with = "format")]
    evidence: Option<PathBuf>,
    /// The state folder (default: $PROTECTOR_STATE, else ./.protector).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// A folder written by `protector report OP --evidence DIR`.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

pub fn run(args: &Args) -> Result<Outcome, CommandError> {
    let stored = read_operation(args.state.as_deref(), &args.operation)?;
    let report = Report::build(&stored.plan, &stored.journal, recorded(&stored)?);
    // An operator's template: its path, as its errors name it, and its text.
    let custom = args
        .template
        .as_ref()
        .map(|path| {
            let source = std::fs::read_to_string(path).map_err(|error| {
                CommandError::new(format!("cannot read {}: {error}", path.display()))
                    .hint("give the path of a minijinja template")
            })?;
            Ok::<_, CommandError>((path.display().to_string(), source))
        })
        .transpose()?;
    let template = custom
        .as_ref()
        .map(|(name, source)| Template { name, source });
    let rendered = |format| {
        render::report::render(&report, format, template).map_err(|error| {
            CommandError::new(format!("cannot render the report: {error}"))
                .hint("fix the template at that line; it gets the fields of `--format json`")
        })
    };
    if let Some(dir) = &args.evidence {
        let markdown = rendered(Format::Markdown)?;
        let bundle = evidence::write(
            dir,
            &stored.plan.operation.id,
            &stored.plan_file,
            &stored.journal_file,
            format!("{markdown}\n").as_bytes(),
        )
        .map_err(|error| CommandError::new(error.to_string()).hint(error.hint()))?;
        eprint(&format!(
            "Evidence of {} written to {}: {}, {} ({} entries), {} and {}.\n\
             Its chain head follows: record it elsewhere, it stands for the whole bundle.\n\
             Check the bundle with: {}",
            bundle.operation,
            render::paint(render::HINT, dir.display()),
            evidence::PLAN,
            evidence::JOURNAL,
            bundle.entries,
            evidence::REPORT,
            evidence::MANIFEST,
            render::paint(
                render::HINT,
                format!("protector verify-evidence {}", dir.display())
            )
        ));
        print(&bundle.head);
        return Ok(Outcome::Success);
    }
    let text = match args.format {
        FormatArg::Json if template.is_some() => {
            return Err(CommandError::new(
                "--template renders Markdown or HTML; JSON is the report itself",
            )
            .hint("pass --format markdown or --format html with --template"));
        }
        FormatArg::Json => render::report::json(&report),
        FormatArg::Markdown => rendered(Format::Markdown)?,
        FormatArg::Html => rendered(Format::Html)?,
    };
    print(&text);
    Ok(Outcome::Success)
}

pub fn verify(args: &VerifyArgs) -> Result<Outcome, CommandError> {
    let bundle = evidence::verify(&args.dir)
        .map_err(|error| CommandError::new(error.to_string()).hint(error.hint()))?;
    eprint(&format!(
        "{} the evidence of {} in {} verifies: the plan, {} journal entries, the report and the \
         manifest match. Its chain head:",
        render::paint(render::SUCCESS, "OK:"),
        bundle.operation,
        args.dir.display(),
        bundle.entries
    ));
    print(&bundle.head);
    Ok(Outcome::Success)
}
