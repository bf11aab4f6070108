//! Rollback plans (`protector rollback OP`): undo a failover or failback that failed or was
//! interrupted, make-before-break (DESIGN §7).
//!
//! The plan is made from the undone operation's plan and journal: every step of it that started
//! may have created something, found by the id it recorded or, when it never finished, by the
//! marker every effect leaves. The rollback first stops what the operation booted on its target
//! (a member never runs on both sites), then starts each member's instance on the source and
//! verifies that it runs on its own volumes and addresses, and only then removes what the
//! operation created on the target, and proves that nothing of it is left and the source runs.
//!
//! It is refused, with nothing changed, when the source cannot run the workload any more (the
//! site is down, an instance was deleted or broke, a volume is gone): then forward recovery
//! (`apply --resume`, or an unplanned failover that takes the operation over) is the way.

use std::collections::BTreeMap;

use super::recreate::{self, Steps};
use super::teardown::{self, Removal};
use super::{
    Action, Basis, FORMAT_VERSION, GroupView, Operation, OperationKind, Phase, Plan, PlanOptions,
    Refusal, ResourceRef, fingerprint, operation_id,
};
use crate::inventory::{Instance, Inventory};
use crate::spec::Spec;
use crate::state::{DrillResource, GroupStatus, OperationStatus, RecordedState, StateDocument};

/// A member as the undone operation left its source: the instance that must run again.
struct SourceMember<'a> {
    name: String,
    instance_id: String,
    instance_name: String,
    /// Its Cinder volumes, boot volume first.
    volume_ids: Vec<String>,
    /// As discovered now (`None`: the source has no such instance any more).
    found: Option<&'a Instance>,
}

pub(super) fn plan(
    spec: &Spec,
    inventory: &Inventory,
    state: &RecordedState,
    options: &PlanOptions,
) -> Result<Plan, Vec<Refusal>> {
    let refuse = |message: String, hint: String| Err(vec![Refusal { message, hint }]);
    let Some(undone) = options.rollback_of.as_deref() else {
        return refuse(
            "a rollback needs the operation it undoes".to_string(),
            "name it: `protector rollback OP` (`protector operation list FILE` lists them)"
                .to_string(),
        );
    };
    let Some(record) = state.record(undone) else {
        return refuse(
            format!("no operation {undone} is recorded for `{}`", spec.name),
            "list the group's operations with `protector operation list FILE`".to_string(),
        );
    };
    if let Some(by) = &record.superseded_by {
        return refuse(
            format!("{undone} was taken over by {by}, which finished its work"),
            format!("see it with `protector operation show {by}`"),
        );
    }
    match (record.kind.as_str(), record.status) {
        (_, OperationStatus::Completed) => {
            return refuse(
                format!("{undone} completed; a completed operation is not rolled back"),
                if record.kind == OperationKind::Failover.as_str() {
                    "bring the workload back with a failback: `protector failback FILE`"
                } else {
                    "plan the change you want: `protector plan FILE`"
                }
                .to_string(),
            );
        }
        (_, OperationStatus::RolledBack) => {
            return refuse(
                format!("{undone} is already rolled back"),
                "nothing to undo".to_string(),
            );
        }
        ("failover" | "failback", _) => {}
        ("drill", _) => {
            return refuse(
                format!("{undone} is a drill: a rollback undoes failovers and failbacks"),
                format!("remove what the drill left with `protector drill cleanup {undone}`"),
            );
        }
        ("rollback", _) => {
            let of = record.rolls_back.as_deref().unwrap_or("OP");
            return refuse(
                format!("{undone} is the rollback of {of}"),
                format!("continue it with `protector rollback {of}`"),
            );
        }
        (kind, _) => {
            return refuse(
                format!("{undone} is a {kind}: only failovers and failbacks are rolled back"),
                "`protector plan FILE` shows what differs from the spec and plans the change"
                    .to_string(),
            );
        }
    }
    let Some(run) = state.runs.get(undone) else {
        return refuse(
            format!("no plan or journal of {undone} is kept in the state folder"),
            "run from the spec's folder, or point --state at the state folder the operation ran with"
                .to_string(),
        );
    };
    let undone_plan = &run.plan;
    let touched = run.progress.touched();
    if touched.contains("finalize") && run.progress.created("finalize").is_some() {
        return refuse(
            format!("{undone} already recorded its outcome"),
            format!("finish it with `protector apply --resume {undone}`"),
        );
    }
    let source = undone_plan.operation.source_site.as_str();
    let target = undone_plan.operation.target_site.as_str();
    let forward = format!(
        "to finish on {target} instead: `protector apply --resume {undone}` (if {source} is lost, `protector failover FILE --type unplanned` takes the operation over)"
    );

    let mut refusals = Vec::new();
    let source_facts = inventory.sites.get(source).and_then(|site| site.facts());
    let target_facts = inventory.sites.get(target).and_then(|site| site.facts());
    if source_facts.is_none() {
        refusals.push(Refusal {
            message: format!(
                "{source} is unreachable ({}): a rollback brings the workload back there, so nothing was changed",
                recreate::unreachable(inventory, source)
            ),
            hint: format!("once {source} is back, run `protector rollback {undone}` again; {forward}"),
        });
    }
    if target_facts.is_none() {
        refusals.push(Refusal {
            message: format!(
                "{target} is unreachable ({}): what {undone} started there must be stopped before {source} runs the workload again, so nothing was changed",
                recreate::unreachable(inventory, target)
            ),
            hint: format!("once {target} answers, run `protector rollback {undone}` again"),
        });
    }
    let (Some(source_facts), Some(_)) = (source_facts, target_facts) else {
        return Err(refusals);
    };
    let members = source_members(spec, undone_plan, state.newest(), source_facts);
    for member in &members {
        check_source_member(
            member,
            undone_plan,
            &touched,
            source,
            &forward,
            &mut refusals,
        );
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }

    // What the operation may have created on its target.
    let created: Vec<(DrillResource, ResourceRef)> = undone_plan
        .steps
        .iter()
        .filter(|step| step.site == target && touched.contains(step.id.as_str()))
        .filter_map(|step| {
            let (kind, _) = step.action.creation()?;
            let id = run
                .progress
                .created(&step.id)
                .and_then(|created| created.get(kind.output()).cloned());
            let reference = match &id {
                Some(id) => ResourceRef::Recorded { id: id.clone() },
                None => ResourceRef::Marker {
                    operation: undone.to_string(),
                    step: step.id.clone(),
                },
            };
            Some((step.drill_resource(id)?, reference))
        })
        .collect();

    let relied = (
        undone,
        &run.progress.done,
        &run.progress.failed,
        &run.progress.in_flight,
        members
            .iter()
            .map(|member| member.found)
            .collect::<Vec<_>>(),
    );
    let basis = Basis {
        state_versions: state.versions(),
        inventory_fingerprint: fingerprint(&relied),
    };
    let id = operation_id(&fingerprint(&(&spec.name, "rollback", options, &basis)));

    let mut steps = Steps::default();
    // 1. Nothing the operation booted runs while the source starts again.
    let stops: Vec<String> = created
        .iter()
        .filter(|(resource, _)| resource.kind == crate::state::DrillResourceKind::Server)
        .map(|(resource, reference)| {
            steps.add(
                format!(
                    "stop_recovered/{}",
                    resource.member.as_deref().unwrap_or(&resource.name)
                ),
                Phase::Quiesce,
                target,
                resource.member.as_deref(),
                Action::StopRecovered {
                    name: resource.name.clone(),
                    server: reference.clone(),
                },
                Vec::new(),
                Vec::new(),
            )
        })
        .collect();
    // 2. Every member runs again on the source, verified, before anything is removed.
    let restored: Vec<String> = members
        .iter()
        .map(|member| {
            let found = member.found.expect("checked above");
            steps.add(
                format!("restore_instance/{}", member.name),
                Phase::RestoreSource,
                source,
                Some(&member.name),
                Action::RestoreInstance {
                    instance_id: member.instance_id.clone(),
                    name: member.instance_name.clone(),
                    volume_ids: member.volume_ids.clone(),
                    fixed_ips: found
                        .ports
                        .iter()
                        .flat_map(|port| port.fixed_ips.iter().cloned())
                        .collect(),
                },
                stops.clone(),
                Vec::new(),
            )
        })
        .collect();
    // 3. What the operation created on the target goes, and the proof that it is gone.
    let group = spec.policy.array_protection_group.as_str();
    let removed = teardown::remove(
        &mut steps,
        &Removal {
            site: target,
            array: &spec.sites[target].flasharray.array_name,
            phase: Phase::CleanupTarget,
            protection_group: Some(group),
            id_prefix: "",
        },
        &created,
        restored.clone(),
    );
    // The proof waits for the restores themselves too: a rollback continued later runs them
    // again (see `Action::runs_again_on_resume`), after what they waited for was removed.
    let mut proven_after = removed.steps;
    proven_after.extend(restored);
    proven_after.sort();
    proven_after.dedup();
    let prove = steps.add(
        "prove_rolled_back".to_string(),
        Phase::CleanupTarget,
        target,
        None,
        Action::ProveRolledBack {
            operation: undone.to_string(),
            source: source.to_string(),
            members: members
                .iter()
                .map(|member| (member.name.clone(), member.instance_id.clone()))
                .collect(),
            array_volumes: removed.array_volumes,
        },
        proven_after,
        Vec::new(),
    );
    steps.add(
        "finalize".to_string(),
        Phase::Finalize,
        source,
        None,
        Action::Finalize,
        vec![prove],
        Vec::new(),
    );
    let steps = super::ordered(steps.0, state)?;
    let estimate = super::estimate(&steps, spec, state);

    let status = state.newest().map_or(GroupStatus::Error, |doc| doc.status);
    let on_target: std::collections::BTreeSet<&str> = created
        .iter()
        .filter(|(resource, _)| resource.kind == crate::state::DrillResourceKind::Server)
        .filter_map(|(resource, _)| resource.member.as_deref())
        .collect();
    let before = GroupView {
        status: status.as_str().to_string(),
        current_primary_site: source.to_string(),
        members: undone_plan
            .before
            .members
            .iter()
            .map(|(name, view)| {
                let view = match undone_plan.after.members.get(name) {
                    Some(moved) if on_target.contains(name.as_str()) => moved.clone(),
                    _ => view.clone(),
                };
                (name.clone(), view)
            })
            .collect(),
    };
    let after = GroupView {
        status: status_before(&record.kind).as_str().to_string(),
        current_primary_site: source.to_string(),
        members: undone_plan.before.members.clone(),
    };
    let in_doubt = run.progress.failed.len() + run.progress.in_flight.len();
    let mut warnings = Vec::new();
    if in_doubt > 0 {
        warnings.push(format!(
            "{in_doubt} step(s) of {undone} did not finish; what they may have created is found by the marker they leave"
        ));
    }
    Ok(Plan {
        format_version: FORMAT_VERSION,
        protection_group: spec.name.clone(),
        spec_file: None,
        spec_sha256: None,
        protector_version: None,
        operation: Operation {
            id,
            kind: OperationKind::Rollback,
            failover_type: None,
            source_site: target.to_string(),
            target_site: source.to_string(),
            supersedes: None,
        },
        options: options.clone(),
        basis,
        steps,
        estimate,
        data_loss: None,
        warnings,
        before,
        after,
    })
}

/// The group's status before an operation of `kind` (as records name it: a failover or a
/// failback) ran: what its rollback returns to.
pub fn status_before(kind: &str) -> GroupStatus {
    if kind == OperationKind::Failback.as_str() {
        GroupStatus::FailedOver
    } else {
        GroupStatus::Active
    }
}

/// The members whose instances the operation found on its source: the instances it stopped or
/// was to remove (planned), or as the group recorded them (an unplanned failover has no step on
/// its source).
fn source_members<'a>(
    spec: &Spec,
    undone: &Plan,
    newest: Option<&StateDocument>,
    source_facts: &'a crate::inventory::SiteFacts,
) -> Vec<SourceMember<'a>> {
    let source = &undone.operation.source_site;
    let mut members: BTreeMap<&str, SourceMember> = BTreeMap::new();
    for step in undone.steps.iter().filter(|step| &step.site == source) {
        let Some(member) = step.member.as_deref() else {
            continue;
        };
        let entry = |instance_id: &str, name: &str| SourceMember {
            name: member.to_string(),
            instance_id: instance_id.to_string(),
            instance_name: name.to_string(),
            volume_ids: Vec::new(),
            found: None,
        };
        match &step.action {
            Action::StopInstance { instance_id, name }
            | Action::DeleteInstance {
                instance_id, name, ..
            } => {
                members
                    .entry(member)
                    .or_insert_with(|| entry(instance_id, name));
            }
            Action::UnmanageVolume { volume_id, .. } => {
                if let Some(known) = members.get_mut(member) {
                    known.volume_ids.push(volume_id.clone());
                }
            }
            _ => {}
        }
    }
    for member in &spec.members {
        let name = member.instance.as_str();
        if members.contains_key(name) {
            continue;
        }
        let recorded = newest
            .and_then(|doc| doc.members.get(name))
            .filter(|record| &record.site == source)
            .and_then(|record| record.last_known.as_ref());
        if let Some(instance) = recorded {
            members.insert(
                name,
                SourceMember {
                    name: name.to_string(),
                    instance_id: instance.id.clone(),
                    instance_name: instance.name.clone(),
                    volume_ids: instance.volumes.iter().map(|v| v.id.clone()).collect(),
                    found: None,
                },
            );
        }
    }
    members
        .into_values()
        .map(|mut member| {
            member.found = source_facts
                .instances
                .get(&member.name)
                .filter(|found| found.id == member.instance_id)
                .or_else(|| {
                    source_facts
                        .instances
                        .values()
                        .find(|found| found.id == member.instance_id)
                });
            if member.volume_ids.is_empty()
                && let Some(found) = member.found
            {
                member.volume_ids = found.volumes.iter().map(|v| v.id.clone()).collect();
            }
            member
        })
        .collect()
}

/// Refuses a member whose source instance cannot run the workload again.
fn check_source_member(
    member: &SourceMember,
    undone: &Plan,
    touched: &std::collections::BTreeSet<&str>,
    source: &str,
    forward: &str,
    refusals: &mut Vec<Refusal>,
) {
    let deleted = touched.contains(format!("delete_instance/{}", member.name).as_str());
    let Some(found) = member.found else {
        refusals.push(Refusal {
            message: if deleted {
                format!(
                    "{}'s instance {} on {source} was deleted by {}: it cannot run there again, so nothing was changed",
                    member.name, member.instance_id, undone.operation.id
                )
            } else {
                format!(
                    "{}'s instance {} is no longer on {source}, so nothing was changed",
                    member.name, member.instance_id
                )
            },
            hint: forward.to_string(),
        });
        return;
    };
    if found.status == "ERROR" {
        refusals.push(Refusal {
            message: format!(
                "{}'s instance {} on {source} is in ERROR: it cannot take the workload back, so nothing was changed",
                member.name, member.instance_id
            ),
            hint: format!("repair it on {source} and roll back again, or {forward}"),
        });
    }
    let attached: std::collections::BTreeSet<&str> =
        found.volumes.iter().map(|v| v.id.as_str()).collect();
    for volume in &member.volume_ids {
        if !attached.contains(volume.as_str()) {
            refusals.push(Refusal {
                message: format!(
                    "volume {volume} of {} is no longer attached to its instance on {source}, so nothing was changed",
                    member.name
                ),
                hint: forward.to_string(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::*;
    use crate::plan::{FailoverType, PlanRequest, plan as make_plan};
    use crate::state::RecordedRun;
    use crate::state::journal::{Created, Progress};

    fn failover() -> Plan {
        make_plan(
            &example_spec(),
            &inventory(),
            &no_state(),
            &request(FailoverType::Planned),
        )
        .unwrap()
    }

    /// The state after `plan` ran as `progress` says and failed.
    fn failed(plan: &Plan, progress: Progress) -> RecordedState {
        let mut state = recorded(&inventory());
        for doc in state.sites.values_mut().flatten() {
            doc.status = GroupStatus::Error;
            doc.operations.push(crate::state::OperationRecord {
                error_message: Some("boom".to_string()),
                ..record_of(plan, OperationStatus::Failed)
            });
        }
        state.runs.insert(
            plan.operation.id.clone(),
            RecordedRun {
                plan: plan.clone(),
                progress,
            },
        );
        state
    }

    fn rollback_of(plan: &Plan) -> PlanRequest {
        PlanRequest {
            operation: OperationKind::Rollback,
            options: PlanOptions {
                rollback_of: Some(plan.operation.id.clone()),
                ..PlanOptions::default()
            },
        }
    }

    fn done(step: &str, created: &[(&str, &str)]) -> (String, Created) {
        (
            step.to_string(),
            created
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_rollback_stops_the_target_restores_the_source_then_removes_even_what_is_in_doubt() {
        let failover = failover();
        // db-1 booted; web-1's boot lost its answer (failed), web-2's was interrupted.
        let mut progress = Progress::default();
        for member in ["db-1", "web-1", "web-2"] {
            progress
                .done
                .push(done(&format!("stop_instance/{member}"), &[]));
        }
        progress.done.push(done("snapshot/prod-web-app", &[]));
        progress.done.push(done(
            "copy_volume/db-1/0",
            &[("array_volume", "c0"), ("array_volume_id", "a-0")],
        ));
        progress
            .done
            .push(done("manage_volume/db-1/0", &[("cinder_volume", "v-0")]));
        progress
            .done
            .push(done("boot_instance/db-1", &[("server", "s-db-1")]));
        progress.done.push(done(
            "create_server_group/web-servers",
            &[("server_group", "g-web")],
        ));
        progress
            .failed
            .push(("boot_instance/web-1".to_string(), "500".to_string()));
        progress.in_flight.push("boot_instance/web-2".to_string());
        let state = failed(&failover, progress);
        let plan = make_plan(
            &example_spec(),
            &inventory(),
            &state,
            &rollback_of(&failover),
        )
        .expect("plans");
        assert_eq!(plan.operation.kind, OperationKind::Rollback);
        assert_eq!(plan.operation.target_site, "site-a", "the workload returns");

        let action = |id: &str| &plan.step(id).unwrap_or_else(|| panic!("{id}")).action;
        // Each boot that started is stopped, the in-doubt ones found by their marker.
        assert_eq!(
            action("stop_recovered/db-1"),
            &Action::StopRecovered {
                name: "db-1".to_string(),
                server: ResourceRef::Recorded {
                    id: "s-db-1".to_string()
                }
            }
        );
        match action("stop_recovered/web-1") {
            Action::StopRecovered {
                server: ResourceRef::Marker { operation, step },
                ..
            } => {
                assert_eq!(operation, &failover.operation.id);
                assert_eq!(step, "boot_instance/web-1");
            }
            other => panic!("{other:?}"),
        }
        assert!(plan.step("stop_recovered/web-2").is_some());
        // The source restarts only once nothing runs on the target; removal waits for it.
        for member in ["db-1", "web-1", "web-2"] {
            let restore = plan.step(&format!("restore_instance/{member}")).unwrap();
            assert_eq!(restore.site, "site-a");
            for stop in ["db-1", "web-1", "web-2"] {
                assert!(depends(
                    &plan,
                    &format!("restore_instance/{member}"),
                    &format!("stop_recovered/{stop}")
                ));
            }
            assert!(depends(
                &plan,
                "delete_instance/db-1",
                &format!("restore_instance/{member}")
            ));
        }
        assert!(depends(
            &plan,
            "delete_instance/web-1",
            "restore_instance/db-1"
        ));
        // The copy leaves the protection group and is destroyed after Cinder let it go.
        assert!(depends(
            &plan,
            "destroy_volume/db-1/0",
            "unmanage_volume/db-1/0"
        ));
        match action("destroy_volume/db-1/0") {
            Action::RemoveArrayVolume {
                array_volume,
                protection_group,
                ..
            } => {
                assert_eq!(
                    array_volume,
                    &ResourceRef::Recorded {
                        id: "a-0".to_string()
                    }
                );
                assert_eq!(protection_group.as_deref(), Some("prod-web-app"));
            }
            other => panic!("{other:?}"),
        }
        // The server group the failover made goes, once the servers in it have.
        assert_eq!(
            action("delete_server_group/web-servers"),
            &Action::RemoveServerGroup {
                name: "web-servers".to_string(),
                server_group: ResourceRef::Recorded {
                    id: "g-web".to_string()
                }
            }
        );
        for member in ["db-1", "web-1", "web-2"] {
            assert!(depends(
                &plan,
                "delete_server_group/web-servers",
                &format!("delete_instance/{member}")
            ));
        }
        // Nothing that never started is touched.
        assert!(plan.step("destroy_volume/db-1/1").is_none());
        assert!(depends(&plan, "prove_rolled_back", "destroy_volume/db-1/0"));
        assert!(depends(&plan, "finalize", "prove_rolled_back"));
        assert_eq!(plan.after.status, "active");
        assert_eq!(plan.after.current_primary_site, "site-a");
        assert!(
            plan.warnings[0].contains("2 step(s)"),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn a_rollback_that_cannot_bring_the_source_back_changes_nothing() {
        let failover = failover();
        let mut progress = Progress::default();
        progress.done.push(done("delete_instance/db-1", &[]));
        let state = failed(&failover, progress);
        // db-1 was deleted on the source: the rollback is refused, with the way forward.
        let mut gone = inventory();
        if let crate::inventory::SiteInventory::Reachable(facts) =
            gone.sites.get_mut("site-a").unwrap()
        {
            facts.instances.remove("db-1");
        }
        let refusals =
            make_plan(&example_spec(), &gone, &state, &rollback_of(&failover)).unwrap_err();
        assert!(
            refusals[0].message.contains("was deleted by"),
            "{refusals:?}"
        );
        assert!(
            refusals[0].hint.contains("protector apply --resume"),
            "{refusals:?}"
        );
        // The source down: refused too.
        let mut down = inventory();
        site_a_down(&mut down);
        let refusals =
            make_plan(&example_spec(), &down, &state, &rollback_of(&failover)).unwrap_err();
        assert!(
            refusals[0].message.starts_with("site-a is unreachable"),
            "{refusals:?}"
        );
    }

    #[test]
    fn only_failovers_and_failbacks_that_did_not_complete_are_rolled_back() {
        let failover = failover();
        let mut state = failed(&failover, Progress::default());
        for doc in state.sites.values_mut().flatten() {
            doc.operations[0].status = OperationStatus::Completed;
        }
        let refusals = make_plan(
            &example_spec(),
            &inventory(),
            &state,
            &rollback_of(&failover),
        )
        .unwrap_err();
        assert!(refusals[0].hint.contains("failback"), "{refusals:?}");
        for doc in state.sites.values_mut().flatten() {
            doc.operations[0].status = OperationStatus::Failed;
            doc.operations[0].kind = "drill".to_string();
        }
        let refusals = make_plan(
            &example_spec(),
            &inventory(),
            &state,
            &rollback_of(&failover),
        )
        .unwrap_err();
        assert!(refusals[0].hint.contains("drill cleanup"), "{refusals:?}");
    }
}
