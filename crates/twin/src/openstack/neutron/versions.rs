//! Discovery: the version document, the resources of `/v2.0`, extensions.

use super::request::*;
use crate::openstack::auth;
use crate::world::Site;
use crate::world::SiteContext;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use protector_wire::neutron as wire;

pub(super) fn network_url(site: &Site) -> String {
    format!("{}/network", site.endpoints.openstack)
}

pub(super) fn link(href: String, rel: &str) -> wire::Link {
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

pub(super) const RESOURCES: &[(&str, &str)] = &[
    ("network", "networks"),
    ("subnet", "subnets"),
    ("port", "ports"),
    ("security_group", "security-groups"),
];

/// `GET /network/v2.0/`: the collections served.
pub(super) async fn resources(State(ctx): State<SiteContext>) -> Response {
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
pub(super) const EXTENSIONS: &[(&str, &str, &str)] = &[
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

pub(super) fn extension_view(alias: &str, name: &str, description: &str) -> wire::Extension {
    wire::Extension {
        alias: alias.to_string(),
        name: name.to_string(),
        description: description.to_string(),
        updated: "2017-01-01T10:00:00-00:00".to_string(),
        links: Vec::new(),
    }
}

pub(super) async fn extensions(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
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

pub(super) async fn extension(
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
