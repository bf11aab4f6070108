//! Failover plans, planned and unplanned (DESIGN §3).
//!
//! Planned: stop the source instances, snapshot and replicate now, copy each replicated volume
//! snapshot to a new array volume on the target, manage it into Cinder, boot each instance with
//! mapped flavor and networks (fixed IPs kept where the target subnet allows) in boot order,
//! then remove the stopped instances and unmanage their volumes on the source (array data kept),
//! and set up replication back to the old primary. Unplanned: no source step; the newest fully
//! transferred snapshot is recovered and its age disclosed against the RPO.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Action, Basis, DataLoss, FORMAT_VERSION, FailoverType, GroupView, MemberView, Operation,
    OperationKind, Phase, Plan, PlanOptions, Refusal, Resource, SnapshotSource, Step, fingerprint,
    operation_id,
};
use crate::inventory::{Instance, Inventory, ReplicatedSnapshot};
use crate::spec::{self, Spec};
use crate::state::{GroupStatus, RecordedState};

/// Default duration of each kind of step, in seconds, before drills have measured real ones.
fn estimate(action: &Action) -> f64 {
    match action {
        Action::CheckTarget => 2.0,
        Action::StopInstance { .. } => 10.0,
        Action::SnapshotAndReplicate { .. } => 30.0,
        Action::CopyVolume { .. } => 1.0,
        Action::ManageVolume { .. } => 5.0,
        Action::CreatePort { .. } => 1.0,
        Action::BootInstance { .. } => 30.0,
        Action::DeleteInstance { .. } => 5.0,
        Action::UnmanageVolume { .. } => 2.0,
        Action::ConfigureReplication { .. } => 3.0,
        Action::Finalize => 1.0,
        Action::TierActive { .. } => 0.0,
        Action::CreateProtectionGroup { .. }
        | Action::AddVolumesToGroup { .. }
        | Action::SetReplicationSchedule { .. }
        | Action::AddTarget { .. }
        | Action::AllowTarget { .. } => 1.0,
    }
}

const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// A member as the plan sees it: its instance on the source (discovered, or last recorded).
struct MemberSource<'a> {
    name: &'a str,
    boot_order: u32,
    depends_on: &'a [String],
    instance: &'a Instance,
    /// Failback: the instance as it was on the target before the failover, whose flavor,
    /// networks and fixed IPs it gets back.
    previous: Option<&'a Instance>,
}

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
    match status {
        GroupStatus::Active if failback => refuse(
            &mut refusals,
            format!("protection group `{}` runs on its primary {source}: there is nothing to fail back", spec.name),
            "a failback follows a failover: `protector plan FILE --operation failover`".to_string(),
        ),
        GroupStatus::FailedOver if failback => {}
        GroupStatus::Active => {}
        GroupStatus::FailedOver => refuse(
            &mut refusals,
            format!("protection group `{}` has already failed over to {source}", spec.name),
            "to bring it back, plan a failback: `protector plan FILE --operation failback`".to_string(),
        ),
        GroupStatus::Error if options.force => warnings
            .push("the group's status is `error`; planning anyway because of --force".to_string()),
        other => refuse(
            &mut refusals,
            format!("protection group `{}` is `{}`", spec.name, other.as_str()),
            "finish or roll back the running operation first (`protector operation list`), or pass --force".to_string(),
        ),
    }

    let source_facts = inventory.sites.get(source).and_then(|site| site.facts());
    let target_facts = inventory.sites.get(target).and_then(|site| site.facts());
    let Some(target_facts) = target_facts else {
        let error = match inventory.sites.get(target) {
            Some(crate::inventory::SiteInventory::Unreachable { error }) => error.clone(),
            _ => "not discovered".to_string(),
        };
        refuse(
            &mut refusals,
            format!("target site {target} is unreachable: {error}"),
            format!(
                "a failover needs its target: check {target}'s endpoints and credentials with `protector site validate FILE {target}`"
            ),
        );
        return Err(refusals);
    };
    match failover_type {
        FailoverType::Planned if source_facts.is_none() => {
            let error = match inventory.sites.get(source) {
                Some(crate::inventory::SiteInventory::Unreachable { error }) => error.clone(),
                _ => "not discovered".to_string(),
            };
            refuse(
                &mut refusals,
                format!("remote site unreachable: {source} ({error})"),
                format!(
                    "if {source} is down, plan an unplanned failover from {target}: `protector plan FILE --operation failover --type unplanned`"
                ),
            );
        }
        FailoverType::Unplanned if source_facts.is_some() => warnings.push(format!(
            "{source} is reachable: a planned failover (`--type planned`) would lose no data"
        )),
        _ => {}
    }
    if failover_type == FailoverType::Planned {
        super::check_sync(state, options, &mut refusals, &mut warnings);
    }

    // The members' instances: discovered on the source, else as last recorded.
    let mut members = Vec::new();
    for member in &spec.members {
        let discovered = source_facts.and_then(|facts| facts.instances.get(&member.instance));
        let record = newest.and_then(|doc| doc.members.get(&member.instance));
        let recorded = record.and_then(|record| record.last_known.as_ref());
        match discovered.or(recorded) {
            Some(instance) => members.push(MemberSource {
                name: &member.instance,
                boot_order: member.boot_order,
                depends_on: &member.depends_on,
                instance,
                previous: record
                    .filter(|_| failback)
                    .and_then(|record| record.previous.as_ref()),
            }),
            None if source_facts.is_some() => refuse(
                &mut refusals,
                format!("member `{}` has no instance on {source}", member.instance),
                format!("check the member's `instance:` name in the spec against `openstack --os-cloud {} server list`", spec.sites[source].cloud),
            ),
            None => refuse(
                &mut refusals,
                format!("member `{}`: {source} is unreachable and no inventory of it was recorded", member.instance),
                "protector keeps the last inventory of each member in the state when an operation is applied; this group has no record of it, so it cannot be rebuilt without its site".to_string(),
            ),
        }
    }

    // Mappings and target capacity.
    // A command-line mapping wins; then, for a failback, what the member had before the
    // failover; then the spec's symmetric pairs.
    let member_flavor = |member: &MemberSource| {
        let flavor = member.instance.flavor.as_str();
        override_for(&options.flavor_mappings, flavor)
            .map(str::to_string)
            .or_else(|| member.previous.map(|previous| previous.flavor.clone()))
            .or_else(|| {
                spec::translate(&spec.mappings.flavors, source, target, flavor).map(str::to_string)
            })
    };
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
        let flavor = &member.instance.flavor;
        match member_flavor(member) {
            None => refuse(
                &mut refusals,
                format!(
                    "flavor `{flavor}` of `{}` has no mapping to {target}",
                    member.name
                ),
                format!(
                    "add `{{ {source}: {flavor}, {target}: <flavor on {target}> }}` under mappings.flavors, or pass `--flavor-mapping {flavor}=<flavor on {target}>`"
                ),
            ),
            Some(mapped) if target_facts.flavor_named(&mapped).is_none() => refuse(
                &mut refusals,
                format!(
                    "flavor `{mapped}` (mapped from `{flavor}` for `{}`) does not exist on {target}",
                    member.name
                ),
                format!(
                    "create it on {target}, or map `{flavor}` to an existing flavor with `--flavor-mapping {flavor}=<flavor>`"
                ),
            ),
            Some(_) => {}
        }
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
    for (network, needed) in &ports_per_network {
        let free: u64 = target_facts
            .network_named(network)
            .map(|n| n.subnets.iter().map(|s| s.free_ips).sum())
            .unwrap_or(0);
        if free < *needed {
            refuse(
                &mut refusals,
                format!(
                    "network `{network}` on {target} has {free} free addresses; the members need {needed}"
                ),
                format!("free addresses on `{network}` or enlarge its allocation pool"),
            );
        }
    }
    let volume_count: u64 = members
        .iter()
        .map(|m| m.instance.volumes.len() as u64)
        .sum();
    if let Some(left) = target_facts.volume_quota_left
        && left < volume_count
    {
        refuse(
            &mut refusals,
            format!(
                "volume quota on {target} allows {left} more volumes; the members need {volume_count}"
            ),
            format!(
                "raise the project's volume quota on {target} (`openstack quota set --volumes N`)"
            ),
        );
    }
    if let Some(error) = &target_facts.volume_quota_error {
        // Not a refusal: clouds may hide quotas from the project, and Cinder still checks the
        // quota itself when the volumes are managed.
        warnings.push(format!(
            "the volume quota on {target} could not be read, so the {volume_count} volumes to manage there are not checked against it: {error}"
        ));
    }
    if !target_facts.roles.iter().any(|role| role == "admin") {
        refuse(
            &mut refusals,
            format!(
                "Cinder on {target} will refuse to manage volumes: protector's roles there ({}) are not allowed by the default `volume_extension:volume_manage` policy",
                target_facts.roles.join(", ")
            ),
            format!(
                "give protector's user the admin role on its project on {target}, or allow its role in Cinder's policy; check with `protector site validate FILE {target}`"
            ),
        );
    }

    // The array side.
    let source_array = &spec.sites[source].flasharray.array_name;
    let target_array = &spec.sites[target].flasharray.array_name;
    let group = &spec.policy.array_protection_group;
    let replicated_group = format!("{source_array}:{group}");
    let member_array_volumes: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.instance.volumes.iter())
        .filter_map(|v| v.array_volume_name.as_deref())
        .collect();
    for member in &members {
        for volume in &member.instance.volumes {
            if volume.array_volume_name.is_none() {
                refuse(
                    &mut refusals,
                    format!("volume `{}` of `{}` does not say which array volume holds it", volume.name, member.name),
                    "protector needs the Pure driver's `array_volume_name` volume metadata; check the volume's backend".to_string(),
                );
            }
        }
    }
    let target_array_facts = target_facts.array.as_ref();
    if target_array_facts.is_none() {
        refuse(
            &mut refusals,
            format!(
                "the array of {target} ({target_array}) did not answer: {}",
                target_facts
                    .array_error
                    .as_deref()
                    .unwrap_or("unknown error")
            ),
            format!(
                "check `flasharray.url` and `api_token` of {target} with `protector site validate FILE {target}`"
            ),
        );
    }
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
        FailoverType::Unplanned => {
            let newest_complete = target_array_facts.and_then(|array| {
                array
                    .replicated_snapshots
                    .iter()
                    .filter(|snapshot| snapshot.name.starts_with(&format!("{replicated_group}.")))
                    .filter(|snapshot| snapshot.is_complete())
                    .max_by_key(|snapshot| snapshot.created_ms)
            });
            match newest_complete {
                None => {
                    refuse(
                        &mut refusals,
                        format!(
                            "no completely transferred snapshot of `{replicated_group}` on {target_array}"
                        ),
                        "nothing can be recovered without one; check replication on the arrays"
                            .to_string(),
                    );
                    None
                }
                Some(snapshot) => {
                    for volume in &member_array_volumes {
                        if !snapshot.volumes.contains_key(*volume) {
                            refuse(
                                &mut refusals,
                                format!("snapshot `{}` has no copy of array volume `{volume}`", snapshot.name),
                                "the volume joined the protection group after this snapshot; wait for the next replication".to_string(),
                            );
                        }
                    }
                    Some(snapshot)
                }
            }
        }
    };
    let data_loss = match recovery_snapshot {
        Some(snapshot) => {
            let age_secs = ((inventory.taken_at_ms - snapshot.created_ms).max(0)) as f64 / 1000.0;
            let rpo_secs = spec.policy.rpo.as_secs_f64();
            let exceeds_rpo = age_secs > rpo_secs;
            if exceeds_rpo {
                let message = format!(
                    "snapshot `{}` is {} old, beyond the RPO of {}",
                    snapshot.name,
                    spec::duration::format(std::time::Duration::from_secs_f64(age_secs)),
                    spec::duration::format(spec.policy.rpo)
                );
                if options.accept_data_loss {
                    warnings.push(format!("{message}; accepted with --accept-data-loss"));
                } else {
                    refuse(
                        &mut refusals,
                        message,
                        "recovering it loses more data than the policy allows; pass --accept-data-loss to proceed".to_string(),
                    );
                }
            }
            Some(DataLoss {
                snapshot: Some(snapshot.name.clone()),
                age_secs,
                rpo_secs,
                exceeds_rpo,
            })
        }
        None => Some(DataLoss {
            snapshot: None,
            age_secs: 0.0,
            rpo_secs: spec.policy.rpo.as_secs_f64(),
            exceeds_rpo: false,
        }),
    };
    if !refusals.is_empty() {
        return Err(refusals);
    }

    // The basis and the operation id.
    let relied = (
        members
            .iter()
            .map(|m| (m.name, m.instance))
            .collect::<BTreeMap<_, _>>(),
        &target_facts.networks,
        &target_facts.flavors,
        recovery_snapshot.map(|s| &s.name),
    );
    let basis = Basis {
        state_versions: state.versions(),
        inventory_fingerprint: fingerprint(&relied),
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
    };

    // The steps.
    let mut steps = Vec::new();
    let mut add = |id: String,
                   phase: Phase,
                   site: &str,
                   member: Option<&str>,
                   action: Action,
                   depends_on: Vec<String>,
                   creates: Vec<Resource>| {
        let estimate_secs = estimate(&action);
        steps.push(Step {
            id: id.clone(),
            phase,
            site: site.to_string(),
            member: member.map(str::to_string),
            action,
            depends_on,
            creates,
            estimate_secs,
        });
        id
    };
    let check = add(
        "check_target".to_string(),
        Phase::ValidateTarget,
        target,
        None,
        Action::CheckTarget,
        Vec::new(),
        Vec::new(),
    );
    let short = &id[3..11];
    let snapshot_source: Box<dyn Fn(&str) -> SnapshotSource> =
        match (failover_type, recovery_snapshot) {
            (FailoverType::Planned, _) => {
                let stops: Vec<String> = members
                    .iter()
                    .map(|member| {
                        add(
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
                let snapshot = add(
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

    // Promote, manage, ports and boots per member.
    let mut manage_steps_all = Vec::new();
    let tiers: BTreeSet<u32> = members.iter().map(|m| m.boot_order).collect();
    let mut sorted_members: Vec<&MemberSource> = members.iter().collect();
    sorted_members.sort_by_key(|m| m.boot_order);
    for member in &sorted_members {
        let mut volume_steps = Vec::new();
        for (index, volume) in member.instance.volumes.iter().enumerate() {
            let array_volume = volume.array_volume_name.clone().unwrap_or_default();
            let new_volume = array_name(&format!("{}-{index}-{short}", member.name));
            let copy = add(
                format!("copy_volume/{}/{index}", member.name),
                Phase::PromoteVolumes,
                target,
                Some(member.name),
                Action::CopyVolume {
                    array: target_array.clone(),
                    source: snapshot_source(&array_volume),
                    volume: new_volume.clone(),
                },
                vec![match failover_type {
                    FailoverType::Planned => format!("snapshot/{group}"),
                    FailoverType::Unplanned => check.clone(),
                }],
                vec![Resource {
                    kind: "array_volume".to_string(),
                    name: new_volume.clone(),
                }],
            );
            let manage = add(
                format!("manage_volume/{}/{index}", member.name),
                Phase::ManageVolumes,
                target,
                Some(member.name),
                Action::ManageVolume {
                    cinder_host: spec.sites[target].flasharray.cinder_host.clone(),
                    array_volume: new_volume,
                    name: volume.name.clone(),
                    volume_type: volume.volume_type.clone(),
                    bootable: index == 0 || volume.bootable,
                },
                vec![copy],
                vec![Resource {
                    kind: "cinder_volume".to_string(),
                    name: volume.name.clone(),
                }],
            );
            manage_steps_all.push(manage.clone());
            volume_steps.push(manage);
        }
        let mut port_steps = Vec::new();
        for (index, port) in member.instance.ports.iter().enumerate() {
            let network = member_network(member, index).unwrap_or_default();
            let subnet_ok = |ip: &str| {
                target_facts.network_named(&network).is_some_and(|n| {
                    n.subnets.iter().any(|s| {
                        crate::ipv4::contains(&s.cidr, ip)
                            && !s.used_ips.iter().any(|used| used == ip)
                    })
                })
            };
            let fixed_ip = member
                .previous
                .and_then(|previous| previous.ports.get(index))
                .unwrap_or(port)
                .fixed_ips
                .first()
                .cloned();
            let kept = fixed_ip.clone().filter(|ip| subnet_ok(ip));
            if let (Some(ip), None) = (&fixed_ip, &kept) {
                warnings.push(format!(
                    "`{}` cannot keep {ip} on {network} (outside its subnets or taken); it gets a new address",
                    member.name
                ));
            }
            let name = format!("{}-port-{index}", member.name);
            port_steps.push(add(
                format!("create_port/{}/{index}", member.name),
                Phase::RecreateInstances,
                target,
                Some(member.name),
                Action::CreatePort {
                    network: network.clone(),
                    fixed_ip: kept,
                    name: name.clone(),
                },
                vec![check.clone()],
                vec![Resource {
                    kind: "port".to_string(),
                    name,
                }],
            ));
        }
        let mut depends_on: Vec<String> = volume_steps.iter().chain(&port_steps).cloned().collect();
        // Boot order: wait for the tier just below to be ACTIVE (one barrier step per tier keeps
        // the DAG linear in size), and for explicit dependencies.
        if let Some(lower) = tiers.range(..member.boot_order).next_back() {
            depends_on.push(format!("tier_active/{lower}"));
        }
        for dependency in member.depends_on {
            depends_on.push(format!("boot_instance/{dependency}"));
        }
        depends_on.sort();
        depends_on.dedup();
        let mut metadata = member.instance.metadata.clone();
        metadata.insert("protector_operation".to_string(), id.clone());
        metadata.insert("protector_member".to_string(), member.name.to_string());
        metadata.insert(
            "protector_step".to_string(),
            format!("boot_instance/{}", member.name),
        );
        add(
            format!("boot_instance/{}", member.name),
            Phase::RecreateInstances,
            target,
            Some(member.name),
            Action::BootInstance {
                name: member.instance.name.clone(),
                flavor: member_flavor(member).unwrap_or_default(),
                port_steps,
                volume_steps,
                key_name: member.instance.key_name.clone(),
                metadata,
            },
            depends_on,
            vec![Resource {
                kind: "server".to_string(),
                name: member.instance.name.clone(),
            }],
        );
    }
    let all_active: Vec<String> = tiers
        .iter()
        .next_back()
        .map(|tier| vec![format!("tier_active/{tier}")])
        .unwrap_or_default();
    // One barrier per tier; the last one stands for "every member is ACTIVE on the target",
    // which is what source cleanup and reverse replication wait for (linear in edges).
    for tier in &tiers {
        let in_tier: Vec<String> = members
            .iter()
            .filter(|m| m.boot_order == *tier)
            .map(|m| format!("boot_instance/{}", m.name))
            .collect();
        add(
            format!("tier_active/{tier}"),
            Phase::RecreateInstances,
            target,
            None,
            Action::TierActive { boot_order: *tier },
            in_tier,
            Vec::new(),
        );
    }

    let mut last = all_active.clone();
    if failover_type == FailoverType::Planned {
        for member in &members {
            let delete = add(
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
                last.push(add(
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
            }
        }
    }
    // After a failover, replication runs back to the old primary so a failback is possible;
    // after a failback, only when asked (`--reverse-replication`).
    if !failback || options.reverse_replication {
        last.push(add(
            format!("configure_replication/{group}"),
            Phase::ReverseReplication,
            target,
            None,
            Action::ConfigureReplication {
                array: target_array.clone(),
                protection_group: group.clone(),
                volumes_from_steps: manage_steps_all.clone(),
                target_array: source_array.clone(),
            },
            all_active.clone(),
            vec![Resource {
                kind: "protection_group".to_string(),
                name: format!("{target_array}/{group}"),
            }],
        ));
    }
    last.sort();
    last.dedup();
    add(
        "finalize".to_string(),
        Phase::Finalize,
        target,
        None,
        Action::Finalize,
        last,
        Vec::new(),
    );

    let steps = super::ordered(steps)?;

    let estimate = super::estimate(&steps, spec);
    if estimate.predicted_secs > estimate.rto_secs {
        warnings.push(format!(
            "predicted RTO {} exceeds the policy's RTO of {}",
            spec::duration::format(std::time::Duration::from_secs_f64(estimate.predicted_secs)),
            spec::duration::format(spec.policy.rto)
        ));
    }

    let before = GroupView {
        status: status.as_str().to_string(),
        current_primary_site: source.to_string(),
        members: members
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
                (
                    member.name.to_string(),
                    view(target, member.instance, flavor, Some(networks)),
                )
            })
            .collect(),
    };

    Ok(Plan {
        format_version: FORMAT_VERSION,
        protection_group: spec.name.clone(),
        spec_file: None,
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

/// A member's view; for the target side, volumes are only known after apply.
fn view(
    site: &str,
    instance: &Instance,
    flavor: Option<String>,
    networks: Option<Vec<String>>,
) -> MemberView {
    let on_target = networks.is_some();
    MemberView {
        site: site.to_string(),
        instance: instance.name.clone(),
        flavor: flavor.unwrap_or_else(|| instance.flavor.clone()),
        networks: networks.unwrap_or_else(|| {
            instance
                .ports
                .iter()
                .map(|port| format!("{} = {}", port.network, port.fixed_ips.join(", ")))
                .collect()
        }),
        volumes: instance
            .volumes
            .iter()
            .map(|volume| {
                if on_target {
                    KNOWN_AFTER_APPLY.to_string()
                } else {
                    volume.id.clone()
                }
            })
            .collect(),
    }
}

/// A `--*-mapping SRC=DST` override for `name`.
fn override_for<'a>(overrides: &'a [(String, String)], name: &str) -> Option<&'a str> {
    overrides
        .iter()
        .rev()
        .find(|(from, _)| from == name)
        .map(|(_, to)| to.as_str())
}

/// A FlashArray-valid volume name (<= 63 letters, digits, `-`, `_`) for `wanted`.
fn array_name(wanted: &str) -> String {
    let mut name: String = wanted
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert(0, 'v');
    }
    if name.len() > 63 {
        // Keep the end: it carries the volume index and the operation id.
        name = name[name.len() - 63..].to_string();
        name.replace_range(0..1, "v");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::SiteInventory;
    use crate::plan::plan as make_plan;
    use crate::plan::testing::*;

    fn depends(plan: &Plan, step: &str, on: &str) -> bool {
        plan.step(step)
            .unwrap_or_else(|| panic!("no step {step}"))
            .depends_on
            .iter()
            .any(|d| d == on)
    }

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
        // Source cleanup only after every boot succeeded.
        assert!(depends(&plan, "delete_instance/db-1", "tier_active/2"));
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
            "Plan: 3 instances to recreate on site-b, 4 volumes to promote and manage on site-b, \
             3 instances to stop on site-a, 3 instances to remove from site-a, \
             4 volumes to unmanage on site-a (array data kept)."
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
    fn every_failed_precondition_is_reported_together() {
        let mut inventory = inventory();
        if let SiteInventory::Reachable(facts) = inventory.sites.get_mut("site-b").unwrap() {
            facts.flavors.clear();
            facts.roles = vec!["member".to_string()];
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
                .any(|m| m.contains("refuse to manage volumes")),
            "{messages:?}"
        );
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

    #[test]
    fn array_names_are_flasharray_valid() {
        assert_eq!(array_name("web.1-0-abc"), "web-1-0-abc");
        let long = array_name(&format!("{}-0-abcd1234", "x".repeat(80)));
        assert!(long.len() <= 63 && long.ends_with("-0-abcd1234"), "{long}");
        assert!(crate::spec::is_array_name(&long));
    }
}
