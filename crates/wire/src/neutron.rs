//! Neutron v2.0 wire types: networks, subnets, ports (and port create), security groups, and
//! the `NeutronError` body.
//!
//! Shared by protector's Neutron client (deserializes) and the simulator (serializes), so they
//! follow the API reference samples field for field (`tests/it/api_samples.rs` proves it).
//! Conventions: a core attribute is plain (`Option` when JSON null is allowed, and then always
//! serialized); an attribute an API extension adds (most of them: deployments differ) is an
//! `Option` left out when `None`, and an `Option<Option<T>>` when it can also be null (outer
//! `None`: absent; `Some(None)`: null). Unknown fields are ignored, never an error.

use crate::common::{double_option, option_bool_or_bool_string};
use serde::{Deserialize, Serialize};

/// A free-form JSON object, where the API defines the value as one (`binding:profile`).
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

// ---------------------------------------------------------------------------------------------
// Networks
// ---------------------------------------------------------------------------------------------

/// `GET /networks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworksList {
    pub networks: Vec<Network>,
    /// The `next`/`previous` links when the page was cut by `limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks_links: Option<Vec<Link>>,
}

/// `GET /networks/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkResponse {
    pub network: Network,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    /// What the spec's network mappings name.
    pub name: String,
    pub admin_state_up: bool,
    /// `ACTIVE`, `DOWN`, `BUILD`, `ERROR`.
    pub status: String,
    pub shared: bool,
    /// Ids of the network's subnets.
    pub subnets: Vec<String>,
    pub project_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone_hints: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zones: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub ipv4_address_scope: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub ipv6_address_scope: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l2_adjacency: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_security_enabled: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub qos_policy_id: Option<Option<String>>,
    #[serde(
        rename = "router:external",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub router_external: Option<bool>,
    /// The default external network for auto-allocated topologies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub vlan_transparent: Option<Option<bool>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub qinq: Option<Option<bool>>,
    /// Private VLAN. A JSON boolean (the show sample's `"false"` is a documentation slip).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "option_bool_or_bool_string"
    )]
    pub pvlan: Option<bool>,
    /// Admin only: `flat`, `vlan`, `vxlan`, `geneve`, ...
    #[serde(
        rename = "provider:network_type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_network_type: Option<String>,
    /// Admin only.
    #[serde(
        rename = "provider:physical_network",
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub provider_physical_network: Option<Option<String>>,
    /// Admin only: the VLAN id or VNI.
    #[serde(
        rename = "provider:segmentation_id",
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub provider_segmentation_id: Option<Option<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

// ---------------------------------------------------------------------------------------------
// Subnets
// ---------------------------------------------------------------------------------------------

/// `GET /subnets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubnetsList {
    pub subnets: Vec<Subnet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets_links: Option<Vec<Link>>,
}

/// `GET /subnets/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubnetResponse {
    pub subnet: Subnet,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    pub name: String,
    pub network_id: String,
    /// 4 or 6.
    pub ip_version: u8,
    pub cidr: String,
    /// Null when the subnet has no gateway.
    #[serde(default)]
    pub gateway_ip: Option<String>,
    /// Where Neutron picks addresses from: a fixed IP kept across a failover must be in the
    /// target subnet, and is safest outside its pools.
    pub allocation_pools: Vec<AllocationPool>,
    pub dns_nameservers: Vec<String>,
    pub host_routes: Vec<HostRoute>,
    pub enable_dhcp: bool,
    pub project_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// `slaac`, `dhcpv6-stateful`, `dhcpv6-stateless`, or null.
    #[serde(default)]
    pub ipv6_address_mode: Option<String>,
    #[serde(default)]
    pub ipv6_ra_mode: Option<String>,
    #[serde(default)]
    pub subnetpool_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub segment_id: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_publish_fixed_ip: Option<bool>,
    #[serde(
        rename = "router:external",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub router_external: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationPool {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRoute {
    pub destination: String,
    pub nexthop: String,
}

// ---------------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------------

/// `GET /ports`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortsList {
    pub ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports_links: Option<Vec<Link>>,
}

/// `GET /ports/{id}`, and the answer to `POST /ports`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortResponse {
    pub port: Port,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Port {
    pub id: String,
    pub name: String,
    pub network_id: String,
    pub mac_address: String,
    pub admin_state_up: bool,
    /// `ACTIVE`, `DOWN`, `BUILD`, `ERROR`.
    pub status: String,
    /// The Nova server's id for `compute:*` owners; `""` when unbound.
    pub device_id: String,
    /// `compute:<zone>`, `network:router_interface`, `network:dhcp`, ... or `""`.
    pub device_owner: String,
    /// The addresses a failed-over server is re-created with when the target subnet allows.
    pub fixed_ips: Vec<FixedIp>,
    pub project_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Ids of the port's security groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_address_pairs: Option<Vec<AllowedAddressPair>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_dhcp_opts: Option<Vec<ExtraDhcpOpt>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_assignment: Option<Vec<DnsAssignment>>,
    /// `immediate`, `deferred` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_allocation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_security_enabled: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub data_plane_status: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub qos_policy_id: Option<Option<String>>,
    /// The QoS policy the port inherits from its network.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub qos_network_policy_id: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_uplink_status: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub hardware_offload_type: Option<Option<String>>,
    /// `community`, `isolated` or `promiscuous`, on private VLAN networks.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub pvlan_type: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub pvlan_community: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub trusted: Option<Option<bool>>,
    /// Admin only: the compute host the port is bound to.
    #[serde(
        rename = "binding:host_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub binding_host_id: Option<String>,
    /// `normal`, `direct`, `macvtap`, `baremetal`, ...
    #[serde(
        rename = "binding:vnic_type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub binding_vnic_type: Option<String>,
    /// Admin only: `ovs`, `unbound`, `binding_failed`, ...
    #[serde(
        rename = "binding:vif_type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub binding_vif_type: Option<String>,
    /// Admin only: what the mechanism driver told Nova.
    #[serde(
        rename = "binding:vif_details",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub binding_vif_details: Option<JsonObject>,
    /// Admin only: what Nova told the mechanism driver.
    #[serde(
        rename = "binding:profile",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub binding_profile: Option<JsonObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: String,
}

/// An extra address the port may send from (a VIP, for instance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedAddressPair {
    pub ip_address: String,
    /// Defaults to the port's own MAC in a request; always present in a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraDhcpOpt {
    pub opt_name: String,
    pub opt_value: String,
    /// 4 or 6.
    pub ip_version: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsAssignment {
    pub hostname: String,
    pub ip_address: String,
    pub fqdn: String,
}

/// `POST /ports`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortCreateRequest {
    pub port: PortCreate,
}

/// A port to create: failover pre-creates ports to keep a server's fixed IPs on the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortCreate {
    pub network_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_state_up: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_address_pairs: Option<Vec<AllowedAddressPair>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_security_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos_policy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_uplink_status: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_offload_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvlan_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvlan_community: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted: Option<bool>,
    #[serde(
        rename = "binding:host_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub binding_host_id: Option<String>,
    #[serde(
        rename = "binding:vnic_type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub binding_vnic_type: Option<String>,
    #[serde(
        rename = "binding:profile",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub binding_profile: Option<JsonObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// An address asked for: a subnet (Neutron picks the address), an address (Neutron finds the
/// subnet), or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedIpRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Security groups
// ---------------------------------------------------------------------------------------------

/// `GET /security-groups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupsList {
    pub security_groups: Vec<SecurityGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups_links: Option<Vec<Link>>,
}

/// `GET /security-groups/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupResponse {
    pub security_group: SecurityGroup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    /// Nova's server view names security groups by this, not by id.
    pub name: String,
    pub description: String,
    pub project_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    pub security_group_rules: Vec<SecurityGroupRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stateful: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupRule {
    pub id: String,
    pub security_group_id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` or `IPv6`.
    pub ethertype: String,
    /// `tcp`, `udp`, `icmp`, a number, or null for any.
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub port_range_min: Option<u32>,
    #[serde(default)]
    pub port_range_max: Option<u32>,
    #[serde(default)]
    pub remote_ip_prefix: Option<String>,
    #[serde(default)]
    pub remote_group_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub remote_address_group_id: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub normalized_cidr: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub belongs_to_default_sg: Option<Option<bool>>,
    pub project_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// `PUT /ports/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortUpdateRequest {
    pub port: PortUpdate,
}

/// The attributes of a port that may change (each left alone when absent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PortUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_state_up: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    #[serde(
        rename = "binding:host_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub binding_host_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Discovery: versions, resources, extensions
// ---------------------------------------------------------------------------------------------

/// `GET /` (the endpoint root): the API versions, a plain list (not Keystone's `values`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionsResponse {
    pub versions: Vec<Version>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// `v2.0`.
    pub id: String,
    /// `CURRENT`.
    pub status: String,
    pub links: Vec<Link>,
}

/// `GET /v2.0/`: the collections the API serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourcesList {
    pub resources: Vec<Resource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// `network`.
    pub name: String,
    /// `networks`.
    pub collection: String,
    pub links: Vec<Link>,
}

/// `GET /v2.0/extensions`: clients probe it before using an optional feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionsList {
    pub extensions: Vec<Extension>,
}

/// `GET /v2.0/extensions/{alias}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionResponse {
    pub extension: Extension,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extension {
    pub alias: String,
    pub name: String,
    pub description: String,
    /// ISO 8601 with offset, e.g. `2013-01-20T00:00:00-00:00`.
    pub updated: String,
    #[serde(default)]
    pub links: Vec<Link>,
}

// ---------------------------------------------------------------------------------------------
// Shared shapes and errors
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub href: String,
    /// `next` or `previous`.
    pub rel: String,
}

/// Neutron's error body: `{"NeutronError": {"type": "NetworkNotFound", "message": "Network x
/// could not be found.", "detail": ""}}`. (A 401 from keystonemiddleware has Keystone's shape
/// instead, see [`crate::keystone::ErrorResponse`].)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    #[serde(rename = "NeutronError")]
    pub neutron_error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// The exception's name: `NetworkNotFound`, `IpAddressAlreadyAllocated`, `HTTPBadRequest`,
    /// `PolicyNotAuthorized`, ...
    #[serde(rename = "type")]
    pub error_type: String,
    pub message: String,
    /// Usually `""`.
    pub detail: String,
}

// ---------------------------------------------------------------------------------------------
// Wire helpers
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn round_trip<T: serde::de::DeserializeOwned + Serialize>(value: Value) -> T {
        let model: T = serde_json::from_value(value.clone()).expect("deserializes");
        assert_eq!(serde_json::to_value(&model).expect("serializes"), value);
        model
    }

    #[test]
    fn error_body() {
        let error: ErrorResponse = round_trip(json!({
            "NeutronError": {
                "type": "NetworkNotFound",
                "message": "Network 5aa119a8 could not be found.",
                "detail": ""
            }
        }));
        assert_eq!(error.neutron_error.error_type, "NetworkNotFound");
    }

    #[test]
    fn pvlan_is_a_boolean_read_leniently() {
        #[derive(Deserialize)]
        struct Pvlan {
            #[serde(default, deserialize_with = "option_bool_or_bool_string")]
            pvlan: Option<bool>,
        }
        let read = |value: Value| serde_json::from_value::<Pvlan>(value).unwrap().pvlan;
        assert_eq!(read(json!({"pvlan": false})), Some(false));
        assert_eq!(read(json!({"pvlan": "false"})), Some(false));
        assert_eq!(read(json!({"pvlan": "True"})), Some(true));
        assert_eq!(read(json!({"pvlan": null})), None);
        assert_eq!(read(json!({})), None);
        assert!(serde_json::from_value::<Pvlan>(json!({"pvlan": "maybe"})).is_err());
    }

    #[test]
    fn security_groups_list() {
        // From the API reference's security-groups-list-response.json (one rule kept).
        let list: SecurityGroupsList = round_trip(json!({
            "security_groups": [{
                "description": "default",
                "id": "85cc3048-abc3-43cc-89b3-377341426ac5",
                "name": "default",
                "security_group_rules": [{
                    "direction": "egress",
                    "ethertype": "IPv6",
                    "id": "3c0e45ff-adaf-4124-b083-bf390e5482ff",
                    "port_range_max": null,
                    "port_range_min": null,
                    "protocol": null,
                    "remote_group_id": null,
                    "remote_ip_prefix": null,
                    "security_group_id": "85cc3048-abc3-43cc-89b3-377341426ac5",
                    "project_id": "e4f50856753b4dc6afee5fa6b9b6c550",
                    "revision_number": 1,
                    "tags": ["tag1,tag2"],
                    "tenant_id": "e4f50856753b4dc6afee5fa6b9b6c550",
                    "created_at": "2018-03-19T19:16:56Z",
                    "updated_at": "2018-03-19T19:16:56Z",
                    "description": ""
                }],
                "project_id": "e4f50856753b4dc6afee5fa6b9b6c550",
                "revision_number": 8,
                "created_at": "2018-03-19T19:16:56Z",
                "updated_at": "2018-03-19T19:16:56Z",
                "tags": ["tag1,tag2"],
                "tenant_id": "e4f50856753b4dc6afee5fa6b9b6c550",
                "stateful": true,
                "shared": false
            }]
        }));
        assert_eq!(list.security_groups[0].security_group_rules.len(), 1);
    }

    #[test]
    fn fixed_ip_request_by_subnet_or_address() {
        round_trip::<FixedIpRequest>(json!({"subnet_id": "s"}));
        round_trip::<FixedIpRequest>(json!({"ip_address": "10.0.0.5"}));
        round_trip::<FixedIpRequest>(json!({"subnet_id": "s", "ip_address": "10.0.0.5"}));
    }
}
