//! Neutron v2.0 of one simulated site, at `/network` as the twin's catalog names it (openstacksdk
//! appends `v2.0` to the catalog URL itself, without discovery): the version document,
//! `/v2.0/` resources and extensions; networks, subnets and security groups (list, show);
//! ports (list, show, create, update, delete).
//!
//! Lists filter as Neutron does (an attribute given once or repeated: any of the values;
//! `fixed_ips=ip_address=...`/`subnet_id=...`/`ip_address_substr=...` for ports; empty values
//! ignored; `fields` restricts the attributes shown), sort by `sort_key`/`sort_dir` and then id,
//! and paginate with `limit`, `marker` and `page_reverse`, answering `<collection>_links` with
//! `next`/`previous` exactly as Neutron's `get_pagination_links` builds them.
//!
//! Addresses come from the subnet's allocation pools, lowest free first (deterministic, where
//! real Neutron picks at random among the first free ones); a requested address must lie in the
//! subnet (400 `InvalidIpForSubnet`) and be free (409 `IpAddressAlreadyAllocated`), and an
//! exhausted pool is 409 `IpAddressGenerationFailure`, with Neutron's messages. [`create_port`]
//! is public so that Nova can allocate a server's ports the same way.
//!
//! Visibility follows Neutron's defaults: an admin token sees everything, others their project's
//! resources and shared networks (with their subnets); anything else is a 404. Writing ports needs
//! a role other than `reader` (403 `PolicyNotAuthorized`).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value};

use super::auth;
use super::ipam;
use super::state::{self, FixedIp, Port, PortMeta, ServerStatus, Token};
use crate::server::SiteContext;
use crate::world::Site;
use protector_wire::ids::IdGen;
use protector_wire::neutron as wire;

/// The MTU of the twin's (Geneve) tenant networks, as DevStack with OVN sets it.
const MTU: u32 = 1442;

pub fn routes() -> Router<SiteContext> {
    Router::new()
        .route("/", get(versions))
        .route("/v2.0", get(resources))
        .route("/v2.0/", get(resources))
        .route("/v2.0/extensions", get(extensions))
        .route("/v2.0/extensions/{alias}", get(extension))
        .route("/v2.0/networks", get(list_networks))
        .route("/v2.0/networks/{id}", get(show_network))
        .route("/v2.0/subnets", get(list_subnets))
        .route("/v2.0/subnets/{id}", get(show_subnet))
        .route("/v2.0/ports", get(list_ports).post(create_port_handler))
        .route(
            "/v2.0/ports/{id}",
            get(show_port).put(update_port).delete(delete_port),
        )
        .route("/v2.0/security-groups", get(list_security_groups))
        .route("/v2.0/security-groups/{id}", get(show_security_group))
        .fallback(not_found)
}

// ---------------------------------------------------------------- errors

/// A Neutron error: status, exception type and message, answered as `NeutronError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeutronError {
    pub status: StatusCode,
    /// Neutron's exception class name: `IpAddressAlreadyAllocated`, `NetworkNotFound`, ...
    pub kind: String,
    pub message: String,
}

impl NeutronError {
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        NeutronError {
            status,
            kind: kind.to_string(),
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        NeutronError::new(StatusCode::BAD_REQUEST, "HTTPBadRequest", message)
    }

    fn invalid_input(message: &str) -> Self {
        NeutronError::new(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            format!("Invalid input for operation: {message}."),
        )
    }

    pub fn network_not_found(id: &str) -> Self {
        NeutronError::new(
            StatusCode::NOT_FOUND,
            "NetworkNotFound",
            format!("Network {id} could not be found."),
        )
    }

    pub fn subnet_not_found(id: &str) -> Self {
        NeutronError::new(
            StatusCode::NOT_FOUND,
            "SubnetNotFound",
            format!("Subnet {id} could not be found."),
        )
    }

    pub fn port_not_found(id: &str) -> Self {
        NeutronError::new(
            StatusCode::NOT_FOUND,
            "PortNotFound",
            format!("Port {id} could not be found."),
        )
    }

    pub fn security_group_not_found(id: &str) -> Self {
        NeutronError::new(
            StatusCode::NOT_FOUND,
            "SecurityGroupNotFound",
            format!("Security group {id} does not exist"),
        )
    }

    fn policy(rule: &str) -> Self {
        NeutronError::new(
            StatusCode::FORBIDDEN,
            "PolicyNotAuthorized",
            format!("{rule} is disallowed by policy"),
        )
    }
}

impl IntoResponse for NeutronError {
    fn into_response(self) -> Response {
        let body = wire::ErrorResponse {
            neutron_error: wire::ErrorDetail {
                error_type: self.kind,
                message: self.message,
                detail: String::new(),
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// Either error a handler meets: no valid token (Keystone's 401) or Neutron's own.
enum Failure {
    Unauthorized(auth::Unauthorized),
    Neutron(NeutronError),
}

impl From<auth::Unauthorized> for Failure {
    fn from(error: auth::Unauthorized) -> Self {
        Failure::Unauthorized(error)
    }
}

impl From<NeutronError> for Failure {
    fn from(error: NeutronError) -> Self {
        Failure::Neutron(error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Unauthorized(error) => error.into_response(),
            Failure::Neutron(error) => error.into_response(),
        }
    }
}

fn answer(result: Result<(StatusCode, Value), Failure>) -> Response {
    match result {
        Ok((StatusCode::NO_CONTENT, _)) => StatusCode::NO_CONTENT.into_response(),
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(failure) => failure.into_response(),
    }
}

async fn not_found() -> Response {
    NeutronError::new(
        StatusCode::NOT_FOUND,
        "HTTPNotFound",
        "The resource could not be found.",
    )
    .into_response()
}

// ---------------------------------------------------------------- discovery

fn network_url(site: &Site) -> String {
    format!("{}/network", site.endpoints.openstack)
}

fn link(href: String, rel: &str) -> wire::Link {
    wire::Link {
        href,
        rel: rel.to_string(),
    }
}

/// `GET /network`: the one API version.
pub async fn versions(State(ctx): State<SiteContext>) -> Response {
    let base = network_url(&ctx.lock());
    Json(wire::VersionsResponse {
        versions: vec![wire::Version {
            id: "v2.0".to_string(),
            status: "CURRENT".to_string(),
            links: vec![link(format!("{base}/v2.0/"), "self")],
        }],
    })
    .into_response()
}

const RESOURCES: &[(&str, &str)] = &[
    ("network", "networks"),
    ("subnet", "subnets"),
    ("port", "ports"),
    ("security_group", "security-groups"),
];

/// `GET /network/v2.0/`: the collections served.
async fn resources(State(ctx): State<SiteContext>) -> Response {
    let base = network_url(&ctx.lock());
    Json(wire::ResourcesList {
        resources: RESOURCES
            .iter()
            .map(|(name, collection)| wire::Resource {
                name: name.to_string(),
                collection: collection.replace('-', "_"),
                links: vec![link(format!("{base}/v2.0/{collection}"), "self")],
            })
            .collect(),
    })
    .into_response()
}

/// The API extensions whose attributes the twin's resources carry.
const EXTENSIONS: &[(&str, &str, &str)] = &[
    ("agent", "agent", "The agent management extension."),
    (
        "allowed-address-pairs",
        "Allowed Address Pairs",
        "Provides allowed address pairs",
    ),
    (
        "availability_zone",
        "Availability Zone",
        "The availability zone extension.",
    ),
    (
        "binding",
        "Port Binding",
        "Expose port bindings of a virtual port to external application",
    ),
    (
        "dns-integration",
        "DNS Integration",
        "Provides integration with DNS.",
    ),
    (
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    (
        "extra_dhcp_opt",
        "Neutron Extra DHCP options",
        "Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)",
    ),
    (
        "ip-substring-filtering",
        "IP address substring filtering",
        "Provides IP address substring filtering when listing ports",
    ),
    (
        "net-mtu",
        "Network MTU",
        "Provides MTU attribute for a network resource.",
    ),
    (
        "network_availability_zone",
        "Network Availability Zone",
        "Availability zone support for network.",
    ),
    (
        "pagination",
        "Pagination support",
        "Extension that indicates that pagination is enabled.",
    ),
    ("port-security", "Port Security", "Provides port security"),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    (
        "security-group",
        "security-group",
        "The security groups extension.",
    ),
    (
        "sorting",
        "Sorting support",
        "Extension that indicates that sorting is enabled.",
    ),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip",
        "Enables to set tag on resources with standard attribute.",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.",
    ),
];

fn extension_view(alias: &str, name: &str, description: &str) -> wire::Extension {
    wire::Extension {
        alias: alias.to_string(),
        name: name.to_string(),
        description: description.to_string(),
        updated: "2017-01-01T10:00:00-00:00".to_string(),
        links: Vec::new(),
    }
}

async fn extensions(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    if let Err(error) = auth::token(&ctx.lock(), &headers) {
        return error.into_response();
    }
    Json(wire::ExtensionsList {
        extensions: EXTENSIONS
            .iter()
            .map(|(alias, name, description)| extension_view(alias, name, description))
            .collect(),
    })
    .into_response()
}

async fn extension(
    State(ctx): State<SiteContext>,
    Path(alias): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(error) = auth::token(&ctx.lock(), &headers) {
        return error.into_response();
    }
    match EXTENSIONS.iter().find(|(known, _, _)| *known == alias) {
        Some((alias, name, description)) => Json(wire::ExtensionResponse {
            extension: extension_view(alias, name, description),
        })
        .into_response(),
        None => NeutronError::new(
            StatusCode::NOT_FOUND,
            "HTTPNotFound",
            format!("Extension with alias {alias} does not exist"),
        )
        .into_response(),
    }
}

// ---------------------------------------------------------------- views

fn neutron_time(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn is_admin(token: &Token) -> bool {
    token.roles.iter().any(|role| role == "admin")
}

/// Whether the token may change ports (Neutron's defaults: a member or an admin).
fn can_write(token: &Token) -> bool {
    token.roles.iter().any(|role| role != "reader")
}

fn network_visible(token: &Token, network: &state::Network) -> bool {
    is_admin(token) || network.shared || network.project_id == token.project_id
}

fn subnet_visible(site: &Site, token: &Token, subnet: &state::Subnet) -> bool {
    is_admin(token)
        || subnet.project_id == token.project_id
        || site
            .network
            .networks
            .get(&subnet.network_id)
            .is_some_and(|network| network.shared)
}

fn owned(token: &Token, project_id: &str) -> bool {
    is_admin(token) || project_id == token.project_id
}

/// When the site's networking was built: the timestamp of objects that do not keep their own.
fn site_epoch(site: &Site) -> chrono::DateTime<chrono::Utc> {
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
fn port_status(site: &Site, port: &Port) -> &'static str {
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

// ---------------------------------------------------------------- list queries

/// A list request's query: filters, sorting, pagination and fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// The query as sent, in order (pagination links are built from it).
    pub pairs: Vec<(String, String)>,
    /// Attribute -> accepted values (empty values dropped, as Neutron does).
    pub filters: Vec<(String, Vec<String>)>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    pub page_reverse: bool,
    /// (attribute, ascending).
    pub sorts: Vec<(String, bool)>,
    pub fields: Vec<String>,
}

const RESERVED: &[&str] = &[
    "limit",
    "marker",
    "page_reverse",
    "sort_key",
    "sort_dir",
    "fields",
];

fn percent_decode(text: &str) -> String {
    let hex = |byte: u8| (byte as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    bytes.get(i + 1).and_then(|b| hex(*b)),
                    bytes.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Python's `quote_plus`, as `urlencode` applies it.
fn quote_plus(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
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
}

fn urlencode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", quote_plus(key), quote_plus(value)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn parse_query(raw: Option<&str>) -> Result<ListQuery, NeutronError> {
    let pairs: Vec<(String, String)> = raw
        .unwrap_or_default()
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect();
    let mut query = ListQuery {
        pairs: pairs.clone(),
        ..ListQuery::default()
    };
    let values = |name: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.clone())
            .collect()
    };
    if let Some(limit) = pairs.iter().find(|(key, _)| key == "limit").map(|(_, v)| v) {
        let parsed: usize = limit.parse().map_err(|_| {
            NeutronError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!(
                    "Bad limit request: Limit must be an integer 0 or greater and not '{limit}'."
                ),
            )
        })?;
        query.limit = (parsed > 0).then_some(parsed);
    }
    query.marker = values("marker").into_iter().next();
    query.page_reverse = pairs
        .iter()
        .find(|(key, _)| key == "page_reverse")
        .is_some_and(|(_, value)| value.eq_ignore_ascii_case("true"));
    let (keys, dirs) = (values("sort_key"), values("sort_dir"));
    if keys.len() != dirs.len() {
        return Err(NeutronError::bad_request(
            "The number of sort_keys and sort_dirs must be same",
        ));
    }
    if let Some(bad) = dirs.iter().find(|dir| *dir != "asc" && *dir != "desc") {
        return Err(NeutronError::bad_request(format!(
            "['{bad}'] is invalid value for sort_dirs, valid value is 'asc' and 'desc'"
        )));
    }
    query.sorts = keys
        .into_iter()
        .zip(dirs)
        .map(|(key, dir)| (key, dir == "asc"))
        .collect();
    query.fields = values("fields");
    for (key, _) in &pairs {
        if RESERVED.contains(&key.as_str()) || query.filters.iter().any(|(k, _)| k == key) {
            continue;
        }
        let accepted = values(key);
        if !accepted.is_empty() {
            query.filters.push((key.clone(), accepted));
        }
    }
    Ok(query)
}

impl ListQuery {
    /// The values a filter accepts, if the query filters on `key`.
    pub fn filter(&self, key: &str) -> Option<&[String]> {
        self.filters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, values)| values.as_slice())
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// Whether an item (as JSON) passes one filter. Unknown attributes filter nothing.
fn passes(item: &Value, key: &str, values: &[String]) -> bool {
    if key == "fixed_ips" {
        return passes_fixed_ips(item, values);
    }
    match item.get(key) {
        None => true,
        Some(Value::String(text)) => values.contains(text),
        Some(Value::Bool(flag)) => values.iter().any(|value| parse_bool(value) == Some(*flag)),
        Some(Value::Number(number)) => values.contains(&number.to_string()),
        Some(Value::Array(list)) => list.iter().any(|entry| {
            entry
                .as_str()
                .is_some_and(|text| values.iter().any(|v| v == text))
        }),
        Some(_) => false,
    }
}

/// `fixed_ips=ip_address=...`, `fixed_ips=subnet_id=...`, `fixed_ips=ip_address_substr=...`: a
/// port passes when one of its addresses meets every condition given.
fn passes_fixed_ips(item: &Value, values: &[String]) -> bool {
    let mut conditions: Vec<(&str, Vec<&str>)> = Vec::new();
    for value in values {
        let (key, wanted) = value.split_once('=').unwrap_or((value.as_str(), ""));
        match conditions.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(wanted),
            None => conditions.push((key, vec![wanted])),
        }
    }
    let Some(addresses) = item.get("fixed_ips").and_then(Value::as_array) else {
        return false;
    };
    addresses.iter().any(|address| {
        conditions.iter().all(|(key, wanted)| {
            let field = |name: &str| address.get(name).and_then(Value::as_str).unwrap_or("");
            match *key {
                "ip_address" => wanted.contains(&field("ip_address")),
                "subnet_id" => wanted.contains(&field("subnet_id")),
                "ip_address_substr" => wanted.iter().any(|part| field("ip_address").contains(part)),
                _ => true,
            }
        })
    })
}

fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None | Some(Value::Null), None | Some(Value::Null)) => Ordering::Equal,
        (None | Some(Value::Null), _) => Ordering::Less,
        (_, None | Some(Value::Null)) => Ordering::Greater,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

/// The order of a list: the requested sort keys, then id ascending.
fn compare(sorts: &[(String, bool)], a: &Value, b: &Value) -> Ordering {
    for (key, ascending) in sorts {
        let order = compare_values(a.get(key), b.get(key));
        if order != Ordering::Equal {
            return if *ascending { order } else { order.reverse() };
        }
    }
    compare_values(a.get("id"), b.get("id"))
}

fn only_fields(item: Value, fields: &[String]) -> Value {
    match item {
        Value::Object(map) if !fields.is_empty() => Value::Object(
            map.into_iter()
                .filter(|(key, _)| fields.contains(key))
                .collect(),
        ),
        other => other,
    }
}

/// Filters, sorts, paginates and trims `items`, and answers `{collection: [...]}` plus
/// `<collection>_links` when `limit` is given. `marker_item` is the marker's object (looked up
/// among every visible object, as Neutron does), or None when there is no marker; `url` is the
/// request's URL without its query.
pub fn list_body(
    collection: &str,
    items: Vec<Value>,
    marker_item: Option<Value>,
    query: &ListQuery,
    url: &str,
) -> Result<Value, NeutronError> {
    if let Some(first) = items.first()
        && let Some((bad, _)) = query.sorts.iter().find(|(key, _)| first.get(key).is_none())
    {
        return Err(NeutronError::bad_request(format!(
            "['{bad}'] is invalid attribute for sort_keys"
        )));
    }
    let mut items: Vec<Value> = items
        .into_iter()
        .filter(|item| {
            query
                .filters
                .iter()
                .all(|(key, values)| passes(item, key, values))
        })
        .collect();
    items.sort_by(|a, b| compare(&query.sorts, a, b));
    let page: Vec<Value> = match query.limit {
        None => items,
        Some(limit) => {
            let after = |item: &Value| match &marker_item {
                None => true,
                Some(marker) => compare(&query.sorts, item, marker) == Ordering::Greater,
            };
            let before = |item: &Value| match &marker_item {
                None => true,
                Some(marker) => compare(&query.sorts, item, marker) == Ordering::Less,
            };
            if query.page_reverse {
                let earlier: Vec<Value> = items.into_iter().filter(|item| before(item)).collect();
                let skip = earlier.len().saturating_sub(limit);
                earlier.into_iter().skip(skip).collect()
            } else {
                items
                    .into_iter()
                    .filter(|item| after(item))
                    .take(limit)
                    .collect()
            }
        }
    };
    let mut body = Map::new();
    let links = query
        .limit
        .map(|limit| pagination_links(&page, limit, query, url));
    let page: Vec<Value> = page
        .into_iter()
        .map(|item| only_fields(item, &query.fields))
        .collect();
    body.insert(collection.to_string(), Value::Array(page));
    if let Some(links) = links {
        body.insert(
            format!("{collection}_links"),
            serde_json::to_value(links).unwrap_or_default(),
        );
    }
    Ok(Value::Object(body))
}

/// Neutron's `get_pagination_links`: `next` unless a forward page came out short, `previous`
/// unless a backward page did; markers are the page's last and first ids.
fn pagination_links(page: &[Value], limit: usize, query: &ListQuery, url: &str) -> Vec<wire::Link> {
    let id_of = |item: Option<&Value>| {
        item.and_then(|item| item.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let without = |names: &[&str]| -> Vec<(String, String)> {
        query
            .pairs
            .iter()
            .filter(|(key, _)| !names.contains(&key.as_str()))
            .cloned()
            .collect()
    };
    let short = page.len() < limit;
    let mut links = Vec::new();
    if !short || query.page_reverse {
        let mut params = without(&["marker", "page_reverse"]);
        if let Some(marker) = id_of(page.last()) {
            params.push(("marker".to_string(), marker));
        }
        links.push(link(format!("{url}?{}", urlencode(&params)), "next"));
    }
    if !short || !query.page_reverse {
        let mut params = without(&["marker", "page_reverse"]);
        if let Some(marker) = id_of(page.first()) {
            params.push(("marker".to_string(), marker));
        }
        params.push(("page_reverse".to_string(), "True".to_string()));
        links.push(link(format!("{url}?{}", urlencode(&params)), "previous"));
    }
    links
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn request_url(site: &Site, uri: &OriginalUri) -> String {
    format!("{}{}", site.endpoints.openstack, uri.0.path())
}

/// The value of `{singular: view}` for a show, trimmed to `fields` if asked.
fn show_body(singular: &str, view: Value, query: &ListQuery) -> Value {
    let mut body = Map::new();
    body.insert(singular.to_string(), only_fields(view, &query.fields));
    Value::Object(body)
}

// ---------------------------------------------------------------- networks, subnets, groups

async fn list_networks(
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
        let visible = |network: &&state::Network| network_visible(&token, network);
        let items = site
            .network
            .networks
            .values()
            .filter(visible)
            .filter(|network| {
                query
                    .filter("id")
                    .is_none_or(|ids| ids.contains(&network.id))
            })
            .filter(|network| {
                query
                    .filter("name")
                    .is_none_or(|names| names.contains(&network.name))
            })
            .map(|network| to_value(&network_view(&site, network, admin)))
            .collect();
        let marker = marker(&query, |id| {
            site.network
                .networks
                .get(id)
                .filter(|network| visible(network))
                .map(|network| to_value(&network_view(&site, network, admin)))
                .ok_or_else(|| NeutronError::network_not_found(id))
        })?;
        let body = list_body("networks", items, marker, &query, &request_url(&site, &uri))?;
        Ok((StatusCode::OK, body))
    })())
}

/// The marker's object, when the query pages from one.
fn marker(
    query: &ListQuery,
    find: impl Fn(&str) -> Result<Value, NeutronError>,
) -> Result<Option<Value>, NeutronError> {
    match (&query.marker, query.limit) {
        (Some(marker), Some(_)) => find(marker).map(Some),
        _ => Ok(None),
    }
}

async fn show_network(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let site = ctx.lock();
    answer((|| {
        let token = auth::token(&site, &headers)?;
        let query = parse_query(raw.as_deref())?;
        let network = site
            .network
            .networks
            .get(&id)
            .filter(|network| network_visible(&token, network))
            .ok_or_else(|| NeutronError::network_not_found(&id))?;
        let view = to_value(&network_view(&site, network, is_admin(&token)));
        Ok((StatusCode::OK, show_body("network", view, &query)))
    })())
}

async fn list_subnets(
    State(ctx): State<SiteContext>,
    uri: OriginalUri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let site = ctx.lock();
    answer((|| {
        let token = auth::token(&site, &headers)?;
        let query = parse_query(raw.as_deref())?;
        let items = site
            .network
            .subnets
            .values()
            .filter(|subnet| subnet_visible(&site, &token, subnet))
            .map(|subnet| to_value(&subnet_view(subnet)))
            .collect();
        let marker = marker(&query, |id| {
            site.network
                .subnets
                .get(id)
                .filter(|subnet| subnet_visible(&site, &token, subnet))
                .map(|subnet| to_value(&subnet_view(subnet)))
                .ok_or_else(|| NeutronError::subnet_not_found(id))
        })?;
        let body = list_body("subnets", items, marker, &query, &request_url(&site, &uri))?;
        Ok((StatusCode::OK, body))
    })())
}

async fn show_subnet(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let site = ctx.lock();
    answer((|| {
        let token = auth::token(&site, &headers)?;
        let query = parse_query(raw.as_deref())?;
        let subnet = site
            .network
            .subnets
            .get(&id)
            .filter(|subnet| subnet_visible(&site, &token, subnet))
            .ok_or_else(|| NeutronError::subnet_not_found(&id))?;
        Ok((
            StatusCode::OK,
            show_body("subnet", to_value(&subnet_view(subnet)), &query),
        ))
    })())
}

async fn list_security_groups(
    State(ctx): State<SiteContext>,
    uri: OriginalUri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let site = ctx.lock();
    answer((|| {
        let token = auth::token(&site, &headers)?;
        let query = parse_query(raw.as_deref())?;
        let items = site
            .network
            .security_groups
            .values()
            .filter(|group| owned(&token, &group.project_id))
            .map(|group| to_value(&security_group_view(&site, group)))
            .collect();
        let marker = marker(&query, |id| {
            site.network
                .security_groups
                .get(id)
                .filter(|group| owned(&token, &group.project_id))
                .map(|group| to_value(&security_group_view(&site, group)))
                .ok_or_else(|| NeutronError::security_group_not_found(id))
        })?;
        let body = list_body(
            "security_groups",
            items,
            marker,
            &query,
            &request_url(&site, &uri),
        )?;
        Ok((StatusCode::OK, body))
    })())
}

async fn show_security_group(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let site = ctx.lock();
    answer((|| {
        let token = auth::token(&site, &headers)?;
        let query = parse_query(raw.as_deref())?;
        let group = site
            .network
            .security_groups
            .get(&id)
            .filter(|group| owned(&token, &group.project_id))
            .ok_or_else(|| NeutronError::security_group_not_found(&id))?;
        Ok((
            StatusCode::OK,
            show_body(
                "security_group",
                to_value(&security_group_view(&site, group)),
                &query,
            ),
        ))
    })())
}

// ---------------------------------------------------------------- ports

async fn list_ports(
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
fn id_window<'a, T: HasId>(
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

trait HasId {
    fn id(&self) -> &str;
}

impl HasId for Port {
    fn id(&self) -> &str {
        &self.id
    }
}

async fn show_port(
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
fn valid_for_subnet(cidr: &str, address: &str) -> bool {
    let (Some((network, prefix)), Ok(ip)) = (ipam::parse_cidr(cidr), address.parse::<Ipv4Addr>())
    else {
        return false;
    };
    let broadcast = u32::from(network) | (u32::MAX >> prefix);
    ipam::contains(cidr, address) && ip != network && u32::from(ip) != broadcast
}

fn valid_mac(mac: &str) -> bool {
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
fn create_rule(request: &wire::PortCreate) -> String {
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
fn port_body<T: serde::de::DeserializeOwned>(
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

fn port_response(site: &Site, port: &Port, token: &Token) -> Value {
    to_value(&wire::PortResponse {
        port: port_view(site, port, is_admin(token)),
    })
}

/// `POST /v2.0/ports`: 201 with the port.
async fn create_port_handler(
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
async fn update_port(
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
async fn delete_port(
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
    use super::*;
    use crate::clock::Clock;
    use crate::world::World;
    use serde_json::json;

    fn world() -> World {
        let fixture =
            crate::fixture::parse(include_str!("../../../../examples/sim/two-sites.yaml")).unwrap();
        World::from_fixture(&fixture, 1, Clock::new(100.0)).unwrap()
    }

    fn network_id(site: &Site, name: &str) -> String {
        site.network
            .networks
            .values()
            .find(|network| network.name == name)
            .unwrap()
            .id
            .clone()
    }

    fn spec(site: &Site, network: &str, fixed_ips: Option<Value>) -> PortSpec {
        PortSpec {
            network_id: network_id(site, network),
            project_id: site.project_id("prod").unwrap().to_string(),
            fixed_ips: fixed_ips.map(|value| serde_json::from_value(value).unwrap()),
            admin_state_up: true,
            ..PortSpec::default()
        }
    }

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

    fn items(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| json!({"id": format!("id-{i:02}"), "name": format!("n{}", i % 3), "shared": i % 2 == 0}))
            .collect()
    }

    #[test]
    fn pagination_links_follow_neutron() {
        let query = parse_query(Some("limit=2&name=n1&name=n2")).unwrap();
        let body = list_body(
            "networks",
            items(7),
            None,
            &query,
            "http://h/network/v2.0/networks",
        )
        .unwrap();
        let names: Vec<&str> = body["networks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["id-01", "id-02"]);
        assert_eq!(
            body["networks_links"],
            json!([
                {"href": "http://h/network/v2.0/networks?limit=2&name=n1&name=n2&marker=id-02", "rel": "next"},
                {"href": "http://h/network/v2.0/networks?limit=2&name=n1&name=n2&marker=id-01&page_reverse=True", "rel": "previous"}
            ])
        );
        let marker = Some(json!({"id": "id-05"}));
        let query = parse_query(Some("limit=2&marker=id-05&name=n1&name=n2")).unwrap();
        let body = list_body("networks", items(7), marker.clone(), &query, "u").unwrap();
        assert_eq!(body["networks"], json!([]));
        assert_eq!(body["networks_links"].as_array().unwrap().len(), 1);
        assert_eq!(body["networks_links"][0]["rel"], "previous");
        let query = parse_query(Some("limit=3&marker=id-05&page_reverse=true")).unwrap();
        let body = list_body("networks", items(7), marker, &query, "u").unwrap();
        let ids: Vec<&str> = body["networks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["id-02", "id-03", "id-04"]);
        assert!(parse_query(Some("limit=x")).is_err());
        assert!(parse_query(Some("sort_key=name")).is_err());
    }

    #[test]
    fn filters_fields_and_sorting() {
        let query = parse_query(Some("shared=True&fields=id&sort_key=name&sort_dir=desc")).unwrap();
        let body = list_body("networks", items(6), None, &query, "u").unwrap();
        assert_eq!(
            body,
            json!({"networks": [{"id": "id-02"}, {"id": "id-04"}, {"id": "id-00"}]})
        );
        let port = json!({"id": "p", "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"}]});
        assert!(passes(
            &port,
            "fixed_ips",
            &["ip_address=10.0.0.5".to_string()]
        ));
        assert!(passes(
            &port,
            "fixed_ips",
            &["ip_address=10.0.0.5".to_string(), "subnet_id=s".to_string()]
        ));
        assert!(!passes(&port, "fixed_ips", &["subnet_id=t".to_string()]));
        assert!(passes(
            &port,
            "fixed_ips",
            &["ip_address_substr=0.0.5".to_string()]
        ));
        assert_eq!(
            parse_query(Some("name=a%20b&device_id=")).unwrap().filters,
            vec![("name".to_string(), vec!["a b".to_string()])]
        );
        assert_eq!(
            quote_plus("ip_address=10.0.0.1 x"),
            "ip_address%3D10.0.0.1+x"
        );
    }

    #[test]
    fn policy_rules_compose_like_neutron() {
        let request: wire::PortCreate = serde_json::from_value(json!({
            "network_id": "n",
            "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"}]
        }))
        .unwrap();
        assert_eq!(
            create_rule(&request),
            "(rule:create_port and (rule:create_port:fixed_ips and \
             (rule:create_port:fixed_ips:subnet_id and rule:create_port:fixed_ips:ip_address)))"
        );
        let plain: wire::PortCreate = serde_json::from_value(json!({"network_id": "n"})).unwrap();
        assert_eq!(create_rule(&plain), "rule:create_port");
    }

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
