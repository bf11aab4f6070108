//! What Nova asks of Cinder: attach, detach, check a volume can be attached, delete a server's volumes.

use super::{driver::*, lifecycle::*, request::*};
use crate::clock::Op;
use crate::openstack::state::{Pending, Volume, VolumeAttachment, VolumeJob, VolumeStatus};
use crate::world::Site;

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
pub(super) fn removable(volume: &Volume) -> bool {
    matches!(
        volume.status,
        VolumeStatus::Available | VolumeStatus::Error | VolumeStatus::ErrorManaging
    ) && volume.attachments.is_empty()
}

#[cfg(test)]
mod tests {
    use super::super::attachments::*;
    use super::super::testing::*;
    use crate::openstack::state::VolumeStatus;
    use serde_json::json;

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
}
