//! What the operations that recreate the members on the other site share (failover, failback
//! and drill): the members as the source shows (or last showed) them, the checks of the
//! target, the recovered snapshot and its data-loss disclosure, and the steps that copy each
//! replicated volume, manage it into Cinder, create the ports and boot the instances in boot
//! order. Each operation decides what it recreates from and how the recreations are named.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{
    Action, DataLoss, Estimate, Phase, PlanOptions, Profile, ProfileNic, Refusal, Resource,
    SnapshotSource, Step,
};
use crate::inventory::{
    ArrayFacts, Instance, Inventory, ManagePolicy, ReplicatedSnapshot, ServerGroup, SiteFacts,
};
use crate::spec::{self, Spec};
use crate::state::{GroupStatus, StateDocument};

/// Default duration of each kind of step, in seconds, before drills have measured real ones.
pub(super) fn estimate(action: &Action) -> f64 {
    match action {
        Action::CheckTarget => 2.0,
        Action::StopInstance { .. } => 10.0,
        Action::SnapshotAndReplicate { .. } => 30.0,
        Action::CopyVolume { .. } => 1.0,
        Action::ManageVolume { .. } => 5.0,
        Action::CreatePort { .. } => 1.0,
        Action::BootInstance { .. } => 30.0,
        Action::CreateServerGroup { .. } | Action::RemoveServerGroup { .. } => 1.0,
        Action::DeleteInstance { .. } | Action::RemoveInstance { .. } => 5.0,
        Action::UnmanageVolume { .. } | Action::RemoveVolume { .. } => 2.0,
        Action::ConfigureReplication { .. } => 3.0,
        Action::Finalize => 1.0,
        Action::TierActive { .. } => 0.0,
        Action::CreateProtectionGroup { .. }
        | Action::AddVolumesToGroup { .. }
        | Action::SetReplicationSchedule { .. }
        | Action::AddTarget { .. }
        | Action::AllowTarget { .. }
        | Action::RetireVolumes { .. }
        | Action::DestroyRetiredVolumes { .. }
        | Action::VerifyInstance { .. }
        | Action::RemovePort { .. }
        | Action::RemoveArrayVolume { .. } => 1.0,
        Action::ProveDrillClean { .. } | Action::ProveRolledBack { .. } => 2.0,
        Action::StopRecovered { .. } => 10.0,
        Action::Stabilize { seconds, .. } => *seconds as f64,
        Action::RestoreInstance { .. } => 10.0,
    }
}

pub(super) const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// Why `site` has no facts: its discovery error.
pub(super) fn unreachable(inventory: &Inventory, site: &str) -> String {
    match inventory.sites.get(site) {
        Some(crate::inventory::SiteInventory::Unreachable { error }) => error.clone(),
        _ => "not discovered".to_string(),
    }
}

/// The group's status allows an operation only when no other one is under way; `error` only
/// with `--force` (then with a warning). `active` and `failed_over` are the caller's to judge.
pub(super) fn check_settled(
    spec: &Spec,
    status: GroupStatus,
    force: bool,
    refusals: &mut Vec<Refusal>,
    warnings: &mut Vec<String>,
) {
    match status {
        GroupStatus::Active | GroupStatus::FailedOver => {}
        GroupStatus::Error if force => warnings
            .push("the group's status is `error`; planning anyway because of --force".to_string()),
        other => refusals.push(Refusal {
            message: format!("protection group `{}` is `{}`", spec.name, other.as_str()),
            hint: "finish or roll back the running operation first (`protector operation list`), or pass --force".to_string(),
        }),
    }
}

/// A member as the plan sees it: its instance on the source (discovered, or last recorded).
pub(super) struct MemberSource<'a> {
    pub name: &'a str,
    pub boot_order: u32,
    pub depends_on: &'a [String],
    pub instance: &'a Instance,
    /// Failback: the instance as it was on the target before the failover, whose flavor,
    /// networks and fixed IPs it gets back.
    pub previous: Option<&'a Instance>,
}

/// The members' instances: discovered on `source`, else as last recorded (`previous` filled
/// for a failback). A member found nowhere is refused.
pub(super) fn members<'a>(
    spec: &'a Spec,
    source: &str,
    source_facts: Option<&'a SiteFacts>,
    newest: Option<&'a StateDocument>,
    failback: bool,
    refusals: &mut Vec<Refusal>,
) -> Vec<MemberSource<'a>> {
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
            None if source_facts.is_some() => refusals.push(Refusal {
                message: format!("member `{}` has no instance on {source}", member.instance),
                hint: format!("check the member's `instance:` name in the spec against `openstack --os-cloud {} server list`", spec.sites[source].cloud),
            }),
            None => refusals.push(Refusal {
                message: format!("member `{}`: {source} is unreachable and no inventory of it was recorded", member.instance),
                hint: "protector keeps the last inventory of each member in the state when an operation is applied; this group has no record of it, so it cannot be rebuilt without its site".to_string(),
            }),
        }
    }
    members
}

/// A `--*-mapping SRC=DST` override for `name`.
pub(super) fn override_for<'a>(overrides: &'a [(String, String)], name: &str) -> Option<&'a str> {
    overrides
        .iter()
        .rev()
        .find(|(from, _)| from == name)
        .map(|(_, to)| to.as_str())
}

/// Where the recreated members go, and what decides their flavors.
pub(super) struct Target<'a> {
    pub spec: &'a Spec,
    pub options: &'a PlanOptions,
    pub source: &'a str,
    pub target: &'a str,
    pub facts: &'a SiteFacts,
}

impl Target<'_> {
    /// A member's flavor on the target: a command-line mapping wins; then, for a failback,
    /// what the member had before the failover; then the spec's symmetric pairs.
    pub fn flavor(&self, member: &MemberSource) -> Option<String> {
        let flavor = member.instance.flavor.as_str();
        override_for(&self.options.flavor_mappings, flavor)
            .map(str::to_string)
            .or_else(|| member.previous.map(|previous| previous.flavor.clone()))
            .or_else(|| {
                spec::translate(
                    &self.spec.mappings.flavors,
                    self.source,
                    self.target,
                    flavor,
                )
                .map(str::to_string)
            })
    }

    /// Translates `name` on the source through the spec's `pairs` (by default it keeps its name).
    fn mapped(&self, pairs: &[spec::Pair], name: &str) -> String {
        spec::translate(pairs, self.source, self.target, name)
            .unwrap_or(name)
            .to_string()
    }

    /// The security groups of a member's NIC `index` on the target: for a failback the ones
    /// it had there before the failover, else its groups on the source, through the spec's
    /// `mappings.security_groups`.
    pub fn security_groups(&self, member: &MemberSource, index: usize) -> Vec<String> {
        if let Some(port) = member.previous.and_then(|p| p.ports.get(index)) {
            return port.security_groups.clone();
        }
        member.instance.ports[index]
            .security_groups
            .iter()
            .map(|group| self.mapped(&self.spec.mappings.security_groups, group))
            .collect()
    }

    /// The volume type of a member's volume on the target (by default its name on the source).
    pub fn volume_type(&self, source_type: &str) -> String {
        self.mapped(&self.spec.mappings.volume_types, source_type)
    }

    /// The availability zone to boot a member in on the target: for a failback the one it had
    /// there before; else its zone through `mappings.availability_zones`; else none (the
    /// target's scheduler chooses).
    pub fn availability_zone(&self, member: &MemberSource) -> Option<String> {
        if let Some(previous) = member.previous {
            return previous.availability_zone.clone();
        }
        let zone = member.instance.availability_zone.as_deref()?;
        spec::translate(
            &self.spec.mappings.availability_zones,
            self.source,
            self.target,
            zone,
        )
        .map(str::to_string)
    }

    /// The server group a member joins on the target: for a failback the one it was in there
    /// before (if any), else its group on the source; the same name and policy.
    pub fn server_group(&self, member: &MemberSource) -> Option<ServerGroup> {
        member
            .previous
            .and_then(|previous| previous.server_group.clone())
            .or_else(|| member.instance.server_group.clone())
    }

    /// Refuses what a member needs and the target lacks: a security group of one of its
    /// NICs, a volume type of one of its volumes, its availability zone, its key pair; a group
    /// name the target has twice is ambiguous, and so is a server group of its name with
    /// another policy (a missing server group is not refused: the plan creates it).
    pub fn check_dependencies(&self, member: &MemberSource, refusals: &mut Vec<Refusal>) {
        let (source, target, facts) = (self.source, self.target, self.facts);
        let cloud = &self.spec.sites[target].cloud;
        if let (Some(key), Some(keypairs)) = (&member.instance.key_name, &facts.keypairs)
            && !keypairs.contains(key)
        {
            refusals.push(Refusal {
                message: format!(
                    "key pair `{key}` of `{}` does not exist on {target} for protector's user",
                    member.name
                ),
                hint: format!(
                    "import the same public key there as protector's user (Nova boots only with the caller's own key pairs): `openstack --os-cloud {cloud} keypair create --public-key <file> {key}`"
                ),
            });
        }
        if let (Some(group), Some(groups)) = (self.server_group(member), &facts.server_groups) {
            let named: Vec<&ServerGroup> = groups.iter().filter(|g| g.name == group.name).collect();
            let refusal = match named.as_slice() {
                [] => None,
                [found] if found.policy == group.policy => None,
                [found] => Some(format!(
                    "server group `{}` on {target} is {}; `{}` needs {}",
                    group.name, found.policy, member.name, group.policy
                )),
                many => Some(format!(
                    "{target} has {} server groups named `{}` (for `{}`): which one is meant is ambiguous",
                    many.len(),
                    group.name,
                    member.name
                )),
            };
            if let Some(message) = refusal {
                refusals.push(Refusal {
                    message,
                    hint: format!(
                        "rename or delete the group on {target} (`openstack --os-cloud {cloud} server group list`): with no group of that name, the plan creates it as {}",
                        group.describe()
                    ),
                });
            }
        }
        for index in 0..member.instance.ports.len() {
            for group in self.security_groups(member, index) {
                let count = facts
                    .security_groups
                    .iter()
                    .filter(|g| **g == group)
                    .count();
                if count == 1 {
                    continue;
                }
                refusals.push(Refusal {
                    message: if count == 0 {
                        format!(
                            "security group `{group}` of `{}` does not exist on {target}",
                            member.name
                        )
                    } else {
                        format!(
                            "{target} has {count} security groups named `{group}` (for `{}`): which one is meant is ambiguous",
                            member.name
                        )
                    },
                    hint: format!(
                        "create it on {target} with the same rules, or map it under mappings.security_groups: `{{ {source}: {group}, {target}: <group on {target}> }}`"
                    ),
                });
            }
        }
        if let Some(types) = &facts.volume_types {
            for volume in &member.instance.volumes {
                let Some(source_type) = volume.volume_type.as_deref() else {
                    continue;
                };
                let wanted = self.volume_type(source_type);
                if !types.contains(&wanted) {
                    refusals.push(Refusal {
                        message: format!(
                            "volume type `{wanted}` (of `{}`'s volume {}) does not exist on {target}",
                            member.name, volume.name
                        ),
                        hint: format!(
                            "create it on {target}, or map it under mappings.volume_types: `{{ {source}: {source_type}, {target}: <type on {target}> }}`"
                        ),
                    });
                }
            }
        }
        if let (Some(zone), Some(zones)) =
            (self.availability_zone(member), &facts.availability_zones)
            && !zones.contains(&zone)
        {
            refusals.push(Refusal {
                message: format!(
                    "availability zone `{zone}` (for `{}`) does not exist on {target}",
                    member.name
                ),
                hint: format!(
                    "map it to one of {target}'s zones ({}) under mappings.availability_zones",
                    zones.join(", ")
                ),
            });
        }
    }

    /// Refuses a member whose flavor has no mapping, or maps to one the target lacks.
    pub fn check_flavor(&self, member: &MemberSource, refusals: &mut Vec<Refusal>) {
        let (source, target) = (self.source, self.target);
        let flavor = &member.instance.flavor;
        match self.flavor(member) {
            None => refusals.push(Refusal {
                message: format!(
                    "flavor `{flavor}` of `{}` has no mapping to {target}",
                    member.name
                ),
                hint: format!(
                    "add `{{ {source}: {flavor}, {target}: <flavor on {target}> }}` under mappings.flavors, or pass `--flavor-mapping {flavor}=<flavor on {target}>`"
                ),
            }),
            Some(mapped) if self.facts.flavor_named(&mapped).is_none() => refusals.push(Refusal {
                message: format!(
                    "flavor `{mapped}` (mapped from `{flavor}` for `{}`) does not exist on {target}",
                    member.name
                ),
                hint: format!(
                    "create it on {target}, or map `{flavor}` to an existing flavor with `--flavor-mapping {flavor}=<flavor>`"
                ),
            }),
            Some(_) => {}
        }
    }

    /// Refuses what the target cannot take: more ports on a network than it has free
    /// addresses, more of the members' volumes than the quota allows, a Cinder that will refuse
    /// to manage them.
    pub fn check_capacity(
        &self,
        ports_per_network: &BTreeMap<String, u64>,
        members: &[&MemberSource],
        refusals: &mut Vec<Refusal>,
        warnings: &mut Vec<String>,
    ) {
        let (target, facts) = (self.target, self.facts);
        let volume_count: u64 = members
            .iter()
            .map(|m| m.instance.volumes.len() as u64)
            .sum();
        for (network, needed) in ports_per_network {
            let free: u64 = facts
                .network_named(network)
                .map(|n| n.subnets.iter().map(|s| s.free_ips).sum())
                .unwrap_or(0);
            if free < *needed {
                refusals.push(Refusal {
                    message: format!(
                        "network `{network}` on {target} has {free} free addresses; the members need {needed}"
                    ),
                    hint: format!("free addresses on `{network}` or enlarge its allocation pool"),
                });
            }
        }
        if let Some(left) = facts.volume_quota_left
            && left < volume_count
        {
            refusals.push(Refusal {
                message: format!(
                    "volume quota on {target} allows {left} more volumes; the members need {volume_count}"
                ),
                hint: format!(
                    "raise the project's volume quota on {target} (`openstack quota set --volumes N`)"
                ),
            });
        }
        let host = &self.spec.sites[target].flasharray.cinder_host;
        if let Some(pools) = &facts.cinder_pools
            && !pools.contains(host)
        {
            refusals.push(Refusal {
                message: format!(
                    "Cinder on {target} has no backend pool `{host}` to manage the members' volumes into (its pools: {})",
                    if pools.is_empty() { "none".to_string() } else { pools.join(", ") }
                ),
                hint: format!(
                    "set sites.{target}.flasharray.cinder_host to the pool of the backend on array `{}` (`openstack volume backend pool list` on {target})",
                    self.spec.sites[target].flasharray.array_name
                ),
            });
        }
        if let Some(error) = &facts.volume_quota_error {
            // Not a refusal: clouds may hide quotas from the project, and Cinder still checks
            // the quota itself when the volumes are managed.
            warnings.push(format!(
                "the volume quota on {target} could not be read, so the {volume_count} volumes to manage there are not checked against it: {error}"
            ));
        }
        let refused = |message: String| Refusal {
            message,
            hint: format!(
                "give protector's user the admin role on its project on {target}, or allow its role in Cinder's policy; check with `protector site validate FILE {target}`"
            ),
        };
        match &facts.manage_policy {
            ManagePolicy::Allowed => {}
            ManagePolicy::Refused => refusals.push(refused(format!(
                "Cinder on {target} refuses to manage volumes for protector's user: its policy denies `volume_extension:volume_manage` (asked without changing anything)"
            ))),
            // Unanswered: Cinder's default rule (admin) is the best guess left.
            ManagePolicy::Unknown { .. } | ManagePolicy::NotProbed
                if !facts.roles.iter().any(|role| role == "admin") =>
            {
                refusals.push(refused(format!(
                    "Cinder on {target} is likely to refuse to manage volumes: its policy could not be probed ({}) and protector's roles there ({}) lack admin, which its default `volume_extension:volume_manage` rule requires",
                    facts.manage_policy.unanswered(),
                    facts.roles.join(", ")
                )));
            }
            ManagePolicy::Unknown { .. } | ManagePolicy::NotProbed => warnings.push(format!(
                "Cinder's manage policy on {target} could not be probed ({}); protector's admin role satisfies its default rule",
                facts.manage_policy.unanswered()
            )),
        }
        let admin = facts.roles.iter().any(|role| role == "admin");
        if facts.manage_policy == ManagePolicy::Allowed && !admin {
            // Cinder looks the volume up before it asks its policy, so only a real unmanage
            // would tell; a policy opened for manage is often opened for unmanage too.
            warnings.push(format!(
                "Cinder on {target} lets protector's roles ({}) manage volumes; whether it lets them unmanage cannot be asked without unmanaging one, and a rollback unmanages what was managed there: allow `volume_extension:volume_unmanage` for the same roles",
                facts.roles.join(", ")
            ));
        }
        match facts.volume_services.blocks(host) {
            Ok(None) => {}
            Ok(Some(problem)) => refusals.push(Refusal {
                message: format!(
                    "Cinder on {target} cannot manage the members' volumes into `{host}` now: {problem}"
                ),
                hint: format!(
                    "start or enable the backend's volume service on {target} (`openstack volume service list`), then plan again"
                ),
            }),
            // Not a refusal: the service's state only decides whether the manage step
            // succeeds, and Cinder answers that step itself.
            Err(why) => warnings.push(format!(
                "the state of Cinder's volume service for `{host}` on {target} is not checked ({why}); a down service would fail the manage step"
            )),
        }
    }

    /// The target's array, or a refusal saying why it did not answer.
    pub fn array(&self, refusals: &mut Vec<Refusal>) -> Option<&ArrayFacts> {
        let target = self.target;
        let array = self.facts.array.as_ref();
        if array.is_none() {
            refusals.push(Refusal {
                message: format!(
                    "the array of {target} ({}) did not answer: {}",
                    self.spec.sites[target].flasharray.array_name,
                    self.facts.array_error.as_deref().unwrap_or("unknown error")
                ),
                hint: format!(
                    "check `flasharray.url` and `api_token` of {target} with `protector site validate FILE {target}`"
                ),
            });
        }
        array
    }
}

/// The array volumes holding the members' data; a volume that does not say is refused.
pub(super) fn member_array_volumes<'a>(
    members: &[&MemberSource<'a>],
    refusals: &mut Vec<Refusal>,
) -> BTreeSet<&'a str> {
    for member in members {
        for volume in &member.instance.volumes {
            if volume.array_volume_name.is_none() {
                refusals.push(Refusal {
                    message: format!("volume `{}` of `{}` does not say which array volume holds it", volume.name, member.name),
                    hint: "protector needs the Pure driver's `array_volume_name` volume metadata; check the volume's backend".to_string(),
                });
            }
        }
    }
    members
        .iter()
        .flat_map(|m| m.instance.volumes.iter())
        .filter_map(|v| v.array_volume_name.as_deref())
        .collect()
}

/// The newest completely transferred snapshot of `replicated_group` on the target array that
/// holds every member volume, or a refusal.
/// How long the group's newest completed replication took from snapshot to arrival on the
/// target, when the array tells: the next one (a planned failover's final snapshot) moves what
/// was written since, much as that one moved what was written before it.
pub(super) fn last_transfer_secs(
    array: Option<&ArrayFacts>,
    replicated_group: &str,
) -> Option<f64> {
    array?
        .replicated_snapshots
        .iter()
        .filter(|snapshot| snapshot.name.starts_with(&format!("{replicated_group}.")))
        .filter_map(|snapshot| Some((snapshot.created_ms, snapshot.completed_ms?)))
        .max()
        .map(|(created, completed)| (completed - created) as f64 / 1000.0)
        .filter(|secs| *secs > 0.0)
}

pub(super) fn newest_complete_snapshot<'a>(
    array: Option<&'a ArrayFacts>,
    array_name: &str,
    replicated_group: &str,
    member_array_volumes: &BTreeSet<&str>,
    refusals: &mut Vec<Refusal>,
) -> Option<&'a ReplicatedSnapshot> {
    let array = array?;
    let newest = array
        .replicated_snapshots
        .iter()
        .filter(|snapshot| snapshot.name.starts_with(&format!("{replicated_group}.")))
        .filter(|snapshot| snapshot.is_complete())
        .max_by_key(|snapshot| snapshot.created_ms);
    let Some(snapshot) = newest else {
        refusals.push(Refusal {
            message: format!(
                "no completely transferred snapshot of `{replicated_group}` on {array_name}"
            ),
            hint: "nothing can be recovered without one; check replication on the arrays"
                .to_string(),
        });
        return None;
    };
    for volume in member_array_volumes {
        if !snapshot.volumes.contains_key(*volume) {
            refusals.push(Refusal {
                message: format!("snapshot `{}` has no copy of array volume `{volume}`", snapshot.name),
                hint: "the volume joined the protection group after this snapshot; wait for the next replication".to_string(),
            });
        }
    }
    Some(snapshot)
}

/// How far this machine's clock may be off an array's before a plan says so.
const CLOCK_TOLERANCE_MS: u64 = 60_000;

/// The age of the recovered snapshot against the RPO; beyond it, refused unless
/// `--accept-data-loss` (then a warning). The age is measured on the clock of the array that
/// holds the snapshot, which stamped it: this machine's may be hours off (then a warning says
/// so), and would hide the data lost.
pub(super) fn disclose(
    spec: &Spec,
    inventory: &Inventory,
    array: &ArrayFacts,
    snapshot: &ReplicatedSnapshot,
    options: &PlanOptions,
    refusals: &mut Vec<Refusal>,
    warnings: &mut Vec<String>,
) -> DataLoss {
    // `3h behind`: how this machine's clock stands to the array's, when it matters.
    let skew = array
        .clock_offset_ms
        .filter(|offset_ms| offset_ms.unsigned_abs() > CLOCK_TOLERANCE_MS)
        .map(|offset_ms| {
            let off = Duration::from_secs((offset_ms.unsigned_abs() + 500) / 1000);
            let side = if offset_ms > 0 { "behind" } else { "ahead of" };
            format!("{} {side}", spec::duration::format(off))
        });
    if let Some(skew) = &skew {
        warnings.push(format!(
            "this machine's clock is {skew} array {}'s: snapshot ages are measured on the array's clock; correct this machine's (NTP)",
            array.name
        ));
    }
    let array_now_ms = match array.clock_offset_ms {
        Some(offset_ms) => inventory.taken_at_ms.saturating_add(offset_ms),
        None => {
            warnings.push(format!(
                "array {} did not tell its time, so the age of snapshot `{}` is measured on this machine's clock, which may differ from the array's",
                array.name, snapshot.name
            ));
            inventory.taken_at_ms
        }
    };
    let age_secs = (array_now_ms.saturating_sub(snapshot.created_ms)).max(0) as f64 / 1000.0;
    let rpo_secs = spec.policy.rpo.as_secs_f64();
    let exceeds_rpo = age_secs > rpo_secs;
    if exceeds_rpo {
        let on_clock = match &skew {
            Some(skew) => format!(
                " on array {}'s clock (this machine's is {skew} it)",
                array.name
            ),
            None => String::new(),
        };
        let message = format!(
            "snapshot `{}` is {} old{on_clock}, beyond the RPO of {}",
            snapshot.name,
            spec::duration::format(spec::duration::from_secs_f64_saturating(age_secs)),
            spec::duration::format(spec.policy.rpo)
        );
        if options.accept_data_loss {
            warnings.push(format!("{message}; accepted with --accept-data-loss"));
        } else {
            refusals.push(Refusal {
                message,
                hint: "recovering it loses more data than the policy allows; pass --accept-data-loss to proceed".to_string(),
            });
        }
    }
    DataLoss {
        snapshot: Some(snapshot.name.clone()),
        age_secs,
        rpo_secs,
        exceeds_rpo,
    }
}

/// The steps of a plan as they are added, each with its estimated duration.
#[derive(Default)]
pub(super) struct Steps(pub Vec<Step>);

impl Steps {
    /// Adds a step; returns its id, which later steps depend on.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        id: String,
        phase: Phase,
        site: &str,
        member: Option<&str>,
        action: Action,
        depends_on: Vec<String>,
        creates: Vec<Resource>,
    ) -> String {
        let estimate_secs = estimate(&action);
        self.0.push(Step {
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
    }

    /// Step `id` takes `secs` rather than its kind's default.
    pub fn estimate(&mut self, id: &str, secs: f64) {
        if let Some(step) = self.0.iter_mut().find(|step| step.id == id) {
            step.estimate_secs = secs;
        }
    }
}

/// How recreated resources are named on the target. Both forms carry the operation id, so a
/// resumed apply finds what it already created.
pub(super) enum Naming {
    /// Failover and failback: the workload keeps its names; array volumes end with the short
    /// operation id.
    Keep { short: String },
    /// Drill: everything starts with `drill-<short operation id>-`, beside production.
    Prefixed { prefix: String },
}

impl Naming {
    fn array_volume(&self, member: &str, index: usize) -> String {
        match self {
            Naming::Keep { short } => array_name("", &format!("{member}-{index}-{short}")),
            Naming::Prefixed { prefix } => array_name(prefix, &format!("{member}-{index}")),
        }
    }

    /// A Cinder volume's, port's or server's name.
    pub fn name(&self, name: &str) -> String {
        match self {
            Naming::Keep { .. } => name.to_string(),
            Naming::Prefixed { prefix } => format!("{prefix}{name}"),
        }
    }
}

/// What recreating the members needs besides the target.
pub(super) struct Recreation<'a> {
    pub operation: &'a str,
    pub naming: &'a Naming,
    /// Where each array volume's data comes from, by the source's array volume name.
    pub snapshot_source: &'a dyn Fn(&str) -> SnapshotSource,
    /// What the copies wait for (the snapshot step, or the target check).
    pub copies_after: String,
    /// What port creation waits for: the target check, and the removal of what an operation
    /// taken over left there.
    pub prepared: Vec<String>,
    /// Addresses taken now that are free by then (those removed ports hold).
    pub freed_ips: &'a BTreeSet<String>,
    /// The network of a member's NIC on the target (the caller checked it exists).
    pub network: &'a dyn Fn(&MemberSource, usize) -> String,
    /// The phase of the checks of the recreated members.
    pub verify_phase: Phase,
    /// A drill recovers into networks of its own, often addressed unlike production: there
    /// an address outside the network's subnets changes as expected, and only one that is
    /// taken deserves a warning.
    pub new_addresses_expected: bool,
}

/// For each member of a server group with a hard policy (`affinity`, `anti-affinity`), the
/// sibling whose boot it waits for: Nova places each boot on what the group held when the
/// scheduler looked, so siblings booted at once can all pick the same host (or different
/// ones), and the compute's late check then fails all but one. Nova reschedules those, but a
/// site with no spare host fails the boot outright (seen on real Nova with as many hosts as
/// the group has members). Booting siblings one after another costs a boot time per sibling
/// and removes the race. Soft policies only weigh hosts, never fail a boot, and stay parallel.
///
/// The chain follows boot order, then the members' `depends_on` within a tier (a member comes
/// after what it depends on, so the chain never closes a cycle), then the spec's order.
fn placement_chains<'m>(
    members: &[&'m MemberSource<'_>],
    server_group: impl Fn(&MemberSource) -> Option<ServerGroup>,
) -> BTreeMap<&'m str, &'m str> {
    let depth = dependency_depths(members);
    let mut groups: BTreeMap<String, Vec<(u32, usize, usize, &'m str)>> = BTreeMap::new();
    for (index, member) in members.iter().enumerate() {
        let Some(group) = server_group(member) else {
            continue;
        };
        if matches!(group.policy.as_str(), "affinity" | "anti-affinity") {
            groups.entry(group.name).or_default().push((
                member.boot_order,
                depth[member.name],
                index,
                member.name,
            ));
        }
    }
    let mut after = BTreeMap::new();
    for siblings in groups.values_mut() {
        siblings.sort();
        for pair in siblings.windows(2) {
            after.insert(pair[1].3, pair[0].3);
        }
    }
    after
}

/// How many members of its own boot tier a member waits for, along its longest `depends_on`
/// path: ordering a tier by it puts every member after what it depends on. The spec refuses
/// cycles; were one to reach here, the walk stops at the members' count instead of looping.
fn dependency_depths<'m>(members: &[&'m MemberSource<'_>]) -> BTreeMap<&'m str, usize> {
    let by_name: BTreeMap<&str, &'m MemberSource<'_>> =
        members.iter().map(|m| (m.name, *m)).collect();
    fn walk<'m>(
        member: &'m MemberSource<'_>,
        by_name: &BTreeMap<&str, &'m MemberSource<'_>>,
        memo: &mut BTreeMap<&'m str, usize>,
        budget: usize,
    ) -> usize {
        if let Some(depth) = memo.get(member.name) {
            return *depth;
        }
        let depth = if budget == 0 {
            0
        } else {
            member
                .depends_on
                .iter()
                .filter_map(|name| by_name.get(name.as_str()))
                .filter(|dependency| dependency.boot_order == member.boot_order)
                .map(|dependency| walk(dependency, by_name, memo, budget - 1) + 1)
                .max()
                .unwrap_or(0)
        };
        memo.insert(member.name, depth);
        depth
    }
    let mut memo = BTreeMap::new();
    for member in members {
        walk(member, &by_name, &mut memo, members.len());
    }
    memo
}

/// What the recreation steps are, for the steps that follow them.
pub(super) struct Recreated {
    /// The manage steps, in member boot order.
    pub manage_steps: Vec<String>,
    /// Every member checked against its profile once all are ACTIVE, then watched for the
    /// stabilization window: what nothing that removes the source's copy may start before.
    pub verified: Vec<String>,
}

/// Copies, manages, wires and boots every member on the target, in boot order.
pub(super) fn recreate(
    steps: &mut Steps,
    target: &Target,
    how: &Recreation,
    members: &[&MemberSource],
    warnings: &mut Vec<String>,
) -> Recreated {
    let site = target.target;
    let mut manage_steps = Vec::new();
    let tiers: BTreeSet<u32> = members.iter().map(|m| m.boot_order).collect();
    let mut profiles: Vec<(&MemberSource, Profile)> = Vec::new();
    let mut group_steps: BTreeSet<String> = BTreeSet::new();
    let mut sorted_members: Vec<&MemberSource> = members.to_vec();
    sorted_members.sort_by_key(|m| m.boot_order);
    let placed_after = placement_chains(members, |member| target.server_group(member));
    for member in &sorted_members {
        let mut volume_steps = Vec::new();
        for (index, volume) in member.instance.volumes.iter().enumerate() {
            let array_volume = volume.array_volume_name.clone().unwrap_or_default();
            let new_volume = how.naming.array_volume(member.name, index);
            let copy = steps.add(
                format!("copy_volume/{}/{index}", member.name),
                Phase::PromoteVolumes,
                site,
                Some(member.name),
                Action::CopyVolume {
                    array: target.spec.sites[site].flasharray.array_name.clone(),
                    source: (how.snapshot_source)(&array_volume),
                    volume: new_volume.clone(),
                },
                vec![how.copies_after.clone()],
                vec![Resource {
                    kind: "array_volume".to_string(),
                    name: new_volume.clone(),
                }],
            );
            let name = how.naming.name(&volume.name);
            let manage = steps.add(
                format!("manage_volume/{}/{index}", member.name),
                Phase::ManageVolumes,
                site,
                Some(member.name),
                Action::ManageVolume {
                    cinder_host: target.spec.sites[site].flasharray.cinder_host.clone(),
                    array_volume: new_volume,
                    name: name.clone(),
                    volume_type: volume
                        .volume_type
                        .as_deref()
                        .map(|source_type| target.volume_type(source_type)),
                    bootable: index == 0 || volume.bootable,
                },
                vec![copy],
                vec![Resource {
                    kind: "cinder_volume".to_string(),
                    name,
                }],
            );
            manage_steps.push(manage.clone());
            volume_steps.push(manage);
        }
        let mut port_steps = Vec::new();
        let mut nics = Vec::new();
        for (index, port) in member.instance.ports.iter().enumerate() {
            let network = (how.network)(member, index);
            let subnet_of = |ip: &str| {
                target.facts.network_named(&network).and_then(|n| {
                    n.subnets
                        .iter()
                        .find(|s| crate::ipv4::contains(&s.cidr, ip))
                })
            };
            let subnet_ok = |ip: &str| {
                subnet_of(ip).is_some_and(|s| {
                    how.freed_ips.contains(ip) || !s.used_ips.iter().any(|used| used == ip)
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
                let why = match subnet_of(ip) {
                    Some(_) => Some("taken there"),
                    None if how.new_addresses_expected => None,
                    None => Some("outside its subnets"),
                };
                if let Some(why) = why {
                    warnings.push(format!(
                        "`{}` cannot keep {ip} on {network} ({why}); it gets a new address",
                        member.name
                    ));
                }
            }
            let name = how.naming.name(&format!("{}-port-{index}", member.name));
            nics.push(ProfileNic {
                network: network.clone(),
                fixed_ip: kept.clone(),
                security_groups: target.security_groups(member, index),
            });
            port_steps.push(steps.add(
                format!("create_port/{}/{index}", member.name),
                Phase::RecreateInstances,
                site,
                Some(member.name),
                Action::CreatePort {
                    network: network.clone(),
                    fixed_ip: kept,
                    name: name.clone(),
                    security_groups: target.security_groups(member, index),
                },
                how.prepared.clone(),
                vec![Resource {
                    kind: "port".to_string(),
                    name,
                }],
            ));
        }
        let mut depends_on: Vec<String> = volume_steps.iter().chain(&port_steps).cloned().collect();
        // Its server group, under the recreation's naming (a drill's is its own): created
        // first where the target lacks it (or would not say).
        let group = target.server_group(member).map(|group| ServerGroup {
            name: how.naming.name(&group.name),
            ..group
        });
        if let Some(group) = &group {
            let exists = target
                .facts
                .server_groups
                .as_ref()
                .is_some_and(|groups| groups.iter().any(|g| g.name == group.name));
            if !exists {
                let id = format!("create_server_group/{}", group.name);
                if group_steps.insert(id.clone()) {
                    steps.add(
                        id.clone(),
                        Phase::RecreateInstances,
                        site,
                        None,
                        Action::CreateServerGroup {
                            group: group.clone(),
                        },
                        how.prepared.clone(),
                        vec![Resource {
                            kind: "server_group".to_string(),
                            name: group.name.clone(),
                        }],
                    );
                }
                depends_on.push(id);
            }
        }
        // Boot order: wait for the tier just below to be ACTIVE (one barrier step per tier keeps
        // the DAG linear in size), and for explicit dependencies.
        if let Some(lower) = tiers.range(..member.boot_order).next_back() {
            depends_on.push(format!("tier_active/{lower}"));
        }
        if let Some(sibling) = placed_after.get(member.name) {
            depends_on.push(format!("boot_instance/{sibling}"));
        }
        // A dependency not recreated here already runs (it was adopted).
        for dependency in member.depends_on {
            if members.iter().any(|m| m.name == dependency) {
                depends_on.push(format!("boot_instance/{dependency}"));
            }
        }
        depends_on.sort();
        depends_on.dedup();
        let user_metadata: BTreeMap<String, String> = member
            .instance
            .metadata
            .iter()
            .filter(|(key, _)| !key.starts_with("protector_"))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        profiles.push((
            *member,
            Profile {
                flavor: target.flavor(member).unwrap_or_default(),
                key_name: member.instance.key_name.clone(),
                availability_zone: target.availability_zone(member),
                nics,
                metadata: user_metadata.clone(),
                server_group: group.clone(),
                tags: member.instance.tags.clone(),
                description: member.instance.description.clone(),
            },
        ));
        let mut metadata = user_metadata;
        metadata.insert("protector_operation".to_string(), how.operation.to_string());
        metadata.insert("protector_member".to_string(), member.name.to_string());
        metadata.insert(
            "protector_step".to_string(),
            format!("boot_instance/{}", member.name),
        );
        let name = how.naming.name(&member.instance.name);
        steps.add(
            format!("boot_instance/{}", member.name),
            Phase::RecreateInstances,
            site,
            Some(member.name),
            Action::BootInstance {
                name: name.clone(),
                flavor: target.flavor(member).unwrap_or_default(),
                port_steps,
                volume_steps,
                key_name: member.instance.key_name.clone(),
                metadata,
                availability_zone: target.availability_zone(member),
                server_group: group.map(|group| group.name),
                tags: member.instance.tags.clone(),
                description: member.instance.description.clone(),
            },
            depends_on,
            vec![Resource {
                kind: "server".to_string(),
                name,
            }],
        );
    }
    // One barrier per tier; the last one stands for "every member is ACTIVE on the target",
    // which what follows the recreation waits for (linear in edges).
    for tier in &tiers {
        let in_tier: Vec<String> = members
            .iter()
            .filter(|m| m.boot_order == *tier)
            .map(|m| format!("boot_instance/{}", m.name))
            .collect();
        steps.add(
            format!("tier_active/{tier}"),
            Phase::RecreateInstances,
            site,
            None,
            Action::TierActive { boot_order: *tier },
            in_tier,
            Vec::new(),
        );
    }
    let all_active: Vec<String> = tiers
        .iter()
        .next_back()
        .map(|tier| vec![format!("tier_active/{tier}")])
        .unwrap_or_default();
    // Checked once every member is ACTIVE: the application stands up as a whole.
    let boot_steps: Vec<String> = profiles
        .iter()
        .map(|(member, _)| format!("boot_instance/{}", member.name))
        .collect();
    let verified: Vec<String> = profiles
        .into_iter()
        .map(|(member, profile)| {
            steps.add(
                format!("verify_instance/{}", member.name),
                how.verify_phase,
                site,
                Some(member.name),
                Action::VerifyInstance {
                    name: how.naming.name(&member.instance.name),
                    boot_step: format!("boot_instance/{}", member.name),
                    profile,
                },
                all_active.clone(),
                Vec::new(),
            )
        })
        .collect();
    // Then watched for the stabilization window: a member that fails right after its boot
    // fails the operation while what it was recovered from still exists.
    let verified = if verified.is_empty() {
        verified
    } else {
        vec![steps.add(
            "stabilize".to_string(),
            how.verify_phase,
            site,
            None,
            Action::Stabilize {
                seconds: target.spec.policy.stabilization.as_secs(),
                boot_steps,
            },
            verified,
            Vec::new(),
        )]
    };
    Recreated {
        manage_steps,
        verified,
    }
}

/// A warning when the predicted RTO exceeds the policy's.
pub(super) fn warn_rto(estimate: &Estimate, spec: &Spec, warnings: &mut Vec<String>) {
    if estimate.predicted_secs > estimate.rto_secs {
        warnings.push(format!(
            "predicted RTO {} exceeds the policy's RTO of {}",
            spec::duration::format(spec::duration::from_secs_f64_saturating(
                estimate.predicted_secs
            )),
            spec::duration::format(spec.policy.rto)
        ));
    }
}

/// A member's view; for the target side, volumes are only known after apply.
pub(super) fn view(
    site: &str,
    instance: &Instance,
    flavor: Option<String>,
    networks: Option<Vec<String>>,
) -> super::MemberView {
    let on_target = networks.is_some();
    super::MemberView {
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
        security_groups: groups_of(instance.ports.iter().map(|p| &p.security_groups)),
        availability_zone: instance.availability_zone.clone(),
        key_name: instance.key_name.clone(),
        server_group: instance.server_group.as_ref().map(ServerGroup::describe),
        tags: instance.tags.clone(),
        description: instance.description.clone(),
    }
}

/// Security groups in NIC order, each once.
pub(super) fn groups_of<'a>(per_port: impl Iterator<Item = &'a Vec<String>>) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for group in per_port.flatten() {
        if !groups.contains(group) {
            groups.push(group.clone());
        }
    }
    groups
}

/// The view of a member recreated on the target by `steps`: what its steps create (its
/// security groups, its zone) rather than what it had on the source.
pub(super) fn recreated_view(
    mut view: super::MemberView,
    member: &str,
    steps: &std::collections::HashMap<&str, &Step>,
    ports: usize,
) -> super::MemberView {
    let port_groups: Vec<&Vec<String>> = (0..ports)
        .filter_map(
            |index| match steps.get(format!("create_port/{member}/{index}").as_str()) {
                Some(Step {
                    action:
                        Action::CreatePort {
                            security_groups, ..
                        },
                    ..
                }) => Some(security_groups),
                _ => None,
            },
        )
        .collect();
    view.security_groups = groups_of(port_groups.into_iter());
    view.availability_zone = None;
    let source_group = view.server_group.take();
    if let Some(Step {
        action:
            Action::BootInstance {
                availability_zone,
                key_name,
                server_group,
                tags,
                description,
                ..
            },
        ..
    }) = steps.get(format!("boot_instance/{member}").as_str())
    {
        view.availability_zone = availability_zone.clone();
        view.key_name = key_name.clone();
        // As the step creating it makes it; else the target has it, as the source had it.
        view.server_group = server_group.as_ref().map(|name| {
            match steps.get(format!("create_server_group/{name}").as_str()) {
                Some(Step {
                    action: Action::CreateServerGroup { group },
                    ..
                }) => group.describe(),
                _ => source_group.clone().unwrap_or_else(|| name.clone()),
            }
        });
        view.tags = tags.clone();
        view.description = description.clone();
    }
    view
}

/// A FlashArray-valid volume name (<= 63 letters, digits, `-`, `_`): `prefix` (already valid,
/// starting with a letter) then `wanted`, whose end is kept when too long (it carries the
/// volume index and, without a prefix, the operation id).
fn array_name(prefix: &str, wanted: &str) -> String {
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
    if prefix.is_empty() && !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert(0, 'v');
    }
    let room = 63 - prefix.len();
    if name.len() > room {
        name = name[name.len() - room..].to_string();
        if prefix.is_empty() {
            name.replace_range(0..1, "v");
        }
    }
    format!("{prefix}{name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::{NOW_MS, example_spec, inventory};

    const HOUR_MS: i64 = 3_600_000;

    /// The disclosure of site-b's newest snapshot, taken `age_ms` ago on fa-b's clock, which
    /// runs `offset_ms` ahead of this machine's (`None`: fa-b does not tell its time).
    fn disclosed(
        offset_ms: Option<i64>,
        age_ms: i64,
        accept_data_loss: bool,
    ) -> (DataLoss, Vec<Refusal>, Vec<String>) {
        let inventory = inventory();
        let mut array = inventory.sites["site-b"]
            .facts()
            .and_then(|facts| facts.array.clone())
            .unwrap();
        array.clock_offset_ms = offset_ms;
        let mut snapshot = array.replicated_snapshots[0].clone();
        snapshot.created_ms = NOW_MS + offset_ms.unwrap_or(0) - age_ms;
        let options = PlanOptions {
            accept_data_loss,
            ..PlanOptions::default()
        };
        let (mut refusals, mut warnings) = (Vec::new(), Vec::new());
        let loss = disclose(
            &example_spec(),
            &inventory,
            &array,
            &snapshot,
            &options,
            &mut refusals,
            &mut warnings,
        );
        (loss, refusals, warnings)
    }

    #[test]
    fn a_machine_hours_behind_the_array_does_not_hide_the_data_lost() {
        // The machine's clock alone read this 2-hour-old snapshot as taken an hour from now.
        let (loss, refusals, warnings) = disclosed(Some(3 * HOUR_MS), 2 * HOUR_MS, false);
        assert_eq!(loss.age_secs, 7200.0);
        assert!(loss.exceeds_rpo);
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert_eq!(
            refusals[0].message,
            "snapshot `fa-a:prod-web-app.7` is 2h old on array fa-b's clock (this machine's is 3h behind it), beyond the RPO of 15m"
        );
        assert_eq!(
            warnings,
            [
                "this machine's clock is 3h behind array fa-b's: snapshot ages are measured on the array's clock; correct this machine's (NTP)"
            ]
        );
        let (_, refusals, warnings) = disclosed(Some(3 * HOUR_MS), 2 * HOUR_MS, true);
        assert!(refusals.is_empty());
        assert!(warnings[1].ends_with("accepted with --accept-data-loss"));
    }

    #[test]
    fn a_machine_ahead_of_the_array_does_not_age_a_fresh_snapshot() {
        let (loss, refusals, warnings) = disclosed(Some(-3 * HOUR_MS), 5 * 60_000, false);
        assert_eq!(loss.age_secs, 300.0);
        assert!(!loss.exceeds_rpo && refusals.is_empty());
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("this machine's clock is 3h ahead of array fa-b's"));
    }

    #[test]
    fn clocks_a_minute_apart_go_unmentioned() {
        for offset_ms in [60_000, -60_000, 0] {
            let (loss, _, warnings) = disclosed(Some(offset_ms), 5 * 60_000, false);
            assert_eq!(loss.age_secs, 300.0);
            assert!(warnings.is_empty(), "{offset_ms}: {warnings:?}");
        }
        let (_, _, warnings) = disclosed(Some(61_000), 5 * 60_000, false);
        assert!(warnings[0].contains("1m1s behind"), "{warnings:?}");
    }

    #[test]
    fn an_array_that_does_not_tell_its_time_is_measured_on_this_machines_clock() {
        let (loss, refusals, warnings) = disclosed(None, 5 * 60_000, false);
        assert_eq!(loss.age_secs, 300.0);
        assert!(refusals.is_empty());
        assert_eq!(
            warnings,
            [
                "array fa-b did not tell its time, so the age of snapshot `fa-a:prod-web-app.7` is measured on this machine's clock, which may differ from the array's"
            ]
        );
    }

    #[test]
    fn absurd_array_times_do_not_overflow() {
        for offset_ms in [i64::MAX, i64::MIN] {
            let inventory = inventory();
            let mut array = inventory.sites["site-b"]
                .facts()
                .unwrap()
                .array
                .clone()
                .unwrap();
            array.clock_offset_ms = Some(offset_ms);
            let mut snapshot = array.replicated_snapshots[0].clone();
            snapshot.created_ms = -offset_ms.signum() * i64::MAX;
            let (mut refusals, mut warnings) = (Vec::new(), Vec::new());
            let options = PlanOptions::default();
            let spec = example_spec();
            disclose(
                &spec,
                &inventory,
                &array,
                &snapshot,
                &options,
                &mut refusals,
                &mut warnings,
            );
        }
    }

    #[test]
    fn siblings_of_a_hard_server_group_boot_one_after_another() {
        use crate::plan::testing::{instance, web_servers};
        let grouped = |policy: &str| {
            let mut web = instance("web", "net", "10.0.0.1", 1);
            web.server_group = Some(ServerGroup {
                policy: policy.to_string(),
                ..web_servers()
            });
            web
        };
        let (anti, soft, alone) = (
            grouped("anti-affinity"),
            grouped("soft-anti-affinity"),
            instance("db", "net", "10.0.0.2", 1),
        );
        let member = |name, boot_order, depends_on, instance| MemberSource {
            name,
            boot_order,
            depends_on,
            instance,
            previous: None,
        };
        let web_3_after = ["web-2".to_string()];
        let (web_1, web_2, web_3, web_0, db) = (
            member("web-1", 2, &[][..], &anti),
            member("web-2", 2, &[][..], &anti),
            member("web-3", 2, &web_3_after[..], &anti),
            member("web-0", 3, &[][..], &anti),
            member("db-1", 1, &[][..], &alone),
        );
        // Listed against boot order and dependencies: the chain follows them, and the list's
        // order only between members neither orders (web-2 before web-1).
        let members = [&web_0, &web_3, &db, &web_2, &web_1];
        let chain = placement_chains(&members, |m| m.instance.server_group.clone());
        assert_eq!(
            chain,
            BTreeMap::from([("web-1", "web-2"), ("web-3", "web-1"), ("web-0", "web-3")])
        );

        // A soft policy never fails a boot: its members boot at once.
        let soft_members = [
            member("a", 1, &[][..], &soft),
            member("b", 1, &[][..], &soft),
        ];
        let members: Vec<&MemberSource> = soft_members.iter().collect();
        assert!(placement_chains(&members, |m| m.instance.server_group.clone()).is_empty());
    }

    #[test]
    fn array_names_are_flasharray_valid() {
        assert_eq!(array_name("", "web.1-0-abc"), "web-1-0-abc");
        let long = array_name("", &format!("{}-0-abcd1234", "x".repeat(80)));
        assert!(long.len() <= 63 && long.ends_with("-0-abcd1234"), "{long}");
        assert!(crate::spec::is_array_name(&long));
        let prefixed = array_name("drill-abcd1234-", &format!("{}-0", "y".repeat(80)));
        assert!(prefixed.len() <= 63, "{prefixed}");
        assert!(prefixed.starts_with("drill-abcd1234-y") && prefixed.ends_with("-0"));
        assert!(crate::spec::is_array_name(&prefixed));
    }
}
