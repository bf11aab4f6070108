//! What one simulated FlashArray holds, as plain data: volumes, snapshots, protection groups,
//! their snapshots (with replication transfer state on the target side) and the connections
//! to peer arrays. Names follow FlashArray rules: a replicated protection group appears on its
//! target as `<source array>:<pg>`, its snapshots as `<source array>:<pg>.<N>` and their volume
//! snapshots as `<source array>:<pg>.<N>.<volume>`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Array {
    pub id: String,
    pub name: String,
    /// API tokens accepted by `POST /login`: token -> user name.
    #[serde(skip)]
    pub api_tokens: BTreeMap<String, String>,
    /// Sessions opened by `POST /login`: `x-auth-token` -> user name.
    #[serde(skip)]
    pub sessions: BTreeMap<String, String>,
    pub volumes: BTreeMap<String, Volume>,
    pub volume_snapshots: BTreeMap<String, VolumeSnapshot>,
    pub protection_groups: BTreeMap<String, ProtectionGroup>,
    pub protection_group_snapshots: BTreeMap<String, ProtectionGroupSnapshot>,
    /// Replication connections to peer arrays, by peer array name.
    pub connections: BTreeMap<String, Connection>,
    /// Hosts (initiators) known to the array, by name: Cinder's Pure driver creates them to
    /// attach volumes.
    pub hosts: BTreeMap<String, Host>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    pub id: String,
    pub name: String,
    /// Bytes.
    pub provisioned: u64,
    pub serial: String,
    /// Milliseconds since the epoch.
    pub created: i64,
    /// Destroyed volumes wait in the array's "destroyed" bin until eradicated or recovered.
    pub destroyed: bool,
    /// The snapshot or volume this one was copied from, if any.
    pub source: Option<String>,
    /// An opaque token standing for the volume's data: copies and snapshots carry it along, so
    /// tests can tell which snapshot a recovered volume was made from.
    pub content: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VolumeSnapshot {
    pub id: String,
    pub name: String,
    /// Name of the volume it was taken of (on the source array for replicated snapshots).
    pub source: String,
    pub suffix: String,
    pub provisioned: u64,
    pub created: i64,
    pub destroyed: bool,
    pub content: String,
    /// The protection-group snapshot this belongs to, if any.
    pub protection_group_snapshot: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProtectionGroup {
    pub id: String,
    /// `prod-web-app` on its source; `fa-a:prod-web-app` on a target.
    pub name: String,
    /// The array that owns it (takes and replicates its snapshots).
    pub source: String,
    /// Member volume names (source side only).
    pub volumes: Vec<String>,
    pub targets: Vec<Target>,
    pub replication_schedule: Schedule,
    pub snapshot_schedule: Schedule,
    pub source_retention: Retention,
    pub target_retention: Retention,
    pub destroyed: bool,
    /// The next snapshot suffix number.
    pub next_suffix: u64,
    /// When the replication schedule fires next.
    #[serde(skip)]
    pub next_replication: Option<Instant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// The target array's name.
    pub name: String,
    /// Whether the target allows this group to replicate to it (set on the target side).
    pub allowed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    pub enabled: bool,
    /// Milliseconds between snapshots (FlashArray's `frequency`).
    pub frequency: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Retention {
    /// Keep every snapshot for this many seconds.
    pub all_for_sec: u64,
    pub per_day: u64,
    pub days: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProtectionGroupSnapshot {
    pub id: String,
    /// `prod-web-app.3` on the source; `fa-a:prod-web-app.3` on a target.
    pub name: String,
    /// The protection group's name on this array.
    pub source: String,
    pub suffix: String,
    pub created: i64,
    pub destroyed: bool,
    /// Replication of this snapshot to (on the source) or from (on a target) the peer.
    pub transfer: Option<Transfer>,
}

/// Replication progress of one protection-group snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Transfer {
    /// 0.0 to 1.0.
    pub progress: f64,
    pub started: i64,
    pub completed: Option<i64>,
    /// Bytes to move in all (sum of the provisioned sizes of its volume snapshots).
    pub data_total: u64,
    /// The peer array: the target on the source side, the source on the target side.
    pub peer: String,
    /// Transfer time still needed at the modelled rate; advances only while both sites are up.
    #[serde(skip)]
    pub remaining: Duration,
    #[serde(skip)]
    pub total: Duration,
    /// When `remaining` was last brought up to date.
    #[serde(skip)]
    pub updated: Option<Instant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub id: String,
    /// The peer array's name.
    pub name: String,
    pub management_address: String,
    /// `connected`; `disconnected` while the peer's site is down.
    pub status: String,
    /// `async-replication`.
    pub r#type: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub name: String,
    pub iqns: Vec<String>,
    pub wwns: Vec<String>,
    pub nqns: Vec<String>,
    /// Volumes connected to this host, with their LUN.
    pub connections: BTreeMap<String, u32>,
}
