//! Time-driven changes of Cinder's volumes: creates, manages and deletes that finish (or fail) when their time comes.

use super::{driver::*, quotas::*, request::*, views::*};
use crate::openstack::state::{VolumeJob, VolumeStatus};
use crate::world::Site;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;

/// Applies due volume transitions in the order they fell due: creating -> available (the array
/// volume appears), managing -> available or error_managing (the driver's checks and rename),
/// deleting -> gone (array volume destroyed), unmanaging -> gone (array volume renamed).
pub fn advance(site: &mut Site, now: Instant) {
    let mut due: Vec<(Instant, String)> = site
        .block
        .volumes
        .values()
        .filter_map(|volume| {
            let pending = volume.pending.as_ref()?;
            (pending.at <= now).then(|| (pending.at, volume.id.clone()))
        })
        .collect();
    if due.is_empty() {
        return;
    }
    due.sort();
    for (_, id) in due {
        complete(site, &id);
    }
}

pub(super) fn complete(site: &mut Site, id: &str) {
    let wall = site.clock.wall();
    let Some(volume) = site.block.volumes.get_mut(id) else {
        return;
    };

    let Some(pending) = volume.pending.take() else {
        return;
    };

    let status = volume.status;
    let array_volume = volume.array_volume.clone();
    let job = site.block.jobs.remove(id);
    match (status, job) {
        (VolumeStatus::Creating, Some(VolumeJob::Create { clone_of })) => {
            finish_create(site, id, clone_of.as_deref())
        }
        (VolumeStatus::Managing, Some(VolumeJob::Manage { reference })) => {
            finish_manage(site, id, &reference)
        }
        (VolumeStatus::Deleting, job) => {
            let backend = !matches!(job, Some(VolumeJob::Delete { backend: false }));
            if backend && !array_volume.is_empty() {
                // `delete_volume`: disconnect every host, then destroy.
                array_disconnect_all(site, &array_volume);
                array_destroy(site, &array_volume);
            }
            forget(site, id);
        }
        (VolumeStatus::Unmanaging, job) => {
            let backend = !matches!(job, Some(VolumeJob::Unmanage { backend: false }));
            if backend && array_volume.is_empty() {
                // A failed manage has no provider_id: the Pure driver's unmanage computes
                // `provider_id + "-unmanaged"`, fails, and Cinder leaves the volume in
                // `error_unmanaging` (Cinder 29; tests/real-openstack/DIFFERENCES.md).
                return fail(
                    site,
                    id,
                    VolumeStatus::ErrorUnmanaging,
                    "unsupported operand type(s) for +: 'NoneType' and 'str'".to_string(),
                );
            }
            if backend && !array_volume.is_empty() {
                let unmanaged = protector_wire::names::pure_unmanaged_name(&array_volume);
                // The driver ignores a volume that is no longer there.
                let _ = array_rename(site, &array_volume, &unmanaged);
            }
            forget(site, id);
        }
        (_, _) => {
            if let Some(volume) = site.block.volumes.get_mut(id) {
                volume.status = pending.then;
                volume.updated_at = wall;
            }
            if let Some(error) = pending.error {
                site.block.volume_errors.insert(id.to_string(), error);
            }
        }
    }
}

/// The volume leaves Cinder.
pub(super) fn forget(site: &mut Site, id: &str) {
    site.block.volumes.remove(id);
    site.block.jobs.remove(id);
    site.block.volume_errors.remove(id);
}

pub(super) fn fail(site: &mut Site, id: &str, status: VolumeStatus, reason: String) {
    let wall = site.clock.wall();
    if let Some(volume) = site.block.volumes.get_mut(id) {
        volume.status = status;
        volume.updated_at = wall;
    }
    site.block.volume_errors.insert(id.to_string(), reason);
}

/// The volume manager's create: the Pure driver makes `volume-<id>-cinder` on the array (a
/// copy of the source for a clone) and records it in the volume's metadata.
pub(super) fn finish_create(site: &mut Site, id: &str, clone_of: Option<&str>) {
    let Some(volume) = site.block.volumes.get(id) else {
        return;
    };

    let name = volume.array_volume.clone();
    let bytes = volume.size_gb * GIB;
    if let Err(reason) = array_create(site, &name, bytes, clone_of) {
        fail(site, id, VolumeStatus::Error, reason);
        return;
    }
    let array_name = site.array.name.clone();
    let wall = site.clock.wall();
    if let Some(volume) = site.block.volumes.get_mut(id) {
        volume
            .metadata
            .insert("array_volume_name".to_string(), name.clone());
        volume.metadata.insert("array_name".to_string(), array_name);
        volume.status = VolumeStatus::Available;
        volume.updated_at = wall;
    }
}

/// The manage flow after the API: the scheduler's check of the backend, the Pure driver's
/// `manage_existing_get_size` and `manage_existing` (which renames the array volume and
/// returns the volume's new metadata), the quota commit.
pub(super) fn finish_manage(site: &mut Site, id: &str, reference: &Value) {
    let Some(volume) = site.block.volumes.get(id) else {
        return;
    };

    let host = volume.host.clone();
    let volume_type = volume.volume_type.clone();
    let project = volume.project_id.clone();
    let invalid_ref = |reason: String| {
        format!(
            "Manage existing volume failed due to invalid backend reference {}: {reason}",
            py_repr(reference)
        )
    };

    // Scheduler: the host's pool, and the volume type's backend.
    let no_backend = format!("No valid backend was found. Cannot place volume {id} on {host}");
    let pool_backend = pool_for_host(site, &host)
        .filter(|pool| pool.array_name == site.array.name)
        .map(|pool| backend_of(&pool.name).to_string());
    let Some(pool_backend) = pool_backend else {
        return fail(site, id, VolumeStatus::ErrorManaging, no_backend);
    };

    if type_backend(site, &volume_type).is_some_and(|backend| backend != pool_backend) {
        return fail(site, id, VolumeStatus::ErrorManaging, no_backend);
    }
    // Driver: `_validate_manage_existing_ref`, as in Cinder 29.0.0: it reads
    // `ref["source-name"]`; older releases read `ref["name"]`, and even 29's
    // `get_manageable_volumes` still lists `{"name": ...}`, so a listed reference does not
    // manage as-is there. The twin follows 29; protector sends both keys.
    let name = reference
        .get("source-name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty());
    let Some(name) = name.map(str::to_string) else {
        let reason = invalid_ref(
            "manage_existing requires a 'source-name' key to identify an existing volume."
                .to_string(),
        );
        return fail(site, id, VolumeStatus::ErrorManaging, reason);
    };

    // A realm's volume (`realm::pod::volume`): the driver raises this message alone, without
    // the reference. A pod's (`pod::volume`) is refused if the pod is replicated; the twin's
    // arrays have no pods, so such a name is not found below.
    if name.matches("::").count() > 1 {
        let reason = "Unable to manage volume in a Realm".to_string();
        return fail(site, id, VolumeStatus::ErrorManaging, reason);
    }
    let Some(array_volume) = site.array.volumes.get(&name).filter(|v| !v.destroyed) else {
        let reason = invalid_ref(format!("Unable to find Purity ref with source-name={name}"));
        return fail(site, id, VolumeStatus::ErrorManaging, reason);
    };

    let size_gb = array_volume.provisioned.div_ceil(GIB);
    // Quota, committed when the manage succeeds.
    if let Err(error) = check_quota(site, &project, Some(id)) {
        return fail(site, id, VolumeStatus::ErrorManaging, error.message);
    }
    // Driver: `manage_existing`.
    if site.array.connection_count(&name) > 0 {
        let reason = invalid_ref(format!(
            "{DRIVER_CLASS} manage_existing cannot manage a volume connected to hosts. \
             Please disconnect this volume from existing hosts before importing"
        ));
        return fail(site, id, VolumeStatus::ErrorManaging, reason);
    }
    // The real driver would rename an array volume another Cinder volume still uses (and so
    // break that volume); the twin refuses, as `manageable_volumes` warns.
    if let Some(owner) = site
        .block
        .volumes
        .values()
        .find(|other| other.id != id && other.array_volume == name)
        .map(|other| other.id.clone())
    {
        let reason = invalid_ref(format!("Volume already managed (by volume {owner})"));
        return fail(site, id, VolumeStatus::ErrorManaging, reason);
    }
    let new_name = array_volume_name(id);
    if let Err(reason) = array_rename(site, &name, &new_name) {
        return fail(site, id, VolumeStatus::ErrorManaging, reason);
    }
    let array_name = site.array.name.clone();
    let wall = site.clock.wall();
    if let Some(volume) = site.block.volumes.get_mut(id) {
        volume.size_gb = size_gb;
        volume.array_volume = new_name.clone();
        // The driver's model update carries `metadata`; Cinder's `Volume.save()` replaces the
        // volume's metadata with it: what the manage request set is gone.
        volume.metadata = BTreeMap::from([
            ("array_volume_name".to_string(), new_name),
            ("array_name".to_string(), array_name),
        ]);
        volume.status = VolumeStatus::Available;
        volume.updated_at = wall;
    }
}
