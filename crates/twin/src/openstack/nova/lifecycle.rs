//! Time-driven changes of Nova's servers: due transitions (BUILD to ACTIVE or ERROR, stops, starts, deletes), injected server failures, a power loss.

use crate::faults::Faults;
use crate::openstack::cinder;
use crate::openstack::state::{Fault, ServerExtra, ServerStatus};
use crate::world::Site;
use std::time::Instant;

/// The site loses power: running servers stop, a boot under way fails, a start or stop under
/// way ends stopped; deletes go on. Nova finds them so when the site is back (and starts none:
/// `resume_guests_state_on_host_boot` is off by default).
pub fn power_off(site: &mut Site) {
    let wall = site.clock.wall();
    for server in site.compute.servers.values_mut() {
        let deleting = server
            .pending
            .as_ref()
            .is_some_and(|pending| pending.then == ServerStatus::Deleting);
        if deleting {
            continue;
        }
        server.pending = None;
        server.status = match server.status {
            ServerStatus::Build => {
                server.fault = Some(Fault {
                    code: 500,
                    message: "the host lost power while the instance was building".to_string(),
                    created: wall,
                });
                ServerStatus::Error
            }
            ServerStatus::Active => ServerStatus::Shutoff,
            other => other,
        };
        server.updated = wall;
    }
}

/// Applies due server transitions (BUILD -> ACTIVE or ERROR, stops, starts, deletes, and the
/// failures `faults` inject into running servers).
pub fn advance(site: &mut Site, now: Instant, faults: &Faults) {
    let due: Vec<String> = site
        .compute
        .servers
        .values()
        .filter(|server| {
            server
                .pending
                .as_ref()
                .is_some_and(|pending| pending.at <= now)
        })
        .map(|server| server.id.clone())
        .collect();
    for id in due {
        let Some(pending) = site
            .compute
            .servers
            .get_mut(&id)
            .and_then(|server| server.pending.take())
        else {
            continue;
        };
        let wall = site.clock.wall();
        match pending.then {
            ServerStatus::Deleting => remove_server(site, &id),
            ServerStatus::Error => {
                // A failed build: Nova detaches the volumes (`_shutdown_instance`), deallocates
                // the networks (`_cleanup_allocated_networks`) and takes the server off its host.
                release_ports(site, &id);
                detach_all_volumes(site, &id);
                if let Some(server) = site.compute.servers.get_mut(&id) {
                    server.status = ServerStatus::Error;
                    server.updated = wall;
                    server.host = None;
                    server.ports.clear();
                    server.fault = Some(Fault {
                        code: 500,
                        message: pending
                            .error
                            .unwrap_or_else(|| "An unknown exception occurred.".to_string()),
                        created: wall,
                    });
                }
            }
            status => {
                if let Some(server) = site.compute.servers.get_mut(&id) {
                    server.status = status;
                    server.updated = wall;
                }
                if status == ServerStatus::Active {
                    extra_mut(site, &id).launched_at.get_or_insert(wall);
                }
            }
        }
    }
    fail_servers(site, now, faults);
}

/// The control API's `server_error` fault: each running server a rule takes is marked to fail
/// after the rule's delay, and those due turn ERROR with the rule's message. Nova leaves such a
/// server on its host with its ports and volumes (nothing cleans up a VM that crashed), so the
/// twin does too.
pub(super) fn fail_servers(site: &mut Site, now: Instant, faults: &Faults) {
    if faults.fails_servers(&site.name) {
        let running: Vec<(String, String)> = site
            .compute
            .servers
            .values()
            .filter(|server| server.status == ServerStatus::Active && server.pending.is_none())
            .filter(|server| {
                site.compute
                    .server_extras
                    .get(&server.id)
                    .is_none_or(|extra| extra.failing.is_none())
            })
            .map(|server| (server.id.clone(), server.name.clone()))
            .collect();
        for (id, name) in running {
            if let Some((after, message)) = faults.take_server_error(&site.name, &name) {
                extra_mut(site, &id).failing = Some((now + after, message));
            }
        }
    }
    let due: Vec<(String, String)> = site
        .compute
        .server_extras
        .iter()
        .filter_map(|(id, extra)| {
            let (at, message) = extra.failing.as_ref()?;
            (*at <= now).then(|| (id.clone(), message.clone()))
        })
        .collect();
    let wall = site.clock.wall();
    for (id, message) in due {
        extra_mut(site, &id).failing = None;
        // A server stopped or being deleted meanwhile no longer runs: nothing left to fail.
        if let Some(server) = site.compute.servers.get_mut(&id)
            && server.status == ServerStatus::Active
            && server.pending.is_none()
        {
            server.status = ServerStatus::Error;
            server.updated = wall;
            server.fault = Some(Fault {
                code: 500,
                message,
                created: wall,
            });
        }
    }
}

/// The end of a delete: volumes detached (and deleted when asked), ports released, gone.
pub(super) fn remove_server(site: &mut Site, id: &str) {
    let Some(server) = site.compute.servers.get(id) else {
        return;
    };

    let doomed: Vec<String> = server
        .volumes
        .iter()
        .filter(|volume| volume.delete_on_termination)
        .map(|volume| volume.volume_id.clone())
        .collect();
    release_ports(site, id);
    detach_all_volumes(site, id);
    for volume_id in doomed {
        // Nova deletes a `delete_on_termination` volume once detached; a refusal (the volume
        // in use elsewhere) leaves it, as Nova only logs it.
        let _ = cinder::start_delete(site, &volume_id);
    }
    site.compute.servers.remove(id);
    site.compute.server_extras.remove(id);
    for group in &mut site.compute.server_groups {
        group.members.retain(|member| member != id);
    }
}

/// Deletes the ports Nova made for the server and unbinds the ones it was given.
pub(super) fn release_ports(site: &mut Site, server_id: &str) {
    let Some(server) = site.compute.servers.get(server_id) else {
        return;
    };

    let ports = server.ports.clone();
    let preexisting = site
        .compute
        .server_extras
        .get(server_id)
        .map(|extra| extra.preexisting_ports.clone())
        .unwrap_or_default();
    let wall = site.clock.wall();
    for port_id in ports {
        if preexisting.contains(&port_id) {
            if let Some(port) = site.network.ports.get_mut(&port_id)
                && port.device_id == server_id
            {
                port.device_id.clear();
                port.device_owner.clear();
                touch_port(site, &port_id, wall);
            }
        } else {
            site.network.ports.remove(&port_id);
            site.network.port_meta.remove(&port_id);
        }
    }
}

/// A port changed through Nova: Neutron bumps its revision.
pub(super) fn touch_port(site: &mut Site, port_id: &str, wall: chrono::DateTime<chrono::Utc>) {
    if let Some(meta) = site.network.port_meta.get_mut(port_id) {
        meta.revision_number += 1;
        meta.updated_at = wall;
    }
}

pub(super) fn detach_all_volumes(site: &mut Site, server_id: &str) {
    let Some(server) = site.compute.servers.get(server_id) else {
        return;
    };

    let volumes: Vec<String> = server
        .volumes
        .iter()
        .map(|volume| volume.volume_id.clone())
        .collect();
    for volume_id in volumes {
        cinder::detach(site, &volume_id, server_id);
    }
}

/// The server's API-only attributes, made with the defaults a fixture server has when it has
/// none yet (launched when it was created, unless still building).
pub(super) fn extra_mut<'a>(site: &'a mut Site, server_id: &str) -> &'a mut ServerExtra {
    let launched_at = site
        .compute
        .servers
        .get(server_id)
        .filter(|server| server.status != ServerStatus::Build)
        .map(|server| server.created);
    site.compute
        .server_extras
        .entry(server_id.to_string())
        .or_insert_with(|| ServerExtra {
            launched_at,
            ..ServerExtra::default()
        })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::openstack::state::ServerStatus;
    use serde_json::Value;
    use serde_json::json;

    #[tokio::test]
    async fn injected_faults_fail_running_servers_and_boots() {
        let twin = Twin::new(100_000.0);
        let rule = |action: Value| -> crate::faults::FaultRule {
            serde_json::from_value(json!({"site": "site-a", "action": action, "count": 1})).unwrap()
        };
        let faults = &twin.ctx.world.faults;
        faults.add(rule(json!({"kind": "server_error", "name": "web-*", "after_ms": 30, "message": "host lost"})));
        faults.add(rule(json!({"kind": "no_valid_host"})));

        // The first matching running server is taken; it fails after the delay.
        let taken = {
            let site = twin.ctx.lock();
            let failing: Vec<&String> = site
                .compute
                .server_extras
                .iter()
                .filter(|(_, extra)| extra.failing.is_some())
                .map(|(id, _)| id)
                .collect();
            assert_eq!(failing.len(), 1);
            failing[0].clone()
        };
        assert_eq!(
            twin.ctx.lock().compute.servers[&taken].status,
            ServerStatus::Active
        );
        twin.settle(60).await;
        let show = twin
            .nova("GET", &format!("/servers/{taken}"), "2.1", None)
            .await;
        assert_eq!(show.body["server"]["status"], "ERROR");
        assert_eq!(show.body["server"]["fault"]["message"], "host lost");
        assert_eq!(show.body["server"]["fault"]["code"], 500);
        let others = twin
            .ctx
            .lock()
            .compute
            .servers
            .values()
            .filter(|s| s.status == ServerStatus::Error)
            .count();
        assert_eq!(others, 1, "count 1 takes one server");

        // The next boot ends in NoValidHost, the one after runs.
        let refused = boot(&twin, "one", "2.1", json!({}), Value::Null).await;
        let runs = boot(&twin, "two", "2.1", json!({}), Value::Null).await;
        twin.settle(50).await;
        for (reply, status) in [(refused, "ERROR"), (runs, "ACTIVE")] {
            let id = reply.body["server"]["id"].as_str().unwrap();
            let show = twin
                .nova("GET", &format!("/servers/{id}"), "2.1", None)
                .await;
            assert_eq!(show.body["server"]["status"], status, "{}", show.body);
        }
        assert!(faults.list().is_empty());
    }
}
