//! `rollback OP`: undoes a failover or failback that failed or was interrupted.
//!
//! The rollback is planned ([`crate::plan`]) from the undone operation's plan and journal and
//! what the sites show now, shown, and run as an operation of its own: journaled, resumable
//! after a crash (`rollback OP` again continues it), with its own record and report. Make
//! before break: it stops what the operation booted on its target, starts the source's instances
//! and verifies them, and only then removes what the operation created.
//!
//! A rollback that fails before it removed anything is undone in turn (compensated), newest
//! step first: what it started on the source stops again, what it stopped on the target runs
//! again, and the undone operation is `failed` as before, to be resumed or rolled back later.
//! One that fails while removing stays `failed`; `rollback OP` continues it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;

use super::executor::{self, Attempts, Created, FailurePolicy, Outputs, Runner};
use super::{
    Applied, Observer, Options, Refusal, discover, effects, failure_message, journaling, load_plan,
    lock_all, no_operation, read_progress, read_state, run, update_documents, writable_sites,
};
use crate::clients::clouds::CloudsEnvironment;
use crate::plan::{self, OperationKind, Phase, Plan, PlanOptions, PlanRequest, Step};
use crate::spec::Spec;
use crate::state::store::{self, StateStore};
use crate::state::{OperationStatus, RecordedState};

/// Rolls back operation `operation`, or continues its rollback.
pub async fn rollback(
    spec: &Spec,
    clouds: &CloudsEnvironment,
    operation: &str,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Applied, Refusal> {
    let store = store::open(&spec.state);
    let _locks = lock_all(&*store, spec, &options.command)?;
    let state = read_state(&*store, spec)?;
    roll_back(spec, clouds, &*store, state, operation, options, observer).await
}

/// [`rollback`], with the group's locks held.
#[allow(clippy::too_many_arguments)]
pub(super) async fn roll_back(
    spec: &Spec,
    clouds: &CloudsEnvironment,
    store: &dyn StateStore,
    mut state: RecordedState,
    operation: &str,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Applied, Refusal> {
    let record = state.record(operation).cloned();
    if let Some(undone) = record.as_ref().and_then(|r| r.rolls_back.as_deref()) {
        return Err(Refusal::refused(
            format!("{operation} is the rollback of {undone}"),
            format!("continue it with `protector rollback {undone}`"),
        ));
    }
    let under_way = record
        .as_ref()
        .and_then(|r| r.rollback.clone())
        .filter(|rollback| {
            state.record(rollback).is_some_and(|r| {
                !matches!(
                    r.status,
                    OperationStatus::Completed | OperationStatus::RolledBack
                )
            })
        });
    if let Some(rollback) = under_way {
        let plan = load_plan(store, spec, &rollback)?;
        observer.note(&format!(
            "continuing {rollback}, the rollback of {operation}, from its journal"
        ));
        let inventory = discover(spec, clouds, options).await;
        return run_rollback(
            spec, clouds, store, &plan, &inventory, &state, options, observer,
        )
        .await;
    }
    let run = store
        .read_run(spec, operation)
        .map_err(Refusal::store)?
        .ok_or_else(|| no_operation(spec, operation))?;
    let spec_file = run.plan.spec_file.clone();
    state.runs.insert(operation.to_string(), run);
    let inventory = discover(spec, clouds, options).await;
    let request = PlanRequest {
        operation: OperationKind::Rollback,
        options: PlanOptions {
            rollback_of: Some(operation.to_string()),
            ..PlanOptions::default()
        },
    };
    let plan = plan::plan(spec, &inventory, &state, &request).map_err(Refusal::plan)?;
    let plan = Plan {
        spec_file,
        protector_version: Some(crate::VERSION.to_string()),
        ..plan
    };
    observer.planned(&plan);
    run_rollback(
        spec, clouds, store, &plan, &inventory, &state, options, observer,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn run_rollback(
    spec: &Spec,
    clouds: &CloudsEnvironment,
    store: &dyn StateStore,
    plan: &Plan,
    inventory: &crate::inventory::Inventory,
    state: &RecordedState,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Applied, Refusal> {
    let options = Options {
        rollback_on_failure: false,
        ..options.clone()
    };
    let mut applied = run(
        spec, clouds, store, plan, inventory, state, &options, observer,
    )
    .await?;
    let failed = applied
        .record
        .as_ref()
        .is_some_and(|record| record.status == OperationStatus::Failed);
    let progress = read_progress(store, plan)
        .map_err(|e| Refusal::error(e, "the journal is damaged; restore it from a backup"))?;
    let touched = progress.touched();
    let removing = plan
        .steps
        .iter()
        .any(|step| step.phase == Phase::CleanupTarget && touched.contains(step.id.as_str()));
    if !failed || removing {
        return Ok(applied);
    }
    let why = applied
        .record
        .as_ref()
        .and_then(|record| record.error_message.clone())
        .unwrap_or_else(|| "it did not complete".to_string());
    observer.note(&format!(
        "the rollback could not bring {} back ({why}); undoing what it changed",
        plan.operation.target_site
    ));
    let writable = writable_sites(spec, plan, inventory);
    let undo = Undo {
        plan,
        progress: &progress,
        why,
        writable: &writable,
    };
    applied.rollback = Some(Box::new(
        compensate(spec, clouds, store, &undo, &options, observer).await?,
    ));
    Ok(applied)
}

/// Runs a rollback's done steps backwards (newest dependency first) with
/// [`effects::SiteRunner::compensate`], journaled as undo events.
struct Compensate<'a> {
    runner: effects::SiteRunner<'a>,
    created: Outputs,
}

impl Runner for Compensate<'_> {
    async fn run(&self, step: &Step, _: &Outputs, _: &Attempts) -> Result<Created, String> {
        self.runner
            .within_step_deadline(self.runner.compensate(step, &self.created))
            .await?;
        Ok(Created::new())
    }
}

/// The done steps with their dependencies reversed: a step is undone after everything that
/// depended on it.
fn reversed(plan: &Plan, done: &BTreeSet<&str>) -> Vec<Step> {
    let mut steps: Vec<Step> = plan
        .steps
        .iter()
        .rev()
        .filter(|step| done.contains(step.id.as_str()))
        .map(|step| Step {
            depends_on: Vec::new(),
            ..step.clone()
        })
        .collect();
    let position: BTreeMap<String, usize> = steps
        .iter()
        .enumerate()
        .map(|(index, step)| (step.id.clone(), index))
        .collect();
    for original in plan.steps.iter().filter(|s| done.contains(s.id.as_str())) {
        for dependency in &original.depends_on {
            if let Some(&index) = position.get(dependency) {
                steps[index].depends_on.push(original.id.clone());
            }
        }
    }
    steps
}

/// A rollback to compensate: its plan, how far it got, why it failed, and the sites whose
/// documents can be written.
struct Undo<'a> {
    plan: &'a Plan,
    progress: &'a crate::state::journal::Progress,
    why: String,
    writable: &'a [String],
}

async fn compensate(
    spec: &Spec,
    clouds: &CloudsEnvironment,
    store: &dyn StateStore,
    undo: &Undo<'_>,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Applied, Refusal> {
    let (plan, progress) = (undo.plan, undo.progress);
    let done: BTreeSet<&str> = progress.done.iter().map(|(id, _)| id.as_str()).collect();
    let steps = reversed(plan, &done);
    let total = steps.len();
    let nothing_to_finalize = |_: &Outputs| futures::FutureExt::boxed_local(async { Ok(()) });
    let compensate = Compensate {
        runner: effects::SiteRunner::new(
            spec,
            plan,
            clouds,
            options.timeout,
            options.step_timeout,
            Box::new(nothing_to_finalize),
        ),
        created: Outputs::new(progress.done_map()),
    };
    let report = executor::execute(
        &steps,
        BTreeMap::new(),
        &options.budgets,
        &FailurePolicy::default(),
        &compensate,
        &mut journaling(store, plan, &mut *observer, true, 0, total),
    )
    .await;
    if failure_message(&report, &Default::default()).is_none() {
        update_documents(store, spec, undo.writable, |doc| {
            super::record::compensated(doc, plan, undo.why.clone(), Utc::now())
        })
        .map_err(|e| Refusal::error(e, "check that the state folder is writable"))?;
    }
    let record = read_state(store, spec)
        .ok()
        .and_then(|state| state.record(&plan.operation.id).cloned());
    Ok(Applied {
        plan: plan.clone(),
        report,
        record,
        rollback: None,
    })
}
