//! `protector drill FILE [--keep]` and `protector drill cleanup OP`: plan a DR drill, show
//! it, ask, and run it (a failed drill is cleaned up at once); remove what a kept or failed
//! drill left. Both end with the cleanup proof, or with what the drill left and how to remove
//! it.

use std::path::PathBuf;

use super::execute::{Display, ExecArgs, LookupArgs, confirm, plan_and_confirm, refused, runtime};
use super::plan::PlanFlags;
use super::{CommandError, Outcome, clouds_for, eprint};
use crate::apply::{self, Applied, Options};
use crate::plan::{OperationKind, Plan, PlanOptions, PlanRequest};
use crate::render;
use crate::spec::Spec;
use crate::state::{DrillResourceKind, OperationRecord};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<DrillCommand>,
    /// The protection-group spec.
    #[arg(value_name = "FILE", required = true)]
    file: Option<PathBuf>,
    /// Leave the drill instances running after verification (remove them later with
    /// `protector drill cleanup OP`).
    #[arg(long)]
    keep: bool,
    #[command(flatten)]
    flags: PlanFlags,
    /// Run without asking (required when stdin is not a terminal).
    #[arg(long, visible_alias = "yes")]
    auto_approve: bool,
    #[command(flatten)]
    exec: ExecArgs,
}

#[derive(Debug, clap::Subcommand)]
enum DrillCommand {
    /// Remove what a drill left on its target (run with --keep, or failed), then prove that
    /// nothing of it is left.
    #[command(after_help = "\
Examples:
  protector drill cleanup op-3f2a...
  protector drill cleanup op-3f2a... --auto-approve --json

Exit codes: 0 removed and proven, 1 failed (the error names what is left), 3 refused (not a
drill, still running, its site unreachable, not confirmed).")]
    Cleanup(CleanupArgs),
}

#[derive(Debug, clap::Args)]
struct CleanupArgs {
    /// The drill (`op-...`), as `protector operation list FILE` shows it.
    #[arg(value_name = "OP")]
    operation: String,
    /// Run without asking (required when stdin is not a terminal).
    #[arg(long, visible_alias = "yes")]
    auto_approve: bool,
    #[command(flatten)]
    exec: ExecArgs,
    #[command(flatten)]
    lookup: LookupArgs,
}

pub fn run(args: &Args) -> Result<Outcome, CommandError> {
    match (&args.command, &args.file) {
        (Some(DrillCommand::Cleanup(cleanup_args)), _) => cleanup(cleanup_args),
        (None, Some(file)) => drill(args, file),
        (None, None) => Err(CommandError::new("give the spec: `protector drill FILE`")),
    }
}

fn drill(args: &Args, file: &std::path::Path) -> Result<Outcome, CommandError> {
    let request = PlanRequest {
        operation: OperationKind::Drill,
        options: PlanOptions {
            keep: args.keep,
            ..args.flags.options(None, false)
        },
    };
    let Some((spec, plan)) =
        plan_and_confirm(file, &request, args.auto_approve, args.flags.timeout)?
    else {
        return Ok(Outcome::Success);
    };
    run_drill(
        &spec,
        &plan,
        &args.exec.options(args.flags.timeout),
        args.exec.json(),
        args.flags.timeout,
    )
}

/// Runs drill `plan` (cleaning up after a failure) and reports how it went: for `drill FILE`
/// and for `apply PLAN` of a saved drill plan.
pub(super) fn run_drill(
    spec: &Spec,
    plan: &Plan,
    options: &Options,
    json: bool,
    timeout: Option<u64>,
) -> Result<Outcome, CommandError> {
    super::execute::remember_state_folder(spec);
    let clouds = clouds_for(spec, spec.sites.keys(), timeout);
    let mut display = Display::new(json);
    let result = runtime()?.block_on(apply::drill(spec, &clouds, plan, options, &mut display));
    display.clear();
    let drilled = result.map_err(refused)?;
    let ended = display.report(&drilled.drill, false);
    let Some(cleanup) = drilled.cleanup else {
        ended?;
        show_outcome(&drilled.drill);
        return Ok(Outcome::Success);
    };
    // The drill failed: its error, then how its cleanup went.
    let failed = ended.err().map_or_else(
        || format!("{} failed", plan.operation.id),
        |error| error.message,
    );
    let id = &plan.operation.id;
    match cleanup
        .map_err(refused)
        .and_then(|applied| display.report(&applied, false).map(|()| applied))
    {
        Ok(applied) => {
            show_outcome(&applied);
            Err(CommandError::new(format!(
                "{failed}\nwhat the drill created is removed again ({})",
                applied.plan.operation.id
            ))
            .hint("fix the cause, then run the drill again"))
        }
        Err(error) => Err(CommandError::new(format!(
            "{failed}\nits cleanup failed too: {}",
            error.message
        ))
        .hint(format!(
            "fix the cause, then remove what is left with `protector drill cleanup {id}`"
        ))),
    }
}

fn cleanup(args: &CleanupArgs) -> Result<Outcome, CommandError> {
    let drill = args.lookup.operation_plan(&args.operation)?;
    let spec = args.lookup.spec_for(&drill)?;
    let options = args.exec.options(args.lookup.timeout);
    let clouds = clouds_for(&spec, spec.sites.keys(), args.lookup.timeout);
    let runtime = runtime()?;
    let plan = runtime
        .block_on(apply::plan_drill_cleanup(
            &spec,
            &clouds,
            &args.operation,
            &options,
        ))
        .map_err(refused)?;
    let plan = Plan {
        spec_file: drill.spec_file.clone(),
        protector_version: Some(crate::VERSION.to_string()),
        ..plan
    };
    eprint(&render::plan::text(&plan));
    confirm(args.auto_approve, &plan)?;
    let mut display = Display::new(args.exec.json());
    let result = runtime.block_on(apply::apply(&spec, &clouds, &plan, &options, &mut display));
    display.clear();
    let applied = result.map_err(refused)?;
    display.report(&applied, false)?;
    show_outcome(&applied);
    Ok(Outcome::Success)
}

/// The proof that nothing of the drill is left, or what a kept drill left and how to remove it.
fn show_outcome(applied: &Applied) {
    let Some(record) = &applied.record else {
        return;
    };
    if let Some(text) = proof_line(record) {
        eprint(&text);
    }
    let servers: Vec<&str> = record
        .left_on_target
        .iter()
        .filter(|resource| resource.kind == DrillResourceKind::Server)
        .map(|resource| resource.name.as_str())
        .collect();
    if !record.left_on_target.is_empty() {
        eprint(&format!(
            "The drill stays on {}: {} ({} resources in all).\nRemove it with: {}",
            record.target_site,
            servers.join(", "),
            record.left_on_target.len(),
            render::paint(
                render::HINT,
                format!("protector drill cleanup {}", record.id)
            )
        ));
    }
}

/// "Cleanup proven: nothing of op-... is left on site-b (listed 3 servers, ...)."
fn proof_line(record: &OperationRecord) -> Option<String> {
    let proof = record.proof.as_ref()?;
    let listed: Vec<String> = proof
        .listed
        .iter()
        .map(|(kind, count)| format!("{count} {}", kind.replace('_', " ")))
        .collect();
    let destroyed = if proof.destroyed.is_empty() {
        String::new()
    } else {
        format!(
            "; {} drill array volumes destroyed, recoverable until the array eradicates them",
            proof.destroyed.len()
        )
    };
    Some(format!(
        "{} nothing of {} is left on {} (listed {}{destroyed}).",
        render::paint(render::SUCCESS, "Cleanup proven:"),
        proof.drill,
        proof.site,
        listed.join(", ")
    ))
}
