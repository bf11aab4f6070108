//! Recorded state: one versioned document per protection group per site.
//!
//! The document is what makes failback a reversal and a crashed run resumable: it holds the
//! group's status and placement (which site runs each member, with which instance and volumes),
//! the last known inventory of each member (needed when the source site is gone), the sync
//! status towards the peer site, and the operations run so far. Every apply bumps
//! `metadata_version` on each site it writes; a plan records the versions it was computed from so
//! apply can refuse a stale plan.
//!
//! Where documents, journals, plan copies and locks are kept is a backend's business, behind
//! [`store::StateStore`]: commands open the store the spec's `state:` names ([`store::open`]).

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod fuzz;
pub mod index;
pub mod journal;
pub mod local;
pub mod store;

pub use store::{StateStore, StoreError};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::inventory::Instance;
use crate::spec::Spec;

/// Version of the document's format (not of its content: that is `metadata_version`).
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateDocument {
    pub format: u32,
    pub protection_group: String,
    /// The site this copy lives on.
    pub site: String,
    /// Bumped by every write; 0 for a group never applied.
    pub metadata_version: u64,
    pub status: GroupStatus,
    pub primary_site: String,
    pub secondary_site: String,
    /// Where the workload runs now (the primary, or the secondary after a failover).
    pub current_primary_site: String,
    pub failover_count: u32,
    pub last_failover_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Sync status towards each peer site.
    pub sync: BTreeMap<String, PeerSync>,
    /// Placement and last known inventory of each member.
    pub members: BTreeMap<String, MemberRecord>,
    /// Operations run on this group, oldest first.
    pub operations: Vec<OperationRecord>,
    /// Source-side cleanup an unplanned failover could not do (the source was down); done by
    /// `sync-force` or the next failback so the old primary never boots the workload again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_cleanup: Vec<PendingCleanup>,
    /// How long each kind of step took on each site when the last drill ran it (site -> action
    /// kind): later plans estimate with these instead of the built-in defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub measured: BTreeMap<String, BTreeMap<String, MeasuredDuration>>,
    /// Array volumes protector's operations retired (unmanaged, out of replication, data
    /// kept) and has not destroyed: what `policy.retired_volumes` applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_volumes: Vec<RetiredVolume>,
}

/// An array volume an operation retired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredVolume {
    pub array: String,
    /// Its name on the array (`<name>-unmanaged`).
    pub name: String,
    pub retired_at: DateTime<Utc>,
    /// The operation that retired it.
    pub operation: String,
}

/// How long steps of one kind took on one site in one drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasuredDuration {
    /// The 90th percentile (nearest rank) of the steps' durations: a drill's steps run under
    /// the same concurrency as a failover's, and the slow ones make the RTO.
    pub secs: f64,
    /// How many steps it was measured from.
    pub steps: u32,
    /// The drill that measured it.
    pub operation: String,
    pub measured_at: DateTime<Utc>,
}

/// The protection group's status (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupStatus {
    Active,
    FailingOver,
    FailedOver,
    FailingBack,
    Error,
}

impl GroupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Active => "active",
            GroupStatus::FailingOver => "failing_over",
            GroupStatus::FailedOver => "failed_over",
            GroupStatus::FailingBack => "failing_back",
            GroupStatus::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SyncStatus {
    InSync,
    OutOfSync,
    Unreachable,
}

impl SyncStatus {
    /// As operators read it: `IN SYNC`, `OUT OF SYNC`, `UNREACHABLE`.
    pub fn label(self) -> &'static str {
        match self {
            SyncStatus::InSync => "IN SYNC",
            SyncStatus::OutOfSync => "OUT OF SYNC",
            SyncStatus::Unreachable => "UNREACHABLE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerSync {
    pub status: SyncStatus,
    /// The peer's `metadata_version` when last compared.
    pub peer_version: Option<u64>,
    pub checked_at: Option<DateTime<Utc>>,
}

/// Where a member runs and what it was made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub site: String,
    pub instance_id: Option<String>,
    /// Array volumes holding its data, boot volume first.
    pub array_volumes: Vec<String>,
    /// The instance as last discovered: what a failback restores (name, flavor, networks,
    /// fixed IPs) even when its site cannot be asked.
    pub last_known: Option<Instance>,
    /// The instance on the site it left at the last failover or failback: what the reverse
    /// operation restores (original flavor, networks and fixed IPs) exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Instance>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationRecord {
    /// `op-<uuid>`.
    pub id: String,
    pub kind: String,
    pub status: OperationStatus,
    pub progress: u8,
    pub steps_completed: Vec<String>,
    pub steps_failed: Vec<String>,
    pub error_message: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub source_site: String,
    pub target_site: String,
    /// A drill: what it created on its target and has not removed (it ran with `--keep`, or
    /// failed); `protector drill cleanup OP` removes it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_on_target: Vec<DrillResource>,
    /// A drill or drill cleanup that proved its drill left nothing behind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<CleanupProof>,
    /// The rollback (`op-...`) undoing this operation, once one started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
    /// A rollback: the operation (`op-...`) it undoes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolls_back: Option<String>,
    /// The operation (`op-...`) that took over this one's work (an unplanned failover after its
    /// source was lost): this one neither resumes nor rolls back any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
}

/// Something a drill created on its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DrillResource {
    pub kind: DrillResourceKind,
    /// Its name when created.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// The drill's step that created it.
    pub step: String,
    /// Its id as that step recorded it; `None` when the step failed or was interrupted first
    /// (the resource, if any, is then found by the marker the step leaves on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DrillResourceKind {
    Server,
    Port,
    CinderVolume,
    ArrayVolume,
    ServerGroup,
}

impl DrillResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DrillResourceKind::Server => "server",
            DrillResourceKind::Port => "port",
            DrillResourceKind::CinderVolume => "cinder_volume",
            DrillResourceKind::ArrayVolume => "array_volume",
            DrillResourceKind::ServerGroup => "server_group",
        }
    }

    /// The key under which the creating step records the resource's id.
    pub fn output(self) -> &'static str {
        match self {
            DrillResourceKind::Server => "server",
            DrillResourceKind::Port => "port",
            DrillResourceKind::CinderVolume => "cinder_volume",
            // An array volume's id survives the renames Cinder's driver makes; its name does not.
            DrillResourceKind::ArrayVolume => "array_volume_id",
            DrillResourceKind::ServerGroup => "server_group",
        }
    }
}

/// That nothing tagged with a drill was left on its target when its cleanup ended. Recorded
/// only then: when something is left, the cleanup fails and its error names what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CleanupProof {
    /// The drill (`op-...`).
    pub drill: String,
    pub site: String,
    pub proven_at: DateTime<Utc>,
    /// How many of each kind of object (`servers`, `cinder_volumes`, `ports`, `server_groups`,
    /// `array_volumes`) the proof listed on the site.
    pub listed: BTreeMap<String, u64>,
    /// The drill's array volumes, destroyed: the array keeps them recoverable until it
    /// eradicates them, then they are gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destroyed: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperationStatus {
    Pending,
    Running,
    Completed,
    Failed,
    RollingBack,
    RolledBack,
}

impl OperationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Pending => "pending",
            OperationStatus::Running => "running",
            OperationStatus::Completed => "completed",
            OperationStatus::Failed => "failed",
            OperationStatus::RollingBack => "rolling_back",
            OperationStatus::RolledBack => "rolled_back",
        }
    }

    /// Nothing will change it unless someone acts (resume, rollback).
    pub fn is_settled(self) -> bool {
        !matches!(
            self,
            OperationStatus::Pending | OperationStatus::Running | OperationStatus::RollingBack
        )
    }
}

/// One line of an operation's journal: a step started, finished (with the ids of what it
/// created, so a resumed run adopts them) or failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub at: DateTime<Utc>,
    pub step: String,
    pub event: JournalEvent,
    /// Resource kind -> id of what the step created (`server`, `cinder_volume`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub created: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalEvent {
    Started,
    Done,
    Failed,
    /// An attempt of the step failed (its `error`) and the step tries again; still running.
    Retrying,
    /// Rollback: undoing the step began, ended, or failed.
    UndoStarted,
    Undone,
    UndoFailed,
}

impl JournalEvent {
    /// As the journal writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalEvent::Started => "started",
            JournalEvent::Done => "done",
            JournalEvent::Failed => "failed",
            JournalEvent::Retrying => "retrying",
            JournalEvent::UndoStarted => "undo_started",
            JournalEvent::Undone => "undone",
            JournalEvent::UndoFailed => "undo_failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingCleanup {
    pub site: String,
    pub member: String,
    pub instance_id: Option<String>,
    /// Cinder volume ids to unmanage.
    pub volume_ids: Vec<String>,
    pub operation: String,
}

impl StateDocument {
    /// The state of a group that was never applied: active on its primary, version 0.
    pub fn initial(spec: &Spec, site: &str) -> StateDocument {
        StateDocument {
            format: FORMAT,
            protection_group: spec.name.clone(),
            site: site.to_string(),
            metadata_version: 0,
            status: GroupStatus::Active,
            primary_site: spec.primary.clone(),
            secondary_site: spec.secondary().to_string(),
            current_primary_site: spec.primary.clone(),
            failover_count: 0,
            last_failover_at: None,
            updated_at: None,
            sync: BTreeMap::new(),
            members: BTreeMap::new(),
            operations: Vec::new(),
            pending_cleanup: Vec::new(),
            measured: BTreeMap::new(),
            retired_volumes: Vec::new(),
        }
    }
}

/// The recorded state of a group as planning sees it: each site's document, or `None` where the
/// site's store could not be read; and the runs of the operations a plan works from (the one a
/// rollback undoes, the one a failover takes over), as their journals tell.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedState {
    pub sites: BTreeMap<String, Option<StateDocument>>,
    pub runs: BTreeMap<String, RecordedRun>,
}

/// An operation's plan and how far its run got.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRun {
    pub plan: crate::plan::Plan,
    pub progress: journal::Progress,
}

impl RecordedState {
    /// The freshest readable document (highest `metadata_version`).
    pub fn newest(&self) -> Option<&StateDocument> {
        self.sites
            .values()
            .flatten()
            .max_by_key(|document| document.metadata_version)
    }

    /// How `site`'s record agrees with the newest: OUT OF SYNC when it is older (or missing
    /// while another exists), else what its document says of its peer (UNREACHABLE when an
    /// operation could not write the peer).
    pub fn site_sync(&self, site: &str) -> SyncStatus {
        let newest = self.newest().map(|doc| doc.metadata_version);
        let document = self.sites.get(site).and_then(|doc| doc.as_ref());
        match (document, newest) {
            (None, None) => SyncStatus::InSync,
            (Some(doc), Some(newest)) if doc.metadata_version == newest => doc
                .sync
                .values()
                .map(|peer| peer.status)
                .find(|status| *status != SyncStatus::InSync)
                .unwrap_or(SyncStatus::InSync),
            _ => SyncStatus::OutOfSync,
        }
    }

    /// [`Self::site_sync`] as things stand: a peer recorded UNREACHABLE that `answers` now is
    /// back and behind, so OUT OF SYNC (until `sync-force` brings it in line), not UNREACHABLE.
    pub fn site_sync_now(&self, site: &str, answers: impl Fn(&str) -> bool) -> SyncStatus {
        let status = self.site_sync(site);
        let document = self.sites.get(site).and_then(|doc| doc.as_ref());
        let unreachable_peers_answer = document.is_some_and(|doc| {
            doc.sync
                .iter()
                .filter(|(_, peer)| peer.status == SyncStatus::Unreachable)
                .all(|(peer, _)| answers(peer))
        });
        match status {
            SyncStatus::Unreachable if unreachable_peers_answer => SyncStatus::OutOfSync,
            other => other,
        }
    }

    /// The group's sync status: UNREACHABLE before OUT OF SYNC before IN SYNC.
    pub fn sync(&self) -> SyncStatus {
        let statuses: Vec<SyncStatus> =
            self.sites.keys().map(|site| self.site_sync(site)).collect();
        [SyncStatus::Unreachable, SyncStatus::OutOfSync]
            .into_iter()
            .find(|status| statuses.contains(status))
            .unwrap_or(SyncStatus::InSync)
    }

    /// Repairs documents that a crash left behind: an operation writes the next version to
    /// every site it reaches, one after another, and records in each that its peers were
    /// written along (IN SYNC at that version). A site whose document is older than a newer one
    /// that says so missed its write only because the writer stopped in between; it gets the
    /// newest document. (A site the writer could not reach is recorded UNREACHABLE instead and
    /// waits for `sync-force`.) Returns the repaired sites.
    pub fn heal(&mut self) -> Vec<String> {
        let Some(newest) = self.newest().cloned() else {
            return Vec::new();
        };
        let torn: Vec<String> = self
            .sites
            .iter()
            .filter(|(site, document)| {
                let behind = document
                    .as_ref()
                    .is_none_or(|doc| doc.metadata_version < newest.metadata_version);
                let written_along = newest.sync.get(*site).is_some_and(|peer| {
                    peer.status == SyncStatus::InSync
                        && peer.peer_version == Some(newest.metadata_version)
                });
                behind && written_along
            })
            .map(|(site, _)| site.clone())
            .collect();
        for site in &torn {
            let mut healed = newest.clone();
            healed.site = site.clone();
            healed.sync.remove(site);
            // Towards the site whose document it copies: written along, at this version.
            healed.sync.insert(
                newest.site.clone(),
                PeerSync {
                    status: SyncStatus::InSync,
                    peer_version: Some(newest.metadata_version),
                    checked_at: newest.updated_at,
                },
            );
            self.sites.insert(site.clone(), Some(healed));
        }
        torn
    }

    /// The newest record of operation `operation`.
    pub fn record(&self, operation: &str) -> Option<&OperationRecord> {
        self.newest()?
            .operations
            .iter()
            .find(|op| op.id == operation)
    }

    /// Each site's `metadata_version` (absent: unreadable): a plan's basis.
    pub fn versions(&self) -> BTreeMap<String, Option<u64>> {
        self.sites
            .iter()
            .map(|(site, document)| (site.clone(), document.as_ref().map(|d| d.metadata_version)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        crate::plan::testing::example_spec()
    }

    /// Both sites' documents at `version`, each saying the other was written along.
    fn in_sync(version: u64) -> RecordedState {
        let spec = spec();
        let mut sites = BTreeMap::new();
        for (site, peer) in [("site-a", "site-b"), ("site-b", "site-a")] {
            let mut doc = StateDocument::initial(&spec, site);
            doc.metadata_version = version;
            doc.sync.insert(
                peer.to_string(),
                PeerSync {
                    status: SyncStatus::InSync,
                    peer_version: Some(version),
                    checked_at: None,
                },
            );
            sites.insert(site.to_string(), Some(doc));
        }
        RecordedState {
            sites,
            ..RecordedState::default()
        }
    }

    #[test]
    fn a_write_cut_between_the_sites_is_repaired_from_the_newer_document() {
        let mut state = in_sync(4);
        let mut newer = in_sync(5).sites["site-a"].clone().unwrap();
        newer.status = GroupStatus::FailedOver;
        state.sites.insert("site-a".to_string(), Some(newer));
        assert_eq!(state.sync(), SyncStatus::OutOfSync);

        assert_eq!(state.heal(), vec!["site-b".to_string()]);
        let healed = state.sites["site-b"].as_ref().unwrap();
        assert_eq!(healed.site, "site-b");
        assert_eq!(healed.metadata_version, 5);
        assert_eq!(healed.status, GroupStatus::FailedOver);
        assert_eq!(healed.sync["site-a"].peer_version, Some(5));
        assert!(!healed.sync.contains_key("site-b"));
        assert_eq!(state.sync(), SyncStatus::InSync);
        assert!(state.heal().is_empty(), "nothing left to repair");
    }

    #[test]
    fn a_site_the_writer_could_not_reach_is_not_repaired() {
        let mut state = in_sync(4);
        let mut newer = in_sync(5).sites["site-b"].clone().unwrap();
        newer.sync.get_mut("site-a").unwrap().status = SyncStatus::Unreachable;
        newer.sync.get_mut("site-a").unwrap().peer_version = Some(4);
        state.sites.insert("site-b".to_string(), Some(newer));
        assert!(state.heal().is_empty());
        assert_eq!(state.sync(), SyncStatus::Unreachable);
        // Once site-a answers again it is behind, not unreachable; site-a's own older record
        // reads OUT OF SYNC either way.
        assert_eq!(
            state.site_sync_now("site-b", |_| false),
            SyncStatus::Unreachable
        );
        assert_eq!(
            state.site_sync_now("site-b", |peer| peer == "site-a"),
            SyncStatus::OutOfSync
        );
        assert_eq!(
            state.site_sync_now("site-a", |_| false),
            SyncStatus::OutOfSync
        );
    }
}
