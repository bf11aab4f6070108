//! How an operation changes the recorded state: pure functions over state documents, so every
//! transition of DESIGN §2 (PG `active -> failing_over -> failed_over -> failing_back ->
//! active`, any failure -> `error`; operation `pending -> running -> completed | failed |
//! rolling_back | rolled_back`; a drill's leftovers and its cleanup proof) is tested without a
//! disk.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::executor::Created;
use crate::inventory::{Instance, SiteFacts};
use crate::plan::{Action, OperationKind, Plan, ResourceRef};
use crate::state::journal::Progress;
use crate::state::{
    CleanupProof, DrillResource, DrillResourceKind, GroupStatus, JournalEntry, JournalEvent,
    MeasuredDuration, MemberRecord, OperationRecord, OperationStatus, PendingCleanup,
    RetiredVolume, StateDocument,
};

/// The group's status while `plan` runs.
fn running_status(plan: &Plan, current: GroupStatus) -> GroupStatus {
    match plan.operation.kind {
        OperationKind::Failover => GroupStatus::FailingOver,
        OperationKind::Failback => GroupStatus::FailingBack,
        OperationKind::Converge
        | OperationKind::Drill
        | OperationKind::DrillCleanup
        | OperationKind::SyncForce
        | OperationKind::Rollback => current,
    }
}

/// The record of the operation a rollback undoes.
fn undone_mut<'a>(doc: &'a mut StateDocument, plan: &Plan) -> Option<&'a mut OperationRecord> {
    let undone = plan.options.rollback_of.as_deref()?;
    doc.operations.iter_mut().find(|op| op.id == undone)
}

fn record_mut<'a>(doc: &'a mut StateDocument, plan: &Plan) -> &'a mut OperationRecord {
    let id = &plan.operation.id;
    if let Some(index) = doc.operations.iter().position(|op| &op.id == id) {
        return &mut doc.operations[index];
    }
    doc.operations.push(OperationRecord {
        id: id.clone(),
        kind: plan.operation.kind.as_str().to_string(),
        status: OperationStatus::Pending,
        progress: 0,
        steps_completed: Vec::new(),
        steps_failed: Vec::new(),
        error_message: None,
        started_at: None,
        completed_at: None,
        source_site: plan.operation.source_site.clone(),
        target_site: plan.operation.target_site.clone(),
        left_on_target: Vec::new(),
        proof: None,
        rollback: None,
        rolls_back: plan.options.rollback_of.clone(),
        superseded_by: None,
    });
    doc.operations.last_mut().expect("just pushed")
}

/// The operation starts (or resumes): its record is `running`, the group's status says so; the
/// operation a rollback undoes is `rolling_back`, by it; one it takes over is superseded. A
/// failover or failback records the members' instances on its source as they are now
/// (`sources`): if that site is lost on the way, what it must rebuild and what it owes there
/// are still known.
pub fn begin(
    doc: &mut StateDocument,
    plan: &Plan,
    sources: &BTreeMap<String, Instance>,
    now: DateTime<Utc>,
) {
    doc.status = running_status(plan, doc.status);
    if matches!(
        plan.operation.kind,
        OperationKind::Failover | OperationKind::Failback
    ) {
        let source = &plan.operation.source_site;
        for (member, instance) in sources {
            let record = doc
                .members
                .entry(member.clone())
                .or_insert_with(|| MemberRecord {
                    site: source.clone(),
                    instance_id: None,
                    array_volumes: Vec::new(),
                    last_known: None,
                    previous: None,
                });
            if &record.site == source {
                record.instance_id = Some(instance.id.clone());
                record.array_volumes = instance
                    .volumes
                    .iter()
                    .filter_map(|v| v.array_volume_name.clone())
                    .collect();
                record.last_known = Some(instance.clone());
            }
        }
    }
    if let Some(superseded) = plan.operation.supersedes.as_deref()
        && let Some(record) = doc.operations.iter_mut().find(|op| op.id == superseded)
    {
        record.superseded_by = Some(plan.operation.id.clone());
        record.status = OperationStatus::Failed;
        record.error_message = Some(format!(
            "taken over by {}, which finishes its work",
            plan.operation.id
        ));
    }
    if let Some(undone) = undone_mut(doc, plan) {
        undone.status = OperationStatus::RollingBack;
        undone.rollback = Some(plan.operation.id.clone());
        undone.completed_at = None;
    }
    let record = record_mut(doc, plan);
    record.status = OperationStatus::Running;
    record.error_message = None;
    record.completed_at = None;
    record.started_at.get_or_insert(now);
}

/// The operation ended: `completed`, or `failed` with the error (the group goes to `error`
/// when the workload may be half-moved).
pub fn finish(
    doc: &mut StateDocument,
    plan: &Plan,
    progress: &Progress,
    error: Option<String>,
    now: DateTime<Utc>,
) {
    let moves_workload = matches!(
        plan.operation.kind,
        OperationKind::Failover | OperationKind::Failback | OperationKind::Rollback
    );
    if error.is_some() && moves_workload {
        doc.status = GroupStatus::Error;
    }
    retired(doc, plan, progress, now);
    let record = record_mut(doc, plan);
    record.status = if error.is_some() {
        OperationStatus::Failed
    } else {
        OperationStatus::Completed
    };
    record.progress = progress.percent(plan.steps.len());
    record.steps_completed = progress.done.iter().map(|(id, _)| id.clone()).collect();
    record.steps_failed = progress.failed.iter().map(|(id, _)| id.clone()).collect();
    record.error_message = error;
    record.completed_at = Some(now);
    match plan.operation.kind {
        OperationKind::Drill => {
            record.left_on_target = left_by(plan, progress);
            record.proof = proof(plan, progress, now);
        }
        OperationKind::DrillCleanup => {
            record.proof = proof(plan, progress, now);
            let removals = removals(plan, progress);
            if let Some(drill) = plan.options.drill.as_deref()
                && let Some(drill) = doc.operations.iter_mut().find(|op| op.id == drill)
            {
                drill
                    .left_on_target
                    .retain(|resource| !removes(&removals, resource));
            }
        }
        _ => {}
    }
}

/// Keeps the list of retired array volumes: what done `retire_volumes` steps took out of
/// replication joins it, what done `destroy_retired_volumes` steps destroyed (or found gone)
/// leaves it. One kept because it is in use again stays.
fn retired(doc: &mut StateDocument, plan: &Plan, progress: &Progress, now: DateTime<Utc>) {
    for step in &plan.steps {
        let Some(created) = progress.created(&step.id) else {
            continue;
        };
        match &step.action {
            Action::RetireVolumes { array, .. } => {
                let names = created.get("retired").map(String::as_str).unwrap_or("");
                for name in names.split(',').filter(|name| !name.is_empty()) {
                    let known = doc
                        .retired_volumes
                        .iter()
                        .any(|v| &v.array == array && v.name == name);
                    if !known {
                        doc.retired_volumes.push(RetiredVolume {
                            array: array.clone(),
                            name: name.to_string(),
                            retired_at: now,
                            operation: plan.operation.id.clone(),
                        });
                    }
                }
            }
            Action::DestroyRetiredVolumes { array, volumes, .. } => {
                let kept = created.get("kept").map(String::as_str).unwrap_or("");
                doc.retired_volumes.retain(|v| {
                    &v.array != array
                        || !volumes.contains(&v.name)
                        || kept.split(',').any(|name| name == v.name)
                });
            }
            _ => {}
        }
    }
}

/// What drill `plan` created on its target and has not removed, as its journal tells: every
/// creating step that started (one that failed may still have created what its marker finds),
/// less what a done cleanup step of the drill removed.
fn left_by(plan: &Plan, progress: &Progress) -> Vec<DrillResource> {
    let done = progress.done_map();
    let started: BTreeSet<&str> = done
        .keys()
        .map(String::as_str)
        .chain(progress.failed.iter().map(|(id, _)| id.as_str()))
        .chain(progress.in_flight.iter().map(String::as_str))
        .collect();
    let removals = removals(plan, progress);
    plan.steps
        .iter()
        .filter(|step| started.contains(step.id.as_str()))
        .filter_map(|step| {
            let (kind, _) = step.action.creation()?;
            let id = done
                .get(&step.id)
                .and_then(|created| created.get(kind.output()).cloned());
            step.drill_resource(id)
        })
        .filter(|resource| !removes(&removals, resource))
        .collect()
}

/// What the done cleanup steps of `plan` removed.
fn removals<'a>(plan: &'a Plan, progress: &Progress) -> Vec<(DrillResourceKind, &'a ResourceRef)> {
    let done: BTreeSet<&str> = progress.done.iter().map(|(id, _)| id.as_str()).collect();
    plan.steps
        .iter()
        .filter(|step| done.contains(step.id.as_str()))
        .filter_map(|step| step.action.removal())
        .collect()
}

fn removes(removals: &[(DrillResourceKind, &ResourceRef)], resource: &DrillResource) -> bool {
    removals.iter().any(|(kind, reference)| {
        *kind == resource.kind
            && match reference {
                ResourceRef::Step { step } | ResourceRef::Marker { step, .. } => {
                    *step == resource.step
                }
                ResourceRef::Recorded { id } => resource.id.as_ref() == Some(id),
            }
    })
}

/// The proof `plan`'s proof step recorded, once it passed.
fn proof(plan: &Plan, progress: &Progress, now: DateTime<Utc>) -> Option<CleanupProof> {
    let (step, drill) = plan.steps.iter().find_map(|step| match &step.action {
        Action::ProveDrillClean { drill, .. } => Some((step, drill)),
        _ => None,
    })?;
    let (_, listed) = progress.done.iter().find(|(id, _)| *id == step.id)?;
    Some(CleanupProof {
        drill: drill.clone(),
        site: step.site.clone(),
        proven_at: now,
        listed: listed
            .iter()
            .filter(|(kind, _)| *kind != "destroyed")
            .filter_map(|(kind, count)| Some((kind.clone(), count.parse().ok()?)))
            .collect(),
        destroyed: listed
            .get("destroyed")
            .map(|names| names.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
    })
}

/// A rollback that failed before removing anything was itself undone (what it stopped on the
/// target runs again, what it started on the source is stopped): it is `rolled_back`, with why
/// it could not complete, and the operation it was undoing is `failed` as before, free to be
/// resumed or rolled back again.
pub fn compensated(doc: &mut StateDocument, plan: &Plan, why: String, now: DateTime<Utc>) {
    if let Some(undone) = undone_mut(doc, plan) {
        undone.status = OperationStatus::Failed;
        undone.rollback = None;
        undone.completed_at = Some(now);
    }
    doc.status = GroupStatus::Error;
    let record = record_mut(doc, plan);
    record.status = OperationStatus::RolledBack;
    record.error_message = Some(why);
    record.completed_at = Some(now);
}

/// What the finalize step knows: what the run created, and the members' instances on the
/// target (discovered after the boots) and on the source (as they were before).
pub struct Outcome<'a> {
    pub outputs: &'a BTreeMap<String, Created>,
    pub target: Option<&'a SiteFacts>,
    pub source_instances: &'a BTreeMap<String, Instance>,
}

/// The group as the operation leaves it: where each member runs now, what it is made of, and
/// (unplanned failover) the source-side cleanup still owed.
pub fn place(doc: &mut StateDocument, plan: &Plan, outcome: &Outcome<'_>, now: DateTime<Utc>) {
    let target = &plan.operation.target_site;
    match plan.operation.kind {
        OperationKind::Converge => {
            for (member, instance) in outcome.source_instances {
                doc.members.insert(
                    member.clone(),
                    MemberRecord {
                        site: plan.operation.source_site.clone(),
                        instance_id: Some(instance.id.clone()),
                        array_volumes: instance
                            .volumes
                            .iter()
                            .filter_map(|v| v.array_volume_name.clone())
                            .collect(),
                        last_known: Some(instance.clone()),
                        previous: doc.members.get(member).and_then(|r| r.previous.clone()),
                    },
                );
            }
            return;
        }
        // Sync-force replaces the whole document (see `apply`); a drill moves nothing.
        OperationKind::Drill | OperationKind::DrillCleanup | OperationKind::SyncForce => return,
        // The workload runs on the source again, as before the undone operation.
        OperationKind::Rollback => {
            let kind = undone_mut(doc, plan).map(|undone| {
                undone.status = OperationStatus::RolledBack;
                undone.completed_at = Some(now);
                undone.kind.clone()
            });
            if let Some(kind) = kind {
                doc.status = crate::plan::status_before(&kind);
            }
            doc.current_primary_site = plan.operation.target_site.clone();
            return;
        }
        OperationKind::Failover | OperationKind::Failback => {}
    }
    let step_output = |step: &str, kind: &str| {
        outcome
            .outputs
            .get(step)
            .and_then(|created| created.get(kind).cloned())
    };
    let discovered = |member: &str| {
        outcome
            .target
            .and_then(|facts| facts.instances.get(member))
            .cloned()
    };
    let mut pending = Vec::new();
    for member in plan.after.members.keys() {
        let boot = plan.step(&format!("boot_instance/{member}"));
        let placed = match boot.map(|step| (&step.id, &step.action)) {
            Some((id, Action::BootInstance { volume_steps, .. })) => MemberRecord {
                site: target.clone(),
                instance_id: step_output(id, "server"),
                array_volumes: volume_steps
                    .iter()
                    .filter_map(|s| step_output(s, "array_volume"))
                    .collect(),
                last_known: discovered(member),
                previous: None,
            },
            // Adopted where it already ran: as discovered there.
            _ => {
                let instance = discovered(member);
                MemberRecord {
                    site: target.clone(),
                    instance_id: instance.as_ref().map(|i| i.id.clone()),
                    array_volumes: instance
                        .iter()
                        .flat_map(|i| &i.volumes)
                        .filter_map(|v| v.array_volume_name.clone())
                        .collect(),
                    last_known: instance,
                    previous: None,
                }
            }
        };
        let source = outcome.source_instances.get(member);
        doc.members.insert(
            member.clone(),
            MemberRecord {
                previous: source.cloned(),
                ..placed
            },
        );
        // What the source still holds of the member, owed by `sync-force`: what the plan's
        // steps there did not remove (its site was lost on the way), or all of it when the plan
        // had none (the source was down from the start).
        let source_site = &plan.operation.source_site;
        let delete = plan.steps.iter().find(|step| {
            step.member.as_ref() == Some(member)
                && &step.site == source_site
                && matches!(step.action, Action::DeleteInstance { .. })
        });
        let owed = match delete {
            Some(delete) => owed_by_steps(plan, member, delete, outcome.outputs),
            None => source.map(|source| {
                (
                    Some(source.id.clone()),
                    source.volumes.iter().map(|v| v.id.clone()).collect(),
                )
            }),
        };
        if let Some((instance_id, volume_ids)) = owed {
            pending.push(PendingCleanup {
                site: plan.operation.source_site.clone(),
                member: member.clone(),
                instance_id,
                volume_ids,
                operation: plan.operation.id.clone(),
            });
        }
    }
    doc.pending_cleanup.retain(|p| p.site != *target);
    doc.pending_cleanup.extend(pending);
    // Finalize runs again when a crash came between recording and journaling it: the group
    // moved once.
    let moved = doc.current_primary_site != *target;
    doc.current_primary_site = target.clone();
    match plan.operation.kind {
        OperationKind::Failover => {
            doc.status = GroupStatus::FailedOver;
            if moved {
                // A count is for people; an edited document at the maximum stays there.
                doc.failover_count = doc.failover_count.saturating_add(1);
                doc.last_failover_at = Some(now);
            }
        }
        _ => doc.status = GroupStatus::Active,
    }
}

/// The instance and volumes a member's source-side steps (`delete`, then its unmanages) did not
/// remove; `None` when they all ran.
fn owed_by_steps(
    plan: &Plan,
    member: &str,
    delete: &crate::plan::Step,
    done: &BTreeMap<String, Created>,
) -> Option<(Option<String>, Vec<String>)> {
    let instance_id = match &delete.action {
        Action::DeleteInstance { instance_id, .. } if !done.contains_key(&delete.id) => {
            Some(instance_id.clone())
        }
        _ => None,
    };
    let volume_ids: Vec<String> = plan
        .steps
        .iter()
        .filter(|step| {
            step.member.as_deref() == Some(member)
                && step.site == delete.site
                && !done.contains_key(&step.id)
        })
        .filter_map(|step| match &step.action {
            Action::UnmanageVolume { volume_id, .. } => Some(volume_id.clone()),
            _ => None,
        })
        .collect();
    (instance_id.is_some() || !volume_ids.is_empty()).then_some((instance_id, volume_ids))
}

/// How long each kind of step took on each site in `plan`'s run, from its journal: a step's
/// duration runs from its last `started` to the `done` after it (a resumed step counts from
/// its restart). Steps that failed or never finished measure nothing.
pub fn measure(
    plan: &Plan,
    entries: &[JournalEntry],
    now: DateTime<Utc>,
) -> BTreeMap<String, BTreeMap<String, MeasuredDuration>> {
    let mut started: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    let mut took: BTreeMap<&str, f64> = BTreeMap::new();
    for entry in entries {
        match entry.event {
            JournalEvent::Started => {
                started.insert(&entry.step, entry.at);
            }
            JournalEvent::Done => {
                if let Some(start) = started.get(entry.step.as_str()) {
                    let secs = (entry.at - *start).num_milliseconds().max(0) as f64 / 1000.0;
                    took.insert(&entry.step, secs);
                }
            }
            _ => {}
        }
    }
    let mut samples: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    // A tier's gate only waits for the boots before it: no duration of its own to learn.
    let timed = plan
        .steps
        .iter()
        .filter(|step| !matches!(step.action, Action::TierActive { .. }));
    for step in timed {
        if let Some(secs) = took.get(step.id.as_str()) {
            samples
                .entry((step.site.as_str(), step.action.kind()))
                .or_default()
                .push(*secs);
        }
    }
    let mut measured: BTreeMap<String, BTreeMap<String, MeasuredDuration>> = BTreeMap::new();
    for ((site, kind), mut durations) in samples {
        durations.sort_by(f64::total_cmp);
        let rank = (durations.len() * 9).div_ceil(10).max(1);
        measured.entry(site.to_string()).or_default().insert(
            kind.to_string(),
            MeasuredDuration {
                secs: durations[rank - 1],
                steps: durations.len() as u32,
                operation: plan.operation.id.clone(),
                measured_at: now,
            },
        );
    }
    measured
}

/// Keeps what a drill measured: each (site, kind) it ran replaces the earlier measurement.
pub fn learn(
    doc: &mut StateDocument,
    measured: &BTreeMap<String, BTreeMap<String, MeasuredDuration>>,
) {
    for (site, kinds) in measured {
        let known = doc.measured.entry(site.clone()).or_default();
        for (kind, duration) in kinds {
            known.insert(kind.clone(), duration.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::*;
    use crate::plan::{FailoverType, Step};
    use crate::state::{JournalEntry, RecordedState};

    fn failover_plan() -> (Plan, crate::inventory::Inventory) {
        let spec = example_spec();
        let inventory = inventory();
        let plan = crate::plan::plan(
            &spec,
            &inventory,
            &no_state(),
            &request(FailoverType::Planned),
        )
        .unwrap();
        (plan, inventory)
    }

    fn entry(step: &str, event: JournalEvent) -> JournalEntry {
        JournalEntry {
            at: Utc::now(),
            step: step.to_string(),
            event,
            created: Created::from([("server".to_string(), format!("{step}-id"))]),
            error: (event == JournalEvent::Failed).then(|| "boom".to_string()),
        }
    }

    #[test]
    fn a_drill_measures_each_kind_per_site_and_later_plans_estimate_with_it() {
        let (plan, inventory) = failover_plan();
        let t0 = Utc::now();
        let at = |secs: i64, step: &str, event: JournalEvent| JournalEntry {
            at: t0 + chrono::Duration::seconds(secs),
            ..entry(step, event)
        };
        let entries = [
            at(0, "boot_instance/db-1", JournalEvent::Started),
            at(10, "boot_instance/db-1", JournalEvent::Done),
            at(10, "boot_instance/web-1", JournalEvent::Started),
            at(10, "boot_instance/web-2", JournalEvent::Started),
            at(30, "boot_instance/web-1", JournalEvent::Done),
            at(50, "boot_instance/web-2", JournalEvent::Done),
            // Interrupted, then resumed: counted from the restart.
            at(0, "manage_volume/db-1/0", JournalEvent::Started),
            at(100, "manage_volume/db-1/0", JournalEvent::Started),
            at(106, "manage_volume/db-1/0", JournalEvent::Done),
            // A tier's gate: nothing of its own to measure.
            at(10, "tier_active/1", JournalEvent::Started),
            at(10, "tier_active/1", JournalEvent::Done),
            // Failed: measures nothing.
            at(0, "create_port/db-1/0", JournalEvent::Started),
            at(1, "create_port/db-1/0", JournalEvent::Failed),
        ];
        assert!(plan.step("tier_active/1").is_some());
        let measured = measure(&plan, &entries, t0);
        let site_b = &measured["site-b"];
        assert_eq!(
            site_b.keys().collect::<Vec<_>>(),
            ["boot_instance", "manage_volume"]
        );
        // The 90th percentile of 10 s, 20 s and 40 s: the slowest.
        assert_eq!(site_b["boot_instance"].secs, 40.0);
        assert_eq!(site_b["boot_instance"].steps, 3);
        assert_eq!(site_b["manage_volume"].secs, 6.0);
        assert_eq!(site_b["manage_volume"].operation, plan.operation.id);

        let mut state = recorded(&inventory);
        for document in state.sites.values_mut().flatten() {
            learn(document, &measured);
        }
        let again = crate::plan::plan(
            &example_spec(),
            &inventory,
            &state,
            &request(FailoverType::Planned),
        )
        .unwrap();
        let estimate_of = |id: &str| again.step(id).unwrap().estimate_secs;
        assert_eq!(estimate_of("boot_instance/web-1"), 40.0);
        assert_eq!(estimate_of("manage_volume/web-2/0"), 6.0);
        assert_eq!(estimate_of("create_port/db-1/0"), 1.0, "the default");
        let used: Vec<(&str, &str)> = again
            .estimate
            .measured
            .iter()
            .map(|m| (m.site.as_str(), m.action.as_str()))
            .collect();
        assert_eq!(
            used,
            [("site-b", "boot_instance"), ("site-b", "manage_volume")]
        );
        assert!(again.estimate.predicted_secs > plan.estimate.predicted_secs);
    }

    #[test]
    fn retired_volumes_are_recorded_when_retired_and_forgotten_once_destroyed() {
        let (mut plan, _) = failover_plan();
        let retire = plan
            .steps
            .iter()
            .find(|s| matches!(s.action, Action::RetireVolumes { .. }))
            .expect("a failover retires the source's volumes")
            .clone();
        let spec = example_spec();
        let mut doc = StateDocument::initial(&spec, "site-b");
        let progress = |step: &str, created: &[(&str, &str)]| Progress {
            done: vec![(
                step.to_string(),
                created
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )],
            ..Progress::default()
        };
        let now = Utc::now();
        let retired = progress(
            &retire.id,
            &[("retired", "a-cinder-unmanaged,b-cinder-unmanaged")],
        );
        finish(&mut doc, &plan, &retired, None, now);
        // Finishing twice (a resumed run) records each once.
        finish(&mut doc, &plan, &retired, None, now);
        let names: Vec<&str> = doc
            .retired_volumes
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(names, ["a-cinder-unmanaged", "b-cinder-unmanaged"]);
        assert_eq!(doc.retired_volumes[0].array, "fa-a");
        assert_eq!(doc.retired_volumes[0].operation, plan.operation.id);

        // A converge destroys both; one turned out to be in use again and stays.
        plan.steps = vec![Step {
            id: "destroy_retired_volumes/fa-a".to_string(),
            action: Action::DestroyRetiredVolumes {
                array: "fa-a".to_string(),
                volumes: vec![
                    "a-cinder-unmanaged".to_string(),
                    "b-cinder-unmanaged".to_string(),
                ],
                eradicate: false,
            },
            ..retire
        }];
        let destroyed = progress(
            "destroy_retired_volumes/fa-a",
            &[
                ("destroyed", "a-cinder-unmanaged"),
                ("kept", "b-cinder-unmanaged"),
            ],
        );
        finish(&mut doc, &plan, &destroyed, None, now);
        let names: Vec<&str> = doc
            .retired_volumes
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(names, ["b-cinder-unmanaged"]);
    }

    #[test]
    fn a_failover_moves_the_group_through_its_statuses() {
        let (plan, inventory) = failover_plan();
        let spec = example_spec();
        let mut doc = StateDocument::initial(&spec, "site-b");
        let now = Utc::now();
        let source = inventory.sites["site-a"].facts().unwrap().instances.clone();
        begin(&mut doc, &plan, &source, now);
        assert_eq!(doc.status, GroupStatus::FailingOver);
        assert_eq!(doc.operations[0].status, OperationStatus::Running);
        // What the source had is recorded before anything moves: the site may be lost.
        assert_eq!(doc.members["db-1"].site, "site-a");
        assert_eq!(doc.members["db-1"].last_known.as_ref(), source.get("db-1"));

        let outputs: BTreeMap<String, Created> = plan
            .steps
            .iter()
            .map(|s| {
                (
                    s.id.clone(),
                    Created::from([
                        ("server".to_string(), format!("{}-server", s.id)),
                        ("array_volume".to_string(), format!("{}-vol", s.id)),
                    ]),
                )
            })
            .collect();
        let outcome = Outcome {
            outputs: &outputs,
            target: None,
            source_instances: &source,
        };
        place(&mut doc, &plan, &outcome, now);
        // A finalize resumed after a crash records the same failover again.
        let recorded = doc.clone();
        place(
            &mut doc,
            &plan,
            &outcome,
            now + chrono::Duration::seconds(1),
        );
        assert_eq!(doc, recorded, "placing twice places once");
        assert_eq!(doc.status, GroupStatus::FailedOver);
        assert_eq!(doc.current_primary_site, "site-b");
        assert_eq!(doc.failover_count, 1);
        let mut counted_out = StateDocument {
            failover_count: u32::MAX,
            ..StateDocument::initial(&spec, "site-b")
        };
        place(&mut counted_out, &plan, &outcome, now);
        assert_eq!(counted_out.failover_count, u32::MAX);
        let web = &doc.members["web-1"];
        assert_eq!(web.site, "site-b");
        assert_eq!(
            web.instance_id.as_deref(),
            Some("boot_instance/web-1-server")
        );
        assert_eq!(web.array_volumes[0], "manage_volume/web-1/0-vol");
        assert_eq!(web.previous.as_ref(), source.get("web-1"));
        assert!(
            doc.pending_cleanup.is_empty(),
            "a planned failover cleans up"
        );

        let progress = Progress {
            done: plan
                .steps
                .iter()
                .map(|s| (s.id.clone(), Created::new()))
                .collect(),
            ..Progress::default()
        };
        finish(&mut doc, &plan, &progress, None, now);
        assert_eq!(doc.operations[0].status, OperationStatus::Completed);
        assert_eq!(doc.operations[0].progress, 100);
        let state = RecordedState {
            sites: BTreeMap::from([("site-b".to_string(), Some(doc))]),
            ..RecordedState::default()
        };
        assert!(state.newest().is_some());
    }

    #[test]
    fn a_failover_that_lost_its_source_on_the_way_owes_it_what_it_did_not_remove() {
        let (plan, inventory) = failover_plan();
        let mut doc = StateDocument::initial(&example_spec(), "site-b");
        let now = Utc::now();
        // Every step done but those on site-a after the snapshot (it was lost).
        let outputs: BTreeMap<String, Created> = plan
            .steps
            .iter()
            .filter(|s| s.phase != crate::plan::Phase::CleanupSource)
            .map(|s| (s.id.clone(), Created::new()))
            .collect();
        let source = inventory.sites["site-a"].facts().unwrap().instances.clone();
        let outcome = Outcome {
            outputs: &outputs,
            target: None,
            source_instances: &source,
        };
        place(&mut doc, &plan, &outcome, now);
        assert_eq!(doc.status, GroupStatus::FailedOver);
        let owed: BTreeMap<&str, &PendingCleanup> = doc
            .pending_cleanup
            .iter()
            .map(|p| (p.member.as_str(), p))
            .collect();
        assert_eq!(owed.len(), 3, "{owed:?}");
        let db = owed["db-1"];
        assert_eq!(db.site, "site-a");
        assert_eq!(db.instance_id.as_ref(), Some(&source["db-1"].id));
        assert_eq!(
            db.volume_ids,
            source["db-1"]
                .volumes
                .iter()
                .map(|v| v.id.clone())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_failure_puts_the_group_in_error_and_a_rollback_restores_it() {
        let (plan, _) = failover_plan();
        let spec = example_spec();
        let mut doc = StateDocument::initial(&spec, "site-a");
        let now = Utc::now();
        begin(&mut doc, &plan, &BTreeMap::new(), now);
        finish(
            &mut doc,
            &plan,
            &Progress::default(),
            Some("boot failed".to_string()),
            now,
        );
        assert_eq!(doc.status, GroupStatus::Error);
        assert_eq!(doc.operations[0].status, OperationStatus::Failed);
        assert_eq!(
            doc.operations[0].error_message.as_deref(),
            Some("boot failed")
        );
        // Its rollback, an operation of its own, starts: the failover is being rolled back.
        let mut rollback = plan.clone();
        rollback.operation.id = "op-rollback".to_string();
        rollback.operation.kind = OperationKind::Rollback;
        rollback.operation.source_site = "site-b".to_string();
        rollback.operation.target_site = "site-a".to_string();
        rollback.options = crate::plan::PlanOptions {
            rollback_of: Some(plan.operation.id.clone()),
            ..Default::default()
        };
        let started = {
            let mut doc = doc.clone();
            begin(&mut doc, &rollback, &BTreeMap::new(), now);
            doc
        };
        assert_eq!(started.operations[0].status, OperationStatus::RollingBack);
        assert_eq!(
            started.operations[0].rollback.as_deref(),
            Some("op-rollback")
        );
        assert_eq!(
            started.operations[1].rolls_back,
            Some(plan.operation.id.clone())
        );
        // It could not bring the source back and was undone: the failover is as it was.
        let mut undone = started.clone();
        compensated(&mut undone, &rollback, "site-a is down".to_string(), now);
        assert_eq!(undone.operations[0].status, OperationStatus::Failed);
        assert_eq!(undone.operations[0].rollback, None);
        assert_eq!(undone.operations[1].status, OperationStatus::RolledBack);
        assert_eq!(undone.status, GroupStatus::Error);
        // It completed: the group is back where it was.
        let mut done = started;
        let outcome = Outcome {
            outputs: &BTreeMap::new(),
            target: None,
            source_instances: &BTreeMap::new(),
        };
        place(&mut done, &rollback, &outcome, now);
        assert_eq!(done.operations[0].status, OperationStatus::RolledBack);
        assert_eq!(done.status, GroupStatus::Active);
        assert_eq!(done.current_primary_site, "site-a");
    }

    /// Progress where every step of `plan` for which `done` holds is done, with ids for what
    /// it created, and `failed` failed.
    fn progress(plan: &Plan, done: impl Fn(&str) -> bool, failed: &[&str]) -> Progress {
        Progress {
            done: plan
                .steps
                .iter()
                .filter(|step| done(&step.id))
                .map(|step| {
                    let created = match &step.action {
                        Action::ProveDrillClean { .. } => Created::from([
                            ("servers".to_string(), "7".to_string()),
                            ("ports".to_string(), "9".to_string()),
                            ("destroyed".to_string(), "a,b".to_string()),
                        ]),
                        action => action
                            .creation()
                            .map(|(kind, _)| {
                                Created::from([(
                                    kind.output().to_string(),
                                    format!("id-of-{}", step.id),
                                )])
                            })
                            .unwrap_or_default(),
                    };
                    (step.id.clone(), created)
                })
                .collect(),
            failed: failed
                .iter()
                .map(|id| (id.to_string(), "boom".to_string()))
                .collect(),
            in_flight: Vec::new(),
        }
    }

    /// A drill plan of the example (`--keep` or not), begun in site-b's document.
    fn drill_begun(keep: bool) -> (Plan, StateDocument, DateTime<Utc>) {
        let spec = example_spec();
        let plan = crate::plan::plan(&spec, &drill_inventory(), &no_state(), &drill_request(keep))
            .unwrap();
        let mut doc = StateDocument::initial(&spec, "site-b");
        let now = Utc::now();
        begin(&mut doc, &plan, &BTreeMap::new(), now);
        (plan, doc, now)
    }

    #[test]
    fn a_failed_drill_records_what_it_left_even_without_ids() {
        let (plan, mut doc, now) = drill_begun(false);
        // The web-2 boot failed: it may have created its server, whose id it never recorded.
        let progress = progress(
            &plan,
            |id| {
                plan.step(id).unwrap().phase < crate::plan::Phase::RecreateInstances
                    || id.starts_with("create_port/")
                    || id.starts_with("boot_instance/db-1")
            },
            &["boot_instance/web-2"],
        );
        finish(&mut doc, &plan, &progress, Some("boom".to_string()), now);
        assert_eq!(doc.status, GroupStatus::Active, "a drill moves nothing");
        let record = &doc.operations[0];
        assert_eq!(record.kind, "drill");
        assert_eq!(record.status, OperationStatus::Failed);
        assert!(record.proof.is_none());
        let left: Vec<(&str, Option<&str>)> = record
            .left_on_target
            .iter()
            .map(|r| (r.step.as_str(), r.id.as_deref()))
            .collect();
        assert_eq!(left.len(), 4 + 4 + 3 + 2, "{left:?}");
        assert!(left.contains(&("copy_volume/db-1/1", Some("id-of-copy_volume/db-1/1"))));
        assert!(left.contains(&("boot_instance/db-1", Some("id-of-boot_instance/db-1"))));
        assert!(left.contains(&("boot_instance/web-2", None)));
        assert!(
            !left.iter().any(|(step, _)| *step == "boot_instance/web-1"),
            "never started"
        );
    }

    #[test]
    fn a_drill_that_cleaned_up_records_its_proof_and_nothing_left() {
        let (plan, mut doc, now) = drill_begun(false);
        finish(&mut doc, &plan, &progress(&plan, |_| true, &[]), None, now);
        let record = &doc.operations[0];
        assert!(
            record.left_on_target.is_empty(),
            "{:?}",
            record.left_on_target
        );
        let proof = record.proof.as_ref().expect("a proof");
        assert_eq!(proof.drill, plan.operation.id);
        assert_eq!(proof.site, "site-b");
        assert_eq!(
            proof.listed,
            BTreeMap::from([("ports".to_string(), 9), ("servers".to_string(), 7)])
        );
        assert_eq!(proof.destroyed, vec!["a", "b"]);
    }

    #[test]
    fn a_drill_cleanup_empties_the_drills_record_as_it_removes() {
        let (drill, mut doc, now) = drill_begun(true);
        finish(
            &mut doc,
            &drill,
            &progress(&drill, |_| true, &[]),
            None,
            now,
        );
        // 3 servers, 3 ports, 4 Cinder volumes, 4 array volumes, the web tier's server group.
        assert_eq!(doc.operations[0].left_on_target.len(), 15);
        doc.metadata_version = 1;
        let state = RecordedState {
            sites: BTreeMap::from([("site-b".to_string(), Some(doc.clone()))]),
            ..RecordedState::default()
        };
        let request = crate::plan::PlanRequest {
            operation: OperationKind::DrillCleanup,
            options: crate::plan::PlanOptions {
                drill: Some(drill.operation.id.clone()),
                ..crate::plan::PlanOptions::default()
            },
        };
        let cleanup =
            crate::plan::plan(&example_spec(), &drill_inventory(), &state, &request).unwrap();
        begin(&mut doc, &cleanup, &BTreeMap::new(), now);
        // The servers are gone; the rest is not (a failure stopped the cleanup).
        let servers_only = progress(&cleanup, |id| id.starts_with("delete_instance/"), &[]);
        finish(
            &mut doc,
            &cleanup,
            &servers_only,
            Some("boom".to_string()),
            now,
        );
        assert_eq!(doc.operations[0].left_on_target.len(), 12);
        assert!(doc.operations[1].proof.is_none());
        finish(
            &mut doc,
            &cleanup,
            &progress(&cleanup, |_| true, &[]),
            None,
            now,
        );
        assert!(doc.operations[0].left_on_target.is_empty());
        assert_eq!(doc.operations[1].kind, "drill_cleanup");
        assert_eq!(
            doc.operations[1].proof.as_ref().unwrap().drill,
            drill.operation.id
        );
    }
}
