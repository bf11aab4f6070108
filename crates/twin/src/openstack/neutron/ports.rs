//! Ports: list, show, create (fixed IPs from the subnet's pools), update, delete.

use super::{networks::*, query::*, request::*, views::*};
use crate::openstack::auth;
use crate::openstack::ipam;
use crate::openstack::state::{FixedIp, Port, PortMeta, Token};
use crate::world::Site;
use crate::world::SiteContext;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use protector_wire::neutron as wire;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

pub(super) async fn list_ports(
    State(ctx): State<SiteContext>,
    uri: OriginalUri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let site = ctx.lock();
    answer((|| {
        let token = auth::token(&site, &headers)?;
        let query = parse_query(raw.as_deref())?;
        let admin = is_admin(&token);
        let keep = |values: Option<&[String]>, actual: &String| {
            values.is_none_or(|values| values.contains(actual))
        };
        // The attributes most lists filter on, checked before building each port's view.
        let candidates: Vec<&Port> = site
            .network
            .ports
            .values()
            .filter(|port| owned(&token, &port.project_id))
            .filter(|port| keep(query.filter("id"), &port.id))
            .filter(|port| keep(query.filter("device_id"), &port.device_id))
            .filter(|port| keep(query.filter("network_id"), &port.network_id))
            .filter(|port| keep(query.filter("name"), &port.name))
            .collect();
        let items = id_window(
            candidates,
            &query,
            &["id", "device_id", "network_id", "name"],
        )
        .into_iter()
        .map(|port| to_value(&port_view(&site, port, admin)))
        .collect();
        let marker = marker(&query, |id| {
            site.network
                .ports
                .get(id)
                .filter(|port| owned(&token, &port.project_id))
                .map(|port| to_value(&port_view(&site, port, admin)))
                .ok_or_else(|| NeutronError::port_not_found(id))
        })?;
        let body = list_body("ports", items, marker, &query, &request_url(&site, &uri))?;
        Ok((StatusCode::OK, body))
    })())
}

/// Cuts the page out of `candidates` (in id order, already filtered on `applied`) before their
/// views are built, when nothing else filters or sorts them: a page of a large list then costs
/// its own size, not the list's. [`list_body`] paginates the window to the same page.
pub(super) fn id_window<'a, T: HasId>(
    candidates: Vec<&'a T>,
    query: &ListQuery,
    applied: &[&str],
) -> Vec<&'a T> {
    let Some(limit) = query.limit else {
        return candidates;
    };

    if !query.sorts.is_empty()
        || query
            .filters
            .iter()
            .any(|(key, _)| !applied.contains(&key.as_str()))
    {
        return candidates;
    }
    let marker = query.marker.as_deref();
    if query.page_reverse {
        let before: Vec<&T> = candidates
            .into_iter()
            .filter(|item| marker.is_none_or(|marker| item.id() < marker))
            .collect();
        let skip = before.len().saturating_sub(limit);
        before.into_iter().skip(skip).collect()
    } else {
        candidates
            .into_iter()
            .filter(|item| marker.is_none_or(|marker| item.id() > marker))
            .take(limit)
            .collect()
    }
}

pub(super) trait HasId {
    fn id(&self) -> &str;
}

impl HasId for Port {
    fn id(&self) -> &str {
        &self.id
    }
}

pub(super) async fn show_port(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let site = ctx.lock();
    answer((|| {
        let token = auth::token(&site, &headers)?;
        let query = parse_query(raw.as_deref())?;
        let port = site
            .network
            .ports
            .get(&id)
            .filter(|port| owned(&token, &port.project_id))
            .ok_or_else(|| NeutronError::port_not_found(&id))?;
        let view = to_value(&port_view(&site, port, is_admin(&token)));
        Ok((StatusCode::OK, show_body("port", view, &query)))
    })())
}

/// What a new port is made of: from `POST /ports`, or from Nova booting a server on a network.
#[derive(Debug, Clone, Default)]
pub struct PortSpec {
    pub network_id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    /// None: one address from the network's subnets; an empty list: no address.
    pub fixed_ips: Option<Vec<wire::FixedIpRequest>>,
    pub mac_address: Option<String>,
    /// Security group ids; None: the project's `default` group (none for `network:*` owners).
    pub security_groups: Option<Vec<String>>,
    pub device_id: String,
    pub device_owner: String,
    pub admin_state_up: bool,
}

/// Neutron's `check_subnet_ip`: inside the CIDR, and neither its network nor broadcast address.
pub(super) fn valid_for_subnet(cidr: &str, address: &str) -> bool {
    let (Some((network, prefix)), Ok(ip)) = (ipam::parse_cidr(cidr), address.parse::<Ipv4Addr>())
    else {
        return false;
    };

    let broadcast = u32::from(network) | (u32::MAX >> prefix);
    ipam::contains(cidr, address) && ip != network && u32::from(ip) != broadcast
}

pub(super) fn valid_mac(mac: &str) -> bool {
    let parts: Vec<&str> = mac.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|part| part.len() == 2 && part.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Creates a port on `spec.network_id`, allocating its addresses; returns it. The caller checks
/// that the network is visible to whoever asks.
pub fn create_port(site: &mut Site, spec: PortSpec) -> Result<Port, NeutronError> {
    let network = site
        .network
        .networks
        .get(&spec.network_id)
        .ok_or_else(|| NeutronError::network_not_found(&spec.network_id))?;
    let network_id = network.id.clone();
    let subnet_ids = network.subnet_ids.clone();

    // Addresses in use, per subnet.
    let mut taken: HashMap<String, HashSet<String>> = subnet_ids
        .iter()
        .map(|id| (id.clone(), HashSet::new()))
        .collect();
    for port in site.network.ports.values() {
        for fixed in &port.fixed_ips {
            if let Some(set) = taken.get_mut(&fixed.subnet_id) {
                set.insert(fixed.ip_address.clone());
            }
        }
    }

    let generation_failure = || {
        NeutronError::new(
            StatusCode::CONFLICT,
            "IpAddressGenerationFailure",
            format!("No more IP addresses available on network {network_id}."),
        )
    };

    let requests = match spec.fixed_ips {
        Some(requests) => requests,
        None if subnet_ids.is_empty() => Vec::new(),
        None => vec![wire::FixedIpRequest {
            subnet_id: None,
            ip_address: None,
        }],
    };

    let automatic =
        requests.len() == 1 && requests[0].subnet_id.is_none() && requests[0].ip_address.is_none();
    if !requests.is_empty() && subnet_ids.is_empty() {
        return Err(NeutronError::invalid_input(
            "IP allocation requires subnets for network",
        ));
    }
    let mut fixed_ips: Vec<FixedIp> = Vec::new();
    for request in &requests {
        if let Some(ip) = &request.ip_address
            && ip.parse::<Ipv4Addr>().is_err()
        {
            return Err(NeutronError::bad_request(format!(
                "Invalid input for fixed_ips. Reason: '{ip}' is not a valid IP address."
            )));
        }
        let subnet_id = match (&request.subnet_id, &request.ip_address) {
            (Some(subnet_id), ip) => {
                let subnet = site
                    .network
                    .subnets
                    .get(subnet_id)
                    .ok_or_else(|| NeutronError::subnet_not_found(subnet_id))?;
                if subnet.network_id != network_id {
                    return Err(NeutronError::invalid_input(&format!(
                        "Failed to create port on network {network_id}, because fixed_ips \
                         included invalid subnet {subnet_id}"
                    )));
                }
                if let Some(ip) = ip
                    && !valid_for_subnet(&subnet.cidr, ip)
                {
                    return Err(NeutronError::new(
                        StatusCode::BAD_REQUEST,
                        "InvalidIpForSubnet",
                        format!("IP address {ip} is not a valid IP for the specified subnet."),
                    ));
                }
                subnet_id.clone()
            }
            (None, Some(ip)) => subnet_ids
                .iter()
                .filter_map(|id| site.network.subnets.get(id))
                .find(|subnet| valid_for_subnet(&subnet.cidr, ip))
                .map(|subnet| subnet.id.clone())
                .ok_or_else(|| {
                    NeutronError::new(
                        StatusCode::BAD_REQUEST,
                        "InvalidIpForNetwork",
                        format!(
                            "IP address {ip} is not a valid IP for any of the subnets on the \
                             specified network."
                        ),
                    )
                })?,
            (None, None) if automatic => String::new(),
            (None, None) => {
                return Err(NeutronError::invalid_input(
                    "IP allocation requires subnet_id or ip_address",
                ));
            }
        };
        let allocated = match &request.ip_address {
            Some(ip) => {
                if taken.get(&subnet_id).is_some_and(|set| set.contains(ip)) {
                    return Err(NeutronError::new(
                        StatusCode::CONFLICT,
                        "IpAddressAlreadyAllocated",
                        format!("IP address {ip} already allocated in subnet {subnet_id}"),
                    ));
                }
                FixedIp {
                    subnet_id,
                    ip_address: ip.clone(),
                }
            }
            None => {
                let candidates: Vec<String> = if subnet_id.is_empty() {
                    subnet_ids.clone()
                } else {
                    vec![subnet_id]
                };
                candidates
                    .iter()
                    .find_map(|id| {
                        let subnet = site.network.subnets.get(id)?;
                        let used = taken.get(id)?;
                        ipam::first_free(&subnet.allocation_pools, |ip| used.contains(ip)).map(
                            |ip| FixedIp {
                                subnet_id: id.clone(),
                                ip_address: ip,
                            },
                        )
                    })
                    .ok_or_else(generation_failure)?
            }
        };
        taken
            .entry(allocated.subnet_id.clone())
            .or_default()
            .insert(allocated.ip_address.clone());
        fixed_ips.push(allocated);
    }

    let on_network = |mac: &str| {
        site.network
            .ports
            .values()
            .any(|port| port.network_id == network_id && port.mac_address == mac)
    };

    let mac_address = match spec.mac_address {
        Some(mac) => {
            if !valid_mac(&mac) {
                return Err(NeutronError::bad_request(format!(
                    "Invalid input for mac_address. Reason: '{mac}' is not a valid MAC address."
                )));
            }
            let mac = mac.to_ascii_lowercase();
            if on_network(&mac) {
                return Err(NeutronError::new(
                    StatusCode::CONFLICT,
                    "MacAddressInUse",
                    format!(
                        "Unable to complete operation for network {network_id}. The mac address \
                         {mac} is in use."
                    ),
                ));
            }
            mac
        }
        None => {
            let mut mac = site.ids.mac();
            while on_network(&mac) {
                mac = site.ids.mac();
            }
            mac
        }
    };

    let security_groups = match spec.security_groups {
        Some(ids) => {
            for id in &ids {
                if !site.network.security_groups.contains_key(id) {
                    return Err(NeutronError::security_group_not_found(id));
                }
            }
            ids
        }
        None if spec.device_owner.starts_with("network:") => Vec::new(),
        None => site
            .network
            .security_groups
            .values()
            .filter(|group| group.project_id == spec.project_id && group.name == "default")
            .map(|group| group.id.clone())
            .collect(),
    };

    let now = site.clock.wall();
    let port = Port {
        id: site.ids.uuid(),
        name: spec.name,
        network_id,
        project_id: spec.project_id,
        mac_address,
        fixed_ips,
        device_id: spec.device_id,
        device_owner: spec.device_owner,
        security_groups,
        created_at: now,
    };

    site.network.port_meta.insert(
        port.id.clone(),
        PortMeta {
            description: spec.description,
            admin_state_up: spec.admin_state_up,
            revision_number: 1,
            updated_at: now,
        },
    );
    site.network.ports.insert(port.id.clone(), port.clone());
    Ok(port)
}

/// Neutron's composed policy rule for a port create: the attribute rules the request touches,
/// and-ed onto `rule:create_port` one by one.
pub(super) fn create_rule(request: &wire::PortCreate) -> String {
    let mut rule = "rule:create_port".to_string();
    let mut and = |attribute: String| rule = format!("({rule} and {attribute})");
    if request.mac_address.is_some() {
        and("rule:create_port:mac_address".to_string());
    }
    if let Some(fixed_ips) = &request.fixed_ips {
        let mut parts = Vec::new();
        if fixed_ips.iter().any(|fixed| fixed.subnet_id.is_some()) {
            parts.push("rule:create_port:fixed_ips:subnet_id");
        }
        if fixed_ips.iter().any(|fixed| fixed.ip_address.is_some()) {
            parts.push("rule:create_port:fixed_ips:ip_address");
        }
        if parts.is_empty() {
            and("rule:create_port:fixed_ips".to_string());
        } else {
            and(format!(
                "(rule:create_port:fixed_ips and ({}))",
                parts.join(" and ")
            ));
        }
    }
    if request
        .device_owner
        .as_deref()
        .is_some_and(|owner| !owner.is_empty())
    {
        and("rule:create_port:device_owner".to_string());
    }
    if request.port_security_enabled.is_some() {
        and("rule:create_port:port_security_enabled".to_string());
    }
    if request.binding_host_id.is_some() {
        and("rule:create_port:binding:host_id".to_string());
    }
    if request.binding_profile.is_some() {
        and("rule:create_port:binding:profile".to_string());
    }
    if request.binding_vnic_type.is_some() {
        and("rule:create_port:binding:vnic_type".to_string());
    }
    rule
}

/// The `{"port": {...}}` body of a create or update, parsed, or Neutron's 400.
pub(super) fn port_body<T: serde::de::DeserializeOwned>(
    body: &Bytes,
    required: &[&str],
) -> Result<T, NeutronError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        NeutronError::bad_request(
            "The server could not comply with the request since it is either malformed or \
             otherwise incorrect.",
        )
    })?;
    let Some(port) = value.get("port").filter(|port| port.is_object()) else {
        return Err(NeutronError::bad_request(
            "Unable to find 'port' in request body",
        ));
    };

    if let Some(missing) = required.iter().find(|name| port.get(**name).is_none()) {
        return Err(NeutronError::bad_request(format!(
            "Failed to parse request. Required attribute '{missing}' not specified"
        )));
    }
    serde_json::from_value(value).map_err(|error| NeutronError::invalid_input(&error.to_string()))
}

pub(super) fn port_response(site: &Site, port: &Port, token: &Token) -> Value {
    to_value(&wire::PortResponse {
        port: port_view(site, port, is_admin(token)),
    })
}

/// `POST /v2.0/ports`: 201 with the port.
pub(super) async fn create_port_handler(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut site = ctx.lock();
    answer((|| {
        let token = auth::token(&site, &headers)?;
        let request: wire::PortCreateRequest = port_body(&body, &["network_id"])?;
        let request = request.port;
        let network = site
            .network
            .networks
            .get(&request.network_id)
            .filter(|network| network_visible(&token, network))
            .ok_or_else(|| NeutronError::network_not_found(&request.network_id))?;
        let own_network = is_admin(&token) || network.project_id == token.project_id;
        if !can_write(&token) || (!own_network && request.fixed_ips.is_some()) {
            return Err(NeutronError::policy(&create_rule(&request)).into());
        }
        let security_groups = match (&request.security_groups, request.port_security_enabled) {
            (None, Some(false)) => Some(Vec::new()),
            (groups, _) => groups.clone(),
        };
        if let Some(groups) = &security_groups {
            for id in groups {
                let visible = site
                    .network
                    .security_groups
                    .get(id)
                    .is_some_and(|group| owned(&token, &group.project_id));
                if !visible {
                    return Err(NeutronError::security_group_not_found(id).into());
                }
            }
        }
        let spec = PortSpec {
            network_id: request.network_id.clone(),
            project_id: token.project_id.clone(),
            name: request.name.clone().unwrap_or_default(),
            description: request.description.clone().unwrap_or_default(),
            fixed_ips: request.fixed_ips.clone(),
            mac_address: request.mac_address.clone(),
            security_groups,
            device_id: request.device_id.clone().unwrap_or_default(),
            device_owner: request.device_owner.clone().unwrap_or_default(),
            admin_state_up: request.admin_state_up.unwrap_or(true),
        };
        let port = create_port(&mut site, spec)?;
        Ok((StatusCode::CREATED, port_response(&site, &port, &token)))
    })())
}

/// `PUT /v2.0/ports/{id}`: name, description, admin state, device and security groups.
pub(super) async fn update_port(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut site = ctx.lock();
    answer((|| {
        let token = auth::token(&site, &headers)?;
        let request: wire::PortUpdateRequest = port_body(&body, &[])?;
        let update = request.port;
        let port = site
            .network
            .ports
            .get(&id)
            .filter(|port| owned(&token, &port.project_id))
            .ok_or_else(|| NeutronError::port_not_found(&id))?
            .clone();
        if !can_write(&token) {
            let rule = if update.device_owner.is_some() {
                "(rule:update_port and rule:update_port:device_owner)"
            } else {
                "rule:update_port"
            };
            return Err(NeutronError::policy(rule).into());
        }
        if let Some(groups) = &update.security_groups {
            for group in groups {
                let visible = site
                    .network
                    .security_groups
                    .get(group)
                    .is_some_and(|found| owned(&token, &found.project_id));
                if !visible {
                    return Err(NeutronError::security_group_not_found(group).into());
                }
            }
        }
        let now = site.clock.wall();
        let mut meta = site
            .network
            .port_meta
            .get(&id)
            .cloned()
            .unwrap_or(PortMeta {
                description: String::new(),
                admin_state_up: true,
                revision_number: 1,
                updated_at: port.created_at,
            });
        let mut port = port;
        if let Some(name) = update.name {
            port.name = name;
        }
        if let Some(device_id) = update.device_id {
            port.device_id = device_id;
        }
        if let Some(device_owner) = update.device_owner {
            port.device_owner = device_owner;
        }
        if let Some(groups) = update.security_groups {
            port.security_groups = groups;
        }
        if let Some(description) = update.description {
            meta.description = description;
        }
        if let Some(up) = update.admin_state_up {
            meta.admin_state_up = up;
        }
        meta.revision_number += 1;
        meta.updated_at = now;
        site.network.port_meta.insert(id.clone(), meta);
        site.network.ports.insert(id.clone(), port.clone());
        Ok((StatusCode::OK, port_response(&site, &port, &token)))
    })())
}

/// `DELETE /v2.0/ports/{id}`: 204; its addresses are free again at once.
pub(super) async fn delete_port(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut site = ctx.lock();
    answer((|| {
        let token = auth::token(&site, &headers)?;
        site.network
            .ports
            .get(&id)
            .filter(|port| owned(&token, &port.project_id))
            .ok_or_else(|| NeutronError::port_not_found(&id))?;
        if !can_write(&token) {
            return Err(NeutronError::policy("rule:delete_port").into());
        }
        site.network.ports.remove(&id);
        site.network.port_meta.remove(&id);
        Ok((StatusCode::NO_CONTENT, Value::Null))
    })())
}

#[cfg(test)]
mod tests {
    use super::super::ports::*;
    use super::super::testing::*;
    use axum::http::StatusCode;
    use serde_json::json;

    #[test]
    fn allocation_takes_the_lowest_free_address_and_refuses_taken_or_foreign_ones() {
        let world = world();
        let mut site = world.sites["site-a"].lock(&world);
        // web-1 and web-2 hold .11 and .12; the pool starts at .2.
        let port = {
            let request = spec(&site, "net-primary-web", None);
            create_port(&mut site, request)
        }
        .unwrap();
        assert_eq!(port.fixed_ips[0].ip_address, "10.10.1.2");
        let port = {
            let request = spec(&site, "net-primary-web", None);
            create_port(&mut site, request)
        }
        .unwrap();
        assert_eq!(port.fixed_ips[0].ip_address, "10.10.1.3");
        assert_eq!(port.security_groups.len(), 1, "the project's default group");

        let taken = spec(
            &site,
            "net-primary-web",
            Some(json!([{"ip_address": "10.10.1.11"}])),
        );
        let error = create_port(&mut site, taken).unwrap_err();
        assert_eq!(error.status, StatusCode::CONFLICT);
        assert_eq!(error.kind, "IpAddressAlreadyAllocated");
        let subnet = &site.network.networks[&network_id(&site, "net-primary-web")].subnet_ids[0];
        assert_eq!(
            error.message,
            format!("IP address 10.10.1.11 already allocated in subnet {subnet}")
        );

        let subnet = subnet.clone();
        let outside = spec(
            &site,
            "net-primary-web",
            Some(json!([{"subnet_id": subnet, "ip_address": "10.10.2.5"}])),
        );
        let error = create_port(&mut site, outside).unwrap_err();
        assert_eq!(
            (error.status, error.kind.as_str()),
            (StatusCode::BAD_REQUEST, "InvalidIpForSubnet")
        );
        let broadcast = spec(
            &site,
            "net-primary-web",
            Some(json!([{"subnet_id": subnet, "ip_address": "10.10.1.255"}])),
        );
        assert_eq!(
            create_port(&mut site, broadcast).unwrap_err().kind,
            "InvalidIpForSubnet"
        );
        let elsewhere = spec(
            &site,
            "net-primary-web",
            Some(json!([{"ip_address": "192.168.9.9"}])),
        );
        assert_eq!(
            create_port(&mut site, elsewhere).unwrap_err().kind,
            "InvalidIpForNetwork"
        );
        let outside_pool = spec(
            &site,
            "net-primary-web",
            Some(json!([{"ip_address": "10.10.1.1"}])),
        );
        assert_eq!(
            create_port(&mut site, outside_pool).unwrap().fixed_ips[0].ip_address,
            "10.10.1.1",
            "an address outside the pools but in the subnet is allowed"
        );
    }

    #[test]
    fn an_exhausted_pool_is_a_generation_failure() {
        let world = world();
        let mut site = world.sites["site-b"].lock(&world);
        let id = network_id(&site, "net-drill-web");
        let subnet_id = site.network.networks[&id].subnet_ids[0].clone();
        site.network
            .subnets
            .get_mut(&subnet_id)
            .unwrap()
            .allocation_pools = vec![("192.168.101.2".to_string(), "192.168.101.3".to_string())];
        for expected in ["192.168.101.2", "192.168.101.3"] {
            let port = {
                let request = spec(&site, "net-drill-web", None);
                create_port(&mut site, request)
            }
            .unwrap();
            assert_eq!(port.fixed_ips[0].ip_address, expected);
        }
        let error = {
            let request = spec(&site, "net-drill-web", None);
            create_port(&mut site, request)
        }
        .unwrap_err();
        assert_eq!(error.status, StatusCode::CONFLICT);
        assert_eq!(error.kind, "IpAddressGenerationFailure");
        assert_eq!(
            error.message,
            format!("No more IP addresses available on network {id}.")
        );
    }
}
