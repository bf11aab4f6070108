//! How a server reads on the wire: the server view and the fields derived from the world (host ids, addresses, states).

use super::request::*;
use crate::openstack::state::{Server, ServerExtra, ServerStatus};
use crate::world::Site;
use protector_wire::ids::{IdGen, fnv};
use protector_wire::nova as model;
use std::collections::BTreeMap;

/// The host object the site's array knows its compute nodes by (one, holding every node's
/// initiator): Cinder connects attached volumes' array volumes to it, whichever node runs the
/// server.
pub fn compute_host(site: &Site) -> String {
    format!("{}-compute", site.name)
}

/// Nova's `hostId`: a hash of project and host, stable and opaque (Nova uses SHA-224; the twin
/// uses its seeded generator, same length and alphabet).
pub(super) fn host_id(project_id: &str, host: &str) -> String {
    IdGen::new(fnv(&format!("{project_id}{host}"))).hex(56)
}

/// `instance-0000002a`: the libvirt domain name.
pub(super) fn instance_name(server_id: &str) -> String {
    format!("instance-{:08x}", fnv(server_id) & 0xffff_ffff)
}

/// The block device mapping's uuid (>= 2.89), stable per server and volume.
pub(super) fn bdm_uuid(server_id: &str, volume_id: &str) -> String {
    IdGen::new(fnv(&format!("{server_id}/{volume_id}"))).uuid()
}

/// Nova's `sanitize_hostname`.
pub(super) fn sanitize_hostname(name: &str) -> String {
    let mut hostname: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '_' { '-' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    hostname.truncate(63);
    let trimmed = hostname.trim_matches(|c| c == '-' || c == '.');
    if trimmed.is_empty() {
        "server".to_string()
    } else {
        trimmed.to_string()
    }
}

pub(super) fn isotime(time: &chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(super) fn status_text(status: ServerStatus) -> &'static str {
    match status {
        ServerStatus::Build => "BUILD",
        ServerStatus::Active => "ACTIVE",
        ServerStatus::Shutoff => "SHUTOFF",
        ServerStatus::Error => "ERROR",
        ServerStatus::Deleting => "DELETED",
    }
}

pub(super) fn vm_state(status: ServerStatus) -> &'static str {
    match status {
        ServerStatus::Build => "building",
        ServerStatus::Active => "active",
        ServerStatus::Shutoff => "stopped",
        ServerStatus::Error => "error",
        ServerStatus::Deleting => "deleted",
    }
}

/// The task a pending change stands for.
pub(super) fn task_state(server: &Server) -> Option<&'static str> {
    let pending = server.pending.as_ref()?;
    Some(match (server.status, pending.then) {
        (_, ServerStatus::Deleting) => "deleting",
        (ServerStatus::Build, _) => "spawning",
        (_, ServerStatus::Shutoff) => "powering-off",
        (ServerStatus::Shutoff, ServerStatus::Active) => "powering-on",
        _ => return None,
    })
}

pub(super) fn power_state(server: &Server) -> u8 {
    match server.status {
        ServerStatus::Active => 1,
        ServerStatus::Shutoff => 4,
        _ => 0,
    }
}

/// When the server was launched: recorded for servers the API made, the creation time for the
/// fixture's running ones.
pub(super) fn launched_at(
    server: &Server,
    extra: Option<&ServerExtra>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    match extra {
        Some(extra) => extra.launched_at,
        None => (server.status != ServerStatus::Build).then_some(server.created),
    }
}

/// The server's addresses, network by network in NIC order.
pub(super) fn addresses(site: &Site, server: &Server) -> model::ServerAddresses {
    let mut networks: Vec<(String, Vec<model::ServerAddress>)> = Vec::new();
    for port_id in &server.ports {
        let Some(port) = site.network.ports.get(port_id) else {
            continue;
        };
        let name = site
            .network
            .networks
            .get(&port.network_id)
            .map(|network| network.name.clone())
            .unwrap_or_else(|| port.network_id.clone());
        let addresses = port.fixed_ips.iter().map(|fixed| model::ServerAddress {
            addr: fixed.ip_address.clone(),
            version: if fixed.ip_address.contains(':') { 6 } else { 4 },
            ip_type: "fixed".to_string(),
            mac_addr: port.mac_address.clone(),
        });
        match networks.iter_mut().find(|(network, _)| *network == name) {
            Some((_, list)) => list.extend(addresses),
            None => networks.push((name, addresses.collect())),
        }
    }
    model::ServerAddresses(networks)
}

/// The security groups of the server's ports, by name (one entry per port and group, as Nova
/// lists them); None when it has none.
pub(super) fn security_groups(
    site: &Site,
    server: &Server,
) -> Option<Vec<model::SecurityGroupRef>> {
    let mut groups: Vec<model::SecurityGroupRef> = Vec::new();
    for port in server
        .ports
        .iter()
        .filter_map(|port_id| site.network.ports.get(port_id))
    {
        // A port's groups in the order the server asked for them.
        let mut names: Vec<&str> = port
            .security_groups
            .iter()
            .filter_map(|group_id| site.network.security_groups.get(group_id))
            .map(|group| group.name.as_str())
            .collect();
        names.sort_by_key(|name| {
            server
                .security_groups
                .iter()
                .position(|asked| asked == name)
                .unwrap_or(usize::MAX)
        });
        groups.extend(names.into_iter().map(|name| model::SecurityGroupRef {
            name: name.to_string(),
        }));
    }
    (!groups.is_empty()).then_some(groups)
}

/// The traceback Nova records with a fault (its last frame), as admins see it.
pub(super) fn fault_traceback(message: &str) -> String {
    let (frame, exception) = if message.starts_with("Exceeded maximum number of retries") {
        (
            "  File \"/opt/stack/nova/nova/conductor/manager.py\", line 707, in build_instances\n    raise exception.MaxRetriesExceeded(reason=msg)\n",
            "nova.exception.MaxRetriesExceeded",
        )
    } else if message.starts_with(super::scheduler::NO_VALID_HOST) {
        (
            "  File \"/opt/stack/nova/nova/scheduler/manager.py\", line 283, in _select_destinations\n    raise exception.NoValidHost(reason=reason)\n",
            "nova.exception.NoValidHost",
        )
    } else if !message.starts_with("Build of instance") {
        // A running server that failed (the control API's `server_error`): the hypervisor
        // lost the domain and the compute manager's sync set the server to ERROR.
        (
            "  File \"/opt/stack/nova/nova/compute/manager.py\", line 10462, in _sync_power_states\n    raise exception.InstanceInvalidState(\n",
            "nova.exception.InstanceInvalidState",
        )
    } else {
        (
            "  File \"/opt/stack/nova/nova/compute/manager.py\", line 2708, in _build_and_run_instance\n    raise exception.BuildAbortException(\n",
            "nova.exception.BuildAbortException",
        )
    };

    format!("Traceback (most recent call last):\n{frame}{exception}: {message}\n")
}

/// A server as `GET /servers/{id}` and `/servers/detail` show it at the request's microversion
/// and for the caller's role.
pub(super) fn server_view(site: &Site, api: &Api, server: &Server, show: bool) -> model::Server {
    let extra = site.compute.server_extras.get(&server.id);
    let admin = api.is_admin();
    let status = status_text(server.status);
    let host = server.host.clone();
    let flavor = site.compute.flavors.get(&server.flavor_id);
    let flavor = match flavor {
        Some(flavor) if api.at_least(47) => model::ServerFlavor::Embedded(model::EmbeddedFlavor {
            original_name: flavor.name.clone(),
            vcpus: flavor.vcpus,
            ram: flavor.ram_mb,
            disk: flavor.disk_gb,
            ephemeral: 0,
            swap: 0,
            extra_specs: Some(BTreeMap::new()),
        }),
        _ => model::ServerFlavor::Reference(model::FlavorRef {
            id: server.flavor_id.clone(),
            links: api.bookmark("flavors", &server.flavor_id),
        }),
    };

    let hostname = extra
        .and_then(|extra| extra.hostname.clone())
        .unwrap_or_else(|| sanitize_hostname(&server.name));
    let root_device = server
        .volumes
        .iter()
        .find(|volume| volume.boot_index == Some(0))
        .map(|volume| volume.device.clone());
    let fault = server
        .fault
        .as_ref()
        .filter(|_| server.status == ServerStatus::Error)
        .map(|fault| model::ServerFault {
            code: fault.code,
            message: fault.message.clone(),
            created: isotime(&fault.created),
            // Nova keeps the traceback of a 500 fault and shows it to admins only.
            details: (admin && fault.code == 500).then(|| fault_traceback(&fault.message)),
        });
    model::Server {
        id: server.id.clone(),
        name: server.name.clone(),
        status: status.to_string(),
        tenant_id: server.project_id.clone(),
        user_id: server.user_id.clone(),
        host_id: host
            .as_deref()
            .map(|host| host_id(&server.project_id, host))
            .unwrap_or_default(),
        created: isotime(&server.created),
        updated: isotime(&server.updated),
        flavor,
        image: model::ServerImage::BootedFromVolume(model::EmptyString),
        addresses: addresses(site, server),
        metadata: server.metadata.clone(),
        key_name: server.key_name.clone(),
        links: api.links("servers", &server.id),
        access_ipv4: extra.map(|e| e.access_ipv4.clone()).unwrap_or_default(),
        access_ipv6: extra.map(|e| e.access_ipv6.clone()).unwrap_or_default(),
        config_drive: if extra.is_some_and(|e| e.config_drive) {
            "True".to_string()
        } else {
            String::new()
        },
        disk_config: if extra.is_some_and(|e| e.auto_disk_config) {
            "AUTO".to_string()
        } else {
            "MANUAL".to_string()
        },
        availability_zone: server.availability_zone.clone(),
        vm_state: vm_state(server.status).to_string(),
        task_state: task_state(server).map(str::to_string),
        power_state: power_state(server),
        volumes_attached: server
            .volumes
            .iter()
            .map(|volume| model::AttachedVolume {
                id: volume.volume_id.clone(),
                delete_on_termination: api.at_least(3).then_some(volume.delete_on_termination),
            })
            .collect(),
        launched_at: launched_at(server, extra)
            .map(|time| time.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
        terminated_at: None,
        progress: matches!(server.status, ServerStatus::Active | ServerStatus::Build).then_some(0),
        security_groups: security_groups(site, server),
        fault,
        host: admin.then(|| host.clone()),
        hypervisor_hostname: admin.then(|| host.clone()),
        instance_name: admin.then(|| instance_name(&server.id)),
        hostname: ((admin && api.at_least(3)) || api.at_least(90)).then_some(hostname),
        reservation_id: (admin && api.at_least(3)).then(|| {
            extra
                .map(|e| e.reservation_id.clone())
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("r-{}", &server.id[..8]))
        }),
        launch_index: (admin && api.at_least(3)).then_some(0),
        kernel_id: (admin && api.at_least(3)).then(|| Some(String::new())),
        ramdisk_id: (admin && api.at_least(3)).then(|| Some(String::new())),
        root_device_name: (admin && api.at_least(3)).then_some(root_device),
        user_data: (admin && api.at_least(3)).then(|| extra.and_then(|e| e.user_data.clone())),
        host_status: (admin && api.at_least(16)).then(|| {
            if host.is_some() {
                "UP".to_string()
            } else {
                String::new()
            }
        }),
        locked: api.at_least(9).then_some(false),
        locked_reason: api.at_least(73).then_some(None),
        description: api.at_least(19).then(|| server.description.clone()),
        tags: api.at_least(26).then(|| server.tags.clone()),
        trusted_image_certificates: api.at_least(63).then_some(None),
        server_groups: (show && api.at_least(71))
            .then(|| super::server_groups::of_server(site, &server.id)),
        pinned_availability_zone: api
            .at_least(96)
            .then(|| extra.and_then(|e| e.requested_zone.clone())),
        scheduler_hints: api.at_least(100).then(|| {
            extra
                .map(|e| {
                    e.scheduler_hints
                        .iter()
                        .map(|(key, values)| {
                            (key.clone(), model::SchedulerHint::Many(values.clone()))
                        })
                        .collect()
                })
                .unwrap_or_default()
        }),
    }
}
