//! What the commands that show and list print, as types. Each is the schema of its JSON
//! (`protector schema` writes them to `schemas/output/`, with the `format_version` every JSON
//! record starts with), and its fields, in order, are the rows of a shown record or the columns
//! of a list. Times are RFC 3339 in UTC, to the second; sizes and counts are numbers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::state::{CleanupProof, DrillResourceKind};

/// A record as [`super::table`] prints it: its fields in order.
pub fn fields(record: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(record) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    }
}

/// A time as every record shows it: RFC 3339, UTC, to the second.
pub fn timestamp(time: Option<DateTime<Utc>>) -> Option<String> {
    time.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// `protector operation show OP`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OperationShown {
    pub id: String,
    /// `failover`, `failback`, `drill`, `converge`, `sync_force`, `drill_cleanup`, `rollback`.
    #[serde(rename = "type")]
    pub kind: String,
    /// As recorded, or `interrupted` when it is recorded running and no process holds its lock.
    pub status: String,
    /// Percent of the plan's steps done.
    pub progress: u8,
    pub steps_completed: Vec<String>,
    pub steps_failed: Vec<String>,
    pub steps_running: Vec<String>,
    pub error_message: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub source_site: String,
    pub target_site: String,
    /// A drill's: what it left on its target.
    pub left_on_target: Vec<Leftover>,
    /// A drill's: the proof that its cleanup left nothing.
    pub cleanup_proof: Option<CleanupProof>,
    /// The command that continues or undoes an operation that stopped half-way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Something a drill created and has not removed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Leftover {
    pub kind: DrillResourceKind,
    pub name: String,
}

/// A row of `protector operation list FILE`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OperationRow {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub progress: u8,
    pub source_site: String,
    pub target_site: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
}

/// `protector protection-group show FILE`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GroupShown {
    pub name: String,
    pub description: Option<String>,
    pub status: String,
    pub primary_site: String,
    pub secondary_site: String,
    pub current_primary_site: String,
    pub failover_count: u64,
    pub last_failover_at: Option<String>,
    pub replication: String,
    pub members: Vec<MemberPlacement>,
    pub metadata_version: u64,
    /// `IN SYNC`, `OUT OF SYNC` or `UNREACHABLE`.
    pub sync_status: String,
    /// The newest snapshot on the replica's array holding every member's volume, or
    /// `UNPROTECTED (why)`.
    pub protected_since: String,
    pub last_operation: Option<LastOperation>,
    pub updated_at: Option<String>,
}

/// Where a member runs.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MemberPlacement {
    pub name: String,
    pub site: String,
}

/// The newest operation on the group.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LastOperation {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
}

/// `protector protection-group policy-show FILE`: where secrets come from, never their values.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PolicyShown {
    pub name: String,
    pub replication: String,
    pub array_protection_group: String,
    pub rpo: String,
    pub rto: String,
    pub primary: String,
    /// One field per site, named `site <name>`.
    #[serde(flatten)]
    pub sites: BTreeMap<String, SitePolicy>,
    /// Each pair as `{site: name}`.
    pub network_mappings: Vec<BTreeMap<String, String>>,
    pub flavor_mappings: Vec<BTreeMap<String, String>>,
    pub drill_networks: Vec<BTreeMap<String, String>>,
}

/// A site as the policy names it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SitePolicy {
    pub cloud: String,
    pub array: String,
    /// The array's URL, or `env:NAME` where it comes from.
    pub url: String,
    /// `env:NAME` or `file:PATH`.
    pub api_token_from: String,
    pub ca_cert: String,
    pub cinder_host: String,
}

/// A row of `protector protection-group sync-status FILE`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SyncRow {
    pub site: String,
    pub metadata_version: Option<u64>,
    pub status: String,
    pub current_primary_site: Option<String>,
    /// `IN SYNC`, `OUT OF SYNC` or `UNREACHABLE`.
    pub sync: String,
    /// On the replica's row only.
    pub protected_since: Option<String>,
}

/// A row of `protector site validate FILE SITE`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SiteCheck {
    pub check: String,
    /// `ok` or `FAILED`.
    pub status: String,
    pub detail: String,
}

/// A line of `-f json` progress (`apply`, `failover`, `failback`, `drill`, `rollback`,
/// `sync-force`): one JSON object per line on stdout, which `event` tells apart.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ProgressEvent {
    Planned(PlannedEvent),
    Step(StepEvent),
    Note(NoteEvent),
    OperationDone(OperationDone),
}

/// The plan about to be applied (a rollback's or a drill cleanup's is made on the spot).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PlannedEvent {
    pub event: PlannedTag,
    pub operation: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub steps: usize,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlannedTag {
    Planned,
}

/// A step, or (`undo_*`) the undoing of one by a rollback.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StepEvent {
    pub event: StepTag,
    pub step: String,
    pub site: String,
    pub action: String,
    /// Seconds since the command started.
    pub elapsed: f64,
    /// Done and failed: how long the step took, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Done: what the step created, as it recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<Value>,
    /// Retrying: the attempt that failed (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Failed and retrying: what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepTag {
    StepStarted,
    StepDone,
    StepFailed,
    StepRetrying,
    UndoStarted,
    UndoDone,
    UndoFailed,
    UndoRetrying,
}

/// Something the operator should know, said between steps.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NoteEvent {
    pub event: NoteTag,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoteTag {
    Note,
}

/// The last line: how the operation ended.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OperationDone {
    pub event: OperationDoneTag,
    pub operation: String,
    pub status: String,
    /// Seconds since the command started.
    pub elapsed: f64,
    pub steps_completed: usize,
    pub steps_failed: usize,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperationDoneTag {
    OperationDone,
}
