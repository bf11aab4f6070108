//! How volumes, volume types and pools read on the wire.

use super::request::*;
use crate::openstack::state::{Volume, VolumeStatus};
use crate::world::Site;
use protector_wire::cinder as wire;
use protector_wire::ids::IdGen;
use serde_json::Value;

/// How a volume is shown: depends on the microversion and on whether the caller is an admin.
pub(super) struct View<'a> {
    pub(super) version: u32,
    pub(super) admin: bool,
    pub(super) base: &'a str,
    /// The caller's project: Cinder builds links with it.
    pub(super) project: &'a str,
}

impl View<'_> {
    pub(super) fn links(&self, id: &str) -> Vec<wire::Link> {
        vec![
            wire::Link {
                href: format!("{}/volume/v3/{}/volumes/{id}", self.base, self.project),
                rel: "self".to_string(),
            },
            wire::Link {
                href: format!("{}/volume/{}/volumes/{id}", self.base, self.project),
                rel: "bookmark".to_string(),
            },
        ]
    }

    pub(super) fn summary(&self, volume: &Volume) -> wire::VolumeSummary {
        wire::VolumeSummary {
            id: volume.id.clone(),
            name: display_name(volume),
            links: self.links(&volume.id),
        }
    }

    pub(super) fn detail(&self, site: &Site, volume: &Volume) -> wire::Volume {
        let volume_type = site
            .block
            .volume_types
            .values()
            .find(|t| t.name == volume.volume_type);
        let settling = matches!(
            volume.status,
            VolumeStatus::Creating | VolumeStatus::Managing
        );
        let replication = volume_type.is_some_and(replication_enabled);
        let has_backend_volume = !volume.array_volume.is_empty()
            && !matches!(
                volume.status,
                VolumeStatus::Managing | VolumeStatus::ErrorManaging
            );
        let v = self.version;
        let admin = self.admin;
        wire::Volume {
            id: volume.id.clone(),
            name: display_name(volume),
            description: volume.description.clone(),
            status: api_status(volume.status).to_string(),
            size: volume.size_gb,
            availability_zone: volume.availability_zone.clone(),
            created_at: timestamp(&volume.created_at),
            volume_type: Some(volume.volume_type.clone()),
            bootable: wire::StringBool(volume.bootable),
            encrypted: false,
            attachments: volume
                .attachments
                .iter()
                .map(|attachment| wire::VolumeAttachment {
                    id: volume.id.clone(),
                    attachment_id: attachment.attachment_id.clone(),
                    volume_id: volume.id.clone(),
                    server_id: Some(attachment.server_id.clone()),
                    host_name: None,
                    device: Some(attachment.device.clone()),
                    attached_at: Some(timestamp(&attachment.attached_at)),
                })
                .collect(),
            metadata: volume.metadata.clone(),
            links: self.links(&volume.id),
            user_id: volume.user_id.clone(),
            snapshot_id: None,
            source_volid: None,
            updated_at: Some(
                (volume.updated_at != volume.created_at).then(|| timestamp(&volume.updated_at)),
            ),
            multiattach: Some(false),
            replication_status: Some(
                (!settling).then(|| if replication { "enabled" } else { "disabled" }.to_string()),
            ),
            consistencygroup_id: Some(None),
            migration_status: admin.then_some(None),
            host: admin.then(|| (!volume.host.is_empty()).then(|| volume.host.clone())),
            migstat: admin.then_some(None),
            name_id: admin.then_some(None),
            tenant_id: Some(volume.project_id.clone()),
            volume_image_metadata: None,
            group_id: (v >= MV_GROUP_VOLUME).then_some(None),
            provider_id: (admin && v >= MV_PROVIDER_ID)
                .then(|| has_backend_volume.then(|| volume.array_volume.clone())),
            service_uuid: (v >= MV_SHARED_TARGETS)
                .then(|| (!settling).then(|| service_uuid(&site.name))),
            // Null only from 3.69 (tristate); before, Cinder shows an unknown value as true.
            shared_targets: (v >= MV_SHARED_TARGETS)
                .then_some((!settling || v < MV_SHARED_TARGETS_TRISTATE).then_some(true)),
            cluster_name: (admin && v >= MV_CLUSTER_NAME).then_some(None),
            volume_type_id: (v >= MV_VOLUME_TYPE_ID)
                .then(|| volume_type.map(|t| t.id.clone()))
                .flatten(),
            encryption_key_id: None,
            consumes_quota: (v >= MV_USE_QUOTA).then_some(true),
        }
    }
}

pub(super) fn display_name(volume: &Volume) -> Option<String> {
    (!volume.name.is_empty()).then(|| volume.name.clone())
}

/// The status the API shows (Cinder hides its manage-specific statuses).
pub(super) fn api_status(status: VolumeStatus) -> &'static str {
    match status {
        VolumeStatus::Creating | VolumeStatus::Managing => "creating",
        VolumeStatus::Available => "available",
        VolumeStatus::InUse => "in-use",
        VolumeStatus::Deleting => "deleting",
        VolumeStatus::Unmanaging => "unmanaging",
        VolumeStatus::Error | VolumeStatus::ErrorManaging => "error",
        VolumeStatus::ErrorUnmanaging => "error_unmanaging",
    }
}

/// The status as Cinder's database has it (what `status=` filters compare).
pub(super) fn db_status(status: VolumeStatus) -> &'static str {
    match status {
        VolumeStatus::Managing => "managing",
        VolumeStatus::ErrorManaging => "error_managing",
        other => api_status(other),
    }
}

/// Cinder's JSON timestamps: UTC, microseconds, no offset.
pub(super) fn timestamp(time: &chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// The site's `cinder-volume` service id (stable, without drawing from the site's ids).
pub(super) fn service_uuid(site: &str) -> String {
    IdGen::for_site(0x000c_1de4, &format!("{site}/cinder-volume")).uuid()
}

pub(super) fn replication_enabled(volume_type: &crate::openstack::state::VolumeType) -> bool {
    volume_type
        .extra_specs
        .get("replication_enabled")
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("<is> true"))
}

pub(super) fn type_view(
    volume_type: &crate::openstack::state::VolumeType,
    admin: bool,
) -> wire::VolumeType {
    wire::VolumeType {
        id: volume_type.id.clone(),
        name: volume_type.name.clone(),
        description: None,
        is_public: true,
        extra_specs: admin.then(|| volume_type.extra_specs.clone()),
        access_is_public: Some(true),
        qos_specs_id: admin.then_some(None),
    }
}

/// The type a volume gets when the request names none: `__DEFAULT__` if the site has it, else
/// the first by name.
pub(super) fn default_type(site: &Site) -> Option<&crate::openstack::state::VolumeType> {
    let types = &site.block.volume_types;
    types
        .values()
        .find(|t| t.name == "__DEFAULT__")
        .or_else(|| types.values().min_by(|a, b| a.name.cmp(&b.name)))
}

/// A volume type by name, or by id (`volume_types.get_by_name_or_id`).
pub(super) fn find_type<'a>(
    site: &'a Site,
    name_or_id: &str,
) -> Option<&'a crate::openstack::state::VolumeType> {
    site.block.volume_types.get(name_or_id).or_else(|| {
        site.block
            .volume_types
            .values()
            .find(|t| t.name == name_or_id)
    })
}

/// The backend (`host@backend`) the type is pinned to by `volume_backend_name`.
pub(super) fn type_backend(site: &Site, type_name: &str) -> Option<String> {
    site.block
        .volume_types
        .values()
        .find(|t| t.name == type_name)
        .and_then(|t| t.extra_specs.get("volume_backend_name"))
        .cloned()
}

/// `host@backend` of `host@backend#pool`.
pub(super) fn backend_of(host: &str) -> &str {
    host.split('#').next().unwrap_or(host)
}

/// The pool a volume host names: the pool itself, or the backend's first pool.
pub(super) fn pool_for_host<'a>(
    site: &'a Site,
    host: &str,
) -> Option<&'a crate::openstack::state::Pool> {
    let pools = &site.block.pools;
    if host.contains('#') {
        pools.iter().find(|pool| pool.name == host)
    } else {
        pools.iter().find(|pool| backend_of(&pool.name) == host)
    }
}

/// A Python-style rendering of a JSON value, as Cinder's messages quote request values.
pub(super) fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => format!("'{text}'"),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(object) => format!(
            "{{{}}}",
            object
                .iter()
                .map(|(key, value)| format!("'{key}': {}", py_repr(value)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
