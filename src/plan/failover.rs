//! Failover plans, planned and unplanned (DESIGN §3).
//!
//! Planned: stop the source instances, snapshot and replicate now, copy each replicated volume
//! snapshot to a new array volume on the target, manage it into Cinder, boot each instance with
//! mapped flavor and networks (fixed IPs kept where the target subnet allows) in boot order,
//! then remove the stopped instances and unmanage their volumes on the source (array data kept),
//! and set up replication back to the old primary. Unplanned: no source step; the newest fully
//! transferred snapshot is recovered and its age disclosed against the RPO.

use std::collections::BTreeMap;

use super::recreate::{
    self, KNOWN_AFTER_APPLY, MemberSource, Naming, Recreation, Steps, Target, override_for, view,
};
use super::takeover::{self, Takeover};
use super::teardown::{self, Removal};
use super::{
    Action, Basis, DataLoss, FORMAT_VERSION, FailoverType, GroupView, Operation, OperationKind,
    Phase, Plan, PlanOptions, Refusal, Resource, SnapshotSource, Step, fingerprint, operation_id,
};
use crate::inventory::{Inventory, ReplicatedSnapshot};
use crate::spec::{self, Spec};
use crate::state::{GroupStatus, RecordedState};

pub(super) fn plan(
    spec: &Spec,
    inventory: &Inventory,
    state: &RecordedState,
    kind: OperationKind,
    options: &PlanOptions,
) -> Result<Plan, Vec<Refusal>> {
    let failback = kind == OperationKind::Failback;
    // A failback is a planned failover back to the primary, from the recorded placements.
    let failover_type = if failback {
        FailoverType::Planned
    } else {
        options.failover_type.unwrap_or(FailoverType::Planned)
    };
    let newest = state.newest();
    let source = newest.map_or(spec.primary.as_str(), |doc| {
        doc.current_primary_site.as_str()
    });
    let target = spec.peer_of(source);
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();
    let refuse = |refusals: &mut Vec<Refusal>, message: String, hint: String| {
        refusals.push(Refusal { message, hint });
    };

    let status = newest.map_or(GroupStatus::Active, |doc| doc.status);
    let source_facts = inventory.sites.get(source).and_then(|site| site.facts());
    // A failover or failback that did not finish: taken over with --force, or by an unplanned
    // failover when its source was lost before its final snapshot was replicated (it cannot
    // finish as planned then); otherwise finished or undone first.
    let unfinished = takeover::unfinished(state, target);
    let takes_over = unfinished.filter(|run| {
        options.force
            || (failover_type == FailoverType::Unplanned
                && source_facts.is_none()
                && !takeover::snapshot_replicated(run))
    });
    match status {
        GroupStatus::Active if failback => refuse(
            &mut refusals,
            format!(
                "protection group `{}` runs on its primary {source}: there is nothing to fail back",
                spec.name
            ),
            "a failback follows a failover: `protector plan FILE --operation failover`".to_string(),
        ),
        GroupStatus::FailedOver if !failback => refuse(
            &mut refusals,
            format!(
                "protection group `{}` has already failed over to {source}",
                spec.name
            ),
            "to bring it back, plan a failback: `protector plan FILE --operation failback`"
                .to_string(),
        ),
        GroupStatus::FailingOver | GroupStatus::FailingBack | GroupStatus::Error
            if let Some(run) = takes_over =>
        {
            warnings.push(format!(
                "takes over {}, which did not finish: what it left on {target} is removed first, and it is neither resumed nor rolled back afterwards",
                run.plan.operation.id
            ));
        }
        GroupStatus::FailingOver | GroupStatus::FailingBack | GroupStatus::Error
            if let Some(run) = unfinished =>
        {
            let id = &run.plan.operation.id;
            refuse(
                &mut refusals,
                format!(
                    "{id} ({}) did not finish: protection group `{}` is `{}`",
                    run.plan.operation.kind.as_str(),
                    spec.name,
                    status.as_str()
                ),
                if source_facts.is_none() && takeover::snapshot_replicated(run) {
                    format!(
                        "its final snapshot reached {target}: finish it there without {source} with `protector apply --resume {id}`"
                    )
                } else {
                    format!(
                        "finish it with `protector apply --resume {id}`, or undo it with `protector rollback {id}`; --force plans anyway and takes it over"
                    )
                },
            );
        }
        other => recreate::check_settled(spec, other, options.force, &mut refusals, &mut warnings),
    }

    let Some(target_facts) = inventory.sites.get(target).and_then(|site| site.facts()) else {
        refuse(
            &mut refusals,
            format!(
                "target site {target} is unreachable: {}",
                recreate::unreachable(inventory, target)
            ),
            format!(
                "a failover needs its target: check {target}'s endpoints and credentials with `protector site validate FILE {target}`"
            ),
        );
        return Err(refusals);
    };
    match failover_type {
        FailoverType::Planned if source_facts.is_none() => refuse(
            &mut refusals,
            format!(
                "remote site unreachable: {source} ({})",
                recreate::unreachable(inventory, source)
            ),
            format!(
                "if {source} is down, plan an unplanned failover from {target}: `protector plan FILE --operation failover --type unplanned`"
            ),
        ),
        FailoverType::Unplanned if source_facts.is_some() => warnings.push(format!(
            "{source} is reachable: a planned failover (`--type planned`) would lose no data"
        )),
        _ => {}
    }
    if failover_type == FailoverType::Planned {
        super::check_sync(state, options, &mut refusals, &mut warnings);
    }

    // The members' instances: discovered on the source, else as last recorded. Those already
    // running on the target are adopted (or refused), the others recreated there.
    let all_members =
        recreate::members(spec, source, source_facts, newest, failback, &mut refusals);
    let adopted = takeover::adopted(
        &all_members,
        target,
        target_facts,
        unfinished.map(|run| &run.plan),
        options.force || takes_over.is_some(),
        &mut refusals,
        &mut warnings,
    );
    let takeover = takes_over.map(|run| Takeover::new(run, &adopted));
    let members: Vec<&MemberSource> = all_members
        .iter()
        .filter(|member| !adopted.contains_key(member.name))
        .collect();

    // Mappings and target capacity.
    let on_target = Target {
        spec,
        options,
        source,
        target,
        facts: target_facts,
    };
    // A command-line mapping wins; then, for a failback, what the member had before the
    // failover; then the spec's symmetric pairs.
    let member_network = |member: &MemberSource, index: usize| {
        let network = member.instance.ports[index].network.as_str();
        override_for(&options.network_mappings, network)
            .map(str::to_string)
            .or_else(|| {
                member
                    .previous
                    .and_then(|previous| previous.ports.get(index))
                    .map(|port| port.network.clone())
            })
            .or_else(|| {
                spec::translate(&spec.mappings.networks, source, target, network)
                    .map(str::to_string)
            })
    };
    let mut ports_per_network: BTreeMap<String, u64> = BTreeMap::new();
    for member in &members {
        on_target.check_flavor(member, &mut refusals);
        on_target.check_dependencies(member, &mut refusals);
        for (index, port) in member.instance.ports.iter().enumerate() {
            match member_network(member, index) {
                None => refuse(
                    &mut refusals,
                    format!(
                        "network `{}` of `{}` has no mapping to {target}",
                        port.network, member.name
                    ),
                    format!(
                        "add `{{ {source}: {}, {target}: <network on {target}> }}` under mappings.networks, or pass `--network-mapping {}=<network on {target}>`",
                        port.network, port.network
                    ),
                ),
                Some(mapped) if target_facts.network_named(&mapped).is_none() => refuse(
                    &mut refusals,
                    format!(
                        "network `{mapped}` (mapped from `{}` for `{}`) does not exist on {target}",
                        port.network, member.name
                    ),
                    format!(
                        "create it on {target}, or map `{}` to an existing network with `--network-mapping`",
                        port.network
                    ),
                ),
                Some(mapped) => *ports_per_network.entry(mapped).or_default() += 1,
            }
        }
    }
    on_target.check_capacity(&ports_per_network, &members, &mut refusals, &mut warnings);

    // The array side.
    let source_array = &spec.sites[source].flasharray.array_name;
    let target_array = &spec.sites[target].flasharray.array_name;
    let group = &spec.policy.array_protection_group;
    let replicated_group = format!("{source_array}:{group}");
    let member_array_volumes = recreate::member_array_volumes(&members, &mut refusals);
    let target_array_facts = on_target.array(&mut refusals);
    if failover_type == FailoverType::Planned
        && let Some(array) = source_facts.and_then(|facts| facts.array.as_ref())
    {
        match array.protection_groups.iter().find(|pg| &pg.name == group) {
            None => refuse(
                &mut refusals,
                format!("protection group `{group}` does not exist on {source_array}"),
                "create it on the array, or run `protector plan FILE` (converge) to have protector create it".to_string(),
            ),
            Some(pg) => {
                let protected: std::collections::HashSet<&str> =
                    pg.volumes.iter().map(String::as_str).collect();
                for volume in &member_array_volumes {
                    if !protected.contains(volume) {
                        refuse(
                            &mut refusals,
                            format!("array volume `{volume}` is not in protection group `{group}` on {source_array}: it would not be replicated"),
                            "run `protector plan FILE` (converge) to add the members' volumes to the protection group".to_string(),
                        );
                    }
                }
                if !pg.targets.iter().any(|(name, allowed)| name == target_array && *allowed) {
                    refuse(
                        &mut refusals,
                        format!("protection group `{group}` does not replicate to {target_array}"),
                        "run `protector plan FILE` (converge) to add the target and allow it".to_string(),
                    );
                }
            }
        }
    }
    let recovery_snapshot: Option<&ReplicatedSnapshot> = match failover_type {
        FailoverType::Planned => None,
        FailoverType::Unplanned => recreate::newest_complete_snapshot(
            target_array_facts,
            target_array,
            &replicated_group,
            &member_array_volumes,
            &mut refusals,
        ),
    };
    let data_loss = Some(match recovery_snapshot.zip(target_array_facts) {
        Some((snapshot, array)) => recreate::disclose(
            spec,
            inventory,
            array,
            snapshot,
            options,
            &mut refusals,
            &mut warnings,
        ),
        None => DataLoss {
            snapshot: None,
            age_secs: 0.0,
            rpo_secs: spec.policy.rpo.as_secs_f64(),
            exceeds_rpo: false,
        },
    });
    if !refusals.is_empty() {
        return Err(refusals);
    }

    // The basis and the operation id.
    let relied = (
        all_members
            .iter()
            .map(|m| (m.name, m.instance))
            .collect::<BTreeMap<_, _>>(),
        &target_facts.networks,
        &target_facts.flavors,
        recovery_snapshot.map(|s| &s.name),
    );
    // What adoption and a takeover add is relied on too, and only then: plans that have
    // neither keep the fingerprint (and operation id) they always had.
    let inventory_fingerprint = if adopted.is_empty() && takeover.is_none() {
        fingerprint(&relied)
    } else {
        fingerprint(&(relied, &adopted, takeover.as_ref().map(|t| &t.leftovers)))
    };
    let basis = Basis {
        state_versions: state.versions(),
        inventory_fingerprint,
    };
    // A failover keeps the id it always had; a failback's input differs by its kind.
    let id = if failback {
        operation_id(&fingerprint(&(&spec.name, "failback", options, &basis)))
    } else {
        operation_id(&fingerprint(&(&spec.name, failover_type, options, &basis)))
    };
    let operation = Operation {
        id: id.clone(),
        kind: kind.clone(),
        failover_type: (!failback).then_some(failover_type),
        source_site: source.to_string(),
        target_site: target.to_string(),
        supersedes: takeover.as_ref().map(|t| t.operation().to_string()),
    };

    // The steps.
    let mut steps = Steps::default();
    let check = steps.add(
        "check_target".to_string(),
        Phase::ValidateTarget,
        target,
        None,
        Action::CheckTarget,
        Vec::new(),
        Vec::new(),
    );
    let snapshot_source: Box<dyn Fn(&str) -> SnapshotSource> =
        match (failover_type, recovery_snapshot) {
            (FailoverType::Planned, _) => {
                let stops: Vec<String> = members
                    .iter()
                    .map(|member| {
                        steps.add(
                            format!("stop_instance/{}", member.name),
                            Phase::Quiesce,
                            source,
                            Some(member.name),
                            Action::StopInstance {
                                instance_id: member.instance.id.clone(),
                                name: member.instance.name.clone(),
                            },
                            vec![check.clone()],
                            Vec::new(),
                        )
                    })
                    .collect();
                let snapshot = steps.add(
                    format!("snapshot/{group}"),
                    Phase::GetSnapshot,
                    source,
                    None,
                    Action::SnapshotAndReplicate {
                        array: source_array.clone(),
                        protection_group: group.clone(),
                        target_array: target_array.clone(),
                    },
                    stops,
                    vec![Resource {
                        kind: "protection_group_snapshot".to_string(),
                        name: format!("{group}.<next>"),
                    }],
                );
                if let Some(secs) =
                    recreate::last_transfer_secs(target_array_facts, &replicated_group)
                {
                    steps.estimate(&snapshot, secs);
                }
                Box::new(move |volume: &str| SnapshotSource::FromStep {
                    step: snapshot.clone(),
                    volume: volume.to_string(),
                })
            }
            (FailoverType::Unplanned, Some(snapshot)) => {
                let volumes = snapshot.volumes.clone();
                Box::new(move |volume: &str| SnapshotSource::Named {
                    snapshot: volumes.get(volume).cloned().unwrap_or_default(),
                })
            }
            (FailoverType::Unplanned, None) => {
                // Refused above; kept explicit so no path can plan without a snapshot.
                return Err(vec![Refusal {
                    message: "no snapshot to recover".to_string(),
                    hint: "check replication on the arrays".to_string(),
                }]);
            }
        };
    let copies_after = match failover_type {
        FailoverType::Planned => format!("snapshot/{group}"),
        FailoverType::Unplanned => check.clone(),
    };

    // Promote, manage, ports and boots per member.
    let network =
        |member: &MemberSource, index: usize| member_network(member, index).unwrap_or_default();
    // What an operation taken over left on the target goes first: its ports hold addresses
    // the members keep.
    let mut prepared = vec![check.clone()];
    if let Some(takeover) = &takeover {
        prepared.extend(
            teardown::remove(
                &mut steps,
                &Removal {
                    site: target,
                    array: target_array,
                    phase: Phase::ValidateTarget,
                    protection_group: Some(group),
                    id_prefix: "takeover/",
                },
                &takeover.leftovers,
                vec![check.clone()],
            )
            .steps,
        );
        prepared.sort();
        prepared.dedup();
    }
    let freed_ips = takeover
        .as_ref()
        .map(|takeover| takeover.freed_ips.clone())
        .unwrap_or_default();
    let recreated = recreate::recreate(
        &mut steps,
        &on_target,
        &Recreation {
            operation: &id,
            naming: &Naming::Keep {
                short: id[3..11].to_string(),
            },
            snapshot_source: &snapshot_source,
            copies_after,
            prepared,
            freed_ips: &freed_ips,
            network: &network,
            verify_phase: Phase::RecreateInstances,
            new_addresses_expected: false,
        },
        &members,
        &mut warnings,
    );
    // The source's copy goes only once every recreated member is checked against its
    // profile.
    let all_active = if recreated.verified.is_empty() {
        vec![check.clone()]
    } else {
        recreated.verified
    };

    let mut last = all_active.clone();
    if failover_type == FailoverType::Planned {
        let mut unmanaged = Vec::new();
        let mut retired = Vec::new();
        for member in &all_members {
            let delete = steps.add(
                format!("delete_instance/{}", member.name),
                Phase::CleanupSource,
                source,
                Some(member.name),
                Action::DeleteInstance {
                    instance_id: member.instance.id.clone(),
                    name: member.instance.name.clone(),
                    port_ids: member.instance.ports.iter().map(|p| p.id.clone()).collect(),
                },
                all_active.clone(),
                Vec::new(),
            );
            for (index, volume) in member.instance.volumes.iter().enumerate() {
                unmanaged.push(steps.add(
                    format!("unmanage_volume/{}/{index}", member.name),
                    Phase::CleanupSource,
                    source,
                    Some(member.name),
                    Action::UnmanageVolume {
                        volume_id: volume.id.clone(),
                        name: volume.name.clone(),
                    },
                    vec![delete.clone()],
                    Vec::new(),
                ));
                retired.extend(
                    volume
                        .array_volume_name
                        .as_deref()
                        .map(crate::clients::cinder::pure_unmanaged_name),
                );
            }
        }
        // What the source's group protected is the past: it stops replicating, its data kept.
        last.push(steps.add(
            format!("retire_volumes/{group}"),
            Phase::CleanupSource,
            source,
            None,
            Action::RetireVolumes {
                array: source_array.clone(),
                protection_group: group.clone(),
                volumes: retired,
                disable_replication: true,
            },
            if unmanaged.is_empty() {
                all_active.clone()
            } else {
                unmanaged
            },
            Vec::new(),
        ));
    }
    // After a failover, replication runs back to the old primary so a failback is possible;
    // after a failback, only when asked (`--reverse-replication`).
    if !failback || options.reverse_replication {
        let configure = steps.add(
            format!("configure_replication/{group}"),
            Phase::ReverseReplication,
            target,
            None,
            Action::ConfigureReplication {
                array: target_array.clone(),
                protection_group: group.clone(),
                volumes_from_steps: recreated.manage_steps,
                volumes: adopted
                    .values()
                    .flat_map(|instance| &instance.volumes)
                    .filter_map(|volume| volume.array_volume_name.clone())
                    .collect(),
                target_array: source_array.clone(),
            },
            all_active.clone(),
            vec![Resource {
                kind: "protection_group".to_string(),
                name: format!("{target_array}/{group}"),
            }],
        );
        // Protected again at once: one snapshot of the recovered volumes reaches the old
        // primary before the operation reports success, rather than at the array's next
        // scheduled replication. With the old primary down there is nothing to replicate to:
        // the group stays unprotected until `sync-force` brings it back.
        let old_primary_array = source_facts.and_then(|facts| facts.array.as_ref());
        if old_primary_array.is_some() {
            let protect = steps.add(
                format!("protect/{group}"),
                Phase::ReverseReplication,
                target,
                None,
                Action::SnapshotAndReplicate {
                    array: target_array.clone(),
                    protection_group: group.clone(),
                    target_array: source_array.clone(),
                },
                vec![configure],
                vec![Resource {
                    kind: "protection_group_snapshot".to_string(),
                    name: format!("{target_array}:{group}.<next>"),
                }],
            );
            if let Some(secs) =
                recreate::last_transfer_secs(old_primary_array, &format!("{target_array}:{group}"))
            {
                steps.estimate(&protect, secs);
            }
            last.push(protect);
        } else {
            warnings.push(format!(
                "{source} is down: {group} stays unprotected (no copy on {source_array}) until `protector protection-group sync-force FILE` once it is back"
            ));
            last.push(configure);
        }
    }
    last.sort();
    last.dedup();
    steps.add(
        "finalize".to_string(),
        Phase::Finalize,
        target,
        None,
        Action::Finalize,
        last,
        Vec::new(),
    );

    let steps = super::ordered(steps.0, state)?;
    let estimate = super::estimate(&steps, spec, state);
    recreate::warn_rto(&estimate, spec, &mut warnings);

    let before = GroupView {
        status: status.as_str().to_string(),
        current_primary_site: source.to_string(),
        members: all_members
            .iter()
            .map(|m| (m.name.to_string(), view(source, m.instance, None, None)))
            .collect(),
    };
    let by_id: std::collections::HashMap<&str, &Step> =
        steps.iter().map(|step| (step.id.as_str(), step)).collect();
    let after = GroupView {
        status: if failback {
            GroupStatus::Active
        } else {
            GroupStatus::FailedOver
        }
        .as_str()
        .to_string(),
        current_primary_site: target.to_string(),
        members: members
            .iter()
            .map(|member| {
                let boot = by_id.get(format!("boot_instance/{}", member.name).as_str());
                let flavor = match boot.map(|s| &s.action) {
                    Some(Action::BootInstance { flavor, .. }) => Some(flavor.clone()),
                    _ => None,
                };
                let networks: Vec<String> = member
                    .instance
                    .ports
                    .iter()
                    .enumerate()
                    .map(|(index, port)| {
                        let step =
                            by_id.get(format!("create_port/{}/{index}", member.name).as_str());
                        match step.map(|s| &s.action) {
                            Some(Action::CreatePort {
                                network, fixed_ip, ..
                            }) => format!(
                                "{network} = {}",
                                fixed_ip.as_deref().unwrap_or(KNOWN_AFTER_APPLY)
                            ),
                            _ => format!("{} = {KNOWN_AFTER_APPLY}", port.network),
                        }
                    })
                    .collect();
                let planned = view(target, member.instance, flavor, Some(networks));
                (
                    member.name.to_string(),
                    recreate::recreated_view(
                        planned,
                        member.name,
                        &by_id,
                        member.instance.ports.len(),
                    ),
                )
            })
            .chain(
                adopted
                    .iter()
                    .map(|(name, instance)| (name.clone(), view(target, instance, None, None))),
            )
            .collect(),
    };

    Ok(Plan {
        format_version: FORMAT_VERSION,
        protection_group: spec.name.clone(),
        spec_file: None,
        spec_sha256: None,
        protector_version: None,
        operation,
        options: options.clone(),
        basis,
        steps,
        estimate,
        data_loss,
        warnings,
        before,
        after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::SiteInventory;
    use crate::plan::plan as make_plan;
    use crate::plan::testing::*;

    #[test]
    fn planned_failover_orders_the_work_as_designed() {
        let plan = make_plan(
            &example_spec(),
            &inventory(),
            &no_state(),
            &request(FailoverType::Planned),
        )
        .expect("plans");
        assert_eq!(plan.operation.source_site, "site-a");
        assert_eq!(plan.operation.target_site, "site-b");
        // Quiesce before the snapshot, the snapshot before every copy.
        for member in ["db-1", "web-1", "web-2"] {
            assert!(depends(
                &plan,
                "snapshot/prod-web-app",
                &format!("stop_instance/{member}")
            ));
        }
        assert!(depends(
            &plan,
            "copy_volume/db-1/1",
            "snapshot/prod-web-app"
        ));
        assert!(depends(&plan, "manage_volume/db-1/1", "copy_volume/db-1/1"));
        // Boot order and depends_on: the web tier waits for the database to be ACTIVE.
        assert!(depends(&plan, "boot_instance/web-1", "tier_active/1"));
        assert!(depends(&plan, "boot_instance/web-1", "boot_instance/db-1"));
        assert!(depends(&plan, "tier_active/1", "boot_instance/db-1"));
        assert!(depends(
            &plan,
            "boot_instance/web-1",
            "manage_volume/web-1/0"
        ));
        assert!(!depends(
            &plan,
            "boot_instance/web-1",
            "boot_instance/web-2"
        ));
        // Source cleanup only after every member booted, was checked against its profile and
        // stayed up for the stabilization window.
        assert!(depends(&plan, "delete_instance/db-1", "stabilize"));
        match &plan.step("stabilize").unwrap().action {
            Action::Stabilize { seconds, .. } => {
                assert_eq!(*seconds, 2, "the example's `stabilization: 2s`")
            }
            other => panic!("{other:?}"),
        }
        for member in ["db-1", "web-1", "web-2"] {
            assert!(depends(
                &plan,
                "stabilize",
                &format!("verify_instance/{member}")
            ));
            assert!(depends(
                &plan,
                &format!("verify_instance/{member}"),
                "tier_active/2"
            ));
        }
        // Security groups travel with the ports, and the check knows what the member was.
        match &plan.step("create_port/web-1/0").unwrap().action {
            Action::CreatePort {
                security_groups, ..
            } => assert_eq!(security_groups, &["default", "web-1-tier"]),
            other => panic!("{other:?}"),
        }
        match &plan.step("verify_instance/web-1").unwrap().action {
            Action::VerifyInstance { profile, .. } => {
                assert_eq!(profile.flavor, "m2.large");
                assert_eq!(profile.key_name.as_deref(), Some("ops"));
                assert_eq!(profile.nics[0].network, "net-secondary-web");
                assert_eq!(profile.nics[0].fixed_ip.as_deref(), Some("10.10.1.11"));
                assert_eq!(profile.nics[0].security_groups, ["default", "web-1-tier"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            plan.after.members["web-1"].security_groups,
            ["default", "web-1-tier"]
        );
        for member in ["web-1", "web-2"] {
            assert!(depends(
                &plan,
                "tier_active/2",
                &format!("boot_instance/{member}")
            ));
        }
        assert!(depends(
            &plan,
            "unmanage_volume/db-1/1",
            "delete_instance/db-1"
        ));
        assert_eq!(plan.steps.last().unwrap().id, "finalize");
        // Dependencies come first in the file.
        let position = |id: &str| plan.steps.iter().position(|s| s.id == id).unwrap();
        for step in &plan.steps {
            for dependency in &step.depends_on {
                assert!(
                    position(dependency) < position(&step.id),
                    "{dependency} before {}",
                    step.id
                );
            }
        }
        // Mapped flavor and networks, fixed IPs kept.
        let web_1 = &plan.after.members["web-1"];
        assert_eq!(web_1.site, "site-b");
        assert_eq!(web_1.flavor, "m2.large");
        assert_eq!(web_1.networks, vec!["net-secondary-web = 10.10.1.11"]);
        assert_eq!(plan.after.status, "failed_over");
        // Resources carry the operation id.
        match &plan.step("copy_volume/db-1/0").unwrap().action {
            Action::CopyVolume { volume, source, .. } => {
                assert!(volume.ends_with(&plan.operation.id[3..11]), "{volume}");
                assert_eq!(
                    source,
                    &SnapshotSource::FromStep {
                        step: "snapshot/prod-web-app".to_string(),
                        volume: "volume-db-1-0-cinder".to_string()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        // The DAG beats phase barriers, which beat one step at a time.
        let estimate = &plan.estimate;
        assert!(
            estimate.predicted_secs < estimate.phase_by_phase_secs,
            "{estimate:?}"
        );
        assert!(
            estimate.phase_by_phase_secs < estimate.one_at_a_time_secs,
            "{estimate:?}"
        );
        assert_eq!(plan.data_loss.as_ref().unwrap().age_secs, 0.0);
        assert_eq!(
            crate::plan::diff::summary(&plan),
            "Plan: 1 server group to create on site-b, 3 instances to recreate on site-b, \
             4 volumes to promote and manage on site-b, 3 instances to stop on site-a, \
             3 instances to remove from site-a, \
             4 volumes to unmanage on site-a (array data kept), 3 instances to verify on site-b."
        );
    }

    #[test]
    fn a_fixed_ip_that_cannot_be_kept_is_a_warning_that_says_why() {
        let planned = |change: &dyn Fn(&mut crate::inventory::Network)| {
            let mut inventory = inventory();
            if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
                let web = facts
                    .networks
                    .iter_mut()
                    .find(|n| n.name == "net-secondary-web")
                    .unwrap();
                change(web);
            }
            make_plan(
                &example_spec(),
                &inventory,
                &no_state(),
                &request(FailoverType::Planned),
            )
            .expect("plans")
            .warnings
        };
        let taken = planned(&|web| web.subnets[0].used_ips = vec!["10.10.1.11".to_string()]);
        assert!(
            taken.contains(
                &"`web-1` cannot keep 10.10.1.11 on net-secondary-web (taken there); it gets a new address"
                    .to_string()
            ),
            "{taken:?}"
        );
        let elsewhere = planned(&|web| web.subnets[0].cidr = "10.20.1.0/24".to_string());
        assert!(
            elsewhere.contains(
                &"`web-2` cannot keep 10.10.1.12 on net-secondary-web (outside its subnets); it gets a new address"
                    .to_string()
            ),
            "{elsewhere:?}"
        );
    }

    #[test]
    fn planning_is_deterministic() {
        let plan = || {
            let plan = make_plan(
                &example_spec(),
                &inventory(),
                &no_state(),
                &request(FailoverType::Planned),
            )
            .unwrap();
            serde_json::to_string(&plan).unwrap()
        };
        assert_eq!(plan(), plan());
    }

    #[test]
    fn planned_failover_refuses_when_the_source_is_unreachable() {
        let mut inventory = inventory();
        site_a_down(&mut inventory);
        let refusals = make_plan(
            &example_spec(),
            &inventory,
            &no_state(),
            &request(FailoverType::Planned),
        )
        .unwrap_err();
        assert!(
            refusals[0]
                .message
                .starts_with("remote site unreachable: site-a"),
            "{refusals:?}"
        );
        assert!(
            refusals[0].hint.contains("--type unplanned"),
            "{refusals:?}"
        );
    }

    #[test]
    fn unplanned_failover_recovers_the_newest_complete_snapshot_without_source_steps() {
        let mut inventory = inventory();
        // The inventory of the members comes from the last recorded state.
        let members = inventory.sites["site-a"].facts().unwrap().instances.clone();
        site_a_down(&mut inventory);
        let mut state = no_state();
        let mut document = crate::state::StateDocument::initial(&example_spec(), "site-b");
        document.metadata_version = 3;
        for (name, instance) in members {
            document.members.insert(
                name,
                crate::state::MemberRecord {
                    site: "site-a".to_string(),
                    instance_id: Some(instance.id.clone()),
                    array_volumes: Vec::new(),
                    last_known: Some(instance),
                    previous: None,
                },
            );
        }
        state.sites.insert("site-b".to_string(), Some(document));
        let plan = make_plan(
            &example_spec(),
            &inventory,
            &state,
            &request(FailoverType::Unplanned),
        )
        .expect("plans");
        assert!(
            plan.steps.iter().all(|step| step.site == "site-b"),
            "no step on site-a"
        );
        let data_loss = plan.data_loss.as_ref().unwrap();
        assert_eq!(data_loss.snapshot.as_deref(), Some("fa-a:prod-web-app.7"));
        assert_eq!(data_loss.age_secs, 300.0);
        assert!(!data_loss.exceeds_rpo);
        match &plan.step("copy_volume/web-1/0").unwrap().action {
            Action::CopyVolume { source, .. } => assert_eq!(
                source,
                &SnapshotSource::Named {
                    snapshot: "fa-a:prod-web-app.7.volume-web-1-0-cinder".to_string()
                }
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_snapshot_older_than_the_rpo_needs_accept_data_loss() {
        let mut inventory = inventory();
        inventory.taken_at_ms += 60 * 60_000; // the snapshot is now 65 minutes old
        let mut request = request(FailoverType::Unplanned);
        let refusals = make_plan(&example_spec(), &inventory, &no_state(), &request).unwrap_err();
        assert!(
            refusals[0].message.contains("beyond the RPO of 15m"),
            "{refusals:?}"
        );
        assert!(refusals[0].hint.contains("--accept-data-loss"));
        request.options.accept_data_loss = true;
        let plan = make_plan(&example_spec(), &inventory, &no_state(), &request).unwrap();
        assert!(plan.data_loss.unwrap().exceeds_rpo);
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("accepted with --accept-data-loss"))
        );
    }

    #[test]
    fn a_missing_mapping_names_the_flag_that_adds_it() {
        let mut inventory = inventory();
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-a").unwrap() {
            facts.instances.get_mut("web-2").unwrap().ports[0].network = "net-legacy".to_string();
        }
        let mut request = request(FailoverType::Planned);
        let refusals = make_plan(&example_spec(), &inventory, &no_state(), &request).unwrap_err();
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert_eq!(
            refusals[0].message,
            "network `net-legacy` of `web-2` has no mapping to site-b"
        );
        assert!(
            refusals[0]
                .hint
                .contains("--network-mapping net-legacy=<network on site-b>")
        );
        request.options.network_mappings =
            vec![("net-legacy".to_string(), "net-secondary-web".to_string())];
        assert!(make_plan(&example_spec(), &inventory, &no_state(), &request).is_ok());
    }

    #[test]
    fn cinder_policy_is_what_the_probe_answered_and_roles_only_a_fallback() {
        use crate::inventory::ManagePolicy;
        let plan_with = |policy: ManagePolicy, roles: &[&str]| {
            let mut inventory = inventory();
            if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
                facts.manage_policy = policy;
                facts.roles = roles.iter().map(|role| role.to_string()).collect();
            }
            make_plan(
                &example_spec(),
                &inventory,
                &no_state(),
                &request(FailoverType::Planned),
            )
        };
        // A policy that allows `member`: the probe says so, no admin needed.
        assert!(plan_with(ManagePolicy::Allowed, &["member"]).is_ok());
        // A policy that refuses even admin: refused before production is touched.
        let refusals = plan_with(ManagePolicy::Refused, &["admin"]).unwrap_err();
        assert!(
            refusals[0]
                .message
                .contains("denies `volume_extension:volume_manage`")
        );
        // No answer: the default rule decides, and the plan says it guessed.
        let unknown = || ManagePolicy::Unknown {
            error: "503".to_string(),
        };
        assert!(plan_with(unknown(), &["member"]).is_err());
        let plan = plan_with(unknown(), &["admin"]).unwrap();
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("could not be probed"))
        );
        // Manage opened to `member`: unmanage cannot be probed, and the plan says so.
        let plan = plan_with(ManagePolicy::Allowed, &["member"]).unwrap();
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("volume_extension:volume_unmanage")),
            "{:?}",
            plan.warnings
        );
        let plan = plan_with(ManagePolicy::Allowed, &["admin"]).unwrap();
        assert!(
            !plan.warnings.iter().any(|w| w.contains("unmanage")),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn a_target_volume_service_down_or_disabled_is_refused_and_an_unlisted_one_only_warned() {
        use crate::inventory::{VolumeService, VolumeServices};
        let plan_with = |services: VolumeServices| {
            let mut inventory = inventory();
            if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
                facts.volume_services = services;
            }
            make_plan(
                &example_spec(),
                &inventory,
                &no_state(),
                &request(FailoverType::Planned),
            )
        };
        let service = |up: bool, enabled: bool| VolumeServices::Listed {
            services: vec![VolumeService {
                host: "site-b@pure".to_string(),
                up,
                enabled,
                disabled_reason: (!enabled).then(|| "maintenance".to_string()),
                updated_at: Some("2026-12-07T10:00:00.000000".to_string()),
            }],
        };
        let plan = plan_with(service(true, true)).unwrap();
        assert!(!plan.warnings.iter().any(|w| w.contains("volume service")));
        let refusals = plan_with(service(false, true)).unwrap_err();
        assert!(
            refusals.iter().any(|r| r.message.contains(
                "cinder-volume `site-b@pure` is down, last report 2026-12-07T10:00:00.000000"
            )),
            "{refusals:?}"
        );
        let refusals = plan_with(service(true, false)).unwrap_err();
        assert!(
            refusals
                .iter()
                .any(|r| r.message.contains("is disabled (maintenance)")),
            "{refusals:?}"
        );
        let refusals = plan_with(VolumeServices::Listed {
            services: Vec::new(),
        })
        .unwrap_err();
        assert!(
            refusals
                .iter()
                .any(|r| r.message.contains("no cinder-volume service `site-b@pure`")),
            "{refusals:?}"
        );
        let plan = plan_with(VolumeServices::Refused).unwrap();
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("denies `volume_extension:services:index`")),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn every_failed_precondition_is_reported_together() {
        let mut inventory = inventory();
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
            facts.flavors.clear();
            facts.manage_policy = crate::inventory::ManagePolicy::Refused;
            facts.volume_quota_left = Some(1);
        }
        let refusals = make_plan(
            &example_spec(),
            &inventory,
            &no_state(),
            &request(FailoverType::Planned),
        )
        .unwrap_err();
        let messages: Vec<&str> = refusals.iter().map(|r| r.message.as_str()).collect();
        assert!(
            messages.iter().any(|m| m.contains("flavor `m2.large`")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("volume quota")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("refuses to manage volumes")),
            "{messages:?}"
        );
    }

    #[test]
    fn a_cinder_host_the_target_has_no_pool_for_is_refused_unless_pools_are_hidden() {
        let mut inventory = inventory();
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
            facts.cinder_pools = Some(vec!["site-b@other#pool".to_string()]);
        }
        let refusals = make_plan(
            &example_spec(),
            &inventory,
            &no_state(),
            &request(FailoverType::Planned),
        )
        .unwrap_err();
        assert!(
            refusals.iter().any(|r| r.message
                == "Cinder on site-b has no backend pool `site-b@pure#fa-b` to manage the members' volumes into (its pools: site-b@other#pool)"
                && r.hint.contains("sites.site-b.flasharray.cinder_host")),
            "{refusals:?}"
        );
        // A cloud that does not let protector list pools: Cinder checks the host itself.
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
            facts.cinder_pools = None;
        }
        assert!(
            make_plan(
                &example_spec(),
                &inventory,
                &no_state(),
                &request(FailoverType::Planned)
            )
            .is_ok()
        );
    }

    #[test]
    fn a_members_key_pair_server_group_tags_and_description_come_along() {
        let plan = make_plan(
            &example_spec(),
            &inventory(),
            &no_state(),
            &request(FailoverType::Planned),
        )
        .expect("plans");
        // site-b has no web-servers: the plan makes it, and the web tier boots into it.
        let create = plan.step("create_server_group/web-servers").unwrap();
        assert_eq!(
            create.action,
            Action::CreateServerGroup {
                group: crate::plan::testing::web_servers()
            }
        );
        for member in ["web-1", "web-2"] {
            let boot = plan.step(&format!("boot_instance/{member}")).unwrap();
            assert!(boot.depends_on.contains(&create.id), "{member}");
            match &boot.action {
                Action::BootInstance { server_group, .. } => {
                    assert_eq!(server_group.as_deref(), Some("web-servers"))
                }
                other => panic!("{other:?}"),
            }
        }
        match &plan.step("boot_instance/db-1").unwrap().action {
            Action::BootInstance {
                key_name,
                tags,
                description,
                server_group,
                ..
            } => {
                assert_eq!(key_name.as_deref(), Some("ops"));
                assert_eq!(tags, &["db", "critical"]);
                assert_eq!(description.as_deref(), Some("PostgreSQL primary"));
                assert_eq!(server_group, &None);
            }
            other => panic!("{other:?}"),
        }
        match &plan.step("verify_instance/web-1").unwrap().action {
            Action::VerifyInstance { profile, .. } => {
                assert_eq!(profile.key_name.as_deref(), Some("ops"));
                assert_eq!(
                    profile.server_group,
                    Some(crate::plan::testing::web_servers())
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            plan.after.members["web-1"].server_group.as_deref(),
            Some("web-servers (anti-affinity)")
        );

        // A group of that name already there is joined, not made again.
        let mut inventory = inventory();
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
            facts.server_groups = Some(vec![crate::plan::testing::web_servers()]);
        }
        let plan = make_plan(
            &example_spec(),
            &inventory,
            &no_state(),
            &request(FailoverType::Planned),
        )
        .expect("plans");
        assert!(plan.step("create_server_group/web-servers").is_none());

        // One with another policy, or no key pair for protector's user, is refused.
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
            facts.server_groups.as_mut().unwrap()[0].policy = "affinity".to_string();
            facts.keypairs = Some(Vec::new());
        }
        let refusals = make_plan(
            &example_spec(),
            &inventory,
            &no_state(),
            &request(FailoverType::Planned),
        )
        .unwrap_err();
        let messages: Vec<&str> = refusals.iter().map(|r| r.message.as_str()).collect();
        assert!(
            messages.contains(
                &"server group `web-servers` on site-b is affinity; `web-1` needs anti-affinity"
            ),
            "{messages:?}"
        );
        assert!(
            messages.contains(
                &"key pair `ops` of `db-1` does not exist on site-b for protector's user"
            ),
            "{messages:?}"
        );
        assert!(
            refusals
                .iter()
                .any(|r| r.hint.contains("keypair create --public-key <file> ops"))
        );
    }

    #[test]
    fn what_a_member_depends_on_must_exist_on_the_target_or_be_mapped() {
        let mut inventory = inventory();
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
            facts.security_groups.retain(|group| group != "db-1-tier");
            facts.security_groups.push("web-1-tier".to_string());
            facts.volume_types = Some(vec!["pure-dr".to_string()]);
        }
        let refusals = make_plan(
            &example_spec(),
            &inventory,
            &no_state(),
            &request(FailoverType::Planned),
        )
        .unwrap_err();
        let messages: Vec<&str> = refusals.iter().map(|r| r.message.as_str()).collect();
        assert!(
            messages.contains(&"security group `db-1-tier` of `db-1` does not exist on site-b"),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("2 security groups named `web-1-tier`")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("volume type `pure-replicated`")),
            "{messages:?}"
        );
        assert!(
            refusals
                .iter()
                .any(|r| r.hint.contains("mappings.security_groups"))
        );

        // Mapped, they plan: the ports get the target's names, the volumes its type.
        let mut spec = example_spec();
        let pair = |a: &str, b: &str| crate::spec::Pair {
            names: std::collections::BTreeMap::from([
                ("site-a".to_string(), a.to_string()),
                ("site-b".to_string(), b.to_string()),
            ]),
        };
        spec.mappings.security_groups = vec![
            pair("db-1-tier", "web-2-tier"),
            pair("web-1-tier", "web-2-tier"),
        ];
        spec.mappings.volume_types = vec![pair("pure-replicated", "pure-dr")];
        let plan = make_plan(
            &spec,
            &inventory,
            &no_state(),
            &request(FailoverType::Planned),
        )
        .expect("plans");
        match &plan.step("create_port/db-1/0").unwrap().action {
            Action::CreatePort {
                security_groups, ..
            } => assert_eq!(security_groups, &["default", "web-2-tier"]),
            other => panic!("{other:?}"),
        }
        match &plan.step("manage_volume/db-1/0").unwrap().action {
            Action::ManageVolume { volume_type, .. } => {
                assert_eq!(volume_type.as_deref(), Some("pure-dr"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unreadable_quota_is_a_warning() {
        let mut inventory = inventory();
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
            facts.volume_quota_left = None;
            facts.volume_quota_error = Some("cinder on site-b: 403 Forbidden".to_string());
        }
        let plan = make_plan(
            &example_spec(),
            &inventory,
            &no_state(),
            &request(FailoverType::Planned),
        )
        .unwrap();
        assert!(
            plan.warnings.iter().any(|w| w
                == "the volume quota on site-b could not be read, so the 4 volumes to manage there are not checked against it: cinder on site-b: 403 Forbidden"),
            "{:?}",
            plan.warnings
        );
    }
}
