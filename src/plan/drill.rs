//! Drill plans (DESIGN §3): a rehearsal of a failover that never touches production.
//!
//! On the peer of the site running the workload, the newest completely transferred snapshot's
//! volume snapshots are copied into array volumes named `drill-<short id>-...`, managed into
//! Cinder under the same prefix, wired only to the spec's isolated `drill.networks` and booted
//! in boot order, as a failover would (the steps come from the same builder). Each instance is
//! then verified (ACTIVE, its volumes in-use by it), and everything the drill created is
//! removed: servers, ports, Cinder volumes (unmanaged), array volumes (destroyed: recoverable
//! until the array eradicates them). The last step lists the target and proves that nothing
//! tagged with the drill is left. No step runs on the source site, on a production instance or
//! volume, or on the protection group.
//!
//! With `--keep` the plan ends after verification. What a drill leaves (kept, or after a
//! failure) is recorded in the state, and a drill cleanup ([`cleanup`]) removes it from that
//! record: by the ids the drill's journal recorded, or by the markers its steps leave.

use std::collections::{BTreeMap, BTreeSet};

use super::recreate::{self, MemberSource, Naming, Recreation, Steps, Target, override_for, view};
use super::{
    Action, Basis, FORMAT_VERSION, GroupView, Operation, OperationKind, Phase, Plan, PlanOptions,
    Refusal, ResourceRef, SnapshotSource, Step, fingerprint, operation_id,
};
use crate::inventory::Inventory;
use crate::spec::{self, Spec};
use crate::state::{DrillResource, GroupStatus, RecordedState};

/// `drill-<short operation id>-`: the start of every name a drill gives what it creates.
fn prefix(drill: &str) -> String {
    format!("drill-{}-", drill.get(3..11).unwrap_or(drill))
}

pub(super) fn plan(
    spec: &Spec,
    inventory: &Inventory,
    state: &RecordedState,
    options: &PlanOptions,
) -> Result<Plan, Vec<Refusal>> {
    let newest = state.newest();
    let source = newest.map_or(spec.primary.as_str(), |doc| {
        doc.current_primary_site.as_str()
    });
    let target = spec.peer_of(source);
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();
    let status = newest.map_or(GroupStatus::Active, |doc| doc.status);
    recreate::check_settled(spec, status, options.force, &mut refusals, &mut warnings);

    let Some(target_facts) = inventory.sites.get(target).and_then(|site| site.facts()) else {
        refusals.push(Refusal {
            message: format!(
                "target site {target} is unreachable: {}",
                recreate::unreachable(inventory, target)
            ),
            hint: format!(
                "a drill runs on {target}: check its endpoints and credentials with `protector site validate FILE {target}`"
            ),
        });
        return Err(refusals);
    };
    let source_facts = inventory.sites.get(source).and_then(|site| site.facts());
    if source_facts.is_none() {
        warnings.push(format!(
            "{source} is unreachable ({}): the drill rebuilds the members from their last recorded inventory",
            recreate::unreachable(inventory, source)
        ));
    }
    let members = recreate::members(spec, source, source_facts, newest, false, &mut refusals);

    // Drill networks: a command-line mapping wins, then the spec's drill pairs. A network a
    // production mapping lands on is never one: drill copies would answer beside production.
    let on_target = Target {
        spec,
        options,
        source,
        target,
        facts: target_facts,
    };
    let production: BTreeSet<&str> = spec
        .mappings
        .networks
        .iter()
        .filter_map(|pair| pair.on(target))
        .collect();
    let drill_network = |member: &MemberSource, index: usize| {
        let network = member.instance.ports[index].network.as_str();
        override_for(&options.network_mappings, network)
            .or_else(|| spec::translate(&spec.drill.networks, source, target, network))
            .map(str::to_string)
    };
    let mut ports_per_network: BTreeMap<String, u64> = BTreeMap::new();
    for member in &members {
        on_target.check_flavor(member, &mut refusals);
        on_target.check_dependencies(member, &mut refusals);
        for (index, port) in member.instance.ports.iter().enumerate() {
            let network = &port.network;
            match drill_network(member, index) {
                None => refusals.push(Refusal {
                    message: format!(
                        "network `{network}` of `{}` has no drill network on {target}",
                        member.name
                    ),
                    hint: format!(
                        "add `{{ {source}: {network}, {target}: <isolated network on {target}> }}` under drill.networks: a drill boots only on isolated networks"
                    ),
                }),
                Some(mapped) if production.contains(mapped.as_str()) => refusals.push(Refusal {
                    message: format!(
                        "drill network `{mapped}` (for `{network}` of `{}`) is a production network on {target}: mappings.networks puts the workload there",
                        member.name
                    ),
                    hint: format!(
                        "map `{network}` under drill.networks to a network on {target} that is isolated from production and in no production mapping"
                    ),
                }),
                Some(mapped) if target_facts.network_named(&mapped).is_none() => {
                    refusals.push(Refusal {
                        message: format!(
                            "drill network `{mapped}` (for `{network}` of `{}`) does not exist on {target}",
                            member.name
                        ),
                        hint: format!(
                            "create it on {target}, isolated from production (no router to its networks), or fix drill.networks"
                        ),
                    })
                }
                Some(mapped) => *ports_per_network.entry(mapped).or_default() += 1,
            }
        }
    }
    let members: Vec<&MemberSource> = members.iter().collect();
    on_target.check_capacity(&ports_per_network, &members, &mut refusals, &mut warnings);
    let source_array = &spec.sites[source].flasharray.array_name;
    let target_array = &spec.sites[target].flasharray.array_name;
    let replicated_group = format!("{source_array}:{}", spec.policy.array_protection_group);
    let member_array_volumes = recreate::member_array_volumes(&members, &mut refusals);
    let array = on_target.array(&mut refusals);
    let snapshot = recreate::newest_complete_snapshot(
        array,
        target_array,
        &replicated_group,
        &member_array_volumes,
        &mut refusals,
    );
    let data_loss = snapshot.zip(array).map(|(snapshot, array)| {
        recreate::disclose(
            spec,
            inventory,
            array,
            snapshot,
            options,
            &mut refusals,
            &mut warnings,
        )
    });
    // Without a snapshot a refusal says why.
    let Some(snapshot) = snapshot.filter(|_| refusals.is_empty()) else {
        return Err(refusals);
    };

    // What the drill relies on: the members and the target's networks and flavors. Not which
    // snapshot is the newest: one arriving after planning leaves the planned one in place (the
    // array's retention keeps it), and the drill rehearses on the snapshot that was reviewed.
    let relied = (
        members
            .iter()
            .map(|m| (m.name, m.instance))
            .collect::<BTreeMap<_, _>>(),
        &target_facts.networks,
        &target_facts.flavors,
    );
    let basis = Basis {
        state_versions: state.versions(),
        inventory_fingerprint: fingerprint(&relied),
    };
    let id = operation_id(&fingerprint(&(&spec.name, "drill", options, &basis)));
    let prefix = prefix(&id);
    let naming = Naming::Prefixed {
        prefix: prefix.clone(),
    };

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
    let volumes = snapshot.volumes.clone();
    let snapshot_source = move |volume: &str| SnapshotSource::Named {
        snapshot: volumes.get(volume).cloned().unwrap_or_default(),
    };
    let network =
        |member: &MemberSource, index: usize| drill_network(member, index).unwrap_or_default();
    let recreated = recreate::recreate(
        &mut steps,
        &on_target,
        &Recreation {
            operation: &id,
            naming: &naming,
            snapshot_source: &snapshot_source,
            copies_after: check.clone(),
            prepared: vec![check],
            freed_ips: &BTreeSet::new(),
            network: &network,
            verify_phase: Phase::VerifyDrill,
            new_addresses_expected: true,
        },
        &members,
        &mut warnings,
    );
    let verified = recreated.verified;
    if !options.keep {
        let created: Vec<(DrillResource, ResourceRef)> = steps
            .0
            .iter()
            .filter_map(|step| {
                let reference = ResourceRef::Step {
                    step: step.id.clone(),
                };
                Some((step.drill_resource(None)?, reference))
            })
            .collect();
        teardown(&mut steps, target, target_array, &id, &created, verified);
    }
    let steps = super::ordered(steps.0, state)?;

    // The RTO a drill rehearses is the recovery's: verification and cleanup come after it.
    let recovery: Vec<Step> = steps
        .iter()
        .filter(|step| !matches!(step.phase, Phase::VerifyDrill | Phase::CleanupDrill))
        .cloned()
        .collect();
    let estimate = super::estimate(&recovery, spec, state);
    recreate::warn_rto(&estimate, spec, &mut warnings);
    // A drill changes nothing of the group: what it boots is in the steps.
    let group = GroupView {
        status: status.as_str().to_string(),
        current_primary_site: source.to_string(),
        members: members
            .iter()
            .map(|m| (m.name.to_string(), view(source, m.instance, None, None)))
            .collect(),
    };
    Ok(Plan {
        format_version: FORMAT_VERSION,
        protection_group: spec.name.clone(),
        spec_file: None,
        spec_sha256: None,
        protector_version: None,
        operation: Operation {
            id,
            kind: OperationKind::Drill,
            failover_type: None,
            source_site: source.to_string(),
            target_site: target.to_string(),
            supersedes: None,
        },
        options: options.clone(),
        basis,
        steps,
        estimate,
        data_loss,
        warnings,
        before: group.clone(),
        after: group,
    })
}

/// Plans the removal of what drill `options.drill` left on its target, as the state records
/// it, ending with the proof that nothing tagged with the drill is left.
pub(super) fn cleanup(
    spec: &Spec,
    inventory: &Inventory,
    state: &RecordedState,
    options: &PlanOptions,
) -> Result<Plan, Vec<Refusal>> {
    let refuse = |message: String, hint: String| Err(vec![Refusal { message, hint }]);
    let Some(drill) = options.drill.as_deref() else {
        return refuse(
            "a drill cleanup needs the drill it cleans up".to_string(),
            "name it: `protector drill cleanup OP` (`protector operation list FILE` lists the drills)".to_string(),
        );
    };
    let newest = state.newest();
    let Some(record) = newest.and_then(|doc| doc.operations.iter().find(|op| op.id == drill))
    else {
        return refuse(
            format!("no operation {drill} is recorded for `{}`", spec.name),
            "list the group's operations with `protector operation list FILE`".to_string(),
        );
    };
    if record.kind != OperationKind::Drill.as_str() {
        return refuse(
            format!("{drill} is a {}, not a drill", record.kind),
            format!(
                "a drill cleanup removes only what a drill created; undo a failed operation with `protector rollback {drill}`"
            ),
        );
    }
    if !record.status.is_settled() {
        return refuse(
            format!("drill {drill} is still {}", record.status.as_str()),
            format!("let it finish, or continue it first with `protector apply --resume {drill}`"),
        );
    }
    let target = record.target_site.as_str();
    let Some(facts) = inventory.sites.get(target).and_then(|site| site.facts()) else {
        return refuse(
            format!(
                "{target}, where drill {drill} ran, is unreachable: {}",
                recreate::unreachable(inventory, target)
            ),
            format!("check it with `protector site validate FILE {target}`"),
        );
    };
    let array = &spec.sites[target].flasharray.array_name;
    if facts.array.is_none() {
        return refuse(
            format!(
                "the array of {target} ({array}) did not answer: {}",
                facts.array_error.as_deref().unwrap_or("unknown error")
            ),
            format!("check `flasharray` of {target} with `protector site validate FILE {target}`"),
        );
    }
    let left = &record.left_on_target;
    let basis = Basis {
        state_versions: state.versions(),
        inventory_fingerprint: fingerprint(left),
    };
    let id = operation_id(&fingerprint(&(
        &spec.name,
        "drill_cleanup",
        options,
        &basis,
    )));
    let resources: Vec<(DrillResource, ResourceRef)> = left
        .iter()
        .map(|resource| {
            let reference = match &resource.id {
                Some(id) => ResourceRef::Recorded { id: id.clone() },
                None => ResourceRef::Marker {
                    operation: drill.to_string(),
                    step: resource.step.clone(),
                },
            };
            (resource.clone(), reference)
        })
        .collect();
    let mut steps = Steps::default();
    teardown(&mut steps, target, array, drill, &resources, Vec::new());
    let steps = super::ordered(steps.0, state)?;
    let estimate = super::estimate(&steps, spec, state);
    // The source is where the workload runs now (what a rollback of the cleanup restores).
    let source = newest.map_or(spec.primary.as_str(), |doc| {
        doc.current_primary_site.as_str()
    });
    let group = GroupView {
        status: newest
            .map_or(GroupStatus::Active, |doc| doc.status)
            .as_str()
            .to_string(),
        current_primary_site: source.to_string(),
        members: BTreeMap::new(),
    };
    Ok(Plan {
        format_version: FORMAT_VERSION,
        protection_group: spec.name.clone(),
        spec_file: None,
        spec_sha256: None,
        protector_version: None,
        operation: Operation {
            id,
            kind: OperationKind::DrillCleanup,
            failover_type: None,
            source_site: source.to_string(),
            target_site: target.to_string(),
            supersedes: None,
        },
        options: options.clone(),
        basis,
        steps,
        estimate,
        data_loss: None,
        warnings: Vec::new(),
        before: group.clone(),
        after: group,
    })
}

/// Removes `resources` of drill `drill` from `site` once `after` are done, then proves that
/// nothing tagged with the drill is left.
fn teardown(
    steps: &mut Steps,
    site: &str,
    array: &str,
    drill: &str,
    resources: &[(DrillResource, ResourceRef)],
    after: Vec<String>,
) {
    let removed = super::teardown::remove(
        steps,
        &super::teardown::Removal {
            site,
            array,
            phase: Phase::CleanupDrill,
            protection_group: None,
            id_prefix: "",
        },
        resources,
        after,
    );
    steps.add(
        "prove_clean".to_string(),
        Phase::CleanupDrill,
        site,
        None,
        Action::ProveDrillClean {
            drill: drill.to_string(),
            prefix: prefix(drill),
            array_volumes: removed
                .array_volumes
                .into_iter()
                .map(|(_, reference)| reference)
                .collect(),
        },
        removed.steps,
        Vec::new(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::SiteInventory;
    use crate::plan::plan as make_plan;
    use crate::plan::testing::*;
    use crate::plan::{PlanRequest, diff};

    #[test]
    fn a_drill_rehearses_on_the_target_only_and_cleans_up() {
        let plan = make_plan(
            &example_spec(),
            &drill_inventory(),
            &no_state(),
            &drill_request(false),
        )
        .expect("plans");
        assert_eq!(plan.operation.kind, OperationKind::Drill);
        assert_eq!(plan.operation.target_site, "site-b");
        // The drill networks are addressed unlike production: new addresses, as expected.
        assert_eq!(plan.warnings, Vec::<String>::new());
        let prefix = prefix(&plan.operation.id);
        assert!(
            prefix.starts_with("drill-") && prefix.len() == 15,
            "{prefix}"
        );
        // Nothing on the source, on production resources, or on the protection group.
        for step in &plan.steps {
            assert_eq!(step.site, "site-b", "{}", step.id);
            assert!(
                !matches!(
                    step.action,
                    Action::StopInstance { .. }
                        | Action::SnapshotAndReplicate { .. }
                        | Action::DeleteInstance { .. }
                        | Action::UnmanageVolume { .. }
                        | Action::ConfigureReplication { .. }
                        | Action::CreateProtectionGroup { .. }
                        | Action::AddVolumesToGroup { .. }
                        | Action::SetReplicationSchedule { .. }
                        | Action::AddTarget { .. }
                        | Action::AllowTarget { .. }
                        | Action::Finalize
                ),
                "{} touches production",
                step.id
            );
            if let Some((_, name)) = step.action.creation() {
                assert!(name.starts_with(&prefix), "{name} carries the drill prefix");
            }
            for resource in &step.creates {
                assert!(resource.name.starts_with(&prefix), "{resource:?}");
            }
        }
        // Copies of the newest complete snapshot, on the drill networks only.
        match &plan.step("copy_volume/db-1/1").unwrap().action {
            Action::CopyVolume { source, volume, .. } => {
                assert_eq!(
                    source,
                    &SnapshotSource::Named {
                        snapshot: "fa-a:prod-web-app.7.volume-db-1-1-cinder".to_string()
                    }
                );
                assert_eq!(volume, &format!("{prefix}db-1-1"));
            }
            other => panic!("{other:?}"),
        }
        match &plan.step("manage_volume/web-1/0").unwrap().action {
            Action::ManageVolume { name, .. } => assert_eq!(name, &format!("{prefix}web-1-0")),
            other => panic!("{other:?}"),
        }
        match &plan.step("create_port/web-1/0").unwrap().action {
            Action::CreatePort { network, .. } => assert_eq!(network, "net-drill-web"),
            other => panic!("{other:?}"),
        }
        match &plan.step("boot_instance/db-1").unwrap().action {
            Action::BootInstance { name, flavor, .. } => {
                assert_eq!(name, &format!("{prefix}db-1"));
                assert_eq!(flavor, "m2.large");
            }
            other => panic!("{other:?}"),
        }
        // Boot order as a failover; verification once all are up; the stabilization window
        // after every verification; cleanup after the window.
        assert!(depends(&plan, "boot_instance/web-1", "tier_active/1"));
        assert!(depends(&plan, "verify_instance/db-1", "tier_active/2"));
        for member in ["db-1", "web-1", "web-2"] {
            assert!(depends(
                &plan,
                "stabilize",
                &format!("verify_instance/{member}")
            ));
            assert!(depends(
                &plan,
                &format!("delete_instance/{member}"),
                "stabilize"
            ));
        }
        assert!(depends(
            &plan,
            "delete_port/web-1/0",
            "delete_instance/web-1"
        ));
        assert!(depends(
            &plan,
            "unmanage_volume/db-1/1",
            "delete_instance/db-1"
        ));
        assert!(depends(
            &plan,
            "destroy_volume/db-1/1",
            "unmanage_volume/db-1/1"
        ));
        match &plan.step("destroy_volume/db-1/1").unwrap().action {
            Action::RemoveArrayVolume {
                volume,
                array_volume,
                ..
            } => {
                assert_eq!(volume, &format!("{prefix}db-1-1"));
                assert_eq!(
                    array_volume,
                    &ResourceRef::Step {
                        step: "copy_volume/db-1/1".to_string()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        // The proof is last, after every removal.
        let proof = plan.steps.last().unwrap();
        assert_eq!(proof.id, "prove_clean");
        for step in plan.steps.iter().filter(|s| s.action.removal().is_some()) {
            let direct = proof.depends_on.contains(&step.id);
            let through_a_later_removal = plan
                .steps
                .iter()
                .any(|later| later.depends_on.contains(&step.id));
            assert!(
                direct || through_a_later_removal,
                "{} before the proof",
                step.id
            );
        }
        // The snapshot's age is disclosed; the RTO is the recovery's.
        let loss = plan.data_loss.as_ref().unwrap();
        assert_eq!(loss.snapshot.as_deref(), Some("fa-a:prod-web-app.7"));
        assert_eq!(loss.age_secs, 300.0);
        assert_eq!(plan.before, plan.after, "the group itself does not change");
        assert_eq!(
            diff::summary(&plan),
            "Plan: 1 server group to create on site-b, 3 drill instances to boot on site-b, \
             4 snapshot copies to manage on site-b, 3 instances to verify on site-b, \
             15 drill resources to remove from site-b, \
             a proof that nothing of the drill is left on site-b."
        );
    }

    #[test]
    fn a_kept_drill_stops_after_verification() {
        let plan = make_plan(
            &example_spec(),
            &drill_inventory(),
            &no_state(),
            &drill_request(true),
        )
        .expect("plans");
        assert!(plan.step("verify_instance/web-2").is_some());
        assert!(
            plan.steps
                .iter()
                .all(|step| step.phase != Phase::CleanupDrill),
            "no cleanup step"
        );
        let without = make_plan(
            &example_spec(),
            &drill_inventory(),
            &no_state(),
            &drill_request(false),
        )
        .unwrap();
        assert_ne!(plan.operation.id, without.operation.id);
        // Without cleanup steps the recovery takes as long: the RTO is the recovery's.
        assert_eq!(plan.estimate, without.estimate);
    }

    #[test]
    fn a_drill_needs_an_isolated_drill_network_for_every_nic() {
        // No drill network for `net-primary-db`.
        let mut spec = example_spec();
        spec.drill
            .networks
            .retain(|pair| pair.on("site-a") != Some("net-primary-db"));
        let refusals = make_plan(
            &spec,
            &drill_inventory(),
            &no_state(),
            &drill_request(false),
        )
        .unwrap_err();
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert_eq!(
            refusals[0].message,
            "network `net-primary-db` of `db-1` has no drill network on site-b"
        );
        assert!(
            refusals[0].hint.contains("under drill.networks"),
            "{refusals:?}"
        );
        // A drill network that production maps onto.
        let mut spec = example_spec();
        for pair in &mut spec.drill.networks {
            if pair.on("site-a") == Some("net-primary-web") {
                pair.names
                    .insert("site-b".to_string(), "net-secondary-web".to_string());
            }
        }
        let refusals = make_plan(
            &spec,
            &drill_inventory(),
            &no_state(),
            &drill_request(false),
        )
        .unwrap_err();
        assert_eq!(refusals.len(), 2, "web-1 and web-2: {refusals:?}");
        assert!(
            refusals[0]
                .message
                .starts_with("drill network `net-secondary-web` (for `net-primary-web` of `web-1`) is a production network on site-b"),
            "{refusals:?}"
        );
        // A drill network the target lacks.
        let refusals = make_plan(
            &example_spec(),
            &inventory(),
            &no_state(),
            &drill_request(false),
        )
        .unwrap_err();
        assert!(
            refusals
                .iter()
                .any(|r| r.message == "drill network `net-drill-db` (for `net-primary-db` of `db-1`) does not exist on site-b"),
            "{refusals:?}"
        );
    }

    #[test]
    fn a_drill_discloses_a_snapshot_older_than_the_rpo() {
        let mut inventory = drill_inventory();
        inventory.taken_at_ms += 60 * 60_000;
        let mut request = drill_request(false);
        let refusals = make_plan(&example_spec(), &inventory, &no_state(), &request).unwrap_err();
        assert!(
            refusals[0].message.contains("beyond the RPO of 15m"),
            "{refusals:?}"
        );
        request.options.accept_data_loss = true;
        let plan = make_plan(&example_spec(), &inventory, &no_state(), &request).unwrap();
        assert!(plan.data_loss.unwrap().exceeds_rpo);
    }

    #[test]
    fn a_newer_snapshot_does_not_make_a_drill_plan_stale() {
        let first = make_plan(
            &example_spec(),
            &drill_inventory(),
            &no_state(),
            &drill_request(false),
        )
        .unwrap();
        let mut inventory = drill_inventory();
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
            let array = facts.array.as_mut().unwrap();
            let mut newer = array.replicated_snapshots[0].clone();
            newer.name = "fa-a:prod-web-app.8".to_string();
            newer.created_ms += 60_000;
            array.replicated_snapshots.insert(0, newer);
        }
        let second = make_plan(
            &example_spec(),
            &inventory,
            &no_state(),
            &drill_request(false),
        )
        .unwrap();
        assert_eq!(first.basis, second.basis);
        assert_eq!(first.operation.id, second.operation.id);
    }

    /// The state after drill `plan` ran with `--keep`: what it left, with the ids it recorded.
    fn kept(plan: &Plan) -> RecordedState {
        let mut state = no_state();
        let mut document = crate::state::StateDocument::initial(&example_spec(), "site-b");
        document.metadata_version = 2;
        let left: Vec<DrillResource> = plan
            .steps
            .iter()
            .filter_map(|step| {
                // The web-2 boot failed before it recorded its server.
                let id = (step.id != "boot_instance/web-2").then(|| format!("id-of-{}", step.id));
                step.drill_resource(id)
            })
            .collect();
        document.operations.push(crate::state::OperationRecord {
            id: plan.operation.id.clone(),
            kind: "drill".to_string(),
            status: crate::state::OperationStatus::Completed,
            progress: 100,
            steps_completed: Vec::new(),
            steps_failed: Vec::new(),
            error_message: None,
            started_at: None,
            completed_at: None,
            source_site: "site-a".to_string(),
            target_site: "site-b".to_string(),
            left_on_target: left,
            proof: None,
            rollback: None,
            rolls_back: None,
            superseded_by: None,
        });
        state.sites.insert("site-b".to_string(), Some(document));
        state
    }

    fn cleanup_request(drill: &str) -> PlanRequest {
        PlanRequest {
            operation: OperationKind::DrillCleanup,
            options: PlanOptions {
                drill: Some(drill.to_string()),
                ..PlanOptions::default()
            },
        }
    }

    #[test]
    fn a_drill_cleanup_removes_what_the_record_says_was_left() {
        let drill_plan = make_plan(
            &example_spec(),
            &drill_inventory(),
            &no_state(),
            &drill_request(true),
        )
        .unwrap();
        let drill_id = &drill_plan.operation.id;
        let plan = make_plan(
            &example_spec(),
            &drill_inventory(),
            &kept(&drill_plan),
            &cleanup_request(drill_id),
        )
        .expect("plans");
        assert_eq!(plan.operation.kind, OperationKind::DrillCleanup);
        assert!(plan.steps.iter().all(|step| step.site == "site-b"));
        match &plan.step("delete_instance/web-1").unwrap().action {
            Action::RemoveInstance { server, name } => {
                assert_eq!(name, &format!("{}web-1", prefix(drill_id)));
                assert_eq!(
                    server,
                    &ResourceRef::Recorded {
                        id: "id-of-boot_instance/web-1".to_string()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        // What a failed step may have made is found by its marker.
        match &plan.step("delete_instance/web-2").unwrap().action {
            Action::RemoveInstance { server, .. } => assert_eq!(
                server,
                &ResourceRef::Marker {
                    operation: drill_id.clone(),
                    step: "boot_instance/web-2".to_string()
                }
            ),
            other => panic!("{other:?}"),
        }
        assert!(depends(
            &plan,
            "destroy_volume/db-1/0",
            "unmanage_volume/db-1/0"
        ));
        match &plan.steps.last().unwrap().action {
            Action::ProveDrillClean {
                drill,
                array_volumes,
                ..
            } => {
                assert_eq!(drill, drill_id);
                assert_eq!(array_volumes.len(), 4);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_drill_cleanup_is_refused_for_what_is_not_a_finished_drill() {
        let drill_plan = make_plan(
            &example_spec(),
            &drill_inventory(),
            &no_state(),
            &drill_request(true),
        )
        .unwrap();
        let refusals = make_plan(
            &example_spec(),
            &drill_inventory(),
            &no_state(),
            &cleanup_request("op-nothing"),
        )
        .unwrap_err();
        assert!(
            refusals[0]
                .message
                .starts_with("no operation op-nothing is recorded"),
            "{refusals:?}"
        );
        let mut state = kept(&drill_plan);
        let record = &mut state
            .sites
            .get_mut("site-b")
            .unwrap()
            .as_mut()
            .unwrap()
            .operations[0];
        record.status = crate::state::OperationStatus::Running;
        let refusals = make_plan(
            &example_spec(),
            &drill_inventory(),
            &state,
            &cleanup_request(&drill_plan.operation.id),
        )
        .unwrap_err();
        assert!(
            refusals[0].message.ends_with("is still running"),
            "{refusals:?}"
        );
        assert!(refusals[0].hint.contains("--resume"));
    }
}
