//! `protector operation show OP [--watch]` and `protector operation list [FILE]`: operations as
//! recorded, with live progress read from the journal while another process applies.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use super::execute::operation_folder;
use super::output::{FileListArgs, RecordOutput, unknown_column};
use super::plan::{load_spec, recorded_state};
use super::{CommandError, Outcome, print};
use crate::plan::Plan;
use crate::render::records::{self, Leftover, OperationRow, OperationShown, timestamp};
use crate::render::table;
use crate::state::journal::{Progress, replay};
use crate::state::store::{self, StateStore, StoredOperation};
use crate::state::{OperationRecord, OperationStatus};

#[derive(Debug, clap::Subcommand)]
pub enum OperationCommand {
    /// One operation: status, progress, steps completed and failed, error.
    #[command(after_help = "\
Examples:
  protector operation show op-3f2a...
  protector operation show op-3f2a... --watch       # while another terminal applies
  protector operation show op-3f2a... -f json | jq .progress")]
    Show(ShowArgs),
    /// The group's operations, oldest first.
    #[command(after_help = "\
Examples:
  protector operation list pg.yaml
  protector operation list pg.yaml -f json")]
    List(FileListArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[arg(value_name = "OP")]
    operation: String,
    #[command(flatten)]
    output: RecordOutput,
    /// Refresh every second until the operation settles.
    #[arg(long)]
    watch: bool,
    /// The state folder (default: $PROTECTOR_STATE, else ./.protector).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
}

pub fn run(command: &OperationCommand) -> Result<Outcome, CommandError> {
    match command {
        OperationCommand::Show(args) => show(args),
        OperationCommand::List(args) => list(args),
    }
}

/// How an operation reads now: `interrupted` when it is recorded as running but no live
/// process holds its group's lock on any of its sites (it was killed, or its machine lost);
/// else as recorded (a rollback under way reads `rolling_back` either way: the same command
/// continues it).
fn status_now(store: &dyn StateStore, record: &OperationRecord, group: &str) -> &'static str {
    if !matches!(
        record.status,
        OperationStatus::Pending | OperationStatus::Running
    ) {
        return record.status.as_str();
    }
    let held = [&record.source_site, &record.target_site]
        .into_iter()
        .any(|site| !matches!(store.holder(site, group), Ok(None)));
    if held {
        record.status.as_str()
    } else {
        INTERRUPTED
    }
}

const INTERRUPTED: &str = "interrupted";

/// What to run next for an operation that stopped half-way.
fn next_step(status: &str, id: &str) -> Option<String> {
    match status {
        "failed" | INTERRUPTED => Some(format!(
            "continue it with `protector apply --resume {id}`, or undo it with `protector rollback {id}`"
        )),
        "rolling_back" => Some(format!(
            "continue the rollback with `protector rollback {id}`"
        )),
        _ => None,
    }
}

/// The seed's fields of an operation; live ones (progress, steps) from the journal.
fn fields(
    record: &OperationRecord,
    status: &str,
    plan: &Plan,
    journal: &Progress,
) -> Map<String, Value> {
    let live = !record.status.is_settled();
    let (progress, completed, failed) = if live {
        (
            journal.percent(plan.steps.len()),
            journal.done.iter().map(|(id, _)| id.clone()).collect(),
            journal.failed.iter().map(|(id, _)| id.clone()).collect(),
        )
    } else {
        (
            record.progress,
            record.steps_completed.clone(),
            record.steps_failed.clone(),
        )
    };
    let shown = OperationShown {
        id: record.id.clone(),
        kind: record.kind.clone(),
        status: status.to_string(),
        progress,
        steps_completed: completed,
        steps_failed: failed,
        steps_running: journal.in_flight.clone(),
        error_message: record.error_message.clone(),
        started_at: timestamp(record.started_at),
        completed_at: timestamp(record.completed_at),
        source_site: record.source_site.clone(),
        target_site: record.target_site.clone(),
        left_on_target: record
            .left_on_target
            .iter()
            .map(|resource| Leftover {
                kind: resource.kind,
                name: resource.name.clone(),
            })
            .collect(),
        cleanup_proof: record.proof.clone(),
        next: next_step(status, &record.id),
    };
    records::fields(&shown)
}

fn show(args: &ShowArgs) -> Result<Outcome, CommandError> {
    loop {
        let stored = read_operation(args.state.as_deref(), &args.operation)?;
        let found = recorded(&stored)?;
        let journal = replay(&stored.journal);
        let store = store::open_folder(&operation_folder(args.state.as_deref(), &args.operation)?);
        let status = status_now(&*store, found, &stored.plan.protection_group);
        print(
            &table::record(
                &fields(found, status, &stored.plan, &journal),
                &args.output.options(),
            )
            .map_err(unknown_column)?,
        );
        if !args.watch || found.status.is_settled() || status == INTERRUPTED {
            return Ok(match (found.status, status) {
                (OperationStatus::Failed, _) | (_, INTERRUPTED) => Outcome::Error,
                _ => Outcome::Success,
            });
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Operation `operation` as the state folder (`--state DIR`, else its default) holds it.
pub(super) fn read_operation(
    state: Option<&Path>,
    operation: &str,
) -> Result<StoredOperation, CommandError> {
    let root = operation_folder(state, operation)?;
    let stored = store::open_folder(&root)
        .read_operation(operation)
        .map_err(super::store_error)?;
    stored.ok_or_else(|| super::execute::not_found(operation, &[root]))
}

/// The operation's record, once it started.
pub(super) fn recorded(stored: &StoredOperation) -> Result<&OperationRecord, CommandError> {
    stored.record.as_ref().ok_or_else(|| {
        CommandError::new(format!("{} has no record yet", stored.plan.operation.id))
            .hint("it has not started; apply its plan with `protector apply PLAN`")
    })
}

fn list(args: &FileListArgs) -> Result<Outcome, CommandError> {
    let spec = load_spec(&args.file)?;
    let state = recorded_state(&spec)?;
    let store = store::open(&spec.state);
    let records: Vec<Map<String, Value>> = state
        .newest()
        .map(|doc| {
            doc.operations
                .iter()
                .map(|op| {
                    records::fields(&OperationRow {
                        id: op.id.clone(),
                        kind: op.kind.clone(),
                        status: status_now(&*store, op, &spec.name).to_string(),
                        progress: op.progress,
                        source_site: op.source_site.clone(),
                        target_site: op.target_site.clone(),
                        started_at: timestamp(op.started_at),
                        completed_at: timestamp(op.completed_at),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    print(
        &table::list(
            &[
                "id",
                "type",
                "status",
                "progress",
                "source_site",
                "target_site",
                "started_at",
                "completed_at",
            ],
            &records,
            &args.output.options(),
        )
        .map_err(unknown_column)?,
    );
    Ok(Outcome::Success)
}
