//! FlashArray REST 2.x wire types, named after the schemas of Pure's OpenAPI description
//! (`components/schemas` of `FA2.56-dr-subset.spec.yaml`; `_reference` becomes [`Reference`],
//! `Arrays` becomes [`Array`], ...).
//!
//! Shared by protector's FlashArray client (deserializes) and the simulated array (serializes),
//! so the twin's answers are checked against the spec by `tests/it/flasharray_api/`.
//! Conventions:
//! - Every property of a resource is an `Option` left out when `None`: Pure's spec marks no
//!   property required, arrays leave out what does not apply, and a real array also sends JSON
//!   `null` for unset properties (`"source": {"id": null, "name": null}`), which reads as `None`.
//! - The list envelope ([`ListResponse`]) always carries `continuation_token` and
//!   `total_item_count`, `null` when absent, as real arrays send them.
//! - Unknown fields are ignored, never an error: newer Purity versions add properties.

use serde::{Deserialize, Serialize};

/// A struct of optional properties: every field `Option<T>`, left out when `None`, defaulted
/// when absent.
macro_rules! wire {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Versions, sessions, envelopes, errors
// ---------------------------------------------------------------------------------------------

/// `GET /api/api_version` (no authentication): the REST versions the array serves, oldest
/// first; clients pick the newest they know.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiVersionResponse {
    #[serde(default)]
    pub version: Vec<String>,
}

wire! {
    /// `POST /api/2.N/login` body, the alternative to the `api-token` header.
    pub struct LoginPost {
        username: String,
        password: String,
    }
}

wire! {
    pub struct Username {
        username: String,
    }
}

/// `POST /api/2.N/login`: the session token comes in the `x-auth-token` response header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsernameResponse {
    #[serde(default)]
    pub items: Vec<Username>,
}

/// A page of a `GET` list (`PageInfo` + `<Resource>Response` + `_errorContextResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListResponse<T> {
    /// Pass back as `continuation_token` to get the next page; `null` on the last page and
    /// whenever `sort` was given.
    #[serde(default)]
    pub continuation_token: Option<String>,
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
    #[serde(default)]
    pub more_items_remaining: bool,
    /// Only computed with `?total_item_count=true`; `null` otherwise.
    #[serde(default)]
    pub total_item_count: Option<u64>,
    /// Aggregates, with `?total_only=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Vec<T>>,
    /// Per-item errors of a partial success (207).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ApiError>,
}

impl<T> ListResponse<T> {
    /// One page holding everything.
    pub fn all(items: Vec<T>) -> Self {
        ListResponse {
            continuation_token: None,
            items,
            more_items_remaining: false,
            total_item_count: None,
            total: None,
            errors: Vec::new(),
        }
    }
}

/// The answer to `POST`, `PATCH` (and login): the resources created or changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemsResponse<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}

/// Every error body (`_errorContextResponse`): `{"errors": [{"message", "context"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

/// One error (`_errorcontextresponseErrors`). Clients match on phrases of `message` ("does not
/// exist", "already exists", "has been destroyed", ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub message: String,
    /// The object being processed (a volume name, ...); absent for general errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_context: Option<ReferenceWithType>,
}

// ---------------------------------------------------------------------------------------------
// References and shared parts
// ---------------------------------------------------------------------------------------------

wire! {
    /// `_reference` and `_fixedReference`.
    pub struct Reference {
        id: String,
        name: String,
    }
}

impl Reference {
    pub fn named(name: impl Into<String>) -> Self {
        Reference {
            id: None,
            name: Some(name.into()),
        }
    }

    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Reference {
            id: Some(id.into()),
            name: Some(name.into()),
        }
    }
}

wire! {
    /// `_referenceWithType`, `_fixedReferenceWithType`.
    pub struct ReferenceWithType {
        id: String,
        name: String,
        /// The endpoint the object lives at: `arrays`, `volumes`, `remote-arrays`, ...
        resource_type: String,
    }
}

wire! {
    /// `_referenceNoId`.
    pub struct ReferenceNoId {
        name: String,
    }
}

impl ReferenceNoId {
    pub fn named(name: impl Into<String>) -> Self {
        ReferenceNoId {
            name: Some(name.into()),
        }
    }
}

wire! {
    /// `_space` and its variants (`Space`, `_volumeSpaceCommon`, `_snapshotSpace`): bytes,
    /// except the ratios.
    pub struct Space {
        data_reduction: f64,
        footprint: u64,
        shared: u64,
        snapshots: u64,
        system: u64,
        thin_provisioning: f64,
        total_physical: u64,
        total_provisioned: u64,
        total_reduction: f64,
        total_used: u64,
        unique: u64,
        used_provisioned: u64,
        #[serde(rename = "virtual")]
        virtual_: u64,
        /// Deprecated (always `null` on current arrays).
        snapshots_effective: u64,
        total_effective: u64,
        unique_effective: u64,
        shared_effective: u64,
        /// Array-level only.
        replication: u64,
    }
}

wire! {
    /// `_qos` (volumes) and `_containerQosCeilings` (hosts).
    pub struct Qos {
        /// Bytes per second, 1 MiB/s to 512 GiB/s.
        bandwidth_limit: u64,
        /// 100 to 100,000,000.
        iops_limit: u64,
    }
}

/// A QoS limit in a `PATCH`: a number sets it, `""` unsets it (`_qos_patch`'s `oneOf`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LimitPatch {
    Limit(u64),
    Unset(String),
}

wire! {
    /// `_qos_patch`.
    pub struct QosPatch {
        bandwidth_limit: LimitPatch,
        iops_limit: LimitPatch,
    }
}

wire! {
    /// `_priorityAdjustment`.
    pub struct PriorityAdjustment {
        /// `+`, `-` or `=`.
        priority_adjustment_operator: String,
        priority_adjustment_value: i32,
    }
}

wire! {
    /// `_time_window`: milliseconds since midnight.
    pub struct TimeWindow {
        start: u64,
        end: u64,
    }
}

wire! {
    /// `Tag`: a key-value pair on a resource, in a namespace (`default` when absent; Cinder's
    /// Pure driver uses `openstack-integration.purestorage.com`). Listed by `GET
    /// /volumes/tags`; in create bodies accepted and not stored by the twin.
    pub struct Tag {
        /// Whether copies of the resource get the tag too (default `true`).
        copyable: bool,
        key: String,
        namespace: String,
        resource: Reference,
        value: String,
        context: ReferenceWithType,
    }
}

wire! {
    /// `TagBatch`: one tag of the body of `PUT /volumes/tags/batch` (creates or updates).
    pub struct TagBatch {
        copyable: bool,
        key: String,
        namespace: String,
        resource: Reference,
        value: String,
    }
}

// ---------------------------------------------------------------------------------------------
// Arrays and array connections
// ---------------------------------------------------------------------------------------------

wire! {
    /// `Arrays`: `GET /arrays` lists exactly one, the array answering.
    pub struct Array {
        id: String,
        name: String,
        /// Milliseconds since the epoch the values were taken at.
        #[serde(rename = "_as_of")]
        as_of: i64,
        banner: String,
        /// Usable capacity, bytes.
        capacity: u64,
        console_lock_enabled: bool,
        encryption: ArrayEncryption,
        eradication_config: EradicationConfig,
        /// Milliseconds.
        idle_timeout: u32,
        ntp_servers: Vec<String>,
        ntp_symmetric_key: String,
        /// `Purity//FA`.
        os: String,
        parity: f64,
        scsi_timeout: u32,
        space: Space,
        time_zone: String,
        /// The Purity version, `6.7.4` (Cinder's driver requires >= 6.1.0).
        version: String,
        context: ReferenceWithType,
    }
}

wire! {
    /// `ArraySpace`: `GET /arrays/space`, the array's capacity and what uses it.
    pub struct ArraySpace {
        id: String,
        name: String,
        /// Usable capacity, bytes.
        capacity: u64,
        capacity_installed: u64,
        parity: f64,
        space: Space,
        /// Milliseconds since the epoch the values were taken at.
        time: i64,
        context: ReferenceWithType,
    }
}

wire! {
    /// `ArrayPerformance`: one sample of `GET /arrays/performance` (operations and bytes per
    /// second, latencies in microseconds).
    pub struct ArrayPerformance {
        id: String,
        name: String,
        /// Milliseconds since the epoch the sample was taken at.
        time: i64,
        reads_per_sec: u64,
        writes_per_sec: u64,
        mirrored_writes_per_sec: u64,
        read_bytes_per_sec: u64,
        write_bytes_per_sec: u64,
        mirrored_write_bytes_per_sec: u64,
        usec_per_read_op: u64,
        usec_per_write_op: u64,
        usec_per_mirrored_write_op: u64,
        queue_usec_per_read_op: u64,
        queue_usec_per_write_op: u64,
        queue_usec_per_mirrored_write_op: u64,
        san_usec_per_read_op: u64,
        san_usec_per_write_op: u64,
        service_usec_per_read_op: u64,
        service_usec_per_write_op: u64,
        context: ReferenceWithType,
    }
}

wire! {
    /// `Controller`: `GET /controllers`.
    pub struct Controller {
        /// `CT0`, `CT1`.
        name: String,
        /// `primary`, `secondary`, `offline`, `not present`.
        mode: String,
        model: String,
        /// `ready`, `not ready`, `updating`, `unknown`.
        status: String,
        /// `array_controller`, `shelf_controller`.
        r#type: String,
        version: String,
        context: ReferenceWithType,
    }
}

wire! {
    /// `Port`: `GET /ports`, a target port; an iSCSI one has `iqn` and `portal` (`ip:port`).
    pub struct Port {
        /// `CT0.ETH4`.
        name: String,
        iqn: String,
        nqn: String,
        portal: String,
        wwn: String,
        failover: String,
        context: ReferenceWithType,
    }
}

wire! {
    /// `NetworkInterface`: `GET /network-interfaces`.
    pub struct NetworkInterface {
        /// `ct0.eth4`.
        name: String,
        enabled: bool,
        eth: NetworkInterfaceEth,
        /// `eth` or `fc`.
        interface_type: String,
        /// `iscsi`, `management`, `replication`, `nvme-tcp`, ...
        services: Vec<String>,
        speed: u64,
        context: ReferenceWithType,
    }
}

wire! {
    /// `NetworkInterfaceEth`.
    pub struct NetworkInterfaceEth {
        address: String,
        gateway: String,
        mac_address: String,
        mtu: u32,
        netmask: String,
        /// `physical`, `lacp_bond`, `vif`, `virtual`, ...
        subtype: String,
        vlan: u32,
    }
}

wire! {
    pub struct ArrayEncryption {
        data_at_rest: DataAtRest,
        module_version: String,
    }
}

wire! {
    pub struct DataAtRest {
        algorithm: String,
        enabled: bool,
    }
}

wire! {
    /// `Eradication_config`: delays in milliseconds.
    pub struct EradicationConfig {
        disabled_delay: u64,
        enabled_delay: u64,
        eradication_delay: u64,
        manual_eradication: String,
    }
}

wire! {
    /// `ArrayConnection`: `id` and `name` are the peer array's.
    pub struct ArrayConnection {
        id: String,
        name: String,
        encryption: String,
        encryption_mode: String,
        management_address: String,
        os: String,
        remote: ReferenceWithType,
        replication_addresses: Vec<String>,
        /// `ip` or `fc`.
        replication_transport: String,
        /// `connected`, `connecting` (peer unreachable), `partially_connected`, `unbalanced`.
        status: String,
        throttle: Throttle,
        /// `async-replication`, `sync-replication`, `fleet-management`.
        r#type: String,
        /// The peer's Purity version.
        version: String,
        context: ReferenceWithType,
    }
}

wire! {
    /// `_throttle`.
    pub struct Throttle {
        default_limit: u64,
        window: TimeWindow,
        window_limit: u64,
    }
}

// ---------------------------------------------------------------------------------------------
// Volumes and volume snapshots
// ---------------------------------------------------------------------------------------------

wire! {
    /// `Volume`.
    pub struct Volume {
        id: String,
        name: String,
        /// Hosts and host groups connected.
        connection_count: u64,
        /// Milliseconds since the epoch.
        created: i64,
        destroyed: bool,
        host_encryption_key_status: String,
        priority_adjustment: PriorityAdjustment,
        /// Virtual size, bytes.
        provisioned: u64,
        qos: Qos,
        serial: String,
        space: Space,
        /// Milliseconds until a destroyed volume is eradicated.
        time_remaining: u64,
        pod: Reference,
        priority: i32,
        /// `promoted` or `demoted`.
        promotion_status: String,
        requested_promotion_state: String,
        /// The volume this one was copied from (for a copy of a snapshot, the snapshot's volume).
        source: Reference,
        /// `regular` or `protocol_endpoint`.
        subtype: String,
        volume_group: Reference,
        context: ReferenceWithType,
    }
}

wire! {
    /// `VolumePost`: create (`provisioned`) or copy (`source`), `?names=NEW[&overwrite=true]`.
    pub struct VolumePost {
        destroyed: bool,
        priority_adjustment: PriorityAdjustment,
        provisioned: u64,
        qos: Qos,
        /// A volume or a volume snapshot to copy.
        source: Reference,
        subtype: String,
        tags: Vec<Tag>,
    }
}

wire! {
    /// `VolumePatch`: rename (`name`) or destroy/recover (`destroyed`), never both at once;
    /// resize (`provisioned`), QoS.
    pub struct VolumePatch {
        destroyed: bool,
        name: String,
        pod: Reference,
        priority_adjustment: PriorityAdjustment,
        provisioned: u64,
        qos: QosPatch,
        requested_promotion_state: String,
        volume_group: Reference,
    }
}

wire! {
    /// `VolumeSnapshot`. A replicated one on a target array is named
    /// `<source array>:<pg>.<suffix>.<volume>`.
    pub struct VolumeSnapshot {
        id: String,
        name: String,
        created: i64,
        destroyed: bool,
        pod: Reference,
        provisioned: u64,
        /// The volume it was taken of; on a target, the replica volume `<source array>:<volume>`.
        source: Reference,
        suffix: String,
        time_remaining: u64,
        serial: String,
        space: Space,
        volume_group: Reference,
        context: ReferenceWithType,
    }
}

wire! {
    /// `VolumeSnapshotPost` (`?source_names=VOL`).
    pub struct VolumeSnapshotPost {
        destroyed: bool,
        suffix: String,
        tags: Vec<Tag>,
    }
}

wire! {
    /// `VolumeSnapshotPatch`.
    pub struct VolumeSnapshotPatch {
        destroyed: bool,
        /// The new suffix (or the whole new name `VOL.SUFFIX`).
        name: String,
    }
}

wire! {
    /// `ProtectionGroupSnapshotTransfer` and `VolumeSnapshotTransfer` (`_resource` +
    /// `_transfer`): replication progress of a snapshot, as seen from either end.
    pub struct SnapshotTransfer {
        id: String,
        name: String,
        destroyed: bool,
        /// Milliseconds since the epoch; absent until the transfer completes.
        completed: i64,
        data_transferred: u64,
        physical_bytes_written: u64,
        /// 0.0 to 1.0.
        progress: f64,
        started: i64,
        context: ReferenceWithType,
    }
}

pub type ProtectionGroupSnapshotTransfer = SnapshotTransfer;
pub type VolumeSnapshotTransfer = SnapshotTransfer;

// ---------------------------------------------------------------------------------------------
// Protection groups, their members and targets, their snapshots
// ---------------------------------------------------------------------------------------------

wire! {
    /// `ProtectionGroup`; also the body of `PATCH /protection-groups`.
    pub struct ProtectionGroup {
        id: String,
        name: String,
        destroyed: bool,
        eradication_config: ProtectionGroupEradicationConfig,
        host_count: u64,
        host_group_count: u64,
        /// `false` for a group replicated here from another array (`<array>:<pg>`).
        is_local: bool,
        pod: Reference,
        replication_schedule: ReplicationSchedule,
        retention_lock: String,
        snapshot_schedule: SnapshotSchedule,
        /// The array (or pod) that owns the group.
        source: Reference,
        source_retention: RetentionPolicy,
        space: Space,
        target_count: u64,
        target_retention: RetentionPolicy,
        time_remaining: u64,
        volume_count: u64,
        context: ReferenceWithType,
    }
}

wire! {
    pub struct ProtectionGroupEradicationConfig {
        /// `enabled` or `disabled`.
        manual_eradication: String,
    }
}

/// The `frequency` of a replication schedule a FlashArray accepts, in milliseconds: every 5
/// minutes to every 400 days (`x-minimum` and `x-maximum` of `_snapshot_schedule.frequency`, which
/// `_replication_schedule` extends, in Pure's OpenAPI description).
pub const REPLICATION_FREQUENCY_MS: std::ops::RangeInclusive<u64> = 300_000..=34_560_000_000;

wire! {
    /// `_replication_schedule`.
    pub struct ReplicationSchedule {
        /// Seconds after midnight, for day-multiple frequencies.
        at: u64,
        enabled: bool,
        /// Milliseconds.
        frequency: u64,
        blackout: TimeWindow,
    }
}

wire! {
    /// `_snapshot_schedule`.
    pub struct SnapshotSchedule {
        at: u64,
        enabled: bool,
        frequency: u64,
    }
}

wire! {
    /// `_retentionPolicy`.
    pub struct RetentionPolicy {
        /// Keep every snapshot this many seconds.
        all_for_sec: u64,
        /// Then keep `per_day` a day for this many days (-1: forever).
        days: i64,
        per_day: u64,
        per_period: u64,
        period_length_ms: u64,
    }
}

wire! {
    /// `ProtectionGroupPost` (`?names=PG`).
    pub struct ProtectionGroupPost {
        tags: Vec<Tag>,
    }
}

wire! {
    /// `ProtectionGroupsVolumes`: one volume membership.
    pub struct ProtectionGroupsVolumes {
        group: Reference,
        member: ProtectionGroupsVolumesMember,
        context: ReferenceWithType,
    }
}

wire! {
    /// `_protectionGroupsVolumesMember`.
    pub struct ProtectionGroupsVolumesMember {
        id: String,
        name: String,
        destroyed: bool,
    }
}

wire! {
    /// `TargetProtectionGroup`: one replication target of a group.
    pub struct TargetProtectionGroup {
        /// Set from the target array.
        allowed: bool,
        group: Reference,
        member: ReferenceWithType,
        /// `replicating`, `suspended` or `disallowed`.
        status: String,
        context: ReferenceWithType,
    }
}

wire! {
    /// `TargetProtectionGroupPostPatch`: `PATCH /protection-groups/targets` body, on the target
    /// array.
    pub struct TargetProtectionGroupPostPatch {
        allowed: bool,
        protection_group: Reference,
        target: ReferenceNoId,
    }
}

wire! {
    /// `ProtectionGroupSnapshot`, `<pg>.<suffix>` (`<array>:<pg>.<suffix>` on a target).
    pub struct ProtectionGroupSnapshot {
        id: String,
        name: String,
        created: i64,
        destroyed: bool,
        eradication_config: ProtectionGroupEradicationConfig,
        pod: Reference,
        /// The protection group (on a target, the replica group).
        source: Reference,
        space: Space,
        suffix: String,
        time_remaining: u64,
        context: ReferenceWithType,
    }
}

wire! {
    /// `ProtectionGroupSnapshotPost` (`?source_names=PG[&replicate_now=true]`).
    pub struct ProtectionGroupSnapshotPost {
        suffix: String,
        tags: Vec<Tag>,
    }
}

wire! {
    /// `ProtectionGroupSnapshotPatch`.
    pub struct ProtectionGroupSnapshotPatch {
        destroyed: bool,
        name: String,
    }
}

// ---------------------------------------------------------------------------------------------
// Hosts and host-volume connections
// ---------------------------------------------------------------------------------------------

wire! {
    /// `Host` (hosts have no `id` in the API).
    pub struct Host {
        name: String,
        chap: Chap,
        connection_count: u64,
        destroyed: bool,
        host_group: ReferenceNoId,
        iqns: Vec<String>,
        is_local: bool,
        nqns: Vec<String>,
        nvme_stretch: String,
        personality: String,
        port_connectivity: HostPortConnectivity,
        preferred_arrays: Vec<Reference>,
        qos: Qos,
        space: Space,
        time_remaining: u64,
        vlan: String,
        wwns: Vec<String>,
        context: ReferenceWithType,
    }
}

wire! {
    /// `_chap`.
    pub struct Chap {
        host_password: String,
        host_user: String,
        target_password: String,
        target_user: String,
    }
}

wire! {
    /// `_host_port_connectivity`.
    pub struct HostPortConnectivity {
        details: String,
        status: String,
    }
}

wire! {
    /// `HostPost` (`?names=HOST`).
    pub struct HostPost {
        chap: Chap,
        iqns: Vec<String>,
        nqns: Vec<String>,
        nvme_stretch: String,
        personality: String,
        preferred_arrays: Vec<Reference>,
        qos: Qos,
        tags: Vec<Tag>,
        vlan: String,
        wwns: Vec<String>,
    }
}

wire! {
    /// `HostPatch`.
    pub struct HostPatch {
        name: String,
        add_iqns: Vec<String>,
        add_nqns: Vec<String>,
        add_wwns: Vec<String>,
        chap: Chap,
        host_group: ReferenceNoId,
        iqns: Vec<String>,
        nqns: Vec<String>,
        nvme_stretch: String,
        personality: String,
        preferred_arrays: Vec<Reference>,
        remove_iqns: Vec<String>,
        remove_nqns: Vec<String>,
        remove_wwns: Vec<String>,
        vlan: String,
        wwns: Vec<String>,
    }
}

wire! {
    /// `Connection`: a volume connected to a host, at a LUN.
    pub struct Connection {
        host: ReferenceNoId,
        host_group: ReferenceNoId,
        lun: u64,
        nsid: u64,
        protocol_endpoint: Reference,
        volume: Reference,
        context: ReferenceWithType,
    }
}

wire! {
    /// `ConnectionPost` (`?host_names=H&volume_names=V`).
    pub struct ConnectionPost {
        /// 1 to 4095; the lowest free one when absent.
        lun: u32,
        protocol_endpoint: Reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_carry_nulls_and_resources_leave_out_what_is_unset() {
        let page = ListResponse::all(vec![Volume {
            name: Some("v1".into()),
            provisioned: Some(1 << 30),
            ..Default::default()
        }]);
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "continuation_token": null,
                "items": [{"name": "v1", "provisioned": 1073741824}],
                "more_items_remaining": false,
                "total_item_count": null
            })
        );
    }

    #[test]
    fn real_array_bodies_read_with_nulls_and_unknown_fields() {
        let text = r#"{"continuation_token": null, "items": [{"connection_count": 1,
            "created": 1685140173991, "destroyed": false, "id": "66a46ff1", "name": "TestVol1",
            "pod": {"id": null, "name": null}, "provisioned": 107374182400,
            "qos": {"bandwidth_limit": null, "iops_limit": null}, "serial": "C140B8",
            "source": {"id": null, "name": null}, "space": {"virtual": 3820131840,
            "shared": null}, "subtype": "regular", "time_remaining": null,
            "some_future_field": {"x": 1}}], "more_items_remaining": false,
            "total_item_count": null}"#;
        let page: ListResponse<Volume> = serde_json::from_str(text).unwrap();
        let volume = &page.items[0];
        assert_eq!(volume.name.as_deref(), Some("TestVol1"));
        assert_eq!(volume.source, Some(Reference::default()));
        assert_eq!(volume.space.as_ref().unwrap().virtual_, Some(3820131840));
        assert_eq!(volume.time_remaining, None);
    }

    #[test]
    fn qos_patch_takes_a_number_or_an_empty_string() {
        let patch: VolumePatch =
            serde_json::from_str(r#"{"qos": {"iops_limit": 1000, "bandwidth_limit": ""}}"#)
                .unwrap();
        let qos = patch.qos.unwrap();
        assert_eq!(qos.iops_limit, Some(LimitPatch::Limit(1000)));
        assert_eq!(qos.bandwidth_limit, Some(LimitPatch::Unset(String::new())));
    }

    #[test]
    fn errors_read_without_context() {
        let body: ErrorResponse = serde_json::from_str(
            r#"{"errors": [{"message": "Invalid session.", "location_context":
                {"name": "fa-a", "id": null, "resource_type": "remote-arrays"}}]}"#,
        )
        .unwrap();
        assert_eq!(body.errors[0].message, "Invalid session.");
        assert_eq!(body.errors[0].context, None);
    }
}
