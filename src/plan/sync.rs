//! Sync-force plans: bring a site that missed operations (it was down) back in line with the
//! newest recorded state.
//!
//! After an unplanned failover the old primary comes back with the workload's stale instances
//! and volumes still defined, and its array does not yet accept replication from the new
//! primary. Sync-force removes those instances (and the ports they leave), unmanages their
//! volumes (the array keeps the data), allows the replication, and writes the newest state
//! document to both sites, so the old primary can never boot the workload a second time and a
//! failback can follow.

use super::{
    Action, Basis, FORMAT_VERSION, Operation, OperationKind, Phase, Plan, PlanOptions, Refusal,
    Step, fingerprint, operation_id,
};
use crate::inventory::Inventory;
use crate::spec::Spec;
use crate::state::RecordedState;

pub(super) fn plan(
    spec: &Spec,
    inventory: &Inventory,
    state: &RecordedState,
    options: &PlanOptions,
) -> Result<Plan, Vec<Refusal>> {
    let Some(newest) = state.newest() else {
        return Err(vec![Refusal {
            message: format!(
                "nothing is recorded for `{}` yet: there is nothing to sync",
                spec.name
            ),
            hint:
                "record the group first: `protector plan FILE -o PLAN` then `protector apply PLAN`"
                    .to_string(),
        }]);
    };
    let current = newest.current_primary_site.as_str();
    let peer = spec.peer_of(current);
    let Some(peer_facts) = inventory.sites.get(peer).and_then(|site| site.facts()) else {
        return Err(vec![Refusal {
            message: format!("{peer} is still unreachable"),
            hint: format!(
                "sync-force pushes the state to {peer} once it is back: check it with `protector site validate FILE {peer}`"
            ),
        }]);
    };
    let mut steps = Vec::new();
    let mut add = |step: Step| {
        let id = step.id.clone();
        steps.push(step);
        id
    };
    let step = |id: String, site: &str, member: Option<&str>, action: Action| Step {
        id,
        phase: Phase::CleanupSource,
        site: site.to_string(),
        member: member.map(str::to_string),
        estimate_secs: super::recreate::estimate(&action),
        action,
        depends_on: Vec::new(),
        creates: Vec::new(),
    };
    let mut last = Vec::new();
    let mut retired = Vec::new();
    for pending in newest.pending_cleanup.iter().filter(|p| p.site == peer) {
        let member = pending.member.as_str();
        // The stale instance, if the peer still has it.
        let stale = peer_facts
            .instances
            .get(member)
            .filter(|instance| Some(&instance.id) == pending.instance_id.as_ref());
        let delete = stale.map(|instance| {
            add(step(
                format!("delete_instance/{member}"),
                peer,
                Some(member),
                Action::DeleteInstance {
                    instance_id: instance.id.clone(),
                    name: instance.name.clone(),
                    port_ids: instance.ports.iter().map(|port| port.id.clone()).collect(),
                },
            ))
        });
        for (index, volume_id) in pending.volume_ids.iter().enumerate() {
            let volume =
                stale.and_then(|instance| instance.volumes.iter().find(|v| &v.id == volume_id));
            let name = volume.map_or_else(|| volume_id.clone(), |volume| volume.name.clone());
            retired.extend(
                volume
                    .and_then(|volume| volume.array_volume_name.as_deref())
                    .map(crate::clients::cinder::pure_unmanaged_name),
            );
            last.push(add(Step {
                depends_on: delete.iter().cloned().collect(),
                ..step(
                    format!("unmanage_volume/{member}/{index}"),
                    peer,
                    Some(member),
                    Action::UnmanageVolume {
                        volume_id: volume_id.clone(),
                        name,
                    },
                )
            }));
        }
        last.extend(delete);
    }
    // Replication from the current primary to the peer, set up while the peer was down, is
    // allowed on the peer's array now.
    let current_array = &spec.sites[current].flasharray.array_name;
    let peer_array = &spec.sites[peer].flasharray.array_name;
    let group = &spec.policy.array_protection_group;
    // The peer's own group replicated the direction the failover left: it stops, and what
    // was unmanaged leaves it.
    let peer_group = peer_facts.array.as_ref().and_then(|array| {
        array
            .protection_groups
            .iter()
            .find(|pg| &pg.name == group && &pg.source == peer_array)
    });
    if let Some(pg) = peer_group
        && (pg.replication_enabled || !retired.is_empty())
    {
        let unmanaged: Vec<String> = last
            .iter()
            .filter(|id| id.starts_with("unmanage_volume/"))
            .cloned()
            .collect();
        last.push(add(Step {
            depends_on: unmanaged,
            ..step(
                format!("retire_volumes/{group}"),
                peer,
                None,
                Action::RetireVolumes {
                    array: peer_array.clone(),
                    protection_group: group.clone(),
                    volumes: std::mem::take(&mut retired),
                    disable_replication: true,
                },
            )
        }));
    }
    let current_group = inventory
        .sites
        .get(current)
        .and_then(|site| site.facts())
        .and_then(|facts| facts.array.as_ref())
        .and_then(|array| {
            array
                .protection_groups
                .iter()
                .find(|pg| &pg.name == group && &pg.source == current_array)
        });
    if current_group.is_some_and(|pg| {
        pg.targets
            .iter()
            .any(|(target, allowed)| target == peer_array && !allowed)
    }) {
        let allow = add(Step {
            phase: Phase::ReverseReplication,
            ..step(
                format!("allow_target/{group}"),
                peer,
                None,
                Action::AllowTarget {
                    array: peer_array.clone(),
                    protection_group: format!("{current_array}:{group}"),
                },
            )
        });
        // The group was unprotected while the peer was down: one snapshot reaches it now,
        // rather than at the array's next scheduled replication.
        last.push(add(Step {
            phase: Phase::ReverseReplication,
            depends_on: vec![allow],
            creates: vec![super::Resource {
                kind: "protection_group_snapshot".to_string(),
                name: format!("{current_array}:{group}.<next>"),
            }],
            ..step(
                format!("protect/{group}"),
                current,
                None,
                Action::SnapshotAndReplicate {
                    array: current_array.clone(),
                    protection_group: group.clone(),
                    target_array: peer_array.clone(),
                },
            )
        }));
    }
    last.sort();
    steps.push(Step {
        phase: Phase::Finalize,
        depends_on: last,
        ..step("record_sync".to_string(), current, None, Action::Finalize)
    });
    let steps = super::ordered(steps, state)?;
    let relied = (
        &newest.pending_cleanup,
        peer_facts
            .instances
            .values()
            .map(|instance| &instance.id)
            .collect::<Vec<_>>(),
        current_group,
    );
    let basis = Basis {
        state_versions: state.versions(),
        inventory_fingerprint: fingerprint(&relied),
    };
    let id = operation_id(&fingerprint(&(&spec.name, "sync_force", options, &basis)));
    let estimate = super::estimate(&steps, spec, state);
    let view = super::GroupView {
        status: newest.status.as_str().to_string(),
        current_primary_site: current.to_string(),
        members: Default::default(),
    };
    Ok(Plan {
        format_version: FORMAT_VERSION,
        protection_group: spec.name.clone(),
        spec_file: None,
        spec_sha256: None,
        protector_version: None,
        operation: Operation {
            id,
            kind: OperationKind::SyncForce,
            failover_type: None,
            source_site: peer.to_string(),
            target_site: current.to_string(),
            supersedes: None,
        },
        options: options.clone(),
        basis,
        steps,
        estimate,
        data_loss: None,
        warnings: Vec::new(),
        before: view.clone(),
        after: view,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::*;
    use crate::plan::{PlanRequest, plan as make_plan};
    use crate::state::{GroupStatus, PendingCleanup, StateDocument, SyncStatus};

    /// Site-b's record after an unplanned failover from site-a, whose instances are stale.
    fn after_unplanned(inventory: &Inventory) -> RecordedState {
        let spec = example_spec();
        let site_a = inventory.sites["site-a"].facts().unwrap();
        let mut doc = StateDocument::initial(&spec, "site-b");
        doc.metadata_version = 3;
        doc.status = GroupStatus::FailedOver;
        doc.current_primary_site = "site-b".to_string();
        doc.sync.insert(
            "site-a".to_string(),
            crate::state::PeerSync {
                status: SyncStatus::Unreachable,
                peer_version: Some(1),
                checked_at: None,
            },
        );
        for (member, instance) in &site_a.instances {
            doc.pending_cleanup.push(PendingCleanup {
                site: "site-a".to_string(),
                member: member.clone(),
                instance_id: Some(instance.id.clone()),
                volume_ids: instance.volumes.iter().map(|v| v.id.clone()).collect(),
                operation: "op-x".to_string(),
            });
        }
        let mut state = no_state();
        state.sites.insert("site-b".to_string(), Some(doc));
        state
    }

    fn sync_force() -> PlanRequest {
        PlanRequest {
            operation: OperationKind::SyncForce,
            options: PlanOptions::default(),
        }
    }

    #[test]
    fn the_stale_instances_go_and_their_volumes_are_unmanaged() {
        let inventory = inventory();
        let state = after_unplanned(&inventory);
        let plan = make_plan(&example_spec(), &inventory, &state, &sync_force()).unwrap();
        let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
        assert!(ids.contains(&"delete_instance/db-1"), "{ids:?}");
        assert!(ids.contains(&"unmanage_volume/db-1/1"), "{ids:?}");
        assert_eq!(ids.last(), Some(&"record_sync"));
        assert!(
            plan.steps
                .iter()
                .all(|s| s.site == "site-a" || s.id == "record_sync")
        );
        let unmanage = plan.step("unmanage_volume/db-1/0").unwrap();
        assert_eq!(unmanage.depends_on, vec!["delete_instance/db-1"]);
    }

    #[test]
    fn a_peer_still_down_is_refused() {
        let mut inventory = inventory();
        let state = after_unplanned(&inventory);
        site_a_down(&mut inventory);
        let refusals = make_plan(&example_spec(), &inventory, &state, &sync_force()).unwrap_err();
        assert!(refusals[0].message.contains("site-a is still unreachable"));
    }

    #[test]
    fn nothing_recorded_is_nothing_to_sync() {
        let refusals =
            make_plan(&example_spec(), &inventory(), &no_state(), &sync_force()).unwrap_err();
        assert!(
            refusals[0].message.contains("nothing to sync"),
            "{refusals:?}"
        );
    }
}
