//! Networks, subnets and security groups: list and show.

use super::{query::*, request::*, views::*};
use crate::openstack::auth;
use crate::openstack::state::{self};
use crate::world::SiteContext;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

pub(super) async fn list_networks(
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
pub(super) fn marker(
    query: &ListQuery,
    find: impl Fn(&str) -> Result<Value, NeutronError>,
) -> Result<Option<Value>, NeutronError> {
    match (&query.marker, query.limit) {
        (Some(marker), Some(_)) => find(marker).map(Some),
        _ => Ok(None),
    }
}

pub(super) async fn show_network(
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

pub(super) async fn list_subnets(
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

pub(super) async fn show_subnet(
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

pub(super) async fn list_security_groups(
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

pub(super) async fn show_security_group(
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
