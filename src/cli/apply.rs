//! `protector apply PLAN`, `apply --resume OP`, `rollback OP`, `failover` and `failback`: confirm,
//! run the library's apply with [`super::execute`]'s progress display, and end with what
//! happened and the next command to run.

use std::path::{Path, PathBuf};

use super::execute::{
    Display, ExecArgs, LookupArgs, confirm, plan_and_confirm, refused, remember_state_folder,
    runtime,
};
use super::plan::{PlanFlags, TypeArg};
use super::show::read_plan;
use super::{CommandError, Outcome, clouds_for, eprint};
use crate::apply::{self};
use crate::plan::{OperationKind, PlanRequest};
use crate::render;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan file written by `protector plan FILE -o PLAN`.
    #[arg(value_name = "PLAN", required_unless_present = "resume")]
    plan: Option<PathBuf>,
    /// Continue operation OP from its journal (after a crash or a failed step).
    #[arg(long, value_name = "OP", conflicts_with = "plan")]
    resume: Option<String>,
    /// Refuse (exit 3) unless the plan file's SHA-256 is HASH: the one the change request
    /// approved (`protector plan -o` and `protector show` print it).
    #[arg(long, value_name = "HASH", requires = "plan", value_parser = parse_sha256)]
    expect_sha256: Option<String>,
    /// Apply without asking (required when stdin is not a terminal, as in CI).
    #[arg(long, visible_alias = "yes")]
    auto_approve: bool,
    /// Undo the completed steps when a step fails.
    #[arg(long)]
    rollback_on_failure: bool,
    #[command(flatten)]
    exec: ExecArgs,
    #[command(flatten)]
    lookup: LookupArgs,
}

fn parse_sha256(text: &str) -> Result<String, String> {
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(format!("`{text}` is not a SHA-256: 64 hex digits"))
    }
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The operation to undo (`op-...`).
    #[arg(value_name = "OP")]
    operation: String,
    #[command(flatten)]
    exec: ExecArgs,
    #[command(flatten)]
    lookup: LookupArgs,
}

pub fn run(args: &Args) -> Result<Outcome, CommandError> {
    let (plan, spec, resume) = match (&args.plan, &args.resume) {
        (Some(path), _) => {
            let plan = read_plan(path, args.expect_sha256.as_deref())?.plan;
            let spec = args.lookup.reviewed_spec(&plan)?;
            (plan, spec, false)
        }
        (None, Some(operation)) => {
            let plan = args.lookup.operation_plan(operation)?;
            let spec = args.lookup.spec_for(&plan)?;
            (plan, spec, true)
        }
        (None, None) => return Err(CommandError::new("give a PLAN or --resume OP")),
    };
    if !resume {
        // A plan that cannot run is refused before it is shown and asked about.
        apply::precheck(&spec, &plan).map_err(refused)?;
        eprint(&render::plan::text(&plan));
        confirm(args.auto_approve, &plan)?;
    }
    let mut options = args.exec.options(args.lookup.timeout);
    if plan.operation.kind == OperationKind::Drill && !resume {
        // A drill cleans up after itself when it fails, whichever command runs it.
        return super::drill::run_drill(
            &spec,
            &plan,
            &options,
            args.exec.json(),
            args.lookup.timeout,
        );
    }
    options.rollback_on_failure = args.rollback_on_failure;
    remember_state_folder(&spec);
    let clouds = clouds_for(&spec, spec.sites.keys(), args.lookup.timeout);
    let mut display = Display::new(args.exec.json());
    let result = runtime()?.block_on(async {
        if resume {
            apply::resume(&spec, &clouds, &plan.operation.id, &options, &mut display).await
        } else {
            apply::apply(&spec, &clouds, &plan, &options, &mut display).await
        }
    });
    display.finish(result, false)
}

pub fn rollback(args: &RollbackArgs) -> Result<Outcome, CommandError> {
    let plan = args.lookup.operation_plan(&args.operation)?;
    let spec = args.lookup.spec_for(&plan)?;
    let options = args.exec.options(args.lookup.timeout);
    remember_state_folder(&spec);
    let clouds = clouds_for(&spec, spec.sites.keys(), args.lookup.timeout);
    let mut display = Display::new(args.exec.json());
    let result = runtime()?.block_on(apply::rollback(
        &spec,
        &clouds,
        &args.operation,
        &options,
        &mut display,
    ));
    display.finish(result, true)
}

/// Plans `request` for the spec at `file`, shows the plan, asks, and applies it: the
/// one-command forms (`failover`, `failback`, `protection-group sync-force`).
pub fn plan_and_apply(
    file: &Path,
    request: &PlanRequest,
    approve: bool,
    exec: &ExecArgs,
    timeout: Option<u64>,
    rollback_on_failure: bool,
) -> Result<Outcome, CommandError> {
    let Some((spec, plan)) = plan_and_confirm(file, request, approve, timeout)? else {
        return Ok(Outcome::Success);
    };
    let mut options = exec.options(timeout);
    options.rollback_on_failure = rollback_on_failure;
    remember_state_folder(&spec);
    let clouds = clouds_for(&spec, spec.sites.keys(), timeout);
    let mut display = Display::new(exec.json());
    let result = runtime()?.block_on(apply::apply(&spec, &clouds, &plan, &options, &mut display));
    display.finish(result, false)
}

/// `protector failover FILE --type ...`.
#[derive(Debug, clap::Args)]
pub struct FailoverArgs {
    /// The protection-group spec.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Failover type: planned (both sites up, no data loss) or unplanned (source down).
    #[arg(long = "type", value_enum)]
    failover_type: Option<TypeArg>,
    #[command(flatten)]
    moving: MoveArgs,
}

/// `protector failback FILE`.
#[derive(Debug, clap::Args)]
pub struct FailbackArgs {
    /// The protection-group spec.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Restore replication old-primary -> old-secondary afterwards.
    #[arg(long)]
    reverse_replication: bool,
    #[command(flatten)]
    moving: MoveArgs,
}

/// What failover and failback share: planning flags, confirmation, execution.
#[derive(Debug, clap::Args)]
pub struct MoveArgs {
    #[command(flatten)]
    flags: PlanFlags,
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(long, visible_alias = "auto-approve")]
    yes: bool,
    /// Undo the completed steps when a step fails.
    #[arg(long)]
    rollback_on_failure: bool,
    #[command(flatten)]
    exec: ExecArgs,
}

pub fn failover(args: &FailoverArgs) -> Result<Outcome, CommandError> {
    let Some(failover_type) = args.failover_type else {
        return Err(
            CommandError::new("say which failover: --type planned or --type unplanned").hint(
                "planned when both sites are up (no data loss); unplanned when the source is down",
            ),
        );
    };
    move_group(
        &args.file,
        &args.moving,
        OperationKind::Failover,
        Some(failover_type.failover_type()),
        false,
    )
}

pub fn failback(args: &FailbackArgs) -> Result<Outcome, CommandError> {
    move_group(
        &args.file,
        &args.moving,
        OperationKind::Failback,
        None,
        args.reverse_replication,
    )
}

fn move_group(
    file: &Path,
    args: &MoveArgs,
    operation: OperationKind,
    failover_type: Option<crate::plan::FailoverType>,
    reverse_replication: bool,
) -> Result<Outcome, CommandError> {
    let request = PlanRequest {
        operation,
        options: args.flags.options(failover_type, reverse_replication),
    };
    plan_and_apply(
        file,
        &request,
        args.yes,
        &args.exec,
        args.flags.timeout,
        args.rollback_on_failure,
    )
}
