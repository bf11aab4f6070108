//! Apply: executes a saved plan. The only code that changes sites (through [`effects`]).
//!
//! Before anything moves, apply takes the group's lock on every site and checks the plan still
//! holds: the recorded state has the versions the plan was made from, and a fresh plan of the
//! same operation relies on the same inventory facts; otherwise it refuses and says what moved.
//! Then it checks that every step acts on a member's resources or on what an operation creates
//! ([`crate::plan::file::check_resources`]) and proves the plan is exactly the one protector
//! makes from those inputs (the planner is deterministic: [`crate::plan::file::compare`]), so
//! that a plan file edited after review, or made up, never runs; a plan whose operation
//! already started must be the copy it started with.
//! Then it records the operation as `running` on every site it may write, keeps a copy of the
//! plan beside the journal, and runs the DAG ([`executor`]), journaling each step to disk before
//! it acts and after it ends. Every transition of the recorded state is a pure function in
//! [`record`].
//!
//! A run that stopped (a crash, a kill, a failed step) continues from its journal with
//! `resume`: done steps are skipped, interrupted ones run again and adopt what they had already
//! created. [`rollback`] undoes a failover or failback that failed or stopped, as an operation
//! of its own.

pub mod effects;
pub mod executor;
pub mod record;
mod rollback;

pub use rollback::rollback;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;
use futures::FutureExt;

use self::executor::{Created, Event, FailurePolicy, Outputs, Report};
use crate::clients::clouds::CloudsEnvironment;
use crate::inventory::{Instance, Inventory};
use crate::plan::schedule::Budgets;
use crate::plan::{self, FailoverType, OperationKind, Plan, PlanRequest};
use crate::spec::Spec;
use crate::state::journal::{Progress, replay};
use crate::state::store::{self, LockGuard, StateStore, StoreError};
use crate::state::{
    JournalEntry, JournalEvent, OperationRecord, OperationStatus, PeerSync, RecordedState,
    StateDocument, SyncStatus,
};

/// How apply runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub budgets: Budgets,
    /// Per API call.
    pub timeout: Duration,
    /// Per step, for what it waits on (a boot, a transfer).
    pub step_timeout: Duration,
    pub rollback_on_failure: bool,
    /// The command line, as lock files name their holder.
    pub command: String,
}

/// What the operator sees while apply runs.
pub trait Observer {
    /// A step started, ended or failed (`undo`: while rolling back). `done` of `total` steps.
    fn step(&mut self, event: &Event<'_>, undo: bool, done: usize, total: usize);
    /// Anything else worth a line: resuming, rolling back.
    fn note(&mut self, text: &str);
    /// A plan made along the way (a rollback's), before it runs.
    fn planned(&mut self, _plan: &Plan) {}
}

/// Why apply did not run, or how it failed before any step.
#[derive(Debug)]
pub struct Refusal {
    pub message: String,
    pub hint: String,
    /// `true`: refused on purpose (stale plan, lock held, already applied); `false`: an error.
    pub refused: bool,
}

impl Refusal {
    fn refused(message: impl Into<String>, hint: impl Into<String>) -> Refusal {
        Refusal {
            message: message.into(),
            hint: hint.into(),
            refused: true,
        }
    }

    fn error(message: impl Into<String>, hint: impl Into<String>) -> Refusal {
        Refusal {
            message: message.into(),
            hint: hint.into(),
            refused: false,
        }
    }

    /// A plan's failed preconditions, as one refusal (the first one's hint).
    fn plan(refusals: Vec<plan::Refusal>) -> Refusal {
        Refusal::refused(
            refusals
                .iter()
                .map(|r| r.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            refusals.first().map(|r| r.hint.clone()).unwrap_or_default(),
        )
    }

    fn store(error: StoreError) -> Refusal {
        let refused = error.is_refusal();
        Refusal {
            hint: error.hint(),
            message: error.to_string(),
            refused,
        }
    }
}

/// How an apply (or a rollback) ended.
#[derive(Debug)]
pub struct Applied {
    pub plan: Plan,
    pub report: Report,
    /// The operation as recorded at the end.
    pub record: Option<OperationRecord>,
    /// What followed a failure: the rollback (`--rollback-on-failure`), or, for a rollback that
    /// could not bring the source back, the undoing of what it had changed.
    pub rollback: Option<Box<Applied>>,
}

/// Applies `plan`, or continues it when an earlier run of the same plan was interrupted.
/// What `apply` would refuse from the recorded state alone (a plan already applied, failed,
/// rolled back or superseded, or made before the state changed), read without locks: so that
/// a command refuses before it shows the plan and asks. `apply` checks again under its locks.
pub fn precheck(spec: &Spec, plan: &Plan) -> Result<(), Refusal> {
    check_spec(plan, spec)?;
    let state = read_state(&*store::open(&spec.state), spec)?;
    match find_record(&state, &plan.operation.id) {
        Some(record) => refusal_of_recorded(record, &plan.operation.id).map_or(Ok(()), Err),
        None => refuse_stale(plan, &state),
    }
}

/// Why a plan whose operation is recorded cannot run again; `None` while it is pending or
/// running (it continues).
fn refusal_of_recorded(record: &OperationRecord, id: &str) -> Option<Refusal> {
    if let Some(by) = &record.superseded_by {
        return Some(superseded(id, by));
    }
    match record.status {
        OperationStatus::Pending | OperationStatus::Running => None,
        OperationStatus::Failed => Some(Refusal::refused(
            format!(
                "{id} already ran and failed: {}",
                record.error_message.clone().unwrap_or_default()
            ),
            format!(
                "continue it with `protector apply --resume {id}`, or undo it with `protector rollback {id}`"
            ),
        )),
        OperationStatus::Completed => Some(Refusal::refused(
            format!(
                "this plan was already applied: {id} completed{}",
                record
                    .completed_at
                    .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                    .unwrap_or_default()
            ),
            "a plan applies once; plan again for the group's current state: `protector plan FILE`",
        )),
        OperationStatus::RollingBack => Some(rolling_back(id)),
        OperationStatus::RolledBack => Some(Refusal::refused(
            format!("{id} was rolled back"),
            "plan again for the group's current state: `protector plan FILE`",
        )),
    }
}

/// A plan made before the recorded state changed is stale.
fn refuse_stale(plan: &Plan, state: &RecordedState) -> Result<(), Refusal> {
    let current = state.versions();
    if current == plan.basis.state_versions {
        return Ok(());
    }
    Err(Refusal::refused(
        format!(
            "the plan is stale: {}",
            explain_versions(&plan.basis.state_versions, &current, state)
        ),
        "plan again and review the new plan: `protector plan FILE ...`",
    ))
}

pub async fn apply(
    spec: &Spec,
    clouds: &CloudsEnvironment,
    plan: &Plan,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Applied, Refusal> {
    check_spec(plan, spec)?;
    let store = store::open(&spec.state);
    let store = &*store;
    let _locks = lock_all(store, spec, &options.command)?;
    let state = read_state(store, spec)?;
    if let Some(record) = find_record(&state, &plan.operation.id) {
        if let Some(refusal) = refusal_of_recorded(record, &plan.operation.id) {
            return Err(refusal);
        }
        // It continues as it started: from the copy kept when it did, which the plan given
        // must be.
        let started = load_plan(store, spec, &plan.operation.id)?;
        plan::file::compare(plan, &started, plan::file::Reference::Started).map_err(
            |difference| {
                Refusal::refused(
                    format!(
                        "the plan is not the one {} started with: {difference}",
                        plan.operation.id
                    ),
                    format!(
                        "continue the operation as it started with `protector apply --resume {}`",
                        plan.operation.id
                    ),
                )
            },
        )?;
        observer.note(&format!(
            "{} was interrupted; continuing it from its journal",
            plan.operation.id
        ));
        let inventory = discover(spec, clouds, options).await;
        return run(
            spec, clouds, store, &started, &inventory, &state, options, observer,
        )
        .await;
    }
    refuse_stale(plan, &state)?;
    let inventory = discover(spec, clouds, options).await;
    let request = PlanRequest {
        operation: plan.operation.kind.clone(),
        options: plan.options.clone(),
    };
    match plan::plan(spec, &inventory, &state, &request) {
        Err(refusals) => {
            let refusal = Refusal::plan(refusals);
            return Err(Refusal {
                message: format!("the plan no longer holds: {}", refusal.message),
                ..refusal
            });
        }
        Ok(fresh) if fresh.basis.inventory_fingerprint != plan.basis.inventory_fingerprint => {
            return Err(Refusal::refused(
                format!(
                    "the plan is stale: the sites changed since it was made\n{}",
                    explain_changes(plan, &fresh)
                ),
                "plan again and review the new plan: `protector plan FILE ...`",
            ));
        }
        Ok(fresh) => {
            // Checked apart from the comparison below, and first: what it finds is said
            // plainly (a step for an instance that is not a member's), not as a difference.
            plan::file::check_resources(plan, spec, &inventory, &state).map_err(|problem| {
                Refusal::refused(
                    format!("the plan acts on what is not the group's: {problem}"),
                    "apply only the plan protector made and the change request reviewed: plan again, `protector plan FILE ... -o PLAN`",
                )
            })?;
            // The planner is a pure function of what was just checked to be the same: a plan
            // that differs from a fresh one is not the plan protector made, whatever was
            // reviewed.
            plan::file::compare(plan, &fresh, plan::file::Reference::Fresh).map_err(|difference| {
                Refusal::refused(
                    format!("the plan is not what protector plans from the same spec, state and sites: {difference}"),
                    "plan again and review the new plan: `protector plan FILE ... -o PLAN`",
                )
            })?;
        }
    }
    run(
        spec, clouds, store, plan, &inventory, &state, options, observer,
    )
    .await
}

/// A recorded operation, locked on every site for the caller's run.
struct Recorded {
    store: Box<dyn StateStore>,
    _locks: Vec<LockGuard>,
    state: RecordedState,
    plan: Plan,
    status: Option<OperationStatus>,
}

fn recorded(spec: &Spec, operation: &str, options: &Options) -> Result<Recorded, Refusal> {
    let store = store::open(&spec.state);
    let locks = lock_all(&*store, spec, &options.command)?;
    let state = read_state(&*store, spec)?;
    let plan = load_plan(&*store, spec, operation)?;
    let status = find_record(&state, operation).map(|r| r.status);
    Ok(Recorded {
        store,
        _locks: locks,
        state,
        plan,
        status,
    })
}

/// Continues operation `operation` from its journal.
pub async fn resume(
    spec: &Spec,
    clouds: &CloudsEnvironment,
    operation: &str,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Applied, Refusal> {
    let recorded = recorded(spec, operation, options)?;
    if let Some(undone) = recorded.plan.options.rollback_of.clone() {
        // A rollback continues as rollbacks do (undone in turn when it cannot proceed).
        return rollback::roll_back(
            spec,
            clouds,
            &*recorded.store,
            recorded.state,
            &undone,
            options,
            observer,
        )
        .await;
    }
    if let Some(by) = find_record(&recorded.state, operation).and_then(|r| r.superseded_by.clone())
    {
        return Err(superseded(operation, &by));
    }
    match recorded.status {
        Some(OperationStatus::Completed) => {
            return Err(Refusal::refused(
                format!("{operation} already completed"),
                "nothing to resume",
            ));
        }
        Some(OperationStatus::RollingBack) => return Err(rolling_back(operation)),
        Some(OperationStatus::RolledBack) => {
            return Err(Refusal::refused(
                format!("{operation} was rolled back"),
                "plan again: `protector plan FILE`",
            ));
        }
        _ => {}
    }
    let inventory = discover(spec, clouds, options).await;
    run(
        spec,
        clouds,
        &*recorded.store,
        &recorded.plan,
        &inventory,
        &recorded.state,
        options,
        observer,
    )
    .await
}

/// A refusal to resume or re-apply an operation whose rollback is under way.
fn rolling_back(operation: &str) -> Refusal {
    Refusal::refused(
        format!("{operation} is being rolled back; it no longer runs forward"),
        format!("continue the rollback with `protector rollback {operation}`"),
    )
}

/// A refusal to resume or roll back an operation another one took over.
fn superseded(operation: &str, by: &str) -> Refusal {
    Refusal::refused(
        format!("{operation} was taken over by {by}, which finished its work"),
        format!("see it with `protector operation show {by}`"),
    )
}

/// A drill and, when it failed, the cleanup that followed.
#[derive(Debug)]
pub struct Drilled {
    pub drill: Applied,
    /// A drill must leave nothing behind: after a failure, what it created is removed at once.
    pub cleanup: Option<Result<Applied, Refusal>>,
}

/// Applies drill `plan`; when it fails, plans and applies the cleanup of what it created.
pub async fn drill(
    spec: &Spec,
    clouds: &CloudsEnvironment,
    plan: &Plan,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Drilled, Refusal> {
    let drill = apply(spec, clouds, plan, options, observer).await?;
    let completed = drill
        .record
        .as_ref()
        .is_some_and(|record| record.status == OperationStatus::Completed);
    let cleanup = if completed {
        None
    } else {
        observer.note(&format!(
            "{} failed ({}); removing what it created",
            plan.operation.id,
            drill
                .record
                .as_ref()
                .and_then(|record| record.error_message.as_deref())
                .unwrap_or("it did not complete")
        ));
        Some(clean_up_after(spec, clouds, plan, options, observer).await)
    };
    Ok(Drilled { drill, cleanup })
}

/// Plans and applies the cleanup of drill `plan`, from what its run recorded.
async fn clean_up_after(
    spec: &Spec,
    clouds: &CloudsEnvironment,
    plan: &Plan,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Applied, Refusal> {
    let cleanup = plan_drill_cleanup(spec, clouds, &plan.operation.id, options).await?;
    let cleanup = Plan {
        spec_file: plan.spec_file.clone(),
        ..cleanup
    };
    apply(spec, clouds, &cleanup, options, observer).await
}

/// Plans the removal of what drill `drill` left on its target, from the recorded state.
pub async fn plan_drill_cleanup(
    spec: &Spec,
    clouds: &CloudsEnvironment,
    drill: &str,
    options: &Options,
) -> Result<Plan, Refusal> {
    let state = read_state(&*store::open(&spec.state), spec)?;
    let inventory = discover(spec, clouds, options).await;
    let request = PlanRequest {
        operation: OperationKind::DrillCleanup,
        options: plan::PlanOptions {
            drill: Some(drill.to_string()),
            ..plan::PlanOptions::default()
        },
    };
    plan::plan(spec, &inventory, &state, &request).map_err(Refusal::plan)
}

fn lock_all(store: &dyn StateStore, spec: &Spec, command: &str) -> Result<Vec<LockGuard>, Refusal> {
    spec.sites
        .keys()
        .map(|site| {
            store
                .lock(site, &spec.name, command)
                .map_err(Refusal::store)
        })
        .collect()
}

/// The recorded state, with a write that a crash cut short between the sites repaired on disk
/// (the caller holds the group's locks).
fn read_state(store: &dyn StateStore, spec: &Spec) -> Result<RecordedState, Refusal> {
    let mut state = store.read_state(spec).map_err(Refusal::store)?;
    for site in state.heal() {
        tracing::warn!(%site, "repairing a state document a crash left one version behind");
        if let Some(document) = state.sites.get(&site).and_then(Option::as_ref) {
            store.save(document).map_err(Refusal::store)?;
        }
    }
    Ok(state)
}

fn find_record<'a>(state: &'a RecordedState, operation: &str) -> Option<&'a OperationRecord> {
    state
        .sites
        .values()
        .flatten()
        .max_by_key(|doc| doc.metadata_version)
        .and_then(|doc| doc.operations.iter().find(|op| op.id == operation))
}

/// That `plan` belongs to `spec` (its group, its sites).
fn check_spec(plan: &Plan, spec: &Spec) -> Result<(), Refusal> {
    plan::file::check_spec(plan, spec).map_err(|problem| {
        Refusal::refused(
            problem,
            "apply the plan with the spec it was made from (--file FILE)",
        )
    })
}

/// The plan copy apply kept for `operation`, on whichever site has it.
fn load_plan(store: &dyn StateStore, spec: &Spec, operation: &str) -> Result<Plan, Refusal> {
    for site in spec.sites.keys() {
        if let Some(plan) = store
            .load_plan(site, &spec.name, operation)
            .map_err(Refusal::store)?
        {
            check_spec(&plan, spec)?;
            return Ok(plan);
        }
    }
    Err(no_operation(spec, operation))
}

fn no_operation(spec: &Spec, operation: &str) -> Refusal {
    Refusal::error(
        format!("no operation {operation} is recorded for `{}`", spec.name),
        "list the group's operations with `protector operation list FILE`",
    )
}

async fn discover(spec: &Spec, clouds: &CloudsEnvironment, options: &Options) -> Inventory {
    crate::inventory::discover::discover(spec, clouds, options.timeout).await
}

/// The sites whose state an operation writes: the reachable ones; an unplanned failover writes
/// only its target (the source is down; `sync-force` brings its record up to date).
fn writable_sites(spec: &Spec, plan: &Plan, inventory: &Inventory) -> Vec<String> {
    if plan.operation.failover_type == Some(FailoverType::Unplanned) {
        return vec![plan.operation.target_site.clone()];
    }
    spec.sites
        .keys()
        .filter(|site| {
            inventory
                .sites
                .get(*site)
                .is_some_and(|s| s.facts().is_some())
        })
        .cloned()
        .collect()
}

/// Applies `change` to the newest document and saves it, with the next version, as the
/// document of each of `sites`; each records whether its peers were written along (IN SYNC)
/// or not (UNREACHABLE). Every site written gets the same content: a site that missed writes
/// (it was down) is not written its own stale copy at a version that would pass for current.
fn update_documents(
    store: &dyn StateStore,
    spec: &Spec,
    sites: &[String],
    change: impl Fn(&mut StateDocument),
) -> Result<(), String> {
    let mut loaded = BTreeMap::new();
    for site in spec.sites.keys() {
        loaded.insert(
            site.clone(),
            store.load(site, &spec.name).map_err(|e| e.to_string())?,
        );
    }
    let newest_version = loaded
        .values()
        .flatten()
        .map(|doc| doc.metadata_version)
        .max()
        .unwrap_or(0);
    // Only an edited document gets here; wrapping to 0 would pass its successor for older.
    let next = newest_version.checked_add(1).ok_or_else(|| {
        format!(
            "the state of `{}` is at version {newest_version}, which cannot be raised: restore its documents from a backup",
            spec.name
        )
    })?;
    let newest = loaded
        .values()
        .flatten()
        .max_by_key(|doc| doc.metadata_version)
        .cloned();
    let now = Utc::now();
    for site in sites {
        let mut doc = match &newest {
            Some(newest) => StateDocument {
                site: site.clone(),
                ..newest.clone()
            },
            None => StateDocument::initial(spec, site),
        };
        doc.sync.remove(site);
        change(&mut doc);
        doc.metadata_version = next;
        doc.updated_at = Some(now);
        for peer in spec.sites.keys().filter(|peer| *peer != site) {
            let written = sites.contains(peer);
            doc.sync.insert(
                peer.clone(),
                PeerSync {
                    status: if written {
                        SyncStatus::InSync
                    } else {
                        SyncStatus::Unreachable
                    },
                    peer_version: if written {
                        Some(next)
                    } else {
                        loaded
                            .get(peer)
                            .and_then(|d| d.as_ref())
                            .map(|d| d.metadata_version)
                    },
                    checked_at: Some(now),
                },
            );
        }
        store.save(&doc).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// What the executor calls for each event: journal it (before the executor moves on), then
/// show it, counting the steps finished so far (`done` of them before this run).
fn journaling<'a>(
    store: &'a dyn StateStore,
    plan: &'a Plan,
    observer: &'a mut dyn Observer,
    undo: bool,
    mut done: usize,
    total: usize,
) -> impl FnMut(Event<'_>) -> Result<(), String> + 'a {
    move |event| {
        if matches!(event, Event::Done { .. }) {
            done += 1;
        }
        let result = journal_event(store, plan, &event, undo);
        observer.step(&event, undo, done, total);
        result
    }
}

/// Journals a step's start or end (`undo`: of undoing it), synced to disk before returning.
fn journal_event(
    store: &dyn StateStore,
    plan: &Plan,
    event: &Event<'_>,
    undo: bool,
) -> Result<(), String> {
    let none = Created::new();
    let attempt: Created;
    let (step, kind, created, error) = match event {
        Event::Started { step } => (step, JournalEvent::Started, &none, None),
        Event::Done { step, created, .. } => (step, JournalEvent::Done, *created, None),
        Event::Failed { step, error, .. } => (step, JournalEvent::Failed, &none, Some(*error)),
        Event::Retrying {
            step,
            attempt: number,
            error,
        } => {
            attempt = Created::from([("attempt".to_string(), number.to_string())]);
            (step, JournalEvent::Retrying, &attempt, Some(*error))
        }
    };
    let kind = match (undo, kind) {
        (false, kind) => kind,
        (true, JournalEvent::Started) => JournalEvent::UndoStarted,
        (true, JournalEvent::Done) => JournalEvent::Undone,
        // Undoing is not retried: nothing to journal.
        (true, JournalEvent::Retrying) => return Ok(()),
        (true, _) => JournalEvent::UndoFailed,
    };
    store
        .append_journal(
            &plan.operation.target_site,
            &plan.protection_group,
            &plan.operation.id,
            &JournalEntry {
                at: Utc::now(),
                step: step.id.clone(),
                event: kind,
                // What an undone step made is gone: only `done` records what exists.
                created: if undo {
                    Created::new()
                } else {
                    created.clone()
                },
                error: error.map(str::to_string),
            },
        )
        .map_err(|e| format!("cannot write the journal: {e}"))
}

fn read_journal(store: &dyn StateStore, plan: &Plan) -> Result<Vec<JournalEntry>, String> {
    store
        .read_journal(
            &plan.operation.target_site,
            &plan.protection_group,
            &plan.operation.id,
        )
        .map_err(|e| e.to_string())
}

fn read_progress(store: &dyn StateStore, plan: &Plan) -> Result<Progress, String> {
    read_journal(store, plan).map(|entries| replay(&entries))
}

/// The members' instances on the source as the operation found them: discovered, else as last
/// recorded (the source is down).
fn source_instances(
    spec: &Spec,
    plan: &Plan,
    inventory: &Inventory,
    state: &RecordedState,
) -> BTreeMap<String, Instance> {
    let discovered = inventory
        .sites
        .get(&plan.operation.source_site)
        .and_then(|site| site.facts());
    let recorded = state.newest();
    spec.members
        .iter()
        .filter_map(|member| {
            let instance = discovered
                .and_then(|facts| facts.instances.get(&member.instance))
                .or_else(|| {
                    recorded
                        .and_then(|doc| doc.members.get(&member.instance))
                        .and_then(|record| {
                            // After a failover the record's `previous` is the source's copy.
                            if record.site == plan.operation.source_site {
                                record.last_known.as_ref()
                            } else {
                                record.previous.as_ref()
                            }
                        })
                })?;
            Some((member.instance.clone(), instance.clone()))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn run(
    spec: &Spec,
    clouds: &CloudsEnvironment,
    store: &dyn StateStore,
    plan: &Plan,
    inventory: &Inventory,
    state: &RecordedState,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Applied, Refusal> {
    let writable = writable_sites(spec, plan, inventory);
    let earlier = read_progress(store, plan)
        .map_err(|e| Refusal::error(e, "the journal is damaged; restore it or roll back"))?;
    let left_out = left_out(plan, inventory, &earlier)?;
    if !left_out.is_empty() && plan.operation.failover_type != Some(FailoverType::Unplanned) {
        observer.note(&format!(
            "{} is unreachable: finishing {} on {} without it; what it owes there waits for `protector protection-group sync-force FILE`",
            plan.operation.source_site, plan.operation.id, plan.operation.target_site
        ));
    }
    let now = Utc::now();
    store
        .save_plan(&plan.operation.target_site, plan)
        .map_err(Refusal::store)?;
    let sources = source_instances(spec, plan, inventory, state);
    update_documents(store, spec, &writable, |doc| {
        record::begin(doc, plan, &sources, now)
    })
    .map_err(|e| Refusal::error(e, "check that the state folder is writable"))?;
    let total = plan.steps.len();
    if !earlier.done.is_empty() {
        observer.note(&format!(
            "continuing {}: {} of {total} steps already done{}",
            plan.operation.id,
            earlier.done.len(),
            if earlier.in_flight.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} interrupted, running again",
                    earlier.in_flight.join(", ")
                )
            }
        ));
    }
    let finalize = {
        let (sources, writable) = (&sources, &writable);
        move |outputs: &Outputs| {
            let outputs = outputs.all();
            async move {
                let target = &plan.operation.target_site;
                let discovered = crate::inventory::discover::discover_site(
                    spec,
                    target,
                    clouds,
                    options.timeout,
                )
                .await;
                let outcome = record::Outcome {
                    outputs: &outputs,
                    target: discovered.facts(),
                    source_instances: sources,
                };
                let now = Utc::now();
                if plan.operation.kind == OperationKind::SyncForce {
                    // Push the newest document to every site, without the cleanup just done.
                    let newest = read_state(store, spec)
                        .map_err(|refusal| refusal.message)?
                        .newest()
                        .cloned()
                        .ok_or("no state document to push")?;
                    return update_documents(store, spec, writable, |doc| {
                        let site = std::mem::take(&mut doc.site);
                        *doc = StateDocument {
                            site,
                            ..newest.clone()
                        };
                        doc.pending_cleanup
                            .retain(|pending| pending.site != plan.operation.source_site);
                    });
                }
                update_documents(store, spec, writable, |doc| {
                    record::place(doc, plan, &outcome, now)
                })
            }
            .boxed_local()
        }
    };
    let policy = FailurePolicy {
        tolerated: plan
            .steps
            .iter()
            .filter(|step| needs(spec, step).any(|site| left_out.contains(site)))
            .map(|step| step.id.clone())
            .collect(),
    };
    let runner = effects::SiteRunner::new(
        spec,
        plan,
        clouds,
        options.timeout,
        options.step_timeout,
        Box::new(finalize),
    )
    .leaving_out(left_out);
    let mut done = earlier.done_map();
    done.retain(|id, _| {
        !plan
            .step(id)
            .is_some_and(|step| step.action.runs_again_on_resume())
    });
    let report = executor::execute(
        &plan.steps,
        done,
        &options.budgets,
        &policy,
        &runner,
        &mut journaling(
            store,
            plan,
            &mut *observer,
            false,
            earlier.done.len(),
            total,
        ),
    )
    .await;
    let entries = read_journal(store, plan).unwrap_or_default();
    let progress = replay(&entries);
    let error = failure_message(&report, &policy.tolerated);
    let now = Utc::now();
    // A drill is the rehearsal that measures how long steps take: later plans estimate with it.
    let measured = match plan.operation.kind {
        OperationKind::Drill | OperationKind::DrillCleanup => record::measure(plan, &entries, now),
        _ => BTreeMap::new(),
    };
    update_documents(store, spec, &writable, |doc| {
        record::finish(doc, plan, &progress, error.clone(), now);
        record::learn(doc, &measured);
    })
    .map_err(|e| Refusal::error(e, "check that the state folder is writable"))?;
    let missed: Vec<&str> = spec
        .sites
        .keys()
        .filter(|site| !writable.contains(site))
        .map(String::as_str)
        .collect();
    if error.is_none() && !missed.is_empty() {
        observer.note(&format!(
            "{} could not be reached and does not know of {} yet: once it is back, run `protector protection-group sync-force FILE`",
            missed.join(" and "),
            plan.operation.id
        ));
    }
    let rollback = if error.is_some() && options.rollback_on_failure {
        observer.note(&format!("rolling back {}", plan.operation.id));
        let state = read_state(store, spec)?;
        Some(Box::new(
            Box::pin(rollback::roll_back(
                spec,
                clouds,
                store,
                state,
                &plan.operation.id,
                options,
                observer,
            ))
            .await?,
        ))
    } else {
        None
    };
    let record = read_state(store, spec)
        .ok()
        .and_then(|state| find_record(&state, &plan.operation.id).cloned());
    Ok(Applied {
        plan: plan.clone(),
        report,
        record,
        rollback,
    })
}

/// The operation's error message: the failed steps and their errors. Steps that failed on
/// `tolerated` (a site left out of the run: what they owe is recorded) are not failures.
fn failure_message(report: &Report, tolerated: &BTreeSet<String>) -> Option<String> {
    if let Some(aborted) = &report.aborted {
        return Some(aborted.clone());
    }
    let failed: Vec<&(String, String)> = report
        .failed
        .iter()
        .filter(|(step, _)| !tolerated.contains(step))
        .collect();
    if failed.is_empty() && report.not_run.is_empty() {
        return None;
    }
    if failed.is_empty() {
        return Some(format!("{} steps did not run", report.not_run.len()));
    }
    Some(
        failed
            .iter()
            .map(|(step, error)| format!("{step}: {error}"))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// The sites `step` needs: its own, and the site of the array it replicates to.
pub(crate) fn needs<'a>(spec: &'a Spec, step: &'a plan::Step) -> impl Iterator<Item = &'a str> {
    let replicates_to = match &step.action {
        plan::Action::SnapshotAndReplicate { target_array, .. } => spec
            .sites
            .iter()
            .find(|(_, site)| &site.flasharray.array_name == target_array)
            .map(|(name, _)| name.as_str()),
        _ => None,
    };
    std::iter::once(step.site.as_str()).chain(replicates_to)
}

/// The sites a run does not act on: an unplanned failover's source; the source of a planned
/// failover or failback resumed after losing it, which finishes on its target alone once its
/// final snapshot arrived there (before, it cannot: it is refused with the unplanned failover
/// that takes it over).
fn left_out(
    plan: &Plan,
    inventory: &Inventory,
    progress: &Progress,
) -> Result<BTreeSet<String>, Refusal> {
    let source = &plan.operation.source_site;
    let moves = matches!(
        plan.operation.kind,
        OperationKind::Failover | OperationKind::Failback
    );
    let lost = inventory
        .sites
        .get(source)
        .is_none_or(|site| site.facts().is_none());
    if !moves {
        return Ok(BTreeSet::new());
    }
    if plan.operation.failover_type == Some(FailoverType::Unplanned) {
        return Ok(BTreeSet::from([source.clone()]));
    }
    if !lost {
        return Ok(BTreeSet::new());
    }
    let snapshot = plan.steps.iter().find(|step| {
        &step.site == source && matches!(step.action, plan::Action::SnapshotAndReplicate { .. })
    });
    match snapshot {
        Some(step) if progress.created(&step.id).is_some() => Ok(BTreeSet::from([source.clone()])),
        _ => Err(Refusal::refused(
            format!(
                "{source} is unreachable and {} had not replicated its final snapshot: it cannot finish as planned",
                plan.operation.id
            ),
            format!(
                "recover from the newest replicated snapshot with `protector failover FILE --type unplanned` (it takes {} over), or roll it back once {source} is back: `protector rollback {}`",
                plan.operation.id, plan.operation.id
            ),
        )),
    }
}

/// Which site's recorded state moved, and through which operation.
fn explain_versions(
    planned: &BTreeMap<String, Option<u64>>,
    current: &BTreeMap<String, Option<u64>>,
    state: &RecordedState,
) -> String {
    let mut parts = Vec::new();
    for (site, now) in current {
        let then = planned.get(site).copied().flatten();
        if then != *now {
            let show = |v: Option<u64>| v.map_or("none".to_string(), |v| v.to_string());
            parts.push(format!(
                "the recorded state of {site} moved from version {} to {}",
                show(then),
                show(*now)
            ));
        }
    }
    if let Some(last) = state.newest().and_then(|doc| doc.operations.last()) {
        parts.push(format!(
            "the last operation recorded is {} ({}, {})",
            last.id,
            last.kind,
            last.status.as_str()
        ));
    }
    parts.join("; ")
}

/// A short account of how a fresh plan differs from the saved one.
fn explain_changes(saved: &Plan, fresh: &Plan) -> String {
    let ids = |plan: &Plan| -> BTreeSet<String> {
        plan.steps.iter().map(|step| step.id.clone()).collect()
    };
    let (old, new) = (ids(saved), ids(fresh));
    let mut lines = Vec::new();
    for added in new.difference(&old).take(10) {
        lines.push(format!("  + a fresh plan also has step {added}"));
    }
    for removed in old.difference(&new).take(10) {
        lines.push(format!("  - a fresh plan no longer has step {removed}"));
    }
    for (member, view) in &fresh.before.members {
        match saved.before.members.get(member) {
            Some(then) if then != view => {
                lines.push(format!("  ~ member {member} changed on {}", view.site));
            }
            None => lines.push(format!("  + member {member} appeared")),
            _ => {}
        }
    }
    for member in saved.before.members.keys() {
        if !fresh.before.members.contains_key(member) {
            lines.push(format!("  - member {member} is gone"));
        }
    }
    if lines.is_empty() {
        lines.push(
            "  ~ facts the plan relies on changed (target networks, free addresses, flavors or snapshots)"
                .to_string(),
        );
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::example_spec;
    use crate::state::GroupStatus;

    #[test]
    fn a_site_that_missed_writes_is_written_the_newest_document_not_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = example_spec();
        spec.state.path = dir.path().to_path_buf();
        let store = store::open(&spec.state);
        // site-b was down while site-a recorded a completed failback.
        let mut stale = StateDocument::initial(&spec, "site-b");
        stale.metadata_version = 6;
        stale.status = GroupStatus::Error;
        store.save(&stale).unwrap();
        let mut newest = StateDocument::initial(&spec, "site-a");
        newest.metadata_version = 9;
        newest.status = GroupStatus::Active;
        store.save(&newest).unwrap();

        let sites = vec!["site-a".to_string(), "site-b".to_string()];
        update_documents(&*store, &spec, &sites, |_| {}).unwrap();
        for site in ["site-a", "site-b"] {
            let doc = store.load(site, &spec.name).unwrap().unwrap();
            assert_eq!(doc.site, site);
            assert_eq!(doc.metadata_version, 10);
            assert_eq!(doc.status, GroupStatus::Active, "{site}");
            assert!(!doc.sync.contains_key(site), "{site}: {:?}", doc.sync);
        }
    }

    #[test]
    fn a_document_at_the_last_version_is_not_wrapped_round() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = example_spec();
        spec.state.path = dir.path().to_path_buf();
        let store = store::open(&spec.state);
        let mut edited = StateDocument::initial(&spec, "site-a");
        edited.metadata_version = u64::MAX;
        store.save(&edited).unwrap();
        let sites = vec!["site-a".to_string()];
        let error = update_documents(&*store, &spec, &sites, |_| {}).unwrap_err();
        assert!(
            error.contains("is at version 18446744073709551615, which cannot be raised"),
            "{error}"
        );
        assert_eq!(store.load("site-a", &spec.name).unwrap(), Some(edited));
    }
}
