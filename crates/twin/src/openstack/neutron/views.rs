//! How networks, subnets, ports and security groups read on the wire.

use super::request::*;
use crate::openstack::state::{self, Port, ServerStatus, Token};
use crate::world::Site;
use protector_wire::ids::IdGen;
use protector_wire::neutron as wire;
use serde_json::Map;

pub(super) fn neutron_time(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(super) fn is_admin(token: &Token) -> bool {
    token.roles.iter().any(|role| role == "admin")
}

/// Whether the token may change ports (Neutron's defaults: a member or an admin).
pub(super) fn can_write(token: &Token) -> bool {
    token.roles.iter().any(|role| role != "reader")
}

pub(super) fn network_visible(token: &Token, network: &state::Network) -> bool {
    is_admin(token) || network.shared || network.project_id == token.project_id
}

pub(super) fn subnet_visible(site: &Site, token: &Token, subnet: &state::Subnet) -> bool {
    is_admin(token)
        || subnet.project_id == token.project_id
        || site
            .network
            .networks
            .get(&subnet.network_id)
            .is_some_and(|network| network.shared)
}

pub(super) fn owned(token: &Token, project_id: &str) -> bool {
    is_admin(token) || project_id == token.project_id
}

/// When the site's networking was built: the timestamp of objects that do not keep their own.
pub(super) fn site_epoch(site: &Site) -> chrono::DateTime<chrono::Utc> {
    site.network
        .networks
        .values()
        .map(|network| network.created_at)
        .min()
        .unwrap_or_else(|| site.clock.wall())
}

pub fn network_view(site: &Site, network: &state::Network, admin: bool) -> wire::Network {
    let created = neutron_time(network.created_at);
    let segment = site
        .network
        .networks
        .keys()
        .position(|id| id == &network.id)
        .unwrap_or(0) as u32;
    wire::Network {
        id: network.id.clone(),
        name: network.name.clone(),
        admin_state_up: true,
        status: "ACTIVE".to_string(),
        shared: network.shared,
        subnets: network.subnet_ids.clone(),
        project_id: network.project_id.clone(),
        tenant_id: Some(network.project_id.clone()),
        description: Some(String::new()),
        mtu: Some(MTU),
        availability_zone_hints: Some(Vec::new()),
        availability_zones: Some(site.compute.availability_zones.clone()),
        dns_domain: Some(String::new()),
        ipv4_address_scope: Some(None),
        ipv6_address_scope: Some(None),
        l2_adjacency: Some(true),
        port_security_enabled: Some(true),
        qos_policy_id: Some(None),
        router_external: Some(false),
        is_default: Some(false),
        vlan_transparent: Some(None),
        qinq: Some(None),
        pvlan: Some(false),
        provider_network_type: admin.then(|| "geneve".to_string()),
        provider_physical_network: admin.then_some(None),
        provider_segmentation_id: admin.then_some(Some(100 + segment)),
        revision_number: Some(1),
        created_at: Some(created.clone()),
        updated_at: Some(created),
        tags: Some(Vec::new()),
    }
}

pub fn subnet_view(subnet: &state::Subnet) -> wire::Subnet {
    let created = neutron_time(subnet.created_at);
    wire::Subnet {
        id: subnet.id.clone(),
        name: subnet.name.clone(),
        network_id: subnet.network_id.clone(),
        ip_version: 4,
        cidr: subnet.cidr.clone(),
        gateway_ip: subnet.gateway_ip.clone(),
        allocation_pools: subnet
            .allocation_pools
            .iter()
            .map(|(start, end)| wire::AllocationPool {
                start: start.clone(),
                end: end.clone(),
            })
            .collect(),
        dns_nameservers: Vec::new(),
        host_routes: Vec::new(),
        enable_dhcp: true,
        project_id: subnet.project_id.clone(),
        tenant_id: Some(subnet.project_id.clone()),
        ipv6_address_mode: None,
        ipv6_ra_mode: None,
        subnetpool_id: None,
        segment_id: Some(None),
        service_types: Some(Vec::new()),
        dns_publish_fixed_ip: Some(false),
        router_external: Some(false),
        description: Some(String::new()),
        revision_number: Some(0),
        created_at: Some(created.clone()),
        updated_at: Some(created),
        tags: Some(Vec::new()),
    }
}

/// `ACTIVE` while a running server uses the port (or a network device owns it), else `DOWN`.
pub(super) fn port_status(site: &Site, port: &Port) -> &'static str {
    if port.device_id.is_empty() {
        return "DOWN";
    }
    if port.device_owner.starts_with("compute:") {
        let running = site
            .compute
            .servers
            .get(&port.device_id)
            .is_some_and(|server| server.status == ServerStatus::Active);
        return if running { "ACTIVE" } else { "DOWN" };
    }
    "ACTIVE"
}

pub fn port_view(site: &Site, port: &Port, admin: bool) -> wire::Port {
    let meta = site.network.port_meta.get(&port.id);
    let created = neutron_time(port.created_at);
    let bound = port.device_owner.starts_with("compute:") && !port.device_id.is_empty();
    wire::Port {
        id: port.id.clone(),
        name: port.name.clone(),
        network_id: port.network_id.clone(),
        mac_address: port.mac_address.clone(),
        admin_state_up: meta.is_none_or(|meta| meta.admin_state_up),
        status: port_status(site, port).to_string(),
        device_id: port.device_id.clone(),
        device_owner: port.device_owner.clone(),
        fixed_ips: port
            .fixed_ips
            .iter()
            .map(|fixed| wire::FixedIp {
                subnet_id: fixed.subnet_id.clone(),
                ip_address: fixed.ip_address.clone(),
            })
            .collect(),
        project_id: port.project_id.clone(),
        tenant_id: Some(port.project_id.clone()),
        security_groups: Some(port.security_groups.clone()),
        allowed_address_pairs: Some(Vec::new()),
        extra_dhcp_opts: Some(Vec::new()),
        dns_name: Some(String::new()),
        dns_domain: Some(String::new()),
        dns_assignment: Some(
            port.fixed_ips
                .iter()
                .map(|fixed| {
                    let hostname = format!("host-{}", fixed.ip_address.replace('.', "-"));
                    wire::DnsAssignment {
                        fqdn: format!("{hostname}.openstacklocal."),
                        hostname,
                        ip_address: fixed.ip_address.clone(),
                    }
                })
                .collect(),
        ),
        ip_allocation: Some("immediate".to_string()),
        port_security_enabled: Some(true),
        data_plane_status: Some(None),
        qos_policy_id: Some(None),
        qos_network_policy_id: Some(None),
        propagate_uplink_status: Some(false),
        hardware_offload_type: Some(None),
        pvlan_type: Some(None),
        pvlan_community: Some(None),
        trusted: Some(None),
        binding_host_id: admin.then(|| {
            if bound {
                format!("{}-compute-1", site.name)
            } else {
                String::new()
            }
        }),
        binding_vnic_type: Some("normal".to_string()),
        binding_vif_type: admin.then(|| if bound { "ovs" } else { "unbound" }.to_string()),
        binding_vif_details: admin.then(Map::new),
        binding_profile: admin.then(Map::new),
        description: Some(
            meta.map(|meta| meta.description.clone())
                .unwrap_or_default(),
        ),
        revision_number: Some(meta.map_or(1, |meta| meta.revision_number)),
        created_at: Some(created.clone()),
        updated_at: Some(meta.map_or(created, |meta| neutron_time(meta.updated_at))),
        tags: Some(Vec::new()),
    }
}

pub fn security_group_view(site: &Site, group: &state::SecurityGroup) -> wire::SecurityGroup {
    let created = neutron_time(site_epoch(site));
    let is_default = group.name == "default";
    let mut ids = IdGen::for_site(0, &format!("{}/rules/{}", site.name, group.id));
    let mut rules = Vec::new();
    let mut rule = |direction: &str, ethertype: &str, remote_group: Option<String>| {
        rules.push(wire::SecurityGroupRule {
            id: ids.uuid(),
            security_group_id: group.id.clone(),
            direction: direction.to_string(),
            ethertype: ethertype.to_string(),
            protocol: None,
            port_range_min: None,
            port_range_max: None,
            remote_ip_prefix: None,
            remote_group_id: remote_group,
            remote_address_group_id: Some(None),
            normalized_cidr: Some(None),
            belongs_to_default_sg: Some(Some(is_default)),
            project_id: group.project_id.clone(),
            tenant_id: Some(group.project_id.clone()),
            description: Some(String::new()),
            revision_number: Some(0),
            created_at: Some(created.clone()),
            updated_at: Some(created.clone()),
            tags: Some(Vec::new()),
        });
    };

    for ethertype in ["IPv4", "IPv6"] {
        rule("egress", ethertype, None);
        if is_default {
            rule("ingress", ethertype, Some(group.id.clone()));
        }
    }
    wire::SecurityGroup {
        id: group.id.clone(),
        name: group.name.clone(),
        description: group.description.clone(),
        project_id: group.project_id.clone(),
        tenant_id: Some(group.project_id.clone()),
        security_group_rules: rules,
        stateful: Some(true),
        shared: Some(false),
        revision_number: Some(1),
        created_at: Some(created.clone()),
        updated_at: Some(created),
        tags: Some(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{query::*, views::*};
    use protector_wire::neutron as wire;

    #[test]
    fn views_carry_every_attribute_of_the_samples() {
        let world = world();
        let site = world.sites["site-a"].lock(&world);
        let port = site.network.ports.values().next().unwrap();
        let view = to_value(&port_view(&site, port, false));
        for key in [
            "admin_state_up",
            "allowed_address_pairs",
            "created_at",
            "data_plane_status",
            "description",
            "device_id",
            "device_owner",
            "dns_assignment",
            "dns_domain",
            "dns_name",
            "extra_dhcp_opts",
            "fixed_ips",
            "id",
            "ip_allocation",
            "mac_address",
            "name",
            "network_id",
            "port_security_enabled",
            "project_id",
            "revision_number",
            "security_groups",
            "status",
            "tags",
            "tenant_id",
            "updated_at",
            "qos_network_policy_id",
            "qos_policy_id",
            "propagate_uplink_status",
            "hardware_offload_type",
            "pvlan_type",
            "pvlan_community",
            "trusted",
        ] {
            assert!(view.get(key).is_some(), "port {key}");
        }
        assert!(view.get("binding:host_id").is_none(), "admin only");
        let network = site.network.networks.values().next().unwrap();
        let view = to_value(&network_view(&site, network, false));
        for key in [
            "admin_state_up",
            "availability_zone_hints",
            "availability_zones",
            "created_at",
            "dns_domain",
            "id",
            "ipv4_address_scope",
            "ipv6_address_scope",
            "l2_adjacency",
            "mtu",
            "name",
            "port_security_enabled",
            "project_id",
            "qos_policy_id",
            "revision_number",
            "router:external",
            "shared",
            "status",
            "subnets",
            "tags",
            "tenant_id",
            "updated_at",
            "vlan_transparent",
            "qinq",
            "description",
            "is_default",
            "pvlan",
        ] {
            assert!(view.get(key).is_some(), "network {key}");
        }
        let subnet = site.network.subnets.values().next().unwrap();
        let view = to_value(&subnet_view(subnet));
        for key in [
            "name",
            "enable_dhcp",
            "network_id",
            "segment_id",
            "project_id",
            "tenant_id",
            "dns_nameservers",
            "dns_publish_fixed_ip",
            "allocation_pools",
            "host_routes",
            "ip_version",
            "gateway_ip",
            "cidr",
            "id",
            "created_at",
            "description",
            "ipv6_address_mode",
            "ipv6_ra_mode",
            "revision_number",
            "service_types",
            "subnetpool_id",
            "tags",
            "updated_at",
            "router:external",
        ] {
            assert!(view.get(key).is_some(), "subnet {key}");
        }
        // Views read back into the wire models.
        let _: wire::Port =
            serde_json::from_value(to_value(&port_view(&site, port, true))).unwrap();
        let group = site
            .network
            .security_groups
            .values()
            .find(|group| group.name == "default")
            .unwrap();
        let view = security_group_view(&site, group);
        assert_eq!(view.security_group_rules.len(), 4, "default group");
        assert_eq!(security_group_view(&site, group), view, "stable rule ids");
    }
}
