//! Planning: a pure function of (spec, inventory, recorded state, request) to a [`Plan`].
//!
//! A plan is a DAG of [`Step`]s (petgraph checks it and orders it), each with its action, the
//! site it acts on, the resources it creates (named deterministically from the operation id, so
//! a resumed apply adopts instead of duplicating) and an estimated duration. The plan carries
//! its basis (each site's state version and a fingerprint of the inventory facts it used) so
//! apply can refuse it once the world has moved, its predicted RTO under the per-service
//! concurrency budgets, the data-loss disclosure, and the group's view before and after (the
//! diff people review). No I/O happens here: everything is unit-tested without sockets.

mod converge;
pub mod diff;
mod drill;
mod failover;
pub mod file;
#[cfg(test)]
pub(crate) mod fuzz;
mod recreate;
mod rollback;
pub mod schedule;
pub use rollback::status_before;
mod sync;
mod takeover;
mod teardown;
#[cfg(test)]
pub(crate) mod testing;

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::inventory::{Inventory, ServerGroup};
use crate::spec::Spec;
use crate::state::{DrillResource, DrillResourceKind, RecordedState};

/// Version of the plan file format.
pub const FORMAT_VERSION: u32 = 1;

/// What to plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    Converge,
    Failover,
    Failback,
    Drill,
    /// Bring a site that was down back in line (`protection-group sync-force`).
    SyncForce,
    /// Remove what a drill left on its target (`drill cleanup OP`): after `--keep`, or a failure.
    DrillCleanup,
    /// Undo a failover or failback that failed or was interrupted (`rollback OP`): bring the
    /// workload back on its source, verified, before removing what the operation created.
    Rollback,
}

impl OperationKind {
    /// As the state records it and operators read it.
    pub fn as_str(&self) -> &'static str {
        match self {
            OperationKind::Converge => "converge",
            OperationKind::Failover => "failover",
            OperationKind::Failback => "failback",
            OperationKind::Drill => "drill",
            OperationKind::SyncForce => "sync_force",
            OperationKind::DrillCleanup => "drill_cleanup",
            OperationKind::Rollback => "rollback",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailoverType {
    Planned,
    Unplanned,
}

/// The operator's choices (command-line flags) that shape a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanOptions {
    /// `--type`, for failover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover_type: Option<FailoverType>,
    /// `--network-mapping SRC=DST`: added to (and overriding) the spec's pairs, source -> target.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub network_mappings: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub flavor_mappings: Vec<(String, String)>,
    pub reverse_replication: bool,
    pub force: bool,
    pub accept_data_loss: bool,
    pub fail_on_rto: bool,
    /// Drill: leave the drill instances running; `drill cleanup OP` removes them later.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep: bool,
    /// Drill cleanup: the drill (`op-...`) whose leftovers to remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<String>,
    /// Rollback: the operation (`op-...`) to undo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanRequest {
    pub operation: OperationKind,
    pub options: PlanOptions,
}

/// The operation a plan performs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Operation {
    /// `op-<uuid>`, derived from the plan's inputs: the same inputs give the same id.
    pub id: String,
    pub kind: OperationKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover_type: Option<FailoverType>,
    pub source_site: String,
    pub target_site: String,
    /// An operation that did not finish and that this one takes over (see `plan::takeover`):
    /// it is neither resumed nor rolled back once this one starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<String>,
}

/// Phases as operators see them (DESIGN §3), in execution order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Prepare,
    ValidateTarget,
    Quiesce,
    GetSnapshot,
    PromoteVolumes,
    ManageVolumes,
    RecreateInstances,
    /// Drill: the recreated instances are ACTIVE on their volumes.
    VerifyDrill,
    /// Drill: everything the drill created is removed, and that nothing is left is proven.
    CleanupDrill,
    /// Rollback: the source's instances run again on their own volumes, verified.
    RestoreSource,
    /// Rollback: what the undone operation created on its target is removed, and that nothing
    /// is left is proven.
    CleanupTarget,
    CleanupSource,
    ReverseReplication,
    Finalize,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Prepare => "prepare",
            Phase::ValidateTarget => "validate_target",
            Phase::Quiesce => "quiesce",
            Phase::GetSnapshot => "get_snapshot",
            Phase::PromoteVolumes => "promote_volumes",
            Phase::ManageVolumes => "manage_volumes",
            Phase::RecreateInstances => "recreate_instances",
            Phase::VerifyDrill => "verify_drill",
            Phase::CleanupDrill => "cleanup_drill",
            Phase::RestoreSource => "restore_source",
            Phase::CleanupTarget => "cleanup_target",
            Phase::CleanupSource => "cleanup_source",
            Phase::ReverseReplication => "reverse_replication",
            Phase::Finalize => "finalize",
        }
    }
}

/// Which concurrency budget a step draws from while it runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    NovaBoot,
    NovaOther,
    CinderManage,
    ArrayCopy,
    Other,
}

/// Where a volume copy takes its data from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotSource {
    /// A replicated volume snapshot that exists at plan time.
    Named { snapshot: String },
    /// The volume's snapshot in the protection-group snapshot a step of this plan takes.
    FromStep { step: String, volume: String },
}

/// How a step finds a resource that another step, or an earlier operation, created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum ResourceRef {
    /// What a step of this plan creates (its id is known once that step ran).
    Step { step: String },
    /// An id an earlier operation recorded.
    Recorded { id: String },
    /// What step `step` of operation `operation` may have created without recording it (it
    /// failed or was interrupted): found by the marker every effect leaves on what it creates.
    Marker { operation: String, step: String },
}

/// What a step does. Inputs that only exist once an earlier step ran (ids of created volumes,
/// ports) are referenced by that step's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Checks the target can take the workload (flavors, networks, quota, policy) right before
    /// anything changes.
    CheckTarget,
    StopInstance {
        instance_id: String,
        name: String,
    },
    /// A protection-group snapshot replicated now, and the wait for its transfer.
    SnapshotAndReplicate {
        array: String,
        protection_group: String,
        target_array: String,
    },
    CopyVolume {
        array: String,
        source: SnapshotSource,
        volume: String,
    },
    ManageVolume {
        cinder_host: String,
        array_volume: String,
        name: String,
        volume_type: Option<String>,
        bootable: bool,
    },
    CreatePort {
        network: String,
        fixed_ip: Option<String>,
        name: String,
        /// Its security groups on the target, by name (resolved to ids when it runs).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        security_groups: Vec<String>,
    },
    BootInstance {
        name: String,
        flavor: String,
        /// Steps creating its ports, in NIC order.
        port_steps: Vec<String>,
        /// Steps managing its volumes, boot volume first.
        volume_steps: Vec<String>,
        key_name: Option<String>,
        metadata: BTreeMap<String, String>,
        /// The zone to boot in; none: the target's scheduler chooses.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        availability_zone: Option<String>,
        /// The server group to boot into, by name on the target (resolved to its id when it
        /// runs: a `create_server_group` step before it may have made it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        server_group: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// A server group the members join on the target, which it lacks: same name and policy
    /// as on the source. A group that appeared there since the plan is adopted.
    CreateServerGroup {
        group: ServerGroup,
    },
    /// Deletes the instance, then the ports it leaves behind (ports created before the boot,
    /// as failover creates them, outlive their server and would hold its addresses).
    DeleteInstance {
        instance_id: String,
        name: String,
        port_ids: Vec<String>,
    },
    UnmanageVolume {
        volume_id: String,
        name: String,
    },
    /// Replication from `array` back to `target_array` for `protection_group`.
    ConfigureReplication {
        array: String,
        protection_group: String,
        /// The steps that manage the recreated members' volumes (their array volumes are
        /// known once those ran).
        volumes_from_steps: Vec<String>,
        /// The array volumes of members adopted where they already ran.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        volumes: Vec<String>,
        target_array: String,
    },
    /// Records the outcome in the state documents of the reachable sites.
    Finalize,
    /// Every instance of boot tier `boot_order` is ACTIVE: what the next tier waits for.
    TierActive {
        boot_order: u32,
    },
    CreateProtectionGroup {
        array: String,
        protection_group: String,
    },
    AddVolumesToGroup {
        array: String,
        protection_group: String,
        volumes: Vec<String>,
    },
    SetReplicationSchedule {
        array: String,
        protection_group: String,
        frequency_ms: u64,
    },
    AddTarget {
        array: String,
        protection_group: String,
        target_array: String,
    },
    /// On the target array: allow the replicated group (`<source array>:<group>`).
    AllowTarget {
        array: String,
        protection_group: String,
    },
    /// The instance `boot_step` booted is ACTIVE, each volume it booted with is `in-use` and
    /// attached to it, and it is what the member was, translated to the target (`profile`).
    VerifyInstance {
        name: String,
        boot_step: String,
        #[serde(default)]
        profile: Profile,
    },
    /// Takes the array volumes protector's unmanages left (`<name>-unmanaged`) out of
    /// `protection_group`, so they stop replicating (their data stays on the array); with
    /// `disable_replication`, the group, which replicated the direction the operation left,
    /// stops its schedule too.
    RetireVolumes {
        array: String,
        protection_group: String,
        volumes: Vec<String>,
        #[serde(default)]
        disable_replication: bool,
    },
    /// Converge, by the spec's `policy.retired_volumes`: destroys retired array volumes (left by
    /// protector's unmanages, out of every protection group) whose retention has passed, each
    /// only while it is still retired (same name, no host connection, in no group). Destroyed
    /// volumes stay recoverable until the array eradicates them; with `eradicate`, at once.
    DestroyRetiredVolumes {
        array: String,
        volumes: Vec<String>,
        #[serde(default)]
        eradicate: bool,
    },
    /// The post-completion window: every instance the `boot_steps` booted stays ACTIVE, its
    /// volumes `in-use` and its ports ACTIVE for `seconds`. One a site power loss stopped is
    /// started again first (it runs again when continued), one that goes to ERROR fails it.
    Stabilize {
        seconds: u64,
        boot_steps: Vec<String>,
    },
    /// Drill cleanup and rollback: deletes a server an operation booted.
    #[serde(alias = "delete_drill_instance")]
    RemoveInstance {
        name: String,
        server: ResourceRef,
    },
    /// Drill cleanup and rollback: deletes a server group an operation created (after the
    /// servers in it).
    RemoveServerGroup {
        name: String,
        server_group: ResourceRef,
    },
    /// Drill cleanup and rollback: deletes a port an operation created (it outlives its
    /// server).
    #[serde(alias = "delete_drill_port")]
    RemovePort {
        name: String,
        port: ResourceRef,
    },
    /// Drill cleanup and rollback: makes Cinder forget a volume an operation managed (a record
    /// a failed manage left is deleted: the array volume stays).
    #[serde(alias = "unmanage_drill_volume")]
    RemoveVolume {
        name: String,
        volume: ResourceRef,
    },
    /// Drill cleanup and rollback: takes an array volume an operation copied from a snapshot
    /// out of the protection group, if it is in it, and destroys it. Destroyed volumes stay
    /// recoverable on the array until it eradicates them.
    #[serde(alias = "destroy_drill_volume")]
    RemoveArrayVolume {
        array: String,
        /// Its name when the operation created it (Cinder renames what it manages).
        volume: String,
        array_volume: ResourceRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protection_group: Option<String>,
    },
    /// Rollback: stops the server the undone operation booted (found by id, or by its marker),
    /// so that the member never runs on both sites while its source starts again.
    StopRecovered {
        name: String,
        server: ResourceRef,
    },
    /// Rollback: the member's instance on the source runs again (started if stopped) on its
    /// own volumes and ports: ACTIVE, each volume `in-use` and attached to it, each fixed IP on
    /// one of its ports.
    RestoreInstance {
        instance_id: String,
        name: String,
        volume_ids: Vec<String>,
        fixed_ips: Vec<String>,
    },
    /// Rollback: lists the target for anything still tagged with `operation` (servers by
    /// metadata, ports and Cinder volumes by marker, its array volumes by id or planned name)
    /// and the source for each member's instance ACTIVE; fails naming what is wrong.
    ProveRolledBack {
        operation: String,
        /// The source site, where `members` must run.
        source: String,
        /// Member name -> its instance id on the source.
        members: BTreeMap<String, String>,
        /// The operation's array copies: (name when created, how to find it).
        array_volumes: Vec<(String, ResourceRef)>,
    },
    /// Drill cleanup: lists the target's servers, Cinder volumes, ports and array volumes and
    /// fails if any is still tagged with drill `drill` (named with `prefix`, carrying its
    /// marker, or one of its array volumes, found by id whatever their name now).
    ProveDrillClean {
        drill: String,
        prefix: String,
        array_volumes: Vec<ResourceRef>,
    },
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::CheckTarget => "check_target",
            Action::StopInstance { .. } => "stop_instance",
            Action::SnapshotAndReplicate { .. } => "snapshot_and_replicate",
            Action::CopyVolume { .. } => "copy_volume",
            Action::ManageVolume { .. } => "manage_volume",
            Action::CreatePort { .. } => "create_port",
            Action::BootInstance { .. } => "boot_instance",
            Action::CreateServerGroup { .. } => "create_server_group",
            Action::RemoveServerGroup { .. } => "remove_server_group",
            Action::DeleteInstance { .. } => "delete_instance",
            Action::UnmanageVolume { .. } => "unmanage_volume",
            Action::ConfigureReplication { .. } => "configure_replication",
            Action::Finalize => "finalize",
            Action::TierActive { .. } => "tier_active",
            Action::CreateProtectionGroup { .. } => "create_protection_group",
            Action::AddVolumesToGroup { .. } => "add_volumes",
            Action::SetReplicationSchedule { .. } => "set_schedule",
            Action::AddTarget { .. } => "add_target",
            Action::AllowTarget { .. } => "allow_target",
            Action::VerifyInstance { .. } => "verify_instance",
            Action::Stabilize { .. } => "stabilize",
            Action::RetireVolumes { .. } => "retire_volumes",
            Action::DestroyRetiredVolumes { .. } => "destroy_retired_volumes",
            Action::RemoveInstance { .. } => "remove_instance",
            Action::RemovePort { .. } => "remove_port",
            Action::RemoveVolume { .. } => "remove_volume",
            Action::RemoveArrayVolume { .. } => "remove_array_volume",
            Action::StopRecovered { .. } => "stop_recovered",
            Action::RestoreInstance { .. } => "restore_instance",
            Action::ProveRolledBack { .. } => "prove_rolled_back",
            Action::ProveDrillClean { .. } => "prove_drill_clean",
        }
    }

    pub fn budget(&self) -> Budget {
        match self {
            Action::BootInstance { .. } => Budget::NovaBoot,
            Action::StopInstance { .. }
            | Action::DeleteInstance { .. }
            | Action::RemoveInstance { .. }
            | Action::StopRecovered { .. }
            | Action::RestoreInstance { .. } => Budget::NovaOther,
            Action::ManageVolume { .. }
            | Action::UnmanageVolume { .. }
            | Action::RemoveVolume { .. } => Budget::CinderManage,
            Action::CopyVolume { .. } => Budget::ArrayCopy,
            _ => Budget::Other,
        }
    }

    /// What a step of this action creates on its site, and its name.
    pub fn creation(&self) -> Option<(DrillResourceKind, &str)> {
        match self {
            Action::CopyVolume { volume, .. } => Some((DrillResourceKind::ArrayVolume, volume)),
            Action::ManageVolume { name, .. } => Some((DrillResourceKind::CinderVolume, name)),
            Action::CreatePort { name, .. } => Some((DrillResourceKind::Port, name)),
            Action::BootInstance { name, .. } => Some((DrillResourceKind::Server, name)),
            Action::CreateServerGroup { group } => {
                Some((DrillResourceKind::ServerGroup, &group.name))
            }
            _ => None,
        }
    }

    /// Whether a continued run does the step again although its journal says it is done: a
    /// rollback's restore and a stabilization window make sure instances run, and the world
    /// may have moved since (their site lost power); doing it again is harmless.
    pub fn runs_again_on_resume(&self) -> bool {
        matches!(
            self,
            Action::RestoreInstance { .. } | Action::Stabilize { .. }
        )
    }

    /// What a cleanup step of this action removes.
    pub fn removal(&self) -> Option<(DrillResourceKind, &ResourceRef)> {
        match self {
            Action::RemoveInstance { server, .. } => Some((DrillResourceKind::Server, server)),
            Action::RemovePort { port, .. } => Some((DrillResourceKind::Port, port)),
            Action::RemoveServerGroup { server_group, .. } => {
                Some((DrillResourceKind::ServerGroup, server_group))
            }
            Action::RemoveVolume { volume, .. } => Some((DrillResourceKind::CinderVolume, volume)),
            Action::RemoveArrayVolume { array_volume, .. } => {
                Some((DrillResourceKind::ArrayVolume, array_volume))
            }
            _ => None,
        }
    }
}

/// What a recovered member must be on its target: what it had on its source, translated
/// through the mappings (and, for a failback, what it had there before).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Profile {
    /// Its flavor's name.
    pub flavor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Its NICs, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nics: Vec<ProfileNic>,
    /// Its user metadata (protector's markers aside).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The server group it is a member of, by its name on the target, with its policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_group: Option<ServerGroup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileNic {
    pub network: String,
    /// The address it keeps, when it keeps one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
}

/// A resource a step creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Resource {
    /// `array_volume`, `cinder_volume`, `port`, `server`, ...
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    /// Stable and readable: `manage_volume/web-1/0`.
    pub id: String,
    pub phase: Phase,
    pub site: String,
    /// The member it concerns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    pub action: Action,
    pub depends_on: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub creates: Vec<Resource>,
    pub estimate_secs: f64,
}

/// What the plan relies on: apply refuses the plan when this no longer holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Basis {
    /// Each site's state `metadata_version` (`None`: unreadable).
    pub state_versions: BTreeMap<String, Option<u64>>,
    /// SHA-256 of the inventory facts the plan used.
    pub inventory_fingerprint: String,
}

/// How long the operation should take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Estimate {
    /// The DAG run under the concurrency budgets: the predicted RTO.
    pub predicted_secs: f64,
    /// The same steps with a barrier after each phase (how runbooks usually run).
    pub phase_by_phase_secs: f64,
    /// One step at a time.
    pub one_at_a_time_secs: f64,
    pub rto_secs: f64,
    /// The step durations a drill measured, used instead of the built-in defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measured: Vec<MeasuredEstimate>,
}

/// Steps of one kind on one site are estimated as a drill measured them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MeasuredEstimate {
    pub site: String,
    /// The action kind (`boot_instance`, ...).
    pub action: String,
    pub secs: f64,
    /// How many of the drill's steps it was measured from.
    pub steps: u32,
    /// The drill that measured it.
    pub operation: String,
}

/// How old the data is that the operation will recover, against the RPO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DataLoss {
    /// The snapshot recovered, or `None` when the plan takes a fresh one (planned failover).
    pub snapshot: Option<String>,
    /// Age of that snapshot when planned; 0 for a fresh one.
    pub age_secs: f64,
    pub rpo_secs: f64,
    pub exceeds_rpo: bool,
}

/// One place a planned member will be, as the diff shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberView {
    pub site: String,
    pub instance: String,
    pub flavor: String,
    /// `network = ip` per NIC.
    pub networks: Vec<String>,
    /// Cinder volume ids, or `(known after apply)`.
    pub volumes: Vec<String>,
    /// Its security groups, in NIC order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// Its server group and the group's policy: `web-servers (anti-affinity)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_group: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The protection group as the diff shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GroupView {
    pub status: String,
    pub current_primary_site: String,
    pub members: BTreeMap<String, MemberView>,
}

/// A precondition that failed, with the way out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Refusal {
    pub message: String,
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    pub format_version: u32,
    pub protection_group: String,
    /// The spec the plan was made from (absolute), which `apply` reads for the sites and
    /// their credentials. Set by the command that saves the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_file: Option<String>,
    /// SHA-256 of the spec file's bytes the plan was made from: `apply PLAN` refuses a spec
    /// that differs, and a plan without it. Set by the command that saves the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_sha256: Option<String>,
    /// The release of protector that made the plan (`0.1.0`), so a reviewer knows which
    /// release a plan came from (`protector --version` adds the commit). Set by the command
    /// that saves the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protector_version: Option<String>,
    pub operation: Operation,
    pub options: PlanOptions,
    pub basis: Basis,
    /// In a topological order (dependencies first), stable for the same inputs.
    pub steps: Vec<Step>,
    pub estimate: Estimate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_loss: Option<DataLoss>,
    pub warnings: Vec<String>,
    pub before: GroupView,
    pub after: GroupView,
}

impl Step {
    /// What this step creates, as a drill records it; `id` as the step recorded it, if it did.
    pub fn drill_resource(&self, id: Option<String>) -> Option<DrillResource> {
        let (kind, name) = self.action.creation()?;
        Some(DrillResource {
            kind,
            name: name.to_string(),
            member: self.member.clone(),
            step: self.id.clone(),
            id,
        })
    }
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.steps.is_empty()
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|step| step.id == id)
    }
}

/// Plans `request`. Every failed precondition is returned together, each with its fix.
pub fn plan(
    spec: &Spec,
    inventory: &Inventory,
    state: &RecordedState,
    request: &PlanRequest,
) -> Result<Plan, Vec<Refusal>> {
    let plan = plan_operation(spec, inventory, state, request)?;
    // What apply and every other loader require of a plan file holds of every plan made, or
    // the plan would be saved only to be refused.
    file::check(&plan)
        .and_then(|()| file::check_spec(&plan, spec))
        .and_then(|()| file::check_resources(&plan, spec, inventory, state))
        .map_err(|problem| {
            vec![Refusal {
                message: format!("the planner made a plan its own checks refuse: {problem}"),
                hint: "this is a bug in protector's planner; please report it with the spec"
                    .to_string(),
            }]
        })?;
    Ok(plan)
}

fn plan_operation(
    spec: &Spec,
    inventory: &Inventory,
    state: &RecordedState,
    request: &PlanRequest,
) -> Result<Plan, Vec<Refusal>> {
    // Validation only warns (the file is well formed); every plan that would act on the
    // arrays refuses, so that an async plan is never run for a group declared synchronous.
    if spec.policy.replication == crate::spec::file::Replication::Sync
        && request.operation != OperationKind::SyncForce
    {
        return Err(vec![Refusal {
            message: format!(
                "protection group `{}` uses `replication: sync` (ActiveDR pods), which protector does not support yet",
                spec.name
            ),
            hint: "use `replication: async` (FlashArray protection-group snapshots) to protect it with protector".to_string(),
        }]);
    }
    match request.operation {
        OperationKind::Converge => converge::plan(spec, inventory, state, &request.options),
        OperationKind::SyncForce => sync::plan(spec, inventory, state, &request.options),
        OperationKind::Failover | OperationKind::Failback => failover::plan(
            spec,
            inventory,
            state,
            request.operation.clone(),
            &request.options,
        ),
        OperationKind::Drill => drill::plan(spec, inventory, state, &request.options),
        OperationKind::DrillCleanup => drill::cleanup(spec, inventory, state, &request.options),
        OperationKind::Rollback => rollback::plan(spec, inventory, state, &request.options),
    }
}

/// Planned operations change both sites: refused while their records disagree (a site was
/// down during an operation) unless `--force`, which plans anyway with a warning.
fn check_sync(
    state: &RecordedState,
    options: &PlanOptions,
    refusals: &mut Vec<Refusal>,
    warnings: &mut Vec<String>,
) {
    let status = state.sync();
    if status == crate::state::SyncStatus::InSync {
        return;
    }
    if options.force {
        warnings.push(format!(
            "the sites' recorded state is {}; planning anyway because of --force",
            status.label()
        ));
    } else {
        refusals.push(Refusal {
            message: format!("the sites' recorded state is {}", status.label()),
            hint: "bring the sites in sync with `protector protection-group sync-force FILE`, or pass --force".to_string(),
        });
    }
}

/// The steps as a plan keeps them: in a topological order, each estimated as the last drill
/// measured its kind on its site (else the default); or the refusal a planner bug (a cycle)
/// deserves.
fn ordered(mut steps: Vec<Step>, state: &RecordedState) -> Result<Vec<Step>, Vec<Refusal>> {
    if let Some(measured) = state.newest().map(|doc| &doc.measured) {
        for step in &mut steps {
            if let Some(duration) = measured
                .get(&step.site)
                .and_then(|kinds| kinds.get(step.action.kind()))
            {
                step.estimate_secs = duration.secs;
            }
        }
    }
    order(steps).map_err(|cycle| {
        vec![Refusal {
            message: format!("the plan's steps form a cycle through `{cycle}`"),
            hint: "this is a bug in protector's planner; please report it with the spec"
                .to_string(),
        }]
    })
}

/// How long the steps take under the default budgets, against the policy's RTO, and which of
/// their estimates a drill measured.
fn estimate(steps: &[Step], spec: &Spec, state: &RecordedState) -> Estimate {
    let budgets = schedule::Budgets::default();
    let used: BTreeSet<(&str, &str)> = steps
        .iter()
        .map(|step| (step.site.as_str(), step.action.kind()))
        .collect();
    let measured = state
        .newest()
        .into_iter()
        .flat_map(|doc| &doc.measured)
        .flat_map(|(site, kinds)| kinds.iter().map(move |(kind, d)| (site, kind, d)))
        .filter(|(site, kind, _)| used.contains(&(site.as_str(), kind.as_str())))
        .map(|(site, kind, duration)| MeasuredEstimate {
            site: site.clone(),
            action: kind.clone(),
            secs: duration.secs,
            steps: duration.steps,
            operation: duration.operation.clone(),
        })
        .collect();
    Estimate {
        predicted_secs: schedule::makespan(steps, &budgets),
        phase_by_phase_secs: schedule::phase_by_phase(steps, &budgets),
        one_at_a_time_secs: schedule::one_at_a_time(steps),
        rto_secs: spec.policy.rto.as_secs_f64(),
        measured,
    }
}

/// The steps in a topological order (dependencies first; among ready steps, by phase then id),
/// or the id of a step on a cycle or with an unknown dependency.
fn order(steps: Vec<Step>) -> Result<Vec<Step>, String> {
    use petgraph::graph::DiGraph;
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<_> = (0..steps.len())
        .map(|index| graph.add_node(index))
        .collect();
    let index_of: BTreeMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(index, step)| (step.id.as_str(), index))
        .collect();
    for (index, step) in steps.iter().enumerate() {
        for dependency in &step.depends_on {
            let Some(&from) = index_of.get(dependency.as_str()) else {
                return Err(step.id.clone());
            };
            graph.add_edge(nodes[from], nodes[index], ());
        }
    }
    if let Err(cycle) = petgraph::algo::toposort(&graph, None) {
        return Err(steps[graph[cycle.node_id()]].id.clone());
    }
    // Kahn's algorithm with a sorted frontier, for a stable, readable order.
    let mut waiting: Vec<usize> = steps.iter().map(|step| step.depends_on.len()).collect();
    let mut frontier: std::collections::BTreeSet<(Phase, &str, usize)> = steps
        .iter()
        .enumerate()
        .filter(|(index, _)| waiting[*index] == 0)
        .map(|(index, step)| (step.phase, step.id.as_str(), index))
        .collect();
    let mut ordered = Vec::with_capacity(steps.len());
    while let Some(first) = frontier.pop_first() {
        let (_, _, index) = first;
        ordered.push(index);
        for edge in graph.neighbors(nodes[index]) {
            let dependent = graph[edge];
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                frontier.insert((
                    steps[dependent].phase,
                    steps[dependent].id.as_str(),
                    dependent,
                ));
            }
        }
    }
    let mut slots: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
    Ok(ordered
        .into_iter()
        .filter_map(|index| slots[index].take())
        .collect())
}

/// SHA-256 (hex) of a value's JSON: fingerprints and deterministic ids.
pub fn fingerprint<T: Serialize>(value: &T) -> String {
    sha256_hex(&serde_json::to_vec(value).unwrap_or_default())
}

/// SHA-256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `op-<uuid>` from a fingerprint: deterministic, uuid-shaped.
pub fn operation_id(fingerprint: &str) -> String {
    let hex: String = fingerprint
        .chars()
        .chain(std::iter::repeat('0'))
        .take(32)
        .collect();
    format!(
        "op-{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::testing::{
        converge_request, drill_request, example_spec, inventory, no_state, request,
    };
    use super::*;
    use crate::spec::file::Replication;

    #[test]
    fn a_group_declared_synchronous_is_refused_by_every_plan_that_acts_on_the_arrays() {
        let mut spec = example_spec();
        spec.policy.replication = Replication::Sync;
        for request in [
            request(FailoverType::Planned),
            request(FailoverType::Unplanned),
            drill_request(false),
            converge_request(),
        ] {
            let refusals = plan(&spec, &inventory(), &no_state(), &request).unwrap_err();
            assert_eq!(refusals.len(), 1, "{refusals:?}");
            assert!(refusals[0].message.contains("replication: sync"));
            assert!(refusals[0].hint.contains("replication: async"));
        }
    }
}
