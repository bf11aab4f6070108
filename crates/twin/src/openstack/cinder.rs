//! Cinder v3 of one simulated site, at `/volume` as DevStack serves it, backed by the site's
//! FlashArray the way Cinder's Pure Storage driver uses it.
//!
//! | method | path (under `/volume`) | what |
//! |---|---|---|
//! | GET | `/` | version discovery, `300 Multiple Choices` |
//! | GET | `/v3/` | the v3 version document (microversions 3.0 to [`MAX_MICROVERSION`]) |
//! | GET | `/v3/{project}/volumes[/detail]` | list; filters `name`, `status`, `metadata`, `bootable`, `availability_zone`, `size` (`name~` etc. for admins), `all_tenants` (admins); `limit`/`marker`/`offset`, `sort`/`sort_key`/`sort_dir`, `with_count` (>= 3.45); `volumes_links` |
//! | POST | `/v3/{project}/volumes` | create (empty, or a clone with `source_volid`); quota |
//! | GET, PUT, DELETE | `/v3/{project}/volumes/{id}` | show, update name/description/metadata, delete |
//! | POST | `/v3/{project}/volumes/{id}/action` | `os-unmanage`, `os-set_bootable`, `os-reset_status` (admins) |
//! | GET, POST, PUT | `/v3/{project}/volumes/{id}/metadata` | metadata (merge with POST, replace with PUT) |
//! | GET, PUT, DELETE | `/v3/{project}/volumes/{id}/metadata/{key}` | one metadata item |
//! | GET | `/v3/{project}/types[/{id}\|default]` | volume types (`extra_specs` for admins) |
//! | GET | `/v3/{project}/scheduler-stats/get_pools[?detail=true]` | backend pools (admins) |
//! | GET | `/v3/{project}/os-services[?binary=&host=]` | a scheduler and a volume service per backend, always up (`cinder_policy.services_index`, default admins) |
//! | GET | `/v3/{project}/manageable_volumes[/detail]` | array volumes Cinder could manage (>= 3.8) |
//! | POST | `/v3/{project}/manageable_volumes` | manage (>= 3.8); `os-volume-manage` at any version |
//! | GET | `/v3/{project}/os-quota-sets/{project}[?usage=true]` | the project's quotas (with usage) |
//!
//! Every v3 answer carries `OpenStack-API-Version: volume 3.N` and `Vary`; errors have Cinder's
//! fault bodies (`{"itemNotFound": {"code": 404, "message": ...}}`); a request without a valid
//! token gets keystonemiddleware's 401 ([`auth::token`]).
//!
//! Lifecycles take the modelled time of [`Op`]: a new volume is `creating` until
//! `Op::CreateVolume` has passed, then the array volume `volume-<id>-cinder` exists and the
//! volume is `available`; `deleting` destroys the array volume (FlashArray's destroyed bin, as
//! the Pure driver does unless `pure_eradicate_on_delete`); a manage is `creating` (Cinder's
//! `managing`) until `Op::ManageVolume`, when the driver's checks run and the array volume is
//! renamed `volume-<id>-cinder`, or the volume goes to `error` (`error_managing`); an unmanage
//! (`unmanaging`, `Op::UnmanageVolume`) renames the array volume `<name>-unmanaged` and never
//! destroys it. Why a volume failed is in the world dump's `block.volume_errors`.
//!
//! Nova's handlers attach and detach volumes with [`attach`], [`detach`] and [`detach_server`],
//! and delete `delete_on_termination` volumes with [`start_delete`].

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Serialize;
use serde_json::Value;

use super::auth;
use super::state::{Pending, Token, Volume, VolumeAttachment, VolumeJob, VolumeStatus};
use crate::clock::Op;
use crate::flasharray::state as fa;
use crate::server::SiteContext;
use crate::world::Site;
use protector_wire::cinder as wire;
use protector_wire::ids::IdGen;

/// The highest microversion the twin's Cinder speaks (3.71: Cinder 2023.2 and later); the
/// lowest is 3.0.
pub const MAX_MICROVERSION: u32 = 71;
/// The `updated` date of Cinder's v3 version document (unchanged since Rocky).
const VERSION_UPDATED: &str = "2018-07-17T00:00:00Z";
/// `osapi_max_limit`: the largest page, and the page size when `limit` is absent.
const MAX_LIMIT: usize = 1000;
pub use protector_wire::names::pure_unmanaged_name as unmanaged_name;
const GIB: u64 = 1 << 30;
/// Cinder's answer to deleting or unmanaging a volume in the wrong state (`InvalidVolume`).
pub const INVALID_VOLUME_STATE: &str = "Invalid volume: Volume status must be available or \
    error or error_restoring or error_extending or error_managing and must not be migrating, \
    attached, belong to a group, have snapshots or be disassociated from snapshots after volume \
    transfer.";
/// The class name the Pure driver's messages start with (iSCSI is the twin's protocol).
const DRIVER_CLASS: &str = "PureISCSIDriver";

// Microversions that change behaviour.
const MV_MANAGE_EXISTING_LIST: u32 = 8;
const MV_GROUP_VOLUME: u32 = 13;
const MV_MANAGE_CLUSTER: u32 = 16;
const MV_LIST_MANAGEABLE_CLUSTER: u32 = 17;
const MV_PROVIDER_ID: u32 = 21;
const MV_RESOURCE_FILTER: u32 = 33;
const MV_LIKE_FILTER: u32 = 34;
const MV_SUPPORT_COUNT: u32 = 45;
const MV_SHARED_TARGETS: u32 = 48;
const MV_CLUSTER_NAME: u32 = 61;
const MV_VOLUME_TYPE_ID: u32 = 63;
const MV_USE_QUOTA: u32 = 65;
const MV_SHARED_TARGETS_TRISTATE: u32 = 69;

/// The volume filters Cinder allows non-admins (`resource_filters.json`).
const VOLUME_FILTERS: &[&str] = &[
    "name",
    "status",
    "metadata",
    "bootable",
    "migration_status",
    "availability_zone",
    "group_id",
    "size",
    "created_at",
    "updated_at",
];
/// Before 3.33 non-admins' other filters are dropped silently; these survive.
const LEGACY_VOLUME_FILTERS: &[&str] = &[
    "name",
    "status",
    "metadata",
    "bootable",
    "availability_zone",
];

// ---------------------------------------------------------------- errors

/// A Cinder error: the HTTP status and the message of its fault body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CinderError {
    pub status: u16,
    pub message: String,
}

impl CinderError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        CinderError {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        CinderError::new(400, message)
    }

    fn invalid_input(reason: impl AsRef<str>) -> Self {
        CinderError::new(400, format!("Invalid input received: {}", reason.as_ref()))
    }

    fn not_found() -> Self {
        CinderError::new(404, "The resource could not be found.")
    }

    fn volume_not_found(id: &str) -> Self {
        CinderError::new(404, format!("Volume {id} could not be found."))
    }

    /// `PolicyNotAuthorized`.
    fn policy(action: &str) -> Self {
        CinderError::new(
            403,
            format!("Policy doesn't allow {action} to be performed."),
        )
    }
}

impl IntoResponse for CinderError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = wire::ErrorResponse::for_status(self.status, self.message);
        let over_limit = self.status == 413;
        if let (true, wire::ErrorResponse::OverLimit(detail)) = (over_limit, &mut body) {
            // QuotaError: `Retry-After: 0`, repeated in the body.
            detail.retry_after = Some("0".to_string());
        }
        let mut response = json(status, &body);
        if over_limit {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
        }
        response
    }
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}

fn empty(status: StatusCode) -> Response {
    status.into_response()
}

// ---------------------------------------------------------------- time-driven changes

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

fn complete(site: &mut Site, id: &str) {
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
                let unmanaged = unmanaged_name(&array_volume);
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
fn forget(site: &mut Site, id: &str) {
    site.block.volumes.remove(id);
    site.block.jobs.remove(id);
    site.block.volume_errors.remove(id);
}

fn fail(site: &mut Site, id: &str, status: VolumeStatus, reason: String) {
    let wall = site.clock.wall();
    if let Some(volume) = site.block.volumes.get_mut(id) {
        volume.status = status;
        volume.updated_at = wall;
    }
    site.block.volume_errors.insert(id.to_string(), reason);
}

/// The volume manager's create: the Pure driver makes `volume-<id>-cinder` on the array (a
/// copy of the source for a clone) and records it in the volume's metadata.
fn finish_create(site: &mut Site, id: &str, clone_of: Option<&str>) {
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
fn finish_manage(site: &mut Site, id: &str, reference: &Value) {
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

// ---------------------------------------------------------------- the array, as the driver uses it

/// The array volume the Pure driver keeps a Cinder volume in.
pub fn array_volume_name(volume_id: &str) -> String {
    format!("volume-{volume_id}-cinder")
}

/// Creates an array volume of `bytes`, empty or a copy of the array volume `source`.
fn array_create(
    site: &mut Site,
    name: &str,
    bytes: u64,
    source: Option<&str>,
) -> Result<(), String> {
    if site.array.volumes.contains_key(name) {
        return Err(format!(
            "Volume {name} already exists on {}.",
            site.array.name
        ));
    }
    let content = match source {
        Some(source) => match site.array.volumes.get(source).filter(|v| !v.destroyed) {
            Some(volume) => volume.content.clone(),
            None => return Err(format!("Source volume {source} does not exist.")),
        },
        None => format!("empty:{}:{name}", site.array.name),
    };
    let volume = fa::Volume {
        id: site.ids.uuid(),
        name: name.to_string(),
        provisioned: bytes,
        serial: site.ids.hex(24).to_uppercase(),
        created: site.clock.wall_ms(),
        destroyed: false,
        source: source.map(str::to_string),
        content,
    };
    site.array.volumes.insert(name.to_string(), volume);
    Ok(())
}

/// Renames an array volume (with its memberships and connections, as FlashArray does).
fn array_rename(site: &mut Site, old: &str, new: &str) -> Result<(), String> {
    if !site.array.volumes.contains_key(old) {
        return Err(format!("Unable to rename {old}: Volume does not exist."));
    }
    if site.array.volumes.contains_key(new) {
        return Err(format!(
            "Unable to rename {old} to {new}: Volume already exists."
        ));
    }
    site.array.rename_volume(old, new);
    Ok(())
}

/// The iSCSI initiator of a compute host, as os-brick's connector reports it.
pub fn initiator_of(compute_host: &str) -> String {
    format!("iqn.2010-10.org.openstack:{compute_host}")
}

/// The Pure driver's name for a Purity host it creates: the connector's host name (at most 23
/// characters, anything but letters, digits and `-` made `-`), a random hex, `-cinder`.
fn purity_host_name(compute_host: &str, hex: &str) -> String {
    let name: String = compute_host
        .chars()
        .take(23)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{}-{hex}-cinder", name.trim_start_matches('-'))
}

/// Whether the Pure driver made this Purity host (`.*-[a-f0-9]{32}-cinder$`): it deletes such a
/// host once its last connection goes.
fn generated_host(name: &str) -> bool {
    name.strip_suffix("-cinder")
        .and_then(|rest| rest.len().checked_sub(33).map(|at| &rest[at..]))
        .is_some_and(|tail| {
            tail.starts_with('-')
                && tail[1..]
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// `initialize_connection`: the Purity host with the compute host's initiator (created when
/// missing) gets a private connection to the array volume, at the lowest free LUN.
fn array_connect(site: &mut Site, volume: &str, compute_host: &str) {
    if !site.array.volumes.contains_key(volume) {
        return;
    }
    let initiator = initiator_of(compute_host);
    let existing = site
        .array
        .hosts
        .values()
        .find(|host| host.iqns.contains(&initiator))
        .map(|host| host.name.clone());
    let name = match existing {
        Some(name) => name,
        None => {
            let name = purity_host_name(compute_host, &site.ids.hex(32));
            site.array.hosts.insert(
                name.clone(),
                fa::Host {
                    name: name.clone(),
                    iqns: vec![initiator],
                    ..Default::default()
                },
            );
            name
        }
    };
    if let Some(host) = site.array.hosts.get_mut(&name)
        && !host.connections.contains_key(volume)
    {
        // The lowest free LUN; one pass over the host's connections (a compute host can carry
        // thousands of volumes in a scale fixture).
        let used: std::collections::HashSet<u32> = host.connections.values().copied().collect();
        let lun = (1..).find(|lun| !used.contains(lun)).unwrap_or(1);
        host.connections.insert(volume.to_string(), lun);
    }
}

/// `terminate_connection` without a connector (and `delete_volume`'s first step): every host
/// connection of the array volume goes; a host the driver made goes with its last connection.
fn array_disconnect_all(site: &mut Site, volume: &str) {
    let mut unused = Vec::new();
    for host in site.array.hosts.values_mut() {
        if host.connections.remove(volume).is_some()
            && host.connections.is_empty()
            && generated_host(&host.name)
        {
            unused.push(host.name.clone());
        }
    }
    for name in unused {
        site.array.hosts.remove(&name);
    }
}

/// Destroys an array volume: it waits in the destroyed bin (recoverable) until eradicated.
fn array_destroy(site: &mut Site, name: &str) {
    let now = site.clock.now();
    site.array.set_volume_destroyed(name, true, now);
}

// ---------------------------------------------------------------- helpers for Nova

/// Attaches `volume_id` to server `server_id` at `device` on the compute host `compute_host`
/// (what Nova's boot from volume and `os-volume_attachments` do through Cinder's attachment
/// API): the volume must be `available` (or already attached to this server, which changes
/// nothing); it becomes `in-use`, and its array volume is connected to the compute host's
/// Purity host, as the Pure driver's `initialize_connection` does. Returns the attachment id.
/// Errors are Cinder's: 404 for an unknown volume, 400 `InvalidVolume` for one in another
/// state.
pub fn attach(
    site: &mut Site,
    volume_id: &str,
    server_id: &str,
    device: &str,
    compute_host: &str,
) -> Result<String, CinderError> {
    let wall = site.clock.wall();
    let volume = site
        .block
        .volumes
        .get(volume_id)
        .ok_or_else(|| CinderError::volume_not_found(volume_id))?;
    if let Some(existing) = volume
        .attachments
        .iter()
        .find(|attachment| attachment.server_id == server_id)
    {
        return Ok(existing.attachment_id.clone());
    }
    check_attachable(site, volume_id)?;
    let array_volume = volume.array_volume.clone();
    let attachment_id = site.ids.uuid();
    if let Some(volume) = site.block.volumes.get_mut(volume_id) {
        volume.attachments.push(VolumeAttachment {
            attachment_id: attachment_id.clone(),
            server_id: server_id.to_string(),
            device: device.to_string(),
            attached_at: wall,
        });
        volume.status = VolumeStatus::InUse;
        volume.updated_at = wall;
    }
    array_connect(site, &array_volume, compute_host);
    Ok(attachment_id)
}

/// Connects the array volume of every attached volume to `compute_host` (the state a world
/// whose servers already run has: `World::from_fixture` can call it for the fixture's servers).
pub fn connect_attached_volumes(site: &mut Site, compute_host: &str) {
    let attached: Vec<String> = site
        .block
        .volumes
        .values()
        .filter(|volume| !volume.attachments.is_empty() && !volume.array_volume.is_empty())
        .map(|volume| volume.array_volume.clone())
        .collect();
    for array_volume in attached {
        array_connect(site, &array_volume, compute_host);
    }
}

/// Whether `volume_id` could be attached now (the check of [`attach`], without attaching).
pub fn check_attachable(site: &Site, volume_id: &str) -> Result<(), CinderError> {
    let volume = site
        .block
        .volumes
        .get(volume_id)
        .ok_or_else(|| CinderError::volume_not_found(volume_id))?;
    if volume.status == VolumeStatus::Available {
        Ok(())
    } else {
        Err(CinderError::bad_request(format!(
            "Invalid volume: Volume {volume_id} status must be available or downloading"
        )))
    }
}

/// Detaches `volume_id` from server `server_id`; the volume is `available` again once no server
/// uses it. Returns whether it was attached there.
pub fn detach(site: &mut Site, volume_id: &str, server_id: &str) -> bool {
    let wall = site.clock.wall();
    let Some(volume) = site.block.volumes.get_mut(volume_id) else {
        return false;
    };
    let before = volume.attachments.len();
    volume
        .attachments
        .retain(|attachment| attachment.server_id != server_id);
    let detached = volume.attachments.len() != before;
    let unused = volume.attachments.is_empty();
    if detached {
        if unused && volume.status == VolumeStatus::InUse {
            volume.status = VolumeStatus::Available;
        }
        volume.updated_at = wall;
    }
    if detached && unused {
        // `terminate_connection`.
        let array_volume = volume.array_volume.clone();
        array_disconnect_all(site, &array_volume);
    }
    detached
}

/// Detaches every volume server `server_id` uses (a server deleted); returns their ids.
pub fn detach_server(site: &mut Site, server_id: &str) -> Vec<String> {
    let ids: Vec<String> = site
        .block
        .volumes
        .values()
        .filter(|volume| volume.attachments.iter().any(|a| a.server_id == server_id))
        .map(|volume| volume.id.clone())
        .collect();
    for id in &ids {
        detach(site, id, server_id);
    }
    ids
}

/// Starts deleting a volume, as `DELETE /volumes/{id}` does after its policy check (Nova uses
/// it for `delete_on_termination` volumes, after detaching them): the volume must be
/// `available`, `error` or `error_managing` and not attached (else 400 [`INVALID_VOLUME_STATE`]);
/// it is `deleting` until `Op::DeleteVolume` has passed, then gone, its array volume destroyed.
pub fn start_delete(site: &mut Site, volume_id: &str) -> Result<(), CinderError> {
    let at = site.clock.now() + site.clock.latency(Op::DeleteVolume);
    let wall = site.clock.wall();
    let volume = site
        .block
        .volumes
        .get_mut(volume_id)
        .ok_or_else(|| CinderError::volume_not_found(volume_id))?;
    if !removable(volume) {
        return Err(CinderError::bad_request(INVALID_VOLUME_STATE));
    }
    if volume.host.is_empty() {
        // Never scheduled: Cinder deletes the record at once.
        forget(site, volume_id);
        return Ok(());
    }
    let backend = volume.status != VolumeStatus::ErrorManaging;
    volume.status = VolumeStatus::Deleting;
    volume.updated_at = wall;
    volume.pending = Some(Pending {
        at,
        then: VolumeStatus::Deleting,
        error: None,
    });
    site.block
        .jobs
        .insert(volume_id.to_string(), VolumeJob::Delete { backend });
    Ok(())
}

/// Cinder's condition for delete and unmanage.
fn removable(volume: &Volume) -> bool {
    matches!(
        volume.status,
        VolumeStatus::Available | VolumeStatus::Error | VolumeStatus::ErrorManaging
    ) && volume.attachments.is_empty()
}

// ---------------------------------------------------------------- routing

pub fn routes() -> Router<SiteContext> {
    Router::new()
        .route("/", any(dispatch))
        .route("/{*path}", any(dispatch))
}

/// The one handler behind every Cinder path (it routes by itself, to answer unknown paths and
/// methods with Cinder's faults). `openstack::router()` may also mount it at `/volume/`: axum
/// maps the nested `/` to `/volume` only.
pub async fn dispatch(
    State(ctx): State<SiteContext>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut site = ctx.lock();
    handle(&mut site, &method, &uri, &headers, &body)
}

/// One request, with the site locked.
fn handle(
    site: &mut Site,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let path = uri.path();
    let rest = path.strip_prefix("/volume").unwrap_or(path);
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let base = base_url(site, headers);
    match segments.as_slice() {
        [] if method == Method::GET => json(
            StatusCode::MULTIPLE_CHOICES,
            &wire::VersionsList {
                versions: vec![version_document(&base)],
            },
        ),
        ["v3"] if method == Method::GET => json(
            StatusCode::OK,
            &wire::VersionsList {
                versions: vec![version_document(&base)],
            },
        ),
        ["v3", project, rest @ ..] => {
            let token = match auth::token(site, headers) {
                Ok(token) => token,
                Err(unauthorized) => return unauthorized.into_response(),
            };
            let version = match microversion(headers) {
                Ok(version) => version,
                Err(error) => return error.into_response(),
            };
            let query = Query::<Vec<(String, String)>>::try_from_uri(uri)
                .map(|Query(pairs)| pairs)
                .unwrap_or_default();
            let admin = token.roles.iter().any(|role| role == "admin");
            let call = Call {
                method: method.clone(),
                query,
                body: body.clone(),
                version,
                admin,
                base,
                token,
            };
            let mut response = if *project != call.token.project_id.as_str() {
                CinderError::bad_request("Malformed request url").into_response()
            } else {
                let rest: Vec<String> = rest.iter().map(|s| percent_decode(s)).collect();
                let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
                route(site, &call, &rest).unwrap_or_else(IntoResponse::into_response)
            };
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&format!("volume 3.{version}")) {
                headers.insert("openstack-api-version", value);
            }
            headers.insert(
                header::VARY,
                HeaderValue::from_static("OpenStack-API-Version"),
            );
            response
        }
        [] | ["v3"] => CinderError::new(405, "The method is not allowed for the requested URL.")
            .into_response(),
        _ => CinderError::not_found().into_response(),
    }
}

/// What a handler knows of its request.
struct Call {
    method: Method,
    query: Vec<(String, String)>,
    body: Bytes,
    /// The minor microversion (3.N).
    version: u32,
    admin: bool,
    /// `http://127.0.0.1:PORT`.
    base: String,
    token: Token,
}

impl Call {
    fn project(&self) -> &str {
        &self.token.project_id
    }

    fn view(&self) -> View<'_> {
        View {
            version: self.version,
            admin: self.admin,
            base: &self.base,
            project: self.project(),
        }
    }

    /// The JSON body (`null` when empty).
    fn json(&self) -> Result<Value, CinderError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body)
            .map_err(|_| CinderError::bad_request("Malformed request body"))
    }

    /// Cinder's default policies let readers read only.
    fn require_writer(&self, action: &str) -> Result<(), CinderError> {
        if self.token.roles.iter().any(|role| role != "reader") {
            Ok(())
        } else {
            Err(CinderError::policy(action))
        }
    }
}

fn route(site: &mut Site, call: &Call, rest: &[&str]) -> Result<Response, CinderError> {
    let method = &call.method;
    let get = method == Method::GET;
    let post = method == Method::POST;
    let put = method == Method::PUT;
    let delete = method == Method::DELETE;
    match rest {
        ["volumes"] if get => list_volumes(site, call, false),
        ["volumes", "detail"] if get => list_volumes(site, call, true),
        ["volumes"] if post => create_volume(site, call),
        ["volumes", id] if get => show_volume(site, call, id),
        ["volumes", id] if put => update_volume(site, call, id),
        ["volumes", id] if delete => delete_volume(site, call, id),
        ["volumes", id, "action"] if post => volume_action(site, call, id),
        ["volumes", id, "metadata"] if get => {
            let volume = visible(site, call, id)?;
            Ok(json(
                StatusCode::OK,
                &wire::VolumeMetadata {
                    metadata: volume.metadata.clone(),
                },
            ))
        }
        ["volumes", id, "metadata"] if post || put => set_metadata(site, call, id, put),
        ["volumes", id, "metadata", key] if get => {
            let volume = visible(site, call, id)?;
            let value = volume
                .metadata
                .get(*key)
                .ok_or_else(|| metadata_not_found(id, key))?;
            Ok(json(
                StatusCode::OK,
                &wire::VolumeMetadataItem {
                    meta: BTreeMap::from([(key.to_string(), value.clone())]),
                },
            ))
        }
        ["volumes", id, "metadata", key] if put => set_metadata_item(site, call, id, key),
        ["volumes", id, "metadata", key] if delete => {
            visible(site, call, id)?;
            call.require_writer("volume:delete_volume_metadata")?;
            let wall = site.clock.wall();
            let volume = site
                .block
                .volumes
                .get_mut(*id)
                .ok_or_else(|| CinderError::volume_not_found(id))?;
            volume
                .metadata
                .remove(*key)
                .ok_or_else(|| metadata_not_found(id, key))?;
            volume.updated_at = wall;
            Ok(empty(StatusCode::OK))
        }
        ["types"] if get => {
            let mut types: Vec<&super::state::VolumeType> =
                site.block.volume_types.values().collect();
            types.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(json(
                StatusCode::OK,
                &wire::VolumeTypesList {
                    volume_types: types
                        .into_iter()
                        .map(|t| type_view(t, call.admin))
                        .collect(),
                },
            ))
        }
        ["types", id] if get => {
            let volume_type = if *id == "default" {
                default_type(site)
            } else {
                site.block.volume_types.get(*id)
            }
            .ok_or_else(|| {
                CinderError::new(404, format!("Volume type {id} could not be found."))
            })?;
            Ok(json(
                StatusCode::OK,
                &wire::VolumeTypeResponse {
                    volume_type: type_view(volume_type, call.admin),
                },
            ))
        }
        ["scheduler-stats", "get_pools"] if get => get_pools(site, call),
        ["os-services"] if get => list_services(site, call),
        ["manageable_volumes"] if get => list_manageable(site, call, false, true),
        ["manageable_volumes", "detail"] if get => list_manageable(site, call, true, true),
        ["manageable_volumes"] if post => manage(site, call, true),
        ["os-volume-manage"] if get => list_manageable(site, call, false, false),
        ["os-volume-manage", "detail"] if get => list_manageable(site, call, true, false),
        ["os-volume-manage"] if post => manage(site, call, false),
        ["os-quota-sets", target] if get => show_quotas(site, call, target),
        _ => Err(CinderError::not_found()),
    }
}

// ---------------------------------------------------------------- version discovery

fn version_document(base: &str) -> wire::ApiVersion {
    wire::ApiVersion {
        id: "v3.0".to_string(),
        status: "CURRENT".to_string(),
        version: format!("3.{MAX_MICROVERSION}"),
        min_version: "3.0".to_string(),
        updated: VERSION_UPDATED.to_string(),
        links: vec![
            wire::VersionLink {
                rel: "describedby".to_string(),
                media_type: Some("text/html".to_string()),
                href: "https://docs.openstack.org/".to_string(),
            },
            wire::VersionLink {
                rel: "self".to_string(),
                media_type: None,
                href: format!("{base}/volume/v3/"),
            },
        ],
        media_types: vec![wire::MediaType {
            base: "application/json".to_string(),
            media_type: "application/vnd.openstack.volume+json;version=3".to_string(),
        }],
    }
}

/// The microversion a request asks for (`OpenStack-API-Version: volume 3.N`; 3.0 without).
fn microversion(headers: &HeaderMap) -> Result<u32, CinderError> {
    let items = headers
        .get_all("openstack-api-version")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for item in items {
        let mut words = item.split_whitespace();
        let (Some(service), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        if !service.eq_ignore_ascii_case("volume") {
            continue;
        }
        if version.eq_ignore_ascii_case("latest") {
            return Ok(MAX_MICROVERSION);
        }
        let parsed = version.split_once('.').and_then(|(major, minor)| {
            Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?))
        });
        let Some((major, minor)) = parsed else {
            return Err(CinderError::bad_request(format!(
                "API Version String {version} is of invalid format. Must be of format \
                 MajorNum.MinorNum."
            )));
        };
        if major != 3 || minor > MAX_MICROVERSION {
            return Err(CinderError::new(
                406,
                format!(
                    "Version {major}.{minor} is not supported by the API. Minimum is 3.0 and \
                     maximum is 3.{MAX_MICROVERSION}."
                ),
            ));
        }
        return Ok(minor);
    }
    Ok(0)
}

/// The URL the site is served at (Cinder's `public_endpoint`); the request's `Host` when the
/// site has not bound its port yet (unit tests).
fn base_url(site: &Site, headers: &HeaderMap) -> String {
    if !site.endpoints.openstack.is_empty() {
        return site.endpoints.openstack.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

// ---------------------------------------------------------------- views

/// How a volume is shown: depends on the microversion and on whether the caller is an admin.
struct View<'a> {
    version: u32,
    admin: bool,
    base: &'a str,
    /// The caller's project: Cinder builds links with it.
    project: &'a str,
}

impl View<'_> {
    fn links(&self, id: &str) -> Vec<wire::Link> {
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

    fn summary(&self, volume: &Volume) -> wire::VolumeSummary {
        wire::VolumeSummary {
            id: volume.id.clone(),
            name: display_name(volume),
            links: self.links(&volume.id),
        }
    }

    fn detail(&self, site: &Site, volume: &Volume) -> wire::Volume {
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

fn display_name(volume: &Volume) -> Option<String> {
    (!volume.name.is_empty()).then(|| volume.name.clone())
}

/// The status the API shows (Cinder hides its manage-specific statuses).
fn api_status(status: VolumeStatus) -> &'static str {
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
fn db_status(status: VolumeStatus) -> &'static str {
    match status {
        VolumeStatus::Managing => "managing",
        VolumeStatus::ErrorManaging => "error_managing",
        other => api_status(other),
    }
}

/// Cinder's JSON timestamps: UTC, microseconds, no offset.
fn timestamp(time: &chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// The site's `cinder-volume` service id (stable, without drawing from the site's ids).
fn service_uuid(site: &str) -> String {
    IdGen::for_site(0x000c_1de4, &format!("{site}/cinder-volume")).uuid()
}

fn replication_enabled(volume_type: &super::state::VolumeType) -> bool {
    volume_type
        .extra_specs
        .get("replication_enabled")
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("<is> true"))
}

fn type_view(volume_type: &super::state::VolumeType, admin: bool) -> wire::VolumeType {
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
fn default_type(site: &Site) -> Option<&super::state::VolumeType> {
    let types = &site.block.volume_types;
    types
        .values()
        .find(|t| t.name == "__DEFAULT__")
        .or_else(|| types.values().min_by(|a, b| a.name.cmp(&b.name)))
}

/// A volume type by name, or by id (`volume_types.get_by_name_or_id`).
fn find_type<'a>(site: &'a Site, name_or_id: &str) -> Option<&'a super::state::VolumeType> {
    site.block.volume_types.get(name_or_id).or_else(|| {
        site.block
            .volume_types
            .values()
            .find(|t| t.name == name_or_id)
    })
}

/// The backend (`host@backend`) the type is pinned to by `volume_backend_name`.
fn type_backend(site: &Site, type_name: &str) -> Option<String> {
    site.block
        .volume_types
        .values()
        .find(|t| t.name == type_name)
        .and_then(|t| t.extra_specs.get("volume_backend_name"))
        .cloned()
}

/// `host@backend` of `host@backend#pool`.
fn backend_of(host: &str) -> &str {
    host.split('#').next().unwrap_or(host)
}

/// The pool a volume host names: the pool itself, or the backend's first pool.
fn pool_for_host<'a>(site: &'a Site, host: &str) -> Option<&'a super::state::Pool> {
    let pools = &site.block.pools;
    if host.contains('#') {
        pools.iter().find(|pool| pool.name == host)
    } else {
        pools.iter().find(|pool| backend_of(&pool.name) == host)
    }
}

/// A Python-style rendering of a JSON value, as Cinder's messages quote request values.
fn py_repr(value: &Value) -> String {
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

// ---------------------------------------------------------------- volumes

/// A volume the caller may see (its project's; any, for an admin), else 404.
fn visible<'a>(site: &'a Site, call: &Call, id: &str) -> Result<&'a Volume, CinderError> {
    site.block
        .volumes
        .get(id)
        .filter(|volume| call.admin || volume.project_id == call.project())
        .ok_or_else(|| CinderError::volume_not_found(id))
}

fn metadata_not_found(id: &str, key: &str) -> CinderError {
    CinderError::new(404, format!("Volume {id} has no metadata with key {key}."))
}

fn show_volume(site: &Site, call: &Call, id: &str) -> Result<Response, CinderError> {
    let volume = visible(site, call, id)?;
    Ok(json(
        StatusCode::OK,
        &wire::VolumeResponse {
            volume: call.view().detail(site, volume),
        },
    ))
}

/// A sort key of the volume list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    CreatedAt,
    UpdatedAt,
    Id,
    Name,
    Status,
    Size,
    AvailabilityZone,
    Bootable,
    VolumeType,
}

impl SortKey {
    fn parse(key: &str) -> Option<SortKey> {
        Some(match key {
            "created_at" => SortKey::CreatedAt,
            "updated_at" => SortKey::UpdatedAt,
            "id" => SortKey::Id,
            "name" | "display_name" => SortKey::Name,
            "status" => SortKey::Status,
            "size" => SortKey::Size,
            "availability_zone" => SortKey::AvailabilityZone,
            "bootable" => SortKey::Bootable,
            "volume_type" | "volume_type_id" => SortKey::VolumeType,
            _ => return None,
        })
    }

    fn compare(self, a: &Volume, b: &Volume) -> Ordering {
        match self {
            SortKey::CreatedAt => a.created_at.cmp(&b.created_at),
            SortKey::UpdatedAt => a.updated_at.cmp(&b.updated_at),
            SortKey::Id => a.id.cmp(&b.id),
            SortKey::Name => a.name.cmp(&b.name),
            SortKey::Status => db_status(a.status).cmp(db_status(b.status)),
            SortKey::Size => a.size_gb.cmp(&b.size_gb),
            SortKey::AvailabilityZone => a.availability_zone.cmp(&b.availability_zone),
            SortKey::Bootable => a.bootable.cmp(&b.bootable),
            SortKey::VolumeType => a.volume_type.cmp(&b.volume_type),
        }
    }
}

/// Removes every `key` from the query; the last value wins.
fn take(params: &mut Vec<(String, String)>, key: &str) -> Option<String> {
    let mut value = None;
    params.retain(|(k, v)| {
        if k == key {
            value = Some(v.clone());
            false
        } else {
            true
        }
    });
    value
}

/// `limit` (default and maximum `osapi_max_limit`), as Cinder's `_get_limit_param`.
fn take_limit(params: &mut Vec<(String, String)>) -> Result<usize, CinderError> {
    let Some(limit) = take(params, "limit") else {
        return Ok(MAX_LIMIT);
    };
    let limit: i64 = limit
        .trim()
        .parse()
        .map_err(|_| CinderError::bad_request("limit param must be an integer"))?;
    if limit < 0 {
        return Err(CinderError::bad_request("limit param must be positive"));
    }
    Ok((limit as usize).min(MAX_LIMIT))
}

fn take_offset(params: &mut Vec<(String, String)>) -> Result<usize, CinderError> {
    let Some(offset) = take(params, "offset") else {
        return Ok(0);
    };
    let offset: i64 = offset
        .trim()
        .parse()
        .map_err(|_| CinderError::invalid_input("offset must be an integer."))?;
    if offset < 0 {
        return Err(CinderError::invalid_input("offset must be >= 0."));
    }
    Ok(offset as usize)
}

/// `sort=k1:d1,k2` or `sort_key`/`sort_dir`, as Cinder's `get_sort_params`: (key, ascending).
fn take_sort(
    params: &mut Vec<(String, String)>,
    default_key: &str,
) -> Result<Vec<(String, bool)>, CinderError> {
    let sort = take(params, "sort");
    let sort_key = take(params, "sort_key");
    let sort_dir = take(params, "sort_dir");
    let direction = |dir: &str| match dir.trim() {
        "asc" => Ok(true),
        "desc" => Ok(false),
        _ => Err(CinderError::invalid_input(
            "Unknown sort direction, must be 'desc' or 'asc'",
        )),
    };
    if let Some(sort) = sort {
        if sort_key.is_some() || sort_dir.is_some() {
            return Err(CinderError::invalid_input(
                "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used \
                 with the 'sort' parameter.",
            ));
        }
        return sort
            .split(',')
            .filter(|item| !item.trim().is_empty())
            .map(|item| match item.split_once(':') {
                Some((key, dir)) => Ok((key.trim().to_string(), direction(dir)?)),
                None => Ok((item.trim().to_string(), false)),
            })
            .collect();
    }
    let ascending = match sort_dir {
        Some(dir) => direction(&dir)?,
        None => false,
    };
    Ok(vec![(
        sort_key.unwrap_or_else(|| default_key.to_string()),
        ascending,
    )])
}

/// `true`/`false` as oslo's `bool_from_string`; `strict` rejects anything else.
fn parse_bool(value: &str, strict: bool) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ if strict => None,
        _ => Some(false),
    }
}

/// A `metadata` filter: a Python or JSON dict literal.
fn parse_metadata_filter(text: &str) -> Option<BTreeMap<String, String>> {
    let parsed: Value = serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&text.replace('\'', "\"")))
        .ok()?;
    parsed
        .as_object()?
        .iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            Some((key.clone(), value))
        })
        .collect()
}

/// One filter of the volume list.
enum Filter {
    Name(String),
    NameLike(String),
    Status(String),
    StatusLike(String),
    Metadata(BTreeMap<String, String>),
    Bootable(bool),
    AvailabilityZone(String),
    Size(u64),
    ProjectId(String),
    /// A filter Cinder accepts that the twin's volumes never match (e.g. `group_id=x`).
    Nothing,
}

impl Filter {
    fn matches(&self, volume: &Volume) -> bool {
        match self {
            Filter::Name(name) => volume.name == *name,
            Filter::NameLike(part) => volume.name.to_lowercase().contains(&part.to_lowercase()),
            Filter::Status(status) => db_status(volume.status) == status,
            Filter::StatusLike(part) => db_status(volume.status).contains(part.as_str()),
            Filter::Metadata(wanted) => wanted
                .iter()
                .all(|(key, value)| volume.metadata.get(key) == Some(value)),
            Filter::Bootable(bootable) => volume.bootable == *bootable,
            Filter::AvailabilityZone(zone) => volume.availability_zone == *zone,
            Filter::Size(size) => volume.size_gb == *size,
            Filter::ProjectId(project) => volume.project_id == *project,
            Filter::Nothing => false,
        }
    }
}

fn list_volumes(site: &Site, call: &Call, detail: bool) -> Result<Response, CinderError> {
    let mut params = call.query.clone();
    let limit = take_limit(&mut params)?;
    let marker = take(&mut params, "marker");
    let offset = take_offset(&mut params)?;
    let sort = take_sort(&mut params, "created_at")?;
    let with_count = if call.version >= MV_SUPPORT_COUNT {
        match take(&mut params, "with_count") {
            Some(value) => parse_bool(&value, true).ok_or_else(|| {
                CinderError::invalid_input(format!("Invalid value '{value}' for with_count"))
            })?,
            None => false,
        }
    } else {
        false
    };

    // Filters: Cinder's resource filter rules for non-admins.
    let all_tenants = take(&mut params, "all_tenants")
        .is_some_and(|value| parse_bool(&value, false).unwrap_or(false) || value.is_empty());
    if !call.admin {
        if call.version >= MV_RESOURCE_FILTER {
            let like = call.version >= MV_LIKE_FILTER;
            let invalid: Vec<&str> = params
                .iter()
                .map(|(key, _)| key.as_str())
                .filter(|key| {
                    let configured = VOLUME_FILTERS.contains(key);
                    let like_configured = like
                        && key
                            .strip_suffix('~')
                            .is_some_and(|_| VOLUME_FILTERS.contains(&format!("{key}~").as_str()));
                    !(configured || like_configured)
                })
                .collect();
            if !invalid.is_empty() {
                return Err(CinderError::bad_request(format!(
                    "Invalid filters {} are found in query options.",
                    invalid.join(",")
                )));
            }
        } else {
            params.retain(|(key, _)| LEGACY_VOLUME_FILTERS.contains(&key.as_str()));
        }
    }
    let strict_bool = call.version >= 2;
    let mut filters = Vec::new();
    for (key, value) in &params {
        let filter = match key.as_str() {
            "name" | "display_name" => Filter::Name(value.clone()),
            "name~" | "display_name~" => Filter::NameLike(value.clone()),
            "status" => Filter::Status(value.clone()),
            "status~" => Filter::StatusLike(value.clone()),
            "metadata" => Filter::Metadata(
                parse_metadata_filter(value)
                    .ok_or_else(|| CinderError::invalid_input(format!("'metadata = {value}'")))?,
            ),
            "bootable" => Filter::Bootable(
                parse_bool(value, strict_bool)
                    .ok_or_else(|| CinderError::invalid_input(format!("'bootable = {value}'")))?,
            ),
            "availability_zone" => Filter::AvailabilityZone(value.clone()),
            "size" => match value.trim().parse() {
                Ok(size) => Filter::Size(size),
                Err(_) => Filter::Nothing,
            },
            "project_id" if call.admin => Filter::ProjectId(value.clone()),
            "migration_status" | "group_id" => Filter::Nothing,
            // Other keys an admin may pass name columns the twin does not keep: ignored.
            _ => continue,
        };
        filters.push(filter);
    }

    let mut keys = Vec::new();
    for (key, ascending) in &sort {
        let parsed = SortKey::parse(key)
            .ok_or_else(|| CinderError::invalid_input(format!("Invalid sort key {key}")))?;
        keys.push((parsed, *ascending));
    }
    // Cinder appends `created_at` and `id`, in the first key's direction.
    let default_ascending = keys.first().is_some_and(|(_, ascending)| *ascending);
    for default in [SortKey::CreatedAt, SortKey::Id] {
        if !keys.iter().any(|(key, _)| *key == default) {
            keys.push((default, default_ascending));
        }
    }
    let order = |a: &Volume, b: &Volume| {
        keys.iter()
            .map(|(key, ascending)| {
                let ordering = key.compare(a, b);
                if *ascending {
                    ordering
                } else {
                    ordering.reverse()
                }
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    };

    let every_project = call.admin && all_tenants;
    let mut matching: Vec<&Volume> = site
        .block
        .volumes
        .values()
        .filter(|volume| every_project || volume.project_id == call.project())
        .filter(|volume| filters.iter().all(|filter| filter.matches(volume)))
        .collect();
    matching.sort_by(|a, b| order(a, b));
    let count = matching.len() as u64;
    let start = match &marker {
        Some(marker) => {
            let marker_volume = visible(site, call, marker)?;
            matching.partition_point(|volume| order(volume, marker_volume) != Ordering::Greater)
        }
        None => 0,
    };
    let page: Vec<&Volume> = matching
        .into_iter()
        .skip(start + offset)
        .take(limit)
        .collect();

    let next = (!page.is_empty() && page.len() >= limit).then(|| {
        let last = page
            .last()
            .map(|volume| volume.id.clone())
            .unwrap_or_default();
        let mut query: Vec<(String, String)> = call
            .query
            .iter()
            .filter(|(key, _)| key != "marker")
            .cloned()
            .collect();
        query.push(("marker".to_string(), last));
        let collection = if detail { "volumes/detail" } else { "volumes" };
        vec![wire::Link {
            href: format!(
                "{}/volume/v3/{}/{collection}?{}",
                call.base,
                call.project(),
                url_encode(&query)
            ),
            rel: "next".to_string(),
        }]
    });
    let count = with_count.then_some(count);
    let view = call.view();
    Ok(if detail {
        json(
            StatusCode::OK,
            &wire::VolumesDetailList {
                volumes: page
                    .iter()
                    .map(|volume| view.detail(site, volume))
                    .collect(),
                volumes_links: next,
                count,
            },
        )
    } else {
        json(
            StatusCode::OK,
            &wire::VolumesList {
                volumes: page.iter().map(|volume| view.summary(volume)).collect(),
                volumes_links: next,
                count,
            },
        )
    })
}

/// `Invalid input for field/attribute ...`: Cinder's JSON-schema error.
fn schema_error(field: &str, value: &Value, detail: &str) -> CinderError {
    CinderError::bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {}. {detail}",
        py_repr(value)
    ))
}

/// A string or null field of a request object.
fn optional_string(
    object: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<String>, CinderError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.len() <= 255 => Ok(Some(text.clone())),
        Some(Value::String(text)) => Err(schema_error(
            key,
            &Value::String(text.clone()),
            &format!("'{text}' is too long"),
        )),
        Some(other) => Err(schema_error(
            key,
            other,
            &format!("{} is not of type 'string', 'null'", py_repr(other)),
        )),
    }
}

/// A metadata object (string keys of 1 to 255 characters, string values of at most 255).
fn metadata_value(value: &Value) -> Result<BTreeMap<String, String>, CinderError> {
    let object = value.as_object().ok_or_else(|| {
        schema_error(
            "metadata",
            value,
            &format!("{} is not of type 'object'", py_repr(value)),
        )
    })?;
    let mut metadata = BTreeMap::new();
    for (key, item) in object {
        let Some(text) = item.as_str() else {
            return Err(schema_error(
                &format!("metadata/{key}"),
                item,
                &format!("{} is not of type 'string'", py_repr(item)),
            ));
        };
        if key.is_empty() || key.len() > 255 || text.len() > 255 {
            return Err(schema_error(
                "metadata",
                value,
                "Metadata keys must be 1 to 255 characters, values at most 255.",
            ));
        }
        metadata.insert(key.clone(), text.to_string());
    }
    Ok(metadata)
}

/// The volumes of `project` that count against its quota. A manage counts once it succeeds:
/// Cinder's volume manager reserves and commits the quota inside its manage flow, so a volume
/// waiting to be managed holds none, and one whose manage failed never does.
fn quota_volumes<'a>(site: &'a Site, project: &'a str) -> impl Iterator<Item = &'a Volume> {
    site.block
        .volumes
        .values()
        .filter(move |volume| volume.project_id == project)
        .filter(|volume| {
            !matches!(
                volume.status,
                VolumeStatus::Managing | VolumeStatus::ErrorManaging
            )
        })
}

/// How many volumes count against `project`'s quota, `except` one.
fn quota_usage(site: &Site, project: &str, except: Option<&str>) -> i64 {
    quota_volumes(site, project)
        .filter(|volume| Some(volume.id.as_str()) != except)
        .count() as i64
}

/// `VolumeLimitExceeded` (413) when one more volume would exceed the project's quota.
fn check_quota(site: &Site, project: &str, except: Option<&str>) -> Result<(), CinderError> {
    let quota = site.block.volume_quota;
    if quota >= 0 && quota_usage(site, project, except) + 1 > quota {
        return Err(CinderError::new(
            413,
            format!(
                "VolumeLimitExceeded: Maximum number of volumes allowed ({quota}) exceeded for \
                 quota 'volumes'."
            ),
        ));
    }
    Ok(())
}

/// `GET /os-quota-sets/{project_id}[?usage=true]`, under `volume_extension:quotas:show` (an
/// admin, or any role on the project itself). The twin enforces only the site's volume count
/// ([`check_quota`]); every other limit is `-1`, so the answer never claims a limit the twin
/// would not apply. Usage counts what [`quota_volumes`] counts; nothing is ever `reserved`,
/// because the twin commits quota in one step. A project Cinder has never seen gets the same
/// limits and no usage, as Cinder answers with the defaults.
fn show_quotas(site: &Site, call: &Call, target: &str) -> Result<Response, CinderError> {
    if !call.admin && target != call.project() {
        return Err(CinderError::policy("volume_extension:quotas:show"));
    }
    let mut params = call.query.clone();
    let usage = match take(&mut params, "usage") {
        // `utils.get_bool_param`: strict, `InvalidParameterValue` otherwise.
        Some(value) => parse_bool(&value, true).ok_or_else(|| {
            CinderError::bad_request(format!("Value '{value}' for 'usage' is not a boolean."))
        })?,
        None => false,
    };
    let unlimited = wire::QuotaUsage {
        limit: -1,
        in_use: 0,
        reserved: 0,
        allocated: None,
    };
    let mut volumes = wire::QuotaUsage {
        limit: site.block.volume_quota,
        ..unlimited
    };
    let mut gigabytes = unlimited;
    let mut per_type: BTreeMap<String, wire::QuotaUsage> = BTreeMap::new();
    for volume_type in site.block.volume_types.values() {
        for resource in ["volumes", "snapshots", "gigabytes"] {
            per_type.insert(format!("{resource}_{}", volume_type.name), unlimited);
        }
    }
    for volume in quota_volumes(site, target) {
        let size = volume.size_gb as i64;
        volumes.in_use += 1;
        gigabytes.in_use += size;
        if let Some(count) = per_type.get_mut(&format!("volumes_{}", volume.volume_type)) {
            count.in_use += 1;
        }
        if let Some(count) = per_type.get_mut(&format!("gigabytes_{}", volume.volume_type)) {
            count.in_use += size;
        }
    }
    let quota_set = wire::QuotaSet {
        id: target.to_string(),
        volumes,
        snapshots: unlimited,
        gigabytes,
        backups: unlimited,
        backup_gigabytes: unlimited,
        groups: unlimited,
        per_volume_gigabytes: unlimited,
        per_type,
    };
    Ok(if usage {
        json(StatusCode::OK, &wire::QuotaSetResponse { quota_set })
    } else {
        let quota_set = quota_set.map(|usage| usage.limit);
        json(StatusCode::OK, &wire::QuotaSetResponse { quota_set })
    })
}

fn create_volume(site: &mut Site, call: &Call) -> Result<Response, CinderError> {
    let body = call.json()?;
    let Some(request) = body.get("volume").and_then(Value::as_object) else {
        return Err(match body.get("volume") {
            Some(value) => schema_error(
                "volume",
                value,
                &format!("{} is not of type 'object'", py_repr(value)),
            ),
            None => CinderError::bad_request("'volume' is a required property"),
        });
    };
    let name = optional_string(request, "name")?;
    let description = optional_string(request, "description")?;
    let zone = optional_string(request, "availability_zone")?;
    let type_name = optional_string(request, "volume_type")?;
    let metadata = match request.get("metadata") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => metadata_value(value)?,
    };
    let size = request.get("size").filter(|size| !size.is_null());
    for (key, what) in [
        ("snapshot_id", "Snapshot"),
        ("backup_id", "Backup"),
        ("imageRef", "Image"),
        ("consistencygroup_id", "ConsistencyGroup"),
        ("group_id", "Group"),
    ] {
        if let Some(id) = optional_string(request, key)? {
            return Err(CinderError::new(
                404,
                format!("{what} {id} could not be found."),
            ));
        }
    }
    let source = optional_string(request, "source_volid")?;

    // The type, as the controller looks it up.
    let volume_type = match &type_name {
        Some(name) => find_type(site, name).ok_or_else(|| {
            let uuid_like = name.len() == 36 && name.matches('-').count() == 4;
            CinderError::new(
                404,
                if uuid_like {
                    format!("Volume type {name} could not be found.")
                } else {
                    format!("Volume type with name {name} could not be found.")
                },
            )
        })?,
        None => default_type(site)
            .ok_or_else(|| CinderError::new(404, "Volume type default could not be found."))?,
    }
    .clone();

    call.require_writer("volume:create")?;
    let source_volume = match &source {
        Some(id) => Some(visible(site, call, id)?.clone()),
        None => None,
    };
    if let Some(source) = &source_volume
        && !matches!(source.status, VolumeStatus::Available | VolumeStatus::InUse)
    {
        return Err(CinderError::invalid_input(format!(
            "Source volume status must be available or in-use, but current status is: {}.",
            api_status(source.status)
        )));
    }
    let size_gb = match size {
        Some(value) => {
            let parsed = match value {
                Value::Number(number) => number.as_i64(),
                Value::String(text) => text.trim().parse::<i64>().ok(),
                _ => None,
            };
            match parsed {
                Some(size) if size > 0 => size as u64,
                _ => return Err(invalid_size(&py_repr(value))),
            }
        }
        None => match &source_volume {
            Some(source) => source.size_gb,
            None => return Err(invalid_size("None")),
        },
    };
    if let Some(source) = &source_volume
        && size_gb < source.size_gb
    {
        return Err(CinderError::invalid_input(format!(
            "Volume size {size_gb}GB cannot be smaller than original volume size {}GB. They \
             must be >= original volume size.",
            source.size_gb
        )));
    }
    let zone = match zone {
        Some(zone) => {
            if !known_zone(site, &zone) {
                return Err(CinderError::bad_request(format!(
                    "Invalid input received: Availability zone '{zone}' is invalid."
                )));
            }
            zone
        }
        None => source_volume
            .as_ref()
            .map(|source| source.availability_zone.clone())
            .unwrap_or_else(|| "nova".to_string()),
    };
    check_quota(site, call.project(), None)?;

    // The scheduler: a pool of the type's backend.
    let pool = match volume_type.extra_specs.get("volume_backend_name") {
        Some(backend) => site
            .block
            .pools
            .iter()
            .find(|pool| backend_of(&pool.name) == backend),
        None => site.block.pools.first(),
    }
    .filter(|pool| pool.array_name == site.array.name)
    .map(|pool| pool.name.clone());

    let id = site.ids.uuid();
    let wall = site.clock.wall();
    let at = site.clock.now() + site.clock.latency(Op::CreateVolume);
    let scheduled = pool.is_some();
    let volume = Volume {
        id: id.clone(),
        name: name.map(|n| n.trim().to_string()).unwrap_or_default(),
        description,
        project_id: call.project().to_string(),
        user_id: call.token.user_id.clone(),
        size_gb,
        status: if scheduled {
            VolumeStatus::Creating
        } else {
            VolumeStatus::Error
        },
        volume_type: volume_type.name.clone(),
        bootable: source_volume.as_ref().is_some_and(|source| source.bootable),
        host: pool.unwrap_or_default(),
        availability_zone: zone,
        metadata,
        attachments: Vec::new(),
        array_volume: if scheduled {
            array_volume_name(&id)
        } else {
            String::new()
        },
        created_at: wall,
        updated_at: wall,
        pending: scheduled.then_some(Pending {
            at,
            then: VolumeStatus::Available,
            error: None,
        }),
    };
    site.block.volumes.insert(id.clone(), volume);
    if scheduled {
        let clone_of = source_volume.map(|source| source.array_volume);
        site.block
            .jobs
            .insert(id.clone(), VolumeJob::Create { clone_of });
    } else {
        site.block.volume_errors.insert(
            id.clone(),
            "No valid backend was found. No weighed backends available".to_string(),
        );
    }
    let volume = &site.block.volumes[&id];
    Ok(json(
        StatusCode::ACCEPTED,
        &wire::VolumeResponse {
            volume: call.view().detail(site, volume),
        },
    ))
}

fn invalid_size(size: &str) -> CinderError {
    CinderError::invalid_input(format!(
        "Invalid volume size provided for create request: {size} (size argument must be an \
         integer (or string representation of an integer) and greater than zero)."
    ))
}

/// Cinder's storage availability zones: Nova's zones of the site, and `nova`.
fn known_zone(site: &Site, zone: &str) -> bool {
    zone == "nova" || site.compute.availability_zones.iter().any(|z| z == zone)
}

fn update_volume(site: &mut Site, call: &Call, id: &str) -> Result<Response, CinderError> {
    visible(site, call, id)?;
    let body = call.json()?;
    let Some(request) = body.get("volume").and_then(Value::as_object) else {
        return Err(CinderError::bad_request("'volume' is a required property"));
    };
    let name = optional_string(request, "name")?;
    let description = optional_string(request, "description")?;
    let metadata = match request.get("metadata") {
        None | Some(Value::Null) => None,
        Some(value) => Some(metadata_value(value)?),
    };
    call.require_writer("volume:update")?;
    let wall = site.clock.wall();
    let volume = site
        .block
        .volumes
        .get_mut(id)
        .ok_or_else(|| CinderError::volume_not_found(id))?;
    if request.contains_key("name") {
        volume.name = name.unwrap_or_default();
    }
    if request.contains_key("description") {
        volume.description = description;
    }
    if let Some(metadata) = metadata {
        volume.metadata = metadata;
    }
    volume.updated_at = wall;
    let volume = &site.block.volumes[id];
    Ok(json(
        StatusCode::OK,
        &wire::VolumeResponse {
            volume: call.view().detail(site, volume),
        },
    ))
}

fn delete_volume(site: &mut Site, call: &Call, id: &str) -> Result<Response, CinderError> {
    visible(site, call, id)?;
    call.require_writer("volume:delete")?;
    start_delete(site, id)?;
    Ok(empty(StatusCode::ACCEPTED))
}

fn volume_action(site: &mut Site, call: &Call, id: &str) -> Result<Response, CinderError> {
    let body = call.json()?;
    let Some((action, arguments)) = body
        .as_object()
        .filter(|object| object.len() == 1)
        .and_then(|object| object.iter().next())
    else {
        return Err(CinderError::bad_request("Malformed request body"));
    };
    match action.as_str() {
        "os-unmanage" => {
            let volume = visible(site, call, id)?;
            if !auth::has_any_role(&call.token, &site.block.policy.volume_unmanage) {
                return Err(CinderError::policy("volume_extension:volume_unmanage"));
            }
            if !removable(volume) {
                return Err(CinderError::bad_request(INVALID_VOLUME_STATE));
            }
            // Cinder calls the driver's unmanage for a failed manage too (where it fails: see
            // `complete`); only a delete of one skips the driver.
            let backend = true;
            let at = site.clock.now() + site.clock.latency(Op::UnmanageVolume);
            let wall = site.clock.wall();
            if let Some(volume) = site.block.volumes.get_mut(id) {
                volume.status = VolumeStatus::Unmanaging;
                volume.updated_at = wall;
                volume.pending = Some(Pending {
                    at,
                    then: VolumeStatus::Unmanaging,
                    error: None,
                });
            }
            site.block
                .jobs
                .insert(id.to_string(), VolumeJob::Unmanage { backend });
            Ok(empty(StatusCode::ACCEPTED))
        }
        "os-set_bootable" => {
            visible(site, call, id)?;
            let bootable = arguments.get("bootable").and_then(|value| match value {
                Value::Bool(flag) => Some(*flag),
                Value::String(text) => parse_bool(text, true),
                _ => None,
            });
            let Some(bootable) = bootable else {
                return Err(CinderError::invalid_input(
                    "Must specify a valid value for 'bootable'",
                ));
            };
            call.require_writer("volume_extension:volume_actions:set_bootable")?;
            let wall = site.clock.wall();
            if let Some(volume) = site.block.volumes.get_mut(id) {
                volume.bootable = bootable;
                volume.updated_at = wall;
            }
            Ok(empty(StatusCode::OK))
        }
        "os-reset_status" => {
            visible(site, call, id)?;
            if !call.admin {
                return Err(CinderError::policy(
                    "volume_extension:volume_admin_actions:reset_status",
                ));
            }
            let status = match arguments.get("status").and_then(Value::as_str) {
                Some("available") => VolumeStatus::Available,
                Some("in-use") => VolumeStatus::InUse,
                Some("error") => VolumeStatus::Error,
                Some("creating") => VolumeStatus::Creating,
                Some("deleting") => VolumeStatus::Deleting,
                Some("error_managing") => VolumeStatus::ErrorManaging,
                Some(other) => {
                    return Err(CinderError::invalid_input(format!(
                        "'{other}' is not a valid status"
                    )));
                }
                None => return Err(CinderError::invalid_input("Must specify 'status'")),
            };
            let wall = site.clock.wall();
            if let Some(volume) = site.block.volumes.get_mut(id) {
                volume.status = status;
                volume.pending = None;
                volume.updated_at = wall;
            }
            site.block.jobs.remove(id);
            Ok(empty(StatusCode::ACCEPTED))
        }
        other => Err(CinderError::bad_request(format!(
            "There is no such action: {other}"
        ))),
    }
}

fn set_metadata(
    site: &mut Site,
    call: &Call,
    id: &str,
    replace: bool,
) -> Result<Response, CinderError> {
    visible(site, call, id)?;
    let body = call.json()?;
    let Some(value) = body.get("metadata") else {
        return Err(CinderError::bad_request("Malformed request body"));
    };
    let metadata = metadata_value(value)?;
    call.require_writer("volume:update_volume_metadata")?;
    let wall = site.clock.wall();
    let volume = site
        .block
        .volumes
        .get_mut(id)
        .ok_or_else(|| CinderError::volume_not_found(id))?;
    if replace {
        volume.metadata = metadata;
    } else {
        volume.metadata.extend(metadata);
    }
    volume.updated_at = wall;
    Ok(json(
        StatusCode::OK,
        &wire::VolumeMetadata {
            metadata: volume.metadata.clone(),
        },
    ))
}

fn set_metadata_item(
    site: &mut Site,
    call: &Call,
    id: &str,
    key: &str,
) -> Result<Response, CinderError> {
    visible(site, call, id)?;
    let body = call.json()?;
    let Some(value) = body.get("meta") else {
        return Err(CinderError::bad_request("Malformed request body"));
    };
    let item = metadata_value(value)?;
    if !item.contains_key(key) {
        return Err(CinderError::bad_request("Request body and URI mismatch"));
    }
    if item.len() > 1 {
        return Err(CinderError::bad_request(
            "Request body contains too many items",
        ));
    }
    call.require_writer("volume:update_volume_metadata")?;
    let wall = site.clock.wall();
    let volume = site
        .block
        .volumes
        .get_mut(id)
        .ok_or_else(|| CinderError::volume_not_found(id))?;
    volume.metadata.extend(item.clone());
    volume.updated_at = wall;
    Ok(json(
        StatusCode::OK,
        &wire::VolumeMetadataItem { meta: item },
    ))
}

// ---------------------------------------------------------------- pools

/// `GET /os-services[?binary=..&host=..]`: a scheduler on the site's controller and a volume
/// service per backend (`host@backend` of each pool); the twin's services are always up.
fn list_services(site: &Site, call: &Call) -> Result<Response, CinderError> {
    if !auth::has_any_role(&call.token, &site.block.policy.services_index) {
        return Err(CinderError::policy("volume_extension:services:index"));
    }
    let filter = |key: &str| {
        call.query
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };
    let updated_at = Some(timestamp(&site.clock.wall()));
    let service = |binary: &str, host: &str| wire::Service {
        binary: binary.to_string(),
        host: host.to_string(),
        zone: Some("nova".to_string()),
        status: "enabled".to_string(),
        state: "up".to_string(),
        updated_at: updated_at.clone(),
        disabled_reason: None,
        cluster: None,
        frozen: (binary == "cinder-volume").then_some(false),
        replication_status: (binary == "cinder-volume").then(|| "disabled".to_string()),
        active_backend_id: None,
        backend_state: (binary == "cinder-volume").then(|| "up".to_string()),
    };
    let mut services = vec![service("cinder-scheduler", &site.name)];
    for pool in &site.block.pools {
        let backend = pool.name.split('#').next().unwrap_or(&pool.name);
        if !services.iter().any(|s| s.host == backend) {
            services.push(service("cinder-volume", backend));
        }
    }
    services.retain(|s| {
        filter("binary").is_none_or(|binary| s.binary == binary)
            && filter("host").is_none_or(|host| s.host == host)
    });
    Ok(json(StatusCode::OK, &wire::ServicesList { services }))
}

fn get_pools(site: &Site, call: &Call) -> Result<Response, CinderError> {
    if !call.admin {
        return Err(CinderError::policy(
            "scheduler_extension:scheduler_stats:get_pools",
        ));
    }
    let detail = call
        .query
        .iter()
        .rev()
        .find(|(key, _)| key == "detail")
        .is_some_and(|(_, value)| parse_bool(value, false).unwrap_or(false));
    let now = timestamp(&site.clock.wall());
    let number = |value: f64| {
        wire::Capacity::Number(serde_json::Number::from_f64(value).unwrap_or_else(|| 0.into()))
    };
    let pools = site
        .block
        .pools
        .iter()
        .map(|pool| {
            let allocated: u64 = site
                .block
                .volumes
                .values()
                .filter(|volume| volume.host == pool.name)
                .map(|volume| volume.size_gb)
                .sum();
            let provisioned: u64 = if pool.array_name == site.array.name {
                site.array
                    .volumes
                    .values()
                    .filter(|volume| !volume.destroyed)
                    .map(|volume| volume.provisioned)
                    .sum::<u64>()
                    .div_ceil(GIB)
            } else {
                0
            };
            // A 100 TiB array, thin: data reduction keeps physical use at a fifth.
            let total = 102_400.0;
            let used = provisioned as f64 / 5.0;
            wire::Pool {
                name: pool.name.clone(),
                capabilities: detail.then(|| wire::PoolCapabilities {
                    volume_backend_name: backend_of(&pool.name).to_string(),
                    total_capacity_gb: number(total),
                    free_capacity_gb: number((total - used).max(0.0)),
                    updated: Some(now.clone()),
                    reserved_percentage: Some(0),
                    driver_version: Some("19.0.0".to_string()),
                    storage_protocol: Some("iSCSI".to_string()),
                    qos_support: Some(true),
                    vendor_name: Some("Pure Storage".to_string()),
                    pool_name: Some(
                        pool.name
                            .split_once('#')
                            .map_or(pool.name.as_str(), |(_, pool)| pool)
                            .to_string(),
                    ),
                    timestamp: Some(now.clone()),
                    allocated_capacity_gb: Some(wire::Capacity::Number(allocated.into())),
                    provisioned_capacity_gb: Some(wire::Capacity::Number(provisioned.into())),
                    max_over_subscription_ratio: Some(number(20.0)),
                    thin_provisioning_support: Some(true),
                    thick_provisioning_support: None,
                    multiattach: Some(true),
                    consistencygroup_support: Some(true),
                    consistent_group_snapshot_enabled: Some(true),
                    replication_enabled: Some(!site.array.connections.is_empty()),
                    replication_type: None,
                    replication_targets: Some(site.array.connections.keys().cloned().collect()),
                    backend_state: Some("up".to_string()),
                }),
            }
        })
        .collect();
    Ok(json(StatusCode::OK, &wire::PoolsList { pools }))
}

// ---------------------------------------------------------------- manage and unmanage

/// One array volume as the Pure driver's `get_manageable_volumes` reports it.
struct Manageable {
    name: String,
    size: u64,
    reason: String,
    cinder_id: Option<String>,
}

fn list_manageable(
    site: &Site,
    call: &Call,
    detail: bool,
    v3_path: bool,
) -> Result<Response, CinderError> {
    if v3_path && call.version < MV_MANAGE_EXISTING_LIST {
        return Err(CinderError::not_found());
    }
    if !auth::has_any_role(&call.token, &site.block.policy.volume_manage) {
        return Err(CinderError::policy("volume_extension:list_manageable"));
    }
    let mut params = call.query.clone();
    let (host, cluster) = cluster_host(&mut params, call.version >= MV_LIST_MANAGEABLE_CLUSTER)?;
    let limit = take_limit(&mut params)?;
    let marker = take(&mut params, "marker");
    let offset = take_offset(&mut params)?;
    let sort = take_sort(&mut params, "reference")?;
    let invalid: Vec<&str> = sort
        .iter()
        .map(|(key, _)| key.as_str())
        .filter(|key| !matches!(*key, "reference" | "size"))
        .collect();
    if !invalid.is_empty() {
        return Err(CinderError::bad_request(format!(
            "Invalid sort keys passed: {}",
            invalid.join(", ")
        )));
    }
    if let Some(cluster) = cluster {
        return Err(CinderError::new(
            404,
            format!("Service cinder-volume could not be found on cluster {cluster}."),
        ));
    }
    let host = host.unwrap_or_default();
    let backend = backend_of(&host).to_string();
    let pool = site
        .block
        .pools
        .iter()
        .find(|pool| backend_of(&pool.name) == backend)
        .ok_or_else(|| {
            CinderError::new(
                404,
                format!("Service cinder-volume could not be found on host {backend}."),
            )
        })?;

    // The driver's view of the array: every volume, with why it is not safe to manage.
    let mut entries: Vec<Manageable> = Vec::new();
    if pool.array_name == site.array.name {
        let managed: BTreeMap<&str, &str> = site
            .block
            .volumes
            .values()
            .filter(|volume| backend_of(&volume.host) == backend && !volume.array_volume.is_empty())
            .filter(|volume| volume.status != VolumeStatus::ErrorManaging)
            .map(|volume| (volume.array_volume.as_str(), volume.id.as_str()))
            .collect();
        for volume in site.array.volumes.values() {
            let mut reasons = Vec::new();
            if let Some((host, _)) = site.array.hosts_of(&volume.name).next() {
                reasons.push(format!("Volume connected to host {host}"));
            }
            let cinder_id = managed.get(volume.name.as_str()).map(|id| id.to_string());
            if cinder_id.is_some() {
                reasons.push("Volume already managed".to_string());
            }
            if volume.name.contains("::") {
                reasons.push("Volume is in a Pod".to_string());
            }
            if volume.destroyed {
                reasons.push("Volume is deleted".to_string());
            }
            entries.push(Manageable {
                name: volume.name.clone(),
                size: volume.provisioned.div_ceil(GIB),
                reason: reasons.join(" && "),
                cinder_id,
            });
        }
    }
    let order = |a: &Manageable, b: &Manageable| {
        sort.iter()
            .map(|(key, ascending)| {
                let ordering = if key == "size" {
                    a.size.cmp(&b.size)
                } else {
                    a.name.cmp(&b.name)
                };
                if *ascending {
                    ordering
                } else {
                    ordering.reverse()
                }
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    };
    entries.sort_by(|a, b| order(a, b));
    let start = match marker {
        Some(marker) => {
            let reference = serde_json::from_str::<Value>(&marker)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| {
                    CinderError::invalid_input(format!(
                        "marker {marker} can not be analysed, please use json like format"
                    ))
                })?;
            let position = entries
                .iter()
                .position(|entry| reference_of(&entry.name) == reference)
                .ok_or_else(|| CinderError::invalid_input(format!("marker not found: {marker}")))?;
            position + 1
        }
        None => 0,
    };
    let page = entries.into_iter().skip(start + offset).take(limit);
    let manageable_volumes = page
        .map(|entry| {
            let safe = entry.reason.is_empty();
            wire::ManageableVolume {
                reference: wire::VolumeReference {
                    source_name: None,
                    source_id: None,
                    name: Some(entry.name),
                },
                size: entry.size,
                safe_to_manage: safe,
                reason_not_safe: detail.then_some(Some(entry.reason)),
                cinder_id: detail.then_some(entry.cinder_id),
                extra_info: detail.then_some(None),
            }
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &wire::ManageableVolumesList { manageable_volumes },
    ))
}

/// The `reference` the Pure driver reports for an array volume: `name`, the key its manage read
/// before Cinder 29 (which reads `source-name` but kept this listing).
fn reference_of(name: &str) -> Value {
    serde_json::json!({ "name": name })
}

/// Cinder's `get_cluster_host`: exactly one of `host` and `cluster` (`cluster` only from the
/// microversion that allows it).
fn cluster_host(
    params: &mut Vec<(String, String)>,
    cluster_allowed: bool,
) -> Result<(Option<String>, Option<String>), CinderError> {
    let host = take(params, "host").filter(|host| !host.is_empty());
    let cluster = if cluster_allowed {
        take(params, "cluster").filter(|cluster| !cluster.is_empty())
    } else {
        None
    };
    let message = if cluster_allowed {
        "One and only one of cluster and host must be set."
    } else {
        "Host field is missing."
    };
    if host.is_some() == cluster.is_some() {
        return Err(CinderError::invalid_input(message));
    }
    Ok((host, cluster))
}

/// `POST /manageable_volumes` (and `os-volume-manage`): what Cinder's API checks before it
/// answers 202; the driver's checks run when the manage completes ([`finish_manage`]).
fn manage(site: &mut Site, call: &Call, v3_path: bool) -> Result<Response, CinderError> {
    if v3_path && call.version < MV_MANAGE_EXISTING_LIST {
        return Err(CinderError::not_found());
    }
    // The JSON schema (`volume_manage_create`).
    let body = call.json()?;
    let Some(request) = body.get("volume").and_then(Value::as_object) else {
        return Err(match body.get("volume") {
            Some(value) => schema_error(
                "volume",
                value,
                &format!("{} is not of type 'object'", py_repr(value)),
            ),
            None => CinderError::bad_request("'volume' is a required property"),
        });
    };
    if let Some(extra) = body
        .as_object()
        .and_then(|object| object.keys().find(|key| *key != "volume"))
    {
        return Err(CinderError::bad_request(format!(
            "Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    let volume_value = body.get("volume").cloned().unwrap_or_default();
    let cluster_allowed = call.version >= MV_MANAGE_CLUSTER;
    let allowed = [
        "description",
        "availability_zone",
        "bootable",
        "volume_type",
        "name",
        "host",
        "ref",
        "metadata",
    ];
    if let Some(extra) = request
        .keys()
        .find(|key| !(allowed.contains(&key.as_str()) || cluster_allowed && *key == "cluster"))
    {
        return Err(schema_error(
            "volume",
            &volume_value,
            &format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        ));
    }
    let reference = match request.get("ref") {
        Some(reference @ (Value::Object(_) | Value::String(_))) => reference.clone(),
        Some(other) => {
            return Err(schema_error(
                "volume/ref",
                other,
                &format!("{} is not of type 'object', 'string'", py_repr(other)),
            ));
        }
        None => {
            return Err(schema_error(
                "volume",
                &volume_value,
                "'ref' is a required property",
            ));
        }
    };
    let name = optional_string(request, "name")?;
    let description = optional_string(request, "description")?;
    let zone = optional_string(request, "availability_zone")?;
    let type_name = optional_string(request, "volume_type")?;
    let host = optional_string(request, "host")?;
    let cluster = optional_string(request, "cluster")?;
    let bootable = match request.get("bootable") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => parse_bool(text, true).ok_or_else(|| {
            schema_error(
                "volume/bootable",
                &Value::String(text.clone()),
                &format!("'{text}' is not one of the accepted boolean values"),
            )
        })?,
        Some(other) => {
            return Err(schema_error(
                "volume/bootable",
                other,
                &format!("{} is not of type 'boolean', 'string'", py_repr(other)),
            ));
        }
    };
    let metadata = match request.get("metadata") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => metadata_value(value)?,
    };

    // Policy, then the controller's checks.
    if !auth::has_any_role(&call.token, &site.block.policy.volume_manage) {
        return Err(CinderError::policy("volume_extension:volume_manage"));
    }
    let host = host.filter(|host| !host.is_empty());
    let cluster = cluster.filter(|cluster| !cluster.is_empty());
    if host.is_some() == cluster.is_some() {
        return Err(CinderError::invalid_input(if cluster_allowed {
            "One and only one of cluster and host must be set."
        } else {
            "Host field is missing."
        }));
    }
    let volume_type = match &type_name {
        Some(name) if !name.is_empty() => find_type(site, name).cloned().ok_or_else(|| {
            CinderError::bad_request(format!(
                "Invalid volume type: Cannot find requested '{name}' volume type"
            ))
        })?,
        _ => default_type(site)
            .cloned()
            .ok_or_else(|| CinderError::new(404, "Volume type default could not be found."))?,
    };
    // `volume_api.manage_existing`: a `source-name` naming an existing Cinder volume.
    if let Some(source_name) = reference.get("source-name").and_then(Value::as_str)
        && let Some(id) = source_name.strip_prefix("volume-")
        && id.len() == 36
        && site.block.volumes.contains_key(id)
    {
        return Err(CinderError::bad_request(
            "Unable to manage existing volume. The volume is already managed",
        ));
    }
    let Some(host) = host else {
        let cluster = cluster.unwrap_or_default();
        return Err(CinderError::bad_request(format!(
            "Cluster '{cluster}' not found"
        )));
    };
    let backend = backend_of(&host).to_string();
    if !site
        .block
        .pools
        .iter()
        .any(|pool| backend_of(&pool.name) == backend)
    {
        return Err(CinderError::bad_request(format!("Host '{host}' not found")));
    }

    let id = site.ids.uuid();
    let wall = site.clock.wall();
    let at = site.clock.now() + site.clock.latency(Op::ManageVolume);
    let volume = Volume {
        id: id.clone(),
        name: name.map(|n| n.trim().to_string()).unwrap_or_default(),
        description: description
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty()),
        project_id: call.project().to_string(),
        user_id: call.token.user_id.clone(),
        size_gb: 0,
        status: VolumeStatus::Managing,
        volume_type: volume_type.name.clone(),
        bootable,
        // With a pool, the volume lives there; without, on the backend's service host.
        host: if host.contains('#') { host } else { backend },
        availability_zone: zone.unwrap_or_else(|| "nova".to_string()),
        metadata,
        attachments: Vec::new(),
        array_volume: String::new(),
        created_at: wall,
        updated_at: wall,
        pending: Some(Pending {
            at,
            then: VolumeStatus::Available,
            error: None,
        }),
    };
    site.block.volumes.insert(id.clone(), volume);
    site.block
        .jobs
        .insert(id.clone(), VolumeJob::Manage { reference });
    let volume = &site.block.volumes[&id];
    Ok(json(
        StatusCode::ACCEPTED,
        &wire::VolumeResponse {
            volume: call.view().detail(site, volume),
        },
    ))
}

// ---------------------------------------------------------------- URL text

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `application/x-www-form-urlencoded`, as Python's `urlencode`.
fn url_encode(pairs: &[(String, String)]) -> String {
    let encode = |text: &str| {
        let mut out = String::new();
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                    out.push(byte as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
        out
    };
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::clock::Clock;
    use crate::world::World;

    const FIXTURE: &str = include_str!("../../../../examples/sim/two-sites.yaml");

    struct Twin {
        world: Arc<World>,
        site: String,
        app: Router,
    }

    impl Twin {
        fn new(site: &str) -> Twin {
            let fixture = crate::fixture::parse(FIXTURE).expect("fixture parses");
            Twin::from_fixture(&fixture, site)
        }

        fn from_fixture(fixture: &crate::fixture::Fixture, site: &str) -> Twin {
            let world = Arc::new(World::from_fixture(fixture, 7, Clock::new(1.0)).unwrap());
            let cell = world.site(site).expect("site").clone();
            // Nested as `openstack::router()` nests it (the other services are not needed).
            let app = Router::new()
                .nest("/volume", routes())
                .with_state(SiteContext {
                    world: world.clone(),
                    cell,
                });
            Twin {
                world,
                site: site.to_string(),
                app,
            }
        }

        fn site(&self) -> std::sync::MutexGuard<'_, Site> {
            self.world.site(&self.site).unwrap().lock(&self.world)
        }

        /// Runs every pending transition, as if their latency had passed.
        fn settle(&self) {
            let mut site = self.site();
            advance(&mut site, Instant::now() + Duration::from_secs(3600));
        }

        /// A token of `user` on `prod` with `roles`.
        fn token(&self, user: &str, roles: &[&str]) -> String {
            let id = format!("token-{user}-{}", roles.join("-"));
            crate::openstack::testing::grant_token(&mut self.site(), &id, user, roles);
            id
        }

        fn project(&self) -> String {
            self.site().project_id("prod").unwrap().to_string()
        }

        async fn call(
            &self,
            method: &str,
            path: &str,
            token: Option<&str>,
            version: Option<&str>,
            body: Option<Value>,
        ) -> (StatusCode, HeaderMap, Value) {
            let path = path.replace("{project}", &self.project());
            let version = version.map(|v| format!("volume {v}"));
            let mut headers = Vec::new();
            if let Some(token) = token {
                headers.push(("x-auth-token", token));
            }
            if let Some(version) = version.as_deref() {
                headers.push(("openstack-api-version", version));
            }
            crate::openstack::testing::call(&self.app, "cinder.test", method, &path, &headers, body)
                .await
        }
    }

    #[tokio::test]
    async fn version_documents_need_no_token() {
        let twin = Twin::new("site-a");
        // (`/volume/` with the slash needs a route in `openstack::router()`: axum maps the
        // nested `/` to `/volume` only.)
        let (status, _, body) = twin.call("GET", "/volume", None, None, None).await;
        assert_eq!(status, StatusCode::MULTIPLE_CHOICES);
        assert_eq!(body["versions"][0]["id"], "v3.0");
        assert_eq!(body["versions"][0]["version"], "3.71");
        assert_eq!(body["versions"][0]["min_version"], "3.0");
        let (status, _, body) = twin.call("GET", "/volume/v3/", None, None, None).await;
        assert_eq!(status, StatusCode::OK);
        let parsed: wire::VersionsList = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(
            parsed.versions[0].links[1].href,
            "http://cinder.test/volume/v3/"
        );
        let (status, _, _) = twin.call("GET", "/volume/v3", None, None, None).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn tokens_projects_and_microversions_are_checked() {
        let twin = Twin::new("site-a");
        let (status, headers, body) = twin
            .call("GET", "/volume/v3/{project}/volumes", None, None, None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], 401);
        assert!(headers.contains_key("www-authenticate"));

        let token = twin.token("protector", &["admin", "member"]);
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/other-project/volumes",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["badRequest"]["message"], "Malformed request url");

        let (status, headers, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["openstack-api-version"], "volume 3.0");
        assert_eq!(headers["vary"], "OpenStack-API-Version");
        let (_, headers, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes",
                Some(&token),
                Some("3.60"),
                None,
            )
            .await;
        assert_eq!(headers["openstack-api-version"], "volume 3.60");
        let (_, headers, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes",
                Some(&token),
                Some("latest"),
                None,
            )
            .await;
        assert_eq!(headers["openstack-api-version"], "volume 3.71");
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes",
                Some(&token),
                Some("3.99"),
                None,
            )
            .await;
        assert_eq!(status.as_u16(), 406);
        assert_eq!(
            body["computeFault"]["message"],
            "Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.71."
        );
        let (status, _, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/nothing-here",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn lists_filter_sort_and_page() {
        let twin = Twin::new("site-a");
        let token = twin.token("protector", &["admin", "member"]);
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes/detail",
                Some(&token),
                Some("3.69"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let list: wire::VolumesDetailList = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(list.volumes.len(), 4, "db-1 (2), web-1, web-2");
        assert!(list.volumes_links.is_none());
        let boot = list
            .volumes
            .iter()
            .find(|v| v.name.as_deref() == Some("db-1-boot"))
            .unwrap();
        assert_eq!(boot.status, "in-use");
        assert_eq!(boot.bootable, wire::StringBool(true));
        assert_eq!(boot.host, Some(Some("site-a@pure#fa-a".to_string())));
        assert_eq!(boot.attachments.len(), 1);
        assert_eq!(boot.replication_status, Some(Some("enabled".to_string())));
        assert_eq!(
            boot.provider_id,
            Some(Some(format!("volume-{}-cinder", boot.id)))
        );
        assert_eq!(boot.metadata["array_name"], "fa-a");
        assert_eq!(boot.shared_targets, Some(Some(true)));
        assert!(boot.volume_type_id.is_some());
        // Every key the v3.69 sample carries is present.
        let sample = json!({
            "attachments": [], "availability_zone": "", "bootable": "", "consistencygroup_id": null,
            "created_at": "", "description": null, "encrypted": false, "id": "", "links": [],
            "metadata": {}, "migration_status": null, "multiattach": false, "name": null,
            "os-vol-host-attr:host": null, "os-vol-mig-status-attr:migstat": null,
            "os-vol-mig-status-attr:name_id": null, "os-vol-tenant-attr:tenant_id": "",
            "replication_status": null, "size": 10, "snapshot_id": null, "source_volid": null,
            "status": "", "updated_at": null, "user_id": "", "volume_type": "",
            "volume_type_id": "", "provider_id": null, "group_id": null, "service_uuid": null,
            "shared_targets": null, "cluster_name": null, "consumes_quota": true
        });
        let shown = &body["volumes"][0];
        for key in sample.as_object().unwrap().keys() {
            assert!(shown.get(key).is_some(), "detail lacks {key}");
        }

        // Filters.
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes?name=web-1-boot",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volumes"].as_array().unwrap().len(), 1);
        assert_eq!(body["volumes"][0]["name"], "web-1-boot");
        assert!(body["volumes"][0].get("status").is_none(), "summary view");
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes/detail?bootable=false&status=in-use",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(
            body["volumes"].as_array().unwrap().len(),
            1,
            "db-1's data volume"
        );
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes/detail?metadata=%7B%27array_name%27%3A%27fa-a%27%7D",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volumes"].as_array().unwrap().len(), 4);

        // Pages of 3, by name.
        let (_, _, first) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes?limit=3&sort=name:asc",
                Some(&token),
                None,
                None,
            )
            .await;
        let names: Vec<&str> = first["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["db-1-boot", "db-1-data-1", "web-1-boot"]);
        let next = first["volumes_links"][0]["href"].as_str().unwrap();
        assert_eq!(first["volumes_links"][0]["rel"], "next");
        let third = first["volumes"][2]["id"].as_str().unwrap();
        let project = twin.project();
        assert_eq!(
            next,
            format!(
                "http://cinder.test/volume/v3/{project}/volumes?limit=3&sort=name%3Aasc&marker={third}"
            )
        );
        let path = next.trim_start_matches("http://cinder.test");
        let (_, _, second) = twin.call("GET", path, Some(&token), None, None).await;
        assert_eq!(second["volumes"].as_array().unwrap().len(), 1);
        assert_eq!(second["volumes"][0]["name"], "web-2-boot");
        assert!(second.get("volumes_links").is_none());

        // A marker that is no volume; a filter a member may not use.
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes?marker=nope",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body["itemNotFound"]["message"],
            "Volume nope could not be found."
        );
        let member = twin.token("protector", &["member"]);
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes?host=x",
                Some(&member),
                Some("3.60"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["badRequest"]["message"],
            "Invalid filters host are found in query options."
        );
        // with_count, >= 3.45.
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes?limit=1&with_count=true",
                Some(&member),
                Some("3.45"),
                None,
            )
            .await;
        assert_eq!(body["count"], 4);
        // Members do not see admin-only attributes.
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes/detail",
                Some(&member),
                Some("3.69"),
                None,
            )
            .await;
        assert!(body["volumes"][0].get("os-vol-host-attr:host").is_none());
        assert!(body["volumes"][0].get("provider_id").is_none());
    }

    #[tokio::test]
    async fn create_then_delete_goes_through_the_array() {
        let twin = Twin::new("site-b");
        let token = twin.token("protector", &["admin", "member"]);
        let (status, _, body) = twin
            .call(
                "POST",
                "/volume/v3/{project}/volumes",
                Some(&token),
                Some("3.69"),
                Some(
                    json!({"volume": {"size": 2, "name": "scratch", "volume_type": "pure",
                                       "metadata": {"k": "v"}}}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let created: wire::VolumeResponse = serde_json::from_value(body).unwrap();
        let id = created.volume.id.clone();
        assert_eq!(created.volume.status, "creating");
        assert_eq!(created.volume.updated_at, Some(None));
        assert_eq!(created.volume.shared_targets, Some(None));
        let array_name = format!("volume-{id}-cinder");
        assert!(!twin.site().array.volumes.contains_key(&array_name));

        twin.settle();
        let (_, _, body) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volume"]["status"], "available");
        assert_eq!(body["volume"]["replication_status"], "disabled");
        assert_eq!(body["volume"]["metadata"]["k"], "v");
        assert_eq!(
            body["volume"]["metadata"]["array_volume_name"],
            array_name.as_str()
        );
        assert_eq!(body["volume"]["metadata"]["array_name"], "fa-b");
        assert_eq!(twin.site().array.volumes[&array_name].provisioned, 2 << 30);

        let (status, _, body) = twin
            .call(
                "DELETE",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(body, Value::Null);
        let (_, _, body) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volume"]["status"], "deleting");
        twin.settle();
        let (status, _, _) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            twin.site().array.volumes[&array_name].destroyed,
            "destroyed, not eradicated (pure_eradicate_on_delete is off by default)"
        );
    }

    #[tokio::test]
    async fn in_use_volumes_are_neither_deleted_nor_unmanaged() {
        let twin = Twin::new("site-a");
        let token = twin.token("protector", &["admin", "member"]);
        let in_use = twin
            .site()
            .block
            .volumes
            .values()
            .find(|v| v.status == VolumeStatus::InUse)
            .unwrap()
            .id
            .clone();
        let path = format!("/volume/v3/{{project}}/volumes/{in_use}");
        let (status, _, body) = twin.call("DELETE", &path, Some(&token), None, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"badRequest": {"code": 400, "message": INVALID_VOLUME_STATE}})
        );
        let (status, _, body) = twin
            .call(
                "POST",
                &format!("{path}/action"),
                Some(&token),
                None,
                Some(json!({"os-unmanage": {}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["badRequest"]["message"], INVALID_VOLUME_STATE);
        assert_eq!(
            twin.site().block.volumes[&in_use].status,
            VolumeStatus::InUse,
            "unchanged"
        );
    }

    /// An array volume on site-b that Cinder does not manage (what a failover copies from a
    /// replicated snapshot).
    fn add_array_volume(twin: &Twin, name: &str, gib: u64) {
        let mut site = twin.site();
        array_create(&mut site, name, gib << 30, None).unwrap();
    }

    #[tokio::test]
    async fn manage_renames_the_array_volume_and_unmanage_keeps_it() {
        let twin = Twin::new("site-b");
        let token = twin.token("protector", &["admin", "member"]);
        add_array_volume(&twin, "dr-web-1-boot", 20);

        // Listed as safe to manage, under the Pure driver's listing key (`name`).
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/manageable_volumes/detail?host=site-b@pure%23fa-b",
                Some(&token),
                Some("3.8"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let list: wire::ManageableVolumesList = serde_json::from_value(body).unwrap();
        let entry = list
            .manageable_volumes
            .iter()
            .find(|m| m.reference.name.as_deref() == Some("dr-web-1-boot"))
            .unwrap();
        assert!(entry.safe_to_manage);
        assert_eq!(entry.size, 20);
        assert_eq!(entry.reason_not_safe, Some(Some(String::new())));
        assert_eq!(entry.cinder_id, Some(None));

        // Before 3.8 the path does not exist; os-volume-manage does.
        let (status, _, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/manageable_volumes?host=site-b@pure",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let request = wire::VolumeManageRequest {
            volume: wire::VolumeManage {
                host: Some("site-b@pure#fa-b".to_string()),
                cluster: None,
                // Cinder 29's driver reads `source-name` alone.
                reference: wire::VolumeReference {
                    source_name: Some("dr-web-1-boot".to_string()),
                    source_id: None,
                    name: None,
                },
                name: Some("web-1-boot".to_string()),
                description: None,
                availability_zone: None,
                volume_type: Some("pure-replicated".to_string()),
                bootable: Some(true),
                metadata: Some(BTreeMap::from([("dr.pg".to_string(), "prod".to_string())])),
            },
        };
        let (status, _, body) = twin
            .call(
                "POST",
                "/volume/v3/{project}/manageable_volumes",
                Some(&token),
                Some("3.8"),
                Some(serde_json::to_value(&request).unwrap()),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let managed: wire::VolumeResponse = serde_json::from_value(body).unwrap();
        let id = managed.volume.id.clone();
        assert_eq!(managed.volume.status, "creating");
        assert_eq!(managed.volume.size, 0);
        assert_eq!(managed.volume.bootable, wire::StringBool(true));
        assert_eq!(managed.volume.metadata["dr.pg"], "prod");
        assert_eq!(
            twin.site().block.volumes[&id].status,
            VolumeStatus::Managing
        );

        twin.settle();
        let new_name = format!("volume-{id}-cinder");
        let (_, _, body) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volume"]["status"], "available", "{body}");
        assert_eq!(body["volume"]["size"], 20);
        assert_eq!(body["volume"]["bootable"], "true");
        assert_eq!(body["volume"]["replication_status"], "enabled");
        assert_eq!(
            body["volume"]["metadata"],
            json!({"array_name": "fa-b", "array_volume_name": new_name}),
            "the driver's metadata replaces the request's"
        );
        {
            let site = twin.site();
            assert!(site.array.volumes.contains_key(&new_name));
            assert!(!site.array.volumes.contains_key("dr-web-1-boot"));
        }

        // Listed again: already managed.
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/os-volume-manage/detail?host=site-b@pure",
                Some(&token),
                None,
                None,
            )
            .await;
        let entry = body["manageable-volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["reference"]["name"] == new_name.as_str())
            .unwrap()
            .clone();
        assert_eq!(entry["safe_to_manage"], false);
        assert_eq!(entry["reason_not_safe"], "Volume already managed");
        assert_eq!(entry["cinder_id"], id.as_str());

        // Unmanage: 202, unmanaging, then gone; the array volume renamed, never destroyed.
        let (status, _, body) = twin
            .call(
                "POST",
                &format!("/volume/v3/{{project}}/volumes/{id}/action"),
                Some(&token),
                None,
                Some(json!({"os-unmanage": null})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let (_, _, body) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volume"]["status"], "unmanaging");
        twin.settle();
        let (status, _, _) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let site = twin.site();
        let kept = &site.array.volumes[&format!("{new_name}-unmanaged")];
        assert!(!kept.destroyed);
        assert_eq!(kept.content, "empty:fa-b:dr-web-1-boot");
    }

    #[tokio::test]
    async fn manage_failures_are_cinders() {
        let twin = Twin::new("site-b");
        let token = twin.token("protector", &["admin", "member"]);
        let manage = |body: Value| {
            let twin = &twin;
            let token = token.clone();
            async move {
                twin.call(
                    "POST",
                    "/volume/v3/{project}/os-volume-manage",
                    Some(&token),
                    None,
                    Some(body),
                )
                .await
            }
        };
        let (status, _, body) =
            manage(json!({"volume": {"host": "nowhere@pure#x", "ref": {"source-name": "v"}}}))
                .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["badRequest"]["message"],
            "Host 'nowhere@pure#x' not found"
        );
        let (status, _, body) = manage(json!({"volume": {"ref": {"source-name": "v"}}})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["badRequest"]["message"],
            "Invalid input received: Host field is missing."
        );
        let (status, _, body) = manage(json!({"volume": {"host": "site-b@pure"}})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["badRequest"]["message"]
                .as_str()
                .unwrap()
                .ends_with("'ref' is a required property"),
            "{body}"
        );
        let (status, _, body) = manage(
            json!({"volume": {"host": "site-b@pure", "ref": {"source-name": "v"}, "volume_type": "gold"}}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["badRequest"]["message"],
            "Invalid volume type: Cannot find requested 'gold' volume type"
        );

        // Accepted, then the driver finds nothing: error (error_managing), with the reason.
        let (status, _, body) = manage(
            json!({"volume": {"host": "site-b@pure#fa-b", "ref": {"source-name": "ghost"}}}),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let id = body["volume"]["id"].as_str().unwrap().to_string();
        twin.settle();
        {
            let site = twin.site();
            assert_eq!(site.block.volumes[&id].status, VolumeStatus::ErrorManaging);
            assert_eq!(
                site.block.volume_errors[&id],
                "Manage existing volume failed due to invalid backend reference \
                 {'source-name': 'ghost'}: Unable to find Purity ref with source-name=ghost"
            );
        }
        let (_, _, body) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volume"]["status"], "error");
        // A failed manage can be deleted; the array is not touched.
        let (status, _, _) = twin
            .call(
                "DELETE",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        twin.settle();
        assert!(!twin.site().block.volumes.contains_key(&id));

        // Cinder 29's driver reads only `ref["source-name"]`: a `name` ref (what older drivers
        // read, and what the listing still reports) or an empty `source-name` ends in error.
        add_array_volume(&twin, "by-name", 1);
        for (reference, shown) in [
            (json!({"name": "by-name"}), "{'name': 'by-name'}"),
            (json!({"source-name": ""}), "{'source-name': ''}"),
        ] {
            let (status, _, body) =
                manage(json!({"volume": {"host": "site-b@pure#fa-b", "ref": reference}})).await;
            assert_eq!(status, StatusCode::ACCEPTED);
            let id = body["volume"]["id"].as_str().unwrap().to_string();
            twin.settle();
            let site = twin.site();
            assert_eq!(site.block.volumes[&id].status, VolumeStatus::ErrorManaging);
            assert_eq!(
                site.block.volume_errors[&id],
                format!(
                    "Manage existing volume failed due to invalid backend reference {shown}: \
                     manage_existing requires a 'source-name' key to identify an existing \
                     volume."
                )
            );
            assert!(site.array.volumes.contains_key("by-name"), "untouched");
        }

        // A realm's volume is refused with the driver's bare message; a pod's is not found
        // (the twin's arrays have no pods).
        for (source_name, reason) in [
            (
                "realm::pod::by-name",
                "Unable to manage volume in a Realm".to_string(),
            ),
            (
                "pod::by-name",
                "Manage existing volume failed due to invalid backend reference \
                 {'source-name': 'pod::by-name'}: Unable to find Purity ref with \
                 source-name=pod::by-name"
                    .to_string(),
            ),
        ] {
            let (_, _, body) = manage(json!({"volume": {"host": "site-b@pure#fa-b",
                                                        "ref": {"source-name": source_name}}}))
            .await;
            let id = body["volume"]["id"].as_str().unwrap().to_string();
            twin.settle();
            let site = twin.site();
            assert_eq!(site.block.volumes[&id].status, VolumeStatus::ErrorManaging);
            assert_eq!(site.block.volume_errors[&id], reason);
        }

        // A volume connected to a host cannot be managed.
        add_array_volume(&twin, "attached", 1);
        twin.site().array.hosts.insert(
            "compute-1".to_string(),
            fa::Host {
                name: "compute-1".to_string(),
                connections: BTreeMap::from([("attached".to_string(), 1)]),
                ..Default::default()
            },
        );
        let (_, _, body) =
            manage(json!({"volume": {"host": "site-b@pure", "ref": {"source-name": "attached"}}}))
                .await;
        let id = body["volume"]["id"].as_str().unwrap().to_string();
        assert_eq!(body["volume"]["os-vol-host-attr:host"], "site-b@pure");
        twin.settle();
        let site = twin.site();
        assert_eq!(site.block.volumes[&id].status, VolumeStatus::ErrorManaging);
        assert!(
            site.block.volume_errors[&id].contains("cannot manage a volume connected to hosts")
        );
        assert!(site.array.volumes.contains_key("attached"), "not renamed");
    }

    /// Real Cinder 29 with its Pure driver: unmanaging the record of a failed manage fails in
    /// the driver (no provider_id) and leaves it `error_unmanaging`; deleting it works.
    #[tokio::test]
    async fn a_failed_manage_cannot_be_unmanaged_only_deleted() {
        let twin = Twin::new("site-b");
        let token = twin.token("protector", &["admin", "member"]);
        let failed_manage = async || {
            let (status, _, body) = twin
                .call(
                    "POST",
                    "/volume/v3/{project}/os-volume-manage",
                    Some(&token),
                    None,
                    Some(json!({"volume": {"host": "site-b@pure#fa-b", "ref": {"name": "ghost"}}})),
                )
                .await;
            assert_eq!(status, StatusCode::ACCEPTED);
            twin.settle();
            body["volume"]["id"].as_str().unwrap().to_string()
        };
        let action = |id: &str, verb: &str, body: Option<Value>| {
            let path = match body {
                Some(_) => format!("/volume/v3/{{project}}/volumes/{id}/action"),
                None => format!("/volume/v3/{{project}}/volumes/{id}"),
            };
            let (twin, token, verb) = (&twin, token.clone(), verb.to_string());
            async move { twin.call(&verb, &path, Some(&token), None, body).await.0 }
        };
        let id = failed_manage().await;
        let status = action(&id, "POST", Some(json!({"os-unmanage": {}}))).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        twin.settle();
        let (_, _, body) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/volumes/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volume"]["status"], "error_unmanaging");

        let id = failed_manage().await;
        let status = action(&id, "DELETE", None).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        twin.settle();
        assert!(!twin.site().block.volumes.contains_key(&id));
    }

    #[tokio::test]
    async fn policy_denies_manage_and_unmanage_with_cinders_body() {
        let twin = Twin::new("site-b");
        let viewer = twin.token("viewer", &["reader"]);
        let member = twin.token("protector", &["member"]);
        add_array_volume(&twin, "dr-db-1-boot", 40);
        let body =
            json!({"volume": {"host": "site-b@pure#fa-b", "ref": {"source-name": "dr-db-1-boot"}}});
        for token in [&viewer, &member] {
            let (status, _, answer) = twin
                .call(
                    "POST",
                    "/volume/v3/{project}/manageable_volumes",
                    Some(token),
                    Some("3.8"),
                    Some(body.clone()),
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert_eq!(
                answer,
                json!({"forbidden": {"code": 403, "message":
                    "Policy doesn't allow volume_extension:volume_manage to be performed."}})
            );
        }
        let (status, _, answer) = twin
            .call(
                "GET",
                "/volume/v3/{project}/manageable_volumes?host=site-b@pure",
                Some(&viewer),
                Some("3.8"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            answer["forbidden"]["message"],
            "Policy doesn't allow volume_extension:list_manageable to be performed."
        );

        // The viewer can read but not write; nobody but an admin may unmanage.
        let (status, _, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes",
                Some(&viewer),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, answer) = twin
            .call(
                "POST",
                "/volume/v3/{project}/volumes",
                Some(&viewer),
                None,
                Some(json!({"volume": {"size": 1}})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            answer["forbidden"]["message"],
            "Policy doesn't allow volume:create to be performed."
        );
        let (_, _, created) = twin
            .call(
                "POST",
                "/volume/v3/{project}/volumes",
                Some(&member),
                None,
                Some(json!({"volume": {"size": 1}})),
            )
            .await;
        twin.settle();
        let id = created["volume"]["id"].as_str().unwrap();
        let (status, _, answer) = twin
            .call(
                "POST",
                &format!("/volume/v3/{{project}}/volumes/{id}/action"),
                Some(&member),
                None,
                Some(json!({"os-unmanage": {}})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            answer,
            json!({"forbidden": {"code": 403, "message":
                "Policy doesn't allow volume_extension:volume_unmanage to be performed."}})
        );
    }

    #[tokio::test]
    async fn quota_is_a_413_with_retry_after() {
        let twin = Twin::new("site-b");
        let token = twin.token("protector", &["admin", "member"]);
        twin.site().block.volume_quota = 1;
        let create = json!({"volume": {"size": 1}});
        let (status, _, _) = twin
            .call(
                "POST",
                "/volume/v3/{project}/volumes",
                Some(&token),
                None,
                Some(create.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (status, headers, body) = twin
            .call(
                "POST",
                "/volume/v3/{project}/volumes",
                Some(&token),
                None,
                Some(create),
            )
            .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(headers["retry-after"], "0");
        assert_eq!(
            body,
            json!({"overLimit": {"code": 413, "retryAfter": "0", "message":
                "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota \
                 'volumes'."}})
        );
        let parsed: wire::ErrorResponse = serde_json::from_value(body).unwrap();
        assert_eq!(parsed.detail().retry_after.as_deref(), Some("0"));
    }

    #[tokio::test]
    async fn quota_sets_show_limits_and_usage() {
        let twin = Twin::new("site-a");
        let admin = twin.token("protector", &["admin", "member"]);
        let reader = twin.token("viewer", &["reader"]);
        twin.site().block.volume_quota = 10;
        let project = twin.project();
        let path = format!("/volume/v3/{{project}}/os-quota-sets/{project}");
        let (status, _, body) = twin
            .call(
                "GET",
                &format!("{path}?usage=true"),
                Some(&reader),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let shown: wire::QuotaSetResponse<wire::QuotaUsage> =
            serde_json::from_value(body.clone()).unwrap();
        let quotas = shown.quota_set;
        assert_eq!(quotas.id, project);
        let usage = |limit, in_use| wire::QuotaUsage {
            limit,
            in_use,
            reserved: 0,
            allocated: None,
        };
        assert_eq!(quotas.volumes, usage(10, 4), "db-1 (2), web-1, web-2");
        assert_eq!(quotas.gigabytes, usage(-1, 40 + 200 + 20 + 20));
        assert_eq!(quotas.snapshots, usage(-1, 0));
        assert_eq!(quotas.per_type["volumes_pure-replicated"], usage(-1, 4));
        assert_eq!(quotas.per_type["gigabytes_pure-replicated"], usage(-1, 280));
        assert_eq!(quotas.per_type["volumes_pure"], usage(-1, 0));
        assert_eq!(
            body["quota_set"]["per_volume_gigabytes"],
            json!({"limit": -1, "in_use": 0, "reserved": 0}),
            "no `allocated`: that was the nested quota driver's"
        );

        // Without usage (or with usage=false): the limits alone.
        for query in ["", "?usage=False"] {
            let (status, _, body) = twin
                .call("GET", &format!("{path}{query}"), Some(&admin), None, None)
                .await;
            assert_eq!(status, StatusCode::OK);
            let limits: wire::QuotaSetResponse<i64> = serde_json::from_value(body).unwrap();
            assert_eq!(limits.quota_set.volumes, 10);
            assert_eq!(limits.quota_set.per_type["gigabytes_pure"], -1);
        }

        // A volume being managed is not counted until its manage succeeds.
        let (status, _, _) = twin
            .call(
                "POST",
                "/volume/v3/{project}/manageable_volumes",
                Some(&admin),
                Some("3.8"),
                Some(json!({"volume": {"host": "site-a@pure#fa-a", "ref": {"source-name": "nothing"}}})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (_, _, body) = twin
            .call("GET", &format!("{path}?usage=1"), Some(&admin), None, None)
            .await;
        assert_eq!(body["quota_set"]["volumes"]["in_use"], 4);

        // Another project's quotas are an admin's to see; a bad `usage` is Cinder's 400.
        let other =
            "/volume/v3/{project}/os-quota-sets/0123456789abcdef0123456789abcdef".to_string();
        let (status, _, body) = twin
            .call(
                "GET",
                &format!("{other}?usage=true"),
                Some(&reader),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body,
            json!({"forbidden": {"code": 403, "message":
                "Policy doesn't allow volume_extension:quotas:show to be performed."}})
        );
        let (status, _, body) = twin
            .call(
                "GET",
                &format!("{other}?usage=true"),
                Some(&admin),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["quota_set"]["volumes"]["in_use"], 0);
        let (status, _, body) = twin
            .call(
                "GET",
                &format!("{path}?usage=maybe"),
                Some(&admin),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"badRequest": {"code": 400, "message":
                "Value 'maybe' for 'usage' is not a boolean."}})
        );
    }

    #[tokio::test]
    async fn metadata_types_and_pools() {
        let twin = Twin::new("site-a");
        let token = twin.token("protector", &["admin", "member"]);
        let id = twin.site().block.volumes.keys().next().unwrap().clone();
        let base = format!("/volume/v3/{{project}}/volumes/{id}/metadata");
        let (status, _, body) = twin
            .call(
                "POST",
                &base,
                Some(&token),
                None,
                Some(json!({"metadata": {"a": "1"}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["metadata"]["a"], "1");
        assert_eq!(body["metadata"]["array_name"], "fa-a", "merged");
        let (_, _, body) = twin
            .call(
                "PUT",
                &format!("{base}/a"),
                Some(&token),
                None,
                Some(json!({"meta": {"a": "2"}})),
            )
            .await;
        assert_eq!(body, json!({"meta": {"a": "2"}}));
        let (status, _, body) = twin
            .call(
                "PUT",
                &format!("{base}/a"),
                Some(&token),
                None,
                Some(json!({"meta": {"b": "2"}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["badRequest"]["message"],
            "Request body and URI mismatch"
        );
        let (status, _, _) = twin
            .call("DELETE", &format!("{base}/a"), Some(&token), None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, body) = twin
            .call("GET", &format!("{base}/a"), Some(&token), None, None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body["itemNotFound"]["message"],
            format!("Volume {id} has no metadata with key a.")
        );
        let (_, _, body) = twin
            .call(
                "PUT",
                &base,
                Some(&token),
                None,
                Some(json!({"metadata": {"only": "x"}})),
            )
            .await;
        assert_eq!(body, json!({"metadata": {"only": "x"}}));

        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/types",
                Some(&token),
                None,
                None,
            )
            .await;
        let types: wire::VolumeTypesList = serde_json::from_value(body).unwrap();
        assert_eq!(types.volume_types.len(), 2);
        let replicated = types
            .volume_types
            .iter()
            .find(|t| t.name == "pure-replicated")
            .unwrap();
        assert_eq!(
            replicated.extra_specs.as_ref().unwrap()["replication_enabled"],
            "<is> True"
        );
        let viewer = twin.token("viewer", &["reader"]);
        let (_, _, body) = twin
            .call(
                "GET",
                &format!("/volume/v3/{{project}}/types/{}", replicated.id),
                Some(&viewer),
                None,
                None,
            )
            .await;
        assert_eq!(body["volume_type"]["name"], "pure-replicated");
        assert!(
            body["volume_type"].get("extra_specs").is_none(),
            "admins only"
        );

        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/scheduler-stats/get_pools?detail=true",
                Some(&token),
                None,
                None,
            )
            .await;
        let pools: wire::PoolsList = serde_json::from_value(body).unwrap();
        assert_eq!(pools.pools[0].name, "site-a@pure#fa-a");
        let capabilities = pools.pools[0].capabilities.as_ref().unwrap();
        assert_eq!(capabilities.vendor_name.as_deref(), Some("Pure Storage"));
        assert_eq!(
            capabilities.replication_targets,
            Some(vec!["fa-b".to_string()])
        );
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/scheduler-stats/get_pools",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body, json!({"pools": [{"name": "site-a@pure#fa-a"}]}));
        let (status, _, _) = twin
            .call(
                "GET",
                "/volume/v3/{project}/scheduler-stats/get_pools",
                Some(&viewer),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn services_list_the_backends_volume_service_for_admins_only() {
        let twin = Twin::new("site-a");
        let token = twin.token("protector", &["admin", "member"]);
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/os-services",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let services: wire::ServicesList = serde_json::from_value(body).unwrap();
        let hosts: Vec<(&str, &str, &str)> = services
            .services
            .iter()
            .map(|s| (s.binary.as_str(), s.host.as_str(), s.state.as_str()))
            .collect();
        assert_eq!(
            hosts,
            [
                ("cinder-scheduler", "site-a", "up"),
                ("cinder-volume", "site-a@pure", "up")
            ]
        );
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/os-services?binary=cinder-volume",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["services"].as_array().unwrap().len(), 1);
        assert_eq!(body["services"][0]["backend_state"], "up");
        let member = twin.token("viewer", &["member"]);
        let (status, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/os-services",
                Some(&member),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            body.to_string().contains("volume_extension:services:index"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn nova_attaches_and_detaches_through_the_helpers() {
        let twin = Twin::new("site-b");
        let token = twin.token("protector", &["admin", "member"]);
        let (_, _, body) = twin
            .call(
                "POST",
                "/volume/v3/{project}/volumes",
                Some(&token),
                None,
                Some(json!({"volume": {"size": 1}})),
            )
            .await;
        let id = body["volume"]["id"].as_str().unwrap().to_string();
        {
            let mut site = twin.site();
            let error =
                attach(&mut site, &id, "server-1", "/dev/vda", "site-b-compute").unwrap_err();
            assert_eq!(error.status, 400, "still creating");
            assert_eq!(
                error.message,
                format!("Invalid volume: Volume {id} status must be available or downloading")
            );
        }
        twin.settle();
        let mut site = twin.site();
        let attachment = attach(&mut site, &id, "server-1", "/dev/vda", "site-b-compute").unwrap();
        assert_eq!(
            attach(&mut site, &id, "server-1", "/dev/vda", "site-b-compute").unwrap(),
            attachment
        );
        assert_eq!(site.block.volumes[&id].status, VolumeStatus::InUse);
        // The Pure driver connected the array volume to a Purity host it made.
        let array_volume = array_volume_name(&id);
        let hosts: Vec<(&str, u32)> = site.array.hosts_of(&array_volume).collect();
        assert_eq!(hosts.len(), 1);
        let (host, lun) = hosts[0];
        assert!(
            host.starts_with("site-b-compute-") && generated_host(host),
            "{host}"
        );
        assert_eq!(lun, 1);
        assert_eq!(
            site.array.hosts[host].iqns,
            vec![initiator_of("site-b-compute")]
        );
        let host = host.to_string();
        assert!(attach(&mut site, &id, "server-2", "/dev/vdb", "site-b-compute").is_err());
        assert_eq!(
            start_delete(&mut site, &id).unwrap_err().message,
            INVALID_VOLUME_STATE
        );
        assert_eq!(detach_server(&mut site, "server-1"), vec![id.clone()]);
        assert_eq!(site.block.volumes[&id].status, VolumeStatus::Available);
        assert!(site.block.volumes[&id].attachments.is_empty());
        assert_eq!(site.array.connection_count(&array_volume), 0);
        assert!(
            !site.array.hosts.contains_key(&host),
            "the driver's host went with it"
        );
        start_delete(&mut site, &id).unwrap();
        assert_eq!(site.block.volumes[&id].status, VolumeStatus::Deleting);
    }

    #[test]
    fn the_fixtures_attached_volumes_can_be_connected() {
        let twin = Twin::new("site-a");
        let mut site = twin.site();
        connect_attached_volumes(&mut site, "site-a-compute");
        let attached: Vec<String> = site
            .block
            .volumes
            .values()
            .map(|volume| volume.array_volume.clone())
            .collect();
        assert_eq!(attached.len(), 4);
        for name in &attached {
            assert_eq!(site.array.connection_count(name), 1, "{name}");
        }
        assert_eq!(
            site.array.hosts.len(),
            1,
            "one Purity host for the one compute host"
        );
        let luns: Vec<u32> = site
            .array
            .hosts
            .values()
            .next()
            .unwrap()
            .connections
            .values()
            .copied()
            .collect();
        assert_eq!(luns.len(), 4);
        assert!(generated_host(
            "web-3b1f0c2d4e5f60718293a4b5c6d7e8f9-cinder"
        ));
        assert!(!generated_host("compute-1"));
        assert!(!generated_host("x-cinder"));
        assert_eq!(
            purity_host_name("a.b_c", "0123456789abcdef0123456789abcdef"),
            "a-b-c-0123456789abcdef0123456789abcdef-cinder"
        );
    }

    #[test]
    fn unmanaged_names_fit_flasharray() {
        let name = array_volume_name("2b955850-f177-45f7-9f49-ecb2c256d161");
        assert_eq!(unmanaged_name(&name), format!("{name}-unmanaged"));
        let long = "x".repeat(60);
        let cut = unmanaged_name(&long);
        assert_eq!(cut.len(), 60);
        assert!(cut.ends_with("-unmanaged"));
    }

    #[tokio::test]
    async fn more_volumes_than_a_page_list_in_pages() {
        let fixture = crate::fixture::generate(400, 3);
        let twin = Twin::from_fixture(&fixture, "site-a");
        let token = twin.token("protector", &["admin", "member"]);
        assert_eq!(twin.site().block.volumes.len(), 1200);
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes/detail",
                Some(&token),
                Some("3.69"),
                None,
            )
            .await;
        assert_eq!(body["volumes"].as_array().unwrap().len(), 1000);
        assert!(
            body["volumes_links"][0]["href"]
                .as_str()
                .unwrap()
                .contains("marker=")
        );
        let (_, _, body) = twin
            .call(
                "GET",
                "/volume/v3/{project}/volumes?limit=100",
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(body["volumes"].as_array().unwrap().len(), 100);
    }
}
