//! Cinder v3 wire types: volumes (create, show, list, metadata), manage/unmanage of existing
//! backend volumes, backend pools, volume types, project quotas, and Cinder's error bodies.
//!
//! Shared by protector's Cinder client (deserializes) and the simulator (serializes), so they
//! follow the API reference samples field for field (`tests/it/api_samples.rs` proves it).
//! Conventions: a field every microversion sends is plain (`Option` when JSON null is allowed,
//! and then always serialized); a field that depends on the microversion or on policy (most
//! `os-*` attributes are admin-only) is an `Option` left out when `None`, and an
//! `Option<Option<T>>` when it can also be null (outer `None`: absent; `Some(None)`: null).
//! Unknown fields are ignored, never an error.

use std::collections::BTreeMap;

use crate::common::{bool_or_bool_string, double_option};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

// ---------------------------------------------------------------------------------------------
// Volumes
// ---------------------------------------------------------------------------------------------

/// `GET /volumes/{id}`, and the answer to create and manage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeResponse {
    pub volume: Volume,
}

/// `GET /volumes/detail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumesDetailList {
    pub volumes: Vec<Volume>,
    /// The `next` link when the page was cut by `limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes_links: Option<Vec<Link>>,
    /// >= 3.45 with `?with_count=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// `GET /volumes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumesList {
    pub volumes: Vec<VolumeSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes_links: Option<Vec<Link>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// A volume as `GET /volumes` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeSummary {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub links: Vec<Link>,
}

/// A volume in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `creating`, `available`, `in-use`, `error`, `error_managing`, ...
    pub status: String,
    /// GiB.
    pub size: u64,
    pub availability_zone: String,
    pub created_at: String,
    /// The volume type's name.
    #[serde(default)]
    pub volume_type: Option<String>,
    pub bootable: StringBool,
    /// A JSON boolean (the manage response sample's `"false"` is a documentation slip).
    #[serde(deserialize_with = "bool_or_bool_string")]
    pub encrypted: bool,
    pub attachments: Vec<VolumeAttachment>,
    /// Where protector records the FlashArray volume name and the operation that created the
    /// volume, so a volume can be traced to its array volume after a failover.
    pub metadata: BTreeMap<String, String>,
    pub links: Vec<Link>,
    pub user_id: String,
    #[serde(default)]
    pub snapshot_id: Option<String>,
    #[serde(default)]
    pub source_volid: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub updated_at: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiattach: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub replication_status: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub consistencygroup_id: Option<Option<String>>,
    /// Admin only.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub migration_status: Option<Option<String>>,
    /// Admin only: `host@backend#pool`, the backend that owns the volume (DESIGN's
    /// `cinder_host`); null until scheduled.
    #[serde(
        rename = "os-vol-host-attr:host",
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub host: Option<Option<String>>,
    /// Admin only.
    #[serde(
        rename = "os-vol-mig-status-attr:migstat",
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub migstat: Option<Option<String>>,
    /// Admin only: the id the backend names the volume after, when a migration changed it.
    #[serde(
        rename = "os-vol-mig-status-attr:name_id",
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub name_id: Option<Option<String>>,
    /// By policy (admin and owner).
    #[serde(
        rename = "os-vol-tenant-attr:tenant_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tenant_id: Option<String>,
    /// Present when the volume was created from an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_image_metadata: Option<BTreeMap<String, String>>,
    /// >= 3.13.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub group_id: Option<Option<String>>,
    /// >= 3.21, admin only: the backend's own id for the volume.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub provider_id: Option<Option<String>>,
    /// >= 3.48.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub service_uuid: Option<Option<String>>,
    /// >= 3.48 (nullable since 3.69).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub shared_targets: Option<Option<bool>>,
    /// >= 3.61, admin only.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub cluster_name: Option<Option<String>>,
    /// >= 3.63.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_type_id: Option<String>,
    /// >= 3.64.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub encryption_key_id: Option<Option<String>>,
    /// >= 3.65: false for temporary volumes Cinder makes for itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumes_quota: Option<bool>,
}

/// One attachment of a volume, as the volume shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeAttachment {
    /// The volume's id (Cinder repeats it here).
    pub id: String,
    pub attachment_id: String,
    pub volume_id: String,
    /// The Nova server's id.
    #[serde(default)]
    pub server_id: Option<String>,
    #[serde(default)]
    pub host_name: Option<String>,
    /// The guest device, `/dev/vdb`.
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub attached_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub href: String,
    /// `self`, `bookmark`, `next`.
    pub rel: String,
}

/// `POST /volumes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeCreateRequest {
    pub volume: VolumeCreate,
    #[serde(
        rename = "OS-SCH-HNT:scheduler_hints",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduler_hints: Option<BTreeMap<String, SchedulerHint>>,
}

/// The volume to create. The optional fields are sent as null when unset, as the API reference
/// does; Cinder accepts null for each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeCreate {
    /// GiB; required unless a snapshot, source volume or backup gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// A volume type's name or id; null for the default type.
    #[serde(default)]
    pub volume_type: Option<String>,
    #[serde(default)]
    pub snapshot_id: Option<String>,
    #[serde(default)]
    pub source_volid: Option<String>,
    #[serde(rename = "imageRef", default)]
    pub image_ref: Option<String>,
    #[serde(default)]
    pub consistencygroup_id: Option<String>,
    /// >= 3.47.
    #[serde(default)]
    pub backup_id: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiattach: Option<bool>,
    /// >= 3.13.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
}

/// A scheduler hint's value: one string or several (`"same_host": ["id", ...]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SchedulerHint {
    One(String),
    Many(Vec<String>),
}

/// `GET`, `POST` and `PUT /volumes/{id}/metadata`: request and response alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeMetadata {
    pub metadata: BTreeMap<String, String>,
}

/// `GET` and `PUT /volumes/{id}/metadata/{key}`: one item, request and response alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeMetadataItem {
    pub meta: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------------------------
// Version discovery
// ---------------------------------------------------------------------------------------------

/// `GET /` (300 Multiple Choices) and `GET /v3/` (200): the API versions, with the microversion
/// range of v3 (`min_version` and `version`, the maximum).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionsList {
    pub versions: Vec<ApiVersion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiVersion {
    /// `v3.0`.
    pub id: String,
    /// `CURRENT`.
    pub status: String,
    /// The highest microversion, `3.71`.
    pub version: String,
    pub min_version: String,
    pub updated: String,
    pub links: Vec<VersionLink>,
    #[serde(rename = "media-types")]
    pub media_types: Vec<MediaType>,
}

/// A version document's link: `describedby` (with a `type`) or `self`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionLink {
    pub rel: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub href: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaType {
    pub base: String,
    #[serde(rename = "type")]
    pub media_type: String,
}

// ---------------------------------------------------------------------------------------------
// Manage and unmanage
// ---------------------------------------------------------------------------------------------

/// `POST /manageable_volumes` (`os-volume-manage` before 3.8): bring an existing backend
/// volume under Cinder. Failover manages the array volumes it promoted; the answer is a
/// [`VolumeResponse`] in status `creating`, then `available` (or `error_managing`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeManageRequest {
    pub volume: VolumeManage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeManage {
    /// `host@backend#pool`: the backend that holds the volume (the spec's `cinder_host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// >= 3.16: a cluster instead of a host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Which backend volume: for FlashArray, the array volume's name (see [`VolumeReference`]).
    #[serde(rename = "ref")]
    pub reference: VolumeReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// A volume type's name or id; null for the default type.
    #[serde(default)]
    pub volume_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A backend volume as the driver identifies it: by name, by id, or both. Cinder hands `ref` to
/// the driver verbatim, so the keys are the driver's. Cinder's Pure Storage driver reads
/// `source-name` (the API reference's key) from Cinder 29.0.0 and `name` before; every release
/// lists `manageable_volumes` as `{"name": "<array volume>"}`, so on 29 a listed reference does
/// not manage as-is ("manage_existing requires a 'source-name' key to identify an existing
/// volume."). [`VolumeReference::array_volume`] names the volume under both keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeReference {
    /// The API reference's key, read by the Pure driver from Cinder 29.
    #[serde(
        rename = "source-name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_name: Option<String>,
    #[serde(rename = "source-id", default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// The Pure driver's key before Cinder 29, and its listing's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl VolumeReference {
    /// A FlashArray volume, by name under both keys: each Pure driver release reads one of them
    /// and ignores the other.
    pub fn array_volume(name: &str) -> Self {
        Self {
            source_name: Some(name.to_string()),
            source_id: None,
            name: Some(name.to_string()),
        }
    }
}

/// `GET /manageable_volumes` and `GET /manageable_volumes/detail` (>= 3.8, admin): what a
/// backend holds that Cinder could manage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManageableVolumesList {
    #[serde(rename = "manageable-volumes")]
    pub manageable_volumes: Vec<ManageableVolume>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManageableVolume {
    pub reference: VolumeReference,
    /// GiB.
    pub size: u64,
    /// False when Cinder already manages it or the driver refuses (see `reason_not_safe`).
    pub safe_to_manage: bool,
    /// Detail only.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub reason_not_safe: Option<Option<String>>,
    /// Detail only: the Cinder volume that already manages it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub cinder_id: Option<Option<String>>,
    /// Detail only.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub extra_info: Option<Option<String>>,
}

/// `POST /volumes/{id}/action`: exactly one key naming the action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VolumeAction {
    /// `{"os-unmanage": {}}`: Cinder forgets the volume, the backend keeps its data; a
    /// planned failover unmanages the source site's volumes this way.
    #[serde(rename = "os-unmanage")]
    Unmanage(NoArguments),
}

/// `{}`: an action that takes no arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NoArguments {}

// ---------------------------------------------------------------------------------------------
// Pools and types
// ---------------------------------------------------------------------------------------------

/// `GET /os-services` (Cinder's default `volume_extension:services:index` rule: admins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServicesList {
    pub services: Vec<Service>,
}

/// One Cinder service: a scheduler, or a volume service (`host@backend`) that serves a backend's
/// pools. Manage requests for a pool go to its volume service, so a service that is `down` or
/// `disabled` fails them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// `cinder-volume`, `cinder-scheduler`, `cinder-backup`.
    pub binary: String,
    /// `host@backend` for a volume service.
    pub host: String,
    #[serde(default)]
    pub zone: Option<String>,
    /// `enabled` or `disabled` (by an operator).
    pub status: String,
    /// `up` or `down`: whether the service reported in lately.
    pub state: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// Since 3.7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// A frozen backend (after a Cinder replication failover) refuses management changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_backend_id: Option<String>,
    /// `up` or `down`: the driver's own view of its backend (volume services, since 3.49).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_state: Option<String>,
}

/// `GET /scheduler-stats/get_pools?detail=true` (admin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolsList {
    pub pools: Vec<Pool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    /// `host@backend#pool`: what a manage request's `host` names.
    pub name: String,
    /// Without `?detail=true`, absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<PoolCapabilities>,
}

/// What a backend pool reports to the scheduler. Drivers add their own keys; these are the
/// ones the scheduler and protector read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolCapabilities {
    pub volume_backend_name: String,
    pub total_capacity_gb: Capacity,
    pub free_capacity_gb: Capacity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_percentage: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_version: Option<String>,
    /// `iSCSI`, `FC`, `NVMe-oF`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_protocol: Option<String>,
    #[serde(
        rename = "QoS_support",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub qos_support: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_capacity_gb: Option<Capacity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_capacity_gb: Option<Capacity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_over_subscription_ratio: Option<Capacity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thin_provisioning_support: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thick_provisioning_support: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiattach: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistencygroup_support: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent_group_snapshot_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_enabled: Option<bool>,
    /// `sync`, `async`, `trisync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_targets: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_state: Option<String>,
}

/// A number the scheduler reads (GiB, or a ratio), as the driver reported it: a JSON number,
/// kept as written (integer or not), or a keyword (`infinite`, `unknown`, `auto`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Capacity {
    Number(serde_json::Number),
    Keyword(String),
}

/// `GET /types`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeTypesList {
    pub volume_types: Vec<VolumeType>,
}

/// `GET /types/{id}` and `GET /types/default`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeTypeResponse {
    pub volume_type: VolumeType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeType {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub is_public: bool,
    /// `volume_backend_name` here pins the type to a backend, FlashArray's included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_specs: Option<BTreeMap<String, String>>,
    #[serde(
        rename = "os-volume-type-access:is_public",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_is_public: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub qos_specs_id: Option<Option<String>>,
}

// ---------------------------------------------------------------------------------------------
// Quotas
// ---------------------------------------------------------------------------------------------

/// `GET /os-quota-sets/{project_id}`: each resource's limit (`-1`: unlimited) as a number, or,
/// with `?usage=true`, as a [`QuotaUsage`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaSetResponse<T> {
    pub quota_set: QuotaSet<T>,
}

/// One project's quotas. Cinder lists every registered resource, so the fixed ones are always
/// there; the per volume type ones follow the deployment's types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaSet<T> {
    /// The project the quotas are of.
    pub id: String,
    pub volumes: T,
    pub snapshots: T,
    /// GiB of volumes and snapshots together.
    pub gigabytes: T,
    pub backups: T,
    pub backup_gigabytes: T,
    pub groups: T,
    /// The largest volume allowed, GiB.
    pub per_volume_gigabytes: T,
    /// `volumes_<type>`, `snapshots_<type>`, `gigabytes_<type>` for each volume type.
    #[serde(flatten)]
    pub per_type: BTreeMap<String, T>,
}

impl<T> QuotaSet<T> {
    /// The same set with each resource's value changed by `f` (usage to limit, for one).
    pub fn map<U>(self, f: impl Fn(T) -> U) -> QuotaSet<U> {
        QuotaSet {
            id: self.id,
            volumes: f(self.volumes),
            snapshots: f(self.snapshots),
            gigabytes: f(self.gigabytes),
            backups: f(self.backups),
            backup_gigabytes: f(self.backup_gigabytes),
            groups: f(self.groups),
            per_volume_gigabytes: f(self.per_volume_gigabytes),
            per_type: self.per_type.into_iter().map(|(k, v)| (k, f(v))).collect(),
        }
    }
}

/// A resource's limit and what counts against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaUsage {
    /// `-1`: unlimited.
    pub limit: i64,
    /// Committed: existing resources.
    pub in_use: i64,
    /// Held by requests not finished yet (a volume being managed holds one until it succeeds).
    pub reserved: i64,
    /// Only with the nested quota driver of older Cinder releases: quota handed to child
    /// projects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

pub use crate::common::{ErrorDetail, ErrorResponse};

// ---------------------------------------------------------------------------------------------
// Wire helpers
// ---------------------------------------------------------------------------------------------

/// A boolean Cinder sends as the string `"true"` or `"false"` (a volume's `bootable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StringBool(pub bool);

impl Serialize for StringBool {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.0 { "true" } else { "false" })
    }
}

impl<'de> Deserialize<'de> for StringBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        bool_or_bool_string(deserializer).map(StringBool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn round_trip<T: serde::de::DeserializeOwned + Serialize>(value: Value) -> T {
        let model: T = serde_json::from_value(value.clone()).expect("deserializes");
        assert_eq!(serde_json::to_value(&model).expect("serializes"), value);
        model
    }

    #[test]
    fn bootable_is_a_string() {
        assert_eq!(round_trip::<StringBool>(json!("true")), StringBool(true));
        assert_eq!(round_trip::<StringBool>(json!("false")), StringBool(false));
        assert_eq!(
            serde_json::to_value(StringBool(true)).expect("serializes"),
            json!("true")
        );
        // Read leniently, written as Cinder writes it.
        let lenient: StringBool = serde_json::from_value(json!("True")).expect("deserializes");
        assert_eq!(lenient, StringBool(true));
        assert!(serde_json::from_value::<StringBool>(json!("yes")).is_err());
    }

    #[test]
    fn encrypted_is_a_boolean_read_leniently() {
        #[derive(Deserialize)]
        struct Encrypted {
            #[serde(deserialize_with = "bool_or_bool_string")]
            encrypted: bool,
        }
        let value: Encrypted = serde_json::from_value(json!({"encrypted": "false"})).unwrap();
        assert!(!value.encrypted);
        let value: Encrypted = serde_json::from_value(json!({"encrypted": true})).unwrap();
        assert!(value.encrypted);
    }

    #[test]
    fn an_array_volume_reference_carries_both_keys() {
        let reference = VolumeReference::array_volume("dr-web-1-boot");
        assert_eq!(
            serde_json::to_value(&reference).unwrap(),
            json!({"source-name": "dr-web-1-boot", "name": "dr-web-1-boot"})
        );
        // A listing's `{"name": ...}` reads back.
        let listed: VolumeReference = round_trip(json!({"name": "dr-web-1-boot"}));
        assert_eq!(listed.source_name, None);
    }

    #[test]
    fn error_bodies() {
        let denied: ErrorResponse = round_trip(json!({
            "forbidden": {
                "code": 403,
                "message": "Policy doesn't allow volume_extension:volume_manage to be performed."
            }
        }));
        assert!(matches!(denied, ErrorResponse::Forbidden(_)));
        assert_eq!(
            denied,
            ErrorResponse::for_status(
                403,
                "Policy doesn't allow volume_extension:volume_manage to be performed."
            )
        );
        let missing: ErrorResponse = round_trip(json!({
            "itemNotFound": {"code": 404, "message": "Volume 5aa119a8 could not be found."}
        }));
        assert_eq!(missing.detail().code, 404);
        round_trip::<ErrorResponse>(json!({
            "badRequest": {"code": 400, "message": "Invalid input received: ..."}
        }));
        round_trip::<ErrorResponse>(json!({
            "overLimit": {"code": 413, "message": "VolumeLimitExceeded", "retryAfter": "0"}
        }));
    }

    #[test]
    fn unmanage_action() {
        assert_eq!(
            round_trip::<VolumeAction>(json!({"os-unmanage": {}})),
            VolumeAction::Unmanage(NoArguments {})
        );
    }

    #[test]
    fn capacity_keeps_integers_floats_and_keywords() {
        round_trip::<Capacity>(json!(1024));
        round_trip::<Capacity>(json!(1024.5));
        assert_eq!(
            round_trip::<Capacity>(json!("infinite")),
            Capacity::Keyword("infinite".into())
        );
    }

    #[test]
    fn quota_sets_with_and_without_usage() {
        let usage =
            |limit: i64, in_use: i64| json!({"limit": limit, "in_use": in_use, "reserved": 0});
        let shown: QuotaSetResponse<QuotaUsage> = round_trip(json!({
            "quota_set": {
                "id": "3c1e5cd2f3a54a6b9a3b3d1f0e6c2a7d",
                "volumes": usage(20, 4),
                "volumes_pure": usage(-1, 4),
                "snapshots": usage(20, 0),
                "snapshots_pure": usage(-1, 0),
                "gigabytes": usage(2000, 280),
                "gigabytes_pure": usage(-1, 280),
                "backups": usage(20, 0),
                "backup_gigabytes": usage(2000, 0),
                "groups": usage(20, 0),
                "per_volume_gigabytes": usage(-1, 0)
            }
        }));
        assert_eq!(shown.quota_set.volumes.limit, 20);
        assert_eq!(shown.quota_set.volumes.in_use, 4);
        assert_eq!(shown.quota_set.per_type["gigabytes_pure"].in_use, 280);
        // The nested quota driver's `allocated` is read when present.
        let nested: QuotaUsage =
            round_trip(json!({"limit": 10, "in_use": 1, "reserved": 0, "allocated": 2}));
        assert_eq!(nested.allocated, Some(2));
        let limits: QuotaSetResponse<i64> = round_trip(json!({
            "quota_set": {
                "id": "3c1e5cd2f3a54a6b9a3b3d1f0e6c2a7d",
                "volumes": 20, "volumes_pure": -1,
                "snapshots": 20, "snapshots_pure": -1,
                "gigabytes": 2000, "gigabytes_pure": -1,
                "backups": 20, "backup_gigabytes": 2000, "groups": 20,
                "per_volume_gigabytes": -1
            }
        }));
        assert_eq!(limits.quota_set.volumes, 20);
        assert_eq!(limits.quota_set.per_type.len(), 3);
    }

    #[test]
    fn volume_types() {
        let types: VolumeTypesList = round_trip(json!({
            "volume_types": [{
                "description": "volume type 0001",
                "extra_specs": {"capabilities": "gpu"},
                "id": "6685584b-1eac-4da6-b5c3-555430cf68ff",
                "is_public": true,
                "name": "vol-type-001",
                "os-volume-type-access:is_public": true,
                "qos_specs_id": null
            }]
        }));
        assert_eq!(types.volume_types[0].name, "vol-type-001");
        round_trip::<VolumeTypeResponse>(json!({
            "volume_type": {
                "id": "6685584b-1eac-4da6-b5c3-555430cf68ff",
                "qos_specs_id": null,
                "name": "vol-type-001",
                "description": "volume type 0001",
                "is_public": true,
                "extra_specs": {"capabilities": "gpu"}
            }
        }));
    }
}
