//! Creating servers: validating the request as Nova does, booting from volume, ports and fixed IPs, placement.

use super::{lifecycle::*, request::*, servers::*, views::*};
use crate::clock::Op;
use crate::faults::Faults;
use crate::openstack::cinder;
use crate::openstack::ipam;
use crate::openstack::state::{
    AttachedVolume, FixedIp, Pending, Port, Server, ServerExtra, ServerStatus, VolumeStatus,
};
use crate::world::Site;
use crate::world::SiteContext;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use protector_wire::ids::IdGen;
use protector_wire::nova as model;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// The `server` keys Nova's create schema allows at a microversion.
pub(super) fn allowed_create_key(api: &Api, key: &str) -> bool {
    match key {
        "name"
        | "imageRef"
        | "flavorRef"
        | "adminPass"
        | "metadata"
        | "networks"
        | "OS-DCF:diskConfig"
        | "accessIPv4"
        | "accessIPv6"
        | "availability_zone"
        | "block_device_mapping"
        | "block_device_mapping_v2"
        | "config_drive"
        | "key_name"
        | "min_count"
        | "max_count"
        | "return_reservation_id"
        | "security_groups"
        | "user_data" => true,
        "personality" => !api.at_least(57),
        "description" => api.at_least(19),
        "tags" => api.at_least(52),
        "trusted_image_certificates" => api.at_least(63),
        "host" | "hypervisor_hostname" => api.at_least(74),
        "hostname" => api.at_least(90),
        _ => false,
    }
}

/// One NIC of a create request, resolved against Neutron.
pub(super) enum Nic {
    /// Nova makes a port on the network (with the fixed IP if given).
    Network {
        network_id: String,
        subnet_id: String,
        fixed_ip: Option<String>,
    },
    /// An existing port, bound to the server.
    Port(String),
}

/// A create request that passed the schema.
pub(super) struct CreateRequest {
    pub(super) request: model::ServerCreateRequest,
    pub(super) raw: serde_json::Map<String, Value>,
}

pub(super) fn validate_create(api: &Api, body: &Value) -> Result<CreateRequest, Failure> {
    let Some(top) = body.as_object() else {
        return Err(invalid_input("", body, "is not of type 'object'"));
    };

    for key in top.keys() {
        if !matches!(
            key.as_str(),
            "server" | "OS-SCH-HNT:scheduler_hints" | "os:scheduler_hints"
        ) {
            return Err(invalid_input(
                "",
                body,
                format!("Additional properties are not allowed ('{key}' was unexpected)"),
            ));
        }
    }
    let Some(server) = top.get("server") else {
        return Err(invalid_input("", body, "'server' is a required property"));
    };

    let Some(raw) = server.as_object() else {
        return Err(invalid_input("server", server, "is not of type 'object'"));
    };

    for required in ["name", "flavorRef"] {
        if !raw.contains_key(required) {
            return Err(invalid_input(
                "server",
                server,
                format!("'{required}' is a required property"),
            ));
        }
    }
    if api.at_least(37) && !raw.contains_key("networks") {
        return Err(invalid_input(
            "server",
            server,
            "'networks' is a required property",
        ));
    }
    if let Some(key) = raw.keys().find(|key| !allowed_create_key(api, key)) {
        return Err(invalid_input(
            "server",
            server,
            format!("Additional properties are not allowed ('{key}' was unexpected)"),
        ));
    }
    match raw.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() && name.chars().count() <= 255 => {}
        Some(name @ Value::String(text)) if text.chars().count() > 255 => {
            return Err(invalid_input("name", name, format!("'{text}' is too long")));
        }
        Some(name @ Value::String(_)) => {
            return Err(invalid_input("name", name, "'' is too short"));
        }
        Some(name) => return Err(invalid_input("name", name, "is not of type 'string'")),
        None => {}
    }
    if let Some(metadata) = raw.get("metadata") {
        validate_metadata("metadata", metadata)?;
    }
    if let Some(tags) = raw.get("tags") {
        super::tags::parse(tags)?;
    }
    if let Some(networks) = raw.get("networks") {
        match networks {
            Value::String(text) if text == "auto" || text == "none" => {
                if !api.at_least(37) {
                    return Err(invalid_input(
                        "networks",
                        networks,
                        "is not of type 'array'",
                    ));
                }
            }
            Value::Array(items) => {
                for item in items {
                    if let Some(uuid) = item.get("uuid").and_then(Value::as_str)
                        && api.at_least(37)
                        && !is_uuid(uuid)
                    {
                        return Err(invalid_input(
                            "uuid",
                            &Value::String(uuid.to_string()),
                            format!("'{uuid}' is not a 'uuid'"),
                        ));
                    }
                    if let Some(ip) = item.get("fixed_ip").and_then(Value::as_str)
                        && ip.parse::<std::net::IpAddr>().is_err()
                    {
                        return Err(invalid_input(
                            "fixed_ip",
                            &Value::String(ip.to_string()),
                            format!("'{ip}' is not a 'ip-address'"),
                        ));
                    }
                }
            }
            other => {
                return Err(invalid_input("networks", other, "is not of type 'array'"));
            }
        }
    }
    let request: model::ServerCreateRequest = serde_json::from_value(normalized(body))
        .map_err(|error| invalid_input("server", server, error))?;
    Ok(CreateRequest {
        request,
        raw: raw.clone(),
    })
}

/// The create body with the values Nova's schema also takes in another JSON type made the
/// model's type: `flavorRef` as a number, counts as digit strings, booleans as strings.
pub(super) fn normalized(body: &Value) -> Value {
    let mut body = body.clone();
    let Some(server) = body.get_mut("server").and_then(Value::as_object_mut) else {
        return body;
    };

    if let Some(Value::Number(number)) = server.get("flavorRef") {
        let text = number.to_string();
        server.insert("flavorRef".to_string(), Value::String(text));
    }
    for key in ["min_count", "max_count"] {
        if let Some(count) = server
            .get(key)
            .and_then(Value::as_str)
            .and_then(|text| text.trim().parse::<u32>().ok())
        {
            server.insert(key.to_string(), Value::from(count));
        }
    }
    for key in ["config_drive", "return_reservation_id"] {
        if let Some(flag) = server
            .get(key)
            .and_then(Value::as_str)
            .map(|text| !text.is_empty() && bool_param(text).unwrap_or(false))
        {
            server.insert(key.to_string(), Value::Bool(flag));
        }
    }
    body
}

/// Nova's metadata schema: string keys of 1-255 characters, string values up to 255.
pub(super) fn validate_metadata(
    field: &str,
    metadata: &Value,
) -> Result<BTreeMap<String, String>, Failure> {
    let Some(map) = metadata.as_object() else {
        return Err(invalid_input(field, metadata, "is not of type 'object'"));
    };

    let mut out = BTreeMap::new();
    for (key, value) in map {
        if key.is_empty() || key.chars().count() > 255 {
            return Err(invalid_input(
                field,
                metadata,
                format!("'{key}' does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{{1,255}}$'"),
            ));
        }
        let Some(text) = value.as_str() else {
            return Err(invalid_input(
                field,
                metadata,
                format!("{} is not of type 'string'", repr_item(value)),
            ));
        };
        if text.chars().count() > 255 {
            return Err(invalid_input(
                field,
                metadata,
                format!("'{text}' is too long"),
            ));
        }
        out.insert(key.clone(), text.to_string());
    }
    Ok(out)
}

pub(super) fn metadata_quota(metadata: &BTreeMap<String, String>) -> Result<(), Failure> {
    if metadata.len() > METADATA_ITEMS {
        return Err(fail(
            StatusCode::FORBIDDEN,
            format!(
                "Quota exceeded for metadata_items: Requested {}, but already used 0 of {METADATA_ITEMS} metadata_items",
                metadata.len()
            ),
        ));
    }
    Ok(())
}

pub(super) fn is_uuid(text: &str) -> bool {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// `flavorRef` as an id (`common.get_id_from_href`).
pub(super) fn id_from_href(href: &str) -> String {
    let path = href.split(['?', '#']).next().unwrap_or(href);
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
        .to_string()
}

/// The addresses of a subnet that ports hold.
pub(super) fn taken_addresses(site: &Site, subnet_id: &str) -> HashSet<String> {
    site.network
        .ports
        .values()
        .flat_map(|port| port.fixed_ips.iter())
        .filter(|fixed| fixed.subnet_id == subnet_id)
        .map(|fixed| fixed.ip_address.clone())
        .collect()
}

/// A password as Nova generates one (12 characters, no look-alikes).
pub(super) fn admin_password(ids: &mut IdGen) -> String {
    const SYMBOLS: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    (0..12)
        .map(|_| SYMBOLS[(ids.next_u64() % SYMBOLS.len() as u64) as usize] as char)
        .collect()
}

/// Nova's answer when Cinder refuses to reserve a volume (cinderclient's BadRequest text,
/// wrapped in InvalidInput and then InvalidVolume).
pub(super) fn reserve_refused(site: &mut Site, volume_id: &str, status: VolumeStatus) -> Failure {
    let request_id = format!("req-{}", site.ids.uuid());
    let status = serde_json::to_value(status)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default();
    let cinder = if status == "error" {
        format!(
            "Invalid volume: Volume attachments can not be created if the volume is in an error state. The Volume {volume_id} currently has a status of: {status} "
        )
    } else {
        format!(
            "Invalid volume: Volume {volume_id} status must be available or downloading to reserve, but the current status is {status}."
        )
    };

    bad_request(format!(
        "Invalid volume: Invalid input received: {cinder} (HTTP 400) (Request-ID: {request_id})"
    ))
}

pub(super) async fn server_create(
    State(ctx): State<SiteContext>,
    api: Api,
    body: Bytes,
) -> Response {
    let result = (|| {
        let body = parse_body(&body)?;
        api.policy(api.can_write(), "servers:create")?;
        let request = validate_create(&api, &body)?;
        let mut site = ctx.lock();
        create_server(&mut site, &api, request, &ctx.world.faults)
    })();
    match result {
        Ok(Created::Server(created)) => {
            let location = created
                .links
                .iter()
                .find(|link| link.rel == "self")
                .map(|link| link.href.clone());
            let mut response = api.reply(
                StatusCode::ACCEPTED,
                &model::ServerCreateResponse { server: created },
            );
            if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        Ok(Created::Reservation(reservation_id)) => api.reply(
            StatusCode::ACCEPTED,
            &serde_json::json!({ "reservation_id": reservation_id }),
        ),
        Err(failure) => api.error(failure),
    }
}

pub(super) enum Created {
    Server(model::CreatedServer),
    Reservation(String),
}

/// Nova's `compute_api.create` for a boot from volume, in Nova's order of checks.
pub(super) fn create_server(
    site: &mut Site,
    api: &Api,
    create: CreateRequest,
    faults: &Faults,
) -> Result<Created, Failure> {
    let CreateRequest { request, raw } = create;
    let server = request.server;
    let project_id = api.token.project_id.clone();
    let name = server.name.trim().to_string();

    // min_count / max_count: one server per request here (several from the same volumes
    // cannot all reserve them anyway).
    let min_count = server.min_count.unwrap_or(1);
    let max_count = server.max_count.unwrap_or(min_count);
    if min_count > max_count {
        return Err(bad_request("min_count must be <= max_count"));
    }

    // The zone (`zone`, `zone:host`, `zone:host:node`).
    let requested_zone = server
        .availability_zone
        .as_deref()
        .map(|zone| zone.split(':').next().unwrap_or_default().to_string())
        .filter(|zone| !zone.is_empty());

    // Block device mappings: volumes only.
    let mappings = server.block_device_mapping_v2.clone().unwrap_or_default();
    if raw.contains_key("block_device_mapping") {
        return Err(bad_request(
            "Block Device Mapping is Invalid: the twin supports block_device_mapping_v2 only.",
        ));
    }
    let image_ref = server.image_ref.clone().filter(|image| !image.is_empty());
    if image_ref.is_none() && mappings.is_empty() {
        return Err(bad_request("Missing imageRef attribute"));
    }

    // The flavor.
    let flavor_id = id_from_href(&server.flavor_ref);
    if !site.compute.flavors.contains_key(&flavor_id) {
        return Err(bad_request(format!(
            "Flavor {flavor_id} could not be found."
        )));
    }

    // The zone must exist.
    if let Some(zone) = &requested_zone
        && !site.compute.availability_zones.contains(zone)
    {
        return Err(bad_request(
            "The requested availability zone is not available",
        ));
    }
    if image_ref.is_some() {
        return Err(bad_request("Can not find requested image"));
    }

    // The key pair: one of the caller's (`KeyPair.get_by_name(context, context.user_id, ..)`).
    if let Some(key_name) = &server.key_name
        && !super::keypairs::exists(site, &api.token.user_id, key_name)
    {
        return Err(bad_request("Invalid key_name provided."));
    }

    // Scheduler hints; the server group named by `group` (`_get_requested_instance_group`).
    let hints: BTreeMap<String, Vec<String>> = request
        .scheduler_hints
        .or_else(|| {
            raw.get("os:scheduler_hints")
                .and_then(|hints| serde_json::from_value(hints.clone()).ok())
        })
        .unwrap_or_default()
        .into_iter()
        .map(|(key, hint)| {
            let values = match hint {
                model::SchedulerHint::One(value) => vec![value],
                model::SchedulerHint::Many(values) => values,
            };
            (key, values)
        })
        .collect();
    let group_id = match hints.get("group").map(Vec::as_slice) {
        None => None,
        Some([group]) if is_uuid(group) => {
            Some(super::server_groups::find(site, group)?.id.clone())
        }
        // The schema's `group`: one string in uuid format.
        Some([group]) => {
            let value = Value::String(group.clone());
            return Err(invalid_input(
                "group",
                &value,
                format!("'{group}' is not a 'uuid'"),
            ));
        }
        Some(groups) => {
            let value = Value::from(groups.to_vec());
            return Err(invalid_input(
                "group",
                &value,
                format!("{} is not of type 'string'", python_repr(&value)),
            ));
        }
    };

    // Mappings: sources, uuids, boot index.
    let mut volumes: Vec<(String, Option<i64>, bool)> = Vec::new();
    for mapping in &mappings {
        let uuid = mapping.uuid.clone().unwrap_or_default();
        match mapping.source_type {
            model::BlockDeviceSource::Volume => {}
            model::BlockDeviceSource::Image => {
                return Err(bad_request(format!(
                    "Block Device Mapping is Invalid: failed to get image {uuid}."
                )));
            }
            model::BlockDeviceSource::Snapshot => {
                return Err(bad_request(format!(
                    "Block Device Mapping is Invalid: failed to get snapshot {uuid}."
                )));
            }
            model::BlockDeviceSource::Blank => {
                return Err(bad_request(
                    "Block Device Mapping is Invalid: the twin boots from existing volumes only.",
                ));
            }
        }
        if mapping.destination_type == Some(model::BlockDeviceDestination::Local) {
            return Err(bad_request(
                "Block Device Mapping is Invalid: Mapping a volume to local is not supported.",
            ));
        }
        if uuid.is_empty() {
            return Err(bad_request(
                "Block Device Mapping is Invalid: Missing device UUID.",
            ));
        }
        let boot_index = match &mapping.boot_index {
            None => None,
            Some(index) => Some(index.value().ok_or_else(|| {
                bad_request("Block Device Mapping is Invalid: Boot index is invalid.")
            })?),
        };
        if volumes.iter().any(|(id, _, _)| *id == uuid) {
            return Err(bad_request(format!(
                "Invalid volume: volume {uuid} already attached"
            )));
        }
        volumes.push((
            uuid,
            boot_index,
            mapping.delete_on_termination.unwrap_or(false),
        ));
    }

    // The boot volume (`get_bdm_image_metadata`): it must exist and be bootable.
    if let Some((boot_volume, _, _)) = volumes.iter().find(|(_, index, _)| *index == Some(0)) {
        let volume = site
            .block
            .volumes
            .get(boot_volume)
            .filter(|volume| api.sees(&volume.project_id))
            .ok_or_else(|| {
                bad_request(format!(
                    "Block Device Mapping is Invalid: failed to get volume {boot_volume}."
                ))
            })?;
        if !volume.bootable {
            return Err(bad_request(format!(
                "Block Device {boot_volume} is not bootable."
            )));
        }
    }

    // Security groups (`_check_requested_secgroups`).
    let mut group_names: Vec<String> = Vec::new();
    for group in server.security_groups.iter().flatten() {
        if !group_names.contains(&group.name) {
            group_names.push(group.name.clone());
        }
    }
    if group_names.is_empty() {
        group_names.push("default".to_string());
    }
    let mut group_ids = Vec::new();
    for group in &group_names {
        let found = site.network.security_groups.values().find(|candidate| {
            candidate.project_id == project_id
                && (candidate.name == *group || candidate.id == *group)
        });
        match found {
            Some(found) => group_ids.push(found.id.clone()),
            None if group == "default" => {}
            None => {
                return Err(bad_request(format!(
                    "Unable to find security_group with name or id '{group}'"
                )));
            }
        }
    }

    // Networks (`validate_networks`).
    let visible_network = |site: &Site, id: &str| {
        site.network
            .networks
            .get(id)
            .filter(|network| network.shared || api.sees(&network.project_id))
            .map(|network| network.id.clone())
    };

    let mut nics: Vec<Nic> = Vec::new();
    match &server.networks {
        None | Some(model::ServerNetworks::Allocation(model::NetworkAllocation::Auto)) => {
            let mut candidates: Vec<&crate::openstack::state::Network> = site
                .network
                .networks
                .values()
                .filter(|network| network.shared || network.project_id == project_id)
                .collect();
            candidates.sort_by(|a, b| a.id.cmp(&b.id));
            match candidates.as_slice() {
                [] => {
                    return Err(bad_request(format!(
                        "Unable to automatically allocate a network for project {project_id}"
                    )));
                }
                [network] => {
                    let subnet_id = network.subnet_ids.first().cloned().ok_or_else(|| {
                        bad_request(format!(
                            "Network {} requires a subnet in order to boot instances on.",
                            network.id
                        ))
                    })?;
                    nics.push(Nic::Network {
                        network_id: network.id.clone(),
                        subnet_id,
                        fixed_ip: None,
                    });
                }
                _ => {
                    return Err(fail(
                        StatusCode::CONFLICT,
                        "Multiple possible networks found, use a Network ID to be more specific.",
                    ));
                }
            }
        }
        Some(model::ServerNetworks::Allocation(model::NetworkAllocation::None)) => {}
        Some(model::ServerNetworks::Nics(requests)) => {
            for request in requests {
                if let Some(port_id) = &request.port {
                    let port = site
                        .network
                        .ports
                        .get(port_id)
                        .filter(|port| api.sees(&port.project_id))
                        .ok_or_else(|| {
                            bad_request(format!("Port id {port_id} could not be found."))
                        })?;
                    if !port.device_id.is_empty()
                        || nics
                            .iter()
                            .any(|nic| matches!(nic, Nic::Port(p) if p == port_id))
                    {
                        return Err(fail(
                            StatusCode::CONFLICT,
                            format!("Port {port_id} is still in use."),
                        ));
                    }
                    if port.fixed_ips.is_empty() {
                        return Err(bad_request(format!(
                            "Port {port_id} requires a FixedIP in order to be used."
                        )));
                    }
                    nics.push(Nic::Port(port_id.clone()));
                    continue;
                }
                let Some(network_id) = &request.uuid else {
                    return Err(bad_request(
                        "Bad networks format: network uuid is not in proper format ()",
                    ));
                };
                if let Some(address) = &request.fixed_ip
                    && let Some(holder) = site.network.ports.values().find(|port| {
                        port.network_id == *network_id
                            && port
                                .fixed_ips
                                .iter()
                                .any(|fixed| fixed.ip_address == *address)
                    })
                {
                    return Err(bad_request(format!(
                        "Fixed IP address {address} is already in use on instance {}.",
                        holder.device_id
                    )));
                }
                let network_id = visible_network(site, network_id).ok_or_else(|| {
                    bad_request(format!("Network {network_id} could not be found."))
                })?;
                let network = &site.network.networks[&network_id];
                // The subnet the fixed IP belongs to, else the first one.
                let subnet_id = match &request.fixed_ip {
                    Some(address) => network
                        .subnet_ids
                        .iter()
                        .find(|id| {
                            site.network
                                .subnets
                                .get(*id)
                                .is_some_and(|subnet| ipam::contains(&subnet.cidr, address))
                        })
                        .or_else(|| network.subnet_ids.first()),
                    None => network.subnet_ids.first(),
                };
                let Some(subnet_id) = subnet_id.cloned() else {
                    return Err(bad_request(format!(
                        "Network {network_id} requires a subnet in order to boot instances on."
                    )));
                };
                nics.push(Nic::Network {
                    network_id,
                    subnet_id,
                    fixed_ip: request.fixed_ip.clone(),
                });
            }
        }
    }

    // Every volume must exist (`_get_volumes_for_bdms`), the boot sequence must be 0, 1, ...
    // (`_validate_bdm`), then Cinder must reserve each one.
    for (volume_id, _, _) in &volumes {
        if !site
            .block
            .volumes
            .get(volume_id)
            .is_some_and(|volume| api.sees(&volume.project_id))
        {
            return Err(bad_request(format!(
                "Block Device Mapping is Invalid: failed to get volume {volume_id}."
            )));
        }
    }
    let mut boot_indexes: Vec<i64> = volumes
        .iter()
        .filter_map(|(_, index, _)| *index)
        .filter(|index| *index >= 0)
        .collect();
    boot_indexes.sort_unstable();
    if boot_indexes.first() != Some(&0)
        || boot_indexes.windows(2).any(|pair| pair[1] != pair[0] + 1)
    {
        return Err(bad_request(
            "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.",
        ));
    }
    for (volume_id, _, _) in &volumes {
        let status = site.block.volumes[volume_id].status;
        if status != VolumeStatus::Available {
            return Err(reserve_refused(site, volume_id, status));
        }
    }
    if max_count > 1 {
        let (volume_id, _, _) = &volumes[0];
        return Err(bad_request(format!(
            "Invalid volume: Invalid input received: Invalid volume: Volume {volume_id} status must be available or downloading to reserve, but the current status is reserved. (HTTP 400) (Request-ID: req-{})",
            site.ids.uuid()
        )));
    }
    let metadata = server.metadata.clone().unwrap_or_default();
    metadata_quota(&metadata)?;
    let tags = raw
        .get("tags")
        .map(super::tags::parse)
        .transpose()?
        .unwrap_or_default();

    // Accepted: the server, its ports and its volumes. The scheduler runs before the compute
    // host allocates networks, so NoValidHost is the build's first failure.
    let server_id = site.ids.uuid();
    let now = site.clock.wall();
    let group = group_id.as_deref().and_then(|id| {
        site.compute
            .server_groups
            .iter()
            .find(|group| group.id == id)
    });
    let host = if faults.take_no_valid_host(&site.name) {
        None
    } else {
        super::scheduler::place(&site.compute, requested_zone.as_deref(), group)
    };

    let mut build_error: Option<String> = host
        .is_none()
        .then(|| super::scheduler::NO_VALID_HOST.to_string());
    let zone = host
        .as_deref()
        .and_then(|host| site.compute.hosts.iter().find(|h| h.name == host))
        .map(|host| host.zone.clone())
        .or_else(|| requested_zone.clone())
        .unwrap_or_default();
    let mut ports = Vec::new();
    let mut preexisting = Vec::new();
    let mut planned: Vec<(String, String, String)> = Vec::new(); // (network, subnet, address)
    let mut taken: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for nic in &nics {
        let Nic::Network {
            network_id,
            subnet_id,
            fixed_ip,
        } = nic
        else {
            continue;
        };
        let Some(subnet) = site.network.subnets.get(subnet_id) else {
            continue;
        };
        let used = taken
            .entry(subnet_id.clone())
            .or_insert_with(|| taken_addresses(site, subnet_id));
        match fixed_ip {
            Some(address) => {
                // Neutron refuses an address outside the subnet or one of its reserved ones;
                // Nova reschedules that failure until it runs out of hosts.
                let reserved = ipam::parse_cidr(&subnet.cidr)
                    .map(|(network, prefix)| {
                        let base = u32::from(network);
                        let broadcast = base | (u32::MAX >> prefix);
                        [base, broadcast]
                            .map(|value| std::net::Ipv4Addr::from(value).to_string())
                            .contains(address)
                    })
                    .unwrap_or(true);
                if !ipam::contains(&subnet.cidr, address)
                    || reserved
                    || subnet.gateway_ip.as_deref() == Some(address.as_str())
                    || used.contains(address)
                {
                    build_error.get_or_insert_with(|| format!(
                        "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance {server_id}."
                    ));
                    continue;
                }
                used.insert(address.clone());
                planned.push((network_id.clone(), subnet_id.clone(), address.clone()));
            }
            None => match ipam::first_free(&subnet.allocation_pools, |ip| used.contains(ip)) {
                Some(address) => {
                    used.insert(address.clone());
                    planned.push((network_id.clone(), subnet_id.clone(), address));
                }
                None => {
                    build_error.get_or_insert_with(|| format!(
                        "Build of instance {server_id} aborted: Failed to allocate the network(s) with error No fixed IP addresses available for network: {network_id}, not rescheduling."
                    ));
                }
            },
        }
    }
    let device_owner = format!("compute:{zone}");
    if build_error.is_none() {
        let mut planned = planned.into_iter();
        for nic in &nics {
            match nic {
                Nic::Port(port_id) => {
                    if let Some(port) = site.network.ports.get_mut(port_id) {
                        port.device_id = server_id.clone();
                        port.device_owner = device_owner.clone();
                    }
                    touch_port(site, port_id, now);
                    ports.push(port_id.clone());
                    preexisting.push(port_id.clone());
                }
                Nic::Network { .. } => {
                    let Some((network_id, subnet_id, address)) = planned.next() else {
                        continue;
                    };
                    let port_id = site.ids.uuid();
                    let mac_address = site.ids.mac();
                    site.network.ports.insert(
                        port_id.clone(),
                        Port {
                            id: port_id.clone(),
                            name: String::new(),
                            network_id,
                            project_id: project_id.clone(),
                            mac_address,
                            fixed_ips: vec![FixedIp {
                                subnet_id,
                                ip_address: address,
                            }],
                            device_id: server_id.clone(),
                            device_owner: device_owner.clone(),
                            security_groups: group_ids.clone(),
                            created_at: now,
                        },
                    );
                    ports.push(port_id);
                }
            }
        }
    }

    // Volumes: the boot volume is vda, the others follow in request order.
    volumes.sort_by_key(|(_, index, _)| match index {
        Some(index) if *index >= 0 => (0, *index),
        _ => (1, 0),
    });
    let mut attached = Vec::new();
    let array_host = compute_host(site);
    for (position, (volume_id, boot_index, delete_on_termination)) in volumes.iter().enumerate() {
        let device = format!("/dev/vd{}", device_letter(position));
        // Checked `available` above, so Cinder accepts.
        let _ = cinder::attach(site, volume_id, &server_id, &device, &array_host);
        attached.push(AttachedVolume {
            volume_id: volume_id.clone(),
            device,
            boot_index: boot_index
                .filter(|index| *index >= 0)
                .map(|index| index as u32),
            delete_on_termination: *delete_on_termination,
        });
    }

    let latency = site.clock.latency(Op::BootFromVolume);
    let pending = Pending {
        at: site.clock.now() + latency,
        then: if build_error.is_some() {
            ServerStatus::Error
        } else {
            ServerStatus::Active
        },
        error: build_error,
    };

    let reservation_id = format!("r-{}", &site.ids.hex(8));
    let password = server
        .admin_pass
        .clone()
        .unwrap_or_else(|| admin_password(&mut site.ids));
    // Nova adds the server to its group when it records the request, whatever the build does.
    if let Some(group_id) = &group_id
        && let Some(group) = site
            .compute
            .server_groups
            .iter_mut()
            .find(|group| group.id == *group_id)
    {
        group.members.push(server_id.clone());
    }
    site.compute.server_extras.insert(
        server_id.clone(),
        ServerExtra {
            access_ipv4: server.access_ipv4.clone().unwrap_or_default(),
            access_ipv6: server.access_ipv6.clone().unwrap_or_default(),
            auto_disk_config: server.disk_config.as_deref() == Some("AUTO"),
            config_drive: server.config_drive.unwrap_or(false),
            user_data: server.user_data.clone(),
            hostname: server.hostname.clone(),
            requested_zone: requested_zone.clone(),
            scheduler_hints: hints,
            reservation_id: reservation_id.clone(),
            launched_at: None,
            failing: None,
            preexisting_ports: preexisting,
        },
    );
    let description = if api.at_least(19) {
        server.description.clone()
    } else {
        Some(name.clone())
    };

    site.compute.servers.insert(
        server_id.clone(),
        Server {
            id: server_id.clone(),
            name,
            project_id,
            user_id: api.token.user_id.clone(),
            status: ServerStatus::Build,
            flavor_id,
            key_name: server.key_name.clone(),
            availability_zone: zone,
            host,
            metadata,
            tags,
            description,
            security_groups: group_names,
            ports,
            volumes: attached,
            fault: None,
            created: now,
            updated: now,
            pending: Some(pending),
        },
    );
    if server.return_reservation_id == Some(true) {
        return Ok(Created::Reservation(reservation_id));
    }
    Ok(Created::Server(model::CreatedServer {
        id: server_id.clone(),
        links: api.links("servers", &server_id),
        disk_config: if server.disk_config.as_deref() == Some("AUTO") {
            "AUTO".to_string()
        } else {
            "MANUAL".to_string()
        },
        admin_pass: Some(password),
        security_groups: Some(server.security_groups.clone().unwrap_or_else(|| {
            vec![model::SecurityGroupRef {
                name: "default".to_string(),
            }]
        })),
    }))
}

/// `a`, `b`, ... `z`, `aa`, ... as Linux names disks.
pub(super) fn device_letter(position: usize) -> String {
    let mut name = Vec::new();
    let mut n = position + 1;
    while n > 0 {
        n -= 1;
        name.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    name.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::openstack::state::{FixedIp, ServerStatus, VolumeStatus};
    use crate::openstack::state::{Network, Subnet};
    use axum::http::StatusCode;
    use serde_json::json;

    #[tokio::test]
    async fn create_failures_follow_nova() {
        let twin = Twin::new(100_000.0);
        let flavor = flavor_id(&twin, "m1.small");
        let web = twin.network_id("net-primary-web");
        let boot = twin.volume("boot", true);
        let nets = json!([{"uuid": web}]);

        // Unknown flavor: 400, nothing made.
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body("x", "no-such-flavor", &[&boot], nets.clone())),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body["badRequest"]["message"],
            "Flavor no-such-flavor could not be found."
        );
        assert_eq!(
            twin.ctx.lock().block.volumes[&boot].status,
            VolumeStatus::Available
        );

        // A volume in use: 400 from Cinder's refusal to reserve it.
        let in_use = {
            let site = twin.ctx.lock();
            site.compute
                .servers
                .values()
                .find(|s| s.name == "web-1")
                .unwrap()
                .volumes[0]
                .volume_id
                .clone()
        };
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body("x", &flavor, &[&in_use], nets.clone())),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let message = reply.body["badRequest"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("Invalid volume: Invalid input received: Invalid volume: Volume {in_use} status must be available or downloading to reserve, but the current status is in-use. (HTTP 400) (Request-ID: req-")),
            "{message}"
        );

        // Unknown volume, not bootable, bad boot sequence.
        let missing = "0d5d8e7c-0000-4000-8000-000000000000";
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body("x", &flavor, &[missing], nets.clone())),
            )
            .await;
        assert_eq!(
            reply.body["badRequest"]["message"],
            format!("Block Device Mapping is Invalid: failed to get volume {missing}.")
        );
        let plain = twin.volume("plain", false);
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body("x", &flavor, &[&plain], nets.clone())),
            )
            .await;
        assert_eq!(
            reply.body["badRequest"]["message"],
            format!("Block Device {plain} is not bootable.")
        );

        // A fixed IP in use: 400 naming the server that holds it.
        let web_1 = twin.server_id("web-1");
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body(
                    "x",
                    &flavor,
                    &[&boot],
                    json!([{"uuid": web, "fixed_ip": "10.10.1.11"}]),
                )),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body["badRequest"]["message"],
            format!("Fixed IP address 10.10.1.11 is already in use on instance {web_1}.")
        );
        // 2.37+: networks are required; an unknown network is a 400.
        let mut body = boot_body("x", &flavor, &[&boot], nets.clone());
        body["server"].as_object_mut().unwrap().remove("networks");
        let reply = twin.nova("POST", "/servers", "2.37", Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(
            reply.body["badRequest"]["message"]
                .as_str()
                .unwrap()
                .ends_with("'networks' is a required property")
        );
        let ghost = "7f0c3a1e-0000-4000-8000-000000000000";
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body("x", &flavor, &[&boot], json!([{"uuid": ghost}]))),
            )
            .await;
        assert_eq!(
            reply.body["badRequest"]["message"],
            format!("Network {ghost} could not be found.")
        );
        // A reader may not create.
        let reply = twin
            .call(
                "POST",
                "/compute/v2.1/servers",
                &[("x-auth-token", "reader-token")],
                Some(boot_body("x", &flavor, &[&boot], nets.clone())),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.body["forbidden"]["message"],
            "Policy doesn't allow os_compute_api:servers:create to be performed."
        );
        assert_eq!(
            twin.ctx.lock().compute.servers.len(),
            3,
            "no failed request left a server"
        );

        // A full network: accepted, then ERROR with Nova's build-abort fault; volumes freed.
        let full = {
            let mut site = twin.ctx.lock();
            let mut network: Network = site.network.networks.values().next().unwrap().clone();
            let mut subnet: Subnet = site.network.subnets.values().next().unwrap().clone();
            network.id = site.ids.uuid();
            network.name = "net-full".to_string();
            subnet.id = site.ids.uuid();
            subnet.network_id = network.id.clone();
            subnet.cidr = "10.99.0.0/29".to_string();
            subnet.gateway_ip = Some("10.99.0.1".to_string());
            subnet.allocation_pools = vec![("10.99.0.2".to_string(), "10.99.0.2".to_string())];
            network.subnet_ids = vec![subnet.id.clone()];
            let mut port = site.network.ports.values().next().unwrap().clone();
            port.id = site.ids.uuid();
            port.network_id = network.id.clone();
            port.fixed_ips = vec![FixedIp {
                subnet_id: subnet.id.clone(),
                ip_address: "10.99.0.2".to_string(),
            }];
            site.network.ports.insert(port.id.clone(), port);
            site.network.subnets.insert(subnet.id.clone(), subnet);
            let id = network.id.clone();
            site.network.networks.insert(id.clone(), network);
            id
        };
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body(
                    "full",
                    &flavor,
                    &[&boot],
                    json!([{"uuid": full}]),
                )),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        let id = reply.body["server"]["id"].as_str().unwrap().to_string();
        {
            // While it builds, its volume is attached (on a loaded machine the modelled boot
            // may already be over: then the failed build has detached it again).
            let site = twin.ctx.lock();
            if site.compute.servers[&id].status == ServerStatus::Build {
                assert_eq!(site.block.volumes[&boot].status, VolumeStatus::InUse);
            }
        }
        twin.settle(20).await;
        let show = twin
            .nova("GET", &format!("/servers/{id}"), "2.1", None)
            .await;
        assert_eq!(show.body["server"]["status"], "ERROR");
        assert_eq!(show.body["server"]["fault"]["code"], 500);
        assert_eq!(
            show.body["server"]["fault"]["message"],
            format!(
                "Build of instance {id} aborted: Failed to allocate the network(s) with error No fixed IP addresses available for network: {full}, not rescheduling."
            )
        );
        assert_eq!(show.body["server"]["hostId"], "");
        assert_eq!(show.body["server"]["addresses"], json!({}));
        assert_eq!(
            twin.ctx.lock().block.volumes[&boot].status,
            VolumeStatus::Available
        );
        // A fixed IP Neutron refuses (the gateway): rescheduled until no host is left.
        let other = twin.volume("boot-2", true);
        let reply = twin
            .nova(
                "POST",
                "/servers",
                "2.1",
                Some(boot_body(
                    "gw",
                    &flavor,
                    &[&other],
                    json!([{"uuid": web, "fixed_ip": "10.10.1.1"}]),
                )),
            )
            .await;
        let gw = reply.body["server"]["id"].as_str().unwrap().to_string();
        twin.settle(20).await;
        let show = twin
            .nova("GET", &format!("/servers/{gw}"), "2.1", None)
            .await;
        assert_eq!(
            show.body["server"]["fault"]["message"],
            format!(
                "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance {gw}."
            )
        );
        // An ERROR server can be deleted; its (already freed) volumes stay available.
        assert_eq!(
            twin.nova("DELETE", &format!("/servers/{id}"), "2.1", None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        twin.settle(20).await;
        assert_eq!(
            twin.nova("GET", &format!("/servers/{id}"), "2.1", None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            twin.ctx.lock().block.volumes[&boot].status,
            VolumeStatus::Available
        );
    }
}
