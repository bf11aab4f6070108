//! Volume attachments: list, show, attach, detach.

use super::{actions::*, create::*, request::*, servers::*, views::*};
use crate::openstack::cinder;
use crate::openstack::state::{AttachedVolume, Server, ServerStatus, VolumeStatus};
use crate::world::Site;
use crate::world::SiteContext;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use protector_wire::nova as model;

pub(super) fn attachment_view(
    site: &Site,
    api: &Api,
    server: &Server,
    volume: &AttachedVolume,
) -> model::VolumeAttachment {
    let attachment_id = site
        .block
        .volumes
        .get(&volume.volume_id)
        .and_then(|cinder| {
            cinder
                .attachments
                .iter()
                .find(|attachment| attachment.server_id == server.id)
        })
        .map(|attachment| attachment.attachment_id.clone());
    let new_style = api.at_least(89);
    model::VolumeAttachment {
        device: Some(volume.device.clone()),
        server_id: server.id.clone(),
        volume_id: volume.volume_id.clone(),
        id: (!new_style).then(|| volume.volume_id.clone()),
        tag: api.at_least(70).then_some(None),
        delete_on_termination: api.at_least(79).then_some(volume.delete_on_termination),
        attachment_id: if new_style { attachment_id } else { None },
        bdm_uuid: new_style.then(|| bdm_uuid(&server.id, &volume.volume_id)),
    }
}

pub(super) async fn attachments_index(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
) -> Response {
    let site = ctx.lock();
    let result = find_server(&site, &api, &server_id).and_then(|server| {
        api.policy(api.can_read(), "os-volumes-attachments:index")?;
        Ok(model::VolumeAttachmentsList {
            volume_attachments: server
                .volumes
                .iter()
                .map(|volume| attachment_view(&site, &api, server, volume))
                .collect(),
        })
    });
    drop(site);
    api.done(StatusCode::OK, result)
}

pub(super) fn not_attached(server_id: &str, volume_id: &str) -> Failure {
    fail(
        StatusCode::NOT_FOUND,
        format!("Instance {server_id} is not attached to volume {volume_id}"),
    )
}

pub(super) async fn attachment_show(
    State(ctx): State<SiteContext>,
    api: Api,
    Path((server_id, volume_id)): Path<(String, String)>,
) -> Response {
    let site = ctx.lock();
    let result = find_server(&site, &api, &server_id).and_then(|server| {
        api.policy(api.can_read(), "os-volumes-attachments:show")?;
        let volume = server
            .volumes
            .iter()
            .find(|volume| volume.volume_id == volume_id)
            .ok_or_else(|| not_attached(&server_id, &volume_id))?;
        Ok(model::VolumeAttachmentResponse {
            volume_attachment: attachment_view(&site, &api, server, volume),
        })
    });
    drop(site);
    api.done(StatusCode::OK, result)
}

/// The states Nova lets a volume be attached or detached in.
pub(super) const ATTACHABLE: &[ServerStatus] = &[ServerStatus::Active, ServerStatus::Shutoff];

pub(super) async fn attachment_create(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let body = parse_body(&body)?;
        let request: model::VolumeAttachmentRequest = serde_json::from_value(body.clone())
            .map_err(|error| invalid_input("volumeAttachment", &body, error))?;
        let request = request.volume_attachment;
        let mut site = ctx.lock();
        let server = find_server(&site, &api, &server_id)?;
        api.policy(api.can_write(), "os-volumes-attachments:create")?;
        check_state(&site, server, "attach_volume", ATTACHABLE, false)?;
        let volume_id = request.volume_id.clone();
        let volume = site
            .block
            .volumes
            .get(&volume_id)
            .filter(|volume| api.sees(&volume.project_id))
            .ok_or_else(|| {
                fail(
                    StatusCode::NOT_FOUND,
                    format!("Volume {volume_id} could not be found."),
                )
            })?;
        if server
            .volumes
            .iter()
            .any(|attached| attached.volume_id == volume_id)
        {
            return Err(bad_request(format!(
                "Invalid volume: volume {volume_id} already attached"
            )));
        }
        if volume.status != VolumeStatus::Available {
            let status = volume.status;
            let (_, message) = reserve_refused(&mut site, &volume_id, status);
            // The attach path reports Cinder's refusal as InvalidInput (no InvalidVolume wrap).
            return Err(bad_request(
                message.trim_start_matches("Invalid volume: ").to_string(),
            ));
        }
        let used: Vec<String> = server
            .volumes
            .iter()
            .map(|volume| volume.device.clone())
            .collect();
        let device = (0..)
            .map(|position| format!("/dev/vd{}", device_letter(position)))
            .find(|device| !used.contains(device))
            .unwrap_or_default();
        let delete_on_termination = api.at_least(79) && request.delete_on_termination == Some(true);
        let host = compute_host(&site);
        cinder::attach(&mut site, &volume_id, &server_id, &device, &host)
            .map_err(|error| bad_request(format!("Invalid input received: {}", error.message)))?;
        let wall = site.clock.wall();
        let server = site
            .compute
            .servers
            .get_mut(&server_id)
            .ok_or_else(|| not_attached(&server_id, &volume_id))?;
        let attached = AttachedVolume {
            volume_id: volume_id.clone(),
            device,
            boot_index: None,
            delete_on_termination,
        };
        server.volumes.push(attached.clone());
        server.updated = wall;
        let server = &site.compute.servers[&server_id];
        Ok(model::VolumeAttachmentResponse {
            volume_attachment: attachment_view(&site, &api, server, &attached),
        })
    })();
    api.done(StatusCode::OK, result)
}

pub(super) async fn attachment_delete(
    State(ctx): State<SiteContext>,
    api: Api,
    Path((server_id, volume_id)): Path<(String, String)>,
) -> Response {
    let result = (|| {
        let mut site = ctx.lock();
        let server = find_server(&site, &api, &server_id)?;
        api.policy(api.can_write(), "os-volumes-attachments:delete")?;
        check_state(&site, server, "detach_volume", ATTACHABLE, false)?;
        if !site
            .block
            .volumes
            .get(&volume_id)
            .is_some_and(|volume| api.sees(&volume.project_id))
        {
            return Err(fail(
                StatusCode::NOT_FOUND,
                format!("Volume {volume_id} could not be found."),
            ));
        }
        let attached = server
            .volumes
            .iter()
            .find(|volume| volume.volume_id == volume_id)
            .ok_or_else(|| not_attached(&server_id, &volume_id))?;
        if attached.boot_index == Some(0) {
            return Err(bad_request("Cannot detach a root device volume"));
        }
        cinder::detach(&mut site, &volume_id, &server_id);
        let wall = site.clock.wall();
        if let Some(server) = site.compute.servers.get_mut(&server_id) {
            server
                .volumes
                .retain(|volume| volume.volume_id != volume_id);
            server.updated = wall;
        }
        Ok(())
    })();
    match result {
        Ok(()) => api.empty(StatusCode::ACCEPTED),
        Err(failure) => api.error(failure),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::openstack::state::VolumeStatus;
    use axum::http::StatusCode;
    use serde_json::json;

    #[tokio::test]
    async fn attach_and_detach_a_volume() {
        let twin = Twin::new(1.0);
        let id = twin.server_id("web-1");
        let extra = twin.volume("extra", false);
        let path = format!("/servers/{id}/os-volume_attachments");
        let reply = twin
            .nova(
                "POST",
                &path,
                "2.79",
                Some(json!({"volumeAttachment": {"volumeId": extra}})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["volumeAttachment"]["device"], "/dev/vdb");
        assert_eq!(
            reply.body["volumeAttachment"]["delete_on_termination"],
            false
        );
        assert_eq!(
            twin.ctx.lock().block.volumes[&extra].status,
            VolumeStatus::InUse
        );
        let reply = twin
            .nova(
                "POST",
                &path,
                "2.79",
                Some(json!({"volumeAttachment": {"volumeId": extra}})),
            )
            .await;
        assert_eq!(
            reply.body["badRequest"]["message"],
            format!("Invalid volume: volume {extra} already attached")
        );
        let reply = twin
            .nova("GET", &format!("{path}/{extra}"), "2.1", None)
            .await;
        assert_eq!(reply.body["volumeAttachment"]["serverId"], id.as_str());
        let boot = twin.ctx.lock().compute.servers[&id].volumes[0]
            .volume_id
            .clone();
        let reply = twin
            .nova("DELETE", &format!("{path}/{boot}"), "2.1", None)
            .await;
        assert_eq!(
            reply.body["badRequest"]["message"],
            "Cannot detach a root device volume"
        );
        let reply = twin
            .nova("DELETE", &format!("{path}/{extra}"), "2.1", None)
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        assert_eq!(
            twin.ctx.lock().block.volumes[&extra].status,
            VolumeStatus::Available
        );
        let reply = twin
            .nova("GET", &format!("{path}/{extra}"), "2.1", None)
            .await;
        assert_eq!(
            reply.body["itemNotFound"]["message"],
            format!("Instance {id} is not attached to volume {extra}")
        );
    }
}
