//! Updating and deleting servers, and the `os-start`/`os-stop` actions.

use super::{lifecycle::*, request::*, servers::*, views::*};
use crate::clock::Op;
use crate::openstack::state::{Pending, Server, ServerStatus};
use crate::world::Site;
use crate::world::SiteContext;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use protector_wire::nova as model;
use serde_json::Value;

pub(super) async fn server_update(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let body = parse_body(&body)?;
        let mut site = ctx.lock();
        find_server(&site, &api, &server_id)?;
        api.policy(api.can_write(), "servers:update")?;
        let Some(update) = body.get("server").and_then(Value::as_object) else {
            return Err(invalid_input("", &body, "'server' is a required property"));
        };
        for key in update.keys() {
            let allowed = match key.as_str() {
                "name" | "accessIPv4" | "accessIPv6" | "OS-DCF:diskConfig" => true,
                "description" => api.at_least(19),
                "hostname" => api.at_least(90),
                _ => false,
            };
            if !allowed {
                return Err(invalid_input(
                    "server",
                    &Value::Object(update.clone()),
                    format!("Additional properties are not allowed ('{key}' was unexpected)"),
                ));
            }
        }
        let wall = site.clock.wall();
        let extra = extra_mut(&mut site, &server_id);
        if let Some(value) = update.get("accessIPv4") {
            extra.access_ipv4 = value.as_str().unwrap_or_default().to_string();
        }
        if let Some(value) = update.get("accessIPv6") {
            extra.access_ipv6 = value.as_str().unwrap_or_default().to_string();
        }
        if let Some(value) = update.get("OS-DCF:diskConfig") {
            extra.auto_disk_config = value.as_str() == Some("AUTO");
        }
        if let Some(value) = update.get("hostname").and_then(Value::as_str) {
            extra.hostname = Some(value.to_string());
        }
        if let Some(server) = site.compute.servers.get_mut(&server_id) {
            if let Some(value) = update.get("description") {
                server.description = value.as_str().map(str::to_string);
            }
            if let Some(name) = update.get("name") {
                match name.as_str().map(str::trim) {
                    Some(name) if !name.is_empty() && name.chars().count() <= 255 => {
                        server.name = name.to_string()
                    }
                    _ => return Err(invalid_input("name", name, "is not a valid name")),
                }
            }
            server.updated = wall;
        }
        let server = find_server(&site, &api, &server_id)?;
        Ok(model::ServerResponse {
            server: server_view(&site, &api, server, true),
        })
    })();
    api.done(StatusCode::OK, result)
}

pub(super) async fn server_delete(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
) -> Response {
    let result = (|| {
        let mut site = ctx.lock();
        find_server(&site, &api, &server_id)?;
        api.policy(api.can_write(), "servers:delete")?;
        let at = site.clock.now() + site.clock.latency(Op::DeleteServer);
        let wall = site.clock.wall();
        if let Some(server) = site.compute.servers.get_mut(&server_id) {
            // A second delete while one runs is ignored, as Nova does.
            let deleting = server
                .pending
                .as_ref()
                .is_some_and(|pending| pending.then == ServerStatus::Deleting);
            if !deleting {
                server.pending = Some(Pending {
                    at,
                    then: ServerStatus::Deleting,
                    error: None,
                });
                server.updated = wall;
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => api.empty(StatusCode::NO_CONTENT),
        Err(failure) => api.error(failure),
    }
}

/// Nova's `raise_http_conflict_for_instance_invalid_state`: the 409 of an action refused in
/// the server's state.
pub(super) fn invalid_state(action: &str, server_id: &str, attr: &str, state: &str) -> Failure {
    fail(
        StatusCode::CONFLICT,
        format!("Cannot '{action}' instance {server_id} while it is in {attr} {state}"),
    )
}

/// Nova's `check_instance_state`: the 409 for an action the server's state does not allow.
pub(super) fn check_state(
    site: &Site,
    server: &Server,
    action: &str,
    vm_states: &[ServerStatus],
    must_have_launched: bool,
) -> Result<(), Failure> {
    let conflict = |attr: &str, state: &str| invalid_state(action, &server.id, attr, state);
    if !vm_states.contains(&server.status) {
        return Err(conflict("vm_state", vm_state(server.status)));
    }
    if let Some(task) = task_state(server) {
        return Err(conflict("task_state", task));
    }
    if must_have_launched
        && launched_at(server, site.compute.server_extras.get(&server.id)).is_none()
    {
        return Err(conflict("launched_at", "None"));
    }
    Ok(())
}

pub(super) async fn server_action(
    State(ctx): State<SiteContext>,
    api: Api,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let body = parse_body(&body)?;
        let action = body
            .as_object()
            .and_then(|map| map.keys().next().cloned())
            .unwrap_or_default();
        let (rule, allowed, then, latency): (&str, &[ServerStatus], ServerStatus, Op) =
            match action.as_str() {
                "os-stop" => (
                    "stop",
                    &[ServerStatus::Active, ServerStatus::Error],
                    ServerStatus::Shutoff,
                    Op::StopServer,
                ),
                "os-start" => (
                    "start",
                    &[ServerStatus::Shutoff],
                    ServerStatus::Active,
                    Op::StartServer,
                ),
                other => return Err(bad_request(format!("There is no such action: {other}"))),
            };
        let mut site = ctx.lock();
        let server = find_server(&site, &api, &server_id)?;
        api.policy(api.can_write(), &format!("servers:{rule}"))?;
        check_state(&site, server, rule, allowed, true)?;
        let at = site.clock.now() + site.clock.latency(latency);
        let wall = site.clock.wall();
        if let Some(server) = site.compute.servers.get_mut(&server_id) {
            server.pending = Some(Pending {
                at,
                then,
                error: None,
            });
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
    use crate::openstack::state::{FixedIp, VolumeStatus};
    use axum::http::StatusCode;
    use protector_wire::nova as model;
    use serde_json::json;

    #[tokio::test]
    async fn boot_from_volume_stop_start_delete() {
        let twin = Twin::new(200.0);
        let boot = twin.volume("app-boot", true);
        let data = twin.volume("app-data", false);
        let web = twin.network_id("net-primary-web");
        let flavor = flavor_id(&twin, "m1.small");
        // A port made beforehand, passed in as a second NIC.
        let port_id = {
            let mut site = twin.ctx.lock();
            let network = site
                .network
                .networks
                .values()
                .find(|network| network.name == "net-primary-db")
                .unwrap()
                .clone();
            let mut port = site.network.ports.values().next().unwrap().clone();
            port.id = site.ids.uuid();
            port.device_id.clear();
            port.device_owner.clear();
            port.network_id = network.id.clone();
            port.fixed_ips = vec![FixedIp {
                subnet_id: network.subnet_ids[0].clone(),
                ip_address: "10.10.2.77".to_string(),
            }];
            let id = port.id.clone();
            site.network.ports.insert(id.clone(), port);
            id
        };
        let body = boot_body(
            "app-1",
            &format!("http://twin.test/compute/flavors/{flavor}"),
            &[&boot, &data],
            json!([{"uuid": web, "fixed_ip": "10.10.1.50"}, {"port": port_id}]),
        );
        let reply = twin.nova("POST", "/servers", "2.100", Some(body)).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        let created: model::ServerCreateResponse =
            serde_json::from_value(reply.body.clone()).unwrap();
        let id = created.server.id.clone();
        assert_eq!(
            reply.headers["location"],
            format!("http://twin.test/compute/v2.1/servers/{id}").as_str()
        );
        assert_eq!(
            created.server.admin_pass.as_ref().map(String::len),
            Some(12)
        );
        assert_eq!(created.server.security_groups.as_ref().unwrap().len(), 2);

        // BUILD at once, volumes in use, ports made or bound.
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.100", None)
            .await;
        let server: model::ServerResponse = serde_json::from_value(show.body.clone()).unwrap();
        assert_eq!(server.server.status, "BUILD");
        assert_eq!(server.server.task_state.as_deref(), Some("spawning"));
        assert_eq!(
            server.server.volume_ids().collect::<Vec<_>>(),
            [boot.as_str(), data.as_str()]
        );
        {
            let site = twin.ctx.lock();
            for (volume, device) in [(&boot, "/dev/vda"), (&data, "/dev/vdb")] {
                let volume = &site.block.volumes[volume];
                assert_eq!(volume.status, VolumeStatus::InUse);
                assert_eq!(volume.attachments[0].server_id, id);
                assert_eq!(volume.attachments[0].device, device);
            }
            let server = &site.compute.servers[&id];
            assert_eq!(server.ports.len(), 2);
            let made = &site.network.ports[&server.ports[0]];
            assert_eq!(made.fixed_ips[0].ip_address, "10.10.1.50");
            assert_eq!(made.device_owner, "compute:az-2");
            assert_eq!(made.security_groups.len(), 2);
            let bound = &site.network.ports[&port_id];
            assert_eq!(bound.device_id, id);
        }

        twin.settle(250).await;
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.100", None)
            .await;
        let server: model::ServerResponse = serde_json::from_value(show.body).unwrap();
        assert_eq!(server.server.status, "ACTIVE");
        assert_eq!(server.server.power_state, 1);
        assert!(server.server.task_state.is_none());
        assert!(server.server.launched_at.is_some());
        assert_eq!(server.server.metadata["protector:step"], "boot");
        assert_eq!(
            server.server.pinned_availability_zone,
            Some(Some("az-2".to_string()))
        );
        let nets: Vec<&str> = server
            .server
            .addresses
            .0
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(nets, ["net-primary-web", "net-primary-db"]);

        // Volume attachments, old and new shapes.
        let old = twin
            .nova(
                "GET",
                &format!("/servers/{id}/os-volume_attachments"),
                "2.1",
                None,
            )
            .await;
        assert_eq!(old.body["volumeAttachments"][0]["id"], boot.as_str());
        assert_eq!(old.body["volumeAttachments"][0]["device"], "/dev/vda");
        let new = twin
            .nova(
                "GET",
                &format!("/servers/{id}/os-volume_attachments"),
                "2.89",
                None,
            )
            .await;
        let list: model::VolumeAttachmentsList = serde_json::from_value(new.body).unwrap();
        assert!(
            list.volume_attachments
                .iter()
                .all(|a| a.id.is_none() && a.attachment_id.is_some())
        );

        // Stop: powering-off, then SHUTOFF; a second stop is a conflict.
        let action = |name: &str| Some(json!({ name: null }));
        assert_eq!(
            twin.nova(
                "POST",
                &format!("/servers/{id}/action"),
                "2.1",
                action("os-stop")
            )
            .await
            .status,
            StatusCode::ACCEPTED
        );
        let again = twin
            .nova(
                "POST",
                &format!("/servers/{id}/action"),
                "2.1",
                action("os-stop"),
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(
            again.body["conflictingRequest"]["message"],
            format!("Cannot 'stop' instance {id} while it is in task_state powering-off")
        );
        twin.settle(100).await;
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.1", None)
            .await;
        assert_eq!(show.body["server"]["status"], "SHUTOFF");
        assert_eq!(show.body["server"]["OS-EXT-STS:power_state"], 4);
        let again = twin
            .nova(
                "POST",
                &format!("/servers/{id}/action"),
                "2.1",
                action("os-stop"),
            )
            .await;
        assert_eq!(
            again.body["conflictingRequest"]["message"],
            format!("Cannot 'stop' instance {id} while it is in vm_state stopped")
        );
        let unknown = twin
            .nova(
                "POST",
                &format!("/servers/{id}/action"),
                "2.1",
                action("os-reboot-please"),
            )
            .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            twin.nova(
                "POST",
                &format!("/servers/{id}/action"),
                "2.1",
                action("os-start")
            )
            .await
            .status,
            StatusCode::ACCEPTED
        );
        twin.settle(100).await;
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.1", None)
            .await;
        assert_eq!(show.body["server"]["status"], "ACTIVE");

        // Delete: 204, deleting, then gone; volumes available, ports cleaned.
        let reply = twin
            .nova("DELETE", &format!("/servers/{id}"), "2.1", None)
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.1", None)
            .await;
        assert_eq!(show.body["server"]["OS-EXT-STS:task_state"], "deleting");
        twin.settle(100).await;
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.1", None)
            .await;
        assert_eq!(show.status, StatusCode::NOT_FOUND);
        let site = twin.ctx.lock();
        for volume in [&boot, &data] {
            assert_eq!(site.block.volumes[volume].status, VolumeStatus::Available);
            assert!(site.block.volumes[volume].attachments.is_empty());
        }
        assert!(
            site.network
                .ports
                .values()
                .all(|p| p.fixed_ips[0].ip_address != "10.10.1.50")
        );
        assert_eq!(site.network.ports[&port_id].device_id, "");
        assert!(!site.compute.server_extras.contains_key(&id));
    }
}
