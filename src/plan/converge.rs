//! Converge plans: make the protection itself match the spec (DESIGN §3), the Terraform-like
//! drift plan CI runs on every change request.
//!
//! On the array of the site currently running the workload, the protection group must exist,
//! hold every member volume, replicate to the peer array (allowed there) at least as often as the
//! RPO requires; and both sites' state must record every member. Each difference is a step;
//! no difference, no step. Volumes in the group that belong to no member are reported, never
//! removed: dropping a volume from replication is a decision for a person. Volumes protector
//! itself retired are destroyed once the spec's `policy.retired_volumes` retention has passed,
//! and only then.

use std::collections::BTreeSet;

use super::{
    Action, Basis, FORMAT_VERSION, GroupView, Operation, OperationKind, Phase, Plan, PlanOptions,
    Refusal, Resource, Step, fingerprint, operation_id,
};
use crate::inventory::Inventory;
use crate::spec::Spec;
use crate::state::{RecordedState, RetiredVolume};

pub(super) fn plan(
    spec: &Spec,
    inventory: &Inventory,
    state: &RecordedState,
    options: &PlanOptions,
) -> Result<Plan, Vec<Refusal>> {
    let newest = state.newest();
    let site = newest.map_or(spec.primary.as_str(), |doc| {
        doc.current_primary_site.as_str()
    });
    let peer = spec.peer_of(site);
    let group = &spec.policy.array_protection_group;
    let array = &spec.sites[site].flasharray.array_name;
    let peer_array = &spec.sites[peer].flasharray.array_name;
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();

    let Some(facts) = inventory.sites.get(site).and_then(|s| s.facts()) else {
        return Err(vec![Refusal {
            // The cause (a refused certificate, a wrong password) is what to fix next.
            message: format!(
                "{site}, where the workload runs, is unreachable: {}",
                super::recreate::unreachable(inventory, site)
            ),
            hint: format!(
                "converge needs {site}; check it with `protector site validate FILE {site}`"
            ),
        }]);
    };
    let Some(array_facts) = facts.array.as_ref() else {
        return Err(vec![Refusal {
            message: format!(
                "the array of {site} ({array}) did not answer: {}",
                facts.array_error.as_deref().unwrap_or("unknown error")
            ),
            hint: format!(
                "check `flasharray` of {site} with `protector site validate FILE {site}`"
            ),
        }]);
    };

    // The member volumes that must be protected.
    let mut wanted: Vec<String> = Vec::new();
    for member in &spec.members {
        match facts.instances.get(&member.instance) {
            None => refusals.push(Refusal {
                message: format!("member `{}` has no instance on {site}", member.instance),
                hint: format!("create it, or fix its `instance:` in the spec (`openstack --os-cloud {} server list`)", spec.sites[site].cloud),
            }),
            Some(instance) => {
                for volume in &instance.volumes {
                    match &volume.array_volume_name {
                        Some(name) => wanted.push(name.clone()),
                        None => refusals.push(Refusal {
                            message: format!("volume `{}` of `{}` does not say which array volume holds it", volume.name, member.instance),
                            hint: "protector needs the Pure driver's `array_volume_name` volume metadata; check the volume's backend".to_string(),
                        }),
                    }
                }
            }
        }
    }
    super::check_sync(state, options, &mut refusals, &mut warnings);
    if !refusals.is_empty() {
        return Err(refusals);
    }

    let existing = array_facts
        .protection_groups
        .iter()
        .find(|pg| &pg.name == group && &pg.source == array);
    let mut steps: Vec<Step> = Vec::new();
    let mut add = |id: String,
                   site: &str,
                   action: Action,
                   depends_on: Vec<String>,
                   creates: Vec<Resource>| {
        steps.push(Step {
            id: id.clone(),
            phase: Phase::Prepare,
            site: site.to_string(),
            member: None,
            action,
            depends_on,
            creates,
            estimate_secs: 1.0,
        });
        id
    };
    let rpo_ms = spec.policy.rpo.as_millis() as u64;
    let mut after_group = Vec::new();
    match existing {
        None => {
            after_group.push(add(
                format!("create_protection_group/{group}"),
                site,
                Action::CreateProtectionGroup {
                    array: array.clone(),
                    protection_group: group.clone(),
                },
                Vec::new(),
                vec![Resource {
                    kind: "protection_group".to_string(),
                    name: format!("{array}/{group}"),
                }],
            ));
        }
        Some(pg) => {
            let wanted: BTreeSet<&String> = wanted.iter().collect();
            let (unmanaged, extra): (Vec<&String>, Vec<&String>) = pg
                .volumes
                .iter()
                .filter(|v| !wanted.contains(v))
                .partition(|v| v.ends_with(crate::clients::cinder::UNMANAGED_SUFFIX));
            if !extra.is_empty() {
                warnings.push(format!(
                    "protection group `{group}` on {array} also protects {} volume(s) of no member ({}); protector leaves them",
                    extra.len(),
                    extra.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            // Left by unmanages of earlier versions: they replicate for nothing.
            if !unmanaged.is_empty() {
                add(
                    format!("retire_volumes/{group}"),
                    site,
                    Action::RetireVolumes {
                        array: array.clone(),
                        protection_group: group.clone(),
                        volumes: unmanaged.into_iter().cloned().collect(),
                        disable_replication: false,
                    },
                    Vec::new(),
                    Vec::new(),
                );
            }
        }
    }
    // The peer's own group of the same name replicated the other direction before a failover
    // or failback left it: it stops, and what was unmanaged leaves it.
    let peer_group = inventory
        .sites
        .get(peer)
        .and_then(|s| s.facts())
        .and_then(|facts| facts.array.as_ref())
        .and_then(|facts| {
            facts
                .protection_groups
                .iter()
                .find(|pg| &pg.name == group && &pg.source == peer_array)
        });
    if let Some(pg) = peer_group {
        let unmanaged: Vec<String> = pg
            .volumes
            .iter()
            .filter(|v| v.ends_with(crate::clients::cinder::UNMANAGED_SUFFIX))
            .cloned()
            .collect();
        if pg.replication_enabled || !unmanaged.is_empty() {
            add(
                format!("retire_volumes/{peer_array}/{group}"),
                peer,
                Action::RetireVolumes {
                    array: peer_array.clone(),
                    protection_group: group.clone(),
                    volumes: unmanaged,
                    disable_replication: pg.replication_enabled,
                },
                Vec::new(),
                Vec::new(),
            );
        }
    }
    // Retired volumes whose retention has passed are destroyed (`policy.retired_volumes`);
    // without that policy they are kept, and the plan says how many wait on each array.
    let retired = newest.map_or(&[][..], |doc| doc.retired_volumes.as_slice());
    let mut retention = Vec::new();
    for (owner, owner_array) in [(site, array), (peer, peer_array)] {
        let Some(on_array) = inventory
            .sites
            .get(owner)
            .and_then(|s| s.facts())
            .and_then(|facts| facts.array.as_ref())
        else {
            continue;
        };
        let present: BTreeSet<&String> = on_array.volumes.iter().collect();
        let here: Vec<&RetiredVolume> = retired
            .iter()
            .filter(|v| &v.array == owner_array && present.contains(&v.name))
            .collect();
        let Some(oldest) = here.iter().map(|v| v.retired_at).min() else {
            continue;
        };
        let Some(policy) = spec.policy.retired_volumes else {
            warnings.push(format!(
                "{} retired volume(s) are kept on {owner_array}, out of replication, the oldest retired {} (data of earlier placements); set `policy.retired_volumes.destroy_after` to have converge destroy them",
                here.len(),
                oldest.format("%Y-%m-%d %H:%M UTC")
            ));
            continue;
        };
        let keep_ms = i64::try_from(policy.destroy_after.as_millis()).unwrap_or(i64::MAX);
        let due: Vec<String> = here
            .iter()
            .filter(|v| {
                v.retired_at.timestamp_millis().saturating_add(keep_ms) <= inventory.taken_at_ms
            })
            .map(|v| v.name.clone())
            .collect();
        if due.is_empty() {
            continue;
        }
        retention.push((owner_array.clone(), due.clone()));
        add(
            format!("destroy_retired_volumes/{owner_array}"),
            owner,
            Action::DestroyRetiredVolumes {
                array: owner_array.clone(),
                volumes: due,
                eradicate: policy.eradicate,
            },
            Vec::new(),
            Vec::new(),
        );
    }
    let present: BTreeSet<&String> = existing
        .map(|pg| pg.volumes.iter().collect())
        .unwrap_or_default();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|v| !present.contains(v))
        .cloned()
        .collect();
    if !missing.is_empty() {
        add(
            format!("add_volumes/{group}"),
            site,
            Action::AddVolumesToGroup {
                array: array.clone(),
                protection_group: group.clone(),
                volumes: missing,
            },
            after_group.clone(),
            Vec::new(),
        );
    }
    let schedule_ok =
        existing.is_some_and(|pg| pg.replication_enabled && pg.replication_frequency_ms <= rpo_ms);
    if !schedule_ok {
        add(
            format!("set_schedule/{group}"),
            site,
            Action::SetReplicationSchedule {
                array: array.clone(),
                protection_group: group.clone(),
                frequency_ms: rpo_ms,
            },
            after_group.clone(),
            Vec::new(),
        );
    }
    let target = existing.and_then(|pg| pg.targets.iter().find(|(name, _)| name == peer_array));
    if target.is_none() {
        add(
            format!("add_target/{group}"),
            site,
            Action::AddTarget {
                array: array.clone(),
                protection_group: group.clone(),
                target_array: peer_array.clone(),
            },
            after_group.clone(),
            Vec::new(),
        );
    }
    if !target.is_some_and(|(_, allowed)| *allowed) {
        let depends = if target.is_none() {
            vec![format!("add_target/{group}")]
        } else {
            Vec::new()
        };
        add(
            format!("allow_target/{group}"),
            peer,
            Action::AllowTarget {
                array: peer_array.clone(),
                protection_group: format!("{array}:{group}"),
            },
            depends,
            Vec::new(),
        );
    }
    let recorded_everywhere = spec.sites.keys().all(|name| {
        state
            .sites
            .get(name)
            .and_then(|doc| doc.as_ref())
            .is_some_and(|doc| {
                spec.members.iter().all(|member| {
                    doc.members.get(&member.instance).is_some_and(|record| {
                        facts
                            .instances
                            .get(&member.instance)
                            .is_some_and(|instance| record.last_known.as_ref() == Some(instance))
                    })
                })
            })
    });
    if !steps.is_empty() || !recorded_everywhere {
        let all: Vec<String> = steps.iter().map(|s| s.id.clone()).collect();
        steps.push(Step {
            id: "record_members".to_string(),
            phase: Phase::Finalize,
            site: site.to_string(),
            member: None,
            action: Action::Finalize,
            depends_on: all,
            creates: Vec::new(),
            estimate_secs: 1.0,
        });
    }
    let steps = super::ordered(steps, state)?;

    let relied = (&facts.instances, &array_facts.protection_groups);
    // What retention destroys is relied on too; without any, ids stay what they were.
    let relied = if retention.is_empty() {
        fingerprint(&relied)
    } else {
        fingerprint(&(relied, &retention))
    };
    let basis = Basis {
        state_versions: state.versions(),
        inventory_fingerprint: relied,
    };
    let id = operation_id(&fingerprint(&(&spec.name, "converge", options, &basis)));
    let estimate = super::estimate(&steps, spec, state);
    let status = newest
        .map_or("active", |doc| doc.status.as_str())
        .to_string();
    let view = GroupView {
        status,
        current_primary_site: site.to_string(),
        members: spec
            .members
            .iter()
            .filter_map(|member| {
                let instance = facts.instances.get(&member.instance)?;
                Some((
                    member.instance.clone(),
                    super::recreate::view(site, instance, None, None),
                ))
            })
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
            kind: OperationKind::Converge,
            failover_type: None,
            source_site: site.to_string(),
            target_site: peer.to_string(),
            supersedes: None,
        },
        options: options.clone(),
        basis,
        steps,
        estimate,
        data_loss: None,
        warnings,
        before: view.clone(),
        after: view,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::SiteInventory;
    use crate::plan::plan as make_plan;
    use crate::plan::testing::*;

    #[test]
    fn converge_waits_for_a_site_that_missed_an_operation_unless_forced() {
        let inventory = inventory();
        let mut state = recorded(&inventory);
        // Site-b recorded an operation site-a could not see (site-a was down).
        if let Some(Some(doc)) = state.sites.get_mut("site-b") {
            doc.metadata_version += 1;
            doc.sync.insert(
                "site-a".to_string(),
                crate::state::PeerSync {
                    status: crate::state::SyncStatus::Unreachable,
                    peer_version: Some(1),
                    checked_at: None,
                },
            );
        }
        let refusals =
            make_plan(&example_spec(), &inventory, &state, &converge_request()).unwrap_err();
        assert_eq!(
            refusals[0].message,
            "the sites' recorded state is UNREACHABLE"
        );
        assert!(refusals[0].hint.contains("sync-force"));
        let mut forced = converge_request();
        forced.options.force = true;
        let plan = make_plan(&example_spec(), &inventory, &state, &forced).unwrap();
        assert!(
            plan.warnings.iter().any(|w| w.contains("--force")),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn retired_volumes_are_destroyed_once_their_retention_passed_and_only_by_policy() {
        use chrono::TimeZone;
        let mut inventory = inventory();
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-a").unwrap() {
            let array = facts.array.as_mut().unwrap();
            array.volumes.push("old-cinder-unmanaged".to_string());
            array.volumes.push("new-cinder-unmanaged".to_string());
        }
        let mut state = recorded(&inventory);
        let hours_ago = |hours: i64| {
            chrono::Utc
                .timestamp_millis_opt(NOW_MS - hours * 3_600_000)
                .unwrap()
        };
        for doc in state.sites.values_mut().flatten() {
            for (name, retired_at) in [
                ("old-cinder-unmanaged", hours_ago(49)),
                ("new-cinder-unmanaged", hours_ago(1)),
                // Managed again, or removed by hand: no longer on the array.
                ("gone-cinder-unmanaged", hours_ago(100)),
            ] {
                doc.retired_volumes.push(RetiredVolume {
                    array: "fa-a".to_string(),
                    name: name.to_string(),
                    retired_at,
                    operation: "op-1".to_string(),
                });
            }
        }
        // No policy: kept, and said so.
        let plan = make_plan(&example_spec(), &inventory, &state, &converge_request()).unwrap();
        assert!(plan.steps.is_empty(), "{:#?}", plan.steps);
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.starts_with("2 retired volume(s) are kept on fa-a")),
            "{:?}",
            plan.warnings
        );
        // Kept two days: only the one retired 49 hours ago goes, recoverably.
        let mut spec = example_spec();
        spec.policy.retired_volumes = Some(crate::spec::RetiredVolumes {
            destroy_after: std::time::Duration::from_secs(48 * 3600),
            eradicate: false,
        });
        let plan = make_plan(&spec, &inventory, &state, &converge_request()).unwrap();
        let destroy = plan
            .steps
            .iter()
            .find(|s| s.id == "destroy_retired_volumes/fa-a")
            .expect("a destroy step");
        assert_eq!(destroy.site, "site-a");
        assert_eq!(
            destroy.action,
            Action::DestroyRetiredVolumes {
                array: "fa-a".to_string(),
                volumes: vec!["old-cinder-unmanaged".to_string()],
                eradicate: false,
            }
        );
        assert!(plan.has_changes());
        // Two days later, both; the plan differs, and so does its id.
        inventory.taken_at_ms += 48 * 3_600_000;
        let later = make_plan(&spec, &inventory, &state, &converge_request()).unwrap();
        let Action::DestroyRetiredVolumes { volumes, .. } = &later.steps[0].action else {
            panic!("{:#?}", later.steps);
        };
        assert_eq!(volumes.len(), 2);
        assert_ne!(later.operation.id, plan.operation.id);
    }

    #[test]
    fn a_converged_group_has_no_changes() {
        let inventory = inventory();
        let plan = make_plan(
            &example_spec(),
            &inventory,
            &recorded(&inventory),
            &converge_request(),
        )
        .unwrap();
        assert!(plan.steps.is_empty(), "{:#?}", plan.steps);
        assert!(!plan.has_changes());
    }

    #[test]
    fn a_never_recorded_group_records_its_members() {
        let plan = make_plan(
            &example_spec(),
            &inventory(),
            &no_state(),
            &converge_request(),
        )
        .unwrap();
        let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["record_members"]);
        assert_eq!(
            crate::plan::diff::summary(&plan),
            "Plan: the members to record in both sites' state."
        );
    }

    #[test]
    fn a_member_whose_volumes_are_not_protected_is_drift() {
        let mut inventory = inventory();
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-a").unwrap() {
            let array = facts.array.as_mut().unwrap();
            array.protection_groups[0]
                .volumes
                .retain(|v| !v.contains("web-2"));
            array.protection_groups[0].replication_frequency_ms = 3_600_000;
            array.protection_groups[0].targets[0].1 = false;
        }
        let state = recorded(&inventory);
        let plan = make_plan(&example_spec(), &inventory, &state, &converge_request()).unwrap();
        let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                "add_volumes/prod-web-app",
                "allow_target/prod-web-app",
                "set_schedule/prod-web-app",
                "record_members"
            ]
        );
        match &plan.step("add_volumes/prod-web-app").unwrap().action {
            Action::AddVolumesToGroup { volumes, .. } => {
                assert_eq!(volumes, &vec!["volume-web-2-0-cinder".to_string()]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            plan.step("allow_target/prod-web-app").unwrap().site,
            "site-b"
        );
    }

    #[test]
    fn a_missing_group_is_created_then_filled() {
        let mut inventory = inventory();
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-a").unwrap() {
            facts.array.as_mut().unwrap().protection_groups.clear();
        }
        let plan = make_plan(
            &example_spec(),
            &inventory,
            &no_state(),
            &converge_request(),
        )
        .unwrap();
        assert!(
            plan.step("add_volumes/prod-web-app")
                .unwrap()
                .depends_on
                .contains(&"create_protection_group/prod-web-app".to_string())
        );
        assert!(
            plan.step("allow_target/prod-web-app")
                .unwrap()
                .depends_on
                .contains(&"add_target/prod-web-app".to_string())
        );
    }
}
